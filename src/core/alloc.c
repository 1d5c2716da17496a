/* alloc.c — every byte libgan allocates goes through the user's hook.
 *
 * Blocks are over-allocated and aligned to GAN_ALIGN; the pointer the hook
 * returned is stored just before the aligned block so gan_dealloc can give
 * it back. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static void *default_alloc(void *user, size_t size)
{
    (void)user;
    return malloc(size);
}

static void default_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

static gan_allocator allocator = {default_alloc, default_free, NULL};

gan_status gan_set_allocator(const gan_allocator *a)
{
    if (a == NULL) {
        allocator = (gan_allocator){default_alloc, default_free, NULL};
        return GAN_OK;
    }
    if (a->alloc_fn == NULL || a->free_fn == NULL)
        return gan_fail(GAN_E_INVALID, "gan_set_allocator: alloc_fn and free_fn must both be set");
    allocator = *a;
    return GAN_OK;
}

bool gan_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return false;
    *out = a * b;
    return true;
}

void *gan_alloc(size_t size)
{
    if (size > SIZE_MAX - GAN_ALIGN - sizeof(void *)) {
        gan_fail(GAN_E_NOMEM, "allocation of %zu bytes is too large", size);
        return NULL;
    }
    unsigned char *raw = allocator.alloc_fn(allocator.user, size + GAN_ALIGN + sizeof(void *));
    if (raw == NULL) {
        gan_fail(GAN_E_NOMEM, "out of memory allocating %zu bytes", size);
        return NULL;
    }
    uintptr_t p = (uintptr_t)(raw + sizeof(void *));
    p = (p + GAN_ALIGN - 1) & ~(uintptr_t)(GAN_ALIGN - 1);
    memcpy((void *)(p - sizeof(void *)), &raw, sizeof raw);
    return (void *)p;
}

void *gan_alloc_zero(size_t size)
{
    void *p = gan_alloc(size);
    if (p != NULL) memset(p, 0, size);
    return p;
}

void gan_dealloc(void *ptr)
{
    if (ptr == NULL) return;
    void *raw;
    memcpy(&raw, (unsigned char *)ptr - sizeof(void *), sizeof raw);
    allocator.free_fn(allocator.user, raw);
}

float *gan_alloc_floats(int64_t count)
{
    size_t bytes;
    if (count < 0 || !gan_mul_size((size_t)count, sizeof(float), &bytes)) {
        gan_fail(GAN_E_NOMEM, "cannot allocate %lld floats", (long long)count);
        return NULL;
    }
    return gan_alloc_zero(bytes == 0 ? 1 : bytes);
}

char *gan_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = gan_alloc(n);
    if (d != NULL) memcpy(d, s, n);
    return d;
}
