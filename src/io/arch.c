/* arch.c — the architecture text: one line per layer, as the layers
 * describe themselves, after an "input" line.
 *
 *     input 100 1 1
 *     conv_transpose2d in=100 out=256 k=7x7 s=1 p=0 op=0 bias=0
 *     batchnorm features=256 eps=1e-05 momentum=0.1
 *     relu
 *
 * Parsing runs in two passes: every line is read into a small spec and
 * checked against the limits in arch.h, and the total size of the
 * parameters is compared with the caller's budget; only then are layers
 * built, through the public constructors, exactly as a user would. */
#include "arch.h"

#include "nn.h"
#include "safetensors.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum arch_kind {
    K_DENSE, K_CONV, K_CONVT, K_BN, K_RELU, K_LEAKY, K_TANH, K_SIGMOID, K_RESHAPE, K_FLATTEN,
    K_COUNT
};

/* Keys a kind accepts; a key with a NULL default is required. */
enum arch_key { A_IN, A_OUT, A_K, A_S, A_P, A_OP, A_BIAS, A_FEATURES, A_EPS, A_MOMENTUM,
                A_SLOPE, A_COUNT };
static const char *const key_names[A_COUNT] = {
    "in", "out", "k", "s", "p", "op", "bias", "features", "eps", "momentum", "slope",
};

static const struct {
    const char *name;
    unsigned required, optional; /* bit sets of enum arch_key */
} kinds[K_COUNT] = {
#define B(k) (1u << (k))
    [K_DENSE] = {"dense", B(A_IN) | B(A_OUT), B(A_BIAS)},
    [K_CONV] = {"conv2d", B(A_IN) | B(A_OUT) | B(A_K), B(A_S) | B(A_P) | B(A_BIAS)},
    [K_CONVT] = {"conv_transpose2d", B(A_IN) | B(A_OUT) | B(A_K), B(A_S) | B(A_P) | B(A_OP) | B(A_BIAS)},
    [K_BN] = {"batchnorm", B(A_FEATURES), B(A_EPS) | B(A_MOMENTUM)},
    [K_RELU] = {"relu", 0, 0},
    [K_LEAKY] = {"leaky_relu", 0, B(A_SLOPE)},
    [K_TANH] = {"tanh", 0, 0},
    [K_SIGMOID] = {"sigmoid", 0, 0},
    [K_RESHAPE] = {"reshape", 0, 0},
    [K_FLATTEN] = {"flatten", 0, 0},
#undef B
};

/* One parsed line. */
typedef struct arch_spec {
    int kind;
    int line;
    int64_t in, out, kh, kw, s, p, op, bias, features;
    double eps, momentum, slope;
    int ndim;          /* reshape / input */
    int64_t dims[3];
} arch_spec;

/* Cursor over the text. */
typedef struct arch_reader {
    const char *p, *end;
    int line;
} arch_reader;

static gan_status syntax(int line, const char *fmt, const char *a, const char *b)
{
    char msg[200];
    snprintf(msg, sizeof msg, fmt, a, b);
    return gan_fail(GAN_E_FORMAT, "architecture line %d: %s", line, msg);
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Next token of the current line into tok (NUL-terminated, cap bytes);
 * false at the end of the line.  Over-long tokens are cut, which makes
 * them fail to parse. */
static bool next_token(arch_reader *r, char *tok, size_t cap)
{
    while (r->p < r->end && is_space(*r->p)) r->p++;
    if (r->p == r->end || *r->p == '\n' || *r->p == '#') return false;
    size_t n = 0;
    while (r->p < r->end && !is_space(*r->p) && *r->p != '\n' && *r->p != '#') {
        if (n + 1 < cap) tok[n++] = *r->p;
        r->p++;
    }
    tok[n] = '\0';
    return true;
}

/* Skip the rest of the current line (comment included) and the newline. */
static void end_line(arch_reader *r)
{
    while (r->p < r->end && *r->p != '\n') r->p++;
    if (r->p < r->end) r->p++;
    r->line++;
}

/* Is the current line blank or a comment? */
static bool blank_line(const arch_reader *r)
{
    const char *p = r->p;
    while (p < r->end && is_space(*p)) p++;
    return p == r->end || *p == '\n' || *p == '#';
}

/* Decimal integer in [lo, hi], digits only. */
static bool parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (*s == '\0') return false;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        v = v * 10 + (*s - '0');
        if (v > hi) return false;
    }
    if (v < lo) return false;
    *out = v;
    return true;
}

/* Finite decimal number of magnitude <= max (the caller's thread is in the
 * C locale). */
static bool parse_real(const char *s, double max, double *out)
{
    if (*s == '\0') return false;
    char *end;
    double v = strtod(s, &end);
    if (*end != '\0' || !isfinite(v) || fabs(v) > max) return false;
    *out = v;
    return true;
}

