/**
 * IPVS control plane (what `ipvsadm` is to the kernel): virtual services,
 * real servers, schedulers and their flags, persistence, firewall marks,
 * timeouts, and the connection table's statistics. Everything here runs
 * between vectors; lookup tables are rebuilt into fresh memory and swapped in
 * with one pointer write, so a vector only ever sees a complete table.
 *
 * ```ts
 * const dp = new Dataplane();
 * const ipvs = new Ipvs(dp);
 * ipvs.setBridge(1, { mac: '02:42:0a:00:00:fe' });           // answers ARP for the VIPs
 * const svc = { bridge: 1, protocol: 'tcp', address: '10.0.0.100', port: 80 } as const;
 * ipvs.addService(svc, { scheduler: 'mh', flags: ['mh-port'] });
 * ipvs.addServer(svc, { address: '10.0.0.2', mac: '02:42:0a:00:00:02' });
 * ipvs.addServer(svc, { address: '10.0.0.3', mac: '02:42:0a:00:00:03', weight: 2 });
 * ipvs.editServer(svc, { address: '10.0.0.2', weight: 0 });  // drain: existing flows stay
 * ```
 */
import * as I from '../../assembly/ipvs-layout.ts';
import type { Dataplane } from '../dataplane/dataplane.ts';
import { Bridges } from '../dataplane/bridge.ts';
import { ipvsLayout, type IpvsLayout, DEFAULT_TIMEOUTS, CONN_BYTES_PER_ENTRY } from '../dataplane/ipvs.ts';
import { parseIp, formatIp, parseCidr, prefixMask, macToNumber, numberToMac } from './addr.ts';
import { addrFold, shTable } from './maglev.ts';
import { murmur3x64_64 } from './hash.ts';

export type Protocol = 'tcp' | 'udp';
export type SchedulerName = 'rr' | 'wrr' | 'lc' | 'wlc' | 'sh' | 'mh' | 'maglev';
export type ServiceFlag = 'mh-fallback' | 'mh-port' | 'sh-fallback' | 'sh-port';

/** A virtual service: (protocol, VIP, port) or a firewall mark, on a bridge domain. */
export type ServiceKey =
  | { bridge?: number; protocol: Protocol; address: string; port: number }
  | { bridge?: number; fwmark: number; family?: 'inet' | 'inet6' };

export interface MaglevOptions {
  /** 1 = Katran MaglevHash, 2 = MaglevHashV2 (default 2). */
  version?: 1 | 2;
  /** Ring slots, a prime (default 65537, Katran's RING_SIZE). */
  ringSize?: number;
  /** Katran F_HASH_NO_SRC_PORT. */
  hashNoSrcPort?: boolean;
  /** Katran F_HASH_DPORT_ONLY. */
  hashDportOnly?: boolean;
}

export interface ServiceOptions {
  /** ipvsadm -s (default wlc, as ipvsadm). */
  scheduler?: SchedulerName;
  /** ipvsadm -b: mh-fallback, mh-port (mh), sh-fallback, sh-port (sh). */
  flags?: ServiceFlag[];
  /** ipvsadm -p [timeout]: true = 300 s. */
  persistent?: number | boolean;
  /** ipvsadm -M: persistence granularity, "255.255.255.0" or a prefix length (IPv6). */
  netmask?: string | number;
  maglev?: MaglevOptions;
}

export interface RealServer {
  address: string;
  /** Real port (default: the service's port; 0 = the packet's port, as for fwmark services). */
  port?: number;
  /** Default 1; 0 = quiesced (existing connections continue, no new ones). */
  weight?: number;
  /** nat (masquerading, default) or dr (direct routing: rewrite the MAC only). */
  forward?: 'nat' | 'dr';
  /** The real server's MAC on the bridge (frames to it are addressed there). */
  mac: string;
  /** ipvsadm -x / -y. */
  upperThreshold?: number;
  lowerThreshold?: number;
  /** Katran endpoint hash (default: MurmurHash3_x64_64 of the 16-byte address, seed 0). */
  hash?: bigint;
}

export interface MarkRule {
  bridge?: number;
  fwmark: number;
  /** Destination "10.0.0.100" or "10.0.0.0/24" (IPv6 too). */
  destination: string;
  protocol?: Protocol;
  /** Destination port or [first, last]. */
  port?: number | [number, number];
}

export interface ServerStats {
  address: string;
  port: number;
  weight: number;
  forward: 'nat' | 'dr';
  activeConns: number;
  inactiveConns: number;
  persistentConns: number;
  conns: number;
  inPackets: number;
  outPackets: number;
  inBytes: number;
  outBytes: number;
}

export interface ServiceInfo {
  key: ServiceKey;
  scheduler: SchedulerName;
  flags: ServiceFlag[];
  persistent: number;
  conns: number;
  inPackets: number;
  outPackets: number;
  inBytes: number;
  outBytes: number;
  servers: ServerStats[];
}

export interface Connection {
  protocol: number;
  client: string;
  clientPort: number;
  virtual: string;
  virtualPort: number;
  server: string;
  serverPort: number;
  state: string;
  expires: number;
  template: boolean;
}

/** TCP state names, as ipvsadm -Lc prints them. */
export const TCP_STATE_NAMES = ['NONE', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'SYNACK'];

const SCHED: Record<SchedulerName, I.Scheduler> = {
  rr: I.Scheduler.RR, wrr: I.Scheduler.WRR, lc: I.Scheduler.LC, wlc: I.Scheduler.WLC,
  sh: I.Scheduler.SH, mh: I.Scheduler.MH, maglev: I.Scheduler.MAGLEV,
};
const FLAG_BITS: Record<ServiceFlag, number> = {
  'mh-fallback': I.SvcFlag.SCHED1, 'mh-port': I.SvcFlag.SCHED2, 'sh-fallback': I.SvcFlag.SCHED1, 'sh-port': I.SvcFlag.SCHED2,
};

