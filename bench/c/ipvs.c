/*
 * C baseline of netwasm's IPVS packet path (assembly/ipvs.ts + conntrack.ts),
 * the same algorithm on the same memory layout, IPv4/TCP NAT:
 *   parse Ethernet/IPv4/TCP; is the destination a VIP (address hash);
 *   connection lookup (bucket chain, due entries reclaimed); for a new flow:
 *   service hash, mh scheduling (SipHash-1-3, table lookup, availability),
 *   allocate + link a connection (a timed sweeper visits 1/256 of the buckets per second); TCP state transition with
 *   the server's counters; statistics; NAT (destination address, port, MAC,
 *   RFC 1624 checksum updates).
 *
 *   ipvs new <flows> <repeats> [maglev]   every packet a new connection (SYN); the last repeat is reported
 *   ipvs est <flows> <packets> [maglev]   established flows, ACK segments
 *   ipvs newv <flows> <repeats> mh|maglev [vlen]   new flows by vectors of vlen (default 64, at most 256): fill, touch (buckets, then entries), process
 *   ipvs estv <flows> <packets> mh|maglev [vlen]   established flows by vectors of vlen: copy in, touch (buckets, then entries), process
 * with `maglev` the service schedules as Katran's Maglev (jhash_2words of the
 * source address and ports, a 65537-slot ring) instead of mh.
 * prints {"mpps": X, "fwd": N}
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common.h"

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

static inline u16 ld16(const u8 *p) { u16 v; memcpy(&v, p, 2); return v; }
static inline u32 ld32(const u8 *p) { u32 v; memcpy(&v, p, 4); return v; }
static inline u64 ld64(const u8 *p) { u64 v; memcpy(&v, p, 8); return v; }
static inline void st16(u8 *p, u16 v) { memcpy(p, &v, 2); }
static inline void st32(u8 *p, u32 v) { memcpy(p, &v, 4); }
static inline void st64(u8 *p, u64 v) { memcpy(p, &v, 8); }
static inline u32 rotl32(u32 x, int r) { return (x << r) | (x >> (32 - r)); }

/* layout (assembly/ipvs-layout.ts) */
enum { SVC_SIZE = 128, S_USED = 0, S_AF = 1, S_PROTO = 2, S_SCHED = 3, S_FWMARK = 4, S_PORT = 8, S_FLAGS = 10,
       S_BRIDGE = 20, S_TABLE_SIZE = 32, S_ADDR = 64, S_CONNS = 80, S_INPKTS = 88, S_INBYTES = 104 };
enum { DEST_SIZE = 128, R_USED = 0, R_FWD = 2, R_FLAGS = 3, R_GEN = 4, R_PORT = 6, R_WEIGHT = 8, R_ACTIVE = 12,
       R_INACT = 16, R_UTHRESH = 24, R_ADDR = 32, R_MAC = 48, R_CONNS = 64, R_INPKTS = 72, R_INBYTES = 88 };
enum { ADDR_SIZE = 32, A_BRIDGE = 0, A_AF = 2, A_KIND = 3, A_COUNT = 4, A_ADDR = 8 };
enum { CONN_SIZE = 64, C_NEXT = 0, C_EXPIRES = 4, C_PROTO = 8, C_STATE = 9, C_FLAGS = 10, C_AF = 11, C_CPORT = 12,
       C_VPORT = 14, C_DEST = 16, C_DEST_GEN = 18, C_DPORT = 20, C_SVC = 22, C_CTL = 24, C_BRIDGE = 28, C_CADDR = 32,
       C_VADDR = 48 };
enum { F_TEMPLATE = 1, F_NOOUTPUT = 2, F_INACTIVE = 4 };

static const u8 TCP_STATES[165] = {
  3, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3,  6, 7, 2, 5, 5, 5, 6, 7, 8, 9, 5,  1, 1, 2, 1, 4, 5, 6, 7, 6, 9, 1,  6, 6, 6, 3, 6, 6, 6, 6, 8, 9, 3,  6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
  2, 1, 2, 3, 2, 2, 2, 2, 2, 9, 3,  5, 4, 2, 5, 4, 5, 6, 5, 8, 9, 5,  1, 1, 2, 1, 4, 5, 6, 7, 8, 1, 1,  6, 6, 2, 6, 6, 5, 6, 6, 6, 6, 6,  6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
  3, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3,  6, 4, 2, 5, 4, 5, 6, 7, 8, 9, 5,  1, 1, 2, 1, 4, 5, 6, 7, 6, 9, 1,  6, 6, 6, 3, 6, 6, 6, 6, 8, 9, 6,  6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
};
static const u8 TCP_EVENT[16] = { 4, 1, 0, 0, 3, 3, 3, 3, 2, 1, 0, 0, 3, 3, 3, 3 };
static u32 TIMEOUTS[13] = { 2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120, 300, 60 };
static u32 TCP_TABLE[165]; /* timeout(next) << 8 | next */