static gan_status parse_key(arch_spec *sp, int key, const char *val)
{
    int64_t *dst = NULL, lo = 1, hi = GAN_ARCH_MAX_SIZE;
    switch (key) {
    case A_IN: dst = &sp->in; break;
    case A_OUT: dst = &sp->out; break;
    case A_FEATURES: dst = &sp->features; break;
    case A_S: dst = &sp->s; hi = GAN_ARCH_MAX_KERNEL; break;
    case A_P: dst = &sp->p; lo = 0; hi = GAN_ARCH_MAX_KERNEL; break;
    case A_OP: dst = &sp->op; lo = 0; hi = GAN_ARCH_MAX_KERNEL; break;
    case A_BIAS: dst = &sp->bias; lo = 0; hi = 1; break;
    case A_K: {
        char side[24];
        const char *x = strchr(val, 'x');
        size_t n = x ? (size_t)(x - val) : strlen(val);
        if (n >= sizeof side) n = sizeof side - 1;
        memcpy(side, val, n);
        side[n] = '\0';
        if (!parse_int(side, 1, GAN_ARCH_MAX_KERNEL, &sp->kh) ||
            !parse_int(x ? x + 1 : side, 1, GAN_ARCH_MAX_KERNEL, &sp->kw))
            return syntax(sp->line, "k=%s: expected <h>x<w> or <k>, each 1..1024%s", val, "");
        return GAN_OK;
    }
    /* eps and momentum are kept as doubles: any finite value gan_layer_set
     * takes must read back; slope becomes a float */
    case A_EPS:
        if (!parse_real(val, DBL_MAX, &sp->eps)) break;
        return GAN_OK;
    case A_MOMENTUM:
        if (!parse_real(val, DBL_MAX, &sp->momentum)) break;
        return GAN_OK;
    case A_SLOPE:
        if (!parse_real(val, 3.0e38, &sp->slope)) break;
        return GAN_OK;
    }
    if (dst != NULL && parse_int(val, lo, hi, dst)) return GAN_OK;
    char range[48];
    if (dst != NULL) snprintf(range, sizeof range, " (an integer in %lld..%lld)", (long long)lo, (long long)hi);
    else snprintf(range, sizeof range, " (a finite number)");
    return syntax(sp->line, "bad value '%.40s'%s", val, range);
}

/* 1 to 3 positive sizes ("input 1 28 28", "reshape 256 7 7"). */
static gan_status parse_dims(arch_reader *r, arch_spec *sp, const char *what)
{
    char tok[64];
    sp->ndim = 0;
    while (next_token(r, tok, sizeof tok)) {
        if (sp->ndim == 3) return syntax(sp->line, "%s takes 1 to 3 sizes%s", what, "");
        if (!parse_int(tok, 1, GAN_ARCH_MAX_SAMPLE, &sp->dims[sp->ndim]))
            return syntax(sp->line, "%s: bad size '%.40s'", what, tok);
        sp->ndim++;
    }
    if (sp->ndim == 0) return syntax(sp->line, "%s takes 1 to 3 sizes%s", what, "");
    int64_t numel = 1;
    for (int i = 0; i < sp->ndim; i++) {
        numel *= sp->dims[i];
        if (numel > GAN_ARCH_MAX_SAMPLE)
            return syntax(sp->line, "%s: more than 2^26 floats per sample%s", what, "");
    }
    return GAN_OK;
}

static gan_status parse_layer(arch_reader *r, arch_spec *sp)
{
    char tok[64];
    next_token(r, tok, sizeof tok);
    sp->kind = -1;
    for (int k = 0; k < K_COUNT; k++)
        if (strcmp(tok, kinds[k].name) == 0) sp->kind = k;
    if (sp->kind < 0) return syntax(sp->line, "unknown layer kind '%.40s'%s", tok, "");
    /* PyTorch's defaults for what may be left out */
    sp->s = 1;
    sp->bias = 1;
    sp->eps = 1e-5;
    sp->momentum = 0.1;
    sp->slope = 0.01;
    if (sp->kind == K_RESHAPE) return parse_dims(r, sp, "reshape");
    unsigned seen = 0;
    while (next_token(r, tok, sizeof tok)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL) return syntax(sp->line, "expected key=value, got '%.40s'%s", tok, "");
        *eq = '\0';
        int key = -1;
        for (int k = 0; k < A_COUNT; k++)
            if (strcmp(tok, key_names[k]) == 0) key = k;
        unsigned allowed = kinds[sp->kind].required | kinds[sp->kind].optional;
        if (key < 0 || !(allowed & (1u << key)))
            return syntax(sp->line, "%s has no key '%.40s'", kinds[sp->kind].name, tok);
        if (seen & (1u << key))
            return syntax(sp->line, "key '%s' given twice%s", tok, "");
        seen |= 1u << key;
        GAN_TRY(parse_key(sp, key, eq + 1));
    }
    unsigned missing = kinds[sp->kind].required & ~seen;
    for (int k = 0; k < A_COUNT; k++)
        if (missing & (1u << k))
            return syntax(sp->line, "%s needs key '%s'", kinds[sp->kind].name, key_names[k]);
    return GAN_OK;
}

