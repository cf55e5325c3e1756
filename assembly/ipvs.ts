// IPVS on a bridge: virtual services (protocol, VIP, port) or firewall marks,
// real servers, the schedulers of Linux IPVS (rr, wrr, lc, wlc, sh, mh) and
// Katran's Maglev, the connection table (conntrack.ts), NAT and direct routing,
// and an ARP / neighbour-discovery responder for the VIPs.
//
// The whole behaviour, per frame the bridge hands over:
//   ARP/NS for a VIP            -> answer with the bridge's IPVS MAC
//   client -> VIP, known flow   -> rewrite to its real server (NAT: address,
//                                  port, checksums, MAC; DR: MAC only)
//   client -> VIP, new flow     -> pick a real server (scheduler, persistence),
//                                  record the connection, rewrite as above
//   real server -> client       -> rewrite the source back to the VIP (NAT)
//   anything else               -> untouched
// Tables (services, servers, lookup tables) are built by the control plane
// (src/ipvs) between vectors; this file only reads them, except for the
// connection table and the counters it keeps.
import {
  IH_MAGIC, IPVS_MAGIC, IH_BRIDGES, IH_SVC_HASH, IH_SVC_HASH_MASK, IH_ADDR_HASH, IH_ADDR_HASH_MASK,
  IH_MARK_RULES, IH_MARK_COUNT, IH_WORK, IH_CONN_TEMPLATES, IH_ACTIVE_BRIDGES, IpvsSysctl, BR_SIZE, BR_SERVICES, BR_MAC,
  S_USED, S_AF, S_PROTO, S_SCHED, S_FWMARK, S_PORT, S_FLAGS, S_TIMEOUT, S_NETMASK, S_BRIDGE, S_NDESTS,
  S_DESTS, S_TABLE, S_TABLE_SIZE, S_CURSOR, S_WRR_CW, S_WRR_MW, S_WRR_DI, S_MAGLEV_FLAGS, S_ADDR, S_CONNS,
  S_INPKTS, S_OUTPKTS, S_INBYTES, S_OUTBYTES, Scheduler, SvcFlag, MaglevFlag, SH_TAB_SIZE, R_USED, R_FWD,
  R_FLAGS, R_GEN, R_PORT, R_WEIGHT, R_ACTIVE, R_INACT, R_ADDR, R_MAC, R_CONNS, R_INPKTS, R_OUTPKTS, R_INBYTES,
  R_OUTBYTES, Forward, DestFlag, ADDR_SIZE, A_BRIDGE, A_AF, A_KIND, A_COUNT, A_ADDR, AddrKind, MAX_MARK_RULES,
  MARK_SIZE, M_BRIDGE, M_AF, M_PROTO, M_PORT_LO, M_PORT_HI, M_MARK, M_ADDR, M_MASK, C_NEXT, C_EXPIRES,
  C_PROTO, C_STATE, C_FLAGS, C_AF, C_CPORT, C_VPORT, C_DEST, C_DEST_GEN, C_DPORT, C_SVC, C_CTL, C_BRIDGE,
  C_CADDR, C_VADDR, ConnFlag, TcpState, IPVS_MAX_BRIDGES,
} from './ipvs-layout';
import {
  D_SLOT, D_OFF, D_LEN, D_TS_SEC, D_IN_PORT, D_FLAGS, D_DROP, D_VNET_FLAGS, D_CSUM_START, D_CSUM_OFFSET, FrameFlag, MAX_VECTOR, MAX_PORTS,
  P_KIND, P_BRIDGE, PortKind,
} from './layout';
import { Ctr } from './counters';
import { count, desc, port, slotPtr, frameInSlot } from './state';
import { emitDesc } from './graph';
import { csumPartial, csumFold } from './checksum';
import { storeMac, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_ARP, ETHERTYPE_VLAN, ETHERTYPE_QINQ } from './eth';
import {
  connSetup, connEntry, destEntry, svcEntry, destAlive, destBind, connNew, connLink, connRelease, connDue,
  bucketLink, connHash4, connHash6, tcpTransition, tcpFirstTransition, otherTransition, sysctl, ipvsHdr, DIR_INPUT, DIR_OUTPUT, connTick,
} from './conntrack';
import { hsiphash32, MH_KEY1 } from './siphash';
import { jhash2words, jhash16 } from './murmur3';

const IPPROTO_ICMP: u32 = 1;
const IPPROTO_TCP: u32 = 6;
const IPPROTO_UDP: u32 = 17;
const IPPROTO_SCTP: u32 = 132;
const IPPROTO_ICMPV6: u32 = 58;
const IPPROTO_FRAGMENT: u32 = 44;

/** Katran's INIT_JHASH_SEED (CH_RINGS_SIZE = MAX_VIPS 512 x RING_SIZE 65537) and INIT_JHASH_SEED_V6 (MAX_VIPS). */
const KATRAN_SEED: u32 = 512 * 65537;
const KATRAN_SEED_V6: u32 = 512;

// What ipvsProcess did with a frame.
export const IPVS_PASS: i32 = 0; //  not IPVS traffic: forward it untouched
export const IPVS_FWD: i32 = 1; //   rewritten: forward it (re-read the destination MAC)
export const IPVS_REPLY: i32 = 2; // answered in place (ARP / NA): send it back out the ingress port
export const IPVS_DROP: i32 = 3; //  dropped, the reason in `dropReason`

/** Counter id of the last IPVS_DROP. */
let dropReason: i32 = 0;
/** Length of the frame after an in-place reply. */
let replyLen: u32 = 0;
/** Address of the frame's partial transport checksum (NEEDS_CSUM offload metadata), 0 = none. */
let partialAt: usize = 0;

// ---- where the tables are -------------------------------------------------------------

let bridges: usize = 0;
let svcHash: usize = 0;
let svcHashMask: u32 = 0;
let addrHash: usize = 0;
let addrHashMask: u32 = 0;
let markRules: usize = 0;

/**
 * Called by the host once the region header is written (TablePlan init).
 * Returns 0, or -1 when the header is not an IPVS header.
 */
export function ipvsSetup(region: usize): i32 {
  if (load<u32>(region, IH_MAGIC) != IPVS_MAGIC) return -1;
  connSetup(region);
  bridges = <usize>load<u32>(region, IH_BRIDGES);
  svcHash = <usize>load<u32>(region, IH_SVC_HASH);
  svcHashMask = load<u32>(region, IH_SVC_HASH_MASK);
  addrHash = <usize>load<u32>(region, IH_ADDR_HASH);
  addrHashMask = load<u32>(region, IH_ADDR_HASH_MASK);
  markRules = <usize>load<u32>(region, IH_MARK_RULES);
  return 0;
}

// ---- keyed lookups: services, VIP / real server addresses -------------------------------

/**
 * Hash of a lookup key: x (bridge, family, protocol or kind, port) and an
 * address (IPv6 folded to one word first). Two multiplies: these lookups are
 * on every packet of a bridge with services.
 */
// @ts-ignore: decorator
@inline function keyHash(x: u32, a0: u32, a1: u32, a2: u32, a3: u32): u32 {
  let h = (a0 ^ rotl<u32>(a1, 8) ^ rotl<u32>(a2, 16) ^ rotl<u32>(a3, 24) ^ x) * 0x9e3779b1;
  h ^= h >> 15;
  h *= 0x85ebca6b;
  return h ^ (h >> 13);
}

// @ts-ignore: decorator
@inline function svcKey(bridge: u32, af: u32, proto: u32): u32 {
  return bridge | (af << 16) | (proto << 24);
}

/** Whether service s has the key (bridge, af, proto, port, address words); proto 0 = fwmark a0. */
// @ts-ignore: decorator
@inline function svcMatches(s: usize, bridge: u32, af: u32, proto: u32, port: u32, a0: u32, a1: u32, a2: u32, a3: u32): bool {
  // the differences or-ed together and tested once (a chain of && costs V8 a
  // materialised boolean per term); every field read is inside the entry
  if (((<u32>load<u16>(s, S_BRIDGE) ^ bridge) | (<u32>load<u8>(s, S_AF) ^ af) | (<u32>load<u8>(s, S_PROTO) ^ proto)) != 0) return false;
  if (proto == 0) return load<u32>(s, S_FWMARK) == a0;
  return ((<u32>load<u16>(s, S_PORT) ^ port) | (load<u32>(s, S_ADDR) ^ a0) | (load<u32>(s, S_ADDR + 4) ^ a1)
    | (load<u32>(s, S_ADDR + 8) ^ a2) | (load<u32>(s, S_ADDR + 12) ^ a3)) == 0;
}

/**
 * Index of the service with that key, or -1. Linear probing; the first
 * probe (the common case) is inline, the rest of the probe sequence out of
 * line (a loop in the packet path costs V8 an interrupt check per iteration).
 */
// @ts-ignore: decorator
@inline function svcHashFind(bridge: u32, af: u32, proto: u32, port: u32, a0: u32, a1: u32, a2: u32, a3: u32): i32 {
  const i = keyHash(svcKey(bridge, af, proto) ^ (port << 8), a0, a1, a2, a3) & svcHashMask;
  const v = <u32>load<u16>(svcHash + (<usize>i << 1));
  if (v == 0) return -1;
  const s = svcEntry(v - 1);
  if (load<u8>(s, S_USED) != 0 && svcMatches(s, bridge, af, proto, port, a0, a1, a2, a3)) return <i32>(v - 1);
  return svcHashProbe(i, bridge, af, proto, port, a0, a1, a2, a3);
}

/** svcHashFind from the slot after i on. */
function svcHashProbe(i: u32, bridge: u32, af: u32, proto: u32, port: u32, a0: u32, a1: u32, a2: u32, a3: u32): i32 {
  for (let n: u32 = 1; n <= svcHashMask; n++) {
    i = (i + 1) & svcHashMask;
    const v = <u32>load<u16>(svcHash + (<usize>i << 1));
    if (v == 0) return -1;
    const s = svcEntry(v - 1);
    if (load<u8>(s, S_USED) != 0 && svcMatches(s, bridge, af, proto, port, a0, a1, a2, a3)) return <i32>(v - 1);
  }
  return -1;
}

