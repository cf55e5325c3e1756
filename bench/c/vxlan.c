// The VXLAN node's per-frame work in C (gcc -O2): a line-by-line translation
// of assembly/vxlan.ts's encapUnicast (tunnel record, ARP-proxy test, underlay
// port, MTU, offload metadata, flow hash, MAC -> VTEP lookup with ageing,
// template copy and patch of lengths, IPv4 ID and checksum, UDP source port,
// UDP checksum when asked) and decap (outer Ethernet/VLAN, IPv4 checks with
// the header checksum, UDP length, port and checksum, I flag, cached VNI ->
// tunnel lookup, strip, descriptor fields), over the same records: 64-byte
// descriptors, port entries, VTEP and tunnel records, remotes with templates.
// The checksum is checksum.ts's whole algorithm, its SIMD blocks included
// (SSE2 for the WASM SIMD), as the decap fast path's compare is.
//
//   vxlan encap|decap INNER_SIZE ITERATIONS CSUM(0|1)   ->   {"mpps": X}
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <emmintrin.h>
#include "common.h"

#define NFRAMES 256
#define SLOT 2048
#define HEADROOM 128

static inline uint16_t bswap16(uint16_t x) { return __builtin_bswap16(x); }
static inline uint32_t bswap32(uint32_t x) { return __builtin_bswap32(x); }
static inline uint16_t ld16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t ld32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t ld64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline void st16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void st32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

// ---- records (the layouts of layout.ts and vxlan.ts) ------------------------------
typedef struct {
  uint8_t kind, vlan_mode;
  uint16_t flags, bridge, pvid, mtu, tpid;
  uint32_t aux, aux2;
  uint8_t mac[8];
  uint32_t ip4;
  uint8_t pad[32];
} port_t;
typedef struct { uint8_t flags, pad; uint16_t listen, vlan, xport; uint8_t pad2[8]; uint8_t ip6[16]; uint8_t pad3[32]; uint8_t match[96]; uint8_t pad4[96]; } vtep_t;
typedef struct {
  uint32_t vni;
  uint16_t vxport, underlay, flags, bridge, spmin, spmax, dstport;
  uint8_t ttl, tos;
  uint32_t ageing;
  uint16_t nflood, xconnect;
  uint8_t pad[36];
} tunnel_t;
typedef struct {
  uint16_t tunnel; uint8_t flags, hdrlen; uint32_t refs;
  uint16_t ipid; uint8_t ipoff, v6; uint32_t ipsum, udpsum;
  uint8_t nhmac[8]; uint8_t ip[20]; uint8_t tmpl[80];
} remote_t;
typedef struct { uint64_t key; uint16_t remote; uint8_t flags, pad; uint32_t seen; } peer_t;
typedef struct { uint64_t key; uint64_t val; } map_t;

enum { KIND_VTEP = 3, KIND_VXLAN = 4 };
enum { TF_USED = 1, TF_IPV6 = 2, TF_UDP_CSUM = 4, TF_LEARN = 8, TF_ARP_PROXY = 16, TF_ALLOW_LIST = 64 };
enum { PF_STATIC = 1, PF_LEARNED = 2 };
enum { DECAPPED = 2 };
enum { VF_FAST = 16 };

static desc_t descs[NFRAMES];
static port_t ports[256];
static vtep_t vteps[256];
static tunnel_t tunnels[64];
static remote_t remotes[16];
static peer_t peers[8192];
static map_t vnimap[128];
static uint64_t counters[1024];
static uint8_t *pool;
static uint32_t n_tunnels = 64, peer_mask = 8191, map_mask = 127, gen = 1;
// Read by the caller of decap in vxlan.ts (vtepInput); external here so that gcc keeps
// the store as the WASM does (a static one nobody reads is removed).
uint32_t decap_tunnel;

static inline uint16_t fold(uint32_t s) {
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return (uint16_t)s;
}

// The sum of the four u32 lanes of a (laneSum of checksum.ts).
static inline uint64_t lane_sum(__m128i a) {
  __m128i z = _mm_setzero_si128();
  __m128i w = _mm_add_epi64(_mm_unpacklo_epi32(a, z), _mm_unpackhi_epi32(a, z));
  return (uint64_t)_mm_cvtsi128_si64(w) + (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(w, w));
}

