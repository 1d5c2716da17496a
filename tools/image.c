/* image.c — pictures in and out of the gan command.
 *
 * Out: PNG grids of samples and toy2d scatter plots (libpng's simplified
 * png_image API), IDX u8 files.  In: folders of PNG/JPEG images decoded by
 * stb_image, centre-cropped and resized by stb_image_resize (Debian's
 * libstb), the way PyTorch's ImageFolder + CenterCrop + Resize prepare them.
 */
#include "tool.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stb_image.h>
#include <stb_image_resize.h>

unsigned char pixel_u8(float x)
{
    float v = roundf((x + 1.0f) * 127.5f);
    if (!(v >= 0.0f)) return 0; /* also NaN */
    if (v > 255.0f) return 255;
    return (unsigned char)v;
}

static int write_png(const char *path, const unsigned char *pixels, int width, int height,
                     int channels)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)width;
    img.height = (png_uint_32)height;
    img.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    if (!png_image_write_to_file(&img, path, 0, pixels, 0, NULL)) {
        tool_error("cannot write '%s': %s", path, img.message);
        png_image_free(&img);
        return 1;
    }
    return 0;
}

int write_png_grid(const char *path, const float *x, int64_t n, int c, int h, int w, int cols)
{
    const int pad = 2;
    if (cols <= 0) cols = (int)ceil(sqrt((double)n));
    if (cols > n) cols = (int)n;
    int rows = (int)((n + cols - 1) / cols);
    int gw = cols * (w + pad) + pad, gh = rows * (h + pad) + pad;
    unsigned char *grid = calloc((size_t)gw * (size_t)gh * (size_t)c, 1); /* (gh, gw, c) */
    if (grid == NULL) {
        tool_error("out of memory for a %dx%d grid", gw, gh);
        return 1;
    }
    for (int64_t k = 0; k < n; k++) {
        const float *img = x + k * (int64_t)c * h * w; /* (c, h, w) */
        int top = pad + (int)(k / cols) * (h + pad), left = pad + (int)(k % cols) * (w + pad);
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                    grid[((size_t)(top + i) * gw + (size_t)(left + j)) * c + ch] =
                        pixel_u8(img[((int64_t)ch * h + i) * w + j]);
    }
    int rc = write_png(path, grid, gw, gh, c);
    free(grid);
    return rc;
}

static void plot_dot(unsigned char *rgb, int size, int px, int py, int radius,
                     const unsigned char color[3])
{
    for (int dy = -radius; dy <= radius; dy++)
        for (int dx = -radius; dx <= radius; dx++) {
            int x = px + dx, y = py + dy;
            if (x < 0 || y < 0 || x >= size || y >= size || dx * dx + dy * dy > radius * radius)
                continue;
            memcpy(rgb + ((size_t)y * size + x) * 3, color, 3);
        }
}

int write_png_scatter(const char *path, const float *xy, int64_t n, int size, float span)
{
    unsigned char *rgb = malloc((size_t)size * size * 3); /* (size, size, 3) */
    if (rgb == NULL) {
        tool_error("out of memory for a %dx%d plot", size, size);
        return 1;
    }
    memset(rgb, 255, (size_t)size * size * 3);
    const unsigned char mode_color[3] = {255, 170, 170}, dot_color[3] = {20, 60, 160};
    float scale = (float)size / (2.0f * span);
    int mode_r = (int)ceilf(3.0f * TOY_STD * scale) + 2;
    for (int k = 0; k < TOY_MODES; k++) {
        double a = 2.0 * M_PI * k / TOY_MODES;
        plot_dot(rgb, size, (int)((TOY_RADIUS * cos(a) + span) * scale),
                 (int)((span - TOY_RADIUS * sin(a)) * scale), mode_r, mode_color);
    }
    for (int64_t i = 0; i < n; i++) {
        float x = xy[2 * i], y = xy[2 * i + 1];
        if (!isfinite(x) || !isfinite(y)) continue;
        plot_dot(rgb, size, (int)((x + span) * scale), (int)((span - y) * scale), 1, dot_color);
    }
    int rc = write_png(path, rgb, size, size, 3);
    free(rgb);
    return rc;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

int write_idx_u8(const char *path, const float *x, int64_t n, int c, int h, int w)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        tool_error("cannot create '%s': %s", path, strerror(errno));
        return 1;
    }
    unsigned char hdr[20] = {0, 0, 0x08, 0};
    uint32_t dims[4] = {(uint32_t)n, (uint32_t)c, (uint32_t)h, (uint32_t)w};
    int ndim = 0;
    for (int i = 0; i < 4; i++) {
        if (i == 1 && c == 1) continue; /* IDX3 (N, H, W) for grey images */
        put_be32(hdr + 4 + 4 * ndim++, dims[i]);
    }
    hdr[3] = (unsigned char)ndim;
    int ok = fwrite(hdr, 1, 4 + 4 * (size_t)ndim, f) == 4 + 4 * (size_t)ndim;
    unsigned char row[4096];
    int64_t total = n * c * h * w;
    for (int64_t done = 0; ok && done < total;) {
        size_t m = total - done < (int64_t)sizeof row ? (size_t)(total - done) : sizeof row;
        for (size_t i = 0; i < m; i++) row[i] = pixel_u8(x[done + (int64_t)i]);
        ok = fwrite(row, 1, m, f) == m;
        done += (int64_t)m;
    }
    if (fclose(f) != 0) ok = 0;
    if (!ok) {
        tool_error("cannot write '%s': %s", path, strerror(errno));
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ image folder */
typedef struct name_list {
    char **names;
    size_t n, cap;
} name_list;

static int list_add(name_list *l, const char *path)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        char **p = realloc(l->names, cap * sizeof *p);
        if (p == NULL) return 1;
        l->names = p;
        l->cap = cap;
    }
    l->names[l->n] = strdup(path);
    return l->names[l->n++] == NULL;
}

