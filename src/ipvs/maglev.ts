/**
 * Maglev lookup tables in plain TypeScript: the reference the WASM builders
 * (assembly/maglev.ts) are checked against, and the TypeScript baseline of
 * the benchmarks. Both builders are bit-exact with their origins:
 *
 * - {@link katranRing}: Katran's `MaglevHash` (v1) and `MaglevHashV2` (v2)
 *   rings, permutation from MurmurHash3_x64_64 with Katran's seeds.
 * - {@link mhTable}: the Linux IPVS `mh` scheduler's table
 *   (net/netfilter/ipvs/ip_vs_mh.c) on 64-bit kernels.
 *
 * ```ts
 * const ring = katranRing(2, [{ num: 0, weight: 1, hash: 0n }, { num: 1, weight: 1, hash: 1n }], 65537);
 * const table = mhTable([{ hashInput: 0x0a000001 + 80, weight: 1, label: 0 }], 4093, 6);
 * ```
 */
import { murmur3x64_64Halves, mod64, out, hsiphash32, MH_KEY1, MH_KEY2 } from './hash.ts';

/** A Katran endpoint: ring value `num`, `weight`, and the 64-bit `hash` of the real. */
export interface KatranEndpoint {
  num: number;
  weight: number;
  hash: bigint;
}

/** Katran's offset and skip of an endpoint hash (MaglevBase::genMaglevPermutation). */
export function katranPermutation(hash: bigint, ringSize: number): { offset: number; skip: number } {
  const h = Number((hash >> 32n) & 0xffffffffn), l = Number(hash & 0xffffffffn);
  murmur3x64_64Halves(h, l, 0, 42, 0);
  const offset = mod64(out.hi, out.lo, ringSize);
  murmur3x64_64Halves(h, l, 0, 2718281828, 2307);
  const skip = mod64(out.hi, out.lo, ringSize - 1) + 1;
  return { offset, skip };
}

/**
 * Katran's Maglev ring: `ringSize` slots holding endpoint `num`s (-1 = empty).
 * version 1 = MaglevHash (weights count in the first round only), 2 =
 * MaglevHashV2 (slot shares proportional to weights). Endpoint order matters.
 */
export function katranRing(version: 1 | 2, endpoints: readonly KatranEndpoint[], ringSize: number, ring = new Int32Array(ringSize)): Int32Array {
  ring.fill(-1);
  const n = endpoints.length;
  if (n === 0) return ring;
  if (n === 1) return ring.fill(endpoints[0]!.num);
  const v = new Uint32Array(n), cur = new Uint32Array(n), skip = new Uint32Array(n), cum = new Uint32Array(n);
  const num = new Int32Array(n), weight = new Uint32Array(n);
  let maxWeight = 0;
  for (let i = 0; i < n; i++) {
    const e = endpoints[i]!;
    const p = katranPermutation(e.hash, ringSize);
    v[i] = p.offset;
    cur[i] = p.offset;
    skip[i] = p.skip;
    num[i] = e.num;
    weight[i] = e.weight;
    if (weight[i]! > maxWeight) maxWeight = weight[i]!;
  }
  // One take: the endpoint's next free slot on its permutation. v is
  // offset + next * skip in uint32 arithmetic (as the reference computes it),
  // cur = v % ringSize kept incrementally.
  const take = (i: number): void => {
    let vi = v[i]!, c = cur[i]!;
    const s = skip[i]!;
    while (ring[c]! >= 0) {
      const nv = (vi + s) >>> 0;
      if (nv < vi) c = nv % ringSize;
      else if ((c += s) >= ringSize) c -= ringSize;
      vi = nv;
    }
    ring[c] = num[i]!;
    const nv = (vi + s) >>> 0;
    if (nv < vi) c = nv % ringSize;
    else if ((c += s) >= ringSize) c -= ringSize;
    v[i] = nv;
    cur[i] = c;
  };
  let filled = 0;
  if (version === 1) {
    for (let first = true; ; first = false) {
      for (let i = 0; i < n; i++) {
        const turns = first ? weight[i]! : 1;
        for (let j = 0; j < turns; j++) {
          take(i);
          if (++filled === ringSize) return ring;
        }
      }
    }
  }
  for (;;) {
    for (let i = 0; i < n; i++) {
      const c = cum[i]! + weight[i]!;
      if (c >= maxWeight) {
        cum[i] = c - maxWeight;
        take(i);
        if (++filled === ringSize) return ring;
      } else {
        cum[i] = c;
      }
    }
  }
}

