/* train.c: trains a small model through libebm_mpi on the ranks it is
 * started on (mpirun -np P ./train [DIR]), printing what `ebm_mpi train`
 * prints, then the test error of the best epoch's checkpoint.
 * Without --data the library trains on the digits file installed with it. */
#include <mpi.h>
#include <stdio.h>

#include <ebm_mpi/ebm_mpi_mpi.h>

static void show(const ebm_train_progress *progress, void *user)
{
    (void)user;
    fputs(progress->text, stdout); /* the command's lines; rank 0 only */
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    const char *options[] = {"--hidden", "16", "--epochs", "1", "--overwrite",
                             "--out", argc > 1 ? argv[1] : "run"};
    ebm_train_result result;
    const int status = ebm_train_mpi(MPI_COMM_WORLD, 7, options, show, NULL, &result,
                                     sizeof result);
    if (status != EBM_OK)
        fprintf(stderr, "rank %d: ebm_train_mpi: %s\n", rank, ebm_last_error());
    else if (rank == 0)
        printf("%s: epoch %d, test error %.2f%%\n", result.best, result.best_epoch,
               100.0 * result.test_error);
    MPI_Finalize();
    return status == EBM_OK ? 0 : 1;
}
