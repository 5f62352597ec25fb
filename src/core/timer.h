/* timer.h: monotonic wall clock for per-rank compute/communication timing. */
#ifndef EBM_TIMER_H
#define EBM_TIMER_H

/* Seconds on a monotonic clock (arbitrary origin). */
double timer_now(void);

#endif
