/* test_trainer.c — gan_train_step: one DCGAN-28 step against PyTorch, the
 * freeze semantics, numeric-fault rollback, n_critic, zero allocations per
 * step, sampling, presets, and two small convergence runs. */
#include "testutil.h"
#include "nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */
/* Same bits as hash_uniform() in tests/ref/gen_trainer.py:
 * (2u - 1) * scale + offset, u = top 24 bits of splitmix64((seed << 32) ^ i). */
static float hash_uniform(uint64_t seed, uint64_t i, float scale, float offset)
{
    uint64_t z = (seed << 32) ^ i;
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    float u = (float)(z >> 40) * (1.0f / 16777216.0f);
    float v = (2.0f * u - 1.0f) * scale;
    return offset != 0.0f ? v + offset : v;
}

static void hash_fill(float *p, int64_t n, uint64_t seed, float scale, float offset)
{
    for (int64_t i = 0; i < n; i++) p[i] = hash_uniform(seed, (uint64_t)i, scale, offset);
}

/* Trainable tensor k (buffers skipped) gets seed seed0 + k; BN weights 1 + U. */
static void hash_params(gan_model *m, uint64_t seed0)
{
    uint64_t k = 0;
    for (int i = 0; i < gan_model_tensor_count(m); i++) {
        const char *name;
        gan_tensor *v, *g;
        TU_OK(gan_model_tensor(m, i, &name, &v, &g));
        if (g == NULL) continue;
        bool bn_weight = strstr(name, "weight") != NULL && gan_tensor_ndim(v) == 1;
        hash_fill(gan_tensor_data(v), gan_tensor_numel(v), seed0 + k, 0.0346f,
                  bn_weight ? 1.0f : 0.0f);
        k++;
    }
}

/* Everything a failed step must leave alone, copied out. */
typedef struct state {
    float *gp, *dp, *gb, *db, *om[2], *ov[2];
    int64_t ng, nd, ngb, ndb, nbt[64], ostep[2], tstep;
    gan_rng rng;
} state;

static void state_take(state *s, gan_trainer *t)
{
    memset(s, 0, sizeof *s);
    gan_model *g = gan_trainer_generator(t), *d = gan_trainer_discriminator(t);
    float *p = gan_model_params(g, &s->ng);
    s->gp = malloc((size_t)s->ng * 4);
    memcpy(s->gp, p, (size_t)s->ng * 4);
    p = gan_model_params(d, &s->nd);
    s->dp = malloc((size_t)s->nd * 4);
    memcpy(s->dp, p, (size_t)s->nd * 4);
    s->ngb = gan_model_buffer_floats(g);
    s->ndb = gan_model_buffer_floats(d);
    s->gb = malloc((size_t)(s->ngb + 1) * 4);
    s->db = malloc((size_t)(s->ndb + 1) * 4);
    ck_assert(gan_model_layer_count(g) + gan_model_layer_count(d) <= 64);
    gan_model_save_buffers(g, s->gb, s->nbt);
    gan_model_save_buffers(d, s->db, s->nbt + gan_model_layer_count(g));
    for (int k = 0; k < 2; k++) {
        float *m, *v;
        int64_t n;
        TU_OK(gan_optimizer_state(gan_trainer_optimizer(t, k), &m, &v, &n, &s->ostep[k]));
        s->om[k] = malloc((size_t)(n + 1) * 4);
        s->ov[k] = malloc((size_t)(n + 1) * 4);
        if (m) memcpy(s->om[k], m, (size_t)n * 4);
        if (v) memcpy(s->ov[k], v, (size_t)n * 4);
    }
    s->tstep = gan_trainer_step_count(t);
    s->rng = *gan_trainer_rng(t);
}

static void state_free(state *s)
{
    free(s->gp);
    free(s->dp);
    free(s->gb);
    free(s->db);
    for (int k = 0; k < 2; k++) {
        free(s->om[k]);
        free(s->ov[k]);
    }
}

static void state_assert_equal(state *a, state *b)
{
    ck_assert_int_eq(a->ng, b->ng);
    ck_assert_int_eq(a->nd, b->nd);
    ck_assert_msg(memcmp(a->gp, b->gp, (size_t)a->ng * 4) == 0, "G's params changed");
    ck_assert_msg(memcmp(a->dp, b->dp, (size_t)a->nd * 4) == 0, "D's params changed");
    ck_assert_msg(memcmp(a->gb, b->gb, (size_t)a->ngb * 4) == 0, "G's running stats changed");
    ck_assert_msg(memcmp(a->db, b->db, (size_t)a->ndb * 4) == 0, "D's running stats changed");
    ck_assert_msg(memcmp(a->nbt, b->nbt, sizeof a->nbt) == 0, "num_batches_tracked changed");
    ck_assert_msg(memcmp(a->om[0], b->om[0], (size_t)a->ng * 4) == 0, "optG's m changed");
    ck_assert_msg(memcmp(a->ov[0], b->ov[0], (size_t)a->ng * 4) == 0, "optG's v changed");
    ck_assert_msg(memcmp(a->om[1], b->om[1], (size_t)a->nd * 4) == 0, "optD's m changed");
    ck_assert_msg(memcmp(a->ov[1], b->ov[1], (size_t)a->nd * 4) == 0, "optD's v changed");
    ck_assert_int_eq(a->ostep[0], b->ostep[0]);
    ck_assert_int_eq(a->ostep[1], b->ostep[1]);
    ck_assert_int_eq(a->tstep, b->tstep);
    ck_assert_msg(memcmp(&a->rng, &b->rng, sizeof a->rng) == 0, "trainer RNG changed");
}

