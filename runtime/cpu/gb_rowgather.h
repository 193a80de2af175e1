/* gb_rowgather.h — copying chosen rows of a CPU array into a new one (a shuffled batch), now
 * or in the background on the CPU pool's first worker while the caller does something else (the
 * DataLoader gathers batch b+1 while batch b trains). Rows are copied with the next rows
 * prefetched, since shuffled rows come from anywhere in a large dataset. */
#ifndef GB_ROWGATHER_H
#define GB_ROWGATHER_H

#include <stddef.h>
#include <stdint.h>

#include "gb_core.h"

/* dst row i = src row rows[i] (0-based), for i in 0..n-1; rows of row_bytes bytes, packed in
 * both arrays. The caller has checked the indices. dst must not overlap src. */
GB_API void gb_rowgather_copy(char *dst, const char *src, size_t row_bytes, const int64_t *rows,
                              int64_t n);

/* A background gather: fill dst, src, row_bytes, rows and n (the arrays stay the caller's and
 * must outlive gb_rowgather_finish), then start it; everything else is private. */
typedef struct gb_rowgather {
  char *dst;
  const char *src;
  size_t row_bytes;
  const int64_t *rows;
  int64_t n;
  /* private, under the module's lock */
  int64_t chunk, next;
  _Atomic int64_t finished;
  bool queued;
  struct gb_rowgather *qnext;
} gb_rowgather;

/* Queues g for the helper (the CPU pool's first worker, gb_cpu_pool_post_idle), which copies
 * it in chunks between the pool's calls. Without a helper (one thread allowed) nothing runs
 * until gb_rowgather_finish. */
GB_API void gb_rowgather_start(gb_rowgather *g);

/* Returns once every row of g is in dst: copies the rows the helper has not taken itself and
 * waits for the chunk it may be copying. After it the module holds no reference to g. Must be
 * called exactly once for every started gather (also to abandon one). */
GB_API void gb_rowgather_finish(gb_rowgather *g);

/* Rows the helper thread has copied so far, process-wide (tests and benchmarks: the work it
 * took off the callers). */
GB_API int64_t gb_rowgather_helper_rows(void);

#endif
