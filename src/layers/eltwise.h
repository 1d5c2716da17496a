/* eltwise.h — the elementwise kernels of the activation layers (and of
 * batchnorm's fused activation): vectorised, split across libgan's pool for
 * large arrays.  Every kernel may run in place (y == x, dx == dy). */
#ifndef GAN_ELTWISE_H
#define GAN_ELTWISE_H

#include <stdint.h>

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

#endif
