/* test_allocfail.c — allocation-failure injection and the zero-allocation
 * rule of the hot path.
 *
 * A counting allocator hook (gan_set_allocator) refuses the k-th request,
 * for k = 1, 2, ... until the operation under test gets through without
 * meeting the failure.  Each sweep runs twice: once refusing only the k-th
 * request (catches code that ignores a NULL and carries on) and once
 * refusing the k-th and every later one (catches clean-up paths that
 * allocate).  Every refused call must return GAN_E_NOMEM, leak nothing
 * (blocks handed out == blocks given back once the handles are freed),
 * leave its handles usable — the same call succeeds when memory is back —
 * and change nothing a caller can observe (a refused save leaves the old
 * file and no temporary behind; a refused load_weights leaves the model).
 * jansson's own allocations (the JSON header) go through malloc, not the
 * hook, so they are not swept here; valgrind watches them. */
#include "testutil.h"
#include "nn.h"

#include <dirent.h>
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------ the hook */
typedef struct fault_hook {
    long calls;      /* alloc_fn calls since the last arm                 */
    long fail_at;    /* 1-based call to refuse; 0: refuse nothing          */
    bool fail_after; /* also refuse every call after fail_at               */
    long failed;     /* calls refused since the last arm                   */
    long live;       /* blocks handed out and not yet given back           */
    bool trace;      /* remember the stack of the first call after arming  */
    void *stack[16];
    int depth;
} fault_hook;

static fault_hook hook;

static void *hook_alloc(void *user, size_t size)
{
    (void)user;
    long n = ++hook.calls;
    if (hook.trace && n == 1) hook.depth = backtrace(hook.stack, 16);
    if (hook.fail_at > 0 && (n == hook.fail_at || (hook.fail_after && n > hook.fail_at))) {
        hook.failed++;
        return NULL;
    }
    void *p = malloc(size);
    if (p != NULL) hook.live++;
    return p;
}

static void hook_free(void *user, void *p)
{
    (void)user;
    if (p != NULL) hook.live--;
    free(p);
}

static void hook_install(void)
{
    memset(&hook, 0, sizeof hook);
    gan_allocator a = {hook_alloc, hook_free, NULL};
    ck_assert_int_eq(gan_set_allocator(&a), GAN_OK);
}

/* Checked teardown: a failed assertion must not leave the hook behind
 * (matters with CK_FORK=no, e.g. under valgrind). */
static void tmp_remove(void);

static void hook_remove(void)
{
    gan_set_allocator(NULL);
    hook.fail_at = 0;
    tmp_remove(); /* a failed io test's files */
}

static void arm(long k, bool after)
{
    hook.calls = hook.failed = 0;
    hook.fail_at = k;
    hook.fail_after = after;
}

static void disarm(void)
{
    hook.fail_at = 0;
}

/* Where the first allocation since arm() came from, for failure messages
 * (resolve "check_gan(+0x...)" with addr2line -e check_gan). */
static const char *first_alloc_site(void)
{
    static char buf[1024];
    buf[0] = '\0';
    char **sym = backtrace_symbols(hook.stack, hook.depth);
    if (sym == NULL) return buf;
    size_t used = 0;
    for (int i = 1; i < hook.depth && i < 8 && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, " <- %s", sym[i]);
    free(sym);
    return buf;
}

#define SWEEP_MODES 2 /* mode 0: refuse only the k-th call; 1: the k-th and all later */
#define MODE_NAME(mode) ((mode) ? "k-th and later" : "k-th only")

/* A refused call must say so; message names the sweep position. */
#define ASSERT_NOMEM(st, what, k, mode)                                                      \
    ck_assert_msg((st) == GAN_E_NOMEM, "%s: allocation %ld (%s) refused, got %s: %s", (what), \
                  (k), MODE_NAME(mode), gan_status_string(st), gan_last_error())

/* base: blocks the test itself holds across the sweep */
#define ASSERT_NO_LEAK_FROM(base, what, k, mode)                                            \
    ck_assert_msg(hook.live == (base), "%s: allocation %ld (%s) refused: %ld blocks leaked", \
                  (what), (k), MODE_NAME(mode), hook.live - (base))
#define ASSERT_NO_LEAK(what, k, mode) ASSERT_NO_LEAK_FROM(0, what, k, mode)

/* A sweep that ends at k = 1 never refused anything: the operation made
 * no allocation, so the test proved nothing. */
#define ASSERT_SWEPT(what, k) \
    ck_assert_msg((k) > 1, "%s: the operation made no allocation to refuse", (what))

/* ------------------------------------------------------------- helpers */
static gan_tensor *tensor2(int64_t n, int64_t f)
{
    int64_t s[2] = {n, f};
    gan_tensor *t = NULL;
    ck_assert_int_eq(gan_tensor_create(&t, 2, s), GAN_OK);
    return t;
}

/* (n, sample shape of the model's input or output) */
static gan_tensor *batch_for(const gan_model *m, int64_t n, bool output)
{
    int nd;
    int64_t s[GAN_MAX_DIMS], full[GAN_MAX_DIMS];
    if (output) TU_OK(gan_model_output_shape(m, &nd, s));
    else TU_OK(gan_model_input_shape(m, &nd, s));
    full[0] = n;
    for (int i = 0; i < nd; i++) full[i + 1] = s[i];
    gan_tensor *t = NULL;
    TU_OK(gan_tensor_create(&t, nd + 1, full));
    return t;
}

static void fill_hash(gan_tensor *t, uint64_t seed)
{
    gan_rng *r = NULL;
    TU_OK(gan_rng_create(&r, seed));
    TU_OK(gan_rng_fill_uniform(r, t, -1.0f, 1.0f));
    gan_rng_free(r);
}

/* Copy of everything a failed call must leave alone. */
typedef struct snap {
    float *p[2], *b[2], *o[2];
    int64_t np[2], nb[2], no[2], nbt[2][64], ostep[2], step;
    gan_rng rng;
} snap;

