// IPv6 (RFC 8200) header access and checks for outer headers.
import { Ctr } from './counters';

export const IPV6_HLEN: u32 = 40;
export const IPV6_NH_HOPOPTS: u8 = 0;
export const IPV6_NH_ROUTING: u8 = 43;
export const IPV6_NH_FRAGMENT: u8 = 44;
export const IPV6_NH_DSTOPTS: u8 = 60;

// @ts-ignore: decorator
@inline export function ipv6PayloadLen(ip: usize): u32 {
  return <u32>bswap<u16>(load<u16>(ip, 4));
}

// @ts-ignore: decorator
@inline export function ipv6NextHeader(ip: usize): u8 {
  return load<u8>(ip, 6);
}

/** Upper-layer protocol found by the last successful ipv6Walk. */
export let ipv6L4Proto: u8 = 0;

/**
 * Checks the fixed header at ip (`avail` bytes of frame from ip on): version 6
 * and a payload length that fits. Returns 0, or minus the counter id.
 */
export function ipv6Check(ip: usize, avail: u32): i32 {
  if (avail < IPV6_HLEN) return -Ctr.Ipv6BadLength;
  if ((<u32>load<u8>(ip) >> 4) != 6) return -Ctr.Ipv6BadVersion;
  if (IPV6_HLEN + ipv6PayloadLen(ip) > avail) return -Ctr.Ipv6BadLength;
  return 0;
}

/**
 * Walks the extension headers of a checked IPv6 packet: skips hop-by-hop,
 * destination options and routing headers, refuses fragments. Returns the
 * offset of the upper-layer header from ip (its protocol in ipv6L4Proto), or
 * minus the counter id (ipv6-fragment, ipv6-bad-length for a cut header).
 */
export function ipv6Walk(ip: usize): i32 {
  const end = IPV6_HLEN + ipv6PayloadLen(ip);
  let nh = ipv6NextHeader(ip);
  let off = IPV6_HLEN;
  // A bounded walk: at most 8 extension headers.
  for (let k = 0; k < 8; k++) {
    if (nh == IPV6_NH_FRAGMENT) return -Ctr.Ipv6Fragment;
    if (nh != IPV6_NH_HOPOPTS && nh != IPV6_NH_DSTOPTS && nh != IPV6_NH_ROUTING) {
      ipv6L4Proto = nh;
      return <i32>off;
    }
    if (off + 8 > end) return -Ctr.Ipv6BadLength;
    const next = load<u8>(ip + off);
    const hlen = (<u32>load<u8>(ip + off, 1) + 1) << 3;
    if (off + hlen > end) return -Ctr.Ipv6BadLength;
    nh = next;
    off += hlen;
  }
  return -Ctr.Ipv6BadLength;
}

/**
 * Pseudo-header sum (RFC 8200 §8.1) of the header at ip for next header
 * `proto` and upper-layer length `len` (< 65536), unfolded.
 */
export function ipv6PseudoSum(ip: usize, proto: u32, len: u32): u32 {
  let s: u32 = proto + len;
  for (let i: usize = 8; i < 40; i += 2) s += <u32>bswap<u16>(load<u16>(ip + i));
  return s;
}

/** True when the 16 bytes at a and b are equal. */
// @ts-ignore: decorator
@inline export function ip6Equal(a: usize, b: usize): bool {
  return load<u64>(a) == load<u64>(b) && load<u64>(a, 8) == load<u64>(b, 8);
}
