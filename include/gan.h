/*
 * gan.h — libgan, an embeddable C11 library for building and training
 * Generative Adversarial Networks (GANs and DCGANs) on the CPU.
 *
 * Overview
 * --------
 * A GAN is two networks playing a minimax game.  The generator G maps noise
 * z to samples; the discriminator D scores real data as 1 and G's samples
 * as 0.  Training alternates: D learns on a real batch and a fake batch, then
 * G learns through the combined G->D graph while D is *frozen* (gradients
 * flow through D into G; D's weights do not move).
 *
 * The objects, from the bottom up:
 *
 *   gan_tensor   float32, row-major (N, C, H, W), 1 to 4 dimensions
 *   gan_rng      explicit random stream (xoshiro256**, 64-bit seed)
 *   gan_layer    one operation with explicit forward and backward passes:
 *                dense, conv2d, conv_transpose2d, batchnorm, relu,
 *                leaky_relu, tanh, sigmoid, reshape, flatten
 *   gan_model    a sequential stack of layers with planned buffers, a
 *                train/eval mode and a freeze flag
 *   gan_optimizer  Adam or SGD (PyTorch's update formulas) over one model
 *   gan_trainer  G, D, two optimizers, a loss and a noise source;
 *                gan_train_step() performs one minimax step
 *
 * Conventions (they hold for every call in this header)
 * -----------------------------------------------------
 * - Every fallible call returns a gan_status; GAN_OK is 0.  After a failure,
 *   gan_last_error() returns a human message (thread-local) naming what was
 *   wrong and the values involved.
 * - Two statuses are not repeated in every comment below: GAN_E_NULL when a
 *   required pointer argument (handle, out-parameter, path) is NULL, and
 *   GAN_E_NOMEM from any call that allocates.  Each comment names the
 *   others.  Calls that return a value rather than a status (counts,
 *   getters) return 0, NULL or "" for a NULL handle.
 * - Constructors hand the new handle back through an out-parameter, which is
 *   set to NULL on failure.  Every handle has a _free function; _free(NULL)
 *   does nothing.
 * - Getters borrow: a returned pointer stays owned by the object it came
 *   from.  A container takes ownership of what is added to it only when the
 *   add succeeds.
 * - The library never prints, exits, aborts or asserts on user input.
 * - Each handle is used by one thread at a time; distinct handles may be
 *   used from distinct threads concurrently.  A handle and what it borrows
 *   or owns count as one (a trainer with its models, optimizers and RNG; an
 *   optimizer with its model; a loader with its dataset).  Process-wide
 *   settings (allocator, thread count) are set before handles are created.
 * - Enum values are fixed and new ones are only ever appended.
 *
 * Example: a tiny MLP GAN on 2-D points
 * -------------------------------------
 *     gan_model *g, *d;  gan_layer *l;  gan_trainer *t;
 *     int64_t zshape[1] = {8}, xshape[1] = {2};
 *     gan_model_create(&g, 1, zshape);
 *     gan_layer_dense(&l, 8, 64, 1);  gan_model_add(g, l);
 *     gan_layer_relu(&l);             gan_model_add(g, l);
 *     gan_layer_dense(&l, 64, 2, 1);  gan_model_add(g, l);
 *     gan_model_create(&d, 1, xshape);
 *     gan_layer_dense(&l, 2, 64, 1);  gan_model_add(d, l);
 *     gan_layer_leaky_relu(&l, 0.2f); gan_model_add(d, l);
 *     gan_layer_dense(&l, 64, 1, 1);  gan_model_add(d, l);
 *
 *     gan_trainer_config cfg;
 *     gan_trainer_config_default(&cfg);          // non-saturating, Adam 2e-4
 *     if (gan_trainer_create(&t, g, d, &cfg) != GAN_OK)   // t now owns g, d
 *         fprintf(stderr, "%s\n", gan_last_error());
 *     for (int step = 0; step < 1000; step++) {
 *         fill_real_batch(real);                 // your data, shape (64, 2)
 *         gan_step_stats s;
 *         gan_train_step(t, real, &s);           // D real, D fake, G step
 *     }
 *     gan_trainer_free(t);
 *
 * Build with:  cc app.c $(pkg-config --cflags --libs gan)
 */
#ifndef GAN_H
#define GAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ export */
#if defined(GAN_BUILDING_LIBRARY) && defined(__GNUC__)
#define GAN_API __attribute__((visibility("default")))
#else
#define GAN_API
#endif

/* ----------------------------------------------------------------- version */
/* The one place the version lives; the Makefile derives the soname
 * (libgan.so.MAJOR) and gan.pc's Version from these three lines. */
#define GAN_VERSION_MAJOR 0
#define GAN_VERSION_MINOR 1
#define GAN_VERSION_PATCH 0
#define GAN_VERSION_NUMBER \
    (GAN_VERSION_MAJOR * 10000 + GAN_VERSION_MINOR * 100 + GAN_VERSION_PATCH)

/* Runtime version: MAJOR*10000 + MINOR*100 + PATCH of the loaded library. */
GAN_API unsigned gan_version_number(void);
/* Runtime version as "MAJOR.MINOR.PATCH" (static storage). */
GAN_API const char *gan_version_string(void);

/* ------------------------------------------------------------------ status */
/* Result of every fallible call.  Values are fixed; new ones are appended. */
typedef enum gan_status {
    GAN_OK = 0,
    GAN_E_NULL = 1,        /* a required pointer argument was NULL           */
    GAN_E_INVALID = 2,     /* an argument value is out of range              */
    GAN_E_SHAPE = 3,       /* tensor or layer shapes do not fit together     */
    GAN_E_NOMEM = 4,       /* an allocation failed                           */
    GAN_E_OVERFLOW = 5,    /* a size computation would overflow              */
    GAN_E_STATE = 6,       /* call out of order (e.g. backward before forward) */
    GAN_E_IO = 7,          /* a file could not be opened, read or written    */
    GAN_E_FORMAT = 8,      /* a file's contents are corrupt or not supported */
    GAN_E_NUMERIC = 9,     /* NaN or Inf appeared; nothing was updated       */
    GAN_E_UNSUPPORTED = 10 /* valid request this build cannot perform        */
} gan_status;

/* Constant name of a status ("GAN_E_SHAPE"); "GAN_E_UNKNOWN" for others. */
GAN_API const char *gan_status_string(gan_status status);

/* Message describing the calling thread's most recent failure, or "" if the
 * thread has had none.  Valid until the thread's next libgan call. */
GAN_API const char *gan_last_error(void);

/* -------------------------------------------------------------- allocator */
/* Replacement for malloc/free.  alloc_fn returns NULL on failure; free_fn
 * accepts NULL.  libgan aligns its buffers itself, so alloc_fn need only give
 * malloc's alignment. */
typedef struct gan_allocator {
    void *(*alloc_fn)(void *user, size_t size);
    void (*free_fn)(void *user, void *ptr);
    void *user;
} gan_allocator;

/* Install an allocator for all later allocations (NULL restores malloc/free).
 * Call it while no libgan object exists: memory is returned to the
 * allocator that gave it.  Returns GAN_E_INVALID if a function is NULL. */
GAN_API gan_status gan_set_allocator(const gan_allocator *allocator);

