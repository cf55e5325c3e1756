// Fuzzing the data plane: a seeded PRNG, a corpus of valid frames for every
// node (and the fixture captures), mutators, a topology that exercises every
// node in one Dataplane, and a runner that pushes vectors of 256 frames and
// accounts for every one of them.
//
// The accounting, checked after every vector:
//   - each input frame ends TX (>= 1 transmit entry, and exactly as many
//     entries name it as T_SRC), DROP (a known, non-zero drop reason whose
//     counter rose at least once per such frame in this vector, no entry) or
//     LOCAL (no entry, no reason, and a node counted it as delivered locally);
//   - graph-rx rose by the vector size, graph-drop by the DROP verdicts,
//     graph-local by the LOCAL ones, graph-tx by the transmit entries;
//   - every transmit entry lies inside its own slot, no slot is named twice,
//     no entry leaves through an unused, down or internal (tunnel) port;
//   - offload completion (offloadFinish) adds exactly offload-segments minus
//     offload-gso entries and turns exactly the counted offload drops into
//     length-0 entries;
//   - after the entries are released the pool holds every slot again, once.
// A WebAssembly trap is caught, the vector is regenerated from the PRNG state
// it started with and saved under test/regressions/ (see saveRegression), and
// the run goes on with a fresh data plane.
//
// Frames are generated straight into their slots in the data plane's memory
// (no allocation per frame): templates are copied in, mutators work in place.
import { readdirSync, mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Dataplane, Bridges, Vxlan, Macvlans, Gateways, PortKind, PortFlag, Verdict, COUNTERS, counterId,
  MAX_VECTOR, MAX_PORTS, HEADROOM, DESC_SIZE, TX_SIZE, PORT_SIZE, P_KIND, P_FLAGS,
  D_VERDICT, D_DROP, D_TX_COUNT, D_VNET_FLAGS, D_GSO_TYPE, D_GSO_SIZE, D_CSUM_START, D_CSUM_OFFSET, D_HDR_LEN,
  T_SLOT, T_OFF, T_LEN, T_PORT, T_SRC, FREE_ENTRIES, type DataplaneOptions,
} from '../../src/dataplane/index.ts';
import { Ipvs } from '../../src/ipvs/ipvs.ts';
import { openCapture, LINKTYPE_ETHERNET } from '../../src/pcap/index.ts';
import { setPortOffload } from '../../src/host/offload.ts';
import { loadScenarioText } from '../../src/scenario/index.ts';
import { compileTopology, vipMac } from '../../src/compile/compile.ts';
import { replay, type TimedFrame } from '../../src/replay/replay.ts';
import type { Topology, TopologyEndpoint, TopologyUplink } from '../../src/cnm/topology.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where trap fixtures go. */
export const REGRESSIONS_DIR = join(ROOT, 'test', 'regressions');
/** Packet time the runs start at. */
export const T0 = 1_700_000_000;

// ---- PRNG ----------------------------------------------------------------------------

/** sfc32: small, fast, seedable; its whole state is four 32-bit words (saved per vector). */
export class Rng {
  a = 0;
  b = 0;
  c = 0;
  d = 0;
  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** 0 <= x < n (n <= 2^21 keeps it exact). */
  below(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }
  chance(p: number): boolean {
    return this.u32() < p * 4294967296;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)]!;
  }
  save(into: Int32Array): void {
    into[0] = this.a;
    into[1] = this.b;
    into[2] = this.c;
    into[3] = this.d;
  }
  load(from: Int32Array): void {
    this.a = from[0]!;
    this.b = from[1]!;
    this.c = from[2]!;
    this.d = from[3]!;
  }
}

// ---- byte helpers ------------------------------------------------------------------------

const macB = (s: string): number[] => s.split(':').map((h) => parseInt(h, 16));
const ip4B = (s: string): number[] => s.split('.').map(Number);
function ip6B(s: string): number[] {
  const [h, t = ''] = s.split('::');
  const g = (x: string) => (x === '' ? [] : x.split(':').map((w) => parseInt(w, 16)));
  const head = g(h!);
  const tail = s.includes('::') ? g(t) : [];
  const words = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}
const u16 = (v: number): number[] => [(v >> 8) & 0xff, v & 0xff];
const u32b = (v: number): number[] => [(v >>> 24) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];

function sum16(b: ArrayLike<number>, from: number, to: number, acc = 0): number {
  for (let i = from; i < to; i += 2) acc += (b[i]! << 8) | (i + 1 < to ? b[i + 1]! : 0);
  return acc;
}
function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}
const csum = (b: ArrayLike<number>, from: number, to: number, acc = 0): number => ~fold(sum16(b, from, to, acc)) & 0xffff;

function ethH(dst: string, src: string, type: number, tags: number[] = []): number[] {
  const t: number[] = [];
  for (const v of tags) t.push(...u16(v >> 16 ? v >>> 16 : 0x8100), ...u16(v & 0xffff));
  return [...macB(dst), ...macB(src), ...t, ...u16(type)];
}
function ip4H(src: string, dst: string, proto: number, payloadLen: number, o: { opts?: number[]; frag?: number; id?: number; ttl?: number } = {}): number[] {
  const opts = o.opts ?? [];
  const hl = 20 + opts.length;
  const h = [0x40 | (hl >> 2), 0, ...u16(hl + payloadLen), ...u16(o.id ?? 1), ...u16(o.frag ?? 0x4000), o.ttl ?? 64, proto, 0, 0, ...ip4B(src), ...ip4B(dst), ...opts];
  const c = csum(h, 0, h.length);
  h[10] = c >> 8;
  h[11] = c & 0xff;
  return h;
}
function ip6H(src: string, dst: string, nh: number, payloadLen: number, hop = 64): number[] {
  return [0x60, 0, 0, 0, ...u16(payloadLen), nh, hop, ...ip6B(src), ...ip6B(dst)];
}
function pseudo4(src: string, dst: string, proto: number, len: number): number {
  return sum16([...ip4B(src), ...ip4B(dst), 0, proto, ...u16(len)], 0, 12);
}
function pseudo6(src: string, dst: string, proto: number, len: number): number {
  return sum16([...ip6B(src), ...ip6B(dst), ...u32b(len), 0, 0, 0, proto], 0, 40);
}
function l4(kind: 'tcp' | 'udp', sport: number, dport: number, data: number[], ps: number, flags = 0x02, seq = 1000, ack = 0): number[] {
  let h: number[];
  if (kind === 'tcp') {
    h = [...u16(sport), ...u16(dport), ...u32b(seq), ...u32b(ack), 0x50, flags, ...u16(64240), 0, 0, 0, 0, ...data];
    const c = csum(h, 0, h.length, ps);
    h[16] = c >> 8;
    h[17] = c & 0xff;
  } else {
    h = [...u16(sport), ...u16(dport), ...u16(8 + data.length), 0, 0, ...data];
    let c = csum(h, 0, h.length, ps);
    if (c === 0) c = 0xffff;
    h[6] = c >> 8;
    h[7] = c & 0xff;
  }
  return h;
}
const bytes = (n: number, seed = 7): number[] => Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

function pad(f: number[]): Uint8Array {
  while (f.length < 60) f.push(0);
  return Uint8Array.from(f);
}
function tcp4(dmac: string, smac: string, src: string, dst: string, sport: number, dport: number, flags: number, data = 0, tags: number[] = []): Uint8Array {
  const seg = l4('tcp', sport, dport, bytes(data), pseudo4(src, dst, 6, 20 + data), flags);
  return pad([...ethH(dmac, smac, 0x0800, tags), ...ip4H(src, dst, 6, seg.length), ...seg]);
}
function udp4(dmac: string, smac: string, src: string, dst: string, sport: number, dport: number, data = 18, tags: number[] = []): Uint8Array {
  const d = l4('udp', sport, dport, bytes(data), pseudo4(src, dst, 17, 8 + data));
  return pad([...ethH(dmac, smac, 0x0800, tags), ...ip4H(src, dst, 17, d.length), ...d]);
}
function tcp6(dmac: string, smac: string, src: string, dst: string, sport: number, dport: number, flags: number, data = 0): Uint8Array {
  const seg = l4('tcp', sport, dport, bytes(data), pseudo6(src, dst, 6, 20 + data), flags);
  return pad([...ethH(dmac, smac, 0x86dd), ...ip6H(src, dst, 6, seg.length), ...seg]);
}
function arpReq(dmac: string, smac: string, sip: string, tip: string, tags: number[] = []): Uint8Array {
  return pad([...ethH(dmac, smac, 0x0806, tags), 0, 1, 8, 0, 6, 4, 0, 1, ...macB(smac), ...ip4B(sip), 0, 0, 0, 0, 0, 0, ...ip4B(tip)]);
}
function echo4(dmac: string, smac: string, src: string, dst: string, n = 32, o: { opts?: number[]; frag?: number } = {}, tags: number[] = []): Uint8Array {
  const m = [8, 0, 0, 0, 0x12, 0x34, 0, 1, ...bytes(n)];
  const c = csum(m, 0, m.length);
  m[2] = c >> 8;
  m[3] = c & 0xff;
  return pad([...ethH(dmac, smac, 0x0800, tags), ...ip4H(src, dst, 1, m.length, o), ...m]);
}
function ns6(smac: string, src: string, target: string): Uint8Array {
  const t = ip6B(target);
  const icmp = [135, 0, 0, 0, 0, 0, 0, 0, ...t, 1, 1, ...macB(smac)];
  const dst = `ff02::1:ff${t[13]!.toString(16).padStart(2, '0')}:${((t[14]! << 8) | t[15]!).toString(16)}`;
  const c = csum(icmp, 0, icmp.length, pseudo6(src, dst, 58, icmp.length));
  icmp[2] = c >> 8;
  icmp[3] = c & 0xff;
  return pad([...macB(`33:33:ff:${t.slice(13).map((x) => x.toString(16).padStart(2, '0')).join(':')}`), ...macB(smac), 0x86, 0xdd, ...ip6H(src, dst, 58, icmp.length, 255), ...icmp]);
}
function icmpErr4(dmac: string, smac: string, from: string, to: string, quoted: Uint8Array): Uint8Array {
  const q = Array.from(quoted.subarray(14, 14 + 28));
  const m = [3, 3, 0, 0, 0, 0, 0, 0, ...q];
  const c = csum(m, 0, m.length);
  m[2] = c >> 8;
  m[3] = c & 0xff;
  return pad([...ethH(dmac, smac, 0x0800), ...ip4H(from, to, 1, m.length), ...m]);
}
/** A VXLAN frame (UDP checksum zero over IPv4, computed over IPv6). */
function vxlan(o: { dmac: string; smac: string; src: string; dst: string; vni: number; tags?: number[]; flags?: number; dport?: number; csum?: boolean }, inner: ArrayLike<number>): Uint8Array {
  const v6 = o.src.includes(':');
  const payload = [o.flags ?? 0x08, 0, 0, 0, (o.vni >> 16) & 0xff, (o.vni >> 8) & 0xff, o.vni & 0xff, 0, ...Array.from(inner)];
  const ulen = 8 + payload.length;
  const u = [...u16(49152 + (o.vni & 0x3fff)), ...u16(o.dport ?? 4789), ...u16(ulen), 0, 0, ...payload];
  if (v6 || o.csum) {
    let c = csum(u, 0, u.length, v6 ? pseudo6(o.src, o.dst, 17, ulen) : pseudo4(o.src, o.dst, 17, ulen));
    if (c === 0) c = 0xffff;
    u[6] = c >> 8;
    u[7] = c & 0xff;
  }
  const ip = v6 ? ip6H(o.src, o.dst, 17, ulen) : ip4H(o.src, o.dst, 17, ulen, { frag: 0 });
  return Uint8Array.from([...ethH(o.dmac, o.smac, v6 ? 0x86dd : 0x0800, o.tags ?? []), ...ip, ...u]);
}

// ---- the topology ----------------------------------------------------------------------------

/** Port ids of the fuzz topology. */
export const P = {
  // bridge 1 (docker0-like): containers, an attached uplink, a down port; gateway, IPVS
  c1: 0, c2: 1, c3: 2, c4: 3, up1: 4, down1: 35,
  // bridge 2, VLAN filtering: access 10 / 20, trunks (802.1Q, 802.1ad), isolated access 30
  acc10: 5, acc20: 6, trunk: 7, trunkAd: 8, iso30a: 9, iso30b: 10,
  // overlays: VTEP 11 (IPv4) carries A (4096, proxy), B (4097, learning + allow-list + UDP checksum), E (7000, xconnect)
  vtep: 11, ovA1: 12, ovA2: 13, ovB1: 14,
  // VTEP 15 (IPv6) carries C (5000)
  vtep6: 15, ovC1: 16,
  // port 17: a macvlan parent that is also a VTEP (overlay D, 6000)
  parent: 17, ovD1: 18, mv1: 19, mv2: 20, mv10vepa: 21, mv10priv: 22, mvpt: 23,
  // port 24: ipvlan parent: l2 (VLAN 0), l3 (VLAN 20, next hop), l3 vepa (VLAN 21)
  ipParent: 24, ipl2a: 25, ipl2b: 26, ipl3a: 27, ipl3b: 28, ipl3v: 29,
  // macvlan without a parent (Docker's dummy parent)
  dummy1: 30, dummy2: 31,
  wireA: 32, wireB: 33, none: 34, unused: 36, xconn: 37,
  // port 38: a VTEP whose underlay is VLAN 100 (overlay F, VNI 8000, no flood list); 39 its container
  vtepVlan: 38, ovF1: 39, tunF: 250,
  // overlay G on VTEP 11: learning without an allow-list (any sender VTEP is learned)
  ovG1: 60, tunG: 249,
  // bridge 7: 20 ports, so that a vector of broadcasts overflows the transmit vector
  wide0: 40,
  // internal tunnel ports (kind VXLAN)
  tunA: 255, tunB: 254, tunC: 253, tunD: 252, tunE: 251,
} as const;

/** Tunnel index of overlay G (tunnels are added A, B, G, E, C, D, F). */
const TUNNEL_G = 2;

/** Bridge domains of the fuzz topology. */
export const B = { docker0: 1, vlans: 2, ovA: 3, ovB: 4, ovC: 5, ovD: 6, wide: 7, ovF: 8, ovG: 9 } as const;
/** Ports of the wide bridge (B.wide). */
export const WIDE_PORTS = 20;

/** Addresses of the fuzz topology. */
export const A = {
  c: ['02:42:ac:11:00:02', '02:42:ac:11:00:03', '02:42:ac:11:00:04', '02:42:ac:11:00:05'],
  cip: ['172.17.0.2', '172.17.0.3', '172.17.0.4', '172.17.0.5'],
  c6: 'fd00:17::2', c2v6: 'fd00:17::3',
  gw1: '02:42:ac:11:00:01', gw1ip: '172.17.0.1',
  vip: '172.17.0.100', vip6: 'fd00:17::100', vipMac: '02:42:ac:11:00:64',
  up1: '02:00:00:00:04:01',
  v10: '02:42:0a:0a:00:05', v20: '02:42:0a:14:00:06', tr: '02:42:0a:0a:00:07', trAd: '02:42:0a:0a:00:08', i30a: '02:42:0a:1e:00:09', i30b: '02:42:0a:1e:00:0a',
  gw2: '02:42:0a:0a:00:01', gw2ip: '10.10.0.1',
  vtepMac: '02:00:00:00:00:01', vtepIp: '192.168.1.1', rvtep: ['192.168.1.2', '192.168.1.3'], rvtepMac: ['02:00:00:00:00:02', '02:00:00:00:00:03'],
  ovA: ['02:42:0a:00:00:02', '02:42:0a:00:00:03'], ovAip: ['10.0.0.2', '10.0.0.3'], r1: '02:42:0a:00:00:10', r1ip: '10.0.0.16',
  ovB: '02:42:0a:01:00:02', ovBip: '10.1.0.2', r2: '02:42:0a:01:00:10', r2ip: '10.1.0.16',
  vtep6Mac: '02:00:00:00:0f:01', vtep6Ip: 'fd00::1', rvtep6: 'fd00::2', rvtep6Mac: '02:00:00:00:0f:02',
  ovC: '02:42:0a:02:00:02', ovCip: '10.2.0.2', r3: '02:42:0a:02:00:10', r3ip: '10.2.0.16',
  parentMac: '02:00:00:00:11:01', parentIp: '10.99.0.1', rvtepD: '10.99.0.2', rvtepDMac: '02:00:00:00:11:02',
  ovD: '02:42:0a:03:00:02', ovDip: '10.3.0.2', r4: '02:42:0a:03:00:10', r4ip: '10.3.0.16',
  mv: ['02:42:c0:a8:00:02', '02:42:c0:a8:00:03'], mvip: ['192.168.0.2', '192.168.0.3'],
  mv10v: '02:42:c0:a8:0a:02', mv10p: '02:42:c0:a8:0a:03', mvpt: '02:42:c0:a8:0b:02',
  ipParentMac: '02:00:00:00:18:01', nextHop: '02:00:00:00:18:fe',
  ipl2: ['10.20.0.2', '10.20.0.3'], ipl3: ['10.21.0.2', '10.21.0.3'], ipl3v: '10.22.0.2',
  dummy: ['02:42:c0:a8:63:02', '02:42:c0:a8:63:03'],
  outside: '02:00:00:00:99:99', outsideIp: '198.51.100.7',
  vtepVlanMac: '02:00:00:00:26:01', vtepVlanIp: '10.100.0.1', rvtepVlan: '10.100.0.2', rvtepVlanMac: '02:00:00:00:26:02',
  ovF: '02:42:0a:04:00:02', ovFip: '10.4.0.2', r5: '02:42:0a:04:00:10', r5ip: '10.4.0.16',
  ovG: '02:42:0a:05:00:02', ovGip: '10.5.0.2', r6: '02:42:0a:05:00:10', r6ip: '10.5.0.16',
} as const;

