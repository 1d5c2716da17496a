/* train.c — `gan train`: train a preset GAN on IDX files, an image folder or
 * the 2-D toy ring, writing checkpoints, metrics and sample grids. */
#include "tool.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help[] =
    "usage: gan train --model M [--data PATH] [--epochs N] [--batch B] [--seed S]\n"
    "                 [--threads T] [--loss L] [--lr LR] [--out DIR] [--resume DIR]\n"
    "                 [--steps N] [--log-every N]\n"
    "\n"
    "Train a GAN and write to DIR:\n"
    "  generator.safetensors    the trained generator (what you ship; see 'gan sample')\n"
    "  checkpoint.safetensors   G, D, both optimizers and the RNG, to resume (each epoch)\n"
    "  metrics.csv              step,epoch,loss_d,loss_g,d_x,d_g_z,img_per_s per step\n"
    "  samples_epoch_NNN.png    samples from fixed noise after each epoch\n"
    "\n"
    "options:\n"
    "  --model M       mlp28 (MLP, 1x28x28), dcgan28 (DCGAN, 1x28x28), dcgan64 (DCGAN,\n"
    "                  3x64x64) or toy2d (MLP on a ring of 8 Gaussians; takes no --data)\n"
    "  --data PATH     a folder with train-images-idx3-ubyte[.gz] (MNIST, Fashion-MNIST:\n"
    "                  /usr/share/datasets/fashion-mnist), an IDX image file (idx3 grey\n"
    "                  N x H x W, or idx4 N x C x H x W), or a folder of PNG/JPEG images\n"
    "                  (and subfolders); images are centre-cropped and resized to the\n"
    "                  model's input (IDX data batch by batch, as it is loaded)\n"
    "  --epochs N      passes over the data in total, resumed ones included (default 1)\n"
    "  --batch B       batch size (default 64)\n"
    "  --seed S        seed of weights, noise and shuffling (default 1)\n"
    "  --threads T     threads for BLAS and libgan (default: all cores; 1 for toy2d)\n"
    "  --loss L        nonsat (default), minimax, lsgan, hinge or wgan (5 critic steps,\n"
    "                  weight clip 0.01)\n"
    "  --lr LR         Adam learning rate of G and D (default 0.0002, 0.001 for toy2d;\n"
    "                  betas 0.5/0.999)\n"
    "  --out DIR       output folder (default: out, or the --resume folder)\n"
    "  --resume DIR    continue from DIR/checkpoint.safetensors at its next epoch (an\n"
    "                  epoch stopped by --steps or Ctrl-C is redone); the model, loss,\n"
    "                  learning rate and seed come from the checkpoint\n"
    "  --steps N       stop after N steps in total (default: run all epochs)\n"
    "  --log-every N   when not on a terminal, one line per N steps (default 100)\n"
    "  -h, --help      show this help\n";

static const char *const loss_names[] = {"nonsat", "minimax", "lsgan", "hinge", "wgan", NULL};
static const gan_loss loss_kinds[] = {GAN_LOSS_NONSAT, GAN_LOSS_MINIMAX, GAN_LOSS_LSGAN,
                                      GAN_LOSS_HINGE, GAN_LOSS_WGAN};

#define TOY_POINTS 10000 /* points per toy2d epoch */
#define GRID_SAMPLES 64  /* images in each sample grid (8 x 8) */
#define TOY_SAMPLES 1000 /* points in each toy2d scatter plot */

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ------------------------------------------------------------------ data */
/* An IDX image file for --data PATH, or NULL. */
static const char *find_idx(const char *path, char *buf, size_t cap)
{
    static const char *const names[] = {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz",
                                        "train-images.idx3-ubyte", "train-images.idx3-ubyte.gz"};
    if (is_file(path)) return path;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (is_file(path_join(buf, cap, path, names[i]))) return buf;
    return NULL;
}

