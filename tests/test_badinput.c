/* test_badinput.c — every public function of gan.h called with bad input,
 * and numeric faults in a real training run.
 *
 * The table (BAD lines in bad_case) holds one misuse per line: NULL handles
 * and out-pointers, wrong shapes and batch sizes, zero / negative / huge
 * sizes, calls out of order, handles owned by someone else.  Each case must
 * return exactly the listed status with a fresh gan_last_error() message,
 * set a constructor's *out to NULL, and leave every handle of the fixture
 * usable — proved after each case by one successful call on each of them
 * (fixture_usable).  Where gan.h does not name the status, the comment
 * "decided:" says what a caller would expect and why.
 *
 * Allocations go through a capped allocator hook (requests above 256 MiB
 * fail), so "huge" cases meet GAN_E_NOMEM / GAN_E_OVERFLOW rather than the
 * machine's memory (or a sanitizer's allocation limit). */
#include "testutil.h"
#include "nn.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ----------------------------------------------------- capped allocator */
#define ALLOC_CAP ((size_t)256 << 20)

static void *capped_alloc(void *user, size_t size)
{
    (void)user;
    return size > ALLOC_CAP ? NULL : malloc(size);
}

static void capped_free(void *user, void *p)
{
    (void)user;
    free(p);
}

/* --------------------------------------------------------------- fixture */
typedef struct fixture {
    gan_rng *rng;
    gan_tensor *x;        /* (4, 2) real points, D's and m's input batch       */
    gan_tensor *x3;       /* (3, 2) another batch size                         */
    gan_tensor *y3;       /* (4, 3) dense's output                             */
    gan_tensor *w5;       /* (4, 5) matches nothing                            */
    gan_tensor *v1;       /* (4) one-dimensional                               */
    gan_tensor *logit;    /* (4, 1) D's / m's output shape                     */
    gan_tensor *noise;    /* (4, 2) G's input                                  */
    gan_tensor *sample;   /* (4, 2) G's output                                 */
    gan_layer *dense;     /* free dense 2 -> 3, attached to (2), forward done  */
    gan_layer *fresh;     /* free dense 2 -> 3, attached, no forward yet       */
    gan_layer *loose;     /* free relu, never attached                         */
    gan_layer *bn;        /* free batchnorm(3)                                 */
    gan_layer *leaky;     /* free leaky_relu(0.2)                              */
    gan_layer *wrong;     /* free dense 7 -> 1: fits no model here             */
    gan_model *m;         /* standalone: dense 2->3, relu, dense 3->1           */
    gan_model *empty;     /* standalone, no layers                             */
    gan_model *m_fresh;   /* like m, never run                                 */
    gan_model *m_wide;    /* dense 2->4, relu, dense 4->1: m's names, other shapes */
    gan_model *m_half;    /* dense 2->3, relu: m's first tensors only          */
    gan_optimizer *opt;   /* Adam over m                                       */
    gan_model *g2, *d2;   /* toy2d pair, still the caller's                    */
    gan_model *d_wide;    /* D-like but input (3): does not fit g2             */
    gan_model *d_two;     /* input (2), output (2): not one logit              */
    gan_trainer *t;       /* toy2d trainer (owns tg, td)                       */
    gan_model *tg, *td;
    gan_tensor *images;   /* (8, 2): ds's images                               */
    gan_dataset *ds;      /* 8 samples of (2), labels 0..7                     */
    gan_dataset *ds_bare; /* the same without labels                           */
    gan_tensor *loose_images;
    gan_loader *loader;   /* over ds, batch 4, shuffled                        */
    gan_checkpoint *ck;   /* the trainer file                                  */
    int32_t labels[8];
    char dir[64];
    char model_path[128], trainer_path[128], junk_path[128], empty_path[128], missing_path[128];
    char write_path[128]; /* this case's own output file */
    char arch[512];
    /* out-pointers of constructor cases */
    gan_tensor *out_t;
    gan_layer *out_l;
    gan_model *out_m;
    gan_optimizer *out_o;
    gan_trainer *out_tr;
    gan_rng *out_r;
    gan_dataset *out_ds;
    gan_loader *out_ld;
    gan_checkpoint *out_ck;
    int32_t *out_lab;
    const gan_tensor *out_y;
    const char *s_name;
    gan_tensor *t_value, *t_grad;
    int nd;
    int64_t shape[GAN_CHECKPOINT_MAX_DIMS];
    int64_t count;
    float loss;
    size_t len;
    char buf[8];
    uint64_t state[GAN_RNG_STATE_WORDS];
    gan_step_stats stats;
    gan_memory_info mem;   /* struct_size 0: too small */
} fixture;

static fixture F;
static char NAME_POOL[65][8];
static const char *NAMES65[65];
static const gan_tensor *TENS65[65];

/* Never a valid handle: constructor cases must overwrite it with NULL. */
#define SENTINEL ((void *)&F)

static gan_tensor *tensor_n(int nd, int64_t a, int64_t b)
{
    int64_t s[2] = {a, b};
    gan_tensor *t = NULL;
    TU_OK(gan_tensor_create(&t, nd, s));
    return t;
}

/* add(m, gan_layer_x(&l, ...), &l): l is read after the constructor ran. */
static void add(gan_model *m, gan_status st, gan_layer **l)
{
    TU_OK(st);
    TU_OK(gan_model_add(m, *l));
}

static gan_model *small_model(void)
{
    gan_model *m = NULL;
    gan_layer *l;
    int64_t in[1] = {2};
    TU_OK(gan_model_create(&m, 1, in));
    add(m, gan_layer_dense(&l, 2, 3, 1), &l);
    add(m, gan_layer_relu(&l), &l);
    add(m, gan_layer_dense(&l, 3, 1, 1), &l);
    return m;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    if (n) ck_assert_int_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static char files_dir[64];

static void file_paths(const char *dir)
{
    snprintf(F.model_path, sizeof F.model_path, "%s/g.safetensors", dir);
    snprintf(F.trainer_path, sizeof F.trainer_path, "%s/t.safetensors", dir);
    snprintf(F.junk_path, sizeof F.junk_path, "%s/junk.safetensors", dir);
    snprintf(F.empty_path, sizeof F.empty_path, "%s/empty", dir);
    snprintf(F.missing_path, sizeof F.missing_path, "%s/no/such/file", dir);
}

static void fixture_setup(void)
{
    memset(&F, 0, sizeof F);
    gan_allocator a = {capped_alloc, capped_free, NULL};
    TU_OK(gan_set_allocator(&a));
    TU_OK(gan_rng_create(&F.rng, 5));
    F.x = tensor_n(2, 4, 2);
    F.x3 = tensor_n(2, 3, 2);
    F.y3 = tensor_n(2, 4, 3);
    F.w5 = tensor_n(2, 4, 5);
    F.v1 = tensor_n(1, 4, 0);
    F.logit = tensor_n(2, 4, 1);
    F.noise = tensor_n(2, 4, 2);
    F.sample = tensor_n(2, 4, 2);
    TU_OK(gan_rng_fill_normal(F.rng, F.x, 0.0f, 1.0f));
    TU_OK(gan_rng_fill_normal(F.rng, F.x3, 0.0f, 1.0f));
    TU_OK(gan_rng_fill_normal(F.rng, F.noise, 0.0f, 1.0f));
    TU_OK(gan_tensor_fill(F.logit, 0.25f));

    int64_t in2[1] = {2};
    TU_OK(gan_layer_dense(&F.dense, 2, 3, 1));
    TU_OK(gan_layer_attach(F.dense, 1, in2));
    TU_OK(gan_layer_forward(F.dense, F.x, F.y3));
    TU_OK(gan_layer_dense(&F.fresh, 2, 3, 1));
    TU_OK(gan_layer_attach(F.fresh, 1, in2));
    TU_OK(gan_layer_relu(&F.loose));
    TU_OK(gan_layer_batchnorm(&F.bn, 3));
    TU_OK(gan_layer_leaky_relu(&F.leaky, 0.2f));
    TU_OK(gan_layer_dense(&F.wrong, 7, 1, 1));

    F.m = small_model();
    F.m_fresh = small_model();
    int64_t in2w[1] = {2};
    gan_layer *lw;
    TU_OK(gan_model_create(&F.m_wide, 1, in2w));
    add(F.m_wide, gan_layer_dense(&lw, 2, 4, 1), &lw);
    add(F.m_wide, gan_layer_relu(&lw), &lw);
    add(F.m_wide, gan_layer_dense(&lw, 4, 1, 1), &lw);
    TU_OK(gan_model_create(&F.m_half, 1, in2w));
    add(F.m_half, gan_layer_dense(&lw, 2, 3, 1), &lw);
    add(F.m_half, gan_layer_relu(&lw), &lw);
    for (int i = 0; i < 65; i++) {
        NAMES65[i] = NAME_POOL[i];
        snprintf(NAME_POOL[i], sizeof NAME_POOL[i], "t%d", i);
        TENS65[i] = F.x;
    }
    TU_OK(gan_model_create(&F.empty, 1, in2));
    gan_optim_config oc;
    gan_optim_config_default(&oc);
    TU_OK(gan_optimizer_create(&F.opt, F.m, &oc));
    TU_OK(gan_model_forward(F.m, F.x, &F.out_y));

    TU_OK(gan_preset_create("toy2d", 1, &F.g2, &F.d2));
    gan_layer *l;
    int64_t in3[1] = {3};
    TU_OK(gan_model_create(&F.d_wide, 1, in3));
    add(F.d_wide, gan_layer_dense(&l, 3, 1, 1), &l);
    TU_OK(gan_model_create(&F.d_two, 1, in2));
    add(F.d_two, gan_layer_dense(&l, 2, 2, 1), &l);
    gan_model *g, *d;
    TU_OK(gan_preset_create("toy2d", 2, &g, &d));
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    TU_OK(gan_trainer_create(&F.t, g, d, &cfg));
    F.tg = g;
    F.td = d;
    TU_OK(gan_train_step(F.t, F.x, NULL));

    for (int i = 0; i < 8; i++) F.labels[i] = i;
    F.images = tensor_n(2, 8, 2);
    TU_OK(gan_rng_fill_normal(F.rng, F.images, 0.0f, 1.0f));
    TU_OK(gan_dataset_create(&F.ds, F.images, F.labels));
    gan_tensor *bare = tensor_n(2, 8, 2);
    TU_OK(gan_dataset_create(&F.ds_bare, bare, NULL));
    F.loose_images = tensor_n(2, 8, 2);
    TU_OK(gan_loader_create(&F.loader, F.ds, 4, GAN_LOADER_SHUFFLE, 3));

    ck_assert_msg(files_dir[0] != '\0', "files_setup did not run");
    snprintf(F.dir, sizeof F.dir, "%s", files_dir);
    file_paths(F.dir);
    snprintf(F.write_path, sizeof F.write_path, "%s/out-%ld.safetensors", F.dir, (long)getpid());
    TU_OK(gan_checkpoint_open(&F.ck, F.trainer_path));
    TU_OK(gan_model_arch_text(F.m, F.arch, sizeof F.arch, NULL));
}

static void free_out(void)
{
    if (F.out_t != SENTINEL) gan_tensor_free(F.out_t);
    if (F.out_l != SENTINEL) gan_layer_free(F.out_l);
    if (F.out_m != SENTINEL) gan_model_free(F.out_m);
    if (F.out_o != SENTINEL) gan_optimizer_free(F.out_o);
    if (F.out_tr != SENTINEL) gan_trainer_free(F.out_tr);
    if (F.out_r != SENTINEL) gan_rng_free(F.out_r);
    if (F.out_ds != SENTINEL) gan_dataset_free(F.out_ds);
    if (F.out_ld != SENTINEL) gan_loader_free(F.out_ld);
    if (F.out_ck != SENTINEL) gan_checkpoint_close(F.out_ck);
    if (F.out_lab != SENTINEL) gan_labels_free(F.out_lab);
}

static void reset_out(void)
{
    F.out_t = SENTINEL;
    F.out_l = SENTINEL;
    F.out_m = SENTINEL;
    F.out_o = SENTINEL;
    F.out_tr = SENTINEL;
    F.out_r = SENTINEL;
    F.out_ds = SENTINEL;
    F.out_ld = SENTINEL;
    F.out_ck = SENTINEL;
    F.out_lab = SENTINEL;
}

static void huge_free(void);

static void fixture_teardown(void)
{
    huge_free();
    free_out();
    reset_out();
    gan_set_allocator(NULL); /* malloc/free again: the capped hook handed out malloc blocks */
    gan_checkpoint_close(F.ck);
    gan_loader_free(F.loader);
    gan_dataset_free(F.ds);
    gan_dataset_free(F.ds_bare);
    gan_tensor_free(F.loose_images);
    gan_trainer_free(F.t);
    gan_model_free(F.g2);
    gan_model_free(F.d2);
    gan_model_free(F.d_wide);
    gan_model_free(F.d_two);
    gan_optimizer_free(F.opt);
    gan_model_free(F.m);
    gan_model_free(F.m_fresh);
    gan_model_free(F.m_wide);
    gan_model_free(F.m_half);
    gan_model_free(F.empty);
    gan_layer *layers[6] = {F.dense, F.fresh, F.loose, F.bn, F.leaky, F.wrong};
    for (int i = 0; i < 6; i++) gan_layer_free(layers[i]);
    gan_tensor *ts[8] = {F.x, F.x3, F.y3, F.w5, F.v1, F.logit, F.noise, F.sample};
    for (int i = 0; i < 8; i++) gan_tensor_free(ts[i]);
    gan_rng_free(F.rng);
    unlink(F.write_path);
}

/* Unchecked fixture (once per run, in the parent): the read-only input
 * files every case may use — a saved model like F.m, a saved trainer, a
 * junk file and an empty one. */
static void files_setup(void)
{
    snprintf(files_dir, sizeof files_dir, "/tmp/gan-badinput-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(files_dir));
    memset(&F, 0, sizeof F);
    file_paths(files_dir);
    gan_model *m = small_model(), *g, *d;
    TU_OK(gan_model_save(m, F.model_path));
    gan_model_free(m);
    TU_OK(gan_preset_create("toy2d", 2, &g, &d));
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    gan_trainer *t = NULL;
    TU_OK(gan_trainer_create(&t, g, d, &cfg));
    TU_OK(gan_trainer_save(t, F.trainer_path));
    gan_trainer_free(t);
    write_file(F.junk_path, "this is not a checkpoint", 24);
    write_file(F.empty_path, "", 0);
}

/* Everything in the directory goes, including the output of a case that
 * failed before its teardown could remove it. */
static void files_teardown(void)
{
    DIR *dir = opendir(files_dir);
    if (dir != NULL) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(dir)) != NULL) {
            if (e->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", files_dir, e->d_name);
            unlink(path);
        }
        closedir(dir);
    }
    rmdir(files_dir);
}

