/* test_blas.c: num/blas.h against OpenBLAS's own entry points, called here
 * directly from <cblas.h> as the independent reference: blas_describe is
 * openblas_get_config() and openblas_get_corename() joined by ", core " (the
 * form documented in blas.h), and blas_set_threads(n) is what
 * openblas_get_num_threads() then reports. (tests/ may call OpenBLAS; only
 * src/ is held to the src/num boundary by tests/repo/check_layout.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>
#include <cmocka.h>

#include "harness.h"

#include "num/blas.h"

/* Long enough for any OpenBLAS config string (~100-200 characters). */
#define DESCRIBE_LEN 1024

static int teardown_one_thread(void **state)
{
    (void)state;
    openblas_set_num_threads(1); /* as the ctest environment starts us */
    return 0;
}

static void test_blas_describe_names_library_and_core(void **state)
{
    (void)state;
    char buf[DESCRIBE_LEN];
    memset(buf, 'Z', sizeof buf);
    blas_describe(buf, sizeof buf);
    assert_non_null(memchr(buf, '\0', sizeof buf));
    assert_non_null(strstr(buf, "OpenBLAS"));
    const char *core = strstr(buf, ", core ");
    assert_non_null(core);
    assert_true(core[strlen(", core ")] != '\0'); /* a core name follows */
}

static void test_blas_describe_joins_config_and_corename(void **state)
{
    (void)state;
    char want[DESCRIBE_LEN];
    const int n = snprintf(want, sizeof want, "%s, core %s", openblas_get_config(),
                           openblas_get_corename());
    assert_true(n > 0 && (size_t)n < sizeof want);
    char buf[DESCRIBE_LEN];
    memset(buf, 'Z', sizeof buf);
    blas_describe(buf, sizeof buf);
    assert_string_equal(buf, want);
    print_message("blas_describe: %s\n", buf);
}

static void test_blas_describe_truncates_to_buffer(void **state)
{
    (void)state;
    char full[DESCRIBE_LEN];
    snprintf(full, sizeof full, "%s, core %s", openblas_get_config(), openblas_get_corename());
    /* A short buffer holds the first len - 1 characters and the terminator,
     * and nothing is written past it. */
    char buf[32];
    memset(buf, 'Z', sizeof buf);
    blas_describe(buf, 16);
    assert_int_equal(strlen(buf), 15);
    assert_memory_equal(buf, full, 15);
    for (size_t i = 16; i < sizeof buf; i++)
        assert_int_equal(buf[i], 'Z');
}

static void test_blas_set_threads_reported_by_openblas(void **state)
{
    (void)state;
    blas_set_threads(1);
    assert_int_equal(openblas_get_num_threads(), 1);
    blas_set_threads(2);
    assert_int_equal(openblas_get_num_threads(), 2);
    blas_set_threads(1);
    assert_int_equal(openblas_get_num_threads(), 1);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blas_describe_names_library_and_core),
        cmocka_unit_test(test_blas_describe_joins_config_and_corename),
        cmocka_unit_test(test_blas_describe_truncates_to_buffer),
        cmocka_unit_test_teardown(test_blas_set_threads_reported_by_openblas,
                                  teardown_one_thread),
    };
    return harness_run(argc, argv, "test_blas", tests, HARNESS_COUNT(tests), NULL, NULL);
}
