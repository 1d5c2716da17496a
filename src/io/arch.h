/* arch.h — private side of the architecture text (format documented in
 * include/gan.h, "Architecture text"). */
#ifndef GAN_IO_ARCH_H
#define GAN_IO_ARCH_H

#include "internal.h"

/* Limits of what a text may describe (any text that exceeds one is
 * rejected with GAN_E_FORMAT before anything is allocated). */
#define GAN_ARCH_MAX_TEXT (1 << 20)    /* bytes                              */
#define GAN_ARCH_MAX_LAYERS 4096
#define GAN_ARCH_MAX_SIZE (1 << 24)    /* features, channels, a dimension    */
#define GAN_ARCH_MAX_KERNEL 1024       /* kernel side, stride, padding       */
#define GAN_ARCH_MAX_SAMPLE (1 << 26)  /* floats of any per-sample activation */

/* Build a model from architecture text.  The model's parameters and buffers
 * together may take at most max_bytes bytes (4 per float, 8 per batchnorm
 * counter): a checkpoint passes the size of its data section, so a hostile
 * file cannot make us allocate more than it holds.  GAN_E_FORMAT with
 * "line N: ..." for any syntax or limit error; a layer constructor's or
 * gan_model_add's status (e.g. GAN_E_SHAPE) when the layers do not fit
 * together; GAN_E_NOMEM. */
gan_status gan_arch_build(gan_model **out, const char *text, size_t len, uint64_t max_bytes);

/* The text of a model (gan_alloc'ed, NUL-terminated) into *text. */
gan_status gan_arch_text(const gan_model *model, char **text);

#endif /* GAN_IO_ARCH_H */
