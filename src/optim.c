/* optim.c — Adam and SGD over one model's params buffer, with torch.optim's
 * (1.13, single-tensor) update formulas.
 *
 * A step is all or nothing: a first pass computes every new value and
 * checks that it and the gradient are finite; only then a second pass
 * writes params and state.  So GAN_E_NUMERIC leaves everything untouched,
 * and the step count moves only with the params.  Both passes are
 * vectorised and, for a large model, split over libgan's pool (see "the
 * passes" below); neither allocates. */
#include "nn.h"
#include "core/pool.h"
#include "core/simd.h"

#include <float.h>
#include <math.h>
#include <string.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

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

/* ------------------------------------------------------------- the passes
 *
 * Both passes are elementwise, so any split gives the same bits: the
 * params go to contiguous ranges, one per task (or all to the caller when
 * the model is small).  Each range runs a vector loop (simd.h) that does
 * the scalar formula's operations in the scalar order — IEEE sqrt and
 * division are correctly rounded in both forms, and this file is compiled
 * without FMA contraction (-std=c11 implies -ffp-contract=off, and the AVX2
 * clone has no FMA) — so the results equal the plain loop's on every CPU.
 *
 * The check pass must name the FIRST index that fails.  Its vector loop
 * never branches on data: it folds a per-lane "surely fine" test into a
 * mask (SGD: x - x is +0 for a finite x and NaN otherwise, so a sum of
 * those stays 0 while all is finite; Adam: bounds on m and p that make the
 * new p finite without computing it, see adam_four_safe).  At the end of
 * each BLOCK the mask is tested, and a block that failed is rescanned with
 * the exact scalar predicate — which may still find every value finite.
 * Task t keeps its range's first failure, and the ranges are in order, so
 * the lowest t that failed has the answer. */

/* Below this many params a step runs on the calling thread.  Measured (2
 * cores, Adam): 32 K params take ~55 us on one thread; split in two they
 * take ~28 us when the helpers are still spinning from the previous region
 * and ~57 us when they must be woken; at 4 K, 7 us alone, 12 us split with
 * sleeping helpers. */
#define PAR_MIN 32768
/* Params per task at least, and tasks per thread at most (a thread the OS
 * has descheduled leaves only small pieces for the others to take). */
#define TASK_MIN 16384
#define TASKS_PER_THREAD 4
#define MAX_TASKS (TASKS_PER_THREAD * GAN_POOL_MAX)
/* The check pass tests for a non-finite value once per this many params. */
#define BLOCK 1024
/* Adam's check: |p| at most this, and |lr / bc1 * m / denom| at most this
 * too, make the new p finite (2e37 < FLT_MAX = 3.4e38). */
#define P_SAFE 1e37f

/* What a pass needs: the step's constants and the buffers. */
typedef struct step_args {
    float *p;                /* (n) params                                     */
    const float *g;          /* (n) gradients                                  */
    float *m, *v;            /* Adam: (n) each;  SGD: m = momentum buffer or NULL */
    int64_t n;
    bool adam, commit;
    bool decay;              /* weight_decay != 0                              */
    bool momentum;           /* SGD: buf = mu buf + g' (not the first step)    */
    float wd;
    float b1, b2, a1, a2, eps, step_size, bc2_sqrt; /* Adam */
    float m_safe;            /* Adam: |m| <= m_safe gives a finite update   */
    float lr, mu;            /* SGD */
} step_args;

typedef struct step_job {
    step_args a;
    int64_t bad[MAX_TASKS];  /* check: first failing index in task t's range, or -1 */
} step_job;

GAN_INLINE gan_v4 v4_sqrt(gan_v4 x)
{
#if defined(__SSE__)
    return (gan_v4)_mm_sqrt_ps((__m128)x);
#else
    float l[4];
    memcpy(l, &x, sizeof l);
    for (int k = 0; k < 4; k++) l[k] = sqrtf(l[k]);
    return gan_v4_load(l);
#endif
}

/* Are all lanes of a mask set? */
GAN_INLINE bool v4_all(gan_v4i mask)
{
    int32_t l[4];
    memcpy(l, &mask, sizeof l);
    return (l[0] & l[1] & l[2] & l[3]) != 0;
}

/* Does any lane hold a NaN? */
GAN_INLINE bool v4_any_nan(gan_v4 x)
{
    gan_v4i nan = x != x;
    int32_t l[4];
    memcpy(l, &nan, sizeof l);
    return (l[0] | l[1] | l[2] | l[3]) != 0;
}

