/* cli.c — option parsing and messages for the gan command.
 *
 * Options look like --name VALUE, --name=VALUE, -x VALUE or --flag.  A bad
 * option or value is one line on stderr and exit code 2. */
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

const char *tool_cmd = "";
const char *const model_names[] = {"mlp28", "dcgan28", "dcgan64", "toy2d", NULL};

static void vmessage(const char *fmt, va_list ap)
{
    fprintf(stderr, "gan%s%s: ", *tool_cmd ? " " : "", tool_cmd);
    vfprintf(stderr, fmt, ap);
}

void tool_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void tool_gan_error(gan_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    const char *why = gan_last_error();
    fprintf(stderr, ": %s\n", *why ? why : gan_status_string(st));
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'gan %s --help')\n", tool_cmd);
    return EXIT_USAGE;
}

static cli_opt *find_long(cli_opt *opts, const char *name, size_t len)
{
    for (cli_opt *o = opts; o->name != NULL; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) return o;
    return NULL;
}

static cli_opt *find_short(cli_opt *opts, char c)
{
    for (cli_opt *o = opts; o->name != NULL; o++)
        if (o->short_name == c) return o;
    return NULL;
}

/* Store `value` into o->dest; EXIT_USAGE after a message if it is bad. */
static int set_value(cli_opt *o, const char *value)
{
    char *end = NULL;
    errno = 0;
    switch (o->kind) {
    case OPT_FLAG:
        return usage_error("option --%s takes no value", o->name);
    case OPT_INT: {
        long long v = strtoll(value, &end, 10);
        if (*value == '\0' || *end != '\0' || errno == ERANGE)
            return usage_error("--%s: '%s' is not an integer", o->name, value);
        if (v < o->min || v > o->max)
            return usage_error("--%s: %lld is out of range [%lld, %lld]", o->name, v, o->min,
                               o->max);
        *(int *)o->dest = (int)v;
        return -1;
    }
    case OPT_U64: {
        unsigned long long v = strtoull(value, &end, 0);
        if (*value == '\0' || *value == '-' || *end != '\0' || errno == ERANGE)
            return usage_error("--%s: '%s' is not a non-negative integer", o->name, value);
        *(uint64_t *)o->dest = v;
        return -1;
    }
    case OPT_FLOAT: {
        double v = strtod(value, &end);
        if (*value == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v))
            return usage_error("--%s: '%s' is not a number", o->name, value);
        if (o->min > 0 && !(v > 0))
            return usage_error("--%s: %s must be positive", o->name, value);
        *(float *)o->dest = (float)v;
        return -1;
    }
    case OPT_STRING:
        if (*value == '\0') return usage_error("--%s: empty value", o->name);
        *(const char **)o->dest = value;
        return -1;
    case OPT_CHOICE:
        for (const char *const *c = o->choices; *c != NULL; c++)
            if (strcmp(*c, value) == 0) {
                *(const char **)o->dest = *c;
                return -1;
            }
        {
            char list[256] = "";
            for (const char *const *c = o->choices; *c != NULL; c++) {
                if (c != o->choices) strncat(list, ", ", sizeof list - strlen(list) - 1);
                strncat(list, *c, sizeof list - strlen(list) - 1);
            }
            return usage_error("--%s: '%s' is not one of %s", o->name, value, list);
        }
    }
    return usage_error("--%s: internal error", o->name);
}

int cli_parse(int argc, char **argv, cli_opt *opts, const char **pos, int max_pos, int *npos,
              const char *help)
{
    *npos = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (*npos >= max_pos)
                return max_pos == 0 ? usage_error("unexpected argument '%s'", a)
                                    : usage_error("too many arguments ('%s')", a);
            pos[(*npos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help, stdout);
            return 0;
        }
        cli_opt *o;
        const char *value = NULL;
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(opts, name, len);
            if (o == NULL) return usage_error("unknown option '--%.*s'", (int)len, name);
            if (eq) value = eq + 1;
        } else {
            if (a[2] != '\0') return usage_error("unknown option '%s'", a);
            o = find_short(opts, a[1]);
            if (o == NULL) return usage_error("unknown option '%s'", a);
        }
        o->seen = true;
        if (o->kind == OPT_FLAG) {
            if (value != NULL) return usage_error("option --%s takes no value", o->name);
            *(bool *)o->dest = true;
            continue;
        }
        if (value == NULL) {
            if (i + 1 >= argc) return usage_error("option --%s needs a value", o->name);
            value = argv[++i];
        }
        int rc = set_value(o, value);
        if (rc >= 0) return rc;
    }
    return -1;
}

bool cli_seen(const cli_opt *opts, const char *name)
{
    for (const cli_opt *o = opts; o->name != NULL; o++)
        if (strcmp(o->name, name) == 0) return o->seen;
    return false;
}

/* ------------------------------------------------------------------ misc */
double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

long peak_rss_kb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return ru.ru_maxrss; /* KiB on Linux */
}

const char *path_join(char *buf, size_t cap, const char *dir, const char *name)
{
    size_t n = strlen(dir);
    snprintf(buf, cap, "%s%s%s", dir, n > 0 && dir[n - 1] == '/' ? "" : "/", name);
    return buf;
}

bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
