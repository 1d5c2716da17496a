/* test_core.c — version, status, errors, allocator, threads, tensors, RNG,
 * and the exported symbols of the shared library. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(version_matches_header)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", GAN_VERSION_MAJOR, GAN_VERSION_MINOR, GAN_VERSION_PATCH);
    ck_assert_str_eq(gan_version_string(), want);
    ck_assert_uint_eq(gan_version_number(), GAN_VERSION_NUMBER);
    ck_assert_uint_eq(gan_version_number(),
                      GAN_VERSION_MAJOR * 10000u + GAN_VERSION_MINOR * 100u + GAN_VERSION_PATCH);
}
END_TEST

START_TEST(status_strings)
{
    ck_assert_int_eq(GAN_OK, 0);
    ck_assert_str_eq(gan_status_string(GAN_OK), "GAN_OK");
    ck_assert_str_eq(gan_status_string(GAN_E_SHAPE), "GAN_E_SHAPE");
    ck_assert_str_eq(gan_status_string(GAN_E_NUMERIC), "GAN_E_NUMERIC");
    ck_assert_str_eq(gan_status_string(GAN_E_UNSUPPORTED), "GAN_E_UNSUPPORTED");
    ck_assert_str_eq(gan_status_string((gan_status)999), "GAN_E_UNKNOWN");
    /* values are part of the ABI */
    ck_assert_int_eq(GAN_E_NULL, 1);
    ck_assert_int_eq(GAN_E_NOMEM, 4);
    ck_assert_int_eq(GAN_E_FORMAT, 8);
}
END_TEST

START_TEST(error_message_names_values)
{
    gan_tensor *t = NULL;
    int64_t shape[2] = {3, -2};
    TU_STATUS(GAN_E_INVALID, gan_tensor_create(&t, 2, shape));
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(gan_last_error(), "-2") != NULL, "message: %s", gan_last_error());
    ck_assert_msg(strstr(gan_last_error(), "axis 1") != NULL, "message: %s", gan_last_error());
}
END_TEST

START_TEST(tensor_create_and_query)
{
    gan_tensor *t = tu_tensor(4, 2, 3, 4, 5);
    ck_assert_int_eq(gan_tensor_ndim(t), 4);
    ck_assert_int_eq(gan_tensor_dim(t, 0), 2);
    ck_assert_int_eq(gan_tensor_dim(t, 3), 5);
    ck_assert_int_eq(gan_tensor_dim(t, 4), 0);
    ck_assert_int_eq(gan_tensor_dim(t, -1), 0);
    ck_assert_int_eq(gan_tensor_numel(t), 120);
    const float *d = gan_tensor_cdata(t);
    for (int i = 0; i < 120; i++) ck_assert_float_eq(d[i], 0.0f);
    ck_assert_uint_eq(((uintptr_t)d) % 64, 0);
    TU_OK(gan_tensor_fill(t, 2.5f));
    ck_assert_float_eq(d[119], 2.5f);
    int64_t s2[2] = {6, 20};
    TU_OK(gan_tensor_reshape(t, 2, s2));
    ck_assert_int_eq(gan_tensor_ndim(t), 2);
    ck_assert_int_eq(gan_tensor_dim(t, 1), 20);
    int64_t bad[2] = {7, 20};
    TU_STATUS(GAN_E_SHAPE, gan_tensor_reshape(t, 2, bad));
    ck_assert_int_eq(gan_tensor_dim(t, 0), 6); /* unchanged */
    gan_tensor_free(t);
}
END_TEST

START_TEST(tensor_bad_shapes)
{
    gan_tensor *t = (gan_tensor *)1;
    int64_t ok[4] = {1, 2, 3, 4}, zero[2] = {4, 0}, huge[4] = {INT64_MAX / 2, 4, 4, 4};
    TU_STATUS(GAN_E_NULL, gan_tensor_create(NULL, 1, ok));
    TU_STATUS(GAN_E_NULL, gan_tensor_create(&t, 1, NULL));
    ck_assert_ptr_null(t);
    TU_STATUS(GAN_E_INVALID, gan_tensor_create(&t, 0, ok));
    TU_STATUS(GAN_E_INVALID, gan_tensor_create(&t, 5, ok));
    TU_STATUS(GAN_E_INVALID, gan_tensor_create(&t, 2, zero));
    TU_STATUS(GAN_E_OVERFLOW, gan_tensor_create(&t, 4, huge));
    int64_t big2[2] = {INT64_MAX, 2};
    TU_STATUS(GAN_E_OVERFLOW, gan_tensor_create(&t, 2, big2));
    ck_assert_ptr_null(t);
    TU_STATUS(GAN_E_NULL, gan_tensor_fill(NULL, 1.0f));
    TU_STATUS(GAN_E_NULL, gan_tensor_copy(NULL, NULL));
    TU_STATUS(GAN_E_NULL, gan_tensor_reshape(NULL, 1, ok));
    ck_assert_int_eq(gan_tensor_ndim(NULL), 0);
    ck_assert_int_eq(gan_tensor_numel(NULL), 0);
    ck_assert_ptr_null(gan_tensor_data(NULL));
    gan_tensor_free(NULL);
}
END_TEST