// RFC 1071 sum over little-endian loads, swapped at the end (checksum.ts): 64-byte
// blocks with SIMD (SSE2 for WASM's i32x4.extadd_pairwise_i16x8_u: low and high
// u16 of each u32 lane added), two accumulators flushed every 8192 blocks, then
// 8 bytes at a time.
static uint32_t csum_partial(const uint8_t *p, uint32_t len, uint32_t initial) {
  uint64_t sum = bswap16(fold(initial));
  uint32_t i = 0;
  if (len >= 64) {
    const __m128i lo = _mm_set1_epi32(0xffff);
    __m128i acc0 = _mm_setzero_si128(), acc1 = _mm_setzero_si128();
    uint32_t blocks = 0;
#define PAIRS(v) _mm_add_epi32(_mm_and_si128((v), lo), _mm_srli_epi32((v), 16))
    do {
      const uint8_t *q = p + i;
      acc0 = _mm_add_epi32(acc0, PAIRS(_mm_loadu_si128((const __m128i *)q)));
      acc1 = _mm_add_epi32(acc1, PAIRS(_mm_loadu_si128((const __m128i *)(q + 16))));
      acc0 = _mm_add_epi32(acc0, PAIRS(_mm_loadu_si128((const __m128i *)(q + 32))));
      acc1 = _mm_add_epi32(acc1, PAIRS(_mm_loadu_si128((const __m128i *)(q + 48))));
      i += 64;
      if (++blocks == 8192) {
        sum += lane_sum(_mm_add_epi32(acc0, acc1));
        acc0 = acc1 = _mm_setzero_si128();
        blocks = 0;
      }
    } while (i + 64 <= len);
#undef PAIRS
    sum += lane_sum(_mm_add_epi32(acc0, acc1));
  }
  for (; i + 8 <= len; i += 8) { uint64_t w = ld64(p + i); sum += (w & 0xffffffff) + (w >> 32); }
  if (i + 4 <= len) { sum += ld32(p + i); i += 4; }
  if (i + 2 <= len) { sum += ld16(p + i); i += 2; }
  if (i < len) sum += p[i];
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  return bswap16(fold((uint32_t)sum));
}

static inline uint32_t fmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static uint32_t flow_hash(const uint8_t *f, uint32_t len) {
  uint32_t l3 = 14;
  uint16_t t = ld16(f + 12);
  if ((t == 0x0081 || t == 0xa888) && len >= 18) { t = ld16(f + 16); l3 += 4; }
  if (t == 0x0008 && len >= l3 + 20) {
    const uint8_t *ip = f + l3;
    uint8_t proto = ip[9];
    uint32_t hl = (ip[0] & 0xf) << 2;
    uint64_t ports = 0;
    if ((proto == 6 || proto == 17 || proto == 132) && (ld16(ip + 6) & 0xff3f) == 0 && hl >= 20 && len >= l3 + hl + 4)
      ports = ld32(ip + hl);
    return fmix64(ld64(ip + 12) ^ ((ports | ((uint64_t)proto << 32)) * 0x9e3779b97f4a7c15ULL));
  }
  if (t == 0xdd86 && len >= l3 + 40) {
    const uint8_t *ip = f + l3;
    uint8_t nh = ip[6];
    uint64_t ports = 0;
    if ((nh == 6 || nh == 17 || nh == 132) && len >= l3 + 44) ports = ld32(ip + 40);
    uint64_t a = ld64(ip + 8) ^ ld64(ip + 16) * 0xc2b2ae3d27d4eb4fULL;
    uint64_t b = ld64(ip + 24) ^ ld64(ip + 32) * 0x165667b19e3779f9ULL;
    return fmix64(a ^ (b * 0x9e3779b97f4a7c15ULL) ^ ((ports | ((uint64_t)nh << 32)) * 0xd6e8feb86659fd93ULL));
  }
  return fmix64((ld64(f) ^ (ld64(f + 6) * 0x9e3779b97f4a7c15ULL)) + t);
}

static inline uint32_t home(uint64_t k, uint32_t mask) {
  k ^= k >> 29; k *= 0xbf58476d1ce4e5b9ULL; k ^= k >> 32; return (uint32_t)k & mask;
}
static peer_t *peer_find(uint64_t key) {
  uint32_t i = home(key, peer_mask);
  for (uint32_t n = 0; n <= peer_mask; n++) {
    peer_t *e = &peers[i];
    if (e->key == key) return e;
    if (e->key == 0) return 0;
    i = (i + 1) & peer_mask;
  }
  return 0;
}
static map_t *map_find(uint64_t key) {
  uint32_t i = home(key, map_mask);
  for (uint32_t n = 0; n <= map_mask; n++) {
    map_t *e = &vnimap[i];
    if (e->key == key) return e;
    if (e->key == 0) return 0;
    i = (i + 1) & map_mask;
  }
  return 0;
}

