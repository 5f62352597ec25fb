/* schedule.c: the learning-rate schedule and the weight average. */
#include "num/schedule.h"

#include <math.h>
#include <string.h>

#define SCHEDULE_PI 3.14159265358979323846

double lr_schedule_at(const lr_schedule *s, int64_t step)
{
    const double k = (double)step, w = s->warmup_steps;
    if (k < w)
        return s->lr * (k + 1) / w;
    if (s->shape == LR_CONST)
        return s->lr;
    const double span = s->total_steps - 1 - w;
    double q = span > 0 ? (k - w) / span : 1;
    q = q < 0 ? 0 : q > 1 ? 1 : q;
    return s->lr * (s->floor + (1 - s->floor) * 0.5 * (1 + cos(SCHEDULE_PI * q)));
}

int lr_shape_parse(const char *name)
{
    if (strcmp(name, "const") == 0)
        return LR_CONST;
    if (strcmp(name, "cosine") == 0)
        return LR_COSINE;
    return -1;
}

void ema_update(size_t n, float *avg, const float *params, double decay, int64_t t)
{
    /* The weight in double, as Adamax's bias correction; applied in float. */
    const double w = (1.0 - decay) / (1.0 - pow(decay, (double)t));
    const float wf = (float)w, keep = (float)(1.0 - w);
    for (size_t i = 0; i < n; i++)
        avg[i] = avg[i] * keep + params[i] * wf;
}
