/* metrics_file.h: <out>/metrics.h5, one growing float64 dataset per column of
 * metrics_row (core/metrics.h), one row per epoch, reopened and closed at
 * every epoch so that it can be read while training runs. */
#ifndef EBM_IO_METRICS_FILE_H
#define EBM_IO_METRICS_FILE_H

#include "core/err.h"
#include "core/metrics.h"
#include "par/dist.h"

/* Collective. Brings `path` to exactly n_rows rows: creates it if needed,
 * drops rows past n_rows (a resumed run) and writes the missing ones from
 * rows[]. */
int metrics_file_sync(const dist_ctx *ctx, const char *path, const metrics_row *rows,
                      int n_rows, ebm_err *err);

#endif
