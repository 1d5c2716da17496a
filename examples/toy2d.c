/* toy2d.c — train a small MLP GAN on a ring of 8 Gaussians and watch it
 * cover the modes.
 *
 *     cc toy2d.c $(pkg-config --cflags --libs gan) -lm -o toy2d && ./toy2d [steps]
 *
 * The real data: 8 Gaussians (std 0.02) evenly spaced on a circle of radius
 * 2.  Every 500 steps the generator draws 1000 points from fixed noise; a
 * point is "good" when it lies within 3 std of a mode, and a mode counts as
 * covered when it holds at least 1 % of the points.  A GAN that collapses
 * covers few modes; one that learns the ring covers all 8.
 */
#include <gan.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define MODES 8
#define RADIUS 2.0
#define STD 0.02
#define BATCH 64
#define NSAMPLES 1000

static const double two_pi = 6.283185307179586;

/* n points (n, 2) from the ring: a random mode plus Gaussian noise. */
static void ring_batch(gan_rng *rng, float *xy, int n)
{
    for (int i = 0; i < n; i++) {
        int k = (int)(gan_rng_next_u64(rng) % MODES);
        double u1 = 1.0 - gan_rng_uniform(rng), u2 = gan_rng_uniform(rng);
        double r = STD * sqrt(-2.0 * log(u1)); /* Box-Muller */
        xy[2 * i] = (float)(RADIUS * cos(two_pi * k / MODES) + r * cos(two_pi * u2));
        xy[2 * i + 1] = (float)(RADIUS * sin(two_pi * k / MODES) + r * sin(two_pi * u2));
    }
}

/* Modes holding >= 1 % of the n points within 3 std; *good = share of such points. */
static int coverage(const float *xy, int n, double *good)
{
    int per_mode[MODES] = {0}, hits = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < MODES; k++) {
            double dx = xy[2 * i] - RADIUS * cos(two_pi * k / MODES);
            double dy = xy[2 * i + 1] - RADIUS * sin(two_pi * k / MODES);
            if (dx * dx + dy * dy <= 9 * STD * STD) {
                per_mode[k]++;
                hits++;
            }
        }
    int covered = 0;
    for (int k = 0; k < MODES; k++) covered += per_mode[k] * 100 >= n;
    *good = (double)hits / n;
    return covered;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 3000;
    gan_set_num_threads(1); /* matrices this small run fastest on one thread */
    gan_model *g = NULL, *d = NULL;
    gan_trainer *t = NULL;
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg); /* non-saturating loss, Adam 2e-4, betas 0.5/0.999 */
    cfg.seed = 1;
    cfg.opt_g.lr = cfg.opt_d.lr = 1e-3f; /* a toy problem takes larger steps */
    if (gan_preset_create("toy2d", 1, &g, &d) != GAN_OK || gan_trainer_create(&t, g, d, &cfg) != GAN_OK) {
        fprintf(stderr, "toy2d: %s\n", gan_last_error());
        return 1;
    }
    /* t owns g and d now */
    int64_t real_shape[2] = {BATCH, 2}, x_shape[2] = {NSAMPLES, 2};
    int64_t z_shape[GAN_MAX_DIMS + 1] = {NSAMPLES}; /* (NSAMPLES, nz) */
    int zdim;
    gan_model_input_shape(gan_trainer_generator(t), &zdim, z_shape + 1);
    gan_tensor *real = NULL, *z = NULL, *x = NULL;
    gan_rng *data_rng = NULL, *noise_rng = NULL;
    if (gan_tensor_create(&real, 2, real_shape) != GAN_OK || gan_tensor_create(&z, zdim + 1, z_shape) != GAN_OK ||
        gan_tensor_create(&x, 2, x_shape) != GAN_OK || gan_rng_create(&data_rng, 42) != GAN_OK ||
        gan_rng_create(&noise_rng, 7) != GAN_OK) {
        fprintf(stderr, "toy2d: %s\n", gan_last_error());
        return 1;
    }
    gan_rng_fill_normal(noise_rng, z, 0.0f, 1.0f); /* fixed noise for every check */

    printf("%6s %8s %8s %6s %8s %7s %s\n", "step", "loss_D", "loss_G", "D(x)", "D(G(z))", "modes",
           "good");
    int rc = 0;
    for (int step = 1; step <= steps; step++) {
        ring_batch(data_rng, gan_tensor_data(real), BATCH);
        gan_step_stats s;
        if (gan_train_step(t, real, &s) != GAN_OK) {
            fprintf(stderr, "toy2d: step %d: %s\n", step, gan_last_error());
            rc = 1;
            break;
        }
        if (step % 500 == 0 || step == steps) {
            double good;
            gan_trainer_generate(t, z, x);
            int modes = coverage(gan_tensor_cdata(x), NSAMPLES, &good);
            printf("%6d %8.3f %8.3f %6.3f %8.3f %5d/8 %5.1f%%\n", step, s.loss_d, s.loss_g,
                   s.d_real, s.d_fake_after, modes, 100.0 * good);
        }
    }
    gan_tensor_free(real);
    gan_tensor_free(z);
    gan_tensor_free(x);
    gan_rng_free(data_rng);
    gan_rng_free(noise_rng);
    gan_trainer_free(t);
    return rc;
}
