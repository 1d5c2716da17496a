/* test_model.c — the model container (buffers, names, shapes, planning,
 * freeze, train/eval), the losses and the optimizers against PyTorch. */
#include "testutil.h"
#include "nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* in (4) -> dense 3 -> leaky 0.2 -> dense 2 -> tanh */
static gan_model *mlp(void)
{
    gan_model *m = NULL;
    gan_layer *l = NULL;
    int64_t in[1] = {4};
    TU_OK(gan_model_create(&m, 1, in));
    TU_OK(gan_layer_dense(&l, 4, 3, 1));
    TU_OK(gan_model_add(m, l));
    TU_OK(gan_layer_leaky_relu(&l, 0.2f));
    TU_OK(gan_model_add(m, l));
    TU_OK(gan_layer_dense(&l, 3, 2, 1));
    TU_OK(gan_model_add(m, l));
    TU_OK(gan_layer_tanh(&l));
    TU_OK(gan_model_add(m, l));
    return m;
}

static gan_model *dense53(void)
{
    gan_model *m = NULL;
    gan_layer *l = NULL;
    int64_t in[1] = {5};
    TU_OK(gan_model_create(&m, 1, in));
    TU_OK(gan_layer_dense(&l, 5, 3, 1));
    TU_OK(gan_model_add(m, l));
    return m;
}

static void fill_seq(gan_tensor *t, float scale, float shift)
{
    float *d = gan_tensor_data(t);
    for (int64_t i = 0; i < gan_tensor_numel(t); i++)
        d[i] = scale * sinf(0.7f * (float)i + shift);
}

START_TEST(model_names_and_one_buffer)
{
    gan_model *m = mlp();
    ck_assert_int_eq(gan_model_layer_count(m), 4);
    ck_assert_int_eq(gan_model_param_count(m), 4 * 3 + 3 + 3 * 2 + 2);
    ck_assert_int_eq(gan_model_tensor_count(m), 4);
    const char *want[4] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    int64_t n = 0;
    float *params = gan_model_params(m, &n), *grads = gan_model_grads(m, NULL);
    ck_assert_int_eq(n, 23);
    int64_t off = 0;
    for (int i = 0; i < 4; i++) {
        const char *name;
        gan_tensor *v, *g;
        TU_OK(gan_model_tensor(m, i, &name, &v, &g));
        ck_assert_str_eq(name, want[i]);
        ck_assert_ptr_eq(gan_tensor_data(v), params + off);   /* one params buffer */
        ck_assert_ptr_eq(gan_tensor_data(g), grads + off);    /* one grads buffer  */
        off += gan_tensor_numel(v);
    }
    ck_assert_int_eq(off, 23);
    /* the layer's own views agree with the model's */
    gan_tensor *lv;
    TU_OK(gan_layer_tensor(gan_model_layer(m, 2), 1, NULL, &lv, NULL));
    ck_assert_ptr_eq(gan_tensor_data(lv), params + 21);
    ck_assert_ptr_null(gan_model_layer(m, 4));
    ck_assert_ptr_null(gan_model_layer(m, -1));
    TU_STATUS(GAN_E_INVALID, gan_model_tensor(m, 4, NULL, NULL, NULL));
    int nd;
    int64_t shp[GAN_MAX_DIMS];
    TU_OK(gan_model_output_shape(m, &nd, shp));
    ck_assert_int_eq(nd, 1);
    ck_assert_int_eq(shp[0], 2);
    TU_OK(gan_model_input_shape(m, &nd, shp));
    ck_assert_int_eq(shp[0], 4);
    gan_model_free(m);
    gan_model_free(NULL);
}
END_TEST

