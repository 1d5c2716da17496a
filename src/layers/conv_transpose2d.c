/* conv_transpose2d.c — transposed 2-D convolution (PyTorch's
 * nn.ConvTranspose2d, groups = dilation = 1): the adjoint of conv2d, each
 * input pixel scattering a weighted kernel into the output.
 *
 *   y[n, o, i*s - p + ki, j*s - p + kj] += x[n,c,i,j] W[c,o,ki,kj];  y += b[o]
 *   output size (in - 1)*s - 2p + k + output_padding per axis
 *
 * Slots: "weight" (Cin, Cout, kh, kw), optional "bias" (Cout).  The lowering
 * is conv2d's run backwards; the "image" of the im2col geometry is the
 * output y, its window grid is the input x.  The batch is lowered a chunk
 * of m samples at a time, each worker of libgan's pool taking its own range
 * of samples (see im2col.h); K = Cout*kh*kw, P = Hin*Win:
 *
 *   forward   x_cn (Cin, m*P) = x chunk with axes swapped
 *             cols (K, m*P)   = W^T (K, Cin) . x_cn                 one GEMM
 *             y chunk         = col2im(cols) + b
 *   backward  cols (K, m*P)   = im2col(dy chunk)
 *             x_cn            = x chunk with axes swapped  (recomputed)
 *             dW (Cin, K)    += x_cn . cols^T                       one GEMM
 *             x_cn            = W . cols  (= dx_cn)                 one GEMM
 *             dx chunk        = x_cn with axes swapped
 *             db (Cout)      += sum over N, Hout, Wout of dy
 * With m = 1 the swaps are identities and are skipped.
 *
 * Fast path: from a 1x1 input without padding or output padding (a DCGAN
 * generator's first layer), each sample's output (Cout, kh, kw) is exactly
 * its row of x W, so the layer is a dense layer:
 *   y (N, K) = x (N, Cin) . W + b;  dW += x^T . dy;  dx = dy . W^T
 * and skips the permutes, col2im and all scratch. */
#include "internal.h"
#include "im2col.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct conv_transpose2d {
    int64_t in_c, out_c, kh, kw, stride, pad, out_pad;
    bool has_bias;
    /* Per-thread scratch: cols (K, chunk*P) then x_cn (Cin, chunk*P);
     * x_cn holds x channel-major, or dx_cn at the end of backward. */
    gan_lowering lw;
} conv_transpose2d;

/* Is the input a single pixel whose kernel is the whole output (the dense
 * fast path)? */
static bool is_dense(const gan_layer *l)
{
    const conv_transpose2d *c = l->impl;
    return l->in.d[1] == 1 && l->in.d[2] == 1 && c->pad == 0 && c->out_pad == 0;
}

/* The window sweep: windows at the input's pixels, over the output image. */
static gan_conv_geom geometry(const gan_layer *l)
{
    const conv_transpose2d *c = l->impl;
    gan_conv_geom g = {
        .channels = c->out_c, .height = l->out.d[1], .width = l->out.d[2],
        .kh = c->kh, .kw = c->kw, .stride = c->stride, .pad = c->pad,
        .out_h = l->in.d[1], .out_w = l->in.d[2],
    };
    return g;
}

static gan_status convt_attach(gan_layer *l, const gan_shape *in, gan_shape *out)
{
    const conv_transpose2d *c = l->impl;
    char got[96];
    if (in->ndim != 3)
        return gan_fail(GAN_E_SHAPE,
                        "conv_transpose2d: input must be (C, H, W) with C = %lld, got %s",
                        (long long)c->in_c, gan_shape_str(in, got, sizeof got));
    if (in->d[0] != c->in_c)
        return gan_fail(GAN_E_SHAPE,
                        "conv_transpose2d: input has %lld channels, layer expects %lld (input %s)",
                        (long long)in->d[0], (long long)c->in_c, gan_shape_str(in, got, sizeof got));
    const int64_t h = in->d[1], w = in->d[2];
    if (h > INT_MAX / w) /* P is a GEMM dimension (int) */
        return gan_fail(GAN_E_OVERFLOW, "conv_transpose2d: input %lldx%lld has more than INT_MAX pixels",
                        (long long)h, (long long)w);
    const int64_t oh = (h - 1) * c->stride - 2 * c->pad + c->kh + c->out_pad;
    const int64_t ow = (w - 1) * c->stride - 2 * c->pad + c->kw + c->out_pad;
    if (oh < 1 || ow < 1)
        return gan_fail(GAN_E_SHAPE,
                        "conv_transpose2d: input %lldx%lld gives an empty %lldx%lld output "
                        "(kernel %lldx%lld, stride %lld, padding %lld, output_padding %lld)",
                        (long long)h, (long long)w, (long long)oh, (long long)ow,
                        (long long)c->kh, (long long)c->kw, (long long)c->stride,
                        (long long)c->pad, (long long)c->out_pad);
    int64_t oshape[3] = {c->out_c, oh, ow};
    GAN_TRY(gan_shape_check(3, oshape, "conv_transpose2d: output"));
    out->ndim = 3;
    for (int i = 0; i < 3; i++) out->d[i] = oshape[i];
    /* A new input shape changes the scratch sizes: make the next forward
     * reserve again even for a batch it has seen. */
    l->reserved_batch = 0;
    return GAN_OK;
}

