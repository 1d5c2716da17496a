/* test_parallel.c — the performance machinery must not change results:
 * im2col / col2im against naive loops on geometries wide enough for the
 * vector paths, libgan's pool (every task runs once, nested and
 * concurrent regions), gan_sgemm's split against one BLAS call, and conv /
 * transposed-conv layers giving the same outputs and gradients with 1, 2
 * and 3 threads and batches that do not divide evenly; and the BLAS core
 * switch (blas.c) in a child process whose OpenBLAS started on Prescott. */
#include "core/pool.h"
#include "internal.h"
#include "layers/im2col.h"
#include "testutil.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ im2col */

/* Where im2col.h puts tap (c, ki, kj) of window (n, oy, ox) in cols
 * (K, N*P), or -1 if its kernel row is outside the image at oy's band. */
static int64_t naive_at(const gan_conv_geom *g, int64_t n, int64_t c, int64_t ki, int64_t kj,
                        int64_t i, int64_t oy, int64_t ox)
{
    const int64_t np = n * g->out_h * g->out_w;
    int b = 0;
    while (g->band[b].oy1 <= oy) b++;
    const gan_conv_band *bd = &g->band[b];
    if (ki < bd->ki0 || ki >= bd->ki1) return -1;
    const int64_t row = gan_conv_ki_major(g) ? (ki * g->channels + c) * g->kw + kj
                                              : (c * g->kh + ki) * g->kw + kj;
    const int64_t pb = (bd->oy1 - bd->oy0) * g->out_w;
    return row * np + n * bd->oy0 * g->out_w + i * pb + (oy - bd->oy0) * g->out_w + ox;
}

/* Naive cols of x (N, C, H, W) (entries im2col does not write are left
 * alone); with add, the adjoint: x += the values of cols where they land. */
static void naive_lowering(float *cols, float *x, const gan_conv_geom *g, int64_t n, bool add)
{
    for (int64_t c = 0; c < g->channels; c++)
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++)
                for (int64_t i = 0; i < n; i++)
                    for (int64_t oy = 0; oy < g->out_h; oy++)
                        for (int64_t ox = 0; ox < g->out_w; ox++) {
                            const int64_t at = naive_at(g, n, c, ki, kj, i, oy, ox);
                            if (at < 0) continue;
                            const int64_t iy = oy * g->stride - g->pad + ki;
                            const int64_t ix = ox * g->stride - g->pad + kj;
                            const bool in = iy >= 0 && iy < g->height && ix >= 0 && ix < g->width;
                            float *px =
                                x + ((i * g->channels + c) * g->height + iy) * g->width + ix;
                            if (add && in) *px += cols[at];
                            else if (!add) cols[at] = in ? *px : 0.0f;
                        }
}

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xffff) / 32768.0f - 1.0f;
}

/* Geometry number i: strides 1..3, pads 0..2, kernels 1..5, planes up to
 * 23 wide (output rows of 1 to 23 windows), and for odd i an image taller
 * and wider than the windows cover (a transposed conv's output_padding). */
static gan_conv_geom geometry_case(int i)
{
    uint64_t s = 99 + (uint64_t)i;
    gan_conv_geom g;
    g.channels = 1 + (int)((frand(&s) + 1.0f) * 1.5f);
    g.kh = 1 + (int)((frand(&s) + 1.0f) * 2.4f);
    g.kw = 1 + (int)((frand(&s) + 1.0f) * 2.4f);
    g.stride = 1 + i % 3;
    g.pad = (i / 3) % 3;
    if (g.pad >= g.kh || g.pad >= g.kw) g.pad = 0;
    g.height = g.kh + (int)((frand(&s) + 1.0f) * 10.0f);
    g.width = g.kw + (int)((frand(&s) + 1.0f) * 10.0f);
    g.out_h = (g.height + 2 * g.pad - g.kh) / g.stride + 1;
    g.out_w = (g.width + 2 * g.pad - g.kw) / g.stride + 1;
    if (i % 2 && g.out_h > 1) { /* taller image than the windows cover */
        g.height += g.stride - 1;
        g.width += g.stride - 1;
    }
    gan_conv_plan_bands(&g, true);
    return g;
}

