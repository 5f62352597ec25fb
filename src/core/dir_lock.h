/* dir_lock.h: one run owns one output directory. A training run holds
 * <dir>/ebm_mpi.lock for its lifetime; the file says who holds it (host, PID
 * and the process's start time, SLURM job id, start date), so that a second
 * run is refused naming the holder. The lock is published with link(2),
 * atomic on local file systems and NFS alike, and complete when it appears.
 *
 * A lock whose holder died (a crash, MPI_Abort, SIGKILL, a lost node) is
 * taken over, never left to block a resume for good:
 *   - on the same host, when the holder process is gone (its PID is not
 *     running, or runs a process that started at another time: a reused PID);
 *   - from any host, by the same SLURM job (a requeued or restarted job: its
 *     earlier incarnation has ended);
 *   - otherwise (another host, another job: its liveness cannot be checked
 *     from here) only when asked (--break-lock), after the user has made
 *     sure that run is gone. */
#ifndef EBM_CORE_DIR_LOCK_H
#define EBM_CORE_DIR_LOCK_H

#include <stddef.h>

#include "core/err.h"

#define DIR_LOCK_NAME "ebm_mpi.lock"

typedef struct {
    char host[256];
    long pid;
    unsigned long long start_ticks; /* /proc/<pid>/stat field 22; 0 unknown */
    char job[64];                   /* SLURM job id, "-" outside SLURM */
    char started[32];               /* UTC, ISO 8601 */
} dir_lock_holder;

/* This process as a holder: host name, PID, its start time, `job` ("" or
 * NULL: "-"), now. */
void dir_lock_self(dir_lock_holder *me, const char *job);

/* The lock file's text and back; parse fails on anything else. */
void dir_lock_format(const dir_lock_holder *h, char *buf, size_t len);
int dir_lock_parse(const char *text, dir_lock_holder *h);

/* Whether `h` (found on me's host) is still running: 1 yes, 0 gone. */
int dir_lock_holder_alive(const dir_lock_holder *h);

/* What to do with a lock held by `h`, for `me`: 0 refuse, otherwise take it
 * over with `why` saying why ("its process 123 on vm is gone"). `alive` is
 * dir_lock_holder_alive(h) when h is on me's host (ignored otherwise). */
int dir_lock_judge(const dir_lock_holder *h, const dir_lock_holder *me, int alive,
                   int break_lock, char *why, size_t len);

/* Takes <dir>/ebm_mpi.lock for me, taking over a lock dir_lock_judge lets go
 * (`note` then says whose, else it is ""); a lock held by a live run fails
 * naming its holder and the ways out. */
int dir_lock_take(const char *dir, const dir_lock_holder *me, int break_lock, char *note,
                  size_t len, ebm_err *err);
/* Removes the lock if it is still me's. */
void dir_lock_release(const char *dir, const dir_lock_holder *me);

#endif
