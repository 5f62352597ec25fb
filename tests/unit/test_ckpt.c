/* test_ckpt.c: checkpoints (src/ckpt.c): the atomic write, the layout of
 * docs/design.md section 3 read back with the HDF5 C API, the round trips
 * through ckpt_read_model, ckpt_read_chains and ckpt_read_resume, the
 * refusals, the resume policy, and the committed format-1 fixtures of
 * tests/fixtures/v1. A singleton MPI process; everything it writes goes to a
 * fresh directory under /tmp that the group teardown removes. Reference
 * values are the ones the test put in (compared bitwise), the fixture
 * README's command line with the stable preset, and the fixture files read
 * directly with the HDF5 C API. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <float.h>
#include <ftw.h>
#include <hdf5.h>
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
#include "ckpt.h"
#include "io/h5file.h"
#include "num/model.h"
#include "par/dist.h"

#ifndef EBM_SOURCE_DIR
#error "EBM_SOURCE_DIR (the source tree, for tests/fixtures) must be defined by CMake"
#endif

typedef struct {
    char dir[64];
    char data_fixed[128]; /* an HDF5 file that is not a checkpoint: a data file */
} group_fixture;

/* ---- fixture files ------------------------------------------------------- */

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

/* A small file in the data file's layout (docs/design.md section 3): one
 * split of 2 images of 6 pixels, the root attributes of a data file and no
 * checkpoint attribute. */
