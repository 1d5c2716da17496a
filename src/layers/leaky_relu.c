/* leaky_relu.c — y = x > 0 ? x : slope * x, elementwise on any per-sample
 * shape (DCGAN's discriminator uses slope 0.2).
 *
 * Backward follows PyTorch: the gradient is dy where x > 0 and slope * dy
 * elsewhere (x = 0 included).  For slope >= 0, y > 0 exactly where x > 0, so
 * backward reads only y and the pass could run in place; a negative slope
 * flips the sign of y for negative x, and then backward must read x. */
#include "internal.h"
#include "eltwise.h"

#include <math.h>
#include <stdio.h>

typedef struct leaky_impl {
    float slope;
} leaky_impl;

static float slope_of(const gan_layer *l) { return ((const leaky_impl *)l->impl)->slope; }

static gan_status leaky_attach(gan_layer *l, const gan_shape *in, gan_shape *out)
{
    (void)l;
    *out = *in;
    return GAN_OK;
}

/* y = x > 0 ? x : slope x */
static void leaky_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    gan_leaky_forward(y, x, slope_of(l), n * gan_shape_numel(&l->in)); /* (N, ...) */
}

/* dx = dy * (x > 0 ? 1 : slope) */
static void leaky_backward(gan_layer *l, float *dx, const float *dy, const float *x,
                           const float *y, int64_t n, bool param_grads)
{
    (void)param_grads;
    if (dx == NULL) return;
    const float slope = slope_of(l);
    const float *sign = slope >= 0.0f ? y : x; /* > 0 exactly where x > 0 */
    gan_leaky_backward(dx, dy, sign, slope, n * gan_shape_numel(&l->in));
}

static gan_status check_slope(const char *fn, double slope)
{
    if (!isfinite(slope) || fabs(slope) > 3.0e38)
        return gan_fail(GAN_E_INVALID, "%s: leaky_relu slope %g is not a finite float", fn, slope);
    return GAN_OK;
}

static gan_status leaky_set(gan_layer *l, gan_layer_setting setting, double value)
{
    if (setting != GAN_LAYER_LEAKY_SLOPE)
        return gan_fail(GAN_E_INVALID, "gan_layer_set: leaky_relu has no setting %d", (int)setting);
    GAN_TRY(check_slope("gan_layer_set", value));
    ((leaky_impl *)l->impl)->slope = (float)value;
    return GAN_OK;
}

static int leaky_describe(const gan_layer *l, char *buf, size_t cap)
{
    return snprintf(buf, cap, "leaky_relu slope=%.9g", (double)slope_of(l));
}

static void leaky_destroy(gan_layer *l)
{
    gan_dealloc(l->impl);
    l->impl = NULL;
}

/* slope >= 0: backward reads only y, so the layer may run over its input;
 * slope < 0: backward reads only x, so it leaves y alone */
static unsigned leaky_traits(const gan_layer *l)
{
    return slope_of(l) >= 0.0f ? GAN_LAYER_IN_PLACE : GAN_LAYER_BWD_NO_Y;
}

/* batchnorm may apply it in its own passes (model.c) when the model runs it
 * in place, which needs slope >= 0 */
static bool leaky_rectifier(const gan_layer *l, gan_rect *r)
{
    *r = (gan_rect){.leaky = true, .slope = slope_of(l)};
    return true;
}

static const gan_layer_ops leaky_ops = {
    .kind = "leaky_relu",
    .attach = leaky_attach,
    .forward = leaky_forward,
    .backward = leaky_backward,
    .set = leaky_set,
    .describe = leaky_describe,
    .destroy = leaky_destroy,
    .traits = leaky_traits,
    .rectifier = leaky_rectifier,
};

gan_status gan_layer_leaky_relu(gan_layer **out, float slope)
{
    GAN_CHECK_NULL(out, "gan_layer_leaky_relu");
    *out = NULL;
    GAN_TRY(check_slope("gan_layer_leaky_relu", slope));
    gan_layer *l = gan_layer_new(&leaky_ops);
    if (l == NULL) return GAN_E_NOMEM;
    leaky_impl *impl = gan_alloc(sizeof *impl);
    if (impl == NULL) {
        gan_layer_destroy(l);
        return GAN_E_NOMEM;
    }
    impl->slope = slope;
    l->impl = impl;
    return gan_layer_finish(l, out);
}
