/* metrics_file.c: metrics.h5 through io/h5file.h. */
#define _POSIX_C_SOURCE 200809L
#include "io/metrics_file.h"

#include <stdlib.h>
#include <unistd.h>

#include "io/h5file.h"

/* HDF5 chunk of every column, in rows (epochs). */
#define METRICS_CHUNK_ROWS 256

static int create_metrics_file(const dist_ctx *ctx, const char *path, h5file **file,
                               ebm_err *err)
{
    EBM_TRY(h5file_create(ctx, path, file, err));
    size_t n_cols;
    const metrics_column *cols = metrics_columns(&n_cols);
    for (size_t c = 0; c < n_cols; c++) {
        EBM_TRY(h5file_column_create(*file, cols[c].name, METRICS_CHUNK_ROWS, err));
        EBM_TRY(h5file_attr_write_string(*file, cols[c].name, "description",
                                         cols[c].description, err));
    }
    EBM_TRY(h5file_attr_write_string(*file, "/", "program", "ebm_mpi", err));
    EBM_TRY(h5file_attr_write_string(*file, "/", "layout", "one row per epoch in every dataset",
                                     err));
    return 0;
}

int metrics_file_sync(const dist_ctx *ctx, const char *path, const metrics_row *rows,
                      int n_rows, ebm_err *err)
{
    /* Rank 0 decides whether the file exists, so every rank takes the same
     * (collective) path even on a file system with lagging metadata. */
    int exists = ctx->rank == 0 && access(path, F_OK) == 0;
    EBM_TRY(dist_bcast_bytes(ctx, &exists, sizeof exists, 0, err));
    h5file *file = NULL;
    int rc = exists ? h5file_open(ctx, path, "metrics file", 1, &file, err)
                    : create_metrics_file(ctx, path, &file, err);
    size_t n_cols;
    const metrics_column *cols = metrics_columns(&n_cols);
    double *column = rc == 0 ? ebm_calloc((size_t)n_rows, sizeof(double), "metrics", err) : NULL;
    if (rc == 0 && !column)
        rc = -1;
    for (size_t c = 0; c < n_cols && rc == 0; c++) {
        if (!h5file_exists(file, cols[c].name)) {
            rc = ebm_fail(err, "'%s' is not an ebm_mpi metrics file: no column %s (move it away)",
                          path, cols[c].name);
            break;
        }
        for (int i = 0; i < n_rows; i++)
            column[i] = *(const double *)((const char *)&rows[i] + cols[c].offset);
        rc = h5file_column_resize(file, cols[c].name, n_rows, column, NULL, err);
    }
    free(column);
    if (file && h5file_close(file, rc == 0 ? err : NULL) && rc == 0)
        rc = -1;
    return ebm_pass(err, dist_agree(ctx, rc, err));
}
