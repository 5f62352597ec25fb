/* metrics.c: the column table of the per-epoch metrics. */
#include "core/metrics.h"

#include <string.h>

#define COL(field, text) {#field, offsetof(metrics_row, field), text, 1}
/* A phase's min, mean and max over ranks (format 2). */
#define TIME(phase, name, what)                                                                \
    {"time_" name "_min", offsetof(metrics_row, time[phase][0]),                               \
     "min over ranks of seconds in " what, 2},                                                 \
        {"time_" name "_mean", offsetof(metrics_row, time[phase][1]),                          \
         "mean over ranks of seconds in " what, 2},                                            \
        {"time_" name "_max", offsetof(metrics_row, time[phase][2]),                           \
         "max over ranks of seconds in " what, 2}

static const metrics_column columns[] = {
    COL(epoch, "epoch number, from 1"),
    COL(global_step, "optimiser steps taken so far (skipped ones included)"),
    COL(train_loss, "mean training loss over the epoch (CE + w * gen)"),
    COL(train_ce, "mean training cross-entropy"),
    COL(train_gen, "mean training generative term"),
    COL(train_error, "training classification error (fraction)"),
    COL(val_loss, "validation loss"),
    COL(val_ce, "validation cross-entropy"),
    COL(val_gen, "validation generative term (fresh chains)"),
    COL(val_error, "validation classification error (fraction)"),
    COL(energy_data, "mean energy E(x) = -LSE f(x) of training data"),
    COL(energy_sample, "mean energy of the model samples used in training"),
    COL(skipped_steps, "steps skipped for a non-finite gradient"),
    COL(wall_seconds, "wall time of the epoch's training steps (rank 0)"),
    COL(examples_per_second, "training examples per second"),
    COL(compute_min, "min over ranks of compute seconds"),
    COL(compute_mean, "mean over ranks of compute seconds"),
    COL(compute_max, "max over ranks of compute seconds"),
    COL(comm_min, "min over ranks of communication (and waiting) seconds"),
    COL(comm_mean, "mean over ranks of communication seconds"),
    COL(comm_max, "max over ranks of communication seconds"),
    TIME(PHASE_SAMPLE, "sample", "Langevin sampling of training steps"),
    TIME(PHASE_FORWARD_BACKWARD, "forward_backward", "forward/backward of training batches"),
    TIME(PHASE_REDUCE, "reduce", "the gradient allreduce (waiting included)"),
    TIME(PHASE_ADAMAX, "adamax", "the Adamax update"),
    TIME(PHASE_BCAST, "bcast", "the parameter broadcast (waiting included)"),
    TIME(PHASE_EVAL, "eval", "validation"),
    TIME(PHASE_CHECKPOINT, "checkpoint", "checkpoint writes"),
    TIME(PHASE_METRICS, "metrics", "metrics writes"),
    {"time_wait_mean", offsetof(metrics_row, time_wait_mean),
     "mean over ranks of seconds in the allreduce and broadcast beyond the fastest rank's: "
     "waiting for other ranks",
     2},
    {"time_slowest_rank", offsetof(metrics_row, time_slowest_rank),
     "the rank with the most seconds of sampling + forward/backward in the epoch", 2},
    {"rollbacks", offsetof(metrics_row, rollbacks),
     "rollbacks so far: times a diverging step sent training back to the start of its "
     "epoch (rollback.h5) with fresh random streams",
     3},
};

const metrics_column *metrics_columns(size_t *count)
{
    *count = sizeof columns / sizeof columns[0];
    return columns;
}

void metrics_gather(const metrics_row *rows, int n, const metrics_column *col, double *out)
{
    /* memcpy from the column's byte offset: no char* -> double* cast. */
    for (int i = 0; i < n; i++)
        memcpy(&out[i], (const char *)&rows[i] + col->offset, sizeof out[i]);
}

void metrics_scatter(metrics_row *rows, int n, const metrics_column *col, const double *in)
{
    for (int i = 0; i < n; i++)
        memcpy((char *)&rows[i] + col->offset, &in[i], sizeof in[i]);
}
