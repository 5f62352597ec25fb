/* rows_file.c: per-example output files through io/h5file.h. */
#define _POSIX_C_SOURCE 200809L
#include "io/rows_file.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "io/h5file.h"

typedef struct {
    int64_t n_total, offset, n;
    const rows_column *cols;
    int n_cols;
    const rows_attr *attrs;
    int n_attrs;
} rows_spec;

static int write_contents(h5file *f, void *data, ebm_err *err)
{
    const rows_spec *r = data;
    for (int c = 0; c < r->n_cols; c++) {
        const rows_column *col = &r->cols[c];
        const int64_t dims[2] = {r->n_total, col->width};
        EBM_TRY(h5file_write_rows(f, col->name, col->is_int ? H5FILE_I32 : H5FILE_F32,
                                  col->width > 0 ? 2 : 1, dims, r->offset, r->n, col->data, err));
        EBM_TRY(h5file_attr_write_string(f, col->name, "description", col->description, err));
    }
    for (int a = 0; a < r->n_attrs; a++) {
        const rows_attr *at = &r->attrs[a];
        EBM_TRY(at->text ? h5file_attr_write_string(f, "/", at->name, at->text, err)
                         : h5file_attr_write_double(f, "/", at->name, at->number, err));
    }
    return 0;
}

int rows_file_write(const dist_ctx *ctx, const char *path, int64_t n_total, int64_t offset,
                    int64_t n, const rows_column *cols, int n_cols, const rows_attr *attrs,
                    int n_attrs, ebm_err *err)
{
    rows_spec spec = {n_total, offset, n, cols, n_cols, attrs, n_attrs};
    return ebm_pass(err, h5file_write_atomic(ctx, path, write_contents, &spec, err));
}

/* What is at `path`, as rank 0 sees it (agreed by broadcast). */
enum { TARGET_NONE, TARGET_LINK, TARGET_REGULAR, TARGET_SPECIAL, TARGET_UNKNOWN };

int rows_file_may_replace(const dist_ctx *ctx, const char *path, const char *option,
                          const char *program, int overwrite, ebm_err *err)
{
    if (!path[0])
        return 0;
    int target = TARGET_NONE;
    if (ctx->rank == 0) {
        struct stat st;
        target = lstat(path, &st) != 0 ? (errno == ENOENT ? TARGET_NONE : TARGET_UNKNOWN)
                 : S_ISLNK(st.st_mode) ? TARGET_LINK
                 : S_ISREG(st.st_mode) ? TARGET_REGULAR
                                       : TARGET_SPECIAL;
    }
    EBM_TRY(dist_bcast_bytes(ctx, &target, sizeof target, 0, err));
    switch (target) {
    case TARGET_NONE:
        return 0;
    case TARGET_SPECIAL:
        return ebm_fail(err, "%s '%s' exists and is not a regular file: not replaced", option,
                        path);
    case TARGET_UNKNOWN:
        return ebm_fail(err, "%s '%s': cannot tell what is there (stat failed on rank 0)",
                        option, path);
    case TARGET_LINK:
        if (overwrite)
            return 0; /* the rename replaces the link itself, never its target */
        return ebm_fail(err,
                        "%s '%s' is a symbolic link: not replaced (--overwrite replaces the "
                        "link itself, not what it points to)",
                        option, path);
    default:
        break;
    }
    /* A regular file: what wrote it. Rank 0 looks; every rank opens (MPI-IO). */
    char writer[128] = "";
    int is_ckpt = 0, is_metrics = 0, is_hdf5 = 0;
    if (ctx->rank == 0) {
        ebm_err quiet = {0};
        is_hdf5 = h5file_precheck(path, "file", &quiet) == 0;
    }
    EBM_TRY(dist_bcast_bytes(ctx, &is_hdf5, sizeof is_hdf5, 0, err));
    if (is_hdf5) {
        h5file *f = NULL;
        EBM_TRY(h5file_open(ctx, path, option, 0, &f, err));
        h5file_attr_read_string(f, "/", "program", writer, sizeof writer);
        char layout[128] = "";
        h5file_attr_read_string(f, "/", "layout", layout, sizeof layout);
        is_ckpt = h5file_exists(f, "/model");
        is_metrics = strncmp(layout, "one row per epoch", 17) == 0;
        h5file_close(f, NULL);
    }
    if (is_ckpt || is_metrics)
        return ebm_fail(err,
                        "%s '%s' is %s of ebm_mpi: never replaced by %s (its run's work); name "
                        "another file",
                        option, path, is_ckpt ? "a checkpoint" : "a metrics file", program);
    if (strcmp(writer, program) == 0 || overwrite)
        return 0;
    return ebm_fail(err,
                    "%s '%s' exists and was not written by %s: not replaced (pass --overwrite "
                    "to replace it)",
                    option, path, program);
}
