/* metrics_file.h: <out>/metrics.h5, one float64 dataset per column of
 * metrics_row (core/metrics.h), one row per epoch, and the run record as
 * root attributes. Written whole and atomically (temporary name, rename)
 * after every epoch, so a reader during training sees the previous file or
 * the new one, a failed write leaves the previous one intact, and a resumed
 * run rewrites it from the checkpoint's history (whatever format the old
 * file had). */
#ifndef EBM_IO_METRICS_FILE_H
#define EBM_IO_METRICS_FILE_H

#include <stddef.h>

#include "core/err.h"
#include "core/metrics.h"
#include "io/h5file.h"
#include "par/dist.h"

/* 1: no format_version attribute, columns extended in place (ebm_mpi 0.1.0);
 * 2: written whole, the time_* columns, the run record; 3: the rollbacks
 * column; 4: the run record's lr-schedule, warmup, lr-floor and ema. */
#define METRICS_FORMAT_VERSION 4

/* Collective. Writes `path` with rows[0, n_rows) and the attributes. */
int metrics_file_write(const dist_ctx *ctx, const char *path, const metrics_row *rows,
                       int n_rows, const h5file_attr *record, size_t n_record, ebm_err *err);

/* The same without a run record (tests, tools). */
int metrics_file_sync(const dist_ctx *ctx, const char *path, const metrics_row *rows,
                      int n_rows, ebm_err *err);

#endif
