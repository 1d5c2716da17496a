/* test_layers.c — the non-convolution layers (dense, batchnorm, relu,
 * leaky_relu, tanh, sigmoid, reshape, flatten): parity with PyTorch
 * reference vectors (tests/ref/gen_layers.py), finite-difference gradient
 * checks, gradient accumulation, and error paths with exact statuses. */
#include "gradcheck.h"
#include "internal.h" /* describe lines */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-4

/* ------------------------------------------------------------ helpers */

static gan_tensor *ref_case(tu_ref *r, int c, const char *what)
{
    char name[128];
    snprintf(name, sizeof name, "c%d.%s", c, what);
    return tu_ref_get(r, name);
}

static bool ref_case_has(tu_ref *r, int c, const char *what)
{
    char name[128];
    snprintf(name, sizeof name, "c%d.%s", c, what);
    return tu_ref_has(r, name);
}

static float cfg(tu_ref *r, int c, int i)
{
    return gan_tensor_cdata(ref_case(r, c, "cfg"))[i];
}

/* A zero tensor shaped like t. */
static gan_tensor *like(const gan_tensor *t)
{
    int64_t d[GAN_MAX_DIMS];
    for (int i = 0; i < gan_tensor_ndim(t); i++) d[i] = gan_tensor_dim(t, i);
    gan_tensor *u = NULL;
    ck_assert_int_eq(gan_tensor_create(&u, gan_tensor_ndim(t), d), GAN_OK);
    return u;
}

/* A (n, out-shape...) tensor for an attached layer. */
static gan_tensor *output_for(gan_layer *l, int64_t n)
{
    int nd = 0;
    int64_t s[GAN_MAX_DIMS], d[GAN_MAX_DIMS] = {n};
    TU_OK(gan_layer_output_shape(l, &nd, s));
    for (int i = 0; i < nd; i++) d[i + 1] = s[i];
    gan_tensor *t = NULL;
    TU_OK(gan_tensor_create(&t, nd + 1, d));
    return t;
}

static void attach_like(gan_layer *l, const gan_tensor *x)
{
    int64_t s[GAN_MAX_DIMS];
    for (int i = 1; i < gan_tensor_ndim(x); i++) s[i - 1] = gan_tensor_dim(x, i);
    TU_OK(gan_layer_attach(l, gan_tensor_ndim(x) - 1, s));
}

/* Run case c of reference set r through layer l: load every slot the file
 * has, forward, backward, and compare y, dx, every gradient and (for
 * buffers) the values after the forward.  A second backward must double
 * the parameter gradients. */
static void check_case(gan_layer *l, tu_ref *r, int c)
{
    char what[128];
    gan_tensor *x = ref_case(r, c, "x");
    attach_like(l, x);
    for (int k = 0; k < gan_layer_tensor_count(l); k++) {
        const char *name;
        gan_tensor *v, *g;
        TU_OK(gan_layer_tensor(l, k, &name, &v, &g));
        ck_assert_msg(ref_case_has(r, c, name), "case %d: reference has no %s", c, name);
        TU_OK(gan_tensor_copy(v, ref_case(r, c, name)));
    }
    gan_tensor *y = output_for(l, gan_tensor_dim(x, 0));
    gan_tensor *dx = like(x);
    TU_OK(gan_layer_forward(l, x, y));
    snprintf(what, sizeof what, "%s case %d y", gan_layer_kind(l), c);
    tu_assert_tensor_close(what, y, ref_case(r, c, "y"), RTOL);

    TU_OK(gan_layer_zero_grad(l));
    TU_OK(gan_layer_backward(l, ref_case(r, c, "dy"), dx));
    snprintf(what, sizeof what, "%s case %d dx", gan_layer_kind(l), c);
    tu_assert_tensor_close(what, dx, ref_case(r, c, "dx"), RTOL);

    for (int k = 0; k < gan_layer_tensor_count(l); k++) {
        const char *name;
        gan_tensor *v, *g;
        char key[64];
        TU_OK(gan_layer_tensor(l, k, &name, &v, &g));
        if (g == NULL) {
            snprintf(key, sizeof key, "%s_out", name);
            snprintf(what, sizeof what, "%s case %d %s", gan_layer_kind(l), c, key);
            tu_assert_tensor_close(what, v, ref_case(r, c, key), RTOL);
            continue;
        }
        snprintf(key, sizeof key, "grad_%s", name);
        snprintf(what, sizeof what, "%s case %d %s", gan_layer_kind(l), c, key);
        tu_assert_tensor_close(what, g, ref_case(r, c, key), RTOL);
    }

    /* accumulation: a second backward adds the same gradients again */
    TU_OK(gan_layer_backward(l, ref_case(r, c, "dy"), NULL));
    for (int k = 0; k < gan_layer_tensor_count(l); k++) {
        const char *name;
        gan_tensor *v, *g;
        char key[64];
        TU_OK(gan_layer_tensor(l, k, &name, &v, &g));
        if (g == NULL) continue;
        snprintf(key, sizeof key, "grad_%s", name);
        gan_tensor *want = like(g);
        const float *one = gan_tensor_cdata(ref_case(r, c, key));
        for (int64_t i = 0; i < gan_tensor_numel(want); i++) gan_tensor_data(want)[i] = 2 * one[i];
        snprintf(what, sizeof what, "%s case %d 2x %s", gan_layer_kind(l), c, key);
        tu_assert_tensor_close(what, g, want, RTOL);
        gan_tensor_free(want);
    }
    gan_tensor_free(y);
    gan_tensor_free(dx);
}

static int ncases(tu_ref *r)
{
    return (int)tu_ref_scalar(r, "ncases");
}

/* x of the given shape, N(0, 1) from seed. */
static gan_tensor *random_tensor(int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                                 uint64_t seed)
{
    gan_tensor *t = tu_tensor(ndim, d0, d1, d2, d3);
    gan_rng *rng = NULL;
    TU_OK(gan_rng_create(&rng, seed));
    TU_OK(gan_rng_fill_normal(rng, t, 0.0f, 1.0f));
    gan_rng_free(rng);
    return t;
}

