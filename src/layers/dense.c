/* dense.c — fully connected layer, y = x W^T + b (PyTorch's nn.Linear).
 *
 * Slots: "weight" (out, in), optional "bias" (out).  The whole batch is one
 * GEMM in each direction; the shapes are read back from the weight slot. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int64_t in_features(const gan_layer *l) { return l->slot[0].shape.d[1]; }
static int64_t out_features(const gan_layer *l) { return l->slot[0].shape.d[0]; }
static bool has_bias(const gan_layer *l) { return l->nslots > 1; }

static gan_status dense_attach(gan_layer *l, const gan_shape *in, gan_shape *out)
{
    if (in->ndim != 1 || in->d[0] != in_features(l)) {
        char got[96];
        return gan_fail(GAN_E_SHAPE,
                        "dense: in_features = %lld, so the per-sample input must be (%lld); got %s",
                        (long long)in_features(l), (long long)in_features(l),
                        gan_shape_str(in, got, sizeof got));
    }
    out->ndim = 1;
    out->d[0] = out_features(l);
    return GAN_OK;
}

/* y (N, out) = x (N, in) W^T (in, out) + b (out) */
static void dense_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    const int64_t in = in_features(l), out = out_features(l);
    const float *w = l->slot[0].value.data; /* (out, in) */
    float beta = 0.0f;
    if (has_bias(l)) {
        const float *b = l->slot[1].value.data; /* (out) */
        for (int64_t i = 0; i < n; i++) memcpy(y + i * out, b, (size_t)out * sizeof(float));
        beta = 1.0f;
    }
    gan_sgemm(false, true, n, out, in, 1.0f, x, in, w, in, beta, y, out);
}

/* dx = dy W;  dW += dy^T x;  db += sum_n dy */
static void dense_backward(gan_layer *l, float *dx, const float *dy, const float *x,
                           const float *y, int64_t n, bool param_grads)
{
    (void)y;
    const int64_t in = in_features(l), out = out_features(l);
    const float *w = l->slot[0].value.data; /* (out, in) */
    if (dx != NULL) /* (N, in) = (N, out) (out, in) */
        gan_sgemm(false, false, n, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
    if (!param_grads) return;
    float *dw = l->slot[0].grad.data; /* (out, in) += (out, N) (N, in) */
    gan_sgemm(true, false, out, in, n, 1.0f, dy, out, x, in, 1.0f, dw, in);
    if (has_bias(l)) {
        float *db = l->slot[1].grad.data; /* (out) */
        for (int64_t i = 0; i < n; i++) {
            const float *row = dy + i * out;
            for (int64_t j = 0; j < out; j++) db[j] += row[j];
        }
    }
}

/* PyTorch: kaiming_uniform(a = sqrt 5) = U(-1/sqrt(in), 1/sqrt(in)) for W,
 * the same bound for b.  DCGAN: W ~ N(0, 0.02), b = 0. */
static void dense_init(gan_layer *l, gan_init scheme, gan_rng *rng)
{
    gan_tensor *w = &l->slot[0].value;
    if (scheme == GAN_INIT_DCGAN) {
        gan_fill_normal(w->data, w->numel, 0.0f, 0.02f, rng);
        if (has_bias(l)) memset(l->slot[1].value.data, 0, (size_t)out_features(l) * sizeof(float));
        return;
    }
    float bound = (float)(1.0 / sqrt((double)in_features(l)));
    gan_fill_uniform(w->data, w->numel, -bound, bound, rng);
    if (has_bias(l)) gan_fill_uniform(l->slot[1].value.data, out_features(l), -bound, bound, rng);
}

static int dense_describe(const gan_layer *l, char *buf, size_t cap)
{
    return snprintf(buf, cap, "dense in=%lld out=%lld bias=%d", (long long)in_features(l),
                    (long long)out_features(l), has_bias(l) ? 1 : 0);
}

/* backward reads x, never y: an activation after a dense layer may run in
 * place */
static unsigned dense_traits(const gan_layer *l)
{
    (void)l;
    return GAN_LAYER_BWD_NO_Y;
}

static const gan_layer_ops dense_ops = {
    .kind = "dense",
    .attach = dense_attach,
    .reserve = NULL,
    .forward = dense_forward,
    .backward = dense_backward,
    .init = dense_init,
    .set = NULL,
    .describe = dense_describe,
    .destroy = NULL,
    .traits = dense_traits,
};

gan_status gan_layer_dense(gan_layer **out, int in_features, int out_features, int bias)
{
    GAN_CHECK_NULL(out, "gan_layer_dense");
    *out = NULL;
    if (in_features < 1 || out_features < 1)
        return gan_fail(GAN_E_INVALID,
                        "gan_layer_dense: in_features = %d, out_features = %d (each must be >= 1)",
                        in_features, out_features);
    gan_layer *l = gan_layer_new(&dense_ops);
    if (l == NULL) return GAN_E_NOMEM;
    int64_t wshape[2] = {out_features, in_features}, bshape[1] = {out_features};
    gan_layer_add_slot(l, "weight", 2, wshape, false);
    if (bias) gan_layer_add_slot(l, "bias", 1, bshape, false);
    return gan_layer_finish(l, out);
}