/* The bands tile the grid in order, each keeping exactly the kernel rows
 * inside the image at each of its rows (a lone whole band may keep
 * padding), and the groups hold each kernel row at exactly its bands. */
static void check_bands(const gan_conv_geom *g, int i)
{
    ck_assert_int_ge(g->nbands, 1);
    ck_assert_int_eq(g->band[0].oy0, 0);
    ck_assert_int_eq(g->band[g->nbands - 1].oy1, g->out_h);
    for (int b = 0; b < g->nbands; b++) {
        const gan_conv_band *bd = &g->band[b];
        ck_assert_int_lt(bd->oy0, bd->oy1);
        if (b > 0) ck_assert_int_eq(bd->oy0, g->band[b - 1].oy1);
        for (int64_t oy = bd->oy0; oy < bd->oy1; oy++)
            for (int64_t ki = 0; ki < g->kh; ki++) {
                const int64_t iy = oy * g->stride - g->pad + ki;
                const bool inside = iy >= 0 && iy < g->height, kept = ki >= bd->ki0 && ki < bd->ki1;
                ck_assert_msg(inside ? kept : !kept || g->nbands == 1,
                              "geometry %d band %d: grid row %lld, kernel row %lld", i, b,
                              (long long)oy, (long long)ki);
            }
    }
    for (int64_t ki = 0; ki < g->kh; ki++) {
        int in_groups = 0;
        for (int r = 0; r < g->ngroups; r++) {
            const gan_conv_krows *gr = &g->group[r];
            if (ki < gr->ki0 || ki >= gr->ki1) continue;
            in_groups++;
            for (int b = 0; b < g->nbands; b++)
                ck_assert_int_eq(b >= gr->b0 && b <= gr->b1,
                                 ki >= g->band[b].ki0 && ki < g->band[b].ki1);
        }
        ck_assert_int_le(in_groups, 1);
    }
}

START_TEST(im2col_col2im_match_naive)
{
    const gan_conv_geom g = geometry_case(_i);
    check_bands(&g, _i);
    const int64_t n = 1 + _i % 3, p = g.out_h * g.out_w;
    const int64_t xs = n * g.channels * g.height * g.width, cs = g.channels * g.kh * g.kw * n * p;
    float *x = malloc((size_t)xs * sizeof *x), *want_x = malloc((size_t)xs * sizeof *x);
    float *cols = malloc((size_t)cs * sizeof *cols), *want_cols = malloc((size_t)cs * sizeof *cols);
    float *work = malloc((size_t)gan_im2col_work_floats(&g, n) * sizeof *work);
    float bias[4] = {0.5f, -0.25f, 1.0f, 2.0f};
    uint64_t s = 7 + (uint64_t)_i;
    for (int64_t i = 0; i < xs; i++) x[i] = frand(&s);
    for (int64_t i = 0; i < cs; i++) cols[i] = want_cols[i] = -99.0f;

    gan_im2col(cols, x, &g, n, work);
    naive_lowering(want_cols, x, &g, n, false);
    ck_assert_msg(memcmp(cols, want_cols, (size_t)cs * sizeof *cols) == 0,
                  "im2col differs, geometry %d: C=%lld %lldx%lld k=%lldx%lld s=%lld p=%lld, "
                  "%d bands",
                  _i, (long long)g.channels, (long long)g.height, (long long)g.width,
                  (long long)g.kh, (long long)g.kw, (long long)g.stride, (long long)g.pad,
                  g.nbands);

    for (int64_t i = 0; i < cs; i++) cols[i] = frand(&s);
    for (int64_t i = 0; i < xs; i++)
        want_x[i] = _i % 4 ? bias[(i / (g.height * g.width)) % g.channels] : 0.0f;
    gan_col2im(x, cols, _i % 4 ? bias : NULL, &g, n, work);
    naive_lowering(cols, want_x, &g, n, true);
    tu_assert_close("col2im", x, want_x, xs, 1e-6);
    free(x);
    free(want_x);
    free(cols);
    free(want_cols);
    free(work);
}
END_TEST

/* ------------------------------------------------------------ pool */

#define MAX_TASKS 16