/* tables */
static u8 *svcTab, *destTab, *addrHash, *entries;
static u16 *svcHash;
static u32 *buckets;
static int32_t *mhTab;
static u32 svcMask, addrMask, bucketMask, capacity, seed = 0x12345678u;
static u32 bump, freeHead, live, sweepHand;
static u64 cnt_in, cnt_new, cnt_expired;

static inline u32 keyHash(u32 x, u32 a0, u32 a1, u32 a2, u32 a3) {
  u32 h = (a0 ^ rotl32(a1, 8) ^ rotl32(a2, 16) ^ rotl32(a3, 24) ^ x) * 0x9e3779b1u;
  h ^= h >> 15;
  h *= 0x85ebca6bu;
  return h ^ (h >> 13);
}
static inline u32 svcKey(u32 bridge, u32 af, u32 proto) { return bridge | (af << 16) | (proto << 24); }

static u8 *addrFind4(u32 bridge, u32 kind, u32 a0) {
  u32 key = svcKey(bridge, 4, kind);
  u32 i = keyHash(key, a0, 0, 0, 0) & addrMask;
  for (u32 n = 0; n <= addrMask; n++) {
    u8 *r = addrHash + (size_t)i * ADDR_SIZE;
    u32 k = ld32(r);
    if (k == 0) return 0;
    if (((k ^ key) | (ld32(r + A_ADDR) ^ a0)) == 0) return r;
    i = (i + 1) & addrMask;
  }
  return 0;
}

static int svcHashFind(u32 bridge, u32 af, u32 proto, u32 port, u32 a0) {
  u32 i = keyHash(svcKey(bridge, af, proto) ^ (port << 8), a0, 0, 0, 0) & svcMask;
  for (u32 n = 0; n <= svcMask; n++) {
    u32 v = svcHash[i];
    if (v == 0) return -1;
    u8 *s = svcTab + (size_t)(v - 1) * SVC_SIZE;
    if (s[S_USED] && ld16(s + S_BRIDGE) == bridge && s[S_AF] == af && s[S_PROTO] == proto && ld16(s + S_PORT) == port &&
        ld32(s + S_ADDR) == a0 && ld32(s + S_ADDR + 4) == 0 && ld32(s + S_ADDR + 8) == 0 && ld32(s + S_ADDR + 12) == 0)
      return (int)(v - 1);
    i = (i + 1) & svcMask;
  }
  return -1;
}

static inline u8 *destEntry(u32 i) { return destTab + (size_t)i * DEST_SIZE; }
static inline u8 *connEntry(u32 i) { return entries + ((size_t)i << 6); }
static inline int destAlive(const u8 *e) {
  const u8 *r = destEntry(ld16(e + C_DEST));
  return r[R_USED] != 0 && ld16(r + R_GEN) == ld16(e + C_DEST_GEN);
}

static void destUnbind(u8 *e) {
  if (!destAlive(e)) return;
  u8 *r = destEntry(ld16(e + C_DEST));
  if (e[C_FLAGS] & F_INACTIVE) st32(r + R_INACT, ld32(r + R_INACT) - 1);
  else st32(r + R_ACTIVE, ld32(r + R_ACTIVE) - 1);
}

static void connRelease(u32 *link, u8 *e) {
  *link = ld32(e + C_NEXT);
  destUnbind(e);
  st32(e + C_NEXT, freeHead);
  freeHead = (u32)((e - entries) >> 6) + 1;
  live--;
  e[C_AF] = 0;
}

static inline int connDue(u8 *e, u32 now) {
  if ((int32_t)(now - ld32(e + C_EXPIRES)) >= 0) { cnt_expired++; return 1; }
  if (!destAlive(e)) return 1;
  return 0;
}