/* add(m, gan_layer_x(&l, ...), &l): l is read after the constructor ran. */
static void add(gan_model *m, gan_status st, gan_layer **l)
{
    TU_OK(st);
    TU_OK(gan_model_add(m, *l));
}

/* Small G (4 -> 16 -> BN -> relu -> 2) and D (2 -> 16 -> BN -> lrelu -> 1). */
static void small_pair(gan_model **g, gan_model **d)
{
    gan_layer *l;
    int64_t zin[1] = {4}, xin[1] = {2};
    TU_OK(gan_model_create(g, 1, zin));
    add(*g, gan_layer_dense(&l, 4, 16, 1), &l);
    add(*g, gan_layer_batchnorm(&l, 16), &l);
    add(*g, gan_layer_relu(&l), &l);
    add(*g, gan_layer_dense(&l, 16, 2, 1), &l);
    TU_OK(gan_model_create(d, 1, xin));
    add(*d, gan_layer_dense(&l, 2, 16, 1), &l);
    add(*d, gan_layer_batchnorm(&l, 16), &l);
    add(*d, gan_layer_leaky_relu(&l, 0.2f), &l);
    add(*d, gan_layer_dense(&l, 16, 1, 1), &l);
}

static gan_trainer *small_trainer(const gan_trainer_config *cfg)
{
    gan_model *g, *d;
    small_pair(&g, &d);
    gan_trainer *t = NULL;
    TU_OK(gan_trainer_create(&t, g, d, cfg));
    return t;
}

/* Points around (1, -1) with spread 0.5. */
static gan_tensor *points(int64_t n, uint64_t seed)
{
    gan_tensor *x = tu_tensor(2, n, 2, 0, 0);
    gan_rng *r;
    TU_OK(gan_rng_create(&r, seed));
    TU_OK(gan_rng_fill_normal(r, x, 0.0f, 0.5f));
    float *p = gan_tensor_data(x);
    for (int64_t i = 0; i < n; i++) {
        p[2 * i] += 1.0f;
        p[2 * i + 1] -= 1.0f;
    }
    gan_rng_free(r);
    return x;
}

/* ---------------------------------------------------- DCGAN-28 vs PyTorch */
START_TEST(dcgan28_step_matches_pytorch)
{
    enum { B = 16 };
    tu_ref *r = tu_ref_load("trainer_dcgan28.bin");
    gan_model *g, *d;
    TU_OK(gan_preset_create("dcgan28", 0, &g, &d));
    hash_params(g, 100);
    hash_params(d, 200);
    gan_tensor *real = tu_tensor(4, B, 1, 28, 28), *z = tu_tensor(4, B, 100, 1, 1);
    hash_fill(gan_tensor_data(real), B * 784, 1, 1.0f, 0.0f);
    hash_fill(gan_tensor_data(z), B * 100, 2, 1.7320508f, 0.0f);
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg); /* DCGAN: non-saturating BCE, Adam 2e-4 (0.5, 0.999) */
    gan_trainer *t;
    TU_OK(gan_trainer_create(&t, g, d, &cfg));
    gan_step_stats s;
    TU_OK(gan_trainer_step_with_noise(t, real, z, &s));

    float got[5] = {s.loss_d, s.loss_g, s.d_real, s.d_fake_before, s.d_fake_after};
    const char *names[5] = {"errD", "errG", "D_x", "D_G_z1", "D_G_z2"};
    for (int i = 0; i < 5; i++) {
        float want = tu_ref_scalar(r, names[i]);
        ck_assert_msg(fabsf(got[i] - want) <= 1e-5f * fabsf(want),
                      "%s: got %.9g want %.9g (rel %.3g)", names[i], (double)got[i],
                      (double)want, fabs((double)got[i] - want) / fabs((double)want));
    }
    ck_assert_int_eq(s.step, 1);
    ck_assert(s.grad_norm_d > 0 && s.grad_norm_g > 0);

    /* every parameter and running statistic (sampled elements) */
    int compared = 0;
    for (int k = 0; k < 2; k++) {
        gan_model *m = k ? d : g;
        const char *tag = k ? "d" : "g";
        for (int i = 0; i < gan_model_tensor_count(m); i++) {
            const char *name;
            gan_tensor *v;
            TU_OK(gan_model_tensor(m, i, &name, &v, NULL));
            char key[96], what[96];
            snprintf(key, sizeof key, "%s.%s.idx", tag, name);
            gan_tensor *idx = tu_ref_get(r, key);
            snprintf(key, sizeof key, "%s.%s.val", tag, name);
            gan_tensor *want = tu_ref_get(r, key);
            int64_t n = gan_tensor_numel(idx);
            float *sel = malloc((size_t)(n + 1) * sizeof(float));
            for (int64_t j = 0; j < n; j++) {
                int64_t e = (int64_t)gan_tensor_cdata(idx)[j];
                ck_assert(e >= 0 && e < gan_tensor_numel(v));
                sel[j] = gan_tensor_cdata(v)[e];
            }
            snprintf(what, sizeof what, "after one step: %s.%s", tag, name);
            tu_assert_close(what, sel, gan_tensor_cdata(want), n, 1e-4);
            free(sel);
            compared++;
        }
        for (int i = 0; i < gan_model_layer_count(m); i++) {
            gan_layer *l = gan_model_layer(m, i);
            if (strcmp(gan_layer_kind(l), "batchnorm") != 0) continue;
            char key[96];
            snprintf(key, sizeof key, "%s.%d.num_batches_tracked", tag, i);
            ck_assert_int_eq(l->num_batches_tracked, (int64_t)tu_ref_scalar(r, key));
        }
    }
    ck_assert_int_eq(compared, 11 + 7);
    gan_trainer_free(t);
    gan_tensor_free(real);
    gan_tensor_free(z);
    tu_ref_free(r);
}
END_TEST

