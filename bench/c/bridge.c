// Baseline for bench/bridge.bench.ts: the same algorithm as the WASM data
// plane's vector loop + learning bridge (assembly/graph.ts, eth.ts, bridge.ts,
// fdb.ts, egress.ts), in C, built with gcc -O2. Same memory layout (64-byte
// descriptors, 64-byte port entries, 16-byte FDB entries in an open-addressing
// table with twice as many slots as entries, lowbias32 hash, linear probing),
// same per-frame steps (descriptor reset, Ethernet checks, port dispatch,
// source check, link-local check, VLAN ingress, learning, services flag, FDB
// lookup, forward checks, egress VLAN/MTU, transmit entry, verdict).
//
// usage: bridge <entries> <vectors> [seed]   prints {"mpps": X, "tx": N, "forwarded": N}
// Traffic: clamp(2 x entries, 4096, 262144) frames between random known stations
// on different ports, cycled through vectors of 256; packet time constant.
// Paths the traffic never takes (floods, VLAN filtering) are stubbed.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common.h"

#define HEADROOM 128
#define SLOT_SIZE 256
#define MAX_VECTOR 256
#define MAX_TX 4096
#define MAX_PORTS 256
#define N_PORTS 8

enum { K_UNUSED = 0, K_NONE = 1, K_BRIDGE = 2, K_VTEP = 3, K_VXLAN = 4, K_WIRE = 7 };
enum { F_LEARNING = 1, F_FLOOD = 2, F_MCAST = 4, F_BCAST = 8, F_HAIRPIN = 16, F_ISOLATED = 32, F_DOWN = 64 };
enum { V_DROP = 0, V_TX = 1, V_LOCAL = 2 };
enum { FF_FLOODED = 1, FF_TAGGED = 8 };
enum { FDB_LEARNED = 1, FDB_STATIC = 2, FDB_LOCAL = 4, FDB_STICKY = 8 };
enum { C_RX = 0, C_TX = 1, C_DROP = 2, C_LOCAL = 3, C_NOPORT = 4, C_PORTDOWN = 5, C_TXFULL = 7,
       C_RUNT = 64, C_OVERSIZE = 65, C_LENMISMATCH = 66, C_BADSLOT = 67,
       C_BR_NOBRIDGE = 192, C_BR_BADSRC = 193, C_BR_REFLECT = 194, C_BR_ISOLATED = 195, C_BR_PAUSE = 196,
       C_BR_LINKLOCAL = 197, C_BR_FLOODNOPORT = 198, C_BR_DOWN = 199, C_BR_STALE = 200, C_BR_MTU = 201,
       C_BR_FLOOD = 202, C_BR_FORWARD = 203, C_BR_LOCAL = 204, C_BR_LEARNED = 205, C_BR_MOVE = 206,
       C_BR_LIMIT = 207, C_BR_FULL = 208, C_BR_OWNSRC = 210, C_VLAN_NOT_ALLOWED = 128, C_VLAN_NOPVID = 129 };


typedef struct {
  uint8_t kind, vlan_mode;
  uint16_t flags, bridge, pvid, mtu, tpid;
  uint32_t aux, aux2;
  uint8_t mac[6];
  uint8_t pad[38];
} port_t;

typedef struct { uint32_t slot, off, len; uint16_t port, src; } tx_t;

typedef struct {
  uint32_t ageing, learn_limit, learned;
  uint16_t member_start, member_count;
  uint32_t flags;
  uint8_t pad[12];
} bridge_t;

typedef struct {
  uint64_t key;
  uint16_t bridge;
  uint8_t port, flags;
  uint32_t seen;
} fdb_t;

static uint64_t counters[1024];
static desc_t descs[MAX_VECTOR + 1];
static tx_t txv[MAX_TX];
static uint32_t tx_count;
static port_t ports[MAX_PORTS];
static bridge_t bridges[16];
static uint32_t bridge_count = 16;
static uint8_t members[MAX_PORTS];
static uint8_t vlan_maps[MAX_PORTS][512];
static fdb_t *fdb;
static uint32_t fdb_mask, fdb_max, fdb_count;
static uint8_t *pool;
static uint32_t slot_count;
static uint32_t *free_stack, free_top;
static uint32_t cur_index, last_sweep;
static int slot_given;
static desc_t *cur_desc;

#define COUNT(id) (counters[(id)]++)
#define VALID 0x8000000000000000ull
#define MAC_MASK 0xffffffffffffull

