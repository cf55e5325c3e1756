// The forwarding database of every bridge: one open-addressing hash table
// keyed by (bridge domain, VLAN, MAC), linear probing with backward-shift
// deletion (no tombstones), sized at creation. The table has twice as many
// slots as it may hold entries, so a lookup touches ~1.5 slots on average and
// always ends at an empty slot.
//
// Entry (16 bytes, one quarter of a cache line):
//   u64 key    @0   MAC (48 bits, first byte most significant) | VLAN << 48 | VALID << 63
//   u16 bridge @8
//   u8  port   @10
//   u8  flags  @11  FdbFlag
//   u32 seen   @12  packet time (seconds) the station was last heard from
// An empty slot is all zeros (the VALID bit makes every key non-zero).
//
// Ageing runs on packet time: an expired learned entry is a miss at once, and
// a sweep removes it physically a little later (see fdbSweep).
import { Ctr } from './counters';
import { count } from './state';

export const FDB_ENTRY_SIZE: u32 = 16;
export const FDB_E_KEY: u32 = 0;
export const FDB_E_BRIDGE: u32 = 8;
export const FDB_E_PORT: u32 = 10;
export const FDB_E_FLAGS: u32 = 11;
export const FDB_E_SEEN: u32 = 12;

/** Flags of an FDB entry (the u8 at FDB_E_FLAGS). */
export enum FdbFlag {
  /** Learned from a frame's source address: ages out. */
  LEARNED = 1,
  /** Added by the control plane: never ages (may still move, as in Linux, unless STICKY). */
  STATIC = 2,
  /** The bridge's own address (gateway): frames to it are delivered locally. */
  LOCAL = 4,
  /** Never moves to another port. */
  STICKY = 8,
}

const VALID: u64 = 0x8000000000000000;
const MAC_MASK: u64 = 0xffffffffffff;

// ---- bridge records -------------------------------------------------------------
// One 32-byte record per bridge domain, written by the control plane.
export const BR_SIZE: u32 = 32;
/** u32: ageing time in seconds (0: nothing is learned, everything floods, as Linux). */
export const BR_AGEING: u32 = 0;
/** u32: most learned entries (0: no limit). */
export const BR_LEARN_LIMIT: u32 = 4;
/** u32: learned entries present now. */
export const BR_LEARNED: u32 = 8;
/** u16: first index of the bridge's ports in the member list. */
export const BR_MEMBER_START: u32 = 12;
/** u16: number of member ports. */
export const BR_MEMBER_COUNT: u32 = 14;
/** u32: BridgeFlag bits. */
export const BR_FLAGS: u32 = 16;

/** Bits of BR_FLAGS. */
export enum BridgeFlag {
  /** The bridge has virtual services: IPv4/IPv6 frames go through ipvsBridgeHook. */
  SERVICES = 1,
}

/** Default ageing time (seconds), as the Linux bridge. */
export const DEFAULT_AGEING: u32 = 300;

export let fdbBase: usize = 0;
export let fdbMask: u32 = 0;
/** Most entries the table takes (half its slots). */
export let fdbMax: u32 = 0;
/** Entries in the table now. */
export let fdbCount: u32 = 0;
export let bridgeBase: usize = 0;
export let bridgeCount: u32 = 0;
/** Member ports of all bridges, grouped by bridge (u8 port ids). */
export let memberBase: usize = 0;
/** Per-port VLAN bitmaps (512 bytes per port). */
export let vlanMapBase: usize = 0;

let sweepCursor: u32 = 0;

/** Called once by the host: where the FDB and the bridge records live. */
export function fdbSetup(fdb: usize, slots: u32, bridges: usize, nBridges: u32, members: usize, vlanMaps: usize): void {
  fdbBase = fdb;
  fdbMask = slots - 1;
  fdbMax = slots >> 1;
  fdbCount = 0;
  bridgeBase = bridges;
  bridgeCount = nBridges;
  memberBase = members;
  vlanMapBase = vlanMaps;
  sweepCursor = 0;
  for (let b: u32 = 0; b < nBridges; b++) store<u32>(bridgeRec(b), DEFAULT_AGEING, BR_AGEING);
}

// @ts-ignore: decorator
@inline export function bridgeRec(b: u32): usize {
  return bridgeBase + <usize>b * BR_SIZE;
}

