// The IPVS connection table: client (address, port, protocol) -> real server,
// with the TCP state of ip_vs_proto_tcp.c and timeouts in packet time.
//
// Entries (64 bytes, CONN_SIZE) are chained from a power-of-two array of u32
// buckets keyed by the client's (af, protocol, address, port), as the kernel
// hashes ip_vs_conn: the same chain serves client-to-VIP lookups (in) and
// real-server replies (out, whose destination is the client). Capacity is
// fixed at creation; a full table refuses new connections (the caller counts
// the drop) and never evicts a live one. Expired entries are reclaimed lazily
// on the chains a lookup walks, and by a sweeper that visits a few buckets per
// new connection (and on request between vectors).
//
// Persistence templates (ipvsadm -p) live in the same table with
// ConnFlag.TEMPLATE, keyed by (client network, port 0).
import {
  IH_CONN_CAP, IH_CONN_BUCKETS, IH_CONN_BUCKET_PTR, IH_CONN_ENTRIES, IH_CONN_BUMP, IH_CONN_FREE,
  IH_CONN_LIVE, IH_SWEEP, IH_CONN_SEED, IH_SYSCTL, IH_CONN_TEMPLATES, IH_TIMEOUTS, IH_DEST_TAB, IH_SVC_TAB,
  IH_MAX_DEST, IH_SWEEP_STEP, IH_TCP_TABLE, CONN_SIZE, C_NEXT, C_EXPIRES, C_PROTO, C_STATE, C_FLAGS, C_AF, C_CPORT, C_DEST,
  C_DEST_GEN, C_SVC, C_CTL, C_CADDR, ConnFlag, IpvsSysctl, DEST_SIZE, R_USED, R_GEN, R_FLAGS, R_ACTIVE, R_INACT,
  R_PERSIST, R_UTHRESH, R_LTHRESH, DestFlag, SVC_SIZE, S_TIMEOUT, TcpState, TO_UDP, TO_ICMP,
} from './ipvs-layout';
import { Ctr } from './counters';
import { count } from './state';

/** The IPVS region header (0 until ipvsSetup). */
export let ipvsHdr: usize = 0;
let buckets: usize = 0;
let entries: usize = 0;
let bucketMask: u32 = 0;
let capacity: u32 = 0;
let seed: u32 = 0;
let destTab: usize = 0;
let svcTab: usize = 0;
let maxDest: u32 = 0;

/** Reads the table's geometry from the region header (ipvsSetup calls it). */
export function connSetup(h: usize): void {
  ipvsHdr = h;
  capacity = load<u32>(h, IH_CONN_CAP);
  bucketMask = load<u32>(h, IH_CONN_BUCKETS) - 1;
  buckets = <usize>load<u32>(h, IH_CONN_BUCKET_PTR);
  entries = <usize>load<u32>(h, IH_CONN_ENTRIES);
  seed = load<u32>(h, IH_CONN_SEED);
  destTab = <usize>load<u32>(h, IH_DEST_TAB);
  svcTab = <usize>load<u32>(h, IH_SVC_TAB);
  maxDest = load<u32>(h, IH_MAX_DEST);
  conntrackTimeouts();
}

// @ts-ignore: decorator
@inline export function connEntry(idx: u32): usize {
  return entries + (<usize>idx << 6);
}

// @ts-ignore: decorator
@inline function connIndex(e: usize): u32 {
  return <u32>((e - entries) >> 6);
}

// @ts-ignore: decorator
@inline export function destEntry(i: u32): usize {
  return destTab + <usize>i * DEST_SIZE;
}

// @ts-ignore: decorator
@inline export function svcEntry(i: u32): usize {
  return svcTab + <usize>i * SVC_SIZE;
}

// @ts-ignore: decorator
@inline export function sysctl(bit: u32): bool {
  return (load<u32>(ipvsHdr, IH_SYSCTL) & bit) != 0;
}

/** Timeout (seconds) of a timeout-table index. */
// @ts-ignore: decorator
@inline export function timeoutOf(i: u32): u32 {
  return load<u32>(ipvsHdr + IH_TIMEOUTS + (<usize>i << 2));
}

// ---- hashing ------------------------------------------------------------------

/** Bucket of an IPv4 client (address as load<u32> reads it, port as load<u16> reads it). */
// @ts-ignore: decorator
@inline export function connHash4(proto: u32, caddr: u32, cport: u32): u32 {
  let h = (caddr ^ seed) * 0x9e3779b1;
  h ^= cport | (proto << 16) | (4 << 24);
  h *= 0x85ebca6b;
  h ^= h >> 15;
  return h & bucketMask;
}

