// Internet checksum (RFC 1071) and its incremental update (RFC 1624).

/** Ones-complement sum of len bytes at p, folded to 16 bits (not inverted), starting from `initial`. */
export function csumPartial(p: usize, len: u32, initial: u32): u32 {
  let sum: u64 = <u64>initial;
  let i: u32 = 0;
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
  if (i < len) sum += <u64>load<u8>(p + i);
  // Fold 64 -> 16. The sum was taken over little-endian words; swapping the
  // folded result gives the big-endian (network order) sum (RFC 1071 §2(B)).
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  let s32 = <u32>sum;
  s32 = (s32 & 0xffff) + (s32 >> 16);
  s32 = (s32 & 0xffff) + (s32 >> 16);
  return <u32>bswap<u16>(<u16>s32);
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
