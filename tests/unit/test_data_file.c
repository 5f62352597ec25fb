/* test_data_file.c: the data file (io/data_file.h): its layout checked at
 * open, shard reads and the checksum, on a singleton MPI process. Fixture
 * files are made with the HDF5 C API directly, in the layout of
 * docs/design.md section 3, in a fresh directory under /tmp that the group
 * teardown removes. Reference values come from the fixture's own formulas
 * (fx_pixel, fx_label) and, for the checksum, from FNV-1a's published test
 * vectors and a byte loop written here from its definition. */
#define _XOPEN_SOURCE 700
#include <errno.h>
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

#include "core/data.h"
#include "io/data_file.h"

/* The fixture data set: D = 2 x 3 pixels, K = 3 classes. */
enum { FX_H = 2, FX_W = 3, FX_D = FX_H * FX_W, FX_K = 3 };
static const int64_t fx_n[SPLIT_COUNT] = {10, 5, 4};
static const char fx_source[] = "unit-test fixture (sklearn digits layout)";
static const char fx_license[] = "CC0-1.0";

/* Exact in float: multiples of 1/16 inside [0, 16]. */
static float fx_pixel(int split, int64_t i, int j)
{
    return (float)(split * 100 + i * FX_D + j) * 0.0625f;
}
static int32_t fx_label(int split, int64_t i) { return (int32_t)((i * 7 + split) % FX_K); }

typedef struct {
    char dir[H5T_DIR_LEN]; /* first: h5_test_files.h */
    char data_fixed[128]; /* string attributes fixed-length (NULLPAD, as h5py) */
    char data_vlen[128];  /* string attributes variable-length UTF-8 */
} group_fixture;
H5T_FIXTURE_CHECK(group_fixture);

/* ---- fixture files ------------------------------------------------------- */

typedef struct {
    int vlen_strings;
    int omit_val_labels;
    int64_t val_labels_n; /* 0: the same as the images */
    int omit_num_classes;
} data_opts;

/* A data file in the layout of docs/design.md section 3, serial HDF5. */
static int make_data_file(const char *path, const data_opts *o)
{
    const hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        return -1;
    int rc = 0;
    for (int s = 0; s < SPLIT_COUNT && rc == 0; s++) {
        const int64_t n = fx_n[s];
        float *img = calloc((size_t)(n * FX_D), sizeof *img);
        int32_t *lab = calloc((size_t)n + 8, sizeof *lab);
        if (!img || !lab) {
            free(img), free(lab);
            rc = -1;
            break;
        }
        for (int64_t i = 0; i < n; i++) {
            lab[i] = fx_label(s, i);
            for (int j = 0; j < FX_D; j++)
                img[i * FX_D + j] = fx_pixel(s, i, j);
        }
        const hid_t g = H5Gcreate2(f, data_split_names[s], H5P_DEFAULT, H5P_DEFAULT,
                                   H5P_DEFAULT);
        const hsize_t di[2] = {(hsize_t)n, FX_D};
        hsize_t dl[1] = {(hsize_t)n};
        if (s == SPLIT_VAL && o->val_labels_n > 0)
            dl[0] = (hsize_t)o->val_labels_n;
        rc = g < 0 ? -1 : 0;
        if (rc == 0)
            rc = h5t_write_dataset(g, "images", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, di, img);
        if (rc == 0 && !(s == SPLIT_VAL && o->omit_val_labels))
            rc = h5t_write_dataset(g, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dl, lab);
        if (g >= 0)
            H5Gclose(g);
        free(img), free(lab);
    }
    const int32_t k = FX_K, h = FX_H, w = FX_W;
    const double vmin = 0.0, vmax = 16.0;
    if (rc == 0 && !o->omit_num_classes)
        rc = h5t_write_scalar_attr(f, "num_classes", H5T_NATIVE_INT32, &k);
    if (rc == 0)
        rc = h5t_write_scalar_attr(f, "height", H5T_NATIVE_INT32, &h);
    if (rc == 0)
        rc = h5t_write_scalar_attr(f, "width", H5T_NATIVE_INT32, &w);
    if (rc == 0)
        rc = h5t_write_scalar_attr(f, "value_min", H5T_NATIVE_DOUBLE, &vmin);
    if (rc == 0)
        rc = h5t_write_scalar_attr(f, "value_max", H5T_NATIVE_DOUBLE, &vmax);
    if (rc == 0)
        rc = h5t_write_string_attr(f, "source", fx_source, o->vlen_strings);
    if (rc == 0)
        rc = h5t_write_string_attr(f, "license", fx_license, o->vlen_strings);
    if (H5Fclose(f) < 0)
        rc = -1;
    return rc;
}

