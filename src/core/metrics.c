/* metrics.c: the column table of the per-epoch metrics. */
#include "core/metrics.h"

#define COL(field, text) {#field, offsetof(metrics_row, field), text}

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
};

const metrics_column *metrics_columns(size_t *count)
{
    *count = sizeof columns / sizeof columns[0];
    return columns;
}
