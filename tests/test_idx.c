/* test_idx.c — IDX reader (plain, gzip, every hostile case with its exact
 * status), dataset and the batch loader (order, drop-last, seeded shuffling).
 * Files: tests/data/idx/, written by gen_idx.py there. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Full path of a test file (two live at once: a call may take two paths). */
static const char *idx_path(const char *name)
{
    static char buf[2][4096];
    static int next;
    char *p = buf[next++ & 1];
    snprintf(p, sizeof buf[0], "%s/data/idx/%s", GAN_TEST_DIR, name);
    return p;
}

/* The pixels gen_idx.py writes: k = 0 -> 0, k = 1 -> 255, else (37k+11) mod 256. */
static int pixel_byte(int k)
{
    return k == 0 ? 0 : k == 1 ? 255 : (37 * k + 11) % 256;
}

static void check_images_3x4x5(const gan_tensor *t)
{
    ck_assert_int_eq(gan_tensor_ndim(t), 4);
    ck_assert_int_eq(gan_tensor_dim(t, 0), 3);
    ck_assert_int_eq(gan_tensor_dim(t, 1), 1);
    ck_assert_int_eq(gan_tensor_dim(t, 2), 4);
    ck_assert_int_eq(gan_tensor_dim(t, 3), 5);
    const float *d = gan_tensor_cdata(t);
    for (int k = 0; k < 60; k++) {
        float want = (float)(pixel_byte(k) / 127.5 - 1.0);
        ck_assert_msg(d[k] == want, "pixel %d: got %.9g, want %.9g", k, d[k], want);
    }
}

START_TEST(images_plain_and_gzip)
{
    const char *files[] = {"images_3x4x5.idx", "images_3x4x5.idx.gz", "images_concat.idx.gz"};
    for (int i = 0; i < 3; i++) {
        gan_tensor *t = NULL;
        TU_OK(gan_idx_read_images(&t, idx_path(files[i])));
        check_images_3x4x5(t);
        gan_tensor_free(t);
    }
}
END_TEST

/* idx4: colour images (N, C, H, W) = 2 x 3 x 4 x 5, channel-major. */
START_TEST(images_idx4_plain_and_gzip)
{
    const char *files[] = {"images_2x3x4x5.idx", "images_2x3x4x5.idx.gz"};
    for (int i = 0; i < 2; i++) {
        gan_tensor *t = NULL;
        TU_OK(gan_idx_read_images(&t, idx_path(files[i])));
        ck_assert_int_eq(gan_tensor_ndim(t), 4);
        const int64_t want_shape[4] = {2, 3, 4, 5};
        for (int d = 0; d < 4; d++) ck_assert_int_eq(gan_tensor_dim(t, d), want_shape[d]);
        const float *d = gan_tensor_cdata(t);
        for (int k = 0; k < 120; k++) {
            float want = (float)(pixel_byte(k) / 127.5 - 1.0);
            ck_assert_msg(d[k] == want, "%s pixel %d: got %.9g, want %.9g", files[i], k, d[k],
                          want);
        }
        gan_tensor_free(t);
    }
    gan_dataset *ds = NULL;
    TU_OK(gan_dataset_load_idx(&ds, idx_path("images_2x3x4x5.idx.gz"), NULL));
    ck_assert_int_eq(gan_dataset_size(ds), 2);
    ck_assert_int_eq(gan_tensor_dim(gan_dataset_images(ds), 1), 3);
    gan_dataset_free(ds);
    TU_STATUS(GAN_E_SHAPE,
              gan_dataset_load_idx(&ds, idx_path("images_2x3x4x5.idx"), idx_path("labels_3.idx")));
}
END_TEST

