/* test_blas.c: num/blas.h against the BLAS library's own entry points, called
 * here directly as the independent reference, for the adapter this build
 * compiled (cmake/deps.cmake chose it from the library found):
 *   OpenBLAS: blas_describe is openblas_get_config() and
 *             openblas_get_corename() joined by ", core " (the form
 *             documented in blas.h), and blas_set_threads(n) is what
 *             openblas_get_num_threads() then reports;
 *   BLIS:     blas_describe names BLIS, bli_info_get_version_str() and the
 *             kernel set bli_arch_string(bli_arch_query_id()), and
 *             blas_set_threads(n) is what bli_thread_get_num_threads() reports;
 *   other:    blas_describe says "unknown" and names the library file.
 * (tests/ may call the BLAS; only src/ is held to the src/num boundary by
 * tests/repo/check_layout.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>
#include <cmocka.h>
#if defined(EBM_BLAS_BLIS)
#include <blis.h>
#endif

#include "harness.h"

#include "num/blas.h"

/* Long enough for any OpenBLAS config string (~100-200 characters). */
#define DESCRIBE_LEN 1024

#if defined(EBM_BLAS_OPENBLAS)
static int reference(char *buf, size_t len)
{
    return snprintf(buf, len, "%s, core %s", openblas_get_config(), openblas_get_corename());
}
static int library_threads(void) { return openblas_get_num_threads(); }
static void library_set_threads(int n) { openblas_set_num_threads(n); }
#elif defined(EBM_BLAS_BLIS)
static int reference(char *buf, size_t len)
{
    /* The parts come from BLIS; the form is blas.h's. */
    const char *model = bli_info_get_enable_openmp()     ? "OpenMP"
                        : bli_info_get_enable_pthreads() ? "pthreads"
                                                         : "single-threaded";
    return snprintf(buf, len, "BLIS %s, %s, arch %s", bli_info_get_version_str(), model,
                    bli_arch_string(bli_arch_query_id()));
}
static int library_threads(void) { return (int)bli_thread_get_num_threads(); }
static void library_set_threads(int n) { bli_thread_set_num_threads(n); }
#else
static int reference(char *buf, size_t len)
{
    return snprintf(buf, len, "unknown (%s; threads not controlled)", EBM_BLAS_UNKNOWN);
}
#endif

static void test_blas_describe_names_the_library(void **state)
{
    (void)state;
    char buf[DESCRIBE_LEN];
    memset(buf, 'Z', sizeof buf);
    blas_describe(buf, sizeof buf);
    assert_non_null(memchr(buf, '\0', sizeof buf));
#if defined(EBM_BLAS_OPENBLAS)
    assert_non_null(strstr(buf, "OpenBLAS"));
    const char *core = strstr(buf, ", core ");
    assert_non_null(core);
    assert_true(core[strlen(", core ")] != '\0'); /* a core name follows */
#elif defined(EBM_BLAS_BLIS)
    assert_true(strncmp(buf, "BLIS ", 5) == 0);
    assert_non_null(strstr(buf, bli_info_get_version_str()));
    const char *arch = strstr(buf, ", arch ");
    assert_non_null(arch);
    assert_string_equal(arch + strlen(", arch "), bli_arch_string(bli_arch_query_id()));
#else
    assert_true(strncmp(buf, "unknown (", 9) == 0);
    assert_non_null(strstr(buf, EBM_BLAS_UNKNOWN));
#endif
}

static void test_blas_describe_matches_reference(void **state)
{
    (void)state;
    char want[DESCRIBE_LEN];
    const int n = reference(want, sizeof want);
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
    reference(full, sizeof full);
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

#if defined(EBM_BLAS_OPENBLAS) || defined(EBM_BLAS_BLIS)
static int teardown_one_thread(void **state)
{
    (void)state;
    library_set_threads(1); /* as the ctest environment starts us */
    return 0;
}

static void test_blas_set_threads_reported_by_library(void **state)
{
    (void)state;
    blas_set_threads(1);
    assert_int_equal(library_threads(), 1);
    blas_set_threads(2);
    assert_int_equal(library_threads(), 2);
    blas_set_threads(1);
    assert_int_equal(library_threads(), 1);
}
#endif

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blas_describe_names_the_library),
        cmocka_unit_test(test_blas_describe_matches_reference),
        cmocka_unit_test(test_blas_describe_truncates_to_buffer),
#if defined(EBM_BLAS_OPENBLAS) || defined(EBM_BLAS_BLIS)
        cmocka_unit_test_teardown(test_blas_set_threads_reported_by_library,
                                  teardown_one_thread),
#endif
    };
    return harness_run(argc, argv, "test_blas", tests, HARNESS_COUNT(tests), NULL, NULL);
}
