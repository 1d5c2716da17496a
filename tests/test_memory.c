/* test_memory.c — buffer planning with in-place activations, and the
 * memory breakdown of gan_model_memory / gan_trainer_memory: exact byte
 * counts for a small model, results identical to separate buffers, and the
 * error statuses. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xffff) / 32768.0f - 1.0f;
}

/* (2, 9, 9) -> conv 6 k3 s2 p1 (6, 5, 5) -> BN -> ReLU -> convT 3 k4 s2 p1
 * (3, 10, 10) -> tanh; ReLU and tanh run in place over BN's and convT's
 * outputs. */
static gan_layer *layer_n(int i)
{
    gan_layer *l = NULL;
    switch (i) {
    case 0: TU_OK(gan_layer_conv2d(&l, 2, 6, 3, 3, 2, 1, 1)); break;
    case 1: TU_OK(gan_layer_batchnorm(&l, 6)); break;
    case 2: TU_OK(gan_layer_relu(&l)); break;
    case 3: TU_OK(gan_layer_conv_transpose2d(&l, 6, 3, 4, 4, 2, 1, 0, 0)); break;
    default: TU_OK(gan_layer_tanh(&l)); break;
    }
    return l;
}

static gan_model *small_model(void)
{
    int64_t in[3] = {2, 9, 9};
    gan_model *m = NULL;
    TU_OK(gan_model_create(&m, 3, in));
    for (int i = 0; i < 5; i++) TU_OK(gan_model_add(m, layer_n(i)));
    return m;
}

START_TEST(model_memory_counts_exactly)
{
    gan_model *m = small_model();
    gan_memory_info info;
    memset(&info, 0xff, sizeof info);
    info.struct_size = sizeof info;
    TU_OK(gan_model_memory(m, &info));
    const size_t params = (size_t)(6 * 2 * 9 + 6 + 6 + 6 + 6 * 3 * 16) * 4; /* conv w+b, BN, convT w */
    ck_assert_uint_eq(info.struct_size, sizeof info);
    ck_assert_uint_eq(info.parameters, params);
    ck_assert_uint_eq(info.gradients, 0); /* allocated when first needed */
    ck_assert_uint_eq(info.buffers, 12 * 4);
    ck_assert_uint_eq(info.optimizer, 0);
    ck_assert_uint_eq(info.activations, 0); /* nothing planned yet */
    ck_assert_uint_eq(info.other, 0);

    const int64_t n = 5;
    gan_tensor *x = tu_tensor(4, n, 2, 9, 9);
    const gan_tensor *y;
    TU_OK(gan_model_forward(m, x, &y));
    TU_OK(gan_model_memory(m, &info));
    /* conv out, BN out (ReLU in place), convT out (tanh in place), two
     * gradient buffers of the largest inner output, dL/dinput */
    const size_t acts = (size_t)n * (150 + 150 + 300 + 2 * 300 + 162) * 4;
    ck_assert_uint_eq(info.activations, acts);
    ck_assert_uint_gt(info.scratch, 0);
    ck_assert_uint_eq(info.gradients, 0); /* forward alone needs none */
    ck_assert_uint_eq(info.total, info.parameters + info.gradients + info.buffers + info.optimizer +
                                      info.activations + info.scratch + info.other);
    gan_tensor *dy = tu_tensor(4, n, 3, 10, 10);
    TU_OK(gan_model_backward(m, dy, NULL));
    TU_OK(gan_model_memory(m, &info));
    ck_assert_uint_eq(info.gradients, params);
    gan_tensor_free(dy);
    gan_tensor_free(x);
    gan_model_free(m);
}
END_TEST

/* The model's planned, partly shared buffers give exactly what the layers
 * give one by one with buffers of their own. */
/* A model that only runs forward (a generator drawing samples) holds no
 * gradient buffer; everything that reads or writes gradients before the
 * first backward sees zeros, and asking for a gradient tensor allocates
 * them. */
