/* conv2d.c — 2-D convolution (PyTorch's nn.Conv2d, groups = dilation = 1).
 *
 *   y[n,o,i,j] = b[o] + sum_{c,ki,kj} W[o,c,ki,kj] x[n, c, i*s - p + ki, j*s - p + kj]
 *
 * Slots: "weight" (Cout, Cin, kh, kw), optional "bias" (Cout).  The batch is
 * lowered a chunk of m samples at a time, each worker of libgan's pool
 * taking its own range of samples (see im2col.h); K = Cin*kh*kw, P = Ho*Wo:
 *
 *   forward   cols (K, m*P)    = im2col(x chunk)
 *             y_cn (Cout, m*P) = W (Cout, K) . cols                 one GEMM
 *             y chunk (m, Cout, P) = y_cn with axes swapped, + b
 *   backward  dy_cn (Cout, m*P) = dy chunk with axes swapped
 *             cols             = im2col(x chunk)        (recomputed, not kept)
 *             dW (Cout, K)    += dy_cn . cols^T                     one GEMM
 *             cols             = W^T . dy_cn  (= dL/dcols)          one GEMM
 *             dx chunk         = col2im(cols)
 *             db (Cout)       += sum over N, P of dy
 * With m = 1 the swaps are identities and are skipped.
 *
 * Fast path: when one window covers the whole unpadded input (Ho = Wo = 1,
 * as in a DCGAN discriminator's last layer), cols is just x transposed and
 * the layer is a dense layer on the flattened sample:
 *   y (N, Cout) = x (N, K) . W^T;  dW += dy^T . x;  dx = dy . W
 * so it skips im2col, the permutes and all scratch. */
#include "internal.h"
#include "im2col.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct conv2d {
    int64_t in_c, out_c, kh, kw, stride, pad;
    bool has_bias;
    /* Per-thread scratch: cols (K, chunk*P) then y_cn (Cout, chunk*P);
     * y_cn holds y before the permute, or dy_cn in backward. */
    gan_lowering lw;
} conv2d;

/* Does one window cover the whole input (the dense fast path)? */
static bool is_dense(const gan_layer *l)
{
    const conv2d *c = l->impl;
    return c->pad == 0 && c->kh == l->in.d[1] && c->kw == l->in.d[2];
}

/* Output positions per sample. */
static int64_t p_of(const gan_layer *l)
{
    return l->out.d[1] * l->out.d[2];
}

/* The window sweep over the attached input. */
static gan_conv_geom geometry(const gan_layer *l)
{
    const conv2d *c = l->impl;
    gan_conv_geom g = {
        .channels = c->in_c, .height = l->in.d[1], .width = l->in.d[2],
        .kh = c->kh, .kw = c->kw, .stride = c->stride, .pad = c->pad,
        .out_h = l->out.d[1], .out_w = l->out.d[2],
    };
    return g;
}

static gan_status conv2d_attach(gan_layer *l, const gan_shape *in, gan_shape *out)
{
    const conv2d *c = l->impl;
    char got[96];
    if (in->ndim != 3)
        return gan_fail(GAN_E_SHAPE, "conv2d: input must be (C, H, W) with C = %lld, got %s",
                        (long long)c->in_c, gan_shape_str(in, got, sizeof got));
    if (in->d[0] != c->in_c)
        return gan_fail(GAN_E_SHAPE, "conv2d: input has %lld channels, layer expects %lld (input %s)",
                        (long long)in->d[0], (long long)c->in_c, gan_shape_str(in, got, sizeof got));
    const int64_t h = in->d[1], w = in->d[2];
    if (h + 2 * c->pad < c->kh || w + 2 * c->pad < c->kw)
        return gan_fail(GAN_E_SHAPE,
                        "conv2d: input %lldx%lld with padding %lld is smaller than the %lldx%lld kernel",
                        (long long)h, (long long)w, (long long)c->pad, (long long)c->kh,
                        (long long)c->kw);
    const int64_t oh = (h + 2 * c->pad - c->kh) / c->stride + 1;
    const int64_t ow = (w + 2 * c->pad - c->kw) / c->stride + 1;
    if (oh > INT_MAX / ow) /* P is a GEMM dimension (int) */
        return gan_fail(GAN_E_OVERFLOW, "conv2d: output %lldx%lld has more than INT_MAX positions",
                        (long long)oh, (long long)ow);
    out->ndim = 3;
    out->d[0] = c->out_c;
    out->d[1] = oh;
    out->d[2] = ow;
    /* A new input shape changes the scratch sizes: make the next forward
     * reserve again even for a batch it has seen. */
    l->reserved_batch = 0;
    return GAN_OK;
}