function svcHomeSlot(idx: u32): u32 {
  const s = svcEntry(idx);
  const proto = <u32>load<u8>(s, S_PROTO);
  const key = svcKey(<u32>load<u16>(s, S_BRIDGE), <u32>load<u8>(s, S_AF), proto);
  if (proto == 0) return keyHash(key, load<u32>(s, S_FWMARK), 0, 0, 0) & svcHashMask;
  return keyHash(key ^ (<u32>load<u16>(s, S_PORT) << 8), load<u32>(s, S_ADDR), load<u32>(s, S_ADDR + 4),
    load<u32>(s, S_ADDR + 8), load<u32>(s, S_ADDR + 12)) & svcHashMask;
}

/** Record of (bridge, af, kind, address) in the address hash, or 0. */
function addrFind(bridge: u32, af: u32, kind: u32, a: usize): usize {
  if (af == 4) return addrFind4(bridge, kind, load<u32>(a));
  const a0 = load<u32>(a);
  const a1 = load<u32>(a, 4);
  const a2 = load<u32>(a, 8);
  const a3 = load<u32>(a, 12);
  const key = svcKey(bridge, 6, kind);
  let i = keyHash(key, a0, a1, a2, a3) & addrHashMask;
  for (let n: u32 = 0; n <= addrHashMask; n++) {
    const r = addrHash + <usize>i * ADDR_SIZE;
    const k = load<u32>(r);
    if (k == 0) return 0;
    if (((k ^ key) | (load<u32>(r, A_ADDR) ^ a0) | (load<u32>(r, A_ADDR + 4) ^ a1) | (load<u32>(r, A_ADDR + 8) ^ a2)
      | (load<u32>(r, A_ADDR + 12) ^ a3)) == 0) return r;
    i = (i + 1) & addrHashMask;
  }
  return 0;
}

/** addrFind for an IPv4 address (as load<u32> reads it); the first probe inline, as svcHashFind. */
// @ts-ignore: decorator
@inline function addrFind4(bridge: u32, kind: u32, a0: u32): usize {
  const key = svcKey(bridge, 4, kind);
  const i = keyHash(key, a0, 0, 0, 0) & addrHashMask;
  const r = addrHash + <usize>i * ADDR_SIZE;
  const k = load<u32>(r);
  if (k == 0) return 0;
  // key word (bridge, af, kind) and the address; an IPv4 record has zeros after it
  if (((k ^ key) | (load<u32>(r, A_ADDR) ^ a0)) == 0) return r;
  return addrProbe4(i, key, a0);
}

/** addrFind4 from the slot after i on. */
function addrProbe4(i: u32, key: u32, a0: u32): usize {
  for (let n: u32 = 1; n <= addrHashMask; n++) {
    i = (i + 1) & addrHashMask;
    const r = addrHash + <usize>i * ADDR_SIZE;
    const k = load<u32>(r);
    if (k == 0) return 0;
    if (((k ^ key) | (load<u32>(r, A_ADDR) ^ a0)) == 0) return r;
  }
  return 0;
}

function addrHome(r: usize): u32 {
  return keyHash(svcKey(<u32>load<u16>(r, A_BRIDGE), <u32>load<u8>(r, A_AF), <u32>load<u8>(r, A_KIND)),
    load<u32>(r, A_ADDR), load<u32>(r, A_ADDR + 4), load<u32>(r, A_ADDR + 8), load<u32>(r, A_ADDR + 12)) & addrHashMask;
}

/** Whether home slot k lies cyclically in (i, j]: then the entry at j may not move to i. */
// @ts-ignore: decorator
@inline function between(i: u32, k: u32, j: u32): bool {
  return i <= j ? (i < k && k <= j) : (i < k || k <= j);
}

// ---- firewall marks (iptables -t mangle ... -j MARK) --------------------------------------

/** The mark of a packet: the last matching rule wins, as with iptables MARK; 0 = none. */
function markOf(bridge: u32, af: u32, proto: u32, daddr: usize, dportHost: u32): u32 {
  const n = load<u32>(ipvsHdr, IH_MARK_COUNT);
  let mark: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const r = markRules + <usize>i * MARK_SIZE;
    if (<u32>load<u16>(r, M_BRIDGE) != bridge || <u32>load<u8>(r, M_AF) != af) continue;
    const rp = <u32>load<u8>(r, M_PROTO);
    if (rp != 0 && rp != proto) continue;
    if (dportHost < <u32>load<u16>(r, M_PORT_LO) || dportHost > <u32>load<u16>(r, M_PORT_HI)) continue;
    if (af == 4) {
      if ((load<u32>(daddr) & load<u32>(r, M_MASK)) != load<u32>(r, M_ADDR)) continue;
    } else {
      if ((load<u64>(daddr) & load<u64>(r, M_MASK)) != load<u64>(r, M_ADDR)) continue;
      if ((load<u64>(daddr, 8) & load<u64>(r, M_MASK + 8)) != load<u64>(r, M_ADDR + 8)) continue;
    }
    mark = load<u32>(r, M_MARK);
  }
  return mark;
}

/**
 * ip_vs_service_find: the fwmark service first, then (protocol, VIP, port),
 * then the VIP's port-zero (all ports) service. -1 = none.
 */
// @ts-ignore: decorator
@inline function svcFind(bridge: u32, af: u32, mark: u32, proto: u32, daddr: usize, dport: u32): i32 {
  if (mark != 0) {
    const s = svcHashFind(bridge, af, 0, 0, mark, 0, 0, 0);
    if (s >= 0) return s;
  }
  const a0 = load<u32>(daddr);
  let a1: u32 = 0, a2: u32 = 0, a3: u32 = 0;
  if (af == 6) {
    a1 = load<u32>(daddr, 4);
    a2 = load<u32>(daddr, 8);
    a3 = load<u32>(daddr, 12);
  }
  const s = svcHashFind(bridge, af, proto, dport, a0, a1, a2, a3);
  if (s >= 0) return s;
  return svcHashFind(bridge, af, proto, 0, a0, a1, a2, a3);
}

// ---- schedulers ----------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function available(r: usize): bool {
  return (<u32>(load<i32>(r, R_WEIGHT) > 0) & <u32>((load<u8>(r, R_FLAGS) & DestFlag.OVERLOAD) == 0)) != 0;
}

// @ts-ignore: decorator
@inline function listDest(s: usize, pos: u32): u32 {
  return <u32>load<u16>(<usize>load<u32>(s, S_DESTS) + (<usize>pos << 1));
}

/** ntohl(addr_fold): the address as an integer (IPv4), or the XOR of its four big-endian words (IPv6). */
// @ts-ignore: decorator
@inline function addrFold(af: u32, a: usize): u32 {
  if (af == 4) return bswap<u32>(load<u32>(a));
  return bswap<u32>(load<u32>(a) ^ load<u32>(a, 4) ^ load<u32>(a, 8) ^ load<u32>(a, 12));
}

/** ip_vs_rr_schedule: the next available server after the last pick, once round the list. */
function schedRr(s: usize): i32 {
  const n = <u32>load<u16>(s, S_NDESTS);
  if (n == 0) return -1;
  const cursor = load<u32>(s, S_CURSOR);
  const start: u32 = cursor >= n ? 0 : cursor + 1;
  for (let k: u32 = 0; k < n; k++) {
    let pos = start + k;
    if (pos >= n) pos -= n;
    const d = listDest(s, pos);
    if (available(destEntry(d))) {
      store<u32>(s, pos, S_CURSOR);
      return <i32>d;
    }
  }
  return -1;
}

/** ip_vs_wrr_schedule (with the kernel's mw reduced by di - 1). */
function schedWrr(s: usize): i32 {
  const n = <u32>load<u16>(s, S_NDESTS);
  const mw = load<i32>(s, S_WRR_MW);
  const di = load<i32>(s, S_WRR_DI);
  let cw = load<i32>(s, S_WRR_CW);
  let pos = load<u32>(s, S_CURSOR); // n = the head
  if (mw == 0 || n == 0) return -1;
  const last = pos;
  let stop: i32 = -1;
  let lastPass = false;
  let restarted = false;
  for (;;) {
    // continue the walk after pos up to the head
    let p: u32 = pos >= n ? 0 : pos + 1;
    while (p < n) {
      const d = listDest(s, p);
      const r = destEntry(d);
      if ((load<u8>(r, R_FLAGS) & DestFlag.OVERLOAD) == 0 && load<i32>(r, R_WEIGHT) >= cw) {
        store<u32>(s, p, S_CURSOR);
        store<i32>(s, cw, S_WRR_CW);
        return <i32>d;
      }
      if (<i32>p == stop) {
        store<u32>(s, p, S_CURSOR);
        store<i32>(s, cw, S_WRR_CW);
        return -1;
      }
      p++;
    }
    pos = n;
    cw -= di;
    if (cw <= 0) {
      cw = mw;
      if (lastPass || last == n) {
        store<u32>(s, n, S_CURSOR);
        store<i32>(s, cw, S_WRR_CW);
        return -1;
      }
      restarted = true;
    }
    lastPass = cw <= di;
    if (lastPass && restarted && last != n) stop = <i32>last;
  }
  return -1;
}

/** ip_vs_dest_conn_overhead. */
// @ts-ignore: decorator
@inline function overhead(r: usize): u32 {
  return (load<u32>(r, R_ACTIVE) << 8) + load<u32>(r, R_INACT);
}

/** ip_vs_lc_schedule. */
function schedLc(s: usize): i32 {
  const n = <u32>load<u16>(s, S_NDESTS);
  let least: i32 = -1;
  let loh: u32 = 0;
  for (let p: u32 = 0; p < n; p++) {
    const d = listDest(s, p);
    const r = destEntry(d);
    if ((load<u8>(r, R_FLAGS) & DestFlag.OVERLOAD) != 0 || load<i32>(r, R_WEIGHT) == 0) continue;
    const doh = overhead(r);
    if (least < 0 || doh < loh) {
      least = <i32>d;
      loh = doh;
    }
  }
  return least;
}

