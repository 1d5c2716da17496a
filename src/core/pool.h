/* pool.h — libgan's own worker threads (src/core/pool.c).
 *
 * One process-wide pool runs every parallel loop of libgan: the lowering of
 * convolutions, batch norm, the elementwise kernels and the GEMMs
 * (gan_sgemm splits a large product into one single-threaded BLAS call per
 * worker).  BLAS itself is kept at one thread, so the two never compete for
 * the cores (see blas.c).
 *
 * A parallel region runs fn(ctx, w, nw) for every worker w = 0..nw-1 and
 * returns when all are done; the calling thread is worker 0.  Work is split
 * statically by w, so results depend only on nw, never on timing.  When the
 * pool is already running another region (another user thread, or a call
 * from inside a task), the caller runs w = 0..nw-1 itself, in order: the
 * same split, the same result, just serial.
 */
#ifndef GAN_POOL_H
#define GAN_POOL_H

#include <stdbool.h>
#include <stdint.h>

/* Most workers a region may use (threads beyond are ignored). */
#define GAN_POOL_MAX 64

typedef void (*gan_task_fn)(void *ctx, int worker, int nworkers);

/* Workers a region started now would use: gan_get_num_threads(), capped
 * by max_workers and GAN_POOL_MAX (at least 1). */
int gan_pool_size(int max_workers);

/* Run fn(ctx, w, nw) for w = 0..nw-1 with nw = gan_pool_size(max_workers).
 * Never fails: if threads cannot be started, fewer run, each w still once. */
void gan_parallel(gan_task_fn fn, void *ctx, int max_workers);

/* Is the calling thread inside a task of a parallel region? */
bool gan_in_parallel(void);

/* GAN_GEMM_THREADS=blas (blas.c): OpenBLAS's threads run each GEMM and the
 * convolutions' chunk loops stay on one worker (for measuring that way
 * against libgan's pool). */
bool gan_gemm_threaded_by_blas(void);

/* Worker w's share [*begin, *end) of `count` items split into nw
 * contiguous, nearly equal blocks. */
void gan_split(int64_t count, int w, int nw, int64_t *begin, int64_t *end);

#endif
