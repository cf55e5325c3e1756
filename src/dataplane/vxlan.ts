/**
 * Control of VXLAN overlays (what `ip link add type vxlan`, `bridge fdb append
 * ... dst` and `ip neigh add ... dev vxlan0` do for Docker's overlay driver).
 * Everything here runs between vectors and writes the tables of
 * assembly/vxlan.ts through its exported control functions.
 *
 * An overlay network is a netwasm bridge with one tunnel port (kind VXLAN) and
 * container ports; the tunnel names its VNI and the underlay port (kind VTEP)
 * its VXLAN frames leave and arrive on.
 *
 * ```ts
 * const dp = new Dataplane();
 * const vx = new Vxlan(dp);
 * vx.setVtep(0, { ip: '192.168.0.1', mac: '02:00:00:00:00:01', mtu: 1500 });
 * vx.setNeighbor(0, '192.168.0.2', '02:00:00:00:00:02');  // next hop of that VTEP
 * const t = vx.addTunnel({ vni: 4096, underlay: 0, port: 1, bridge: 7 });
 * vx.peerAdd(t, { mac: '02:42:0a:00:00:03', ip: '10.0.0.3', vtep: '192.168.0.2' }); // Docker's peerAdd
 * vx.floodAdd(t, '192.168.0.2');
 * ```
 */
import * as L from './layout.ts';
import type { Dataplane } from './dataplane.ts';
import { parseMac, parseIp4 } from './dataplane.ts';
import type { DataplaneOptions, TablePlan } from './tables.ts';

/** Docker's VXLAN UDP port (IANA). */
export const VXLAN_PORT = 4789;
/** Bytes of encapsulation over an IPv4 underlay (outer Ethernet, IPv4, UDP, VXLAN). */
export const VXLAN_OVERHEAD_V4 = 50;
/** Bytes of encapsulation over an IPv6 underlay. */
export const VXLAN_OVERHEAD_V6 = 70;
export const DEFAULT_VXLAN_TUNNELS = 64;
export const DEFAULT_VXLAN_REMOTES = 1024;
export const DEFAULT_VXLAN_PEERS = 4096;
export const DEFAULT_VXLAN_NEIGHBORS = 4096;
export const DEFAULT_VXLAN_FLOOD_MAX = 64;

/** Sizing options of the VXLAN tables (fields of DataplaneOptions). */
export interface VxlanTableOptions {
  /** Tunnels (overlay networks, one VNI each), default 64. */
  vxlanTunnels?: number;
  /** Remote VTEP records, all tunnels together (static and learned), default 1024. */
  vxlanRemotes?: number;
  /** MAC -> VTEP entries, all tunnels together (static and learned), default 4096. */
  vxlanPeers?: number;
  /** IPv4 -> MAC entries of the ARP proxy, all tunnels together, default 4096. */
  vxlanNeighbors?: number;
  /** Most VTEPs in one tunnel's flood list, default 64. */
  vxlanFloodMax?: number;
}

interface VxlanExports {
  vxlanInit(base: number, bytes: number, tunnels: number, remotes: number, peerCap: number, neighCap: number, flood: number): number;
  vxlanStaging(): number;
  vxlanVtepSet(p: number, listen: number, vlan: number, hasIp6: number, zeroCsum6: number, xconnect: number): void;
  vxlanVtepClear(p: number): void;
  vxlanTunnelSet(...a: number[]): number;
  vxlanTunnelClear(t: number): void;
  vxlanRebuild(t: number): void;
  vxlanRemoteHold(t: number, v6: number, allowed: number): number;
  vxlanRemoteRelease(r: number): void;
  vxlanRemoteInfo(r: number): number;
  vxlanRemoteIsV6(r: number): number;
  vxlanFloodSet(t: number, i: number, r: number): number;
  vxlanFloodCount(t: number, n: number): number;
  vxlanPeerSet(t: number, hi: number, lo: number, r: number, isStatic: number): number;
  vxlanPeerDelete(t: number, hi: number, lo: number): number;
  vxlanPeerGet(t: number, hi: number, lo: number): number;
  vxlanPeerCap(): number;
  vxlanPeerAt(i: number): number;
  vxlanNeighSet(t: number, ip: number, hi: number, lo: number): number;
  vxlanNeighDelete(t: number, ip: number): number;
  vxlanUsed(which: number): number;
}

const pow2 = (n: number): number => {
  let c = 8;
  while (c < n) c *= 2;
  return c;
};
const align64 = (n: number): number => Math.ceil(n / 64) * 64;