/** Bucket of an IPv6 client (16 bytes at a). */
// @ts-ignore: decorator
@inline export function connHash6(proto: u32, a: usize, cport: u32): u32 {
  let h = (load<u32>(a) ^ seed) * 0x9e3779b1;
  h = (h ^ load<u32>(a, 4)) * 0x85ebca6b;
  h = (h ^ load<u32>(a, 8)) * 0x9e3779b1;
  h = (h ^ load<u32>(a, 12)) * 0x85ebca6b;
  h ^= cport | (proto << 16) | (6 << 24);
  h *= 0xc2b2ae35;
  h ^= h >> 15;
  return h & bucketMask;
}

/** Address of bucket b's head link. */
// @ts-ignore: decorator
@inline export function bucketLink(b: u32): usize {
  return buckets + (<usize>b << 2);
}

// ---- real server accounting (ip_vs_bind_dest / ip_vs_unbind_dest) ---------------

/** Whether connection e's real server is still the one it was bound to. */
// @ts-ignore: decorator
@inline export function destAlive(e: usize): bool {
  const r = destEntry(<u32>load<u16>(e, C_DEST));
  return load<u8>(r, R_USED) != 0 && load<u16>(r, R_GEN) == load<u16>(e, C_DEST_GEN);
}

// @ts-ignore: decorator
@inline function totalConns(r: usize): u32 {
  return load<u32>(r, R_ACTIVE) + load<u32>(r, R_INACT);
}

/** Counts a new connection (or template) on real server r. */
// @ts-ignore: decorator
@inline export function destBind(r: usize, flags: u32): void {
  if (flags & ConnFlag.TEMPLATE) {
    store<u32>(r, load<u32>(r, R_PERSIST) + 1, R_PERSIST);
  } else if (flags & ConnFlag.INACTIVE) {
    store<u32>(r, load<u32>(r, R_INACT) + 1, R_INACT);
  } else {
    store<u32>(r, load<u32>(r, R_ACTIVE) + 1, R_ACTIVE);
  }
  const u = load<u32>(r, R_UTHRESH);
  if (u != 0 && totalConns(r) >= u) store<u8>(r, load<u8>(r, R_FLAGS) | DestFlag.OVERLOAD, R_FLAGS);
}

function destUnbind(e: usize): void {
  if (!destAlive(e)) return; // the server was removed: its counters went with it
  const r = destEntry(<u32>load<u16>(e, C_DEST));
  const flags = <u32>load<u8>(e, C_FLAGS);
  if (flags & ConnFlag.TEMPLATE) {
    store<u32>(r, load<u32>(r, R_PERSIST) - 1, R_PERSIST);
  } else if (flags & ConnFlag.INACTIVE) {
    store<u32>(r, load<u32>(r, R_INACT) - 1, R_INACT);
  } else {
    store<u32>(r, load<u32>(r, R_ACTIVE) - 1, R_ACTIVE);
  }
  const l = load<u32>(r, R_LTHRESH);
  const u = load<u32>(r, R_UTHRESH);
  const f = load<u8>(r, R_FLAGS);
  if (f & DestFlag.OVERLOAD) {
    let clear = true;
    if (l != 0) clear = totalConns(r) < l;
    else if (u != 0) clear = totalConns(r) * 4 < u * 3;
    if (clear) store<u8>(r, f & ~(<u8>DestFlag.OVERLOAD), R_FLAGS);
  }
}

// ---- allocation ------------------------------------------------------------------

/**
 * Takes a free entry (the free list first, then never-used ones). Returns 0
 * when the table is full.
 */
// @ts-ignore: decorator
@inline export function connAlloc(): usize {
  const h = ipvsHdr;
  const free = load<u32>(h, IH_CONN_FREE);
  let e: usize;
  if (free != 0) {
    e = connEntry(free - 1);
    store<u32>(h, load<u32>(e, C_NEXT), IH_CONN_FREE);
  } else {
    const bump = load<u32>(h, IH_CONN_BUMP);
    if (bump >= capacity) return 0;
    store<u32>(h, bump + 1, IH_CONN_BUMP);
    e = connEntry(bump);
  }
  store<u32>(h, load<u32>(h, IH_CONN_LIVE) + 1, IH_CONN_LIVE);
  return e;
}

/** Links a filled entry at the head of bucket b. */
// @ts-ignore: decorator
@inline export function connLink(e: usize, b: u32): void {
  const link = bucketLink(b);
  store<u32>(e, load<u32>(link), C_NEXT);
  store<u32>(link, connIndex(e) + 1);
}

