/* pool.c — libgan's worker threads (see pool.h).
 *
 * Helper threads 1..nthreads are started on the first region that needs
 * them and then wait for jobs.  A region publishes (fn, ctx, nw) under the
 * lock and bumps `gen`; each helper runs its share, decrements `pending`,
 * and the last one wakes the caller.  Both sides spin briefly before
 * sleeping: a training step runs regions back to back, and a sleep/wake
 * round trip costs tens of microseconds.
 *
 * Only one region runs at a time (the `region` mutex); a second caller, or
 * a task that opens a region itself, runs the same split serially.
 */
#include "internal.h"
#include "core/pool.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

/* Busy-wait iterations before blocking (~0.1-0.3 ms). */
#define SPIN 8192

typedef struct pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;   /* helpers wait for a new job             */
    pthread_cond_t done;   /* the caller waits for the last helper   */
    int nthreads;          /* helpers started; changed under `region` */
    pthread_t tid[GAN_POOL_MAX];
    uint64_t start_gen[GAN_POOL_MAX]; /* gen when helper w started  */
    gan_task_fn fn;        /* the current job                        */
    void *ctx;
    int nw;
    atomic_uint_fast64_t gen; /* job number                          */
    atomic_int pending;    /* helpers not yet done with the job      */
    bool quit;
} pool_t;

static pool_t pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};
static pthread_mutex_t region = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local bool in_task;

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *helper_main(void *arg)
{
    const int w = (int)(intptr_t)arg;
    uint64_t seen = pool.start_gen[w];
    for (;;) {
        for (int s = 0; s < SPIN && atomic_load_explicit(&pool.gen, memory_order_acquire) == seen; s++)
            relax();
        pthread_mutex_lock(&pool.lock);
        while (atomic_load(&pool.gen) == seen && !pool.quit) pthread_cond_wait(&pool.wake, &pool.lock);
        if (pool.quit) {
            pthread_mutex_unlock(&pool.lock);
            return NULL;
        }
        seen = atomic_load(&pool.gen);
        const gan_task_fn fn = pool.fn;
        void *ctx = pool.ctx;
        const int nw = pool.nw;
        pthread_mutex_unlock(&pool.lock);
        if (w < nw) {
            in_task = true;
            fn(ctx, w, nw);
            in_task = false;
        }
        if (atomic_fetch_sub(&pool.pending, 1) == 1) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
    }
}

/* In a forked child the helpers are gone, and the parent's helpers may have
 * left the lock held or the condition variables with waiters (which would
 * make a broadcast wait for them forever): start from fresh ones. */
static void forget_helpers(void)
{
    pool.nthreads = 0;
    atomic_store(&pool.pending, 0);
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pthread_mutex_init(&region, NULL);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, forget_helpers);
}

/* Start helpers until nw - 1 exist (caller holds `region`); returns the
 * number of workers available, at most nw.  Helpers block every signal, so
 * the host's handlers keep running on the host's threads. */
static int start_helpers(int nw)
{
    if (pool.nthreads >= nw - 1) return nw;
    pthread_once(&atfork_once, register_atfork);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (pool.nthreads < nw - 1) {
        const int w = pool.nthreads + 1;
        pool.start_gen[w] = atomic_load(&pool.gen);
        if (pthread_create(&pool.tid[w], NULL, helper_main, (void *)(intptr_t)w) != 0) break;
        pool.nthreads = w;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pool.nthreads + 1 < nw ? pool.nthreads + 1 : nw;
}

/* Stop the helpers when the library is unloaded or the process exits. */
__attribute__((destructor)) static void stop_helpers(void)
{
    if (pthread_mutex_trylock(&region) != 0) return; /* a region is running */
    pthread_mutex_lock(&pool.lock);
    pool.quit = true;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int w = 1; w <= pool.nthreads; w++) pthread_join(pool.tid[w], NULL);
    pool.nthreads = 0;
    pool.quit = false;
    pthread_mutex_unlock(&region);
}

int gan_pool_size(int max_workers)
{
    int n = gan_get_num_threads();
    if (n > max_workers) n = max_workers;
    if (n > GAN_POOL_MAX) n = GAN_POOL_MAX;
    return n < 1 ? 1 : n;
}

bool gan_in_parallel(void)
{
    return in_task;
}

void gan_split(int64_t count, int w, int nw, int64_t *begin, int64_t *end)
{
    *begin = count * w / nw;
    *end = count * (w + 1) / nw;
}

static void run_serially(gan_task_fn fn, void *ctx, int nw)
{
    const bool outer = in_task;
    in_task = true;
    for (int w = 0; w < nw; w++) fn(ctx, w, nw);
    in_task = outer;
}

void gan_parallel(gan_task_fn fn, void *ctx, int max_workers)
{
    int nw = gan_pool_size(max_workers);
    if (nw == 1 || in_task || pthread_mutex_trylock(&region) != 0) {
        run_serially(fn, ctx, nw);
        return;
    }
    const int avail = start_helpers(nw);
    if (avail < nw) {
        /* keep the split the caller asked for; run the missing shares here */
        pthread_mutex_unlock(&region);
        run_serially(fn, ctx, nw);
        return;
    }
    pthread_mutex_lock(&pool.lock);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.nw = nw;
    atomic_store(&pool.pending, pool.nthreads);
    atomic_fetch_add_explicit(&pool.gen, 1, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    in_task = true;
    fn(ctx, 0, nw);
    in_task = false;

    for (int s = 0; s < SPIN && atomic_load_explicit(&pool.pending, memory_order_acquire) > 0; s++)
        relax();
    pthread_mutex_lock(&pool.lock);
    while (atomic_load(&pool.pending) > 0) pthread_cond_wait(&pool.done, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&region);
}