static void message_has(const char *needle)
{
    ck_assert_msg(strstr(gan_last_error(), needle) != NULL, "message '%s' lacks '%s'",
                  gan_last_error(), needle);
}

/* The architecture line (internal; a checkpoint helper parses it). */
static void describe_is(const gan_layer *l, const char *want)
{
    char buf[256];
    int len = l->ops->describe(l, buf, sizeof buf);
    ck_assert_str_eq(buf, want);
    ck_assert_int_eq(len, (int)strlen(want));
}

/* ------------------------------------------------------------ dense */

START_TEST(dense_matches_pytorch)
{
    tu_ref *r = tu_ref_load("layers_dense.bin");
    for (int c = 0; c < ncases(r); c++) {
        gan_layer *l = NULL;
        TU_OK(gan_layer_dense(&l, (int)cfg(r, c, 0), (int)cfg(r, c, 1), (int)cfg(r, c, 2)));
        ck_assert_str_eq(gan_layer_kind(l), "dense");
        ck_assert_int_eq(gan_layer_tensor_count(l), cfg(r, c, 2) ? 2 : 1);
        check_case(l, r, c);
        gan_layer_free(l);
    }
    tu_ref_free(r);
}
END_TEST

START_TEST(dense_gradcheck)
{
    for (int bias = 0; bias <= 1; bias++) {
        gan_layer *l = NULL;
        TU_OK(gan_layer_dense(&l, 6, 4, bias));
        int64_t in[1] = {6};
        TU_OK(gan_layer_attach(l, 1, in));
        gan_tensor *x = random_tensor(2, 3, 6, 0, 0, 11 + (uint64_t)bias);
        gc_check_layer(l, x, 1e-2f, 2e-2f, 0.0f, 5);
        gan_tensor_free(x);
        gan_layer_free(l);
    }
}
END_TEST

START_TEST(dense_skips_dx)
{
    /* backward with dx = NULL still accumulates the parameter gradients */
    gan_layer *l = NULL;
    TU_OK(gan_layer_dense(&l, 3, 2, 1));
    int64_t in[1] = {3};
    TU_OK(gan_layer_attach(l, 1, in));
    gan_tensor *x = random_tensor(2, 4, 3, 0, 0, 1), *y = tu_tensor(2, 4, 2, 0, 0);
    gan_tensor *dy = random_tensor(2, 4, 2, 0, 0, 2);
    TU_OK(gan_layer_forward(l, x, y));
    TU_OK(gan_layer_backward(l, dy, NULL));
    gan_tensor *gb;
    TU_OK(gan_layer_tensor(l, 1, NULL, NULL, &gb));
    for (int j = 0; j < 2; j++) {
        float s = 0;
        for (int i = 0; i < 4; i++) s += gan_tensor_cdata(dy)[i * 2 + j];
        ck_assert_float_eq_tol(gan_tensor_cdata(gb)[j], s, 1e-5f);
    }
    gan_tensor_free(x);
    gan_tensor_free(y);
    gan_tensor_free(dy);
    gan_layer_free(l);
}
END_TEST

/* ------------------------------------------------------------ activations */

static gan_layer *make_activation(int code, float slope)
{
    gan_layer *l = NULL;
    switch (code) {
    case 0: TU_OK(gan_layer_relu(&l)); break;
    case 1: TU_OK(gan_layer_leaky_relu(&l, slope)); break;
    case 2: TU_OK(gan_layer_tanh(&l)); break;
    default: TU_OK(gan_layer_sigmoid(&l)); break;
    }
    return l;
}

START_TEST(activations_match_pytorch)
{
    tu_ref *r = tu_ref_load("layers_act.bin");
    for (int c = 0; c < ncases(r); c++) {
        gan_layer *l = make_activation((int)cfg(r, c, 0), cfg(r, c, 1));
        ck_assert_int_eq(gan_layer_tensor_count(l), 0);
        check_case(l, r, c);
        gan_layer_free(l);
    }
    tu_ref_free(r);
}
END_TEST

START_TEST(activations_gradcheck)
{
    /* codes as in the reference file; the last one is leaky_relu with a
     * negative slope (backward then reads x) */
    static const int codes[] = {0, 1, 2, 3, 1};
    static const float slopes[] = {0, 0.2f, 0, 0, -0.5f};
    for (int t = 0; t < 5; t++) {
        int code = codes[t];
        gan_layer *l = make_activation(code, slopes[t]);
        int64_t in[3] = {2, 3, 4};
        TU_OK(gan_layer_attach(l, 3, in));
        gan_tensor *x = random_tensor(4, 3, 2, 3, 4, 100 + (uint64_t)t);
        /* kink: keep x at least 0.05 from 0, further than the step h */
        gc_check_layer(l, x, 1e-2f, 1e-2f, code <= 1 ? 0.05f : 0.0f, 7);
        gan_tensor_free(x);
        gan_layer_free(l);
    }
}
END_TEST

START_TEST(describe_lines)
{
    gan_layer *l = NULL;
    TU_OK(gan_layer_dense(&l, 100, 256, 1));
    describe_is(l, "dense in=100 out=256 bias=1");
    gan_layer_free(l);
    TU_OK(gan_layer_dense(&l, 3, 1, 0));
    describe_is(l, "dense in=3 out=1 bias=0");
    gan_layer_free(l);
    TU_OK(gan_layer_relu(&l));
    describe_is(l, "relu");
    gan_layer_free(l);
    TU_OK(gan_layer_leaky_relu(&l, 0.2f));
    describe_is(l, "leaky_relu slope=0.200000003");
    gan_layer_free(l);
    TU_OK(gan_layer_tanh(&l));
    describe_is(l, "tanh");
    gan_layer_free(l);
    TU_OK(gan_layer_sigmoid(&l));
    describe_is(l, "sigmoid");
    gan_layer_free(l);
}
END_TEST