START_TEST(model_add_keeps_values_and_buffers)
{
    /* values survive the move into the model's buffer, also when the buffer
     * grows and earlier layers are re-pointed */
    gan_layer *a = NULL, *b = NULL, *bn = NULL;
    TU_OK(gan_layer_dense(&a, 3, 5, 1));
    TU_OK(gan_layer_batchnorm(&bn, 5));
    TU_OK(gan_layer_dense(&b, 5, 2, 0));
    float wa[15], wb[10];
    gan_tensor *t;
    TU_OK(gan_layer_tensor(a, 0, NULL, &t, NULL));
    memcpy(wa, gan_tensor_cdata(t), sizeof wa);
    TU_OK(gan_layer_tensor(b, 0, NULL, &t, NULL));
    memcpy(wb, gan_tensor_cdata(t), sizeof wb);
    TU_OK(gan_layer_tensor(bn, 2, NULL, &t, NULL));
    float *rm = gan_tensor_data(t); /* buffers stay in the layer */
    rm[0] = 0.25f;
    gan_model *m = NULL;
    int64_t in[1] = {3};
    TU_OK(gan_model_create(&m, 1, in));
    TU_OK(gan_model_add(m, a));
    TU_OK(gan_model_add(m, bn));
    TU_OK(gan_model_add(m, b));
    ck_assert_int_eq(gan_model_tensor_count(m), 2 + 4 + 1);
    const char *name;
    gan_tensor *v, *g;
    TU_OK(gan_model_tensor(m, 0, &name, &v, NULL));
    ck_assert_mem_eq(gan_tensor_cdata(v), wa, sizeof wa);
    TU_OK(gan_model_tensor(m, 4, &name, &v, &g));
    ck_assert_str_eq(name, "1.running_mean");
    ck_assert_ptr_null(g);
    ck_assert_ptr_eq(gan_tensor_data(v), rm);
    ck_assert_float_eq(gan_tensor_cdata(v)[0], 0.25f);
    TU_OK(gan_model_tensor(m, 6, &name, &v, &g));
    ck_assert_str_eq(name, "2.weight");
    ck_assert_mem_eq(gan_tensor_cdata(v), wb, sizeof wb);
    ck_assert_int_eq(gan_model_param_count(m), 15 + 5 + 5 + 5 + 10);
    /* grads start at zero */
    int64_t n;
    float *gr = gan_model_grads(m, &n);
    for (int64_t i = 0; i < n; i++) ck_assert_float_eq(gr[i], 0.0f);
    gan_layer_free(a); /* owned: does nothing */
    gan_model_free(m);
}
END_TEST

START_TEST(model_add_failure_leaves_layer)
{
    gan_model *m = mlp(), *other = mlp();
    gan_layer *l = NULL;
    TU_OK(gan_layer_dense(&l, 5, 3, 1));
    TU_STATUS(GAN_E_SHAPE, gan_model_add(m, l));
    ck_assert_msg(strstr(gan_last_error(), "layer 4") != NULL, "%s", gan_last_error());
    ck_assert_int_eq(gan_model_layer_count(m), 4);
    ck_assert_int_eq(gan_model_param_count(m), 23);
    /* still the caller's: usable standalone */
    int64_t in[1] = {5};
    TU_OK(gan_layer_attach(l, 1, in));
    gan_tensor *x = tu_tensor(2, 2, 5, 0, 0), *y = tu_tensor(2, 2, 3, 0, 0);
    TU_OK(gan_layer_forward(l, x, y));
    gan_layer_free(l);
    /* a layer of another model */
    TU_STATUS(GAN_E_STATE, gan_model_add(m, gan_model_layer(other, 1)));
    TU_STATUS(GAN_E_NULL, gan_model_add(m, NULL));
    TU_STATUS(GAN_E_NULL, gan_model_add(NULL, l));
    gan_model *bad = (gan_model *)1;
    int64_t zero[1] = {0};
    TU_STATUS(GAN_E_INVALID, gan_model_create(&bad, 1, zero));
    ck_assert_ptr_null(bad);
    int64_t four[4] = {1, 1, 1, 1};
    TU_STATUS(GAN_E_INVALID, gan_model_create(&bad, 4, four));
    gan_tensor_free(x);
    gan_tensor_free(y);
    gan_model_free(m);
    gan_model_free(other);
}
END_TEST

