/* ood.h: telling the split's digits from other inputs by a score of the
 * model (out-of-distribution detection): the inputs to compare with, and the
 * area under the ROC curve of a score. */
#ifndef EBM_OOD_H
#define EBM_OOD_H

#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"

/* The area under the ROC curve of telling `in` from `out` by a score that is
 * higher for `in`: P(s_in > s_out) + P(s_in = s_out) / 2 over all pairs (the
 * Mann-Whitney statistic, ties at their mean rank). 0.5: no better than
 * chance; 1: every `in` above every `out`. n_in, n_out >= 1. */
int ood_auroc(const double *in, int64_t n_in, const double *out, int64_t n_out, double *auroc,
              ebm_err *err);

/* n rows of d values uniform in [lo, hi]. */
void ood_uniform(float *x, int64_t n, int d, float lo, float hi, ebm_rng *rng);
/* Each row's d values in a random order of its own (the same pixels, no
 * digit's shape). */
void ood_shuffle_rows(float *x, int64_t n, int d, ebm_rng *rng);

#endif