/* The training set for D's per-sample input shape (c, h, w), or the toy
 * ring for a 1-D input of 2.  IDX images stay at their own size (the
 * training loop converts each batch: a data set resized in memory would
 * take 3x64x64 floats per image for dcgan64, 2.9 GB for Fashion-MNIST's
 * 60,000); image folders are resized as they are decoded.  Returns 0 or 1
 * after a message. */
static int load_data(gan_dataset **out, const char *data, int ndim, const int64_t *in,
                     uint64_t seed)
{
    *out = NULL;
    gan_tensor *x = NULL;
    gan_status st;
    if (ndim == 1) { /* toy2d */
        int64_t shape[2] = {TOY_POINTS, in[0]};
        gan_rng *rng = NULL;
        st = gan_tensor_create(&x, 2, shape);
        if (st == GAN_OK) st = gan_rng_create(&rng, seed ^ 0x70792d64ULL);
        if (st == GAN_OK) toy_ring_fill(gan_tensor_data(x), TOY_POINTS, rng);
        gan_rng_free(rng);
    } else {
        int c = (int)in[0], h = (int)in[1], w = (int)in[2];
        char buf[4096];
        const char *idx = find_idx(data, buf, sizeof buf);
        if (idx != NULL) {
            st = gan_idx_read_images(&x, idx);
            if (st != GAN_OK) {
                tool_gan_error(st, "cannot read training images");
                return 1;
            }
        } else if (is_dir(data)) {
            if (load_image_folder(&x, data, c, h, w) != 0) return 1;
        } else {
            tool_error("--data '%s': no such file or folder", data);
            return 1;
        }
        st = GAN_OK;
    }
    if (st == GAN_OK) st = gan_dataset_create(out, x, NULL);
    if (st != GAN_OK) {
        gan_tensor_free(x);
        tool_gan_error(st, "cannot prepare the training data");
        return 1;
    }
    return 0;
}

/* Batches of the model's input shape from a loader over ds: straight from
 * the loader when the samples have that shape, else through `raw`, a batch
 * at the data set's image size, converted image by image. */
typedef struct batch_source {
    gan_loader *loader;
    gan_tensor *raw; /* (B, c0, h0, w0), or NULL: no conversion */
    image_converter cv;
} batch_source;

/* Returns 0, or 1 after a message. */
static int source_init(batch_source *src, gan_loader *loader, const gan_dataset *ds, int64_t batch,
                       int ndim, const int64_t *in)
{
    memset(src, 0, sizeof *src);
    src->loader = loader;
    const gan_tensor *x = gan_dataset_images(ds); /* (N, c0, h0, w0) */
    if (ndim != 3 || (gan_tensor_dim(x, 1) == in[0] && gan_tensor_dim(x, 2) == in[1] &&
                      gan_tensor_dim(x, 3) == in[2]))
        return 0;
    int64_t shape[4] = {batch, gan_tensor_dim(x, 1), gan_tensor_dim(x, 2), gan_tensor_dim(x, 3)};
    printf("resizing %lldx%lldx%lld images to %lldx%lldx%lld, batch by batch\n",
           (long long)shape[1], (long long)shape[2], (long long)shape[3], (long long)in[0],
           (long long)in[1], (long long)in[2]);
    if (converter_init(&src->cv, (int)shape[1], (int)shape[2], (int)shape[3], (int)in[0],
                       (int)in[1], (int)in[2]) != 0)
        return 1;
    gan_status st = gan_tensor_create(&src->raw, 4, shape);
    if (st != GAN_OK) {
        tool_gan_error(st, "cannot allocate batches");
        return 1;
    }
    return 0;
}

static void source_free(batch_source *src)
{
    gan_tensor_free(src->raw);
    converter_free(&src->cv);
}

/* gan_loader_next into `real` (B, model input...), converting if needed. */
static gan_status source_next(batch_source *src, gan_tensor *real, int64_t *count)
{
    if (src->raw == NULL) return gan_loader_next(src->loader, real, NULL, count);
    gan_status st = gan_loader_next(src->loader, src->raw, NULL, count);
    if (st == GAN_OK)
        convert_images(&src->cv, gan_tensor_data(real), gan_tensor_cdata(src->raw), *count);
    return st;
}

