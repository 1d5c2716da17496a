/* test_optim_fast.c — the vectorised, threaded optimizer step (optim.c)
 * on a model large enough to be split over the pool: with 1 and 2 threads
 * its results are bitwise those of a plain scalar loop of torch.optim's
 * formulas written here, and a non-finite value is still reported at
 * exactly the first bad index with nothing changed. */
#include "nn.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* dense 600 -> 499: 299,899 params, odd, so every vector loop has a tail */
#define IN 600
#define OUT 499
#define NPARAMS ((int64_t)IN * OUT + OUT)
#define STEPS 3

static gan_model *big_model(void)
{
    gan_model *m = NULL;
    gan_layer *l = NULL;
    int64_t in[1] = {IN};
    TU_OK(gan_model_create(&m, 1, in));
    TU_OK(gan_layer_dense(&l, IN, OUT, 1));
    TU_OK(gan_model_add(m, l));
    ck_assert_int_eq(gan_model_param_count(m), NPARAMS);
    return m;
}

static uint32_t next_u32(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 33);
}

/* Values of mixed magnitude in [-scale, scale], with some exact +-0 and
 * subnormals mixed in (where a sign or a flush could differ). */
static void fill(float *x, int64_t n, float scale, uint64_t seed)
{
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++) {
        const uint32_t r = next_u32(&s);
        switch (r % 61) {
        case 0: x[i] = 0.0f; break;
        case 1: x[i] = -0.0f; break;
        case 2: x[i] = (r & 64) ? 1e-40f : -3e-39f; break;
        default: x[i] = scale * ((float)(r >> 8) / 8388608.0f - 1.0f) / (float)(1 + r % 7);
        }
    }
}

/* ------------------------------------------------------ scalar reference */
/* torch.optim.Adam, one step t (from 1), in torch's float order. */
static void ref_adam(float *p, float *m, float *v, const float *g, int64_t n,
                     const gan_optim_config *c, int64_t t)
{
    const double bc1 = 1.0 - pow(c->beta1, (double)t), bc2 = 1.0 - pow(c->beta2, (double)t);
    const float step_size = (float)(c->lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    const float a1 = (float)(1.0 - c->beta1), a2 = (float)(1.0 - c->beta2);
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        if (c->weight_decay != 0.0f) gi = gi + c->weight_decay * p[i];
        m[i] = c->beta1 * m[i] + a1 * gi;
        v[i] = c->beta2 * v[i] + a2 * gi * gi;
        const float denom = sqrtf(v[i]) / bc2_sqrt + c->eps;
        p[i] = p[i] - step_size * (m[i] / denom);
    }
}

/* torch.optim.SGD (dampening 0, no Nesterov), one step t (from 1). */
static void ref_sgd(float *p, float *buf, const float *g, int64_t n, const gan_optim_config *c,
                    int64_t t)
{
    for (int64_t i = 0; i < n; i++) {
        float d = g[i];
        if (c->weight_decay != 0.0f) d = d + c->weight_decay * p[i];
        if (c->momentum != 0.0f) {
            buf[i] = t == 1 ? d : c->momentum * buf[i] + d;
            d = buf[i];
        }
        p[i] = p[i] - c->lr * d;
    }
}

/* Fail with the first index where got and want differ in any bit. */
static void assert_bits(const char *what, const float *got, const float *want, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
            ck_abort_msg("%s: index %lld: got %.9g, reference %.9g", what, (long long)i,
                         (double)got[i], (double)want[i]);
}

typedef struct optim_case {
    const char *name;
    gan_optim_kind kind;
    float lr, beta1, beta2, eps, momentum, weight_decay;
} optim_case;

static const optim_case cases[] = {
    {"adam", GAN_OPTIM_ADAM, 2e-4f, 0.5f, 0.999f, 1e-8f, 0.0f, 0.0f},
    {"adam+wd", GAN_OPTIM_ADAM, 1e-3f, 0.9f, 0.99f, 1e-6f, 0.0f, 0.01f},
    {"sgd", GAN_OPTIM_SGD, 0.05f, 0, 0, 0, 0.0f, 0.0f},
    {"sgd+wd", GAN_OPTIM_SGD, 0.05f, 0, 0, 0, 0.0f, 0.001f},
    {"sgd+momentum", GAN_OPTIM_SGD, 0.01f, 0, 0, 0, 0.9f, 0.0f},
    {"sgd+momentum+wd", GAN_OPTIM_SGD, 0.01f, 0, 0, 0, 0.9f, 0.0005f},
};