/* The model's forward/backward equals the same layers chained by hand. */
START_TEST(model_matches_layer_chain)
{
    gan_model *m = mlp();
    gan_layer *l0, *l1, *l2, *l3;
    TU_OK(gan_layer_dense(&l0, 4, 3, 1));
    TU_OK(gan_layer_leaky_relu(&l1, 0.2f));
    TU_OK(gan_layer_dense(&l2, 3, 2, 1));
    TU_OK(gan_layer_tanh(&l3));
    gan_layer *ls[4] = {l0, l1, l2, l3};
    int64_t s4[1] = {4}, s3[1] = {3}, s2[1] = {2};
    TU_OK(gan_layer_attach(l0, 1, s4));
    TU_OK(gan_layer_attach(l1, 1, s3));
    TU_OK(gan_layer_attach(l2, 1, s3));
    TU_OK(gan_layer_attach(l3, 1, s2));
    /* same weights */
    int k = 0;
    for (int i = 0; i < 4; i += 2)
        for (int s = 0; s < 2; s++, k++) {
            gan_tensor *mv, *lv;
            TU_OK(gan_model_tensor(m, k, NULL, &mv, NULL));
            TU_OK(gan_layer_tensor(ls[i], s, NULL, &lv, NULL));
            TU_OK(gan_tensor_copy(lv, mv));
        }
    int64_t batches[3] = {5, 9, 3}; /* grow, then shrink inside the plan */
    for (int b = 0; b < 3; b++) {
        int64_t n = batches[b];
        gan_tensor *x = tu_tensor(2, n, 4, 0, 0), *h0 = tu_tensor(2, n, 3, 0, 0),
                   *h1 = tu_tensor(2, n, 3, 0, 0), *h2 = tu_tensor(2, n, 2, 0, 0),
                   *h3 = tu_tensor(2, n, 2, 0, 0), *dy = tu_tensor(2, n, 2, 0, 0),
                   *d2 = tu_tensor(2, n, 2, 0, 0), *d1 = tu_tensor(2, n, 3, 0, 0),
                   *d0 = tu_tensor(2, n, 3, 0, 0), *dx = tu_tensor(2, n, 4, 0, 0);
        fill_seq(x, 1.5f, (float)b);
        fill_seq(dy, 0.7f, 2.0f + (float)b);
        TU_OK(gan_layer_forward(l0, x, h0));
        TU_OK(gan_layer_forward(l1, h0, h1));
        TU_OK(gan_layer_forward(l2, h1, h2));
        TU_OK(gan_layer_forward(l3, h2, h3));
        TU_OK(gan_layer_backward(l3, dy, d2));
        TU_OK(gan_layer_backward(l2, d2, d1));
        TU_OK(gan_layer_backward(l1, d1, d0));
        TU_OK(gan_layer_backward(l0, d0, dx));

        const gan_tensor *y, *mdx;
        TU_OK(gan_model_forward(m, x, &y));
        ck_assert_int_eq(gan_tensor_dim(y, 0), n);
        ck_assert_mem_eq(gan_tensor_cdata(y), gan_tensor_cdata(h3), (size_t)n * 2 * sizeof(float));
        TU_OK(gan_model_backward(m, dy, &mdx));
        ck_assert_int_eq(gan_tensor_ndim(mdx), 2);
        ck_assert_int_eq(gan_tensor_dim(mdx, 1), 4);
        ck_assert_mem_eq(gan_tensor_cdata(mdx), gan_tensor_cdata(dx), (size_t)n * 4 * sizeof(float));
        /* accumulated parameter gradients (summed over all batches so far) */
        k = 0;
        for (int i = 0; i < 4; i += 2)
            for (int s = 0; s < 2; s++, k++) {
                gan_tensor *mg, *lg;
                TU_OK(gan_model_tensor(m, k, NULL, NULL, &mg));
                TU_OK(gan_layer_tensor(ls[i], s, NULL, NULL, &lg));
                tu_assert_tensor_close("grad", mg, lg, 1e-6);
            }
        gan_tensor *all[10] = {x, h0, h1, h2, h3, dy, d2, d1, d0, dx};
        for (int i = 0; i < 10; i++) gan_tensor_free(all[i]);
    }
    /* backward with dx NULL still accumulates */
    TU_OK(gan_model_zero_grad(m));
    gan_tensor *x = tu_tensor(2, 2, 4, 0, 0), *dy = tu_tensor(2, 2, 2, 0, 0);
    fill_seq(x, 1.0f, 0.0f);
    fill_seq(dy, 1.0f, 1.0f);
    const gan_tensor *y;
    TU_OK(gan_model_forward(m, x, &y));
    TU_OK(gan_model_backward(m, dy, NULL));
    int64_t np;
    float *g = gan_model_grads(m, &np);
    double s = 0;
    for (int64_t i = 0; i < np; i++) s += fabs(g[i]);
    ck_assert(s > 0);
    TU_OK(gan_model_zero_grad(m));
    for (int64_t i = 0; i < np; i++) ck_assert_float_eq(g[i], 0.0f);
    gan_tensor_free(x);
    gan_tensor_free(dy);
    for (int i = 0; i < 4; i++) gan_layer_free(ls[i]);
    gan_model_free(m);
}
END_TEST

/* Layer i of the fusion test's stack, in (3, 5, 5): conv -> batchnorm ->
 * relu -> conv -> batchnorm -> leaky 0.2 -> batchnorm -> leaky -0.5.  The
 * model runs the first two batchnorm/rectifier pairs as one pass each; the
 * last rectifier has a negative slope, so it cannot run in place and stays
 * a layer of its own. */
#define FUSE_LAYERS 8
static gan_layer *fuse_layer(int i)
{
    gan_layer *l = NULL;
    switch (i) {
    case 0: TU_OK(gan_layer_conv2d(&l, 3, 4, 3, 3, 1, 1, 1)); break;
    case 1: case 4: case 6: TU_OK(gan_layer_batchnorm(&l, 4)); break;
    case 2: TU_OK(gan_layer_relu(&l)); break;
    case 3: TU_OK(gan_layer_conv2d(&l, 4, 4, 3, 3, 2, 1, 0)); break;
    case 5: TU_OK(gan_layer_leaky_relu(&l, 0.2f)); break;
    default: TU_OK(gan_layer_leaky_relu(&l, -0.5f)); break;
    }
    return l;
}

/* A model that fuses batchnorm with the rectifier after it gives bit for
 * bit what the same layers give one by one: outputs, dL/dx, parameter
 * gradients and running statistics, training and eval, frozen or not. */
