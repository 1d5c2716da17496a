/* safetensors.c — reading and writing the safetensors container.
 *
 * Reading validates the whole header before anything else happens (see
 * safetensors.h for the checks); tensor bytes are fetched one entry at a
 * time so callers can match names and shapes first.  Writing follows the
 * reference implementation: tensors sorted by dtype (largest first) then
 * name, laid out back to back; the JSON header is compact, "__metadata__"
 * first, padded with spaces to a multiple of 8 bytes. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ dtypes */
static const struct {
    const char *name;
    size_t size;
} dtype_info[GAN_ST_DTYPE_COUNT] = {
    [GAN_ST_BOOL] = {"BOOL", 1},       [GAN_ST_U8] = {"U8", 1},
    [GAN_ST_I8] = {"I8", 1},           [GAN_ST_F8_E5M2] = {"F8_E5M2", 1},
    [GAN_ST_F8_E4M3] = {"F8_E4M3", 1}, [GAN_ST_I16] = {"I16", 2},
    [GAN_ST_U16] = {"U16", 2},         [GAN_ST_F16] = {"F16", 2},
    [GAN_ST_BF16] = {"BF16", 2},       [GAN_ST_I32] = {"I32", 4},
    [GAN_ST_U32] = {"U32", 4},         [GAN_ST_F32] = {"F32", 4},
    [GAN_ST_F64] = {"F64", 8},         [GAN_ST_I64] = {"I64", 8},
    [GAN_ST_U64] = {"U64", 8},
};

const char *gan_st_dtype_name(gan_st_dtype dtype)
{
    return (unsigned)dtype < GAN_ST_DTYPE_COUNT ? dtype_info[dtype].name : "?";
}

size_t gan_st_dtype_size(gan_st_dtype dtype)
{
    return (unsigned)dtype < GAN_ST_DTYPE_COUNT ? dtype_info[dtype].size : 0;
}

static bool dtype_from_name(const char *s, gan_st_dtype *out)
{
    for (int i = 0; i < GAN_ST_DTYPE_COUNT; i++)
        if (strcmp(s, dtype_info[i].name) == 0) {
            *out = (gan_st_dtype)i;
            return true;
        }
    return false;
}

/* ------------------------------------------------------------- byte order */
static uint64_t load_le64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

