/**
 * Control of the macvlan and ipvlan data plane (assembly/macvlan.ts): parent
 * ports (the host's uplinks), networks on a parent link (the bare parent or an
 * 802.1Q sub-interface such as eth0.10), and their endpoints (CHILD ports).
 *
 * The model lives here; every change rebuilds the tables the data plane reads
 * (VLAN maps, lower devices, member lists, MAC and IP hash tables) and patches
 * the CHILD/PARENT port entries, between vectors.
 *
 * ```ts
 * const dp = new Dataplane();
 * const mv = new Macvlans(dp);
 * mv.addParent(0, { name: 'eth0', mac: '02:00:00:00:01:01' });
 * mv.createNetwork('vlan10', { driver: 'macvlan', parent: 0, vlan: 10, macvlanMode: 'bridge' });
 * mv.addEndpoint('vlan10', 1, { mac: '02:42:0a:00:0a:02' });
 * ```
 */
import type { Dataplane } from './dataplane.ts';
import { parseMac, parseIp4 } from './dataplane.ts';
import { parseIp6 } from './vxlan.ts';
import type { DataplaneOptions, TablePlan } from './tables.ts';
import * as L from './layout.ts';

export const DEFAULT_MACVLAN_PARENTS = 8;
export const DEFAULT_MACVLAN_LOWERS = 64;
export const DEFAULT_MACVLAN_MAC_SLOTS = 1024;
export const DEFAULT_MACVLAN_IP_SLOTS = 1024;

// Mirrors of assembly/macvlan.ts (checked against the module's exported globals at init).
const PARENT_MAP_BYTES = 8192;
const LOWER_SIZE = 32;
const LW_DRIVER = 0;
const LW_MODE = 1;
const LW_FLAGS = 2;
const LW_VLAN = 4;
const LW_PARENT = 6;
const LW_MEMBER_START = 8;
const LW_MEMBER_COUNT = 10;
const LW_MAC = 12;
const LW_NEXT_HOP = 20;
const NO_PARENT = 0xffff;
const MAC_ENTRY_SIZE = 16;
const IP_ENTRY_SIZE = 32;
const DRIVER = { macvlan: 1, ipvlan: 2 } as const;
const LOWER_FLAG = { PASSTHRU: 1, PRIVATE: 2, VEPA: 4, NEXT_HOP: 8 } as const;
/** Kernel values of enum macvlan_mode. */
export const MACVLAN_MODE = { private: 1, vepa: 2, bridge: 4, passthru: 8 } as const;
const CHILD_CHECK_SRC = 0x100;
const PARENT_IPVLAN = 1;

export type MacvlanMode = keyof typeof MACVLAN_MODE;
/** l3s is carried as l3: the data plane sees the same demultiplexing (its netfilter detour is the host's). */
export type IpvlanMode = 'l2' | 'l3' | 'l3s';
export type IpvlanFlag = 'bridge' | 'private' | 'vepa';

/** Options of a macvlan or ipvlan network. */
export interface L2NetworkOptions {
  driver: 'macvlan' | 'ipvlan';
  /** The parent port (see addParent). Omitted: Docker's dummy parent, the network reaches nothing outside. */
  parent?: number;
  /** 802.1Q sub-interface of the parent (`-o parent=eth0.10`); 0 or omitted: the bare parent. */
  vlan?: number;
  /** macvlan_mode (default bridge). */
  macvlanMode?: MacvlanMode;
  /** ipvlan_mode (default l2). */
  ipvlanMode?: IpvlanMode;
  /** ipvlan_flag (default bridge). */
  ipvlanFlag?: IpvlanFlag;
  /**
   * Drop frames from an endpoint whose source MAC is not its own (macvlan) or
   * the parent's (ipvlan). Default true: the kernel does not check, but Docker
   * users expect one container not to speak for another.
   */
  checkSourceMac?: boolean;
  /** ipvlan l3: MAC of the next hop routed traffic leaves for (the host's router). */
  nextHop?: string;
  /** ipvlan without parent: the MAC of the dummy parent every endpoint shares (default random). */
  mac?: string;
}