static void snap_take(snap *s, gan_trainer *t)
{
    memset(s, 0, sizeof *s);
    for (int k = 0; k < 2; k++) {
        gan_model *m = k ? t->d : t->g;
        gan_optimizer *o = k ? t->opt_d : t->opt_g;
        s->np[k] = m->nparams;
        s->p[k] = malloc((size_t)(s->np[k] + 1) * sizeof(float));
        memcpy(s->p[k], m->params, (size_t)s->np[k] * sizeof(float));
        s->nb[k] = gan_model_buffer_floats(m);
        s->b[k] = malloc((size_t)(s->nb[k] + 1) * sizeof(float));
        ck_assert_int_le(m->nlayers, 64);
        gan_model_save_buffers(m, s->b[k], s->nbt[k]);
        s->no[k] = o->nstate;
        s->o[k] = malloc((size_t)(s->no[k] + 1) * sizeof(float));
        if (s->no[k]) memcpy(s->o[k], o->state, (size_t)s->no[k] * sizeof(float));
        s->ostep[k] = o->step;
    }
    s->step = t->step;
    s->rng = t->rng;
}

static void snap_free(snap *s)
{
    for (int k = 0; k < 2; k++) {
        free(s->p[k]);
        free(s->b[k]);
        free(s->o[k]);
    }
}

static void snap_assert_same(const snap *a, const snap *b, const char *what, long k)
{
    static const char *const who[2] = {"G", "D"};
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(memcmp(a->p[i], b->p[i], (size_t)a->np[i] * sizeof(float)) == 0,
                      "%s, allocation %ld refused: %s's params changed", what, k, who[i]);
        ck_assert_msg(memcmp(a->b[i], b->b[i], (size_t)a->nb[i] * sizeof(float)) == 0,
                      "%s, allocation %ld refused: %s's running stats changed", what, k, who[i]);
        ck_assert_msg(memcmp(a->nbt[i], b->nbt[i], sizeof a->nbt[i]) == 0,
                      "%s, allocation %ld refused: %s's num_batches_tracked changed", what, k,
                      who[i]);
        ck_assert_msg(memcmp(a->o[i], b->o[i], (size_t)a->no[i] * sizeof(float)) == 0,
                      "%s, allocation %ld refused: opt%s's state changed", what, k, who[i]);
        ck_assert_msg(a->ostep[i] == b->ostep[i],
                      "%s, allocation %ld refused: opt%s's step count changed", what, k, who[i]);
    }
    ck_assert_msg(a->step == b->step, "%s, allocation %ld refused: step count changed", what, k);
    ck_assert_msg(memcmp(&a->rng, &b->rng, sizeof a->rng) == 0,
                  "%s, allocation %ld refused: the trainer's RNG moved", what, k);
}

/* Quick mode (GAN_TEST_QUICK set, e.g. under valgrind) skips the sweeps
 * over the large dcgan28 preset. */
static bool quick(void)
{
    const char *q = getenv("GAN_TEST_QUICK");
    return q != NULL && *q != '\0' && strcmp(q, "0") != 0;
}

/* The pairs the trainer sweeps run on: the toy2d preset, and "conv", a
 * miniature DCGAN with every path dcgan28 takes (transposed conv from 1x1
 * and conv down to 1x1 — the dense fast paths —, strided (transposed)
 * convs with im2col scratch, batchnorm in G and D, tanh, leaky ReLU) at a
 * size where one step costs about a millisecond. */
static void add_layer(gan_model *m, gan_status st, gan_layer **l)
{
    TU_OK(st);
    TU_OK(gan_model_add(m, *l));
}

static void conv_pair(gan_model **g, gan_model **d)
{
    gan_layer *l;
    int64_t zin[3] = {8, 1, 1}, xin[3] = {1, 16, 16};
    TU_OK(gan_model_create(g, 3, zin));
    add_layer(*g, gan_layer_conv_transpose2d(&l, 8, 16, 4, 4, 1, 0, 0, 0), &l); /* (16, 4, 4) */
    add_layer(*g, gan_layer_batchnorm(&l, 16), &l);
    add_layer(*g, gan_layer_relu(&l), &l);
    add_layer(*g, gan_layer_conv_transpose2d(&l, 16, 8, 4, 4, 2, 1, 0, 0), &l); /* (8, 8, 8) */
    add_layer(*g, gan_layer_batchnorm(&l, 8), &l);
    add_layer(*g, gan_layer_relu(&l), &l);
    add_layer(*g, gan_layer_conv_transpose2d(&l, 8, 1, 4, 4, 2, 1, 0, 0), &l); /* (1, 16, 16) */
    add_layer(*g, gan_layer_tanh(&l), &l);
    TU_OK(gan_model_create(d, 3, xin));
    add_layer(*d, gan_layer_conv2d(&l, 1, 8, 4, 4, 2, 1, 0), &l); /* (8, 8, 8) */
    add_layer(*d, gan_layer_leaky_relu(&l, 0.2f), &l);
    add_layer(*d, gan_layer_conv2d(&l, 8, 16, 4, 4, 2, 1, 0), &l); /* (16, 4, 4) */
    add_layer(*d, gan_layer_batchnorm(&l, 16), &l);
    add_layer(*d, gan_layer_leaky_relu(&l, 0.2f), &l);
    add_layer(*d, gan_layer_conv2d(&l, 16, 1, 4, 4, 1, 0, 0), &l); /* (1, 1, 1) */
}

static const char *const pairs[] = {"toy2d", "conv"};
#define N_PAIRS 2

static void make_pair(const char *name, uint64_t seed, gan_model **g, gan_model **d)
{
    if (strcmp(name, "conv") != 0) {
        TU_OK(gan_preset_create(name, seed, g, d));
        return;
    }
    conv_pair(g, d);
    gan_rng *r = NULL;
    TU_OK(gan_rng_create(&r, seed));
    TU_OK(gan_model_init(*g, GAN_INIT_DCGAN, r));
    TU_OK(gan_model_init(*d, GAN_INIT_DCGAN, r));
    gan_rng_free(r);
}

static gan_trainer *make_trainer(const char *name, uint64_t seed)
{
    gan_model *g = NULL, *d = NULL;
    make_pair(name, seed, &g, &d);
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    cfg.seed = seed;
    gan_trainer *t = NULL;
    TU_OK(gan_trainer_create(&t, g, d, &cfg));
    return t;
}

/* ------------------------------------------------------ model building */
static const char *const presets[] = {"toy2d", "dcgan28"};
#define N_PRESETS 2

