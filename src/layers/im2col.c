/* im2col.c — see im2col.h.
 *
 * Both directions work through zero-padded copies of the image planes
 * (H + 2 pad, W + 2 pad): every window then lies inside its plane, so the
 * inner loops have no bounds checks, and for strides 1 and 2 they copy four
 * window values per vector step (stride 2 keeps the even lanes of two
 * loads).  Loops run channel by channel: the padded planes of one channel
 * for all n samples stay in cache while the channel's kh*kw rows of cols
 * are written (or read) front to back. */
#include "im2col.h"
#include "core/simd.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Floats between consecutive padded planes (the slack lets a vector step
 * read a little past the last window). */
static int64_t plane_stride(const gan_conv_geom *g)
{
    return (g->height + 2 * g->pad) * (g->width + 2 * g->pad) + 8;
}

int64_t gan_im2col_work_floats(const gan_conv_geom *g, int64_t n)
{
    return n * plane_stride(g);
}

/* d[i] = s[i] for i < n, inline (rows here are 7-28 floats: a call to
 * memcpy per row cost more than the copy) */
GAN_INLINE void copy_floats(float *d, const float *s, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) gan_v4_store(d + i, gan_v4_load(s + i));
    for (; i < n; i++) d[i] = s[i];
}

/* pp (H + 2p, W + 2p) = plane (H, W) with `pad` zeros around it */
GAN_INLINE void pad_plane(float *pp, const float *plane, const gan_conv_geom *g)
{
    const int64_t p = g->pad, h = g->height, w = g->width, wp = w + 2 * p;
    memset(pp, 0, (size_t)(p * wp + p) * sizeof(float));
    for (int64_t iy = 0; iy < h; iy++) {
        float *row = pp + (iy + p) * wp + p; /* (W) plus 2p zeros after it */
        copy_floats(row, plane + iy * w, w);
        for (int64_t i = w; i < w + 2 * p; i++) row[i] = 0.0f;
    }
    memset(pp + (h + p) * wp + p, 0, (size_t)(plane_stride(g) - (h + p) * wp - p) * sizeof(float));
}

/* d[i] = s[i] + add for i < n (vector steps, then the rest) */
GAN_INLINE void add_copy(float *d, const float *s, float add, int64_t n)
{
    const gan_v4 va = gan_v4_splat(add);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) gan_v4_store(d + i, gan_v4_load(s + i) + va);
    for (; i < n; i++) d[i] = s[i] + add;
}

/* d[i] += s[i] for i < n */
GAN_INLINE void add_into(float *d, const float *s, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) gan_v4_store(d + i, gan_v4_load(d + i) + gan_v4_load(s + i));
    for (; i < n; i++) d[i] += s[i];
}

/* One window tap over n padded planes ps floats apart, rows of Ho windows:
 * dst (n, Ho, Wo) = src[i*ps + oy*s*wp + ox*s] */
static inline void copy_tap(float *dst, const float *src, int64_t ps, int64_t n, int64_t s,
                            int64_t wp, int64_t ho, int64_t wo)
{
    for (int64_t i = 0; i < n; i++, src += ps) {
        const float *row = src;
        for (int64_t oy = 0; oy < ho; oy++, row += s * wp, dst += wo) {
            if (s > 2 || wo < 4) {
                for (int64_t ox = 0; ox < wo; ox++) dst[ox] = row[ox * s];
                continue;
            }
            for (int64_t ox = 0;; ox += 4) { /* the last step overlaps the one before */
                if (ox > wo - 4) ox = wo - 4;
                gan_v4 v = gan_v4_load(row + s * ox);
                if (s == 2) v = GAN_V4_SHUFFLE2(v, gan_v4_load(row + 2 * ox + 4), 0, 2, 4, 6);
                gan_v4_store(dst + ox, v);
                if (ox == wo - 4) break;
            }
        }
    }
}

/* Stride 2, two neighbouring taps kj and kj + 1 from the same loads:
 * a (n, Ho, Wo) = src[i*ps + 2 oy wp + 2 ox], b = src[... + 1] (the even
 * and the odd lanes of eight consecutive values; Wo >= 4) */
static inline void copy_tap_pair_s2(float *a, float *b, const float *src, int64_t ps, int64_t n,
                                    int64_t wp, int64_t ho, int64_t wo)
{
    for (int64_t i = 0; i < n; i++, src += ps) {
        const float *row = src;
        for (int64_t oy = 0; oy < ho; oy++, row += 2 * wp, a += wo, b += wo) {
            for (int64_t ox = 0;; ox += 4) {
                if (ox > wo - 4) ox = wo - 4; /* the last step overlaps the one before */
                const gan_v4 lo = gan_v4_load(row + 2 * ox), hi = gan_v4_load(row + 2 * ox + 4);
                gan_v4_store(a + ox, GAN_V4_SHUFFLE2(lo, hi, 0, 2, 4, 6));
                gan_v4_store(b + ox, GAN_V4_SHUFFLE2(lo, hi, 1, 3, 5, 7));
                if (ox == wo - 4) break;
            }
        }
    }
}

