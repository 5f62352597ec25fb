/* test_h5file.c: the HDF5 mechanics behind paths (io/h5file.h) on a
 * singleton MPI process: row ranges of 1-D and 2-D datasets of every element
 * type, nested paths, shapes, attributes, growing columns, the atomic
 * publish and the refusals, each message checked for the names it must give.
 * What h5file writes is read back both through h5file and directly with the
 * HDF5 C API (stored types, extents, chunking, attribute kinds); files that
 * h5file reads but does not write (a variable-length string attribute, a
 * string dataset) are made with the C API. Reference values are the ones the
 * test wrote, compared bitwise. Everything goes to a fresh directory under
 * /tmp that the group teardown removes. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <glob.h>
#include <hdf5.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "h5_test_files.h"
#include "harness.h"

#include "io/h5file.h"

typedef h5t_dir_fixture group_fixture;

static int group_setup(void **state)
{
    *state = h5t_fixture_new(sizeof(group_fixture), "test_h5file");
    return *state ? 0 : -1;
}

static void path_in(char *buf, size_t len, const group_fixture *g, const char *name)
{
    snprintf(buf, len, "%s/%s", g->dir, name);
}

static void expect_in(const char *msg, const char *needle)
{
    if (!strstr(msg, needle))
        fail_msg("message '%s' does not mention '%s'", msg, needle);
}

static h5file *create_file(const char *path)
{
    h5file *f = NULL;
    ebm_err err = {0};
    if (h5file_create(test_ctx(), path, &f, &err))
        fail_msg("h5file_create('%s'): %s", path, err.msg);
    assert_non_null(f);
    return f;
}

static h5file *open_file(const char *path, int writable)
{
    h5file *f = NULL;
    ebm_err err = {0};
    if (h5file_open(test_ctx(), path, "test file", writable, &f, &err))
        fail_msg("h5file_open('%s'): %s", path, err.msg);
    assert_non_null(f);
    return f;
}

static void close_file(h5file *f)
{
    ebm_err err = {0};
    if (h5file_close(f, &err))
        fail_msg("h5file_close: %s", err.msg);
}

/* A new file <dir>/<name>, its path in path. */
static h5file *create_in(const group_fixture *g, const char *name, char *path, size_t len)
{
    path_in(path, len, g, name);
    return create_file(path);
}

/* ---- element types ------------------------------------------------------- */

static const h5file_type all_types[] = {H5FILE_F32, H5FILE_F64, H5FILE_I32, H5FILE_I64,
                                        H5FILE_U64};
static const char *const type_names[] = {"f32", "f64", "i32", "i64", "u64"};
enum { N_TYPES = sizeof all_types / sizeof all_types[0] };

static size_t type_size(h5file_type t)
{
    return (t == H5FILE_F32 || t == H5FILE_I32) ? 4 : 8;
}

/* What h5file.h promises: stored little-endian. */
static hid_t stored_type(h5file_type t)
{
    switch (t) {
    case H5FILE_F32: return H5T_IEEE_F32LE;
    case H5FILE_F64: return H5T_IEEE_F64LE;
    case H5FILE_I32: return H5T_STD_I32LE;
    case H5FILE_I64: return H5T_STD_I64LE;
    case H5FILE_U64: return H5T_STD_U64LE;
    }
    return -1;
}

static hid_t native_type(h5file_type t)
{
    switch (t) {
    case H5FILE_F32: return H5T_NATIVE_FLOAT;
    case H5FILE_F64: return H5T_NATIVE_DOUBLE;
    case H5FILE_I32: return H5T_NATIVE_INT32;
    case H5FILE_I64: return H5T_NATIVE_INT64;
    case H5FILE_U64: return H5T_NATIVE_UINT64;
    }
    return -1;
}

/* Distinct values for every element, at the edges of each type: integers
 * beyond 2^53 (a pass through double would round them) and doubles beyond
 * float's range. */
static void fill_values(h5file_type t, void *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (t) {
        case H5FILE_F32: ((float *)buf)[i] = (float)i * 0.375f - 2.0f; break;
        case H5FILE_F64:
            ((double *)buf)[i] = ((i & 1) ? -1e300 : 1e300) / (double)(i + 1);
            break;
        case H5FILE_I32: ((int32_t *)buf)[i] = INT32_MIN + (int32_t)(i * 7919); break;
        case H5FILE_I64: ((int64_t *)buf)[i] = INT64_MAX - (int64_t)i * 1000003; break;
        case H5FILE_U64: ((uint64_t *)buf)[i] = UINT64_MAX - (uint64_t)i * 3; break;
        }
    }
}

#define POISON 0xa5

static void expect_poison(const unsigned char *buf, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i] != POISON)
            fail_msg("%s: byte %zu was written (%#x)", what, i, buf[i]);
}

/* The whole dataset `name` of the file at `path`, read with the HDF5 C API,
 * checked to be stored as `type` with the given rank and dims, into out. */
