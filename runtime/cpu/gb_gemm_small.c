/* gb_gemm_small.c — gb_gemm_small (gb_gemm_small.h): register-tiled AVX-512 products over the
 * operands as stored. Two kernels cover three of the four transpose cases:
 *   op(B) rows contiguous (B not transposed): "outer" tiles of MR rows x up to 48 columns of C,
 *     one op(B) row segment loaded and each op(A) element broadcast per step of k;
 *   A and B^T rows contiguous (B transposed, A not): "dot" tiles of MR x 4 elements of C, each
 *     a 16-lane partial sum over k reduced at the end (the rows of A and B are both along k).
 * Compiled for AVX-512 through target attributes and chosen at run time from CPUID, so the
 * build stays baseline x86-64; elsewhere gb_gemm_small declines and gb_blas uses its library. */
#include "gb_gemm_small.h"

#include <stdatomic.h>
#include <stddef.h>

static _Atomic bool gs_enabled = true;

bool gb_gemm_small_set_enabled(bool on) {
  return atomic_exchange(&gs_enabled, on);
}

/* The range where the kernels measured faster than OpenBLAS (docs/benchmarks.md): beyond it
 * the library's packing and cache blocking pay for themselves. */
#define GS_MAX_MNK (1LL << 24)
#define GS_MAX_K 2048
/* The dot tiles (B transposed) reduce each element's 16 lanes at the end: with k under
 * GS_DOT_MIN_K that costs more than the library's packing (100x10x128: 3.7 against 2.0 us). */
#define GS_DOT_MIN_K 512

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define GS_TARGET __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,fma")))
#define GS_INLINE static inline __attribute__((always_inline)) GS_TARGET
#define GS_MR_MAX 8 /* outer tiles: up to 8 rows x 3 vectors = 24 accumulators */
#define GS_NV_MAX 3
#define GS_DOT_MR_MAX 5 /* dot tiles: up to 5 rows x 4 columns = 20 accumulators */
#define GS_DOT_NR 4

typedef struct gs_args {
  int m, n, k;
  const float *a; /* op(A)[i][p] = a[i * ai + p * ap] */
  ptrdiff_t ai, ap;
  const float *b; /* outer: op(B)[p][j] = b[p * ldb + j]; dot: op(B)[p][j] = b[j * ldb + p] */
  ptrdiff_t ldb;
  float alpha, beta;
  float *c;
  ptrdiff_t ldc;
} gs_args;

/* alpha * acc + beta * C on up to 16 elements of C (mask mk), beta == 0 not reading C. The
 * same operations for every element, whichever kernel and tile produced acc. */
GS_INLINE __m512 gs_finish(__m512 acc, const float *cp, __mmask16 mk, float alpha, float beta) {
  if (alpha != 1.0f) acc = _mm512_mul_ps(_mm512_set1_ps(alpha), acc);
  if (beta == 1.0f)
    acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mk, cp));
  else if (beta != 0.0f)
    acc = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(mk, cp), acc);
  return acc;
}

/* ---- outer tiles: C[i0.., j0..] (MR x NV*16, the last vector masked by mk) --------------
 * ta says op(A)[i][p] lies at a[p * lda + i] (ai == 1): the MR broadcasts of a step are then
 * neighbours, which the constant lets the compiler address directly. */
GS_INLINE void gs_outer_tile(const int MR, const int NV, const bool ta, const gs_args *g, int i0,
                             int j0, __mmask16 mk) {
  __m512 acc[GS_MR_MAX][GS_NV_MAX];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++)
      acc[r][v] = _mm512_setzero_ps();
  const ptrdiff_t ai = ta ? 1 : g->ai, ap = ta ? g->ap : 1;
  const float *arow = g->a + (ptrdiff_t)i0 * ai, *brow = g->b + j0;
  for (int p = 0; p < g->k; p++, arow += ap, brow += g->ldb) {
    __m512 bv[GS_NV_MAX];
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++)
      bv[v] =
          v == NV - 1 ? _mm512_maskz_loadu_ps(mk, brow + 16 * v) : _mm512_loadu_ps(brow + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
      __m512 av = _mm512_set1_ps(arow[r * ai]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; v++)
        acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) {
    float *cp = g->c + (ptrdiff_t)(i0 + r) * g->ldc + j0;
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++) {
      __mmask16 vm = v == NV - 1 ? mk : (__mmask16)0xFFFF;
      _mm512_mask_storeu_ps(cp + 16 * v, vm,
                            gs_finish(acc[r][v], cp + 16 * v, vm, g->alpha, g->beta));
    }
  }
}

