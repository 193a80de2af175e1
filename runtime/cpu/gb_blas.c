/* gb_blas.c — the CPU BLAS behind gb_blas_sgemm (gb_blas.h): OpenBLAS (GB_BLAS_OPENBLAS) or
 * BLIS (GB_BLAS_BLIS), as cmake/blas.cmake decides. Both pick kernels from CPUID and can guess
 * low on CPUs newer than their release or on VMs with generic model names; gb_blas_init fixes
 * that once, before the first product (every entry point runs it through pthread_once), and
 * for OpenBLAS it is also where the library is opened. */
#define _GNU_SOURCE /* setenv/unsetenv under -std=c11 */
#include "gb_blas.h"
#include "gb_gemm_small.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#if defined(GB_BLAS_BLIS)
#include <blis.h>
#else
#include <cblas.h>
#endif

#include "gb_cpu_pool.h"

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static char blas_name[160] = "unknown BLAS";
static int blas_default_threads = 1;
static _Atomic int blas_max_threads = 1; /* gb_blas_set_threads, else the library default */

/* Threading by size. OpenBLAS's workers spin (sched_yield) for ~0.1 s after every threaded call
 * before they sleep, and each call waits for all of them: a model made of medium products, like
 * the seed MLP (1e7 multiply-adds each, one every ~0.2 ms), keeps a second core spinning, and as
 * soon as anything else wants a core the call waits for a descheduled worker: 1.2-3x slower
 * epochs, once 60x. So products of GB_BLAS_SPLIT_MIN_MNK multiply-adds (m*n*k) and up are cut in
 * two halves that the caller and a worker of the CPU pool (gb_cpu_pool.h, the threads that also
 * run the kernels' loops and jobs) claim; the pool's workers spin only briefly before they
 * sleep, and if the worker is late the caller takes its half too, so a busy machine costs about
 * the single-thread time. With two threads allowed (a 2-core machine) every such product is
 * split; with GB_BLAS_LIB_MIN_THREADS or more, products of GB_BLAS_MT_MIN_MNK and up use all of
 * the library's threads instead. Smaller products, and products asked for while the pool
 * serves another call (a kernel's job, another thread), run on the calling thread.
 * docs/benchmarks.md has the measurements. */
#ifndef GB_BLAS_MT_MIN_MNK /* all overridable for scripts/bench/blas_*.sh */
#define GB_BLAS_MT_MIN_MNK (1LL << 24)
#endif
#ifndef GB_BLAS_LIB_MIN_THREADS
#define GB_BLAS_LIB_MIN_THREADS 3
#endif
#ifndef GB_BLAS_SPLIT_MIN_MNK
#define GB_BLAS_SPLIT_MIN_MNK (1LL << 21)
#endif

/* The best x86 kernel family this CPU and OS can run: 3 AVX-512, 2 AVX2+FMA, 1 AVX, 0 other.
 * __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0). */
__attribute__((unused)) static int cpu_simd_level(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return 3;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
  if (__builtin_cpu_supports("avx")) return 1;
#endif
  return 0;
}

#if !defined(GB_BLAS_BLIS)
/* ---- OpenBLAS ------------------------------------------------------------------------------
 * OpenBLAS is opened with dlopen on the first use of gb_blas (every entry point runs
 * gb_blas_init once), not linked: loading it costs about 11 ms of CPU and starts its worker
 * threads, which spin for a while, and start-up or a script that never multiplies should pay
 * neither. GB_OPENBLAS_SONAME comes from cmake/blas.cmake. Without the library (it is a
 * dependency, so this means a broken install) products run on plain loops and gb_blas_name
 * says why; nothing fails.
 *
 * A DYNAMIC_ARCH OpenBLAS (Debian's, PyPI's) chooses its kernel table ("core") in a load-time
 * constructor, from the CPU model number. Models it does not know (newer Xeons, some
 * hypervisors) fall back to "Prescott", SSE3 kernels about 4x slower than the AVX-512 ones on
 * the same machine. OPENBLAS_CORETYPE is read only by that constructor, so instead we redo its
 * selection: gotoblas_dynamic_quit() clears the choice and gotoblas_dynamic_init() makes it
 * again, reading OPENBLAS_CORETYPE, which we set for that one call and then restore. Those
 * entry points and the kernel tables (gotoblas_SKYLAKEX, ...) are exported by every
 * DYNAMIC_ARCH build but are not in cblas.h; a single-target OpenBLAS, where the core was fixed
 * at compile time, lacks them, and we then just report its core. */