/* Scratch for `batch` samples (see gan_lowering_reserve). */
static gan_status convt_reserve(gan_layer *l, int64_t batch)
{
    conv_transpose2d *c = l->impl;
    const int64_t k = c->out_c * c->kh * c->kw, p = l->in.d[1] * l->in.d[2];
    if (batch > INT_MAX / p)
        return gan_fail(GAN_E_OVERFLOW,
                        "conv_transpose2d: batch %lld x %lld input pixels exceeds INT_MAX (a GEMM dimension)",
                        (long long)batch, (long long)p);
    if (is_dense(l)) return GAN_OK; /* no scratch */
    const gan_conv_geom g = geometry(l);
    return gan_lowering_reserve(&c->lw, batch, p, k + c->in_c, &g, c->in_c * k,
                                "conv_transpose2d");
}

/* Dense fast path, y (N, Cout*kh*kw) = x (N, Cin) W (Cin, K) + b[o] */
static void dense_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    const conv_transpose2d *c = l->impl;
    const int64_t k = c->out_c * c->kh * c->kw, plane = c->kh * c->kw;
    const float *w = l->slot[0].value.data; /* (Cin, K) */
    float beta = 0.0f;
    if (c->has_bias) {
        const float *b = l->slot[1].value.data; /* (Cout) */
        for (int64_t i = 0; i < n * c->out_c; i++)
            for (int64_t j = 0; j < plane; j++) y[i * plane + j] = b[i % c->out_c];
        beta = 1.0f;
    }
    gan_sgemm(false, false, n, k, c->in_c, 1.0f, x, c->in_c, w, k, beta, y, k);
}

/* Dense fast path: dx = dy W^T;  dW += x^T dy;  db += sum dy */
static void dense_backward(gan_layer *l, float *dx, const float *dy, const float *x, int64_t n,
                           bool param_grads)
{
    const conv_transpose2d *c = l->impl;
    const int64_t k = c->out_c * c->kh * c->kw;
    const float *w = l->slot[0].value.data; /* (Cin, K) */
    if (dx != NULL) /* (N, Cin) = (N, K) (K, Cin) */
        gan_sgemm(false, true, n, c->in_c, k, 1.0f, dy, k, w, k, 0.0f, dx, c->in_c);
    if (!param_grads) return;
    float *dw = l->slot[0].grad.data; /* (Cin, K) += (Cin, N) (N, K) */
    gan_sgemm(true, false, c->in_c, k, n, 1.0f, x, c->in_c, dy, k, 1.0f, dw, k);
    if (c->has_bias) gan_bias_grad_add(l->slot[1].grad.data, dy, n, c->out_c, c->kh * c->kw);
}

typedef struct convt_job {
    gan_layer *l;
    float *out;            /* forward: y (N, Cout, Ho, Wo); backward: dx or NULL */
    const float *x;        /* (N, Cin, Hin, Win)                               */
    const float *dy;       /* backward: (N, Cout, Ho, Wo)                      */
    int64_t n;
    bool param_grads;
} convt_job;

