/* model.c: MLP forward/backward on a flat parameter buffer, and the JEM loss. */
#include "num/model.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "num/vmath.h"

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

/* ELU in place on z (m): one pass, with a vectorised expm1 (libm's scalar
 * expm1f cost a third of the sgemm time). */
EBM_VECTOR_CLONES
static void elu_inplace(float *z, size_t m)
{
    for (size_t i = 0; i < m; i++) {
        const float v = z[i];
        const float e = vm_expm1_nonpos(v); /* garbage where v > 0 */
        z[i] = vm_select(v > 0.0f, v, e);
    }
}

/* db (out) += column sums of g (n,out), rows in order. */
EBM_VECTOR_CLONES
static void add_column_sums(float *db, const float *g, int n, int out)
{
    for (int i = 0; i < n; i++) {
        const float *row = g + (size_t)i * out;
        for (int j = 0; j < out; j++)
            db[j] += row[j];
    }
}

/* da (n,in) *= ELU'(z) where a = ELU(z): 1 where a > 0, else exp(z) = a + 1;
 * and, when db is not NULL, db (in) += column sums of the result (the bias
 * gradient of the layer below, in the same pass). */
EBM_VECTOR_CLONES
static void elu_backward(float *da, const float *a, int n, int in, float *db)
{
    for (int i = 0; i < n; i++) {
        float *drow = da + (size_t)i * in;
        const float *arow = a + (size_t)i * in;
        for (int j = 0; j < in; j++) {
            const float dz = arow[j] + 1.0f; /* computed everywhere: no branch */
            drow[j] *= vm_select(arow[j] > 0.0f, 1.0f, dz);
        }
        if (db)
            for (int j = 0; j < in; j++)
                db[j] += drow[j];
    }
}

/* Below this many rows a product goes through sgemv row by row: OpenBLAS's
 * sgemm packs the whole weight matrix on every call, which costs more than
 * the product itself for one or two rows (many ranks, small global batch). */
#define GEMV_ROWS 4

/* c (n,out) = a (n,in) @ W^T + b, W (out,in). The bias rows are copied
 * into c first and the product added (beta = 1): OpenBLAS then skips its own
 * pass that zeroes c for beta = 0, which is slower than these copies. */
static void product_wt_bias(const float *a, const float *w, const float *b, float *c, int n,
                            int out, int in)
{
    for (int i = 0; i < n; i++)
        memcpy(c + (size_t)i * out, b, (size_t)out * sizeof(float));
    if (n < GEMV_ROWS)
        for (int i = 0; i < n; i++)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, w, in, a + (size_t)i * in, 1,
                        1.0f, c + (size_t)i * out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, a, in, w, in,
                    1.0f, c, out);
}

/* c (n,in) = g (n,out) @ W, W (out,in). */
static void product_w(const float *g, const float *w, float *c, int n, int out, int in)
{
    if (n < GEMV_ROWS)
        for (int i = 0; i < n; i++)
            cblas_sgemv(CblasRowMajor, CblasTrans, out, in, 1.0f, w, in, g + (size_t)i * out, 1,
                        0.0f, c + (size_t)i * in, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, g, out, w, in,
                    0.0f, c, in);
}

const float *model_forward(const model_shape *shape, const float *params,
                           model_workspace *ws, const float *x, int n)
{
    const float *input = x;
    for (int l = 0; l < EBM_LAYERS; l++) {
        const int in = shape->in[l], out = shape->out[l];
        /* z (n,out) = input (n,in) @ W^T (in,out) + b */
        product_wt_bias(input, params + shape->w_off[l], params + shape->b_off[l], ws->act[l], n,
                        out, in);
        if (l < EBM_LAYERS - 1)
            elu_inplace(ws->act[l], (size_t)n * out);
        input = ws->act[l];
    }
    return ws->act[EBM_LAYERS - 1];
}

