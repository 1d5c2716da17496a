/* testutil.c — reference-vector reader, comparison helpers, files and
 * child processes. */
#include "testutil.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TU_MAX_REFS 256

struct tu_ref {
    int n;
    char *names[TU_MAX_REFS];
    gan_tensor *t[TU_MAX_REFS];
};

const char *tu_path(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", GAN_TEST_DIR, rel);
    return buf;
}

void *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    const long n = ftell(f);
    ck_assert_msg(n >= 0, "cannot size %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
    char *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_msg(fread(b, 1, (size_t)n, f) == (size_t)n, "cannot read %s", path);
    fclose(f);
    b[n] = '\0';
    if (len != NULL) *len = (size_t)n;
    return b;
}

int tu_run(char *const argv[], const char *out_path, const char *err_path)
{
    fflush(NULL); /* nothing buffered may be written twice */
    const pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        const int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0) _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

static uint32_t read_u32(FILE *f, const char *file)
{
    unsigned char b[4];
    ck_assert_msg(fread(b, 1, 4, f) == 4, "%s: truncated", file);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

tu_ref *tu_ref_load(const char *file)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/ref/%s", GAN_TEST_DIR, file);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open reference file %s (run tests/ref/*.py to make it)", path);
    char magic[8];
    ck_assert_msg(fread(magic, 1, 8, f) == 8 && memcmp(magic, "GANREF1\n", 8) == 0,
                  "%s: bad magic", path);
    tu_ref *r = calloc(1, sizeof *r);
    ck_assert_ptr_nonnull(r);
    for (;;) {
        unsigned char b[4];
        size_t got = fread(b, 1, 4, f);
        if (got == 0) break;
        ck_assert_msg(got == 4, "%s: truncated record", path);
        uint32_t len = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        ck_assert_msg(len > 0 && len < 256 && r->n < TU_MAX_REFS, "%s: bad record", path);
        char *name = calloc(1, len + 1);
        ck_assert_msg(fread(name, 1, len, f) == len, "%s: truncated name", path);
        uint32_t ndim = read_u32(f, path);
        ck_assert_msg(ndim >= 1 && ndim <= 4, "%s: %s has ndim %u", path, name, ndim);
        int64_t dims[4];
        for (uint32_t i = 0; i < ndim; i++) dims[i] = read_u32(f, path);
        gan_tensor *t = NULL;
        ck_assert_msg(gan_tensor_create(&t, (int)ndim, dims) == GAN_OK, "%s: %s: %s", path, name,
                      gan_last_error());
        size_t n = (size_t)gan_tensor_numel(t);
        ck_assert_msg(fread(gan_tensor_data(t), 4, n, f) == n, "%s: %s truncated", path, name);
        r->names[r->n] = name;
        r->t[r->n] = t;
        r->n++;
    }
    fclose(f);
    return r;
}

void tu_ref_free(tu_ref *r)
{
    if (r == NULL) return;
    for (int i = 0; i < r->n; i++) {
        free(r->names[i]);
        gan_tensor_free(r->t[i]);
    }
    free(r);
}

bool tu_ref_has(tu_ref *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->names[i], name) == 0) return true;
    return false;
}

gan_tensor *tu_ref_get(tu_ref *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->names[i], name) == 0) return r->t[i];
    ck_abort_msg("reference tensor '%s' missing", name);
    return NULL;
}

float tu_ref_scalar(tu_ref *r, const char *name)
{
    return gan_tensor_data(tu_ref_get(r, name))[0];
}

void tu_assert_close(const char *what, const float *got, const float *want, int64_t n,
                     double rtol)
{
    double scale = 0.0;
    for (int64_t i = 0; i < n; i++)
        if (fabs(want[i]) > scale) scale = fabs(want[i]);
    double floor_ = 1e-3 * scale;
    double max_abs = 0.0, max_rel = 0.0;
    int64_t worst = -1;
    bool ok = true;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d == d)) d = INFINITY; /* NaN */
        double rel = d / (fabs(want[i]) + floor_ + 1e-30);
        if (d > max_abs) max_abs = d;
        if (rel > max_rel || worst < 0) {
            if (rel > max_rel) max_rel = rel;
            worst = i;
        }
        if (!(d <= rtol * (fabs(want[i]) + floor_))) ok = false;
    }
    ck_assert_msg(ok, "%s: mismatch, max abs diff %.3g, max rel diff %.3g (rtol %.1g); at [%lld] got %.9g want %.9g",
                  what, max_abs, max_rel, rtol, (long long)worst, (double)got[worst],
                  (double)want[worst]);
}

void tu_assert_tensor_close(const char *what, const gan_tensor *got, const gan_tensor *want,
                            double rtol)
{
    ck_assert_msg(gan_tensor_numel(got) == gan_tensor_numel(want), "%s: %lld elements, want %lld",
                  what, (long long)gan_tensor_numel(got), (long long)gan_tensor_numel(want));
    tu_assert_close(what, gan_tensor_cdata(got), gan_tensor_cdata(want), gan_tensor_numel(want),
                    rtol);
}

gan_tensor *tu_tensor(int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    int64_t d[4] = {d0, d1, d2, d3};
    gan_tensor *t = NULL;
    ck_assert_msg(gan_tensor_create(&t, ndim, d) == GAN_OK, "tu_tensor: %s", gan_last_error());
    return t;
}
