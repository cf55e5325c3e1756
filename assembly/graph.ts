// The one entry the host calls per vector: every input descriptor goes through
// Ethernet checks, then the path its input port's kind selects; whatever leaves
// is appended to the transmit vector. No allocation, no exception, no call out.
import {
  D_SLOT, D_OFF, D_LEN, D_IN_PORT, D_OUT, D_VERDICT, D_FLAGS, D_DROP, D_VLAN, D_BRIDGE,
  D_VNI, D_HASH, D_AUX, D_TX_COUNT, T_SLOT, T_OFF, T_LEN, T_PORT, T_SRC, MAX_TX, MAX_PORTS, MAX_VECTOR, T_VNET_FLAGS, D_VNET_FLAGS,
  DESC_SIZE, HEADROOM, P_KIND, P_FLAGS, P_AUX, Verdict, PortKind, PortFlag,
} from './layout';
import { Ctr } from './counters';
import { ethCheck } from './eth';
import { ipvsTouchVector } from './ipvs';
import { bridgeInput, bridgePrefetch, PREFETCH_MIN_ENTRIES } from './bridge';
import { fdbCount } from './fdb';
import { vtepInput, vtepClaims } from './vxlan';
import { parentInput, childInput } from './macvlan';
import {
  count, countN, desc, port, slotPtr, slotAlloc, slotFree, txEntry, txCount, resetTx, bumpTx, slotSize,
} from './state';

/** Index of the descriptor being processed (for transmit entries' T_SRC). */
let curIndex: u32 = 0;
/** Whether the current frame's own slot was handed to a transmit entry. */
let slotGiven: bool = false;

/** The input descriptor being processed. */
let curDesc: usize = 0;

/**
 * Sends descriptor x's frame out of port `out`: appends a transmit entry, on
 * behalf of the input frame being processed. x is that input descriptor (its
 * slot moves to the entry) or a copy made by cloneDesc. On a full transmit
 * vector the frame is dropped, counted (graph-tx-full), and a copy's slot freed.
 */
export function emitDesc(x: usize, out: u32): void {
  emitInline(x, out);
}

/** emitDesc, inlined into the hot egress path (portEgress's bridge port). */
// @ts-ignore: decorator
@inline export function emitInline(x: usize, out: u32): void {
  if (txCount >= <u32>MAX_TX) {
    count(Ctr.GraphTxFull);
    if (x != curDesc) slotFree(load<u32>(x, D_SLOT));
    // Fuzz fix: the input frame itself refused is a drop with its reason;
    // without one, a frame that produced no entry ended LOCAL, unaccounted.
    else store<u16>(x, <u16>Ctr.GraphTxFull, D_DROP);
    return;
  }
  if (x == curDesc) slotGiven = true;
  writeEntry(txEntry(txCount), x, out);
  bumpTx();
  store<u16>(curDesc, load<u16>(curDesc, D_TX_COUNT) + 1, D_TX_COUNT);
}

/** Fills transmit entry t for descriptor x's frame out of port `out`, on behalf of the current input. */
// @ts-ignore: decorator
@inline function writeEntry(t: usize, x: usize, out: u32): void {
  store<u32>(t, load<u32>(x, D_SLOT), T_SLOT);
  store<u32>(t, load<u32>(x, D_OFF), T_OFF);
  store<u32>(t, load<u32>(x, D_LEN), T_LEN);
  store<u16>(t, <u16>out, T_PORT);
  store<u16>(t, <u16>curIndex, T_SRC);
  // The offload metadata: D_VNET_FLAGS..D_HDR_LEN are 10 contiguous bytes
  // (plain loads and stores: V8 runs a tiny memory.copy as a call out).
  store<u64>(t + T_VNET_FLAGS, load<u64>(x + D_VNET_FLAGS));
  store<u16>(t + T_VNET_FLAGS, load<u16>(x + D_VNET_FLAGS, 8), 8);
}

/**
 * emitInline for the input descriptor itself (x == curDesc, as on the
 * bridge's forward path): the same entry, without the copy's branches.
 */
// @ts-ignore: decorator
@inline export function emitSelfInline(x: usize, out: u32): void {
  const n = txCount; // one read of the global (V8 re-reads it after every store)
  if (n >= <u32>MAX_TX) {
    count(Ctr.GraphTxFull);
    store<u16>(x, <u16>Ctr.GraphTxFull, D_DROP);
    return;
  }
  slotGiven = true;
  writeEntry(txEntry(n), x, out);
  bumpTx();
  store<u16>(x, load<u16>(x, D_TX_COUNT) + 1, D_TX_COUNT);
}

/** Scratch descriptor for copies (one past the input vector). */
// @ts-ignore: decorator
@inline function scratch(): usize {
  return desc(<u32>MAX_VECTOR);
}

/**
 * Copies descriptor d (fields and frame) into the scratch descriptor with a
 * fresh slot, the frame at HEADROOM. Returns the scratch descriptor, or 0
 * (counted as graph-no-slot) when the pool is exhausted. The copy must be
 * emitted (emitDesc) or released (releaseDesc) before the next cloneDesc.
 */
