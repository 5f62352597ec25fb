/* harness.h: the one main of every unit test. It starts MPI (a singleton
 * process, or the ranks mpirun gives), turns HDF5's error printing off, runs
 * the file's cmocka group and finalises MPI:
 *
 *     int main(int argc, char **argv)
 *     {
 *         const struct CMUnitTest tests[] = {cmocka_unit_test(test_x_does_y)};
 *         return harness_run(argc, argv, "test_x", tests, HARNESS_COUNT(tests), NULL, NULL);
 *     }
 *
 * Tests reach the parallel context through test_ctx(). */
#ifndef EBM_TEST_HARNESS_H
#define EBM_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "par/dist.h"

#define HARNESS_COUNT(tests) (sizeof(tests) / sizeof((tests)[0]))

/* The world communicator of this test process (valid inside the tests). */
const dist_ctx *test_ctx(void);

/* How many temporary files of an atomic write of `path` exist
 * (<path>.tmp.XXXXXX, io/h5file.h): 0 after every write, failed or not. */
int tmp_files_left(const char *path);

int harness_run(int argc, char **argv, const char *name, const struct CMUnitTest *tests,
                size_t n_tests, CMFixtureFunction group_setup, CMFixtureFunction group_teardown);

#endif
