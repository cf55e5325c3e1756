// VXLAN (RFC 7348), as Docker's overlay driver uses it: decap on VTEP
// (underlay) ports, encap on the overlay bridge's tunnel port, static and
// learned MAC -> VTEP entries, head-end replication, and the ARP proxy.
//
// The whole behaviour, in the order a frame meets it:
//   decap: outer Ethernet (one VLAN tag) -> IPv4 (options) or IPv6 -> UDP
//          (lengths agree, a non-zero checksum verified) -> VXLAN (I flag) ->
//          VNI -> tunnel -> allow-list -> learn inner source -> strip -> bridge.
//   encap: ARP proxy -> MTU -> destination MAC -> VTEP (static, then learned)
//          -> template copy + patch (lengths, IPv4 ID and checksum, UDP source
//          port from the inner flow hash, UDP checksum when wanted) -> underlay;
//          broadcast / multicast / unknown unicast: one copy per VTEP of the
//          flood list.
// Around that core, for speed: the common decap frame (untagged IPv4 to this
// VTEP) is recognised by three masked 16-byte SIMD compares (decapFast) and a
// one-entry VNI cache; whatever it does not take, decap() decides and names.
//
// Tables (one region, laid out by vxlanInit; written between vectors through
// the exported control functions below, never by the host directly):
//   vtep[MAX_PORTS]  per underlay port: IPv6 address, UDP port, VLAN, flags
//                    (its MAC, IPv4 address and MTU are the port's P_MAC, P_IP4, P_MTU)
//   tunnel[T]        VNI, tunnel port, underlay port, settings, flood count
//   remote[R]        one remote VTEP of one tunnel, with its full outer header
//                    template and the constant parts of its checksums
//   vni map, bridge map   VNI -> tunnel, bridge -> tunnel (open addressing)
//   remote map       (tunnel, VTEP address) -> remote
//   flood[T][F]      remote indices, per tunnel
//   peers            (tunnel, MAC) -> remote, static or learned (with last-seen time)
//   neigh            (tunnel, IPv4) -> MAC, the ARP proxy's neighbour table
import {
  D_SLOT, D_OFF, D_LEN, D_IN_PORT, D_FLAGS, D_VNI, D_HASH, D_TS_SEC, D_VNET_FLAGS, D_GSO_TYPE,
  D_CSUM_START, D_CSUM_OFFSET, D_HDR_LEN, DESC_SIZE, HEADROOM, MAX_PORTS,
  P_KIND, P_FLAGS, P_MTU, P_MAC, P_IP4, P_AUX, PortKind, PortFlag, FrameFlag,
} from './layout';
import { Ctr } from './counters';
import { dropFrame, emitDesc, releaseDesc } from './graph';
import { bridgeInput } from './bridge';
import { framePtr } from './frame';
import { count, countN, port, desc, slotAlloc, slotPtr, slotSize, descBase, poolBase } from './state';
import { ethCheck, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, ETH_HLEN } from './eth';
import { csumPartial, csumPartialInline, csumFold } from './checksum';
import {
  ipv4Check, ipv4HeaderOk, ipv4IsFragment, ipv4Proto, ipv4Dst, ipv4PseudoSum, ipv4TotLen, IPV4_HLEN, IPPROTO_UDP, IPPROTO_TCP, IPPROTO_SCTP,
} from './ipv4';
import { ipv6Check, ipv6Walk, ipv6L4Proto, ipv6PseudoSum, ipv6PayloadLen, ip6Equal, IPV6_HLEN } from './ipv6';
import { udpLen, udpVerify, udpChecksumFromSum, UDP_HLEN } from './udp';
import { arpKind, arpTargetIp, arpTargetUnanswerable, arpReplyInPlace, ArpKind, ARP_LEN } from './arp';

/** Bytes of the VXLAN header. */
export const VXLAN_HLEN: u32 = 8;
/** The I flag: the VNI is valid. */
const VXLAN_FLAG_I: u8 = 0x08;
/** virtio_net_hdr flags. */
const VNET_NEEDS_CSUM: u8 = 1;
const VNET_DATA_VALID: u8 = 2;

// ---- record layouts -------------------------------------------------------------

// VTEP configuration, one per port (256 bytes).
const V_FLAGS = 0; // u8 VF_* bits
const V_LISTEN = 2; // u16 UDP port VXLAN is received on, network order
const V_VLAN = 4; // u16 outer VLAN id (0 = untagged)
const V_XPORT = 6; // u16 cross-connect: the tunnel port frames arriving here go into
const V_IP6 = 16; // u8[16]
/**
 * The first 48 bytes of the common VXLAN frame to this VTEP, as 3 x (mask,
 * value) pairs: untagged IPv4 without options to its MAC and address, not a
 * fragment, UDP to its port, the I flag. Built by vxlanVtepSet from the port's
 * MAC and address.
 */
const V_MATCH = 64; // 3 x (v128 mask, v128 value)
const V_SIZE: u32 = 256;

const VF_ENABLED: u8 = 1;
const VF_HAS_IP6: u8 = 2;
/** Accept a zero UDP checksum over IPv6 (RFC 6935, Linux udp6zerocsumrx). */
const VF_ZERO_CSUM6_RX: u8 = 4;
/** Not an underlay: frames arriving here are encapsulated into the tunnel of port V_XPORT. */
const VF_XCONNECT: u8 = 8;
/** V_MATCH holds a match for the fast path (the VTEP has a MAC, an IPv4 address and no VLAN). */
const VF_FAST: u8 = 16;

// Tunnel (64 bytes).
const TN_VNI = 0; // u32
const TN_VXPORT = 4; // u16 the overlay bridge's tunnel port (kind VXLAN)
const TN_UNDERLAY = 6; // u16 the VTEP port
const TN_FLAGS = 8; // u16 TF_* bits
const TN_BRIDGE = 10; // u16
const TN_SPMIN = 12; // u16 source port range
const TN_SPMAX = 14; // u16
const TN_DSTPORT = 16; // u16
const TN_TTL = 18; // u8
const TN_TOS = 19; // u8
const TN_AGEING = 20; // u32 seconds, 0 = never
const TN_NFLOOD = 24; // u16
const TN_XCONNECT = 26; // u16 port + 1 that decapsulated frames go to instead of the bridge
const TN_SIZE: u32 = 64;

const TF_USED: u16 = 1;
const TF_IPV6: u16 = 2;
const TF_UDP_CSUM: u16 = 4;
const TF_LEARN: u16 = 8;
const TF_ARP_PROXY: u16 = 16;
const TF_ARP_FLOOD: u16 = 32;
const TF_ALLOW_LIST: u16 = 64;
const TF_DF: u16 = 128;
const TF_HAS_BRIDGE: u16 = 256;

// Remote VTEP of a tunnel (128 bytes).
const R_TUNNEL = 0; // u16
const R_FLAGS = 2; // u8 RF_* bits
const R_HDRLEN = 3; // u8 outer header bytes (50, 54, 70, 74)
const R_REFS = 4; // u32 peer entries pointing here
const R_IPID = 8; // u16 next IPv4 ID
const R_IPOFF = 10; // u8 offset of the IP header in the template
const R_V6 = 11; // u8
const R_IPSUM = 12; // u32 IPv4 header sum without length, ID, checksum
const R_UDPSUM = 16; // u32 pseudo header (addresses, protocol) + UDP dst port + VXLAN header
const R_NHMAC = 20; // u8[6] next-hop MAC
const R_IP = 28; // u8[16] the remote VTEP's address (IPv4 in the first 4 bytes)
const R_TMPL = 48; // u8[80] outer header template
const R_SIZE: u32 = 128;

const RF_USED: u8 = 1;
/** Held by the control plane (a static peer, the flood list, the allow-list). */
const RF_STATIC: u8 = 2;
/** In the tunnel's allow-list. */
const RF_ALLOWED: u8 = 4;
/** Created by learning (an unknown sender). */
const RF_LEARNED: u8 = 8;

// Peer entry (16 bytes): key (tunnel + 1) << 48 | MAC (memory order, see macRaw).
const PE_REMOTE = 8; // u16
const PE_FLAGS = 10; // u8 PF_* bits
const PE_SEEN = 12; // u32 seconds (packet time)
const PF_STATIC: u8 = 1;
const PF_LEARNED: u8 = 2;

// Neighbour entry (16 bytes): key (tunnel + 1) << 32 | IPv4, value u64 MAC (memory order).
// Map entry (16 bytes, VNI and bridge maps): key + 1, value u32 tunnel.

// ---- state ----------------------------------------------------------------------

let vtepTab: usize = 0;
let tunTab: usize = 0;
let remTab: usize = 0;
let remHash: usize = 0;
let floodTab: usize = 0;
let vniTab: usize = 0;
let brTab: usize = 0;
let peerTab: usize = 0;
let neighTab: usize = 0;
/** A descriptor of our own for replicated copies (emitDesc takes any descriptor). */
let copyDesc: usize = 0;
/** 64 bytes through which the host passes addresses to the control functions. */
let staging: usize = 0;
let nTunnels: u32 = 0;
let nRemotes: u32 = 0;
let floodMax: u32 = 0;
let mapMask: u32 = 0;
let remMask: u32 = 0;
let peerMask: u32 = 0;
let neighMask: u32 = 0;
let remotesUsed: u32 = 0;
let peersUsed: u32 = 0;
let neighUsed: u32 = 0;
/** Bumped by every table change (through changed()); the decap caches depend on it. */
let gen: u32 = 1;
// Decap cache: last VNI seen (as on the wire, and as a number) and its tunnel.
let lastVniRaw: u32 = 0xffffffff;
let lastVniPort: u32 = 0xffffffff;
let lastVni: u32 = 0;
let lastVniTunnel: i32 = -1;
let lastVniGen: u32 = 0;
/** Tunnel of the last successful decap (for the caller). */
let decapTunnel: u32 = 0;
/**
 * decapFast's one-entry cache, one compare per frame: the key is the VNI
 * bytes as load<u32> reads them (low 24 bits) with the port in bits 24..31,
 * set by decap() only for a VNI whose tunnel decapFast may take on its own
 * (a tunnel on that port, without allow-list or learning, the port a VTEP
 * with the fast match); NO_FAST_KEY (no 32-bit key) after any table change.
 */
const NO_FAST_KEY: u64 = 0xffffffffffffffff;
let fastKey: u64 = NO_FAST_KEY;
let fastVni: u32 = 0;
let fastTunnel: u32 = 0;