static void c_read_dataset(const char *path, const char *name, h5file_type type, int rank,
                           const int64_t dims[2], void *out)
{
    const hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        fail_msg("H5Fopen('%s') failed", path);
    const hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0)
        fail_msg("'%s' has no dataset %s", path, name);
    const hid_t t = H5Dget_type(ds);
    if (H5Tequal(t, stored_type(type)) <= 0)
        fail_msg("%s is not stored as %s little-endian", name, type_names[type]);
    H5Tclose(t);
    const hid_t sp = H5Dget_space(ds);
    hsize_t d[2] = {0, 0};
    assert_int_equal(H5Sget_simple_extent_ndims(sp), rank);
    H5Sget_simple_extent_dims(sp, d, NULL);
    H5Sclose(sp);
    assert_int_equal(d[0], dims[0]);
    if (rank == 2)
        assert_int_equal(d[1], dims[1]);
    if (d[0] > 0 && (rank == 1 || d[1] > 0))
        assert_true(H5Dread(ds, native_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
    H5Dclose(ds);
    H5Fclose(f);
}

/* h5file_dims of `name` gives rank, [d0, d1] (d1 is 0 for 1-D) and class. */
static void expect_dims(h5file *f, const char *name, int rank, int64_t d0, int64_t d1,
                        h5file_class cls)
{
    int r = -1;
    int64_t dims[2] = {-1, -1};
    h5file_class c = (h5file_class)-1;
    ebm_err err = {0};
    if (h5file_dims(f, name, &r, dims, &c, &err))
        fail_msg("h5file_dims(%s): %s", name, err.msg);
    if (r != rank || dims[0] != d0 || dims[1] != d1 || c != cls)
        fail_msg("%s: rank %d dims [%lld, %lld] class %d, expected %d [%lld, %lld] class %d",
                 name, r, (long long)dims[0], (long long)dims[1], (int)c, rank, (long long)d0,
                 (long long)d1, (int)cls);
}

/* ---- rows ------------------------------------------------------------------ */

enum { ROWS = 5, COLS = 3 };

/* h5file_write_rows; a failure fails the test naming the dataset. */
static void write_rows(h5file *f, const char *name, h5file_type t, int rank,
                       const int64_t dims[2], int64_t row0, int64_t n, const void *buf)
{
    ebm_err err = {0};
    if (h5file_write_rows(f, name, t, rank, dims, row0, n, buf, &err))
        fail_msg("h5file_write_rows(%s, rows [%lld, %lld)): %s", name, (long long)row0,
                 (long long)(row0 + n), err.msg);
}

/* Reads rows [row0, row0 + n) of `name` through h5file into a poisoned
 * buffer one row larger and checks them against rows row0.. of `whole`. */
static void check_read(h5file *f, const char *name, h5file_type t, int rank,
                       const int64_t dims[2], int64_t row0, int64_t n, const unsigned char *whole)
{
    const size_t row_bytes = type_size(t) * (size_t)(rank == 2 ? dims[1] : 1);
    const size_t cap = row_bytes * (size_t)(n + 1);
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
    memset(buf, POISON, cap);
    ebm_err err = {0};
    if (h5file_read_rows(f, name, t, rank, dims, row0, n, buf, &err))
        fail_msg("h5file_read_rows(%s, %lld, %lld): %s", name, (long long)row0, (long long)n,
                 err.msg);
    if (memcmp(buf, whole + (size_t)row0 * row_bytes, (size_t)n * row_bytes) != 0)
        fail_msg("%s rows [%lld, %lld) differ from the rows written", name, (long long)row0,
                 (long long)(row0 + n));
    expect_poison(buf + (size_t)n * row_bytes, row_bytes, name);
    free(buf);
}

/* The round trip's datasets: each element type at rank 1 and 2, written
 * whole, as the slice of rows [1, 4) and with no rows. */
enum { N_ROUND_TRIPS = 2 * N_TYPES };

typedef struct {
    h5file_type t;
    int rank;
    int64_t dims[2];
    size_t row_bytes;
    char whole[64], slice[64], none[64]; /* the three datasets' names */
} round_trip;

/* Case c of the round trip, with its values filled into `whole`. */
static void round_trip_case(int c, round_trip *rt, unsigned char *whole)
{
    rt->t = all_types[c / 2];
    rt->rank = 1 + c % 2;
    const int cols = rt->rank == 2 ? COLS : 1;
    rt->dims[0] = ROWS;
    rt->dims[1] = rt->rank == 2 ? COLS : 0;
    rt->row_bytes = type_size(rt->t) * (size_t)cols;
    fill_values(rt->t, whole, (size_t)ROWS * cols);
    snprintf(rt->whole, sizeof rt->whole, "/whole/%s_%dd", type_names[c / 2], rt->rank);
    snprintf(rt->slice, sizeof rt->slice, "/slice/%s_%dd", type_names[c / 2], rt->rank);
    snprintf(rt->none, sizeof rt->none, "/none/%s_%dd", type_names[c / 2], rt->rank);
}

static void test_h5file_write_rows_read_rows_round_trip_each_type(void **state)
{
    group_fixture *g = *state;
    char path[160];
    unsigned char whole[ROWS * COLS * 8], back[ROWS * COLS * 8];
    h5file *f = create_in(g, "rows.h5", path, sizeof path);
    for (int c = 0; c < N_ROUND_TRIPS; c++) {
        round_trip rt;
        round_trip_case(c, &rt, whole);
        /* The whole set from this rank. */
        write_rows(f, rt.whole, rt.t, rt.rank, rt.dims, 0, ROWS, whole);
        /* A middle slice: rows [1, 4) from the slice's own buffer. */
        write_rows(f, rt.slice, rt.t, rt.rank, rt.dims, 1, 3, whole + rt.row_bytes);
        /* No rows at all (what a rank without rows does): no buffer. */
        write_rows(f, rt.none, rt.t, rt.rank, rt.dims, 2, 0, NULL);
    }
    close_file(f);

    f = open_file(path, 0);
    for (int c = 0; c < N_ROUND_TRIPS; c++) {
        round_trip rt;
        round_trip_case(c, &rt, whole);
        check_read(f, rt.whole, rt.t, rt.rank, rt.dims, 0, ROWS, whole); /* whole set */
        check_read(f, rt.whole, rt.t, rt.rank, rt.dims, 1, 3, whole);    /* middle */
        check_read(f, rt.whole, rt.t, rt.rank, rt.dims, ROWS - 1, 1, whole);
        check_read(f, rt.whole, rt.t, rt.rank, rt.dims, 2, 0, whole);    /* none */
        check_read(f, rt.whole, rt.t, rt.rank, rt.dims, ROWS, 0, whole); /* none, at the end */
        /* Stored type and every value, seen by the C API. */
        c_read_dataset(path, rt.whole, rt.t, rt.rank, rt.dims, back);
        assert_memory_equal(back, whole, ROWS * rt.row_bytes);
        /* The slice landed on rows [1, 4). */
        c_read_dataset(path, rt.slice, rt.t, rt.rank, rt.dims, back);
        assert_memory_equal(back + rt.row_bytes, whole + rt.row_bytes, 3 * rt.row_bytes);
        check_read(f, rt.slice, rt.t, rt.rank, rt.dims, 1, 3, whole);
        /* The dataset written with no rows still has its shape. */
        c_read_dataset(path, rt.none, rt.t, rt.rank, rt.dims, back);
    }
    close_file(f);
    remove(path);
}

static void test_h5file_write_rows_creates_empty_dataset(void **state)
{
    group_fixture *g = *state;
    char path[160];
    h5file *f = create_in(g, "empty.h5", path, sizeof path);
    const int64_t d1[2] = {0, 0}, d2[2] = {0, 4};
    ebm_err err = {0};
    /* dims[0] = 0: e.g. --buffer 0's /sampler/chains. */
    write_rows(f, "/e/f32", H5FILE_F32, 2, d2, 0, 0, NULL);
    write_rows(f, "/e/i64", H5FILE_I64, 1, d1, 0, 0, NULL);
    expect_dims(f, "/e/f32", 2, 0, 4, H5FILE_FLOAT);
    expect_dims(f, "/e/i64", 1, 0, 0, H5FILE_INTEGER);
    /* Reading its no rows leaves the buffer alone. */
    unsigned char buf[16];
    memset(buf, POISON, sizeof buf);
    if (h5file_read_rows(f, "/e/f32", H5FILE_F32, 2, d2, 0, 0, buf, &err) ||
        h5file_read_rows(f, "/e/i64", H5FILE_I64, 1, d1, 0, 0, buf, &err))
        fail_msg("h5file_read_rows of an empty dataset: %s", err.msg);
    expect_poison(buf, sizeof buf, "empty dataset");
    close_file(f);
    c_read_dataset(path, "/e/f32", H5FILE_F32, 2, d2, buf);
    c_read_dataset(path, "/e/i64", H5FILE_I64, 1, d1, buf);
    remove(path);
}

static void test_h5file_write_all_writes_rank0_data(void **state)
{
    group_fixture *g = *state;
    char path[160];
    path_in(path, sizeof path, g, "all.h5");
    double v[ROWS * COLS], back[ROWS * COLS];
    fill_values(H5FILE_F64, v, ROWS * COLS);
    const int64_t dims[2] = {ROWS, COLS};
    h5file *f = create_file(path);
    ebm_err err = {0};
    if (h5file_write_all(test_ctx(), f, "/model/w", H5FILE_F64, 2, dims, v, &err))
        fail_msg("h5file_write_all: %s", err.msg);
    close_file(f);
    c_read_dataset(path, "/model/w", H5FILE_F64, 2, dims, back);
    assert_memory_equal(back, v, sizeof v);
    remove(path);
}

/* ---- paths and shapes ------------------------------------------------------ */

static void test_h5file_exists_walks_nested_paths(void **state)
{
    group_fixture *g = *state;
    char path[160];
    h5file *f = create_in(g, "nested.h5", path, sizeof path);
    const int32_t v[2] = {1, 2};
    const int64_t dims[2] = {2, 0};
    assert_false(h5file_exists(f, "/a"));
    write_rows(f, "/a/b/c/data", H5FILE_I32, 1, dims, 0, 2, v);
    assert_true(h5file_exists(f, "/a"));
    assert_true(h5file_exists(f, "/a/b"));
    assert_true(h5file_exists(f, "/a/b/c"));
    assert_true(h5file_exists(f, "/a/b/c/data"));
    assert_false(h5file_exists(f, "/a/b/c/other"));
    assert_false(h5file_exists(f, "/a/x/c/data")); /* missing parent */
    assert_false(h5file_exists(f, "/x/b"));
    assert_false(h5file_exists(f, "/a/b/c/data/below")); /* below a dataset */
    close_file(f);
    /* The parents are real groups, seen by the C API too. */
    const hid_t h = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(h >= 0);
    const char *parents[] = {"/a", "/a/b", "/a/b/c"};
    for (int i = 0; i < 3; i++) {
        const hid_t grp = H5Gopen2(h, parents[i], H5P_DEFAULT);
        if (grp < 0)
            fail_msg("%s is not a group", parents[i]);
        H5Gclose(grp);
    }
    H5Fclose(h);
    remove(path);
}

/* A file made with the C API: a string dataset (neither floats nor integers)
 * and attributes that h5file does not write itself. */
static void make_foreign_file(const char *path)
{
    const hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    const hid_t st = H5Tcopy(H5T_C_S1);
    assert_true(H5Tset_size(st, 8) >= 0);
    const hsize_t dims[1] = {2};
    const hid_t sp = H5Screate_simple(1, dims, NULL);
    const hid_t ds = H5Dcreate2(f, "/names", st, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(ds >= 0);
    assert_true(H5Dwrite(ds, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, "alpha\0\0\0beta\0\0\0\0") >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(st);
    /* A variable-length UTF-8 string attribute, as h5py writes a str. */
    const hid_t vt = H5Tcopy(H5T_C_S1);
    assert_true(H5Tset_size(vt, H5T_VARIABLE) >= 0);
    assert_true(H5Tset_cset(vt, H5T_CSET_UTF8) >= 0);
    const hid_t scalar = H5Screate(H5S_SCALAR);
    const char *text = "digits, variable length \xc3\xa9";
    hid_t a = H5Acreate2(f, "vlen", vt, scalar, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, vt, &text) >= 0);
    H5Aclose(a);
    H5Tclose(vt);
    /* A fixed-length NULLPAD string filling its size exactly (h5py's bytes). */
    const hid_t ft = H5Tcopy(H5T_C_S1);
    assert_true(H5Tset_size(ft, 6) >= 0);
    assert_true(H5Tset_strpad(ft, H5T_STR_NULLPAD) >= 0);
    a = H5Acreate2(f, "fixed", ft, scalar, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, ft, "CC0-10") >= 0);
    H5Aclose(a);
    H5Tclose(ft);
    /* An int32 attribute (h5file writes int64). */
    const int32_t k = 10;
    a = H5Acreate2(f, "num_classes", H5T_STD_I32LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, H5T_NATIVE_INT32, &k) >= 0);
    H5Aclose(a);
    H5Sclose(scalar);
    assert_true(H5Fclose(f) >= 0);
}