/* -------------------------------------------------------------- creation */
START_TEST(trainer_create_misuse)
{
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    ck_assert_uint_eq(cfg.struct_size, sizeof cfg);
    ck_assert_int_eq(cfg.loss, GAN_LOSS_NONSAT);
    ck_assert_int_eq(cfg.n_critic, 1);
    ck_assert_float_eq(cfg.real_label, 1.0f);
    gan_model *g, *d;
    small_pair(&g, &d);
    gan_trainer *t = (gan_trainer *)1;
    TU_STATUS(GAN_E_NULL, gan_trainer_create(&t, NULL, d, &cfg));
    ck_assert_ptr_null(t);
    TU_STATUS(GAN_E_INVALID, gan_trainer_create(&t, g, g, &cfg));
    gan_trainer_config bad = cfg;
    bad.struct_size = 0;
    TU_STATUS(GAN_E_INVALID, gan_trainer_create(&t, g, d, &bad));
    bad = cfg;
    bad.n_critic = 0;
    TU_STATUS(GAN_E_INVALID, gan_trainer_create(&t, g, d, &bad));
    bad = cfg;
    bad.real_label = 1.2f;
    TU_STATUS(GAN_E_INVALID, gan_trainer_create(&t, g, d, &bad));
    bad = cfg;
    bad.loss = (gan_loss)9;
    TU_STATUS(GAN_E_INVALID, gan_trainer_create(&t, g, d, &bad));
    bad = cfg;
    bad.opt_d.lr = 0.0f;
    TU_STATUS(GAN_E_INVALID, gan_trainer_create(&t, g, d, &bad));
    ck_assert_msg(strstr(gan_last_error(), "opt_d"), "%s", gan_last_error());
    /* shapes: D on 3-vectors, D with 2 outputs */
    gan_model *d3 = NULL, *d2 = NULL;
    gan_layer *l;
    int64_t in3[1] = {3}, in2[1] = {2};
    TU_OK(gan_model_create(&d3, 1, in3));
    add(d3, gan_layer_dense(&l, 3, 1, 1), &l);
    TU_STATUS(GAN_E_SHAPE, gan_trainer_create(&t, g, d3, &cfg));
    ck_assert_msg(strstr(gan_last_error(), "(2)") && strstr(gan_last_error(), "(3)"), "%s",
                  gan_last_error());
    TU_OK(gan_model_create(&d2, 1, in2));
    add(d2, gan_layer_dense(&l, 2, 2, 1), &l);
    TU_STATUS(GAN_E_SHAPE, gan_trainer_create(&t, g, d2, &cfg));
    gan_model_free(d3);
    gan_model_free(d2);
    /* success: the trainer owns g and d */
    TU_OK(gan_trainer_create(&t, g, d, &cfg));
    gan_model_free(g); /* no-op: owned */
    gan_model_free(d);
    ck_assert_ptr_eq(gan_trainer_generator(t), g);
    ck_assert_ptr_eq(gan_trainer_discriminator(t), d);
    gan_trainer *t2 = NULL;
    TU_STATUS(GAN_E_STATE, gan_trainer_create(&t2, g, d, &cfg));
    gan_layer *extra;
    TU_OK(gan_layer_relu(&extra));
    TU_STATUS(GAN_E_STATE, gan_model_add(d, extra)); /* a trainer's models are fixed */
    gan_layer_free(extra);
    ck_assert_int_eq(gan_trainer_step_count(t), 0);
    TU_OK(gan_trainer_set_epoch(t, 3));
    ck_assert_int_eq(gan_trainer_epoch(t), 3);
    TU_STATUS(GAN_E_INVALID, gan_trainer_set_epoch(t, -1));
    ck_assert_ptr_nonnull(gan_trainer_rng(t));
    ck_assert_ptr_ne(gan_trainer_optimizer(t, 0), gan_trainer_optimizer(t, 1));
    ck_assert_uint_eq(gan_trainer_get_config(t)->struct_size, sizeof cfg);
    gan_trainer_set_step_count(t, 7);
    ck_assert_int_eq(gan_trainer_step_count(t), 7);
    /* a real batch of the wrong shape */
    gan_tensor *x3 = tu_tensor(2, 8, 3, 0, 0);
    TU_STATUS(GAN_E_SHAPE, gan_train_step(t, x3, NULL));
    gan_tensor *x = points(8, 1), *zbad = tu_tensor(2, 7, 4, 0, 0);
    TU_STATUS(GAN_E_SHAPE, gan_trainer_step_with_noise(t, x, zbad, NULL));
    TU_STATUS(GAN_E_NULL, gan_train_step(NULL, x, NULL));
    gan_tensor_free(x3);
    gan_tensor_free(x);
    gan_tensor_free(zbad);
    gan_trainer_free(t);
    gan_trainer_free(NULL);
    /* an old, shorter config struct still works (new fields get defaults) */
    small_pair(&g, &d);
    bad = cfg;
    bad.struct_size = offsetof(gan_trainer_config, seed) + sizeof bad.seed;
    TU_OK(gan_trainer_create(&t, g, d, &bad));
    gan_trainer_free(t);
}
END_TEST

