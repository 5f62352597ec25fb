/* eval.c: sharded evaluation with sums reduced over ranks. */
#include "ebm/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SUM_N, SUM_LOSS, SUM_CE, SUM_GEN, SUM_ERRORS, SUM_E_DATA, SUM_E_SAMPLE, SUM_FIXED };
/* After the fixed sums: per confidence bin, count, sum of confidence, correct. */
#define SUM_BINS (3 * EVAL_ECE_BINS)

int evaluator_init(evaluator *ev, const model_shape *shape, const langevin_params *lp,
                   int capacity, ebm_err *err)
{
    memset(ev, 0, sizeof *ev);
    ev->shape = shape;
    ev->capacity = capacity;
    const size_t rows = 2 * (size_t)capacity, k = (size_t)shape->k;
    if (model_workspace_init(&ev->ws, shape, (int)rows, err))
        return ebm_trace(err);
    ebm_rng unused;
    rng_derive(&unused, 0, RNG_PARAMS, 0, 0);
    if (langevin_init(&ev->fresh, lp, shape->d, shape->k, capacity, 0, 0, &unused, err))
        goto fail;
    ev->x = ebm_calloc(rows * shape->d, sizeof(float), "evaluation inputs", err);
    ev->dlogits = ebm_calloc(rows * k, sizeof(float), "evaluation scratch", err);
    ev->sums = ebm_calloc(SUM_FIXED + SUM_BINS + k * k, sizeof(double), "evaluation sums", err);
    if (!ev->x || !ev->dlogits || !ev->sums)
        goto fail;
    return 0;
fail:
    evaluator_free(ev);
    return -1;
}

void evaluator_free(evaluator *ev)
{
    model_workspace_free(&ev->ws);
    langevin_free(&ev->fresh);
    free(ev->x);
    free(ev->dlogits);
    free(ev->sums);
    memset(ev, 0, sizeof *ev);
}

int evaluator_run(evaluator *ev, const dist_ctx *ctx, const float *params,
                  const data_shard *shard, const input_map *map, float gen_weight,
                  float energy_reg, ebm_rng *rng, eval_result *res, ebm_err *err)
{
    return evaluator_run_keep(ev, ctx, params, shard, map, gen_weight, energy_reg, rng, NULL,
                              res, err);
}

int evaluator_run_keep(evaluator *ev, const dist_ctx *ctx, const float *params,
                       const data_shard *shard, const input_map *map, float gen_weight,
                       float energy_reg, ebm_rng *rng, float *logits_out, eval_result *res,
                       ebm_err *err)
{
    const model_shape *shape = ev->shape;
    const int k = shape->k, d = shape->d;
    const int with_samples = gen_weight > 0.0f;
    double *sums = ev->sums, *bins = sums + SUM_FIXED, *confusion = bins + SUM_BINS;
    const size_t n_sums = SUM_FIXED + SUM_BINS + (size_t)k * k;
    memset(sums, 0, n_sums * sizeof(double));
    for (int64_t start = 0; start < shard->n; start += ev->capacity) {
        const int c = (int)(shard->n - start < ev->capacity ? shard->n - start : ev->capacity);
        data_map(map, shard->images + start * d, ev->x, (size_t)c * d);
        const int n_samples = with_samples ? c : 0;
        if (n_samples)
            langevin_draw_fresh(&ev->fresh, shape, params, &ev->ws, rng, c,
                                ev->x + (size_t)c * d);
        const float *logits = model_forward(shape, params, &ev->ws, ev->x, c + n_samples);
        if (logits_out)
            memcpy(logits_out + start * k, logits, (size_t)c * k * sizeof(float));
        loss_sums ls = {0};
        const int32_t *labels = shard->labels + start;
        model_jem_loss(c, n_samples, k, logits, labels, gen_weight, energy_reg, ev->dlogits, &ls);
        for (int i = 0; i < c; i++) {
            const float *row = logits + (size_t)i * k;
            const int pred = model_argmax(row, k);
            confusion[(size_t)labels[i] * k + pred] += 1.0;
            /* Confidence = softmax probability of the predicted class. */
            const double conf = exp((double)row[pred] - (double)model_logsumexp(row, k));
            int b = (int)(conf * EVAL_ECE_BINS);
            b = b < 0 ? 0 : b >= EVAL_ECE_BINS ? EVAL_ECE_BINS - 1 : b;
            bins[3 * b] += 1.0;
            bins[3 * b + 1] += conf;
            bins[3 * b + 2] += pred == labels[i];
        }
        sums[SUM_N] += c;
        sums[SUM_LOSS] += ls.loss;
        sums[SUM_CE] += ls.ce;
        sums[SUM_GEN] += ls.gen;
        sums[SUM_ERRORS] += ls.errors;
        sums[SUM_E_DATA] += ls.energy_data;
        sums[SUM_E_SAMPLE] += ls.energy_sample;
    }
    if (dist_sum_doubles(ctx, sums, n_sums, err))
        return ebm_trace(err);
    const double n = sums[SUM_N] > 0 ? sums[SUM_N] : 1;
    res->n = sums[SUM_N];
    res->loss = sums[SUM_LOSS] / n;
    res->ce = sums[SUM_CE] / n;
    res->gen = sums[SUM_GEN] / n;
    res->error = sums[SUM_ERRORS] / n;
    res->energy_data = sums[SUM_E_DATA] / n;
    res->energy_sample = with_samples ? sums[SUM_E_SAMPLE] / n : 0.0;
    res->ece = 0.0;
    for (int b = 0; b < EVAL_ECE_BINS; b++)
        res->ece += fabs(bins[3 * b + 2] - bins[3 * b + 1]) / n;
    res->confusion = confusion;
    return 0;
}