/* One successful call on every handle of the fixture. */
static void fixture_usable(const char *after)
{
    const gan_tensor *y, *dx;
#define USABLE(call)                                                                            \
    do {                                                                                       \
        gan_status s_ = (call);                                                                \
        ck_assert_msg(s_ == GAN_OK, "after %s: %s gave %s (%s)", after, #call,                 \
                      gan_status_string(s_), gan_last_error());                                \
    } while (0)
    USABLE(gan_rng_fill_uniform(F.rng, F.w5, -1.0f, 1.0f));
    USABLE(gan_tensor_fill(F.v1, 1.0f));
    USABLE(gan_layer_forward(F.dense, F.x, F.y3));
    USABLE(gan_layer_backward(F.dense, F.y3, NULL));
    USABLE(gan_layer_attach(F.loose, 1, (int64_t[]){3}));
    USABLE(gan_model_forward(F.m, F.x, &y));
    USABLE(gan_model_backward(F.m, F.logit, &dx));
    USABLE(gan_optimizer_step(F.opt));
    USABLE(gan_model_zero_grad(F.m));
    USABLE(gan_model_forward(F.m_fresh, F.x3, &y));
    USABLE(gan_train_step(F.t, F.x, NULL));
    USABLE(gan_trainer_generate(F.t, NULL, F.sample));
    ck_assert_int_eq(gan_model_layer_count(F.tg), 5);
    ck_assert_int_eq(gan_model_layer_count(F.td), 5);
    gan_trainer *t2 = NULL;
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    USABLE(gan_trainer_create(&t2, F.g2, F.d2, &cfg)); /* g2, d2 still the caller's */
    gan_trainer_free(t2);
    TU_OK(gan_preset_create("toy2d", 1, &F.g2, &F.d2));
    int64_t count = 0;
    USABLE(gan_loader_next(F.loader, F.x, NULL, &count));
    USABLE(gan_dataset_size(F.ds) == 8 ? GAN_OK : GAN_E_STATE);
    USABLE(gan_checkpoint_tensor_count(F.ck) > 0 ? GAN_OK : GAN_E_STATE);
    gan_model *m = NULL;
    USABLE(gan_model_load(&m, F.model_path));
    gan_model_free(m);
#undef USABLE
}

/* ------------------------------------------------------------ the table */
/* BAD(status, call): call returns status.  BADO(status, out, call): also F.out is
 * NULL afterwards (constructors clear *out on failure). */
#define BAD(status, call)                                                                       \
    case __LINE__:                                                                              \
        c->want = (status);                                                                       \
        c->text = #call;                                                                        \
        c->out = NULL;                                                                          \
        if (!run) return GAN_OK;                                                                \
        return (call);
#define BADO(status, field, call)                                                               \
    case __LINE__:                                                                              \
        c->want = (status);                                                                       \
        c->text = #call;                                                                        \
        c->out = (void **)&F.field;                                                             \
        if (!run) return GAN_OK;                                                                \
        return (call);

typedef struct bad {
    gan_status want;
    const char *text;
    void **out;
} bad;

static const int64_t S2[2] = {4, 2}, S_ZERO[2] = {4, 0}, S_NEG[1] = {-5},
                     S_HUGE[4] = {INT64_MAX / 2, 4, 4, 4}, S_WIDE[3] = {1 << 30, 1 << 30, 1 << 30},
                     S_LEN8[1] = {8}, S_34[2] = {3, 4}, S_BIG[2] = {1 << 28, 2}, S_43[2] = {4, 3};
static const uint64_t ZERO_STATE[GAN_RNG_STATE_WORDS] = {0, 0, 0, 0, 0};
static const uint64_t BAD_SPARE[GAN_RNG_STATE_WORDS] = {1, 2, 3, 4, (uint64_t)3 << 32};
static float raw[16];

static gan_optim_config optc(int what)
{
    gan_optim_config c;
    gan_optim_config_default(&c);
    switch (what) {
    case 0: c.lr = 0.0f; break;
    case 1: c.lr = -1e-3f; break;
    case 2: c.lr = NAN; break;
    case 3: c.lr = INFINITY; break;
    case 4: c.beta1 = 1.0f; break;
    case 5: c.beta2 = -0.1f; break;
    case 6: c.eps = 0.0f; break;
    case 7: c.weight_decay = -1.0f; break;
    case 8: c.kind = (gan_optim_kind)7; break;
    case 9: c.kind = GAN_OPTIM_SGD; c.momentum = -0.5f; break;
    case 10: c.kind = GAN_OPTIM_SGD; c.momentum = NAN; break;
    default: c.beta1 = NAN; break;
    }
    return c;
}

static gan_trainer_config trc(int what)
{
    gan_trainer_config c;
    gan_trainer_config_default(&c);
    switch (what) {
    case 0: c.struct_size = 0; break;
    case 1: c.loss = (gan_loss)99; break;
    case 2: c.noise = (gan_noise)9; break;
    case 3: c.n_critic = 0; break;
    case 4: c.n_critic = -3; break;
    case 5: c.clip = -1.0f; break;
    case 6: c.clip = NAN; break;
    case 7: c.real_label = 0.0f; break;
    case 8: c.real_label = 1.5f; break;
    case 9: c.real_label = NAN; break;
    case 10: c.opt_g.lr = 0.0f; break;
    case 11: c.opt_d.beta2 = 1.0f; break;
    case 12: break; /* valid */
    default: c.struct_size = 7; break;
    }
    return c;
}

static gan_optim_config OC[12];
static gan_trainer_config TC[14];

/* A batch of 2^22 points (32 MiB, made on first use, freed by teardown):
 * planning for it needs 1 GiB in toy2d's hidden layers, above the cap. */
