/* sgemm_rate.c — OpenBLAS cblas_sgemm rate on square matrices and on the
 * GEMM shapes of a DCGAN-28 step (batch 64, whole batch and libgan's
 * 539-column chunks), with 1 and 2 threads.  Needs nothing beyond AVX2
 * (../shared/ref/sgemm_peak.c needs AVX-512).
 *
 *   cc -O2 bench/sgemm_rate.c $(pkg-config --cflags --libs openblas) -o /tmp/sgemm_rate
 *   /tmp/sgemm_rate [seconds per case, default 0.3]
 *   OPENBLAS_CORETYPE=Prescott /tmp/sgemm_rate      (what the core fallback costs)
 *
 * Wall-clock time, best and median of the repetitions: on a shared machine
 * the best is what the hardware can do, the median what it did. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void openblas_set_num_threads(int n);
char *openblas_get_corename(void);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct shape {
    const char *name;
    int m, n, k, trans_a, trans_b;
} shape;

static const shape shapes[] = {
    {"square 1024", 1024, 1024, 1024, 0, 0},
    {"square 2048", 2048, 2048, 2048, 0, 0},
    {"D layer 2 forward", 128, 64 * 49, 1024, 0, 0},
    {"D layer 2 dW", 128, 1024, 64 * 49, 0, 1},
    {"D layer 2 dx", 1024, 64 * 49, 128, 1, 0},
    {"G layer 2 forward", 2048, 64 * 49, 256, 1, 0},
    {"G layer 2 dW", 256, 2048, 64 * 49, 0, 1},
    {"G layer 2 dx", 256, 64 * 49, 2048, 0, 0},
    {"D layer 2 fwd, chunk", 128, 539, 1024, 0, 0},
    {"G layer 2 fwd, chunk", 2048, 539, 256, 1, 0},
    {"G layer 2 dx, chunk", 256, 539, 2048, 0, 0},
};

static void run(const shape *s, double seconds, int threads)
{
    const int m = s->m, n = s->n, k = s->k;
    float *a = malloc((size_t)m * k * sizeof *a), *b = malloc((size_t)k * n * sizeof *b);
    float *c = calloc((size_t)m * n, sizeof *c);
    double *t = malloc(10000 * sizeof *t);
    if (!a || !b || !c || !t) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)rand() / RAND_MAX - 0.5f;
    for (size_t i = 0; i < (size_t)k * n; i++) b[i] = (float)rand() / RAND_MAX - 0.5f;
    const int lda = s->trans_a ? m : k, ldb = s->trans_b ? k : n;
    int reps = 0;
    for (double start = now(); reps < 10000 && (reps < 5 || now() - start < seconds); reps++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, s->trans_a ? CblasTrans : CblasNoTrans,
                    s->trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, 0.0f,
                    c, n);
        t[reps] = now() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp);
    const double flop = 2.0 * m * n * k;
    printf("%d  %-22s %5d %5d %5d %c%c  best %6.1f  median %6.1f GFLOP/s\n", threads, s->name, m,
           n, k, s->trans_a ? 'T' : 'N', s->trans_b ? 'T' : 'N', flop / t[0] / 1e9,
           flop / t[reps / 2] / 1e9);
    free(a);
    free(b);
    free(c);
    free(t);
}

int main(int argc, char **argv)
{
    const double seconds = argc > 1 ? atof(argv[1]) : 0.3;
    printf("OpenBLAS core %s\nthreads  shape  M N K  op(A)op(B)\n", openblas_get_corename());
    for (int threads = 1; threads <= 2; threads++) {
        openblas_set_num_threads(threads);
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) run(&shapes[i], seconds, threads);
    }
    return 0;
}
