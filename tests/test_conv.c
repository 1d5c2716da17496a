/* test_conv.c — conv2d and conv_transpose2d: parity with PyTorch reference
 * vectors (tests/ref/gen_conv.py), a naive nested-loop second reference on
 * random configurations, finite-difference gradient checks, gradient
 * accumulation, batch-size changes, initialisation, architecture text, and
 * error paths with exact statuses. */
#include "gradcheck.h"
#include "internal.h" /* describe lines; ops->backward with param_grads = false */
#include "layers/im2col.h" /* gan_conv_geometry: is a layer split into bands? */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-4

/* ------------------------------------------------------------ configuration */

/* One layer configuration with its input and output sizes. */
typedef struct conv_cfg {
    int transposed, n, cin, cout, h, w, kh, kw, stride, pad, out_pad, bias, ho, wo;
} conv_cfg;

static gan_layer *make_layer(const conv_cfg *c)
{
    gan_layer *l = NULL;
    if (c->transposed)
        TU_OK(gan_layer_conv_transpose2d(&l, c->cin, c->cout, c->kh, c->kw, c->stride, c->pad,
                                         c->out_pad, c->bias));
    else
        TU_OK(gan_layer_conv2d(&l, c->cin, c->cout, c->kh, c->kw, c->stride, c->pad, c->bias));
    int64_t in[3] = {c->cin, c->h, c->w};
    TU_OK(gan_layer_attach(l, 3, in));
    int nd = 0;
    int64_t out[GAN_MAX_DIMS];
    TU_OK(gan_layer_output_shape(l, &nd, out));
    ck_assert_int_eq(nd, 3);
    ck_assert_int_eq(out[0], c->cout);
    ck_assert_int_eq(out[1], c->ho);
    ck_assert_int_eq(out[2], c->wo);
    return l;
}

static gan_tensor *weight_of(gan_layer *l, gan_tensor **grad)
{
    const char *name;
    gan_tensor *v;
    TU_OK(gan_layer_tensor(l, 0, &name, &v, grad));
    ck_assert_str_eq(name, "weight");
    return v;
}

static gan_tensor *bias_of(gan_layer *l, gan_tensor **grad)
{
    const char *name;
    gan_tensor *v;
    TU_OK(gan_layer_tensor(l, 1, &name, &v, grad));
    ck_assert_str_eq(name, "bias");
    return v;
}

static gan_tensor *new_tensor(int ndim, const int64_t *shape)
{
    gan_tensor *t = NULL;
    TU_OK(gan_tensor_create(&t, ndim, shape));
    return t;
}

/* ------------------------------------------------------- naive reference */

/* Every (input pixel, output pixel, weight) triple the layer connects, by
 * brute force, in double:
 *   conv2d:            in (n,ci, a*s - p + ki, e*s - p + kj)  out (n,o,a,e)  W[o,ci,ki,kj]
 *   conv_transpose2d:  in (n,ci,a,e)  out (n,o, a*s - p + ki, e*s - p + kj)  W[ci,o,ki,kj]
 * y = sum x*W + b;  dx = sum W*dy;  dW = sum x*dy;  db = sum dy. */
static void naive_conv(const conv_cfg *c, const float *x, const float *w, const float *b,
                       const float *dy, double *y, double *dx, double *dw, double *db)
{
    const int64_t ny = (int64_t)c->n * c->cout * c->ho * c->wo;
    const int64_t nx = (int64_t)c->n * c->cin * c->h * c->w;
    const int64_t nw = (int64_t)c->cin * c->cout * c->kh * c->kw;
    for (int64_t i = 0; i < ny; i++) y[i] = b ? b[(i / (c->ho * c->wo)) % c->cout] : 0.0;
    memset(dx, 0, sizeof(double) * (size_t)nx);
    memset(dw, 0, sizeof(double) * (size_t)nw);
    const int gh = c->transposed ? c->h : c->ho, gw = c->transposed ? c->w : c->wo;
    for (int n = 0; n < c->n; n++)
        for (int ci = 0; ci < c->cin; ci++)
            for (int o = 0; o < c->cout; o++)
                for (int ki = 0; ki < c->kh; ki++)
                    for (int kj = 0; kj < c->kw; kj++)
                        for (int a = 0; a < gh; a++)
                            for (int e = 0; e < gw; e++) {
                                int ii = a, ij = e, oi = a, oj = e;
                                int ti = a * c->stride - c->pad + ki, tj = e * c->stride - c->pad + kj;
                                if (c->transposed) oi = ti, oj = tj;
                                else ii = ti, ij = tj;
                                if (ii < 0 || ii >= c->h || ij < 0 || ij >= c->w) continue;
                                if (oi < 0 || oi >= c->ho || oj < 0 || oj >= c->wo) continue;
                                int64_t xi = (((int64_t)n * c->cin + ci) * c->h + ii) * c->w + ij;
                                int64_t yi = (((int64_t)n * c->cout + o) * c->ho + oi) * c->wo + oj;
                                int64_t wi = c->transposed
                                                 ? (((int64_t)ci * c->cout + o) * c->kh + ki) * c->kw + kj
                                                 : (((int64_t)o * c->cin + ci) * c->kh + ki) * c->kw + kj;
                                y[yi] += (double)x[xi] * w[wi];
                                dx[xi] += (double)w[wi] * dy[yi];
                                dw[wi] += (double)x[xi] * dy[yi];
                            }
    for (int o = 0; o < c->cout; o++) db[o] = 0.0;
    for (int64_t i = 0; i < ny; i++) db[(i / (c->ho * c->wo)) % c->cout] += dy[i];
}

static void assert_close_double(const char *what, const float *got, const double *want, int64_t n,
                                double rtol)
{
    float *w = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) w[i] = (float)want[i];
    tu_assert_close(what, got, w, n, rtol);
    free(w);
}

static void fill_uniform(gan_tensor *t, gan_rng *rng)
{
    TU_OK(gan_rng_fill_uniform(rng, t, -1.0f, 1.0f));
}

/* Forward and backward through the layer on random data; compare y, dx, dW
 * and db with naive_conv, to relative tolerance rtol. */
