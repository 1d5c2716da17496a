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
 * With m = 1 the swaps are identities and are skipped.  "One GEMM" is one
 * per kernel-row group when the layer splits its grid into border bands
 * (im2col.h: padding taps skipped; W and dW then in kernel-row-major
 * order, permuted by gan_conv_forward / gan_conv_backward).
 *
 * Fast path: from a 1x1 input without padding or output padding (a DCGAN
 * generator's first layer), each sample's output (Cout, kh, kw) is exactly
 * its row of x W, so the layer is a dense layer:
 *   y (N, K) = x (N, Cin) . W + b;  dW += x^T . dy;  dx = dy . W^T
 * and skips the permutes, col2im and all scratch. */
#include "internal.h"
#include "im2col.h"

#include <limits.h>

/* l->impl is a gan_conv (im2col.h) with `transposed` set: hyperparameters
 * and per-thread scratch, cols (K, chunk*P) then x_cn (Cin, chunk*P), which
 * holds x channel-major, or dx_cn at the end of backward. */

/* Is the input a single pixel whose kernel is the whole output (the dense
 * fast path)? */
static bool is_dense(const gan_layer *l)
{
    const gan_conv *c = l->impl;
    return l->in.d[1] == 1 && l->in.d[2] == 1 && c->pad == 0 && c->out_pad == 0;
}

static gan_status convt_attach(gan_layer *l, const gan_shape *in, gan_shape *out)
{
    const gan_conv *c = l->impl;
    GAN_TRY(gan_conv_check_input(l, in));
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
    return gan_conv_set_output(l, out, oh, ow);
}

/* Scratch for `batch` samples (none on the dense path). */
static gan_status convt_reserve(gan_layer *l, int64_t batch)
{
    return gan_conv_reserve(l, batch, is_dense(l));
}

/* Dense fast path, y (N, Cout*kh*kw) = x (N, Cin) W (Cin, K) + b[o] */
static void convt_dense_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    const gan_conv *c = l->impl;
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
static void convt_dense_backward(gan_layer *l, float *dx, const float *dy, const float *x,
                                 int64_t n, bool param_grads)
{
    const gan_conv *c = l->impl;
    const int64_t k = c->out_c * c->kh * c->kw;
    const float *w = l->slot[0].value.data; /* (Cin, K) */
    if (dx != NULL) /* (N, Cin) = (N, K) (K, Cin) */
        gan_sgemm(false, true, n, c->in_c, k, 1.0f, dy, k, w, k, 0.0f, dx, c->in_c);
    if (!param_grads) return;
    float *dw = l->slot[0].grad.data; /* (Cin, K) += (Cin, N) (N, K) */
    gan_sgemm(true, false, c->in_c, k, n, 1.0f, x, c->in_c, dy, k, 1.0f, dw, k);
    if (c->has_bias) gan_bias_grad_add(l->slot[1].grad.data, dy, n, c->out_c, c->kh * c->kw);
}

/* y = W^T-scatter of x + b, task t's samples; tk.cn is x_cn (Cin, m*P).
 *
 * On few columns (GAN_CONVT_FEW_COLUMNS: one sample of DCGAN-64's 4x4 input)
 * the GEMM is mostly BLAS packing W, and it packs W^T from memory much more
 * slowly than W: so it computes cols^T (m*P, K) = x_cn^T W into the spare
 * floats and transposes that.  One dcgan64 sample on one thread (`gan bench
 * --generate`): 10.0-10.3 -> 6.3-7.5 ms. */
static void convt_forward_task(void *ctx, int t, int ntasks, int thread)
{
    const gan_conv_task tk = gan_conv_task_begin(ctx, t, ntasks, thread);
    for (int64_t s = tk.lo; s < tk.hi; s += tk.chunk) {
        const int64_t m = gan_conv_chunk_len(&tk, s), mp = m * tk.p;
        const float *xc = gan_conv_to_cn(tk.cn, tk.x + s * tk.in_size, &tk.g, m, tk.cin);
        if (mp <= GAN_CONVT_FEW_COLUMNS) { /* all of cols, padding taps too */
            gan_sgemm(true, false, mp, tk.k, tk.cin, 1.0f, xc, mp, tk.w, tk.k, 0.0f, tk.spare, tk.k);
            gan_transpose(tk.cols, tk.spare, mp, tk.k);
        } else {
            gan_conv_gemm_cols(&tk.g, m, tk.cin, tk.w, xc, tk.cols);
        }
        gan_col2im(tk.out + s * tk.out_size, tk.cols, tk.b, &tk.g, m, tk.work);
    }
}

static void convt_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    if (is_dense(l)) convt_dense_forward(l, y, x, n);
    else gan_conv_forward(l, convt_forward_task, y, x, n);
}

/* cols = im2col(dy);  dW += x . cols^T;  dx = W . cols, task t's samples;
 * tk.cn is x_cn (Cin, m*P), then dx_cn */
static void convt_backward_task(void *ctx, int t, int ntasks, int thread)
{
    const gan_conv_task tk = gan_conv_task_begin(ctx, t, ntasks, thread);
    for (int64_t s = tk.lo; s < tk.hi; s += tk.chunk) {
        const int64_t m = gan_conv_chunk_len(&tk, s);
        gan_im2col(tk.cols, tk.dy + s * tk.out_size, &tk.g, m, tk.work);
        if (tk.param_grads) {
            const float *xc = gan_conv_to_cn(tk.cn, tk.x + s * tk.in_size, &tk.g, m, tk.cin);
            gan_conv_gemm_dw(&tk.g, m, tk.cin, xc, tk.cols, tk.dw);
        }
        if (tk.out != NULL) {
            float *dx = tk.out + s * tk.in_size;
            float *dst = m == 1 ? dx : tk.cn; /* one sample: already (Cin, P) */
            gan_conv_gemm_grid(&tk.g, m, tk.cin, tk.w, tk.cols, dst);
            if (dst != dx) gan_cn_to_nchw(dx, tk.cn, NULL, &tk.g, m, tk.cin);
        }
    }
}

/* dx and dW by convt_backward_task; db += sum over N, Ho, Wo of dy (gan_conv_backward) */
static void convt_backward(gan_layer *l, float *dx, const float *dy, const float *x,
                           const float *y, int64_t n, bool param_grads)
{
    (void)y;
    if (is_dense(l)) convt_dense_backward(l, dx, dy, x, n, param_grads);
    else gan_conv_backward(l, convt_backward_task, dx, dy, x, n, param_grads);
}

static const gan_layer_ops convt_ops = {
    .kind = "conv_transpose2d",
    .attach = convt_attach,
    .reserve = convt_reserve,
    .forward = convt_forward,
    .backward = convt_backward,
    .init = gan_conv_init,
    .describe = gan_conv_describe,
    .destroy = gan_conv_destroy,
    .traits = gan_conv_traits,
    .scratch_bytes = gan_conv_scratch_bytes,
};

gan_status gan_layer_conv_transpose2d(gan_layer **out, int in_channels, int out_channels,
                                      int kernel_h, int kernel_w, int stride, int padding,
                                      int output_padding, int bias)
{
    const gan_conv c = {.in_c = in_channels, .out_c = out_channels, .kh = kernel_h,
                        .kw = kernel_w, .stride = stride, .pad = padding,
                        .out_pad = output_padding, .transposed = true, .has_bias = bias != 0};
    return gan_conv_create(out, &convt_ops, "gan_layer_conv_transpose2d", &c);
}