static float *huge_data;
static gan_tensor *huge_t;

static gan_tensor *huge_batch(void)
{
    if (huge_t == NULL) {
        int64_t s[2] = {(int64_t)1 << 22, 2};
        huge_data = calloc((size_t)1 << 23, sizeof(float));
        ck_assert_ptr_nonnull(huge_data);
        ck_assert_int_eq(gan_tensor_wrap(&huge_t, huge_data, 2, s), GAN_OK);
    }
    return huge_t;
}

static void huge_free(void)
{
    gan_tensor_free(huge_t);
    free(huge_data);
    huge_t = NULL;
    huge_data = NULL;
}

static gan_status bad_case(int line, bool run, bad *c)
{
    gan_layer *owned = F.m ? gan_model_layer(F.m, 0) : NULL;
    switch (line) {
    /* ---------------------------------------------------------- core */
    BAD(GAN_E_INVALID, gan_set_allocator(&(gan_allocator){NULL, capped_free, NULL}))
    BAD(GAN_E_INVALID, gan_set_allocator(&(gan_allocator){capped_alloc, NULL, NULL}))
    BAD(GAN_E_INVALID, gan_set_num_threads(0))
    BAD(GAN_E_INVALID, gan_set_num_threads(-1))
    BAD(GAN_E_INVALID, gan_set_num_threads(INT_MIN))
    /* --------------------------------------------------------- tensors */
    BAD(GAN_E_NULL, gan_tensor_create(NULL, 2, S2))
    BADO(GAN_E_NULL, out_t, gan_tensor_create(&F.out_t, 2, NULL))
    BADO(GAN_E_INVALID, out_t, gan_tensor_create(&F.out_t, 0, S2))
    BADO(GAN_E_INVALID, out_t, gan_tensor_create(&F.out_t, -1, S2))
    BADO(GAN_E_INVALID, out_t, gan_tensor_create(&F.out_t, 5, S_HUGE))
    BADO(GAN_E_INVALID, out_t, gan_tensor_create(&F.out_t, 2, S_ZERO))
    BADO(GAN_E_INVALID, out_t, gan_tensor_create(&F.out_t, 1, S_NEG))
    BADO(GAN_E_OVERFLOW, out_t, gan_tensor_create(&F.out_t, 4, S_HUGE))
    BADO(GAN_E_OVERFLOW, out_t, gan_tensor_create(&F.out_t, 3, S_WIDE))
    BADO(GAN_E_NOMEM, out_t, gan_tensor_create(&F.out_t, 2, S_BIG))    /* 2 GiB > the cap */
    BAD(GAN_E_NULL, gan_tensor_wrap(NULL, raw, 1, S_LEN8))
    BADO(GAN_E_NULL, out_t, gan_tensor_wrap(&F.out_t, NULL, 1, S_LEN8))
    BADO(GAN_E_NULL, out_t, gan_tensor_wrap(&F.out_t, raw, 1, NULL))
    BADO(GAN_E_INVALID, out_t, gan_tensor_wrap(&F.out_t, raw, 2, S_ZERO))
    BAD(GAN_E_NULL, gan_tensor_fill(NULL, 1.0f))
    BAD(GAN_E_NULL, gan_tensor_copy(NULL, F.x))
    BAD(GAN_E_NULL, gan_tensor_copy(F.x, NULL))
    BAD(GAN_E_SHAPE, gan_tensor_copy(F.x, F.y3))
    BAD(GAN_E_NULL, gan_tensor_reshape(NULL, 1, S_LEN8))
    BAD(GAN_E_NULL, gan_tensor_reshape(F.x, 1, NULL))
    BAD(GAN_E_INVALID, gan_tensor_reshape(F.x, 0, S_LEN8))
    BAD(GAN_E_INVALID, gan_tensor_reshape(F.x, 2, S_ZERO))
    BAD(GAN_E_SHAPE, gan_tensor_reshape(F.x, 2, S_34))
    BAD(GAN_E_OVERFLOW, gan_tensor_reshape(F.x, 4, S_HUGE))
    /* ------------------------------------------------------------- rng */
    BAD(GAN_E_NULL, gan_rng_create(NULL, 1))
    BAD(GAN_E_NULL, gan_rng_seed(NULL, 1))
    BAD(GAN_E_NULL, gan_rng_fill_normal(NULL, F.w5, 0.0f, 1.0f))
    BAD(GAN_E_NULL, gan_rng_fill_normal(F.rng, NULL, 0.0f, 1.0f))
    BAD(GAN_E_INVALID, gan_rng_fill_normal(F.rng, F.w5, 0.0f, -1.0f))
    BAD(GAN_E_INVALID, gan_rng_fill_normal(F.rng, F.w5, NAN, 1.0f))
    BAD(GAN_E_INVALID, gan_rng_fill_normal(F.rng, F.w5, 0.0f, INFINITY))
    BAD(GAN_E_NULL, gan_rng_fill_uniform(NULL, F.w5, 0.0f, 1.0f))
    BAD(GAN_E_NULL, gan_rng_fill_uniform(F.rng, NULL, 0.0f, 1.0f))
    BAD(GAN_E_INVALID, gan_rng_fill_uniform(F.rng, F.w5, 1.0f, 0.0f))
    BAD(GAN_E_INVALID, gan_rng_fill_uniform(F.rng, F.w5, NAN, 1.0f))
    BAD(GAN_E_INVALID, gan_rng_fill_uniform(F.rng, F.w5, -INFINITY, 1.0f))
    BAD(GAN_E_NULL, gan_rng_get_state(NULL, F.state))
    BAD(GAN_E_NULL, gan_rng_get_state(F.rng, NULL))
    BAD(GAN_E_NULL, gan_rng_set_state(NULL, F.state))
    BAD(GAN_E_NULL, gan_rng_set_state(F.rng, NULL))
    BAD(GAN_E_INVALID, gan_rng_set_state(F.rng, ZERO_STATE))
    BAD(GAN_E_INVALID, gan_rng_set_state(F.rng, BAD_SPARE))
    /* ---------------------------------------------- layer constructors */
    BAD(GAN_E_NULL, gan_layer_dense(NULL, 2, 3, 1))
    BADO(GAN_E_INVALID, out_l, gan_layer_dense(&F.out_l, 0, 3, 1))
    BADO(GAN_E_INVALID, out_l, gan_layer_dense(&F.out_l, 2, -3, 1))
    BADO(GAN_E_INVALID, out_l, gan_layer_dense(&F.out_l, INT_MIN, 1, 0))
    /* decided: a size whose storage cannot exist is GAN_E_NOMEM (the
     * count itself fits in int64, only the allocation fails) */
    BADO(GAN_E_NOMEM, out_l, gan_layer_dense(&F.out_l, INT_MAX, INT_MAX, 1))
    BADO(GAN_E_NOMEM, out_l, gan_layer_dense(&F.out_l, INT_MAX, 2, 1))
    BAD(GAN_E_NULL, gan_layer_conv2d(NULL, 1, 1, 3, 3, 1, 0, 1))
    BADO(GAN_E_INVALID, out_l, gan_layer_conv2d(&F.out_l, 0, 1, 3, 3, 1, 0, 1))
    BADO(GAN_E_INVALID, out_l, gan_layer_conv2d(&F.out_l, 1, -1, 3, 3, 1, 0, 1))
    BADO(GAN_E_INVALID, out_l, gan_layer_conv2d(&F.out_l, 1, 1, 0, 3, 1, 0, 1))
    BADO(GAN_E_INVALID, out_l, gan_layer_conv2d(&F.out_l, 1, 1, 3, -3, 1, 0, 1))
    BADO(GAN_E_INVALID, out_l, gan_layer_conv2d(&F.out_l, 1, 1, 3, 3, 0, 0, 1))
    BADO(GAN_E_INVALID, out_l, gan_layer_conv2d(&F.out_l, 1, 1, 3, 3, 1, -1, 1))
    BADO(GAN_E_OVERFLOW, out_l, gan_layer_conv2d(&F.out_l, 1, 1, INT_MAX, INT_MAX, 1, 0, 1))
    BADO(GAN_E_NOMEM, out_l, gan_layer_conv2d(&F.out_l, 65536, 65536, 4, 4, 2, 1, 0))
    BAD(GAN_E_NULL, gan_layer_conv_transpose2d(NULL, 1, 1, 3, 3, 1, 0, 0, 1))
    BADO(GAN_E_INVALID, out_l, gan_layer_conv_transpose2d(&F.out_l, 0, 1, 3, 3, 1, 0, 0, 1))
    BADO(GAN_E_INVALID, out_l, gan_layer_conv_transpose2d(&F.out_l, 1, 1, 3, 0, 1, 0, 0, 1))
    BADO(GAN_E_INVALID, out_l, gan_layer_conv_transpose2d(&F.out_l, 1, 1, 3, 3, -2, 0, 0, 1))
    BADO(GAN_E_INVALID, out_l, gan_layer_conv_transpose2d(&F.out_l, 1, 1, 3, 3, 1, -1, 0, 1))
    BADO(GAN_E_INVALID, out_l, gan_layer_conv_transpose2d(&F.out_l, 1, 1, 3, 3, 2, 0, 2, 1))
    BADO(GAN_E_INVALID, out_l, gan_layer_conv_transpose2d(&F.out_l, 1, 1, 3, 3, 2, 0, -1, 1))
    BADO(GAN_E_OVERFLOW, out_l, gan_layer_conv_transpose2d(&F.out_l, 1, INT_MAX, 2, 2, 1, 0, 0, 1))
    BAD(GAN_E_NULL, gan_layer_batchnorm(NULL, 3))
    BADO(GAN_E_INVALID, out_l, gan_layer_batchnorm(&F.out_l, 0))
    BADO(GAN_E_INVALID, out_l, gan_layer_batchnorm(&F.out_l, -3))
    BADO(GAN_E_NOMEM, out_l, gan_layer_batchnorm(&F.out_l, INT_MAX))
    BAD(GAN_E_NULL, gan_layer_relu(NULL))
    BAD(GAN_E_NULL, gan_layer_tanh(NULL))
    BAD(GAN_E_NULL, gan_layer_sigmoid(NULL))
    BAD(GAN_E_NULL, gan_layer_flatten(NULL))
    BAD(GAN_E_NULL, gan_layer_leaky_relu(NULL, 0.2f))
    BADO(GAN_E_INVALID, out_l, gan_layer_leaky_relu(&F.out_l, NAN))
    BADO(GAN_E_INVALID, out_l, gan_layer_leaky_relu(&F.out_l, INFINITY))
    BAD(GAN_E_NULL, gan_layer_reshape(NULL, 1, S_LEN8))
    BADO(GAN_E_NULL, out_l, gan_layer_reshape(&F.out_l, 1, NULL))
    BADO(GAN_E_INVALID, out_l, gan_layer_reshape(&F.out_l, 0, S_LEN8))
    BADO(GAN_E_INVALID, out_l, gan_layer_reshape(&F.out_l, 4, S_HUGE))
    BADO(GAN_E_INVALID, out_l, gan_layer_reshape(&F.out_l, 2, S_ZERO))
    BADO(GAN_E_INVALID, out_l, gan_layer_reshape(&F.out_l, 1, S_NEG))
    BADO(GAN_E_OVERFLOW, out_l, gan_layer_reshape(&F.out_l, 3, S_WIDE))
    /* ------------------------------------------------ layer operations */
    BAD(GAN_E_NULL, gan_layer_set(NULL, GAN_LAYER_BN_EPS, 1e-3))
    BAD(GAN_E_INVALID, gan_layer_set(F.dense, GAN_LAYER_BN_EPS, 1e-3))
    BAD(GAN_E_INVALID, gan_layer_set(F.bn, GAN_LAYER_LEAKY_SLOPE, 0.1))
    BAD(GAN_E_INVALID, gan_layer_set(F.bn, GAN_LAYER_BN_EPS, 0.0))
    BAD(GAN_E_INVALID, gan_layer_set(F.bn, GAN_LAYER_BN_EPS, -1.0))
    BAD(GAN_E_INVALID, gan_layer_set(F.bn, GAN_LAYER_BN_EPS, NAN))
    BAD(GAN_E_INVALID, gan_layer_set(F.bn, GAN_LAYER_BN_EPS, INFINITY))
    BAD(GAN_E_INVALID, gan_layer_set(F.bn, GAN_LAYER_BN_MOMENTUM, 1.5))
    BAD(GAN_E_INVALID, gan_layer_set(F.bn, GAN_LAYER_BN_MOMENTUM, NAN))
    BAD(GAN_E_INVALID, gan_layer_set(F.bn, (gan_layer_setting)99, 0.5))
    BAD(GAN_E_INVALID, gan_layer_set(F.leaky, GAN_LAYER_LEAKY_SLOPE, NAN))
    BAD(GAN_E_INVALID, gan_layer_set(F.leaky, (gan_layer_setting)-1, 0.1))
    BAD(GAN_E_NULL, gan_layer_init(NULL, GAN_INIT_PYTORCH, F.rng))
    BAD(GAN_E_NULL, gan_layer_init(F.dense, GAN_INIT_PYTORCH, NULL))
    BAD(GAN_E_INVALID, gan_layer_init(F.dense, (gan_init)5, F.rng))
    BAD(GAN_E_NULL, gan_layer_attach(NULL, 1, S_LEN8))
    BAD(GAN_E_NULL, gan_layer_attach(F.loose, 1, NULL))
    BAD(GAN_E_INVALID, gan_layer_attach(F.loose, 0, S_LEN8))
    BAD(GAN_E_INVALID, gan_layer_attach(F.loose, 4, S_HUGE))
    BAD(GAN_E_INVALID, gan_layer_attach(F.loose, 2, S_ZERO))
    BAD(GAN_E_SHAPE, gan_layer_attach(F.fresh, 1, S_LEN8))       /* dense 2->3 given (8) */
    BAD(GAN_E_SHAPE, gan_layer_attach(F.bn, 2, S_43))            /* bn(3) given (C=4, L=3) */
    BAD(GAN_E_STATE, gan_layer_attach(owned, 1, S_LEN8))         /* belongs to F.m */
    BAD(GAN_E_NULL, gan_layer_output_shape(NULL, &F.nd, F.shape))
    BAD(GAN_E_NULL, gan_layer_output_shape(F.dense, NULL, F.shape))
    BAD(GAN_E_NULL, gan_layer_output_shape(F.dense, &F.nd, NULL))
    BAD(GAN_E_STATE, gan_layer_output_shape(F.bn, &F.nd, F.shape))  /* never attached */
    BAD(GAN_E_NULL, gan_layer_forward(NULL, F.x, F.y3))
    BAD(GAN_E_NULL, gan_layer_forward(F.dense, NULL, F.y3))
    BAD(GAN_E_NULL, gan_layer_forward(F.dense, F.x, NULL))
    BAD(GAN_E_STATE, gan_layer_forward(F.bn, F.y3, F.y3))          /* never attached */
    BAD(GAN_E_STATE, gan_layer_forward(owned, F.x, F.y3))          /* belongs to F.m */
    BAD(GAN_E_SHAPE, gan_layer_forward(F.dense, F.w5, F.y3))       /* x (4, 5) */
    BAD(GAN_E_SHAPE, gan_layer_forward(F.dense, F.v1, F.y3))       /* x (4) */
    BAD(GAN_E_SHAPE, gan_layer_forward(F.dense, F.x, F.w5))        /* y (4, 5) */
    BAD(GAN_E_SHAPE, gan_layer_forward(F.dense, F.x3, F.y3))       /* batch 3 into batch 4 */
    BAD(GAN_E_NULL, gan_layer_backward(NULL, F.y3, NULL))
    BAD(GAN_E_NULL, gan_layer_backward(F.dense, NULL, NULL))
    BAD(GAN_E_STATE, gan_layer_backward(F.fresh, F.y3, NULL))      /* before forward */
    BAD(GAN_E_STATE, gan_layer_backward(owned, F.y3, NULL))        /* belongs to F.m */
    BAD(GAN_E_SHAPE, gan_layer_backward(F.dense, F.w5, NULL))      /* dy (4, 5) */
    BAD(GAN_E_SHAPE, gan_layer_backward(F.dense, F.logit, NULL))   /* dy (4, 1) */
    BAD(GAN_E_SHAPE, gan_layer_backward(F.dense, F.y3, F.w5))      /* dx (4, 5) */
    BAD(GAN_E_SHAPE, gan_layer_backward(F.dense, F.y3, F.x3))      /* dx batch 3 */
    BAD(GAN_E_NULL, gan_layer_set_training(NULL, 1))
    BAD(GAN_E_NULL, gan_layer_zero_grad(NULL))
    BAD(GAN_E_NULL, gan_layer_tensor(NULL, 0, &F.s_name, &F.t_value, &F.t_grad))
    BAD(GAN_E_INVALID, gan_layer_tensor(F.dense, -1, &F.s_name, &F.t_value, &F.t_grad))
    BAD(GAN_E_INVALID, gan_layer_tensor(F.dense, 2, &F.s_name, &F.t_value, &F.t_grad))
    BAD(GAN_E_INVALID, gan_layer_tensor(F.loose, 0, NULL, NULL, NULL))
    /* ------------------------------------------------------------ models */
    BAD(GAN_E_NULL, gan_model_create(NULL, 1, S_LEN8))
    BADO(GAN_E_NULL, out_m, gan_model_create(&F.out_m, 1, NULL))
    BADO(GAN_E_INVALID, out_m, gan_model_create(&F.out_m, 0, S_LEN8))
    BADO(GAN_E_INVALID, out_m, gan_model_create(&F.out_m, 4, S_HUGE))  /* per sample: 1..3 */
    BADO(GAN_E_INVALID, out_m, gan_model_create(&F.out_m, 2, S_ZERO))
    BADO(GAN_E_INVALID, out_m, gan_model_create(&F.out_m, 1, S_NEG))
    BADO(GAN_E_OVERFLOW, out_m, gan_model_create(&F.out_m, 3, S_WIDE))
    BAD(GAN_E_NULL, gan_model_add(NULL, F.loose))
    BAD(GAN_E_NULL, gan_model_add(F.m, NULL))
    BAD(GAN_E_SHAPE, gan_model_add(F.m, F.wrong))                  /* dense 7->1 after (1) */
    BAD(GAN_E_STATE, gan_model_add(F.m_fresh, owned))              /* belongs to F.m */
    BAD(GAN_E_STATE, gan_model_add(F.td, F.wrong))                 /* D belongs to F.t */
    BAD(GAN_E_STATE, gan_model_add(F.tg, F.leaky))                 /* G belongs to F.t */
    BAD(GAN_E_NULL, gan_model_input_shape(NULL, &F.nd, F.shape))
    BAD(GAN_E_NULL, gan_model_input_shape(F.m, NULL, F.shape))
    BAD(GAN_E_NULL, gan_model_input_shape(F.m, &F.nd, NULL))
    BAD(GAN_E_NULL, gan_model_output_shape(NULL, &F.nd, F.shape))
    BAD(GAN_E_NULL, gan_model_output_shape(F.m, NULL, F.shape))
    BAD(GAN_E_NULL, gan_model_output_shape(F.m, &F.nd, NULL))
    BAD(GAN_E_NULL, gan_model_init(NULL, GAN_INIT_DCGAN, F.rng))
    BAD(GAN_E_NULL, gan_model_init(F.m, GAN_INIT_DCGAN, NULL))
    BAD(GAN_E_INVALID, gan_model_init(F.m, (gan_init)-1, F.rng))
    BAD(GAN_E_NULL, gan_model_forward(NULL, F.x, &F.out_y))
    BAD(GAN_E_NULL, gan_model_forward(F.m, NULL, &F.out_y))
    BAD(GAN_E_NULL, gan_model_forward(F.m, F.x, NULL))
    BAD(GAN_E_STATE, gan_model_forward(F.empty, F.x, &F.out_y))    /* no layers */
    BAD(GAN_E_SHAPE, gan_model_forward(F.m, F.w5, &F.out_y))       /* (4, 5) */
    BAD(GAN_E_SHAPE, gan_model_forward(F.m, F.v1, &F.out_y))       /* (4) */
    /* decided: a batch so large that its activations cannot be allocated
     * is GAN_E_NOMEM (the cap here is 256 MiB) and changes nothing */
    BAD(GAN_E_NOMEM, gan_model_forward(F.tg, huge_batch(), &F.out_y)) /* 1 GiB of (N, 64) */
    BAD(GAN_E_NOMEM, gan_train_step(F.t, huge_batch(), NULL))
    BAD(GAN_E_NULL, gan_model_backward(NULL, F.logit, NULL))
    BAD(GAN_E_NULL, gan_model_backward(F.m, NULL, NULL))
    BAD(GAN_E_STATE, gan_model_backward(F.m_fresh, F.logit, NULL)) /* before forward */
    BAD(GAN_E_SHAPE, gan_model_backward(F.m, F.x, NULL))           /* dy (4, 2), y (4, 1) */
    BAD(GAN_E_SHAPE, gan_model_backward(F.m, F.v1, NULL))          /* dy (4) */
    BAD(GAN_E_SHAPE, gan_model_backward(F.m, F.y3, NULL))
    BAD(GAN_E_NULL, gan_model_zero_grad(NULL))
    BAD(GAN_E_NULL, gan_model_set_training(NULL, 0))
    BAD(GAN_E_NULL, gan_model_set_frozen(NULL, 1))
    BAD(GAN_E_NULL, gan_model_tensor(NULL, 0, &F.s_name, &F.t_value, &F.t_grad))
    BAD(GAN_E_INVALID, gan_model_tensor(F.m, -1, &F.s_name, &F.t_value, &F.t_grad))
    BAD(GAN_E_INVALID, gan_model_tensor(F.m, 4, &F.s_name, &F.t_value, &F.t_grad))
    BAD(GAN_E_INVALID, gan_model_tensor(F.m, INT_MAX, NULL, NULL, NULL))
    BAD(GAN_E_INVALID, gan_model_tensor(F.empty, 0, NULL, NULL, NULL))
    /* -------------------------------------------------------- optimizers */
    BAD(GAN_E_NULL, gan_optimizer_create(NULL, F.m, &OC[11]))
    BADO(GAN_E_NULL, out_o, gan_optimizer_create(&F.out_o, NULL, &OC[0]))
    BADO(GAN_E_NULL, out_o, gan_optimizer_create(&F.out_o, F.m, NULL))
    BADO(GAN_E_INVALID, out_o, gan_optimizer_create(&F.out_o, F.m, &OC[0]))
    BADO(GAN_E_INVALID, out_o, gan_optimizer_create(&F.out_o, F.m, &OC[1]))
    BADO(GAN_E_INVALID, out_o, gan_optimizer_create(&F.out_o, F.m, &OC[2]))
    BADO(GAN_E_INVALID, out_o, gan_optimizer_create(&F.out_o, F.m, &OC[3]))
    BADO(GAN_E_INVALID, out_o, gan_optimizer_create(&F.out_o, F.m, &OC[4]))
    BADO(GAN_E_INVALID, out_o, gan_optimizer_create(&F.out_o, F.m, &OC[5]))
    BADO(GAN_E_INVALID, out_o, gan_optimizer_create(&F.out_o, F.m, &OC[6]))
    BADO(GAN_E_INVALID, out_o, gan_optimizer_create(&F.out_o, F.m, &OC[7]))
    BADO(GAN_E_INVALID, out_o, gan_optimizer_create(&F.out_o, F.m, &OC[8]))
    BADO(GAN_E_INVALID, out_o, gan_optimizer_create(&F.out_o, F.m, &OC[9]))
    BADO(GAN_E_INVALID, out_o, gan_optimizer_create(&F.out_o, F.m, &OC[10]))
    BADO(GAN_E_INVALID, out_o, gan_optimizer_create(&F.out_o, F.m, &OC[11]))
    BAD(GAN_E_NULL, gan_optimizer_step(NULL))
    BAD(GAN_E_NULL, gan_optimizer_set_lr(NULL, 1e-3f))
    BAD(GAN_E_INVALID, gan_optimizer_set_lr(F.opt, 0.0f))
    BAD(GAN_E_INVALID, gan_optimizer_set_lr(F.opt, -1.0f))
    BAD(GAN_E_INVALID, gan_optimizer_set_lr(F.opt, NAN))
    BAD(GAN_E_INVALID, gan_optimizer_set_lr(F.opt, INFINITY))
    /* ------------------------------------------------------------ losses */
    BAD(GAN_E_NULL, gan_loss_bce_logits(NULL, 1.0f, &F.loss, NULL))
    BAD(GAN_E_NULL, gan_loss_bce_logits(F.logit, 1.0f, NULL, NULL))
    BAD(GAN_E_INVALID, gan_loss_bce_logits(F.logit, NAN, &F.loss, NULL))
    BAD(GAN_E_SHAPE, gan_loss_bce_logits(F.logit, 1.0f, &F.loss, F.x))
    BAD(GAN_E_NULL, gan_loss_discriminator(GAN_LOSS_NONSAT, NULL, 1, 1.0f, &F.loss, NULL))
    BAD(GAN_E_NULL, gan_loss_discriminator(GAN_LOSS_NONSAT, F.logit, 1, 1.0f, NULL, NULL))
    BAD(GAN_E_INVALID, gan_loss_discriminator((gan_loss)99, F.logit, 1, 1.0f, &F.loss, NULL))
    BAD(GAN_E_INVALID, gan_loss_discriminator((gan_loss)-1, F.logit, 0, 1.0f, &F.loss, NULL))
    BAD(GAN_E_INVALID, gan_loss_discriminator(GAN_LOSS_NONSAT, F.logit, 1, 0.0f, &F.loss, NULL))
    BAD(GAN_E_INVALID, gan_loss_discriminator(GAN_LOSS_NONSAT, F.logit, 1, 1.5f, &F.loss, NULL))
    BAD(GAN_E_INVALID, gan_loss_discriminator(GAN_LOSS_NONSAT, F.logit, 1, NAN, &F.loss, NULL))
    BAD(GAN_E_SHAPE, gan_loss_discriminator(GAN_LOSS_HINGE, F.logit, 0, 1.0f, &F.loss, F.y3))
    BAD(GAN_E_NULL, gan_loss_generator(GAN_LOSS_NONSAT, NULL, &F.loss, NULL))
    BAD(GAN_E_NULL, gan_loss_generator(GAN_LOSS_NONSAT, F.logit, NULL, NULL))
    BAD(GAN_E_INVALID, gan_loss_generator((gan_loss)5, F.logit, &F.loss, NULL))
    BAD(GAN_E_SHAPE, gan_loss_generator(GAN_LOSS_WGAN, F.logit, &F.loss, F.w5))
    /* ----------------------------------------------------------- trainer */
    BAD(GAN_E_NULL, gan_trainer_create(NULL, F.g2, F.d2, &TC[12]))
    BADO(GAN_E_NULL, out_tr, gan_trainer_create(&F.out_tr, NULL, F.d2, &TC[12]))
    BADO(GAN_E_NULL, out_tr, gan_trainer_create(&F.out_tr, F.g2, NULL, &TC[12]))
    BADO(GAN_E_NULL, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.d2, NULL))
    BADO(GAN_E_INVALID, out_tr, gan_trainer_create(&F.out_tr, F.d2, F.d2, &TC[12])) /* g == d */
    BADO(GAN_E_INVALID, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.d2, &TC[13]))
    BADO(GAN_E_STATE, out_tr, gan_trainer_create(&F.out_tr, F.tg, F.d2, &TC[12]))
    BADO(GAN_E_STATE, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.td, &TC[12]))
    BADO(GAN_E_INVALID, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.d2, &TC[0]))
    BADO(GAN_E_INVALID, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.d2, &TC[1]))
    BADO(GAN_E_INVALID, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.d2, &TC[2]))
    BADO(GAN_E_INVALID, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.d2, &TC[3]))
    BADO(GAN_E_INVALID, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.d2, &TC[4]))
    BADO(GAN_E_INVALID, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.d2, &TC[5]))
    BADO(GAN_E_INVALID, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.d2, &TC[6]))
    BADO(GAN_E_INVALID, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.d2, &TC[7]))
    BADO(GAN_E_INVALID, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.d2, &TC[8]))
    BADO(GAN_E_INVALID, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.d2, &TC[9]))
    BADO(GAN_E_INVALID, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.d2, &TC[10]))
    BADO(GAN_E_INVALID, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.d2, &TC[11]))
    BADO(GAN_E_SHAPE, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.d_wide, &TC[12]))
    BADO(GAN_E_SHAPE, out_tr, gan_trainer_create(&F.out_tr, F.g2, F.d_two, &TC[12]))
    BADO(GAN_E_STATE, out_tr, gan_trainer_create(&F.out_tr, F.empty, F.d2, &TC[12]))
    BAD(GAN_E_NULL, gan_train_step(NULL, F.x, &F.stats))
    BAD(GAN_E_NULL, gan_train_step(F.t, NULL, &F.stats))
    BAD(GAN_E_SHAPE, gan_train_step(F.t, F.w5, &F.stats))
    BAD(GAN_E_SHAPE, gan_train_step(F.t, F.v1, &F.stats))
    BAD(GAN_E_SHAPE, gan_train_step(F.t, F.logit, NULL))
    BAD(GAN_E_NULL, gan_trainer_generate(NULL, NULL, F.sample))
    BAD(GAN_E_NULL, gan_trainer_generate(F.t, F.noise, NULL))
    BAD(GAN_E_SHAPE, gan_trainer_generate(F.t, NULL, F.w5))        /* out (4, 5) */
    BAD(GAN_E_SHAPE, gan_trainer_generate(F.t, F.x3, F.sample))    /* z batch 3, out 4 */
    BAD(GAN_E_SHAPE, gan_trainer_generate(F.t, F.y3, F.sample))    /* z (4, 3) */
    BAD(GAN_E_SHAPE, gan_trainer_generate(F.t, F.noise, F.v1))
    BAD(GAN_E_NULL, gan_model_memory(NULL, &F.mem))
    BAD(GAN_E_NULL, gan_model_memory(F.m, NULL))
    BAD(GAN_E_INVALID, gan_model_memory(F.m, &F.mem))
    BAD(GAN_E_NULL, gan_trainer_memory(NULL, &F.mem))
    BAD(GAN_E_NULL, gan_trainer_memory(F.t, NULL))
    BAD(GAN_E_INVALID, gan_trainer_memory(F.t, &F.mem))
    BAD(GAN_E_NULL, gan_trainer_set_epoch(NULL, 1))
    BAD(GAN_E_INVALID, gan_trainer_set_epoch(F.t, -1))
    BAD(GAN_E_NULL, gan_preset_create(NULL, 1, &F.out_m, &F.out_m))
    BAD(GAN_E_NULL, gan_preset_create("toy2d", 1, NULL, &F.out_m))
    BAD(GAN_E_NULL, gan_preset_create("toy2d", 1, &F.out_m, NULL))
    BADO(GAN_E_INVALID, out_m, gan_preset_create("toy3d", 1, &F.out_m, &F.out_m))
    BADO(GAN_E_INVALID, out_m, gan_preset_create("", 1, &F.out_m, &F.out_m))
    /* ------------------------------------------------------- checkpoints */
    BAD(GAN_E_NULL, gan_model_save(NULL, F.write_path))
    BAD(GAN_E_NULL, gan_model_save(F.m, NULL))
    BAD(GAN_E_IO, gan_model_save(F.m, F.missing_path))
    BAD(GAN_E_IO, gan_model_save(F.m, F.dir))                      /* a directory */
    BAD(GAN_E_IO, gan_model_save(F.m, ""))
    BAD(GAN_E_NULL, gan_model_load(NULL, F.model_path))
    BADO(GAN_E_NULL, out_m, gan_model_load(&F.out_m, NULL))
    BADO(GAN_E_IO, out_m, gan_model_load(&F.out_m, F.missing_path))
    BADO(GAN_E_IO, out_m, gan_model_load(&F.out_m, F.dir))
    BADO(GAN_E_FORMAT, out_m, gan_model_load(&F.out_m, F.empty_path))
    BADO(GAN_E_FORMAT, out_m, gan_model_load(&F.out_m, F.junk_path))
    BADO(GAN_E_FORMAT, out_m, gan_model_load(&F.out_m, F.trainer_path)) /* a trainer file */
    BAD(GAN_E_NULL, gan_model_load_memory(NULL, raw, sizeof raw))
    BADO(GAN_E_NULL, out_m, gan_model_load_memory(&F.out_m, NULL, 16))
    BADO(GAN_E_FORMAT, out_m, gan_model_load_memory(&F.out_m, raw, 0))
    BADO(GAN_E_FORMAT, out_m, gan_model_load_memory(&F.out_m, raw, sizeof raw))
    BAD(GAN_E_NULL, gan_model_load_weights(NULL, F.model_path))
    BAD(GAN_E_NULL, gan_model_load_weights(F.m, NULL))
    BAD(GAN_E_IO, gan_model_load_weights(F.m, F.missing_path))
    BAD(GAN_E_FORMAT, gan_model_load_weights(F.m, F.junk_path))
    BAD(GAN_E_FORMAT, gan_model_load_weights(F.m_half, F.model_path)) /* 2.* left over */
    BAD(GAN_E_SHAPE, gan_model_load_weights(F.m_wide, F.model_path))  /* (4, 2) vs (3, 2) */
    BAD(GAN_E_FORMAT, gan_model_load_weights(F.empty, F.model_path))
    BAD(GAN_E_NULL, gan_trainer_save(NULL, F.write_path))
    BAD(GAN_E_NULL, gan_trainer_save(F.t, NULL))
    BAD(GAN_E_IO, gan_trainer_save(F.t, F.missing_path))
    BAD(GAN_E_NULL, gan_trainer_load(NULL, F.trainer_path))
    BADO(GAN_E_NULL, out_tr, gan_trainer_load(&F.out_tr, NULL))
    BADO(GAN_E_IO, out_tr, gan_trainer_load(&F.out_tr, F.missing_path))
    BADO(GAN_E_FORMAT, out_tr, gan_trainer_load(&F.out_tr, F.junk_path))
    BADO(GAN_E_FORMAT, out_tr, gan_trainer_load(&F.out_tr, F.model_path)) /* a model file */
    BAD(GAN_E_NULL, gan_model_arch_text(NULL, F.buf, sizeof F.buf, &F.len))
    BAD(GAN_E_INVALID, gan_model_arch_text(F.m, F.buf, sizeof F.buf, &F.len)) /* too small */
    BAD(GAN_E_INVALID, gan_model_arch_text(F.m, F.buf, 0, &F.len))
    BAD(GAN_E_INVALID, gan_model_arch_text(F.m, NULL, 8, &F.len))  /* decided: cap without buf */
    BAD(GAN_E_NULL, gan_model_from_arch_text(NULL, F.arch))
    BADO(GAN_E_NULL, out_m, gan_model_from_arch_text(&F.out_m, NULL))
    BADO(GAN_E_FORMAT, out_m, gan_model_from_arch_text(&F.out_m, ""))
    BADO(GAN_E_FORMAT, out_m, gan_model_from_arch_text(&F.out_m, "dense in=2 out=3"))
    BADO(GAN_E_FORMAT, out_m, gan_model_from_arch_text(&F.out_m, "input 2\nwarp in=2"))
    BADO(GAN_E_FORMAT, out_m, gan_model_from_arch_text(&F.out_m, "input 0\nrelu"))
    BADO(GAN_E_FORMAT, out_m, gan_model_from_arch_text(&F.out_m, "input 2\ndense in=2"))
    BADO(GAN_E_FORMAT, out_m, gan_model_from_arch_text(&F.out_m, "input 2\ndense in=2 out=99999999999"))
    BADO(GAN_E_SHAPE, out_m, gan_model_from_arch_text(&F.out_m, "input 2\ndense in=3 out=1"))
    BADO(GAN_E_FORMAT, out_m, gan_model_from_arch_text(&F.out_m, "input 2\ndense in=2 out=0"))
    BADO(GAN_E_INVALID, out_m, gan_model_from_arch_text(&F.out_m, "input 1 2 2\nconv_transpose2d in=1 out=1 k=3 s=2 op=2"))
    BAD(GAN_E_NULL, gan_checkpoint_open(NULL, F.trainer_path))
    BADO(GAN_E_NULL, out_ck, gan_checkpoint_open(&F.out_ck, NULL))
    BADO(GAN_E_IO, out_ck, gan_checkpoint_open(&F.out_ck, F.missing_path))
    BADO(GAN_E_FORMAT, out_ck, gan_checkpoint_open(&F.out_ck, F.junk_path))
    BAD(GAN_E_NULL, gan_checkpoint_tensor(NULL, 0, &F.s_name, &F.s_name, &F.nd, F.shape))
    BAD(GAN_E_INVALID, gan_checkpoint_tensor(F.ck, -1, &F.s_name, &F.s_name, &F.nd, F.shape))
    BAD(GAN_E_INVALID, gan_checkpoint_tensor(F.ck, INT_MAX, NULL, NULL, NULL, NULL))
    BAD(GAN_E_NULL, gan_checkpoint_metadata(NULL, 0, &F.s_name, &F.s_name))
    BAD(GAN_E_INVALID, gan_checkpoint_metadata(F.ck, -1, &F.s_name, &F.s_name))
    BAD(GAN_E_INVALID, gan_checkpoint_metadata(F.ck, 1000, NULL, NULL))
    /* -------------------------------------------------------------- data */
    BAD(GAN_E_NULL, gan_idx_read_images(NULL, F.model_path))
    BADO(GAN_E_NULL, out_t, gan_idx_read_images(&F.out_t, NULL))
    BADO(GAN_E_IO, out_t, gan_idx_read_images(&F.out_t, F.missing_path))
    BADO(GAN_E_IO, out_t, gan_idx_read_images(&F.out_t, F.dir))
    BADO(GAN_E_FORMAT, out_t, gan_idx_read_images(&F.out_t, F.junk_path))
    BADO(GAN_E_FORMAT, out_t, gan_idx_read_images(&F.out_t, F.empty_path))
    BAD(GAN_E_NULL, gan_idx_read_labels(NULL, &F.count, F.model_path))
    BADO(GAN_E_NULL, out_lab, gan_idx_read_labels(&F.out_lab, NULL, F.model_path))
    BADO(GAN_E_NULL, out_lab, gan_idx_read_labels(&F.out_lab, &F.count, NULL))
    BADO(GAN_E_IO, out_lab, gan_idx_read_labels(&F.out_lab, &F.count, F.missing_path))
    BADO(GAN_E_FORMAT, out_lab, gan_idx_read_labels(&F.out_lab, &F.count, F.junk_path))
    BAD(GAN_E_NULL, gan_tensors_save(NULL, 1, (const char *const[]){"x"}, (const gan_tensor *const[]){F.x}))
    BAD(GAN_E_NULL, gan_tensors_save(F.write_path, 1, NULL, (const gan_tensor *const[]){F.x}))
    BAD(GAN_E_NULL, gan_tensors_save(F.write_path, 1, (const char *const[]){"x"}, NULL))
    BAD(GAN_E_NULL, gan_tensors_save(F.write_path, 1, (const char *const[]){NULL}, (const gan_tensor *const[]){F.x}))
    BAD(GAN_E_NULL, gan_tensors_save(F.write_path, 1, (const char *const[]){"x"}, (const gan_tensor *const[]){NULL}))
    BAD(GAN_E_INVALID, gan_tensors_save(F.write_path, 0, (const char *const[]){"x"}, (const gan_tensor *const[]){F.x}))
    BAD(GAN_E_INVALID, gan_tensors_save(F.write_path, 65, NAMES65, TENS65))
    BAD(GAN_E_INVALID, gan_tensors_save(F.write_path, 2, (const char *const[]){"x", "x"}, (const gan_tensor *const[]){F.x, F.x3}))
    /* decided: an empty name is an invalid value, not a NULL pointer; the
     * reserved safetensors key would make a file no loader reads */
    BAD(GAN_E_INVALID, gan_tensors_save(F.write_path, 1, (const char *const[]){""}, (const gan_tensor *const[]){F.x}))
    BAD(GAN_E_INVALID, gan_tensors_save(F.write_path, 1, (const char *const[]){"__metadata__"}, (const gan_tensor *const[]){F.x}))
    BAD(GAN_E_IO, gan_tensors_save(F.missing_path, 1, (const char *const[]){"x"}, (const gan_tensor *const[]){F.x}))
    BAD(GAN_E_NULL, gan_tensor_load(NULL, F.model_path, "0.weight"))
    BADO(GAN_E_NULL, out_t, gan_tensor_load(&F.out_t, NULL, "0.weight"))
    BADO(GAN_E_NULL, out_t, gan_tensor_load(&F.out_t, F.model_path, NULL))
    BADO(GAN_E_FORMAT, out_t, gan_tensor_load(&F.out_t, F.model_path, "no.such"))
    BADO(GAN_E_IO, out_t, gan_tensor_load(&F.out_t, F.missing_path, "x"))
    BADO(GAN_E_FORMAT, out_t, gan_tensor_load(&F.out_t, F.junk_path, "x"))
    BAD(GAN_E_NULL, gan_dataset_load_idx(NULL, F.junk_path, NULL))
    BADO(GAN_E_NULL, out_ds, gan_dataset_load_idx(&F.out_ds, NULL, NULL))
    BADO(GAN_E_IO, out_ds, gan_dataset_load_idx(&F.out_ds, F.missing_path, NULL))
    BADO(GAN_E_FORMAT, out_ds, gan_dataset_load_idx(&F.out_ds, F.junk_path, NULL))
    BAD(GAN_E_NULL, gan_dataset_create(NULL, F.loose_images, NULL))
    BADO(GAN_E_NULL, out_ds, gan_dataset_create(&F.out_ds, NULL, NULL))
    BADO(GAN_E_INVALID, out_ds, gan_dataset_create(&F.out_ds, F.v1, NULL))  /* 1-D */
    BADO(GAN_E_INVALID, out_ds, gan_dataset_create(&F.out_ds, (gan_tensor *)F.out_y, NULL)) /* borrowed */
    BAD(GAN_E_NULL, gan_loader_create(NULL, F.ds, 4, 0, 1))
    BADO(GAN_E_NULL, out_ld, gan_loader_create(&F.out_ld, NULL, 4, 0, 1))
    BADO(GAN_E_INVALID, out_ld, gan_loader_create(&F.out_ld, F.ds, 0, 0, 1))
    BADO(GAN_E_INVALID, out_ld, gan_loader_create(&F.out_ld, F.ds, -4, 0, 1))
    BADO(GAN_E_INVALID, out_ld, gan_loader_create(&F.out_ld, F.ds, 4, 8u, 1))
    BADO(GAN_E_INVALID, out_ld, gan_loader_create(&F.out_ld, F.ds, 9, GAN_LOADER_DROP_LAST, 1))
    BAD(GAN_E_NULL, gan_loader_next(NULL, F.x, NULL, &F.count))
    BAD(GAN_E_NULL, gan_loader_next(F.loader, NULL, NULL, &F.count))
    BAD(GAN_E_NULL, gan_loader_next(F.loader, F.x, NULL, NULL))
    BAD(GAN_E_SHAPE, gan_loader_next(F.loader, F.x3, NULL, &F.count))  /* 3 rows, batch 4 */
    BAD(GAN_E_SHAPE, gan_loader_next(F.loader, F.y3, NULL, &F.count))  /* rows of 3 */
    BAD(GAN_E_SHAPE, gan_loader_next(F.loader, F.v1, NULL, &F.count))
    BAD(GAN_E_NULL, gan_loader_set_epoch(NULL, 0))
    BAD(GAN_E_INVALID, gan_loader_set_epoch(F.loader, -1))
    }
    c->text = NULL;
    return GAN_OK;
}
enum { BAD_LAST_LINE = __LINE__ };