START_TEST(preset_create_out_of_memory)
{
    const char *name = presets[_i];
    const bool big = strcmp(name, "toy2d") != 0;
    if (big && quick()) return;
    hook_install();
    /* the big preset: single failures only (each build costs ~0.1 s) */
    for (int mode = 0; mode < (big ? 1 : SWEEP_MODES); mode++) {
        for (long k = 1;; k++) {
            gan_model *g = (gan_model *)&g, *d = (gan_model *)&d;
            arm(k, mode);
            gan_status st = gan_preset_create(name, 7, &g, &d);
            long failed = hook.failed;
            disarm();
            if (failed == 0) {
                TU_OK(st);
                gan_model_free(g);
                gan_model_free(d);
                ASSERT_NO_LEAK(name, k, mode);
                ASSERT_SWEPT(name, k);
                break;
            }
            ASSERT_NOMEM(st, name, k, mode);
            ck_assert_msg(g == NULL && d == NULL, "%s, allocation %ld: outputs not NULL", name, k);
            ASSERT_NO_LEAK(name, k, mode);
        }
    }
    /* a retry with memory back gives the same weights as a clean build */
    gan_model *g1, *d1, *g2, *d2;
    arm(3, true);
    TU_STATUS(GAN_E_NOMEM, gan_preset_create(name, 7, &g1, &d1));
    disarm();
    TU_OK(gan_preset_create(name, 7, &g1, &d1));
    TU_OK(gan_preset_create(name, 7, &g2, &d2));
    ck_assert_mem_eq(g1->params, g2->params, (size_t)g1->nparams * sizeof(float));
    ck_assert_mem_eq(d1->params, d2->params, (size_t)d1->nparams * sizeof(float));
    gan_model_free(g1);
    gan_model_free(d1);
    gan_model_free(g2);
    gan_model_free(d2);
    ck_assert_int_eq(hook.live, 0);
}
END_TEST

/* A hand-built model with one layer of every kind, built one call at a
 * time so that a refused call can be retried where it stopped. */
typedef struct hand {
    gan_model *m;
    gan_layer *pending; /* constructed, not yet added (the caller owns it) */
    int next;           /* layers added so far */
} hand;

#define HAND_LAYERS 13

static gan_status hand_make(int i, gan_layer **l)
{
    int64_t r[3] = {1, 4, 4};
    switch (i) {
    case 0: return gan_layer_dense(l, 8, 16, 1);      /* (16)      */
    case 1: return gan_layer_batchnorm(l, 16);        /* (16)      */
    case 2: return gan_layer_leaky_relu(l, 0.2f);     /* (16)      */
    case 3: return gan_layer_reshape(l, 3, r);        /* (1, 4, 4) */
    case 4: return gan_layer_conv2d(l, 1, 3, 3, 3, 1, 1, 1);               /* (3, 4, 4) */
    case 5: return gan_layer_batchnorm(l, 3);
    case 6: return gan_layer_relu(l);
    case 7: return gan_layer_conv_transpose2d(l, 3, 2, 4, 4, 2, 1, 0, 1);  /* (2, 8, 8) */
    case 8: return gan_layer_tanh(l);
    case 9: return gan_layer_conv2d(l, 2, 4, 4, 4, 2, 1, 0);               /* (4, 4, 4) */
    case 10: return gan_layer_flatten(l);             /* (64)      */
    case 11: return gan_layer_dense(l, 64, 1, 1);     /* (1)       */
    default: return gan_layer_sigmoid(l);
    }
}

static gan_status hand_build(hand *h)
{
    if (h->m == NULL) {
        int64_t in[1] = {8};
        gan_status st = gan_model_create(&h->m, 1, in);
        if (st != GAN_OK) {
            ck_assert_msg(h->m == NULL, "gan_model_create failed but *out is not NULL");
            return st;
        }
    }
    for (; h->next < HAND_LAYERS; h->next++) {
        if (h->pending == NULL) {
            gan_layer *l = (gan_layer *)h;
            gan_status st = hand_make(h->next, &l);
            if (st != GAN_OK) {
                ck_assert_msg(l == NULL, "layer %d: constructor failed but *out is not NULL", h->next);
                return st;
            }
            h->pending = l;
        }
        gan_status st = gan_model_add(h->m, h->pending);
        if (st != GAN_OK) return st;
        h->pending = NULL;
    }
    return GAN_OK;
}

/* The finished hand model works: forward and backward at batch 3. */
static void hand_use(hand *h)
{
    ck_assert_int_eq(gan_model_layer_count(h->m), HAND_LAYERS);
    gan_tensor *x = tensor2(3, 8), *dy = tensor2(3, 1);
    fill_hash(x, 1);
    TU_OK(gan_tensor_fill(dy, 1.0f));
    const gan_tensor *y, *dx;
    TU_OK(gan_model_forward(h->m, x, &y));
    ck_assert_int_eq(gan_tensor_numel(y), 3);
    TU_OK(gan_model_backward(h->m, dy, &dx));
    ck_assert_int_eq(gan_tensor_numel(dx), 24);
    gan_tensor_free(x);
    gan_tensor_free(dy);
}

START_TEST(hand_built_model_out_of_memory)
{
    hook_install();
    for (int mode = 0; mode < SWEEP_MODES; mode++) {
        for (long k = 1;; k++) {
            hand h = {NULL, NULL, 0};
            arm(k, mode);
            gan_status st = hand_build(&h);
            long failed = hook.failed;
            disarm();
            if (failed == 0) {
                TU_OK(st);
                hand_use(&h);
                gan_model_free(h.m);
                ASSERT_NO_LEAK("hand-built model", k, mode);
                ASSERT_SWEPT("hand-built model", k);
                break;
            }
            ASSERT_NOMEM(st, "hand-built model", k, mode);
            /* nothing half-added: the model holds exactly the layers added */
            if (h.m != NULL) ck_assert_int_eq(gan_model_layer_count(h.m), h.next);
            /* memory is back: carry on from the call that failed */
            TU_OK(hand_build(&h));
            hand_use(&h);
            gan_model_free(h.m);
            ASSERT_NO_LEAK("hand-built model", k, mode);
        }
    }
}
END_TEST

/* Build *ref, run its forward and backward on (x, dy) with the allocator
 * free, and copy the 16 floats of dL/dx into want: the results a refused
 * allocation must leave reachable. */
