/* idx.c — IDX files (MNIST / Fashion-MNIST), plain or gzip, a dataset handle
 * and a batch loader with seeded shuffling.
 *
 * IDX layout (big-endian): 00 00 <dtype> <ndim>, ndim u32 sizes, then the
 * elements in row-major order.  Only dtype 0x08 (unsigned byte) is read.
 * Images are idx3 (N, H, W), grey, or idx4 (N, C, H, W), channel-major like
 * the tensors (what `gan sample --format idx` writes for colour); labels
 * are idx1 (N).
 *
 * Hostile files: every size comes from the header, so the header is checked
 * against the file before anything large is allocated.  A plain file must be
 * exactly header + payload bytes long.  A gzip file cannot inflate to more
 * than DEFLATE_MAX_RATIO times its own size, so a header claiming more is
 * rejected at once; after that the stream must deliver exactly the claimed
 * payload and then end (truncation, trailing bytes and corrupt streams are
 * all GAN_E_FORMAT).  Memory: the output tensor plus two 64 KiB buffers and
 * zlib's state, all through the allocator hook.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_DTYPE_U8 0x08
#define IDX_CHUNK ((size_t)1 << 16)
/* deflate's best case is 258 bytes per 2-bit code plus block overhead:
 * just under 1032:1.  Slack for the gzip header and tiny files. */
#define DEFLATE_MAX_RATIO 1032u
#define DEFLATE_SLACK 4096u

/* ------------------------------------------------------------ byte source */
/* Reads an IDX file's bytes, inflating when the file is gzip. */
typedef struct idx_src {
    const char *path;
    FILE *f;
    uint64_t file_size;
    bool gz;
    bool gz_ready;       /* inflateInit2 succeeded: inflateEnd needed */
    bool member_ended;   /* last inflate returned Z_STREAM_END         */
    z_stream zs;
    unsigned char *in;   /* (IDX_CHUNK) compressed input              */
} idx_src;

static void *zlib_alloc(void *opaque, unsigned items, unsigned size)
{
    (void)opaque;
    size_t bytes;
    if (!gan_mul_size(items, size, &bytes)) return NULL;
    return gan_alloc(bytes);
}

static void zlib_free(void *opaque, void *ptr)
{
    (void)opaque;
    gan_dealloc(ptr);
}

static void src_close(idx_src *s)
{
    if (s->gz_ready) inflateEnd(&s->zs);
    gan_dealloc(s->in);
    if (s->f != NULL) fclose(s->f);
    s->f = NULL;
    s->in = NULL;
    s->gz_ready = false;
}

static gan_status src_open(idx_src *s, const char *path, const char *fn)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    s->f = fopen(path, "rb");
    if (s->f == NULL)
        return gan_fail(GAN_E_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
    struct stat st;
    if (fstat(fileno(s->f), &st) != 0 || !S_ISREG(st.st_mode)) {
        src_close(s);
        return gan_fail(GAN_E_IO, "%s: '%s' is not a regular file", fn, path);
    }
    s->file_size = (uint64_t)st.st_size;
    unsigned char magic[2] = {0, 0};
    size_t got = fread(magic, 1, 2, s->f);
    rewind(s->f);
    s->gz = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (!s->gz) return GAN_OK;

    s->in = gan_alloc(IDX_CHUNK);
    if (s->in == NULL) {
        src_close(s);
        return GAN_E_NOMEM;
    }
    s->zs.zalloc = zlib_alloc;
    s->zs.zfree = zlib_free;
    s->zs.opaque = NULL;
    s->zs.next_in = s->in;
    s->zs.avail_in = 0;
    if (inflateInit2(&s->zs, 16 + MAX_WBITS) != Z_OK) { /* 16: gzip wrapper only */
        src_close(s);
        return gan_fail(GAN_E_NOMEM, "%s: cannot initialise zlib for '%s'", fn, path);
    }
    s->gz_ready = true;
    return GAN_OK;
}

