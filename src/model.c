/* model.c: MLP forward/backward on a flat parameter buffer, and the JEM loss. */
#include "ebm/model.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void model_shape_init(model_shape *shape, int d, int h, int k)
{
    const int in[EBM_LAYERS] = {d, h, h, h};
    const int out[EBM_LAYERS] = {h, h, h, k};
    size_t off = 0;
    shape->d = d, shape->h = h, shape->k = k;
    for (int l = 0; l < EBM_LAYERS; l++) {
        shape->in[l] = in[l];
        shape->out[l] = out[l];
        shape->w_off[l] = off;
        off += (size_t)in[l] * out[l];
        shape->b_off[l] = off;
        off += (size_t)out[l];
    }
    shape->n_params = off;
}

void model_init_params(const model_shape *shape, float *params, ebm_rng *rng)
{
    for (int l = 0; l < EBM_LAYERS; l++) {
        const float bound = 1.0f / sqrtf((float)shape->in[l]);
        rng_fill_uniform(rng, params + shape->w_off[l], (size_t)shape->in[l] * shape->out[l],
                         -bound, bound);
        rng_fill_uniform(rng, params + shape->b_off[l], (size_t)shape->out[l], -bound, bound);
    }
}

int model_workspace_init(model_workspace *ws, const model_shape *shape, int capacity,
                         ebm_err *err)
{
    memset(ws, 0, sizeof *ws);
    ws->capacity = capacity;
    const size_t rows = (size_t)(capacity > 0 ? capacity : 1);
    const size_t wide = (size_t)(shape->d > shape->h ? shape->d : shape->h);
    for (int l = 0; l < EBM_LAYERS; l++)
        if (!(ws->act[l] = ebm_calloc(rows * shape->out[l], sizeof(float), "activations", err)))
            goto fail;
    if (!(ws->grad_a = ebm_calloc(rows * wide, sizeof(float), "backward scratch", err)) ||
        !(ws->grad_b = ebm_calloc(rows * wide, sizeof(float), "backward scratch", err)))
        goto fail;
    return 0;
fail:
    model_workspace_free(ws);
    return -1;
}

void model_workspace_free(model_workspace *ws)
{
    for (int l = 0; l < EBM_LAYERS; l++)
        free(ws->act[l]);
    free(ws->grad_a);
    free(ws->grad_b);
    memset(ws, 0, sizeof *ws);
}

/* z (n,out) += b, then ELU in place when `elu`. One pass over z. */
static void bias_elu(float *z, const float *b, int n, int out, int elu)
{
    for (int i = 0; i < n; i++) {
        float *row = z + (size_t)i * out;
        if (elu)
            for (int j = 0; j < out; j++) {
                const float v = row[j] + b[j];
                row[j] = v > 0.0f ? v : expm1f(v);
            }
        else
            for (int j = 0; j < out; j++)
                row[j] += b[j];
    }
}