/* ---------------------------------------------------------------- freeze */
/* The seed's three steps by hand: after G's step (D frozen) D's params,
 * grads and Adam state are byte-identical to what D's step left. */
START_TEST(freeze_g_step_leaves_d)
{
    gan_model *g, *d;
    small_pair(&g, &d);
    gan_optim_config oc;
    gan_optim_config_default(&oc);
    gan_optimizer *og, *od;
    TU_OK(gan_optimizer_create(&og, g, &oc));
    TU_OK(gan_optimizer_create(&od, d, &oc));
    enum { B = 8 };
    gan_tensor *real = points(B, 3), *z = tu_tensor(2, B, 4, 0, 0), *dl = tu_tensor(2, B, 1, 0, 0);
    gan_rng *r;
    TU_OK(gan_rng_create(&r, 5));
    const gan_tensor *y, *fake, *dfake;
    float loss;
    for (int step = 0; step < 3; step++) {
        TU_OK(gan_rng_fill_normal(r, z, 0, 1));
        /* D step */
        TU_OK(gan_model_zero_grad(d));
        TU_OK(gan_model_forward(d, real, &y));
        TU_OK(gan_loss_discriminator(GAN_LOSS_NONSAT, y, 1, 1.0f, &loss, dl));
        TU_OK(gan_model_backward(d, dl, NULL));
        TU_OK(gan_model_forward(g, z, &fake));
        TU_OK(gan_model_forward(d, fake, &y));
        TU_OK(gan_loss_discriminator(GAN_LOSS_NONSAT, y, 0, 1.0f, &loss, dl));
        TU_OK(gan_model_backward(d, dl, NULL));
        int64_t ng;
        float *gp = gan_model_params(g, &ng);
        float *gsave = malloc((size_t)ng * 4), *ggsave = malloc((size_t)ng * 4);
        memcpy(gsave, gp, (size_t)ng * 4);
        memcpy(ggsave, gan_model_grads(g, NULL), (size_t)ng * 4);
        TU_OK(gan_optimizer_step(od));
        /* G untouched by D's step */
        ck_assert_mem_eq(gp, gsave, (size_t)ng * 4);
        ck_assert_mem_eq(gan_model_grads(g, NULL), ggsave, (size_t)ng * 4);
        free(gsave);
        free(ggsave);

        /* G step with D frozen */
        int64_t nd;
        float *dp = gan_model_params(d, &nd), *m, *v;
        TU_OK(gan_optimizer_state(od, &m, &v, NULL, NULL));
        float *save = malloc((size_t)nd * 4 * 4);
        memcpy(save, dp, (size_t)nd * 4);
        memcpy(save + nd, gan_model_grads(d, NULL), (size_t)nd * 4);
        memcpy(save + 2 * nd, m, (size_t)nd * 4);
        memcpy(save + 3 * nd, v, (size_t)nd * 4);
        int64_t dsteps = gan_optimizer_step_count(od);
        TU_OK(gan_model_set_frozen(d, 1));
        TU_OK(gan_model_zero_grad(g));
        TU_OK(gan_model_forward(d, fake, &y));
        TU_OK(gan_loss_generator(GAN_LOSS_NONSAT, y, &loss, dl));
        TU_OK(gan_model_backward(d, dl, &dfake));
        TU_OK(gan_model_backward(g, dfake, NULL));
        TU_OK(gan_optimizer_step(od)); /* frozen: a no-op even if called */
        TU_OK(gan_optimizer_step(og));
        TU_OK(gan_model_set_frozen(d, 0));
        ck_assert_mem_eq(dp, save, (size_t)nd * 4);
        ck_assert_mem_eq(gan_model_grads(d, NULL), save + nd, (size_t)nd * 4);
        ck_assert_mem_eq(m, save + 2 * nd, (size_t)nd * 4);
        ck_assert_mem_eq(v, save + 3 * nd, (size_t)nd * 4);
        ck_assert_int_eq(gan_optimizer_step_count(od), dsteps);
        free(save);
    }
    ck_assert_int_eq(gan_optimizer_step_count(od), 3);
    ck_assert_int_eq(gan_optimizer_step_count(og), 3);
    gan_rng_free(r);
    gan_tensor_free(real);
    gan_tensor_free(z);
    gan_tensor_free(dl);
    gan_optimizer_free(og);
    gan_optimizer_free(od);
    gan_model_free(g);
    gan_model_free(d);
}
END_TEST

