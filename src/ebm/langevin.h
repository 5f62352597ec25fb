/* langevin.h: drawing samples from the model by Langevin dynamics
 *   x <- x + eta * grad_x LSE f(x) + sigma * eps,  eps ~ N(0, I)
 * from fresh U[-1,1] starts or from this rank's slice of a persistent buffer
 * (training's sampler), and the two kernels whose stationary law is the
 * model restricted to the data box (`sample --sampler mala|ula`). */
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

/* A kernel that replaces the Langevin steps of langevin_draw (the buffer,
 * its picks and restarts stay): fn(data, shape, params, ws, rng, n, x) runs
 * the n chains of x (n, d) in place (training's --train-sampler mala,
 * ebm/mh_kernel.h). */
typedef struct {
    void (*fn)(void *data, const model_shape *shape, const float *params, model_workspace *ws,
               ebm_rng *rng, int n, float *x);
    void *data;
} langevin_chain_runner;

typedef struct {
    langevin_params p;
    langevin_chain_runner runner; /* fn NULL: the Langevin steps of p */
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

/* n rows of x (n, d) where fresh chains start (U[-1,1], or p.start's
 * Gaussians, clamped when the chains are). */
void langevin_start(langevin_sampler *s, ebm_rng *rng, int n, float *x);

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

/* ---- kernels for a density restricted to a box ---------------------------
 * Target: p(x) proportional to exp(log_density(x)) on [lo, hi]^d, 0 outside.
 * Both use the Langevin proposal y = x + eta grad log p(x) + sqrt(2 eta) eps
 * (sigma^2 = 2 eta, no step decay):
 *  - MALA accepts y with probability
 *      min(1, p(y) q(x | y) / (p(x) q(y | x))),
 *      q(y | x) = N(y; x + eta grad log p(x), 2 eta I),
 *    and rejects every y outside the box (p(y) = 0): an exact kernel for the
 *    restricted target whatever eta is;
 *  - ULA (unadjusted) always moves, reflecting y into the box at its faces
 *    (the reflected diffusion's discretisation; biased by O(eta)).
 * MALA's eta is per chain. With adapt_steps > 0 the first adapt_steps steps
 * tune each chain's log eta towards target_accept (Robbins-Monro, gain
 * (t + 1)^-0.6, on the acceptance probability); from then on eta is fixed,
 * so the steps after the burn-in are an exact kernel. */
typedef enum { LANGEVIN_ULA = 1, LANGEVIN_MALA = 2 } langevin_box_kind;

/* MALA's acceptance rate the adaptation aims at: the optimum for product
 * targets as d grows (Roberts and Rosenthal 1998). */
#define LANGEVIN_MALA_TARGET_ACCEPT 0.574

typedef struct {
    langevin_box_kind kind;
    int steps;
    double step_size;     /* eta, input space (MALA with adaptation: the first eta) */
    int adapt_steps;      /* MALA: burn-in steps that tune eta (0: eta fixed) */
    double target_accept; /* MALA: the burn-in's aim */
    float lo, hi;         /* the box */
} langevin_box_params;

/* A target with its value: log_density(data, x (n, d), n, logp (n), grad (n, d))
 * writes log p(x) up to a constant and grad_x log p(x). */
typedef struct {
    void (*log_density)(void *data, const float *x, int n, float *logp, float *grad);
    void *data;
} langevin_density;

/* What a run did, summed over its calls (MALA: after and during the burn-in). */
typedef struct {
    int64_t proposed, accepted;             /* steps after the burn-in */
    int64_t proposed_adapt, accepted_adapt; /* burn-in steps */
    int64_t outside;                        /* MALA proposals outside the box */
    double eta_sum;                         /* sum over chains of the eta they ended with */
    int64_t chains;                         /* chains run */
    int64_t restarted_nonfinite;            /* chains restarted U[lo, hi] (non-finite) */
} langevin_box_stats;

typedef struct {
    langevin_box_params p;
    int d, capacity;
    float *logp, *grad;      /* [capacity], [capacity, d]: at the chains' states */
    float *y, *logp_y, *grad_y; /* the proposals */
    float *noise;            /* [capacity, d] */
    double *eta;             /* [capacity] per-chain step */
    langevin_box_stats stats;
} langevin_box;

int langevin_box_init(langevin_box *b, const langevin_box_params *p, int d, int capacity,
                      ebm_err *err);
void langevin_box_free(langevin_box *b);

/* Runs the n chains of x (n, d), which must start inside the box (starts
 * outside are clamped into it first), p.steps steps on `target`, in place;
 * adds to b->stats. n <= capacity. */
void langevin_box_run(langevin_box *b, const langevin_density *target, ebm_rng *rng, int n,
                      float *x);

/* MALA's log acceptance ratio of the move x -> y (d values) with step eta,
 * given log p and its gradient at both: log p(y) - log p(x)
 * + log q(x | y) - log q(y | x). Outside the box is the caller's test. */
double langevin_mala_log_ratio(int d, double eta, const float *x, double logp_x,
                               const float *grad_x, const float *y, double logp_y,
                               const float *grad_y);

/* The model as a target (LSE f(x), or f(x)[target_class] when >= 0).
 * dlogits: [capacity, k] scratch. */
typedef struct {
    const model_shape *shape;
    const float *params;
    model_workspace *ws;
    int target_class;
    float *dlogits;
    const base_density *base; /* part of the energy when not NULL (--base pixels) */
} langevin_model_density;

void langevin_model_log_density(void *data, const float *x, int n, float *logp, float *grad);

#endif
