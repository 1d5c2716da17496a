/* conv2d.c — 2-D convolution (PyTorch's nn.Conv2d, groups = dilation = 1).
 *
 *   y[n,o,i,j] = b[o] + sum_{c,ki,kj} W[o,c,ki,kj] x[n, c, i*s - p + ki, j*s - p + kj]
 *
 * Slots: "weight" (Cout, Cin, kh, kw), optional "bias" (Cout).  The whole
 * batch is lowered at once (see im2col.h); K = Cin*kh*kw, P = Ho*Wo:
 *
 *   forward   cols (K, N*P)    = im2col(x)
 *             y_cn (Cout, N*P) = W (Cout, K) . cols                 one GEMM
 *             y (N, Cout, P)   = y_cn with axes swapped, + b
 *   backward  dy_cn (Cout, N*P) = dy with axes swapped
 *             dW (Cout, K)    += dy_cn . cols^T                     one GEMM
 *             db (Cout)       += sum over N, P of dy
 *             dcols (K, N*P)   = W^T . dy_cn                        one GEMM
 *             dx               = col2im(dcols)
 *
 * backward reuses the cols of the most recent forward: it belongs to the
 * same x that backward is handed (the layer keeps only its last forward).
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
    /* Scratch for reserved_batch samples (see conv2d_reserve). */
    float *cols;  /* (K, N*P)    im2col of the last forward's x */
    float *dcols; /* (K, N*P)    dL/dcols                       */
    float *y_cn;  /* (Cout, N*P) forward: y before the permute; backward: dy_cn */
} conv2d;

/* Does one window cover the whole input (the dense fast path)? */
static bool is_dense(const gan_layer *l)
{
    const conv2d *c = l->impl;
    return c->pad == 0 && c->kh == l->in.d[1] && c->kw == l->in.d[2];
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

/* Scratch for `batch` samples.  The new buffers are all allocated before
 * the old ones go, so a failure leaves the layer usable at its old size. */
static gan_status conv2d_reserve(gan_layer *l, int64_t batch)
{
    conv2d *c = l->impl;
    const int64_t k = c->in_c * c->kh * c->kw, p = l->out.d[1] * l->out.d[2];
    if (batch > INT_MAX / p)
        return gan_fail(GAN_E_OVERFLOW,
                        "conv2d: batch %lld x %lld output positions exceeds INT_MAX (a GEMM dimension)",
                        (long long)batch, (long long)p);
    if (is_dense(l)) return GAN_OK; /* no scratch */
    const int64_t np = batch * p;
    float *cols = gan_alloc_floats(k * np);
    float *dcols = gan_alloc_floats(k * np);
    float *y_cn = gan_alloc_floats(c->out_c * np);
    if (cols == NULL || dcols == NULL || y_cn == NULL) {
        gan_dealloc(cols);
        gan_dealloc(dcols);
        gan_dealloc(y_cn);
        return GAN_E_NOMEM;
    }
    gan_dealloc(c->cols);
    gan_dealloc(c->dcols);
    gan_dealloc(c->y_cn);
    c->cols = cols;
    c->dcols = dcols;
    c->y_cn = y_cn;
    return GAN_OK;
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

/* y = W * x + b  (cross-correlation, as PyTorch) */
static void conv2d_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    if (is_dense(l)) {
        dense_forward(l, y, x, n);
        return;
    }
    conv2d *c = l->impl;
    const gan_conv_geom g = geometry(l);
    const int64_t k = c->in_c * c->kh * c->kw, p = g.out_h * g.out_w, np = n * p;
    const float *w = l->slot[0].value.data;                       /* (Cout, K) */
    const float *b = c->has_bias ? l->slot[1].value.data : NULL;  /* (Cout)    */
    gan_im2col(c->cols, x, &g, n);                                /* (K, N*P)  */
    gan_sgemm(false, false, c->out_c, np, k, 1.0f, w, k, c->cols, np, 0.0f, c->y_cn, np);
    gan_cn_to_nchw(y, c->y_cn, b, n, c->out_c, p);                /* (N, Cout, P) */
}

/* dW += dy . cols^T;  db += sum dy;  dx = col2im(W^T . dy) */
static void conv2d_backward(gan_layer *l, float *dx, const float *dy, const float *x,
                            const float *y, int64_t n, bool param_grads)
{
    (void)y;
    if (dx == NULL && !param_grads) return;
    if (is_dense(l)) {
        dense_backward(l, dx, dy, x, n, param_grads);
        return;
    }
    conv2d *c = l->impl; /* x's im2col is still in c->cols */
    const gan_conv_geom g = geometry(l);
    const int64_t k = c->in_c * c->kh * c->kw, p = g.out_h * g.out_w, np = n * p;
    float *dy_cn = c->y_cn;                                       /* (Cout, N*P) */
    gan_nchw_to_cn(dy_cn, dy, n, c->out_c, p);
    if (param_grads) {
        float *dw = l->slot[0].grad.data;                         /* (Cout, K) */
        gan_sgemm(false, true, c->out_c, k, np, 1.0f, dy_cn, np, c->cols, np, 1.0f, dw, k);
        if (c->has_bias) gan_bias_grad_add(l->slot[1].grad.data, dy, n, c->out_c, p);
    }
    if (dx != NULL) {
        const float *w = l->slot[0].value.data;                   /* (Cout, K) */
        gan_sgemm(true, false, k, np, c->out_c, 1.0f, w, k, dy_cn, np, 0.0f, c->dcols, np);
        gan_col2im(dx, c->dcols, NULL, &g, n);                    /* (N, Cin, H, W) */
    }
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
    gan_dealloc(c->cols);
    gan_dealloc(c->dcols);
    gan_dealloc(c->y_cn);
    gan_dealloc(c);
    l->impl = NULL;
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
