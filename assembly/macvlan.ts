// macvlan and ipvlan: the data plane of Docker's macvlan and ipvlan drivers,
// as Linux's drivers/net/macvlan.c and drivers/net/ipvlan/ipvlan_core.c
// forward (the code is ours; the decisions are the kernel's).
//
// Ports: a PARENT port is the host's uplink (eth0); P_AUX is its parent index.
// A CHILD port is a container's interface; P_AUX is its lower device, P_AUX2
// its macvlan mode bits and flags, P_MAC its MAC.
//
// A lower device is what the kernel hangs macvlan/ipvlan interfaces on: the
// bare parent (eth0, VLAN 0) or an 802.1Q sub-interface (eth0.10). Frames
// arriving on the parent tagged with VLAN 10 belong to eth0.10's networks and
// lose their tag before delivery (PCP ignored); untagged and priority-tagged
// (VID 0) frames belong to the bare parent's. Frames from children of eth0.10
// leave the parent tagged with VLAN 10 (pushed in the headroom).
//
// The whole behaviour:
//   macvlan, from a child: bridge mode delivers to another bridge-mode child by
//     destination MAC, and copies broadcast/multicast to the other bridge-mode
//     children and out of the parent; private, vepa and passthru send
//     everything out of the parent.
//   macvlan, from the parent: unicast by destination MAC (passthru: to its one
//     child); broadcast/multicast to every child, except when its source MAC is
//     one of ours (came back through a hairpinning switch): a vepa source's goes
//     to the other vepa and bridge children, a bridge source's to the vepa
//     children only, a private or passthru source's back to that child alone.
//   ipvlan (every child has the parent's MAC), l2: by destination IP (ARP by
//     target IP); a child reaches another child with destination MAC = its own;
//     broadcast/multicast to every child (and out, from a child).
//   ipvlan l3: unicast IP by destination IP only; ARP and broadcast/multicast
//     never cross; a child's routed traffic leaves from the parent's MAC to the
//     network's next hop.
//
// Known difference: the kernel delivers a multicast group only to children
// that joined it (their mc_filter); here every child gets every multicast, as
// children with allmulticast on (broadcast is the same in both).
import {
  D_LEN, D_OUT, D_VLAN, D_TX_COUNT, D_VNET_FLAGS, D_GSO_TYPE, D_CSUM_START, D_HDR_LEN,
  P_KIND, P_FLAGS, P_AUX, P_AUX2, P_MAC, PortKind, PortFlag,
} from './layout';
import { Ctr } from './counters';
import { dropFrame, emitDesc, cloneDesc } from './graph';
import { count, port } from './state';
import { macAt, storeMac, ethType, isMulticast, ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN } from './eth';
import { vlanPush, vlanPop } from './vlan';

// ---- tables (laid out by src/dataplane/macvlan.ts) ---------------------------------

/** Per parent: 4096 u16, lower device index + 1 for each VLAN id (0 = none). */
export const PARENT_MAP_BYTES: u32 = 8192;

/** One lower device (a parent link: the bare parent or a sub-interface). */
export const LOWER_SIZE: u32 = 32;
/** u8: Driver. */
export const LW_DRIVER: u32 = 0;
/** u8: ipvlan mode (IpvlanMode). */
export const LW_MODE: u32 = 1;
/** u8: LowerFlag bits. */
export const LW_FLAGS: u32 = 2;
/** u16: VLAN id of the sub-interface (0 = the bare parent). */
export const LW_VLAN: u32 = 4;
/** u16: the physical parent port, NO_PARENT for a network without one (Docker's dummy parent). */
export const LW_PARENT: u32 = 6;
/** u16: first entry of its children in the member list. */
export const LW_MEMBER_START: u32 = 8;
/** u16: number of children. */
export const LW_MEMBER_COUNT: u32 = 10;
/** u8[6]: the parent link's MAC (ipvlan: the MAC every child shares). */
export const LW_MAC: u32 = 12;
/** u8[6]: ipvlan l3: MAC of the next hop that routed traffic goes to. */
export const LW_NEXT_HOP: u32 = 20;

export const NO_PARENT: u32 = 0xffff;

export enum Driver {
  NONE = 0,
  MACVLAN = 1,
  IPVLAN = 2,
}

