/* sample.c — `gan sample`: images from a generator or trainer checkpoint. */
#include "tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: gan sample CKPT [-n N] [--seed S] [--noise FILE] [--format F] -o FILE\n"
    "\n"
    "Draw N samples from the generator in CKPT (generator.safetensors, or a trainer\n"
    "checkpoint.safetensors) in eval mode and write them to FILE.\n"
    "\n"
    "options:\n"
    "  -n N            number of samples (default 64)\n"
    "  --seed S        seed of the noise (default 1)\n"
    "  --noise FILE    take the noise from tensor \"z\" (N x nz) of a safetensors file\n"
    "                  instead (replay or interpolate exact latents); sets N\n"
    "  --format F      png (a grid; a scatter plot for toy2d), idx (IDX u8: N x H x W,\n"
    "                  or N x C x H x W for colour; pixel = round((x + 1) * 127.5); gan\n"
    "                  train --data and gan_idx_read_images read both) or safetensors\n"
    "                  (the raw float tensor \"x\" and the noise \"z\");\n"
    "                  default: from FILE's extension, else png\n"
    "  -o, --out FILE  output file (required)\n"
    "  -h, --help      show this help\n";

static const char *const formats[] = {"png", "idx", "safetensors", NULL};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The generator of CKPT (a model file, or a trainer checkpoint whose
 * generator is borrowed from *trainer), and its noise kind. */
static int load_generator(const char *path, gan_model **g, gan_trainer **trainer, bool *uniform)
{
    *g = NULL;
    *trainer = NULL;
    *uniform = false;
    gan_checkpoint *ck = NULL;
    gan_status st = gan_checkpoint_open(&ck, path);
    if (st != GAN_OK) {
        tool_gan_error(st, "cannot read '%s'", path);
        return 1;
    }
    const char *kind = gan_checkpoint_get(ck, "libgan.kind");
    bool is_trainer = kind != NULL && strcmp(kind, "trainer") == 0;
    const char *cfg = gan_checkpoint_get(ck, "libgan.trainer");
    *uniform = cfg != NULL && strstr(cfg, "noise=uniform") != NULL;
    gan_checkpoint_close(ck);
    if (is_trainer) {
        st = gan_trainer_load(trainer, path);
        if (st == GAN_OK) *g = gan_trainer_generator(*trainer);
    } else {
        st = gan_model_load(g, path);
    }
    if (st != GAN_OK) {
        tool_gan_error(st, "cannot load a generator from '%s'", path);
        return 1;
    }
    return 0;
}

