/* simd.h — small helpers for the hot elementwise loops.
 *
 * gan_v4 is a 4-float vector in GCC/Clang's vector extension: it compiles
 * to SSE2 on any x86-64 (and to NEON etc. elsewhere) and needs no
 * -march flag.  Comparisons give gan_v4i lane masks (all ones or zero), so
 * a select is plain bit logic and a loop never branches on data.  (gcc -O2
 * will not if-convert `x > 0 ? x : s * x` by itself: s * x might trap.)
 *
 * GAN_HOT gives a function an AVX2 clone that the dynamic loader picks on
 * CPUs that have it (GCC function multiversioning, ELF ifunc); the clones
 * compute the same operations in the same order, so results do not depend
 * on the CPU.  It expands to nothing where that is unavailable.  Use it on
 * static functions only: GCC exports a cloned function with external
 * linkage from a shared library whatever its visibility.
 */
#ifndef GAN_SIMD_H
#define GAN_SIMD_H

#include <stdint.h>
#include <string.h>

typedef float gan_v4 __attribute__((vector_size(16)));
typedef int32_t gan_v4i __attribute__((vector_size(16)));

static inline gan_v4 gan_v4_load(const float *p)
{
    gan_v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void gan_v4_store(float *p, gan_v4 v)
{
    memcpy(p, &v, sizeof v);
}

static inline gan_v4 gan_v4_splat(float s)
{
    gan_v4 v = {s, s, s, s};
    return v;
}

/* mask ? a : b, lane by lane (mask lanes are all ones or all zeros) */
static inline gan_v4 gan_v4_select(gan_v4i mask, gan_v4 a, gan_v4 b)
{
    return (gan_v4)((mask & (gan_v4i)a) | (~mask & (gan_v4i)b));
}

/* (a, b) lanes i0..i3 of the concatenation a0 a1 a2 a3 b0 b1 b2 b3 */
#if defined(__clang__)
#define GAN_V4_SHUFFLE2(a, b, i0, i1, i2, i3) __builtin_shufflevector(a, b, i0, i1, i2, i3)
#else
#define GAN_V4_SHUFFLE2(a, b, i0, i1, i2, i3) __builtin_shuffle(a, b, (gan_v4i){i0, i1, i2, i3})
#endif

/* For helpers of GAN_HOT functions: inlined, they are compiled once per
 * clone, for that clone's instruction set. */
#define GAN_INLINE static inline __attribute__((always_inline))

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__) && \
    !defined(GAN_NO_CLONES)
#define GAN_HOT __attribute__((target_clones("avx2", "default")))
#else
#define GAN_HOT
#endif

#endif