static inline uint32_t fdb_hash(uint32_t bridge, uint32_t vlan, uint64_t mac) {
  uint32_t h = (uint32_t)mac + ((uint32_t)(mac >> 32) | (vlan << 16)) * 0x9e3779b1u + bridge * 0x85ebca77u;
  h ^= h >> 16; h *= 0x7feb352du; h ^= h >> 15; h *= 0x846ca68bu; h ^= h >> 16;
  return h;
}
static inline uint64_t fdb_key(uint32_t vlan, uint64_t mac) { return (mac & MAC_MASK) | ((uint64_t)(vlan & 0xfff) << 48) | VALID; }

static inline fdb_t *fdb_probe_at(uint32_t bridge, uint64_t key, uint32_t i) {
  fdb_t *e = &fdb[i];
  uint64_t k = e->key;
  while (k != 0 && (k != key || e->bridge != bridge)) {
    i = (i + 1) & fdb_mask;
    e = &fdb[i];
    k = e->key;
  }
  return e;
}
static inline fdb_t *fdb_probe(uint32_t bridge, uint32_t vlan, uint64_t mac) {
  return fdb_probe_at(bridge, fdb_key(vlan, mac), fdb_hash(bridge, vlan, mac) & fdb_mask);
}

static inline int fdb_fresh(fdb_t *e, uint32_t now, uint32_t ageing) {
  if (e->flags & (FDB_STATIC | FDB_LOCAL)) return 1;
  return (int32_t)(now - e->seen) < (int32_t)ageing;
}

static void fdb_learn(uint32_t b, uint32_t vlan, uint64_t mac, uint32_t port, uint32_t now) {
  bridge_t *br = &bridges[b];
  uint32_t ageing = br->ageing;
  if (ageing == 0) return;
  fdb_t *e = fdb_probe(b, vlan, mac);
  if (e->key != 0) {
    uint8_t flags = e->flags;
    if (flags & FDB_LOCAL) { COUNT(C_BR_OWNSRC); return; }
    if (!fdb_fresh(e, now, ageing)) { e->port = port; e->seen = now; COUNT(C_BR_LEARNED); return; }
    if (e->port != port && !(flags & FDB_STICKY)) { e->port = port; COUNT(C_BR_MOVE); }
    if (e->seen != now) e->seen = now;
    return;
  }
  if (br->learn_limit != 0 && br->learned >= br->learn_limit) { COUNT(C_BR_LIMIT); return; }
  if (fdb_count >= fdb_max) { COUNT(C_BR_FULL); return; }
  e->key = fdb_key(vlan, mac);
  e->bridge = b;
  e->port = port;
  e->flags = FDB_LEARNED;
  e->seen = now;
  br->learned++;
  fdb_count++;
  COUNT(C_BR_LEARNED);
}

static inline uint8_t *slot_ptr(uint32_t s) { return pool + (size_t)s * SLOT_SIZE; }
static inline uint64_t mac_at(const uint8_t *p) {
  return ((uint64_t)p[0] << 40) | ((uint64_t)p[1] << 32) | ((uint64_t)p[2] << 24) | ((uint64_t)p[3] << 16) | ((uint64_t)p[4] << 8) | p[5];
}
static inline uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static inline void drop_frame(desc_t *d, int reason) { d->drop = reason; COUNT(reason); }

static void emit(uint32_t slot, uint32_t off, uint32_t len, uint32_t out) {
  if (tx_count >= MAX_TX) { COUNT(C_TXFULL); if (slot == cur_desc->slot) slot_given = 0; else free_stack[free_top++] = slot; return; }
  tx_t *t = &txv[tx_count++];
  t->slot = slot; t->off = off; t->len = len; t->port = out; t->src = cur_index;
  cur_desc->tx_count++;
}
static inline void emit_desc(desc_t *x, uint32_t out) {
  if (x == cur_desc) slot_given = 1;
  emit(x->slot, x->off, x->len, out);
}

static inline int vlan_allowed(port_t *q, uint32_t p, uint32_t mode, uint32_t vid) {
  if (vid - 1 >= 4094) return 0;
  if (vid == q->pvid) return 1;
  if (mode != 2) return 0;
  return (vlan_maps[p][vid >> 3] >> (vid & 7)) & 1;
}

