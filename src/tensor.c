/* tensor.c — float32 row-major tensors of 1 to 4 dimensions. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

int64_t gan_shape_numel(const gan_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->d[i];
    return n;
}

bool gan_shape_equal(const gan_shape *a, const gan_shape *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->d[i] != b->d[i]) return false;
    return true;
}

const char *gan_shape_str(const gan_shape *s, char *buf, size_t cap)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < s->ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, i ? ", %lld" : "%lld", (long long)s->d[i]);
    if (used < cap) snprintf(buf + used, cap - used, ")");
    return buf;
}

gan_status gan_shape_check(int ndim, const int64_t *shape, const char *what)
{
    if (ndim < 1 || ndim > GAN_MAX_DIMS)
        return gan_fail(GAN_E_INVALID, "%s: ndim = %d, must be 1..%d", what, ndim, GAN_MAX_DIMS);
    if (shape == NULL) return gan_fail(GAN_E_NULL, "%s: argument 'shape' is NULL", what);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return gan_fail(GAN_E_INVALID, "%s: size %lld at axis %d, sizes must be >= 1", what,
                            (long long)shape[i], i);
        /* keep numel * sizeof(float) within both int64 and size_t */
        int64_t limit = (int64_t)((SIZE_MAX / sizeof(float) < (size_t)INT64_MAX / sizeof(float))
                                      ? SIZE_MAX / sizeof(float)
                                      : (size_t)INT64_MAX / sizeof(float));
        if (n > limit / shape[i])
            return gan_fail(GAN_E_OVERFLOW, "%s: element count overflows at axis %d (size %lld)",
                            what, i, (long long)shape[i]);
        n *= shape[i];
    }
    return GAN_OK;
}

void gan_tensor_view(gan_tensor *t, float *data, const gan_shape *shape)
{
    t->shape = *shape;
    t->numel = gan_shape_numel(shape);
    t->data = data;
    t->owns_data = false;
    t->embedded = true;
}

gan_shape gan_batch_shape(int64_t n, const gan_shape *sample)
{
    gan_shape s = {sample->ndim + 1, {n}};
    for (int i = 0; i < sample->ndim; i++) s.d[i + 1] = sample->d[i];
    return s;
}

static gan_status tensor_new(gan_tensor **out, float *data, int ndim, const int64_t *shape,
                             const char *fn)
{
    GAN_CHECK_NULL(out, fn);
    *out = NULL;
    GAN_TRY(gan_shape_check(ndim, shape, fn));
    gan_tensor *t = gan_alloc(sizeof *t);
    if (t == NULL) return GAN_E_NOMEM;
    t->shape.ndim = ndim;
    for (int i = 0; i < GAN_MAX_DIMS; i++) t->shape.d[i] = i < ndim ? shape[i] : 0;
    t->numel = gan_shape_numel(&t->shape);
    t->embedded = false;
    t->owns_data = data == NULL;
    t->data = data != NULL ? data : gan_alloc_floats(t->numel);
    if (t->data == NULL) {
        gan_dealloc(t);
        return GAN_E_NOMEM;
    }
    *out = t;
    return GAN_OK;
}

gan_status gan_tensor_create(gan_tensor **out, int ndim, const int64_t *shape)
{
    return tensor_new(out, NULL, ndim, shape, "gan_tensor_create");
}

gan_status gan_tensor_wrap(gan_tensor **out, float *data, int ndim, const int64_t *shape)
{
    if (data == NULL) {
        if (out != NULL) *out = NULL;
        return gan_fail(GAN_E_NULL, "gan_tensor_wrap: argument 'data' is NULL");
    }
    return tensor_new(out, data, ndim, shape, "gan_tensor_wrap");
}

void gan_tensor_free(gan_tensor *t)
{
    if (t == NULL || t->embedded) return;
    if (t->owns_data) gan_dealloc(t->data);
    gan_dealloc(t);
}

int gan_tensor_ndim(const gan_tensor *t)
{
    return t ? t->shape.ndim : 0;
}

int64_t gan_tensor_dim(const gan_tensor *t, int axis)
{
    if (t == NULL || axis < 0 || axis >= t->shape.ndim) return 0;
    return t->shape.d[axis];
}

int64_t gan_tensor_numel(const gan_tensor *t)
{
    return t ? t->numel : 0;
}

float *gan_tensor_data(gan_tensor *t)
{
    return t ? t->data : NULL;
}

const float *gan_tensor_cdata(const gan_tensor *t)
{
    return t ? t->data : NULL;
}

gan_status gan_tensor_fill(gan_tensor *t, float value)
{
    GAN_CHECK_NULL(t, "gan_tensor_fill");
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = value;
    return GAN_OK;
}

gan_status gan_tensor_copy(gan_tensor *dst, const gan_tensor *src)
{
    GAN_CHECK_NULL(dst, "gan_tensor_copy");
    GAN_CHECK_NULL(src, "gan_tensor_copy");
    if (dst->numel != src->numel) {
        char a[96], b[96];
        return gan_fail(GAN_E_SHAPE, "gan_tensor_copy: source %s has %lld elements, destination %s has %lld",
                        gan_shape_str(&src->shape, a, sizeof a), (long long)src->numel,
                        gan_shape_str(&dst->shape, b, sizeof b), (long long)dst->numel);
    }
    if (dst->data != src->data) memmove(dst->data, src->data, (size_t)src->numel * sizeof(float));
    return GAN_OK;
}

gan_status gan_tensor_reshape(gan_tensor *t, int ndim, const int64_t *shape)
{
    GAN_CHECK_NULL(t, "gan_tensor_reshape");
    GAN_TRY(gan_shape_check(ndim, shape, "gan_tensor_reshape"));
    gan_shape s = {ndim, {0}};
    for (int i = 0; i < ndim; i++) s.d[i] = shape[i];
    if (gan_shape_numel(&s) != t->numel) {
        char a[96], b[96];
        return gan_fail(GAN_E_SHAPE, "gan_tensor_reshape: %s has %lld elements, new shape %s has %lld",
                        gan_shape_str(&t->shape, a, sizeof a), (long long)t->numel,
                        gan_shape_str(&s, b, sizeof b), (long long)gan_shape_numel(&s));
    }
    t->shape = s;
    return GAN_OK;
}