/* With n_critic = 3 the first two calls are D-only: G's params, grads and
 * Adam state stay byte-identical; the third call moves G. */
START_TEST(n_critic_d_steps_leave_g)
{
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    cfg.n_critic = 3;
    gan_trainer *t = small_trainer(&cfg);
    gan_tensor *x = points(16, 9);
    gan_step_stats s;
    state before, after;
    for (int call = 1; call <= 6; call++) {
        state_take(&before, t);
        TU_OK(gan_train_step(t, x, &s));
        state_take(&after, t);
        ck_assert_int_eq(s.step, call);
        bool g_moved = memcmp(before.gp, after.gp, (size_t)before.ng * 4) != 0;
        ck_assert(memcmp(before.dp, after.dp, (size_t)before.nd * 4) != 0);
        if (call % 3 == 0) {
            ck_assert(g_moved);
            ck_assert(isfinite(s.loss_g) && isfinite(s.d_fake_after) && s.grad_norm_g > 0);
        } else {
            ck_assert(!g_moved);
            ck_assert(memcmp(before.om[0], after.om[0], (size_t)before.ng * 4) == 0);
            ck_assert(memcmp(before.ov[0], after.ov[0], (size_t)before.ng * 4) == 0);
            ck_assert(isnan(s.loss_g) && isnan(s.d_fake_after) && isnan(s.grad_norm_g));
        }
        state_free(&before);
        state_free(&after);
    }
    ck_assert_int_eq(gan_optimizer_step_count(gan_trainer_optimizer(t, 1)), 6);
    ck_assert_int_eq(gan_optimizer_step_count(gan_trainer_optimizer(t, 0)), 2);
    gan_tensor_free(x);
    gan_trainer_free(t);
}
END_TEST

/* A frozen D inside gan_train_step: only G learns, and D's flag survives. */
START_TEST(user_frozen_d_is_honoured)
{
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    gan_trainer *t = small_trainer(&cfg);
    gan_model *d = gan_trainer_discriminator(t);
    TU_OK(gan_model_set_frozen(d, 1));
    gan_tensor *x = points(16, 2);
    state before, after;
    state_take(&before, t);
    TU_OK(gan_train_step(t, x, NULL));
    state_take(&after, t);
    ck_assert_mem_eq(before.dp, after.dp, (size_t)before.nd * 4);
    ck_assert(memcmp(before.gp, after.gp, (size_t)before.ng * 4) != 0);
    ck_assert_int_eq(gan_model_is_frozen(d), 1);
    TU_OK(gan_model_set_frozen(d, 0));
    TU_OK(gan_train_step(t, x, NULL));
    ck_assert_int_eq(gan_model_is_frozen(d), 0);
    state_free(&before);
    state_free(&after);
    gan_tensor_free(x);
    gan_trainer_free(t);
}
END_TEST

/* ------------------------------------------------------------ numerics */
START_TEST(numeric_fault_poisoned_batch)
{
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    gan_trainer *t = small_trainer(&cfg);
    gan_tensor *x = points(16, 4);
    TU_OK(gan_train_step(t, x, NULL)); /* non-trivial moments first */
    TU_OK(gan_train_step(t, x, NULL));
    gan_tensor_data(x)[5] = NAN;
    state before, after;
    state_take(&before, t);
    TU_STATUS(GAN_E_NUMERIC, gan_train_step(t, x, NULL));
    ck_assert_msg(strstr(gan_last_error(), "real"), "%s", gan_last_error());
    state_take(&after, t);
    state_assert_equal(&before, &after);
    state_free(&after);
    gan_tensor_data(x)[5] = INFINITY;
    TU_STATUS(GAN_E_NUMERIC, gan_train_step(t, x, NULL));
    state_take(&after, t);
    state_assert_equal(&before, &after);
    state_free(&after);
    /* the trainer still works after a fault */
    gan_tensor_data(x)[5] = 0.5f;
    TU_OK(gan_train_step(t, x, NULL));
    ck_assert_int_eq(gan_trainer_step_count(t), 3);
    state_free(&before);
    gan_tensor_free(x);
    gan_trainer_free(t);
}
END_TEST

/* An exploding learning rate: the first call that goes non-finite (here
 * G's loss through the just-updated D, or D's own loss) changes nothing. */
