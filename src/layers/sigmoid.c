/* sigmoid.c — y = 1 / (1 + e^-x), elementwise on any per-sample shape.
 * Backward reads only y, so the pass could run in place. */
#include "internal.h"

#include <math.h>
#include <stdio.h>

static gan_status sigmoid_attach(gan_layer *l, const gan_shape *in, gan_shape *out)
{
    (void)l;
    *out = *in;
    return GAN_OK;
}

/* y = 1 / (1 + e^-x); for x < 0 written as e^x / (1 + e^x) so that e^-x
 * cannot overflow. */
static void sigmoid_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    const int64_t count = n * gan_shape_numel(&l->in); /* (N, ...) */
    for (int64_t i = 0; i < count; i++) {
        float e = expf(-fabsf(x[i]));
        y[i] = x[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    }
}

/* dx = dy * y (1 - y) */
static void sigmoid_backward(gan_layer *l, float *dx, const float *dy, const float *x,
                             const float *y, int64_t n, bool param_grads)
{
    (void)x;
    (void)param_grads;
    if (dx == NULL) return;
    const int64_t count = n * gan_shape_numel(&l->in);
    for (int64_t i = 0; i < count; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

static int sigmoid_describe(const gan_layer *l, char *buf, size_t cap)
{
    (void)l;
    return snprintf(buf, cap, "sigmoid");
}

/* elementwise, and backward reads only y: may run over its input */
static unsigned sigmoid_traits(const gan_layer *l)
{
    (void)l;
    return GAN_LAYER_IN_PLACE;
}

static const gan_layer_ops sigmoid_ops = {
    .kind = "sigmoid",
    .attach = sigmoid_attach,
    .forward = sigmoid_forward,
    .backward = sigmoid_backward,
    .describe = sigmoid_describe,
    .traits = sigmoid_traits,
};

gan_status gan_layer_sigmoid(gan_layer **out)
{
    GAN_CHECK_NULL(out, "gan_layer_sigmoid");
    *out = NULL;
    gan_layer *l = gan_layer_new(&sigmoid_ops);
    if (l == NULL) return GAN_E_NOMEM;
    return gan_layer_finish(l, out);
}
