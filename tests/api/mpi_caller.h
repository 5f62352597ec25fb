/* mpi_caller.h: what the test programs that call the library's MPI entry
 * points share: MPI started by the caller, the library given a communicator
 * split from MPI_COMM_WORLD (so that nothing may assume the world), and one
 * FAIL line that names the rank, the step, the status and the library's
 * last error. */
#ifndef EBM_TESTS_API_MPI_CALLER_H
#define EBM_TESTS_API_MPI_CALLER_H

#include <mpi.h>
#include <stdio.h>

#include "ebm_mpi/ebm_mpi_mpi.h"

/* MPI_Init, this rank's number, and a communicator split from the world. */
static inline MPI_Comm caller_start(int *argc, char ***argv, int *rank)
{
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm comm;
    MPI_Comm_split(MPI_COMM_WORLD, 0, *rank, &comm);
    return comm;
}

static inline void caller_fail(int rank, const char *what, int status)
{
    fprintf(stderr, "FAIL: rank %d: %s: status %s: %s\n", rank, what, ebm_status_name(status),
            ebm_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
}

#endif
