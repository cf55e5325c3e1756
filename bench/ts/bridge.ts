/**
 * Baseline for bench/bridge.bench.ts: the same vector loop + learning bridge
 * as the WASM data plane (and bench/c/bridge.c), written as the best plain
 * TypeScript we know: structure-of-arrays typed arrays, 32-bit integer math
 * (Math.imul) so V8 never boxes, a MAC as two 32-bit halves (no BigInt),
 * no allocation in the loop. Same FDB (open addressing, 2x slots, lowbias32,
 * linear probing, 16-byte entries as 4 u32 words), same per-frame steps.
 * Paths the benchmark traffic never takes (floods, VLAN filtering) are stubbed.
 */

const HEADROOM = 128;
const SLOT_SIZE = 256;
const MAX_VECTOR = 256;
const MAX_TX = 4096;
const MAX_PORTS = 256;
const N_PORTS = 8;
const K_BRIDGE = 2;
const K_VXLAN = 4;
const K_UNUSED = 0;
const F_LEARNING = 1, F_FLOOD = 2, F_MCAST = 4, F_BCAST = 8, F_HAIRPIN = 16, F_ISOLATED = 32, F_DOWN = 64;
const FDB_LEARNED = 1, FDB_STATIC = 2, FDB_LOCAL = 4, FDB_STICKY = 8;
const VALID = 0x80000000;
/** Fewest FDB entries that get the prefetch pass (assembly/bridge.ts PREFETCH_MIN_ENTRIES). */
const PREFETCH_MIN_ENTRIES = 1 << 18;
const C = {
  RX: 0, TX: 1, DROP: 2, LOCAL: 3, NOPORT: 4, PORTDOWN: 5, TXFULL: 7, RUNT: 64, OVERSIZE: 65, LENMISMATCH: 66, BADSLOT: 67,
  BR_NOBRIDGE: 192, BR_BADSRC: 193, BR_REFLECT: 194, BR_ISOLATED: 195, BR_PAUSE: 196, BR_LINKLOCAL: 197, BR_FLOODNOPORT: 198,
  BR_DOWN: 199, BR_STALE: 200, BR_MTU: 201, BR_FLOOD: 202, BR_FORWARD: 203, BR_LOCAL: 204, BR_LEARNED: 205, BR_MOVE: 206,
  BR_LIMIT: 207, BR_FULL: 208, BR_OWNSRC: 210, VLAN_EGRESS: 133,
} as const;

/** Station i's MAC: 02:00 followed by a bijective scramble of i (distinct for every i). */
export const stationLo = (i: number): number => Math.imul(i, 2654435761) >>> 0;
export const STATION_HI = 0x0200;

/** Slot size the benchmark traffic is laid out for. */
export const BENCH_SLOT_SIZE = SLOT_SIZE;

/**
 * The benchmark traffic, identical to bench/c/bridge.c's for the same seed:
 * clamp(2 x entries, 4096, 262144) frames of 64 bytes between random stations
 * behind different ports; frame j at j * 256 + 128 in `pool`.
 */
export function traffic(entries: number, seed = 0x9e3779b9): { frames: number; pool: Uint8Array; port: Uint16Array; len: Uint16Array } {
  const frames = Math.min(262144, Math.max(4096, entries * 2));
  const pool = new Uint8Array(frames * SLOT_SIZE);
  const port = new Uint16Array(frames);
  const len = new Uint16Array(frames);
  let xs = seed >>> 0;
  const rnd = (): number => {
    xs = (xs ^ (xs << 13)) >>> 0;
    xs = (xs ^ (xs >>> 17)) >>> 0;
    xs = (xs ^ (xs << 5)) >>> 0;
    return xs;
  };
  for (let j = 0; j < frames; j++) {
    const a = rnd() % entries;
    let b: number;
    do b = rnd() % entries; while (b % N_PORTS === a % N_PORTS);
    const f = j * SLOT_SIZE + HEADROOM;
    const dlo = stationLo(b), slo = stationLo(a);
    pool.set([0x02, 0, dlo >>> 24, (dlo >>> 16) & 0xff, (dlo >>> 8) & 0xff, dlo & 0xff], f);
    pool.set([0x02, 0, slo >>> 24, (slo >>> 16) & 0xff, (slo >>> 8) & 0xff, slo & 0xff], f + 6);
    pool[f + 12] = 0x08;
    pool[f + 13] = 0x00;
    port[j] = a % N_PORTS;
    len[j] = 64;
  }
  return { frames, pool, port, len };
}

