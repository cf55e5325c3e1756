/**
 * The hashes of the two Maglev references in plain TypeScript, on 32-bit
 * halves (no BigInt in the loops): Katran's MurmurHash3_x64_64, the kernel's
 * 64-bit hsiphash (SipHash-1-3), and jhash. Results of 64-bit functions come
 * back as a bigint from the convenience wrappers, or in `out` (hi, lo).
 */

/** (hi, lo) of the last 64-bit result. */
export const out = { hi: 0, lo: 0 };

/** 64-bit product of (ah, al) and (bh, bl), mod 2^64, into out. */
function mul64(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  out.lo = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
  const hiPart = p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  out.hi = (hiPart + Math.imul(al, bh) + Math.imul(ah, bl)) >>> 0;
}

function fmix64(h: number, l: number): void {
  // k ^= k >> 33
  l = (l ^ (h >>> 1)) >>> 0;
  mul64(h, l, 0xff51afd7, 0xed558ccd);
  h = out.hi; l = out.lo;
  l = (l ^ (h >>> 1)) >>> 0;
  mul64(h, l, 0xc4ceb9fe, 0x1a85ec53);
  h = out.hi; l = out.lo;
  l = (l ^ (h >>> 1)) >>> 0;
  out.hi = h; out.lo = l;
}

/** Katran's MurmurHash3_x64_64(A, B, seed) with A, B as (hi, lo) halves; result in out. */
export function murmur3x64_64Halves(ah: number, al: number, bh: number, bl: number, seed: number): void {
  // k1 = A * c1; k1 = rotl(k1, 31); k1 *= c2; h1 ^= k1
  mul64(ah, al, 0x87c37b91, 0x114253d5);
  let kh = out.hi, kl = out.lo;
  let th = ((kh << 31) | (kl >>> 1)) >>> 0;
  let tl = ((kl << 31) | (kh >>> 1)) >>> 0;
  mul64(th, tl, 0x4cf5ad43, 0x2745937f);
  let h1h = out.hi ^ 0, h1l = (out.lo ^ seed) >>> 0;
  h1h >>>= 0;
  // h1 = rotl(h1, 27); h1 += h2; h1 = h1 * 5 + 0x52dce729
  th = ((h1h << 27) | (h1l >>> 5)) >>> 0;
  tl = ((h1l << 27) | (h1h >>> 5)) >>> 0;
  let l = (tl + (seed >>> 0)) >>> 0;
  let h = (th + (l < tl ? 1 : 0)) >>> 0;
  mul64(h, l, 0, 5);
  l = (out.lo + 0x52dce729) >>> 0;
  h1h = (out.hi + (l < out.lo ? 1 : 0)) >>> 0;
  h1l = l;
  // k2 = B * c2; k2 = rotl(k2, 33); k2 *= c1; h2 ^= k2
  mul64(bh, bl, 0x4cf5ad43, 0x2745937f);
  kh = out.hi; kl = out.lo;
  th = ((kl << 1) | (kh >>> 31)) >>> 0; // rotl 33 = swap halves, rotl 1
  tl = ((kh << 1) | (kl >>> 31)) >>> 0;
  mul64(th, tl, 0x87c37b91, 0x114253d5);
  let h2h = out.hi >>> 0, h2l = (out.lo ^ seed) >>> 0;
  // h2 = rotl(h2, 31); h2 += h1; h2 = h2 * 5 + 0x38495ab5
  th = ((h2h << 31) | (h2l >>> 1)) >>> 0;
  tl = ((h2l << 31) | (h2h >>> 1)) >>> 0;
  l = (tl + h1l) >>> 0;
  h = (th + h1h + (l < tl ? 1 : 0)) >>> 0;
  mul64(h, l, 0, 5);
  l = (out.lo + 0x38495ab5) >>> 0;
  h2h = (out.hi + (l < out.lo ? 1 : 0)) >>> 0;
  h2l = l;
  // h1 ^= 16; h2 ^= 16; h1 += h2; h2 += h1
  h1l = (h1l ^ 16) >>> 0;
  h2l = (h2l ^ 16) >>> 0;
  l = (h1l + h2l) >>> 0;
  h1h = (h1h + h2h + (l < h1l ? 1 : 0)) >>> 0;
  h1l = l;
  l = (h2l + h1l) >>> 0;
  h2h = (h2h + h1h + (l < h2l ? 1 : 0)) >>> 0;
  h2l = l;
  fmix64(h1h, h1l);
  h1h = out.hi; h1l = out.lo;
  fmix64(h2h, h2l);
  l = (h1l + out.lo) >>> 0;
  out.hi = (h1h + out.hi + (l < h1l ? 1 : 0)) >>> 0;
  out.lo = l;
}