static void check_against_naive_rtol(gan_layer *l, const conv_cfg *c, uint64_t seed,
                                     const char *label, double rtol)
{
    gan_rng *rng = NULL;
    TU_OK(gan_rng_create(&rng, seed));
    int64_t xs[4] = {c->n, c->cin, c->h, c->w}, ys[4] = {c->n, c->cout, c->ho, c->wo};
    gan_tensor *x = new_tensor(4, xs), *dx = new_tensor(4, xs);
    gan_tensor *y = new_tensor(4, ys), *dy = new_tensor(4, ys);
    gan_tensor *gw = NULL, *gb = NULL;
    gan_tensor *w = weight_of(l, &gw), *b = c->bias ? bias_of(l, &gb) : NULL;
    fill_uniform(x, rng);
    fill_uniform(dy, rng);
    fill_uniform(w, rng);
    if (b) fill_uniform(b, rng);

    TU_OK(gan_layer_zero_grad(l));
    TU_OK(gan_layer_forward(l, x, y));
    TU_OK(gan_layer_backward(l, dy, dx));

    int64_t ny = gan_tensor_numel(y), nx = gan_tensor_numel(x), nw = gan_tensor_numel(w);
    double *ry = malloc(sizeof(double) * (size_t)ny), *rdx = malloc(sizeof(double) * (size_t)nx);
    double *rdw = malloc(sizeof(double) * (size_t)nw), *rdb = malloc(sizeof(double) * (size_t)c->cout);
    naive_conv(c, gan_tensor_cdata(x), gan_tensor_cdata(w), b ? gan_tensor_cdata(b) : NULL,
               gan_tensor_cdata(dy), ry, rdx, rdw, rdb);
    char what[160];
    snprintf(what, sizeof what, "%s y", label);
    assert_close_double(what, gan_tensor_cdata(y), ry, ny, rtol);
    snprintf(what, sizeof what, "%s dx", label);
    assert_close_double(what, gan_tensor_cdata(dx), rdx, nx, rtol);
    snprintf(what, sizeof what, "%s grad_weight", label);
    assert_close_double(what, gan_tensor_cdata(gw), rdw, nw, rtol);
    if (b) {
        snprintf(what, sizeof what, "%s grad_bias", label);
        assert_close_double(what, gan_tensor_cdata(gb), rdb, c->cout, rtol);
    }
    free(ry);
    free(rdx);
    free(rdw);
    free(rdb);
    gan_tensor_free(x);
    gan_tensor_free(dx);
    gan_tensor_free(y);
    gan_tensor_free(dy);
    gan_rng_free(rng);
}

static void check_against_naive(gan_layer *l, const conv_cfg *c, uint64_t seed, const char *label)
{
    check_against_naive_rtol(l, c, seed, label, RTOL);
}

/* ------------------------------------------------- PyTorch reference cases */

/* The case names of tests/ref/gen_conv.py's CASES (file conv_<name>.bin). */
static const char *const ref_cases[] = {
    "c_k1s1p0",        "c_k3s1p1",          "c_k3s2p0_nobias",       "c_k3s1p2",
    "c_k4s2p1",        "c_k5s3p2",          "c_k5s1p0_nobias",       "c_k7s1p0",
    "c_k7s3p1",        "c_k2x5s2p1_nobias", "c_k7x3s3p2",            "c_k1s2p1",
    "t_k1s1p0_nobias", "t_k3s1p1",          "t_k4s2p1",              "t_k3s2p1_op1_nobias",
    "t_k5s3p2_op2",    "t_k7s1p0",          "t_k2x5s2p0",            "t_k3s2p2",
    "t_k5s2p0_op1",    "t_k7x3s3p1_op1_nobias", "t_k4s3p2_op0",
    "dcgan_g1",        "dcgan_g2",          "dcgan_g3",
    "dcgan_d1",        "dcgan_d2",          "dcgan_d3",
};
#define N_REF_CASES ((int)(sizeof ref_cases / sizeof ref_cases[0]))

static tu_ref *load_case(const char *name, conv_cfg *c)
{
    char file[128];
    snprintf(file, sizeof file, "conv_%s.bin", name);
    tu_ref *r = tu_ref_load(file);
    gan_tensor *t = tu_ref_get(r, "cfg");
    ck_assert_int_eq(gan_tensor_numel(t), 14);
    const float *v = gan_tensor_cdata(t);
    *c = (conv_cfg){(int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4], (int)v[5], (int)v[6],
                    (int)v[7], (int)v[8], (int)v[9], (int)v[10], (int)v[11], (int)v[12], (int)v[13]};
    return r;
}

/* gen_conv.py's gen_values: k/16 * 2^-e with k uniform in [-16, 15]. */
static float gen_value(uint32_t seed, uint32_t i, int e)
{
    uint32_t h = i * 0x9E3779B1u + seed * 0x85EBCA77u;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    h *= 0x297A2D39u;
    h ^= h >> 15;
    int32_t k = (int32_t)(h >> 27) - 16;
    return ldexpf((float)k, -4 - e);
}

/* Input tensor `name` of the shape given: stored in the file, or generated
 * from "<name>.gen" = [seed, e]. */
static gan_tensor *ref_input(tu_ref *r, const char *name, int ndim, const int64_t *shape)
{
    gan_tensor *t = new_tensor(ndim, shape);
    if (tu_ref_has(r, name)) {
        gan_tensor *src = tu_ref_get(r, name);
        ck_assert_int_eq(gan_tensor_ndim(src), ndim);
        for (int i = 0; i < ndim; i++) ck_assert_int_eq(gan_tensor_dim(src, i), shape[i]);
        TU_OK(gan_tensor_copy(t, src));
        return t;
    }
    char key[64];
    snprintf(key, sizeof key, "%s.gen", name);
    const float *g = gan_tensor_cdata(tu_ref_get(r, key));
    float *d = gan_tensor_data(t);
    for (int64_t i = 0; i < gan_tensor_numel(t); i++)
        d[i] = gen_value((uint32_t)g[0], (uint32_t)i, (int)g[1]);
    return t;
}

/* Compare `got` with scale * reference output `name`: all of it, or the
 * samples "<name>.idx" / "<name>.val". */
static void check_output(const char *label, const gan_tensor *got, tu_ref *r, const char *name,
                         float scale)
{
    char what[160], key[64];
    snprintf(what, sizeof what, "%s %s%s", label, name, scale == 1.0f ? "" : " (accumulated)");
    const float *want, *idx = NULL;
    int64_t n;
    if (tu_ref_has(r, name)) {
        const gan_tensor *t = tu_ref_get(r, name);
        ck_assert_int_eq(gan_tensor_numel(t), gan_tensor_numel(got));
        want = gan_tensor_cdata(t);
        n = gan_tensor_numel(t);
    } else {
        snprintf(key, sizeof key, "%s.idx", name);
        idx = gan_tensor_cdata(tu_ref_get(r, key));
        snprintf(key, sizeof key, "%s.val", name);
        want = gan_tensor_cdata(tu_ref_get(r, key));
        n = gan_tensor_numel(tu_ref_get(r, key));
    }
    float *g = malloc(sizeof(float) * (size_t)n), *w = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        int64_t j = idx ? (int64_t)idx[i] : i;
        ck_assert(j >= 0 && j < gan_tensor_numel(got));
        g[i] = gan_tensor_cdata(got)[j];
        w[i] = scale * want[i];
    }
    tu_assert_close(what, g, w, n, RTOL);
    free(g);
    free(w);
}

