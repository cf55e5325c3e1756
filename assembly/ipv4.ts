// IPv4 (RFC 791) header access and checks, for the nodes that parse or build
// outer headers (VXLAN) and rewrite inner ones (IPVS). Fields are read with an
// immediate offset from the header start and bswap'd to host order.
import { Ctr } from './counters';
import { csumPartial, csumFold } from './checksum';

export const IPV4_HLEN: u32 = 20;
export const IPPROTO_ICMP: u8 = 1;
export const IPPROTO_TCP: u8 = 6;
export const IPPROTO_UDP: u8 = 17;
export const IPPROTO_SCTP: u8 = 132;
/** The DF bit in the flags/fragment-offset word (host order). */
export const IPV4_DF: u16 = 0x4000;
/** MF bit and fragment offset: non-zero in any fragment. */
export const IPV4_FRAG_MASK: u16 = 0x3fff;

// @ts-ignore: decorator
@inline export function ipv4Ihl(ip: usize): u32 {
  return (<u32>load<u8>(ip) & 0xf) << 2;
}

// @ts-ignore: decorator
@inline export function ipv4TotLen(ip: usize): u32 {
  return <u32>bswap<u16>(load<u16>(ip, 2));
}

// @ts-ignore: decorator
@inline export function ipv4Proto(ip: usize): u8 {
  return load<u8>(ip, 9);
}

/** Source address as load<u32> reads it (network byte order in memory). */
// @ts-ignore: decorator
@inline export function ipv4Src(ip: usize): u32 {
  return load<u32>(ip, 12);
}

/** Destination address as load<u32> reads it. */
// @ts-ignore: decorator
@inline export function ipv4Dst(ip: usize): u32 {
  return load<u32>(ip, 16);
}

/** True for any fragment (first, middle or last): MF or an offset, tested in network order. */
// @ts-ignore: decorator
@inline export function ipv4IsFragment(ip: usize): bool {
  return (load<u16>(ip, 6) & bswap<u16>(IPV4_FRAG_MASK)) != 0;
}

/**
 * Checks the IPv4 header at ip, with `avail` bytes of frame from ip on, as
 * Linux's ip_rcv does: version, IHL >= 5, total length within the frame and
 * not shorter than the header, header checksum. Returns the header length in
 * bytes (20..60), or minus the counter id of the first failed check.
 */
// @ts-ignore: decorator
@inline export function ipv4Check(ip: usize, avail: u32): i32 {
  if (avail < IPV4_HLEN) return -Ctr.Ipv4BadLength;
  const vihl = <u32>load<u8>(ip);
  if ((vihl >> 4) != 4) return -Ctr.Ipv4BadVersion;
  const hl = (vihl & 0xf) << 2;
  if (hl < IPV4_HLEN) return -Ctr.Ipv4BadIhl;
  if (hl > avail) return -Ctr.Ipv4BadLength;
  const tot = ipv4TotLen(ip);
  if (tot < hl || tot > avail) return -Ctr.Ipv4BadLength;
  if (!ipv4HeaderOk(ip, hl)) return -Ctr.Ipv4BadChecksum;
  return <i32>hl;
}

/**
 * Whether the hl-byte header at ip sums to all ones (a valid header checksum).
 * The ones-complement sum of the 16-bit words is all ones exactly when their
 * plain sum S is a non-zero multiple of 0xffff, and a 32-bit word contributes
 * its two halves modulo 0xffff (2^16 = 1): so S is taken over 32-bit loads, in
 * memory (little-endian) order, which the test does not care about.
 */
// @ts-ignore: decorator
@inline export function ipv4HeaderOk(ip: usize, hl: u32): bool {
  let s: u64 = <u64>load<u32>(ip) + <u64>load<u32>(ip, 4) + <u64>load<u32>(ip, 8) + <u64>load<u32>(ip, 12) + <u64>load<u32>(ip, 16);
  if (hl > IPV4_HLEN) for (let i: u32 = IPV4_HLEN; i < hl; i += 4) s += <u64>load<u32>(ip + i);
  // s % 0xffff == 0 && s != 0, as one multiply: for odd d, s is a multiple of d
  // exactly when s * d^-1 (mod 2^64) <= (2^64 - 1) / d; minus one excludes s = 0.
  return s * 0xfffefffefffeffff - 1 < 0x0001000100010001;
}

/**
 * The pseudo-header sum (RFC 768) of the header at ip for upper-layer protocol
 * `proto` and length `len`, unfolded, as csumPartial takes it for `initial`.
 */
// @ts-ignore: decorator
@inline export function ipv4PseudoSum(ip: usize, proto: u32, len: u32): u32 {
  // The four address halves summed as read (little-endian), folded and swapped
  // once: a byte swap is multiplication by 256 modulo 0xffff, so the swap of
  // the sum is the sum of the swaps (RFC 1071 §2(B)), and non-zero stays
  // non-zero.
  const s = load<u32>(ip, 12);
  const d = load<u32>(ip, 16);
  const le = (s & 0xffff) + (s >> 16) + (d & 0xffff) + (d >> 16);
  return <u32>bswap<u16>(csumFold(le)) + proto + len;
}

/** Writes the header checksum of the IPv4 header at ip (its checksum field is ignored). */
export function ipv4SetChecksum(ip: usize): void {
  const hl = ipv4Ihl(ip);
  store<u16>(ip, 0, 10);
  store<u16>(ip, bswap<u16>(~csumFold(csumPartial(ip, hl, 0))), 10);
}
