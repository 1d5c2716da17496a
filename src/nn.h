/* nn.h — private structs and internal entry points of models, optimizers
 * and the trainer (src/model.c, src/optim.c, src/trainer.c).
 *
 * Memory layout (what the rest of libgan may rely on):
 *   - every trainable slot of every layer of a model views into the model's
 *     ONE params buffer, in state_dict order; gradients likewise into ONE
 *     grads buffer at the same offsets;
 *   - buffers (batchnorm running stats) stay in their layers;
 *   - an optimizer keeps its state (Adam m and v, or SGD's momentum buffer)
 *     in one buffer laid out like the model's params.
 */
#ifndef GAN_NN_H
#define GAN_NN_H

#include "internal.h"

/* ------------------------------------------------------------------ models */
/* A scratch arena: one block that layers use only during their own call,
 * so every layer of a model shares one, and a trainer's G and D (which
 * never run at once) share one too.  It only grows, to the largest need of
 * its users; when it grows, every user's layers are pointed at the new
 * block. */
typedef struct gan_arena {
    void *block;
    size_t bytes;
    struct gan_model *users[2]; /* the models whose layers point into it */
    int nusers;
} gan_arena;

/* One named tensor of a model: slot `slot` of layer `layer`. */
typedef struct gan_model_entry {
    char name[40];  /* "3.running_mean" */
    int layer;
    int slot;
} gan_model_entry;

struct gan_model {
    gan_shape in, out;          /* per-sample input / output shapes         */
    int nlayers, cap_layers;
    gan_layer **layers;         /* (nlayers), owned                          */
    int nentries, cap_entries;
    gan_model_entry *entries;   /* named tensors, state_dict order           */
    float *params;              /* (nparams) values of all trainable slots   */
    float *grads;               /* (nparams) their gradients                 */
    int64_t nparams;
    bool training, frozen;
    void *owner;                /* the trainer that owns us, or NULL         */
    /* Activation plan, sized for `planned` samples. */
    int64_t planned;
    float **act;                /* (nlayers) act[i]: (planned, out_i...)     */
    float *gbuf[2];             /* ping-pong dL/d(activation), largest act   */
    float *dxbuf;               /* (planned, in...) dL/dinput                */
    gan_tensor y_view;          /* (n, out...) over act[nlayers - 1]         */
    gan_tensor dx_view;         /* (n, in...) over dxbuf                     */
    /* The scratch arena of all layers: own_arena, or the trainer's that G
     * and D share (gan_model_share_arena). */
    gan_arena own_arena;
    gan_arena *arena;
    /* What the last forward saw (backward needs it). */
    const float *saved_x;       /* caller's x: must stay alive until backward */
    int64_t saved_n;            /* 0: no forward since the last plan change   */
};

/* Free a model regardless of its owner (the trainer frees its models so). */
void gan_model_destroy_owned(gan_model *m);
/* The gradient buffer is allocated (zeroed) the first time something
 * needs it: a backward that computes parameter gradients, an optimizer
 * step, a request for a gradient tensor, a trainer.  A model that only
 * runs forward (a generator drawing samples) never holds one.  GAN_E_NOMEM
 * (message from `fn`) if it cannot be had. */
gan_status gan_model_ensure_grads(gan_model *m, const char *fn);

/* The params / grads buffers (n receives their length; may be NULL);
 * gan_model_grads allocates the gradients if need be (NULL if it cannot). */
float *gan_model_params(gan_model *m, int64_t *n);
float *gan_model_grads(gan_model *m, int64_t *n);
/* Use `arena` (owned by the caller, which adds m to its users) instead of
 * m's own; drops m's plan, so the next forward plans again. */
void gan_model_share_arena(gan_model *m, gan_arena *arena);
/* Lay m's layers out for n samples (no allocation) and set *need to the
 * scratch bytes the hungriest then needs.  On failure the layers keep the
 * layout of the batch m is planned for. */
gan_status gan_model_scratch_need(gan_model *m, int64_t n, size_t *need);
/* Lay m's layers out for the batch m is planned for again, after a refused
 * plan for a bigger one: its arena holds that layout. */