/** Records a table change: the decap caches start again. */
// @ts-ignore: decorator
@inline function changed(): void {
  gen++;
  fastKey = NO_FAST_KEY;
}

// @ts-ignore: decorator
@inline function vtep(p: u32): usize {
  return vtepTab + <usize>p * V_SIZE;
}
// @ts-ignore: decorator
@inline function tunnel(t: u32): usize {
  return tunTab + <usize>t * TN_SIZE;
}
// @ts-ignore: decorator
@inline function remote(r: u32): usize {
  return remTab + <usize>r * R_SIZE;
}

/** A MAC as memory holds it: its 6 bytes as load<u64> reads them (first byte lowest), masked. */
// @ts-ignore: decorator
@inline function macRaw(p: usize): u64 {
  return load<u64>(p) & 0xffffffffffff;
}

/** Writes a MAC held in memory order. */
// @ts-ignore: decorator
@inline function storeRaw(p: usize, m: u64): void {
  store<u32>(p, <u32>m);
  store<u16>(p, <u16>(m >> 32), 4);
}

/** A MAC given as hi (first 2 bytes) and lo (last 4 bytes), first byte most significant, in memory order. */
// @ts-ignore: decorator
@inline function rawFromHiLo(hi: u32, lo: u32): u64 {
  return bswap<u64>(((<u64>(hi & 0xffff) << 32) | <u64>lo) << 16);
}

// EtherTypes as load<u16> reads them from the wire (network order): compared without swapping.
const ET_IPV4: u16 = 0x0008;
const ET_IPV6: u16 = 0xdd86;
const ET_ARP: u16 = 0x0608;
const ET_VLAN: u16 = 0x0081;
const ET_QINQ: u16 = 0xa888;

function pow2AtLeast(n: u32): u32 {
  let c: u32 = 8;
  while (c < n) c <<= 1;
  return c;
}

/**
 * Lays the tables out in [base, base + bytes) and clears them. Returns 0, or
 * the number of bytes needed when `bytes` is too small. peerCap and neighCap
 * must be powers of two.
 */
export function vxlanInit(base: usize, bytes: u32, tunnels: u32, remotes: u32, peerCap: u32, neighCap: u32, flood: u32): u32 {
  const mapCap = pow2AtLeast(tunnels * 2);
  const remCap = pow2AtLeast(remotes * 2);
  let at = base;
  staging = at; at += 64;
  copyDesc = at; at += DESC_SIZE;
  vtepTab = at; at += <usize>MAX_PORTS * V_SIZE;
  tunTab = at; at += <usize>tunnels * TN_SIZE;
  vniTab = at; at += <usize>mapCap * 16;
  brTab = at; at += <usize>mapCap * 16;
  remTab = at; at += <usize>remotes * R_SIZE;
  remHash = at; at += <usize>remCap * 4;
  floodTab = at; at += (<usize>tunnels * flood * 2 + 63) & ~63;
  peerTab = at; at += <usize>peerCap * 16;
  neighTab = at; at += <usize>neighCap * 16;
  const need = <u32>(at - base);
  if (need > bytes) return need;
  memory.fill(base, 0, need);
  nTunnels = tunnels;
  nRemotes = remotes;
  floodMax = flood;
  mapMask = mapCap - 1;
  remMask = remCap - 1;
  peerMask = peerCap - 1;
  neighMask = neighCap - 1;
  remotesUsed = 0;
  peersUsed = 0;
  neighUsed = 0;
  changed();
  return 0;
}

/** Address of the staging area (addresses in, dumps out). */
export function vxlanStaging(): usize {
  return staging;
}

// ---- open addressing, 16-byte entries keyed by a non-zero u64 --------------------

// @ts-ignore: decorator
@inline function home(key: u64, mask: u32): u32 {
  key ^= key >> 29;
  key *= 0xbf58476d1ce4e5b9;
  key ^= key >> 32;
  return <u32>key & mask;
}

/** The entry holding key, or 0. */
// @ts-ignore: decorator
@inline function t16Find(tab: usize, mask: u32, key: u64): usize {
  let i = home(key, mask);
  for (let n: u32 = 0; n <= mask; n++) {
    const e = tab + (<usize>i << 4);
    const k = load<u64>(e);
    if (k == key) return e;
    if (k == 0) return 0;
    i = (i + 1) & mask;
  }
  return 0;
}

/** The entry holding key, or a fresh one with the key written (value zero); 0 when full. */
function t16Insert(tab: usize, mask: u32, key: u64): usize {
  let i = home(key, mask);
  for (let n: u32 = 0; n <= mask; n++) {
    const e = tab + (<usize>i << 4);
    const k = load<u64>(e);
    if (k == key) return e;
    if (k == 0) {
      store<u64>(e, key);
      store<u64>(e, 0, 8);
      return e;
    }
    i = (i + 1) & mask;
  }
  return 0;
}

/** Removes entry e, shifting later entries of its probe run back (no tombstones). */
function t16Delete(tab: usize, mask: u32, e: usize): void {
  if (e == 0) return;
  let i = <u32>((e - tab) >> 4);
  let j = i;
  for (;;) {
    j = (j + 1) & mask;
    const ej = tab + (<usize>j << 4);
    const k = load<u64>(ej);
    if (k == 0) break;
    const h = home(k, mask);
    // Move entry j to the hole at i unless its home lies cyclically in (i, j].
    const stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
    if (stays) continue;
    const ei = tab + (<usize>i << 4);
    store<u64>(ei, k);
    store<u64>(ei, load<u64>(ej, 8), 8);
    i = j;
  }
  const ei = tab + (<usize>i << 4);
  store<u64>(ei, 0);
  store<u64>(ei, 0, 8);
}

// @ts-ignore: decorator
@inline function peerKey(t: u32, mac: u64): u64 {
  return (<u64>(t + 1) << 48) | (mac & 0xffffffffffff);
}

// @ts-ignore: decorator
@inline function neighKey(t: u32, ip: u32): u64 {
  return (<u64>(t + 1) << 32) | <u64>ip;
}

/** Tunnel of a key in the VNI or bridge map, or -1. */
// @ts-ignore: decorator
@inline function vniKey(underlay: u32, vni: u32): u32 {
  // A VNI is unique per VTEP (underlay port), not per data plane: several
  // hosts of one scenario each have their own tunnel for VNI 4096.
  return (underlay << 24) | (vni & 0xffffff);
}

// @ts-ignore: decorator
@inline function mapFind(tab: usize, key: u32): i32 {
  const e = t16Find(tab, mapMask, <u64>key + 1);
  return e == 0 ? -1 : <i32>load<u32>(e, 8);
}

// ---- remotes ----------------------------------------------------------------------

// @ts-ignore: decorator
@inline function remHome(t: u32, ip: usize, v6: bool): u32 {
  let k = (<u64>(t + 1) << 32) ^ <u64>load<u32>(ip);
  if (v6) k ^= load<u64>(ip, 4) * 0x9e3779b97f4a7c15 ^ load<u64>(ip, 8);
  return home(k | 1, remMask);
}

// @ts-ignore: decorator
@inline function remMatches(r: u32, t: u32, ip: usize, v6: bool): bool {
  const rec = remote(r);
  if (<u32>load<u16>(rec, R_TUNNEL) != t || (load<u8>(rec, R_V6) != 0) != v6) return false;
  return v6 ? ip6Equal(rec + R_IP, ip) : load<u32>(rec, R_IP) == load<u32>(ip);
}

/** The remote of tunnel t with VTEP address at ip, or -1. */
function remoteFind(t: u32, ip: usize, v6: bool): i32 {
  let i = remHome(t, ip, v6);
  for (let n: u32 = 0; n <= remMask; n++) {
    const e = load<u32>(remHash + (<usize>i << 2));
    if (e == 0) return -1;
    if (remMatches(e - 1, t, ip, v6)) return <i32>(e - 1);
    i = (i + 1) & remMask;
  }
  return -1;
}

function remoteHashInsert(r: u32): void {
  const rec = remote(r);
  let i = remHome(<u32>load<u16>(rec, R_TUNNEL), rec + R_IP, load<u8>(rec, R_V6) != 0);
  while (load<u32>(remHash + (<usize>i << 2)) != 0) i = (i + 1) & remMask;
  store<u32>(remHash + (<usize>i << 2), r + 1);
}

function remoteHashDelete(r: u32): void {
  const rec = remote(r);
  let i = remHome(<u32>load<u16>(rec, R_TUNNEL), rec + R_IP, load<u8>(rec, R_V6) != 0);
  for (let n: u32 = 0; n <= remMask; n++) {
    const e = load<u32>(remHash + (<usize>i << 2));
    if (e == 0) return;
    if (e == r + 1) break;
    i = (i + 1) & remMask;
  }
  let j = i;
  for (;;) {
    j = (j + 1) & remMask;
    const e = load<u32>(remHash + (<usize>j << 2));
    if (e == 0) break;
    const q = remote(e - 1);
    const h = remHome(<u32>load<u16>(q, R_TUNNEL), q + R_IP, load<u8>(q, R_V6) != 0);
    const stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
    if (stays) continue;
    store<u32>(remHash + (<usize>i << 2), e);
    i = j;
  }
  store<u32>(remHash + (<usize>i << 2), 0);
}

/** A free remote record, or -1. */
function remoteAlloc(): i32 {
  if (remotesUsed >= nRemotes) return -1;
  for (let r: u32 = 0; r < nRemotes; r++) {
    if ((load<u8>(remote(r), R_FLAGS) & RF_USED) == 0) return <i32>r;
  }
  return -1;
}

/** Creates remote r of tunnel t for the VTEP at ip with next hop nhMac, and builds its template. */
function remoteCreate(r: u32, t: u32, ip: usize, v6: bool, nhMac: u64, flags: u8): void {
  const rec = remote(r);
  memory.fill(rec, 0, R_SIZE);
  store<u16>(rec, <u16>t, R_TUNNEL);
  store<u8>(rec, RF_USED | flags, R_FLAGS);
  store<u8>(rec, v6 ? 1 : 0, R_V6);
  if (v6) memory.copy(rec + R_IP, ip, 16);
  else store<u32>(rec, load<u32>(ip), R_IP);
  storeRaw(rec + R_NHMAC, nhMac);
  remoteHashInsert(r);
  remotesUsed++;
  buildTemplate(r);
  changed();
}