/* One reference file: forward, backward, a second backward that must
 * double the parameter gradients, and a backward without parameter
 * gradients that must leave them alone. */
START_TEST(pytorch_parity)
{
    const char *name = ref_cases[_i];
    conv_cfg c;
    tu_ref *r = load_case(name, &c);
    gan_layer *l = make_layer(&c);
    ck_assert_str_eq(gan_layer_kind(l), c.transposed ? "conv_transpose2d" : "conv2d");
    ck_assert_int_eq(gan_layer_tensor_count(l), c.bias ? 2 : 1);

    int64_t xs[4] = {c.n, c.cin, c.h, c.w}, ys[4] = {c.n, c.cout, c.ho, c.wo};
    gan_tensor *gw = NULL, *gb = NULL;
    gan_tensor *w = weight_of(l, &gw);
    int64_t ws[4] = {gan_tensor_dim(w, 0), gan_tensor_dim(w, 1), gan_tensor_dim(w, 2),
                     gan_tensor_dim(w, 3)};
    gan_tensor *w_ref = ref_input(r, "weight", 4, ws); /* checks the layout too */
    TU_OK(gan_tensor_copy(w, w_ref));
    if (c.bias) {
        int64_t bs[1] = {c.cout};
        gan_tensor *b_ref = ref_input(r, "bias", 1, bs);
        TU_OK(gan_tensor_copy(bias_of(l, &gb), b_ref));
        gan_tensor_free(b_ref);
    }
    gan_tensor *x = ref_input(r, "x", 4, xs), *dy = ref_input(r, "dy", 4, ys);
    gan_tensor *y = new_tensor(4, ys), *dx = new_tensor(4, xs);

    TU_OK(gan_layer_forward(l, x, y));
    check_output(name, y, r, "y", 1.0f);
    TU_OK(gan_layer_zero_grad(l));
    TU_OK(gan_layer_backward(l, dy, dx));
    check_output(name, dx, r, "dx", 1.0f);
    check_output(name, gw, r, "grad_weight", 1.0f);
    if (c.bias) check_output(name, gb, r, "grad_bias", 1.0f);

    /* backward adds: a second one (without dx) doubles the gradients */
    TU_OK(gan_layer_backward(l, dy, NULL));
    check_output(name, gw, r, "grad_weight", 2.0f);
    if (c.bias) check_output(name, gb, r, "grad_bias", 2.0f);

    /* param_grads = false (a frozen model): dx only, gradients untouched;
     * with dx == NULL as well, nothing at all */
    gan_tensor_fill(dx, 7.0f);
    l->ops->backward(l, gan_tensor_data(dx), gan_tensor_cdata(dy), l->saved_x, l->saved_y, c.n,
                     false);
    check_output(name, dx, r, "dx", 1.0f);
    check_output(name, gw, r, "grad_weight", 2.0f);
    l->ops->backward(l, NULL, gan_tensor_cdata(dy), l->saved_x, l->saved_y, c.n, false);
    check_output(name, gw, r, "grad_weight", 2.0f);
    if (c.bias) check_output(name, gb, r, "grad_bias", 2.0f);

    gan_tensor_free(w_ref);
    gan_tensor_free(x);
    gan_tensor_free(dy);
    gan_tensor_free(y);
    gan_tensor_free(dx);
    gan_layer_free(l);
    tu_ref_free(r);
}
END_TEST

/* A smaller batch after a larger one reuses the scratch; a larger one
 * grows it.  Samples are independent, so the first k samples of the
 * batch-7 reference are the answer for a batch of k. */
START_TEST(batch_size_changes)
{
    static const char *const names[] = {"c_k3s1p1", "t_k3s1p1"};
    for (int t = 0; t < 2; t++) {
        conv_cfg c;
        tu_ref *r = load_case(names[t], &c);
        ck_assert_int_eq(c.n, 7);
        gan_layer *l = make_layer(&c);
        TU_OK(gan_tensor_copy(weight_of(l, NULL), tu_ref_get(r, "weight")));
        TU_OK(gan_tensor_copy(bias_of(l, NULL), tu_ref_get(r, "bias")));
        gan_tensor *x = tu_ref_get(r, "x"), *dy = tu_ref_get(r, "dy");
        const gan_tensor *y_ref = tu_ref_get(r, "y"), *dx_ref = tu_ref_get(r, "dx");
        const int64_t xper = (int64_t)c.cin * c.h * c.w, yper = (int64_t)c.cout * c.ho * c.wo;
        static const int batches[] = {2, 7, 1, 3};
        for (int k = 0; k < 4; k++) {
            int64_t n = batches[k];
            int64_t xs[4] = {n, c.cin, c.h, c.w}, ys[4] = {n, c.cout, c.ho, c.wo};
            gan_tensor *xk = NULL, *dyk = NULL, *y = new_tensor(4, ys), *dx = new_tensor(4, xs);
            TU_OK(gan_tensor_wrap(&xk, gan_tensor_data(x), 4, xs));
            TU_OK(gan_tensor_wrap(&dyk, gan_tensor_data(dy), 4, ys));
            TU_OK(gan_layer_forward(l, xk, y));
            TU_OK(gan_layer_backward(l, dyk, dx));
            char what[96];
            snprintf(what, sizeof what, "%s batch %lld y", names[t], (long long)n);
            tu_assert_close(what, gan_tensor_cdata(y), gan_tensor_cdata(y_ref), n * yper, RTOL);
            snprintf(what, sizeof what, "%s batch %lld dx", names[t], (long long)n);
            tu_assert_close(what, gan_tensor_cdata(dx), gan_tensor_cdata(dx_ref), n * xper, RTOL);
            gan_tensor_free(xk);
            gan_tensor_free(dyk);
            gan_tensor_free(y);
            gan_tensor_free(dx);
        }
        gan_layer_free(l);
        tu_ref_free(r);
    }
}
END_TEST