void gan_model_restore_layout(gan_model *m);
/* Grow arena a to at least `bytes` (a new block; the old one is freed and
 * its users re-pointed).  GAN_E_NOMEM (message names `fn`) leaves it as it
 * was. */
gan_status gan_arena_grow(gan_arena *a, size_t bytes, const char *fn);
/* Size the activation buffers for n samples (no-op if already big enough). */
gan_status gan_model_plan(gan_model *m, int64_t n);
/* Number of floats of all buffer slots (running stats) of all layers. */
int64_t gan_model_buffer_floats(const gan_model *m);
/* Copy every buffer slot and every layer's num_batches_tracked out to
 * buf (gan_model_buffer_floats) and nbt (nlayers), or back in. */
void gan_model_save_buffers(const gan_model *m, float *buf, int64_t *nbt);
void gan_model_load_buffers(gan_model *m, const float *buf, const int64_t *nbt);
/* L2 norm of the grads buffer (computed in double). */
double gan_model_grad_norm(const gan_model *m);
/* Fill r (struct_size ignored) for model m. */
void gan_model_memory_of(const gan_model *m, gan_memory_info *r);
/* Check out->struct_size, set r->total and copy r into out (no further than
 * out->struct_size).  `fn` names the caller. */
gan_status gan_memory_info_store(gan_memory_info *out, gan_memory_info *r, const char *fn);

/* -------------------------------------------------------------- optimizers */
struct gan_optimizer {
    gan_model *model;           /* borrowed                                  */
    gan_optim_config cfg;
    int64_t n;                  /* model's nparams at create                 */
    float *state;               /* Adam: m (n) then v (n); SGD+momentum: buf (n) */
    int64_t nstate;             /* floats in state: 2n, n or 0               */
    int64_t step;               /* updates done                               */
};

gan_status gan_optimizer_state(gan_optimizer *o, float **m, float **v, int64_t *n,
                               int64_t *step);
void gan_optimizer_set_step_count(gan_optimizer *o, int64_t step);
const gan_optim_config *gan_optimizer_config(const gan_optimizer *o);
/* Check a config (lr > 0, betas in [0, 1), ...); `fn` names the caller. */
gan_status gan_optim_config_check(const gan_optim_config *cfg, const char *fn);

/* ------------------------------------------------------------------ losses */
/* mean over the batch of sigmoid(logits) (the d_real / d_fake statistics). */
float gan_loss_mean_sigmoid(const gan_tensor *logits);

/* ----------------------------------------------------------------- trainer */
struct gan_trainer {
    gan_model *g, *d;           /* owned                                     */
    gan_optimizer *opt_g, *opt_d;
    gan_trainer_config cfg;
    gan_rng rng;                /* noise                                     */
    int64_t step;               /* calls of gan_train_step that succeeded    */
    int64_t epoch;
    /* Per-step buffers, sized for `planned` samples. */
    int64_t planned;
    float *zbuf;                /* (planned, G in...) noise                  */
    float *gbuf;                /* (planned, D out...) dL/dlogits            */
    gan_tensor z_view, g_view;
    /* The scratch arena G and D share (they never run at once). */
    gan_arena arena;
    /* Snapshot for GAN_E_NUMERIC rollback (allocated at create). */
    float *snap_d_params;       /* (D nparams)                               */
    float *snap_d_opt;          /* (opt_d nstate)                            */
    float *snap_d_buf;          /* (D buffer floats)                         */
    float *snap_g_buf;          /* (G buffer floats)                         */
    int64_t *snap_d_nbt;        /* (D nlayers)                               */
    int64_t *snap_g_nbt;        /* (G nlayers)                               */
};

const gan_trainer_config *gan_trainer_get_config(const gan_trainer *t);
void gan_trainer_set_step_count(gan_trainer *t, int64_t step);
/* gan_train_step with the noise given (z: (N, G's input shape...), N the
 * real batch's) instead of drawn from the trainer's RNG. */
gan_status gan_trainer_step_with_noise(gan_trainer *t, const gan_tensor *real,
                                       const gan_tensor *z, gan_step_stats *stats);

#endif /* GAN_NN_H */
