/* tutorial.c — the program at the end of docs/tutorial.md: a DCGAN that
 * learns to draw Fashion-MNIST clothes, then ships and uses its generator.
 *
 *     cc tutorial.c $(pkg-config --cflags --libs gan) -o tutorial
 *     ./tutorial [--steps N] [--batch B] [--data FILE] [--out FILE]
 *
 * Defaults: one epoch (937 steps of 64 images) of Debian's Fashion-MNIST,
 * the generator written to generator.safetensors.  Without the data set it
 * trains on synthetic images (bright squares) so it still runs anywhere.
 */
#include <gan.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NZ 100 /* size of the noise vector z */

/* Stop with libgan's message on any failure (a program may; a library may not). */
static void check(gan_status st, const char *what)
{
    if (st != GAN_OK) {
        fprintf(stderr, "tutorial: %s: %s: %s\n", what, gan_status_string(st), gan_last_error());
        exit(1);
    }
}

/* Append the layer a gan_layer_* call just made to model m. */
static void add(gan_model *m, gan_status made, gan_layer **layer)
{
    check(made, "layer");
    check(gan_model_add(m, *layer), "gan_model_add");
}

/* Fashion-MNIST's training images, scaled to [-1, 1], or synthetic ones. */
static gan_dataset *load_images(const char *path, gan_rng *rng)
{
    gan_dataset *ds;
    gan_status st = gan_dataset_load_idx(&ds, path, NULL);
    if (st == GAN_OK) return ds;
    if (st != GAN_E_IO) check(st, path);
    printf("%s\n(apt-get install dataset-fashion-mnist provides it) - "
           "training on synthetic squares instead\n", gan_last_error());
    int64_t shape[4] = {4096, 1, 28, 28};
    gan_tensor *x;
    check(gan_tensor_create(&x, 4, shape), "images");
    float *p = gan_tensor_data(x);
    for (int i = 0; i < 4096; i++, p += 28 * 28) {
        int side = 6 + (int)(12 * gan_rng_uniform(rng));
        int top = (int)((28 - side) * gan_rng_uniform(rng));
        int left = (int)((28 - side) * gan_rng_uniform(rng));
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++)
                p[r * 28 + c] = r >= top && r < top + side && c >= left && c < left + side ? 1.0f : -1.0f;
    }
    check(gan_dataset_create(&ds, x, NULL), "dataset"); /* ds owns x now */
    return ds;
}

