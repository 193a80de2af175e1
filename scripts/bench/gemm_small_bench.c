/* gemm_small_bench.c — gb_gemm_small (runtime/cpu/gb_gemm_small.c) against the BLAS library
 * behind gb_blas, one thread, at the seed MLP's products (whole and as gb_blas's two halves)
 * and a few larger ones: CPU time of the calling thread per call, the two paths alternated
 * round by round so both see the same machine, median and best of the rounds. Also checks
 * that the two agree (max relative difference). Build and run:
 *   cc -O2 -std=c11 -DGB_BLAS_OPENBLAS -Iruntime/cpu -Iruntime/core \
 *      $(pkg-config --cflags openblas) runtime/cpu/gb_blas.c runtime/cpu/gb_gemm_small.c \
 *      runtime/cpu/gb_cpu_pool.c scripts/bench/gemm_small_bench.c -lpthread -ldl -lm \
 *      -o build/gemm_small_bench
 *   build/gemm_small_bench [rounds=15] */
#define _POSIX_C_SOURCE 200809L
#include "gb_blas.h"
#include "gb_gemm_small.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

typedef struct shape {
  const char *what;
  bool ta, tb;
  int m, n, k;
  float beta;
} shape;

/* Seconds per call of `calls` back-to-back products with the small path on or off. */
static double time_calls(const shape *s, bool small, int calls, const float *a, const float *b,
                         float *c) {
  gb_gemm_small_set_enabled(small);
  int lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
  double t0 = cpu_now();
  for (int i = 0; i < calls; i++)
    gb_blas_sgemm(s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, s->beta, c, s->n);
  return (cpu_now() - t0) / calls;
}

static void run(const shape *s, int rounds) {
  size_t na = (size_t)s->m * s->k, nb = (size_t)s->k * s->n, nc = (size_t)s->m * s->n;
  float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
  float *c0 = malloc(nc * sizeof *c0), *c1 = malloc(nc * sizeof *c1);
  if (!a || !b || !c0 || !c1) {
    fprintf(stderr, "gemm_small_bench: out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < na; i++)
    a[i] = (float)((i * 7) % 13) * 0.1f - 0.6f;
  for (size_t i = 0; i < nb; i++)
    b[i] = (float)((i * 5) % 11) * 0.1f - 0.5f;
  for (size_t i = 0; i < nc; i++)
    c0[i] = c1[i] = 0.25f;
  /* agreement first, from the same C (beta may be 1) */
  time_calls(s, false, 1, a, b, c0);
  time_calls(s, true, 1, a, b, c1);
  double diff = 0.0;
  for (size_t i = 0; i < nc; i++) {
    double d = fabs((double)c0[i] - c1[i]) / (1.0 + fabs((double)c0[i]));
    if (!(d <= diff)) diff = d;
  }
  double flop = 2.0 * s->m * s->n * s->k;
  int calls = (int)(2e-3 / (flop / 50e9)); /* ~2 ms of work per round at 50 GFLOP/s */
  if (calls < 1) calls = 1;
  double *tl = malloc(sizeof(double) * rounds), *ts = malloc(sizeof(double) * rounds);
  if (!tl || !ts) exit(1);
  time_calls(s, false, calls, a, b, c0); /* warm both */
  time_calls(s, true, calls, a, b, c1);
  for (int r = 0; r < rounds; r++) {
    tl[r] = time_calls(s, false, calls, a, b, c0);
    ts[r] = time_calls(s, true, calls, a, b, c1);
  }
  qsort(tl, rounds, sizeof *tl, cmp_double);
  qsort(ts, rounds, sizeof *ts, cmp_double);
  double ml = tl[rounds / 2], ms = ts[rounds / 2];
  printf("| %s | %s%s %dx%dx%d beta %g | %.2f (%.2f) | %.2f (%.2f) | %.1f | %.1f | %.2f | %.1e |\n",
         s->what, s->ta ? "T" : "N", s->tb ? "T" : "N", s->m, s->n, s->k, s->beta, ml * 1e6,
         tl[0] * 1e6, ms * 1e6, ts[0] * 1e6, flop / ml * 1e-9, flop / ms * 1e-9, ms / ml, diff);
  fflush(stdout);
  free(tl), free(ts), free(a), free(b), free(c0), free(c1);
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 15;
  if (rounds < 1) rounds = 1;
  gb_blas_set_threads(1); /* one thread: the split's halves are the products of interest */
  static const shape shapes[] = {
      /* the seed MLP at batch 100, as gb_blas sees them (Linear uses W through w:t()) */
      {"fc1 forward, x W1^T (+bias)", false, true, 100, 128, 784, 1.0f},
      {"  its half (n split)", false, true, 100, 64, 784, 1.0f},
      {"fc1 weight grad, g^T x", true, false, 128, 784, 100, 0.0f},
      {"  its half (n split)", true, false, 128, 392, 100, 0.0f},
      {"fc2 forward, h W2^T (+bias)", false, true, 100, 10, 128, 1.0f},
      {"fc2 input grad, g W2", false, false, 100, 128, 10, 0.0f},
      {"fc2 weight grad, g^T h", true, false, 10, 128, 100, 0.0f},
      /* benchmark (f), 784-1024-1024-10 at batch 256: outside the small range unless split */
      {"(f) fc2 forward half", false, true, 256, 512, 1024, 1.0f},
      {"(f) fc3 forward", false, true, 256, 10, 1024, 1.0f},
      {"(f) fc3 input grad", false, false, 256, 1024, 10, 0.0f},
      {"(f) fc3 weight grad", true, false, 10, 1024, 256, 0.0f},
      /* products of other shapes inside the small range (convolutions, attention) */
      {"im2col-like NN", false, false, 64, 784, 576, 0.0f},
      {"im2col-like weight grad TN", true, false, 64, 576, 784, 0.0f},
      {"long k NN", false, false, 64, 128, 2048, 0.0f},
      {"wide NN", false, false, 32, 4096, 128, 1.0f},
      {"NT k 512", false, true, 128, 128, 512, 0.0f},
      {"square 256", false, false, 256, 256, 256, 0.0f},
      {"square 256 NT", false, true, 256, 256, 256, 0.0f},
      {"square 256 TN", true, false, 256, 256, 256, 0.0f},
  };
  printf("library: %s; small path on this CPU: %s\n", gb_blas_name(),
         gb_gemm_small(false, false, 1, 1, 1, 1.0f, (float[]){1}, 1, (float[]){1}, 1, 0.0f,
                       (float[]){0}, 1)
             ? "yes"
             : "no (the rows below time the library twice)");
  printf("\nus per call, one thread, CPU time: median (best) of %d alternated rounds\n\n", rounds);
  printf("| product | shape | library us | small us | library GFLOP/s | small GFLOP/s | "
         "small/library | max rel diff |\n|---|---|---|---|---|---|---|---|\n");
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
    run(&shapes[i], rounds);
  return 0;
}