START_TEST(leaky_slope_setting)
{
    gan_layer *l = NULL;
    TU_OK(gan_layer_leaky_relu(&l, 0.2f));
    TU_OK(gan_layer_set(l, GAN_LAYER_LEAKY_SLOPE, 0.5));
    int64_t in[1] = {2};
    TU_OK(gan_layer_attach(l, 1, in));
    gan_tensor *x = tu_tensor(2, 1, 2, 0, 0), *y = tu_tensor(2, 1, 2, 0, 0);
    gan_tensor_data(x)[0] = -2.0f;
    gan_tensor_data(x)[1] = 3.0f;
    TU_OK(gan_layer_forward(l, x, y));
    ck_assert_float_eq(gan_tensor_cdata(y)[0], -1.0f);
    ck_assert_float_eq(gan_tensor_cdata(y)[1], 3.0f);
    TU_STATUS(GAN_E_INVALID, gan_layer_set(l, GAN_LAYER_LEAKY_SLOPE, NAN));
    TU_STATUS(GAN_E_INVALID, gan_layer_set(l, GAN_LAYER_LEAKY_SLOPE, INFINITY));
    TU_STATUS(GAN_E_INVALID, gan_layer_set(l, GAN_LAYER_BN_EPS, 1e-3));
    gan_tensor_free(x);
    gan_tensor_free(y);
    gan_layer_free(l);
}
END_TEST

/* ------------------------------------------------------------ batchnorm */

static void bn_ref_file(const char *file)
{
    tu_ref *r = tu_ref_load(file);
    for (int c = 0; c < ncases(r); c++) {
        gan_layer *l = NULL;
        TU_OK(gan_layer_batchnorm(&l, (int)cfg(r, c, 0)));
        ck_assert_str_eq(gan_layer_kind(l), "batchnorm");
        int training = (int)cfg(r, c, 1);
        TU_OK(gan_layer_set_training(l, training));
        TU_OK(gan_layer_set(l, GAN_LAYER_BN_EPS, cfg(r, c, 2)));
        TU_OK(gan_layer_set(l, GAN_LAYER_BN_MOMENTUM, cfg(r, c, 3)));
        check_case(l, r, c);
        ck_assert_int_eq(l->num_batches_tracked, training ? 1 : 0);
        gan_layer_free(l);
    }
    tu_ref_free(r);
}

START_TEST(batchnorm_4d_matches_pytorch)
{
    bn_ref_file("layers_bn4d.bin");
}
END_TEST

START_TEST(batchnorm_2d_matches_pytorch)
{
    bn_ref_file("layers_bn2d.bin");
}
END_TEST

/* Random gamma/beta/running statistics, so no gradient is trivially 1 or 0. */
static void bn_randomise(gan_layer *l, uint64_t seed)
{
    gan_rng *rng = NULL;
    TU_OK(gan_rng_create(&rng, seed));
    gan_tensor *t;
    TU_OK(gan_layer_tensor(l, 0, NULL, &t, NULL));
    TU_OK(gan_rng_fill_normal(rng, t, 1.0f, 0.5f));
    TU_OK(gan_layer_tensor(l, 1, NULL, &t, NULL));
    TU_OK(gan_rng_fill_normal(rng, t, 0.0f, 1.0f));
    TU_OK(gan_layer_tensor(l, 2, NULL, &t, NULL));
    TU_OK(gan_rng_fill_normal(rng, t, 0.0f, 1.0f));
    TU_OK(gan_layer_tensor(l, 3, NULL, &t, NULL));
    TU_OK(gan_rng_fill_uniform(rng, t, 0.5f, 1.5f));
    gan_rng_free(rng);
}

START_TEST(batchnorm_gradcheck)
{
    for (int training = 1; training >= 0; training--) {
        gan_layer *l = NULL;
        TU_OK(gan_layer_batchnorm(&l, 3));
        bn_randomise(l, 40 + (uint64_t)training);
        TU_OK(gan_layer_set_training(l, training));
        int64_t in4[3] = {3, 2, 3};
        TU_OK(gan_layer_attach(l, 3, in4));
        gan_tensor *x = random_tensor(4, 4, 3, 2, 3, 50 + (uint64_t)training);
        gc_check_layer(l, x, 1e-2f, 2e-2f, 0.0f, 9);
        gan_tensor_free(x);

        int64_t in2[1] = {3};
        TU_OK(gan_layer_attach(l, 1, in2));
        x = random_tensor(2, 5, 3, 0, 0, 60 + (uint64_t)training);
        gc_check_layer(l, x, 1e-2f, 2e-2f, 0.0f, 10);
        gan_tensor_free(x);
        gan_layer_free(l);
    }
}
END_TEST

/* The model's frozen path: param_grads = false gives the same dx and
 * leaves gamma's and beta's gradients alone, in both modes. */
START_TEST(batchnorm_frozen_backward)
{
    for (int training = 0; training <= 1; training++) {
        gan_layer *l = NULL;
        TU_OK(gan_layer_batchnorm(&l, 4));
        bn_randomise(l, 3);
        TU_OK(gan_layer_set_training(l, training));
        int64_t in[3] = {4, 3, 3};
        TU_OK(gan_layer_attach(l, 3, in));
        gan_tensor *x = random_tensor(4, 5, 4, 3, 3, 4), *dy = random_tensor(4, 5, 4, 3, 3, 5);
        gan_tensor *y = like(x), *dx1 = like(x), *dx2 = like(x);
        TU_OK(gan_layer_forward(l, x, y));
        TU_OK(gan_layer_zero_grad(l));
        TU_OK(gan_layer_backward(l, dy, dx1));
        l->ops->backward(l, gan_tensor_data(dx2), gan_tensor_cdata(dy), gan_tensor_cdata(x),
                         gan_tensor_cdata(y), 5, false);
        tu_assert_tensor_close("frozen dx", dx2, dx1, 1e-6);
        gan_tensor *g;
        TU_OK(gan_layer_tensor(l, 0, NULL, NULL, &g));
        float keep = gan_tensor_cdata(g)[1];
        TU_OK(gan_layer_zero_grad(l));
        l->ops->backward(l, NULL, gan_tensor_cdata(dy), gan_tensor_cdata(x), gan_tensor_cdata(y),
                         5, false);
        ck_assert_float_eq(gan_tensor_cdata(g)[1], 0.0f);
        ck_assert_float_ne(keep, 0.0f);
        gan_tensor_free(x);
        gan_tensor_free(dy);
        gan_tensor_free(y);
        gan_tensor_free(dx1);
        gan_tensor_free(dx2);
        gan_layer_free(l);
    }
}
END_TEST

