// Offload completion: what the kernel (skb_checksum_help, tcp_gso_segment,
// __udp_gso_segment) would do for a device without the offload, done in WASM
// for an egress port that takes no virtio_net_hdr.
//
// Frames read with PACKET_VNET_HDR / IFF_VNET_HDR keep the sender's offload
// state: a partial checksum (NEEDS_CSUM: the field holds the pseudo-header sum,
// the rest is to be summed from csum_start) and super-frames (gso_type, with
// gso_size = MSS) of up to 64 KiB. A port that takes a virtio_net_hdr gets them
// as they are; for any other port `offloadFinish` turns every such transmit
// entry into ordinary frames:
//   - NEEDS_CSUM only: the checksum is completed in place;
//   - TCPv4, TCPv6, UDP (USO, gso_type 5): the super-frame is cut into frames of
//     headers + gso_size bytes of payload, each with its IP total length (IPv4:
//     ID + k, header checksum) or IPv6 payload length, TCP sequence number + k*MSS
//     (FIN/PSH on the last segment only, CWR on the first only) or UDP length,
//     and a full L4 checksum. The first segment stays in the original slot
//     (its headers and payload are already in place); the others get new slots.
// Segments take the super-frame's place in the transmit vector, in order, so a
// TCP flow is never reordered. Whatever cannot be finished is dropped and counted
// with its reason; its entry stays in the vector with length 0 (the host sends
// no frame for it and frees its slot with the others).
import {
  T_SLOT, T_OFF, T_LEN, T_PORT, T_SRC, T_VNET_FLAGS, T_GSO_TYPE, T_GSO_SIZE, T_CSUM_START, T_CSUM_OFFSET,
  TX_SIZE, MAX_TX, MAX_PORTS, MAX_VECTOR, HEADROOM, FREE_TOP, DESC_SIZE,
  D_SLOT, D_OFF, D_LEN, D_DROP, D_VNET_FLAGS, D_GSO_TYPE, D_GSO_SIZE, D_CSUM_START, D_CSUM_OFFSET,
} from './layout';
import { Ctr } from './counters';
import { count, countN, slotPtr, slotAlloc, txEntry, freeBase, slotCount, slotSize, desc } from './state';
import { releaseDesc } from './graph';
import { csumPartial, csumFold, csum } from './checksum';

/** virtio_net_hdr flags. */
export const VNET_NEEDS_CSUM: u8 = 1;
export const VNET_DATA_VALID: u8 = 2;
/** virtio_net_hdr gso_type values (the ECN bit 0x80 may be or-ed in). */
export const GSO_NONE: u8 = 0;
export const GSO_TCPV4: u8 = 1;
export const GSO_UDP: u8 = 3;
export const GSO_TCPV6: u8 = 4;
export const GSO_UDP_L4: u8 = 5;
export const GSO_ECN: u8 = 0x80;

const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/** Per port: 1 when the port takes offload metadata as it is (a virtio_net_hdr). */
const portAccepts: usize = memory.data(MAX_PORTS);
/** Frames each transmit entry becomes (u16 per entry), for the vector being finished. */
const segCount: usize = memory.data(MAX_TX * 2);

/**
 * Tells the data plane whether port `port` takes offload metadata (partial
 * checksums, super-frames) with its frames. Ports start as not taking it.
 * Between vectors only.
 */
export function offloadSetPort(port: u32, accepts: bool): void {
  if (port < <u32>MAX_PORTS) store<u8>(portAccepts + port, accepts ? 1 : 0);
}

/** Whether port `port` takes offload metadata. */
export function offloadPortAccepts(port: u32): bool {
  return port < <u32>MAX_PORTS && load<u8>(portAccepts + port) != 0;
}

// ---- header parsing ----------------------------------------------------------------
// Results of the last parseHeaders (module globals: no allocation).
let hL3: u32 = 0;
let hL4: u32 = 0;
let hEnd: u32 = 0;
let hV6: bool = false;
let hTcp: bool = false;

/**
 * Finds the IP and L4 headers of a super-frame and checks they are what
 * gso type `g` says. Returns false for anything else (no trust in hdr_len: the
 * kernel reports its linear length there, not the header length).
 */