static void test_h5file_dims_reports_rank_dims_and_class(void **state)
{
    group_fixture *g = *state;
    char path[160];
    h5file *f = create_in(g, "dims.h5", path, sizeof path);
    unsigned char buf[7 * 4 * 8];
    for (int ti = 0; ti < N_TYPES; ti++) {
        const h5file_type t = all_types[ti];
        fill_values(t, buf, 7 * 4);
        char n1[32], n2[32];
        snprintf(n1, sizeof n1, "/one/%s", type_names[ti]);
        snprintf(n2, sizeof n2, "/two/%s", type_names[ti]);
        const int64_t d1[2] = {7, 0}, d2[2] = {7, 4};
        write_rows(f, n1, t, 1, d1, 0, 7, buf);
        write_rows(f, n2, t, 2, d2, 0, 7, buf);
        const h5file_class cls =
            (t == H5FILE_F32 || t == H5FILE_F64) ? H5FILE_FLOAT : H5FILE_INTEGER;
        expect_dims(f, n1, 1, 7, 0, cls); /* dims[1] is 0 for a 1-D dataset */
        expect_dims(f, n2, 2, 7, 4, cls);
    }
    /* A missing dataset fails naming the file and the dataset. */
    int r;
    int64_t dims[2];
    h5file_class c;
    ebm_err err = {0};
    assert_int_equal(h5file_dims(f, "/one/missing", &r, dims, &c, &err), -1);
    expect_in(err.msg, path);
    expect_in(err.msg, "/one/missing");
    close_file(f);
    remove(path);

    /* Neither floats nor integers. */
    path_in(path, sizeof path, g, "foreign_dims.h5");
    make_foreign_file(path);
    f = open_file(path, 0);
    expect_dims(f, "/names", 1, 2, 0, H5FILE_OTHER);
    close_file(f);
    remove(path);
}

