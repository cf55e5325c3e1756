// Maglev lookup tables, built in the control plane (never on the packet path)
// and read by the schedulers with one index: table[hash % size].
//
//  - katranRing: Katran's ring (lib/MaglevHash.cpp = v1, lib/MaglevHashV2.cpp
//    = v2), permutation from MurmurHash3_x64_64 with Katran's seeds
//    (lib/MaglevBase.cpp).
//  - mhTable: the Linux IPVS mh scheduler's table (net/netfilter/ipvs/ip_vs_mh.c),
//    permutation from hsiphash (SipHash-1-3 on 64-bit kernels) with the
//    kernel's fixed keys, turns from weights (gcd, rshift).
//
// Both are bit-exact with the references (test/maglev.test.ts checks them
// against ../shared/vectors/maglev). Inputs and outputs live in linear memory;
// the work area holds per-endpoint state (16 bytes each).
import { murmur3x64_64 } from './murmur3';
import { hsiphash32, sip13u32, siphash13, MH_KEY1, MH_KEY2 } from './siphash';

// ---- Katran ---------------------------------------------------------------------

/** Endpoint record of katranRing's input: {num u32, weight u32, hash u64}. */
export const KEP_SIZE: u32 = 16;
// Work record per endpoint.
const W_V = 0; //    u32: offset + next * skip, wrapping in uint32 as the reference does
const W_CUR = 4; //  u32: W_V % ringSize
const W_SKIP = 8; // u32
const W_CUM = 12; // u32: v2 cumulative weight

/** Katran's kHashSeed0..3 (MaglevBase.cpp). */
const SEED0: u32 = 0;
const SEED1: u32 = 2307;
const SEED2: u64 = 42;
const SEED3: u64 = 2718281828;

/** Katran offset of an endpoint hash: MurmurHash3_x64_64(hash, 42, 0) % ringSize. */
export function katranOffset(hash: u64, ringSize: u32): u32 {
  return <u32>(murmur3x64_64(hash, SEED2, SEED0) % <u64>ringSize);
}

/** Katran skip of an endpoint hash: MurmurHash3_x64_64(hash, 2718281828, 2307) % (ringSize - 1) + 1. */
export function katranSkip(hash: u64, ringSize: u32): u32 {
  return <u32>(murmur3x64_64(hash, SEED3, SEED1) % <u64>(ringSize - 1)) + 1;
}

/**
 * Places one slot for endpoint state w: walks its permutation to the first
 * empty slot, writes num there, and moves past it (next += 1).
 */
// @ts-ignore: decorator
@inline function take(w: usize, ring: usize, ringSize: u32, num: i32): void {
  let v = load<u32>(w, W_V);
  let cur = load<u32>(w, W_CUR);
  const skip = load<u32>(w, W_SKIP);
  while (load<i32>(ring + (<usize>cur << 2)) >= 0) {
    // next += 1: the uint32 sum wraps only at the far end of a permutation.
    const nv = v + skip;
    if (nv < v) cur = nv % ringSize;
    else {
      cur += skip;
      if (cur >= ringSize) cur -= ringSize;
    }
    v = nv;
  }
  store<i32>(ring + (<usize>cur << 2), num);
  const nv = v + skip;
  if (nv < v) cur = nv % ringSize;
  else {
    cur += skip;
    if (cur >= ringSize) cur -= ringSize;
  }
  store<u32>(w, nv, W_V);
  store<u32>(w, cur, W_CUR);
}

/**
 * Builds Katran's Maglev ring. eps: n records {num, weight, hash}; ring:
 * ringSize i32 slots (written, -1 = empty); work: n x 16 bytes of scratch.
 * version 1 = MaglevHash, 2 = MaglevHashV2. ringSize must be >= 2.
 */
export function katranRing(version: u32, eps: usize, n: u32, ring: usize, ringSize: u32, work: usize): void {
  memory.fill(ring, 0xff, <usize>ringSize << 2);
  if (n == 0) return;
  if (n == 1) {
    const num = load<i32>(eps);
    for (let i: u32 = 0; i < ringSize; i++) store<i32>(ring + (<usize>i << 2), num);
    return;
  }
  let maxWeight: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const e = eps + <usize>i * KEP_SIZE;
    const w = work + (<usize>i << 4);
    const hash = load<u64>(e, 8);
    const offset = katranOffset(hash, ringSize);
    store<u32>(w, offset, W_V);
    store<u32>(w, offset, W_CUR);
    store<u32>(w, katranSkip(hash, ringSize), W_SKIP);
    store<u32>(w, 0, W_CUM);
    const weight = load<u32>(e, 4);
    if (weight > maxWeight) maxWeight = weight;
  }
  let filled: u32 = 0;
  if (version == 1) {
    // Rounds over the endpoints in order; endpoint i takes weight_i slots in
    // the first round and one slot per round after that.
    let first = true;
    for (;;) {
      for (let i: u32 = 0; i < n; i++) {
        const e = eps + <usize>i * KEP_SIZE;
        const w = work + (<usize>i << 4);
        const num = load<i32>(e);
        const turns: u32 = first ? load<u32>(e, 4) : 1;
        for (let j: u32 = 0; j < turns; j++) {
          take(w, ring, ringSize, num);
          if (++filled == ringSize) return;
        }
      }
      first = false;
    }
  } else {
    // Rounds over the endpoints in order; an endpoint takes a slot each time
    // its accumulated weight reaches the largest weight.
    for (;;) {
      for (let i: u32 = 0; i < n; i++) {
        const e = eps + <usize>i * KEP_SIZE;
        const w = work + (<usize>i << 4);
        const cum = load<u32>(w, W_CUM) + load<u32>(e, 4);
        if (cum >= maxWeight) {
          store<u32>(w, cum - maxWeight, W_CUM);
          take(w, ring, ringSize, load<i32>(e));
          if (++filled == ringSize) return;
        } else {
          store<u32>(w, cum, W_CUM);
        }
      }
    }
  }
}