/* ---------------------------------------------------------------- threads */
/* Number of threads for BLAS and libgan's own loops (n >= 1; default: the
 * number of online cores, at most 64).  GAN_E_INVALID for n < 1.
 * Process-wide: call it while no other thread is inside libgan. */
GAN_API gan_status gan_set_num_threads(int n);
/* The thread count in effect (the default until gan_set_num_threads). */
GAN_API int gan_get_num_threads(void);

/* One line describing the runtime: libgan version, BLAS library, its CPU
 * core (kernel set) and thread count.  Static storage. */
GAN_API const char *gan_runtime_info(void);

/* ----------------------------------------------------------------- tensors */
#define GAN_MAX_DIMS 4

/* float32 tensor, row-major, 1 to GAN_MAX_DIMS dimensions, each >= 1. */
typedef struct gan_tensor gan_tensor;

/* New tensor owning zero-filled storage.  GAN_E_INVALID for ndim outside
 * 1..4 or a size < 1; GAN_E_OVERFLOW if the element count overflows. */
GAN_API gan_status gan_tensor_create(gan_tensor **out, int ndim, const int64_t *shape);
/* New tensor borrowing `data` (at least numel floats), which the caller keeps
 * alive and frees after gan_tensor_free.  GAN_E_NULL if data is NULL;
 * shape statuses as for gan_tensor_create. */
GAN_API gan_status gan_tensor_wrap(gan_tensor **out, float *data, int ndim, const int64_t *shape);
/* Free a tensor made by gan_tensor_create / gan_tensor_wrap (a wrapped
 * tensor's data stays the caller's) or handed out as new by a reader
 * (gan_idx_read_images, gan_tensor_load).  NULL, and tensors borrowed from
 * a model or layer (gan_model_forward's y, gan_model_tensor's value), are
 * ignored. */
GAN_API void gan_tensor_free(gan_tensor *t);
/* Shape queries; on a NULL tensor they return 0. */
GAN_API int gan_tensor_ndim(const gan_tensor *t);
GAN_API int64_t gan_tensor_dim(const gan_tensor *t, int axis); /* 0 if out of range */
/* Number of elements, the product of the sizes (0 for NULL). */
GAN_API int64_t gan_tensor_numel(const gan_tensor *t);
/* Borrowed pointer to the elements (NULL for a NULL tensor). */
GAN_API float *gan_tensor_data(gan_tensor *t);
/* The same pointer, read-only. */
GAN_API const float *gan_tensor_cdata(const gan_tensor *t);
/* Set every element to value. */
GAN_API gan_status gan_tensor_fill(gan_tensor *t, float value);
/* Copy elements; shapes must have equal numel (GAN_E_SHAPE otherwise). */
GAN_API gan_status gan_tensor_copy(gan_tensor *dst, const gan_tensor *src);
/* Change the shape in place, keeping numel (GAN_E_SHAPE otherwise; a bad
 * shape gives gan_tensor_create's statuses). */
GAN_API gan_status gan_tensor_reshape(gan_tensor *t, int ndim, const int64_t *shape);

/* --------------------------------------------------------------------- rng */
/* xoshiro256** seeded through splitmix64: identical integer and uniform
 * streams on every platform.  Normal variates use the Box-Muller transform
 * on pairs of uniforms. */
typedef struct gan_rng gan_rng;

/* New generator seeded with `seed` (any value, 0 included). */
GAN_API gan_status gan_rng_create(gan_rng **out, uint64_t seed);
/* Free a generator from gan_rng_create (NULL: no-op).  Never pass the
 * trainer's own RNG (gan_trainer_rng): it belongs to the trainer. */
GAN_API void gan_rng_free(gan_rng *rng);
/* Restart the stream from `seed`, exactly as gan_rng_create(seed) would. */
GAN_API gan_status gan_rng_seed(gan_rng *rng, uint64_t seed);
/* Next raw 64-bit value (0 for a NULL rng). */
GAN_API uint64_t gan_rng_next_u64(gan_rng *rng);
/* Uniform float in [0, 1) with 24 random bits (0 for a NULL rng). */
GAN_API float gan_rng_uniform(gan_rng *rng);
/* Fill every element of t with N(mean, std^2) variates.  GAN_E_INVALID
 * unless mean and std are finite and std >= 0. */
GAN_API gan_status gan_rng_fill_normal(gan_rng *rng, gan_tensor *t, float mean, float std);
/* Fill every element of t with U[lo, hi) variates.  GAN_E_INVALID unless
 * lo and hi are finite and lo <= hi. */
GAN_API gan_status gan_rng_fill_uniform(gan_rng *rng, gan_tensor *t, float lo, float hi);
/* The complete state, for checkpoints: 5 words (4 of xoshiro, 1 holding a
 * cached normal variate). */
#define GAN_RNG_STATE_WORDS 5
/* Copy the state out; restoring it with gan_rng_set_state continues the
 * stream exactly where it was. */
GAN_API gan_status gan_rng_get_state(const gan_rng *rng, uint64_t state[GAN_RNG_STATE_WORDS]);
/* Restore a state from gan_rng_get_state.  GAN_E_INVALID for a state no
 * generator can be in (the four xoshiro words all zero, or a malformed
 * fifth word); the generator is unchanged then. */
GAN_API gan_status gan_rng_set_state(gan_rng *rng, const uint64_t state[GAN_RNG_STATE_WORDS]);

/* ------------------------------------------------------------------ layers */
/* One operation with explicit forward and backward passes.  Weight layouts
 * are PyTorch's: dense (out, in), conv2d (out, in, kh, kw),
 * conv_transpose2d (in, out, kh, kw).  New layers are initialised with
 * PyTorch's default scheme from a fixed seed; see gan_layer_init. */
typedef struct gan_layer gan_layer;

/* Layer constructors return the new layer through *out (NULL on failure);
 * the caller owns it until gan_model_add succeeds.  bias: 0 for none,
 * anything else for a learnable bias. */

/* y = x W^T + b.  Input (N, in), output (N, out).  GAN_E_INVALID unless
 * both sizes are >= 1. */
GAN_API gan_status gan_layer_dense(gan_layer **out, int in_features, int out_features, int bias);
/* 2-D convolution of (N, in_channels, H, W) into (N, out_channels, Ho, Wo);
 * output size (in + 2*pad - k) / stride + 1 per axis.  GAN_E_INVALID for a
 * channel count, kernel side or stride < 1 or padding < 0; GAN_E_OVERFLOW
 * if in_channels * kernel_h * kernel_w exceeds INT_MAX. */
GAN_API gan_status gan_layer_conv2d(gan_layer **out, int in_channels, int out_channels,
                                    int kernel_h, int kernel_w, int stride, int padding,
                                    int bias);
/* Transposed convolution (the gradient of conv2d, "deconvolution") of
 * (N, in_channels, H, W) into (N, out_channels, Ho, Wo); output size
 * (in - 1) * stride - 2 * pad + kernel + output_padding per axis.
 * GAN_E_INVALID as for conv2d and unless 0 <= output_padding < stride;
 * GAN_E_OVERFLOW if out_channels * kernel_h * kernel_w exceeds INT_MAX. */
GAN_API gan_status gan_layer_conv_transpose2d(gan_layer **out, int in_channels,
                                              int out_channels, int kernel_h, int kernel_w,
                                              int stride, int padding, int output_padding,
                                              int bias);
