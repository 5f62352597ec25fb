/* test_rows_file.c: per-example output files (io/rows_file.h: eval --dump,
 * sample --out) on a singleton MPI process: float and int columns of 1-D and
 * 2-D shape with their descriptions, numeric and text root attributes, each
 * checked with the HDF5 C API; the atomic write (no .tmp left, an existing
 * file replaced whole, the previous file kept when a write fails) and the
 * refusal of a missing directory. Reference values are the ones the test
 * wrote, compared bitwise. Everything goes to a fresh directory under /tmp
 * that the group teardown removes. */
#define _XOPEN_SOURCE 700
#include <hdf5.h>
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

#include "io/rows_file.h"

typedef h5t_dir_fixture group_fixture;

static int group_setup(void **state)
{
    *state = h5t_fixture_new(sizeof(group_fixture), "test_rows_file");
    return *state ? 0 : -1;
}

/* ---- reading back with the HDF5 C API ------------------------------------ */

static hid_t c_open(const char *path)
{
    const hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        fail_msg("'%s' is not a readable HDF5 file", path);
    return f;
}

static double c_number_attr(hid_t obj, const char *name)
{
    const hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        fail_msg("no attribute '%s'", name);
    const hid_t t = H5Aget_type(a);
    if (H5Tget_class(t) != H5T_FLOAT && H5Tget_class(t) != H5T_INTEGER)
        fail_msg("attribute '%s' is not a number", name);
    H5Tclose(t);
    double v = -12345;
    assert_true(H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0);
    H5Aclose(a);
    return v;
}

/* Dataset `name`: checks it is stored as `ftype` with rank and dims, reads it
 * whole as `mtype` into out and returns its description attribute in desc. */
static void c_dataset(hid_t f, const char *name, hid_t ftype, hid_t mtype, int rank,
                      hsize_t d0, hsize_t d1, void *out, char *desc, size_t dlen)
{
    const hid_t ds = h5t_open_dataset(f, name, ftype);
    const hid_t sp = H5Dget_space(ds);
    hsize_t dims[2] = {0, 0};
    const int r = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    if (r != rank || dims[0] != d0 || (rank == 2 && dims[1] != d1))
        fail_msg("%s: rank %d dims [%llu, %llu], expected rank %d [%llu, %llu]", name, r,
                 (unsigned long long)dims[0], (unsigned long long)dims[1], rank,
                 (unsigned long long)d0, (unsigned long long)d1);
    assert_true(H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
    h5t_read_string_attr(ds, "description", desc, dlen);
    H5Dclose(ds);
}

/* ---- a file of every kind of column ---------------------------------------- */

enum { N = 5, K = 3, W = 2 };

typedef struct {
    float logits[N * K], energy[N];
    int32_t label[N], pairs[N * W];
} rows_data;

/* Distinct, exact values; ints past float's 2^24 so a float path would show. */
static void fill_rows(rows_data *d)
{
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < K; j++)
            d->logits[i * K + j] = (float)(i * K + j) * 0.25f - 1.5f;
        d->energy[i] = -(float)i - 0.125f;
        d->label[i] = (i * 7) % 10;
        for (int j = 0; j < W; j++)
            d->pairs[i * W + j] = 16777217 * (j + 1) - i;
    }
}

/* The columns write_rows writes, one of each kind: where each is in a
 * rows_data, and what it is (rows_column's is_int, width, description). */
typedef struct {
    const char *name;
    size_t field; /* offsetof in rows_data */
    int is_int, width;
    const char *description;
} column_kind;

static const column_kind columns[] = {
    {"logits", offsetof(rows_data, logits), 0, K, "f(x), one row per example"},
    {"energy", offsetof(rows_data, energy), 0, 0, "E(x) = -logsumexp f(x)"},
    {"label", offsetof(rows_data, label), 1, 0, "true class"},
    {"pairs", offsetof(rows_data, pairs), 1, W, "two integers per example"},
};
enum { N_COLUMNS = sizeof columns / sizeof columns[0] };

static const column_kind *column_named(const char *name)
{
    for (int c = 0; c < N_COLUMNS; c++)
        if (strcmp(columns[c].name, name) == 0)
            return &columns[c];
    fail_msg("no column %s in the table", name);
    return NULL;
}

/* The bytes of `rows` rows of column c (4-byte elements, either kind). */
static size_t column_bytes(const column_kind *c, int64_t rows)
{
    return (size_t)rows * (c->width ? (size_t)c->width : 1) * 4;
}