/** Slot index of key (bridge, vlan, mac): a 32-bit mix (lowbias32) of the three. */
// @ts-ignore: decorator
@inline export function fdbHash(bridge: u32, vlan: u32, mac: u64): u32 {
  let h = <u32>mac + (<u32>(mac >> 32) | (vlan << 16)) * 0x9e3779b1 + bridge * 0x85ebca77;
  h ^= h >> 16;
  h *= 0x7feb352d;
  h ^= h >> 15;
  h *= 0x846ca68b;
  h ^= h >> 16;
  return h;
}

// @ts-ignore: decorator
@inline export function fdbKey(vlan: u32, mac: u64): u64 {
  return (mac & MAC_MASK) | (<u64>(vlan & 0xfff) << 48) | VALID;
}

// @ts-ignore: decorator
@inline function slot(i: u32): usize {
  return fdbBase + (<usize>i << 4);
}

/**
 * The slot holding (bridge, vlan, mac), or the empty slot where it would go.
 * Tell them apart with `load<u64>(e) == 0`. Always terminates: the table is
 * never more than half full.
 */
// @ts-ignore: decorator
@inline export function fdbProbe(bridge: u32, vlan: u32, mac: u64): usize {
  return fdbProbeAt(bridge, fdbKey(vlan, mac), fdbHash(bridge, vlan, mac) & fdbMask);
}

/** fdbProbe from home slot i (fdbHash(bridge, vlan, mac) & fdbMask) of key (fdbKey(vlan, mac)). */
// @ts-ignore: decorator
@inline export function fdbProbeAt(bridge: u32, key: u64, i: u32): usize {
  // Table base and mask in locals, and one branch per outcome: the common
  // case (a hit in the home slot) leaves after one load and two compares.
  const base = fdbBase;
  const mask = fdbMask;
  let e: usize;
  for (;;) {
    e = base + (<usize>i << 4);
    const k = load<u64>(e);
    if (k == key) {
      if (<u32>load<u16>(e, FDB_E_BRIDGE) == bridge) break;
    }
    // (A key is never 0: VALID. Two separate exits, not one else-if:
    // Binaryen would merge them into a boolean that V8 materialises.)
    if (k == 0) break;
    i = (i + 1) & mask;
  }
  return e;
}

/** The entry for (bridge, vlan, mac), probing from its home slot i, or 0. Expiry is the caller's question (fdbFresh). */
// @ts-ignore: decorator
@inline export function fdbFindAt(bridge: u32, vlan: u32, mac: u64, i: u32): usize {
  const e = fdbProbeAt(bridge, fdbKey(vlan, mac), i);
  return load<u64>(e) == 0 ? 0 : e;
}

/** Whether entry e is alive at packet time `now` under ageing time `ageing`. */
// @ts-ignore: decorator
@inline export function fdbFresh(e: usize, now: u32, ageing: u32): bool {
  if ((load<u8>(e, FDB_E_FLAGS) & <u8>(FdbFlag.STATIC | FdbFlag.LOCAL)) != 0) return true;
  // Signed difference: packet time may step back (another capture); that is "just seen".
  return <i32>(now - load<u32>(e, FDB_E_SEEN)) < <i32>ageing;
}

/**
 * Learns that `mac` is behind `port` (bridge b, VLAN vlan) at packet time now,
 * as the Linux bridge's br_fdb_update does: refresh, move (counted), or create
 * within the bridge's learn limit and the table's capacity (both counted when hit).
 */
// @ts-ignore: decorator
@inline export function fdbLearn(b: u32, vlan: u32, mac: u64, port: u32, now: u32): void {
  const ageing = load<u32>(bridgeRec(b), BR_AGEING);
  if (ageing == 0) return; // Linux: an ageing time of 0 turns learning off (the bridge floods)
  const e = fdbProbe(b, vlan, mac);
  // The common case inline: a fresh station heard again on its own port (only
  // its time moves); everything else (new, moved, expired, local) out of line.
  // (Nested ifs, not one && chain: V8 then branches instead of building booleans.)
  if (load<u64>(e) != 0 && <u32>load<u8>(e, FDB_E_PORT) == port) {
    const kind = <u32>load<u8>(e, FDB_E_FLAGS) & (FdbFlag.LOCAL | FdbFlag.STATIC);
    const seen = load<u32>(e, FDB_E_SEEN);
    // Learned (neither flag) and fresh, or static: refresh. (No || of the two:
    // V8 would build the boolean with setcc and cmov.)
    if (kind == 0) {
      if (<i32>(now - seen) < <i32>ageing) {
        if (seen != now) store<u32>(e, now, FDB_E_SEEN);
        return;
      }
    } else if (kind == FdbFlag.STATIC) {
      if (seen != now) store<u32>(e, now, FDB_E_SEEN);
      return;
    }
  }
  fdbLearnAt(b, vlan, mac, port, now, e, ageing);
}