/* Batch normalisation per channel of (N, C, H, W) or per feature of (N, F).
 * Learnable gamma ("weight", init 1) and beta ("bias", init 0); buffers
 * running_mean, running_var and num_batches_tracked.  Training mode
 * normalises with the biased batch variance and updates the running mean
 * and the *unbiased* running variance with momentum 0.1; eval mode uses the
 * running statistics.  eps 1e-5 (both settable, see gan_layer_set).
 * GAN_E_INVALID for num_features < 1; GAN_E_SHAPE at attach unless the
 * input has num_features channels / features. */
GAN_API gan_status gan_layer_batchnorm(gan_layer **out, int num_features);
/* Elementwise activations, any per-sample shape (output shape = input). */
GAN_API gan_status gan_layer_relu(gan_layer **out);                     /* max(0, x) */
/* x > 0 ? x : slope * x (DCGAN's D uses 0.2).  GAN_E_INVALID for a slope
 * that is not a finite float. */
GAN_API gan_status gan_layer_leaky_relu(gan_layer **out, float slope);
/* tanh(x): G's last layer, mapping to [-1, 1] like the scaled data. */
GAN_API gan_status gan_layer_tanh(gan_layer **out);
GAN_API gan_status gan_layer_sigmoid(gan_layer **out);                  /* 1/(1+e^-x) */
/* View each sample with a new per-sample shape (1 to 3 dims, same numel).
 * GAN_E_INVALID for ndim outside 1..3 or a size < 1 (GAN_E_OVERFLOW if
 * the sizes multiply past memory); GAN_E_SHAPE at attach if the element
 * counts differ. */
GAN_API gan_status gan_layer_reshape(gan_layer **out, int ndim, const int64_t *shape);
/* Each sample to one dimension: (N, C, H, W) -> (N, C*H*W) (any input). */
GAN_API gan_status gan_layer_flatten(gan_layer **out);
/* Free a layer that is not in a model (a layer owned by a model is freed by
 * gan_model_free; calling this on it does nothing). */
GAN_API void gan_layer_free(gan_layer *layer);

/* Kind of a layer: "dense", "conv2d", "conv_transpose2d", "batchnorm",
 * "relu", "leaky_relu", "tanh", "sigmoid", "reshape", "flatten"; "" for NULL. */
GAN_API const char *gan_layer_kind(const gan_layer *layer);

/* Tunable settings of a layer. */
typedef enum gan_layer_setting {
    GAN_LAYER_BN_EPS = 0,      /* batchnorm epsilon (> 0), default 1e-5     */
    GAN_LAYER_BN_MOMENTUM = 1, /* batchnorm momentum in [0, 1], default 0.1 */
    GAN_LAYER_LEAKY_SLOPE = 2  /* leaky_relu negative slope                 */
} gan_layer_setting;
/* GAN_E_INVALID if the setting does not apply to this layer kind or the
 * value is out of range. */
GAN_API gan_status gan_layer_set(gan_layer *layer, gan_layer_setting setting, double value);

/* Weight initialisation schemes. */
typedef enum gan_init {
    GAN_INIT_PYTORCH = 0, /* PyTorch's defaults: kaiming-uniform(a=sqrt 5)
                             weights, U(-1/sqrt(fan_in), +) bias, BN 1 / 0 */
    GAN_INIT_DCGAN = 1    /* conv/convT/dense W ~ N(0, 0.02), bias 0,
                             BN gamma ~ N(1, 0.02), beta 0 */
} gan_init;
/* Re-draw the layer's parameters from rng (layers without parameters: OK).
 * GAN_E_INVALID for an unknown scheme. */
GAN_API gan_status gan_layer_init(gan_layer *layer, gan_init scheme, gan_rng *rng);

/* Fix the per-sample input shape (no batch axis) and infer the output shape.
 * GAN_E_SHAPE, with a message naming the layer, the expected and the actual
 * shape, when they do not fit; GAN_E_INVALID for ndim outside 1..3 or a
 * size < 1; GAN_E_OVERFLOW if a size computation overflows; GAN_E_STATE if
 * the layer belongs to a model.  gan_model_add calls this for you. */
GAN_API gan_status gan_layer_attach(gan_layer *layer, int ndim, const int64_t *input_shape);
/* Per-sample output shape after attach (GAN_E_STATE before). */
GAN_API gan_status gan_layer_output_shape(const gan_layer *layer, int *ndim,
                                          int64_t shape[GAN_MAX_DIMS]);

/* y = layer(x), for a layer used on its own (not in a model).  x is
 * (N, input shape...), y is caller-allocated (N, output shape...).  The
 * layer remembers x and y for backward: keep both alive and unchanged until
 * then.  Scratch is sized for the largest N seen.  GAN_E_STATE if the layer
 * is not attached or belongs to a model (use gan_model_forward);
 * GAN_E_SHAPE if x or y has the wrong shape; GAN_E_INVALID if x and y
 * share storage. */
GAN_API gan_status gan_layer_forward(gan_layer *layer, const gan_tensor *x, gan_tensor *y);
/* Given dL/dy, writes dL/dx into dx (NULL: skip that work) and *adds*
 * parameter gradients into the layer's gradient tensors.  GAN_E_STATE if no
 * forward came first or the layer belongs to a model; GAN_E_SHAPE if dy's
 * shape differs from that forward's y or dx is not (N, input shape...). */
GAN_API gan_status gan_layer_backward(gan_layer *layer, const gan_tensor *dy, gan_tensor *dx);
/* Train mode (1, the default) or eval mode (0): matters for batchnorm. */
GAN_API gan_status gan_layer_set_training(gan_layer *layer, int training);
/* Set the layer's parameter gradients to zero (backward only adds). */
GAN_API gan_status gan_layer_zero_grad(gan_layer *layer);

/* Number of parameters and buffers of a layer, in PyTorch's state_dict
 * order ("weight", "bias", "running_mean", "running_var"). */
GAN_API int gan_layer_tensor_count(const gan_layer *layer);
/* Tensor `index` (0..count-1): its name, value and gradient (grad is NULL
 * for buffers; each out-pointer may be NULL).  The tensors are borrowed from
 * the layer (write to them to set weights).  GAN_E_INVALID for an index out
 * of range; for a layer of a model, asking for grad may allocate the
 * model's gradients (see gan_model_tensor) and fail with GAN_E_NOMEM. */
GAN_API gan_status gan_layer_tensor(gan_layer *layer, int index, const char **name,
                                    gan_tensor **value, gan_tensor **grad);

/* ------------------------------------------------------------------ models */
/* A sequential container of layers.  Parameters live in one buffer, their
 * gradients in another (allocated when first needed: see gan_model_tensor);
 * activation buffers are planned for a batch size once (and grown only if a
 * larger batch arrives). */
typedef struct gan_model gan_model;

/* New empty model taking per-sample inputs of the given shape (1 to 3 dims,
 * e.g. {100, 1, 1} for DCGAN noise or {784} for an MLP).  GAN_E_INVALID
 * for ndim outside 1..3 or a size < 1; GAN_E_OVERFLOW for sizes whose
 * product overflows. */
GAN_API gan_status gan_model_create(gan_model **out, int ndim, const int64_t *input_shape);
/* Free the model and its layers.  A model owned by a trainer is freed by
 * gan_trainer_free; calling this on it does nothing. */