export interface FuzzTopology {
  dp: Dataplane;
  bridges: Bridges;
  vxlan: Vxlan;
  macvlans: Macvlans;
  gateways: Gateways;
  ipvs: Ipvs;
  /** Every configured port (external ones: frames can arrive there). */
  ports: number[];
}

/** The topology's data plane options (small tables: the full-table paths are reached too). */
export function fuzzOptions(slots: number): DataplaneOptions {
  return {
    // FUZZ_BUILD=debug: the debug build, whose traps name the function in their stack
    ...(process.env['FUZZ_BUILD'] === 'debug' ? { build: 'debug' as const } : {}),
    slots, fdbCapacity: 512, bridges: 16, connCapacity: 128, ipvsServices: 16, ipvsRealServers: 64, ipvsTableBytes: 1 << 20,
    vxlanTunnels: 8, vxlanRemotes: 64, vxlanPeers: 256, vxlanNeighbors: 256, vxlanFloodMax: 8,
    macvlanParents: 4, macvlanLowers: 16, macvlanMacSlots: 64, macvlanIpSlots: 64,
  };
}

/**
 * Slots such that the pool ends exactly where linear memory ends: a read past
 * the end of the last slot then traps instead of reading another slot.
 */
export function slotsFlushWithMemoryEnd(want: number): number {
  let slots = want;
  for (let i = 0; i < 6; i++) {
    const dp = new Dataplane(fuzzOptions(slots));
    const end = dp.regions.pool!.ptr + slots * dp.slotSize;
    const gap = dp.memoryBytes - end;
    if (gap === 0) return slots;
    slots += Math.floor(gap / dp.slotSize) || 1;
  }
  return slots;
}

/** Builds the fuzz topology: every node of the data plane is on some port. */
export function buildFuzzTopology(slots = 1024): FuzzTopology {
  // The IPVS connection table's hash seed is drawn with Math.random: fixed
  // here, so that a seed always gives the same run (which expired entries a
  // chain walk reclaims depends on it).
  const random = Math.random;
  Math.random = () => 0.5;
  let dp: Dataplane;
  try {
    dp = new Dataplane(fuzzOptions(slots));
  } finally {
    Math.random = random;
  }
  const bridges = new Bridges(dp);
  const vxlan = new Vxlan(dp);
  const macvlans = new Macvlans(dp);
  const gateways = new Gateways(dp);
  const ipvs = new Ipvs(dp);

  // bridge 1: docker0, gateway 172.17.0.1, IPVS services
  bridges.create(B.docker0, {});
  [P.c1, P.c2, P.c3, P.c4].forEach((p, i) => bridges.addPort(p, { bridge: B.docker0, mac: A.c[i] }));
  bridges.addPort(P.up1, { bridge: B.docker0, mac: A.up1 });
  bridges.addPort(P.down1, { bridge: B.docker0, down: true });
  gateways.set(B.docker0, { ip: A.gw1ip, mac: A.gw1 });
  bridges.fdbAdd(B.docker0, A.gw1, { local: true });
  ipvs.setBridge(B.docker0, { mac: A.vipMac });
  const web = { bridge: B.docker0, protocol: 'tcp', address: A.vip, port: 80 } as const;
  const dns = { bridge: B.docker0, protocol: 'udp', address: A.vip, port: 53 } as const;
  const tls = { bridge: B.docker0, protocol: 'tcp', address: A.vip, port: 443 } as const;
  const web6 = { bridge: B.docker0, protocol: 'tcp', address: A.vip6, port: 80 } as const;
  ipvs.addService(web, { scheduler: 'mh', flags: ['mh-port'] });
  ipvs.addService(dns, { scheduler: 'rr' });
  ipvs.addService(tls, { scheduler: 'wlc', persistent: 300 });
  ipvs.addService(web6, { scheduler: 'maglev', maglev: { ringSize: 251 } });
  ipvs.addService({ bridge: B.docker0, fwmark: 7 }, { scheduler: 'sh', flags: ['sh-port'] });
  ipvs.addMark({ bridge: B.docker0, fwmark: 7, destination: '172.17.0.200', protocol: 'udp', port: [5000, 5010] });
  for (const i of [1, 2, 3]) {
    ipvs.addServer(web, { address: A.cip[i]!, port: 8080, mac: A.c[i]! });
    ipvs.addServer({ bridge: B.docker0, fwmark: 7 }, { address: A.cip[i]!, port: 0, mac: A.c[i]! });
  }
  for (const i of [1, 2]) ipvs.addServer(dns, { address: A.cip[i]!, mac: A.c[i]! });
  for (const i of [2, 3]) ipvs.addServer(tls, { address: A.cip[i]!, mac: A.c[i]!, forward: 'dr' });
  ipvs.addServer(web6, { address: A.c2v6, mac: A.c[1]! });

  // bridge 2: VLAN filtering, learn limit
  bridges.create(B.vlans, { learnLimit: 64 });
  bridges.addPort(P.acc10, { bridge: B.vlans, vlan: { mode: 'access', pvid: 10 } });
  bridges.addPort(P.acc20, { bridge: B.vlans, vlan: { mode: 'access', pvid: 20 } });
  bridges.addPort(P.trunk, { bridge: B.vlans, vlan: { mode: 'trunk', allowed: '10,20,30', native: 1 } });
  bridges.addPort(P.trunkAd, { bridge: B.vlans, vlan: { mode: 'trunk', allowed: '10', tpid: 0x88a8 }, mtu: 1400 });
  bridges.addPort(P.iso30a, { bridge: B.vlans, vlan: { mode: 'access', pvid: 30 }, isolated: true, hairpin: true });
  bridges.addPort(P.iso30b, { bridge: B.vlans, vlan: { mode: 'access', pvid: 30 }, isolated: true });
  gateways.set(B.vlans, { ip: A.gw2ip, mac: A.gw2, vlan: 10 });
  bridges.fdbAdd(B.vlans, A.gw2, { local: true, vlan: 10 });

  // overlays on VTEP 11
  vxlan.setVtep(P.vtep, { ip: A.vtepIp, mac: A.vtepMac });
  A.rvtep.forEach((ip, i) => vxlan.setNeighbor(P.vtep, ip, A.rvtepMac[i]!));
  const tA = vxlan.addTunnel({ vni: 4096, underlay: P.vtep, port: P.tunA, bridge: B.ovA, arpProxy: true });
  bridges.create(B.ovA, {});
  [P.ovA1, P.ovA2].forEach((p, i) => bridges.addPort(p, { bridge: B.ovA, mac: A.ovA[i], mtu: 1450 }));
  vxlan.peerAdd(tA, { mac: A.r1, ip: A.r1ip, vtep: A.rvtep[0]!, flood: true });
  vxlan.floodAdd(tA, A.rvtep[1]!);
  A.ovA.forEach((m, i) => vxlan.arpAdd(tA, A.ovAip[i]!, m));
  bridges.fdbAdd(B.ovA, A.r1, { port: P.tunA });
  const tB = vxlan.addTunnel({ vni: 4097, underlay: P.vtep, port: P.tunB, bridge: B.ovB, learning: true, allowList: true, udpCsum: true, df: true, arpUnknown: 'flood' });
  bridges.create(B.ovB, {});
  bridges.addPort(P.ovB1, { bridge: B.ovB, mac: A.ovB, mtu: 1450 });
  vxlan.peerAdd(tB, { mac: A.r2, ip: A.r2ip, vtep: A.rvtep[0]!, flood: true });
  vxlan.allowVtep(tB, A.rvtep[1]!);
  const tG = vxlan.addTunnel({ vni: 4098, underlay: P.vtep, port: P.tunG, bridge: B.ovG, learning: true });
  bridges.create(B.ovG, {});
  bridges.addPort(P.ovG1, { bridge: B.ovG, mac: A.ovG, mtu: 1450 });
  vxlan.floodAdd(tG, A.rvtep[0]!);
  const tE = vxlan.addTunnel({ vni: 7000, underlay: P.vtep, port: P.tunE, xconnect: P.xconn });
  vxlan.floodAdd(tE, A.rvtep[0]!);

  // overlay C over IPv6 (VTEP 15)
  vxlan.setVtep(P.vtep6, { ip6: A.vtep6Ip, mac: A.vtep6Mac, udp6ZeroCsumRx: true });
  vxlan.setNeighbor(P.vtep6, A.rvtep6, A.rvtep6Mac);
  const tC = vxlan.addTunnel({ vni: 5000, underlay: P.vtep6, port: P.tunC, bridge: B.ovC });
  bridges.create(B.ovC, {});
  bridges.addPort(P.ovC1, { bridge: B.ovC, mac: A.ovC, mtu: 1430 });
  vxlan.peerAdd(tC, { mac: A.r3, ip: A.r3ip, vtep: A.rvtep6, flood: true });

  // VTEP 38 in VLAN 100: overlay F (a peer, but no flood list)
  vxlan.setVtep(P.vtepVlan, { ip: A.vtepVlanIp, mac: A.vtepVlanMac, vlan: 100 });
  vxlan.setNeighbor(P.vtepVlan, A.rvtepVlan, A.rvtepVlanMac);
  const tF = vxlan.addTunnel({ vni: 8000, underlay: P.vtepVlan, port: P.tunF, bridge: B.ovF, arpProxy: false });
  bridges.create(B.ovF, {});
  bridges.addPort(P.ovF1, { bridge: B.ovF, mac: A.ovF, mtu: 1450 });
  vxlan.peerAdd(tF, { mac: A.r5, ip: A.r5ip, vtep: A.rvtepVlan });

  // port 17: VTEP (overlay D) and macvlan parent, as compile.ts builds an uplink carrying both
  vxlan.setVtep(P.parent, { ip: A.parentIp, mac: A.parentMac });
  vxlan.setNeighbor(P.parent, A.rvtepD, A.rvtepDMac);
  const tD = vxlan.addTunnel({ vni: 6000, underlay: P.parent, port: P.tunD, bridge: B.ovD });
  bridges.create(B.ovD, {});
  bridges.addPort(P.ovD1, { bridge: B.ovD, mac: A.ovD, mtu: 1450 });
  vxlan.peerAdd(tD, { mac: A.r4, ip: A.r4ip, vtep: A.rvtepD, flood: true });
  macvlans.addParent(P.parent, { mac: A.parentMac });
  dp.setPortIp4(P.parent, A.parentIp);
  macvlans.createNetwork('mv0', { driver: 'macvlan', parent: P.parent, macvlanMode: 'bridge' });
  macvlans.addEndpoint('mv0', P.mv1, { mac: A.mv[0], ipv4: [A.mvip[0]] });
  macvlans.addEndpoint('mv0', P.mv2, { mac: A.mv[1], ipv4: [A.mvip[1]] });
  macvlans.createNetwork('mv10', { driver: 'macvlan', parent: P.parent, vlan: 10, macvlanMode: 'vepa' });
  macvlans.addEndpoint('mv10', P.mv10vepa, { mac: A.mv10v });
  macvlans.createNetwork('mv10p', { driver: 'macvlan', parent: P.parent, vlan: 10, macvlanMode: 'private' });
  macvlans.addEndpoint('mv10p', P.mv10priv, { mac: A.mv10p });
  macvlans.createNetwork('mvpt', { driver: 'macvlan', parent: P.parent, vlan: 11, macvlanMode: 'passthru' });
  macvlans.addEndpoint('mvpt', P.mvpt, { mac: A.mvpt });

  // port 24: ipvlan parent
  macvlans.addParent(P.ipParent, { mac: A.ipParentMac });
  macvlans.createNetwork('ipl2', { driver: 'ipvlan', parent: P.ipParent, ipvlanMode: 'l2' });
  macvlans.addEndpoint('ipl2', P.ipl2a, { ipv4: [A.ipl2[0]], ipv6: ['fd00:20::2'] });
  macvlans.addEndpoint('ipl2', P.ipl2b, { ipv4: [A.ipl2[1]] });
  macvlans.createNetwork('ipl3', { driver: 'ipvlan', parent: P.ipParent, vlan: 20, ipvlanMode: 'l3', ipvlanFlag: 'private', nextHop: A.nextHop });
  macvlans.addEndpoint('ipl3', P.ipl3a, { ipv4: [A.ipl3[0]] });
  macvlans.addEndpoint('ipl3', P.ipl3b, { ipv4: [A.ipl3[1]] });
  macvlans.createNetwork('ipl3v', { driver: 'ipvlan', parent: P.ipParent, vlan: 21, ipvlanMode: 'l3', ipvlanFlag: 'vepa' });
  macvlans.addEndpoint('ipl3v', P.ipl3v, { ipv4: [A.ipl3v] });

  // macvlan with Docker's dummy parent
  macvlans.createNetwork('mvd', { driver: 'macvlan', macvlanMode: 'bridge' });
  macvlans.addEndpoint('mvd', P.dummy1, { mac: A.dummy[0] });
  macvlans.addEndpoint('mvd', P.dummy2, { mac: A.dummy[1] });

  // bridge 7: wide (a vector of its broadcasts is more than the transmit vector holds)
  bridges.create(B.wide, {});
  for (let i = 0; i < WIDE_PORTS; i++) bridges.addPort(P.wide0 + i, { bridge: B.wide, mac: `02:42:0b:00:00:${(i + 2).toString(16).padStart(2, '0')}` });

  // a wire, a sandbox without network
  dp.setPort(P.wireA, { kind: PortKind.WIRE, aux: P.wireB });
  dp.setPort(P.wireB, { kind: PortKind.WIRE, aux: P.wireA });
  dp.setPort(P.none, { kind: PortKind.NONE });

  // offload metadata is kept on two ports, completed for the others
  setPortOffload(dp, P.c1, true);
  setPortOffload(dp, P.vtep, true);

  const ports: number[] = [];
  for (let p = 0; p < MAX_PORTS; p++) {
    const k = dp.view.getUint8(dp.portAddr(p) + P_KIND);
    if (k !== PortKind.UNUSED && k !== PortKind.VXLAN) ports.push(p);
  }
  return { dp, bridges, vxlan, macvlans, gateways, ipvs, ports };
}

// ---- the corpus ------------------------------------------------------------------------------

/** Which node a template is aimed at (a fuzz campaign each). */
export type NodeName =
  | 'eth' | 'bridge' | 'vlan' | 'gateway' | 'ipvs' | 'vxlan-decap' | 'vxlan-encap' | 'macvlan' | 'ipvlan' | 'offload' | 'storm' | 'flood' | 'graph';

/**
 * The campaigns: one per node, 'storm' (broadcasts on a wide bridge: the
 * transmit vector overflows), 'flood' (random sources: the FDB, the VXLAN
 * peer table and the connection table fill up), 'graph' (everything).
 */
export const NODES: readonly NodeName[] = ['eth', 'bridge', 'vlan', 'gateway', 'ipvs', 'vxlan-decap', 'vxlan-encap', 'macvlan', 'ipvlan', 'offload', 'storm', 'flood', 'graph'];

export interface Template {
  node: NodeName;
  port: number;
  data: Uint8Array;
  /** Offload metadata: flags, gso type, gso size, csum start, csum offset, hdr len. */
  vnet?: readonly [number, number, number, number, number, number];
}

const BC = 'ff:ff:ff:ff:ff:ff';