static void test_h5file_read_rows_fails_wrong_shape(void **state)
{
    group_fixture *g = *state;
    char path[160];
    h5file *f = create_in(g, "shape.h5", path, sizeof path);
    int32_t m[4 * 3], v[5];
    fill_values(H5FILE_I32, m, 12);
    fill_values(H5FILE_I32, v, 5);
    const int64_t dm[2] = {4, 3}, dv[2] = {5, 0};
    write_rows(f, "/grp/m", H5FILE_I32, 2, dm, 0, 4, m);
    write_rows(f, "/grp/v", H5FILE_I32, 1, dv, 0, 5, v);
    unsigned char buf[64];
    memset(buf, POISON, sizeof buf);

    /* Each read asks for a shape the dataset does not have; the message
     * names what it must (NULL ends a list). */
    const struct {
        const char *name;
        int rank;
        int64_t dims[2], n;
        const char *needles[5];
    } refusals[] = {
        /* 2-D, other column count: both shapes named. */
        {"/grp/m", 2, {4, 2}, 4, {path, "/grp/m", "4 x 3", "[4, 2]", NULL}},
        /* 2-D, other row count. */
        {"/grp/m", 2, {5, 3}, 1, {"4 x 3", "[5, 3]", NULL}},
        /* 1-D, other length. */
        {"/grp/v", 1, {4, 0}, 4, {path, "/grp/v", "of 5", "[4]", NULL}},
        /* Other rank: the file's rank and the expected shape are named (the
         * file's extent is not: see the report on h5file.c). */
        {"/grp/m", 1, {4, 0}, 4, {"/grp/m", "2 dimension(s)", "[4]", NULL}},
        /* A missing dataset. */
        {"/grp/none", 1, {4, 0}, 4, {path, "/grp/none", NULL}},
    };
    for (size_t r = 0; r < sizeof refusals / sizeof refusals[0]; r++) {
        ebm_err err = {0};
        if (h5file_read_rows(f, refusals[r].name, H5FILE_I32, refusals[r].rank, refusals[r].dims,
                             0, refusals[r].n, buf, &err) != -1)
            fail_msg("refusal %zu: reading %s as [%lld, %lld] was not refused", r,
                     refusals[r].name, (long long)refusals[r].dims[0],
                     (long long)refusals[r].dims[1]);
        for (const char *const *needle = refusals[r].needles; *needle; needle++)
            expect_in(err.msg, *needle);
    }
    /* Nothing was read into the buffer by the refused calls. */
    expect_poison(buf, sizeof buf, "refused reads");
    /* The file is still usable afterwards. */
    check_read(f, "/grp/m", H5FILE_I32, 2, dm, 1, 2, (const unsigned char *)m);
    close_file(f);
    remove(path);
}