/** Frees remote r when nothing holds it any more. */
function remoteMaybeFree(r: u32): void {
  const rec = remote(r);
  const f = load<u8>(rec, R_FLAGS);
  if ((f & RF_USED) == 0 || (f & RF_STATIC) != 0 || load<u32>(rec, R_REFS) != 0) return;
  remoteHashDelete(r);
  memory.fill(rec, 0, R_SIZE);
  remotesUsed--;
  changed();
}

/**
 * Builds remote r's outer header template from its tunnel and the tunnel's
 * underlay port: Ethernet (next hop <- VTEP MAC, optional 802.1Q tag), IPv4
 * (TOS, DF, TTL) or IPv6 (traffic class, hop limit), UDP to the tunnel's
 * port, VXLAN with the I flag and the VNI; lengths, IPv4 ID and the checksums
 * are left zero for the per-packet patch, whose constant parts are summed here.
 */
function buildTemplate(r: u32): void {
  const rec = remote(r);
  const t = <u32>load<u16>(rec, R_TUNNEL);
  const tn = tunnel(t);
  const up = <u32>load<u16>(tn, TN_UNDERLAY);
  const p = port(up);
  const vt = vtep(up);
  const v6 = load<u8>(rec, R_V6) != 0;
  const h = rec + R_TMPL;
  memory.fill(h, 0, 80);
  memory.copy(h, rec + R_NHMAC, 6);
  memory.copy(h + 6, p + P_MAC, 6);
  let off: u32 = 12;
  const vlan = load<u16>(vt, V_VLAN);
  if (vlan != 0) {
    store<u16>(h + off, bswap<u16>(ETHERTYPE_VLAN));
    store<u16>(h + off, bswap<u16>(vlan & 0xfff), 2);
    off += 4;
  }
  store<u16>(h + off, bswap<u16>(v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4));
  off += 2;
  const ip = h + off;
  store<u8>(rec, <u8>off, R_IPOFF);
  const tflags = load<u16>(tn, TN_FLAGS);
  let udp: usize;
  let sum: u32;
  if (v6) {
    const vtcfl: u32 = (6 << 28) | (<u32>load<u8>(tn, TN_TOS) << 20);
    store<u32>(ip, bswap<u32>(vtcfl));
    store<u8>(ip, IPPROTO_UDP, 6);
    store<u8>(ip, load<u8>(tn, TN_TTL), 7);
    memory.copy(ip + 8, vt + V_IP6, 16);
    memory.copy(ip + 24, rec + R_IP, 16);
    udp = ip + IPV6_HLEN;
    sum = ipv6PseudoSum(ip, IPPROTO_UDP, 0);
    store<u8>(rec, <u8>(off + IPV6_HLEN + UDP_HLEN + VXLAN_HLEN), R_HDRLEN);
  } else {
    store<u8>(ip, 0x45);
    store<u8>(ip, load<u8>(tn, TN_TOS), 1);
    store<u16>(ip, bswap<u16>((tflags & TF_DF) != 0 ? <u16>0x4000 : <u16>0), 6);
    store<u8>(ip, load<u8>(tn, TN_TTL), 8);
    store<u8>(ip, IPPROTO_UDP, 9);
    store<u32>(ip, load<u32>(p, P_IP4), 12);
    store<u32>(ip, load<u32>(rec, R_IP), 16);
    store<u32>(rec, csumFold(csumPartial(ip, IPV4_HLEN, 0)), R_IPSUM);
    udp = ip + IPV4_HLEN;
    sum = ipv4PseudoSum(ip, IPPROTO_UDP, 0);
    store<u8>(rec, <u8>(off + IPV4_HLEN + UDP_HLEN + VXLAN_HLEN), R_HDRLEN);
  }
  store<u16>(udp, bswap<u16>(load<u16>(tn, TN_DSTPORT)), 2);
  const vx = udp + UDP_HLEN;
  store<u8>(vx, VXLAN_FLAG_I);
  store<u32>(vx, bswap<u32>(load<u32>(tn, TN_VNI) << 8), 4);
  // UDP header (ports, zero length and checksum) and VXLAN header: constant.
  store<u32>(rec, csumFold(csumPartial(udp, UDP_HLEN + VXLAN_HLEN, sum)), R_UDPSUM);
}

// ---- the flow hash of an inner frame ------------------------------------------------

/** splitmix64's finaliser: every input bit reaches the high output bits, which pick the port. */
// @ts-ignore: decorator
@inline function fmix64(z: u64): u32 {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return <u32>((z ^ (z >> 31)) >> 32);
}

/**
 * A hash of the inner frame's flow: addresses, protocol and ports of IPv4 and
 * IPv6 (ports only for unfragmented TCP, UDP and SCTP), else the MACs and
 * EtherType. One flow always gets the same value; its high bits choose the
 * UDP source port.
 */
// @ts-ignore: decorator
@inline export function flowHash(f: usize, len: u32): u32 {
  let l3: u32 = ETH_HLEN;
  let t = load<u16>(f, 12);
  if ((t == ET_VLAN || t == ET_QINQ) && len >= ETH_HLEN + 4) {
    t = load<u16>(f, 16);
    l3 += 4;
  }
  if (t == ET_IPV4 && len >= l3 + IPV4_HLEN) {
    const ip = f + l3;
    const proto = load<u8>(ip, 9);
    const hl = (<u32>load<u8>(ip) & 0xf) << 2;
    let ports: u64 = 0;
    if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP) && !ipv4IsFragment(ip)
      && hl >= IPV4_HLEN && len >= l3 + hl + 4) ports = <u64>load<u32>(ip + hl);
    // Addresses in one word, ports and protocol in another.
    return fmix64(load<u64>(ip, 12) ^ ((ports | (<u64>proto << 32)) * 0x9e3779b97f4a7c15));
  }
  if (t == ET_IPV6 && len >= l3 + IPV6_HLEN) {
    const ip = f + l3;
    const nh = load<u8>(ip, 6);
    let ports: u64 = 0;
    if ((nh == IPPROTO_TCP || nh == IPPROTO_UDP || nh == IPPROTO_SCTP) && len >= l3 + IPV6_HLEN + 4) ports = <u64>load<u32>(ip + IPV6_HLEN);
    const a = load<u64>(ip, 8) ^ load<u64>(ip, 16) * 0xc2b2ae3d27d4eb4f;
    const b = load<u64>(ip, 24) ^ load<u64>(ip, 32) * 0x165667b19e3779f9;
    return fmix64(a ^ (b * 0x9e3779b97f4a7c15) ^ ((ports | (<u64>nh << 32)) * 0xd6e8feb86659fd93));
  }
  return fmix64((load<u64>(f) ^ (load<u64>(f, 6) * 0x9e3779b97f4a7c15)) + <u64>t);
}

// ---- encap ---------------------------------------------------------------------------

/** Copies n (48 <= n <= 80: 50, 54, 70, 74) template bytes from src to dst, 16 at a time (the last 16 may overlap). */
// @ts-ignore: decorator
@inline function copyHeader(dst: usize, src: usize, n: u32): void {
  v128.store(dst, v128.load(src));
  v128.store(dst, v128.load(src, 16), 16);
  v128.store(dst, v128.load(src, 32), 32);
  if (n > 64) v128.store(dst, v128.load(src, 48), 48);
  v128.store(dst + n - 16, v128.load(src + n - 16));
}

/**
 * Puts remote r's outer headers in front of descriptor x's frame (inner
 * length len) and patches them: IP length, IPv4 ID and header checksum, UDP
 * source port (from hash, within the tunnel's range), length and, over IPv6
 * or when the tunnel asks, checksum. Returns false when there is no headroom.
 */
// @ts-ignore: decorator
@inline function encapWrite(x: usize, rec: usize, tn: usize, len: u32, hash: u32): bool {
  const hl = <u32>load<u8>(rec, R_HDRLEN);
  // Prepend hl bytes: the frame start moves back into the headroom.
  const off = load<u32>(x, D_OFF);
  if (off < hl) return false;
  store<u32>(x, off - hl, D_OFF);
  store<u32>(x, len + hl, D_LEN);
  const f = slotPtr(load<u32>(x, D_SLOT)) + off - hl;
  copyHeader(f, rec + R_TMPL, hl);
  const ip = f + <usize>load<u8>(rec, R_IPOFF);
  const min = <u32>load<u16>(tn, TN_SPMIN);
  const sport = min + <u32>((<u64>hash * <u64>(<u32>load<u16>(tn, TN_SPMAX) - min + 1)) >> 32);
  const ulen = len + UDP_HLEN + VXLAN_HLEN;
  let udp: usize;
  if (load<u8>(rec, R_V6) == 0) {
    const tot = ulen + IPV4_HLEN;
    const id = <u32>load<u16>(rec, R_IPID);
    store<u16>(rec, <u16>(id + 1), R_IPID);
    store<u16>(ip, bswap<u16>(<u16>tot), 2);
    store<u16>(ip, bswap<u16>(<u16>id), 4);
    store<u16>(ip, bswap<u16>(~csumFold(load<u32>(rec, R_IPSUM) + tot + id)), 10);
    udp = ip + IPV4_HLEN;
    store<u16>(udp, bswap<u16>(<u16>sport));
    store<u16>(udp, bswap<u16>(<u16>ulen), 4);
    if ((load<u16>(tn, TN_FLAGS) & TF_UDP_CSUM) == 0) return true;
  } else {
    store<u16>(ip, bswap<u16>(<u16>ulen), 4);
    udp = ip + IPV6_HLEN;
    store<u16>(udp, bswap<u16>(<u16>sport));
    store<u16>(udp, bswap<u16>(<u16>ulen), 4);
  }
  const s = csumPartialInline(f + hl, len, load<u32>(rec, R_UDPSUM) + (ulen << 1) + sport);
  store<u16>(udp, bswap<u16>(udpChecksumFromSum(s)), 6);
  return true;
}

/**
 * The remote for inner destination MAC dst in tunnel t: a static entry, or a
 * learned one younger than the tunnel's ageing time (an older one is removed
 * here). -1 when there is none.
 */