/* x - x: +0 if x is finite, NaN if it is infinite or NaN */
GAN_INLINE gan_v4 v4_nonfinite(gan_v4 x)
{
    return x - x;
}

/* Adam, torch.optim.Adam's formula at i (scalar) or i..i+3 (vector):
 *   g' = g + wd p;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2
 *   p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps) */
GAN_INLINE bool adam_one(const step_args *j, int64_t i, bool decay, float *gi, float *mi, float *vi,
                         float *pi)
{
    float g = j->g[i];
    if (decay) g += j->wd * j->p[i];
    const float m = j->b1 * j->m[i] + j->a1 * g;
    const float v = j->b2 * j->v[i] + j->a2 * g * g;
    const float denom = sqrtf(v) / j->bc2_sqrt + j->eps;
    const float p = j->p[i] - j->step_size * (m / denom);
    *gi = g, *mi = m, *vi = v, *pi = p;
    return isfinite(g) && isfinite(m) && isfinite(v) && isfinite(p);
}

/* The vector form's g', m and v of i..i+3 (p0: the params there). */
GAN_INLINE void adam_gmv4(const step_args *j, int64_t i, bool decay, gan_v4 p0, gan_v4 *gi,
                          gan_v4 *mi, gan_v4 *vi)
{
    gan_v4 g = gan_v4_load(j->g + i);
    if (decay) g += gan_v4_splat(j->wd) * p0;
    *gi = g;
    *mi = gan_v4_splat(j->b1) * gan_v4_load(j->m + i) + gan_v4_splat(j->a1) * g;
    *vi = gan_v4_splat(j->b2) * gan_v4_load(j->v + i) + gan_v4_splat(j->a2) * g * g;
}

GAN_INLINE void adam_four(const step_args *j, int64_t i, bool decay, gan_v4 *mi, gan_v4 *vi,
                          gan_v4 *pi)
{
    const gan_v4 p0 = gan_v4_load(j->p + i);
    gan_v4 g, m, v;
    adam_gmv4(j, i, decay, p0, &g, &m, &v);
    const gan_v4 denom = v4_sqrt(v) / gan_v4_splat(j->bc2_sqrt) + gan_v4_splat(j->eps);
    *mi = m, *vi = v;
    *pi = p0 - gan_v4_splat(j->step_size) * (m / denom);
}

/* All ones in the lanes where g', m, v and the new p are surely finite:
 * g' finite, m within +-m_safe, v in [0, FLT_MAX] and p within +-P_SAFE
 * (see step_args_init).  Needs no sqrt or division, the slow part. */
GAN_INLINE gan_v4i adam_four_safe(const step_args *j, int64_t i, bool decay)
{
    const gan_v4 p0 = gan_v4_load(j->p + i), zero = gan_v4_splat(0.0f);
    const gan_v4 ms = gan_v4_splat(j->m_safe), ps = gan_v4_splat(P_SAFE);
    gan_v4 g, m, v;
    adam_gmv4(j, i, decay, p0, &g, &m, &v);
    return (g - g == zero) & (m <= ms) & (m >= -ms) & (v >= zero) & (v <= gan_v4_splat(FLT_MAX)) &
           (p0 <= ps) & (p0 >= -ps);
}

/* First index in [lo, hi) whose g', m, v or p would not be finite, or -1. */
GAN_INLINE int64_t adam_check(const step_args *j, int64_t lo, int64_t hi, bool decay)
{
    float g, m, v, p;
    for (int64_t b = lo; b < hi; b += BLOCK) {
        const int64_t e = hi - b < BLOCK ? hi : b + BLOCK;
        gan_v4i safe = ~(gan_v4i){0, 0, 0, 0};
        int64_t i = b;
        for (; i + 4 <= e; i += 4) safe &= adam_four_safe(j, i, decay);
        bool ok = v4_all(safe);
        for (; i < e; i++) ok &= adam_one(j, i, decay, &g, &m, &v, &p);
        if (ok) continue;
        for (i = b; i < e; i++)
            if (!adam_one(j, i, decay, &g, &m, &v, &p)) return i;
    }
    return -1;
}