static inline int32_t vlan_ingress(desc_t *d, const uint8_t *frame, port_t *q, uint32_t p) {
  uint32_t mode = q->vlan_mode;
  if (mode == 0) return 0;
  /* filtering ports are not exercised by this benchmark */
  (void)d; (void)frame; (void)p;
  return (int32_t)q->pvid;
}

static void port_egress(desc_t *x, uint32_t out) {
  port_t *q = &ports[out];
  if (q->kind != K_BRIDGE) { emit_desc(x, out); return; }
  uint8_t *frame = slot_ptr(x->slot) + x->off;
  /* VLAN mode NONE in this benchmark: no tag operation */
  uint32_t mtu = q->mtu;
  if (mtu != 0) {
    uint32_t len = x->len;
    if (len > mtu + 14) { /* untagged, a frame within mtu + 14 fits: only a longer one needs its tag looked at */
      uint32_t payload = len - 14;
      uint16_t t = be16(frame + 12);
      if (len >= 18 && (t == 0x8100 || t == 0x88a8)) payload -= 4;
      if (payload > mtu) { x->drop = C_BR_MTU; COUNT(C_BR_MTU); return; }
    }
  }
  emit_desc(x, out);
}

static void forward(desc_t *d, uint32_t in_port, uint32_t in_flags, uint32_t b, uint32_t vid, uint32_t out) {
  port_t *q = &ports[out];
  uint32_t f = q->flags;
  if (out == in_port && (f & F_HAIRPIN) == 0) { drop_frame(d, C_BR_REFLECT); return; }
  if (!((q->kind == K_BRIDGE || q->kind == K_VXLAN) && q->bridge == b)) { drop_frame(d, C_BR_STALE); return; }
  if (f & F_DOWN) { drop_frame(d, C_BR_DOWN); return; }
  if (in_flags & f & F_ISOLATED) { drop_frame(d, C_BR_ISOLATED); return; }
  uint32_t mode = q->vlan_mode;
  if (mode != 0 && !vlan_allowed(q, out, mode, vid)) { drop_frame(d, 133); return; }
  d->out = out;
  COUNT(C_BR_FORWARD);
  port_egress(d, out);
}

static void flood(desc_t *d, uint32_t in_port, uint32_t in_flags, uint32_t b, uint32_t vid, uint32_t flag) {
  /* not exercised: every destination is known */
  (void)in_port; (void)in_flags; (void)vid; (void)flag;
  d->flags |= FF_FLOODED; d->out = b; COUNT(C_BR_FLOOD);
  drop_frame(d, C_BR_FLOODNOPORT);
}

static void fdb_sweep(uint32_t now, uint32_t n) { (void)now; (void)n; /* packet time is constant in the benchmark */ }

static void bridge_input(desc_t *d, uint8_t *frame, uint32_t in_port) {
  port_t *p = &ports[in_port];
  uint32_t b = p->bridge;
  if (b >= bridge_count) { drop_frame(d, C_BR_NOBRIDGE); return; }
  if (d->len < 14) { drop_frame(d, C_RUNT); return; }
  uint32_t now = d->ts_sec;
  if (now != last_sweep) { last_sweep = now; fdb_sweep(now, ((fdb_mask + 1) >> 6) | 64); }
  uint64_t src = mac_at(frame + 6);
  if (src == 0 || ((src >> 40) & 1)) { drop_frame(d, C_BR_BADSRC); return; }
  uint64_t dst = mac_at(frame);
  int link_local = (dst & ~0xfull) == 0x0180c2000000ull;
  if (link_local && (dst & 0xf) == 1) { drop_frame(d, C_BR_PAUSE); return; }
  int32_t vlan = vlan_ingress(d, frame, p, in_port);
  if (vlan < 0) return;
  uint32_t vid = (uint32_t)vlan;
  d->vlan = vid;
  d->bridge = b;
  uint32_t in_flags = p->flags;
  /* the destination's home slot: hashed once, and prefetched now, so that its
     miss overlaps the source's probe (learning) (assembly/bridge.ts) */
  uint32_t dst_home = fdb_hash(b, vid, dst) & fdb_mask;
  __builtin_prefetch(&fdb[dst_home], 0, 3);
  if (in_flags & F_LEARNING) fdb_learn(b, vid, src, in_port, now);
  if (link_local && (dst & 0xf) != 0) { drop_frame(d, C_BR_LINKLOCAL); return; }
  /* gateway hook (assembly/gateway.ts): no gateway is configured in the benchmark */
  bridge_t *br = &bridges[b];
  if (br->flags & 1) { /* services hook: not exercised */ }
  if ((dst >> 40) & 1) { flood(d, in_port, in_flags, b, vid, dst == MAC_MASK ? F_BCAST : F_MCAST); return; }
  fdb_t *e = fdb_probe_at(b, fdb_key(vid, dst), dst_home);
  if (e->key == 0 || !fdb_fresh(e, now, br->ageing)) { flood(d, in_port, in_flags, b, vid, F_FLOOD); return; }
  if (e->flags & FDB_LOCAL) { COUNT(C_BR_LOCAL); return; }
  forward(d, in_port, in_flags, b, vid, e->port);
}