/** ip_vs_wlc_schedule. */
function schedWlc(s: usize): i32 {
  const n = <u32>load<u16>(s, S_NDESTS);
  let p: u32 = 0;
  let least: i32 = -1;
  let loh: i64 = 0;
  let lw: i64 = 0;
  for (; p < n; p++) {
    const d = listDest(s, p);
    const r = destEntry(d);
    if (available(r)) {
      least = <i32>d;
      loh = <i64>overhead(r);
      lw = <i64>load<i32>(r, R_WEIGHT);
      break;
    }
  }
  if (least < 0) return -1;
  for (p++; p < n; p++) {
    const d = listDest(s, p);
    const r = destEntry(d);
    if ((load<u8>(r, R_FLAGS) & DestFlag.OVERLOAD) != 0) continue;
    const doh = <i64>overhead(r);
    const w = <i64>load<i32>(r, R_WEIGHT);
    if (loh * w > doh * lw) {
      least = <i32>d;
      loh = doh;
      lw = w;
    }
  }
  return least;
}

/** The table slot's server, or -1 (empty slot). */
// @ts-ignore: decorator
@inline function tableAt(s: usize, slot: u32): i32 {
  return load<i32>(<usize>load<u32>(s, S_TABLE) + (<usize>slot << 2));
}

/** ip_vs_sh_schedule (with sh-port and sh-fallback). */
function schedSh(s: usize, v: u32): i32 {
  const flags = <u32>load<u16>(s, S_FLAGS);
  const ihash = ((v * 0x61c88647) >> 24) & (SH_TAB_SIZE - 1);
  const d = tableAt(s, ihash);
  if (d < 0) return -1;
  if (available(destEntry(<u32>d))) return d;
  if ((flags & SvcFlag.SCHED1) == 0) return -1;
  for (let off: u32 = 0; off < <u32>SH_TAB_SIZE; off++) {
    const roffset = (off + ihash) & (SH_TAB_SIZE - 1);
    const h = (roffset + ((v * 0x61c88647) >> 24)) & (SH_TAB_SIZE - 1);
    const x = tableAt(s, h);
    if (x < 0) return -1;
    if (available(destEntry(<u32>x))) return x;
  }
  return -1;
}

/** ip_vs_mh_schedule (with mh-port and mh-fallback); v = ntohl(addr_fold) + port. */
// @ts-ignore: decorator
@inline function schedMh(s: usize, v: u32): i32 {
  const m = load<u32>(s, S_TABLE_SIZE);
  // the table size of the kernel's default build (CONFIG_IP_VS_MH_TAB_INDEX 12), a
  // constant there as here: a multiply instead of a division
  const hv = hsiphash32(v, MH_KEY1);
  const ihash = m == 4093 ? hv % 4093 : hv % m;
  const d = tableAt(s, ihash);
  if (d < 0) return -1;
  if (available(destEntry(<u32>d))) return d;
  if ((<u32>load<u16>(s, S_FLAGS) & SvcFlag.SCHED1) == 0) return -1;
  for (let off: u32 = 0; off < m; off++) {
    const roffset = (off + ihash) % m;
    const x = tableAt(s, hsiphash32(roffset + v, MH_KEY1) % m);
    if (x < 0) return -1;
    if (available(destEntry(<u32>x))) return x;
  }
  return -1;
}

/**
 * Katran's get_packet_dst: ring[jhash(source, ports) % ring size]. The ring
 * holds real server indexes; a server that is not available (weight 0,
 * overloaded) gives no destination, as an empty slot does.
 */
// @ts-ignore: decorator
@inline function schedMaglev(s: usize, af: u32, saddr: usize, ports: u32): i32 {
  const flags = load<u32>(s, S_MAGLEV_FLAGS);
  let src: u32 = load<u32>(saddr);
  let h: u32;
  if (flags & MaglevFlag.HASH_DPORT_ONLY) {
    const dp = ports >> 16;
    ports = dp | (dp << 16);
    if (af == 6) h = jhash2words(jhash16Zero(), ports, KATRAN_SEED);
    else h = jhash2words(0, ports, KATRAN_SEED);
  } else {
    if (flags & MaglevFlag.HASH_NO_SRC_PORT) ports &= 0xffff0000;
    if (af == 6) h = jhash2words(jhash16(saddr, KATRAN_SEED_V6), ports, KATRAN_SEED);
    else h = jhash2words(src, ports, KATRAN_SEED);
  }
  // Katran's RING_SIZE, a constant there as here: a multiply instead of a division
  const m = load<u32>(s, S_TABLE_SIZE);
  const d = tableAt(s, m == 65537 ? h % 65537 : h % m);
  if (d < 0 || !available(destEntry(<u32>d))) return -1;
  return d;
}

/** jhash of 16 zero bytes with the IPv6 seed (F_HASH_DPORT_ONLY clears the source). */
function jhash16Zero(): u32 {
  const p = <usize>load<u32>(ipvsHdr, IH_WORK);
  store<u64>(p, 0);
  store<u64>(p, 0, 8);
  return jhash16(p, KATRAN_SEED_V6);
}

/**
 * Runs service s's scheduler for a packet from saddr:sport (l4 = its
 * transport header). Returns a real server index or -1.
 */
// @ts-ignore: decorator
@inline function schedule(s: usize, af: u32, proto: u32, saddr: usize, l4: usize): i32 {
  switch (<i32>load<u8>(s, S_SCHED)) {
    case Scheduler.RR: return schedRr(s);
    case Scheduler.WRR: return schedWrr(s);
    case Scheduler.LC: return schedLc(s);
    case Scheduler.WLC: return schedWlc(s);
    case Scheduler.SH: {
      let port: u32 = 0;
      if ((<u32>load<u16>(s, S_FLAGS) & SvcFlag.SCHED2) != 0 && hasPorts(proto)) port = <u32>bswap<u16>(load<u16>(l4));
      return schedSh(s, port + addrFold(af, saddr));
    }
    case Scheduler.MH: {
      let port: u32 = 0;
      if ((<u32>load<u16>(s, S_FLAGS) & SvcFlag.SCHED2) != 0 && hasPorts(proto)) port = <u32>bswap<u16>(load<u16>(l4));
      return schedMh(s, port + addrFold(af, saddr));
    }
    case Scheduler.MAGLEV: return schedMaglev(s, af, saddr, load<u32>(l4));
    default: return -1;
  }
}