/* Scratch for `batch` samples (see gan_lowering_reserve). */
static gan_status conv2d_reserve(gan_layer *l, int64_t batch)
{
    conv2d *c = l->impl;
    const int64_t k = c->in_c * c->kh * c->kw, p = l->out.d[1] * l->out.d[2];
    if (batch > INT_MAX / p)
        return gan_fail(GAN_E_OVERFLOW,
                        "conv2d: batch %lld x %lld output positions exceeds INT_MAX (a GEMM dimension)",
                        (long long)batch, (long long)p);
    if (is_dense(l)) return GAN_OK; /* no scratch */
    const gan_conv_geom g = geometry(l);
    return gan_lowering_reserve(&c->lw, batch, p, k + c->out_c, &g, c->out_c * k, "conv2d");
}

/* Dense fast path, y (N, Cout) = x (N, K) W^T + b */
static void dense_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    const conv2d *c = l->impl;
    const int64_t k = c->in_c * c->kh * c->kw;
    const float *w = l->slot[0].value.data; /* (Cout, K) */
    float beta = 0.0f;
    if (c->has_bias) {
        for (int64_t i = 0; i < n; i++)
            memcpy(y + i * c->out_c, l->slot[1].value.data, (size_t)c->out_c * sizeof(float));
        beta = 1.0f;
    }
    gan_sgemm(false, true, n, c->out_c, k, 1.0f, x, k, w, k, beta, y, c->out_c);
}

/* Dense fast path: dx = dy W;  dW += dy^T x;  db += sum_n dy */
static void dense_backward(gan_layer *l, float *dx, const float *dy, const float *x, int64_t n,
                           bool param_grads)
{
    const conv2d *c = l->impl;
    const int64_t k = c->in_c * c->kh * c->kw;
    const float *w = l->slot[0].value.data; /* (Cout, K) */
    if (dx != NULL) /* (N, K) = (N, Cout) (Cout, K) */
        gan_sgemm(false, false, n, k, c->out_c, 1.0f, dy, c->out_c, w, k, 0.0f, dx, k);
    if (!param_grads) return;
    float *dw = l->slot[0].grad.data; /* (Cout, K) += (Cout, N) (N, K) */
    gan_sgemm(true, false, c->out_c, k, n, 1.0f, dy, c->out_c, x, k, 1.0f, dw, k);
    if (c->has_bias) gan_bias_grad_add(l->slot[1].grad.data, dy, n, c->out_c, 1);
}

typedef struct conv_job {
    gan_layer *l;
    float *out;            /* forward: y (N, Cout, P); backward: dx or NULL */
    const float *x;        /* (N, Cin, H, W)                                */
    const float *dy;       /* backward: (N, Cout, P)                        */
    int64_t n;
    bool param_grads;
} conv_job;

/* y = W * x + b  (cross-correlation, as PyTorch), task t's samples */
static void forward_task(void *ctx, int t, int ntasks, int thread)
{
    (void)ntasks;
    const conv_job *j = ctx;
    const conv2d *c = j->l->impl;
    const gan_conv_geom g = geometry(j->l);
    const int64_t k = c->in_c * c->kh * c->kw, p = g.out_h * g.out_w;
    const int64_t in_size = c->in_c * g.height * g.width, out_size = c->out_c * p;
    const float *wt = j->l->slot[0].value.data;                      /* (Cout, K) */
    const float *b = c->has_bias ? j->l->slot[1].value.data : NULL;  /* (Cout)    */
    float *cols = gan_lowering_slot(&c->lw, thread);                      /* (K, m*P)  */
    float *work = gan_lowering_work(&c->lw, thread);                     /* padded planes */
    float *y_cn = cols + k * c->lw.chunk * p;                        /* (Cout, m*P) */
    int64_t lo, hi;
    gan_lowering_range(&c->lw, j->n, j->param_grads, t, &lo, &hi);
    for (int64_t s = lo; s < hi; s += c->lw.chunk) {
        const int64_t m = hi - s < c->lw.chunk ? hi - s : c->lw.chunk, mp = m * p;
        float *y = j->out + s * out_size;
        float *dst = m == 1 && b == NULL ? y : y_cn; /* one sample: already (Cout, P) */
        gan_im2col(cols, j->x + s * in_size, &g, m, work);
        gan_sgemm(false, false, c->out_c, mp, k, 1.0f, wt, k, cols, mp, 0.0f, dst, mp);
        if (dst != y) gan_cn_to_nchw(y, y_cn, b, m, c->out_c, p);
    }
}