static inline uint8_t *frame_ptr(desc_t *d) { return pool + (size_t)d->slot * SLOT + d->off; }
static inline uint64_t mac_raw(const uint8_t *p) { return ld64(p) & 0xffffffffffffULL; }
static inline void drop(desc_t *d, int reason) { d->drop = (uint16_t)reason; counters[reason]++; }

// ---- encap ---------------------------------------------------------------------------
static inline int peer_lookup(uint32_t t, tunnel_t *tn, uint64_t dst, uint32_t now) {
  peer_t *e = peer_find(((uint64_t)(t + 1) << 48) | dst);
  if (!e) return -1;
  if ((e->flags & PF_LEARNED) && tn->ageing != 0 && (int32_t)(now - e->seen) > (int32_t)tn->ageing) return -1;
  return e->remote;
}

static inline int mtu_ok(const uint8_t *f, uint32_t len, uint16_t tflags, port_t *vxp, port_t *upp) {
  uint32_t l3 = len - 14;
  if (ld16(f + 12) == 0x0081 && l3 >= 4) l3 -= 4;
  uint32_t iplen = (tflags & TF_IPV6) ? 40 : 20;
  return l3 <= vxp->mtu && len + 16 + iplen <= upp->mtu;
}

static inline int settle_offload(desc_t *x, uint8_t *f, uint32_t len) {
  uint8_t vf = x->vnet_flags;
  if (vf & 1) {
    uint32_t start = x->csum_start, at = start + x->csum_offset;
    if (start >= len || at + 2 > len) return 0;
    uint16_t c = ~fold(csum_partial(f + start, len - start, 0));
    st16(f + at, bswap16(c == 0 ? 0xffff : c));
  }
  if (vf != 0 || x->gso_type != 0) memset(&x->vnet_flags, 0, 10);
  return 1;
}

static inline int encap_write(desc_t *x, remote_t *rec, tunnel_t *tn, uint32_t len, uint32_t hash) {
  uint32_t hl = rec->hdrlen;
  if (x->off < hl) return 0;
  x->off -= hl; x->len += hl;
  uint8_t *f = frame_ptr(x);
  memcpy(f, rec->tmpl, hl);
  uint8_t *ip = f + rec->ipoff;
  uint32_t min = tn->spmin;
  uint32_t sport = min + (uint32_t)(((uint64_t)hash * (tn->spmax - min + 1)) >> 32);
  uint32_t ulen = len + 16;
  uint8_t *udp;
  if (!rec->v6) {
    uint32_t tot = ulen + 20, id = rec->ipid++;
    st16(ip + 2, bswap16(tot)); st16(ip + 4, bswap16(id));
    st16(ip + 10, bswap16((uint16_t)~fold(rec->ipsum + tot + id)));
    udp = ip + 20;
    st16(udp, bswap16(sport)); st16(udp + 4, bswap16(ulen));
    if (!(tn->flags & TF_UDP_CSUM)) return 1;
  } else {
    st16(ip + 4, bswap16(ulen));
    udp = ip + 40;
    st16(udp, bswap16(sport)); st16(udp + 4, bswap16(ulen));
  }
  uint16_t c = ~fold(csum_partial(f + hl, len, rec->udpsum + (ulen << 1) + sport));
  st16(udp + 6, bswap16(c == 0 ? 0xffff : c));
  return 1;
}