const M64 = (1n << 64n) - 1n;

/** Katran's MurmurHash3_x64_64(A, B, seed). */
export function murmur3x64_64(a: bigint, b: bigint, seed: number): bigint {
  a &= M64;
  b &= M64;
  murmur3x64_64Halves(Number(a >> 32n), Number(a & 0xffffffffn), Number(b >> 32n), Number(b & 0xffffffffn), seed >>> 0);
  return (BigInt(out.hi) << 32n) | BigInt(out.lo);
}

/** (hi, lo) mod m of a 64-bit value, for m < 2^32. */
export function mod64(h: number, l: number, m: number): number {
  // (h * 2^32 + l) mod m, with h * 2^32 split so nothing exceeds 2^53
  const r1 = h % m;
  const r2 = (r1 * 65536) % m;
  const r3 = (r2 * 65536) % m;
  return (r3 + (l % m)) % m;
}

// ---- SipHash-1-3 (the kernel's hsiphash on 64-bit) -------------------------------

/** hsiphash key words ip_vs_mh.c uses (k0 = k1). */
export const MH_KEY1 = 2654435761;
export const MH_KEY2 = 2654446892;

/**
 * SipHash-1-3 of the 4-byte message LE32(v) with k0 = k1 = key (< 2^32), the
 * low 32 bits: the kernel's hsiphash(&v, 4, key) on 64-bit machines.
 */
export function hsiphash32(v: number, key: number): number {
  sip13u32(v, 0, key, 0, key);
  return out.lo;
}