/** Valid frames for every node of the fuzz topology (what the mutators start from). */
export function templates(): Template[] {
  const T: Template[] = [];
  const add = (node: NodeName, port: number, data: Uint8Array, vnet?: Template['vnet']) => T.push({ node, port, data, ...(vnet ? { vnet } : {}) });

  // eth: runts, 802.3 length fields (true and lying), jumbo
  add('eth', P.c1, Uint8Array.from(macB(A.c[1]!).concat(macB(A.c[0]!), [0x00, 0x2e], bytes(46))));
  add('eth', P.c1, Uint8Array.from(macB(A.c[1]!).concat(macB(A.c[0]!), [0x05, 0xdc], bytes(46))));
  add('eth', P.acc10, Uint8Array.from(macB(BC).concat(macB(A.v10), [0x00, 0x03, 0x42, 0x42, 0x03])));
  add('eth', P.c2, Uint8Array.from(bytes(13)));
  add('eth', P.c2, udp4(A.c[0]!, A.c[1]!, A.cip[1]!, A.cip[0]!, 1234, 5678, 1400));

  // bridge
  for (let i = 0; i < 4; i++) add('bridge', i, arpReq(BC, A.c[i]!, A.cip[i]!, A.cip[(i + 1) % 4]!));
  for (const i of [0, 7, 19]) add('storm', P.wide0 + i, arpReq(BC, `02:42:0b:00:00:${(i + 2).toString(16).padStart(2, '0')}`, `10.11.0.${i + 2}`, '10.11.0.99'));
  add('bridge', P.c1, udp4(A.c[1]!, A.c[0]!, A.cip[0]!, A.cip[1]!, 40000, 7000, 64));
  add('bridge', P.c2, udp4('02:42:ac:11:00:77', A.c[1]!, A.cip[1]!, '172.17.0.119', 40001, 7000));
  add('bridge', P.up1, udp4(A.c[2]!, A.outside, A.outsideIp, A.cip[2]!, 443, 40002));
  add('bridge', P.c3, udp4('01:00:5e:00:00:fb', A.c[2]!, A.cip[2]!, '224.0.0.251', 5353, 5353));
  add('bridge', P.c1, pad([...ethH('01:80:c2:00:00:0e', A.c[0]!, 0x88cc), ...bytes(40)]));
  add('bridge', P.c1, pad([...ethH('01:80:c2:00:00:01', A.c[0]!, 0x8808), 0, 1, 0xff, 0xff]));
  add('bridge', P.c4, pad([...ethH('01:80:c2:00:00:00', A.c[3]!, 0x0026), ...bytes(38)]));
  add('bridge', P.c1, udp4(A.c[0]!, A.c[0]!, A.cip[0]!, A.cip[0]!, 1, 1));
  add('bridge', P.c2, tcp4(A.gw1, A.c[1]!, A.cip[1]!, '8.8.8.8', 40003, 443, 0x02));

  // vlan
  add('vlan', P.acc10, arpReq(BC, A.v10, '10.10.0.5', '10.10.0.7'));
  add('vlan', P.acc20, udp4(BC, A.v20, '10.20.0.6', '10.20.0.255', 68, 67));
  add('vlan', P.trunk, arpReq(BC, A.tr, '10.10.0.7', '10.10.0.5', [10]));
  add('vlan', P.trunk, udp4(A.v20, A.tr, '10.20.0.7', '10.20.0.6', 1000, 2000, 18, [20]));
  add('vlan', P.trunk, udp4(A.v10, A.tr, '10.1.0.7', '10.1.0.6', 1000, 2000, 18));
  add('vlan', P.trunk, udp4(A.i30a, A.tr, '10.30.0.7', '10.30.0.9', 1000, 2000, 18, [30]));
  add('vlan', P.trunkAd, arpReq(BC, A.trAd, '10.10.0.8', '10.10.0.5', [0x88a8000a]));
  add('vlan', P.iso30a, arpReq(BC, A.i30a, '10.30.0.9', '10.30.0.10'));
  add('vlan', P.iso30b, udp4(A.i30a, A.i30b, '10.30.0.10', '10.30.0.9', 1, 2));
  add('vlan', P.acc10, udp4(A.v20, A.v10, '10.10.0.5', '10.10.0.6', 1, 2, 18, [20, 10]));
  add('vlan', P.trunk, udp4(A.v10, A.tr, '10.10.0.7', '10.10.0.5', 3, 4, 1000, [0x00000000 | 10]));
  add('vlan', P.acc10, udp4(A.tr, A.v10, '10.10.0.5', '10.10.0.7', 1, 2, 1420));

  // gateway
  add('gateway', P.c1, arpReq(BC, A.c[0]!, A.cip[0]!, A.gw1ip));
  add('gateway', P.c2, arpReq(A.gw1, A.c[1]!, A.cip[1]!, A.gw1ip));
  add('gateway', P.c1, echo4(A.gw1, A.c[0]!, A.cip[0]!, A.gw1ip, 56));
  add('gateway', P.c3, echo4(A.gw1, A.c[2]!, A.cip[2]!, A.gw1ip, 1400));
  add('gateway', P.c4, echo4(A.gw1, A.c[3]!, A.cip[3]!, A.gw1ip, 20, { opts: [0x94, 0x04, 0, 0] }));
  add('gateway', P.c1, echo4(A.gw1, A.c[0]!, A.cip[0]!, A.gw1ip, 40, { frag: 0x2000 }));
  add('gateway', P.acc10, arpReq(BC, A.v10, '10.10.0.5', A.gw2ip));
  add('gateway', P.trunk, echo4(A.gw2, A.tr, '10.10.0.7', A.gw2ip, 56, {}, [10]));
  add('gateway', P.acc20, echo4(A.gw2, A.v20, '10.20.0.6', A.gw2ip, 56));

  // ipvs (and conntrack)
  for (let s = 0; s < 4; s++) add('ipvs', P.c1, tcp4(A.vipMac, A.c[0]!, A.cip[0]!, A.vip, 33000 + s, 80, 0x02));
  add('ipvs', P.c1, tcp4(A.vipMac, A.c[0]!, A.cip[0]!, A.vip, 33000, 80, 0x10, 100));
  add('ipvs', P.c1, tcp4(A.vipMac, A.c[0]!, A.cip[0]!, A.vip, 33001, 80, 0x11));
  add('ipvs', P.c1, tcp4(A.vipMac, A.c[0]!, A.cip[0]!, A.vip, 33002, 80, 0x04));
  add('ipvs', P.c2, tcp4(A.c[0]!, A.c[1]!, A.cip[1]!, A.cip[0]!, 8080, 33000, 0x12));
  add('ipvs', P.c3, tcp4(A.c[0]!, A.c[2]!, A.cip[2]!, A.cip[0]!, 8080, 33001, 0x12));
  add('ipvs', P.up1, udp4(A.vipMac, A.outside, A.outsideIp, A.vip, 5353, 53, 30));
  add('ipvs', P.c2, udp4(A.outside, A.c[1]!, A.cip[1]!, A.outsideIp, 53, 5353, 60));
  add('ipvs', P.c4, tcp4(A.vipMac, A.c[3]!, A.cip[3]!, A.vip, 34000, 443, 0x02));
  add('ipvs', P.c1, udp4(A.vipMac, A.c[0]!, A.cip[0]!, '172.17.0.200', 7777, 5005));
  add('ipvs', P.c1, udp4(A.vipMac, A.c[0]!, A.cip[0]!, A.vip, 7777, 9999));
  add('ipvs', P.c1, echo4(A.vipMac, A.c[0]!, A.cip[0]!, A.vip, 16));
  add('ipvs', P.c1, tcp6(A.vipMac, A.c[0]!, A.c6, A.vip6, 35000, 80, 0x02));
  add('ipvs', P.c1, ns6(A.c[0]!, A.c6, A.vip6));
  add('ipvs', P.c1, arpReq(BC, A.c[0]!, A.cip[0]!, A.vip));
  const syn = tcp4(A.vipMac, A.c[0]!, A.cip[0]!, A.vip, 33000, 80, 0x02);
  add('ipvs', P.c1, icmpErr4(A.vipMac, A.c[0]!, A.cip[0]!, A.vip, tcp4(A.c[0]!, A.vipMac, A.vip, A.cip[0]!, 80, 33000, 0x12)));
  add('ipvs', P.c2, icmpErr4(A.c[0]!, A.c[1]!, A.cip[1]!, A.cip[0]!, syn));
  add('ipvs', P.c1, tcp4(A.vipMac, A.c[0]!, A.cip[0]!, A.vip, 33003, 80, 0x02, 0, [0]));

  // vxlan decap (underlay ports 11, 15, 17)
  const innerA = arpReq(BC, A.r1, A.r1ip, A.ovAip[0]!);
  add('vxlan-decap', P.vtep, vxlan({ dmac: A.vtepMac, smac: A.rvtepMac[0]!, src: A.rvtep[0]!, dst: A.vtepIp, vni: 4096 }, innerA));
  add('vxlan-decap', P.vtep, vxlan({ dmac: A.vtepMac, smac: A.rvtepMac[0]!, src: A.rvtep[0]!, dst: A.vtepIp, vni: 4096 }, udp4(A.ovA[0]!, A.r1, A.r1ip, A.ovAip[0]!, 1, 2, 200)));
  add('vxlan-decap', P.vtep, vxlan({ dmac: A.vtepMac, smac: A.rvtepMac[0]!, src: A.rvtep[0]!, dst: A.vtepIp, vni: 4097, csum: true }, udp4(A.ovB, '02:42:0a:01:00:33', '10.1.0.51', A.ovBip, 1, 2, 30)));
  add('vxlan-decap', P.vtep, vxlan({ dmac: A.vtepMac, smac: A.rvtepMac[1]!, src: A.rvtep[1]!, dst: A.vtepIp, vni: 4097, csum: true }, arpReq(BC, '02:42:0a:01:00:34', '10.1.0.52', A.ovBip)));
  add('vxlan-decap', P.vtep, vxlan({ dmac: A.vtepMac, smac: A.outside, src: A.outsideIp, dst: A.vtepIp, vni: 4097 }, arpReq(BC, '02:42:0a:01:00:35', '10.1.0.53', A.ovBip)));
  // learning: a static peer's MAC from another VTEP (a conflict), and many stations without a UDP checksum
  add('vxlan-decap', P.vtep, vxlan({ dmac: A.vtepMac, smac: A.rvtepMac[1]!, src: A.rvtep[1]!, dst: A.vtepIp, vni: 4097, csum: true }, udp4(A.ovB, A.r2, A.r2ip, A.ovBip, 1, 2, 30)));
  add('vxlan-decap', P.vtep, vxlan({ dmac: A.vtepMac, smac: A.rvtepMac[1]!, src: A.rvtep[1]!, dst: A.vtepIp, vni: 4097 }, udp4(A.ovB, '02:42:0a:01:00:44', '10.1.0.68', A.ovBip, 1, 2, 30)));
  // an underlay in VLAN 100 (VTEP 38, overlay F, no flood list)
  add('vxlan-decap', P.vtepVlan, vxlan({ dmac: A.vtepVlanMac, smac: A.rvtepVlanMac, src: A.rvtepVlan, dst: A.vtepVlanIp, vni: 8000, tags: [100] }, udp4(A.ovF, A.r5, A.r5ip, A.ovFip, 1, 2, 40)));
  add('vxlan-decap', P.vtepVlan, vxlan({ dmac: A.vtepVlanMac, smac: A.rvtepVlanMac, src: A.rvtepVlan, dst: A.vtepVlanIp, vni: 8000 }, udp4(A.ovF, A.r5, A.r5ip, A.ovFip, 1, 2, 40)));
  add('vxlan-decap', P.vtep, vxlan({ dmac: A.vtepMac, smac: A.rvtepMac[0]!, src: A.rvtep[0]!, dst: A.vtepIp, vni: 7000 }, udp4(A.outside, A.r1, '10.7.0.1', '10.7.0.2', 1, 2)));
  add('vxlan-decap', P.vtep, vxlan({ dmac: A.vtepMac, smac: A.rvtepMac[0]!, src: A.rvtep[0]!, dst: A.vtepIp, vni: 4096, tags: [100] }, innerA));
  add('vxlan-decap', P.vtep, vxlan({ dmac: A.vtepMac, smac: A.rvtepMac[0]!, src: A.rvtep[0]!, dst: A.vtepIp, vni: 999 }, innerA));
  add('vxlan-decap', P.vtep, vxlan({ dmac: A.vtepMac, smac: A.rvtepMac[0]!, src: A.rvtep[0]!, dst: A.vtepIp, vni: 4096 }, udp4(A.ovA[0]!, A.r1, A.r1ip, A.ovAip[0]!, 3, 4, 20, [10])));
  add('vxlan-decap', P.vtep6, vxlan({ dmac: A.vtep6Mac, smac: A.rvtep6Mac, src: A.rvtep6, dst: A.vtep6Ip, vni: 5000 }, udp4(A.ovC, A.r3, A.r3ip, A.ovCip, 5, 6, 100)));
  add('vxlan-decap', P.vtep6, vxlan({ dmac: A.vtep6Mac, smac: A.rvtep6Mac, src: A.rvtep6, dst: A.vtep6Ip, vni: 5000 }, arpReq(BC, A.r3, A.r3ip, A.ovCip)));
  add('vxlan-decap', P.parent, vxlan({ dmac: A.parentMac, smac: A.rvtepDMac, src: A.rvtepD, dst: A.parentIp, vni: 6000 }, udp4(A.ovD, A.r4, A.r4ip, A.ovDip, 7, 8, 64)));
  add('vxlan-decap', P.vtep, vxlan({ dmac: A.vtepMac, smac: A.rvtepMac[0]!, src: A.rvtep[0]!, dst: A.vtepIp, vni: 4096 },
    vxlan({ dmac: A.ovA[0]!, smac: A.r1, src: A.r1ip, dst: A.ovAip[0]!, vni: 4097 }, innerA)));

  // vxlan encap (container ports of the overlays, the cross-connected port)
  add('vxlan-encap', P.ovA1, udp4(A.r1, A.ovA[0]!, A.ovAip[0]!, A.r1ip, 1000, 2000, 300));
  add('vxlan-encap', P.ovA1, arpReq(BC, A.ovA[0]!, A.ovAip[0]!, A.r1ip));
  add('vxlan-encap', P.ovA2, arpReq(BC, A.ovA[1]!, A.ovAip[1]!, '10.0.0.99'));
  add('vxlan-encap', P.ovA2, udp4('02:42:0a:00:00:99', A.ovA[1]!, A.ovAip[1]!, '10.0.0.99', 1, 2, 1400));
  add('vxlan-encap', P.ovA1, udp4(BC, A.ovA[0]!, A.ovAip[0]!, '10.0.0.255', 1, 2, 40));
  add('vxlan-encap', P.ovB1, udp4(A.r2, A.ovB, A.ovBip, A.r2ip, 9, 10, 500));
  add('vxlan-encap', P.ovB1, arpReq(BC, A.ovB, A.ovBip, '10.1.0.99'));
  add('vxlan-encap', P.ovC1, udp4(A.r3, A.ovC, A.ovCip, A.r3ip, 11, 12, 100));
  add('vxlan-encap', P.ovD1, arpReq(BC, A.ovD, A.ovDip, A.r4ip));
  add('vxlan-encap', P.ovD1, tcp4(A.r4, A.ovD, A.ovDip, A.r4ip, 40000, 80, 0x18, 300));
  add('vxlan-encap', P.xconn, udp4(A.outside, '02:00:00:00:25:01', '10.7.0.2', '10.7.0.1', 3, 4, 50));
  add('vxlan-encap', P.ovF1, udp4(A.r5, A.ovF, A.ovFip, A.r5ip, 5, 6, 200));
  add('vxlan-encap', P.ovF1, udp4('02:42:0a:04:00:99', A.ovF, A.ovFip, '10.4.0.99', 5, 6, 200));
  add('vxlan-encap', P.ovA1, tcp4(A.r1, A.ovA[0]!, A.ovAip[0]!, A.r1ip, 40000, 80, 0x18, 600), [1, 0, 0, 34, 16, 0]);

  // macvlan
  add('macvlan', P.parent, udp4(A.mv[0]!, A.outside, A.outsideIp, A.mvip[0]!, 1, 2, 100));
  add('macvlan', P.parent, arpReq(BC, A.outside, A.outsideIp, A.mvip[1]!));
  add('macvlan', P.parent, udp4(A.mv10v, A.outside, A.outsideIp, '192.168.10.2', 1, 2, 40, [10]));
  add('macvlan', P.parent, arpReq(BC, A.mv10v, '192.168.10.2', '192.168.10.9', [10]));
  add('macvlan', P.parent, udp4(A.outside, A.mvpt, '192.168.11.2', A.outsideIp, 1, 2, 40, [11]));
  add('macvlan', P.parent, arpReq(BC, A.mv[0]!, A.mvip[0]!, A.mvip[1]!));
  add('macvlan', P.parent, udp4(A.mv[0]!, A.outside, A.outsideIp, A.mvip[0]!, 1, 2, 40, [99]));
  add('macvlan', P.mv1, udp4(A.mv[1]!, A.mv[0]!, A.mvip[0]!, A.mvip[1]!, 1, 2, 80));
  add('macvlan', P.mv2, arpReq(BC, A.mv[1]!, A.mvip[1]!, A.mvip[0]!));
  add('macvlan', P.mv2, udp4(A.outside, A.mv[1]!, A.mvip[1]!, A.outsideIp, 1, 2, 1480));
  add('macvlan', P.mv10vepa, arpReq(BC, A.mv10v, '192.168.10.2', '192.168.10.3'));
  add('macvlan', P.mv10priv, udp4(A.mv10v, A.mv10p, '192.168.10.3', '192.168.10.2', 1, 2));
  add('macvlan', P.mvpt, udp4(A.outside, A.mvpt, '192.168.11.2', A.outsideIp, 1, 2));
  add('macvlan', P.mv1, udp4(A.outside, A.mv[1]!, A.mvip[0]!, A.outsideIp, 1, 2));
  add('macvlan', P.dummy1, arpReq(BC, A.dummy[0]!, '192.168.99.2', '192.168.99.3'));
  add('macvlan', P.dummy2, udp4(A.dummy[0]!, A.dummy[1]!, '192.168.99.3', '192.168.99.2', 1, 2));
  add('macvlan', P.dummy2, udp4(A.outside, A.dummy[1]!, '192.168.99.3', A.outsideIp, 1, 2));

  // ipvlan
  add('ipvlan', P.ipParent, arpReq(BC, A.outside, A.outsideIp, A.ipl2[0]!));
  add('ipvlan', P.ipParent, udp4(A.ipParentMac, A.outside, A.outsideIp, A.ipl2[1]!, 1, 2, 200));
  add('ipvlan', P.ipParent, udp4(A.ipParentMac, A.outside, A.outsideIp, A.ipl3[0]!, 1, 2, 20, [20]));
  add('ipvlan', P.ipParent, arpReq(BC, A.outside, A.outsideIp, A.ipl3[0]!, [20]));
  add('ipvlan', P.ipParent, udp4(A.ipParentMac, A.outside, A.outsideIp, A.ipl3v, 1, 2, 20, [21]));
  add('ipvlan', P.ipParent, udp4(BC, A.ipParentMac, A.ipl2[0]!, '10.20.0.255', 1, 2, 20));
  add('ipvlan', P.ipParent, ns6(A.outside, '::', 'fd00:20::2'));
  add('ipvlan', P.ipl2a, udp4(A.ipParentMac, A.ipParentMac, A.ipl2[0]!, A.ipl2[1]!, 1, 2, 60));
  add('ipvlan', P.ipl2a, arpReq(BC, A.ipParentMac, A.ipl2[0]!, A.ipl2[1]!));
  add('ipvlan', P.ipl2b, udp4(A.outside, A.ipParentMac, A.ipl2[1]!, A.outsideIp, 1, 2, 60));
  add('ipvlan', P.ipl3a, udp4(A.ipParentMac, A.ipParentMac, A.ipl3[0]!, A.ipl3[1]!, 1, 2));
  add('ipvlan', P.ipl3a, udp4(A.nextHop, A.ipParentMac, A.ipl3[0]!, A.outsideIp, 1, 2, 100));
  add('ipvlan', P.ipl3b, arpReq(BC, A.ipParentMac, A.ipl3[1]!, A.ipl3[0]!));
  add('ipvlan', P.ipl3v, udp4(A.ipParentMac, A.ipParentMac, A.ipl3v, A.ipl3[0]!, 1, 2));
  add('ipvlan', P.ipl2b, udp4(A.ipParentMac, '02:42:66:66:66:66', A.ipl2[1]!, A.outsideIp, 1, 2));

  // flood: the source MAC (and IPv4 source, and the inner source of VXLAN) is randomised per frame
  add('flood', P.c1, udp4(A.c[1]!, A.c[0]!, A.cip[0]!, A.cip[1]!, 5000, 5001, 20));
  add('flood', P.up1, tcp4(A.vipMac, A.outside, A.outsideIp, A.vip, 40000, 80, 0x02));
  add('flood', P.c2, udp4(A.vipMac, A.c[1]!, A.cip[1]!, A.vip, 5353, 53, 20));
  add('flood', P.vtep, vxlan({ dmac: A.vtepMac, smac: A.rvtepMac[1]!, src: A.rvtep[1]!, dst: A.vtepIp, vni: 4097 }, udp4(A.ovB, '02:42:0a:01:00:44', '10.1.0.68', A.ovBip, 1, 2, 30)));
  add('flood', P.vtep, vxlan({ dmac: A.vtepMac, smac: A.rvtepMac[1]!, src: A.rvtep[1]!, dst: A.vtepIp, vni: 4098 }, udp4(A.ovG, '02:42:0a:05:00:44', '10.5.0.68', A.ovGip, 1, 2, 30)));
  add('vxlan-encap', P.ovG1, udp4(A.r6, A.ovG, A.ovGip, A.r6ip, 1, 2, 30));

  // offload: partial checksums and super-frames, to ports that complete them and ports that keep them
  const big = tcp4(A.c[1]!, A.c[0]!, A.cip[0]!, A.cip[1]!, 40100, 8080, 0x18, 1800);
  add('offload', P.c1, big, [1, 1, 500, 34, 16, 54]);
  add('offload', P.c2, tcp4(A.c[0]!, A.c[1]!, A.cip[1]!, A.cip[0]!, 8080, 40100, 0x19, 1500), [1, 1, 700, 34, 16, 54]);
  add('offload', P.c3, udp4(A.c[0]!, A.c[2]!, A.cip[2]!, A.cip[0]!, 4000, 4001, 1200), [1, 5, 400, 34, 6, 42]);
  add('offload', P.c1, udp4(A.c[3]!, A.c[0]!, A.cip[0]!, A.cip[3]!, 4000, 4001, 100), [1, 0, 0, 34, 6, 0]);
  add('offload', P.c1, tcp6(A.c[1]!, A.c[0]!, A.c6, A.c2v6, 40200, 80, 0x18, 1500), [1, 4, 600, 54, 16, 74]);
  add('offload', P.c1, udp4(A.c[1]!, A.c[0]!, A.cip[0]!, A.cip[1]!, 4000, 4001, 1000), [0, 3, 500, 0, 0, 42]);
  add('offload', P.ovA1, tcp4(A.r1, A.ovA[0]!, A.ovAip[0]!, A.r1ip, 40300, 80, 0x18, 1380), [1, 1, 1000, 34, 16, 54]);
  add('offload', P.mv1, tcp4(A.outside, A.mv[0]!, A.mvip[0]!, A.outsideIp, 40400, 80, 0x18, 1400), [1, 1, 1000, 34, 16, 54]);
  add('offload', P.vtep, vxlan({ dmac: A.vtepMac, smac: A.rvtepMac[0]!, src: A.rvtep[0]!, dst: A.vtepIp, vni: 4096 },
    tcp4(A.ovA[0]!, A.r1, A.r1ip, A.ovAip[0]!, 80, 40300, 0x18, 1300)), [1, 1, 800, 84, 16, 104]);
  return T;
}

