import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dataplane } from '../src/dataplane/index.ts';

interface CsumExports {
  checksumPartial(p: number, len: number, initial: number): number;
  checksumOf(p: number, len: number): number;
  checksumReplace16(hc: number, m: number, m2: number): number;
  checksumReplace32(hc: number, m: number, m2: number): number;
}

/** Reference RFC 1071 sum (folded, not inverted) of big-endian words. */
function refSum(b: Uint8Array, initial = 0): number {
  let s = initial;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (i + 1 < b.length ? b[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

/** A deterministic pseudo-random generator (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

for (const build of ['release', 'debug'] as const) {
  const Csum = suite(`checksum (${build})`);
  const dp = new Dataplane({ slots: 4, slotSize: 131072, build });
  const ex = dp.exports as unknown as CsumExports;
  const slot = dp.allocSlot();
  const base = dp.slotAddr(slot);
  const put = (b: ArrayLike<number>, at = 0): number => {
    dp.bytes.set(b, base + at);
    return base + at;
  };

  Csum('RFC 1071 §3 example: the sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2', () => {
    const p = put([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    assert.is(ex.checksumPartial(p, 8, 0), 0xddf2);
    assert.is(ex.checksumOf(p, 8), 0x220d);
  });

  Csum('a known IPv4 header checksums to b861, and verifies to zero with it', () => {
    const h = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7];
    const p = put(h);
    assert.is(ex.checksumOf(p, 20), 0xb861);
    dp.bytes[p + 10] = 0xb8;
    dp.bytes[p + 11] = 0x61;
    assert.is(ex.checksumOf(p, 20), 0);
  });

  Csum('the ICMP echo of the kernel fixture checksums to its field (4 frames of icmp.pcap)', async () => {
    const { readCaptureSync } = await import('../src/pcap/index.ts');
    let n = 0;
    for (const r of readCaptureSync(new URL('../fixtures/captures/icmp.pcap', import.meta.url).pathname)) {
      const icmp = r.data.subarray(34);
      const field = (icmp[2]! << 8) | icmp[3]!;
      const z = Uint8Array.from(icmp);
      z[2] = 0;
      z[3] = 0;
      const p = put(z);
      assert.is(ex.checksumOf(p, z.length), field, `frame ${n}`);
      n++;
    }
    assert.is(n, 8);
  });

  Csum('every length 0..600 at every alignment 0..15 matches the reference sum', () => {
    const next = rng(7);
    const data = Uint8Array.from({ length: 640 }, () => next() & 0xff);
    put(data);
    for (let align = 0; align < 16; align++) {
      for (let len = 0; len <= 600; len++) {
        const got = ex.checksumPartial(base + align, len, 0);
        assert.is(got, refSum(data.subarray(align, align + len)), `len ${len} align ${align}`);
      }
    }
  });

  Csum('large buffers (the SIMD loop and its flushes): 9000, 65535, 131000 bytes of 0xff and random', () => {
    const next = rng(99);
    for (const len of [9000, 65535, 131000]) {
      for (const kind of ['ones', 'random'] as const) {
        const data = kind === 'ones' ? new Uint8Array(len).fill(0xff) : Uint8Array.from({ length: len }, () => next() & 0xff);
        put(data);
        assert.is(ex.checksumPartial(base, len, 0), refSum(data), `${kind} ${len}`);
      }
    }
  });

  Csum('buffers past one flush of the SIMD accumulators (8192 blocks = 512 KiB): 600000 and 1200000 bytes', () => {
    const big = new Dataplane({ slots: 8, slotSize: 262144, build });
    const bx = big.exports as unknown as CsumExports;
    const at = big.slotAddr(0); // the pool is contiguous: 2 MiB from slot 0
    const next = rng(7);
    for (const len of [600000, 1200000]) {
      for (const kind of ['ones', 'random'] as const) {
        const data = kind === 'ones' ? new Uint8Array(len).fill(0xff) : Uint8Array.from({ length: len }, () => next() & 0xff);
        big.bytes.set(data, at);
        assert.is(bx.checksumPartial(at, len, 0), refSum(data), `${kind} ${len}`);
      }
    }
  });

  Csum('an initial sum is added in network order; pieces of even length chain', () => {
    const next = rng(3);
    const data = Uint8Array.from({ length: 300 }, () => next() & 0xff);
    put(data);
    for (const cut of [0, 2, 14, 20, 64, 100, 298]) {
      const first = ex.checksumPartial(base, cut, 0);
      const chained = ex.checksumPartial(base + cut, 300 - cut, first);
      assert.is(chained, refSum(data), `cut at ${cut}`);
    }
    // An unfolded 32-bit initial value (a pseudo-header sum) is folded first.
    const pseudo = 0xc0a8 + 0x0001 + 0xc0a8 + 0x00c7 + 17 + 300;
    assert.is(ex.checksumPartial(base, 300, pseudo), refSum(data, pseudo));
    assert.is(ex.checksumPartial(base, 300, 0xfffffffe), refSum(data, 0xfffffffe));
  });

  Csum('RFC 1624 updates equal a full recomputation (16- and 32-bit fields)', () => {
    const next = rng(11);
    for (let k = 0; k < 2000; k++) {
      const h = Uint8Array.from({ length: 20 }, () => next() & 0xff);
      h[10] = 0;
      h[11] = 0;
      const hc = ~refSum(h) & 0xffff;
      const dv = new DataView(h.buffer);
      if (k % 2) {
        const at = 2 * (next() % 10);
        if (at === 10) continue;
        const m = dv.getUint16(at);
        const m2 = next() & 0xffff;
        dv.setUint16(at, m2);
        assert.is(ex.checksumReplace16(hc, m, m2), ~refSum(h) & 0xffff, `16-bit field at ${at}`);
      } else {
        const m = dv.getUint32(12);
        const m2 = next() >>> 0;
        dv.setUint32(12, m2);
        assert.is(ex.checksumReplace32(hc, m, m2), ~refSum(h) & 0xffff, '32-bit address');
      }
    }
  });

  Csum.run();
}