/* -------------------------------------------------------------- progress */
typedef struct progress {
    bool tty;
    int log_every;
    double start, last_draw;
    int64_t run_steps, done_steps; /* steps this run will take / has taken */
    double epoch_start;
    int64_t epoch_images;
    int64_t last_logged;           /* done_steps of the last line printed */
} progress;

static void fmt_time(char *buf, size_t cap, double s)
{
    if (!(s >= 0) || s > 359999) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

static void show(progress *p, int64_t epoch, int64_t epochs, int64_t step, int64_t steps,
                 const gan_step_stats *s, bool final)
{
    double now = now_seconds();
    bool due = p->tty ? (final || now - p->last_draw >= 0.1)
                      : (final ? p->done_steps != p->last_logged
                               : p->done_steps % p->log_every == 0);
    if (!due) return;
    p->last_draw = now;
    p->last_logged = p->done_steps;
    double ips = p->epoch_images / fmax(now - p->epoch_start, 1e-9);
    double per_step = (now - p->start) / (double)(p->done_steps > 0 ? p->done_steps : 1);
    char eta[32];
    fmt_time(eta, sizeof eta, per_step * (double)(p->run_steps - p->done_steps));
    char line[256];
    snprintf(line, sizeof line,
             "epoch %lld/%lld  step %lld/%lld  %.0f img/s  ETA %s  loss D %.3f G %.3f  "
             "D(x) %.3f  D(G(z)) %.3f/%.3f",
             (long long)epoch + 1, (long long)epochs, (long long)step, (long long)steps, ips, eta,
             s->loss_d, s->loss_g, s->d_real, s->d_fake_before, s->d_fake_after);
    if (p->tty)
        printf("\r%s\033[K%s", line, final ? "\n" : "");
    else
        printf("%s\n", line);
    fflush(stdout);
}

/* ---------------------------------------------------------------- output */
/* mkdir -p for one path. */
static int make_dir(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
                tool_error("cannot create folder '%s': %s", buf, strerror(errno));
                return 1;
            }
            *p = c;
            if (c == '\0') break;
        }
    }
    if (!is_dir(path)) {
        tool_error("'%s' exists and is not a folder", path);
        return 1;
    }
    return 0;
}

/* Samples of G from the fixed noise z into DIR/samples_epoch_NNN.png. */
static int write_samples(gan_trainer *t, const gan_tensor *z, const char *dir, int64_t epoch)
{
    gan_model *g = gan_trainer_generator(t);
    int ndim;
    int64_t shape[GAN_MAX_DIMS + 1] = {gan_tensor_dim(z, 0)};
    gan_model_output_shape(g, &ndim, shape + 1);
    gan_tensor *x = NULL;
    gan_status st = gan_tensor_create(&x, ndim + 1, shape);
    if (st == GAN_OK) st = gan_trainer_generate(t, z, x);
    if (st != GAN_OK) {
        gan_tensor_free(x);
        tool_gan_error(st, "cannot generate samples");
        return 1;
    }
    char name[64], path[4096];
    snprintf(name, sizeof name, "samples_epoch_%03lld.png", (long long)epoch + 1);
    path_join(path, sizeof path, dir, name);
    int rc = ndim == 1 ? write_png_scatter(path, gan_tensor_cdata(x), shape[0], 400, 3.0f)
                       : write_png_grid(path, gan_tensor_cdata(x), shape[0], (int)shape[1],
                                        (int)shape[2], (int)shape[3], 0);
    if (rc == 0 && ndim == 1) {
        double quality;
        int modes = toy_ring_coverage(gan_tensor_cdata(x), shape[0], &quality);
        printf("toy2d: %d/%d modes covered, %.0f %% of samples within 3 std of a mode\n", modes,
               TOY_MODES, 100.0 * quality);
    }
    gan_tensor_free(x);
    return rc;
}

/* Checkpoint (everything to resume) and generator, both written atomically
 * by the library. */