static int group_setup(void **state)
{
    group_fixture *g = h5t_fixture_new(sizeof *g, "test_data_file");
    if (!g)
        return -1;
    snprintf(g->data_fixed, sizeof g->data_fixed, "%s/data.h5", g->dir);
    snprintf(g->data_vlen, sizeof g->data_vlen, "%s/data_vlen.h5", g->dir);
    const data_opts fixed = {0, 0, 0, 0}, vlen = {1, 0, 0, 0};
    if (make_data_file(g->data_fixed, &fixed) || make_data_file(g->data_vlen, &vlen)) {
        h5t_fixture_free(g);
        return -1;
    }
    *state = g;
    return 0;
}

/* ---- data file ---------------------------------------------------------- */

/* data_file_open of path; a failure fails the test. */
static data_file *open_data_file(const char *path, data_info *info)
{
    data_file *f = NULL;
    ebm_err err = {0};
    if (data_file_open(test_ctx(), path, &f, info, &err))
        fail_msg("data_file_open('%s'): %s", path, err.msg);
    assert_non_null(f);
    return f;
}

/* Opens path and checks the info it reports against the fixture. */
static void check_info(const char *path)
{
    data_info info;
    data_file *f = open_data_file(path, &info);
    assert_int_equal(info.d, FX_D);
    assert_int_equal(info.k, FX_K);
    assert_int_equal(info.height, FX_H);
    assert_int_equal(info.width, FX_W);
    for (int s = 0; s < SPLIT_COUNT; s++)
        assert_int_equal(info.n[s], fx_n[s]);
    assert_true(info.value_min == 0.0);
    assert_true(info.value_max == 16.0);
    assert_string_equal(info.source, fx_source);
    assert_string_equal(info.license, fx_license);
    data_file_close(f);
}

static void test_data_file_open_reads_info(void **state)
{
    check_info(((group_fixture *)*state)->data_fixed);
}

static void test_data_file_open_reads_vlen_string_attributes(void **state)
{
    check_info(((group_fixture *)*state)->data_vlen);
}

static void check_shard(data_file *f, int split, int64_t offset, int64_t n)
{
    data_shard sh;
    ebm_err err = {0};
    assert_int_equal(data_shard_alloc(&sh, fx_n[split], offset, n, FX_D, &err), 0);
    /* Poison so that rows not read show up. */
    for (int64_t i = 0; i < n; i++) {
        sh.labels[i] = -777;
        for (int j = 0; j < FX_D; j++)
            sh.images[i * FX_D + j] = -1.0f;
    }
    if (data_file_read(f, split, &sh, &err))
        fail_msg("data_file_read(%s, offset %lld, n %lld): %s", data_split_names[split],
                 (long long)offset, (long long)n, err.msg);
    for (int64_t i = 0; i < n; i++) {
        if (sh.labels[i] != fx_label(split, offset + i))
            fail_msg("%s row %lld: label %d, expected %d", data_split_names[split],
                     (long long)(offset + i), sh.labels[i], fx_label(split, offset + i));
        for (int j = 0; j < FX_D; j++)
            if (sh.images[i * FX_D + j] != fx_pixel(split, offset + i, j))
                fail_msg("%s row %lld pixel %d: %g, expected %g", data_split_names[split],
                         (long long)(offset + i), j, (double)sh.images[i * FX_D + j],
                         (double)fx_pixel(split, offset + i, j));
    }
    data_shard_free(&sh);
}