/**
 * Unlinks entry e (found through `link`, the address of the u32 that points
 * to it) and gives it back, undoing its accounting.
 */
export function connRelease(link: usize, e: usize): void {
  store<u32>(link, load<u32>(e, C_NEXT));
  const flags = <u32>load<u8>(e, C_FLAGS);
  destUnbind(e);
  const h = ipvsHdr;
  if (flags & ConnFlag.TEMPLATE) {
    store<u32>(h, load<u32>(h, IH_CONN_TEMPLATES) - 1, IH_CONN_TEMPLATES);
  } else {
    const ctl = load<u32>(e, C_CTL);
    if (ctl != 0) {
      const t = connEntry(ctl - 1);
      store<u32>(t, load<u32>(t, C_CTL) - 1, C_CTL);
    }
  }
  store<u32>(e, load<u32>(h, IH_CONN_FREE), C_NEXT);
  store<u32>(h, connIndex(e) + 1, IH_CONN_FREE);
  store<u32>(h, load<u32>(h, IH_CONN_LIVE) - 1, IH_CONN_LIVE);
  store<u8>(e, 0, C_AF);
}

/**
 * Whether entry e is to be reclaimed at `now`: its time is up, or (with
 * expire_nodest_conn) its real server was removed. The common case, a live
 * entry of a live server, is decided inline.
 */
// @ts-ignore: decorator
@inline export function connDue(e: usize, now: u32): bool {
  if (<i32>(now - load<u32>(e, C_EXPIRES)) < 0 && destAlive(e)) return false;
  return connDueSlow(e, now);
}

/**
 * The rest of connDue. A template that still controls connections is
 * re-armed for another persistence timeout instead of going (as the kernel
 * re-arms its timer); as connections are reclaimed lazily here, a template
 * may outlive its last connection by up to one timeout more than in the kernel.
 */
function connDueSlow(e: usize, now: u32): bool {
  const flags = <u32>load<u8>(e, C_FLAGS);
  const late = <i32>(now - load<u32>(e, C_EXPIRES)) >= 0;
  if (flags & ConnFlag.TEMPLATE) {
    if (!late) return false;
    if (load<u32>(e, C_CTL) != 0) {
      let t = load<u32>(svcEntry(<u32>load<u16>(e, C_SVC)), S_TIMEOUT);
      if (t == 0) t = 1;
      store<u32>(e, now + t, C_EXPIRES);
      return false;
    }
    return true;
  }
  if (late) {
    count(Ctr.ConntrackExpired);
    return true;
  }
  if (sysctl(IpvsSysctl.EXPIRE_NODEST_CONN)) {
    count(Ctr.ConntrackExpiredNodest);
    return true;
  }
  return false;
}

/**
 * Visits n buckets from the sweeper's hand and reclaims what is due.
 * Returns the entries reclaimed.
 */
export function connSweep(now: u32, n: u32): u32 {
  const h = ipvsHdr;
  let b = load<u32>(h, IH_SWEEP);
  let freed: u32 = 0;
  if (n > bucketMask + 1) n = bucketMask + 1;
  for (let i: u32 = 0; i < n; i++) {
    let link = bucketLink(b);
    let idx = load<u32>(link);
    while (idx != 0) {
      const e = connEntry(idx - 1);
      if (connDue(e, now)) {
        connRelease(link, e);
        freed++;
      } else {
        link = e + C_NEXT;
      }
      idx = load<u32>(link);
    }
    b = (b + 1) & bucketMask;
  }
  store<u32>(h, b, IH_SWEEP);
  return freed;
}

/** Packet second of the last timed sweep. */
let lastSweep: u32 = 0;

/**
 * The timed sweeper: once per second of packet time, IH_SWEEP_STEP buckets
 * (by default 1/256 of the table, so a full pass takes about four minutes,
 * well within the 900 s TCP timeout). Entries that are touched are reclaimed
 * at once on their chain anyway.
 */
// @ts-ignore: decorator
@inline export function connTick(now: u32): void {
  if (now != lastSweep) {
    lastSweep = now;
    connSweep(now, load<u32>(ipvsHdr, IH_SWEEP_STEP));
  }
}

/** Packet second in which a full table was last swept without finding anything due. */
let fullSweepAt: u32 = 0;
let fullSweepFound: bool = true;