/* y = W^T-scatter of x + b, task t's samples */
static void forward_task(void *ctx, int t, int ntasks, int thread)
{
    (void)ntasks;
    const convt_job *j = ctx;
    const conv_transpose2d *c = j->l->impl;
    const gan_conv_geom g = geometry(j->l);
    const int64_t k = c->out_c * c->kh * c->kw, p = g.out_h * g.out_w;
    const int64_t in_size = c->in_c * p, out_size = c->out_c * g.height * g.width;
    const float *wt = j->l->slot[0].value.data;                      /* (Cin, K)  */
    const float *b = c->has_bias ? j->l->slot[1].value.data : NULL;  /* (Cout)    */
    float *cols = gan_lowering_slot(&c->lw, thread);                      /* (K, m*P)  */
    float *work = gan_lowering_work(&c->lw, thread);                     /* padded planes */
    float *x_cn = cols + k * c->lw.chunk * p;                        /* (Cin, m*P) */
    int64_t lo, hi;
    gan_lowering_range(&c->lw, j->n, j->param_grads, t, &lo, &hi);
    for (int64_t s = lo; s < hi; s += c->lw.chunk) {
        const int64_t m = hi - s < c->lw.chunk ? hi - s : c->lw.chunk, mp = m * p;
        const float *xc = j->x + s * in_size;
        if (m > 1) {
            gan_nchw_to_cn(x_cn, xc, m, c->in_c, p);
            xc = x_cn;
        }
        gan_sgemm(true, false, k, mp, c->in_c, 1.0f, wt, k, xc, mp, 0.0f, cols, mp);
        gan_col2im(j->out + s * out_size, cols, b, &g, m, work);
    }
}

static void convt_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    if (is_dense(l)) {
        dense_forward(l, y, x, n);
        return;
    }
    const conv_transpose2d *c = l->impl;
    convt_job j = {.l = l, .out = y, .x = x, .n = n};
    gan_parallel(forward_task, &j, gan_lowering_tasks(&c->lw, n, false), c->lw.threads);
}

/* cols = im2col(dy);  dW += x . cols^T;  dx = W . cols, task t's samples */
static void backward_task(void *ctx, int t, int ntasks, int thread)
{
    (void)ntasks;
    const convt_job *j = ctx;
    const conv_transpose2d *c = j->l->impl;
    const gan_conv_geom g = geometry(j->l);
    const int64_t k = c->out_c * c->kh * c->kw, p = g.out_h * g.out_w;
    const int64_t in_size = c->in_c * p, out_size = c->out_c * g.height * g.width;
    const float *wt = j->l->slot[0].value.data;                      /* (Cin, K)  */
    float *dw = gan_lowering_dw(&c->lw, j->l->slot[0].grad.data, t); /* (Cin, K)  */
    float *cols = gan_lowering_slot(&c->lw, thread);                      /* (K, m*P)  */
    float *work = gan_lowering_work(&c->lw, thread);                     /* padded planes */
    float *x_cn = cols + k * c->lw.chunk * p;                        /* (Cin, m*P) */
    int64_t lo, hi;
    gan_lowering_range(&c->lw, j->n, j->param_grads, t, &lo, &hi);
    for (int64_t s = lo; s < hi; s += c->lw.chunk) {
        const int64_t m = hi - s < c->lw.chunk ? hi - s : c->lw.chunk, mp = m * p;
        gan_im2col(cols, j->dy + s * out_size, &g, m, work);
        if (j->param_grads) {
            const float *xc = j->x + s * in_size;
            if (m > 1) {
                gan_nchw_to_cn(x_cn, xc, m, c->in_c, p);
                xc = x_cn;
            }
            /* task 0 adds to the gradient; the others start their partial */
            const float beta = t == 0 || s > lo ? 1.0f : 0.0f;
            gan_sgemm(false, true, c->in_c, k, mp, 1.0f, xc, mp, cols, mp, beta, dw, k);
        }
        if (j->out != NULL) {
            float *dx = j->out + s * in_size;
            float *dst = m == 1 ? dx : x_cn; /* one sample: already (Cin, P) */
            gan_sgemm(false, false, c->in_c, mp, k, 1.0f, wt, k, cols, mp, 0.0f, dst, mp);
            if (dst != dx) gan_cn_to_nchw(dx, x_cn, NULL, m, c->in_c, p);
        }
    }
}

static void convt_backward(gan_layer *l, float *dx, const float *dy, const float *x,
                           const float *y, int64_t n, bool param_grads)
{
    (void)y;
    if (dx == NULL && !param_grads) return;
    if (is_dense(l)) {
        dense_backward(l, dx, dy, x, n, param_grads);
        return;
    }
    const conv_transpose2d *c = l->impl;
    convt_job j = {.l = l, .out = dx, .x = x, .dy = dy, .n = n, .param_grads = param_grads};
    gan_parallel(backward_task, &j, gan_lowering_tasks(&c->lw, n, param_grads), c->lw.threads);
    if (!param_grads) return;
    gan_lowering_reduce(&c->lw, l->slot[0].grad.data, n);
    if (c->has_bias)
        gan_bias_grad_add(l->slot[1].grad.data, dy, n, c->out_c, l->out.d[1] * l->out.d[2]);
}