START_TEST(numeric_fault_exploding_lr)
{
    for (int which = 0; which < 2; which++) {
        gan_trainer_config cfg;
        gan_trainer_config_default(&cfg);
        gan_trainer *t = small_trainer(&cfg);
        gan_tensor *x = points(16, 6);
        TU_OK(gan_train_step(t, x, NULL));
        TU_OK(gan_optimizer_set_lr(gan_trainer_optimizer(t, which), 1e37f));
        gan_status st = GAN_OK;
        int calls = 0;
        while (st == GAN_OK && calls < 20) {
            state before, after;
            state_take(&before, t);
            st = gan_train_step(t, x, NULL);
            calls++;
            if (st != GAN_OK) {
                TU_STATUS(GAN_E_NUMERIC, st);
                state_take(&after, t);
                state_assert_equal(&before, &after);
                state_free(&after);
            }
            state_free(&before);
        }
        ck_assert_msg(st == GAN_E_NUMERIC, "lr 1e37 on %s never failed in %d calls",
                      which ? "D" : "G", calls);
        gan_tensor_free(x);
        gan_trainer_free(t);
    }
}
END_TEST

/* ---------------------------------------------------------- allocations */
static long alloc_count;
static void *count_alloc(void *user, size_t n)
{
    (void)user;
    alloc_count++;
    return malloc(n);
}
static void count_free(void *user, void *p)
{
    (void)user;
    free(p);
}

START_TEST(train_step_allocates_nothing_after_first)
{
    gan_allocator a = {count_alloc, count_free, NULL};
    TU_OK(gan_set_allocator(&a));
    gan_model *g, *d;
    TU_OK(gan_preset_create("toy2d", 1, &g, &d));
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    gan_trainer *t;
    TU_OK(gan_trainer_create(&t, g, d, &cfg));
    gan_tensor *x = points(32, 1), *x8 = points(8, 2);
    TU_OK(gan_train_step(t, x, NULL));
    long before = alloc_count;
    for (int i = 0; i < 3; i++) TU_OK(gan_train_step(t, x, NULL));
    TU_OK(gan_train_step(t, x8, NULL)); /* a smaller batch fits the plan */
    ck_assert_int_eq(alloc_count - before, 0);
    gan_tensor_free(x);
    gan_tensor_free(x8);
    gan_trainer_free(t);
    TU_OK(gan_set_allocator(NULL));
}
END_TEST

/* ------------------------------------------------------------- sampling */
START_TEST(generate_uses_eval_mode)
{
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    gan_trainer *t = small_trainer(&cfg);
    gan_tensor *x = points(16, 8);
    for (int i = 0; i < 3; i++) TU_OK(gan_train_step(t, x, NULL));
    gan_model *g = gan_trainer_generator(t);
    gan_tensor *z = tu_tensor(2, 5, 4, 0, 0), *out = tu_tensor(2, 5, 2, 0, 0),
               *out1 = tu_tensor(2, 1, 2, 0, 0), *z1 = tu_tensor(2, 1, 4, 0, 0);
    TU_OK(gan_rng_fill_normal(gan_trainer_rng(t), z, 0, 1));
    state before, after;
    state_take(&before, t);
    TU_OK(gan_trainer_generate(t, z, out));
    state_take(&after, t);
    state_assert_equal(&before, &after); /* eval mode: running stats untouched */
    ck_assert_int_eq(gan_model_is_training(g), 1);
    /* eval mode: a sample does not depend on the rest of the batch */
    memcpy(gan_tensor_data(z1), gan_tensor_cdata(z) + 8, 4 * sizeof(float));
    TU_OK(gan_trainer_generate(t, z1, out1));
    ck_assert_float_eq_tol(gan_tensor_cdata(out1)[0], gan_tensor_cdata(out)[4], 1e-6f);
    ck_assert_float_eq_tol(gan_tensor_cdata(out1)[1], gan_tensor_cdata(out)[5], 1e-6f);
    /* noise from the trainer's RNG */
    TU_OK(gan_trainer_generate(t, NULL, out));
    ck_assert(memcmp(&after.rng, gan_trainer_rng(t), sizeof after.rng) != 0);
    gan_tensor *bad = tu_tensor(2, 5, 3, 0, 0);
    TU_STATUS(GAN_E_SHAPE, gan_trainer_generate(t, NULL, bad));
    TU_STATUS(GAN_E_SHAPE, gan_trainer_generate(t, z1, out));
    state_free(&before);
    state_free(&after);
    gan_tensor *all[6] = {x, z, out, out1, z1, bad};
    for (int i = 0; i < 6; i++) gan_tensor_free(all[i]);
    gan_trainer_free(t);
}
END_TEST

