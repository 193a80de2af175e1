/* sgemm_bench.c — GFLOP/s of gb_blas_sgemm (runtime/cpu/gb_blas.c) on square products and on the
 * seed MLP's layer shapes; built and run by scripts/bench/run.py (benchmark e), or by hand:
 *   cc -O2 -DGB_BLAS_OPENBLAS -Iruntime/cpu -Iruntime/core runtime/cpu/gb_blas.c \
 *      runtime/cpu/gb_gemm_small.c runtime/cpu/gb_cpu_pool.c scripts/bench/sgemm_bench.c \
 *      $(pkg-config --cflags openblas) -lpthread -ldl -lm -o sgemm_bench */
#define _POSIX_C_SOURCE 200809L
#include "gb_blas.h"
#include "gb_gemm_small.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Best-of-`reps` seconds per call of C(m,n) = op(A) op(B), each rep timing enough calls to
 * fill ~`budget` seconds. Prints one "BENCH key value" line in GFLOP/s and one in us. */
static void run(const char *key, bool ta, bool tb, int m, int n, int k, int reps, double budget) {
  float *a = malloc(sizeof(float) * (size_t)m * k), *b = malloc(sizeof(float) * (size_t)k * n);
  float *c = malloc(sizeof(float) * (size_t)m * n);
  if (!a || !b || !c) {
    fprintf(stderr, "sgemm_bench: out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < (size_t)m * k; i++)
    a[i] = (float)(i % 7) * 0.1f;
  for (size_t i = 0; i < (size_t)k * n; i++)
    b[i] = (float)(i % 5) * 0.1f;
  int lda = ta ? m : k, ldb = tb ? k : n;
  double flop = 2.0 * m * n * k;
  double t0 = now();
  gb_blas_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n); /* warm-up */
  double once = now() - t0;
  int calls = (int)(budget / (once > 1e-7 ? once : 1e-7));
  if (calls < 1) calls = 1;
  if (calls > 100000) calls = 100000;
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    t0 = now();
    for (int i = 0; i < calls; i++)
      gb_blas_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
    double t = (now() - t0) / calls;
    if (t < best) best = t;
  }
  printf("BENCH %s_gflops %.1f\n", key, flop / best * 1e-9);
  printf("BENCH %s_us %.2f\n", key, best * 1e6);
  fflush(stdout);
  free(a);
  free(b);
  free(c);
}

int main(int argc, char **argv) {
  int threads = 0, reps = 3, maxn = 4096;
  bool shapes = true;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--max") && i + 1 < argc)
      maxn = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-shapes"))
      shapes = false;
    else if (!strcmp(argv[i], "--library-only")) /* the library alone, not gb_gemm_small */
      gb_gemm_small_set_enabled(false);
    else {
      fprintf(stderr, "usage: sgemm_bench [--threads N] [--reps N] [--max N] [--no-shapes] "
                      "[--library-only]\n");
      return 2;
    }
  }
  gb_blas_set_threads(threads);
  printf("BLAS %s\n", gb_blas_name());
  printf("THREADS %d\n", gb_blas_threads());
  for (int n = 512; n <= maxn; n *= 2) {
    char key[32];
    snprintf(key, sizeof key, "sq%d", n);
    run(key, false, false, n, n, n, reps, n >= 4096 ? 0.5 : 0.25);
  }
  if (shapes) { /* the seed MLP at batch 100: forward, then the two backward products */
    run("fc1_fwd", false, true, 100, 128, 784, reps, 0.1); /* x(100,784) W1^T */
    run("fc1_dw", true, false, 128, 784, 100, reps, 0.1);  /* g^T(128,100) x */
    run("fc1_dx", false, false, 100, 784, 128, reps, 0.1); /* g(100,128) W1 */
    run("fc2_fwd", false, true, 100, 10, 128, reps, 0.05); /* h(100,128) W2^T */
    run("fc2_dw", true, false, 10, 128, 100, reps, 0.05);
    run("fc2_dx", false, false, 100, 128, 10, reps, 0.05);
  }
  return 0;
}
