/* ais.h: log partition functions by annealed importance sampling (AIS) on a
 * box, and the log-likelihood of a checkpoint on dequantised data (eval
 * --loglik). Definitions and choices: docs/loglik.md. */
#ifndef EBM_AIS_H
#define EBM_AIS_H

#include <stdint.h>
#include <stdio.h>

#include "core/data.h"
#include "par/dist.h"
#include "core/err.h"
#include "core/rng.h"
#include "num/base_density.h"
#include "num/model.h"

/* An energy on R^d. Fills energy[i] = E(x_i) for the n rows of x (n, d) and,
 * when grad is not NULL, grad (n, d) = dE/dx. n never exceeds the capacity
 * the energy announces. Returns 0, or -1 after filling err. AIS only needs E;
 * the gradient steers MALA's proposals, and the Metropolis-Hastings test keeps
 * the result exact whatever the gradient's accuracy. */
typedef int (*ais_energy_fn)(void *ctx, const float *x, int n, double *energy, float *grad,
                             ebm_err *err);

typedef struct {
    ais_energy_fn fn;
    void *ctx;
    int d;
    int capacity; /* most rows one call may take */
} ais_energy;

typedef enum { AIS_SCHEDULE_SIGMOID = 0, AIS_SCHEDULE_GEOMETRIC = 1 } ais_schedule;

/* Called after each temperature of the pilot ("pilot") and the main run
 * ("annealing"), on every rank, so that a long run can say how far it is
 * (the caller decides how often to print). fn NULL: nothing. */
typedef struct {
    void (*fn)(void *ctx, const char *stage, int done, int total);
    void *ctx;
} ais_progress;

typedef struct {
    int n_temps;           /* T: beta_0 = 0 < beta_1 < ... < beta_T = 1 */
    ais_schedule schedule;
    /* Transitions: Hamiltonian Monte Carlo whose leapfrog trajectories
     * bounce off the box's walls (position reflected, that momentum negated:
     * still reversible and volume-preserving, Neal 2011 section 5.1), then a
     * Metropolis test on H. With one leapfrog step it is MALA whose proposals
     * are reflected into the box, not rejected outside it. */
    int transitions;       /* transitions per intermediate temperature (>= 1) */
    int leapfrog;          /* leapfrog steps per transition (>= 1; 1 = MALA) */
    int64_t n_chains;      /* over all ranks (>= 2, for a standard error) */
    int64_t n_pilot;       /* chains of the step-size pilot run, over all ranks */
    float lo, hi;          /* the box [lo, hi]^d */
    uint64_t seed;
    ais_progress progress;
    /* NULL: anneal from the uniform box. Else from this normalised density
     * on the box, which the energy E contains (E = E_net + E_base): chains
     * start at its exact samples, log Z_0 = 0, and the intermediate densities
     * are p_base exp(-beta_t (E - E_base)), so only the network's part is
     * annealed (eval --ais-start base). */
    const base_density *start_base;
    /* NULL: none. Else the energy contains this normalised base density
     * (E = E_net + E_base) and each transition begins with `base_moves`
     * independence Metropolis-Hastings moves, the first on all pixels, the
     * others on random blocks of `base_block` pixels (0: all): the block's pixels are redrawn exactly from the
     * intermediate density's base part (base^beta from the uniform box,
     * the base itself from start_base), the rest kept, and the move is
     * accepted with min(1, exp(-beta (E_net(z') - E_net(z)))). Each leaves
     * the intermediate density invariant; they carry chains between the
     * walls where the base piles its mass, which MALA cannot (docs/loglik.md). */
    const base_density *energy_base;
    int base_moves;
    int base_block;
} ais_params;

/* Defaults: sigmoid schedule, one reflected MALA transition per temperature
 * (at equal gradient cost, more temperatures beat longer trajectories on the
 * test energies), pilot of a quarter of the chains (32..256). */