START_TEST(model_fuses_batchnorm_rectifier)
{
    for (int mode = 0; mode < 3; mode++) { /* training; training + frozen; eval */
        gan_model *m = NULL;
        gan_layer *ls[FUSE_LAYERS];
        int64_t in[3] = {3, 5, 5};
        TU_OK(gan_model_create(&m, 3, in));
        for (int i = 0; i < FUSE_LAYERS; i++) TU_OK(gan_model_add(m, fuse_layer(i)));
        gan_rng *rng = NULL;
        TU_OK(gan_rng_create(&rng, 77 + (uint64_t)mode));
        for (int k = 0; k < gan_model_tensor_count(m); k++) { /* no gamma 1 or beta 0 */
            gan_tensor *v;
            const char *name;
            TU_OK(gan_model_tensor(m, k, &name, &v, NULL));
            if (strstr(name, "running_var")) TU_OK(gan_rng_fill_uniform(rng, v, 0.5f, 1.5f));
            else TU_OK(gan_rng_fill_normal(rng, v, 0.1f, 0.5f));
        }
        /* the same layers, stand-alone, with the same values */
        int k = 0;
        int ndim;
        int64_t shape[GAN_MAX_DIMS];
        TU_OK(gan_model_input_shape(m, &ndim, shape));
        for (int i = 0; i < FUSE_LAYERS; i++) {
            ls[i] = fuse_layer(i);
            TU_OK(gan_layer_attach(ls[i], ndim, shape));
            TU_OK(gan_layer_output_shape(ls[i], &ndim, shape));
            for (int t = 0; t < gan_layer_tensor_count(ls[i]); t++, k++) {
                gan_tensor *mv, *lv;
                TU_OK(gan_model_tensor(m, k, NULL, &mv, NULL));
                TU_OK(gan_layer_tensor(ls[i], t, NULL, &lv, NULL));
                TU_OK(gan_tensor_copy(lv, mv));
            }
            TU_OK(gan_layer_set_training(ls[i], mode < 2));
        }
        TU_OK(gan_model_set_training(m, mode < 2));
        TU_OK(gan_model_set_frozen(m, mode == 1));

        const int64_t n = 6;
        gan_tensor *h[FUSE_LAYERS + 1], *d[FUSE_LAYERS + 1]; /* h[i]: input of layer i */
        for (int i = 0; i <= FUSE_LAYERS; i++) {
            gan_layer *shape_of = ls[i < FUSE_LAYERS ? i : FUSE_LAYERS - 1];
            gan_shape s = gan_batch_shape(n, i < FUSE_LAYERS ? &shape_of->in : &shape_of->out);
            TU_OK(gan_tensor_create(&h[i], s.ndim, s.d));
            TU_OK(gan_tensor_create(&d[i], s.ndim, s.d));
        }
        TU_OK(gan_rng_fill_normal(rng, h[0], 0.0f, 1.0f));
        TU_OK(gan_rng_fill_normal(rng, d[FUSE_LAYERS], 0.0f, 1.0f));
        for (int i = 0; i < FUSE_LAYERS; i++) TU_OK(gan_layer_forward(ls[i], h[i], h[i + 1]));
        for (int i = FUSE_LAYERS - 1; i >= 0; i--) TU_OK(gan_layer_backward(ls[i], d[i + 1], d[i]));

        const gan_tensor *y, *dx;
        TU_OK(gan_model_forward(m, h[0], &y));
        TU_OK(gan_model_backward(m, d[FUSE_LAYERS], &dx));
        const gan_tensor *ly = h[FUSE_LAYERS];
        ck_assert_mem_eq(gan_tensor_cdata(y), gan_tensor_cdata(ly),
                         (size_t)gan_tensor_numel(ly) * sizeof(float));
        ck_assert_mem_eq(gan_tensor_cdata(dx), gan_tensor_cdata(d[0]),
                         (size_t)gan_tensor_numel(d[0]) * sizeof(float));
        k = 0;
        for (int i = 0; i < FUSE_LAYERS; i++)
            for (int t = 0; t < gan_layer_tensor_count(ls[i]); t++, k++) {
                gan_tensor *mv, *mg, *lv, *lg;
                TU_OK(gan_model_tensor(m, k, NULL, &mv, &mg));
                TU_OK(gan_layer_tensor(ls[i], t, NULL, &lv, &lg));
                ck_assert_mem_eq(gan_tensor_cdata(mv), gan_tensor_cdata(lv),
                                 (size_t)gan_tensor_numel(lv) * sizeof(float));
                if (mg == NULL) continue; /* a buffer */
                if (mode == 1) { /* frozen: the model's gradients stay 0 */
                    for (int64_t e = 0; e < gan_tensor_numel(mg); e++)
                        ck_assert_float_eq(gan_tensor_cdata(mg)[e], 0.0f);
                    continue;
                }
                ck_assert_mem_eq(gan_tensor_cdata(mg), gan_tensor_cdata(lg),
                                 (size_t)gan_tensor_numel(lg) * sizeof(float));
            }
        for (int i = 0; i <= FUSE_LAYERS; i++) {
            gan_tensor_free(h[i]);
            gan_tensor_free(d[i]);
        }
        for (int i = 0; i < FUSE_LAYERS; i++) gan_layer_free(ls[i]);
        gan_rng_free(rng);
        gan_model_free(m);
    }
}
END_TEST

