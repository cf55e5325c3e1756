/**
 * The `bridge` driver: the default `bridge` network (docker0) and user-defined
 * bridges. Options and errors as moby v28 `libnetwork/drivers/bridge`
 * (fromLabels, Validate, Conflicts, GetSkipGwAlloc):
 *
 * - `com.docker.network.bridge.name` (default `br-` + the first 12 characters
 *   of the network ID; `docker0` for the default network),
 * - `com.docker.network.bridge.enable_icc` (default true),
 * - `com.docker.network.bridge.enable_ip_masquerade` (default true),
 * - `com.docker.network.bridge.gateway_mode_ipv4` (nat | nat-unprotected |
 *   routed | isolated), `com.docker.network.bridge.inhibit_ipv4`,
 * - `com.docker.network.bridge.host_binding_ipv4`, `...default_bridge`,
 * - `com.docker.network.driver.mtu` (default 1500).
 *
 * Per host, two bridge networks may not share a bridge name or overlap
 * ("cannot create network ID (NAME): conflicts with network ID (NAME):
 * networks have same bridge name"). The bridge device gets a seeded MAC
 * (Docker 28: random); endpoints too, unless given.
 */
import { ForbiddenError, InvalidParameterError } from '../cnm/errors.ts';
import { parseAddr, Prefix } from '../ipam/ip.ts';
import {
  goQuote,
  parseGoBool,
  parseGoInt,
  checkKnownOptions,
  validMtu,
  type Capability,
  type CreateEndpointRequest,
  type CreateNetworkRequest,
  type Driver,
  type DriverConfig,
  type NetworkInstanceInfo,
} from './types.ts';

export const BRIDGE_NAME = 'com.docker.network.bridge.name';
export const ENABLE_ICC = 'com.docker.network.bridge.enable_icc';
export const ENABLE_IP_MASQUERADE = 'com.docker.network.bridge.enable_ip_masquerade';
export const GATEWAY_MODE_IPV4 = 'com.docker.network.bridge.gateway_mode_ipv4';
export const INHIBIT_IPV4 = 'com.docker.network.bridge.inhibit_ipv4';
export const DEFAULT_BINDING_IP = 'com.docker.network.bridge.host_binding_ipv4';
export const DEFAULT_BRIDGE = 'com.docker.network.bridge.default_bridge';
export const DRIVER_MTU = 'com.docker.network.driver.mtu';
/** Options of moby's bridge driver that netwasm accepts and ignores (they change nothing it models). */
export const IGNORED_OPTIONS = ['com.docker.network.bridge.gateway_mode_ipv6', 'com.docker.network.bridge.trusted_host_interfaces'];
/** Every option the bridge driver takes (others are refused: checkKnownOptions). */
export const BRIDGE_OPTIONS = [BRIDGE_NAME, ENABLE_ICC, ENABLE_IP_MASQUERADE, GATEWAY_MODE_IPV4, INHIBIT_IPV4, DEFAULT_BINDING_IP, DEFAULT_BRIDGE, ...IGNORED_OPTIONS];

/** Options of the default `bridge` network, as `docker network inspect bridge` shows them. */
export const DEFAULT_BRIDGE_OPTIONS: Readonly<Record<string, string>> = {
  [DEFAULT_BRIDGE]: 'true',
  [ENABLE_ICC]: 'true',
  [ENABLE_IP_MASQUERADE]: 'true',
  [DEFAULT_BINDING_IP]: '0.0.0.0',
  [BRIDGE_NAME]: 'docker0',
  [DRIVER_MTU]: '1500',
};

export type GatewayMode = 'nat' | 'nat-unprotected' | 'routed' | 'isolated';

export interface BridgeConfig extends DriverConfig {
  bridgeName: string;
  enableIcc: boolean;
  enableIpMasquerade: boolean;
  gatewayModeIpv4: GatewayMode;
  inhibitIpv4: boolean;
  hostBindingIpv4: string;
  defaultBridge: boolean;
}

function parseErr(label: string, value: string, why: string): InvalidParameterError {
  return new InvalidParameterError(`failed to parse ${label} value: ${value} (${why})`, { field: `options.${label}` });
}

function bool(label: string, value: string): boolean {
  const b = parseGoBool(value);
  if (b === null) throw parseErr(label, value, `strconv.ParseBool: parsing ${goQuote(value)}: invalid syntax`);
  return b;
}

interface BridgeNetworkState {
  nid: string;
  config: BridgeConfig;
  /** The bridge's address: gateway/prefix length, or null. */
  address: Prefix | null;
  /** The bridge device's MAC. */
  mac: string;
}

export class BridgeDriver implements Driver<BridgeConfig> {
  readonly type = 'bridge' as const;
  readonly capability: Capability = { dataScope: 'local', connectivityScope: 'local' };
  /** host -> nid -> state */
  private readonly hosts = new Map<string, Map<string, BridgeNetworkState>>();

