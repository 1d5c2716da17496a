/* test_arch.c — the architecture text keeps batchnorm's eps and momentum
 * (doubles) bit for bit: describe writes the shortest decimal that reads
 * back as the same double, the parser takes it back, and a saved model
 * loads with the same text.  (The grammar and its errors are tested in
 * test_checkpoint.c.) */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* input 4 / batchnorm features=4 with the given eps and momentum. */
static gan_model *bn_model(double eps, double momentum)
{
    gan_model *m = NULL;
    gan_layer *bn = NULL;
    int64_t in[1] = {4};
    TU_OK(gan_model_create(&m, 1, in));
    TU_OK(gan_layer_batchnorm(&bn, 4));
    TU_OK(gan_layer_set(bn, GAN_LAYER_BN_EPS, eps));
    TU_OK(gan_layer_set(bn, GAN_LAYER_BN_MOMENTUM, momentum));
    TU_OK(gan_model_add(m, bn));
    return m;
}

static void text_of(const gan_model *m, char *buf, size_t cap)
{
    TU_OK(gan_model_arch_text(m, buf, cap, NULL));
}

/* The value written after "key=" in text, and its digits in *digits. */
static double value_in(const char *text, const char *key, char digits[64])
{
    const char *at = strstr(text, key);
    ck_assert_msg(at != NULL, "no %s in: %s", key, text);
    at += strlen(key);
    size_t n = strcspn(at, " \n");
    ck_assert_uint_lt(n, 64);
    memcpy(digits, at, n);
    digits[n] = '\0';
    return strtod(digits, NULL);
}

static void assert_same_bits(double got, double want, const char *what, const char *text)
{
    ck_assert_msg(memcmp(&got, &want, sizeof got) == 0, "%s: wrote %.17g for %.17g: %s", what, got,
                  want, text);
}

/* Describe -> parse -> describe gives the same text, and the values in it
 * are the doubles set, exactly; fewer digits would not read back. */
static void check_round_trip(double eps, double momentum)
{
    gan_model *m = bn_model(eps, momentum), *back = NULL;
    char a[256], b[256], digits[64];
    text_of(m, a, sizeof a);
    TU_OK(gan_model_from_arch_text(&back, a));
    text_of(back, b, sizeof b);
    ck_assert_str_eq(a, b);
    const char *keys[2] = {"eps=", "momentum="};
    const double want[2] = {eps, momentum};
    for (int k = 0; k < 2; k++) {
        assert_same_bits(value_in(a, keys[k], digits), want[k], keys[k], a);
        /* shortest: one significant digit fewer does not read back */
        int sig = 0;
        const char *p = digits + strspn(digits, "-0.");
        for (; *p && *p != 'e'; p++) sig += *p >= '0' && *p <= '9';
        if (sig > 1) {
            char shorter[320]; /* %g of any double fits */
            snprintf(shorter, sizeof shorter, "%.*g", sig - 1, want[k]);
            ck_assert_msg(strtod(shorter, NULL) != want[k],
                          "%s%s is not the shortest (%s reads back)", keys[k], digits, shorter);
        }
    }
    gan_model_free(back);
    gan_model_free(m);
}

/* The defaults keep their text, so existing checkpoints and docs match. */
START_TEST(defaults_keep_their_text)
{
    gan_model *m = NULL;
    gan_layer *bn = NULL;
    int64_t in[3] = {2, 3, 3};
    TU_OK(gan_model_create(&m, 3, in));
    TU_OK(gan_layer_batchnorm(&bn, 2));
    TU_OK(gan_model_add(m, bn));
    char a[256];
    text_of(m, a, sizeof a);
    ck_assert_str_eq(a, "input 2 3 3\nbatchnorm features=2 eps=1e-05 momentum=0.1\n");
    gan_model_free(m);

    static const struct {
        double eps, momentum;
        const char *text;
    } cases[] = {
        {1e-3, 0.01, "eps=0.001 momentum=0.01"},
        {2e-5, 0.0, "eps=2e-05 momentum=0"},
        {0.5, 1.0, "eps=0.5 momentum=1"},
        {1.2345678901234567e-5, 0.1, "eps=1.2345678901234568e-05 momentum=0.1"},
        {1.0 / 3.0, 0.1 + 0.2, "eps=0.3333333333333333 momentum=0.30000000000000004"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        m = bn_model(cases[i].eps, cases[i].momentum);
        text_of(m, a, sizeof a);
        ck_assert_msg(strstr(a, cases[i].text) != NULL, "want %s in: %s", cases[i].text, a);
        gan_model_free(m);
    }
}
END_TEST

START_TEST(unusual_values_round_trip)
{
    check_round_trip(1.2345678901234567e-5, 0.1);
    check_round_trip(1e-5, 0.1 + 1e-17);  /* 0.1 rounds to itself: "0.1" */
    check_round_trip(nextafter(1e-5, 1.0), nextafter(0.1, 0.0));
    check_round_trip(DBL_TRUE_MIN, 1.0);   /* subnormal eps */
    check_round_trip(DBL_MIN, -0.0);       /* momentum -0 stays -0 */
    check_round_trip(1e300, 0.0);          /* beyond float range: still parsed */
    check_round_trip(DBL_MAX, nextafter(1.0, 0.0));
}
END_TEST

/* (0, 1] with 53 random bits */
static double unit53(gan_rng *rng)
{
    return ldexp((double)(gan_rng_next_u64(rng) >> 11) + 1.0, -53);
}

/* Many random doubles: momentum in (0, 1], eps in (0, 2^13]. */
START_TEST(random_values_round_trip)
{
    gan_rng *rng = NULL;
    TU_OK(gan_rng_create(&rng, 20261128));
    for (int i = 0; i < 400; i++) {
        double u = unit53(rng);
        double e = ldexp(unit53(rng), 13 - (int)(gan_rng_next_u64(rng) % 60));
        check_round_trip(e, u);
    }
    gan_rng_free(rng);
}
END_TEST

/* Through a model file: the loaded model describes itself identically. */
START_TEST(model_file_keeps_values)
{
    char dir[] = "/tmp/gan-test-arch-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    gan_model *m = bn_model(1.2345678901234567e-5, 0.30000000000000004), *back = NULL;
    TU_OK(gan_model_save(m, path));
    TU_OK(gan_model_load(&back, path));
    char a[256], b[256], digits[64];
    text_of(m, a, sizeof a);
    text_of(back, b, sizeof b);
    ck_assert_str_eq(a, b);
    assert_same_bits(value_in(b, "eps=", digits), 1.2345678901234567e-5, "eps", b);
    assert_same_bits(value_in(b, "momentum=", digits), 0.30000000000000004, "momentum", b);
    gan_model_free(back);
    gan_model_free(m);
    unlink(path);
    rmdir(dir);
}
END_TEST

Suite *suite_arch(void)
{
    Suite *s = suite_create("arch");
    TCase *tc = tcase_create("arch");
    tcase_add_test(tc, defaults_keep_their_text);
    tcase_add_test(tc, unusual_values_round_trip);
    tcase_add_test(tc, random_values_round_trip);
    tcase_add_test(tc, model_file_keeps_values);
    suite_add_tcase(s, tc);
    return s;
}