// @ts-ignore: decorator
@inline function hasPorts(proto: u32): bool {
  return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

// ---- connection lookups ---------------------------------------------------------------------

// @ts-ignore: decorator
@inline function addrEq(af: u32, x: usize, y: usize): bool {
  if (af == 4) return load<u32>(x) == load<u32>(y);
  return load<u64>(x) == load<u64>(y) && load<u64>(x, 8) == load<u64>(y, 8);
}

/** Copies 16 bytes (an IPv6 address): two 8-byte moves, no memory.copy call. */
// @ts-ignore: decorator
@inline function copy16(dst: usize, src: usize): void {
  store<u64>(dst, load<u64>(src));
  store<u64>(dst, load<u64>(src, 8), 8);
}

// @ts-ignore: decorator
@inline function clientBucket(af: u32, proto: u32, caddr: usize, cport: u32): u32 {
  return af == 4 ? connHash4(proto, load<u32>(caddr), cport) : connHash6(proto, caddr, cport);
}

/** Whether entry e is the connection of client caddr:cport to vaddr:vport on the bridge. */
// @ts-ignore: decorator
@inline function connInMatch(e: usize, bridge: u32, af: u32, proto: u32, caddr: usize, cport: u32, vaddr: usize, vport: u32): bool {
  // protocol, family and "not a template" in one word; both ports in another
  let m = (load<u32>(e, C_PROTO) & 0xff0100ff) ^ (proto | (af << 24));
  m |= load<u32>(e, C_CPORT) ^ (cport | (vport << 16));
  m |= <u32>load<u16>(e, C_BRIDGE) ^ bridge;
  if (af == 4) return (m | (load<u32>(e, C_CADDR) ^ load<u32>(caddr)) | (load<u32>(e, C_VADDR) ^ load<u32>(vaddr))) == 0;
  return m == 0 && addrEq(6, e + C_CADDR, caddr) && addrEq(6, e + C_VADDR, vaddr);
}

/**
 * ip_vs_conn_in_get: the connection of client caddr:cport to vaddr:vport.
 * The common case, a live connection first in its bucket, is inline; the
 * walk (which reclaims what is due on the chain) is out of line. 0 = none.
 */
// @ts-ignore: decorator
@inline function connIn(bridge: u32, af: u32, proto: u32, caddr: usize, cport: u32, vaddr: usize, vport: u32, now: u32): usize {
  const b = clientBucket(af, proto, caddr, cport);
  const idx = load<u32>(bucketLink(b));
  if (idx != 0) {
    const e = connEntry(idx - 1);
    // live and of a live server (connDue's fast test, without its side effects)
    if (connInMatch(e, bridge, af, proto, caddr, cport, vaddr, vport) && <i32>(now - load<u32>(e, C_EXPIRES)) < 0 && destAlive(e)) return e;
  }
  return connInWalk(b, bridge, af, proto, caddr, cport, vaddr, vport, now);
}

function connInWalk(b: u32, bridge: u32, af: u32, proto: u32, caddr: usize, cport: u32, vaddr: usize, vport: u32, now: u32): usize {
  let link = bucketLink(b);
  let idx = load<u32>(link);
  while (idx != 0) {
    const e = connEntry(idx - 1);
    if (connDue(e, now)) {
      connRelease(link, e);
    } else {
      if (connInMatch(e, bridge, af, proto, caddr, cport, vaddr, vport)) return e;
      link = e + C_NEXT;
    }
    idx = load<u32>(link);
  }
  return 0;
}

/**
 * ip_vs_conn_out_get: the NAT connection whose real server raddr:rport
 * answers client caddr:cport. 0 = none.
 */
function connOut(bridge: u32, af: u32, proto: u32, caddr: usize, cport: u32, raddr: usize, rport: u32, now: u32): usize {
  let link = bucketLink(clientBucket(af, proto, caddr, cport));
  let idx = load<u32>(link);
  while (idx != 0) {
    const e = connEntry(idx - 1);
    if (connDue(e, now)) {
      connRelease(link, e);
    } else {
      if (<u32>load<u16>(e, C_CPORT) == cport && <u32>load<u8>(e, C_PROTO) == proto
        && <u32>load<u8>(e, C_AF) == af && <u32>load<u16>(e, C_DPORT) == rport
        && (load<u8>(e, C_FLAGS) & ConnFlag.TEMPLATE) == 0 && <u32>load<u16>(e, C_BRIDGE) == bridge
        && addrEq(af, e + C_CADDR, caddr) && destAlive(e)) {
        const r = destEntry(<u32>load<u16>(e, C_DEST));
        if (load<u8>(r, R_FWD) == Forward.NAT && addrEq(af, r + R_ADDR, raddr)) return e;
      }
      link = e + C_NEXT;
    }
    idx = load<u32>(link);
  }
  return 0;
}

/** Scratch for a masked client address (persistence). */
// @ts-ignore: decorator
@inline function snetScratch(): usize {
  return <usize>load<u32>(ipvsHdr, IH_WORK) + 16;
}

/**
 * ip_vs_sched_persist: the template of the client's network for service
 * svc, created (with a freshly scheduled server) if there is none valid.
 * Returns the template, 0 when no server is available (dropReason set), or 1
 * when the table is full.
 */
function persistTemplate(svc: u32, s: usize, bridge: u32, af: u32, proto: u32, caddr: usize, vaddr: usize,
  vport: u32, l4: usize, now: u32): usize {
  // the client's network
  const snet = snetScratch();
  store<u64>(snet, 0);
  store<u64>(snet, 0, 8);
  const nm = load<u32>(s, S_NETMASK);
  if (af == 4) {
    store<u32>(snet, load<u32>(caddr) & nm);
  } else {
    // nm = prefix length
    for (let i: u32 = 0; i < 16; i++) {
      const bits: i32 = <i32>nm - <i32>(i << 3);
      if (bits <= 0) break;
      const mask: u32 = bits >= 8 ? 0xff : (0xff << (8 - <u32>bits)) & 0xff;
      store<u8>(snet + i, <u8>(<u32>load<u8>(caddr + i) & mask));
    }
  }
  const sport = <u32>load<u16>(s, S_PORT);
  const tproto: u32 = sport != 0 ? proto : 0;
  const tvport: u32 = sport != 0 ? vport : 0;
  const b = clientBucket(af, tproto, snet, 0);
  let link = bucketLink(b);
  let idx = load<u32>(link);
  let t: usize = 0;
  while (idx != 0) {
    const e = connEntry(idx - 1);
    if (connDue(e, now)) {
      connRelease(link, e);
    } else {
      if ((load<u8>(e, C_FLAGS) & (ConnFlag.TEMPLATE | ConnFlag.DEAD)) == ConnFlag.TEMPLATE
        && <u32>load<u16>(e, C_SVC) == svc && <u32>load<u16>(e, C_VPORT) == tvport
        && <u32>load<u8>(e, C_AF) == af && addrEq(af, e + C_CADDR, snet)) {
        t = e;
        break;
      }
      link = e + C_NEXT;
    }
    idx = load<u32>(link);
  }
  if (t != 0) {
    // ip_vs_check_template: the server must still be there (and, with
    // expire_quiescent_template, not quiesced)
    const r = destEntry(<u32>load<u16>(t, C_DEST));
    if (!destAlive(t) || (sysctl(IpvsSysctl.EXPIRE_QUIESCENT_TEMPLATE) && load<i32>(r, R_WEIGHT) <= 0)) {
      store<u8>(t, load<u8>(t, C_FLAGS) | ConnFlag.DEAD, C_FLAGS);
      t = 0;
    }
  }
  if (t == 0) {
    const d = schedule(s, af, proto, caddr, l4);
    if (d < 0) {
      dropReason = Ctr.IpvsNoDest;
      return 0;
    }
    t = connNew(now);
    if (t == 0) return 1;
    store<u8>(t, <u8>tproto, C_PROTO);
    store<u8>(t, 0, C_STATE);
    store<u8>(t, ConnFlag.TEMPLATE, C_FLAGS);
    store<u8>(t, <u8>af, C_AF);
    store<u16>(t, 0, C_CPORT);
    store<u16>(t, <u16>tvport, C_VPORT);
    const r = destEntry(<u32>d);
    store<u16>(t, <u16>d, C_DEST);
    store<u16>(t, load<u16>(r, R_GEN), C_DEST_GEN);
    store<u16>(t, 0, C_DPORT);
    store<u16>(t, <u16>svc, C_SVC);
    store<u32>(t, 0, C_CTL);
    store<u16>(t, <u16>bridge, C_BRIDGE);
    copy16(t + C_CADDR, snet);
    if (af == 4) {
      store<u32>(t, load<u32>(vaddr), C_VADDR);
      store<u32>(t, 0, C_VADDR + 4);
      store<u64>(t, 0, C_VADDR + 8);
    } else {
      copy16(t + C_VADDR, vaddr);
    }
    if (<u32>load<u8>(s, S_PROTO) == 0) {
      store<u32>(t, load<u32>(s, S_FWMARK), C_VADDR);
      store<u32>(t, 0, C_VADDR + 4);
      store<u64>(t, 0, C_VADDR + 8);
    }
    destBind(r, ConnFlag.TEMPLATE);
    store<u32>(ipvsHdr, load<u32>(ipvsHdr, IH_CONN_TEMPLATES) + 1, IH_CONN_TEMPLATES);
    connLink(t, b);
  }
  store<u32>(t, now + load<u32>(s, S_TIMEOUT), C_EXPIRES);
  return t;
}

// ---- NAT: incremental checksums (RFC 1624), on words as little-endian loads read them ------

// @ts-ignore: decorator
@inline function sumReplace32(sum: u32, old: u32, nw: u32): u32 {
  return sum + (~old & 0xffff) + (~old >> 16) + (nw & 0xffff) + (nw >> 16);
}

// @ts-ignore: decorator
@inline function sumReplace16(sum: u32, old: u32, nw: u32): u32 {
  return sum + (~old & 0xffff) + nw;
}

/** Offset of the checksum in the transport header, or 0 for none we update. */
// @ts-ignore: decorator
@inline function l4CsumOff(proto: u32): u32 {
  return proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 0;
}

/**
 * Rewrites one address (at a, 4 or 16 bytes) and one port (at pp) to naddr /
 * nport, updating the IPv4 header checksum and the transport checksum (its
 * pseudo-header covers the address). A partial checksum (a frame with
 * NEEDS_CSUM offload metadata: the field holds the pseudo-header sum, the
 * rest is summed later) moves with the address only, uncomplemented, as the
 * kernel's tcp_partial_csum_update.
 */
// @ts-ignore: decorator
@inline function natRewrite(af: u32, ip: usize, a: usize, naddr: usize, pp: usize, nport: u32, proto: u32, l4: usize): void {
  let addrSum: u32;
  if (af == 4) {
    const old = load<u32>(a);
    const nw = load<u32>(naddr);
    const hc = <u32>load<u16>(ip, 10);
    store<u16>(ip, ~csumFold(sumReplace32(~hc & 0xffff, old, nw)), 10);
    addrSum = sumReplace32(0, old, nw);
    store<u32>(a, nw);
  } else {
    addrSum = addr6Replace(a, naddr);
  }
  let sum = addrSum;
  const oldPort = <u32>load<u16>(pp);
  if (nport != oldPort) {
    sum = sumReplace16(sum, oldPort, nport);
    store<u16>(pp, <u16>nport);
  }
  const off = l4CsumOff(proto);
  if (off == 0) return;
  const field = l4 + off;
  if (partialAt != 0) {
    if (field == partialAt) store<u16>(field, csumFold(addrSum + <u32>load<u16>(field)));
    return;
  }
  const c = <u32>load<u16>(field);
  if (proto == IPPROTO_UDP && c == 0 && af == 4) return; // no UDP checksum: keep none
  let nc = <u32>(~csumFold(sum + (~c & 0xffff)) & 0xffff);
  if (proto == IPPROTO_UDP && nc == 0) nc = 0xffff;
  store<u16>(field, <u16>nc);
}

/** Replaces an IPv6 address; returns the checksum difference. */
function addr6Replace(a: usize, naddr: usize): u32 {
  let sum: u32 = 0;
  for (let i: usize = 0; i < 16; i += 4) sum = sumReplace32(sum, load<u32>(a + i), load<u32>(naddr + i));
  copy16(a, naddr);
  return sum;
}

// ---- forwarding --------------------------------------------------------------------------

/**
 * Client -> VIP on connection e: state, statistics, then NAT (destination
 * address, port, MAC) or direct routing (destination MAC only).
 */
// @ts-ignore: decorator
@inline function forwardIn(e: usize, frame: usize, af: u32, ip: usize, l4: usize, proto: u32, tcpFlags: u32, ipLen: u32, now: u32): i32 {
  if (proto == IPPROTO_TCP) tcpTransition(e, DIR_INPUT, tcpFlags, now);
  else otherTransition(e, proto, now);
  const r = destEntry(<u32>load<u16>(e, C_DEST));
  const s = svcEntry(<u32>load<u16>(e, C_SVC));
  store<u64>(r, load<u64>(r, R_INPKTS) + 1, R_INPKTS);
  store<u64>(r, load<u64>(r, R_INBYTES) + <u64>ipLen, R_INBYTES);
  store<u64>(s, load<u64>(s, S_INPKTS) + 1, S_INPKTS);
  store<u64>(s, load<u64>(s, S_INBYTES) + <u64>ipLen, S_INBYTES);
  storeMac(frame, load<u64>(r, R_MAC));
  if (load<u8>(r, R_FWD) == Forward.NAT) {
    natRewrite(af, ip, ip + (af == 4 ? 16 : 24), r + R_ADDR, l4 + 2, <u32>load<u16>(e, C_DPORT), proto, l4);
  }
  count(Ctr.IpvsInPackets);
  return IPVS_FWD;
}

/** Real server -> client on NAT connection e: the source becomes the VIP again. */
function forwardOut(e: usize, frame: usize, bridge: u32, af: u32, ip: usize, l4: usize, proto: u32, tcpFlags: u32, ipLen: u32, now: u32): i32 {
  if (proto == IPPROTO_TCP) tcpTransition(e, DIR_OUTPUT, tcpFlags, now);
  else otherTransition(e, proto, now);
  const r = destEntry(<u32>load<u16>(e, C_DEST));
  const s = svcEntry(<u32>load<u16>(e, C_SVC));
  store<u64>(r, load<u64>(r, R_OUTPKTS) + 1, R_OUTPKTS);
  store<u64>(r, load<u64>(r, R_OUTBYTES) + <u64>ipLen, R_OUTBYTES);
  store<u64>(s, load<u64>(s, S_OUTPKTS) + 1, S_OUTPKTS);
  store<u64>(s, load<u64>(s, S_OUTBYTES) + <u64>ipLen, S_OUTBYTES);
  storeMac(frame + 6, load<u64>(bridges + <usize>bridge * BR_SIZE, BR_MAC));
  natRewrite(af, ip, ip + (af == 4 ? 12 : 8), e + C_VADDR, l4, <u32>load<u16>(e, C_VPORT), proto, l4);
  count(Ctr.IpvsOutPackets);
  return IPVS_FWD;
}

// @ts-ignore: decorator
@inline function drop(reason: i32): i32 {
  dropReason = reason;
  return IPVS_DROP;
}

/**
 * The transport part, shared by IPv4 and IPv6: l4 is the TCP/UDP header
 * (at least 8 bytes, 20 for TCP, checked by the caller); saddr/daddr point
 * into the IP header. The established client -> VIP case is inline; new
 * connections and replies are out of line.
 */
// @ts-ignore: decorator
@inline function transport(frame: usize, bridge: u32, af: u32, ip: usize, saddr: usize, daddr: usize, proto: u32, l4: usize,
  ipLen: u32, isVip: bool, now: u32): i32 {
  const sport = <u32>load<u16>(l4);
  const dport = <u32>load<u16>(l4, 2);
  let mark: u32 = 0;
  if (load<u32>(ipvsHdr, IH_MARK_COUNT) != 0) mark = markOf(bridge, af, proto, daddr, <u32>bswap<u16>(<u16>dport));
  if (!isVip && mark == 0) return replyPath(frame, bridge, af, ip, proto, l4, now);
  // client -> VIP: a known connection?
  const e = connIn(bridge, af, proto, saddr, sport, daddr, dport, now);
  if (e == 0) return newConnection(frame, bridge, af, ip, proto, l4, mark, now, sport, dport, ipLen, clientBucket(af, proto, saddr, sport));
  // its real server is gone and expire_nodest_conn is off: drop (as the kernel)
  if (!destAlive(e)) return drop(Ctr.IpvsNoDest);
  return forwardIn(e, frame, af, ip, l4, proto, proto == IPPROTO_TCP ? <u32>load<u8>(l4, 13) : 0, ipLen, now);
}

/** Source / destination address and IP packet length of an IPv4 or IPv6 header at ip. */
// @ts-ignore: decorator
@inline function srcOf(af: u32, ip: usize): usize {
  return ip + (af == 4 ? 12 : 8);
}

// @ts-ignore: decorator
@inline function dstOf(af: u32, ip: usize): usize {
  return ip + (af == 4 ? 16 : 24);
}

// @ts-ignore: decorator
@inline function ipLenOf(af: u32, ip: usize): u32 {
  return af == 4 ? <u32>bswap<u16>(load<u16>(ip, 2)) : <u32>bswap<u16>(load<u16>(ip, 4)) + 40;
}

/** Real server -> client: a NAT connection's reply goes back from the VIP. */
function replyPath(frame: usize, bridge: u32, af: u32, ip: usize, proto: u32, l4: usize, now: u32): i32 {
  const saddr = srcOf(af, ip);
  const daddr = dstOf(af, ip);
  const ipLen = ipLenOf(af, ip);
  if (addrFind(bridge, af, AddrKind.REAL, saddr) == 0) return IPVS_PASS;
  const e = connOut(bridge, af, proto, daddr, <u32>load<u16>(l4, 2), saddr, <u32>load<u16>(l4), now);
  if (e == 0) return IPVS_PASS;
  return forwardOut(e, frame, bridge, af, ip, l4, proto, proto == IPPROTO_TCP ? <u32>load<u8>(l4, 13) : 0, ipLen, now);
}

/** A packet for a VIP with no connection: find the service, schedule, record the connection, forward. */
// @ts-ignore: decorator
@inline function newConnection(frame: usize, bridge: u32, af: u32, ip: usize, proto: u32, l4: usize, mark: u32, now: u32,
  sport: u32, dport: u32, ipLen: u32, b: u32): i32 {
  // sport, dport (as load<u16> reads them), ipLen and the client's bucket b come from the caller, which has them
  const saddr = srcOf(af, ip);
  const daddr = dstOf(af, ip);
  const tcpFlags: u32 = proto == IPPROTO_TCP ? <u32>load<u8>(l4, 13) : 0;
  const svc = svcFind(bridge, af, mark, proto, daddr, dport);
  if (svc < 0) return drop(Ctr.IpvsNoService);
  const s = svcEntry(<u32>svc);
  // TCP schedules on a SYN (any segment but RST with sloppy_tcp)
  if (proto == IPPROTO_TCP && ((tcpFlags & 0x04) != 0 || ((tcpFlags & 0x02) == 0 && !sysctl(IpvsSysctl.SLOPPY_TCP)))) {
    return drop(Ctr.IpvsNoConn);
  }
  let d: i32;
  let t: usize = 0;
  if (<u32>load<u16>(s, S_FLAGS) & SvcFlag.PERSISTENT) {
    t = persistTemplate(<u32>svc, s, bridge, af, proto, saddr, daddr, dport, l4, now);
    if (t == 0) return drop(dropReason);
    if (t == 1) return drop(Ctr.IpvsConnTableFull);
    d = <i32>load<u16>(t, C_DEST);
  } else {
    d = schedule(s, af, proto, saddr, l4);
    if (d < 0) return drop(Ctr.IpvsNoDest);
  }
  const e = connNew(now);
  if (e == 0) return drop(Ctr.IpvsConnTableFull);
  const r = destEntry(<u32>d);
  let rport = <u32>load<u16>(r, R_PORT);
  if (rport == 0) rport = dport;
  let flags: u32 = ConnFlag.INACTIVE;
  if (load<u8>(r, R_FWD) != Forward.NAT) flags |= ConnFlag.NOOUTPUT;
  // the fields in word-sized stores (what a C compiler's store merging would do):
  // protocol, state NONE, flags, family | client port, virtual port |
  // server, its generation | server port, service | bridge
  store<u32>(e, proto | (flags << 16) | (af << 24), C_PROTO);
  store<u32>(e, sport | (dport << 16), C_CPORT);
  store<u32>(e, <u32>d | (<u32>load<u16>(r, R_GEN) << 16), C_DEST);
  store<u32>(e, rport | (<u32>svc << 16), C_DPORT);
  store<u32>(e, bridge, C_BRIDGE);
  if (t != 0) {
    store<u32>(e, <u32>((t - connEntry(0)) >> 6) + 1, C_CTL);
    store<u32>(t, load<u32>(t, C_CTL) + 1, C_CTL);
  } else {
    store<u32>(e, 0, C_CTL);
  }
  if (af == 4) {
    store<u32>(e, load<u32>(saddr), C_CADDR);
    store<u32>(e, 0, C_CADDR + 4);
    store<u64>(e, 0, C_CADDR + 8);
    store<u32>(e, load<u32>(daddr), C_VADDR);
    store<u32>(e, 0, C_VADDR + 4);
    store<u64>(e, 0, C_VADDR + 8);
  } else {
    copy16(e + C_CADDR, saddr);
    copy16(e + C_VADDR, daddr);
  }
  store<u32>(e, now, C_EXPIRES);
  destBind(r, flags);
  connLink(e, b);
  store<u64>(r, load<u64>(r, R_CONNS) + 1, R_CONNS);
  store<u64>(s, load<u64>(s, S_CONNS) + 1, S_CONNS);
  count(Ctr.IpvsNewConns);
  // forwardIn, with what was just stored kept in locals rather than read back
  if (proto == IPPROTO_TCP) tcpFirstTransition(e, r, flags, tcpFlags, now);
  else otherTransition(e, proto, now);
  store<u64>(r, load<u64>(r, R_INPKTS) + 1, R_INPKTS);
  store<u64>(r, load<u64>(r, R_INBYTES) + <u64>ipLen, R_INBYTES);
  store<u64>(s, load<u64>(s, S_INPKTS) + 1, S_INPKTS);
  store<u64>(s, load<u64>(s, S_INBYTES) + <u64>ipLen, S_INBYTES);
  storeMac(frame, load<u64>(r, R_MAC));
  if (load<u8>(r, R_FWD) == Forward.NAT) natRewrite(af, ip, daddr, r + R_ADDR, l4 + 2, rport, proto, l4);
  count(Ctr.IpvsInPackets);
  return IPVS_FWD;
}

// ---- IPv4 -----------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function ip4(frame: usize, l3: u32, len: u32, bridge: u32, now: u32): i32 {
  if (len < l3 + 20) return IPVS_PASS;
  const ip = frame + l3;
  const daddr = ip + 16;
  const isVip = addrFind4(bridge, AddrKind.VIP, load<u32>(daddr)) != 0;
  const vihl = <u32>load<u8>(ip);
  const ihl = (vihl & 15) << 2;
  const totLen = <u32>bswap<u16>(load<u16>(ip, 2));
  if ((vihl >> 4) != 4 || ihl < 20 || totLen < ihl || l3 + totLen > len) {
    return isVip ? drop(Ctr.IpvsBadHeader) : IPVS_PASS;
  }
  const proto = <u32>load<u8>(ip, 9);
  const l4 = ip + ihl;
  const l4len = totLen - ihl;
  if (proto == IPPROTO_ICMP) return icmp4(frame, bridge, ip, l4, l4len, isVip, now);
  if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
    return isVip ? drop(Ctr.IpvsUnsupportedProto) : IPVS_PASS;
  }
  if ((bswap<u16>(load<u16>(ip, 6)) & 0x3fff) != 0) {
    // a fragment: netwasm does not reassemble (the kernel would)
    return isVip ? drop(Ctr.IpvsFragment) : IPVS_PASS;
  }
  if (l4len < (proto == IPPROTO_TCP ? <u32>20 : <u32>8)) return isVip ? drop(Ctr.IpvsTruncated) : IPVS_PASS;
  return transport(frame, bridge, 4, ip, ip + 12, daddr, proto, l4, totLen, isVip, now);
}