interface IpvsExports {
  ipvsSvcHashAdd(idx: number): number;
  ipvsSvcHashDel(idx: number): void;
  ipvsAddrRef(bridge: number, af: number, kind: number, addr: number, delta: number): number;
  maglevBuildKatran(version: number, eps: number, n: number, ring: number, ringSize: number, work: number): void;
  maglevBuildMh(dests: number, n: number, table: number, m: number, tabBits: number, work: number): number;
  conntrackSweep(now: number, n: number): number;
  conntrackFlush(): void;
  conntrackEntry(i: number): number;
  conntrackTimeouts(): void;
}

interface DestRec {
  idx: number;
  af: 4 | 6;
  addr: Uint8Array;
  port: number;
  weight: number;
  lastWeight: number;
  forward: 'nat' | 'dr';
  mac: number;
  uThreshold: number;
  lThreshold: number;
  hash: bigint;
}

interface SvcRec {
  idx: number;
  bridge: number;
  af: 4 | 6;
  proto: number;
  addr: Uint8Array;
  port: number;
  fwmark: number;
  sched: SchedulerName;
  flags: ServiceFlag[];
  persistent: number;
  netmask: number;
  maglev: Required<MaglevOptions>;
  /** In the kernel's list order: the newest first. */
  dests: DestRec[];
  list: Block | null;
  table: Block | null;
}

interface Block { ptr: number; size: number }

/** First-fit allocator over the region's arena (64-byte granules, coalescing). */
class Arena {
  private free: Block[];
  constructor(ptr: number, size: number) {
    this.free = [{ ptr, size }];
  }
  alloc(bytes: number, what: string): Block {
    const size = Math.max(64, Math.ceil(bytes / 64) * 64);
    for (let i = 0; i < this.free.length; i++) {
      const f = this.free[i]!;
      if (f.size >= size) {
        const b = { ptr: f.ptr, size };
        f.ptr += size;
        f.size -= size;
        if (f.size === 0) this.free.splice(i, 1);
        return b;
      }
    }
    throw new RangeError(`ipvs: no room for ${what} (${size} bytes) in the table arena; create the Dataplane with a larger ipvsTableBytes`);
  }
  release(b: Block | null): void {
    if (!b) return;
    this.free.push({ ...b });
    this.free.sort((x, y) => x.ptr - y.ptr);
    const merged: Block[] = [];
    for (const f of this.free) {
      const last = merged[merged.length - 1];
      if (last && last.ptr + last.size === f.ptr) last.size += f.size;
      else merged.push({ ...f });
    }
    this.free = merged;
  }
  get available(): number {
    return this.free.reduce((a, f) => a + f.size, 0);
  }
}

const isPrime = (n: number): boolean => {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
};

const u16 = (n: number, what: string, min = 0): number => {
  if (!Number.isInteger(n) || n < min || n > 65535) throw new RangeError(`${what} must be an integer in ${min}..65535, got ${n}`);
  return n;
};

const states = new WeakMap<Dataplane, IpvsState>();

interface IpvsState {
  lay: IpvsLayout;
  arena: Arena;
  services: Map<string, SvcRec>;
  freeSvc: number[];
  freeDest: number[];
  marks: Array<Required<Omit<MarkRule, 'port' | 'protocol'>> & { proto: number; lo: number; hi: number; af: 4 | 6; addr: Uint8Array; mask: Uint8Array }>;
}

/**
 * The IPVS of one Dataplane. Several `Ipvs` objects over the same Dataplane
 * share its state.
 */
export class Ipvs {
  private readonly st: IpvsState;
  private readonly ex: IpvsExports;

  constructor(readonly dp: Dataplane) {
    const lay = dp.regions.ipvs ? ipvsLayout(dp.options, dp.regions.ipvs.ptr) : null;
    if (!lay) throw new Error('ipvs: this Dataplane has no IPVS region (connCapacity is 0)');
    let st = states.get(dp);
    if (!st) {
      st = {
        lay,
        arena: new Arena(lay.arena, lay.arenaBytes),
        services: new Map(),
        freeSvc: Array.from({ length: lay.maxServices }, (_, i) => lay.maxServices - 1 - i),
        freeDest: Array.from({ length: lay.maxDests }, (_, i) => lay.maxDests - 1 - i),
        marks: [],
      };
      states.set(dp, st);
    }
    this.st = st;
    this.ex = dp.exports as unknown as IpvsExports;
  }

  /** Where the IPVS region's parts are. */
  get layout(): Readonly<IpvsLayout> {
    return this.st.lay;
  }

  private get dv(): DataView {
    return this.dp.view;
  }

  private hdr(off: number): number {
    return this.dv.getUint32(this.st.lay.base + off, true);
  }

  private setHdr(off: number, v: number): void {
    this.dv.setUint32(this.st.lay.base + off, v >>> 0, true);
  }

  // ---- bridges ---------------------------------------------------------------------

  private brRec(bridge: number): number {
    if (!Number.isInteger(bridge) || bridge < 0 || bridge >= I.IPVS_MAX_BRIDGES) {
      throw new RangeError(`ipvs: bridge must be an integer in 0..${I.IPVS_MAX_BRIDGES - 1}, got ${bridge}`);
    }
    return this.st.lay.bridges + bridge * I.BR_SIZE;
  }

  /**
   * The MAC that answers ARP / neighbour solicitations for the bridge's VIPs
   * and that rewritten replies come from.
   */
  setBridge(bridge: number, opts: { mac: string }): void {
    const r = this.brRec(bridge);
    this.dv.setBigUint64(r + I.BR_MAC, BigInt(macToNumber(opts.mac)), true);
  }

  private bridgeServices(bridge: number, delta: number): void {
    const r = this.brRec(bridge);
    const n = this.dv.getUint32(r + I.BR_SERVICES, true) + delta;
    this.dv.setUint32(r + I.BR_SERVICES, n, true);
    if ((delta > 0 && n === 1) || n === 0) {
      // how many bridges have services: the graph's touch pass runs only when some do
      this.setHdr(I.IH_ACTIVE_BRIDGES, this.hdr(I.IH_ACTIVE_BRIDGES) + (n > 0 ? 1 : -1));
      // the bridge sends its IP frames through the IPVS hook only when it has services
      if (this.dp.regions.bridge) new Bridges(this.dp).setServices(bridge, n > 0);
    }
  }

  // ---- services --------------------------------------------------------------------------

