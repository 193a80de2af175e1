/* gb_cpu_parallel.h — jobs for CPU kernels that split their work into independent pieces with
 * per-thread scratch (convolution over images and tiles, batch norm over channels, pooling,
 * attention heads): each job learns its worker id. They run on the pool of gb_cpu_pool.h (the
 * caller takes part; workers spin briefly after a call, then sleep), the same threads as the
 * chunked loops and gb_blas's split products. */
#ifndef GB_CPU_PARALLEL_H
#define GB_CPU_PARALLEL_H

#include <stdint.h>

#include "gb_cpu_pool.h" /* gb_par_fn, GB_JOBS_MAX */

/* Threads a parallel call may use (the caller included): gb_cpu_par_threads(), the BLAS thread
 * limit (gb_blas_threads, one per core by default), at most GB_JOBS_MAX. Size per-thread
 * scratch by it. */
int gb_cpu_jobs_threads(void);

/* Runs fn(ctx, worker, j) for j in 0..njobs-1 on at most `threads` participants (worker ids
 * below `threads`) and returns when all are done. When the pool is busy (a nested call, or
 * another thread's), cannot start, or only one thread is asked for, every job runs on the
 * caller (worker 0), in order. Never fails. */
void gb_cpu_jobs(int64_t njobs, int threads, gb_par_fn fn, void *ctx);

#endif