START_TEST(gradients_allocated_when_first_needed)
{
    gan_model *m = small_model();
    TU_OK(gan_model_set_training(m, 0));
    gan_tensor *x = tu_tensor(4, 3, 2, 9, 9);
    const gan_tensor *y;
    TU_OK(gan_model_forward(m, x, &y));
    gan_memory_info info = {.struct_size = sizeof info};
    TU_OK(gan_model_memory(m, &info));
    ck_assert_uint_eq(info.gradients, 0);

    /* zeroing gradients that do not exist yet: nothing to do, no buffer */
    TU_OK(gan_model_zero_grad(m));
    gan_layer *conv = gan_model_layer(m, 0);
    ck_assert_ptr_nonnull(conv);
    TU_OK(gan_layer_zero_grad(conv));
    TU_OK(gan_model_memory(m, &info));
    ck_assert_uint_eq(info.gradients, 0);

    /* an optimizer step before any backward: zero gradients, Adam leaves
     * every parameter as it was */
    const int64_t np = gan_model_param_count(m);
    gan_tensor *w = NULL;
    TU_OK(gan_model_tensor(m, 0, NULL, &w, NULL));
    float before = gan_tensor_data(w)[0];
    gan_optim_config cfg;
    gan_optim_config_default(&cfg);
    gan_optimizer *opt = NULL;
    TU_OK(gan_optimizer_create(&opt, m, &cfg));
    TU_OK(gan_optimizer_step(opt));
    ck_assert_float_eq(gan_tensor_data(w)[0], before);
    TU_OK(gan_model_memory(m, &info));
    ck_assert_uint_eq(info.gradients, (size_t)np * sizeof(float));

    /* every gradient tensor is a view of zeros, the layer's too */
    for (int i = 0; i < gan_model_tensor_count(m); i++) {
        gan_tensor *g = NULL;
        TU_OK(gan_model_tensor(m, i, NULL, NULL, &g));
        if (g == NULL) continue; /* a buffer */
        for (int64_t k = 0; k < gan_tensor_numel(g); k++) ck_assert_float_eq(gan_tensor_data(g)[k], 0.0f);
    }
    gan_tensor *lg = NULL;
    TU_OK(gan_layer_tensor(conv, 0, NULL, NULL, &lg));
    ck_assert_ptr_nonnull(gan_tensor_data(lg));
    gan_optimizer_free(opt);
    gan_tensor_free(x);
    gan_model_free(m);
}
END_TEST

START_TEST(in_place_activations_change_nothing)
{
    const int64_t n = 4;
    gan_model *m = small_model();
    gan_layer *solo[5];
    for (int i = 0; i < 5; i++) solo[i] = layer_n(i);
    const int64_t shapes[6][3] = {{2, 9, 9}, {6, 5, 5}, {6, 5, 5}, {6, 5, 5}, {3, 10, 10}, {3, 10, 10}};
    gan_tensor *t[6], *g[6];
    for (int i = 0; i < 6; i++) {
        t[i] = tu_tensor(4, n, shapes[i][0], shapes[i][1], shapes[i][2]);
        g[i] = tu_tensor(4, n, shapes[i][0], shapes[i][1], shapes[i][2]);
    }
    uint64_t s = 11;
    for (int64_t i = 0; i < gan_tensor_numel(t[0]); i++) gan_tensor_data(t[0])[i] = frand(&s);
    for (int64_t i = 0; i < gan_tensor_numel(g[5]); i++) gan_tensor_data(g[5])[i] = frand(&s);
    for (int i = 0; i < 5; i++) {
        TU_OK(gan_layer_attach(solo[i], 3, shapes[i]));
        TU_OK(gan_layer_forward(solo[i], t[i], t[i + 1]));
    }
    for (int i = 4; i >= 0; i--) TU_OK(gan_layer_backward(solo[i], g[i + 1], g[i]));

    const gan_tensor *y, *dx;
    TU_OK(gan_model_forward(m, t[0], &y));
    ck_assert_mem_eq(gan_tensor_cdata(y), gan_tensor_cdata(t[5]),
                     (size_t)gan_tensor_numel(y) * sizeof(float));
    TU_OK(gan_model_backward(m, g[5], &dx));
    ck_assert_mem_eq(gan_tensor_cdata(dx), gan_tensor_cdata(g[0]),
                     (size_t)gan_tensor_numel(dx) * sizeof(float));
    /* parameter gradients too: model tensors in order, layer slots in order */
    int k = 0;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < gan_layer_tensor_count(solo[i]); j++, k++) {
            gan_tensor *want, *got;
            TU_OK(gan_layer_tensor(solo[i], j, NULL, NULL, &want));
            TU_OK(gan_model_tensor(m, k, NULL, NULL, &got));
            ck_assert((want == NULL) == (got == NULL));
            if (want != NULL)
                ck_assert_mem_eq(gan_tensor_cdata(got), gan_tensor_cdata(want),
                                 (size_t)gan_tensor_numel(want) * sizeof(float));
        }
    for (int i = 0; i < 6; i++) {
        gan_tensor_free(t[i]);
        gan_tensor_free(g[i]);
    }
    for (int i = 0; i < 5; i++) gan_layer_free(solo[i]);
    gan_model_free(m);
}
END_TEST

