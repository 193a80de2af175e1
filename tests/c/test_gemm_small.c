/* test_gemm_small.c — gb_gemm_small (runtime/cpu/gb_gemm_small.c), gb_blas's own AVX-512
 * products: against a double-precision loop at sizes that leave every kind of tail (1 row,
 * odd rows, columns around the 16-lane vectors and 48-column tiles, k around the 16-lane
 * steps of the dot kernel), padded strides, alpha and beta, beta == 0 over NaN; the shapes it
 * must decline; that a block of C computed alone has the same bits as in the whole product
 * (what makes gb_blas's split deterministic), also through gb_blas_sgemm split in two halves.
 * On a CPU without AVX-512 only the declines are checked. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gb_blas.h"
#include "gb_gemm_small.h"

static unsigned rng_state = 2024u;
static float frand(void) { /* uniform in [-1, 1), deterministic */
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)((rng_state >> 8) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

static float *alloc_rand(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof *p);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  for (size_t i = 0; i < n; i++)
    p[i] = frand();
  return p;
}

/* C = alpha op(A) op(B) + beta C in double, rounded once; beta == 0 ignores C. */
static void ref_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double acc = 0.0;
      for (int p = 0; p < k; p++)
        acc += (double)(ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) *
               (tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j]);
      double old = beta == 0.0f ? 0.0 : (double)beta * c[(size_t)i * ldc + j];
      c[(size_t)i * ldc + j] = (float)(alpha * acc + old);
    }
}

typedef struct operands {
  int lda, ldb, ldc;
  size_t nc;
  float *a, *b, *c, *want;
} operands;

/* Random A, B and C with `pad` spare elements per row; C's spares are NaN when nan_c (so a
 * kernel reading or writing them shows), as are all of C's values. */
static operands make(bool ta, bool tb, int m, int n, int k, int pad, bool nan_c) {
  operands o;
  int a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
  o.lda = a_cols + pad, o.ldb = b_cols + pad, o.ldc = n + pad;
  o.a = alloc_rand((size_t)a_rows * o.lda);
  o.b = alloc_rand((size_t)b_rows * o.ldb);
  o.nc = (size_t)m * o.ldc;
  o.c = alloc_rand(o.nc);
  o.want = malloc(o.nc * sizeof *o.want);
  if (!o.want) exit(2);
  if (nan_c)
    for (size_t i = 0; i < o.nc; i++)
      o.c[i] = NAN;
  memcpy(o.want, o.c, o.nc * sizeof *o.c);
  return o;
}

static void release(operands *o) {
  free(o->a), free(o->b), free(o->c), free(o->want);
}

/* One product against the reference; the whole buffer is compared, padding included (it
 * must come back bit for bit as it was, NaN included). */
static void check_case(bool ta, bool tb, int m, int n, int k, float alpha, float beta, int pad) {
  bool nan_c = beta == 0.0f;
  operands o = make(ta, tb, m, n, k, pad, nan_c);
  bool took = gb_gemm_small(ta, tb, m, n, k, alpha, o.a, o.lda, o.b, o.ldb, beta, o.c, o.ldc);
  CHECK(took, "ta=%d tb=%d m=%d n=%d k=%d: declined", ta, tb, m, n, k);
  ref_gemm(ta, tb, m, n, k, alpha, o.a, o.lda, o.b, o.ldb, beta, o.want, o.ldc);
  double worst = 0.0, tol = 1e-5 * (k + 1); /* float sums of k terms of size <= 1 */
  size_t at = 0;
  int pad_changed = 0;
  for (size_t i = 0; i < o.nc; i++) {
    if ((int)(i % o.ldc) >= n) { /* padding */
      pad_changed += memcmp(&o.c[i], &o.want[i], sizeof(float)) != 0;
      continue;
    }
    double err = fabs((double)o.c[i] - o.want[i]) / (1.0 + fabs((double)o.want[i]));
    if (!(err <= worst)) {
      worst = isnan(err) ? INFINITY : err;
      at = i;
    }
  }
  CHECK(worst <= tol,
        "ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g pad=%d: rel err %g at %zu "
        "(got %g, want %g)",
        ta, tb, m, n, k, alpha, beta, pad, worst, at, o.c[at], o.want[at]);
  CHECK(pad_changed == 0, "ta=%d tb=%d m=%d n=%d k=%d pad=%d: %d padding elements changed", ta, tb,
        m, n, k, pad, pad_changed);
  release(&o);
}

