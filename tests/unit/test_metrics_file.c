/* test_metrics_file.c: <out>/metrics.h5 (io/metrics_file.h) on a singleton
 * MPI process: one row per epoch, cut back on resume, every column of
 * docs/design.md section 3 with its description, the run record as root
 * attributes, and the atomic whole-file write (an existing file of any kind
 * replaced, no .tmp left, a missing directory refused). Files are read back
 * with the HDF5 C API; everything goes to a fresh directory under /tmp that
 * the group teardown removes. Reference values are the rows and attributes
 * the test wrote. */
#define _XOPEN_SOURCE 700
#include <hdf5.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "h5_test_files.h"
#include "harness.h"

#include "core/metrics.h"
#include "io/h5file.h"
#include "io/metrics_file.h"

typedef struct {
    char dir[H5T_DIR_LEN]; /* first: h5_test_files.h */
    metrics_row history[8];
} metrics_fixture;
H5T_FIXTURE_CHECK(metrics_fixture);

static int group_setup(void **state)
{
    metrics_fixture *c = h5t_fixture_new(sizeof *c, "test_metrics_file");
    if (!c)
        return -1;
    for (int e = 0; e < 8; e++) {
        c->history[e].epoch = e + 1;
        c->history[e].val_error = 0.5 / (e + 1);
        c->history[e].comm_max = 0.25 * e;
    }
    *state = c;
    return 0;
}

