/* test_h5io.c: the data file (layout checks, shard reads) and checkpoints
 * (atomic write, round trip, refusals) on a singleton MPI process. Fixture
 * files are made with the HDF5 C API directly, in the layout of docs/design.md
 * section 3, in a fresh directory under /tmp. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <float.h>
#include <ftw.h>
#include <hdf5.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#include "cli.h"
#include "core/data.h"
#include "par/dist.h"
#include "ckpt.h"
#include "io/data_file.h"
#include "io/h5file.h"
#include "io/metrics_file.h"
#include "num/model.h"

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
    char dir[64];
    char data_fixed[128]; /* string attributes fixed-length (NULLPAD, as h5py) */
    char data_vlen[128];  /* string attributes variable-length UTF-8 */
} group_fixture;

/* ---- fixture files ------------------------------------------------------- */

typedef struct {
    int vlen_strings;
    int omit_val_labels;
    int64_t val_labels_n; /* 0: the same as the images */
    int omit_num_classes;
} data_opts;

static int write_string_attr(hid_t loc, const char *name, const char *s, int vlen)
{
    const hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0)
        return -1;
    herr_t rc;
    if (vlen) {
        rc = H5Tset_size(type, H5T_VARIABLE);
        if (rc >= 0)
            rc = H5Tset_cset(type, H5T_CSET_UTF8);
    } else {
        rc = H5Tset_size(type, strlen(s));
        if (rc >= 0)
            rc = H5Tset_strpad(type, H5T_STR_NULLPAD);
    }
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = rc >= 0 ? H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    if (a >= 0)
        rc = vlen ? H5Awrite(a, type, &s) : H5Awrite(a, type, s);
    else
        rc = -1;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    return rc < 0 ? -1 : 0;
}

static int write_scalar_attr(hid_t loc, const char *name, hid_t type, const void *v)
{
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    const herr_t rc = a >= 0 ? H5Awrite(a, type, v) : -1;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    return rc < 0 ? -1 : 0;
}

static int write_dataset(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank,
                         const hsize_t *dims, const void *data)
{
    const hid_t space = H5Screate_simple(rank, dims, NULL);
    const hid_t ds =
        H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const herr_t rc = ds >= 0 ? H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : -1;
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(space);
    return rc < 0 ? -1 : 0;
}

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
            rc = write_dataset(g, "images", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, di, img);
        if (rc == 0 && !(s == SPLIT_VAL && o->omit_val_labels))
            rc = write_dataset(g, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dl, lab);
        if (g >= 0)
            H5Gclose(g);
        free(img), free(lab);
    }
    const int32_t k = FX_K, h = FX_H, w = FX_W;
    const double vmin = 0.0, vmax = 16.0;
    if (rc == 0 && !o->omit_num_classes)
        rc = write_scalar_attr(f, "num_classes", H5T_NATIVE_INT32, &k);
    if (rc == 0)
        rc = write_scalar_attr(f, "height", H5T_NATIVE_INT32, &h);
    if (rc == 0)
        rc = write_scalar_attr(f, "width", H5T_NATIVE_INT32, &w);
    if (rc == 0)
        rc = write_scalar_attr(f, "value_min", H5T_NATIVE_DOUBLE, &vmin);
    if (rc == 0)
        rc = write_scalar_attr(f, "value_max", H5T_NATIVE_DOUBLE, &vmax);
    if (rc == 0)
        rc = write_string_attr(f, "source", fx_source, o->vlen_strings);
    if (rc == 0)
        rc = write_string_attr(f, "license", fx_license, o->vlen_strings);
    if (H5Fclose(f) < 0)
        rc = -1;
    return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    group_fixture *g = calloc(1, sizeof *g);
    if (!g)
        return -1;
    snprintf(g->dir, sizeof g->dir, "/tmp/test_h5io.XXXXXX");
    if (!mkdtemp(g->dir)) {
        free(g);
        return -1;
    }
    snprintf(g->data_fixed, sizeof g->data_fixed, "%s/data.h5", g->dir);
    snprintf(g->data_vlen, sizeof g->data_vlen, "%s/data_vlen.h5", g->dir);
    const data_opts fixed = {0, 0, 0, 0}, vlen = {1, 0, 0, 0};
    if (make_data_file(g->data_fixed, &fixed) || make_data_file(g->data_vlen, &vlen)) {
        nftw(g->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        free(g);
        return -1;
    }
    *state = g;
    return 0;
}

