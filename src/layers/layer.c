/* layer.c — what every layer kind shares: construction, slots (parameters
 * and buffers), shape checks, and the public forward/backward entry points
 * that dispatch to the kind's gan_layer_ops. */
#include "internal.h"
#include "nn.h"

#include <string.h>

gan_layer *gan_layer_new(const gan_layer_ops *ops)
{
    gan_layer *l = gan_alloc_zero(sizeof *l);
    if (l == NULL) return NULL;
    l->ops = ops;
    l->training = true;
    return l;
}

void gan_layer_add_slot(gan_layer *l, const char *name, int ndim, const int64_t *shape,
                        bool is_buffer)
{
    gan_layer_slot *s = &l->slot[l->nslots++];
    s->name = name;
    s->shape.ndim = ndim;
    for (int i = 0; i < ndim; i++) s->shape.d[i] = shape[i];
    s->is_buffer = is_buffer;
}

void gan_layer_destroy(gan_layer *l)
{
    if (l == NULL) return;
    if (l->ops->destroy) l->ops->destroy(l);
    gan_dealloc(l->own_scratch);
    gan_dealloc(l->param_storage);
    gan_dealloc(l->buffer_storage);
    gan_dealloc(l);
}

void gan_layer_free(gan_layer *l)
{
    if (l == NULL || l->owner != NULL) return;
    gan_layer_destroy(l);
}

/* FNV-1a, to give each layer configuration its own default-init stream. */
static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

gan_status gan_layer_finish(gan_layer *l, gan_layer **out)
{
    int64_t nparam = 0, nbuf = 0;
    for (int i = 0; i < l->nslots; i++) {
        int64_t n = gan_shape_numel(&l->slot[i].shape);
        if (l->slot[i].is_buffer) nbuf += n;
        else nparam += 2 * n; /* value and gradient */
    }
    if (nparam > 0 && (l->param_storage = gan_alloc_floats(nparam)) == NULL) goto fail;
    if (nbuf > 0 && (l->buffer_storage = gan_alloc_floats(nbuf)) == NULL) goto fail;
    float *p = l->param_storage, *b = l->buffer_storage;
    for (int i = 0; i < l->nslots; i++) {
        gan_layer_slot *s = &l->slot[i];
        int64_t n = gan_shape_numel(&s->shape);
        if (s->is_buffer) {
            gan_tensor_view(&s->value, b, &s->shape);
            b += n;
        } else {
            gan_tensor_view(&s->value, p, &s->shape);
            gan_tensor_view(&s->grad, p + n, &s->shape);
            p += 2 * n;
        }
    }
    if (l->ops->init) {
        char desc[256];
        l->ops->describe(l, desc, sizeof desc);
        gan_rng rng;
        gan_rng_seed(&rng, GAN_DEFAULT_INIT_SEED ^ hash_str(desc));
        l->ops->init(l, GAN_INIT_PYTORCH, &rng);
    }
    *out = l;
    return GAN_OK;
fail:
    gan_layer_destroy(l);
    *out = NULL;
    return GAN_E_NOMEM;
}

gan_status gan_layer_reserve(gan_layer *l, int64_t n)
{
    if (n <= l->reserved_batch) return GAN_OK;
    if (l->ops->reserve) GAN_TRY(l->ops->reserve(l, n));
    l->reserved_batch = n;
    return GAN_OK;
}

size_t gan_layer_scratch_need(const gan_layer *l)
{
    return l->ops->scratch_bytes ? l->ops->scratch_bytes(l) : 0;
}

/* A standalone layer keeps scratch of its own (grown, never shrunk). */
static gan_status own_scratch(gan_layer *l)
{
    const size_t need = gan_layer_scratch_need(l);
    if (need > l->own_scratch_bytes) {
        void *p = gan_alloc(need);
        if (p == NULL)
            return gan_fail(GAN_E_NOMEM, "%s layer: out of memory for %zu bytes of scratch",
                            l->ops->kind, need);
        gan_dealloc(l->own_scratch);
        l->own_scratch = p;
        l->own_scratch_bytes = need;
    }
    l->scratch = l->own_scratch;
    return GAN_OK;
}

const char *gan_layer_kind(const gan_layer *l)
{
    return l ? l->ops->kind : "";
}