START_TEST(scaling_is_exact)
{
    gan_tensor *t = NULL;
    TU_OK(gan_idx_read_images(&t, idx_path("images_3x4x5.idx")));
    const float *d = gan_tensor_cdata(t);
    ck_assert_float_eq(d[0], -1.0f); /* 0   -> -1 */
    ck_assert_float_eq(d[1], 1.0f);  /* 255 -> +1 */
    /* k = 4: byte 159 -> 159/127.5 - 1 = 0.247058823... */
    ck_assert_int_eq(pixel_byte(4), 159);
    ck_assert_float_eq(d[4], 0.24705882352941178f);
    /* k = 8: byte 51 -> 51/127.5 - 1 = -0.6 */
    ck_assert_int_eq(pixel_byte(8), 51);
    ck_assert_float_eq(d[8], -0.6f);
    gan_tensor_free(t);
}
END_TEST

START_TEST(labels_plain_and_gzip)
{
    const char *files[] = {"labels_3.idx", "labels_3.idx.gz"};
    for (int i = 0; i < 2; i++) {
        int32_t *labels = NULL;
        int64_t n = -1;
        TU_OK(gan_idx_read_labels(&labels, &n, idx_path(files[i])));
        ck_assert_int_eq(n, 3);
        ck_assert_int_eq(labels[0], 7);
        ck_assert_int_eq(labels[1], 0);
        ck_assert_int_eq(labels[2], 255);
        gan_labels_free(labels);
    }
    gan_labels_free(NULL);
}
END_TEST

/* Every way a file can be wrong, with the exact status and a word the
 * message must contain. */
static const struct {
    const char *file;
    int labels; /* read with the label reader */
    gan_status status;
    const char *says;
} hostile[] = {
    {"empty.idx", 0, GAN_E_FORMAT, "truncated"},
    {"short_magic.idx", 0, GAN_E_FORMAT, "truncated"},
    {"bad_magic.idx", 0, GAN_E_FORMAT, "not an IDX"},
    {"unknown_dtype.idx", 0, GAN_E_FORMAT, "0x07"},
    {"float_dtype.idx", 0, GAN_E_UNSUPPORTED, "float32"},
    {"ndim0.idx", 0, GAN_E_FORMAT, "0 dimensions"},
    {"labels_3.idx", 0, GAN_E_FORMAT, "1 dimensions, expected 3 or 4"},
    {"images_3x4x5.idx", 1, GAN_E_FORMAT, "3 dimensions, expected 1"},
    {"images_2x3x4x5.idx", 1, GAN_E_FORMAT, "4 dimensions, expected 1"},
    {"ndim5.idx", 0, GAN_E_FORMAT, "5 dimensions, expected 3 or 4"},
    {"idx4_zero_dim.idx", 0, GAN_E_FORMAT, "dimension 1 has size 0"},
    {"idx4_short_dims.idx", 0, GAN_E_FORMAT, "truncated"},
    {"idx4_truncated.idx", 0, GAN_E_FORMAT, "truncated"},
    {"idx4_trailing.idx", 0, GAN_E_FORMAT, "trailing"},
    {"idx4_huge_claim.idx", 0, GAN_E_FORMAT, "truncated"},
    {"idx4_big_dims.idx", 0, GAN_E_FORMAT, "truncated"},
    {"idx4_overflow.idx", 0, GAN_E_OVERFLOW, "overflow"},
    {"gz_idx4_huge_claim.idx.gz", 0, GAN_E_FORMAT, "gzip file can hold"},
    {"gz_idx4_short_data.idx.gz", 0, GAN_E_FORMAT, "truncated"},
    {"zero_dim.idx", 0, GAN_E_FORMAT, "size 0"},
    {"short_dims.idx", 0, GAN_E_FORMAT, "truncated"},
    {"truncated.idx", 0, GAN_E_FORMAT, "truncated"},
    {"trailing.idx", 0, GAN_E_FORMAT, "trailing"},
    {"huge_claim.idx", 0, GAN_E_FORMAT, "truncated"},
    {"overflow.idx", 0, GAN_E_OVERFLOW, "overflow"},
    {"gz_huge_claim.idx.gz", 0, GAN_E_FORMAT, "gzip file can hold"},
    {"gz_cut.idx.gz", 0, GAN_E_FORMAT, "truncated"},
    {"gz_bad_crc.idx.gz", 0, GAN_E_FORMAT, "corrupt gzip"},
    {"gz_short_data.idx.gz", 0, GAN_E_FORMAT, "truncated"},
    {"gz_trailing_data.idx.gz", 0, GAN_E_FORMAT, "trailing"},
    {"gz_garbage_after.idx.gz", 0, GAN_E_FORMAT, "corrupt gzip"},
    {"no_such_file.idx", 0, GAN_E_IO, "cannot open"},
    {"no_such_file.idx", 1, GAN_E_IO, "cannot open"},
    {"", 0, GAN_E_IO, "not a regular file"}, /* the directory itself */
};