/* One instantiation per (MR, NV) the drivers use: MR in {8, 4, 2, 1}, NV in {1, 2, 3}. */
#define GS_OUTER_CASE(MR, NV)                                                                      \
  case MR * 4 + NV:                                                                                \
    gs_outer_tile(MR, NV, ta, g, i0, j0, mk);                                                      \
    break;
#define GS_OUTER_ROW(MR) GS_OUTER_CASE(MR, 1) GS_OUTER_CASE(MR, 2) GS_OUTER_CASE(MR, 3)

GS_INLINE void gs_outer(const bool ta, const gs_args *g) {
  for (int j0 = 0; j0 < g->n; j0 += 16 * GS_NV_MAX) {
    int w = g->n - j0 < 16 * GS_NV_MAX ? g->n - j0 : 16 * GS_NV_MAX;
    int nv = (w + 15) / 16, last = w - 16 * (nv - 1);
    __mmask16 mk = (__mmask16)((1u << last) - 1u);
    for (int i0 = 0; i0 < g->m;) {
      int left = g->m - i0, mr = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
      switch (mr * 4 + nv) {
        GS_OUTER_ROW(8)
        GS_OUTER_ROW(4)
        GS_OUTER_ROW(2)
        GS_OUTER_ROW(1)
      }
      i0 += mr;
    }
  }
}

/* The drivers work on a local copy of the arguments: stores to C then cannot alias them, and
 * the compiler keeps k, alpha and beta in registers instead of reloading them per tile. */
static GS_TARGET __attribute__((noinline)) void gs_outer_nn(const gs_args *args) {
  gs_args g = *args;
  gs_outer(false, &g);
}
static GS_TARGET __attribute__((noinline)) void gs_outer_tn(const gs_args *args) {
  gs_args g = *args;
  gs_outer(true, &g);
}

/* ---- dot tiles: C[i0.., j0..] (MR x NR), C[i][j] = sum_p a[i*lda + p] * b[j*ldb + p] -----
 * Each element is the sum of the 16 lanes of its accumulator, lane l holding the products
 * p = l (mod 16) in order of p (the k tail through a masked load, zeros beyond k), reduced in
 * the fixed order of gs_hsum4 or gs_hsum1, which compute the same tree. */

/* The four lane sums of v0..v3, as gs_hsum1 computes each: halves of 256, then of 128 bits,
 * then pairs of neighbours, then the two pair sums. */
GS_INLINE __m128 gs_hsum4(__m512 v0, __m512 v1, __m512 v2, __m512 v3) {
  __m256 t0 = _mm256_add_ps(_mm512_castps512_ps256(v0), _mm512_extractf32x8_ps(v0, 1));
  __m256 t1 = _mm256_add_ps(_mm512_castps512_ps256(v1), _mm512_extractf32x8_ps(v1, 1));
  __m256 t2 = _mm256_add_ps(_mm512_castps512_ps256(v2), _mm512_extractf32x8_ps(v2, 1));
  __m256 t3 = _mm256_add_ps(_mm512_castps512_ps256(v3), _mm512_extractf32x8_ps(v3, 1));
  __m128 u0 = _mm_add_ps(_mm256_castps256_ps128(t0), _mm256_extractf128_ps(t0, 1));
  __m128 u1 = _mm_add_ps(_mm256_castps256_ps128(t1), _mm256_extractf128_ps(t1, 1));
  __m128 u2 = _mm_add_ps(_mm256_castps256_ps128(t2), _mm256_extractf128_ps(t2, 1));
  __m128 u3 = _mm_add_ps(_mm256_castps256_ps128(t3), _mm256_extractf128_ps(t3, 1));
  /* hadd(x, y) = {x0+x1, x2+x3, y0+y1, y2+y3} */
  __m128 h01 = _mm_hadd_ps(u0, u1), h23 = _mm_hadd_ps(u2, u3);
  return _mm_hadd_ps(h01, h23);
}

GS_INLINE __m128 gs_hsum1(__m512 v) {
  __m256 t = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 u = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
  __m128 h = _mm_hadd_ps(u, u);
  return _mm_hadd_ps(h, h);
}