gan_status gan_layer_set(gan_layer *l, gan_layer_setting setting, double value)
{
    GAN_CHECK_NULL(l, "gan_layer_set");
    if (l->ops->set == NULL)
        return gan_fail(GAN_E_INVALID, "gan_layer_set: %s has no setting %d", l->ops->kind,
                        (int)setting);
    return l->ops->set(l, setting, value);
}

gan_status gan_layer_init(gan_layer *l, gan_init scheme, gan_rng *rng)
{
    GAN_CHECK_NULL(l, "gan_layer_init");
    GAN_CHECK_NULL(rng, "gan_layer_init");
    if (scheme != GAN_INIT_PYTORCH && scheme != GAN_INIT_DCGAN)
        return gan_fail(GAN_E_INVALID, "gan_layer_init: unknown scheme %d", (int)scheme);
    if (l->ops->init) l->ops->init(l, scheme, rng);
    return GAN_OK;
}

gan_status gan_layer_attach(gan_layer *l, int ndim, const int64_t *shape)
{
    GAN_CHECK_NULL(l, "gan_layer_attach");
    if (l->owner != NULL)
        return gan_fail(GAN_E_STATE, "gan_layer_attach: this %s layer belongs to a model",
                        l->ops->kind);
    if (ndim > GAN_MAX_DIMS - 1)
        return gan_fail(GAN_E_INVALID, "gan_layer_attach: per-sample ndim = %d, must be 1..3", ndim);
    GAN_TRY(gan_shape_check(ndim, shape, "gan_layer_attach"));
    gan_shape in = {ndim, {0}}, out = {0, {0}};
    for (int i = 0; i < ndim; i++) in.d[i] = shape[i];
    GAN_TRY(l->ops->attach(l, &in, &out));
    l->in = in;
    l->out = out;
    l->attached = true;
    l->saved_n = 0;
    return GAN_OK;
}

gan_status gan_layer_output_shape(const gan_layer *l, int *ndim, int64_t shape[GAN_MAX_DIMS])
{
    GAN_CHECK_NULL(l, "gan_layer_output_shape");
    GAN_CHECK_NULL(ndim, "gan_layer_output_shape");
    GAN_CHECK_NULL(shape, "gan_layer_output_shape");
    if (!l->attached)
        return gan_fail(GAN_E_STATE, "gan_layer_output_shape: %s layer is not attached to an input shape",
                        l->ops->kind);
    *ndim = l->out.ndim;
    for (int i = 0; i < GAN_MAX_DIMS; i++) shape[i] = i < l->out.ndim ? l->out.d[i] : 0;
    return GAN_OK;
}

/* Is t exactly (n, sample...)? */
static bool is_batch_of(const gan_tensor *t, const gan_shape *sample)
{
    if (t->shape.ndim != sample->ndim + 1) return false;
    for (int i = 0; i < sample->ndim; i++)
        if (t->shape.d[i + 1] != sample->d[i]) return false;
    return true;
}

static gan_status shape_error(const char *fn, const gan_layer *l, const char *what,
                              const gan_tensor *t, const gan_shape *sample)
{
    char got[96], want[96];
    gan_shape w = gan_batch_shape(t->shape.ndim > 0 ? t->shape.d[0] : 0, sample);
    return gan_fail(GAN_E_SHAPE, "%s: %s layer expects %s of shape %s, got %s", fn,
                    l->ops->kind, what, gan_shape_str(&w, want, sizeof want),
                    gan_shape_str(&t->shape, got, sizeof got));
}