/* dense (8 -> 16) -> leaky_relu -> dense (16 -> 4) -> tanh: dense backward
 * never reads its output, so both activations run in place; results equal
 * the layers run one by one with buffers of their own, bit for bit. */
START_TEST(activations_after_dense_run_in_place)
{
    const int64_t n = 3, width[5] = {8, 16, 16, 4, 4};
    gan_layer *solo[4], *mine[4];
    for (int k = 0; k < 2; k++) {
        gan_layer **l = k ? mine : solo;
        TU_OK(gan_layer_dense(&l[0], 8, 16, 1));
        TU_OK(gan_layer_leaky_relu(&l[1], 0.2f));
        TU_OK(gan_layer_dense(&l[2], 16, 4, 1));
        TU_OK(gan_layer_tanh(&l[3]));
    }
    gan_model *m = NULL;
    TU_OK(gan_model_create(&m, 1, &width[0]));
    for (int i = 0; i < 4; i++) TU_OK(gan_model_add(m, mine[i]));
    gan_rng *rng = NULL;
    TU_OK(gan_rng_create(&rng, 5));
    TU_OK(gan_model_init(m, GAN_INIT_PYTORCH, rng));
    gan_tensor *t[5], *g[5];
    for (int i = 0; i < 5; i++) {
        t[i] = tu_tensor(2, n, width[i], 0, 0);
        g[i] = tu_tensor(2, n, width[i], 0, 0);
    }
    uint64_t s = 7;
    for (int64_t i = 0; i < gan_tensor_numel(t[0]); i++) gan_tensor_data(t[0])[i] = frand(&s);
    for (int64_t i = 0; i < gan_tensor_numel(g[4]); i++) gan_tensor_data(g[4])[i] = frand(&s);
    int k = 0; /* the solo layers get the model's initial weights */
    for (int i = 0; i < 4; i++) {
        TU_OK(gan_layer_attach(solo[i], 1, &width[i]));
        for (int j = 0; j < gan_layer_tensor_count(solo[i]); j++, k++) {
            gan_tensor *dst, *src;
            TU_OK(gan_layer_tensor(solo[i], j, NULL, &dst, NULL));
            TU_OK(gan_model_tensor(m, k, NULL, &src, NULL));
            TU_OK(gan_tensor_copy(dst, src));
        }
        TU_OK(gan_layer_forward(solo[i], t[i], t[i + 1]));
    }
    for (int i = 3; i >= 0; i--) TU_OK(gan_layer_backward(solo[i], g[i + 1], g[i]));

    const gan_tensor *y, *dx;
    TU_OK(gan_model_forward(m, t[0], &y));
    ck_assert_mem_eq(gan_tensor_cdata(y), gan_tensor_cdata(t[4]), (size_t)n * 4 * sizeof(float));
    TU_OK(gan_model_backward(m, g[4], &dx));
    ck_assert_mem_eq(gan_tensor_cdata(dx), gan_tensor_cdata(g[0]), (size_t)n * 8 * sizeof(float));
    k = 0; /* and the same parameter gradients */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < gan_layer_tensor_count(solo[i]); j++, k++) {
            gan_tensor *want, *got;
            TU_OK(gan_layer_tensor(solo[i], j, NULL, NULL, &want));
            TU_OK(gan_model_tensor(m, k, NULL, NULL, &got));
            ck_assert_mem_eq(gan_tensor_cdata(got), gan_tensor_cdata(want),
                             (size_t)gan_tensor_numel(want) * sizeof(float));
        }
    /* dense 1 out (leaky_relu in place), dense 2 out (tanh in place), two
     * gradient buffers of the largest inner output, dL/dinput */
    gan_memory_info info = {.struct_size = sizeof info};
    TU_OK(gan_model_memory(m, &info));
    ck_assert_uint_eq(info.activations, (size_t)n * (16 + 4 + 2 * 16 + 8) * sizeof(float));
    for (int i = 0; i < 5; i++) {
        gan_tensor_free(t[i]);
        gan_tensor_free(g[i]);
    }
    for (int i = 0; i < 4; i++) gan_layer_free(solo[i]);
    gan_rng_free(rng);
    gan_model_free(m);
}
END_TEST

