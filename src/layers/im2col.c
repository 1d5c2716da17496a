/* im2col.c — see im2col.h.
 *
 * Loops run image plane by image plane (n, c outer): each plane is small and
 * stays in cache while its kh*kw column rows are written (im2col) or
 * gathered (col2im), and distinct planes never touch the same memory, so a
 * later pass can split the (n, c) loop across threads. */
#include "im2col.h"

#include <string.h>

/* Window positions o in [0, out) whose tap o*stride - pad + k falls inside
 * [0, size): the half-open range [*lo, *hi). */
static void valid_range(int64_t *lo, int64_t *hi, int64_t k, int64_t size, int64_t out,
                        int64_t stride, int64_t pad)
{
    int64_t shift = k - pad; /* tap = o*stride + shift */
    int64_t first = shift >= 0 ? 0 : (-shift + stride - 1) / stride;
    int64_t end = size - 1 - shift < 0 ? 0 : (size - 1 - shift) / stride + 1;
    if (first > out) first = out;
    if (end > out) end = out;
    if (end < first) end = first;
    *lo = first;
    *hi = end;
}

/* cols[row (c,ki,kj), col (n,oy,ox)] = x[n, c, oy*s - p + ki, ox*s - p + kj] */
void gan_im2col(float *cols, const float *x, const gan_conv_geom *g, int64_t n)
{
    const int64_t h = g->height, w = g->width, s = g->stride, p = g->pad;
    const int64_t oh = g->out_h, ow = g->out_w, np = n * oh * ow;
    for (int64_t b = 0; b < n; b++) {
        for (int64_t c = 0; c < g->channels; c++) {
            const float *plane = x + (b * g->channels + c) * h * w; /* (H, W) */
            for (int64_t ki = 0; ki < g->kh; ki++) {
                for (int64_t kj = 0; kj < g->kw; kj++) {
                    int64_t row = (c * g->kh + ki) * g->kw + kj;
                    float *dst = cols + row * np + b * oh * ow; /* (Ho, Wo) */
                    int64_t ox_lo, ox_hi;
                    valid_range(&ox_lo, &ox_hi, kj, w, ow, s, p);
                    for (int64_t oy = 0; oy < oh; oy++, dst += ow) {
                        int64_t iy = oy * s - p + ki;
                        if (iy < 0 || iy >= h) {
                            memset(dst, 0, (size_t)ow * sizeof(float));
                            continue;
                        }
                        const int64_t base = iy * w + kj - p; /* plane index at ox = 0 */
                        for (int64_t ox = 0; ox < ox_lo; ox++) dst[ox] = 0.0f;
                        for (int64_t ox = ox_lo; ox < ox_hi; ox++) dst[ox] = plane[base + ox * s];
                        for (int64_t ox = ox_hi; ox < ow; ox++) dst[ox] = 0.0f;
                    }
                }
            }
        }
    }
}

/* x[n, c, oy*s - p + ki, ox*s - p + kj] += cols[row (c,ki,kj), col (n,oy,ox)] */
void gan_col2im(float *x, const float *cols, const float *bias, const gan_conv_geom *g,
                int64_t n)
{
    const int64_t h = g->height, w = g->width, s = g->stride, p = g->pad;
    const int64_t oh = g->out_h, ow = g->out_w, np = n * oh * ow;
    for (int64_t b = 0; b < n; b++) {
        for (int64_t c = 0; c < g->channels; c++) {
            float *plane = x + (b * g->channels + c) * h * w; /* (H, W) */
            const float start = bias ? bias[c] : 0.0f;
            for (int64_t i = 0; i < h * w; i++) plane[i] = start;
            for (int64_t ki = 0; ki < g->kh; ki++) {
                for (int64_t kj = 0; kj < g->kw; kj++) {
                    int64_t row = (c * g->kh + ki) * g->kw + kj;
                    const float *src = cols + row * np + b * oh * ow; /* (Ho, Wo) */
                    int64_t ox_lo, ox_hi;
                    valid_range(&ox_lo, &ox_hi, kj, w, ow, s, p);
                    for (int64_t oy = 0; oy < oh; oy++, src += ow) {
                        int64_t iy = oy * s - p + ki;
                        if (iy < 0 || iy >= h) continue;
                        const int64_t base = iy * w + kj - p;
                        for (int64_t ox = ox_lo; ox < ox_hi; ox++) plane[base + ox * s] += src[ox];
                    }
                }
            }
        }
    }
}