static int case_lines[1024];
static int n_cases;

static void collect_cases(void)
{
    if (n_cases > 0) return;
    for (int line = 1; line < BAD_LAST_LINE && n_cases < 1024; line++) {
        bad c;
        bad_case(line, false, &c);
        if (c.text != NULL) case_lines[n_cases++] = line;
    }
}

START_TEST(bad_call)
{
    for (int i = 0; i < 12; i++) OC[i] = optc(i);
    for (int i = 0; i < 14; i++) TC[i] = trc(i);
    const int line = case_lines[_i];
    bad c;
    bad_case(line, false, &c);
    reset_out();
    /* a known message, so that we can tell the case set its own */
    ck_assert_int_eq(gan_trainer_set_epoch(F.t, -12345), GAN_E_INVALID);
    char before[512];
    snprintf(before, sizeof before, "%s", gan_last_error());
    gan_status got = bad_case(line, true, &c);
    ck_assert_msg(got == c.want, "line %d: %s returned %s, expected %s (%s)", line, c.text,
                  gan_status_string(got), gan_status_string(c.want), gan_last_error());
    ck_assert_msg(strcmp(gan_last_error(), before) != 0 && gan_last_error()[0] != '\0',
                  "line %d: %s failed without a message of its own", line, c.text);
    if (c.out != NULL)
        ck_assert_msg(*c.out == NULL, "line %d: %s failed but left *out = %p", line, c.text, *c.out);
    fixture_usable(c.text);
}
END_TEST

