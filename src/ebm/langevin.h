/* langevin.h: drawing samples from the model by Langevin dynamics
 *   x <- x + eta * grad_x LSE f(x) + sigma * eps,  eps ~ N(0, I)
 * from fresh U[-1,1] starts or from this rank's slice of a persistent buffer. */
#ifndef EBM_LANGEVIN_H
#define EBM_LANGEVIN_H

#include <stdint.h>

#include "core/err.h"
#include "num/model.h"
#include "core/rng.h"

typedef struct {
    int steps;
    float step_size, noise; /* eta, sigma (input space) */
    float reinit;           /* buffer: probability of a fresh start per draw */
    int clamp;              /* keep chains inside [lo, hi] after every step */
    float lo, hi;
    int target_class;       /* -1: climb LSE f(x) (unconditional); k: climb f(x)[k] */
} langevin_params;

typedef struct {
    langevin_params p;
    int d, k, capacity;
    int64_t n_chains;    /* this rank's chains; 0 = fresh starts every draw */
    int64_t first_chain; /* global id of this rank's first chain */
    float *chains;       /* [n_chains, d] */
    int64_t *picked;     /* [capacity] buffer rows of the last draw */
    float *grad;         /* [capacity, d] scratch: input gradient */
    float *noise;        /* [capacity, d] scratch: sigma * eps */
    float *dlogits;      /* [capacity, k] */
    int64_t restarted_nonfinite; /* chains that went non-finite and were restarted */
} langevin_sampler;

/* capacity: most samples one draw asks for. Buffer chains start U[-1,1]. */
int langevin_init(langevin_sampler *s, const langevin_params *p, int d, int k, int capacity,
                  int64_t n_chains, int64_t first_chain, ebm_rng *rng, ebm_err *err);
void langevin_free(langevin_sampler *s);

/* What a chain climbs: grad_log_density(data, x (n, d), n, grad (n, d))
 * writes grad_x log p(x) up to a constant, i.e. -grad_x E(x). The samplers
 * below use the model (LSE f(x), or f(x)[k] with a target class); tests pass
 * energies whose stationary law is known. */
typedef struct {
    void (*grad_log_density)(void *data, const float *x, int n, float *grad);
    void *data;
} langevin_target;

/* Runs the n chains in x (n, d) for p.steps steps on `target`, in place:
 * x <- clamp(x + eta * grad + sigma * eps); a chain that ends non-finite is
 * restarted from U[-1,1] and counted in restarted_nonfinite. n <= capacity. */
void langevin_run(langevin_sampler *s, const langevin_target *target, ebm_rng *rng, int n,
                  float *x);

/* n samples into out (n, d): from the buffer (written back) when the sampler
 * has chains, else from fresh U[-1,1] starts. ws must hold n rows. */
void langevin_draw(langevin_sampler *s, const model_shape *shape, const float *params,
                   model_workspace *ws, ebm_rng *rng, int n, float *out);

/* n fresh chains run for p.steps steps, into out (n, d). */
void langevin_draw_fresh(langevin_sampler *s, const model_shape *shape, const float *params,
                         model_workspace *ws, ebm_rng *rng, int n, float *out);

/* Runs the n chains in x (n, d) for p.steps further steps, in place. */
void langevin_continue(langevin_sampler *s, const model_shape *shape, const float *params,
                       model_workspace *ws, ebm_rng *rng, int n, float *x);

#endif