void ais_params_default(ais_params *p, int n_temps, int64_t n_chains, float lo, float hi,
                        uint64_t seed);

typedef struct {
    double log_z;      /* log of Z = integral over the box of exp(-E) */
    double log_z_se;   /* delta-method standard error of log_z over chains */
    double log_z0;     /* d log(hi - lo): the uniform base (0 from a base density) */
    int from_base;     /* annealed from params.start_base */
    double ess;        /* (sum w)^2 / sum w^2, in chains */
    double acceptance; /* mean acceptance of the main run's transitions */
    double move_mean;  /* mean distance (input space, L2) a chain moves per transition */
    double base_acceptance; /* of the base-block moves (energy_base; 0 without) */
    int base_moves, base_block;
    double step_min, step_max; /* range of the pilot-tuned steps over temperatures */
    double step_final;         /* the step at beta_{T-1}, next to the model */
    int leapfrog;
    int64_t n_chains;
    int n_temps;
} ais_result;

/* beta[0..n_temps]: 0, increasing, exactly 1 at the end. */
void ais_schedule_fill(ais_schedule schedule, int n_temps, double *beta);

/* log((1/n) sum exp(lw_i)) and its delta-method standard error
 * sd(w) / (sqrt(n) mean(w)); *ess = (sum w)^2 / sum w^2. */
double ais_log_mean_exp(const double *lw, int64_t n, double *se, double *ess);

/* Collective. Estimates log Z of exp(-E) on the box; every rank runs its
 * share of the chains and gets the global result. */
int ais_log_z(const dist_ctx *ctx, const ais_energy *energy, const ais_params *p,
              ais_result *res, ebm_err *err);

/* As ais_log_z; when steps is not NULL it receives [n_temps + 1] the pilot's
 * step per temperature (steps[n_temps], at beta = 1 where AIS makes no
 * transition, copies steps[n_temps - 1]): the kernels RAISE then uses. */
int ais_log_z_steps(const dist_ctx *ctx, const ais_energy *energy, const ais_params *p,
                    double *steps, ais_result *res, ebm_err *err);

typedef struct {
    int n_temps;
    double acceptance; /* mean over transitions */
    double move_mean;  /* mean L2 distance moved per transition, input space */
    double base_acceptance; /* of the base-block moves (energy_base; 0 without) */
    double log_z0;
} ais_raise_stats;

/* Collective. RAISE (Burda, Grosse and Salakhutdinov 2015): reverse
 * annealing from the n local points x (n, d), inside the box, with global ids
 * from first_id (each its own stream from p->seed), n_global points over all
 * ranks. With the schedule of p->n_temps temperatures (0 allowed) and the
 * kernel at beta_k of step steps[k], logp[i] gets an unbiased estimate's log
 * of the density at x_i of the annealing model: uniform x_0, then MALA
 * transitions at beta_1, ..., beta_T = 1. E[logp] <= log p_ann(x): a
 * stochastic lower bound. With 0 temperatures logp = -d log(hi - lo), the
 * base's own density, exactly. With p->start_base the annealing model starts
 * from that density instead (only E - E_base annealed, as in ais_log_z), and
 * with 0 temperatures logp = log p_base(x) exactly. */
int ais_raise(const dist_ctx *ctx, const ais_energy *energy, const ais_params *p,
              const double *steps, const float *x, int64_t n, int64_t first_id, int64_t n_global,
              double *logp, ais_raise_stats *st, ebm_err *err);

/* Not collective: `sweeps` of AIS's transition at inverse temperature beta
 * (p->energy_base's block moves, then MALA/HMC of step `step`) on the n
 * chains x (n, d), in place, each its own stream from p->seed and its index.
 * For tests and diagnostics: the transition must leave exp(-beta E) on the
 * box invariant. *base_acceptance (may be NULL) gets the block moves' rate. */