/* ------------------------------------------- functions without a status */
/* Getters on NULL return 0 / NULL / ""; frees of NULL do nothing; frees of
 * handles owned by someone else do nothing (documented for layers and
 * models; decided for embedded tensors). */
START_TEST(null_getters_and_frees)
{
    ck_assert_int_eq(gan_tensor_ndim(NULL), 0);
    ck_assert_int_eq(gan_tensor_dim(NULL, 0), 0);
    ck_assert_int_eq(gan_tensor_dim(F.x, -1), 0);
    ck_assert_int_eq(gan_tensor_dim(F.x, 2), 0);
    ck_assert_int_eq(gan_tensor_dim(F.x, INT_MAX), 0);
    ck_assert_int_eq(gan_tensor_numel(NULL), 0);
    ck_assert_ptr_null(gan_tensor_data(NULL));
    ck_assert_ptr_null(gan_tensor_cdata(NULL));
    ck_assert_uint_eq(gan_rng_next_u64(NULL), 0);
    ck_assert_float_eq(gan_rng_uniform(NULL), 0.0f);
    ck_assert_str_eq(gan_layer_kind(NULL), "");
    ck_assert_int_eq(gan_layer_tensor_count(NULL), 0);
    ck_assert_int_eq(gan_model_layer_count(NULL), 0);
    ck_assert_ptr_null(gan_model_layer(NULL, 0));
    ck_assert_ptr_null(gan_model_layer(F.m, -1));
    ck_assert_ptr_null(gan_model_layer(F.m, 3));
    ck_assert_ptr_null(gan_model_layer(F.m, INT_MAX));
    ck_assert_int_eq(gan_model_is_training(NULL), 0);
    ck_assert_int_eq(gan_model_is_frozen(NULL), 0);
    ck_assert_int_eq(gan_model_param_count(NULL), 0);
    ck_assert_int_eq(gan_model_tensor_count(NULL), 0);
    ck_assert_int_eq(gan_optimizer_step_count(NULL), 0);
    ck_assert_ptr_null(gan_trainer_generator(NULL));
    ck_assert_ptr_null(gan_trainer_discriminator(NULL));
    ck_assert_ptr_null(gan_trainer_optimizer(NULL, 0));
    ck_assert_ptr_null(gan_trainer_optimizer(NULL, 1));
    ck_assert_ptr_null(gan_trainer_rng(NULL));
    ck_assert_int_eq(gan_trainer_step_count(NULL), 0);
    ck_assert_int_eq(gan_trainer_epoch(NULL), 0);
    ck_assert_int_eq(gan_checkpoint_tensor_count(NULL), 0);
    ck_assert_int_eq(gan_checkpoint_metadata_count(NULL), 0);
    ck_assert_ptr_null(gan_checkpoint_get(NULL, "libgan.kind"));
    ck_assert_ptr_null(gan_checkpoint_get(F.ck, NULL));
    ck_assert_ptr_null(gan_checkpoint_get(F.ck, "no such key"));
    ck_assert_int_eq(gan_dataset_size(NULL), 0);
    ck_assert_ptr_null(gan_dataset_images(NULL));
    ck_assert_ptr_null(gan_dataset_labels(NULL));
    ck_assert_ptr_null(gan_dataset_labels(F.ds_bare));
    ck_assert_int_eq(gan_loader_epoch(NULL), 0);
    ck_assert_int_eq(gan_loader_batches_per_epoch(NULL), 0);
    ck_assert_str_eq(gan_status_string((gan_status)-1), "GAN_E_UNKNOWN");
    ck_assert_str_eq(gan_status_string((gan_status)11), "GAN_E_UNKNOWN");
    ck_assert_ptr_nonnull(gan_last_error());
    ck_assert_ptr_nonnull(gan_version_string());
    ck_assert_ptr_nonnull(gan_runtime_info());
    gan_optim_config_default(NULL);
    gan_trainer_config_default(NULL);
    /* frees of NULL */
    gan_tensor_free(NULL);
    gan_rng_free(NULL);
    gan_layer_free(NULL);
    gan_model_free(NULL);
    gan_optimizer_free(NULL);
    gan_trainer_free(NULL);
    gan_checkpoint_close(NULL);
    gan_labels_free(NULL);
    gan_dataset_free(NULL);
    gan_loader_free(NULL);
    /* frees of handles owned elsewhere: no-ops */
    gan_model_free(F.tg);                      /* owned by the trainer  */
    gan_model_free(F.td);
    gan_layer_free(gan_model_layer(F.m, 0));   /* owned by the model    */
    gan_layer_free(gan_model_layer(F.tg, 2));
    gan_tensor_free((gan_tensor *)F.out_y);    /* the model's output view */
    gan_tensor *w = NULL;
    TU_OK(gan_model_tensor(F.m, 0, NULL, &w, NULL));
    gan_tensor_free(w);                        /* a parameter view      */
    TU_OK(gan_layer_tensor(F.dense, 1, NULL, &w, NULL));
    gan_tensor_free(w);
    fixture_usable("freeing owned handles");
}
END_TEST

