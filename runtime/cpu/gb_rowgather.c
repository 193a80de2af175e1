/* gb_rowgather.c — row gathers (gb_rowgather.h), synchronous or in the background on
 * the CPU pool's first worker (the helper). Chunks are claimed under one lock by whoever gets there
 * first, the helper or the caller finishing the gather, so a caller never waits for a helper that
 * the scheduler put aside, beyond the one chunk it may be copying (a few microseconds). */
#define _GNU_SOURCE
#include "gb_rowgather.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "gb_cpu_pool.h"

/* Rows ahead whose cache lines are requested while a row is copied: a shuffled row is a
 * DRAM miss per line, and the hardware prefetcher only ramps up within a row. Measured on a
 * 60000 x 3136-byte dataset (docs/benchmarks.md): 39 us per 100-row batch plain, 26-31 with
 * one or two rows prefetched. */
#define PREFETCH_AHEAD 2
/* Bytes per chunk the helper copies between looks for a pool call. */
#define CHUNK_BYTES (24 << 10)

static void prefetch_row(const char *row, size_t row_bytes) {
  for (size_t o = 0; o < row_bytes; o += 64)
    __builtin_prefetch(row + o, 0, 3);
}

void gb_rowgather_copy(char *dst, const char *src, size_t row_bytes, const int64_t *rows,
                       int64_t n) {
  for (int64_t i = 0; i < n && i < PREFETCH_AHEAD; i++)
    prefetch_row(src + (size_t)rows[i] * row_bytes, row_bytes);
  for (int64_t i = 0; i < n; i++) {
    if (i + PREFETCH_AHEAD < n)
      prefetch_row(src + (size_t)rows[i + PREFETCH_AHEAD] * row_bytes, row_bytes);
    memcpy(dst + (size_t)i * row_bytes, src + (size_t)rows[i] * row_bytes, row_bytes);
  }
}

static pthread_mutex_t rg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rg_done = PTHREAD_COND_INITIALIZER; /* a chunk finished */
/* Queued gathers, oldest first (rg_head is also read without the lock, as a hint), and the
 * chunk the helper is copying outside the lock (rg_current NULL when none). */
static gb_rowgather *_Atomic rg_head;
static gb_rowgather *rg_tail, *rg_current;
static int64_t rg_current_lo, rg_current_cnt;
static _Atomic int64_t rg_helper_rows;

static void unqueue(gb_rowgather *g) { /* under rg_mu */
  gb_rowgather *prev = NULL, *p = atomic_load(&rg_head);
  while (p && p != g) {
    prev = p;
    p = p->qnext;
  }
  if (!p) return;
  if (prev)
    prev->qnext = g->qnext;
  else
    atomic_store(&rg_head, g->qnext);
  if (rg_tail == g) rg_tail = prev;
  g->queued = false;
  g->qnext = NULL;
}

/* Claims the next chunk of g (under rg_mu); false when every row is claimed. */
static bool claim(gb_rowgather *g, int64_t *lo, int64_t *cnt) {
  if (g->next >= g->n) return false;
  *lo = g->next;
  *cnt = g->n - g->next < g->chunk ? g->n - g->next : g->chunk;
  g->next += *cnt;
  return true;
}

static void copy_chunk(gb_rowgather *g, int64_t lo, int64_t cnt) {
  gb_rowgather_copy(g->dst + (size_t)lo * g->row_bytes, g->src, g->row_bytes, g->rows + lo, cnt);
}

/* The helper's background step (gb_cpu_idle_fn): one chunk of the oldest queued gather. */
static bool rg_work(void) {
  if (!atomic_load_explicit(&rg_head, memory_order_relaxed)) return false; /* idle: no lock */
  pthread_mutex_lock(&rg_mu);
  gb_rowgather *g;
  int64_t lo = 0, cnt = 0;
  while ((g = atomic_load(&rg_head)) && !claim(g, &lo, &cnt))
    unqueue(g); /* fully claimed: what is left is someone's chunk in progress */
  if (!g) {
    pthread_mutex_unlock(&rg_mu);
    return false;
  }
  rg_current = g;
  rg_current_lo = lo;
  rg_current_cnt = cnt;
  pthread_mutex_unlock(&rg_mu);
  copy_chunk(g, lo, cnt);
  atomic_fetch_add_explicit(&rg_helper_rows, cnt, memory_order_relaxed);
  pthread_mutex_lock(&rg_mu);
  atomic_fetch_add(&g->finished, cnt);
  rg_current = NULL; /* after this the finisher may return and free g */
  pthread_cond_broadcast(&rg_done);
  pthread_mutex_unlock(&rg_mu);
  return true;
}

/* fork(): the child has no helper. The chunk the parent's helper was copying is copied again
 * (the same rows to the same place), and counted, so that finishing in the child returns. The
 * lock is held across the fork, so no claim is half made. */
static void rg_prepare(void) {
  pthread_mutex_lock(&rg_mu);
}
static void rg_parent(void) {
  pthread_mutex_unlock(&rg_mu);
}
static void rg_child(void) {
  if (rg_current) {
    copy_chunk(rg_current, rg_current_lo, rg_current_cnt);
    atomic_fetch_add(&rg_current->finished, rg_current_cnt);
    rg_current = NULL;
  }
  pthread_mutex_unlock(&rg_mu);
  rg_done = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
}

static pthread_once_t rg_once = PTHREAD_ONCE_INIT;
static void rg_init(void) {
  pthread_atfork(rg_prepare, rg_parent, rg_child);
}

void gb_rowgather_start(gb_rowgather *g) {
  pthread_once(&rg_once, rg_init);
  size_t rb = g->row_bytes ? g->row_bytes : 1;
  g->chunk = (int64_t)(CHUNK_BYTES / rb) > 0 ? (int64_t)(CHUNK_BYTES / rb) : 1;
  g->next = 0;
  g->qnext = NULL;
  atomic_init(&g->finished, 0);
  if (g->n <= 0 || !g->row_bytes) {
    g->queued = false;
    g->next = g->n > 0 ? g->n : 0;
    atomic_store(&g->finished, g->next);
    return;
  }
  pthread_mutex_lock(&rg_mu);
  g->queued = true;
  if (rg_tail)
    rg_tail->qnext = g;
  else
    atomic_store(&rg_head, g);
  rg_tail = g;
  pthread_mutex_unlock(&rg_mu);
  gb_cpu_pool_post_idle(rg_work); /* false: no helper, the finisher copies it all */
}

void gb_rowgather_finish(gb_rowgather *g) {
  int64_t lo, cnt;
  pthread_mutex_lock(&rg_mu);
  if (g->queued) unqueue(g); /* the helper takes no new chunk of it from here on */
  while (claim(g, &lo, &cnt)) {
    pthread_mutex_unlock(&rg_mu);
    copy_chunk(g, lo, cnt);
    pthread_mutex_lock(&rg_mu);
    atomic_fetch_add(&g->finished, cnt);
  }
  pthread_mutex_unlock(&rg_mu);
  /* the helper's last chunk: a few microseconds, unless it was descheduled mid-copy */
  for (int spin = 0; spin < 200 && atomic_load(&g->finished) < g->n; spin++)
    sched_yield();
  pthread_mutex_lock(&rg_mu);
  while (atomic_load(&g->finished) < g->n || rg_current == g)
    pthread_cond_wait(&rg_done, &rg_mu);
  pthread_mutex_unlock(&rg_mu);
}

int64_t gb_rowgather_helper_rows(void) {
  return atomic_load_explicit(&rg_helper_rows, memory_order_relaxed);
}