/**
 * An entry for a new connection. When the table is full, the sweeper goes
 * on (up to 64 Ki buckets) looking for expired entries before giving up. 0 = full.
 *
 * Fuzz fix (connection flood): a sweep that found nothing due is not repeated
 * in the same packet second (nothing more can be due before the clock moves,
 * but a server removal with expire_nodest_conn, which the timed sweeper
 * reclaims). Before, every SYN of a flood against a full table swept the
 * whole table, a full-table walk per packet: ~20 us per SYN with 8 Ki
 * entries, the data plane slowed for all traffic.
 */
// @ts-ignore: decorator
@inline export function connNew(now: u32): usize {
  let e = connAlloc();
  if (e == 0 && (fullSweepFound || now != fullSweepAt)) {
    fullSweepFound = connSweep(now, 65536) != 0;
    fullSweepAt = now;
    if (fullSweepFound) e = connAlloc();
  }
  return e;
}

/** Drops every connection and template, and zeroes the servers' connection counters. */
export function connFlush(): void {
  const h = ipvsHdr;
  memory.fill(buckets, 0, <usize>(bucketMask + 1) << 2);
  store<u32>(h, 0, IH_CONN_BUMP);
  store<u32>(h, 0, IH_CONN_FREE);
  store<u32>(h, 0, IH_CONN_LIVE);
  store<u32>(h, 0, IH_CONN_TEMPLATES);
  store<u32>(h, 0, IH_SWEEP);
  for (let i: u32 = 0; i < maxDest; i++) {
    const r = destEntry(i);
    store<u32>(r, 0, R_ACTIVE);
    store<u32>(r, 0, R_INACT);
    store<u32>(r, 0, R_PERSIST);
    store<u8>(r, load<u8>(r, R_FLAGS) & ~(<u8>DestFlag.OVERLOAD), R_FLAGS);
  }
}

// ---- TCP state (ip_vs_proto_tcp.c) --------------------------------------------------

// next state = TCP_STATES[direction * 55 + event * 11 + state];
// direction 0 INPUT, 1 OUTPUT, 2 INPUT-ONLY; event 0 syn, 1 fin, 2 ack, 3 rst,
// 4 none of them (the kernel then goes to CLOSE);
// states NO ES SS SR FW TW CL CW LA LI SA (TcpState order).
const TCP_STATES = memory.data<u8>([
  // INPUT
  3, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3,
  6, 7, 2, 5, 5, 5, 6, 7, 8, 9, 5,
  1, 1, 2, 1, 4, 5, 6, 7, 6, 9, 1,
  6, 6, 6, 3, 6, 6, 6, 6, 8, 9, 3,
  6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
  // OUTPUT
  2, 1, 2, 3, 2, 2, 2, 2, 2, 9, 3,
  5, 4, 2, 5, 4, 5, 6, 5, 8, 9, 5,
  1, 1, 2, 1, 4, 5, 6, 7, 8, 1, 1,
  6, 6, 2, 6, 6, 5, 6, 6, 6, 6, 6,
  6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
  // INPUT-ONLY
  3, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3,
  6, 4, 2, 5, 4, 5, 6, 7, 8, 9, 5,
  1, 1, 2, 1, 4, 5, 6, 7, 6, 9, 1,
  6, 6, 6, 3, 6, 6, 6, 6, 8, 9, 6,
  6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
]);

// tcp_state_idx: the event of a segment, by (flags & 7) | (ACK ? 8 : 0)
// (fin 1, syn 2, rst 4): rst before syn before fin before ack.
const TCP_EVENT = memory.data<u8>([4, 1, 0, 0, 3, 3, 3, 3, 2, 1, 0, 0, 3, 3, 3, 3]);

export const DIR_INPUT: u32 = 0;
export const DIR_OUTPUT: u32 = 1;

/** Rebuilds IH_TCP_TABLE from TCP_STATES and the timeouts (after the host changes them). */
export function conntrackTimeouts(): void {
  if (ipvsHdr == 0) return;
  for (let i: u32 = 0; i < 165; i++) {
    const next = <u32>load<u8>(TCP_STATES + i);
    store<u32>(ipvsHdr + IH_TCP_TABLE + (<usize>i << 2), (timeoutOf(next) << 8) | next);
  }
}

/**
 * set_tcp_state: moves connection e on a TCP segment with flags `tcpFlags`
 * (byte 13 of the header) seen in direction dir, keeping the real server's
 * active/inactive counters right, and re-arms its timeout from now. One load
 * of the joined table gives the next state and its timeout.
 */