  private keyOf(k: ServiceKey): { id: string; bridge: number; af: 4 | 6; proto: number; addr: Uint8Array; port: number; fwmark: number } {
    const bridge = k.bridge ?? 0;
    this.brRec(bridge);
    if ('fwmark' in k) {
      if (!Number.isInteger(k.fwmark) || k.fwmark < 1 || k.fwmark > 0xffffffff) throw new RangeError(`ipvs: fwmark must be an integer in 1..2^32-1, got ${k.fwmark}`);
      const af = k.family === 'inet6' ? 6 : 4;
      return { id: `${bridge}/fwm/${af}/${k.fwmark}`, bridge, af, proto: 0, addr: new Uint8Array(16), port: 0, fwmark: k.fwmark };
    }
    if (k.protocol !== 'tcp' && k.protocol !== 'udp') throw new Error(`ipvs: protocol must be tcp or udp, got ${String(k.protocol)}`);
    const a = parseIp(k.address);
    const port = u16(k.port, 'ipvs: service port');
    return { id: `${bridge}/${k.protocol}/${formatIp(a.af, a.bytes)}/${port}`, bridge, af: a.af, proto: k.protocol === 'tcp' ? 6 : 17, addr: a.bytes, port, fwmark: 0 };
  }

  private svc(k: ServiceKey): SvcRec {
    const s = this.st.services.get(this.keyOf(k).id);
    if (!s) throw new Error(`ipvs: no such service ${describe(k)}`);
    return s;
  }

  /** ipvsadm -A. */
  addService(key: ServiceKey, opts: ServiceOptions = {}): void {
    const k = this.keyOf(key);
    if (this.st.services.has(k.id)) throw new Error(`ipvs: service ${describe(key)} already exists`);
    const idx = this.st.freeSvc.pop();
    if (idx === undefined) throw new RangeError(`ipvs: all ${this.st.lay.maxServices} services are in use (Dataplane option ipvsServices)`);
    const rec: SvcRec = {
      idx, bridge: k.bridge, af: k.af, proto: k.proto, addr: k.addr, port: k.port, fwmark: k.fwmark,
      sched: 'wlc', flags: [], persistent: 0, netmask: k.af === 4 ? 32 : 128, maglev: { version: 2, ringSize: 65537, hashNoSrcPort: false, hashDportOnly: false },
      dests: [], list: null, table: null,
    };
    try {
      this.applyOptions(rec, opts);
    } catch (e) {
      this.st.freeSvc.push(idx);
      throw e;
    }
    const s = this.svcAddr(idx);
    this.dp.bytes.fill(0, s, s + I.SVC_SIZE);
    const dv = this.dv;
    dv.setUint8(s + I.S_AF, k.af);
    dv.setUint8(s + I.S_PROTO, k.proto);
    dv.setUint32(s + I.S_FWMARK, k.fwmark, true);
    dv.setUint16(s + I.S_PORT, k.port, false);
    dv.setUint16(s + I.S_BRIDGE, k.bridge, true);
    this.dp.bytes.set(k.addr, s + I.S_ADDR);
    this.writeOptions(rec);
    this.rebuild(rec);
    dv.setUint8(s + I.S_USED, 1);
    const r = this.ex.ipvsSvcHashAdd(idx);
    if (r !== 0) {
      dv.setUint8(s + I.S_USED, 0);
      this.st.arena.release(rec.list);
      this.st.arena.release(rec.table);
      this.st.freeSvc.push(idx);
      throw new Error(r === -1 ? 'ipvs: service hash is full' : `ipvs: service ${describe(key)} already exists`);
    }
    this.st.services.set(k.id, rec);
    if (k.proto !== 0) this.addrRef(k.bridge, k.af, I.AddrKind.VIP, k.addr, 1);
    this.bridgeServices(k.bridge, 1);
  }

  /** ipvsadm -E: changes the scheduler, flags, persistence. */
  editService(key: ServiceKey, opts: ServiceOptions): void {
    const rec = this.svc(key);
    const before = { sched: rec.sched, flags: [...rec.flags], persistent: rec.persistent, netmask: rec.netmask, maglev: { ...rec.maglev } };
    try {
      this.applyOptions(rec, opts);
    } catch (e) {
      Object.assign(rec, before);
      throw e;
    }
    this.writeOptions(rec);
    this.rebuild(rec);
  }

  /** ipvsadm -D: the service and its real servers go; their connections expire on their next packet. */
  deleteService(key: ServiceKey): void {
    const rec = this.svc(key);
    this.ex.ipvsSvcHashDel(rec.idx);
    const s = this.svcAddr(rec.idx);
    this.dv.setUint8(s + I.S_USED, 0);
    for (const d of rec.dests) this.freeDest(rec, d);
    rec.dests = [];
    this.dv.setUint16(s + I.S_NDESTS, 0, true);
    this.st.arena.release(rec.list);
    this.st.arena.release(rec.table);
    this.dv.setUint32(s + I.S_TABLE, 0, true);
    this.dv.setUint32(s + I.S_DESTS, 0, true);
    this.st.services.delete(this.keyOf(key).id);
    this.st.freeSvc.push(rec.idx);
    if (rec.proto !== 0) this.addrRef(rec.bridge, rec.af, I.AddrKind.VIP, rec.addr, -1);
    this.bridgeServices(rec.bridge, -1);
  }

  /** ipvsadm -C. */
  clear(): void {
    for (const rec of [...this.st.services.values()]) this.deleteService(keyFromRec(rec));
  }

