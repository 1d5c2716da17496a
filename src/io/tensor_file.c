/* tensor_file.c — plain float tensors in safetensors files: a set of named
 * tensors out, one named tensor back in (latent vectors to replay, raw
 * samples to analyse).  The format work (validation, atomic writing) is
 * safetensors.c's; this file only maps gan_tensor to it. */
#include "safetensors.h"

#include <string.h>

#define MAX_SAVE 64

gan_status gan_tensors_save(const char *path, int count, const char *const *names,
                            const gan_tensor *const *tensors)
{
    static const char fn[] = "gan_tensors_save";
    GAN_CHECK_NULL(path, fn);
    GAN_CHECK_NULL(names, fn);
    GAN_CHECK_NULL(tensors, fn);
    if (count < 1 || count > MAX_SAVE)
        return gan_fail(GAN_E_INVALID, "%s: count %d, must be 1..%d", fn, count, MAX_SAVE);
    gan_st_out out[MAX_SAVE];
    memset(out, 0, sizeof out);
    for (int i = 0; i < count; i++) {
        if (names[i] == NULL || tensors[i] == NULL)
            return gan_fail(GAN_E_NULL, "%s: name or tensor %d is NULL", fn, i);
        if (names[i][0] == '\0' || strcmp(names[i], "__metadata__") == 0)
            return gan_fail(GAN_E_INVALID, "%s: tensor %d has the name \"%s\", which a "
                            "safetensors file cannot hold", fn, i, names[i]);
        out[i].name = names[i];
        out[i].dtype = GAN_ST_F32;
        out[i].ndim = tensors[i]->shape.ndim;
        for (int d = 0; d < out[i].ndim; d++) out[i].shape[d] = tensors[i]->shape.d[d];
        out[i].data = tensors[i]->data;
    }
    const char *meta[4] = {"libgan.kind", "tensors", "libgan.version", gan_version_string()};
    return gan_st_save(path, out, (size_t)count, meta, 2);
}

gan_status gan_tensor_load(gan_tensor **out, const char *path, const char *name)
{
    static const char fn[] = "gan_tensor_load";
    GAN_CHECK_NULL(out, fn);
    *out = NULL;
    GAN_CHECK_NULL(path, fn);
    GAN_CHECK_NULL(name, fn);
    gan_st_file *f = NULL;
    GAN_TRY(gan_st_open(&f, path));
    gan_status st = GAN_OK;
    const gan_st_entry *e = gan_st_find(f, name);
    gan_tensor *t = NULL;
    if (e == NULL)
        st = gan_fail(GAN_E_FORMAT, "%s: '%s' has no tensor named '%s' (%zu tensors%s%s)", fn, path,
                      name, f->count, f->count ? ", first " : "",
                      f->count ? f->entries[0].name : "");
    else if (e->dtype != GAN_ST_F32)
        st = gan_fail(GAN_E_UNSUPPORTED, "%s: '%s': tensor '%s' is %s, only F32 is read", fn, path,
                      name, gan_st_dtype_name(e->dtype));
    else if (e->ndim < 1 || e->ndim > GAN_MAX_DIMS)
        st = gan_fail(GAN_E_SHAPE, "%s: '%s': tensor '%s' has %d dimensions, expected 1..%d", fn,
                      path, name, e->ndim, GAN_MAX_DIMS);
    else if (e->numel == 0)
        st = gan_fail(GAN_E_SHAPE, "%s: '%s': tensor '%s' is empty", fn, path, name);
    if (st == GAN_OK) st = gan_tensor_create(&t, e->ndim, e->shape);
    if (st == GAN_OK) st = gan_st_read(f, e, t->data);
    gan_st_close(f);
    if (st != GAN_OK) {
        gan_tensor_free(t);
        return st;
    }
    *out = t;
    return GAN_OK;
}
