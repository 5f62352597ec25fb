/* shard.h: who owns which examples and how many each rank uses at each step.
 * Pure arithmetic, no MPI: every rank computes the same plan. */
#ifndef EBM_SHARD_H
#define EBM_SHARD_H

#include <stdint.h>

#include "core/err.h"

/* Contiguous block of n items owned by `rank` of `size`: sizes differ by at
 * most one, the first n % size ranks get the larger ones. */
void shard_range(int64_t n, int size, int rank, int64_t *offset, int64_t *count);

/* One epoch's plan: S = ceil(N/B) steps of global batch B (the last one
 * N - (S-1)B), each split over the ranks in proportion to their shard sizes. */
typedef struct {
    int64_t n_examples; /* N: training examples over all ranks */
    int batch_size;     /* B: global batch */
    int world_size;     /* P */
    int n_steps;        /* S */
    int *counts;        /* [S][P]: examples rank p uses at step s */
} shard_plan;

/* Builds the plan. Each entry is floor or ceil of B_s * n_p / N; each column
 * sums to the step's global batch and each row to the rank's shard size. The
 * +1 remainders of a step go to the ranks that are furthest behind their ideal
 * cumulative share (ties: lower rank), which keeps rows exact. */
int shard_plan_init(shard_plan *plan, int64_t n_examples, int batch_size, int world_size,
                    ebm_err *err);
void shard_plan_free(shard_plan *plan);

static inline int shard_count(const shard_plan *plan, int step, int rank)
{
    return plan->counts[(int64_t)step * plan->world_size + rank];
}
/* Global batch of step s. */
int shard_step_batch(const shard_plan *plan, int step);
/* Largest per-step count of `rank` over the epoch (sizes its buffers). */
int shard_max_count(const shard_plan *plan, int rank);

#endif
