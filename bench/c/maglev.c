/*
 * C baseline of the Maglev table builders (the same algorithms as
 * assembly/maglev.ts): Katran's ring (v1 / v2, MurmurHash3_x64_64
 * permutation) and the Linux IPVS mh table (SipHash-1-3 permutation, turns
 * from weights). Builds its own endpoints in memory and times `iters` builds.
 *
 *   maglev katran <version> <ringSize> <backends> <iters>
 *   maglev mh <tableSize> <tabBits> <backends> <iters>
 * prints {"ms": <mean ms per build>, "check": <sum of the table>}
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common.h"


static inline uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

static uint64_t murmur3x64_64(uint64_t a, uint64_t b, uint32_t seed) {
  const uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
  uint64_t h1 = seed, h2 = seed;
  uint64_t k1 = a * c1;
  k1 = rotl64(k1, 31);
  k1 *= c2;
  h1 ^= k1;
  h1 = rotl64(h1, 27);
  h1 += h2;
  h1 = h1 * 5 + 0x52dce729;
  uint64_t k2 = b * c2;
  k2 = rotl64(k2, 33);
  k2 *= c1;
  h2 ^= k2;
  h2 = rotl64(h2, 31);
  h2 += h1;
  h2 = h2 * 5 + 0x38495ab5;
  h1 ^= 16;
  h2 ^= 16;
  h1 += h2;
  h2 += h1;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  return h1 + h2;
}

typedef struct { uint32_t num, weight; uint64_t hash; } endpoint_t;
typedef struct { uint32_t v, cur, skip, cum; } estate_t;

static inline void take(estate_t *w, int32_t *ring, uint32_t size, int32_t num) {
  uint32_t v = w->v, cur = w->cur;
  const uint32_t skip = w->skip;
  while (ring[cur] >= 0) {
    uint32_t nv = v + skip;
    if (nv < v) cur = nv % size;
    else {
      cur += skip;
      if (cur >= size) cur -= size;
    }
    v = nv;
  }
  ring[cur] = num;
  uint32_t nv = v + skip;
  if (nv < v) cur = nv % size;
  else {
    cur += skip;
    if (cur >= size) cur -= size;
  }
  w->v = nv;
  w->cur = cur;
}

static void katran_ring(int version, const endpoint_t *eps, uint32_t n, int32_t *ring, uint32_t size, estate_t *work) {
  memset(ring, 0xff, (size_t)size * 4);
  if (n == 0) return;
  if (n == 1) {
    for (uint32_t i = 0; i < size; i++) ring[i] = (int32_t)eps[0].num;
    return;
  }
  uint32_t maxw = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t off = (uint32_t)(murmur3x64_64(eps[i].hash, 42, 0) % size);
    work[i].v = off;
    work[i].cur = off;
    work[i].skip = (uint32_t)(murmur3x64_64(eps[i].hash, 2718281828ULL, 2307) % (size - 1)) + 1;
    work[i].cum = 0;
    if (eps[i].weight > maxw) maxw = eps[i].weight;
  }
  uint32_t filled = 0;
  if (version == 1) {
    for (int first = 1;; first = 0) {
      for (uint32_t i = 0; i < n; i++) {
        uint32_t turns = first ? eps[i].weight : 1;
        for (uint32_t j = 0; j < turns; j++) {
          take(&work[i], ring, size, (int32_t)eps[i].num);
          if (++filled == size) return;
        }
      }
    }
  }
  for (;;) {
    for (uint32_t i = 0; i < n; i++) {
      uint32_t cum = work[i].cum + eps[i].weight;
      if (cum >= maxw) {
        work[i].cum = cum - maxw;
        take(&work[i], ring, size, (int32_t)eps[i].num);
        if (++filled == size) return;
      } else {
        work[i].cum = cum;
      }
    }
  }
}

typedef struct { uint32_t input; int32_t weight, label; } mhdest_t;
typedef struct { uint32_t offset, skip, perm; int32_t turns; } mhstate_t;

static int gcd(int a, int b) {
  while (b) { int t = a % b; a = b; b = t; }
  return a;
}

static int mh_table(const mhdest_t *d, uint32_t n, int32_t *table, uint32_t m, uint32_t bits, mhstate_t *s) {
  memset(table, 0xff, (size_t)m * 4);
  int g = 0, mw = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (d[i].weight > 0) g = g > 0 ? gcd(d[i].weight, g) : d[i].weight;
    if (d[i].weight > mw) mw = d[i].weight;
  }
  if (g < 1) return 0;
  int fls = 32 - __builtin_clz((unsigned)(mw / g));
  int rshift = fls - (int)bits;
  if (rshift < 0) rshift = 0;
  for (uint32_t i = 0; i < n; i++) {
    s[i].offset = hsiphash32(d[i].input, 2654435761ULL) % m;
    s[i].skip = hsiphash32(d[i].input, 2654446892ULL) % (m - 1) + 1;
    s[i].perm = s[i].offset;
    int t = (d[i].weight / g) >> rshift;
    s[i].turns = t ? t : (d[i].weight != 0);
  }
  uint32_t filled = 0;
  for (;;) {
    for (uint32_t i = 0; i < n; i++) {
      int turns = s[i].turns;
      if (turns < 1) continue;
      uint32_t skip = s[i].skip, perm = s[i].perm;
      for (int t = 0; t < turns; t++) {
        while (table[perm] != -1) {
          perm += skip;
          if (perm >= m) perm -= m;
        }
        table[perm] = d[i].label;
        if (++filled == m) return g;
      }
      s[i].perm = perm;
    }
  }
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: maglev katran <version> <ringSize> <backends> <iters> | maglev mh <size> <bits> <backends> <iters>\n");
    return 2;
  }
  uint32_t a = (uint32_t)atoi(argv[2]), size = (uint32_t)atoi(argv[3]), n = (uint32_t)atoi(argv[4]);
  int iters = atoi(argv[5]);
  int64_t check = 0;
  double t0, t1;
  if (strcmp(argv[1], "katran") == 0) {
    endpoint_t *eps = malloc(sizeof(endpoint_t) * n);
    estate_t *work = malloc(sizeof(estate_t) * n);
    int32_t *ring = malloc((size_t)size * 4);
    for (uint32_t i = 0; i < n; i++) {
      eps[i].num = i;
      eps[i].weight = 1;
      eps[i].hash = (uint64_t)i * 2654435761ULL + 12345;
    }
    katran_ring((int)a, eps, n, ring, size, work); /* warm-up */
    t0 = now_ms();
    for (int it = 0; it < iters; it++) {
      katran_ring((int)a, eps, n, ring, size, work);
      check += ring[it % size];
    }
    t1 = now_ms();
    for (uint32_t i = 0; i < size; i++) check += ring[i];
  } else {
    uint32_t bits = a;
    mhdest_t *d = malloc(sizeof(mhdest_t) * n);
    mhstate_t *s = malloc(sizeof(mhstate_t) * n);
    int32_t *table = malloc((size_t)size * 4);
    for (uint32_t i = 0; i < n; i++) {
      d[i].input = 0x0a010000u + i + 80;
      d[i].weight = 1;
      d[i].label = (int32_t)i;
    }
    mh_table(d, n, table, size, bits, s);
    t0 = now_ms();
    for (int it = 0; it < iters; it++) {
      mh_table(d, n, table, size, bits, s);
      check += table[it % size];
    }
    t1 = now_ms();
    for (uint32_t i = 0; i < size; i++) check += table[i];
  }
  printf("{\"ms\": %.6f, \"check\": %lld}\n", (t1 - t0) / iters, (long long)check);
  return 0;
}
