/* tool.h — shared pieces of the `gan` command: option parsing, messages,
 * image and file output, training data sources.
 *
 * Exit codes: 0 success, 1 a runtime failure (missing or corrupt file, a
 * libgan error), 2 a usage error (unknown flag, bad value).  Every error is
 * one line on stderr starting with "gan <command>: ".
 */
#ifndef GAN_TOOL_H
#define GAN_TOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "gan.h"

#define EXIT_USAGE 2

/* ------------------------------------------------------------- messages */
/* The running subcommand ("train"), for message prefixes. */
extern const char *tool_cmd;

/* "gan <cmd>: <message>" on stderr. */
void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* tool_error with libgan's last error appended: "...: <gan_last_error()>". */
void tool_gan_error(gan_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* -------------------------------------------------------------- options */
typedef enum opt_kind {
    OPT_FLAG,   /* bool, no value                         */
    OPT_INT,    /* int in [min, max]                      */
    OPT_U64,    /* uint64_t (seeds)                       */
    OPT_FLOAT,  /* float, > 0 when min > 0                */
    OPT_STRING, /* const char *                           */
    OPT_CHOICE  /* const char * out of choices[]          */
} opt_kind;

typedef struct cli_opt {
    const char *name;           /* "batch" for --batch                */
    char short_name;            /* 'n' for -n, or 0                   */
    opt_kind kind;
    void *dest;
    const char *const *choices; /* OPT_CHOICE: NULL-terminated        */
    long long min, max;         /* OPT_INT bounds; OPT_FLOAT: min > 0 means "positive" */
    bool seen;                  /* set by cli_parse                   */
} cli_opt;

/* Parse argv[1..] (argv[0] is the subcommand) against opts (terminated by
 * a zero entry).  Positional arguments go to pos (at most max_pos).
 * Returns -1 to go on, 0 after --help printed `help` (exit 0), or
 * EXIT_USAGE after a one-line error. */
int cli_parse(int argc, char **argv, cli_opt *opts, const char **pos, int max_pos, int *npos,
              const char *help);
/* Whether option `name` was given. */
bool cli_seen(const cli_opt *opts, const char *name);

/* ------------------------------------------------------------- commands */
/* The models gan_preset_create knows, NULL-terminated (an OPT_CHOICE list). */
extern const char *const model_names[];

int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* --------------------------------------------------------------- images */
/* Samples as 8-bit pixels: x in [-1, 1] -> round((x + 1) * 127.5), clamped. */
unsigned char pixel_u8(float x);
/* dst (H0, W0, C) bytes = img (C0, H0, W0) in [-1, 1], converting the
 * channels when C0 != C (grey -> RGB copies, RGB -> grey by ITU-R 601). */
void to_hwc_u8(unsigned char *dst, const float *img, int c0, int c, int h0, int w0);
/* Centre-crop (ih, iw, c) pixels to a square and resize into (h, w, c);
 * 0 on success. */
int crop_resize(unsigned char *dst, const unsigned char *src, int iw, int ih, int c, int h, int w);
/* (h, w, c) bytes -> (c, h, w) floats in [-1, 1] */
void to_chw(float *dst, const unsigned char *src, int c, int h, int w);

/* Write n images (n, c, h, w) floats in [-1, 1] as one PNG grid of `cols`
 * columns (0: near-square), 2-pixel gaps.  c is 1 (grey) or 3 (RGB).
 * Returns 0 or prints an error and returns 1. */
int write_png_grid(const char *path, const float *x, int64_t n, int c, int h, int w, int cols);
/* Scatter plot of n 2-D points (n, 2) as a PNG of size x size pixels
 * covering [-span, span]^2, with the 8 ring modes marked. */
int write_png_scatter(const char *path, const float *xy, int64_t n, int size, float span);
/* IDX3 u8 file of n images (n, h, w) (c must be 1) or IDX4 (n, c, h, w). */
int write_idx_u8(const char *path, const float *x, int64_t n, int c, int h, int w);

/* ----------------------------------------------------------------- data */
/* Images of the folder `dir` (and its immediate subfolders, as PyTorch's
 * ImageFolder lays them out): PNG/JPEG files decoded with stb_image,
 * centre-cropped to a square and resized to h x w with c channels (1 grey,
 * 3 RGB), scaled to [-1, 1].  *out is (N, c, h, w).  Returns 0, or 1 after
 * an error message. */
int load_image_folder(gan_tensor **out, const char *dir, int c, int h, int w);
/* Turns images (c0, h0, w0) into (c, h, w) the way image folders are
 * prepared: 8-bit pixels, centre crop to a square, stb_image_resize; grey
 * -> RGB by replication, RGB -> grey by luma.  Works one batch at a time
 * (gan train keeps the data set at its own size and converts each batch it
 * loads), in scratch sized once for one image. */
typedef struct image_converter {
    int c0, h0, w0;     /* input image  */
    int c, h, w;        /* output image */
    unsigned char *src; /* (h0, w0, c) scratch */
    unsigned char *dst; /* (h, w, c) scratch   */
} image_converter;
/* Returns 0, or 1 after a message (c0 other than c, 1 or 3; no memory). */
int converter_init(image_converter *cv, int c0, int h0, int w0, int c, int h, int w);
void converter_free(image_converter *cv);
/* y (n, c, h, w) = the n images of x (n, c0, h0, w0), converted. */
void convert_images(image_converter *cv, float *y, const float *x, int64_t n);

/* The toy2d target: a ring of 8 Gaussians of radius TOY_RADIUS and
 * standard deviation TOY_STD. */
#define TOY_RADIUS 2.0f
#define TOY_STD 0.02f
#define TOY_MODES 8
/* n points (n, 2) drawn from the ring with rng. */
void toy_ring_fill(float *xy, int64_t n, gan_rng *rng);
/* Mode coverage of n samples (n, 2): a sample is "high quality" within
 * 3 std of its nearest mode; a mode is covered when it holds at least
 * 1 % of the samples... Returns covered modes; *quality gets the share of
 * high-quality samples. */
int toy_ring_coverage(const float *xy, int64_t n, double *quality);

/* ---------------------------------------------------------------- misc */
/* Seconds on a monotonic clock. */
double now_seconds(void);
/* Peak resident set size in KiB (getrusage). */
long peak_rss_kb(void);
/* Join dir and name into buf ("dir/name"). Returns buf. */
const char *path_join(char *buf, size_t cap, const char *dir, const char *name);
/* Whether path exists as a regular file / a directory. */
bool is_file(const char *path);
bool is_dir(const char *path);

#endif /* GAN_TOOL_H */
