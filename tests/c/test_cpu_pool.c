/* test_cpu_pool.c — the CPU backend's one pool of worker threads (runtime/cpu/gb_cpu_pool.c)
 * and the two shapes of work on it (gb_cpu_parallel.c): every chunk of a loop runs exactly once
 * with the bounds the header promises, whatever the thread count, so a chunked float sum has
 * the same bits on 1, 2 or 4 threads; jobs run once each with worker ids below the thread
 * count, never two participants on one id at once; calls nested in a job (loops, jobs, split
 * products) and calls from a second thread while the pool is busy run inline on their own
 * thread; a stop request ends a loop early; thread-count changes take effect at the next call;
 * a child of fork() has a working pool, and one whose threads cannot start runs everything on
 * the caller. Slow chunks give the workers time to take some, but nothing asserts that they
 * did (the machine may be loaded): counts are printed. */
#define _GNU_SOURCE /* fork, setrlimit, nanosleep under -std=c11 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "gb_blas.h"
#include "gb_cpu_parallel.h"
#include "gb_limits.h"
#include "gb_state.h"

enum { N = 64 * 100 + 37, GRAIN = 100, NCHUNK = (N + GRAIN - 1) / GRAIN };

static void pause_us(long us) {
  nanosleep(&(struct timespec){0, us * 1000}, NULL);
}

/* ---- chunked loops -------------------------------------------------------------------------- */

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
  if (r->slow) pause_us(1000);
}

/* Distinct threads among the chunks' runners (the same thread twice counts once). */
static int distinct_threads(const pthread_t *who, int n) {
  int distinct = 0;
  for (int c = 0; c < n; c++) {
    bool seen = false;
    for (int k = 0; k < c && !seen; k++)
      seen = pthread_equal(who[k], who[c]);
    distinct += !seen;
  }
  return distinct;
}

static int run_loop(int threads, bool slow, bool nest) {
  static rec r;
  memset(&r, 0, sizeof r);
  r.slow = slow, r.nest = nest;
  gb_blas_set_threads(threads);
  gb_cpu_parallel(NULL, N, GRAIN, chunk, &r);
  for (int c = 0; c < NCHUNK; c++) {
    CHECK(atomic_load(&r.runs[c]) == 1, "threads %d: chunk %d ran %d times", threads, c,
          atomic_load(&r.runs[c]));
    CHECK(r.lo[c] == (int64_t)c * GRAIN && r.hi[c] == (c == NCHUNK - 1 ? N : (c + 1) * GRAIN),
          "threads %d: chunk %d bounds [%lld, %lld)", threads, c, (long long)r.lo[c],
          (long long)r.hi[c]);
  }
  if (nest)
    CHECK(atomic_load(&r.inner_chunks) == NCHUNK * 10, "nested loops ran %d chunks",
          atomic_load(&r.inner_chunks));
  return distinct_threads(r.who, NCHUNK);
}

/* A float sum in the kernels' way: a partial per chunk, the partials added in chunk order. */
enum { SUM_N = (1 << 18) + 4321, SUM_GRAIN = 1 << 12 };
static float sum_x[SUM_N], sum_part[(SUM_N + SUM_GRAIN - 1) / SUM_GRAIN];

static void sum_chunk(void *ctx, int64_t lo, int64_t hi) {
  (void)ctx;
  float acc = 0.0f;
  for (int64_t i = lo; i < hi; i++)
    acc += sum_x[i] * sum_x[i];
  sum_part[lo / SUM_GRAIN] = acc;
}

static uint32_t chunked_sum_bits(int threads) {
  gb_blas_set_threads(threads);
  memset(sum_part, 0, sizeof sum_part);
  gb_cpu_parallel(NULL, SUM_N, SUM_GRAIN, sum_chunk, NULL);
  float total = 0.0f;
  for (size_t c = 0; c < sizeof sum_part / sizeof sum_part[0]; c++)
    total += sum_part[c];
  uint32_t bits;
  memcpy(&bits, &total, sizeof bits);
  return bits;
}