export function cloneDesc(d: usize): usize {
  const s = slotAlloc();
  if (s < 0) {
    count(Ctr.GraphNoSlot);
    return 0;
  }
  const x = scratch();
  for (let o: usize = 0; o < <usize>DESC_SIZE; o += 16) v128.store(x + o, v128.load(d + o));
  const len = load<u32>(d, D_LEN);
  // Fuzz fix: a frame that uses its slot's headroom too (a host may describe
  // one up to the whole slot) does not fit behind HEADROOM in the copy's
  // slot; copying it there wrote into the next slot, or past the end of
  // memory (a trap). Such a copy starts earlier, with less headroom.
  const off: u32 = len > slotSize - HEADROOM ? slotSize - len : HEADROOM;
  memory.copy(slotPtr(<u32>s) + off, slotPtr(load<u32>(d, D_SLOT)) + load<u32>(d, D_OFF), len);
  store<u32>(x, <u32>s, D_SLOT);
  store<u32>(x, off, D_OFF);
  return x;
}

/** Gives back the slot of a copy that will not be sent (a drop on one egress). */
export function releaseDesc(x: usize): void {
  if (x != curDesc) slotFree(load<u32>(x, D_SLOT));
}

/** Marks d dropped for `reason` and counts it. */
// @ts-ignore: decorator
@inline export function dropFrame(d: usize, reason: i32): void {
  store<u16>(d, <u16>reason, D_DROP);
  count(reason);
}

/** Runs one vector of n input descriptors. Returns the number of transmit entries. */
export function runVector(n: u32): u32 {
  resetTx();
  if (n > 256) n = 256;
  if (fdbCount >= PREFETCH_MIN_ENTRIES) bridgePrefetch(n);
  // VPP-style touch pass: the IPVS connection buckets of the vector's frames
  // (only where a bridge has services), so their cache misses overlap.
  ipvsTouchVector(n);
  for (let i: u32 = 0; i < n; i++) {
    curIndex = i;
    slotGiven = false;
    const d = desc(i);
    curDesc = d;
    // Clear what the nodes fill in: D_OUT (14) and D_VERDICT..D_HASH (16..31),
    // D_AUX and D_TX_COUNT; the host's fields (slot, length, port, time,
    // offload metadata) stay. Verdict DROP is 0.
    store<u16>(d, 0, D_OUT);
    v128.store(d, i64x2.splat(0), D_VERDICT);
    store<u32>(d, 0, D_AUX);
    store<u16>(d, 0, D_TX_COUNT);
    processOne(d);
    finish(d);
  }
  countN(Ctr.GraphRx, n);
  countN(Ctr.GraphTx, txCount);
  return txCount;
}

// @ts-ignore: decorator
@inline function processOne(d: usize): void {
  const frame = ethCheck(d);
  if (frame == 0) return;
  const inPort = <u32>load<u16>(d, D_IN_PORT);
  if (inPort >= <u32>MAX_PORTS) return dropFrame(d, Ctr.GraphNoPort);
  const p = port(inPort);
  const kind = <i32>load<u8>(p, P_KIND);
  if (kind == PortKind.UNUSED) return dropFrame(d, Ctr.GraphNoPort);
  if (load<u16>(p, P_FLAGS) & PortFlag.DOWN) return dropFrame(d, Ctr.GraphPortDown);
  // The bridge first, before the jump table: the common kind.
  if (kind == PortKind.BRIDGE) return bridgeInput(d, frame, inPort);
  switch (kind) {
    case PortKind.NONE:
      return dropFrame(d, Ctr.NoneDrop);
    case PortKind.WIRE:
      return wire(d, p);
    case PortKind.BRIDGE:
      return bridgeInput(d, frame, inPort);
    case PortKind.VTEP:
      return vtepInput(d, frame, inPort);
    case PortKind.PARENT:
      // An uplink can be a macvlan/ipvlan parent and a VTEP at once (eth0
      // carrying eth0.10 and the overlay): VXLAN to its address is the VTEP's.
      if (vtepClaims(frame, load<u32>(d, D_LEN), inPort)) return vtepInput(d, frame, inPort);
      return parentInput(d, frame, inPort);
    case PortKind.CHILD:
      return childInput(d, frame, inPort);
    default:
      return dropFrame(d, Ctr.GraphNoPort);
  }
}

/** A wire forwards everything to its peer port, unless that port is down. */
function wire(d: usize, p: usize): void {
  const out = load<u32>(p, P_AUX);
  if (out >= <u32>MAX_PORTS) return dropFrame(d, Ctr.GraphNoPort);
  const q = port(out);
  if (load<u8>(q, P_KIND) == PortKind.UNUSED) return dropFrame(d, Ctr.GraphNoPort);
  if (load<u16>(q, P_FLAGS) & PortFlag.DOWN) return dropFrame(d, Ctr.GraphPortDown);
  store<u16>(d, <u16>out, D_OUT);
  emitDesc(d, out);
}

/**
 * Settles the verdict: a frame that produced transmit entries is TX, one that
 * did not is DROP (reason set) or LOCAL. Its own slot goes back to the pool
 * unless a transmit entry took it.
 */
function finish(d: usize): void {
  const reason = load<u16>(d, D_DROP);
  if (load<u16>(d, D_TX_COUNT) > 0) {
    store<u8>(d, Verdict.TX, D_VERDICT);
    if (!slotGiven) slotFree(load<u32>(d, D_SLOT));
    return;
  }
  if (reason != 0) {
    store<u8>(d, Verdict.DROP, D_VERDICT);
    count(Ctr.GraphDrop);
  } else {
    store<u8>(d, Verdict.LOCAL, D_VERDICT);
    count(Ctr.GraphLocal);
  }
  // A slot handed to an entry that was then refused (full vector) is already free.
  if (reason != Ctr.EthBadSlot && !slotGiven) slotFree(load<u32>(d, D_SLOT));
}