START_TEST(model_misuse)
{
    gan_model *m = mlp();
    gan_tensor *x = tu_tensor(2, 3, 4, 0, 0), *bad = tu_tensor(2, 3, 5, 0, 0),
               *dy = tu_tensor(2, 3, 2, 0, 0), *dybad = tu_tensor(2, 4, 2, 0, 0);
    const gan_tensor *y, *dx;
    TU_STATUS(GAN_E_STATE, gan_model_backward(m, dy, &dx));
    ck_assert_msg(strstr(gan_last_error(), "before forward"), "%s", gan_last_error());
    TU_STATUS(GAN_E_SHAPE, gan_model_forward(m, bad, &y));
    ck_assert_msg(strstr(gan_last_error(), "(3, 4)") && strstr(gan_last_error(), "(3, 5)"), "%s",
                  gan_last_error());
    TU_OK(gan_model_forward(m, x, &y));
    TU_STATUS(GAN_E_SHAPE, gan_model_backward(m, dybad, &dx));
    ck_assert_msg(strstr(gan_last_error(), "(4, 2)") && strstr(gan_last_error(), "(3, 2)"), "%s",
                  gan_last_error());
    gan_model *sq = dense53();
    gan_layer *sql;
    TU_OK(gan_layer_dense(&sql, 3, 5, 0));
    TU_OK(gan_model_add(sq, sql)); /* (5) -> (5) */
    gan_tensor *x5 = tu_tensor(2, 2, 5, 0, 0);
    const gan_tensor *y5;
    TU_OK(gan_model_forward(sq, x5, &y5));
    TU_STATUS(GAN_E_INVALID, gan_model_forward(sq, y5, &y5)); /* its own output */
    gan_tensor_free(x5);
    gan_model_free(sq);
    TU_STATUS(GAN_E_NULL, gan_model_forward(m, NULL, &y));
    TU_STATUS(GAN_E_NULL, gan_model_forward(m, x, NULL));
    TU_STATUS(GAN_E_NULL, gan_model_backward(NULL, dy, &dx));
    TU_STATUS(GAN_E_NULL, gan_model_set_frozen(NULL, 1));
    ck_assert_int_eq(gan_model_layer_count(NULL), 0);
    ck_assert_int_eq(gan_model_param_count(NULL), 0);
    /* adding a layer invalidates the last forward */
    TU_OK(gan_model_forward(m, x, &y));
    gan_layer *l;
    TU_OK(gan_layer_relu(&l));
    TU_OK(gan_model_add(m, l));
    TU_STATUS(GAN_E_STATE, gan_model_backward(m, dy, &dx));
    /* empty model */
    gan_model *e = NULL;
    int64_t in[1] = {4};
    TU_OK(gan_model_create(&e, 1, in));
    TU_STATUS(GAN_E_STATE, gan_model_forward(e, x, &y));
    gan_model_free(e);
    gan_tensor_free(x);
    gan_tensor_free(bad);
    gan_tensor_free(dy);
    gan_tensor_free(dybad);
    gan_model_free(m);
}
END_TEST

START_TEST(model_freeze_keeps_grads_and_params)
{
    gan_model *m = mlp();
    gan_optimizer *o = NULL;
    gan_optim_config cfg;
    gan_optim_config_default(&cfg);
    TU_OK(gan_optimizer_create(&o, m, &cfg));
    gan_tensor *x = tu_tensor(2, 6, 4, 0, 0), *dy = tu_tensor(2, 6, 2, 0, 0);
    fill_seq(x, 1.0f, 0.3f);
    fill_seq(dy, 1.0f, 0.9f);
    const gan_tensor *y, *dx;
    /* one normal step so grads, moments and the step count are non-trivial */
    TU_OK(gan_model_forward(m, x, &y));
    TU_OK(gan_model_backward(m, dy, &dx));
    float dx_unfrozen[24];
    memcpy(dx_unfrozen, gan_tensor_cdata(dx), sizeof dx_unfrozen);
    TU_OK(gan_optimizer_step(o));
    ck_assert_int_eq(gan_optimizer_step_count(o), 1);

    int64_t n;
    float *p = gan_model_params(m, &n), *g = gan_model_grads(m, NULL), *mm, *vv;
    TU_OK(gan_optimizer_state(o, &mm, &vv, NULL, NULL));
    float *before = malloc(4 * (size_t)n * sizeof(float));
    memcpy(before, p, (size_t)n * sizeof(float));
    memcpy(before + n, g, (size_t)n * sizeof(float));
    memcpy(before + 2 * n, mm, (size_t)n * sizeof(float));
    memcpy(before + 3 * n, vv, (size_t)n * sizeof(float));

    TU_OK(gan_model_set_frozen(m, 1));
    ck_assert_int_eq(gan_model_is_frozen(m), 1);
    TU_OK(gan_model_forward(m, x, &y));
    TU_OK(gan_model_backward(m, dy, &dx)); /* dx still computed */
    float sum = 0;
    for (int i = 0; i < 24; i++) sum += fabsf(gan_tensor_cdata(dx)[i]);
    ck_assert(sum > 0);
    TU_OK(gan_optimizer_step(o));
    ck_assert_int_eq(gan_optimizer_step_count(o), 1);
    ck_assert_mem_eq(p, before, (size_t)n * sizeof(float));
    ck_assert_mem_eq(g, before + n, (size_t)n * sizeof(float));
    ck_assert_mem_eq(mm, before + 2 * n, (size_t)n * sizeof(float));
    ck_assert_mem_eq(vv, before + 3 * n, (size_t)n * sizeof(float));

    /* unfreezing restores training */
    TU_OK(gan_model_set_frozen(m, 0));
    TU_OK(gan_model_zero_grad(m));
    TU_OK(gan_model_forward(m, x, &y));
    TU_OK(gan_model_backward(m, dy, &dx));
    TU_OK(gan_optimizer_step(o));
    ck_assert_int_eq(gan_optimizer_step_count(o), 2);
    ck_assert(memcmp(p, before, (size_t)n * sizeof(float)) != 0);
    free(before);
    gan_tensor_free(x);
    gan_tensor_free(dy);
    gan_optimizer_free(o);
    gan_model_free(m);
}
END_TEST

