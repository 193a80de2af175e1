/* gb_gemm_small.h — gpubp's own AVX-512 sgemm for small and medium products (the seed MLP's
 * 100x128x784 and its backward products), tried by gb_blas before the BLAS library: it reads
 * the operands where they lie (no packing) and writes C directly (no zeroing pass for
 * beta == 0). docs/benchmarks.md ("The CPU BLAS") has the measurements that set its range. */
#ifndef GB_GEMM_SMALL_H
#define GB_GEMM_SMALL_H

#include <stdbool.h>

/* C(m,n) = alpha * op(A) op(B) + beta * C, row-major, with gb_blas_sgemm's contract
 * (gb_blas.h: strides, transposes, beta == 0 overwrites), on the calling thread, if this
 * product is one the kernel takes: an AVX-512 CPU, not both operands transposed, and a size
 * within the range measured faster than the library. Returns false, having touched nothing,
 * otherwise. Each element of C is computed by the same sequence of float operations wherever
 * it lies in C, so the result does not depend on how a caller splits C into blocks (gb_blas's
 * two halves) or on any environment variable: bit-for-bit the same run to run. One seam: the
 * range is judged per call, so a product over 2^24 multiply-adds whose halves are within it
 * gets these kernels when gb_blas splits it (two threads) and the library's bits when it runs
 * whole (one thread, or while another thread holds gb_blas's helper). */
bool gb_gemm_small(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                   int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Whether gb_gemm_small may take products (default true); returns the previous setting.
 * Process-wide; for tests and benchmarks that compare it with the library. */
bool gb_gemm_small_set_enabled(bool on);

#endif
