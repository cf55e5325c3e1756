/**
 * Control of the gateway responder (assembly/gateway.ts): per bridge id, the
 * gateway IPv4 address Docker puts on the bridge device and the device's MAC.
 * The data plane answers ARP requests for the address and ICMP echo requests
 * to it, out of the port they came in on.
 *
 * ```ts
 * const gw = new Gateways(dp);
 * gw.set(0, { ip: '172.17.0.1', mac: '02:42:8f:11:22:33' });   // docker0
 * new Bridges(dp).fdbAdd(0, gw.get(0)!.mac, { local: true });   // frames to it stay local
 * ```
 */
import type { Dataplane } from './dataplane.ts';
import { parseMac, parseIp4 } from './dataplane.ts';
import type { DataplaneOptions, TablePlan } from './tables.ts';
import { randomMac } from './macvlan.ts';

const GW_SIZE = 16;
const GW_IP = 0;
const GW_MAC = 4;
const GW_FLAGS = 10;
const GW_VLAN = 12;
const ENABLED = 1;

/** A bridge network's gateway. */
export interface GatewayConfig {
  /** The gateway IPv4 address (Docker: the subnet's first address, or --gateway). */
  ip: string;
  /** The bridge device's MAC (Docker gives docker0 a random one; default: random, locally administered). */
  mac?: string;
  /**
   * Whether the bridge holds the address (default true). False for
   * `com.docker.network.bridge.gateway_mode_ipv4=isolated` and
   * `com.docker.network.bridge.inhibit_ipv4=true`; an `--internal` network
   * still holds it and answers.
   */
  enabled?: boolean;
  /** VLAN-filtering bridges: answer in this VLAN only (default 0: any). */
  vlan?: number;
}

interface GatewayState {
  ptr: number;
  count: number;
}

const states = new WeakMap<Dataplane, GatewayState>();

interface GatewayExports {
  gatewaySetup(base: number, n: number): void;
}

/** The table plan of the gateway responder: one entry per bridge id (DataplaneOptions.bridges). */
export function gatewayTablePlan(opts: Readonly<DataplaneOptions>): TablePlan {
  const count = opts.bridges ?? 1024;
  if (!Number.isInteger(count) || count < 1 || count > 65536) throw new RangeError(`bridges must be an integer in 1..65536, got ${count}`);
  return {
    name: 'gateway',
    bytes: count * GW_SIZE,
    align: 64,
    init(dp: Dataplane, ptr: number): void {
      states.set(dp, { ptr, count });
      (dp.exports as unknown as GatewayExports).gatewaySetup(ptr, count);
    },
  };
}

const macStr = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');

/** The gateways of one Dataplane's bridge networks. */
export class Gateways {
  private readonly st: GatewayState;

  constructor(readonly dp: Dataplane) {
    const st = states.get(dp);
    if (!st) throw new Error('this Dataplane has no gateway table');
    this.st = st;
  }

  private entry(bridge: number): number {
    if (!Number.isInteger(bridge) || bridge < 0 || bridge >= this.st.count) throw new RangeError(`bridge id must be in 0..${this.st.count - 1}, got ${bridge}`);
    return this.st.ptr + bridge * GW_SIZE;
  }

  /** Sets bridge `bridge`'s gateway. Returns the MAC it answers with. */
  set(bridge: number, cfg: GatewayConfig): string {
    const e = this.entry(bridge);
    const ip = parseIp4(cfg.ip);
    if (ip[0] === 0 || ip[0] === 127 || ip[0]! >= 224) throw new Error(`${cfg.ip} cannot be a gateway address`);
    const mac = parseMac(cfg.mac ?? randomMac());
    if (mac[0]! & 1) throw new Error(`${macStr(mac)} is a multicast address`);
    const vlan = cfg.vlan ?? 0;
    if (!Number.isInteger(vlan) || vlan < 0 || vlan > 4094) throw new RangeError(`vlan must be 0 (any) or a VLAN id in 1..4094, got ${vlan}`);
    const b = this.dp.bytes;
    b.fill(0, e, e + GW_SIZE);
    b.set(ip, e + GW_IP);
    b.set(mac, e + GW_MAC);
    b[e + GW_FLAGS] = (cfg.enabled ?? true) ? ENABLED : 0;
    this.dp.view.setUint16(e + GW_VLAN, vlan, true);
    return macStr(mac);
  }

  /** Turns answering on or off, keeping the configuration. */
  setEnabled(bridge: number, on: boolean): void {
    const e = this.entry(bridge);
    if (this.get(bridge) === undefined) throw new Error(`bridge ${bridge} has no gateway`);
    this.dp.bytes[e + GW_FLAGS] = on ? ENABLED : 0;
  }

  /** Forgets bridge `bridge`'s gateway. */
  remove(bridge: number): void {
    const e = this.entry(bridge);
    this.dp.bytes.fill(0, e, e + GW_SIZE);
  }

  /** Bridge `bridge`'s gateway, or undefined. */
  get(bridge: number): Required<GatewayConfig> | undefined {
    const e = this.entry(bridge);
    const b = this.dp.bytes;
    const ip = b.subarray(e + GW_IP, e + GW_IP + 4);
    if (ip.every((x) => x === 0)) return undefined;
    return {
      ip: Array.from(ip).join('.'),
      mac: macStr(b.subarray(e + GW_MAC, e + GW_MAC + 6)),
      enabled: (b[e + GW_FLAGS]! & ENABLED) !== 0,
      vlan: this.dp.view.getUint16(e + GW_VLAN, true),
    };
  }
}