  private applyOptions(rec: SvcRec, opts: ServiceOptions): void {
    if (opts.scheduler !== undefined) {
      if (!(opts.scheduler in SCHED)) throw new Error(`ipvs: unknown scheduler "${String(opts.scheduler)}" (rr, wrr, lc, wlc, sh, mh, maglev)`);
      rec.sched = opts.scheduler;
    }
    if (opts.flags !== undefined) {
      for (const f of opts.flags) {
        if (!(f in FLAG_BITS)) throw new Error(`ipvs: unknown scheduler flag "${String(f)}"`);
        if (!f.startsWith(rec.sched + '-')) throw new Error(`ipvs: flag ${f} does not apply to scheduler ${rec.sched}`);
      }
      rec.flags = [...opts.flags];
    } else if (rec.flags.some((f) => !f.startsWith(rec.sched + '-'))) {
      rec.flags = [];
    }
    if (opts.persistent !== undefined) {
      const t = opts.persistent === true ? 300 : opts.persistent === false ? 0 : opts.persistent;
      if (!Number.isInteger(t) || t < 0 || t > 0x7fffffff) throw new RangeError(`ipvs: persistence timeout must be a whole number of seconds, got ${String(opts.persistent)}`);
      rec.persistent = t;
    }
    if (opts.netmask !== undefined) {
      if (rec.af === 4) {
        let p: number;
        if (typeof opts.netmask === 'number') {
          p = opts.netmask;
          if (!Number.isInteger(p) || p < 0 || p > 32) throw new RangeError(`ipvs: netmask prefix must be 0..32, got ${p}`);
        } else {
          const m = parseIp(opts.netmask);
          if (m.af !== 4) throw new Error(`ipvs: netmask ${opts.netmask} is not an IPv4 mask`);
          const v = ((m.bytes[0]! << 24) | (m.bytes[1]! << 16) | (m.bytes[2]! << 8) | m.bytes[3]!) >>> 0;
          const inv = ~v >>> 0;
          if ((inv & ((inv + 1) >>> 0)) !== 0) throw new Error(`ipvs: netmask ${opts.netmask} is not contiguous`);
          p = 32 - (32 - Math.clz32(inv));
        }
        rec.netmask = p;
      } else {
        const p = typeof opts.netmask === 'number' ? opts.netmask : Number(opts.netmask);
        if (!Number.isInteger(p) || p < 0 || p > 128) throw new RangeError(`ipvs: IPv6 persistence netmask is a prefix length 0..128, got ${String(opts.netmask)}`);
        rec.netmask = p;
      }
    }
    if (opts.maglev !== undefined) {
      const m = { ...rec.maglev, ...opts.maglev };
      if (m.version !== 1 && m.version !== 2) throw new Error(`ipvs: maglev version must be 1 or 2, got ${String(m.version)}`);
      if (!Number.isInteger(m.ringSize) || m.ringSize < 3 || m.ringSize > 1 << 24 || !isPrime(m.ringSize)) {
        throw new RangeError(`ipvs: maglev ring size must be a prime in 3..2^24, got ${m.ringSize}`);
      }
      rec.maglev = m;
    }
  }

  private writeOptions(rec: SvcRec): void {
    const s = this.svcAddr(rec.idx);
    const dv = this.dv;
    let flags = 0;
    for (const f of rec.flags) flags |= FLAG_BITS[f];
    if (rec.persistent) flags |= I.SvcFlag.PERSISTENT;
    dv.setUint8(s + I.S_SCHED, SCHED[rec.sched]);
    dv.setUint16(s + I.S_FLAGS, flags, true);
    dv.setUint32(s + I.S_TIMEOUT, rec.persistent, true);
    if (rec.af === 4) {
      const mask = rec.netmask === 0 ? 0 : (0xffffffff << (32 - rec.netmask)) >>> 0;
      dv.setUint32(s + I.S_NETMASK, mask, false);
    } else {
      dv.setUint32(s + I.S_NETMASK, rec.netmask, true);
    }
    dv.setUint32(s + I.S_MAGLEV_FLAGS, (rec.maglev.hashNoSrcPort ? I.MaglevFlag.HASH_NO_SRC_PORT : 0) | (rec.maglev.hashDportOnly ? I.MaglevFlag.HASH_DPORT_ONLY : 0), true);
  }

  private svcAddr(idx: number): number {
    return this.st.lay.services + idx * I.SVC_SIZE;
  }

  private destAddr(idx: number): number {
    return this.st.lay.dests + idx * I.DEST_SIZE;
  }

  // ---- real servers ---------------------------------------------------------------------------

  /** ipvsadm -a. The newest server goes to the head of the list, as in the kernel. */
  addServer(key: ServiceKey, rs: RealServer): void {
    const rec = this.svc(key);
    const a = parseIp(rs.address);
    if (a.af !== rec.af) throw new Error(`ipvs: real server ${rs.address} is not of the service's address family`);
    const port = rs.port === undefined ? rec.port : u16(rs.port, 'ipvs: real server port');
    if (rec.dests.some((d) => d.port === port && sameAddr(d.addr, a.bytes))) throw new Error(`ipvs: real server ${rs.address}:${port} already exists in ${describe(key)}`);
    if (rs.mac === undefined) throw new Error(`ipvs: real server ${rs.address} needs its MAC (frames are sent to it on the bridge)`);
    const weight = rs.weight ?? 1;
    if (!Number.isInteger(weight) || weight < 0 || weight > 0x7fffffff) throw new RangeError(`ipvs: weight must be an integer in 0..2147483647, got ${weight}`);
    if (rec.sched === 'mh' && rec.dests.length + 1 > this.st.lay.mhSize) throw new RangeError(`ipvs: the mh scheduler takes at most ${this.st.lay.mhSize} real servers`);
    const idx = this.st.freeDest.pop();
    if (idx === undefined) throw new RangeError(`ipvs: all ${this.st.lay.maxDests} real servers are in use (Dataplane option ipvsRealServers)`);
    const d: DestRec = {
      idx, af: a.af, addr: a.bytes, port, weight, lastWeight: weight, forward: rs.forward ?? 'nat',
      mac: macToNumber(rs.mac), uThreshold: rs.upperThreshold ?? 0, lThreshold: rs.lowerThreshold ?? 0,
      hash: rs.hash ?? defaultHash(a.bytes),
    };
    if (d.forward !== 'nat' && d.forward !== 'dr') {
      this.st.freeDest.push(idx);
      throw new Error(`ipvs: forward must be nat or dr, got ${String(d.forward)}`);
    }
    const r = this.destAddr(idx);
    const gen = this.dv.getUint16(r + I.R_GEN, true);
    this.dp.bytes.fill(0, r, r + I.DEST_SIZE);
    this.dv.setUint16(r + I.R_GEN, gen, true);
    this.dv.setUint8(r + I.R_AF, a.af);
    this.dv.setUint16(r + I.R_SVC, rec.idx, true);
    this.dp.bytes.set(a.bytes, r + I.R_ADDR);
    this.writeDest(d);
    this.dv.setUint8(r + I.R_FLAGS, I.DestFlag.AVAILABLE);
    this.dv.setUint8(r + I.R_USED, 1);
    this.addrRef(rec.bridge, a.af, I.AddrKind.REAL, a.bytes, 1);
    const cursorDest = this.cursorDest(rec);
    rec.dests.unshift(d);
    this.rebuild(rec, cursorDest);
  }