/**
 * ICMP errors about a connection (ip_vs_in_icmp / ip_vs_out_icmp): the
 * quoted packet is rewritten as the connection's packets are, the outer
 * address too, and the ICMP checksum is recomputed.
 */
function icmp4(frame: usize, bridge: u32, ip: usize, icmp: usize, icmpLen: u32, isVip: bool, now: u32): i32 {
  if (icmpLen < 8) return isVip ? drop(Ctr.IpvsTruncated) : IPVS_PASS;
  const type = <u32>load<u8>(icmp);
  if (type != 3 && type != 4 && type != 11 && type != 12) {
    // not an error (echo and the like): the VIP answers nothing
    return isVip ? drop(Ctr.IpvsUnsupportedProto) : IPVS_PASS;
  }
  const cip = icmp + 8;
  if (icmpLen < 8 + 20) return isVip ? drop(Ctr.IpvsBadIcmp) : IPVS_PASS;
  const cihl = (<u32>load<u8>(cip) & 15) << 2;
  const cproto = <u32>load<u8>(cip, 9);
  if ((<u32>load<u8>(cip) >> 4) != 4 || cihl < 20 || icmpLen < 8 + cihl + 8
    || (cproto != IPPROTO_TCP && cproto != IPPROTO_UDP)) {
    return isVip ? drop(Ctr.IpvsBadIcmp) : IPVS_PASS;
  }
  const cl4 = cip + cihl;
  if (isVip) {
    // client -> VIP about a reply it got: quoted VIP:vport -> client:cport
    const e = connIn(bridge, 4, cproto, cip + 16, <u32>load<u16>(cl4, 2), cip + 12, <u32>load<u16>(cl4), now);
    if (e == 0 || !destAlive(e)) return drop(Ctr.IpvsBadIcmp);
    const r = destEntry(<u32>load<u16>(e, C_DEST));
    storeMac(frame, load<u64>(r, R_MAC));
    if (load<u8>(r, R_FWD) == Forward.NAT) {
      natRewrite(4, ip, ip + 16, r + R_ADDR, cl4, <u32>load<u16>(cl4), 0, 0); // outer destination
      natRewrite(4, cip, cip + 12, r + R_ADDR, cl4, <u32>load<u16>(e, C_DPORT), 0, 0); // quoted source
      icmpRecsum(icmp, icmpLen);
    }
    count(Ctr.IpvsIcmpNat);
    return IPVS_FWD;
  }
  if (addrFind(bridge, 4, AddrKind.REAL, ip + 12) == 0) return IPVS_PASS;
  // real server -> client about a packet of the client: quoted client:cport -> RS:rport
  const e = connOut(bridge, 4, cproto, cip + 12, <u32>load<u16>(cl4), cip + 16, <u32>load<u16>(cl4, 2), now);
  if (e == 0) return IPVS_PASS;
  storeMac(frame + 6, load<u64>(bridges + <usize>bridge * BR_SIZE, BR_MAC));
  natRewrite(4, ip, ip + 12, e + C_VADDR, cl4 + 2, <u32>load<u16>(cl4, 2), 0, 0); // outer source
  natRewrite(4, cip, cip + 16, e + C_VADDR, cl4 + 2, <u32>load<u16>(e, C_VPORT), 0, 0); // quoted destination
  icmpRecsum(icmp, icmpLen);
  count(Ctr.IpvsIcmpNat);
  return IPVS_FWD;
}

