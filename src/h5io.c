/* h5io.c: HDF5 I/O (parallel, MPI-IO driver): data shards and checkpoints. */
#define _POSIX_C_SOURCE 200809L
#include "ebm/h5io.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static int h5_fail(ebm_err *err, const char *path, const char *what)
{
    char detail[200];
    hdf5_detail(detail);
    if (detail[0])
        return ebm_fail(err, "'%s': %s (HDF5: %s)", path, what, detail);
    return ebm_fail(err, "'%s': %s", path, what);
}

static hid_t mpio_fapl(const dist_ctx *ctx)
{
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && H5Pset_fapl_mpio(fapl, ctx->comm, MPI_INFO_NULL) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
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
        return -1;
    const hid_t fapl = mpio_fapl(ctx);
    *file = fapl >= 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl) : -1;
    if (fapl >= 0)
        H5Pclose(fapl);
    if (*file < 0)
        return h5_fail(err, path, "cannot open");
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
            return -1;
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
        return -1;
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

/* Collective read of rows [offset, offset+n) of a dataset with `cols` columns
 * (0 for 1-D); a rank with n = 0 selects nothing but still takes part. */
static int read_rows(hid_t file, const char *name, int64_t offset, int64_t n, int cols,
                     hid_t memtype, void *buf)
{
    const hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (ds < 0)
        return -1;
    const int rank = cols > 0 ? 2 : 1;
    hsize_t start[2] = {(hsize_t)offset, 0}, count[2] = {(hsize_t)n, (hsize_t)cols};
    hsize_t mdims[2] = {(hsize_t)(n > 0 ? n : 1), (hsize_t)cols};
    const hid_t fspace = H5Dget_space(ds), mspace = H5Screate_simple(rank, mdims, NULL);
    const hid_t dxpl = collective_dxpl();
    herr_t rc;
    if (n > 0)
        rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    else
        rc = (H5Sselect_none(fspace) < 0 || H5Sselect_none(mspace) < 0) ? -1 : 0;
    if (rc >= 0)
        rc = H5Dread(ds, memtype, mspace, fspace, dxpl, buf);
    H5Pclose(dxpl);
    H5Sclose(mspace);
    H5Sclose(fspace);
    H5Dclose(ds);
    return rc < 0 ? -1 : 0;
}