#ifndef GB_OPENBLAS_SONAME
#define GB_OPENBLAS_SONAME "libopenblas.so.0"
#endif

static struct {
  __typeof__(cblas_sgemm) *sgemm; /* NULL: the library did not load (blas_name says why) */
  __typeof__(cblas_dgemm) *dgemm; /* float64 products; NULL: the reference loop */
  __typeof__(openblas_set_num_threads) *set_num_threads;
  __typeof__(openblas_get_num_threads) *get_num_threads;
  __typeof__(openblas_get_corename) *get_corename;
  __typeof__(openblas_get_config) *get_config;
  void (*dynamic_init)(void), (*dynamic_quit)(void); /* NULL in a single-target build */
  bool has_skylakex, has_haswell, has_sandybridge;   /* kernel tables built in */
} openblas;

/* Opens the library and resolves what we call; false (and blas_name set) if it is missing. */
static bool openblas_open(void) {
  void *lib = dlopen(GB_OPENBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(blas_name, sizeof blas_name, "no BLAS (%s), reference loops", dlerror());
    return false;
  }
  /* POSIX lets a data pointer hold a function's address (dlsym's own contract). */
#define GB_RESOLVE(field, symbol) *(void **)&openblas.field = dlsym(lib, symbol)
  GB_RESOLVE(set_num_threads, "openblas_set_num_threads");
  GB_RESOLVE(get_num_threads, "openblas_get_num_threads");
  GB_RESOLVE(get_corename, "openblas_get_corename");
  GB_RESOLVE(get_config, "openblas_get_config");
  GB_RESOLVE(dynamic_init, "gotoblas_dynamic_init");
  GB_RESOLVE(dynamic_quit, "gotoblas_dynamic_quit");
  GB_RESOLVE(sgemm, "cblas_sgemm");
  GB_RESOLVE(dgemm, "cblas_dgemm");
#undef GB_RESOLVE
  openblas.has_skylakex = dlsym(lib, "gotoblas_SKYLAKEX") != NULL;
  openblas.has_haswell = dlsym(lib, "gotoblas_HASWELL") != NULL;
  openblas.has_sandybridge = dlsym(lib, "gotoblas_SANDYBRIDGE") != NULL;
  if (!openblas.sgemm || !openblas.set_num_threads || !openblas.get_num_threads ||
      !openblas.get_corename || !openblas.get_config) {
    snprintf(blas_name, sizeof blas_name, "no BLAS (%s lacks the OpenBLAS API), reference loops",
             GB_OPENBLAS_SONAME);
    openblas.sgemm = NULL;
    openblas.dgemm = NULL;
    return false;
  }
  return true;
}

/* Rank of an OpenBLAS x86 core name on the cpu_simd_level scale. */
static int openblas_core_level(const char *core) {
  static const char *const l3[] = {"skylakex", "cooperlake", "sapphirerapids", "zen4", NULL};
  static const char *const l2[] = {"haswell", "zen", NULL};
  static const char *const l1[] = {"sandybridge", "bulldozer", "piledriver",
                                   "steamroller", "excavator", NULL};
  for (int i = 0; l3[i]; i++)
    if (!strcasecmp(core, l3[i])) return 3;
  for (int i = 0; l2[i]; i++)
    if (!strcasecmp(core, l2[i])) return 2;
  for (int i = 0; l1[i]; i++)
    if (!strcasecmp(core, l1[i])) return 1;
  return 0;
}

/* Re-selects the core as `want` (an OPENBLAS_CORETYPE name). OpenBLAS reads the kernel table
 * per call, so buffers and threads carry on with the new one. The switch must not overlap
 * OpenBLAS's own lazy initialization: its worker threads, started by the load-time
 * constructor, run blas_memory_alloc on first wake-up, and until the process's first BLAS call
 * has initialized the memory pool that path calls gotoblas_dynamic_init (getenv included)
 * itself. A small threaded product first (128^3 is above OpenBLAS's threading threshold)
 * completes that initialization and waits for the workers, so nothing else touches the core
 * table or the environment while we swap it. */
