/* metrics_file.c: metrics.h5 through io/h5file.h. */
#include "io/metrics_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HDF5 chunk of every column, in rows (epochs). */
#define METRICS_CHUNK_ROWS 256

static int write_contents(h5file *f, const metrics_row *rows, int n_rows,
                          const h5file_attr *record, size_t n_record, double *column,
                          ebm_err *err)
{
    size_t n_cols;
    const metrics_column *cols = metrics_columns(&n_cols);
    for (size_t c = 0; c < n_cols; c++) {
        for (int i = 0; i < n_rows; i++)
            column[i] = *(const double *)((const char *)&rows[i] + cols[c].offset);
        EBM_TRY(h5file_column_create(f, cols[c].name, METRICS_CHUNK_ROWS, err));
        EBM_TRY(h5file_column_resize(f, cols[c].name, n_rows, column, NULL, err));
        EBM_TRY(h5file_attr_write_string(f, cols[c].name, "description", cols[c].description,
                                         err));
    }
    EBM_TRY(h5file_attr_write_int(f, "/", "format_version", METRICS_FORMAT_VERSION, err));
    EBM_TRY(h5file_attr_write_string(f, "/", "layout", "one row per epoch in every dataset",
                                     err));
    if (n_record)
        EBM_TRY(h5file_attr_write_list(f, "/", record, n_record, err));
    else
        EBM_TRY(h5file_attr_write_string(f, "/", "program", "ebm_mpi", err));
    return 0;
}

int metrics_file_write(const dist_ctx *ctx, const char *path, const metrics_row *rows,
                       int n_rows, const h5file_attr *record, size_t n_record, ebm_err *err)
{
    const size_t len = strlen(path) + sizeof ".tmp";
    char *tmp = ebm_calloc(len, 1, "file name", err);
    double *column = tmp ? ebm_calloc((size_t)n_rows, sizeof(double), "metrics", err) : NULL;
    if (!column) {
        free(tmp);
        return ebm_pass(err, dist_agree(ctx, -1, err));
    }
    snprintf(tmp, len, "%s.tmp", path);
    h5file *f = NULL;
    int rc = h5file_create(ctx, tmp, &f, err);
    if (rc == 0)
        rc = write_contents(f, rows, n_rows, record, n_record, column, err);
    if (f && h5file_close(f, rc == 0 ? err : NULL) && rc == 0)
        rc = -1;
    rc = h5file_publish(ctx, rc, tmp, path, err);
    free(column);
    free(tmp);
    return ebm_pass(err, rc);
}

int metrics_file_sync(const dist_ctx *ctx, const char *path, const metrics_row *rows,
                      int n_rows, ebm_err *err)
{
    return metrics_file_write(ctx, path, rows, n_rows, NULL, 0, err);
}