START_TEST(tensor_wrap_and_copy)
{
    float buf[6] = {1, 2, 3, 4, 5, 6};
    int64_t s[2] = {2, 3};
    gan_tensor *w = NULL;
    TU_STATUS(GAN_E_NULL, gan_tensor_wrap(&w, NULL, 2, s));
    TU_OK(gan_tensor_wrap(&w, buf, 2, s));
    ck_assert_ptr_eq(gan_tensor_data(w), buf);
    gan_tensor *c = tu_tensor(1, 6, 0, 0, 0);
    TU_OK(gan_tensor_copy(c, w));
    ck_assert_float_eq(gan_tensor_data(c)[5], 6.0f);
    gan_tensor *small = tu_tensor(1, 5, 0, 0, 0);
    TU_STATUS(GAN_E_SHAPE, gan_tensor_copy(small, w));
    ck_assert_msg(strstr(gan_last_error(), "6") && strstr(gan_last_error(), "5"), "%s",
                  gan_last_error());
    gan_tensor_free(w);   /* borrowed storage stays */
    ck_assert_float_eq(buf[0], 1.0f);
    gan_tensor_free(c);
    gan_tensor_free(small);
}
END_TEST

START_TEST(rng_known_values)
{
    /* xoshiro256** seeded with splitmix64(42): values computed independently */
    gan_rng *r = NULL;
    TU_OK(gan_rng_create(&r, 42));
    ck_assert_uint_eq(gan_rng_next_u64(r), 0x15780b2e0c2ec716ULL);
    ck_assert_uint_eq(gan_rng_next_u64(r), 0x6104d9866d113a7eULL);
    ck_assert_uint_eq(gan_rng_next_u64(r), 0xae17533239e499a1ULL);
    TU_OK(gan_rng_seed(r, 42));
    ck_assert_uint_eq(gan_rng_next_u64(r), 0x15780b2e0c2ec716ULL);
    gan_rng_free(r);
    gan_rng_free(NULL);
    ck_assert_uint_eq(gan_rng_next_u64(NULL), 0);
}
END_TEST

START_TEST(rng_distributions)
{
    gan_rng *r = NULL;
    TU_OK(gan_rng_create(&r, 7));
    gan_tensor *t = tu_tensor(1, 100000, 0, 0, 0);
    TU_OK(gan_rng_fill_normal(r, t, 1.0f, 2.0f));
    double sum = 0, sq = 0;
    const float *d = gan_tensor_cdata(t);
    for (int i = 0; i < 100000; i++) {
        sum += d[i];
        sq += (double)d[i] * d[i];
    }
    double mean = sum / 1e5, var = sq / 1e5 - mean * mean;
    ck_assert_msg(fabs(mean - 1.0) < 0.03, "mean %g", mean);
    ck_assert_msg(fabs(sqrt(var) - 2.0) < 0.03, "std %g", sqrt(var));
    TU_OK(gan_rng_fill_uniform(r, t, -1.0f, 1.0f));
    float lo = 1, hi = -1;
    for (int i = 0; i < 100000; i++) {
        if (d[i] < lo) lo = d[i];
        if (d[i] > hi) hi = d[i];
    }
    ck_assert(lo >= -1.0f && lo < -0.999f && hi < 1.0f && hi > 0.999f);
    TU_STATUS(GAN_E_INVALID, gan_rng_fill_uniform(r, t, 1.0f, -1.0f));
    TU_STATUS(GAN_E_INVALID, gan_rng_fill_normal(r, t, 0.0f, -1.0f));
    TU_STATUS(GAN_E_INVALID, gan_rng_fill_normal(r, t, NAN, 1.0f));
    TU_STATUS(GAN_E_NULL, gan_rng_fill_normal(NULL, t, 0.0f, 1.0f));
    gan_tensor_free(t);
    gan_rng_free(r);
}
END_TEST

START_TEST(rng_state_round_trip)
{
    gan_rng *a = NULL, *b = NULL;
    TU_OK(gan_rng_create(&a, 123));
    TU_OK(gan_rng_create(&b, 999));
    gan_tensor *t = tu_tensor(1, 3, 0, 0, 0), *u = tu_tensor(1, 5, 0, 0, 0);
    TU_OK(gan_rng_fill_normal(a, t, 0, 1)); /* odd count leaves a spare normal */
    uint64_t st[GAN_RNG_STATE_WORDS];
    TU_OK(gan_rng_get_state(a, st));
    TU_OK(gan_rng_set_state(b, st));
    gan_tensor *v = tu_tensor(1, 5, 0, 0, 0);
    TU_OK(gan_rng_fill_normal(a, u, 0, 1));
    TU_OK(gan_rng_fill_normal(b, v, 0, 1));
    ck_assert_mem_eq(gan_tensor_cdata(u), gan_tensor_cdata(v), 5 * sizeof(float));
    uint64_t zero[GAN_RNG_STATE_WORDS] = {0};
    TU_STATUS(GAN_E_INVALID, gan_rng_set_state(b, zero));
    gan_tensor_free(t);
    gan_tensor_free(u);
    gan_tensor_free(v);
    gan_rng_free(a);
    gan_rng_free(b);
}
END_TEST

