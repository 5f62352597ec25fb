/* watchdog.h: the stall watchdog's thread and state, and the MPI_Abort it
 * and dist_abort share (abort.c); private to src/par (dist.h has the
 * interface the rest of the program uses). */
#ifndef EBM_PAR_WATCHDOG_H
#define EBM_PAR_WATCHDOG_H

#include <mpi.h>

struct dist_watch;

/* Starts the thread; NULL when it cannot. `ending` (may be NULL) says
 * whether this process has been asked to terminate (SIGTERM). */
struct dist_watch *dist_watch_new(MPI_Comm comm, int rank, double timeout_seconds,
                                  int (*ending)(void));
/* Stops and joins the thread; NULL is a no-op. */
void dist_watch_free(struct dist_watch *w);
void dist_watch_set_timeout(struct dist_watch *w, double timeout_seconds);
double dist_watch_get_timeout(const struct dist_watch *w);
/* Main thread only; they nest, the outermost counts. NULL: no-ops. */
void dist_watch_enter(struct dist_watch *w, const char *what);
void dist_watch_leave(struct dist_watch *w);
void dist_watch_place(struct dist_watch *w, const char *where, long long number);

/* MPI_Abort on comm, once the launcher has read this process's stdout and
 * stderr (par_wait_drained, at most 2 s). Flushes no stdio stream: the
 * caller does, when it may (the watchdog's thread may not: the main thread
 * can hold stdout's lock). */
_Noreturn void par_abort(MPI_Comm comm);

#endif
