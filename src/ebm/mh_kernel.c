/* mh_kernel.c: the base-block independence proposal (mh_kernel.h). */
#include "ebm/mh_kernel.h"

#include <string.h>

int mh_block_propose(const base_density *proposal, ebm_rng *rng, const float *x, int d, int block,
                     float *draw, int *perm, float *y)
{
    const int nb = block <= 0 || block >= d ? d : block;
    base_sample(proposal, rng, draw, 1);
    if (nb == d) {
        memcpy(y, draw, (size_t)d * sizeof(float));
        return d;
    }
    memcpy(y, x, (size_t)d * sizeof(float));
    /* the first nb of a uniform random permutation (partial Fisher-Yates) */
    for (int j = 0; j < d; j++)
        perm[j] = j;
    for (int j = 0; j < nb; j++) {
        const int k = j + (int)(mh_uniform53(rng) * (double)(d - j));
        const int t = perm[j];
        perm[j] = perm[k], perm[k] = t;
        y[perm[j]] = draw[perm[j]];
    }
    return nb;
}

