/* layer_times.c — where a model's forward and backward spend their time,
 * layer by layer (a developer's tool: it reads libgan's private structs).
 *
 *   make layer-times LAYER_TIMES_ARGS="dcgan28 64 2 20"
 *   bin/layer_times [preset] [batch] [threads] [reps]     (dcgan28 64 1 20)
 *
 * For G and D of the preset it runs each layer's forward, then its backward
 * with weight gradients and an input gradient (none for layer 0, as in the
 * trainer's D step), `reps` times each, and prints the minimum and median
 * wall-clock ms per call.  Activation values are whatever the previous call
 * left: only time is measured. */
#define _POSIX_C_SOURCE 200809L
#include "nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* min and median of t (n), sorted in place */
static void stats(double *t, int n, double *mn, double *med)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    *mn = t[0];
    *med = t[n / 2];
}

static void profile(gan_model *m, const char *name, int64_t batch, int reps, double *total)
{
    gan_shape xs = gan_batch_shape(batch, &m->in);
    gan_tensor *x = NULL;
    gan_tensor_create(&x, xs.ndim, xs.d);
    gan_tensor_fill(x, 0.5f);
    const gan_tensor *y = NULL;
    gan_model_forward(m, x, &y); /* plans buffers, reserves scratch */
    if (gan_model_ensure_grads(m, "layer_times") != GAN_OK) { /* allocated lazily */
        fprintf(stderr, "layer_times: %s\n", gan_last_error());
        exit(1);
    }
    double *t = malloc((size_t)reps * sizeof *t);
    for (int i = 0; i < m->nlayers; i++) {
        gan_layer *l = m->layers[i];
        const float *in = i > 0 ? m->act[i - 1] : x->data;
        char desc[160];
        l->ops->describe(l, desc, sizeof desc);
        double fmin, fmed, bmin, bmed;
        for (int r = 0; r < reps; r++) {
            double t0 = now_ms();
            l->ops->forward(l, m->act[i], in, batch);
            t[r] = now_ms() - t0;
        }
        stats(t, reps, &fmin, &fmed);
        float *gx = i > 0 ? m->gbuf[1] : NULL;
        for (int r = 0; r < reps; r++) {
            double t0 = now_ms();
            l->ops->backward(l, gx, m->gbuf[0], in, m->act[i], batch, true);
            t[r] = now_ms() - t0;
        }
        stats(t, reps, &bmin, &bmed);
        printf("%s %2d  fwd %8.2f %8.2f   bwd %8.2f %8.2f   %s\n", name, i, fmin, fmed, bmin,
               bmed, desc);
        total[0] += fmin;
        total[1] += bmin;
    }
    free(t);
    gan_tensor_free(x);
}

int main(int argc, char **argv)
{
    const char *preset = argc > 1 ? argv[1] : "dcgan28";
    int64_t batch = argc > 2 ? atoll(argv[2]) : 64;
    int threads = argc > 3 ? atoi(argv[3]) : 1;
    int reps = argc > 4 ? atoi(argv[4]) : 20;
    gan_set_num_threads(threads);
    gan_model *g = NULL, *d = NULL;
    if (gan_preset_create(preset, 1, &g, &d) != GAN_OK) {
        fprintf(stderr, "layer_times: %s\n", gan_last_error());
        return 1;
    }
    printf("%s batch %lld, %d threads, %d reps; ms per call: min median\n", preset,
           (long long)batch, threads, reps);
    double total[2] = {0, 0};
    profile(g, "G", batch, reps, total);
    profile(d, "D", batch, reps, total);
    printf("sum of minima: forward %.2f  backward %.2f ms\n", total[0], total[1]);
    gan_model_free(g);
    gan_model_free(d);
    return 0;
}