int ais_transitions(const ais_energy *energy, const ais_params *p, double beta, double step,
                    int sweeps, float *x, int64_t n, double *base_acceptance, ebm_err *err);

/* Uniform dequantisation of integer pixel levels. The L = value_max -
 * value_min + 1 levels split the box into L cells of equal width
 * (value_max - value_min) / L; level k (pixel value_min + k) becomes
 * value_min + (k + u) * width with u ~ U[0,1), which always lies in the box
 * and in a cell that contains the pixel value itself. */
typedef struct {
    double value_min, value_max;
    int levels;
    double width;     /* cell width, data units */
    input_map map;
    float lo, hi;     /* the box in input space */
} ais_dequant;

/* Fails unless value_max - value_min is a positive integer. */
int ais_dequant_init(ais_dequant *q, double value_min, double value_max, const input_map *map,
                     ebm_err *err);
/* The level of a pixel; -1 when it is not one of the integer levels. */
int ais_dequant_level(const ais_dequant *q, float pixel);
/* Level k and u in [0,1) -> the input-space value, inside [lo, hi]. */
float ais_dequant_input(const ais_dequant *q, int level, double u);

/* Dequantisation draws per example. */
#define AIS_DEQUANT_DRAWS 16

typedef struct {
    ais_result z;           /* log Z in input space */
    int64_t n;              /* examples */
    int d, levels, draws;
    double cell_width;      /* data units */
    double log_jacobian;    /* d log |scale|: input-space to data-units density */
    /* Means per image over examples, with the standard error over examples
     * (_se_ex) and in total (_se, with the log Z error added in quadrature). */
    double logp_cont, logp_cont_se_ex; /* continuous density of dequantised data, data units */
    /* log P(pixels), the uniform-dequantisation bound */
    double logp_disc, logp_disc_se_ex, logp_disc_se;
    double logp_iw, logp_iw_se_ex;     /* the tighter importance-weighted bound (draws) */
    double bits_per_dim, bits_per_dim_se; /* -logp_disc / (d ln 2) */
    /* RAISE from each example's first dequantised draw (the first of the
     * draws above), same schedule, the pilot's steps: the same bound's form,
     * a stochastic lower bound on the annealing model's log P(pixels). */
    ais_raise_stats raise;
    double logp_raise, logp_raise_se;
    double gap, gap_se;     /* AIS - RAISE on the same draws, paired over examples */
    double logp_judged;     /* min(logp_disc, logp_raise) */
    /* With a base density: the base alone, exact (its normaliser is closed
     * form and it is linear in each cell), mean and SE over examples. */
    int has_base;
    double logp_base, logp_base_se_ex;
    double seconds;
} ais_loglik_result;

/* The density the log-likelihood is taken under: a model on its data box. */
typedef struct {
    model_shape shape;
    const float *params;
    input_map map;               /* data units -> the model's input space */
    double value_min, value_max; /* the data box, data units */
    /* --base pixels: part of the energy, E = -LSE f + E_base (NULL: none). */
    const base_density *base;
} ais_model;

/* Collective. log Z of the model's energy on its data box by AIS
 * (n_temps temperatures, n_chains chains over all ranks, default transitions,
 * fixed seeds), then the log-likelihood of each rank's shard (data units,
 * integer levels), gathered so every rank gets the result. */
int ais_loglik_run(const dist_ctx *ctx, const ais_model *m, const data_shard *shard,
                   int n_temps, int64_t n_chains, const ais_progress *progress,
                   ais_loglik_result *res, ebm_err *err);
/* The same, annealing from the model's base density (m->base must be set)
 * instead of the uniform box when from_base. */
int ais_loglik_run_from(const dist_ctx *ctx, const ais_model *m, const data_shard *shard,
                        int n_temps, int64_t n_chains, int from_base,
                        const ais_progress *progress, ais_loglik_result *res, ebm_err *err);

void ais_loglik_print(FILE *out, const ais_loglik_result *r);