/** Options of an endpoint (a container's interface on the network). */
export interface L2EndpointOptions {
  /** macvlan: the endpoint's MAC (required). ipvlan: ignored, endpoints share the parent's MAC. */
  mac?: string;
  /** IPv4 addresses (ipvlan demultiplexes by them). */
  ipv4?: string[];
  /** IPv6 addresses. */
  ipv6?: string[];
  /** Administratively down (default false). */
  down?: boolean;
}

interface ParentState {
  port: number;
  index: number;
  name: string;
  mac: Uint8Array;
}

interface NetworkState {
  id: string;
  driver: 'macvlan' | 'ipvlan';
  parent: number | null;
  vlan: number;
  macvlanMode: MacvlanMode;
  ipvlanMode: IpvlanMode;
  ipvlanFlag: IpvlanFlag;
  checkSourceMac: boolean;
  nextHop: Uint8Array | null;
  mac: Uint8Array | null;
}

interface EndpointState {
  port: number;
  network: string;
  mac: Uint8Array | null;
  ipv4: Uint8Array[];
  ipv6: Uint8Array[];
  down: boolean;
}

interface TableState {
  ptr: number;
  bytes: number;
  nParents: number;
  nLowers: number;
  macSlots: number;
  ipSlots: number;
  offParents: number;
  offLowers: number;
  offMembers: number;
  offMacs: number;
  offIps: number;
  parents: Map<number, ParentState>;
  networks: Map<string, NetworkState>;
  endpoints: Map<number, EndpointState>;
}

const states = new WeakMap<Dataplane, TableState>();

const isPow2 = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
const align64 = (n: number): number => Math.ceil(n / 64) * 64;

function sizeOpt(v: number | undefined, def: number, name: string, min: number, max: number, pow2 = false): number {
  const n = v ?? def;
  if (!Number.isInteger(n) || n < min || n > max || (pow2 && !isPow2(n))) {
    throw new RangeError(`${name} must be ${pow2 ? 'a power of two' : 'an integer'} in ${min}..${max}, got ${n}`);
  }
  return n;
}

interface MacvlanExports {
  macvlanSetup(parents: number, nParents: number, lowers: number, nLowers: number, members: number, macs: number, macSlots: number, ips: number, ipSlots: number): void;
}

/** The table plan of the macvlan/ipvlan node (see DataplaneOptions.macvlan*). */
export function macvlanTablePlan(opts: Readonly<DataplaneOptions>): TablePlan {
  const nParents = sizeOpt(opts.macvlanParents, DEFAULT_MACVLAN_PARENTS, 'macvlanParents', 1, L.MAX_PORTS);
  const nLowers = sizeOpt(opts.macvlanLowers, DEFAULT_MACVLAN_LOWERS, 'macvlanLowers', 1, 65534);
  const macSlots = sizeOpt(opts.macvlanMacSlots, DEFAULT_MACVLAN_MAC_SLOTS, 'macvlanMacSlots', 16, 1 << 20, true);
  const ipSlots = sizeOpt(opts.macvlanIpSlots, DEFAULT_MACVLAN_IP_SLOTS, 'macvlanIpSlots', 16, 1 << 20, true);
  const offParents = 0;
  const offLowers = offParents + nParents * PARENT_MAP_BYTES;
  const offMembers = offLowers + align64(nLowers * LOWER_SIZE);
  const offMacs = offMembers + align64(L.MAX_PORTS);
  const offIps = offMacs + macSlots * MAC_ENTRY_SIZE;
  const bytes = offIps + ipSlots * IP_ENTRY_SIZE;
  return {
    name: 'macvlan',
    bytes,
    align: 64,
    init(dp: Dataplane, ptr: number): void {
      const ex = dp.exports as unknown as MacvlanExports & Record<string, unknown>;
      for (const [k, v] of Object.entries({ PARENT_MAP_BYTES, LOWER_SIZE, LW_NEXT_HOP, MAC_ENTRY_SIZE, IP_ENTRY_SIZE, CHILD_CHECK_SRC })) {
        const g = ex[k] as WebAssembly.Global | undefined;
        if (g && g.value !== v) throw new Error(`netwasm: the .wasm was built with ${k}=${g.value}, this host expects ${v}; rebuild`);
      }
      states.set(dp, {
        ptr, bytes, nParents, nLowers, macSlots, ipSlots, offParents, offLowers, offMembers, offMacs, offIps,
        parents: new Map(), networks: new Map(), endpoints: new Map(),
      });
      ex.macvlanSetup(ptr + offParents, nParents, ptr + offLowers, nLowers, ptr + offMembers, ptr + offMacs, macSlots, ptr + offIps, ipSlots);
    },
  };
}

