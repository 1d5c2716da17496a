/* version.c — the runtime version of the library. */
#include "internal.h"

#define GAN_STR_(x) #x
#define GAN_STR(x) GAN_STR_(x)

unsigned gan_version_number(void)
{
    return GAN_VERSION_NUMBER;
}

const char *gan_version_string(void)
{
    return GAN_STR(GAN_VERSION_MAJOR) "." GAN_STR(GAN_VERSION_MINOR) "." GAN_STR(GAN_VERSION_PATCH);
}