/* Training with one value per channel: PyTorch refuses; libgan gives
 * y = beta, dx = 0, updates running_mean and leaves running_var alone. */
START_TEST(batchnorm_single_value_per_channel)
{
    gan_layer *l = NULL;
    TU_OK(gan_layer_batchnorm(&l, 2));
    bn_randomise(l, 8);
    int64_t in[1] = {2};
    TU_OK(gan_layer_attach(l, 1, in));
    gan_tensor *x = random_tensor(2, 1, 2, 0, 0, 9), *y = like(x), *dx = like(x);
    gan_tensor *beta, *rm, *rv;
    TU_OK(gan_layer_tensor(l, 1, NULL, &beta, NULL));
    TU_OK(gan_layer_tensor(l, 2, NULL, &rm, NULL));
    TU_OK(gan_layer_tensor(l, 3, NULL, &rv, NULL));
    float rm0 = gan_tensor_cdata(rm)[0], rv0 = gan_tensor_cdata(rv)[0];
    TU_OK(gan_layer_forward(l, x, y));
    for (int j = 0; j < 2; j++) {
        ck_assert(isfinite(gan_tensor_cdata(y)[j]));
        ck_assert_float_eq_tol(gan_tensor_cdata(y)[j], gan_tensor_cdata(beta)[j], 1e-6f);
    }
    ck_assert_float_eq_tol(gan_tensor_cdata(rm)[0], 0.9f * rm0 + 0.1f * gan_tensor_cdata(x)[0], 1e-6f);
    ck_assert_float_eq(gan_tensor_cdata(rv)[0], rv0);
    TU_OK(gan_layer_backward(l, x, dx));
    ck_assert_float_eq(gan_tensor_cdata(dx)[0], 0.0f);
    ck_assert_float_eq(gan_tensor_cdata(dx)[1], 0.0f);
    gan_tensor_free(x);
    gan_tensor_free(y);
    gan_tensor_free(dx);
    gan_layer_free(l);
}
END_TEST

/* A large batch far from 0 compared with its spread (the one-pass
 * statistics, the float forward with the mean split in two, the double
 * input gradient), with a 100-sigma outlier as the channel's first value
 * (the shift of its sums): running statistics, y and dx against a
 * two-pass computation in long double. */
START_TEST(batchnorm_far_from_zero_large_batch)
{
    const int64_t n = 64, c = 2, h = 14, w = 14, s = h * w, m = n * s;
    const double offset[2] = {1.0e4, -1.0e6}, spread[2] = {0.5, 2.0};
    gan_layer *l = NULL;
    TU_OK(gan_layer_batchnorm(&l, (int)c));
    TU_OK(gan_layer_set(l, GAN_LAYER_BN_MOMENTUM, 1.0)); /* running stats = this batch's */
    int64_t in[3] = {c, h, w};
    TU_OK(gan_layer_attach(l, 3, in));
    gan_tensor *x = random_tensor(4, n, c, h, w, 91), *dy = random_tensor(4, n, c, h, w, 92);
    gan_tensor *y = like(x), *dx = like(x), *y_ref = like(x), *dx_ref = like(x);
    float *xd = gan_tensor_data(x);
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t e = 0; e < s; e++) {
                float *v = &xd[(i * c + ch) * s + e];
                *v = (float)(offset[ch] + spread[ch] * *v);
            }
    xd[0] = (float)(offset[0] + 100.0 * spread[0]);
    TU_OK(gan_layer_forward(l, x, y));
    TU_OK(gan_layer_backward(l, dy, dx));

    const float *g = gan_tensor_cdata(dy);
    gan_tensor *rm, *rv;
    TU_OK(gan_layer_tensor(l, 2, NULL, &rm, NULL));
    TU_OK(gan_layer_tensor(l, 3, NULL, &rv, NULL));
    for (int64_t ch = 0; ch < c; ch++) {
        long double mean = 0, var = 0, mdy = 0, mdyx = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t e = 0; e < s; e++) mean += xd[(i * c + ch) * s + e];
        mean /= m;
        for (int64_t i = 0; i < n; i++)
            for (int64_t e = 0; e < s; e++) {
                long double d = xd[(i * c + ch) * s + e] - mean;
                var += d * d;
            }
        var /= m;
        const long double rstd = 1.0L / sqrtl(var + 1e-5L);
        for (int64_t i = 0; i < n; i++)
            for (int64_t e = 0; e < s; e++) {
                const int64_t k = (i * c + ch) * s + e;
                mdy += g[k];
                mdyx += g[k] * (xd[k] - mean) * rstd;
            }
        mdy /= m;
        mdyx /= m;
        for (int64_t i = 0; i < n; i++)
            for (int64_t e = 0; e < s; e++) {
                const int64_t k = (i * c + ch) * s + e;
                const long double xhat = (xd[k] - mean) * rstd;
                gan_tensor_data(y_ref)[k] = (float)xhat;
                gan_tensor_data(dx_ref)[k] = (float)(rstd * (g[k] - mdy - xhat * mdyx));
            }
        ck_assert_msg(fabsl(gan_tensor_cdata(rm)[ch] - mean) <= 1e-7L * fabsl(mean),
                      "channel %d: running_mean %.9g, want %.9Lg", (int)ch,
                      (double)gan_tensor_cdata(rm)[ch], mean);
        const long double unbiased = var * m / (m - 1);
        ck_assert_msg(fabsl(gan_tensor_cdata(rv)[ch] - unbiased) <= 1e-6L * unbiased,
                      "channel %d: running_var %.9g, want %.9Lg", (int)ch,
                      (double)gan_tensor_cdata(rv)[ch], unbiased);
    }
    tu_assert_tensor_close("y far from 0", y, y_ref, 1e-4);
    tu_assert_tensor_close("dx far from 0", dx, dx_ref, 1e-4);
    gan_tensor *all[6] = {x, dy, y, dx, y_ref, dx_ref};
    for (int i = 0; i < 6; i++) gan_tensor_free(all[i]);
    gan_layer_free(l);
}
END_TEST