// ---- hashing: the same as assembly/macvlan.ts ----------------------------------------

function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

function macSlot(lower: number, mac: Uint8Array, mask: number): { lo: number; hi: number; at: number } {
  const lo = ((mac[2]! << 24) | (mac[3]! << 16) | (mac[4]! << 8) | mac[5]!) >>> 0;
  const hi = (((lower + 1) << 16) | (mac[0]! << 8) | mac[1]!) >>> 0;
  return { lo, hi, at: mix32((lo ^ mix32(hi)) >>> 0) & mask };
}

function ipHash(lower: number, addr: Uint8Array): { tag: number; h: number } {
  const fam = addr.length === 4 ? 4 : 6;
  const tag = ((lower + 1) | (fam << 16)) >>> 0;
  const dv = new DataView(addr.buffer, addr.byteOffset, addr.length);
  let h = mix32((mix32(tag) ^ dv.getUint32(0, true)) >>> 0);
  if (fam === 6) {
    h = mix32((h ^ dv.getUint32(4, true)) >>> 0);
    h = mix32((h ^ dv.getUint32(8, true)) >>> 0);
    h = mix32((h ^ dv.getUint32(12, true)) >>> 0);
  }
  return { tag, h };
}

// ---- addresses -------------------------------------------------------------------------

const macStr = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** A random locally administered unicast MAC, as Docker's GenerateRandomMAC. */
export function randomMac(): string {
  const b = new Uint8Array(6);
  globalThis.crypto.getRandomValues(b);
  b[0] = (b[0]! & 0xfe) | 0x02;
  return macStr(b);
}

/**
 * Docker's `-o parent=` for an interface that does not exist yet: `eth0.10`
 * is 802.1Q sub-interface VLAN 10 of eth0 (macvlan_setup.go createVlanLink /
 * parseVlan), with Docker's own error messages. `exists(name)` says whether a
 * link exists on the host (an existing link is used as it is: VLAN 0).
 */
export function parseParent(name: string, exists: (link: string) => boolean = () => true): { link: string; vlan: number } {
  if (name === 'lo') throw new Error('loopback interface is not a valid macvlan parent link');
  if (name !== '' && exists(name) && !name.includes('.')) return { link: name, vlan: 0 };
  if (!name.includes('.')) throw new Error(`invalid subinterface vlan name ${name}, example formatting is eth0.10`);
  const split = name.split('.');
  if (split.length !== 2) {
    throw new Error(`required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received ${name}`);
  }
  const [link, vidStr] = split as [string, string];
  // Go's strconv.Atoi: an optional sign and decimal digits, within int64.
  if (!/^[+-]?\d+$/.test(vidStr) || !Number.isSafeInteger(Number(vidStr))) {
    throw new Error(`unable to parse a valid vlan id from: ${vidStr} (ex. eth0.10 for vlan 10)`);
  }
  const vid = Number(vidStr);
  if (!exists(link)) throw new Error(`-o parent interface was not found on the host: ${link}`);
  if (vid > 4094 || vid < 1) throw new Error(`vlan id must be between 1-4094, received: ${vid}`);
  return { link, vlan: vid };
}

// ---- the control ---------------------------------------------------------------------

/** A network as dumped by `Macvlans.networks()`. */
export interface L2NetworkInfo {
  id: string;
  driver: 'macvlan' | 'ipvlan';
  parent: number | null;
  vlan: number;
  mode: string;
  ipvlanFlag?: IpvlanFlag;
  checkSourceMac: boolean;
  nextHop?: string;
  endpoints: number[];
}

/**
 * The macvlan and ipvlan networks of one Dataplane. Every instance for the
 * same Dataplane shares one model.
 */
export class Macvlans {
  private readonly st: TableState;

  constructor(readonly dp: Dataplane) {
    const st = states.get(dp);
    if (!st) throw new Error('this Dataplane has no macvlan table');
    this.st = st;
  }