static void openblas_force_core(const char *want) {
  static float a[128 * 128], b[128 * 128], c[128 * 128];
  openblas.sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 128, 128, 128, 1.0f, a, 128, b, 128,
                 0.0f, c, 128);
  openblas.dynamic_quit();
  setenv("OPENBLAS_CORETYPE", want, 1);
  openblas.dynamic_init();
  unsetenv("OPENBLAS_CORETYPE"); /* keep it out of child processes' environment */
}

static void gb_blas_init(void) {
  if (!openblas_open()) return; /* reference loops, one thread */
  char auto_core[32];
  snprintf(auto_core, sizeof auto_core, "%s", openblas.get_corename());
  bool replaced = false;
  int have = openblas_core_level(auto_core), can = cpu_simd_level();
  if (!getenv("OPENBLAS_CORETYPE") && can > have && openblas.dynamic_init &&
      openblas.dynamic_quit) {
    const char *want = NULL;
    if (can >= 3 && openblas.has_skylakex)
      want = "SkylakeX";
    else if (can >= 2 && openblas.has_haswell)
      want = "Haswell";
    else if (can >= 1 && openblas.has_sandybridge)
      want = "Sandybridge";
    if (want) {
      openblas_force_core(want);
      replaced = true;
    }
  }
  /* openblas_get_config(): "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..."; keep 2 words. */
  char version[48] = "OpenBLAS";
  const char *cfg = openblas.get_config();
  if (cfg && !strncmp(cfg, "OpenBLAS ", 9)) {
    size_t len = strcspn(cfg + 9, " ");
    snprintf(version, sizeof version, "OpenBLAS %.*s", (int)len, cfg + 9);
  }
  if (replaced)
    snprintf(blas_name, sizeof blas_name, "%s %s (auto-detected %s)", version,
             openblas.get_corename(), auto_core);
  else
    snprintf(blas_name, sizeof blas_name, "%s %s", version, openblas.get_corename());
  blas_default_threads = openblas.get_num_threads();
  if (blas_default_threads < 1) blas_default_threads = 1;
  atomic_store(&blas_max_threads, blas_default_threads);
}

/* OpenBLAS has one process-wide thread count; it is changed only when a call needs another
 * value than the last one. Two gb_states multiplying at once from different threads may see
 * each other's setting: a matter of speed, never of results. */
static _Atomic int openblas_cur_threads = -1;

/* C = alpha * op(A) op(B) + beta * C with plain loops, for an install without its BLAS:
 * correct (beta == 0 overwrites, as in BLAS) and slow. */
static void reference_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a,
                            int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      float acc = 0.0f;
      for (int p = 0; p < k; p++)
        acc += (ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) *
               (tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j]);
      float *out = c + (size_t)i * ldc + j;
      *out = alpha * acc + (beta == 0.0f ? 0.0f : beta * *out);
    }
}