/* Write the new m, v and p of [lo, hi). */
GAN_INLINE void adam_commit(const step_args *j, int64_t lo, int64_t hi, bool decay)
{
    float g, m, v, p;
    gan_v4 m4, v4, p4;
    int64_t i = lo;
    for (; i + 4 <= hi; i += 4) {
        adam_four(j, i, decay, &m4, &v4, &p4);
        gan_v4_store(j->m + i, m4);
        gan_v4_store(j->v + i, v4);
        gan_v4_store(j->p + i, p4);
    }
    for (; i < hi; i++) {
        adam_one(j, i, decay, &g, &m, &v, &p);
        j->m[i] = m, j->v[i] = v, j->p[i] = p;
    }
}

/* The pass over [lo, hi), with weight decay on or off fixed per loop.  The
 * local copy of the constants lets them live in registers: a store to m, v
 * or p could otherwise alias them. */
GAN_HOT static int64_t adam_range(const step_args *args, int64_t lo, int64_t hi)
{
    const step_args copy = *args, *j = &copy;
    if (!j->commit) return j->decay ? adam_check(j, lo, hi, true) : adam_check(j, lo, hi, false);
    if (j->decay) adam_commit(j, lo, hi, true);
    else adam_commit(j, lo, hi, false);
    return -1;
}

/* SGD, torch.optim.SGD's formula at i (scalar) or i..i+3 (vector):
 *   g' = g + wd p;  d = mu buf + g' (momentum) or g' (none, or the first step)
 *   p -= lr d */
GAN_INLINE bool sgd_one(const step_args *j, int64_t i, bool decay, bool momentum, float *di, float *pi)
{
    float g = j->g[i];
    if (decay) g += j->wd * j->p[i];
    const float d = momentum ? j->mu * j->m[i] + g : g;
    const float p = j->p[i] - j->lr * d;
    *di = d, *pi = p;
    return isfinite(j->g[i]) && isfinite(d) && isfinite(p);
}

GAN_INLINE void sgd_four(const step_args *j, int64_t i, bool decay, bool momentum, gan_v4 *di,
                         gan_v4 *pi)
{
    const gan_v4 p0 = gan_v4_load(j->p + i);
    gan_v4 g = gan_v4_load(j->g + i);
    if (decay) g += gan_v4_splat(j->wd) * p0;
    const gan_v4 d = momentum ? gan_v4_splat(j->mu) * gan_v4_load(j->m + i) + g : g;
    *di = d;
    *pi = p0 - gan_v4_splat(j->lr) * d;
}

/* First index in [lo, hi) whose g, d or p is not finite, or -1. */
GAN_INLINE int64_t sgd_check(const step_args *j, int64_t lo, int64_t hi, bool decay, bool momentum)
{
    float d, p;
    for (int64_t b = lo; b < hi; b += BLOCK) {
        const int64_t e = hi - b < BLOCK ? hi : b + BLOCK;
        gan_v4 acc = gan_v4_splat(0.0f), d4, p4;
        int64_t i = b;
        for (; i + 4 <= e; i += 4) {
            sgd_four(j, i, decay, momentum, &d4, &p4);
            acc += (v4_nonfinite(gan_v4_load(j->g + i)) + v4_nonfinite(d4)) + v4_nonfinite(p4);
        }
        bool ok = !v4_any_nan(acc);
        for (; i < e; i++) ok &= sgd_one(j, i, decay, momentum, &d, &p);
        if (ok) continue;
        for (i = b; i < e; i++)
            if (!sgd_one(j, i, decay, momentum, &d, &p)) return i;
    }
    return -1;
}

/* Write the new p (and buf, if kept) of [lo, hi). */
GAN_INLINE void sgd_commit(const step_args *j, int64_t lo, int64_t hi, bool decay, bool momentum,
                           bool keep)
{
    float d, p;
    gan_v4 d4, p4;
    int64_t i = lo;
    for (; i + 4 <= hi; i += 4) {
        sgd_four(j, i, decay, momentum, &d4, &p4);
        if (keep) gan_v4_store(j->m + i, d4);
        gan_v4_store(j->p + i, p4);
    }
    for (; i < hi; i++) {
        sgd_one(j, i, decay, momentum, &d, &p);
        if (keep) j->m[i] = d;
        j->p[i] = p;
    }
}