  /** ipvsadm -e: weight, forwarding, thresholds, MAC. */
  editServer(key: ServiceKey, rs: Partial<RealServer> & { address: string }): void {
    const rec = this.svc(key);
    const d = this.findDest(rec, rs);
    if (rs.weight !== undefined) {
      if (!Number.isInteger(rs.weight) || rs.weight < 0 || rs.weight > 0x7fffffff) throw new RangeError(`ipvs: weight must be an integer in 0..2147483647, got ${rs.weight}`);
      d.weight = rs.weight;
      if (rs.weight !== 0) d.lastWeight = rs.weight; // the kernel keeps the latest non-zero weight
    }
    if (rs.forward !== undefined) d.forward = rs.forward;
    if (rs.mac !== undefined) d.mac = macToNumber(rs.mac);
    if (rs.hash !== undefined) d.hash = rs.hash;
    const oldU = d.uThreshold;
    if (rs.upperThreshold !== undefined) d.uThreshold = rs.upperThreshold;
    if (rs.lowerThreshold !== undefined) d.lThreshold = rs.lowerThreshold;
    this.writeDest(d);
    if (d.uThreshold === 0 || d.uThreshold > oldU) {
      const r = this.destAddr(d.idx);
      this.dv.setUint8(r + I.R_FLAGS, this.dv.getUint8(r + I.R_FLAGS) & ~I.DestFlag.OVERLOAD);
    }
    this.rebuild(rec, this.cursorDest(rec));
  }

  /** ipvsadm -d. Its connections expire on their next packet (expire_nodest_conn) or when swept. */
  deleteServer(key: ServiceKey, rs: { address: string; port?: number }): void {
    const rec = this.svc(key);
    const d = this.findDest(rec, rs);
    const cursor = this.cursorDest(rec);
    const pos = rec.dests.indexOf(d);
    rec.dests.splice(pos, 1);
    // rr keeps its place: a cursor on the removed server moves to its predecessor (ip_vs_rr_del_dest)
    const newCursor = cursor === d ? (pos === 0 ? null : rec.dests[pos - 1]!) : cursor;
    this.rebuild(rec, newCursor);
    this.freeDest(rec, d);
  }

  private findDest(rec: SvcRec, rs: { address: string; port?: number }): DestRec {
    const a = parseIp(rs.address);
    const port = rs.port ?? rec.port;
    const d = rec.dests.find((x) => x.port === port && sameAddr(x.addr, a.bytes));
    if (!d) throw new Error(`ipvs: no real server ${rs.address}:${port} in ${describe(keyFromRec(rec))}`);
    return d;
  }

  private writeDest(d: DestRec): void {
    const r = this.destAddr(d.idx);
    const dv = this.dv;
    dv.setUint8(r + I.R_FWD, d.forward === 'nat' ? I.Forward.NAT : I.Forward.DR);
    dv.setUint16(r + I.R_PORT, d.port, false);
    dv.setInt32(r + I.R_WEIGHT, d.weight, true);
    dv.setUint32(r + I.R_UTHRESH, d.uThreshold, true);
    dv.setUint32(r + I.R_LTHRESH, d.lThreshold, true);
    dv.setBigUint64(r + I.R_MAC, BigInt(d.mac), true);
  }

  private freeDest(rec: SvcRec, d: DestRec): void {
    const r = this.destAddr(d.idx);
    const gen = (this.dv.getUint16(r + I.R_GEN, true) + 1) & 0xffff;
    this.dp.bytes.fill(0, r, r + I.DEST_SIZE);
    this.dv.setUint16(r + I.R_GEN, gen, true);
    this.addrRef(rec.bridge, d.af, I.AddrKind.REAL, d.addr, -1);
    this.st.freeDest.push(d.idx);
  }

  private addrRef(bridge: number, af: number, kind: number, addr: Uint8Array, delta: number): void {
    const w = this.st.lay.work;
    this.dp.bytes.set(addr.subarray(0, 16), w);
    if (this.ex.ipvsAddrRef(bridge, af, kind, w, delta) < 0) throw new RangeError('ipvs: address hash is full');
  }

  /** The rr/wrr cursor as a server (null = the list head). */
  private cursorDest(rec: SvcRec): DestRec | null {
    const pos = this.dv.getUint32(this.svcAddr(rec.idx) + I.S_CURSOR, true);
    return pos < rec.dests.length ? rec.dests[pos]! : null;
  }

  // ---- table rebuild and swap ----------------------------------------------------------------

