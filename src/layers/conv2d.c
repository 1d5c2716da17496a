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
 * With m = 1 the swaps are identities and are skipped.  "One GEMM" is one
 * per kernel-row group when the layer splits its grid into border bands
 * (im2col.h: padding taps skipped; W and dW then in kernel-row-major
 * order, permuted by gan_conv_forward / gan_conv_backward).
 *
 * Fast path: when one window covers the whole unpadded input (Ho = Wo = 1,
 * as in a DCGAN discriminator's last layer), cols is just x transposed and
 * the layer is a dense layer on the flattened sample:
 *   y (N, Cout) = x (N, K) . W^T;  dW += dy^T . x;  dx = dy . W
 * so it skips im2col, the permutes and all scratch. */
#include "internal.h"
#include "im2col.h"

#include <limits.h>
#include <string.h>

/* l->impl is a gan_conv (im2col.h): hyperparameters and per-thread scratch,
 * cols (K, chunk*P) then y_cn (Cout, chunk*P), which holds y before the
 * permute, or dy_cn in backward.  The image of the lowering is x, its grid
 * of window positions y. */

/* Does one window cover the whole input (the dense fast path)? */
static bool is_dense(const gan_layer *l)
{
    const gan_conv *c = l->impl;
    return c->pad == 0 && c->kh == l->in.d[1] && c->kw == l->in.d[2];
}

static gan_status conv2d_attach(gan_layer *l, const gan_shape *in, gan_shape *out)
{
    const gan_conv *c = l->impl;
    GAN_TRY(gan_conv_check_input(l, in));
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
    return gan_conv_set_output(l, out, oh, ow);
}

/* Scratch for `batch` samples (none on the dense path). */
static gan_status conv2d_reserve(gan_layer *l, int64_t batch)
{
    return gan_conv_reserve(l, batch, is_dense(l));
}

/* Dense fast path, y (N, Cout) = x (N, K) W^T + b */
static void conv2d_dense_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    const gan_conv *c = l->impl;
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
static void conv2d_dense_backward(gan_layer *l, float *dx, const float *dy, const float *x,
                                  int64_t n, bool param_grads)
{
    const gan_conv *c = l->impl;
    const int64_t k = c->in_c * c->kh * c->kw;
    const float *w = l->slot[0].value.data; /* (Cout, K) */
    if (dx != NULL) /* (N, K) = (N, Cout) (Cout, K) */
        gan_sgemm(false, false, n, k, c->out_c, 1.0f, dy, c->out_c, w, k, 0.0f, dx, k);
    if (!param_grads) return;
    float *dw = l->slot[0].grad.data; /* (Cout, K) += (Cout, N) (N, K) */
    gan_sgemm(true, false, c->out_c, k, n, 1.0f, dy, c->out_c, x, k, 1.0f, dw, k);
    if (c->has_bias) gan_bias_grad_add(l->slot[1].grad.data, dy, n, c->out_c, 1);
}

/* y = W * x + b  (cross-correlation, as PyTorch), task t's samples;
 * tk.cn is y_cn (Cout, m*P) */
static void conv2d_forward_task(void *ctx, int t, int ntasks, int thread)
{
    const gan_conv_task tk = gan_conv_task_begin(ctx, t, ntasks, thread);
    for (int64_t s = tk.lo; s < tk.hi; s += tk.chunk) {
        const int64_t m = gan_conv_chunk_len(&tk, s);
        float *y = tk.out + s * tk.out_size;
        float *dst = m == 1 && tk.b == NULL ? y : tk.cn; /* one sample: already (Cout, P) */
        gan_im2col(tk.cols, tk.x + s * tk.in_size, &tk.g, m, tk.work);
        gan_conv_gemm_grid(&tk.g, m, tk.cout, tk.w, tk.cols, dst);
        if (dst != y) gan_cn_to_nchw(y, tk.cn, tk.b, &tk.g, m, tk.cout);
    }
}

static void conv2d_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    if (is_dense(l)) conv2d_dense_forward(l, y, x, n);
    else gan_conv_forward(l, conv2d_forward_task, y, x, n);
}

/* dW += dy . cols^T;  dx = col2im(W^T . dy), task t's samples;
 * tk.cn is dy_cn (Cout, m*P) */
static void conv2d_backward_task(void *ctx, int t, int ntasks, int thread)
{
    const gan_conv_task tk = gan_conv_task_begin(ctx, t, ntasks, thread);
    for (int64_t s = tk.lo; s < tk.hi; s += tk.chunk) {
        const int64_t m = gan_conv_chunk_len(&tk, s);
        const float *dyc = gan_conv_to_cn(tk.cn, tk.dy + s * tk.out_size, &tk.g, m, tk.cout);
        if (tk.param_grads) {
            gan_im2col(tk.cols, tk.x + s * tk.in_size, &tk.g, m, tk.work);
            gan_conv_gemm_dw(&tk.g, m, tk.cout, dyc, tk.cols, tk.dw);
        }
        if (tk.out != NULL) {
            gan_conv_gemm_cols(&tk.g, m, tk.cout, tk.w, dyc, tk.cols);
            gan_col2im(tk.out + s * tk.in_size, tk.cols, NULL, &tk.g, m, tk.work);
        }
    }
}

/* dx and dW by conv2d_backward_task; db += sum over N, P of dy (gan_conv_backward) */
static void conv2d_backward(gan_layer *l, float *dx, const float *dy, const float *x,
                            const float *y, int64_t n, bool param_grads)
{
    (void)y;
    if (is_dense(l)) conv2d_dense_backward(l, dx, dy, x, n, param_grads);
    else gan_conv_backward(l, conv2d_backward_task, dx, dy, x, n, param_grads);
}

static const gan_layer_ops conv2d_ops = {
    .kind = "conv2d",
    .attach = conv2d_attach,
    .reserve = conv2d_reserve,
    .forward = conv2d_forward,
    .backward = conv2d_backward,
    .init = gan_conv_init,
    .describe = gan_conv_describe,
    .destroy = gan_conv_destroy,
    .traits = gan_conv_traits,
    .scratch_bytes = gan_conv_scratch_bytes,
};

gan_status gan_layer_conv2d(gan_layer **out, int in_channels, int out_channels, int kernel_h,
                            int kernel_w, int stride, int padding, int bias)
{
    const gan_conv c = {.in_c = in_channels, .out_c = out_channels, .kh = kernel_h,
                        .kw = kernel_w, .stride = stride, .pad = padding, .has_bias = bias != 0};
    return gan_conv_create(out, &conv2d_ops, "gan_layer_conv2d", &c);
}