/* One window tap into n padded planes: dst[i*ps + oy*s*wp + ox*s] += src (n, Ho, Wo) */
static inline void add_tap(float *dst, const float *src, int64_t ps, int64_t n, int64_t s,
                           int64_t wp, int64_t ho, int64_t wo)
{
    const gan_v4 zero = gan_v4_splat(0.0f);
    for (int64_t i = 0; i < n; i++, dst += ps) {
        float *row = dst;
        for (int64_t oy = 0; oy < ho; oy++, src += wo, row += s * wp) {
            int64_t ox = 0;
            if (s == 2) /* spread four values over the even lanes of eight */
                for (; ox + 4 <= wo; ox += 4) {
                    gan_v4 v = gan_v4_load(src + ox);
                    float *d = row + 2 * ox;
                    gan_v4_store(d, gan_v4_load(d) + GAN_V4_SHUFFLE2(v, zero, 0, 4, 1, 4));
                    gan_v4_store(d + 4, gan_v4_load(d + 4) + GAN_V4_SHUFFLE2(v, zero, 2, 4, 3, 4));
                }
            else if (s == 1)
                for (; ox + 4 <= wo; ox += 4)
                    gan_v4_store(row + ox, gan_v4_load(row + ox) + gan_v4_load(src + ox));
            for (; ox < wo; ox++) row[ox * s] += src[ox];
        }
    }
}

/* Stride 2, two neighbouring taps into n padded planes at once:
 * dst[i*ps + 2 oy wp + 2 ox] += a (n, Ho, Wo) and dst[... + 1] += b; the
 * two taps never meet on one element, so each element receives the same
 * additions in the same order as tap by tap */
static inline void add_tap_pair_s2(float *dst, const float *a, const float *b, int64_t ps,
                                   int64_t n, int64_t wp, int64_t ho, int64_t wo)
{
    for (int64_t i = 0; i < n; i++, dst += ps) {
        float *row = dst;
        for (int64_t oy = 0; oy < ho; oy++, a += wo, b += wo, row += 2 * wp) {
            int64_t ox = 0;
            for (; ox + 4 <= wo; ox += 4) {
                const gan_v4 va = gan_v4_load(a + ox), vb = gan_v4_load(b + ox);
                float *d = row + 2 * ox;
                gan_v4_store(d, gan_v4_load(d) + GAN_V4_SHUFFLE2(va, vb, 0, 4, 1, 5));
                gan_v4_store(d + 4, gan_v4_load(d + 4) + GAN_V4_SHUFFLE2(va, vb, 2, 6, 3, 7));
            }
            for (; ox < wo; ox++) {
                row[2 * ox] += a[ox];
                row[2 * ox + 1] += b[ox];
            }
        }
    }
}

void gan_conv_plan_bands(gan_conv_geom *g, bool split)
{
    g->nbands = 0;
    for (int64_t oy = 0; oy < g->out_h && split; oy++) {
        const int64_t top = oy * g->stride - g->pad; /* the image row under kernel row 0 */
        const int64_t ki0 = top < 0 ? -top : 0;
        const int64_t ki1 = g->height - top < g->kh ? g->height - top : g->kh;
        gan_conv_band *last = g->nbands > 0 ? &g->band[g->nbands - 1] : NULL;
        if (last != NULL && last->ki0 == ki0 && last->ki1 == ki1) {
            last->oy1 = oy + 1;
            continue;
        }
        if (ki0 >= ki1 || g->nbands == GAN_CONV_MAX_BANDS) { /* no bands after all */
            g->nbands = 0;
            break;
        }
        g->band[g->nbands++] = (gan_conv_band){oy, oy + 1, ki0, ki1};
    }
    if (g->nbands == 0) { /* one whole band over the padded image */
        g->nbands = 1;
        g->band[0] = (gan_conv_band){0, g->out_h, 0, g->kh};
    }
    /* kernel row ki is inside at the bands b with ki0_b <= ki < ki1_b: both
     * ends fall as b grows, so those bands are a run [b0, b1] */
    g->ngroups = 0;
    for (int64_t ki = 0; ki < g->kh; ki++) {
        int b0 = 0, b1 = g->nbands - 1;
        while (b0 < g->nbands && g->band[b0].ki0 > ki) b0++;
        while (b1 >= 0 && g->band[b1].ki1 <= ki) b1--;
        if (b0 > b1) continue; /* in the padding everywhere */
        gan_conv_krows *last = g->ngroups > 0 ? &g->group[g->ngroups - 1] : NULL;
        if (last != NULL && last->ki1 == ki && last->b0 == b0 && last->b1 == b1) last->ki1 = ki + 1;
        else g->group[g->ngroups++] = (gan_conv_krows){ki, ki + 1, b0, b1};
    }
}

/* cols' row of kernel tap (c, ki, kj) (see im2col.h) */
GAN_INLINE int64_t cols_row(const gan_conv_geom *g, int64_t c, int64_t ki, int64_t kj)
{
    if (gan_conv_ki_major(g)) return (ki * g->channels + c) * g->kw + kj;
    return (c * g->kh + ki) * g->kw + kj;
}

/* cols[row (c,ki,kj), col (b, n, oy - oy0_b, ox)] = x[n, c, oy*s - p + ki, ox*s - p + kj]
 * for the bands b where kernel row ki is inside (static: a target_clones
 * function with external linkage would be exported from the shared
 * library whatever its visibility) */