// @ts-ignore: decorator
@inline function peerLookup(t: u32, tn: usize, dst: u64, now: u32): i32 {
  const e = t16Find(peerTab, peerMask, peerKey(t, dst));
  if (e == 0) return -1;
  if (load<u8>(e, PE_FLAGS) & PF_LEARNED) {
    const ageing = load<u32>(tn, TN_AGEING);
    if (ageing != 0 && <i32>(now - load<u32>(e, PE_SEEN)) > <i32>ageing) {
      peerRemove(e);
      count(Ctr.VxlanLearnExpired);
      return -1;
    }
  }
  return <i32>load<u16>(e, PE_REMOTE);
}

/** Deletes peer entry e and releases its remote. */
function peerRemove(e: usize): void {
  const r = <u32>load<u16>(e, PE_REMOTE);
  t16Delete(peerTab, peerMask, e);
  peersUsed--;
  const rec = remote(r);
  store<u32>(rec, load<u32>(rec, R_REFS) - 1, R_REFS);
  remoteMaybeFree(r);
  changed();
}

/**
 * Completes a partial (offloaded) checksum of the inner frame in software, as
 * Linux's skb_checksum_help does before encapsulating, and clears the offload
 * metadata: the encapsulated frame leaves with every checksum final.
 */
// @ts-ignore: decorator
@inline function settleOffload(x: usize, f: usize, len: u32): bool {
  const vf = load<u8>(x, D_VNET_FLAGS);
  if (vf & VNET_NEEDS_CSUM) {
    const start = <u32>load<u16>(x, D_CSUM_START);
    const at = start + <u32>load<u16>(x, D_CSUM_OFFSET);
    if (start >= len || at + 2 > len) return false;
    // The field holds the pseudo-header sum: summing from csum_start includes it.
    const c = ~csumFold(csumPartial(f + start, len - start, 0));
    store<u16>(f + at, bswap<u16>(c == 0 ? <u16>0xffff : c));
  }
  if (vf != 0 || load<u8>(x, D_GSO_TYPE) != 0) memory.fill(x + D_VNET_FLAGS, 0, 10);
  return true;
}

/** What encapUnicast did with a frame. */
const ENCAP_SENT: i32 = 0; // encapsulated in place toward one VTEP: emit it on encapUnderlay
const ENCAP_FLOOD: i32 = 1; // broadcast, multicast or unknown: replicate with encapFlood
const ENCAP_GONE: i32 = 2; // dropped (reason set) or answered by the ARP proxy
// Set by encapUnicast for the caller.
let encapTunnel: u32 = 0;
let encapUnderlay: u32 = 0;

/**
 * Everything of vxlanEgress up to the choice of VTEPs, and the encapsulation
 * itself when the destination MAC has one: tunnel, ARP proxy, underlay port,
 * MTU, offload, flow hash, MAC -> VTEP lookup, template copy and patch.
 */
// @ts-ignore: decorator
@inline function encapUnicast(x: usize, out: u32): i32 {
  const t = load<u32>(port(out), P_AUX);
  if (t >= nTunnels || (load<u16>(tunnel(t), TN_FLAGS) & TF_USED) == 0) return encapGone(x, Ctr.VxlanEncapNoTunnel);
  const tn = tunnel(t);
  const f = framePtr(x);
  const len = load<u32>(x, D_LEN);
  if (len < ETH_HLEN) return encapGone(x, Ctr.VxlanEncapMtuExceeded);
  const tflags = load<u16>(tn, TN_FLAGS);
  // The ARP proxy: answered locally, or dropped, or let through.
  if (tflags & TF_ARP_PROXY) {
    let l3: u32 = ETH_HLEN;
    let et = load<u16>(f, 12);
    if (et == ET_VLAN && len >= ETH_HLEN + 4) {
      et = load<u16>(f, 16);
      l3 += 4;
    }
    if (et == ET_ARP && arpAtTunnel(x, f, len, l3, t, tflags)) return ENCAP_GONE;
  }
  const up = <u32>load<u16>(tn, TN_UNDERLAY);
  const upp = port(up);
  const upKind = load<u8>(upp, P_KIND);
  // The underlay is a VTEP port, or a macvlan/ipvlan parent that is also one (vtepClaims).
  if ((upKind != PortKind.VTEP && upKind != PortKind.PARENT) || (load<u16>(upp, P_FLAGS) & PortFlag.DOWN) != 0) {
    return encapGone(x, Ctr.VxlanEncapNoUnderlay);
  }
  if (!mtuOk(f, len, tflags, port(out), upp)) return encapGone(x, Ctr.VxlanEncapMtuExceeded);
  if (!settleOffload(x, f, len)) return encapGone(x, Ctr.VxlanEncapBadCsumOffload);
  let hash = load<u32>(x, D_HASH);
  if (hash == 0) {
    hash = flowHash(f, len);
    store<u32>(x, hash, D_HASH);
  }
  encapTunnel = t;
  encapUnderlay = up;
  const dst = macRaw(f);
  if ((dst & 1) != 0) return ENCAP_FLOOD;
  const r = peerLookup(t, tn, dst, load<u32>(x, D_TS_SEC));
  if (r < 0) return ENCAP_FLOOD;
  if (!encapWrite(x, remote(<u32>r), tn, len, hash)) return encapGone(x, Ctr.VxlanEncapNoHeadroom);
  count(Ctr.VxlanEncap);
  return ENCAP_SENT;
}

// @ts-ignore: decorator
@inline function encapGone(x: usize, reason: i32): i32 {
  encapDrop(x, reason);
  return ENCAP_GONE;
}

/**
 * Egress through tunnel port `out` (kind VXLAN): encapsulate x's frame toward
 * the VTEP of its destination MAC, or to every VTEP of the flood list. Called
 * by egress.ts for a bridge's tunnel port, and for cross-connected ports.
 */
export function vxlanEgress(x: usize, out: u32): void {
  const r = encapUnicast(x, out);
  if (r == ENCAP_SENT) emitDesc(x, encapUnderlay);
  else if (r == ENCAP_FLOOD) encapFlood(x);
}

/**
 * Head-end replication of x (its flow hash in D_HASH) to every VTEP of the
 * flood list of tunnel encapTunnel: a copy in a fresh slot for all but the
 * last, x itself for the last.
 */
function encapFlood(x: usize): void {
  const t = encapTunnel;
  const up = encapUnderlay;
  const tn = tunnel(t);
  const n = <u32>load<u16>(tn, TN_NFLOOD);
  if (n == 0) return encapDrop(x, Ctr.VxlanEncapNoVtep);
  const f = framePtr(x);
  const len = load<u32>(x, D_LEN);
  const hash = load<u32>(x, D_HASH);
  const list = floodTab + <usize>t * floodMax * 2;
  store<u8>(x, load<u8>(x, D_FLAGS) | FrameFlag.FLOODED, D_FLAGS);
  if (n > 1 && <u32>HEADROOM + len > slotSize) countN(Ctr.VxlanEncapNoHeadroom, n - 1);
  else if (n > 1) {
    const c = copyDesc;
    for (let k: u32 = 0; k + 1 < n; k++) {
      const s = slotAlloc();
      if (s < 0) {
        count(Ctr.GraphNoSlot);
        break;
      }
      memory.copy(c, x, DESC_SIZE);
      store<u32>(c, <u32>s, D_SLOT);
      store<u32>(c, HEADROOM, D_OFF);
      memory.copy(slotPtr(<u32>s) + HEADROOM, f, len);
      encapWrite(c, remote(<u32>load<u16>(list + (<usize>k << 1))), tn, len, hash);
      count(Ctr.VxlanEncap);
      count(Ctr.VxlanEncapFlood);
      emitDesc(c, up);
    }
  }
  if (!encapWrite(x, remote(<u32>load<u16>(list + (<usize>(n - 1) << 1))), tn, len, hash)) {
    return encapDrop(x, Ctr.VxlanEncapNoHeadroom);
  }
  count(Ctr.VxlanEncap);
  count(Ctr.VxlanEncapFlood);
  emitDesc(x, up);
}

/** A drop at encap: x's reason (the input frame's, when x is it), counted, x's copy released. */
function encapDrop(x: usize, reason: i32): void {
  dropFrame(x, reason);
  releaseDesc(x);
}

/**
 * Linux's two limits: the tunnel port's MTU (the overlay MTU, 1450 on a 1500
 * underlay), as the bridge checks it, and no outer packet larger than the
 * underlay MTU (netwasm never fragments).
 */
// @ts-ignore: decorator
@inline function mtuOk(f: usize, len: u32, tflags: u16, vxp: usize, upp: usize): bool {
  let l3 = len - ETH_HLEN;
  if (load<u16>(f, 12) == ET_VLAN && l3 >= 4) l3 -= 4;
  const ipLen = (tflags & TF_IPV6) != 0 ? IPV6_HLEN : IPV4_HLEN;
  const overlay = <u32>load<u16>(vxp, P_MTU);
  return l3 <= overlay && len + UDP_HLEN + VXLAN_HLEN + ipLen <= <u32>load<u16>(upp, P_MTU);
}

// ---- ARP proxy -------------------------------------------------------------------------

/**
 * An ARP frame about to enter tunnel t (proxy on). A request for an IPv4
 * address in the tunnel's neighbour table is answered in place and sent back
 * out its ingress port; a request for an unknown address is dropped or let
 * through (setting); a malformed one is dropped, as Linux's arp_reduce
 * consumes it; other operations pass. Returns true when it consumed x.
 */
function arpAtTunnel(x: usize, f: usize, len: u32, l3: u32, t: u32, tflags: u16): bool {
  const a = f + l3;
  const kind = arpKind(a, len - l3);
  if (kind == ArpKind.MALFORMED) {
    encapDrop(x, Ctr.ArpMalformed);
    return true;
  }
  if (kind != ArpKind.REQUEST) return false;
  if (arpAnswer(x, f, l3, t)) return true;
  if (tflags & TF_ARP_FLOOD) {
    count(Ctr.ArpProxyFlood);
    return false;
  }
  encapDrop(x, Ctr.ArpProxyDrop);
  return true;
}

/** Answers the ARP request at f + l3 if tunnel t knows the target; true when it did. */
function arpAnswer(x: usize, f: usize, l3: u32, t: u32): bool {
  const a = f + l3;
  const tip = arpTargetIp(a);
  if (arpTargetUnanswerable(tip)) return false;
  const e = t16Find(neighTab, neighMask, neighKey(t, tip));
  if (e == 0) return false;
  arpReplyInPlace(f, a, load<u64>(e, 8));
  store<u32>(x, l3 + ARP_LEN, D_LEN);
  store<u8>(x, load<u8>(x, D_FLAGS) | FrameFlag.REPLIED, D_FLAGS);
  count(Ctr.ArpProxyReply);
  emitDesc(x, <u32>load<u16>(x, D_IN_PORT));
  return true;
}

