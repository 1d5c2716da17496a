/* test_docs.c — the documentation cannot drift from the code:
 *   - every function libgan.so exports has a doc comment directly above its
 *     declaration in include/gan.h (or on the same line) and an entry in
 *     docs/api.md;
 *   - docs/api.md is exactly what tools/gen_api_docs.awk makes of gan.h;
 *   - the program at the end of docs/tutorial.md is examples/tutorial.c,
 *     byte for byte, and it builds (make check builds it, see mk/docs.mk),
 *     trains, saves a generator that loads back as dcgan28's generator, and
 *     samples from it. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SYMBOLS 1024

/* A command's whole standard output (fails the test unless it exits 0). */
static char *command_output(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run %s", cmd);
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    buf[n] = '\0';
    int status = pclose(p);
    ck_assert_msg(status == 0, "'%s' failed (status %d)", cmd, status);
    return buf;
}

static char *path_of(char *buf, size_t cap, const char *rel)
{
    snprintf(buf, cap, "%s/../%s", GAN_TEST_DIR, rel);
    return buf;
}

/* Names of the functions (and data) libgan.so exports. */
static int exported_symbols(char names[][64], int cap)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s'", GAN_TEST_SOLIB);
    char *text = command_output(cmd);
    int n = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char addr[64], type[8], name[256];
        if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3) continue;
        ck_assert_msg(n < cap, "more than %d exported symbols", cap);
        ck_assert_msg(strlen(name) < 64, "symbol name too long: %s", name);
        strcpy(names[n++], name);
    }
    free(text);
    return n;
}

/* The lines of a text, split in place (lines[i] points into text). */
static int split_lines(char *text, char ***lines_out)
{
    int cap = 256, n = 0;
    char **lines = malloc((size_t)cap * sizeof *lines);
    ck_assert_ptr_nonnull(lines);
    for (char *p = text; *p;) {
        if (n == cap) {
            cap *= 2;
            lines = realloc(lines, (size_t)cap * sizeof *lines);
            ck_assert_ptr_nonnull(lines);
        }
        lines[n++] = p;
        char *nl = strchr(p, '\n');
        if (nl == NULL) break;
        *nl = '\0';
        p = nl + 1;
    }
    *lines_out = lines;
    return n;
}

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

static bool ends_with_comment_close(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    return n >= 2 && s[n - 2] == '*' && s[n - 1] == '/';
}

/* Is the declaration of `name` in the header documented?  Its first line
 * starts with GAN_API and holds "name(".  Documented means: the line just
 * above it closes a comment that began at the start of a line ("/" "*"),
 * or the declaration's last line carries a trailing comment. */
static bool documented(char **lines, int n, const char *name, bool *declared)
{
    char call[80];
    snprintf(call, sizeof call, "%s(", name);
    *declared = false;
    for (int i = 0; i < n; i++) {
        if (strncmp(lines[i], "GAN_API", 7) != 0) continue;
        const char *at = strstr(lines[i], call);
        if (at == NULL || at == lines[i] || (at[-1] != ' ' && at[-1] != '*')) continue;
        *declared = true;
        int last = i;
        while (last < n && strchr(lines[last], ';') == NULL) last++;
        if (last < n && strstr(strchr(lines[last], ';'), "/*") != NULL) return true;
        if (i == 0 || !ends_with_comment_close(lines[i - 1])) return false;
        for (int k = i - 1; k >= 0; k--) {
            const char *open = strstr(lines[k], "/*");
            if (open == NULL) continue;
            return open == skip_space(lines[k]) && strncmp(lines[k], "GAN_API", 7) != 0;
        }
        return false;
    }
    return false;
}

START_TEST(test_every_export_documented)
{
    static char names[MAX_SYMBOLS][64];
    int nsym = exported_symbols(names, MAX_SYMBOLS);
    ck_assert_msg(nsym >= 100, "nm found only %d exported symbols in %s", nsym, GAN_TEST_SOLIB);

    char path[1100];
    char *header = tu_read_file(path_of(path, sizeof path, "include/gan.h"), NULL);
    char *api = tu_read_file(path_of(path, sizeof path, "docs/api.md"), NULL);
    char **lines;
    int nlines = split_lines(header, &lines);

    char missing[4096] = "";
    int bad = 0;
    for (int s = 0; s < nsym; s++) {
        bool declared;
        const char *why = NULL;
        char anchor[100];
        snprintf(anchor, sizeof anchor, "<a id=\"%.63s\"></a>", names[s]);
        if (!documented(lines, nlines, names[s], &declared))
            why = declared ? "no doc comment above its declaration in include/gan.h"
                           : "exported by libgan.so but not declared with GAN_API in include/gan.h "
                             "(an internal function leaking out of the library?)";
        else if (strstr(api, anchor) == NULL)
            why = "no entry in docs/api.md (run 'make api-docs')";
        if (why != NULL) {
            bad++;
            size_t used = strlen(missing);
            snprintf(missing + used, sizeof missing - used, "\n  %.63s: %s", names[s], why);
        }
    }
    free(lines);
    free(header);
    free(api);
    ck_assert_msg(bad == 0, "%d of %d exported symbols are undocumented:%s", bad, nsym, missing);
}
END_TEST

/* A header line with no comment above it is caught (the checker can fail). */
START_TEST(test_checker_catches_undocumented)
{
    char text[] = "/* documented */\n"
                  "GAN_API int gan_a(void);\n"
                  "GAN_API int gan_b(void);\n"
                  "GAN_API int gan_c(void); /* trailing */\n"
                  "int x; /* code, then a comment */\n"
                  "GAN_API int gan_d(void);\n";
    char **lines;
    int n = split_lines(text, &lines);
    bool declared;
    ck_assert(documented(lines, n, "gan_a", &declared) && declared);
    ck_assert(!documented(lines, n, "gan_b", &declared) && declared);
    ck_assert(documented(lines, n, "gan_c", &declared) && declared);
    ck_assert(!documented(lines, n, "gan_d", &declared) && declared);
    ck_assert(!documented(lines, n, "gan_e", &declared) && !declared);
    free(lines);
}
END_TEST