export enum IpvlanMode {
  L2 = 0,
  L3 = 1,
}

export enum LowerFlag {
  /** A macvlan passthru child owns the lower device: it gets every frame. */
  PASSTHRU = 1,
  /** ipvlan_flag private: no child-to-child traffic. */
  PRIVATE = 2,
  /** ipvlan_flag vepa: child-to-child traffic goes out of the parent too. */
  VEPA = 4,
  /** LW_NEXT_HOP is set. */
  NEXT_HOP = 8,
}

/** macvlan modes, with the kernel's values (enum macvlan_mode), in a child's P_AUX2 low byte. */
export const MODE_PRIVATE: u32 = 1;
export const MODE_VEPA: u32 = 2;
export const MODE_BRIDGE: u32 = 4;
export const MODE_PASSTHRU: u32 = 8;
/** In a child's P_AUX2: drop frames whose source MAC is not the child's. */
export const CHILD_CHECK_SRC: u32 = 0x100;
/** In a parent's P_AUX2: every network on it is ipvlan (which counters its drops go to). */
export const PARENT_IPVLAN: u32 = 1;

/** MAC table entry: u64 key ((lower + 1) << 48 | MAC), u32 child port. Key 0 = empty. */
export const MAC_ENTRY_SIZE: u32 = 16;
/** IP table entry: u32 tag ((lower + 1) | family << 16, 0 = empty), u32 child port, u8[16] address. */
export const IP_ENTRY_SIZE: u32 = 32;

let parentBase: usize = 0;
let parentCount: u32 = 0;
let lowerBase: usize = 0;
let lowerCount: u32 = 0;
let memberBase: usize = 0;
let macBase: usize = 0;
let macMask: u32 = 0;
let ipBase: usize = 0;
let ipMask: u32 = 0;

/** Called once by the host (the table plan's init) with the addresses of the tables. */
export function macvlanSetup(parents: usize, nParents: u32, lowers: usize, nLowers: u32, members: usize,
  macs: usize, macSlots: u32, ips: usize, ipSlots: u32): void {
  parentBase = parents;
  parentCount = nParents;
  lowerBase = lowers;
  lowerCount = nLowers;
  memberBase = members;
  macBase = macs;
  macMask = macSlots - 1;
  ipBase = ips;
  ipMask = ipSlots - 1;
}

// @ts-ignore: decorator
@inline function lowerRec(i: u32): usize {
  return lowerBase + <usize>i * LOWER_SIZE;
}

// ---- hashing (src/dataplane/macvlan.ts computes the same) --------------------------

/** A 32-bit finaliser (lowbias32). */
// @ts-ignore: decorator
@inline export function mix32(h: u32): u32 {
  h ^= h >> 16;
  h *= 0x7feb352d;
  h ^= h >> 15;
  h *= 0x846ca68b;
  h ^= h >> 16;
  return h;
}

/** The child port with MAC `mac` on lower device `lower`, or -1. */
function macLookup(lower: u32, mac: u64): i32 {
  if (macBase == 0) return -1;
  const key = (<u64>(lower + 1) << 48) | mac;
  let i = mix32(<u32>key ^ mix32(<u32>(key >> 32))) & macMask;
  for (let n: u32 = 0; n <= macMask; n++) {
    const e = macBase + (<usize>i << 4);
    const k = load<u64>(e);
    if (k == key) return <i32>load<u32>(e, 8);
    if (k == 0) return -1;
    i = (i + 1) & macMask;
  }
  return -1;
}

/** The child port owning the IPv4 (fam 4) or IPv6 (fam 6) address at a on lower device `lower`, or L3_MISS. */
function ipLookup(lower: u32, fam: u32, a: usize): i32 {
  if (ipBase == 0) return L3_MISS;
  const tag = (lower + 1) | (fam << 16);
  const w0 = load<u32>(a);
  let w1: u32 = 0, w2: u32 = 0, w3: u32 = 0;
  let h = mix32(mix32(tag) ^ w0);
  if (fam == 6) {
    w1 = load<u32>(a, 4);
    w2 = load<u32>(a, 8);
    w3 = load<u32>(a, 12);
    h = mix32(mix32(mix32(h ^ w1) ^ w2) ^ w3);
  }
  let i = h & ipMask;
  for (let n: u32 = 0; n <= ipMask; n++) {
    const e = ipBase + (<usize>i << 5);
    const t = load<u32>(e);
    if (t == 0) return L3_MISS;
    if (t == tag && load<u32>(e, 8) == w0
      && (fam == 4 || (load<u32>(e, 12) == w1 && load<u32>(e, 16) == w2 && load<u32>(e, 20) == w3))) {
      return <i32>load<u32>(e, 4);
    }
    i = (i + 1) & ipMask;
  }
  return L3_MISS;
}