/* Row `row` of a column read with the HDF5 C API; *rows gets its length. */
static double metrics_value(const char *path, const char *name, int row, int *rows)
{
    const hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    const hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    assert_true(ds >= 0);
    const hid_t sp = H5Dget_space(ds);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(sp, &n, NULL);
    *rows = (int)n;
    double v[16] = {0};
    assert_true(n <= 16);
    if (n > 0)
        assert_true(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(f);
    return row < (int)n ? v[row] : NAN;
}

static void test_metrics_file_sync_appends_and_truncates(void **state)
{
    metrics_fixture *c = *state;
    char path[200];
    snprintf(path, sizeof path, "%s/metrics.h5", c->dir);
    remove(path);
    ebm_err err = {0};
    int rows = -1;
    /* One row per call, as training does. */
    for (int n = 1; n <= 3; n++)
        if (metrics_file_sync(test_ctx(), path, c->history, n, &err))
            fail_msg("metrics_file_sync: %s", err.msg);
    assert_true(metrics_value(path, "val_error", 2, &rows) == c->history[2].val_error);
    assert_int_equal(rows, 3);
    assert_true(metrics_value(path, "epoch", 0, &rows) == 1.0);
    /* A resumed run from epoch 2 drops row 3, then writes a different one. */
    if (metrics_file_sync(test_ctx(), path, c->history, 2, &err))
        fail_msg("metrics_file_sync: %s", err.msg);
    (void)metrics_value(path, "epoch", 0, &rows);
    assert_int_equal(rows, 2);
    metrics_row changed[3];
    memcpy(changed, c->history, sizeof changed);
    changed[2].val_error = 0.75;
    if (metrics_file_sync(test_ctx(), path, changed, 3, &err))
        fail_msg("metrics_file_sync: %s", err.msg);
    assert_true(metrics_value(path, "val_error", 2, &rows) == 0.75);
    assert_int_equal(rows, 3);
    remove(path);
}

/* The columns of docs/design.md section 3, "Metrics", with the fields of
 * metrics_row they hold (written here from core/metrics.h, not taken from
 * metrics_columns). */
#define FIELD(f) {#f, offsetof(metrics_row, f)}
static const struct {
    const char *name;
    size_t offset;
} design_columns[] = {
    FIELD(epoch),        FIELD(global_step),   FIELD(train_loss),    FIELD(train_ce),
    FIELD(train_gen),    FIELD(train_error),   FIELD(val_loss),      FIELD(val_ce),
    FIELD(val_gen),      FIELD(val_error),     FIELD(energy_data),   FIELD(energy_sample),
    FIELD(skipped_steps), FIELD(wall_seconds), FIELD(examples_per_second),
    FIELD(compute_min),  FIELD(compute_mean),  FIELD(compute_max),   FIELD(comm_min),
    FIELD(comm_mean),    FIELD(comm_max),
};
#undef FIELD
enum { N_DESIGN_COLUMNS = sizeof design_columns / sizeof design_columns[0] };

/* A distinct value for every (row, column), exact in binary. */
static double cell(int row, size_t col) { return (double)(row * 100 + (int)col) + 0.125; }

/* Every dataset at the root: float64, 1-D, n rows, extendable and chunked,
 * with a description (H5Literate callback; *data is the expected rows). */
static herr_t check_column_cb(hid_t f, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    const hsize_t want = *(const hsize_t *)data;
    const hid_t ds = h5t_open_dataset(f, name, H5T_IEEE_F64LE);
    const hid_t sp = H5Dget_space(ds);
    hsize_t n = 0, max = 0;
    if (H5Sget_simple_extent_ndims(sp) != 1)
        fail_msg("%s is not 1-D", name);
    H5Sget_simple_extent_dims(sp, &n, &max);
    H5Sclose(sp);
    if (n != want || max != H5S_UNLIMITED)
        fail_msg("%s: %llu rows of at most %llu, expected %llu of unlimited", name,
                 (unsigned long long)n, (unsigned long long)max, (unsigned long long)want);
    const hid_t dcpl = H5Dget_create_plist(ds);
    if (H5Pget_layout(dcpl) != H5D_CHUNKED)
        fail_msg("%s is not chunked", name);
    H5Pclose(dcpl);
    char buf[256];
    h5t_read_string_attr(ds, "description", buf, sizeof buf);
    if (strlen(buf) < 5)
        fail_msg("%s: description '%s' says nothing", name, buf);
    H5Dclose(ds);
    return 0;
}

static void test_metrics_file_sync_writes_every_column(void **state)
{
    metrics_fixture *c = *state;
    char path[200];
    snprintf(path, sizeof path, "%s/columns.h5", c->dir);
    remove(path);
    enum { ROWS = 3 };
    metrics_row rows[ROWS];
    memset(rows, 0, sizeof rows);
    for (int r = 0; r < ROWS; r++)
        for (size_t k = 0; k < N_DESIGN_COLUMNS; k++)
            *(double *)((char *)&rows[r] + design_columns[k].offset) = cell(r, k);
    ebm_err err = {0};
    if (metrics_file_sync(test_ctx(), path, rows, ROWS, &err))
        fail_msg("metrics_file_sync: %s", err.msg);

    const hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    /* Every documented column, holding its field of every row. */
    for (size_t k = 0; k < N_DESIGN_COLUMNS; k++) {
        const char *name = design_columns[k].name;
        const hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
        if (ds < 0)
            fail_msg("no column %s", name);
        double v[ROWS];
        assert_true(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
        H5Dclose(ds);
        for (int r = 0; r < ROWS; r++)
            if (v[r] != cell(r, k))
                fail_msg("%s row %d: %g, expected %g", name, r, v[r], cell(r, k));
    }
    /* Every dataset in the file (the documented ones and any newer). */
    H5G_info_t info;
    assert_true(H5Gget_info(f, &info) >= 0);
    assert_true(info.nlinks >= N_DESIGN_COLUMNS);
    hsize_t want = ROWS, idx = 0;
    assert_true(H5Literate(f, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, check_column_cb, &want) >= 0);
    assert_int_equal(idx, info.nlinks);
    /* Without a run record: the program's name and the format version. */
    char buf[256];
    h5t_read_string_attr(f, "program", buf, sizeof buf);
    assert_string_equal(buf, "ebm_mpi");
    int64_t version = -1;
    h5t_read_scalar_attr(f, "format_version", H5T_NATIVE_INT64, &version);
    assert_int_equal(version, METRICS_FORMAT_VERSION);
    H5Fclose(f);
    remove(path);
}

static void test_metrics_file_sync_zero_rows_creates_empty_columns(void **state)
{
    metrics_fixture *c = *state;
    char path[200];
    snprintf(path, sizeof path, "%s/empty.h5", c->dir);
    remove(path);
    ebm_err err = {0};
    /* A run stopped before its first epoch ended. */
    if (metrics_file_sync(test_ctx(), path, c->history, 0, &err))
        fail_msg("metrics_file_sync with no rows: %s", err.msg);
    int rows = -1;
    for (size_t k = 0; k < N_DESIGN_COLUMNS; k++) {
        (void)metrics_value(path, design_columns[k].name, 0, &rows);
        assert_int_equal(rows, 0);
    }
    /* And it grows from there. */
    if (metrics_file_sync(test_ctx(), path, c->history, 2, &err))
        fail_msg("metrics_file_sync: %s", err.msg);
    assert_true(metrics_value(path, "comm_max", 1, &rows) == c->history[1].comm_max);
    assert_int_equal(rows, 2);
    remove(path);
}

static void test_metrics_file_write_stores_record_attributes(void **state)
{
    metrics_fixture *c = *state;
    char path[200];
    snprintf(path, sizeof path, "%s/record.h5", c->dir);
    const h5file_attr record[] = {
        {"program", H5FILE_ATTR_TEXT, 0, 0.0, "ebm_mpi"},
        {"command_line", H5FILE_ATTR_TEXT, 0, 0.0, "ebm_mpi train --hidden 16"},
        {"world_size", H5FILE_ATTR_INT, INT64_C(9007199254740993), 0.0, NULL},
        {"lr", H5FILE_ATTR_DOUBLE, 0, 1e-3, NULL},
    };
    ebm_err err = {0};
    if (metrics_file_write(test_ctx(), path, c->history, 2, record, 4, &err))
        fail_msg("metrics_file_write: %s", err.msg);
    int rows = -1;
    assert_true(metrics_value(path, "val_error", 1, &rows) == c->history[1].val_error);
    assert_int_equal(rows, 2);
    const hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    char buf[256];
    h5t_read_string_attr(f, "program", buf, sizeof buf);
    assert_string_equal(buf, "ebm_mpi");
    h5t_read_string_attr(f, "command_line", buf, sizeof buf);
    assert_string_equal(buf, "ebm_mpi train --hidden 16");
    /* Exact as int64 (past 2^53: no detour through double). */
    int64_t i = 0;
    h5t_read_scalar_attr(f, "world_size", H5T_NATIVE_INT64, &i);
    assert_true(i == INT64_C(9007199254740993));
    double d = 0;
    h5t_read_scalar_attr(f, "lr", H5T_NATIVE_DOUBLE, &d);
    assert_true(d == 1e-3);
    H5Fclose(f);
    remove(path);
}

static void test_metrics_file_sync_replaces_any_existing_file(void **state)
{
    metrics_fixture *c = *state;
    char path[200], tmp[210];
    h5t_paths(c->dir, "replaced.h5", path, sizeof path, tmp, sizeof tmp);
    /* An HDF5 file of someone else's (an older layout, say) ... */
    const hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    const hsize_t dims[1] = {2};
    const double v[2] = {1.5, 2.5};
    assert_int_equal(h5t_write_dataset(f, "loss", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, v),
                     0);
    assert_true(H5Fclose(f) >= 0);
    ebm_err err = {0};
    if (metrics_file_sync(test_ctx(), path, c->history, 2, &err))
        fail_msg("metrics_file_sync over a foreign file: %s", err.msg);
    assert_false(h5t_file_exists(tmp));
    assert_int_equal(tmp_files_left(path), 0);
    const hid_t g = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(g >= 0);
    assert_true(H5Lexists(g, "loss", H5P_DEFAULT) == 0); /* nothing of it is left */
    H5Fclose(g);
    int rows = -1;
    assert_true(metrics_value(path, "epoch", 1, &rows) == 2.0);
    assert_int_equal(rows, 2);
    /* ... and a text file, and a stale temporary file beside it. */
    h5t_write_text_file(path, "epoch,val_error\n1,0.5\n");
    h5t_write_text_file(tmp, "half a file"); /* the old fixed name: left alone */
    if (metrics_file_sync(test_ctx(), path, c->history, 3, &err))
        fail_msg("metrics_file_sync over a text file: %s", err.msg);
    assert_true(h5t_file_exists(tmp));
    remove(tmp);
    assert_int_equal(tmp_files_left(path), 0);
    assert_true(metrics_value(path, "val_error", 2, &rows) == c->history[2].val_error);
    assert_int_equal(rows, 3);
    remove(path);
}

static void test_metrics_file_sync_fails_missing_directory(void **state)
{
    metrics_fixture *c = *state;
    char path[200], tmp[210];
    h5t_paths(c->dir, "no/such/dir/metrics.h5", path, sizeof path, tmp, sizeof tmp);
    ebm_err err = {0};
    assert_int_equal(metrics_file_sync(test_ctx(), path, c->history, 2, &err), -1);
    if (!strstr(err.msg, path))
        fail_msg("message '%s' does not name '%s'", err.msg, path);
    assert_false(h5t_file_exists(path));
    assert_false(h5t_file_exists(tmp));
    assert_int_equal(tmp_files_left(path), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_file_sync_appends_and_truncates),
        cmocka_unit_test(test_metrics_file_sync_writes_every_column),
        cmocka_unit_test(test_metrics_file_sync_zero_rows_creates_empty_columns),
        cmocka_unit_test(test_metrics_file_write_stores_record_attributes),
        cmocka_unit_test(test_metrics_file_sync_replaces_any_existing_file),
        cmocka_unit_test(test_metrics_file_sync_fails_missing_directory),
    };
    return harness_run(argc, argv, "test_metrics_file", tests, HARNESS_COUNT(tests),
                       group_setup, h5t_group_teardown);
}