/**
 * The ARP proxy at a bridge's ingress: an ARP request from a container port of
 * an overlay bridge (proxy on) for an address in the overlay's neighbour table
 * is answered in place and sent back out inPort. Returns true when it answered
 * (the bridge then does nothing more with d); false lets the bridge forward
 * the frame (to local ports and the tunnel port, where unknown targets meet
 * the arpUnknown setting).
 */
export function arpProxy(d: usize, frame: usize, bridge: u32, inPort: u32): bool {
  const len = load<u32>(d, D_LEN);
  let l3: u32 = ETH_HLEN;
  let et = load<u16>(frame, 12);
  if (et == ET_VLAN && len >= ETH_HLEN + 4) {
    et = load<u16>(frame, 16);
    l3 += 4;
  }
  if (et != ET_ARP || nTunnels == 0) return false;
  const t = mapFind(brTab, bridge);
  if (t < 0) return false;
  const tn = tunnel(<u32>t);
  if ((load<u16>(tn, TN_FLAGS) & TF_ARP_PROXY) == 0) return false;
  if (inPort == <u32>load<u16>(tn, TN_VXPORT) || load<u8>(port(inPort), P_KIND) != PortKind.BRIDGE) return false;
  if (arpKind(frame + l3, len - l3) != ArpKind.REQUEST) return false;
  return arpAnswer(d, frame, l3, <u32>t);
}

// ---- decap -----------------------------------------------------------------------------

/**
 * Validates the VXLAN frame of d (at f) that arrived on underlay port inPort,
 * finds its tunnel (in decapTunnel), applies the allow-list and learning, and
 * strips the outer headers. Returns the inner frame's address, or 0 with d's
 * drop reason set and counted.
 */
function decap(d: usize, f: usize, inPort: u32): usize {
  const len = load<u32>(d, D_LEN);
  const p = port(inPort);
  const vt = vtep(inPort);
  // Outer Ethernet: to this VTEP's MAC (or a group address), one optional VLAN tag.
  const dmac = macRaw(f);
  const own = macRaw(p + P_MAC);
  if (own != 0 && dmac != own && (dmac & 1) == 0) return fail(d, Ctr.VxlanDecapNotLocal);
  let l3: u32 = ETH_HLEN;
  let et = load<u16>(f, 12);
  const vlan = <u32>load<u16>(vt, V_VLAN);
  if (et == ET_VLAN || et == ET_QINQ) {
    if (len < ETH_HLEN + 4) return fail(d, Ctr.VxlanDecapBadLength);
    if (vlan != 0 && (<u32>bswap<u16>(load<u16>(f, 14)) & 0xfff) != vlan) return fail(d, Ctr.VxlanDecapWrongVlan);
    et = load<u16>(f, 16);
    l3 += 4;
  } else if (vlan != 0) return fail(d, Ctr.VxlanDecapWrongVlan);
  // Outer IP: checked as the kernel's ip_rcv / ipv6_rcv do, and addressed to this VTEP.
  const ip = f + l3;
  let l4: u32;
  let ipEnd: u32;
  let v6 = false;
  if (et == ET_IPV4) {
    const hl = ipv4Check(ip, len - l3);
    if (hl < 0) return fail(d, -hl);
    if (ipv4IsFragment(ip)) return fail(d, Ctr.Ipv4Fragment);
    if (ipv4Proto(ip) != IPPROTO_UDP) return fail(d, Ctr.VxlanDecapNotUdp);
    const mine = load<u32>(p, P_IP4);
    if (mine != 0 && ipv4Dst(ip) != mine) return fail(d, Ctr.VxlanDecapNotLocal);
    l4 = l3 + <u32>hl;
    ipEnd = l3 + ipv4TotLen(ip);
  } else if (et == ET_IPV6) {
    const o = outer6(ip, len - l3, vt);
    if (o < 0) return fail(d, -o);
    l4 = l3 + <u32>o;
    ipEnd = l3 + IPV6_HLEN + ipv6PayloadLen(ip);
    v6 = true;
  } else return fail(d, Ctr.VxlanDecapNotIp);
  // UDP: lengths agree, our port, a non-zero checksum verified.
  if (ipEnd - l4 < UDP_HLEN) return fail(d, Ctr.UdpBadLength);
  const u = f + l4;
  const ulen = udpLen(u);
  if (ulen != ipEnd - l4) return fail(d, Ctr.UdpBadLength);
  if (load<u16>(u, 2) != load<u16>(vt, V_LISTEN)) return fail(d, Ctr.VxlanDecapBadPort);
  if (load<u16>(u, 6) == 0) {
    if (v6 && (load<u8>(vt, V_FLAGS) & VF_ZERO_CSUM6_RX) == 0) return fail(d, Ctr.UdpZeroChecksum6);
  } else if ((load<u8>(d, D_VNET_FLAGS) & (VNET_NEEDS_CSUM | VNET_DATA_VALID)) == 0) {
    const pseudo = v6 ? ipv6PseudoSum(ip, IPPROTO_UDP, ulen) : ipv4PseudoSum(ip, IPPROTO_UDP, ulen);
    if (!udpVerify(u, ulen, pseudo)) return fail(d, Ctr.UdpBadChecksum);
  }
  // VXLAN: the I flag (reserved bits ignored, RFC 7348 §5), the VNI -> tunnel.
  if (ulen < UDP_HLEN + VXLAN_HLEN + ETH_HLEN) return fail(d, Ctr.VxlanDecapBadLength);
  const vx = u + UDP_HLEN;
  if ((load<u8>(vx) & VXLAN_FLAG_I) == 0) return fail(d, Ctr.VxlanDecapBadFlags);
  const raw = load<u32>(vx, 4) & 0xffffff;
  if (raw != lastVniRaw || lastVniGen != gen || inPort != lastVniPort) {
    lastVniRaw = raw;
    lastVniPort = inPort;
    lastVni = bswap<u32>(raw) >> 8;
    lastVniTunnel = mapFind(vniTab, vniKey(inPort, lastVni));
    lastVniGen = gen;
    fastFill(raw, inPort);
  }
  const t = lastVniTunnel;
  const vni = lastVni;
  if (t < 0) return fail(d, Ctr.VxlanDecapNoVni);
  const tn = tunnel(<u32>t);
  if (<u32>load<u16>(tn, TN_UNDERLAY) != inPort) return fail(d, Ctr.VxlanDecapNoVni);
  const tflags = load<u16>(tn, TN_FLAGS);
  const inner = l4 + UDP_HLEN + VXLAN_HLEN;
  if (tflags & (TF_ALLOW_LIST | TF_LEARN)) {
    const src = ip + (v6 ? 8 : 12);
    if (tflags & TF_ALLOW_LIST) {
      const r = remoteFind(<u32>t, src, v6);
      if (r < 0 || (load<u8>(remote(<u32>r), R_FLAGS) & RF_ALLOWED) == 0) return fail(d, Ctr.VxlanDecapUnknownVtep);
    }
    if (tflags & TF_LEARN) {
      if (!learn(d, <u32>t, src, v6, macRaw(f + 6), macRaw(f + inner + 6))) return fail(d, Ctr.VxlanLearnStaticConflict);
    }
  }
  // Strip: the inner frame ends where the UDP datagram ends (no outer padding).
  store<u32>(d, load<u32>(d, D_OFF) + inner, D_OFF);
  store<u32>(d, ipEnd - inner, D_LEN);
  adjustOffload(d, inner);
  store<u32>(d, vni, D_VNI);
  store<u8>(d, load<u8>(d, D_FLAGS) | FrameFlag.DECAPPED, D_FLAGS);
  decapTunnel = <u32>t;
  return f + inner;
}

/**
 * Offers decap()'s freshly cached VNI (raw, as on the wire) on port inPort to
 * decapFast: taken when its tunnel needs nothing decapFast does not do (on
 * this port, no allow-list, no learning) and the port has the fast match. A
 * VNI that does not qualify leaves the previous entry, which is still right.
 */
function fastFill(raw: u32, inPort: u32): void {
  const t = lastVniTunnel;
  if (!fastPath || t < 0 || (load<u8>(vtep(inPort), V_FLAGS) & VF_FAST) == 0) return;
  const tn = tunnel(<u32>t);
  if (<u32>load<u16>(tn, TN_UNDERLAY) != inPort || (load<u16>(tn, TN_FLAGS) & (TF_ALLOW_LIST | TF_LEARN)) != 0) return;
  fastKey = <u64>raw | (<u64>inPort << 24);
  fastVni = lastVni;
  fastTunnel = <u32>t;
}

/**
 * The common frame in one straight pass, with no calls and no drops: untagged
 * IPv4 without options to this VTEP's MAC, address and UDP port, not a
 * fragment, its UDP checksum zero (or verified good), the I flag, the
 * VNI of fastKey (a tunnel on this port without allow-list or learning, the
 * port a VTEP with the fast match). Such a frame is decapsulated exactly as
 * decap() would; anything else returns 0 untouched, for decap() to decide
 * (and to name the drop). Each test is its own branch, taken for the common
 * frame, and nothing is live across a call.
 */
// @ts-ignore: decorator
@inline function decapFast(d: usize, f: usize, inPort: u32): usize {
  return decapFastCore(d, f, load<u32>(d, D_LEN), vtep(inPort) + V_MATCH, fastVniFor(inPort));
}

/**
 * The VNI (raw, as on the wire, 24 bits) that fastKey offers on port inPort,
 * or 0xffffffff (which no 24-bit VNI equals) if it offers none there: the
 * fast path's per-frame key test is then one 32-bit compare.
 */
// @ts-ignore: decorator
@inline function fastVniFor(inPort: u32): u32 {
  const k = fastKey;
  return (k >> 24) == <u64>inPort ? <u32>k & 0xffffff : 0xffffffff;
}

/**
 * decapFast's tests and strip for frame f (len bytes) of d, with the port's
 * match pairs at m and fastVniFor(port) in vni, all read by the caller (once
 * per loop in the benchmark): 0 for a frame it does not take (a bad UDP
 * checksum included: decap() names the drop), else the inner frame.
 */