/** Frames of the fixture captures (fixtures/captures/*), for the 'graph' campaign. */
export function fixtureFrames(limitPerFile = 64): Uint8Array[] {
  const dir = join(ROOT, 'fixtures', 'captures');
  const out: Uint8Array[] = [];
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).sort()) {
    if (!/\.(pcap|pcapng)$/.test(f)) continue;
    const r = openCapture(join(dir, f));
    try {
      let n = 0;
      for (const rec of r) {
        if (rec.linkType !== LINKTYPE_ETHERNET) continue;
        out.push(rec.data);
        if (++n >= limitPerFile) break;
      }
    } finally {
      r.close?.();
    }
  }
  return out;
}

// ---- mutators (in place, in a buffer b at offset o, len bytes, at most cap) ------------------

const I8 = [0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x08, 0x0f, 0x10, 0x11, 0x14, 0x3f, 0x40, 0x45, 0x46, 0x4f, 0x60, 0x7f, 0x80, 0x81, 0x86, 0x88, 0xa8, 0xdd, 0xfe, 0xff];
const I16 = [0, 1, 7, 8, 13, 14, 19, 20, 21, 27, 28, 39, 40, 41, 50, 60, 64, 0x5dc, 0x5dd, 0x600, 0x0800, 0x0806, 0x86dd, 0x8100, 0x88a8, 0x9100, 4789, 0x7fff, 0x8000, 0xfffe, 0xffff];
const ETHERTYPES = [0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8, 0x9100, 0x88cc, 0x0000, 0x05dc, 0x0600, 0x05ff, 0xffff];
const VIDS = [0, 1, 10, 11, 20, 21, 30, 99, 100, 4094, 4095];  // 100: VTEP 38's underlay VLAN
const VNIS = [4096, 4097, 4098, 5000, 6000, 7000, 8000, 0, 999, 0xffffff];

/** MACs that mean something in the fuzz topology (and some that mean nothing). */
const MACS: number[][] = [
  BC, '00:00:00:00:00:00', '01:80:c2:00:00:00', '01:80:c2:00:00:01', '01:80:c2:00:00:0e', '33:33:00:00:00:01', '01:00:5e:00:00:01',
  ...A.c, A.gw1, A.vipMac, A.up1, A.v10, A.v20, A.tr, A.i30a, A.gw2, A.vtepMac, ...A.rvtepMac, ...A.ovA, A.r1, A.ovB, A.r2,
  A.vtep6Mac, A.ovC, A.r3, A.parentMac, A.ovD, A.r4, ...A.mv, A.mv10v, A.mv10p, A.mvpt, A.ipParentMac, A.nextHop, ...A.dummy, A.outside,
  A.vtepVlanMac, A.ovF, A.r5, A.ovG, A.r6,
].map(macB);
const IPS: number[][] = [
  '0.0.0.0', '255.255.255.255', '127.0.0.1', '224.0.0.1', ...A.cip, A.gw1ip, A.vip, '172.17.0.200', A.gw2ip, A.vtepIp, ...A.rvtep,
  ...A.ovAip, A.r1ip, A.ovBip, A.r2ip, A.parentIp, A.rvtepD, ...A.mvip, ...A.ipl2, ...A.ipl3, A.ipl3v, A.outsideIp,
].map(ip4B);
const VTEPS = [
  { mac: macB(A.vtepMac), ip: ip4B(A.vtepIp), src: A.rvtep.map(ip4B), v6: false },
  { mac: macB(A.parentMac), ip: ip4B(A.parentIp), src: [ip4B(A.rvtepD)], v6: false },
  { mac: macB(A.vtep6Mac), ip: ip6B(A.vtep6Ip), src: [ip6B(A.rvtep6)], v6: true },
];

/** Where the network header starts (after up to 3 tags), and its ethertype; -1 if cut. */
function l3At(b: Uint8Array, o: number, len: number): number {
  let at = 12;
  for (let k = 0; k < 3; k++) {
    if (at + 2 > len) return -1;
    const t = (b[o + at]! << 8) | b[o + at + 1]!;
    if (t !== 0x8100 && t !== 0x88a8 && t !== 0x9100) return at + 2;
    at += 4;
  }
  return at + 2 <= len ? at + 2 : -1;
}
const typeAt = (b: Uint8Array, o: number, l3: number): number => (b[o + l3 - 2]! << 8) | b[o + l3 - 1]!;
const put16 = (b: Uint8Array, at: number, v: number): void => {
  b[at] = (v >> 8) & 0xff;
  b[at + 1] = v & 0xff;
};

/** Recomputes the IPv4 header checksum of the frame's outer IPv4 header, if it has one that fits. */
function fixIpv4Csum(b: Uint8Array, o: number, len: number): void {
  const l3 = l3At(b, o, len);
  if (l3 < 0 || typeAt(b, o, l3) !== 0x0800 || l3 + 20 > len) return;
  const hl = (b[o + l3]! & 0xf) * 4;
  if ((b[o + l3]! >> 4) !== 4 || hl < 20 || l3 + hl > len) return;
  put16(b, o + l3 + 10, 0);
  put16(b, o + l3 + 10, csum(b, o + l3, o + l3 + hl));
}

function randomInto(r: Rng, b: Uint8Array, at: number, n: number): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const x = r.u32();
    b[at + i] = x;
    b[at + i + 1] = x >>> 8;
    b[at + i + 2] = x >>> 16;
    b[at + i + 3] = x >>> 24;
  }
  for (; i < n; i++) b[at + i] = r.u32();
}

/** Inserts n bytes at position `at` (shifting the rest), if they fit; returns the new length. */
function insertAt(b: Uint8Array, o: number, len: number, cap: number, at: number, n: number): number {
  if (len + n > cap || at > len) return len;
  b.copyWithin(o + at + n, o + at, o + len);
  return len + n;
}

/** Wraps the frame in outer Ethernet/IP/UDP/VXLAN headers to one of the topology's VTEPs (usually valid). */
function vxlanWrap(r: Rng, b: Uint8Array, o: number, len: number, cap: number): number {
  const v = r.pick(VTEPS);
  const hl = v.v6 ? 70 : 50;
  if (len + hl > cap) return len;
  b.copyWithin(o + hl, o, o + len);
  const inner = len;
  len += hl;
  b.set(r.chance(0.85) ? v.mac : r.pick(MACS), o);
  b.set(r.pick(MACS), o + 6);
  const ip = o + 14;
  const ulen = inner + 16;
  const src = r.chance(0.9) ? r.pick(v.src) : IPS[r.below(IPS.length)]!;
  if (v.v6) {
    put16(b, o + 12, 0x86dd);
    b.fill(0, ip, ip + 40);
    b[ip] = 0x60;
    put16(b, ip + 4, ulen);
    b[ip + 6] = 17;
    b[ip + 7] = 64;
    if (src.length === 16) b.set(src, ip + 8);
    else b.set(src, ip + 20);
    b.set(v.ip, ip + 24);
  } else {
    put16(b, o + 12, 0x0800);
    b[ip] = 0x45;
    b[ip + 1] = 0;
    put16(b, ip + 2, 20 + ulen);
    put16(b, ip + 4, r.u32() & 0xffff);
    put16(b, ip + 6, r.chance(0.9) ? 0 : r.pick(I16));
    b[ip + 8] = 64;
    b[ip + 9] = 17;
    b.set(src, ip + 12);
    b.set(v.ip, ip + 16);
    put16(b, ip + 10, 0);
    put16(b, ip + 10, csum(b, ip, ip + 20));
  }
  const u = ip + (v.v6 ? 40 : 20);
  put16(b, u, 49152 + (r.u32() & 0x3fff));
  put16(b, u + 2, r.chance(0.9) ? 4789 : r.pick(I16));
  put16(b, u + 4, r.chance(0.9) ? ulen : r.pick(I16));
  put16(b, u + 6, 0);
  b[u + 8] = r.chance(0.9) ? 0x08 : r.pick(I8);
  b[u + 9] = 0;
  b[u + 10] = 0;
  b[u + 11] = 0;
  const vni = r.chance(0.9) ? r.pick(VNIS) : r.u32() & 0xffffff;
  b[u + 12] = vni >> 16;
  b[u + 13] = vni >> 8;
  b[u + 14] = vni;
  b[u + 15] = 0;
  if (v.v6 && r.chance(0.3)) {
    // a real checksum sometimes (VTEP 15 also takes zero)
    let s = 0;
    for (let i = 8; i < 40; i += 2) s += (b[ip + i]! << 8) | b[ip + i + 1]!;
    let c = csum(b, u, u + ulen, s + 17 + ulen);
    if (c === 0) c = 0xffff;
    put16(b, u + 6, c);
  }
  return len;
}

/** Random unicast source MAC and IPv4 source address and port (outer, and inner for VXLAN): a flood of new stations and flows. */
function randomSources(r: Rng, b: Uint8Array, o: number, len: number): void {
  const x = r.u32();
  const y = r.u32();
  const l3 = 14;
  const isIp = len >= l3 + 28 && b[o + 12] === 0x08 && b[o + 13] === 0x00 && b[o + l3] === 0x45;
  const vx = isIp && b[o + l3 + 9] === 17 && len >= l3 + 20 + 8 + 8 + 14 && ((b[o + l3 + 22]! << 8) | b[o + l3 + 23]!) === 4789;
  // VXLAN: the inner source MAC and (half the time) the sender VTEP's address;
  // otherwise the frame's own source MAC, address and port
  const m = vx ? o + l3 + 20 + 8 + 8 + 6 : o + 6;
  if (vx && (y & 0x1000000) !== 0) {
    b[o + l3 + 14] = y >>> 9;
    b[o + l3 + 15] = x >>> 5;
    fixIpv4Csum(b, o, len);
  }
  b[m] = (x & 0xfe) | 0x02;
  b[m + 1] = x >>> 8;
  b[m + 2] = x >>> 16;
  b[m + 3] = x >>> 24;
  b[m + 4] = y;
  b[m + 5] = y >>> 8;
  if (isIp && !vx) {
    b[o + l3 + 13] = y >>> 16;
    b[o + l3 + 14] = y >>> 24;
    b[o + l3 + 15] = x >>> 3;
    put16(b, o + l3 + 20, 1024 + (x >>> 17));
    fixIpv4Csum(b, o, len);
  }
}

