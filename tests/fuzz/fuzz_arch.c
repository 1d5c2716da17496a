/* fuzz_arch.c — libFuzzer target for the architecture text parser.
 *
 * Any input must either be refused with a status or build a model whose
 * canonical text (gan_model_arch_text) builds the same model again, with
 * the same canonical text.  Built and run by `make fuzz` (mk/io.mk). */
#include "internal.h"
#include "io/arch.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gan_model *m = NULL;
    /* a 4 MiB parameter budget, like a checkpoint of that size */
    if (gan_arch_build(&m, (const char *)data, size, (uint64_t)4 << 20) != GAN_OK) {
        if (m != NULL) abort();
        return 0;
    }
    char *a = NULL, *b = NULL;
    if (gan_arch_text(m, &a) != GAN_OK) abort();
    gan_model *again = NULL;
    if (gan_arch_build(&again, a, strlen(a), (uint64_t)4 << 20) != GAN_OK) abort();
    if (gan_arch_text(again, &b) != GAN_OK) abort();
    if (strcmp(a, b) != 0) abort();
    if (gan_model_param_count(m) != gan_model_param_count(again)) abort();
    gan_dealloc(a);
    gan_dealloc(b);
    gan_model_free(again);
    gan_model_free(m);
    return 0;
}