/* Column c of a rows_data from row `row` on. */
static const void *column_rows(const rows_data *d, const column_kind *c, int64_t row)
{
    return (const char *)d + c->field + column_bytes(c, row);
}

/* Column `name` read back whole with the C API into its place in back,
 * checked to be stored int32 or float32 little-endian, N rows of its width;
 * its description attribute into desc. */
static void c_column(hid_t f, const char *name, rows_data *back, char *desc, size_t dlen)
{
    const column_kind *c = column_named(name);
    c_dataset(f, name, c->is_int ? H5T_STD_I32LE : H5T_IEEE_F32LE,
              c->is_int ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT, c->width ? 2 : 1, N,
              (hsize_t)c->width, (char *)back + c->field, desc, dlen);
}

/* Column `name` of the file at path, read back with the C API, holds d's N
 * rows of it bit for bit, with its description. */
static void expect_column_as_written(const char *path, const rows_data *d, const char *name)
{
    const hid_t f = c_open(path);
    rows_data back;
    char desc[128];
    c_column(f, name, &back, desc, sizeof desc);
    H5Fclose(f);
    const column_kind *c = column_named(name);
    if (memcmp(column_rows(&back, c, 0), column_rows(d, c, 0), column_bytes(c, N)) != 0)
        fail_msg("%s of %s does not hold the rows written", name, path);
    assert_string_equal(desc, c->description);
}

static int write_rows(const char *path, const rows_data *d, int64_t offset, int64_t n,
                      ebm_err *err)
{
    rows_column cols[N_COLUMNS];
    for (int c = 0; c < N_COLUMNS; c++)
        cols[c] = (rows_column){columns[c].name, columns[c].is_int, columns[c].width,
                                column_rows(d, &columns[c], offset), columns[c].description};
    const rows_attr attrs[] = {
        {"checkpoint", 0, "runs/best.h5"},
        {"split", 0, "test"},
        {"steps", 20, NULL},
        {"step_size", 0.375, NULL},
        {"class", -1, NULL},
    };
    return rows_file_write(test_ctx(), path, N, offset, n, cols, N_COLUMNS, attrs, 5, err);
}

/* The rows of fill_rows written to path (rows [offset, offset + n) of N, as
 * one rank's share); a failure fails the test. */
static void write_filled_rows(const char *path, rows_data *d, int64_t offset, int64_t n)
{
    fill_rows(d);
    ebm_err err = {0};
    if (write_rows(path, d, offset, n, &err))
        fail_msg("rows_file_write('%s'): %s", path, err.msg);
}

static void test_rows_file_write_stores_columns_and_attributes(void **state)
{
    group_fixture *g = *state;
    char path[160], tmp[170];
    h5t_paths(g->dir, "dump.h5", path, sizeof path, tmp, sizeof tmp);
    rows_data d;
    write_filled_rows(path, &d, 0, N);
    assert_false(h5t_file_exists(tmp));
    assert_int_equal(tmp_files_left(path), 0);

    const hid_t f = c_open(path);
    /* The four datasets and nothing else. */
    H5G_info_t info;
    assert_true(H5Gget_info(f, &info) >= 0);
    assert_int_equal(info.nlinks, N_COLUMNS);
    for (int c = 0; c < N_COLUMNS; c++)
        expect_column_as_written(path, &d, columns[c].name);
    /* Root attributes: text as strings, numbers as numbers. */
    char s[128];
    h5t_read_string_attr(f, "checkpoint", s, sizeof s);
    assert_string_equal(s, "runs/best.h5");
    h5t_read_string_attr(f, "split", s, sizeof s);
    assert_string_equal(s, "test");
    assert_true(c_number_attr(f, "steps") == 20.0);
    assert_true(c_number_attr(f, "step_size") == 0.375);
    assert_true(c_number_attr(f, "class") == -1.0);
    H5Fclose(f);
    remove(path);
}

static void test_rows_file_write_places_rows_at_offset(void **state)
{
    group_fixture *g = *state;
    char path[160], tmp[170];
    h5t_paths(g->dir, "share.h5", path, sizeof path, tmp, sizeof tmp);
    rows_data d;
    /* One rank's share: rows [2, 4) of 5, passed from the share's own start. */
    write_filled_rows(path, &d, 2, 2);
    const hid_t f = c_open(path);
    for (int c = 0; c < N_COLUMNS; c++) {
        rows_data back;
        char desc[128];
        c_column(f, columns[c].name, &back, desc, sizeof desc);
        if (memcmp(column_rows(&back, &columns[c], 2), column_rows(&d, &columns[c], 2),
                   column_bytes(&columns[c], 2)) != 0)
            fail_msg("%s: rows [2, 4) are not the share written", columns[c].name);
    }
    H5Fclose(f);
    remove(path);
}