static void conv2d_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    if (is_dense(l)) {
        dense_forward(l, y, x, n);
        return;
    }
    const conv2d *c = l->impl;
    conv_job j = {.l = l, .out = y, .x = x, .n = n};
    gan_parallel(forward_task, &j, gan_lowering_tasks(&c->lw, n, false), c->lw.threads);
}

/* dW += dy . cols^T;  dx = col2im(W^T . dy), task t's samples */
static void backward_task(void *ctx, int t, int ntasks, int thread)
{
    (void)ntasks;
    const conv_job *j = ctx;
    const conv2d *c = j->l->impl;
    const gan_conv_geom g = geometry(j->l);
    const int64_t k = c->in_c * c->kh * c->kw, p = g.out_h * g.out_w;
    const int64_t in_size = c->in_c * g.height * g.width, out_size = c->out_c * p;
    const float *wt = j->l->slot[0].value.data;                      /* (Cout, K) */
    float *dw = gan_lowering_dw(&c->lw, j->l->slot[0].grad.data, t); /* (Cout, K) */
    float *cols = gan_lowering_slot(&c->lw, thread);                      /* (K, m*P)  */
    float *work = gan_lowering_work(&c->lw, thread);                     /* padded planes */
    float *dy_cn = cols + k * c->lw.chunk * p;                       /* (Cout, m*P) */
    int64_t lo, hi;
    gan_lowering_range(&c->lw, j->n, j->param_grads, t, &lo, &hi);
    for (int64_t s = lo; s < hi; s += c->lw.chunk) {
        const int64_t m = hi - s < c->lw.chunk ? hi - s : c->lw.chunk, mp = m * p;
        const float *dyc = j->dy + s * out_size;
        if (m > 1) {
            gan_nchw_to_cn(dy_cn, dyc, m, c->out_c, p);
            dyc = dy_cn;
        }
        if (j->param_grads) {
            /* task 0 adds to the gradient; the others start their partial */
            const float beta = t == 0 || s > lo ? 1.0f : 0.0f;
            gan_im2col(cols, j->x + s * in_size, &g, m, work);
            gan_sgemm(false, true, c->out_c, k, mp, 1.0f, dyc, mp, cols, mp, beta, dw, k);
        }
        if (j->out != NULL) {
            gan_sgemm(true, false, k, mp, c->out_c, 1.0f, wt, k, dyc, mp, 0.0f, cols, mp);
            gan_col2im(j->out + s * in_size, cols, NULL, &g, m, work);
        }
    }
}

static void conv2d_backward(gan_layer *l, float *dx, const float *dy, const float *x,
                            const float *y, int64_t n, bool param_grads)
{
    (void)y;
    if (dx == NULL && !param_grads) return;
    if (is_dense(l)) {
        dense_backward(l, dx, dy, x, n, param_grads);
        return;
    }
    const conv2d *c = l->impl;
    conv_job j = {.l = l, .out = dx, .x = x, .dy = dy, .n = n, .param_grads = param_grads};
    gan_parallel(backward_task, &j, gan_lowering_tasks(&c->lw, n, param_grads), c->lw.threads);
    if (!param_grads) return;
    gan_lowering_reduce(&c->lw, l->slot[0].grad.data, n);
    if (c->has_bias) gan_bias_grad_add(l->slot[1].grad.data, dy, n, c->out_c, p_of(l));
}

/* PyTorch: kaiming_uniform(a = sqrt 5) = U(-1/sqrt(fan_in), +) for W and the
 * same bound for b, fan_in = Cin*kh*kw.  DCGAN: W ~ N(0, 0.02), b = 0. */