static void list_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
}

static bool is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
                   strcasecmp(dot, ".jpeg") == 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Image files of dir and, when depth > 0, of its subfolders. */
static int scan(name_list *l, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        tool_error("cannot read folder '%s': %s", dir, strerror(errno));
        return 1;
    }
    struct dirent *e;
    int rc = 0;
    char path[4096];
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        path_join(path, sizeof path, dir, e->d_name);
        if (is_image_name(e->d_name) && is_file(path))
            rc = list_add(l, path);
        else if (depth > 0 && is_dir(path))
            rc = scan(l, path, depth - 1);
    }
    closedir(d);
    return rc;
}

/* Centre-crop the (ih, iw, c) pixels to a square and resize into (h, w, c). */
int crop_resize(unsigned char *dst, const unsigned char *src, int iw, int ih, int c,
                       int h, int w)
{
    int side = iw < ih ? iw : ih;
    const unsigned char *origin = src + ((size_t)((ih - side) / 2) * iw + (iw - side) / 2) * c;
    return stbir_resize_uint8(origin, side, side, iw * c, dst, w, h, 0, c) ? 0 : 1;
}

/* (h, w, c) bytes -> (c, h, w) floats in [-1, 1] */
void to_chw(float *dst, const unsigned char *src, int c, int h, int w)
{
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < h * w; i++) dst[(int64_t)ch * h * w + i] = src[i * c + ch] / 127.5f - 1.0f;
}

int load_image_folder(gan_tensor **out, const char *dir, int c, int h, int w)
{
    *out = NULL;
    name_list files = {0};
    if (scan(&files, dir, 1) != 0) {
        list_free(&files);
        return 1;
    }
    if (files.n == 0) {
        tool_error("no PNG or JPEG images in '%s' or its subfolders", dir);
        list_free(&files);
        return 1;
    }
    qsort(files.names, files.n, sizeof *files.names, cmp_str);
    int64_t shape[4] = {(int64_t)files.n, c, h, w};
    gan_tensor *x = NULL;
    gan_status st = gan_tensor_create(&x, 4, shape);
    unsigned char *small = malloc((size_t)h * w * c); /* (h, w, c) */
    if (st != GAN_OK || small == NULL) {
        tool_gan_error(GAN_E_NOMEM, "cannot hold %zu images of %dx%dx%d", files.n, c, h, w);
        gan_tensor_free(x);
        free(small);
        list_free(&files);
        return 1;
    }
    int64_t loaded = 0, skipped = 0;
    for (size_t i = 0; i < files.n; i++) {
        int iw, ih, ic;
        unsigned char *px = NULL;
        const char *why = NULL;
        if (!stbi_info(files.names[i], &iw, &ih, &ic))
            why = stbi_failure_reason();
        else if ((int64_t)iw * ih > ((int64_t)1 << 26))
            why = "image larger than 64 megapixels";
        else if ((px = stbi_load(files.names[i], &iw, &ih, &ic, c)) == NULL)
            why = stbi_failure_reason();
        else if (crop_resize(small, px, iw, ih, c, h, w) != 0)
            why = "resize failed";
        if (why == NULL)
            to_chw(gan_tensor_data(x) + loaded++ * (int64_t)c * h * w, small, c, h, w);
        else if (skipped++ < 5)
            fprintf(stderr, "gan %s: skipping '%s': %s\n", tool_cmd, files.names[i], why);
        stbi_image_free(px);
    }
    free(small);
    list_free(&files);
    if (skipped > 5) fprintf(stderr, "gan %s: skipped %lld more images\n", tool_cmd, (long long)skipped - 5);
    if (loaded == 0) {
        tool_error("none of the images in '%s' could be read", dir);
        gan_tensor_free(x);
        return 1;
    }
    if (loaded < shape[0]) { /* keep only the rows that were filled */
        gan_tensor *y = NULL;
        shape[0] = loaded;
        if (gan_tensor_create(&y, 4, shape) != GAN_OK) {
            tool_gan_error(GAN_E_NOMEM, "cannot hold the images");
            gan_tensor_free(x);
            return 1;
        }
        memcpy(gan_tensor_data(y), gan_tensor_data(x), (size_t)gan_tensor_numel(y) * sizeof(float));
        gan_tensor_free(x);
        x = y;
    }
    *out = x;
    return 0;
}