static void clean_run(hand *ref, const gan_tensor *x, const gan_tensor *dy, float want[16])
{
    const gan_tensor *y, *dx;
    TU_OK(hand_build(ref));
    TU_OK(gan_model_forward(ref->m, x, &y));
    TU_OK(gan_model_backward(ref->m, dy, &dx));
    memcpy(want, gan_tensor_cdata(dx), 16 * sizeof(float));
}

/* The gradient buffer is allocated by the first backward that needs it: if
 * that is refused, backward says GAN_E_NOMEM and holds no gradients, and
 * once memory is back the same backward gives exactly the clean results. */
START_TEST(first_backward_gradients_out_of_memory)
{
    hook_install();
    hand ref = {NULL, NULL, 0}, h = {NULL, NULL, 0};
    gan_tensor *x = tensor2(2, 8), *dy = tensor2(2, 1);
    fill_hash(x, 3);
    TU_OK(gan_tensor_fill(dy, 0.5f));
    float want_dx[16];
    clean_run(&ref, x, dy, want_dx);

    TU_OK(hand_build(&h));
    const gan_tensor *y, *dx;
    TU_OK(gan_model_forward(h.m, x, &y));
    arm(1, true); /* refuse everything */
    gan_status st = gan_model_backward(h.m, dy, &dx);
    long failed = hook.failed;
    disarm();
    ck_assert_int_eq(failed, 1);
    TU_STATUS(GAN_E_NOMEM, st);
    gan_memory_info info = {.struct_size = sizeof info};
    TU_OK(gan_model_memory(h.m, &info));
    ck_assert_uint_eq(info.gradients, 0);

    TU_OK(gan_model_backward(h.m, dy, &dx));
    ck_assert_msg(memcmp(want_dx, gan_tensor_cdata(dx), sizeof want_dx) == 0,
                  "dL/dx after a refused gradient allocation differs");
    ck_assert_msg(memcmp(h.m->grads, ref.m->grads, (size_t)h.m->nparams * sizeof(float)) == 0,
                  "gradients after a refused gradient allocation differ");
    gan_tensor_free(x);
    gan_tensor_free(dy);
    gan_model_free(h.m);
    gan_model_free(ref.m);
}
END_TEST

/* Forward plans buffers; a refused plan leaves the previous forward's state
 * intact (its backward still gives exactly the clean gradients), and a
 * fresh model refuses backward. */
START_TEST(model_forward_out_of_memory)
{
    hook_install();
    hand ref = {NULL, NULL, 0};
    gan_tensor *x2 = tensor2(2, 8), *x5 = tensor2(5, 8), *dy2 = tensor2(2, 1);
    fill_hash(x2, 2);
    fill_hash(x5, 5);
    TU_OK(gan_tensor_fill(dy2, 0.5f));
    float want_dx[16];
    clean_run(&ref, x2, dy2, want_dx);
    const gan_tensor *y, *dx;
    const long base = hook.live;
    for (int mode = 0; mode < SWEEP_MODES; mode++) {
        for (long k = 1;; k++) {
            hand h = {NULL, NULL, 0};
            TU_OK(hand_build(&h));
            /* first forward on a fresh model */
            arm(k, mode);
            gan_status st = gan_model_forward(h.m, x2, &y);
            long failed = hook.failed;
            disarm();
            if (failed != 0) {
                ASSERT_NOMEM(st, "first forward", k, mode);
                TU_STATUS(GAN_E_STATE, gan_model_backward(h.m, dy2, NULL));
            }
            /* a bigger batch re-plans; the batch-2 forward stays valid */
            TU_OK(gan_model_forward(h.m, x2, &y));
            arm(k, mode);
            st = gan_model_forward(h.m, x5, &y);
            long failed5 = hook.failed;
            disarm();
            if (failed5 != 0) {
                ASSERT_NOMEM(st, "re-planning forward", k, mode);
                /* the pending backward either gives exactly the clean
                 * gradients or is refused — never silently wrong ones */
                st = gan_model_backward(h.m, dy2, &dx);
                ck_assert_msg(st == GAN_OK || st == GAN_E_STATE, "allocation %ld: backward gave %s",
                              k, gan_status_string(st));
                if (st == GAN_OK) {
                    ck_assert_msg(memcmp(want_dx, gan_tensor_cdata(dx), sizeof want_dx) == 0,
                                  "allocation %ld refused in a re-plan: dL/dx of the pending backward changed", k);
                    ck_assert_msg(memcmp(h.m->grads, ref.m->grads, (size_t)h.m->nparams * sizeof(float)) == 0,
                                  "allocation %ld refused in a re-plan: the pending backward's gradients differ", k);
                }
                TU_OK(gan_model_forward(h.m, x5, &y)); /* memory back */
            }
            gan_model_free(h.m);
            ASSERT_NO_LEAK_FROM(base, "model forward", k, mode);
            if (failed == 0 && failed5 == 0) {
                ASSERT_SWEPT("model forward", k);
                break;
            }
        }
    }
    gan_model_free(ref.m);
    gan_tensor_free(x2);
    gan_tensor_free(x5);
    gan_tensor_free(dy2);
    ck_assert_int_eq(hook.live, 0);
}
END_TEST

/* A convolution model planned for batch 4 whose re-plan for 64 is refused
 * goes on at batch 4 on the memory it has: its layers must not keep the
 * bigger batch's scratch layout (ASan and valgrind see an overrun if they
 * do), and the results are those of a model that never tried. */
static gan_model *small_conv_model(void)
{
    const int64_t in[3] = {4, 8, 8};
    gan_model *m = NULL;
    gan_layer *l = NULL;
    gan_rng *rng = NULL;
    TU_OK(gan_model_create(&m, 3, in));
    TU_OK(gan_layer_conv2d(&l, 4, 6, 3, 3, 1, 1, 0));
    TU_OK(gan_model_add(m, l));
    TU_OK(gan_rng_create(&rng, 5));
    TU_OK(gan_model_init(m, GAN_INIT_PYTORCH, rng));
    gan_rng_free(rng);
    return m;
}

