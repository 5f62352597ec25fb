/* ebm_mpi_mpi.h: the calls of libebm_mpi that take an MPI communicator
 * (docs/api.md). The only public header that includes mpi.h: MPI_Comm is a
 * pointer in Open MPI and an int in MPICH, so a program using it must be
 * compiled with the MPI the library was built with (the CMake package's
 * ebm_mpi_MPI_VENDOR, `pkg-config --variable=mpi_vendor ebm_mpi`); the calls
 * check the size of the handle they are given. Bindings (Python's mpi4py:
 * comm.py2f()) use the _f entry, which takes the Fortran handle.
 *
 * Rules for every call here
 *  - Collective over `comm`: every rank calls it with the same arguments.
 *  - The caller initialises MPI (MPI_Init or MPI_Init_thread) and finalises
 *    it; the library never does. It works on its own duplicate of `comm`
 *    (MPI_Comm_dup, with errors returned, not fatal), never on
 *    MPI_COMM_WORLD, and leaves `comm` and its error handler alone.
 *  - A failure on any rank fails the call on every rank with the same
 *    status and message (the lowest failing rank's).
 *  - MPI_Abort is called only where the job cannot go on coherently: a
 *    failed collective HDF5 write and the stall watchdog (docs/design.md
 *    sections 3 and 2), reached only by the calls that take the command's
 *    options (training, ebm_eval_options_mpi, ebm_sample_mpi). ebm_eval_mpi
 *    writes nothing and starts no watchdog, so it never aborts. */
#ifndef EBM_MPI_MPI_H
#define EBM_MPI_MPI_H

#include <mpi.h>

#include "ebm_mpi/ebm_mpi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The figures of `ebm_mpi eval` (its printed lines), on every rank. */
typedef struct ebm_eval_result {
    int64_t n;            /* examples evaluated, all ranks */
    double loss;          /* mean of cross-entropy + w x generative term */
    double cross_entropy; /* mean */
    double generative;    /* mean generative term (0 when the model has w = 0) */
    double error;         /* fraction misclassified */
    double ece;           /* expected calibration error, 15 equal-width bins */
    double energy_data;   /* mean E(x) of the split */
    double energy_sample; /* mean E(x~) of fresh samples (0 when w = 0) */
} ebm_eval_result;

/* Collective. Evaluates the checkpoint on `split` ("train", "val", "test")
 * of data_path, each rank its contiguous shard, exactly as `mpirun -np P
 * ebm_mpi eval --ckpt checkpoint --data data_path --split split` on the same
 * ranks (the same numbers). result_size: sizeof(ebm_eval_result) as the
 * caller compiled it. confusion (may be NULL): n_classes x n_classes counts,
 * row = true class, column = predicted (confusion_count = n_classes^2). */
EBM_MPI_API int ebm_eval_mpi(MPI_Comm comm, const char *checkpoint, const char *data_path,
                             const char *split, ebm_eval_result *result, size_t result_size,
                             double *confusion, size_t confusion_count);
/* The same with the communicator's Fortran handle (MPI_Comm_c2f). */
EBM_MPI_API int ebm_eval_mpi_f(MPI_Fint comm, const char *checkpoint, const char *data_path,
                               const char *split, ebm_eval_result *result, size_t result_size,
                               double *confusion, size_t confusion_count);

/* The command's output, told as it is printed: called on rank 0 only, in
 * the calling thread, with pieces of text (each ending at a line's end
 * except perhaps the last); concatenated they are exactly what the command
 * prints. It must not call the library. */
typedef void (*ebm_text_fn)(const char *text, void *user);

/* Collective. `mpirun -np P ebm_mpi eval OPTIONS` on the ranks of comm:
 * options are that command's option strings (--ckpt F is required; --data,
 * --split, --dump F, --ood F|uniform|shuffled, --loglik with --ais-steps,
 * --ais-chains, --ais-start; --overwrite, --threads, --stall-timeout), by
 * the same option table (`ebm_mpi eval --help`). Without --data: the
 * digits file installed with the library. text (may be NULL) is told its
 * output; result (may be NULL, else result_size = sizeof(ebm_eval_result))
 * and confusion (may be NULL, else K x K counts, confusion_count = K^2)
 * get the split's figures on every rank. --dump and a collective HDF5 write
 * that fails (MPI_Abort) and --stall-timeout (the watchdog) as for the
 * command. Statuses as ebm_train_mpi's. */
EBM_MPI_API int ebm_eval_options_mpi(MPI_Comm comm, int n_options, const char *const *options,
                                     ebm_text_fn text, void *user, ebm_eval_result *result,
                                     size_t result_size, double *confusion,
                                     size_t confusion_count);
/* The same with the communicator's Fortran handle. */
EBM_MPI_API int ebm_eval_options_mpi_f(MPI_Fint comm, int n_options,
                                       const char *const *options, ebm_text_fn text, void *user,
                                       ebm_eval_result *result, size_t result_size,
                                       double *confusion, size_t confusion_count);

/* Collective. `mpirun -np P ebm_mpi sample OPTIONS` on the ranks of comm:
 * draws --n samples, each rank its share of the chains, and writes them to
 * --out F (an HDF5 file, as the command writes it: the same file, bit for
 * bit, at the same ranks). options as `ebm_mpi sample --help` lists them
 * (--ckpt F required); text as for ebm_eval_options_mpi. */
EBM_MPI_API int ebm_sample_mpi(MPI_Comm comm, int n_options, const char *const *options,
                               ebm_text_fn text, void *user);
