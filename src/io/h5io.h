/* h5io.h: everything that talks HDF5: the data file (each rank reads its own
 * hyperslab through the MPI-IO driver) and checkpoints (written collectively,
 * atomically: temporary name, flush, close, rename). */
#ifndef EBM_H5IO_H
#define EBM_H5IO_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "core/data.h"
#include "par/dist.h"
#include "core/err.h"
#include "core/metrics.h"
#include "num/model.h"

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
    uint64_t data_checksum; /* FNV-1a 64 of the data file's bytes */
    int world_size;
} run_info;

/* What a checkpoint holds. params are the same on every rank; exp_avg and
 * exp_inf are read on rank 0 only; chains, rng_state and order are this
 * rank's own. */
typedef struct {
    const model_shape *shape;
    const float *params, *exp_avg, *exp_inf;
    int64_t adam_step;
    const ebm_config *cfg;
    const run_info *run;
    input_map map;
    double value_min, value_max;
    int height, width; /* image shape, 0 when unknown */
    /* Langevin chains: this rank's rows [first_chain, first_chain + n_chains)
     * of n_chains_total. */
    const float *chains;
    int64_t n_chains_total, first_chain, n_chains;
    /* This rank's random stream and epoch order (n_local of n_local_max). */
    const uint64_t *rng_state;
    const int32_t *order;
    int64_t n_local, n_local_max;
    const train_progress *progress;
    const metrics_row *history; /* progress->epoch rows */
    /* Testing only: die (SIGKILL) half-way through writing, before the rename. */
    int kill_midway;
} ckpt_state;

/* Collective. Writes `path` atomically. */
int h5io_checkpoint_write(const dist_ctx *ctx, const char *path, const ckpt_state *state,
                          ebm_err *err);

/* Where resumed state goes. The caller sets the sizes (shape, first_chain,
 * n_chains, n_local) and buffers; h5io fills them. rng_state and order are
 * filled only when the checkpoint was written by as many ranks as this run
 * (same_world = 1). history is allocated by h5io (progress.epoch rows). */
typedef struct {
    float *params, *exp_avg, *exp_inf; /* exp_* significant on rank 0 */
    int64_t adam_step;
    float *chains;
    int64_t first_chain, n_chains;
    uint64_t *rng_state;
    int32_t *order;
    int64_t n_local;
    train_progress progress;
    metrics_row *history;
    int world_size, same_world;
    uint64_t data_checksum;
} ckpt_resume;

/* Collective. Loads a complete checkpoint to continue training with cfg.
 * Refuses, naming the difference, a checkpoint whose hyperparameters (all but
 * --epochs, --threads, --checkpoint-every), model shape or data checksum differ
 * from this run's. */
int h5io_checkpoint_read_resume(const dist_ctx *ctx, const char *path, const ebm_config *cfg,
                                const model_shape *shape, const run_info *run, ckpt_resume *r,
                                ebm_err *err);

/* Collective. Brings <path> (metrics.h5) to exactly n_rows rows: creates it if
 * needed, drops rows past n_rows (a resumed run) and writes the missing ones
 * from rows[]. Opened and closed each call, so users can read it meanwhile. */
int h5io_metrics_sync(const dist_ctx *ctx, const char *path, const metrics_row *rows,
                      int n_rows, ebm_err *err);

/* A model loaded from a checkpoint. */
typedef struct {
    model_shape shape;
    float *params;
    input_map map;
    double value_min, value_max;
    int epoch, height, width;
    /* How it was trained: what evaluation and sampling reuse. */
    int langevin_steps, clamp_chains;
    double step_size, noise, gen_weight, energy_reg;
    int64_t n_chains; /* rows of /sampler/chains, the persistent buffer (0: none) */
} ckpt_model;

/* Collective. Reads the model of a complete checkpoint. */
int h5io_checkpoint_read_model(const dist_ctx *ctx, const char *path, ckpt_model *model,
                               ebm_err *err);
void ckpt_model_free(ckpt_model *model);

/* Collective. This rank's rows [first, first + count) of the checkpoint's
 * /sampler/chains (model input space) into out (count, d). */
int h5io_checkpoint_read_chains(const dist_ctx *ctx, const char *path, const ckpt_model *model,
                                int64_t first, int64_t count, float *out, ebm_err *err);

/* Per-example output files (eval --dump, sample): datasets of n_total rows,
 * each rank writing its rows [offset, offset + n). */
typedef struct {
    const char *name;
    int is_int;    /* int32, else float32 */
    int width;     /* columns; 0 for a 1-D dataset */
    const void *data; /* this rank's n rows */
    const char *description;
} h5io_column;

/* A root attribute: a number, or a string when text != NULL. */
typedef struct {
    const char *name;
    double number;
    const char *text;
} h5io_attr;

/* Collective. Writes `path` atomically (temporary name, then rename). */
int h5io_write_rows(const dist_ctx *ctx, const char *path, int64_t n_total, int64_t offset,
                    int64_t n, const h5io_column *cols, int n_cols, const h5io_attr *attrs,
                    int n_attrs, ebm_err *err);

#endif
