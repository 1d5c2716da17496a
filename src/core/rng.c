/* rng.c — xoshiro256** (Blackman & Vigna), seeded through splitmix64.
 * Integer and uniform streams are identical on every platform; normal
 * variates use Box-Muller on two uniforms. */
#include "internal.h"

#include <math.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

gan_status gan_rng_seed(gan_rng *rng, uint64_t seed)
{
    GAN_CHECK_NULL(rng, "gan_rng_seed");
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
    rng->has_spare = false;
    rng->spare = 0.0f;
    return GAN_OK;
}

gan_status gan_rng_create(gan_rng **out, uint64_t seed)
{
    GAN_CHECK_NULL(out, "gan_rng_create");
    *out = NULL;
    gan_rng *rng = gan_alloc(sizeof *rng);
    if (rng == NULL) return GAN_E_NOMEM;
    gan_rng_seed(rng, seed);
    *out = rng;
    return GAN_OK;
}

void gan_rng_free(gan_rng *rng)
{
    gan_dealloc(rng);
}

uint64_t gan_rng_next_u64(gan_rng *rng)
{
    if (rng == NULL) return 0;
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float gan_rng_uniform(gan_rng *rng)
{
    /* top 24 bits -> [0, 1) exactly representable in float */
    return (float)(gan_rng_next_u64(rng) >> 40) * (1.0f / 16777216.0f);
}

float gan_rng_normal(gan_rng *rng)
{
    if (rng->has_spare) {
        rng->has_spare = false;
        return rng->spare;
    }
    /* u1 in (0, 1] so log(u1) is finite; 53-bit doubles for accuracy */
    double u1 = ((double)(gan_rng_next_u64(rng) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(gan_rng_next_u64(rng) >> 11) * (1.0 / 9007199254740992.0);
    double r = sqrt(-2.0 * log(u1));
    double a = 6.283185307179586 * u2;
    rng->spare = (float)(r * sin(a));
    rng->has_spare = true;
    return (float)(r * cos(a));
}

void gan_fill_normal(float *p, int64_t n, float mean, float std, gan_rng *rng)
{
    for (int64_t i = 0; i < n; i++) p[i] = mean + std * gan_rng_normal(rng);
}

void gan_fill_uniform(float *p, int64_t n, float lo, float hi, gan_rng *rng)
{
    for (int64_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * gan_rng_uniform(rng);
}

gan_status gan_rng_fill_normal(gan_rng *rng, gan_tensor *t, float mean, float std)
{
    GAN_CHECK_NULL(rng, "gan_rng_fill_normal");
    GAN_CHECK_NULL(t, "gan_rng_fill_normal");
    if (!(std >= 0.0f) || !isfinite(mean) || !isfinite(std))
        return gan_fail(GAN_E_INVALID, "gan_rng_fill_normal: mean %g, std %g (need finite, std >= 0)",
                        mean, std);
    gan_fill_normal(t->data, t->numel, mean, std, rng);
    return GAN_OK;
}

gan_status gan_rng_fill_uniform(gan_rng *rng, gan_tensor *t, float lo, float hi)
{
    GAN_CHECK_NULL(rng, "gan_rng_fill_uniform");
    GAN_CHECK_NULL(t, "gan_rng_fill_uniform");
    if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi))
        return gan_fail(GAN_E_INVALID, "gan_rng_fill_uniform: range [%g, %g) is invalid", lo, hi);
    gan_fill_uniform(t->data, t->numel, lo, hi, rng);
    return GAN_OK;
}

gan_status gan_rng_get_state(const gan_rng *rng, uint64_t state[GAN_RNG_STATE_WORDS])
{
    GAN_CHECK_NULL(rng, "gan_rng_get_state");
    GAN_CHECK_NULL(state, "gan_rng_get_state");
    for (int i = 0; i < 4; i++) state[i] = rng->s[i];
    uint32_t bits;
    memcpy(&bits, &rng->spare, sizeof bits);
    state[4] = rng->has_spare ? ((1ULL << 32) | bits) : 0;
    return GAN_OK;
}

gan_status gan_rng_set_state(gan_rng *rng, const uint64_t state[GAN_RNG_STATE_WORDS])
{
    GAN_CHECK_NULL(rng, "gan_rng_set_state");
    GAN_CHECK_NULL(state, "gan_rng_set_state");
    if ((state[0] | state[1] | state[2] | state[3]) == 0)
        return gan_fail(GAN_E_INVALID, "gan_rng_set_state: all-zero xoshiro state is invalid");
    if ((state[4] >> 33) != 0)
        return gan_fail(GAN_E_INVALID, "gan_rng_set_state: word 4 = %#llx is not a valid spare",
                        (unsigned long long)state[4]);
    for (int i = 0; i < 4; i++) rng->s[i] = state[i];
    rng->has_spare = (state[4] >> 32) != 0;
    uint32_t bits = (uint32_t)state[4];
    memcpy(&rng->spare, &bits, sizeof bits);
    return GAN_OK;
}