static u32 connSweep(u32 now, u32 n) {
  u32 b = sweepHand, freed = 0;
  for (u32 i = 0; i < n; i++) {
    u32 *link = &buckets[b];
    u32 idx = *link;
    while (idx) {
      u8 *e = connEntry(idx - 1);
      if (connDue(e, now)) { connRelease(link, e); freed++; }
      else link = (u32 *)(e + C_NEXT);
      idx = *link;
    }
    b = (b + 1) & bucketMask;
  }
  sweepHand = b;
  return freed;
}

static u8 *connAlloc(void) {
  u8 *e;
  if (freeHead) { e = connEntry(freeHead - 1); freeHead = ld32(e + C_NEXT); }
  else { if (bump >= capacity) return 0; e = connEntry(bump++); }
  live++;
  return e;
}

static u32 lastSweep, sweepStep;

static inline void connTick(u32 now) {
  if (now != lastSweep) { lastSweep = now; connSweep(now, sweepStep); }
}

static u8 *connNew(u32 now) {
  u8 *e = connAlloc();
  if (!e && connSweep(now, 65536)) e = connAlloc();
  return e;
}

static inline u32 connHash4(u32 proto, u32 caddr, u32 cport) {
  u32 h = (caddr ^ seed) * 0x9e3779b1u;
  h ^= cport | (proto << 16) | (4u << 24);
  h *= 0x85ebca6bu;
  h ^= h >> 15;
  return h & bucketMask;
}

static inline int connInMatch(const u8 *e, u32 bridge, u32 proto, u32 caddr, u32 cport, u32 vaddr, u32 vport) {
  u32 m = (ld32(e + C_PROTO) & 0xff0100ffu) ^ (proto | (4u << 24));
  m |= ld32(e + C_CPORT) ^ (cport | (vport << 16));
  m |= ld16(e + C_BRIDGE) ^ bridge;
  m |= (ld32(e + C_CADDR) ^ caddr) | (ld32(e + C_VADDR) ^ vaddr);
  return m == 0;
}

static u8 *connInWalk(u32 b, u32 bridge, u32 proto, u32 caddr, u32 cport, u32 vaddr, u32 vport, u32 now) {
  u32 *link = &buckets[b];
  u32 idx = *link;
  while (idx) {
    u8 *e = connEntry(idx - 1);
    if (connDue(e, now)) connRelease(link, e);
    else {
      if (connInMatch(e, bridge, proto, caddr, cport, vaddr, vport)) return e;
      link = (u32 *)(e + C_NEXT);
    }
    idx = *link;
  }
  return 0;
}

static inline u8 *connIn(u32 bridge, u32 proto, u32 caddr, u32 cport, u32 vaddr, u32 vport, u32 now) {
  u32 b = connHash4(proto, caddr, cport);
  u32 idx = buckets[b];
  if (idx) {
    u8 *e = connEntry(idx - 1);
    if (connInMatch(e, bridge, proto, caddr, cport, vaddr, vport) && (int32_t)(now - ld32(e + C_EXPIRES)) < 0 && destAlive(e)) return e;
  }
  return connInWalk(b, bridge, proto, caddr, cport, vaddr, vport, now);
}

static inline int available(const u8 *r) { return (int32_t)ld32(r + R_WEIGHT) > 0 && !(r[R_FLAGS] & 2); }

static int schedMh(u8 *s, u32 v) {
  u32 m = ld32(s + S_TABLE_SIZE);
  u32 hv = hsiphash32(v, 2654435761ULL);
  /* the kernel's default table size, a constant (as assembly/ipvs.ts schedMh) */
  int d = mhTab[m == 4093 ? hv % 4093 : hv % m];
  if (d < 0) return -1;
  return available(destEntry((u32)d)) ? d : -1;
}

/* Katran's get_packet_dst, as assembly/ipvs.ts schedMaglev (IPv4, no flags) */
#define MAGLEV_RING 65537
static int useMaglev;
static int32_t mgRing[MAGLEV_RING];

static inline u32 jfinal(u32 a, u32 b, u32 c) {
  c ^= b; c -= rotl32(b, 14);
  a ^= c; a -= rotl32(c, 11);
  b ^= a; b -= rotl32(a, 25);
  c ^= b; c -= rotl32(b, 16);
  a ^= c; a -= rotl32(c, 4);
  b ^= a; b -= rotl32(a, 14);
  c ^= b; c -= rotl32(b, 24);
  return c;
}

