/* trainer.h: what one rank holds while training, shared by the files of
 * src/train/ (setup.c, loop.c, report.c); the rest of the program sees only
 * train.h. */
#ifndef EBM_TRAINER_H
#define EBM_TRAINER_H

#include <stdint.h>

#include "ckpt.h"
#include "options.h"
#include "core/data.h"
#include "core/dir_lock.h"
#include "core/metrics.h"
#include "core/rng.h"
#include "core/shard.h"
#include "core/timer.h"
#include "ebm/eval.h"
#include "ebm/langevin.h"
#include "ebm/ais.h"
#include "num/model.h"
#include "num/schedule.h"
#include "par/dist.h"
#include "record.h"
#include "train/train.h"

/* Status values that ride on the gradient allreduce, after the gradients:
 * the epoch sums (metrics.h), then flags summed over ranks. */
enum {
    ST_NONFINITE = EPOCH_SUMS, /* some rank's loss was not finite */
    ST_STOP,                   /* some rank was asked to stop (signal) */
    ST_CHECKPOINT,             /* rank 0's clock says last.h5 is due */
    ST_LEN
};

struct trainer {
    const dist_ctx *ctx;
    const ebm_config *cfg;
    run_info run;      /* with the data file's checksum */
    run_record record; /* of cfg and run: metrics.h5's attributes */
    model_shape shape;
    data_info info;
    data_shard split[SPLIT_COUNT];
    input_map map;
    shard_plan plan;
    float *params, *grad;     /* grad: n_params gradient sums + ST_LEN status */
    float *exp_avg, *exp_inf; /* rank 0 only */
    /* --ema > 0: the weights' moving average, updated on rank 0 with Adamax,
     * broadcast at each epoch's end for validation (NULL: --ema 0). */
    float *ema;
    lr_schedule lr; /* the rate by global step */
    int64_t adam_step;
    model_workspace ws;
    langevin_sampler sampler;
    ais_kernel *kernel; /* --train-sampler mala: runs the sampler's chains (NULL: off) */
    langevin_gauss start; /* per-class Gaussians (k = 0: none); with --chain-init 1
                           * where chains start; stored in checkpoints */
    base_density base;    /* --base pixels: fitted at setup (base.d = 0: none) */
    evaluator eval;
    ebm_rng rng;
    int32_t *order;  /* this epoch's permutation of the local train shard */
    float *x;        /* [2 cap, D]: batch rows then sample rows */
    float *dlogits;  /* [2 cap, K] */
    int32_t *labels; /* [cap] */
    int capacity;
    int64_t first_chain, n_chains;
    train_progress progress;
    metrics_row *history; /* [cfg->epochs] */
    double created;       /* when train_setup began (timer_now) */
    double started;       /* when the epochs began */
    double last_ckpt;     /* when last.h5 was last written */
    phase_times epoch;    /* this rank's seconds since the last epoch's row */
    phase_times run_time; /* this rank's seconds in each phase of the whole run */
    double slowest_step;  /* seconds: --stall-timeout auto */
    dir_lock_holder lock; /* rank 0: the lock on cfg->out it holds (lock_held) */
    int lock_held;
    char hosts[512]; /* rank 0: where the ranks run (dist_host_summary) */
    train_listener listener; /* who is told the events (rank 0) */
    /* train_report's: seconds since the epochs began, best.h5's test figures */
    double seconds;
    int64_t test_n;
    double test_error, test_loss;
};

/* setup.c: loads the checkpoint at `path` into t, as a resume does (also
 * the rollback: loop.c); *same_world and *world_size say who wrote it. */
int trainer_load(trainer *t, const char *path, int *same_world, int *world_size, ebm_err *err);

/* loop.c: a per-purpose stream for evaluation (epoch -2: the final test). */
void trainer_eval_rng(const trainer *t, int epoch, ebm_rng *rng);

/* loop.c: adds the time since *mark to `phase` of the epoch and of the run. */
void trainer_lap(trainer *t, timer_phase phase, double *mark);
/* loop.c: <out>/metrics.h5 with the history so far. */
int trainer_write_metrics(trainer *t, ebm_err *err);

/* report.c: tells `event` (epochs, steps and rollbacks filled in) to the
 * listener, on rank 0. */
void trainer_tell(const trainer *t, train_event *event);
void trainer_print_banner(const trainer *t, const char *resume_note);
void trainer_print_epoch(const trainer *t, const metrics_row *row, int better);
void trainer_print_stop(const trainer *t);

#endif
