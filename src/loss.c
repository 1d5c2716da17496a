/* loss.c — GAN losses on D's logits x (any shape; the mean runs over all n
 * elements).  Sums are accumulated in double.
 *
 *   family    D on real            D on fake          G on fake
 *   nonsat    bce(x, real_label)   bce(x, 0)          bce(x, 1)
 *   minimax   bce(x, real_label)   bce(x, 0)          -softplus(x) = log(1 - sigmoid(x))
 *   lsgan     (x - 1)^2 / 2        x^2 / 2            (x - 1)^2 / 2
 *   hinge     relu(1 - x)          relu(1 + x)        -x
 *   wgan      -x                   x                  -x
 *
 * bce(x, y) = max(x, 0) - x y + log1p(exp(-|x|)), d/dx = sigmoid(x) - y. */
#include "nn.h"

#include <math.h>

typedef enum { ROLE_REAL, ROLE_FAKE, ROLE_GEN } role;

/* Numerically stable pieces. */
static double softplus(double x) /* log(1 + e^x) */
{
    return (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x)));
}

static double sigmoid(double x)
{
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* Per-element loss l(x) and its derivative dl/dx for one family and role;
 * y is the BCE target. */
static void elem(gan_loss kind, role r, double y, double x, double *l, double *dl)
{
    switch (kind) {
    case GAN_LOSS_NONSAT:
    case GAN_LOSS_MINIMAX:
        if (r == ROLE_GEN && kind == GAN_LOSS_MINIMAX) {
            *l = -softplus(x);   /* log(1 - sigmoid(x)) */
            *dl = -sigmoid(x);
        } else {
            *l = (x > 0.0 ? x : 0.0) - x * y + log1p(exp(-fabs(x)));
            *dl = sigmoid(x) - y;
        }
        return;
    case GAN_LOSS_LSGAN: {
        double t = r == ROLE_FAKE ? 0.0 : 1.0;
        *l = 0.5 * (x - t) * (x - t);
        *dl = x - t;
        return;
    }
    case GAN_LOSS_HINGE:
        if (r == ROLE_REAL) {
            *l = 1.0 - x > 0.0 ? 1.0 - x : 0.0;
            *dl = 1.0 - x > 0.0 ? -1.0 : 0.0;
        } else if (r == ROLE_FAKE) {
            *l = 1.0 + x > 0.0 ? 1.0 + x : 0.0;
            *dl = 1.0 + x > 0.0 ? 1.0 : 0.0;
        } else {
            *l = -x;
            *dl = -1.0;
        }
        return;
    case GAN_LOSS_WGAN:
        *l = r == ROLE_FAKE ? x : -x;
        *dl = r == ROLE_FAKE ? 1.0 : -1.0;
        return;
    }
}

static gan_status run(const char *fn, gan_loss kind, role r, double y, const gan_tensor *logits,
                      float *loss, gan_tensor *grad)
{
    GAN_CHECK_NULL(logits, fn);
    GAN_CHECK_NULL(loss, fn);
    if ((unsigned)kind > GAN_LOSS_WGAN)
        return gan_fail(GAN_E_INVALID, "%s: unknown loss family %d", fn, (int)kind);
    const int64_t n = logits->numel;
    if (grad != NULL && grad->numel != n)
        return gan_fail(GAN_E_SHAPE, "%s: grad has %lld elements, logits %lld", fn,
                        (long long)grad->numel, (long long)n);
    const float *x = logits->data; /* (n) */
    float *g = grad ? grad->data : NULL;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double l, dl;
        elem(kind, r, y, x[i], &l, &dl);
        sum += l;
        if (g) g[i] = (float)(dl / (double)n);
    }
    *loss = (float)(sum / (double)n);
    return GAN_OK;
}

gan_status gan_loss_bce_logits(const gan_tensor *logits, float target, float *loss,
                               gan_tensor *grad)
{
    if (!isfinite(target))
        return gan_fail(GAN_E_INVALID, "gan_loss_bce_logits: target %g is not finite",
                        (double)target);
    return run("gan_loss_bce_logits", GAN_LOSS_NONSAT, ROLE_REAL, target, logits, loss, grad);
}

gan_status gan_loss_discriminator(gan_loss kind, const gan_tensor *logits, int is_real,
                                  float real_label, float *loss, gan_tensor *grad)
{
    static const char fn[] = "gan_loss_discriminator";
    if (is_real && !(real_label > 0.0f && real_label <= 1.0f))
        return gan_fail(GAN_E_INVALID, "%s: real_label = %g, must be in (0, 1]", fn,
                        (double)real_label);
    return run(fn, kind, is_real ? ROLE_REAL : ROLE_FAKE, is_real ? real_label : 0.0, logits,
               loss, grad);
}

gan_status gan_loss_generator(gan_loss kind, const gan_tensor *logits, float *loss,
                              gan_tensor *grad)
{
    return run("gan_loss_generator", kind, ROLE_GEN, 1.0, logits, loss, grad);
}

float gan_loss_mean_sigmoid(const gan_tensor *logits)
{
    double s = 0.0;
    for (int64_t i = 0; i < logits->numel; i++) s += sigmoid(logits->data[i]);
    return (float)(s / (double)logits->numel);
}