START_TEST(hostile_files)
{
    const char *file = hostile[_i].file;
    gan_status st;
    if (hostile[_i].labels) {
        int32_t *labels = (int32_t *)1;
        int64_t n = 99;
        st = gan_idx_read_labels(&labels, &n, idx_path(file));
        ck_assert_ptr_null(labels);
        ck_assert_int_eq(n, 0);
    } else {
        gan_tensor *t = (gan_tensor *)1;
        st = gan_idx_read_images(&t, idx_path(file));
        ck_assert_ptr_null(t);
    }
    ck_assert_msg(st == hostile[_i].status, "%s: got %s, want %s (%s)", file,
                  gan_status_string(st), gan_status_string(hostile[_i].status),
                  gan_last_error());
    ck_assert_msg(strstr(gan_last_error(), hostile[_i].says) != NULL,
                  "%s: message \"%s\" lacks \"%s\"", file, gan_last_error(), hostile[_i].says);
}
END_TEST

/* Allocator that counts live blocks and records the largest request. */
static long live_blocks;
static size_t largest;

static void *count_alloc(void *user, size_t size)
{
    (void)user;
    if (size > largest) largest = size;
    void *p = malloc(size);
    if (p) live_blocks++;
    return p;
}

static void count_free(void *user, void *p)
{
    (void)user;
    if (p) live_blocks--;
    free(p);
}

START_TEST(allocation_bounded_by_file)
{
    gan_allocator a = {count_alloc, count_free, NULL};
    TU_OK(gan_set_allocator(&a));
    const char *bad[] = {"huge_claim.idx", "overflow.idx", "gz_huge_claim.idx.gz",
                         "gz_cut.idx.gz", "gz_trailing_data.idx.gz", "idx4_huge_claim.idx",
                         "idx4_big_dims.idx", "idx4_overflow.idx", "gz_idx4_huge_claim.idx.gz"};
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        largest = 0;
        gan_tensor *t = NULL;
        ck_assert_int_ne(gan_idx_read_images(&t, idx_path(bad[i])), GAN_OK);
        /* two 64 KiB buffers and zlib's ~40 KiB window/state at most */
        ck_assert_msg(largest <= 70000, "%s: an allocation of %zu bytes", bad[i], largest);
        ck_assert_int_eq(live_blocks, 0);
    }
    /* zlib's memory goes through the hook too, and all of it comes back */
    gan_tensor *t = NULL;
    TU_OK(gan_idx_read_images(&t, idx_path("images_concat.idx.gz")));
    ck_assert_int_eq(live_blocks, 1 + 1); /* tensor struct + data */
    gan_tensor_free(t);
    ck_assert_int_eq(live_blocks, 0);
    TU_OK(gan_set_allocator(NULL));
}
END_TEST