static void check_loops(void) {
  CHECK(run_loop(1, false, false) == 1, "one thread: every chunk on the caller");
  int used = run_loop(4, true, false);
  CHECK(used >= 1 && used <= 4, "4 threads: %d distinct threads ran chunks", used);
  printf("pool: %d threads took chunks of the slow loop\n", used);
  run_loop(3, false, true);
  for (int i = 0; i < 2000; i++) /* many short loops: workers come and go between them */
    run_loop(2, false, false);
  gb_cpu_parallel(NULL, 0, GRAIN, chunk, NULL); /* nothing to do */
  for (int i = 0; i < SUM_N; i++)
    sum_x[i] = (float)((i * 7919) % 1000) / 997.0f - 0.5f;
  uint32_t one = chunked_sum_bits(1);
  for (int t = 2; t <= 4; t++)
    for (int rep = 0; rep < 20; rep++) {
      uint32_t bits = chunked_sum_bits(t);
      CHECK(bits == one, "%d threads: sum bits %08x, one thread %08x", t, bits, one);
    }
}

/* ---- jobs ----------------------------------------------------------------------------------- */

enum { NJOBS = 300 };
typedef struct jobs_rec {
  _Atomic int runs[NJOBS];
  int worker[NJOBS];
  _Atomic int in_use[GB_JOBS_MAX]; /* a worker id's scratch is taken */
  _Atomic int shared;              /* two participants held one id at once */
  int threads;
  bool slow, nest;
  _Atomic int nested_bad;
} jobs_rec;

/* Inside a job: a chunked loop and a product large enough to be split (128x128x256 = 2^22
 * multiply-adds), both run inline. */
static float big_a[128 * 256], big_b[256 * 128], big_want[128 * 128];
static void nested_work(jobs_rec *r) {
  static _Thread_local rec inner_rec;
  memset(&inner_rec, 0, sizeof inner_rec);
  gb_cpu_parallel(NULL, 10 * GRAIN, GRAIN, inner, &inner_rec);
  if (atomic_load(&inner_rec.inner_chunks) != 10) atomic_fetch_add(&r->nested_bad, 1);
  float *c = malloc(sizeof(float) * 128 * 128);
  if (!c) return;
  gb_blas_sgemm(false, false, 128, 128, 256, 1.0f, big_a, 256, big_b, 128, 0.0f, c, 128);
  if (memcmp(c, big_want, sizeof big_want) != 0) atomic_fetch_add(&r->nested_bad, 1);
  free(c);
}

static void job(void *ctx, int worker, int64_t j) {
  jobs_rec *r = ctx;
  if (worker < 0 || worker >= r->threads) {
    atomic_fetch_add(&r->shared, 1000); /* out of range */
    return;
  }
  if (atomic_exchange(&r->in_use[worker], 1)) atomic_fetch_add(&r->shared, 1);
  atomic_fetch_add(&r->runs[j], 1);
  r->worker[j] = worker;
  if (r->nest) nested_work(r);
  if (r->slow) pause_us(200);
  atomic_store(&r->in_use[worker], 0);
}

/* Runs NJOBS jobs on `threads` (gb_blas_set_threads(limit) first); returns the largest worker
 * id seen. */
static int run_jobs(int limit, int threads, bool slow, bool nest) {
  static jobs_rec r;
  memset(&r, 0, sizeof r);
  r.threads = threads, r.slow = slow, r.nest = nest;
  gb_blas_set_threads(limit);
  gb_cpu_jobs(NJOBS, threads, job, &r);
  int top = 0;
  for (int j = 0; j < NJOBS; j++) {
    CHECK(atomic_load(&r.runs[j]) == 1, "threads %d: job %d ran %d times", threads, j,
          atomic_load(&r.runs[j]));
    if (r.worker[j] > top) top = r.worker[j];
  }
  CHECK(atomic_load(&r.shared) == 0, "threads %d: worker ids shared or out of range (%d)", threads,
        atomic_load(&r.shared));
  CHECK(atomic_load(&r.nested_bad) == 0, "threads %d: %d nested calls went wrong", threads,
        atomic_load(&r.nested_bad));
  return top;
}