START_TEST(refused_replan_keeps_the_old_layout)
{
    hook_install();
    gan_tensor *x4 = tu_tensor(4, 4, 4, 8, 8), *x64 = tu_tensor(4, 64, 4, 8, 8);
    fill_hash(x4, 4);
    fill_hash(x64, 64);
    const gan_tensor *y, *dx;
    float want[4 * 6 * 8 * 8], want_dx[4 * 4 * 8 * 8];
    gan_model *m = small_conv_model();
    TU_OK(gan_model_forward(m, x4, &y));
    memcpy(want, gan_tensor_cdata(y), sizeof want);
    TU_OK(gan_model_backward(m, y, &dx));
    memcpy(want_dx, gan_tensor_cdata(dx), sizeof want_dx);
    gan_model_free(m);
    for (long k = 1;; k++) { /* refuse the k-th allocation of the batch-64 plan */
        m = small_conv_model();
        TU_OK(gan_model_forward(m, x4, &y));
        arm(k, false);
        gan_status st = gan_model_forward(m, x64, &y);
        const long failed = hook.failed;
        disarm();
        if (failed == 0) {
            TU_OK(st);
            gan_model_free(m);
            ASSERT_SWEPT("re-plan for batch 64", k);
            break;
        }
        ASSERT_NOMEM(st, "re-plan for batch 64", k, 0);
        TU_OK(gan_model_forward(m, x4, &y));
        ck_assert_msg(memcmp(want, gan_tensor_cdata(y), sizeof want) == 0,
                      "allocation %ld refused: the batch-4 forward changed", k);
        TU_OK(gan_model_backward(m, y, &dx));
        ck_assert_msg(memcmp(want_dx, gan_tensor_cdata(dx), sizeof want_dx) == 0,
                      "allocation %ld refused: the batch-4 backward changed", k);
        TU_OK(gan_model_forward(m, x64, &y)); /* the bigger batch, memory back */
        gan_model_free(m);
    }
    gan_tensor_free(x4);
    gan_tensor_free(x64);
    ck_assert_int_eq(hook.live, 0);
}
END_TEST

/* The same for a standalone layer: a refused forward at batch 64 leaves
 * the pending backward of batch 4 (and later batch-4 calls) on the layout
 * its scratch holds. */
START_TEST(refused_layer_forward_keeps_the_old_layout)
{
    hook_install();
    gan_tensor *x4 = tu_tensor(4, 4, 4, 8, 8), *x64 = tu_tensor(4, 64, 4, 8, 8);
    gan_tensor *y4 = tu_tensor(4, 4, 6, 8, 8), *y64 = tu_tensor(4, 64, 6, 8, 8);
    gan_tensor *dx4 = tu_tensor(4, 4, 4, 8, 8);
    fill_hash(x4, 4);
    fill_hash(x64, 64);
    float want_dx[4 * 4 * 8 * 8];
    for (long k = 0;; k++) { /* k = 0: the reference, nothing refused */
        gan_layer *l = NULL;
        gan_rng *rng = NULL;
        TU_OK(gan_layer_conv2d(&l, 4, 6, 3, 3, 1, 1, 0));
        TU_OK(gan_layer_attach(l, 3, (const int64_t[]){4, 8, 8}));
        TU_OK(gan_rng_create(&rng, 5));
        TU_OK(gan_layer_init(l, GAN_INIT_PYTORCH, rng));
        gan_rng_free(rng);
        TU_OK(gan_layer_forward(l, x4, y4));
        long failed = 0;
        if (k > 0) {
            arm(k, false);
            gan_status st = gan_layer_forward(l, x64, y64);
            failed = hook.failed;
            disarm();
            if (failed == 0) {
                TU_OK(st);
                gan_layer_free(l);
                ASSERT_SWEPT("layer forward at batch 64", k);
                break;
            }
            ASSERT_NOMEM(st, "layer forward at batch 64", k, 0);
        }
        TU_OK(gan_layer_backward(l, y4, dx4)); /* batch 4's, pending */
        if (k == 0) memcpy(want_dx, gan_tensor_cdata(dx4), sizeof want_dx);
        else
            ck_assert_msg(memcmp(want_dx, gan_tensor_cdata(dx4), sizeof want_dx) == 0,
                          "allocation %ld refused: the pending backward changed", k);
        gan_layer_free(l);
    }
    gan_tensor_free(x4);
    gan_tensor_free(x64);
    gan_tensor_free(y4);
    gan_tensor_free(y64);
    gan_tensor_free(dx4);
    ck_assert_int_eq(hook.live, 0);
}
END_TEST

/* -------------------------------------------- optimizer, trainer create */
START_TEST(optimizer_create_out_of_memory)
{
    hook_install();
    gan_model *g, *d;
    TU_OK(gan_preset_create("toy2d", 1, &g, &d));
    for (int kind = 0; kind < 3; kind++) {
        gan_optim_config cfg;
        gan_optim_config_default(&cfg);
        if (kind > 0) cfg.kind = GAN_OPTIM_SGD;
        if (kind == 2) cfg.momentum = 0.9f;
        for (int mode = 0; mode < SWEEP_MODES; mode++) {
            for (long k = 1;; k++) {
                gan_optimizer *o = (gan_optimizer *)&o;
                arm(k, mode);
                gan_status st = gan_optimizer_create(&o, g, &cfg);
                long failed = hook.failed;
                disarm();
                if (failed == 0) {
                    TU_OK(st);
                    gan_optimizer_free(o);
                    ASSERT_SWEPT("gan_optimizer_create", k);
                    break;
                }
                ASSERT_NOMEM(st, "gan_optimizer_create", k, mode);
                ck_assert_ptr_null(o);
            }
        }
    }
    gan_model_free(g);
    gan_model_free(d);
    ck_assert_int_eq(hook.live, 0);
}
END_TEST

