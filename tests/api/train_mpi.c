/* train_mpi.c: training through ebm_train_mpi (ebm_mpi_mpi.h) on a
 * communicator split from MPI_COMM_WORLD (so not the world itself):
 *   train_mpi DATA OUT_DIR [OPTION...]
 * trains with --data DATA --out OUT_DIR and the options; rank 0 writes the
 * texts its progress function was told to OUT_DIR.progress.txt (the
 * command's output, for train_mpi.sh to compare) and checks the events
 * against the result. Then, in OUT_DIR.stop, a stop requested before the
 * call stops after the first step (stopped, last.h5 written), and
 * "--resume auto" there finishes; then a bad option fails on every rank
 * with EBM_ERR_ARGUMENT and the option's name, through the Fortran handle.
 * Prints one PASS line on rank 0; any failure exits 1 with a FAIL line. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ebm_mpi/ebm_mpi_mpi.h"
#include "mpi_caller.h"

#define MAX_OPTS 64

typedef struct {
    FILE *texts;
    int counts[EBM_TRAIN_DONE + 1];
    int last_epoch;
    double last_val_error;
    int bad; /* an event out of order or with wrong figures */
} progress_log;

static void on_progress(const ebm_train_progress *p, void *user)
{
    progress_log *log = user;
    if (p->size != sizeof *p || p->event < 0 || p->event > EBM_TRAIN_DONE || !p->text ||
        !p->text[0] || p->text[strlen(p->text) - 1] != '\n')
        log->bad = 1;
    else
        log->counts[p->event]++;
    if (p->event == EBM_TRAIN_EPOCH) {
        if (p->epoch != log->last_epoch + 1 || p->val_error < 0 || p->val_error > 1 ||
            p->seconds <= 0)
            log->bad = 1;
        log->last_epoch = p->epoch;
        log->last_val_error = p->val_error;
    }
    if (log->texts)
        fputs(p->text, log->texts);
}

int main(int argc, char **argv)
{
    int rank;
    MPI_Comm comm = caller_start(&argc, &argv, &rank);
    if (argc < 3 || argc - 3 > MAX_OPTS - 6) {
        fprintf(stderr, "usage: train_mpi DATA OUT_DIR [OPTION...]\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    const char *opts[MAX_OPTS];
    int n = 0;
    opts[n++] = "--data";
    opts[n++] = argv[1];
    opts[n++] = "--out";
    opts[n++] = argv[2];
    for (int i = 3; i < argc; i++)
        opts[n++] = argv[i];

    progress_log log = {0};
    char path[2048];
    if (rank == 0) {
        snprintf(path, sizeof path, "%s.progress.txt", argv[2]);
        log.texts = fopen(path, "w");
        if (!log.texts)
            caller_fail(rank, "cannot write the progress texts", 0);
    }
    ebm_train_result r;
    int status = ebm_train_mpi(comm, n, opts, on_progress, &log, &r, sizeof r);
    if (status != EBM_OK)
        caller_fail(rank, "ebm_train_mpi", status);
    if (rank == 0) {
        fclose(log.texts);
        if (log.bad || log.counts[EBM_TRAIN_SETUP] != 1 || log.counts[EBM_TRAIN_EPOCH] != r.epochs_done ||
            log.counts[EBM_TRAIN_TIMES] != 1 || log.counts[EBM_TRAIN_DONE] != 1 ||
            log.counts[EBM_TRAIN_STOPPED] != 0)
            caller_fail(rank, "the progress events do not match the run", 0);
        if (r.stopped || r.epochs_done < 1 || r.best_epoch < 1 || r.best_epoch > r.epochs_done ||
            r.test_n <= 0 || r.test_error < 0 || r.test_error > 1 || r.steps <= 0)
            caller_fail(rank, "the result's figures are not a finished run's", 0);
        if (access(r.best, R_OK) || access(r.last, R_OK) || access(r.metrics, R_OK))
            caller_fail(rank, "the result names files that do not exist", 0);
    }

    /* A stop asked for before the call: the first step is the last. */
    char stop_dir[2048];
    snprintf(stop_dir, sizeof stop_dir, "%s.stop", argv[2]);
    opts[3] = stop_dir;
    ebm_request_stop();
    progress_log stop_log = {0};
    status = ebm_train_mpi(comm, n, opts, on_progress, &stop_log, &r, sizeof r);
    if (status != EBM_OK)
        caller_fail(rank, "ebm_train_mpi, stopped", status);
    if (!r.stopped || r.epochs_done != 0 || r.steps != 1 || r.test_n != 0 ||
        (rank == 0 && (stop_log.counts[EBM_TRAIN_STOPPED] != 1 || access(r.last, R_OK))))
        caller_fail(rank, "a stop request did not stop after one step with last.h5", 0);
    /* Consumed: the resumed run finishes. */
    opts[n++] = "--resume";
    opts[n++] = "auto";
    for (int i = 0; i < n; i++)
        if (strcmp(opts[i], "--overwrite") == 0)
            opts[i] = "--threads=1"; /* --overwrite and --resume exclude each other */
    status = ebm_train_mpi(comm, n, opts, NULL, NULL, &r, sizeof r);
    if (status != EBM_OK || r.stopped || r.epochs_done < 1 || r.test_n <= 0)
        caller_fail(rank, "the resumed run did not finish", status);

    /* A refused option, through the Fortran handle: every rank fails alike. */
    const char *bad[] = {"--hidden", "0"};
    status = ebm_train_mpi_f(MPI_Comm_c2f(comm), 2, bad, NULL, NULL, &r, sizeof r);
    if (status != EBM_ERR_ARGUMENT || !strstr(ebm_last_error(), "--hidden"))
        caller_fail(rank, "--hidden 0 was not refused as an argument", status);
    status = ebm_train_mpi(comm, 1, (const char *const[]){"--dry-run"}, NULL, NULL, &r, sizeof r);
    if (status != EBM_ERR_ARGUMENT)
        caller_fail(rank, "--dry-run was not refused", status);

    MPI_Comm_free(&comm);
    if (rank == 0)
        printf("PASS: ebm_train_mpi trained, told %d epoch(s), stopped on request, resumed, "
               "refused bad options\n",
               log.counts[EBM_TRAIN_EPOCH]);
    MPI_Finalize();
    return 0;
}
