// ARP (RFC 826) for Ethernet/IPv4: parsing and answering in place. The
// overlay's ARP proxy uses it (as Linux's vxlan arp_reduce does); the gateway
// responder can reuse it.

/** ARP header + Ethernet/IPv4 addresses. */
export const ARP_LEN: u32 = 28;
export const ARPOP_REQUEST: u16 = 1;
export const ARPOP_REPLY: u16 = 2;
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_IEEE802: u16 = 6;

/** What an ARP frame is, for a responder. */
export enum ArpKind {
  /** Cut short, or not Ethernet/IPv4 addresses. */
  MALFORMED = 0,
  /** A request (Ethernet or IEEE 802 hardware, IPv4, 6/4 byte addresses). */
  REQUEST = 1,
  /** Any other operation (reply, RARP ...). */
  OTHER = 2,
}

/** Classifies the ARP packet at a with `avail` bytes of frame from a on (Linux's arp_reduce tests). */
export function arpKind(a: usize, avail: u32): ArpKind {
  if (avail < ARP_LEN) return ArpKind.MALFORMED;
  const hrd = bswap<u16>(load<u16>(a));
  if ((hrd != ARPHRD_ETHER && hrd != ARPHRD_IEEE802) || bswap<u16>(load<u16>(a, 2)) != 0x0800
    || load<u8>(a, 4) != 6 || load<u8>(a, 5) != 4) return ArpKind.MALFORMED;
  return bswap<u16>(load<u16>(a, 6)) == ARPOP_REQUEST ? ArpKind.REQUEST : ArpKind.OTHER;
}

/** Sender protocol address, as load<u32> reads it. */
// @ts-ignore: decorator
@inline export function arpSenderIp(a: usize): u32 {
  return load<u32>(a, 14);
}

/** Target protocol address, as load<u32> reads it. */
// @ts-ignore: decorator
@inline export function arpTargetIp(a: usize): u32 {
  return load<u32>(a, 24);
}

/** Whether a target address must never be answered: loopback (127/8) or multicast (224/4). */
// @ts-ignore: decorator
@inline export function arpTargetUnanswerable(tip: u32): bool {
  const first = tip & 0xff;
  return first == 127 || (first & 0xf0) == 0xe0;
}

/**
 * Rewrites the Ethernet frame at `frame` carrying an ARP request at `a` into
 * the reply that `mac` owns the requested address, as Linux's arp_create
 * builds it: Ethernet to the requester from `mac`, hardware type Ethernet,
 * op reply, sender (mac, requested IP), target (requester MAC, requester IP).
 * Any 802.1Q tag between the MACs and the ARP header is kept. `mac` is in
 * memory order (the 6 bytes as load<u64> reads them, masked to 48 bits).
 */
export function arpReplyInPlace(frame: usize, a: usize, mac: u64): void {
  const shaLo = load<u32>(a, 8);
  const shaHi = load<u16>(a, 12);
  const sip = arpSenderIp(a);
  const tip = arpTargetIp(a);
  store<u32>(frame, shaLo);
  store<u16>(frame, shaHi, 4);
  store<u32>(frame, <u32>mac, 6);
  store<u16>(frame, <u16>(mac >> 32), 10);
  store<u16>(a, bswap<u16>(ARPHRD_ETHER));
  store<u16>(a, bswap<u16>(<u16>0x0800), 2);
  store<u8>(a, 6, 4);
  store<u8>(a, 4, 5);
  store<u16>(a, bswap<u16>(ARPOP_REPLY), 6);
  store<u32>(a, <u32>mac, 8);
  store<u16>(a, <u16>(mac >> 32), 12);
  store<u32>(a, tip, 14);
  store<u32>(a, shaLo, 18);
  store<u16>(a, shaHi, 22);
  store<u32>(a, sip, 24);
}