int cmd_sample(int argc, char **argv)
{
    const char *noise = NULL, *format = NULL, *out = NULL;
    int n = 64;
    uint64_t seed = 1;
    cli_opt opts[] = {
        {"n", 'n', OPT_INT, &n, NULL, 1, 10000000, false},
        {"seed", 0, OPT_U64, &seed, NULL, 0, 0, false},
        {"noise", 0, OPT_STRING, &noise, NULL, 0, 0, false},
        {"format", 0, OPT_CHOICE, &format, formats, 0, 0, false},
        {"out", 'o', OPT_STRING, &out, NULL, 0, 0, false},
        {0},
    };
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, opts, pos, 1, &npos, help);
    if (rc >= 0) return rc;
    if (npos != 1) {
        tool_error("expected one checkpoint file, e.g. gan sample out/generator.safetensors -o "
                   "samples.png (see 'gan sample --help')");
        return EXIT_USAGE;
    }
    if (out == NULL) {
        tool_error("-o FILE is required (see 'gan sample --help')");
        return EXIT_USAGE;
    }
    if (noise != NULL && cli_seen(opts, "n")) {
        tool_error("-n and --noise exclude each other: the noise file sets the number of samples");
        return EXIT_USAGE;
    }
    if (format == NULL)
        format = ends_with(out, ".safetensors")                                   ? "safetensors"
                 : ends_with(out, ".idx") || ends_with(out, "-ubyte") || ends_with(out, ".idx3") ||
                           ends_with(out, ".idx4")
                     ? "idx"
                     : "png";

    gan_model *g;
    gan_trainer *trainer;
    bool uniform;
    if (load_generator(pos[0], &g, &trainer, &uniform) != 0) return 1;
    int zdim, xdim;
    int64_t zshape[GAN_MAX_DIMS + 1], xshape[GAN_MAX_DIMS + 1];
    gan_model_input_shape(g, &zdim, zshape + 1);
    gan_model_output_shape(g, &xdim, xshape + 1);
    int64_t zper = 1, xper = 1;
    for (int i = 1; i <= zdim; i++) zper *= zshape[i];
    for (int i = 1; i <= xdim; i++) xper *= xshape[i];

    gan_tensor *z = NULL, *x = NULL;
    gan_rng *rng = NULL;
    gan_status st = GAN_OK;
    rc = 1;
    if (strcmp(format, "idx") == 0 && xdim != 3) {
        tool_error("--format idx needs image samples; this generator makes %lld-D points "
                   "(use png or safetensors)",
                   (long long)xshape[1]);
        rc = EXIT_USAGE;
        goto done;
    }
    if (noise != NULL) {
        st = gan_tensor_load(&z, noise, "z");
        if (st != GAN_OK) {
            tool_gan_error(st, "cannot read the noise");
            goto done;
        }
        int64_t rows = gan_tensor_dim(z, 0);
        if (gan_tensor_numel(z) != rows * zper) {
            tool_error("--noise '%s': tensor \"z\" has %lld values per sample, the generator "
                       "takes %lld",
                       noise, (long long)(gan_tensor_numel(z) / rows), (long long)zper);
            goto done;
        }
        zshape[0] = rows;
        gan_tensor_reshape(z, zdim + 1, zshape);
    } else {
        zshape[0] = n;
        st = gan_tensor_create(&z, zdim + 1, zshape);
        if (st == GAN_OK) st = gan_rng_create(&rng, seed);
        if (st == GAN_OK)
            st = uniform ? gan_rng_fill_uniform(rng, z, -1.0f, 1.0f)
                         : gan_rng_fill_normal(rng, z, 0.0f, 1.0f);
    }
    xshape[0] = zshape[0];
    if (st == GAN_OK) st = gan_tensor_create(&x, xdim + 1, xshape);
    if (st != GAN_OK) {
        tool_gan_error(st, "cannot hold %lld samples", (long long)zshape[0]);
        goto done;
    }

    /* G in eval mode (batchnorm uses running statistics), in chunks */
    gan_model_set_training(g, 0);
    for (int64_t at = 0; at < zshape[0] && st == GAN_OK; at += 256) {
        int64_t m = zshape[0] - at < 256 ? zshape[0] - at : 256;
        int64_t cs[GAN_MAX_DIMS + 1];
        memcpy(cs, zshape, sizeof cs);
        cs[0] = m;
        gan_tensor *zc = NULL;
        const gan_tensor *y;
        st = gan_tensor_wrap(&zc, gan_tensor_data(z) + at * zper, zdim + 1, cs);
        if (st == GAN_OK) st = gan_model_forward(g, zc, &y);
        if (st == GAN_OK)
            memcpy(gan_tensor_data(x) + at * xper, gan_tensor_cdata(y), (size_t)(m * xper) * sizeof(float));
        gan_tensor_free(zc);
    }
    if (st != GAN_OK) {
        tool_gan_error(st, "generation failed");
        goto done;
    }

    int64_t count = xshape[0];
    if (strcmp(format, "safetensors") == 0) {
        const char *names[2] = {"x", "z"};
        const gan_tensor *ts[2] = {x, z};
        st = gan_tensors_save(out, 2, names, ts);
        if (st != GAN_OK) tool_gan_error(st, "cannot write '%s'", out);
        rc = st == GAN_OK ? 0 : 1;
    } else if (xdim == 1 && xshape[1] == 2) {
        rc = write_png_scatter(out, gan_tensor_cdata(x), count, 400, 3.0f);
    } else if (xdim != 3 || (xshape[1] != 1 && xshape[1] != 3)) {
        tool_error("samples of this shape are not images; use --format safetensors");
        rc = EXIT_USAGE;
    } else {
        int c = (int)xshape[1], h = (int)xshape[2], w = (int)xshape[3];
        rc = strcmp(format, "idx") == 0 ? write_idx_u8(out, gan_tensor_cdata(x), count, c, h, w)
                                        : write_png_grid(out, gan_tensor_cdata(x), count, c, h, w, 0);
    }
    if (rc == 0) printf("wrote %lld samples to %s (%s)\n", (long long)count, out, format);
done:
    gan_rng_free(rng);
    gan_tensor_free(z);
    gan_tensor_free(x);
    if (trainer != NULL)
        gan_trainer_free(trainer);
    else
        gan_model_free(g);
    return rc;
}
