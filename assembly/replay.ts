// Replay's per-frame host work, in the module (src/replay/replay.ts drives it
// once per vector): classic pcap records from the capture's read buffer into
// slots, transmit entries into the output captures' buffers as pcap records,
// and frames sent on an underlay segment into a feedback queue and from it
// into the next vector. Every buffer is a part of the data plane's `host`
// region, so each frame is copied once per move, with memory.copy, and the
// host calls into the module once per vector instead of several times per
// frame. Never called by the data plane itself.
import {
  HEADROOM, D_SLOT, D_OFF, D_LEN, D_IN_PORT, D_TS_SEC, D_TS_NSEC, D_VNET_FLAGS, D_GSO_SIZE,
  D_CSUM_OFFSET, T_SLOT, T_OFF, T_LEN, T_PORT, T_SRC, FREE_TOP,
} from './layout';
import { desc, slotPtr, slotAlloc, txEntry, slotSize, slotCount, freeBase } from './state';
import {
  RP_OUT, RP_OUT_SIZE, RP_O_BUF, RP_O_CAP, RP_O_USED, RP_O_FLAGS, RP_O_COUNT, RP_OUT_ACTIVE, RP_OUT_NS, RP_PEERS,
  RP_PEER_LIST, RP_RX, RP_HOPS, FE_START, FE_LEN, FE_PORT, FE_HOPS, FE_SEC, FE_NSEC, FE_SIZE, RP_DONE, RP_NEED_WRITER,
  RP_FLUSH, RP_SLOW, RP_FEEDBACK_FULL, RP_PORTS, RP_VECTOR, FE_SLOT, FE_NO_SLOT,
} from './replay-layout';

let ctl: usize = 0;
let fbEnt: usize = 0;
let fbEntCap: u32 = 0;
let fbBuf: usize = 0;
let fbCap: u32 = 0;
let fbHead: u32 = 0;
let fbTail: u32 = 0;
let fbUsed: u32 = 0;
let maxHops: u32 = 8;
let snaplen: u32 = 0;
let outputs = false;
let loops: u32 = 0;
let stopReason: u32 = RP_DONE;
let pcapPos: usize = 0;

/** Where the control block and the feedback queue are; empties the queue. */
export function replaySetup(ctlPtr: usize, ent: usize, entCap: u32, buf: usize, cap: u32, hops: u32, snap: u32, out: bool): void {
  ctl = ctlPtr;
  fbEnt = ent;
  fbEntCap = entCap;
  fbBuf = buf;
  fbCap = cap;
  fbHead = fbTail = fbUsed = 0;
  maxHops = hops;
  snaplen = snap;
  outputs = out;
  loops = 0;
  stopReason = RP_DONE;
}

export function replayStop(): u32 { return stopReason; }
export function replayLoops(): u32 { return loops; }
export function replayPcapPos(): usize { return pcapPos; }
export function replayFeedbackHead(): u32 { return fbHead; }
export function replayFeedbackTail(): u32 { return fbTail; }
export function replayFeedbackEntry(i: u32): usize { return fbEnt + <usize>i * FE_SIZE; }
export function replayFeedbackBuf(): usize { return fbBuf; }

/** Drops the entries before the head (between vectors). */
export function replayCompact(): void {
  if (fbHead == 0) return;
  if (fbHead == fbTail) {
    fbHead = fbTail = fbUsed = 0;
    return;
  }
  // The bytes from the first entry that has them in the buffer.
  let b0 = fbUsed;
  for (let i = fbHead; i < fbTail; i++) {
    const e = fbEnt + <usize>i * FE_SIZE;
    if (load<u32>(e, FE_SLOT) == FE_NO_SLOT) {
      b0 = load<u32>(e, FE_START);
      break;
    }
  }
  memory.copy(fbBuf, fbBuf + b0, fbUsed - b0);
  fbUsed -= b0;
  const n = fbTail - fbHead;
  memory.copy(fbEnt, fbEnt + <usize>fbHead * FE_SIZE, <usize>n * FE_SIZE);
  for (let i: u32 = 0; i < n; i++) {
    const e = fbEnt + <usize>i * FE_SIZE;
    if (load<u32>(e, FE_SLOT) == FE_NO_SLOT) store<u32>(e, load<u32>(e, FE_START) - b0, FE_START);
  }
  fbHead = 0;
  fbTail = n;
}