static void test_data_file_read_returns_shard_rows(void **state)
{
    group_fixture *g = *state;
    data_info info;
    data_file *f = open_data_file(g->data_fixed, &info);
    check_shard(f, SPLIT_TRAIN, 3, 4);                /* middle */
    check_shard(f, SPLIT_TRAIN, 0, 1);                /* first row */
    check_shard(f, SPLIT_TRAIN, 9, 1);                /* last row */
    check_shard(f, SPLIT_TRAIN, 0, fx_n[SPLIT_TRAIN]); /* whole split */
    check_shard(f, SPLIT_VAL, 2, 3);
    check_shard(f, SPLIT_TEST, 1, 3);
    data_file_close(f);
}

static void test_data_file_read_zero_rows_writes_nothing(void **state)
{
    group_fixture *g = *state;
    data_info info;
    data_file *f = open_data_file(g->data_fixed, &info);
    ebm_err err = {0};
    /* Guard buffers of one row: nothing may be written into them. */
    float images[FX_D];
    int32_t labels[1] = {42};
    for (int j = 0; j < FX_D; j++)
        images[j] = 42.0f;
    data_shard sh = {fx_n[SPLIT_TRAIN], 5, 0, FX_D, images, labels};
    if (data_file_read(f, SPLIT_TRAIN, &sh, &err))
        fail_msg("data_file_read with n = 0: %s", err.msg);
    for (int j = 0; j < FX_D; j++)
        assert_true(images[j] == 42.0f);
    assert_int_equal(labels[0], 42);
    /* Also at the very end of the split (a rank past the last example). */
    sh.offset = fx_n[SPLIT_TRAIN];
    if (data_file_read(f, SPLIT_TRAIN, &sh, &err))
        fail_msg("data_file_read with n = 0 at the end: %s", err.msg);
    assert_int_equal(labels[0], 42);
    /* The file is still usable afterwards. */
    check_shard(f, SPLIT_VAL, 0, 5);
    data_file_close(f);
}

static void expect_data_refused(const char *path, const char *needle)
{
    data_file *f = (data_file *)test_ctx(); /* must be reset to NULL */
    data_info info;
    ebm_err err = {0};
    if (data_file_open(test_ctx(), path, &f, &info, &err) != -1)
        fail_msg("data_file_open('%s') accepted a bad file", path);
    assert_null(f);
    if (!strstr(err.msg, needle))
        fail_msg("message '%s' does not mention '%s'", err.msg, needle);
}

/* A data file <dir>/<name> made with the flaw o asks for; its path in path. */
static void make_flawed_file(const group_fixture *g, const char *name, data_opts o, char *path,
                             size_t len)
{
    snprintf(path, len, "%s/%s", g->dir, name);
    assert_int_equal(make_data_file(path, &o), 0);
}

static void test_data_file_open_fails_missing_val_labels(void **state)
{
    char path[160];
    make_flawed_file(*state, "no_val_labels.h5", (data_opts){.omit_val_labels = 1}, path,
                     sizeof path);
    expect_data_refused(path, "/val/labels");
}

static void test_data_file_open_fails_count_mismatch(void **state)
{
    char path[160]; /* 4 val labels for 5 val images */
    make_flawed_file(*state, "mismatch.h5", (data_opts){.val_labels_n = 4}, path, sizeof path);
    expect_data_refused(path, "/val/labels");
    expect_data_refused(path, "4 labels");
    expect_data_refused(path, "5 images");
}

static void test_data_file_open_fails_missing_num_classes(void **state)
{
    char path[160];
    make_flawed_file(*state, "no_k.h5", (data_opts){.omit_num_classes = 1}, path, sizeof path);
    expect_data_refused(path, "num_classes");
}