GAN_API void gan_model_free(gan_model *model);
/* Attach `layer` to the current output shape and append it.  On success the
 * model owns the layer (its parameters move into the model's buffers, and it
 * takes the model's train/eval mode; create optimizers after the last add);
 * on failure the caller still does.  GAN_E_SHAPE (or GAN_E_INVALID,
 * GAN_E_OVERFLOW) with gan_layer_attach's message when the layer does not
 * fit the model's current output; GAN_E_STATE if the layer already belongs
 * to a model or the model to a trainer (a trainer's models keep the layers
 * they had at its creation); GAN_E_INVALID beyond 100000 layers. */
GAN_API gan_status gan_model_add(gan_model *model, gan_layer *layer);
/* Number of layers added so far. */
GAN_API int gan_model_layer_count(const gan_model *model);
/* Borrowed layer at index (NULL if out of range). */
GAN_API gan_layer *gan_model_layer(gan_model *model, int index);
/* Per-sample input shape: *ndim sizes in shape[0..ndim-1], the rest 0. */
GAN_API gan_status gan_model_input_shape(const gan_model *model, int *ndim,
                                         int64_t shape[GAN_MAX_DIMS]);
/* Per-sample output shape (of the last layer; the input shape while the
 * model has none), written as by gan_model_input_shape. */
GAN_API gan_status gan_model_output_shape(const gan_model *model, int *ndim,
                                          int64_t shape[GAN_MAX_DIMS]);
/* Re-initialise every layer (see gan_layer_init), in order, from rng.
 * GAN_E_INVALID for an unknown scheme. */
GAN_API gan_status gan_model_init(gan_model *model, gan_init scheme, gan_rng *rng);

/* Forward a batch.  *y is borrowed from the model and valid until the next
 * forward.  The model keeps a pointer to x for backward: keep x alive and
 * unchanged until then.  Activation buffers are (re)planned when N exceeds
 * every earlier batch; otherwise nothing is allocated.  GAN_E_SHAPE if x is
 * not (N, input shape...); GAN_E_STATE for a model without layers;
 * GAN_E_INVALID if x is one of this model's own activation buffers;
 * GAN_E_OVERFLOW if N times a layer's output size overflows. */
GAN_API gan_status gan_model_forward(gan_model *model, const gan_tensor *x,
                                     const gan_tensor **y);
/* Backward from dL/dy (shape of the last forward's output).  Accumulates
 * parameter gradients unless the model is frozen.  If dx is not NULL, *dx
 * receives dL/dinput (borrowed, valid until the next backward) — this is how
 * D's input gradient feeds G; with dx NULL the first layer skips that work.
 * GAN_E_STATE if no forward came first (adding a layer also resets this);
 * GAN_E_SHAPE if dy is not the last forward's output shape; GAN_E_NOMEM if
 * the gradient buffer, allocated by the first backward that needs it, cannot
 * be had. */
GAN_API gan_status gan_model_backward(gan_model *model, const gan_tensor *dy,
                                      const gan_tensor **dx);
/* Set all parameter gradients to zero (backward only adds; call it before
 * each step's first backward).  Before the gradient buffer exists they
 * already are: nothing is allocated. */
GAN_API gan_status gan_model_zero_grad(gan_model *model);
/* Train (1, default) or eval (0) mode for every layer. */
GAN_API gan_status gan_model_set_training(gan_model *model, int training);
/* 1 in train mode, 0 in eval mode (or for NULL). */
GAN_API int gan_model_is_training(const gan_model *model);
/* Freeze flag, read at call time.  A frozen model's backward still computes
 * dL/dinput but leaves its parameter gradients untouched, and no optimizer
 * step moves it (Adam moments and step count included).  Independent of the
 * train/eval mode: a frozen model in train mode still normalises batchnorm
 * with batch statistics and updates the running statistics, as PyTorch's
 * DCGAN does with D during G's step. */
GAN_API gan_status gan_model_set_frozen(gan_model *model, int frozen);
/* 1 if frozen, 0 if not (or for NULL). */
GAN_API int gan_model_is_frozen(const gan_model *model);

/* Number of trainable scalars. */
GAN_API int64_t gan_model_param_count(const gan_model *model);
/* Number of named tensors, in PyTorch nn.Sequential state_dict order:
 * "<layer index>.weight", ".bias", ".running_mean", ".running_var" (every
 * layer counts, activations included). */
GAN_API int gan_model_tensor_count(const gan_model *model);
/* Tensor `index` (0..count-1): name, value and gradient (grad is NULL for
 * buffers; each out-pointer may be NULL).  Borrowed from the model: write
 * into value to set weights.  The gradient buffer is allocated (zeroed)
 * when something first needs it — a backward that computes parameter
 * gradients, an optimizer step, a trainer, or asking here for a grad — so a
 * model that only runs forward (a generator drawing samples) never holds
 * one.  GAN_E_INVALID for an index out of range; GAN_E_NOMEM if grad was
 * asked for and the gradients cannot be allocated. */
GAN_API gan_status gan_model_tensor(gan_model *model, int index, const char **name,
                                    gan_tensor **value, gan_tensor **grad);

/* -------------------------------------------------------------- optimizers */
/* Optimizer algorithm. */
typedef enum gan_optim_kind {
    GAN_OPTIM_ADAM = 0, /* torch.optim.Adam                      */
    GAN_OPTIM_SGD = 1   /* torch.optim.SGD, optionally momentum  */
} gan_optim_kind;

/* Optimizer settings; gan_optim_config_default gives DCGAN's Adam
 * (lr 2e-4, betas 0.5 / 0.999, eps 1e-8, no weight decay). */
typedef struct gan_optim_config {
    gan_optim_kind kind;
    float lr;
    float beta1, beta2, eps; /* Adam                                      */
    float momentum;          /* SGD (0: plain SGD)                        */
    float weight_decay;      /* L2 added to the gradient, as torch.optim  */
} gan_optim_config;
/* Fill *cfg with the defaults above (NULL: no-op); then change fields. */
GAN_API void gan_optim_config_default(gan_optim_config *cfg);

/* Optimizer over one model's parameters (borrows the model, which must
 * outlive it).  State (Adam moments) lives in one buffer per model. */
typedef struct gan_optimizer gan_optimizer;
/* New optimizer over the model's parameters as they are now: add every
 * layer first.  cfg is copied.  GAN_E_INVALID for an unknown kind, lr not
 * finite and > 0, Adam betas outside [0, 1) or eps not > 0, or a negative
 * or non-finite momentum or weight decay. */
GAN_API gan_status gan_optimizer_create(gan_optimizer **out, gan_model *model,
                                        const gan_optim_config *cfg);
/* Free an optimizer made by gan_optimizer_create (NULL: no-op); the model
 * is untouched.  A trainer's optimizers are freed by gan_trainer_free. */
GAN_API void gan_optimizer_free(gan_optimizer *opt);
/* One update from the model's accumulated gradients, exactly as torch.optim
 * (1.13) does it:
 *   Adam: g += wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *         p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *   SGD:  g += wd p; buf = g (first step) or momentum buf + g; p -= lr buf
 * A frozen model is left untouched (GAN_OK; moments and step count too).
 * GAN_E_NUMERIC if a gradient or an updated value would be NaN/Inf: nothing
 * is changed then.  GAN_E_STATE if layers were added to the model after the
 * optimizer was created.  Before any backward the gradients are zero (the
 * step allocates them: GAN_E_NOMEM if it cannot).  Models of 32 K parameters or more are updated on
 * libgan's thread pool (gan_set_num_threads); the result is bitwise the same
 * for every thread count. */