START_TEST(batchnorm_settings_and_counter)
{
    gan_layer *l = NULL;
    TU_OK(gan_layer_batchnorm(&l, 64));
    describe_is(l, "batchnorm features=64 eps=1e-05 momentum=0.1");
    ck_assert_int_eq(gan_layer_tensor_count(l), 4);
    static const char *names[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int k = 0; k < 4; k++) {
        const char *name;
        gan_tensor *v, *g;
        TU_OK(gan_layer_tensor(l, k, &name, &v, &g));
        ck_assert_str_eq(name, names[k]);
        ck_assert_int_eq(gan_tensor_numel(v), 64);
        ck_assert(k < 2 ? g != NULL : g == NULL);
        /* PyTorch's defaults: 1, 0, 0, 1 */
        ck_assert_float_eq(gan_tensor_cdata(v)[5], (k == 0 || k == 3) ? 1.0f : 0.0f);
    }
    TU_OK(gan_layer_set(l, GAN_LAYER_BN_EPS, 1e-3));
    TU_OK(gan_layer_set(l, GAN_LAYER_BN_MOMENTUM, 0.25));
    describe_is(l, "batchnorm features=64 eps=0.001 momentum=0.25");
    TU_OK(gan_layer_set(l, GAN_LAYER_BN_MOMENTUM, 0.0));
    TU_OK(gan_layer_set(l, GAN_LAYER_BN_MOMENTUM, 1.0));
    TU_STATUS(GAN_E_INVALID, gan_layer_set(l, GAN_LAYER_BN_EPS, 0.0));
    TU_STATUS(GAN_E_INVALID, gan_layer_set(l, GAN_LAYER_BN_EPS, -1e-5));
    TU_STATUS(GAN_E_INVALID, gan_layer_set(l, GAN_LAYER_BN_EPS, NAN));
    TU_STATUS(GAN_E_INVALID, gan_layer_set(l, GAN_LAYER_BN_EPS, INFINITY));
    TU_STATUS(GAN_E_INVALID, gan_layer_set(l, GAN_LAYER_BN_MOMENTUM, -0.1));
    TU_STATUS(GAN_E_INVALID, gan_layer_set(l, GAN_LAYER_BN_MOMENTUM, 1.5));
    TU_STATUS(GAN_E_INVALID, gan_layer_set(l, GAN_LAYER_BN_MOMENTUM, NAN));
    TU_STATUS(GAN_E_INVALID, gan_layer_set(l, GAN_LAYER_LEAKY_SLOPE, 0.2));
    TU_STATUS(GAN_E_INVALID, gan_layer_set(l, (gan_layer_setting)99, 0.2));
    TU_STATUS(GAN_E_NULL, gan_layer_set(NULL, GAN_LAYER_BN_EPS, 1e-5));
    describe_is(l, "batchnorm features=64 eps=0.001 momentum=1");

    /* the counter: training forwards only */
    int64_t in[3] = {64, 2, 2};
    TU_OK(gan_layer_attach(l, 3, in));
    gan_tensor *x = random_tensor(4, 2, 64, 2, 2, 1), *y = like(x);
    TU_OK(gan_layer_forward(l, x, y));
    TU_OK(gan_layer_forward(l, x, y));
    ck_assert_int_eq(l->num_batches_tracked, 2);
    TU_OK(gan_layer_set_training(l, 0));
    TU_OK(gan_layer_forward(l, x, y));
    ck_assert_int_eq(l->num_batches_tracked, 2);
    gan_tensor_free(x);
    gan_tensor_free(y);
    gan_layer_free(l);
}
END_TEST

START_TEST(batchnorm_wrong_channels)
{
    gan_layer *l = NULL;
    TU_STATUS(GAN_E_NULL, gan_layer_batchnorm(NULL, 3));
    l = (gan_layer *)&l;
    TU_STATUS(GAN_E_INVALID, gan_layer_batchnorm(&l, 0));
    ck_assert_ptr_null(l);
    TU_STATUS(GAN_E_INVALID, gan_layer_batchnorm(&l, -4));
    message_has("-4");
    TU_OK(gan_layer_batchnorm(&l, 16));
    int64_t bad[3] = {3, 8, 8}, bad1[1] = {15};
    TU_STATUS(GAN_E_SHAPE, gan_layer_attach(l, 3, bad));
    message_has("16");
    message_has("(3, 8, 8)");
    TU_STATUS(GAN_E_SHAPE, gan_layer_attach(l, 1, bad1));
    message_has("(15)");
    gan_layer_free(l);
}
END_TEST

