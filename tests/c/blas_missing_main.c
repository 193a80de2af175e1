/* blas_missing_main.c — gb_blas without its library: built (tests/CMakeLists.txt) from
 * runtime/cpu/gb_blas.c with GB_OPENBLAS_SONAME naming a file that does not exist, as on an
 * install whose OpenBLAS was removed. gb_blas_name says so, and products still come out right
 * (the reference loops), with transposes, strides, alpha and beta. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "gb_blas.h"
#include "gb_gemm_small.h"

int main(void) {
  gb_gemm_small_set_enabled(false); /* the reference loops, not gb_blas's own kernels */
  CHECK(strstr(gb_blas_name(), "no BLAS") != NULL, "name: %s", gb_blas_name());
  CHECK(strstr(gb_blas_name(), "reference loops") != NULL, "name: %s", gb_blas_name());
  CHECK(gb_blas_threads() == 1);
  /* A (2x3), B^T stored as (2x3): C = 2 * A B + 0.5 * C, worked by hand. */
  const float a[6] = {1, 2, 3, 4, 5, 6};
  const float bt[6] = {1, 0, -1, 2, 1, 0}; /* B = [[1, 2], [0, 1], [-1, 0]] */
  float c[4] = {2, 2, 2, 2};
  gb_blas_sgemm(false, true, 2, 2, 3, 2.0f, a, 3, bt, 3, 0.5f, c, 2);
  /* A B = [[1*1+2*0+3*-1, 1*2+2*1+3*0], [4-6, 8+5]] = [[-2, 4], [-2, 13]] */
  const float want[4] = {-4 + 1, 8 + 1, -4 + 1, 26 + 1};
  for (int i = 0; i < 4; i++)
    CHECK(fabsf(c[i] - want[i]) < 1e-6f, "c[%d] = %g, want %g", i, c[i], want[i]);
  /* A^T (3x2) times a 2x1 column, beta 0 overwrites a NaN; padded row stride of C. */
  const float x[2] = {1, -1};
  float y[6] = {NAN, 9, NAN, 9, NAN, 9};
  gb_blas_sgemm(true, false, 3, 1, 2, 1.0f, a, 3, x, 1, 0.0f, y, 2);
  const float ywant[3] = {1 - 4, 2 - 5, 3 - 6};
  for (int i = 0; i < 3; i++) {
    CHECK(y[2 * i] == ywant[i], "y[%d] = %g, want %g", i, y[2 * i], ywant[i]);
    CHECK(y[2 * i + 1] == 9.0f, "padding overwritten at row %d", i);
  }
  return failures ? 1 : 0;
}