const float *model_forward(const model_shape *shape, const float *params,
                           model_workspace *ws, const float *x, int n)
{
    const float *input = x;
    for (int l = 0; l < EBM_LAYERS; l++) {
        const int in = shape->in[l], out = shape->out[l];
        /* z (n,out) = input (n,in) @ W^T (in,out) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, input, in,
                    params + shape->w_off[l], in, 0.0f, ws->act[l], out);
        bias_elu(ws->act[l], params + shape->b_off[l], n, out, l < EBM_LAYERS - 1);
        input = ws->act[l];
    }
    return ws->act[EBM_LAYERS - 1];
}

void model_backward(const model_shape *shape, const float *params, model_workspace *ws,
                    const float *x, int n, const float *dlogits, float *grad_params,
                    float *grad_x)
{
    const float *g = dlogits; /* dL/dz of layer l, (n, out[l]) */
    float *scratch[2] = {ws->grad_a, ws->grad_b};
    for (int l = EBM_LAYERS - 1; l >= 0; l--) {
        const int in = shape->in[l], out = shape->out[l];
        const float *a_prev = l > 0 ? ws->act[l - 1] : x; /* (n, in) */
        if (grad_params) {
            /* dW (out,in) += g^T (out,n) @ a_prev (n,in) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, g, out,
                        a_prev, in, 1.0f, grad_params + shape->w_off[l], in);
            float *db = grad_params + shape->b_off[l];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < out; j++)
                    db[j] += g[(size_t)i * out + j];
        }
        if (l == 0 && !grad_x)
            break;
        float *da = l > 0 ? scratch[l % 2] : grad_x;
        /* da (n,in) = g (n,out) @ W (out,in) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, g, out,
                    params + shape->w_off[l], in, 0.0f, da, in);
        if (l > 0) {
            /* Through the ELU: d/dz = 1 where z > 0 (a > 0), else exp(z) = a + 1. */
            const size_t m = (size_t)n * in;
            for (size_t i = 0; i < m; i++)
                if (!(a_prev[i] > 0.0f))
                    da[i] *= a_prev[i] + 1.0f;
        }
        g = da;
    }
}

float model_logsumexp(const float *row, int k)
{
    float m = row[0];
    for (int j = 1; j < k; j++)
        if (row[j] > m)
            m = row[j];
    if (!isfinite(m))
        return m;
    float s = 0.0f;
    for (int j = 0; j < k; j++)
        s += expf(row[j] - m);
    return m + logf(s);
}

/* p = softmax(row) given its logsumexp. */
static void softmax_row(const float *row, float lse, int k, float *p)
{
    for (int j = 0; j < k; j++)
        p[j] = expf(row[j] - lse);
}

void model_jem_loss(int n, int n_samples, int k, const float *logits, const int32_t *labels,
                    float gen_weight, float energy_reg, float *dlogits, loss_sums *sums)
{
    const float w = n_samples > 0 ? gen_weight : 0.0f, alpha = energy_reg;
    for (int i = 0; i < n; i++) {
        const float *row = logits + (size_t)i * k;
        float *drow = dlogits + (size_t)i * k;
        const float lse = model_logsumexp(row, k);
        const int y = labels[i];
        int argmax = 0;
        for (int j = 1; j < k; j++)
            if (row[j] > row[argmax])
                argmax = j;
        const float ce = lse - row[y];
        softmax_row(row, lse, k, drow);
        /* d/dlogits [CE - w LSE + w alpha LSE^2] = p (1 - w + 2 w alpha LSE) - onehot */
        const float scale = 1.0f - w + 2.0f * w * alpha * lse;
        for (int j = 0; j < k; j++)
            drow[j] *= scale;
        drow[y] -= 1.0f;
        sums->ce += ce;
        sums->errors += argmax != y;
        sums->energy_data += -lse;
        if (n_samples > 0) {
            const float *srow = logits + (size_t)(n + i) * k;
            float *dsrow = dlogits + (size_t)(n + i) * k;
            const float lse_s = model_logsumexp(srow, k);
            const float gen = lse_s - lse + alpha * (lse * lse + lse_s * lse_s);
            softmax_row(srow, lse_s, k, dsrow);
            /* d/dlogits~ [w LSE~ + w alpha LSE~^2] = w (1 + 2 alpha LSE~) p~ */
            const float sscale = w * (1.0f + 2.0f * alpha * lse_s);
            for (int j = 0; j < k; j++)
                dsrow[j] *= sscale;
            sums->gen += gen;
            sums->energy_sample += -lse_s;
            sums->loss += ce + w * gen;
        } else {
            sums->loss += ce;
        }
    }
}

void model_lse_dlogits(int n, int k, const float *logits, float *dlogits)
{
    for (int i = 0; i < n; i++) {
        const float *row = logits + (size_t)i * k;
        softmax_row(row, model_logsumexp(row, k), k, dlogits + (size_t)i * k);
    }
}