// ---- the parent: VLAN demultiplexing -------------------------------------------------

/** A frame arriving on a PARENT port (the uplink). */
export function parentInput(d: usize, frame: usize, inPort: u32): void {
  const p = port(inPort);
  const ipv = (load<u32>(p, P_AUX2) & PARENT_IPVLAN) != 0;
  const pi = load<u32>(p, P_AUX);
  if (pi >= parentCount) return dropFrame(d, ipv ? Ctr.IpvlanBadParent : Ctr.MacvlanBadParent);
  const tagged = ethType(frame) == ETHERTYPE_VLAN;
  let vid: u32 = 0;
  if (tagged) {
    if (load<u32>(d, D_LEN) < ETH_HLEN + 4) return dropFrame(d, ipv ? Ctr.IpvlanBadTag : Ctr.MacvlanBadTag);
    vid = <u32>bswap<u16>(load<u16>(frame, 14)) & 0xfff;
  }
  const li = <u32>load<u16>(parentBase + <usize>pi * PARENT_MAP_BYTES + (<usize>vid << 1));
  if (li == 0 || li > lowerCount) return dropFrame(d, ipv ? Ctr.IpvlanWrongVlan : Ctr.MacvlanWrongVlan);
  const lower = li - 1;
  const lw = lowerRec(lower);
  // The sub-interface (or, for VID 0, the bare parent) takes the tag off.
  if (tagged) frame = popTag(d, frame);
  store<u16>(d, <u16>vid, D_VLAN);
  const drv = <u32>load<u8>(lw, LW_DRIVER);
  if (drv == Driver.MACVLAN) return macvlanFromParent(d, frame, lower, lw);
  if (drv == Driver.IPVLAN) return ipvlanFromParent(d, frame, lower, lw);
  dropFrame(d, ipv ? Ctr.IpvlanWrongVlan : Ctr.MacvlanWrongVlan);
}

/** A frame arriving on a CHILD port (a container's macvlan/ipvlan interface). */
export function childInput(d: usize, frame: usize, inPort: u32): void {
  const p = port(inPort);
  const lower = load<u32>(p, P_AUX);
  if (lower >= lowerCount) return dropFrame(d, Ctr.MacvlanBadChild);
  const lw = lowerRec(lower);
  const drv = <u32>load<u8>(lw, LW_DRIVER);
  if (drv == Driver.MACVLAN) return macvlanFromChild(d, frame, inPort, p, lower, lw);
  if (drv == Driver.IPVLAN) return ipvlanFromChild(d, frame, inPort, p, lower, lw);
  dropFrame(d, Ctr.MacvlanBadChild);
}

// ---- macvlan -----------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function childMode(c: u32): u32 {
  return load<u32>(port(c), P_AUX2) & 0xff;
}

function macvlanFromChild(d: usize, frame: usize, inPort: u32, p: usize, lower: u32, lw: usize): void {
  const aux2 = load<u32>(p, P_AUX2);
  if ((aux2 & CHILD_CHECK_SRC) != 0 && macAt(frame + 6) != macAt(p + P_MAC)) return dropFrame(d, Ctr.MacvlanSrcSpoof);
  if ((aux2 & 0xff) == MODE_BRIDGE) {
    const dst = macAt(frame);
    if (isMulticast(dst)) {
      // To the other bridge-mode children directly, and out to the world.
      floodChildren(d, lw, <i32>inPort, MODE_BRIDGE, true, false);
      return toParent(d, lw, false);
    }
    const t = macLookup(lower, dst);
    if (t >= 0 && childMode(<u32>t) == MODE_BRIDGE) {
      count(Ctr.MacvlanLocal);
      return toChild(d, <u32>t, false);
    }
  }
  // private, vepa, passthru (and bridge to anyone else): out of the parent.
  toParent(d, lw, false);
}

