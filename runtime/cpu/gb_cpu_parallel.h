/* gb_cpu_parallel.h — worker threads for CPU kernels that split their work into independent
 * jobs with per-thread scratch (convolution over images and tiles, batch norm over channels):
 * each job learns its worker id. The caller takes part; workers spin briefly after a call,
 * then sleep (gb_cpu_parallel.c). gb_cpu_pool.h is the chunked loop for elementwise kernels;
 * merging the two pools is a follow-up. */
#ifndef GB_CPU_PARALLEL_H
#define GB_CPU_PARALLEL_H

#include <stdint.h>

/* One job: `worker` is 0 for the calling thread and 1..threads-1 for the pool's; jobs run
 * once each, in any order and on any participant, possibly concurrently. */
typedef void (*gb_par_fn)(void *ctx, int worker, int64_t job);

/* Threads a parallel call may use (the caller included): the BLAS thread limit
 * (gb_blas_threads, one per core by default), at most GB_JOBS_MAX. */
#define GB_JOBS_MAX 64
int gb_cpu_jobs_threads(void);

/* Runs fn(ctx, worker, j) for j in 0..njobs-1 on at most `threads` participants and returns
 * when all are done. When the pool is busy (another thread's call), cannot start, or only
 * one thread is asked for, every job runs on the caller (worker 0). Never fails. */
void gb_cpu_jobs(int64_t njobs, int threads, gb_par_fn fn, void *ctx);

#endif
