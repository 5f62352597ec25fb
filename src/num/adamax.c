/* adamax.c: Adamax (Kingma & Ba, 2015) in torch.optim.Adamax's formulation. */
#include "num/adamax.h"

#include <math.h>

void adamax_step(const adamax_config *cfg, size_t n, float *params, const float *grad,
                 float *exp_avg, float *exp_inf, int64_t *step)
{
    *step += 1;
    /* PyTorch computes the bias correction and step size in double on the host
     * and applies them to float32 tensors; so do we. */
    const double bias_correction = 1.0 - pow(cfg->beta1, (double)*step);
    const float clr = (float)(cfg->lr / bias_correction);
    const float b1 = (float)cfg->beta1, one_minus_b1 = (float)(1.0 - cfg->beta1);
    const float b2 = (float)cfg->beta2, eps = (float)cfg->eps;
    for (size_t i = 0; i < n; i++) {
        const float g = grad[i];
        exp_avg[i] = exp_avg[i] * b1 + g * one_minus_b1;
        const float decayed = exp_inf[i] * b2, bound = fabsf(g) + eps;
        exp_inf[i] = decayed > bound ? decayed : bound;
        params[i] -= clr * (exp_avg[i] / exp_inf[i]);
    }
}
