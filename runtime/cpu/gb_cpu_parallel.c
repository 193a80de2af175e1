/* gb_cpu_parallel.c — the two shapes of parallel kernel work, both on the one pool of
 * gb_cpu_pool.c: chunked loops over [0, n) with fixed chunk boundaries (gb_cpu_parallel,
 * declared in gb_cpu_pool.h) and jobs with a worker id (gb_cpu_jobs, gb_cpu_parallel.h). When
 * the pool cannot take a call they run inline, in order, on the calling thread. */
#include "gb_cpu_parallel.h"

#include "gb_limits.h"

typedef struct chunk_loop {
  void (*fn)(void *ctx, int64_t lo, int64_t hi);
  void *ctx;
  int64_t n, grain;
  gb_state *S;
} chunk_loop;

static void chunk_run(void *ctx, int worker, int64_t c) {
  (void)worker;
  chunk_loop *l = ctx;
  int64_t lo = c * l->grain, hi = l->n - lo > l->grain ? lo + l->grain : l->n;
  l->fn(l->ctx, lo, hi);
}

static bool chunk_stop(void *ctx) {
  chunk_loop *l = ctx;
  return l->S && gb_should_stop(l->S);
}

void gb_cpu_parallel(gb_state *S, int64_t n, int64_t grain,
                     void (*fn)(void *ctx, int64_t lo, int64_t hi), void *ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  chunk_loop l = {.fn = fn, .ctx = ctx, .n = n, .grain = grain, .S = S};
  int64_t nchunks = (n - 1) / grain + 1;
  if (gb_cpu_pool_run(nchunks, gb_cpu_par_threads(), chunk_run, &l, chunk_stop)) return;
  for (int64_t c = 0; c < nchunks; c++) { /* inline, in order */
    chunk_run(&l, 0, c);
    if (chunk_stop(&l)) break;
  }
}

int gb_cpu_jobs_threads(void) {
  return gb_cpu_par_threads();
}

void gb_cpu_jobs(int64_t njobs, int threads, gb_par_fn fn, void *ctx) {
  if (njobs <= 0) return;
  if (gb_cpu_pool_run(njobs, threads, fn, ctx, NULL)) return;
  for (int64_t j = 0; j < njobs; j++)
    fn(ctx, 0, j);
}
