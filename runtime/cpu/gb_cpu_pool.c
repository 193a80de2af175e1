/* gb_cpu_pool.c — helper threads for the CPU kernels' large loops (gb_cpu_pool.h). Helpers
 * start on the first parallel loop, sleep on a condition variable between loops, and claim
 * chunks with one atomic counter, so a late or descheduled helper only means the caller does
 * more chunks itself. One loop runs at a time; a second caller runs its loop inline. */
#include "gb_cpu_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "gb_blas.h"
#include "gb_limits.h"

#define GB_PAR_MAX_HELPERS 15

typedef struct par_job {
  void (*fn)(void *ctx, int64_t lo, int64_t hi);
  void *ctx;
  int64_t n, grain, nchunks;
  _Atomic int64_t next; /* next chunk to claim */
  _Atomic int64_t done; /* chunks finished (or abandoned after a stop) */
  _Atomic int stop;     /* the caller was told to stop: claim no more */
} par_job;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static par_job *pool_job;     /* the posted loop, under pool_mu */
static uint64_t pool_gen;     /* bumped for every posted loop */
static int pool_inside;       /* helpers working on pool_job, under pool_mu */
static int pool_helpers;      /* started so far */
static _Atomic int pool_busy; /* a loop is running */
static bool pool_atfork_done;

/* Claims and runs chunks until none is left; S (the caller's only) is asked to stop after
 * each chunk. A claim made after a stop is counted done without running. */
static void run_chunks(par_job *j, gb_state *S) {
  int64_t c;
  while ((c = atomic_fetch_add(&j->next, 1)) < j->nchunks) {
    if (!atomic_load(&j->stop)) {
      int64_t lo = c * j->grain, hi = lo + j->grain < j->n ? lo + j->grain : j->n;
      j->fn(j->ctx, lo, hi);
      if (S && gb_should_stop(S)) atomic_store(&j->stop, 1);
    }
    atomic_fetch_add(&j->done, 1);
  }
}

static void *helper_main(void *unused) {
  (void)unused;
  uint64_t seen = 0;
  pthread_mutex_lock(&pool_mu);
  for (;;) {
    while (pool_gen == seen || !pool_job)
      pthread_cond_wait(&pool_wake, &pool_mu);
    seen = pool_gen;
    par_job *j = pool_job;
    pool_inside++;
    pthread_mutex_unlock(&pool_mu);
    run_chunks(j, NULL);
    pthread_mutex_lock(&pool_mu);
    pool_inside--; /* after this the caller may return and drop j */
  }
  return NULL;
}

/* fork(): the child has no helpers; it starts afresh (as gb_blas.c's split helper). */
static void atfork_prepare(void) {
  pthread_mutex_lock(&pool_mu);
}
static void atfork_parent(void) {
  pthread_mutex_unlock(&pool_mu);
}
static void atfork_child(void) {
  pthread_mutex_unlock(&pool_mu);
  pool_wake = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
  pool_job = NULL;
  pool_inside = 0;
  pool_helpers = 0;
  atomic_store(&pool_busy, 0);
}

int gb_cpu_par_threads(void) {
  int t = gb_blas_threads();
  return t < 1 ? 1 : t > GB_PAR_MAX_HELPERS + 1 ? GB_PAR_MAX_HELPERS + 1 : t;
}

/* Starts helpers up to want (under pool_mu); returns how many exist. */
static int ensure_helpers(int want) {
  if (!pool_atfork_done) {
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    pool_atfork_done = true;
  }
  while (pool_helpers < want) {
    pthread_attr_t attr;
    pthread_t tid;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&tid, &attr, helper_main, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) break;
    pool_helpers++;
  }
  return pool_helpers;
}

void gb_cpu_parallel(gb_state *S, int64_t n, int64_t grain,
                     void (*fn)(void *ctx, int64_t lo, int64_t hi), void *ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  par_job j = {.fn = fn, .ctx = ctx, .n = n, .grain = grain, .nchunks = (n + grain - 1) / grain};
  int threads = gb_cpu_par_threads();
  int expected = 0;
  if (j.nchunks < 2 || threads < 2 || !atomic_compare_exchange_strong(&pool_busy, &expected, 1)) {
    run_chunks(&j, S); /* inline, in order */
    return;
  }
  pthread_mutex_lock(&pool_mu);
  int helpers = ensure_helpers(threads - 1);
  if (helpers > 0) {
    pool_job = &j;
    pool_gen++;
    pthread_cond_broadcast(&pool_wake);
  }
  pthread_mutex_unlock(&pool_mu);
  run_chunks(&j, S);
  while (atomic_load(&j.done) < j.nchunks)
    sched_yield(); /* a helper is finishing its last chunk */
  pthread_mutex_lock(&pool_mu);
  pool_job = NULL;
  while (pool_inside > 0) { /* helpers that joined but found nothing left are leaving */
    pthread_mutex_unlock(&pool_mu);
    sched_yield();
    pthread_mutex_lock(&pool_mu);
  }
  pthread_mutex_unlock(&pool_mu);
  atomic_store(&pool_busy, 0);
}