GAN_API gan_status gan_optimizer_step(gan_optimizer *opt);
/* Change the learning rate for later steps (a schedule, or a retry after
 * GAN_E_NUMERIC).  GAN_E_INVALID unless lr is finite and > 0. */
GAN_API gan_status gan_optimizer_set_lr(gan_optimizer *opt, float lr);
/* Updates applied so far (Adam's t; frozen or failed steps do not count). */
GAN_API int64_t gan_optimizer_step_count(const gan_optimizer *opt);

/* ------------------------------------------------------------------ losses */
/* Loss families.  D outputs raw logits; every loss takes logits. */
typedef enum gan_loss {
    GAN_LOSS_NONSAT = 0,  /* BCE; G maximises log D(G(z)) (default)          */
    GAN_LOSS_MINIMAX = 1, /* BCE; G minimises log(1 - D(G(z)))               */
    GAN_LOSS_LSGAN = 2,   /* least squares on logits: D (x-1)^2 / x^2, G (x-1)^2, each /2 */
    GAN_LOSS_HINGE = 3,   /* D relu(1-x) / relu(1+x), G -x                   */
    GAN_LOSS_WGAN = 4     /* critic -x / +x, G -x; weight clipping           */
} gan_loss;

/* Loss values are means in double, returned as float; NaN/Inf logits give
 * a NaN/Inf loss with GAN_OK (check with isfinite; gan_train_step does). */

/* Binary cross-entropy on logits, mean over all elements of `logits`:
 * max(x,0) - x*y + log1p(exp(-|x|)).  If grad is not NULL (same numel as
 * logits) it receives dL/dx = (sigmoid(x) - y) / n.  GAN_E_INVALID if
 * target is not finite; GAN_E_SHAPE if grad's numel differs. */
GAN_API gan_status gan_loss_bce_logits(const gan_tensor *logits, float target, float *loss,
                                       gan_tensor *grad);
/* The discriminator's loss on a batch that is real (is_real = 1) or fake,
 * for the given family; real_label in (0, 1] is the real target for the BCE
 * families (1, or e.g. 0.9 for one-sided label smoothing; the other
 * families ignore it).  Mean over the batch; grad receives dL/dlogits.
 * GAN_E_INVALID for an unknown family or real_label; GAN_E_SHAPE if grad's
 * numel differs from the logits'. */
GAN_API gan_status gan_loss_discriminator(gan_loss kind, const gan_tensor *logits,
                                          int is_real, float real_label, float *loss,
                                          gan_tensor *grad);
/* The generator's loss on D's logits for fake samples (see gan_loss), mean
 * over the batch; grad (may be NULL) receives dL/dlogits.  GAN_E_INVALID
 * for an unknown family; GAN_E_SHAPE if grad's numel differs. */
GAN_API gan_status gan_loss_generator(gan_loss kind, const gan_tensor *logits, float *loss,
                                      gan_tensor *grad);

/* ----------------------------------------------------------------- trainer */
/* Distribution of the trainer's noise z. */
typedef enum gan_noise {
    GAN_NOISE_NORMAL = 0, /* z ~ N(0, 1)     */
    GAN_NOISE_UNIFORM = 1 /* z ~ U[-1, 1)    */
} gan_noise;

/* Trainer settings.  Always start from gan_trainer_config_default, which
 * also sets struct_size (new fields are appended; old callers keep
 * working). */
typedef struct gan_trainer_config {
    size_t struct_size;
    gan_loss loss;
    gan_noise noise;
    gan_optim_config opt_g, opt_d;
    int n_critic;     /* D steps per G step (WGAN: 5; others 1)                */
    float clip;       /* WGAN only: after each D step all of D's params are
                         clamped to [-c, c] (default 0.01; 0 disables)         */
    float real_label; /* D's target for real data; < 1 is one-sided smoothing  */
    uint64_t seed;    /* trainer RNG (noise)                                    */
} gan_trainer_config;
/* Fill *cfg (NULL: no-op) with the defaults: non-saturating loss, normal
 * noise, gan_optim_config_default for both optimizers, n_critic 1, clip
 * 0.01, real_label 1, seed 0, and struct_size. */
GAN_API void gan_trainer_config_default(gan_trainer_config *cfg);

/* What one step measured.  d_real / d_fake_* are means of sigmoid(logit)
 * for every loss family (for LSGAN, hinge and WGAN the logit is not a
 * probability, but the sigmoid still tracks the trend and stays in (0, 1)). */
typedef struct gan_step_stats {
    float loss_d;        /* D's loss: real + fake                           */
    float loss_g;        /* G's loss (NaN on a step without a G update)     */
    float d_real;        /* mean sigmoid(D(x))                              */
    float d_fake_before; /* mean sigmoid(D(G(z))) before D's update         */
    float d_fake_after;  /* mean sigmoid(D(G(z))) after D's update (G step) */
    float grad_norm_d;   /* L2 norm of D's gradient at its update           */
    float grad_norm_g;   /* L2 norm of G's gradient at its update           */
    int64_t step;        /* steps completed, this one included              */
    float reserved[8];
} gan_step_stats;

/* G, D, their two optimizers, a loss and a noise RNG: one GAN in training. */
typedef struct gan_trainer gan_trainer;
/* New trainer for generator g and discriminator d.  On success the trainer
 * owns both models (free them with gan_trainer_free; gan_model_free on them
 * then does nothing).  G's per-sample output must equal D's input shape
 * (GAN_E_SHAPE) and D's output must have one element per sample.  Copies
 * cfg; GAN_E_INVALID for an out-of-range setting (see the fields and
 * gan_optimizer_create), a struct_size too small, or g == d; GAN_E_STATE if
 * a model already belongs to a trainer or has no layers.  On failure the
 * caller still owns g and d. */
GAN_API gan_status gan_trainer_create(gan_trainer **out, gan_model *g, gan_model *d,
                                      const gan_trainer_config *cfg);
/* Free the trainer with its models and optimizers (NULL: no-op). */
GAN_API void gan_trainer_free(gan_trainer *t);
/* One minimax step on a batch of real data (N, D's input shape...), in the
 * order of PyTorch's DCGAN example: (1) D on real labelled real; (2) z from
 * the trainer's RNG, fake = G(z), D on fake labelled fake (no gradient into
 * G), D's optimizer step; (3) D frozen, the same fake through the updated D
 * with G's loss, backward through D into G, G's optimizer step, D unfrozen.
 * With n_critic > 1, G is updated on every n_critic-th call.
 * GAN_E_NUMERIC if a loss or gradient is NaN/Inf: then G, D (parameters,
 * running statistics, num_batches_tracked), both optimizers, the trainer's
 * RNG and step count are exactly as before the call.  The first call at a
 * given batch size plans buffers; later calls allocate nothing.  The user's
 * freeze flags are honoured (a frozen G or D is not updated) and D's flag is
 * restored after the G step.  stats may be NULL.  GAN_E_SHAPE if real is
 * not (N, D's input shape...); GAN_E_NOMEM (nothing changed) if the first
 * call at a larger batch cannot plan its buffers. */
