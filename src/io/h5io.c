/* h5io.c: HDF5 I/O (parallel, MPI-IO driver): data shards and checkpoints. */
#define _POSIX_C_SOURCE 200809L
#include "io/h5io.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "par/dist_mpi.h"

struct h5io_data {
    hid_t file;
    char path[EBM_PATH_LEN];
    int d;
};

void h5io_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

void h5io_library_version(char *buf, size_t len)
{
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(buf, len, "%u.%u.%u", maj, min, rel);
}

/* The innermost message of HDF5's error stack (where the failure was first
 * seen: usually the useful one), then the stack is cleared. */
static herr_t innermost_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0)
        snprintf((char *)data, 200, "%s", e->desc ? e->desc : "");
    return 0;
}

static const char *hdf5_detail(char buf[200])
{
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_cb, buf);
    H5Eclear2(H5E_DEFAULT);
    return buf;
}

/* An HDF5 failure on `path`, with the innermost HDF5 message, recorded where
 * h5_fail was called. */
#define h5_fail(err, path, what) h5_fail_at((err), (path), (what), __FILE__, __LINE__, __func__)
static int h5_fail_at(ebm_err *err, const char *path, const char *what, const char *file,
                      int line, const char *func)
{
    char detail[200];
    hdf5_detail(detail);
    if (detail[0])
        return ebm_fail_at(err, file, line, func, "'%s': %s (HDF5: %s)", path, what, detail);
    return ebm_fail_at(err, file, line, func, "'%s': %s", path, what);
}

static hid_t mpio_fapl(const dist_ctx *ctx)
{
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && H5Pset_fapl_mpio(fapl, dist_comm(ctx), MPI_INFO_NULL) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

/* Collective. Creates (truncates) `path` for writing by every rank. */
static hid_t create_collective(const dist_ctx *ctx, const char *path)
{
    const hid_t fapl = mpio_fapl(ctx);
    const hid_t file = fapl >= 0 ? H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : -1;
    if (fapl >= 0)
        H5Pclose(fapl);
    return file;
}

static hid_t collective_dxpl(void)
{
    const hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (dxpl >= 0 && H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0) {
        H5Pclose(dxpl);
        return -1;
    }
    return dxpl;
}

/* Checks every rank can make before the collective open: the file exists, is
 * a regular file and is HDF5. */
static int precheck_file(const char *path, const char *kind, ebm_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return ebm_fail(err, "cannot open %s '%s': %s", kind, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ebm_fail(err, "%s '%s' is not a regular file", kind, path);
    const htri_t is_h5 = H5Fis_hdf5(path);
    H5Eclear2(H5E_DEFAULT);
    if (is_h5 <= 0)
        return ebm_fail(err, "%s '%s' is not an HDF5 file", kind, path);
    return 0;
}

static int open_collective(const dist_ctx *ctx, const char *path, const char *kind, hid_t *file,
                           ebm_err *err)
{
    int rc = precheck_file(path, kind, err);
    if (dist_agree(ctx, rc, err))
        return ebm_trace(err);
    const hid_t fapl = mpio_fapl(ctx);
    *file = fapl >= 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl) : -1;
    if (fapl >= 0)
        H5Pclose(fapl);
    if (*file < 0)
        return h5_fail(err, path, "cannot open: the HDF5 file is damaged or truncated");
    return 0;
}

/* ---- attributes ------------------------------------------------------- */

static int attr_read_double(hid_t loc, const char *name, double *value)
{
    if (H5Aexists(loc, name) <= 0)
        return -1;
    const hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    const hid_t space = H5Aget_space(a);
    const hssize_t npoints = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    const herr_t rc = npoints == 1 ? H5Aread(a, H5T_NATIVE_DOUBLE, value) : -1;
    H5Sclose(space);
    H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

/* Reads a fixed- or variable-length string attribute; "" when absent. */
static void attr_read_string(hid_t loc, const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    if (H5Aexists(loc, name) <= 0)
        return;
    const hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    const hid_t ftype = a >= 0 ? H5Aget_type(a) : -1;
    if (ftype >= 0 && H5Tget_class(ftype) == H5T_STRING) {
        if (H5Tis_variable_str(ftype) > 0) {
            const hid_t mtype = H5Tcopy(H5T_C_S1);
            H5Tset_size(mtype, H5T_VARIABLE);
            H5Tset_cset(mtype, H5Tget_cset(ftype));
            char *s = NULL;
            if (H5Aread(a, mtype, &s) >= 0 && s) {
                snprintf(buf, len, "%s", s);
                H5free_memory(s);
            }
            H5Tclose(mtype);
        } else {
            const size_t n = H5Tget_size(ftype);
            char *s = calloc(n + 1, 1);
            const hid_t mtype = H5Tcopy(ftype);
            if (s && H5Aread(a, mtype, s) >= 0)
                snprintf(buf, len, "%s", s);
            free(s);
            H5Tclose(mtype);
        }
    }
    if (ftype >= 0)
        H5Tclose(ftype);
    if (a >= 0)
        H5Aclose(a);
    H5Eclear2(H5E_DEFAULT);
}

static int attr_write(hid_t loc, const char *name, hid_t type, const void *value)
{
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    const herr_t rc = a >= 0 ? H5Awrite(a, type, value) : -1;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    return rc < 0 ? -1 : 0;
}

static int attr_write_double(hid_t loc, const char *name, double v)
{
    return attr_write(loc, name, H5T_NATIVE_DOUBLE, &v);
}

static int attr_write_int(hid_t loc, const char *name, int64_t v)
{
    return attr_write(loc, name, H5T_NATIVE_INT64, &v);
}

static int attr_write_string(hid_t loc, const char *name, const char *s)
{
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(s) + 1);
    H5Tset_strpad(type, H5T_STR_NULLTERM);
    const int rc = attr_write(loc, name, type, s);
    H5Tclose(type);
    return rc;
}

/* ---- data file ---------------------------------------------------------- */

static int read_block(hid_t loc, const char *name, hid_t mtype, int rank, const hsize_t *dims,
                      hsize_t row0, hsize_t nrows, void *data);

/* Dimensions of dataset `name` (rank must be `want_rank`). */
static int dataset_dims(hid_t file, const char *path, const char *name, int want_rank,
                        hsize_t dims[2], int want_float, ebm_err *err)
{
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return ebm_fail(err, "data file '%s' has no dataset %s", path, name);
    }
    const hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (ds < 0)
        return h5_fail(err, path, "cannot open a dataset");
    const hid_t space = H5Dget_space(ds), type = H5Dget_type(ds);
    const int rank = H5Sget_simple_extent_ndims(space);
    const H5T_class_t cls = H5Tget_class(type);
    int rc = 0;
    if (rank != want_rank)
        rc = ebm_fail(err, "data file '%s': %s has %d dimensions, expected %d", path, name,
                      rank, want_rank);
    else if (cls != (want_float ? H5T_FLOAT : H5T_INTEGER))
        rc = ebm_fail(err, "data file '%s': %s should hold %s", path, name,
                      want_float ? "floating-point pixels" : "integer labels");
    else
        H5Sget_simple_extent_dims(space, dims, NULL);
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(ds);
    return rc;
}

