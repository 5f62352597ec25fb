/* metrics.h: what training has done so far: one row of figures per epoch,
 * and the position inside the current epoch (both go into checkpoints). */
#ifndef EBM_METRICS_H
#define EBM_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/timer.h"

/* One epoch's figures, as written to metrics.h5 (one dataset per field). */
typedef struct {
    double epoch, global_step;
    double train_loss, train_ce, train_gen, train_error;
    double val_loss, val_ce, val_gen, val_error;
    double energy_data, energy_sample;
    double skipped_steps, wall_seconds, examples_per_second;
    double compute_min, compute_mean, compute_max;
    double comm_min, comm_mean, comm_max;
    /* Since format 2: seconds of each epoch phase, min / mean / max over ranks */
    double time[PHASE_EPOCH_COUNT][3];
    double time_wait_mean;    /* mean over ranks of the collectives' time past the fastest rank's */
    double time_slowest_rank; /* the rank with the most sampling + forward/backward seconds */
    /* Since format 3: rollbacks after a divergence so far (core/diverge.h) */
    double rollbacks;
} metrics_row;

typedef struct {
    const char *name;
    size_t offset;
    const char *description;
    int since; /* the format version (checkpoints, metrics.h5) that has it first */
} metrics_column;

/* The columns of metrics_row, in order. */
const metrics_column *metrics_columns(size_t *count);

/* Column `col` of rows[0, n) into out[0, n), and back. */
void metrics_gather(const metrics_row *rows, int n, const metrics_column *col, double *out);
void metrics_scatter(metrics_row *rows, int n, const metrics_column *col, const double *in);

/* Sums over the current epoch's steps that ride on the step's allreduce. */
enum {
    EPOCH_COUNT,
    EPOCH_LOSS,
    EPOCH_CE,
    EPOCH_GEN,
    EPOCH_ERRORS,
    EPOCH_E_DATA,
    EPOCH_E_SAMPLE,
    EPOCH_SUMS
};

/* Where training stands; everything needed to continue exactly. */
typedef struct {
    int epoch;           /* completed epochs */
    int step;            /* steps done in the current epoch */
    int64_t global_step; /* steps done in all (skipped ones included) */
    double sums[EPOCH_SUMS];
    int64_t skipped_epoch, skipped_total;
    int skipped_in_a_row;
    int best_epoch; /* 0: none yet */
    double best_val_error, best_val_loss;
    int rollbacks; /* times training went back to an epoch's start (core/diverge.h) */
} train_progress;

#endif
