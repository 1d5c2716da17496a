/* internal.h — private declarations shared by libgan's sources.
 *
 * Nothing here is installed.  Data flows one way:
 *   trainer -> model -> layers -> tensor -> core (status, alloc, rng, threads)
 */
#ifndef GAN_INTERNAL_H
#define GAN_INTERNAL_H

#include "gan.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ errors */
/* Record a formatted message for gan_last_error() and return `status`:
 *     return gan_fail(GAN_E_SHAPE, "conv2d: input has %lld channels, ...", c);
 */
gan_status gan_fail(gan_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Return GAN_E_NULL with a message naming the function and argument. */
#define GAN_CHECK_NULL(ptr, fn)                                                 \
    do {                                                                        \
        if ((ptr) == NULL)                                                      \
            return gan_fail(GAN_E_NULL, "%s: argument '%s' is NULL", (fn), #ptr); \
    } while (0)

/* Propagate a failure: GAN_TRY(call); */
#define GAN_TRY(expr)                                                           \
    do {                                                                        \
        gan_status gan_try_s_ = (expr);                                         \
        if (gan_try_s_ != GAN_OK) return gan_try_s_;                            \
    } while (0)

/* -------------------------------------------------------------- allocation */
/* All memory comes from here, through the user's allocator hook.  Blocks are
 * aligned to GAN_ALIGN bytes (AVX-512 friendly).  Failures set a message. */
#define GAN_ALIGN 64
void *gan_alloc(size_t size);         /* NULL on failure (message set)       */
void *gan_alloc_zero(size_t size);    /* zero-filled                         */
void gan_dealloc(void *ptr);          /* NULL is fine                        */
/* a * b without overflow: false if it would overflow. */
bool gan_mul_size(size_t a, size_t b, size_t *out);
/* Allocate `count` floats (zeroed), checking count * 4 for overflow. */
float *gan_alloc_floats(int64_t count);
/* Duplicate a string with gan_alloc. */
char *gan_strdup(const char *s);

/* ----------------------------------------------------------------- threads */
/* Make sure the BLAS runtime is set up (core selection, thread count).
 * Idempotent and cheap after the first call. */
void gan_runtime_init(void);

/* ----------------------------------------------------------------- tensors */
/* Per-sample or full shape: ndim 1..4 (per-sample shapes use 1..3). */
typedef struct gan_shape {
    int ndim;
    int64_t d[GAN_MAX_DIMS];
} gan_shape;

int64_t gan_shape_numel(const gan_shape *s);
bool gan_shape_equal(const gan_shape *a, const gan_shape *b);
/* "(3, 28, 28)" into buf; returns buf. */
const char *gan_shape_str(const gan_shape *s, char *buf, size_t cap);
/* Validate ndim 1..4, each size >= 1, product fits int64 and size_t bytes.
 * `what` names the caller in the message. */
gan_status gan_shape_check(int ndim, const int64_t *shape, const char *what);

struct gan_tensor {
    gan_shape shape;
    int64_t numel;
    float *data;
    bool owns_data;   /* data came from gan_alloc and is freed with us       */
    bool embedded;    /* lives inside another object: gan_tensor_free ignores */
};

/* Make an embedded (non-freeable) view over `data`. */
void gan_tensor_view(gan_tensor *t, float *data, const gan_shape *shape);
/* The full shape of a batch: (n, per-sample...). */
gan_shape gan_batch_shape(int64_t n, const gan_shape *sample);

/* --------------------------------------------------------------------- rng */
struct gan_rng {
    uint64_t s[4];
    bool has_spare;   /* Box-Muller gives two normals; the second is kept */
    float spare;
};
/* One standard normal variate. */
float gan_rng_normal(gan_rng *rng);

/* ------------------------------------------------------------------ layers */
/* Each layer kind lives in src/layers/<kind>.c and fills a gan_layer_ops.
 * Kernels take outputs first, then inputs, then sizes.  Shapes in comments
 * are (N, ...) with N the batch.  Backward *adds* into parameter gradients
 * and skips dx when it is NULL. */
/* A rectifier y = x > 0 ? x : slope x: relu (leaky false, +0 for x <= 0)
 * or leaky_relu.  A model lets a batchnorm apply the rectifier that follows
 * it inside its own passes (model.c). */
typedef struct gan_rect {
    bool leaky;
    float slope;
} gan_rect;

typedef struct gan_layer_ops {
    const char *kind; /* "conv2d" */
    /* Check the per-sample input shape and compute the output shape.  On a
     * mismatch return gan_fail(GAN_E_SHAPE, ...) naming layer, expected and
     * actual shapes. */
    gan_status (*attach)(gan_layer *l, const gan_shape *in, gan_shape *out);
    /* Plan scratch for `batch` samples (called only when batch grows): the
     * owner then provides scratch_bytes(l) in l->scratch.  May be NULL when
     * the kind needs no scratch. */
    gan_status (*reserve)(gan_layer *l, int64_t batch);
    /* y (N, out...) = f(x (N, in...)). */
    void (*forward)(gan_layer *l, float *y, const float *x, int64_t n);
    /* dx (N, in...) from dy (N, out...); x and y are the forward's.
     * Adds parameter gradients only when param_grads is true. */
    void (*backward)(gan_layer *l, float *dx, const float *dy, const float *x,
                     const float *y, int64_t n, bool param_grads);
    /* Re-draw parameters (NULL when the kind has none). */
    void (*init)(gan_layer *l, gan_init scheme, gan_rng *rng);
    /* Apply a gan_layer_setting (NULL when the kind has none). */
    gan_status (*set)(gan_layer *l, gan_layer_setting setting, double value);
    /* One line of architecture text without newline, snprintf semantics:
     * "conv2d in=1 out=64 k=4x4 s=2 p=1 bias=0". */
    int (*describe)(const gan_layer *l, char *buf, size_t cap);
    /* Free kind-specific memory (impl); NULL if none. */
    void (*destroy)(gan_layer *l);
    /* GAN_LAYER_* trait bits of this layer as configured (what a model's
     * buffer planning may do with it); NULL: none. */
    unsigned (*traits)(const gan_layer *l);
    /* Bytes of scratch the layer needs in l->scratch for its reserved batch
     * (its owner provides them); NULL: none. */
    size_t (*scratch_bytes)(const gan_layer *l);
    /* Fusion with a following rectifier (model.c); all NULL for most kinds.
     * rectifier: is this layer one (relu, leaky_relu)?  Then true and *r.
     * forward_rect: y = r(f(x)) in one go.  backward_rect: its backward,
     * with y = r(f(x)) and dy = dL/dy; dx is never NULL and may not be dy. */
    bool (*rectifier)(const gan_layer *l, gan_rect *r);
    void (*forward_rect)(gan_layer *l, float *y, const float *x, int64_t n, gan_rect r);
    void (*backward_rect)(gan_layer *l, float *dx, const float *dy, const float *x,
                          const float *y, int64_t n, bool param_grads, gan_rect r);
} gan_layer_ops;

/* Layer traits (gan_layer_ops.traits). */
#define GAN_LAYER_IN_PLACE 1u  /* forward works with y == x, and backward reads
                                  y, never x: it may overwrite its input    */
#define GAN_LAYER_BWD_NO_Y 2u  /* backward never reads y: a following
                                  in-place layer may overwrite it           */

#define GAN_LAYER_MAX_TENSORS 4

/* One named tensor of a layer: a parameter (with a gradient) or a buffer. */
typedef struct gan_layer_slot {
    const char *name;   /* "weight", "bias", "running_mean", "running_var" */
    gan_shape shape;
    bool is_buffer;     /* no gradient; not trained                       */
    gan_tensor value;   /* embedded view                                   */
    gan_tensor grad;    /* embedded view; data NULL for buffers            */
} gan_layer_slot;

struct gan_layer {
    const gan_layer_ops *ops;
    gan_shape in, out;       /* per-sample shapes, valid once attached */
    bool attached;
    bool training;
    gan_model *owner;        /* model that owns this layer, or NULL    */
    int nslots;
    gan_layer_slot slot[GAN_LAYER_MAX_TENSORS];
    /* Storage of the slots.  params: values then grads of the trainable
     * slots (a model moves these into its own buffers and frees this);
     * buffers: values of buffer slots (stays with the layer). */
    float *param_storage;
    float *buffer_storage;
    int64_t num_batches_tracked; /* batchnorm's counter (PyTorch I64)   */
    int64_t reserved_batch;      /* scratch is sized for this many      */
    /* Scratch the layer uses only during its own forward or backward call
     * (ops->scratch_bytes of it): the owning model's arena, shared by all
     * its layers, or own_scratch for a standalone layer.  Set by whoever
     * called gan_layer_reserve, before the layer runs. */
    void *scratch;
    void *own_scratch;
    size_t own_scratch_bytes;
    /* What forward recorded for backward (standalone use). */
    const float *saved_x;
    const float *saved_y;
    gan_shape saved_y_shape;     /* full (N, ...) shape of that y        */
    int64_t saved_n;             /* 0: no forward yet                    */
    void *impl;                  /* kind-specific state                  */
};

/* For layer constructors: allocate a layer with `ops`, declare slots, then
 * call gan_layer_finish once.  Returns NULL (message set) on failure. */
gan_layer *gan_layer_new(const gan_layer_ops *ops);
/* Declare a slot (before gan_layer_finish).  */
void gan_layer_add_slot(gan_layer *l, const char *name, int ndim, const int64_t *shape,
                        bool is_buffer);
/* Last step of every constructor: allocate storage for the declared slots
 * and apply PyTorch's default initialisation from a stream seeded by
 * GAN_DEFAULT_INIT_SEED and the layer's description.  On failure the layer
 * is destroyed and *out set to NULL. */
gan_status gan_layer_finish(gan_layer *l, gan_layer **out);
/* Free a layer regardless of its owner (models use this). */
void gan_layer_destroy(gan_layer *l);
/* Plan scratch for n samples if needed (calls ops->reserve); the caller
 * then provides gan_layer_scratch_need(l) bytes in l->scratch. */
gan_status gan_layer_reserve(gan_layer *l, int64_t n);
size_t gan_layer_scratch_need(const gan_layer *l);
/* Fill helpers used by init functions. */
void gan_fill_normal(float *p, int64_t n, float mean, float std, gan_rng *rng);
void gan_fill_uniform(float *p, int64_t n, float lo, float hi, gan_rng *rng);
/* Seed of the RNG that initialises newly created layers with PyTorch's
 * default scheme (each constructor uses its own stream from this seed). */
#define GAN_DEFAULT_INIT_SEED 0x67616e00ULL

/* --------------------------------------------------------------------- BLAS */
/* All matrix products go through these two thin wrappers over cblas_sgemm
 * (row-major).  C (m, n) = alpha * op(A) (m, k) * op(B) (k, n) + beta * C. */
void gan_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
               float *c, int64_t ldc);

#endif /* GAN_INTERNAL_H */
