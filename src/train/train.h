/* train.h: the data-parallel training loop (the `train` command). */
#ifndef EBM_TRAIN_H
#define EBM_TRAIN_H

#include "cli.h"
#include "par/dist.h"
#include "core/err.h"
#include "io/h5io.h"

/* Non-finite global gradients in a row after which training stops. */
#define EBM_MAX_SKIPPED_IN_A_ROW 10

/* train_run's result when a stop was requested (signal): last.h5 is written. */
enum { TRAIN_STOPPED = 1 };

/* Collective. Trains as cfg says; returns 0 when done, TRAIN_STOPPED, or -1 on
 * error (the same message on every rank). */
int train_run(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run, ebm_err *err);

/* SIGUSR1 and SIGTERM then only set a flag that the next training step
 * shares with every rank (stop, write last.h5, exit 75). Call early. */
int train_install_stop_handlers(ebm_err *err);

/* Creates `dir` (and parents) if needed and checks a file can be made in it.
 * Rank-local; callers combine the result with dist_agree. */
int train_prepare_out_dir(const char *dir, ebm_err *err);

#endif
