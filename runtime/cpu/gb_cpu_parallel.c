/* gb_cpu_parallel.c — the worker pool behind gb_cpu_jobs (gb_cpu_parallel.h). Workers
 * are started on first use and claim job indices from one atomic counter; after a call they
 * spin for GB_JOBS_SPIN_NS (back-to-back kernels of one training step reuse them at once),
 * then sleep on a condition variable, so an idle process costs no CPU. One call at a time:
 * a second concurrent caller runs its jobs alone, as gb_blas's split product does. */
#define _GNU_SOURCE
#include "gb_cpu_parallel.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "gb_blas.h"

#ifndef GB_JOBS_SPIN_NS
#define GB_JOBS_SPIN_NS 200000 /* 0.2 ms */
#endif

typedef struct par_call {
  gb_par_fn fn;
  void *ctx;
  int64_t njobs;
  int threads;
  _Atomic int64_t next;
  _Atomic int seats; /* worker ids handed out (1..threads-1) */
} par_call;

static pthread_mutex_t par_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t par_wake = PTHREAD_COND_INITIALIZER; /* a call is posted */
static pthread_cond_t par_left = PTHREAD_COND_INITIALIZER; /* a worker left the call */
static par_call *_Atomic par_posted;
static _Atomic uint64_t par_generation;
static int par_inside;  /* workers inside the posted call (under par_mu) */
static int par_started; /* pool threads running */
static _Atomic int par_busy;
static bool par_atfork_done;

int gb_cpu_jobs_threads(void) {
  int n = gb_blas_threads();
  return n < 1 ? 1 : n > GB_JOBS_MAX ? GB_JOBS_MAX : n;
}

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void run_jobs(par_call *c, int worker) {
  int64_t j;
  while ((j = atomic_fetch_add(&c->next, 1)) < c->njobs)
    c->fn(c->ctx, worker, j);
}

static void *par_worker(void *unused) {
  (void)unused;
  uint64_t seen = 0;
  for (;;) {
    long long until = now_ns() + GB_JOBS_SPIN_NS;
    while (atomic_load_explicit(&par_generation, memory_order_acquire) == seen && now_ns() < until)
      sched_yield();
    pthread_mutex_lock(&par_mu);
    while (atomic_load(&par_generation) == seen)
      pthread_cond_wait(&par_wake, &par_mu);
    seen = atomic_load(&par_generation);
    par_call *c = atomic_load(&par_posted);
    int id = 0;
    if (c) {
      id = atomic_fetch_add(&c->seats, 1) + 1;
      if (id < c->threads)
        par_inside++;
      else
        c = NULL; /* enough participants */
    }
    pthread_mutex_unlock(&par_mu);
    if (!c) continue;
    run_jobs(c, id);
    pthread_mutex_lock(&par_mu);
    par_inside--; /* after this the caller may return and free c */
    pthread_cond_signal(&par_left);
    pthread_mutex_unlock(&par_mu);
  }
  return NULL;
}

/* fork(): the child has none of the pool's threads and must not inherit par_mu locked */
static void par_prepare(void) {
  pthread_mutex_lock(&par_mu);
}
static void par_parent(void) {
  pthread_mutex_unlock(&par_mu);
}
static void par_child(void) {
  pthread_mutex_unlock(&par_mu);
  par_wake = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
  par_left = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
  atomic_store(&par_posted, NULL);
  atomic_store(&par_busy, 0);
  par_inside = 0;
  par_started = 0;
}

/* Starts pool threads up to want-1 (only the par_busy holder gets here); returns how many
 * run. */
static int par_grow(int want) {
  if (!par_atfork_done) {
    pthread_atfork(par_prepare, par_parent, par_child);
    par_atfork_done = true;
  }
  while (par_started < want - 1) {
    pthread_attr_t attr;
    pthread_t tid;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&tid, &attr, par_worker, NULL);
    pthread_attr_destroy(&attr);
    if (rc) break;
    par_started++;
  }
  return par_started;
}

void gb_cpu_jobs(int64_t njobs, int threads, gb_par_fn fn, void *ctx) {
  if (njobs <= 0) return;
  if (threads > njobs) threads = (int)njobs;
  if (threads > GB_JOBS_MAX) threads = GB_JOBS_MAX;
  par_call c = {.fn = fn, .ctx = ctx, .njobs = njobs, .threads = threads};
  atomic_init(&c.next, 0);
  atomic_init(&c.seats, 0);
  if (threads <= 1 || atomic_exchange(&par_busy, 1)) {
    run_jobs(&c, 0);
    return;
  }
  int have = par_grow(threads);
  if (have + 1 < threads) c.threads = have + 1;
  if (c.threads <= 1) {
    atomic_store(&par_busy, 0);
    run_jobs(&c, 0);
    return;
  }
  pthread_mutex_lock(&par_mu);
  atomic_store(&par_posted, &c);
  atomic_fetch_add_explicit(&par_generation, 1, memory_order_release);
  pthread_cond_broadcast(&par_wake);
  pthread_mutex_unlock(&par_mu);
  run_jobs(&c, 0);
  pthread_mutex_lock(&par_mu);
  atomic_store(&par_posted, NULL); /* late workers see no call */
  while (par_inside > 0)
    pthread_cond_wait(&par_left, &par_mu);
  pthread_mutex_unlock(&par_mu);
  atomic_store(&par_busy, 0);
}