static inline int encap_unicast(desc_t *x, uint32_t out) {
  uint32_t t = ports[out].aux;
  if (t >= n_tunnels || !(tunnels[t].flags & TF_USED)) { drop(x, 337); return 2; }
  tunnel_t *tn = &tunnels[t];
  uint8_t *f = frame_ptr(x);
  uint32_t len = x->len;
  if (len < 14) { drop(x, 338); return 2; }
  uint16_t tflags = tn->flags;
  if (tflags & TF_ARP_PROXY) {
    uint16_t et = ld16(f + 12);
    if (et == 0x0081 && len >= 18) et = ld16(f + 16);
    if (et == 0x0608) return 2; // (the bench has no ARP)
  }
  uint32_t up = tn->underlay;
  port_t *upp = &ports[up];
  if (upp->kind != KIND_VTEP || (upp->flags & 64)) { drop(x, 342); return 2; }
  if (!mtu_ok(f, len, tflags, &ports[out], upp)) { drop(x, 338); return 2; }
  if (!settle_offload(x, f, len)) { drop(x, 343); return 2; }
  uint32_t hash = x->hash;
  if (hash == 0) { hash = flow_hash(f, len); x->hash = hash; }
  uint64_t dst = mac_raw(f);
  if (dst & 1) return 1;
  int r = peer_lookup(t, tn, dst, x->ts_sec);
  if (r < 0) return 1;
  if (!encap_write(x, &remotes[r], tn, len, hash)) { drop(x, 339); return 2; }
  counters[321]++;
  return 0;
}

// ---- decap ---------------------------------------------------------------------------
static uint32_t last_raw = 0xffffffff, last_vni, last_gen;
static int last_tunnel = -1;
// decapFast's one-entry cache (vxlan.ts fastKey): VNI bytes as loaded | port << 24,
// set by decap() for a tunnel decap_fast may take alone; all ones = none.
static uint64_t fast_key = ~0ULL;
static uint32_t fast_vni, fast_tunnel;

static void fast_fill(uint32_t raw, uint32_t in_port) {
  int t = last_tunnel;
  if (t < 0 || !(vteps[in_port].flags & VF_FAST)) return;
  tunnel_t *tn = &tunnels[t];
  if (tn->underlay != in_port || (tn->flags & (TF_ALLOW_LIST | TF_LEARN))) return;
  fast_key = (uint64_t)raw | ((uint64_t)in_port << 24);
  fast_vni = last_vni;
  fast_tunnel = (uint32_t)t;
}

static inline int ipv4_header_ok(const uint8_t *ip, uint32_t hl) {
  uint64_t s = (uint64_t)ld32(ip) + ld32(ip + 4) + ld32(ip + 8) + ld32(ip + 12) + ld32(ip + 16);
  if (hl > 20) for (uint32_t i = 20; i < hl; i += 4) s += ld32(ip + i);
  return s % 0xffff == 0 && s != 0;
}

static inline int udp_verify(const uint8_t *ip, const uint8_t *u, uint32_t ulen) {
  // ipv4PseudoSum: the address halves summed as read, folded and swapped once.
  uint32_t a = ld32(ip + 12), b = ld32(ip + 16);
  uint32_t pseudo = bswap16(fold((a & 0xffff) + (a >> 16) + (b & 0xffff) + (b >> 16))) + 17 + ulen;
  return fold(csum_partial(u, ulen, pseudo)) == 0xffff;
}

static inline void adjust_offload(desc_t *d, uint32_t inner) {
  if (d->vnet_flags & 1) { if (d->csum_start < inner) d->vnet_flags &= ~1; else d->csum_start -= inner; }
  if (d->hdr_len != 0) d->hdr_len = d->hdr_len > inner ? d->hdr_len - inner : 0;
}

// decapFast of vxlan.ts: bytes 0..47 against the VTEP's (mask, value) pairs (SSE2 as WASM SIMD),
// the cached VNI on this port (fast_key), lengths, header checksum, UDP checksum if set.
static inline uint8_t *decap_fast(desc_t *d, uint8_t *f, uint32_t in_port) {
  uint32_t len = d->len;
  if (len < 64) return 0;
  const uint8_t *m = vteps[in_port].match;
  __m128i x0 = _mm_xor_si128(_mm_and_si128(_mm_loadu_si128((const __m128i *)f), _mm_loadu_si128((const __m128i *)m)), _mm_loadu_si128((const __m128i *)(m + 48)));
  __m128i x1 = _mm_xor_si128(_mm_and_si128(_mm_loadu_si128((const __m128i *)(f + 16)), _mm_loadu_si128((const __m128i *)(m + 16))), _mm_loadu_si128((const __m128i *)(m + 64)));
  __m128i x2 = _mm_xor_si128(_mm_and_si128(_mm_loadu_si128((const __m128i *)(f + 32)), _mm_loadu_si128((const __m128i *)(m + 32))), _mm_loadu_si128((const __m128i *)(m + 80)));
  __m128i x = _mm_or_si128(_mm_or_si128(x0, x1), x2);
  if (_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_setzero_si128())) != 0xffff) return 0;
  uint8_t *ip = f + 14;
  uint8_t *u = ip + 20;
  if (((uint64_t)(ld32(u + 12) & 0xffffff) | ((uint64_t)in_port << 24)) != fast_key) return 0;
  uint32_t tot = bswap16(ld16(ip + 2));
  if (tot > len - 14) return 0;
  if (tot < 50) return 0;
  uint32_t ulen = tot - 20;
  if (bswap16(ld16(u + 4)) != ulen) return 0;
  if (!ipv4_header_ok(ip, 20)) return 0;
  if (ld16(u + 6) != 0 && (d->vnet_flags & 3) == 0 && !udp_verify(ip, u, ulen)) return 0;
  uint32_t inner = 50;
  d->off += inner;
  d->len = ulen - 16;
  adjust_offload(d, inner);
  d->vni = fast_vni;
  d->flags |= DECAPPED;
  decap_tunnel = fast_tunnel;
  return f + inner;
}