  /**
   * Writes the service's server list and scheduler state, and rebuilds its
   * lookup table into fresh memory before swapping it in.
   */
  private rebuild(rec: SvcRec, cursor: DestRec | null = null): void {
    const s = this.svcAddr(rec.idx);
    const dv = this.dv;
    const n = rec.dests.length;
    const list = this.st.arena.alloc(Math.max(2, n * 2), 'a server list');
    rec.dests.forEach((d, i) => dv.setUint16(list.ptr + i * 2, d.idx, true));
    let table: Block | null = null;
    try {
      table = this.buildTable(rec);
    } catch (e) {
      this.st.arena.release(list);
      throw e;
    }
    // swap in
    const oldList = rec.list, oldTable = rec.table;
    dv.setUint32(s + I.S_DESTS, list.ptr, true);
    dv.setUint16(s + I.S_NDESTS, n, true);
    if (table) {
      dv.setUint32(s + I.S_TABLE, table.ptr, true);
      dv.setUint32(s + I.S_TABLE_SIZE, this.tableSlots(rec), true);
    } else {
      dv.setUint32(s + I.S_TABLE, 0, true);
      dv.setUint32(s + I.S_TABLE_SIZE, 0, true);
    }
    rec.list = list;
    rec.table = table;
    this.st.arena.release(oldList);
    this.st.arena.release(oldTable);
    // rr: keep the cursor on the same server; wrr: ip_vs_wrr_dest_changed
    const pos = cursor ? rec.dests.indexOf(cursor) : -1;
    dv.setUint32(s + I.S_CURSOR, pos >= 0 ? pos : n, true);
    if (rec.sched === 'wrr') {
      let g = 0, max = 0;
      for (const d of rec.dests) {
        if (d.weight > 0) g = g > 0 ? gcdOf(d.weight, g) : d.weight;
        if (d.weight > max) max = d.weight;
      }
      const di = g || 1;
      const mw = max - (di - 1);
      let cw = dv.getInt32(s + I.S_WRR_CW, true);
      if (cw > mw || cw === 0) cw = mw;
      else if (di > 1) cw = Math.floor(cw / di) * di + 1;
      dv.setUint32(s + I.S_CURSOR, n, true);
      dv.setInt32(s + I.S_WRR_DI, di, true);
      dv.setInt32(s + I.S_WRR_MW, mw, true);
      dv.setInt32(s + I.S_WRR_CW, cw, true);
    }
  }

  private tableSlots(rec: SvcRec): number {
    return rec.sched === 'mh' ? this.st.lay.mhSize : rec.sched === 'maglev' ? rec.maglev.ringSize : I.SH_TAB_SIZE;
  }