// @ts-ignore: decorator
@inline export function tcpTransition(e: usize, dir: u32, tcpFlags: u32, now: u32): void {
  let off: u32 = dir;
  const flags = <u32>load<u8>(e, C_FLAGS);
  if (flags & ConnFlag.NOOUTPUT) {
    if (dir == DIR_OUTPUT) store<u8>(e, <u8>(flags & ~ConnFlag.NOOUTPUT), C_FLAGS);
    else off = 2;
  }
  const state = <u32>load<u8>(e, C_STATE);
  const ev = <u32>load<u8>(TCP_EVENT + <usize>((tcpFlags & 7) | ((tcpFlags >> 1) & 8)));
  const v = load<u32>(ipvsHdr + IH_TCP_TABLE + (<usize>((off * 5 + ev) * 11 + state) << 2));
  const next = v & 0xff;
  if (next != state) tcpStateChange(e, next);
  store<u32>(e, now + (v >> 8), C_EXPIRES);
}

/**
 * tcpTransition (direction INPUT) for the first segment of a connection just
 * created: its state is NONE and its flags `flags`, and it is bound to real
 * server r (alive unless r is unused), so these are not read back from the entry.
 */
// @ts-ignore: decorator
@inline export function tcpFirstTransition(e: usize, r: usize, flags: u32, tcpFlags: u32, now: u32): void {
  const off: u32 = (flags & ConnFlag.NOOUTPUT) != 0 ? 2 : DIR_INPUT;
  const ev = <u32>load<u8>(TCP_EVENT + <usize>((tcpFlags & 7) | ((tcpFlags >> 1) & 8)));
  const v = load<u32>(ipvsHdr + IH_TCP_TABLE + (<usize>((off * 5 + ev) * 11 + TcpState.NONE) << 2));
  const next = v & 0xff;
  if (next != TcpState.NONE) {
    // tcpStateChange
    if (load<u8>(r, R_USED) != 0) store<u8>(e, <u8>activeFollows(r, flags, next), C_FLAGS);
    store<u8>(e, <u8>next, C_STATE);
  }
  store<u32>(e, now + (v >> 8), C_EXPIRES);
}

/** A state change: the server's active/inactive counters follow ESTABLISHED. */
// @ts-ignore: decorator
@inline function tcpStateChange(e: usize, next: u32): void {
  if (destAlive(e)) {
    const r = destEntry(<u32>load<u16>(e, C_DEST));
    store<u8>(e, <u8>activeFollows(r, <u32>load<u8>(e, C_FLAGS), next), C_FLAGS);
  }
  store<u8>(e, <u8>next, C_STATE);
}

/**
 * Real server r's active/inactive counters as a connection with `flags` moves
 * to state `next` (active while ESTABLISHED, as the kernel's
 * ip_vs_set_state); returns the connection's flags with INACTIVE updated.
 */
// @ts-ignore: decorator
@inline function activeFollows(r: usize, flags: u32, next: u32): u32 {
  if (!(flags & ConnFlag.INACTIVE) && next != TcpState.ESTABLISHED) {
    store<u32>(r, load<u32>(r, R_ACTIVE) - 1, R_ACTIVE);
    store<u32>(r, load<u32>(r, R_INACT) + 1, R_INACT);
    flags |= ConnFlag.INACTIVE;
  } else if ((flags & ConnFlag.INACTIVE) && next == TcpState.ESTABLISHED) {
    store<u32>(r, load<u32>(r, R_ACTIVE) + 1, R_ACTIVE);
    store<u32>(r, load<u32>(r, R_INACT) - 1, R_INACT);
    flags &= ~ConnFlag.INACTIVE;
  }
  return flags;
}

/** Re-arms a UDP (or other single-state protocol) connection. */
// @ts-ignore: decorator
@inline export function otherTransition(e: usize, proto: u32, now: u32): void {
  store<u32>(e, now + timeoutOf(proto == 17 ? TO_UDP : TO_ICMP), C_EXPIRES);
}

// ---- host exports (between vectors) ---------------------------------------------------

/** Runs the sweeper over n buckets at packet time now; returns the entries reclaimed. */
export function conntrackSweep(now: u32, n: u32): u32 {
  if (ipvsHdr == 0) return 0;
  return connSweep(now, n);
}

/** Empties the connection table. */
export function conntrackFlush(): void {
  if (ipvsHdr != 0) connFlush();
}

/** Entry index i as an address (for the host's table dump). */
export function conntrackEntry(i: u32): usize {
  return connEntry(i);
}

/** Whether entry e is a live connection (not free). Host dump helper. */
export function conntrackLive(e: usize): bool {
  return load<u8>(e, C_AF) != 0;
}
