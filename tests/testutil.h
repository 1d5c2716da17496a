/* testutil.h — helpers shared by the Check test files.
 *
 * Reference vectors: tests/ref/<name>.bin files written by the generator
 * scripts in tests/ref/ (PyTorch), read here without any Python.  Format,
 * all little-endian:
 *   "GANREF1\n"                                  8-byte magic
 *   repeated:  u32 name_len, name bytes,
 *              u32 ndim, u32 dims[ndim],
 *              f32 data[prod(dims)]
 */
#ifndef GAN_TESTUTIL_H
#define GAN_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gan.h"

typedef struct tu_ref tu_ref;

/* Load tests/ref/<file> (file relative to tests/ref).  Fails the test on error. */
tu_ref *tu_ref_load(const char *file);
void tu_ref_free(tu_ref *r);
/* Borrowed tensor by name; fails the test if missing. */
gan_tensor *tu_ref_get(tu_ref *r, const char *name);
/* true if the set has a tensor of that name. */
bool tu_ref_has(tu_ref *r, const char *name);
/* Scalar (first element) of a named tensor. */
float tu_ref_scalar(tu_ref *r, const char *name);

/* Compare n floats: passes when |got - want| <= rtol * (|want| + floor) for
 * every element, floor = 1e-3 * max|want| (so values near zero are judged
 * against the tensor's scale).  On failure the message names `what`, the
 * worst index, both values and the max abs / rel difference. */
void tu_assert_close(const char *what, const float *got, const float *want, int64_t n,
                     double rtol);
void tu_assert_tensor_close(const char *what, const gan_tensor *got, const gan_tensor *want,
                            double rtol);

/* New tensor of the given shape (fails the test on error). */
gan_tensor *tu_tensor(int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3);

/* Assert a call returns the exact status, printing gan_last_error() if not. */
#define TU_STATUS(expected, call)                                                        \
    do {                                                                                 \
        gan_status tu_s_ = (call);                                                       \
        ck_assert_msg(tu_s_ == (expected), "%s returned %s, expected %s (%s)", #call,    \
                      gan_status_string(tu_s_), gan_status_string(expected),             \
                      gan_last_error());                                                 \
    } while (0)
#define TU_OK(call) TU_STATUS(GAN_OK, call)

/* Prototypes of every suite (collected by make into suites.inc). */
#define GAN_SUITE(name) Suite *name(void);
#include "suites.inc"
#undef GAN_SUITE

/* Full path of a file under tests/ (static buffer). */
const char *tu_path(const char *rel);

/* The whole file at `path` in a new buffer (free it) with a NUL after its
 * bytes, their count in *len unless len is NULL.  Fails the test if the
 * file cannot be read. */
void *tu_read_file(const char *path, size_t *len);

/* Run the program argv[0] with arguments argv (NULL-terminated) as a child
 * process, its stdout written to the file out_path and its stderr to
 * err_path.  Returns waitpid's status for it. */
int tu_run(char *const argv[], const char *out_path, const char *err_path);

#endif
