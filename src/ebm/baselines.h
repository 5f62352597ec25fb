/* baselines.h: classical models of integer-level images, printed by eval
 * --loglik beside the energy's figure in the same units (nats per image of
 * the L levels, docs/loglik.md section 6): uniform over the levels, every
 * pixel independent (its histogram on the training split, +1 smoothing), one
 * Gaussian with full covariance fitted to the dequantised training split, and
 * a mixture of K independent-pixel models fitted by EM. */
#ifndef EBM_BASELINES_H
#define EBM_BASELINES_H

#include <stdint.h>
#include <stdio.h>

#include "core/data.h"
#include "core/err.h"
#include "par/dist.h"

#define BASELINE_MIX_K 10      /* mixture components */
#define BASELINE_MIX_STARTS 3  /* EM starts; the best by validation log-likelihood is kept */
#define BASELINE_MIX_ITERS 100 /* EM iterations per start (fixed: no tolerance to tune) */

/* Pixel levels of n images (n, d) in data units: level[i] = pixel - value_min,
 * each checked to be an integer in [0, levels). */
typedef struct {
    int64_t n;
    int d;
    uint8_t *level; /* [n, d] */
} baseline_levels;

int baseline_levels_from(const float *images, int64_t n, int d, double value_min, int levels,
                         const char *what, baseline_levels *out, ebm_err *err);
void baseline_levels_free(baseline_levels *l);

/* The fitted models. */
typedef struct {
    int d, levels;
    double value_min, width; /* dequantisation cells, data units */
    double *indep_logp;      /* [d, levels] log histogram (+1 smoothing) */
    double *gauss_mean;      /* [d] */
    double *gauss_chol;      /* [d, d] lower Cholesky factor of the covariance */
    double gauss_logdet;     /* log det covariance */
    double gauss_trace_inv;  /* trace of the inverse covariance */
    double *mix_logpi;       /* [K] */
    double *mix_logtheta;    /* [K, d, levels] */
    int mix_start;           /* the start kept */
    double mix_val[BASELINE_MIX_STARTS]; /* mean validation log-likelihood of each start */
} baseline_models;

/* Fits all models on the training levels; the mixture's start is chosen on
 * the validation levels. Deterministic: every rank gets the same models. */
int baseline_fit(const baseline_levels *train, const baseline_levels *val, double value_min,
                 double value_max, baseline_models *m, ebm_err *err);
void baseline_models_free(baseline_models *m);

/* The EM start's initial hard assignment of training example i (splitmix64
 * of (start << 32) | i, modulo K): written out so a reference can repeat it. */
int baseline_mix_init_component(int start, int64_t i);

/* Log-likelihoods (nats per image of the levels) of one image. */
double baseline_uniform_logp(const baseline_models *m);
double baseline_indep_logp(const baseline_models *m, const uint8_t *level);
/* The Gaussian's dequantisation bound E_u log N(y) + d log width, the
 * expectation over u ~ U[0,1)^d taken exactly (a closed form). */
double baseline_gauss_logp(const baseline_models *m, const uint8_t *level);
double baseline_mix_logp(const baseline_models *m, const uint8_t *level);

enum { BASELINE_UNIFORM, BASELINE_INDEP, BASELINE_GAUSS, BASELINE_MIX, BASELINE_COUNT };

typedef struct {
    int64_t n;
    double mean[BASELINE_COUNT], se[BASELINE_COUNT];
    int mix_start;
    double mix_val[BASELINE_MIX_STARTS];
} baseline_result;

/* Collective: each rank scores its shard's levels (a contiguous slice of the
 * split of n_total images starting at offset); every rank gets the means. */
int baseline_score(const dist_ctx *ctx, const baseline_models *m, const baseline_levels *shard,
                   int64_t offset, int64_t n_total, baseline_result *r, ebm_err *err);

void baseline_print(FILE *out, const baseline_result *r, int d, int levels, const char *split);

#endif
