/* bench.c — `gan bench`: time gan_train_step on random data, or with
 * --generate what a program that embeds a generator does: noise from a
 * gan_rng, then gan_model_forward of G in eval mode.
 *
 * The last line of the output is one JSON object (see the help text) that
 * scripts such as bench/compare.py parse; everything before it is for
 * people. */
#include "tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: gan bench --model M [--batch B] [--threads T] [--steps S] [--warmup W] [--seed S]\n"
    "                 [--generate]\n"
    "\n"
    "Time gan_train_step (D on real, D on fake, G through frozen D) on random data\n"
    "uniform in [-1, 1]: W warm-up steps, then S timed steps.  With --generate a step\n"
    "is a batch of B samples instead, drawn as a program that embeds a generator\n"
    "draws them: fresh normal noise, then G alone in eval mode (no D, no trainer).\n"
    "Prints a table (ms/step median and minimum, images/s, the runtime and a memory\n"
    "breakdown) and, as its last line, one JSON object:\n"
    "  {\"model\":..,\"batch\":..,\"threads\":..,\"steps\":..,\"ms_per_step_median\":..,\n"
    "   \"ms_per_step_min\":..,\"images_per_s\":..,\"peak_rss_kb\":..,\"mode\":..}\n"
    "with mode \"train\" or \"generate\".\n"
    "\n"
    "options:\n"
    "  --model M     mlp28, dcgan28, dcgan64 or toy2d (required)\n"
    "  --batch B     batch size (default 64)\n"
    "  --threads T   threads for BLAS and libgan (default: all cores)\n"
    "  --steps S     timed steps (default 20)\n"
    "  --warmup W    untimed steps first (default 3)\n"
    "  --seed S      seed of the weights and the data (default 1)\n"
    "  --generate    time sampling from G instead of training steps\n"
    "  -h, --help    show this help\n";

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double mib(size_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

/* W + S training steps of a trainer over G and D on one batch of random
 * "real" data; ms[i] for the timed ones, mem after the warm-up. */
static gan_status time_train(gan_model *g, gan_model *d, int batch, int steps, int warmup,
                             uint64_t seed, double *ms, gan_memory_info *mem)
{
    gan_trainer *t = NULL;
    gan_tensor *real = NULL;
    gan_rng *rng = NULL;
    gan_trainer_config cfg;
    gan_trainer_config_default(&cfg);
    cfg.seed = seed;
    gan_status st = gan_trainer_create(&t, g, d, &cfg);
    if (st != GAN_OK) {
        gan_model_free(g);
        gan_model_free(d);
        tool_gan_error(st, "cannot create the trainer");
        return st;
    }
    int ndim;
    int64_t shape[GAN_MAX_DIMS + 1] = {batch};
    gan_model_input_shape(gan_trainer_discriminator(t), &ndim, shape + 1);
    st = gan_tensor_create(&real, ndim + 1, shape);
    if (st == GAN_OK) st = gan_rng_create(&rng, seed ^ 0x5eedda7aULL);
    if (st == GAN_OK) st = gan_rng_fill_uniform(rng, real, -1.0f, 1.0f);
    if (st != GAN_OK) tool_gan_error(st, "cannot prepare a batch of %d", batch);

    gan_step_stats s;
    for (int i = 0; st == GAN_OK && i < warmup + steps; i++) {
        if (i == warmup) st = gan_trainer_memory(t, mem);
        const double t0 = now_seconds();
        if (st == GAN_OK) st = gan_train_step(t, real, &s);
        if (i >= warmup) ms[i - warmup] = 1000.0 * (now_seconds() - t0);
    }
    if (st != GAN_OK && st != GAN_E_NOMEM) tool_gan_error(st, "train step failed");
    gan_rng_free(rng);
    gan_tensor_free(real);
    gan_trainer_free(t);
    return st;
}

/* W + S batches from G alone in eval mode, each from fresh noise; ms[i] for
 * the timed ones, mem (G's) after the warm-up.  D is not needed. */
static gan_status time_generate(gan_model *g, int batch, int steps, int warmup, uint64_t seed,
                                double *ms, gan_memory_info *mem)
{
    gan_tensor *z = NULL;
    gan_rng *rng = NULL;
    int ndim;
    int64_t shape[GAN_MAX_DIMS + 1] = {batch};
    gan_status st = gan_model_input_shape(g, &ndim, shape + 1);
    if (st == GAN_OK) st = gan_tensor_create(&z, ndim + 1, shape);
    if (st == GAN_OK) st = gan_rng_create(&rng, seed ^ 0x5eedda7aULL);
    if (st == GAN_OK) st = gan_model_set_training(g, 0);
    if (st != GAN_OK) tool_gan_error(st, "cannot prepare a batch of %d", batch);

    for (int i = 0; st == GAN_OK && i < warmup + steps; i++) {
        if (i == warmup) st = gan_model_memory(g, mem);
        const double t0 = now_seconds();
        const gan_tensor *y;
        if (st == GAN_OK) st = gan_rng_fill_normal(rng, z, 0.0f, 1.0f);
        if (st == GAN_OK) st = gan_model_forward(g, z, &y);
        if (i >= warmup) ms[i - warmup] = 1000.0 * (now_seconds() - t0);
    }
    if (st != GAN_OK && st != GAN_E_NOMEM) tool_gan_error(st, "generating failed");
    gan_rng_free(rng);
    gan_tensor_free(z);
    gan_model_free(g);
    return st;
}

int cmd_bench(int argc, char **argv)
{
    const char *model = NULL;
    int batch = 64, threads = 0, steps = 20, warmup = 3;
    uint64_t seed = 1;
    bool generate = false;
    cli_opt opts[] = {
        {"model", 0, OPT_CHOICE, &model, model_names, 0, 0, false},
        {"batch", 0, OPT_INT, &batch, NULL, 1, 1 << 20, false},
        {"threads", 0, OPT_INT, &threads, NULL, 1, 1024, false},
        {"steps", 0, OPT_INT, &steps, NULL, 1, 1000000, false},
        {"warmup", 0, OPT_INT, &warmup, NULL, 0, 1000000, false},
        {"seed", 0, OPT_U64, &seed, NULL, 0, 0, false},
        {"generate", 0, OPT_FLAG, &generate, NULL, 0, 0, false},
        {0},
    };
    int npos, rc = cli_parse(argc, argv, opts, NULL, 0, &npos, help);
    if (rc >= 0) return rc;
    if (model == NULL) {
        tool_error("--model is required (mlp28, dcgan28, dcgan64 or toy2d; see 'gan bench --help')");
        return EXIT_USAGE;
    }
    if (threads > 0 && gan_set_num_threads(threads) != GAN_OK) {
        tool_gan_error(GAN_E_INVALID, "--threads %d", threads);
        return EXIT_USAGE;
    }
    threads = gan_get_num_threads();

    gan_model *g = NULL, *d = NULL;
    double *ms = calloc((size_t)steps, sizeof *ms);
    gan_status st = ms ? gan_preset_create(model, seed, &g, &d) : GAN_E_NOMEM;
    if (st != GAN_OK) {
        tool_gan_error(st, "cannot build %s", model);
        free(ms);
        return 1;
    }
    const int64_t gp = gan_model_param_count(g), dp = gan_model_param_count(d);
    gan_memory_info mem = {.struct_size = sizeof mem};
    if (generate) {
        gan_model_free(d); /* the generator alone, as an embedder runs it */
        st = time_generate(g, batch, steps, warmup, seed, ms, &mem);
    } else {
        st = time_train(g, d, batch, steps, warmup, seed, ms, &mem); /* the trainer owns G, D */
    }
    if (st == GAN_OK) {
        qsort(ms, (size_t)steps, sizeof *ms, cmp_double);
        double median = steps % 2 ? ms[steps / 2] : 0.5 * (ms[steps / 2 - 1] + ms[steps / 2]);
        double fastest = ms[0], ips = 1000.0 * batch / median;
        long peak = peak_rss_kb();
        printf("gan bench: %s, batch %d, %d thread%s, %d %s after %d warm-up\n", model, batch,
               threads, threads == 1 ? "" : "s", steps,
               generate ? "batches from G (eval mode)" : "steps", warmup);
        printf("  runtime              %s\n", gan_runtime_info());
        printf("  ms/step              median %.2f   min %.2f\n", median, fastest);
        printf("  images/s             %.1f\n", ips);
        if (generate)
            printf("  memory (MiB)         parameters %.2f (G %lld floats)   gradients %.2f\n",
                   mib(mem.parameters), (long long)gp, mib(mem.gradients));
        else
            printf("  memory (MiB)         parameters %.2f (G %lld + D %lld floats)   gradients %.2f\n",
                   mib(mem.parameters), (long long)gp, (long long)dp, mib(mem.gradients));
        printf("                       optimizer state %.2f   buffers %.2f   activations %.2f\n",
               mib(mem.optimizer), mib(mem.buffers), mib(mem.activations));
        printf("                       scratch %.2f   other %.2f   libgan total %.2f\n",
               mib(mem.scratch), mib(mem.other), mib(mem.total));
        printf("                       peak RSS %.1f (also BLAS buffers, thread stacks, code)\n",
               peak / 1024.0);
        printf("{\"model\":\"%s\",\"batch\":%d,\"threads\":%d,\"steps\":%d,"
               "\"ms_per_step_median\":%.3f,\"ms_per_step_min\":%.3f,\"images_per_s\":%.1f,"
               "\"peak_rss_kb\":%ld,\"mode\":\"%s\"}\n",
               model, batch, threads, steps, median, fastest, ips, peak,
               generate ? "generate" : "train");
    }
    free(ms);
    return st == GAN_OK ? 0 : 1;
}