START_TEST(null_arguments)
{
    gan_tensor *t = NULL;
    int32_t *labels = NULL;
    int64_t n;
    gan_dataset *ds = NULL;
    TU_STATUS(GAN_E_NULL, gan_idx_read_images(NULL, "x"));
    TU_STATUS(GAN_E_NULL, gan_idx_read_images(&t, NULL));
    TU_STATUS(GAN_E_NULL, gan_idx_read_labels(&labels, NULL, "x"));
    TU_STATUS(GAN_E_NULL, gan_idx_read_labels(&labels, &n, NULL));
    TU_STATUS(GAN_E_NULL, gan_dataset_load_idx(&ds, NULL, NULL));
    TU_STATUS(GAN_E_NULL, gan_dataset_create(&ds, NULL, NULL));
    ck_assert_int_eq(gan_dataset_size(NULL), 0);
    ck_assert_ptr_null(gan_dataset_images(NULL));
    gan_dataset_free(NULL);
    gan_loader_free(NULL);
    ck_assert_int_eq(gan_loader_batches_per_epoch(NULL), 0);
}
END_TEST

START_TEST(dataset_from_idx)
{
    gan_dataset *ds = NULL;
    TU_OK(gan_dataset_load_idx(&ds, idx_path("images_3x4x5.idx.gz"), idx_path("labels_3.idx")));
    ck_assert_int_eq(gan_dataset_size(ds), 3);
    check_images_3x4x5(gan_dataset_images(ds));
    ck_assert_int_eq(gan_dataset_labels(ds)[2], 255);
    gan_dataset_free(ds);

    TU_OK(gan_dataset_load_idx(&ds, idx_path("images_3x4x5.idx"), NULL));
    ck_assert_ptr_null(gan_dataset_labels(ds));
    gan_dataset_free(ds);

    ds = (gan_dataset *)1;
    TU_STATUS(GAN_E_SHAPE,
              gan_dataset_load_idx(&ds, idx_path("images_3x4x5.idx"), idx_path("labels_4.idx")));
    ck_assert_ptr_null(ds);
    ck_assert_msg(strstr(gan_last_error(), "3 images") && strstr(gan_last_error(), "4 labels"),
                  "%s", gan_last_error());
    TU_STATUS(GAN_E_FORMAT,
              gan_dataset_load_idx(&ds, idx_path("images_3x4x5.idx"), idx_path("trailing.idx")));
}
END_TEST

/* Dataset of n samples of 2 floats: sample i = (i, -i); labels i + 100. */
static gan_dataset *counting_dataset(int64_t n)
{
    gan_tensor *x = tu_tensor(2, n, 2, 0, 0);
    int32_t *labels = malloc((size_t)n * sizeof *labels);
    float *d = gan_tensor_data(x);
    for (int64_t i = 0; i < n; i++) {
        d[2 * i] = (float)i;
        d[2 * i + 1] = (float)-i;
        labels[i] = (int32_t)(i + 100);
    }
    gan_dataset *ds = NULL;
    TU_OK(gan_dataset_create(&ds, x, labels));
    free(labels);
    return ds;
}

START_TEST(loader_in_order)
{
    gan_dataset *ds = counting_dataset(10);
    gan_loader *l = NULL;
    TU_OK(gan_loader_create(&l, ds, 4, 0, 1));
    ck_assert_int_eq(gan_loader_batches_per_epoch(l), 3);
    gan_tensor *b = tu_tensor(2, 4, 2, 0, 0);
    int32_t labels[4];
    int64_t count;
    const int64_t want_counts[] = {4, 4, 2, 0, 4};
    for (int call = 0, first = 0; call < 5; call++) {
        TU_OK(gan_loader_next(l, b, labels, &count));
        ck_assert_int_eq(count, want_counts[call]);
        for (int i = 0; i < count; i++) {
            ck_assert_float_eq(gan_tensor_data(b)[2 * i], (float)(first + i));
            ck_assert_float_eq(gan_tensor_data(b)[2 * i + 1], (float)-(first + i));
            ck_assert_int_eq(labels[i], first + i + 100);
        }
        first = call == 3 ? 0 : first + (int)count; /* epoch 1 starts over */
    }
    ck_assert_int_eq(gan_loader_epoch(l), 1);
    gan_loader_free(l);

    TU_OK(gan_loader_create(&l, ds, 4, GAN_LOADER_DROP_LAST, 1));
    ck_assert_int_eq(gan_loader_batches_per_epoch(l), 2);
    TU_OK(gan_loader_next(l, b, NULL, &count));
    TU_OK(gan_loader_next(l, b, NULL, &count));
    ck_assert_int_eq(count, 4);
    TU_OK(gan_loader_next(l, b, NULL, &count));
    ck_assert_int_eq(count, 0);
    gan_loader_free(l);
    gan_tensor_free(b);
    gan_dataset_free(ds);
}
END_TEST

