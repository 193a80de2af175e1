/* test_cpu_pool.c — the CPU kernels' helper threads (runtime/cpu/gb_cpu_pool.c): every chunk
 * of a parallel loop runs exactly once with the bounds the header promises, whatever the
 * thread count; a loop started inside a running loop runs inline; many loops in a row leave
 * nothing behind. Slow chunks (1 ms each) give the helpers time to take some, but nothing
 * asserts that they did (the machine may be loaded): the count is printed. */
#define _POSIX_C_SOURCE 200809L /* nanosleep under -std=c11 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "gb_blas.h"
#include "gb_cpu_pool.h"

enum { N = 64 * 100 + 37, GRAIN = 100, NCHUNK = (N + GRAIN - 1) / GRAIN };

typedef struct rec {
  _Atomic int runs[NCHUNK];
  int64_t lo[NCHUNK], hi[NCHUNK];
  pthread_t who[NCHUNK];
  bool slow, nest;
  _Atomic int inner_chunks;
} rec;

static void inner(void *ctx, int64_t lo, int64_t hi) {
  rec *r = ctx;
  (void)lo, (void)hi;
  atomic_fetch_add(&r->inner_chunks, 1);
}

static void chunk(void *ctx, int64_t lo, int64_t hi) {
  rec *r = ctx;
  int64_t c = lo / GRAIN;
  atomic_fetch_add(&r->runs[c], 1);
  r->lo[c] = lo, r->hi[c] = hi, r->who[c] = pthread_self();
  if (r->nest)
    gb_cpu_parallel(NULL, 10 * GRAIN, GRAIN, inner, r); /* runs inline: the pool is busy */
  if (r->slow) nanosleep(&(struct timespec){0, 1000000}, NULL);
}

static int run(int threads, bool slow, bool nest) {
  static rec r;
  memset(&r, 0, sizeof r);
  r.slow = slow, r.nest = nest;
  gb_blas_set_threads(threads);
  gb_cpu_parallel(NULL, N, GRAIN, chunk, &r);
  int distinct = 0;
  for (int c = 0; c < NCHUNK; c++) {
    CHECK(atomic_load(&r.runs[c]) == 1, "threads %d: chunk %d ran %d times", threads, c,
          atomic_load(&r.runs[c]));
    CHECK(r.lo[c] == (int64_t)c * GRAIN && r.hi[c] == (c == NCHUNK - 1 ? N : (c + 1) * GRAIN),
          "threads %d: chunk %d bounds [%lld, %lld)", threads, c, (long long)r.lo[c],
          (long long)r.hi[c]);
    bool seen = false;
    for (int k = 0; k < c && !seen; k++)
      seen = pthread_equal(r.who[k], r.who[c]);
    distinct += !seen;
  }
  if (nest)
    CHECK(atomic_load(&r.inner_chunks) == NCHUNK * 10, "nested loops ran %d chunks",
          atomic_load(&r.inner_chunks));
  return distinct;
}

int main(void) {
  CHECK(run(1, false, false) == 1, "one thread: every chunk on the caller");
  int used = run(4, true, false);
  CHECK(used >= 1 && used <= 4, "4 threads: %d distinct threads ran chunks", used);
  run(3, false, true);
  for (int i = 0; i < 2000; i++) /* many short loops: helpers come and go between them */
    run(2, false, false);
  gb_cpu_parallel(NULL, 0, GRAIN, chunk, NULL); /* nothing to do */
  printf("pool: %d threads took chunks of the slow loop, %d checks, %d failures\n", used, checks,
         failures);
  return failures ? 1 : 0;
}