GAN_HOT static void im2col(float *cols, const float *x, const gan_conv_geom *g, int64_t n,
                           float *work)
{
    const int64_t s = g->stride, wp = g->width + 2 * g->pad, hw = g->height * g->width;
    const int64_t wo = g->out_w, np = n * g->out_h * wo, ps = plane_stride(g);
    for (int64_t c = 0; c < g->channels; c++) {
        for (int64_t i = 0; i < n; i++) pad_plane(work + i * ps, x + (i * g->channels + c) * hw, g);
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++) {
                const bool pair = s == 2 && wo >= 4 && kj + 1 < g->kw; /* taps kj and kj + 1 */
                float *row = cols + cols_row(g, c, ki, kj) * np;
                float *next = pair ? cols + cols_row(g, c, ki, kj + 1) * np : NULL;
                for (int b = 0; b < g->nbands; b++) {
                    const gan_conv_band *bd = &g->band[b];
                    if (ki < bd->ki0 || ki >= bd->ki1) continue;
                    const int64_t ho = bd->oy1 - bd->oy0, at = n * bd->oy0 * wo;
                    const float *src = work + (bd->oy0 * s + ki) * wp + kj;
                    if (pair) copy_tap_pair_s2(row + at, next + at, src, ps, n, wp, ho, wo);
                    else copy_tap(row + at, src, ps, n, s, wp, ho, wo);
                }
                kj += pair;
            }
    }
}

/* x[n, c, oy*s - p + ki, ox*s - p + kj] += cols[row (c,ki,kj), col (b, n, oy - oy0_b, ox)]
 * over the bands b where kernel row ki is inside */
GAN_HOT static void col2im(float *x, const float *cols, const float *bias,
                           const gan_conv_geom *g, int64_t n, float *work)
{
    const int64_t s = g->stride, pad = g->pad, h = g->height, w = g->width, wp = w + 2 * pad;
    const int64_t wo = g->out_w, np = n * g->out_h * wo, ps = plane_stride(g);
    for (int64_t c = 0; c < g->channels; c++) {
        memset(work, 0, (size_t)(n * ps) * sizeof(float));
        for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++) {
                const bool pair = s == 2 && kj + 1 < g->kw; /* taps kj and kj + 1 */
                const float *row = cols + cols_row(g, c, ki, kj) * np;
                const float *next = pair ? cols + cols_row(g, c, ki, kj + 1) * np : NULL;
                for (int b = 0; b < g->nbands; b++) {
                    const gan_conv_band *bd = &g->band[b];
                    if (ki < bd->ki0 || ki >= bd->ki1) continue;
                    const int64_t ho = bd->oy1 - bd->oy0, at = n * bd->oy0 * wo;
                    float *dst = work + (bd->oy0 * s + ki) * wp + kj;
                    if (pair) add_tap_pair_s2(dst, row + at, next + at, ps, n, wp, ho, wo);
                    else add_tap(dst, row + at, ps, n, s, wp, ho, wo);
                }
                kj += pair;
            }
        const float start = bias ? bias[c] : 0.0f;
        for (int64_t i = 0; i < n; i++) { /* the image part of each padded plane, + bias */
            float *plane = x + (i * g->channels + c) * h * w;          /* (H, W) */
            const float *pp = work + i * ps + pad * wp + pad;
            for (int64_t iy = 0; iy < h; iy++) add_copy(plane + iy * w, pp + iy * wp, start, w);
        }
    }
}

void gan_im2col(float *cols, const float *x, const gan_conv_geom *g, int64_t n, float *work)
{
    im2col(cols, x, g, n, work);
}

void gan_col2im(float *x, const float *cols, const float *bias, const gan_conv_geom *g,
                int64_t n, float *work)
{
    col2im(x, cols, bias, g, n, work);
}

void gan_weight_to_ki_major(float *dst, const float *w, int64_t g, const gan_conv_geom *geom)
{
    const int64_t c = geom->channels, kh = geom->kh, kw = geom->kw;
    for (int64_t o = 0; o < g; o++, w += c * kh * kw)
        for (int64_t ki = 0; ki < kh; ki++)
            for (int64_t ch = 0; ch < c; ch++, dst += kw)
                copy_floats(dst, w + (ch * kh + ki) * kw, kw);
}

/* Group r's block of a chunk of n samples: its first row of K (in cols'
 * order) and its rows, its first column and its columns, and the chunk's
 * K and columns (the leading dimensions). */
typedef struct group_block {
    int64_t k_at, k, col_at, cols;
    int64_t lda, ld;
} group_block;

static group_block block_of(const gan_conv_geom *g, int r, int64_t n)
{
    const gan_conv_krows *gr = &g->group[r];
    group_block b = {.k_at = gr->ki0 * g->channels * g->kw,
                     .k = (gr->ki1 - gr->ki0) * g->channels * g->kw,
                     .col_at = n * g->band[gr->b0].oy0 * g->out_w,
                     .lda = g->channels * g->kh * g->kw, .ld = n * g->out_h * g->out_w};
    b.cols = n * g->band[gr->b1].oy1 * g->out_w - b.col_at;
    return b;
}

/* grid[:, group r's columns] = w[:, its rows of K] . cols[its rows, columns]
 * (+ beta * grid) */