/* The sample indices of `batches` full batches of 5. */
static void draw(gan_loader *l, gan_tensor *b, int batches, int *out)
{
    int64_t count;
    for (int k = 0; k < batches; k++) {
        TU_OK(gan_loader_next(l, b, NULL, &count));
        ck_assert_int_eq(count, 5);
        for (int i = 0; i < 5; i++) out[5 * k + i] = (int)gan_tensor_data(b)[2 * i];
    }
}

START_TEST(loader_shuffles_by_seed)
{
    gan_dataset *ds = counting_dataset(20);
    gan_tensor *b = tu_tensor(3, 5, 1, 2, 0); /* another shape with 2 floats per row */
    gan_loader *a1 = NULL, *a2 = NULL, *c = NULL;
    unsigned f = GAN_LOADER_SHUFFLE | GAN_LOADER_DROP_LAST;
    TU_OK(gan_loader_create(&a1, ds, 5, f, 42));
    TU_OK(gan_loader_create(&a2, ds, 5, f, 42));
    TU_OK(gan_loader_create(&c, ds, 5, f, 43));
    int e0[20], e0b[20], e1[20], other[20], again[20];
    int64_t count;
    draw(a1, b, 4, e0);
    TU_OK(gan_loader_next(a1, b, NULL, &count));
    ck_assert_int_eq(count, 0);
    draw(a1, b, 4, e1);
    draw(a2, b, 4, e0b);
    draw(c, b, 4, other);
    ck_assert_mem_eq(e0, e0b, sizeof e0);         /* same seed, same order  */
    ck_assert_mem_ne(e0, other, sizeof e0);       /* another seed differs   */
    ck_assert_mem_ne(e0, e1, sizeof e0);          /* each epoch reshuffles  */
    int seen[20] = {0}, in_order = 1;
    for (int i = 0; i < 20; i++) {
        seen[e0[i]]++;
        in_order &= e0[i] == i;
    }
    for (int i = 0; i < 20; i++) ck_assert_int_eq(seen[i], 1); /* a permutation */
    ck_assert(!in_order);
    TU_OK(gan_loader_set_epoch(a2, 1)); /* resume at epoch 1: same batches */
    ck_assert_int_eq(gan_loader_epoch(a2), 1);
    draw(a2, b, 4, again);
    ck_assert_mem_eq(e1, again, sizeof e1);
    gan_loader_free(a1);
    gan_loader_free(a2);
    gan_loader_free(c);
    gan_tensor_free(b);
    gan_dataset_free(ds);
}
END_TEST