/* a * b, saturating at UINT64_MAX. */
static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Bytes of parameters and buffers the layer will hold. */
static uint64_t spec_bytes(const arch_spec *sp)
{
    uint64_t w;
    switch (sp->kind) {
    case K_DENSE:
        w = mul_sat((uint64_t)sp->in, (uint64_t)sp->out);
        return mul_sat(add_sat(w, sp->bias ? (uint64_t)sp->out : 0), 4);
    case K_CONV:
    case K_CONVT:
        w = mul_sat(mul_sat((uint64_t)sp->in, (uint64_t)sp->out), (uint64_t)(sp->kh * sp->kw));
        return mul_sat(add_sat(w, sp->bias ? (uint64_t)sp->out : 0), 4);
    case K_BN:
        return (uint64_t)sp->features * 16 + 8;
    default:
        return 0;
    }
}

static gan_status make_layer(const arch_spec *sp, gan_layer **l)
{
    switch (sp->kind) {
    case K_DENSE: return gan_layer_dense(l, (int)sp->in, (int)sp->out, (int)sp->bias);
    case K_CONV:
        return gan_layer_conv2d(l, (int)sp->in, (int)sp->out, (int)sp->kh, (int)sp->kw, (int)sp->s,
                                (int)sp->p, (int)sp->bias);
    case K_CONVT:
        return gan_layer_conv_transpose2d(l, (int)sp->in, (int)sp->out, (int)sp->kh, (int)sp->kw,
                                          (int)sp->s, (int)sp->p, (int)sp->op, (int)sp->bias);
    case K_BN:
        GAN_TRY(gan_layer_batchnorm(l, (int)sp->features));
        gan_status st = gan_layer_set(*l, GAN_LAYER_BN_EPS, sp->eps);
        if (st == GAN_OK) st = gan_layer_set(*l, GAN_LAYER_BN_MOMENTUM, sp->momentum);
        if (st != GAN_OK) {
            gan_layer_free(*l);
            *l = NULL;
        }
        return st;
    case K_RELU: return gan_layer_relu(l);
    case K_LEAKY: return gan_layer_leaky_relu(l, (float)sp->slope);
    case K_TANH: return gan_layer_tanh(l);
    case K_SIGMOID: return gan_layer_sigmoid(l);
    case K_RESHAPE: return gan_layer_reshape(l, sp->ndim, sp->dims);
    default: return gan_layer_flatten(l);
    }
}

/* Both passes, inside the C locale. */
static gan_status build(gan_model **out, const char *text, size_t len, uint64_t max_bytes)
{
    arch_reader r = {text, text + len, 1};
    size_t nlines = 1;
    for (size_t i = 0; i < len; i++) nlines += text[i] == '\n';
    size_t cap = nlines < GAN_ARCH_MAX_LAYERS + 1 ? nlines : GAN_ARCH_MAX_LAYERS + 1;
    arch_spec *specs = gan_alloc_zero(cap * sizeof *specs);
    if (specs == NULL) return GAN_E_NOMEM;
    gan_status st = GAN_OK;
    gan_model *m = NULL;
    size_t n = 0; /* specs[0] is the input line */
    uint64_t bytes = 0;
    for (; r.p < r.end; end_line(&r)) {
        if (blank_line(&r)) continue;
        if (n == cap) {
            st = syntax(r.line, "more than %s layers%s", "4096", "");
            goto done;
        }
        arch_spec *sp = &specs[n];
        sp->line = r.line;
        if (n == 0) {
            char tok[64];
            next_token(&r, tok, sizeof tok);
            if (strcmp(tok, "input") != 0) {
                st = syntax(r.line, "expected 'input <sizes>', got '%.40s'%s", tok, "");
                goto done;
            }
            st = parse_dims(&r, sp, "input");
        } else {
            st = parse_layer(&r, sp);
        }
        if (st != GAN_OK) goto done;
        bytes = add_sat(bytes, spec_bytes(sp));
        n++;
    }
    if (n == 0) {
        st = gan_fail(GAN_E_FORMAT, "architecture text is empty (it starts with 'input <sizes>')");
        goto done;
    }
    if (bytes > max_bytes) {
        st = gan_fail(GAN_E_FORMAT,
                      "architecture needs %llu bytes of parameters, more than the %llu available",
                      (unsigned long long)bytes, (unsigned long long)max_bytes);
        goto done;
    }
    if ((st = gan_model_create(&m, specs[0].ndim, specs[0].dims)) != GAN_OK) goto done;
    for (size_t i = 1; i < n; i++) {
        gan_layer *l = NULL;
        if ((st = make_layer(&specs[i], &l)) == GAN_OK && (st = gan_model_add(m, l)) != GAN_OK)
            gan_layer_free(l);
        if (st != GAN_OK) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s", gan_last_error());
            st = gan_fail(st, "architecture line %d: %s", specs[i].line, msg);
            goto done;
        }
        if (gan_shape_numel(&m->out) > GAN_ARCH_MAX_SAMPLE) {
            st = gan_fail(GAN_E_FORMAT, "architecture line %d: %s output has more than 2^26 floats per sample",
                          specs[i].line, kinds[specs[i].kind].name);
            goto done;
        }
    }
