/* base_density.h: a tractable density of the pixels added to the model's
 * energy (--base pixels): every pixel independent, each with a continuous,
 * piecewise-linear log-density on the box [lo, hi] (input space) whose knots
 * are the dequantisation cells' edges (docs/loglik.md section 2), so
 *
 *   E(x) = -LSE f(x) + E_base(x),   E_base(x) = -sum_j log p_j(x_j),
 *
 * with p_j normalised in closed form. p(y|x) = softmax f(x) is unchanged (the
 * base does not depend on the class); Langevin sees the base's gradient
 * (piecewise constant), and exact samples are drawn by inverse CDF.
 * Pure arithmetic: no MPI, no files (the fit's counts come from the caller). */
#ifndef EBM_BASE_DENSITY_H
#define EBM_BASE_DENSITY_H

#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"

typedef struct {
    int d;              /* pixels */
    int pieces;         /* linear pieces per pixel over [lo, hi]; knots = pieces + 1 */
    float lo, hi;       /* the box, input space */
    double *log_p;      /* [d, pieces + 1]: normalised log density at the knots */
    double *cum;        /* [d, pieces]: cumulative piece masses (sampling) */
} base_density;

/* log of the integral over [0, h] of exp(a0 + (a1 - a0) t / h) dt: the mass
 * of one linear piece of log-density, in closed form (stable for any a0, a1). */
double base_piece_log_mass(double a0, double a1, double h);

/* Allocates b for d pixels of `pieces` pieces over [lo, hi], log-density
 * values zero (to be set by base_fit or base_set). */
int base_alloc(base_density *b, int d, int pieces, float lo, float hi, ebm_err *err);
void base_free(base_density *b);

/* Sets pixel j's knots from unnormalised log values a[pieces + 1]: normalises
 * them (closed form) and builds the sampling table. Returns log Z_j. a may be
 * pixel j's own row of log_p. */
double base_set_pixel(base_density *b, int j, const double *a);

/* Fits every pixel by maximum likelihood of its dequantised training values:
 * counts[j, l] images with level l at pixel j (levels = pieces), plus `prior`
 * pseudo-images per level (Laplace smoothing, as the independent-pixel
 * baseline's +1). The objective is the mean over each level's cell of the
 * log-density, i.e. what `eval --loglik` scores; it is concave (a linear term
 * minus log Z), solved by damped Newton per pixel. Deterministic: every rank
 * that fits the same counts gets the same bits. */
int base_fit(base_density *b, const double *counts, double prior, ebm_err *err);

/* Adds E_base of the n rows of x (n, d) to energy[i] (when not NULL) and
 * d E_base / d x to grad (n, d) (when not NULL). Points outside [lo, hi]
 * continue the end pieces linearly (callers keep chains in the box). */
void base_energy_add(const base_density *b, const float *x, int n, double *energy,
                     float *grad);

/* The same, energy in float (for the training loss and the samplers). */
void base_energy_addf(const base_density *b, const float *x, int n, float *energy, float *grad);

/* Adds log p_base(x) = -E_base(x) to logp[i] (when not NULL) and its
 * gradient to grad (n, d) (when not NULL): for samplers that climb log p. */
void base_log_density_add(const base_density *b, const float *x, int n, float *logp,
                          float *grad);

/* Subtracts d E_base / d x from g (n, d): g becomes the gradient of
 * log p_model when it held grad_x LSE f. */
void base_grad_log_add(const base_density *b, const float *x, int n, float *g);

/* n exact samples of the base into x (n, d). */
void base_sample(const base_density *b, ebm_rng *rng, float *x, int64_t n);

/* The base's own log-likelihood of one image of integer levels (level[j] in
 * [0, pieces)), dequantised as docs/loglik.md: the mean over the cells of
 * log p, plus d log(cell width): exact for this density (it is linear in
 * each cell), in input space units (add the map's Jacobian for data units). */
double base_cell_log_lik(const base_density *b, const int *level);

#endif