function macvlanFromParent(d: usize, frame: usize, lower: u32, lw: usize): void {
  const dst = macAt(frame);
  if (isMulticast(dst)) {
    const s = macLookup(lower, macAt(frame + 6));
    let mask = MODE_PRIVATE | MODE_VEPA | MODE_PASSTHRU | MODE_BRIDGE;
    if (s >= 0) {
      const sm = childMode(<u32>s);
      // One of our children sent it and the switch sent it back.
      if (sm != MODE_VEPA && sm != MODE_BRIDGE) return toChild(d, <u32>s, false);
      // Bridge-mode children saw a bridge-mode child's frame on its way out.
      mask = sm == MODE_VEPA ? MODE_VEPA | MODE_BRIDGE : MODE_VEPA;
    }
    if (floodChildren(d, lw, s, mask, false, false) == 0) dropFrame(d, Ctr.MacvlanFloodEmpty);
    return;
  }
  let t: i32 = -1;
  if (load<u8>(lw, LW_FLAGS) & <u8>LowerFlag.PASSTHRU) {
    if (load<u16>(lw, LW_MEMBER_COUNT) != 0) t = <i32>load<u8>(memberBase + <usize>load<u16>(lw, LW_MEMBER_START));
  } else {
    t = macLookup(lower, dst);
  }
  if (t < 0) return dropFrame(d, Ctr.MacvlanNoChild);
  toChild(d, <u32>t, false);
}

// ---- ipvlan ------------------------------------------------------------------------------

/** Results of l3Find besides a child port. */
const L3_NONE: i32 = -1; // not ARP, IPv4 or IPv6
const L3_BAD: i32 = -2; // cut short or failing the header checks
const L3_MISS: i32 = -3; // no child has the address

/**
 * ipvlan_get_L3_hdr + ipvlan_addr_lookup: the child owning the frame's
 * destination (useDest) or source IP address: ARP by target (sender) IP,
 * IPv4/IPv6 by address, an IPv6 neighbour solicitation from :: (DAD) by its
 * target.
 */
function l3Find(frame: usize, len: u32, lower: u32, useDest: bool): i32 {
  const et = ethType(frame);
  const l3 = frame + ETH_HLEN;
  const avail = len - ETH_HLEN;
  if (et == ETHERTYPE_ARP) {
    if (avail < 28) return L3_BAD;
    return ipLookup(lower, 4, l3 + (useDest ? 24 : 14));
  }
  if (et == ETHERTYPE_IPV4) {
    if (avail < 20) return L3_BAD;
    const v = <u32>load<u8>(l3);
    const hl = (v & 0xf) << 2;
    const tot = <u32>bswap<u16>(load<u16>(l3, 2));
    if ((v >> 4) != 4 || hl < 20 || tot > avail || tot < hl) return L3_BAD;
    return ipLookup(lower, 4, l3 + (useDest ? 16 : 12));
  }
  if (et == ETHERTYPE_IPV6) {
    if (avail < 40) return L3_BAD;
    if ((load<u8>(l3) >> 4) != 6) return L3_BAD;
    if ((load<u64>(l3, 8) | load<u64>(l3, 16)) == 0 && load<u8>(l3, 6) == 58) {
      if (avail < 48) return L3_BAD;
      if (load<u8>(l3, 40) != 135) return L3_MISS;
      if (avail < 64) return L3_BAD;
      return ipLookup(lower, 6, l3 + 48);
    }
    return ipLookup(lower, 6, l3 + (useDest ? 24 : 8));
  }
  return L3_NONE;
}