int converter_init(image_converter *cv, int c0, int h0, int w0, int c, int h, int w)
{
    *cv = (image_converter){c0, h0, w0, c, h, w, NULL, NULL};
    if (c0 != c && c0 != 1 && c0 != 3) {
        tool_error("images with %d channels cannot become %d-channel images (grey or RGB only)",
                   c0, c);
        return 1;
    }
    cv->src = malloc((size_t)h0 * w0 * c);
    cv->dst = malloc((size_t)h * w * c);
    if (cv->src == NULL || cv->dst == NULL) {
        tool_error("out of memory converting %dx%d images", h0, w0);
        converter_free(cv);
        return 1;
    }
    return 0;
}

void converter_free(image_converter *cv)
{
    free(cv->src);
    free(cv->dst);
    cv->src = cv->dst = NULL;
}

void to_hwc_u8(unsigned char *dst, const float *img, int c0, int c, int h0, int w0)
{
    for (int i = 0; i < h0 * w0; i++) {
        if (c0 == c) {
            for (int ch = 0; ch < c; ch++) dst[i * c + ch] = pixel_u8(img[ch * h0 * w0 + i]);
        } else if (c0 == 1) { /* grey -> RGB */
            for (int ch = 0; ch < c; ch++) dst[i * c + ch] = pixel_u8(img[i]);
        } else { /* RGB -> grey (ITU-R 601 luma) */
            float l = 0.299f * img[i] + 0.587f * img[h0 * w0 + i] + 0.114f * img[2 * h0 * w0 + i];
            dst[i] = pixel_u8(l);
        }
    }
}

void convert_images(image_converter *cv, float *y, const float *x, int64_t n)
{
    const int c0 = cv->c0, h0 = cv->h0, w0 = cv->w0, c = cv->c, h = cv->h, w = cv->w;
    for (int64_t k = 0; k < n; k++) {
        to_hwc_u8(cv->src, x + k * c0 * h0 * w0, c0, c, h0, w0);
        crop_resize(cv->dst, cv->src, w0, h0, c, h, w);
        to_chw(y + k * c * h * w, cv->dst, c, h, w);
    }
}

/* ------------------------------------------------------------------ toy2d */
void toy_ring_fill(float *xy, int64_t n, gan_rng *rng)
{
    for (int64_t i = 0; i < n; i++) {
        int k = (int)(gan_rng_next_u64(rng) % TOY_MODES);
        /* Box-Muller: two N(0, 1) from two uniforms, u1 in (0, 1] */
        double u1 = 1.0 - gan_rng_uniform(rng), u2 = gan_rng_uniform(rng);
        double r = sqrt(-2.0 * log(u1)), a = 2.0 * M_PI * k / TOY_MODES;
        xy[2 * i] = (float)(TOY_RADIUS * cos(a) + TOY_STD * r * cos(2.0 * M_PI * u2));
        xy[2 * i + 1] = (float)(TOY_RADIUS * sin(a) + TOY_STD * r * sin(2.0 * M_PI * u2));
    }
}

int toy_ring_coverage(const float *xy, int64_t n, double *quality)
{
    int64_t per_mode[TOY_MODES] = {0}, good = 0;
    for (int64_t i = 0; i < n; i++) {
        double best = INFINITY;
        int arg = 0;
        for (int k = 0; k < TOY_MODES; k++) {
            double a = 2.0 * M_PI * k / TOY_MODES;
            double dx = xy[2 * i] - TOY_RADIUS * cos(a), dy = xy[2 * i + 1] - TOY_RADIUS * sin(a);
            double d = dx * dx + dy * dy;
            if (d < best) best = d, arg = k;
        }
        if (best <= 9.0 * TOY_STD * TOY_STD) {
            good++;
            per_mode[arg]++;
        }
    }
    int covered = 0;
    for (int k = 0; k < TOY_MODES; k++)
        if (per_mode[k] > 0 && per_mode[k] * 100 >= n) covered++; /* >= 1 % of the samples */
    *quality = n > 0 ? (double)good / (double)n : 0.0;
    return covered;
}