function parseHeaders(f: usize, len: u32, g: u32): bool {
  if (len < 14) return false;
  let off: u32 = 12;
  let et = bswap<u16>(load<u16>(f + off));
  for (let i = 0; i < 2 && (et == 0x8100 || et == 0x88a8); i++) {
    off += 4;
    if (off + 2 > len) return false;
    et = bswap<u16>(load<u16>(f + off));
  }
  const l3 = off + 2;
  let proto: u32 = 0;
  let l4: u32 = 0;
  if (et == 0x0800) {
    if (l3 + 20 > len) return false;
    const vihl = <u32>load<u8>(f + l3);
    const ihl = (vihl & 15) << 2;
    if ((vihl >> 4) != 4 || ihl < 20 || l3 + ihl > len) return false;
    // A fragment cannot be segmented.
    if ((bswap<u16>(load<u16>(f + l3, 6)) & 0x3fff) != 0) return false;
    proto = <u32>load<u8>(f + l3, 9);
    l4 = l3 + ihl;
    hV6 = false;
  } else if (et == 0x86dd) {
    if (l3 + 40 > len || (load<u8>(f + l3) >> 4) != 6) return false;
    let nh = <u32>load<u8>(f + l3, 6);
    let p = l3 + 40;
    // Hop-by-hop, routing and destination options may stand before L4.
    for (let i = 0; i < 4 && (nh == 0 || nh == 43 || nh == 60); i++) {
      if (p + 8 > len) return false;
      nh = <u32>load<u8>(f + p);
      p += (<u32>load<u8>(f + p, 1) + 1) << 3;
    }
    if (p > len) return false;
    proto = nh;
    l4 = p;
    hV6 = true;
  } else {
    return false;
  }
  if (g == <u32>GSO_TCPV4 && (hV6 || proto != 6)) return false;
  if (g == <u32>GSO_TCPV6 && (!hV6 || proto != 6)) return false;
  if (g == <u32>GSO_UDP_L4 && proto != 17) return false;
  if (proto == 6) {
    if (l4 + 20 > len) return false;
    const doff = (<u32>load<u8>(f + l4, 12) >> 4) << 2;
    if (doff < 20 || l4 + doff > len) return false;
    hEnd = l4 + doff;
    hTcp = true;
  } else {
    if (l4 + 8 > len) return false;
    hEnd = l4 + 8;
    hTcp = false;
  }
  hL3 = l3;
  hL4 = l4;
  return true;
}

// ---- checksums -------------------------------------------------------------------------

/** Completes a partial checksum in place (skb_checksum_help). False if it lies outside the frame. */
function completeCsum(f: usize, len: u32, start: u32, offset: u32): bool {
  if (start >= len || offset > len - start || len - start - offset < 2) return false;
  let c = ~csumFold(csumPartial(f + start, len - start, 0));
  if (c == 0) c = 0xffff;
  store<u16>(f + start + offset, bswap<u16>(c));
  return true;
}

/** The TCP/UDP checksum of the segment at f (headers parsed), field zeroed first. */
function l4Checksum(f: usize, l4len: u32): u16 {
  const field = f + hL4 + (hTcp ? 16 : 6);
  store<u16>(field, 0);
  const addrs = hV6 ? csumPartial(f + hL3 + 8, 32, 0) : csumPartial(f + hL3 + 12, 8, 0);
  const sum = addrs + (hTcp ? 6 : 17) + l4len + csumPartial(f + hL4, l4len, 0);
  let c = ~csumFold(sum);
  if (c == 0 && !hTcp) c = 0xffff;
  return c;
}

/**
 * Makes the frame at f (headers + `chunk` payload bytes) segment k of n:
 * lengths, IPv4 ID and header checksum, TCP sequence and flags, L4 checksum.
 */
function fixSegment(f: usize, k: u32, n: u32, chunk: u32, mss: u32, id0: u16, seq0: u32, flags0: u8): void {
  const segLen = hEnd + chunk;
  if (hV6) {
    store<u16>(f + hL3, bswap<u16>(<u16>(segLen - hL3 - 40)), 4);
  } else {
    const ihl = (<u32>load<u8>(f + hL3) & 15) << 2;
    store<u16>(f + hL3, bswap<u16>(<u16>(segLen - hL3)), 2);
    store<u16>(f + hL3, bswap<u16>(id0 + <u16>k), 4);
    store<u16>(f + hL3, 0, 10);
    store<u16>(f + hL3, bswap<u16>(csum(f + hL3, ihl)), 10);
  }
  const l4len = segLen - hL4;
  if (hTcp) {
    store<u32>(f + hL4, bswap<u32>(seq0 + k * mss), 4);
    let fl = flags0;
    if (k + 1 < n) fl &= ~(TCP_FIN | TCP_PSH);
    if (k > 0) fl &= ~TCP_CWR;
    store<u8>(f + hL4, fl, 13);
  } else {
    store<u16>(f + hL4, bswap<u16>(<u16>l4len), 4);
  }
  store<u16>(f + hL4 + (hTcp ? 16 : 6), bswap<u16>(l4Checksum(f, l4len)));
}