static inline u32 jhash2words(u32 a, u32 b, u32 initval) {
  u32 iv = initval + 0xdeadbeefu + (2 << 2);
  return jfinal(a + iv, b + iv, iv);
}

static int schedMaglev(u32 saddr, u32 ports) {
  int d = mgRing[jhash2words(saddr, ports, 512u * 65537u) % MAGLEV_RING];
  if (d < 0) return -1;
  return available(destEntry((u32)d)) ? d : -1;
}

static void tcpStateChange(u8 *e, u32 next) {
  u32 flags = e[C_FLAGS];
  if (destAlive(e)) {
    u8 *r = destEntry(ld16(e + C_DEST));
    if (!(flags & F_INACTIVE) && next != 1) {
      st32(r + R_ACTIVE, ld32(r + R_ACTIVE) - 1); st32(r + R_INACT, ld32(r + R_INACT) + 1); flags |= F_INACTIVE;
    } else if ((flags & F_INACTIVE) && next == 1) {
      st32(r + R_ACTIVE, ld32(r + R_ACTIVE) + 1); st32(r + R_INACT, ld32(r + R_INACT) - 1); flags &= ~F_INACTIVE;
    }
    e[C_FLAGS] = (u8)flags;
  }
  e[C_STATE] = (u8)next;
}

static inline void tcpTransition(u8 *e, u32 dir, u32 fl, u32 now) {
  u32 off = dir, flags = e[C_FLAGS];
  if (flags & F_NOOUTPUT) { if (dir == 1) e[C_FLAGS] = (u8)(flags & ~F_NOOUTPUT); else off = 2; }
  u32 state = e[C_STATE];
  u32 ev = TCP_EVENT[(fl & 7) | ((fl >> 1) & 8)];
  u32 v = TCP_TABLE[(off * 5 + ev) * 11 + state];
  u32 next = v & 0xff;
  if (next != state) tcpStateChange(e, next);
  st32(e + C_EXPIRES, now + (v >> 8));
}

static inline void storeMac(u8 *p, u64 mac) {
  u16 hi = (u16)(mac >> 32);
  u32 lo = (u32)mac;
  st16(p, (u16)((hi >> 8) | (hi << 8)));
  st32(p + 2, __builtin_bswap32(lo));
}

static inline u16 fold(u32 s) { s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16); return (u16)s; }
static inline u32 sumReplace32(u32 sum, u32 old, u32 nw) { return sum + (~old & 0xffff) + (~old >> 16) + (nw & 0xffff) + (nw >> 16); }

static void natRewrite4(u8 *ip, u8 *a, const u8 *naddr, u8 *pp, u32 nport, u32 proto, u8 *l4) {
  u32 off = proto == 6 ? 16 : proto == 17 ? 6 : 0;
  u32 old = ld32(a), nw = ld32(naddr);
  u32 hc = ld16(ip + 10);
  st16(ip + 10, (u16)~fold(sumReplace32(~hc & 0xffff, old, nw)));
  u32 sum = sumReplace32(0, old, nw);
  st32(a, nw);
  u32 oldPort = ld16(pp);
  if (nport != oldPort) { sum += (~oldPort & 0xffff) + nport; st16(pp, (u16)nport); }
  if (!off) return;
  u32 c = ld16(l4 + off);
  if (proto == 17 && c == 0) return;
  u32 nc = (u16)~fold(sum + (~c & 0xffff));
  if (proto == 17 && nc == 0) nc = 0xffff;
  st16(l4 + off, (u16)nc);
}

static int forwardIn(u8 *e, u8 *frame, u8 *ip, u8 *l4, u32 proto, u32 fl, u32 ipLen, u32 now) {
  tcpTransition(e, 0, fl, now);
  u8 *r = destEntry(ld16(e + C_DEST));
  u8 *s = svcTab + (size_t)ld16(e + C_SVC) * SVC_SIZE;
  st64(r + R_INPKTS, ld64(r + R_INPKTS) + 1);
  st64(r + R_INBYTES, ld64(r + R_INBYTES) + ipLen);
  st64(s + S_INPKTS, ld64(s + S_INPKTS) + 1);
  st64(s + S_INBYTES, ld64(s + S_INBYTES) + ipLen);
  storeMac(frame, ld64(r + R_MAC));
  if (r[R_FWD] == 0) natRewrite4(ip, ip + 16, r + R_ADDR, l4 + 2, ld16(e + C_DPORT), proto, l4);
  cnt_in++;
  return 1;
}