/** One random mutation of the frame; returns the new length. */
export function mutate(r: Rng, b: Uint8Array, o: number, len: number, cap: number): number {
  switch (r.below(14)) {
    case 0: { // bit flips, mostly in the headers
      if (len === 0) return len;
      const n = 1 + r.below(8);
      for (let k = 0; k < n; k++) {
        const at = r.chance(0.7) ? r.below(Math.min(len, 80)) : r.below(len);
        b[o + at]! ^= 1 << r.below(8);
      }
      return len;
    }
    case 1: { // interesting bytes
      if (len === 0) return len;
      const n = 1 + r.below(3);
      for (let k = 0; k < n; k++) b[o + r.below(Math.min(len, 96))] = r.pick(I8);
      return len;
    }
    case 2: { // interesting 16-bit words
      if (len < 2) return len;
      put16(b, o + r.below(Math.min(len, 96) - 1), r.pick(I16));
      return len;
    }
    case 3: { // truncation, often at a header boundary
      const cuts = [0, 1, 6, 12, 13, 14, 15, 17, 18, 19, 22, 33, 34, 37, 41, 42, 45, 49, 50, 53, 54, 57, 63, 64, 69, 70, 77, 78, 84];
      const n = r.chance(0.5) ? r.pick(cuts) : r.below(len + 1);
      return Math.min(n, len);
    }
    case 4: { // growth: random bytes at the end
      const n = Math.min(1 + r.below(64), cap - len);
      randomInto(r, b, o + len, n);
      return len + n;
    }
    case 5: { // length fields that lie
      const l3 = l3At(b, o, len);
      if (l3 < 0) return len;
      const t = typeAt(b, o, l3);
      const ip = o + l3;
      if (t === 0x0800 && l3 + 20 <= len) {
        const hl = (b[ip]! & 0xf) * 4;
        switch (r.below(5)) {
          case 0: put16(b, ip + 2, r.chance(0.5) ? r.pick(I16) : Math.max(0, len - l3 + r.below(9) - 4)); break;
          case 1: b[ip] = (b[ip]! & 0xf0) | r.below(16); break; // bad IHL
          case 2: b[ip] = (r.pick([0, 4, 5, 6, 15]) << 4) | (b[ip]! & 0xf); break;
          default: {
            const l4 = ip + hl;
            if (hl < 20 || l3 + hl + 8 > len) return len;
            if (b[ip + 9] === 17) put16(b, l4 + 4, r.pick(I16));
            else if (b[ip + 9] === 6 && l3 + hl + 13 <= len) b[l4 + 12] = (r.below(16) << 4) | (b[l4 + 12]! & 0xf);
            else put16(b, ip + 6, r.pick([0x2000, 0x0001, 0x3fff, 0x4000, 0x2001]));
          }
        }
        if (r.chance(0.6)) fixIpv4Csum(b, o, len);
      } else if (t === 0x86dd && l3 + 40 <= len) {
        if (r.chance(0.5)) put16(b, ip + 4, r.chance(0.5) ? r.pick(I16) : Math.max(0, len - l3 - 40 + r.below(9) - 4));
        else b[ip + 6] = r.pick([0, 43, 44, 60, 58, 6, 17, 59, 135]);
      } else if (t === 0x0806 && l3 + 8 <= len) {
        b[ip + r.pick([4, 5, 7, 1, 3])] = r.pick(I8);
      } else put16(b, o + l3 - 2, r.pick(ETHERTYPES));
      return len;
    }
    case 6: { // VLAN stacks
      const n = 1 + r.below(3);
      for (let k = 0; k < n; k++) {
        const nl = insertAt(b, o, len, cap, 12, 4);
        if (nl === len) break;
        len = nl;
        const tp = r.chance(0.7) ? 0x8100 : r.chance(0.7) ? 0x88a8 : r.chance(0.5) ? 0x9100 : r.u32() & 0xffff;
        put16(b, o + 12, tp);
        put16(b, o + 14, ((r.below(8) << 13) | (r.chance(0.1) ? 0x1000 : 0) | (r.chance(0.85) ? r.pick(VIDS) : r.below(4096))) & 0xffff);
      }
      return len;
    }
    case 7: { // a tag less
      if (len >= 18) {
        const t = (b[o + 12]! << 8) | b[o + 13]!;
        if (t === 0x8100 || t === 0x88a8) {
          b.copyWithin(o + 12, o + 16, o + len);
          return len - 4;
        }
      }
      return len;
    }
    case 8: // VXLAN around it (twice: VXLAN inside VXLAN)
      return vxlanWrap(r, b, o, len, cap);
    case 9: { // zero-length UDP
      const l3 = l3At(b, o, len);
      if (l3 < 0 || typeAt(b, o, l3) !== 0x0800 || l3 + 20 > len) return len;
      const ip = o + l3;
      const hl = (b[ip]! & 0xf) * 4;
      if (hl < 20 || l3 + hl + 8 > len) return len;
      b[ip + 9] = 17;
      put16(b, ip + 2, hl + 8);
      put16(b, ip + hl + 4, r.chance(0.5) ? 8 : 0);
      put16(b, ip + hl + 6, 0);
      fixIpv4Csum(b, o, len);
      return r.chance(0.5) ? l3 + hl + 8 : len;
    }
    case 10: { // MACs of the topology
      if (len < 12) return len;
      b.set(r.pick(MACS), o + (r.chance(0.5) ? 0 : 6));
      return len;
    }
    case 11: { // IPv4 addresses of the topology
      const l3 = l3At(b, o, len);
      if (l3 < 0 || l3 + 20 > len) return len;
      const t = typeAt(b, o, l3);
      if (t === 0x0800) {
        b.set(r.pick(IPS), o + l3 + (r.chance(0.5) ? 12 : 16));
        if (r.chance(0.8)) fixIpv4Csum(b, o, len);
      } else if (t === 0x0806 && l3 + 28 <= len) b.set(r.pick(IPS), o + l3 + (r.chance(0.5) ? 14 : 24));
      return len;
    }
    case 12: { // a random tail splice
      if (len < 14) return len;
      const at = 14 + r.below(len - 13);
      randomInto(r, b, o + at, Math.min(len - at, 1 + r.below(32)));
      return len;
    }
    default: { // ethertype
      const l3 = l3At(b, o, len);
      if (l3 < 0) return len;
      put16(b, o + l3 - 2, r.pick(ETHERTYPES));
      return len;
    }
  }
}

// ---- frame generation -------------------------------------------------------------------------

export interface Campaign {
  name: NodeName;
  /** Templates of this campaign. */
  templates: Template[];
  /** Ports frames are sent to when the template's own port is not used. */
  ports: number[];
}

export interface Generated {
  port: number;
  len: number;
  /** Offset of the frame in its slot (HEADROOM, sometimes less). */
  off: number;
  /** Offload metadata, or null. */
  vnet: [number, number, number, number, number, number] | null;
}

/**
 * The corpus and the campaigns: one per node (its templates, at its ports),
 * and 'graph' with everything, the fixture captures and random bytes.
 */
export class Corpus {
  readonly campaigns: Campaign[];
  readonly all: Template[];
  readonly fixtures: Uint8Array[];
  readonly allPorts: number[];

  constructor(topoPorts: number[]) {
    this.all = templates();
    this.fixtures = fixtureFrames();
    this.allPorts = topoPorts;
    this.campaigns = NODES.map((name) => {
      const t = name === 'graph' ? this.all : this.all.filter((x) => x.node === name);
      const ports = [...new Set(t.map((x) => x.port))];
      return { name, templates: t, ports };
    });
  }

  /**
   * Generates one frame of campaign c into b at o (at most cap bytes). The
   * result's len may exceed cap (an oversize frame: nothing is written).
   * Everything is drawn from r, so the same state gives the same frame.
   */
  gen(r: Rng, c: Campaign, b: Uint8Array, o: number, cap: number, slotSize: number, out: Generated): void {
    let len: number;
    let port: number;
    let vnet: Template['vnet'] | undefined;
    const graph = c.name === 'graph';
    const x = r.u32() / 4294967296;
    if ((graph && x < 0.15) || (!graph && x < 0.03)) {
      // random bytes
      const y = r.below(100);
      len = y < 45 ? r.below(100) : y < 80 ? 60 + r.below(1455) : y < 95 ? r.below(cap + 1) : cap + 1 + r.below(y === 99 ? 65536 : 300);
      if (len <= cap) {
        randomInto(r, b, o, len);
        if (len >= 14 && r.chance(0.5)) put16(b, o + 12, r.pick(ETHERTYPES));
        if (len >= 6 && r.chance(0.3)) b.set(r.pick(MACS), o);
      }
      port = r.chance(0.8) ? r.pick(graph ? this.allPorts : c.ports) : r.below(r.chance(0.9) ? MAX_PORTS : 65536);
    } else {
      let data: Uint8Array;
      if (graph && x < 0.3 && this.fixtures.length) {
        data = r.pick(this.fixtures);
        port = r.pick(this.allPorts);
      } else {
        const t = r.pick(c.templates);
        data = t.data;
        vnet = t.vnet;
        port = r.chance(0.95) ? t.port : r.chance(0.8) ? r.pick(graph ? this.allPorts : c.ports) : r.below(MAX_PORTS);
      }
      len = Math.min(data.length, cap);
      b.set(len === data.length ? data : data.subarray(0, len), o);
      if (c.name === 'flood') randomSources(r, b, o, len);
      // 0 mutations: a valid frame (the state machines need those too)
      const k = r.below(10);
      const n = k < 2 ? 0 : k < 6 ? 1 : k < 8 ? 2 : 2 + r.below(5);
      for (let i = 0; i < n; i++) len = mutate(r, b, o, len, cap);
      if (n > 0 && r.chance(0.4)) fixIpv4Csum(b, o, len);
    }
    out.port = port;
    out.len = len;
    out.off = HEADROOM;
    out.vnet = null;
    // Less headroom than usual, sometimes: pushes must fail cleanly. Or the
    // frame ends exactly where its slot ends: in the pool's last slot (tight
    // mode) a read past the frame's end then traps instead of going unseen.
    const endAligned = r.chance(0.3);
    if (len <= cap && (endAligned || r.chance(0.03))) {
      const off = endAligned ? slotSize - len : r.below(HEADROOM + 1);
      if (off !== HEADROOM) {
        b.copyWithin(o - HEADROOM + off, o, o + len);
        out.off = off;
      }
    } else if (len <= cap && r.chance(0.01)) {
      // A frame that fills its whole slot, headroom included (a host filling
      // slots itself may describe one): copies of it must still fit theirs.
      const off = r.below(HEADROOM);
      b.copyWithin(o - HEADROOM + off, o, o + len);
      const full = slotSize - off - r.below(4);
      randomInto(r, b, o - HEADROOM + off + len, full - len);
      out.off = off;
      out.len = full;
    }
    // Offload metadata: the template's (often), or random (sometimes).
    const wantVnet = c.name === 'offload' ? 0.7 : 0.04;
    if (r.chance(wantVnet)) {
      if (vnet && r.chance(0.7)) {
        out.vnet = [vnet[0], vnet[1], vnet[2], vnet[3], vnet[4], vnet[5]];
        if (r.chance(0.3)) out.vnet[r.below(6)] = r.chance(0.5) ? r.pick(I16) & (r.chance(0.5) ? 0xff : 0xffff) : r.u32() & 0xffff;
      } else {
        out.vnet = [r.pick([0, 1, 2, 3, r.u32() & 0xff]), r.pick([0, 1, 3, 4, 5, 0x81, 0x84, r.u32() & 0xff]), r.pick([0, 1, 8, 100, 536, 1000, 1448, 0xffff, r.u32() & 0xffff]),
          r.pick([0, 14, 34, 54, 84, 104, r.u32() & 0xffff]), r.pick([0, 6, 16, 0xfffe, r.u32() & 0xffff]), r.pick([0, 42, 54, 74, r.u32() & 0xffff])];
      }
    }
  }
}

// ---- the runner -------------------------------------------------------------------------------

export interface FuzzOptions {
  seed: number;
  /** Pool slots (default 8192: a vector of floods can fill the transmit vector). With `tight`, just above the vector size (copies run out). */
  slots?: number;
  /** Pool sized so copies run short and the last slot ends at the end of memory. */
  tight?: boolean;
  /** Campaigns to run, in turn (default every node and 'graph'). */
  campaigns?: NodeName[];
  /** Save traps as regression fixtures (default true). */
  saveTraps?: boolean;
  /** Directory of regression fixtures (default test/regressions). */
  regressionsDir?: string;
  /** Most failure messages kept. */
  maxFailures?: number;
  /** Check the free-slot stack for duplicates every this many vectors (default 16). */
  stackCheckEvery?: number;
  /**
   * Probability, per vector, of a control-plane change between vectors
   * (a port down or up, a real server removed or back, a peer or flood VTEP
   * removed or back, an FDB flush, a bridge port removed and re-added, a
   * gateway off or on, a connection sweep): the tables change under traffic
   * as netwasmd changes them. Default 0.
   */
  churn?: number;
}

export interface FuzzReport {
  seed: number;
  tight: boolean;
  frames: number;
  vectors: number;
  verdicts: { tx: number; drop: number; local: number };
  txEntries: number;
  traps: number;
  trapFiles: string[];
  /** Frames whose verdict failed the accounting (0 expected). */
  unaccounted: number;
  /** Vectors after which the pool was not whole again (0 expected). */
  slotLeaks: number;
  /** Other invariant violations (entries outside their slot, forbidden ports, counter mismatches). */
  violations: number;
  failures: string[];
  byCampaign: Record<string, number>;
  offload: { finished: number; added: number; dropped: number };
  /** Control-plane changes made between vectors (FuzzOptions.churn). */
  churn: number;
  /** Non-zero counters, summed over the data planes used. */
  counters: Record<string, number>;
  seconds: number;
}

const KNOWN_IDS = new Set(COUNTERS.map((c) => c[0]));
const NAME_OF = new Map(COUNTERS.map((c) => [c[0], c[1]] as const));
const id = (name: string): number => {
  const x = counterId(name);
  if (x === undefined) throw new Error(`no counter ${name}`);
  return x;
};
const C = {
  rx: id('graph-rx'), tx: id('graph-tx'), drop: id('graph-drop'), local: id('graph-local'),
  segments: id('offload-segments'), gso: id('offload-gso'),
};
/** Counters a node increments when it consumes a frame itself (verdict LOCAL). */
export const LOCAL_COUNTERS = ['bridge-local'];
const LOCAL_IDS = LOCAL_COUNTERS.map(id);
const OFFLOAD_DROP_IDS = ['offload-bad-csum', 'offload-bad-gso', 'offload-gso-unsupported', 'offload-no-slot', 'offload-tx-full'].map(id);

const hex = (b: ArrayLike<number>): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

interface Finish {
  offloadFinish(n: number): number;
}

/** One data plane under fuzz, with its corpus, PRNG and the accounting. */
export class FuzzRunner {
  readonly opts: Required<Omit<FuzzOptions, 'campaigns'>> & { campaigns: NodeName[] };
  readonly rng: Rng;
  topo!: FuzzTopology;
  corpus!: Corpus;
  private slots: number;
  private u32!: Uint32Array;
  private before = new Uint32Array(2048);
  /** Counters between runVector and offloadFinish (offload counters rise in both). */
  private mid = new Uint32Array(2048);
  private rngAt = new Int32Array(4);
  private gen: Generated = { port: 0, len: 0, off: 0, vnet: null };
  private ts = T0;
  private stamp!: Int32Array;
  private vectorNo = 0;
  private perVectorCampaign: NodeName = 'graph';
  private totals = new Map<number, number>();
  private tally = new Int32Array(1024);
  private touched: number[] = [];
  readonly report: FuzzReport;

  constructor(o: FuzzOptions) {
    this.opts = {
      seed: o.seed, tight: o.tight ?? false, slots: o.slots ?? 8192, saveTraps: o.saveTraps ?? true,
      regressionsDir: o.regressionsDir ?? REGRESSIONS_DIR, maxFailures: o.maxFailures ?? 20, stackCheckEvery: o.stackCheckEvery ?? 16, churn: o.churn ?? 0,
      campaigns: o.campaigns ?? [...NODES],
    };
    this.slots = this.opts.tight ? slotsFlushWithMemoryEnd(MAX_VECTOR + 24) : this.opts.slots;
    this.rng = new Rng(o.seed);
    this.report = {
      seed: o.seed, tight: this.opts.tight, frames: 0, vectors: 0, verdicts: { tx: 0, drop: 0, local: 0 }, txEntries: 0, traps: 0, trapFiles: [],
      unaccounted: 0, slotLeaks: 0, violations: 0, failures: [], byCampaign: {}, offload: { finished: 0, added: 0, dropped: 0 }, churn: 0, counters: {}, seconds: 0,
    };
    this.fresh();
  }

  /** A fresh data plane (at the start, and after a trap), warmed up with valid frames. */
  private fresh(): void {
    if (this.topo) this.harvest();
    this.topo = buildFuzzTopology(this.slots);
    this.toggles.clear();
    this.corpus ??= new Corpus(this.topo.ports);
    const dp = this.topo.dp;
    this.u32 = new Uint32Array(dp.memory.buffer, dp.regions.counters!.ptr, 2048);
    this.stamp = new Int32Array(this.slots).fill(-1);
    warmUp(dp, this.corpus.all, this.ts);
    this.baseline = new Map(Object.entries(dp.counters(true)).map(([k, v]) => [id(k), Number(v)]));
  }

  /** Counters after the warm-up (not part of the report). */
  private baseline = new Map<number, number>();

  /** Adds the current data plane's counters (since its warm-up) to the report, once. */
  private harvest(): void {
    for (const [k, v] of Object.entries(this.topo.dp.counters(true))) {
      const i = id(k);
      this.totals.set(i, (this.totals.get(i) ?? 0) + Number(v) - (this.baseline.get(i) ?? 0));
      this.baseline.set(i, Number(v));
    }
  }

  private fail(kind: 'unaccounted' | 'violations' | 'slotLeaks', msg: string): void {
    this.report[kind]++;
    if (this.report.failures.length < this.opts.maxFailures) this.report.failures.push(`[seed ${this.opts.seed} vector ${this.vectorNo} ${this.perVectorCampaign}] ${msg}`);
  }

  /** Runs `frames` frames (whole vectors of 256), the campaigns in turn. */
  run(frames: number): FuzzReport {
    const t0 = performance.now();
    const nVec = Math.ceil(frames / MAX_VECTOR);
    const camps = this.opts.campaigns.map((n) => this.corpus.campaigns.find((c) => c.name === n)!);
    for (let v = 0; v < nVec; v++) {
      const c = camps[v % camps.length]!;
      const n = Math.min(MAX_VECTOR, frames - v * MAX_VECTOR);
      if (this.opts.churn > 0 && this.rng.chance(this.opts.churn)) this.churnOnce();
      this.vector(c, n);
    }
    this.harvest();
    // don't count the last data plane twice if run() is called again
    const base = new Map(this.totals);
    this.report.counters = Object.fromEntries([...base].filter(([, v]) => v !== 0).map(([k, v]) => [NAME_OF.get(k)!, v]).sort());
    this.totals.clear();
    this.report.seconds += (performance.now() - t0) / 1000;
    return this.report;
  }