typedef struct count_job {
    atomic_int hits[MAX_TASKS];
    atomic_int nested[MAX_TASKS];
    atomic_int busy[GAN_POOL_MAX]; /* a task is running with this thread index */
    atomic_int max_thread;
    atomic_int clashes;            /* two tasks at once on one thread index   */
    atomic_int outside;            /* a task that did not see gan_in_parallel */
    int ntasks_seen;
} count_job;

static void inner_task(void *ctx, int t, int ntasks, int thread)
{
    count_job *j = ctx;
    (void)ntasks;
    (void)thread;
    atomic_fetch_add(&j->nested[t], 1);
}

static void count_task(void *ctx, int t, int ntasks, int thread)
{
    count_job *j = ctx;
    int idle = 0;
    if (!atomic_compare_exchange_strong(&j->busy[thread], &idle, 1)) atomic_fetch_add(&j->clashes, 1);
    atomic_fetch_add(&j->hits[t], 1);
    j->ntasks_seen = ntasks;
    for (int m = atomic_load(&j->max_thread); thread > m;)
        if (atomic_compare_exchange_weak(&j->max_thread, &m, thread)) break;
    if (!gan_in_parallel()) atomic_fetch_add(&j->outside, 1);
    for (volatile int spin = 0; spin < 20000; spin++) {
    } /* let tasks overlap */
    gan_parallel(inner_task, ctx, 2, 2); /* nested: serial, unless this is a lone task */
    atomic_store(&j->busy[thread], 0);
}

/* Every task runs once, on thread indices below the cap, never two at once
 * on one index; a nested region runs all its tasks serially.  A region of
 * one task runs it on the caller outside any region (so it may use the
 * pool itself: a convolution's GEMM on a batch of one). */
START_TEST(pool_runs_every_task_once)
{
    const int threads = gan_get_num_threads();
    for (int t = 1; t <= 4; t++) {
        TU_OK(gan_set_num_threads(t));
        for (int ntasks = 1; ntasks <= 7; ntasks += 2)
            for (int max = 1; max <= 5; max++) {
                count_job j;
                memset(&j, 0, sizeof j);
                gan_parallel(count_task, &j, ntasks, max);
                ck_assert_int_eq(j.ntasks_seen, ntasks);
                ck_assert_int_eq(atomic_load(&j.clashes), 0);
                ck_assert_int_eq(atomic_load(&j.outside), ntasks == 1 ? 1 : 0);
                ck_assert_int_lt(atomic_load(&j.max_thread), t < max ? t : max);
                ck_assert(!gan_in_parallel());
                for (int k = 0; k < MAX_TASKS; k++) {
                    ck_assert_int_eq(atomic_load(&j.hits[k]), k < ntasks ? 1 : 0);
                    /* every outer task ran the nested region's two tasks */
                    ck_assert_int_eq(atomic_load(&j.nested[k]), k < 2 ? ntasks : 0);
                }
            }
    }
    count_job none;
    memset(&none, 0, sizeof none);
    gan_parallel(count_task, &none, 0, 2);
    ck_assert_int_eq(atomic_load(&none.hits[0]), 0);
    int64_t lo, hi, covered = 0;
    for (int k = 0; k < 3; k++) {
        gan_split(10, k, 3, &lo, &hi);
        ck_assert_int_eq(lo, covered);
        covered = hi;
    }
    ck_assert_int_eq(covered, 10);
    TU_OK(gan_set_num_threads(threads));
}
END_TEST

static void *region_thread(void *arg)
{
    count_job *j = arg;
    for (int r = 0; r < 200; r++) gan_parallel(count_task, j, 3, 2);
    return NULL;
}

/* Two user threads opening regions at once: one gets the pool, the other
 * runs its tasks itself; each task of each region still runs once. */
START_TEST(pool_concurrent_regions)
{
    const int threads = gan_get_num_threads();
    TU_OK(gan_set_num_threads(2));
    count_job a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    pthread_t ta, tb;
    ck_assert_int_eq(pthread_create(&ta, NULL, region_thread, &a), 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, region_thread, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(atomic_load(&a.hits[k]), 200);
        ck_assert_int_eq(atomic_load(&b.hits[k]), 200);
    }
    ck_assert_int_eq(atomic_load(&a.clashes) + atomic_load(&b.clashes), 0);
    TU_OK(gan_set_num_threads(threads));
}
END_TEST