static size_t hook_allocs, hook_frees;
static long hook_fail_at = -1; /* fail the k-th allocation (0-based), -1 never */

static void *count_alloc(void *user, size_t n)
{
    (void)user;
    if (hook_fail_at >= 0 && (long)hook_allocs == hook_fail_at) {
        hook_allocs++;
        return NULL;
    }
    hook_allocs++;
    return malloc(n);
}

static void count_free(void *user, void *p)
{
    (void)user;
    if (p) hook_frees++;
    free(p);
}

START_TEST(allocator_hook)
{
    gan_allocator a = {count_alloc, count_free, NULL};
    hook_allocs = hook_frees = 0;
    hook_fail_at = -1;
    TU_OK(gan_set_allocator(&a));
    gan_tensor *t = tu_tensor(2, 3, 3, 0, 0);
    gan_tensor_free(t);
    ck_assert_uint_eq(hook_allocs, 2);
    ck_assert_uint_eq(hook_frees, 2);
    /* the second allocation (the data) fails: NOMEM and nothing leaks */
    hook_allocs = hook_frees = 0;
    hook_fail_at = 1;
    int64_t s[1] = {10};
    t = (gan_tensor *)1;
    TU_STATUS(GAN_E_NOMEM, gan_tensor_create(&t, 1, s));
    ck_assert_ptr_null(t);
    ck_assert_uint_eq(hook_frees, 1);
    hook_fail_at = -1;
    gan_allocator bad = {NULL, count_free, NULL};
    TU_STATUS(GAN_E_INVALID, gan_set_allocator(&bad));
    TU_OK(gan_set_allocator(NULL));
}
END_TEST

START_TEST(threads_setting)
{
    ck_assert_int_ge(gan_get_num_threads(), 1);
    TU_OK(gan_set_num_threads(1));
    ck_assert_int_eq(gan_get_num_threads(), 1);
    TU_STATUS(GAN_E_INVALID, gan_set_num_threads(0));
    TU_STATUS(GAN_E_INVALID, gan_set_num_threads(-3));
    ck_assert_int_eq(gan_get_num_threads(), 1);
    TU_OK(gan_set_num_threads(2));
    ck_assert_msg(strstr(gan_runtime_info(), "threads 2") != NULL, "%s", gan_runtime_info());
    ck_assert_msg(strstr(gan_runtime_info(), "core ") != NULL, "%s", gan_runtime_info());
}
END_TEST

/* Only gan_/GAN_ symbols may leave libgan.so, and the soname is versioned. */
START_TEST(shared_library_exports)
{
    char cmd[8192], line[512];
    snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s'", GAN_TEST_SOLIB);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    int gan_syms = 0;
    while (fgets(line, sizeof line, p)) {
        char addr[64], type[8], name[400];
        if (sscanf(line, "%63s %7s %399s", addr, type, name) != 3) continue;
        ck_assert_msg(strncmp(name, "gan_", 4) == 0 || strncmp(name, "GAN_", 4) == 0,
                      "libgan.so exports non-gan symbol %s", name);
        gan_syms++;
    }
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_int_ge(gan_syms, 30);
    snprintf(cmd, sizeof cmd, "readelf -d '%s'", GAN_TEST_SOLIB);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char want[64];
    snprintf(want, sizeof want, "[libgan.so.%d]", GAN_VERSION_MAJOR);
    int found = 0;
    while (fgets(line, sizeof line, p))
        if (strstr(line, "SONAME") && strstr(line, want)) found = 1;
    pclose(p);
    ck_assert_msg(found, "SONAME %s not found", want);
}
END_TEST

Suite *suite_core(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, version_matches_header);
    tcase_add_test(tc, status_strings);
    tcase_add_test(tc, error_message_names_values);
    tcase_add_test(tc, tensor_create_and_query);
    tcase_add_test(tc, tensor_bad_shapes);
    tcase_add_test(tc, tensor_wrap_and_copy);
    tcase_add_test(tc, rng_known_values);
    tcase_add_test(tc, rng_distributions);
    tcase_add_test(tc, rng_state_round_trip);
    tcase_add_test(tc, allocator_hook);
    tcase_add_test(tc, threads_setting);
    tcase_add_test(tc, shared_library_exports);
    suite_add_tcase(s, tc);
    return s;
}
