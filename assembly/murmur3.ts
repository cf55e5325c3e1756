// Hashes Katran uses: MurmurHash3_x64_64 (lib/MurmurHash3.cpp) for the Maglev
// permutation, and the kernel's jhash (lib/linux_includes/jhash.h) for the
// packet hash of balancer.bpf.c.

// @ts-ignore: decorator
@inline function fmix64(k: u64): u64 {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccd;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53;
  k ^= k >> 33;
  return k;
}

/**
 * Katran's MurmurHash3_x64_64(A, B, seed): the first word of MurmurHash3_x64_128
 * over the 16 bytes LE64(A) || LE64(B).
 */
export function murmur3x64_64(a: u64, b: u64, seed: u32): u64 {
  const c1: u64 = 0x87c37b91114253d5;
  const c2: u64 = 0x4cf5ad432745937f;
  let h1: u64 = <u64>seed;
  let h2: u64 = <u64>seed;
  let k1 = a * c1;
  k1 = rotl<u64>(k1, 31);
  k1 *= c2;
  h1 ^= k1;
  h1 = rotl<u64>(h1, 27);
  h1 += h2;
  h1 = h1 * 5 + 0x52dce729;
  let k2 = b * c2;
  k2 = rotl<u64>(k2, 33);
  k2 *= c1;
  h2 ^= k2;
  h2 = rotl<u64>(h2, 31);
  h2 += h1;
  h2 = h2 * 5 + 0x38495ab5;
  h1 ^= 16;
  h2 ^= 16;
  h1 += h2;
  h2 += h1;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  return h1 + h2;
}

const JHASH_INITVAL: u32 = 0xdeadbeef;

// @ts-ignore: decorator
@inline function jfinal(a: u32, b: u32, c: u32): u32 {
  c ^= b; c -= rotl<u32>(b, 14);
  a ^= c; a -= rotl<u32>(c, 11);
  b ^= a; b -= rotl<u32>(a, 25);
  c ^= b; c -= rotl<u32>(b, 16);
  a ^= c; a -= rotl<u32>(c, 4);
  b ^= a; b -= rotl<u32>(a, 14);
  c ^= b; c -= rotl<u32>(b, 24);
  return c;
}

/** The kernel's jhash_2words(a, b, initval). */
// @ts-ignore: decorator
@inline export function jhash2words(a: u32, b: u32, initval: u32): u32 {
  const iv = initval + JHASH_INITVAL + (2 << 2);
  return jfinal(a + iv, b + iv, iv);
}

/** The kernel's jhash() over the 16 bytes at p (an IPv6 address). */
export function jhash16(p: usize, initval: u32): u32 {
  let a: u32 = JHASH_INITVAL + 16 + initval;
  let b = a;
  let c = a;
  // one full 12-byte block (__jhash_mix)
  a += load<u32>(p);
  b += load<u32>(p, 4);
  c += load<u32>(p, 8);
  a -= c; a ^= rotl<u32>(c, 4); c += b;
  b -= a; b ^= rotl<u32>(a, 6); a += c;
  c -= b; c ^= rotl<u32>(b, 8); b += a;
  a -= c; a ^= rotl<u32>(c, 16); c += b;
  b -= a; b ^= rotl<u32>(a, 19); a += c;
  c -= b; c ^= rotl<u32>(b, 4); b += a;
  // the 4 bytes left: case 4..1 of the switch, then the final mix
  a += load<u32>(p, 12);
  return jfinal(a, b, c);
}
