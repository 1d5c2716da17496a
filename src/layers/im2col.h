/* im2col.h — lowering helpers shared by conv2d.c and conv_transpose2d.c,
 * and the parts of those two layers that are the same logic (at the end).
 *
 * A convolution slides a kh x kw window over a stack of image planes
 * (C, H, W).  im2col copies every window into one column, so the
 * convolution becomes a single GEMM; col2im is its adjoint (scatter-add).
 * Both work on many samples at once: the columns of n images sit side by
 * side, giving one wide GEMM instead of n narrow ones.
 *
 * Border bands.  With padding, the windows of the first and last grid rows
 * hang over the image's edge: for DCGAN's 4x4 windows, stride 2, padding 1
 * on a 7x7 grid, kernel row 0 of grid row 0 and kernel row 3 of grid row 6
 * lie wholly in the padding, 1/14 of all the multiply-adds.  So the grid's
 * rows are cut into BANDS whose windows keep the same kernel rows inside
 * the image (there: row 0 keeps kernel rows 1-3, rows 1-5 all four, row 6
 * rows 0-2), the columns are laid out band by band, and the kernel rows
 * are cut into GROUPS that are inside at the same bands (there: kernel row
 * 0 at bands 1-2, rows 1-2 at all three, row 3 at bands 0-1).  The GEMM is
 * then one product per group, its rows of K times the columns of its
 * bands, and skips the padding (a layer splits only where that pays:
 * GAN_CONV_SPLIT_MACS below):
 *
 *   cols (K, n*P):  row (c, ki, kj) — or (ki, c, kj), see below — and
 *   column (band b, n, oy - oy0_b, ox), that is n*oy0_b*Wo + n_i*P_b +
 *   (oy - oy0_b)*Wo + ox, holds
 *   x[n, c, oy*stride - pad + ki, ox*stride - pad + kj]
 *
 * for the kernel rows ki of band b only (0 outside the image sideways);
 * the other entries are neither written nor read.  A group's rows of K are
 * one block only in the kernel-row-major order (ki, c, kj), so a layer
 * with several groups and channels multiplies by its weight permuted to
 * (Cgrid, kh, C, kw) (gan_conv_ki_major).  Without padding there is one
 * band and one group, and everything is the plain (c, ki, kj), (n, oy, ox)
 * lowering.
 *
 * The GEMM yields the grid side channel-major ("CN"), (Cgrid, n*P) with
 * columns as above, which the permutes below turn into the library's
 * (N, C, H, W) layout and back.
 */
#ifndef GAN_IM2COL_H
#define GAN_IM2COL_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"
#include "core/pool.h"

/* Grid rows [oy0, oy1), whose windows all have kernel rows [ki0, ki1)
 * inside the image. */
typedef struct gan_conv_band {
    int64_t oy0, oy1, ki0, ki1;
} gan_conv_band;

/* Kernel rows [ki0, ki1), inside the image at bands [b0, b1] and only there. */
typedef struct gan_conv_krows {
    int64_t ki0, ki1;
    int b0, b1;
} gan_conv_krows;

/* More bands than this (a kernel much taller than the stride) and a layer
 * lowers its grid as one band over the padded image. */
#define GAN_CONV_MAX_BANDS 8

/* One window sweep: the image it reads (or, for col2im, writes), the grid
 * of window positions, and its bands and kernel-row groups.  out_h/out_w
 * are stored, not derived, so a transposed convolution can use a taller
 * image than the windows cover (its output_padding rows and columns simply
 * receive no contribution). */
typedef struct gan_conv_geom {
    int64_t channels, height, width; /* image (C, H, W)                  */
    int64_t kh, kw, stride, pad;
    int64_t out_h, out_w;            /* window positions (Ho, Wo)        */
    int nbands, ngroups;             /* set by gan_conv_plan_bands       */
    gan_conv_band band[GAN_CONV_MAX_BANDS];
    gan_conv_krows group[2 * GAN_CONV_MAX_BANDS];
} gan_conv_geom;

