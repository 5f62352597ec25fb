/* langevin.h: drawing samples from the model by Langevin dynamics
 *   x <- x + eta * grad_x LSE f(x) + sigma * eps,  eps ~ N(0, I)
 * from fresh U[-1,1] starts or from this rank's slice of a persistent buffer. */
#ifndef EBM_LANGEVIN_H
#define EBM_LANGEVIN_H

#include <stdint.h>

#include "core/err.h"
#include "num/base_density.h"
#include "num/model.h"
#include "core/rng.h"
#include "par/dist.h"

/* Where fresh chains start with --chain-init 1 (JEM++'s informative
 * initialisation): a class k drawn with its share of the training images,
 * then x0 = mean_k + L_k z, z ~ N(0, I), L_k L_k^T = cov_k + ridge I, the
 * Gaussian fitted to class k's training images in input space; clamped to
 * [lo, hi] when the chains are. */
typedef struct {
    int d, k;
    double *cum;  /* [k] cumulative class shares (cum[k-1] = 1) */
    float *mean;  /* [k, d] */
    float *chol;  /* [k, d, d] lower triangular, row major */
} langevin_gauss;

/* Ridge added to every class covariance (input units squared): digits have
 * pixels that are always 0, whose variance would be 0. */
#define LANGEVIN_GAUSS_RIDGE 1e-3

/* Collective. Fits g to this rank's shard of labelled images (n rows of d
 * data-unit pixels, labels in [0, k)) over all ranks, in input space
 * (x_in = scale * x + shift): every rank ends with the same g. */
int langevin_gauss_fit(const dist_ctx *ctx, const float *images, const int32_t *labels,
                       int64_t n, int d, int k, float scale, float shift, langevin_gauss *g,
                       ebm_err *err);
void langevin_gauss_free(langevin_gauss *g);

typedef struct {
    int steps;
    float step_size, noise; /* eta, sigma (input space) */
    float step_decay;       /* step t (0-based) uses eta gamma^t, sigma gamma^(t/2); 1: fixed.
                             * 0 (a zeroed struct) means 1 too */
    float reinit;           /* buffer: probability of a fresh start per draw */
    int clamp;              /* keep chains inside [lo, hi] after every step */
    float lo, hi;
    int target_class;       /* -1: climb LSE f(x) (unconditional); k: climb f(x)[k] */
    const langevin_gauss *start; /* fresh starts from these Gaussians; NULL: U[-1,1] */
    /* --base pixels: the base density is part of the energy, so chains climb
     * LSE f(x) - E_base(x) (with a target class: f(x)[k] - E_base(x)); with
     * start_base, fresh starts are its exact samples. NULL: no base. */
    const base_density *base;
    int start_base;
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

/* capacity: most samples one draw asks for. Buffer chains start where fresh
 * chains do (U[-1,1], or p->start's Gaussians). "Fresh" and "restarted" below
 * mean the same start. */
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