export class TsBridge {
  // descriptors (structure of arrays)
  private dSlot = new Uint32Array(MAX_VECTOR);
  private dOff = new Uint32Array(MAX_VECTOR);
  private dLen = new Uint32Array(MAX_VECTOR);
  private dInPort = new Uint16Array(MAX_VECTOR);
  private dOut = new Uint16Array(MAX_VECTOR);
  private dVerdict = new Uint8Array(MAX_VECTOR);
  private dFlags = new Uint8Array(MAX_VECTOR);
  private dDrop = new Uint16Array(MAX_VECTOR);
  private dVlan = new Uint16Array(MAX_VECTOR);
  private dBridge = new Uint16Array(MAX_VECTOR);
  private dTs = new Uint32Array(MAX_VECTOR);
  private dTxCount = new Uint16Array(MAX_VECTOR);
  private dAux = new Uint32Array(MAX_VECTOR);
  // transmit vector
  private tSlot = new Uint32Array(MAX_TX);
  private tOff = new Uint32Array(MAX_TX);
  private tLen = new Uint32Array(MAX_TX);
  private tPort = new Uint16Array(MAX_TX);
  private tSrc = new Uint16Array(MAX_TX);
  private txCount = 0;
  // ports
  private pKind = new Uint8Array(MAX_PORTS);
  private pMode = new Uint8Array(MAX_PORTS);
  private pFlags = new Uint16Array(MAX_PORTS);
  private pBridge = new Uint16Array(MAX_PORTS);
  private pPvid = new Uint16Array(MAX_PORTS);
  private pMtu = new Uint16Array(MAX_PORTS);
  // bridges
  private brAgeing = new Uint32Array(16);
  private brLimit = new Uint32Array(16);
  private brLearned = new Uint32Array(16);
  private brFlags = new Uint32Array(16);
  private bridgeCount = 16;
  // FDB: 4 u32 words per entry: mac lo | mac hi16, vlan << 16, VALID | bridge, port << 16, flags << 24 | seen
  private fdb: Uint32Array;
  private fdbMask: number;
  private fdbMax: number;
  private fdbCount = 0;
  // pool and slots
  readonly pool: Uint8Array;
  private slotCount: number;
  private free: Uint32Array;
  private freeTop = 0;
  readonly counters = new Float64Array(1024);
  private curIndex = 0;
  private slotGiven = false;
  private lastSweep = 0;
  // ring of frames to describe
  private rSlot: Uint32Array;
  private rPort: Uint16Array;
  private rLen: Uint16Array;
  private frames: number;

  constructor(entries: number, seed = 0x9e3779b9) {
    let cap = 16;
    while (cap < entries) cap *= 2;
    this.fdb = new Uint32Array(cap * 2 * 4);
    this.fdbMask = cap * 2 - 1;
    this.fdbMax = cap;
    this.brAgeing.fill(300);
    for (let i = 0; i < N_PORTS; i++) {
      this.pKind[i] = K_BRIDGE;
      this.pFlags[i] = F_LEARNING | F_FLOOD | F_MCAST | F_BCAST;
      this.pMtu[i] = 1500;
    }
    const ts = 1000;
    for (let i = 0; i < entries; i++) this.learn(0, 0, STATION_HI, stationLo(i), i % N_PORTS, ts);
    const t = traffic(entries, seed);
    const frames = t.frames;
    this.frames = frames;
    this.slotCount = frames + 64;
    this.pool = new Uint8Array(this.slotCount * SLOT_SIZE);
    this.pool.set(t.pool);
    this.free = new Uint32Array(this.slotCount);
    this.rSlot = new Uint32Array(frames);
    for (let j = 0; j < frames; j++) this.rSlot[j] = j;
    this.rPort = t.port;
    this.rLen = t.len;
    for (let s = frames; s < this.slotCount; s++) this.free[this.freeTop++] = s;
  }

