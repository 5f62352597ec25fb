/* rows_file.c: per-example output files through io/h5file.h. */
#include "io/rows_file.h"

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