static int group_teardown(void **state)
{
    group_fixture *g = *state;
    const int rc = nftw(g->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(g);
    return rc == 0 ? 0 : -1;
}

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

/* ---- data file ---------------------------------------------------------- */

static void check_info(const data_info *info)
{
    assert_int_equal(info->d, FX_D);
    assert_int_equal(info->k, FX_K);
    assert_int_equal(info->height, FX_H);
    assert_int_equal(info->width, FX_W);
    for (int s = 0; s < SPLIT_COUNT; s++)
        assert_int_equal(info->n[s], fx_n[s]);
    assert_true(info->value_min == 0.0);
    assert_true(info->value_max == 16.0);
    assert_string_equal(info->source, fx_source);
    assert_string_equal(info->license, fx_license);
}

static void test_data_file_open_reads_info(void **state)
{
    group_fixture *g = *state;
    data_file *f = NULL;
    data_info info;
    ebm_err err = {0};
    if (data_file_open(test_ctx(), g->data_fixed, &f, &info, &err))
        fail_msg("data_file_open: %s", err.msg);
    assert_non_null(f);
    check_info(&info);
    data_file_close(f);
}

static void test_data_file_open_reads_vlen_string_attributes(void **state)
{
    group_fixture *g = *state;
    data_file *f = NULL;
    data_info info;
    ebm_err err = {0};
    if (data_file_open(test_ctx(), g->data_vlen, &f, &info, &err))
        fail_msg("data_file_open: %s", err.msg);
    check_info(&info);
    data_file_close(f);
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

static void test_data_file_read_shard_rows(void **state)
{
    group_fixture *g = *state;
    data_file *f = NULL;
    data_info info;
    ebm_err err = {0};
    if (data_file_open(test_ctx(), g->data_fixed, &f, &info, &err))
        fail_msg("data_file_open: %s", err.msg);
    check_shard(f, SPLIT_TRAIN, 3, 4);                /* middle */
    check_shard(f, SPLIT_TRAIN, 0, 1);                /* first row */
    check_shard(f, SPLIT_TRAIN, 9, 1);                /* last row */
    check_shard(f, SPLIT_TRAIN, 0, fx_n[SPLIT_TRAIN]); /* whole split */
    check_shard(f, SPLIT_VAL, 2, 3);
    check_shard(f, SPLIT_TEST, 1, 3);
    data_file_close(f);
}

static void test_data_file_read_zero_rows(void **state)
{
    group_fixture *g = *state;
    data_file *f = NULL;
    data_info info;
    ebm_err err = {0};
    if (data_file_open(test_ctx(), g->data_fixed, &f, &info, &err))
        fail_msg("data_file_open: %s", err.msg);
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

static void test_data_file_open_fails_missing_val_labels(void **state)
{
    group_fixture *g = *state;
    char path[160];
    snprintf(path, sizeof path, "%s/no_val_labels.h5", g->dir);
    const data_opts o = {0, 1, 0, 0};
    assert_int_equal(make_data_file(path, &o), 0);
    expect_data_refused(path, "/val/labels");
}

static void test_data_file_open_fails_count_mismatch(void **state)
{
    group_fixture *g = *state;
    char path[160];
    snprintf(path, sizeof path, "%s/mismatch.h5", g->dir);
    const data_opts o = {0, 0, 4, 0}; /* 4 val labels for 5 val images */
    assert_int_equal(make_data_file(path, &o), 0);
    expect_data_refused(path, "/val/labels");
    expect_data_refused(path, "4 labels");
    expect_data_refused(path, "5 images");
}

static void test_data_file_open_fails_missing_num_classes(void **state)
{
    group_fixture *g = *state;
    char path[160];
    snprintf(path, sizeof path, "%s/no_k.h5", g->dir);
    const data_opts o = {0, 0, 0, 1};
    assert_int_equal(make_data_file(path, &o), 0);
    expect_data_refused(path, "num_classes");
}

static void test_data_file_open_fails_missing_or_not_hdf5(void **state)
{
    group_fixture *g = *state;
    char path[160];
    snprintf(path, sizeof path, "%s/absent.h5", g->dir);
    expect_data_refused(path, path);
    snprintf(path, sizeof path, "%s/text.h5", g->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("this is not an HDF5 file\n", fp);
    fclose(fp);
    expect_data_refused(path, "not an HDF5 file");
}

/* ---- checkpoints -------------------------------------------------------- */

typedef struct {
    group_fixture *g;
    char path[160], tmp[170];
    model_shape shape;
    float *params, *exp_avg, *exp_inf;
    ebm_config cfg;
    run_info run;
    train_progress progress;
    metrics_row history[8];
    float chains[4 * 6];
    uint64_t rng_state[EBM_RNG_WORDS];
    int32_t order[5];
    ckpt_state st;
} ckpt_fixture;

/* Distinct values, with a few awkward ones, so a bitwise check means it. */
static void fill_params(float *p, size_t n, float base)
{
    for (size_t i = 0; i < n; i++)
        p[i] = base + (float)i * 0.0078125f - (float)(i % 7) * 3.25f;
    p[0] = -0.0f;
    p[1] = 1e-40f; /* subnormal */
    p[2] = FLT_MAX;
    p[3] = -FLT_MIN;
    p[4] = 0.1f;
}

static int ckpt_fill(ckpt_fixture *c, int d, int h, int k, float base)
{
    free(c->params), free(c->exp_avg), free(c->exp_inf);
    model_shape_init(&c->shape, d, h, k);
    const size_t n = c->shape.n_params;
    c->params = calloc(n, sizeof(float));
    c->exp_avg = calloc(n, sizeof(float));
    c->exp_inf = calloc(n, sizeof(float));
    if (!c->params || !c->exp_avg || !c->exp_inf)
        return -1;
    fill_params(c->params, n, base);
    for (size_t i = 0; i < n; i++) {
        c->exp_avg[i] = (float)i * 1e-3f - 0.05f;
        c->exp_inf[i] = 1.0f + (float)i;
    }
    c->st.shape = &c->shape;
    c->st.params = c->params;
    c->st.exp_avg = c->exp_avg;
    c->st.exp_inf = c->exp_inf;
    return 0;
}

static int ckpt_setup(void **state)
{
    ckpt_fixture *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->g = *state;
    snprintf(c->path, sizeof c->path, "%s/ck.h5", c->g->dir);
    snprintf(c->tmp, sizeof c->tmp, "%s.tmp", c->path);
    remove(c->path);
    remove(c->tmp);
    char *argv[] = {(char *)"ebm_mpi", (char *)"train", NULL};
    ebm_err err;
    if (cli_parse(2, argv, &c->cfg, &err) || ckpt_fill(c, 6, 8, 3, 0.5f)) {
        free(c->params), free(c->exp_avg), free(c->exp_inf), free(c);
        return -1;
    }
    snprintf(c->run.program_version, sizeof c->run.program_version, "0.1.0-test");
    snprintf(c->run.git_revision, sizeof c->run.git_revision, "abcdef123456");
    dist_library_version(c->run.mpi_version, sizeof c->run.mpi_version);
    h5file_library_version(c->run.hdf5_version, sizeof c->run.hdf5_version);
    snprintf(c->run.blas_version, sizeof c->run.blas_version, "OpenBLAS (test)");
    snprintf(c->run.data_path, sizeof c->run.data_path, "%s", c->g->data_fixed);
    c->run.world_size = test_ctx()->size;
    c->st.adam_step = 140;
    c->st.cfg = &c->cfg;
    c->st.run = &c->run;
    c->st.map.scale = 0.125f;
    c->st.map.shift = -1.0f;
    c->st.value_min = 0.0;
    c->st.value_max = 16.0;
    c->progress.epoch = 7;
    c->progress.step = 3;
    c->progress.global_step = 140;
    c->progress.best_epoch = 5;
    c->progress.best_val_error = 0.0625;
    c->progress.best_val_loss = 0.3;
    c->progress.skipped_total = 2;
    c->progress.skipped_epoch = 1;
    c->progress.skipped_in_a_row = 1;
    for (int i = 0; i < EPOCH_SUMS; i++)
        c->progress.sums[i] = 10.5 + i;
    for (int e = 0; e < 8; e++) {
        c->history[e].epoch = e + 1;
        c->history[e].val_error = 0.5 / (e + 1);
        c->history[e].comm_max = 0.25 * e;
    }
    /* Four chains of the fixture's 6 inputs, one rank's stream and order. */
    c->cfg.buffer = 4;
    for (int i = 0; i < 4 * 6; i++)
        c->chains[i] = -1.0f + 0.0625f * (float)i;
    for (int i = 0; i < EBM_RNG_WORDS; i++)
        c->rng_state[i] = 0x0123456789abcdefULL * (uint64_t)(i + 1);
    const int32_t order[5] = {3, 0, 4, 1, 2};
    memcpy(c->order, order, sizeof order);
    c->run.data_checksum = 0xfeedfacecafebeefULL;
    c->st.chains = c->chains;
    c->st.n_chains_total = 4;
    c->st.first_chain = 0;
    c->st.n_chains = 4;
    c->st.rng_state = c->rng_state;
    c->st.order = c->order;
    c->st.n_local = 5;
    c->st.n_local_max = 5;
    c->st.progress = &c->progress;
    c->st.history = c->history;
    *state = c;
    return 0;
}

static int ckpt_teardown(void **state)
{
    ckpt_fixture *c = *state;
    const int rc = (remove(c->path) == 0 || errno == ENOENT) ? 0 : -1;
    remove(c->tmp);
    free(c->params), free(c->exp_avg), free(c->exp_inf), free(c);
    return rc;
}

static void write_ckpt(ckpt_fixture *c)
{
    ebm_err err = {0};
    if (ckpt_write(test_ctx(), c->path, &c->st, &err))
        fail_msg("ckpt_write: %s", err.msg);
}

static void check_model_matches(const ckpt_fixture *c, const ckpt_model *m)
{
    assert_int_equal(m->shape.d, c->shape.d);
    assert_int_equal(m->shape.h, c->shape.h);
    assert_int_equal(m->shape.k, c->shape.k);
    assert_int_equal(m->shape.n_params, c->shape.n_params);
    for (int l = 0; l < EBM_LAYERS; l++) {
        assert_int_equal(m->shape.in[l], c->shape.in[l]);
        assert_int_equal(m->shape.out[l], c->shape.out[l]);
        assert_int_equal(m->shape.w_off[l], c->shape.w_off[l]);
        assert_int_equal(m->shape.b_off[l], c->shape.b_off[l]);
    }
    assert_non_null(m->params);
    assert_memory_equal(m->params, c->params, c->shape.n_params * sizeof(float));
}

static void test_ckpt_write_read_model_round_trip(void **state)
{
    ckpt_fixture *c = *state;
    write_ckpt(c);
    ckpt_model m;
    ebm_err err = {0};
    if (ckpt_read_model(test_ctx(), c->path, &m, &err))
        fail_msg("ckpt_read_model: %s", err.msg);
    check_model_matches(c, &m);
    assert_true(m.map.scale == 0.125f);
    assert_true(m.map.shift == -1.0f);
    assert_true(m.value_min == 0.0);
    assert_true(m.value_max == 16.0);
    assert_int_equal(m.epoch, 7);
    ckpt_model_free(&m);
    assert_null(m.params);
}

static void test_ckpt_write_leaves_no_tmp(void **state)
{
    ckpt_fixture *c = *state;
    write_ckpt(c);
    assert_true(file_exists(c->path));
    assert_false(file_exists(c->tmp));
}

/* Reads a scalar attribute of the root group as int64 / double / string. */
static int64_t root_attr_int(hid_t f, const char *name)
{
    int64_t v = -12345;
    const hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0)
        fail_msg("no root attribute '%s'", name);
    assert_true(H5Aread(a, H5T_NATIVE_INT64, &v) >= 0);
    H5Aclose(a);
    return v;
}

static double root_attr_double(hid_t f, const char *name)
{
    double v = -12345;
    const hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0)
        fail_msg("no root attribute '%s'", name);
    assert_true(H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0);
    H5Aclose(a);
    return v;
}

static void root_attr_string(hid_t f, const char *name, char *buf, size_t len)
{
    const hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0)
        fail_msg("no root attribute '%s'", name);
    const hid_t t = H5Aget_type(a);
    assert_int_equal(H5Tget_class(t), H5T_STRING);
    assert_true(H5Tis_variable_str(t) == 0);
    const size_t n = H5Tget_size(t);
    assert_true(n < len);
    memset(buf, 0, len);
    assert_true(H5Aread(a, t, buf) >= 0);
    H5Tclose(t);
    H5Aclose(a);
}

static void check_dims(hid_t f, const char *name, int rank, hsize_t d0, hsize_t d1)
{
    const hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0)
        fail_msg("no dataset %s", name);
    const hid_t sp = H5Dget_space(ds);
    hsize_t dims[2] = {0, 0};
    const int r = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Dclose(ds);
    if (r != rank || dims[0] != d0 || (rank == 2 && dims[1] != d1))
        fail_msg("%s: rank %d dims [%llu, %llu], expected rank %d [%llu, %llu]", name, r,
                 (unsigned long long)dims[0], (unsigned long long)dims[1], rank,
                 (unsigned long long)d0, (unsigned long long)d1);
}