/* All layers of a model share one scratch arena (each uses it only during
 * its own call): two identical convolutions need no more than one. */
START_TEST(layers_share_one_scratch_arena)
{
    const int64_t in[3] = {4, 8, 8}, n = 6;
    size_t scratch[2];
    for (int k = 0; k < 2; k++) {
        gan_model *m = NULL;
        TU_OK(gan_model_create(&m, 3, in));
        for (int i = 0; i <= k; i++) {
            gan_layer *l = NULL;
            TU_OK(gan_layer_conv2d(&l, 4, 4, 3, 3, 1, 1, 0));
            TU_OK(gan_model_add(m, l));
        }
        gan_tensor *x = tu_tensor(4, n, 4, 8, 8);
        const gan_tensor *y, *dx;
        TU_OK(gan_model_forward(m, x, &y));
        TU_OK(gan_model_backward(m, y, &dx));
        gan_memory_info info = {.struct_size = sizeof info};
        TU_OK(gan_model_memory(m, &info));
        scratch[k] = info.scratch;
        gan_tensor_free(x);
        gan_model_free(m);
    }
    ck_assert_uint_gt(scratch[0], 0);
    ck_assert_uint_eq(scratch[1], scratch[0]);
}
END_TEST

/* Scratch bytes of model m alone after a forward and backward of n
 * samples of its input shape. */
static size_t own_scratch(gan_model *m, int64_t n)
{
    int ndim = 0;
    int64_t sample[GAN_MAX_DIMS], shape[GAN_MAX_DIMS] = {n}; /* (n, sample...) */
    TU_OK(gan_model_input_shape(m, &ndim, sample));
    for (int i = 0; i < ndim; i++) shape[i + 1] = sample[i];
    gan_tensor *x = NULL;
    TU_OK(gan_tensor_create(&x, ndim + 1, shape));
    const gan_tensor *y, *dx;
    TU_OK(gan_model_forward(m, x, &y));
    TU_OK(gan_model_backward(m, y, &dx));
    gan_memory_info info = {.struct_size = sizeof info};
    TU_OK(gan_model_memory(m, &info));
    gan_tensor_free(x);
    return info.scratch;
}

/* A trainer's G and D never run at once, so they share one scratch arena:
 * as large as the larger of the two models' own, not their sum.  Then G
 * alone grows it (generating more samples than the step's batch) and D's
 * layers must follow to the new block: the next step runs (ASan and
 * valgrind check the pointers) and gives bitwise the same result as a
 * trainer whose G never planned for 40: a convolution splits a batch over
 * its tasks by the batch's size alone, not by the largest batch planned. */
START_TEST(trainer_shares_one_scratch_arena)
{
    const int64_t n = 3;
    gan_model *g = NULL, *d = NULL;
    TU_OK(gan_preset_create("dcgan28", 1, &g, &d));
    const size_t gs = own_scratch(g, n), ds = own_scratch(d, n);
    ck_assert_uint_gt(gs, 0);
    ck_assert_uint_gt(ds, 0);
    gan_model_free(g);
    gan_model_free(d);

    gan_trainer *t[2] = {NULL, NULL};
    gan_tensor *real = tu_tensor(4, n, 1, 28, 28);
    gan_step_stats st[2];
    for (int k = 0; k < 2; k++) {
        gan_trainer_config cfg;
        gan_trainer_config_default(&cfg);
        TU_OK(gan_preset_create("dcgan28", 1, &g, &d));
        TU_OK(gan_trainer_create(&t[k], g, d, &cfg));
        TU_OK(gan_train_step(t[k], real, NULL));
        gan_memory_info info = {.struct_size = sizeof info}, gi = info, di = info;
        TU_OK(gan_trainer_memory(t[k], &info));
        TU_OK(gan_model_memory(g, &gi));
        TU_OK(gan_model_memory(d, &di));
        ck_assert_uint_eq(info.scratch, gs > ds ? gs : ds);
        ck_assert_uint_eq(gi.scratch, info.scratch); /* one arena, seen from both */
        ck_assert_uint_eq(di.scratch, info.scratch);
        if (k == 1) { /* G plans for 40 samples: the arena grows past D's */
            gan_tensor *z = tu_tensor(4, 40, 100, 1, 1), *img = tu_tensor(4, 40, 1, 28, 28);
            TU_OK(gan_trainer_generate(t[k], z, img));
            TU_OK(gan_trainer_memory(t[k], &info));
            ck_assert_uint_gt(info.scratch, gs > ds ? gs : ds);
            gan_tensor_free(z);
            gan_tensor_free(img);
        }
        TU_OK(gan_train_step(t[k], real, &st[k]));
    }
    ck_assert(st[0].loss_d == st[1].loss_d);
    ck_assert(st[0].loss_g == st[1].loss_g);
    gan_tensor_free(real);
    gan_trainer_free(t[0]);
    gan_trainer_free(t[1]);
}
END_TEST

