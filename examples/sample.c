/* sample.c — load a trained generator and write images.
 *
 *     cc sample.c $(pkg-config --cflags --libs gan) -o sample
 *     ./sample [generator.safetensors [N [out]]]
 *
 * A generator file (from `gan train`, or gan_model_save) carries its own
 * architecture, so loading needs no code that knows the network.  The N
 * samples go into one grid image, written as binary PGM (grey) or PPM (RGB):
 * formats any image viewer opens, so this example needs no image library.
 * A toy2d generator makes 2-D points, which are printed instead.
 *
 * Without a generator file (and no argument) it samples an untrained
 * dcgan28 generator, to show the steps; train one with
 *     gan train --model dcgan28 --data /usr/share/datasets/fashion-mnist
 */
#include <gan.h>

#include <stdio.h>
#include <stdlib.h>

/* x in [-1, 1] -> 0..255 */
static unsigned char to_byte(float x)
{
    float v = (x + 1.0f) * 127.5f + 0.5f;
    return v <= 0.0f ? 0 : v >= 255.0f ? 255 : (unsigned char)v;
}

/* n images (n, c, h, w) as a grid of `cols` columns with 2-pixel gaps. */
static int write_grid(const char *path, const float *x, int n, int c, int h, int w)
{
    int cols = 1;
    while (cols * cols < n) cols++;
    int rows = (n + cols - 1) / cols, pad = 2;
    int gw = cols * (w + pad) + pad, gh = rows * (h + pad) + pad;
    unsigned char *grid = calloc((size_t)gw * gh * c, 1); /* (gh, gw, c) */
    FILE *f = fopen(path, "wb");
    if (grid == NULL || f == NULL) {
        free(grid);
        if (f) fclose(f);
        return 1;
    }
    for (int k = 0; k < n; k++)
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) {
                    int y0 = pad + (k / cols) * (h + pad), x0 = pad + (k % cols) * (w + pad);
                    grid[((size_t)(y0 + i) * gw + x0 + j) * c + ch] =
                        to_byte(x[(((size_t)k * c + ch) * h + i) * w + j]);
                }
    fprintf(f, "P%d\n%d %d\n255\n", c == 3 ? 6 : 5, gw, gh);
    size_t bytes = (size_t)gw * gh * c;
    int bad = fwrite(grid, 1, bytes, f) != bytes;
    bad |= fclose(f) != 0;
    free(grid);
    return bad;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "generator.safetensors";
    int n = argc > 2 ? atoi(argv[2]) : 64;
    if (n < 1 || n > 10000) {
        fprintf(stderr, "sample: N must be 1..10000\n");
        return 2;
    }

    gan_model *g = NULL, *d = NULL;
    gan_status st = gan_model_load(&g, path);
    if (st == GAN_E_IO && argc < 2) {
        printf("no %s here: sampling an untrained dcgan28 generator instead\n", path);
        st = gan_preset_create("dcgan28", 1, &g, &d);
        gan_model_free(d);
    }
    if (st != GAN_OK) {
        fprintf(stderr, "sample: %s: %s\n", path, gan_last_error());
        return 1;
    }

    /* noise z ~ N(0, 1) of shape (n, G's input shape...) */
    int zdim, xdim;
    int64_t zshape[GAN_MAX_DIMS + 1] = {n}, xshape[GAN_MAX_DIMS + 1];
    gan_model_input_shape(g, &zdim, zshape + 1);
    gan_model_output_shape(g, &xdim, xshape + 1);
    gan_tensor *z = NULL;
    gan_rng *rng = NULL;
    const gan_tensor *x = NULL;
    int rc = 1;
    if (gan_tensor_create(&z, zdim + 1, zshape) != GAN_OK || gan_rng_create(&rng, 1) != GAN_OK ||
        gan_rng_fill_normal(rng, z, 0.0f, 1.0f) != GAN_OK)
        goto done;

    gan_model_set_training(g, 0); /* eval mode: batchnorm uses its running statistics */
    if (gan_model_forward(g, z, &x) != GAN_OK) goto done;
    const float *px = gan_tensor_cdata(x);

    if (xdim == 3 && (xshape[1] == 1 || xshape[1] == 3)) {
        const char *out = argc > 3 ? argv[3] : xshape[1] == 3 ? "samples.ppm" : "samples.pgm";
        if (write_grid(out, px, n, (int)xshape[1], (int)xshape[2], (int)xshape[3]) != 0) {
            fprintf(stderr, "sample: cannot write %s\n", out);
            goto done;
        }
        printf("wrote %d samples of %lldx%lldx%lld to %s\n", n, (long long)xshape[1],
               (long long)xshape[2], (long long)xshape[3], out);
    } else {
        int64_t per = gan_tensor_numel(x) / n;
        for (int i = 0; i < n; i++) {
            for (int64_t j = 0; j < per; j++) printf("%s%.4f", j ? " " : "", px[i * per + j]);
            printf("\n");
        }
    }
    rc = 0;
done:
    if (rc != 0) fprintf(stderr, "sample: %s\n", gan_last_error());
    gan_tensor_free(z);
    gan_rng_free(rng);
    gan_model_free(g);
    return rc;
}
