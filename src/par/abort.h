/* abort.h: ending the whole MPI job from one rank, so that what this rank
 * printed last reaches the user. Private to src/par (dist_abort is the
 * interface the rest of the program uses). */
#ifndef EBM_PAR_ABORT_H
#define EBM_PAR_ABORT_H

#include <mpi.h>

/* MPI_Abort on comm, once the launcher has read this process's stdout and
 * stderr (at most 2 s). Flushes no stdio stream: the caller does, when it
 * may (the watchdog's thread may not: the main thread can hold stdout). */
_Noreturn void par_abort(MPI_Comm comm);

#endif
