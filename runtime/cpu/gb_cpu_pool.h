/* gb_cpu_pool.h — the CPU kernels' helper threads for large elementwise loops and reductions
 * (gb_cpu_pool.c): a loop over [0, n) is cut into fixed chunks that the calling thread and
 * the helpers claim in turn. Chunk boundaries depend only on n and the grain, never on the
 * thread count, so a kernel that combines per-chunk results in chunk order gives the same
 * bits with 1 thread or 16. */
#ifndef GB_CPU_POOL_H
#define GB_CPU_POOL_H

#include <stdint.h>

#include "gb_core.h"

/* Below this many elements a loop runs on the calling thread: a wake-up of the helpers
 * costs about as much as 2^17 additions (scripts/bench/cpu_threads.lua measures it). */
#define GB_PAR_MIN_ELEMS ((int64_t)1 << 17)
/* Elements per chunk of a parallel loop. */
#define GB_PAR_GRAIN ((int64_t)1 << 15)

/* fn(ctx, lo, hi) for consecutive chunks [lo, hi) covering [0, n), chunk c being
 * [c * grain, min(n, (c + 1) * grain)). Chunks run on the caller and the helper threads (at
 * most gb_blas_threads() in all); inline, in order, when there is one chunk, one thread, or
 * another parallel loop is running (a nested call, or another gb_state's thread). fn must
 * not raise errors or touch the gb_state (helpers run it). With S, the calling thread asks
 * gb_should_stop(S) after each of its chunks and, when told to stop, no further chunks
 * start (the output is then partial, as a serial kernel's after a stop). Returns when every
 * started chunk is done. */
void gb_cpu_parallel(gb_state *S, int64_t n, int64_t grain,
                     void (*fn)(void *ctx, int64_t lo, int64_t hi), void *ctx);

/* How many threads a parallel loop may use now (1 disables it). */
int gb_cpu_par_threads(void);

#endif