  private static hash(bridge: number, vlan: number, hi: number, lo: number): number {
    let h = (lo + Math.imul(hi | (vlan << 16), 0x9e3779b1) + Math.imul(bridge, 0x85ebca77)) | 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x7feb352d);
    h ^= h >>> 15;
    h = Math.imul(h, 0x846ca68b);
    h ^= h >>> 16;
    return h >>> 0;
  }

  /** Word index of the entry for the key, or of the empty slot where it would go. */
  private probe(bridge: number, vlan: number, hi: number, lo: number): number {
    const fdb = this.fdb;
    const w1 = (hi | ((vlan & 0xfff) << 16) | VALID) >>> 0;
    let i = TsBridge.hash(bridge, vlan, hi, lo) & this.fdbMask;
    for (;;) {
      const e = i << 2;
      const k1 = fdb[e + 1]!;
      if (k1 === 0) return e;
      if (k1 === w1 && fdb[e]! === lo && (fdb[e + 2]! & 0xffff) === bridge) return e;
      i = (i + 1) & this.fdbMask;
    }
  }

  private fresh(e: number, now: number, ageing: number): boolean {
    const w2 = this.fdb[e + 2]!;
    if (((w2 >>> 24) & (FDB_STATIC | FDB_LOCAL)) !== 0) return true;
    return ((now - this.fdb[e + 3]!) | 0) < (ageing | 0);
  }

  learn(b: number, vlan: number, hi: number, lo: number, port: number, now: number): void {
    const ageing = this.brAgeing[b]!;
    if (ageing === 0) return;
    const fdb = this.fdb;
    const e = this.probe(b, vlan, hi, lo);
    if (fdb[e + 1] !== 0) {
      const w2 = fdb[e + 2]!;
      const flags = w2 >>> 24;
      if (flags & FDB_LOCAL) { this.counters[C.BR_OWNSRC]!++; return; }
      if (!this.fresh(e, now, ageing)) {
        fdb[e + 2] = (w2 & 0xff00ffff) | (port << 16);
        fdb[e + 3] = now;
        this.counters[C.BR_LEARNED]!++;
        return;
      }
      if (((w2 >>> 16) & 0xff) !== port && !(flags & FDB_STICKY)) {
        fdb[e + 2] = (w2 & 0xff00ffff) | (port << 16);
        this.counters[C.BR_MOVE]!++;
      }
      if (fdb[e + 3] !== now) fdb[e + 3] = now;
      return;
    }
    const limit = this.brLimit[b]!;
    const learned = this.brLearned[b]!;
    if (limit !== 0 && learned >= limit) { this.counters[C.BR_LIMIT]!++; return; }
    if (this.fdbCount >= this.fdbMax) { this.counters[C.BR_FULL]!++; return; }
    fdb[e] = lo;
    fdb[e + 1] = (hi | ((vlan & 0xfff) << 16) | VALID) >>> 0;
    fdb[e + 2] = b | (port << 16) | (FDB_LEARNED << 24);
    fdb[e + 3] = now;
    this.brLearned[b] = learned + 1;
    this.fdbCount++;
    this.counters[C.BR_LEARNED]!++;
  }

  private drop(i: number, reason: number): void {
    this.dDrop[i] = reason;
    this.counters[reason]!++;
  }

  private emit(i: number, slot: number, off: number, len: number, out: number): void {
    if (this.txCount >= MAX_TX) {
      this.counters[C.TXFULL]!++;
      if (slot === this.dSlot[i]) this.slotGiven = false;
      else this.free[this.freeTop++] = slot;
      return;
    }
    const t = this.txCount++;
    this.tSlot[t] = slot; this.tOff[t] = off; this.tLen[t] = len; this.tPort[t] = out; this.tSrc[t] = this.curIndex;
    this.dTxCount[i]!++;
  }

  private portEgress(i: number, out: number): void {
    if (this.pKind[out] !== K_BRIDGE) {
      this.slotGiven = true;
      this.emit(i, this.dSlot[i]!, this.dOff[i]!, this.dLen[i]!, out);
      return;
    }
    // VLAN mode NONE in this benchmark: no tag operation
    const mtu = this.pMtu[out]!;
    if (mtu !== 0) {
      const len = this.dLen[i]!;
      if (len > mtu + 14) { // untagged, a frame within mtu + 14 fits: only a longer one needs its tag looked at
        const f = this.dSlot[i]! * SLOT_SIZE + this.dOff[i]!;
        const t = (this.pool[f + 12]! << 8) | this.pool[f + 13]!;
        let payload = len - 14;
        if (len >= 18 && (t === 0x8100 || t === 0x88a8)) payload -= 4;
        if (payload > mtu) { this.dDrop[i] = C.BR_MTU; this.counters[C.BR_MTU]!++; return; }
      }
    }
    this.slotGiven = true;
    this.emit(i, this.dSlot[i]!, this.dOff[i]!, this.dLen[i]!, out);
  }

  private forward(i: number, inPort: number, inFlags: number, b: number, vid: number, out: number): void {
    const f = this.pFlags[out]!;
    if (out === inPort && (f & F_HAIRPIN) === 0) return this.drop(i, C.BR_REFLECT);
    const kind = this.pKind[out]!;
    if (!((kind === K_BRIDGE || kind === K_VXLAN) && this.pBridge[out] === b)) return this.drop(i, C.BR_STALE);
    if (f & F_DOWN) return this.drop(i, C.BR_DOWN);
    if (inFlags & f & F_ISOLATED) return this.drop(i, C.BR_ISOLATED);
    if (this.pMode[out] !== 0 && vid !== this.pPvid[out]) return this.drop(i, C.VLAN_EGRESS);
    this.dOut[i] = out;
    this.counters[C.BR_FORWARD]!++;
    this.portEgress(i, out);
  }

  private flood(i: number, b: number): void {
    // not exercised: every destination is known
    this.dFlags[i]! |= 1;
    this.dOut[i] = b;
    this.counters[C.BR_FLOOD]!++;
    this.drop(i, C.BR_FLOODNOPORT);
  }

  private bridgeInput(i: number, f: number, inPort: number): void {
    const b = this.pBridge[inPort]!;
    if (b >= this.bridgeCount) return this.drop(i, C.BR_NOBRIDGE);
    if (this.dLen[i]! < 14) return this.drop(i, C.RUNT);
    const now = this.dTs[i]!;
    if (now !== this.lastSweep) this.lastSweep = now; // sweep: packet time is constant in the benchmark
    const P = this.pool;
    const sHi = (P[f + 6]! << 8) | P[f + 7]!;
    const sLo = ((P[f + 8]! << 24) | (P[f + 9]! << 16) | (P[f + 10]! << 8) | P[f + 11]!) >>> 0;
    if ((sHi | sLo) === 0 || (sHi & 0x100) !== 0) return this.drop(i, C.BR_BADSRC);
    const dHi = (P[f]! << 8) | P[f + 1]!;
    const dLo = ((P[f + 2]! << 24) | (P[f + 3]! << 16) | (P[f + 4]! << 8) | P[f + 5]!) >>> 0;
    const linkLocal = dHi === 0x0180 && (dLo & 0xfffffff0) === 0xc2000000;
    if (linkLocal && (dLo & 0xf) === 1) return this.drop(i, C.BR_PAUSE);
    const vid = this.pMode[inPort] === 0 ? 0 : this.pPvid[inPort]!; // filtering ports not exercised
    this.dVlan[i] = vid;
    this.dBridge[i] = b;
    const inFlags = this.pFlags[inPort]!;
    if (inFlags & F_LEARNING) this.learn(b, vid, sHi, sLo, inPort, now);
    if (linkLocal && (dLo & 0xf) !== 0) return this.drop(i, C.BR_LINKLOCAL);
    if (this.brFlags[b]! & 1) { /* services hook: not exercised */ }
    if (dHi & 0x100) return this.flood(i, b);
    const e = this.probe(b, vid, dHi, dLo);
    if (this.fdb[e + 1] === 0 || !this.fresh(e, now, this.brAgeing[b]!)) return this.flood(i, b);
    const w2 = this.fdb[e + 2]!;
    if ((w2 >>> 24) & FDB_LOCAL) { this.counters[C.BR_LOCAL]!++; return; }
    this.forward(i, inPort, inFlags, b, vid, (w2 >>> 16) & 0xff);
  }

  private processOne(i: number): void {
    const slot = this.dSlot[i]!, off = this.dOff[i]!, len = this.dLen[i]!;
    if (slot >= this.slotCount) return this.drop(i, C.BADSLOT);
    if (off > SLOT_SIZE || len > SLOT_SIZE - off) return this.drop(i, C.OVERSIZE);
    if (len < 14) return this.drop(i, C.RUNT);
    const f = slot * SLOT_SIZE + off;
    const t = (this.pool[f + 12]! << 8) | this.pool[f + 13]!;
    if (t < 0x0600 && t > len - 14) return this.drop(i, C.LENMISMATCH);
    const inPort = this.dInPort[i]!;
    if (inPort >= MAX_PORTS) return this.drop(i, C.NOPORT);
    const kind = this.pKind[inPort]!;
    if (kind === K_UNUSED) return this.drop(i, C.NOPORT);
    if (this.pFlags[inPort]! & F_DOWN) return this.drop(i, C.PORTDOWN);
    if (kind === K_BRIDGE) return this.bridgeInput(i, f, inPort);
    return this.drop(i, C.NOPORT);
  }

  private finish(i: number): void {
    const reason = this.dDrop[i]!;
    if (this.dTxCount[i]! > 0) {
      this.dVerdict[i] = 1;
      if (!this.slotGiven) this.free[this.freeTop++] = this.dSlot[i]!;
      return;
    }
    if (reason !== 0) { this.dVerdict[i] = 0; this.counters[C.DROP]!++; }
    else { this.dVerdict[i] = 2; this.counters[C.LOCAL]!++; }
    if (reason !== C.BADSLOT && !this.slotGiven) this.free[this.freeTop++] = this.dSlot[i]!;
  }

  /**
   * Pass 1 for large FDBs, as assembly/bridge.ts bridgePrefetch: read the home
   * slot of every bridged frame's source and destination keys so the misses
   * of the vector overlap; pass 2 probes as before.
   */
  prefetchSink = 0;
  private prefetch(n: number): void {
    const P = this.pool, fdb = this.fdb, mask = this.fdbMask;
    let sink = 0;
    for (let i = 0; i < n; i++) {
      const slot = this.dSlot[i]!, off = this.dOff[i]!, len = this.dLen[i]!;
      if (slot >= this.slotCount || off > SLOT_SIZE || len > SLOT_SIZE - off || len < 14) continue;
      const inPort = this.dInPort[i]!;
      if (inPort >= MAX_PORTS || this.pKind[inPort] !== K_BRIDGE || this.pMode[inPort] !== 0) continue;
      const b = this.pBridge[inPort]!;
      const f = slot * SLOT_SIZE + off;
      const sHi = (P[f + 6]! << 8) | P[f + 7]!;
      const sLo = ((P[f + 8]! << 24) | (P[f + 9]! << 16) | (P[f + 10]! << 8) | P[f + 11]!) >>> 0;
      const dHi = (P[f]! << 8) | P[f + 1]!;
      const dLo = ((P[f + 2]! << 24) | (P[f + 3]! << 16) | (P[f + 4]! << 8) | P[f + 5]!) >>> 0;
      sink ^= fdb[((TsBridge.hash(b, 0, sHi, sLo) & mask) << 2) + 1]!;
      sink ^= fdb[((TsBridge.hash(b, 0, dHi, dLo) & mask) << 2) + 1]!;
    }
    this.prefetchSink = sink;
  }

  runVector(n: number): number {
    this.txCount = 0;
    if (this.fdbCount >= PREFETCH_MIN_ENTRIES) this.prefetch(n);
    for (let i = 0; i < n; i++) {
      this.curIndex = i;
      this.slotGiven = false;
      this.dVerdict[i] = 0; this.dFlags[i] = 0; this.dDrop[i] = 0; this.dTxCount[i] = 0; this.dOut[i] = 0;
      this.dVlan[i] = 0; this.dBridge[i] = 0; this.dAux[i] = 0;
      this.processOne(i);
      this.finish(i);
    }
    this.counters[C.RX]! += n;
    this.counters[C.TX]! += this.txCount;
    return this.txCount;
  }

  /** `vectors` vectors of 256 frames from the ring; returns the transmit entries. */
  run(vectors: number, tsSec = 1000): number {
    let at = 0;
    let tx = 0;
    for (let k = 0; k < vectors; k++) {
      const top = this.freeTop;
      for (let i = 0; i < MAX_VECTOR; i++) {
        this.dSlot[i] = this.rSlot[at]!;
        this.dOff[i] = HEADROOM;
        this.dLen[i] = this.rLen[at]!;
        this.dInPort[i] = this.rPort[at]!;
        this.dTs[i] = tsSec;
        if (++at === this.frames) at = 0;
      }
      tx += this.runVector(MAX_VECTOR);
      this.freeTop = top;
    }
    return tx;
  }
}
