/**
 * The `macvlan` driver (moby v28 `libnetwork/drivers/macvlan`): containers get
 * their own MAC on the parent interface (`-o parent=eth0`, or `eth0.10` for
 * VLAN 10 tagged on eth0), in `-o macvlan_mode=` bridge (default), private,
 * vepa or passthru. Without a parent the network is internal (Docker creates
 * a dummy link) and skips the gateway address, as `--internal` does.
 * Endpoint MACs: given, or seeded (Docker 28: random).
 */
import { ForbiddenError, InvalidParameterError } from '../cnm/errors.ts';
import { resolveParent, type ParentLink } from './parent.ts';
import { checkKnownOptions } from './types.ts';
import type {
  Capability,
  CreateEndpointRequest,
  CreateNetworkRequest,
  Driver,
  DriverConfig,
  NetworkInstanceInfo,
} from './types.ts';

export const PARENT_OPT = 'parent';
export const MACVLAN_MODE_OPT = 'macvlan_mode';

export type MacvlanMode = 'bridge' | 'private' | 'vepa' | 'passthru';

export interface MacvlanConfig extends DriverConfig {
  /** `-o parent` as given ('' when absent). */
  parent: string;
  mode: MacvlanMode;
}

interface Instance {
  nid: string;
  config: MacvlanConfig;
  link: ParentLink | null;
  mtu: number;
}

export class MacvlanDriver implements Driver<MacvlanConfig> {
  readonly type = 'macvlan' as const;
  readonly capability: Capability = { dataScope: 'local', connectivityScope: 'global' };
  private readonly hosts = new Map<string, Map<string, Instance>>();

  parseOptions(_nid: string, options: Readonly<Record<string, string>>, internal: boolean): MacvlanConfig {
    checkKnownOptions('macvlan', options, [PARENT_OPT, MACVLAN_MODE_OPT]);
    const parent = options[PARENT_OPT] ?? '';
    const mode = options[MACVLAN_MODE_OPT] ?? '';
    const cfg: MacvlanConfig = { mtu: 1500, internal, parent, mode: 'bridge' };
    switch (mode) {
      case '':
        break;
      case 'bridge':
      case 'private':
      case 'vepa':
      case 'passthru':
        cfg.mode = mode;
        break;
      default:
        throw new InvalidParameterError(
          `requested macvlan mode '${mode}' is not valid, 'bridge' mode is the macvlan driver default`,
          { field: `options.${MACVLAN_MODE_OPT}` },
        );
    }
    if (parent === 'lo') {
      throw new InvalidParameterError('loopback interface is not a valid macvlan parent link', { field: 'options.parent' });
    }
    if (parent === '') cfg.internal = true;
    return cfg;
  }

  skipGatewayAlloc(cfg: MacvlanConfig): boolean {
    return cfg.internal;
  }

  createNetwork(req: CreateNetworkRequest<MacvlanConfig>): void {
    const nets = this.hosts.get(req.host.name) ?? new Map<string, Instance>();
    const cfg = req.config;
    if (cfg.parent !== '') {
      for (const o of nets.values()) {
        if (o.config.parent !== cfg.parent || o.nid === req.nid) continue;
        if (cfg.mode === 'passthru') {
          throw new ForbiddenError(`cannot use mode passthru, macvlan network ${o.nid} is already using parent interface ${cfg.parent}`, {
            field: `options.${MACVLAN_MODE_OPT}`,
          });
        }
        if (o.config.mode === 'passthru') {
          throw new ForbiddenError(`macvlan network ${o.nid} is already using parent interface ${cfg.parent} in mode passthru`, {
            field: 'options.parent',
          });
        }
      }
    }
    const link = cfg.parent === '' ? null : resolveParent(cfg.parent, req.host);
    const mtu = link ? (req.host.interfaces.get(link.iface)?.mtu ?? 1500) : 1500;
    nets.set(req.nid, { nid: req.nid, config: cfg, link, mtu });
    this.hosts.set(req.host.name, nets);
  }

  deleteNetwork(nid: string, host: string): void {
    this.hosts.get(host)?.delete(nid);
  }

  instanceInfo(nid: string, host: string): NetworkInstanceInfo {
    const st = this.hosts.get(host)?.get(nid);
    return { device: null, deviceMac: null, parent: st?.link ?? null, mtu: st?.mtu ?? 0 };
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
