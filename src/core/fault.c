/* fault.c: the injection points of fault.h. */
#define _POSIX_C_SOURCE 200809L
#include "core/fault.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static fault_config configured;
static int armed; /* fault_configure was given a configuration */
static int64_t checkpoints_seen;
static int64_t reads_seen;

void fault_configure(const fault_config *cfg)
{
    memset(&configured, 0, sizeof configured);
    armed = cfg != NULL;
    if (armed) {
        configured = *cfg;
        /* A stall point is a NUL-terminated name or none. */
        configured.stall_where[sizeof configured.stall_where - 1] = '\0';
    }
    checkpoints_seen = 0;
    reads_seen = 0;
}

int fault_stop_at_step(int64_t step)
{
    if (!armed)
        return 0;
    return configured.stop_at_step > 0 && step == configured.stop_at_step;
}

double fault_lr_factor(int64_t step, int rollbacks)
{
    if (!armed)
        return 1.0;
    const int64_t at = configured.diverge_at_step;
    const int times = configured.diverge_times > 0 ? configured.diverge_times : 1;
    return at > 0 && rollbacks < times && step >= at && step < at + 5 ? 1e4 : 1.0;
}

/* One step number of the list: digits only, at least 1. */
static int parse_step(const char *p, char **end, int64_t *v)
{
    if (*p < '0' || *p > '9')
        return -1;
    errno = 0;
    const long long n = strtoll(p, end, 10);
    if (errno != 0 || n < 1)
        return -1;
    *v = n;
    return 0;
}

int fault_parse_nan_steps(fault_config *cfg, const char *text)
{
    cfg->nan_ranges = 0;
    if (!text || !text[0])
        return 0;
    const char *p = text;
    int n = 0;
    for (;;) {
        char *end;
        int64_t from, to;
        if (n == FAULT_NAN_RANGES || parse_step(p, &end, &from))
            return -1;
        to = from;
        if (*end == '-' && (parse_step(end + 1, &end, &to) || to < from))
            return -1;
        cfg->nan_from[n] = from, cfg->nan_to[n] = to, n++;
        if (*end == '\0')
            break;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
    cfg->nan_ranges = n;
    return 0;
}

int fault_nan_gradient(int64_t step, int rank)
{
    if (!armed)
        return 0;
    if (rank != configured.nan_rank)
        return 0;
    for (int i = 0; i < configured.nan_ranges && i < FAULT_NAN_RANGES; i++)
        if (step >= configured.nan_from[i] && step <= configured.nan_to[i])
            return 1;
    return 0;
}

void fault_stall(const char *where, int64_t n, int rank)
{
    if (!armed)
        return;
    if (configured.stall_at > 0 && n == configured.stall_at && rank == configured.stall_rank &&
        strcmp(where, configured.stall_where) == 0)
        raise(SIGSTOP);
}

void fault_checkpoint_midway(int rank)
{
    if (!armed)
        return;
    /* Every rank counts, so the count means "the N-th checkpoint" everywhere. */
    if (++checkpoints_seen == configured.kill_at_checkpoint && rank == 0)
        raise(SIGKILL); /* mpirun then ends the other ranks */
    fault_stall("checkpoint", checkpoints_seen, rank);
}

void fault_slow_step(int64_t step)
{
    if (!armed)
        return;
    if (configured.slow_step > 0 && step == configured.slow_step && configured.slow_step_ms > 0) {
        const int64_t ms = configured.slow_step_ms;
        struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
        while (nanosleep(&t, &t) != 0 && errno == EINTR) /* a signal does not shorten it */
            ;
    }
}

double fault_auto_floor(double floor)
{
    if (!armed)
        return floor;
    return configured.auto_floor > 0 ? configured.auto_floor : floor;
}

void fault_data_read(int rank)
{
    if (!armed)
        return;
    fault_stall("read", ++reads_seen, rank);
}