/* ----------------------------------------------------- naive-loop checks */

/* Random configurations, each kind, against naive_conv. */
START_TEST(naive_reference_random)
{
    gan_rng *rng = NULL;
    TU_OK(gan_rng_create(&rng, 1000 + (uint64_t)_i));
#define PICK(lo, hi) ((int)(lo) + (int)(gan_rng_next_u64(rng) % (uint64_t)((hi) - (lo) + 1)))
    conv_cfg c = {0};
    c.transposed = _i % 2;
    c.n = PICK(1, 3);
    c.cin = PICK(1, 5);
    c.cout = PICK(1, 5);
    c.kh = PICK(1, 5);
    c.kw = PICK(1, 5);
    c.stride = PICK(1, 3);
    c.pad = PICK(0, 2);
    c.out_pad = c.transposed ? PICK(0, c.stride - 1) : 0;
    c.bias = PICK(0, 1);
    c.h = PICK(1, 7);
    c.w = PICK(1, 7);
    if (!c.transposed) { /* the padded input must hold one window */
        if (c.h + 2 * c.pad < c.kh) c.h = c.kh;
        if (c.w + 2 * c.pad < c.kw) c.w = c.kw;
    }
    for (int tries = 0; tries < 2; tries++) {
        if (c.transposed) {
            c.ho = (c.h - 1) * c.stride - 2 * c.pad + c.kh + c.out_pad;
            c.wo = (c.w - 1) * c.stride - 2 * c.pad + c.kw + c.out_pad;
        } else {
            c.ho = (c.h + 2 * c.pad - c.kh) / c.stride + 1;
            c.wo = (c.w + 2 * c.pad - c.kw) / c.stride + 1;
        }
        if (c.ho < 1 || c.wo < 1) c.pad = 0; /* empty transposed output: retry unpadded */
    }
#undef PICK
    char label[160];
    snprintf(label, sizeof label,
             "random %s n=%d in=%d out=%d %dx%d k=%dx%d s=%d p=%d op=%d bias=%d",
             c.transposed ? "convT" : "conv", c.n, c.cin, c.cout, c.h, c.w, c.kh, c.kw, c.stride,
             c.pad, c.out_pad, c.bias);
    gan_layer *l = make_layer(&c);
    check_against_naive(l, &c, 77 + (uint64_t)_i, label);
    gan_layer_free(l);
    gan_rng_free(rng);
}
END_TEST

/* Layers wide enough to be split into border bands (im2col.h), each kind,
 * against naive_conv at one and three threads, on the fewest samples that
 * split; then the same layer on one sample, which it lowers unsplit, and
 * on the batch again.  Sums of 400-800 float products: rtol 1e-3. */
START_TEST(split_bands_match_naive)
{
    static const int geom[][6] = { /* kh, kw, stride, pad, h, w */
        {4, 4, 2, 1, 8, 8}, {3, 3, 1, 1, 5, 6}, {5, 3, 2, 2, 6, 5}, {3, 5, 3, 1, 7, 8},
        {4, 2, 1, 2, 5, 6}, {2, 4, 2, 1, 5, 7},
    };
    const int *gm = geom[_i / 2];
    conv_cfg c = {.transposed = _i % 2, .cin = 48, .cout = 48, .kh = gm[0], .kw = gm[1],
                  .stride = gm[2], .pad = gm[3], .bias = _i % 3 != 0, .h = gm[4], .w = gm[5]};
    c.out_pad = c.transposed && c.stride > 1 ? 1 : 0;
    c.ho = c.transposed ? (c.h - 1) * c.stride - 2 * c.pad + c.kh + c.out_pad
                        : (c.h + 2 * c.pad - c.kh) / c.stride + 1;
    c.wo = c.transposed ? (c.w - 1) * c.stride - 2 * c.pad + c.kw + c.out_pad
                        : (c.w + 2 * c.pad - c.kw) / c.stride + 1;
    for (int threads = 1; threads <= 3; threads += 2) {
        TU_OK(gan_set_num_threads(threads));
        gan_layer *l = make_layer(&c);
        TU_OK(gan_layer_attach(l, 3, (int64_t[]){c.cin, c.h, c.w}));
        for (c.n = 1; c.n < 100 && gan_conv_geometry(l, c.n).nbands == 1; c.n++) continue;
        char label[160];
        snprintf(label, sizeof label, "split %s %dx%d k=%dx%d s=%d p=%d, %d samples, %d threads",
                 c.transposed ? "convT" : "conv", c.h, c.w, c.kh, c.kw, c.stride, c.pad, c.n,
                 threads);
        ck_assert_msg(c.n > 1 && c.n < 100, "%s: never split", label);
        check_against_naive_rtol(l, &c, 500 + (uint64_t)_i, label, 1e-3);
        conv_cfg one = c;
        one.n = 1;
        check_against_naive_rtol(l, &one, 600 + (uint64_t)_i, label, 1e-3);
        check_against_naive_rtol(l, &c, 700 + (uint64_t)_i, label, 1e-3);
        gan_layer_free(l);
    }
}
END_TEST

/* Re-attaching to a larger input must re-size the scratch even for a batch
 * size the layer has already seen. */
START_TEST(reattach_resizes_scratch)
{
    for (int tr = 0; tr < 2; tr++) {
        conv_cfg small = {tr, 3, 2, 3, 4, 5, 3, 3, 2, 1, tr, 1, 0, 0};
        conv_cfg big = small;
        big.h = 11;
        big.w = 9;
        conv_cfg *cs[2] = {&small, &big};
        for (int k = 0; k < 2; k++) {
            conv_cfg *c = cs[k];
            c->ho = tr ? (c->h - 1) * c->stride - 2 * c->pad + c->kh + c->out_pad
                       : (c->h + 2 * c->pad - c->kh) / c->stride + 1;
            c->wo = tr ? (c->w - 1) * c->stride - 2 * c->pad + c->kw + c->out_pad
                       : (c->w + 2 * c->pad - c->kw) / c->stride + 1;
        }
        gan_layer *l = make_layer(&small);
        check_against_naive(l, &small, 5, "before re-attach");
        int64_t in[3] = {big.cin, big.h, big.w};
        TU_OK(gan_layer_attach(l, 3, in));
        check_against_naive(l, &big, 6, "after re-attach");
        /* and from the scratch-free dense fast path back to the general one */
        conv_cfg one = small;
        one.h = tr ? 1 : small.kh;
        one.w = tr ? 1 : small.kw;
        one.pad = 0;
        one.out_pad = 0;
        one.ho = tr ? one.kh : 1;
        one.wo = tr ? one.kw : 1;
        gan_layer *d = make_layer(&one);
        check_against_naive(d, &one, 7, "dense path");
        in[0] = big.cin;
        TU_OK(gan_layer_attach(d, 3, in));
        big.pad = 0;
        big.out_pad = 0;
        big.ho = tr ? (big.h - 1) * big.stride + big.kh : (big.h - big.kh) / big.stride + 1;
        big.wo = tr ? (big.w - 1) * big.stride + big.kw : (big.w - big.kw) / big.stride + 1;
        check_against_naive(d, &big, 8, "dense path, re-attached");
        gan_layer_free(d);
        gan_layer_free(l);
    }
}
END_TEST

