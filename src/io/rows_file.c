/* rows_file.c: per-example output files through io/h5file.h. */
#include "io/rows_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5file.h"

static int write_contents(h5file *f, int64_t n_total, int64_t offset, int64_t n,
                          const rows_column *cols, int n_cols, const rows_attr *attrs,
                          int n_attrs, ebm_err *err)
{
    for (int c = 0; c < n_cols; c++) {
        const int64_t dims[2] = {n_total, cols[c].width};
        EBM_TRY(h5file_write_rows(f, cols[c].name, cols[c].is_int ? H5FILE_I32 : H5FILE_F32,
                                  cols[c].width > 0 ? 2 : 1, dims, offset, n, cols[c].data,
                                  err));
        EBM_TRY(h5file_attr_write_string(f, cols[c].name, "description", cols[c].description,
                                         err));
    }
    for (int a = 0; a < n_attrs; a++)
        EBM_TRY(attrs[a].text ? h5file_attr_write_string(f, "/", attrs[a].name, attrs[a].text, err)
                              : h5file_attr_write_double(f, "/", attrs[a].name, attrs[a].number,
                                                         err));
    return 0;
}

int rows_file_write(const dist_ctx *ctx, const char *path, int64_t n_total, int64_t offset,
                    int64_t n, const rows_column *cols, int n_cols, const rows_attr *attrs,
                    int n_attrs, ebm_err *err)
{
    const size_t len = strlen(path) + sizeof ".tmp";
    char *tmp = ebm_calloc(len, 1, "file name", err);
    if (!tmp)
        return ebm_pass(err, dist_agree(ctx, -1, err));
    snprintf(tmp, len, "%s.tmp", path);
    h5file *f = NULL;
    int rc = h5file_create(ctx, tmp, &f, err);
    if (rc == 0)
        rc = write_contents(f, n_total, offset, n, cols, n_cols, attrs, n_attrs, err);
    if (f && h5file_close(f, rc == 0 ? err : NULL) && rc == 0)
        rc = -1;
    rc = h5file_publish(ctx, rc, tmp, path, err);
    free(tmp);
    return ebm_pass(err, rc);
}
