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

#include <stdint.h>

/* One window sweep: the image it reads (or, for col2im, writes) and the grid
 * of window positions.  out_h/out_w are stored, not derived, so a transposed
 * convolution can use a taller image than the windows cover (its
 * output_padding rows and columns simply receive no contribution). */
typedef struct gan_conv_geom {
    int64_t channels, height, width; /* image (C, H, W)                  */
    int64_t kh, kw, stride, pad;
    int64_t out_h, out_w;            /* window positions (Ho, Wo)        */
} gan_conv_geom;

/* cols (C*kh*kw, N*Ho*Wo) = the windows of x (N, C, H, W). */
void gan_im2col(float *cols, const float *x, const gan_conv_geom *g, int64_t n);

/* x (N, C, H, W) = bias[c] + the sum of every window value in cols
 * (C*kh*kw, N*Ho*Wo) that lands on that pixel.  bias (C) may be NULL (0). */
void gan_col2im(float *x, const float *cols, const float *bias, const gan_conv_geom *g,
                int64_t n);

/* dst (C, N*P) = src (N, C, P) with the first two axes swapped. */
void gan_nchw_to_cn(float *dst, const float *src, int64_t n, int64_t c, int64_t p);

/* dst (N, C, P) = src (C, N*P) with the first two axes swapped, + bias[c]
 * (bias may be NULL). */
void gan_cn_to_nchw(float *dst, const float *src, const float *bias, int64_t n, int64_t c,
                    int64_t p);

/* db (C) += sum over n and p of dy (N, C, P). */
void gan_bias_grad_add(float *db, const float *dy, int64_t n, int64_t c, int64_t p);

#endif