/* ---- attributes ------------------------------------------------------------ */

/* A scalar attribute of `obj`, read with the C API as its stored class. */
static void c_attr(hid_t f, const char *obj, const char *name, H5T_class_t cls, size_t size,
                   hid_t mtype, void *out)
{
    const hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        fail_msg("no attribute %s of %s", name, obj);
    const hid_t t = H5Aget_type(a);
    assert_int_equal(H5Tget_class(t), cls);
    if (size)
        assert_int_equal(H5Tget_size(t), size);
    const hid_t sp = H5Aget_space(a);
    assert_int_equal(H5Sget_simple_extent_type(sp), H5S_SCALAR);
    H5Sclose(sp);
    assert_true(H5Aread(a, mtype < 0 ? t : mtype, out) >= 0);
    H5Tclose(t);
    H5Aclose(a);
}

static void test_h5file_attr_round_trips_each_kind(void **state)
{
    group_fixture *g = *state;
    char path[160];
    path_in(path, sizeof path, g, "attrs.h5");
    /* Beyond 2^53, so an int64 stored through a double would show. */
    const int64_t big = INT64_C(9007199254740993);
    const char *text = "stable preset, H = 16 \xc3\xa9";
    const char *objs[] = {"/", "/grp/ds"};
    h5file *f = create_file(path);
    const float one = 1.0f;
    const int64_t d1[2] = {1, 0};
    ebm_err err = {0};
    write_rows(f, "/grp/ds", H5FILE_F32, 1, d1, 0, 1, &one);
    for (int o = 0; o < 2; o++) {
        if (h5file_attr_write_int(f, objs[o], "big", big, &err) ||
            h5file_attr_write_int(f, objs[o], "negative", -7, &err) ||
            h5file_attr_write_double(f, objs[o], "lr", 1e-3, &err) ||
            h5file_attr_write_double(f, objs[o], "tiny", -4.9e-324, &err) ||
            h5file_attr_write_string(f, objs[o], "preset", text, &err) ||
            h5file_attr_write_string(f, objs[o], "empty", "", &err))
            fail_msg("h5file_attr_write_* on %s: %s", objs[o], err.msg);
    }
    if (h5file_flush(f, &err))
        fail_msg("h5file_flush: %s", err.msg);
    close_file(f);

    f = open_file(path, 0);
    for (int o = 0; o < 2; o++) {
        const char *obj = objs[o];
        assert_true(h5file_attr_exists(f, obj, "big"));
        assert_true(h5file_attr_exists(f, obj, "preset"));
        assert_false(h5file_attr_exists(f, obj, "absent"));
        double v = 0;
        assert_int_equal(h5file_attr_read_double(f, obj, "negative", &v, &err), 0);
        assert_true(v == -7.0);
        assert_int_equal(h5file_attr_read_double(f, obj, "big", &v, &err), 0);
        assert_true(v == 9007199254740992.0); /* the nearest double */
        assert_int_equal(h5file_attr_read_double(f, obj, "lr", &v, &err), 0);
        assert_true(v == 1e-3);
        assert_int_equal(h5file_attr_read_double(f, obj, "tiny", &v, &err), 0);
        assert_true(v == -4.9e-324);
        char buf[64];
        h5file_attr_read_string(f, obj, "preset", buf, sizeof buf);
        assert_string_equal(buf, text);
        memset(buf, 'x', sizeof buf);
        h5file_attr_read_string(f, obj, "empty", buf, sizeof buf);
        assert_string_equal(buf, "");
        /* Truncated to the buffer, still terminated. */
        h5file_attr_read_string(f, obj, "preset", buf, 7);
        assert_string_equal(buf, "stable");
    }
    close_file(f);

    /* Stored kinds, seen by the C API: int64, float64, fixed-length strings. */
    const hid_t h = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(h >= 0);
    for (int o = 0; o < 2; o++) {
        int64_t i = 0;
        c_attr(h, objs[o], "big", H5T_INTEGER, 8, H5T_NATIVE_INT64, &i);
        assert_true(i == big);
        double d = 0;
        c_attr(h, objs[o], "lr", H5T_FLOAT, 8, H5T_NATIVE_DOUBLE, &d);
        assert_true(d == 1e-3);
        char s[64] = "";
        c_attr(h, objs[o], "preset", H5T_STRING, strlen(text) + 1, -1, s);
        assert_string_equal(s, text);
    }
    H5Fclose(h);
    remove(path);
}

static void test_h5file_attr_write_list_writes_each_kind(void **state)
{
    group_fixture *g = *state;
    char path[160];
    path_in(path, sizeof path, g, "attr_list.h5");
    const h5file_attr list[] = {
        {"world_size", H5FILE_ATTR_INT, INT64_C(-9007199254740993), 0.0, NULL},
        {"lr", H5FILE_ATTR_DOUBLE, 0, 2.5e-4, NULL},
        {"preset", H5FILE_ATTR_TEXT, 0, 0.0, "stable"},
        {"hosts", H5FILE_ATTR_TEXT, 0, 0.0, NULL}, /* no text: written as "" */
    };
    h5file *f = create_file(path);
    ebm_err err = {0};
    if (h5file_attr_write_list(f, "/", list, 4, &err))
        fail_msg("h5file_attr_write_list: %s", err.msg);
    /* Nothing at all is fine too. */
    if (h5file_attr_write_list(f, "/", list, 0, &err))
        fail_msg("h5file_attr_write_list of none: %s", err.msg);
    close_file(f);
    const hid_t h = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(h >= 0);
    int64_t i = 0;
    c_attr(h, "/", "world_size", H5T_INTEGER, 8, H5T_NATIVE_INT64, &i);
    assert_true(i == INT64_C(-9007199254740993));
    double d = 0;
    c_attr(h, "/", "lr", H5T_FLOAT, 8, H5T_NATIVE_DOUBLE, &d);
    assert_true(d == 2.5e-4);
    char s[32];
    memset(s, 'x', sizeof s);
    c_attr(h, "/", "preset", H5T_STRING, 0, -1, s);
    assert_string_equal(s, "stable");
    memset(s, 'x', sizeof s);
    c_attr(h, "/", "hosts", H5T_STRING, 0, -1, s);
    assert_string_equal(s, "");
    H5Fclose(h);
    remove(path);
}

