/* mh_kernel.h: the base-block independence proposal for an energy that
 * contains a base density, E(x) = E_net(x) + E_base(x) on the data box:
 * redraw a random block of pixels from the base (a product over pixels, so
 * that is the block's exact conditional) and accept with
 * min(1, exp(-(E_net(y) - E_net(x)))), the base cancelling. Used by the
 * annealing of eval --loglik and, through it, by training's
 * --train-sampler mala (ebm/ais.h, ais_kernel). */
#ifndef EBM_MH_KERNEL_H
#define EBM_MH_KERNEL_H

#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"
#include "num/base_density.h"

/* Uniform in [0, 1) with 53 bits: Metropolis tests compare it with
 * acceptance probabilities that can be tiny. */
static inline double mh_uniform53(ebm_rng *rng) { return (double)(rng_next(rng) >> 11) * 0x1.0p-53; }

/* y (d) = x (d) with a block of `block` pixels (all when block <= 0 or
 * >= d), chosen uniformly at random independently of x, replaced by a draw
 * of `proposal`; draw (d) and perm (d) are scratch. Returns the block's
 * size. The Hastings ratio of this proposal for f(z) = proposal(z)
 * exp(-E_net(z)) is exp(-(E_net(y) - E_net(x))). */
int mh_block_propose(const base_density *proposal, ebm_rng *rng, const float *x, int d, int block,
                     float *draw, int *perm, float *y);

#endif
