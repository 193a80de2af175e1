/* gb_philox.h — Philox4x32-10, the counter-based generator behind gb.rand/randn. Element i of
 * a draw depends only on (seed, offset, i), so CPU and CUDA produce the same numbers for the
 * same seed, in any order and on any number of threads. A float32 element takes one 32-bit
 * word (24 bits used, four elements per counter), a float64 element two (53 bits used, two
 * elements per counter). */
#ifndef GB_PHILOX_H
#define GB_PHILOX_H

#include <stdbool.h>
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

/* 53 random bits from a word pair: all of hi, the top 21 of lo */
GB_HD uint64_t gb_philox_bits53(uint32_t hi, uint32_t lo) {
  return ((uint64_t)hi << 21) | (uint64_t)(lo >> 11);
}

/* float64 uniform in [0, 1) with 53 random bits: element i takes the word pair (0,1) or (2,3)
 * of counter offset + i/2 */
GB_HD double gb_philox_uniform_f64(uint64_t seed, uint64_t offset, int64_t i) {
  gb_u32x4 w = gb_philox4x32(offset + (uint64_t)(i >> 1), seed);
  int k = (int)(i & 1) * 2;
  return (double)gb_philox_bits53(w.v[k], w.v[k + 1]) * (1.0 / 9007199254740992.0);
}

/* float64 standard normal by Box-Muller on the two 53-bit uniforms of counter offset + i/2
 * (cos for even i, sin for odd) */
GB_HD double gb_philox_normal_f64(uint64_t seed, uint64_t offset, int64_t i) {
  gb_u32x4 w = gb_philox4x32(offset + (uint64_t)(i >> 1), seed);
  double u1 = ((double)gb_philox_bits53(w.v[0], w.v[1]) + 1.0) * (1.0 / 9007199254740992.0);
  double u2 = (double)gb_philox_bits53(w.v[2], w.v[3]) * (1.0 / 9007199254740992.0);
  double r = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2; /* u1 in (0, 1] */
  return (i & 1) ? r * sin(th) : r * cos(th);
}

/* counters a draw of n elements consumes (four float32 or two float64 elements each); the
 * state's offset advances by this much */
GB_HD uint64_t gb_philox_counters(int64_t n, bool f64) {
  return f64 ? (uint64_t)((n + 1) >> 1) : (uint64_t)((n + 3) >> 2);
}

#endif
