/* trainer.c — the minimax step, in the order of PyTorch's DCGAN example:
 *
 *   D.zero_grad; D(real) -> loss(real); backward             (dx not needed)
 *   z ~ noise;  fake = G(z)                                   (once)
 *   D(fake) -> loss(fake); backward                           (no gradient into G)
 *   optD.step   (+ WGAN clipping)
 *   every n_critic-th call:
 *     D frozen; G.zero_grad; D(fake) with the updated D -> G's loss
 *     backward through D (dL/dfake) and on through G; optG.step; D unfrozen
 *
 * Failure atomicity: before touching anything the step copies what it may
 * change and cannot undo by itself — D's params, optD's state, the running
 * statistics of both models — into buffers allocated at create.  G's params
 * and optG change only in the final optimizer step, which is all-or-nothing. */
#include "nn.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

void gan_trainer_config_default(gan_trainer_config *cfg)
{
    if (cfg == NULL) return;
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->loss = GAN_LOSS_NONSAT;
    cfg->noise = GAN_NOISE_NORMAL;
    gan_optim_config_default(&cfg->opt_g);
    gan_optim_config_default(&cfg->opt_d);
    cfg->n_critic = 1;
    cfg->clip = 0.01f;
    cfg->real_label = 1.0f;
    cfg->seed = 0;
}

static gan_status check_config(const gan_trainer_config *c, const char *fn)
{
    if ((unsigned)c->loss > GAN_LOSS_WGAN)
        return gan_fail(GAN_E_INVALID, "%s: unknown loss family %d", fn, (int)c->loss);
    if ((unsigned)c->noise > GAN_NOISE_UNIFORM)
        return gan_fail(GAN_E_INVALID, "%s: unknown noise distribution %d", fn, (int)c->noise);
    if (c->n_critic < 1 || c->n_critic > 1000)
        return gan_fail(GAN_E_INVALID, "%s: n_critic = %d, must be 1..1000", fn, c->n_critic);
    if (!(isfinite(c->clip) && c->clip >= 0.0f))
        return gan_fail(GAN_E_INVALID, "%s: clip = %g, must be finite and >= 0", fn, (double)c->clip);
    if (!(c->real_label > 0.0f && c->real_label <= 1.0f))
        return gan_fail(GAN_E_INVALID, "%s: real_label = %g, must be in (0, 1]", fn,
                        (double)c->real_label);
    GAN_TRY(gan_optim_config_check(&c->opt_g, "gan_trainer_create (opt_g)"));
    GAN_TRY(gan_optim_config_check(&c->opt_d, "gan_trainer_create (opt_d)"));
    return GAN_OK;
}

static void trainer_destroy(gan_trainer *t)
{
    gan_optimizer_free(t->opt_g);
    gan_optimizer_free(t->opt_d);
    gan_dealloc(t->zbuf);
    gan_dealloc(t->gbuf);
    gan_dealloc(t->snap_d_params);
    gan_dealloc(t->snap_d_opt);
    gan_dealloc(t->snap_d_buf);
    gan_dealloc(t->snap_g_buf);
    gan_dealloc(t->snap_d_nbt);
    gan_dealloc(t->snap_g_nbt);
    gan_dealloc(t->arena.block); /* after the models: they no longer use it */
    gan_dealloc(t);
}