/* A block C[r0..r0+bm, c0..c0+bn) computed by its own call has the bits of the same block of
 * the whole product, and a second whole product repeats the first exactly. */
static void check_blocks(bool ta, bool tb, int m, int n, int k, float beta, int r0, int bm, int c0,
                         int bn) {
  operands o = make(ta, tb, m, n, k, 3, false);
  float *whole = malloc(o.nc * sizeof *whole), *again = malloc(o.nc * sizeof *again);
  if (!whole || !again) exit(2);
  memcpy(whole, o.c, o.nc * sizeof *whole);
  memcpy(again, o.c, o.nc * sizeof *again);
  CHECK(gb_gemm_small(ta, tb, m, n, k, 1.0f, o.a, o.lda, o.b, o.ldb, beta, whole, o.ldc));
  CHECK(gb_gemm_small(ta, tb, m, n, k, 1.0f, o.a, o.lda, o.b, o.ldb, beta, again, o.ldc));
  CHECK(memcmp(whole, again, o.nc * sizeof *whole) == 0, "ta=%d tb=%d %dx%dx%d: two runs differ",
        ta, tb, m, n, k);
  const float *a = ta ? o.a + r0 : o.a + (size_t)r0 * o.lda; /* op(A) rows r0.. */
  const float *b = tb ? o.b + (size_t)c0 * o.ldb : o.b + c0; /* op(B) columns c0.. */
  float *blk = o.c + (size_t)r0 * o.ldc + c0;
  CHECK(gb_gemm_small(ta, tb, bm, bn, k, 1.0f, a, o.lda, b, o.ldb, beta, blk, o.ldc));
  int differ = 0;
  for (int i = r0; i < r0 + bm; i++)
    for (int j = c0; j < c0 + bn; j++)
      differ += memcmp(&o.c[(size_t)i * o.ldc + j], &whole[(size_t)i * o.ldc + j], 4) != 0;
  CHECK(differ == 0, "ta=%d tb=%d %dx%dx%d, block rows %d+%d cols %d+%d: %d elements differ", ta,
        tb, m, n, k, r0, bm, c0, bn, differ);
  /* and each column alone (the 1-column tiles, where the whole product used wider ones) */
  differ = 0;
  for (int j = 0; j < n; j++) {
    const float *bj = tb ? o.b + (size_t)j * o.ldb : o.b + j;
    memcpy(again, o.want, o.nc * sizeof *again); /* C as it was before any product */
    CHECK(gb_gemm_small(ta, tb, m, 1, k, 1.0f, o.a, o.lda, bj, o.ldb, beta, again + j, o.ldc));
    for (int i = 0; i < m; i++)
      differ += memcmp(&again[(size_t)i * o.ldc + j], &whole[(size_t)i * o.ldc + j], 4) != 0;
  }
  CHECK(differ == 0, "ta=%d tb=%d %dx%dx%d, column by column: %d elements differ", ta, tb, m, n, k,
        differ);
  free(whole), free(again);
  release(&o);
}

/* gb_blas_sgemm with two threads splits a product this large in two halves (gb_blas.c), each
 * through gb_gemm_small: the result has the bits of one unsplit call. */
static void check_split(bool ta, bool tb, int m, int n, int k, float beta) {
  operands o = make(ta, tb, m, n, k, 0, false);
  float *direct = malloc(o.nc * sizeof *direct);
  if (!direct) exit(2);
  memcpy(direct, o.c, o.nc * sizeof *direct);
  CHECK(gb_gemm_small(ta, tb, m, n, k, 1.0f, o.a, o.lda, o.b, o.ldb, beta, direct, o.ldc));
  for (int rep = 0; rep < 3; rep++) { /* the helper may or may not take its half */
    memcpy(o.want, o.c, o.nc * sizeof *o.c);
    gb_blas_sgemm(ta, tb, m, n, k, 1.0f, o.a, o.lda, o.b, o.ldb, beta, o.want, o.ldc);
    CHECK(memcmp(o.want, direct, o.nc * sizeof *direct) == 0,
          "ta=%d tb=%d %dx%dx%d: gb_blas_sgemm (2 threads) differs from one gb_gemm_small call", ta,
          tb, m, n, k);
  }
  free(direct);
  release(&o);
}

