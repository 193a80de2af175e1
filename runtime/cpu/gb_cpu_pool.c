/* gb_cpu_pool.c — the CPU backend's worker threads (gb_cpu_pool.h). One call runs at a time;
 * its jobs are claimed from one atomic word that holds the call's generation and the next job
 * index, so a worker that comes late (its core was busy) finds the jobs taken and leaves, and
 * the caller, which claims jobs too, only ever waits for jobs that a worker is running: never
 * for a worker the scheduler put aside. Workers are started on first use, keep a fixed id,
 * spin GB_POOL_SPIN_NS after their last job (the first one doing posted background work
 * meanwhile), then sleep on a condition variable of their own, so an idle process costs no CPU
 * and a call for two threads wakes one worker, not all of them. */
#define _GNU_SOURCE /* dladdr */
#include "gb_cpu_pool.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "gb_blas.h"

#ifndef GB_POOL_SPIN_NS         /* overridable for measurements (docs/benchmarks.md) */
#define GB_POOL_SPIN_NS 1000000 /* 1 ms */
#endif
/* How long a caller whose jobs are all claimed spins for a worker's last one before sleeping. */
#ifndef GB_POOL_WAIT_SPIN_NS
#define GB_POOL_WAIT_SPIN_NS 50000
#endif

/* A spinning thread (a worker between calls, a caller waiting for a worker's last job) waits
 * with PAUSE instructions, about a third of a microsecond a turn, and gives its core away
 * (sched_yield) only every SPIN_YIELD_EVERY turns, so that it reacts quickly but still lets
 * another runnable thread in on a busy machine. A yield on every turn, as before, is a system
 * call: on this project's VMs it cost microseconds, and perf put most of the spinning worker's
 * time in the hypervisor's interrupt path (docs/benchmarks.md). */
#define SPIN_YIELD_EVERY 64u
static void spin_turn(unsigned *turns) {
#if defined(__x86_64__) || defined(__i386__)
  for (int i = 0; i < 16; i++)
    __builtin_ia32_pause();
#endif
  if (++*turns % SPIN_YIELD_EVERY == 0) sched_yield();
}

/* The claim word: generation << 32 | next job index. A call first publishes its generation
 * with the index CLOSED (no claims) while it writes its fields, then opens it at 0. A claim is
 * a compare-and-swap that also checks the generation, so a worker still holding an old call's
 * fields can never take a job of the new one. */
#define CLOSED 0xffffffffu
static _Atomic uint64_t pool_word;
static uint32_t gen_of(uint64_t w) {
  return (uint32_t)(w >> 32);
}
static uint32_t index_of(uint64_t w) {
  return (uint32_t)w;
}

/* The posted call's fields: written by the caller between CLOSED and open, read by workers
 * (acquire: a value of a newer call implies its CLOSED word is visible, so the claim fails). */
static gb_par_fn _Atomic call_fn;
static void *_Atomic call_ctx;
static _Atomic uint32_t call_njobs;
static _Atomic int call_threads;
static _Atomic uint32_t call_done; /* jobs finished or skipped */

static _Atomic int pool_busy;      /* a call is running (its caller owns the fields) */
static _Atomic int caller_waiting; /* the caller sleeps on pool_done until call_done is full */
static _Atomic int pool_sleepers;  /* workers asleep or about to be */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;

typedef struct worker {
  pthread_cond_t wake;
  bool sleeping; /* under pool_mu */
  uint32_t first_seen;
} worker;
static worker workers[GB_JOBS_MAX]; /* 1..pool_started; only the pool_busy holder adds */
static _Atomic int pool_started;

/* Background work (gb_cpu_pool_post_idle), for worker 1. idle_kicks counts posts, so that a
 * sleeping worker 1 wakes up for it. */
#define IDLE_MAX 4
static gb_cpu_idle_fn _Atomic idle_fns[IDLE_MAX];
static _Atomic unsigned idle_kicks;

int gb_cpu_par_threads(void) {
  int t = gb_blas_threads();
  return t < 1 ? 1 : t > GB_JOBS_MAX ? GB_JOBS_MAX : t;
}

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static bool run_idle(void) {
  bool did = false;
  for (int i = 0; i < IDLE_MAX; i++) {
    gb_cpu_idle_fn fn = atomic_load_explicit(&idle_fns[i], memory_order_acquire);
    if (fn && fn()) did = true;
  }
  return did;
}