gan_status gan_trainer_create(gan_trainer **out, gan_model *g, gan_model *d,
                              const gan_trainer_config *cfg)
{
    static const char fn[] = "gan_trainer_create";
    GAN_CHECK_NULL(out, fn);
    *out = NULL;
    GAN_CHECK_NULL(g, fn);
    GAN_CHECK_NULL(d, fn);
    GAN_CHECK_NULL(cfg, fn);
    if (g == d) return gan_fail(GAN_E_INVALID, "%s: g and d are the same model", fn);
    if (g->owner != NULL || d->owner != NULL)
        return gan_fail(GAN_E_STATE, "%s: %s already belongs to a trainer", fn,
                        g->owner != NULL ? "g" : "d");
    const size_t v1_size = offsetof(gan_trainer_config, seed) + sizeof cfg->seed;
    if (cfg->struct_size < v1_size)
        return gan_fail(GAN_E_INVALID,
                        "%s: cfg->struct_size = %zu; start from gan_trainer_config_default", fn,
                        cfg->struct_size);
    gan_trainer_config c;
    gan_trainer_config_default(&c);
    memcpy(&c, cfg, cfg->struct_size < sizeof c ? cfg->struct_size : sizeof c);
    c.struct_size = sizeof c;
    GAN_TRY(check_config(&c, fn));

    if (g->nlayers == 0 || d->nlayers == 0)
        return gan_fail(GAN_E_STATE, "%s: %s has no layers", fn, g->nlayers == 0 ? "g" : "d");
    if (!gan_shape_equal(&g->out, &d->in)) {
        char a[96], b[96];
        return gan_fail(GAN_E_SHAPE, "%s: G's per-sample output %s differs from D's input %s", fn,
                        gan_shape_str(&g->out, a, sizeof a), gan_shape_str(&d->in, b, sizeof b));
    }
    if (gan_shape_numel(&d->out) != 1) {
        char a[96];
        return gan_fail(GAN_E_SHAPE, "%s: D must output one logit per sample, its output is %s",
                        fn, gan_shape_str(&d->out, a, sizeof a));
    }

    /* the gradients now, so that steps never allocate them */
    GAN_TRY(gan_model_ensure_grads(g, fn));
    GAN_TRY(gan_model_ensure_grads(d, fn));
    gan_trainer *t = gan_alloc_zero(sizeof *t);
    if (t == NULL) return GAN_E_NOMEM;
    t->g = g;
    t->d = d;
    t->cfg = c;
    gan_rng_seed(&t->rng, c.seed);
    gan_status st = gan_optimizer_create(&t->opt_g, g, &c.opt_g);
    if (st == GAN_OK) st = gan_optimizer_create(&t->opt_d, d, &c.opt_d);
    if (st != GAN_OK) {
        trainer_destroy(t);
        return st;
    }
    if ((t->snap_d_params = gan_alloc_floats(d->nparams)) == NULL ||
        (t->snap_d_opt = gan_alloc_floats(t->opt_d->nstate)) == NULL ||
        (t->snap_d_buf = gan_alloc_floats(gan_model_buffer_floats(d))) == NULL ||
        (t->snap_g_buf = gan_alloc_floats(gan_model_buffer_floats(g))) == NULL ||
        (t->snap_d_nbt = gan_alloc_zero((size_t)d->nlayers * sizeof(int64_t))) == NULL ||
        (t->snap_g_nbt = gan_alloc_zero((size_t)g->nlayers * sizeof(int64_t))) == NULL) {
        trainer_destroy(t);
        return GAN_E_NOMEM;
    }
    g->owner = t;
    d->owner = t;
    t->arena = (gan_arena){.users = {g, d}, .nusers = 2};
    gan_model_share_arena(g, &t->arena); /* the first step plans both again */
    gan_model_share_arena(d, &t->arena);
    *out = t;
    return GAN_OK;
}

void gan_trainer_free(gan_trainer *t)
{
    if (t == NULL) return;
    gan_model_destroy_owned(t->g);
    gan_model_destroy_owned(t->d);
    trainer_destroy(t);
}

/* Size the noise and dL/dlogits buffers for n samples, and the scratch
 * arena for both models at once (grown model by model, the old block and
 * the new would both be live for a moment: the sum the arena saves). */
static gan_status plan(gan_trainer *t, int64_t n)
{
    if (n <= t->planned) return GAN_OK;
    size_t gneed, dneed;
    GAN_TRY(gan_model_scratch_need(t->g, n, &gneed));
    gan_status st = gan_model_scratch_need(t->d, n, &dneed);
    if (st == GAN_OK)
        st = gan_arena_grow(&t->arena, gneed > dneed ? gneed : dneed, "gan_train_step");
    if (st != GAN_OK) {
        gan_model_restore_layout(t->g);
        gan_model_restore_layout(t->d);
        return st;
    }
    float *z = gan_alloc_floats(n * gan_shape_numel(&t->g->in));
    float *g = gan_alloc_floats(n);
    if (z == NULL || g == NULL) {
        gan_dealloc(z);
        gan_dealloc(g);
        return gan_fail(GAN_E_NOMEM, "gan_train_step: out of memory for a batch of %lld",
                        (long long)n);
    }
    gan_dealloc(t->zbuf);
    gan_dealloc(t->gbuf);
    t->zbuf = z;
    t->gbuf = g;
    t->planned = n;
    return GAN_OK;
}