START_TEST(model_modes_and_batchnorm)
{
    gan_model *m = NULL;
    gan_layer *l;
    int64_t in[1] = {3};
    TU_OK(gan_model_create(&m, 1, in));
    TU_OK(gan_model_set_training(m, 0));
    TU_OK(gan_layer_batchnorm(&l, 3));
    TU_OK(gan_model_add(m, l)); /* takes the model's mode */
    ck_assert_int_eq(gan_model_is_training(m), 0);
    gan_tensor *x = tu_tensor(2, 4, 3, 0, 0);
    fill_seq(x, 2.0f, 0.1f);
    gan_tensor *rm;
    TU_OK(gan_model_tensor(m, 2, NULL, &rm, NULL));
    const gan_tensor *y;
    TU_OK(gan_model_forward(m, x, &y));
    ck_assert_float_eq(gan_tensor_cdata(rm)[0], 0.0f); /* eval: stats unchanged */
    ck_assert_int_eq(gan_model_layer(m, 0)->num_batches_tracked, 0);
    /* frozen but training: batch statistics and running-stat updates */
    TU_OK(gan_model_set_training(m, 1));
    TU_OK(gan_model_set_frozen(m, 1));
    TU_OK(gan_model_forward(m, x, &y));
    ck_assert(gan_tensor_cdata(rm)[0] != 0.0f);
    ck_assert_int_eq(gan_model_layer(m, 0)->num_batches_tracked, 1);
    ck_assert_int_eq(gan_model_is_frozen(m), 1);
    ck_assert_int_eq(gan_model_is_training(m), 1);
    gan_tensor_free(x);
    gan_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------ losses */
START_TEST(loss_matches_pytorch)
{
    tu_ref *r = tu_ref_load("trainer_loss.bin");
    int ncases = (int)tu_ref_scalar(r, "ncases");
    ck_assert_int_eq(ncases, 20);
    for (int c = 0; c < ncases; c++) {
        char key[64], what[96];
        snprintf(key, sizeof key, "c%d.cfg", c);
        const float *cfg = gan_tensor_cdata(tu_ref_get(r, key));
        gan_loss family = (gan_loss)(int)cfg[0];
        int role = (int)cfg[1];
        snprintf(key, sizeof key, "c%d.x", c);
        gan_tensor *x = tu_ref_get(r, key);
        gan_tensor *grad = tu_tensor(1, gan_tensor_numel(x), 0, 0, 0);
        float loss;
        if (role == 2) TU_OK(gan_loss_generator(family, x, &loss, grad));
        else TU_OK(gan_loss_discriminator(family, x, role == 0, cfg[2], &loss, grad));
        snprintf(key, sizeof key, "c%d.loss", c);
        float want = tu_ref_scalar(r, key);
        snprintf(what, sizeof what, "loss family %d role %d label %g", (int)family, role,
                 (double)cfg[2]);
        tu_assert_close(what, &loss, &want, 1, 1e-6);
        snprintf(key, sizeof key, "c%d.grad", c);
        tu_assert_tensor_close(what, grad, tu_ref_get(r, key), 1e-6);
        if (family == GAN_LOSS_NONSAT && role == 0) {
            float l2;
            TU_OK(gan_loss_bce_logits(x, cfg[2], &l2, NULL));
            ck_assert_float_eq(l2, loss);
        }
        gan_tensor_free(grad);
    }
    tu_ref_free(r);
}
END_TEST

START_TEST(loss_stable_and_misuse)
{
    float big[4] = {1e4f, -1e4f, 88.0f, -88.0f};
    int64_t s[1] = {4};
    gan_tensor *x = NULL, *g = tu_tensor(1, 4, 0, 0, 0), *g3 = tu_tensor(1, 3, 0, 0, 0);
    TU_OK(gan_tensor_wrap(&x, big, 1, s));
    float loss;
    TU_OK(gan_loss_bce_logits(x, 1.0f, &loss, g));
    ck_assert(isfinite(loss));
    ck_assert_float_eq_tol(loss, (1e4f + 88.0f) / 4.0f, 1e-2f); /* softplus(-x) */
    TU_OK(gan_loss_generator(GAN_LOSS_MINIMAX, x, &loss, g));
    ck_assert(isfinite(loss));
    for (int i = 0; i < 4; i++) ck_assert(isfinite(gan_tensor_cdata(g)[i]));
    TU_STATUS(GAN_E_SHAPE, gan_loss_generator(GAN_LOSS_NONSAT, x, &loss, g3));
    TU_STATUS(GAN_E_INVALID, gan_loss_generator((gan_loss)7, x, &loss, g));
    TU_STATUS(GAN_E_INVALID, gan_loss_discriminator(GAN_LOSS_NONSAT, x, 1, 0.0f, &loss, g));
    TU_STATUS(GAN_E_INVALID, gan_loss_discriminator(GAN_LOSS_NONSAT, x, 1, 1.5f, &loss, g));
    TU_STATUS(GAN_E_NULL, gan_loss_discriminator(GAN_LOSS_NONSAT, NULL, 1, 1.0f, &loss, g));
    TU_STATUS(GAN_E_NULL, gan_loss_generator(GAN_LOSS_NONSAT, x, NULL, g));
    /* NaN in, NaN out, GAN_OK */
    big[0] = NAN;
    TU_OK(gan_loss_bce_logits(x, 1.0f, &loss, g));
    ck_assert(isnan(loss));
    gan_tensor_free(x);
    gan_tensor_free(g);
    gan_tensor_free(g3);
}
END_TEST

/* -------------------------------------------------------------- optimizers */
START_TEST(optim_matches_pytorch)
{
    tu_ref *r = tu_ref_load("trainer_optim.bin");
    int ncases = (int)tu_ref_scalar(r, "ncases");
    ck_assert_int_eq(ncases, 4);
    for (int c = 0; c < ncases; c++) {
        char key[64], what[96];
        snprintf(key, sizeof key, "c%d.cfg", c);
        const float *f = gan_tensor_cdata(tu_ref_get(r, key));
        gan_optim_config cfg;
        gan_optim_config_default(&cfg);
        cfg.kind = (gan_optim_kind)(int)f[0];
        cfg.lr = f[1];
        cfg.beta1 = f[2];
        cfg.beta2 = f[3];
        cfg.eps = f[4];
        cfg.momentum = f[5];
        cfg.weight_decay = f[6];
        int steps = (int)f[7];
        gan_model *m = dense53();
        gan_optimizer *o = NULL;
        TU_OK(gan_optimizer_create(&o, m, &cfg));
        int64_t n;
        float *p = gan_model_params(m, &n), *g = gan_model_grads(m, NULL);
        ck_assert_int_eq(n, 18);
        snprintf(key, sizeof key, "c%d.init", c);
        memcpy(p, gan_tensor_cdata(tu_ref_get(r, key)), 18 * sizeof(float));
        for (int k = 0; k < steps; k++) {
            snprintf(key, sizeof key, "c%d.g%d", c, k);
            memcpy(g, gan_tensor_cdata(tu_ref_get(r, key)), 18 * sizeof(float));
            TU_OK(gan_optimizer_step(o));
            snprintf(key, sizeof key, "c%d.p%d", c, k);
            snprintf(what, sizeof what, "optimizer case %d (kind %d) after step %d", c,
                     (int)cfg.kind, k + 1);
            tu_assert_close(what, p, gan_tensor_cdata(tu_ref_get(r, key)), 18, 1e-5);
        }
        ck_assert_int_eq(gan_optimizer_step_count(o), steps);
        ck_assert_float_eq(gan_optimizer_config(o)->lr, cfg.lr);
        gan_optimizer_free(o);
        gan_model_free(m);
    }
    tu_ref_free(r);
}
END_TEST

START_TEST(optim_numeric_fault_changes_nothing)
{
    gan_optim_kind kinds[2] = {GAN_OPTIM_ADAM, GAN_OPTIM_SGD};
    for (int k = 0; k < 2; k++) {
        gan_model *m = dense53();
        gan_optimizer *o = NULL;
        gan_optim_config cfg;
        gan_optim_config_default(&cfg);
        cfg.kind = kinds[k];
        cfg.momentum = 0.9f;
        TU_OK(gan_optimizer_create(&o, m, &cfg));
        int64_t n;
        float *p = gan_model_params(m, &n), *g = gan_model_grads(m, NULL), *mm, *vv;
        for (int i = 0; i < n; i++) g[i] = 0.1f * (float)(i - 9);
        TU_OK(gan_optimizer_step(o));
        TU_OK(gan_optimizer_state(o, &mm, &vv, NULL, NULL));
        ck_assert_ptr_nonnull(mm);
        if (kinds[k] == GAN_OPTIM_SGD) ck_assert_ptr_null(vv);
        float pb[18], mb[18], vb[18];
        memcpy(pb, p, sizeof pb);
        memcpy(mb, mm, sizeof mb);
        if (vv) memcpy(vb, vv, sizeof vb);
        g[17] = NAN;
        TU_STATUS(GAN_E_NUMERIC, gan_optimizer_step(o));
        g[17] = INFINITY;
        TU_STATUS(GAN_E_NUMERIC, gan_optimizer_step(o));
        /* finite gradient, overflowing update */
        g[17] = 3e38f;
        TU_OK(gan_optimizer_set_lr(o, 3e38f));
        TU_STATUS(GAN_E_NUMERIC, gan_optimizer_step(o));
        ck_assert_mem_eq(p, pb, sizeof pb);
        ck_assert_mem_eq(mm, mb, sizeof mb);
        if (vv) ck_assert_mem_eq(vv, vb, sizeof vb);
        ck_assert_int_eq(gan_optimizer_step_count(o), 1);
        gan_optimizer_free(o);
        gan_model_free(m);
    }
}
END_TEST

START_TEST(optim_misuse)
{
    gan_model *m = dense53();
    gan_optimizer *o = (gan_optimizer *)1;
    gan_optim_config cfg;
    gan_optim_config_default(&cfg);
    ck_assert_float_eq(cfg.lr, 2e-4f);
    ck_assert_float_eq(cfg.beta1, 0.5f);
    ck_assert_float_eq(cfg.beta2, 0.999f);
    cfg.lr = -1;
    TU_STATUS(GAN_E_INVALID, gan_optimizer_create(&o, m, &cfg));
    ck_assert_ptr_null(o);
    cfg.lr = 1e-3f;
    cfg.beta2 = 1.0f;
    TU_STATUS(GAN_E_INVALID, gan_optimizer_create(&o, m, &cfg));
    cfg.beta2 = 0.999f;
    cfg.kind = (gan_optim_kind)5;
    TU_STATUS(GAN_E_INVALID, gan_optimizer_create(&o, m, &cfg));
    cfg.kind = GAN_OPTIM_SGD;
    cfg.momentum = -0.5f;
    TU_STATUS(GAN_E_INVALID, gan_optimizer_create(&o, m, &cfg));
    cfg.momentum = 0.0f;
    TU_STATUS(GAN_E_NULL, gan_optimizer_create(&o, NULL, &cfg));
    TU_OK(gan_optimizer_create(&o, m, &cfg));
    float *mm = (float *)1;
    TU_OK(gan_optimizer_state(o, &mm, NULL, NULL, NULL));
    ck_assert_ptr_null(mm); /* plain SGD keeps no state */
    TU_STATUS(GAN_E_INVALID, gan_optimizer_set_lr(o, NAN));
    gan_layer *l;
    TU_OK(gan_layer_dense(&l, 3, 2, 1));
    TU_OK(gan_model_add(m, l));
    TU_STATUS(GAN_E_STATE, gan_optimizer_step(o));
    TU_STATUS(GAN_E_NULL, gan_optimizer_step(NULL));
    ck_assert_int_eq(gan_optimizer_step_count(NULL), 0);
    gan_optimizer_free(o);
    gan_optimizer_free(NULL);
    gan_model_free(m);
}
END_TEST

Suite *suite_model(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_add_test(tc, model_names_and_one_buffer);
    tcase_add_test(tc, model_add_keeps_values_and_buffers);
    tcase_add_test(tc, model_add_failure_leaves_layer);
    tcase_add_test(tc, model_fuses_batchnorm_rectifier);
    tcase_add_test(tc, model_matches_layer_chain);
    tcase_add_test(tc, model_misuse);
    tcase_add_test(tc, model_freeze_keeps_grads_and_params);
    tcase_add_test(tc, model_modes_and_batchnorm);
    suite_add_tcase(s, tc);
    TCase *tl = tcase_create("loss");
    tcase_add_test(tl, loss_matches_pytorch);
    tcase_add_test(tl, loss_stable_and_misuse);
    suite_add_tcase(s, tl);
    TCase *to = tcase_create("optim");
    tcase_add_test(to, optim_matches_pytorch);
    tcase_add_test(to, optim_numeric_fault_changes_nothing);
    tcase_add_test(to, optim_misuse);
    suite_add_tcase(s, to);
    return s;
}