// @ts-ignore: decorator
@inline function decapFastCore(d: usize, f: usize, len: u32, m: usize, vni: u32): usize {
  if (len < ETH_HLEN + IPV4_HLEN + UDP_HLEN + VXLAN_HLEN + ETH_HLEN) return 0;
  // Bytes 0..47 against the VTEP's (mask, value) pairs: (f & mask) ^ value is
  // zero in every byte that matches; OR the three and test once. (A port
  // without the fast match has zero pairs and never has the fastKey.)
  const diff = v128.or(
    v128.or(
      v128.xor(v128.and(v128.load(f), v128.load(m)), v128.load(m, 48)),
      v128.xor(v128.and(v128.load(f, 16), v128.load(m, 16)), v128.load(m, 64)),
    ),
    v128.xor(v128.and(v128.load(f, 32), v128.load(m, 32)), v128.load(m, 80)),
  );
  if (v128.any_true(diff)) return 0;
  // The cached VNI on this port.
  if ((load<u32>(f, ETH_HLEN + IPV4_HLEN + 12) & 0xffffff) != vni) return 0;
  // Total length within the frame, the UDP length agreeing, a good header checksum.
  const tot = <u32>bswap<u16>(load<u16>(f, ETH_HLEN + 2));
  if (tot > len - ETH_HLEN) return 0;
  if (tot < IPV4_HLEN + UDP_HLEN + VXLAN_HLEN + ETH_HLEN) return 0;
  const ulen = tot - IPV4_HLEN;
  if (<u32>bswap<u16>(load<u16>(f, ETH_HLEN + IPV4_HLEN + 4)) != ulen) return 0;
  if (!ipv4HeaderOk(f + ETH_HLEN, IPV4_HLEN)) return 0;
  if (load<u16>(f, ETH_HLEN + IPV4_HLEN + 6) != 0) {
    if ((load<u8>(d, D_VNET_FLAGS) & (VNET_NEEDS_CSUM | VNET_DATA_VALID)) == 0) {
      if (csumFold(csumPartialInline(f + ETH_HLEN + IPV4_HLEN, ulen, ipv4PseudoSum(f + ETH_HLEN, IPPROTO_UDP, ulen))) != 0xffff) return 0;
    }
  }
  return decapFastStrip(d, f, ulen);
}

/** decapFast's strip: the outer 50 bytes of frame f (UDP length ulen) of d go. */
// @ts-ignore: decorator
@inline function decapFastStrip(d: usize, f: usize, ulen: u32): usize {
  const inner: u32 = ETH_HLEN + IPV4_HLEN + UDP_HLEN + VXLAN_HLEN;
  store<u32>(d, load<u32>(d, D_OFF) + inner, D_OFF);
  store<u32>(d, ulen - UDP_HLEN - VXLAN_HLEN, D_LEN);
  adjustOffload(d, inner);
  store<u32>(d, fastVni, D_VNI);
  store<u8>(d, load<u8>(d, D_FLAGS) | FrameFlag.DECAPPED, D_FLAGS);
  decapTunnel = fastTunnel;
  return f + inner;
}

/** Whether decapFast is tried first (a switch for the tests that compare both paths). */
let fastPath: bool = true;

/** decapFast, else decap. (With the fast path off, fastKey stays unset.) */
// @ts-ignore: decorator
@inline function decapAny(d: usize, f: usize, inPort: u32): usize {
  const g = decapFast(d, f, inPort);
  return g != 0 ? g : decap(d, f, inPort);
}

/** Test hook: turns the decap fast path on or off (it is on by default). */
export function vxlanSetFastPath(on: u32): void {
  fastPath = on != 0;
  changed();
}

/**
 * The outer IPv6 header at ip (avail bytes from it): checks, extension
 * headers, UDP, addressed to VTEP vt. Returns the UDP header's offset from ip,
 * or minus a counter id. Out of line: IPv6 underlays are the rarer case.
 */
function outer6(ip: usize, avail: u32, vt: usize): i32 {
  const c = ipv6Check(ip, avail);
  if (c < 0) return c;
  const o = ipv6Walk(ip);
  if (o < 0) return o;
  if (ipv6L4Proto != IPPROTO_UDP) return -Ctr.VxlanDecapNotUdp;
  if ((load<u8>(vt, V_FLAGS) & VF_HAS_IP6) != 0 && !ip6Equal(ip + 24, vt + V_IP6)) return -Ctr.VxlanDecapNotLocal;
  return o;
}

/** Drops d for `reason` (out of line: the paths that take it are cold). */
function fail(d: usize, reason: i32): usize {
  dropFrame(d, reason);
  return 0;
}

/** Keeps the offload metadata relative to the new frame start after stripping n bytes. */
// @ts-ignore: decorator
@inline function adjustOffload(d: usize, n: u32): void {
  const vf = load<u8>(d, D_VNET_FLAGS);
  if (vf & VNET_NEEDS_CSUM) {
    const cs = <u32>load<u16>(d, D_CSUM_START);
    // A partial checksum in the outer headers (the outer UDP one) is gone with them.
    if (cs < n) store<u8>(d, vf & ~VNET_NEEDS_CSUM, D_VNET_FLAGS);
    else store<u16>(d, <u16>(cs - n), D_CSUM_START);
  }
  const hdr = <u32>load<u16>(d, D_HDR_LEN);
  if (hdr != 0) store<u16>(d, hdr > n ? <u16>(hdr - n) : 0, D_HDR_LEN);
}

/**
 * Learning (tunnel setting): inner source MAC -> the sending VTEP, as Linux's
 * vxlan_snoop: a static entry for another VTEP makes the frame a drop (false);
 * a learned one moves; an unknown sender VTEP gets a learned remote record
 * whose next hop is the outer source MAC.
 */
function learn(d: usize, t: u32, src: usize, v6: bool, outerSrcMac: u64, innerSrc: u64): bool {
  if ((innerSrc & 1) != 0 || innerSrc == 0) return true;
  const now = load<u32>(d, D_TS_SEC);
  const key = peerKey(t, innerSrc);
  const e = t16Find(peerTab, peerMask, key);
  let r = remoteFind(t, src, v6);
  if (e != 0) {
    const cur = <u32>load<u16>(e, PE_REMOTE);
    if (r >= 0 && cur == <u32>r) {
      if (load<u8>(e, PE_FLAGS) & PF_LEARNED) store<u32>(e, now, PE_SEEN);
      return true;
    }
    if (load<u8>(e, PE_FLAGS) & PF_STATIC) return false;
  }
  if (r < 0) {
    // Fuzz fix: learning (driven by what arrives from the underlay) creates
    // remote records only while half of them are free, and (below) peer
    // entries only up to half the table, while the control plane may fill
    // both to their limits: a flood of learned stations cannot starve the
    // static peers netwasmd adds (peerAdd failed with "table is full").
    r = remotesUsed * 2 >= nRemotes ? -1 : remoteAlloc();
    if (r < 0) {
      count(Ctr.VxlanLearnFull);
      return true;
    }
    remoteCreate(<u32>r, t, src, v6, outerSrcMac, RF_LEARNED);
  }
  const rec = remote(<u32>r);
  if (e != 0) {
    // A learned MAC moves to another VTEP.
    const old = <u32>load<u16>(e, PE_REMOTE);
    store<u16>(e, <u16>r, PE_REMOTE);
    store<u32>(e, now, PE_SEEN);
    store<u32>(rec, load<u32>(rec, R_REFS) + 1, R_REFS);
    const orec = remote(old);
    store<u32>(orec, load<u32>(orec, R_REFS) - 1, R_REFS);
    remoteMaybeFree(old);
    count(Ctr.VxlanLearnMove);
    changed();
    return true;
  }
  if (peersUsed >= (peerMask + 1) >> 1) {
    count(Ctr.VxlanLearnFull);
    remoteMaybeFree(<u32>r);
    return true;
  }
  const n = t16Insert(peerTab, peerMask, key);
  store<u16>(n, <u16>r, PE_REMOTE);
  store<u8>(n, PF_LEARNED, PE_FLAGS);
  store<u32>(n, now, PE_SEEN);
  store<u32>(rec, load<u32>(rec, R_REFS) + 1, R_REFS);
  peersUsed++;
  count(Ctr.VxlanLearn);
  changed();
  return true;
}

/** A frame arriving on a VTEP port: decapsulate it into its overlay (or, cross-connected, encapsulate it). */
export function vtepInput(d: usize, frame: usize, inPort: u32): void {
  if (nTunnels == 0) return dropFrame(d, Ctr.VxlanDecapNoVni); // no VXLAN table in this data plane
  const vt = vtep(inPort);
  if (load<u8>(vt, V_FLAGS) & VF_XCONNECT) return xconnectInput(d, <u32>load<u16>(vt, V_XPORT));
  const inner = decapAny(d, frame, inPort);
  if (inner == 0) return;
  const tn = tunnel(decapTunnel);
  const xc = <u32>load<u16>(tn, TN_XCONNECT);
  const out = xc != 0 ? xc - 1 : <u32>load<u16>(tn, TN_VXPORT);
  const op = port(out);
  const kind = load<u8>(op, P_KIND);
  if (kind == PortKind.UNUSED || (load<u16>(op, P_FLAGS) & PortFlag.DOWN) != 0) return dropFrame(d, Ctr.VxlanDecapPortDown);
  // The inner frame meets the Ethernet checks every frame meets.
  if (ethCheck(d) == 0) return;
  count(Ctr.VxlanDecap);
  if (xc != 0) return emitDesc(d, out);
  bridgeInput(d, inner, out);
}

/** A frame arriving on a cross-connected port goes into the tunnel of tunnel port xport. */
function xconnectInput(d: usize, xport: u32): void {
  const xp = port(xport);
  if (load<u8>(xp, P_KIND) != PortKind.VXLAN) return dropFrame(d, Ctr.VxlanEncapNoTunnel);
  if (load<u16>(xp, P_FLAGS) & PortFlag.DOWN) return dropFrame(d, Ctr.GraphPortDown);
  vxlanEgress(d, xport);
}

// ---- control (between vectors only) ------------------------------------------------------

/**
 * Configures port p as a VTEP: UDP port received on, outer VLAN (0 none),
 * whether an IPv6 address is set (16 bytes at staging), whether a zero UDP
 * checksum over IPv6 is accepted. xconnect (port + 1, 0 = off) makes p a
 * cross-connected access port of tunnel port xconnect - 1 instead.
 */