static int check_layout(hid_t file, const char *path, data_info *info, ebm_err *err)
{
    memset(info, 0, sizeof *info);
    double v;
    if (attr_read_double(file, "num_classes", &v) || v < 1 || v > 1e6 || v != (int)v)
        return ebm_fail(err, "data file '%s': root attribute num_classes missing or invalid",
                        path);
    info->k = (int)v;
    if (attr_read_double(file, "value_min", &info->value_min) ||
        attr_read_double(file, "value_max", &info->value_max) ||
        !(info->value_max > info->value_min))
        return ebm_fail(err,
                        "data file '%s': root attributes value_min < value_max missing or invalid",
                        path);
    info->height = attr_read_double(file, "height", &v) ? 0 : (int)v;
    info->width = attr_read_double(file, "width", &v) ? 0 : (int)v;
    H5Eclear2(H5E_DEFAULT);
    attr_read_string(file, "source", info->source, sizeof info->source);
    attr_read_string(file, "license", info->license, sizeof info->license);
    for (int s = 0; s < SPLIT_COUNT; s++) {
        char images[32], labels[32];
        snprintf(images, sizeof images, "/%s/images", data_split_names[s]);
        snprintf(labels, sizeof labels, "/%s/labels", data_split_names[s]);
        if (H5Lexists(file, data_split_names[s], H5P_DEFAULT) <= 0) {
            H5Eclear2(H5E_DEFAULT);
            return ebm_fail(err, "data file '%s' has no group /%s", path, data_split_names[s]);
        }
        hsize_t di[2] = {0, 0}, dl[2] = {0, 0};
        if (dataset_dims(file, path, images, 2, di, 1, err) ||
            dataset_dims(file, path, labels, 1, dl, 0, err))
            return ebm_trace(err);
        if (di[0] != dl[0])
            return ebm_fail(err, "data file '%s': %s has %llu labels but %s has %llu images",
                            path, labels, (unsigned long long)dl[0], images,
                            (unsigned long long)di[0]);
        if (s == 0)
            info->d = (int)di[1];
        else if ((int)di[1] != info->d)
            return ebm_fail(err, "data file '%s': %s has %llu pixels per image, /train has %d",
                            path, images, (unsigned long long)di[1], info->d);
        info->n[s] = (int64_t)di[0];
    }
    if (info->d < 1)
        return ebm_fail(err, "data file '%s': images have no pixels", path);
    if (info->height > 0 && info->width > 0 && info->height * info->width != info->d)
        return ebm_fail(err, "data file '%s': images have %d pixels but height x width = %d x %d",
                        path, info->d, info->height, info->width);
    if (info->n[SPLIT_TRAIN] < 1 || info->n[SPLIT_VAL] < 1)
        return ebm_fail(err, "data file '%s': train and val splits must not be empty", path);
    return 0;
}

int h5io_data_open(const dist_ctx *ctx, const char *path, h5io_data **out, data_info *info,
                   ebm_err *err)
{
    *out = NULL;
    hid_t file;
    if (open_collective(ctx, path, "data file", &file, err))
        return ebm_trace(err);
    int rc = check_layout(file, path, info, err);
    if (rc) {
        H5Fclose(file);
        return -1;
    }
    h5io_data *h = ebm_calloc(1, sizeof *h, "data file handle", err);
    if (!h) {
        H5Fclose(file);
        return -1;
    }
    h->file = file;
    h->d = info->d;
    snprintf(h->path, sizeof h->path, "%s", path);
    *out = h;
    return 0;
}

int h5io_data_read(h5io_data *h, int split, data_shard *shard, ebm_err *err)
{
    char name[32];
    const hsize_t dims[2] = {(hsize_t)shard->n_total, (hsize_t)h->d};
    snprintf(name, sizeof name, "/%s/images", data_split_names[split]);
    if (read_block(h->file, name, H5T_NATIVE_FLOAT, 2, dims, (hsize_t)shard->offset,
                   (hsize_t)shard->n, shard->images))
        return h5_fail(err, h->path, "cannot read images");
    snprintf(name, sizeof name, "/%s/labels", data_split_names[split]);
    if (read_block(h->file, name, H5T_NATIVE_INT32, 1, dims, (hsize_t)shard->offset,
                   (hsize_t)shard->n, shard->labels))
        return h5_fail(err, h->path, "cannot read labels");
    return 0;
}

void h5io_data_close(h5io_data *h)
{
    if (!h)
        return;
    H5Fclose(h->file);
    free(h);
}

/* ---- checkpoints -------------------------------------------------------- */

/* Selects rows [row0, row0 + nrows) of all `cols` columns in the file space;
 * with no rows, selects nothing in both spaces: the rank still takes part in
 * the collective transfer. */
static herr_t select_rows(hid_t fspace, hid_t mspace, hsize_t row0, hsize_t nrows, hsize_t cols)
{
    if (nrows == 0)
        return (H5Sselect_none(fspace) < 0 || H5Sselect_none(mspace) < 0) ? -1 : 0;
    const hsize_t start[2] = {row0, 0}, count[2] = {nrows, cols};
    return H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
}

/* Creates dataset `name` (file type ftype, dims[0] rows of dims[1] columns,
 * or 1-D when rank = 1) and writes this rank's rows [row0, row0 + nrows) from
 * data (memory type mtype). Collective: a rank with no rows selects none but
 * still takes part in the write. */