/**
 * Writes segment j of k of the super-frame at f into p: its `hdr` bytes of
 * headers, `chunk` bytes of payload, fixed up (parseHeaders' results describe
 * f's headers, which the copy shares).
 */
// @ts-ignore: decorator
@inline function copySegment(p: usize, f: usize, hdr: u32, j: u32, k: u32, chunk: u32, mss: u32, id0: u16, seq0: u32, flags0: u8): void {
  memory.copy(p, f, hdr);
  memory.copy(p + hdr, f + hdr + j * mss, chunk);
  fixSegment(p, j, k, chunk, mss, id0, seq0, flags0);
}

// ---- the transmit vector ------------------------------------------------------------------

// @ts-ignore: decorator
@inline function clearMeta(t: usize): void {
  // T_VNET_FLAGS..T_HDR_LEN: 10 contiguous bytes.
  store<u64>(t + T_VNET_FLAGS, 0);
  store<u16>(t + T_VNET_FLAGS, 0, 8);
}

/** Drops transmit entry t for `reason`: length 0 (not sent), slot kept for the host to free. */
function dropEntry(t: usize, reason: i32): void {
  store<u32>(t, 0, T_LEN);
  clearMeta(t);
  count(reason);
}

/**
 * Finishes the offloads of transmit entries [0, n) bound to ports that take no
 * offload metadata (see offloadSetPort). Returns the new number of entries
 * (segmentation adds some; nothing is ever removed: drops become length 0).
 * One call per vector, after runVector, before the host sends.
 */
export function offloadFinish(n: u32): u32 {
  if (n > <u32>MAX_TX) n = <u32>MAX_TX;
  let extra: u32 = 0;
  let free = load<u32>(freeBase + FREE_TOP);
  // Pass 1: checksums in place; decide how many frames each super-frame becomes.
  for (let i: u32 = 0; i < n; i++) {
    store<u16>(segCount + (<usize>i << 1), 1);
    const t = txEntry(i);
    const vflags = load<u8>(t, T_VNET_FLAGS);
    const gtype = <u32>load<u8>(t, T_GSO_TYPE);
    if (vflags == 0 && gtype == 0) continue;
    const out = <u32>load<u16>(t, T_PORT);
    if (out < <u32>MAX_PORTS && load<u8>(portAccepts + out) != 0) continue;
    const slot = load<u32>(t, T_SLOT);
    const off = load<u32>(t, T_OFF);
    const len = load<u32>(t, T_LEN);
    if (len == 0) {
      clearMeta(t);
      continue;
    }
    if (slot >= slotCount || off > slotSize || len > slotSize - off) {
      dropEntry(t, Ctr.OffloadBadGso);
      continue;
    }
    const f = slotPtr(slot) + off;
    const g = gtype & 0x7f;
    if (g == 0) {
      if (vflags & VNET_NEEDS_CSUM) {
        if (!completeCsum(f, len, <u32>load<u16>(t, T_CSUM_START), <u32>load<u16>(t, T_CSUM_OFFSET))) {
          dropEntry(t, Ctr.OffloadBadCsum);
          continue;
        }
        count(Ctr.OffloadCsum);
      }
      clearMeta(t);
      continue;
    }
    if (g != <u32>GSO_TCPV4 && g != <u32>GSO_TCPV6 && g != <u32>GSO_UDP_L4) {
      dropEntry(t, Ctr.OffloadGsoUnsupported);
      continue;
    }
    const mss = <u32>load<u16>(t, T_GSO_SIZE);
    if (mss == 0 || !parseHeaders(f, len, g) || hEnd + mss > slotSize - HEADROOM) {
      dropEntry(t, Ctr.OffloadBadGso);
      continue;
    }
    const payload = len - hEnd;
    if (payload <= mss) {
      // Already one frame: only its checksums are left to do. (Fuzz fix: the TCP
      // sequence and flags are read for TCP only; for an 8-byte UDP header,
      // reading byte 13 went past a frame that ends with it: a trap in the last slot.)
      const seq0 = hTcp ? bswap<u32>(load<u32>(f + hL4, 4)) : 0;
      const flags0 = hTcp ? load<u8>(f + hL4, 13) : <u8>0;
      fixSegment(f, 0, 1, payload, mss, hV6 ? <u16>0 : bswap<u16>(load<u16>(f + hL3, 4)), seq0, flags0);
      count(Ctr.OffloadCsum);
      clearMeta(t);
      continue;
    }
    const k = (payload + mss - 1) / mss;
    if (n + extra + k - 1 > <u32>MAX_TX) {
      dropEntry(t, Ctr.OffloadTxFull);
      continue;
    }
    if (k - 1 > free) {
      dropEntry(t, Ctr.OffloadNoSlot);
      continue;
    }
    free -= k - 1;
    extra += k - 1;
    store<u16>(segCount + (<usize>i << 1), <u16>k);
  }
  if (extra == 0) return n;
  // Pass 2, from the end: move each entry to its final place, expanding
  // super-frames into their segments. Positions only grow (dst >= i), so an
  // entry is always read before anything is written over it.
  let dst = n + extra;
  for (let i = n; i-- > 0; ) {
    const k = <u32>load<u16>(segCount + (<usize>i << 1));
    dst -= k;
    const t = txEntry(i);
    if (k == 1) {
      if (dst != i) memory.copy(txEntry(dst), t, TX_SIZE);
    } else {
      segment(t, dst, k);
    }
  }
  return n + extra;
}

