/* batchnorm.c — batch normalisation (PyTorch's BatchNorm1d/2d).
 *
 * The per-sample input is (C, ...): channel c's statistics are taken over
 * the batch and every remaining axis, so (C, H, W) is normalised per
 * channel and (F) per feature.  Viewed as x (N, C, S) with S = H*W (1 for
 * features), every channel owns N blocks of S contiguous floats.
 *
 *   training:  mean, var = batch mean and biased variance of channel c
 *              y = (x - mean) / sqrt(var + eps) * gamma + beta
 *              running_mean = (1 - momentum) running_mean + momentum mean
 *              running_var  = (1 - momentum) running_var
 *                             + momentum var * m / (m - 1)      (m = N*S)
 *   eval:      the same y with running_mean / running_var
 *
 * Slots: "weight" (gamma), "bias" (beta), buffers "running_mean",
 * "running_var" (C each); num_batches_tracked counts training forwards.
 *
 * A channel with a single value (m = 1) has no unbiased variance; PyTorch
 * refuses such a training batch.  Here the forward still works (var = 0, so
 * y = beta and dx = 0) and running_var is left unchanged for that batch.
 *
 * Sums run in double, and so does dx (for small m its terms nearly
 * cancel); y is computed in float with the mean split in two (x may sit far
 * from 0 compared with its spread).  The channels are split across
 * libgan's pool, and each pass walks its channels sample by sample, one
 * contiguous channel block at a time.
 *
 * A model may hand batchnorm the rectifier (relu, leaky_relu) that follows
 * it: forward then rectifies each block as it writes it, and backward
 * applies the rectifier's gradient to each block of dy first (model.c). */
#include "internal.h"
#include "core/pool.h"
#include "core/simd.h"
#include "eltwise.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bn_impl {
    double eps;       /* > 0                                             */
    double momentum;  /* [0, 1]                                          */
    bool saved_training; /* mode of the last forward (backward needs it) */
    double *mean;     /* (C) statistics the last forward normalised with */
    double *rstd;     /* (C) 1 / sqrt(var + eps) of that forward         */
    double *sums;     /* (2, C) per-channel sums of the pass running     */
    float *coef;      /* (C, NCOEF) constants of the forward's last pass */
} bn_impl;

enum { GAMMA, BETA, RUNNING_MEAN, RUNNING_VAR };

static int64_t channels(const gan_layer *l) { return l->slot[GAMMA].shape.d[0]; }
/* Elements per channel block: the product of the per-sample axes after C. */
static int64_t block_size(const gan_layer *l) { return gan_shape_numel(&l->in) / channels(l); }

/* ------------------------------------------------ per-block reductions */
/* Eight independent double accumulators, so the loops vectorise without
 * reassociating floating-point sums. */
#define LANES 8

/* s1 += sum_i (x[i] - shift), s2 += sum_i (x[i] - shift)^2: one pass for
 * the mean and variance.  The shift is a value of the channel, so
 * (mean - shift)^2 <= m var, and var = s2/m - (s1/m)^2 cancels at most a
 * factor m + 1 of double precision, however far x sits from 0. */
GAN_INLINE void shifted_sums_block(const float *x, double shift, int64_t s, double *s1, double *s2)
{
    double a[LANES] = {0}, b[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= s; i += LANES)
        for (int k = 0; k < LANES; k++) {
            double d = x[i + k] - shift;
            a[k] += d;
            b[k] += d * d;
        }
    double t1 = 0.0, t2 = 0.0;
    for (; i < s; i++) {
        double d = x[i] - shift;
        t1 += d;
        t2 += d * d;
    }
    for (int k = 0; k < LANES; k++) {
        t1 += a[k];
        t2 += b[k];
    }
    *s1 += t1;
    *s2 += t2;
}

/* sdy += sum_i dy[i],  sdev += sum_i dy[i] (x[i] - mean) */
GAN_INLINE void grad_sums_block(const float *dy, const float *x, double mean, int64_t s,
                                double *sdy, double *sdev)
{
    double a[LANES] = {0}, b[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= s; i += LANES)
        for (int k = 0; k < LANES; k++) {
            a[k] += dy[i + k];
            b[k] += dy[i + k] * (x[i + k] - mean);
        }
    double t1 = 0.0, t2 = 0.0;
    for (; i < s; i++) {
        t1 += dy[i];
        t2 += dy[i] * (x[i] - mean);
    }
    for (int k = 0; k < LANES; k++) {
        t1 += a[k];
        t2 += b[k];
    }
    *sdy += t1;
    *sdev += t2;
}