START_TEST(init_schemes)
{
    gan_rng *rng = NULL;
    TU_OK(gan_rng_create(&rng, 77));
    /* dense: PyTorch U(-1/sqrt(in), +), DCGAN N(0, 0.02) and b = 0 */
    gan_layer *l = NULL;
    TU_OK(gan_layer_dense(&l, 400, 50, 1));
    gan_tensor *w, *b;
    TU_OK(gan_layer_tensor(l, 0, NULL, &w, NULL));
    TU_OK(gan_layer_tensor(l, 1, NULL, &b, NULL));
    for (int scheme = 0; scheme <= 1; scheme++) {
        if (scheme == 1) TU_OK(gan_layer_init(l, GAN_INIT_DCGAN, rng));
        double sum = 0, sq = 0, lo = 1e9, hi = -1e9;
        const float *wd = gan_tensor_cdata(w);
        for (int64_t i = 0; i < gan_tensor_numel(w); i++) {
            sum += wd[i];
            sq += (double)wd[i] * wd[i];
            if (wd[i] < lo) lo = wd[i];
            if (wd[i] > hi) hi = wd[i];
        }
        double n = (double)gan_tensor_numel(w), mean = sum / n, sd = sqrt(sq / n - mean * mean);
        if (scheme == 0) { /* U(-0.05, 0.05): sd 0.05/sqrt 3 */
            ck_assert(lo >= -0.05 && hi <= 0.05 && lo < -0.049 && hi > 0.049);
            ck_assert_double_eq_tol(sd, 0.05 / sqrt(3.0), 2e-3);
            for (int j = 0; j < 50; j++) ck_assert(fabsf(gan_tensor_cdata(b)[j]) <= 0.05f);
            ck_assert(gan_tensor_cdata(b)[0] != 0.0f);
        } else {
            ck_assert_double_eq_tol(mean, 0.0, 2e-3);
            ck_assert_double_eq_tol(sd, 0.02, 1e-3);
            for (int j = 0; j < 50; j++) ck_assert_float_eq(gan_tensor_cdata(b)[j], 0.0f);
        }
    }
    gan_layer_free(l);

    /* batchnorm: DCGAN gamma ~ N(1, 0.02), beta 0, running stats reset */
    TU_OK(gan_layer_batchnorm(&l, 4000));
    gan_tensor *rm, *rv;
    TU_OK(gan_layer_tensor(l, 0, NULL, &w, NULL));
    TU_OK(gan_layer_tensor(l, 1, NULL, &b, NULL));
    TU_OK(gan_layer_tensor(l, 2, NULL, &rm, NULL));
    TU_OK(gan_layer_tensor(l, 3, NULL, &rv, NULL));
    TU_OK(gan_tensor_fill(b, 3.0f));
    TU_OK(gan_tensor_fill(rm, 3.0f));
    TU_OK(gan_tensor_fill(rv, 3.0f));
    TU_OK(gan_layer_init(l, GAN_INIT_DCGAN, rng));
    double sum = 0, sq = 0;
    for (int j = 0; j < 4000; j++) {
        double g = gan_tensor_cdata(w)[j];
        sum += g;
        sq += g * g;
        ck_assert_float_eq(gan_tensor_cdata(b)[j], 0.0f);
        ck_assert_float_eq(gan_tensor_cdata(rm)[j], 0.0f);
        ck_assert_float_eq(gan_tensor_cdata(rv)[j], 1.0f);
    }
    double mean = sum / 4000, sd = sqrt(sq / 4000 - mean * mean);
    ck_assert_double_eq_tol(mean, 1.0, 2e-3);
    ck_assert_double_eq_tol(sd, 0.02, 2e-3);
    TU_STATUS(GAN_E_INVALID, gan_layer_init(l, (gan_init)7, rng));
    TU_STATUS(GAN_E_NULL, gan_layer_init(l, GAN_INIT_DCGAN, NULL));
    gan_layer_free(l);

    /* parameter-free kinds accept init */
    TU_OK(gan_layer_relu(&l));
    TU_OK(gan_layer_init(l, GAN_INIT_DCGAN, rng));
    gan_layer_free(l);
    gan_rng_free(rng);
}
END_TEST

/* ------------------------------------------------------------ reshape, flatten */

START_TEST(reshape_flatten_match_pytorch)
{
    tu_ref *r = tu_ref_load("layers_reshape.bin");
    for (int c = 0; c < ncases(r); c++) {
        gan_layer *l = NULL;
        if (cfg(r, c, 0) == 0) {
            int64_t shape[3] = {(int64_t)cfg(r, c, 2), (int64_t)cfg(r, c, 3), (int64_t)cfg(r, c, 4)};
            TU_OK(gan_layer_reshape(&l, (int)cfg(r, c, 1), shape));
            ck_assert_str_eq(gan_layer_kind(l), "reshape");
        } else {
            TU_OK(gan_layer_flatten(&l));
            ck_assert_str_eq(gan_layer_kind(l), "flatten");
        }
        check_case(l, r, c);
        /* the output shape is the reference y's per-sample shape */
        int nd;
        int64_t os[GAN_MAX_DIMS];
        TU_OK(gan_layer_output_shape(l, &nd, os));
        gan_tensor *y = ref_case(r, c, "y");
        ck_assert_int_eq(nd, gan_tensor_ndim(y) - 1);
        for (int i = 0; i < nd; i++) ck_assert_int_eq(os[i], gan_tensor_dim(y, i + 1));
        gan_layer_free(l);
    }
    tu_ref_free(r);
}
END_TEST

START_TEST(reshape_flatten_gradcheck)
{
    gan_layer *l = NULL;
    int64_t to[2] = {6, 2}, in[3] = {3, 2, 2};
    TU_OK(gan_layer_reshape(&l, 2, to));
    TU_OK(gan_layer_attach(l, 3, in));
    gan_tensor *x = random_tensor(4, 2, 3, 2, 2, 21);
    gc_check_layer(l, x, 1e-2f, 1e-2f, 0.0f, 22);
    gan_layer_free(l);
    TU_OK(gan_layer_flatten(&l));
    TU_OK(gan_layer_attach(l, 3, in));
    gc_check_layer(l, x, 1e-2f, 1e-2f, 0.0f, 23);
    gan_tensor_free(x);
    gan_layer_free(l);
}
END_TEST

