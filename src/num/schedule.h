/* schedule.h: what the optimiser's step uses besides Adamax: the learning
 * rate as a function of the global step (warm-up, then constant or cosine
 * to a floor), and the exponential moving average of the weights that
 * evaluation, best.h5 and sampling use (docs/design.md section 1). Both are
 * pure functions of their arguments: a resumed run recomputes them exactly. */
#ifndef EBM_SCHEDULE_H
#define EBM_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { LR_CONST = 0, LR_COSINE = 1 } lr_shape;

typedef struct {
    double lr;           /* the peak rate (--lr) */
    lr_shape shape;      /* after the warm-up: constant, or a half cosine */
    double floor;        /* cosine: the last step's rate as a share of lr */
    double warmup_steps; /* linear warm-up over this many steps (0: none) */
    double total_steps;  /* the run's steps (epochs x steps per epoch) */
} lr_schedule;

/* The rate of the update after `step` completed steps (0 for the first):
 *   warm-up, step < W:   lr (step + 1) / W
 *   const, after it:     lr
 *   cosine, after it:    lr [f + (1 - f) (1 + cos(pi q)) / 2],
 *                        q = (step - W) / (T - 1 - W) clamped to [0, 1],
 * so the cosine's first step after the warm-up has lr and step T - 1, the
 * run's last, has f lr. */
double lr_schedule_at(const lr_schedule *s, int64_t step);

/* "const" / "cosine" to the shape; -1 for anything else. */
int lr_shape_parse(const char *name);

/* The bias-corrected exponential moving average after update t (t >= 1, the
 * Adamax step count): with w = (1 - d) / (1 - d^t),
 *   avg = (1 - w) avg + w params,
 * which is sum_s d^(t-s) p_s / sum_s d^(t-s) over the updates s = 1..t: the
 * first update copies the weights (w = 1), so the starting point never
 * lingers in the average. decay in [0, 1). */
void ema_update(size_t n, float *avg, const float *params, double decay, int64_t t);

#endif