/* The same with the communicator's Fortran handle. */
EBM_MPI_API int ebm_sample_mpi_f(MPI_Fint comm, int n_options, const char *const *options,
                                 ebm_text_fn text, void *user);

/* ---- training -------------------------------------------------------------- */

/* What ebm_train_mpi tells the progress function as it goes. */
typedef enum ebm_train_event {
    EBM_TRAIN_SETUP = 0,    /* set up (data, model, resume): the banner, text only */
    EBM_TRAIN_STEP = 1,     /* within an epoch, every few seconds: loss so far */
    EBM_TRAIN_ROLLBACK = 2, /* training diverged: the epoch starts again */
    EBM_TRAIN_EPOCH = 3,    /* an epoch ended and was validated: its figures */
    EBM_TRAIN_STOPPED = 4,  /* stopped on request (ebm_request_stop): last.h5 written */
    EBM_TRAIN_TIMES = 5,    /* the end-of-run table of time by phase, text only */
    EBM_TRAIN_DONE = 6      /* the end: best.h5's test figures (result has them too) */
} ebm_train_event;

/* One event. Figures not of the event's kind are 0. */
typedef struct ebm_train_progress {
    size_t size;       /* sizeof(ebm_train_progress) of the library: fields are only
                          ever appended */
    int event;         /* ebm_train_event */
    int epoch, epochs; /* the epoch it belongs to (1-based), of --epochs */
    int step, steps;   /* steps done in that epoch, of the steps per epoch */
    int rollbacks;     /* rollbacks so far */
    int best;          /* EPOCH: best.h5 now holds this epoch */
    double loss;       /* STEP: the epoch's mean training loss so far; EPOCH: the epoch's */
    /* EPOCH: metrics.h5's row of the epoch. Errors are fractions; seconds
     * is the epoch's wall time on rank 0; comm_share the mean share of
     * step time the ranks spent in communication. */
    double train_error, val_loss, val_error, val_generative;
    double energy_data, energy_sample, seconds, examples_per_second, comm_share;
    /* What `ebm_mpi train` prints for the event: whole lines, each ending
     * in '\n' (its output is exactly these texts, in order). Valid during
     * the call only. */
    const char *text;
} ebm_train_progress;

/* Called on rank 0 of the communicator only, from the calling thread,
 * inside ebm_train_mpi; it must not call the library. */
typedef void (*ebm_progress_fn)(const ebm_train_progress *progress, void *user);

/* Longest path ebm_train_result holds (an --out directory of at most 1023
 * characters and the file name). */
#define EBM_MPI_PATH_MAX 1040

/* How a training ended, on every rank. */
typedef struct ebm_train_result {
    int stopped;       /* 1: stopped on request, last.h5 written: call again with
                          "--resume auto" to continue */
    int epochs_done;   /* epochs trained so far (a resumed run's earlier ones too) */
    int64_t steps, skipped_steps; /* global steps; those skipped (non-finite gradients) */
    int rollbacks;
    int best_epoch;    /* the epoch best.h5 holds (0: none validated) */
    double best_val_error, best_val_loss;
    /* best.h5 on the test split, as `ebm_mpi eval --split test` gives it;
     * test_n 0 when not evaluated (stopped, no test examples, or best.h5
     * written before a resume into another directory). */
    int64_t test_n;
    double test_error, test_loss;
    double seconds;    /* since the epochs began (this rank's clock) */
    char best[EBM_MPI_PATH_MAX], last[EBM_MPI_PATH_MAX], metrics[EBM_MPI_PATH_MAX];
} ebm_train_result;

/* Collective. Trains as `mpirun -np P ebm_mpi train OPTIONS` does on the
 * ranks of `comm`: options are that command's option strings (n_options of
 * them: "--hidden", "16", "--epochs=2", "--overwrite", ...), parsed by the
 * same option table (`ebm_mpi train --help` lists them); the same options
 * at the same number of ranks write the same checkpoints, bit for bit.
 * Without --data it trains on the digits file installed with the library.
 * The run record stores "ebm_train_mpi" and the options as its command
 * line. It reads no environment variable (so the --out lock records no
 * SLURM job) and --dry-run is refused (the command's).
 * progress (may be NULL) is told every event on rank 0; user is passed on.
 * result_size: sizeof(ebm_train_result) as the caller compiled it. A stop
 * request (ebm_request_stop) returns EBM_OK with result->stopped = 1.
 * Statuses: EBM_ERR_ARGUMENT (an option, a NULL pointer, result_size),
 * EBM_ERR_MPI (MPI not initialised, a collective failed), EBM_ERR_MEMORY,
 * and EBM_ERR_IO for every other failure (--out, the data file, a resume,
 * a run that diverged), with the message `ebm_mpi train` prints. The stall
 * watchdog (--stall-timeout) and a failed collective HDF5 write end the job
 * with MPI_Abort. */
EBM_MPI_API int ebm_train_mpi(MPI_Comm comm, int n_options, const char *const *options,
                              ebm_progress_fn progress, void *user, ebm_train_result *result,
                              size_t result_size);
/* The same with the communicator's Fortran handle (MPI_Comm_c2f; mpi4py:
 * comm.py2f()). */
EBM_MPI_API int ebm_train_mpi_f(MPI_Fint comm, int n_options, const char *const *options,
                                ebm_progress_fn progress, void *user, ebm_train_result *result,
                                size_t result_size);

#ifdef __cplusplus
}
#endif

#endif