/* Refill the compressed input buffer; false at end of file. */
static bool src_fill(idx_src *s)
{
    size_t n = fread(s->in, 1, IDX_CHUNK, s->f);
    s->zs.next_in = s->in;
    s->zs.avail_in = (uInt)n;
    return n > 0;
}

/* Read up to n bytes into dst; *got receives how many arrived (fewer only
 * at the end of the data).  GAN_E_FORMAT for a corrupt gzip stream. */
static gan_status src_read(idx_src *s, unsigned char *dst, size_t n, size_t *got,
                           const char *fn)
{
    *got = 0;
    if (!s->gz) {
        *got = fread(dst, 1, n, s->f);
        if (*got < n && ferror(s->f))
            return gan_fail(GAN_E_IO, "%s: read error in '%s'", fn, s->path);
        return GAN_OK;
    }
    s->zs.next_out = dst;
    s->zs.avail_out = (uInt)n;
    while (s->zs.avail_out > 0) {
        if (s->zs.avail_in == 0 && !src_fill(s)) {
            if (ferror(s->f)) return gan_fail(GAN_E_IO, "%s: read error in '%s'", fn, s->path);
            if (!s->member_ended)
                return gan_fail(GAN_E_FORMAT, "%s: '%s': gzip stream is truncated", fn, s->path);
            break; /* clean end after a complete member */
        }
        if (s->member_ended) {
            /* more input after a complete member: it must be another member */
            inflateReset(&s->zs);
            s->member_ended = false;
        }
        int rc = inflate(&s->zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            s->member_ended = true;
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return gan_fail(GAN_E_FORMAT, "%s: '%s': corrupt gzip data (%s)", fn, s->path,
                            s->zs.msg ? s->zs.msg : "zlib error");
        }
    }
    *got = n - s->zs.avail_out;
    return GAN_OK;
}

/* Read exactly n bytes: GAN_E_FORMAT naming `what` if the data ends early. */
static gan_status src_read_exact(idx_src *s, unsigned char *dst, size_t n, const char *what,
                                 const char *fn)
{
    size_t got;
    GAN_TRY(src_read(s, dst, n, &got, fn));
    if (got < n)
        return gan_fail(GAN_E_FORMAT, "%s: '%s' is truncated: %s needs %zu bytes, found %zu", fn,
                        s->path, what, n, got);
    return GAN_OK;
}

/* ------------------------------------------------------------------ header */
typedef struct idx_header {
    int ndim;
    uint32_t dims[4];
    uint64_t count;       /* product of dims = payload bytes (u8) */
    uint64_t header_size; /* 4 + 4 * ndim                         */
} idx_header;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const char *dtype_name(int code)
{
    switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    }
    return NULL;
}

/* What a reader takes: min_ndim..max_ndim dimensions, described as `what`
 * in the message for any other count. */
typedef struct idx_kind {
    int min_ndim, max_ndim;
    const char *what;
} idx_kind;

static const idx_kind IDX_IMAGES = {3, 4, "images N x H x W or N x C x H x W"};
static const idx_kind IDX_LABELS = {1, 1, "labels N"};