static void test_h5file_attr_read_double_fails_naming_missing(void **state)
{
    group_fixture *g = *state;
    char path[160];
    h5file *f = create_in(g, "missing_attr.h5", path, sizeof path);
    const float one = 1.0f;
    const int64_t d1[2] = {1, 0};
    ebm_err err = {0};
    if (h5file_write_rows(f, "/ds", H5FILE_F32, 1, d1, 0, 1, &one, &err) ||
        h5file_attr_write_string(f, "/", "word", "seven", &err))
        fail_msg("writing the fixture: %s", err.msg);
    double v = 42;
    memset(&err, 0, sizeof err);
    assert_int_equal(h5file_attr_read_double(f, "/", "num_classes", &v, &err), -1);
    expect_in(err.msg, path);
    expect_in(err.msg, "num_classes");
    memset(&err, 0, sizeof err);
    assert_int_equal(h5file_attr_read_double(f, "/ds", "step", &v, &err), -1);
    expect_in(err.msg, "step");
    expect_in(err.msg, "/ds");
    /* A string is not a number. */
    memset(&err, 0, sizeof err);
    assert_int_equal(h5file_attr_read_double(f, "/", "word", &v, &err), -1);
    expect_in(err.msg, "word");
    expect_in(err.msg, "not a number");
    assert_true(v == 42);
    close_file(f);
    remove(path);
}

static void test_h5file_attr_read_string_reads_vlen_and_returns_empty_when_absent(void **state)
{
    group_fixture *g = *state;
    char path[160];
    path_in(path, sizeof path, g, "strings.h5");
    make_foreign_file(path);
    h5file *f = open_file(path, 0);
    char buf[64];
    h5file_attr_read_string(f, "/", "vlen", buf, sizeof buf);
    assert_string_equal(buf, "digits, variable length \xc3\xa9");
    h5file_attr_read_string(f, "/", "fixed", buf, sizeof buf);
    assert_string_equal(buf, "CC0-10"); /* no terminator stored */
    /* Absent, not a string, on a missing object: "". */
    memset(buf, 'x', sizeof buf);
    h5file_attr_read_string(f, "/", "absent", buf, sizeof buf);
    assert_string_equal(buf, "");
    memset(buf, 'x', sizeof buf);
    h5file_attr_read_string(f, "/", "num_classes", buf, sizeof buf);
    assert_string_equal(buf, "");
    memset(buf, 'x', sizeof buf);
    h5file_attr_read_string(f, "/no/such/group", "vlen", buf, sizeof buf);
    assert_string_equal(buf, "");
    /* An int32 attribute reads as a number. */
    double v = 0;
    ebm_err err = {0};
    assert_int_equal(h5file_attr_read_double(f, "/", "num_classes", &v, &err), 0);
    assert_true(v == 10.0);
    close_file(f);
    remove(path);
}

/* ---- growing columns ------------------------------------------------------- */