void model_backward_staged(const model_shape *shape, const float *params, model_workspace *ws,
                           const float *x, int n, const float *dlogits, float *grad_params,
                           float *grad_x, model_stage_fn stage, void *arg)
{
    const float *g = dlogits; /* dL/dz of layer l, (n, out[l]) */
    float *scratch[2] = {ws->grad_a, ws->grad_b};
    /* The output layer's bias gradient; the lower ones are summed in
     * elu_backward while g is still in cache. */
    if (grad_params)
        add_column_sums(grad_params + shape->b_off[EBM_LAYERS - 1], g, n,
                        shape->out[EBM_LAYERS - 1]);
    for (int l = EBM_LAYERS - 1; l >= 0; l--) {
        const int in = shape->in[l], out = shape->out[l];
        const float *a_prev = l > 0 ? ws->act[l - 1] : x; /* (n, in) */
        if (grad_params) {
            /* dW (out,in) += g^T (out,n) @ a_prev (n,in) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, g, out,
                        a_prev, in, 1.0f, grad_params + shape->w_off[l], in);
            /* Layer l's bias was completed by the ELU pass of layer l + 1. */
            if (stage)
                stage(arg, l);
        }
        if (l == 0 && !grad_x)
            break;
        float *da = l > 0 ? scratch[l % 2] : grad_x;
        /* da (n,in) = g (n,out) @ W (out,in) */
        product_w(g, params + shape->w_off[l], da, n, out, in);
        if (stage)
            stage(arg, grad_params ? l : EBM_LAYERS);
        if (l > 0) {
            elu_backward(da, a_prev, n, in,
                         grad_params ? grad_params + shape->b_off[l - 1] : NULL);
            if (stage)
                stage(arg, grad_params ? l : EBM_LAYERS);
        }
        g = da;
    }
}

void model_backward(const model_shape *shape, const float *params, model_workspace *ws,
                    const float *x, int n, const float *dlogits, float *grad_params,
                    float *grad_x)
{
    model_backward_staged(shape, params, ws, x, n, dlogits, grad_params, grad_x, NULL, NULL);
}

/* logsumexp of a row: max, then the exponentials (vectorised, each <= 1). */
static inline float lse_row(const float *row, int k)
{
    float m = row[0];
    for (int j = 1; j < k; j++)
        m = row[j] > m ? row[j] : m;
    if (!isfinite(m))
        return m;
    /* The exponentials in a vectorised loop, then the sum in order. */
    float s = 0.0f, e[16];
    for (int j0 = 0; j0 < k; j0 += 16) {
        const int len = k - j0 < 16 ? k - j0 : 16;
        for (int j = 0; j < len; j++)
            e[j] = vm_exp_nonpos(row[j0 + j] - m);
        for (int j = 0; j < len; j++)
            s += e[j];
    }
    /* s >= 1: the largest term is exp(0) (k >= 1; cppcheck assumes k < 1). */
    // cppcheck-suppress invalidFunctionArg
    return m + logf(s);
}

EBM_VECTOR_CLONES
int model_argmax(const float *row, int k)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        if (row[j] > row[best])
            best = j;
    return best;
}

float model_logsumexp(const float *row, int k)
{
    return lse_row(row, k);
}

/* p = softmax(row) given its logsumexp. */
static inline void softmax_row(const float *row, float lse, int k, float *p)
{
    for (int j = 0; j < k; j++)
        p[j] = vm_exp_nonpos(row[j] - lse);
}

EBM_VECTOR_CLONES
void model_jem_loss(int n, int n_samples, int k, const float *logits, const int32_t *labels,
                    float gen_weight, float energy_reg, float *dlogits, loss_sums *sums)
{
    const float w = n_samples > 0 ? gen_weight : 0.0f, alpha = energy_reg;
    for (int i = 0; i < n; i++) {
        const float *row = logits + (size_t)i * k;
        float *drow = dlogits + (size_t)i * k;
        const float lse = lse_row(row, k);
        const int y = labels[i];
        const int argmax = model_argmax(row, k);
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
            const float lse_s = lse_row(srow, k);
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

EBM_VECTOR_CLONES
void model_lse_dlogits(int n, int k, const float *logits, float *dlogits)
{
    for (int i = 0; i < n; i++) {
        const float *row = logits + (size_t)i * k;
        softmax_row(row, lse_row(row, k), k, dlogits + (size_t)i * k);
    }
}