START_TEST(reshape_errors)
{
    gan_layer *l = (gan_layer *)&l;
    int64_t s3[3] = {256, 7, 7}, zero[2] = {4, 0}, neg[1] = {-3}, s4[4] = {1, 2, 3, 4};
    TU_STATUS(GAN_E_NULL, gan_layer_reshape(NULL, 3, s3));
    TU_STATUS(GAN_E_NULL, gan_layer_reshape(&l, 3, NULL));
    ck_assert_ptr_null(l);
    TU_STATUS(GAN_E_INVALID, gan_layer_reshape(&l, 0, s3));
    TU_STATUS(GAN_E_INVALID, gan_layer_reshape(&l, 4, s4));
    TU_STATUS(GAN_E_INVALID, gan_layer_reshape(&l, 2, zero));
    TU_STATUS(GAN_E_INVALID, gan_layer_reshape(&l, 1, neg));
    message_has("-3");
    TU_STATUS(GAN_E_NULL, gan_layer_flatten(NULL));

    TU_OK(gan_layer_reshape(&l, 3, s3));
    describe_is(l, "reshape 256 7 7");
    int64_t bad[1] = {12545}, good[1] = {256 * 7 * 7};
    TU_STATUS(GAN_E_SHAPE, gan_layer_attach(l, 1, bad));
    message_has("(12545)");
    message_has("(256, 7, 7)");
    TU_OK(gan_layer_attach(l, 1, good));
    gan_layer_free(l);
    int64_t s1[1] = {10}, s2[2] = {5, 2};
    TU_OK(gan_layer_reshape(&l, 1, s1));
    describe_is(l, "reshape 10");
    gan_layer_free(l);
    TU_OK(gan_layer_reshape(&l, 2, s2));
    describe_is(l, "reshape 5 2");
    gan_layer_free(l);
    TU_OK(gan_layer_flatten(&l));
    describe_is(l, "flatten");
    int nd;
    int64_t os[GAN_MAX_DIMS];
    TU_STATUS(GAN_E_STATE, gan_layer_output_shape(l, &nd, os));
    int64_t in[3] = {64, 7, 7};
    TU_OK(gan_layer_attach(l, 3, in));
    TU_OK(gan_layer_output_shape(l, &nd, os));
    ck_assert_int_eq(nd, 1);
    ck_assert_int_eq(os[0], 64 * 49);
    gan_layer_free(l);
}
END_TEST

/* ------------------------------------------------------------ errors */

/* An allocator that fails after `budget` successful allocations and counts
 * what is still live. */
static int alloc_budget, alloc_live;

static void *counting_alloc(void *user, size_t size)
{
    (void)user;
    if (alloc_budget-- <= 0) return NULL;
    alloc_live++;
    return malloc(size);
}

static void counting_free(void *user, void *ptr)
{
    (void)user;
    if (ptr != NULL) alloc_live--;
    free(ptr);
}

/* Every constructor: out of memory at each of its allocations gives
 * GAN_E_NOMEM, *out = NULL and nothing leaked. */
START_TEST(constructors_out_of_memory)
{
    gan_allocator a = {counting_alloc, counting_free, NULL};
    TU_OK(gan_set_allocator(&a));
    int64_t shape[3] = {4, 2, 2};
    for (int kind = 0; kind < 8; kind++) {
        for (int budget = 0;; budget++) {
            alloc_budget = budget;
            alloc_live = 0;
            gan_layer *l = (gan_layer *)&l;
            gan_status st;
            switch (kind) {
            case 0: st = gan_layer_dense(&l, 5, 3, 1); break;
            case 1: st = gan_layer_batchnorm(&l, 4); break;
            case 2: st = gan_layer_relu(&l); break;
            case 3: st = gan_layer_leaky_relu(&l, 0.2f); break;
            case 4: st = gan_layer_tanh(&l); break;
            case 5: st = gan_layer_sigmoid(&l); break;
            case 6: st = gan_layer_reshape(&l, 3, shape); break;
            default: st = gan_layer_flatten(&l); break;
            }
            if (st == GAN_OK) {
                ck_assert_ptr_nonnull(l);
                gan_layer_free(l);
                ck_assert_int_eq(alloc_live, 0);
                break;
            }
            ck_assert_msg(st == GAN_E_NOMEM, "kind %d budget %d: %s", kind, budget,
                          gan_status_string(st));
            ck_assert_ptr_null(l);
            ck_assert_msg(alloc_live == 0, "kind %d budget %d: %d blocks leaked", kind, budget,
                          alloc_live);
        }
    }
    TU_OK(gan_set_allocator(NULL));
}
END_TEST

START_TEST(null_handles)
{
    int nd;
    int64_t shape[GAN_MAX_DIMS] = {3};
    TU_STATUS(GAN_E_NULL, gan_layer_attach(NULL, 1, shape));
    TU_STATUS(GAN_E_NULL, gan_layer_output_shape(NULL, &nd, shape));
    TU_STATUS(GAN_E_NULL, gan_layer_backward(NULL, NULL, NULL));
    TU_STATUS(GAN_E_NULL, gan_layer_set_training(NULL, 1));
    TU_STATUS(GAN_E_NULL, gan_layer_zero_grad(NULL));
    TU_STATUS(GAN_E_NULL, gan_layer_tensor(NULL, 0, NULL, NULL, NULL));
    ck_assert_int_eq(gan_layer_tensor_count(NULL), 0);
    ck_assert_str_eq(gan_layer_kind(NULL), "");
    gan_layer_free(NULL);

    gan_layer *l = NULL;
    TU_OK(gan_layer_batchnorm(&l, 3));
    TU_STATUS(GAN_E_NULL, gan_layer_attach(l, 1, NULL));
    TU_STATUS(GAN_E_INVALID, gan_layer_attach(l, 0, shape));
    TU_STATUS(GAN_E_INVALID, gan_layer_attach(l, 4, shape));
    int64_t zero[2] = {3, 0};
    TU_STATUS(GAN_E_INVALID, gan_layer_attach(l, 2, zero));
    TU_OK(gan_layer_attach(l, 1, shape));
    TU_STATUS(GAN_E_NULL, gan_layer_output_shape(l, NULL, shape));
    TU_STATUS(GAN_E_NULL, gan_layer_output_shape(l, &nd, NULL));
    TU_STATUS(GAN_E_INVALID, gan_layer_tensor(l, 4, NULL, NULL, NULL));
    TU_STATUS(GAN_E_INVALID, gan_layer_tensor(l, -1, NULL, NULL, NULL));
    gan_layer_free(l);
}
END_TEST

/* dx of the wrong shape, dy of the wrong shape, and a batch that changes
 * between calls (statistics must follow the new N). */
