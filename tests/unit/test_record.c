/* test_record.c: the run record (src/record.h) holds every field the README
 * and docs/design.md section 3 promise, each once, with the run's values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "cli.h"
#include "record.h"

static const h5file_attr *find(const run_record *r, const char *name)
{
    const h5file_attr *hit = NULL;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->attrs[i].name, name) == 0) {
            if (hit)
                fail_msg("attribute %s appears twice", name);
            hit = &r->attrs[i];
        }
    if (!hit)
        fail_msg("attribute %s missing from the record", name);
    return hit;
}

static void parse(ebm_config *cfg, int argc, const char **argv)
{
    ebm_err err = {0};
    if (cli_parse(argc, (char **)argv, cfg, &err))
        fail_msg("cli_parse: %s", err.msg);
}

static void test_record_build_holds_run_and_every_hyperparameter(void **state)
{
    (void)state;
    const char *argv[] = {"ebm_mpi", "train", "--lr", "0.002", "--hidden", "64",
                          "--preset", "seed",  "--seed", "9007199254740991"};
    ebm_config cfg;
    parse(&cfg, 10, argv);
    run_info run;
    memset(&run, 0, sizeof run);
    snprintf(run.program_version, sizeof run.program_version, "9.8.7");
    snprintf(run.git_revision, sizeof run.git_revision, "abc123");
    snprintf(run.mpi_version, sizeof run.mpi_version, "Open MPI v4.1.4");
    snprintf(run.hdf5_version, sizeof run.hdf5_version, "1.10.8");
    snprintf(run.blas_version, sizeof run.blas_version, "OpenBLAS x, core Zen");
    snprintf(run.data_path, sizeof run.data_path, "/data/d.h5");
    snprintf(run.command_line, sizeof run.command_line, "ebm_mpi train --lr 0.002");
    snprintf(run.hosts, sizeof run.hosts, "node1: 0-3; node2: 4-7");
    run.data_checksum = 0x0123456789abcdefULL;
    run.world_size = 8;
    run_record r;
    record_build(&r, &cfg, &run);
    assert_true(r.n < RECORD_MAX_ATTRS); /* room left: nothing was dropped */
    const struct {
        const char *name, *text;
    } texts[] = {
        {"program", "ebm_mpi"},
        {"program_version", "9.8.7"},
        {"git_revision", "abc123"},
        {"mpi_version", "Open MPI v4.1.4"},
        {"hdf5_version", "1.10.8"},
        {"blas_version", "OpenBLAS x, core Zen"},
        {"data_file", "/data/d.h5"},
        {"data_checksum_fnv1a64", "0123456789abcdef"},
        {"command_line", "ebm_mpi train --lr 0.002"},
        {"hosts", "node1: 0-3; node2: 4-7"},
        {"preset", "seed"},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const h5file_attr *a = find(&r, texts[i].name);
        assert_int_equal(a->kind, H5FILE_ATTR_TEXT);
        assert_string_equal(a->text, texts[i].text);
    }
    const struct {
        const char *name;
        int64_t value;
    } ints[] = {{"world_size", 8}, {"hidden", 64},         {"epochs", 20},
                {"map_inputs", 0}, {"clamp_chains", 0},    {"select_by_error", 0},
                {"batch-size", 64}, {"seed", 9007199254740991LL}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        const h5file_attr *a = find(&r, ints[i].name);
        assert_int_equal(a->kind, H5FILE_ATTR_INT);
        assert_true(a->i == ints[i].value);
    }
    const h5file_attr *lr = find(&r, "lr");
    assert_int_equal(lr->kind, H5FILE_ATTR_DOUBLE);
    assert_true(lr->d == 0.002);
    assert_true(find(&r, "gen-weight")->d == 1.0); /* the seed preset's w */
    /* Every hyperparameter of the option table is in the record. */
    size_t n_opts;
    const cli_option *opts = cli_options(&n_opts);
    for (size_t i = 0; i < n_opts; i++)
        if (opts[i].hyper)
            (void)find(&r, opts[i].name);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_build_holds_run_and_every_hyperparameter),
    };
    return harness_run(argc, argv, "test_record", tests, HARNESS_COUNT(tests), NULL, NULL);
}