/* -------------------------------------------------------------- presets */
START_TEST(presets_build)
{
    const char *names[4] = {"dcgan28", "dcgan64", "mlp28", "toy2d"};
    const int64_t gout[4][3] = {{1, 28, 28}, {3, 64, 64}, {1, 28, 28}, {2, 0, 0}};
    /* parameter counts of the PyTorch models (../shared/ref/models.py and
     * the same nn.Sequential stacks for mlp28 / toy2d) */
    const int64_t nparams[4][2] = {
        {1781504, 138624}, {3576704, 2765568}, {1486352, 533505}, {4482, 4417}};
    for (int i = 0; i < 4; i++) {
        gan_model *g, *d;
        TU_OK(gan_preset_create(names[i], 42, &g, &d));
        int nd;
        int64_t shp[GAN_MAX_DIMS];
        TU_OK(gan_model_output_shape(g, &nd, shp));
        for (int k = 0; k < nd; k++) ck_assert_int_eq(shp[k], gout[i][k]);
        TU_OK(gan_model_output_shape(d, &nd, shp));
        int64_t dn = 1;
        for (int k = 0; k < nd; k++) dn *= shp[k];
        ck_assert_int_eq(dn, 1);
        ck_assert_int_eq(gan_model_param_count(g), nparams[i][0]);
        ck_assert_int_eq(gan_model_param_count(d), nparams[i][1]);
        if (i == 0) {
            const char *name;
            TU_OK(gan_model_tensor(d, 4, &name, NULL, NULL));
            ck_assert_str_eq(name, "3.running_mean"); /* state_dict naming */
            /* DCGAN init: conv weights ~ N(0, 0.02) */
            gan_tensor *w;
            TU_OK(gan_model_tensor(d, 1, NULL, &w, NULL)); /* "2.weight" of D28 */
            double s = 0, sq = 0;
            const float *p = gan_tensor_cdata(w);
            for (int64_t k = 0; k < gan_tensor_numel(w); k++) {
                s += p[k];
                sq += (double)p[k] * p[k];
            }
            double n = (double)gan_tensor_numel(w);
            ck_assert_msg(fabs(sqrt(sq / n - (s / n) * (s / n)) - 0.02) < 0.001, "std %g",
                          sqrt(sq / n));
        }
        gan_trainer *t;
        gan_trainer_config cfg;
        gan_trainer_config_default(&cfg);
        TU_OK(gan_trainer_create(&t, g, d, &cfg));
        gan_trainer_free(t);
    }
    /* same seed, same weights */
    gan_model *g1, *d1, *g2, *d2;
    TU_OK(gan_preset_create("toy2d", 5, &g1, &d1));
    TU_OK(gan_preset_create("toy2d", 5, &g2, &d2));
    int64_t n;
    ck_assert_mem_eq(gan_model_params(d1, &n), gan_model_params(d2, NULL), (size_t)n * 4);
    gan_model_free(g1);
    gan_model_free(d1);
    gan_model_free(g2);
    gan_model_free(d2);
    gan_model *g = (gan_model *)1, *d = (gan_model *)1;
    TU_STATUS(GAN_E_INVALID, gan_preset_create("dcgan32", 0, &g, &d));
    ck_assert_ptr_null(g);
    ck_assert_ptr_null(d);
    TU_STATUS(GAN_E_NULL, gan_preset_create(NULL, 0, &g, &d));
}
END_TEST

/* ---------------------------------------------------------- convergence */
/* Drop both learning rates tenfold for the last quarter: the GAN game
 * oscillates around its equilibrium, and the small steps settle it. */
static void train(gan_trainer *t, gan_tensor *x, int steps, float lr,
                  void (*fill)(gan_tensor *, gan_rng *), gan_rng *data)
{
    for (int i = 0; i < steps; i++) {
        if (i == steps * 3 / 4) {
            TU_OK(gan_optimizer_set_lr(gan_trainer_optimizer(t, 0), lr / 10));
            TU_OK(gan_optimizer_set_lr(gan_trainer_optimizer(t, 1), lr / 10));
        }
        fill(x, data);
        TU_OK(gan_train_step(t, x, NULL));
    }
}

static void fill_gaussian(gan_tensor *x, gan_rng *r)
{
    TU_OK(gan_rng_fill_normal(r, x, 4.0f, 1.25f));
}

/* 1-D: G (z 1 -> dense 16 -> tanh -> dense 1) learns N(4, 1.25^2). */
START_TEST(converges_1d_gaussian)
{
    int threads = gan_get_num_threads();
    TU_OK(gan_set_num_threads(1)); /* tiny GEMMs: threads only cost */
    gan_model *g, *d;
    gan_layer *l;
    int64_t one[1] = {1};
    TU_OK(gan_model_create(&g, 1, one));
    add(g, gan_layer_dense(&l, 1, 16, 1), &l);
    add(g, gan_layer_tanh(&l), &l);
    add(g, gan_layer_dense(&l, 16, 1, 1), &l);
    TU_OK(gan_model_create(&d, 1, one));
    add(d, gan_layer_dense(&l, 1, 32, 1), &l);
    add(d, gan_layer_leaky_relu(&l, 0.2f), &l);
    add(d, gan_layer_dense(&l, 32, 32, 1), &l);
    add(d, gan_layer_leaky_relu(&l, 0.2f), &l);
    add(d, gan_layer_dense(&l, 32, 1, 1), &l);
    gan_rng *r;
    TU_OK(gan_rng_create(&r, 1));
    TU_OK(gan_model_init(g, GAN_INIT_PYTORCH, r));
    TU_OK(gan_model_init(d, GAN_INIT_PYTORCH, r));
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    cfg.seed = 1;
    cfg.opt_g.lr = cfg.opt_d.lr = 1e-3f;
    gan_trainer *t;
    TU_OK(gan_trainer_create(&t, g, d, &cfg));
    gan_tensor *x = tu_tensor(2, 128, 1, 0, 0), *out = tu_tensor(2, 10000, 1, 0, 0);
    train(t, x, 2000, 1e-3f, fill_gaussian, r);
    TU_OK(gan_trainer_generate(t, NULL, out));
    double sum = 0, sq = 0;
    const float *p = gan_tensor_cdata(out);
    for (int i = 0; i < 10000; i++) {
        sum += p[i];
        sq += (double)p[i] * p[i];
    }
    double mean = sum / 1e4, sd = sqrt(sq / 1e4 - mean * mean);
    ck_assert_msg(fabs(mean - 4.0) < 0.4 && fabs(sd - 1.25) < 0.125,
                  "G's samples: mean %.3f (want 4 +- 10%%), std %.3f (want 1.25 +- 10%%)", mean, sd);
    gan_tensor_free(x);
    gan_tensor_free(out);
    gan_rng_free(r);
    gan_trainer_free(t);
    TU_OK(gan_set_num_threads(threads));
}
END_TEST

