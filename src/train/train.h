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

/* What training tells as it goes: on rank 0 only, each event with its
 * figures and the text `ebm_mpi train` prints for it (whole lines, each
 * ending in a newline); the library never prints (api_train.c hands them
 * to the caller's progress function, the command prints the text). */
typedef enum {
    TRAIN_EVENT_SETUP,    /* set up: the banner (text only) */
    TRAIN_EVENT_STEP,     /* within an epoch, every few seconds: loss so far */
    TRAIN_EVENT_ROLLBACK, /* a divergence sent the epoch back to its start */
    TRAIN_EVENT_EPOCH,    /* an epoch ended: its metrics row */
    TRAIN_EVENT_STOPPED,  /* stopped on request: last.h5 written */
    TRAIN_EVENT_TIMES,    /* the end-of-run table of time by phase */
    TRAIN_EVENT_DONE,     /* the final line: best.h5's test figures */
} train_event_kind;

typedef struct {
    train_event_kind kind;
    int epoch, epochs; /* 1-based epoch the event belongs to; --epochs */
    int step, steps;   /* steps done in the epoch; steps per epoch */
    double loss;       /* STEP: mean training loss of the epoch so far */
    const metrics_row *row; /* EPOCH: the epoch's row (metrics.h5); else NULL */
    int best;               /* EPOCH: this epoch became best.h5 */
    int rollbacks;
    const char *text;
} train_event;

typedef struct {
    void (*fn)(const train_event *event, void *user); /* NULL: told nothing */
    void *user;
} train_listener;

/* How a training ended, the same on every rank (seconds: this rank's). */
typedef struct {
    int epochs_done;
    int64_t steps, skipped_steps;
    int rollbacks;
    int best_epoch; /* 0: no epoch validated */
    double best_val_error, best_val_loss;
    /* best.h5 on the test split: test_n 0 when not evaluated (no test
     * examples, best.h5 written before a resume into another directory, or
     * stopped). */
    int64_t test_n;
    double test_error, test_loss;
    double seconds; /* since the epochs began */
} train_summary;

/* Collective. Prepares --out, loads this rank's shards, builds the model,
 * resumes from --resume if asked, tells the banner and brings metrics.h5 to
 * the resumed epoch. *t is set (to free with train_free) even on failure. */
int train_setup(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run,
                const train_listener *listener, trainer **t, ebm_err *err);
/* Collective. Runs the remaining epochs, or until a stop request. */
int train_loop(trainer *t, train_outcome *outcome, ebm_err *err);
/* Collective. Reads best.h5 back and tells the time table and the final
 * line with its test error (the figure a user will get when loading it). */
int train_report(trainer *t, ebm_err *err);
/* How the training went so far (after train_loop, train_report: the end). */
void train_summarize(const trainer *t, train_summary *s);
void train_free(trainer *t);

/* Asks the training running in this process (or the next one) to stop
 * after its current step: the flag rides on the step's allreduce, so every
 * rank stops after the same step (write last.h5, TRAIN_STOPPED). Only
 * writes a volatile sig_atomic_t: async-signal-safe (the command's SIGUSR1
 * and SIGTERM handlers call it; the library installs no handler). */
void train_request_stop(void);
/* Whether a stop has been requested (rank-local). */
int train_stop_requested(void);
/* Forgets the request (a training that stopped on it consumed it). */
void train_stop_clear(void);

/* Creates `dir` (and parents) if needed and checks a file can be made in it.
 * Rank-local; callers combine the result with dist_agree. */
int train_prepare_out_dir(const char *dir, ebm_err *err);

#endif
