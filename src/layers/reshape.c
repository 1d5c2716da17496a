/* reshape.c — view each sample with a new shape of the same size, e.g.
 * (256*7*7) -> (256, 7, 7) between a dense and a transposed convolution.
 * Memory is row-major in both shapes, so forward and backward are copies. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

typedef struct reshape_impl {
    gan_shape target; /* per-sample output shape */
} reshape_impl;

static const gan_shape *target_of(const gan_layer *l)
{
    return &((const reshape_impl *)l->impl)->target;
}

static gan_status reshape_attach(gan_layer *l, const gan_shape *in, gan_shape *out)
{
    const gan_shape *t = target_of(l);
    if (gan_shape_numel(in) != gan_shape_numel(t)) {
        char got[96], want[96];
        return gan_fail(GAN_E_SHAPE,
                        "reshape: cannot view the per-sample input %s (%lld elements) as %s "
                        "(%lld elements)",
                        gan_shape_str(in, got, sizeof got), (long long)gan_shape_numel(in),
                        gan_shape_str(t, want, sizeof want), (long long)gan_shape_numel(t));
    }
    *out = *t;
    return GAN_OK;
}

/* y = x */
static void reshape_forward(gan_layer *l, float *y, const float *x, int64_t n)
{
    memcpy(y, x, (size_t)(n * gan_shape_numel(&l->in)) * sizeof(float)); /* (N, ...) */
}

/* dx = dy */
static void reshape_backward(gan_layer *l, float *dx, const float *dy, const float *x,
                             const float *y, int64_t n, bool param_grads)
{
    (void)x;
    (void)y;
    (void)param_grads;
    if (dx == NULL) return;
    memcpy(dx, dy, (size_t)(n * gan_shape_numel(&l->in)) * sizeof(float));
}

static int reshape_describe(const gan_layer *l, char *buf, size_t cap)
{
    const gan_shape *t = target_of(l);
    switch (t->ndim) {
    case 1: return snprintf(buf, cap, "reshape %lld", (long long)t->d[0]);
    case 2: return snprintf(buf, cap, "reshape %lld %lld", (long long)t->d[0], (long long)t->d[1]);
    default:
        return snprintf(buf, cap, "reshape %lld %lld %lld", (long long)t->d[0], (long long)t->d[1],
                        (long long)t->d[2]);
    }
}

static void reshape_destroy(gan_layer *l)
{
    gan_dealloc(l->impl);
    l->impl = NULL;
}

static const gan_layer_ops reshape_ops = {
    .kind = "reshape",
    .attach = reshape_attach,
    .forward = reshape_forward,
    .backward = reshape_backward,
    .describe = reshape_describe,
    .destroy = reshape_destroy,
};

gan_status gan_layer_reshape(gan_layer **out, int ndim, const int64_t *shape)
{
    static const char fn[] = "gan_layer_reshape";
    GAN_CHECK_NULL(out, fn);
    *out = NULL;
    GAN_CHECK_NULL(shape, fn);
    if (ndim < 1 || ndim > GAN_MAX_DIMS - 1)
        return gan_fail(GAN_E_INVALID, "%s: ndim = %d, a per-sample shape has 1..3 dimensions", fn,
                        ndim);
    GAN_TRY(gan_shape_check(ndim, shape, fn));
    gan_layer *l = gan_layer_new(&reshape_ops);
    if (l == NULL) return GAN_E_NOMEM;
    reshape_impl *impl = gan_alloc_zero(sizeof *impl);
    if (impl == NULL) {
        gan_layer_destroy(l);
        return GAN_E_NOMEM;
    }
    impl->target.ndim = ndim;
    for (int i = 0; i < ndim; i++) impl->target.d[i] = shape[i];
    l->impl = impl;
    return gan_layer_finish(l, out);
}