/* 8 Gaussians of std 0.02 on a circle of radius 2. */
static void fill_ring(gan_tensor *x, gan_rng *r)
{
    TU_OK(gan_rng_fill_normal(r, x, 0.0f, 0.02f));
    float *p = gan_tensor_data(x);
    for (int64_t k = 0; k < gan_tensor_dim(x, 0); k++) {
        int m = (int)(gan_rng_uniform(r) * 8);
        p[2 * k] += 2.0f * cosf((float)m * 0.78539816f);
        p[2 * k + 1] += 2.0f * sinf((float)m * 0.78539816f);
    }
}

/* The toy2d preset covers >= 6 of the 8 modes (>= 1% of samples within 0.2
 * of each), and most samples lie within 0.2 of a mode. */
START_TEST(converges_ring_of_8_gaussians)
{
    int threads = gan_get_num_threads();
    TU_OK(gan_set_num_threads(1));
    gan_model *g, *d;
    TU_OK(gan_preset_create("toy2d", 4, &g, &d));
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    cfg.seed = 4;
    cfg.opt_g.lr = cfg.opt_d.lr = 1e-3f;
    gan_trainer *t;
    TU_OK(gan_trainer_create(&t, g, d, &cfg));
    gan_rng *r;
    TU_OK(gan_rng_create(&r, 104));
    enum { N = 2000 };
    gan_tensor *x = tu_tensor(2, 128, 2, 0, 0), *out = tu_tensor(2, N, 2, 0, 0);
    train(t, x, 2000, 1e-3f, fill_ring, r);
    TU_OK(gan_trainer_generate(t, NULL, out));
    int count[8] = {0}, near = 0;
    const float *p = gan_tensor_cdata(out);
    for (int i = 0; i < N; i++) {
        int best = 0;
        float bd = INFINITY;
        for (int m = 0; m < 8; m++) {
            float dx = p[2 * i] - 2.0f * cosf((float)m * 0.78539816f);
            float dy = p[2 * i + 1] - 2.0f * sinf((float)m * 0.78539816f);
            float dist = sqrtf(dx * dx + dy * dy);
            if (dist < bd) bd = dist, best = m;
        }
        if (bd < 0.2f) near++, count[best]++;
    }
    int modes = 0;
    for (int m = 0; m < 8; m++) modes += count[m] >= N / 100;
    ck_assert_msg(modes >= 6 && near > N / 2,
                  "%d modes covered, %.0f%% of samples near a mode; per mode %d %d %d %d %d %d %d %d",
                  modes, 100.0 * near / N, count[0], count[1], count[2], count[3], count[4],
                  count[5], count[6], count[7]);
    gan_tensor_free(x);
    gan_tensor_free(out);
    gan_rng_free(r);
    gan_trainer_free(t);
    TU_OK(gan_set_num_threads(threads));
}
END_TEST

Suite *suite_trainer(void)
{
    Suite *s = suite_create("trainer");
    TCase *tc = tcase_create("trainer");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, dcgan28_step_matches_pytorch);
    tcase_add_test(tc, trainer_create_misuse);
    tcase_add_test(tc, freeze_g_step_leaves_d);
    tcase_add_test(tc, n_critic_d_steps_leave_g);
    tcase_add_test(tc, user_frozen_d_is_honoured);
    tcase_add_test(tc, numeric_fault_poisoned_batch);
    tcase_add_test(tc, numeric_fault_exploding_lr);
    tcase_add_test(tc, train_step_allocates_nothing_after_first);
    tcase_add_test(tc, generate_uses_eval_mode);
    tcase_add_test(tc, presets_build);
    suite_add_tcase(s, tc);
    TCase *tv = tcase_create("convergence");
    tcase_set_timeout(tv, 120);
    tcase_add_test(tv, converges_1d_gaussian);
    tcase_add_test(tv, converges_ring_of_8_gaussians);
    suite_add_tcase(s, tv);
    return s;
}
