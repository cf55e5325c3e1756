// SipHash-1-3: what the Linux kernel's hsiphash() is on 64-bit machines
// (include/linux/siphash.h, lib/siphash.c), truncated to 32 bits by the caller.
// The IPVS mh scheduler hashes one u32 with two fixed keys; those are
// specialised below (the key words are constants, so the initial state folds).

const C0: u64 = 0x736f6d6570736575;
const C1: u64 = 0x646f72616e646f6d;
const C2: u64 = 0x6c7967656e657261;
const C3: u64 = 0x7465646279746573;

/** ip_vs_mh.c hash1: k0 = k1 = 2654435761. */
export const MH_KEY1: u64 = 2654435761;
/** ip_vs_mh.c hash2: k0 = k1 = 2654446892. */
export const MH_KEY2: u64 = 2654446892;

/**
 * SipHash-1-3 of the 4-byte message LE32(v) with key (k0, k1): the kernel's
 * hsiphash(&v, 4, key) on a 64-bit little-endian machine, before truncation.
 */
// @ts-ignore: decorator
@inline export function sip13u32(v: u32, k0: u64, k1: u64): u64 {
  let v0 = C0 ^ k0;
  let v1 = C1 ^ k1;
  let v2 = C2 ^ k0;
  let v3 = C3 ^ k1;
  const b: u64 = (<u64>4 << 56) | <u64>v;
  // one compression round over the final word
  v3 ^= b;
  v0 += v1; v1 = rotl<u64>(v1, 13); v1 ^= v0; v0 = rotl<u64>(v0, 32);
  v2 += v3; v3 = rotl<u64>(v3, 16); v3 ^= v2;
  v0 += v3; v3 = rotl<u64>(v3, 21); v3 ^= v0;
  v2 += v1; v1 = rotl<u64>(v1, 17); v1 ^= v2; v2 = rotl<u64>(v2, 32);
  v0 ^= b;
  // three finalisation rounds, written out (a loop costs V8 an interrupt check per round)
  v2 ^= 0xff;
  v0 += v1; v1 = rotl<u64>(v1, 13); v1 ^= v0; v0 = rotl<u64>(v0, 32);
  v2 += v3; v3 = rotl<u64>(v3, 16); v3 ^= v2;
  v0 += v3; v3 = rotl<u64>(v3, 21); v3 ^= v0;
  v2 += v1; v1 = rotl<u64>(v1, 17); v1 ^= v2; v2 = rotl<u64>(v2, 32);
  v0 += v1; v1 = rotl<u64>(v1, 13); v1 ^= v0; v0 = rotl<u64>(v0, 32);
  v2 += v3; v3 = rotl<u64>(v3, 16); v3 ^= v2;
  v0 += v3; v3 = rotl<u64>(v3, 21); v3 ^= v0;
  v2 += v1; v1 = rotl<u64>(v1, 17); v1 ^= v2; v2 = rotl<u64>(v2, 32);
  v0 += v1; v1 = rotl<u64>(v1, 13); v1 ^= v0; v0 = rotl<u64>(v0, 32);
  v2 += v3; v3 = rotl<u64>(v3, 16); v3 ^= v2;
  v0 += v3; v3 = rotl<u64>(v3, 21); v3 ^= v0;
  v2 += v1; v1 = rotl<u64>(v1, 17); v1 ^= v2; v2 = rotl<u64>(v2, 32);
  return v0 ^ v1 ^ v2 ^ v3;
}

/** hsiphash(&v, 4, key) of the kernel, for k0 = k1 = key (as ip_vs_mh.c sets both words). */
// @ts-ignore: decorator
@inline export function hsiphash32(v: u32, key: u64): u32 {
  return <u32>sip13u32(v, key, key);
}

/** SipHash-1-3 of len bytes at p with key (k0, k1): the general byte-string form. */
export function siphash13(p: usize, len: u32, k0: u64, k1: u64): u64 {
  let v0 = C0 ^ k0;
  let v1 = C1 ^ k1;
  let v2 = C2 ^ k0;
  let v3 = C3 ^ k1;
  const end = p + (<usize>len & ~7);
  let q = p;
  while (q < end) {
    const m = load<u64>(q);
    v3 ^= m;
    v0 += v1; v1 = rotl<u64>(v1, 13); v1 ^= v0; v0 = rotl<u64>(v0, 32);
    v2 += v3; v3 = rotl<u64>(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl<u64>(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl<u64>(v1, 17); v1 ^= v2; v2 = rotl<u64>(v2, 32);
    v0 ^= m;
    q += 8;
  }
  let b: u64 = <u64>len << 56;
  const left = len & 7;
  for (let i: u32 = 0; i < left; i++) b |= <u64>load<u8>(end + i) << (<u64>i * 8);
  v3 ^= b;
  v0 += v1; v1 = rotl<u64>(v1, 13); v1 ^= v0; v0 = rotl<u64>(v0, 32);
  v2 += v3; v3 = rotl<u64>(v3, 16); v3 ^= v2;
  v0 += v3; v3 = rotl<u64>(v3, 21); v3 ^= v0;
  v2 += v1; v1 = rotl<u64>(v1, 17); v1 ^= v2; v2 = rotl<u64>(v2, 32);
  v0 ^= b;
  v2 ^= 0xff;
  for (let r = 0; r < 3; r++) {
    v0 += v1; v1 = rotl<u64>(v1, 13); v1 ^= v0; v0 = rotl<u64>(v0, 32);
    v2 += v3; v3 = rotl<u64>(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl<u64>(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl<u64>(v1, 17); v1 ^= v2; v2 = rotl<u64>(v2, 32);
  }
  return v0 ^ v1 ^ v2 ^ v3;
}