function icmpRecsum(icmp: usize, len: u32): void {
  store<u16>(icmp, 0, 2);
  store<u16>(icmp, bswap<u16>(~csumFold(csumPartial(icmp, len, 0))), 2);
}

// ---- IPv6 ------------------------------------------------------------------------------------

function ip6(frame: usize, l3: u32, len: u32, bridge: u32, now: u32): i32 {
  if (len < l3 + 40) return IPVS_PASS;
  const ip = frame + l3;
  const daddr = ip + 24;
  const isVip = addrFind(bridge, 6, AddrKind.VIP, daddr) != 0;
  const plen = <u32>bswap<u16>(load<u16>(ip, 4));
  if ((<u32>load<u8>(ip) >> 4) != 6 || l3 + 40 + plen > len) return isVip ? drop(Ctr.IpvsBadHeader) : IPVS_PASS;
  const nh = <u32>load<u8>(ip, 6);
  const l4 = ip + 40;
  if (nh == IPPROTO_ICMPV6) {
    if (plen >= 24 && load<u8>(l4) == 135) return ndp(frame, l3, ip, l4, plen, bridge);
    return isVip ? drop(Ctr.IpvsUnsupportedProto) : IPVS_PASS;
  }
  if (nh == IPPROTO_FRAGMENT) return isVip ? drop(Ctr.IpvsFragment) : IPVS_PASS;
  if (nh != IPPROTO_TCP && nh != IPPROTO_UDP) return isVip ? drop(Ctr.IpvsUnsupportedProto) : IPVS_PASS;
  if (plen < (nh == IPPROTO_TCP ? <u32>20 : <u32>8)) return isVip ? drop(Ctr.IpvsTruncated) : IPVS_PASS;
  return transport(frame, bridge, 6, ip, ip + 8, daddr, nh, l4, plen + 40, isVip, now);
}

/**
 * Neighbour solicitation for a VIP: answered in place with a solicited,
 * override advertisement carrying the bridge's IPVS MAC (when the
 * solicitation carried the sender's link-layer address, as multicast ones
 * do). DAD probes (unspecified source) are not answered.
 */
function ndp(frame: usize, l3: u32, ip: usize, icmp: usize, plen: u32, bridge: u32): i32 {
  const target = icmp + 8;
  if (addrFind(bridge, 6, AddrKind.VIP, target) == 0) return IPVS_PASS;
  if (load<u8>(ip, 7) != 255 || load<u8>(icmp, 1) != 0) return drop(Ctr.IpvsBadNdp);
  if (load<u64>(ip, 8) == 0 && load<u64>(ip, 16) == 0) return IPVS_PASS; // DAD
  // a source link-layer address option?
  let withOpt = false;
  let o: u32 = 24;
  while (o + 8 <= plen) {
    const olen = <u32>load<u8>(icmp + o, 1) << 3;
    if (olen == 0 || o + olen > plen) return drop(Ctr.IpvsBadNdp);
    if (load<u8>(icmp + o) == 1) withOpt = true;
    o += olen;
  }
  const mac = load<u64>(bridges + <usize>bridge * BR_SIZE, BR_MAC);
  const nplen: u32 = withOpt ? 32 : 24;
  // Ethernet: back to the sender
  memory.copy(frame, frame + 6, 6);
  storeMac(frame + 6, mac);
  // IPv6: from the VIP to the solicitation's source
  store<u16>(ip, bswap<u16>(<u16>nplen), 4);
  store<u8>(ip, 255, 7);
  memory.copy(ip + 24, ip + 8, 16);
  memory.copy(ip + 8, target, 16);
  // NA: solicited + override, the target stays
  store<u8>(icmp, 136);
  store<u8>(icmp, 0, 1);
  store<u32>(icmp, bswap<u32>(0x60000000), 4);
  if (withOpt) {
    store<u8>(icmp, 2, 24);
    store<u8>(icmp, 1, 25);
    storeMac(icmp + 26, mac);
  }
  // checksum over the pseudo-header and the message
  store<u16>(icmp, 0, 2);
  let sum = csumPartial(ip + 8, 32, 0);
  sum = csumPartial(icmp, nplen, sum + nplen + IPPROTO_ICMPV6);
  store<u16>(icmp, bswap<u16>(~csumFold(sum)), 2);
  replyLen = l3 + 40 + nplen;
  count(Ctr.IpvsNdpReply);
  return IPVS_REPLY;
}

// ---- ARP -------------------------------------------------------------------------------------

/** ARP request for a VIP: answered in place with the bridge's IPVS MAC. */
function arp(frame: usize, l3: u32, len: u32, bridge: u32): i32 {
  if (len < l3 + 28) return IPVS_PASS;
  const a = frame + l3;
  if (load<u16>(a) != bswap<u16>(1) || load<u16>(a, 2) != bswap<u16>(0x0800) || load<u8>(a, 4) != 6
    || load<u8>(a, 5) != 4 || load<u16>(a, 6) != bswap<u16>(1)) return IPVS_PASS;
  if (addrFind(bridge, 4, AddrKind.VIP, a + 24) == 0) return IPVS_PASS;
  const mac = load<u64>(bridges + <usize>bridge * BR_SIZE, BR_MAC);
  const tip = load<u32>(a, 24);
  store<u16>(a, bswap<u16>(2), 6);
  memory.copy(a + 18, a + 8, 10); // target := sender (MAC and IP)
  storeMac(a + 8, mac);
  store<u32>(a, tip, 14);
  memory.copy(frame, frame + 6, 6);
  storeMac(frame + 6, mac);
  replyLen = len;
  count(Ctr.IpvsArpReply);
  return IPVS_REPLY;
}

// ---- entry points ----------------------------------------------------------------------------

/**
 * The general path's decisions for an untagged IPv4 header of 20 bytes
 * (checked by the caller) carrying TCP or UDP: -1 when the packet is not that
 * (the general path takes it), else the result.
 */