/* ------------------------------------------------- elementwise blocks */
/* Written in LANES-wide steps like the reductions (gcc -O2 vectorises such
 * a fixed-width body, but not a plain loop that would need an epilogue).
 * They run in float: x - mean is taken as (x - mhi) - mlo, where mhi is
 * the mean rounded to float and mlo the rest, so it stays accurate when x
 * sits far from 0 compared with its spread (x - mhi is exact near the
 * mean). */

/* y = ((x - mhi) - mlo) scale + shift;  restrict: y never overlaps x */
GAN_INLINE void affine_block(float *restrict y, const float *restrict x, float mhi, float mlo,
                             float scale, float shift, int64_t s)
{
    int64_t i = 0;
    for (; i + LANES <= s; i += LANES)
        for (int k = 0; k < LANES; k++) y[i + k] = ((x[i + k] - mhi) - mlo) * scale + shift;
    for (; i < s; i++) y[i] = ((x[i] - mhi) - mlo) * scale + shift;
}

/* Four doubles (two SSE2 registers, or one AVX2 one), for dx_block. */
typedef double v4d __attribute__((vector_size(32)));

/* dx = a ((dy - mdy) - (x - mean) k), in double: for small m the two terms
 * nearly cancel (for m = 2, dx is O(eps / var) of dy).  dx may be dy, so
 * this one is written in explicit vectors (no restrict, yet vectorised). */
GAN_INLINE void dx_block(float *dx, const float *dy, const float *x, double mean, double a,
                         double mdy, double k, int64_t s)
{
    const v4d vmean = {mean, mean, mean, mean}, va = {a, a, a, a}, vmdy = {mdy, mdy, mdy, mdy},
              vk = {k, k, k, k};
    int64_t i = 0;
    for (; i + 4 <= s; i += 4) {
        const v4d g = __builtin_convertvector(gan_v4_load(dy + i), v4d);
        const v4d xc = __builtin_convertvector(gan_v4_load(x + i), v4d) - vmean;
        gan_v4_store(dx + i, __builtin_convertvector(va * ((g - vmdy) - xc * vk), gan_v4));
    }
    for (; i < s; i++) dx[i] = (float)(a * ((dy[i] - mdy) - (x[i] - mean) * k));
}

/* ------------------------------------------------------------ attach */

static gan_status bn_attach(gan_layer *l, const gan_shape *in, gan_shape *out)
{
    if (in->d[0] != channels(l)) {
        char got[96];
        return gan_fail(GAN_E_SHAPE,
                        "batchnorm: num_features = %lld, so the per-sample input must be (%lld) or "
                        "(%lld, H, W); got %s",
                        (long long)channels(l), (long long)channels(l), (long long)channels(l),
                        gan_shape_str(in, got, sizeof got));
    }
    *out = *in;
    return GAN_OK;
}

/* ------------------------------------------------------------ forward */
/* Both passes split the channels across libgan's pool: a channel's
 * statistics and its outputs depend on that channel alone, so the result
 * does not depend on the thread count. */

typedef struct bn_job {
    gan_layer *l;
    float *out;        /* forward: y;  backward: dx (may be NULL) */
    const float *x;    /* (N, C, S)                               */
    const float *dy;   /* backward: (N, C, S)                     */
    const float *y;    /* backward with a rectifier: r(y)         */
    int64_t n;
    bool param_grads;
    bool rect;         /* a fused rectifier r follows (model.c)   */
    gan_rect r;
} bn_job;

/* Tasks for c channels of n blocks of s: two per thread of the pool (so
 * a late thread's share can be taken over), each at least 16K elements
 * and one channel.  Few and wide: a task reads its channels sample by
 * sample, and the wider each sample's stretch, the better memory streams. */
static int bn_tasks(int64_t c, int64_t n, int64_t s)
{
    int64_t t = 2 * (int64_t)gan_pool_size(GAN_POOL_MAX);
    if (t > n * s * c / 16384) t = n * s * c / 16384;
    if (t > c) t = c;
    return t < 1 ? 1 : (int)t;
}

/* The float constants of a channel's forward pass (NCOEF per channel in
 * bn_impl.coef): y = ((x - MHI) - MLO) A + B with the mean split into
 * MHI + MLO (see above), A = gamma rstd and B = beta. */