/* Read and validate the header of a u8 file of that kind. */
static gan_status read_header(idx_src *s, const idx_kind *kind, idx_header *h, const char *fn)
{
    unsigned char b[4];
    GAN_TRY(src_read_exact(s, b, 4, "the 4-byte magic", fn));
    if (b[0] != 0 || b[1] != 0)
        return gan_fail(GAN_E_FORMAT,
                        "%s: '%s' is not an IDX file (magic %02x %02x %02x %02x, expected 00 00 ..)",
                        fn, s->path, b[0], b[1], b[2], b[3]);
    const char *dname = dtype_name(b[2]);
    if (dname == NULL)
        return gan_fail(GAN_E_FORMAT, "%s: '%s': unknown IDX data type 0x%02x", fn, s->path, b[2]);
    if (b[2] != IDX_DTYPE_U8)
        return gan_fail(GAN_E_UNSUPPORTED,
                        "%s: '%s' holds %s elements (type 0x%02x); only unsigned bytes (0x08) "
                        "are supported",
                        fn, s->path, dname, b[2]);
    if (b[3] < kind->min_ndim || b[3] > kind->max_ndim) {
        char want[16];
        if (kind->min_ndim == kind->max_ndim) snprintf(want, sizeof want, "%d", kind->min_ndim);
        else snprintf(want, sizeof want, "%d or %d", kind->min_ndim, kind->max_ndim);
        return gan_fail(GAN_E_FORMAT, "%s: '%s' has %d dimensions, expected %s (%s)", fn, s->path,
                        b[3], want, kind->what);
    }
    h->ndim = b[3];
    h->header_size = 4 + 4 * (uint64_t)h->ndim;
    unsigned char d[16] = {0}; /* (4 * ndim) big-endian sizes */
    GAN_TRY(src_read_exact(s, d, 4 * (size_t)h->ndim, "the dimension sizes", fn));
    h->count = 1;
    for (int i = 0; i < h->ndim; i++) {
        h->dims[i] = be32(d + 4 * i);
        if (h->dims[i] == 0)
            return gan_fail(GAN_E_FORMAT, "%s: '%s': dimension %d has size 0", fn, s->path, i);
        if (h->count > UINT64_MAX / h->dims[i])
            return gan_fail(GAN_E_OVERFLOW, "%s: '%s': element count overflows at dimension %d",
                            fn, s->path, i);
        h->count *= h->dims[i];
    }
    /* Compare the claim with what the file can hold before allocating. */
    if (!s->gz) {
        uint64_t want = h->header_size + h->count;
        if (want < h->count || s->file_size < want)
            return gan_fail(GAN_E_FORMAT,
                            "%s: '%s' is truncated: header promises %llu data bytes, file has %llu",
                            fn, s->path, (unsigned long long)h->count,
                            (unsigned long long)(s->file_size - h->header_size));
        if (s->file_size > want)
            return gan_fail(GAN_E_FORMAT, "%s: '%s' has %llu trailing bytes after the data", fn,
                            s->path, (unsigned long long)(s->file_size - want));
    } else {
        uint64_t cap = s->file_size > (UINT64_MAX - DEFLATE_SLACK) / DEFLATE_MAX_RATIO
                           ? UINT64_MAX
                           : s->file_size * DEFLATE_MAX_RATIO + DEFLATE_SLACK;
        if (h->count > cap - h->header_size)
            return gan_fail(GAN_E_FORMAT,
                            "%s: '%s': header promises %llu data bytes, more than a %llu-byte "
                            "gzip file can hold",
                            fn, s->path, (unsigned long long)h->count,
                            (unsigned long long)s->file_size);
    }
    return GAN_OK;
}

/* After the payload: the data must end here. */
static gan_status check_end(idx_src *s, const char *fn)
{
    unsigned char extra[256];
    size_t got;
    GAN_TRY(src_read(s, extra, sizeof extra, &got, fn));
    if (got > 0)
        return gan_fail(GAN_E_FORMAT, "%s: '%s' has trailing bytes after the data", fn, s->path);
    return GAN_OK;
}

/* Stream `count` payload bytes through `convert` in chunks. */
typedef void (*idx_sink)(void *dst, int64_t offset, const unsigned char *src, size_t n);

static gan_status read_payload(idx_src *s, uint64_t count, idx_sink sink, void *dst,
                               const char *fn)
{
    unsigned char *buf = gan_alloc(IDX_CHUNK); /* (IDX_CHUNK) raw bytes */
    if (buf == NULL) return GAN_E_NOMEM;
    gan_status st = GAN_OK;
    for (uint64_t done = 0; done < count && st == GAN_OK;) {
        size_t n = count - done < IDX_CHUNK ? (size_t)(count - done) : IDX_CHUNK;
        st = src_read_exact(s, buf, n, "the data", fn);
        if (st == GAN_OK) sink(dst, (int64_t)done, buf, n);
        done += n;
    }
    gan_dealloc(buf);
    return st == GAN_OK ? check_end(s, fn) : st;
}