/** Cuts the super-frame of entry t into k segments, written as entries [dst, dst + k). */
function segment(t: usize, dst: u32, k: u32): void {
  const slot = load<u32>(t, T_SLOT);
  const off = load<u32>(t, T_OFF);
  const len = load<u32>(t, T_LEN);
  const mss = <u32>load<u16>(t, T_GSO_SIZE);
  const port = load<u16>(t, T_PORT);
  const src = load<u16>(t, T_SRC);
  const f = slotPtr(slot) + off;
  parseHeaders(f, len, <u32>load<u8>(t, T_GSO_TYPE) & 0x7f); // checked in pass 1
  const hdr = hEnd;
  const payload = len - hdr;
  const id0 = hV6 ? <u16>0 : bswap<u16>(load<u16>(f + hL3, 4));
  const seq0 = hTcp ? bswap<u32>(load<u32>(f + hL4, 4)) : 0;
  const flags0 = hTcp ? load<u8>(f + hL4, 13) : <u8>0;
  // Segments 1.. get copies of the (still original) headers and their payload.
  for (let j: u32 = k - 1; j >= 1; j--) {
    const chunk = j + 1 < k ? mss : payload - j * mss;
    const s = <u32>slotAlloc(); // reserved in pass 1
    const p = slotPtr(s) + HEADROOM;
    copySegment(p, f, hdr, j, k, chunk, mss, id0, seq0, flags0);
    const e = txEntry(dst + j);
    store<u32>(e, s, T_SLOT);
    store<u32>(e, HEADROOM, T_OFF);
    store<u32>(e, hdr + chunk, T_LEN);
    store<u16>(e, port, T_PORT);
    store<u16>(e, src, T_SRC);
    clearMeta(e);
  }
  // Segment 0 is the start of the super-frame itself.
  fixSegment(f, 0, k, mss, mss, id0, seq0, flags0);
  const e = txEntry(dst);
  store<u32>(e, slot, T_SLOT);
  store<u32>(e, off, T_OFF);
  store<u32>(e, hdr + mss, T_LEN);
  store<u16>(e, port, T_PORT);
  store<u16>(e, src, T_SRC);
  clearMeta(e);
  count(Ctr.OffloadGso);
  countN(Ctr.OffloadSegments, k);
}

// ---- before an encapsulation ----------------------------------------------------------------

/**
 * Calls fn(y, out) for every frame descriptor x's frame becomes once its
 * offloads are finished: x itself when it carries none; x with its partial
 * checksum completed; or, for a super-frame, its segments in order (each but
 * the last a copy in a fresh slot, described by the segment scratch
 * descriptor; the last is x, cut down in place). For tunnels: VXLAN must
 * encapsulate finished frames, as the kernel segments before it encapsulates.
 */
