// 802.1Q / 802.1ad: the tag operations (push, pop, rewrite) that move the
// frame start within the slot's headroom, and the per-port rules of the
// bridge (`bridge vlan`): access ports (PVID, untagged), trunk ports (allowed
// set, tagged, optional native VLAN = PVID).
//
// A bridge frame keeps the tag it arrived with until it leaves: the ingress
// rules classify it (D_VLAN) and mark it FrameFlag.VLAN_TAGGED; each egress
// port then pops, pushes or rewrites as its own rule says. A frame going from
// trunk to trunk is never moved, and its PCP and DEI survive a rewrite.
import {
  D_OFF, D_LEN, D_FLAGS, D_VLAN, D_DROP, D_AUX, D_HASH, DESC_SIZE, MAX_VECTOR,
  P_VLAN_MODE, P_PVID, P_TPID, VlanMode, FrameFlag,
} from './layout';
import { Ctr } from './counters';
import { count, desc } from './state';
import { prepend, framePtr } from './frame';
import { ETHERTYPE_VLAN, ETHERTYPE_QINQ } from './eth';
import { vlanMapBase } from './fdb';

/** Bytes of one port's VLAN bitmap (4096 bits). */
export const VLAN_MAP_BYTES: u32 = 512;

/** Whether ethertype t is a VLAN tag protocol (802.1Q C-tag or 802.1ad S-tag). */
// @ts-ignore: decorator
@inline export function isTpid(t: u32): bool {
  return t == ETHERTYPE_VLAN || t == ETHERTYPE_QINQ;
}

// ---- tag operations ---------------------------------------------------------------

/**
 * Pushes a tag (tpid, tci) in front of the ethertype of descriptor d's frame:
 * the frame start moves back 4 bytes into the headroom and the two MACs move
 * with it. Returns the new frame address, or 0 (nothing changed) when the
 * headroom is used up.
 */
// @ts-ignore: decorator
@inline export function vlanPush(d: usize, tpid: u32, tci: u32): usize {
  const p = prepend(d, 4);
  if (p == 0) return 0;
  // The 12 MAC bytes move from p+4 to p (overlapping: load before store).
  const a = load<u64>(p, 4);
  const b = load<u32>(p, 12);
  store<u64>(p, a);
  store<u32>(p, b, 8);
  store<u32>(p, (<u32>bswap<u16>(<u16>tpid)) | (<u32>bswap<u16>(<u16>tci) << 16), 12);
  count(Ctr.VlanPush);
  return p;
}

/**
 * Removes the outermost tag (4 bytes after the MACs) of descriptor d's frame
 * (at `frame`, its framePtr): the MACs move forward 4 bytes and the frame
 * start with them. The caller has checked that the frame is tagged and at
 * least 18 bytes long. Returns the new frame address (0, nothing changed, for
 * a frame shorter than 4 bytes). The descriptor fields are read before the
 * frame bytes are written, and the new address is frame + 4: nothing is read
 * back after the stores.
 */
// @ts-ignore: decorator
@inline export function vlanPop(d: usize, frame: usize): usize {
  const off = load<u32>(d, D_OFF);
  const len = load<u32>(d, D_LEN);
  if (len < 4) return 0;
  const a = load<u64>(frame);
  const b = load<u32>(frame, 8);
  store<u64>(frame, a, 4);
  store<u32>(frame, b, 12);
  store<u32>(d, off + 4, D_OFF);
  store<u32>(d, len - 4, D_LEN);
  count(Ctr.VlanPop);
  return frame + 4;
}

/**
 * Rewrites the outermost tag in place: new TPID and VID; PCP and DEI are kept.
 * The caller has checked that the frame is tagged.
 */
// @ts-ignore: decorator
@inline export function vlanRewrite(frame: usize, tpid: u32, vid: u32): void {
  const tci = <u32>bswap<u16>(load<u16>(frame, 14));
  store<u16>(frame, bswap<u16>(<u16>tpid), 12);
  store<u16>(frame, bswap<u16>(<u16>((tci & 0xf000) | (vid & 0xfff))), 14);
  count(Ctr.VlanRewrite);
}

