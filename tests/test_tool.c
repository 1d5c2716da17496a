/* test_tool.c — the built `gan` command, run as a child process: help texts,
 * usage errors (exit 2, one line), missing and corrupt files (exit 1 with a
 * message, never a signal), and a tiny end-to-end run: toy2d and mlp28
 * trained for a few steps, then sample, info and resume on the output;
 * colour IDX samples read back by the library and trained on; the per-batch
 * resize of IDX data checked against the whole-data-set one it replaced
 * (tests/tool/convert_check.c). */
#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS 32

static char tmpdir[256];
static char out_text[1 << 16], err_text[1 << 16];

static void read_all(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f) fclose(f);
}

/* Run the program args[0] with args[1..] (NULL-terminated); stdout and
 * stderr land in out_text / err_text.  Returns the exit code; fails the
 * test if the child died of a signal. */
static int run_program(const char *const *args)
{
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    for (int i = 0; args[i] != NULL && argc <= MAX_ARGS; i++) argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    char out_path[300], err_path[300];
    snprintf(out_path, sizeof out_path, "%s/stdout", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/stderr", tmpdir);
    const int status = tu_run(argv, out_path, err_path);
    read_all(out_path, out_text, sizeof out_text);
    read_all(err_path, err_text, sizeof err_text);
    ck_assert_msg(WIFEXITED(status), "%s %s ... killed by signal %d; stderr: %s", argv[0],
                  argv[1] ? argv[1] : "", WIFSIGNALED(status) ? WTERMSIG(status) : -1, err_text);
    ck_assert_msg(WEXITSTATUS(status) != 127, "cannot run %s", argv[0]);
    return WEXITSTATUS(status);
}

/* Run bin/gan with args (NULL-terminated), as run_program. */
static int run_gan(const char *const *args)
{
    const char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = GAN_TEST_BIN "/gan";
    for (int i = 0; args[i] != NULL && argc <= MAX_ARGS; i++) argv[argc++] = args[i];
    argv[argc] = NULL;
    return run_program(argv);
}

/* run_gan with the arguments listed, NULL-terminated. */
static int gan(const char *arg, ...)
{
    const char *args[MAX_ARGS + 1];
    int n = 0;
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a != NULL && n < MAX_ARGS; a = va_arg(ap, const char *)) args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    return run_gan(args);
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static const char *tmp(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gan-test-tool-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

/* ------------------------------------------------------------------ tests */
START_TEST(help_everywhere)
{
    ck_assert_int_eq(gan("--help", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "usage: gan <command>"));
    const char *cmds[] = {"train", "sample", "bench", "info"};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(gan(cmds[i], "--help", NULL), 0);
        char want[64];
        snprintf(want, sizeof want, "usage: gan %s", cmds[i]);
        ck_assert_msg(strstr(out_text, want) != NULL, "%s --help: %s", cmds[i], out_text);
        ck_assert_str_eq(err_text, "");
    }
    ck_assert_int_eq(gan("--version", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out_text, gan_version_string()));
}
END_TEST

/* Usage errors: exit code 2 and exactly one line on stderr. */
static const char *const bad_usage[][10] = {
    {NULL},
    {"frobnicate", NULL},
    {"train", "--bogus", NULL},
    {"train", "--model", "nope", NULL},
    {"train", "--model", "toy2d", "--batch", "0", NULL},
    {"train", "--model", "toy2d", "--batch", "abc", NULL},
    {"train", "--model", "toy2d", "--batch", NULL},
    {"train", "--model", "toy2d", "--lr", "-1", NULL},
    {"train", "--model", "toy2d", "--seed", "x", NULL},
    {"train", "--model", "toy2d", "--loss", "l1", NULL},
    {"train", "--model", "toy2d", "--data", "/tmp", NULL},
    {"train", "--model", "dcgan28", NULL},
    {"train", "--epochs", "2", NULL},
    {"train", "--model", "toy2d", "stray", NULL},
    {"sample", NULL},
    {"sample", "a.safetensors", NULL},
    {"sample", "a.safetensors", "-o", "x.png", "--format", "jpeg", NULL},
    {"sample", "a.safetensors", "-o", "x.png", "-n", "0", NULL},
    {"sample", "a", "b", "-o", "x.png", NULL},
    {"sample", "a", "-o", "x.png", "-n", "3", "--noise", "z.safetensors", NULL},
    {"bench", NULL},
    {"bench", "--model", "toy2d", "--steps", "-1", NULL},
    {"bench", "--model", "toy2d", "--threads", "0", NULL},
    {"bench", "--model", "toy2d", "--help=yes", NULL},
    {"info", NULL},
    {"info", "a", "b", NULL},
    {"info", "-x", NULL},
};

START_TEST(usage_errors_exit_2)
{
    const char *const *a = bad_usage[_i];
    int rc = run_gan(a);
    ck_assert_msg(rc == 2, "case %d (%s %s): exit %d, stderr: %s", _i, a[0] ? a[0] : "",
                  a[0] && a[1] ? a[1] : "", rc, err_text);
    if (a[0] != NULL) { /* bare `gan` prints the usage text */
        ck_assert_msg(lines(err_text) == 1, "case %d: %d lines: %s", _i, lines(err_text), err_text);
        ck_assert_msg(strncmp(err_text, "gan", 3) == 0, "case %d: %s", _i, err_text);
    }
    ck_assert_str_eq(out_text, "");
}
END_TEST

/* Copy the first `keep` bytes of src to dst (keep < 0: all). */
static void copy_file(const char *src, const char *dst, long keep)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    ck_assert(in && out);
    char buf[4096];
    size_t n;
    long done = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (keep >= 0 && done + (long)n > keep) n = (size_t)(keep - done);
        fwrite(buf, 1, n, out);
        done += (long)n;
        if (keep >= 0 && done >= keep) break;
    }
    fclose(in);
    fclose(out);
}

