/* ckpt.h: checkpoints (<out>/best.h5, <out>/last.h5): what one holds, its
 * layout in the file (docs/design.md section 3), and the resume policy (which
 * options may differ from the run that wrote it). Written collectively and
 * atomically through io/h5file.h; loading checks the format version, the
 * `complete` mark and every shape. */
#ifndef EBM_CKPT_H
#define EBM_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "core/data.h"
#include "core/err.h"
#include "core/metrics.h"
#include "num/base_density.h"
#include "ebm/langevin.h"
#include "num/model.h"
#include "par/dist.h"

/* 2: /metrics gained the time_* columns, the root the run record's
 * command_line and hosts. 3: the root attribute rollbacks and the /metrics
 * column of the same name. 4: the hyperparameters lr-schedule, warmup,
 * lr-floor and ema; with --ema > 0, /model holds the weights' moving average
 * (what eval and sample use) and /optimizer/layer{i}/online the trained
 * weights. 5: /sampler/class_start, the per-class Gaussians of the training
 * images (what --chain-init 1 and `sample --init classes` start from), so
 * that sampling needs no data file. 6: the hyperparameter base; with --base
 * pixels, /base/log_density [d, pieces + 1] (the base density's normalised
 * log-density at its knots, attributes lo and hi: the box in input space),
 * part of the energy. 7: with --train-sampler mala, /sampler/mala_step
 * [world_size], row r rank r's tuned MALA leapfrog step, so that a resume
 * continues the kernel exactly. Every earlier version is still read. */
#define EBM_CKPT_FORMAT_VERSION 7

/* Rollbacks after which a diverging run stops with an error instead. */
#define EBM_MAX_ROLLBACKS 5

/* Versions and identity of this run, stored as checkpoint attributes. */
typedef struct {
    char program_version[64], git_revision[64];
    char mpi_version[128], hdf5_version[32], blas_version[160];
    char data_path[EBM_PATH_LEN];
    uint64_t data_checksum; /* FNV-1a 64 of the data file's bytes */
    int world_size;
    /* The whole command line, shell-quoted ("..." at the end if it was longer),
     * and which ranks ran where: "node1: 0-3; node2: 4-7". */
    char command_line[4096];
    char hosts[2048];
    /* SLURM_JOB_ID ("" outside SLURM): the output directory's lock lets an
     * earlier run of the same job go (core/dir_lock.h). Not stored. */
    char job_id[64];
} run_info;

/* What a checkpoint holds. params are the same on every rank; exp_avg,
 * exp_inf and ema are read on rank 0 only; chains, rng_state and order are
 * this rank's own. With ema (--ema > 0) /model is written from ema and the
 * trained weights params go to /optimizer/layer{i}/online. */
typedef struct {
    const model_shape *shape;
    const float *params, *exp_avg, *exp_inf;
    const float *ema; /* NULL: --ema 0, /model = params */
    const base_density *base; /* NULL: --base none */
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
    /* This rank's MALA leapfrog step (--train-sampler mala); NULL: no
     * kernel, nothing written. */
    const double *mala_step;
    const train_progress *progress;
    const metrics_row *history; /* progress->epoch rows */
    /* The per-class Gaussians of the training images (input space), the same
     * on every rank; written by rank 0. NULL: none (not written). */
    const langevin_gauss *class_start;
} ckpt_state;

/* Collective. Writes `path` atomically. */
int ckpt_write(const dist_ctx *ctx, const char *path, const ckpt_state *state,
                          ebm_err *err);

/* Where resumed state goes. The caller sets the sizes (shape, first_chain,
 * n_chains, n_local) and buffers; ckpt_read_resume fills them. rng_state and order are
 * filled only when the checkpoint was written by as many ranks as this run
 * (same_world = 1). history is allocated by it (progress.epoch rows). */
typedef struct {
    float *params, *exp_avg, *exp_inf; /* exp_* significant on rank 0 */
    float *ema; /* with --ema > 0: the average (/model), on every rank */
    int64_t adam_step;
    float *chains;
    int64_t first_chain, n_chains;
    uint64_t *rng_state;
    int32_t *order;
    int64_t n_local;
    /* Set by the caller: whether this run uses the MALA kernel. Then
     * has_mala_step says whether the file holds its step (format 7, a mala
     * run) and mala_step is this rank's row, or rank 0's when the file was
     * written by another number of ranks. */
    int want_mala_step, has_mala_step;
    double mala_step;
    int steps_per_epoch; /* this run's, to check the position in the epoch */
    train_progress progress;
    metrics_row *history;
    int world_size, same_world;
    uint64_t data_checksum;
} ckpt_resume;

/* Collective. Loads a complete checkpoint to continue training with cfg.
 * Refuses, naming the difference, a checkpoint whose hyperparameters (all but
 * --epochs, --threads, --checkpoint-every), model shape or data checksum differ
 * from this run's. */
int ckpt_read_resume(const dist_ctx *ctx, const char *path, const ebm_config *cfg,
                                const model_shape *shape, const run_info *run, ckpt_resume *r,
                                ebm_err *err);

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
    int chain_init; /* --chain-init (absent in older files: 0, U[-1,1] starts) */
    double step_decay; /* --step-decay (absent in older files: 1, constant steps) */
    char data_checksum[24]; /* data_checksum_fnv1a64 of the run record ("" if absent) */
    int64_t n_chains; /* rows of /sampler/chains, the persistent buffer (0: none) */
    /* /base/log_density: part of the energy, E = -LSE f + E_base (base.d = 0:
     * none, as in every file before format 6). */
    base_density base;
    /* /sampler/class_start (format 5): the per-class Gaussians training
     * fitted; class_start.k = 0 when the file has none (formats 1-4). */
    langevin_gauss class_start;
    int format_version; /* of the file, 1 to EBM_CKPT_FORMAT_VERSION */
    /* The run record's hyperparameters the file holds, "--name value" one a
     * line in the option table's order (numbers in the fewest of 15 or 17 digits that read back; absent ones left out). */
    char hyperparameters[2048];
} ckpt_model;

/* Collective. Reads the model of a complete checkpoint. */
int ckpt_read_model(const dist_ctx *ctx, const char *path, ckpt_model *model,
                               ebm_err *err);
void ckpt_model_free(ckpt_model *model);

/* Collective. This rank's rows [first, first + count) of the checkpoint's
 * /sampler/chains (model input space) into out (count, d). */
int ckpt_read_chains(const dist_ctx *ctx, const char *path, const ckpt_model *model,
                                int64_t first, int64_t count, float *out, ebm_err *err);

#endif