/* The dense fast paths (one window covers the whole input / a 1x1 input
 * spreads into the whole kernel) and near misses that must not take them. */
START_TEST(dense_fast_paths)
{
    static const conv_cfg cases[] = {
        /* tr n cin cout h w kh kw s p op bias ho wo */
        {0, 3, 4, 5, 3, 4, 3, 4, 1, 0, 0, 1, 1, 1}, /* fast: k = input        */
        {0, 2, 3, 2, 5, 5, 5, 5, 3, 0, 0, 0, 1, 1}, /* fast, stride ignored   */
        {0, 2, 3, 2, 3, 3, 3, 3, 1, 1, 0, 1, 3, 3}, /* padded: general path   */
        {0, 2, 3, 2, 3, 4, 3, 3, 1, 0, 0, 1, 1, 2}, /* k < input: general     */
        {1, 3, 4, 5, 1, 1, 3, 2, 1, 0, 0, 1, 3, 2}, /* fast: 1x1 input        */
        {1, 2, 3, 2, 1, 1, 4, 4, 2, 0, 1, 1, 5, 5}, /* output padding: general */
        {1, 2, 3, 2, 1, 1, 4, 4, 1, 1, 0, 1, 2, 2}, /* padded: general path   */
        {1, 2, 3, 2, 1, 2, 3, 3, 1, 0, 0, 0, 3, 4}, /* 1x2 input: general     */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "fast-path case %zu", i);
        gan_layer *l = make_layer(&cases[i]);
        check_against_naive(l, &cases[i], 50 + i, label);
        gan_layer_free(l);
    }
}
END_TEST

/* Each case on one thread and on two against the naive loop, to rtol. */
static void check_cases_on_1_and_2_threads(const conv_cfg *cases, size_t ncases,
                                           const char *what, uint64_t seed, double rtol)
{
    const int threads = gan_get_num_threads();
    for (int t = 1; t <= 2; t++) {
        TU_OK(gan_set_num_threads(t));
        for (size_t i = 0; i < ncases; i++) {
            char label[80];
            snprintf(label, sizeof label, "%s, case %zu, %d threads", what, i, t);
            gan_layer *l = make_layer(&cases[i]);
            check_against_naive_rtol(l, &cases[i], seed + i, label, rtol);
            gan_layer_free(l);
        }
    }
    TU_OK(gan_set_num_threads(threads));
}

/* conv_transpose2d's forward on GAN_CONVT_FEW_COLUMNS GEMM columns or
 * fewer computes cols^T and transposes it: a 4x4 input (16 columns a
 * sample) at batch 1 takes that path, batch 2 does not, a 2x2 input takes it
 * up to batch 4; on one thread and on two (where the batch of one is a lone
 * task whose GEMM the pool splits). */
START_TEST(convt_few_columns)
{
    static const conv_cfg cases[] = {
        /* tr n cin cout h w kh kw s p op bias ho wo */
        {1, 1, 6, 5, 4, 4, 4, 4, 2, 1, 0, 1, 8, 8},
        {1, 2, 6, 5, 4, 4, 4, 4, 2, 1, 0, 0, 8, 8},
        {1, 4, 3, 7, 2, 2, 3, 3, 1, 0, 0, 1, 4, 4},
        {1, 5, 3, 7, 2, 2, 3, 3, 1, 0, 0, 1, 4, 4},
    };
    check_cases_on_1_and_2_threads(cases, sizeof cases / sizeof cases[0], "few columns", 90, RTOL);
}
END_TEST

/* A batch of one is a single task, which runs outside any parallel region,
 * so on two threads the GEMMs inside it are split over the pool (these are
 * large enough for gan_sgemm to split): still the naive loop's results, to
 * float32 rounding of sums of 512-1024 terms. */
START_TEST(batch_of_one_splits_its_gemm)
{
    static const conv_cfg cases[] = {
        /* tr n cin cout h w kh kw s p op bias ho wo */
        {1, 1, 128, 64, 8, 8, 4, 4, 2, 1, 0, 0, 16, 16},
        {0, 1, 64, 32, 28, 28, 4, 4, 2, 1, 0, 1, 14, 14},
    };
    check_cases_on_1_and_2_threads(cases, sizeof cases / sizeof cases[0], "batch of one", 110,
                                   1e-3);
}
END_TEST

/* -------------------------------------------------- finite differences */

START_TEST(gradcheck_conv)
{
    static const conv_cfg cases[] = {
        {0, 2, 2, 3, 5, 6, 3, 3, 2, 1, 0, 1, 0, 0},
        {0, 1, 3, 2, 4, 5, 2, 3, 1, 0, 0, 0, 0, 0},
        {0, 2, 1, 2, 6, 4, 5, 3, 3, 2, 0, 1, 0, 0},
        {1, 2, 2, 2, 3, 3, 3, 3, 2, 1, 1, 1, 0, 0},
        {1, 1, 3, 2, 2, 3, 4, 4, 2, 1, 0, 0, 0, 0},
        {1, 2, 1, 3, 3, 2, 2, 3, 3, 0, 2, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        conv_cfg c = cases[i];
        gan_layer *l = NULL;
        if (c.transposed)
            TU_OK(gan_layer_conv_transpose2d(&l, c.cin, c.cout, c.kh, c.kw, c.stride, c.pad,
                                             c.out_pad, c.bias));
        else
            TU_OK(gan_layer_conv2d(&l, c.cin, c.cout, c.kh, c.kw, c.stride, c.pad, c.bias));
        int64_t in[3] = {c.cin, c.h, c.w};
        TU_OK(gan_layer_attach(l, 3, in));
        gan_rng *rng = NULL;
        TU_OK(gan_rng_create(&rng, 300 + i));
        TU_OK(gan_layer_init(l, GAN_INIT_PYTORCH, rng));
        int64_t xs[4] = {c.n, c.cin, c.h, c.w};
        gan_tensor *x = new_tensor(4, xs);
        fill_uniform(x, rng);
        gc_check_layer(l, x, 1e-2f, 1e-2f, 0.0f, 400 + i);
        gan_tensor_free(x);
        gan_rng_free(rng);
        gan_layer_free(l);
    }
}
END_TEST

/* ------------------------------------------------------ init, describe */

static void weight_stats(gan_layer *l, double *max_abs, double *mean, double *std)
{
    gan_tensor *w = weight_of(l, NULL);
    const float *d = gan_tensor_cdata(w);
    int64_t n = gan_tensor_numel(w);
    double s = 0, s2 = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        s += d[i];
        s2 += (double)d[i] * d[i];
        if (fabs(d[i]) > m) m = fabs(d[i]);
    }
    *max_abs = m;
    *mean = s / (double)n;
    *std = sqrt(s2 / (double)n - *mean * *mean);
}