GAN_API gan_status gan_train_step(gan_trainer *t, const gan_tensor *real, gan_step_stats *stats);
/* Samples from G in eval mode (G's mode is restored afterwards).  z is
 * (N, G's input shape...) or NULL to draw N = out's batch noise from the
 * trainer's RNG.  out is (N, G's output...).  GAN_E_SHAPE on a mismatch. */
GAN_API gan_status gan_trainer_generate(gan_trainer *t, const gan_tensor *z, gan_tensor *out);
/* The generator G, borrowed from the trainer (e.g. for gan_model_save). */
GAN_API gan_model *gan_trainer_generator(gan_trainer *t);
/* The discriminator D, borrowed from the trainer. */
GAN_API gan_model *gan_trainer_discriminator(gan_trainer *t);
/* G's optimizer (discriminator = 0) or D's (non-zero), borrowed (never
 * gan_optimizer_free it): e.g. to change a learning rate with
 * gan_optimizer_set_lr. */
GAN_API gan_optimizer *gan_trainer_optimizer(gan_trainer *t, int discriminator);
/* The trainer's noise RNG, borrowed (never gan_rng_free it); reseed it to
 * replay the noise of a run. */
GAN_API gan_rng *gan_trainer_rng(gan_trainer *t);
/* Successful gan_train_step calls so far (restored by gan_trainer_load). */
GAN_API int64_t gan_trainer_step_count(const gan_trainer *t);
/* Epoch counter kept for checkpoints (the host's data loop advances it).
 * GAN_E_INVALID for epoch < 0. */
GAN_API gan_status gan_trainer_set_epoch(gan_trainer *t, int64_t epoch);
/* The epoch counter (0 for NULL). */
GAN_API int64_t gan_trainer_epoch(const gan_trainer *t);

/* ---------------------------------------------------------------- memory */
/* Bytes of memory a model or a trainer holds, by purpose.  Activations and
 * scratch are sized by the first forward (or train step) at a batch size:
 * ask after one.  Only libgan's own allocations are counted, not the BLAS
 * library's buffers, thread stacks or code. */
typedef struct gan_memory_info {
    size_t struct_size; /* set to sizeof(gan_memory_info) before the call    */
    size_t parameters;  /* trainable values (one buffer per model)           */
    size_t gradients;   /* their gradients (one buffer per model; 0 until
                           something needs them, see gan_model_tensor)       */
    size_t buffers;     /* non-trainable state: batch norm running stats     */
    size_t optimizer;   /* optimizer state, e.g. Adam's two moments (trainer) */
    size_t activations; /* forward outputs and backward gradient buffers     */
    size_t scratch;     /* layers' working memory (im2col columns, per-thread
                           partial weight gradients): one arena per model,
                           the largest any of its layers needs; a trainer's
                           G and D share one, reported by both models and
                           counted once by gan_trainer_memory             */
    size_t other;       /* trainer: noise and loss-gradient buffers and the
                           snapshot that a GAN_E_NUMERIC step rolls back to  */
    size_t total;       /* the sum of the fields above                       */
} gan_memory_info;

/* Fill info for one model (optimizer and other are 0).  Fields beyond
 * info->struct_size (from a newer libgan) are not written.  GAN_E_NULL for
 * a NULL argument; GAN_E_INVALID if struct_size is smaller than this
 * version's first gan_memory_info. */
GAN_API gan_status gan_model_memory(const gan_model *model, gan_memory_info *info);
/* The same for a trainer: both models, both optimizers and the trainer's
 * own buffers. */
GAN_API gan_status gan_trainer_memory(const gan_trainer *t, gan_memory_info *info);

/* Ready-made, initialised G and D by name (the caller owns both, e.g. to
 * hand them to gan_trainer_create):
 *   "dcgan28"  z (100,1,1) -> (1,28,28): convT 256 k7, BN, ReLU, convT 128
 *              k4 s2 p1, BN, ReLU, convT 1 k4 s2 p1, tanh;  D: conv 64 k4 s2
 *              p1, LReLU 0.2, conv 128 k4 s2 p1, BN, LReLU, conv 1 k7
 *              (no conv biases; DCGAN init)
 *   "dcgan64"  pytorch/examples dcgan, z (100,1,1) -> (3,64,64), D without
 *              the final sigmoid (DCGAN init)
 *   "mlp28"    z (100) -> dense 256/512/1024 with LReLU 0.2 -> dense 784,
 *              tanh, reshape (1,28,28);  D: flatten, dense 512, LReLU,
 *              dense 256, LReLU, dense 1 (PyTorch init)
 *   "toy2d"    z (2) -> dense 64, ReLU, dense 64, ReLU, dense 2;  D: dense
 *              64, LReLU 0.2, dense 64, LReLU, dense 1 (PyTorch init); it
 *              learns a ring of 8 Gaussians in ~2000 steps of batch 128
 * Weights are drawn from a gan_rng seeded with `seed` (G first, then D).
 * GAN_E_INVALID for an unknown name. */
GAN_API gan_status gan_preset_create(const char *name, uint64_t seed, gan_model **g,
                                     gan_model **d);

/* ------------------------------------------------------------- checkpoints */
/* Checkpoints are safetensors files (https://github.com/huggingface/safetensors):
 * an 8-byte little-endian header length N, N bytes of JSON naming each
 * tensor's dtype, shape and byte range, then the raw little-endian data.
 *
 * Tensor names are PyTorch's nn.Sequential state_dict() keys for the
 * equivalent network, every layer counting (activations included):
 * "<i>.weight", "<i>.bias", "<i>.running_mean", "<i>.running_var" (F32, the
 * layouts of gan_layer_*), and "<i>.num_batches_tracked" (I64 scalar) for
 * batchnorm.  So a model file loads in PyTorch with
 *     seq.load_state_dict(safetensors.torch.load_file(path))
 * and a state dict PyTorch saved with safetensors.torch.save_file loads
 * with gan_model_load_weights.
 *
 * "__metadata__" (string -> string) of a libgan file:
 *   libgan.format_version  "1"
 *   libgan.version         libgan that wrote it, "0.1.0"
 *   libgan.kind            "model" or "trainer"
 *   libgan.arch            (model) the architecture text, below
 * A trainer checkpoint holds G's tensors as "G.<name>", D's as "D.<name>",
 * and each optimizer's state per trainable tensor as
 * "optG.exp_avg.<name>", "optG.exp_avg_sq.<name>" (Adam) or
 * "optG.momentum_buffer.<name>" (SGD with momentum), likewise "optD.*";
 * its metadata adds
 *   libgan.G.arch, libgan.D.arch   architecture texts
 *   libgan.trainer   "loss=nonsat noise=normal n_critic=1 clip=0.01
 *                     real_label=1 seed=42"  (loss: nonsat minimax lsgan
 *                     hinge wgan; noise: normal uniform)
 *   libgan.optG, libgan.optD   "kind=adam lr=0.0002 beta1=0.5 beta2=0.999
 *                     eps=1e-08 momentum=0 weight_decay=0" (kind: adam sgd)
 *   libgan.optG.step, libgan.optD.step, libgan.step, libgan.epoch
 *                     decimal counters
 *   libgan.rng       the trainer RNG's 5 state words, 16 hex digits each,
 *                    space-separated (see gan_rng_get_state)
 * Numbers in text are written with up to 9 significant digits (exact for
 * float; batchnorm's eps and momentum, doubles, with the fewest digits that
 * read back exactly, up to 17) in the C locale whatever the process locale is.
 *
 * Architecture text: lines separated by '\n'; the first non-blank line is
 * "input <d0> [<d1> [<d2>]]" (the per-sample input shape), then one line
 * per layer, a kind followed by key=value settings:
 *   dense in=<F> out=<F> bias=<0|1>
 *   conv2d in=<C> out=<C> k=<kh>x<kw> s=<stride> p=<pad> bias=<0|1>
 *   conv_transpose2d in=<C> out=<C> k=<kh>x<kw> s=<s> p=<p> op=<out pad> bias=<0|1>
 *   batchnorm features=<C> eps=<e> momentum=<m>
 *   relu | tanh | sigmoid | flatten
 *   leaky_relu slope=<a>
 *   reshape <d0> [<d1> [<d2>]]
 * Keys may come in any order; left out, they take PyTorch's defaults
 * (bias=1 s=1 p=0 op=0 eps=1e-05 momentum=0.1 slope=0.01), except in, out,
 * k ("k=4" means 4x4) and features, which are required.  '#' starts a
 * comment; blank lines are ignored.  Limits: 4096 layers, sizes up to
 * 2^24, kernel/stride/padding up to 1024, at most 2^26 floats per sample. */