START_TEST(loader_misuse)
{
    gan_dataset *ds = counting_dataset(6);
    gan_loader *l = (gan_loader *)1;
    TU_STATUS(GAN_E_INVALID, gan_loader_create(&l, ds, 0, 0, 1));
    ck_assert_ptr_null(l);
    TU_STATUS(GAN_E_INVALID, gan_loader_create(&l, ds, 7, GAN_LOADER_DROP_LAST, 1));
    TU_STATUS(GAN_E_INVALID, gan_loader_create(&l, ds, 2, 8, 1));
    TU_STATUS(GAN_E_NULL, gan_loader_create(&l, NULL, 2, 0, 1));
    TU_OK(gan_loader_create(&l, ds, 2, 0, 1));
    gan_tensor *wrong = tu_tensor(2, 2, 3, 0, 0), *rows = tu_tensor(2, 3, 2, 0, 0);
    int64_t count = 5;
    TU_STATUS(GAN_E_SHAPE, gan_loader_next(l, wrong, NULL, &count));
    ck_assert_int_eq(count, 0);
    TU_STATUS(GAN_E_SHAPE, gan_loader_next(l, rows, NULL, &count));
    TU_STATUS(GAN_E_NULL, gan_loader_next(l, NULL, NULL, &count));
    TU_STATUS(GAN_E_INVALID, gan_loader_set_epoch(l, -1));
    gan_loader_free(l);
    gan_tensor_free(wrong);
    gan_tensor_free(rows);
    gan_dataset_free(ds);

    /* a dataset without labels refuses to hand out labels */
    gan_tensor *x = tu_tensor(2, 4, 2, 0, 0);
    TU_OK(gan_dataset_create(&ds, x, NULL));
    TU_OK(gan_loader_create(&l, ds, 2, 0, 1));
    gan_tensor *b = tu_tensor(2, 2, 2, 0, 0);
    int32_t labels[2];
    TU_STATUS(GAN_E_INVALID, gan_loader_next(l, b, labels, &count));
    gan_loader_free(l);
    gan_tensor_free(b);
    gan_dataset_free(ds);

    /* a 1-D tensor is no dataset; the caller keeps it */
    gan_tensor *flat = tu_tensor(1, 4, 0, 0, 0);
    TU_STATUS(GAN_E_INVALID, gan_dataset_create(&ds, flat, NULL));
    gan_tensor_free(flat);
}
END_TEST

