/* gradcheck.c — see gradcheck.h. */
#include "gradcheck.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* L = sum(y * r) after a fresh forward. */
static double loss_of(gan_layer *l, gan_tensor *x, gan_tensor *y, const gan_tensor *r)
{
    ck_assert_msg(gan_layer_forward(l, x, y) == GAN_OK, "forward: %s", gan_last_error());
    double s = 0;
    const float *yd = gan_tensor_cdata(y), *rd = gan_tensor_cdata(r);
    for (int64_t i = 0; i < gan_tensor_numel(y); i++) s += (double)yd[i] * rd[i];
    return s;
}

static void compare(const char *what, const float *analytic, const double *numeric, int64_t n,
                    float tol)
{
    double scale = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs(numeric[i]) > scale) scale = fabs(numeric[i]);
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(analytic[i] - numeric[i]);
        double lim = tol * (fabs(numeric[i]) + 1e-2 * scale + 1e-3);
        ck_assert_msg(d <= lim, "gradcheck %s[%lld]: analytic %.6g numeric %.6g (diff %.3g > %.3g)",
                      what, (long long)i, (double)analytic[i], numeric[i], d, lim);
    }
}

/* Numeric gradient of L w.r.t. each element of p (n floats). */
static void numeric_grad(gan_layer *l, gan_tensor *x, gan_tensor *y, const gan_tensor *r,
                         float *p, int64_t n, float h, double *out)
{
    for (int64_t i = 0; i < n; i++) {
        float keep = p[i];
        p[i] = keep + h;
        double lp = loss_of(l, x, y, r);
        p[i] = keep - h;
        double lm = loss_of(l, x, y, r);
        p[i] = keep;
        out[i] = (lp - lm) / (2.0 * h);
    }
}

void gc_check_layer(gan_layer *l, gan_tensor *x, float h, float tol, float kink, uint64_t seed)
{
    int ndim = 0;
    int64_t os[GAN_MAX_DIMS];
    ck_assert_int_eq(gan_layer_output_shape(l, &ndim, os), GAN_OK);
    int64_t ys[GAN_MAX_DIMS] = {gan_tensor_dim(x, 0)};
    for (int i = 0; i < ndim; i++) ys[i + 1] = os[i];
    gan_tensor *y = NULL, *r = NULL, *dx = NULL;
    ck_assert_int_eq(gan_tensor_create(&y, ndim + 1, ys), GAN_OK);
    ck_assert_int_eq(gan_tensor_create(&r, ndim + 1, ys), GAN_OK);
    int64_t xs[GAN_MAX_DIMS];
    for (int i = 0; i < gan_tensor_ndim(x); i++) xs[i] = gan_tensor_dim(x, i);
    ck_assert_int_eq(gan_tensor_create(&dx, gan_tensor_ndim(x), xs), GAN_OK);
    gan_rng *rng = NULL;
    ck_assert_int_eq(gan_rng_create(&rng, seed), GAN_OK);
    ck_assert_int_eq(gan_rng_fill_normal(rng, r, 0.0f, 1.0f), GAN_OK);

    float *xd = gan_tensor_data(x);
    for (int64_t i = 0; i < gan_tensor_numel(x); i++)
        if (fabsf(xd[i]) < kink) xd[i] = xd[i] < 0 ? -kink : kink;

    /* analytic: forward, zero grads, backward(r) */
    loss_of(l, x, y, r);
    ck_assert_int_eq(gan_layer_zero_grad(l), GAN_OK);
    ck_assert_msg(gan_layer_backward(l, r, dx) == GAN_OK, "backward: %s", gan_last_error());

    int64_t nx = gan_tensor_numel(x);
    double *num = malloc(sizeof(double) * (size_t)nx);
    numeric_grad(l, x, y, r, xd, nx, h, num);
    compare("dx", gan_tensor_cdata(dx), num, nx, tol);
    free(num);

    for (int k = 0; k < gan_layer_tensor_count(l); k++) {
        const char *name;
        gan_tensor *v, *g;
        ck_assert_int_eq(gan_layer_tensor(l, k, &name, &v, &g), GAN_OK);
        if (g == NULL) continue;
        int64_t n = gan_tensor_numel(v);
        double *pn = malloc(sizeof(double) * (size_t)n);
        numeric_grad(l, x, y, r, gan_tensor_data(v), n, h, pn);
        compare(name, gan_tensor_cdata(g), pn, n, tol);
        free(pn);
    }
    gan_tensor_free(y);
    gan_tensor_free(r);
    gan_tensor_free(dx);
    gan_rng_free(rng);
}