// ---- per-port rules -----------------------------------------------------------------

/** Address of port p's VLAN bitmap. */
// @ts-ignore: decorator
@inline export function vlanMap(p: u32): usize {
  return vlanMapBase + <usize>p * VLAN_MAP_BYTES;
}

/**
 * Whether VLAN vid is allowed on port p (port entry q): an access port
 * carries only its PVID, a trunk its allowed set and its native VLAN.
 */
// @ts-ignore: decorator
@inline export function vlanAllowed(q: usize, p: u32, mode: u32, vid: u32): bool {
  if (vid - 1 >= 4094) return false; // 0 and 4095 are never VLANs
  if (vid == <u32>load<u16>(q, P_PVID)) return true;
  if (mode != VlanMode.TRUNK) return false;
  return ((<u32>load<u8>(vlanMap(p) + (vid >> 3)) >> (vid & 7)) & 1) != 0;
}

/** Drop marker returned by vlanIngress. */
export const VLAN_DROP: i32 = -1;

/**
 * Ingress rules of bridge port p (entry q) for descriptor d's frame: returns
 * the VLAN the frame belongs to (0 when the port does no VLAN filtering), or
 * VLAN_DROP after setting the drop reason. Marks a frame that carries its tag
 * with FrameFlag.VLAN_TAGGED.
 *
 * - untagged (or carrying a tag of the other protocol): the PVID; none on a
 *   trunk without native VLAN: vlan-no-pvid;
 * - tagged with the port's TPID: its VID (priority tags, VID 0, take the PVID
 *   and keep their PCP); a VID the port does not carry: vlan-not-allowed;
 * - an access port never takes a frame with a second tag behind the first
 *   (802.1Q VLAN hopping): vlan-access-double-tag.
 */
export function vlanIngress(d: usize, frame: usize, q: usize, p: u32): i32 {
  const mode = <u32>load<u8>(q, P_VLAN_MODE);
  if (mode == VlanMode.NONE) return 0;
  const pvid = <u32>load<u16>(q, P_PVID);
  const t = <u32>bswap<u16>(load<u16>(frame, 12));
  if (t != <u32>load<u16>(q, P_TPID)) {
    if (pvid == 0) return vdrop(d, Ctr.VlanNoPvid);
    return <i32>pvid;
  }
  if (load<u32>(d, D_LEN) < 18) return vdrop(d, Ctr.VlanTruncated);
  if (mode == VlanMode.ACCESS && isTpid(<u32>bswap<u16>(load<u16>(frame, 16)))) return vdrop(d, Ctr.VlanAccessDoubleTag);
  let vid = <u32>bswap<u16>(load<u16>(frame, 14)) & 0xfff;
  if (vid == 0) {
    if (pvid == 0) return vdrop(d, Ctr.VlanNoPvid);
    vid = pvid;
  }
  if (!vlanAllowed(q, p, mode, vid)) return vdrop(d, Ctr.VlanNotAllowed);
  store<u8>(d, load<u8>(d, D_FLAGS) | <u8>FrameFlag.VLAN_TAGGED, D_FLAGS);
  return <i32>vid;
}

// @ts-ignore: decorator
@inline function vdrop(d: usize, reason: i32): i32 {
  store<u16>(d, <u16>reason, D_DROP);
  count(reason);
  return VLAN_DROP;
}

/**
 * Egress rules of bridge port entry q (filtering on) for descriptor x's frame
 * at `frame`, classified in VLAN D_VLAN: untagged out of an access port and a
 * trunk's native VLAN, tagged with the port's TPID out of a trunk. Returns the
 * frame address afterwards, or 0 after setting the drop reason (no headroom).
 */
