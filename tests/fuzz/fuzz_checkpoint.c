/* fuzz_checkpoint.c — libFuzzer target for the checkpoint loader.
 *
 * Each input is a whole file image.  It goes through every loading path:
 * the raw safetensors reader (header checks, then every tensor read back),
 * gan_model_load, gan_trainer_load, and gan_model_load_weights into a fixed
 * small model (which must come out unchanged whenever loading fails).
 * Built and run by `make fuzz` (mk/io.mk). */
#include "internal.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gan_model *target;   /* "input 2 / dense in=2 out=3 / batchnorm features=3" */
static float before[64];    /* its tensors before a load */

static void snapshot(float out[64])
{
    int at = 0;
    memset(out, 0, 64 * sizeof(float));
    for (int i = 0; i < gan_model_tensor_count(target); i++) {
        gan_tensor *v;
        gan_model_tensor(target, i, NULL, &v, NULL);
        memcpy(out + at, gan_tensor_cdata(v), (size_t)gan_tensor_numel(v) * sizeof(float));
        at += (int)gan_tensor_numel(v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (target == NULL &&
        gan_model_from_arch_text(&target, "input 2\ndense in=2 out=3\nbatchnorm features=3\n") != GAN_OK)
        abort();

    /* the container alone: every entry must be readable */
    gan_st_file *f = NULL;
    if (gan_st_open_memory(&f, data, size) == GAN_OK) {
        for (size_t i = 0; i < f->count; i++) {
            const gan_st_entry *e = &f->entries[i];
            if (e->end > f->data_len || e->end - e->begin > f->data_len) abort();
            void *buf = malloc((size_t)(e->end - e->begin) + 1);
            if (gan_st_read(f, e, buf) != GAN_OK) abort();
            free(buf);
            if (gan_st_find(f, e->name) != e) abort();
        }
        gan_st_close(f);
    }

    gan_model *m = NULL;
    if (gan_model_load_memory(&m, data, size) == GAN_OK) {
        /* a loaded model describes itself */
        size_t len = 0;
        if (gan_model_arch_text(m, NULL, 0, &len) != GAN_OK || len == 0) abort();
        gan_model_free(m);
    } else if (m != NULL) {
        abort();
    }

    gan_trainer *t = NULL;
    if (gan_trainer_load_memory(&t, data, size) == GAN_OK) gan_trainer_free(t);
    else if (t != NULL) abort();

    snapshot(before);
    if (gan_model_load_weights_memory(target, data, size) != GAN_OK) {
        float after[64];
        snapshot(after);
        if (memcmp(before, after, sizeof after) != 0) abort(); /* partial overwrite */
    }
    return 0;
}
