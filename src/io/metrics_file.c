/* metrics_file.c: metrics.h5 through io/h5file.h. */
#include "io/metrics_file.h"

#include <stdlib.h>

/* HDF5 chunk of every column, in rows (epochs). */
#define METRICS_CHUNK_ROWS 256

typedef struct {
    const metrics_row *rows;
    int n_rows;
    const h5file_attr *record;
    size_t n_record;
    double *column; /* n_rows scratch */
} metrics_spec;

static int write_contents(h5file *f, void *data, ebm_err *err)
{
    const metrics_spec *m = data;
    size_t n_cols;
    const metrics_column *cols = metrics_columns(&n_cols);
    for (size_t c = 0; c < n_cols; c++) {
        metrics_gather(m->rows, m->n_rows, &cols[c], m->column);
        EBM_TRY(h5file_column_create(f, cols[c].name, METRICS_CHUNK_ROWS, err));
        EBM_TRY(h5file_column_resize(f, cols[c].name, m->n_rows, m->column, NULL, err));
        EBM_TRY(h5file_attr_write_string(f, cols[c].name, "description", cols[c].description,
                                         err));
    }
    EBM_TRY(h5file_attr_write_int(f, "/", "format_version", METRICS_FORMAT_VERSION, err));
    EBM_TRY(h5file_attr_write_string(f, "/", "layout", "one row per epoch in every dataset",
                                     err));
    if (m->n_record)
        EBM_TRY(h5file_attr_write_list(f, "/", m->record, m->n_record, err));
    else
        EBM_TRY(h5file_attr_write_string(f, "/", "program", "ebm_mpi", err));
    return 0;
}

int metrics_file_write(const dist_ctx *ctx, const char *path, const metrics_row *rows,
                       int n_rows, const h5file_attr *record, size_t n_record, ebm_err *err)
{
    double *column = ebm_calloc((size_t)n_rows, sizeof(double), "metrics", err);
    if (!column)
        return ebm_pass(err, dist_agree(ctx, -1, err));
    metrics_spec spec = {rows, n_rows, record, n_record, column};
    const int rc = h5file_write_atomic(ctx, path, write_contents, &spec, err);
    free(column);
    return ebm_pass(err, rc);
}

int metrics_file_sync(const dist_ctx *ctx, const char *path, const metrics_row *rows,
                      int n_rows, ebm_err *err)
{
    return metrics_file_write(ctx, path, rows, n_rows, NULL, 0, err);
}