static void test_rows_file_write_replaces_existing_file_whole(void **state)
{
    group_fixture *g = *state;
    char path[160], tmp[170];
    h5t_paths(g->dir, "replaced.h5", path, sizeof path, tmp, sizeof tmp);
    const float old_v[3] = {1, 2, 3};
    const rows_column old_cols[] = {{"old", 0, 0, old_v, "the previous file's"}};
    const rows_attr old_attrs[] = {{"previous", 1, NULL}};
    ebm_err err = {0};
    if (rows_file_write(test_ctx(), path, 3, 0, 3, old_cols, 1, old_attrs, 1, &err))
        fail_msg("rows_file_write: %s", err.msg);
    rows_data d;
    write_filled_rows(path, &d, 0, N);
    assert_false(h5t_file_exists(tmp));
    assert_int_equal(tmp_files_left(path), 0);
    const hid_t f = c_open(path);
    /* Only the new file's contents: nothing of the old one survives. */
    assert_true(H5Lexists(f, "old", H5P_DEFAULT) == 0);
    assert_true(H5Aexists(f, "previous") == 0);
    assert_true(H5Lexists(f, "logits", H5P_DEFAULT) > 0);
    H5Fclose(f);
    expect_column_as_written(path, &d, "energy");
    remove(path);
}

static void test_rows_file_write_overwrites_stale_tmp(void **state)
{
    group_fixture *g = *state;
    char path[160], tmp[170];
    h5t_paths(g->dir, "stale.h5", path, sizeof path, tmp, sizeof tmp);
    /* A crash left a half-written temporary file under the old fixed name:
     * the write goes to a fresh name of its own and leaves it alone. */
    h5t_write_text_file(tmp, "half a file");
    rows_data d;
    write_filled_rows(path, &d, 0, N);
    assert_true(h5t_file_exists(tmp));
    assert_int_equal(tmp_files_left(path), 0);
    remove(tmp);
    expect_column_as_written(path, &d, "label");
    remove(path);
}

static void test_rows_file_write_fails_missing_directory(void **state)
{
    group_fixture *g = *state;
    char path[160], tmp[170];
    h5t_paths(g->dir, "no/such/dir/dump.h5", path, sizeof path, tmp, sizeof tmp);
    rows_data d;
    fill_rows(&d);
    ebm_err err = {0};
    assert_int_equal(write_rows(path, &d, 0, N, &err), -1);
    if (!strstr(err.msg, path))
        fail_msg("message '%s' does not name '%s'", err.msg, path);
    assert_false(h5t_file_exists(tmp));
    assert_int_equal(tmp_files_left(path), 0);
    assert_false(h5t_file_exists(path));
}

static void test_rows_file_write_failure_keeps_previous_file(void **state)
{
    group_fixture *g = *state;
    char path[160], tmp[170];
    h5t_paths(g->dir, "kept.h5", path, sizeof path, tmp, sizeof tmp);
    rows_data d;
    write_filled_rows(path, &d, 0, N);
    /* Two columns of one name: the second cannot be created. */
    const float v[N] = {9, 9, 9, 9, 9};
    const rows_column twice[] = {{"energy", 0, 0, v, "first"}, {"energy", 0, 0, v, "again"}};
    ebm_err err = {0};
    assert_int_equal(rows_file_write(test_ctx(), path, N, 0, N, twice, 2, NULL, 0, &err), -1);
    if (!strstr(err.msg, "energy"))
        fail_msg("message '%s' does not name the dataset", err.msg);
    /* The previous file is whole. */
    expect_column_as_written(path, &d, "energy");
    remove(tmp);
    remove(path);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_file_write_stores_columns_and_attributes),
        cmocka_unit_test(test_rows_file_write_places_rows_at_offset),
        cmocka_unit_test(test_rows_file_write_replaces_existing_file_whole),
        cmocka_unit_test(test_rows_file_write_overwrites_stale_tmp),
        cmocka_unit_test(test_rows_file_write_fails_missing_directory),
        cmocka_unit_test(test_rows_file_write_failure_keeps_previous_file),
    };
    return harness_run(argc, argv, "test_rows_file", tests, HARNESS_COUNT(tests), group_setup,
                       h5t_group_teardown);
}
