/**
 * Control of the learning bridges and their forwarding database (the
 * `ip link add type bridge` / `bridge link` / `bridge vlan` / `bridge fdb` of
 * netwasm). Everything here runs between vectors: it writes the bridge table
 * and the port table, never during a `run()`.
 *
 * ```ts
 * const dp = new Dataplane({ fdbCapacity: 1 << 16 });
 * const br = new Bridges(dp);
 * br.create(1, { ageing: 300 });
 * br.addPort(0, { bridge: 1 });                                          // a container's veth
 * br.addPort(1, { bridge: 1, vlan: { mode: 'access', pvid: 10 } });       // eth0.10-like access
 * br.addPort(2, { bridge: 1, vlan: { mode: 'trunk', allowed: '10,20-30', native: 1 } });
 * br.fdbAdd(1, '02:42:ac:11:00:02', { port: 0, static: true });
 * console.log(br.fdbShow());
 * ```
 */
import * as L from './layout.ts';
import type { Dataplane, PortConfig } from './dataplane.ts';
import type { DataplaneOptions, TablePlan } from './tables.ts';

/** FDB entries by default (a power of two); the hash table has twice as many slots. */
export const DEFAULT_FDB_CAPACITY = 65536;
/** Most FDB entries one data plane may be created with. */
export const MAX_FDB_CAPACITY = 1 << 22;
/** Bridge domains by default (ids 0 .. bridges-1). */
export const DEFAULT_BRIDGES = 1024;
/** Default ageing time of a bridge, seconds (as Linux). */
export const DEFAULT_AGEING = 300;

/** Flags of an FDB entry (mirrors FdbFlag in assembly/fdb.ts). */
export const FdbFlag = { LEARNED: 1, STATIC: 2, LOCAL: 4, STICKY: 8 } as const;
/** Flags of a bridge (mirrors BridgeFlag in assembly/fdb.ts). */
export const BridgeFlag = { SERVICES: 1 } as const;

const VLAN_MAP_BYTES = 512;
const BR_SIZE = 32;
const FDB_ANY = 0xffffffff;

/** Options of a bridge domain (`ip link add ... type bridge ageing_time ...`). */
export interface BridgeOptions {
  /** Ageing time of learned entries in seconds of packet time (default 300; 0 = learn nothing, flood all, as Linux). */
  ageing?: number;
  /** Most learned entries (0 = no limit, the default). Beyond it new stations are not learned but still reached by flooding. */
  learnLimit?: number;
  /** The bridge has virtual services: its IPv4/IPv6 frames go through the IPVS hook. */
  services?: boolean;
}

/** 802.1Q rule of a bridge port, as `bridge vlan` sets it. */
export type VlanConfig =
  | { mode: 'none' }
  /** Untagged member of `pvid`: untagged frames join it, frames leave untagged. */
  | { mode: 'access'; pvid: number; tpid?: number }
  /** Tagged member of `allowed` (`[10, 20]` or `"10,20-30"`); untagged frames join `native` (if any) and leave untagged. */
  | { mode: 'trunk'; allowed: Iterable<number> | string; native?: number; tpid?: number };

/** A port of a bridge (`ip link set ... master br`, `bridge link set ...`). */
export interface BridgePortOptions {
  bridge: number;
  /** Default: no VLAN filtering on the port (frames pass with their tags). */
  vlan?: VlanConfig;
  /** Learn source addresses (default true). */
  learning?: boolean;
  /** Flood unknown unicast here (default true). */
  flood?: boolean;
  /** Flood multicast here (default true). */
  mcastFlood?: boolean;
  /** Flood broadcast here (default true). */
  bcastFlood?: boolean;
  /** Let frames leave through the port they came in on (default false). */
  hairpin?: boolean;
  /** Never forward to another isolated port (Docker's enable_icc=false; default false). */
  isolated?: boolean;
  /** Administratively down (default false). */
  down?: boolean;
  /** MTU of the port (payload bytes, default 1500). */
  mtu?: number;
  /** The port's own MAC. */
  mac?: string;
}

/** One FDB entry, as `bridge fdb show` lists it. */
export interface FdbEntry {
  mac: string;
  bridge: number;
  /** VLAN (0 when the ports do no VLAN filtering). */
  vlan: number;
  port: number;
  /** 'learned' (dynamic), 'static', 'local' (permanent), 'sticky'. */
  flags: Array<'learned' | 'static' | 'local' | 'sticky'>;
  /** Packet time (seconds) the station was last heard from, or the entry was added. */
  lastSeen: number;
}