enum { MHI, MLO, A, B, NCOEF };

/* Channels [c0, c1): statistics (training: batch mean and biased variance,
 * running stats updated; eval: running stats), then
 * y = (x - mean) rstd gamma + beta, rectified block by block if j->rect.
 * Both passes walk the batch sample by sample, each sample's channels
 * [c0, c1) being one contiguous stretch of memory: a channel's own blocks
 * lie a whole sample apart, and read that way they came from memory
 * several times slower. */
GAN_HOT static void forward_task(void *ctx, int t, int ntasks, int thread)
{
    (void)thread;
    const bn_job *j = ctx;
    gan_layer *l = j->l;
    bn_impl *b = l->impl;
    const int64_t c = channels(l), s = block_size(l), n = j->n;
    float *run_mean = l->slot[RUNNING_MEAN].value.data; /* (C) */
    float *run_var = l->slot[RUNNING_VAR].value.data;   /* (C) */
    double *s1 = b->sums, *s2 = b->sums + c;            /* (C) each */
    int64_t c0, c1;
    gan_split(c, t, ntasks, &c0, &c1);
    if (l->training) {
        for (int64_t ch = c0; ch < c1; ch++) s1[ch] = s2[ch] = 0.0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t ch = c0; ch < c1; ch++) /* shifted by the channel's first value */
                shifted_sums_block(j->x + (i * c + ch) * s, j->x[ch * s], s, &s1[ch], &s2[ch]);
    }
    for (int64_t ch = c0; ch < c1; ch++) {
        if (l->training) {
            const double m = (double)(n * s), mom = b->momentum;
            const double d = s1[ch] / m, var = fmax(s2[ch] / m - d * d, 0.0);
            const double mean = j->x[ch * s] + d;
            b->mean[ch] = mean;
            b->rstd[ch] = 1.0 / sqrt(var + b->eps);
            run_mean[ch] = (float)((1.0 - mom) * run_mean[ch] + mom * mean);
            if (n * s > 1)
                run_var[ch] = (float)((1.0 - mom) * run_var[ch] + mom * var * m / (m - 1));
        } else {
            b->mean[ch] = run_mean[ch];
            b->rstd[ch] = 1.0 / sqrt((double)run_var[ch] + b->eps);
        }
        float *k = b->coef + NCOEF * ch;
        k[MHI] = (float)b->mean[ch];
        k[MLO] = (float)(b->mean[ch] - k[MHI]);
        k[A] = (float)(l->slot[GAMMA].value.data[ch] * b->rstd[ch]);
        k[B] = l->slot[BETA].value.data[ch];
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = c0; ch < c1; ch++) {
            const int64_t off = (i * c + ch) * s; /* channel block (S) */
            const float *k = b->coef + NCOEF * ch;
            affine_block(j->out + off, j->x + off, k[MHI], k[MLO], k[A], k[B], s);
            if (j->rect) gan_rectify_block(j->out + off, j->out + off, j->r.leaky, j->r.slope, s);
        }
}

static void forward_run(gan_layer *l, float *y, const float *x, int64_t n, bool rect, gan_rect r)
{
    bn_impl *b = l->impl;
    b->saved_training = l->training;
    bn_job j = {.l = l, .out = y, .x = x, .n = n, .rect = rect, .r = r};
    gan_parallel(forward_task, &j, bn_tasks(channels(l), n, block_size(l)), GAN_POOL_MAX);
    if (l->training) l->num_batches_tracked++;
}

/* y = (x - mean) rstd gamma + beta, with batch statistics in training mode
 * (updating the running ones) or the running statistics in eval mode. */
static void bn_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    forward_run(l, y, x, n, false, (gan_rect){0});
}

/* y = r((x - mean) rstd gamma + beta) in the same pass */
static void bn_forward_rect(gan_layer *l, float *y, const float *x, int64_t n, gan_rect r)
{
    forward_run(l, y, x, n, true, r);
}

/* ------------------------------------------------------------ backward */

/* With xhat = (x - mean) rstd, per channel:
 *   dbeta  += sum dy            dgamma += sum dy xhat
 *   training:  dx = gamma rstd (dy - mean(dy) - xhat mean(dy xhat))
 *   eval:      dx = gamma rstd dy      (the statistics are constants)
 * for channels [c0, c1), walked sample by sample as in forward.  With a
 * fused rectifier, dy is first replaced by r'(y) dy, written into dx's
 * block (which then serves as dy). */