/* ------------------------------------------------------------ gan_sgemm */

/* The split product equals one BLAS call up to rounding (BLAS may sum an
 * element in a different order at the edge of a block). */
START_TEST(sgemm_split_matches_one_call)
{
    const int threads = gan_get_num_threads();
    TU_OK(gan_set_num_threads(3));
    const int shapes[][5] = {/* m, n, k, trans_a, trans_b */
                             {64, 700, 50, 0, 0}, {700, 64, 50, 1, 0}, {300, 301, 40, 0, 1},
                             {513, 97, 33, 1, 1}, {40, 2000, 30, 0, 0}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        const int m = shapes[t][0], n = shapes[t][1], k = shapes[t][2];
        const bool ta = shapes[t][3], tb = shapes[t][4];
        const int lda = ta ? m : k, ldb = tb ? k : n;
        float *a = malloc((size_t)m * k * sizeof *a), *b = malloc((size_t)k * n * sizeof *b);
        float *c = malloc((size_t)m * n * sizeof *c), *want = malloc((size_t)m * n * sizeof *c);
        uint64_t s = 5 + t;
        for (int i = 0; i < m * k; i++) a[i] = frand(&s);
        for (int i = 0; i < k * n; i++) b[i] = frand(&s);
        for (int i = 0; i < m * n; i++) c[i] = want[i] = frand(&s);
        gan_sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 0.25f, c, n);
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    m, n, k, 0.5f, a, lda, b, ldb, 0.25f, want, n);
        tu_assert_close("split sgemm", c, want, (int64_t)m * n, 1e-4);
        free(a);
        free(b);
        free(c);
        free(want);
    }
    TU_OK(gan_set_num_threads(threads));
}
END_TEST

/* ------------------------------------------------------------ layers */

typedef struct run_out {
    float *y, *dx, *dw;
    int64_t ny, nx, nw;
} run_out;

/* Forward and backward of a fresh layer (default init: the same weights
 * every time) with `threads` threads; dW accumulated over two backwards. */
static run_out run_layer(bool transposed, int threads, int64_t n)
{
    TU_OK(gan_set_num_threads(threads));
    gan_layer *l = NULL;
    int64_t in[3];
    if (transposed) {
        TU_OK(gan_layer_conv_transpose2d(&l, 24, 8, 4, 4, 2, 1, 1, 1));
        in[0] = 24, in[1] = 5, in[2] = 6;
    } else {
        TU_OK(gan_layer_conv2d(&l, 6, 16, 4, 3, 2, 1, 1));
        in[0] = 6, in[1] = 15, in[2] = 13;
    }
    TU_OK(gan_layer_attach(l, 3, in));
    int nd;
    int64_t out[GAN_MAX_DIMS];
    TU_OK(gan_layer_output_shape(l, &nd, out));
    gan_tensor *x = tu_tensor(4, n, in[0], in[1], in[2]);
    gan_tensor *y = tu_tensor(4, n, out[0], out[1], out[2]);
    gan_tensor *dy = tu_tensor(4, n, out[0], out[1], out[2]);
    gan_tensor *dx = tu_tensor(4, n, in[0], in[1], in[2]);
    uint64_t s = 3;
    for (int64_t i = 0; i < gan_tensor_numel(x); i++) gan_tensor_data(x)[i] = frand(&s);
    for (int64_t i = 0; i < gan_tensor_numel(dy); i++) gan_tensor_data(dy)[i] = frand(&s);
    TU_OK(gan_layer_zero_grad(l));
    TU_OK(gan_layer_forward(l, x, y));
    TU_OK(gan_layer_backward(l, dy, dx));
    TU_OK(gan_layer_backward(l, dy, dx));
    gan_tensor *w, *gw;
    TU_OK(gan_layer_tensor(l, 0, NULL, &w, &gw));
    run_out r = {.ny = gan_tensor_numel(y), .nx = gan_tensor_numel(dx), .nw = gan_tensor_numel(gw)};
    r.y = malloc((size_t)r.ny * sizeof(float));
    r.dx = malloc((size_t)r.nx * sizeof(float));
    r.dw = malloc((size_t)r.nw * sizeof(float));
    memcpy(r.y, gan_tensor_data(y), (size_t)r.ny * sizeof(float));
    memcpy(r.dx, gan_tensor_data(dx), (size_t)r.nx * sizeof(float));
    memcpy(r.dw, gan_tensor_data(gw), (size_t)r.nw * sizeof(float));
    gan_tensor_free(x);
    gan_tensor_free(y);
    gan_tensor_free(dy);
    gan_tensor_free(dx);
    gan_layer_free(l);
    return r;
}

