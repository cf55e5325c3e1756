/**
 * Baseline for bench/vlan.bench.ts: the 802.1Q tag operations of
 * assembly/vlan.ts and the loop of vlanBenchLoop, as the best plain
 * TypeScript we know: frame offsets and lengths in typed arrays, the frame
 * bytes moved with DataView 32-bit accesses (inlined by V8, and correct at any
 * alignment, as frames after a decap are not 4-byte aligned), no allocation.
 */
const HEADROOM = 128;
const SLOT_SIZE = 2048;
const N = 256;

export class TsVlan {
  readonly pool = new Uint8Array(N * SLOT_SIZE);
  private readonly dv = new DataView(this.pool.buffer);
  private readonly slot = new Uint32Array(N);
  private readonly off = new Uint32Array(N);
  private readonly len = new Uint32Array(N);
  private readonly off0 = new Uint32Array(N);
  private readonly len0 = new Uint32Array(N);
  readonly counters = new Float64Array(1024);

  constructor() {
    for (let i = 0; i < N; i++) {
      const f = i * SLOT_SIZE + HEADROOM;
      for (let k = 0; k < 64; k++) this.pool[f + k] = (k * 7 + i) & 0xff;
      this.pool.set([0x81, 0x00, 0xa0, 0x0a], f + 12);
      this.slot[i] = i;
      this.off0[i] = HEADROOM;
      this.len0[i] = 64;
    }
  }

  /** vlanPush: returns the new frame address, or -1 without headroom. */
  push(i: number, tpid: number, tci: number): number {
    const off = this.off[i]!;
    if (off < 4) return -1;
    this.off[i] = off - 4;
    this.len[i]! += 4;
    const p = this.slot[i]! * SLOT_SIZE + off - 4;
    const dv = this.dv;
    const a = dv.getUint32(p + 4, true), b = dv.getUint32(p + 8, true), c = dv.getUint32(p + 12, true);
    dv.setUint32(p, a, true);
    dv.setUint32(p + 4, b, true);
    dv.setUint32(p + 8, c, true);
    dv.setUint16(p + 12, tpid, false);
    dv.setUint16(p + 14, tci, false);
    this.counters[134]!++;
    return p;
  }

  /** vlanPop: the caller knows the frame is tagged. */
  pop(i: number): number {
    const p = this.slot[i]! * SLOT_SIZE + this.off[i]!;
    const dv = this.dv;
    const a = dv.getUint32(p, true), b = dv.getUint32(p + 4, true), c = dv.getUint32(p + 8, true);
    dv.setUint32(p + 4, a, true);
    dv.setUint32(p + 8, b, true);
    dv.setUint32(p + 12, c, true);
    this.counters[135]!++;
    const len = this.len[i]!;
    if (len < 4) return -1;
    this.off[i]! += 4;
    this.len[i] = len - 4;
    return p + 4;
  }

  /** vlanRewrite: new TPID and VID, PCP and DEI kept. */
  rewrite(i: number, tpid: number, vid: number): number {
    const p = this.slot[i]! * SLOT_SIZE + this.off[i]!;
    const dv = this.dv;
    const tci = dv.getUint16(p + 14, false);
    dv.setUint16(p + 12, tpid, false);
    dv.setUint16(p + 14, (tci & 0xf000) | (vid & 0xfff), false);
    this.counters[136]!++;
    return p;
  }

  /** The loop of vlanBenchLoop: op 0 push, 1 pop, 2 rewrite. */
  loop(op: number, iters: number, tpid: number, vid: number): number {
    let acc = 0;
    for (let k = 0; k < iters; k++) {
      for (let i = 0; i < N; i++) {
        this.off[i] = this.off0[i]!;
        this.len[i] = this.len0[i]!;
        const p = op === 0 ? this.push(i, tpid, vid) : op === 1 ? this.pop(i) : this.rewrite(i, tpid, vid);
        acc = (acc + p) | 0;
      }
    }
    return acc;
  }
}
