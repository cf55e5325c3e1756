// The learning bridge, as the Linux bridge forwards (net/bridge/br_input.c,
// br_forward.c): entered from the graph for frames arriving on a BRIDGE port,
// and from VXLAN decap for frames arriving through an overlay's tunnel port.
//
// The whole behaviour, Click etherswitch style:
//   check the source; classify the VLAN; learn the source with the packet time;
//   a fresh unicast hit goes to its port, never back out of the ingress port;
//   everything else floods to the bridge's other ports of that VLAN.
import {
  D_SLOT, D_OFF, D_LEN, D_IN_PORT, D_OUT, D_FLAGS, D_VLAN, D_BRIDGE, D_TS_SEC, MAX_PORTS, MAX_VECTOR, FREE_TOP, HEADROOM,
  P_KIND, P_FLAGS, P_BRIDGE, P_VLAN_MODE, PortKind, PortFlag, FrameFlag, VlanMode,
} from './layout';
import { Ctr } from './counters';
import { dropFrame, cloneDesc, runVector } from './graph';
import { count, port, desc, freeBase, slotPtr, frameInSlot } from './state';
import { framePtr } from './frame';
import { macAt, macPairAt, isMulticast, BROADCAST, ETH_HLEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_ARP } from './eth';
import {
  bridgeRec, bridgeCount, memberBase, fdbProbeAt, fdbKey, fdbLearn, fdbSweep, fdbMask, fdbBase, fdbHash, fdbCount,
  FdbFlag, BridgeFlag, FDB_E_PORT, FDB_E_FLAGS, FDB_E_SEEN, BR_AGEING, BR_FLAGS, BR_MEMBER_START, BR_MEMBER_COUNT,
} from './fdb';
import { vlanIngress, vlanAllowed } from './vlan';
import { portEgress, bridgePortEgress } from './egress';
import { ipvsBridgeHook } from './ipvs';
import { gatewayHook } from './gateway';

/** IEEE 802.1D reserved group addresses 01:80:C2:00:00:0X. */
const LINK_LOCAL: u64 = 0x0180c2000000;
/** 802.3x PAUSE (MAC control), the link-local address a bridge never forwards nor learns from. */
const PAUSE: u64 = LINK_LOCAL | 1;

/** Packet second of the last ageing sweep. */
let lastSweep: u32 = 0;

/** Packet time (seconds) of the latest frame the bridge saw: the control plane's clock for dumps. */
export function bridgeClock(): u32 {
  return lastSweep;
}