START_TEST(trainer_memory_breakdown)
{
    gan_model *g = NULL, *d = NULL;
    TU_OK(gan_preset_create("dcgan28", 1, &g, &d));
    const int64_t gp = gan_model_param_count(g), dp = gan_model_param_count(d);
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    gan_trainer *t = NULL;
    TU_OK(gan_trainer_create(&t, g, d, &cfg));
    gan_tensor *real = tu_tensor(4, 3, 1, 28, 28);
    TU_OK(gan_train_step(t, real, NULL));
    gan_memory_info info = {.struct_size = sizeof info};
    TU_OK(gan_trainer_memory(t, &info));
    ck_assert_uint_eq(info.parameters, (size_t)(gp + dp) * 4);
    ck_assert_uint_eq(info.gradients, (size_t)(gp + dp) * 4);
    ck_assert_uint_eq(info.optimizer, (size_t)(gp + dp) * 2 * 4); /* Adam: m and v */
    ck_assert_uint_eq(info.buffers, (size_t)(2 * 256 + 2 * 128 + 2 * 128) * 4);
    ck_assert_uint_gt(info.activations, 0);
    ck_assert_uint_gt(info.scratch, 0);
    ck_assert_uint_gt(info.other, (size_t)dp * 4); /* D's snapshot at least */
    gan_memory_info gi = {.struct_size = sizeof gi}, di = {.struct_size = sizeof di};
    TU_OK(gan_model_memory(gan_trainer_generator(t), &gi));
    TU_OK(gan_model_memory(gan_trainer_discriminator(t), &di));
    ck_assert_uint_eq(info.activations, gi.activations + di.activations);
    ck_assert_uint_eq(info.scratch, gi.scratch); /* G and D share one arena */
    ck_assert_uint_eq(info.scratch, di.scratch);
    ck_assert_uint_eq(info.total, info.parameters + info.gradients + info.buffers + info.optimizer +
                                      info.activations + info.scratch + info.other);

    TU_STATUS(GAN_E_NULL, gan_trainer_memory(NULL, &info));
    TU_STATUS(GAN_E_NULL, gan_trainer_memory(t, NULL));
    TU_STATUS(GAN_E_NULL, gan_model_memory(NULL, &info));
    gan_memory_info small = {.struct_size = sizeof small - 1};
    TU_STATUS(GAN_E_INVALID, gan_trainer_memory(t, &small));
    TU_STATUS(GAN_E_INVALID, gan_model_memory(g, &small));
    ck_assert_uint_eq(small.total, 0); /* untouched */
    gan_tensor_free(real);
    gan_trainer_free(t);
}
END_TEST

Suite *suite_memory(void)
{
    Suite *s = suite_create("memory");
    TCase *tc = tcase_create("memory");
    tcase_add_test(tc, model_memory_counts_exactly);
    tcase_add_test(tc, gradients_allocated_when_first_needed);
    tcase_add_test(tc, in_place_activations_change_nothing);
    tcase_add_test(tc, activations_after_dense_run_in_place);
    tcase_add_test(tc, layers_share_one_scratch_arena);
    tcase_add_test(tc, trainer_shares_one_scratch_arena);
    tcase_add_test(tc, trainer_memory_breakdown);
    suite_add_tcase(s, tc);
    return s;
}
