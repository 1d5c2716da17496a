/* reliability-analyzer.h — forced into every file `make lint` hands to
 * clang-tidy (-include), never into a build.
 *
 * gan_fail() records a message and returns its first argument; it lives in
 * src/core/status.c, which the analyzer does not see while checking another
 * file.  Without this, every `return gan_fail(GAN_E_..., ...)` looks to it
 * like a call that may return GAN_OK, and each GAN_TRY() after such a path
 * becomes a false "uninitialized value" or "null dereference" report.
 * (status.c itself is checked without this header.) */
#include "internal.h"

#define gan_fail(status, ...) ((void)(gan_fail)(status, __VA_ARGS__), (status))
