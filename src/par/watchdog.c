/* watchdog.c: the stall watchdog of dist.h. A thread per rank that sleeps in
 * 250 ms ticks and looks at one thing: whether the collective this rank is in
 * (ours, or a parallel HDF5 call) began longer than the timeout ago. Time
 * during which this process itself was stopped (SIGSTOP, a suspended job)
 * shows as a tick that took seconds, and is not counted. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "par/watchdog.h"

#define TICK_NS 250000000LL
/* A tick longer than this: the process did not run (stopped), not waited. */
#define STOPPED_NS 2000000000LL
/* How long a rank other than 0 waits before it speaks (see watch_main). */
#define SPEAK_GRACE_NS 5000000000LL

struct dist_watch {
    MPI_Comm comm;
    int rank;
    int (*ending)(void); /* SIGTERM received (NULL: never known) */
    pthread_t thread;
    atomic_int stop;
    atomic_llong timeout_ns;   /* <= 0: not watching */
    atomic_llong begin_ns;     /* 0: in no collective */
    atomic_llong paused_ns;    /* time this process was seen stopped, in all */
    atomic_llong paused_at_begin;
    atomic_llong where_num;
    int depth;                 /* main thread only: nested begins */
    const char *what;          /* main thread writes, under lock */
    char where[200];
    pthread_mutex_t lock;
};

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_ns(long long ns)
{
    const struct timespec t = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    nanosleep(&t, NULL);
}

/* The seconds the current collective has waited, stopped time excluded; 0
 * when in none. */
static double waited_seconds(struct dist_watch *w, long long now, long long *begin)
{
    *begin = atomic_load(&w->begin_ns);
    if (!*begin)
        return 0.0;
    const long long paused = atomic_load(&w->paused_ns) - atomic_load(&w->paused_at_begin);
    return (double)(now - *begin - paused) * 1e-9;
}

static void *watch_main(void *arg)
{
    struct dist_watch *w = arg;
    long long last = now_ns();
    while (!atomic_load(&w->stop)) {
        sleep_ns(TICK_NS);
        const long long now = now_ns();
        if (now - last > STOPPED_NS)
            atomic_fetch_add(&w->paused_ns, now - last - TICK_NS);
        last = now;
        const long long timeout = atomic_load(&w->timeout_ns);
        long long begin;
        const double waited = waited_seconds(w, now, &begin);
        if (timeout <= 0 || waited * 1e9 < (double)timeout)
            continue;
        /* Every waiting rank notices at about the same time, and the first
         * to speak ends the job. Rank 0 speaks at once; rank r > 0 only if
         * the job is still there min(r, 4) x SPEAK_GRACE_NS later (ranks 0
         * to r-1 are then stopped too). MPI_Abort ends the other ranks with
         * SIGTERM (within milliseconds on an idle host, seconds on a loaded
         * one across nodes: measured), then SIGKILL, so a rank that has
         * been sent SIGTERM by its turn knows the job is being ended and
         * aborts without a word. Across two nodes, ranks that waited 0.2 s
         * or 1 s turns printed the line too. */
        if (w->rank > 0)
            sleep_ns((w->rank < 4 ? w->rank : 4) * SPEAK_GRACE_NS);
        /* What it has waited by now, the turn included: the line says so. */
        long long again;
        const double waited_now = waited_seconds(w, now_ns(), &again);
        if (waited_now <= 0.0 || again != begin)
            continue; /* it completed meanwhile (a SIGTERM since is a stop request) */
        if (w->rank > 0 && w->ending && w->ending())
            MPI_Abort(w->comm, 1);
        char what[64], where[200];
        pthread_mutex_lock(&w->lock);
        snprintf(what, sizeof what, "%s", w->what ? w->what : "a collective call");
        snprintf(where, sizeof where, "%s", w->where);
        pthread_mutex_unlock(&w->lock);
        const long long num = atomic_load(&w->where_num);
        char at[240];
        if (num >= 0)
            snprintf(at, sizeof at, "%s, global step %lld", where[0] ? where : "training", num);
        else
            snprintf(at, sizeof at, "%s", where[0] ? where : "start-up");
        fprintf(stderr,
                "ebm_mpi: error: rank %d: stalled: waited %.0f s in %s (%s) for the other "
                "ranks, more than --stall-timeout %.0f s; a rank stopped answering (stopped, "
                "frozen or cut off; which one cannot be told from inside the collective). "
                "The last checkpoints are intact: continue with --resume auto\n",
                w->rank, waited_now, what, at, (double)timeout * 1e-9);
        fflush(stderr);
        par_abort(w->comm);
    }
    return NULL;
}

struct dist_watch *dist_watch_new(MPI_Comm comm, int rank, double timeout_seconds,
                                  int (*ending)(void))
{
    struct dist_watch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->comm = comm;
    w->rank = rank;
    w->ending = ending;
    atomic_store(&w->timeout_ns, (long long)(timeout_seconds * 1e9));
    atomic_store(&w->where_num, -1);
    pthread_mutex_init(&w->lock, NULL);
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    return w;
}

void dist_watch_free(struct dist_watch *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, 1);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

void dist_watch_set_timeout(struct dist_watch *w, double timeout_seconds)
{
    if (w)
        atomic_store(&w->timeout_ns, (long long)(timeout_seconds * 1e9));
}

double dist_watch_get_timeout(const struct dist_watch *w)
{
    return w ? (double)atomic_load(&((struct dist_watch *)w)->timeout_ns) * 1e-9 : 0.0;
}

void dist_watch_enter(struct dist_watch *w, const char *what)
{
    if (!w || w->depth++ > 0)
        return;
    pthread_mutex_lock(&w->lock);
    w->what = what;
    pthread_mutex_unlock(&w->lock);
    atomic_store(&w->paused_at_begin, atomic_load(&w->paused_ns));
    atomic_store(&w->begin_ns, now_ns());
}

void dist_watch_leave(struct dist_watch *w)
{
    if (!w || --w->depth > 0)
        return;
    atomic_store(&w->begin_ns, 0);
}

void dist_watch_place(struct dist_watch *w, const char *where, long long number)
{
    if (!w)
        return;
    if (number != -2) /* DIST_WATCH_KEEP */
        atomic_store(&w->where_num, number);
    if (where) {
        pthread_mutex_lock(&w->lock);
        if (strcmp(w->where, where) != 0)
            snprintf(w->where, sizeof w->where, "%s", where);
        pthread_mutex_unlock(&w->lock);
    }
}