static bool is_batch_of(const gan_tensor *x, const gan_shape *sample)
{
    if (x->shape.ndim != sample->ndim + 1) return false;
    for (int i = 0; i < sample->ndim; i++)
        if (x->shape.d[i + 1] != sample->d[i]) return false;
    return true;
}

static gan_status batch_error(const char *fn, const char *what, const gan_tensor *x,
                              const gan_shape *sample, int64_t n)
{
    char got[96], want[96];
    gan_shape w = gan_batch_shape(n, sample);
    return gan_fail(GAN_E_SHAPE, "%s: %s must be %s, got %s", fn, what,
                    gan_shape_str(&w, want, sizeof want), gan_shape_str(&x->shape, got, sizeof got));
}

static void snapshot(gan_trainer *t)
{
    gan_model *d = t->d;
    if (d->nparams) memcpy(t->snap_d_params, d->params, (size_t)d->nparams * sizeof(float));
    if (t->opt_d->nstate)
        memcpy(t->snap_d_opt, t->opt_d->state, (size_t)t->opt_d->nstate * sizeof(float));
    gan_model_save_buffers(d, t->snap_d_buf, t->snap_d_nbt);
    gan_model_save_buffers(t->g, t->snap_g_buf, t->snap_g_nbt);
}

static void rollback(gan_trainer *t, int64_t opt_d_step, bool d_frozen)
{
    gan_model *d = t->d;
    if (d->nparams) memcpy(d->params, t->snap_d_params, (size_t)d->nparams * sizeof(float));
    if (t->opt_d->nstate)
        memcpy(t->opt_d->state, t->snap_d_opt, (size_t)t->opt_d->nstate * sizeof(float));
    t->opt_d->step = opt_d_step;
    gan_model_load_buffers(d, t->snap_d_buf, t->snap_d_nbt);
    gan_model_load_buffers(t->g, t->snap_g_buf, t->snap_g_nbt);
    d->frozen = d_frozen;
}

/* WGAN: clamp every parameter of D to [-c, c]. */
static void clip_params(gan_model *d, float c)
{
    for (int64_t i = 0; i < d->nparams; i++) {
        float p = d->params[i];
        d->params[i] = p < -c ? -c : p > c ? c : p;
    }
}