GS_INLINE void gs_dot_tile(const int MR, const int NR, const gs_args *g, int i0, int j0) {
  __m512 acc[GS_DOT_MR_MAX][GS_DOT_NR];
#pragma GCC unroll 5
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int c = 0; c < NR; c++)
      acc[r][c] = _mm512_setzero_ps();
  const float *a = g->a + (ptrdiff_t)i0 * g->ai, *b = g->b + (ptrdiff_t)j0 * g->ldb;
  const int k = g->k;
  for (int p = 0; p < k; p += 16) {
    __mmask16 mk = k - p >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (k - p)) - 1u);
    __m512 av[GS_DOT_MR_MAX];
#pragma GCC unroll 5
    for (int r = 0; r < MR; r++)
      av[r] = _mm512_maskz_loadu_ps(mk, a + r * g->ai + p);
#pragma GCC unroll 4
    for (int c = 0; c < NR; c++) {
      __m512 bv = _mm512_maskz_loadu_ps(mk, b + c * g->ldb + p);
#pragma GCC unroll 5
      for (int r = 0; r < MR; r++)
        acc[r][c] = _mm512_fmadd_ps(av[r], bv, acc[r][c]);
    }
  }
  __mmask16 cm = (__mmask16)((1u << NR) - 1u);
#pragma GCC unroll 5
  for (int r = 0; r < MR; r++) {
    __m128 s = NR == 4 ? gs_hsum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]) : gs_hsum1(acc[r][0]);
    float *cp = g->c + (ptrdiff_t)(i0 + r) * g->ldc + j0;
    __m512 out = gs_finish(_mm512_castps128_ps512(s), cp, cm, g->alpha, g->beta);
    _mm512_mask_storeu_ps(cp, cm, out);
  }
}

#define GS_DOT_CASE(MR, NR)                                                                        \
  case MR * 8 + NR:                                                                                \
    gs_dot_tile(MR, NR, g, i0, j0);                                                                \
    break;
#define GS_DOT_ROW(MR) GS_DOT_CASE(MR, 4) GS_DOT_CASE(MR, 1)

static GS_TARGET __attribute__((noinline)) void gs_dot_nt(const gs_args *args) {
  gs_args l = *args;
  const gs_args *g = &l;
  for (int i0 = 0; i0 < g->m;) {
    int mr = g->m - i0 < GS_DOT_MR_MAX ? g->m - i0 : GS_DOT_MR_MAX;
    for (int j0 = 0; j0 < g->n;) {
      int nr = g->n - j0 >= GS_DOT_NR ? GS_DOT_NR : 1;
      switch (mr * 8 + nr) {
        GS_DOT_ROW(5)
        GS_DOT_ROW(4)
        GS_DOT_ROW(3)
        GS_DOT_ROW(2)
        GS_DOT_ROW(1)
      }
      j0 += nr;
    }
    i0 += mr;
  }
}

static bool gs_cpu_ok(void) {
  static _Atomic int ok = -1; /* -1 not asked yet */
  int v = atomic_load_explicit(&ok, memory_order_relaxed);
  if (v < 0) {
    __builtin_cpu_init();
    v = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("fma");
    atomic_store_explicit(&ok, v, memory_order_relaxed);
  }
  return v;
}

bool gb_gemm_small(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                   int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  if (m <= 0 || n <= 0 || k <= 0 || k > GS_MAX_K) return false;
  if (trans_b && (trans_a || k < GS_DOT_MIN_K)) return false;
  if ((long long)m * n * k > GS_MAX_MNK) return false;
  if (!atomic_load_explicit(&gs_enabled, memory_order_relaxed) || !gs_cpu_ok()) return false;
  gs_args g = {.m = m,
               .n = n,
               .k = k,
               .a = a,
               .ai = trans_a ? 1 : lda,
               .ap = trans_a ? lda : 1,
               .b = b,
               .ldb = ldb,
               .alpha = alpha,
               .beta = beta,
               .c = c,
               .ldc = ldc};
  if (trans_b)
    gs_dot_nt(&g);
  else if (trans_a)
    gs_outer_tn(&g);
  else
    gs_outer_nn(&g);
  return true;
}

#else /* not x86-64 GCC/Clang: the library takes every product */

bool gb_gemm_small(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                   int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda;
  (void)b, (void)ldb, (void)beta, (void)c, (void)ldc;
  return false;
}

#endif
