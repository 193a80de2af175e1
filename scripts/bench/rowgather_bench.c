/* rowgather_bench.c — the DataLoader's shuffled-batch gather alone: 600 batches of 100 random
 * rows of 3136 bytes (Fashion-MNIST as float32) from a 188 MB array, plain memcpy per row
 * against gb_rowgather_copy (the next rows' cache lines prefetched); thread CPU time per
 * batch, best of 10 alternating rounds. Build and run from the source root:
 *   cc -O2 -Iruntime/cpu -Iruntime/core scripts/bench/rowgather_bench.c \
 *      runtime/cpu/gb_rowgather.c runtime/cpu/gb_blas.c runtime/cpu/gb_gemm_small.c \
 *      runtime/cpu/gb_cpu_pool.c -DGB_BLAS_OPENBLAS \
 *      $(pkg-config --cflags openblas) -lpthread -ldl -lm -o /tmp/rowgather_bench
 *   /tmp/rowgather_bench */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gb_rowgather.h"

#define N 60000
#define ROW 3136
#define BS 100

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void) {
  char *src = malloc((size_t)N * ROW), *dst = malloc((size_t)BS * ROW);
  int64_t *perm = malloc(sizeof *perm * N);
  if (!src || !dst || !perm) return 1;
  memset(src, 1, (size_t)N * ROW);
  for (int i = 0; i < N; i++)
    perm[i] = i;
  srand(1);
  for (int i = N - 1; i > 0; i--) {
    int j = rand() % (i + 1);
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  double best[2] = {1e9, 1e9};
  for (int round = 0; round < 10; round++)
    for (int v = 0; v < 2; v++) {
      double t0 = cpu_now();
      for (int b = 0; b < N / BS; b++) {
        const int64_t *rows = perm + (size_t)b * BS;
        if (v == 0)
          for (int i = 0; i < BS; i++)
            memcpy(dst + (size_t)i * ROW, src + (size_t)rows[i] * ROW, ROW);
        else
          gb_rowgather_copy(dst, src, ROW, rows, BS);
      }
      double t = (cpu_now() - t0) / (N / BS);
      if (t < best[v]) best[v] = t;
    }
  printf("BENCH memcpy_us %.1f\nBENCH rowgather_us %.1f\n", best[0] * 1e6, best[1] * 1e6);
  return 0;
}