/* pixel v -> v / 127.5 - 1 (in double, correctly rounded to float) */
static void to_pixels(void *dst, int64_t offset, const unsigned char *src, size_t n)
{
    float *out = (float *)dst + offset;
    for (size_t i = 0; i < n; i++) out[i] = (float)(src[i] / 127.5 - 1.0);
}

static void to_labels(void *dst, int64_t offset, const unsigned char *src, size_t n)
{
    int32_t *out = (int32_t *)dst + offset;
    for (size_t i = 0; i < n; i++) out[i] = src[i];
}

gan_status gan_idx_read_images(gan_tensor **out, const char *path)
{
    static const char fn[] = "gan_idx_read_images";
    GAN_CHECK_NULL(out, fn);
    *out = NULL;
    GAN_CHECK_NULL(path, fn);
    idx_src s;
    GAN_TRY(src_open(&s, path, fn));
    idx_header h;
    gan_status st = read_header(&s, &IDX_IMAGES, &h, fn);
    gan_tensor *t = NULL;
    if (st == GAN_OK) {
        int64_t shape[4] = {h.dims[0], 1, h.dims[1], h.dims[2]}; /* (N, 1, H, W) from idx3 */
        if (h.ndim == 4) {
            shape[1] = h.dims[1]; /* (N, C, H, W) from idx4 */
            shape[2] = h.dims[2];
            shape[3] = h.dims[3];
        }
        st = gan_tensor_create(&t, 4, shape);
    }
    if (st == GAN_OK) st = read_payload(&s, h.count, to_pixels, t->data, fn);
    src_close(&s);
    if (st != GAN_OK) {
        gan_tensor_free(t);
        return st;
    }
    *out = t;
    return GAN_OK;
}

gan_status gan_idx_read_labels(int32_t **out, int64_t *count, const char *path)
{
    static const char fn[] = "gan_idx_read_labels";
    GAN_CHECK_NULL(out, fn);
    *out = NULL;
    GAN_CHECK_NULL(count, fn);
    *count = 0;
    GAN_CHECK_NULL(path, fn);
    idx_src s;
    GAN_TRY(src_open(&s, path, fn));
    idx_header h;
    gan_status st = read_header(&s, &IDX_LABELS, &h, fn);
    int32_t *labels = NULL; /* (N) */
    size_t bytes = 0;
    if (st == GAN_OK && !gan_mul_size((size_t)h.count, sizeof *labels, &bytes))
        st = gan_fail(GAN_E_OVERFLOW, "%s: '%s': %llu labels overflow memory sizes", fn, path,
                      (unsigned long long)h.count);
    if (st == GAN_OK && (labels = gan_alloc(bytes)) == NULL) st = GAN_E_NOMEM;
    if (st == GAN_OK) st = read_payload(&s, h.count, to_labels, labels, fn);
    src_close(&s);
    if (st != GAN_OK) {
        gan_dealloc(labels);
        return st;
    }
    *out = labels;
    *count = (int64_t)h.count;
    return GAN_OK;
}

void gan_labels_free(int32_t *labels)
{
    gan_dealloc(labels);
}

/* ----------------------------------------------------------------- dataset */
struct gan_dataset {
    gan_tensor *images; /* (N, sample...) */
    int32_t *labels;    /* (N) or NULL    */
    int64_t n;
    int64_t sample_numel;
};

gan_status gan_dataset_create(gan_dataset **out, gan_tensor *images, const int32_t *labels)
{
    static const char fn[] = "gan_dataset_create";
    GAN_CHECK_NULL(out, fn);
    *out = NULL;
    GAN_CHECK_NULL(images, fn);
    if (images->embedded || images->shape.ndim < 2)
        return gan_fail(GAN_E_INVALID,
                        "%s: images must be a free-standing tensor (N, ...) with at least 2 "
                        "dimensions, got ndim %d",
                        fn, images->shape.ndim);
    gan_dataset *ds = gan_alloc_zero(sizeof *ds);
    if (ds == NULL) return GAN_E_NOMEM;
    ds->n = images->shape.d[0];
    ds->sample_numel = images->numel / ds->n;
    if (labels != NULL) {
        ds->labels = gan_alloc((size_t)ds->n * sizeof *ds->labels);
        if (ds->labels == NULL) {
            gan_dealloc(ds);
            return GAN_E_NOMEM;
        }
        memcpy(ds->labels, labels, (size_t)ds->n * sizeof *ds->labels);
    }
    ds->images = images;
    *out = ds;
    return GAN_OK;
}