static int write_block(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank,
                       const hsize_t *dims, hsize_t row0, hsize_t nrows, const void *data)
{
    const hid_t space = H5Screate_simple(rank, dims, NULL);
    const hid_t ds =
        space >= 0 ? H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                   : -1;
    if (dims[0] == 0 || (rank > 1 && dims[1] == 0)) {
        /* An empty dataset (no chains): nothing to transfer, on any rank. */
        const int ok = space >= 0 && ds >= 0;
        if (ds >= 0)
            H5Dclose(ds);
        if (space >= 0)
            H5Sclose(space);
        return ok ? 0 : -1;
    }
    const hid_t dxpl = collective_dxpl();
    const hsize_t cols = rank > 1 ? dims[1] : 1;
    const hsize_t mdims[2] = {nrows > 0 ? nrows : 1, cols};
    const hid_t mspace = H5Screate_simple(rank, mdims, NULL);
    herr_t rc = (space < 0 || ds < 0 || dxpl < 0 || mspace < 0) ? -1 : 0;
    if (rc >= 0)
        rc = select_rows(space, mspace, row0, nrows, cols);
    if (rc >= 0)
        rc = H5Dwrite(ds, mtype, mspace, space, dxpl, data);
    if (mspace >= 0)
        H5Sclose(mspace);
    if (dxpl >= 0)
        H5Pclose(dxpl);
    if (ds >= 0)
        H5Dclose(ds);
    if (space >= 0)
        H5Sclose(space);
    return rc < 0 ? -1 : 0;
}

/* A float32 dataset written whole by rank 0. */
static int write_floats(const dist_ctx *ctx, hid_t loc, const char *name, int rank,
                        const hsize_t *dims, const float *data)
{
    return write_block(loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, rank, dims, 0,
                       ctx->rank == 0 ? dims[0] : 0, data);
}

/* Reads this rank's rows [row0, row0 + nrows) of a dataset whose shape must be
 * dims (rank 1 or 2). Collective like write_block. */
static int read_block(hid_t loc, const char *name, hid_t mtype, int rank, const hsize_t *dims,
                      hsize_t row0, hsize_t nrows, void *data)
{
    const hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0)
        return -1;
    const hid_t space = H5Dget_space(ds);
    hsize_t have[2] = {0, 0};
    herr_t rc = (space >= 0 && H5Sget_simple_extent_ndims(space) == rank) ? 0 : -1;
    if (rc >= 0) {
        H5Sget_simple_extent_dims(space, have, NULL);
        if (have[0] != dims[0] || (rank > 1 && have[1] != dims[1]))
            rc = -1;
    }
    if (rc >= 0 && (dims[0] == 0 || (rank > 1 && dims[1] == 0))) {
        /* Empty, as written: nothing to read on any rank. */
        H5Sclose(space);
        H5Dclose(ds);
        return 0;
    }
    const hsize_t cols = rank > 1 ? dims[1] : 1;
    const hsize_t mdims[2] = {nrows > 0 ? nrows : 1, cols};
    const hid_t mspace = H5Screate_simple(rank, mdims, NULL);
    const hid_t dxpl = collective_dxpl();
    if (rc >= 0)
        rc = select_rows(space, mspace, row0, nrows, cols);
    /* A shape mismatch is seen alike by every rank, so all of them skip the
     * collective read together. */
    if (rc >= 0)
        rc = H5Dread(ds, mtype, mspace, space, dxpl, data);
    H5Pclose(dxpl);
    H5Sclose(mspace);
    H5Sclose(space);
    H5Dclose(ds);
    return rc < 0 ? -1 : 0;
}

/* Every layer's weight [out,in] and bias [out] of a flat buffer, in groups
 * named by `group_fmt` (with the layer number), e.g. "/model/layer%d". */
static int write_layers(const dist_ctx *ctx, hid_t file, const char *group_fmt,
                        const model_shape *shape, const float *flat)
{
    const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0)
        return -1;
    int rc = 0;
    for (int l = 0; l < EBM_LAYERS && rc == 0; l++) {
        char name[64];
        snprintf(name, sizeof name, group_fmt, l);
        const hid_t g = H5Gcreate2(file, name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) {
            rc = -1;
            break;
        }
        const hsize_t wd[2] = {(hsize_t)shape->out[l], (hsize_t)shape->in[l]};
        const hsize_t bd[1] = {(hsize_t)shape->out[l]};
        rc = write_floats(ctx, g, "weight", 2, wd, flat ? flat + shape->w_off[l] : NULL);
        if (rc == 0)
            rc = write_floats(ctx, g, "bias", 1, bd, flat ? flat + shape->b_off[l] : NULL);
        H5Gclose(g);
    }
    H5Pclose(lcpl);
    return rc;
}