/* Cut g's grid into bands and its kernel rows into groups (the fields
 * above them must be set).  One band and one group of every kernel row
 * unless `split`, and when there is no padding to skip, a window lies
 * wholly in the padding, or there would be too many bands. */
void gan_conv_plan_bands(gan_conv_geom *g, bool split);

/* A layer splits its grid into bands when a column's products have at
 * least this many multiply-adds (K * Cgrid).  Below it, as in DCGAN's
 * one-channel first and last layers (K = 16, Cgrid = 64: 1024), the GEMMs
 * are bound by memory, not arithmetic, and the extra GEMM calls cost more
 * than the skipped taps save: there the split made both layers 1.2-1.5x
 * slower. */
#define GAN_CONV_SPLIT_MACS 16384

/* ... and when the multiply-adds it skips over the call's samples are worth
 * at least this many whole columns: below that, for one sample of DCGAN-64,
 * permuting the weight costs more than the split saves (one dcgan64 sample
 * on one thread: 7.1 -> 8.5 ms). */
#define GAN_CONV_SPLIT_COLUMNS 64

/* Are cols' rows in kernel-row-major order (several groups, or one that
 * is not all of the kernel, and more than one channel), so that the
 * weight must be permuted to match? */
static inline bool gan_conv_ki_major(const gan_conv_geom *g)
{
    const bool whole = g->ngroups == 1 && g->group[0].ki0 == 0 && g->group[0].ki1 == g->kh;
    return !whole && g->channels > 1;
}

/* Floats of the `work` buffer that im2col / col2im need for n samples:
 * one zero-padded copy of an image plane per sample. */
int64_t gan_im2col_work_floats(const gan_conv_geom *g, int64_t n);

/* cols (K, N*P) = the windows of x (N, C, H, W), laid out as above. */
void gan_im2col(float *cols, const float *x, const gan_conv_geom *g, int64_t n, float *work);

/* x (N, C, H, W) = bias[c] + the sum of every window value in cols
 * (K, N*P) that lands on that pixel (the entries of kernel rows outside
 * the image are not read).  bias (C) may be NULL (0). */
void gan_col2im(float *x, const float *cols, const float *bias, const gan_conv_geom *g,
                int64_t n, float *work);

/* dst (G, kh, C, kw) = w (G, C, kh, kw): a weight in cols' ki-major order. */
void gan_weight_to_ki_major(float *dst, const float *w, int64_t g, const gan_conv_geom *geom);

/* The products of a chunk of n samples, kernel-row group by group, with the
 * weight w (Cg, K) in cols' order and the grid side (Cg, n*P) channel-
 * major, laid out as cols' columns (leading dimension n*P):
 *   gan_conv_gemm_grid  grid = w . cols                (conv2d forward)
 *   gan_conv_gemm_cols  cols = w^T . grid  (the entries that are read)
 *   gan_conv_gemm_dw    dw  += grid . cols^T           (dw (Cg, K), w's order) */
void gan_conv_gemm_grid(const gan_conv_geom *g, int64_t n, int64_t cg, const float *w,
                        const float *cols, float *grid);
void gan_conv_gemm_cols(const gan_conv_geom *g, int64_t n, int64_t cg, const float *w,
                        const float *grid, float *cols);
void gan_conv_gemm_dw(const gan_conv_geom *g, int64_t n, int64_t cg, const float *grid,
                      const float *cols, float *dw);

/* dst (cols, rows) = src (rows, cols) transposed. */
void gan_transpose(float *dst, const float *src, int64_t rows, int64_t cols);

/* dst (C, N*P) = src (N, C, Ho, Wo) with the first two axes swapped, the
 * columns band by band as cols' (g's grid). */
void gan_nchw_to_cn(float *dst, const float *src, const gan_conv_geom *g, int64_t n, int64_t c);

/* dst (N, C, Ho, Wo) = src (C, N*P) with the first two axes swapped (the
 * columns band by band), + bias[c] (bias may be NULL). */
void gan_cn_to_nchw(float *dst, const float *src, const float *bias, const gan_conv_geom *g,
                    int64_t n, int64_t c);

