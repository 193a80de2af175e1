/* test_blas.c — gb_blas_sgemm against a naive triple loop: all four transpose combinations,
 * padded row strides, beta != 0, alpha != 1, k == 0, single rows; and, with a DYNAMIC_ARCH
 * OpenBLAS, that a weak auto-detected core (Prescott) is replaced by the CPU's best kernels. */
#define _GNU_SOURCE /* setenv/unsetenv, fork under -std=c11 */

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "gb_blas.h"

static unsigned rng_state = 12345u;
static float frand(void) { /* uniform in [-1, 1), deterministic */
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float)((rng_state >> 8) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

/* Reference: C(m,n) = alpha*op(A)*op(B) + beta*C in double, row-major with strides. */
static void ref_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double acc = 0.0;
      for (int p = 0; p < k; p++) {
        double av = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
        double bv = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
        acc += av * bv;
      }
      double old = beta == 0.0f ? 0.0 : (double)beta * c[(size_t)i * ldc + j];
      c[(size_t)i * ldc + j] = (float)(alpha * acc + old);
    }
}

/* One case: random A, B, C with `pad` extra elements per row; compares the whole C buffer,
 * padding included (it must stay untouched). */
static void check_case(bool ta, bool tb, int m, int n, int k, float alpha, float beta, int pad) {
  int a_rows = ta ? k : m, a_cols = ta ? m : k;
  int b_rows = tb ? n : k, b_cols = tb ? k : n;
  int lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
  size_t na = (size_t)(a_rows > 0 ? a_rows : 1) * (lda > 0 ? lda : 1);
  size_t nb = (size_t)(b_rows > 0 ? b_rows : 1) * (ldb > 0 ? ldb : 1);
  size_t nc = (size_t)(m > 0 ? m : 1) * (ldc > 0 ? ldc : 1);
  float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
  float *c = malloc(nc * sizeof *c), *want = malloc(nc * sizeof *want);
  if (!a || !b || !c || !want) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  for (size_t i = 0; i < na; i++)
    a[i] = frand();
  for (size_t i = 0; i < nb; i++)
    b[i] = frand();
  for (size_t i = 0; i < nc; i++)
    c[i] = want[i] = frand();
  gb_blas_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  ref_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc);
  double worst = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < nc; i++) {
    double err = fabs((double)c[i] - want[i]) / (1.0 + fabs((double)want[i]));
    if (!(err <= worst)) { /* also catches NaN */
      worst = isnan(err) ? INFINITY : err;
      at = i;
    }
  }
  /* float32 dot products of length k with |terms| <= 1: error grows ~ k * 2^-24. */
  double tol = 1e-5 * (k + 1);
  CHECK(worst <= tol,
        "sgemm ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g pad=%d: rel err %g "
        "at %zu (got %g, want %g)",
        ta, tb, m, n, k, alpha, beta, pad, worst, at, c[at], want[at]);
  free(a);
  free(b);
  free(c);
  free(want);
}

/* beta == 0 must overwrite C, even where it holds NaN (BLAS semantics). */
static void check_beta0_nan(void) {
  float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, c[4];
  for (int i = 0; i < 4; i++)
    c[i] = NAN;
  gb_blas_sgemm(false, false, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2);
  /* [1 2 3; 4 5 6] * [1 0; 0 1; 1 1] = [4 5; 10 11] */
  CHECK(c[0] == 4 && c[1] == 5 && c[2] == 10 && c[3] == 11, "beta=0 over NaN: %g %g %g %g", c[0],
        c[1], c[2], c[3]);
  for (int i = 0; i < 4; i++)
    c[i] = NAN;
  gb_blas_sgemm(false, false, 2, 2, 0, 1.0f, a, 3, b, 2, 0.0f, c, 2);
  CHECK(c[0] == 0 && c[1] == 0 && c[2] == 0 && c[3] == 0, "k=0, beta=0 must zero C");
  float d[2] = {2, 3};
  gb_blas_sgemm(false, false, 1, 2, 0, 1.0f, a, 0, b, 0, 0.5f, d, 0);
  CHECK(d[0] == 1 && d[1] == 1.5f, "k=0, beta=0.5 must scale C: %g %g", d[0], d[1]);
}

/* Several threads multiplying at once (split products share one helper thread). */
#define CONC_THREADS 3
#define CONC_M 100
#define CONC_N 128
#define CONC_K 784
static float conc_a[CONC_M * CONC_K], conc_b[CONC_N * CONC_K], conc_want[CONC_M * CONC_N];
static int conc_bad[CONC_THREADS];

static void *conc_worker(void *arg) {
  int id = (int)(intptr_t)arg;
  static float c[CONC_THREADS][CONC_M * CONC_N];
  for (int rep = 0; rep < 30; rep++) {
    gb_blas_sgemm(false, true, CONC_M, CONC_N, CONC_K, 1.0f, conc_a, CONC_K, conc_b, CONC_K, 0.0f,
                  c[id], CONC_N);
    for (int i = 0; i < CONC_M * CONC_N; i++)
      if (!(fabsf(c[id][i] - conc_want[i]) <= 1e-3f * (1.0f + fabsf(conc_want[i])))) {
        conc_bad[id]++;
        break;
      }
  }
  return NULL;
}