/* The real Fashion-MNIST test split, when Debian's package is installed. */
START_TEST(fashion_mnist_if_installed)
{
    const char *img = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    const char *lab = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
    FILE *f = fopen(img, "rb");
    if (f == NULL) return; /* not installed: nothing to check */
    fclose(f);
    gan_dataset *ds = NULL;
    TU_OK(gan_dataset_load_idx(&ds, img, lab));
    const gan_tensor *x = gan_dataset_images(ds);
    ck_assert_int_eq(gan_tensor_dim(x, 0), 10000);
    ck_assert_int_eq(gan_tensor_dim(x, 2), 28);
    ck_assert_int_eq(gan_tensor_dim(x, 3), 28);
    float lo = 1, hi = -1;
    for (int64_t i = 0; i < gan_tensor_numel(x); i++) {
        float v = gan_tensor_cdata(x)[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    ck_assert_float_eq(lo, -1.0f);
    ck_assert_float_eq(hi, 1.0f);
    int classes[10] = {0};
    for (int i = 0; i < 10000; i++) {
        int c = gan_dataset_labels(ds)[i];
        ck_assert(c >= 0 && c < 10);
        classes[c]++;
    }
    for (int c = 0; c < 10; c++) ck_assert_int_eq(classes[c], 1000);
    gan_dataset_free(ds);
}
END_TEST

/* Plain tensor files: round trip, and each refusal with its status. */
START_TEST(tensor_files)
{
    char path[256], model_path[256];
    snprintf(path, sizeof path, "/tmp/gan-test-tensors-%d.safetensors", (int)getpid());
    snprintf(model_path, sizeof model_path, "/tmp/gan-test-bn-%d.safetensors", (int)getpid());
    gan_tensor *z = tu_tensor(2, 3, 4, 0, 0), *x = tu_tensor(4, 3, 1, 2, 2);
    for (int i = 0; i < 12; i++) {
        gan_tensor_data(z)[i] = (float)i - 5.5f;
        gan_tensor_data(x)[i] = 1.0f / (float)(i + 1);
    }
    const char *names[2] = {"z", "x"};
    const gan_tensor *ts[2] = {z, x};
    TU_OK(gan_tensors_save(path, 2, names, ts));
    gan_tensor *back = NULL;
    TU_OK(gan_tensor_load(&back, path, "x"));
    ck_assert_int_eq(gan_tensor_ndim(back), 4);
    ck_assert_int_eq(gan_tensor_dim(back, 3), 2);
    ck_assert_mem_eq(gan_tensor_cdata(back), gan_tensor_cdata(x), 12 * sizeof(float));
    gan_tensor_free(back);
    TU_OK(gan_tensor_load(&back, path, "z"));
    ck_assert_mem_eq(gan_tensor_cdata(back), gan_tensor_cdata(z), 12 * sizeof(float));
    gan_tensor_free(back);

    back = (gan_tensor *)1;
    TU_STATUS(GAN_E_FORMAT, gan_tensor_load(&back, path, "w"));
    ck_assert_ptr_null(back);
    ck_assert_msg(strstr(gan_last_error(), "no tensor named 'w'"), "%s", gan_last_error());
    TU_STATUS(GAN_E_IO, gan_tensor_load(&back, "/nonexistent.safetensors", "z"));
    TU_STATUS(GAN_E_FORMAT, gan_tensor_load(&back, idx_path("images_3x4x5.idx"), "z"));
    TU_STATUS(GAN_E_NULL, gan_tensor_load(&back, path, NULL));
    const char *dup[2] = {"z", "z"};
    TU_STATUS(GAN_E_INVALID, gan_tensors_save(path, 2, dup, ts));
    TU_STATUS(GAN_E_INVALID, gan_tensors_save(path, 0, names, ts));
    TU_STATUS(GAN_E_NULL, gan_tensors_save(NULL, 1, names, ts));
    TU_STATUS(GAN_E_IO, gan_tensors_save("/nonexistent/dir/t.safetensors", 1, names, ts));

    /* a batchnorm counter is an I64 scalar: not a float tensor */
    gan_model *m = NULL;
    gan_layer *bn = NULL;
    int64_t in[1] = {3};
    TU_OK(gan_model_create(&m, 1, in));
    TU_OK(gan_layer_batchnorm(&bn, 3));
    TU_OK(gan_model_add(m, bn));
    TU_OK(gan_model_save(m, model_path));
    TU_STATUS(GAN_E_UNSUPPORTED, gan_tensor_load(&back, model_path, "0.num_batches_tracked"));
    TU_OK(gan_tensor_load(&back, model_path, "0.running_var"));
    ck_assert_float_eq(gan_tensor_cdata(back)[2], 1.0f);
    gan_tensor_free(back);
    gan_model_free(m);
    remove(path);
    remove(model_path);
    gan_tensor_free(z);
    gan_tensor_free(x);
}
END_TEST

Suite *suite_idx(void)
{
    Suite *s = suite_create("idx");
    TCase *tc = tcase_create("idx");
    tcase_add_test(tc, images_plain_and_gzip);
    tcase_add_test(tc, images_idx4_plain_and_gzip);
    tcase_add_test(tc, scaling_is_exact);
    tcase_add_test(tc, labels_plain_and_gzip);
    tcase_add_loop_test(tc, hostile_files, 0, (int)(sizeof hostile / sizeof hostile[0]));
    tcase_add_test(tc, allocation_bounded_by_file);
    tcase_add_test(tc, null_arguments);
    tcase_add_test(tc, dataset_from_idx);
    tcase_add_test(tc, loader_in_order);
    tcase_add_test(tc, loader_shuffles_by_seed);
    tcase_add_test(tc, loader_misuse);
    tcase_add_test(tc, fashion_mnist_if_installed);
    tcase_add_test(tc, tensor_files);
    suite_add_tcase(s, tc);
    return s;
}
