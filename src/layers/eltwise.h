/* eltwise.h — the elementwise kernels of the activation layers (and of
 * batchnorm's fused activation): vectorised, split across libgan's pool for
 * large arrays.  Every kernel may run in place (y == x, dx == dy). */
#ifndef GAN_ELTWISE_H
#define GAN_ELTWISE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/simd.h"

/* y = x > 0 ? x : 0 */
void gan_relu_forward(float *y, const float *x, int64_t count);
/* dx = y > 0 ? dy : 0 */
void gan_relu_backward(float *dx, const float *dy, const float *y, int64_t count);
/* y = x > 0 ? x : slope x */
void gan_leaky_forward(float *y, const float *x, float slope, int64_t count);
/* dx = sign > 0 ? dy : slope dy  (sign: x, or y when slope >= 0) */
void gan_leaky_backward(float *dx, const float *dy, const float *sign, float slope, int64_t count);
/* y = tanh(x)  (libm's tanhf, element by element) */
void gan_tanh_forward(float *y, const float *x, int64_t count);
/* dx = dy (1 - y^2) */
void gan_tanh_backward(float *dx, const float *dy, const float *y, int64_t count);

/* ---------------------------------------------- the rectifiers on a block
 * relu (slope 0) and leaky_relu, y = x > 0 ? x : slope x, inline so that
 * batchnorm's fused pass (model.c) runs exactly the operations of the two
 * layers.  relu gives +0, not slope * x, for x <= 0 (and 0 for NaN). */

/* y[i] = rectified x[i] for i < count (y may be x) */
GAN_INLINE void gan_rectify_block(float *y, const float *x, bool leaky, float slope, int64_t count)
{
    const gan_v4 zero = gan_v4_splat(0.0f), vs = gan_v4_splat(slope);
    int64_t i = 0;
    if (leaky) {
        for (; i + 4 <= count; i += 4) {
            gan_v4 v = gan_v4_load(x + i);
            gan_v4_store(y + i, gan_v4_select(v > zero, v, v * vs));
        }
        for (; i < count; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
    } else {
        for (; i + 4 <= count; i += 4) {
            gan_v4 v = gan_v4_load(x + i);
            gan_v4_store(y + i, gan_v4_select(v > zero, v, zero));
        }
        for (; i < count; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    }
}

/* dx[i] = sign[i] > 0 ? dy[i] : (leaky ? slope dy[i] : 0) for i < count
 * (dx may be dy; sign is x, or y when slope >= 0) */
GAN_INLINE void gan_rectify_grad_block(float *dx, const float *dy, const float *sign, bool leaky,
                                       float slope, int64_t count)
{
    const gan_v4 zero = gan_v4_splat(0.0f), vs = gan_v4_splat(slope);
    int64_t i = 0;
    if (leaky) {
        for (; i + 4 <= count; i += 4) {
            gan_v4 g = gan_v4_load(dy + i);
            gan_v4_store(dx + i, gan_v4_select(gan_v4_load(sign + i) > zero, g, g * vs));
        }
        for (; i < count; i++) dx[i] = sign[i] > 0.0f ? dy[i] : slope * dy[i];
    } else {
        for (; i + 4 <= count; i += 4) {
            gan_v4 g = gan_v4_load(dy + i);
            gan_v4_store(dx + i, gan_v4_select(gan_v4_load(sign + i) > zero, g, zero));
        }
        for (; i < count; i++) dx[i] = sign[i] > 0.0f ? dy[i] : 0.0f;
    }
}

#endif