START_TEST(test_api_md_is_current)
{
    char root[1100], cmd[2400], path[1100];
    path_of(root, sizeof root, "");
    snprintf(cmd, sizeof cmd, "awk -f '%s/tools/gen_api_docs.awk' '%s/include/gan.h'", root, root);
    char *want = command_output(cmd);
    char *have = tu_read_file(path_of(path, sizeof path, "docs/api.md"), NULL);
    if (strcmp(want, have) != 0) {
        int line = 1;
        size_t i = 0;
        while (want[i] && want[i] == have[i]) {
            if (want[i] == '\n') line++;
            i++;
        }
        ck_abort_msg("docs/api.md is out of date with include/gan.h (first difference on line "
                     "%d): run 'make api-docs'",
                     line);
    }
    free(want);
    free(have);
}
END_TEST

#define TUTORIAL_MARK "<!-- the code block below is examples/tutorial.c -->"

START_TEST(test_tutorial_program_is_the_example)
{
    char path[1100];
    char *md = tu_read_file(path_of(path, sizeof path, "docs/tutorial.md"), NULL);
    char *c = tu_read_file(path_of(path, sizeof path, "examples/tutorial.c"), NULL);
    char *mark = strstr(md, TUTORIAL_MARK);
    ck_assert_msg(mark != NULL, "docs/tutorial.md lacks the line '%s'", TUTORIAL_MARK);
    ck_assert_msg(strstr(mark + 1, TUTORIAL_MARK) == NULL, "the mark appears twice");
    char *fence = strstr(mark, "\n```c\n");
    ck_assert_msg(fence != NULL, "no ```c block after the mark in docs/tutorial.md");
    char *code = fence + strlen("\n```c\n");
    char *end = strstr(code, "\n```\n");
    ck_assert_msg(end != NULL, "the tutorial's code block is not closed");
    end[1] = '\0'; /* keep the last line's newline */
    if (strcmp(code, c) != 0) {
        int line = 1;
        size_t i = 0;
        while (code[i] && code[i] == c[i]) {
            if (code[i] == '\n') line++;
            i++;
        }
        ck_abort_msg("the program in docs/tutorial.md differs from examples/tutorial.c at line %d",
                     line);
    }
    free(md);
    free(c);
}
END_TEST

/* Run the tutorial's program for a few steps (the real data set's small
 * test file when Debian's dataset-fashion-mnist is installed, else the
 * program's own synthetic images), then load what it saved. */
START_TEST(test_tutorial_program_runs)
{
    char dir[] = "/tmp/gan-test-docs-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char out[300], log[300], gen[300];
    snprintf(out, sizeof out, "%s/stdout", dir);
    snprintf(log, sizeof log, "%s/stderr", dir);
    snprintf(gen, sizeof gen, "%s/generator.safetensors", dir);
    const char *fashion = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    const char *data = access(fashion, R_OK) == 0 ? fashion : "/nonexistent/fashion-mnist.gz";
    char *argv[] = {(char *)GAN_TEST_BIN "/examples/tutorial", "--steps", "3", "--batch", "16",
                    "--data", (char *)data, "--out", gen, NULL};
    const int status = tu_run(argv, out, log);
    char *text = tu_read_file(out, NULL), *err = tu_read_file(log, NULL);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "%s (built by make check, see mk/docs.mk) failed: status %d; stderr: %s", argv[0],
                  status, err);
    ck_assert_msg(strstr(text, "step    3/3") != NULL, "no step line in: %s", text);
    ck_assert_msg(strstr(text, "saved the generator") != NULL, "nothing saved: %s", text);
    /* the sample: 28 lines of 56 characters at the end */
    char *last = strstr(text, "saved the generator");
    int rows = 0;
    for (char *p = strchr(last, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
        char *nl = strchr(p + 1, '\n');
        ck_assert_msg(nl != NULL && nl - (p + 1) == 56, "sample row %d is not 56 characters", rows);
        rows++;
    }
    ck_assert_int_eq(rows, 28);

    /* what it saved is dcgan28's generator, as the tutorial says */
    gan_model *g = NULL, *pg = NULL, *pd = NULL;
    TU_OK(gan_model_load(&g, gen));
    TU_OK(gan_preset_create("dcgan28", 1, &pg, &pd));
    char a[2048], b[2048];
    TU_OK(gan_model_arch_text(g, a, sizeof a, NULL));
    TU_OK(gan_model_arch_text(pg, b, sizeof b, NULL));
    ck_assert_str_eq(a, b);
    gan_model_free(g);
    gan_model_free(pg);
    gan_model_free(pd);
    free(text);
    free(err);
    unlink(out);
    unlink(log);
    unlink(gen);
    rmdir(dir);
}
END_TEST

Suite *suite_docs(void)
{
    Suite *s = suite_create("docs");
    TCase *tc = tcase_create("reference");
    tcase_add_test(tc, test_every_export_documented);
    tcase_add_test(tc, test_checker_catches_undocumented);
    tcase_add_test(tc, test_api_md_is_current);
    suite_add_tcase(s, tc);
    TCase *tt = tcase_create("tutorial");
    tcase_add_test(tt, test_tutorial_program_is_the_example);
    tcase_add_test(tt, test_tutorial_program_runs);
    tcase_set_timeout(tt, 60);
    suite_add_tcase(s, tt);
    return s;
}
