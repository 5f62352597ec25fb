/* timer.c: the monotonic clock and the phases' names. */
#define _POSIX_C_SOURCE 200809L
#include "core/timer.h"

#include <time.h>

double timer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const struct {
    const char *name, *title;
} phases[PHASE_COUNT] = {
    [PHASE_SAMPLE] = {"sample", "Langevin sampling"},
    [PHASE_FORWARD_BACKWARD] = {"forward_backward", "forward/backward of the batch"},
    [PHASE_REDUCE] = {"reduce", "gradient allreduce"},
    [PHASE_ADAMAX] = {"adamax", "Adamax update"},
    [PHASE_BCAST] = {"bcast", "parameter broadcast"},
    [PHASE_EVAL] = {"eval", "validation"},
    [PHASE_CHECKPOINT] = {"checkpoint", "checkpoint writes"},
    [PHASE_METRICS] = {"metrics", "metrics writes"},
    [PHASE_SETUP] = {"setup", "setup (data, model, resume)"},
    [PHASE_REPORT] = {"report", "final test of best.h5"},
};

const char *timer_phase_name(timer_phase phase) { return phases[phase].name; }

const char *timer_phase_title(timer_phase phase) { return phases[phase].title; }