static gan_optim_config config_of(const optim_case *k)
{
    gan_optim_config c;
    gan_optim_config_default(&c);
    c.kind = k->kind;
    c.lr = k->lr;
    if (k->kind == GAN_OPTIM_ADAM) {
        c.beta1 = k->beta1;
        c.beta2 = k->beta2;
        c.eps = k->eps;
    }
    c.momentum = k->momentum;
    c.weight_decay = k->weight_decay;
    return c;
}

/* Every case, 1 and 2 threads, STEPS steps: params and state equal the
 * reference bit for bit.  The Adam cases also start from a state where a
 * few moments and params are huge but the update is finite, so the check
 * pass's fast bounds fail there and the exact rescan must let it pass. */
START_TEST(optim_fast_matches_scalar_reference)
{
    const int threads = gan_get_num_threads();
    const int64_t n = NPARAMS;
    float *rp = malloc((size_t)n * sizeof(float)), *rm = calloc((size_t)n, sizeof(float));
    float *rv = calloc((size_t)n, sizeof(float));
    ck_assert(rp && rm && rv);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int nt = 1; nt <= 2; nt++) {
            TU_OK(gan_set_num_threads(nt));
            const gan_optim_config cfg = config_of(&cases[k]);
            gan_model *mod = big_model();
            gan_optimizer *o = NULL;
            TU_OK(gan_optimizer_create(&o, mod, &cfg));
            float *p = gan_model_params(mod, NULL), *g = gan_model_grads(mod, NULL), *m, *v;
            TU_OK(gan_optimizer_state(o, &m, &v, NULL, NULL));
            fill(p, n, 1.0f, 7 + k);
            memset(rm, 0, (size_t)n * sizeof(float));
            memset(rv, 0, (size_t)n * sizeof(float));
            if (cfg.kind == GAN_OPTIM_ADAM) {
                const int64_t big[3] = {5, n / 2 + 3, n - 1};
                for (int b = 0; b < 3; b++) {
                    m[big[b]] = rm[big[b]] = 1e34f;
                    v[big[b]] = rv[big[b]] = 1e36f;
                    /* beyond the bound on |p| (with decay, g'^2 would overflow) */
                    if (cfg.weight_decay == 0.0f) p[big[b] - 1] = 5e37f;
                }
            }
            memcpy(rp, p, (size_t)n * sizeof(float));
            for (int s = 1; s <= STEPS; s++) {
                fill(g, n, 0.5f * (float)s, 1000 * k + (uint64_t)s);
                TU_OK(gan_optimizer_step(o));
                if (cfg.kind == GAN_OPTIM_ADAM) ref_adam(rp, rm, rv, g, n, &cfg, s);
                else ref_sgd(rp, rm, g, n, &cfg, s);
            }
            char what[96];
            snprintf(what, sizeof what, "%s, %d thread(s), params", cases[k].name, nt);
            assert_bits(what, p, rp, n);
            if (m != NULL) {
                snprintf(what, sizeof what, "%s, %d thread(s), first moment / buffer",
                         cases[k].name, nt);
                assert_bits(what, m, rm, n);
            }
            if (v != NULL) {
                snprintf(what, sizeof what, "%s, %d thread(s), second moment", cases[k].name, nt);
                assert_bits(what, v, rv, n);
            }
            ck_assert_int_eq(gan_optimizer_step_count(o), STEPS);
            gan_optimizer_free(o);
            gan_model_free(mod);
        }
    free(rp);
    free(rm);
    free(rv);
    TU_OK(gan_set_num_threads(threads));
}
END_TEST

/* ---------------------------------------------------------- numeric faults */
typedef struct snapshot {
    float *p, *m, *v;
} snapshot;

static snapshot take(const float *p, const float *m, const float *v, int64_t n)
{
    snapshot s = {malloc((size_t)n * sizeof(float)), malloc((size_t)n * sizeof(float)),
                  malloc((size_t)n * sizeof(float))};
    ck_assert(s.p && s.m && s.v);
    memcpy(s.p, p, (size_t)n * sizeof(float));
    if (m) memcpy(s.m, m, (size_t)n * sizeof(float));
    if (v) memcpy(s.v, v, (size_t)n * sizeof(float));
    return s;
}

static void drop(snapshot *s)
{
    free(s->p);
    free(s->m);
    free(s->v);
}