/* returns 0 pass, 1 forwarded, 3 drop */
static int process(u8 *frame, u32 len, u32 bridge, u32 now) {
  connTick(now);
  if (ld16(frame + 12) != 0x0008) return 0;
  if (len < 34) return 0;
  u8 *ip = frame + 14;
  /* the connection's bucket first, so that its miss overlaps the VIP test (as the WASM code) */
  volatile u32 early = buckets[connHash4(ip[9], ld32(ip + 12), ld16(ip + (ip[0] & 15) * 4))];
  (void)early;
  int isVip = addrFind4(bridge, 1, ld32(ip + 16)) != 0;
  u32 vihl = ip[0], ihl = (vihl & 15) << 2, totLen = __builtin_bswap16(ld16(ip + 2));
  if ((vihl >> 4) != 4 || ihl < 20 || totLen < ihl || 14 + totLen > len) return isVip ? 3 : 0;
  u32 proto = ip[9];
  u8 *l4 = ip + ihl;
  u32 l4len = totLen - ihl;
  if (proto != 6 && proto != 17) return isVip ? 3 : 0;
  if (__builtin_bswap16(ld16(ip + 6)) & 0x3fff) return isVip ? 3 : 0;
  if (l4len < (proto == 6 ? 20u : 8u)) return isVip ? 3 : 0;
  if (!isVip) return 0;
  u32 sport = ld16(l4), dport = ld16(l4 + 2), fl = proto == 6 ? l4[13] : 0;
  u32 saddr = ld32(ip + 12), daddr = ld32(ip + 16);
  u8 *e = connIn(bridge, proto, saddr, sport, daddr, dport, now);
  if (e && !destAlive(e)) return 3;
  if (e) return forwardIn(e, frame, ip, l4, proto, fl, totLen, now);
  int svc = svcHashFind(bridge, 4, proto, dport, daddr);
  if (svc < 0) svc = svcHashFind(bridge, 4, proto, 0, daddr);
  if (svc < 0) return 3;
  u8 *s = svcTab + (size_t)svc * SVC_SIZE;
  if (proto == 6 && ((fl & 4) || !(fl & 2))) return 3;
  int d = useMaglev ? schedMaglev(saddr, ld32(l4)) : schedMh(s, __builtin_bswap32(saddr));
  if (d < 0) return 3;
  e = connNew(now);
  if (!e) return 3;
  u8 *r = destEntry((u32)d);
  u32 rport = ld16(r + R_PORT);
  if (!rport) rport = dport;
  u32 flags = F_INACTIVE;
  if (r[R_FWD] != 0) flags |= F_NOOUTPUT;
  e[C_PROTO] = (u8)proto; e[C_STATE] = 0; e[C_FLAGS] = (u8)flags; e[C_AF] = 4;
  st16(e + C_CPORT, (u16)sport); st16(e + C_VPORT, (u16)dport); st16(e + C_DEST, (u16)d);
  st16(e + C_DEST_GEN, ld16(r + R_GEN)); st16(e + C_DPORT, (u16)rport); st16(e + C_SVC, (u16)svc);
  st16(e + C_BRIDGE, (u16)bridge); st32(e + C_CTL, 0);
  st32(e + C_CADDR, saddr); st32(e + C_CADDR + 4, 0); st64(e + C_CADDR + 8, 0);
  st32(e + C_VADDR, daddr); st32(e + C_VADDR + 4, 0); st64(e + C_VADDR + 8, 0);
  st32(e + C_EXPIRES, now);
  st32(r + R_INACT, ld32(r + R_INACT) + 1);
  u32 u = ld32(r + R_UTHRESH);
  if (u && ld32(r + R_ACTIVE) + ld32(r + R_INACT) >= u) r[R_FLAGS] |= 2;
  u32 b = connHash4(proto, saddr, sport);
  st32(e + C_NEXT, buckets[b]);
  buckets[b] = (u32)((e - entries) >> 6) + 1;
  st64(r + R_CONNS, ld64(r + R_CONNS) + 1);
  st64(s + S_CONNS, ld64(s + S_CONNS) + 1);
  cnt_new++;
  /* forwardIn, with what was just stored kept in locals rather than read back
     (as assembly/ipvs.ts newConnection + conntrack.ts tcpFirstTransition) */
  {
    u32 off = (flags & F_NOOUTPUT) ? 2 : 0;
    u32 v = TCP_TABLE[(off * 5 + TCP_EVENT[(fl & 7) | ((fl >> 1) & 8)]) * 11 + 0];
    u32 next = v & 0xff;
    if (next != 0) {
      if (r[R_USED]) {
        if (!(flags & F_INACTIVE) && next != 1) {
          st32(r + R_ACTIVE, ld32(r + R_ACTIVE) - 1); st32(r + R_INACT, ld32(r + R_INACT) + 1); flags |= F_INACTIVE;
        } else if ((flags & F_INACTIVE) && next == 1) {
          st32(r + R_ACTIVE, ld32(r + R_ACTIVE) + 1); st32(r + R_INACT, ld32(r + R_INACT) - 1); flags &= ~F_INACTIVE;
        }
        e[C_FLAGS] = (u8)flags;
      }
      e[C_STATE] = (u8)next;
    }
    st32(e + C_EXPIRES, now + (v >> 8));
  }
  st64(r + R_INPKTS, ld64(r + R_INPKTS) + 1);
  st64(r + R_INBYTES, ld64(r + R_INBYTES) + totLen);
  st64(s + S_INPKTS, ld64(s + S_INPKTS) + 1);
  st64(s + S_INBYTES, ld64(s + S_INBYTES) + totLen);
  storeMac(frame, ld64(r + R_MAC));
  if (r[R_FWD] == 0) natRewrite4(ip, ip + 16, r + R_ADDR, l4 + 2, rport, proto, l4);
  cnt_in++;
  return 1;
}