static void library_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a,
                          int lda, const float *b, int ldb, float beta, float *c, int ldc,
                          int threads) {
  if (!openblas.sgemm) {
    reference_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  if (atomic_load_explicit(&openblas_cur_threads, memory_order_relaxed) != threads) {
    openblas.set_num_threads(threads);
    atomic_store_explicit(&openblas_cur_threads, threads, memory_order_relaxed);
  }
  openblas.sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                 n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void reference_dgemm(bool ta, bool tb, int m, int n, int k, double alpha, const double *a,
                            int lda, const double *b, int ldb, double beta, double *c, int ldc);

static void blas_dgemm(bool ta, bool tb, int m, int n, int k, double alpha, const double *a,
                       int lda, const double *b, int ldb, double beta, double *c, int ldc,
                       int threads) {
  if (!openblas.dgemm) {
    reference_dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  if (atomic_load_explicit(&openblas_cur_threads, memory_order_relaxed) != threads) {
    openblas.set_num_threads(threads);
    atomic_store_explicit(&openblas_cur_threads, threads, memory_order_relaxed);
  }
  openblas.dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                 n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

#else
/* ---- BLIS ----------------------------------------------------------------------------------
 * BLIS initializes lazily (first call or bli_init) and reads BLIS_ARCH_TYPE then. Its AVX-512
 * ("skx") detection also wants a known Xeon model name to count FMA units and otherwise takes
 * "haswell" (AVX2), about 1.5x slower here; on Intel CPUs with AVX-512 we ask for skx for the
 * duration of bli_init. BLIS runs single-threaded unless told; we default to one thread per
 * online core. */
static int online_cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static void gb_blas_init(void) {
  bool user_arch = getenv("BLIS_ARCH_TYPE") != NULL;
#if defined(__x86_64__) && defined(__GNUC__)
  if (!user_arch && cpu_simd_level() >= 3 && __builtin_cpu_is("intel")) {
    char id[16]; /* BLIS 0.9 parses the variable as an arch_t number, not a name */
    snprintf(id, sizeof id, "%d", (int)BLIS_ARCH_SKX);
    setenv("BLIS_ARCH_TYPE", id, 1);
  }
#endif
  bli_init();
  if (!user_arch) unsetenv("BLIS_ARCH_TYPE");
  snprintf(blas_name, sizeof blas_name, "BLIS %s %s", bli_info_get_version_str(),
           bli_arch_string(bli_arch_query_id()));
  bool user_threads = getenv("BLIS_NUM_THREADS") || getenv("OMP_NUM_THREADS");
  if (!user_threads) bli_thread_set_num_threads(online_cores());
  blas_default_threads = (int)bli_thread_get_num_threads();
  if (blas_default_threads < 1) blas_default_threads = 1;
  atomic_store(&blas_max_threads, blas_default_threads);
}

/* BLIS takes the thread count per call (rntm_t), so concurrent callers do not interfere. */
static void library_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a,
                          int lda, const float *b, int ldb, float beta, float *c, int ldc,
                          int threads) {
  rntm_t rntm = BLIS_RNTM_INITIALIZER;
  bli_rntm_set_num_threads(threads, &rntm);
  /* BLIS takes general strides of the stored operands; transposition is a flag. */
  bli_sgemm_ex(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, m,
               n, k, &alpha, (float *)a, lda, 1, (float *)b, ldb, 1, &beta, c, ldc, 1, NULL, &rntm);
}

static void blas_dgemm(bool ta, bool tb, int m, int n, int k, double alpha, const double *a,
                       int lda, const double *b, int ldb, double beta, double *c, int ldc,
                       int threads) {
  rntm_t rntm = BLIS_RNTM_INITIALIZER;
  bli_rntm_set_num_threads(threads, &rntm);
  bli_dgemm_ex(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, m,
               n, k, &alpha, (double *)a, lda, 1, (double *)b, ldb, 1, &beta, c, ldc, 1, NULL,
               &rntm);
}
#endif

/* Every single-threaded product first offers itself to gpubp's own small-product kernels
 * (gb_gemm_small.h says which it takes); the rest, and every threaded one, go to the library. */
static void blas_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                       const float *b, int ldb, float beta, float *c, int ldc, int threads) {
  if (threads == 1 && gb_gemm_small(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
  library_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
}

/* ---- float64: gb_blas_dgemm (the library's dgemm on its own threads, no split) ---------- */

#if !defined(GB_BLAS_BLIS)
/* The double twin of reference_sgemm; also what a build without cblas_dgemm runs. */
static void reference_dgemm(bool ta, bool tb, int m, int n, int k, double alpha, const double *a,
                            int lda, const double *b, int ldb, double beta, double *c, int ldc) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double acc = 0.0;
      for (int p = 0; p < k; p++)
        acc += (ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) *
               (tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j]);
      double *out = c + (size_t)i * ldc + j;
      *out = alpha * acc + (beta == 0.0 ? 0.0 : beta * *out);
    }
}
#endif

void gb_blas_dgemm(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double *a,
                   int lda, const double *b, int ldb, double beta, double *c, int ldc) {
  pthread_once(&blas_once, gb_blas_init);
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0) { /* no product: C = beta * C, beta == 0 overwriting */
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++)
        c[(size_t)i * ldc + j] = beta == 0.0 ? 0.0 : beta * c[(size_t)i * ldc + j];
    return;
  }
  int a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
  int b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
  if (a_rows == 1 && lda < a_cols) lda = a_cols;
  if (b_rows == 1 && ldb < b_cols) ldb = b_cols;
  if (m == 1 && ldc < n) ldc = n;
  int threads = (long long)m * n * k >= GB_BLAS_MT_MIN_MNK
                    ? atomic_load_explicit(&blas_max_threads, memory_order_relaxed)
                    : 1;
  blas_dgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
}

/* ---- the two-way split (see "Threading by size" at the top) ---------------------------- */

