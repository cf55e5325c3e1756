// Ethernet: the first node every frame meets. It checks that the descriptor
// describes a frame that really lies inside its slot and is long enough to be
// Ethernet, and that an 802.3 length field does not claim more than is there.
import { D_SLOT, D_OFF, D_LEN, D_DROP } from './layout';
import { Ctr } from './counters';
import { slotCount, slotSize, slotPtr, count } from './state';

export const ETH_HLEN: u32 = 14;
export const ETHERTYPE_IPV4: u16 = 0x0800;
export const ETHERTYPE_ARP: u16 = 0x0806;
export const ETHERTYPE_VLAN: u16 = 0x8100;
export const ETHERTYPE_QINQ: u16 = 0x88a8;
export const ETHERTYPE_IPV6: u16 = 0x86dd;

/** Destination MAC as a 48-bit integer in wire order (first byte most significant). */
// @ts-ignore: decorator
@inline export function macAt(p: usize): u64 {
  return (<u64>bswap<u16>(load<u16>(p)) << 32) | <u64>bswap<u32>(load<u32>(p, 2));
}

/**
 * Both MACs of the frame at `frame` (at least ETH_HLEN bytes) in one go, as
 * macAt gives them: destination in lane 0, source in lane 1. One 16-byte load
 * at frame - 2 (the 2 bytes before a frame are its slot's headroom or the end
 * of the slot before it: the pool follows the host's other regions, so never
 * before memory) and one byte shuffle, instead of two loads and two byte swaps
 * per MAC (WebAssembly has no byte-swap instruction).
 */
// @ts-ignore: decorator
@inline export function macPairAt(frame: usize): v128 {
  const v = v128.load(frame - 2);
  const s = i8x16.shuffle(v, v, 7, 6, 5, 4, 3, 2, 0, 0, 13, 12, 11, 10, 9, 8, 0, 0);
  return v128.and(s, i64x2(0xffffffffffff, 0xffffffffffff));
}

/** Writes a 48-bit MAC (first byte most significant) at p. */
// @ts-ignore: decorator
@inline export function storeMac(p: usize, mac: u64): void {
  store<u16>(p, bswap<u16>(<u16>(mac >> 32)));
  store<u32>(p, bswap<u32>(<u32>mac), 2);
}

/** Ethertype (host order) at byte 12 of the frame. */
// @ts-ignore: decorator
@inline export function ethType(p: usize): u16 {
  return bswap<u16>(load<u16>(p, 12));
}

// @ts-ignore: decorator
@inline export function isMulticast(mac: u64): bool {
  return (mac & (<u64>1 << 40)) != 0;
}

export const BROADCAST: u64 = 0xffffffffffff;

/**
 * Validates the frame of descriptor d and returns its address. On failure sets
 * the drop reason and returns 0 (no frame ever lives at address 0). Order: a descriptor pointing outside the pool first, then a
 * frame that does not fit its slot, then runts, then lying 802.3 lengths.
 */
// @ts-ignore: decorator
@inline export function ethCheck(d: usize): usize {
  const slot = load<u32>(d, D_SLOT);
  const off = load<u32>(d, D_OFF);
  const len = load<u32>(d, D_LEN);
  if (slot >= slotCount) return drop(d, Ctr.EthBadSlot);
  // Two tests, not one ||: V8 then branches instead of building booleans.
  if (off > slotSize) return drop(d, Ctr.EthOversize);
  if (len > slotSize - off) return drop(d, Ctr.EthOversize);
  if (len < ETH_HLEN) return drop(d, Ctr.EthRunt);
  const frame = slotPtr(slot) + off;
  const t = ethType(frame);
  // 802.3: a type field below 0x0600 is a payload length; padding may follow it,
  // but it must not claim more bytes than the frame carries.
  if (t < 0x0600 && <u32>t > len - ETH_HLEN) return drop(d, Ctr.EthLenMismatch);
  return frame;
}

// @ts-ignore: decorator
@inline function drop(d: usize, reason: i32): usize {
  store<u16>(d, <u16>reason, D_DROP);
  count(reason);
  return 0;
}