  private buildTable(rec: SvcRec): Block | null {
    const dv = this.dv;
    const lay = this.st.lay;
    const input = lay.work + 64;
    const state = input + lay.maxDests * 16;
    if (rec.sched === 'mh') {
      const m = lay.mhSize;
      const t = this.st.arena.alloc(m * 4, 'an mh table');
      rec.dests.forEach((d, i) => {
        const p = input + i * 12;
        dv.setUint32(p, (addrFold(d.af === 4 ? d.addr.subarray(0, 4) : d.addr) + d.port) >>> 0, true);
        dv.setInt32(p + 4, d.lastWeight, true);
        dv.setInt32(p + 8, d.idx, true);
      });
      this.ex.maglevBuildMh(input, rec.dests.length, t.ptr, m, lay.mhTabBits, state);
      return t;
    }
    if (rec.sched === 'maglev') {
      const size = rec.maglev.ringSize;
      const t = this.st.arena.alloc(size * 4, 'a Maglev ring');
      // Katran: weight-0 reals are left out, the rest sorted by hash (Vip::getEndpoints)
      const eps = rec.dests.filter((d) => d.weight !== 0).sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : a.idx - b.idx));
      eps.forEach((d, i) => {
        const p = input + i * 16;
        dv.setUint32(p, d.idx, true);
        dv.setUint32(p + 4, d.weight, true);
        dv.setBigUint64(p + 8, d.hash, true);
      });
      this.ex.maglevBuildKatran(rec.maglev.version, input, eps.length, t.ptr, size, state);
      return t;
    }
    if (rec.sched === 'sh') {
      const t = this.st.arena.alloc(I.SH_TAB_SIZE * 4, 'an sh table');
      const table = shTable(rec.dests.map((d) => ({ weight: d.weight, label: d.idx })));
      new Int32Array(this.dp.memory.buffer, t.ptr, I.SH_TAB_SIZE).set(table);
      return t;
    }
    return null;
  }

  /** The service's current lookup table (mh, sh, maglev) as real server addresses' indexes into list(). */
  lookupTable(key: ServiceKey): Int32Array {
    const rec = this.svc(key);
    if (!rec.table) throw new Error(`ipvs: scheduler ${rec.sched} has no lookup table`);
    const byIdx = new Map(rec.dests.map((d) => [d.idx, d]));
    const order = [...rec.dests].reverse(); // list() order: oldest first
    const t = new Int32Array(this.dp.memory.buffer, rec.table.ptr, this.tableSlots(rec));
    return Int32Array.from(t, (v) => (v < 0 ? -1 : order.indexOf(byIdx.get(v)!)));
  }

  // ---- builders on raw inputs (golden vectors, benchmarks) ---------------------------------------

  /** Katran's ring built by the WASM builder. */
  buildKatranRing(version: 1 | 2, endpoints: ReadonlyArray<{ num: number; weight: number; hash: bigint }>, ringSize: number): Int32Array {
    const lay = this.st.lay;
    if (endpoints.length > lay.maxDests) throw new RangeError(`ipvs: at most ${lay.maxDests} endpoints`);
    const dv = this.dv;
    const input = lay.work + 64;
    endpoints.forEach((e, i) => {
      dv.setUint32(input + i * 16, e.num, true);
      dv.setUint32(input + i * 16 + 4, e.weight, true);
      dv.setBigUint64(input + i * 16 + 8, BigInt.asUintN(64, e.hash), true);
    });
    const t = this.st.arena.alloc(ringSize * 4, 'a Maglev ring');
    try {
      this.ex.maglevBuildKatran(version, input, endpoints.length, t.ptr, ringSize, input + lay.maxDests * 16);
      return new Int32Array(this.dp.memory.buffer, t.ptr, ringSize).slice();
    } finally {
      this.st.arena.release(t);
    }
  }

  /** The mh table built by the WASM builder (dests in list order). */
  buildMhTable(dests: ReadonlyArray<{ hashInput: number; weight: number; label: number }>, m = this.st.lay.mhSize, tabBits = this.st.lay.mhTabBits): Int32Array {
    const lay = this.st.lay;
    if (dests.length > lay.maxDests) throw new RangeError(`ipvs: at most ${lay.maxDests} dests`);
    const dv = this.dv;
    const input = lay.work + 64;
    dests.forEach((d, i) => {
      dv.setUint32(input + i * 12, d.hashInput >>> 0, true);
      dv.setInt32(input + i * 12 + 4, d.weight, true);
      dv.setInt32(input + i * 12 + 8, d.label, true);
    });
    const t = this.st.arena.alloc(m * 4, 'an mh table');
    try {
      this.ex.maglevBuildMh(input, dests.length, t.ptr, m, tabBits, input + lay.maxDests * 16);
      return new Int32Array(this.dp.memory.buffer, t.ptr, m).slice();
    } finally {
      this.st.arena.release(t);
    }
  }

  // ---- firewall marks -----------------------------------------------------------------------

  /** iptables -t mangle -A ... -d DEST [-p P --dport N] -j MARK --set-mark M (the last matching rule wins). */
  addMark(rule: MarkRule): void {
    if (this.st.marks.length >= I.MAX_MARK_RULES) throw new RangeError(`ipvs: at most ${I.MAX_MARK_RULES} mark rules`);
    if (!Number.isInteger(rule.fwmark) || rule.fwmark < 1 || rule.fwmark > 0xffffffff) throw new RangeError(`ipvs: fwmark must be in 1..2^32-1, got ${rule.fwmark}`);
    const { addr, prefix } = parseCidr(rule.destination);
    const mask = prefixMask(prefix);
    const masked = addr.bytes.map((b, i) => b & mask[i]!);
    const [lo, hi] = rule.port === undefined ? [0, 65535] : typeof rule.port === 'number' ? [rule.port, rule.port] : rule.port;
    u16(lo, 'ipvs: mark port');
    u16(hi, 'ipvs: mark port');
    if (rule.protocol !== undefined && rule.protocol !== 'tcp' && rule.protocol !== 'udp') throw new Error(`ipvs: protocol must be tcp or udp, got ${String(rule.protocol)}`);
    const bridge = rule.bridge ?? 0;
    this.brRec(bridge);
    this.st.marks.push({
      bridge, fwmark: rule.fwmark, destination: rule.destination, proto: rule.protocol === 'tcp' ? 6 : rule.protocol === 'udp' ? 17 : 0,
      lo, hi, af: addr.af, addr: masked, mask,
    });
    this.writeMarks();
  }

  /** Removes the rules with this mark (and destination, if given). */
  deleteMark(rule: { bridge?: number; fwmark: number; destination?: string }): number {
    const before = this.st.marks.length;
    this.st.marks = this.st.marks.filter((m) => !(m.fwmark === rule.fwmark && m.bridge === (rule.bridge ?? 0) && (rule.destination === undefined || m.destination === rule.destination)));
    this.writeMarks();
    return before - this.st.marks.length;
  }

  private writeMarks(): void {
    const dv = this.dv;
    const base = this.st.lay.markRules;
    this.st.marks.forEach((m, i) => {
      const r = base + i * I.MARK_SIZE;
      this.dp.bytes.fill(0, r, r + I.MARK_SIZE);
      dv.setUint16(r + I.M_BRIDGE, m.bridge, true);
      dv.setUint8(r + I.M_AF, m.af);
      dv.setUint8(r + I.M_PROTO, m.proto);
      dv.setUint16(r + I.M_PORT_LO, m.lo, true);
      dv.setUint16(r + I.M_PORT_HI, m.hi, true);
      dv.setUint32(r + I.M_MARK, m.fwmark, true);
      this.dp.bytes.set(m.addr, r + I.M_ADDR);
      this.dp.bytes.set(m.mask, r + I.M_MASK);
    });
    this.setHdr(I.IH_MARK_COUNT, this.st.marks.length);
  }

  // ---- timeouts and sysctls ------------------------------------------------------------------

  /** ipvsadm --set tcp tcpfin udp (seconds; 0 = leave unchanged, as ipvsadm). */
  setTimeouts(t: { tcp?: number; tcpfin?: number; udp?: number }): void {
    const set = (i: number, v: number | undefined, what: string): void => {
      if (v === undefined || v === 0) return;
      if (!Number.isInteger(v) || v < 0 || v > I.MAX_TIMEOUT) throw new RangeError(`ipvs: ${what} timeout must be whole seconds up to ${I.MAX_TIMEOUT}, got ${v}`);
      this.setHdr(I.IH_TIMEOUTS + i * 4, v);
    };
    set(I.TcpState.ESTABLISHED, t.tcp, 'tcp');
    set(I.TcpState.FIN_WAIT, t.tcpfin, 'tcpfin');
    set(I.TO_UDP, t.udp, 'udp');
    this.ex.conntrackTimeouts();
  }

  /** Timeout of one TCP state (or 'udp' / 'other'), seconds. */
  setStateTimeout(state: keyof typeof I.TcpState | 'udp' | 'other', seconds: number): void {
    const i = state === 'udp' ? I.TO_UDP : state === 'other' ? I.TO_ICMP : I.TcpState[state];
    if (i === undefined) throw new Error(`ipvs: unknown state ${String(state)}`);
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > I.MAX_TIMEOUT) throw new RangeError(`ipvs: timeout must be whole seconds in 1..${I.MAX_TIMEOUT}, got ${seconds}`);
    this.setHdr(I.IH_TIMEOUTS + i * 4, seconds);
    this.ex.conntrackTimeouts();
  }

  /** ipvsadm -l --timeout. */
  timeouts(): { tcp: number; tcpfin: number; udp: number } {
    return {
      tcp: this.hdr(I.IH_TIMEOUTS + I.TcpState.ESTABLISHED * 4),
      tcpfin: this.hdr(I.IH_TIMEOUTS + I.TcpState.FIN_WAIT * 4),
      udp: this.hdr(I.IH_TIMEOUTS + I.TO_UDP * 4),
    };
  }

  /** Restores the kernel's default timeouts. */
  resetTimeouts(): void {
    DEFAULT_TIMEOUTS.forEach((t, i) => this.setHdr(I.IH_TIMEOUTS + i * 4, t));
    this.ex.conntrackTimeouts();
  }

  /** net.ipv4.vs.expire_nodest_conn (default on, as Docker sets it), expire_quiescent_template, sloppy_tcp. */
  setSysctl(s: { expireNodestConn?: boolean; expireQuiescentTemplate?: boolean; sloppyTcp?: boolean }): void {
    let v = this.hdr(I.IH_SYSCTL);
    const bit = (on: boolean | undefined, b: number): void => {
      if (on === true) v |= b;
      else if (on === false) v &= ~b;
    };
    bit(s.expireNodestConn, I.IpvsSysctl.EXPIRE_NODEST_CONN);
    bit(s.expireQuiescentTemplate, I.IpvsSysctl.EXPIRE_QUIESCENT_TEMPLATE);
    bit(s.sloppyTcp, I.IpvsSysctl.SLOPPY_TCP);
    this.setHdr(I.IH_SYSCTL, v);
  }

  // ---- listing and statistics -------------------------------------------------------------------

  /** ipvsadm -Ln --stats: services, servers (oldest first, as ipvsadm lists them), counters. */
  list(): ServiceInfo[] {
    const dv = this.dv;
    const u64 = (p: number): number => Number(dv.getBigUint64(p, true));
    return [...this.st.services.values()].map((rec) => {
      const s = this.svcAddr(rec.idx);
      return {
        key: keyFromRec(rec),
        scheduler: rec.sched,
        flags: [...rec.flags],
        persistent: rec.persistent,
        conns: u64(s + I.S_CONNS),
        inPackets: u64(s + I.S_INPKTS),
        outPackets: u64(s + I.S_OUTPKTS),
        inBytes: u64(s + I.S_INBYTES),
        outBytes: u64(s + I.S_OUTBYTES),
        servers: [...rec.dests].reverse().map((d) => {
          const r = this.destAddr(d.idx);
          return {
            address: formatIp(d.af, d.addr),
            port: d.port,
            weight: d.weight,
            forward: d.forward,
            activeConns: dv.getUint32(r + I.R_ACTIVE, true),
            inactiveConns: dv.getUint32(r + I.R_INACT, true),
            persistentConns: dv.getUint32(r + I.R_PERSIST, true),
            conns: u64(r + I.R_CONNS),
            inPackets: u64(r + I.R_INPKTS),
            outPackets: u64(r + I.R_OUTPKTS),
            inBytes: u64(r + I.R_INBYTES),
            outBytes: u64(r + I.R_OUTBYTES),
          };
        }),
      };
    });
  }

  /** Connection table occupancy and cost. */
  connectionStats(): { capacity: number; live: number; templates: number; bytesPerEntry: number; bytes: number } {
    const lay = this.st.lay;
    return {
      capacity: lay.connCapacity,
      live: this.hdr(I.IH_CONN_LIVE),
      templates: this.hdr(I.IH_CONN_TEMPLATES),
      bytesPerEntry: CONN_BYTES_PER_ENTRY,
      bytes: lay.connCapacity * I.CONN_SIZE + lay.connBuckets * 4,
    };
  }

  /** ipvsadm -Lnc: every live connection and template. */
  connections(): Connection[] {
    const dv = this.dv;
    const lay = this.st.lay;
    const out: Connection[] = [];
    const used = this.hdr(I.IH_CONN_BUMP);
    for (let i = 0; i < used; i++) {
      const e = lay.connEntries + i * I.CONN_SIZE;
      const af = dv.getUint8(e + I.C_AF) as 0 | 4 | 6;
      if (af === 0) continue;
      const flags = dv.getUint8(e + I.C_FLAGS);
      const proto = dv.getUint8(e + I.C_PROTO);
      const r = this.destAddr(dv.getUint16(e + I.C_DEST, true));
      const alive = dv.getUint8(r + I.R_USED) === 1 && dv.getUint16(r + I.R_GEN, true) === dv.getUint16(e + I.C_DEST_GEN, true);
      const dport = dv.getUint16(e + I.C_DPORT, false);
      out.push({
        protocol: proto,
        client: formatIp(af, this.dp.bytes.slice(e + I.C_CADDR, e + I.C_CADDR + 16)),
        clientPort: dv.getUint16(e + I.C_CPORT, false),
        virtual: formatIp(af, this.dp.bytes.slice(e + I.C_VADDR, e + I.C_VADDR + 16)),
        virtualPort: dv.getUint16(e + I.C_VPORT, false),
        server: alive ? formatIp(af, this.dp.bytes.slice(r + I.R_ADDR, r + I.R_ADDR + 16)) : '(removed)',
        serverPort: dport,
        state: flags & I.ConnFlag.TEMPLATE ? 'NONE' : proto === 6 ? TCP_STATE_NAMES[dv.getUint8(e + I.C_STATE)] ?? '?' : proto === 17 ? 'UDP' : 'OTHER',
        expires: dv.getUint32(e + I.C_EXPIRES, true),
        template: (flags & I.ConnFlag.TEMPLATE) !== 0,
      });
    }
    return out;
  }

  /** Drops every connection and template (ipvsadm has no such command; the kernel flushes on module unload). */
  flushConnections(): void {
    this.ex.conntrackFlush();
  }

  /** Reclaims expired connections at packet time `now`, visiting `buckets` buckets (default: all). */
  sweep(now: number, buckets = this.st.lay.connBuckets): number {
    return this.ex.conntrackSweep(now >>> 0, buckets);
  }
}

function sameAddr(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

function gcdOf(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** netwasm's default Katran endpoint hash: MurmurHash3_x64_64 of the 16-byte address (LE64 halves), seed 0. */
export function defaultHash(addr16: Uint8Array): bigint {
  const dv = new DataView(addr16.buffer, addr16.byteOffset, 16);
  return murmur3x64_64(dv.getBigUint64(0, true), dv.getBigUint64(8, true), 0);
}

function keyFromRec(rec: SvcRec): ServiceKey {
  if (rec.proto === 0) return { bridge: rec.bridge, fwmark: rec.fwmark, family: rec.af === 6 ? 'inet6' : 'inet' };
  return { bridge: rec.bridge, protocol: rec.proto === 6 ? 'tcp' : 'udp', address: formatIp(rec.af, rec.addr), port: rec.port };
}

function describe(k: ServiceKey): string {
  if ('fwmark' in k) return `FWM ${k.fwmark}${k.bridge ? ` on bridge ${k.bridge}` : ''}`;
  const a = k.address.includes(':') ? `[${k.address}]` : k.address;
  return `${k.protocol.toUpperCase()} ${a}:${k.port}${k.bridge ? ` on bridge ${k.bridge}` : ''}`;
}

export { numberToMac };