/* The pass over [lo, hi), one loop per (decay, momentum, keep buf). */
GAN_HOT static int64_t sgd_range(const step_args *args, int64_t lo, int64_t hi)
{
    const step_args copy = *args, *j = &copy;
    const bool keep = j->m != NULL, dk = j->decay, mo = j->momentum && keep; /* momentum reads buf */
    if (!j->commit) {
        if (dk) return mo ? sgd_check(j, lo, hi, true, true) : sgd_check(j, lo, hi, true, false);
        return mo ? sgd_check(j, lo, hi, false, true) : sgd_check(j, lo, hi, false, false);
    }
    if (mo) {
        if (dk) sgd_commit(j, lo, hi, true, true, true);
        else sgd_commit(j, lo, hi, false, true, true);
    } else if (keep) {
        if (dk) sgd_commit(j, lo, hi, true, false, true);
        else sgd_commit(j, lo, hi, false, false, true);
    } else {
        if (dk) sgd_commit(j, lo, hi, true, false, false);
        else sgd_commit(j, lo, hi, false, false, false);
    }
    return -1;
}

static int64_t run_range(const step_args *a, int64_t lo, int64_t hi)
{
    return a->adam ? adam_range(a, lo, hi) : sgd_range(a, lo, hi);
}

static void step_task(void *ctx, int t, int ntasks, int thread)
{
    (void)thread;
    step_job *j = ctx;
    int64_t lo, hi;
    gan_split(j->a.n, t, ntasks, &lo, &hi);
    j->bad[t] = run_range(&j->a, lo, hi);
}

/* Tasks for n params: 1 (the caller alone) for a small model or one
 * thread, else at least TASK_MIN params each, at most TASKS_PER_THREAD
 * per thread. */
static int task_count(int64_t n)
{
    const int threads = gan_pool_size(GAN_POOL_MAX);
    if (n < PAR_MIN || threads == 1) return 1;
    const int64_t most = (int64_t)TASKS_PER_THREAD * threads, k = n / TASK_MIN;
    return (int)(k < most ? k : most);
}

/* Run one pass; the check pass returns the first failing index, or -1. */
static int64_t run_pass(step_job *j, int ntasks, bool commit)
{
    j->a.commit = commit;
    if (ntasks == 1) return run_range(&j->a, 0, j->a.n);
    gan_parallel(step_task, j, ntasks, GAN_POOL_MAX);
    for (int t = 0; t < ntasks; t++)
        if (j->bad[t] >= 0) return j->bad[t];
    return -1;
}

/* The constants of this step (the step counts from 1). */
static void step_args_init(step_args *j, gan_optimizer *o)
{
    const gan_optim_config *c = &o->cfg;
    const int64_t n = o->n;
    j->p = o->model->params;
    j->g = o->model->grads;
    j->n = n;
    j->adam = c->kind == GAN_OPTIM_ADAM;
    j->wd = c->weight_decay;
    j->decay = c->weight_decay != 0.0f;
    if (j->adam) {
        const double t = (double)(o->step + 1);
        const double bc1 = 1.0 - pow(c->beta1, t), bc2 = 1.0 - pow(c->beta2, t);
        j->m = o->state;
        j->v = o->state + n;
        j->b1 = c->beta1, j->b2 = c->beta2, j->eps = c->eps;
        j->a1 = (float)(1.0 - c->beta1), j->a2 = (float)(1.0 - c->beta2);
        j->step_size = (float)(c->lr / bc1), j->bc2_sqrt = (float)sqrt(bc2);
        /* denom >= eps (or is +inf), so |m| <= P_SAFE eps / max(step_size, 1)
         * keeps both m / denom and step_size * (m / denom) within P_SAFE (up
         * to a few roundings, far below FLT_MAX).  An infinite step size
         * turns the shortcut off: m_safe < 0 sends every block to the exact
         * check. */
        const double ss = j->step_size, ms = (double)P_SAFE * c->eps / (ss > 1.0 ? ss : 1.0);
        j->m_safe = isfinite(j->step_size) ? (ms < FLT_MAX ? (float)ms : FLT_MAX) : -1.0f;
    } else {
        j->m = o->state; /* NULL without momentum */
        j->momentum = o->state != NULL && o->step != 0;
        j->lr = c->lr, j->mu = c->momentum;
    }
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
    GAN_TRY(gan_model_ensure_grads(model, fn)); /* no backward yet: zero gradients */
    step_job j;
    memset(&j.a, 0, sizeof j.a);
    step_args_init(&j.a, o);
    const int ntasks = task_count(o->n);
    const int64_t bad = run_pass(&j, ntasks, false);
    if (bad >= 0)
        return gan_fail(GAN_E_NUMERIC,
                        "%s: parameter %lld: gradient %g or its update is not finite; nothing was changed",
                        fn, (long long)bad, (double)model->grads[bad]);
    run_pass(&j, ntasks, true);
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