static void check_jobs(void) {
  for (int i = 0; i < 128 * 256; i++)
    big_a[i] = (float)(i % 13) - 6.0f, big_b[i] = (float)(i % 7) - 3.0f; /* exact in float */
  gb_blas_set_threads(1);
  gb_blas_sgemm(false, false, 128, 128, 256, 1.0f, big_a, 256, big_b, 128, 0.0f, big_want, 128);
  CHECK(run_jobs(1, 4, true, false) == 0, "one thread allowed: every job on worker 0");
  CHECK(run_jobs(4, 1, true, false) == 0, "one thread asked for: every job on worker 0");
  int top = run_jobs(4, 4, true, false);
  printf("pool: worker ids up to %d ran jobs with 4 threads\n", top);
  top = run_jobs(4, 2, true, false); /* four workers exist now; a call for 2 uses id 1 only */
  CHECK(top <= 1, "2 threads asked for: worker id %d", top);
  top = run_jobs(2, 2, true, true);
  CHECK(top <= 1, "nested: worker id %d", top);
  CHECK(gb_cpu_jobs_threads() == 2 && gb_cpu_par_threads() == 2);
  gb_blas_set_threads(1);
  CHECK(gb_cpu_jobs_threads() == 1);
  for (int i = 0; i < 500; i++) /* short calls back to back */
    run_jobs(2, 2, false, false);
  /* the pool's own answer: no second thread for these */
  gb_blas_set_threads(2);
  static jobs_rec r;
  memset(&r, 0, sizeof r);
  r.threads = 2;
  CHECK(!gb_cpu_pool_run(5, 1, job, &r, NULL), "1 thread: nothing for the pool");
  CHECK(!gb_cpu_pool_run(1, 2, job, &r, NULL), "1 job: nothing for the pool");
  CHECK(atomic_load(&r.runs[0]) == 0, "refused calls ran nothing");
}

/* ---- a second thread while the pool is busy ------------------------------------------------- */

typedef struct busy_rec {
  _Atomic int in_call, other_done;
  rec other;
  pthread_t other_thread;
} busy_rec;

/* Job 0 holds the pool's call open until the other thread's loop is done: if that loop
 * waited for the pool instead of running inline, this would never end. */
static void holding_job(void *ctx, int worker, int64_t j) {
  (void)worker;
  busy_rec *b = ctx;
  if (j != 0) return;
  atomic_store(&b->in_call, 1);
  while (!atomic_load(&b->other_done))
    pause_us(100);
}

static void *other_caller(void *arg) {
  busy_rec *b = arg;
  while (!atomic_load(&b->in_call))
    pause_us(100);
  gb_cpu_parallel(NULL, N, GRAIN, chunk, &b->other);
  atomic_store(&b->other_done, 1);
  return NULL;
}

static void check_busy(void) {
  static busy_rec b;
  memset(&b, 0, sizeof b);
  gb_blas_set_threads(2);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, other_caller, &b) == 0);
  gb_cpu_jobs(4, 2, holding_job, &b);
  pthread_join(t, NULL);
  int ran = 0, elsewhere = 0;
  for (int c = 0; c < NCHUNK; c++) {
    ran += atomic_load(&b.other.runs[c]);
    elsewhere += !pthread_equal(b.other.who[c], t);
  }
  CHECK(ran == NCHUNK, "the other thread's loop ran %d of %d chunks", ran, NCHUNK);
  CHECK(elsewhere == 0, "%d chunks of the other thread's loop ran on another thread", elsewhere);
}

/* ---- stop requests -------------------------------------------------------------------------- */

enum { STOP_CHUNKS = 200, STOP_AT = 5 };
typedef struct stop_rec {
  gb_limits *lim;
  pthread_t caller;
  _Atomic int runs[STOP_CHUNKS];
  _Atomic int stopped;
} stop_rec;

/* Chunk STOP_AT raises the interrupt; after it the workers' chunks are slow, so that the
 * caller, which asks gb_should_stop after each of its own chunks, gets there first. */
static void stop_chunk(void *ctx, int64_t lo, int64_t hi) {
  (void)hi;
  stop_rec *s = ctx;
  atomic_fetch_add(&s->runs[lo], 1);
  if (lo == STOP_AT) {
    gb_limits_interrupt(s->lim);
    atomic_store(&s->stopped, 1);
  }
  if (atomic_load(&s->stopped) && !pthread_equal(pthread_self(), s->caller)) pause_us(2000);
}

