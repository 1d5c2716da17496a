/* relu.c — y = max(0, x), elementwise on any per-sample shape.
 * Backward reads only y (y > 0 exactly where x > 0), so the pass could run
 * in place. */
#include "internal.h"
#include "eltwise.h"

#include <stdio.h>

static gan_status relu_attach(gan_layer *l, const gan_shape *in, gan_shape *out)
{
    (void)l;
    *out = *in;
    return GAN_OK;
}

/* y = max(0, x) */
static void relu_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    gan_relu_forward(y, x, n * gan_shape_numel(&l->in)); /* (N, ...) */
}

/* dx = dy * [y > 0]  (0 at the kink, as PyTorch) */
static void relu_backward(gan_layer *l, float *dx, const float *dy, const float *x,
                          const float *y, int64_t n, bool param_grads)
{
    (void)x;
    (void)param_grads;
    if (dx == NULL) return;
    gan_relu_backward(dx, dy, y, n * gan_shape_numel(&l->in));
}

static int relu_describe(const gan_layer *l, char *buf, size_t cap)
{
    (void)l;
    return snprintf(buf, cap, "relu");
}

/* elementwise, and backward reads only y: may run over its input */
static unsigned relu_traits(const gan_layer *l)
{
    (void)l;
    return GAN_LAYER_IN_PLACE;
}

/* batchnorm may apply it in its own passes (model.c) */
static bool relu_rectifier(const gan_layer *l, gan_rect *r)
{
    (void)l;
    *r = (gan_rect){.leaky = false, .slope = 0.0f};
    return true;
}

static const gan_layer_ops relu_ops = {
    .kind = "relu",
    .attach = relu_attach,
    .forward = relu_forward,
    .backward = relu_backward,
    .describe = relu_describe,
    .traits = relu_traits,
    .rectifier = relu_rectifier,
};

gan_status gan_layer_relu(gan_layer **out)
{
    GAN_CHECK_NULL(out, "gan_layer_relu");
    *out = NULL;
    gan_layer *l = gan_layer_new(&relu_ops);
    if (l == NULL) return GAN_E_NOMEM;
    return gan_layer_finish(l, out);
}
