/* presets.c — ready-made G/D pairs by name (see gan_preset_create).
 *
 *   dcgan28  G28 / D28 of the reference models (Fashion-MNIST, 1x28x28)
 *   dcgan64  pytorch/examples dcgan, logit output (3x64x64)
 *   mlp28    the vanilla MLP GAN on 28x28 images
 *   toy2d    a small MLP GAN on 2-D points
 *
 * Each preset is a list of layer specs; building one adds them in order. */
#include "nn.h"

#include <string.h>

typedef enum { L_END, L_DENSE, L_CONV, L_CONVT, L_BN, L_RELU, L_LRELU, L_TANH, L_RESHAPE, L_FLATTEN } lkind;

typedef struct spec {
    lkind kind;
    int a, b, k, s, p; /* dense: in a, out b; conv/convT: in a, out b, k, stride s, pad p;
                          bn: a features; reshape: (a, b, k) */
} spec;

#define DENSE(i, o) {L_DENSE, i, o, 0, 0, 0}
#define CONV(i, o, k, s, p) {L_CONV, i, o, k, s, p}
#define CONVT(i, o, k, s, p) {L_CONVT, i, o, k, s, p}
#define BN(c) {L_BN, c, 0, 0, 0, 0}
#define RELU {L_RELU, 0, 0, 0, 0, 0}
#define LRELU {L_LRELU, 0, 0, 0, 0, 0}
#define TANH {L_TANH, 0, 0, 0, 0, 0}
#define END {L_END, 0, 0, 0, 0, 0}

/* DCGAN-28: z (100,1,1) -> (1,28,28) -> logit */
static const spec g28[] = {CONVT(100, 256, 7, 1, 0), BN(256), RELU,
                           CONVT(256, 128, 4, 2, 1), BN(128), RELU,
                           CONVT(128, 1, 4, 2, 1), TANH, END};
static const spec d28[] = {CONV(1, 64, 4, 2, 1), LRELU,
                           CONV(64, 128, 4, 2, 1), BN(128), LRELU,
                           CONV(128, 1, 7, 1, 0), END};

/* DCGAN-64 (ngf = ndf = 64, nc = 3) */
static const spec g64[] = {CONVT(100, 512, 4, 1, 0), BN(512), RELU,
                           CONVT(512, 256, 4, 2, 1), BN(256), RELU,
                           CONVT(256, 128, 4, 2, 1), BN(128), RELU,
                           CONVT(128, 64, 4, 2, 1), BN(64), RELU,
                           CONVT(64, 3, 4, 2, 1), TANH, END};
static const spec d64[] = {CONV(3, 64, 4, 2, 1), LRELU,
                           CONV(64, 128, 4, 2, 1), BN(128), LRELU,
                           CONV(128, 256, 4, 2, 1), BN(256), LRELU,
                           CONV(256, 512, 4, 2, 1), BN(512), LRELU,
                           CONV(512, 1, 4, 1, 0), END};

/* Vanilla MLP GAN for 28x28 images */
static const spec gmlp[] = {DENSE(100, 256), LRELU, DENSE(256, 512), LRELU,
                            DENSE(512, 1024), LRELU, DENSE(1024, 784), TANH,
                            {L_RESHAPE, 1, 28, 28, 0, 0}, END};
static const spec dmlp[] = {{L_FLATTEN, 0, 0, 0, 0, 0}, DENSE(784, 512), LRELU,
                            DENSE(512, 256), LRELU, DENSE(256, 1), END};

/* 2-D toy: z (2) -> point (2) -> logit.  Noise of the data's own dimension:
 * with z of 8 the ring-of-8-Gaussians test lost modes far more often. */
static const spec gtoy[] = {DENSE(2, 64), RELU, DENSE(64, 64), RELU, DENSE(64, 2), END};
static const spec dtoy[] = {DENSE(2, 64), LRELU, DENSE(64, 64), LRELU, DENSE(64, 1), END};

typedef struct preset {
    const char *name;
    const spec *g, *d;
    int g_ndim, d_ndim;
    int64_t g_in[3], d_in[3];
    gan_init init;
} preset;

static const preset presets[] = {
    {"dcgan28", g28, d28, 3, 3, {100, 1, 1}, {1, 28, 28}, GAN_INIT_DCGAN},
    {"dcgan64", g64, d64, 3, 3, {100, 1, 1}, {3, 64, 64}, GAN_INIT_DCGAN},
    {"mlp28", gmlp, dmlp, 1, 3, {100}, {1, 28, 28}, GAN_INIT_PYTORCH},
    {"toy2d", gtoy, dtoy, 1, 1, {2}, {2}, GAN_INIT_PYTORCH},
};

static gan_status make_layer(const spec *s, gan_layer **l)
{
    switch (s->kind) {
    case L_DENSE: return gan_layer_dense(l, s->a, s->b, 1);
    case L_CONV: return gan_layer_conv2d(l, s->a, s->b, s->k, s->k, s->s, s->p, 0);
    case L_CONVT: return gan_layer_conv_transpose2d(l, s->a, s->b, s->k, s->k, s->s, s->p, 0, 0);
    case L_BN: return gan_layer_batchnorm(l, s->a);
    case L_RELU: return gan_layer_relu(l);
    case L_LRELU: return gan_layer_leaky_relu(l, 0.2f);
    case L_TANH: return gan_layer_tanh(l);
    case L_RESHAPE: {
        int64_t shape[3] = {s->a, s->b, s->k};
        return gan_layer_reshape(l, 3, shape);
    }
    case L_FLATTEN: return gan_layer_flatten(l);
    case L_END: break;
    }
    return gan_fail(GAN_E_INVALID, "gan_preset_create: bad layer spec %d", (int)s->kind);
}

static gan_status build(gan_model **out, int ndim, const int64_t *in, const spec *specs)
{
    gan_model *m = NULL;
    GAN_TRY(gan_model_create(&m, ndim, in));
    for (const spec *s = specs; s->kind != L_END; s++) {
        gan_layer *l = NULL;
        gan_status st = make_layer(s, &l);
        if (st == GAN_OK) st = gan_model_add(m, l);
        if (st != GAN_OK) {
            gan_layer_free(l);
            gan_model_free(m);
            return st;
        }
    }
    *out = m;
    return GAN_OK;
}

gan_status gan_preset_create(const char *name, uint64_t seed, gan_model **g, gan_model **d)
{
    static const char fn[] = "gan_preset_create";
    GAN_CHECK_NULL(g, fn);
    GAN_CHECK_NULL(d, fn);
    *g = *d = NULL;
    GAN_CHECK_NULL(name, fn);
    const preset *p = NULL;
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(name, presets[i].name) == 0) p = &presets[i];
    if (p == NULL)
        return gan_fail(GAN_E_INVALID,
                        "%s: unknown preset \"%s\" (known: dcgan28, dcgan64, mlp28, toy2d)", fn, name);
    gan_model *gm = NULL, *dm = NULL;
    GAN_TRY(build(&gm, p->g_ndim, p->g_in, p->g));
    gan_status st = build(&dm, p->d_ndim, p->d_in, p->d);
    gan_rng rng;
    gan_rng_seed(&rng, seed);
    if (st == GAN_OK) st = gan_model_init(gm, p->init, &rng);
    if (st == GAN_OK) st = gan_model_init(dm, p->init, &rng);
    if (st != GAN_OK) {
        gan_model_free(gm);
        gan_model_free(dm);
        return st;
    }
    *g = gm;
    *d = dm;
    return GAN_OK;
}