/* Write the model's parameters, batchnorm statistics and architecture to
 * path, atomically: a temporary file "<path>.tmp-*" in the same directory
 * is written, flushed, fsync'ed and renamed over path (then the directory
 * is fsync'ed), so a crash or kill leaves either the old file or the new
 * one.  GAN_E_IO (with the system's reason) if it cannot be written. */
GAN_API gan_status gan_model_save(const gan_model *model, const char *path);
/* Rebuild a model from a file gan_model_save wrote, with no code: layers
 * from libgan.arch, then every tensor.  The new model is in training mode
 * and not frozen; the caller frees it.
 * Loading trusts nothing in the file.  Statuses (message in gan_last_error):
 *   GAN_E_IO      cannot open or read, or not a regular file
 *   GAN_E_FORMAT  truncated; header length beyond the file or above 16 MiB;
 *                 header not JSON; unknown dtype; data offsets out of range,
 *                 overlapping, leaving gaps or not covering the data; shape
 *                 product overflow; a name twice; a tensor missing or
 *                 unexpected; no or bad libgan metadata / architecture text;
 *                 a negative running_var or counter
 *   GAN_E_SHAPE   a tensor's shape differs from the model's
 *   GAN_E_UNSUPPORTED  a known dtype other than F32 (I64 for counters), or
 *                 a newer format version
 *   GAN_E_NUMERIC a parameter or statistic is NaN or Inf
 *   GAN_E_NOMEM
 * Memory use is bounded by the file's real size. */
GAN_API gan_status gan_model_load(gan_model **out, const char *path);
/* gan_model_load from a file image in memory (e.g. a generator compiled
 * into an application); data is only read during the call. */
GAN_API gan_status gan_model_load_memory(gan_model **out, const void *data, size_t size);
/* Load the tensors of path into an existing model whose tensor names and
 * shapes they must match exactly (no tensor missing, none left over;
 * "<i>.num_batches_tracked" may be absent and then becomes 0).  Accepts
 * files written by PyTorch without any libgan metadata.  Statuses as for
 * gan_model_load; on any failure the model is unchanged. */
GAN_API gan_status gan_model_load_weights(gan_model *model, const char *path);

/* Write everything a training run needs to continue exactly: G and D
 * (parameters, statistics), both optimizers (configuration, Adam moments or
 * SGD momentum, step counts), the trainer's configuration, RNG state, step
 * and epoch counters.  Atomic like gan_model_save.  A trainer loaded from
 * it and given the same batches produces bitwise the same weights as the
 * original would have (same thread count). */
GAN_API gan_status gan_trainer_save(const gan_trainer *t, const char *path);
/* Rebuild a trainer from gan_trainer_save's file (models, optimizers and
 * all state).  The caller frees it with gan_trainer_free.  Statuses as for
 * gan_model_load.  Not saved, so back to their defaults: the models'
 * train/eval mode (training) and freeze flags (not frozen). */
GAN_API gan_status gan_trainer_load(gan_trainer **out, const char *path);

/* The architecture text of a model (format above), NUL-terminated, into
 * buf.  *length (may be NULL) receives its length without the NUL.  Pass
 * buf NULL and cap 0 to learn the length; GAN_E_INVALID if buf is given
 * but cap <= length (nothing is written then). */
GAN_API gan_status gan_model_arch_text(const gan_model *model, char *buf, size_t cap,
                                       size_t *length);
/* New model built from architecture text (layers with PyTorch's default
 * initialisation).  GAN_E_FORMAT with "architecture line N: ..." for a
 * syntax error or a limit; a layer constructor's or gan_model_add's status
 * (GAN_E_INVALID, GAN_E_SHAPE) when settings are out of range or layers do
 * not fit together; GAN_E_NOMEM. */
GAN_API gan_status gan_model_from_arch_text(gan_model **out, const char *text);

/* Inspection of any safetensors file (what `gan info` prints): the header
 * is fully validated on open (as by gan_model_load, statuses likewise), the
 * data is not read. */
typedef struct gan_checkpoint gan_checkpoint;
/* Most dimensions gan_checkpoint_tensor reports (the format's own cap). */
#define GAN_CHECKPOINT_MAX_DIMS 8
/* Open the safetensors file at path and validate its header: GAN_E_IO
 * (cannot open or read), GAN_E_FORMAT (any structural fault listed under
 * gan_model_load).  Close it with gan_checkpoint_close. */
GAN_API gan_status gan_checkpoint_open(gan_checkpoint **out, const char *path);
/* Close (NULL: no-op); strings borrowed from ck become invalid. */
GAN_API void gan_checkpoint_close(gan_checkpoint *ck);
/* Number of tensors in the file. */
GAN_API int gan_checkpoint_tensor_count(const gan_checkpoint *ck);
/* Tensor `index` of the file, sorted by name.  dtype is the format's name
 * ("F32", "I64", ...); shape receives ndim sizes (0 for a scalar), the rest
 * zeroed; each out-pointer may be NULL.  Strings are borrowed from ck.
 * GAN_E_INVALID for an index out of range. */
GAN_API gan_status gan_checkpoint_tensor(const gan_checkpoint *ck, int index, const char **name,
                                         const char **dtype, int *ndim,
                                         int64_t shape[GAN_CHECKPOINT_MAX_DIMS]);
/* Number of "__metadata__" pairs. */
GAN_API int gan_checkpoint_metadata_count(const gan_checkpoint *ck);
/* Metadata pair `index`, sorted by key (borrowed strings; key or value may
 * be NULL).  GAN_E_INVALID for an index out of range. */
GAN_API gan_status gan_checkpoint_metadata(const gan_checkpoint *ck, int index, const char **key,
                                           const char **value);
/* Value of a metadata key, or NULL if absent (borrowed). */
GAN_API const char *gan_checkpoint_get(const gan_checkpoint *ck, const char *key);