gan_status gan_dataset_load_idx(gan_dataset **out, const char *images_path,
                                const char *labels_path)
{
    static const char fn[] = "gan_dataset_load_idx";
    GAN_CHECK_NULL(out, fn);
    *out = NULL;
    GAN_CHECK_NULL(images_path, fn);
    gan_tensor *images = NULL;
    int32_t *labels = NULL;
    int64_t nlabels = 0;
    GAN_TRY(gan_idx_read_images(&images, images_path));
    gan_status st = GAN_OK;
    if (labels_path != NULL) {
        st = gan_idx_read_labels(&labels, &nlabels, labels_path);
        if (st == GAN_OK && nlabels != images->shape.d[0])
            st = gan_fail(GAN_E_SHAPE, "%s: '%s' has %lld images but '%s' has %lld labels", fn,
                          images_path, (long long)images->shape.d[0], labels_path,
                          (long long)nlabels);
    }
    gan_dataset *ds = NULL;
    if (st == GAN_OK) st = gan_dataset_create(&ds, images, labels);
    gan_labels_free(labels);
    if (st != GAN_OK) {
        gan_tensor_free(images);
        return st;
    }
    *out = ds;
    return GAN_OK;
}

void gan_dataset_free(gan_dataset *ds)
{
    if (ds == NULL) return;
    gan_tensor_free(ds->images);
    gan_dealloc(ds->labels);
    gan_dealloc(ds);
}

int64_t gan_dataset_size(const gan_dataset *ds)
{
    return ds ? ds->n : 0;
}

const gan_tensor *gan_dataset_images(const gan_dataset *ds)
{
    return ds ? ds->images : NULL;
}

const int32_t *gan_dataset_labels(const gan_dataset *ds)
{
    return ds ? ds->labels : NULL;
}

/* ------------------------------------------------------------------ loader */
struct gan_loader {
    const gan_dataset *ds; /* borrowed */
    int64_t batch;
    unsigned flags;
    uint64_t seed;
    int64_t epoch;
    int64_t pos;       /* next index into order                 */
    bool ended;        /* this epoch's end was reported          */
    int64_t *order;    /* (N) sample order of the current epoch  */
    gan_rng rng;
};

/* Uniform integer in [0, bound), bound >= 1, without modulo bias: reject
 * the lowest 2^64 mod bound raw values. */
static uint64_t rng_below(gan_rng *rng, uint64_t bound)
{
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t x = gan_rng_next_u64(rng);
        if (x >= threshold) return x % bound;
    }
}

/* The order of epoch `epoch`: identity, or a Fisher-Yates shuffle drawn from
 * a stream that depends only on (seed, epoch). */
static void loader_start_epoch(gan_loader *l, int64_t epoch)
{
    int64_t n = l->ds->n;
    for (int64_t i = 0; i < n; i++) l->order[i] = i;
    if (l->flags & GAN_LOADER_SHUFFLE) {
        gan_rng_seed(&l->rng, l->seed ^ ((uint64_t)epoch * 0x9e3779b97f4a7c15ULL));
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)rng_below(&l->rng, (uint64_t)i + 1);
            int64_t tmp = l->order[i];
            l->order[i] = l->order[j];
            l->order[j] = tmp;
        }
    }
    l->epoch = epoch;
    l->pos = 0;
    l->ended = false;
}