/* --ais-steps auto: T doubles from `start` until both the AIS and the RAISE
 * figure on the validation split move by less than AIS_AUTO_TOLERANCE nats
 * per image from the previous T, or T reaches `cap` (then *converged = 0).
 * Each T's figures are printed to out (NULL: silent; rank 0 passes stdout).
 * Collective; *last is the run at *chosen. */
#define AIS_AUTO_TOLERANCE 1.0
#define AIS_AUTO_START 100
#define AIS_AUTO_CAP 6400
int ais_loglik_choose_steps(const dist_ctx *ctx, const ais_model *m, const data_shard *val,
                            int start, int cap, int64_t n_chains, const ais_progress *progress,
                            FILE *out, ais_loglik_result *last, int *chosen, int *converged,
                            ebm_err *err);

/* ---- the transition as training's kernel (--train-sampler mala) -----------
 * The transition eval --loglik anneals with, at beta = 1 on the model's own
 * energy E = -LSE f + E_base: per sweep `base_moves` base-block independence
 * moves (the first on all pixels, the others on `base_block`) then one
 * reflected MALA step. Its stationary law is the model on the box, so chains
 * run by it are the model's samples (docs/density.md). */
typedef struct {
    int sweeps;        /* per draw (>= 0) */
    int base_moves, base_block;
    double step_size;  /* MALA's first eta (input space): leapfrog step sqrt(2 eta) */
    double adapt_gain; /* log eta += gain (a draw's acceptance - 0.574) after it; 0: fixed */
    float lo, hi;      /* the data box, input space */
    const base_density *base; /* the energy's base (required) */
} ais_kernel_params;

/* Robbins-Monro gain of MALA's log eta between training draws: a draw's
 * acceptance off by 0.5 moves eta by e^0.05, so it settles within an epoch
 * or two while one draw's noise (32+ chains) moves it by about 1%. */
#define AIS_KERNEL_ADAPT_GAIN 0.1

typedef struct {
    double mala_proposed, mala_accepted;
    double block_proposed, block_accepted;
    double moved, transitions; /* L2 distance moved (input space), sweeps x chains */
    double eta;                /* MALA's eta now */
} ais_kernel_stats;

typedef struct ais_kernel ais_kernel;

/* Allocates everything the kernel needs for up to `capacity` chains (its
 * own model workspace); params are the weights it starts with. */
int ais_kernel_init(ais_kernel **k, const ais_kernel_params *p, const model_shape *shape,
                    const float *params, int capacity, ebm_err *err);
void ais_kernel_free(ais_kernel *k);

/* Not collective, no allocation: the n chains of x (n, d) (moved into the
 * box first) through `sweeps` transitions of the model with these weights,
 * in place; each chain its own stream, seeded from rng. */
int ais_kernel_run(ais_kernel *k, const float *params, ebm_rng *rng, int n, float *x,
                   ebm_err *err);
const ais_kernel_stats *ais_kernel_get_stats(const ais_kernel *k);

/* Sweeps per ais_kernel_run and the gain of eta's adaptation after each
 * (sample --sampler kernel: a burn-in that tunes eta, then a fixed kernel). */
void ais_kernel_set(ais_kernel *k, int sweeps, double adapt_gain);

/* The kernel's whole state between draws: its leapfrog step h (MALA's
 * eta = h^2 / 2), tuned after every draw. A checkpoint stores h itself, not
 * eta, so that a resumed kernel continues bit for bit. set_step takes a
 * finite h > 0 (the caller checks it). */
double ais_kernel_step(const ais_kernel *k);
void ais_kernel_set_step(ais_kernel *k, double step);

/* eval --loglik's base-block moves per transition and pixels per block
 * (0: all), chosen in docs/loglik.md; sample --sampler kernel uses them. */
#define AIS_BASE_MOVES 4
#define AIS_BASE_BLOCK 2

#endif