/* db (C) += sum over n and p of dy (N, C, P). */
void gan_bias_grad_add(float *db, const float *dy, int64_t n, int64_t c, int64_t p);

/* ------------------------------------------------ chunked, threaded lowering
 * A convolution layer lowers its batch CHUNK samples at a time: cols (and
 * the channel-major copies) stay small enough to be cache-friendly, and
 * memory does not grow with the batch.  Each GEMM then has chunk*P columns
 * (P positions per sample), chosen near GAN_LOWERING_COLUMNS so that BLAS's
 * packing stays a small overhead.  The chunks are tasks of libgan's pool
 * (pool.h); the thread that runs one uses its own scratch slot.
 *
 * Weight gradients are sums over the batch, so a backward that computes
 * them splits the batch into a fixed number of tasks (dw_tasks) of
 * task_chunks chunks each (the chunk size is chosen so that they divide
 * evenly), each summing its chunks in order into a buffer of its own:
 * task 0 straight into the layer's gradient (unless the weight is
 * permuted), the others into partial buffers, which gan_lowering_reduce
 * then adds in task order.  The split is a function of
 * the call's sample count and the thread count at reserve time only, so
 * the result never depends on which thread ran which task, nor on the
 * largest batch the layer was planned for. */
#ifndef GAN_LOWERING_COLUMNS
#define GAN_LOWERING_COLUMNS 512
#endif

/* A conv_transpose2d forward GEMM of at most this many columns (a batch of
 * one 4x4 input) computes cols^T instead (conv_transpose2d.c). */
#define GAN_CONVT_FEW_COLUMNS 16

typedef struct gan_lowering {
    /* The plan (gan_lowering_reserve), for any batch up to the reserved: */
    int threads;         /* scratch slots (the pool size at reserve time) */
    int64_t per_chunk;   /* samples of about GAN_LOWERING_COLUMNS columns */
    int max_dw_tasks;    /* tasks that sum weight gradients at most       */
    bool may_permute;    /* some call's geometry may be ki-major          */
    int64_t slot_floats; /* scratch floats per slot (a multiple of 16)    */
    int64_t spare_offset; /* where the layer's spare floats start         */
    int64_t work_offset; /* where im2col's work buffer starts in a slot   */
    int64_t dw_floats;   /* floats of the weight gradient                 */
    /* The split of this call's n samples (gan_lowering_bind): */
    int64_t chunk;       /* samples per GEMM                              */
    int dw_tasks;        /* tasks of a backward that sums dW              */
    int64_t task_chunks; /* chunks per dW task                            */
    bool ki_major;       /* the weight is permuted (gan_conv_ki_major)    */
    /* In the layer's scratch (l->scratch, bound by gan_lowering_bind for
     * each call): (threads, slot_floats); then, if ki_major, the permuted
     * weight (dw_floats) and the tasks' gradients (max_dw_tasks,
     * dw_floats), else the partial gradients of tasks 1..
     * (max_dw_tasks - 1, dw_floats); room for the former if may_permute. */
    float *scratch;
    float *w_perm;
    float *dw_part;
} gan_lowering;

/* Plan the scratch for `batch` samples of `p` positions each, needing per
 * thread `floats_per_column` floats per GEMM column, `spare_floats` more
 * for the layer's own use (gan_lowering_spare) and im2col's work buffer for
 * geometry g, and weight-sized buffers of `dw_floats` (ki-major if g is).
 * Allocates nothing: the layer's owner provides gan_lowering_bytes of
 * scratch.  `what` names the layer. */
gan_status gan_lowering_reserve(gan_lowering *lw, int64_t batch, int64_t p,
                                int64_t floats_per_column, int64_t spare_floats,
                                const gan_conv_geom *g, int64_t dw_floats, const char *what);
/* Bytes of scratch lw needs (per-thread slots and weight-sized buffers). */
size_t gan_lowering_bytes(const gan_lowering *lw);
/* For a call on n samples (at most the reserved batch) of geometry g:
 * point lw's slots and buffers into `scratch` (64-byte aligned, at least
 * gan_lowering_bytes) and split the n samples into chunks and dW tasks. */
