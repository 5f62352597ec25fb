/* model.h: the MLP f (D -> H -> H -> H -> K, ELU) on one flat parameter
 * buffer, its batched forward and backward passes (cblas_sgemm), and the joint
 * energy-based loss. Gradients and optimiser moments share the layout. */
#ifndef EBM_MODEL_H
#define EBM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"

#define EBM_LAYERS 4

/* Rows per forward pass when a command runs the model over many examples or
 * chains (evaluation, sampling, AIS): one sgemm batch, and the workspaces
 * are sized for it. */
#define EBM_CHUNK_ROWS 256

/* Layer l maps in[l] -> out[l]; its weight is [out, in] row-major at w_off[l]
 * (PyTorch's nn.Linear layout) followed by its bias [out] at b_off[l]. */
typedef struct {
    int d, h, k;
    int in[EBM_LAYERS], out[EBM_LAYERS];
    size_t w_off[EBM_LAYERS], b_off[EBM_LAYERS];
    size_t n_params;
} model_shape;

void model_shape_init(model_shape *shape, int d, int h, int k);

/* PyTorch's nn.Linear default: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
void model_init_params(const model_shape *shape, float *params, ebm_rng *rng);

/* Activations of the last forward pass, sized for `capacity` rows. */
typedef struct {
    int capacity;
    float *act[EBM_LAYERS]; /* act[0..2] hidden, after ELU [cap,H]; act[3] logits [cap,K] */
    float *grad_a, *grad_b; /* [cap, max(D,H)] backward scratch */
} model_workspace;

int model_workspace_init(model_workspace *ws, const model_shape *shape, int capacity,
                         ebm_err *err);
void model_workspace_free(model_workspace *ws);

/* logits (n,K) = f(x (n,D)); returns ws->act[3]. n <= capacity. */
const float *model_forward(const model_shape *shape, const float *params,
                           model_workspace *ws, const float *x, int n);

/* Backpropagates dlogits (n,K) through the last forward pass on x.
 * grad_params (n_params) is accumulated (+=) when not NULL; grad_x (n,D) is
 * overwritten when not NULL. Without grad_params no weight gradient is formed
 * (the Langevin path). */
void model_backward(const model_shape *shape, const float *params, model_workspace *ws,
                    const float *x, int n, const float *dlogits, float *grad_params,
                    float *grad_x);

/* model_backward with a callback between its stages (after each matrix
 * product and each ELU pass), for overlapping communication with the pass:
 * `ready` is the lowest layer l such that the gradients of layers l..3
 * (weight and bias: grad_params[w_off[l], b_off[3] + k), contiguous) are
 * complete and will not be written again; EBM_LAYERS while none is. Layers
 * complete in the order 3, 2, 1, 0 and the last call has ready = 0. The
 * arithmetic is model_backward's, bit for bit (without grad_params, ready stays
 * EBM_LAYERS). */
typedef void (*model_stage_fn)(void *arg, int ready);
void model_backward_staged(const model_shape *shape, const float *params, model_workspace *ws,
                           const float *x, int n, const float *dlogits, float *grad_params,
                           float *grad_x, model_stage_fn stage, void *arg);

/* Sums over a batch of the loss and what the metrics report. */
typedef struct {
    double loss;          /* CE + w * gen */
    double ce;            /* cross-entropy */
    double gen;           /* LSE(f(x~)) - LSE(f(x)) + alpha (LSE(f(x))^2 + LSE(f(x~))^2) */
    double errors;        /* misclassified data rows */
    double energy_data;   /* sum of E(x) = -LSE f(x) */
    double energy_sample; /* sum of E(x~) */
} loss_sums;

/* logsumexp of one row of k logits, computed stably. */
float model_logsumexp(const float *row, int k);

/* The predicted class of a row of k logits: the first index of the largest. */
int model_argmax(const float *row, int k);

/* The joint loss on n data rows (logits rows [0,n), labels) paired with
 * n_samples = n or 0 model samples (rows [n, 2n)). Per example:
 *   CE(f(x), y) + w [LSE f(x~) - LSE f(x) + alpha (LSE f(x)^2 + LSE f(x~)^2)]
 * Writes d(sum of losses)/d logits into dlogits (same rows as logits) and
 * adds the sums into *sums. With n_samples = 0 the generative term is left out
 * (as w = 0 would make it). */
void model_jem_loss(int n, int n_samples, int k, const float *logits, const int32_t *labels,
                    float gen_weight, float energy_reg, float *dlogits, loss_sums *sums);

/* dlogits for grad_x of sum_i LSE(f(x_i)): softmax of each row. */
void model_lse_dlogits(int n, int k, const float *logits, float *dlogits);

#endif