/* dst[c, n*P + i] = src[n, c, i] */
void gan_nchw_to_cn(float *dst, const float *src, int64_t n, int64_t c, int64_t p)
{
    for (int64_t b = 0; b < n; b++)
        for (int64_t ch = 0; ch < c; ch++)
            memcpy(dst + ch * n * p + b * p, src + (b * c + ch) * p, (size_t)p * sizeof(float));
}

/* dst[n, c, i] = src[c, n*P + i] + bias[c] */
void gan_cn_to_nchw(float *dst, const float *src, const float *bias, int64_t n, int64_t c,
                    int64_t p)
{
    for (int64_t b = 0; b < n; b++) {
        for (int64_t ch = 0; ch < c; ch++) {
            float *d = dst + (b * c + ch) * p;         /* (P) */
            const float *s = src + ch * n * p + b * p; /* (P) */
            const float add = bias ? bias[ch] : 0.0f;
            for (int64_t i = 0; i < p; i++) d[i] = s[i] + add;
        }
    }
}

/* db[c] += sum_{n,i} dy[n, c, i] */
void gan_bias_grad_add(float *db, const float *dy, int64_t n, int64_t c, int64_t p)
{
    for (int64_t ch = 0; ch < c; ch++) {
        double sum = 0.0;
        for (int64_t b = 0; b < n; b++) {
            const float *plane = dy + (b * c + ch) * p; /* (P) */
            for (int64_t i = 0; i < p; i++) sum += plane[i];
        }
        db[ch] += (float)sum;
    }
}

/* ------------------------------------------------ chunked, threaded lowering */

gan_status gan_lowering_reserve(gan_lowering *lw, int64_t batch, int64_t p,
                                int64_t floats_per_column, int64_t dw_floats, const char *what)
{
    const int workers = gan_pool_size(GAN_POOL_MAX);
    const int64_t per_worker = (batch + workers - 1) / workers;
    int64_t chunk = (GAN_LOWERING_COLUMNS + p - 1) / p;
    if (chunk > per_worker) chunk = per_worker;
    if (chunk < 1) chunk = 1;
    int64_t slot = chunk * p * floats_per_column, total_dw = (workers - 1) * dw_floats;
    int64_t probe[2] = {workers, slot};
    GAN_TRY(gan_shape_check(2, probe, what));
    float *scratch = gan_alloc_floats(workers * slot);
    float *dw_part = total_dw > 0 ? gan_alloc_floats(total_dw) : NULL;
    if (scratch == NULL || (total_dw > 0 && dw_part == NULL)) {
        gan_dealloc(scratch);
        gan_dealloc(dw_part);
        return gan_fail(GAN_E_NOMEM, "%s: out of memory for %d x %lld floats of scratch", what,
                        workers, (long long)slot);
    }
    gan_lowering_free(lw);
    *lw = (gan_lowering){.chunk = chunk, .workers = workers, .slot_floats = slot,
                         .scratch = scratch, .dw_floats = dw_floats, .dw_part = dw_part};
    return GAN_OK;
}

void gan_lowering_free(gan_lowering *lw)
{
    gan_dealloc(lw->scratch);
    gan_dealloc(lw->dw_part);
    *lw = (gan_lowering){0};
}

float *gan_lowering_slot(const gan_lowering *lw, int w)
{
    return lw->scratch + w * lw->slot_floats;
}

float *gan_lowering_dw(const gan_lowering *lw, float *grad, int w)
{
    return w == 0 ? grad : lw->dw_part + (w - 1) * lw->dw_floats;
}

typedef struct reduce_job {
    const gan_lowering *lw;
    float *grad;
    const bool *used;
    int nw; /* workers of the backward whose partials are summed */
} reduce_job;

/* grad[i] += part_1[i] + part_2[i] + ... over this worker's block of i */
static void reduce_task(void *ctx, int w, int nw)
{
    const reduce_job *j = ctx;
    int64_t lo, hi;
    gan_split(j->lw->dw_floats, w, nw, &lo, &hi);
    for (int src = 1; src < j->nw; src++) {
        if (!j->used[src]) continue;
        const float *part = gan_lowering_dw(j->lw, NULL, src);
        for (int64_t i = lo; i < hi; i++) j->grad[i] += part[i];
    }
}

void gan_lowering_reduce(const gan_lowering *lw, float *grad, const bool *used, int nw)
{
    reduce_job j = {lw, grad, used, nw};
    const int64_t blocks = lw->dw_floats / 32768;
    gan_parallel(reduce_task, &j, blocks < 1 ? 1 : blocks > GAN_POOL_MAX ? GAN_POOL_MAX : (int)blocks);
}