static uint8_t *decap(desc_t *d, uint8_t *f, uint32_t in_port) {
  uint32_t len = d->len;
  port_t *p = &ports[in_port];
  vtep_t *vt = &vteps[in_port];
  uint64_t dmac = mac_raw(f), own = mac_raw(p->mac);
  if (own != 0 && dmac != own && (dmac & 1) == 0) { drop(d, 324); return 0; }
  uint32_t l3 = 14;
  uint16_t et = ld16(f + 12);
  uint32_t vlan = vt->vlan;
  if (et == 0x0081 || et == 0xa888) {
    if (len < 18) { drop(d, 326); return 0; }
    if (vlan != 0 && (bswap16(ld16(f + 14)) & 0xfff) != vlan) { drop(d, 331); return 0; }
    et = ld16(f + 16); l3 += 4;
  } else if (vlan != 0) { drop(d, 331); return 0; }
  uint8_t *ip = f + l3;
  if (et != 0x0008) { drop(d, 322); return 0; } // (the bench has no IPv6)
  uint32_t avail = len - l3;
  if (avail < 20) { drop(d, 386); return 0; }
  uint32_t vihl = ip[0];
  if ((vihl >> 4) != 4) { drop(d, 384); return 0; }
  uint32_t hl = (vihl & 0xf) << 2;
  if (hl < 20) { drop(d, 385); return 0; }
  if (hl > avail) { drop(d, 386); return 0; }
  uint32_t tot = bswap16(ld16(ip + 2));
  if (tot < hl || tot > avail) { drop(d, 386); return 0; }
  if (!ipv4_header_ok(ip, hl)) { drop(d, 387); return 0; }
  if (ld16(ip + 6) & 0xff3f) { drop(d, 388); return 0; }
  if (ip[9] != 17) { drop(d, 323); return 0; }
  if (p->ip4 != 0 && ld32(ip + 16) != p->ip4) { drop(d, 324); return 0; }
  uint32_t l4 = l3 + hl, ip_end = l3 + tot;
  if (ip_end - l4 < 8) { drop(d, 416); return 0; }
  uint8_t *u = f + l4;
  uint32_t ulen = bswap16(ld16(u + 4));
  if (ulen != ip_end - l4) { drop(d, 416); return 0; }
  if (ld16(u + 2) != vt->listen) { drop(d, 325); return 0; }
  if (ld16(u + 6) != 0 && (d->vnet_flags & 3) == 0 && !udp_verify(ip, u, ulen)) { drop(d, 417); return 0; }
  if (ulen < 30) { drop(d, 326); return 0; }
  uint8_t *vx = u + 8;
  if (!(vx[0] & 0x08)) { drop(d, 327); return 0; }
  uint32_t raw = ld32(vx + 4) & 0xffffff;
  if (raw != last_raw || last_gen != gen) {
    last_raw = raw;
    last_vni = bswap32(raw) >> 8;
    map_t *e = map_find((uint64_t)last_vni + 1);
    last_tunnel = e ? (int)e->val : -1;
    last_gen = gen;
    fast_fill(raw, in_port);
  }
  int t = last_tunnel;
  if (t < 0) { drop(d, 328); return 0; }
  tunnel_t *tn = &tunnels[t];
  if (tn->underlay != in_port) { drop(d, 328); return 0; }
  uint32_t inner = l4 + 16;
  if (tn->flags & (TF_ALLOW_LIST | TF_LEARN)) return 0; // (the bench has neither)
  d->off += inner;
  d->len = ip_end - inner;
  adjust_offload(d, inner);
  d->vni = last_vni;
  d->flags |= DECAPPED;
  decap_tunnel = (uint32_t)t;
  return f + inner;
}

