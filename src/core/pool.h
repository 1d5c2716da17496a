/* pool.h — libgan's own worker threads (src/core/pool.c).
 *
 * One process-wide pool runs every parallel loop of libgan: the lowering of
 * convolutions, batch norm, the elementwise kernels and the GEMMs
 * (gan_sgemm splits a large product into one single-threaded BLAS call per
 * task).  BLAS itself is kept at one thread, so the two never compete for
 * the cores (see blas.c).
 *
 * A parallel region runs fn(ctx, t, ntasks, thread) once for every task
 * t = 0..ntasks-1 and returns when all are done.  The caller fixes the
 * split (ntasks, and what task t covers); the threads — the calling thread
 * is thread 0 — claim tasks one at a time, so a helper that the OS has not
 * scheduled yet never holds the others up: they take its tasks.  `thread`
 * (0..max_threads-1) is unique among the tasks running at one moment and
 * only picks scratch space; results must depend on t and ntasks alone, and
 * then they depend only on the split, never on timing.  When the pool is
 * already running another region (another user thread, or a call from
 * inside a task), the caller runs every task itself, in order.  A single
 * task runs on the caller outside any region, so it may open one itself
 * (gan_in_parallel() is false in it).
 */
#ifndef GAN_POOL_H
#define GAN_POOL_H

#include <stdbool.h>
#include <stdint.h>

/* Most threads a region may use. */
#define GAN_POOL_MAX 64

typedef void (*gan_task_fn)(void *ctx, int task, int ntasks, int thread);

/* Threads a region started now could use: gan_get_num_threads(), capped by
 * max_threads and GAN_POOL_MAX (at least 1). */
int gan_pool_size(int max_threads);

/* Run fn for tasks 0..ntasks-1 on at most max_threads threads (each thread
 * index passed to fn is below max_threads).  Never fails: if threads cannot
 * be started, fewer run. */
void gan_parallel(gan_task_fn fn, void *ctx, int ntasks, int max_threads);

/* Is the calling thread inside a task of a parallel region? */
bool gan_in_parallel(void);

/* GAN_GEMM_THREADS=blas (blas.c): OpenBLAS's threads run each GEMM and the
 * convolutions' chunk loops stay on one thread (for measuring that way
 * against libgan's pool). */
bool gan_gemm_threaded_by_blas(void);

/* Task t's share [*begin, *end) of `count` items split into ntasks
 * contiguous, nearly equal blocks. */
void gan_split(int64_t count, int t, int ntasks, int64_t *begin, int64_t *end);

#endif
