/* host_loop.c — a host program that owns its data loop and hands libgan one
 * batch at a time through gan_train_step.
 *
 *     cc host_loop.c $(pkg-config --cflags --libs gan) -lm -o host_loop && ./host_loop
 *
 * The host keeps a fixed in-memory dataset (points from a ring of 8
 * Gaussians), shuffles it every epoch with its own RNG, copies each batch
 * into one preallocated tensor, and logs the step statistics.  If a step
 * reports GAN_E_NUMERIC, nothing was changed, so the host halves both
 * learning rates and retries the same batch.  At the end it samples G and
 * exits 0 when at least 6 of the 8 modes are covered.
 */
#include <gan.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NDATA 8192
#define BATCH 128
#define EPOCHS 24 /* 24 x 64 = 1536 steps */
#define MODES 8
#define NSAMPLES 2000

static const double two_pi = 6.283185307179586;

static void check(gan_status st, const char *what)
{
    if (st != GAN_OK) {
        fprintf(stderr, "%s: %s: %s\n", what, gan_status_string(st), gan_last_error());
        exit(1);
    }
}

/* The host's own data: NDATA points (NDATA, 2), a random mode + N(0, 0.02). */
static void make_dataset(float *xy, unsigned seed)
{
    srand(seed);
    for (int i = 0; i < NDATA; i++) {
        int k = rand() % MODES;
        double u1 = (rand() + 1.0) / (RAND_MAX + 2.0), u2 = rand() / (RAND_MAX + 1.0);
        double r = 0.02 * sqrt(-2.0 * log(u1)); /* Box-Muller */
        xy[2 * i] = (float)(2.0 * cos(two_pi * k / MODES) + r * cos(two_pi * u2));
        xy[2 * i + 1] = (float)(2.0 * sin(two_pi * k / MODES) + r * sin(two_pi * u2));
    }
}

static void shuffle(int *idx, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = rand() % (i + 1), t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

/* Modes holding >= 1 % of the points within 0.2 of their centre. */
static int modes_covered(const float *xy, int n, double *near_share)
{
    int count[MODES] = {0}, near = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < MODES; k++) {
            double dx = xy[2 * i] - 2.0 * cos(two_pi * k / MODES);
            double dy = xy[2 * i + 1] - 2.0 * sin(two_pi * k / MODES);
            if (dx * dx + dy * dy < 0.04) {
                count[k]++;
                near++;
            }
        }
    int covered = 0;
    for (int k = 0; k < MODES; k++) covered += count[k] * 100 >= n;
    *near_share = (double)near / n;
    return covered;
}

int main(void)
{
    gan_set_num_threads(1); /* layers this small run fastest on one thread */

    float *data = malloc(sizeof(float) * 2 * NDATA);
    int *order = malloc(sizeof(int) * NDATA);
    if (data == NULL || order == NULL) return 1;
    make_dataset(data, 7);
    for (int i = 0; i < NDATA; i++) order[i] = i;

    gan_model *g, *d;
    check(gan_preset_create("toy2d", 4, &g, &d), "preset");
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg); /* non-saturating BCE, Adam (0.5, 0.999) */
    cfg.opt_g.lr = cfg.opt_d.lr = 1e-3f;
    cfg.seed = 4;
    gan_trainer *t;
    check(gan_trainer_create(&t, g, d, &cfg), "trainer"); /* t owns g and d now */
    gan_optimizer *opt_g = gan_trainer_optimizer(t, 0), *opt_d = gan_trainer_optimizer(t, 1);

    int64_t bs[2] = {BATCH, 2};
    gan_tensor *batch;
    check(gan_tensor_create(&batch, 2, bs), "batch");
    float *b = gan_tensor_data(batch);
    float lr = cfg.opt_g.lr;

    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        gan_trainer_set_epoch(t, epoch);
        if (epoch == EPOCHS * 3 / 4) { /* settle: smaller steps at the end */
            lr /= 10;
            gan_optimizer_set_lr(opt_g, lr);
            gan_optimizer_set_lr(opt_d, lr);
        }
        shuffle(order, NDATA);
        gan_step_stats s;
        for (int start = 0; start + BATCH <= NDATA; start += BATCH) {
            for (int i = 0; i < BATCH; i++) memcpy(b + 2 * i, data + 2 * order[start + i], 8);
            gan_status st;
            while ((st = gan_train_step(t, batch, &s)) == GAN_E_NUMERIC && lr > 1e-7f) {
                lr /= 2; /* the failed step changed nothing: retry gentler */
                gan_optimizer_set_lr(opt_g, lr);
                gan_optimizer_set_lr(opt_d, lr);
                fprintf(stderr, "numeric fault (%s); lr now %g\n", gan_last_error(), lr);
            }
            check(st, "gan_train_step");
        }
        if (epoch % 8 == 0 || epoch == EPOCHS - 1)
            printf("epoch %2d step %5lld  loss_D %.3f  loss_G %.3f  D(x) %.2f  D(G(z)) %.2f -> %.2f"
                   "  |grad D| %.3f  |grad G| %.3f\n",
                   epoch, (long long)s.step, s.loss_d, s.loss_g, s.d_real, s.d_fake_before,
                   s.d_fake_after, s.grad_norm_d, s.grad_norm_g);
    }

    int64_t ss[2] = {NSAMPLES, 2};
    gan_tensor *samples;
    check(gan_tensor_create(&samples, 2, ss), "samples");
    check(gan_trainer_generate(t, NULL, samples), "generate");
    double near;
    int covered = modes_covered(gan_tensor_cdata(samples), NSAMPLES, &near);
    printf("%d of %d modes covered, %.0f%% of samples within 0.2 of a mode\n", covered, MODES,
           100.0 * near);

    gan_tensor_free(samples);
    gan_tensor_free(batch);
    gan_trainer_free(t);
    free(data);
    free(order);
    return covered >= 6 ? 0 : 1;
}
