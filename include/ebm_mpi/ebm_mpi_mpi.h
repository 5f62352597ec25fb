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
 *    sections 3 and 2). ebm_eval_mpi writes nothing and starts no watchdog,
 *    so it never aborts. */
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

#ifdef __cplusplus
}
#endif

#endif