void gan_lowering_bind(gan_lowering *lw, void *scratch, int64_t n, const gan_conv_geom *g);
/* Thread `thread`'s scratch: chunk*p*floats_per_column floats, then the
 * spare floats at gan_lowering_spare, then im2col's work buffer at
 * gan_lowering_work. */
float *gan_lowering_slot(const gan_lowering *lw, int thread);
float *gan_lowering_spare(const gan_lowering *lw, int thread);
float *gan_lowering_work(const gan_lowering *lw, int thread);
/* Tasks of a region over n samples: one per chunk, or with dw (a backward
 * that sums weight gradients) dw_tasks. */
int gan_lowering_tasks(const gan_lowering *lw, int64_t n, bool dw);
/* Samples [*lo, *hi) of task t of such a region (lowered chunk by chunk). */
void gan_lowering_range(const gan_lowering *lw, int64_t n, bool dw, int t, int64_t *lo,
                        int64_t *hi);
/* Where dW task t accumulates (ki-major if lw->ki_major): `grad` itself
 * for t = 0 unless ki-major, else a buffer of the scratch, zeroed first. */
float *gan_lowering_dw(const gan_lowering *lw, float *grad, int t);
/* grad (G, C, kh, kw) += the buffers of the dW tasks that had samples of
 * the n (other than grad itself), in task order; g is the lowering's. */
void gan_lowering_reduce(const gan_lowering *lw, float *grad, const gan_conv_geom *g,
                         int64_t n);

/* ------------------------------------------------ the two convolution layers
 * conv2d.c and conv_transpose2d.c each keep their own maths: attach's
 * output size, the GEMMs and permutes of a chunk, the dense fast path.  The
 * rest is the same logic and lives here: hyperparameters and scratch,
 * argument checks, initialisation, the setup of a chunk task, running the
 * tasks.
 *
 * Both lower a sample to the same two sides: the IMAGE the windows slide
 * over, (Cimg, H, W) — conv2d's x, conv_transpose2d's y — and the GRID of
 * window positions, (Cgrid, Ho, Wo) — conv2d's y, conv_transpose2d's x.
 * cols has K = Cimg*kh*kw rows and P = Ho*Wo columns per sample, and the
 * weight is (Cgrid, K) in both: conv2d's (Cout, Cin, kh, kw),
 * conv_transpose2d's (Cin, Cout, kh, kw). */

/* A convolution layer's l->impl. */
typedef struct gan_conv {
    int64_t in_c, out_c, kh, kw, stride, pad;
    int64_t out_pad;  /* output_padding: conv_transpose2d only (0 in conv2d) */
    bool transposed;  /* conv_transpose2d: the image is y, the grid x      */
    bool has_bias;
    /* Per-thread scratch: cols (K, chunk*P) then a (Cgrid, chunk*P) buffer
     * for the grid side channel-major (gan_conv_task.cn). */
    gan_lowering lw;
} gan_conv;

/* A constructor's work after its own name: check the arguments in *c
 * (messages start with `fn`, the public function), then make the layer of
 * `ops` with a copy of *c as impl, slots "weight" (Cgrid, Cimg, kh, kw)
 * and, with c->has_bias, "bias" (Cout). */
gan_status gan_conv_create(gan_layer **out, const gan_layer_ops *ops, const char *fn,
                           const gan_conv *c);
/* attach's first checks: in must be (C, H, W) with C = in_c. */
gan_status gan_conv_check_input(const gan_layer *l, const gan_shape *in);
/* attach's last step: out = (Cout, oh, ow); the next forward reserves
 * again even for a batch it has seen (the scratch sizes changed). */
gan_status gan_conv_set_output(gan_layer *l, gan_shape *out, int64_t oh, int64_t ow);
/* The window sweep of an attached layer for a call on n samples: windows
 * over the image, at the grid's positions, split into bands when that is
 * worth it (GAN_CONV_SPLIT_MACS, GAN_CONV_SPLIT_COLUMNS). */