// ---- set-up as the bench's data plane: VTEP 0 = 192.168.1.1, tunnel port 1, peer behind 192.168.1.2 -----
static void build_template(remote_t *r, const uint8_t *nh, const uint8_t *me, uint32_t src, uint32_t dst, uint32_t vni) {
  uint8_t *h = r->tmpl;
  memset(h, 0, 80);
  memcpy(h, nh, 6); memcpy(h + 6, me, 6); h[12] = 0x08; h[13] = 0x00;
  uint8_t *ip = h + 14;
  ip[0] = 0x45; ip[8] = 64; ip[9] = 17; memcpy(ip + 12, &src, 4); memcpy(ip + 16, &dst, 4);
  r->ipsum = fold(csum_partial(ip, 20, 0));
  uint8_t *u = ip + 20;
  st16(u + 2, bswap16(4789));
  u[8] = 0x08; st32(u + 12, bswap32(vni << 8));
  uint32_t pseudo = csum_partial(ip + 12, 8, 0) + 17;
  r->udpsum = fold(csum_partial(u, 16, pseudo));
  r->hdrlen = 50; r->ipoff = 14; r->ipid = 0; r->v6 = 0; r->flags = 1;
}

static void insert_peer(uint64_t key, uint16_t remote) {
  uint32_t i = home(key, peer_mask);
  while (peers[i].key != 0) i = (i + 1) & peer_mask;
  peers[i].key = key; peers[i].remote = remote; peers[i].flags = PF_STATIC;
}

static void put_inner(uint8_t *f, uint32_t size, int i) {
  static const uint8_t dst[6] = {2, 0x42, 10, 0, 0, 3}, src[6] = {2, 0x42, 10, 0, 0, 2};
  memset(f, 0, size);
  memcpy(f, dst, 6); memcpy(f + 6, src, 6); f[12] = 0x08; f[13] = 0x00;
  uint8_t *ip = f + 14;
  ip[0] = 0x45; st16(ip + 2, bswap16(size - 14)); ip[8] = 64; ip[9] = 17;
  uint8_t a[8] = {10, 0, 0, 2, 10, 0, 0, 3}; memcpy(ip + 12, a, 8);
  st16(ip + 10, bswap16((uint16_t)~fold(csum_partial(ip, 20, 0))));
  uint8_t *u = ip + 20;
  st16(u, bswap16(1000 + i)); st16(u + 2, bswap16(2000)); st16(u + 4, bswap16(size - 34));
  for (uint32_t k = 42; k < size; k++) f[k] = (uint8_t)(k * 13 + i);
}

static int is_encap;
static uint64_t ok;
// The sum of the lengths after encap or decap, as vxlanBench* return and the suite checks:
// reading d->len keeps its store (without it gcc drops the off and len updates,
// overwritten by the restore).
static uint64_t acc;