/* PyTorch's default: U(-1/sqrt(fan_in), +) for weight and bias, with
 * fan_in = Cin*kh*kw for conv but Cout*kh*kw for ConvTranspose (PyTorch
 * reads weight.size(1)).  in != out makes the two differ by 5x. */
START_TEST(init_pytorch_bounds)
{
    gan_layer *conv = NULL, *convt = NULL;
    TU_OK(gan_layer_conv2d(&conv, 50, 2, 3, 3, 1, 0, 1));
    TU_OK(gan_layer_conv_transpose2d(&convt, 2, 50, 3, 3, 1, 0, 0, 1));
    gan_layer *ls[2] = {conv, convt};
    gan_rng *rng = NULL;
    TU_OK(gan_rng_create(&rng, 9));
    for (int k = 0; k < 2; k++) {
        for (int pass = 0; pass < 2; pass++) { /* as constructed, then re-drawn */
            if (pass == 1) TU_OK(gan_layer_init(ls[k], GAN_INIT_PYTORCH, rng));
            double bound = 1.0 / sqrt(50.0 * 9.0), m, mean, std;
            weight_stats(ls[k], &m, &mean, &std);
            ck_assert_msg(m <= bound && m > 0.95 * bound, "%s weight max %g, bound %g",
                          gan_layer_kind(ls[k]), m, bound);
            gan_tensor *b = bias_of(ls[k], NULL);
            int64_t nb = gan_tensor_numel(b);
            for (int64_t i = 0; i < nb; i++)
                ck_assert_msg(fabs(gan_tensor_cdata(b)[i]) <= bound, "bias %g beyond %g",
                              (double)gan_tensor_cdata(b)[i], bound);
        }
    }
    gan_layer_free(conv);
    gan_layer_free(convt);
    gan_rng_free(rng);
}
END_TEST

START_TEST(init_dcgan)
{
    gan_layer *conv = NULL, *convt = NULL;
    TU_OK(gan_layer_conv2d(&conv, 64, 128, 4, 4, 2, 1, 1));
    TU_OK(gan_layer_conv_transpose2d(&convt, 128, 64, 4, 4, 2, 1, 0, 1));
    gan_layer *ls[2] = {conv, convt};
    gan_rng *rng = NULL;
    TU_OK(gan_rng_create(&rng, 10));
    for (int k = 0; k < 2; k++) {
        TU_OK(gan_layer_init(ls[k], GAN_INIT_DCGAN, rng));
        double m, mean, std;
        weight_stats(ls[k], &m, &mean, &std);
        ck_assert_msg(fabs(mean) < 0.001 && fabs(std - 0.02) < 0.001, "%s mean %g std %g",
                      gan_layer_kind(ls[k]), mean, std);
        gan_tensor *b = bias_of(ls[k], NULL);
        for (int64_t i = 0; i < gan_tensor_numel(b); i++)
            ck_assert_float_eq(gan_tensor_cdata(b)[i], 0.0f);
    }
    /* same seed, same weights */
    gan_layer *again = NULL;
    TU_OK(gan_layer_conv2d(&again, 64, 128, 4, 4, 2, 1, 1));
    TU_OK(gan_rng_seed(rng, 10));
    TU_OK(gan_layer_init(conv, GAN_INIT_DCGAN, rng));
    TU_OK(gan_rng_seed(rng, 10));
    TU_OK(gan_layer_init(again, GAN_INIT_DCGAN, rng));
    ck_assert_mem_eq(gan_tensor_cdata(weight_of(conv, NULL)), gan_tensor_cdata(weight_of(again, NULL)),
                     sizeof(float) * (size_t)gan_tensor_numel(weight_of(conv, NULL)));
    gan_layer_free(again);
    gan_layer_free(conv);
    gan_layer_free(convt);
    gan_rng_free(rng);
}
END_TEST

static void describe_is(const gan_layer *l, const char *want)
{
    char buf[256];
    int len = l->ops->describe(l, buf, sizeof buf);
    ck_assert_str_eq(buf, want);
    ck_assert_int_eq(len, (int)strlen(want));
}

START_TEST(describe_and_tensors)
{
    gan_layer *l = NULL;
    TU_OK(gan_layer_conv2d(&l, 1, 64, 4, 4, 2, 1, 0));
    describe_is(l, "conv2d in=1 out=64 k=4x4 s=2 p=1 bias=0");
    ck_assert_int_eq(gan_layer_tensor_count(l), 1);
    gan_tensor *w = weight_of(l, NULL);
    ck_assert_int_eq(gan_tensor_ndim(w), 4);
    ck_assert_int_eq(gan_tensor_dim(w, 0), 64); /* (out, in, kh, kw) */
    ck_assert_int_eq(gan_tensor_dim(w, 1), 1);
    gan_layer_free(l);

    TU_OK(gan_layer_conv2d(&l, 3, 5, 2, 7, 3, 0, 1));
    describe_is(l, "conv2d in=3 out=5 k=2x7 s=3 p=0 bias=1");
    ck_assert_int_eq(gan_layer_tensor_count(l), 2);
    gan_tensor *b = bias_of(l, NULL);
    ck_assert_int_eq(gan_tensor_ndim(b), 1);
    ck_assert_int_eq(gan_tensor_dim(b, 0), 5);
    w = weight_of(l, NULL);
    ck_assert_int_eq(gan_tensor_dim(w, 2), 2);
    ck_assert_int_eq(gan_tensor_dim(w, 3), 7);
    gan_layer_free(l);

    TU_OK(gan_layer_conv_transpose2d(&l, 100, 256, 7, 7, 1, 0, 0, 0));
    describe_is(l, "conv_transpose2d in=100 out=256 k=7x7 s=1 p=0 op=0 bias=0");
    w = weight_of(l, NULL);
    ck_assert_int_eq(gan_tensor_dim(w, 0), 100); /* (in, out, kh, kw) */
    ck_assert_int_eq(gan_tensor_dim(w, 1), 256);
    gan_layer_free(l);

    TU_OK(gan_layer_conv_transpose2d(&l, 3, 1, 5, 3, 3, 2, 2, 1));
    describe_is(l, "conv_transpose2d in=3 out=1 k=5x3 s=3 p=2 op=2 bias=1");
    gan_layer_free(l);
}
END_TEST

