/* eltwise.c — see eltwise.h.  One vectorised kernel per op (simd.h), run
 * on contiguous blocks of at least MIN_BLOCK elements, one per task. */
#include "internal.h"
#include "core/pool.h"
#include "core/simd.h"
#include "eltwise.h"

#include <math.h>

/* Below this many elements per task a thread hand-off costs more than the loop. */
#define MIN_BLOCK 32768

typedef enum { RELU_F, RELU_B, LEAKY_F, LEAKY_B, TANH_F, TANH_B } op_kind;

typedef struct job {
    op_kind op;
    float *out;
    const float *a, *b; /* the op's inputs (b: NULL for forwards) */
    float slope;
    int64_t count;
} job;

/* out[i] = op(a[i], b[i]) for i in [lo, hi) */
GAN_HOT static void run_op(const job *j, int64_t lo, int64_t hi)
{
    float *out = j->out;
    const float *a = j->a, *b = j->b;
    const float s = j->slope;
    int64_t i = lo;
    switch (j->op) {
    case RELU_F: gan_rectify_block(out + lo, a + lo, false, 0.0f, hi - lo); break;
    case RELU_B: gan_rectify_grad_block(out + lo, a + lo, b + lo, false, 0.0f, hi - lo); break;
    case LEAKY_F: gan_rectify_block(out + lo, a + lo, true, s, hi - lo); break;
    case LEAKY_B: /* a = dy, b = sign */
        gan_rectify_grad_block(out + lo, a + lo, b + lo, true, s, hi - lo);
        break;
    case TANH_F: /* y = tanh(x), ~20 ns an element: worth the threads */
        for (; i < hi; i++) out[i] = tanhf(a[i]);
        break;
    case TANH_B: /* dx = dy (1 - y^2);  a = dy, b = y */
        for (; i + 4 <= hi; i += 4) {
            gan_v4 y = gan_v4_load(b + i);
            gan_v4_store(out + i, gan_v4_load(a + i) * (gan_v4_splat(1.0f) - y * y));
        }
        for (; i < hi; i++) out[i] = a[i] * (1.0f - b[i] * b[i]);
        break;
    }
}

static void task(void *ctx, int t, int ntasks, int thread)
{
    (void)thread;
    const job *j = ctx;
    int64_t lo, hi;
    gan_split(j->count, t, ntasks, &lo, &hi);
    run_op(j, lo, hi);
}

static void run(op_kind op, float *out, const float *a, const float *b, float slope, int64_t count)
{
    job j = {op, out, a, b, slope, count};
    const int64_t blocks = count / (op == TANH_F ? MIN_BLOCK / 32 : MIN_BLOCK);
    if (blocks < 2) run_op(&j, 0, count);
    else gan_parallel(task, &j, blocks > (int64_t)4 * GAN_POOL_MAX ? 4 * GAN_POOL_MAX : (int)blocks, GAN_POOL_MAX);
}

void gan_relu_forward(float *y, const float *x, int64_t count)
{
    run(RELU_F, y, x, NULL, 0.0f, count);
}

void gan_relu_backward(float *dx, const float *dy, const float *y, int64_t count)
{
    run(RELU_B, dx, dy, y, 0.0f, count);
}

void gan_leaky_forward(float *y, const float *x, float slope, int64_t count)
{
    run(LEAKY_F, y, x, NULL, slope, count);
}

void gan_leaky_backward(float *dx, const float *dy, const float *sign, float slope, int64_t count)
{
    run(LEAKY_B, dx, dy, sign, slope, count);
}

void gan_tanh_forward(float *y, const float *x, int64_t count)
{
    run(TANH_F, y, x, NULL, 0.0f, count);
}

void gan_tanh_backward(float *dx, const float *dy, const float *y, int64_t count)
{
    run(TANH_B, dx, dy, y, 0.0f, count);
}