function intOpt(v: number | undefined, def: number, min: number, max: number, name: string): number {
  const x = v ?? def;
  if (!Number.isInteger(x) || x < min || x > max) throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${x}`);
  return x;
}

/** The VXLAN node's table region: sized from the options, laid out by the module (vxlanInit). */
export function vxlanTablePlan(opts: Readonly<DataplaneOptions>): TablePlan {
  const o = opts as Readonly<VxlanTableOptions>;
  const tunnels = intOpt(o.vxlanTunnels, DEFAULT_VXLAN_TUNNELS, 1, 4096, 'vxlanTunnels');
  const remotes = intOpt(o.vxlanRemotes, DEFAULT_VXLAN_REMOTES, 1, 65535, 'vxlanRemotes');
  const peers = intOpt(o.vxlanPeers, DEFAULT_VXLAN_PEERS, 1, 1 << 22, 'vxlanPeers');
  const neighbors = intOpt(o.vxlanNeighbors, DEFAULT_VXLAN_NEIGHBORS, 1, 1 << 22, 'vxlanNeighbors');
  const floodMax = intOpt(o.vxlanFloodMax, DEFAULT_VXLAN_FLOOD_MAX, 1, 4096, 'vxlanFloodMax');
  // Hash tables run at most 3/4 full: capacity = power of two >= 4/3 of the entries.
  const peerCap = pow2(Math.ceil((peers * 4) / 3) + 1);
  const neighCap = pow2(Math.ceil((neighbors * 4) / 3) + 1);
  const mapCap = pow2(tunnels * 2);
  const remCap = pow2(remotes * 2);
  // The same sum as vxlanInit (which checks it).
  const bytes = 64 + L.DESC_SIZE + L.MAX_PORTS * 256 + tunnels * 64 + mapCap * 16 * 2 + remotes * 128 + remCap * 4
    + align64(tunnels * floodMax * 2) + peerCap * 16 + neighCap * 16;
  return {
    name: 'vxlan',
    bytes,
    align: 64,
    init(dp: Dataplane, ptr: number): void {
      const need = (dp.exports as unknown as VxlanExports).vxlanInit(ptr, bytes, tunnels, remotes, peerCap, neighCap, floodMax);
      if (need !== 0) throw new Error(`vxlan table plan is out of step with the module: ${bytes} bytes planned, ${need} needed`);
      limits.set(dp, { tunnels, floodMax });
    },
  };
}

const limits = new WeakMap<Dataplane, { tunnels: number; floodMax: number }>();

/** A VTEP: the underlay port VXLAN leaves and arrives on (Linux: the vxlan device's `local` and `dev`). */
export interface VtepOptions {
  /** The VTEP's IPv4 address (outer source; frames to another address are not decapsulated). */
  ip?: string;
  /** The VTEP's IPv6 address. */
  ip6?: string;
  /** The underlay interface's MAC (outer source; unicast frames to another MAC are not decapsulated). */
  mac: string;
  /** Underlay MTU (default 1500): no outer packet is larger; the overlay MTU is this minus 50 (70 over IPv6). */
  mtu?: number;
  /** UDP port VXLAN is received on (default 4789). */
  port?: number;
  /** 802.1Q VLAN id of the underlay (outer tag), 0 or absent for none. */
  vlan?: number;
  /** Next-hop MAC of every remote VTEP without a neighbour entry (the underlay's router). */
  gateway?: string;
  /** Accept a zero UDP checksum over IPv6 (RFC 6935; Linux `udp6zerocsumrx`). Default false. */
  udp6ZeroCsumRx?: boolean;
  /** Administratively down. */
  down?: boolean;
}

/** A tunnel: one overlay network's VNI on one VTEP (Linux: one vxlan device). */
export interface TunnelOptions {
  /** VXLAN network identifier, 0..16777215 (Docker allocates from 4096). */
  vni: number;
  /** The VTEP port (configured with setVtep). */
  underlay: number;
  /** The tunnel port: written here as kind VXLAN (a port of `bridge`). */
  port: number;
  /** The overlay bridge the tunnel port belongs to. */
  bridge?: number;
  /**
   * Instead of a bridge, a port cross-connected to the tunnel (a point-to-point
   * L2 circuit, as VPP's l2 xconnect): frames arriving there are encapsulated,
   * decapsulated frames leave there. Written here as kind VTEP in cross-connect mode.
   */
  xconnect?: number;
  /** UDP destination port (default 4789). */
  dstPort?: number;
  /** UDP source port range, inclusive (default [49152, 65535], RFC 7348). One flow keeps one port. */
  srcPortRange?: [number, number];
  /** Outer TTL / hop limit (default 64). */
  ttl?: number;
  /** Outer TOS / traffic class (default 0). */
  tos?: number;
  /** Set DF in the outer IPv4 header (default false, as Linux `df unset`). Nothing is ever fragmented. */
  df?: boolean;
  /** Compute the outer UDP checksum over IPv4 (default false: zero, as RFC 7348 allows). Always computed over IPv6. */
  udpCsum?: boolean;
  /** Learn inner source MAC -> sending VTEP from decapsulated frames (default false, as Docker's `nolearning`). */
  learning?: boolean;
  /** Ageing of learned entries, seconds of packet time (default 300; 0 = never). */
  ageing?: number;
  /** Answer ARP requests from the neighbour table (default true, as Docker's `proxy`). */
  arpProxy?: boolean;
  /** ARP requests for an address not in the neighbour table: 'drop' (default, as Linux) or 'flood'. */
  arpUnknown?: 'drop' | 'flood';
  /** Decapsulate only from known VTEPs (peers, flood list, allowVtep), counting others (default false: any sender, as Docker). */
  allowList?: boolean;
  /** Overlay MTU, at most the default: underlay MTU - 50 (IPv4) or - 70 (IPv6). */
  mtu?: number;
  /** Outer address family (default 4 when the VTEP has an IPv4 address, else 6). */
  family?: 4 | 6;
}

/** Docker's peerAdd: a remote endpoint's MAC (and IP) behind a VTEP. */
export interface PeerOptions {
  mac: string;
  /** The endpoint's IPv4 address: answered by the ARP proxy. */
  ip?: string;
  /** The remote VTEP's address. */
  vtep: string;
  /** Also put the VTEP in the flood list (default false). */
  flood?: boolean;
}

/** One MAC -> VTEP entry of a tunnel, as `bridge fdb show dev vxlan0` lists it. */
export interface VxlanFdbEntry {
  tunnel: number;
  mac: string;
  vtep: string;
  /** Next-hop MAC the frames to this VTEP are sent to. */
  via: string;
  learned: boolean;
  /** Packet time (seconds) a learned entry was last heard from. */
  lastSeen: number;
}

interface TunnelState {
  opts: TunnelOptions;
  v6: boolean;
  remotes: Map<string, { r: number; holds: Set<string>; addr: Uint8Array }>;
  peers: Map<string, { vtep: string; ip?: string }>;
  flood: string[];
}

interface VtepState {
  opts: VtepOptions;
  neighbors: Map<string, string>;
}

/**
 * The VXLAN control plane of one Dataplane. Between vectors only.
 */
export class Vxlan {
  private readonly ex: VxlanExports;
  private readonly tunnels = new Map<number, TunnelState>();
  private readonly vteps = new Map<number, VtepState>();
  private readonly maxTunnels: number;
  private readonly floodMax: number;

  constructor(readonly dp: Dataplane) {
    const lim = limits.get(dp);
    if (!lim) throw new Error('this Dataplane has no VXLAN table');
    this.ex = dp.exports as unknown as VxlanExports;
    this.maxTunnels = lim.tunnels;
    this.floodMax = lim.floodMax;
  }

  // ---- VTEPs ------------------------------------------------------------------

  /**
   * Makes port `id` a VTEP (writes its port entry as kind VTEP) and rebuilds
   * its tunnels' templates. The VTEP's MAC and addresses are read from here
   * into the encap templates and the decap fast path: change them through
   * setVtep again, not by writing the port entry directly.
   */
  setVtep(id: number, opts: VtepOptions): void {
    checkPort(id);
    if (!opts.ip && !opts.ip6) throw new Error(`VTEP ${id}: needs an ip or an ip6 address`);
    const ip6 = opts.ip6 ? parseIp6(opts.ip6) : undefined;
    if (opts.ip) parseIp4(opts.ip);
    parseMac(opts.mac);
    if (opts.gateway) parseMac(opts.gateway);
    const mtu = intOpt(opts.mtu, 1500, 68 + VXLAN_OVERHEAD_V4, 65535, `VTEP ${id}: mtu`);
    const listen = intOpt(opts.port, VXLAN_PORT, 1, 65535, `VTEP ${id}: port`);
    const vlan = intOpt(opts.vlan, 0, 0, 4094, `VTEP ${id}: vlan`);
    for (const [t, s] of this.tunnels) {
      if (s.opts.underlay === id && (s.v6 ? !ip6 : !opts.ip)) throw new Error(`VTEP ${id}: tunnel ${t} needs an IPv${s.v6 ? 6 : 4} address on it`);
    }
    this.dp.setPort(id, {
      kind: L.PortKind.VTEP, mac: opts.mac, mtu, flags: opts.down ? L.PortFlag.DOWN : 0,
      ...(opts.ip ? { ip4: opts.ip } : {}),
    });
    if (ip6) this.dp.bytes.set(ip6, this.staging());
    this.ex.vxlanVtepSet(id, listen, vlan, ip6 ? 1 : 0, opts.udp6ZeroCsumRx ? 1 : 0, 0);
    const prev = this.vteps.get(id);
    this.vteps.set(id, { opts: { ...opts }, neighbors: prev?.neighbors ?? new Map() });
    for (const [t, s] of this.tunnels) {
      if (s.opts.underlay !== id) continue;
      this.writeTunnel(t, s); // the overlay MTU follows the underlay's
      this.refreshNextHops(t, s);
    }
  }

  /** Stops port `id` being a VTEP (it becomes UNUSED). Its tunnels must be removed first. */
  clearVtep(id: number): void {
    for (const [t, s] of this.tunnels) if (s.opts.underlay === id) throw new Error(`VTEP ${id} still carries tunnel ${t}`);
    this.ex.vxlanVtepClear(id);
    this.dp.clearPort(id);
    this.vteps.delete(id);
  }

  /** The next-hop MAC of remote VTEP `vtepIp` on underlay port `id` (the underlay's ARP/ND entry). */
  setNeighbor(id: number, vtepIp: string, mac: string): void {
    const v = this.vtep(id);
    parseMac(mac);
    v.neighbors.set(addrKey(parseAddr(vtepIp)), mac);
    for (const [t, s] of this.tunnels) if (s.opts.underlay === id) this.refreshNextHops(t, s);
  }

  /** Removes a next-hop entry (remote VTEPs then go through the gateway, if any). */
  deleteNeighbor(id: number, vtepIp: string): void {
    const v = this.vtep(id);
    const k = addrKey(parseAddr(vtepIp));
    const mac = v.neighbors.get(k);
    v.neighbors.delete(k);
    try {
      for (const [t, s] of this.tunnels) if (s.opts.underlay === id) this.refreshNextHops(t, s);
    } catch (e) {
      if (mac) v.neighbors.set(k, mac);
      throw e;
    }
  }

  // ---- tunnels ------------------------------------------------------------------

  /**
   * Creates a tunnel (an overlay network's VXLAN device) and returns its index.
   * Writes the tunnel port as kind VXLAN of `bridge` with the overlay MTU (or
   * the cross-connected port).
   */
  addTunnel(opts: TunnelOptions, index?: number): number {
    let t = index;
    if (t === undefined) {
      t = 0;
      while (this.tunnels.has(t)) t++;
    }
    if (!Number.isInteger(t) || t < 0 || t >= this.maxTunnels) throw new RangeError(`tunnel index must be in 0..${this.maxTunnels - 1}, got ${t}`);
    if (this.tunnels.has(t)) throw new Error(`tunnel ${t} exists`);
    const s = this.check(opts, t);
    this.writeTunnel(t, s);
    this.tunnels.set(t, s);
    return t;
  }

  /** Changes a tunnel's settings (peers, flood list and allow-list stay). */
  updateTunnel(t: number, opts: Partial<TunnelOptions>): void {
    const s = this.tunnel(t);
    if (opts.underlay !== undefined && opts.underlay !== s.opts.underlay && s.remotes.size) {
      throw new Error(`tunnel ${t}: remove its peers before moving it to another underlay port`);
    }
    const next = this.check({ ...s.opts, ...opts }, t);
    if (next.v6 !== s.v6 && s.remotes.size) throw new Error(`tunnel ${t}: remove its peers before changing the address family`);
    next.remotes = s.remotes;
    next.peers = s.peers;
    next.flood = s.flood;
    if (next.opts.port !== s.opts.port) this.dp.clearPort(s.opts.port);
    if (s.opts.xconnect !== undefined && s.opts.xconnect !== next.opts.xconnect) {
      this.ex.vxlanVtepClear(s.opts.xconnect);
      this.dp.clearPort(s.opts.xconnect);
    }
    this.writeTunnel(t, next);
    this.tunnels.set(t, next);
  }

  /** Removes a tunnel with its peers, neighbours, learned entries and flood list; frees its ports. */
  removeTunnel(t: number): void {
    const s = this.tunnel(t);
    this.ex.vxlanTunnelClear(t);
    this.dp.clearPort(s.opts.port);
    if (s.opts.xconnect !== undefined) {
      this.ex.vxlanVtepClear(s.opts.xconnect);
      this.dp.clearPort(s.opts.xconnect);
    }
    this.tunnels.delete(t);
  }

  /** The tunnel's options as given (defaults not filled in). */
  tunnelOptions(t: number): Readonly<TunnelOptions> {
    return this.tunnel(t).opts;
  }

  /** The overlay MTU of tunnel t. */
  overlayMtu(t: number): number {
    const s = this.tunnel(t);
    return this.mtuOf(s.opts, s.v6);
  }

  // ---- peers (Docker's peerAdd / peerDelete) --------------------------------------

  /**
   * A remote endpoint: its MAC is reached through VTEP `vtep` (a static FDB
   * entry) and, with `ip`, ARP requests for it are answered with its MAC.
   */
  peerAdd(t: number, peer: PeerOptions): void {
    const s = this.tunnel(t);
    const [hi, lo] = macParts(peer.mac);
    const mac = macNorm(peer.mac);
    const ip = peer.ip !== undefined && !peer.ip.includes(':') ? peer.ip : undefined;
    const ipWord = ip !== undefined ? ip4Word(ip) : 0;
    const vk = this.vtepKey(s, peer.vtep);
    const old = s.peers.get(mac);
    const r = this.hold(t, s, vk, `peer ${mac}`);
    const rc = this.ex.vxlanPeerSet(t, hi, lo, r, 1);
    if (rc !== 0) {
      this.release(s, vk, `peer ${mac}`);
      throw new Error(`tunnel ${t}: the VXLAN peer table is full (vxlanPeers)`);
    }
    if (old && old.vtep !== vk) this.release(s, old.vtep, `peer ${mac}`);
    if (old?.ip !== undefined && old.ip !== ip) this.ex.vxlanNeighDelete(t, ip4Word(old.ip));
    if (ip !== undefined && this.ex.vxlanNeighSet(t, ipWord, hi, lo) !== 0) {
      throw new Error(`tunnel ${t}: the ARP proxy's neighbour table is full (vxlanNeighbors)`);
    }
    s.peers.set(mac, { vtep: vk, ...(ip !== undefined ? { ip } : {}) });
    if (peer.flood && !s.flood.includes(vk)) this.floodAdd(t, peer.vtep);
  }

  /** Removes a remote endpoint (its FDB entry and its ARP proxy entry). Returns whether it was there. */
  peerDelete(t: number, peer: { mac: string; ip?: string; vtep?: string }): boolean {
    const s = this.tunnel(t);
    const mac = macNorm(peer.mac);
    const cur = s.peers.get(mac);
    if (!cur) return false;
    if (peer.vtep !== undefined && this.vtepKey(s, peer.vtep) !== cur.vtep) {
      throw new Error(`tunnel ${t}: peer ${mac} is behind VTEP ${keyAddr(cur.vtep)}, not ${peer.vtep}`);
    }
    const [hi, lo] = macParts(mac);
    this.ex.vxlanPeerDelete(t, hi, lo);
    if (cur.ip !== undefined) this.ex.vxlanNeighDelete(t, ip4Word(cur.ip));
    s.peers.delete(mac);
    this.release(s, cur.vtep, `peer ${mac}`);
    return true;
  }

  /** An ARP proxy entry without an FDB entry (an address whose MAC is reached otherwise). */
  arpAdd(t: number, ip: string, mac: string): void {
    this.tunnel(t);
    const [hi, lo] = macParts(mac);
    if (this.ex.vxlanNeighSet(t, ip4Word(ip), hi, lo) !== 0) throw new Error(`tunnel ${t}: the ARP proxy's neighbour table is full (vxlanNeighbors)`);
  }

  /** Removes an ARP proxy entry. */
  arpDelete(t: number, ip: string): boolean {
    this.tunnel(t);
    return this.ex.vxlanNeighDelete(t, ip4Word(ip)) === 1;
  }

  /** Puts a VTEP in the tunnel's flood list (head-end replication of broadcast, multicast, unknown unicast). */
  floodAdd(t: number, vtep: string): void {
    const s = this.tunnel(t);
    const vk = this.vtepKey(s, vtep);
    if (s.flood.includes(vk)) return;
    if (s.flood.length >= this.floodMax) throw new Error(`tunnel ${t}: the flood list holds at most ${this.floodMax} VTEPs (vxlanFloodMax)`);
    this.hold(t, s, vk, 'flood');
    s.flood.push(vk);
    this.writeFlood(t, s);
  }

  /** Takes a VTEP out of the flood list. Returns whether it was there. */
  floodDelete(t: number, vtep: string): boolean {
    const s = this.tunnel(t);
    const vk = this.vtepKey(s, vtep);
    const i = s.flood.indexOf(vk);
    if (i < 0) return false;
    s.flood.splice(i, 1);
    this.writeFlood(t, s);
    this.release(s, vk, 'flood');
    return true;
  }

  /** The flood list, in order. */
  floodList(t: number): string[] {
    return this.tunnel(t).flood.map(keyAddr);
  }

  /** Accepts VXLAN from this VTEP when the tunnel has an allow-list (peers' and flood VTEPs are accepted anyway). */
  allowVtep(t: number, vtep: string): void {
    const s = this.tunnel(t);
    this.hold(t, s, this.vtepKey(s, vtep), 'allow');
  }

  /** Withdraws allowVtep. */
  disallowVtep(t: number, vtep: string): boolean {
    const s = this.tunnel(t);
    const vk = this.vtepKey(s, vtep);
    if (!s.remotes.get(vk)?.holds.has('allow')) return false;
    this.release(s, vk, 'allow');
    return true;
  }

  /** MAC -> VTEP entries (static and learned) of one tunnel or all, like `bridge fdb show dev vxlan0`. */
  fdb(t?: number): VxlanFdbEntry[] {
    const out: VxlanFdbEntry[] = [];
    const st = this.staging();
    const cap = this.ex.vxlanPeerCap();
    const u8 = this.dp.bytes;
    const dv = this.dp.view;
    for (let i = 0; i < cap; i++) {
      const info = this.ex.vxlanPeerAt(i);
      if (info === 0) continue;
      const tun = (info & 0xffff) - 1;
      if (t !== undefined && tun !== t) continue;
      const mac = Array.from(u8.subarray(st, st + 6), hex2).join(':');
      const r = dv.getUint16(st + 6, true);
      const lastSeen = dv.getUint32(st + 8, true);
      const learned = ((info >>> 16) & 2) !== 0;
      this.ex.vxlanRemoteInfo(r);
      const v6 = this.ex.vxlanRemoteIsV6(r) === 1;
      const addr = u8.slice(st, st + (v6 ? 16 : 4));
      const via = Array.from(u8.subarray(st + 16, st + 22), hex2).join(':');
      out.push({ tunnel: tun, mac, vtep: formatAddr(addr), via, learned, lastSeen });
    }
    return out.sort((a, b) => a.tunnel - b.tunnel || (a.mac < b.mac ? -1 : 1));
  }

  /** Entries in use: MAC -> VTEP entries, ARP proxy entries, remote VTEP records. */
  usage(): { peers: number; neighbors: number; remotes: number } {
    return { peers: this.ex.vxlanUsed(0), neighbors: this.ex.vxlanUsed(1), remotes: this.ex.vxlanUsed(2) };
  }

  // ---- internals ---------------------------------------------------------------------

  private staging(): number {
    return this.ex.vxlanStaging();
  }

  private vtep(id: number): VtepState {
    const v = this.vteps.get(id);
    if (!v) throw new Error(`port ${id} is not a VTEP (setVtep first)`);
    return v;
  }

  private tunnel(t: number): TunnelState {
    const s = this.tunnels.get(t);
    if (!s) throw new Error(`no tunnel ${t}`);
    return s;
  }

  private vtepKey(s: TunnelState, addr: string): string {
    const a = parseAddr(addr);
    if ((a.length === 16) !== s.v6) throw new Error(`VTEP ${addr}: the tunnel's underlay is IPv${s.v6 ? 6 : 4}`);
    return addrKey(a);
  }

  private mtuOf(o: TunnelOptions, v6: boolean): number {
    const under = this.vtep(o.underlay).opts.mtu ?? 1500;
    const max = under - (v6 ? VXLAN_OVERHEAD_V6 : VXLAN_OVERHEAD_V4);
    return Math.min(o.mtu ?? max, max);
  }

  private check(o: TunnelOptions, t: number): TunnelState {
    const vni = intOpt(o.vni, 0, 0, 0xffffff, 'vni');
    checkPort(o.underlay);
    checkPort(o.port);
    const v = this.vtep(o.underlay);
    const family = o.family ?? (v.opts.ip ? 4 : 6);
    if (family !== 4 && family !== 6) throw new RangeError(`family must be 4 or 6, got ${String(family)}`);
    if (family === 4 && !v.opts.ip) throw new Error(`tunnel: VTEP ${o.underlay} has no IPv4 address`);
    if (family === 6 && !v.opts.ip6) throw new Error(`tunnel: VTEP ${o.underlay} has no IPv6 address`);
    if (o.port === o.underlay) throw new Error('tunnel: the tunnel port cannot be the underlay port');
    if ((o.bridge === undefined) === (o.xconnect === undefined)) throw new Error('tunnel: give exactly one of bridge or xconnect');
    if (o.bridge !== undefined) intOpt(o.bridge, 0, 0, 65535, 'bridge');
    if (o.xconnect !== undefined) {
      checkPort(o.xconnect);
      if (o.xconnect === o.port || o.xconnect === o.underlay) throw new Error('tunnel: the cross-connected port must be a port of its own');
    }
    for (const [u, s] of this.tunnels) {
      if (u === t) continue;
      if (s.opts.vni === vni && s.opts.underlay === o.underlay) throw new Error(`VNI ${vni} is in use by tunnel ${u} on VTEP ${o.underlay}`);
      if (s.opts.port === o.port) throw new Error(`port ${o.port} is the tunnel port of tunnel ${u}`);
      if (o.bridge !== undefined && s.opts.bridge === o.bridge) throw new Error(`bridge ${o.bridge} already has tunnel ${u}`);
    }
    const [lo, hi] = o.srcPortRange ?? [49152, 65535];
    intOpt(lo, 0, 1, 65535, 'srcPortRange[0]');
    intOpt(hi, 0, 1, 65535, 'srcPortRange[1]');
    if (hi < lo) throw new RangeError(`srcPortRange [${lo}, ${hi}] is empty`);
    intOpt(o.dstPort, VXLAN_PORT, 1, 65535, 'dstPort');
    intOpt(o.ttl, 64, 1, 255, 'ttl');
    intOpt(o.tos, 0, 0, 255, 'tos');
    intOpt(o.ageing, 300, 0, 0xffffffff, 'ageing');
    if (o.arpUnknown !== undefined && o.arpUnknown !== 'drop' && o.arpUnknown !== 'flood') {
      throw new Error(`arpUnknown must be 'drop' or 'flood', got ${String(o.arpUnknown)}`);
    }
    const v6 = family === 6;
    const mtu = this.mtuOf(o, v6);
    if (o.mtu !== undefined && (!Number.isInteger(o.mtu) || o.mtu < 68 || o.mtu > mtu)) {
      throw new RangeError(`tunnel mtu must be in 68..${mtu} (underlay MTU minus ${v6 ? 70 : 50}), got ${o.mtu}`);
    }
    return { opts: { ...o, vni }, v6, remotes: new Map(), peers: new Map(), flood: [] };
  }

  private writeTunnel(t: number, s: TunnelState): void {
    const o = s.opts;
    const [lo, hi] = o.srcPortRange ?? [49152, 65535];
    if (o.bridge !== undefined) {
      this.dp.setPort(o.port, { kind: L.PortKind.VXLAN, bridge: o.bridge, aux: t, mtu: this.mtuOf(o, s.v6) });
    } else {
      this.dp.setPort(o.port, { kind: L.PortKind.VXLAN, aux: t, mtu: this.mtuOf(o, s.v6) });
      this.dp.setPort(o.xconnect!, { kind: L.PortKind.VTEP, flags: 0 });
      this.ex.vxlanVtepSet(o.xconnect!, 0, 0, 0, 0, o.port + 1);
    }
    const rc = this.ex.vxlanTunnelSet(
      t, o.vni, o.port, o.underlay, o.bridge ?? 0, o.bridge !== undefined ? 1 : 0, o.xconnect !== undefined ? o.xconnect + 1 : 0,
      s.v6 ? 1 : 0, o.udpCsum ? 1 : 0, o.learning ? 1 : 0, o.arpProxy === false ? 0 : 1, o.arpUnknown === 'flood' ? 1 : 0,
      o.allowList ? 1 : 0, o.df ? 1 : 0, lo, hi, o.dstPort ?? VXLAN_PORT, o.ttl ?? 64, o.tos ?? 0, o.ageing ?? 300,
    );
    if (rc === -1) throw new Error(`VNI ${o.vni} is in use by another tunnel`);
    if (rc === -2) throw new Error(`bridge ${o.bridge} already has a tunnel`);
    if (rc !== 0) throw new Error(`tunnel ${t}: cannot be written (${rc})`);
  }

  private writeFlood(t: number, s: TunnelState): void {
    s.flood.forEach((vk, i) => this.ex.vxlanFloodSet(t, i, s.remotes.get(vk)!.r));
    this.ex.vxlanFloodCount(t, s.flood.length);
  }

  private nextHop(s: TunnelState, vk: string): string {
    const v = this.vtep(s.opts.underlay);
    const mac = v.neighbors.get(vk) ?? v.opts.gateway;
    if (!mac) {
      throw new Error(`no next-hop MAC for VTEP ${keyAddr(vk)} on port ${s.opts.underlay}: add setNeighbor(${s.opts.underlay}, '${keyAddr(vk)}', mac) or a gateway`);
    }
    return mac;
  }

  /** Writes a VTEP address and next-hop MAC to staging and holds the remote. */
  private holdRemote(t: number, s: TunnelState, vk: string, addr: Uint8Array): number {
    const st = this.staging();
    const u8 = this.dp.bytes;
    u8.fill(0, st, st + 22);
    u8.set(addr, st);
    u8.set(parseMac(this.nextHop(s, vk)), st + 16);
    const r = this.ex.vxlanRemoteHold(t, s.v6 ? 1 : 0, 1);
    if (r < 0) throw new Error(`the VXLAN remote VTEP table is full (vxlanRemotes)`);
    return r;
  }

  private hold(t: number, s: TunnelState, vk: string, why: string): number {
    let rem = s.remotes.get(vk);
    if (!rem) {
      const addr = keyBytes(vk);
      const r = this.holdRemote(t, s, vk, addr);
      rem = { r, holds: new Set(), addr };
      s.remotes.set(vk, rem);
    }
    rem.holds.add(why);
    return rem.r;
  }

  private release(s: TunnelState, vk: string, why: string): void {
    const rem = s.remotes.get(vk);
    if (!rem) return;
    rem.holds.delete(why);
    if (rem.holds.size === 0) {
      this.ex.vxlanRemoteRelease(rem.r);
      s.remotes.delete(vk);
    }
  }

  private refreshNextHops(t: number, s: TunnelState): void {
    // Resolve them all first, so a missing one changes nothing.
    for (const vk of s.remotes.keys()) this.nextHop(s, vk);
    for (const [vk, rem] of s.remotes) {
      const r = this.holdRemote(t, s, vk, rem.addr);
      if (r !== rem.r) throw new Error(`internal: remote ${keyAddr(vk)} moved from ${rem.r} to ${r}`);
    }
  }
}

