/* timer.h: a monotonic clock and the phases a training run's time is split
 * into. Each rank adds the seconds it spends in each phase; the epoch's
 * phases go into metrics.h5 (min / mean / max over ranks) and the whole
 * run's into the table printed at the end of training. */
#ifndef EBM_TIMER_H
#define EBM_TIMER_H

/* Seconds on a monotonic clock (arbitrary origin). */
double timer_now(void);

typedef enum {
    PHASE_SAMPLE,           /* Langevin sampling of the training step */
    PHASE_FORWARD_BACKWARD, /* the training batch: gather, forward, loss, backward */
    PHASE_REDUCE,           /* the gradient allreduce, waiting for slower ranks included */
    PHASE_ADAMAX,           /* the update (rank 0) */
    PHASE_BCAST,            /* the parameter broadcast, waiting for rank 0 included */
    PHASE_EVAL,             /* validation, with its own sampling */
    PHASE_CHECKPOINT,       /* best.h5 and last.h5 writes */
    PHASE_METRICS,          /* metrics.h5 writes and the epoch's figures over ranks */
    PHASE_EPOCH_COUNT,      /* the phases above happen in epochs */
    PHASE_SETUP = PHASE_EPOCH_COUNT, /* data, model, resume, banner */
    PHASE_REPORT,           /* reading best.h5 back and its test evaluation */
    PHASE_COUNT
} timer_phase;

/* "sample", "forward_backward", ...: metrics column names time_<name>_min... */
const char *timer_phase_name(timer_phase phase);
/* "Langevin sampling", ...: the end-of-run table's rows. */
const char *timer_phase_title(timer_phase phase);

/* Seconds per phase on one rank. */
typedef struct {
    double seconds[PHASE_COUNT];
} phase_times;

/* Adds the time since *mark to `phase` and moves *mark to now. */
static inline void phase_lap(phase_times *t, timer_phase phase, double *mark)
{
    const double now = timer_now();
    t->seconds[phase] += now - *mark;
    *mark = now;
}

#endif
