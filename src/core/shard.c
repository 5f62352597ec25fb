/* shard.c: data sharding and the per-step split of the global batch. */
#include "core/shard.h"

#include <stdlib.h>

void shard_range(int64_t n, int size, int rank, int64_t *offset, int64_t *count)
{
    const int64_t base = n / size, extra = n % size;
    *count = base + (rank < extra ? 1 : 0);
    *offset = rank * base + (rank < extra ? rank : extra);
}

int shard_step_batch(const shard_plan *plan, int step)
{
    const int64_t start = (int64_t)step * plan->batch_size;
    const int64_t left = plan->n_examples - start;
    return (int)(left < plan->batch_size ? left : plan->batch_size);
}

int shard_plan_init(shard_plan *plan, int64_t n_examples, int batch_size, int world_size,
                    ebm_err *err)
{
    plan->counts = NULL;
    if (n_examples <= 0 || batch_size <= 0 || world_size <= 0)
        return ebm_fail(err, "invalid shard plan (N=%lld, B=%d, P=%d)", (long long)n_examples,
                        batch_size, world_size);
    if (world_size > n_examples)
        return ebm_fail(err, "%d ranks but only %lld training examples: every rank needs at "
                             "least one (use at most %lld ranks)",
                        world_size, (long long)n_examples, (long long)n_examples);
    plan->n_examples = n_examples;
    plan->batch_size = batch_size;
    plan->world_size = world_size;
    plan->n_steps = (int)((n_examples + batch_size - 1) / batch_size);

    const int P = world_size;
    plan->counts = ebm_calloc((size_t)plan->n_steps * P, sizeof(int), "shard plan", err);
    int64_t *shard = ebm_calloc((size_t)P, sizeof(int64_t), "shard plan", err);
    int64_t *used = ebm_calloc((size_t)P, sizeof(int64_t), "shard plan", err);
    int *order = ebm_calloc((size_t)P, sizeof(int), "shard plan", err);
    int64_t *behind = ebm_calloc((size_t)P, sizeof(int64_t), "shard plan", err);
    if (!plan->counts || !shard || !used || !order || !behind) {
        free(shard), free(used), free(order), free(behind);
        shard_plan_free(plan);
        return -1;
    }
    for (int p = 0; p < P; p++) {
        int64_t off;
        shard_range(n_examples, P, p, &off, &shard[p]);
    }
    const int64_t N = n_examples;
    int64_t done = 0; /* examples in the steps so far, all ranks */
    for (int s = 0; s < plan->n_steps; s++) {
        const int64_t b = shard_step_batch(plan, s);
        done += b;
        int64_t given = 0, n_frac = 0;
        int *row = plan->counts + (int64_t)s * P;
        for (int p = 0; p < P; p++) {
            row[p] = (int)(shard[p] * b / N);
            given += row[p];
            if ((shard[p] * b) % N != 0) {
                /* How far p would be behind its ideal cumulative share
                 * (scaled by N) after taking only the floor. */
                behind[p] = shard[p] * done - N * (used[p] + row[p]);
                order[n_frac++] = p;
            }
        }
        /* Hand the remaining b - given examples, one each, to the ranks furthest
         * behind (insertion sort: P is small next to the work per step). */
        for (int64_t i = 1; i < n_frac; i++) {
            const int p = order[i];
            int64_t j = i - 1;
            while (j >= 0 && (behind[order[j]] < behind[p] ||
                              (behind[order[j]] == behind[p] && order[j] > p))) {
                order[j + 1] = order[j];
                j--;
            }
            order[j + 1] = p;
        }
        for (int64_t i = 0; i < b - given; i++)
            row[order[i]]++;
        for (int p = 0; p < P; p++)
            used[p] += row[p];
    }
    free(shard), free(used), free(order), free(behind);
    return 0;
}

void shard_plan_free(shard_plan *plan)
{
    free(plan->counts);
    plan->counts = NULL;
}

int shard_max_count(const shard_plan *plan, int rank)
{
    int m = 0;
    for (int s = 0; s < plan->n_steps; s++)
        if (shard_count(plan, s, rank) > m)
            m = shard_count(plan, s, rank);
    return m;
}
