/* gb_cpu_pool.h — the CPU backend's one set of worker threads (gb_cpu_pool.c), and the chunked
 * loop that elementwise kernels and reductions run on it (gb_cpu_parallel.c). The same workers
 * serve the job kernels of gb_cpu_parallel.h (convolution, batch norm, pooling, attention), the
 * halves of gb_blas's split products, and posted background work (the DataLoader's gathers), so
 * a process never has more helper threads than gb_blas_threads() - 1, and a kernel never waits
 * for a thread of one set while another set holds the core. */
#ifndef GB_CPU_POOL_H
#define GB_CPU_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "gb_core.h"

/* One job: `worker` is 0 for the calling thread and 1..threads-1 for the pool's; jobs run
 * once each, in any order and on any participant, possibly concurrently. */
typedef void (*gb_par_fn)(void *ctx, int worker, int64_t job);

/* Most threads one call may use, the caller included. */
#define GB_JOBS_MAX 64

/* Runs fn(ctx, worker, j) for every j in [0, njobs) on the calling thread (worker 0) and up to
 * threads - 1 workers (at most gb_cpu_par_threads() in all), each with a fixed id in
 * 1..threads-1, and returns true once all are done.
 * After each job the caller itself runs, stop(ctx) is asked when stop is given; once it says
 * true no further job starts (those not started are skipped; the call still returns true).
 * Returns false, having run nothing, when the call cannot have a second thread: threads < 2,
 * njobs < 2, the pool serves another call (a nested call from a job, or another thread's), or no
 * worker could be started; the caller then does the work its own way. Workers spin
 * GB_POOL_SPIN_NS after their last job (a training step's kernels come back to back), then sleep.
 * fork() is safe: a child starts with no workers and makes new ones on its first call. */
bool gb_cpu_pool_run(int64_t njobs, int threads, gb_par_fn fn, void *ctx, bool (*stop)(void *ctx));

/* Background work for the pool's first worker, run between calls where it would spin idle: fn
 * must do one short piece of work (microseconds: a call may be waiting for that worker) and
 * return false once none is left. Posting registers fn (up to 4 distinct ones, process-wide)
 * and wakes the worker, starting it if needed. Returns false when there is no such worker (one
 * thread allowed, it could not start, or the slots are taken): the poster then does its work
 * itself. Thread-safe; fn may run at any time after the first post and must be thread-safe. */
typedef bool (*gb_cpu_idle_fn)(void);
bool gb_cpu_pool_post_idle(gb_cpu_idle_fn fn);

/* How many threads a call may use now, the caller included: gb_blas_threads() (one per core
 * unless gb_blas_set_threads / gb.set_num_threads said otherwise), at most GB_JOBS_MAX. 1 means
 * every call runs on the caller. */
int gb_cpu_par_threads(void);

/* ---- the chunked loop (gb_cpu_parallel.c) ------------------------------------------------- */

/* Below this many elements a loop runs on the calling thread: a wake-up of the workers
 * costs about as much as 2^17 additions (scripts/bench/cpu_threads.lua measures it). */
#define GB_PAR_MIN_ELEMS ((int64_t)1 << 17)
/* Elements per chunk of a parallel loop. */
#define GB_PAR_GRAIN ((int64_t)1 << 15)

/* fn(ctx, lo, hi) for consecutive chunks [lo, hi) covering [0, n), chunk c being
 * [c * grain, min(n, (c + 1) * grain)). Chunk boundaries depend only on n and the grain, never
 * on the thread count, so a kernel that combines per-chunk results in chunk order gives the
 * same bits with 1 thread or 16. Chunks run on the caller and the workers (at most
 * gb_cpu_par_threads() in all); inline, in order, when there is one chunk, one thread, or the
 * pool is busy (a nested call, or another gb_state's thread). fn must not raise errors or
 * touch the gb_state (workers run it). With S, the calling thread asks gb_should_stop(S) after
 * each of its chunks and, when told to stop, no further chunks start (the output is then
 * partial, as a serial kernel's after a stop). Returns when every started chunk is done. */
void gb_cpu_parallel(gb_state *S, int64_t n, int64_t grain,
                     void (*fn)(void *ctx, int64_t lo, int64_t hi), void *ctx);

#endif