static int run_stop(gb_state *S, gb_limits *lim, int threads) {
  static stop_rec s;
  memset(&s, 0, sizeof s);
  s.lim = lim, s.caller = pthread_self();
  gb_blas_set_threads(threads);
  atomic_store(&lim->stop, 0);
  gb_cpu_parallel(S, STOP_CHUNKS, 1, stop_chunk, &s);
  int ran = 0;
  for (int c = 0; c < STOP_CHUNKS; c++) {
    CHECK(atomic_load(&s.runs[c]) <= 1, "chunk %d ran %d times", c, atomic_load(&s.runs[c]));
    ran += atomic_load(&s.runs[c]);
  }
  CHECK(atomic_load(&s.runs[STOP_AT]) == 1);
  atomic_store(&lim->stop, 0);
  return ran;
}

static void check_stop(void) {
  gb_state *S = gb_state_new();
  CHECK(S != NULL);
  if (!S) return;
  gb_limits lim;
  memset(&lim, 0, sizeof lim);
  gb_state_set_limits(S, &lim);
  int ran = run_stop(S, &lim, 1);
  CHECK(ran == STOP_AT + 1, "one thread: %d chunks ran, want %d", ran, STOP_AT + 1);
  for (int rep = 0; rep < 5; rep++) {
    ran = run_stop(S, &lim, 2);
    CHECK(ran > STOP_AT && ran < STOP_CHUNKS / 2, "two threads: %d chunks ran after a stop", ran);
  }
  gb_state_set_limits(S, NULL);
  gb_state_free(S);
}

/* ---- fork ----------------------------------------------------------------------------------- */

/* The child's pool works: loops and jobs come out right on 2 threads. */
static int child_works(void) {
  int before = failures;
  run_loop(2, true, false);
  run_jobs(2, 2, true, true);
  return failures == before ? 0 : 1;
}

static void check_fork(long idle_us) {
  gb_blas_set_threads(2);
  run_loop(2, true, false); /* workers exist */
  run_jobs(2, 2, false, false);
  pause_us(idle_us); /* 0: the worker spins at the fork; 20 ms: it sleeps */
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) _exit(child_works());
  CHECK(pid > 0, "fork failed");
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "pool in a child of fork() (worker idle %ld us before): status %d", idle_us, status);
  CHECK(child_works() == 0, "the parent's pool after the fork");
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
static void check_no_threads(void) {
  printf("pool: thread-creation failure not simulated (the sanitizer needs its address space)\n");
}
#else
/* A child where no thread can start (its address space is capped below a thread stack's
 * size): the pool refuses calls and loops run on the caller, in order. Forked before this
 * process starts any thread, so that the child has no cached stacks to reuse. */
static void *nothing(void *arg) {
  return arg;
}

static int no_threads_child(void) {
  (void)gb_blas_threads(); /* the BLAS library is loaded before the cap */
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long pages = 0;
  if (!f || fscanf(f, "%lu", &pages) != 1) return 2;
  fclose(f);
  struct rlimit lim = {.rlim_cur = pages * (unsigned long)sysconf(_SC_PAGESIZE) + (1ul << 20)};
  lim.rlim_max = lim.rlim_cur;
  if (setrlimit(RLIMIT_AS, &lim) != 0) return 3;
  pthread_t t;
  if (pthread_create(&t, NULL, nothing, NULL) == 0) return 4; /* the cap did not work */
  int before = failures;
  gb_blas_set_threads(4);
  static jobs_rec r;
  memset(&r, 0, sizeof r);
  r.threads = 4;
  CHECK(!gb_cpu_pool_run(NJOBS, 4, job, &r, NULL), "no worker can start: the pool refuses");
  CHECK(run_loop(4, false, false) == 1, "no worker: every chunk on the caller");
  CHECK(run_jobs(4, 4, false, false) == 0, "no worker: every job on worker 0");
  return failures == before ? 0 : 1;
}

static void check_no_threads(void) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) _exit(no_threads_child());
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  CHECK(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "child without threads: status %d", status);
}
#endif

int main(void) {
  check_no_threads(); /* first: before any thread exists */
  check_loops();
  check_jobs();
  check_busy();
  check_stop();
  check_fork(0);
  check_fork(20000);
  gb_blas_set_threads(0);
  printf("test_cpu_pool: %d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