/** Options of `fdbAdd`. */
export interface FdbAddOptions {
  /** Port the station is behind (ignored for local entries). */
  port?: number;
  vlan?: number;
  /** The bridge's own address: frames to it are delivered locally (`permanent`). */
  local?: boolean;
  /** Never moves to another port. */
  sticky?: boolean;
  /** Add as a dynamic (learned) entry that ages, instead of static. */
  dynamic?: boolean;
  /** Packet time of the entry (default 0). */
  now?: number;
}

/** Which entries `flush` removes: every given field must match. */
export interface FlushFilter {
  bridge?: number;
  port?: number;
  vlan?: number;
  /** Also static entries (default: learned ones only, as `bridge fdb flush`). */
  static?: boolean;
  /** Also local (permanent) entries. */
  local?: boolean;
}

/** Names used by fdbShow (defaults port<N>, br<N>). */
export interface ShowNames {
  port?: (id: number) => string;
  bridge?: (id: number) => string;
}

interface BridgeExports {
  fdbSetup(fdb: number, slots: number, bridges: number, nBridges: number, members: number, vlanMaps: number): void;
  fdbAdd(b: number, vlan: number, macHi: number, macLo: number, port: number, flags: number, now: number): number;
  fdbDel(b: number, vlan: number, macHi: number, macLo: number): number;
  fdbFlush(b: number, port: number, vlan: number, flagMask: number): number;
  fdbSweep(now: number, n: number): number;
  fdbSize(): number;
  fdbLookup(b: number, vlan: number, macHi: number, macLo: number): number;
  bridgeSync(): void;
  bridgeClock(): number;
}

/** Where the bridge table lives in one Dataplane's memory. */
interface BridgeState {
  fdb: number;
  slots: number;
  capacity: number;
  records: number;
  nBridges: number;
  members: number;
  vlanMaps: number;
  /** Bridge each port was a member of at the last sync (-1: none), to flush a port that leaves. */
  memberOf: Int32Array;
}

const states = new WeakMap<Dataplane, BridgeState>();

const isPow2 = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
const align64 = (n: number): number => Math.ceil(n / 64) * 64;

/**
 * The bridge table of a Dataplane (see DataplaneOptions.fdbCapacity and
 * .bridges): the FDB's hash table, one record per bridge domain, the member
 * list, and each port's VLAN bitmap. Its init keeps the member lists in step
 * with the port table: every Dataplane.setPort / clearPort resyncs them.
 */
export function bridgeTablePlan(opts: Readonly<DataplaneOptions>): TablePlan {
  const capacity = opts.fdbCapacity ?? DEFAULT_FDB_CAPACITY;
  if (!isPow2(capacity) || capacity < 16 || capacity > MAX_FDB_CAPACITY) {
    throw new RangeError(`fdbCapacity must be a power of two in 16..${MAX_FDB_CAPACITY}, got ${capacity}`);
  }
  const nBridges = opts.bridges ?? DEFAULT_BRIDGES;
  if (!Number.isInteger(nBridges) || nBridges < 1 || nBridges > 65536) throw new RangeError(`bridges must be an integer in 1..65536, got ${nBridges}`);
  const slots = capacity * 2;
  const fdbBytes = slots * 16;
  const recBytes = align64(nBridges * BR_SIZE);
  const memberBytes = align64(L.MAX_PORTS);
  const vlanBytes = L.MAX_PORTS * VLAN_MAP_BYTES;
  return {
    name: 'bridge',
    bytes: fdbBytes + recBytes + memberBytes + vlanBytes,
    align: 64,
    init(dp: Dataplane, ptr: number): void {
      const st: BridgeState = {
        fdb: ptr,
        slots,
        capacity,
        records: ptr + fdbBytes,
        nBridges,
        members: ptr + fdbBytes + recBytes,
        vlanMaps: ptr + fdbBytes + recBytes + memberBytes,
        memberOf: new Int32Array(L.MAX_PORTS).fill(-1),
      };
      states.set(dp, st);
      const ex = dp.exports as unknown as BridgeExports;
      ex.fdbSetup(st.fdb, slots, st.records, nBridges, st.members, st.vlanMaps);
      // Keep member lists in step with the port table, whoever writes it.
      dp.onPortChange(() => syncMembers(dp, st));
      syncMembers(dp, st);
    },
  };
}