/* The step fails with GAN_E_NUMERIC naming parameter `want`, and nothing changed. */
static void expect_fault(gan_optimizer *o, int64_t want, const float *p, const float *m,
                         const float *v, const snapshot *s, int64_t steps)
{
    const int64_t n = NPARAMS;
    TU_STATUS(GAN_E_NUMERIC, gan_optimizer_step(o));
    char key[64];
    snprintf(key, sizeof key, "parameter %lld: gradient ", (long long)want);
    ck_assert_msg(strstr(gan_last_error(), key) != NULL, "expected \"%s\" in \"%s\"", key,
                  gan_last_error());
    ck_assert_mem_eq(p, s->p, (size_t)n * sizeof(float));
    if (m) ck_assert_mem_eq(m, s->m, (size_t)n * sizeof(float));
    if (v) ck_assert_mem_eq(v, s->v, (size_t)n * sizeof(float));
    ck_assert_int_eq(gan_optimizer_step_count(o), steps);
}

/* NaN / inf gradients planted at indices in the first, a middle and the
 * last task's range (and in the scalar tail), each with a later bad value
 * too: the first is named, nothing moves; then overflowing updates from a
 * finite gradient (SGD) and from a finite but huge moment with a tiny lr
 * (Adam: m / denom overflows before lr scales it). */
START_TEST(optim_fast_names_first_bad_index)
{
    const int threads = gan_get_num_threads();
    const int64_t n = NPARAMS;
    const int64_t at[5] = {3, 37 * 1024 + 517, n / 2 + 1, n - 2, n - 1};
    for (int kind = 0; kind < 2; kind++)
        for (int nt = 1; nt <= 2; nt++) {
            TU_OK(gan_set_num_threads(nt));
            gan_optim_config cfg = config_of(&cases[kind == 0 ? 1 : 5]);
            gan_model *mod = big_model();
            gan_optimizer *o = NULL;
            TU_OK(gan_optimizer_create(&o, mod, &cfg));
            float *p = gan_model_params(mod, NULL), *g = gan_model_grads(mod, NULL), *m, *v;
            TU_OK(gan_optimizer_state(o, &m, &v, NULL, NULL));
            fill(p, n, 1.0f, 3);
            fill(g, n, 1.0f, 4);
            TU_OK(gan_optimizer_step(o));
            snapshot s = take(p, m, v, n);
            for (int a = 0; a < 5; a++) {
                const int64_t k = at[a];
                const float keep = g[k], keep_last = g[n - 1];
                g[k] = a % 2 ? INFINITY : NAN;
                g[n - 1] = -INFINITY;
                expect_fault(o, k, p, m, v, &s, 1);
                g[k] = keep;
                g[n - 1] = keep_last;
            }
            /* an overflowing update from finite values */
            const int64_t k = at[2];
            const float gk = g[k], pk = p[k], mk = m[k];
            if (cfg.kind == GAN_OPTIM_SGD) {
                p[k] = s.p[k] = 3e38f;
                g[k] = -3e38f;
                TU_OK(gan_optimizer_set_lr(o, 1.0f));
                expect_fault(o, k, p, m, v, &s, 1);
            } else {
                const float vk = v[k];
                m[k] = s.m[k] = 3e38f;
                v[k] = s.v[k] = 0.0f;
                g[k] = 0.0f;
                TU_OK(gan_optimizer_set_lr(o, 1e-30f));
                expect_fault(o, k, p, m, v, &s, 1);
                v[k] = s.v[k] = vk;
            }
            p[k] = s.p[k] = pk;
            m[k] = s.m[k] = mk;
            g[k] = gk;
            TU_OK(gan_optimizer_set_lr(o, cfg.lr));
            /* clean again: the step goes through */
            TU_OK(gan_optimizer_step(o));
            ck_assert_int_eq(gan_optimizer_step_count(o), 2);
            /* frozen: a no-op, even with a NaN gradient */
            snapshot f = take(p, m, v, n);
            g[at[1]] = NAN;
            TU_OK(gan_model_set_frozen(mod, 1));
            TU_OK(gan_optimizer_step(o));
            ck_assert_mem_eq(p, f.p, (size_t)n * sizeof(float));
            ck_assert_int_eq(gan_optimizer_step_count(o), 2);
            drop(&f);
            drop(&s);
            gan_optimizer_free(o);
            gan_model_free(mod);
        }
    TU_OK(gan_set_num_threads(threads));
}
END_TEST

Suite *suite_optim_fast(void)
{
    Suite *s = suite_create("optim_fast");
    TCase *tc = tcase_create("optim_fast");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, optim_fast_matches_scalar_reference);
    tcase_add_test(tc, optim_fast_names_first_bad_index);
    suite_add_tcase(s, tc);
    return s;
}
