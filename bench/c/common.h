// Shared by the C baselines (bench/c/*.c): the input descriptor of
// assembly/layout.ts (64 bytes) and the kernel's hsiphash on 64-bit.
#ifndef NETWASM_BENCH_COMMON_H
#define NETWASM_BENCH_COMMON_H
#include <stdint.h>

/** An input descriptor, as assembly/layout.ts lays it out (D_*). */
typedef struct {
  uint32_t slot, off, len;
  uint16_t in_port, out;
  uint8_t verdict, flags;
  uint16_t drop, vlan, bridge;
  uint32_t vni, hash, ts_sec, ts_nsec, aux;
  uint16_t tx_count;
  uint8_t vnet_flags, gso_type;
  uint16_t gso_size, csum_start, csum_offset, hdr_len;
  uint8_t pad[8];
} desc_t;
_Static_assert(sizeof(desc_t) == 64, "desc_t is DESC_SIZE bytes");

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

#define SIPROUND                                                         \
  do {                                                                   \
    v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);        \
    v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;                             \
    v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;                             \
    v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);        \
  } while (0)

/* SipHash-1-3 of LE32(v), k0 = k1 = key: the kernel's hsiphash on 64-bit. */
static inline uint32_t hsiphash32(uint32_t v, uint64_t key) {
  uint64_t v0 = 0x736f6d6570736575ULL ^ key, v1 = 0x646f72616e646f6dULL ^ key;
  uint64_t v2 = 0x6c7967656e657261ULL ^ key, v3 = 0x7465646279746573ULL ^ key;
  uint64_t b = (4ULL << 56) | v;
  v3 ^= b; SIPROUND; v0 ^= b;
  v2 ^= 0xff; SIPROUND; SIPROUND; SIPROUND;
  return (uint32_t)(v0 ^ v1 ^ v2 ^ v3);
}

#endif
