/* dist.h: the parallel layer. The rest of the program sees a context (rank,
 * size, an opaque communicator) and small typed collectives; only src/par/
 * includes mpi.h (par/dist_mpi.h hands the communicator to parallel HDF5). */
#ifndef EBM_DIST_H
#define EBM_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct dist_handle dist_handle; /* the MPI communicator, opaque */

typedef struct {
    dist_handle *comm;
    int rank, size;
    int show_trail; /* errors print their file:line trail (EBM_MPI_DEBUG=1) */
} dist_ctx;

/* MPI_Init; errors on the communicator return instead of aborting, so each
 * failure is reported as one ebm_mpi error line. */
int dist_init(int *argc, char ***argv, int show_trail, dist_ctx *ctx, ebm_err *err);
/* Frees the context and calls MPI_Finalize. */
void dist_finalize(dist_ctx *ctx);

/* A context of this process alone (MPI_COMM_SELF: rank 0 of 1), e.g. to
 * compare a sharded computation with the same one on one rank; free it with
 * dist_self_free (MPI stays up). */
int dist_self(const dist_ctx *world, dist_ctx *self, ebm_err *err);
void dist_self_free(dist_ctx *self);

/* A context without MPI (the library's serial calls: a model loaded and
 * used by a program that never initialises MPI): this process alone, rank 0
 * of 1. Every collective is then local (sums and broadcasts leave the data
 * as it is, dist_agree returns this process's result), src/io opens files
 * with HDF5's default (sec2) driver, and no MPI function is called
 * (dist_init, dist_self, dist_host_name and dist_library_version are not for
 * serial callers; dist_abort is never reached by them: they return errors).
 * Nothing to free. */
void dist_serial(dist_ctx *ctx);
int dist_is_serial(const dist_ctx *ctx);

/* A context on a copy of a communicator the caller owns (the library's
 * communicator calls, include/ebm_mpi/ebm_mpi_mpi.h): MPI must already be
 * initialised (else an error, nothing called); the copy (MPI_Comm_dup,
 * collective) gets MPI_ERRORS_RETURN, so the caller's communicator and its
 * error handler are never touched. `comm` points to the caller's MPI_Comm,
 * of comm_size bytes (checked against this MPI's): outside src/par/ it is
 * held as bytes. dist_user_free frees the copy and leaves MPI up. */
int dist_from_user(const void *comm, size_t comm_size, dist_ctx *ctx, ebm_err *err);
/* The same from a Fortran handle (MPI_Fint), converted with MPI_Comm_f2c. */
int dist_from_fortran(int64_t fint, dist_ctx *ctx, ebm_err *err);
void dist_user_free(dist_ctx *ctx);

/* Collective. Combines a result every rank computed: returns 0 when all ranks
 * succeeded, otherwise -1 on every rank with the message (and trail) of the
 * lowest failing rank. */
int dist_agree(const dist_ctx *ctx, int local_rc, ebm_err *err);

/* For a failure only this rank sees, outside any collective: prints the one
 * error line (and the trail when ctx->show_trail; nothing when err is NULL:
 * the caller printed it) and ends the whole job (MPI_Abort). */
_Noreturn void dist_abort(const dist_ctx *ctx, const ebm_err *err);

/* ---- the stall watchdog (docs/design.md section 2) ------------------------
 * A thread per rank that ends the job when this rank has waited in one
 * collective (every one of this file's, and the parallel HDF5 calls, which
 * src/io brackets with dist_watch_begin/end) longer than the timeout: it
 * prints one error line (the lowest waiting rank first) and calls MPI_Abort.
 * Time during which this process was stopped (SIGSTOP, a suspended job) does
 * not count. It sleeps between looks: no busy waiting. `ending` (may be
 * NULL) tells whether this process has been sent SIGTERM: a rank other than
 * 0 that has been, when its turn to speak comes, ends the job silently (an
 * MPI_Abort elsewhere is ending it). */
int dist_watchdog_start(const dist_ctx *ctx, double timeout_seconds, int (*ending)(void),
                        ebm_err *err);