/* Every function gan.h exports appears in this file (a case above, or the
 * getters), so that a new API call cannot arrive without its misuse cases.
 * Functions that take no input at all are listed here instead. */
static const char *const no_input[] = {"gan_version_number", "gan_get_num_threads"};

START_TEST(every_function_has_cases)
{
    char *header = tu_read_file(GAN_TEST_DIR "/../include/gan.h", NULL);
    char *self = tu_read_file(GAN_TEST_DIR "/test_badinput.c", NULL);
    int functions = 0;
    char missing[1024] = "";
    for (const char *p = strstr(header, "GAN_API "); p != NULL; p = strstr(p + 1, "GAN_API ")) {
        const char *paren = strchr(p, '(');
        const char *semi = strchr(p, ';');
        if (paren == NULL || (semi != NULL && semi < paren)) continue;
        const char *name = paren;
        while (name > p && (name[-1] == '_' || (name[-1] >= 'a' && name[-1] <= 'z') ||
                            (name[-1] >= '0' && name[-1] <= '9')))
            name--;
        char call[96];
        int len = (int)(paren - name);
        if (len < 5 || len > 80 || strncmp(name, "gan_", 4) != 0) continue; /* the macro itself */
        snprintf(call, sizeof call, "%.*s(", len, name);
        functions++;
        bool exempt = false;
        for (size_t i = 0; i < sizeof no_input / sizeof no_input[0]; i++)
            exempt |= strlen(no_input[i]) == (size_t)len && strncmp(no_input[i], name, (size_t)len) == 0;
        /* skip our own occurrences in no_input[] and in this loop */
        if (!exempt && strstr(self, call) == NULL && strlen(missing) + (size_t)len + 2 < sizeof missing) {
            strcat(missing, " ");
            strncat(missing, name, (size_t)len);
        }
    }
    ck_assert_msg(functions > 100, "found only %d GAN_API functions in gan.h", functions);
    ck_assert_msg(missing[0] == '\0', "exported functions without bad-input cases:%s", missing);
    free(header);
    free(self);
}
END_TEST