export function vxlanVtepSet(p: u32, listen: u32, vlan: u32, hasIp6: u32, zeroCsum6: u32, xconnect: u32): void {
  const v = vtep(p);
  memory.fill(v, 0, V_SIZE);
  let fl: u8 = VF_ENABLED;
  if (hasIp6) {
    fl |= VF_HAS_IP6;
    memory.copy(v + V_IP6, staging, 16);
  }
  if (zeroCsum6) fl |= VF_ZERO_CSUM6_RX;
  if (xconnect) {
    fl |= VF_XCONNECT;
    store<u16>(v, <u16>(xconnect - 1), V_XPORT);
  }
  const pe = port(p);
  if (!xconnect && vlan == 0 && macRaw(pe + P_MAC) != 0 && load<u32>(pe, P_IP4) != 0) {
    fl |= VF_FAST;
    buildMatch(v + V_MATCH, pe, listen);
  }
  store<u8>(v, fl, V_FLAGS);
  store<u16>(v, bswap<u16>(<u16>listen), V_LISTEN);
  store<u16>(v, <u16>vlan, V_VLAN);
  changed();
}

/** Writes the fast path's (mask, value) pairs for bytes 0..47 of a frame to VTEP port entry pe. */
function buildMatch(m: usize, pe: usize, listen: u32): void {
  memory.fill(m, 0, 96);
  const mask = m;
  const val = m + 48;
  // Bytes 0..15 at m, 16..31 at m + 16, 32..47 at m + 32 (masks), values 48 further on.
  memory.fill(mask, 0xff, 6); // destination MAC
  memory.copy(val, pe + P_MAC, 6);
  store<u16>(mask, 0xffff, 12); // EtherType IPv4, version 4 and IHL 5
  store<u16>(val, ET_IPV4, 12);
  store<u8>(mask, 0xff, 14);
  store<u8>(val, 0x45, 14);
  store<u8>(mask, 0x3f, 20); // MF and fragment offset zero (DF free)
  store<u8>(mask, 0xff, 21);
  store<u8>(mask, 0xff, 23); // protocol UDP
  store<u8>(val, IPPROTO_UDP, 23);
  memory.fill(mask + 30, 0xff, 4); // destination address
  memory.copy(val + 30, pe + P_IP4, 4);
  store<u16>(mask, 0xffff, 36); // UDP destination port
  store<u16>(val, bswap<u16>(<u16>listen), 36);
  store<u8>(mask, VXLAN_FLAG_I, 42); // the I flag
  store<u8>(val, VXLAN_FLAG_I, 42);
}

/** Clears port p's VTEP configuration. */
export function vxlanVtepClear(p: u32): void {
  memory.fill(vtep(p), 0, V_SIZE);
  changed();
}

/**
 * Creates or updates tunnel t. Returns 0, or -1 when another tunnel has the
 * VNI, -2 when another tunnel has the bridge, -3 when t is out of range.
 * Remote templates are rebuilt (the settings are in them).
 */
export function vxlanTunnelSet(
  t: u32, vni: u32, vxPort: u32, underlay: u32, bridge: u32, hasBridge: u32, xconnect: u32,
  v6: u32, udpCsum: u32, learnOn: u32, arpProxyOn: u32, arpFlood: u32, allowList: u32, df: u32,
  spMin: u32, spMax: u32, dstPort: u32, ttl: u32, tos: u32, ageing: u32,
): i32 {
  if (t >= nTunnels) return -3;
  const ov = mapFind(vniTab, vniKey(underlay, vni));
  if (ov >= 0 && <u32>ov != t) return -1;
  if (hasBridge) {
    const ob = mapFind(brTab, bridge);
    if (ob >= 0 && <u32>ob != t) return -2;
  }
  const tn = tunnel(t);
  const was = load<u16>(tn, TN_FLAGS);
  if (was & TF_USED) {
    t16Delete(vniTab, mapMask, t16Find(vniTab, mapMask, <u64>vniKey(<u32>load<u16>(tn, TN_UNDERLAY), load<u32>(tn, TN_VNI)) + 1));
    if (was & TF_HAS_BRIDGE) {
      t16Delete(brTab, mapMask, t16Find(brTab, mapMask, <u64>load<u16>(tn, TN_BRIDGE) + 1));
    }
  }
  let fl: u16 = TF_USED;
  if (v6) fl |= TF_IPV6;
  if (udpCsum) fl |= TF_UDP_CSUM;
  if (learnOn) fl |= TF_LEARN;
  if (arpProxyOn) fl |= TF_ARP_PROXY;
  if (arpFlood) fl |= TF_ARP_FLOOD;
  if (allowList) fl |= TF_ALLOW_LIST;
  if (df) fl |= TF_DF;
  if (hasBridge) fl |= TF_HAS_BRIDGE;
  const nflood = load<u16>(tn, TN_NFLOOD);
  memory.fill(tn, 0, TN_SIZE);
  store<u32>(tn, vni, TN_VNI);
  store<u16>(tn, <u16>vxPort, TN_VXPORT);
  store<u16>(tn, <u16>underlay, TN_UNDERLAY);
  store<u16>(tn, fl, TN_FLAGS);
  store<u16>(tn, <u16>bridge, TN_BRIDGE);
  store<u16>(tn, <u16>spMin, TN_SPMIN);
  store<u16>(tn, <u16>spMax, TN_SPMAX);
  store<u16>(tn, <u16>dstPort, TN_DSTPORT);
  store<u8>(tn, <u8>ttl, TN_TTL);
  store<u8>(tn, <u8>tos, TN_TOS);
  store<u32>(tn, ageing, TN_AGEING);
  store<u16>(tn, (was & TF_USED) ? nflood : 0, TN_NFLOOD);
  store<u16>(tn, <u16>xconnect, TN_XCONNECT);
  store<u32>(t16Insert(vniTab, mapMask, <u64>vniKey(underlay, vni) + 1), t, 8);
  if (hasBridge) store<u32>(t16Insert(brTab, mapMask, <u64>bridge + 1), t, 8);
  vxlanRebuild(t);
  changed();
  return 0;
}

/** Rebuilds the templates of every remote of tunnel t (after a VTEP or tunnel change). */
export function vxlanRebuild(t: u32): void {
  for (let r: u32 = 0; r < nRemotes; r++) {
    const rec = remote(r);
    if ((load<u8>(rec, R_FLAGS) & RF_USED) != 0 && <u32>load<u16>(rec, R_TUNNEL) == t) buildTemplate(r);
  }
  changed();
}

/** Removes tunnel t with every peer, neighbour and remote of it. */
export function vxlanTunnelClear(t: u32): void {
  if (t >= nTunnels) return;
  const tn = tunnel(t);
  const fl = load<u16>(tn, TN_FLAGS);
  if ((fl & TF_USED) == 0) return;
  t16Delete(vniTab, mapMask, t16Find(vniTab, mapMask, <u64>vniKey(<u32>load<u16>(tn, TN_UNDERLAY), load<u32>(tn, TN_VNI)) + 1));
  if (fl & TF_HAS_BRIDGE) t16Delete(brTab, mapMask, t16Find(brTab, mapMask, <u64>load<u16>(tn, TN_BRIDGE) + 1));
  // Peers and neighbours of t (a deletion shifts a later entry into i: look again).
  for (let i: u32 = 0; i <= peerMask; ) {
    const e = peerTab + (<usize>i << 4);
    const k = load<u64>(e);
    if (k != 0 && <u32>(k >> 48) == t + 1) peerRemove(e);
    else i++;
  }
  for (let i: u32 = 0; i <= neighMask; ) {
    const e = neighTab + (<usize>i << 4);
    const k = load<u64>(e);
    if (k != 0 && <u32>(k >> 32) == t + 1) {
      t16Delete(neighTab, neighMask, e);
      neighUsed--;
    } else i++;
  }
  for (let r: u32 = 0; r < nRemotes; r++) {
    const rec = remote(r);
    if ((load<u8>(rec, R_FLAGS) & RF_USED) != 0 && <u32>load<u16>(rec, R_TUNNEL) == t) {
      store<u8>(rec, 0, R_FLAGS);
      store<u32>(rec, 0, R_REFS);
      store<u8>(rec, RF_USED, R_FLAGS);
      remoteMaybeFree(r);
    }
  }
  memory.fill(tn, 0, TN_SIZE);
  changed();
}

/**
 * The remote of tunnel t for the VTEP address at staging[0..16) (IPv4 in the
 * first 4 bytes when !v6), created with next-hop MAC staging[16..22) if new,
 * else its next hop updated. Marked held by the control plane (and allowed when
 * asked). Returns its index, or -1 when the table is full.
 */
export function vxlanRemoteHold(t: u32, v6: u32, allowed: u32): i32 {
  const nh = macRaw(staging + 16);
  let r = remoteFind(t, staging, v6 != 0);
  let fl: u8 = RF_STATIC;
  if (allowed) fl |= RF_ALLOWED;
  if (r < 0) {
    r = remoteAlloc();
    if (r < 0) return -1;
    remoteCreate(<u32>r, t, staging, v6 != 0, nh, fl);
    return r;
  }
  const rec = remote(<u32>r);
  // A learned record becomes a held one: no longer learned, next hop from the control plane.
  store<u8>(rec, (load<u8>(rec, R_FLAGS) & ~RF_LEARNED & ~RF_ALLOWED) | fl, R_FLAGS);
  storeRaw(rec + R_NHMAC, nh);
  buildTemplate(<u32>r);
  changed();
  return r;
}

/** The control plane no longer holds remote r; it goes when no peer points to it. */
export function vxlanRemoteRelease(r: u32): void {
  if (r >= nRemotes) return;
  const rec = remote(r);
  store<u8>(rec, load<u8>(rec, R_FLAGS) & ~(RF_STATIC | RF_ALLOWED), R_FLAGS);
  remoteMaybeFree(r);
  changed();
}

/** Remote r's flags (0 = free) | tunnel << 8 | refs << 24 (refs below 256); its address to staging[0..16). */
export function vxlanRemoteInfo(r: u32): u32 {
  if (r >= nRemotes) return 0;
  const rec = remote(r);
  memory.copy(staging, rec + R_IP, 16);
  memory.copy(staging + 16, rec + R_NHMAC, 6);
  const refs = load<u32>(rec, R_REFS);
  return <u32>load<u8>(rec, R_FLAGS) | (<u32>load<u16>(rec, R_TUNNEL) << 8) | ((refs > 255 ? 255 : refs) << 24);
}