static uint8_t *eth_check(desc_t *d) {
  uint32_t slot = d->slot, off = d->off, len = d->len;
  if (slot >= slot_count) { drop_frame(d, C_BADSLOT); return 0; }
  if (off > SLOT_SIZE || len > SLOT_SIZE - off) { drop_frame(d, C_OVERSIZE); return 0; }
  if (len < 14) { drop_frame(d, C_RUNT); return 0; }
  uint8_t *frame = slot_ptr(slot) + off;
  uint16_t t = be16(frame + 12);
  if (t < 0x0600 && t > len - 14) { drop_frame(d, C_LENMISMATCH); return 0; }
  return frame;
}

static void process_one(desc_t *d) {
  uint8_t *frame = eth_check(d);
  if (!frame) return;
  uint32_t in_port = d->in_port;
  if (in_port >= MAX_PORTS) { drop_frame(d, C_NOPORT); return; }
  port_t *p = &ports[in_port];
  if (p->kind == K_UNUSED) { drop_frame(d, C_NOPORT); return; }
  if (p->flags & F_DOWN) { drop_frame(d, C_PORTDOWN); return; }
  switch (p->kind) {
    case K_BRIDGE: bridge_input(d, frame, in_port); return;
    default: drop_frame(d, C_NOPORT); return;
  }
}

static void finish(desc_t *d) {
  uint16_t reason = d->drop;
  if (d->tx_count > 0) { d->verdict = V_TX; if (!slot_given) free_stack[free_top++] = d->slot; return; }
  if (reason != 0) { d->verdict = V_DROP; COUNT(C_DROP); }
  else { d->verdict = V_LOCAL; COUNT(C_LOCAL); }
  if (reason != C_BADSLOT && !slot_given) free_stack[free_top++] = d->slot;
}

/* Pass 1 of the vector for a large FDB (256K entries or more) (assembly/bridge.ts bridgePrefetch):
 * hash every bridged frame's source and destination keys and prefetch their
 * home slots, so the misses of the vector overlap; pass 2 probes as before. */
#define PREFETCH_MIN_ENTRIES (1u << 18)
#ifndef PREFETCH_TOUCH
#define FDB_PREFETCH(e) __builtin_prefetch((e), 0, 3)
#else
static uint64_t prefetch_sink;
#define FDB_PREFETCH(e) (sink ^= (e)->key)
#endif
static void bridge_prefetch(uint32_t n) {
#ifdef PREFETCH_TOUCH
  uint64_t sink = 0;
#endif
  for (uint32_t i = 0; i < n; i++) {
    desc_t *d = &descs[i];
    uint32_t slot = d->slot, off = d->off, len = d->len;
    if (slot >= slot_count || off > SLOT_SIZE || len > SLOT_SIZE - off || len < 14) continue;
    uint32_t in_port = d->in_port;
    if (in_port >= MAX_PORTS) continue;
    port_t *p = &ports[in_port];
    if (p->kind != K_BRIDGE || p->vlan_mode != 0) continue;
    uint32_t b = p->bridge;
    const uint8_t *frame = slot_ptr(slot) + off;
    FDB_PREFETCH(&fdb[fdb_hash(b, 0, mac_at(frame + 6)) & fdb_mask]);
    FDB_PREFETCH(&fdb[fdb_hash(b, 0, mac_at(frame)) & fdb_mask]);
  }
#ifdef PREFETCH_TOUCH
  prefetch_sink = sink;
#endif
}