// `n` passes over the vector, each frame restored after: the measured work.
__attribute__((noinline)) static void pass(long n) {
  for (long it = 0; it < n; it++) {
    for (int i = 0; i < NFRAMES; i++) {
      desc_t *d = &descs[i];
      uint32_t off = d->off, len = d->len;
      if (is_encap) {
        if (encap_unicast(d, 1) == 0) { ok++; acc += d->len; }
        d->hash = 0;
      } else if (decap_fast(d, frame_ptr(d), 0) || decap(d, frame_ptr(d), 0)) {
        counters[320]++;
        ok++;
        acc += d->len;
      }
      d->off = off; d->len = len;
      __asm__ volatile("" ::: "memory");
    }
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: %s encap|decap INNER_SIZE ITERATIONS CSUM\n", argv[0]); return 2; }
  is_encap = strcmp(argv[1], "encap") == 0;
  uint32_t size = (uint32_t)atoi(argv[2]);
  long iters = atol(argv[3]);
  int csum = atoi(argv[4]);
  pool = aligned_alloc(4096, (size_t)NFRAMES * SLOT);
  const uint8_t me[6] = {2, 0, 0, 0, 0, 1}, nh[6] = {2, 0, 0, 0, 0, 2};
  uint8_t me_ip[4] = {192, 168, 1, 1}, peer_ip[4] = {192, 168, 1, 2};
  uint32_t src, dst;
  memcpy(&src, me_ip, 4); memcpy(&dst, peer_ip, 4);
  ports[0].kind = KIND_VTEP; ports[0].mtu = 1500; memcpy(ports[0].mac, me, 6); ports[0].ip4 = src;
  ports[1].kind = KIND_VXLAN; ports[1].mtu = 1450; ports[1].aux = 0;
  vteps[0].flags = 1 | VF_FAST; vteps[0].listen = bswap16(4789);
  {
    uint8_t *mask = vteps[0].match, *val = vteps[0].match + 48;
    memset(mask, 0xff, 6); memcpy(val, me, 6);
    st16(mask + 12, 0xffff); st16(val + 12, 0x0008);
    mask[14] = 0xff; val[14] = 0x45;
    mask[20] = 0x3f; mask[21] = 0xff;
    mask[23] = 0xff; val[23] = 17;
    memset(mask + 30, 0xff, 4); memcpy(val + 30, &src, 4);
    st16(mask + 36, 0xffff); st16(val + 36, bswap16(4789));
    mask[42] = 0x08; val[42] = 0x08;
  }
  tunnels[0] = (tunnel_t){ .vni = 4096, .vxport = 1, .underlay = 0, .flags = TF_USED | TF_ARP_PROXY | (csum ? TF_UDP_CSUM : 0),
                           .spmin = 49152, .spmax = 65535, .dstport = 4789, .ttl = 64, .ageing = 300 };
  build_template(&remotes[0], nh, me, src, dst, 4096);
  insert_peer(((uint64_t)1 << 48) | 0x0300000a4202ULL, 0); // 02:42:0a:00:00:03 in memory order
  uint32_t vi = home(4096 + 1, map_mask);
  vnimap[vi].key = 4096 + 1; vnimap[vi].val = 0;
  remote_t back;
  build_template(&back, me, nh, dst, src, 4096);
  for (int i = 0; i < NFRAMES; i++) {
    uint8_t *slot = pool + (size_t)i * SLOT;
    desc_t *d = &descs[i];
    memset(d, 0, sizeof *d);
    d->slot = i; d->off = HEADROOM; d->len = size; d->in_port = is_encap ? 2 : 0;
    put_inner(slot + HEADROOM, size, i);
    if (!is_encap) {
      // The decap input: the same frames encapsulated by the peer, to us.
      d->off -= 50; d->len += 50;
      uint8_t *g = slot + d->off;
      memcpy(g, back.tmpl, 50);
      uint8_t *ip = g + 14;
      uint32_t ulen = size + 16, tot = ulen + 20;
      st16(ip + 2, bswap16(tot));
      st16(ip + 10, bswap16((uint16_t)~fold(back.ipsum + tot)));
      st16(ip + 20, bswap16(50000 + i)); st16(ip + 24, bswap16(ulen));
      if (csum) {
        uint16_t c = ~fold(csum_partial(g + 50, size, back.udpsum + (ulen << 1) + 50000 + i));
        st16(ip + 26, bswap16(c == 0 ? 0xffff : c));
      }
    }
  }
  // Timed as the WASM is (common.ts throughput: the median of samples of about
  // 50 us each, after a warm-up), so that a busy machine moves both alike.
  pass(iters / 10 + 1);
  long reps = 1;
  for (;;) {
    double t = now_s();
    pass(reps);
    if (now_s() - t >= 50e-6 || reps >= iters) break;
    reps *= 2;
  }
  long nsamples = (iters + reps - 1) / reps;
  double *rates = malloc(sizeof(double) * (size_t)nsamples);
  ok = 0;
  acc = 0;
  for (long k = 0; k < nsamples; k++) {
    double t = now_s();
    pass(reps);
    rates[k] = (double)reps * NFRAMES / (now_s() - t);
  }
  if (ok != (uint64_t)(nsamples * reps) * NFRAMES || acc != ok * (is_encap ? size + 50 : size)) {
    fprintf(stderr, "only %llu of %llu frames passed\n", (unsigned long long)ok, (unsigned long long)(nsamples * reps) * NFRAMES);
    return 1;
  }
  qsort(rates, (size_t)nsamples, sizeof(double), cmp_double);
  double med = nsamples % 2 ? rates[nsamples / 2] : (rates[nsamples / 2 - 1] + rates[nsamples / 2]) / 2;
  printf("{\"mpps\": %.3f}\n", med / 1e6);
  return 0;
}
