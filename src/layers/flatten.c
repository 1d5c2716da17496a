/* flatten.c — (C, H, W) -> (C*H*W) per sample (any per-sample shape
 * becomes 1-D), as PyTorch's nn.Flatten.  Forward and backward are copies. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static gan_status flatten_attach(gan_layer *l, const gan_shape *in, gan_shape *out)
{
    (void)l;
    out->ndim = 1;
    out->d[0] = gan_shape_numel(in);
    return GAN_OK;
}

/* y = x */
static void flatten_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    memcpy(y, x, (size_t)(n * gan_shape_numel(&l->in)) * sizeof(float)); /* (N, C*H*W) */
}

/* dx = dy */
static void flatten_backward(gan_layer *l, float *dx, const float *dy, const float *x,
                             const float *y, int64_t n, bool param_grads)
{
    (void)x;
    (void)y;
    (void)param_grads;
    if (dx == NULL) return;
    memcpy(dx, dy, (size_t)(n * gan_shape_numel(&l->in)) * sizeof(float)); /* (N, C, H, W) */
}

static int flatten_describe(const gan_layer *l, char *buf, size_t cap)
{
    (void)l;
    return snprintf(buf, cap, "flatten");
}

static const gan_layer_ops flatten_ops = {
    .kind = "flatten",
    .attach = flatten_attach,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .describe = flatten_describe,
};

gan_status gan_layer_flatten(gan_layer **out)
{
    GAN_CHECK_NULL(out, "gan_layer_flatten");
    *out = NULL;
    gan_layer *l = gan_layer_new(&flatten_ops);
    if (l == NULL) return GAN_E_NOMEM;
    return gan_layer_finish(l, out);
}
