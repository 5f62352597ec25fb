/* dist_mpi.h: the MPI communicator behind a dist_ctx, for the one other
 * layer that must hand it to a library: parallel HDF5's MPI-IO driver in
 * src/io/ (whose own header pulls mpi.h in anyway). Nothing else includes
 * this file. */
#ifndef EBM_DIST_MPI_H
#define EBM_DIST_MPI_H

#include <mpi.h>

#include "par/dist.h"

MPI_Comm dist_comm(const dist_ctx *ctx);

#endif