static void check_concurrent(void) {
  for (int i = 0; i < CONC_M * CONC_K; i++)
    conc_a[i] = frand();
  for (int i = 0; i < CONC_N * CONC_K; i++)
    conc_b[i] = frand();
  ref_sgemm(false, true, CONC_M, CONC_N, CONC_K, 1.0f, conc_a, CONC_K, conc_b, CONC_K, 0.0f,
            conc_want, CONC_N);
  pthread_t t[CONC_THREADS];
  for (int i = 0; i < CONC_THREADS; i++)
    if (pthread_create(&t[i], NULL, conc_worker, (void *)(intptr_t)i) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      exit(2);
    }
  for (int i = 0; i < CONC_THREADS; i++) {
    pthread_join(t[i], NULL);
    CHECK(conc_bad[i] == 0, "concurrent sgemm, thread %d: %d wrong results", i, conc_bad[i]);
  }
}

/* A child of fork() (after split products started the helper thread) still multiplies. The
 * pause first lets the helper stop spinning and block on its condition variable, the state
 * in which a child that inherited the variable as it was hung in pthread_cond_signal. */
__attribute__((unused)) static void check_fork(void) {
  usleep(20 * 1000);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "fork failed\n");
    exit(2);
  }
  if (pid == 0) {
    static float c[CONC_M * CONC_N];
    for (int rep = 0; rep < 3; rep++) {
      gb_blas_sgemm(false, true, CONC_M, CONC_N, CONC_K, 1.0f, conc_a, CONC_K, conc_b, CONC_K, 0.0f,
                    c, CONC_N);
      for (int i = 0; i < CONC_M * CONC_N; i++)
        if (!(fabsf(c[i] - conc_want[i]) <= 1e-3f * (1.0f + fabsf(conc_want[i])))) _exit(1);
    }
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sgemm in a forked child failed (status %d)",
        status);
}

#if defined(GB_BLAS_OPENBLAS)
#include <cblas.h>

/* Simulates OpenBLAS auto-detecting the generic Prescott core (as it does on CPU models newer
 * than its release) before gb_blas's first use, then checks gb_blas replaced it. */
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

static void degrade_openblas_core(void) {
  if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit || getenv("OPENBLAS_CORETYPE")) return;
  /* Let OpenBLAS finish its lazy initialization first (see openblas_force_core). */
  static float a[128 * 128], b[128 * 128], c[128 * 128];
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 128, 128, 128, 1.0f, a, 128, b, 128, 0.0f,
              c, 128);
  gotoblas_dynamic_quit();
  setenv("OPENBLAS_CORETYPE", "Prescott", 1);
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
}

/* `user_core`: the OPENBLAS_CORETYPE the environment set before the test began, or NULL. A
 * user's choice is kept as it is; only OpenBLAS's own detection is second-guessed. */
static void check_core_upgrade(const char *user_core) {
  const char *name = gb_blas_name();
  printf("BLAS: %s, %d threads\n", name, gb_blas_threads());
  if (!gotoblas_dynamic_init) return; /* single-target OpenBLAS: nothing to choose */
  if (user_core) {
    CHECK(strstr(name, "auto-detected") == NULL, "a core the user set was replaced: %s", name);
    CHECK(strcasecmp(openblas_get_corename(), user_core) == 0,
          "OPENBLAS_CORETYPE=%s not honoured: %s", user_core, name);
    return;
  }
  bool avx = false;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  avx = __builtin_cpu_supports("avx");
#endif
  if (avx) {
    CHECK(strcasecmp(openblas_get_corename(), "prescott") != 0,
          "OpenBLAS still on Prescott kernels on an AVX CPU: %s", name);
    CHECK(strstr(name, "(auto-detected Prescott)") != NULL, "name should say what was replaced: %s",
          name);
  }
}
#endif

int main(void) {
#if defined(GB_BLAS_OPENBLAS)
  const char *user_core = getenv("OPENBLAS_CORETYPE");
  degrade_openblas_core(); /* before any gb_blas call: gb_blas initializes on first use */
  check_core_upgrade(user_core);
#else
  printf("BLAS: %s, %d threads\n", gb_blas_name(), gb_blas_threads());
#endif
  for (int threads = 1; threads <= 3; threads++) { /* 3: library threads for large products */
    gb_blas_set_threads(threads);
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        check_case(ta, tb, 7, 5, 3, 1.0f, 0.0f, 0);
        check_case(ta, tb, 33, 17, 29, 0.75f, -1.5f, 3);
        check_case(ta, tb, 100, 128, 784, 1.0f, 0.0f, 0);   /* seed MLP layer 1 */
        check_case(ta, tb, 100, 10, 128, 1.0f, 1.0f, 5);    /* layer 2, accumulate */
        check_case(ta, tb, 128, 784, 100, -0.01f, 1.0f, 1); /* weight-gradient-like */
        check_case(ta, tb, 1, 9, 4, 2.0f, 0.5f, 0);         /* single rows */
        check_case(ta, tb, 9, 1, 4, 1.0f, 0.25f, 2);
        check_case(ta, tb, 130, 70, 1, 1.0f, 0.0f, 0);    /* outer product */
        check_case(ta, tb, 4, 4, 0, 1.0f, 0.5f, 1);       /* k == 0 */
        check_case(ta, tb, 0, 4, 4, 1.0f, 0.5f, 1);       /* m == 0 */
        check_case(ta, tb, 101, 67, 400, 0.5f, 1.0f, 3);  /* split in two halves */
        check_case(ta, tb, 256, 260, 300, 1.0f, 0.5f, 2); /* above the threading threshold */
      }
  }
  gb_blas_set_threads(0);
  check_beta0_nan();
  check_concurrent();
#if !defined(__SANITIZE_THREAD__) /* TSan cannot start threads after a threaded fork */
  check_fork();
#endif
  if (failures) {
    fprintf(stderr, "test_blas: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_blas: ok\n");
  return 0;
}