/** Forwards descriptor d's frame (at `frame`) that arrived on bridge port inPort. */
export function bridgeInput(d: usize, frame: usize, inPort: u32): void {
  const p = port(inPort);
  const b = <u32>load<u16>(p, P_BRIDGE);
  if (b >= bridgeCount) return dropFrame(d, Ctr.BridgeNoBridge);
  if (load<u32>(d, D_LEN) < ETH_HLEN) return dropFrame(d, Ctr.EthRunt);
  const now = load<u32>(d, D_TS_SEC);
  if (now != lastSweep) {
    // Once per second of packet time, a 64th of the FDB loses its expired entries.
    lastSweep = now;
    fdbSweep(now, ((fdbMask + 1) >> 6) | 64);
  }

  const macs = macPairAt(frame);
  const src = <u64>i64x2.extract_lane(macs, 1);
  // Separate tests, not || / && chains, here and below: V8 then branches
  // instead of materialising booleans (setcc, movzx, test).
  if (src == 0) return dropFrame(d, Ctr.BridgeBadSrcMac);
  if (isMulticast(src)) return dropFrame(d, Ctr.BridgeBadSrcMac);
  let dst = <u64>i64x2.extract_lane(macs, 0);
  if (dst == PAUSE) return dropFrame(d, Ctr.BridgePauseDrop);

  // A port without VLAN filtering classifies everything into VLAN 0.
  let vid: u32 = 0;
  if (<u32>load<u8>(p, P_VLAN_MODE) != VlanMode.NONE) {
    const vlan = vlanIngress(d, frame, p, inPort);
    if (vlan < 0) return;
    vid = <u32>vlan;
  }
  store<u16>(d, <u16>vid, D_VLAN);
  store<u16>(d, <u16>b, D_BRIDGE);

  const inFlags = <u32>load<u16>(p, P_FLAGS);
  // The destination's home slot: hashed once, and read now, so that its cache
  // miss overlaps the source's probe (learning) instead of following it.
  let dstHome = fdbHash(b, vid, dst) & fdbMask;
  load<u64>(fdbBase + (<usize>dstHome << 4)); // kept: a load may trap, so neither Binaryen nor V8 drops it
  if (inFlags & PortFlag.LEARNING) fdbLearn(b, vid, src, inPort, now);
  // Link-local protocols (LLDP, LACP, 802.1X ...) are learned from but not
  // forwarded; the STP group address is forwarded as there is no STP.
  // (01:80:C2:00:00:01..0F, as one unsigned compare.)
  if (<u64>(dst - (LINK_LOCAL + 1)) < <u64>15) return dropFrame(d, Ctr.BridgeLinkLocalDrop);
  // The bridge network's gateway address answers ARP and ICMP echo (gateway.ts).
  if (gatewayHook(d, frame, b, inPort)) return;

  const br = bridgeRec(b);
  if ((load<u32>(br, BR_FLAGS) & BridgeFlag.SERVICES) != 0) {
    if (forServices(d, frame)) {
      if (!ipvsBridgeHook(d, frame, b)) return;
      frame = framePtr(d);
      dst = macAt(frame);
      dstHome = fdbHash(b, vid, dst) & fdbMask;
    }
  }

  if (isMulticast(dst)) return flood(d, inPort, inFlags, b, vid, dst == BROADCAST ? PortFlag.BCAST_FLOOD : PortFlag.MCAST_FLOOD);
  // fdbFindAt + fdbFresh, as branches: unknown or expired floods.
  const e = fdbProbeAt(b, fdbKey(vid, dst), dstHome);
  if (load<u64>(e) == 0) return flood(d, inPort, inFlags, b, vid, PortFlag.FLOOD);
  const eFlags = <u32>load<u8>(e, FDB_E_FLAGS);
  if ((eFlags & (FdbFlag.STATIC | FdbFlag.LOCAL)) == 0) {
    // Signed difference: packet time may step back (another capture); that is "just seen".
    if (<i32>(now - load<u32>(e, FDB_E_SEEN)) >= <i32>load<u32>(br, BR_AGEING)) {
      return flood(d, inPort, inFlags, b, vid, PortFlag.FLOOD);
    }
  }
  if (eFlags & FdbFlag.LOCAL) {
    // To the bridge's own address (Linux: up the bridge device to the host's stack): delivered locally.
    count(Ctr.BridgeLocal);
    return;
  }
  forward(d, inPort, inFlags, b, vid, <u32>load<u8>(e, FDB_E_PORT));
}

/**
 * Fewest FDB entries for which runVector runs bridgePrefetch first: 256K
 * entries lie in up to 256K cache lines (16 MiB), beyond what the last-level
 * cache keeps beside the frames, and their pages beyond the TLB's reach. With
 * fewer (100K entries: measured), the misses are last-level cache hits that
 * the per-frame loop already overlaps, and the pass only costs; on data planes
 * without a large bridge (VXLAN, IPVS, macvlan) it never runs.
 */
export const PREFETCH_MIN_ENTRIES: u32 = 1 << 18;

/** Where bridgePrefetch leaves what it read, so that its loads are kept. */
let prefetchSink: u64 = 0;

/**
 * Pass 1 of the vector (VPP style), for a large FDB: for every frame that
 * arrived on a bridge port without VLAN filtering, hashes its source and
 * destination keys and reads their home slots, so the cache and TLB misses of
 * the whole vector overlap instead of stalling frame after frame in pass 2
 * (runVector's per-frame loop, which probes the table itself as before). It
 * only reads: no result is carried over, so learning stays in frame order.
 * Frames the Ethernet checks would refuse are skipped.
 */