GAN_HOT static void backward_task(void *ctx, int t, int ntasks, int thread)
{
    (void)thread;
    const bn_job *j = ctx;
    gan_layer *l = j->l;
    bn_impl *b = l->impl;
    const int64_t c = channels(l), s = block_size(l), n = j->n;
    const float *dy = j->rect ? j->out : j->dy;
    double *sum_dy = b->sums, *sum_dev = b->sums + c; /* sum dy, sum dy (x - mean) */
    int64_t c0, c1;
    gan_split(c, t, ntasks, &c0, &c1);
    for (int64_t ch = c0; ch < c1; ch++) sum_dy[ch] = sum_dev[ch] = 0.0;
    const bool sums = j->param_grads || b->saved_training;
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = c0; ch < c1; ch++) {
            const int64_t off = (i * c + ch) * s;
            if (j->rect)
                gan_rectify_grad_block(j->out + off, j->dy + off, j->y + off, j->r.leaky,
                                       j->r.slope, s);
            if (sums) grad_sums_block(dy + off, j->x + off, b->mean[ch], s, &sum_dy[ch], &sum_dev[ch]);
        }
    const double m = (double)(n * s);
    for (int64_t ch = c0; ch < c1; ch++) {
        if (j->param_grads) {
            l->slot[GAMMA].grad.data[ch] += (float)(sum_dev[ch] * b->rstd[ch]);
            l->slot[BETA].grad.data[ch] += (float)sum_dy[ch];
        }
        /* now dx's constants: mean(dy) and mean(dy xhat) rstd (0 in eval mode) */
        sum_dy[ch] = b->saved_training ? sum_dy[ch] / m : 0.0;
        sum_dev[ch] = b->saved_training ? sum_dev[ch] * (b->rstd[ch] * b->rstd[ch] / m) : 0.0;
    }
    if (j->out == NULL) return;
    const float *gamma = l->slot[GAMMA].value.data; /* (C) */
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = c0; ch < c1; ch++) {
            const int64_t off = (i * c + ch) * s; /* channel block (S) */
            dx_block(j->out + off, dy + off, j->x + off, b->mean[ch], gamma[ch] * b->rstd[ch],
                     sum_dy[ch], sum_dev[ch], s);
        }
}

static void bn_backward(gan_layer *l, float *dx, const float *dy, const float *x,
                        const float *y, int64_t n, bool param_grads)
{
    (void)y;
    bn_job j = {.l = l, .out = dx, .x = x, .dy = dy, .n = n, .param_grads = param_grads};
    gan_parallel(backward_task, &j, bn_tasks(channels(l), n, block_size(l)), GAN_POOL_MAX);
}

/* backward of bn_forward_rect: y = r(batchnorm(x)), dy = dL/dy */
static void bn_backward_rect(gan_layer *l, float *dx, const float *dy, const float *x,
                             const float *y, int64_t n, bool param_grads, gan_rect r)
{
    bn_job j = {.l = l, .out = dx, .x = x, .dy = dy, .y = y, .n = n,
                .param_grads = param_grads, .rect = true, .r = r};
    gan_parallel(backward_task, &j, bn_tasks(channels(l), n, block_size(l)), GAN_POOL_MAX);
}

/* ------------------------------------------------------------ the rest */

/* PyTorch: gamma 1, beta 0.  DCGAN: gamma ~ N(1, 0.02), beta 0.  Both
 * reset the running statistics (mean 0, var 1, counter 0), as PyTorch's
 * reset_parameters does. */
static void bn_init(gan_layer *l, gan_init scheme, gan_rng *rng)
{
    const int64_t c = channels(l);
    float *gamma = l->slot[GAMMA].value.data, *beta = l->slot[BETA].value.data;
    float *run_mean = l->slot[RUNNING_MEAN].value.data, *run_var = l->slot[RUNNING_VAR].value.data;
    if (scheme == GAN_INIT_DCGAN) gan_fill_normal(gamma, c, 1.0f, 0.02f, rng);
    else
        for (int64_t j = 0; j < c; j++) gamma[j] = 1.0f;
    for (int64_t j = 0; j < c; j++) {
        beta[j] = 0.0f;
        run_mean[j] = 0.0f;
        run_var[j] = 1.0f;
    }
    l->num_batches_tracked = 0;
}

