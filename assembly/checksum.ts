// Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//
// Sums are "host-order numbers of the big-endian words": the value a reader of
// the packet sees in a 16-bit field. The bulk loop sums little-endian loads
// (the byte order of WebAssembly) and swaps once at the end: the ones-complement
// sum is byte-order independent (RFC 1071 §2(B)).

/** Bytes per SIMD block: 4 x v128 per iteration. */
const BLOCK: u32 = 64;
/**
 * Blocks per flush of the SIMD accumulators: each block adds at most
 * 2 x 65535 per u32 lane per accumulator, so 8192 blocks stay below 2^31.
 */
const FLUSH_BLOCKS: u32 = 8192;

/**
 * Ones-complement sum of len bytes at p, folded to 16 bits (not inverted),
 * added to `initial` (a sum in the same convention, any u32, e.g. a
 * pseudo-header sum or a previous csumPartial over an even-length piece).
 */
export function csumPartial(p: usize, len: u32, initial: u32): u32 {
  return csumPartialInline(p, len, initial);
}

/** csumPartial, inlined where a call costs (the decap fast path's UDP check). */
// @ts-ignore: decorator
@inline export function csumPartialInline(p: usize, len: u32, initial: u32): u32 {
  // The accumulation below runs in little-endian order: bring `initial` into it.
  let sum: u64 = <u64>bswap<u16>(csumFold(initial));
  let i: u32 = 0;
  if (len >= BLOCK) {
    // SIMD: widen pairs of u16 lanes into u32 lanes and add, two accumulators
    // to keep both adders busy; flushed into `sum` every FLUSH_BLOCKS blocks.
    let acc0 = i32x4.splat(0);
    let acc1 = i32x4.splat(0);
    let blocks: u32 = 0;
    do {
      const q = p + i;
      acc0 = i32x4.add(acc0, i32x4.extadd_pairwise_i16x8_u(v128.load(q)));
      acc1 = i32x4.add(acc1, i32x4.extadd_pairwise_i16x8_u(v128.load(q, 16)));
      acc0 = i32x4.add(acc0, i32x4.extadd_pairwise_i16x8_u(v128.load(q, 32)));
      acc1 = i32x4.add(acc1, i32x4.extadd_pairwise_i16x8_u(v128.load(q, 48)));
      i += BLOCK;
      if (++blocks == FLUSH_BLOCKS) {
        sum += laneSum(i32x4.add(acc0, acc1));
        acc0 = i32x4.splat(0);
        acc1 = i32x4.splat(0);
        blocks = 0;
      }
    } while (i + BLOCK <= len);
    sum += laneSum(i32x4.add(acc0, acc1));
  }
  // 8 bytes at a time into a 64-bit accumulator: the carries wait in the high bits.
  while (i + 8 <= len) {
    const w = load<u64>(p + i);
    sum += (w & 0xffffffff) + (w >> 32);
    i += 8;
  }
  if (i + 4 <= len) {
    sum += <u64>load<u32>(p + i);
    i += 4;
  }
  if (i + 2 <= len) {
    sum += <u64>load<u16>(p + i);
    i += 2;
  }
  // An odd last byte is the high byte of a big-endian word: the low byte of a
  // little-endian one.
  if (i < len) sum += <u64>load<u8>(p + i);
  // Fold 64 -> 16, then swap to the big-endian (network order) sum.
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  return <u32>bswap<u16>(csumFold(<u32>sum));
}

/** The sum of the four u32 lanes of a, as a u64 (widened to two u64 lanes first). */
// @ts-ignore: decorator
@inline function laneSum(a: v128): u64 {
  const w = i64x2.add(i64x2.extend_low_i32x4_u(a), i64x2.extend_high_i32x4_u(a));
  return <u64>i64x2.extract_lane(w, 0) + <u64>i64x2.extract_lane(w, 1);
}

/** Folds a 32-bit ones-complement sum to 16 bits. */
// @ts-ignore: decorator
@inline export function csumFold(sum: u32): u16 {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return <u16>sum;
}

/** The checksum field value (network order as a host-order number) for data at p. */
export function csum(p: usize, len: u32): u16 {
  return ~csumFold(csumPartial(p, len, 0));
}

/**
 * RFC 1624 eqn. 3: new checksum HC' = ~(~HC + ~m + m') when a 16-bit field
 * changes from m to m'. All values host-order numbers of the big-endian fields.
 */
// @ts-ignore: decorator
@inline export function csumReplace16(hc: u16, m: u16, m2: u16): u16 {
  return ~csumFold(<u32>(~hc & 0xffff) + <u32>(~m & 0xffff) + <u32>m2);
}

/** RFC 1624 for a 32-bit field (an IPv4 address) changing from m to m2. */
// @ts-ignore: decorator
@inline export function csumReplace32(hc: u16, m: u32, m2: u32): u16 {
  return ~csumFold(<u32>(~hc & 0xffff) + (~m >> 16) + (~m & 0xffff) + (m2 >> 16) + (m2 & 0xffff));
}

// ---- test hooks (exported from index.ts; never on a packet path) -------------

/** Test hook: csumPartial over len bytes at p, from `initial`. */
export function checksumPartial(p: usize, len: u32, initial: u32): u32 {
  return csumPartial(p, len, initial);
}

/** Test hook: the checksum field value for len bytes at p. */
export function checksumOf(p: usize, len: u32): u32 {
  return <u32>csum(p, len);
}

/** Test hook: RFC 1624 update of checksum hc when a 16-bit field changes m -> m2. */
export function checksumReplace16(hc: u32, m: u32, m2: u32): u32 {
  return <u32>csumReplace16(<u16>hc, <u16>m, <u16>m2);
}

/** Test hook: RFC 1624 update of checksum hc when a 32-bit field changes m -> m2. */
export function checksumReplace32(hc: u32, m: u32, m2: u32): u32 {
  return <u32>csumReplace32(<u16>hc, m, m2);
}