gan_conv_geom gan_conv_geometry(const gan_layer *l, int64_t n);
/* ops->reserve: batch*P must fit a GEMM dimension; then scratch for
 * `batch` samples unless the layer takes its dense fast path (none). */
gan_status gan_conv_reserve(gan_layer *l, int64_t batch, bool dense);

/* What every task of one forward or backward region is handed. */
typedef struct gan_conv_job {
    gan_layer *l;
    float *out;            /* forward: y (N, out...); backward: dx or NULL */
    const float *x;        /* (N, in...)                                   */
    const float *dy;       /* backward: (N, out...)                        */
    int64_t n;
    bool param_grads;
    gan_conv_geom g;       /* the window sweep for n samples               */
} gan_conv_job;

/* What one task works with (gan_conv_task_begin): the job's tensors and
 * the task's share of the batch, scratch and sizes. */
typedef struct gan_conv_task {
    float *out;                 /* the job's                               */
    const float *x, *dy;        /* the job's                               */
    bool param_grads;           /* the job's                               */
    gan_conv_geom g;            /* the window sweep                        */
    int64_t cin, cout, k, p;    /* Cin, Cout, K, P                         */
    int64_t in_size, out_size;  /* floats per sample of x and of y         */
    const float *w;             /* (Cgrid, K), ki-major if g is            */
    const float *b;             /* (Cout), NULL without bias               */
    float *dw;                  /* (Cgrid, K) this task's dW, ki-major if
                                   w is; NULL unless the job sums
                                   parameter gradients                     */
    float *cols;                /* (K, chunk*P) this thread's              */
    float *cn;                  /* (Cgrid, chunk*P) this thread's          */
    float *work;                /* im2col's padded planes                  */
    float *spare;               /* the layer's spare floats (see reserve)  */
    int64_t lo, hi, chunk;      /* samples [lo, hi), chunk at a time       */
} gan_conv_task;

/* The setup of a task of a gan_conv_job region (the pool's arguments). */
gan_conv_task gan_conv_task_begin(const void *job, int t, int ntasks, int thread);

/* Samples of the chunk that starts at sample s of the task. */
static inline int64_t gan_conv_chunk_len(const gan_conv_task *tk, int64_t s)
{
    return tk->hi - s < tk->chunk ? tk->hi - s : tk->chunk;
}

/* A grid-side chunk src (m, C, P) channel-major, (C, m*P): permuted into
 * cn, or src itself when m = 1 (one sample's columns are its plane's
 * positions in order). */
static inline const float *gan_conv_to_cn(float *cn, const float *src, const gan_conv_geom *g,
                                          int64_t m, int64_t c)
{
    if (m == 1) return src;
    gan_nchw_to_cn(cn, src, g, m, c);
    return cn;
}

/* y = forward of x, by the tasks of `task` over the batch. */
void gan_conv_forward(gan_layer *l, gan_task_fn task, float *y, const float *x, int64_t n);
/* The tasks of `task` over the batch (dx, and dW into the tasks'
 * partials); then, with param_grads, dW += the partials and
 * db += sum over N and the output's positions of dy.  Nothing to do
 * without dx and param_grads. */
void gan_conv_backward(gan_layer *l, gan_task_fn task, float *dx, const float *dy,
                       const float *x, int64_t n, bool param_grads);

/* PyTorch's default or DCGAN's initialisation (ops->init). */
void gan_conv_init(gan_layer *l, gan_init scheme, gan_rng *rng);
/* "conv2d in=1 out=64 k=4x4 s=2 p=1 bias=0"; conv_transpose2d adds
 * "op=<output_padding>" before bias (ops->describe). */
int gan_conv_describe(const gan_layer *l, char *buf, size_t cap);
void gan_conv_destroy(gan_layer *l);
/* Backward reads x, never y (ops->traits). */
unsigned gan_conv_traits(const gan_layer *l);
size_t gan_conv_scratch_bytes(const gan_layer *l);

#endif