function ipvlanFromChild(d: usize, frame: usize, inPort: u32, p: usize, lower: u32, lw: usize): void {
  const pmac = macAt(lw + LW_MAC);
  const src = macAt(frame + 6);
  const dst = macAt(frame);
  if ((load<u32>(p, P_AUX2) & CHILD_CHECK_SRC) != 0 && src != pmac) return dropFrame(d, Ctr.IpvlanSrcSpoof);
  const flags = <u32>load<u8>(lw, LW_FLAGS);
  const len = load<u32>(d, D_LEN);
  if (<u32>load<u8>(lw, LW_MODE) == IpvlanMode.L2) {
    if ((flags & LowerFlag.VEPA) == 0 && dst == src) {
      // To our own MAC: another child's address, or the host's.
      const t = l3Find(frame, len, lower, true);
      if (t >= 0) return ipvlanLocal(d, <u32>t, flags);
      return dropFrame(d, Ctr.IpvlanToHost);
    }
    if (isMulticast(dst)) floodChildren(d, lw, <i32>inPort, 0, true, true);
    return toParent(d, lw, true);
  }
  // l3
  const et = ethType(frame);
  if (et == ETHERTYPE_ARP) return dropFrame(d, Ctr.IpvlanL3Arp);
  const t = l3Find(frame, len, lower, true);
  if (t >= 0 && (flags & LowerFlag.VEPA) == 0) return ipvlanLocal(d, <u32>t, flags);
  if (isMulticast(dst)) return dropFrame(d, Ctr.IpvlanL3Mcast);
  if (et != ETHERTYPE_IPV4 && et != ETHERTYPE_IPV6) return dropFrame(d, Ctr.IpvlanL3NotIp);
  if (t == L3_BAD) return dropFrame(d, Ctr.IpvlanBadIp);
  // The host routes it: from the parent's MAC to the next hop's.
  if ((flags & LowerFlag.NEXT_HOP) == 0) return dropFrame(d, Ctr.IpvlanL3NoNextHop);
  storeMac(frame, macAt(lw + LW_NEXT_HOP));
  storeMac(frame + 6, pmac);
  toParent(d, lw, true);
}

/** Child-to-child inside the host, unless ipvlan_flag private forbids it. */
function ipvlanLocal(d: usize, t: u32, flags: u32): void {
  if (flags & LowerFlag.PRIVATE) return dropFrame(d, Ctr.IpvlanPrivate);
  count(Ctr.IpvlanLocal);
  toChild(d, t, true);
}

function ipvlanFromParent(d: usize, frame: usize, lower: u32, lw: usize): void {
  const dst = macAt(frame);
  const mcast = isMulticast(dst);
  const len = load<u32>(d, D_LEN);
  const pmac = macAt(lw + LW_MAC);
  if (<u32>load<u8>(lw, LW_MODE) == IpvlanMode.L2) {
    if (mcast) {
      // ipvlan_external_frame: our own MAC and a child's source address = our own frame.
      if (macAt(frame + 6) == pmac && l3Find(frame, len, lower, false) >= 0) return dropFrame(d, Ctr.IpvlanLoop);
      if (floodChildren(d, lw, -1, 0, false, true) == 0) dropFrame(d, Ctr.IpvlanFloodEmpty);
      return;
    }
  } else if (ethType(frame) == ETHERTYPE_ARP) {
    return dropFrame(d, Ctr.IpvlanL3Arp);
  }
  if (!mcast && dst != pmac) return dropFrame(d, Ctr.IpvlanOtherMac);
  const t = l3Find(frame, len, lower, true);
  if (t >= 0) return toChild(d, <u32>t, true);
  if (mcast) return dropFrame(d, Ctr.IpvlanL3Mcast);
  if (t == L3_BAD) return dropFrame(d, Ctr.IpvlanBadIp);
  if (t == L3_NONE) return dropFrame(d, Ctr.IpvlanNotIp);
  dropFrame(d, Ctr.IpvlanNoChild);
}

// ---- delivery ----------------------------------------------------------------------------

/** Delivers d's frame to child port t. */
function toChild(d: usize, t: u32, ipv: bool): void {
  const q = port(t);
  if (<i32>load<u8>(q, P_KIND) != PortKind.CHILD) return dropFrame(d, ipv ? Ctr.IpvlanNoChild : Ctr.MacvlanNoChild);
  if (load<u16>(q, P_FLAGS) & PortFlag.DOWN) return dropFrame(d, ipv ? Ctr.IpvlanChildDown : Ctr.MacvlanChildDown);
  store<u16>(d, <u16>t, D_OUT);
  count(ipv ? Ctr.IpvlanToChild : Ctr.MacvlanToChild);
  emitDesc(d, t);
}

/**
 * Copies d's frame to every child of lower device lw but `skip` whose macvlan
 * mode is in `mask` (0: any, for ipvlan) and that is up. With `keep` every
 * child gets a copy (the frame itself goes on to the parent); without, the
 * last child gets the frame itself. Returns the number of children reached.
 */