int h5io_data_read(h5io_data *h, int split, data_shard *shard, ebm_err *err)
{
    char name[32];
    snprintf(name, sizeof name, "/%s/images", data_split_names[split]);
    if (read_rows(h->file, name, shard->offset, shard->n, h->d, H5T_NATIVE_FLOAT, shard->images))
        return h5_fail(err, h->path, "cannot read images");
    snprintf(name, sizeof name, "/%s/labels", data_split_names[split]);
    if (read_rows(h->file, name, shard->offset, shard->n, 0, H5T_NATIVE_INT32, shard->labels))
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

/* Creates dataset `name` of float32 with the given dims and writes `data`
 * from rank 0 only; every rank takes part in the collective write. */
static int write_floats(const dist_ctx *ctx, hid_t loc, const char *name, int rank,
                        const hsize_t *dims, const float *data)
{
    const hid_t space = H5Screate_simple(rank, dims, NULL);
    const hid_t ds = H5Dcreate2(loc, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT,
                                H5P_DEFAULT);
    const hid_t dxpl = collective_dxpl();
    herr_t rc = (space < 0 || ds < 0 || dxpl < 0) ? -1 : 0;
    const hid_t mspace = rc >= 0 ? H5Scopy(space) : -1;
    if (rc >= 0 && ctx->rank != 0)
        rc = (H5Sselect_none(space) < 0 || H5Sselect_none(mspace) < 0) ? -1 : 0;
    if (rc >= 0)
        rc = H5Dwrite(ds, H5T_NATIVE_FLOAT, mspace, space, dxpl, data);
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

static int write_attributes(hid_t file, const ckpt_state *st)
{
    const run_info *run = st->run;
    int rc = 0;
    rc |= attr_write_int(file, "format_version", EBM_CKPT_FORMAT_VERSION);
    rc |= attr_write_string(file, "program", "ebm_mpi");
    rc |= attr_write_string(file, "program_version", run->program_version);
    rc |= attr_write_string(file, "git_revision", run->git_revision);
    rc |= attr_write_string(file, "mpi_version", run->mpi_version);
    rc |= attr_write_string(file, "hdf5_version", run->hdf5_version);
    rc |= attr_write_string(file, "blas_version", run->blas_version);
    rc |= attr_write_string(file, "data_file", run->data_path);
    rc |= attr_write_int(file, "world_size", run->world_size);
    rc |= attr_write_int(file, "epoch", st->epoch);
    rc |= attr_write_int(file, "global_step", st->global_step);
    rc |= attr_write_int(file, "best_epoch", st->best_epoch);
    rc |= attr_write_double(file, "best_val_error", st->best_val_error);
    rc |= attr_write_double(file, "best_val_loss", st->best_val_loss);
    rc |= attr_write_double(file, "input_scale", st->map.scale);
    rc |= attr_write_double(file, "input_shift", st->map.shift);
    rc |= attr_write_double(file, "value_min", st->value_min);
    rc |= attr_write_double(file, "value_max", st->value_max);
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

int h5io_checkpoint_write(const dist_ctx *ctx, const char *path, const ckpt_state *st,
                          ebm_err *err)
{
    char tmp[EBM_PATH_LEN + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    const hid_t fapl = mpio_fapl(ctx);
    const hid_t file = fapl >= 0 ? H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : -1;
    if (fapl >= 0)
        H5Pclose(fapl);
    int rc = file < 0 ? h5_fail(err, tmp, "cannot create checkpoint") : 0;
    if (rc == 0 && write_layers(ctx, file, "/model/layer%d", st->shape, st->params))
        rc = h5_fail(err, tmp, "cannot write /model");
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
    if (rc == 0 && write_attributes(file, st))
        rc = h5_fail(err, tmp, "cannot write attributes");
    /* Last, so that a reader can tell a finished file from an interrupted one. */
    if (rc == 0 && attr_write_int(file, "complete", 1))
        rc = h5_fail(err, tmp, "cannot write attributes");
    if (rc == 0 && H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
        rc = h5_fail(err, tmp, "cannot flush checkpoint");
    if (file >= 0 && H5Fclose(file) < 0 && rc == 0)
        rc = h5_fail(err, tmp, "cannot close checkpoint");
    if (dist_agree(ctx, rc, err))
        return -1;
    /* The file is complete on disk: make it durable, then give it its name in
     * one step, so a reader sees either the previous checkpoint or this one. */
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

int h5io_checkpoint_read_model(const dist_ctx *ctx, const char *path, ckpt_model *m,
                               ebm_err *err)
{
    memset(m, 0, sizeof *m);
    hid_t file;
    if (open_collective(ctx, path, "checkpoint", &file, err))
        return -1;
    int rc = 0;
    double complete = 0, v = 0;
    hsize_t first[2], last[2];
    if (attr_read_double(file, "complete", &complete) || complete != 1)
        rc = ebm_fail(err, "checkpoint '%s' is incomplete (no 'complete' attribute)", path);
    else if (attr_read_double(file, "format_version", &v) || v != EBM_CKPT_FORMAT_VERSION)
        rc = ebm_fail(err, "checkpoint '%s' has format version %g, this program reads %d", path,
                      v, EBM_CKPT_FORMAT_VERSION);
    else if (weight_dims(file, 0, first) || weight_dims(file, EBM_LAYERS - 1, last))
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
    H5Eclear2(H5E_DEFAULT);
    H5Fclose(file);
    if (rc)
        ckpt_model_free(m);
    return rc;
}

void ckpt_model_free(ckpt_model *m)
{
    free(m->params);
    m->params = NULL;
}
