/* optim.c — Adam and SGD over one model's params buffer, with torch.optim's
 * (1.13, single-tensor) update formulas.
 *
 * A step is all or nothing: a first pass computes every new value and
 * checks that it and the gradient are finite; only then a second pass
 * writes params and state.  So GAN_E_NUMERIC leaves everything untouched,
 * and the step count moves only with the params. */
#include "nn.h"

#include <math.h>
#include <string.h>

void gan_optim_config_default(gan_optim_config *cfg)
{
    if (cfg == NULL) return;
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = GAN_OPTIM_ADAM;
    cfg->lr = 2e-4f;
    cfg->beta1 = 0.5f;
    cfg->beta2 = 0.999f;
    cfg->eps = 1e-8f;
    cfg->momentum = 0.0f;
    cfg->weight_decay = 0.0f;
}

static bool finite_nonneg(float x)
{
    return isfinite(x) && x >= 0.0f;
}

gan_status gan_optim_config_check(const gan_optim_config *c, const char *fn)
{
    if (c->kind != GAN_OPTIM_ADAM && c->kind != GAN_OPTIM_SGD)
        return gan_fail(GAN_E_INVALID, "%s: unknown optimizer kind %d", fn, (int)c->kind);
    if (!(isfinite(c->lr) && c->lr > 0.0f))
        return gan_fail(GAN_E_INVALID, "%s: lr = %g, must be finite and > 0", fn, (double)c->lr);
    if (!finite_nonneg(c->weight_decay))
        return gan_fail(GAN_E_INVALID, "%s: weight_decay = %g, must be finite and >= 0", fn,
                        (double)c->weight_decay);
    if (c->kind == GAN_OPTIM_ADAM) {
        if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f) || !(c->beta2 >= 0.0f && c->beta2 < 1.0f))
            return gan_fail(GAN_E_INVALID, "%s: Adam betas = (%g, %g), each must be in [0, 1)", fn,
                            (double)c->beta1, (double)c->beta2);
        if (!(isfinite(c->eps) && c->eps > 0.0f))
            return gan_fail(GAN_E_INVALID, "%s: Adam eps = %g, must be finite and > 0", fn,
                            (double)c->eps);
    } else if (!finite_nonneg(c->momentum)) {
        return gan_fail(GAN_E_INVALID, "%s: SGD momentum = %g, must be finite and >= 0", fn,
                        (double)c->momentum);
    }
    return GAN_OK;
}

gan_status gan_optimizer_create(gan_optimizer **out, gan_model *model, const gan_optim_config *cfg)
{
    static const char fn[] = "gan_optimizer_create";
    GAN_CHECK_NULL(out, fn);
    *out = NULL;
    GAN_CHECK_NULL(model, fn);
    GAN_CHECK_NULL(cfg, fn);
    GAN_TRY(gan_optim_config_check(cfg, fn));
    gan_optimizer *o = gan_alloc_zero(sizeof *o);
    if (o == NULL) return GAN_E_NOMEM;
    o->model = model;
    o->cfg = *cfg;
    o->n = model->nparams;
    if (cfg->kind == GAN_OPTIM_ADAM) o->nstate = 2 * o->n;
    else o->nstate = cfg->momentum != 0.0f ? o->n : 0;
    if (o->nstate > 0 && (o->state = gan_alloc_floats(o->nstate)) == NULL) {
        gan_dealloc(o);
        return GAN_E_NOMEM;
    }
    *out = o;
    return GAN_OK;
}

void gan_optimizer_free(gan_optimizer *o)
{
    if (o == NULL) return;
    gan_dealloc(o->state);
    gan_dealloc(o);
}

/* The two passes share one formula; `commit` selects checking or writing.
 * Returns the first index whose gradient or new value is not finite, or -1. */