gan_status gan_trainer_step_with_noise(gan_trainer *t, const gan_tensor *real,
                                       const gan_tensor *z, gan_step_stats *stats)
{
    static const char fn[] = "gan_train_step";
    GAN_CHECK_NULL(t, fn);
    GAN_CHECK_NULL(real, fn);
    GAN_CHECK_NULL(z, fn);
    gan_model *g = t->g, *d = t->d;
    if (!is_batch_of(real, &d->in))
        return batch_error(fn, "the real batch (N, D's input)", real, &d->in,
                           real->shape.ndim > 0 ? real->shape.d[0] : 0);
    const int64_t n = real->shape.d[0];
    if (!is_batch_of(z, &g->in) || z->shape.d[0] != n)
        return batch_error(fn, "the noise (N, G's input)", z, &g->in, n);
    GAN_TRY(plan(t, n));
    /* dL/dlogits (n, D out...) */
    gan_shape ls = gan_batch_shape(n, &d->out);
    gan_tensor_view(&t->g_view, t->gbuf, &ls);
    gan_tensor *dlogits = &t->g_view;

    const gan_trainer_config *c = &t->cfg;
    const bool g_step = (t->step + 1) % c->n_critic == 0;
    const bool d_frozen = d->frozen;
    const int64_t opt_d_step = t->opt_d->step;
    gan_step_stats s;
    memset(&s, 0, sizeof s);
    s.loss_g = s.d_fake_after = s.grad_norm_g = NAN;
    const char *what = NULL; /* the quantity that went non-finite */
    gan_status st;
    snapshot(t);

    /* (1) D on the real batch, labelled real */
    const gan_tensor *logits, *fake, *dfake;
    float loss_real, loss_fake;
    gan_model_zero_grad(d);
    if ((st = gan_model_forward(d, real, &logits)) != GAN_OK) goto fail;
    gan_loss_discriminator(c->loss, logits, 1, c->real_label, &loss_real, dlogits);
    s.d_real = gan_loss_mean_sigmoid(logits);
    if (!isfinite(loss_real)) {
        what = "D's loss on the real batch";
        goto numeric;
    }
    if ((st = gan_model_backward(d, dlogits, NULL)) != GAN_OK) goto fail;

    /* (2) fake = G(z); D on it, labelled fake, no gradient into G; D's step */
    if ((st = gan_model_forward(g, z, &fake)) != GAN_OK) goto fail;
    if ((st = gan_model_forward(d, fake, &logits)) != GAN_OK) goto fail;
    gan_loss_discriminator(c->loss, logits, 0, c->real_label, &loss_fake, dlogits);
    s.d_fake_before = gan_loss_mean_sigmoid(logits);
    if (!isfinite(loss_fake)) {
        what = "D's loss on the fake batch";
        goto numeric;
    }
    if ((st = gan_model_backward(d, dlogits, NULL)) != GAN_OK) goto fail;
    s.loss_d = loss_real + loss_fake;
    s.grad_norm_d = (float)gan_model_grad_norm(d);
    if ((st = gan_optimizer_step(t->opt_d)) != GAN_OK) goto fail;
    if (c->loss == GAN_LOSS_WGAN && c->clip > 0.0f && !d->frozen) clip_params(d, c->clip);

    /* (3) D frozen; the same fake through the updated D with G's loss */
    if (g_step) {
        d->frozen = true;
        gan_model_zero_grad(g);
        if ((st = gan_model_forward(d, fake, &logits)) != GAN_OK) goto fail;
        gan_loss_generator(c->loss, logits, &s.loss_g, dlogits);
        s.d_fake_after = gan_loss_mean_sigmoid(logits);
        if (!isfinite(s.loss_g)) {
            what = "G's loss";
            goto numeric;
        }
        if ((st = gan_model_backward(d, dlogits, &dfake)) != GAN_OK) goto fail;
        if ((st = gan_model_backward(g, dfake, NULL)) != GAN_OK) goto fail;
        d->frozen = d_frozen;
        s.grad_norm_g = (float)gan_model_grad_norm(g);
        if ((st = gan_optimizer_step(t->opt_g)) != GAN_OK) goto fail;
    }

    t->step++;
    s.step = t->step;
    if (stats) *stats = s;
    return GAN_OK;

numeric:
    st = gan_fail(GAN_E_NUMERIC, "%s: %s is not finite; G, D and both optimizers are unchanged",
                  fn, what);
fail:
    rollback(t, opt_d_step, d_frozen);
    return st;
}

static gan_status draw_noise(gan_trainer *t, int64_t n, gan_tensor **z)
{
    GAN_TRY(plan(t, n));
    gan_shape zs = gan_batch_shape(n, &t->g->in);
    gan_tensor_view(&t->z_view, t->zbuf, &zs);
    if (t->cfg.noise == GAN_NOISE_UNIFORM) GAN_TRY(gan_rng_fill_uniform(&t->rng, &t->z_view, -1.0f, 1.0f));
    else GAN_TRY(gan_rng_fill_normal(&t->rng, &t->z_view, 0.0f, 1.0f));
    *z = &t->z_view;
    return GAN_OK;
}

gan_status gan_train_step(gan_trainer *t, const gan_tensor *real, gan_step_stats *stats)
{
    static const char fn[] = "gan_train_step";
    GAN_CHECK_NULL(t, fn);
    GAN_CHECK_NULL(real, fn);
    if (!is_batch_of(real, &t->d->in))
        return batch_error(fn, "the real batch (N, D's input)", real, &t->d->in,
                           real->shape.ndim > 0 ? real->shape.d[0] : 0);
    gan_rng saved = t->rng; /* a failed step leaves the noise stream alone too */
    gan_tensor *z;
    GAN_TRY(draw_noise(t, real->shape.d[0], &z));
    gan_status st = gan_trainer_step_with_noise(t, real, z, stats);
    if (st != GAN_OK) t->rng = saved;
    return st;
}