/** Input descriptor i for the frame in `slot` (as Dataplane.describe writes it). */
// @ts-ignore: decorator
@inline function describe(i: u32, slot: u32, len: u32, inPort: u32, sec: u32, nsec: u32, hops: u32): void {
  const d = desc(i);
  store<u32>(d, slot, D_SLOT);
  store<u32>(d, HEADROOM, D_OFF);
  store<u32>(d, len, D_LEN);
  store<u16>(d, <u16>inPort, D_IN_PORT);
  store<u32>(d, sec, D_TS_SEC);
  store<u32>(d, nsec, D_TS_NSEC);
  store<u16>(d, 0, D_VNET_FLAGS);
  store<u32>(d, 0, D_GSO_SIZE);
  store<u32>(d, 0, D_CSUM_OFFSET);
  store<u32>(ctl + RP_HOPS + (<usize>i << 2), hops);
  if (inPort < <u32>RP_PORTS) {
    const rx = ctl + RP_RX + (<usize>inPort << 2);
    store<u32>(rx, load<u32>(rx) + 1);
  }
}

/**
 * Moves queued feedback frames into input descriptors first, first + 1, ...
 * (at most max of them; fewer when the pool runs dry). Returns how many.
 */
export function replayFeedbackIn(first: u32, max: u32): u32 {
  let n: u32 = 0;
  while (n < max && fbHead < fbTail) {
    const e = fbEnt + <usize>fbHead * FE_SIZE;
    const len = load<u32>(e, FE_LEN);
    let slot = <i32>load<u32>(e, FE_SLOT);
    if (slot == <i32>FE_NO_SLOT) {
      slot = slotAlloc();
      if (slot < 0) break;
      if (<u32>HEADROOM + len <= slotSize) memory.copy(slotPtr(<u32>slot) + HEADROOM, fbBuf + load<u32>(e, FE_START), len);
    }
    describe(first + n, <u32>slot, len, load<u32>(e, FE_PORT), load<u32>(e, FE_SEC), load<u32>(e, FE_NSEC), load<u32>(e, FE_HOPS));
    fbHead++;
    n++;
  }
  return n;
}

/**
 * Moves the classic pcap records at buf .. end (a capture's read buffer) into
 * input descriptors first, first + 1, ... (at most max; fewer when the pool
 * runs dry or at a record it leaves to the host: one not wholly in the
 * buffer, or one the reader must report). replayPcapPos() is then where the
 * next record starts. `swap`: the file is big-endian; `nsMul`: 1000 for a µs
 * file, 1 for ns; records with caplen > maxCaplen or a fraction >= fracLimit
 * are left to the host's reader, which reports them.
 */
export function replayPcapIn(buf: usize, end: usize, first: u32, max: u32, inPort: u32, swap: bool, nsMul: u32, fracLimit: u32, maxCaplen: u32): u32 {
  let p = buf;
  let n: u32 = 0;
  const size = slotSize;
  while (n < max) {
    if (end - p < 16) break;
    let sec = load<u32>(p);
    let frac = load<u32>(p, 4);
    let caplen = load<u32>(p, 8);
    if (swap) {
      sec = bswap<u32>(sec);
      frac = bswap<u32>(frac);
      caplen = bswap<u32>(caplen);
    }
    if (caplen > maxCaplen || frac >= fracLimit) break;
    if (<u64>(end - p - 16) < <u64>caplen) break;
    if (load<u32>(freeBase + FREE_TOP) == 0) break;
    const slot = <u32>slotAlloc();
    if (<u32>HEADROOM + caplen <= size) memory.copy(slotPtr(slot) + HEADROOM, p + 16, caplen);
    describe(first + n, slot, caplen, inPort, sec, frac * nsMul, 0);
    p += 16 + <usize>caplen;
    n++;
  }
  pcapPos = p;
  return n;
}

/**
 * Handles transmit entries from .. nTx-1: each one's record into its port's
 * output buffer (when there are outputs) and, for a segment port, the frame
 * into the feedback queue once per peer (or counted as a loop past maxHops).
 * Returns the entry it stopped at (nTx when done); replayStop() says why.
 * An entry it stops at is left untouched. Entry `noOutput` (or -1) gets no
 * output record: the host wrote it (after stop RP_SLOW).
 */