static void jobs_done(uint32_t k, uint32_t njobs) {
  if (atomic_fetch_add(&call_done, k) + k == njobs && atomic_load(&caller_waiting)) {
    pthread_mutex_lock(&pool_mu);
    pthread_cond_signal(&pool_done);
    pthread_mutex_unlock(&pool_mu);
  }
}

/* Claims and runs jobs of generation g until none is left (or, for the caller, stop says so:
 * then the rest are claimed at once and counted as done). */
static void claim_jobs(uint32_t g, gb_par_fn fn, void *ctx, uint32_t njobs, int me,
                       bool (*stop)(void *)) {
  uint64_t w = atomic_load(&pool_word);
  for (;;) {
    if (gen_of(w) != g || index_of(w) >= njobs) return;
    if (!atomic_compare_exchange_weak(&pool_word, &w, w + 1)) continue;
    fn(ctx, me, index_of(w));
    jobs_done(1, njobs);
    w = atomic_load(&pool_word);
    if (stop && stop(ctx)) {
      while (index_of(w) < njobs &&
             !atomic_compare_exchange_weak(&pool_word, &w, ((uint64_t)g << 32) | njobs))
        ; /* only the caller ends its generation, so gen_of(w) == g here */
      if (index_of(w) < njobs) jobs_done(njobs - index_of(w), njobs);
      return;
    }
  }
}

/* Joins call g if this worker's id is within its thread count; true if it did. */
static bool join(int me, uint32_t g) {
  if (me >= atomic_load_explicit(&call_threads, memory_order_acquire)) return false;
  gb_par_fn fn = atomic_load_explicit(&call_fn, memory_order_acquire);
  void *ctx = atomic_load_explicit(&call_ctx, memory_order_acquire);
  uint32_t njobs = atomic_load_explicit(&call_njobs, memory_order_acquire);
  claim_jobs(g, fn, ctx, njobs, me, NULL);
  return true;
}

/* Sleeps until a call newer than `seen` is posted (or, for worker 1, background work). */
static void nap(int me, uint32_t seen, unsigned *kicks) {
  worker *w = &workers[me];
  pthread_mutex_lock(&pool_mu);
  w->sleeping = true;
  atomic_fetch_add(&pool_sleepers, 1); /* before the look at the word: see wake_workers */
  while (gen_of(atomic_load(&pool_word)) == seen &&
         !(me == 1 && atomic_load(&idle_kicks) != *kicks))
    pthread_cond_wait(&w->wake, &pool_mu);
  atomic_fetch_sub(&pool_sleepers, 1);
  w->sleeping = false;
  *kicks = atomic_load(&idle_kicks);
  pthread_mutex_unlock(&pool_mu);
}

static void *worker_main(void *arg) {
  const int me = (int)(intptr_t)arg;
  uint32_t seen = workers[me].first_seen;
  unsigned kicks = atomic_load(&idle_kicks);
  long long until = now_ns() + GB_POOL_SPIN_NS;
  unsigned turns = 0;
  for (;;) {
    uint64_t w = atomic_load(&pool_word);
    if (gen_of(w) != seen && index_of(w) != CLOSED) {
      seen = gen_of(w);
      if (join(me, seen)) until = now_ns() + GB_POOL_SPIN_NS;
    } else if (me == 1 && run_idle()) {
      until = now_ns() + GB_POOL_SPIN_NS;
    } else if (now_ns() < until) {
      spin_turn(&turns);
    } else {
      nap(me, seen, &kicks);
      until = now_ns() + GB_POOL_SPIN_NS;
    }
  }
  return NULL;
}

/* Wakes the sleeping workers among 1..threads-1. The caller has published the word before it
 * reads pool_sleepers and a worker counts itself before it reads the word, so either the
 * caller sees the sleeper or the sleeper sees the call. */
static void wake_workers(int threads) {
  if (!atomic_load(&pool_sleepers)) return;
  pthread_mutex_lock(&pool_mu);
  for (int i = 1; i < threads; i++)
    if (workers[i].sleeping) pthread_cond_signal(&workers[i].wake);
  pthread_mutex_unlock(&pool_mu);
}

/* fork(): the child has none of the workers, and must not inherit pool_mu locked or condition
 * variables with the parent's waiters in them (glibc's signal would wait for those forever):
 * the fork takes the mutex and the child starts afresh, making new workers on its first call. */
static void atfork_prepare(void) {
  pthread_mutex_lock(&pool_mu);
}
static void atfork_parent(void) {
  pthread_mutex_unlock(&pool_mu);
}
static void atfork_child(void) {
  pthread_mutex_unlock(&pool_mu);
  pool_done = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
  pool_started = 0;
  atomic_store(&pool_sleepers, 0);
  atomic_store(&caller_waiting, 0);
  atomic_store(&pool_busy, 0);
}