export function bridgePrefetch(n: u32): void {
  const base = fdbBase;
  const mask = fdbMask;
  let sink: u64 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const d = desc(i);
    const slot = load<u32>(d, D_SLOT);
    const off = load<u32>(d, D_OFF);
    const len = load<u32>(d, D_LEN);
    if (!frameInSlot(slot, off, len) || len < ETH_HLEN) continue;
    const inPort = <u32>load<u16>(d, D_IN_PORT);
    if (inPort >= <u32>MAX_PORTS) continue;
    const p = port(inPort);
    if (<i32>load<u8>(p, P_KIND) != PortKind.BRIDGE || <u32>load<u8>(p, P_VLAN_MODE) != VlanMode.NONE) continue;
    const b = <u32>load<u16>(p, P_BRIDGE);
    const frame = slotPtr(slot) + off;
    const macs = macPairAt(frame);
    sink ^= load<u64>(base + (<usize>(fdbHash(b, 0, <u64>i64x2.extract_lane(macs, 1)) & mask) << 4));
    sink ^= load<u64>(base + (<usize>(fdbHash(b, 0, <u64>i64x2.extract_lane(macs, 0)) & mask) << 4));
  }
  prefetchSink = sink;
}

/**
 * What the IPVS hook sees on a bridge with services: IPv4 and IPv6 (NAT, DR,
 * replies) and ARP (the VIPs' responder), behind the bridge VLAN's tag if the
 * frame carries it.
 */
// @ts-ignore: decorator
@inline function forServices(d: usize, frame: usize): bool {
  let t = bswap<u16>(load<u16>(frame, 12));
  if (load<u8>(d, D_FLAGS) & <u8>FrameFlag.VLAN_TAGGED) t = bswap<u16>(load<u16>(frame, 16));
  return t == ETHERTYPE_IPV4 || t == ETHERTYPE_IPV6 || t == ETHERTYPE_ARP;
}

/** Known unicast to port `out`, as the kernel's br_forward/should_deliver. */
// @ts-ignore: decorator
@inline function forward(d: usize, inPort: u32, inFlags: u32, b: u32, vid: u32, out: u32): void {
  const q = port(out);
  const f = <u32>load<u16>(q, P_FLAGS);
  // Back out of the ingress port only with hairpin on (one test, no && chain).
  if (((out ^ inPort) | (f & PortFlag.HAIRPIN)) == 0) return dropFrame(d, Ctr.BridgeReflectDrop);
  // isMember(q, b): kind BRIDGE (2) or VXLAN (4), as one test.
  const qKind = <i32>load<u8>(q, P_KIND);
  if (((<u32>qKind - PortKind.BRIDGE) & ~<u32>(PortKind.VXLAN - PortKind.BRIDGE)) != 0) return dropFrame(d, Ctr.BridgeStalePort);
  if (<u32>load<u16>(q, P_BRIDGE) != b) return dropFrame(d, Ctr.BridgeStalePort);
  if (f & PortFlag.DOWN) return dropFrame(d, Ctr.BridgeEgressDown);
  if (inFlags & f & PortFlag.ISOLATED) return dropFrame(d, Ctr.BridgeIsolatedDrop);
  const mode = <u32>load<u8>(q, P_VLAN_MODE);
  if (mode != VlanMode.NONE) {
    if (!vlanAllowed(q, out, mode, vid)) return dropFrame(d, Ctr.VlanEgressNotAllowed);
  }
  store<u16>(d, <u16>out, D_OUT);
  count(Ctr.BridgeForward);
  // A bridge port's egress (VLAN rule, MTU, emit) inline: the common case.
  if (qKind == PortKind.BRIDGE) bridgePortEgress(d, q, out, true);
  else portEgress(d, out);
}

/**
 * Floods to every other port of bridge b that carries VLAN vid and has the
 * flood switch `floodFlag` on (FLOOD, MCAST_FLOOD or BCAST_FLOOD), as br_flood:
 * each port but the last gets a copy, the last gets the frame itself.
 */
function flood(d: usize, inPort: u32, inFlags: u32, b: u32, vid: u32, floodFlag: u32): void {
  store<u8>(d, load<u8>(d, D_FLAGS) | <u8>FrameFlag.FLOODED, D_FLAGS);
  store<u16>(d, <u16>b, D_OUT); // the flood group is the bridge
  count(Ctr.BridgeFlood);
  const br = bridgeRec(b);
  const list = memberBase + <usize>load<u16>(br, BR_MEMBER_START);
  const n = <u32>load<u16>(br, BR_MEMBER_COUNT);
  const inIsolated = inFlags & PortFlag.ISOLATED;
  let last: i32 = -1;
  for (let i: u32 = 0; i < n; i++) {
    const m = <u32>load<u8>(list + i);
    const q = port(m);
    const f = <u32>load<u16>(q, P_FLAGS);
    if ((f & floodFlag) == 0 || (f & PortFlag.DOWN) != 0) continue;
    if (m == inPort && (f & PortFlag.HAIRPIN) == 0) continue;
    if (inIsolated & f) continue;
    const mode = <u32>load<u8>(q, P_VLAN_MODE);
    if (mode != VlanMode.NONE && !vlanAllowed(q, m, mode, vid)) continue;
    if (last >= 0) {
      const x = cloneDesc(d);
      if (x != 0) portEgress(x, <u32>last);
    }
    last = <i32>m;
  }
  if (last < 0) return dropFrame(d, Ctr.BridgeFloodNoPort);
  portEgress(d, <u32>last);
}

