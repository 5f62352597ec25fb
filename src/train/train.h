/* train.h: the data-parallel training loop (the `train` command). */
#ifndef EBM_TRAIN_H
#define EBM_TRAIN_H

#include "cli.h"
#include "par/dist.h"
#include "core/err.h"
#include "ckpt.h"

/* Non-finite global gradients in a row after which training stops. */
#define EBM_MAX_SKIPPED_IN_A_ROW 10

/* How a training that did not fail ended. */
typedef enum {
    TRAIN_DONE,    /* every epoch trained; best.h5 reported */
    TRAIN_STOPPED, /* stopped on request (signal): last.h5 written, resumable */
} train_outcome;

/* Collective. Trains as cfg says; returns 0 with *outcome set, or -1 on error
 * (the same message on every rank). */
int train_run(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run,
              train_outcome *outcome, ebm_err *err);

/* SIGUSR1 and SIGTERM then only set a flag that the next training step
 * shares with every rank (stop, write last.h5, exit 75). Call early. */
int train_install_stop_handlers(ebm_err *err);

/* Creates `dir` (and parents) if needed and checks a file can be made in it.
 * Rank-local; callers combine the result with dist_agree. */
int train_prepare_out_dir(const char *dir, ebm_err *err);

#endif