/** Rebuilds member lists; flushes the FDB entries of ports that left their bridge. */
function syncMembers(dp: Dataplane, st: BridgeState): void {
  const ex = dp.exports as unknown as BridgeExports;
  const dv = dp.view;
  for (let id = 0; id < L.MAX_PORTS; id++) {
    const p = dp.portAddr(id);
    const kind = dv.getUint8(p + L.P_KIND);
    const b = dv.getUint16(p + L.P_BRIDGE, true);
    const now = (kind === L.PortKind.BRIDGE || kind === L.PortKind.VXLAN) && b < st.nBridges ? b : -1;
    const was = st.memberOf[id]!;
    if (was !== now) {
      if (was >= 0) ex.fdbFlush(was, id, FDB_ANY, FdbFlag.LEARNED | FdbFlag.STATIC);
      st.memberOf[id] = now;
    }
  }
  ex.bridgeSync();
}

function stateOf(dp: Dataplane): BridgeState {
  const st = states.get(dp);
  if (!st) throw new Error('this Dataplane has no bridge table');
  return st;
}

/** "02:42:ac:11:00:02" -> [hi16, lo32]. */
function macParts(mac: string): [number, number] {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(mac);
  if (!m) throw new Error(`invalid MAC address "${mac}"`);
  const b = m.slice(1).map((h) => parseInt(h, 16));
  return [(b[0]! << 8) | b[1]!, ((b[2]! << 24) | (b[3]! << 16) | (b[4]! << 8) | b[5]!) >>> 0];
}

