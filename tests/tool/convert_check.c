/* convert_check.c — `gan train` converts IDX images to the model's input
 * one batch at a time; before, it converted the whole data set once when
 * loading it.  This program checks that both give the same batches, bit for
 * bit: it links the tool's image code (tools/image.c) and keeps the old
 * whole-data-set conversion loop as the reference.
 *
 *   convert_check IMAGES C H W BATCH SEED
 *
 * reads the IDX file IMAGES, converts it to (C, H, W) both ways, runs two
 * shuffling loaders with the same batch size and seed over the two data
 * sets for two epochs (the last batch may be short) and compares every
 * batch.  Exit 0 with a summary line when all are identical, 1 at the first
 * difference (named), 2 for bad arguments or a failure.  Built by make
 * check (mk/gaps.mk) and run by tests/test_tool.c. */
#include "tool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reference: tools/image.c's convert_images before per-batch loading
 * (commit dc4b9f8); it uses the tool's per-image helpers (crop_resize,
 * to_chw), which that change left as they were. */
static int ref_convert_images(gan_tensor **out, const gan_tensor *x, int c, int h, int w)
{
    *out = NULL;
    int64_t n = gan_tensor_dim(x, 0);
    int c0 = (int)gan_tensor_dim(x, 1), h0 = (int)gan_tensor_dim(x, 2), w0 = (int)gan_tensor_dim(x, 3);
    int64_t shape[4] = {n, c, h, w};
    gan_tensor *y = NULL;
    unsigned char *src = malloc((size_t)h0 * w0 * c), *dst = malloc((size_t)h * w * c);
    if (gan_tensor_create(&y, 4, shape) != GAN_OK || src == NULL || dst == NULL) {
        tool_gan_error(GAN_E_NOMEM, "cannot hold %lld images of %dx%dx%d", (long long)n, c, h, w);
        gan_tensor_free(y);
        free(src);
        free(dst);
        return 1;
    }
    for (int64_t k = 0; k < n; k++) {
        to_hwc_u8(src, gan_tensor_cdata(x) + k * c0 * h0 * w0, c0, c, h0, w0);
        crop_resize(dst, src, w0, h0, c, h, w);
        to_chw(gan_tensor_data(y) + k * c * h * w, dst, c, h, w);
    }
    free(src);
    free(dst);
    *out = y;
    return 0;
}

/* ---- the check */
static int fail(gan_status st, const char *what)
{
    tool_gan_error(st, "%s", what);
    return 2;
}

int main(int argc, char **argv)
{
    tool_cmd = "convert_check";
    if (argc != 7) {
        tool_error("usage: convert_check IMAGES C H W BATCH SEED");
        return 2;
    }
    int c = atoi(argv[2]), h = atoi(argv[3]), w = atoi(argv[4]), batch = atoi(argv[5]);
    uint64_t seed = strtoull(argv[6], NULL, 10);
    gan_tensor *x = NULL, *ref = NULL, *raw = NULL, *got = NULL, *want = NULL;
    gan_dataset *native = NULL, *converted = NULL;
    gan_loader *ln = NULL, *lc = NULL;
    image_converter cv = {0};
    int rc = 2;
    gan_status st = gan_idx_read_images(&x, argv[1]);
    if (st != GAN_OK) return fail(st, "cannot read the images");
    int64_t n = gan_tensor_dim(x, 0);
    int c0 = (int)gan_tensor_dim(x, 1), h0 = (int)gan_tensor_dim(x, 2), w0 = (int)gan_tensor_dim(x, 3);
    if (ref_convert_images(&ref, x, c, h, w) != 0) goto done;
    if ((st = gan_dataset_create(&native, x, NULL)) != GAN_OK) {
        rc = fail(st, "dataset");
        goto done;
    }
    x = NULL; /* the dataset owns it */
    if ((st = gan_dataset_create(&converted, ref, NULL)) != GAN_OK) {
        rc = fail(st, "dataset");
        goto done;
    }
    ref = NULL;
    int64_t raw_shape[4] = {batch, c0, h0, w0}, shape[4] = {batch, c, h, w};
    st = gan_loader_create(&ln, native, batch, GAN_LOADER_SHUFFLE, seed);
    if (st == GAN_OK) st = gan_loader_create(&lc, converted, batch, GAN_LOADER_SHUFFLE, seed);
    if (st == GAN_OK) st = gan_tensor_create(&raw, 4, raw_shape);
    if (st == GAN_OK) st = gan_tensor_create(&got, 4, shape);
    if (st == GAN_OK) st = gan_tensor_create(&want, 4, shape);
    if (st != GAN_OK) {
        rc = fail(st, "loaders and batches");
        goto done;
    }
    if (converter_init(&cv, c0, h0, w0, c, h, w) != 0) goto done;
    int64_t per = (int64_t)c * h * w, batches = 0, images = 0;
    for (int epoch = 0; epoch < 2; epoch++) {
        for (;;) {
            int64_t count_n = 0, count_c = 0;
            st = gan_loader_next(ln, raw, NULL, &count_n);
            if (st == GAN_OK) st = gan_loader_next(lc, want, NULL, &count_c);
            if (st != GAN_OK) {
                rc = fail(st, "gan_loader_next");
                goto done;
            }
            if (count_n != count_c) {
                tool_error("batch %lld: %lld images, reference %lld", (long long)batches,
                           (long long)count_n, (long long)count_c);
                rc = 1;
                goto done;
            }
            if (count_n == 0) break;
            convert_images(&cv, gan_tensor_data(got), gan_tensor_cdata(raw), count_n);
            const float *g = gan_tensor_cdata(got), *r = gan_tensor_cdata(want);
            for (int64_t i = 0; i < count_n * per; i++)
                if (memcmp(&g[i], &r[i], sizeof *g) != 0) {
                    tool_error("epoch %d batch %lld, image %lld, element %lld: %.9g, reference %.9g",
                               epoch, (long long)batches, (long long)(i / per),
                               (long long)(i % per), g[i], r[i]);
                    rc = 1;
                    goto done;
                }
            batches++;
            images += count_n;
        }
    }
    printf("identical: %lld batches, %lld images of %dx%dx%d -> %dx%dx%d, from %lld\n",
           (long long)batches, (long long)images, c0, h0, w0, c, h, w, (long long)n);
    rc = 0;
done:
    converter_free(&cv);
    gan_loader_free(ln);
    gan_loader_free(lc);
    gan_dataset_free(native);
    gan_dataset_free(converted);
    gan_tensor_free(x);
    gan_tensor_free(ref);
    gan_tensor_free(raw);
    gan_tensor_free(got);
    gan_tensor_free(want);
    return rc;
}