  parseOptions(nid: string, options: Readonly<Record<string, string>>, internal: boolean): BridgeConfig {
    const cfg: BridgeConfig = {
      mtu: 1500,
      internal,
      bridgeName: '',
      enableIcc: true,
      enableIpMasquerade: true,
      gatewayModeIpv4: 'nat',
      inhibitIpv4: false,
      hostBindingIpv4: '0.0.0.0',
      defaultBridge: false,
    };
    let mtuSet = false;
    checkKnownOptions('bridge', options, BRIDGE_OPTIONS);
    for (const [label, value] of Object.entries(options)) {
      switch (label) {
        case BRIDGE_NAME:
          cfg.bridgeName = value;
          break;
        case DRIVER_MTU: {
          const n = parseGoInt(value);
          if (n === null) throw parseErr(label, value, `strconv.Atoi: parsing ${goQuote(value)}: invalid syntax`);
          cfg.mtu = n;
          mtuSet = true;
          break;
        }
        case ENABLE_ICC:
          cfg.enableIcc = bool(label, value);
          break;
        case ENABLE_IP_MASQUERADE:
          cfg.enableIpMasquerade = bool(label, value);
          break;
        case INHIBIT_IPV4:
          cfg.inhibitIpv4 = bool(label, value);
          break;
        case DEFAULT_BRIDGE:
          cfg.defaultBridge = bool(label, value);
          break;
        case GATEWAY_MODE_IPV4:
          if (!['nat', 'nat-unprotected', 'routed', 'isolated'].includes(value)) {
            throw parseErr(label, value, `unknown gateway mode ${value}`);
          }
          cfg.gatewayModeIpv4 = value as GatewayMode;
          break;
        case DEFAULT_BINDING_IP:
          if (parseAddr(value) === null) throw parseErr(label, value, 'nil ip');
          cfg.hostBindingIpv4 = value;
          break;
        default:
          // Known and ignored (IGNORED_OPTIONS); unknown ones were refused above.
          break;
      }
    }
    if (mtuSet && cfg.mtu === 0) cfg.mtu = 1500;
    if (cfg.mtu < 0) {
      throw new InvalidParameterError(`invalid MTU number: ${cfg.mtu}`, { field: `options.${DRIVER_MTU}` });
    }
    // Docker leaves a too small or too large MTU to the kernel ("invalid argument" when the
    // bridge is set up); the data plane's port MTU is 16 bits: 70000 would become 4464.
    if (!validMtu(cfg.mtu)) {
      throw new InvalidParameterError(`invalid MTU number: ${cfg.mtu} (a Linux bridge takes 68..65535)`, { field: `options.${DRIVER_MTU}` });
    }
    if (cfg.gatewayModeIpv4 === 'isolated' && !internal) {
      throw new InvalidParameterError("gateway mode 'isolated' can only be used for an internal network", {
        field: `options.${GATEWAY_MODE_IPV4}`,
      });
    }
    if (cfg.bridgeName === '') cfg.bridgeName = `br-${nid.slice(0, 12)}`;
    return cfg;
  }

  skipGatewayAlloc(cfg: BridgeConfig): boolean {
    return cfg.gatewayModeIpv4 === 'isolated' || (cfg.inhibitIpv4 && cfg.internal);
  }

  createNetwork(req: CreateNetworkRequest<BridgeConfig>): void {
    const nets = this.hosts.get(req.host.name) ?? new Map<string, BridgeNetworkState>();
    if (nets.has(req.nid)) throw new ForbiddenError(`network ${req.nid} exists`);
    const address =
      req.ipv4 && req.ipv4.gateway !== null && !req.config.inhibitIpv4 ? new Prefix(req.ipv4.gateway, req.ipv4.pool.bits) : null;
    const mine: BridgeNetworkState = { nid: req.nid, config: req.config, address, mac: '' };
    for (const o of nets.values()) {
      const why = conflicts(mine, o);
      if (why) {
        throw new ForbiddenError(
          `cannot create network ${req.nid} (${req.config.bridgeName}): conflicts with network ${o.nid} (${o.config.bridgeName}): ${why}`,
          { field: why === 'networks have same bridge name' ? `options.${BRIDGE_NAME}` : 'subnet', code: 'ErrBridgeConflict' },
        );
      }
    }
    mine.mac = req.macs.generate(`bridge\0${req.host.name}\0${req.name}`);
    nets.set(req.nid, mine);
    this.hosts.set(req.host.name, nets);
  }

  deleteNetwork(nid: string, host: string): void {
    this.hosts.get(host)?.delete(nid);
  }

  instanceInfo(nid: string, host: string): NetworkInstanceInfo {
    const st = this.hosts.get(host)?.get(nid);
    return { device: st ? st.config.bridgeName : null, deviceMac: st ? st.mac : null, parent: null, mtu: st ? st.config.mtu : 0 };
  }

  createEndpoint(req: CreateEndpointRequest): { mac: string | null } {
    if (req.mac) {
      req.macs.claim(req.mac);
      return { mac: req.mac };
    }
    return { mac: req.macs.generate(`endpoint\0${req.host.name}\0${req.name}\0${req.network}`) };
  }

  deleteEndpoint(): void {}
}

/** networkConfiguration.Conflicts, IPv4 part. */
function conflicts(a: BridgeNetworkState, b: BridgeNetworkState): string | null {
  if (a.config.bridgeName === b.config.bridgeName) return 'networks have same bridge name';
  if (a.address && b.address && (a.address.contains(b.address.addr) || b.address.contains(a.address.addr))) {
    return 'networks have overlapping IPv4';
  }
  return null;
}