START_TEST(missing_and_corrupt_files)
{
    /* each: exit 1, a message on stderr naming the problem, no crash */
    ck_assert_int_eq(gan("info", "/nonexistent/g.safetensors", NULL), 1);
    ck_assert_ptr_nonnull(strstr(err_text, "gan info: "));
    ck_assert_ptr_nonnull(strstr(err_text, "cannot open"));

    ck_assert_int_eq(gan("info", tu_path("data/idx/images_3x4x5.idx"), NULL), 1);
    ck_assert_int_eq(lines(err_text), 1);

    ck_assert_int_eq(gan("sample", "/nonexistent/g.safetensors", "-o", tmp("x.png"), NULL), 1);
    ck_assert_ptr_nonnull(strstr(err_text, "gan sample: "));
    ck_assert(!exists(tmp("x.png")));

    ck_assert_int_eq(gan("train", "--model", "mlp28", "--data", "/nonexistent", "--out", tmp("o"),
                         NULL),
                     1);
    ck_assert_ptr_nonnull(strstr(err_text, "/nonexistent"));

    ck_assert_int_eq(gan("train", "--model", "mlp28", "--data", tu_path("data/idx/truncated.idx"),
                         "--out", tmp("o"), NULL),
                     1);
    ck_assert_msg(strstr(err_text, "truncated") != NULL, "%s", err_text);

    ck_assert_int_eq(gan("train", "--model", "mlp28", "--data", tu_path("data/idx/gz_bad_crc.idx.gz"),
                         "--out", tmp("o"), NULL),
                     1);
    ck_assert_msg(strstr(err_text, "corrupt gzip") != NULL, "%s", err_text);

    /* an image folder without images */
    ck_assert_int_eq(gan("train", "--model", "mlp28", "--data", tu_path("ref"), "--out", tmp("o"),
                         NULL),
                     1);
    ck_assert_msg(strstr(err_text, "no PNG or JPEG") != NULL, "%s", err_text);

    ck_assert_int_eq(gan("train", "--resume", tmp("nothing-here"), NULL), 1);
    ck_assert_ptr_nonnull(strstr(err_text, "cannot resume"));
}
END_TEST