export function replayEmit(from: u32, nTx: u32, noOutput: i32): u32 {
  for (let i = from; i < nTx; i++) {
    const out = outputs && <i32>i != noOutput;
    const t = txEntry(i);
    const port = <usize>load<u16>(t, T_PORT);
    const src = <usize>load<u16>(t, T_SRC);
    const a = slotPtr(load<u32>(t, T_SLOT)) + <usize>load<u32>(t, T_OFF);
    const len = load<u32>(t, T_LEN);
    const d = desc(<u32>src);
    const sec = load<u32>(d, D_TS_SEC);
    const nsec = load<u32>(d, D_TS_NSEC);
    const o = ctl + RP_OUT + port * RP_OUT_SIZE;
    let used: u32 = 0;
    let flags: u32 = 0;
    if (out) {
      flags = load<u32>(o, RP_O_FLAGS);
      if (!(flags & RP_OUT_ACTIVE)) {
        stopReason = flags == 0 ? RP_NEED_WRITER : RP_SLOW;
        return i;
      }
      const cap = load<u32>(o, RP_O_CAP);
      used = load<u32>(o, RP_O_USED);
      if (len > snaplen || <u32>16 + len > cap || nsec > 999_999_999) {
        stopReason = RP_SLOW;
        return i;
      }
      if (cap - used < <u32>16 + len) {
        stopReason = RP_FLUSH;
        return i;
      }
    }
    const pe = load<u32>(ctl + RP_PEERS + (port << 2));
    const peers = pe >>> 16;
    let hops: u32 = 0;
    if (peers) {
      hops = load<u32>(ctl + RP_HOPS + (src << 2)) + 1;
      if (hops <= maxHops && (fbTail + peers > fbEntCap || <u64>fbUsed + <u64>peers * <u64>len > <u64>fbCap)) {
        stopReason = RP_FEEDBACK_FULL;
        return i;
      }
    }
    if (out) {
      const r = <usize>load<u32>(o, RP_O_BUF) + used;
      store<u32>(r, sec);
      store<u32>(r, flags & RP_OUT_NS ? nsec : nsec / 1000, 4);
      store<u32>(r, len, 8);
      store<u32>(r, len, 12);
      memory.copy(r + 16, a, len);
      store<u32>(o, used + 16 + len, RP_O_USED);
      store<u32>(o, load<u32>(o, RP_O_COUNT) + 1, RP_O_COUNT);
    }
    if (peers) {
      if (hops > maxHops) loops++;
      else {
        const list = ctl + RP_PEER_LIST + (<usize>(pe & 0xffff) << 1);
        for (let k: u32 = 0; k < peers; k++) {
          const e = fbEnt + <usize>fbTail * FE_SIZE;
          store<u32>(e, len, FE_LEN);
          store<u32>(e, <u32>load<u16>(list + (<usize>k << 1)), FE_PORT);
          store<u32>(e, hops, FE_HOPS);
          store<u32>(e, sec, FE_SEC);
          store<u32>(e, nsec, FE_NSEC);
          // The last copy keeps the frame's slot (the transmit entry gets a
          // fresh one to give back) when the next vector takes it for sure:
          // among its first RP_VECTOR feedback frames, and a pool of at
          // least a vector of slots (so the pool runs dry exactly when it
          // would with every frame copied).
          let fresh: i32 = -1;
          if (k + 1 == peers && fbTail - fbHead < <u32>RP_VECTOR && slotCount >= <u32>RP_VECTOR) fresh = slotAlloc();
          if (fresh >= 0) {
            const slot = load<u32>(t, T_SLOT);
            store<u32>(t, <u32>fresh, T_SLOT);
            const at = slotPtr(slot) + HEADROOM;
            if (a != at && <u32>HEADROOM + len <= slotSize) memory.copy(at, a, len);
            store<u32>(e, slot, FE_SLOT);
            store<u32>(e, 0, FE_START);
          } else {
            store<u32>(e, FE_NO_SLOT, FE_SLOT);
            store<u32>(e, fbUsed, FE_START);
            memory.copy(fbBuf + fbUsed, a, len);
            fbUsed += len;
          }
          fbTail++;
        }
      }
    }
  }
  stopReason = RP_DONE;
  return nTx;
}