// ---- Linux IPVS mh ------------------------------------------------------------------

/** Dest record of mhTable's input: {hashInput u32, lastWeight i32, label i32}. */
export const MHD_SIZE: u32 = 12;
const D_OFFSET = 0;
const D_SKIP = 4;
const D_PERM = 8;
const D_TURNS = 12;

function gcd(a: i32, b: i32): i32 {
  while (b != 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** The kernel's hashkey: hsiphash(LE32(offset + port + fold)) with key hash1 or hash2. */
// @ts-ignore: decorator
@inline export function mhHash1(v: u32): u32 {
  return hsiphash32(v, MH_KEY1);
}

// @ts-ignore: decorator
@inline export function mhHash2(v: u32): u32 {
  return hsiphash32(v, MH_KEY2);
}

/**
 * Builds the mh lookup table of ip_vs_mh.c. dests: n records in the service's
 * list order {hashInput = ntohl(addr_fold) + ntohs(port), lastWeight, label};
 * table: m i32 slots (written with labels, -1 = empty); work: n x 16 bytes.
 * tabBits is IP_VS_MH_TAB_BITS. Returns the gcd (0: every slot is empty).
 */
export function mhTable(dests: usize, n: u32, table: usize, m: u32, tabBits: u32, work: usize): i32 {
  memory.fill(table, 0xff, <usize>m << 2);
  // gcd and shift of the last weights (ip_vs_mh_gcd_weight, ip_vs_mh_shift_weight)
  let g: i32 = 0;
  let mw: i32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const w = load<i32>(dests + <usize>i * MHD_SIZE, 4);
    if (w > 0) g = g > 0 ? gcd(w, g) : w;
    if (w > mw) mw = w;
  }
  if (g < 1) return 0;
  const bits: i32 = 32 - <i32>clz<u32>(<u32>(mw / g));
  let rshift = bits - <i32>tabBits;
  if (rshift < 0) rshift = 0;
  // permutation (ip_vs_mh_permutate)
  for (let i: u32 = 0; i < n; i++) {
    const d = dests + <usize>i * MHD_SIZE;
    const s = work + (<usize>i << 4);
    const v = load<u32>(d);
    const offset = mhHash1(v) % m;
    store<u32>(s, offset, D_OFFSET);
    store<u32>(s, mhHash2(v) % (m - 1) + 1, D_SKIP);
    store<u32>(s, offset, D_PERM);
    const lw = load<i32>(d, 4);
    let turns = (lw / g) >> rshift;
    if (turns == 0) turns = lw != 0 ? 1 : 0;
    store<i32>(s, turns, D_TURNS);
  }
  // population (ip_vs_mh_populate): rounds over the list; a dest takes
  // `turns` consecutive slots, each at the next free place of its permutation.
  let filled: u32 = 0;
  for (;;) {
    for (let i: u32 = 0; i < n; i++) {
      const s = work + (<usize>i << 4);
      const turns = load<i32>(s, D_TURNS);
      if (turns < 1) continue;
      const label = load<i32>(dests + <usize>i * MHD_SIZE, 8);
      const skip = load<u32>(s, D_SKIP);
      let perm = load<u32>(s, D_PERM);
      for (let t: i32 = 0; t < turns; t++) {
        while (load<i32>(table + (<usize>perm << 2)) != -1) {
          perm += skip;
          if (perm >= m) perm -= m;
        }
        store<i32>(table + (<usize>perm << 2), label);
        if (++filled == m) return g;
      }
      store<u32>(s, perm, D_PERM);
    }
  }
  return g;
}

// ---- exports for the host and the tests (control plane only) -------------------------

/** Test hook: Katran's MurmurHash3_x64_64. */
export function maglevMurmur3(a: u64, b: u64, seed: u32): u64 {
  return murmur3x64_64(a, b, seed);
}

/** Test hook: the kernel's 64-bit hsiphash of LE32(v), untruncated, key (k0, k1). */
export function maglevSip13u32(v: u32, k0: u64, k1: u64): u64 {
  return sip13u32(v, k0, k1);
}

/** Test hook: SipHash-1-3 over len bytes at p. */
export function maglevSiphash13(p: usize, len: u32, k0: u64, k1: u64): u64 {
  return siphash13(p, len, k0, k1);
}

/** Builds Katran's ring (see katranRing). */
export function maglevBuildKatran(version: u32, eps: usize, n: u32, ring: usize, ringSize: u32, work: usize): void {
  katranRing(version, eps, n, ring, ringSize, work);
}

/** Builds the mh table (see mhTable). Returns the gcd. */
export function maglevBuildMh(dests: usize, n: u32, table: usize, m: u32, tabBits: u32, work: usize): i32 {
  return mhTable(dests, n, table, m, tabBits, work);
}