static void expect_column(const char *path, const double *want, int64_t n)
{
    double got[16];
    const int64_t dims[2] = {n, 0};
    c_read_dataset(path, "/col", H5FILE_F64, 1, dims, got);
    for (int64_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("/col row %lld: %g, expected %g", (long long)i, got[i], want[i]);
}

static void resize(const char *path, int64_t n, const double *rows, int64_t expect_old)
{
    h5file *f = open_file(path, 1);
    int64_t old = -1;
    ebm_err err = {0};
    if (h5file_column_resize(f, "/col", n, rows, &old, &err))
        fail_msg("h5file_column_resize(%lld): %s", (long long)n, err.msg);
    assert_int_equal(old, expect_old);
    close_file(f);
}

static void test_h5file_column_resize_grows_shrinks_and_reports_old_length(void **state)
{
    group_fixture *g = *state;
    char path[160];
    h5file *f = create_in(g, "column.h5", path, sizeof path);
    ebm_err err = {0};
    if (h5file_column_create(f, "/col", 4, &err))
        fail_msg("h5file_column_create: %s", err.msg);
    close_file(f);
    expect_column(path, NULL, 0);

    /* Grow from 0 to 3. */
    const double a[3] = {1.5, 2.5, 3.5};
    resize(path, 3, a, 0);
    expect_column(path, a, 3);
    /* Grow to 7, past the chunk: only rows [3, 7) are taken from the array. */
    const double b[7] = {-1, -2, -3, 4.25, 5.25, 6.25, 7.25};
    resize(path, 7, b, 3);
    const double after_b[7] = {1.5, 2.5, 3.5, 4.25, 5.25, 6.25, 7.25};
    expect_column(path, after_b, 7);
    /* Shrink to 2: the rows past it are dropped. */
    resize(path, 2, b, 7);
    expect_column(path, after_b, 2);
    /* Grow again: the new rows, not the dropped ones. */
    const double c[5] = {-9, -9, 10.5, 11.5, 12.5};
    resize(path, 5, c, 2);
    const double after_c[5] = {1.5, 2.5, 10.5, 11.5, 12.5};
    expect_column(path, after_c, 5);
    /* Same length: nothing changes; old_length may be NULL. */
    f = open_file(path, 1);
    if (h5file_column_resize(f, "/col", 5, b, NULL, &err))
        fail_msg("h5file_column_resize(5): %s", err.msg);
    /* A missing column fails naming it. */
    memset(&err, 0, sizeof err);
    assert_int_equal(h5file_column_resize(f, "/other", 2, a, NULL, &err), -1);
    expect_in(err.msg, path);
    expect_in(err.msg, "/other");
    close_file(f);
    expect_column(path, after_c, 5);
    /* To nothing. */
    resize(path, 0, a, 5);
    expect_column(path, NULL, 0);

    /* Chunked in 4 rows, unlimited, float64. */
    const hid_t h = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(h >= 0);
    const hid_t ds = H5Dopen2(h, "/col", H5P_DEFAULT);
    assert_true(ds >= 0);
    const hid_t sp = H5Dget_space(ds);
    hsize_t cur = 1, max = 0;
    H5Sget_simple_extent_dims(sp, &cur, &max);
    assert_true(max == H5S_UNLIMITED);
    H5Sclose(sp);
    const hid_t dcpl = H5Dget_create_plist(ds);
    hsize_t chunk = 0;
    assert_int_equal(H5Pget_chunk(dcpl, 1, &chunk), 1);
    assert_int_equal(chunk, 4);
    H5Pclose(dcpl);
    H5Dclose(ds);
    H5Fclose(h);
    remove(path);
}

/* ---- atomic files ------------------------------------------------------------- */

/* A file holding only the root attribute version = v, through h5file. */
static void write_version_file(const char *path, int64_t v)
{
    h5file *f = create_file(path);
    ebm_err err = {0};
    if (h5file_attr_write_int(f, "/", "version", v, &err))
        fail_msg("h5file_attr_write_int: %s", err.msg);
    close_file(f);
}

static int64_t c_version(const char *path)
{
    const hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        fail_msg("'%s' is not a readable HDF5 file", path);
    int64_t v = -1;
    c_attr(f, "/", "version", H5T_INTEGER, 8, H5T_NATIVE_INT64, &v);
    H5Fclose(f);
    return v;
}

static void test_h5file_publish_renames_tmp_to_path(void **state)
{
    group_fixture *g = *state;
    char path[160], tmp[170];
    h5t_paths(g->dir, "published.h5", path, sizeof path, tmp, sizeof tmp);
    ebm_err err = {0};
    /* First publication: no previous file. */
    write_version_file(tmp, 1);
    if (h5file_publish(test_ctx(), 0, tmp, path, &err))
        fail_msg("h5file_publish: %s", err.msg);
    assert_false(h5t_file_exists(tmp));
    assert_int_equal(c_version(path), 1);
    /* Over an existing file: replaced whole. */
    write_version_file(tmp, 2);
    if (h5file_publish(test_ctx(), 0, tmp, path, &err))
        fail_msg("h5file_publish: %s", err.msg);
    assert_false(h5t_file_exists(tmp));
    assert_int_equal(c_version(path), 2);
    remove(path);
}

static void test_h5file_publish_keeps_previous_file_on_failure(void **state)
{
    group_fixture *g = *state;
    char path[160], tmp[170];
    h5t_paths(g->dir, "kept.h5", path, sizeof path, tmp, sizeof tmp);
    write_version_file(tmp, 1);
    ebm_err err = {0};
    if (h5file_publish(test_ctx(), 0, tmp, path, &err))
        fail_msg("h5file_publish: %s", err.msg);
    /* The next write failed (rc != 0) after leaving a temporary file. */
    write_version_file(tmp, 2);
    memset(&err, 0, sizeof err);
    const int rc = ebm_fail(&err, "writer failed on '%s'", tmp);
    assert_int_equal(h5file_publish(test_ctx(), rc, tmp, path, &err), -1);
    expect_in(err.msg, "writer failed"); /* the writer's message is kept */
    assert_int_equal(c_version(path), 1);
    assert_false(h5t_file_exists(tmp)); /* not renamed, and removed: no stale .tmp */
    remove(path);
}

static void test_h5file_publish_fails_missing_tmp(void **state)
{
    group_fixture *g = *state;
    char path[160], tmp[170];
    h5t_paths(g->dir, "never.h5", path, sizeof path, tmp, sizeof tmp);
    ebm_err err = {0};
    assert_int_equal(h5file_publish(test_ctx(), 0, tmp, path, &err), -1);
    expect_in(err.msg, tmp);
    assert_false(h5t_file_exists(path));
}

/* An atomic write whose temporary file another process swaps for a link to
 * a victim file while it is written (a hostile neighbour in a shared
 * directory): the write fails naming it, the victim is untouched, nothing
 * is published as the output and no temporary name is left. */
typedef struct {
    const char *path, *victim;
    char tmp[256];
} swap_job;

static int swap_tmp_for_link(h5file *f, void *data, ebm_err *err)
{
    (void)f, (void)err;
    swap_job *job = data;
    char pattern[300];
    snprintf(pattern, sizeof pattern, "%s.tmp*", job->path);
    glob_t gl;
    if (glob(pattern, 0, NULL, &gl) != 0 || gl.gl_pathc != 1)
        fail_msg("expected one temporary file %s", pattern);
    snprintf(job->tmp, sizeof job->tmp, "%s", gl.gl_pathv[0]);
    globfree(&gl);
    if (unlink(job->tmp) != 0 || symlink(job->victim, job->tmp) != 0)
        fail_msg("cannot swap %s for a link: %s", job->tmp, strerror(errno));
    return 0;
}

static void test_h5file_write_atomic_never_publishes_a_swapped_file(void **state)
{
    group_fixture *g = *state;
    char path[160], victim[160];
    path_in(path, sizeof path, g, "swapped.h5");
    path_in(victim, sizeof victim, g, "victim.txt");
    static const char text[] = "the victim's own bytes\n";
    h5t_write_text_file(victim, text);
    swap_job job = {path, victim, ""};
    ebm_err err = {0};
    assert_int_equal(h5file_write_atomic(test_ctx(), path, swap_tmp_for_link, &job, &err), -1);
    expect_in(err.msg, job.tmp);
    struct stat st;
    if (lstat(path, &st) == 0)
        fail_msg("'%s' was published (%s) from a swapped temporary file", path,
                 S_ISLNK(st.st_mode) ? "a link to the victim" : "a file");
    char back[64] = "";
    FILE *fp = fopen(victim, "r");
    assert_non_null(fp);
    assert_non_null(fgets(back, sizeof back, fp));
    fclose(fp);
    assert_string_equal(back, text);
    assert_int_equal(tmp_files_left(path), 0);
    assert_false(h5t_file_exists(job.tmp));
    remove(victim);
}

/* ---- refusals ------------------------------------------------------------------ */

static void test_h5file_precheck_refuses_missing_directory_and_text(void **state)
{
    group_fixture *g = *state;
    char path[160];
    ebm_err err = {0};
    /* Missing. */
    path_in(path, sizeof path, g, "absent.h5");
    assert_int_equal(h5file_precheck(path, "data file", &err), -1);
    expect_in(err.msg, path);
    expect_in(err.msg, "data file");
    expect_in(err.msg, strerror(ENOENT));
    /* A directory. */
    path_in(path, sizeof path, g, "subdir.h5");
    assert_int_equal(mkdir(path, 0700), 0);
    memset(&err, 0, sizeof err);
    assert_int_equal(h5file_precheck(path, "checkpoint", &err), -1);
    expect_in(err.msg, path);
    expect_in(err.msg, "checkpoint");
    expect_in(err.msg, "not a regular file");
    rmdir(path);
    /* Text. */
    path_in(path, sizeof path, g, "text.h5");
    h5t_write_text_file(path, "this is not an HDF5 file at all\n");
    memset(&err, 0, sizeof err);
    assert_int_equal(h5file_precheck(path, "metrics file", &err), -1);
    expect_in(err.msg, path);
    expect_in(err.msg, "metrics file");
    expect_in(err.msg, "not an HDF5 file");
    /* h5file_open refuses it the same way, leaving no handle. */
    h5file *f = (h5file *)path; /* must be reset */
    memset(&err, 0, sizeof err);
    assert_int_equal(h5file_open(test_ctx(), path, "metrics file", 0, &f, &err), -1);
    assert_null(f);
    expect_in(err.msg, "not an HDF5 file");
    remove(path);
    /* An HDF5 file passes. */
    path_in(path, sizeof path, g, "good.h5");
    write_version_file(path, 3);
    assert_int_equal(h5file_precheck(path, "checkpoint", &err), 0);
    remove(path);
}

static void test_h5file_create_fails_missing_directory(void **state)
{
    group_fixture *g = *state;
    char path[160];
    path_in(path, sizeof path, g, "no/such/dir/new.h5");
    h5file *f = (h5file *)path; /* must be reset */
    ebm_err err = {0};
    assert_int_equal(h5file_create(test_ctx(), path, &f, &err), -1);
    assert_null(f);
    expect_in(err.msg, path);
    assert_false(h5t_file_exists(path));
}

static void test_h5file_library_version_matches_header(void **state)
{
    (void)state;
    /* The library HDF5 checks against its header at start-up (H5check). */
    char want[32], got[32];
    snprintf(want, sizeof want, "%d.%d.%d", H5_VERS_MAJOR, H5_VERS_MINOR, H5_VERS_RELEASE);
    h5file_library_version(got, sizeof got);
    assert_string_equal(got, want);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h5file_write_rows_read_rows_round_trip_each_type),
        cmocka_unit_test(test_h5file_write_rows_creates_empty_dataset),
        cmocka_unit_test(test_h5file_write_all_writes_rank0_data),
        cmocka_unit_test(test_h5file_exists_walks_nested_paths),
        cmocka_unit_test(test_h5file_dims_reports_rank_dims_and_class),
        cmocka_unit_test(test_h5file_read_rows_fails_wrong_shape),
        cmocka_unit_test(test_h5file_attr_round_trips_each_kind),
        cmocka_unit_test(test_h5file_attr_write_list_writes_each_kind),
        cmocka_unit_test(test_h5file_attr_read_double_fails_naming_missing),
        cmocka_unit_test(test_h5file_attr_read_string_reads_vlen_and_returns_empty_when_absent),
        cmocka_unit_test(test_h5file_column_resize_grows_shrinks_and_reports_old_length),
        cmocka_unit_test(test_h5file_publish_renames_tmp_to_path),
        cmocka_unit_test(test_h5file_publish_keeps_previous_file_on_failure),
        cmocka_unit_test(test_h5file_publish_fails_missing_tmp),
        cmocka_unit_test(test_h5file_write_atomic_never_publishes_a_swapped_file),
        cmocka_unit_test(test_h5file_precheck_refuses_missing_directory_and_text),
        cmocka_unit_test(test_h5file_create_fails_missing_directory),
        cmocka_unit_test(test_h5file_library_version_matches_header),
    };
    return harness_run(argc, argv, "test_h5file", tests, HARNESS_COUNT(tests), group_setup,
                       h5t_group_teardown);
}