/* ------------------------------------------------------- numeric faults */
static bool quick(void)
{
    const char *q = getenv("GAN_TEST_QUICK");
    return q != NULL && *q != '\0' && strcmp(q, "0") != 0;
}

/* Everything a step may change, copied out byte for byte. */
typedef struct state {
    float *p[2], *b[2], *o[2];
    int64_t np[2], nb[2], no[2], nbt[2][64], ostep[2], step;
    gan_rng rng;
} state;

static void state_take(state *s, gan_trainer *t)
{
    memset(s, 0, sizeof *s);
    for (int k = 0; k < 2; k++) {
        gan_model *m = k ? t->d : t->g;
        gan_optimizer *o = k ? t->opt_d : t->opt_g;
        s->np[k] = m->nparams;
        s->p[k] = malloc((size_t)(m->nparams + 1) * sizeof(float));
        memcpy(s->p[k], m->params, (size_t)m->nparams * sizeof(float));
        s->nb[k] = gan_model_buffer_floats(m);
        s->b[k] = malloc((size_t)(s->nb[k] + 1) * sizeof(float));
        ck_assert_int_le(m->nlayers, 64);
        gan_model_save_buffers(m, s->b[k], s->nbt[k]);
        s->no[k] = o->nstate;
        s->o[k] = malloc((size_t)(o->nstate + 1) * sizeof(float));
        if (o->nstate) memcpy(s->o[k], o->state, (size_t)o->nstate * sizeof(float));
        s->ostep[k] = o->step;
    }
    s->step = t->step;
    s->rng = t->rng;
}