static uint32_t run_vector(uint32_t n) {
  tx_count = 0;
  if (n > 256) n = 256;
  if (fdb_count >= PREFETCH_MIN_ENTRIES) bridge_prefetch(n);
  for (uint32_t i = 0; i < n; i++) {
    cur_index = i;
    slot_given = 0;
    desc_t *d = &descs[i];
    cur_desc = d;
    d->verdict = V_DROP; d->flags = 0; d->drop = 0; d->tx_count = 0; d->out = 0; d->vlan = 0; d->bridge = 0;
    d->vni = 0; d->hash = 0; d->aux = 0;
    process_one(d);
    finish(d);
  }
  counters[C_RX] += n;
  counters[C_TX] += tx_count;
  return tx_count;
}

typedef struct { uint32_t slot; uint16_t port, len; } ring_t;

static uint32_t xs = 0x9e3779b9u;
static uint32_t rnd(void) { xs ^= xs << 13; xs ^= xs >> 17; xs ^= xs << 5; return xs; }

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  uint32_t entries = argc > 1 ? (uint32_t)atoi(argv[1]) : 1000;
  uint32_t vectors = argc > 2 ? (uint32_t)atoi(argv[2]) : 10000;
  if (argc > 3) xs = (uint32_t)atoi(argv[3]) | 1;
  uint32_t cap = 16;
  while (cap < entries) cap <<= 1;
  fdb_mask = cap * 2 - 1;
  fdb_max = cap;
  fdb = calloc((size_t)cap * 2, sizeof(fdb_t));
  for (int b = 0; b < 16; b++) bridges[b].ageing = 300;
  for (int i = 0; i < N_PORTS; i++) {
    ports[i].kind = K_BRIDGE; ports[i].flags = F_LEARNING | F_FLOOD | F_MCAST | F_BCAST; ports[i].bridge = 0;
    ports[i].mtu = 1500; ports[i].tpid = 0x8100;
    members[i] = i;
  }
  bridges[0].member_count = N_PORTS;

  /* stations: distinct MACs 02:00:xx:xx:xx:xx, station i behind port i % N_PORTS */
  uint32_t ts = 1000;
  for (uint32_t i = 0; i < entries; i++) {
    uint64_t mac = (0x0200ull << 32) | (uint32_t)(i * 2654435761u);
    fdb_learn(0, 0, mac, i % N_PORTS, ts);
  }
  uint32_t frames = entries * 2;
  if (frames < 4096) frames = 4096;
  if (frames > 262144) frames = 262144;
  slot_count = frames + 64;
  pool = aligned_alloc(4096, (size_t)slot_count * SLOT_SIZE);
  memset(pool, 0, (size_t)slot_count * SLOT_SIZE);
  free_stack = calloc(slot_count, 4);
  ring_t *ring = calloc(frames, sizeof(ring_t));
  for (uint32_t j = 0; j < frames; j++) {
    uint32_t a = rnd() % entries, b;
    do b = rnd() % entries; while (b % N_PORTS == a % N_PORTS);
    uint8_t *f = slot_ptr(j) + HEADROOM;
    uint64_t src = (0x0200ull << 32) | (uint32_t)(a * 2654435761u), dst = (0x0200ull << 32) | (uint32_t)(b * 2654435761u);
    for (int k = 0; k < 6; k++) { f[k] = (uint8_t)(dst >> (40 - 8 * k)); f[6 + k] = (uint8_t)(src >> (40 - 8 * k)); }
    f[12] = 0x08; f[13] = 0x00;
    ring[j].slot = j; ring[j].port = a % N_PORTS; ring[j].len = 64;
  }
  for (uint32_t s = frames; s < slot_count; s++) free_stack[free_top++] = s;

  uint64_t tx = 0;
  uint32_t at = 0;
  double t0 = now_s();
  for (uint32_t k = 0; k < vectors; k++) {
    uint32_t top = free_top;
    for (uint32_t i = 0; i < MAX_VECTOR; i++) {
      desc_t *d = &descs[i];
      d->slot = ring[at].slot; d->off = HEADROOM; d->len = ring[at].len; d->in_port = ring[at].port; d->ts_sec = ts;
      if (++at == frames) at = 0;
    }
    tx += run_vector(MAX_VECTOR);
    free_top = top;
  }
  double dt = now_s() - t0;
  printf("{\"mpps\": %.3f, \"tx\": %llu, \"forwarded\": %llu}\n", (double)vectors * MAX_VECTOR / dt / 1e6, (unsigned long long)tx,
         (unsigned long long)counters[C_BR_FORWARD]);
  return 0;
}
