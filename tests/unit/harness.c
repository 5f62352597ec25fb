/* harness.c: see harness.h. */
#include "harness.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/h5file.h"

static dist_ctx world;

const dist_ctx *test_ctx(void) { return &world; }

int harness_run(int argc, char **argv, const char *name, const struct CMUnitTest *tests,
                size_t n_tests, CMFixtureFunction group_setup, CMFixtureFunction group_teardown)
{
    ebm_err err = {0};
    if (dist_init(&argc, &argv, 1, &world, &err)) {
        ebm_err_print(stderr, &err, -1, 1);
        return 1;
    }
    /* tests/mpi/mpirun.sh says how many ranks it launched: a binary of
     * another MPI than the launcher's runs as that many one-rank jobs, where
     * the tests degrade to their singleton paths and would pass. */
    const char *np = getenv("EBM_TEST_NP");
    if (np && atoi(np) != world.size) {
        fprintf(stderr, "harness: world size %d, but %s ranks were launched (a binary of another MPI than the launcher's?)\n",
                world.size, np);
        dist_finalize(&world);
        return 1;
    }
    h5file_quiet();
    const int failed = _cmocka_run_group_tests(name, tests, n_tests, group_setup, group_teardown);
    dist_finalize(&world);
    return failed;
}

int tmp_files_left(const char *path)
{
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s.tmp.??????", path);
    glob_t g;
    const int rc = glob(pattern, 0, NULL, &g);
    const int n = rc == 0 ? (int)g.gl_pathc : 0;
    if (rc == 0)
        globfree(&g);
    return n;
}
