/* checkpoint.h — private entry points of checkpoint.c (for the fuzzers and
 * tests). */
#ifndef GAN_IO_CHECKPOINT_H
#define GAN_IO_CHECKPOINT_H

#include "internal.h"

/* gan_trainer_load from a file image in memory. */
gan_status gan_trainer_load_memory(gan_trainer **out, const void *data, size_t size);
/* gan_model_load_weights from a file image in memory. */
gan_status gan_model_load_weights_memory(gan_model *model, const void *data, size_t size);

#endif /* GAN_IO_CHECKPOINT_H */
