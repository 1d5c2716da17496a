/* tanh.c — y = tanh(x), elementwise on any per-sample shape.
 * Backward reads only y, so the pass could run in place. */
#include "internal.h"
#include "eltwise.h"

#include <math.h>
#include <stdio.h>

static gan_status tanh_attach(gan_layer *l, const gan_shape *in, gan_shape *out)
{
    (void)l;
    *out = *in;
    return GAN_OK;
}

/* y = tanh(x) */
static void tanh_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    gan_tanh_forward(y, x, n * gan_shape_numel(&l->in)); /* (N, ...) */
}

/* dx = dy * (1 - y^2) */
static void tanh_backward(gan_layer *l, float *dx, const float *dy, const float *x,
                          const float *y, int64_t n, bool param_grads)
{
    (void)x;
    (void)param_grads;
    if (dx == NULL) return;
    gan_tanh_backward(dx, dy, y, n * gan_shape_numel(&l->in));
}

static int tanh_describe(const gan_layer *l, char *buf, size_t cap)
{
    (void)l;
    return snprintf(buf, cap, "tanh");
}

/* elementwise, and backward reads only y: may run over its input */
static unsigned tanh_traits(const gan_layer *l)
{
    (void)l;
    return GAN_LAYER_IN_PLACE;
}

static const gan_layer_ops tanh_ops = {
    .kind = "tanh",
    .attach = tanh_attach,
    .forward = tanh_forward,
    .backward = tanh_backward,
    .describe = tanh_describe,
    .traits = tanh_traits,
};

gan_status gan_layer_tanh(gan_layer **out)
{
    GAN_CHECK_NULL(out, "gan_layer_tanh");
    *out = NULL;
    gan_layer *l = gan_layer_new(&tanh_ops);
    if (l == NULL) return GAN_E_NOMEM;
    return gan_layer_finish(l, out);
}