typedef struct split_job {
  bool ta, tb, split_m;
  int m, n, k, lda, ldb, ldc, half;
  float alpha, beta;
  const float *a, *b;
  float *c;
} split_job;

/* Computes half `h` (0 or 1) of the job: rows of C when split_m, else columns. */
static void split_run_half(void *ctx, int worker, int64_t h) {
  (void)worker;
  split_job *j = ctx;
  int len = j->split_m ? j->m : j->n;
  int lo = h ? j->half : 0, cnt = h ? len - j->half : j->half;
  if (j->split_m) {
    const float *a = j->ta ? j->a + lo : j->a + (size_t)lo * j->lda; /* op(A) rows lo.. */
    blas_sgemm(j->ta, j->tb, cnt, j->n, j->k, j->alpha, a, j->lda, j->b, j->ldb, j->beta,
               j->c + (size_t)lo * j->ldc, j->ldc, 1);
  } else {
    const float *b = j->tb ? j->b + (size_t)lo * j->ldb : j->b + lo; /* op(B) columns lo.. */
    blas_sgemm(j->ta, j->tb, j->m, cnt, j->k, j->alpha, j->a, j->lda, b, j->ldb, j->beta, j->c + lo,
               j->ldc, 1);
  }
}

/* Runs the product as two halves on the CPU pool (gb_cpu_pool.h); false, having done nothing,
 * when the pool serves another call or has no worker. */
static bool split_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                        const float *b, int ldb, float beta, float *c, int ldc) {
  split_job j = {.ta = ta,
                 .tb = tb,
                 .split_m = m >= n,
                 .m = m,
                 .n = n,
                 .k = k,
                 .lda = lda,
                 .ldb = ldb,
                 .ldc = ldc,
                 .half = (m >= n ? m : n) / 2,
                 .alpha = alpha,
                 .beta = beta,
                 .a = a,
                 .b = b,
                 .c = c};
  return gb_cpu_pool_run(2, 2, split_run_half, &j, NULL);
}

static int imax(int a, int b) {
  return a > b ? a : b;
}

static void sgemm_any(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                      int lda, const float *b, int ldb, float beta, float *c, int ldc,
                      bool may_thread) {
  pthread_once(&blas_once, gb_blas_init);
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {
    /* No product: BLAS would demand lda >= 1 etc. for nothing; do C = beta*C here, with
     * beta == 0 meaning "overwrite" as in BLAS. */
    for (int i = 0; i < m; i++) {
      float *row = c + (size_t)i * ldc;
      for (int j = 0; j < n; j++)
        row[j] = beta == 0.0f ? 0.0f : beta * row[j];
    }
    return;
  }
  /* Stored shapes: A is (m,k) or (k,m), B is (k,n) or (n,k). With a single stored row the
   * stride is never used, but BLAS still checks it against the row length. */
  int a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
  int b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
  if (a_rows == 1) lda = imax(lda, a_cols);
  if (b_rows == 1) ldb = imax(ldb, b_cols);
  if (m == 1) ldc = imax(ldc, n);
  int threads = may_thread ? atomic_load_explicit(&blas_max_threads, memory_order_relaxed) : 1;
  long long mnk = (long long)m * n * k;
  bool lib_size = threads >= GB_BLAS_LIB_MIN_THREADS && mnk >= GB_BLAS_MT_MIN_MNK;
  bool split_ok = threads >= 2 && !lib_size;
  if (split_ok && mnk >= GB_BLAS_SPLIT_MIN_MNK && (m >= 2 || n >= 2) &&
      split_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
    return;
  if (!lib_size) threads = 1; /* small, or the pool serves another call */
  blas_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
}

void gb_blas_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                   int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  sgemm_any(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, true);
}

void gb_blas_sgemm_serial(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                          const float *a, int lda, const float *b, int ldb, float beta, float *c,
                          int ldc) {
  sgemm_any(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, false);
}

const char *gb_blas_name(void) {
  pthread_once(&blas_once, gb_blas_init);
  return blas_name;
}

void gb_blas_set_threads(int n) {
  pthread_once(&blas_once, gb_blas_init);
  atomic_store(&blas_max_threads, n > 0 ? n : blas_default_threads);
}

int gb_blas_threads(void) {
  pthread_once(&blas_once, gb_blas_init);
  return atomic_load(&blas_max_threads);
}