/* ----------------------------------------------------------- error paths */

START_TEST(constructor_errors)
{
    gan_layer *l = (gan_layer *)&l; /* must be reset to NULL on failure */
    TU_STATUS(GAN_E_NULL, gan_layer_conv2d(NULL, 1, 1, 3, 3, 1, 0, 1));
    TU_STATUS(GAN_E_NULL, gan_layer_conv_transpose2d(NULL, 1, 1, 3, 3, 1, 0, 0, 1));
    TU_STATUS(GAN_E_INVALID, gan_layer_conv2d(&l, 0, 1, 3, 3, 1, 0, 1));
    ck_assert_ptr_null(l);
    ck_assert_msg(strstr(gan_last_error(), "in_channels = 0") != NULL, "%s", gan_last_error());
    TU_STATUS(GAN_E_INVALID, gan_layer_conv2d(&l, 1, -1, 3, 3, 1, 0, 1));
    TU_STATUS(GAN_E_INVALID, gan_layer_conv2d(&l, 1, 1, 0, 3, 1, 0, 1));
    TU_STATUS(GAN_E_INVALID, gan_layer_conv2d(&l, 1, 1, 3, -2, 1, 0, 1));
    TU_STATUS(GAN_E_INVALID, gan_layer_conv2d(&l, 1, 1, 3, 3, 0, 0, 1));
    TU_STATUS(GAN_E_INVALID, gan_layer_conv2d(&l, 1, 1, 3, 3, 1, -1, 1));
    ck_assert_msg(strstr(gan_last_error(), "padding = -1") != NULL, "%s", gan_last_error());

    l = (gan_layer *)&l;
    TU_STATUS(GAN_E_INVALID, gan_layer_conv_transpose2d(&l, 0, 1, 3, 3, 1, 0, 0, 1));
    ck_assert_ptr_null(l);
    TU_STATUS(GAN_E_INVALID, gan_layer_conv_transpose2d(&l, 1, 0, 3, 3, 1, 0, 0, 1));
    TU_STATUS(GAN_E_INVALID, gan_layer_conv_transpose2d(&l, 1, 1, 3, 0, 1, 0, 0, 1));
    TU_STATUS(GAN_E_INVALID, gan_layer_conv_transpose2d(&l, 1, 1, 3, 3, -1, 0, 0, 1));
    TU_STATUS(GAN_E_INVALID, gan_layer_conv_transpose2d(&l, 1, 1, 3, 3, 1, -3, 0, 1));
    /* output_padding must be in [0, stride) */
    TU_STATUS(GAN_E_INVALID, gan_layer_conv_transpose2d(&l, 1, 1, 3, 3, 2, 1, 2, 1));
    ck_assert_msg(strstr(gan_last_error(), "output_padding = 2") != NULL, "%s", gan_last_error());
    TU_STATUS(GAN_E_INVALID, gan_layer_conv_transpose2d(&l, 1, 1, 3, 3, 1, 0, 1, 1));
    TU_STATUS(GAN_E_INVALID, gan_layer_conv_transpose2d(&l, 1, 1, 3, 3, 2, 0, -1, 1));
    TU_OK(gan_layer_conv_transpose2d(&l, 1, 1, 3, 3, 2, 0, 1, 1));
    gan_layer_free(l);

    /* K = C*kh*kw must fit a BLAS int: 65536*256*256 = 2^32 */
    TU_STATUS(GAN_E_OVERFLOW, gan_layer_conv2d(&l, 65536, 1, 256, 256, 1, 0, 0));
    ck_assert_ptr_null(l);
    TU_STATUS(GAN_E_OVERFLOW, gan_layer_conv_transpose2d(&l, 1, 65536, 256, 256, 1, 0, 0, 0));
    ck_assert_ptr_null(l);
    gan_layer_free(NULL);
}
END_TEST

START_TEST(attach_errors)
{
    gan_layer *conv = NULL, *convt = NULL;
    TU_OK(gan_layer_conv2d(&conv, 1, 4, 5, 5, 1, 0, 1));
    TU_OK(gan_layer_conv_transpose2d(&convt, 2, 4, 1, 1, 1, 1, 0, 1));

    int64_t rgb[3] = {3, 28, 28};
    TU_STATUS(GAN_E_SHAPE, gan_layer_attach(conv, 3, rgb));
    ck_assert_msg(strstr(gan_last_error(), "conv2d: input has 3 channels, layer expects 1") != NULL,
                  "message: %s", gan_last_error());
    TU_STATUS(GAN_E_SHAPE, gan_layer_attach(convt, 3, rgb));
    ck_assert_msg(strstr(gan_last_error(), "conv_transpose2d: input has 3 channels, layer expects 2") != NULL,
                  "message: %s", gan_last_error());

    int64_t flat[1] = {784};
    TU_STATUS(GAN_E_SHAPE, gan_layer_attach(conv, 1, flat));
    ck_assert_msg(strstr(gan_last_error(), "(784)") != NULL, "message: %s", gan_last_error());
    TU_STATUS(GAN_E_SHAPE, gan_layer_attach(convt, 1, flat));

    /* 4x6 input, 5x5 kernel, no padding: too small in H */
    int64_t small[3] = {1, 4, 6};
    TU_STATUS(GAN_E_SHAPE, gan_layer_attach(conv, 3, small));
    ck_assert_msg(strstr(gan_last_error(), "4x6") != NULL && strstr(gan_last_error(), "5x5") != NULL,
                  "message: %s", gan_last_error());
    int64_t exact[3] = {1, 5, 5};
    TU_OK(gan_layer_attach(conv, 3, exact)); /* 1x1 output */

    /* transposed: (1 - 1)*1 - 2*1 + 1 = -1, an empty output */
    int64_t one[3] = {2, 1, 1};
    TU_STATUS(GAN_E_SHAPE, gan_layer_attach(convt, 3, one));
    int64_t three[3] = {2, 3, 3};
    TU_OK(gan_layer_attach(convt, 3, three)); /* 2*1 - 2 + 1 = 1 */

    /* P = Ho*Wo is a BLAS int */
    gan_layer *k1 = NULL, *t1 = NULL;
    TU_OK(gan_layer_conv2d(&k1, 1, 1, 1, 1, 1, 0, 0));
    TU_OK(gan_layer_conv_transpose2d(&t1, 1, 1, 1, 1, 1, 0, 0, 0));
    int64_t huge[3] = {1, 65536, 65536};
    TU_STATUS(GAN_E_OVERFLOW, gan_layer_attach(k1, 3, huge));
    TU_STATUS(GAN_E_OVERFLOW, gan_layer_attach(t1, 3, huge));

    TU_STATUS(GAN_E_NULL, gan_layer_attach(NULL, 3, rgb));
    TU_STATUS(GAN_E_NULL, gan_layer_attach(conv, 3, NULL));
    gan_layer_free(conv);
    gan_layer_free(convt);
    gan_layer_free(k1);
    gan_layer_free(t1);
}
END_TEST