/* PyTorch: kaiming_uniform(a = sqrt 5) = U(-1/sqrt(fan_in), +) for W and the
 * same bound for b.  PyTorch takes fan_in from weight.size(1) = Cout, so
 * fan_in = Cout*kh*kw here.  DCGAN: W ~ N(0, 0.02), b = 0. */
static void convt_init(gan_layer *l, gan_init scheme, gan_rng *rng)
{
    const conv_transpose2d *c = l->impl;
    gan_tensor *w = &l->slot[0].value;
    float *b = c->has_bias ? l->slot[1].value.data : NULL;
    if (scheme == GAN_INIT_DCGAN) {
        gan_fill_normal(w->data, w->numel, 0.0f, 0.02f, rng);
        if (b) memset(b, 0, (size_t)c->out_c * sizeof(float));
        return;
    }
    float bound = (float)(1.0 / sqrt((double)(c->out_c * c->kh * c->kw)));
    gan_fill_uniform(w->data, w->numel, -bound, bound, rng);
    if (b) gan_fill_uniform(b, c->out_c, -bound, bound, rng);
}

static int convt_describe(const gan_layer *l, char *buf, size_t cap)
{
    const conv_transpose2d *c = l->impl;
    return snprintf(buf, cap,
                    "conv_transpose2d in=%lld out=%lld k=%lldx%lld s=%lld p=%lld op=%lld bias=%d",
                    (long long)c->in_c, (long long)c->out_c, (long long)c->kh,
                    (long long)c->kw, (long long)c->stride, (long long)c->pad,
                    (long long)c->out_pad, c->has_bias ? 1 : 0);
}

static void convt_destroy(gan_layer *l)
{
    conv_transpose2d *c = l->impl;
    if (c == NULL) return;
    gan_lowering_free(&c->lw);
    gan_dealloc(c);
    l->impl = NULL;
}

/* backward reads x, never y */
static unsigned convt_traits(const gan_layer *l)
{
    (void)l;
    return GAN_LAYER_BWD_NO_Y;
}

static size_t convt_scratch_bytes(const gan_layer *l)
{
    return gan_lowering_bytes(&((const conv_transpose2d *)l->impl)->lw);
}

static const gan_layer_ops convt_ops = {
    .kind = "conv_transpose2d",
    .attach = convt_attach,
    .reserve = convt_reserve,
    .forward = convt_forward,
    .backward = convt_backward,
    .init = convt_init,
    .set = NULL,
    .describe = convt_describe,
    .destroy = convt_destroy,
    .traits = convt_traits,
    .scratch_bytes = convt_scratch_bytes,
};

gan_status gan_layer_conv_transpose2d(gan_layer **out, int in_channels, int out_channels,
                                      int kernel_h, int kernel_w, int stride, int padding,
                                      int output_padding, int bias)
{
    static const char fn[] = "gan_layer_conv_transpose2d";
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
    if (output_padding < 0 || output_padding >= stride)
        return gan_fail(GAN_E_INVALID, "%s: output_padding = %d (must be in [0, stride = %d))", fn,
                        output_padding, stride);
    /* K = Cout*kh*kw is a GEMM dimension (int). */
    if ((int64_t)out_channels * kernel_h > INT_MAX / kernel_w)
        return gan_fail(GAN_E_OVERFLOW, "%s: out_channels*kh*kw = %d*%d*%d exceeds INT_MAX", fn,
                        out_channels, kernel_h, kernel_w);
    int64_t wshape[4] = {in_channels, out_channels, kernel_h, kernel_w};
    int64_t bshape[1] = {out_channels};
    GAN_TRY(gan_shape_check(4, wshape, fn));

    gan_layer *l = gan_layer_new(&convt_ops);
    if (l == NULL) return GAN_E_NOMEM;
    conv_transpose2d *c = gan_alloc_zero(sizeof *c);
    if (c == NULL) {
        gan_layer_destroy(l);
        return GAN_E_NOMEM;
    }
    *c = (conv_transpose2d){.in_c = in_channels, .out_c = out_channels, .kh = kernel_h,
                            .kw = kernel_w, .stride = stride, .pad = padding,
                            .out_pad = output_padding, .has_bias = bias != 0};
    l->impl = c;
    gan_layer_add_slot(l, "weight", 4, wshape, false);
    if (c->has_bias) gan_layer_add_slot(l, "bias", 1, bshape, false);
    return gan_layer_finish(l, out);
}