  /**
   * Makes `port` a parent (uplink) port: frames arriving on it are
   * demultiplexed to the networks of its VLANs. `name` is for messages
   * (default `port<N>`).
   */
  addParent(port: number, opts: { mac: string; name?: string; down?: boolean }): void {
    checkPort(port);
    const st = this.st;
    const mac = parseMac(opts.mac);
    if (st.endpoints.has(port)) throw new Error(`port ${port} is an endpoint, not a parent`);
    const was = st.parents.get(port);
    let index = was?.index ?? -1;
    if (index < 0) {
      const used = new Set([...st.parents.values()].map((p) => p.index));
      for (let i = 0; i < st.nParents; i++) if (!used.has(i)) { index = i; break; }
      if (index < 0) throw new RangeError(`no room for another parent (macvlanParents = ${st.nParents})`);
    }
    st.parents.set(port, { port, index, name: opts.name ?? `port${port}`, mac });
    this.dp.setPort(port, { kind: L.PortKind.PARENT, aux: index, mac: opts.mac, flags: opts.down ? L.PortFlag.DOWN : 0 });
    this.write();
  }

  /** Takes a parent away; refused while networks use it. */
  removeParent(port: number): void {
    const st = this.st;
    if (!st.parents.has(port)) throw new Error(`port ${port} is not a parent`);
    const users = [...st.networks.values()].filter((n) => n.parent === port).map((n) => n.id);
    if (users.length) throw new Error(`parent ${st.parents.get(port)!.name} is in use by network ${users.join(', ')}`);
    st.parents.delete(port);
    this.dp.clearPort(port);
    this.write();
  }

  /**
   * Creates a network on a parent link, with Docker's rules: several macvlan
   * networks may share a parent link unless one is passthru; an ipvlan
   * network has its parent link alone; macvlan and ipvlan never share one.
   */
  createNetwork(id: string, opts: L2NetworkOptions): void {
    const st = this.st;
    if (st.networks.has(id)) throw new Error(`network ${id} already exists`);
    const driver = opts.driver;
    if (driver !== 'macvlan' && driver !== 'ipvlan') throw new Error(`unknown driver ${JSON.stringify(driver)}: macvlan or ipvlan`);
    const vlan = opts.vlan ?? 0;
    if (!Number.isInteger(vlan)) throw new Error(`vlan id must be between 1-4094, received: ${vlan}`);
    if (vlan !== 0 && (vlan < 1 || vlan > 4094)) throw new Error(`vlan id must be between 1-4094, received: ${vlan}`);
    const parent = opts.parent ?? null;
    if (parent === null && vlan !== 0) throw new Error('a VLAN sub-interface needs a parent');
    if (parent !== null && !st.parents.has(parent)) throw new Error(`the requested parent interface port${parent} was not found on the Docker host`);
    const macvlanMode = opts.macvlanMode ?? 'bridge';
    if (!(macvlanMode in MACVLAN_MODE)) {
      throw new Error(`requested macvlan mode '${macvlanMode}' is not valid, 'bridge' mode is the macvlan driver default`);
    }
    const ipvlanMode = opts.ipvlanMode ?? 'l2';
    if (!['l2', 'l3', 'l3s'].includes(ipvlanMode)) {
      throw new Error(`requested ipvlan mode '${ipvlanMode}' is not valid, 'l2' mode is the ipvlan driver default`);
    }
    const ipvlanFlag = opts.ipvlanFlag ?? 'bridge';
    if (!['bridge', 'private', 'vepa'].includes(ipvlanFlag)) {
      throw new Error(`requested ipvlan flag '${ipvlanFlag}' is not valid, 'bridge' is the ipvlan driver default`);
    }
    const linkName = parent === null ? `dummy parent of ${id}` : this.linkName(parent, vlan);
    if (parent !== null) {
      for (const nw of st.networks.values()) {
        if (nw.parent !== parent || nw.vlan !== vlan) continue;
        if (nw.driver !== driver) throw new Error(`failed to create the ${driver} port: device or resource busy (${linkName} carries ${nw.driver} network ${nw.id})`);
        if (driver === 'ipvlan') throw new Error(`network ${nw.id} is already using parent interface ${linkName}`);
        if (macvlanMode === 'passthru') throw new Error(`cannot use mode passthru, macvlan network ${nw.id} is already using parent interface ${linkName}`);
        if (nw.macvlanMode === 'passthru') throw new Error(`macvlan network ${nw.id} is already using parent interface ${linkName} in mode passthru`);
      }
    }
    const nw: NetworkState = {
      id, driver, parent, vlan, macvlanMode, ipvlanMode, ipvlanFlag,
      checkSourceMac: opts.checkSourceMac ?? true,
      nextHop: opts.nextHop ? parseMac(opts.nextHop) : null,
      mac: driver === 'ipvlan' && parent === null ? parseMac(opts.mac ?? randomMac()) : null,
    };
    st.networks.set(id, nw);
    this.tryWrite(() => st.networks.delete(id));
  }