START_TEST(call_order_and_shape_errors)
{
    for (int tr = 0; tr < 2; tr++) {
        gan_layer *l = NULL;
        if (tr) TU_OK(gan_layer_conv_transpose2d(&l, 2, 3, 3, 3, 2, 1, 1, 1));
        else TU_OK(gan_layer_conv2d(&l, 2, 3, 3, 3, 2, 1, 1));
        int64_t xs[4] = {4, 2, 5, 5};
        int64_t ys[4] = {4, 3, tr ? 10 : 3, tr ? 10 : 3};
        gan_tensor *x = new_tensor(4, xs), *y = new_tensor(4, ys), *dx = new_tensor(4, xs);
        gan_tensor *dy = new_tensor(4, ys);

        TU_STATUS(GAN_E_STATE, gan_layer_forward(l, x, y)); /* not attached */
        TU_OK(gan_layer_attach(l, 3, xs + 1));
        TU_STATUS(GAN_E_STATE, gan_layer_backward(l, dy, dx)); /* no forward yet */
        TU_STATUS(GAN_E_NULL, gan_layer_forward(NULL, x, y));
        TU_STATUS(GAN_E_NULL, gan_layer_forward(l, NULL, y));
        TU_STATUS(GAN_E_NULL, gan_layer_forward(l, x, NULL));

        int64_t ybad[4] = {4, 3, ys[2] + 1, ys[3]};
        gan_tensor *y_wrong = new_tensor(4, ybad);
        TU_STATUS(GAN_E_SHAPE, gan_layer_forward(l, x, y_wrong));
        int64_t ybatch[4] = {3, 3, ys[2], ys[3]};
        gan_tensor *y_batch = new_tensor(4, ybatch);
        TU_STATUS(GAN_E_SHAPE, gan_layer_forward(l, x, y_batch));
        int64_t xbad[4] = {4, 3, 5, 5};
        gan_tensor *x_wrong = new_tensor(4, xbad);
        TU_STATUS(GAN_E_SHAPE, gan_layer_forward(l, x_wrong, y));

        TU_OK(gan_layer_forward(l, x, y));
        TU_STATUS(GAN_E_NULL, gan_layer_backward(l, NULL, dx));
        TU_STATUS(GAN_E_NULL, gan_layer_backward(NULL, dy, dx));
        TU_STATUS(GAN_E_SHAPE, gan_layer_backward(l, y_wrong, dx));
        TU_STATUS(GAN_E_SHAPE, gan_layer_backward(l, dy, x_wrong));
        TU_OK(gan_layer_backward(l, dy, dx));
        TU_OK(gan_layer_backward(l, dy, NULL));

        gan_tensor_free(x);
        gan_tensor_free(y);
        gan_tensor_free(dx);
        gan_tensor_free(dy);
        gan_tensor_free(y_wrong);
        gan_tensor_free(y_batch);
        gan_tensor_free(x_wrong);
        gan_layer_free(l);
    }
}
END_TEST

/* batch * Ho*Wo is a BLAS int too: checked when scratch is reserved, before
 * any data is touched (the tensors below wrap a few floats only). */
START_TEST(batch_overflow)
{
    static float xbuf[4], ybuf[4];
    for (int tr = 0; tr < 2; tr++) {
        gan_layer *l = NULL;
        if (tr) TU_OK(gan_layer_conv_transpose2d(&l, 1, 1, 1, 1, 1, 0, 0, 0));
        else TU_OK(gan_layer_conv2d(&l, 1, 1, 1, 1, 1, 0, 0));
        int64_t s[4] = {1 << 18, 1, 128, 128}; /* 2^18 * 2^14 positions */
        TU_OK(gan_layer_attach(l, 3, s + 1));
        gan_tensor *x = NULL, *y = NULL;
        TU_OK(gan_tensor_wrap(&x, xbuf, 4, s));
        TU_OK(gan_tensor_wrap(&y, ybuf, 4, s));
        TU_STATUS(GAN_E_OVERFLOW, gan_layer_forward(l, x, y));
        ck_assert_msg(strstr(gan_last_error(), "INT_MAX") != NULL, "%s", gan_last_error());
        gan_tensor_free(x);
        gan_tensor_free(y);
        gan_layer_free(l);
    }
}
END_TEST

Suite *suite_conv(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, pytorch_parity, 0, N_REF_CASES);
    tcase_add_test(tc, batch_size_changes);
    tcase_add_loop_test(tc, naive_reference_random, 0, 16);
    tcase_add_loop_test(tc, split_bands_match_naive, 0, 12);
    tcase_add_test(tc, convt_few_columns);
    tcase_add_test(tc, batch_of_one_splits_its_gemm);
    tcase_add_test(tc, reattach_resizes_scratch);
    tcase_add_test(tc, dense_fast_paths);
    tcase_add_test(tc, gradcheck_conv);
    tcase_add_test(tc, init_pytorch_bounds);
    tcase_add_test(tc, init_dcgan);
    tcase_add_test(tc, describe_and_tensors);
    tcase_add_test(tc, constructor_errors);
    tcase_add_test(tc, attach_errors);
    tcase_add_test(tc, call_order_and_shape_errors);
    tcase_add_test(tc, batch_overflow);
    suite_add_tcase(s, tc);
    return s;
}