/* One 28x28 image in [-1, 1] as text, two characters per pixel. */
static void print_image(const float *x)
{
    static const char shades[] = " .:-=+*#%@";
    for (int r = 0; r < 28; r++) {
        for (int c = 0; c < 28; c++) {
            int k = (int)((x[r * 28 + c] + 1.0f) * 5.0f);
            k = k < 0 ? 0 : k > 9 ? 9 : k;
            printf("%c%c", shades[k], shades[k]);
        }
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    const char *data = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
    const char *out = "generator.safetensors";
    long steps = 0, batch = 64; /* steps 0: one epoch */
    for (int i = 1; i < argc; i += 2) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (value && strcmp(flag, "--steps") == 0) steps = atol(value);
        else if (value && strcmp(flag, "--batch") == 0) batch = atol(value);
        else if (value && strcmp(flag, "--data") == 0) data = value;
        else if (value && strcmp(flag, "--out") == 0) out = value;
        else {
            fprintf(stderr, "usage: tutorial [--steps N] [--batch B] [--data FILE] [--out FILE]\n");
            return 2;
        }
    }

    /* 1. The forger G: noise (100, 1, 1) -> image (1, 28, 28).  DCGAN rules:
     *    transposed convolutions upsample, batchnorm and ReLU between them,
     *    tanh at the end, no pooling, no dense layers. */
    gan_model *g, *d;
    gan_layer *l;
    int64_t z_shape[3] = {NZ, 1, 1}, x_shape[3] = {1, 28, 28};
    check(gan_model_create(&g, 3, z_shape), "G");
    add(g, gan_layer_conv_transpose2d(&l, NZ, 256, 7, 7, 1, 0, 0, 0), &l); /* (256, 7, 7)   */
    add(g, gan_layer_batchnorm(&l, 256), &l);
    add(g, gan_layer_relu(&l), &l);
    add(g, gan_layer_conv_transpose2d(&l, 256, 128, 4, 4, 2, 1, 0, 0), &l); /* (128, 14, 14) */
    add(g, gan_layer_batchnorm(&l, 128), &l);
    add(g, gan_layer_relu(&l), &l);
    add(g, gan_layer_conv_transpose2d(&l, 128, 1, 4, 4, 2, 1, 0, 0), &l); /* (1, 28, 28)   */
    add(g, gan_layer_tanh(&l), &l);

    /* 2. The detective D: image -> one logit.  Strided convolutions
     *    downsample, LeakyReLU(0.2), batchnorm except on the first layer. */
    check(gan_model_create(&d, 3, x_shape), "D");
    add(d, gan_layer_conv2d(&l, 1, 64, 4, 4, 2, 1, 0), &l); /* (64, 14, 14) */
    add(d, gan_layer_leaky_relu(&l, 0.2f), &l);
    add(d, gan_layer_conv2d(&l, 64, 128, 4, 4, 2, 1, 0), &l); /* (128, 7, 7) */
    add(d, gan_layer_batchnorm(&l, 128), &l);
    add(d, gan_layer_leaky_relu(&l, 0.2f), &l);
    add(d, gan_layer_conv2d(&l, 128, 1, 7, 7, 1, 0, 0), &l); /* (1, 1, 1): the logit */

    gan_rng *rng;
    check(gan_rng_create(&rng, 42), "rng");
    check(gan_model_init(g, GAN_INIT_DCGAN, rng), "init G"); /* weights ~ N(0, 0.02) */
    check(gan_model_init(d, GAN_INIT_DCGAN, rng), "init D");

    /* 3. Real data in batches, reshuffled every epoch. */
    gan_dataset *ds = load_images(data, rng);
    gan_loader *loader;
    check(gan_loader_create(&loader, ds, batch, GAN_LOADER_SHUFFLE | GAN_LOADER_DROP_LAST, 42),
          "loader");
    if (steps <= 0) steps = gan_loader_batches_per_epoch(loader);

    /* 4. The trainer: non-saturating loss, Adam (lr 2e-4, betas 0.5/0.999). */
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    cfg.seed = 42;
    gan_trainer *t;
    check(gan_trainer_create(&t, g, d, &cfg), "trainer"); /* t owns g and d now */

    int64_t real_shape[4] = {batch, 1, 28, 28};
    gan_tensor *real;
    check(gan_tensor_create(&real, 4, real_shape), "batch");
    printf("training a DCGAN for %ld steps of %ld images\n", steps, batch);
    for (long step = 1; step <= steps; step++) {
        int64_t n;
        check(gan_loader_next(loader, real, NULL, &n), "next batch");
        if (n == 0) /* the epoch ended; the next call starts another */
            check(gan_loader_next(loader, real, NULL, &n), "next batch");
        gan_step_stats s;
        check(gan_train_step(t, real, &s), "train step"); /* D on real, D on fake, G */
        if (step % 50 == 0 || step == steps)
            printf("step %4ld/%ld  loss D %.3f  G %.3f  D(x) %.3f  D(G(z)) %.3f -> %.3f\n", step,
                   steps, s.loss_d, s.loss_g, s.d_real, s.d_fake_before, s.d_fake_after);
    }

    /* 5. Ship the generator: one file with its weights and architecture. */
    check(gan_model_save(gan_trainer_generator(t), out), "save");
    printf("saved the generator to %s\n", out);
    gan_trainer_free(t); /* frees G and D too */

    /* 6. Use it as an application would: load, eval mode, sample. */
    gan_model *gen;
    check(gan_model_load(&gen, out), "load");
    check(gan_model_set_training(gen, 0), "eval mode"); /* batchnorm: running statistics */
    int64_t one_z[4] = {1, NZ, 1, 1};
    gan_tensor *z;
    const gan_tensor *image;
    check(gan_tensor_create(&z, 4, one_z), "z");
    check(gan_rng_fill_normal(rng, z, 0.0f, 1.0f), "noise");
    check(gan_model_forward(gen, z, &image), "G(z)");
    print_image(gan_tensor_cdata(image));

    gan_tensor_free(z);
    gan_model_free(gen);
    gan_tensor_free(real);
    gan_loader_free(loader);
    gan_dataset_free(ds);
    gan_rng_free(rng);
    return 0;
}