/* Train toy2d for a few steps, then sample / info / resume on the output. */
START_TEST(toy2d_end_to_end)
{
    char out[512];
    snprintf(out, sizeof out, "%s", tmp("toy"));
    ck_assert_int_eq(gan("train", "--model", "toy2d", "--steps", "12", "--batch", "32",
                         "--threads", "1", "--seed", "7", "--log-every", "5", "--out", out, NULL),
                     0);
    ck_assert_msg(strstr(out_text, "step 10/") != NULL, "%s", out_text);
    ck_assert_msg(strstr(out_text, "D(G(z))") != NULL, "%s", out_text);
    ck_assert(exists(tmp("toy/generator.safetensors")));
    ck_assert(exists(tmp("toy/checkpoint.safetensors")));
    ck_assert(exists(tmp("toy/samples_epoch_001.png")));
    read_all(tmp("toy/metrics.csv"), err_text, sizeof err_text);
    ck_assert_int_eq(lines(err_text), 1 + 12);
    ck_assert_int_eq(strncmp(err_text, "step,epoch,loss_d,loss_g,d_x,d_g_z,img_per_s\n1,1,", 46), 0);

    /* samples: png, and the raw tensor, replayed exactly through --noise */
    ck_assert_int_eq(gan("sample", tmp("toy/generator.safetensors"), "-n", "50", "-o", tmp("s.png"),
                         NULL),
                     0);
    ck_assert(exists(tmp("s.png")));
    ck_assert_int_eq(gan("sample", tmp("toy/checkpoint.safetensors"), "-n", "6", "--seed", "3",
                         "-o", tmp("a.safetensors"), NULL),
                     0);
    ck_assert_int_eq(gan("sample", tmp("toy/generator.safetensors"), "--noise", tmp("a.safetensors"),
                         "-o", tmp("b.safetensors"), NULL),
                     0);
    gan_tensor *xa = NULL, *xb = NULL;
    TU_OK(gan_tensor_load(&xa, tmp("a.safetensors"), "x"));
    TU_OK(gan_tensor_load(&xb, tmp("b.safetensors"), "x"));
    ck_assert_int_eq(gan_tensor_dim(xa, 0), 6);
    ck_assert_int_eq(gan_tensor_dim(xa, 1), 2);
    ck_assert_mem_eq(gan_tensor_cdata(xa), gan_tensor_cdata(xb), 12 * sizeof(float));
    gan_tensor_free(xa);
    gan_tensor_free(xb);
    ck_assert_int_eq(gan("sample", tmp("toy/generator.safetensors"), "--format", "idx", "-o",
                         tmp("s.idx"), NULL),
                     2);

    /* info on both files */
    ck_assert_int_eq(gan("info", tmp("toy/checkpoint.safetensors"), NULL), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "kind: trainer"));
    ck_assert_ptr_nonnull(strstr(out_text, "step 12"));
    ck_assert_ptr_nonnull(strstr(out_text, "G.0.weight"));
    ck_assert_int_eq(gan("info", tmp("toy/generator.safetensors"), NULL), 0);
    ck_assert_ptr_nonnull(strstr(out_text, "kind: model"));
    ck_assert_ptr_nonnull(strstr(out_text, "architecture ("));
    ck_assert_ptr_nonnull(strstr(out_text, "\n  dense in="));

    /* corrupt copies: info and sample fail cleanly */
    copy_file(tmp("toy/generator.safetensors"), tmp("cut.safetensors"), 300);
    ck_assert_int_eq(gan("info", tmp("cut.safetensors"), NULL), 1);
    ck_assert_int_eq(lines(err_text), 1);
    ck_assert_int_eq(gan("sample", tmp("cut.safetensors"), "-o", tmp("c.png"), NULL), 1);
    ck_assert_int_eq(gan("sample", tmp("toy/generator.safetensors"), "--noise",
                         tmp("toy/generator.safetensors"), "-o", tmp("c.png"), NULL),
                     1);
    ck_assert_msg(strstr(err_text, "no tensor named 'z'") != NULL, "%s", err_text);

    /* resume: the stopped epoch is redone, metrics are appended */
    ck_assert_msg(gan("train", "--resume", out, "--steps", "3", "--threads", "1", NULL) == 0, "%s",
                  err_text);
    read_all(tmp("toy/metrics.csv"), err_text, sizeof err_text);
    ck_assert_int_eq(lines(err_text), 1 + 12 + 3);
    ck_assert_ptr_nonnull(strstr(err_text, "\n15,1,"));
}
END_TEST

/* mlp28 on a 3-image IDX file (resized 4x5 -> 28x28) and on an image
 * folder; IDX output read back by the library. */