/* The touch pass over a vector (VPP style, as assembly/ipvs.ts): first the
 * bucket heads of all its frames (untagged IPv4 without options), then the
 * head entries of the non-empty buckets, so that the misses of the vector's
 * frames overlap before process() needs them. */
static u32 touched;
static u32 touchHeads[256];
static inline u32 touchBucket(const u8 *f, u32 len) {
  if (len < 54 || ld16(f + 12) != 0x0008 || f[14] != 0x45) return 0;
  const u8 *ip = f + 14;
  return buckets[connHash4(ip[9], ld32(ip + 12), ld16(ip + 20))];
}
static inline u32 touchEntry(u32 head) { return head ? ld32(connEntry(head - 1) + C_CADDR) : 0; }

/* ---- setup: one service 10.0.0.100:80 on bridge 1, 16 NAT servers, mh ---- */

static u8 tmpl[64];

static void build_frame(u8 *f, u32 saddr, u16 sport, u8 flags) {
  memset(f, 0, 64);
  const u8 dst[6] = {2, 0x42, 10, 0, 0, 0xfe}, src[6] = {2, 0x42, 10, 0, 0, 2};
  memcpy(f, dst, 6); memcpy(f + 6, src, 6);
  f[12] = 8; f[13] = 0;
  u8 *ip = f + 14;
  ip[0] = 0x45; ip[2] = 0; ip[3] = 40; ip[6] = 0x40; ip[8] = 64; ip[9] = 6;
  st32(ip + 12, __builtin_bswap32(saddr));
  ip[16] = 10; ip[17] = 0; ip[18] = 0; ip[19] = 100;
  u32 s = 0;
  for (int i = 0; i < 20; i += 2) s += (ip[i] << 8) | ip[i + 1];
  u16 c = (u16)~fold(s);
  ip[10] = c >> 8; ip[11] = c & 0xff;
  u8 *t = ip + 20;
  t[0] = sport >> 8; t[1] = sport & 0xff; t[2] = 0; t[3] = 80;
  t[12] = 0x50; t[13] = flags; t[14] = 0xff; t[15] = 0xff;
  s = 0;
  for (int i = 12; i < 20; i += 2) s += (ip[i] << 8) | ip[i + 1];
  s += 6 + 20;
  for (int i = 0; i < 20; i += 2) s += (t[i] << 8) | t[i + 1];
  c = (u16)~fold(s);
  t[16] = c >> 8; t[17] = c & 0xff;
}

static void *calloc64(size_t bytes) {
  size_t n = (bytes + 63) & ~(size_t)63;
  void *p = aligned_alloc(64, n);
  if (!p) { perror("aligned_alloc"); exit(1); }
  memset(p, 0, n);
  return p;
}

