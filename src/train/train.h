/* train.h: the `train` command, data-parallel (docs/design.md section 2).
 * main runs it in three phases: set up (data, model, resume, banner), the
 * loop (epochs of steps, validation, checkpoints) and the report (best.h5 on
 * the test split). */
#ifndef EBM_TRAIN_H
#define EBM_TRAIN_H

#include "ckpt.h"
#include "options.h"
#include "core/err.h"
#include "par/dist.h"

/* Non-finite global gradients in a row after which training stops. */
#define EBM_MAX_SKIPPED_IN_A_ROW 10

/* How a training that did not fail ended. */
typedef enum {
    TRAIN_DONE,    /* every epoch trained */
    TRAIN_STOPPED, /* stopped on request (signal): last.h5 written, resumable */
} train_outcome;

typedef struct trainer trainer;

/* Collective. Prepares --out, loads this rank's shards, builds the model,
 * resumes from --resume if asked, prints the banner and brings metrics.h5 to
 * the resumed epoch. *t is set (to free with train_free) even on failure. */
int train_setup(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run, trainer **t,
                ebm_err *err);
/* Collective. Runs the remaining epochs, or until a stop request. */
int train_loop(trainer *t, train_outcome *outcome, ebm_err *err);
/* Collective. Reads best.h5 back and prints the final line with its test
 * error (the figure a user will get when loading it). */
int train_report(trainer *t, ebm_err *err);
void train_free(trainer *t);

/* SIGUSR1 and SIGTERM then only set a flag that the next training step
 * shares with every rank (stop, write last.h5, exit 75). Call early. */
int train_install_stop_handlers(ebm_err *err);
/* Whether a stop signal has arrived (rank-local). */
int train_stop_requested(void);
/* Whether the last stop signal was SIGTERM (mpirun ending the job, or the
 * user): for the stall watchdog. */
int train_terminate_requested(void);

/* Creates `dir` (and parents) if needed and checks a file can be made in it.
 * Rank-local; callers combine the result with dist_agree. */
int train_prepare_out_dir(const char *dir, ebm_err *err);

#endif
