// Baseline for bench/vlan.bench.ts: the 802.1Q tag operations of
// assembly/vlan.ts (vlanPush, vlanPop, vlanRewrite) and the benchmark loop of
// vlanBenchLoop, in C, built with gcc -O2: for each of 256 descriptors
// (64-byte records, frames in 2048-byte slots at offset 128), restore the
// frame offset and length, then apply the operation (moving the frame start
// within the headroom, moving the 12 MAC bytes, writing the tag), counting it.
//
// usage: vlan <op: 0 push | 1 pop | 2 rewrite> <iterations>   prints {"mpps": X}
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common.h"

#define HEADROOM 128
#define SLOT_SIZE 2048
#define N 256


// One region, as the data plane's linear memory: counters, descriptors, pool.
// (Static arrays would let gcc prove that frame stores never touch a counter
// and keep the counters in registers, or sum them in closed form: work the
// WASM does per frame.)
static uint64_t *counters;
static desc_t *descs;
static uint8_t *pool;

static inline uint8_t *slot_ptr(uint32_t s) { return pool + (size_t)s * SLOT_SIZE; }

static inline uint8_t *prepend(desc_t *d, uint32_t n) {
  uint32_t off = d->off;
  if (off < n) return 0;
  d->off = off - n;
  d->len += n;
  return slot_ptr(d->slot) + off - n;
}

static inline uint8_t *frame_ptr(desc_t *d) { return slot_ptr(d->slot) + d->off; }

static inline uint8_t *vlan_push(desc_t *d, uint32_t tpid, uint32_t tci) {
  uint8_t *p = prepend(d, 4);
  if (!p) return 0;
  uint64_t a; uint32_t b;
  memcpy(&a, p + 4, 8);
  memcpy(&b, p + 12, 4);
  memcpy(p, &a, 8);
  memcpy(p + 8, &b, 4);
  uint32_t tag = (uint32_t)__builtin_bswap16((uint16_t)tpid) | ((uint32_t)__builtin_bswap16((uint16_t)tci) << 16);
  memcpy(p + 12, &tag, 4);
  counters[134]++;
  return p;
}

// vlanPop of vlan.ts: the descriptor fields read first, the new start is frame + 4.
static inline uint8_t *vlan_pop(desc_t *d, uint8_t *frame) {
  uint32_t off = d->off, len = d->len;
  if (len < 4) return 0;
  uint64_t a; uint32_t b;
  memcpy(&a, frame, 8);
  memcpy(&b, frame + 8, 4);
  memcpy(frame + 4, &a, 8);
  memcpy(frame + 12, &b, 4);
  d->off = off + 4;
  d->len = len - 4;
  counters[135]++;
  return frame + 4;
}

static inline void vlan_rewrite(uint8_t *frame, uint32_t tpid, uint32_t vid) {
  uint16_t t;
  memcpy(&t, frame + 14, 2);
  uint32_t tci = __builtin_bswap16(t);
  uint16_t w1 = __builtin_bswap16((uint16_t)tpid), w2 = __builtin_bswap16((uint16_t)((tci & 0xf000) | (vid & 0xfff)));
  memcpy(frame + 12, &w1, 2);
  memcpy(frame + 14, &w2, 2);
  counters[136]++;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// One loop per operation, as vlanBenchLoop.
__attribute__((noinline)) static uint32_t bench_loop(uint32_t op, uint32_t n, uint32_t iters, uint32_t tpid, uint32_t vid) {
  uint32_t acc = 0;
  if (op == 0) {
    for (uint32_t k = 0; k < iters; k++)
      for (uint32_t i = 0; i < n; i++) {
        desc_t *d = &descs[i];
        d->off = d->aux;
        d->len = d->hash;
        acc += (uint32_t)(uintptr_t)(vlan_push(d, tpid, vid) - pool);
      }
  } else if (op == 1) {
    for (uint32_t k = 0; k < iters; k++)
      for (uint32_t i = 0; i < n; i++) {
        desc_t *d = &descs[i];
        d->off = d->aux;
        d->len = d->hash;
        acc += (uint32_t)(uintptr_t)(vlan_pop(d, frame_ptr(d)) - pool);
      }
  } else {
    for (uint32_t k = 0; k < iters; k++)
      for (uint32_t i = 0; i < n; i++) {
        desc_t *d = &descs[i];
        d->off = d->aux;
        d->len = d->hash;
        uint8_t *p = frame_ptr(d);
        vlan_rewrite(p, tpid, vid);
        acc += (uint32_t)(uintptr_t)(p - pool);
      }
  }
  return acc;
}

int main(int argc, char **argv) {
  uint32_t op = argc > 1 ? (uint32_t)atoi(argv[1]) : 0;
  uint32_t iters = argc > 2 ? (uint32_t)atoi(argv[2]) : 20000;
  size_t head = 1024 * sizeof(uint64_t) + N * sizeof(desc_t);
  uint8_t *region = aligned_alloc(4096, head + (size_t)N * SLOT_SIZE);
  memset(region, 0, head + (size_t)N * SLOT_SIZE);
  counters = (uint64_t *)region;
  descs = (desc_t *)(region + 1024 * sizeof(uint64_t));
  pool = region + head;
  for (uint32_t i = 0; i < N; i++) {
    uint8_t *f = slot_ptr(i) + HEADROOM;
    for (int k = 0; k < 64; k++) f[k] = (uint8_t)(k * 7 + i);
    f[12] = 0x81; f[13] = 0x00; f[14] = 0xa0; f[15] = 0x0a; /* tagged for pop and rewrite */
    descs[i].slot = i;
    descs[i].aux = HEADROOM;
    descs[i].hash = 64;
  }
  bench_loop(op, N, iters / 10 + 1, 0x88a8, 20); /* warm up */
  double t0 = now_s();
  uint32_t acc = bench_loop(op, N, iters, 0x88a8, 20);
  double dt = now_s() - t0;
  printf("{\"mpps\": %.3f, \"acc\": %u, \"ops\": %llu}\n", (double)iters * N / dt / 1e6, acc,
         (unsigned long long)(counters[134] + counters[135] + counters[136]));
  return 0;
}
