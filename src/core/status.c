/* status.c — status names and the thread-local "last error" message. */
#include "internal.h"

#include <stdio.h>

static _Thread_local char last_error[512];

const char *gan_status_string(gan_status status)
{
    switch (status) {
    case GAN_OK: return "GAN_OK";
    case GAN_E_NULL: return "GAN_E_NULL";
    case GAN_E_INVALID: return "GAN_E_INVALID";
    case GAN_E_SHAPE: return "GAN_E_SHAPE";
    case GAN_E_NOMEM: return "GAN_E_NOMEM";
    case GAN_E_OVERFLOW: return "GAN_E_OVERFLOW";
    case GAN_E_STATE: return "GAN_E_STATE";
    case GAN_E_IO: return "GAN_E_IO";
    case GAN_E_FORMAT: return "GAN_E_FORMAT";
    case GAN_E_NUMERIC: return "GAN_E_NUMERIC";
    case GAN_E_UNSUPPORTED: return "GAN_E_UNSUPPORTED";
    }
    return "GAN_E_UNKNOWN";
}

const char *gan_last_error(void)
{
    return last_error;
}

gan_status gan_fail(gan_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}
