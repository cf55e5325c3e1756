/**
 * The `overlay` driver: a VXLAN segment per network, swarm-scoped.
 *
 * - On the manager (moby v28 `drivers/overlay/ovmanager`): each subnet gets a
 *   VNI, from `-o com.docker.network.driver.overlay.vxlanid_list=` or else the
 *   next free one from 4096 upwards (serial allocation over [4096, 2^24)).
 * - On each host (`drivers/overlay/ov_network.go`): the VXLAN interface MTU is
 *   `com.docker.network.driver.mtu` (default 1500) minus 50 bytes of VXLAN
 *   encapsulation: 1450.
 * - Endpoint MACs are `02:42` followed by the IPv4 address, unless given.
 */
import { InvalidParameterError, UnavailableError } from '../cnm/errors.ts';
import type { Prefix } from '../ipam/ip.ts';
import {
  goQuote,
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
import { macFromIPv4 } from '../ipam/mac.ts';

export const VXLANID_LIST = 'com.docker.network.driver.overlay.vxlanid_list';
export const OVERLAY_MTU = 'com.docker.network.driver.mtu';
/** First VNI the manager hands out (ovmanager.vxlanIDStart). */
export const VXLAN_ID_START = 4096;
/** Last valid VNI (ovmanager.vxlanIDEnd). */
export const VXLAN_ID_END = 2 ** 24 - 1;
/** Bytes of outer Ethernet + IPv4 + UDP + VXLAN headers (vxlanEncap). */
export const VXLAN_ENCAP = 50;

export interface OverlayConfig extends DriverConfig {
  /** MTU of the VXLAN interface and of the endpoints: (option or 1500) - 50. */
  mtu: number;
}

/** overlayutils.AppendVNIList: comma-separated VNIs. */
export function parseVniList(csv: string): number[] {
  const out: number[] = [];
  for (const s of csv.split(',')) {
    if (!/^[0-9]+$/.test(s) || Number(s) > 0xffffffff) {
      throw new InvalidParameterError(`invalid vxlan id value ${goQuote(s)} passed`, { field: `options.${VXLANID_LIST}` });
    }
    out.push(Number(s));
  }
  return out;
}

/** The manager's VNI bitmap: explicit `set`, serial `setAny` from 4096. */
export class VniAllocator {
  private readonly used = new Set<number>();
  private curr = 0;

  set(vni: number): void {
    if (vni > VXLAN_ID_END) throw new Error('bit does not belong to the sequence');
    if (this.used.has(vni)) throw new Error('requested bit is already allocated');
    this.used.add(vni);
  }

  setAny(): number {
    const start = VXLAN_ID_START;
    const end = VXLAN_ID_END;
    const from = this.curr > start && this.curr <= end ? this.curr : start;
    let v = -1;
    for (let i = from; i <= end; i++) if (!this.used.has(i)) { v = i; break; }
    if (v < 0) for (let i = start; i < from; i++) if (!this.used.has(i)) { v = i; break; }
    if (v < 0) throw new Error('no bit available');
    this.used.add(v);
    this.curr = v + 1;
    return v;
  }

  unset(vni: number): void {
    this.used.delete(vni);
  }
}

export class OverlayDriver implements Driver<OverlayConfig> {
  readonly type = 'overlay' as const;
  readonly capability: Capability = { dataScope: 'global', connectivityScope: 'global' };
  private readonly vnis = new VniAllocator();
  private readonly allocated = new Map<string, number[]>();
  private readonly hosts = new Map<string, Map<string, { config: OverlayConfig; mac: string }>>();

  parseOptions(_nid: string, options: Readonly<Record<string, string>>, internal: boolean): OverlayConfig {
    // `--opt encrypted` asks for IPsec between the VTEPs: refused, not ignored,
    // as the traffic would cross the underlay in clear.
    if (options['encrypted'] !== undefined) {
      throw new InvalidParameterError('encrypted overlay networks are not supported by netwasm: VXLAN traffic would cross the underlay unencrypted', {
        field: 'options.encrypted',
      });
    }
    checkKnownOptions('overlay', options, [VXLANID_LIST]);
    let mtu = 1500;
    const v = options[OVERLAY_MTU];
    if (v !== undefined) {
      const n = parseGoInt(v);
      if (n === null) {
        throw new InvalidParameterError(`failed to parse ${v}: strconv.Atoi: parsing ${goQuote(v)}: invalid syntax`, {
          field: `options.${OVERLAY_MTU}`,
        });
      }
      if (n < 0) throw new InvalidParameterError(`invalid MTU value: ${n}`, { field: `options.${OVERLAY_MTU}` });
      // The VXLAN device's MTU (this minus 50) must be a valid Ethernet MTU; the data plane's is 16 bits.
      if (n !== 0 && !validMtu(n - VXLAN_ENCAP)) {
        throw new InvalidParameterError(`invalid MTU value: ${n} (an overlay takes ${68 + VXLAN_ENCAP}..65535)`, { field: `options.${OVERLAY_MTU}` });
      }
      if (n !== 0) mtu = n;
    }
    if (options[VXLANID_LIST] !== undefined) parseVniList(options[VXLANID_LIST]!);
    return { mtu: mtu - VXLAN_ENCAP, internal };
  }

  skipGatewayAlloc(): boolean {
    return false;
  }

  /** ovmanager NetworkAllocate: one VNI per pool; returns the options with `vxlanid_list` set. */
  networkAllocate(nid: string, options: Readonly<Record<string, string>>, pools: Prefix[]): Record<string, string> {
    const opts: Record<string, string> = {};
    let list: number[] = [];
    for (const [k, v] of Object.entries(options)) {
      if (k === VXLANID_LIST) list = parseVniList(v);
      else opts[k] = v;
    }
    const got: number[] = [];
    const rollback = () => got.forEach((v) => this.vnis.unset(v));
    pools.forEach((pool, i) => {
      if (list.length > i) {
        const vni = list[i]!;
        try {
          this.vnis.set(vni);
        } catch (e) {
          rollback();
          throw new UnavailableError(`could not assign vxlan id ${vni} to pool ${pool.toString()}: ${(e as Error).message}`, {
            field: `options.${VXLANID_LIST}`,
            code: 'ErrVniInUse',
          });
        }
        got.push(vni);
      } else {
        try {
          got.push(this.vnis.setAny());
        } catch (e) {
          rollback();
          throw new UnavailableError(`could not obtain vxlan id for pool ${pool.toString()}: ${(e as Error).message}`);
        }
      }
    });
    opts[VXLANID_LIST] = got.join(',');
    this.allocated.set(nid, got);
    return opts;
  }

  networkFree(nid: string): void {
    for (const v of this.allocated.get(nid) ?? []) this.vnis.unset(v);
    this.allocated.delete(nid);
  }

  createNetwork(req: CreateNetworkRequest<OverlayConfig>): void {
    const nets = this.hosts.get(req.host.name) ?? new Map();
    nets.set(req.nid, { config: req.config, mac: req.macs.generate(`overlay-bridge\0${req.host.name}\0${req.name}`) });
    this.hosts.set(req.host.name, nets);
  }

  deleteNetwork(nid: string, host: string): void {
    this.hosts.get(host)?.delete(nid);
  }

  instanceInfo(nid: string, host: string): NetworkInstanceInfo {
    const st = this.hosts.get(host)?.get(nid);
    return { device: st ? 'br0' : null, deviceMac: st?.mac ?? null, parent: null, mtu: st?.config.mtu ?? 0 };
  }

  createEndpoint(req: CreateEndpointRequest): { mac: string | null } {
    const mac = req.mac ?? (req.addr !== null ? macFromIPv4(req.addr) : null);
    if (mac) req.macs.claim(mac);
    return { mac };
  }

  deleteEndpoint(): void {}
}