export function vlanEgress(x: usize, frame: usize, q: usize): usize {
  const vid = <u32>load<u16>(x, D_VLAN);
  const tagOut = <u32>load<u8>(q, P_VLAN_MODE) == VlanMode.TRUNK && vid != <u32>load<u16>(q, P_PVID);
  const flags = load<u8>(x, D_FLAGS);
  const tagged = (flags & <u8>FrameFlag.VLAN_TAGGED) != 0;
  if (tagOut) {
    const tpid = <u32>load<u16>(q, P_TPID);
    if (!tagged) {
      const p = vlanPush(x, tpid, vid);
      if (p == 0) {
        store<u16>(x, <u16>Ctr.VlanNoHeadroom, D_DROP);
        count(Ctr.VlanNoHeadroom);
        return 0;
      }
      store<u8>(x, flags | <u8>FrameFlag.VLAN_TAGGED, D_FLAGS);
      return p;
    }
    // Already tagged: rewrite only what differs (a priority tag, or the other TPID).
    const tci = <u32>bswap<u16>(load<u16>(frame, 14));
    if ((tci & 0xfff) != vid || <u32>bswap<u16>(load<u16>(frame, 12)) != tpid) vlanRewrite(frame, tpid, vid);
    return frame;
  }
  if (tagged) {
    store<u8>(x, flags & ~(<u8>FrameFlag.VLAN_TAGGED), D_FLAGS);
    return vlanPop(x, frame);
  }
  return frame;
}

// ---- benchmark driver ------------------------------------------------------------

/**
 * Benchmark hook: applies one tag operation to each of the n descriptors of
 * the input vector, `iters` times, restoring each descriptor's frame offset
 * and length first (the frame bytes are left as the operation leaves them).
 * op 0: push (tpid, vid); 1: pop; 2: rewrite to (tpid, vid). Returns the sum
 * of the resulting frame addresses (so the work cannot be optimised away).
 */
export function vlanBenchLoop(op: u32, n: u32, iters: u32, tpid: u32, vid: u32): u32 {
  if (n > <u32>MAX_VECTOR) n = <u32>MAX_VECTOR;
  // One loop per operation (the choice is made once, not per frame).
  if (op == 0) return benchPush(n, iters, tpid, vid);
  if (op == 1) return benchPop(n, iters);
  return benchRewrite(n, iters, tpid, vid);
}

/** Restores descriptor d's frame offset (kept in D_AUX) and length (in D_HASH). */
// @ts-ignore: decorator
@inline function benchRestore(d: usize): void {
  store<u32>(d, load<u32>(d, D_AUX), D_OFF);
  store<u32>(d, load<u32>(d, D_HASH), D_LEN);
}

function benchPush(n: u32, iters: u32, tpid: u32, vid: u32): u32 {
  let acc: u32 = 0;
  const d0 = desc(0);
  for (let k: u32 = 0; k < iters; k++) {
    for (let i: u32 = 0; i < n; i++) {
      const d = d0 + <usize>i * DESC_SIZE;
      benchRestore(d);
      acc += <u32>vlanPush(d, tpid, vid);
    }
  }
  return acc;
}

function benchPop(n: u32, iters: u32): u32 {
  let acc: u32 = 0;
  const d0 = desc(0);
  for (let k: u32 = 0; k < iters; k++) {
    for (let i: u32 = 0; i < n; i++) {
      const d = d0 + <usize>i * DESC_SIZE;
      benchRestore(d);
      acc += <u32>vlanPop(d, framePtr(d));
    }
  }
  return acc;
}

function benchRewrite(n: u32, iters: u32, tpid: u32, vid: u32): u32 {
  let acc: u32 = 0;
  const d0 = desc(0);
  for (let k: u32 = 0; k < iters; k++) {
    for (let i: u32 = 0; i < n; i++) {
      const d = d0 + <usize>i * DESC_SIZE;
      benchRestore(d);
      const p = framePtr(d);
      vlanRewrite(p, tpid, vid);
      acc += <u32>p;
    }
  }
  return acc;
}