START_TEST(backward_shapes_and_batch_change)
{
    gan_layer *l = NULL, *fresh = NULL;
    TU_OK(gan_layer_batchnorm(&l, 2));
    TU_OK(gan_layer_batchnorm(&fresh, 2));
    int64_t in[3] = {2, 3, 3};
    TU_OK(gan_layer_attach(l, 3, in));
    TU_OK(gan_layer_attach(fresh, 3, in));
    gan_tensor *x7 = random_tensor(4, 7, 2, 3, 3, 1), *y7 = like(x7), *dx7 = like(x7);
    gan_tensor *x2 = random_tensor(4, 2, 2, 3, 3, 2), *y2 = like(x2), *dx2 = like(x2);
    gan_tensor *y2f = like(x2), *dx2f = like(x2);
    TU_OK(gan_layer_forward(l, x7, y7));
    TU_STATUS(GAN_E_SHAPE, gan_layer_backward(l, y2, dx7)); /* dy is not (7, ...) */
    TU_STATUS(GAN_E_SHAPE, gan_layer_backward(l, y7, dx2)); /* dx is not (7, ...) */
    TU_OK(gan_layer_backward(l, y7, dx7));
    TU_OK(gan_layer_forward(l, x2, y2));
    TU_OK(gan_layer_forward(fresh, x2, y2f));
    tu_assert_tensor_close("y after batch change", y2, y2f, 1e-6);
    TU_OK(gan_layer_backward(l, x2, dx2));
    TU_OK(gan_layer_backward(fresh, x2, dx2f));
    tu_assert_tensor_close("dx after batch change", dx2, dx2f, 1e-6);
    gan_tensor_free(x7);
    gan_tensor_free(y7);
    gan_tensor_free(dx7);
    gan_tensor_free(x2);
    gan_tensor_free(y2);
    gan_tensor_free(dx2);
    gan_tensor_free(y2f);
    gan_tensor_free(dx2f);
    gan_layer_free(l);
    gan_layer_free(fresh);
}
END_TEST

START_TEST(constructor_errors)
{
    gan_layer *l = (gan_layer *)&l;
    TU_STATUS(GAN_E_NULL, gan_layer_dense(NULL, 3, 4, 1));
    TU_STATUS(GAN_E_INVALID, gan_layer_dense(&l, 0, 4, 1));
    ck_assert_ptr_null(l);
    TU_STATUS(GAN_E_INVALID, gan_layer_dense(&l, 3, -1, 1));
    message_has("-1");
    TU_STATUS(GAN_E_NULL, gan_layer_relu(NULL));
    TU_STATUS(GAN_E_NULL, gan_layer_leaky_relu(NULL, 0.2f));
    TU_STATUS(GAN_E_NULL, gan_layer_tanh(NULL));
    TU_STATUS(GAN_E_NULL, gan_layer_sigmoid(NULL));
    l = (gan_layer *)&l;
    TU_STATUS(GAN_E_INVALID, gan_layer_leaky_relu(&l, NAN));
    ck_assert_ptr_null(l);
}
END_TEST

START_TEST(dense_wrong_features)
{
    gan_layer *l = NULL;
    TU_OK(gan_layer_dense(&l, 8, 4, 1));
    int64_t bad[1] = {7}, three[3] = {2, 2, 2};
    TU_STATUS(GAN_E_SHAPE, gan_layer_attach(l, 1, bad));
    message_has("(8)");
    message_has("(7)");
    TU_STATUS(GAN_E_SHAPE, gan_layer_attach(l, 3, three));
    message_has("(2, 2, 2)");
    /* forward before attach */
    gan_tensor *x = tu_tensor(2, 2, 8, 0, 0), *y = tu_tensor(2, 2, 4, 0, 0);
    TU_STATUS(GAN_E_STATE, gan_layer_forward(l, x, y));
    int64_t in[1] = {8};
    TU_OK(gan_layer_attach(l, 1, in));
    /* backward before forward */
    TU_STATUS(GAN_E_STATE, gan_layer_backward(l, y, x));
    TU_STATUS(GAN_E_NULL, gan_layer_forward(NULL, x, y));
    TU_STATUS(GAN_E_NULL, gan_layer_forward(l, NULL, y));
    TU_STATUS(GAN_E_NULL, gan_layer_forward(l, x, NULL));
    TU_STATUS(GAN_E_SHAPE, gan_layer_forward(l, y, y));
    TU_OK(gan_layer_forward(l, x, y));
    TU_STATUS(GAN_E_NULL, gan_layer_backward(l, NULL, x));
    TU_STATUS(GAN_E_SHAPE, gan_layer_backward(l, x, NULL));
    gan_tensor_free(x);
    gan_tensor_free(y);
    gan_layer_free(l);
}
END_TEST

Suite *suite_layers(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("layers");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, dense_matches_pytorch);
    tcase_add_test(tc, dense_gradcheck);
    tcase_add_test(tc, dense_skips_dx);
    tcase_add_test(tc, activations_match_pytorch);
    tcase_add_test(tc, activations_gradcheck);
    tcase_add_test(tc, leaky_slope_setting);
    tcase_add_test(tc, describe_lines);
    tcase_add_test(tc, batchnorm_4d_matches_pytorch);
    tcase_add_test(tc, batchnorm_2d_matches_pytorch);
    tcase_add_test(tc, batchnorm_gradcheck);
    tcase_add_test(tc, batchnorm_frozen_backward);
    tcase_add_test(tc, batchnorm_single_value_per_channel);
    tcase_add_test(tc, batchnorm_far_from_zero_large_batch);
    tcase_add_test(tc, batchnorm_settings_and_counter);
    tcase_add_test(tc, batchnorm_wrong_channels);
    tcase_add_test(tc, init_schemes);
    tcase_add_test(tc, reshape_flatten_match_pytorch);
    tcase_add_test(tc, reshape_flatten_gradcheck);
    tcase_add_test(tc, reshape_errors);
    tcase_add_test(tc, constructor_errors);
    tcase_add_test(tc, dense_wrong_features);
    tcase_add_test(tc, constructors_out_of_memory);
    tcase_add_test(tc, null_handles);
    tcase_add_test(tc, backward_shapes_and_batch_change);
    suite_add_tcase(s, tc);
    return s;
}