gan_status gan_loader_create(gan_loader **out, const gan_dataset *ds, int64_t batch,
                             unsigned flags, uint64_t seed)
{
    static const char fn[] = "gan_loader_create";
    GAN_CHECK_NULL(out, fn);
    *out = NULL;
    GAN_CHECK_NULL(ds, fn);
    if (batch < 1)
        return gan_fail(GAN_E_INVALID, "%s: batch size %lld, must be >= 1", fn, (long long)batch);
    if (flags & ~(unsigned)(GAN_LOADER_SHUFFLE | GAN_LOADER_DROP_LAST))
        return gan_fail(GAN_E_INVALID, "%s: unknown flags 0x%x", fn, flags);
    if ((flags & GAN_LOADER_DROP_LAST) && batch > ds->n)
        return gan_fail(GAN_E_INVALID,
                        "%s: batch size %lld with drop-last leaves no batch of %lld samples", fn,
                        (long long)batch, (long long)ds->n);
    gan_loader *l = gan_alloc_zero(sizeof *l);
    if (l == NULL) return GAN_E_NOMEM;
    l->order = gan_alloc((size_t)ds->n * sizeof *l->order);
    if (l->order == NULL) {
        gan_dealloc(l);
        return GAN_E_NOMEM;
    }
    l->ds = ds;
    l->batch = batch;
    l->flags = flags;
    l->seed = seed;
    loader_start_epoch(l, 0);
    *out = l;
    return GAN_OK;
}

void gan_loader_free(gan_loader *l)
{
    if (l == NULL) return;
    gan_dealloc(l->order);
    gan_dealloc(l);
}

gan_status gan_loader_set_epoch(gan_loader *l, int64_t epoch)
{
    GAN_CHECK_NULL(l, "gan_loader_set_epoch");
    if (epoch < 0)
        return gan_fail(GAN_E_INVALID, "gan_loader_set_epoch: epoch %lld, must be >= 0",
                        (long long)epoch);
    loader_start_epoch(l, epoch);
    return GAN_OK;
}

int64_t gan_loader_epoch(const gan_loader *l)
{
    return l ? l->epoch : 0;
}

int64_t gan_loader_batches_per_epoch(const gan_loader *l)
{
    if (l == NULL) return 0;
    if (l->flags & GAN_LOADER_DROP_LAST) return l->ds->n / l->batch;
    return (l->ds->n + l->batch - 1) / l->batch;
}

gan_status gan_loader_next(gan_loader *l, gan_tensor *batch, int32_t *labels, int64_t *count)
{
    static const char fn[] = "gan_loader_next";
    if (count != NULL) *count = 0;
    GAN_CHECK_NULL(l, fn);
    GAN_CHECK_NULL(batch, fn);
    GAN_CHECK_NULL(count, fn);
    const gan_dataset *ds = l->ds;
    int64_t per = ds->sample_numel;
    if (batch->shape.d[0] != l->batch || batch->numel != l->batch * per) {
        char have[64], want[64];
        gan_shape sample = ds->images->shape;
        sample.d[0] = l->batch;
        return gan_fail(GAN_E_SHAPE,
                        "%s: batch tensor is %s, expected %s or another shape with %lld rows "
                        "of %lld elements",
                        fn, gan_shape_str(&batch->shape, have, sizeof have),
                        gan_shape_str(&sample, want, sizeof want), (long long)l->batch,
                        (long long)per);
    }
    if (labels != NULL && ds->labels == NULL)
        return gan_fail(GAN_E_INVALID, "%s: labels requested but the dataset has none", fn);
    if (l->ended) loader_start_epoch(l, l->epoch + 1);
    int64_t left = ds->n - l->pos;
    int64_t take = left < l->batch ? left : l->batch;
    if (take == 0 || (take < l->batch && (l->flags & GAN_LOADER_DROP_LAST))) {
        l->ended = true; /* report the end once; the next call starts a new epoch */
        return GAN_OK;
    }
    const float *src = ds->images->data; /* (N, per) */
    float *dst = batch->data;            /* (B, per) */
    for (int64_t i = 0; i < take; i++) {
        int64_t k = l->order[l->pos + i];
        memcpy(dst + i * per, src + k * per, (size_t)per * sizeof *dst);
        if (labels != NULL) labels[i] = ds->labels[k];
    }
    l->pos += take;
    *count = take;
    return GAN_OK;
}