  /** Deletes a network; refused while it has endpoints (Docker: "has active endpoints"). */
  deleteNetwork(id: string): void {
    const st = this.st;
    this.net(id);
    const eps = [...st.endpoints.values()].filter((e) => e.network === id);
    if (eps.length) throw new Error(`network ${id} has active endpoints`);
    st.networks.delete(id);
    this.write();
  }

  /** Sets (or with null clears) the next-hop MAC of an ipvlan l3 network. */
  setNextHop(id: string, mac: string | null): void {
    const nw = this.net(id);
    nw.nextHop = mac === null ? null : parseMac(mac);
    this.write();
  }

  /**
   * Makes `port` an endpoint (CHILD port) of network `id`. macvlan: `mac` is
   * required and unique on the parent link (not the parent's own); ipvlan:
   * the addresses are unique on the parent link.
   */
  addEndpoint(id: string, port: number, opts: L2EndpointOptions = {}): void {
    checkPort(port);
    const st = this.st;
    const nw = this.net(id);
    if (st.endpoints.has(port)) throw new Error(`port ${port} is already an endpoint of network ${st.endpoints.get(port)!.network}`);
    if (st.parents.has(port)) throw new Error(`port ${port} is a parent, not an endpoint`);
    let mac: Uint8Array | null = null;
    if (nw.driver === 'macvlan') {
      if (!opts.mac) throw new Error(`an endpoint of macvlan network ${id} needs a MAC address`);
      mac = parseMac(opts.mac);
      if (mac[0]! & 1) throw new Error(`${opts.mac} is a multicast address`);
    }
    const ep: EndpointState = {
      port, network: id, mac,
      ipv4: (opts.ipv4 ?? []).map(parseIp4),
      ipv6: (opts.ipv6 ?? []).map(parseIp6),
      down: opts.down ?? false,
    };
    const lowerKey = this.lowerKey(nw);
    const peers = [...st.endpoints.values()].filter((e) => this.lowerKey(this.net(e.network)) === lowerKey);
    if (nw.driver === 'macvlan') {
      if (nw.macvlanMode === 'passthru' && peers.length) throw new Error(`macvlan network ${id} is in mode passthru and already has an endpoint`);
      const parentMac = nw.parent === null ? null : st.parents.get(nw.parent)!.mac;
      if ((parentMac && nw.macvlanMode !== 'passthru' && sameBytes(parentMac, mac!)) || peers.some((e) => e.mac && sameBytes(e.mac, mac!))) {
        throw new Error(`failed to create the macvlan port: address ${opts.mac} already in use on ${this.linkName(nw.parent, nw.vlan)}`);
      }
    } else {
      for (const a of [...ep.ipv4, ...ep.ipv6]) {
        if (peers.some((e) => [...e.ipv4, ...e.ipv6].some((b) => sameBytes(a, b)))) {
          throw new Error(`failed to add ${a.length === 4 ? 'IPv4' : 'IPv6'} address on the ipvlan port: address already in use on ${this.linkName(nw.parent, nw.vlan)}`);
        }
      }
    }
    st.endpoints.set(port, ep);
    // The entry itself: kind, flags and MAC. P_AUX/P_AUX2 come from write().
    this.dp.setPort(port, { kind: L.PortKind.CHILD, flags: ep.down ? L.PortFlag.DOWN : 0, mac: macStr(this.endpointMac(nw, ep)) });
    this.tryWrite(() => {
      st.endpoints.delete(port);
      this.dp.clearPort(port);
    });
  }