START_TEST(trainer_create_out_of_memory)
{
    const char *name = pairs[_i];
    hook_install();
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    gan_model *g, *d;
    make_pair(name, 3, &g, &d);
    for (int mode = 0; mode < SWEEP_MODES; mode++) {
        for (long k = 1;; k++) {
            gan_trainer *t = (gan_trainer *)&t;
            arm(k, mode);
            gan_status st = gan_trainer_create(&t, g, d, &cfg);
            long failed = hook.failed;
            disarm();
            if (failed == 0) {
                TU_OK(st);
                gan_model_free(g); /* owned by t now: no-op */
                gan_model_free(d);
                gan_trainer_free(t);
                ASSERT_NO_LEAK(name, k, mode);
                make_pair(name, 3, &g, &d);
                ASSERT_SWEPT(name, k);
                break;
            }
            ASSERT_NOMEM(st, name, k, mode);
            ck_assert_ptr_null(t);
            /* the models are still the caller's: a retry takes them */
            ck_assert_int_eq(gan_model_is_frozen(g), 0);
            ck_assert_int_eq(gan_model_is_frozen(d), 0);
            TU_OK(gan_trainer_create(&t, g, d, &cfg));
            gan_trainer_free(t);
            ASSERT_NO_LEAK(name, k, mode);
            make_pair(name, 3, &g, &d);
        }
    }
    gan_model_free(g);
    gan_model_free(d);
    ck_assert_int_eq(hook.live, 0);
}
END_TEST

/* ------------------------------------------------- train step, generate */
/* A trainer stepped at batch 4 whose step at batch 40 is refused memory
 * (the shared arena, a model's plan, ...) goes on at batch 4 exactly as a
 * trainer that never tried: its models' layers keep the layout the arena
 * holds. */
START_TEST(bigger_train_step_out_of_memory)
{
    hook_install();
    gan_trainer *ref = make_trainer("conv", 11);
    gan_tensor *real4 = batch_for(ref->d, 4, false), *real40 = batch_for(ref->d, 40, false);
    fill_hash(real4, 99);
    fill_hash(real40, 98);
    TU_OK(gan_train_step(ref, real4, NULL));
    TU_OK(gan_train_step(ref, real4, NULL));
    for (long k = 1;; k++) {
        gan_trainer *t = make_trainer("conv", 11);
        TU_OK(gan_train_step(t, real4, NULL));
        arm(k, false);
        gan_status st = gan_train_step(t, real40, NULL);
        const long failed = hook.failed;
        disarm();
        if (failed == 0) {
            TU_OK(st);
            gan_trainer_free(t);
            ASSERT_SWEPT("step at batch 40", k);
            break;
        }
        ASSERT_NOMEM(st, "step at batch 40", k, 0);
        TU_OK(gan_train_step(t, real4, NULL));
        ck_assert_msg(memcmp(t->g->params, ref->g->params, (size_t)t->g->nparams * 4) == 0 &&
                          memcmp(t->d->params, ref->d->params, (size_t)t->d->nparams * 4) == 0,
                      "allocation %ld of a batch-40 step refused: the next batch-4 step differs", k);
        TU_OK(gan_train_step(t, real40, NULL)); /* memory back */
        gan_trainer_free(t);
    }
    gan_trainer_free(ref);
    gan_tensor_free(real4);
    gan_tensor_free(real40);
    ck_assert_int_eq(hook.live, 0);
}
END_TEST

START_TEST(first_train_step_out_of_memory)
{
    const char *name = pairs[_i];
    const int64_t batch = 4;
    hook_install();
    /* what one clean step gives */
    gan_trainer *ref = make_trainer(name, 11);
    gan_tensor *real = batch_for(ref->d, batch, false);
    fill_hash(real, 99);
    TU_OK(gan_train_step(ref, real, NULL));
    for (int mode = 0; mode < SWEEP_MODES; mode++) {
        for (long k = 1;; k++) {
            gan_trainer *t = make_trainer(name, 11);
            snap before, after;
            snap_take(&before, t);
            gan_step_stats stats;
            arm(k, mode);
            gan_status st = gan_train_step(t, real, &stats);
            long failed = hook.failed;
            disarm();
            if (failed != 0) {
                ASSERT_NOMEM(st, name, k, mode);
                snap_take(&after, t);
                snap_assert_same(&before, &after, name, k);
                snap_free(&after);
                ck_assert_int_eq(gan_model_is_frozen(t->d), 0);
                ck_assert_int_eq(gan_model_is_training(t->g), 1);
                TU_OK(gan_train_step(t, real, &stats)); /* memory back */
            } else {
                TU_OK(st);
            }
            ck_assert_int_eq(gan_trainer_step_count(t), 1);
            ck_assert_msg(memcmp(t->g->params, ref->g->params, (size_t)t->g->nparams * 4) == 0 &&
                              memcmp(t->d->params, ref->d->params, (size_t)t->d->nparams * 4) == 0,
                          "%s: allocation %ld refused, then retried: weights differ from a clean step",
                          name, k);
            snap_free(&before);
            gan_trainer_free(t);
            if (failed == 0) {
                ASSERT_SWEPT(name, k);
                break;
            }
        }
    }
    gan_trainer_free(ref);
    gan_tensor_free(real);
    ck_assert_int_eq(hook.live, 0);
}
END_TEST

START_TEST(generate_out_of_memory)
{
    const char *name = pairs[_i];
    hook_install();
    for (int with_z = 0; with_z < 2; with_z++) {
        for (int mode = 0; mode < SWEEP_MODES; mode++) {
            for (long k = 1;; k++) {
                gan_trainer *t = make_trainer(name, 5);
                gan_tensor *out = batch_for(t->g, 5, true), *z = NULL;
                if (with_z) {
                    z = batch_for(t->g, 5, false);
                    fill_hash(z, 3);
                }
                arm(k, mode);
                gan_status st = gan_trainer_generate(t, z, out);
                long failed = hook.failed;
                disarm();
                if (failed != 0) {
                    ASSERT_NOMEM(st, name, k, mode);
                    ck_assert_int_eq(gan_model_is_training(t->g), 1);
                    TU_OK(gan_trainer_generate(t, z, out));
                } else {
                    TU_OK(st);
                }
                gan_tensor_free(out);
                gan_tensor_free(z);
                gan_trainer_free(t);
                ASSERT_NO_LEAK(name, k, mode);
                if (failed == 0) {
                    ASSERT_SWEPT(name, k);
                    break;
                }
            }
        }
    }
}
END_TEST

/* -------------------------------------------------------- save and load */
static char tmpdir[64];

