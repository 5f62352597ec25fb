/* diverge.c: the bounds of diverge.h. */
#include "core/diverge.h"

#include <math.h>
#include <stdio.h>

diverge_bounds diverge_bounds_from(const metrics_row *rows, int n, int with_samples)
{
    diverge_bounds b = {0, 0.0, 0.0, 0.0};
    if (n < 1)
        return b;
    double e_ref = 0.0, gap_ref = 0.0, loss_ref = 0.0;
    for (int i = 0; i < n; i++) {
        const metrics_row *r = &rows[i];
        e_ref = fmax(e_ref, fabs(r->energy_data));
        if (with_samples) {
            e_ref = fmax(e_ref, fabs(r->energy_sample));
            gap_ref = fmax(gap_ref, fabs(r->energy_data - r->energy_sample));
        }
        if (i >= n - DIVERGE_LOSS_EPOCHS)
            loss_ref = fmax(loss_ref, fabs(r->train_loss));
    }
    b.active = 1;
    b.energy = DIVERGE_FACTOR * e_ref + DIVERGE_ENERGY_MARGIN;
    b.gap = with_samples ? DIVERGE_FACTOR * gap_ref + DIVERGE_ENERGY_MARGIN : INFINITY;
    b.loss = DIVERGE_FACTOR * loss_ref + DIVERGE_LOSS_MARGIN;
    return b;
}

int diverge_check(const diverge_bounds *b, double loss, double e_data, double e_sample,
                  char *why, size_t len)
{
    if (!b->active)
        return 0;
    const double gap = fabs(e_data - e_sample);
    const int with_samples = isfinite(b->gap);
    if (!(fabs(e_data) <= b->energy))
        return snprintf(why, len, "|E(x)| %.4g beyond %.4g", fabs(e_data), b->energy), 1;
    if (with_samples && !(fabs(e_sample) <= b->energy))
        return snprintf(why, len, "|E(x~)| %.4g beyond %.4g", fabs(e_sample), b->energy), 1;
    if (with_samples && !(gap <= b->gap))
        return snprintf(why, len, "energy gap %.4g beyond %.4g", gap, b->gap), 1;
    if (!(loss <= b->loss))
        return snprintf(why, len, "loss %.4g beyond %.4g", loss, b->loss), 1;
    return 0;
}