done:
    gan_dealloc(specs);
    if (st != GAN_OK) {
        gan_model_free(m);
        return st;
    }
    *out = m;
    return GAN_OK;
}

gan_status gan_arch_build(gan_model **out, const char *text, size_t len, uint64_t max_bytes)
{
    GAN_CHECK_NULL(out, "gan_arch_build");
    *out = NULL;
    GAN_CHECK_NULL(text, "gan_arch_build");
    if (len > GAN_ARCH_MAX_TEXT)
        return gan_fail(GAN_E_FORMAT, "architecture text is %zu bytes (at most %d)", len,
                        GAN_ARCH_MAX_TEXT);
    if (memchr(text, '\0', len) != NULL)
        return gan_fail(GAN_E_FORMAT, "architecture text contains a NUL byte");
    gan_c_locale loc;
    gan_c_locale_enter(&loc);
    gan_status st = build(out, text, len, max_bytes);
    gan_c_locale_leave(&loc);
    return st;
}

/* ------------------------------------------------------------------ writing */
static gan_status write_text(const gan_model *m, char **text)
{
    /* first pass measures, second writes */
    char *buf = NULL;
    size_t cap = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t at = 0;
        char *p = buf;
        int w = snprintf(p, cap, "input");
        at += (size_t)w;
        for (int i = 0; i < m->in.ndim; i++)
            at += (size_t)snprintf(p ? p + at : NULL, p ? cap - at : 0, " %lld", (long long)m->in.d[i]);
        at += (size_t)snprintf(p ? p + at : NULL, p ? cap - at : 0, "\n");
        for (int i = 0; i < m->nlayers; i++) {
            const gan_layer *l = m->layers[i];
            int d = l->ops->describe(l, p ? p + at : NULL, p ? cap - at : 0);
            if (d < 0) {
                gan_dealloc(buf);
                return gan_fail(GAN_E_INVALID, "gan_model_arch_text: layer %d (%s) cannot describe itself",
                                i, l->ops->kind);
            }
            at += (size_t)d;
            at += (size_t)snprintf(p ? p + at : NULL, p ? cap - at : 0, "\n");
        }
        if (pass == 0) {
            cap = at + 1;
            if ((buf = gan_alloc(cap)) == NULL) return GAN_E_NOMEM;
        }
    }
    *text = buf;
    return GAN_OK;
}

gan_status gan_arch_text(const gan_model *m, char **text)
{
    GAN_CHECK_NULL(m, "gan_arch_text");
    GAN_CHECK_NULL(text, "gan_arch_text");
    *text = NULL;
    gan_c_locale loc;
    gan_c_locale_enter(&loc);
    gan_status st = write_text(m, text);
    gan_c_locale_leave(&loc);
    return st;
}

/* ------------------------------------------------------------------ public */
gan_status gan_model_arch_text(const gan_model *model, char *buf, size_t cap, size_t *length)
{
    GAN_CHECK_NULL(model, "gan_model_arch_text");
    char *text;
    GAN_TRY(gan_arch_text(model, &text));
    size_t n = strlen(text);
    if (length) *length = n;
    gan_status st = GAN_OK;
    if (buf != NULL && cap > n) memcpy(buf, text, n + 1);
    else if (buf != NULL || cap != 0)
        st = gan_fail(GAN_E_INVALID, "gan_model_arch_text: the text is %zu bytes, buffer holds %zu",
                      n + 1, cap);
    gan_dealloc(text);
    return st;
}

gan_status gan_model_from_arch_text(gan_model **out, const char *text)
{
    GAN_CHECK_NULL(out, "gan_model_from_arch_text");
    *out = NULL;
    GAN_CHECK_NULL(text, "gan_model_from_arch_text");
    size_t len = strnlen(text, (size_t)GAN_ARCH_MAX_TEXT + 1);
    return gan_arch_build(out, text, len, (uint64_t)1 << 32);
}
