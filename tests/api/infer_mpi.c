/* infer_mpi.c: `ebm_mpi eval|sample OPTIONS` through the library
 * (ebm_eval_options_mpi, ebm_sample_mpi; ebm_mpi_mpi.h) on a communicator
 * split from MPI_COMM_WORLD, the Fortran entry on odd-numbered calls:
 *   infer_mpi eval|sample TEXT_FILE [OPTION...]
 * Rank 0 writes the text it was told to TEXT_FILE (infer_mpi.sh compares it
 * with the command's output); eval also prints its result's figures at full
 * precision, one "figures" line per rank, which must agree. Then
 * --help is refused on every rank. Any failure: a FAIL line, exit 1. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebm_mpi/ebm_mpi_mpi.h"
#include "mpi_caller.h"

static void to_file(const char *text, void *user) { fputs(text, (FILE *)user); }

int main(int argc, char **argv)
{
    int rank;
    MPI_Comm comm = caller_start(&argc, &argv, &rank);
    if (argc < 3 || (strcmp(argv[1], "eval") && strcmp(argv[1], "sample"))) {
        fprintf(stderr, "usage: infer_mpi eval|sample TEXT_FILE [OPTION...]\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    const int eval = strcmp(argv[1], "eval") == 0;
    FILE *text = NULL;
    if (rank == 0 && !(text = fopen(argv[2], "w")))
        caller_fail(rank, "cannot write the text file", 0);
    const int n = argc - 3;
    const char *const *opts = (const char *const *)argv + 3;
    int status;
    if (eval) {
        ebm_eval_result r;
        double confusion[100];
        status = ebm_eval_options_mpi_f(MPI_Comm_c2f(comm), n, opts, to_file, text, &r,
                                        sizeof r, confusion, 100);
        if (status != EBM_OK)
            caller_fail(rank, "ebm_eval_options_mpi_f", status);
        double total = 0;
        for (int i = 0; i < 100; i++)
            total += confusion[i];
        printf("figures rank %d: %lld %.17g %.17g %.17g %.17g %.17g confusion total %.0f\n", rank,
               (long long)r.n, r.loss, r.cross_entropy, r.error, r.ece, r.energy_data, total);
    } else {
        status = ebm_sample_mpi(comm, n, opts, to_file, text);
        if (status != EBM_OK)
            caller_fail(rank, "ebm_sample_mpi", status);
    }
    if (text)
        fclose(text);
    status = eval ? ebm_eval_options_mpi(comm, 1, (const char *const[]){"--help"}, NULL, NULL,
                                         NULL, 0, NULL, 0)
                  : ebm_sample_mpi_f(MPI_Comm_c2f(comm), 1, (const char *const[]){"--help"},
                                     NULL, NULL);
    if (status != EBM_ERR_ARGUMENT || !strstr(ebm_last_error(), "--help"))
        caller_fail(rank, "--help was not refused", status);
    MPI_Comm_free(&comm);
    MPI_Finalize();
    return 0;
}