function floodChildren(d: usize, lw: usize, skip: i32, mask: u32, keep: bool, ipv: bool): u32 {
  const list = memberBase + <usize>load<u16>(lw, LW_MEMBER_START);
  const n = <u32>load<u16>(lw, LW_MEMBER_COUNT);
  let last: i32 = -1;
  let sent: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const m = <u32>load<u8>(list + i);
    if (<i32>m == skip) continue;
    const q = port(m);
    if (<i32>load<u8>(q, P_KIND) != PortKind.CHILD || (load<u16>(q, P_FLAGS) & PortFlag.DOWN) != 0) continue;
    if (mask != 0 && (load<u32>(q, P_AUX2) & mask) == 0) continue;
    if (keep) {
      emitCopy(d, m, ipv);
    } else {
      if (last >= 0) emitCopy(d, <u32>last, ipv);
      last = <i32>m;
    }
    sent++;
  }
  if (last >= 0) {
    store<u16>(d, <u16>last, D_OUT);
    count(ipv ? Ctr.IpvlanToChild : Ctr.MacvlanToChild);
    emitDesc(d, <u32>last);
  }
  return sent;
}

// @ts-ignore: decorator
@inline function emitCopy(d: usize, out: u32, ipv: bool): void {
  const x = cloneDesc(d);
  if (x == 0) return;
  count(ipv ? Ctr.IpvlanToChild : Ctr.MacvlanToChild);
  emitDesc(x, out);
}

/**
 * Sends d's frame out of the lower device's parent: tagged with the
 * sub-interface's VLAN (TPID 0x8100, PCP 0, as the kernel's vlan device with
 * its default egress priority map).
 */
function toParent(d: usize, lw: usize, ipv: bool): void {
  const out = <u32>load<u16>(lw, LW_PARENT);
  if (out == NO_PARENT) {
    // Docker's dummy parent: the network ends here. Children that got a copy
    // make this a normal outcome, not a drop.
    if (load<u16>(d, D_TX_COUNT) == 0) dropFrame(d, ipv ? Ctr.IpvlanNoParent : Ctr.MacvlanNoParent);
    return;
  }
  const q = port(out);
  if (<i32>load<u8>(q, P_KIND) != PortKind.PARENT) return dropFrame(d, ipv ? Ctr.IpvlanNoParent : Ctr.MacvlanNoParent);
  if (load<u16>(q, P_FLAGS) & PortFlag.DOWN) return dropFrame(d, ipv ? Ctr.IpvlanParentDown : Ctr.MacvlanParentDown);
  const vid = <u32>load<u16>(lw, LW_VLAN);
  if (vid != 0 && pushTag(d, vid) == 0) return dropFrame(d, ipv ? Ctr.IpvlanNoHeadroom : Ctr.MacvlanNoHeadroom);
  store<u16>(d, <u16>out, D_OUT);
  count(ipv ? Ctr.IpvlanToParent : Ctr.MacvlanToParent);
  emitDesc(d, out);
}

// ---- 802.1Q on the parent (vlan.ts does the tag; we keep the offload offsets) ----------

function pushTag(d: usize, vid: u32): usize {
  const p = vlanPush(d, ETHERTYPE_VLAN, vid);
  if (p != 0) shiftOffload(d, 4);
  return p;
}

function popTag(d: usize, frame: usize): usize {
  const p = vlanPop(d, frame);
  shiftOffload(d, -4);
  return p;
}

/** Keeps csum_start and hdr_len relative to the frame start when it moves by delta bytes. */
function shiftOffload(d: usize, delta: i32): void {
  if (load<u8>(d, D_VNET_FLAGS) & 1) {
    const cs = <i32>load<u16>(d, D_CSUM_START) + delta;
    store<u16>(d, <u16>(cs < 0 ? 0 : cs), D_CSUM_START);
  }
  if (load<u8>(d, D_GSO_TYPE) != 0) {
    const hl = <i32>load<u16>(d, D_HDR_LEN);
    if (hl != 0) store<u16>(d, <u16>(hl + delta < 0 ? 0 : hl + delta), D_HDR_LEN);
  }
}
