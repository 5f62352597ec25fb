/* langevin.c: Langevin sampling: fresh chains, or this rank's persistent ones. */
#include "ebm/langevin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "num/vmath.h"

int langevin_init(langevin_sampler *s, const langevin_params *p, int d, int k, int capacity,
                  int64_t n_chains, int64_t first_chain, ebm_rng *rng, ebm_err *err)
{
    memset(s, 0, sizeof *s);
    s->p = *p;
    s->d = d, s->k = k, s->capacity = capacity;
    s->n_chains = n_chains, s->first_chain = first_chain;
    const size_t cap = (size_t)(capacity > 0 ? capacity : 1);
    s->chains = ebm_calloc((size_t)n_chains * d, sizeof(float), "Langevin chains", err);
    s->picked = ebm_calloc(cap, sizeof(int64_t), "Langevin scratch", err);
    s->grad = ebm_calloc(cap * d, sizeof(float), "Langevin scratch", err);
    s->noise = ebm_calloc(cap * d, sizeof(float), "Langevin scratch", err);
    s->dlogits = ebm_calloc(cap * k, sizeof(float), "Langevin scratch", err);
    if (!s->chains || !s->picked || !s->grad || !s->noise || !s->dlogits) {
        langevin_free(s);
        return -1;
    }
    rng_fill_uniform(rng, s->chains, (size_t)n_chains * d, -1.0f, 1.0f);
    return 0;
}

void langevin_free(langevin_sampler *s)
{
    free(s->chains);
    free(s->picked);
    free(s->grad);
    free(s->noise);
    free(s->dlogits);
    memset(s, 0, sizeof *s);
}

/* x (m) <- (x + eta grad) + noise, then into [lo, hi] when clamping: one
 * pass, branch-free selects so it vectorises (NaN stays NaN). */
EBM_VECTOR_CLONES
static void langevin_update(float *x, const float *grad, const float *noise, size_t m,
                            float eta, int clamp, float lo, float hi)
{
    if (clamp)
        for (size_t i = 0; i < m; i++) {
            float v = (x[i] + eta * grad[i]) + noise[i];
            v = vm_select(v < lo, lo, v);
            x[i] = vm_select(v > hi, hi, v);
        }
    else
        for (size_t i = 0; i < m; i++)
            x[i] = (x[i] + eta * grad[i]) + noise[i];
}

/* The model as a target: grad_x LSE f(x), or grad_x f(x)[k] with a target
 * class (the class-conditional energy -f(x)[k]). */
typedef struct {
    langevin_sampler *s;
    const model_shape *shape;
    const float *params;
    model_workspace *ws;
} model_target;

static void model_grad_log_density(void *data, const float *x, int n, float *grad)
{
    model_target *mt = data;
    langevin_sampler *s = mt->s;
    const float *logits = model_forward(mt->shape, mt->params, mt->ws, x, n);
    if (s->p.target_class < 0) {
        model_lse_dlogits(n, s->k, logits, s->dlogits);
    } else {
        memset(s->dlogits, 0, (size_t)n * s->k * sizeof(float));
        for (int i = 0; i < n; i++)
            s->dlogits[(size_t)i * s->k + s->p.target_class] = 1.0f;
    }
    model_backward(mt->shape, mt->params, mt->ws, x, n, s->dlogits, NULL, grad);
}

void langevin_run(langevin_sampler *s, const langevin_target *target, ebm_rng *rng, int n,
                  float *x)
{
    const size_t m = (size_t)n * s->d;
    const float eta = s->p.step_size, lo = s->p.lo, hi = s->p.hi;
    for (int t = 0; t < s->p.steps; t++) {
        target->grad_log_density(target->data, x, n, s->grad);
        rng_fill_normal(rng, s->noise, m, s->p.noise);
        langevin_update(x, s->grad, s->noise, m, eta, s->p.clamp, lo, hi);
    }
    /* A chain that left the floats is worthless and would poison the buffer:
     * start it again (NaN fails every comparison, so test isfinite). */
    for (int i = 0; i < n; i++) {
        float *row = x + (size_t)i * s->d;
        int finite = 1;
        for (int j = 0; j < s->d; j++)
            finite &= isfinite(row[j]) != 0;
        if (!finite) {
            rng_fill_uniform(rng, row, (size_t)s->d, -1.0f, 1.0f);
            s->restarted_nonfinite++;
        }
    }
}

/* Runs the chains x (n, d) on the model, in place. */
static void run_chains(langevin_sampler *s, const model_shape *shape, const float *params,
                       model_workspace *ws, ebm_rng *rng, int n, float *x)
{
    model_target mt = {s, shape, params, ws};
    const langevin_target target = {model_grad_log_density, &mt};
    langevin_run(s, &target, rng, n, x);
}

void langevin_draw_fresh(langevin_sampler *s, const model_shape *shape, const float *params,
                         model_workspace *ws, ebm_rng *rng, int n, float *out)
{
    rng_fill_uniform(rng, out, (size_t)n * s->d, -1.0f, 1.0f);
    run_chains(s, shape, params, ws, rng, n, out);
}

void langevin_continue(langevin_sampler *s, const model_shape *shape, const float *params,
                       model_workspace *ws, ebm_rng *rng, int n, float *x)
{
    run_chains(s, shape, params, ws, rng, n, x);
}

void langevin_draw(langevin_sampler *s, const model_shape *shape, const float *params,
                   model_workspace *ws, ebm_rng *rng, int n, float *out)
{
    if (s->n_chains == 0) {
        langevin_draw_fresh(s, shape, params, ws, rng, n, out);
        return;
    }
    const size_t d = (size_t)s->d;
    for (int i = 0; i < n; i++) {
        s->picked[i] = (int64_t)rng_below(rng, (uint64_t)s->n_chains);
        float *row = out + i * d;
        if (rng_uniform(rng) < s->p.reinit)
            rng_fill_uniform(rng, row, d, -1.0f, 1.0f);
        else
            memcpy(row, s->chains + s->picked[i] * d, d * sizeof(float));
    }
    run_chains(s, shape, params, ws, rng, n, out);
    for (int i = 0; i < n; i++)
        memcpy(s->chains + s->picked[i] * d, out + i * d, d * sizeof(float));
}
