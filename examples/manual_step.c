/* manual_step.c — the GAN training step written out with libgan's
 * low-level calls only: model forward/backward, the freeze flag, a loss and
 * two optimizers.  gan_train_step does exactly this; here the host sees
 * every move.
 *
 *     cc manual_step.c $(pkg-config --cflags --libs gan) -lm -o manual_step && ./manual_step
 *
 * The task: G turns noise z ~ N(0, 1) into samples of N(4, 1.25^2).  Per step
 * (the seed's pseudo-code):
 *   1. D on a real batch, labelled real             (gradients into D)
 *   2. fake = G(z); D on fake, labelled fake         (gradients into D only)
 *      D's optimizer step
 *   3. D frozen; the same fake through D, labelled real (non-saturating G
 *      loss); backward through D gives dL/dfake; backward through G;
 *      G's optimizer step; D unfrozen
 * Exits 0 when the samples' mean and std are within 10 % of 4 and 1.25.
 */
#include <gan.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define BATCH 128
#define STEPS 2000
#define LR 1e-3f

/* Stop with a message on any failure (an example may; a library may not). */
static void check(gan_status st, const char *what)
{
    if (st != GAN_OK) {
        fprintf(stderr, "%s: %s: %s\n", what, gan_status_string(st), gan_last_error());
        exit(1);
    }
}

static void add(gan_model *m, gan_status made, gan_layer **layer)
{
    check(made, "layer");
    check(gan_model_add(m, *layer), "gan_model_add");
}

int main(void)
{
    gan_set_num_threads(1); /* layers this small run fastest on one thread */

    /* G: z (1) -> dense 16 -> tanh -> dense 1;  D: x (1) -> 32 -> 32 -> logit */
    gan_model *g, *d;
    gan_layer *l;
    int64_t one[1] = {1};
    check(gan_model_create(&g, 1, one), "G");
    add(g, gan_layer_dense(&l, 1, 16, 1), &l);
    add(g, gan_layer_tanh(&l), &l);
    add(g, gan_layer_dense(&l, 16, 1, 1), &l);
    check(gan_model_create(&d, 1, one), "D");
    add(d, gan_layer_dense(&l, 1, 32, 1), &l);
    add(d, gan_layer_leaky_relu(&l, 0.2f), &l);
    add(d, gan_layer_dense(&l, 32, 32, 1), &l);
    add(d, gan_layer_leaky_relu(&l, 0.2f), &l);
    add(d, gan_layer_dense(&l, 32, 1, 1), &l);

    gan_rng *rng;
    check(gan_rng_create(&rng, 1), "rng");
    check(gan_model_init(g, GAN_INIT_PYTORCH, rng), "init G");
    check(gan_model_init(d, GAN_INIT_PYTORCH, rng), "init D");

    gan_optim_config oc;
    gan_optim_config_default(&oc); /* Adam, betas (0.5, 0.999) */
    oc.lr = LR;
    gan_optimizer *opt_g, *opt_d;
    check(gan_optimizer_create(&opt_g, g, &oc), "optimizer G");
    check(gan_optimizer_create(&opt_d, d, &oc), "optimizer D");

    int64_t xs[2] = {BATCH, 1};
    gan_tensor *real, *z, *dlogits;
    check(gan_tensor_create(&real, 2, xs), "real");
    check(gan_tensor_create(&z, 2, xs), "z");
    check(gan_tensor_create(&dlogits, 2, xs), "dL/dlogits");

    const gan_tensor *logits, *fake, *dfake;
    float loss_real, loss_fake, loss_g;
    for (int step = 0; step < STEPS; step++) {
        if (step == STEPS * 3 / 4) { /* settle: smaller steps at the end */
            gan_optimizer_set_lr(opt_g, LR / 10);
            gan_optimizer_set_lr(opt_d, LR / 10);
        }
        check(gan_rng_fill_normal(rng, real, 4.0f, 1.25f), "data");

        /* 1. D on real, labelled real */
        gan_model_zero_grad(d);
        check(gan_model_forward(d, real, &logits), "D(real)");
        gan_loss_discriminator(GAN_LOSS_NONSAT, logits, 1, 1.0f, &loss_real, dlogits);
        check(gan_model_backward(d, dlogits, NULL), "D backward (real)");

        /* 2. fake = G(z); D on fake, labelled fake; D's step */
        check(gan_rng_fill_normal(rng, z, 0.0f, 1.0f), "noise");
        check(gan_model_forward(g, z, &fake), "G(z)");
        check(gan_model_forward(d, fake, &logits), "D(fake)");
        gan_loss_discriminator(GAN_LOSS_NONSAT, logits, 0, 1.0f, &loss_fake, dlogits);
        check(gan_model_backward(d, dlogits, NULL), "D backward (fake)"); /* nothing into G */
        check(gan_optimizer_step(opt_d), "D step");

        /* 3. D frozen: the same fake through the updated D, into G */
        gan_model_set_frozen(d, 1);
        gan_model_zero_grad(g);
        check(gan_model_forward(d, fake, &logits), "D(fake) for G");
        gan_loss_generator(GAN_LOSS_NONSAT, logits, &loss_g, dlogits);
        check(gan_model_backward(d, dlogits, &dfake), "D backward (to G)"); /* dL/dfake */
        check(gan_model_backward(g, dfake, NULL), "G backward");
        check(gan_optimizer_step(opt_g), "G step");
        gan_model_set_frozen(d, 0);

        if (step % 500 == 0 || step == STEPS - 1)
            printf("step %4d  loss_D %.3f  loss_G %.3f\n", step, loss_real + loss_fake, loss_g);
    }

    /* Sample in eval mode (no batchnorm here, but that is the habit). */
    int64_t ns[2] = {10000, 1};
    gan_tensor *zs;
    const gan_tensor *samples;
    check(gan_tensor_create(&zs, 2, ns), "z samples");
    check(gan_rng_fill_normal(rng, zs, 0.0f, 1.0f), "noise");
    gan_model_set_training(g, 0);
    check(gan_model_forward(g, zs, &samples), "G(z) samples");
    double sum = 0, sq = 0;
    const float *p = gan_tensor_cdata(samples);
    for (int i = 0; i < 10000; i++) {
        sum += p[i];
        sq += (double)p[i] * p[i];
    }
    double mean = sum / 1e4, sd = sqrt(sq / 1e4 - mean * mean);
    int ok = fabs(mean - 4.0) < 0.4 && fabs(sd - 1.25) < 0.125;
    printf("samples: mean %.3f (target 4), std %.3f (target 1.25): %s\n", mean, sd,
           ok ? "learned" : "NOT learned");

    gan_tensor_free(zs);
    gan_tensor_free(real);
    gan_tensor_free(z);
    gan_tensor_free(dlogits);
    gan_optimizer_free(opt_g);
    gan_optimizer_free(opt_d);
    gan_model_free(g);
    gan_model_free(d);
    gan_rng_free(rng);
    return ok ? 0 : 1;
}
