/* check_main.c — runs every suite defined in tests/ (collected by make). */
#include <check.h>
#include <stdlib.h>

#define GAN_SUITE(name) Suite *name(void);
#include "suites.inc"
#undef GAN_SUITE

int main(void)
{
    SRunner *sr = srunner_create(NULL);
#define GAN_SUITE(name) srunner_add_suite(sr, name());
#include "suites.inc"
#undef GAN_SUITE
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
