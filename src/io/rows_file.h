/* rows_file.h: per-example output files (eval --dump, sample): datasets of
 * n_total rows, each rank writing its rows [offset, offset + n), written
 * atomically (temporary name, then rename). */
#ifndef EBM_IO_ROWS_FILE_H
#define EBM_IO_ROWS_FILE_H

#include <stdint.h>

#include "core/err.h"
#include "par/dist.h"

typedef struct {
    const char *name;
    int is_int;       /* int32, else float32 */
    int width;        /* columns; 0 for a 1-D dataset */
    const void *data; /* this rank's n rows */
    const char *description;
} rows_column;

/* A root attribute: a number, or a string when text != NULL. */
typedef struct {
    const char *name;
    double number;
    const char *text;
} rows_attr;

/* Collective, before the work: whether `path` (named by `option`, written
 * by `program`: the root attribute "program" of such files) may be
 * replaced. No file there, or one `program` wrote: yes. A checkpoint or a
 * metrics file of ebm_mpi: never (its run's work). Anything else (another
 * program's file, not HDF5, a symbolic link): only with `overwrite`. A
 * directory or other special file: never. Fails naming the file and why. */
int rows_file_may_replace(const dist_ctx *ctx, const char *path, const char *option,
                          const char *program, int overwrite, ebm_err *err);

/* Collective. */
int rows_file_write(const dist_ctx *ctx, const char *path, int64_t n_total, int64_t offset,
                    int64_t n, const rows_column *cols, int n_cols, const rows_attr *attrs,
                    int n_attrs, ebm_err *err);

#endif