/** An mh destination in the service's list order. */
export interface MhDest {
  /** ntohl(addr_fold) + ntohs(port), mod 2^32. */
  hashInput: number;
  /** last_weight: the latest non-zero weight (0 if added with weight 0). */
  weight: number;
  /** What the table holds for it (the kernel holds the dest; vectors use the index). */
  label: number;
}

/** The kernel's table sizes for CONFIG_IP_VS_MH_TAB_INDEX 8..17. */
export const MH_PRIMES = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071] as const;

/** `ntohl(addr_fold)`: an IPv4 address as an integer, or the XOR of an IPv6 address's four big-endian words. */
export function addrFold(addr: Uint8Array): number {
  const w = (i: number): number => ((addr[i]! << 24) | (addr[i + 1]! << 16) | (addr[i + 2]! << 8) | addr[i + 3]!) >>> 0;
  if (addr.length === 4) return w(0);
  return (w(0) ^ w(4) ^ w(8) ^ w(12)) >>> 0;
}

/** ip_vs_mh_hashkey: hsiphash of LE32(offset + port + fold) with key hash1 (1) or hash2 (2). */
export function mhHashKey(fold: number, port: number, key: 1 | 2, offset = 0): number {
  return hsiphash32((offset + port + fold) >>> 0, key === 1 ? MH_KEY1 : MH_KEY2);
}

const gcd = (a: number, b: number): number => {
  while (b) [a, b] = [b, a % b];
  return a;
};

/** gcd, rshift and the per-dest offset/skip/turns of ip_vs_mh_permutate. */
export function mhSetup(dests: readonly MhDest[], m: number, tabBits: number): {
  gcd: number; rshift: number; offset: Uint32Array; skip: Uint32Array; turns: Int32Array;
} {
  let g = 0, mw = 0;
  for (const d of dests) {
    if (d.weight > 0) g = g > 0 ? gcd(d.weight, g) : d.weight;
    if (d.weight > mw) mw = d.weight;
  }
  const n = dests.length;
  const offset = new Uint32Array(n), skip = new Uint32Array(n), turns = new Int32Array(n);
  if (g < 1) return { gcd: 0, rshift: 0, offset, skip, turns };
  const rshift = Math.max(0, 32 - Math.clz32(Math.floor(mw / g)) - tabBits);
  dests.forEach((d, i) => {
    offset[i] = hsiphash32(d.hashInput >>> 0, MH_KEY1) % m;
    skip[i] = (hsiphash32(d.hashInput >>> 0, MH_KEY2) % (m - 1)) + 1;
    turns[i] = (Math.floor(d.weight / g) >> rshift) || (d.weight !== 0 ? 1 : 0);
  });
  return { gcd: g, rshift, offset, skip, turns };
}

/**
 * The mh lookup table: m slots of labels (-1 = empty). `tabBits` is
 * IP_VS_MH_TAB_BITS (CONFIG_IP_VS_MH_TAB_INDEX / 2; 6 by default).
 */
export function mhTable(dests: readonly MhDest[], m: number, tabBits: number, table = new Int32Array(m)): Int32Array {
  table.fill(-1);
  const st = mhSetup(dests, m, tabBits);
  if (st.gcd < 1) return table;
  const n = dests.length;
  const perm = Uint32Array.from(st.offset);
  const label = Int32Array.from(dests, (d) => d.label);
  let filled = 0;
  for (;;) {
    for (let i = 0; i < n; i++) {
      const turns = st.turns[i]!;
      if (turns < 1) continue;
      const s = st.skip[i]!;
      let p = perm[i]!;
      for (let t = 0; t < turns; t++) {
        while (table[p] !== -1) {
          p += s;
          if (p >= m) p -= m;
        }
        table[p] = label[i]!;
        if (++filled === m) return table;
      }
      perm[i] = p;
    }
  }
}

/**
 * The sh scheduler's 256 buckets (ip_vs_sh_reassign): dests in list order,
 * each filling `weight` consecutive buckets (at least one), round and round.
 */
export function shTable(dests: ReadonlyArray<{ weight: number; label: number }>, table = new Int32Array(256)): Int32Array {
  if (dests.length === 0) return table.fill(-1);
  let p = 0, count = 0;
  for (let i = 0; i < 256; i++) {
    const d = dests[p]!;
    table[i] = d.label;
    if (++count >= d.weight) {
      p = (p + 1) % dests.length;
      count = 0;
    }
  }
  return table;
}