static int64_t adam_pass(gan_optimizer *o, bool commit)
{
    const gan_optim_config *c = &o->cfg;
    const int64_t n = o->n;
    float *p = o->model->params, *g = o->model->grads; /* (n) */
    float *m = o->state, *v = o->state + n;             /* (n) each */
    const double t = (double)(o->step + 1);
    const double bc1 = 1.0 - pow(c->beta1, t), bc2 = 1.0 - pow(c->beta2, t);
    const float b1 = c->beta1, b2 = c->beta2, wd = c->weight_decay, eps = c->eps;
    const float a1 = (float)(1.0 - c->beta1), a2 = (float)(1.0 - c->beta2);
    const float step_size = (float)(c->lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    for (int64_t i = 0; i < n; i++) {
        /* g' = g + wd p;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2
         * p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps) */
        float gi = g[i];
        if (wd != 0.0f) gi += wd * p[i];
        float mi = b1 * m[i] + a1 * gi;
        float vi = b2 * v[i] + a2 * gi * gi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        float pi = p[i] - step_size * (mi / denom);
        if (!commit) {
            if (!isfinite(gi) || !isfinite(mi) || !isfinite(vi) || !isfinite(pi)) return i;
        } else {
            m[i] = mi;
            v[i] = vi;
            p[i] = pi;
        }
    }
    return -1;
}

static int64_t sgd_pass(gan_optimizer *o, bool commit)
{
    const gan_optim_config *c = &o->cfg;
    const int64_t n = o->n;
    float *p = o->model->params, *g = o->model->grads; /* (n) */
    float *buf = o->state;                              /* (n) or NULL */
    const float lr = c->lr, wd = c->weight_decay, mu = c->momentum;
    const bool first = o->step == 0;
    for (int64_t i = 0; i < n; i++) {
        /* g' = g + wd p;  buf = g' (first step) or mu buf + g';  p -= lr buf */
        float gi = g[i];
        if (wd != 0.0f) gi += wd * p[i];
        float d = gi;
        if (buf != NULL) d = first ? gi : mu * buf[i] + gi;
        float pi = p[i] - lr * d;
        if (!commit) {
            if (!isfinite(g[i]) || !isfinite(d) || !isfinite(pi)) return i;
        } else {
            if (buf != NULL) buf[i] = d;
            p[i] = pi;
        }
    }
    return -1;
}

gan_status gan_optimizer_step(gan_optimizer *o)
{
    static const char fn[] = "gan_optimizer_step";
    GAN_CHECK_NULL(o, fn);
    gan_model *model = o->model;
    if (model->nparams != o->n)
        return gan_fail(GAN_E_STATE,
                        "%s: the model has %lld parameters now, %lld when the optimizer was created",
                        fn, (long long)model->nparams, (long long)o->n);
    if (model->frozen) return GAN_OK;
    int64_t (*pass)(gan_optimizer *, bool) = o->cfg.kind == GAN_OPTIM_ADAM ? adam_pass : sgd_pass;
    int64_t bad = pass(o, false);
    if (bad >= 0)
        return gan_fail(GAN_E_NUMERIC,
                        "%s: parameter %lld: gradient %g or its update is not finite; nothing was changed",
                        fn, (long long)bad, (double)model->grads[bad]);
    pass(o, true);
    o->step++;
    return GAN_OK;
}

gan_status gan_optimizer_set_lr(gan_optimizer *o, float lr)
{
    GAN_CHECK_NULL(o, "gan_optimizer_set_lr");
    if (!(isfinite(lr) && lr > 0.0f))
        return gan_fail(GAN_E_INVALID, "gan_optimizer_set_lr: lr = %g, must be finite and > 0",
                        (double)lr);
    o->cfg.lr = lr;
    return GAN_OK;
}

int64_t gan_optimizer_step_count(const gan_optimizer *o)
{
    return o ? o->step : 0;
}

/* --------------------------------------------------------------- internals */
gan_status gan_optimizer_state(gan_optimizer *o, float **m, float **v, int64_t *n, int64_t *step)
{
    GAN_CHECK_NULL(o, "gan_optimizer_state");
    if (m) *m = o->nstate > 0 ? o->state : NULL;
    if (v) *v = o->cfg.kind == GAN_OPTIM_ADAM ? o->state + o->n : NULL;
    if (n) *n = o->n;
    if (step) *step = o->step;
    return GAN_OK;
}

void gan_optimizer_set_step_count(gan_optimizer *o, int64_t step)
{
    if (o != NULL && step >= 0) o->step = step;
}

const gan_optim_config *gan_optimizer_config(const gan_optimizer *o)
{
    return o ? &o->cfg : NULL;
}