static void store_le64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define GAN_HOST_BIG_ENDIAN 1
/* Reverse the bytes of each `width`-byte element of p (count elements). */
static void swap_elements(unsigned char *p, size_t count, size_t width)
{
    for (size_t i = 0; i < count; i++, p += width)
        for (size_t a = 0, b = width - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}
#else
#define GAN_HOST_BIG_ENDIAN 0
#endif

/* ------------------------------------------------------------------ locale */
void gan_c_locale_enter(gan_c_locale *s)
{
    /* glibc returns its static "C" object here without allocating */
    locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    s->saved = c != (locale_t)0 ? uselocale(c) : (locale_t)0;
}

void gan_c_locale_leave(gan_c_locale *s)
{
    if (s->saved == (locale_t)0) return;
    locale_t c = uselocale(s->saved);
    freelocale(c);
    s->saved = (locale_t)0;
}

/* ----------------------------------------------------------------- reading */
static void free_contents(gan_st_file *f)
{
    for (size_t i = 0; i < f->count; i++) gan_dealloc(f->entries[i].name);
    for (size_t i = 0; i < f->nmeta; i++) {
        gan_dealloc(f->meta[i].key);
        gan_dealloc(f->meta[i].value);
    }
    gan_dealloc(f->entries);
    gan_dealloc(f->meta);
}

void gan_st_close(gan_st_file *f)
{
    if (f == NULL) return;
    free_contents(f);
    if (f->fd >= 0) close(f->fd);
    gan_dealloc(f->path);
    gan_dealloc(f);
}

static int cmp_entry_name(const void *a, const void *b)
{
    return strcmp(((const gan_st_entry *)a)->name, ((const gan_st_entry *)b)->name);
}

static int cmp_entry_offset(const void *a, const void *b)
{
    const gan_st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_meta_key(const void *a, const void *b)
{
    return strcmp(((const gan_st_meta *)a)->key, ((const gan_st_meta *)b)->key);
}

/* A JSON integer in [0, INT64_MAX]. */
static bool json_nonneg(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* Fill e from the header's description of one tensor. */
static gan_status parse_entry(const gan_st_file *f, const char *name, json_t *desc,
                              gan_st_entry *e)
{
    const char *p = f->path;
    if (!json_is_object(desc))
        return gan_fail(GAN_E_FORMAT, "%s: tensor '%s': description is not a JSON object", p, name);
    json_t *dtype = json_object_get(desc, "dtype");
    json_t *shape = json_object_get(desc, "shape");
    json_t *offs = json_object_get(desc, "data_offsets");
    if (!json_is_string(dtype) || !json_is_array(shape) || !json_is_array(offs))
        return gan_fail(GAN_E_FORMAT,
                        "%s: tensor '%s' needs string 'dtype', array 'shape' and array 'data_offsets'",
                        p, name);
    if (!dtype_from_name(json_string_value(dtype), &e->dtype))
        return gan_fail(GAN_E_FORMAT, "%s: tensor '%s' has unknown dtype '%.40s'", p, name,
                        json_string_value(dtype));
    size_t ndim = json_array_size(shape);
    if (ndim > GAN_ST_MAX_DIMS)
        return gan_fail(GAN_E_FORMAT, "%s: tensor '%s' has %zu dimensions (at most %d supported)",
                        p, name, ndim, GAN_ST_MAX_DIMS);
    e->ndim = (int)ndim;
    uint64_t numel = 1;
    for (size_t i = 0; i < ndim; i++) {
        uint64_t d;
        if (!json_nonneg(json_array_get(shape, i), &d))
            return gan_fail(GAN_E_FORMAT, "%s: tensor '%s': shape[%zu] is not a non-negative integer",
                            p, name, i);
        e->shape[i] = (int64_t)d;
        if (d != 0 && numel > (uint64_t)INT64_MAX / d)
            return gan_fail(GAN_E_FORMAT, "%s: tensor '%s': the product of its shape overflows",
                            p, name);
        numel *= d;
    }
    size_t width = gan_st_dtype_size(e->dtype);
    if (numel > (uint64_t)INT64_MAX / width)
        return gan_fail(GAN_E_FORMAT, "%s: tensor '%s': its byte size overflows", p, name);
    e->numel = (int64_t)numel;
    if (json_array_size(offs) != 2 || !json_nonneg(json_array_get(offs, 0), &e->begin) ||
        !json_nonneg(json_array_get(offs, 1), &e->end))
        return gan_fail(GAN_E_FORMAT, "%s: tensor '%s': data_offsets must be [begin, end], two non-negative integers",
                        p, name);
    if (e->begin > e->end || e->end > f->data_len)
        return gan_fail(GAN_E_FORMAT,
                        "%s: tensor '%s': data_offsets [%llu, %llu] out of range (data section is %llu bytes)",
                        p, name, (unsigned long long)e->begin, (unsigned long long)e->end,
                        (unsigned long long)f->data_len);
    if (e->end - e->begin != numel * width)
        return gan_fail(GAN_E_FORMAT,
                        "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, but %lld elements of %s need %llu",
                        p, name, (unsigned long long)e->begin, (unsigned long long)e->end,
                        (unsigned long long)(e->end - e->begin), (long long)numel,
                        gan_st_dtype_name(e->dtype), (unsigned long long)(numel * width));
    if ((e->name = gan_strdup(name)) == NULL) return GAN_E_NOMEM;
    return GAN_OK;
}

static gan_status parse_metadata(gan_st_file *f, json_t *m)
{
    if (!json_is_object(m))
        return gan_fail(GAN_E_FORMAT, "%s: __metadata__ is not a JSON object", f->path);
    size_t n = json_object_size(m);
    if (n == 0) return GAN_OK;
    if ((f->meta = gan_alloc_zero(n * sizeof *f->meta)) == NULL) return GAN_E_NOMEM;
    const char *key;
    json_t *v;
    json_object_foreach(m, key, v) {
        if (!json_is_string(v))
            return gan_fail(GAN_E_FORMAT, "%s: __metadata__ value of '%.60s' is not a string",
                            f->path, key);
        gan_st_meta *kv = &f->meta[f->nmeta++];
        if ((kv->key = gan_strdup(key)) == NULL ||
            (kv->value = gan_strdup(json_string_value(v))) == NULL)
            return GAN_E_NOMEM;
    }
    qsort(f->meta, f->nmeta, sizeof *f->meta, cmp_meta_key);
    return GAN_OK;
}

/* The tensors must tile [0, data_len) exactly: sorted by offset, each one
 * begins where the previous ended. */
static gan_status check_coverage(gan_st_file *f)
{
    if (f->count > 1) qsort(f->entries, f->count, sizeof *f->entries, cmp_entry_offset);
    uint64_t at = 0;
    for (size_t i = 0; i < f->count; i++) {
        const gan_st_entry *e = &f->entries[i];
        if (e->begin != at)
            return gan_fail(GAN_E_FORMAT, "%s: tensor '%s' starts at byte %llu, expected %llu (%s)",
                            f->path, e->name, (unsigned long long)e->begin,
                            (unsigned long long)at,
                            e->begin < at ? "it overlaps the previous tensor"
                                          : "there is a gap before it");
        at = e->end;
    }
    if (at != f->data_len)
        return gan_fail(GAN_E_FORMAT,
                        "%s: the tensors cover %llu bytes but the data section holds %llu",
                        f->path, (unsigned long long)at, (unsigned long long)f->data_len);
    return GAN_OK;
}

/* Parse and check the JSON header (n bytes at hdr). */
static gan_status parse_header(gan_st_file *f, const char *hdr, size_t n)
{
    json_error_t err;
    json_t *root = json_loadb(hdr, n, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) {
        if (json_error_code(&err) == json_error_duplicate_key)
            return gan_fail(GAN_E_FORMAT, "%s: the header names a tensor or key twice (%s)",
                            f->path, err.text);
        return gan_fail(GAN_E_FORMAT, "%s: the header is not valid JSON (byte %d: %s)", f->path,
                        err.position, err.text);
    }
    gan_status st = GAN_OK;
    if (!json_is_object(root)) {
        st = gan_fail(GAN_E_FORMAT, "%s: the header is not a JSON object", f->path);
        goto done;
    }
    size_t total = json_object_size(root);
    json_t *meta = json_object_get(root, "__metadata__");
    size_t count = total - (meta != NULL);
    if (count > 0 && (f->entries = gan_alloc_zero(count * sizeof *f->entries)) == NULL) {
        st = GAN_E_NOMEM;
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (v == meta) continue;
        st = parse_entry(f, key, v, &f->entries[f->count]);
        if (f->entries[f->count].name != NULL) f->count++;
        if (st != GAN_OK) goto done;
    }
    if (meta != NULL && (st = parse_metadata(f, meta)) != GAN_OK) goto done;
    if ((st = check_coverage(f)) != GAN_OK) goto done;
    if (f->count > 1) qsort(f->entries, f->count, sizeof *f->entries, cmp_entry_name);
    for (size_t i = 1; i < f->count; i++)
        if (strcmp(f->entries[i - 1].name, f->entries[i].name) == 0) {
            st = gan_fail(GAN_E_FORMAT, "%s: tensor '%s' appears twice", f->path,
                          f->entries[i].name);
            goto done;
        }
done:
    json_decref(root);
    return st;
}

/* Check the 8-byte length prefix against the limits and the total size. */
static gan_status check_header_len(const gan_st_file *f, uint64_t n, uint64_t total)
{
    if (n > GAN_ST_MAX_HEADER)
        return gan_fail(GAN_E_FORMAT, "%s: header length %llu exceeds the limit of %llu bytes",
                        f->path, (unsigned long long)n, (unsigned long long)GAN_ST_MAX_HEADER);
    if (n > total - 8)
        return gan_fail(GAN_E_FORMAT,
                        "%s: header length %llu reaches beyond the end of the %llu-byte file",
                        f->path, (unsigned long long)n, (unsigned long long)total);
    if (n < 2)
        return gan_fail(GAN_E_FORMAT, "%s: header length %llu is too short for a JSON object",
                        f->path, (unsigned long long)n);
    return GAN_OK;
}

static gan_st_file *new_file(const char *path)
{
    gan_st_file *f = gan_alloc_zero(sizeof *f);
    if (f == NULL) return NULL;
    f->fd = -1;
    if ((f->path = gan_strdup(path)) == NULL) {
        gan_dealloc(f);
        return NULL;
    }
    return f;
}

/* pread exactly n bytes at off.  0: done; 1: end of file first; -1: error. */
static int pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = pread(fd, p, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n, (off_t)off);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return -1;
        if (got == 0) return 1;
        p += got;
        n -= (size_t)got;
        off += (uint64_t)got;
    }
    return 0;
}

gan_status gan_st_open(gan_st_file **out, const char *path)
{
    GAN_CHECK_NULL(out, "gan_st_open");
    *out = NULL;
    GAN_CHECK_NULL(path, "gan_st_open");
    gan_st_file *f = new_file(path);
    if (f == NULL) return GAN_E_NOMEM;
    gan_status st = GAN_OK;
    char *hdr = NULL;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer */
    f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat sb;
    if (f->fd < 0 || fstat(f->fd, &sb) != 0) {
        st = gan_fail(GAN_E_IO, "%s: cannot open: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = gan_fail(GAN_E_IO, "%s: not a regular file", path);
        goto done;
    }
    uint64_t total = (uint64_t)sb.st_size;
    unsigned char len8[8];
    if (total < 8) {
        st = gan_fail(GAN_E_FORMAT, "%s: the file is %llu bytes, too short for the 8-byte header length",
                      path, (unsigned long long)total);
        goto done;
    }
    int r = pread_full(f->fd, len8, 8, 0);
    if (r != 0) {
        st = r < 0 ? gan_fail(GAN_E_IO, "%s: read failed: %s", path, strerror(errno))
                   : gan_fail(GAN_E_FORMAT, "%s: the file ended while reading its header length", path);
        goto done;
    }
    uint64_t n = load_le64(len8);
    if ((st = check_header_len(f, n, total)) != GAN_OK) goto done;
    if ((hdr = gan_alloc((size_t)n)) == NULL) {
        st = GAN_E_NOMEM;
        goto done;
    }
    if ((r = pread_full(f->fd, hdr, (size_t)n, 8)) != 0) {
        st = r < 0 ? gan_fail(GAN_E_IO, "%s: read failed: %s", path, strerror(errno))
                   : gan_fail(GAN_E_FORMAT, "%s: the file ended inside its header", path);
        goto done;
    }
    f->header_len = n;
    f->data_len = total - 8 - n;
    st = parse_header(f, hdr, (size_t)n);
done:
    gan_dealloc(hdr);
    if (st != GAN_OK) {
        gan_st_close(f);
        return st;
    }
    *out = f;
    return GAN_OK;
}

gan_status gan_st_open_memory(gan_st_file **out, const void *buf, size_t len)
{
    GAN_CHECK_NULL(out, "gan_st_open_memory");
    *out = NULL;
    GAN_CHECK_NULL(buf, "gan_st_open_memory");
    gan_st_file *f = new_file("<memory>");
    if (f == NULL) return GAN_E_NOMEM;
    f->mem = buf;
    gan_status st;
    if (len < 8) {
        st = gan_fail(GAN_E_FORMAT, "%s: the image is %zu bytes, too short for the 8-byte header length",
                      f->path, len);
    } else {
        uint64_t n = load_le64(f->mem);
        st = check_header_len(f, n, len);
        if (st == GAN_OK) {
            f->header_len = n;
            f->data_len = len - 8 - n;
            st = parse_header(f, (const char *)f->mem + 8, (size_t)n);
        }
    }
    if (st != GAN_OK) {
        gan_st_close(f);
        return st;
    }
    *out = f;
    return GAN_OK;
}

const gan_st_entry *gan_st_find(const gan_st_file *f, const char *name)
{
    if (f == NULL || f->count == 0) return NULL;
    gan_st_entry key = {.name = (char *)name};
    return bsearch(&key, f->entries, f->count, sizeof *f->entries, cmp_entry_name);
}

const char *gan_st_get_meta(const gan_st_file *f, const char *key)
{
    if (f == NULL || f->nmeta == 0) return NULL;
    gan_st_meta k = {.key = (char *)key};
    const gan_st_meta *m = bsearch(&k, f->meta, f->nmeta, sizeof *f->meta, cmp_meta_key);
    return m ? m->value : NULL;
}

gan_status gan_st_read(const gan_st_file *f, const gan_st_entry *e, void *dst)
{
    size_t bytes = (size_t)(e->end - e->begin);
    uint64_t off = 8 + f->header_len + e->begin;
    if (f->fd < 0) {
        memcpy(dst, f->mem + off, bytes);
    } else {
        int r = pread_full(f->fd, dst, bytes, off);
        if (r < 0) return gan_fail(GAN_E_IO, "%s: read failed: %s", f->path, strerror(errno));
        if (r > 0)
            return gan_fail(GAN_E_FORMAT, "%s: the file ended inside tensor '%s' (did it change while loading?)",
                            f->path, e->name);
    }
#if GAN_HOST_BIG_ENDIAN
    swap_elements(dst, (size_t)e->numel, gan_st_dtype_size(e->dtype));
#endif
    return GAN_OK;
}

/* ----------------------------------------------------------------- writing */
static int cmp_out_order(const void *a, const void *b)
{
    const gan_st_out *x = *(const gan_st_out *const *)a, *y = *(const gan_st_out *const *)b;
    if (x->dtype != y->dtype) return x->dtype > y->dtype ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int64_t out_numel(const gan_st_out *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

/* Compact JSON header for tensors in `order`, padded to a multiple of 8.
 * Returns a gan_alloc'ed buffer and its length in *len. */
static gan_status build_header(char **out, size_t *len, const gan_st_out *const *order,
                               size_t count, const char *const *meta, size_t nmeta)
{
    json_t *root = json_object();
    bool ok = root != NULL;
    if (ok && nmeta > 0) {
        json_t *m = json_object();
        ok = m != NULL && json_object_set_new(root, "__metadata__", m) == 0;
        for (size_t i = 0; ok && i < nmeta; i++)
            ok = json_object_set_new(m, meta[2 * i], json_string(meta[2 * i + 1])) == 0;
    }
    uint64_t at = 0;
    for (size_t i = 0; ok && i < count; i++) {
        const gan_st_out *t = order[i];
        uint64_t bytes = (uint64_t)out_numel(t) * gan_st_dtype_size(t->dtype);
        json_t *shape = json_array(), *desc = json_object();
        ok = shape != NULL && desc != NULL;
        for (int d = 0; ok && d < t->ndim; d++)
            ok = json_array_append_new(shape, json_integer(t->shape[d])) == 0;
        ok = ok && json_object_set_new(desc, "dtype", json_string(gan_st_dtype_name(t->dtype))) == 0;
        ok = ok && json_object_set(desc, "shape", shape) == 0;
        ok = ok && json_object_set_new(desc, "data_offsets",
                                       json_pack("[II]", (json_int_t)at, (json_int_t)(at + bytes))) == 0;
        ok = ok && json_object_set(root, t->name, desc) == 0;
        json_decref(shape);
        json_decref(desc);
        at += bytes;
    }
    char *text = ok ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (text == NULL)
        return gan_fail(GAN_E_NOMEM, "safetensors: cannot build the JSON header (out of memory or a name is not UTF-8)");
    size_t n = strlen(text), padded = (n + 7) & ~(size_t)7;
    char *buf = gan_alloc(padded);
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree);
    if (buf == NULL) {
        jfree(text);
        return GAN_E_NOMEM;
    }
    memcpy(buf, text, n);
    memset(buf + n, ' ', padded - n);
    jfree(text);
    *out = buf;
    *len = padded;
    return GAN_OK;
}

static int write_full(int fd, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t put = write(fd, p, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
        if (put < 0 && errno == EINTR) continue;
        if (put < 0) return -1;
        p += put;
        n -= (size_t)put;
    }
    return 0;
}

/* Little-endian bytes of one tensor. */
static int write_tensor(int fd, const gan_st_out *t)
{
    size_t width = gan_st_dtype_size(t->dtype), bytes = (size_t)out_numel(t) * width;
#if GAN_HOST_BIG_ENDIAN
    unsigned char chunk[1 << 16];
    const unsigned char *src = t->data;
    for (size_t done = 0; done < bytes;) {
        size_t n = bytes - done < sizeof chunk ? bytes - done : sizeof chunk;
        memcpy(chunk, src + done, n);
        swap_elements(chunk, n / width, width);
        if (write_full(fd, chunk, n) != 0) return -1;
        done += n;
    }
    return 0;
#else
    (void)width;
    return write_full(fd, t->data, bytes);
#endif
}

/* Create "<path>.tmp-<pid>-<n>" exclusively; permissions follow the umask. */
static int create_temp(const char *path, char *tmp, size_t cap)
{
    static atomic_uint counter;
    for (int attempt = 0; attempt < 64; attempt++) {
        snprintf(tmp, cap, "%s.tmp-%ld-%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    errno = EEXIST;
    return -1;
}

/* fsync the directory holding path so the rename is durable (best effort:
 * some file systems refuse to fsync a directory). */
static void sync_parent_dir(const char *path, char *scratch)
{
    strcpy(scratch, path);
    char *slash = strrchr(scratch, '/');
    const char *dir = scratch;
    if (slash == NULL) dir = ".";
    else if (slash == scratch) slash[1] = '\0';
    else *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

gan_status gan_st_save(const char *path, const gan_st_out *tensors, size_t count,
                       const char *const *meta, size_t nmeta)
{
    static const char fn[] = "gan_st_save";
    GAN_CHECK_NULL(path, fn);
    if (count > 0) GAN_CHECK_NULL(tensors, fn);
    if (nmeta > 0) GAN_CHECK_NULL(meta, fn);
    const gan_st_out **order = gan_alloc((count ? count : 1) * sizeof *order);
    size_t cap = strlen(path) + 64;
    char *tmp = gan_alloc(cap);
    char *hdr = NULL;
    size_t hdr_len = 0;
    gan_status st = GAN_OK;
    int fd = -1;
    bool created = false;
    if (order == NULL || tmp == NULL) {
        st = GAN_E_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(tensors[i].name, tensors[j].name) == 0) {
                st = gan_fail(GAN_E_INVALID, "%s: tensor name '%s' given twice", fn, tensors[i].name);
                goto done;
            }
    for (size_t i = 0; i < count; i++) order[i] = &tensors[i];
    if (count > 1) qsort(order, count, sizeof *order, cmp_out_order);
    if ((st = build_header(&hdr, &hdr_len, order, count, meta, nmeta)) != GAN_OK) goto done;
    if ((fd = create_temp(path, tmp, cap)) < 0) {
        st = gan_fail(GAN_E_IO, "%s: cannot create a temporary file next to it: %s", path,
                      strerror(errno));
        goto done;
    }
    created = true;
    unsigned char len8[8];
    store_le64(len8, hdr_len);
    int bad = write_full(fd, len8, 8) || write_full(fd, hdr, hdr_len);
    for (size_t i = 0; !bad && i < count; i++) bad = write_tensor(fd, order[i]);
    if (bad || fsync(fd) != 0) {
        st = gan_fail(GAN_E_IO, "%s: cannot write '%s': %s", path, tmp, strerror(errno));
        goto done;
    }
    int rc = close(fd);
    fd = -1;
    if (rc != 0) {
        st = gan_fail(GAN_E_IO, "%s: cannot write '%s': %s", path, tmp, strerror(errno));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        st = gan_fail(GAN_E_IO, "%s: cannot rename the temporary file over it: %s", path,
                      strerror(errno));
        goto done;
    }
    created = false;
    sync_parent_dir(path, tmp); /* the temporary name is spent: reuse its buffer */
done:
    if (fd >= 0) close(fd);
    if (created) unlink(tmp);
    gan_dealloc(hdr);
    gan_dealloc(tmp);
    gan_dealloc(order);
    return st;
}