static void state_free(state *s)
{
    for (int k = 0; k < 2; k++) {
        free(s->p[k]);
        free(s->b[k]);
        free(s->o[k]);
    }
}

static void state_assert_same(const state *a, const state *b, const char *what)
{
    static const char *const who[2] = {"G", "D"};
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(memcmp(a->p[i], b->p[i], (size_t)a->np[i] * sizeof(float)) == 0,
                      "%s: %s's parameters changed", what, who[i]);
        ck_assert_msg(a->nb[i] == 0 || memcmp(a->b[i], b->b[i], (size_t)a->nb[i] * sizeof(float)) == 0,
                      "%s: %s's batchnorm running statistics changed", what, who[i]);
        ck_assert_msg(memcmp(a->nbt[i], b->nbt[i], sizeof a->nbt[i]) == 0,
                      "%s: %s's num_batches_tracked changed", what, who[i]);
        ck_assert_msg(memcmp(a->o[i], b->o[i], (size_t)a->no[i] * sizeof(float)) == 0,
                      "%s: opt%s's moments changed", what, who[i]);
        ck_assert_msg(a->ostep[i] == b->ostep[i], "%s: opt%s's step count changed", what, who[i]);
    }
    ck_assert_msg(a->step == b->step, "%s: the trainer's step count changed", what);
    ck_assert_msg(memcmp(&a->rng, &b->rng, sizeof a->rng) == 0, "%s: the noise RNG moved", what);
}

static bool all_finite(const float *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(p[i])) return false;
    return true;
}

/* DCGAN-28 (batchnorm in G and D, Adam) fed from a loader: a batch with
 * one NaN pixel, one with an Inf pixel, and then learning rates of 1e30
 * each give GAN_E_NUMERIC with G, D, their running statistics, both
 * optimizers, the RNG and the counters byte for byte as before; with sane
 * learning rates back, training continues. */
START_TEST(numeric_faults_roll_back)
{
    const char *name = quick() ? "toy2d" : "dcgan28";
    gan_model *g, *d;
    TU_OK(gan_preset_create(name, 9, &g, &d));
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    cfg.seed = 9;
    gan_trainer *t = NULL;
    TU_OK(gan_trainer_create(&t, g, d, &cfg));
    /* 16 "real" samples in [-1, 1], batches of 4 */
    int nd;
    int64_t shp[GAN_MAX_DIMS + 1], per[GAN_MAX_DIMS];
    TU_OK(gan_model_input_shape(d, &nd, per));
    shp[0] = 16;
    for (int i = 0; i < nd; i++) shp[i + 1] = per[i];
    gan_tensor *images = NULL, *batch = NULL;
    TU_OK(gan_tensor_create(&images, nd + 1, shp));
    gan_rng *r = NULL;
    TU_OK(gan_rng_create(&r, 1));
    TU_OK(gan_rng_fill_uniform(r, images, -1.0f, 1.0f));
    gan_rng_free(r);
    gan_dataset *ds = NULL;
    TU_OK(gan_dataset_create(&ds, images, NULL));
    gan_loader *ld = NULL;
    TU_OK(gan_loader_create(&ld, ds, 4, GAN_LOADER_SHUFFLE, 2));
    shp[0] = 4;
    TU_OK(gan_tensor_create(&batch, nd + 1, shp));
    int64_t count;
#define NEXT_BATCH()                                                   \
    do {                                                               \
        TU_OK(gan_loader_next(ld, batch, NULL, &count));               \
        if (count == 0) TU_OK(gan_loader_next(ld, batch, NULL, &count)); \
        ck_assert_int_eq(count, 4);                                    \
    } while (0)
    for (int i = 0; i < 2; i++) { /* moments and running stats away from their start */
        NEXT_BATCH();
        TU_OK(gan_train_step(t, batch, NULL));
    }

    state before, after;
    state_take(&before, t);
    const float poison[2] = {NAN, INFINITY};
    for (int k = 0; k < 2; k++) {
        NEXT_BATCH();
        gan_tensor_data(batch)[gan_tensor_numel(batch) / 2 + 3] = poison[k];
        gan_step_stats stats;
        TU_STATUS(GAN_E_NUMERIC, gan_train_step(t, batch, &stats));
        state_take(&after, t);
        state_assert_same(&before, &after, k ? "Inf in the real batch" : "NaN in the real batch");
        state_free(&after);
    }

    /* exploding learning rates: the first step that goes non-finite
     * changes nothing (earlier ones may still succeed) */
    TU_OK(gan_optimizer_set_lr(gan_trainer_optimizer(t, 0), 1e30f));
    TU_OK(gan_optimizer_set_lr(gan_trainer_optimizer(t, 1), 1e30f));
    gan_status st = GAN_OK;
    int calls = 0;
    while (st == GAN_OK && calls < 10) {
        state_free(&before);
        state_take(&before, t);
        NEXT_BATCH();
        st = gan_train_step(t, batch, NULL);
        calls++;
    }
    ck_assert_msg(st == GAN_E_NUMERIC, "lr 1e30: %d steps gave %s", calls, gan_status_string(st));
    state_take(&after, t);
    state_assert_same(&before, &after, "lr 1e30");
    state_free(&after);

    /* back to sane rates: training goes on from the state kept */
    TU_OK(gan_optimizer_set_lr(gan_trainer_optimizer(t, 0), 2e-4f));
    TU_OK(gan_optimizer_set_lr(gan_trainer_optimizer(t, 1), 2e-4f));
    if (calls > 1) { /* a 1e30 step went through: its weights may be unusable, start again */
        gan_trainer_free(t);
        TU_OK(gan_preset_create(name, 9, &g, &d));
        TU_OK(gan_trainer_create(&t, g, d, &cfg));
        state_free(&before);
        state_take(&before, t);
    }
    const int64_t steps = gan_trainer_step_count(t);
    for (int i = 0; i < 2; i++) {
        NEXT_BATCH();
        TU_OK(gan_train_step(t, batch, NULL));
    }
    ck_assert_int_eq(gan_trainer_step_count(t), steps + 2);
    ck_assert(all_finite(t->g->params, t->g->nparams));
    ck_assert(all_finite(t->d->params, t->d->nparams));
    ck_assert_msg(memcmp(before.p[1], t->d->params, (size_t)before.np[1] * sizeof(float)) != 0,
                  "D did not move after the learning rate was restored");
#undef NEXT_BATCH
    state_free(&before);
    gan_loader_free(ld);
    gan_dataset_free(ds);
    gan_tensor_free(batch);
    gan_trainer_free(t);
}
END_TEST

Suite *suite_badinput(void)
{
    collect_cases();
    Suite *s = suite_create("badinput");
    TCase *tt = tcase_create("table");
    tcase_add_unchecked_fixture(tt, files_setup, files_teardown);
    tcase_add_checked_fixture(tt, fixture_setup, fixture_teardown);
    tcase_set_timeout(tt, 60);
    tcase_add_loop_test(tt, bad_call, 0, n_cases);
    tcase_add_test(tt, null_getters_and_frees);
    tcase_add_test(tt, every_function_has_cases);
    suite_add_tcase(s, tt);
    TCase *tn = tcase_create("numeric");
    tcase_set_timeout(tn, 60);
    tcase_add_test(tn, numeric_faults_roll_back);
    suite_add_tcase(s, tn);
    return s;
}