static void check_floats(hid_t f, const char *name, const float *expect, size_t n)
{
    float *buf = calloc(n, sizeof *buf);
    assert_non_null(buf);
    const hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0)
        fail_msg("no dataset %s", name);
    assert_true(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(ds);
    if (memcmp(buf, expect, n * sizeof *buf) != 0)
        fail_msg("%s does not hold the values written", name);
    free(buf);
}

static void test_ckpt_write_layout(void **state)
{
    ckpt_fixture *c = *state;
    write_ckpt(c);
    const hid_t f = H5Fopen(c->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    assert_int_equal(root_attr_int(f, "complete"), 1);
    assert_int_equal(root_attr_int(f, "format_version"), EBM_CKPT_FORMAT_VERSION);
    /* PyTorch nn.Linear layout: weight [out, in], bias [out]. */
    check_dims(f, "/model/layer0/weight", 2, 8, 6);
    check_dims(f, "/model/layer0/bias", 1, 8, 0);
    check_dims(f, "/model/layer1/weight", 2, 8, 8);
    check_dims(f, "/model/layer3/weight", 2, 3, 8);
    check_dims(f, "/model/layer3/bias", 1, 3, 0);
    const model_shape *s = &c->shape;
    check_floats(f, "/model/layer0/weight", c->params + s->w_off[0], 8 * 6);
    check_floats(f, "/model/layer3/bias", c->params + s->b_off[3], 3);
    /* Optimiser moments in the same layout, and Adamax's step. */
    check_floats(f, "/optimizer/layer1/exp_avg/weight", c->exp_avg + s->w_off[1], 8 * 8);
    check_floats(f, "/optimizer/layer2/exp_inf/bias", c->exp_inf + s->b_off[2], 8);
    const hid_t opt = H5Gopen2(f, "/optimizer", H5P_DEFAULT);
    assert_true(opt >= 0);
    assert_int_equal(root_attr_int(opt, "step"), 140);
    H5Gclose(opt);
    /* Run state and hyperparameters under their option names. */
    assert_int_equal(root_attr_int(f, "epoch"), 7);
    assert_int_equal(root_attr_int(f, "global_step"), 140);
    assert_int_equal(root_attr_int(f, "best_epoch"), 5);
    assert_int_equal(root_attr_int(f, "world_size"), test_ctx()->size);
    assert_true(root_attr_double(f, "best_val_error") == 0.0625);
    assert_true(root_attr_double(f, "lr") == 1e-3);
    assert_int_equal(root_attr_int(f, "epochs"), 20);
    assert_int_equal(root_attr_int(f, "batch-size"), 64);
    char buf[256];
    root_attr_string(f, "preset", buf, sizeof buf);
    assert_string_equal(buf, "stable");
    root_attr_string(f, "git_revision", buf, sizeof buf);
    assert_string_equal(buf, "abcdef123456");
    root_attr_string(f, "program_version", buf, sizeof buf);
    assert_string_equal(buf, "0.1.0-test");
    H5Fclose(f);
}

static void test_ckpt_write_replaces_existing(void **state)
{
    ckpt_fixture *c = *state;
    write_ckpt(c);
    /* A different model (another shape too) under the same name. */
    assert_int_equal(ckpt_fill(c, 5, 4, 2, -3.0f), 0);
    c->progress.epoch = 8;
    write_ckpt(c);
    assert_false(file_exists(c->tmp));
    ckpt_model m;
    ebm_err err = {0};
    if (ckpt_read_model(test_ctx(), c->path, &m, &err))
        fail_msg("ckpt_read_model: %s", err.msg);
    check_model_matches(c, &m);
    assert_int_equal(m.epoch, 8);
    ckpt_model_free(&m);
}

static void test_ckpt_write_overwrites_stale_tmp(void **state)
{
    ckpt_fixture *c = *state;
    /* A crash left a half-written temporary file behind. */
    FILE *fp = fopen(c->tmp, "w");
    assert_non_null(fp);
    fputs("half a checkpoint", fp);
    fclose(fp);
    write_ckpt(c);
    assert_false(file_exists(c->tmp));
    ckpt_model m;
    ebm_err err = {0};
    if (ckpt_read_model(test_ctx(), c->path, &m, &err))
        fail_msg("ckpt_read_model: %s", err.msg);
    check_model_matches(c, &m);
    ckpt_model_free(&m);
}

static void test_ckpt_write_fails_missing_directory(void **state)
{
    ckpt_fixture *c = *state;
    char path[200];
    snprintf(path, sizeof path, "%s/no/such/dir/ck.h5", c->g->dir);
    ebm_err err = {0};
    assert_int_equal(ckpt_write(test_ctx(), path, &c->st, &err), -1);
    if (!strstr(err.msg, "no/such/dir"))
        fail_msg("message '%s' does not name the file", err.msg);
    assert_false(file_exists(path));
}

static void expect_ckpt_refused(const char *path, const char *needle)
{
    ckpt_model m;
    memset(&m, 0x5a, sizeof m);
    ebm_err err = {0};
    if (ckpt_read_model(test_ctx(), path, &m, &err) != -1)
        fail_msg("ckpt_read_model('%s') accepted a bad file", path);
    assert_null(m.params);
    if (!strstr(err.msg, needle))
        fail_msg("message '%s' does not mention '%s'", err.msg, needle);
}

/* Opens the checkpoint read-write with the serial driver to tamper with it. */
static hid_t open_rw(const char *path)
{
    const hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        fail_msg("cannot reopen %s", path);
    return f;
}

static void test_ckpt_read_model_fails_without_complete(void **state)
{
    ckpt_fixture *c = *state;
    write_ckpt(c);
    hid_t f = open_rw(c->path);
    assert_true(H5Adelete(f, "complete") >= 0);
    H5Fclose(f);
    expect_ckpt_refused(c->path, "complete");
    expect_ckpt_refused(c->path, c->path);

    /* complete = 0 is no better. */
    f = open_rw(c->path);
    const int64_t zero = 0;
    assert_int_equal(write_scalar_attr(f, "complete", H5T_NATIVE_INT64, &zero), 0);
    H5Fclose(f);
    expect_ckpt_refused(c->path, "complete");
}

static void test_ckpt_read_model_fails_other_format_version(void **state)
{
    ckpt_fixture *c = *state;
    write_ckpt(c);
    const hid_t f = open_rw(c->path);
    const hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    assert_true(a >= 0);
    const int64_t v = EBM_CKPT_FORMAT_VERSION + 1;
    assert_true(H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0);
    H5Aclose(a);
    H5Fclose(f);
    expect_ckpt_refused(c->path, "format version");
    char num[32];
    snprintf(num, sizeof num, "%d", EBM_CKPT_FORMAT_VERSION + 1);
    expect_ckpt_refused(c->path, num);
}

static void test_ckpt_read_model_fails_not_hdf5(void **state)
{
    ckpt_fixture *c = *state;
    FILE *fp = fopen(c->path, "w");
    assert_non_null(fp);
    fputs("epoch 7\nthis is a text file, not a checkpoint\n", fp);
    fclose(fp);
    expect_ckpt_refused(c->path, "not an HDF5 file");
    expect_ckpt_refused(c->path, c->path);
}

static void test_ckpt_read_model_fails_missing_file(void **state)
{
    ckpt_fixture *c = *state;
    assert_false(file_exists(c->path));
    expect_ckpt_refused(c->path, c->path);
    expect_ckpt_refused(c->path, strerror(ENOENT));
}

static void test_ckpt_read_model_fails_data_file(void **state)
{
    ckpt_fixture *c = *state;
    /* An HDF5 file that is not a checkpoint (the data file). */
    expect_ckpt_refused(c->g->data_fixed, "complete");
}


/* ---- resume ------------------------------------------------------------- */

typedef struct {
    float *params, *exp_avg, *exp_inf;
    float chains[4 * 6];
    uint64_t rng_state[EBM_RNG_WORDS];
    int32_t order[5];
    ckpt_resume r;
} resume_buffers;

static void resume_buffers_init(resume_buffers *b, const ckpt_fixture *c)
{
    const size_t n = c->shape.n_params;
    memset(b, 0, sizeof *b);
    b->params = calloc(n, sizeof(float));
    b->exp_avg = calloc(n, sizeof(float));
    b->exp_inf = calloc(n, sizeof(float));
    assert_non_null(b->params);
    assert_non_null(b->exp_avg);
    assert_non_null(b->exp_inf);
    b->r.params = b->params;
    b->r.exp_avg = b->exp_avg;
    b->r.exp_inf = b->exp_inf;
    b->r.chains = b->chains;
    b->r.first_chain = 0;
    b->r.n_chains = 4;
    b->r.rng_state = b->rng_state;
    b->r.order = b->order;
    b->r.n_local = 5;
}

static void resume_buffers_free(resume_buffers *b)
{
    free(b->params), free(b->exp_avg), free(b->exp_inf), free(b->r.history);
}

static void test_ckpt_read_resume_round_trip(void **state)
{
    ckpt_fixture *c = *state;
    write_ckpt(c);
    resume_buffers b;
    resume_buffers_init(&b, c);
    ebm_err err = {0};
    if (ckpt_read_resume(test_ctx(), c->path, &c->cfg, &c->shape, &c->run, &b.r, &err))
        fail_msg("ckpt_read_resume: %s", err.msg);
    const size_t n = c->shape.n_params;
    /* Bitwise: a resumed run must continue exactly. */
    assert_memory_equal(b.params, c->params, n * sizeof(float));
    assert_memory_equal(b.exp_avg, c->exp_avg, n * sizeof(float));
    assert_memory_equal(b.exp_inf, c->exp_inf, n * sizeof(float));
    assert_memory_equal(b.chains, c->chains, sizeof b.chains);
    assert_memory_equal(b.rng_state, c->rng_state, sizeof b.rng_state);
    assert_memory_equal(b.order, c->order, sizeof b.order);
    assert_int_equal(b.r.adam_step, 140);
    assert_int_equal(b.r.world_size, test_ctx()->size);
    assert_true(b.r.same_world);
    const train_progress *p = &b.r.progress;
    assert_int_equal(p->epoch, 7);
    assert_int_equal(p->step, 3);
    assert_int_equal(p->global_step, 140);
    assert_int_equal(p->best_epoch, 5);
    assert_true(p->best_val_error == 0.0625);
    assert_true(p->best_val_loss == 0.3);
    assert_int_equal(p->skipped_total, 2);
    assert_int_equal(p->skipped_epoch, 1);
    assert_int_equal(p->skipped_in_a_row, 1);
    for (int i = 0; i < EPOCH_SUMS; i++)
        assert_true(p->sums[i] == 10.5 + i);
    assert_non_null(b.r.history);
    for (int e = 0; e < 7; e++)
        assert_memory_equal(&b.r.history[e], &c->history[e], sizeof(metrics_row));
    resume_buffers_free(&b);
}

static void test_ckpt_read_resume_fails_changed_hyperparameter(void **state)
{
    ckpt_fixture *c = *state;
    write_ckpt(c);
    resume_buffers b;
    resume_buffers_init(&b, c);
    ebm_config other = c->cfg;
    other.lr = 2e-3;
    other.epochs = c->cfg.epochs + 5; /* allowed to change: must not be the one named */
    ebm_err err = {0};
    assert_int_equal(
        ckpt_read_resume(test_ctx(), c->path, &other, &c->shape, &c->run, &b.r, &err), -1);
    assert_non_null(strstr(err.msg, "--lr 0.001"));
    assert_non_null(strstr(err.msg, "--lr 0.002"));
    resume_buffers_free(&b);
}

static void test_ckpt_read_resume_fails_other_data(void **state)
{
    ckpt_fixture *c = *state;
    write_ckpt(c);
    resume_buffers b;
    resume_buffers_init(&b, c);
    run_info other = c->run;
    other.data_checksum ^= 1;
    ebm_err err = {0};
    assert_int_equal(
        ckpt_read_resume(test_ctx(), c->path, &c->cfg, &c->shape, &other, &b.r, &err), -1);
    assert_non_null(strstr(err.msg, "checksum"));
    resume_buffers_free(&b);
}

/* ---- metrics.h5 --------------------------------------------------------- */

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
    ckpt_fixture *c = *state;
    char path[200];
    snprintf(path, sizeof path, "%s/metrics.h5", c->g->dir);
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

int main(int argc, char **argv)
{
#define CK(t) cmocka_unit_test_setup_teardown(t, ckpt_setup, ckpt_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_file_open_reads_info),
        cmocka_unit_test(test_data_file_open_reads_vlen_string_attributes),
        cmocka_unit_test(test_data_file_read_shard_rows),
        cmocka_unit_test(test_data_file_read_zero_rows),
        cmocka_unit_test(test_data_file_open_fails_missing_val_labels),
        cmocka_unit_test(test_data_file_open_fails_count_mismatch),
        cmocka_unit_test(test_data_file_open_fails_missing_num_classes),
        cmocka_unit_test(test_data_file_open_fails_missing_or_not_hdf5),
        CK(test_ckpt_write_read_model_round_trip),
        CK(test_ckpt_write_leaves_no_tmp),
        CK(test_ckpt_write_layout),
        CK(test_ckpt_write_replaces_existing),
        CK(test_ckpt_write_overwrites_stale_tmp),
        CK(test_ckpt_write_fails_missing_directory),
        CK(test_ckpt_read_model_fails_without_complete),
        CK(test_ckpt_read_model_fails_other_format_version),
        CK(test_ckpt_read_model_fails_not_hdf5),
        CK(test_ckpt_read_model_fails_missing_file),
        CK(test_ckpt_read_model_fails_data_file),
        CK(test_ckpt_read_resume_round_trip),
        CK(test_ckpt_read_resume_fails_changed_hyperparameter),
        CK(test_ckpt_read_resume_fails_other_data),
        CK(test_metrics_file_sync_appends_and_truncates),
    };
#undef CK
    return harness_run(argc, argv, "test_h5io", tests, HARNESS_COUNT(tests), group_setup, group_teardown);
}