/** fdbLearn's general case, at the probed slot e (the entry or the empty slot). */
function fdbLearnAt(b: u32, vlan: u32, mac: u64, port: u32, now: u32, e: usize, ageing: u32): void {
  const br = bridgeRec(b);
  if (load<u64>(e) != 0) {
    const flags = load<u8>(e, FDB_E_FLAGS);
    if (flags & <u8>FdbFlag.LOCAL) {
      count(Ctr.BridgeOwnSrcMac); // our own address seen as a source: never learned over
      return;
    }
    if (!fdbFresh(e, now, ageing)) {
      // Expired, not yet swept: Linux would have deleted it; this is a new station.
      store<u8>(e, <u8>port, FDB_E_PORT);
      store<u32>(e, now, FDB_E_SEEN);
      count(Ctr.BridgeLearned);
      return;
    }
    if (<u32>load<u8>(e, FDB_E_PORT) != port && !(flags & <u8>FdbFlag.STICKY)) {
      store<u8>(e, <u8>port, FDB_E_PORT);
      count(Ctr.BridgeMacMove);
    }
    if (load<u32>(e, FDB_E_SEEN) != now) store<u32>(e, now, FDB_E_SEEN);
    return;
  }
  const limit = load<u32>(br, BR_LEARN_LIMIT);
  const learned = load<u32>(br, BR_LEARNED);
  if (limit != 0 && learned >= limit) {
    count(Ctr.BridgeLearnLimit);
    return;
  }
  if (fdbCount >= fdbMax) {
    count(Ctr.BridgeFdbFull);
    return;
  }
  store<u64>(e, fdbKey(vlan, mac));
  store<u16>(e, <u16>b, FDB_E_BRIDGE);
  store<u8>(e, <u8>port, FDB_E_PORT);
  store<u8>(e, <u8>FdbFlag.LEARNED, FDB_E_FLAGS);
  store<u32>(e, now, FDB_E_SEEN);
  store<u32>(br, learned + 1, BR_LEARNED);
  fdbCount++;
  count(Ctr.BridgeLearned);
}

/** The key's home slot, recomputed from a stored entry. */
// @ts-ignore: decorator
@inline function homeOf(e: usize): u32 {
  const k = load<u64>(e);
  return fdbHash(<u32>load<u16>(e, FDB_E_BRIDGE), <u32>(k >> 48) & 0xfff, k & MAC_MASK) & fdbMask;
}

/**
 * Removes the entry in slot i and closes the gap (Knuth's algorithm R for
 * linear probing): later entries of the cluster whose home is not in (i, j]
 * move back. Keeps the bridge's learned count.
 */
function removeAt(i: u32): void {
  const e0 = slot(i);
  if (load<u8>(e0, FDB_E_FLAGS) & <u8>FdbFlag.LEARNED) {
    const br = bridgeRec(<u32>load<u16>(e0, FDB_E_BRIDGE));
    store<u32>(br, load<u32>(br, BR_LEARNED) - 1, BR_LEARNED);
  }
  fdbCount--;
  let j = i;
  for (;;) {
    j = (j + 1) & fdbMask;
    const ej = slot(j);
    if (load<u64>(ej) == 0) break;
    const h = homeOf(ej);
    const stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
    if (stays) continue;
    const ei = slot(i);
    store<u64>(ei, load<u64>(ej));
    store<u64>(ei, load<u64>(ej, 8), 8);
    i = j;
  }
  const e = slot(i);
  store<u64>(e, 0);
  store<u64>(e, 0, 8);
}

/**
 * Adds or replaces an entry from the control plane (static, local, sticky, or
 * learned with a given time). Returns 1 on success, 0 when the table is full.
 */
export function fdbAdd(b: u32, vlan: u32, macHi: u32, macLo: u32, port: u32, flags: u32, now: u32): i32 {
  if (b >= bridgeCount) return 0;
  const mac = (<u64>(macHi & 0xffff) << 32) | <u64>macLo;
  const e = fdbProbe(b, vlan, mac);
  const br = bridgeRec(b);
  if (load<u64>(e) == 0) {
    if (fdbCount >= fdbMax) return 0;
    fdbCount++;
    store<u64>(e, fdbKey(vlan, mac));
    store<u16>(e, <u16>b, FDB_E_BRIDGE);
    if (flags & FdbFlag.LEARNED) store<u32>(br, load<u32>(br, BR_LEARNED) + 1, BR_LEARNED);
  } else {
    const was = <u32>load<u8>(e, FDB_E_FLAGS) & FdbFlag.LEARNED;
    const now_ = flags & FdbFlag.LEARNED;
    if (was && !now_) store<u32>(br, load<u32>(br, BR_LEARNED) - 1, BR_LEARNED);
    if (!was && now_) store<u32>(br, load<u32>(br, BR_LEARNED) + 1, BR_LEARNED);
  }
  store<u8>(e, <u8>port, FDB_E_PORT);
  store<u8>(e, <u8>flags, FDB_E_FLAGS);
  store<u32>(e, now, FDB_E_SEEN);
  return 1;
}