/* Workers run this file's code for the life of the process, but a host may unload the shared
 * object that holds it: stock Lua dlcloses C modules (gpubp.so) in lua_close, and a worker still
 * spinning then jumps into unmapped pages (seen as a crash at exit of a busted spec under
 * lua5.4). So the object is pinned before the first worker starts. In the gpubp executable
 * dladdr names the program itself and the dlopen is a harmless no-op. */
static void pin_this_object(void) {
  Dl_info info;
  if (dladdr((void *)pin_this_object, &info) && info.dli_fname)
    (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

/* Starts workers up to id want-1 (only the pool_busy holder gets here); returns how many run.
 * A worker that cannot start (no memory for its stack, a thread limit) is simply not there. */
static int grow(int want) {
  static bool once;
  if (!once) {
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    pin_this_object();
    once = true;
  }
  while (pool_started < want - 1) {
    int id = pool_started + 1;
    pthread_cond_init(&workers[id].wake, NULL);
    workers[id].sleeping = false;
    workers[id].first_seen = gen_of(atomic_load(&pool_word));
    pthread_attr_t attr;
    pthread_t tid;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&tid, &attr, worker_main, (void *)(intptr_t)id);
    pthread_attr_destroy(&attr);
    if (rc) {
      pthread_cond_destroy(&workers[id].wake);
      break;
    }
    pool_started = id;
  }
  return pool_started;
}

bool gb_cpu_pool_run(int64_t njobs, int threads, gb_par_fn fn, void *ctx, bool (*stop)(void *)) {
  int limit = gb_cpu_par_threads();
  if (threads > limit) threads = limit;
  if (threads > njobs) threads = (int)njobs;
  if (threads < 2 || njobs >= (int64_t)CLOSED || atomic_exchange(&pool_busy, 1)) return false;
  int have = grow(threads) + 1;
  if (have < threads) threads = have;
  if (threads < 2) {
    atomic_store(&pool_busy, 0);
    return false;
  }
  uint32_t g = gen_of(atomic_load(&pool_word)) + 1, n = (uint32_t)njobs;
  atomic_store(&pool_word, ((uint64_t)g << 32) | CLOSED);
  atomic_store_explicit(&call_fn, fn, memory_order_release);
  atomic_store_explicit(&call_ctx, ctx, memory_order_release);
  atomic_store_explicit(&call_njobs, n, memory_order_release);
  atomic_store_explicit(&call_threads, threads, memory_order_release);
  atomic_store(&call_done, 0);
  atomic_store(&pool_word, (uint64_t)g << 32); /* open */
  wake_workers(threads);
  claim_jobs(g, fn, ctx, n, 0, stop);
  if (atomic_load(&call_done) < n) { /* workers are finishing their last jobs */
    long long until = now_ns() + GB_POOL_WAIT_SPIN_NS;
    unsigned turns = 0;
    while (atomic_load(&call_done) < n && now_ns() < until)
      spin_turn(&turns);
    pthread_mutex_lock(&pool_mu);
    atomic_store(&caller_waiting, 1); /* before the look at call_done: see jobs_done */
    while (atomic_load(&call_done) < n)
      pthread_cond_wait(&pool_done, &pool_mu);
    atomic_store(&caller_waiting, 0);
    pthread_mutex_unlock(&pool_mu);
  }
  atomic_store(&pool_busy, 0);
  return true;
}

bool gb_cpu_pool_post_idle(gb_cpu_idle_fn fn) {
  if (!fn || gb_cpu_par_threads() < 2) return false;
  int slot = -1;
  for (int i = 0; i < IDLE_MAX && slot < 0; i++) {
    gb_cpu_idle_fn none = NULL;
    if (atomic_load(&idle_fns[i]) == fn || atomic_compare_exchange_strong(&idle_fns[i], &none, fn))
      slot = i;
  }
  if (slot < 0) return false; /* more clients than slots: they do their own work */
  /* grow belongs to the pool_busy holder; a call running right now has started worker 1 */
  if (!atomic_exchange(&pool_busy, 1)) {
    grow(2);
    atomic_store(&pool_busy, 0);
  }
  pthread_mutex_lock(&pool_mu);
  bool have = pool_started >= 1;
  atomic_fetch_add(&idle_kicks, 1);
  if (have && workers[1].sleeping) pthread_cond_signal(&workers[1].wake);
  pthread_mutex_unlock(&pool_mu);
  return have;
}