static void tmp_make(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gan-allocfail-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static const char *tmp_file(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

/* Files in tmpdir (temporaries of a failed save would show up here). */
static int tmp_count(void)
{
    DIR *dir = opendir(tmpdir);
    ck_assert_ptr_nonnull(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) n += e->d_name[0] != '.';
    closedir(dir);
    return n;
}

static void tmp_remove(void)
{
    if (tmpdir[0] == '\0') return;
    DIR *dir = opendir(tmpdir);
    if (dir != NULL) {
        struct dirent *e;
        while ((e = readdir(dir)) != NULL)
            if (e->d_name[0] != '.') unlink(tmp_file(e->d_name));
        closedir(dir);
    }
    rmdir(tmpdir);
    tmpdir[0] = '\0';
}

static void assert_file_is(const char *path, const unsigned char *want, size_t n, long k)
{
    size_t got_n;
    unsigned char *got = tu_read_file(path, &got_n);
    ck_assert_msg(got_n == n && memcmp(got, want, n) == 0,
                  "allocation %ld refused during a save: %s changed", k, path);
    free(got);
}

static void assert_same_model(gan_model *a, gan_model *b, const char *what)
{
    ck_assert_int_eq(a->nparams, b->nparams);
    ck_assert_msg(memcmp(a->params, b->params, (size_t)a->nparams * sizeof(float)) == 0,
                  "%s: params differ", what);
    int64_t nb = gan_model_buffer_floats(a);
    ck_assert_int_eq(nb, gan_model_buffer_floats(b));
    float *ba = malloc((size_t)(nb + 1) * sizeof(float)), *bb = malloc((size_t)(nb + 1) * sizeof(float));
    int64_t ka[64], kb[64];
    ck_assert_int_le(a->nlayers, 64);
    gan_model_save_buffers(a, ba, ka);
    gan_model_save_buffers(b, bb, kb);
    ck_assert_msg(memcmp(ba, bb, (size_t)nb * sizeof(float)) == 0, "%s: running stats differ", what);
    ck_assert_msg(memcmp(ka, kb, (size_t)a->nlayers * sizeof(int64_t)) == 0,
                  "%s: num_batches_tracked differ", what);
    free(ba);
    free(bb);
}

/* dst's params, running stats and counters := src's (same architecture). */
static void copy_model(gan_model *dst, gan_model *src)
{
    ck_assert_int_eq(dst->nparams, src->nparams);
    memcpy(dst->params, src->params, (size_t)src->nparams * sizeof(float));
    int64_t nb = gan_model_buffer_floats(src), nbt[64];
    float *b = malloc((size_t)(nb + 1) * sizeof(float));
    gan_model_save_buffers(src, b, nbt);
    gan_model_load_buffers(dst, b, nbt);
    free(b);
}

/* gan_model_save and gan_trainer_save: a refused save returns NOMEM and
 * leaves the previous file byte for byte, with no temporary left over. */
START_TEST(save_out_of_memory)
{
    const char *name = pairs[_i];
    hook_install();
    tmp_make();
    gan_trainer *t = make_trainer(name, 31);
    gan_tensor *real = batch_for(t->d, 4, false);
    fill_hash(real, 4);
    const char *mpath = tmp_file("g.safetensors"), *tpath = tmp_file("t.safetensors");
    TU_OK(gan_model_save(t->g, mpath));
    TU_OK(gan_trainer_save(t, tpath));
    size_t mold_n, told_n;
    unsigned char *mold = tu_read_file(mpath, &mold_n), *told = tu_read_file(tpath, &told_n);
    TU_OK(gan_train_step(t, real, NULL)); /* the next save writes different bytes */
    const long base = hook.live;
    for (int which = 0; which < 2; which++) {
        const char *path = which ? tpath : mpath;
        for (int mode = 0; mode < SWEEP_MODES; mode++) {
            for (long k = 1;; k++) {
                arm(k, mode);
                gan_status st = which ? gan_trainer_save(t, path) : gan_model_save(t->g, path);
                long failed = hook.failed;
                disarm();
                if (failed == 0) {
                    TU_OK(st);
                    ASSERT_SWEPT(which ? "gan_trainer_save" : "gan_model_save", k);
                    break;
                }
                ASSERT_NOMEM(st, which ? "gan_trainer_save" : "gan_model_save", k, mode);
                ASSERT_NO_LEAK_FROM(base, path, k, mode);
                if (which) assert_file_is(path, told, told_n, k);
                else assert_file_is(path, mold, mold_n, k);
                ck_assert_msg(tmp_count() == 2, "allocation %ld refused: a temporary file was left", k);
            }
            /* put the old file back for the next mode */
            FILE *f = fopen(path, "wb");
            ck_assert_ptr_nonnull(f);
            if (which) ck_assert_int_eq(fwrite(told, 1, told_n, f), told_n);
            else ck_assert_int_eq(fwrite(mold, 1, mold_n, f), mold_n);
            fclose(f);
        }
    }
    free(mold);
    free(told);
    gan_tensor_free(real);
    gan_trainer_free(t);
    ck_assert_int_eq(hook.live, 0);
    tmp_remove();
}
END_TEST

/* Every loader: NOMEM, *out NULL, nothing leaked; the retry loads what was
 * saved; gan_model_load_weights leaves its model untouched. */
START_TEST(load_out_of_memory)
{
    const char *name = pairs[_i];
    hook_install();
    tmp_make();
    gan_trainer *t = make_trainer(name, 41);
    gan_tensor *real = batch_for(t->d, 4, false);
    fill_hash(real, 5);
    TU_OK(gan_train_step(t, real, NULL));
    const char *mpath = tmp_file("g.safetensors"), *tpath = tmp_file("t.safetensors");
    TU_OK(gan_model_save(t->g, mpath));
    TU_OK(gan_trainer_save(t, tpath));
    size_t image_n;
    unsigned char *image = tu_read_file(mpath, &image_n);
    char *arch = NULL;
    size_t arch_len = 0;
    TU_OK(gan_model_arch_text(t->g, NULL, 0, &arch_len));
    arch = malloc(arch_len + 1);
    TU_OK(gan_model_arch_text(t->g, arch, arch_len + 1, NULL));
    /* a model of the same architecture with other weights */
    gan_model *other = NULL, *other_d = NULL;
    make_pair(name, 42, &other, &other_d);
    gan_model *other_copy = NULL, *unused = NULL;
    make_pair(name, 42, &other_copy, &unused);
    gan_model_free(unused);
    const long base = hook.live;

    static const char *const what[] = {"gan_model_load", "gan_model_load_memory",
                                       "gan_model_load_weights", "gan_trainer_load",
                                       "gan_model_from_arch_text", "gan_checkpoint_open"};
    for (int op = 0; op < 6; op++) {
        for (int mode = 0; mode < SWEEP_MODES; mode++) {
            for (long k = 1;; k++) {
                gan_model *m = (gan_model *)&m;
                gan_trainer *lt = (gan_trainer *)&lt;
                gan_checkpoint *ck = (gan_checkpoint *)&ck;
                gan_status st = GAN_OK;
                arm(k, mode);
                switch (op) {
                case 0: st = gan_model_load(&m, mpath); break;
                case 1: st = gan_model_load_memory(&m, image, image_n); break;
                case 2: st = gan_model_load_weights(other, mpath); break;
                case 3: st = gan_trainer_load(&lt, tpath); break;
                case 4: st = gan_model_from_arch_text(&m, arch); break;
                default: st = gan_checkpoint_open(&ck, tpath); break;
                }
                long failed = hook.failed;
                disarm();
                if (failed == 0) {
                    TU_OK(st);
                    ASSERT_SWEPT(what[op], k);
                    switch (op) {
                    case 0:
                    case 1: assert_same_model(m, t->g, what[op]); /* fall through */
                    case 4: gan_model_free(m); break;
                    case 2:
                        assert_same_model(other, t->g, what[op]);
                        copy_model(other, other_copy); /* back to "other weights" */
                        break;
                    case 3:
                        assert_same_model(lt->g, t->g, what[op]);
                        assert_same_model(lt->d, t->d, what[op]);
                        ck_assert_int_eq(gan_trainer_step_count(lt), 1);
                        gan_trainer_free(lt);
                        break;
                    default: gan_checkpoint_close(ck); break;
                    }
                    break;
                }
                ASSERT_NOMEM(st, what[op], k, mode);
                switch (op) {
                case 2: assert_same_model(other, other_copy, "refused gan_model_load_weights"); break;
                case 3: ck_assert_ptr_null(lt); break;
                case 5: ck_assert_ptr_null(ck); break;
                default: ck_assert_ptr_null(m); break;
                }
                ASSERT_NO_LEAK_FROM(base, what[op], k, mode);
            }
        }
    }
    gan_model_free(other);
    gan_model_free(other_d);
    gan_model_free(other_copy);
    free(arch);
    free(image);
    gan_tensor_free(real);
    gan_trainer_free(t);
    ck_assert_int_eq(hook.live, 0);
    tmp_remove();
}
END_TEST

/* ----------------------------------------------- zero allocations per step */
/* After the first gan_train_step at a batch size, more steps at that size
 * allocate nothing (issue: performance); likewise sampling with given z. */
static const char *const zero_alloc_models[] = {"toy2d", "dcgan28", "conv"};

START_TEST(train_step_zero_allocations)
{
    const char *name = zero_alloc_models[_i];
    if (strcmp(name, "dcgan28") == 0 && quick()) return;
    hook_install();
    gan_trainer *t = make_trainer(name, 21);
    gan_tensor *real = batch_for(t->d, 4, false);
    gan_tensor *z = batch_for(t->g, 4, false), *out = batch_for(t->g, 4, true);
    fill_hash(real, 1);
    fill_hash(z, 2);
    TU_OK(gan_train_step(t, real, NULL));
    TU_OK(gan_trainer_generate(t, z, out));
    hook.trace = true;
    arm(0, false);
    for (int i = 0; i < 3; i++) {
        fill_hash(real, 10 + (uint64_t)i); /* counted: exclude below */
        long before = hook.calls;
        TU_OK(gan_train_step(t, real, NULL));
        ck_assert_msg(hook.calls == before,
                      "%s: gan_train_step number %d allocated %ld times (first at%s)", name, i + 2,
                      hook.calls - before, first_alloc_site());
    }
    long before = hook.calls;
    TU_OK(gan_trainer_generate(t, z, out));
    ck_assert_msg(hook.calls == before, "%s: gan_trainer_generate allocated %ld times", name,
                  hook.calls - before);
    hook.trace = false;
    gan_tensor_free(real);
    gan_tensor_free(z);
    gan_tensor_free(out);
    gan_trainer_free(t);
    ck_assert_int_eq(hook.live, 0);
}
END_TEST

Suite *suite_allocfail(void)
{
    Suite *s = suite_create("allocfail");
    /* separate cases so that a subset can run (CK_RUN_CASE), e.g. under valgrind */
    TCase *tb = tcase_create("build");
    tcase_add_loop_test(tb, preset_create_out_of_memory, 0, N_PRESETS);
    tcase_add_test(tb, hand_built_model_out_of_memory);
    tcase_add_test(tb, model_forward_out_of_memory);
    tcase_add_test(tb, first_backward_gradients_out_of_memory);
    tcase_add_test(tb, refused_replan_keeps_the_old_layout);
    tcase_add_test(tb, refused_layer_forward_keeps_the_old_layout);
    TCase *tt = tcase_create("trainer");
    tcase_add_test(tt, optimizer_create_out_of_memory);
    tcase_add_loop_test(tt, trainer_create_out_of_memory, 0, N_PAIRS);
    TCase *ts = tcase_create("step");
    tcase_add_loop_test(ts, first_train_step_out_of_memory, 0, N_PAIRS);
    tcase_add_loop_test(ts, generate_out_of_memory, 0, N_PAIRS);
    tcase_add_test(ts, bigger_train_step_out_of_memory);
    TCase *ti = tcase_create("io");
    tcase_add_loop_test(ti, save_out_of_memory, 0, N_PAIRS);
    tcase_add_loop_test(ti, load_out_of_memory, 0, N_PAIRS);
    TCase *tz = tcase_create("zero_alloc");
    tcase_add_loop_test(tz, train_step_zero_allocations, 0, 3);
    TCase *all[] = {tb, tt, ts, ti, tz};
    for (int i = 0; i < 5; i++) {
        tcase_set_timeout(all[i], 120);
        tcase_add_checked_fixture(all[i], NULL, hook_remove);
        suite_add_tcase(s, all[i]);
    }
    return s;
}
