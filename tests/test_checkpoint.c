/* test_checkpoint.c — safetensors checkpoints: round trips, PyTorch-written
 * files (tests/ref/gen_checkpoint.py), bitwise resume, kill during save,
 * the architecture text, and one test per kind of hostile file. */
#include "testutil.h"
#include "nn.h"
#include "io/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */
static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gan-ckpt-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    DIR *dir = opendir(tmpdir);
    if (dir == NULL) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        if (unlink(p) != 0) rmdir(p);
    }
    closedir(dir);
    rmdir(tmpdir);
}

/* Files in tmpdir whose name contains `part`. */
static int count_files(const char *part)
{
    DIR *dir = opendir(tmpdir);
    ck_assert_ptr_nonnull(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) n += strstr(e->d_name, part) != NULL;
    closedir(dir);
    return n;
}

/* "<tmpdir>/<name>" in one of a few rotating buffers. */
static const char *tmp_path(const char *name)
{
    static char buf[16][512];
    static int next;
    char *p = buf[next++ % 16];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static void write_all(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* A safetensors file from a header text and data bytes, length prefix
 * `hlen` (the header's real length when hlen is UINT64_MAX). */
static void write_st_raw(const char *path, const char *json, uint64_t hlen, const void *data,
                         size_t data_len)
{
    size_t jl = strlen(json);
    if (hlen == UINT64_MAX) hlen = jl;
    unsigned char *b = malloc(8 + jl + data_len + 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(b + 8, json, jl);
    if (data_len) memcpy(b + 8 + jl, data, data_len);
    write_all(path, b, 8 + jl + data_len);
    free(b);
}

static void write_st(const char *path, const char *json, const void *data, size_t data_len)
{
    write_st_raw(path, json, UINT64_MAX, data, data_len);
}

static gan_model *from_arch(const char *text)
{
    gan_model *m = NULL;
    gan_status st = gan_model_from_arch_text(&m, text);
    ck_assert_msg(st == GAN_OK, "from_arch_text: %s: %s", gan_status_string(st), gan_last_error());
    return m;
}

/* Every tensor's bytes and every batchnorm counter, concatenated. */
typedef struct snap {
    unsigned char *bytes;
    size_t len;
} snap;

static snap take_snap(gan_model *m)
{
    size_t len = 0;
    for (int i = 0; i < gan_model_tensor_count(m); i++) {
        gan_tensor *v;
        TU_OK(gan_model_tensor(m, i, NULL, &v, NULL));
        len += (size_t)gan_tensor_numel(v) * 4;
    }
    len += (size_t)gan_model_layer_count(m) * 8;
    snap s = {malloc(len), len};
    size_t at = 0;
    for (int i = 0; i < gan_model_tensor_count(m); i++) {
        gan_tensor *v;
        TU_OK(gan_model_tensor(m, i, NULL, &v, NULL));
        memcpy(s.bytes + at, gan_tensor_cdata(v), (size_t)gan_tensor_numel(v) * 4);
        at += (size_t)gan_tensor_numel(v) * 4;
    }
    for (int i = 0; i < gan_model_layer_count(m); i++, at += 8)
        memcpy(s.bytes + at, &gan_model_layer(m, i)->num_batches_tracked, 8);
    return s;
}

static void assert_snap_eq(const char *what, snap a, snap b)
{
    ck_assert_msg(a.len == b.len, "%s: %zu vs %zu bytes", what, a.len, b.len);
    ck_assert_msg(memcmp(a.bytes, b.bytes, a.len) == 0, "%s: bytes differ", what);
}

/* Names, shapes, values and counters of two models are identical. */
static void assert_models_equal(gan_model *a, gan_model *b)
{
    ck_assert_int_eq(gan_model_tensor_count(a), gan_model_tensor_count(b));
    ck_assert_int_eq(gan_model_layer_count(a), gan_model_layer_count(b));
    for (int i = 0; i < gan_model_tensor_count(a); i++) {
        const char *na, *nb;
        gan_tensor *va, *vb;
        TU_OK(gan_model_tensor(a, i, &na, &va, NULL));
        TU_OK(gan_model_tensor(b, i, &nb, &vb, NULL));
        ck_assert_str_eq(na, nb);
        ck_assert_int_eq(gan_tensor_ndim(va), gan_tensor_ndim(vb));
        for (int d = 0; d < gan_tensor_ndim(va); d++)
            ck_assert_int_eq(gan_tensor_dim(va, d), gan_tensor_dim(vb, d));
    }
    snap sa = take_snap(a), sb = take_snap(b);
    assert_snap_eq("models", sa, sb);
    free(sa.bytes);
    free(sb.bytes);
}

/* Deterministic input (N, input shape...). */
static gan_tensor *input_for(gan_model *m, int64_t n, uint64_t seed)
{
    int nd;
    int64_t s[GAN_MAX_DIMS], full[GAN_MAX_DIMS];
    TU_OK(gan_model_input_shape(m, &nd, s));
    full[0] = n;
    for (int i = 0; i < nd; i++) full[i + 1] = s[i];
    gan_tensor *x = NULL;
    TU_OK(gan_tensor_create(&x, nd + 1, full));
    gan_rng *r = NULL;
    TU_OK(gan_rng_create(&r, seed));
    TU_OK(gan_rng_fill_normal(r, x, 0.1f, 1.2f));
    gan_rng_free(r);
    return x;
}

/* Forward outputs of both models on the same input are bitwise equal. */
static void assert_same_forward(gan_model *a, gan_model *b, int training)
{
    gan_tensor *x = input_for(a, 4, 99);
    const gan_tensor *ya, *yb;
    TU_OK(gan_model_set_training(a, training));
    TU_OK(gan_model_set_training(b, training));
    TU_OK(gan_model_forward(a, x, &ya));
    TU_OK(gan_model_forward(b, x, &yb));
    ck_assert_int_eq(gan_tensor_numel(ya), gan_tensor_numel(yb));
    ck_assert_msg(memcmp(gan_tensor_cdata(ya), gan_tensor_cdata(yb),
                         (size_t)gan_tensor_numel(ya) * 4) == 0,
                  "forward outputs differ (training = %d)", training);
    gan_tensor_free(x);
}

/* Move batchnorm statistics off their defaults with train-mode forwards. */
static void warm_up(gan_model *m, int times)
{
    TU_OK(gan_model_set_training(m, 1));
    for (int i = 0; i < times; i++) {
        gan_tensor *x = input_for(m, 3, 7 + (uint64_t)i);
        const gan_tensor *y;
        TU_OK(gan_model_forward(m, x, &y));
        gan_tensor_free(x);
    }
}

/* Every layer kind, biases on and off, non-default settings. */
static const char ALL_KINDS[] =
    "input 2 6 6\n"
    "conv2d in=2 out=4 k=3x3 s=1 p=1 bias=1\n"
    "batchnorm features=4 eps=0.001 momentum=0.25\n"
    "leaky_relu slope=0.1\n"
    "flatten\n"
    "dense in=144 out=16 bias=1\n"
    "sigmoid\n"
    "dense in=16 out=32 bias=0\n"
    "batchnorm features=32\n"
    "tanh\n"
    "reshape 2 4 4\n"
    "conv_transpose2d in=2 out=3 k=3x2 s=2 p=1 op=1 bias=1\n"
    "relu\n";

/* The PyTorch nets of tests/ref/gen_checkpoint.py. */
static const char TORCH_G28[] =
    "input 16 1 1\n"
    "conv_transpose2d in=16 out=32 k=7x7 s=1 p=0 op=0 bias=0\n"
    "batchnorm features=32 eps=1e-05 momentum=0.1\n"
    "relu\n"
    "conv_transpose2d in=32 out=16 k=4x4 s=2 p=1 op=0 bias=0\n"
    "batchnorm features=16 eps=1e-05 momentum=0.1\n"
    "relu\n"
    "conv_transpose2d in=16 out=1 k=4x4 s=2 p=1 op=0 bias=0\n"
    "tanh\n";
static const char TORCH_MLP[] =
    "input 8\n"
    "dense in=8 out=24 bias=1\n"
    "batchnorm features=24 eps=0.001 momentum=0.2\n"
    "leaky_relu slope=0.2\n"
    "dense in=24 out=32 bias=0\n"
    "tanh\n"
    "reshape 2 4 4\n"
    "conv_transpose2d in=2 out=3 k=3x3 s=2 p=1 op=1 bias=1\n"
    "batchnorm features=3\n"
    "relu\n"
    "conv2d in=3 out=4 k=3x3 s=1 p=1 bias=1\n"
    "sigmoid\n"
    "flatten\n";

/* ------------------------------------------------------------- round trip */
static void round_trip(gan_model *m)
{
    make_tmpdir();
    warm_up(m, 2);
    const char *path = tmp_path("m.safetensors");
    TU_OK(gan_model_save(m, path));
    ck_assert_int_eq(count_files(".tmp-"), 0);
    gan_model *back = NULL;
    TU_OK(gan_model_load(&back, path));
    assert_models_equal(m, back);
    char a[4096], b[4096];
    TU_OK(gan_model_arch_text(m, a, sizeof a, NULL));
    TU_OK(gan_model_arch_text(back, b, sizeof b, NULL));
    ck_assert_str_eq(a, b);
    /* from a memory image too */
    size_t len;
    unsigned char *img = tu_read_file(path, &len);
    gan_model *mem = NULL;
    TU_OK(gan_model_load_memory(&mem, img, len));
    assert_models_equal(m, mem);
    free(img);
    /* and into an existing model of the same architecture */
    gan_model *fresh = from_arch(a);
    TU_OK(gan_model_load_weights(fresh, path));
    assert_models_equal(m, fresh);
    assert_same_forward(m, back, 0);
    assert_same_forward(m, back, 1);
    assert_same_forward(m, back, 1); /* running statistics moved alike */
    gan_model_free(fresh);
    gan_model_free(mem);
    gan_model_free(back);
    remove_tmpdir();
}

START_TEST(round_trip_dcgan28)
{
    gan_model *g, *d;
    TU_OK(gan_preset_create("dcgan28", 5, &g, &d));
    round_trip(g);
    round_trip(d);
    gan_model_free(g);
    gan_model_free(d);
}
END_TEST

START_TEST(round_trip_every_layer_kind)
{
    gan_model *m = from_arch(ALL_KINDS);
    ck_assert_int_eq(gan_model_layer_count(m), 12);
    round_trip(m);
    gan_model_free(m);
}
END_TEST

START_TEST(round_trip_model_without_layers)
{
    gan_model *m = from_arch("input 3 2\n");
    make_tmpdir();
    TU_OK(gan_model_save(m, tmp_path("e.safetensors")));
    gan_model *back = NULL;
    TU_OK(gan_model_load(&back, tmp_path("e.safetensors")));
    ck_assert_int_eq(gan_model_layer_count(back), 0);
    int nd;
    int64_t s[GAN_MAX_DIMS];
    TU_OK(gan_model_input_shape(back, &nd, s));
    ck_assert_int_eq(nd, 2);
    ck_assert_int_eq(s[1], 2);
    gan_model_free(back);
    gan_model_free(m);
    remove_tmpdir();
}
END_TEST

/* The written bytes follow the format the reference implementation writes. */
START_TEST(writer_layout)
{
    gan_model *m = from_arch(TORCH_MLP);
    make_tmpdir();
    const char *path = tmp_path("w.safetensors");
    TU_OK(gan_model_save(m, path));
    size_t len;
    unsigned char *b = tu_read_file(path, &len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | b[i];
    ck_assert_uint_eq((8 + n) % 8, 0);
    ck_assert(8 + n <= len);
    ck_assert_msg(memcmp(b + 8, "{\"__metadata__\":{", 17) == 0, "%.40s", b + 8);
    size_t end = 8 + n;
    while (b[end - 1] == ' ') end--;
    ck_assert_int_eq(b[end - 1], '}');
    /* counters (I64) come first in the data, then F32 tensors by name */
    ck_assert_msg(strstr((char *)b + 8, "\"1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}") != NULL,
                  "header: %.300s", b + 8);
    ck_assert_msg(strstr((char *)b + 8, "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[24],\"data_offsets\":[16,112]}") != NULL,
                  "header: %.300s", b + 8);
    /* 0.bias's values sit at data offset 16 */
    gan_tensor *bias;
    TU_OK(gan_model_tensor(m, 1, NULL, &bias, NULL));
    ck_assert(memcmp(b + 8 + n + 16, gan_tensor_cdata(bias), 24 * 4) == 0);
    free(b);

    gan_checkpoint *ck = NULL;
    TU_OK(gan_checkpoint_open(&ck, path));
    ck_assert_int_eq(gan_checkpoint_tensor_count(ck), 17);
    const char *name, *dtype;
    int nd;
    int64_t shape[GAN_CHECKPOINT_MAX_DIMS];
    TU_OK(gan_checkpoint_tensor(ck, 0, &name, &dtype, &nd, shape));
    ck_assert_str_eq(name, "0.bias");
    ck_assert_str_eq(dtype, "F32");
    ck_assert_int_eq(nd, 1);
    ck_assert_int_eq(shape[0], 24);
    TU_OK(gan_checkpoint_tensor(ck, 3, &name, &dtype, &nd, shape));
    ck_assert_str_eq(name, "1.num_batches_tracked");
    ck_assert_str_eq(dtype, "I64");
    ck_assert_int_eq(nd, 0);
    TU_STATUS(GAN_E_INVALID, gan_checkpoint_tensor(ck, 17, &name, NULL, NULL, NULL));
    TU_STATUS(GAN_E_INVALID, gan_checkpoint_tensor(ck, -1, &name, NULL, NULL, NULL));
    ck_assert_str_eq(gan_checkpoint_get(ck, "libgan.kind"), "model");
    ck_assert_str_eq(gan_checkpoint_get(ck, "libgan.format_version"), "1");
    ck_assert_str_eq(gan_checkpoint_get(ck, "libgan.version"), gan_version_string());
    char arch[1024];
    TU_OK(gan_model_arch_text(m, arch, sizeof arch, NULL));
    ck_assert_str_eq(gan_checkpoint_get(ck, "libgan.arch"), arch);
    ck_assert_ptr_null(gan_checkpoint_get(ck, "nope"));
    ck_assert_int_eq(gan_checkpoint_metadata_count(ck), 4);
    const char *k, *v;
    TU_OK(gan_checkpoint_metadata(ck, 0, &k, &v));
    ck_assert_str_eq(k, "libgan.arch");
    TU_STATUS(GAN_E_INVALID, gan_checkpoint_metadata(ck, 4, &k, &v));
    gan_checkpoint_close(ck);
    gan_checkpoint_close(NULL);
    gan_model_free(m);
    remove_tmpdir();
}
END_TEST

START_TEST(save_errors)
{
    gan_model *m = from_arch("input 2\ndense in=2 out=3\n");
    make_tmpdir();
    TU_STATUS(GAN_E_NULL, gan_model_save(NULL, tmp_path("x")));
    TU_STATUS(GAN_E_NULL, gan_model_save(m, NULL));
    TU_STATUS(GAN_E_IO, gan_model_save(m, tmp_path("no/such/dir/x.safetensors")));
    ck_assert_msg(strstr(gan_last_error(), "No such file") != NULL, "%s", gan_last_error());
    /* renaming over a directory fails: the temporary file is removed */
    ck_assert_int_eq(mkdir(tmp_path("adir"), 0700), 0);
    TU_STATUS(GAN_E_IO, gan_model_save(m, tmp_path("adir")));
    ck_assert_int_eq(count_files(".tmp-"), 0);
    gan_model *out = (gan_model *)1;
    TU_STATUS(GAN_E_NULL, gan_model_load(NULL, tmp_path("x")));
    TU_STATUS(GAN_E_NULL, gan_model_load(&out, NULL));
    ck_assert_ptr_null(out);
    TU_STATUS(GAN_E_IO, gan_model_load(&out, tmp_path("missing.safetensors")));
    TU_STATUS(GAN_E_IO, gan_model_load(&out, tmp_path("adir")));
    TU_STATUS(GAN_E_IO, gan_model_load_weights(m, "/dev/null"));
    TU_STATUS(GAN_E_NULL, gan_model_load_weights(NULL, tmp_path("x")));
    TU_STATUS(GAN_E_NULL, gan_model_load_memory(&out, NULL, 10));
    gan_trainer *t = (gan_trainer *)1;
    TU_STATUS(GAN_E_NULL, gan_trainer_save(NULL, tmp_path("x")));
    TU_STATUS(GAN_E_IO, gan_trainer_load(&t, tmp_path("missing")));
    ck_assert_ptr_null(t);
    gan_model_free(m);
    remove_tmpdir();
}
END_TEST

/* Saving over an existing file replaces it; a failed save leaves it. */
START_TEST(save_replaces_atomically)
{
    gan_model *m = from_arch("input 2\ndense in=2 out=3\n");
    make_tmpdir();
    const char *path = tmp_path("m.safetensors");
    TU_OK(gan_model_save(m, path));
    gan_tensor *w;
    TU_OK(gan_model_tensor(m, 0, NULL, &w, NULL));
    TU_OK(gan_tensor_fill(w, 0.25f));
    TU_OK(gan_model_save(m, path));
    gan_model *back = NULL;
    TU_OK(gan_model_load(&back, path));
    assert_models_equal(m, back);
    ck_assert_int_eq(count_files("m.safetensors"), 1);
    gan_model_free(back);
    gan_model_free(m);
    remove_tmpdir();
}
END_TEST

/* ------------------------------------------------------------------ PyTorch */
static void torch_case(const char *name, const char *arch, const int64_t *nbt_layers, int n_nbt)
{
    char file[128], key[64];
    snprintf(file, sizeof file, "ref/ckpt_torch_%s.safetensors", name);
    gan_model *m = from_arch(arch);
    TU_OK(gan_model_load_weights(m, tu_path(file)));
    for (int i = 0; i < n_nbt; i++)
        ck_assert_int_eq(gan_model_layer(m, (int)nbt_layers[i])->num_batches_tracked, 3);
    tu_ref *r = tu_ref_load("ckpt_torch.bin");
    snprintf(key, sizeof key, "%s.z", name);
    gan_tensor *z = tu_ref_get(r, key);
    const char *modes[2] = {"y_eval", "y_train"};
    for (int mode = 0; mode < 2; mode++) {
        snprintf(key, sizeof key, "%s.%s", name, modes[mode]);
        gan_tensor *want = tu_ref_get(r, key);
        const gan_tensor *y;
        TU_OK(gan_model_set_training(m, mode));
        TU_OK(gan_model_forward(m, z, &y));
        ck_assert_int_eq(gan_tensor_numel(y), gan_tensor_numel(want));
        double worst = 0;
        for (int64_t i = 0; i < gan_tensor_numel(y); i++) {
            double d = fabs((double)gan_tensor_cdata(y)[i] - gan_tensor_cdata(want)[i]);
            if (d > worst) worst = d;
        }
        ck_assert_msg(worst <= 1e-5, "%s: max |libgan - PyTorch| = %g", key, worst);
    }

    /* libgan writes it back: same tensors; GAN_CKPT_EXPORT_DIR keeps the file
     * for `gen_checkpoint.py --check` */
    make_tmpdir();
    const char *export_dir = getenv("GAN_CKPT_EXPORT_DIR");
    char out[512];
    snprintf(out, sizeof out, "%s/libgan_%s.safetensors", export_dir ? export_dir : tmpdir, name);
    gan_model *orig = from_arch(arch);
    TU_OK(gan_model_load_weights(orig, tu_path(file)));
    TU_OK(gan_model_save(orig, out));
    gan_model *back = NULL;
    TU_OK(gan_model_load(&back, out));
    assert_models_equal(orig, back);
    gan_model_free(back);
    gan_model_free(orig);
    remove_tmpdir();
    tu_ref_free(r);
    gan_model_free(m);
}

START_TEST(pytorch_dcgan28_generator)
{
    int64_t bn[2] = {1, 4};
    torch_case("g28", TORCH_G28, bn, 2);
}
END_TEST

START_TEST(pytorch_every_layer_kind)
{
    int64_t bn[2] = {1, 7};
    torch_case("mlp", TORCH_MLP, bn, 2);
}
END_TEST

START_TEST(pytorch_file_needs_a_model)
{
    gan_model *m = NULL;
    TU_STATUS(GAN_E_FORMAT, gan_model_load(&m, tu_path("ref/ckpt_torch_g28.safetensors")));
    ck_assert_msg(strstr(gan_last_error(), "gan_model_load_weights") != NULL, "%s",
                  gan_last_error());
    /* the wrong architecture: shapes or names do not match */
    gan_model *other = from_arch(TORCH_MLP);
    TU_STATUS(GAN_E_SHAPE, gan_model_load_weights(other, tu_path("ref/ckpt_torch_g28.safetensors")));
    gan_model_free(other);
    other = from_arch("input 16 1 1\nconv_transpose2d in=16 out=32 k=5 bias=0\nbatchnorm features=32\n"
                      "relu\nconv_transpose2d in=32 out=16 k=4 s=2 p=1 bias=0\nbatchnorm features=16\n"
                      "relu\nconv_transpose2d in=16 out=1 k=4 s=2 p=1 bias=0\ntanh\n");
    TU_STATUS(GAN_E_SHAPE, gan_model_load_weights(other, tu_path("ref/ckpt_torch_g28.safetensors")));
    ck_assert_msg(strstr(gan_last_error(), "0.weight") && strstr(gan_last_error(), "(16, 32, 7, 7)") &&
                      strstr(gan_last_error(), "(16, 32, 5, 5)"),
                  "%s", gan_last_error());
    gan_model_free(other);
}
END_TEST

/* ------------------------------------------------------------ architecture */
START_TEST(arch_text_api)
{
    gan_model *m = from_arch(
        "# a comment line\n"
        "\n"
        "input   4   # the noise\n"
        "dense out=6 in=4\n"            /* any order; bias defaults to 1 */
        "leaky_relu\n"                  /* slope defaults to 0.01 */
        "batchnorm features=6\n"
        "dense in=6 out=8 bias=0\r\n"
        "reshape 2 2 2\n"
        "conv2d in=2 out=3 k=2\n");     /* k=2 means 2x2, s=1 p=0 */
    size_t len = 0;
    TU_OK(gan_model_arch_text(m, NULL, 0, &len));
    char *buf = malloc(len + 1);
    TU_STATUS(GAN_E_INVALID, gan_model_arch_text(m, buf, len, NULL));
    TU_OK(gan_model_arch_text(m, buf, len + 1, NULL));
    ck_assert_str_eq(buf, "input 4\n"
                          "dense in=4 out=6 bias=1\n"
                          "leaky_relu slope=0.00999999978\n"
                          "batchnorm features=6 eps=1e-05 momentum=0.1\n"
                          "dense in=6 out=8 bias=0\n"
                          "reshape 2 2 2\n"
                          "conv2d in=2 out=3 k=2x2 s=1 p=0 bias=1\n");
    /* the canonical text builds the same model */
    gan_model *again = from_arch(buf);
    char *buf2 = malloc(len + 1);
    TU_OK(gan_model_arch_text(again, buf2, len + 1, NULL));
    ck_assert_str_eq(buf, buf2);
    free(buf);
    free(buf2);
    gan_model_free(again);
    gan_model_free(m);
    TU_STATUS(GAN_E_NULL, gan_model_arch_text(NULL, NULL, 0, NULL));
    TU_STATUS(GAN_E_NULL, gan_model_from_arch_text(NULL, "input 1\n"));
}
END_TEST

/* Syntax errors name the line; limits are enforced before allocation. */
START_TEST(arch_text_errors)
{
    static const struct {
        const char *text;
        gan_status status;
        const char *msg;
    } cases[] = {
        {"", GAN_E_FORMAT, "empty"},
        {"# nothing\n\n", GAN_E_FORMAT, "empty"},
        {"dense in=2 out=3\n", GAN_E_FORMAT, "line 1"},
        {"input\n", GAN_E_FORMAT, "line 1"},
        {"input 1 2 3 4\n", GAN_E_FORMAT, "1 to 3"},
        {"input 0\n", GAN_E_FORMAT, "bad size"},
        {"input -1\n", GAN_E_FORMAT, "bad size"},
        {"input 2\nconv3d in=1\n", GAN_E_FORMAT, "line 2: unknown layer kind 'conv3d'"},
        {"input 2\ndense in=2\n", GAN_E_FORMAT, "needs key 'out'"},
        {"input 2\ndense in=2 out=3 out=3\n", GAN_E_FORMAT, "twice"},
        {"input 2\ndense in=2 out=3 k=3\n", GAN_E_FORMAT, "no key 'k'"},
        {"input 2\ndense in=2 out\n", GAN_E_FORMAT, "key=value"},
        {"input 2\ndense in=2 out=x3\n", GAN_E_FORMAT, "bad value"},
        {"input 2\ndense in=2 out=+3\n", GAN_E_FORMAT, "bad value"},
        {"input 2\ndense in=2 out=3 bias=2\n", GAN_E_FORMAT, "bad value"},
        {"input 2\ndense in=2 out=99999999999999999999\n", GAN_E_FORMAT, "bad value"},
        {"input 2\nleaky_relu slope=nan\n", GAN_E_FORMAT, "bad value"},
        {"input 2\nleaky_relu slope=1e999\n", GAN_E_FORMAT, "bad value"},
        {"input 2\nleaky_relu slope=0.2x\n", GAN_E_FORMAT, "bad value"},
        {"input 1 4 4\nconv2d in=1 out=1 k=3y3\n", GAN_E_FORMAT, "k=3y3"},
        {"input 1 4 4\nconv2d in=1 out=1 k=3x\n", GAN_E_FORMAT, "k=3x"},
        {"input 1 4 4\nconv2d in=1 out=1 k=2000\n", GAN_E_FORMAT, "k=2000"},
        {"input 4\nreshape\n", GAN_E_FORMAT, "reshape"},
        {"input 4\nreshape 1 1 2 2\n", GAN_E_FORMAT, "reshape"},
        {"input 8192 8192 2\n", GAN_E_FORMAT, "2^26"},
        {"input 4096\ndense in=4096 out=16777216\n", GAN_E_FORMAT, "more than"},
        {"input 1 64 64\nconv_transpose2d in=1 out=1 k=1024 s=1024\n", GAN_E_FORMAT, "2^26"},
        /* the layers themselves refuse */
        {"input 3\ndense in=2 out=3\n", GAN_E_SHAPE, "line 2"},
        {"input 1 4 4\nconv2d in=1 out=1 k=5\n", GAN_E_SHAPE, "line 2"},
        {"input 4\nreshape 3\n", GAN_E_SHAPE, "line 2"},
        {"input 3\nbatchnorm features=3 eps=0\n", GAN_E_INVALID, "eps"},
        {"input 3\nbatchnorm features=3 momentum=1.5\n", GAN_E_INVALID, "momentum"},
        {"input 1 4 4\nconv_transpose2d in=1 out=1 k=3 s=2 op=2\n", GAN_E_INVALID, "line 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gan_model *m = (gan_model *)1;
        gan_status st = gan_model_from_arch_text(&m, cases[i].text);
        ck_assert_msg(st == cases[i].status, "case %zu (%s): %s, expected %s: %s", i,
                      cases[i].text, gan_status_string(st), gan_status_string(cases[i].status),
                      gan_last_error());
        ck_assert_ptr_null(m);
        ck_assert_msg(strstr(gan_last_error(), cases[i].msg) != NULL, "case %zu: message '%s' lacks '%s'",
                      i, gan_last_error(), cases[i].msg);
    }
    /* 4097 layers */
    size_t cap = 16 + 4097 * 5;
    char *big = malloc(cap);
    size_t at = (size_t)snprintf(big, cap, "input 2\n");
    for (int i = 0; i < 4097; i++) at += (size_t)snprintf(big + at, cap - at, "relu\n");
    gan_model *m = NULL;
    TU_STATUS(GAN_E_FORMAT, gan_model_from_arch_text(&m, big));
    ck_assert_msg(strstr(gan_last_error(), "4096") != NULL, "%s", gan_last_error());
    free(big);
}
END_TEST

/* Numbers are written and read with '.' whatever the process locale. */
START_TEST(arch_text_ignores_locale)
{
    const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "C.UTF-8"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (setlocale(LC_NUMERIC, names[i]) != NULL) break;
    gan_model *m = from_arch("input 3\nleaky_relu slope=0.5\nbatchnorm features=3 eps=0.001\n");
    char buf[256];
    TU_OK(gan_model_arch_text(m, buf, sizeof buf, NULL));
    ck_assert_msg(strstr(buf, "slope=0.5") && strstr(buf, "eps=0.001"), "%s", buf);
    setlocale(LC_NUMERIC, "C");
    gan_model_free(m);
}
END_TEST

/* -------------------------------------------------------------- the trainer */
static const char RES_G[] =
    "input 8 1 1\n"
    "conv_transpose2d in=8 out=16 k=4 s=1 p=0 bias=0\n"
    "batchnorm features=16\n"
    "relu\n"
    "conv_transpose2d in=16 out=1 k=4 s=2 p=1 bias=0\n"
    "tanh\n";
static const char RES_D[] =
    "input 1 8 8\n"
    "conv2d in=1 out=16 k=4 s=2 p=1 bias=0\n"
    "leaky_relu slope=0.2\n"
    "conv2d in=16 out=16 k=4 s=2 p=1 bias=0\n"
    "batchnorm features=16\n"
    "leaky_relu slope=0.2\n"
    "flatten\n"
    "dense in=64 out=1\n";

static gan_trainer *resume_trainer(int variant)
{
    gan_model *g = from_arch(RES_G), *d = from_arch(RES_D);
    gan_rng *r = NULL;
    TU_OK(gan_rng_create(&r, 11));
    TU_OK(gan_model_init(g, GAN_INIT_DCGAN, r));
    TU_OK(gan_model_init(d, GAN_INIT_DCGAN, r));
    gan_rng_free(r);
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    cfg.seed = 77;
    if (variant == 1) {
        cfg.loss = GAN_LOSS_WGAN;
        cfg.noise = GAN_NOISE_UNIFORM;
        cfg.n_critic = 2;
        cfg.clip = 0.05f;
        cfg.opt_d.kind = GAN_OPTIM_SGD;
        cfg.opt_d.lr = 0.01f;
        cfg.opt_d.momentum = 0.9f;
        cfg.opt_d.weight_decay = 1e-4f;
        cfg.opt_g.weight_decay = 3e-5f;
    } else if (variant == 2) {
        cfg.loss = GAN_LOSS_LSGAN;
        cfg.real_label = 0.9f;
        cfg.opt_g.kind = GAN_OPTIM_SGD; /* plain SGD: no state at all */
        cfg.opt_g.lr = 0.003f;
    }
    gan_trainer *t = NULL;
    TU_OK(gan_trainer_create(&t, g, d, &cfg));
    if (variant == 1) TU_OK(gan_optimizer_set_lr(gan_trainer_optimizer(t, 0), 1.5e-4f));
    return t;
}

/* Steps from..to-1 with batches that depend only on the step index. */
static void train(gan_trainer *t, int from, int to)
{
    int64_t shape[4] = {6, 1, 8, 8};
    gan_tensor *real = NULL;
    TU_OK(gan_tensor_create(&real, 4, shape));
    for (int s = from; s < to; s++) {
        gan_rng *r = NULL;
        TU_OK(gan_rng_create(&r, 1000 + (uint64_t)s));
        TU_OK(gan_rng_fill_uniform(r, real, -1.0f, 1.0f));
        gan_rng_free(r);
        TU_OK(gan_train_step(t, real, NULL));
        if (s == 2) TU_OK(gan_trainer_set_epoch(t, 1));
    }
    gan_tensor_free(real);
}

static void assert_optimizers_equal(gan_optimizer *a, gan_optimizer *b)
{
    float *ma, *va, *mb, *vb;
    int64_t na, nb, sa, sb;
    TU_OK(gan_optimizer_state(a, &ma, &va, &na, &sa));
    TU_OK(gan_optimizer_state(b, &mb, &vb, &nb, &sb));
    ck_assert_int_eq(na, nb);
    ck_assert_int_eq(sa, sb);
    ck_assert_int_eq(ma == NULL, mb == NULL);
    ck_assert_int_eq(va == NULL, vb == NULL);
    if (ma) ck_assert_msg(memcmp(ma, mb, (size_t)na * 4) == 0, "first moments differ");
    if (va) ck_assert_msg(memcmp(va, vb, (size_t)na * 4) == 0, "second moments differ");
    ck_assert_mem_eq(gan_optimizer_config(a), gan_optimizer_config(b), sizeof(gan_optim_config));
}

static void assert_trainers_equal(gan_trainer *a, gan_trainer *b)
{
    assert_models_equal(gan_trainer_generator(a), gan_trainer_generator(b));
    assert_models_equal(gan_trainer_discriminator(a), gan_trainer_discriminator(b));
    assert_optimizers_equal(gan_trainer_optimizer(a, 0), gan_trainer_optimizer(b, 0));
    assert_optimizers_equal(gan_trainer_optimizer(a, 1), gan_trainer_optimizer(b, 1));
    ck_assert_int_eq(gan_trainer_step_count(a), gan_trainer_step_count(b));
    ck_assert_int_eq(gan_trainer_epoch(a), gan_trainer_epoch(b));
    uint64_t ra[GAN_RNG_STATE_WORDS], rb[GAN_RNG_STATE_WORDS];
    TU_OK(gan_rng_get_state(gan_trainer_rng(a), ra));
    TU_OK(gan_rng_get_state(gan_trainer_rng(b), rb));
    ck_assert_mem_eq(ra, rb, sizeof ra);
    const gan_trainer_config *ca = gan_trainer_get_config(a), *cb = gan_trainer_get_config(b);
    ck_assert_int_eq(ca->loss, cb->loss);
    ck_assert_int_eq(ca->noise, cb->noise);
    ck_assert_int_eq(ca->n_critic, cb->n_critic);
    ck_assert(ca->clip == cb->clip && ca->real_label == cb->real_label && ca->seed == cb->seed);
}

/* Train N steps straight, or k steps, save, and N-k more in a new process
 * that knows only the file: bitwise the same. */
static void resume_case(int variant)
{
    const int n = 7, k = 3;
    make_tmpdir();
    gan_trainer *straight = resume_trainer(variant);
    train(straight, 0, n);

    gan_trainer *first = resume_trainer(variant);
    train(first, 0, k);
    TU_OK(gan_trainer_save(first, tmp_path("k.safetensors")));
    gan_trainer_free(first);

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        gan_trainer *t = NULL;
        int ok = gan_trainer_load(&t, tmp_path("k.safetensors")) == GAN_OK;
        int64_t shape[4] = {6, 1, 8, 8};
        gan_tensor *real = NULL;
        ok = ok && gan_tensor_create(&real, 4, shape) == GAN_OK;
        for (int s = k; ok && s < n; s++) {
            gan_rng *r = NULL;
            gan_rng_create(&r, 1000 + (uint64_t)s);
            gan_rng_fill_uniform(r, real, -1.0f, 1.0f);
            gan_rng_free(r);
            ok = gan_train_step(t, real, NULL) == GAN_OK;
        }
        ok = ok && gan_trainer_save(t, tmp_path("n.safetensors")) == GAN_OK;
        if (!ok) fprintf(stderr, "resume child: %s\n", gan_last_error());
        _exit(ok ? 0 : 1);
    }
    int wst;
    ck_assert_int_eq(waitpid(pid, &wst, 0), pid);
    ck_assert_msg(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "the resuming process failed");
    gan_trainer *resumed = NULL;
    TU_OK(gan_trainer_load(&resumed, tmp_path("n.safetensors")));
    assert_trainers_equal(straight, resumed);
    ck_assert_int_eq(gan_trainer_step_count(resumed), n);
    ck_assert_int_eq(gan_trainer_epoch(resumed), 1);

    /* and both keep going identically */
    train(straight, n, n + 2);
    train(resumed, n, n + 2);
    assert_trainers_equal(straight, resumed);
    gan_trainer_free(resumed);
    gan_trainer_free(straight);
    remove_tmpdir();
}

START_TEST(resume_is_bitwise_adam)
{
    resume_case(0);
}
END_TEST

START_TEST(resume_is_bitwise_sgd_wgan_ncritic)
{
    resume_case(1);
}
END_TEST

START_TEST(resume_is_bitwise_lsgan_plain_sgd)
{
    resume_case(2);
}
END_TEST

START_TEST(trainer_file_contents)
{
    make_tmpdir();
    gan_trainer *t = resume_trainer(1);
    train(t, 0, 3);
    const char *path = tmp_path("t.safetensors");
    TU_OK(gan_trainer_save(t, path));
    gan_checkpoint *ck = NULL;
    TU_OK(gan_checkpoint_open(&ck, path));
    ck_assert_str_eq(gan_checkpoint_get(ck, "libgan.kind"), "trainer");
    ck_assert_str_eq(gan_checkpoint_get(ck, "libgan.G.arch"),
                     "input 8 1 1\n"
                     "conv_transpose2d in=8 out=16 k=4x4 s=1 p=0 op=0 bias=0\n"
                     "batchnorm features=16 eps=1e-05 momentum=0.1\n"
                     "relu\n"
                     "conv_transpose2d in=16 out=1 k=4x4 s=2 p=1 op=0 bias=0\n"
                     "tanh\n");
    ck_assert_str_eq(gan_checkpoint_get(ck, "libgan.trainer"),
                     "loss=wgan noise=uniform n_critic=2 clip=0.05 real_label=1 seed=77");
    ck_assert_str_eq(gan_checkpoint_get(ck, "libgan.optG"),
                     "kind=adam lr=0.00015 beta1=0.5 beta2=0.999 eps=1e-08 momentum=0 weight_decay=3e-05");
    ck_assert_str_eq(gan_checkpoint_get(ck, "libgan.optD"),
                     "kind=sgd lr=0.01 beta1=0.5 beta2=0.999 eps=1e-08 momentum=0.9 weight_decay=0.0001");
    ck_assert_str_eq(gan_checkpoint_get(ck, "libgan.step"), "3");
    ck_assert_str_eq(gan_checkpoint_get(ck, "libgan.optD.step"), "3");
    ck_assert_str_eq(gan_checkpoint_get(ck, "libgan.optG.step"), "1");
    ck_assert_str_eq(gan_checkpoint_get(ck, "libgan.epoch"), "1");
    ck_assert_int_eq(strlen(gan_checkpoint_get(ck, "libgan.rng")), 5 * 17 - 1);
    /* G: 2 weights + BN (4 + counter); D: 2 conv + BN (4 + counter) + dense 2;
     * optG Adam: 2 x 4 trainable; optD SGD momentum: 6 trainable */
    ck_assert_int_eq(gan_checkpoint_tensor_count(ck), 7 + 9 + 8 + 6);
    int found = 0;
    for (int i = 0; i < gan_checkpoint_tensor_count(ck); i++) {
        const char *name;
        TU_OK(gan_checkpoint_tensor(ck, i, &name, NULL, NULL, NULL));
        found += strcmp(name, "optG.exp_avg_sq.1.weight") == 0 ||
                 strcmp(name, "optD.momentum_buffer.6.bias") == 0 ||
                 strcmp(name, "D.3.num_batches_tracked") == 0 || strcmp(name, "G.1.running_var") == 0;
    }
    ck_assert_int_eq(found, 4);
    gan_checkpoint_close(ck);

    /* kinds are not interchangeable */
    gan_model *m = NULL;
    TU_STATUS(GAN_E_FORMAT, gan_model_load(&m, path));
    ck_assert_msg(strstr(gan_last_error(), "libgan.kind") != NULL, "%s", gan_last_error());
    m = from_arch(RES_G);
    TU_STATUS(GAN_E_FORMAT, gan_model_load_weights(m, path));
    ck_assert_msg(strstr(gan_last_error(), "gan_trainer_load") != NULL, "%s", gan_last_error());
    TU_OK(gan_model_save(m, tmp_path("m.safetensors")));
    gan_trainer *t2 = NULL;
    TU_STATUS(GAN_E_FORMAT, gan_trainer_load(&t2, tmp_path("m.safetensors")));
    ck_assert_ptr_null(t2);
    gan_model_free(m);

    gan_trainer_free(t);
    remove_tmpdir();
}
END_TEST

/* ------------------------------------------------------- kill during save */
/* A child saves versions 1, 2, 3, ... of a 1 MiB model over one file as
 * fast as it can and is SIGKILLed at a random moment; the file must then
 * hold one complete version, never older than the last one seen. */
START_TEST(kill_during_save)
{
    make_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s", tmp_path("live.safetensors"));
    gan_model *m = from_arch("input 512\ndense in=512 out=512 bias=1\n");
    TU_OK(gan_model_save(m, path));
    int64_t n = 0;
    float *p = gan_model_params(m, &n);
    srand(12345);
    float last = 0.0f;
    int mid_save = 0;
    for (int round = 0; round < 8; round++) {
        int ready[2];
        ck_assert_int_eq(pipe(ready), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(ready[0]);
            for (float v = last + 1.0f;; v += 1.0f) {
                for (int64_t i = 0; i < n; i++) p[i] = v;
                if (v == last + 1.0f) {
                    if (write(ready[1], "x", 1) != 1) _exit(1);
                }
                if (gan_model_save(m, path) != GAN_OK) _exit(1);
            }
        }
        close(ready[1]);
        char c;
        ck_assert_int_eq(read(ready[0], &c, 1), 1);
        close(ready[0]);
        usleep((useconds_t)(rand() % 40000));
        kill(pid, SIGKILL);
        int wst;
        ck_assert_int_eq(waitpid(pid, &wst, 0), pid);
        ck_assert_msg(WIFSIGNALED(wst), "the saving child stopped by itself");
        if (count_files(".tmp-") > 0) { /* the kill hit a save in progress */
            mid_save++;
            DIR *dir = opendir(tmpdir);
            struct dirent *e;
            while ((e = readdir(dir)) != NULL)
                if (strstr(e->d_name, ".tmp-") != NULL) unlink(tmp_path(e->d_name));
            closedir(dir);
        }

        gan_model *back = NULL;
        TU_OK(gan_model_load(&back, path));
        int64_t nb;
        const float *q = gan_model_params(back, &nb);
        ck_assert_int_eq(nb, n);
        for (int64_t i = 1; i < nb; i++)
            ck_assert_msg(q[i] == q[0], "torn file: element %lld is %g, element 0 is %g",
                          (long long)i, (double)q[i], (double)q[0]);
        ck_assert_msg(q[0] >= last, "version went back from %g to %g", (double)last, (double)q[0]);
        last = q[0];
        gan_model_free(back);
    }
    if (getenv("GAN_TEST_VERBOSE"))
        fprintf(stderr, "kill_during_save: %d of 8 kills hit a save in progress\n", mid_save);
    gan_model_free(m);
    remove_tmpdir();
}
END_TEST

/* ------------------------------------------------------------ hostile files */
/* The target of the hostile cases: "input 2 / dense in=2 out=3": tensors
 * 0.weight (3, 2) at [0, 24) and 0.bias (3) at [24, 36). */
#define META_OK "\"__metadata__\":{\"libgan.format_version\":\"1\",\"libgan.kind\":\"model\"," \
                "\"libgan.arch\":\"input 2\\ndense in=2 out=3\\n\"}"
#define WT_OK "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}"
#define B_OK "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}"

static float hostile_data[16] = {0.5f, -1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* Loading `path` into the target model fails with `status` (and a message
 * containing `msg`) and leaves the model exactly as it was. */
static void expect_weights(const char *path, gan_status status, const char *msg)
{
    gan_model *m = from_arch("input 2\ndense in=2 out=3\n");
    snap before = take_snap(m);
    gan_status st = gan_model_load_weights(m, path);
    ck_assert_msg(st == status, "load_weights: %s, expected %s (%s)", gan_status_string(st),
                  gan_status_string(status), gan_last_error());
    ck_assert_msg(strstr(gan_last_error(), msg) != NULL, "message '%s' lacks '%s'",
                  gan_last_error(), msg);
    snap after = take_snap(m);
    assert_snap_eq("model after a failed load", before, after);
    free(before.bytes);
    free(after.bytes);
    gan_model_free(m);
}

/* gan_model_load of `path` fails with `status`. */
static void expect_load(const char *path, gan_status status, const char *msg)
{
    gan_model *m = (gan_model *)1;
    gan_status st = gan_model_load(&m, path);
    ck_assert_msg(st == status, "load: %s, expected %s (%s)", gan_status_string(st),
                  gan_status_string(status), gan_last_error());
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(gan_last_error(), msg) != NULL, "message '%s' lacks '%s'",
                  gan_last_error(), msg);
}

static void hostile(const char *json, size_t data_len, gan_status status, const char *msg)
{
    make_tmpdir();
    const char *path = tmp_path("h.safetensors");
    write_st(path, json, hostile_data, data_len);
    expect_weights(path, status, msg);
    remove_tmpdir();
}

START_TEST(hostile_valid_baseline)
{
    /* the base files do load: so each case below fails for its one flaw */
    make_tmpdir();
    const char *path = tmp_path("ok.safetensors");
    write_st(path, "{" WT_OK "," B_OK "}", hostile_data, 36);
    gan_model *m = from_arch("input 2\ndense in=2 out=3\n");
    TU_OK(gan_model_load_weights(m, path));
    gan_tensor *w;
    TU_OK(gan_model_tensor(m, 0, NULL, &w, NULL));
    ck_assert(gan_tensor_cdata(w)[1] == -1.0f);
    gan_model_free(m);
    write_st(path, "{" META_OK "," WT_OK "," B_OK "}", hostile_data, 36);
    TU_OK(gan_model_load(&m, path));
    gan_model_free(m);
    remove_tmpdir();
}
END_TEST

START_TEST(hostile_truncated)
{
    make_tmpdir();
    const char *path = tmp_path("t.safetensors");
    write_all(path, "", 0);
    expect_weights(path, GAN_E_FORMAT, "too short");
    write_all(path, "\x10\0\0\0\0", 5);
    expect_weights(path, GAN_E_FORMAT, "too short");
    /* a complete file cut at every length */
    write_st(path, "{" META_OK "," WT_OK "," B_OK "}", hostile_data, 36);
    size_t len;
    unsigned char *full = tu_read_file(path, &len);
    for (size_t cut = 0; cut < len; cut += (cut < 16 || cut > len - 40) ? 1 : 7) {
        write_all(path, full, cut);
        gan_model *m = (gan_model *)1;
        TU_STATUS(GAN_E_FORMAT, gan_model_load(&m, path));
        ck_assert_ptr_null(m);
        expect_weights(path, GAN_E_FORMAT, "");
    }
    /* data shorter than the header says */
    write_st(path, "{" WT_OK "," B_OK "}", hostile_data, 20);
    expect_weights(path, GAN_E_FORMAT, "out of range");
    free(full);
    remove_tmpdir();
}
END_TEST

START_TEST(hostile_header_length)
{
    make_tmpdir();
    const char *path = tmp_path("l.safetensors");
    const char *json = "{" WT_OK "," B_OK "}";
    write_st_raw(path, json, strlen(json) + 37, hostile_data, 36); /* one byte beyond */
    expect_weights(path, GAN_E_FORMAT, "beyond the end");
    write_st_raw(path, json, UINT64_MAX - 3, hostile_data, 36);
    expect_weights(path, GAN_E_FORMAT, "limit");
    write_st_raw(path, json, ((uint64_t)16 << 20) + 1, hostile_data, 36);
    expect_weights(path, GAN_E_FORMAT, "limit");
    write_st_raw(path, json, 1, hostile_data, 36);
    expect_weights(path, GAN_E_FORMAT, "too short");
    /* a header length inside the header: the JSON is cut */
    write_st_raw(path, json, 20, hostile_data, 36);
    expect_weights(path, GAN_E_FORMAT, "JSON");
    remove_tmpdir();
}
END_TEST

START_TEST(hostile_invalid_json)
{
    hostile("{\"0.weight\":{\"dtype\":\"F32\",", 36, GAN_E_FORMAT, "not valid JSON");
    hostile("{" WT_OK "," B_OK "}garbage", 36, GAN_E_FORMAT, "not valid JSON");
    hostile("[1,2,3]", 36, GAN_E_FORMAT, "not a JSON object");
    hostile("\"just a string\"", 36, GAN_E_FORMAT, "not valid JSON");
    hostile("{\"0.w\xff\xfe\":{}}", 36, GAN_E_FORMAT, "not valid JSON");    /* not UTF-8 */
    hostile("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]},\"0.bias\":5}",
            36, GAN_E_FORMAT, "not a JSON object");
    hostile("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2]}," B_OK "}", 36, GAN_E_FORMAT,
            "data_offsets");
    /* deep nesting is refused by the parser, not by the stack */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 3);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    hostile(deep, 0, GAN_E_FORMAT, "JSON");
    free(deep);
}
END_TEST

START_TEST(hostile_unknown_dtype)
{
    hostile("{\"0.weight\":{\"dtype\":\"F33\",\"shape\":[3,2],\"data_offsets\":[0,24]}," B_OK "}", 36,
            GAN_E_FORMAT, "unknown dtype 'F33'");
    hostile("{\"0.weight\":{\"dtype\":7,\"shape\":[3,2],\"data_offsets\":[0,24]}," B_OK "}", 36,
            GAN_E_FORMAT, "dtype");
    /* known, but not what libgan loads */
    hostile("{\"0.weight\":{\"dtype\":\"F16\",\"shape\":[3,2],\"data_offsets\":[0,12]},"
            "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[12,24]}}",
            24, GAN_E_UNSUPPORTED, "F16");
}
END_TEST

START_TEST(hostile_offsets)
{
    /* out of range */
    hostile("{" WT_OK ",\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,4000000000000]}}",
            36, GAN_E_FORMAT, "out of range");
    /* begin > end */
    hostile("{" WT_OK ",\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[36,24]}}", 36,
            GAN_E_FORMAT, "out of range");
    /* overlapping */
    hostile("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]},"
            "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[20,32]}}",
            32, GAN_E_FORMAT, "overlaps");
    /* a gap */
    hostile("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]},"
            "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[28,40]}}",
            40, GAN_E_FORMAT, "gap");
    /* not covering the data: bytes left over */
    hostile("{" WT_OK "," B_OK "}", 44, GAN_E_FORMAT, "cover 36 bytes but the data section holds 44");
    /* size not matching the shape */
    hostile("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,28]},"
            "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[28,40]}}",
            40, GAN_E_FORMAT, "hold 28 bytes");
    hostile("{" WT_OK ",\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,-12]}}", 36,
            GAN_E_FORMAT, "data_offsets");
    hostile("{" WT_OK ",\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36,48]}}", 36,
            GAN_E_FORMAT, "data_offsets");
    hostile("{" WT_OK ",\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24.0,36]}}", 36,
            GAN_E_FORMAT, "data_offsets");
    hostile("{" WT_OK ",\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,99999999999999999999999]}}",
            36, GAN_E_FORMAT, "JSON");
}
END_TEST

START_TEST(hostile_shape_overflow)
{
    hostile("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}," B_OK "}",
            36, GAN_E_FORMAT, "overflows");
    hostile("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3037000500,3037000500],\"data_offsets\":[0,0]}," B_OK "}",
            36, GAN_E_FORMAT, "overflows");
    hostile("{\"0.weight\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]}," B_OK "}",
            36, GAN_E_FORMAT, "overflows");
    hostile("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,-2],\"data_offsets\":[0,24]}," B_OK "}", 36,
            GAN_E_FORMAT, "shape[1]");
    hostile("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
            GAN_E_FORMAT, "9 dimensions");
    hostile("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":\"3x2\",\"data_offsets\":[0,24]}," B_OK "}", 36,
            GAN_E_FORMAT, "shape");
}
END_TEST

START_TEST(hostile_names)
{
    /* the same name twice (the JSON parser refuses duplicate keys) */
    hostile("{" WT_OK "," B_OK ",\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[36,48]}}",
            48, GAN_E_FORMAT, "twice");
    /* missing */
    hostile("{" WT_OK "}", 24, GAN_E_FORMAT, "'0.bias' is missing");
    /* unexpected */
    hostile("{" WT_OK "," B_OK ",\"1.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[36,40]}}",
            40, GAN_E_FORMAT, "'1.weight' has no counterpart");
    /* a name that differs only by a prefix (pytorch/examples' "main.") */
    hostile("{\"main.0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]},"
            "\"main.0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}}",
            36, GAN_E_FORMAT, "missing");
}
END_TEST

START_TEST(hostile_shape_mismatch)
{
    hostile("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}," B_OK "}", 36,
            GAN_E_SHAPE, "'0.weight' is (2, 3) in the file, the model has (3, 2)");
    hostile("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,24]}," B_OK "}", 36,
            GAN_E_SHAPE, "(6)");
    hostile("{" WT_OK ",\"0.bias\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[24,28]}}", 28,
            GAN_E_SHAPE, "0.bias");
}
END_TEST

START_TEST(hostile_values)
{
    float bad[9];
    memcpy(bad, hostile_data, sizeof bad);
    bad[4] = NAN;
    make_tmpdir();
    const char *path = tmp_path("v.safetensors");
    write_st(path, "{" WT_OK "," B_OK "}", bad, 36);
    expect_weights(path, GAN_E_NUMERIC, "'0.weight' element 4");
    bad[4] = 1.0f;
    bad[7] = INFINITY;
    write_st(path, "{" WT_OK "," B_OK "}", bad, 36);
    expect_weights(path, GAN_E_NUMERIC, "'0.bias' element 1");
    /* batchnorm: a negative variance or counter */
    gan_model *m = from_arch("input 2\nbatchnorm features=2\n");
    float v[8] = {1, 1, 0, 0, 0, 0, 1, -0.5f};
    int64_t nbt = 5;
    unsigned char data[40];
    memcpy(data, &nbt, 8);
    memcpy(data + 8, v, 32);
    const char *bn =
        "{\"0.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
        "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
        "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]},"
        "\"0.running_mean\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]},"
        "\"0.running_var\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[32,40]}}";
    write_st(path, bn, data, 40);
    TU_STATUS(GAN_E_FORMAT, gan_model_load_weights(m, path));
    ck_assert_msg(strstr(gan_last_error(), "running_var") != NULL, "%s", gan_last_error());
    v[7] = 0.5f;
    nbt = -1;
    memcpy(data, &nbt, 8);
    memcpy(data + 8, v, 32);
    write_st(path, bn, data, 40);
    TU_STATUS(GAN_E_FORMAT, gan_model_load_weights(m, path));
    ck_assert_msg(strstr(gan_last_error(), "count") != NULL, "%s", gan_last_error());
    /* the counter as F32 is not a counter */
    write_st(path,
             "{\"0.num_batches_tracked\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
             "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
             "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]},"
             "\"0.running_mean\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[20,28]},"
             "\"0.running_var\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[28,36]}}",
             hostile_data, 36);
    TU_STATUS(GAN_E_UNSUPPORTED, gan_model_load_weights(m, path));
    /* without a counter (old PyTorch files) it becomes 0 */
    nbt = 5;
    memcpy(data, &nbt, 8);
    write_st(path, bn, data, 40);
    TU_OK(gan_model_load_weights(m, path));
    ck_assert_int_eq(gan_model_layer(m, 0)->num_batches_tracked, 5);
    write_st(path,
             "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
             "\"0.running_mean\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]},"
             "\"0.running_var\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]}}",
             data + 8, 32);
    TU_OK(gan_model_load_weights(m, path));
    ck_assert_int_eq(gan_model_layer(m, 0)->num_batches_tracked, 0);
    gan_model_free(m);
    remove_tmpdir();
}
END_TEST

START_TEST(hostile_metadata)
{
    make_tmpdir();
    const char *path = tmp_path("m.safetensors");
    struct {
        const char *meta;
        gan_status status;
        const char *msg;
    } cases[] = {
        {"", GAN_E_FORMAT, "no libgan.format_version"},
        {"\"__metadata__\":[1],", GAN_E_FORMAT, "__metadata__ is not a JSON object"},
        {"\"__metadata__\":{\"libgan.format_version\":1},", GAN_E_FORMAT, "not a string"},
        {"\"__metadata__\":{\"libgan.format_version\":\"one\"},", GAN_E_FORMAT, "version number"},
        {"\"__metadata__\":{\"libgan.format_version\":\"2\",\"libgan.kind\":\"model\"},",
         GAN_E_UNSUPPORTED, "newer"},
        {"\"__metadata__\":{\"libgan.format_version\":\"1\"},", GAN_E_FORMAT, "libgan.kind"},
        {"\"__metadata__\":{\"libgan.format_version\":\"1\",\"libgan.kind\":\"model\"},",
         GAN_E_FORMAT, "'libgan.arch' (the architecture) is missing"},
        {"\"__metadata__\":{\"libgan.format_version\":\"1\",\"libgan.kind\":\"model\","
         "\"libgan.arch\":\"input 2\\ndense in=2 ot=3\\n\"},",
         GAN_E_FORMAT, "line 2"},
        /* the architecture does not match the tensors */
        {"\"__metadata__\":{\"libgan.format_version\":\"1\",\"libgan.kind\":\"model\","
         "\"libgan.arch\":\"input 3\\ndense in=3 out=2\\n\"},",
         GAN_E_SHAPE, "0.weight"},
        {"\"__metadata__\":{\"libgan.format_version\":\"1\",\"libgan.kind\":\"model\","
         "\"libgan.arch\":\"input 3\\ndense in=2 out=3\\n\"},",
         GAN_E_FORMAT, "line 2"},
        /* an architecture bigger than the file: refused before allocating */
        {"\"__metadata__\":{\"libgan.format_version\":\"1\",\"libgan.kind\":\"model\","
         "\"libgan.arch\":\"input 4096\\ndense in=4096 out=4096\\n\"},",
         GAN_E_FORMAT, "more than the 36 available"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[1024];
        snprintf(json, sizeof json, "{%s" WT_OK "," B_OK "}", cases[i].meta);
        write_st(path, json, hostile_data, 36);
        expect_load(path, cases[i].status, cases[i].msg);
    }
    remove_tmpdir();
}
END_TEST

/* A trainer file whose metadata is damaged in one place at a time. */
START_TEST(hostile_trainer_metadata)
{
    make_tmpdir();
    gan_trainer *t = resume_trainer(0);
    const char *path = tmp_path("t.safetensors");
    TU_OK(gan_trainer_save(t, path));
    gan_trainer_free(t);
    size_t len;
    unsigned char *orig = tu_read_file(path, &len);
    static const struct {
        const char *from, *to, *msg;
    } edits[] = {
        {"\"libgan.trainer\":\"loss=nonsat", "\"libgan.trainer\":\"loss=nonzat", "'loss'"},
        {"n_critic=1", "n_critic=0", "n_critic"},
        {"n_critic=1", "x_critic=1", "'n_critic' is missing"},
        {"real_label=1", "real_label=2", "real_label"},
        {"seed=77", "seed=7x", "'seed'"},
        {"kind=adam lr=0.0002", "kind=adam lr=-.0002", "lr"},
        {"kind=adam lr=0.0002", "kind=adam lr=0.000z", "'lr'"},
        {"kind=adam", "kind=rmsp", "'kind'"},
        {"\"libgan.step\":\"0\"", "\"libgan.step\":\"x\"", "libgan.step"},
        {"\"libgan.epoch\"", "\"libgan.epoxh\"", "'libgan.epoch' is missing"},
        {"\"libgan.kind\":\"trainer\"", "\"libgan.kind\":\"trainex\"", "libgan.kind"},
        {"in=1 out=16 k=4x4", "in=2 out=16 k=4x4", "libgan.D.arch"},
        {"\"optG.exp_avg_sq.0.weight\"", "\"optG.exp_avg_sq.0.weigh0\"", "missing"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        unsigned char *b = malloc(len);
        memcpy(b, orig, len);
        char *at = memmem(b, len, edits[i].from, strlen(edits[i].from));
        ck_assert_msg(at != NULL, "edit %zu: '%s' not in the file", i, edits[i].from);
        ck_assert_int_eq(strlen(edits[i].from), strlen(edits[i].to));
        memcpy(at, edits[i].to, strlen(edits[i].to));
        write_all(path, b, len);
        gan_trainer *t2 = (gan_trainer *)1;
        gan_status st = gan_trainer_load(&t2, path);
        ck_assert_msg(st == GAN_E_FORMAT, "edit %zu: %s (%s)", i, gan_status_string(st),
                      gan_last_error());
        ck_assert_ptr_null(t2);
        ck_assert_msg(strstr(gan_last_error(), edits[i].msg) != NULL, "edit %zu: '%s' lacks '%s'",
                      i, gan_last_error(), edits[i].msg);
        /* the same image from memory */
        TU_STATUS(GAN_E_FORMAT, gan_trainer_load_memory(&t2, b, len));
        free(b);
    }
    /* RNG words: not hex, upper case, a separator missing, the all-zero state */
    gan_trainer *t2 = NULL;
    for (int e = 0; e < 4; e++) {
        unsigned char *b = malloc(len);
        memcpy(b, orig, len);
        char *at = memmem(b, len, "\"libgan.rng\":\"", 14);
        ck_assert_ptr_nonnull(at);
        at += 14;
        if (e == 0) at[3] = 'g';
        if (e == 1) at[17] = 'A';
        if (e == 2) at[16] = '0';
        for (int w = 0; e == 3 && w < 5; w++) memcpy(at + 17 * w, "0000000000000000", 16);
        write_all(path, b, len);
        TU_STATUS(GAN_E_FORMAT, gan_trainer_load(&t2, path));
        ck_assert_msg(strstr(gan_last_error(), "libgan.rng") != NULL, "%s", gan_last_error());
        free(b);
    }
    /* and the untouched image loads */
    TU_OK(gan_trainer_load_memory(&t2, orig, len));
    gan_trainer_free(t2);
    free(orig);
    remove_tmpdir();
}
END_TEST

/* ------------------------------------------------------- out of memory */
static long oom_fail_at = -1, oom_count, oom_live;

static void *oom_alloc(void *user, size_t n)
{
    (void)user;
    if (oom_count++ == oom_fail_at) return NULL;
    oom_live++;
    return malloc(n);
}

static void oom_free(void *user, void *p)
{
    (void)user;
    if (p != NULL) oom_live--;
    free(p);
}

/* Refuse each allocation of `call` in turn: every failure is GAN_E_NOMEM
 * and leaks nothing; returns once the call succeeds. */
#define EVERY_ALLOCATION_FAILS(call, cleanup)                                            \
    for (long k_ = 0;; k_++) {                                                           \
        long live_ = oom_live;                                                           \
        oom_fail_at = oom_count + k_;                                                    \
        gan_status st_ = (call);                                                         \
        oom_fail_at = -1;                                                                \
        if (st_ == GAN_OK) {                                                             \
            cleanup;                                                                     \
            break;                                                                       \
        }                                                                                \
        ck_assert_msg(st_ == GAN_E_NOMEM, "%s with allocation %ld refused: %s (%s)", #call, \
                      k_, gan_status_string(st_), gan_last_error());                     \
        ck_assert_msg(oom_live == live_, "%s with allocation %ld refused leaks %ld blocks", \
                      #call, k_, oom_live - live_);                                      \
        ck_assert_int_lt(k_, 100000);                                                    \
    }

START_TEST(out_of_memory_everywhere)
{
    gan_allocator a = {oom_alloc, oom_free, NULL};
    TU_OK(gan_set_allocator(&a));
    make_tmpdir();
    const char *mp = tmp_path("m.safetensors"), *tp = tmp_path("t.safetensors");
    gan_model *m = from_arch(ALL_KINDS);
    EVERY_ALLOCATION_FAILS(gan_model_save(m, mp), (void)0);
    ck_assert_int_eq(count_files(".tmp-"), 0);
    gan_model *back = NULL;
    EVERY_ALLOCATION_FAILS(gan_model_load(&back, mp), gan_model_free(back));
    EVERY_ALLOCATION_FAILS(gan_model_load_weights(m, mp), (void)0);
    gan_model *built = NULL;
    EVERY_ALLOCATION_FAILS(gan_model_from_arch_text(&built, ALL_KINDS), gan_model_free(built));
    gan_trainer *t = resume_trainer(1);
    EVERY_ALLOCATION_FAILS(gan_trainer_save(t, tp), (void)0);
    gan_trainer *t2 = NULL;
    EVERY_ALLOCATION_FAILS(gan_trainer_load(&t2, tp), gan_trainer_free(t2));
    gan_checkpoint *ck = NULL;
    EVERY_ALLOCATION_FAILS(gan_checkpoint_open(&ck, tp), gan_checkpoint_close(ck));
    gan_trainer_free(t);
    gan_model_free(m);
    ck_assert_int_eq(oom_live, 0);
    TU_OK(gan_set_allocator(NULL));
    remove_tmpdir();
}
END_TEST

Suite *suite_checkpoint(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("round_trip");
    tcase_add_test(tc, round_trip_dcgan28);
    tcase_add_test(tc, round_trip_every_layer_kind);
    tcase_add_test(tc, round_trip_model_without_layers);
    tcase_add_test(tc, writer_layout);
    tcase_add_test(tc, save_errors);
    tcase_add_test(tc, save_replaces_atomically);
    tcase_add_test(tc, out_of_memory_everywhere);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("pytorch");
    tcase_add_test(tc, pytorch_dcgan28_generator);
    tcase_add_test(tc, pytorch_every_layer_kind);
    tcase_add_test(tc, pytorch_file_needs_a_model);
    suite_add_tcase(s, tc);

    tc = tcase_create("arch_text");
    tcase_add_test(tc, arch_text_api);
    tcase_add_test(tc, arch_text_errors);
    tcase_add_test(tc, arch_text_ignores_locale);
    suite_add_tcase(s, tc);

    tc = tcase_create("trainer");
    tcase_add_test(tc, resume_is_bitwise_adam);
    tcase_add_test(tc, resume_is_bitwise_sgd_wgan_ncritic);
    tcase_add_test(tc, resume_is_bitwise_lsgan_plain_sgd);
    tcase_add_test(tc, trainer_file_contents);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("atomic");
    tcase_add_test(tc, kill_during_save);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_add_test(tc, hostile_valid_baseline);
    tcase_add_test(tc, hostile_truncated);
    tcase_add_test(tc, hostile_header_length);
    tcase_add_test(tc, hostile_invalid_json);
    tcase_add_test(tc, hostile_unknown_dtype);
    tcase_add_test(tc, hostile_offsets);
    tcase_add_test(tc, hostile_shape_overflow);
    tcase_add_test(tc, hostile_names);
    tcase_add_test(tc, hostile_shape_mismatch);
    tcase_add_test(tc, hostile_values);
    tcase_add_test(tc, hostile_metadata);
    tcase_add_test(tc, hostile_trainer_metadata);
    suite_add_tcase(s, tc);
    return s;
}