static void free_run(run_out *r)
{
    free(r->y);
    free(r->dx);
    free(r->dw);
}

/* Batches 1, 7 and 70 (several chunks per worker, uneven shares). */
START_TEST(conv_layers_agree_across_thread_counts)
{
    const int threads = gan_get_num_threads();
    const int64_t batches[] = {1, 7, 70};
    for (int transposed = 0; transposed < 2; transposed++)
        for (size_t b = 0; b < 3; b++) {
            run_out one = run_layer(transposed, 1, batches[b]);
            for (int t = 2; t <= 3; t++) {
                run_out many = run_layer(transposed, t, batches[b]);
                tu_assert_close("y", many.y, one.y, one.ny, 1e-4);
                tu_assert_close("dx", many.dx, one.dx, one.nx, 1e-4);
                tu_assert_close("dW", many.dw, one.dw, one.nw, 1e-3); /* sums of ~4000 terms */
                free_run(&many);
            }
            free_run(&one);
        }
    TU_OK(gan_set_num_threads(threads));
}
END_TEST

/* ------------------------------------------------------------ BLAS core */

/* In the child (GAN_TEST_CORE_CHILD set): OpenBLAS loaded with
 * OPENBLAS_CORETYPE=Prescott, which stands in for its fallback on a CPU it
 * does not know; the variable is gone before libgan's first call, as if the
 * user had never set it.  On a CPU with AVX2+FMA libgan must switch. */
static void core_child(void)
{
    unsetenv("OPENBLAS_CORETYPE");
    const char *info = gan_runtime_info();
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        ck_assert_msg(strstr(info, "(switched from Prescott)") != NULL, "%s", info);
        ck_assert_msg(strstr(info, "core Prescott") == NULL, "%s", info);
    } else {
        ck_assert_msg(strstr(info, "core Prescott;") != NULL, "%s", info);
    }
    /* and the re-initialised BLAS computes */
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, c[4] = {0};
    gan_sgemm(false, false, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2); /* (2,3) (3,2) */
    const float want[4] = {4, 5, 10, 11};
    ck_assert_mem_eq(c, want, sizeof c);
}

START_TEST(blas_core_switch)
{
    if (getenv("GAN_TEST_CORE_CHILD") != NULL) {
        core_child();
        return;
    }
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setenv("GAN_TEST_CORE_CHILD", "1", 1);
        setenv("OPENBLAS_CORETYPE", "Prescott", 1);
        setenv("CK_RUN_SUITE", "blascore", 1);
        if (freopen("/dev/null", "w", stdout) == NULL) _exit(126); /* its own summary line */
        unsetenv("GAN_BLAS_CORE");
        execl("/proc/self/exe", "check_gan", (char *)NULL);
        _exit(127);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the child run failed (status %d); to see why: GAN_TEST_CORE_CHILD=1 "
                  "OPENBLAS_CORETYPE=Prescott CK_RUN_SUITE=blascore check_gan", st);
}
END_TEST

Suite *suite_blascore(void)
{
    Suite *s = suite_create("blascore");
    TCase *tc = tcase_create("blascore");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, blas_core_switch);
    suite_add_tcase(s, tc);
    return s;
}

Suite *suite_parallel(void)
{
    Suite *s = suite_create("parallel");
    TCase *tc = tcase_create("parallel");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, im2col_col2im_match_naive, 0, 60);
    tcase_add_test(tc, pool_runs_every_task_once);
    tcase_add_test(tc, pool_concurrent_regions);
    tcase_add_test(tc, sgemm_split_matches_one_call);
    tcase_add_test(tc, conv_layers_agree_across_thread_counts);
    suite_add_tcase(s, tc);
    return s;
}