static void test_data_file_open_fails_missing_or_not_hdf5(void **state)
{
    group_fixture *g = *state;
    char path[160];
    snprintf(path, sizeof path, "%s/absent.h5", g->dir);
    expect_data_refused(path, path);
    snprintf(path, sizeof path, "%s/text.h5", g->dir);
    h5t_write_text_file(path, "this is not an HDF5 file\n");
    expect_data_refused(path, "not an HDF5 file");
}

/* ---- checksum ------------------------------------------------------------ */

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/* data_file_checksum of path; a failure fails the test. */
static uint64_t checksum_of(const char *path)
{
    uint64_t sum = 0;
    ebm_err err = {0};
    if (data_file_checksum(path, &sum, &err))
        fail_msg("data_file_checksum: %s", err.msg);
    return sum;
}

static void test_data_file_checksum_matches_fnv1a_vectors(void **state)
{
    group_fixture *g = *state;
    /* The published FNV-1a 64 test vectors (Fowler, Noll, Vo: the offset
     * basis for the empty input, and the hashes of "a" and "foobar"). */
    static const struct {
        const char *text;
        uint64_t sum;
    } vec[] = {
        {"", 0xcbf29ce484222325ULL},
        {"a", 0xaf63dc4c8601ec8cULL},
        {"foobar", 0x85944171f73967e8ULL},
    };
    char path[160];
    snprintf(path, sizeof path, "%s/vector.bin", g->dir);
    for (size_t v = 0; v < sizeof vec / sizeof vec[0]; v++) {
        write_bytes(path, (const unsigned char *)vec[v].text, strlen(vec[v].text));
        const uint64_t sum = checksum_of(path);
        if (sum != vec[v].sum)
            fail_msg("FNV-1a 64 of '%s': %016llx, expected %016llx", vec[v].text,
                     (unsigned long long)sum, (unsigned long long)vec[v].sum);
    }
    remove(path);
}

static void test_data_file_checksum_spans_read_buffers(void **state)
{
    group_fixture *g = *state;
    /* Longer than one 64 KiB read, with a partial last one; the reference is
     * the definition (h = (h ^ byte) * prime from the offset basis) over the
     * bytes as written. */
    enum { N = 3 * 65536 + 1234 };
    unsigned char *b = malloc(N);
    assert_non_null(b);
    uint64_t want = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < N; i++) {
        b[i] = (unsigned char)((i * 2654435761u) >> 13);
        want = (want ^ b[i]) * 0x100000001b3ULL;
    }
    char path[160];
    snprintf(path, sizeof path, "%s/long.bin", g->dir);
    write_bytes(path, b, N);
    free(b);
    assert_true(checksum_of(path) == want);
    remove(path);
}

static void test_data_file_checksum_fails_missing_file(void **state)
{
    group_fixture *g = *state;
    char path[160];
    snprintf(path, sizeof path, "%s/absent.bin", g->dir);
    uint64_t sum = 42;
    ebm_err err = {0};
    assert_int_equal(data_file_checksum(path, &sum, &err), -1);
    if (!strstr(err.msg, path) || !strstr(err.msg, strerror(ENOENT)))
        fail_msg("message '%s' does not name '%s' and the cause", err.msg, path);
    assert_true(sum == 42);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_file_open_reads_info),
        cmocka_unit_test(test_data_file_open_reads_vlen_string_attributes),
        cmocka_unit_test(test_data_file_read_returns_shard_rows),
        cmocka_unit_test(test_data_file_read_zero_rows_writes_nothing),
        cmocka_unit_test(test_data_file_open_fails_missing_val_labels),
        cmocka_unit_test(test_data_file_open_fails_count_mismatch),
        cmocka_unit_test(test_data_file_open_fails_missing_num_classes),
        cmocka_unit_test(test_data_file_open_fails_missing_or_not_hdf5),
        cmocka_unit_test(test_data_file_checksum_matches_fnv1a_vectors),
        cmocka_unit_test(test_data_file_checksum_spans_read_buffers),
        cmocka_unit_test(test_data_file_checksum_fails_missing_file),
    };
    return harness_run(argc, argv, "test_data_file", tests, HARNESS_COUNT(tests), group_setup,
                       h5t_group_teardown);
}