static gan_status bn_set(gan_layer *l, gan_layer_setting setting, double value)
{
    bn_impl *b = l->impl;
    switch (setting) {
    case GAN_LAYER_BN_EPS:
        if (!(value > 0.0) || !isfinite(value))
            return gan_fail(GAN_E_INVALID, "gan_layer_set: batchnorm eps = %g, must be > 0", value);
        b->eps = value;
        return GAN_OK;
    case GAN_LAYER_BN_MOMENTUM:
        if (!(value >= 0.0 && value <= 1.0))
            return gan_fail(GAN_E_INVALID, "gan_layer_set: batchnorm momentum = %g, must be in [0, 1]",
                            value);
        b->momentum = value;
        return GAN_OK;
    default:
        return gan_fail(GAN_E_INVALID, "gan_layer_set: batchnorm has no setting %d", (int)setting);
    }
}

/* The shortest "%.<p>g" form of v (p = 1..17) that strtod reads back as v
 * exactly, so the architecture text keeps eps and momentum bit for bit
 * ("1e-05", "0.1"; 17 digits always suffice for a double).  Runs inside the
 * C locale the architecture text is written in. */
static void shortest_double(char out[32], double v)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(out, 32, "%.*g", p, v);
        if (strtod(out, NULL) == v) return;
    }
}

static int bn_describe(const gan_layer *l, char *buf, size_t cap)
{
    const bn_impl *b = l->impl;
    char eps[32], momentum[32];
    shortest_double(eps, b->eps);
    shortest_double(momentum, b->momentum);
    return snprintf(buf, cap, "batchnorm features=%lld eps=%s momentum=%s", (long long)channels(l),
                    eps, momentum);
}

static void bn_destroy(gan_layer *l)
{
    bn_impl *b = l->impl;
    if (b == NULL) return;
    gan_dealloc(b->mean);
    gan_dealloc(b->rstd);
    gan_dealloc(b->sums);
    gan_dealloc(b->coef);
    gan_dealloc(b);
    l->impl = NULL;
}

/* backward reads x and the saved statistics, never y */
static unsigned bn_traits(const gan_layer *l)
{
    (void)l;
    return GAN_LAYER_BWD_NO_Y;
}

static const gan_layer_ops bn_ops = {
    .kind = "batchnorm",
    .attach = bn_attach,
    .reserve = NULL, /* all scratch is per channel, sized at construction */
    .forward = bn_forward,
    .backward = bn_backward,
    .init = bn_init,
    .set = bn_set,
    .describe = bn_describe,
    .destroy = bn_destroy,
    .traits = bn_traits,
    .forward_rect = bn_forward_rect,
    .backward_rect = bn_backward_rect,
    /* no scratch: the statistics of the last forward (2 C doubles, kept
     * for backward) live in impl */
};

gan_status gan_layer_batchnorm(gan_layer **out, int num_features)
{
    GAN_CHECK_NULL(out, "gan_layer_batchnorm");
    *out = NULL;
    if (num_features < 1)
        return gan_fail(GAN_E_INVALID, "gan_layer_batchnorm: num_features = %d, must be >= 1",
                        num_features);
    gan_layer *l = gan_layer_new(&bn_ops);
    if (l == NULL) return GAN_E_NOMEM;
    bn_impl *b = gan_alloc_zero(sizeof *b);
    l->impl = b;
    if (b == NULL) goto nomem;
    b->eps = 1e-5;
    b->momentum = 0.1;
    b->mean = gan_alloc_zero((size_t)num_features * sizeof(double));
    b->rstd = gan_alloc_zero((size_t)num_features * sizeof(double));
    b->sums = gan_alloc_zero((size_t)num_features * 2 * sizeof(double));
    b->coef = gan_alloc_zero((size_t)num_features * NCOEF * sizeof(float));
    if (!b->mean || !b->rstd || !b->sums || !b->coef) goto nomem;
    int64_t shape[1] = {num_features};
    gan_layer_add_slot(l, "weight", 1, shape, false);
    gan_layer_add_slot(l, "bias", 1, shape, false);
    gan_layer_add_slot(l, "running_mean", 1, shape, true);
    gan_layer_add_slot(l, "running_var", 1, shape, true);
    return gan_layer_finish(l, out);
nomem:
    gan_layer_destroy(l);
    return GAN_E_NOMEM;
}