  /** Generates vector frames from the PRNG into the data plane's slots (or, for a saved trap, into arrays). */
  private fill(c: Campaign, n: number, sink?: Array<{ port: number; ts: number; off: number; data: Uint8Array; vnet: Generated['vnet'] }>): void {
    const dp = this.topo.dp;
    const r = this.rng;
    const cap = dp.slotSize - HEADROOM;
    const scratch = sink ? new Uint8Array(dp.slotSize) : null;
    for (let i = 0; i < n; i++) {
      if (r.chance(0.003)) this.ts += r.chance(0.7) ? 301 : -60; // ageing, and a clock that steps back
      else if (r.chance(0.01)) this.ts += 1;
      let base: number;
      let buf: Uint8Array;
      let slot = -1;
      if (scratch) {
        buf = scratch;
        base = HEADROOM;
      } else {
        slot = dp.allocSlot();
        buf = dp.bytes;
        base = dp.slotAddr(slot) + HEADROOM;
      }
      this.corpus.gen(r, c, buf, base, cap, dp.slotSize, this.gen);
      const g = this.gen;
      if (sink) {
        const s = base - HEADROOM + g.off;
        // An oversize frame is only its length (nothing was written).
        const data = g.len <= cap ? buf.slice(s, s + g.len) : new Uint8Array(g.len);
        sink.push({ port: g.port, ts: this.ts, off: g.off, data, vnet: g.vnet ? [...g.vnet] as Generated['vnet'] : null });
        continue;
      }
      dp.describe(i, slot, g.off, g.len, g.port, this.ts, 0);
      if (g.vnet) writeVnet(dp, i, g.vnet);
    }
  }

  /** One vector: generate, run, account. */
  private vector(c: Campaign, n: number): void {
    const dp = this.topo.dp;
    this.vectorNo++;
    this.perVectorCampaign = c.name;
    this.report.byCampaign[c.name] = (this.report.byCampaign[c.name] ?? 0) + n;
    this.report.frames += n;
    this.report.vectors++;
    this.rng.save(this.rngAt);
    const tsAt = this.ts;
    this.fill(c, n);
    this.before.set(this.u32);
    let nTx: number;
    let total: number;
    try {
      nTx = dp.run(n);
      this.mid.set(this.u32);
      total = nTx > 0 ? (dp.exports as unknown as Finish).offloadFinish(nTx) : 0;
    } catch (e) {
      if (!(e instanceof WebAssembly.RuntimeError)) throw e;
      this.trap(c, n, tsAt, e);
      return;
    }
    this.account(n, nTx, total);
  }

  private account(n: number, nTx: number, total: number): void {
    const dp = this.topo.dp;
    const dv = dp.view;
    const u8 = dp.bytes;
    const u32 = this.u32;
    const before = this.before;
    const d0 = dp.regions.desc!.ptr;
    const t0 = dp.regions.tx!.ptr;
    const rep = this.report;
    const mid = this.mid;
    const delta = (cid: number): number => (u32[cid * 2]! - before[cid * 2]!) >>> 0;
    /** What offload completion (after runVector) counted. */
    const finDelta = (cid: number): number => (u32[cid * 2]! - mid[cid * 2]!) >>> 0;

    // Transmit entries per input frame, from T_SRC (before offload completion moves them).
    // (Offload completion keeps T_SRC and only adds entries: counted from the finished vector.)
    let tx = 0, drop = 0, local = 0;
    const touched = this.touched;
    touched.length = 0;
    for (let i = 0; i < n; i++) {
      const d = d0 + i * DESC_SIZE;
      const v = u8[d + D_VERDICT]!;
      const txc = dv.getUint16(d + D_TX_COUNT, true);
      const reason = dv.getUint16(d + D_DROP, true);
      if (v === Verdict.TX) {
        tx++;
        if (txc === 0) this.fail('unaccounted', `frame ${i}: verdict TX without a transmit entry`);
      } else if (v === Verdict.DROP) {
        drop++;
        if (txc !== 0) this.fail('unaccounted', `frame ${i}: verdict DROP with ${txc} transmit entries`);
        if (reason === 0 || !KNOWN_IDS.has(reason)) this.fail('unaccounted', `frame ${i}: verdict DROP with reason id ${reason}`);
        else {
          if (this.tally[reason] === 0) touched.push(reason);
          this.tally[reason]!++;
        }
      } else if (v === Verdict.LOCAL) {
        local++;
        if (txc !== 0 || reason !== 0) this.fail('unaccounted', `frame ${i}: verdict LOCAL with ${txc} entries, reason ${reason}`);
      } else this.fail('unaccounted', `frame ${i}: verdict ${v}`);
    }
    for (const r of touched) {
      const want = this.tally[r]!;
      this.tally[r] = 0;
      if (delta(r) < want) this.fail('unaccounted', `${want} frames dropped as ${NAME_OF.get(r)} but the counter rose by ${delta(r)}`);
    }
    let localCounted = 0;
    for (const l of LOCAL_IDS) localCounted += delta(l);
    if (local > localCounted) this.fail('unaccounted', `${local} LOCAL verdicts but the nodes counted ${localCounted} local deliveries (${LOCAL_COUNTERS.join(', ')})`);
    if (delta(C.rx) !== n) this.fail('violations', `graph-rx rose by ${delta(C.rx)} for ${n} frames`);
    if (delta(C.drop) !== drop) this.fail('violations', `graph-drop rose by ${delta(C.drop)} for ${drop} DROP verdicts`);
    if (delta(C.local) !== local) this.fail('violations', `graph-local rose by ${delta(C.local)} for ${local} LOCAL verdicts`);
    if (delta(C.tx) !== nTx) this.fail('violations', `graph-tx rose by ${delta(C.tx)} for ${nTx} entries`);
    rep.verdicts.tx += tx;
    rep.verdicts.drop += drop;
    rep.verdicts.local += local;
    rep.txEntries += nTx;

    // The finished transmit vector: entries per source, geometry, ports, slot ownership.
    const added = total - nTx;
    const segs = finDelta(C.segments) - finDelta(C.gso);
    if (added !== segs) this.fail('violations', `offload completion added ${added} entries, counted ${segs}`);
    let zero = 0;
    const perSrc = new Uint16Array(n);
    const vno = this.vectorNo;
    const slotSize = dp.slotSize;
    for (let k = 0; k < total; k++) {
      const t = t0 + k * TX_SIZE;
      const slot = dv.getUint32(t + T_SLOT, true);
      const off = dv.getUint32(t + T_OFF, true);
      const len = dv.getUint32(t + T_LEN, true);
      const port = dv.getUint16(t + T_PORT, true);
      const src = dv.getUint16(t + T_SRC, true);
      if (src >= n) this.fail('violations', `entry ${k}: source ${src} outside the vector`);
      else perSrc[src]!++;
      if (slot >= this.slots) {
        this.fail('violations', `entry ${k}: slot ${slot} outside the pool`);
        continue;
      }
      if (this.stamp[slot] === vno) this.fail('violations', `entry ${k}: slot ${slot} is named by two entries`);
      this.stamp[slot] = vno;
      if (len === 0) zero++;
      else if (len < 14 || off > slotSize || len > slotSize - off) this.fail('violations', `entry ${k}: frame [${off}, +${len}) outside its slot or too short`);
      if (port >= MAX_PORTS) this.fail('violations', `entry ${k}: port ${port}`);
      else {
        const pa = dp.portAddr(port);
        const kind = u8[pa + P_KIND]!;
        if (kind === PortKind.UNUSED || kind === PortKind.VXLAN || kind === PortKind.NONE) this.fail('violations', `entry ${k}: leaves through port ${port} of kind ${kind}`);
        if (dv.getUint16(pa + P_FLAGS, true) & PortFlag.DOWN) this.fail('violations', `entry ${k}: leaves through port ${port}, which is down`);
      }
    }
    if (total > 0) {
      rep.offload.finished += total;
      rep.offload.added += added;
    }
    let offDrops = 0;
    for (const x of OFFLOAD_DROP_IDS) offDrops += finDelta(x);
    rep.offload.dropped += offDrops;
    if (zero !== offDrops) this.fail('violations', `${zero} entries of length 0 after offload completion, ${offDrops} counted offload drops`);
    for (let i = 0; i < n; i++) {
      const txc = dv.getUint16(d0 + i * DESC_SIZE + D_TX_COUNT, true);
      // Segmentation turns one entry into several; a frame never has fewer entries than it emitted.
      if (perSrc[i]! < txc || (added === 0 && perSrc[i] !== txc)) {
        this.fail('unaccounted', `frame ${i}: D_TX_COUNT ${txc} but ${perSrc[i]} entries name it`);
      }
    }

    // Release everything; the pool must be whole again.
    for (let k = nTx; k < total; k++) dp.freeSlot(dv.getUint32(t0 + k * TX_SIZE + T_SLOT, true));
    dp.releaseTx();
    if (dp.freeSlots !== this.slots) {
      this.fail('slotLeaks', `${this.slots - dp.freeSlots} slots missing from the pool after the entries were released`);
      this.restorePool();
    } else if (this.vectorNo % this.opts.stackCheckEvery === 0) {
      const f = dp.regions.free!.ptr + FREE_ENTRIES;
      const seen = new Uint8Array(this.slots);
      for (let k = 0; k < this.slots; k++) {
        const s = dv.getUint32(f + k * 4, true);
        if (s >= this.slots || seen[s]) {
          this.fail('slotLeaks', `free-slot stack holds slot ${s} twice (or out of range)`);
          this.restorePool();
          break;
        }
        seen[s] = 1;
      }
    }
  }

  /**
   * Runs saved frames (a regression fixture) as one vector on the current data
   * plane, with the same accounting as a fuzz vector. A trap is counted.
   */
  replay(frames: RegressionFrame[], opts: { lastSlots?: boolean } = {}): FuzzReport {
    const dp = this.topo.dp;
    const n = frames.length;
    if (n > MAX_VECTOR) throw new RangeError(`a fixture holds at most ${MAX_VECTOR} frames`);
    this.vectorNo++;
    this.perVectorCampaign = 'graph';
    this.report.frames += n;
    this.report.vectors++;
    const cap = dp.slotSize - HEADROOM;
    // lastSlots: the frames go into the highest slots (frame 0 into the last one), the rest stay free.
    let take = (): number => dp.allocSlot();
    if (opts.lastSlots) {
      const all: number[] = [];
      for (let s = dp.allocSlot(); s >= 0; s = dp.allocSlot()) all.push(s);
      all.sort((a, b) => a - b);
      const mine = all.splice(all.length - n, n).reverse();
      for (let k = all.length - 1; k >= 0; k--) dp.freeSlot(all[k]!);
      take = () => mine.shift()!;
    }
    frames.forEach((f, i) => {
      const slot = take();
      if (f.data.length <= cap || f.off + f.data.length <= dp.slotSize) dp.bytes.set(f.data, dp.slotAddr(slot) + f.off);
      dp.describe(i, slot, f.off, f.data.length, f.port, f.ts, 0);
      if (f.vnet) writeVnet(dp, i, f.vnet);
    });
    this.before.set(this.u32);
    let nTx: number;
    let total: number;
    try {
      nTx = dp.run(n);
      this.mid.set(this.u32);
      total = nTx > 0 ? (dp.exports as unknown as Finish).offloadFinish(nTx) : 0;
    } catch (e) {
      if (!(e instanceof WebAssembly.RuntimeError)) throw e;
      this.report.traps++;
      this.fail('violations', `trap: ${e.message}`);
      this.fresh();
      return this.report;
    }
    this.account(n, nTx, total);
    return this.report;
  }

  /** Toggles of the control plane: each flips one piece of state (off, then on again the next time). */
  private toggles = new Map<string, boolean>();

  /** One control-plane change between vectors, as netwasmd makes them. */
  private churnOnce(): void {
    const t = this.topo;
    const r = this.rng;
    const flip = (k: string): boolean => {
      const on = !(this.toggles.get(k) ?? false);
      this.toggles.set(k, on);
      return on; // true: take it away now; false: give it back
    };
    const web = { bridge: B.docker0, protocol: 'tcp', address: A.vip, port: 80 } as const;
    const ops: Array<() => void> = [
      () => {
        // a port down or up (whatever its kind)
        const p = r.pick(t.ports);
        const a = t.dp.portAddr(p) + P_FLAGS;
        t.dp.view.setUint16(a, t.dp.view.getUint16(a, true) ^ PortFlag.DOWN, true);
      },
      () => {
        const i = 1 + r.below(3);
        if (flip(`rs${i}`)) t.ipvs.deleteServer(web, { address: A.cip[i]!, port: 8080 });
        else t.ipvs.addServer(web, { address: A.cip[i]!, port: 8080, mac: A.c[i]! });
      },
      () => {
        if (flip('peer')) t.vxlan.peerDelete(0, { mac: A.r1, ip: A.r1ip, vtep: A.rvtep[0]! });
        else t.vxlan.peerAdd(0, { mac: A.r1, ip: A.r1ip, vtep: A.rvtep[0]!, flood: true });
      },
      () => {
        if (flip('flood')) t.vxlan.floodDelete(0, A.rvtep[1]!);
        else t.vxlan.floodAdd(0, A.rvtep[1]!);
      },
      () => {
        // netwasmd adds and removes a static peer of the learning overlay (G): learning must leave it room
        const g = TUNNEL_G;
        if (flip('peerG')) t.vxlan.peerAdd(g, { mac: A.r6, ip: A.r6ip, vtep: A.rvtep[1]! });
        else t.vxlan.peerDelete(g, { mac: A.r6, ip: A.r6ip, vtep: A.rvtep[1]! });
      },
      () => t.bridges.flush({}),
      () => {
        // a container port leaves its bridge and comes back (its learned stations go)
        const i = r.below(4);
        if (flip(`port${i}`)) t.bridges.removePort(i);
        else t.bridges.addPort(i, { bridge: B.docker0, mac: A.c[i] });
      },
      () => t.gateways.setEnabled(B.docker0, !flip('gw')),
      () => {
        const p = r.pick([P.mv1, P.mv2, P.ipl2a, P.ipl3a]);
        t.macvlans.setEndpointDown(p, flip(`ep${p}`));
      },
      () => t.ipvs.sweep(this.ts),
      () => {
        if (flip('conns')) t.ipvs.flushConnections();
      },
    ];
    try {
      r.pick(ops)();
      this.report.churn++;
    } catch (e) {
      this.fail('violations', `control-plane change failed: ${(e as Error).message}`);
    }
  }

  /** Rebuilds the free-slot stack after a leak, so one bug is reported once. */
  private restorePool(): void {
    const dp = this.topo.dp;
    const f = dp.regions.free!.ptr;
    dp.view.setUint32(f, this.slots, true);
    for (let i = 0; i < this.slots; i++) dp.view.setUint32(f + 4 + i * 4, this.slots - 1 - i, true);
  }

  /** A trap: regenerate the vector, find the frame, save it, go on with a fresh data plane. */
  private trap(c: Campaign, n: number, tsAt: number, e: Error): void {
    this.report.traps++;
    const after = new Int32Array(4);
    this.rng.save(after);
    const tsAfter = this.ts;
    this.rng.load(this.rngAt);
    this.ts = tsAt;
    const frames: Array<{ port: number; ts: number; off: number; data: Uint8Array; vnet: Generated['vnet'] }> = [];
    this.fill(c, n, frames);
    this.rng.load(after);
    this.ts = tsAfter;
    this.fail('violations', `trap: ${e.message}`);
    if (process.env['FUZZ_TRAP_STACK']) console.error(e.stack);
    // Which frame? Each one alone on a fresh, warmed-up data plane.
    let culprit: typeof frames = frames;
    for (const f of frames) {
      if (trapsAlone(this.slots, this.corpus.all, [f])) {
        culprit = [f];
        break;
      }
    }
    if (this.opts.saveTraps) {
      const file = join(this.opts.regressionsDir, `trap-${c.name}-s${this.opts.seed}-v${this.vectorNo}.hex`);
      saveRegression(file, `${e.message} (campaign ${c.name}, seed ${this.opts.seed}, vector ${this.vectorNo}${culprit.length > 1 ? ', the whole vector' : ''})`, culprit, this.slots);
      this.report.trapFiles.push(file);
    }
    this.fresh();
  }
}

function writeVnet(dp: Dataplane, i: number, v: readonly number[]): void {
  const d = dp.regions.desc!.ptr + i * DESC_SIZE;
  const dv = dp.view;
  dv.setUint8(d + D_VNET_FLAGS, v[0]!);
  dv.setUint8(d + D_GSO_TYPE, v[1]!);
  dv.setUint16(d + D_GSO_SIZE, v[2]!, true);
  dv.setUint16(d + D_CSUM_START, v[3]!, true);
  dv.setUint16(d + D_CSUM_OFFSET, v[4]!, true);
  dv.setUint16(d + D_HDR_LEN, v[5]!, true);
}

