// UDP (RFC 768) header access and checksums.
import { csumPartial, csumFold } from './checksum';

export const UDP_HLEN: u32 = 8;

// @ts-ignore: decorator
@inline export function udpLen(u: usize): u32 {
  return <u32>bswap<u16>(load<u16>(u, 4));
}

/**
 * Whether the UDP datagram at u (len bytes, header included) sums to all ones
 * with the pseudo-header sum `pseudo` (the checksum field included).
 */
// @ts-ignore: decorator
@inline export function udpVerify(u: usize, len: u32, pseudo: u32): bool {
  return csumFold(csumPartial(u, len, pseudo)) == 0xffff;
}

/**
 * The checksum field value for a datagram whose sum (pseudo header, header
 * with a zero checksum field, payload) is `sum`: 0 is sent as 0xffff.
 */
// @ts-ignore: decorator
@inline export function udpChecksumFromSum(sum: u32): u16 {
  const c = ~csumFold(sum);
  return c == 0 ? <u16>0xffff : c;
}