static void setup(u32 cap) {
  capacity = cap;
  u32 nb = 1;
  while (nb < cap) nb <<= 1;
  bucketMask = nb - 1;
  sweepStep = (nb >> 8) > 64 ? nb >> 8 : 64;
  for (int i = 0; i < 165; i++) TCP_TABLE[i] = (TIMEOUTS[TCP_STATES[i]] << 8) | TCP_STATES[i];
  /* every table 64-byte aligned, as netwasm's layout (src/dataplane/ipvs.ts):
     a connection entry is one cache line (calloc's 16-byte offset would split it) */
  buckets = calloc64((size_t)nb * 4);
  entries = calloc64((size_t)cap * CONN_SIZE);
  svcMask = 511; svcHash = calloc64(512 * 2); svcTab = calloc64(256 * SVC_SIZE);
  addrMask = 8191; addrHash = calloc64(8192 * ADDR_SIZE);
  destTab = calloc64(4096 * DEST_SIZE);
  mhTab = calloc64(4093 * 4);
  /* service 0 */
  u8 *s = svcTab;
  s[S_USED] = 1; s[S_AF] = 4; s[S_PROTO] = 6; s[S_SCHED] = 5; st16(s + S_PORT, __builtin_bswap16(80)); st16(s + S_BRIDGE, 1);
  u8 vip[4] = {10, 0, 0, 100};
  memcpy(s + S_ADDR, vip, 4);
  st32(s + S_TABLE_SIZE, 4093);
  u32 i = keyHash(svcKey(1, 4, 6) ^ ((u32)__builtin_bswap16(80) << 8), ld32(vip), 0, 0, 0) & svcMask;
  svcHash[i] = 1;
  /* VIP record */
  i = keyHash(svcKey(1, 4, 1), ld32(vip), 0, 0, 0) & addrMask;
  u8 *a = addrHash + (size_t)i * ADDR_SIZE;
  st16(a + A_BRIDGE, 1); a[A_AF] = 4; a[A_KIND] = 1; st32(a + A_COUNT, 1); memcpy(a + A_ADDR, vip, 4);
  /* 16 servers 10.0.1.d:8080, table: a simple spread (the build is measured by maglev.c) */
  for (u32 d = 0; d < 16; d++) {
    u8 *r = destEntry(d);
    r[R_USED] = 1; r[R_FLAGS] = 1; st16(r + R_PORT, __builtin_bswap16(8080)); st32(r + R_WEIGHT, 1);
    u8 ra[4] = {10, 0, 1, (u8)(10 + d)};
    memcpy(r + R_ADDR, ra, 4);
    st64(r + R_MAC, 0x02420a000100ULL + d);
  }
  for (u32 k = 0; k < 4093; k++) mhTab[k] = (int32_t)(k % 16);
  for (u32 k = 0; k < MAGLEV_RING; k++) mgRing[k] = (int32_t)(k % 16);
}