START_TEST(images_end_to_end)
{
    ck_assert_int_eq(gan("train", "--model", "mlp28", "--data", tu_path("data/idx/images_3x4x5.idx.gz"),
                         "--batch", "2", "--epochs", "1", "--threads", "1", "--out", tmp("m"), NULL),
                     0);
    ck_assert_msg(strstr(out_text, "resizing 1x4x5 images to 1x28x28, batch by batch") != NULL,
                  "%s", out_text);
    ck_assert(exists(tmp("m/samples_epoch_001.png")));
    ck_assert_int_eq(gan("sample", tmp("m/generator.safetensors"), "-n", "5", "--format", "idx",
                         "-o", tmp("s.bin"), NULL),
                     0);
    gan_tensor *x = NULL;
    TU_OK(gan_idx_read_images(&x, tmp("s.bin")));
    ck_assert_int_eq(gan_tensor_dim(x, 0), 5);
    ck_assert_int_eq(gan_tensor_dim(x, 2), 28);
    ck_assert_int_eq(gan_tensor_dim(x, 3), 28);
    gan_tensor_free(x);

    /* an ImageFolder-style tree: PNGs in a class subfolder */
    ck_assert_int_eq(mkdir(tmp("imgs"), 0755), 0);
    ck_assert_int_eq(mkdir(tmp("imgs/class_a"), 0755), 0);
    copy_file(tmp("m/samples_epoch_001.png"), tmp("imgs/class_a/one.png"), -1);
    copy_file(tmp("m/samples_epoch_001.png"), tmp("imgs/two.PNG"), -1);
    FILE *f = fopen(tmp("imgs/broken.jpg"), "wb");
    fputs("not a jpeg", f);
    fclose(f);
    ck_assert_int_eq(gan("train", "--model", "mlp28", "--data", tmp("imgs"), "--batch", "2",
                         "--threads", "1", "--out", tmp("f"), NULL),
                     0);
    ck_assert_msg(strstr(out_text, "on 2 images") != NULL, "%s", out_text);
    ck_assert_msg(strstr(err_text, "skipping") && strstr(err_text, "broken.jpg"), "%s", err_text);
}
END_TEST

/* An IDX u8 file of the given dims (3 or 4) with pseudo-random pixels. */
static void write_idx(const char *path, int ndim, const uint32_t *dims, uint32_t seed)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    unsigned char hdr[4] = {0, 0, 0x08, (unsigned char)ndim};
    fwrite(hdr, 1, 4, f);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        unsigned char be[4] = {(unsigned char)(dims[i] >> 24), (unsigned char)(dims[i] >> 16),
                               (unsigned char)(dims[i] >> 8), (unsigned char)dims[i]};
        fwrite(be, 1, 4, f);
        n *= dims[i];
    }
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        fputc((int)(seed >> 24), f);
    }
    ck_assert_int_eq(fclose(f), 0);
}

/* gan train resizes IDX images one batch at a time; every batch of two
 * shuffled epochs equals the batch cut from the whole data set converted
 * at once (the old way), bit for bit: grey -> RGB with a centre crop of a
 * non-square image, RGB -> grey, RGB resized, and short last batches. */
START_TEST(resize_per_batch_matches_whole_set)
{
    static const struct {
        int ndim;
        uint32_t dims[4];
        const char *c, *h, *w, *batch;
    } cases[] = {
        {3, {13, 20, 17}, "3", "64", "64", "5"}, /* dcgan64 on grey, wide crop */
        {3, {6, 28, 28}, "3", "64", "64", "4"},  /* Fashion-MNIST's size       */
        {4, {7, 3, 9, 12}, "1", "28", "28", "3"}, /* RGB -> grey (luma)        */
        {4, {5, 3, 30, 24}, "3", "16", "16", "2"}, /* RGB, tall crop, shrink   */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/set%zu.idx", tmpdir, i);
        write_idx(path, cases[i].ndim, cases[i].dims, 1234u + (uint32_t)i);
        const char *args[] = {GAN_TEST_BIN "/../build/tests/convert_check", path, cases[i].c,
                              cases[i].h, cases[i].w, cases[i].batch, "77", NULL};
        int rc = run_program(args);
        ck_assert_msg(rc == 0, "case %zu: exit %d: %s%s", i, rc, out_text, err_text);
        ck_assert_msg(strncmp(out_text, "identical: ", 11) == 0, "case %zu: %s", i, out_text);
    }
}
END_TEST

/* Colour samples: `gan sample --format idx` writes idx4 (N, 3, 64, 64), which
 * the library reads back as the quantised samples and gan train takes. */