// @ts-ignore: decorator
@inline function ip4Common(frame: usize, len: u32, bridge: u32, now: u32): i32 {
  const ip = frame + 14;
  const proto = <u32>load<u8>(ip, 9);
  const totLen = <u32>bswap<u16>(load<u16>(ip, 2));
  // one test of the or-ed conditions (not a chain of ||: V8 materialises
  // each term): not TCP or UDP, fragmented, shorter than IP + TCP/UDP header,
  // longer than the frame. The length tests are sign bits (totLen < 2^16 and
  // len < 2^31, so the differences cannot wrap past them).
  const minLen: u32 = proto == IPPROTO_TCP ? 40 : 28;
  if (((proto == IPPROTO_TCP ? 0 : proto ^ IPPROTO_UDP) | (<u32>load<u16>(ip, 6) & 0xff3f)
    | (((totLen - minLen) | (len - 14 - totLen)) >> 31)) != 0) return -1;
  const l4 = ip + 20;
  const sport = <u32>load<u16>(l4);
  // the connection's bucket, read before the VIP test so that its likely
  // cache miss overlaps that work (it is not used for other traffic)
  const b = connHash4(proto, load<u32>(ip, 12), sport);
  const head = load<u32>(bucketLink(b));
  if (addrFind4(bridge, AddrKind.VIP, load<u32>(ip, 16)) == 0) {
    if (load<u32>(ipvsHdr, IH_MARK_COUNT) != 0) return -1; // a mark may make it service traffic
    return replyPath(frame, bridge, 4, ip, proto, l4, now);
  }
  // client -> VIP (as transport())
  const dport = <u32>load<u16>(l4, 2);
  let e: usize = 0;
  let alive = false; // destAlive(e) already known true
  if (head != 0) {
    const h = connEntry(head - 1);
    if (connInMatch(h, bridge, 4, proto, ip + 12, sport, ip + 16, dport) && <i32>(now - load<u32>(h, C_EXPIRES)) < 0 && destAlive(h)) {
      e = h;
      alive = true;
    }
    // (an empty bucket has nothing to walk)
    else e = connInWalk(b, bridge, 4, proto, ip + 12, sport, ip + 16, dport, now);
  }
  if (e == 0) {
    let mark: u32 = 0;
    if (load<u32>(ipvsHdr, IH_MARK_COUNT) != 0) mark = markOf(bridge, 4, proto, ip + 16, <u32>bswap<u16>(<u16>dport));
    return newConnection(frame, bridge, 4, ip, proto, l4, mark, now, sport, dport, totLen, b);
  }
  if (!alive && !destAlive(e)) return drop(Ctr.IpvsNoDest);
  return forwardIn(e, frame, 4, ip, l4, proto, proto == IPPROTO_TCP ? <u32>load<u8>(l4, 13) : 0, totLen, now);
}

/**
 * Processes one Ethernet frame of len bytes at `frame` that arrived on
 * `bridge` at packet time `now` (seconds). Returns IPVS_PASS, IPVS_FWD,
 * IPVS_REPLY (replyLen holds the new length) or IPVS_DROP (dropReason, counted).
 */
export function ipvsProcess(frame: usize, len: u32, bridge: u32, now: u32): i32 {
  connTick(now);
  // The common case first, with few values alive: an untagged IPv4 TCP/UDP
  // packet without options or fragmentation, whole in the frame. It takes
  // the same decisions as the general path below, which handles the rest.
  if (len >= 14 + 20 + 20 && ((<u32>load<u16>(frame, 12) ^ 0x0008) | (<u32>load<u8>(frame, 14) ^ 0x45)) == 0) {
    const r = ip4Common(frame, len, bridge, now);
    if (r >= 0) {
      if (r == IPVS_DROP) count(dropReason);
      return r;
    }
  }
  const r = ipvsGeneral(frame, len, bridge, now);
  if (r == IPVS_DROP) count(dropReason);
  return r;
}

/** Everything but the common case: VLAN tags, IPv4 options, ICMP, IPv6, ARP, malformed headers. */
function ipvsGeneral(frame: usize, len: u32, bridge: u32, now: u32): i32 {
  let l3: u32 = 14;
  let et = bswap<u16>(load<u16>(frame, 12));
  if (et == ETHERTYPE_VLAN || et == ETHERTYPE_QINQ) {
    if (len < 18) return IPVS_PASS;
    l3 = 18;
    et = bswap<u16>(load<u16>(frame, 16));
  }
  if (et == ETHERTYPE_IPV4) return ip4(frame, l3, len, bridge, now);
  if (et == ETHERTYPE_IPV6) return ip6(frame, l3, len, bridge, now);
  if (et == ETHERTYPE_ARP) return arp(frame, l3, len, bridge);
  return IPVS_PASS;
}

// @ts-ignore: decorator
@inline function bridgeActive(bridge: u32): bool {
  return ipvsHdr != 0 && bridge < <u32>IPVS_MAX_BRIDGES && load<u32>(bridges + <usize>bridge * BR_SIZE, BR_SERVICES) != 0;
}

/**
 * Called by the bridge for IPv4, IPv6 and ARP frames (one 802.1Q tag may be
 * present) after source learning and before the destination lookup. Returns
 * false when it consumed the frame (answered an ARP/ND for a VIP: the reply
 * is already emitted out the ingress port; or dropped it: reason set); true
 * to let the bridge forward it, possibly rewritten: re-read the destination
 * MAC (NAT and DR set it to the real server's, replies keep the client's).
 */
export function ipvsBridgeHook(d: usize, frame: usize, bridge: u32): bool {
  if (!bridgeActive(bridge)) return true;
  partialAt = (load<u8>(d, D_VNET_FLAGS) & 1) != 0
    ? frame + <usize>load<u16>(d, D_CSUM_START) + <usize>load<u16>(d, D_CSUM_OFFSET) : 0;
  const r = ipvsProcess(frame, load<u32>(d, D_LEN), bridge, load<u32>(d, D_TS_SEC));
  partialAt = 0;
  if (r <= IPVS_FWD) return true;
  if (r == IPVS_REPLY) {
    store<u32>(d, replyLen, D_LEN);
    store<u8>(d, load<u8>(d, D_FLAGS) | FrameFlag.REPLIED, D_FLAGS);
    emitDesc(d, <u32>load<u16>(d, D_IN_PORT));
    return false;
  }
  // already counted by ipvsProcess
  store<u16>(d, <u16>dropReason, D_DROP);
  return false;
}

// ---- host exports: control plane and tests (never on the packet path) ---------------------------

/** Inserts service idx (already written) into the service hash. 0 = ok, -1 = full, -2 = key in use. */
export function ipvsSvcHashAdd(idx: u32): i32 {
  const s = svcEntry(idx);
  const proto = <u32>load<u8>(s, S_PROTO);
  const bridge = <u32>load<u16>(s, S_BRIDGE);
  const af = <u32>load<u8>(s, S_AF);
  const found = proto == 0
    ? svcHashFind(bridge, af, 0, 0, load<u32>(s, S_FWMARK), 0, 0, 0)
    : svcHashFind(bridge, af, proto, <u32>load<u16>(s, S_PORT), load<u32>(s, S_ADDR), load<u32>(s, S_ADDR + 4),
      load<u32>(s, S_ADDR + 8), load<u32>(s, S_ADDR + 12));
  if (found >= 0) return found == <i32>idx ? 0 : -2;
  let i = svcHomeSlot(idx);
  for (let n: u32 = 0; n <= svcHashMask; n++) {
    const p = svcHash + (<usize>i << 1);
    if (load<u16>(p) == 0) {
      store<u16>(p, <u16>(idx + 1));
      return 0;
    }
    i = (i + 1) & svcHashMask;
  }
  return -1;
}

/** Removes service idx from the service hash (backward-shift deletion). */
export function ipvsSvcHashDel(idx: u32): void {
  let i: u32 = 0;
  let found = false;
  for (; i <= svcHashMask; i++) {
    if (<u32>load<u16>(svcHash + (<usize>i << 1)) == idx + 1) {
      found = true;
      break;
    }
  }
  if (!found) return;
  let j = i;
  for (;;) {
    j = (j + 1) & svcHashMask;
    const v = <u32>load<u16>(svcHash + (<usize>j << 1));
    if (v == 0) break;
    const k = svcHomeSlot(v - 1);
    if (between(i, k, j)) continue;
    store<u16>(svcHash + (<usize>i << 1), <u16>v);
    i = j;
  }
  store<u16>(svcHash + (<usize>i << 1), 0);
}

/**
 * Adds delta references to the address record (bridge, af, kind, 16 bytes at
 * a), creating or deleting it. Returns the new count, or -1 when the hash is full.
 */
export function ipvsAddrRef(bridge: u32, af: u32, kind: u32, a: usize, delta: i32): i32 {
  const r = addrFind(bridge, af, kind, a);
  if (r != 0) {
    const c = <i32>load<u32>(r, A_COUNT) + delta;
    if (c > 0) {
      store<u32>(r, <u32>c, A_COUNT);
      return c;
    }
    // delete with backward shift
    let i = <u32>((r - addrHash) / ADDR_SIZE);
    let j = i;
    for (;;) {
      j = (j + 1) & addrHashMask;
      const q = addrHash + <usize>j * ADDR_SIZE;
      if (load<u8>(q, A_AF) == 0) break;
      const k = addrHome(q);
      if (between(i, k, j)) continue;
      memory.copy(addrHash + <usize>i * ADDR_SIZE, q, ADDR_SIZE);
      i = j;
    }
    memory.fill(addrHash + <usize>i * ADDR_SIZE, 0, ADDR_SIZE);
    return 0;
  }
  if (delta <= 0) return 0;
  const a0 = load<u32>(a);
  const a1 = af == 6 ? load<u32>(a, 4) : 0;
  const a2 = af == 6 ? load<u32>(a, 8) : 0;
  const a3 = af == 6 ? load<u32>(a, 12) : 0;
  let i = keyHash(svcKey(bridge, af, kind), a0, a1, a2, a3) & addrHashMask;
  for (let n: u32 = 0; n <= addrHashMask; n++) {
    const q = addrHash + <usize>i * ADDR_SIZE;
    if (load<u8>(q, A_AF) == 0) {
      store<u16>(q, <u16>bridge, A_BRIDGE);
      store<u8>(q, <u8>af, A_AF);
      store<u8>(q, <u8>kind, A_KIND);
      store<u32>(q, <u32>delta, A_COUNT);
      store<u32>(q, a0, A_ADDR);
      store<u32>(q, a1, A_ADDR + 4);
      store<u32>(q, a2, A_ADDR + 8);
      store<u32>(q, a3, A_ADDR + 12);
      return delta;
    }
    i = (i + 1) & addrHashMask;
  }
  return -1;
}