/** Sends every template once, unmutated (stations learned, connections made), then releases everything. */
export function warmUp(dp: Dataplane, all: Template[], ts: number): void {
  for (let i = 0; i < all.length; i += MAX_VECTOR) {
    const part = all.slice(i, i + MAX_VECTOR);
    part.forEach((t) => dp.push(t.data, t.port, ts, 0));
    const nTx = dp.run();
    if (nTx > 0) {
      const total = (dp.exports as unknown as Finish).offloadFinish(nTx);
      const t0 = dp.regions.tx!.ptr;
      for (let k = nTx; k < total; k++) dp.freeSlot(dp.view.getUint32(t0 + k * TX_SIZE + T_SLOT, true));
    }
    dp.releaseTx();
  }
}

/** A frame (or vector) saved for replay. */
export interface RegressionFrame {
  port: number;
  ts: number;
  off: number;
  data: Uint8Array;
  vnet: readonly number[] | null;
}

/**
 * Writes a regression fixture: `#` comment lines, then one frame per line:
 * `PORT TS_SEC OFFSET VNET|- HEX` (VNET: six comma-separated numbers).
 */
export function saveRegression(file: string, why: string, frames: RegressionFrame[], slots: number, slotSize = 2048, lastSlots = false): void {
  mkdirSync(dirname(file), { recursive: true });
  const lines = [
    `# ${why}`,
    ...(lastSlots ? ['# placement: last-slots'] : []),
    `# replayed by test/fuzz-regressions.test.ts on the fuzz topology (test/helpers/fuzz.ts), ${slots} slots`,
    `# port tsSec offset vnet hex`,
    ...frames.map((f) => `${f.port} ${f.ts} ${f.off} ${f.vnet ? f.vnet.join(',') : '-'} ${f.off + f.data.length > slotSize ? `oversize:${f.data.length}` : hex(f.data)}`),
  ];
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/** Reads a regression fixture written by saveRegression. */
export function loadRegression(file: string): { slots: number; frames: RegressionFrame[]; lastSlots: boolean } {
  const text = readFileSync(file, 'utf8');
  const m = /on the fuzz topology \(test\/helpers\/fuzz\.ts\), (\d+) slots/.exec(text);
  // `# placement: last-slots`: the frames go into the pool's last slots, which end where memory ends.
  const lastSlots = /^# placement: last-slots$/m.test(text);
  const frames: RegressionFrame[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const [port, ts, off, vnet, data] = line.trim().split(/\s+/);
    const bytes = data!.startsWith('oversize:') ? new Uint8Array(Number(data!.slice(9))) : Uint8Array.from(data!.match(/../g) ?? [], (h) => parseInt(h, 16));
    frames.push({ port: Number(port), ts: Number(ts), off: Number(off), vnet: vnet === '-' ? null : vnet!.split(',').map(Number), data: bytes });
  }
  // A last-slots fixture needs a pool that ends where memory ends: its slot count follows the layout.
  const slots = m ? Number(m[1]) : 1024;
  return { slots: lastSlots ? slotsFlushWithMemoryEnd(slots) : slots, frames, lastSlots };
}

/**
 * Runs frames as one vector on a fresh, warmed-up fuzz topology. Returns the
 * data plane and the transmit entry count, or throws what the data plane threw.
 */
export function runRegression(slots: number, frames: RegressionFrame[]): { dp: Dataplane; nTx: number; total: number } {
  const topo = buildFuzzTopology(slots);
  const all = templates();
  warmUp(topo.dp, all, frames[0]?.ts ?? T0);
  const dp = topo.dp;
  const cap = dp.slotSize - HEADROOM;
  frames.forEach((f, i) => {
    const slot = dp.allocSlot();
    if (f.data.length <= cap || f.off + f.data.length <= dp.slotSize) dp.bytes.set(f.data, dp.slotAddr(slot) + f.off);
    dp.describe(i, slot, f.off, f.data.length, f.port, f.ts, 0);
    if (f.vnet) writeVnet(dp, i, f.vnet);
  });
  const nTx = dp.run(frames.length);
  const total = nTx > 0 ? (dp.exports as unknown as Finish).offloadFinish(nTx) : 0;
  return { dp, nTx, total };
}

function trapsAlone(slots: number, _all: Template[], frames: RegressionFrame[]): boolean {
  try {
    runRegression(slots, frames);
    return false;
  } catch (e) {
    return e instanceof WebAssembly.RuntimeError;
  }
}

/** Counters by node block (graph, eth, vlan, bridge, ...): how many distinct ones a run reached. */
export function countersByNode(counters: Record<string, number>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const name of Object.keys(counters)) {
    const node = name.split('-')[0]!;
    (out[node] ??= []).push(name);
  }
  return out;
}

export { hex as toHex };
// Port size is part of the layout the checks above read.
void PORT_SIZE;

// ---- floods ---------------------------------------------------------------------------------

/** Resident set size of the process, bytes (0 where the runtime cannot tell). */
export function rss(): number {
  try {
    return process.memoryUsage().rss;
  } catch {
    return 0;
  }
}

export interface MacFloodReport {
  /** Random source MACs sent. */
  macs: number;
  seconds: number;
  /** Bridge learn limit (0: none) and FDB capacity. */
  learnLimit: number;
  fdbCapacity: number;
  /** Learned entries of the bridge after the flood, FDB entries in all. */
  learned: number;
  fdbEntries: number;
  /** bridge-learn-limit and bridge-fdb-full after the flood. */
  learnLimitHits: number;
  fdbFullHits: number;
  memoryBefore: number;
  memoryAfter: number;
  rssBefore: number;
  rssAfter: number;
  /** Unicast frames between the stations learned before the flood, and how many went anywhere but their port. */
  legit: number;
  legitMisdelivered: number;
  /** Frames dropped for a reason, or lost. */
  drops: Record<string, number>;
}

/**
 * MAC flood: `n` frames with random source MACs from port 0 into a bridge
 * whose stations A (port 1), B (port 2), C (port 3) were learned before.
 * Every vector also carries A->B, B->A, A->C and B->C unicast: each must
 * leave through its station's port only (never flooded to the attacker).
 * Packet time advances so that the whole flood lasts less than the ageing time.
 */
export function macFlood(n: number, opts: { learnLimit?: number; fdbCapacity?: number; seed?: number } = {}): MacFloodReport {
  const fdbCapacity = opts.fdbCapacity ?? 65536;
  const learnLimit = opts.learnLimit ?? 0;
  const dp = new Dataplane({ slots: 2048, fdbCapacity, bridges: 4, connCapacity: 0, vxlanTunnels: 1, vxlanRemotes: 1, vxlanPeers: 16, vxlanNeighbors: 16 });
  const br = new Bridges(dp);
  br.create(1, { learnLimit });
  const st = ['02:00:00:00:00:0a', '02:00:00:00:00:0b', '02:00:00:00:00:0c'].map(macB);
  for (let p = 0; p < 4; p++) br.addPort(p, { bridge: 1 });
  const r = new Rng(opts.seed ?? 0xf100d);
  const uni = (dst: number[], src: number[]): Uint8Array => pad([...dst, ...src, 0x08, 0x00, ...ip4H('10.0.0.1', '10.0.0.2', 17, 26), ...bytes(26)]);
  // The stations make themselves known.
  let ts = T0;
  st.forEach((m, i) => dp.push(pad([...macB(BC), ...m, 0x08, 0x06, ...bytes(28)]), i + 1, ts, 0));
  dp.run();
  dp.releaseTx();
  const legitFrames = [
    { f: uni(st[1]!, st[0]!), in: 1, out: 2 },
    { f: uni(st[0]!, st[1]!), in: 2, out: 1 },
    { f: uni(st[2]!, st[0]!), in: 1, out: 3 },
    { f: uni(st[2]!, st[1]!), in: 2, out: 3 },
  ];
  const flood = uni(st[1]!, [2, 0, 0, 0, 0, 0]);
  const memoryBefore = dp.memoryBytes;
  const rssBefore = rss();
  const vectors = Math.ceil(n / (MAX_VECTOR - legitFrames.length));
  const perSecond = Math.max(1, Math.ceil(vectors / 200));
  let sent = 0;
  let legit = 0;
  let wrong = 0;
  const t0 = performance.now();
  const u8 = dp.bytes;
  const outs = new Int32Array(MAX_VECTOR);
  for (let v = 0; v < vectors; v++) {
    if (v % perSecond === 0) ts++;
    let i = 0;
    for (const l of legitFrames) dp.push(l.f, l.in, ts, 0), i++;
    const k = Math.min(MAX_VECTOR - i, n - sent);
    for (let j = 0; j < k; j++, i++) {
      const slot = dp.allocSlot();
      const a = dp.slotAddr(slot) + HEADROOM;
      u8.set(flood, a);
      const x = r.u32();
      const y = r.u32();
      // a random unicast source (never multicast, never zero); half to B, half to an unknown station
      u8[a + 6] = (x & 0xfe) | 0x02;
      u8[a + 7] = x >>> 8;
      u8[a + 8] = x >>> 16;
      u8[a + 9] = x >>> 24;
      u8[a + 10] = y;
      u8[a + 11] = y >>> 8;
      if (y & 0x10000) {
        u8[a + 4] = y >>> 17;
        u8[a + 5] = y >>> 25;
      }
      dp.describe(i, slot, HEADROOM, flood.length, 0, ts, 0);
    }
    sent += k;
    const nTx = dp.run(i);
    outs.fill(0);
    for (let t = 0; t < nTx; t++) {
      const src = dp.txSrc(t);
      if (src < legitFrames.length) {
        if (dp.txPort(t) !== legitFrames[src]!.out) wrong++;
        outs[src]!++;
      }
    }
    for (let s = 0; s < legitFrames.length; s++) {
      legit++;
      if (outs[s] !== 1) wrong++;
    }
    dp.releaseTx();
  }
  const seconds = (performance.now() - t0) / 1000;
  const drops: Record<string, number> = {};
  for (const [k, v] of Object.entries(dp.counters(true))) if (/drop|full|no-slot|runt|bad/.test(k)) drops[k] = Number(v);
  return {
    macs: sent, seconds, learnLimit, fdbCapacity,
    learned: br.get(1).learned, fdbEntries: (dp.exports as unknown as { fdbSize(): number }).fdbSize(),
    learnLimitHits: Number(dp.counter('bridge-learn-limit')), fdbFullHits: Number(dp.counter('bridge-fdb-full')),
    memoryBefore, memoryAfter: dp.memoryBytes, rssBefore, rssAfter: rss(),
    legit, legitMisdelivered: wrong, drops,
  };
}

export interface SynFloodReport {
  syns: number;
  seconds: number;
  connCapacity: number;
  /** Most live connections seen after any vector, and after the flood. */
  maxLive: number;
  liveAfter: number;
  tableFull: number;
  newConns: number;
  /** Established flows and their packets (both ways) during the flood; packets that went elsewhere, or nowhere. */
  flows: number;
  flowPackets: number;
  flowMisdelivered: number;
  /** A new connection after the flood (the table recovers once the SYNs time out). */
  recovered: boolean;
  memoryBefore: number;
  memoryAfter: number;
  rssBefore: number;
  rssAfter: number;
}

/**
 * Connection flood: `n` SYNs from random sources (addresses and ports) at a
 * VIP whose connection table holds `connCapacity` entries, while `flows`
 * connections established before keep sending: each packet must reach the
 * backend its connection was scheduled to.
 */
export function synFlood(n: number, opts: { connCapacity?: number; flows?: number; seed?: number } = {}): SynFloodReport {
  const connCapacity = opts.connCapacity ?? 8192;
  const nFlows = opts.flows ?? 32;
  const dp = new Dataplane({ slots: 2048, fdbCapacity: 1024, bridges: 4, connCapacity, vxlanTunnels: 1, vxlanRemotes: 1, vxlanPeers: 16, vxlanNeighbors: 16 });
  const br = new Bridges(dp);
  const ipvs = new Ipvs(dp);
  for (let p = 0; p < 5; p++) br.addPort(p, { bridge: 1 });
  const VIP = '10.9.0.100', VMAC = '02:42:0a:09:00:64';
  const client = { mac: '02:42:0a:09:00:02', ip: '10.9.0.2' };
  const attacker = '02:42:0a:09:00:66';
  const backends = [2, 3, 4].map((port) => ({ port, mac: `02:42:0a:09:00:1${port}`, ip: `10.9.0.1${port}` }));
  ipvs.setBridge(1, { mac: VMAC });
  const key = { bridge: 1, protocol: 'tcp', address: VIP, port: 80 } as const;
  ipvs.addService(key, { scheduler: 'rr' });
  for (const b of backends) ipvs.addServer(key, { address: b.ip, port: 8080, mac: b.mac });
  let ts = T0;
  const step = (frames: Array<[Uint8Array, number]>): Array<{ port: number; data: Uint8Array; src: number }> => {
    for (const [f, p] of frames) dp.push(f, p, ts, 0);
    const k = dp.run();
    const out = Array.from({ length: k }, (_, i) => ({ port: dp.txPort(i), data: dp.txData(i).slice(), src: dp.txSrc(i) }));
    dp.releaseTx();
    return out;
  };
  const ipAt = (b: Uint8Array, at: number): string => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
  step([...backends.map((b) => [arpReq(BC, b.mac, b.ip, VIP), b.port] as [Uint8Array, number]), [arpReq(BC, client.mac, client.ip, VIP), 0]]);
  // Establish the flows: SYN, SYN-ACK (from the chosen backend), ACK.
  const flows: Array<{ sport: number; backend: (typeof backends)[number] }> = [];
  for (let i = 0; i < nFlows; i++) {
    const sport = 20000 + i;
    const o = step([[tcp4(VMAC, client.mac, client.ip, VIP, sport, 80, 0x02), 0]]);
    const b = backends.find((x) => x.port === o[0]?.port && ipAt(o[0]!.data, 30) === x.ip);
    if (!b) throw new Error(`flow ${i}: the SYN reached no backend`);
    step([[tcp4(client.mac, b.mac, b.ip, client.ip, 8080, sport, 0x12), b.port]]);
    step([[tcp4(VMAC, client.mac, client.ip, VIP, sport, 80, 0x10), 0]]);
    flows.push({ sport, backend: b });
  }
  const data = flows.map((f) => tcp4(VMAC, client.mac, client.ip, VIP, f.sport, 80, 0x18, 64));
  const replies = flows.map((f) => tcp4(client.mac, f.backend.mac, f.backend.ip, client.ip, 8080, f.sport, 0x18, 64));
  const syn = tcp4(VMAC, attacker, '10.200.0.1', VIP, 1, 80, 0x02);
  const r = new Rng(opts.seed ?? 0x5f100d);
  const memoryBefore = dp.memoryBytes;
  const rssBefore = rss();
  const perVector = 8;
  const vectors = Math.ceil(n / (MAX_VECTOR - perVector));
  let sent = 0, fp = 0, fwrong = 0, maxLive = 0, fi = 0;
  const u8 = dp.bytes;
  const t0 = performance.now();
  for (let v = 0; v < vectors; v++) {
    if (v % 4 === 0) ts++;
    // Client data on the flows, and the backends answering on them (they
    // keep their FDB entries and connections fresh, as real servers do).
    const which: number[] = [];
    for (let j = 0; j < perVector; j++, fi = (fi + 1) % flows.length) {
      if (j % 4 === 3) {
        const f = flows[fi]!;
        dp.push(replies[fi]!, f.backend.port, ts, 0);
        which.push(-1 - fi);
      } else {
        dp.push(data[fi]!, 0, ts, 0);
        which.push(fi);
      }
    }
    let i = perVector;
    const k = Math.min(MAX_VECTOR - i, n - sent);
    for (let j = 0; j < k; j++, i++) {
      const slot = dp.allocSlot();
      const a = dp.slotAddr(slot) + HEADROOM;
      u8.set(syn, a);
      const x = r.u32();
      const y = r.u32();
      // source 10.x.y.z (random), random port; the header checksum made right again
      u8[a + 27] = x;
      u8[a + 28] = x >>> 8;
      u8[a + 29] = x >>> 16;
      u8[a + 34] = y;
      u8[a + 35] = y >>> 8;
      put16(u8, a + 24, 0);
      put16(u8, a + 24, csum(u8, a + 14, a + 34));
      dp.describe(i, slot, HEADROOM, syn.length, 1, ts, 0);
    }
    sent += k;
    const nTx = dp.run(i);
    const got = new Int32Array(perVector);
    for (let t = 0; t < nTx; t++) {
      const src = dp.txSrc(t);
      if (src >= perVector) continue;
      const f = flows[which[src]! < 0 ? -1 - which[src]! : which[src]!]!;
      const d = dp.txData(t);
      got[src]!++;
      if (which[src]! < 0) {
        // a backend's reply: back to the client, from the VIP
        if (dp.txPort(t) !== 0 || ipAt(d, 26) !== VIP) fwrong++;
      } else if (dp.txPort(t) !== f.backend.port || ipAt(d, 30) !== f.backend.ip) fwrong++;
    }
    for (let s = 0; s < perVector; s++) {
      fp++;
      if (got[s] !== 1) fwrong++;
    }
    dp.releaseTx();
    const live = ipvs.connectionStats().live;
    if (live > maxLive) maxLive = live;
  }
  const seconds = (performance.now() - t0) / 1000;
  const tableFull = Number(dp.counter('ipvs-conn-table-full'));
  const newConns = Number(dp.counter('ipvs-new-conns'));
  // After the flood: once the SYNs have timed out, a new client gets in.
  ts += 180;
  ipvs.sweep(ts);
  const o = step([[tcp4(VMAC, client.mac, client.ip, VIP, 40000, 80, 0x02), 0]]);
  const recovered = o.length === 1 && backends.some((b) => b.port === o[0]!.port);
  return {
    syns: sent, seconds, connCapacity, maxLive, liveAfter: ipvs.connectionStats().live, tableFull, newConns,
    flows: flows.length, flowPackets: fp, flowMisdelivered: fwrong, recovered,
    memoryBefore, memoryAfter: dp.memoryBytes, rssBefore, rssAfter: rss(),
  };
}