START_TEST(colour_idx_round_trip)
{
    gan_model *g = NULL, *d = NULL;
    TU_OK(gan_preset_create("dcgan64", 5, &g, &d));
    TU_OK(gan_model_save(g, tmp("g64.safetensors")));
    gan_model_free(g);
    gan_model_free(d);
    ck_assert_int_eq(gan("sample", tmp("g64.safetensors"), "-n", "3", "--seed", "9", "-o",
                         tmp("s.safetensors"), NULL),
                     0);
    ck_assert_int_eq(gan("sample", tmp("g64.safetensors"), "-n", "3", "--seed", "9", "--format",
                         "idx", "-o", tmp("s.idx"), NULL),
                     0);
    /* the header: 00 00 08 04, then 3 3 64 64 */
    FILE *f = fopen(tmp("s.idx"), "rb");
    unsigned char hdr[20];
    ck_assert_int_eq(fread(hdr, 1, 20, f), 20);
    fclose(f);
    const unsigned char want_hdr[20] = {0, 0, 8, 4, 0, 0, 0, 3, 0, 0, 0, 3,
                                        0, 0, 0, 64, 0, 0, 0, 64};
    ck_assert_mem_eq(hdr, want_hdr, 20);

    gan_tensor *x = NULL, *back = NULL;
    TU_OK(gan_tensor_load(&x, tmp("s.safetensors"), "x"));
    TU_OK(gan_idx_read_images(&back, tmp("s.idx")));
    const int64_t shape[4] = {3, 3, 64, 64};
    for (int i = 0; i < 4; i++) ck_assert_int_eq(gan_tensor_dim(back, i), shape[i]);
    ck_assert_int_eq(gan_tensor_numel(back), gan_tensor_numel(x));
    const float *xs = gan_tensor_cdata(x), *bs = gan_tensor_cdata(back);
    for (int64_t i = 0; i < gan_tensor_numel(x); i++) {
        /* the tool writes round((x + 1) * 127.5), clamped; the reader maps v to v / 127.5 - 1 */
        float v = roundf((xs[i] + 1.0f) * 127.5f);
        v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
        float want = (float)(v / 127.5 - 1.0);
        ck_assert_msg(bs[i] == want, "element %lld: read %.9g, sample %.9g -> %.9g", (long long)i,
                      bs[i], xs[i], want);
    }
    gan_tensor_free(x);
    gan_tensor_free(back);

    /* ... and trains dcgan64 as is (no resize) */
    ck_assert_msg(gan("train", "--model", "dcgan64", "--data", tmp("s.idx"), "--batch", "2",
                      "--steps", "1", "--threads", "1", "--out", tmp("t64"), NULL) == 0,
                  "%s", err_text);
    ck_assert_msg(strstr(out_text, "on 3 images") && !strstr(out_text, "resizing"), "%s", out_text);

    /* idx4 with 2 channels: no grey or RGB conversion for mlp28 */
    const uint32_t two[4] = {2, 2, 5, 5};
    write_idx(tmp("two.idx"), 4, two, 3);
    ck_assert_int_eq(gan("train", "--model", "mlp28", "--data", tmp("two.idx"), "--out",
                         tmp("t2"), NULL),
                     1);
    ck_assert_msg(strstr(err_text, "2 channels") != NULL && lines(err_text) == 1, "%s", err_text);
}
END_TEST

/* gan bench, training steps (_i = 0) or batches from G (_i = 1): the last
 * line is the JSON object of the help text */
START_TEST(bench_last_line_is_json)
{
    const bool generate = _i == 1;
    ck_assert_int_eq(gan("bench", "--model", "toy2d", "--batch", "8", "--steps", "3", "--warmup",
                         "1", "--threads", "1", generate ? "--generate" : NULL, NULL),
                     0);
    char *last = out_text + strlen(out_text) - 1; /* the final '\n' */
    ck_assert_int_eq(*last, '\n');
    *last = '\0';
    char *line = strrchr(out_text, '\n');
    line = line ? line + 1 : out_text;
    const char *keys[] = {"{\"model\":\"toy2d\",\"batch\":8,\"threads\":1,\"steps\":3,"
                          "\"ms_per_step_median\":",
                          ",\"ms_per_step_min\":", ",\"images_per_s\":", ",\"peak_rss_kb\":",
                          generate ? ",\"mode\":\"generate\"}" : ",\"mode\":\"train\"}"};
    ck_assert_msg(strncmp(line, keys[0], strlen(keys[0])) == 0, "last line: %s", line);
    for (int i = 1; i < 5; i++) ck_assert_msg(strstr(line, keys[i]) != NULL, "%s: %s", keys[i], line);
    ck_assert_int_eq(line[strlen(line) - 1], '}');
    ck_assert_ptr_nonnull(strstr(out_text, "ms/step"));
    ck_assert_ptr_nonnull(strstr(out_text, generate ? "batches from G (eval mode)" : " steps after"));
}
END_TEST

Suite *suite_tool(void)
{
    Suite *s = suite_create("tool");
    TCase *tc = tcase_create("tool");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, help_everywhere);
    tcase_add_loop_test(tc, usage_errors_exit_2, 0, (int)(sizeof bad_usage / sizeof bad_usage[0]));
    tcase_add_test(tc, missing_and_corrupt_files);
    tcase_add_test(tc, toy2d_end_to_end);
    tcase_add_test(tc, images_end_to_end);
    tcase_add_test(tc, resize_per_batch_matches_whole_set);
    tcase_add_test(tc, colour_idx_round_trip);
    tcase_add_loop_test(tc, bench_last_line_is_json, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