/** Test hook: runs ipvsProcess on a frame in memory. Returns its result; ipvsLastDrop() has the reason. */
export function ipvsProcessFrame(frame: usize, len: u32, bridge: u32, now: u32): i32 {
  if (ipvsHdr == 0) return IPVS_PASS;
  return ipvsProcess(frame, len, bridge, now);
}

/** The counter id of the last drop. */
export function ipvsLastDrop(): i32 {
  return dropReason;
}

/** Frame length after the last in-place reply. */
export function ipvsReplyLen(): u32 {
  return replyLen;
}

/**
 * Test hook: schedules one packet for service svc as a new connection would
 * (without recording one). saddr/l4 point to 16 bytes of address and the
 * transport header in memory. Returns the real server index or -1.
 */
export function ipvsScheduleTest(svc: u32, af: u32, proto: u32, saddr: usize, l4: usize): i32 {
  return schedule(svcEntry(svc), af, proto, saddr, l4);
}

/** Copies 64 bytes (a frame's headers) with four v128 moves. */
// @ts-ignore: decorator
@inline function copy64(dst: usize, src: usize): void {
  v128.store(dst, v128.load(src));
  v128.store(dst, v128.load(src, 16), 16);
  v128.store(dst, v128.load(src, 32), 32);
  v128.store(dst, v128.load(src, 48), 48);
}

/**
 * Benchmark loop: `iters` passes over n frames of len bytes (stride apart at
 * frames); each frame is copied to `work` and processed there, as a packet
 * arriving in a slot. Returns the number forwarded.
 */
export function ipvsBenchRun(frames: usize, stride: u32, len: u32, n: u32, iters: u32, work: usize, bridge: u32, now: u32): u32 {
  let fwd: u32 = 0;
  for (let it: u32 = 0; it < iters; it++) {
    for (let i: u32 = 0; i < n; i++) {
      const f = frames + <usize>i * stride;
      if (len == 64) copy64(work, f);
      else memory.copy(work, f, len);
      if (ipvsProcess(work, len, bridge, now) == IPVS_FWD) fwd++;
    }
  }
  return fwd;
}

/**
 * Benchmark loop for new flows: n copies of the template frame at `frame`,
 * the i-th with client address base + i (IPv4, host order) and client port
 * 1024 + (i & 0x7fff); each is a new connection. Returns the number forwarded.
 */
export function ipvsBenchNew(frame: usize, len: u32, n: u32, base: u32, work: usize, bridge: u32, now: u32): u32 {
  let fwd: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    if (len == 64) copy64(work, frame);
    else memory.copy(work, frame, len);
    store<u32>(work, bswap<u32>(base + i), 14 + 12);
    store<u16>(work, bswap<u16>(<u16>(1024 + (i & 0x7fff))), 14 + 20);
    if (ipvsProcess(work, len, bridge, now) == IPVS_FWD) fwd++;
  }
  return fwd;
}

/** Sink of the touch pass's loads (so that they are not dead code). */
let touched: u32 = 0;

/** The touch pass's bucket heads, one per frame of a vector. */
const touchHeads: usize = memory.data(MAX_VECTOR * 4);

/**
 * The touch pass, first stage: for an untagged IPv4 frame without options,
 * the head of its connection bucket (read: the cache miss starts), else 0.
 * The protocol is not checked: another frame only costs a load.
 */
// @ts-ignore: decorator
@inline function touchBucket(frame: usize, len: u32): u32 {
  if (len < 14 + 20 + 20) return 0;
  if (((<u32>load<u16>(frame, 12) ^ 0x0008) | (<u32>load<u8>(frame, 14) ^ 0x45)) != 0) return 0;
  const ip = frame + 14;
  return load<u32>(bucketLink(connHash4(<u32>load<u8>(ip, 9), load<u32>(ip, 12), <u32>load<u16>(ip, 20))));
}

/** The touch pass, second stage: the client address of a non-empty bucket's head entry. */
// @ts-ignore: decorator
@inline function touchEntry(head: u32): u32 {
  return head != 0 ? load<u32>(connEntry(head - 1), C_CADDR) : 0;
}

/** Whether the graph runs the touch pass (tests compare runs with and without it). */
let touchOn: bool = true;

/** Turns the touch pass on or off (for tests: it changes nothing but timing). */
export function ipvsSetTouchPass(on: bool): void {
  touchOn = on;
}

/**
 * The touch pass (VPP style) for descriptors 0 .. n-1 of the vector about to
 * run, frames arriving on bridge ports of bridges with IPVS services: first
 * the bucket heads of all of them, then the head entries of the non-empty
 * buckets, so that the cache misses of the whole vector overlap before the
 * frame-by-frame loop (ipvsProcess) needs those lines. It changes nothing but
 * the caches (what it reads is summed and returned, so that the loads stay).
 * For the graph to call before its frame loop (runVector).
 */
export function ipvsTouchVector(n: u32): u32 {
  if (!touchOn || ipvsHdr == 0 || load<u32>(ipvsHdr, IH_ACTIVE_BRIDGES) == 0) return 0;
  if (n > <u32>MAX_VECTOR) n = <u32>MAX_VECTOR;
  for (let i: u32 = 0; i < n; i++) {
    const d = desc(i);
    const inPort = <u32>load<u16>(d, D_IN_PORT);
    let head: u32 = 0;
    if (inPort < <u32>MAX_PORTS) {
      const p = port(inPort);
      const slot = load<u32>(d, D_SLOT);
      const off = load<u32>(d, D_OFF);
      const len = load<u32>(d, D_LEN);
      // Only frames that will pass the Ethernet checks (graph.ts ethCheck):
      // the pass runs before them, on descriptors as the host wrote them.
      if (
        <i32>load<u8>(p, P_KIND) == PortKind.BRIDGE && bridgeActive(<u32>load<u16>(p, P_BRIDGE)) &&
        frameInSlot(slot, off, len)
      ) {
        head = touchBucket(slotPtr(slot) + off, len);
      }
    }
    store<u32>(touchHeads + (<usize>i << 2), head);
  }
  touchEntries(n);
  return touched;
}

/**
 * The touch pass, second stage, for the bucket heads of frames 0 .. n-1 at
 * touchHeads: the head entries of the non-empty buckets (what is read is
 * summed into `touched`, so that the loads stay).
 */
// @ts-ignore: decorator
@inline function touchEntries(n: u32): void {
  let t: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const head = load<u32>(touchHeads + (<usize>i << 2));
    t += head + touchEntry(head);
  }
  touched += t;
}

/**
 * One vector of the bench loops, as the graph runs it: m frames of len bytes
 * at `vec` (64 bytes apart) touched (buckets, then entries), then processed
 * frame by frame. Returns the number forwarded.
 */
// @ts-ignore: decorator
@inline function benchVector(vec: usize, m: u32, len: u32, bridge: u32, now: u32): u32 {
  for (let j: u32 = 0; j < m; j++) store<u32>(touchHeads + (<usize>j << 2), touchBucket(vec + (<usize>j << 6), len));
  touchEntries(m);
  let fwd: u32 = 0;
  for (let j: u32 = 0; j < m; j++) if (ipvsProcess(vec + (<usize>j << 6), len, bridge, now) == IPVS_FWD) fwd++;
  return fwd;
}

/**
 * Benchmark loop for new flows by vectors, as the graph runs them with the
 * touch pass: n frames as ipvsBenchNew makes them, vlen (at most 256) at a
 * time at `vec` (64 bytes apart): each vector is filled, touched (buckets, then entries), then
 * processed frame by frame. Returns the number forwarded.
 */
export function ipvsBenchNewV(frame: usize, len: u32, n: u32, base: u32, vec: usize, vlen: u32, bridge: u32, now: u32): u32 {
  let fwd: u32 = 0;
  if (vlen == 0) return 0;
  if (vlen > <u32>MAX_VECTOR) vlen = <u32>MAX_VECTOR;
  for (let i: u32 = 0; i < n; i += vlen) {
    const m = min(vlen, n - i);
    for (let j: u32 = 0; j < m; j++) {
      const w = vec + (<usize>j << 6);
      copy64(w, frame);
      store<u32>(w, bswap<u32>(base + i + j), 14 + 12);
      store<u16>(w, bswap<u16>(<u16>(1024 + ((i + j) & 0x7fff))), 14 + 20);
    }
    fwd += benchVector(vec, m, len, bridge, now);
  }
  return fwd;
}

/**
 * Benchmark loop for established flows by vectors, as the graph runs them
 * with the touch pass: `iters` passes over n frames of len (at most 64)
 * bytes, stride apart at frames, vlen (at most 256) at a time: each vector's
 * frames are copied to `vec` (64 bytes apart, as packets arriving in slots;
 * one copy of the block when stride is 64, as the C and TS baselines do),
 * touched (buckets, then entries), then processed frame by frame. Returns the
 * number forwarded.
 */
export function ipvsBenchEstV(frames: usize, stride: u32, len: u32, n: u32, iters: u32, vec: usize, vlen: u32, bridge: u32, now: u32): u32 {
  let fwd: u32 = 0;
  if (vlen == 0 || len > 64) return 0;
  if (vlen > <u32>MAX_VECTOR) vlen = <u32>MAX_VECTOR;
  for (let it: u32 = 0; it < iters; it++) {
    for (let i: u32 = 0; i < n; i += vlen) {
      const m = min(vlen, n - i);
      if (stride == 64) memory.copy(vec, frames + (<usize>i << 6), <usize>m << 6);
      else {
        for (let j: u32 = 0; j < m; j++) memory.copy(vec + (<usize>j << 6), frames + <usize>(i + j) * stride, len);
      }
      fwd += benchVector(vec, m, len, bridge, now);
    }
  }
  return fwd;
}
