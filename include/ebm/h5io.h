/* h5io.h: everything that talks HDF5: the data file (each rank reads its own
 * hyperslab through the MPI-IO driver) and checkpoints (written collectively,
 * atomically: temporary name, flush, close, rename). */
#ifndef EBM_H5IO_H
#define EBM_H5IO_H

#include <stddef.h>
#include <stdint.h>

#include "ebm/cli.h"
#include "ebm/data.h"
#include "ebm/dist.h"
#include "ebm/err.h"
#include "ebm/model.h"

#define EBM_CKPT_FORMAT_VERSION 1

/* Turns off HDF5's automatic error-stack printing: h5io reports its errors. */
void h5io_quiet(void);
void h5io_library_version(char *buf, size_t len);

typedef struct h5io_data h5io_data;

/* Collective. Opens the data file read-only and checks its layout (splits,
 * dataset ranks, matching sizes, attributes). */
int h5io_data_open(const dist_ctx *ctx, const char *path, h5io_data **file, data_info *info,
                   ebm_err *err);
/* Collective. Reads shard->n rows from shard->offset of `split` (which may be
 * zero rows on some ranks). */
int h5io_data_read(h5io_data *file, int split, data_shard *shard, ebm_err *err);
void h5io_data_close(h5io_data *file);

/* Versions and identity of this run, stored as checkpoint attributes. */
typedef struct {
    char program_version[64], git_revision[64];
    char mpi_version[128], hdf5_version[32], blas_version[160];
    char data_path[EBM_PATH_LEN];
    int world_size;
} run_info;

/* What a checkpoint holds. params are the same on every rank; exp_avg and
 * exp_inf are read on rank 0 only. */
typedef struct {
    const model_shape *shape;
    const float *params, *exp_avg, *exp_inf;
    int64_t adam_step;
    const ebm_config *cfg;
    const run_info *run;
    input_map map;
    double value_min, value_max;
    int epoch;           /* completed epochs */
    int64_t global_step; /* optimiser steps taken (skipped ones included) */
    int best_epoch;
    double best_val_error, best_val_loss;
} ckpt_state;

/* Collective. Writes `path` atomically. */
int h5io_checkpoint_write(const dist_ctx *ctx, const char *path, const ckpt_state *state,
                          ebm_err *err);

/* A model loaded from a checkpoint. */
typedef struct {
    model_shape shape;
    float *params;
    input_map map;
    double value_min, value_max;
    int epoch;
} ckpt_model;

/* Collective. Reads the model of a complete checkpoint. */
int h5io_checkpoint_read_model(const dist_ctx *ctx, const char *path, ckpt_model *model,
                               ebm_err *err);
void ckpt_model_free(ckpt_model *model);

#endif