/** Deletes the entry (bridge, vlan, mac). Returns 1 if there was one. */
export function fdbDel(b: u32, vlan: u32, macHi: u32, macLo: u32): i32 {
  if (b >= bridgeCount) return 0;
  const mac = (<u64>(macHi & 0xffff) << 32) | <u64>macLo;
  const e = fdbProbe(b, vlan, mac);
  if (load<u64>(e) == 0) return 0;
  removeAt(<u32>((e - fdbBase) >> 4));
  return 1;
}

/** Wildcard for fdbFlush's numeric filters. */
export const FDB_ANY: u32 = 0xffffffff;

/**
 * Removes every entry that matches all the given filters (FDB_ANY matches
 * anything) and has a flag in `flagMask` (LEARNED for dynamic entries only,
 * | STATIC, | LOCAL ...). Returns the number removed.
 */
export function fdbFlush(b: u32, port: u32, vlan: u32, flagMask: u32): u32 {
  let removed: u32 = 0;
  let i: u32 = 0;
  const n = fdbMask + 1;
  while (i < n) {
    const e = slot(i);
    const k = load<u64>(e);
    if (
      k != 0 &&
      (b == FDB_ANY || <u32>load<u16>(e, FDB_E_BRIDGE) == b) &&
      (port == FDB_ANY || <u32>load<u8>(e, FDB_E_PORT) == port) &&
      (vlan == FDB_ANY || (<u32>(k >> 48) & 0xfff) == vlan) &&
      (<u32>load<u8>(e, FDB_E_FLAGS) & flagMask) != 0
    ) {
      removeAt(i);
      removed++;
      continue; // another entry may have moved into slot i
    }
    i++;
  }
  return removed;
}

/**
 * Removes expired learned entries among the next `n` slots (wrapping), at
 * packet time now. The bridge calls it with a slice of the table once per
 * second of packet time; the host may sweep the whole table (n = slots).
 * Returns the number removed (also counted as bridge-aged).
 */
export function fdbSweep(now: u32, n: u32): u32 {
  const slots = fdbMask + 1;
  if (n > slots) n = slots;
  let removed: u32 = 0;
  let i = sweepCursor & fdbMask;
  for (let k: u32 = 0; k < n; k++) {
    const e = slot(i);
    if (load<u64>(e) != 0 && (load<u8>(e, FDB_E_FLAGS) & <u8>(FdbFlag.STATIC | FdbFlag.LOCAL)) == 0) {
      const ageing = load<u32>(bridgeRec(<u32>load<u16>(e, FDB_E_BRIDGE)), BR_AGEING);
      if (<i32>(now - load<u32>(e, FDB_E_SEEN)) >= <i32>ageing) {
        removeAt(i);
        removed++;
        count(Ctr.BridgeAged);
        continue; // look at slot i again
      }
    }
    i = (i + 1) & fdbMask;
  }
  sweepCursor = i;
  return removed;
}

/** Slot index of the entry (bridge, vlan, mac), or -1. */
export function fdbLookup(b: u32, vlan: u32, macHi: u32, macLo: u32): i32 {
  if (b >= bridgeCount) return -1;
  const e = fdbProbe(b, vlan, (<u64>(macHi & 0xffff) << 32) | <u64>macLo);
  return load<u64>(e) == 0 ? -1 : <i32>((e - fdbBase) >> 4);
}

/** Entries in the table now. */
export function fdbSize(): u32 {
  return fdbCount;
}

/** Index of the first occupied slot at or after `from`, or -1 (for dumps). */
export function fdbNext(from: u32): i32 {
  const n = fdbMask + 1;
  for (let i = from; i < n; i++) if (load<u64>(slot(i)) != 0) return <i32>i;
  return -1;
}

/** Address of slot i (for dumps). */
export function fdbSlotAddr(i: u32): usize {
  return slot(i & fdbMask);
}
