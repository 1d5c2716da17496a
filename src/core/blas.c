/* blas.c — OpenBLAS glue: the GEMM wrapper, thread count, and core choice.
 *
 * Threads: libgan runs one pool of workers (pool.c) and keeps OpenBLAS at
 * one thread.  gan_sgemm splits a large product into one block of columns
 * (or rows) per worker, each a single-threaded BLAS call; inside a parallel
 * region it calls BLAS directly.  Two pools on the same cores would fight:
 * OpenBLAS's threads spin after each call while libgan's want the cores.
 * GAN_GEMM_THREADS=blas in the environment gives the GEMMs back to
 * OpenBLAS's own threads instead (for measurements).
 *
 * The core trap: Debian 12's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not know
 * newer CPU models and falls back to its generic "Prescott" kernels, which
 * run sgemm at about a fifth of what the machine can do.  Users would have to
 * set OPENBLAS_CORETYPE before the library loads.  On first use libgan asks
 * OpenBLAS which core it chose; if the user set no OPENBLAS_CORETYPE and the
 * chosen core is one OpenBLAS names for an older CPU (no AVX2+FMA, or no
 * AVX-512 where the CPU and OS have it), libgan re-runs OpenBLAS's own core
 * selection with OPENBLAS_CORETYPE set to Haswell or SkylakeX for that call
 * only.  A core name libgan does not know (a newer OpenBLAS) is left alone.
 * All OpenBLAS-specific symbols are weak, so any other CBLAS still links;
 * then nothing is changed.  GAN_BLAS_CORE=keep disables the switch.
 */
#include "internal.h"
#include "core/pool.h"

#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* OpenBLAS extensions, resolved at run time if present. */
extern char *openblas_get_corename(void) __attribute__((weak));
extern char *openblas_get_config(void) __attribute__((weak));
extern void openblas_set_num_threads(int n) __attribute__((weak));
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

static int num_threads;            /* 0 until initialised */
static bool blas_threads;          /* GAN_GEMM_THREADS=blas: OpenBLAS threads the GEMMs */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char core_note[64] = "";

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 64) n = 64;
    return (int)n;
}

/* The best OpenBLAS core name this CPU supports, or NULL. */
static const char *best_core(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SKYLAKEX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "HASWELL";
#endif
    return NULL;
}

/* Is `name` (openblas_get_corename) a core OpenBLAS 0.3.x picks for a CPU
 * without AVX2+FMA (Prescott is its fallback for CPUs it does not know)?
 * With avx512, also the AVX2 cores. */
static bool weaker_core(const char *name, bool avx512)
{
    static const char *const pre_avx2[] = {
        "Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Core2",
        "Penryn", "Dunnington", "Nehalem", "Athlon", "Opteron", "Opteron(SSE3)",
        "Barcelona", "Nano", "Sandybridge", "Bobcat", "Bulldozer", "Piledriver",
        "Steamroller", "Excavator"};
    for (size_t i = 0; i < sizeof pre_avx2 / sizeof pre_avx2[0]; i++)
        if (strcmp(name, pre_avx2[i]) == 0) return true;
    return avx512 && (strcmp(name, "Haswell") == 0 || strcmp(name, "Zen") == 0);
}