static int make_data_file(const char *path)
{
    const hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        return -1;
    const float img[2 * 6] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    const int32_t lab[2] = {0, 2};
    const hsize_t di[2] = {2, 6}, dl[1] = {2};
    const int32_t k = 3;
    const double vmin = 0.0, vmax = 16.0;
    const hid_t g = H5Gcreate2(f, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = g < 0 ? -1 : 0;
    if (rc == 0)
        rc = write_dataset(g, "images", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, di, img);
    if (rc == 0)
        rc = write_dataset(g, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dl, lab);
    if (g >= 0)
        H5Gclose(g);
    if (rc == 0)
        rc = write_scalar_attr(f, "num_classes", H5T_NATIVE_INT32, &k);
    if (rc == 0)
        rc = write_scalar_attr(f, "value_min", H5T_NATIVE_DOUBLE, &vmin);
    if (rc == 0)
        rc = write_scalar_attr(f, "value_max", H5T_NATIVE_DOUBLE, &vmax);
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
    snprintf(g->dir, sizeof g->dir, "/tmp/test_ckpt.XXXXXX");
    if (!mkdtemp(g->dir)) {
        free(g);
        return -1;
    }
    snprintf(g->data_fixed, sizeof g->data_fixed, "%s/data.h5", g->dir);
    if (make_data_file(g->data_fixed)) {
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
    /* Fixed here, not the preset's: the layout test reads lr back; the
     * trained weights in /model (the --ema test sets its own). */
    c->cfg.lr = 1e-3;
    c->cfg.ema = 0;
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
        c->progress.sums[i] = i == EPOCH_COUNT ? 10.0 : 10.5 + i; /* a count is whole */
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

static void test_ckpt_read_model_returns_written_model(void **state)
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

static void test_ckpt_write_stores_documented_layout(void **state)
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
    assert_int_equal(tmp_files_left(c->path), 0);
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
    /* A crash left a half-written temporary file under the old fixed name:
     * the write goes to a fresh name of its own and leaves it alone (the
     * trainer removes it holding --out's lock). */
    FILE *fp = fopen(c->tmp, "w");
    assert_non_null(fp);
    fputs("half a checkpoint", fp);
    fclose(fp);
    write_ckpt(c);
    assert_true(file_exists(c->tmp));
    assert_int_equal(tmp_files_left(c->path), 0);
    remove(c->tmp);
    assert_int_equal(tmp_files_left(c->path), 0);
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

static void test_ckpt_read_model_fails_on_data_file(void **state)
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
    b->r.steps_per_epoch = 20; /* the written position, step 3, lies inside it */
}

static void resume_buffers_free(resume_buffers *b)
{
    free(b->params), free(b->exp_avg), free(b->exp_inf), free(b->r.history);
}

static void test_ckpt_read_resume_restores_written_state(void **state)
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
        assert_true(p->sums[i] == (i == EPOCH_COUNT ? 10.0 : 10.5 + i));
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

/* --ema: /model holds the average (what eval and sample read), the trained
 * weights go to /optimizer/layer{i}/online, and a resume gets both back,
 * bitwise; a resume without --ema is refused naming it. */
static void test_ckpt_ema_average_in_model_trained_weights_in_optimizer(void **state)
{
    ckpt_fixture *c = *state;
    const size_t n = c->shape.n_params;
    float *avg = calloc(n, sizeof(float));
    assert_non_null(avg);
    fill_params(avg, n, -0.25f);
    avg[5] = 3.5f;
    c->cfg.ema = 0.99;
    c->st.ema = avg;
    write_ckpt(c);
    ckpt_model m;
    ebm_err err = {0};
    if (ckpt_read_model(test_ctx(), c->path, &m, &err))
        fail_msg("ckpt_read_model: %s", err.msg);
    assert_memory_equal(m.params, avg, n * sizeof(float));
    ckpt_model_free(&m);
    resume_buffers b;
    resume_buffers_init(&b, c);
    float *got = calloc(n, sizeof(float));
    assert_non_null(got);
    b.r.ema = got;
    if (ckpt_read_resume(test_ctx(), c->path, &c->cfg, &c->shape, &c->run, &b.r, &err))
        fail_msg("ckpt_read_resume: %s", err.msg);
    assert_memory_equal(b.params, c->params, n * sizeof(float));
    assert_memory_equal(got, avg, n * sizeof(float));
    assert_memory_equal(b.exp_avg, c->exp_avg, n * sizeof(float));
    free(b.r.history);
    b.r.history = NULL;
    hid_t f = H5Fopen(c->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    assert_true(H5Lexists(f, "/optimizer/layer0/online", H5P_DEFAULT) > 0);
    assert_true(H5Aexists_by_name(f, "/model", "meaning", H5P_DEFAULT) > 0);
    H5Fclose(f);
    ebm_config off = c->cfg;
    off.ema = 0;
    assert_int_equal(ckpt_read_resume(test_ctx(), c->path, &off, &c->shape, &c->run, &b.r, &err),
                     -1);
    assert_non_null(strstr(err.msg, "trained with --ema 0.98999"));
    assert_non_null(strstr(err.msg, "this run has --ema 0 "));
    c->st.ema = NULL;
    free(got);
    free(avg);
    resume_buffers_free(&b);
}

/* A file without the format-4 attributes (as older versions wrote) resumes
 * as --lr-schedule const --warmup 0 --lr-floor 0 --ema 0, and only so. */
static void test_ckpt_resume_reads_missing_schedule_as_const(void **state)
{
    ckpt_fixture *c = *state;
    write_ckpt(c);
    hid_t f = H5Fopen(c->path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    const char *names[] = {"lr-schedule", "warmup", "lr-floor", "ema"};
    for (int i = 0; i < 4; i++)
        assert_true(H5Adelete(f, names[i]) >= 0);
    H5Fclose(f);
    resume_buffers b;
    resume_buffers_init(&b, c);
    ebm_err err = {0};
    if (ckpt_read_resume(test_ctx(), c->path, &c->cfg, &c->shape, &c->run, &b.r, &err))
        fail_msg("ckpt_read_resume: %s", err.msg);
    free(b.r.history);
    b.r.history = NULL;
    ebm_config cos = c->cfg;
    snprintf(cos.lr_schedule, sizeof cos.lr_schedule, "cosine");
    assert_int_equal(ckpt_read_resume(test_ctx(), c->path, &cos, &c->shape, &c->run, &b.r, &err),
                     -1);
    assert_non_null(strstr(err.msg, "--lr-schedule const"));
    resume_buffers_free(&b);
}

/* ---- Langevin settings, chains ------------------------------------------ */

static void read_model(const char *path, ckpt_model *m)
{
    ebm_err err = {0};
    if (ckpt_read_model(test_ctx(), path, m, &err))
        fail_msg("ckpt_read_model('%s'): %s", path, err.msg);
}

static void test_ckpt_read_model_returns_langevin_settings(void **state)
{
    ckpt_fixture *c = *state;
    /* Unlike the preset's values and exact in binary, so == means it. */
    c->cfg.langevin_steps = 7;
    c->cfg.step_size = 0.5;
    c->cfg.noise = 0.0078125;
    c->cfg.gen_weight = 0.25;
    c->cfg.energy_reg = 0.125;
    c->cfg.clamp_chains = 0;
    c->st.height = 2;
    c->st.width = 3;
    write_ckpt(c);
    ckpt_model m;
    read_model(c->path, &m);
    check_model_matches(c, &m);
    assert_int_equal(m.langevin_steps, 7);
    assert_true(m.step_size == 0.5);
    assert_true(m.noise == 0.0078125);
    assert_true(m.gen_weight == 0.25);
    assert_true(m.energy_reg == 0.125);
    assert_int_equal(m.clamp_chains, 0);
    assert_int_equal(m.height, 2);
    assert_int_equal(m.width, 3);
    assert_int_equal(m.n_chains, 4); /* the fixture's n_chains_total */
    ckpt_model_free(&m);

    /* The other value of the flag, so 0 above was not a default. */
    c->cfg.clamp_chains = 1;
    c->cfg.langevin_steps = 0;
    write_ckpt(c);
    read_model(c->path, &m);
    assert_int_equal(m.clamp_chains, 1);
    assert_int_equal(m.langevin_steps, 0);
    ckpt_model_free(&m);
}

static void test_ckpt_read_model_reports_no_chains_for_buffer_0(void **state)
{
    ckpt_fixture *c = *state;
    /* --buffer 0: /sampler/chains is [0, D]. */
    c->cfg.buffer = 0;
    c->st.chains = NULL;
    c->st.n_chains_total = 0;
    c->st.n_chains = 0;
    write_ckpt(c);
    ckpt_model m;
    read_model(c->path, &m);
    check_model_matches(c, &m);
    assert_int_equal(m.n_chains, 0);
    ckpt_model_free(&m);
    const hid_t f = H5Fopen(c->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    check_dims(f, "/sampler/chains", 2, 0, 6);
    H5Fclose(f);
}

static void test_ckpt_read_chains_returns_requested_rows(void **state)
{
    ckpt_fixture *c = *state;
    enum { D = 6, N = 4, GUARD = 3 };
    write_ckpt(c);
    ckpt_model m;
    read_model(c->path, &m);
    assert_int_equal(m.n_chains, N);
    assert_int_equal(m.shape.d, D);
    /* All rows, a middle slice, first and last row alone, none (also at the
     * very end, where a rank past the last chain stands). */
    const struct {
        int64_t first, count;
    } ranges[] = {{0, N}, {1, 2}, {0, 1}, {N - 1, 1}, {2, 0}, {N, 0}};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        const int64_t first = ranges[r].first, count = ranges[r].count;
        float out[(N + GUARD) * D];
        for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
            out[i] = -999.0f;
        ebm_err err = {0};
        if (ckpt_read_chains(test_ctx(), c->path, &m, first, count, out, &err))
            fail_msg("ckpt_read_chains(first %lld, count %lld): %s", (long long)first,
                     (long long)count, err.msg);
        /* Bitwise: the chains the fixture wrote, rows [first, first + count). */
        for (int64_t i = 0; i < count * D; i++)
            if (memcmp(&out[i], &c->chains[first * D + i], sizeof(float)) != 0)
                fail_msg("first %lld count %lld: element %lld is %g, expected %g",
                         (long long)first, (long long)count, (long long)i, (double)out[i],
                         (double)c->chains[first * D + i]);
        for (size_t i = (size_t)(count * D); i < sizeof out / sizeof out[0]; i++)
            if (out[i] != -999.0f)
                fail_msg("first %lld count %lld: wrote past its rows (element %zu)",
                         (long long)first, (long long)count, i);
    }
    /* Rows past the end are refused, naming the file and the dataset. */
    float out[2 * D];
    ebm_err err = {0};
    assert_int_equal(ckpt_read_chains(test_ctx(), c->path, &m, N - 1, 2, out, &err), -1);
    if (!strstr(err.msg, c->path) || !strstr(err.msg, "/sampler/chains"))
        fail_msg("message '%s' does not name the file and /sampler/chains", err.msg);
    ckpt_model_free(&m);
}

/* ---- the committed format-1 fixtures ------------------------------------ */

/* Reads one float dataset of n values whole with the HDF5 C API. */
static void read_floats(hid_t f, const char *name, float *out, size_t n)
{
    const hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0)
        fail_msg("no dataset %s", name);
    const hid_t sp = H5Dget_space(ds);
    assert_int_equal(H5Sget_simple_extent_npoints(sp), (hssize_t)n);
    H5Sclose(sp);
    assert_true(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
    H5Dclose(ds);
}

/* tests/fixtures/README.md: written by ebm_mpi 0.1.0 (format 1) with
 * `train --hidden 16 --epochs 2 --buffer 16 --seed 3` on the shipped digits
 * (D = 64 pixels of 8 x 8 in [0, 16], K = 10) under the default stable
 * preset, whose Langevin settings (docs/design.md section 1, "Presets") are
 * 20 steps of size 1 with noise 0.01, gen-weight 0.1, energy-reg 0, clamped
 * chains, inputs mapped from [0, 16] to [-1, 1] (scale 2/16, shift -1). */
static void check_v1_fixture(const char *name)
{
    enum { D = 64, H = 16, K = 10, CHAINS = 16 };
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/v1/buffer/%s", EBM_SOURCE_DIR, name);
    const hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        fail_msg("cannot open the fixture '%s'", path);
    assert_int_equal(root_attr_int(f, "format_version"), 1);

    ckpt_model m;
    read_model(path, &m);
    assert_int_equal(m.shape.d, D);
    assert_int_equal(m.shape.h, H);
    assert_int_equal(m.shape.k, K);
    /* 64*16+16 + 2 (16*16+16) + 16*10+10 = 1754, as the README says. */
    assert_int_equal(m.shape.n_params, 1754);
    assert_int_equal(m.epoch, 2);
    assert_int_equal(m.height, 8);
    assert_int_equal(m.width, 8);
    assert_true(m.value_min == 0.0);
    assert_true(m.value_max == 16.0);
    assert_true(m.map.scale == 0.125f);
    assert_true(m.map.shift == -1.0f);
    assert_int_equal(m.langevin_steps, 20);
    assert_true(m.step_size == 1.0);
    assert_true(m.noise == 0.01);
    assert_true(m.gen_weight == 0.1);
    assert_true(m.energy_reg == 0.0);
    assert_int_equal(m.clamp_chains, 1);
    assert_int_equal(m.n_chains, CHAINS);

    /* Parameters bitwise against the datasets read directly, placed by the
     * flat layout of docs/design.md section 1: per layer W [out, in] then
     * b [out]. */
    const int in[EBM_LAYERS] = {D, H, H, H}, out[EBM_LAYERS] = {H, H, H, K};
    float buf[D * H];
    size_t off = 0;
    for (int l = 0; l < EBM_LAYERS; l++) {
        char ds[48];
        const size_t nw = (size_t)out[l] * (size_t)in[l];
        snprintf(ds, sizeof ds, "/model/layer%d/weight", l);
        read_floats(f, ds, buf, nw);
        if (memcmp(m.params + off, buf, nw * sizeof(float)) != 0)
            fail_msg("%s: %s differs from the file", path, ds);
        off += nw;
        snprintf(ds, sizeof ds, "/model/layer%d/bias", l);
        read_floats(f, ds, buf, (size_t)out[l]);
        if (memcmp(m.params + off, buf, (size_t)out[l] * sizeof(float)) != 0)
            fail_msg("%s: %s differs from the file", path, ds);
        off += (size_t)out[l];
    }
    assert_int_equal(off, m.shape.n_params);

    /* The persistent chains, all 16 rows and a slice of them. */
    float want[CHAINS * D], got[CHAINS * D];
    read_floats(f, "/sampler/chains", want, CHAINS * D);
    ebm_err err = {0};
    if (ckpt_read_chains(test_ctx(), path, &m, 0, CHAINS, got, &err))
        fail_msg("ckpt_read_chains('%s'): %s", path, err.msg);
    assert_memory_equal(got, want, sizeof want);
    if (ckpt_read_chains(test_ctx(), path, &m, 5, 3, got, &err))
        fail_msg("ckpt_read_chains('%s', 5, 3): %s", path, err.msg);
    assert_memory_equal(got, want + 5 * D, 3 * D * sizeof(float));
    H5Fclose(f);
    ckpt_model_free(&m);
}

static void test_ckpt_read_model_loads_v1_fixtures(void **state)
{
    (void)state;
    check_v1_fixture("best.h5");
    check_v1_fixture("last.h5");
}

int main(int argc, char **argv)
{
#define CK(t) cmocka_unit_test_setup_teardown(t, ckpt_setup, ckpt_teardown)
    const struct CMUnitTest tests[] = {
        CK(test_ckpt_read_model_returns_written_model),
        CK(test_ckpt_write_leaves_no_tmp),
        CK(test_ckpt_write_stores_documented_layout),
        CK(test_ckpt_write_replaces_existing),
        CK(test_ckpt_write_overwrites_stale_tmp),
        CK(test_ckpt_write_fails_missing_directory),
        CK(test_ckpt_read_model_fails_without_complete),
        CK(test_ckpt_read_model_fails_other_format_version),
        CK(test_ckpt_read_model_fails_not_hdf5),
        CK(test_ckpt_read_model_fails_missing_file),
        CK(test_ckpt_read_model_fails_on_data_file),
        CK(test_ckpt_read_resume_restores_written_state),
        CK(test_ckpt_read_resume_fails_changed_hyperparameter),
        CK(test_ckpt_ema_average_in_model_trained_weights_in_optimizer),
        CK(test_ckpt_resume_reads_missing_schedule_as_const),
        CK(test_ckpt_read_resume_fails_other_data),
        CK(test_ckpt_read_model_returns_langevin_settings),
        CK(test_ckpt_read_model_reports_no_chains_for_buffer_0),
        CK(test_ckpt_read_chains_returns_requested_rows),
        cmocka_unit_test(test_ckpt_read_model_loads_v1_fixtures),
    };
#undef CK
    return harness_run(argc, argv, "test_ckpt", tests, HARNESS_COUNT(tests), group_setup,
                       group_teardown);
}
