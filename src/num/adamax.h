/* adamax.h: the Adamax optimiser exactly as torch.optim.Adamax updates. */
#ifndef EBM_ADAMAX_H
#define EBM_ADAMAX_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double lr, beta1, beta2, eps;
} adamax_config;

#define ADAMAX_DEFAULTS {1e-3, 0.9, 0.999, 1e-8}

/* One step on n parameters with gradient g; *step is the number of steps
 * taken so far and is incremented first (PyTorch's `step`):
 *   m = b1 m + (1-b1) g;  u = max(b2 u, |g| + eps);  p -= lr/(1-b1^t) * m/u */
void adamax_step(const adamax_config *cfg, size_t n, float *params, const float *grad,
                 float *exp_avg, float *exp_inf, int64_t *step);

#endif