static void flush(void) {
  memset(buckets, 0, (size_t)(bucketMask + 1) * 4);
  bump = freeHead = live = sweepHand = 0;
  for (u32 d = 0; d < 16; d++) { st32(destEntry(d) + R_ACTIVE, 0); st32(destEntry(d) + R_INACT, 0); }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One vector of the bench loops, as the graph runs it (assembly/ipvs.ts
   benchVector): m 64-byte frames at vec touched (buckets, then entries), then
   processed frame by frame. Returns the number forwarded. */
static inline u32 bench_vector(u8 *vec, u32 m) {
  for (u32 j = 0; j < m; j++) touchHeads[j] = touchBucket(vec + (size_t)j * 64, 64);
  u32 t = 0;
  for (u32 j = 0; j < m; j++) t += touchHeads[j] + touchEntry(touchHeads[j]);
  touched += t;
  u32 fwd = 0;
  for (u32 j = 0; j < m; j++) if (process(vec + (size_t)j * 64, 64, 1, 1000) == 1) fwd++;
  return fwd;
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: ipvs new|est <flows> <repeats|packets> [maglev]\n"); return 2; }
  u32 flows = (u32)atoi(argv[2]);
  long n2 = atol(argv[3]);
  useMaglev = argc > 4 && !strcmp(argv[4], "maglev");
  setup(1u << 20);
  u8 work[64];
  u64 fwd = 0;
  double best = 0;
  if (!strcmp(argv[1], "newv")) {
    /* new flows by vectors of vlen frames: fill the vector, touch its buckets, process it */
    u32 vlen = argc > 5 ? (u32)atoi(argv[5]) : 64;
    if (vlen < 1 || vlen > 256) vlen = 64;
    u8 *vec = aligned_alloc(64, (size_t)vlen * 64);
    build_frame(tmpl, 0x0a800000u, 1024, 0x02);
    for (long rep = 0; rep < n2; rep++) {
      flush();
      double t0 = now_s();
      for (u32 i = 0; i < flows; i += vlen) {
        u32 m = flows - i < vlen ? flows - i : vlen;
        for (u32 j = 0; j < m; j++) {
          u8 *w = vec + (size_t)j * 64;
          memcpy(w, tmpl, 64);
          st32(w + 26, __builtin_bswap32(0x0a800000u + i + j));
          st16(w + 34, __builtin_bswap16((u16)(1024 + ((i + j) & 0x7fff))));
        }
        fwd += bench_vector(vec, m);
      }
      double mpps = flows / (now_s() - t0) / 1e6;
      if (rep == n2 - 1) best = mpps;
    }
  } else if (argv[1][0] == 'n') {
    build_frame(tmpl, 0x0a800000u, 1024, 0x02);
    for (long rep = 0; rep < n2; rep++) {
      flush();
      double t0 = now_s();
      for (u32 i = 0; i < flows; i++) {
        memcpy(work, tmpl, 64);
        st32(work + 26, __builtin_bswap32(0x0a800000u + i));
        st16(work + 34, __builtin_bswap16((u16)(1024 + (i & 0x7fff))));
        if (process(work, 64, 1, 1000) == 1) fwd++;
      }
      double mpps = flows / (now_s() - t0) / 1e6;
      if (rep == n2 - 1) best = mpps; /* earlier repeats warm the memory up */
    }
  } else if (!strcmp(argv[1], "estv")) {
    /* established flows by vectors of vlen frames (as ipvsBenchEstV): copy the
       vector's frames in, touch their buckets then entries, process them */
    u32 vlen = argc > 5 ? (u32)atoi(argv[5]) : 64;
    if (vlen < 1 || vlen > 256) vlen = 64;
    u8 *vec = aligned_alloc(64, (size_t)vlen * 64);
    u8 *frames = malloc((size_t)flows * 64);
    for (u32 i = 0; i < flows; i++) {
      build_frame(work, 0x0a800000u + i, (u16)(1024 + (i & 0x7fff)), 0x02);
      process(work, 64, 1, 1000);
      build_frame(frames + (size_t)i * 64, 0x0a800000u + i, (u16)(1024 + (i & 0x7fff)), 0x10);
    }
    double t0 = now_s();
    long done = 0;
    while (done < n2) {
      for (u32 i = 0; i < flows && done < n2; i += vlen) {
        u32 m = flows - i < vlen ? flows - i : vlen;
        if ((long)m > n2 - done) m = (u32)(n2 - done);
        memcpy(vec, frames + (size_t)i * 64, (size_t)m * 64); /* the vector's frames, one block */
        fwd += bench_vector(vec, m);
        done += m;
      }
    }
    best = n2 / (now_s() - t0) / 1e6;
  } else {
    /* establish the flows, then run ACKs round the frame array */
    u8 *frames = malloc((size_t)flows * 64);
    for (u32 i = 0; i < flows; i++) {
      build_frame(work, 0x0a800000u + i, (u16)(1024 + (i & 0x7fff)), 0x02);
      process(work, 64, 1, 1000);
      build_frame(frames + (size_t)i * 64, 0x0a800000u + i, (u16)(1024 + (i & 0x7fff)), 0x10);
    }
    double t0 = now_s();
    long done = 0;
    while (done < n2) {
      for (u32 i = 0; i < flows && done < n2; i++, done++) {
        memcpy(work, frames + (size_t)i * 64, 64);
        if (process(work, 64, 1, 1000) == 1) fwd++;
      }
    }
    best = n2 / (now_s() - t0) / 1e6;
  }
  printf("{\"mpps\": %.4f, \"fwd\": %llu, \"new\": %llu, \"touched\": %u}\n", best, (unsigned long long)fwd, (unsigned long long)cnt_new, touched);
  return 0;
}
