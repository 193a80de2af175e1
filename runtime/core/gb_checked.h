/* gb_checked.h — checked size arithmetic. Every product or sum of tensor sizes, strides,
 * offsets and byte counts that a script can influence goes through these helpers (shape
 * rules, view strides, window rules, allocation sizes), so a hostile size fails with a
 * message instead of wrapping around into an out-of-bounds view. */
#ifndef GB_CHECKED_H
#define GB_CHECKED_H

#include "gb_core.h"
#include "gb_math.h" /* GB_HD: gb_value_fits runs in CUDA kernels too */

/* The most elements one tensor (or view) may have: 2^36, 256 GiB of float32, more than any
 * device holds. Sizes are also capped in their product with zero sizes counted as 1, so the
 * strides of an empty tensor stay representable. Documented in docs/reliability.md. */
#define GB_MAX_NUMEL ((int64_t)1 << 36)
#define GB_MAX_NUMEL_STR "2^36"

/* *r = a * b; true when the result overflowed int64 (then *r is unspecified). */
static inline bool gb_mul_ovf(int64_t a, int64_t b, int64_t *r) {
  return __builtin_mul_overflow(a, b, r);
}
/* *r = a + b; true when the result overflowed int64. */
static inline bool gb_add_ovf(int64_t a, int64_t b, int64_t *r) {
  return __builtin_add_overflow(a, b, r);
}

/* Can v be stored in dtype dt without undefined behaviour? Integers need a finite value
 * inside their range (the fraction is truncated, as PyTorch does); float32 takes any. The
 * CUDA copy checks each element with it on the device. */
GB_HD bool gb_value_fits(gb_dtype dt, double v) {
  if (dt == GB_I32) return v > -2147483649.0 && v < 2147483648.0;
  if (dt == GB_I64) return v >= -9223372036854775808.0 && v < 9223372036854775808.0;
  return true;
}

/* "nan", "inf", "-inf" or the value with %.17g into buf (at least 32 bytes). */
GB_API const char *gb_value_str(double v, char *buf);

/* The element count of a shape, or -1 when a size is negative or the sizes (zeros counted
 * as 1) multiply past GB_MAX_NUMEL. */
int64_t gb_shape_numel_checked(int ndim, const int64_t *shape);

/* GB_ESHAPE naming `op` and the shape unless every size is >= 0 and the sizes (zeros counted
 * as 1) multiply to at most GB_MAX_NUMEL; *numel (may be NULL) gets the element count. */
gb_status gb_shape_check(gb_state *S, const char *op, int ndim, const int64_t *shape,
                         int64_t *numel);

#endif