  /** Removes an endpoint (its port entry is cleared). */
  removeEndpoint(port: number): void {
    if (!this.st.endpoints.delete(port)) throw new Error(`port ${port} is not an endpoint`);
    this.dp.clearPort(port);
    this.write();
  }

  /** Sets an endpoint administratively down or up. */
  setEndpointDown(port: number, down: boolean): void {
    const ep = this.st.endpoints.get(port);
    if (!ep) throw new Error(`port ${port} is not an endpoint`);
    ep.down = down;
    const p = this.dp.portAddr(port);
    const f = this.dp.view.getUint16(p + L.P_FLAGS, true);
    this.dp.view.setUint16(p + L.P_FLAGS, down ? f | L.PortFlag.DOWN : f & ~L.PortFlag.DOWN, true);
  }

  /** The networks, with their endpoints' ports. */
  networks(): L2NetworkInfo[] {
    const st = this.st;
    return [...st.networks.values()].map((nw) => {
      const info: L2NetworkInfo = {
        id: nw.id, driver: nw.driver, parent: nw.parent, vlan: nw.vlan,
        mode: nw.driver === 'macvlan' ? nw.macvlanMode : nw.ipvlanMode,
        checkSourceMac: nw.checkSourceMac,
        endpoints: [...st.endpoints.values()].filter((e) => e.network === nw.id).map((e) => e.port).sort((a, b) => a - b),
      };
      if (nw.driver === 'ipvlan') info.ipvlanFlag = nw.ipvlanFlag;
      if (nw.nextHop) info.nextHop = macStr(nw.nextHop);
      return info;
    });
  }

  /** The network an endpoint port belongs to, or undefined. */
  networkOf(port: number): string | undefined {
    return this.st.endpoints.get(port)?.network;
  }

  // ---- internals ----------------------------------------------------------------------

  private net(id: string): NetworkState {
    const nw = this.st.networks.get(id);
    if (!nw) throw new Error(`network ${id} not found`);
    return nw;
  }

  private linkName(parent: number | null, vlan: number): string {
    if (parent === null) return 'a dummy parent';
    const name = this.st.parents.get(parent)?.name ?? `port${parent}`;
    return vlan ? `${name}.${vlan}` : name;
  }

  /** Networks on one parent link share a lower device; a parentless network has its own. */
  private lowerKey(nw: NetworkState): string {
    return nw.parent === null ? `dummy:${nw.id}` : `${nw.parent}/${nw.vlan}`;
  }

  private endpointMac(nw: NetworkState, ep: EndpointState): Uint8Array {
    if (nw.driver === 'macvlan') return ep.mac!;
    return nw.parent === null ? nw.mac! : this.st.parents.get(nw.parent)!.mac;
  }

  private tryWrite(undo: () => void): void {
    try {
      this.write();
    } catch (e) {
      undo();
      this.write();
      throw e;
    }
  }