gan_status gan_trainer_generate(gan_trainer *t, const gan_tensor *z, gan_tensor *out)
{
    static const char fn[] = "gan_trainer_generate";
    GAN_CHECK_NULL(t, fn);
    GAN_CHECK_NULL(out, fn);
    gan_model *g = t->g;
    if (!is_batch_of(out, &g->out))
        return batch_error(fn, "out (N, G's output)", out, &g->out,
                           out->shape.ndim > 0 ? out->shape.d[0] : 0);
    const int64_t n = out->shape.d[0];
    gan_tensor *zz = NULL;
    if (z == NULL) GAN_TRY(draw_noise(t, n, &zz));
    else if (!is_batch_of(z, &g->in) || z->shape.d[0] != n)
        return batch_error(fn, "z (N, G's input)", z, &g->in, n);
    const bool training = g->training;
    const gan_tensor *y;
    gan_model_set_training(g, 0);
    gan_status st = gan_model_forward(g, z != NULL ? z : zz, &y);
    gan_model_set_training(g, training);
    GAN_TRY(st);
    memcpy(out->data, y->data, (size_t)y->numel * sizeof(float));
    return GAN_OK;
}

gan_model *gan_trainer_generator(gan_trainer *t)
{
    return t ? t->g : NULL;
}

gan_model *gan_trainer_discriminator(gan_trainer *t)
{
    return t ? t->d : NULL;
}

gan_optimizer *gan_trainer_optimizer(gan_trainer *t, int discriminator)
{
    if (t == NULL) return NULL;
    return discriminator ? t->opt_d : t->opt_g;
}

gan_rng *gan_trainer_rng(gan_trainer *t)
{
    return t ? &t->rng : NULL;
}

int64_t gan_trainer_step_count(const gan_trainer *t)
{
    return t ? t->step : 0;
}

gan_status gan_trainer_set_epoch(gan_trainer *t, int64_t epoch)
{
    GAN_CHECK_NULL(t, "gan_trainer_set_epoch");
    if (epoch < 0)
        return gan_fail(GAN_E_INVALID, "gan_trainer_set_epoch: epoch = %lld, must be >= 0",
                        (long long)epoch);
    t->epoch = epoch;
    return GAN_OK;
}

int64_t gan_trainer_epoch(const gan_trainer *t)
{
    return t ? t->epoch : 0;
}

gan_status gan_trainer_memory(const gan_trainer *t, gan_memory_info *info)
{
    GAN_CHECK_NULL(t, "gan_trainer_memory");
    GAN_CHECK_NULL(info, "gan_trainer_memory");
    gan_memory_info r, d;
    gan_model_memory_of(t->g, &r);
    gan_model_memory_of(t->d, &d);
    r.parameters += d.parameters;
    r.gradients += d.gradients;
    r.buffers += d.buffers;
    r.activations += d.activations;
    /* r.scratch: the arena G and D share, counted once */
    r.optimizer = (size_t)(t->opt_g->nstate + t->opt_d->nstate) * sizeof(float);
    const int64_t noise = t->planned * (gan_shape_numel(&t->g->in) + 1); /* zbuf, gbuf */
    const int64_t snap = t->d->nparams + t->opt_d->nstate + gan_model_buffer_floats(t->d) +
                         gan_model_buffer_floats(t->g);
    r.other = (size_t)(noise + snap) * sizeof(float) +
              (size_t)(t->d->nlayers + t->g->nlayers) * sizeof(int64_t);
    return gan_memory_info_store(info, &r, "gan_trainer_memory");
}

/* --------------------------------------------------------------- internals */
const gan_trainer_config *gan_trainer_get_config(const gan_trainer *t)
{
    return t ? &t->cfg : NULL;
}

void gan_trainer_set_step_count(gan_trainer *t, int64_t step)
{
    if (t != NULL && step >= 0) t->step = step;
}
