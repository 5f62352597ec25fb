/* diverge.h: telling a training step that ran away from the normal ones.
 * EBM training diverges now and then: the energies of data or samples run
 * off, or the loss jumps far above anything the run has seen. The bounds are
 * derived from the run so far (its completed epochs, the history a
 * checkpoint holds), so they travel with the checkpoint and a resumed run
 * judges every step exactly as the uninterrupted one. */
#ifndef EBM_CORE_DIVERGE_H
#define EBM_CORE_DIVERGE_H

#include <stddef.h>

#include "core/metrics.h"

/* How far past the run's own figures a step may go (documented in
 * docs/design.md section 1): |E| and the energy gap up to 4 times the
 * largest epoch mean so far plus 20, the loss up to 4 times the largest of
 * the last DIVERGE_LOSS_EPOCHS epochs' mean loss plus 5. Normal runs stay
 * far inside (the default run: |E| <= 10.7, gap <= 2.7, loss <= 2.6). */
#define DIVERGE_FACTOR 4.0
#define DIVERGE_ENERGY_MARGIN 20.0
#define DIVERGE_LOSS_MARGIN 5.0
#define DIVERGE_LOSS_EPOCHS 5

typedef struct {
    int active; /* 0 until an epoch has completed: nothing to compare with */
    double energy, gap, loss;
} diverge_bounds;

/* The bounds after `n` completed epochs `rows`; `with_samples`: the run
 * draws model samples (--gen-weight > 0), so their energy and the gap count. */
diverge_bounds diverge_bounds_from(const metrics_row *rows, int n, int with_samples);

/* Whether a step's global means (loss, E(data), E(samples)) break the
 * bounds; if so `why` says which figure and its bound. A non-finite figure
 * breaks them too. */
int diverge_check(const diverge_bounds *b, double loss, double e_data, double e_sample,
                  char *why, size_t len);

#endif