export function offloadEach(x: usize, out: u32, fn: (x: usize, out: u32) => void): void {
  const vflags = load<u8>(x, D_VNET_FLAGS);
  const g = <u32>load<u8>(x, D_GSO_TYPE) & 0x7f;
  if (vflags == 0 && g == 0) return fn(x, out);
  const len = load<u32>(x, D_LEN);
  const f = slotPtr(load<u32>(x, D_SLOT)) + load<u32>(x, D_OFF);
  if (g == 0) {
    if ((vflags & VNET_NEEDS_CSUM) != 0) {
      if (!completeCsum(f, len, <u32>load<u16>(x, D_CSUM_START), <u32>load<u16>(x, D_CSUM_OFFSET))) {
        return offloadDrop(x, Ctr.OffloadBadCsum);
      }
      count(Ctr.OffloadCsum);
    }
    clearDescMeta(x);
    return fn(x, out);
  }
  if (g != <u32>GSO_TCPV4 && g != <u32>GSO_TCPV6 && g != <u32>GSO_UDP_L4) {
    return offloadDrop(x, Ctr.OffloadGsoUnsupported);
  }
  const mss = <u32>load<u16>(x, D_GSO_SIZE);
  if (mss == 0 || !parseHeaders(f, len, g) || hEnd + mss > slotSize - HEADROOM) {
    return offloadDrop(x, Ctr.OffloadBadGso);
  }
  const hdr = hEnd;
  const payload = len - hdr;
  const id0 = hV6 ? <u16>0 : bswap<u16>(load<u16>(f + hL3, 4));
  const seq0 = hTcp ? bswap<u32>(load<u32>(f + hL4, 4)) : 0;
  const flags0 = hTcp ? load<u8>(f + hL4, 13) : <u8>0;
  const k: u32 = payload <= mss ? 1 : (payload + mss - 1) / mss;
  count(Ctr.OffloadGso);
  // Segments 0 .. k-2: copies of the original headers with their payload.
  const y = segScratch();
  for (let j: u32 = 0; j + 1 < k; j++) {
    const s = slotAlloc();
    if (s < 0) {
      return offloadDrop(x, Ctr.OffloadNoSlot);
    }
    const p = slotPtr(<u32>s) + HEADROOM;
    copySegment(p, f, hdr, j, k, mss, mss, id0, seq0, flags0);
    for (let o: usize = 0; o < <usize>DESC_SIZE; o += 16) v128.store(y + o, v128.load(x + o));
    store<u32>(y, <u32>s, D_SLOT);
    store<u32>(y, HEADROOM, D_OFF);
    store<u32>(y, hdr + mss, D_LEN);
    clearDescMeta(y);
    countN(Ctr.OffloadSegments, 1);
    fn(y, out);
  }
  // The last segment is x: its payload moves up behind the headers.
  const chunk = payload - (k - 1) * mss;
  if (k > 1) memory.copy(f + hdr, f + hdr + (k - 1) * mss, chunk);
  fixSegment(f, k - 1, k, chunk, mss, id0, seq0, flags0);
  store<u32>(x, hdr + chunk, D_LEN);
  clearDescMeta(x);
  countN(Ctr.OffloadSegments, 1);
  fn(x, out);
}

/**
 * A frame offloadEach cannot finish: its drop reason is set (fuzz fix: only
 * counting it left the input frame with neither an entry nor a reason, a
 * LOCAL verdict nobody accounted for), counted, and a copy's slot released.
 */
function offloadDrop(x: usize, reason: i32): void {
  store<u16>(x, <u16>reason, D_DROP);
  count(reason);
  releaseDesc(x);
}

/** The second scratch descriptor (after the input vector and cloneDesc's): segments. */
// @ts-ignore: decorator
@inline function segScratch(): usize {
  return desc(<u32>MAX_VECTOR + 1);
}

// @ts-ignore: decorator
@inline function clearDescMeta(d: usize): void {
  // D_VNET_FLAGS..D_HDR_LEN: 10 contiguous bytes.
  store<u64>(d + D_VNET_FLAGS, 0);
  store<u16>(d + D_VNET_FLAGS, 0, 8);
}
