/* gb_blas.h — the one door to the CPU BLAS: row-major sgemm, the library's name and its
 * thread count. Which library sits behind it is chosen by cmake/blas.cmake (OpenBLAS by
 * default, BLIS as the alternative); gb_blas.c also makes sure OpenBLAS runs the fastest
 * kernels the CPU supports, with no environment variable for the user to set. Small and medium
 * products (and each half of a split one) go first to gpubp's own AVX-512 kernels
 * (gb_gemm_small.h), which take those they measured faster on. */
#ifndef GB_BLAS_H
#define GB_BLAS_H

#include "gb_core.h"

/* C(m,n) = alpha * op(A)(m,k) * op(B)(k,n) + beta * C, all ROW-MAJOR.
 * op(A) is A when !trans_a (A stored m x k) and A^T when trans_a (A stored k x m); same
 * for B (stored k x n, or n x k when trans_b). lda/ldb/ldc are row strides in elements and
 * must be at least the stored row length (lda >= trans_a ? m : k, ldb >= trans_b ? k : n,
 * ldc >= n); for a stored matrix with a single row any stride is accepted.
 * m, n, k >= 0; m or n == 0 does nothing; k == 0 gives C = beta * C (beta == 0 writes zeros
 * even over NaN). C must not overlap A or B. Thread-safe; never fails on valid input. */
GB_API void gb_blas_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                          const float *a, int lda, const float *b, int ldb, float beta, float *c,
                          int ldc);

/* The same contract in double (float64 tensors): the library's cblas_dgemm / bli_dgemm, or
 * reference loops when the library lacks it; products under 2^24 multiply-adds run on the
 * calling thread. Thread-safe; never fails on valid input. */
GB_API void gb_blas_dgemm(bool trans_a, bool trans_b, int m, int n, int k, double alpha,
                          const double *a, int lda, const double *b, int ldb, double beta,
                          double *c, int ldc);

/* gb_blas_sgemm on the calling thread only (no split, no library threads): for kernels that
 * run products on several threads of their own (gb_cpu_parallel.h). */
GB_API void gb_blas_sgemm_serial(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                                 const float *a, int lda, const float *b, int ldb, float beta,
                                 float *c, int ldc);

/* Human-readable library, version and kernel set in use, e.g. "OpenBLAS 0.3.21 SkylakeX"
 * (with " (auto-detected Prescott)" appended when gb_blas replaced a weaker auto-detected core).
 * The string is static and stays valid for the life of the process. */
GB_API const char *gb_blas_name(void);

/* Threads the CPU backend may use for one op, the caller included: for products and for the
 * kernels on the CPU pool (gb_cpu_pool.h); n <= 0 restores the default (the library's: one per
 * core). Products under 2^21 multiply-adds (m*n*k) run on the calling thread; larger ones are
 * split between it and a worker of the pool, except that with n > 2 those of 2^24 and up use
 * the library's n threads (gb_blas.c says why). n == 1 disables all threading.
 * Process-wide: it affects every gb_state. */
GB_API void gb_blas_set_threads(int n);

/* The current limit set by gb_blas_set_threads or the default (at least 1). */
GB_API int gb_blas_threads(void);

#endif