static void conv2d_init(gan_layer *l, gan_init scheme, gan_rng *rng)
{
    const conv2d *c = l->impl;
    gan_tensor *w = &l->slot[0].value;
    float *b = c->has_bias ? l->slot[1].value.data : NULL;
    if (scheme == GAN_INIT_DCGAN) {
        gan_fill_normal(w->data, w->numel, 0.0f, 0.02f, rng);
        if (b) memset(b, 0, (size_t)c->out_c * sizeof(float));
        return;
    }
    float bound = (float)(1.0 / sqrt((double)(c->in_c * c->kh * c->kw)));
    gan_fill_uniform(w->data, w->numel, -bound, bound, rng);
    if (b) gan_fill_uniform(b, c->out_c, -bound, bound, rng);
}

static int conv2d_describe(const gan_layer *l, char *buf, size_t cap)
{
    const conv2d *c = l->impl;
    return snprintf(buf, cap, "conv2d in=%lld out=%lld k=%lldx%lld s=%lld p=%lld bias=%d",
                    (long long)c->in_c, (long long)c->out_c, (long long)c->kh,
                    (long long)c->kw, (long long)c->stride, (long long)c->pad,
                    c->has_bias ? 1 : 0);
}

static void conv2d_destroy(gan_layer *l)
{
    conv2d *c = l->impl;
    if (c == NULL) return;
    gan_lowering_free(&c->lw);
    gan_dealloc(c);
    l->impl = NULL;
}

/* backward reads x, never y */
static unsigned conv2d_traits(const gan_layer *l)
{
    (void)l;
    return GAN_LAYER_BWD_NO_Y;
}

static size_t conv2d_scratch_bytes(const gan_layer *l)
{
    return gan_lowering_bytes(&((const conv2d *)l->impl)->lw);
}

static const gan_layer_ops conv2d_ops = {
    .kind = "conv2d",
    .attach = conv2d_attach,
    .reserve = conv2d_reserve,
    .forward = conv2d_forward,
    .backward = conv2d_backward,
    .init = conv2d_init,
    .set = NULL,
    .describe = conv2d_describe,
    .destroy = conv2d_destroy,
    .traits = conv2d_traits,
    .scratch_bytes = conv2d_scratch_bytes,
};

gan_status gan_layer_conv2d(gan_layer **out, int in_channels, int out_channels, int kernel_h,
                            int kernel_w, int stride, int padding, int bias)
{
    static const char fn[] = "gan_layer_conv2d";
    GAN_CHECK_NULL(out, fn);
    *out = NULL;
    if (in_channels < 1 || out_channels < 1)
        return gan_fail(GAN_E_INVALID, "%s: in_channels = %d, out_channels = %d (each must be >= 1)",
                        fn, in_channels, out_channels);
    if (kernel_h < 1 || kernel_w < 1)
        return gan_fail(GAN_E_INVALID, "%s: kernel %dx%d (each side must be >= 1)", fn, kernel_h,
                        kernel_w);
    if (stride < 1)
        return gan_fail(GAN_E_INVALID, "%s: stride = %d (must be >= 1)", fn, stride);
    if (padding < 0)
        return gan_fail(GAN_E_INVALID, "%s: padding = %d (must be >= 0)", fn, padding);
    /* K = Cin*kh*kw is a GEMM dimension (int). */
    if ((int64_t)in_channels * kernel_h > INT_MAX / kernel_w)
        return gan_fail(GAN_E_OVERFLOW, "%s: in_channels*kh*kw = %d*%d*%d exceeds INT_MAX", fn,
                        in_channels, kernel_h, kernel_w);
    int64_t wshape[4] = {out_channels, in_channels, kernel_h, kernel_w};
    int64_t bshape[1] = {out_channels};
    GAN_TRY(gan_shape_check(4, wshape, fn));

    gan_layer *l = gan_layer_new(&conv2d_ops);
    if (l == NULL) return GAN_E_NOMEM;
    conv2d *c = gan_alloc_zero(sizeof *c);
    if (c == NULL) {
        gan_layer_destroy(l);
        return GAN_E_NOMEM;
    }
    *c = (conv2d){.in_c = in_channels, .out_c = out_channels, .kh = kernel_h, .kw = kernel_w,
                  .stride = stride, .pad = padding, .has_bias = bias != 0};
    l->impl = c;
    gan_layer_add_slot(l, "weight", 4, wshape, false);
    if (c->has_bias) gan_layer_add_slot(l, "bias", 1, bshape, false);
    return gan_layer_finish(l, out);
}
