/* abort.h: what ending the whole MPI job from one rank waits for, so that
 * what this rank printed last reaches the user (abort.c). Without MPI types,
 * for its unit test; par_abort itself, the MPI_Abort that dist_abort and the
 * watchdog call, is declared in par/watchdog.h. Private to src/par. */
#ifndef EBM_PAR_ABORT_H
#define EBM_PAR_ABORT_H

#include <stddef.h>

/* Waits until none of the n descriptors fds is a pipe holding bytes its
 * reader has not read, at most max_ms milliseconds. 0: drained (or none is
 * a pipe); -1: the limit was reached. */
int par_wait_drained(const int *fds, size_t n, int max_ms);

#endif