  /** Builds every table from the model, then writes them and patches the port entries. */
  private write(): void {
    const st = this.st;
    const img = new Uint8Array(st.bytes);
    const dv = new DataView(img.buffer);
    // Lower devices, in order of first use.
    const lowers = new Map<string, { index: number; nw: NetworkState; members: EndpointState[] }>();
    for (const nw of st.networks.values()) {
      const key = this.lowerKey(nw);
      if (!lowers.has(key)) {
        if (lowers.size >= st.nLowers) throw new RangeError(`no room for another parent link (macvlanLowers = ${st.nLowers})`);
        lowers.set(key, { index: lowers.size, nw, members: [] });
      }
    }
    const endpoints = [...st.endpoints.values()].sort((a, b) => a.port - b.port);
    for (const ep of endpoints) lowers.get(this.lowerKey(this.net(ep.network)))!.members.push(ep);
    let memberAt = 0;
    const macUsed = new Uint8Array(st.macSlots);
    const ipUsed = new Uint8Array(st.ipSlots);
    let macCount = 0;
    let ipCount = 0;
    const parentHasMacvlan = new Set<number>();
    for (const { index, nw, members } of lowers.values()) {
      const r = st.offLowers + index * LOWER_SIZE;
      dv.setUint8(r + LW_DRIVER, DRIVER[nw.driver]);
      dv.setUint8(r + LW_MODE, nw.ipvlanMode === 'l2' ? 0 : 1);
      let flags = 0;
      if (nw.driver === 'macvlan' && nw.macvlanMode === 'passthru') flags |= LOWER_FLAG.PASSTHRU;
      if (nw.driver === 'ipvlan' && nw.ipvlanFlag === 'private') flags |= LOWER_FLAG.PRIVATE;
      if (nw.driver === 'ipvlan' && nw.ipvlanFlag === 'vepa') flags |= LOWER_FLAG.VEPA;
      if (nw.nextHop) {
        flags |= LOWER_FLAG.NEXT_HOP;
        img.set(nw.nextHop, r + LW_NEXT_HOP);
      }
      dv.setUint8(r + LW_FLAGS, flags);
      dv.setUint16(r + LW_VLAN, nw.vlan, true);
      dv.setUint16(r + LW_PARENT, nw.parent ?? NO_PARENT, true);
      dv.setUint16(r + LW_MEMBER_START, memberAt, true);
      dv.setUint16(r + LW_MEMBER_COUNT, members.length, true);
      img.set(nw.parent === null ? (nw.mac ?? new Uint8Array(6)) : st.parents.get(nw.parent)!.mac, r + LW_MAC);
      if (nw.parent !== null) {
        const pi = st.parents.get(nw.parent)!.index;
        dv.setUint16(st.offParents + pi * PARENT_MAP_BYTES + nw.vlan * 2, index + 1, true);
        if (nw.driver === 'macvlan') parentHasMacvlan.add(nw.parent);
      }
      for (const ep of members) {
        img[st.offMembers + memberAt++] = ep.port;
        if (ep.mac) {
          if (++macCount >= st.macSlots) throw new RangeError(`macvlan MAC table full: raise macvlanMacSlots (${st.macSlots})`);
          const { lo, hi, at } = macSlot(index, ep.mac, st.macSlots - 1);
          let i = at;
          while (macUsed[i]) i = (i + 1) & (st.macSlots - 1);
          macUsed[i] = 1;
          const e = st.offMacs + i * MAC_ENTRY_SIZE;
          dv.setUint32(e, lo, true);
          dv.setUint32(e + 4, hi, true);
          dv.setUint32(e + 8, ep.port, true);
        }
        if (nw.driver === 'ipvlan') {
          for (const a of [...ep.ipv4, ...ep.ipv6]) {
            if (++ipCount >= st.ipSlots) throw new RangeError(`ipvlan address table full: raise macvlanIpSlots (${st.ipSlots})`);
            const { tag, h } = ipHash(index, a);
            let i = h & (st.ipSlots - 1);
            while (ipUsed[i]) i = (i + 1) & (st.ipSlots - 1);
            ipUsed[i] = 1;
            const e = st.offIps + i * IP_ENTRY_SIZE;
            dv.setUint32(e, tag, true);
            dv.setUint32(e + 4, ep.port, true);
            img.set(a, e + 8);
          }
        }
      }
    }
    // Commit: the tables, then the port entries that point into them.
    this.dp.bytes.set(img, st.ptr);
    const pv = this.dp.view;
    for (const p of st.parents.values()) {
      const a = this.dp.portAddr(p.port);
      const onlyIpvlan = !parentHasMacvlan.has(p.port) && [...st.networks.values()].some((n) => n.parent === p.port);
      pv.setUint32(a + L.P_AUX, p.index, true);
      pv.setUint32(a + L.P_AUX2, onlyIpvlan ? PARENT_IPVLAN : 0, true);
    }
    for (const ep of endpoints) {
      const nw = this.net(ep.network);
      const a = this.dp.portAddr(ep.port);
      let aux2 = nw.driver === 'macvlan' ? MACVLAN_MODE[nw.macvlanMode] : 0;
      if (nw.checkSourceMac) aux2 |= CHILD_CHECK_SRC;
      pv.setUint32(a + L.P_AUX, lowers.get(this.lowerKey(nw))!.index, true);
      pv.setUint32(a + L.P_AUX2, aux2, true);
      this.dp.bytes.set(this.endpointMac(nw, ep), a + L.P_MAC);
    }
  }
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port >= L.MAX_PORTS) throw new RangeError(`port id must be in 0..${L.MAX_PORTS - 1}, got ${port}`);
}