/** The frame builders above, for the other robustness tests (tags: 802.1Q VIDs, or TPID << 16 | VID). */
export const build = { arpReq, udp4, tcp4, tcp6, echo4, ns6, vxlan, pad, ethH, ip4H, macB, ip4B };

// ---- the isolation matrix -------------------------------------------------------------------

export const ISOLATION_SCENARIO = `
hosts:
  - name: h1
    advertise_addr: eth0
    interfaces:
      eth0: { mac: "02:00:00:00:01:01", ip: 192.0.2.1/24 }
      eth1: { mac: "02:00:00:00:01:02", ip: 198.51.100.1/24 }
      enp5s0: { mac: "02:00:00:00:01:03" }
  - name: h2
    advertise_addr: eth0
    interfaces:
      eth0: { mac: "02:00:00:00:02:01", ip: 192.0.2.2/24 }
      eth1: { mac: "02:00:00:00:02:02", ip: 198.51.100.2/24 }
      enp5s0: { mac: "02:00:00:00:02:03" }
networks:
  - { name: b1, subnet: 10.1.0.0/24 }
  - { name: b2, subnet: 10.2.0.0/24, attach: [h1/enp5s0, h2/enp5s0] }
  - { name: b3, subnet: 10.3.0.0/24, options: { com.docker.network.bridge.enable_icc: "false" } }
  - { name: mv10, driver: macvlan, subnet: 10.10.0.0/24, options: { parent: eth0.10 } }
  - { name: mv20, driver: macvlan, subnet: 10.20.0.0/24, options: { parent: eth0.20, macvlan_mode: private } }
  - { name: ipv30, driver: ipvlan, subnet: 10.30.0.0/24, options: { parent: eth1.30 } }
  - { name: ipv40, driver: ipvlan, subnet: 10.40.0.0/24, options: { parent: eth1.40, ipvlan_mode: l3 } }
  - { name: ovA, driver: overlay, subnet: 10.50.0.0/24, attachable: true }
  - { name: ovB, driver: overlay, subnet: 10.60.0.0/24, attachable: true }
containers:
  - { name: d1, host: h1 }
  - { name: a1, host: h1, networks: [b1] }
  - { name: a2, host: h1, networks: [b1] }
  - { name: a3, host: h1, networks: [b2] }
  - { name: a4, host: h1, networks: [b3] }
  - { name: a5, host: h1, networks: [b3] }
  - { name: m1, host: h1, networks: [mv10] }
  - { name: m2, host: h1, networks: [mv20] }
  - { name: m3, host: h1, networks: [mv20] }
  - { name: i1, host: h1, networks: [ipv30] }
  - { name: i2, host: h1, networks: [ipv40] }
  - { name: i5, host: h1, networks: [ipv40] }
  - { name: o1, host: h1, networks: [ovA] }
  - { name: o2, host: h1, networks: [ovB] }
  - { name: o3, host: h1, networks: [ovA, ovB] }
  - { name: n1, host: h1, networks: [none] }
  - { name: d2, host: h2 }
  - { name: c1, host: h2, networks: [b1] }
  - { name: c3, host: h2, networks: [b2] }
  - { name: m4, host: h2, networks: [mv10] }
  - { name: m5, host: h2, networks: [mv20] }
  - { name: i3, host: h2, networks: [ipv30] }
  - { name: i4, host: h2, networks: [ipv40] }
  - { name: o4, host: h2, networks: [ovA] }
  - { name: o5, host: h2, networks: [ovB] }
services:
  - { name: webA, network: ovA, replicas: 2, ports: [80/tcp] }
  - { name: webB, network: b1, host: h1, ports: [8080/tcp], backends: [{ container: a1 }, { container: a2 }] }
`;

const NONE = '-';

export interface Victim {
  label: string;
  host: string;
  mac: string;
  ip: string;
  gwIp: string | null;
  gwMac: string | null;
  vip: string | null;
}

/** The isolation matrix over a resolved scenario: labels, injections, leaks. */
export class Matrix {
  readonly topo: Topology;
  readonly c: ReturnType<typeof compileTopology>;
  readonly uplinks = new Map<string, TopologyUplink>();
  readonly endpoints = new Map<string, TopologyEndpoint>();
  ts = T0;
  injections = 0;
  outputs = 0;
  leaks: string[] = [];
  leakCount = 0;
  readonly kinds = new Set<string>();
  readonly reached = new Set<string>();

  constructor(yaml: string) {
    this.topo = loadScenarioText(yaml, 'isolation.yaml').topology;
    this.c = compileTopology(this.topo, {});
    for (const h of this.topo.hosts) for (const u of h.uplinks) this.uplinks.set(u.port, u);
    for (const e of this.topo.endpoints) this.endpoints.set(e.port, e);
  }

  /** The network a container port belongs to: local networks per host, the others by name; `none` is its own. */
  endpointLabel(e: TopologyEndpoint): string {
    if (e.driver === 'none') return `none:${e.port}`;
    return e.driver === 'bridge' ? `${e.host}/${e.network}` : e.network;
  }

  /** The network a frame on an uplink belongs to: its 802.1Q tag's sub-interface, its VNI's overlay, or the attached bridge. */
  uplinkLabel(u: TopologyUplink, f: Uint8Array): string {
    if (u.bridge) return `${u.host}/${u.bridge}`;
    if (f.length < 14) return NONE;
    const et = (f[12]! << 8) | f[13]!;
    if (et === 0x8100) {
      if (f.length < 18) return NONE;
      const vid = ((f[14]! << 8) | f[15]!) & 0xfff;
      const n = this.topo.networks.find((x) => x.instances.some((i) => i.host === u.host && i.uplinks.includes(u.port) && i.vlan === vid && vid !== 0));
      return n ? n.name : NONE;
    }
    if (et === 0x0800 && f.length >= 14 + 20 + 8 + 8) {
      const ihl = (f[14]! & 0xf) * 4;
      const l4 = 14 + ihl;
      if (f[23] === 17 && f.length >= l4 + 16 && ((f[l4 + 2]! << 8) | f[l4 + 3]!) === 4789) {
        const vni = (f[l4 + 12]! << 16) | (f[l4 + 13]! << 8) | f[l4 + 14]!;
        const n = this.topo.networks.find((x) => x.driver === 'overlay' && x.vni === vni);
        return n ? n.name : NONE;
      }
    }
    const n = this.topo.networks.find((x) => x.instances.some((i) => i.host === u.host && i.uplinks.includes(u.port) && i.vlan === 0));
    return n ? (n.driver === 'bridge' ? `${u.host}/${n.name}` : n.name) : NONE;
  }

  label(port: string, f: Uint8Array): string {
    const e = this.endpoints.get(port);
    if (e) return this.endpointLabel(e);
    const u = this.uplinks.get(port);
    if (!u) throw new Error(`no port ${port}`);
    return this.uplinkLabel(u, f);
  }

  /** Injects one frame at `port` and checks where everything it caused left. */
  inject(port: string, kind: string, f: Uint8Array): void {
    this.ts += 1;
    this.kinds.add(kind);
    const want = this.label(port, f);
    const frame: TimedFrame = { data: f, tsSec: this.ts, tsNsec: 0 };
    const r = replay(this.c.dp, [{ port, frames: [frame] }], { ports: this.c.ports, segments: this.c.segments, collect: true });
    this.injections++;
    for (const [out, frames] of Object.entries(r.output)) {
      for (const o of frames) {
        this.outputs++;
        const got = this.label(out, o.data);
        if (want !== NONE && got === want && !this.separated(port, out)) {
          this.reached.add(`${port} ${kind} -> ${out}`);
          continue;
        }
        this.leakCount++;
        const why = got === want ? ', two containers the network keeps apart' : '';
        if (this.leaks.length < 20) this.leaks.push(`${kind} injected at ${port} (${want}) left through ${out} (${got}${why}): ${hex(o.data.subarray(0, 48))}`);
      }
    }
  }

  /**
   * Two containers of one network on one host that the network keeps apart:
   * a bridge with enable_icc=false, macvlan private mode (the kernel never
   * hands a private child's frame to a sibling).
   */
  separated(a: string, b: string): boolean {
    if (a === b) return false;
    const x = this.endpoints.get(a);
    const y = this.endpoints.get(b);
    if (!x || !y || x.network !== y.network || x.host !== y.host) return false;
    const n = this.topo.networks.find((k) => k.name === x.network)!;
    return (n.driver === 'bridge' && n.bridge?.enableIcc === false) || (n.driver === 'macvlan' && n.macvlan?.mode === 'private');
  }

  /** One sample station per network instance (per host for local networks), with its gateway and VIP. */
  victims(): Victim[] {
    const seen = new Set<string>();
    const out: Victim[] = [];
    for (const e of this.topo.endpoints) {
      if (e.driver === 'none' || !e.mac || !e.ip) continue;
      const label = this.endpointLabel(e);
      const key = `${label}@${e.host}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const n = this.topo.networks.find((x) => x.name === e.network)!;
      const inst = n.instances.find((i) => i.host === e.host);
      const svc = this.topo.services.find((s) => s.network === e.network && s.hosts.includes(e.host));
      out.push({
        label, host: e.host, mac: e.mac, ip: e.ip,
        gwIp: n.gateway, gwMac: n.driver === 'bridge' ? (inst?.deviceMac ?? null) : null, vip: svc?.vip ?? null,
      });
    }
    return out;
  }
}

const VLANS = [10, 20, 30, 40, 99];

export function containerFrames(m: Matrix, e: TopologyEndpoint, vs: Victim[]): Array<[string, Uint8Array]> {
  const mac = e.mac ?? '02:42:00:00:00:99';
  const ip = e.ip ?? '10.99.0.9';
  const host = m.topo.hosts.find((h) => h.name === e.host)!;
  const vtep = host.vtep!;
  const own = m.endpointLabel(e);
  const out: Array<[string, Uint8Array]> = [
    ['bcast', build.arpReq(BC, mac, ip, ip)],
    ['udp-bcast', build.udp4(BC, mac, ip, '255.255.255.255', 68, 67)],
    ['mcast6', build.pad([...build.macB('33:33:00:00:00:01'), ...build.macB(mac), 0x86, 0xdd, 0x60, 0, 0, 0, 0, 8, 17, 1, ...new Array(32).fill(0), 0, 1, 0, 2, 0, 8, 0, 0])],
    ...VLANS.map((v): [string, Uint8Array] => [`tag${v}`, build.arpReq(BC, mac, ip, ip, [v])]),
    ['double-tag', build.arpReq(BC, mac, ip, ip, [10, 20])],
    ['double-tag', build.arpReq(BC, mac, ip, ip, [30, 40])],
    ['qinq', build.arpReq(BC, mac, ip, ip, [0x88a8000a, 20])],
    ['vxlan-to-vtep', build.vxlan({ dmac: vtep.mac, smac: mac, src: ip, dst: vtep.ip, vni: 4096 }, build.arpReq(BC, '02:42:0a:32:00:99', '10.50.0.99', '10.50.0.2'))],
    ['vxlan-to-vtep', build.vxlan({ dmac: vtep.mac, smac: mac, src: ip, dst: vtep.ip, vni: 4097 }, build.arpReq(BC, '02:42:0a:3c:00:99', '10.60.0.99', '10.60.0.2'))],
    ['to-uplink-mac', build.udp4(vtep.mac, mac, ip, vtep.ip, 1, 2)],
  ];
  for (const v of vs) {
    const other = v.label !== own;
    const k = other ? 'other' : 'same';
    out.push([`arp-${k}`, build.arpReq(BC, mac, ip, v.ip)]);
    out.push([`ucast-${k}`, build.udp4(v.mac, mac, ip, v.ip, 1000, 2000)]);
    if (other) {
      out.push(['spoof-mac', build.arpReq(BC, v.mac, v.ip, v.ip)]);
      out.push(['spoof-mac', build.udp4(v.mac, v.mac, v.ip, v.ip, 3, 4)]);
      out.push(['spoof-ip', build.udp4(BC, mac, v.ip, '255.255.255.255', 67, 68)]);
    }
    if (v.gwIp && other) out.push(['gw-arp', build.arpReq(BC, mac, ip, v.gwIp)]);
    if (v.gwIp && v.gwMac && other) out.push(['gw-echo', build.echo4(v.gwMac, mac, ip, v.gwIp)]);
    if (v.vip && other) {
      out.push(['vip-syn', build.tcp4(vipMac(v.vip), mac, ip, v.vip, 40000, 80, 0x02)]);
      out.push(['vip-arp', build.arpReq(BC, mac, ip, v.vip)]);
    }
  }
  return out;
}

export function uplinkFrames(m: Matrix, u: TopologyUplink, vs: Victim[]): Array<[string, Uint8Array]> {
  const src = '02:00:00:00:99:01';
  const host = m.topo.hosts.find((h) => h.name === u.host)!;
  const vtep = host.vtep!;
  const out: Array<[string, Uint8Array]> = [
    ['bcast', build.arpReq(BC, src, '192.0.2.99', '192.0.2.98')],
    ...VLANS.map((v): [string, Uint8Array] => [`tag${v}`, build.arpReq(BC, src, '192.0.2.99', '192.0.2.98', [v])]),
    ['double-tag', build.arpReq(BC, src, '10.10.0.99', '10.20.0.2', [10, 20])],
    ['double-tag', build.arpReq(BC, src, '10.20.0.99', '10.10.0.2', [20, 10])],
    ['double-tag', build.arpReq(BC, src, '10.30.0.99', '10.40.0.2', [30, 40])],
    ['qinq', build.arpReq(BC, src, '10.10.0.99', '10.10.0.2', [0x88a8000a])],
    ['qinq', build.arpReq(BC, src, '10.10.0.99', '10.10.0.2', [0x88a8000a, 20])],
  ];
  for (const v of vs) {
    out.push(['ucast', build.udp4(v.mac, src, '192.0.2.99', v.ip, 1, 2)]);
    for (const t of [10, 20, 30, 40]) {
      out.push([`ucast-tag${t}`, build.udp4(v.mac, src, '192.0.2.99', v.ip, 1, 2, 18, [t])]);
      out.push([`ip-tag${t}`, build.udp4(u.mac, src, '192.0.2.99', v.ip, 1, 2, 18, [t])]);
    }
  }
  // VXLAN to this host's VTEP: the overlays' VNIs (legit), a wrong one, VXLAN inside VXLAN, a tag inside, a tag outside.
  const peerVtep = '192.0.2.77';
  const vx = (vni: number, inner: Uint8Array, tags?: number[]) => build.vxlan({ dmac: vtep.mac, smac: src, src: peerVtep, dst: vtep.ip, vni, ...(tags ? { tags } : {}) }, inner);
  const bc = build.arpReq(BC, '02:42:0a:ff:00:01', '10.50.0.200', '10.50.0.2');
  out.push(['vxlan-vniA', vx(4096, bc)], ['vxlan-vniB', vx(4097, bc)], ['vxlan-wrong-vni', vx(4098, bc)], ['vxlan-wrong-vni', vx(0, bc)], ['vxlan-wrong-vni', vx(0xffffff, bc)]);
  out.push(['vxlan-in-vxlan', vx(4096, build.vxlan({ dmac: vtep.mac, smac: src, src: peerVtep, dst: vtep.ip, vni: 4097 }, bc))]);
  out.push(['vxlan-inner-tag', vx(4096, build.arpReq(BC, '02:42:0a:ff:00:01', '10.50.0.200', '10.50.0.2', [20]))]);
  out.push(['vxlan-outer-tag', vx(4096, bc, [10])]);
  for (const v of vs) {
    out.push(['vxlan-vniA-to', vx(4096, build.udp4(v.mac, '02:42:0a:ff:00:01', '10.50.0.200', v.ip, 1, 2))]);
    out.push(['vxlan-vniB-to', vx(4097, build.udp4(v.mac, '02:42:0a:ff:00:02', '10.60.0.200', v.ip, 1, 2))]);
  }
  return out;
}


/** Runs the whole matrix on a scenario: warm-up, every container port, every uplink. */
export function isolationMatrix(yaml: string = ISOLATION_SCENARIO): { m: Matrix; ports: number; victims: number } {
  const m = new Matrix(yaml);
  const vs = m.victims();
  for (const e of m.topo.endpoints) if (e.mac && e.ip) m.inject(e.port, 'bcast', build.arpReq(BC, e.mac, e.ip, e.ip));
  const ports = new Set<string>();
  for (const e of m.topo.endpoints) {
    ports.add(e.port);
    for (const [kind, f] of containerFrames(m, e, vs)) m.inject(e.port, kind, f);
  }
  for (const u of m.uplinks.values()) {
    ports.add(u.port);
    for (const [kind, f] of uplinkFrames(m, u, vs)) m.inject(u.port, kind, f);
  }
  return { m, ports: ports.size, victims: vs.length };
}