/** SipHash-1-3 of LE32(v) with key (k0 = (k0h, k0l), k1 = (k1h, k1l)); the 64-bit result in out. */
export function sip13u32(v: number, k0h: number, k0l: number, k1h: number, k1l: number): void {
  let v0h = (0x736f6d65 ^ k0h) >>> 0, v0l = (0x70736575 ^ k0l) >>> 0;
  let v1h = (0x646f7261 ^ k1h) >>> 0, v1l = (0x6e646f6d ^ k1l) >>> 0;
  let v2h = (0x6c796765 ^ k0h) >>> 0, v2l = (0x6e657261 ^ k0l) >>> 0;
  let v3h = (0x74656462 ^ k1h) >>> 0, v3l = (0x79746573 ^ k1l) >>> 0;
  const bh = 0x04000000, bl = v >>> 0;
  v3h = (v3h ^ bh) >>> 0; v3l = (v3l ^ bl) >>> 0;
  for (let r = 0; r < 4; r++) {
    if (r === 1) {
      v0h = (v0h ^ bh) >>> 0; v0l = (v0l ^ bl) >>> 0;
      v2l = (v2l ^ 0xff) >>> 0;
    }
    // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
    let l = (v0l + v1l) >>> 0;
    v0h = (v0h + v1h + (l < v0l ? 1 : 0)) >>> 0; v0l = l;
    let th = ((v1h << 13) | (v1l >>> 19)) >>> 0;
    let tl = ((v1l << 13) | (v1h >>> 19)) >>> 0;
    v1h = (th ^ v0h) >>> 0; v1l = (tl ^ v0l) >>> 0;
    th = v0h; v0h = v0l; v0l = th;
    // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
    l = (v2l + v3l) >>> 0;
    v2h = (v2h + v3h + (l < v2l ? 1 : 0)) >>> 0; v2l = l;
    th = ((v3h << 16) | (v3l >>> 16)) >>> 0;
    tl = ((v3l << 16) | (v3h >>> 16)) >>> 0;
    v3h = (th ^ v2h) >>> 0; v3l = (tl ^ v2l) >>> 0;
    // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
    l = (v0l + v3l) >>> 0;
    v0h = (v0h + v3h + (l < v0l ? 1 : 0)) >>> 0; v0l = l;
    th = ((v3h << 21) | (v3l >>> 11)) >>> 0;
    tl = ((v3l << 21) | (v3h >>> 11)) >>> 0;
    v3h = (th ^ v0h) >>> 0; v3l = (tl ^ v0l) >>> 0;
    // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    l = (v2l + v1l) >>> 0;
    v2h = (v2h + v1h + (l < v2l ? 1 : 0)) >>> 0; v2l = l;
    th = ((v1h << 17) | (v1l >>> 15)) >>> 0;
    tl = ((v1l << 17) | (v1h >>> 15)) >>> 0;
    v1h = (th ^ v2h) >>> 0; v1l = (tl ^ v2l) >>> 0;
    th = v2h; v2h = v2l; v2l = th;
  }
  out.hi = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
  out.lo = (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
}

/** SipHash-1-3 of a byte string (BigInt, for tests and odd lengths). */
export function siphash13(msg: Uint8Array, k0: bigint, k1: bigint): bigint {
  const rotl = (x: bigint, b: bigint): bigint => ((x << b) | (x >> (64n - b))) & M64;
  let v0 = 0x736f6d6570736575n ^ k0, v1 = 0x646f72616e646f6dn ^ k1;
  let v2 = 0x6c7967656e657261n ^ k0, v3 = 0x7465646279746573n ^ k1;
  const round = (): void => {
    v0 = (v0 + v1) & M64; v1 = rotl(v1, 13n); v1 ^= v0; v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & M64; v3 = rotl(v3, 16n); v3 ^= v2;
    v0 = (v0 + v3) & M64; v3 = rotl(v3, 21n); v3 ^= v0;
    v2 = (v2 + v1) & M64; v1 = rotl(v1, 17n); v1 ^= v2; v2 = rotl(v2, 32n);
  };
  const full = msg.length & ~7;
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  for (let i = 0; i < full; i += 8) {
    const m = dv.getBigUint64(i, true);
    v3 ^= m; round(); v0 ^= m;
  }
  let b = BigInt(msg.length) << 56n;
  for (let i = full; i < msg.length; i++) b |= BigInt(msg[i]!) << BigInt((i - full) * 8);
  v3 ^= b; round(); v0 ^= b;
  v2 ^= 0xffn;
  round(); round(); round();
  return v0 ^ v1 ^ v2 ^ v3;
}

// ---- jhash (Katran's packet hash) ---------------------------------------------------

const rol = (x: number, s: number): number => ((x << s) | (x >>> (32 - s))) >>> 0;

function jfinal(a: number, b: number, c: number): number {
  c = (c ^ b) >>> 0; c = (c - rol(b, 14)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol(c, 11)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol(a, 25)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol(b, 16)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol(c, 4)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol(a, 14)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol(b, 24)) >>> 0;
  return c;
}

/** The kernel's jhash_2words(a, b, initval). */
export function jhash2words(a: number, b: number, initval: number): number {
  const iv = (initval + 0xdeadbeef + 8) >>> 0;
  return jfinal((a + iv) >>> 0, (b + iv) >>> 0, iv);
}

/** The kernel's jhash() of 16 bytes (an IPv6 address). */
export function jhash16(p: Uint8Array, initval: number): number {
  const w = (i: number): number => (p[i]! | (p[i + 1]! << 8) | (p[i + 2]! << 16) | (p[i + 3]! << 24)) >>> 0;
  let a = (0xdeadbeef + 16 + initval) >>> 0, b = a, c = a;
  a = (a + w(0)) >>> 0; b = (b + w(4)) >>> 0; c = (c + w(8)) >>> 0;
  a = (a - c) >>> 0; a = (a ^ rol(c, 4)) >>> 0; c = (c + b) >>> 0;
  b = (b - a) >>> 0; b = (b ^ rol(a, 6)) >>> 0; a = (a + c) >>> 0;
  c = (c - b) >>> 0; c = (c ^ rol(b, 8)) >>> 0; b = (b + a) >>> 0;
  a = (a - c) >>> 0; a = (a ^ rol(c, 16)) >>> 0; c = (c + b) >>> 0;
  b = (b - a) >>> 0; b = (b ^ rol(a, 19)) >>> 0; a = (a + c) >>> 0;
  c = (c - b) >>> 0; c = (c ^ rol(b, 4)) >>> 0; b = (b + a) >>> 0;
  a = (a + w(12)) >>> 0;
  return jfinal(a, b, c);
}