void dist_watchdog_timeout(const dist_ctx *ctx, double timeout_seconds);
/* The timeout in force (0: no watchdog). */
double dist_watchdog_current(const dist_ctx *ctx);
/* --stall-timeout auto: the larger of `floor` (DIST_STALL_AUTO_FLOOR; the
 * tests may lower it) and DIST_STALL_AUTO_FACTOR times the slowest training
 * step so far (0 before the first). */
#define DIST_STALL_AUTO_FLOOR 300.0
#define DIST_STALL_AUTO_FACTOR 20.0
double dist_stall_auto(double floor, double slowest_step);
/* Brackets a collective call made outside this file (they nest). */
void dist_watch_begin(const dist_ctx *ctx, const char *what);
void dist_watch_end(const dist_ctx *ctx);
/* What the program is doing, for the message: "a training step" at global
 * step 45 (number < 0: none; DIST_WATCH_KEEP: the one set before). */
#define DIST_WATCH_KEEP (-2LL)
void dist_watch_where(const dist_ctx *ctx, const char *where, long long number);

/* In-place sums over ranks. */
int dist_sum_floats(const dist_ctx *ctx, float *buf, size_t n, ebm_err *err);
int dist_sum_doubles(const dist_ctx *ctx, double *buf, size_t n, ebm_err *err);
/* Nonblocking in-place float sums (MPI_Iallreduce), for overlapping the
 * gradient reduction with the backward pass (docs/design.md section 2).
 * Collective in the MPI sense: every rank starts the same sums (same n) in
 * the same order. The requests live in the context (at most
 * DIST_MAX_PENDING at a time, nothing is allocated here); buf must stay
 * untouched until dist_wait_all returns. dist_progress lets MPI move the
 * pending sums along (Open MPI progresses them only inside MPI calls) and
 * returns at once; dist_wait_all completes them in the order they were
 * started, under the stall watchdog. Each element's sum is the one
 * dist_sum_floats gives (tests/unit/test_dist.c checks it bit for bit at np
 * 1, 2, 3 and 4): the cut into pieces changes no sum. */
#define DIST_MAX_PENDING 16
int dist_sum_floats_start(const dist_ctx *ctx, float *buf, size_t n, ebm_err *err);
int dist_progress(const dist_ctx *ctx, ebm_err *err);
int dist_wait_all(const dist_ctx *ctx, ebm_err *err);
/* Sums started and not yet completed by dist_wait_all. */
int dist_pending(const dist_ctx *ctx);

/* Broadcast from root. */
int dist_bcast_floats(const dist_ctx *ctx, float *buf, size_t n, int root, ebm_err *err);
int dist_bcast_bytes(const dist_ctx *ctx, void *buf, size_t n, int root, ebm_err *err);
/* min, mean, max over ranks of one value per rank. */
int dist_min_mean_max(const dist_ctx *ctx, double local, double out[3], ebm_err *err);
/* The same for n values per rank at once: out[i] = {min, mean, max} of local[i]. */
int dist_min_mean_max_n(const dist_ctx *ctx, const double *local, size_t n, double (*out)[3],
                        ebm_err *err);
int dist_barrier(const dist_ctx *ctx, ebm_err *err);
/* The largest of one value per rank, and the lowest rank that holds it. */
int dist_max_loc(const dist_ctx *ctx, double local, double *max, int *rank, ebm_err *err);
/* Rank i's n bytes at out + i * n on root (out: size * n bytes there). */
int dist_gather_bytes(const dist_ctx *ctx, const void *in, size_t n, void *out, int root,
                      ebm_err *err);
/* Collective. How many ranks share this rank's host (its memory). */
int dist_local_size(const dist_ctx *ctx, int *local, ebm_err *err);
/* Collective. Where the ranks run, for the banner: on root, `out` gets the
 * number of hosts and each host's ranks in rank order, e.g. "2 (node1: ranks
 * 0-1; node2: ranks 2-3)", shortened with "..." when it does not fit. */
int dist_host_summary(const dist_ctx *ctx, char *out, size_t len, ebm_err *err);

/* This process's host name, as MPI reports it. */
void dist_host_name(char *buf, size_t len);

/* MPI library version string (for banners and checkpoint attributes). */
void dist_library_version(char *buf, size_t len);

#endif
