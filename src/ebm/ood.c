/* ood.c: AUROC of a score, and the synthetic inputs of eval --ood. */
#include "ebm/ood.h"

#include <stdlib.h>

typedef struct {
    double score;
    int in; /* 1: from the in-distribution set */
} scored;

static int by_score(const void *a, const void *b)
{
    const double x = ((const scored *)a)->score, y = ((const scored *)b)->score;
    return (x > y) - (x < y);
}

int ood_auroc(const double *in, int64_t n_in, const double *out, int64_t n_out, double *auroc,
              ebm_err *err)
{
    if (n_in < 1 || n_out < 1)
        return ebm_fail(err, "AUROC needs examples of both sets (got %lld and %lld)",
                        (long long)n_in, (long long)n_out);
    const int64_t n = n_in + n_out;
    scored *all = ebm_calloc((size_t)n, sizeof *all, "AUROC scores", err);
    if (!all)
        return ebm_trace(err);
    for (int64_t i = 0; i < n_in; i++)
        all[i] = (scored){in[i], 1};
    for (int64_t i = 0; i < n_out; i++)
        all[n_in + i] = (scored){out[i], 0};
    qsort(all, (size_t)n, sizeof *all, by_score);
    /* Rank sum of the `in` scores, tied scores sharing their mean rank. */
    double rank_sum = 0.0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i, ins = 0;
        while (j < n && all[j].score == all[i].score)
            ins += all[j++].in;
        const double mean_rank = 0.5 * (double)(i + 1 + j); /* ranks i+1 .. j */
        rank_sum += (double)ins * mean_rank;
        i = j;
    }
    free(all);
    const double u = rank_sum - 0.5 * (double)n_in * (double)(n_in + 1);
    *auroc = u / ((double)n_in * (double)n_out);
    return 0;
}

void ood_uniform(float *x, int64_t n, int d, float lo, float hi, ebm_rng *rng)
{
    for (int64_t i = 0; i < n * d; i++)
        x[i] = lo + (hi - lo) * rng_uniform(rng);
}

void ood_shuffle_rows(float *x, int64_t n, int d, ebm_rng *rng)
{
    for (int64_t r = 0; r < n; r++) {
        float *row = x + r * d;
        for (int i = d - 1; i > 0; i--) { /* Fisher-Yates */
            const int j = (int)rng_below(rng, (uint64_t)i + 1);
            const float t = row[i];
            row[i] = row[j], row[j] = t;
        }
    }
}