function macString(hi: number, lo: number): string {
  const b = [hi >>> 8, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function checkVid(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1 || v > 4094) throw new RangeError(`${what} must be a VLAN id in 1..4094, got ${v}`);
  return v;
}

/** "10,20-30" or [10, 20] -> sorted unique VLAN ids. */
export function parseVlanList(spec: Iterable<number> | string): number[] {
  const out = new Set<number>();
  if (typeof spec === 'string') {
    for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(part);
      if (!m) throw new Error(`invalid VLAN list element "${part}" in "${spec}"`);
      const a = checkVid(Number(m[1]), 'VLAN');
      const b = m[2] === undefined ? a : checkVid(Number(m[2]), 'VLAN');
      if (b < a) throw new Error(`invalid VLAN range "${part}"`);
      for (let v = a; v <= b; v++) out.add(v);
    }
  } else {
    for (const v of spec) out.add(checkVid(v, 'VLAN'));
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * The bridges of one Dataplane: bridge domains, their ports and VLAN rules,
 * and the forwarding database.
 */
export class Bridges {
  private readonly st: BridgeState;
  private readonly ex: BridgeExports;

  constructor(readonly dp: Dataplane) {
    this.st = stateOf(dp);
    this.ex = dp.exports as unknown as BridgeExports;
  }

  /** Number of bridge domains (ids 0 .. count-1). */
  get count(): number {
    return this.st.nBridges;
  }

  /** Most FDB entries. */
  get capacity(): number {
    return this.st.capacity;
  }

  /** Live FDB entries now (all bridges; expired ones are swept first). */
  get size(): number {
    this.age();
    return this.ex.fdbSize();
  }

  private rec(id: number): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.st.nBridges) throw new RangeError(`bridge id must be in 0..${this.st.nBridges - 1}, got ${id}`);
    return this.st.records + id * BR_SIZE;
  }

  /**
   * Configures bridge domain `id` (every id exists with the defaults: ageing
   * 300 s, no learn limit, no services). Options not given keep their value.
   */
  create(id: number, opts: BridgeOptions = {}): void {
    const r = this.rec(id);
    const dv = this.dp.view;
    if (opts.ageing !== undefined) {
      if (!Number.isInteger(opts.ageing) || opts.ageing < 0 || opts.ageing > 0x7fffffff) throw new RangeError(`ageing must be an integer number of seconds >= 0, got ${opts.ageing}`);
      dv.setUint32(r + 0, opts.ageing, true);
    }
    if (opts.learnLimit !== undefined) {
      if (!Number.isInteger(opts.learnLimit) || opts.learnLimit < 0 || opts.learnLimit > 0xffffffff) throw new RangeError(`learnLimit must be an integer >= 0, got ${opts.learnLimit}`);
      dv.setUint32(r + 4, opts.learnLimit, true);
    }
    if (opts.services !== undefined) {
      const f = dv.getUint32(r + 16, true);
      dv.setUint32(r + 16, opts.services ? f | BridgeFlag.SERVICES : f & ~BridgeFlag.SERVICES, true);
    }
  }

  /** A bridge's settings, learned-entry count and member ports. */
  get(id: number): Required<BridgeOptions> & { learned: number; ports: number[] } {
    const r = this.rec(id);
    const dv = this.dp.view;
    const start = dv.getUint16(r + 12, true);
    const n = dv.getUint16(r + 14, true);
    return {
      ageing: dv.getUint32(r + 0, true),
      learnLimit: dv.getUint32(r + 4, true),
      services: (dv.getUint32(r + 16, true) & BridgeFlag.SERVICES) !== 0,
      learned: dv.getUint32(r + 8, true),
      ports: Array.from(this.dp.bytes.subarray(this.st.members + start, this.st.members + start + n)),
    };
  }

  /** Turns the IPVS hook on or off for bridge `id`. */
  setServices(id: number, on: boolean): void {
    this.create(id, { services: on });
  }

  /**
   * Makes `port` a port of a bridge with its VLAN rule and flags (Linux
   * defaults: learning and all flooding on). Re-adding a port reconfigures it
   * and forgets the stations learned on it.
   */
  addPort(port: number, opts: BridgePortOptions): void {
    this.rec(opts.bridge);
    let flags = 0;
    if (opts.learning ?? true) flags |= L.PortFlag.LEARNING;
    if (opts.flood ?? true) flags |= L.PortFlag.FLOOD;
    if (opts.mcastFlood ?? true) flags |= L.PortFlag.MCAST_FLOOD;
    if (opts.bcastFlood ?? true) flags |= L.PortFlag.BCAST_FLOOD;
    if (opts.hairpin) flags |= L.PortFlag.HAIRPIN;
    if (opts.isolated) flags |= L.PortFlag.ISOLATED;
    if (opts.down) flags |= L.PortFlag.DOWN;
    const cfg: PortConfig = { kind: L.PortKind.BRIDGE, bridge: opts.bridge, flags, mtu: opts.mtu ?? 1500 };
    if (opts.mac) cfg.mac = opts.mac;
    const v = opts.vlan ?? { mode: 'none' };
    const map = new Uint8Array(VLAN_MAP_BYTES);
    const tpidOf = (t: number | undefined): number => {
      const x = t ?? 0x8100;
      if (x !== 0x8100 && x !== 0x88a8) throw new RangeError(`tpid must be 0x8100 (802.1Q) or 0x88a8 (802.1ad), got 0x${x.toString(16)}`);
      return x;
    };
    switch (v.mode) {
      case 'none':
        cfg.vlanMode = L.VlanMode.NONE;
        break;
      case 'access':
        cfg.vlanMode = L.VlanMode.ACCESS;
        cfg.pvid = checkVid(v.pvid, 'pvid');
        cfg.tpid = tpidOf(v.tpid);
        break;
      case 'trunk':
        cfg.vlanMode = L.VlanMode.TRUNK;
        cfg.pvid = v.native === undefined ? 0 : checkVid(v.native, 'native VLAN');
        cfg.tpid = tpidOf(v.tpid);
        for (const vid of parseVlanList(v.allowed)) map[vid >> 3]! |= 1 << (vid & 7);
        break;
      default:
        throw new Error(`unknown VLAN mode ${JSON.stringify((v as { mode: unknown }).mode)}`);
    }
    const wasMember = this.st.memberOf[port] === opts.bridge;
    this.dp.bytes.set(map, this.st.vlanMaps + port * VLAN_MAP_BYTES);
    this.dp.setPort(port, cfg);
    if (wasMember) this.flush({ bridge: opts.bridge, port });
  }

  /** Takes `port` out of its bridge (its FDB entries go with it). */
  removePort(port: number): void {
    this.dp.clearPort(port);
  }

  /** Ports of bridge `id`, in port order. */
  ports(id: number): number[] {
    return this.get(id).ports;
  }

  /** Adds a static (default), sticky, local or dynamic entry, like `bridge fdb add`. Replaces an existing one. */
  fdbAdd(bridge: number, mac: string, opts: FdbAddOptions = {}): void {
    this.rec(bridge);
    const [hi, lo] = macParts(mac);
    if (hi & 0x100) throw new Error(`${mac} is a multicast address; the FDB holds unicast stations`);
    const vlan = opts.vlan ?? 0;
    if (vlan !== 0) checkVid(vlan, 'vlan');
    let flags: number = opts.local ? FdbFlag.LOCAL : opts.dynamic ? FdbFlag.LEARNED : FdbFlag.STATIC;
    if (opts.sticky) flags |= FdbFlag.STICKY;
    const port = opts.port ?? 0;
    if (!opts.local && (opts.port === undefined || !Number.isInteger(port) || port < 0 || port >= L.MAX_PORTS)) {
      throw new RangeError(`fdbAdd needs a port in 0..${L.MAX_PORTS - 1}`);
    }
    if (!this.ex.fdbAdd(bridge, vlan, hi, lo, opts.local ? 0 : port, flags, (opts.now ?? 0) >>> 0)) {
      throw new Error(`FDB is full (${this.st.capacity} entries)`);
    }
  }

  /** Deletes an entry; returns whether there was one. */
  fdbDel(bridge: number, mac: string, vlan = 0): boolean {
    this.rec(bridge);
    const [hi, lo] = macParts(mac);
    return this.ex.fdbDel(bridge, vlan, hi, lo) === 1;
  }

  /** The entry for (bridge, mac, vlan), if any. */
  lookup(bridge: number, mac: string, vlan = 0): FdbEntry | undefined {
    this.rec(bridge);
    const [hi, lo] = macParts(mac);
    this.age();
    const i = this.ex.fdbLookup(bridge, vlan, hi, lo);
    return i < 0 ? undefined : this.entryAt(i);
  }

  /** Removes entries by bridge, port and/or VLAN (learned ones unless told); returns how many. */
  flush(filter: FlushFilter = {}): number {
    let mask: number = FdbFlag.LEARNED;
    if (filter.static) mask |= FdbFlag.STATIC | FdbFlag.STICKY;
    if (filter.local) mask |= FdbFlag.LOCAL;
    return this.ex.fdbFlush(filter.bridge ?? FDB_ANY, filter.port ?? FDB_ANY, filter.vlan ?? FDB_ANY, mask);
  }

  /** Packet time (seconds) of the latest frame the bridges saw. */
  get clock(): number {
    return this.ex.bridgeClock();
  }

  /**
   * Removes every learned entry expired at packet time `now` (default: the
   * latest frame's), as the kernel's FDB garbage collector; returns how many.
   * The data plane already ignores expired entries and sweeps them a slice at
   * a time; dumps call this first so they never list one.
   */
  age(now: number = this.clock): number {
    return this.ex.fdbSweep(now >>> 0, this.st.slots);
  }

  private entryAt(i: number): FdbEntry {
    const dv = this.dp.view;
    const e = this.st.fdb + i * 16;
    const lo = dv.getUint32(e, true);
    const w1 = dv.getUint32(e + 4, true);
    const f = dv.getUint8(e + 11);
    const flags: FdbEntry['flags'] = [];
    if (f & FdbFlag.LEARNED) flags.push('learned');
    if (f & FdbFlag.STATIC) flags.push('static');
    if (f & FdbFlag.LOCAL) flags.push('local');
    if (f & FdbFlag.STICKY) flags.push('sticky');
    return {
      mac: macString(w1 & 0xffff, lo),
      bridge: dv.getUint16(e + 8, true),
      vlan: (w1 >>> 16) & 0xfff,
      port: dv.getUint8(e + 10),
      flags,
      lastSeen: dv.getUint32(e + 12, true),
    };
  }

  /** Every live entry matching the filter, sorted by bridge, VLAN, MAC (expired ones are swept first). */
  fdb(filter: { bridge?: number; port?: number; vlan?: number } = {}): FdbEntry[] {
    this.age();
    const dv = this.dp.view;
    const out: FdbEntry[] = [];
    for (let i = 0; i < this.st.slots; i++) {
      const e = this.st.fdb + i * 16;
      if (dv.getUint32(e + 4, true) === 0) continue; // the VALID bit lives in this word
      const x = this.entryAt(i);
      if (filter.bridge !== undefined && x.bridge !== filter.bridge) continue;
      if (filter.port !== undefined && (x.port !== filter.port || x.flags.includes('local'))) continue;
      if (filter.vlan !== undefined && x.vlan !== filter.vlan) continue;
      out.push(x);
    }
    return out.sort((a, b) => a.bridge - b.bridge || a.vlan - b.vlan || (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));
  }

  /**
   * The FDB as `bridge fdb show` prints it, one line per entry:
   * `02:42:ac:11:00:02 dev port3 vlan 10 master br1 static`.
   */
  fdbShow(filter: { bridge?: number; port?: number; vlan?: number } = {}, names: ShowNames = {}): string {
    const portName = names.port ?? ((id: number) => `port${id}`);
    const brName = names.bridge ?? ((id: number) => `br${id}`);
    return this.fdb(filter)
      .map((e) => {
        const local = e.flags.includes('local');
        let s = `${e.mac} dev ${local ? brName(e.bridge) : portName(e.port)}`;
        if (e.vlan) s += ` vlan ${e.vlan}`;
        s += ` master ${brName(e.bridge)}`;
        if (local) s += ' permanent';
        else if (e.flags.includes('static')) s += ' static';
        if (e.flags.includes('sticky')) s += ' sticky';
        return s;
      })
      .join('\n');
  }
}
