/* fuzz_idx.c — libFuzzer target for the IDX reader (plain and gzip).
 *
 * The input is written to an in-memory file (memfd) and read as images and
 * as labels through the public API, exactly as a file from disk would be.
 * Any input must be refused with a status or give a tensor whose size
 * matches its header (idx3 images as (N, 1, H, W), idx4 as (N, C, H, W)); a successful read must leave no leak (LeakSanitizer).
 * Built and run by `make fuzz` (mk/io.mk, FUZZ_TARGETS includes idx). */
#include "gan.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("idx", 0);
    if (fd < 0) return 0;
    if (size > 0 && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    gan_tensor *images = NULL;
    if (gan_idx_read_images(&images, path) == GAN_OK) {
        /* idx3 (N, H, W) -> (N, 1, H, W); idx4 (N, C, H, W) as is; values in [-1, 1].
         * A plain file holds its header and exactly numel bytes. */
        if (gan_tensor_ndim(images) != 4) abort();
        if (data[0] != 0x1f && (size < 4 || (data[3] != 3 && data[3] != 4) ||
                                (data[3] == 3 && gan_tensor_dim(images, 1) != 1) ||
                                (size_t)gan_tensor_numel(images) + 4 + 4 * (size_t)data[3] != size))
            abort();
        const float *p = gan_tensor_cdata(images);
        for (int64_t i = 0; i < gan_tensor_numel(images); i++)
            if (!(p[i] >= -1.0f && p[i] <= 1.0f)) abort();
        gan_tensor_free(images);
    } else if (images != NULL) {
        abort();
    }

    int32_t *labels = NULL;
    int64_t count = -1;
    if (gan_idx_read_labels(&labels, &count, path) == GAN_OK) {
        if (count < 1 || labels == NULL) abort();
        for (int64_t i = 0; i < count; i++)
            if (labels[i] < 0 || labels[i] > 255) abort();
        gan_labels_free(labels);
    } else if (labels != NULL) {
        abort();
    }
    close(fd);
    return 0;
}