/** Whether port entry q is a port of bridge b (a bridge port or an overlay's tunnel port). */
// @ts-ignore: decorator
@inline function isMember(q: usize, b: u32): bool {
  const kind = <i32>load<u8>(q, P_KIND);
  return (kind == PortKind.BRIDGE || kind == PortKind.VXLAN) && <u32>load<u16>(q, P_BRIDGE) == b;
}

/**
 * Rebuilds every bridge's member list from the port table (ports of kind
 * BRIDGE or VXLAN, in port order). The host calls it after changing ports,
 * between vectors.
 */
export function bridgeSync(): void {
  for (let b: u32 = 0; b < bridgeCount; b++) store<u16>(bridgeRec(b), 0, BR_MEMBER_COUNT);
  for (let i: u32 = 0; i < <u32>MAX_PORTS; i++) {
    const q = port(i);
    const b = <u32>load<u16>(q, P_BRIDGE);
    if (b < bridgeCount && isMember(q, b)) {
      const r = bridgeRec(b);
      store<u16>(r, load<u16>(r, BR_MEMBER_COUNT) + 1, BR_MEMBER_COUNT);
    }
  }
  let at: u32 = 0;
  for (let b: u32 = 0; b < bridgeCount; b++) {
    const r = bridgeRec(b);
    store<u16>(r, <u16>at, BR_MEMBER_START);
    at += <u32>load<u16>(r, BR_MEMBER_COUNT);
    store<u16>(r, 0, BR_MEMBER_COUNT);
  }
  for (let i: u32 = 0; i < <u32>MAX_PORTS; i++) {
    const q = port(i);
    const b = <u32>load<u16>(q, P_BRIDGE);
    if (b < bridgeCount && isMember(q, b)) {
      const r = bridgeRec(b);
      const k = <u32>load<u16>(r, BR_MEMBER_COUNT);
      store<u8>(memberBase + <usize>load<u16>(r, BR_MEMBER_START) + k, <u8>i);
      store<u16>(r, <u16>(k + 1), BR_MEMBER_COUNT);
    }
  }
}

// ---- benchmark driver ------------------------------------------------------------

/**
 * Benchmark hook (not for production hosts): runs `iters` vectors of n frames
 * through runVector, describing each vector from a ring of `count` compact
 * records at `ring` (u32 slot, u16 input port, u16 length; frame at HEADROOM),
 * packet time tsSec, as a host filling descriptors would. The transmit entries
 * are forgotten, and the free-slot stack is restored after each vector.
 * Returns the total number of transmit entries.
 */
export function bridgeBenchLoop(ring: usize, count: u32, n: u32, iters: u32, tsSec: u32): u32 {
  if (n > <u32>MAX_VECTOR) n = <u32>MAX_VECTOR;
  const top = load<u32>(freeBase, FREE_TOP);
  let at: u32 = 0;
  let tx: u32 = 0;
  for (let k: u32 = 0; k < iters; k++) {
    for (let i: u32 = 0; i < n; i++) {
      const r = ring + (<usize>at << 3);
      const d = desc(i);
      store<u32>(d, load<u32>(r), D_SLOT);
      store<u32>(d, HEADROOM, D_OFF);
      store<u32>(d, <u32>load<u16>(r, 6), D_LEN);
      store<u16>(d, load<u16>(r, 4), D_IN_PORT);
      store<u32>(d, tsSec, D_TS_SEC);
      if (++at == count) at = 0;
    }
    tx += runVector(n);
    store<u32>(freeBase, top, FREE_TOP);
  }
  return tx;
}
