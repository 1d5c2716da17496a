/* safetensors.h — private reader and writer for the safetensors format.
 *
 * File layout (all little-endian):
 *   u64 N                 length of the JSON header in bytes
 *   N bytes               JSON object: for each tensor
 *                           "name": {"dtype": "F32", "shape": [..],
 *                                    "data_offsets": [begin, end]}
 *                         and optionally "__metadata__": {string: string};
 *                         padded with spaces so 8 + N is a multiple of 8
 *   data                  the tensors' bytes; offsets are relative to here
 *
 * The reader trusts nothing: it reads the header (at most
 * GAN_ST_MAX_HEADER bytes, never more than the file holds), parses it with
 * jansson, and checks every entry — known dtype, shape product without
 * overflow, offsets that match the shape, and offsets that tile the data
 * section exactly (no gap, no overlap, nothing left over).  Tensor data is
 * read only on request (gan_st_read), so the caller can check names and
 * shapes against what it expects before allocating anything for the data.
 */
#ifndef GAN_IO_SAFETENSORS_H
#define GAN_IO_SAFETENSORS_H

#include "internal.h"

#include <locale.h>

/* Largest header accepted.  jansson's tree costs up to ~20 bytes per header
 * byte, so this also bounds the parser's memory (~320 MiB at the worst);
 * real checkpoints have headers of a few KiB. */
#define GAN_ST_MAX_HEADER ((uint64_t)16 << 20)
/* Largest tensor rank accepted (libgan itself uses at most 4). */
#define GAN_ST_MAX_DIMS 8

/* Dtypes of the format, in the reference implementation's order (the writer
 * sorts tensors by dtype, largest enum first, then by name). */
typedef enum gan_st_dtype {
    GAN_ST_BOOL,
    GAN_ST_U8,
    GAN_ST_I8,
    GAN_ST_F8_E5M2,
    GAN_ST_F8_E4M3,
    GAN_ST_I16,
    GAN_ST_U16,
    GAN_ST_F16,
    GAN_ST_BF16,
    GAN_ST_I32,
    GAN_ST_U32,
    GAN_ST_F32,
    GAN_ST_F64,
    GAN_ST_I64,
    GAN_ST_U64,
    GAN_ST_DTYPE_COUNT
} gan_st_dtype;

/* "F32" etc. */
const char *gan_st_dtype_name(gan_st_dtype dtype);
/* Bytes per element. */
size_t gan_st_dtype_size(gan_st_dtype dtype);

/* One tensor of a parsed header. */
typedef struct gan_st_entry {
    char *name;
    gan_st_dtype dtype;
    int ndim;                        /* 0 for a scalar */
    int64_t shape[GAN_ST_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end;             /* byte offsets into the data section */
} gan_st_entry;

/* One "__metadata__" pair. */
typedef struct gan_st_meta {
    char *key;
    char *value;
} gan_st_meta;

/* An open, validated safetensors file (or memory image). */
typedef struct gan_st_file {
    gan_st_entry *entries;  /* sorted by name */
    size_t count;
    gan_st_meta *meta;      /* sorted by key */
    size_t nmeta;
    uint64_t header_len;    /* N */
    uint64_t data_len;      /* bytes after the header */
    int fd;                 /* -1 for a memory image */
    const unsigned char *mem;
    char *path;             /* for messages ("<memory>" for images) */
} gan_st_file;

/* Open and validate a file's header.  GAN_E_IO if it cannot be opened or
 * read (or is not a regular file), GAN_E_FORMAT for any corrupt or
 * unsupported structure, GAN_E_NOMEM. */
gan_status gan_st_open(gan_st_file **out, const char *path);
/* The same over a caller-owned buffer that must outlive the handle. */
gan_status gan_st_open_memory(gan_st_file **out, const void *buf, size_t len);
void gan_st_close(gan_st_file *f);

/* Entry by exact name, NULL if absent. */
const gan_st_entry *gan_st_find(const gan_st_file *f, const char *name);
/* Metadata value by key, NULL if absent. */
const char *gan_st_get_meta(const gan_st_file *f, const char *key);

/* Copy an entry's raw bytes (e->end - e->begin of them) into dst, in host
 * byte order for numeric dtypes.  GAN_E_FORMAT if the file turned out
 * shorter than its header said (it changed under us), GAN_E_IO on read
 * errors. */
gan_status gan_st_read(const gan_st_file *f, const gan_st_entry *e, void *dst);

/* A tensor to write.  data is host-order, numel elements of dtype. */
typedef struct gan_st_out {
    const char *name;
    gan_st_dtype dtype;
    int ndim;                        /* 0 for a scalar */
    int64_t shape[GAN_ST_MAX_DIMS];
    const void *data;
} gan_st_out;

/* Write tensors and metadata (meta[2i] = key, meta[2i+1] = value) to path,
 * atomically: the bytes go to a new temporary file in the same directory,
 * which is flushed, fsync'ed and renamed over path; the directory is then
 * fsync'ed.  A crash at any point leaves either the old file or the new one
 * (and perhaps a stale "<path>.tmp-*" file).  GAN_E_IO with the system's
 * reason on failure (the temporary file is removed); GAN_E_INVALID for
 * duplicate names. */
gan_status gan_st_save(const char *path, const gan_st_out *tensors, size_t count,
                       const char *const *meta, size_t nmeta);

/* Switch the calling thread to the "C" locale so printf and strtod use '.'
 * whatever locale the host application chose, and back.  Text formats
 * (architecture, metadata values) are written and read between the two. */
typedef struct gan_c_locale {
    locale_t saved; /* (locale_t)0 if switching was not possible */
} gan_c_locale;
void gan_c_locale_enter(gan_c_locale *s);
void gan_c_locale_leave(gan_c_locale *s);

#endif /* GAN_IO_SAFETENSORS_H */
