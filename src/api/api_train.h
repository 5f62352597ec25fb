/* api_train.h: training as the library runs it (ebm_train_mpi) and as
 * `ebm_mpi train` runs it: one path, so the command and the library write
 * the same files. The command owns MPI and its world communicator, and
 * brings what only it knows (its argv, the SLURM job, the shipped data next
 * to the binary, whether SIGTERM arrived); ebm_train_mpi brings a duplicate
 * of the caller's communicator and its own defaults. No mpi.h here. */
#ifndef EBM_API_TRAIN_H
#define EBM_API_TRAIN_H

#include <stdio.h>

#include "core/err.h"
#include "ebm/eval.h"
#include "options.h"
#include "par/dist.h"
#include "train/train.h"

/* What the caller of a training brings besides its options. */
typedef struct {
    int n_words;
    const char *const *words; /* the command line the run record stores (argv) */
    const char *job_id;       /* SLURM_JOB_ID for the --out lock ("": none) */
    const char *default_data; /* the data file when --data is not given */
    int (*terminating)(void); /* SIGTERM has arrived (the watchdog; NULL: never known) */
} api_train_caller;

/* Collective. The run's record (versions, the data file, the world, the
 * command line, hosts), also for the command's eval and sample. */
int api_run_info(const dist_ctx *ctx, const ebm_config *cfg, const api_train_caller *caller,
                 run_info *run, ebm_err *err);

/* Collective. Starts the stall watchdog on ctx (--stall-timeout), sets the
 * BLAS threads, records the run (versions, hosts, the command line) and
 * trains cfg (a CMD_TRAIN config, --dry-run handled by the caller): set
 * up, the epochs, the report, each event told to `listener` on rank 0. A
 * stop request ends it with *outcome TRAIN_STOPPED (the request consumed);
 * *summary is filled whenever the trainer was built. */
int api_train(const dist_ctx *ctx, const ebm_config *cfg, const api_train_caller *caller,
              const train_listener *listener, train_outcome *outcome, train_summary *summary,
              ebm_err *err);

/* Collective. eval or sample (cfg's command) as the command and the
 * library (ebm_eval_options_mpi, ebm_sample_mpi) run them: the stall
 * watchdog, the BLAS threads, the run record, then the command, printing
 * to `out` on rank 0; eval's figures to *figures and confusion (both may
 * be NULL; infer.h). */
int api_infer(const dist_ctx *ctx, const ebm_config *cfg, const api_train_caller *caller,
              FILE *out, eval_result *figures, double *confusion, size_t confusion_count,
              ebm_err *err);

/* The digits file installed with the library (from its own directory). */
void api_installed_data(char *buf, size_t len);

/* A library call's caller (ebm_train_mpi, ebm_eval_options_mpi,
 * ebm_sample_mpi): the words of its run record are `call` and then the
 * option strings, put in words (n_options + 1 slots); the default data
 * file is the one installed with the library, put in data. */
api_train_caller api_library_caller(const char *call, int n_options, const char *const *options,
                                    const char **words, char *data, size_t data_len);

#endif
