/* pool.c — libgan's worker threads (see pool.h).
 *
 * Helper threads 1..nthreads are started on the first region that needs
 * them and then wait for jobs.  A region publishes (fn, ctx, ntasks) under
 * the lock and opens a new generation of `state`; the caller and every
 * helper that joins claim tasks from the atomic counter `next` until none
 * are left.  When the caller runs out, it closes the generation and waits
 * only for the helpers that joined and are still running a task; a helper
 * that wakes after the close finds nothing to join.  So on a busy machine a
 * descheduled helper costs the region nothing but its own share of work.
 * Both sides spin briefly before sleeping: a training step runs regions
 * back to back, and a sleep/wake round trip costs tens of microseconds.
 *
 * `state` packs the job generation (high 32 bits), a closed flag and the
 * number of helpers inside the job; joining is a compare-and-swap on the
 * whole word, so a helper can never join a job other than the one whose
 * parameters it read.
 *
 * Only one region runs at a time (the `region` mutex); a second caller, or
 * a task that opens a region itself, runs every task serially.  A region of
 * a single task is no region at all: the caller runs the task as plain
 * code, so the loops inside it (a convolution's GEMM on a batch of one, say)
 * can still use the pool.
 */
#include "internal.h"
#include "core/pool.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

/* Busy-wait iterations before blocking (~0.1-0.3 ms). */
#define SPIN 8192

#define CLOSED ((uint64_t)1 << 31)
#define BUSY_MASK (CLOSED - 1)

typedef struct pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;   /* helpers wait for a new job               */
    pthread_cond_t done;   /* the caller waits for the last helper out */
    int nthreads;          /* helpers started; changed under `region`  */
    pthread_t tid[GAN_POOL_MAX];
    uint32_t start_gen[GAN_POOL_MAX]; /* generation when helper w started */
    gan_task_fn fn;        /* the current job (written under the lock) */
    void *ctx;
    int ntasks;
    int nthreads_job;      /* threads 0..nthreads_job-1 may join       */
    atomic_int next;       /* next task to claim                       */
    _Atomic uint64_t state; /* generation << 32 | CLOSED | helpers in   */
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

static inline uint32_t gen_of(uint64_t state)
{
    return (uint32_t)(state >> 32);
}

/* Claim and run tasks until none are left. */
static void run_tasks(gan_task_fn fn, void *ctx, int ntasks, int thread)
{
    in_task = true;
    for (int t; (t = atomic_fetch_add(&pool.next, 1)) < ntasks;) fn(ctx, t, ntasks, thread);
    in_task = false;
}

static void *helper_main(void *arg)
{
    const int w = (int)(intptr_t)arg;
    uint32_t seen = pool.start_gen[w];
    for (;;) {
        for (int s = 0; s < SPIN && gen_of(atomic_load(&pool.state)) == seen; s++) relax();
        pthread_mutex_lock(&pool.lock);
        while (gen_of(atomic_load(&pool.state)) == seen && !pool.quit)
            pthread_cond_wait(&pool.wake, &pool.lock);
        if (pool.quit) {
            pthread_mutex_unlock(&pool.lock);
            return NULL;
        }
        const uint64_t now = atomic_load(&pool.state);
        seen = gen_of(now);
        const gan_task_fn fn = pool.fn;
        void *ctx = pool.ctx;
        const int ntasks = pool.ntasks, allowed = pool.nthreads_job;
        pthread_mutex_unlock(&pool.lock);
        if (w >= allowed) continue;

        /* join generation `seen` unless it is closed (or already gone) */
        uint64_t s = now;
        bool joined = false;
        while (gen_of(s) == seen && !(s & CLOSED))
            if (atomic_compare_exchange_weak(&pool.state, &s, s + 1)) {
                joined = true;
                break;
            }
        if (!joined) continue;
        run_tasks(fn, ctx, ntasks, w);
        s = atomic_fetch_sub(&pool.state, 1) - 1;
        if ((s & CLOSED) && (s & BUSY_MASK) == 0) {
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

/* Start helpers until nt - 1 exist (caller holds `region`); returns the
 * number of threads available, at most nt.  Helpers block every signal, so
 * the host's handlers keep running on the host's threads. */
static int start_helpers(int nt)
{
    if (pool.nthreads >= nt - 1) return nt;
    pthread_once(&atfork_once, register_atfork);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (pool.nthreads < nt - 1) {
        const int w = pool.nthreads + 1;
        pool.start_gen[w] = gen_of(atomic_load(&pool.state));
        if (pthread_create(&pool.tid[w], NULL, helper_main, (void *)(intptr_t)w) != 0) break;
        pool.nthreads = w;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pool.nthreads + 1 < nt ? pool.nthreads + 1 : nt;
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

int gan_pool_size(int max_threads)
{
    int n = gan_get_num_threads();
    if (n > max_threads) n = max_threads;
    if (n > GAN_POOL_MAX) n = GAN_POOL_MAX;
    return n < 1 ? 1 : n;
}

bool gan_in_parallel(void)
{
    return in_task;
}

void gan_split(int64_t count, int t, int ntasks, int64_t *begin, int64_t *end)
{
    *begin = count * t / ntasks;
    *end = count * (t + 1) / ntasks;
}

void gan_parallel(gan_task_fn fn, void *ctx, int ntasks, int max_threads)
{
    if (ntasks < 1) return;
    if (ntasks == 1 && !in_task) { /* no region: a parallel loop inside may use the pool */
        fn(ctx, 0, 1, 0);
        return;
    }
    int nt = gan_pool_size(max_threads < ntasks ? max_threads : ntasks);
    if (nt == 1 || in_task || pthread_mutex_trylock(&region) != 0) {
        const bool outer = in_task;
        in_task = true;
        for (int t = 0; t < ntasks; t++) fn(ctx, t, ntasks, 0);
        in_task = outer;
        return;
    }
    nt = start_helpers(nt);

    pthread_mutex_lock(&pool.lock);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.ntasks = ntasks;
    pool.nthreads_job = nt;
    atomic_store(&pool.next, 0);
    const uint32_t gen = gen_of(atomic_load(&pool.state)) + 1;
    atomic_store(&pool.state, (uint64_t)gen << 32); /* open, nobody in */
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    run_tasks(fn, ctx, ntasks, 0);

    /* close: from now on nobody joins; wait for those inside */
    uint64_t s = atomic_fetch_or(&pool.state, CLOSED) | CLOSED;
    for (int i = 0; i < SPIN && (s & BUSY_MASK) != 0; i++) {
        relax();
        s = atomic_load(&pool.state);
    }
    if ((s & BUSY_MASK) != 0) {
        pthread_mutex_lock(&pool.lock);
        while ((atomic_load(&pool.state) & BUSY_MASK) != 0) pthread_cond_wait(&pool.done, &pool.lock);
        pthread_mutex_unlock(&pool.lock);
    }
    pthread_mutex_unlock(&region);
}