// ---- addresses ---------------------------------------------------------------------------

function checkPort(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= L.MAX_PORTS) throw new RangeError(`port id must be in 0..${L.MAX_PORTS - 1}, got ${id}`);
}

const hex2 = (b: number): string => b.toString(16).padStart(2, '0');

function macNorm(s: string): string {
  return Array.from(parseMac(s), hex2).join(':');
}

function macParts(s: string): [number, number] {
  const b = parseMac(s);
  return [(b[0]! << 8) | b[1]!, ((b[2]! << 24) | (b[3]! << 16) | (b[4]! << 8) | b[5]!) >>> 0];
}

/** An IPv4 address as the data plane's load<u32> reads it. */
function ip4Word(s: string): number {
  const b = parseIp4(s);
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}

/** "fd00::1", "::ffff:1.2.3.4" -> 16 bytes. */
export function parseIp6(s: string): Uint8Array {
  const bad = (): never => {
    throw new Error(`invalid IPv6 address "${s}"`);
  };
  let str = s;
  const out = new Uint8Array(16);
  let tail: number[] = [];
  const m4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(str);
  if (m4) {
    let v4: Uint8Array;
    try {
      v4 = parseIp4(m4[2]!);
    } catch {
      return bad();
    }
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    str = m4[1]!.endsWith('::') ? m4[1]! : m4[1]!.slice(0, -1);
  }
  const halves = str.split('::');
  if (halves.length > 2) bad();
  const grp = (h: string): number[] => (h === '' ? [] : h.split(':').map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : bad())));
  const head = grp(halves[0]!);
  const rest = halves.length === 2 ? grp(halves[1]!) : [];
  const words = [...head];
  const total = head.length + rest.length + tail.length;
  if (halves.length === 2) {
    if (total > 7) bad();
    for (let i = total; i < 8; i++) words.push(0);
  } else if (total !== 8) bad();
  words.push(...rest, ...tail);
  words.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

/** IPv4 or IPv6 text -> 4 or 16 bytes. */
export function parseAddr(s: string): Uint8Array {
  return s.includes(':') ? parseIp6(s) : parseIp4(s);
}

/** 4 or 16 bytes -> text (IPv6 in RFC 5952 form). */
export function formatAddr(a: Uint8Array): string {
  if (a.length === 4) return Array.from(a).join('.');
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((a[i]! << 8) | a[i + 1]!);
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  const hx = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hx(w);
  return `${hx(w.slice(0, best))}::${hx(w.slice(best + bestLen))}`;
}

const addrKey = (a: Uint8Array): string => Array.from(a, hex2).join('');
const keyBytes = (k: string): Uint8Array => Uint8Array.from(k.match(/../g)!.map((h) => parseInt(h, 16)));
const keyAddr = (k: string): string => formatAddr(keyBytes(k));