static void choose_core(void)
{
    if (!openblas_get_corename || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
    const char *keep = getenv("GAN_BLAS_CORE");
    if (keep != NULL && strcmp(keep, "keep") == 0) return;
    if (getenv("OPENBLAS_CORETYPE") != NULL) return;      /* the user chose */
    const char *name = openblas_get_corename();
    const char *core = best_core();
    if (name == NULL || core == NULL || !weaker_core(name, strcmp(core, "SKYLAKEX") == 0)) return;
    char old[32];
    snprintf(old, sizeof old, "%s", name);
    /* OpenBLAS reads the core from the environment; set it only for the
     * duration of its re-initialisation. */
    setenv("OPENBLAS_CORETYPE", core, 0);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
    snprintf(core_note, sizeof core_note, " (switched from %s)", old);
}

/* OpenBLAS's own thread count: 1, unless it does the GEMM threading. */
static void set_blas_threads(void)
{
    if (openblas_set_num_threads) openblas_set_num_threads(blas_threads ? num_threads : 1);
}

static void init_once(void)
{
    choose_core();
    if (num_threads == 0) num_threads = default_threads();
    const char *mode = getenv("GAN_GEMM_THREADS");
    blas_threads = mode != NULL && strcmp(mode, "blas") == 0;
    set_blas_threads();
}

void gan_runtime_init(void)
{
    pthread_once(&once, init_once);
}

bool gan_gemm_threaded_by_blas(void)
{
    gan_runtime_init();
    return blas_threads;
}

gan_status gan_set_num_threads(int n)
{
    if (n < 1)
        return gan_fail(GAN_E_INVALID, "gan_set_num_threads: n = %d, must be >= 1", n);
    gan_runtime_init();
    num_threads = n;
    set_blas_threads();
    return GAN_OK;
}

int gan_get_num_threads(void)
{
    gan_runtime_init();
    return num_threads;
}

const char *gan_runtime_info(void)
{
    static _Thread_local char info[256];
    gan_runtime_init();
    const char *core = openblas_get_corename ? openblas_get_corename() : "unknown";
    const char *config = openblas_get_config ? openblas_get_config() : "CBLAS";
    snprintf(info, sizeof info, "libgan %s; BLAS %s; core %s%s; threads %d (%s)",
             gan_version_string(), config, core, core_note, num_threads,
             blas_threads ? "GEMMs threaded by BLAS" : "libgan pool, BLAS single-threaded");
    return info;
}

static void sgemm1(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                   int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a,
                (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

typedef struct gemm_job {
    bool trans_a, trans_b, by_rows;
    int64_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
} gemm_job;

/* Task t's block of C: columns (or rows) in multiples of 16. */
static void gemm_task(void *ctx, int t, int ntasks, int thread)
{
    (void)thread;
    const gemm_job *j = ctx;
    const int64_t len = j->by_rows ? j->m : j->n, blocks = (len + 15) / 16;
    int64_t b0, b1;
    gan_split(blocks, t, ntasks, &b0, &b1);
    const int64_t lo = 16 * b0, hi = 16 * b1 < len ? 16 * b1 : len;
    if (lo >= hi) return;
    if (j->by_rows) /* rows lo..hi of op(A) and C */
        sgemm1(j->trans_a, j->trans_b, hi - lo, j->n, j->k, j->alpha,
               j->trans_a ? j->a + lo : j->a + lo * j->lda, j->lda, j->b, j->ldb, j->beta,
               j->c + lo * j->ldc, j->ldc);
    else /* columns lo..hi of op(B) and C */
        sgemm1(j->trans_a, j->trans_b, j->m, hi - lo, j->k, j->alpha, j->a, j->lda,
               j->trans_b ? j->b + lo * j->ldb : j->b + lo, j->ldb, j->beta, j->c + lo, j->ldc);
}

/* Products below this many multiply-adds are not worth a split. */
#define SPLIT_MIN_MACS (1 << 21)

void gan_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
               float *c, int64_t ldc)
{
    gan_runtime_init();
    const int nw = blas_threads || gan_in_parallel() ? 1 : gan_pool_size(GAN_POOL_MAX);
    /* split the longer side of C, if each worker still gets a fair block */
    const bool by_rows = m > n;
    const int64_t side = by_rows ? m : n;
    if (nw == 1 || (double)m * n * k < SPLIT_MIN_MACS || side < 32 * nw) {
        sgemm1(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    gemm_job j = {trans_a, trans_b, by_rows, m, n, k, lda, ldb, ldc, alpha, beta, a, b, c};
    gan_parallel(gemm_task, &j, nw, nw); /* one block per thread: the split depends on
                                            the thread count only */
}