/* -------------------------------------------------------------------- data */
/* IDX files, the format of MNIST and Fashion-MNIST (Debian's
 * dataset-fashion-mnist puts them in /usr/share/datasets/fashion-mnist/):
 * a big-endian header 00 00 <dtype> <ndim>, ndim u32 sizes, then the
 * elements.  Files may be plain or gzip-compressed (detected by content).
 * Only unsigned-byte files (dtype 0x08) are read.
 *
 * The readers are safe on hostile files: the header must agree exactly with
 * the data that follows (a plain file's size; for gzip, the decompressed
 * stream, whose claimed size is first bounded by deflate's maximum ratio to
 * the compressed size), so nothing larger than the real file can fill is
 * ever allocated.  Statuses of every reader below:
 *   GAN_E_IO           cannot open or read the file (or it is not a regular file)
 *   GAN_E_FORMAT       not IDX (bad magic), unknown element type, wrong number
 *                      of dimensions, a size of 0, truncated data, trailing
 *                      bytes, a corrupt gzip stream
 *   GAN_E_UNSUPPORTED  a valid IDX file whose elements are not unsigned bytes
 *   GAN_E_OVERFLOW     the sizes multiply past what memory can address
 *   GAN_E_NOMEM, GAN_E_NULL */

/* Read an idx3 image file (N x H x W bytes) into a new tensor *out of shape
 * (N, 1, H, W), or an idx4 file (N x C x H x W bytes, channel-major, as
 * `gan sample --format idx` writes colour images) into (N, C, H, W); each
 * pixel v is mapped to v / 127.5 - 1 (so 0 -> -1, 255 -> 1, the range a
 * tanh generator produces).  The caller frees *out. */
GAN_API gan_status gan_idx_read_images(gan_tensor **out, const char *path);
/* Read an idx1 label file (N bytes) into a new array *out of N int32 values
 * (0..255) and set *count = N.  Free the array with gan_labels_free. */
GAN_API gan_status gan_idx_read_labels(int32_t **out, int64_t *count, const char *path);
/* Free an array from gan_idx_read_labels (NULL: no-op). */
GAN_API void gan_labels_free(int32_t *labels);

/* Plain tensor files: named F32 tensors in a safetensors file (metadata
 * libgan.kind "tensors"), e.g. latent vectors "z" (N, nz) to replay or
 * interpolate, or raw samples "x".  Save writes `count` (1..64) tensors
 * names[i] = tensors[i] atomically like gan_model_save (GAN_E_IO;
 * GAN_E_INVALID for a count outside 1..64 or a name that is empty,
 * "__metadata__" or used twice; GAN_E_NULL for a NULL name or tensor). */
GAN_API gan_status gan_tensors_save(const char *path, int count, const char *const *names,
                                    const gan_tensor *const *tensors);
/* Read the tensor `name` of any safetensors file into a new tensor *out
 * (the caller frees it): GAN_E_FORMAT if it is absent (or as gan_model_load
 * for a corrupt file), GAN_E_UNSUPPORTED unless it is F32, GAN_E_SHAPE
 * unless it has 1 to 4 dimensions and at least one element. */
GAN_API gan_status gan_tensor_load(gan_tensor **out, const char *path, const char *name);

/* A set of N samples (images as one tensor (N, ...)) with optional int32
 * labels, read by a gan_loader. */
typedef struct gan_dataset gan_dataset;
/* Dataset from an idx3 or idx4 image file (read as by gan_idx_read_images)
 * and, if labels_path is not NULL, an idx1 label file with the same N
 * (GAN_E_SHAPE otherwise).  Statuses as for the readers above. */
GAN_API gan_status gan_dataset_load_idx(gan_dataset **out, const char *images_path,
                                        const char *labels_path);
/* Dataset over `images`, a tensor (N, ...) of at least 2 dimensions made by
 * gan_tensor_create or gan_tensor_wrap (e.g. (N, 3, 64, 64) from your own
 * image decoder).  On success the dataset owns `images`; on failure the
 * caller still does.  labels: N values, copied, or NULL.  GAN_E_INVALID if
 * images has fewer than 2 dimensions or is borrowed from a model. */
GAN_API gan_status gan_dataset_create(gan_dataset **out, gan_tensor *images,
                                      const int32_t *labels);
/* Free the dataset and its images (NULL: no-op).  Free its loaders first. */
GAN_API void gan_dataset_free(gan_dataset *ds);
/* Number of samples N (0 for NULL). */
GAN_API int64_t gan_dataset_size(const gan_dataset *ds);
/* The images (N, ...), borrowed from the dataset. */
GAN_API const gan_tensor *gan_dataset_images(const gan_dataset *ds);
/* The labels (N values, borrowed), or NULL when there are none. */
GAN_API const int32_t *gan_dataset_labels(const gan_dataset *ds);

/* Options of a loader (bit flags, combine with |). */
typedef enum gan_loader_flags {
    GAN_LOADER_SHUFFLE = 1,  /* a new seeded permutation every epoch            */
    GAN_LOADER_DROP_LAST = 2 /* skip the final batch when it would be short     */
} gan_loader_flags;

/* Hands out a dataset in batches, epoch after epoch.  The order of epoch e
 * depends only on (seed, e), so a run resumed at epoch e sees the same
 * batches as an uninterrupted one.  No allocation after creation. */
typedef struct gan_loader gan_loader;
/* New loader over ds (borrowed: it must outlive the loader) with batch
 * size `batch` >= 1, gan_loader_flags and a shuffling seed.  GAN_E_INVALID
 * for a bad batch size or unknown flags, or DROP_LAST with batch > N.
 * Starts at epoch 0. */
GAN_API gan_status gan_loader_create(gan_loader **out, const gan_dataset *ds, int64_t batch,
                                     unsigned flags, uint64_t seed);
/* Free a loader (NULL: no-op); its dataset is untouched. */
GAN_API void gan_loader_free(gan_loader *loader);
/* Copy the next batch into `batch`, a tensor with `batch` rows of one
 * sample each: the dataset's per-sample shape or any shape with the same
 * element count, e.g. (B, 1, 28, 28) or (B, 784) for an MLP (GAN_E_SHAPE
 * otherwise).  labels: room for B values, or NULL (GAN_E_INVALID if given
 * and the dataset has none).  *count receives the samples written: B, or
 * fewer for the short last batch without DROP_LAST (rows after *count are
 * left as they were; wrap a (count, ...) view with gan_tensor_wrap to train
 * on it).  At the end of an epoch *count is 0 and GAN_OK is returned; the
 * next call begins the next epoch. */
GAN_API gan_status gan_loader_next(gan_loader *loader, gan_tensor *batch, int32_t *labels,
                                   int64_t *count);
/* Restart at the beginning of epoch `epoch` (that epoch's order, as an
 * uninterrupted run would see it).  GAN_E_INVALID for epoch < 0. */
GAN_API gan_status gan_loader_set_epoch(gan_loader *loader, int64_t epoch);
/* Current epoch (0 for NULL). */
GAN_API int64_t gan_loader_epoch(const gan_loader *loader);
/* Batches one epoch yields (0 for NULL). */
GAN_API int64_t gan_loader_batches_per_epoch(const gan_loader *loader);

#ifdef __cplusplus
}
#endif
#endif /* GAN_H */
