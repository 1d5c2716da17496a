/* im2col.h — lowering helpers shared by conv2d.c and conv_transpose2d.c.
 *
 * A convolution slides a kh x kw window over a stack of image planes
 * (C, H, W).  im2col copies every window into one column, so the
 * convolution becomes a single GEMM; col2im is its adjoint (scatter-add).
 * Both work on the WHOLE batch at once: the columns of all N images sit
 * side by side, giving one wide GEMM instead of N narrow ones.
 *
 *   cols (C*kh*kw, N*Ho*Wo):  row (c, ki, kj), column (n, oy, ox) holds
 *   x[n, c, oy*stride - pad + ki, ox*stride - pad + kj]  (0 outside the image)
 *
 * The GEMM then yields (Cout, N*Ho*Wo) — channel-major ("CN") — which the
 * permutes below turn into the library's (N, C, H, W) layout and back.
 */
#ifndef GAN_IM2COL_H
#define GAN_IM2COL_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"
#include "core/pool.h"

/* One window sweep: the image it reads (or, for col2im, writes) and the grid
 * of window positions.  out_h/out_w are stored, not derived, so a transposed
 * convolution can use a taller image than the windows cover (its
 * output_padding rows and columns simply receive no contribution). */
typedef struct gan_conv_geom {
    int64_t channels, height, width; /* image (C, H, W)                  */
    int64_t kh, kw, stride, pad;
    int64_t out_h, out_w;            /* window positions (Ho, Wo)        */
} gan_conv_geom;

/* Floats of the `work` buffer that im2col / col2im need for n samples:
 * one zero-padded copy of an image plane per sample. */
int64_t gan_im2col_work_floats(const gan_conv_geom *g, int64_t n);

/* cols (C*kh*kw, N*Ho*Wo) = the windows of x (N, C, H, W). */
void gan_im2col(float *cols, const float *x, const gan_conv_geom *g, int64_t n, float *work);

/* x (N, C, H, W) = bias[c] + the sum of every window value in cols
 * (C*kh*kw, N*Ho*Wo) that lands on that pixel.  bias (C) may be NULL (0). */
void gan_col2im(float *x, const float *cols, const float *bias, const gan_conv_geom *g,
                int64_t n, float *work);

/* dst (C, N*P) = src (N, C, P) with the first two axes swapped. */
void gan_nchw_to_cn(float *dst, const float *src, int64_t n, int64_t c, int64_t p);

/* dst (N, C, P) = src (C, N*P) with the first two axes swapped, + bias[c]
 * (bias may be NULL). */
void gan_cn_to_nchw(float *dst, const float *src, const float *bias, int64_t n, int64_t c,
                    int64_t p);

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
 * them splits the batch into a fixed number of tasks (dw_tasks, set by the
 * thread count at reserve time) of task_chunks chunks each (the chunk size
 * is chosen so that they divide evenly), each summing its chunks in order:
 * task 0 straight into the layer's gradient, task t > 0 into partial buffer
 * t - 1, which gan_lowering_reduce then adds in task order.  The result
 * depends on dw_tasks only, never on which thread ran which task. */
#ifndef GAN_LOWERING_COLUMNS
#define GAN_LOWERING_COLUMNS 512
#endif

typedef struct gan_lowering {
    int64_t chunk;       /* samples per GEMM                              */
    int threads;         /* scratch slots (the pool size at reserve time) */
    int dw_tasks;        /* tasks of a backward that sums dW              */
    int64_t task_chunks; /* chunks per dW task                            */
    int64_t slot_floats; /* scratch floats per slot                       */
    int64_t work_offset; /* where im2col's work buffer starts in a slot   */
    float *scratch;      /* (threads, slot_floats)                        */
    int64_t dw_floats;   /* floats of the weight gradient                 */
    float *dw_part;      /* (dw_tasks - 1, dw_floats) partial weight grads */
} gan_lowering;

/* Size the scratch for `batch` samples of `p` positions each, needing per
 * thread `floats_per_column` floats per GEMM column plus im2col's work
 * buffer for geometry g, and partial weight gradients of `dw_floats`.  New
 * buffers are allocated before the old ones go, so a failure leaves lw as it
 * was.  `what` names the layer. */
gan_status gan_lowering_reserve(gan_lowering *lw, int64_t batch, int64_t p,
                                int64_t floats_per_column, const gan_conv_geom *g,
                                int64_t dw_floats, const char *what);
void gan_lowering_free(gan_lowering *lw);
/* Bytes held by lw (scratch and partial gradients). */
size_t gan_lowering_bytes(const gan_lowering *lw);
/* Thread `thread`'s scratch: chunk*p*floats_per_column floats, then
 * im2col's work buffer at gan_lowering_work. */
float *gan_lowering_slot(const gan_lowering *lw, int thread);
float *gan_lowering_work(const gan_lowering *lw, int thread);
/* Tasks of a region over n samples: one per chunk, or with dw (a backward
 * that sums weight gradients) dw_tasks. */
int gan_lowering_tasks(const gan_lowering *lw, int64_t n, bool dw);
/* Samples [*lo, *hi) of task t of such a region (lowered chunk by chunk). */
void gan_lowering_range(const gan_lowering *lw, int64_t n, bool dw, int t, int64_t *lo,
                        int64_t *hi);
/* Where dW task t accumulates: `grad` for t = 0, else its partial. */
float *gan_lowering_dw(const gan_lowering *lw, float *grad, int t);
/* grad += the partials of dW tasks 1.. that had samples of the n. */
void gan_lowering_reduce(const gan_lowering *lw, float *grad, int64_t n);

#endif