/* Per-epoch figures as one 1-D dataset per column, written by rank 0. */
static int write_history(const dist_ctx *ctx, hid_t file, const metrics_row *rows, int n)
{
    const hid_t g = H5Gcreate2(file, "/metrics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return -1;
    size_t n_cols;
    const metrics_column *cols = metrics_columns(&n_cols);
    double *column = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    int rc = column ? 0 : -1;
    for (size_t c = 0; c < n_cols && rc == 0; c++) {
        for (int i = 0; i < n; i++)
            column[i] = *(const double *)((const char *)&rows[i] + cols[c].offset);
        const hsize_t dims[1] = {(hsize_t)n};
        rc = write_block(g, cols[c].name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, 0,
                         ctx->rank == 0 ? (hsize_t)n : 0, column);
    }
    free(column);
    H5Gclose(g);
    return rc;
}

static const char *const sum_names[EPOCH_SUMS] = {
    "partial_count", "partial_loss", "partial_ce", "partial_gen",
    "partial_errors", "partial_energy_data", "partial_energy_sample"};

/* /sampler/chains, /rng/state and /data_order: each rank writes its own rows. */
static int write_rank_state(const dist_ctx *ctx, hid_t file, const ckpt_state *st)
{
    const hsize_t d = (hsize_t)st->shape->d;
    const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0)
        return -1;
    const hid_t gs = H5Gcreate2(file, "/sampler", lcpl, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t gr = H5Gcreate2(file, "/rng", lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    int rc = (gs < 0 || gr < 0) ? -1 : 0;
    const hsize_t chain_dims[2] = {(hsize_t)st->n_chains_total, d};
    if (rc == 0)
        rc = write_block(gs, "chains", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, chain_dims,
                         (hsize_t)st->first_chain, (hsize_t)st->n_chains, st->chains);
    const hsize_t rng_dims[2] = {(hsize_t)ctx->size, EBM_RNG_WORDS};
    if (rc == 0)
        rc = write_block(gr, "state", H5T_STD_U64LE, H5T_NATIVE_UINT64, 2, rng_dims,
                         (hsize_t)ctx->rank, 1, st->rng_state);
    if (rc == 0)
        rc = attr_write_string(gs, "meaning",
                               st->n_chains_total > 0
                                   ? "persistent Langevin chains, row = global chain id, in "
                                     "the model's input space"
                                   : "no persistent chains: trained with fresh chains every "
                                     "step (--buffer 0)");
    if (rc == 0)
        rc = attr_write_string(gr, "generator", "xoshiro256** (row r: rank r's stream)");
    /* Shards differ in size by one: rows are padded with -1. */
    int32_t *row = calloc((size_t)(st->n_local_max > 0 ? st->n_local_max : 1), sizeof(int32_t));
    if (!row)
        rc = -1;
    if (rc == 0) {
        for (int64_t i = 0; i < st->n_local_max; i++)
            row[i] = i < st->n_local ? st->order[i] : -1;
        const hsize_t order_dims[2] = {(hsize_t)ctx->size, (hsize_t)st->n_local_max};
        rc = write_block(file, "data_order", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, order_dims,
                         (hsize_t)ctx->rank, 1, row);
    }
    free(row);
    if (rc == 0) {
        const train_progress *pr = st->progress;
        const hid_t ds = H5Dopen2(file, "data_order", H5P_DEFAULT);
        rc = ds < 0 ? -1 : 0;
        if (rc == 0) {
            rc |= attr_write_string(ds, "meaning",
                                    "row r: rank r's order of its train shard this epoch "
                                    "(local indices, -1 = padding)");
            rc |= attr_write_int(ds, "epoch", pr->epoch);
            rc |= attr_write_int(ds, "step_in_epoch", pr->step);
            rc |= attr_write_int(ds, "skipped_in_epoch", pr->skipped_epoch);
            rc |= attr_write_int(ds, "skipped_in_a_row", pr->skipped_in_a_row);
            for (int i = 0; i < EPOCH_SUMS; i++)
                rc |= attr_write_double(ds, sum_names[i], pr->sums[i]);
            H5Dclose(ds);
        }
    }
    if (gs >= 0)
        H5Gclose(gs);
    if (gr >= 0)
        H5Gclose(gr);
    return rc ? -1 : 0;
}

static int write_attributes(hid_t file, const ckpt_state *st)
{
    const run_info *run = st->run;
    const train_progress *pr = st->progress;
    char checksum[24];
    snprintf(checksum, sizeof checksum, "%016llx", (unsigned long long)run->data_checksum);
    int rc = 0;
    rc |= attr_write_int(file, "format_version", EBM_CKPT_FORMAT_VERSION);
    rc |= attr_write_string(file, "program", "ebm_mpi");
    rc |= attr_write_string(file, "program_version", run->program_version);
    rc |= attr_write_string(file, "git_revision", run->git_revision);
    rc |= attr_write_string(file, "mpi_version", run->mpi_version);
    rc |= attr_write_string(file, "hdf5_version", run->hdf5_version);
    rc |= attr_write_string(file, "blas_version", run->blas_version);
    rc |= attr_write_string(file, "data_file", run->data_path);
    rc |= attr_write_string(file, "data_checksum_fnv1a64", checksum);
    rc |= attr_write_int(file, "world_size", run->world_size);
    rc |= attr_write_int(file, "epoch", pr->epoch);
    rc |= attr_write_int(file, "step_in_epoch", pr->step);
    rc |= attr_write_int(file, "global_step", pr->global_step);
    rc |= attr_write_int(file, "skipped_steps", pr->skipped_total);
    rc |= attr_write_int(file, "best_epoch", pr->best_epoch);
    rc |= attr_write_double(file, "best_val_error", pr->best_val_error);
    rc |= attr_write_double(file, "best_val_loss", pr->best_val_loss);
    rc |= attr_write_double(file, "input_scale", st->map.scale);
    rc |= attr_write_double(file, "input_shift", st->map.shift);
    rc |= attr_write_double(file, "value_min", st->value_min);
    rc |= attr_write_double(file, "value_max", st->value_max);
    rc |= attr_write_int(file, "height", st->height);
    rc |= attr_write_int(file, "width", st->width);
    rc |= attr_write_int(file, "map_inputs", st->cfg->map_inputs);
    rc |= attr_write_int(file, "clamp_chains", st->cfg->clamp_chains);
    rc |= attr_write_int(file, "select_by_error", st->cfg->select_by_error);
    /* Every hyperparameter under its option name. */
    size_t n_opts;
    const cli_option *opts = cli_options(&n_opts);
    for (size_t i = 0; i < n_opts; i++) {
        const cli_option *o = &opts[i];
        if (!o->hyper)
            continue;
        const char *s = cli_option_string(o, st->cfg);
        if (s)
            rc |= attr_write_string(file, o->name, s);
        else if (o->type == OPT_DOUBLE)
            rc |= attr_write_double(file, o->name, cli_option_number(o, st->cfg));
        else
            rc |= attr_write_int(file, o->name, (int64_t)cli_option_number(o, st->cfg));
    }
    return rc ? -1 : 0;
}

/* Collective end of an atomic write: once every rank has closed `tmp`
 * without error, rank 0 makes it durable and gives it its name in one step, so
 * a reader sees either the previous file or the complete new one. */
static int publish(const dist_ctx *ctx, int rc, const char *tmp, const char *path, ebm_err *err)
{
    if (dist_agree(ctx, rc, err))
        return ebm_trace(err);
    if (ctx->rank == 0) {
        const int fd = open(tmp, O_RDONLY);
        if (fd < 0 || fsync(fd) != 0)
            rc = ebm_fail(err, "cannot sync '%s': %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        if (rc == 0 && rename(tmp, path) != 0)
            rc = ebm_fail(err, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    }
    return dist_agree(ctx, rc, err);
}

int h5io_checkpoint_write(const dist_ctx *ctx, const char *path, const ckpt_state *st,
                          ebm_err *err)
{
    char tmp[EBM_PATH_LEN + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    const hid_t file = create_collective(ctx, tmp);
    int rc = file < 0 ? h5_fail(err, tmp, "cannot create checkpoint") : 0;
    if (rc == 0 && write_layers(ctx, file, "/model/layer%d", st->shape, st->params))
        rc = h5_fail(err, tmp, "cannot write /model");
    if (rc == 0 && st->kill_midway && ctx->rank == 0)
        raise(SIGKILL); /* fault injection for the tests (README); mpirun ends the rest */
    /* Adamax moments in the model's layout, one tree per moment. */
    if (rc == 0 &&
        (write_layers(ctx, file, "/optimizer/layer%d/exp_avg", st->shape, st->exp_avg) ||
         write_layers(ctx, file, "/optimizer/layer%d/exp_inf", st->shape, st->exp_inf)))
        rc = h5_fail(err, tmp, "cannot write /optimizer");
    if (rc == 0) {
        const hid_t g = H5Gopen2(file, "/optimizer", H5P_DEFAULT);
        if (g < 0 || attr_write_int(g, "step", st->adam_step))
            rc = h5_fail(err, tmp, "cannot write /optimizer attributes");
        if (g >= 0)
            H5Gclose(g);
    }
    if (rc == 0 && write_rank_state(ctx, file, st))
        rc = h5_fail(err, tmp, "cannot write /sampler, /rng or /data_order");
    if (rc == 0 && write_history(ctx, file, st->history, st->progress->epoch))
        rc = h5_fail(err, tmp, "cannot write /metrics");
    if (rc == 0 && write_attributes(file, st))
        rc = h5_fail(err, tmp, "cannot write attributes");
    /* Last, so that a reader can tell a finished file from an interrupted one. */
    if (rc == 0 && attr_write_int(file, "complete", 1))
        rc = h5_fail(err, tmp, "cannot write attributes");
    if (rc == 0 && H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
        rc = h5_fail(err, tmp, "cannot flush checkpoint");
    if (file >= 0 && H5Fclose(file) < 0 && rc == 0)
        rc = h5_fail(err, tmp, "cannot close checkpoint");
    return publish(ctx, rc, tmp, path, err);
}

/* Reads a whole float dataset (independent I/O: every rank wants all of it). */
static int read_floats(hid_t loc, const char *name, hsize_t expect0, hsize_t expect1, float *out)
{
    const hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0)
        return -1;
    const hid_t space = H5Dget_space(ds);
    hsize_t dims[2] = {0, 0};
    const int rank = H5Sget_simple_extent_ndims(space);
    H5Sget_simple_extent_dims(space, dims, NULL);
    int rc = -1;
    if ((rank == 2 && dims[0] == expect0 && dims[1] == expect1) ||
        (rank == 1 && expect1 == 0 && dims[0] == expect0))
        rc = H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0 ? -1 : 0;
    H5Sclose(space);
    H5Dclose(ds);
    return rc;
}

static int weight_dims(hid_t file, int layer, hsize_t dims[2])
{
    char name[48];
    snprintf(name, sizeof name, "/model/layer%d/weight", layer);
    if (H5Lexists(file, "/model", H5P_DEFAULT) <= 0 || H5Lexists(file, name, H5P_DEFAULT) <= 0)
        return -1;
    const hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (ds < 0)
        return -1;
    const hid_t space = H5Dget_space(ds);
    const int rank = H5Sget_simple_extent_ndims(space);
    H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    H5Dclose(ds);
    return rank == 2 ? 0 : -1;
}

/* Collective. Opens a checkpoint and checks it is complete and of our format. */
static int open_checkpoint(const dist_ctx *ctx, const char *path, hid_t *file, ebm_err *err)
{
    if (open_collective(ctx, path, "checkpoint", file, err))
        return ebm_trace(err);
    double complete = 0, v = -1;
    int rc = 0;
    if (attr_read_double(*file, "complete", &complete) || complete != 1)
        rc = ebm_fail(err,
                      "checkpoint '%s' is incomplete (no 'complete' attribute): it was not "
                      "finished or is not an ebm_mpi checkpoint",
                      path);
    else if (attr_read_double(*file, "format_version", &v) || v != EBM_CKPT_FORMAT_VERSION)
        rc = ebm_fail(err, "checkpoint '%s' has format version %g, this program reads %d", path,
                      v, EBM_CKPT_FORMAT_VERSION);
    H5Eclear2(H5E_DEFAULT);
    if (rc)
        H5Fclose(*file);
    return rc;
}

int h5io_checkpoint_read_model(const dist_ctx *ctx, const char *path, ckpt_model *m,
                               ebm_err *err)
{
    memset(m, 0, sizeof *m);
    hid_t file;
    if (open_checkpoint(ctx, path, &file, err))
        return ebm_trace(err);
    int rc = 0;
    double v = 0;
    hsize_t first[2], last[2];
    if (weight_dims(file, 0, first) || weight_dims(file, EBM_LAYERS - 1, last))
        rc = ebm_fail(err, "checkpoint '%s' has no valid /model/layer{0..%d}/weight", path,
                      EBM_LAYERS - 1);
    if (rc == 0) {
        model_shape_init(&m->shape, (int)first[1], (int)first[0], (int)last[0]);
        m->params = ebm_calloc(m->shape.n_params, sizeof(float), "model parameters", err);
        rc = m->params ? 0 : -1;
    }
    for (int l = 0; l < EBM_LAYERS && rc == 0; l++) {
        char wname[48], bname[48];
        snprintf(wname, sizeof wname, "/model/layer%d/weight", l);
        snprintf(bname, sizeof bname, "/model/layer%d/bias", l);
        if (read_floats(file, wname, (hsize_t)m->shape.out[l], (hsize_t)m->shape.in[l],
                        m->params + m->shape.w_off[l]) ||
            read_floats(file, bname, (hsize_t)m->shape.out[l], 0, m->params + m->shape.b_off[l]))
            rc = ebm_fail(err, "checkpoint '%s': layer %d does not match a %d-%d-%d MLP", path,
                          l, m->shape.d, m->shape.h, m->shape.k);
    }
    double scale = 1, shift = 0;
    if (rc == 0 && (attr_read_double(file, "input_scale", &scale) ||
                    attr_read_double(file, "input_shift", &shift) ||
                    attr_read_double(file, "value_min", &m->value_min) ||
                    attr_read_double(file, "value_max", &m->value_max) ||
                    attr_read_double(file, "epoch", &v)))
        rc = ebm_fail(err, "checkpoint '%s' lacks its input mapping attributes", path);
    m->map.scale = (float)scale, m->map.shift = (float)shift;
    m->epoch = (int)v;
    double steps = 0, clamp = 0, height = 0, width = 0;
    if (rc == 0 && (attr_read_double(file, "langevin-steps", &steps) ||
                    attr_read_double(file, "clamp_chains", &clamp) ||
                    attr_read_double(file, "step-size", &m->step_size) ||
                    attr_read_double(file, "noise", &m->noise) ||
                    attr_read_double(file, "gen-weight", &m->gen_weight) ||
                    attr_read_double(file, "energy-reg", &m->energy_reg)))
        rc = ebm_fail(err, "checkpoint '%s' lacks its training attributes", path);
    attr_read_double(file, "height", &height);
    attr_read_double(file, "width", &width);
    m->langevin_steps = (int)steps, m->clamp_chains = (int)clamp;
    m->height = (int)height, m->width = (int)width;
    hsize_t chain_dims[2] = {0, 0};
    if (rc == 0 && H5Lexists(file, "/sampler/chains", H5P_DEFAULT) > 0) {
        const hid_t ds = H5Dopen2(file, "/sampler/chains", H5P_DEFAULT);
        const hid_t space = ds >= 0 ? H5Dget_space(ds) : -1;
        if (space >= 0 && H5Sget_simple_extent_ndims(space) == 2)
            H5Sget_simple_extent_dims(space, chain_dims, NULL);
        if (space >= 0)
            H5Sclose(space);
        if (ds >= 0)
            H5Dclose(ds);
    }
    m->n_chains = chain_dims[1] == (hsize_t)m->shape.d ? (int64_t)chain_dims[0] : 0;
    H5Eclear2(H5E_DEFAULT);
    H5Fclose(file);
    if (rc)
        ckpt_model_free(m);
    return rc;
}

int h5io_checkpoint_read_chains(const dist_ctx *ctx, const char *path, const ckpt_model *m,
                                int64_t first, int64_t count, float *out, ebm_err *err)
{
    hid_t file;
    if (open_checkpoint(ctx, path, &file, err))
        return ebm_trace(err);
    const hsize_t dims[2] = {(hsize_t)m->n_chains, (hsize_t)m->shape.d};
    int rc = 0;
    if (read_block(file, "/sampler/chains", H5T_NATIVE_FLOAT, 2, dims, (hsize_t)first,
                   (hsize_t)count, out))
        rc = h5_fail(err, path, "cannot read /sampler/chains");
    H5Fclose(file);
    return rc;
}

/* The first hyperparameter (other than --epochs) whose stored value differs
 * from cfg's: the options a resumed run may change are not hyperparameters,
 * except --epochs. */
static int compare_hyperparameters(hid_t file, const char *path, const ebm_config *cfg,
                                   ebm_err *err)
{
    size_t n_opts;
    const cli_option *opts = cli_options(&n_opts);
    for (size_t i = 0; i < n_opts; i++) {
        const cli_option *o = &opts[i];
        if (!o->hyper || strcmp(o->name, "epochs") == 0)
            continue;
        char stored[64] = "", current[64];
        const char *s = cli_option_string(o, cfg);
        if (s) {
            attr_read_string(file, o->name, stored, sizeof stored);
            snprintf(current, sizeof current, "%s", s);
        } else {
            double v;
            if (attr_read_double(file, o->name, &v) == 0)
                snprintf(stored, sizeof stored, "%.17g", v);
            snprintf(current, sizeof current, "%.17g", cli_option_number(o, cfg));
        }
        H5Eclear2(H5E_DEFAULT);
        if (strcmp(stored, current) != 0)
            return ebm_fail(err,
                            "cannot resume from '%s': it was trained with --%s %s, this run "
                            "has --%s %s (only --epochs, --threads and --checkpoint-every may "
                            "change on resume)",
                            path, o->name, stored[0] ? stored : "(missing)", o->name, current);
    }
    return 0;
}

static int read_history(hid_t file, int n, metrics_row *rows)
{
    size_t n_cols;
    const metrics_column *cols = metrics_columns(&n_cols);
    double *column = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    int rc = column ? 0 : -1;
    const hid_t g = rc == 0 ? H5Gopen2(file, "/metrics", H5P_DEFAULT) : -1;
    if (g < 0)
        rc = -1;
    for (size_t c = 0; c < n_cols && rc == 0; c++) {
        const hsize_t dims[1] = {(hsize_t)n};
        rc = read_block(g, cols[c].name, H5T_NATIVE_DOUBLE, 1, dims, 0, (hsize_t)n, column);
        for (int i = 0; i < n && rc == 0; i++)
            *(double *)((char *)&rows[i] + cols[c].offset) = column[i];
    }
    if (g >= 0)
        H5Gclose(g);
    free(column);
    return rc;
}

static int read_layers(const dist_ctx *ctx, hid_t file, const char *group_fmt,
                       const model_shape *shape, float *flat, int all_ranks)
{
    int rc = 0;
    for (int l = 0; l < EBM_LAYERS && rc == 0; l++) {
        char name[80];
        const hsize_t wd[2] = {(hsize_t)shape->out[l], (hsize_t)shape->in[l]};
        const hsize_t rows = (all_ranks || ctx->rank == 0) ? wd[0] : 0;
        snprintf(name, sizeof name, group_fmt, l);
        strcat(name, "/weight");
        rc = read_block(file, name, H5T_NATIVE_FLOAT, 2, wd, 0, rows,
                        flat ? flat + shape->w_off[l] : NULL);
        snprintf(name, sizeof name, group_fmt, l);
        strcat(name, "/bias");
        if (rc == 0)
            rc = read_block(file, name, H5T_NATIVE_FLOAT, 1, wd, 0, rows,
                            flat ? flat + shape->b_off[l] : NULL);
    }
    return rc;
}

int h5io_checkpoint_read_resume(const dist_ctx *ctx, const char *path, const ebm_config *cfg,
                                const model_shape *shape, const run_info *run, ckpt_resume *r,
                                ebm_err *err)
{
    hid_t file;
    r->history = NULL;
    if (open_checkpoint(ctx, path, &file, err))
        return ebm_trace(err);
    int rc = compare_hyperparameters(file, path, cfg, err);
    char stored[24] = "", current[24];
    snprintf(current, sizeof current, "%016llx", (unsigned long long)run->data_checksum);
    attr_read_string(file, "data_checksum_fnv1a64", stored, sizeof stored);
    if (rc == 0 && strcmp(stored, current) != 0)
        rc = ebm_fail(err,
                      "cannot resume from '%s': it was trained on data with checksum %s, "
                      "'%s' has %s",
                      path, stored[0] ? stored : "(missing)", run->data_path, current);
    double v[8] = {0};
    static const char *const names[] = {"world_size",  "epoch",      "step_in_epoch",
                                        "global_step", "best_epoch", "best_val_error",
                                        "best_val_loss", "skipped_steps"};
    for (int i = 0; i < 8 && rc == 0; i++)
        if (attr_read_double(file, names[i], &v[i]))
            rc = ebm_fail(err, "checkpoint '%s' lacks attribute %s", path, names[i]);
    train_progress *pr = &r->progress;
    memset(pr, 0, sizeof *pr);
    r->world_size = (int)v[0];
    r->same_world = r->world_size == ctx->size;
    pr->epoch = (int)v[1];
    pr->global_step = (int64_t)v[3];
    pr->best_epoch = (int)v[4];
    pr->best_val_error = v[5];
    pr->best_val_loss = v[6];
    pr->skipped_total = (int64_t)v[7];
    if (rc == 0 && (read_layers(ctx, file, "/model/layer%d", shape, r->params, 1) ||
                    read_layers(ctx, file, "/optimizer/layer%d/exp_avg", shape, r->exp_avg, 0) ||
                    read_layers(ctx, file, "/optimizer/layer%d/exp_inf", shape, r->exp_inf, 0)))
        rc = h5_fail(err, path, "cannot read /model or /optimizer with this run's shapes");
    if (rc == 0) {
        const hid_t g = H5Gopen2(file, "/optimizer", H5P_DEFAULT);
        double step = 0;
        if (g < 0 || attr_read_double(g, "step", &step))
            rc = ebm_fail(err, "checkpoint '%s': /optimizer lacks its step attribute", path);
        r->adam_step = (int64_t)step;
        if (g >= 0)
            H5Gclose(g);
    }
    const hsize_t chain_dims[2] = {(hsize_t)cfg->buffer, (hsize_t)shape->d};
    if (rc == 0 && read_block(file, "/sampler/chains", H5T_NATIVE_FLOAT, 2, chain_dims,
                              (hsize_t)r->first_chain, (hsize_t)r->n_chains, r->chains))
        rc = h5_fail(err, path, "cannot read /sampler/chains");
    if (rc == 0 && r->same_world) {
        /* The exact position: this rank's stream, order and the epoch so far. */
        pr->step = (int)v[2];
        const hsize_t rng_dims[2] = {(hsize_t)ctx->size, EBM_RNG_WORDS};
        if (read_block(file, "/rng/state", H5T_NATIVE_UINT64, 2, rng_dims, (hsize_t)ctx->rank, 1,
                       r->rng_state))
            rc = h5_fail(err, path, "cannot read /rng/state");
        const hid_t ds = rc == 0 ? H5Dopen2(file, "/data_order", H5P_DEFAULT) : -1;
        hsize_t od[2] = {0, 0};
        if (ds >= 0) {
            const hid_t sp = H5Dget_space(ds);
            H5Sget_simple_extent_dims(sp, od, NULL);
            H5Sclose(sp);
            double x = 0;
            for (int i = 0; i < EPOCH_SUMS; i++)
                rc |= attr_read_double(ds, sum_names[i], &pr->sums[i]);
            rc |= attr_read_double(ds, "skipped_in_epoch", &x);
            pr->skipped_epoch = (int64_t)x;
            rc |= attr_read_double(ds, "skipped_in_a_row", &x);
            pr->skipped_in_a_row = (int)x;
            H5Dclose(ds);
            if (rc)
                rc = ebm_fail(err, "checkpoint '%s': /data_order lacks its attributes", path);
        } else if (rc == 0) {
            rc = h5_fail(err, path, "cannot open /data_order");
        }
        int32_t *row = rc == 0 ? calloc((size_t)(od[1] > 0 ? od[1] : 1), sizeof(int32_t)) : NULL;
        if (rc == 0 && (!row || od[0] != (hsize_t)ctx->size || od[1] < (hsize_t)r->n_local ||
                        read_block(file, "/data_order", H5T_NATIVE_INT32, 2, od,
                                   (hsize_t)ctx->rank, 1, row)))
            rc = h5_fail(err, path, "cannot read /data_order");
        for (int64_t i = 0; rc == 0 && i < r->n_local; i++) {
            if (row[i] < 0 || row[i] >= r->n_local)
                rc = ebm_fail(err, "checkpoint '%s': /data_order row %d is corrupt", path,
                              ctx->rank);
            else
                r->order[i] = row[i];
        }
        free(row);
    }
    /* The order check above is the only rank-local one: agree before the next
     * collective read. */
    rc = dist_agree(ctx, rc, err);
    if (rc == 0) {
        r->history = calloc((size_t)(pr->epoch > 0 ? pr->epoch : 1), sizeof(metrics_row));
        if (!r->history)
            rc = ebm_fail(err, "out of memory reading '%s'", path);
        else if (read_history(file, pr->epoch, r->history))
            rc = h5_fail(err, path, "cannot read /metrics");
    }
    H5Eclear2(H5E_DEFAULT);
    H5Fclose(file);
    return rc;
}

/* ---- metrics.h5 ----------------------------------------------------------- */

static int create_metrics_file(const dist_ctx *ctx, const char *path, hid_t *file)
{
    *file = create_collective(ctx, path);
    if (*file < 0)
        return -1;
    size_t n_cols;
    const metrics_column *cols = metrics_columns(&n_cols);
    const hsize_t zero[1] = {0}, unlimited[1] = {H5S_UNLIMITED}, chunk[1] = {256};
    const hid_t space = H5Screate_simple(1, zero, unlimited);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int rc = (space < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 1, chunk) < 0) ? -1 : 0;
    for (size_t c = 0; c < n_cols && rc == 0; c++) {
        const hid_t ds =
            H5Dcreate2(*file, cols[c].name, H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        rc = ds < 0 ? -1 : attr_write_string(ds, "description", cols[c].description);
        if (ds >= 0)
            H5Dclose(ds);
    }
    rc |= attr_write_string(*file, "program", "ebm_mpi");
    rc |= attr_write_string(*file, "layout", "one row per epoch in every dataset");
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

int h5io_metrics_sync(const dist_ctx *ctx, const char *path, const metrics_row *rows,
                      int n_rows, ebm_err *err)
{
    /* Rank 0 decides whether the file exists, so every rank takes the same
     * (collective) path even on a file system with lagging metadata. */
    int exists = 0;
    if (ctx->rank == 0)
        exists = access(path, F_OK) == 0;
    if (dist_bcast_bytes(ctx, &exists, sizeof exists, 0, err))
        return ebm_trace(err);
    hid_t file = -1;
    int rc = 0;
    if (exists) {
        const hid_t fapl = mpio_fapl(ctx);
        file = fapl >= 0 ? H5Fopen(path, H5F_ACC_RDWR, fapl) : -1;
        if (fapl >= 0)
            H5Pclose(fapl);
        if (file < 0)
            rc = h5_fail(err, path, "cannot open metrics file (move it away to start a new one)");
    } else if (create_metrics_file(ctx, path, &file)) {
        rc = h5_fail(err, path, "cannot create metrics file");
    }
    size_t n_cols;
    const metrics_column *cols = metrics_columns(&n_cols);
    double *column = rc == 0 ? calloc((size_t)(n_rows > 0 ? n_rows : 1), sizeof(double)) : NULL;
    if (rc == 0 && !column)
        rc = ebm_fail(err, "out of memory writing '%s'", path);
    const hid_t dxpl = collective_dxpl();
    for (size_t c = 0; c < n_cols && rc == 0; c++) {
        const hid_t ds = H5Dopen2(file, cols[c].name, H5P_DEFAULT);
        if (ds < 0) {
            rc = h5_fail(err, path, "is not an ebm_mpi metrics file (move it away)");
            break;
        }
        hid_t space = H5Dget_space(ds);
        hsize_t have = 0;
        H5Sget_simple_extent_dims(space, &have, NULL);
        H5Sclose(space);
        const hsize_t want = (hsize_t)n_rows;
        herr_t hr = have != want ? H5Dset_extent(ds, &want) : 0;
        if (hr >= 0 && have < want) {
            /* Rows [have, want) from rank 0; the others select nothing. */
            const hsize_t start = have, count = want - have;
            for (hsize_t i = 0; i < count; i++)
                column[i] =
                    *(const double *)((const char *)&rows[start + i] + cols[c].offset);
            space = H5Dget_space(ds);
            const hid_t mspace = H5Screate_simple(1, &count, NULL);
            hr = select_rows(space, mspace, start, ctx->rank == 0 ? count : 0, 1);
            if (hr >= 0)
                hr = H5Dwrite(ds, H5T_NATIVE_DOUBLE, mspace, space, dxpl, column);
            H5Sclose(mspace);
            H5Sclose(space);
        }
        H5Dclose(ds);
        if (hr < 0)
            rc = h5_fail(err, path, "cannot write metrics");
    }
    free(column);
    if (dxpl >= 0)
        H5Pclose(dxpl);
    if (file >= 0 && H5Fclose(file) < 0 && rc == 0)
        rc = h5_fail(err, path, "cannot close metrics file");
    return dist_agree(ctx, rc, err);
}

void ckpt_model_free(ckpt_model *m)
{
    free(m->params);
    m->params = NULL;
}

/* ---- per-example files ---------------------------------------------------- */

int h5io_write_rows(const dist_ctx *ctx, const char *path, int64_t n_total, int64_t offset,
                    int64_t n, const h5io_column *cols, int n_cols, const h5io_attr *attrs,
                    int n_attrs, ebm_err *err)
{
    char tmp[EBM_PATH_LEN + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    const hid_t file = create_collective(ctx, tmp);
    int rc = file < 0 ? h5_fail(err, tmp, "cannot create file") : 0;
    for (int c = 0; c < n_cols && rc == 0; c++) {
        const hsize_t dims[2] = {(hsize_t)n_total, (hsize_t)cols[c].width};
        const int rank = cols[c].width > 0 ? 2 : 1;
        if (write_block(file, cols[c].name, cols[c].is_int ? H5T_STD_I32LE : H5T_IEEE_F32LE,
                        cols[c].is_int ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT, rank, dims,
                        (hsize_t)offset, (hsize_t)n, cols[c].data))
            rc = h5_fail(err, tmp, "cannot write a dataset");
        const hid_t ds = rc == 0 ? H5Dopen2(file, cols[c].name, H5P_DEFAULT) : -1;
        if (ds >= 0) {
            if (attr_write_string(ds, "description", cols[c].description))
                rc = h5_fail(err, tmp, "cannot write attributes");
            H5Dclose(ds);
        }
    }
    for (int a = 0; a < n_attrs && rc == 0; a++) {
        const int bad = attrs[a].text ? attr_write_string(file, attrs[a].name, attrs[a].text)
                                      : attr_write_double(file, attrs[a].name, attrs[a].number);
        if (bad)
            rc = h5_fail(err, tmp, "cannot write attributes");
    }
    if (file >= 0 && H5Fclose(file) < 0 && rc == 0)
        rc = h5_fail(err, tmp, "cannot close file");
    return publish(ctx, rc, tmp, path, err);
}