static void grid_product(const gan_conv_geom *g, int r, int64_t n, int64_t cg, const float *w,
                         const float *cols, float beta, float *grid)
{
    const group_block b = block_of(g, r, n);
    gan_sgemm(false, false, cg, b.cols, b.k, 1.0f, w + b.k_at, b.lda,
              cols + b.k_at * b.ld + b.col_at, b.ld, beta, grid + b.col_at, b.ld);
}

void gan_conv_gemm_grid(const gan_conv_geom *g, int64_t n, int64_t cg, const float *w,
                        const float *cols, float *grid)
{
    int lead = -1; /* a group inside at every band: its product sets all of grid */
    for (int r = 0; r < g->ngroups; r++)
        if (g->group[r].b0 == 0 && g->group[r].b1 == g->nbands - 1) {
            lead = r;
            break;
        }
    if (lead >= 0) grid_product(g, lead, n, cg, w, cols, 0.0f, grid);
    else memset(grid, 0, (size_t)(cg * n * g->out_h * g->out_w) * sizeof(float));
    for (int r = 0; r < g->ngroups; r++)
        if (r != lead) grid_product(g, r, n, cg, w, cols, 1.0f, grid);
}

void gan_conv_gemm_cols(const gan_conv_geom *g, int64_t n, int64_t cg, const float *w,
                        const float *grid, float *cols)
{
    for (int r = 0; r < g->ngroups; r++) {
        const group_block b = block_of(g, r, n);
        gan_sgemm(true, false, b.k, b.cols, cg, 1.0f, w + b.k_at, b.lda, grid + b.col_at, b.ld,
                  0.0f, cols + b.k_at * b.ld + b.col_at, b.ld);
    }
}

void gan_conv_gemm_dw(const gan_conv_geom *g, int64_t n, int64_t cg, const float *grid,
                      const float *cols, float *dw)
{
    for (int r = 0; r < g->ngroups; r++) {
        const group_block b = block_of(g, r, n);
        gan_sgemm(false, true, cg, b.k, b.cols, 1.0f, grid + b.col_at, b.ld,
                  cols + b.k_at * b.ld + b.col_at, b.ld, 1.0f, dw + b.k_at, b.lda);
    }
}

void gan_transpose(float *dst, const float *src, int64_t rows, int64_t cols)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
}

/* dst[c, column (b, n, oy - oy0_b, ox)] = src[n, c, oy, ox] */
GAN_HOT static void nchw_to_cn(float *dst, const float *src, const gan_conv_geom *g, int64_t n,
                               int64_t c)
{
    const int64_t wo = g->out_w, p = g->out_h * wo, np = n * p;
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int b = 0; b < g->nbands; b++) {
                const int64_t oy0 = g->band[b].oy0, pb = (g->band[b].oy1 - oy0) * wo;
                copy_floats(dst + ch * np + n * oy0 * wo + i * pb,
                            src + (i * c + ch) * p + oy0 * wo, pb);
            }
}

void gan_nchw_to_cn(float *dst, const float *src, const gan_conv_geom *g, int64_t n, int64_t c)
{
    nchw_to_cn(dst, src, g, n, c);
}

/* dst[n, c, oy, ox] = src[c, column (b, n, oy - oy0_b, ox)] + bias[c] */
GAN_HOT static void cn_to_nchw(float *dst, const float *src, const float *bias,
                               const gan_conv_geom *g, int64_t n, int64_t c)
{
    const int64_t wo = g->out_w, p = g->out_h * wo, np = n * p;
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int b = 0; b < g->nbands; b++) {
                const int64_t oy0 = g->band[b].oy0, pb = (g->band[b].oy1 - oy0) * wo;
                add_copy(dst + (i * c + ch) * p + oy0 * wo, src + ch * np + n * oy0 * wo + i * pb,
                         bias ? bias[ch] : 0.0f, pb);
            }
}

void gan_cn_to_nchw(float *dst, const float *src, const float *bias, const gan_conv_geom *g,
                    int64_t n, int64_t c)
{
    cn_to_nchw(dst, src, bias, g, n, c);
}

/* sum_i plane[i] in double, eight independent accumulators (one running
 * sum would wait on each add's latency) */