/* Shapes gb_gemm_small must leave to the library: it returns false and C is untouched. */
static void check_declines(bool ta, bool tb, int m, int n, int k) {
  operands o = make(ta, tb, m, n, k, 0, false);
  bool took = gb_gemm_small(ta, tb, m, n, k, 1.0f, o.a, o.lda, o.b, o.ldb, 0.0f, o.c, o.ldc);
  CHECK(!took, "ta=%d tb=%d %dx%dx%d: taken", ta, tb, m, n, k);
  CHECK(memcmp(o.c, o.want, o.nc * sizeof *o.c) == 0, "ta=%d tb=%d %dx%dx%d: C changed", ta, tb, m,
        n, k);
  release(&o);
}

int main(void) {
  float one[1] = {1.0f}, out[1] = {0.0f};
  bool avx512 = gb_gemm_small(false, false, 1, 1, 1, 1.0f, one, 1, one, 1, 0.0f, out, 1);
  printf("gb_gemm_small on this CPU: %s\n", avx512 ? "yes" : "no (declines only)");
  /* declined everywhere: both transposed, a short k for the dot kernel, k or m*n*k too big */
  check_declines(true, true, 8, 8, 600);
  check_declines(false, true, 8, 8, 511);
  check_declines(false, false, 4, 4, 2049);
  check_declines(false, false, 4097, 4097, 2); /* 2^25 multiply-adds */
  bool was = gb_gemm_small_set_enabled(false);
  CHECK(was);
  check_declines(false, false, 4, 4, 4); /* switched off */
  CHECK(!gb_gemm_small_set_enabled(true));
  if (!avx512) return failures ? 1 : 0;
  CHECK(out[0] == 1.0f);

  /* outer tiles (B not transposed): rows 1..17 cover the 8/4/2/1-row tiles, columns the
   * masked last vector of 1-3 vectors; k from 1 */
  static const int ms[] = {1, 2, 3, 7, 8, 9, 13, 17}, ns[] = {1, 15, 16, 17, 33, 47, 48, 49, 97};
  static const int ks[] = {1, 2, 10, 33};
  for (int ta = 0; ta < 2; ta++)
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
      for (size_t j = 0; j < sizeof ns / sizeof *ns; j++)
        check_case(ta, false, ms[i], ns[j], ks[(i + j) % 4], 1.0f, (i + j) % 2 ? 1.0f : 0.0f,
                   (int)(i % 3));
  /* dot tiles (B transposed): rows around the 5-row tile, columns around the 4-column tile,
   * k = 512 and tails of the 16-lane steps */
  static const int dms[] = {1, 4, 5, 6, 11}, dns[] = {1, 3, 4, 5, 9}, dks[] = {512, 519, 527, 784};
  for (size_t i = 0; i < sizeof dms / sizeof *dms; i++)
    for (size_t j = 0; j < sizeof dns / sizeof *dns; j++)
      check_case(false, true, dms[i], dns[j], dks[(i + j) % 4], 1.0f, (i + j) % 2 ? 1.0f : 0.0f,
                 (int)(j % 3));
  /* alpha and beta other than 0 and 1, every kernel */
  check_case(false, false, 9, 50, 7, -0.5f, 0.25f, 1);
  check_case(true, false, 9, 50, 7, 2.0f, -1.5f, 2);
  check_case(false, true, 6, 7, 530, 0.5f, 3.0f, 1);
  check_case(false, true, 6, 7, 530, 1.5f, 0.0f, 0);
  /* the seed MLP's products, as gb_blas sees them */
  check_case(false, true, 100, 128, 784, 1.0f, 1.0f, 0);
  check_case(true, false, 128, 784, 100, 1.0f, 0.0f, 0);
  check_case(false, false, 100, 128, 10, 1.0f, 0.0f, 0);
  check_case(true, false, 10, 128, 100, 1.0f, 0.0f, 0);

  /* blocks at odd offsets, for the three kernels */
  check_blocks(false, false, 37, 101, 19, 1.0f, 5, 13, 17, 50);
  check_blocks(true, false, 37, 101, 19, 0.0f, 3, 30, 1, 99);
  check_blocks(false, true, 23, 19, 600, 1.0f, 2, 9, 3, 14);
  /* gb_blas's two-way split (products from 2^21 multiply-adds, two threads) */
  gb_blas_set_threads(2);
  check_split(false, true, 100, 128, 784, 1.0f);
  check_split(true, false, 128, 784, 100, 0.0f);
  check_split(false, false, 130, 300, 60, 0.0f);
  gb_blas_set_threads(0);
  printf("%d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}