static int save_state(gan_trainer *t, const char *dir)
{
    char path[4096];
    gan_status st = gan_trainer_save(t, path_join(path, sizeof path, dir, "checkpoint.safetensors"));
    if (st == GAN_OK)
        st = gan_model_save(gan_trainer_generator(t),
                            path_join(path, sizeof path, dir, "generator.safetensors"));
    if (st != GAN_OK) {
        tool_gan_error(st, "cannot save '%s'", path);
        return 1;
    }
    return 0;
}

/* The seed a checkpoint's run used (its trainer's "seed=" setting), so a
 * resumed run shuffles and samples as the original did; `fallback` if the
 * file does not say. */
static uint64_t checkpoint_seed(const char *path, uint64_t fallback)
{
    gan_checkpoint *ck = NULL;
    if (gan_checkpoint_open(&ck, path) != GAN_OK) return fallback;
    const char *cfg = gan_checkpoint_get(ck, "libgan.trainer");
    const char *at = cfg ? strstr(cfg, "seed=") : NULL;
    uint64_t seed = at ? strtoull(at + 5, NULL, 10) : fallback;
    gan_checkpoint_close(ck);
    return seed;
}

/* ------------------------------------------------------------------ main */
int cmd_train(int argc, char **argv)
{
    const char *model = NULL, *data = NULL, *loss = "nonsat", *out = NULL, *resume = NULL;
    int epochs = 1, batch = 64, threads = 0, max_steps = 0, log_every = 100;
    uint64_t seed = 1;
    float lr = 2e-4f;
    cli_opt opts[] = {
        {"model", 0, OPT_CHOICE, &model, model_names, 0, 0, false},
        {"data", 0, OPT_STRING, &data, NULL, 0, 0, false},
        {"epochs", 0, OPT_INT, &epochs, NULL, 1, 1000000, false},
        {"batch", 0, OPT_INT, &batch, NULL, 1, 1 << 20, false},
        {"seed", 0, OPT_U64, &seed, NULL, 0, 0, false},
        {"threads", 0, OPT_INT, &threads, NULL, 1, 1024, false},
        {"loss", 0, OPT_CHOICE, &loss, loss_names, 0, 0, false},
        {"lr", 0, OPT_FLOAT, &lr, NULL, 1, 0, false},
        {"out", 'o', OPT_STRING, &out, NULL, 0, 0, false},
        {"resume", 0, OPT_STRING, &resume, NULL, 0, 0, false},
        {"steps", 0, OPT_INT, &max_steps, NULL, 1, 2000000000, false},
        {"log-every", 0, OPT_INT, &log_every, NULL, 1, 2000000000, false},
        {0},
    };
    int npos, rc = cli_parse(argc, argv, opts, NULL, 0, &npos, help);
    if (rc >= 0) return rc;
    if (model == NULL && resume == NULL) {
        tool_error("--model is required (mlp28, dcgan28, dcgan64 or toy2d; see 'gan train --help')");
        return EXIT_USAGE;
    }
    bool toy = model != NULL && strcmp(model, "toy2d") == 0;
    if (toy && data != NULL) {
        tool_error("--data: toy2d trains on its built-in ring of 8 Gaussians and takes no data "
                   "(see 'gan train --help')");
        return EXIT_USAGE;
    }
    if (!toy && model != NULL && data == NULL) {
        tool_error("--data is required for %s (e.g. --data /usr/share/datasets/fashion-mnist; "
                   "see 'gan train --help')",
                   model);
        return EXIT_USAGE;
    }
    if (toy && threads == 0) threads = 1; /* its matrices are too small to share */
    if (threads > 0 && gan_set_num_threads(threads) != GAN_OK) {
        tool_gan_error(GAN_E_INVALID, "--threads %d", threads);
        return EXIT_USAGE;
    }
    if (out == NULL) out = resume != NULL ? resume : "out";
    if (make_dir(out) != 0) return 1;

    /* the trainer: fresh from a preset, or resumed from a checkpoint */
    gan_trainer *t = NULL;
    gan_status st;
    if (resume != NULL) {
        char path[4096];
        path_join(path, sizeof path, resume, "checkpoint.safetensors");
        if (!cli_seen(opts, "seed")) seed = checkpoint_seed(path, seed);
        st = gan_trainer_load(&t, path);
        if (st != GAN_OK) {
            tool_gan_error(st, "cannot resume from '%s'", path);
            return 1;
        }
    } else {
        gan_model *g = NULL, *d = NULL;
        st = gan_preset_create(model, seed, &g, &d);
        if (st != GAN_OK) {
            tool_gan_error(st, "cannot build %s", model);
            return 1;
        }
        gan_trainer_config cfg;
        gan_trainer_config_default(&cfg);
        for (int i = 0; loss_names[i] != NULL; i++)
            if (strcmp(loss, loss_names[i]) == 0) cfg.loss = loss_kinds[i];
        if (cfg.loss == GAN_LOSS_WGAN) {
            cfg.n_critic = 5;
            cfg.clip = 0.01f;
        }
        if (toy && !cli_seen(opts, "lr")) lr = 1e-3f; /* the toy learns faster with bigger steps */
        cfg.opt_g.lr = cfg.opt_d.lr = lr;
        cfg.seed = seed;
        st = gan_trainer_create(&t, g, d, &cfg);
        if (st != GAN_OK) {
            gan_model_free(g);
            gan_model_free(d);
            tool_gan_error(st, "cannot create the trainer");
            return 1;
        }
    }
    int ndim;
    int64_t in[GAN_MAX_DIMS];
    gan_model_input_shape(gan_trainer_discriminator(t), &ndim, in);
    if (resume != NULL) toy = ndim == 1;
    if (!toy && data == NULL) {
        tool_error("--data is required to resume training on images");
        gan_trainer_free(t);
        return EXIT_USAGE;
    }

    gan_dataset *ds = NULL;
    gan_loader *loader = NULL;
    batch_source source = {0};
    gan_tensor *real = NULL, *z = NULL;
    gan_rng *noise_rng = NULL;
    FILE *csv = NULL;
    rc = 1;
    if (load_data(&ds, data, ndim, in, seed) != 0) goto done;
    st = gan_loader_create(&loader, ds, batch, GAN_LOADER_SHUFFLE, seed);
    if (st != GAN_OK) {
        tool_gan_error(st, "--batch %d", batch);
        rc = EXIT_USAGE;
        goto done;
    }
    if (source_init(&source, loader, ds, batch, ndim, in) != 0) goto done;
    int64_t shape[GAN_MAX_DIMS + 1] = {batch};
    for (int i = 0; i < ndim; i++) shape[i + 1] = in[i];
    st = gan_tensor_create(&real, ndim + 1, shape);
    /* fixed noise for the sample grids, the same in every epoch and run */
    int gdim;
    int64_t zshape[GAN_MAX_DIMS + 1] = {toy ? TOY_SAMPLES : GRID_SAMPLES};
    gan_model_input_shape(gan_trainer_generator(t), &gdim, zshape + 1);
    if (st == GAN_OK) st = gan_tensor_create(&z, gdim + 1, zshape);
    if (st == GAN_OK) st = gan_rng_create(&noise_rng, seed ^ 0xf1dedf1deULL);
    if (st == GAN_OK) st = gan_rng_fill_normal(noise_rng, z, 0.0f, 1.0f);
    if (st != GAN_OK) {
        tool_gan_error(st, "cannot allocate batches");
        goto done;
    }

    int64_t start_epoch = gan_trainer_epoch(t);
    if (start_epoch >= epochs) {
        printf("checkpoint is at epoch %lld; nothing to do for --epochs %d\n",
               (long long)start_epoch, epochs);
        rc = 0;
        goto done;
    }
    gan_loader_set_epoch(loader, start_epoch);
    char csv_path[4096];
    path_join(csv_path, sizeof csv_path, out, "metrics.csv");
    bool append = resume != NULL && is_file(csv_path);
    csv = fopen(csv_path, append ? "a" : "w");
    if (csv == NULL) {
        tool_error("cannot write '%s': %s", csv_path, strerror(errno));
        goto done;
    }
    if (!append) fprintf(csv, "step,epoch,loss_d,loss_g,d_x,d_g_z,img_per_s\n");

    int64_t per_epoch = gan_loader_batches_per_epoch(loader);
    progress p = {.tty = isatty(fileno(stdout)), .log_every = log_every, .start = now_seconds()};
    p.run_steps = (epochs - start_epoch) * per_epoch;
    if (max_steps > 0 && max_steps < p.run_steps) p.run_steps = max_steps;
    printf("training %s on %lld %s, batch %d, %lld steps per epoch, epochs %lld..%d -> %s\n",
           toy ? "toy2d" : (model ? model : "(resumed)"), (long long)gan_dataset_size(ds),
           toy ? "points" : "images", batch, (long long)per_epoch, (long long)start_epoch + 1,
           epochs, out);
    printf("%s\n", gan_runtime_info());
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    gan_step_stats s;
    memset(&s, 0, sizeof s);
    bool stop = false;
    for (int64_t epoch = start_epoch; epoch < epochs && !stop; epoch++) {
        p.epoch_start = now_seconds();
        p.epoch_images = 0;
        int64_t step = 0, count;
        for (;;) {
            if ((st = source_next(&source, real, &count)) != GAN_OK || count == 0) break;
            gan_tensor *view = NULL, *input = real;
            if (count < batch) { /* the short last batch */
                shape[0] = count;
                if ((st = gan_tensor_wrap(&view, gan_tensor_data(real), ndim + 1, shape)) != GAN_OK)
                    break;
                input = view;
            }
            double t0 = now_seconds();
            st = gan_train_step(t, input, &s);
            double dt = now_seconds() - t0;
            gan_tensor_free(view);
            if (st != GAN_OK) break;
            step++;
            p.done_steps++;
            p.epoch_images += count;
            fprintf(csv, "%lld,%lld,%.6g,%.6g,%.6g,%.6g,%.1f\n", (long long)s.step,
                    (long long)epoch + 1, s.loss_d, s.loss_g, s.d_real, s.d_fake_before,
                    count / fmax(dt, 1e-9));
            if (p.done_steps % 100 == 0) fflush(csv); /* readable while training runs */
            show(&p, epoch, epochs, step, per_epoch, &s, false);
            if (interrupted || (max_steps > 0 && p.done_steps >= max_steps)) {
                stop = true;
                break;
            }
        }
        if (st != GAN_OK) {
            if (p.tty) printf("\n");
            tool_gan_error(st, "training stopped at step %lld", (long long)gan_trainer_step_count(t) + 1);
            break;
        }
        if (p.done_steps > 0) show(&p, epoch, epochs, step, per_epoch, &s, true);
        fflush(csv);
        /* a finished epoch advances the checkpoint's counter; a stopped one
         * is redone on resume */
        if (!stop) gan_trainer_set_epoch(t, epoch + 1);
        if (save_state(t, out) != 0 || write_samples(t, z, out, epoch) != 0) {
            st = GAN_E_IO;
            break;
        }
    }
    if (st == GAN_OK) {
        char path[4096];
        printf("%s: generator.safetensors, checkpoint.safetensors, metrics.csv and sample "
               "grids are in %s\n",
               interrupted ? "interrupted" : "done", out);
        path_join(path, sizeof path, out, "generator.safetensors");
        printf("try: gan sample %s -n 64 -o samples.png\n", path);
        rc = interrupted ? 130 : 0;
    }
done:
    if (csv != NULL && fclose(csv) != 0 && rc == 0) {
        tool_error("cannot write metrics.csv: %s", strerror(errno));
        rc = 1;
    }
    gan_rng_free(noise_rng);
    gan_tensor_free(z);
    gan_tensor_free(real);
    source_free(&source);
    gan_loader_free(loader);
    gan_dataset_free(ds);
    gan_trainer_free(t);
    return rc;
}