/** Remote r's IPv6 flag. */
export function vxlanRemoteIsV6(r: u32): u32 {
  return r < nRemotes ? <u32>load<u8>(remote(r), R_V6) : 0;
}

/** Sets entry i of tunnel t's flood list to remote r. Returns 0, or -1 when out of range. */
export function vxlanFloodSet(t: u32, i: u32, r: u32): i32 {
  if (t >= nTunnels || i >= floodMax || r >= nRemotes) return -1;
  store<u16>(floodTab + (<usize>t * floodMax + i) * 2, <u16>r);
  changed();
  return 0;
}

/** Sets the length of tunnel t's flood list. Returns 0, or -1 when out of range. */
export function vxlanFloodCount(t: u32, n: u32): i32 {
  if (t >= nTunnels || n > floodMax) return -1;
  store<u16>(tunnel(t), <u16>n, TN_NFLOOD);
  changed();
  return 0;
}

/**
 * Static (or learned, isStatic = 0) MAC -> remote r entry of tunnel t. Returns
 * 0, -1 when the table is full, -2 when r is not a remote.
 */
export function vxlanPeerSet(t: u32, macHi: u32, macLo: u32, r: u32, isStatic: u32): i32 {
  if (r >= nRemotes || (load<u8>(remote(r), R_FLAGS) & RF_USED) == 0) return -2;
  const key = peerKey(t, rawFromHiLo(macHi, macLo));
  const rec = remote(r);
  let e = t16Find(peerTab, peerMask, key);
  store<u32>(rec, load<u32>(rec, R_REFS) + 1, R_REFS);
  if (e == 0) {
    if (peersUsed >= ((peerMask + 1) >> 2) * 3) {
      store<u32>(rec, load<u32>(rec, R_REFS) - 1, R_REFS);
      return -1;
    }
    e = t16Insert(peerTab, peerMask, key);
    peersUsed++;
  } else {
    const old = <u32>load<u16>(e, PE_REMOTE);
    const orec = remote(old);
    store<u32>(orec, load<u32>(orec, R_REFS) - 1, R_REFS);
    store<u16>(e, <u16>r, PE_REMOTE);
    remoteMaybeFree(old);
  }
  store<u16>(e, <u16>r, PE_REMOTE);
  store<u8>(e, isStatic ? PF_STATIC : PF_LEARNED, PE_FLAGS);
  store<u32>(e, 0, PE_SEEN);
  changed();
  return 0;
}

/** Deletes tunnel t's entry for a MAC. Returns 1 when there was one. */
export function vxlanPeerDelete(t: u32, macHi: u32, macLo: u32): u32 {
  const e = t16Find(peerTab, peerMask, peerKey(t, rawFromHiLo(macHi, macLo)));
  if (e == 0) return 0;
  peerRemove(e);
  return 1;
}

/** Remote of tunnel t's entry for a MAC, or -1. */
export function vxlanPeerGet(t: u32, macHi: u32, macLo: u32): i32 {
  const e = t16Find(peerTab, peerMask, peerKey(t, rawFromHiLo(macHi, macLo)));
  return e == 0 ? -1 : <i32>load<u16>(e, PE_REMOTE);
}

/** Capacity of the peer table (for dumps). */
export function vxlanPeerCap(): u32 {
  return peerMask + 1;
}

/**
 * Peer slot i for dumps: 0 when empty, else tunnel + 1 | flags << 16; the MAC
 * (6 bytes), remote (u16) and last-seen time (u32) go to staging[0..12).
 */
export function vxlanPeerAt(i: u32): u32 {
  if (i > peerMask) return 0;
  const e = peerTab + (<usize>i << 4);
  const k = load<u64>(e);
  if (k == 0) return 0;
  storeRaw(staging, k);
  store<u16>(staging, load<u16>(e, PE_REMOTE), 6);
  store<u32>(staging, load<u32>(e, PE_SEEN), 8);
  return <u32>(k >> 48) | (<u32>load<u8>(e, PE_FLAGS) << 16);
}

/** IPv4 (as load<u32> reads it) -> MAC in tunnel t's neighbour table. Returns 0, or -1 when full. */
export function vxlanNeighSet(t: u32, ip: u32, macHi: u32, macLo: u32): i32 {
  const key = neighKey(t, ip);
  let e = t16Find(neighTab, neighMask, key);
  if (e == 0) {
    if (neighUsed >= ((neighMask + 1) >> 2) * 3) return -1;
    e = t16Insert(neighTab, neighMask, key);
    neighUsed++;
  }
  store<u64>(e, rawFromHiLo(macHi, macLo), 8);
  changed();
  return 0;
}

/** Deletes an address from tunnel t's neighbour table. Returns 1 when it was there. */
export function vxlanNeighDelete(t: u32, ip: u32): u32 {
  const e = t16Find(neighTab, neighMask, neighKey(t, ip));
  if (e == 0) return 0;
  t16Delete(neighTab, neighMask, e);
  neighUsed--;
  changed();
  return 1;
}

/** Entries in use: 0 peers, 1 neighbours, 2 remotes. */
export function vxlanUsed(which: u32): u32 {
  return which == 0 ? peersUsed : which == 1 ? neighUsed : remotesUsed;
}

// ---- benchmark hooks: the node's work on input descriptors, without the graph ------------

/**
 * Encapsulates input frames 0..n-1 `iters` times as if each left through
 * tunnel port vxPort (unicast to a known peer), restoring each frame's start,
 * length and flow hash after each pass: vxlanEgress without the emit.
 * Returns the sum of the encapsulated lengths.
 */
export function vxlanBenchEncap(n: u32, iters: u32, vxPort: u32): u32 {
  let acc: u32 = 0;
  for (let it: u32 = 0; it < iters; it++) {
    for (let i: u32 = 0; i < n; i++) {
      const x = desc(i);
      const off = load<u32>(x, D_OFF);
      const len = load<u32>(x, D_LEN);
      if (encapUnicast(x, vxPort) == ENCAP_SENT) acc += load<u32>(x, D_LEN);
      store<u32>(x, off, D_OFF);
      store<u32>(x, len, D_LEN);
      store<u32>(x, 0, D_HASH);
    }
  }
  return acc;
}

/**
 * Decapsulates input frames 0..n-1 (arrived on VTEP port inPort) `iters`
 * times, restoring each after each pass: vtepInput up to the hand-over to the
 * overlay. Returns the sum of inner lengths (0 for drops).
 */
export function vxlanBenchDecap(n: u32, iters: u32, inPort: u32): u32 {
  // Code generation for V8 (the work per frame is decapAny's): the globals
  // and the port's match address read once, the frame address computed once,
  // and no call inside the inner loop (V8's wasm code has no callee-saved
  // registers: a call in the loop spills every loop value). A frame the fast
  // path does not finish leaves the inner loop for the calls, then it resumes.
  const db = descBase;
  const pb = poolBase;
  const ss = <usize>slotSize;
  const m = vtep(inPort) + V_MATCH;
  let vni = fastVniFor(inPort);
  let acc: u32 = 0;
  for (let it: u32 = 0; it < iters; it++) {
    let i: u32 = 0;
    while (i < n) {
      let d: usize = 0;
      let f: usize = 0;
      let off: u32 = 0;
      let len: u32 = 0;
      let g: usize = 0;
      for (; i < n; i++) {
        d = db + <usize>i * DESC_SIZE;
        off = load<u32>(d, D_OFF);
        len = load<u32>(d, D_LEN);
        f = pb + <usize>load<u32>(d, D_SLOT) * ss + <usize>off;
        g = decapFastCore(d, f, len, m, vni);
        if (g == 0) break;
        count(Ctr.VxlanDecap);
        acc += load<u32>(d, D_LEN);
        store<u32>(d, off, D_OFF);
        store<u32>(d, len, D_LEN);
      }
      if (i >= n) break;
      if (g == 0) g = decap(d, f, inPort);
      if (g != 0) {
        count(Ctr.VxlanDecap);
        acc += load<u32>(d, D_LEN);
      }
      store<u32>(d, off, D_OFF);
      store<u32>(d, len, D_LEN);
      vni = fastVniFor(inPort);
      i++;
    }
  }
  return acc;
}

/**
 * Whether a frame arriving on port inPort, which is something else besides a
 * VTEP (a macvlan/ipvlan parent: eth0 carrying both VXLAN and eth0.10), is
 * VXLAN for this VTEP: IPv4 or IPv6 (behind the VTEP's VLAN tag, if any) UDP
 * to the VTEP's address and listening port. Such frames go to vtepInput.
 */
export function vtepClaims(frame: usize, len: u32, inPort: u32): bool {
  if (nTunnels == 0) return false;
  const v = vtep(inPort);
  const fl = load<u8>(v, V_FLAGS);
  if ((fl & VF_ENABLED) == 0 || (fl & VF_XCONNECT) != 0) return false;
  // EtherTypes compared as read from the wire (ET_* are in network order).
  let l3: u32 = ETH_HLEN;
  let et = load<u16>(frame, 12);
  const vlan = <u32>load<u16>(v, V_VLAN);
  if (vlan != 0) {
    if (bswap<u16>(et) != 0x8100 || len < 18 || (<u32>bswap<u16>(load<u16>(frame, 14)) & 0xfff) != vlan) return false;
    et = load<u16>(frame, 16);
    l3 = 18;
  }
  if (et == ET_IPV4) {
    if (len < l3 + 20 + UDP_HLEN) return false;
    const ip = frame + l3;
    const hl = (<u32>load<u8>(ip) & 0xf) << 2;
    if (hl < 20 || len < l3 + hl + UDP_HLEN || load<u8>(ip, 9) != IPPROTO_UDP) return false;
    if (load<u32>(ip, 16) != load<u32>(port(inPort), P_IP4)) return false;
    return load<u16>(ip + hl, 2) == load<u16>(v, V_LISTEN);
  }
  if (et == ET_IPV6 && (fl & VF_HAS_IP6) != 0) {
    if (len < l3 + IPV6_HLEN + UDP_HLEN) return false;
    const ip = frame + l3;
    if (load<u8>(ip, 6) != IPPROTO_UDP) return false;
    if (load<u64>(ip, 24) != load<u64>(v, V_IP6) || load<u64>(ip, 32) != load<u64>(v, V_IP6 + 8)) return false;
    return load<u16>(ip + IPV6_HLEN, 2) == load<u16>(v, V_LISTEN);
  }
  return false;
}
