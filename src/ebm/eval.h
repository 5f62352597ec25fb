/* eval.h: sharded evaluation of a model on a split: loss, error, energies and
 * confusion matrix, summed over ranks. Used by train (validation, test) and by
 * the eval command. */
#ifndef EBM_EVAL_H
#define EBM_EVAL_H

#include <stdint.h>

#include "core/data.h"
#include "par/dist.h"
#include "core/err.h"
#include "ebm/langevin.h"
#include "num/model.h"
#include "core/rng.h"

typedef struct {
    double n;             /* examples */
    double loss, ce, gen; /* means per example (gen: 0 without samples) */
    double error;         /* fraction misclassified */
    double energy_data, energy_sample; /* mean E(x), E(x~) */
    double ece;           /* expected calibration error, EVAL_ECE_BINS equal-width bins */
    double *confusion;    /* [K][K], row = true class, column = predicted */
} eval_result;

/* Confidence bins of the expected calibration error (the usual 15). */
#define EVAL_ECE_BINS 15

typedef struct {
    const model_shape *shape;
    int capacity; /* data rows per chunk */
    model_workspace ws;
    langevin_sampler fresh; /* fresh chains for the generative term */
    float *x;        /* [2 capacity, D] data rows then sample rows */
    float *dlogits;  /* [2 capacity, K] */
    double *sums;    /* fixed sums, ECE bins, K*K confusion: reduced over ranks */
} evaluator;

/* Samples for the generative term come from fresh U[-1,1] chains run with
 * `lp` (the training settings), so evaluation never touches training chains. */
int evaluator_init(evaluator *ev, const model_shape *shape, const langevin_params *lp,
                   int capacity, ebm_err *err);
void evaluator_free(evaluator *ev);

/* Collective. Evaluates params on this rank's shard; every rank gets the
 * global result in *res (res->confusion points into ev). gen_weight = 0 skips
 * sampling (the generative term is then reported as 0). */
int evaluator_run(evaluator *ev, const dist_ctx *ctx, const float *params,
                  const data_shard *shard, const input_map *map, float gen_weight,
                  float energy_reg, ebm_rng *rng, eval_result *res, ebm_err *err);

/* Like evaluator_run, and also copies each local example's logits into
 * logits_out (shard->n, K) when it is not NULL. */
int evaluator_run_keep(evaluator *ev, const dist_ctx *ctx, const float *params,
                       const data_shard *shard, const input_map *map, float gen_weight,
                       float energy_reg, ebm_rng *rng, float *logits_out, eval_result *res,
                       ebm_err *err);

#endif
