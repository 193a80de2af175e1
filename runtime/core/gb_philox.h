/* gb_philox.h — Philox4x32-10, the counter-based generator behind gb.rand/randn. Element i of
 * a draw depends only on (seed, offset, i), so CPU and CUDA produce the same numbers for the
 * same seed, in any order and on any number of threads. */
#ifndef GB_PHILOX_H
#define GB_PHILOX_H

#include <stdint.h>

#include "gb_math.h"

typedef struct gb_u32x4 {
  uint32_t v[4];
} gb_u32x4;

GB_HD gb_u32x4 gb_philox4x32(uint64_t counter, uint64_t seed) {
  uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int r = 0; r < 10; r++) {
    uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c1 = (uint32_t)p1;
    c3 = (uint32_t)p0;
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  gb_u32x4 out = {{c0, c1, c2, c3}};
  return out;
}

/* uniform in [0, 1) with 24 random bits */
GB_HD float gb_philox_uniform(uint64_t seed, uint64_t offset, int64_t i) {
  gb_u32x4 w = gb_philox4x32(offset + (uint64_t)(i >> 2), seed);
  return (float)(w.v[i & 3] >> 8) * (1.0f / 16777216.0f);
}

/* standard normal by Box-Muller on the word pair (0,1) or (2,3) of the element's counter */
GB_HD float gb_philox_normal(uint64_t seed, uint64_t offset, int64_t i) {
  gb_u32x4 w = gb_philox4x32(offset + (uint64_t)(i >> 2), seed);
  int pair = (int)(i & 2);
  float u1 = ((float)(w.v[pair] >> 8) + 1.0f) * (1.0f / 16777216.0f); /* (0, 1] */
  float u2 = (float)(w.v[pair + 1] >> 8) * (1.0f / 16777216.0f);
  float r = sqrtf(-2.0f * logf(u1));
  float th = 6.2831853071795865f * u2;
  return (i & 1) ? r * sinf(th) : r * cosf(th);
}

/* counters a draw of n elements consumes; the state's offset advances by this much */
GB_HD uint64_t gb_philox_counters(int64_t n) {
  return (uint64_t)((n + 3) >> 2);
}

#endif