GAN_INLINE double plane_sum(const float *plane, int64_t p)
{
    double acc[8] = {0}, t = 0.0;
    int64_t i = 0;
    for (; i + 8 <= p; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += plane[i + k];
    for (; i < p; i++) t += plane[i];
    for (int k = 0; k < 8; k++) t += acc[k];
    return t;
}

/* db[c] += sum_{n,i} dy[n, c, i], in double, for up to BIAS_BLOCK channels
 * at a time read sample by sample (one contiguous stretch per sample: a
 * channel's planes alone lie a whole sample apart) */
#define BIAS_BLOCK 64
GAN_HOT static void bias_grad_add(float *db, const float *dy, int64_t n, int64_t c, int64_t p)
{
    for (int64_t c0 = 0; c0 < c; c0 += BIAS_BLOCK) {
        const int64_t cb = c - c0 < BIAS_BLOCK ? c - c0 : BIAS_BLOCK;
        double sum[BIAS_BLOCK] = {0};
        for (int64_t b = 0; b < n; b++)
            for (int64_t k = 0; k < cb; k++) sum[k] += plane_sum(dy + (b * c + c0 + k) * p, p);
        for (int64_t k = 0; k < cb; k++) db[c0 + k] += (float)sum[k];
    }
}

void gan_bias_grad_add(float *db, const float *dy, int64_t n, int64_t c, int64_t p)
{
    bias_grad_add(db, dy, n, c, p);
}

/* ------------------------------------------------ chunked, threaded lowering */

/* The split of n samples: chunks of about per_chunk samples (so about
 * GAN_LOWERING_COLUMNS GEMM columns) in dW tasks of equal chunk counts, two
 * per thread (so a thread the OS runs late hands over work) when n has the
 * chunks, else one per thread, but never more than one per sample (a batch
 * of one is then a single task, whose GEMMs the pool splits, and needs no
 * partial gradient).  A function of n and the thread count only: a layer
 * planned for a larger batch splits n exactly as one planned for n, so
 * results never depend on the batches seen before. */
static void split(const gan_lowering *lw, int64_t n, int64_t *chunk, int *dw_tasks,
                  int64_t *task_chunks)
{
    const int64_t t = lw->threads;
    int64_t chunks = (n + lw->per_chunk - 1) / lw->per_chunk;
    *dw_tasks = t == 1 || n <= 1 ? 1 : chunks >= 2 * t ? (int)(2 * t) : (int)(n < t ? n : t);
    chunks = (chunks + *dw_tasks - 1) / *dw_tasks * *dw_tasks;
    *chunk = n < 1 ? 1 : (n + chunks - 1) / chunks;
    *task_chunks = chunks / *dw_tasks;
}

gan_status gan_lowering_reserve(gan_lowering *lw, int64_t batch, int64_t p,
                                int64_t floats_per_column, int64_t spare_floats,
                                const gan_conv_geom *g, int64_t dw_floats, const char *what)
{
    /* GAN_GEMM_THREADS=blas: one thread whose GEMMs OpenBLAS splits */
    const bool by_blas = gan_gemm_threaded_by_blas();
    const int threads = by_blas ? 1 : gan_pool_size(GAN_POOL_MAX);
    const int64_t columns = (int64_t)GAN_LOWERING_COLUMNS
                            * (by_blas ? gan_get_num_threads() : 1);
    gan_lowering plan = {.threads = threads, .per_chunk = (columns + p - 1) / p,
                         .may_permute = gan_conv_ki_major(g), .dw_floats = dw_floats};
    /* scratch for the largest chunk and the most dW tasks of any n <= batch;
     * beyond 2 * threads * per_chunk samples neither grows */
    int64_t max_chunk = 1;
    int max_dw_tasks = 1;
    const int64_t settled = (int64_t)2 * threads * plan.per_chunk;
    const int64_t last = batch < settled ? batch : settled;
    for (int64_t n = 1; n <= last; n++) {
        int64_t chunk, task_chunks;
        int dw_tasks;
        split(&plan, n, &chunk, &dw_tasks, &task_chunks);
        if (chunk > max_chunk) max_chunk = chunk;
        if (dw_tasks > max_dw_tasks) max_dw_tasks = dw_tasks;
    }
    plan.spare_offset = max_chunk * p * floats_per_column;
    plan.work_offset = plan.spare_offset + spare_floats;
    /* slots start on 64-byte lines: no two threads write one line */
    plan.slot_floats = (plan.work_offset + gan_im2col_work_floats(g, max_chunk) + 15) / 16 * 16;
    plan.max_dw_tasks = max_dw_tasks;
    int64_t probe[3] = {threads, plan.slot_floats, 1};
    int64_t dw_probe[3] = {max_dw_tasks + 1, dw_floats, 1};
    GAN_TRY(gan_shape_check(3, probe, what));
    GAN_TRY(gan_shape_check(3, dw_probe, what));
    *lw = plan;
    return GAN_OK;
}

/* Weight-sized buffers after the slots: the permuted weight and every dW
 * task's gradient, or the gradients of dW tasks 1.. */
static int64_t weight_buffers(const gan_lowering *lw)
{
    return lw->may_permute ? 1 + lw->max_dw_tasks : lw->max_dw_tasks - 1;
}

size_t gan_lowering_bytes(const gan_lowering *lw)
{
    return ((size_t)lw->threads * (size_t)lw->slot_floats +
            (size_t)weight_buffers(lw) * (size_t)lw->dw_floats) * sizeof(float);
}

void gan_lowering_bind(gan_lowering *lw, void *scratch, int64_t n, const gan_conv_geom *g)
{
    lw->ki_major = lw->may_permute && gan_conv_ki_major(g);
    lw->scratch = scratch;
    lw->w_perm = lw->scratch + (int64_t)lw->threads * lw->slot_floats;
    lw->dw_part = lw->w_perm + (lw->ki_major ? lw->dw_floats : 0);
    split(lw, n, &lw->chunk, &lw->dw_tasks, &lw->task_chunks);
}

float *gan_lowering_slot(const gan_lowering *lw, int thread)
{
    return lw->scratch + thread * lw->slot_floats;
}

float *gan_lowering_spare(const gan_lowering *lw, int thread)
{
    return gan_lowering_slot(lw, thread) + lw->spare_offset;
}

float *gan_lowering_work(const gan_lowering *lw, int thread)
{
    return gan_lowering_slot(lw, thread) + lw->work_offset;
}

int gan_lowering_tasks(const gan_lowering *lw, int64_t n, bool dw)
{
    return dw ? lw->dw_tasks : (int)((n + lw->chunk - 1) / lw->chunk);
}

void gan_lowering_range(const gan_lowering *lw, int64_t n, bool dw, int t, int64_t *lo,
                        int64_t *hi)
{
    const int64_t span = dw ? lw->task_chunks * lw->chunk : lw->chunk;
    *lo = t * span < n ? t * span : n;
    *hi = *lo + span < n ? *lo + span : n;
}

float *gan_lowering_dw(const gan_lowering *lw, float *grad, int t)
{
    if (lw->ki_major) return lw->dw_part + t * lw->dw_floats;
    return t == 0 ? grad : lw->dw_part + (t - 1) * lw->dw_floats;
}

typedef struct reduce_job {
    const gan_lowering *lw;
    float *grad;
    const gan_conv_geom *g;
    int64_t n; /* samples of the backward whose gradients are summed */
} reduce_job;

/* grad += dw_1 + dw_2 + ... (ki-major: dw_0 + dw_1 + ..., each permuted
 * back) over block t of grad (G, C, kh, kw)'s rows */
GAN_HOT static void reduce_task(void *ctx, int t, int ntasks, int thread)
{
    (void)thread;
    const reduce_job *j = ctx;
    const gan_lowering *lw = j->lw;
    const int64_t c = j->g->channels, kh = j->g->kh, kw = j->g->kw, k = c * kh * kw;
    int64_t lo, hi;
    gan_split(lw->dw_floats / k, t, ntasks, &lo, &hi);
    for (int src = lw->ki_major ? 0 : 1; src < lw->dw_tasks; src++) {
        int64_t s0, s1; /* did task src have samples? */
        gan_lowering_range(lw, j->n, true, src, &s0, &s1);
        if (s0 == s1) continue;
        const float *part = gan_lowering_dw(lw, NULL, src);
        for (int64_t o = lo; o < hi; o++) {
            float *g = j->grad + o * k;
            if (!lw->ki_major) {
                add_into(g, part + o * k, k);
                continue;
            }
            for (int64_t ch = 0; ch < c; ch++) /* part (G, kh, C, kw) */
                for (int64_t ki = 0; ki < kh; ki++)
                    add_into(g + (ch * kh + ki) * kw, part + ((o * kh + ki) * c + ch) * kw, kw);
        }
    }
}

void gan_lowering_reduce(const gan_lowering *lw, float *grad, const gan_conv_geom *g,
                         int64_t n)
{
    if (!lw->ki_major && lw->dw_tasks < 2) return;
    reduce_job j = {lw, grad, g, n};
    const int64_t rows = lw->dw_floats / (g->channels * g->kh * g->kw);
    int64_t blocks = lw->dw_floats / 32768;
    if (blocks < 1) blocks = 1;
    if (blocks > (int64_t)4 * GAN_POOL_MAX) blocks = (int64_t)4 * GAN_POOL_MAX;
    if (blocks > rows) blocks = rows;
    gan_parallel(reduce_task, &j, (int)blocks, GAN_POOL_MAX);
}

/* ------------------------------------------------ the two convolution layers */

/* Channels of the image the windows slide over (K = this * kh * kw) and
 * of the grid of window positions (see im2col.h). */
static int64_t image_channels(const gan_conv *c)
{
    return c->transposed ? c->out_c : c->in_c;
}

static int64_t grid_channels(const gan_conv *c)
{
    return c->transposed ? c->in_c : c->out_c;
}

gan_status gan_conv_create(gan_layer **out, const gan_layer_ops *ops, const char *fn,
                           const gan_conv *c)
{
    GAN_CHECK_NULL(out, fn);
    *out = NULL;
    if (c->in_c < 1 || c->out_c < 1)
        return gan_fail(GAN_E_INVALID, "%s: in_channels = %lld, out_channels = %lld (each must be >= 1)",
                        fn, (long long)c->in_c, (long long)c->out_c);
    if (c->kh < 1 || c->kw < 1)
        return gan_fail(GAN_E_INVALID, "%s: kernel %lldx%lld (each side must be >= 1)", fn,
                        (long long)c->kh, (long long)c->kw);
    if (c->stride < 1)
        return gan_fail(GAN_E_INVALID, "%s: stride = %lld (must be >= 1)", fn, (long long)c->stride);
    if (c->pad < 0)
        return gan_fail(GAN_E_INVALID, "%s: padding = %lld (must be >= 0)", fn, (long long)c->pad);
    if (c->transposed && (c->out_pad < 0 || c->out_pad >= c->stride))
        return gan_fail(GAN_E_INVALID, "%s: output_padding = %lld (must be in [0, stride = %lld))",
                        fn, (long long)c->out_pad, (long long)c->stride);
    /* K = Cimg*kh*kw is a GEMM dimension (int). */
    if (image_channels(c) * c->kh > INT_MAX / c->kw)
        return gan_fail(GAN_E_OVERFLOW, "%s: %s*kh*kw = %lld*%lld*%lld exceeds INT_MAX", fn,
                        c->transposed ? "out_channels" : "in_channels", (long long)image_channels(c),
                        (long long)c->kh, (long long)c->kw);
    int64_t wshape[4] = {grid_channels(c), image_channels(c), c->kh, c->kw};
    int64_t bshape[1] = {c->out_c};
    GAN_TRY(gan_shape_check(4, wshape, fn));

    gan_layer *l = gan_layer_new(ops);
    if (l == NULL) return GAN_E_NOMEM;
    gan_conv *impl = gan_alloc_zero(sizeof *impl);
    if (impl == NULL) {
        gan_layer_destroy(l);
        return GAN_E_NOMEM;
    }
    *impl = *c;
    impl->lw = (gan_lowering){0};
    l->impl = impl;
    gan_layer_add_slot(l, "weight", 4, wshape, false);
    if (c->has_bias) gan_layer_add_slot(l, "bias", 1, bshape, false);
    return gan_layer_finish(l, out);
}

gan_status gan_conv_check_input(const gan_layer *l, const gan_shape *in)
{
    const gan_conv *c = l->impl;
    char got[96];
    if (in->ndim != 3)
        return gan_fail(GAN_E_SHAPE, "%s: input must be (C, H, W) with C = %lld, got %s",
                        l->ops->kind, (long long)c->in_c, gan_shape_str(in, got, sizeof got));
    if (in->d[0] != c->in_c)
        return gan_fail(GAN_E_SHAPE, "%s: input has %lld channels, layer expects %lld (input %s)",
                        l->ops->kind, (long long)in->d[0], (long long)c->in_c,
                        gan_shape_str(in, got, sizeof got));
    return GAN_OK;
}

gan_status gan_conv_set_output(gan_layer *l, gan_shape *out, int64_t oh, int64_t ow)
{
    const gan_conv *c = l->impl;
    out->ndim = 3;
    out->d[0] = c->out_c;
    out->d[1] = oh;
    out->d[2] = ow;
    l->reserved_batch = 0;
    return GAN_OK;
}

/* Multiply-adds a split into bands skips on n samples, in columns' worth
 * (whole columns of K rows): n * sum over bands of P_b * (skipped kernel
 * rows) / kh. */
static int64_t skipped_columns(const gan_conv_geom *g, int64_t n)
{
    int64_t rows = 0; /* grid rows times skipped kernel rows */
    for (int b = 0; b < g->nbands; b++)
        rows += (g->band[b].oy1 - g->band[b].oy0) * (g->kh - (g->band[b].ki1 - g->band[b].ki0));
    return n * rows * g->out_w / g->kh;
}

gan_conv_geom gan_conv_geometry(const gan_layer *l, int64_t n)
{
    const gan_conv *c = l->impl;
    const gan_shape *image = c->transposed ? &l->out : &l->in;
    const gan_shape *grid = c->transposed ? &l->in : &l->out;
    gan_conv_geom g = {
        .channels = image_channels(c), .height = image->d[1], .width = image->d[2],
        .kh = c->kh, .kw = c->kw, .stride = c->stride, .pad = c->pad,
        .out_h = grid->d[1], .out_w = grid->d[2],
    };
    gan_conv_plan_bands(&g, true);
    const int64_t macs = g.channels * c->kh * c->kw * grid_channels(c);
    if (macs < GAN_CONV_SPLIT_MACS || skipped_columns(&g, n) < GAN_CONV_SPLIT_COLUMNS)
        gan_conv_plan_bands(&g, false);
    return g;
}

gan_status gan_conv_reserve(gan_layer *l, int64_t batch, bool dense)
{
    gan_conv *c = l->impl;
    const gan_conv_geom g = gan_conv_geometry(l, batch); /* split at the most samples */
    const int64_t k = g.channels * c->kh * c->kw, p = g.out_h * g.out_w, cgrid = grid_channels(c);
    if (batch > INT_MAX / p)
        return gan_fail(GAN_E_OVERFLOW, "%s: batch %lld x %lld %s exceeds INT_MAX (a GEMM dimension)",
                        l->ops->kind, (long long)batch, (long long)p,
                        c->transposed ? "input pixels" : "output positions");
    if (dense) return GAN_OK; /* no scratch */
    /* conv_transpose2d's forward on few columns computes cols^T first */
    const int64_t spare = c->transposed && p <= GAN_CONVT_FEW_COLUMNS ? k * GAN_CONVT_FEW_COLUMNS : 0;
    return gan_lowering_reserve(&c->lw, batch, p, k + cgrid, spare, &g, cgrid * k,
                                l->ops->kind);
}

gan_conv_task gan_conv_task_begin(const void *job, int t, int ntasks, int thread)
{
    (void)ntasks;
    const gan_conv_job *j = job;
    const gan_layer *l = j->l;
    const gan_conv *c = l->impl;
    gan_conv_task tk = {.out = j->out, .x = j->x, .dy = j->dy, .param_grads = j->param_grads,
                        .g = j->g, .cin = c->in_c, .cout = c->out_c,
                        .chunk = c->lw.chunk};
    tk.k = tk.g.channels * c->kh * c->kw;
    tk.p = tk.g.out_h * tk.g.out_w;
    const int64_t image_size = tk.g.channels * tk.g.height * tk.g.width;
    const int64_t grid_size = grid_channels(c) * tk.p;
    tk.in_size = c->transposed ? grid_size : image_size;
    tk.out_size = c->transposed ? image_size : grid_size;
    tk.w = c->lw.ki_major ? c->lw.w_perm : l->slot[0].value.data;
    tk.b = c->has_bias ? l->slot[1].value.data : NULL;
    tk.cols = gan_lowering_slot(&c->lw, thread);
    tk.cn = tk.cols + tk.k * tk.chunk * tk.p;
    tk.work = gan_lowering_work(&c->lw, thread);
    tk.spare = gan_lowering_spare(&c->lw, thread);
    gan_lowering_range(&c->lw, j->n, j->param_grads, t, &tk.lo, &tk.hi);
    if (j->param_grads) { /* a buffer of its own starts at zero; the GEMMs add to it */
        float *grad = l->slot[0].grad.data;
        tk.dw = gan_lowering_dw(&c->lw, grad, t);
        if (tk.dw != grad && tk.lo < tk.hi)
            memset(tk.dw, 0, (size_t)c->lw.dw_floats * sizeof(float));
    }
    return tk;
}

/* The weight in cols' order for the tasks, when that is ki-major. */
static void bind_weight(gan_layer *l, const gan_conv_geom *g)
{
    const gan_conv *c = l->impl;
    if (c->lw.ki_major)
        gan_weight_to_ki_major(c->lw.w_perm, l->slot[0].value.data, grid_channels(c), g);
}

void gan_conv_forward(gan_layer *l, gan_task_fn task, float *y, const float *x, int64_t n)
{
    gan_conv *c = l->impl;
    gan_conv_job j = {.l = l, .out = y, .x = x, .n = n, .g = gan_conv_geometry(l, n)};
    gan_lowering_bind(&c->lw, l->scratch, n, &j.g);
    bind_weight(l, &j.g);
    gan_parallel(task, &j, gan_lowering_tasks(&c->lw, n, false), c->lw.threads);
}

void gan_conv_backward(gan_layer *l, gan_task_fn task, float *dx, const float *dy,
                       const float *x, int64_t n, bool param_grads)
{
    if (dx == NULL && !param_grads) return;
    gan_conv *c = l->impl;
    gan_conv_job j = {.l = l, .out = dx, .x = x, .dy = dy, .n = n, .param_grads = param_grads,
                      .g = gan_conv_geometry(l, n)};
    gan_lowering_bind(&c->lw, l->scratch, n, &j.g);
    bind_weight(l, &j.g);
    gan_parallel(task, &j, gan_lowering_tasks(&c->lw, n, param_grads), c->lw.threads);
    if (!param_grads) return;
    gan_lowering_reduce(&c->lw, l->slot[0].grad.data, &j.g, n);
    if (c->has_bias)
        gan_bias_grad_add(l->slot[1].grad.data, dy, n, c->out_c, l->out.d[1] * l->out.d[2]);
}

/* PyTorch: kaiming_uniform(a = sqrt 5) = U(-1/sqrt(fan_in), +) for W and the
 * same bound for b, with fan_in from weight.size(1): Cin*kh*kw for conv2d,
 * Cout*kh*kw for conv_transpose2d, K in both.  DCGAN: W ~ N(0, 0.02), b = 0. */
void gan_conv_init(gan_layer *l, gan_init scheme, gan_rng *rng)
{
    const gan_conv *c = l->impl;
    gan_tensor *w = &l->slot[0].value;
    float *b = c->has_bias ? l->slot[1].value.data : NULL;
    if (scheme == GAN_INIT_DCGAN) {
        gan_fill_normal(w->data, w->numel, 0.0f, 0.02f, rng);
        if (b) memset(b, 0, (size_t)c->out_c * sizeof(float));
        return;
    }
    float bound = (float)(1.0 / sqrt((double)(image_channels(c) * c->kh * c->kw)));
    gan_fill_uniform(w->data, w->numel, -bound, bound, rng);
    if (b) gan_fill_uniform(b, c->out_c, -bound, bound, rng);
}

int gan_conv_describe(const gan_layer *l, char *buf, size_t cap)
{
    const gan_conv *c = l->impl;
    char op[32] = "";
    if (c->transposed) snprintf(op, sizeof op, " op=%lld", (long long)c->out_pad);
    return snprintf(buf, cap, "%s in=%lld out=%lld k=%lldx%lld s=%lld p=%lld%s bias=%d",
                    l->ops->kind, (long long)c->in_c, (long long)c->out_c, (long long)c->kh,
                    (long long)c->kw, (long long)c->stride, (long long)c->pad, op,
                    c->has_bias ? 1 : 0);
}

void gan_conv_destroy(gan_layer *l)
{
    gan_conv *c = l->impl;
    if (c == NULL) return;
    gan_dealloc(c);
    l->impl = NULL;
}

unsigned gan_conv_traits(const gan_layer *l)
{
    (void)l;
    return GAN_LAYER_BWD_NO_Y;
}

size_t gan_conv_scratch_bytes(const gan_layer *l)
{
    return gan_lowering_bytes(&((const gan_conv *)l->impl)->lw);
}