gan_status gan_layer_forward(gan_layer *l, const gan_tensor *x, gan_tensor *y)
{
    static const char fn[] = "gan_layer_forward";
    GAN_CHECK_NULL(l, fn);
    GAN_CHECK_NULL(x, fn);
    GAN_CHECK_NULL(y, fn);
    if (l->owner != NULL)
        return gan_fail(GAN_E_STATE, "%s: this %s layer belongs to a model; use gan_model_forward",
                        fn, l->ops->kind);
    if (!l->attached)
        return gan_fail(GAN_E_STATE, "%s: %s layer is not attached to an input shape (gan_layer_attach)",
                        fn, l->ops->kind);
    if (!is_batch_of(x, &l->in)) return shape_error(fn, l, "input", x, &l->in);
    int64_t n = x->shape.d[0];
    if (!is_batch_of(y, &l->out) || y->shape.d[0] != n) {
        gan_shape w = gan_batch_shape(n, &l->out);
        char got[96], want[96];
        return gan_fail(GAN_E_SHAPE, "%s: %s layer output must be %s, got %s", fn, l->ops->kind,
                        gan_shape_str(&w, want, sizeof want), gan_shape_str(&y->shape, got, sizeof got));
    }
    if (x->data == y->data)
        return gan_fail(GAN_E_INVALID, "%s: x and y must not share storage", fn);
    const int64_t reserved = l->reserved_batch;
    GAN_TRY(gan_layer_reserve(l, n));
    gan_status st = own_scratch(l);
    if (st != GAN_OK) { /* lay out for the batch the scratch still holds */
        l->reserved_batch = 0;
        if (reserved > 0) (void)gan_layer_reserve(l, reserved);
        return st;
    }
    l->ops->forward(l, y->data, x->data, n);
    l->saved_x = x->data;
    l->saved_y = y->data;
    l->saved_y_shape = y->shape;
    l->saved_n = n;
    return GAN_OK;
}

gan_status gan_layer_backward(gan_layer *l, const gan_tensor *dy, gan_tensor *dx)
{
    static const char fn[] = "gan_layer_backward";
    GAN_CHECK_NULL(l, fn);
    GAN_CHECK_NULL(dy, fn);
    if (l->owner != NULL)
        return gan_fail(GAN_E_STATE, "%s: this %s layer belongs to a model; use gan_model_backward",
                        fn, l->ops->kind);
    if (l->saved_n == 0)
        return gan_fail(GAN_E_STATE, "%s: %s layer: backward called before forward", fn,
                        l->ops->kind);
    if (!gan_shape_equal(&dy->shape, &l->saved_y_shape)) {
        char got[96], want[96];
        return gan_fail(GAN_E_SHAPE, "%s: %s layer: dy is %s, forward's output was %s", fn,
                        l->ops->kind, gan_shape_str(&dy->shape, got, sizeof got),
                        gan_shape_str(&l->saved_y_shape, want, sizeof want));
    }
    int64_t n = l->saved_n;
    if (dx != NULL && (!is_batch_of(dx, &l->in) || dx->shape.d[0] != n)) {
        gan_shape w = gan_batch_shape(n, &l->in);
        char got[96], want[96];
        return gan_fail(GAN_E_SHAPE, "%s: %s layer: dx must be %s, got %s", fn, l->ops->kind,
                        gan_shape_str(&w, want, sizeof want), gan_shape_str(&dx->shape, got, sizeof got));
    }
    l->ops->backward(l, dx ? dx->data : NULL, dy->data, l->saved_x, l->saved_y, n, true);
    return GAN_OK;
}

gan_status gan_layer_set_training(gan_layer *l, int training)
{
    GAN_CHECK_NULL(l, "gan_layer_set_training");
    l->training = training != 0;
    return GAN_OK;
}

gan_status gan_layer_zero_grad(gan_layer *l)
{
    GAN_CHECK_NULL(l, "gan_layer_zero_grad");
    for (int i = 0; i < l->nslots; i++) /* a model's layer may have no gradients yet: zero */
        if (!l->slot[i].is_buffer && l->slot[i].grad.data != NULL)
            memset(l->slot[i].grad.data, 0, (size_t)l->slot[i].grad.numel * sizeof(float));
    return GAN_OK;
}

int gan_layer_tensor_count(const gan_layer *l)
{
    return l ? l->nslots : 0;
}

gan_status gan_layer_tensor(gan_layer *l, int index, const char **name, gan_tensor **value,
                            gan_tensor **grad)
{
    GAN_CHECK_NULL(l, "gan_layer_tensor");
    if (index < 0 || index >= l->nslots)
        return gan_fail(GAN_E_INVALID, "gan_layer_tensor: index %d out of range 0..%d", index,
                        l->nslots - 1);
    gan_layer_slot *s = &l->slot[index];
    if (grad != NULL && !s->is_buffer && l->owner != NULL)
        GAN_TRY(gan_model_ensure_grads(l->owner, "gan_layer_tensor"));
    if (name) *name = s->name;
    if (value) *value = &s->value;
    if (grad) *grad = s->is_buffer ? NULL : &s->grad;
    return GAN_OK;
}
