/* ais.c: annealed importance sampling of log Z on a box (HMC/MALA moves that
 * bounce off the walls), and the dequantised log-likelihood of a checkpoint
 * (docs/loglik.md). */
#include "ebm/ais.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "num/model.h"
#include "core/rng.h"
#include "core/shard.h"
#include "core/timer.h"
#include "ebm/mh_kernel.h"

/* Optimal acceptance in high dimension: MALA (one leapfrog step) 0.574
 * (Roberts & Rosenthal 1998), HMC 0.651 (Beskos et al. 2013). */
#define AIS_TARGET_ACCEPT_MALA 0.574
#define AIS_TARGET_ACCEPT_HMC 0.651
/* Robbins-Monro gain of the pilot's log step size per temperature: moves the
 * step by e^0.1 when the acceptance is off by 0.5, so it follows beta even at
 * T = 100, while one temperature's noise (32+ chains) moves it by ~2%. */
#define AIS_ADAPT_GAIN 0.2
/* Sigmoid schedule steepness (Wu et al. 2017 use 4): more temperatures near
 * both ends, where the uniform base and the peaked model change fastest. */
#define AIS_SIGMOID_DELTA 4.0
/* First nonzero beta of the geometric schedule. */
#define AIS_GEOMETRIC_BETA1 1e-4


/* Seeds of the fixed streams eval uses: the same checkpoint gives the same
 * figures on any number of ranks. */
#define AIS_SEED_LOGZ 0x6c6f675aULL    /* "logZ" */
#define AIS_SEED_DEQUANT 0x64657175ULL /* "dequ" */
#define AIS_SEED_RAISE 0x72616973ULL   /* "rais" */

/* Uniform in [0, 1) with 53 bits: the Metropolis test compares it with
 * acceptance probabilities that can be tiny. */
static double uniform53(ebm_rng *rng) { return mh_uniform53(rng); }

void ais_params_default(ais_params *p, int n_temps, int64_t n_chains, float lo, float hi,
                        uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->n_temps = n_temps;
    p->schedule = AIS_SCHEDULE_SIGMOID;
    p->transitions = 1;
    p->leapfrog = 1;
    p->n_chains = n_chains;
    int64_t pilot = n_chains / 4;
    p->n_pilot = pilot < 32 ? 32 : pilot > 256 ? 256 : pilot;
    p->lo = lo, p->hi = hi;
    p->seed = seed;
}

void ais_schedule_fill(ais_schedule schedule, int n_temps, double *beta)
{
    beta[0] = 0.0;
    if (schedule == AIS_SCHEDULE_GEOMETRIC) {
        for (int t = 1; t < n_temps; t++)
            beta[t] = pow(AIS_GEOMETRIC_BETA1, (double)(n_temps - t) / (double)(n_temps - 1));
    } else {
        const double lo = 1.0 / (1.0 + exp(AIS_SIGMOID_DELTA));
        const double hi = 1.0 / (1.0 + exp(-AIS_SIGMOID_DELTA));
        for (int t = 1; t < n_temps; t++) {
            const double s = 1.0 / (1.0 + exp(-AIS_SIGMOID_DELTA * (2.0 * t / n_temps - 1.0)));
            beta[t] = (s - lo) / (hi - lo);
        }
    }
    beta[n_temps] = 1.0;
}

double ais_log_mean_exp(const double *lw, int64_t n, double *se, double *ess)
{
    double max = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (lw[i] > max)
            max = lw[i];
    double s1 = 0.0, s2 = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double w = exp(lw[i] - max);
        s1 += w, s2 += w * w;
    }
    const double mean = s1 / (double)n;
    if (se) {
        /* Var(log mean w) ~ Var(w) / (n mean^2): the delta method. */
        const double var = n > 1 ? (s2 - s1 * mean) / (double)(n - 1) : INFINITY;
        *se = sqrt((var > 0 ? var : 0.0) / (double)n) / mean;
    }
    if (ess)
        *ess = s1 * s1 / s2;
    return max + log(mean);
}

/* ---- the annealing ------------------------------------------------------- */

/* This rank's chains and the scratch of one sweep of transitions. */
typedef struct {
    const ais_energy *en;
    int d, cap;
    int64_t n;       /* local chains */
    float *x, *g;    /* [n, d] states and dE/dx there */
    double *e, *lw;  /* [n] energies and log weights */
    ebm_rng *rng;    /* [n] one stream per chain */
    float *px, *pg;  /* [cap, d] proposals and their gradients */
    double *pe, *pu; /* [cap] their energies and uniforms */
    double *pp, *h0; /* [cap, d] momenta, [cap] starting Hamiltonians */
    /* From a base density (params.start_base): E_base and its gradient at
     * the states and at the proposals (NULL from the uniform box). */
    const base_density *base;
    double *eb, *peb; /* [n], [cap]: also with mix */
    float *gb, *pgb;  /* [n, d], [cap, d] */
    /* The base the energy contains (params.energy_base; NULL: none) and
     * what its block moves need: the proposal's density, base^b at the
     * exponent `tempered_at` (rebuilt when the temperature changes), one
     * row of draws and a permutation of the pixels. */
    const base_density *mix;
    base_density tempered;
    double tempered_at;
    float *draw; /* [d] */
    int *perm;   /* [d] */
} ais_chains;

static void chains_free(ais_chains *c)
{
    free(c->x), free(c->g), free(c->e), free(c->lw), free(c->rng);
    free(c->px), free(c->pg), free(c->pe), free(c->pu), free(c->pp), free(c->h0);
    free(c->eb), free(c->peb), free(c->gb), free(c->pgb);
    free(c->draw), free(c->perm);
    if (c->mix)
        base_free(&c->tempered);
    memset(c, 0, sizeof *c);
}

static int energy_rows(const ais_energy *en, const float *x, int64_t n, double *e, float *g,
                       ebm_err *err)
{
    const size_t d = (size_t)en->d;
    for (int64_t a = 0; a < n; a += en->capacity) {
        const int c = (int)(n - a < en->capacity ? n - a : en->capacity);
        if (en->fn(en->ctx, x + (size_t)a * d, c, e + a, g ? g + (size_t)a * d : NULL, err))
            return ebm_trace(err);
    }
    return 0;
}

/* n local chains with global ids from first_id, uniform on the box. */
static int chains_init(ais_chains *c, const ais_energy *en, const ais_params *p, int64_t n,
                       int64_t first_id, uint64_t seed, ebm_err *err)
{
    memset(c, 0, sizeof *c);
    c->en = en, c->d = en->d, c->n = n;
    c->cap = en->capacity;
    const size_t d = (size_t)en->d, rows = (size_t)(n > 0 ? n : 1), cap = (size_t)c->cap;
    c->x = ebm_calloc(rows * d, sizeof(float), "AIS chains", err);
    c->g = ebm_calloc(rows * d, sizeof(float), "AIS chains", err);
    c->e = ebm_calloc(rows, sizeof(double), "AIS chains", err);
    c->lw = ebm_calloc(rows, sizeof(double), "AIS chains", err);
    c->rng = ebm_calloc(rows, sizeof(ebm_rng), "AIS chains", err);
    c->px = ebm_calloc(cap * d, sizeof(float), "AIS scratch", err);
    c->pg = ebm_calloc(cap * d, sizeof(float), "AIS scratch", err);
    c->pe = ebm_calloc(cap, sizeof(double), "AIS scratch", err);
    c->pu = ebm_calloc(cap, sizeof(double), "AIS scratch", err);
    c->pp = ebm_calloc(cap * d, sizeof(double), "AIS scratch", err);
    c->h0 = ebm_calloc(cap, sizeof(double), "AIS scratch", err);
    if (!c->x || !c->g || !c->e || !c->lw || !c->rng || !c->px || !c->pg || !c->pe || !c->pu ||
        !c->pp || !c->h0) {
        chains_free(c);
        return -1;
    }
    c->base = p->start_base;
    if (c->base || p->energy_base) {
        c->eb = ebm_calloc(rows, sizeof(double), "AIS chains", err);
        c->peb = ebm_calloc(cap, sizeof(double), "AIS scratch", err);
        if (!c->eb || !c->peb) {
            chains_free(c);
            return -1;
        }
    }
    if (c->base) {
        c->gb = ebm_calloc(rows * d, sizeof(float), "AIS chains", err);
        c->pgb = ebm_calloc(cap * d, sizeof(float), "AIS scratch", err);
        if (!c->gb || !c->pgb) {
            chains_free(c);
            return -1;
        }
    }
    if (p->energy_base) {
        const base_density *b = p->energy_base;
        if (b->d != c->d) {
            chains_free(c);
            return ebm_fail(err, "AIS: the energy's base density has %d pixels, the energy %d",
                            b->d, c->d);
        }
        if (base_alloc(&c->tempered, b->d, b->pieces, b->lo, b->hi, err)) {
            chains_free(c);
            return -1;
        }
        c->mix = b;
        c->tempered_at = -1.0;
        c->draw = ebm_calloc(d, sizeof(float), "AIS scratch", err);
        c->perm = ebm_calloc(d, sizeof(int), "AIS scratch", err);
        if (!c->draw || !c->perm) {
            chains_free(c);
            return -1;
        }
    }
    for (int64_t i = 0; i < n; i++) {
        rng_derive(&c->rng[i], seed, RNG_ITEM, first_id + i, 0);
        if (c->base)
            base_sample(c->base, &c->rng[i], c->x + (size_t)i * d, 1);
        else
            rng_fill_uniform(&c->rng[i], c->x + (size_t)i * d, d, p->lo, p->hi);
    }
    if (c->base || c->mix) /* the same base when both are set */
        base_energy_add(c->base ? c->base : c->mix, c->x, (int)n, c->eb, c->gb);
    if (energy_rows(en, c->x, n, c->e, c->g, err)) {
        chains_free(c);
        return -1;
    }
    return 0;
}

/* Folds v into [lo, hi] by reflections off the walls; returns 1 after an odd
 * number of them (the momentum then points the other way). Closed form, so a
 * long jump costs no more than a short one; a non-finite v is left alone (its
 * energy will be non-finite and the move rejected). */
static int reflect(double *v, double lo, double hi)
{
    const double w = hi - lo, t = (*v - lo) / w;
    if (!isfinite(t) || (t >= 0.0 && t <= 1.0))
        return 0;
    const double k = floor(t), r = *v - lo - k * w; /* r in [0, w) */
    const int odd = fmod(k, 2.0) != 0.0;
    *v = odd ? hi - r : lo + r;
    return odd;
}

/* One HMC transition on every chain, leaving exp(-beta E) on the box
 * invariant: momentum p ~ N(0, I), `leapfrog` steps of size eps on
 * H = beta E(x) + |p|^2 / 2 with reflections at the walls, then the
 * Metropolis test on H. All chains of a batch move in step so each leapfrog
 * step is one energy call. */
static int hmc_sweep_base(ais_chains *c, double beta, double eps, int leapfrog, float lo,
                          float hi, double *accepted, double *moved, ebm_err *err);

static int hmc_sweep(ais_chains *c, double beta, double eps, int leapfrog, float lo, float hi,
                     double *accepted, double *moved, ebm_err *err)
{
    if (c->base)
        return hmc_sweep_base(c, beta, eps, leapfrog, lo, hi, accepted, moved, err);
    const size_t d = (size_t)c->d;
    const double half = 0.5 * eps * beta;
    for (int64_t a = 0; a < c->n; a += c->cap) {
        const int nc = (int)(a + c->cap < c->n ? c->cap : c->n - a);
        for (int r = 0; r < nc; r++) {
            const int64_t i = a + r;
            float *xr = c->px + (size_t)r * d;
            double *pr = c->pp + (size_t)r * d;
            rng_fill_normal(&c->rng[i], xr, d, 1.0f);
            c->pu[r] = uniform53(&c->rng[i]);
            double kin = 0.0;
            for (size_t j = 0; j < d; j++) {
                pr[j] = xr[j];
                kin += 0.5 * pr[j] * pr[j];
            }
            c->h0[r] = beta * c->e[i] + kin;
            memcpy(xr, c->x + (size_t)i * d, d * sizeof(float));
            memcpy(c->pg + (size_t)r * d, c->g + (size_t)i * d, d * sizeof(float));
        }
        for (int l = 0; l < leapfrog; l++) {
            const size_t m = (size_t)nc * d;
            for (size_t j = 0; j < m; j++) {
                double p = c->pp[j] - half * c->pg[j];
                double v = (double)c->px[j] + eps * p;
                if (reflect(&v, lo, hi))
                    p = -p;
                c->pp[j] = p;
                c->px[j] = (float)v;
            }
            if (c->en->fn(c->en->ctx, c->px, nc, c->pe, c->pg, err))
                return ebm_trace(err);
            for (size_t j = 0; j < m; j++)
                c->pp[j] -= half * c->pg[j];
        }
        if (c->mix) { /* the base-block moves read E_net = E - E_base */
            memset(c->peb, 0, (size_t)nc * sizeof(double));
            base_energy_add(c->mix, c->px, nc, c->peb, NULL);
        }
        for (int r = 0; r < nc; r++) {
            const int64_t i = a + r;
            const double *pr = c->pp + (size_t)r * d;
            double kin = 0.0;
            for (size_t j = 0; j < d; j++)
                kin += 0.5 * pr[j] * pr[j];
            const double h1 = beta * c->pe[r] + kin;
            if (isfinite(h1) && log(c->pu[r]) < c->h0[r] - h1) {
                double dist2 = 0.0;
                for (size_t j = 0; j < d; j++) {
                    const double dx = (double)c->px[(size_t)r * d + j] - c->x[(size_t)i * d + j];
                    dist2 += dx * dx;
                }
                *moved += sqrt(dist2);
                memcpy(c->x + (size_t)i * d, c->px + (size_t)r * d, d * sizeof(float));
                memcpy(c->g + (size_t)i * d, c->pg + (size_t)r * d, d * sizeof(float));
                c->e[i] = c->pe[r];
                if (c->mix)
                    c->eb[i] = c->peb[r];
                *accepted += 1.0;
            }
        }
    }
    return 0;
}

/* One independence Metropolis-Hastings move per chain on a block of `block`
 * pixels (all when block <= 0 or >= d), chosen at random independently of
 * the state, for the intermediate density
 *   f(z) = base(z)^b exp(-beta E_net(z)),  E_net = E - E_base,
 * b = beta from the uniform box, 1 from the base. The proposal redraws the
 * block exactly from base^b (a product over pixels, so that is its
 * conditional), keeping the other pixels: q(z'|z) = prod_{j in B}
 * base_j^b(z'_j) / Z_j(b), hence the Hastings ratio f(z') q(z|z') / (f(z)
 * q(z'|z)) = exp(-beta (E_net(z') - E_net(z))), and each move leaves f
 * invariant (and is reversible with respect to it: RAISE can use it as its
 * own reversal). One energy call per batch, as a MALA step. */
static int base_block_sweep(ais_chains *c, double beta, int block, double *accepted,
                            double *moved, ebm_err *err)
{
    const size_t d = (size_t)c->d;
    const int nb = block <= 0 || block >= c->d ? c->d : block;
    const double b = c->base ? 1.0 : beta;
    if (c->tempered_at != b) {
        base_temper(c->mix, b, &c->tempered);
        c->tempered_at = b;
    }
    for (int64_t a = 0; a < c->n; a += c->cap) {
        const int nc = (int)(a + c->cap < c->n ? c->cap : c->n - a);
        for (int r = 0; r < nc; r++) {
            const int64_t i = a + r;
            mh_block_propose(&c->tempered, &c->rng[i], c->x + (size_t)i * d, c->d, nb, c->draw,
                             c->perm, c->px + (size_t)r * d);
            c->pu[r] = uniform53(&c->rng[i]);
        }
        if (c->en->fn(c->en->ctx, c->px, nc, c->pe, c->pg, err))
            return ebm_trace(err);
        memset(c->peb, 0, (size_t)nc * sizeof(double));
        if (c->base)
            memset(c->pgb, 0, (size_t)nc * d * sizeof(float));
        base_energy_add(c->mix, c->px, nc, c->peb, c->base ? c->pgb : NULL);
        for (int r = 0; r < nc; r++) {
            const int64_t i = a + r;
            const double dnet = (c->pe[r] - c->peb[r]) - (c->e[i] - c->eb[i]);
            if (isfinite(dnet) && log(c->pu[r]) < -beta * dnet) {
                double dist2 = 0.0;
                for (size_t j = 0; j < d; j++) {
                    const double dx = (double)c->px[(size_t)r * d + j] - c->x[(size_t)i * d + j];
                    dist2 += dx * dx;
                }
                *moved += sqrt(dist2);
                memcpy(c->x + (size_t)i * d, c->px + (size_t)r * d, d * sizeof(float));
                memcpy(c->g + (size_t)i * d, c->pg + (size_t)r * d, d * sizeof(float));
                if (c->base)
                    memcpy(c->gb + (size_t)i * d, c->pgb + (size_t)r * d, d * sizeof(float));
                c->e[i] = c->pe[r];
                c->eb[i] = c->peb[r];
                *accepted += 1.0;
            }
        }
    }
    return 0;
}

/* The block of the b-th base move of a transition: the first redraws every
 * pixel (exact for the base alone, and accepted often at small beta where
 * the base's modes must be mixed), the others base_block pixels (accepted
 * often near beta = 1, where the network's part rejects whole redraws). */
static int move_block(const ais_params *p, int b) { return b == 0 ? 0 : p->base_block; }

/* hmc_sweep from a base density: the same transition on
 * U_beta = (1 - beta) E_base + beta E = E_base + beta (E - E_base). */
static int hmc_sweep_base(ais_chains *c, double beta, double eps, int leapfrog, float lo,
                          float hi, double *accepted, double *moved, ebm_err *err)
{
    const size_t d = (size_t)c->d;
    const double half = 0.5 * eps, wb = 1.0 - beta;
    for (int64_t a = 0; a < c->n; a += c->cap) {
        const int nc = (int)(a + c->cap < c->n ? c->cap : c->n - a);
        for (int r = 0; r < nc; r++) {
            const int64_t i = a + r;
            float *xr = c->px + (size_t)r * d;
            double *pr = c->pp + (size_t)r * d;
            rng_fill_normal(&c->rng[i], xr, d, 1.0f);
            c->pu[r] = uniform53(&c->rng[i]);
            double kin = 0.0;
            for (size_t j = 0; j < d; j++) {
                pr[j] = xr[j];
                kin += 0.5 * pr[j] * pr[j];
            }
            c->h0[r] = beta * c->e[i] + wb * c->eb[i] + kin;
            memcpy(xr, c->x + (size_t)i * d, d * sizeof(float));
            memcpy(c->pg + (size_t)r * d, c->g + (size_t)i * d, d * sizeof(float));
            memcpy(c->pgb + (size_t)r * d, c->gb + (size_t)i * d, d * sizeof(float));
        }
        for (int l = 0; l < leapfrog; l++) {
            const size_t m = (size_t)nc * d;
            for (size_t j = 0; j < m; j++) {
                double p = c->pp[j] - half * (beta * c->pg[j] + wb * c->pgb[j]);
                double v = (double)c->px[j] + eps * p;
                if (reflect(&v, lo, hi))
                    p = -p;
                c->pp[j] = p;
                c->px[j] = (float)v;
            }
            if (c->en->fn(c->en->ctx, c->px, nc, c->pe, c->pg, err))
                return ebm_trace(err);
            memset(c->peb, 0, (size_t)nc * sizeof(double));
            memset(c->pgb, 0, m * sizeof(float));
            base_energy_add(c->base, c->px, nc, c->peb, c->pgb);
            for (size_t j = 0; j < m; j++)
                c->pp[j] -= half * (beta * c->pg[j] + wb * c->pgb[j]);
        }
        for (int r = 0; r < nc; r++) {
            const int64_t i = a + r;
            const double *pr = c->pp + (size_t)r * d;
            double kin = 0.0;
            for (size_t j = 0; j < d; j++)
                kin += 0.5 * pr[j] * pr[j];
            const double h1 = beta * c->pe[r] + wb * c->peb[r] + kin;
            if (isfinite(h1) && log(c->pu[r]) < c->h0[r] - h1) {
                double dist2 = 0.0;
                for (size_t j = 0; j < d; j++) {
                    const double dx = (double)c->px[(size_t)r * d + j] - c->x[(size_t)i * d + j];
                    dist2 += dx * dx;
                }
                *moved += sqrt(dist2);
                memcpy(c->x + (size_t)i * d, c->px + (size_t)r * d, d * sizeof(float));
                memcpy(c->g + (size_t)i * d, c->pg + (size_t)r * d, d * sizeof(float));
                memcpy(c->gb + (size_t)i * d, c->pgb + (size_t)r * d, d * sizeof(float));
                c->e[i] = c->pe[r];
                c->eb[i] = c->peb[r];
                *accepted += 1.0;
            }
        }
    }
    return 0;
}

/* Anneals chains from the uniform box to exp(-E) along beta[0..T]. With
 * adapt, eps[1..T-1] are written: the step used at each temperature, tuned
 * towards the kernel's optimal acceptance from the global acceptance at the
 * previous one (one small collective per temperature). Without, eps is only
 * read: fixed kernels, chosen before this run, keep the weights unbiased.
 * Collective; a failure on one rank is carried by the reductions, so every
 * rank returns -1 together. */
static int anneal(const dist_ctx *ctx, ais_chains *c, const ais_params *p, const double *beta,
                  double *eps, int adapt, int64_t n_global, double *acc_rate, double *move_mean,
                  double *base_rate, ebm_err *err)
{
    const int T = p->n_temps;
    const double width = (double)p->hi - (double)p->lo;
    double log_eps = log(0.5 * width / sqrt((double)c->d));
    double acc_total = 0.0, moved_total = 0.0, base_total = 0.0;
    int failed_any = 0;
    const double target = p->leapfrog > 1 ? AIS_TARGET_ACCEPT_HMC : AIS_TARGET_ACCEPT_MALA;
    for (int t = 1; t <= T; t++) {
        if (p->progress.fn)
            p->progress.fn(p->progress.ctx, adapt ? "pilot" : "annealing", t, T);
        const double db = beta[t] - beta[t - 1];
        if (c->base) /* only the network's part is annealed */
            for (int64_t i = 0; i < c->n; i++)
                c->lw[i] -= db * (c->e[i] - c->eb[i]);
        else
            for (int64_t i = 0; i < c->n; i++)
                c->lw[i] -= db * c->e[i];
        if (t == T)
            break; /* the last weight is in: no transition needed at beta = 1 */
        if (adapt)
            eps[t] = exp(log_eps);
        double acc = 0.0;
        int failed = 0;
        for (int k = 0; k < p->transitions && !failed; k++) {
            /* one transition: the base-block moves, then MALA/HMC (RAISE
             * runs them in the reverse order) */
            for (int b = 0; c->mix && b < p->base_moves && !failed; b++)
                failed = base_block_sweep(c, beta[t], move_block(p, b), &base_total,
                                          &moved_total, err) != 0;
            if (!failed)
                failed = hmc_sweep(c, beta[t], eps[t], p->leapfrog, p->lo, p->hi, &acc,
                                   &moved_total, err) != 0;
        }
        acc_total += acc;
        if (!adapt && failed) {
            failed_any = 1;
            break; /* to the final reduction, which the other ranks will reach */
        }
        if (adapt) {
            /* A failure rides on the acceptance sum: no rank is left waiting
             * in the next temperature's collective. */
            double rate[2] = {acc, failed};
            if (dist_sum_doubles(ctx, rate, 2, err))
                return ebm_trace(err);
            if (rate[1] > 0) {
                if (!failed)
                    ebm_fail(err, "AIS: the energy failed on another rank");
                return -1;
            }
            rate[0] /= (double)n_global * p->transitions;
            log_eps += AIS_ADAPT_GAIN * (rate[0] - target);
            /* Keep the step meaningful: between 1e-6 and 1 box width. */
            const double lo = log(1e-6 * width), hi = log(width);
            log_eps = log_eps < lo ? lo : log_eps > hi ? hi : log_eps;
        }
    }
    double sums[4] = {acc_total, failed_any, moved_total, base_total};
    if (dist_sum_doubles(ctx, sums, 4, err))
        return ebm_trace(err);
    if (sums[1] > 0) {
        if (!failed_any)
            ebm_fail(err, "AIS: the energy failed on another rank");
        return -1;
    }
    const double tries = (double)n_global * p->transitions * (T > 1 ? T - 1 : 1);
    *acc_rate = sums[0] / tries;
    *move_mean = sums[2] / tries;
    *base_rate = c->mix && p->base_moves > 0 ? sums[3] / (tries * p->base_moves) : 0.0;
    return 0;
}

int ais_log_z(const dist_ctx *ctx, const ais_energy *energy, const ais_params *p,
              ais_result *res, ebm_err *err)
{
    return ais_log_z_steps(ctx, energy, p, NULL, res, err);
}

int ais_log_z_steps(const dist_ctx *ctx, const ais_energy *energy, const ais_params *p,
                    double *steps, ais_result *res, ebm_err *err)
{
    memset(res, 0, sizeof *res);
    int rc = 0;
    if (p->n_temps < 1 || p->n_chains < 2 || p->n_pilot < 1 || p->transitions < 1 ||
        p->leapfrog < 1 || !(p->hi > p->lo) || energy->capacity < 1)
        rc = ebm_fail(err,
                      "AIS: needs at least 1 temperature, 2 chains, 1 transition and a box "
                      "with hi > lo (got %d, %lld, %d, [%g, %g])",
                      p->n_temps, (long long)p->n_chains, p->transitions, p->lo, p->hi);
    double *beta = NULL, *eps = NULL, *lw_all = NULL;
    if (rc == 0) {
        beta = ebm_calloc((size_t)p->n_temps + 1, sizeof(double), "AIS schedule", err);
        eps = ebm_calloc((size_t)p->n_temps + 1, sizeof(double), "AIS schedule", err);
        lw_all = ebm_calloc((size_t)p->n_chains, sizeof(double), "AIS weights", err);
        rc = (!beta || !eps || !lw_all) ? -1 : 0;
    }
    /* "|| rc": dist_agree fails whenever rc does; said again for gcc -fanalyzer. */
    if (dist_agree(ctx, rc, err) || rc) {
        free(beta), free(eps), free(lw_all);
        return -1;
    }
    ais_schedule_fill(p->schedule, p->n_temps, beta);
    ais_chains c = {0};
    int64_t off = 0, n = 0;
    double acc = 0.0, move = 0.0, base_acc = 0.0;
    if (rc == 0 && p->energy_base && (p->base_moves < 0 || p->base_block < 0))
        rc = ebm_fail(err, "AIS: base moves %d and block %d must not be negative", p->base_moves,
                      p->base_block);
    rc = dist_agree(ctx, rc, err);

    /* Pilot: a separate, smaller run whose only product is the step sizes. */
    shard_range(p->n_pilot, ctx->size, ctx->rank, &off, &n);
    rc = chains_init(&c, energy, p, n, off, rng_subseed(p->seed, 0x70696c6fULL), err);
    rc = dist_agree(ctx, rc, err);
    if (rc == 0) {
        rc = anneal(ctx, &c, p, beta, eps, 1, p->n_pilot, &acc, &move, &base_acc, err);
        rc = dist_agree(ctx, rc, err);
    }
    chains_free(&c);

    if (rc == 0) {
        shard_range(p->n_chains, ctx->size, ctx->rank, &off, &n);
        rc = chains_init(&c, energy, p, n, off, p->seed, err);
        rc = dist_agree(ctx, rc, err);
    }
    if (rc == 0) {
        rc = anneal(ctx, &c, p, beta, eps, 0, p->n_chains, &acc, &move, &base_acc, err);
        rc = dist_agree(ctx, rc, err);
    }
    if (rc == 0) {
        /* Every rank gets every weight (its own slice, zeros elsewhere, summed):
         * the estimate and its error are then computed identically everywhere. */
        memcpy(lw_all + off, c.lw, (size_t)n * sizeof(double));
        rc = dist_sum_doubles(ctx, lw_all, (size_t)p->n_chains, err);
    }
    if (rc == 0) {
        res->from_base = p->start_base != NULL;
        res->log_z0 = res->from_base ? 0.0 : (double)energy->d * log((double)p->hi - (double)p->lo);
        res->log_z = res->log_z0 + ais_log_mean_exp(lw_all, p->n_chains, &res->log_z_se,
                                                    &res->ess);
        res->acceptance = acc;
        res->move_mean = move;
        res->base_acceptance = base_acc;
        res->base_moves = p->energy_base ? p->base_moves : 0;
        res->base_block = p->base_block;
        res->step_min = res->step_max = p->n_temps > 1 ? eps[1] : 0.0;
        res->step_final = p->n_temps > 1 ? eps[p->n_temps - 1] : 0.0;
        for (int t = 2; t < p->n_temps; t++) {
            res->step_min = eps[t] < res->step_min ? eps[t] : res->step_min;
            res->step_max = eps[t] > res->step_max ? eps[t] : res->step_max;
        }
        res->n_chains = p->n_chains;
        res->n_temps = p->n_temps;
        res->leapfrog = p->leapfrog;
        if (!isfinite(res->log_z))
            rc = ebm_fail(err, "AIS: log Z is not finite (the energy is not finite on the box?)");
    }
    if (rc == 0 && steps) {
        /* RAISE's kernels: the pilot's steps, and at beta = 1 (where AIS
         * makes no transition) the step of the last temperature before it. */
        memcpy(steps, eps, (size_t)p->n_temps * sizeof(double));
        steps[0] = 0.0;
        steps[p->n_temps] = p->n_temps > 1 ? eps[p->n_temps - 1] : eps[0];
    }
    chains_free(&c);
    free(beta), free(eps), free(lw_all);
    return ebm_pass(err, rc);
}

/* ---- RAISE: reverse annealing from given points ----------------------------- */

int ais_raise(const dist_ctx *ctx, const ais_energy *energy, const ais_params *p,
              const double *steps, const float *x, int64_t n, int64_t first_id, int64_t n_global,
              double *logp, ais_raise_stats *st, ebm_err *err)
{
    memset(st, 0, sizeof *st);
    const int T = p->n_temps;
    int rc = 0;
    if (T < 0 || p->transitions < 1 || p->leapfrog < 1 || !(p->hi > p->lo) ||
        energy->capacity < 1)
        rc = ebm_fail(err, "RAISE: needs at least 0 temperatures, 1 transition and a box with "
                           "hi > lo (got %d, %d, [%g, %g])",
                      T, p->transitions, p->lo, p->hi);
    double *beta = NULL;
    if (rc == 0)
        rc = (beta = ebm_calloc((size_t)T + 1, sizeof(double), "RAISE schedule", err)) ? 0 : -1;
    ais_chains c = {0};
    if (rc == 0)
        rc = chains_init(&c, energy, p, n, first_id, p->seed, err);
    if (dist_agree(ctx, rc, err)) {
        free(beta);
        return -1;
    }
    const size_t d = (size_t)energy->d;
    if (T > 0)
        ais_schedule_fill(p->schedule, T, beta);
    /* The chains start at the given points, not uniform draws (their streams
     * are still the chains' own, from chains_init). */
    memcpy(c.x, x, (size_t)n * d * sizeof(float));
    rc = energy_rows(energy, c.x, n, c.e, c.g, err);
    if (rc == 0 && (c.base || c.mix)) { /* the base's part at the given points */
        memset(c.eb, 0, (size_t)n * sizeof(double));
        if (c.base)
            memset(c.gb, 0, (size_t)n * d * sizeof(float));
        base_energy_add(c.base ? c.base : c.mix, c.x, (int)n, c.eb, c.gb);
    }
    double acc = 0.0, moved = 0.0, base_acc = 0.0;
    /* x_T = the point; for k = T..1, x_{k-1} ~ the beta_k kernel from x_k
     * (MALA is reversible, so it is its own reversal), and
     * log w += beta_k (E(x_{k-1}) - E(x_k)); finally the base's log density
     * at x_0. E[w] is the annealing model's density at the point (Burda,
     * Grosse and Salakhutdinov 2015), so E[log w] is at most its log. */
    for (int k = T; k >= 1 && rc == 0; k--) {
        if (p->progress.fn)
            p->progress.fn(p->progress.ctx, "RAISE", T - k + 1, T);
        /* From a base (p->start_base): only the network's part E - E_base
         * is annealed, and the kernels are hmc_sweep's from the base. */
        for (int64_t i = 0; i < n; i++)
            c.lw[i] -= beta[k] * (c.base ? c.e[i] - c.eb[i] : c.e[i]);
        /* AIS's transition in reverse: MALA/HMC, then the base-block moves
         * (each reversible, so the reversed cycle is AIS's kernel's reversal) */
        for (int t = 0; t < p->transitions && rc == 0; t++) {
            rc = hmc_sweep(&c, beta[k], steps[k], p->leapfrog, p->lo, p->hi, &acc, &moved, err);
            for (int b = p->base_moves - 1; c.mix && b >= 0 && rc == 0; b--)
                rc = base_block_sweep(&c, beta[k], move_block(p, b), &base_acc, &moved, err);
        }
        for (int64_t i = 0; i < n && rc == 0; i++)
            c.lw[i] += beta[k] * (c.base ? c.e[i] - c.eb[i] : c.e[i]);
    }
    const double log_z0 =
        c.base ? 0.0 : (double)energy->d * log((double)p->hi - (double)p->lo);
    /* x_0's density under the start: uniform, or the base (log p = -E_base). */
    for (int64_t i = 0; i < n && rc == 0; i++)
        logp[i] = c.lw[i] - (c.base ? c.eb[i] : log_z0);
    double sums[4] = {acc, moved, rc != 0, base_acc};
    int rc2 = dist_sum_doubles(ctx, sums, 4, err);
    if (rc2 == 0 && sums[2] > 0) {
        if (rc == 0)
            ebm_fail(err, "RAISE: the energy failed on another rank");
        rc2 = -1;
    }
    const double tries = (double)n_global * p->transitions * (T > 0 ? T : 1);
    st->acceptance = T > 0 ? sums[0] / tries : 0.0;
    st->move_mean = T > 0 ? sums[1] / tries : 0.0;
    st->base_acceptance =
        T > 0 && c.mix && p->base_moves > 0 ? sums[3] / (tries * p->base_moves) : 0.0;
    st->n_temps = T;
    st->log_z0 = log_z0;
    chains_free(&c);
    free(beta);
    return rc || rc2 ? -1 : 0;
}

int ais_transitions(const ais_energy *energy, const ais_params *p, double beta, double step,
                    int sweeps, float *x, int64_t n, double *base_acceptance, ebm_err *err)
{
    ais_chains c = {0};
    if (chains_init(&c, energy, p, n, 0, p->seed, err))
        return ebm_trace(err);
    const size_t d = (size_t)energy->d;
    memcpy(c.x, x, (size_t)n * d * sizeof(float));
    int rc = energy_rows(energy, c.x, n, c.e, c.g, err);
    if (rc == 0 && (c.mix || c.base)) {
        memset(c.eb, 0, (size_t)n * sizeof(double));
        base_energy_add(c.base ? c.base : c.mix, c.x, (int)n, c.eb, c.gb);
    }
    double acc = 0.0, moved = 0.0, base_acc = 0.0;
    for (int s = 0; s < sweeps && rc == 0; s++) {
        for (int b = 0; c.mix && b < p->base_moves && rc == 0; b++)
            rc = base_block_sweep(&c, beta, move_block(p, b), &base_acc, &moved, err);
        if (rc == 0)
            rc = hmc_sweep(&c, beta, step, p->leapfrog, p->lo, p->hi, &acc, &moved, err);
    }
    if (rc == 0)
        memcpy(x, c.x, (size_t)n * d * sizeof(float));
    if (base_acceptance)
        *base_acceptance = c.mix && p->base_moves > 0 && sweeps > 0 && n > 0
                               ? base_acc / ((double)n * sweeps * p->base_moves)
                               : 0.0;
    chains_free(&c);
    return ebm_pass(err, rc);
}

/* ---- dequantisation ------------------------------------------------------ */

int ais_dequant_init(ais_dequant *q, double value_min, double value_max, const input_map *map,
                     ebm_err *err)
{
    memset(q, 0, sizeof *q);
    const double span = value_max - value_min;
    if (!(span >= 1.0) || span != floor(span) || span > 1e6)
        return ebm_fail(err,
                        "--loglik: the data range [%g, %g] does not hold integer pixel levels "
                        "(value_max - value_min must be a positive integer)",
                        value_min, value_max);
    q->value_min = value_min, q->value_max = value_max;
    q->levels = (int)span + 1;
    q->width = span / q->levels;
    q->map = *map;
    const float a = map->scale * (float)value_min + map->shift;
    const float b = map->scale * (float)value_max + map->shift;
    q->lo = a < b ? a : b;
    q->hi = a < b ? b : a;
    return 0;
}

int ais_dequant_level(const ais_dequant *q, float pixel)
{
    const double k = (double)pixel - q->value_min;
    if (!(k >= 0.0) || k > q->levels - 1 || k != floor(k))
        return -1;
    return (int)k;
}

float ais_dequant_input(const ais_dequant *q, int level, double u)
{
    /* In double, then clamped: float rounding of the map must not step
     * outside the box where the density is zero. */
    const double y = q->value_min + ((double)level + u) * q->width;
    const float z = (float)((double)q->map.scale * y + (double)q->map.shift);
    return z < q->lo ? q->lo : z > q->hi ? q->hi : z;
}

/* ---- the model as an ais_energy ------------------------------------------- */

typedef struct {
    const model_shape *shape;
    const float *params;
    const base_density *base; /* added to the energy when not NULL */
    model_workspace ws;
    float *dlogits; /* [chunk, K] */
} model_energy;

/* E(x) = -LSE f(x); dE/dx = -grad_x LSE f(x) (backward of softmax). */
static int model_energy_fn(void *vctx, const float *x, int n, double *energy, float *grad,
                           ebm_err *err)
{
    (void)err;
    model_energy *me = vctx;
    const int k = me->shape->k;
    /* logits (n,K) = f(x (n,D)) */
    const float *logits = model_forward(me->shape, me->params, &me->ws, x, n);
    for (int i = 0; i < n; i++)
        energy[i] = -(double)model_logsumexp(logits + (size_t)i * k, k);
    if (grad) {
        model_lse_dlogits(n, k, logits, me->dlogits);
        /* grad (n,D) = d sum LSE / dx, through the last forward pass */
        model_backward(me->shape, me->params, &me->ws, x, n, me->dlogits, NULL, grad);
        const size_t m = (size_t)n * me->shape->d;
        for (size_t i = 0; i < m; i++)
            grad[i] = -grad[i];
    }
    if (me->base)
        base_energy_add(me->base, x, n, energy, grad);
    return 0;
}

static int model_energy_init_rows(model_energy *me, const model_shape *shape,
                                  const float *params, const base_density *base, int rows,
                                  ebm_err *err)
{
    memset(me, 0, sizeof *me);
    me->shape = shape;
    me->params = params;
    me->base = base;
    if (model_workspace_init(&me->ws, shape, rows, err))
        return ebm_trace(err);
    me->dlogits = ebm_calloc((size_t)rows * shape->k, sizeof(float), "AIS", err);
    if (!me->dlogits) {
        model_workspace_free(&me->ws);
        return -1;
    }
    return 0;
}

static int model_energy_init(model_energy *me, const ais_model *m, ebm_err *err)
{
    return model_energy_init_rows(me, &m->shape, m->params, m->base, EBM_CHUNK_ROWS, err);
}

static void model_energy_free(model_energy *me)
{
    model_workspace_free(&me->ws);
    free(me->dlogits);
    memset(me, 0, sizeof *me);
}

/* ---- the log-likelihood --------------------------------------------------- */

/* Mean and standard error of the mean of v[0..n). */
static void mean_se(const double *v, int64_t n, double *mean, double *se)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += v[i];
    const double m = s / (double)n;
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++)
        ss += (v[i] - m) * (v[i] - m);
    *mean = m;
    *se = n > 1 ? sqrt(ss / (double)(n - 1) / (double)n) : 0.0;
}

/* Per local example: mean over draws of log p_in(z) (jensen) and their
 * log-mean-exp (iw), both before the log Z and Jacobian terms. */
static int shard_log_density(const ais_energy *en, const ais_dequant *q,
                             const data_shard *shard, double *jensen, double *iw, ebm_err *err)
{
    const int d = shard->d, S = AIS_DEQUANT_DRAWS;
    const int per_call = en->capacity / S > 0 ? en->capacity / S : 1;
    const int rows = per_call * S;
    float *z = ebm_calloc((size_t)rows * d, sizeof(float), "dequantised data", err);
    double *e = ebm_calloc((size_t)rows, sizeof(double), "dequantised data", err);
    int rc = (!z || !e) ? -1 : 0;
    for (int64_t i = 0; rc == 0 && i < shard->n; i++)
        for (int j = 0; j < d; j++) {
            const float v = shard->images[(size_t)i * d + j];
            if (ais_dequant_level(q, v) < 0) {
                rc = ebm_fail(err,
                              "--loglik: pixel %d of example %lld is %g, not an integer level "
                              "in [%g, %g]",
                              j, (long long)(shard->offset + i), (double)v, q->value_min,
                              q->value_max);
                break;
            }
        }
    for (int64_t a = 0; rc == 0 && a < shard->n; a += per_call) {
        const int64_t end = a + per_call < shard->n ? a + per_call : shard->n;
        int r = 0;
        for (int64_t i = a; i < end; i++) {
            const float *px = shard->images + (size_t)i * d;
            /* The example's own stream: its draws do not depend on the ranks. */
            ebm_rng rng;
            rng_derive(&rng, AIS_SEED_DEQUANT, RNG_ITEM, shard->offset + i, 0);
            for (int s = 0; s < S; s++, r++)
                for (int j = 0; j < d; j++)
                    z[(size_t)r * d + j] =
                        ais_dequant_input(q, ais_dequant_level(q, px[j]), uniform53(&rng));
        }
        if (rc == 0)
            rc = energy_rows(en, z, r, e, NULL, err);
        for (int64_t i = a; i < end && rc == 0; i++) {
            const double *ei = e + (size_t)(i - a) * S;
            double lp[AIS_DEQUANT_DRAWS], sum = 0.0;
            for (int s = 0; s < S; s++) {
                lp[s] = -ei[s];
                sum += lp[s];
            }
            jensen[i] = sum / S;
            iw[i] = ais_log_mean_exp(lp, S, NULL, NULL);
        }
    }
    free(z), free(e);
    return ebm_pass(err, rc);
}

/* Collective. The base density's own log-likelihood of the split, exact:
 * mean and SE over examples into res. */
static int base_alone(const dist_ctx *ctx, const base_density *b, const ais_dequant *q,
                      const data_shard *shard, ais_loglik_result *res, ebm_err *err)
{
    const int d = shard->d;
    int *level = ebm_calloc((size_t)d, sizeof(int), "base log-likelihood", err);
    int rc = level ? 0 : -1;
    if (rc == 0 && (b->d != d || b->pieces != q->levels))
        rc = ebm_fail(err, "--loglik: the base density has %d pixels of %d pieces, the data %d "
                           "pixels of %d levels", b->d, b->pieces, d, q->levels);
    double sums[2] = {0.0, 0.0};
    for (int64_t i = 0; rc == 0 && i < shard->n; i++) {
        for (int j = 0; j < d; j++)
            level[j] = ais_dequant_level(q, shard->images[(size_t)i * d + j]);
        const double v = base_cell_log_lik(b, level);
        sums[0] += v, sums[1] += v * v;
    }
    free(level);
    rc = dist_agree(ctx, rc, err);
    if (rc == 0)
        rc = dist_sum_doubles(ctx, sums, 2, err);
    if (rc == 0) {
        const double n = (double)shard->n_total, mean = sums[0] / n;
        const double var = n > 1 ? (sums[1] - n * mean * mean) / (n - 1) : 0.0;
        res->has_base = 1;
        res->logp_base = mean;
        res->logp_base_se_ex = sqrt(var > 0 ? var / n : 0.0);
    }
    return ebm_pass(err, rc);
}

/* Draw 0 of each local example's dequantisation (the first of the draws
 * shard_log_density makes from the same stream) into z (n, d). */
static void shard_first_draw(const ais_dequant *q, const data_shard *shard, float *z)
{
    const int d = shard->d;
    for (int64_t i = 0; i < shard->n; i++) {
        ebm_rng rng;
        rng_derive(&rng, AIS_SEED_DEQUANT, RNG_ITEM, shard->offset + i, 0);
        for (int j = 0; j < d; j++)
            z[(size_t)i * d + j] = ais_dequant_input(
                q, ais_dequant_level(q, shard->images[(size_t)i * d + j]), uniform53(&rng));
    }
}

int ais_loglik_run(const dist_ctx *ctx, const ais_model *m, const data_shard *shard,
                   int n_temps, int64_t n_chains, const ais_progress *progress,
                   ais_loglik_result *res, ebm_err *err)
{
    return ais_loglik_run_from(ctx, m, shard, n_temps, n_chains, 0, progress, res, err);
}

int ais_loglik_run_from(const dist_ctx *ctx, const ais_model *m, const data_shard *shard,
                        int n_temps, int64_t n_chains, int from_base,
                        const ais_progress *progress, ais_loglik_result *res, ebm_err *err)
{
    const double t0 = timer_now();
    memset(res, 0, sizeof *res);
    const int d = m->shape.d;
    ais_dequant q;
    model_energy me;
    memset(&me, 0, sizeof me);
    int rc = ais_dequant_init(&q, m->value_min, m->value_max, &m->map, err);
    if (rc == 0)
        rc = model_energy_init(&me, m, err);
    if (dist_agree(ctx, rc, err)) {
        model_energy_free(&me);
        return -1;
    }
    const ais_energy en = {model_energy_fn, &me, d, EBM_CHUNK_ROWS};
    ais_params p;
    ais_params_default(&p, n_temps, n_chains, q.lo, q.hi, AIS_SEED_LOGZ);
    if (progress)
        p.progress = *progress;
    if (from_base && !m->base)
        rc = ebm_fail(err, "--ais-start base: the checkpoint has no base density (--base pixels)");
    else if (from_base)
        p.start_base = m->base;
    p.energy_base = m->base;
    p.base_moves = AIS_BASE_MOVES;
    p.base_block = AIS_BASE_BLOCK;
    double *steps = NULL;
    if (rc == 0)
        steps = ebm_calloc((size_t)n_temps + 1, sizeof(double), "AIS steps", err);
    rc = dist_agree(ctx, rc == 0 && steps ? 0 : -1, err);
    if (rc == 0)
        rc = ais_log_z_steps(ctx, &en, &p, steps, &res->z, err);

    const int64_t n_total = shard->n_total;
    /* [4][n_total], per example: jensen, iw, RAISE and AIS on draw 0, all ranks */
    double *all = NULL;
    float *z0 = NULL;
    double *raise_lp = NULL;
    if (rc == 0) {
        all = ebm_calloc((size_t)(n_total > 0 ? n_total : 1) * 4, sizeof(double), "log-lik", err);
        z0 = ebm_calloc((size_t)(shard->n > 0 ? shard->n : 1) * d, sizeof(float), "RAISE", err);
        raise_lp = ebm_calloc((size_t)(shard->n > 0 ? shard->n : 1), sizeof(double), "RAISE",
                              err);
        rc = all && z0 && raise_lp ? 0 : -1;
        if (rc == 0)
            rc = shard_log_density(&en, &q, shard, all + shard->offset,
                                   all + n_total + shard->offset, err);
        rc = dist_agree(ctx, rc, err);
    }
    if (rc == 0) {
        /* RAISE from each example's first dequantised draw, with the AIS
         * pilot's kernels (fixed before either run). */
        shard_first_draw(&q, shard, z0);
        ais_params rp = p;
        rp.seed = AIS_SEED_RAISE;
        /* RAISE starts where AIS does: the uniform box, or with
         * --ais-start base the base density (then a figure that does not
         * move falls towards the base's own score). */
        rc = ais_raise(ctx, &en, &rp, steps, z0, shard->n, shard->offset, n_total, raise_lp,
                       &res->raise, err);
    }
    if (rc == 0) {
        /* The paired AIS figure on the same draw: -E(z0) - log Z_hat. */
        double *e0 = ebm_calloc((size_t)(shard->n > 0 ? shard->n : 1), sizeof(double), "RAISE",
                                err);
        rc = e0 ? energy_rows(&en, z0, shard->n, e0, NULL, err) : -1;
        for (int64_t i = 0; rc == 0 && i < shard->n; i++) {
            all[2 * n_total + shard->offset + i] = raise_lp[i];
            all[3 * n_total + shard->offset + i] = -e0[i] - res->z.log_z;
        }
        free(e0);
        rc = dist_agree(ctx, rc, err);
    }
    if (rc == 0)
        rc = dist_sum_doubles(ctx, all, (size_t)n_total * 4, err);
    if (rc == 0 && n_total < 1)
        rc = ebm_fail(err, "--loglik: the split has no examples");
    if (rc == 0) {
        /* log p_data(y) = log p_in(z) + d log|scale|;
         * log P(levels) >= E_u log p_data(y) + d log(cell width). */
        res->n = n_total, res->d = d, res->levels = q.levels, res->draws = AIS_DEQUANT_DRAWS;
        res->cell_width = q.width;
        res->log_jacobian = d * log(fabs((double)m->map.scale));
        const double log_cells = d * log(q.width);
        double mj, sj, mi, si;
        mean_se(all, n_total, &mj, &sj);
        mean_se(all + n_total, n_total, &mi, &si);
        const double shift = -res->z.log_z + res->log_jacobian;
        res->logp_cont = mj + shift;
        res->logp_cont_se_ex = sj;
        res->logp_disc = mj + shift + log_cells;
        res->logp_disc_se_ex = sj;
        res->logp_disc_se = sqrt(sj * sj + res->z.log_z_se * res->z.log_z_se);
        res->logp_iw = mi + shift + log_cells;
        res->logp_iw_se_ex = si;
        res->bits_per_dim = -res->logp_disc / (d * log(2.0));
        res->bits_per_dim_se = res->logp_disc_se / (d * log(2.0));
        /* RAISE: E_u over one draw per example, the same bound's form. */
        double mr, sr;
        mean_se(all + 2 * n_total, n_total, &mr, &sr);
        res->logp_raise = mr + res->log_jacobian + log_cells;
        res->logp_raise_se = sr;
        /* gap = AIS - RAISE on the same draws, paired over examples */
        for (int64_t i = 0; i < n_total; i++)
            all[3 * n_total + i] -= all[2 * n_total + i];
        mean_se(all + 3 * n_total, n_total, &res->gap, &res->gap_se);
        res->logp_judged = res->logp_raise < res->logp_disc ? res->logp_raise : res->logp_disc;
    }
    if (rc == 0 && m->base)
        rc = base_alone(ctx, m->base, &q, shard, res, err);
    free(all), free(z0), free(raise_lp), free(steps);
    model_energy_free(&me);
    res->seconds = timer_now() - t0;
    return ebm_pass(err, rc);
}

int ais_loglik_choose_steps(const dist_ctx *ctx, const ais_model *m, const data_shard *val,
                            int start, int cap, int64_t n_chains, const ais_progress *progress,
                            FILE *out, ais_loglik_result *last, int *chosen, int *converged,
                            ebm_err *err)
{
    *chosen = start, *converged = 0;
    ais_loglik_result prev;
    memset(&prev, 0, sizeof prev);
    if (out)
        fprintf(out,
                "  choosing the number of temperatures on the validation split: double T from "
                "%d until AIS and RAISE both move by less than %.0f nat/image (at most %d)\n",
                start, AIS_AUTO_TOLERANCE, cap);
    for (int t = start;; t *= 2) {
        if (t > cap)
            t = cap;
        if (ais_loglik_run(ctx, m, val, t, n_chains, progress, last, err))
            return ebm_trace(err);
        if (out) {
            fprintf(out,
                    "    T %6d: AIS %.2f, RAISE %.2f, gap %.2f nats/image; log Z %.3f +- %.3f, "
                    "ESS %.1f of %lld; acceptance %.3f (RAISE %.3f), mean move %.3g (RAISE "
                    "%.3g); %.1f s\n",
                    t, last->logp_disc, last->logp_raise, last->gap, last->z.log_z,
                    last->z.log_z_se, last->z.ess, (long long)last->z.n_chains,
                    last->z.acceptance, last->raise.acceptance, last->z.move_mean,
                    last->raise.move_mean, last->seconds);
            fflush(out);
        }
        *chosen = t;
        if (t > start && fabs(last->logp_disc - prev.logp_disc) < AIS_AUTO_TOLERANCE &&
            fabs(last->logp_raise - prev.logp_raise) < AIS_AUTO_TOLERANCE) {
            *converged = 1;
            break;
        }
        if (t >= cap)
            break;
        prev = *last;
    }
    if (out) {
        if (*converged)
            fprintf(out, "    chosen: T = %d\n", *chosen);
        else
            fprintf(out,
                    "    warning: not settled at the cap T = %d: the figures below are not "
                    "converged (AIS optimistic, RAISE pessimistic; docs/loglik.md)\n",
                    *chosen);
        fflush(out);
    }
    return 0;
}

void ais_loglik_print(FILE *out, const ais_loglik_result *r)
{
    const ais_result *z = &r->z;
    char kernel[64];
    if (z->leapfrog == 1)
        snprintf(kernel, sizeof kernel, "MALA reflected at the walls");
    else
        snprintf(kernel, sizeof kernel, "HMC, %d leapfrog steps, reflected at the walls",
                 z->leapfrog);
    fprintf(out,
            "  log-likelihood (AIS: %d temperatures, sigmoid schedule, %lld chains, %s; "
            "%.1f s)\n",
            z->n_temps, (long long)z->n_chains, kernel, r->seconds);
    fprintf(out,
            "    log Z = %.3f +- %.3f (input space; %s %.3f; ESS %.1f of %lld; "
            "acceptance %.3f; step %.3g at beta=1, %.3g..%.3g over the schedule)\n",
            z->log_z, z->log_z_se,
            z->from_base ? "annealed from the base density, its log Z" : "uniform base",
            z->log_z0, z->ess, (long long)z->n_chains, z->acceptance,
            z->step_final, z->step_min, z->step_max);
    /* The delta method reads the spread of the weights it has; when a few
     * chains carry them all, the chains missed mass that no weight shows. */
    const double n = (double)z->n_chains;
    if (z->ess < 0.1 * n || z->ess < (n / 2 < 10.0 ? n / 2 : 10.0))
        fprintf(out,
                "    warning: ESS %.1f of %lld: a few chains carry the estimate, so log Z is "
                "probably low and its error larger than shown; raise --ais-steps until log Z "
                "stops moving (docs/loglik.md)\n",
                z->ess, (long long)z->n_chains);
    fprintf(out,
            "    %lld examples, %d levels per pixel dequantised to cells of %.4f, %d draws "
            "each\n",
            (long long)r->n, r->levels, r->cell_width, r->draws);
    fprintf(out, "    mean move per transition %.3g (L2, input space)\n", z->move_mean);
    if (z->base_moves > 0) {
        char blk[48];
        if (z->base_moves > 1 && z->base_block > 0 && z->base_block < r->d)
            snprintf(blk, sizeof blk, "all pixels, then %d pixels", z->base_block);
        else
            snprintf(blk, sizeof blk, "all pixels");
        fprintf(out,
                "    base-block moves (independence MH from the tempered base, %s): %d per "
                "transition, acceptance %.3f (RAISE %.3f)\n",
                blk, z->base_moves, z->base_acceptance, r->raise.base_acceptance);
    }
    fprintf(out, "    log p(x) = %.2f +- %.2f nats/image (+- %.2f examples, +- %.2f log Z)\n",
            r->logp_disc, r->logp_disc_se, r->logp_disc_se_ex, z->log_z_se);
    fprintf(out, "             = %.4f +- %.4f bits/dim (negative log-likelihood)\n",
            r->bits_per_dim, r->bits_per_dim_se);
    fprintf(out,
            "    importance-weighted bound (%d draws) %.2f nats/image; continuous density of "
            "the dequantised data %.2f nats/image (data units)\n",
            r->draws, r->logp_iw, r->logp_cont);
    if (r->has_base)
        fprintf(out,
                "    the base density alone (independent pixels, exact): %.2f +- %.2f "
                "nats/image; the network adds %.2f\n",
                r->logp_base, r->logp_base_se_ex, r->logp_disc - r->logp_base);
    fprintf(out,
            "  RAISE (reverse annealing from each example's first dequantised draw, %s "
            "base, %d temperatures, the pilot's MALA steps):\n"
            "    log p(x) >= %.2f +- %.2f nats/image (stochastic lower bound for the annealing "
            "model); acceptance %.3f, mean move per transition %.3g\n"
            "    gap AIS - RAISE on the same draws: %.2f +- %.2f nats/image\n",
            r->z.from_base ? "the base density as" : "uniform", r->raise.n_temps, r->logp_raise,
            r->logp_raise_se, r->raise.acceptance, r->raise.move_mean, r->gap, r->gap_se);
    fprintf(out, "  %s log-likelihood (the lower of AIS and RAISE): %.2f nats/image, %.4f "
                 "bits/dim\n",
            r->z.from_base ? "from the base density (not the judged figure, which starts "
                             "uniform), the"
                           : "judged",
            r->logp_judged, -r->logp_judged / (r->d * log(2.0)));
    fflush(out);
}


/* ---- the transition as training's kernel ---------------------------------- */

struct ais_kernel {
    ais_params p; /* the box, energy_base and its block moves; one leapfrog step */
    model_energy me;
    ais_energy en;
    ais_chains c; /* capacity rows, reused by every draw */
    int sweeps;
    double eps;   /* the leapfrog step: MALA's eta = eps^2 / 2 */
    double adapt_gain;
    ais_kernel_stats stats;
};

int ais_kernel_init(ais_kernel **out, const ais_kernel_params *kp, const model_shape *shape,
                    const float *params, int capacity, ebm_err *err)
{
    *out = NULL;
    if (!kp->base)
        return ebm_fail(err, "the kernel's block moves need a base density (--base pixels)");
    if (kp->base->d != shape->d)
        return ebm_fail(err, "the kernel's base density has %d pixels, the model %d",
                        kp->base->d, shape->d);
    ais_kernel *k = ebm_calloc(1, sizeof *k, "training kernel", err);
    if (!k)
        return -1;
    ais_params_default(&k->p, 1, 2, kp->lo, kp->hi, 0);
    k->p.energy_base = kp->base;
    k->p.base_moves = kp->base_moves;
    k->p.base_block = kp->base_block;
    k->sweeps = kp->sweeps;
    /* eta = eps^2 / 2: the same MALA as the Langevin step eta */
    k->eps = sqrt(2.0 * kp->step_size);
    k->adapt_gain = kp->adapt_gain;
    k->stats.eta = kp->step_size;
    /* the energy the evaluation measures: E = -LSE f + E_base */
    if (model_energy_init_rows(&k->me, shape, params, kp->base, capacity, err)) {
        free(k);
        return -1;
    }
    k->en = (ais_energy){model_energy_fn, &k->me, shape->d, capacity};
    if (chains_init(&k->c, &k->en, &k->p, capacity, 0, 0, err)) {
        model_energy_free(&k->me);
        free(k);
        return -1;
    }
    *out = k;
    return 0;
}

void ais_kernel_free(ais_kernel *k)
{
    if (!k)
        return;
    chains_free(&k->c);
    model_energy_free(&k->me);
    free(k);
}

const ais_kernel_stats *ais_kernel_get_stats(const ais_kernel *k) { return &k->stats; }

void ais_kernel_set(ais_kernel *k, int sweeps, double adapt_gain)
{
    k->sweeps = sweeps;
    k->adapt_gain = adapt_gain;
}

double ais_kernel_step(const ais_kernel *k) { return k->eps; }

void ais_kernel_set_step(ais_kernel *k, double step)
{
    k->eps = step;
    k->stats.eta = 0.5 * step * step;
}

int ais_kernel_run(ais_kernel *k, const float *params, ebm_rng *rng, int n, float *x,
                   ebm_err *err)
{
    ais_chains *c = &k->c;
    const size_t d = (size_t)c->d;
    k->me.params = params;
    c->n = n;
    const float lo = k->p.lo, hi = k->p.hi;
    const size_t m = (size_t)n * d;
    for (size_t j = 0; j < m; j++) /* the box holds the density; chains start in it */
        c->x[j] = x[j] < lo ? lo : x[j] > hi ? hi : x[j];
    /* each draw's chains their own streams, from the caller's */
    const uint64_t seed = rng_next(rng);
    for (int i = 0; i < n; i++)
        rng_derive(&c->rng[i], seed, RNG_ITEM, (uint64_t)i, 0);
    int rc = energy_rows(&k->en, c->x, n, c->e, c->g, err);
    if (rc == 0) {
        memset(c->eb, 0, (size_t)n * sizeof(double));
        base_energy_add(c->mix, c->x, n, c->eb, NULL);
    }
    double acc = 0.0, moved = 0.0, base_acc = 0.0;
    for (int s = 0; s < k->sweeps && rc == 0; s++) {
        for (int b = 0; b < k->p.base_moves && rc == 0; b++)
            rc = base_block_sweep(c, 1.0, move_block(&k->p, b), &base_acc, &moved, err);
        if (rc == 0)
            rc = hmc_sweep(c, 1.0, k->eps, 1, lo, hi, &acc, &moved, err);
    }
    if (rc)
        return ebm_trace(err);
    memcpy(x, c->x, m * sizeof(float));
    const double tries = (double)n * k->sweeps;
    k->stats.mala_proposed += tries, k->stats.mala_accepted += acc;
    k->stats.block_proposed += tries * k->p.base_moves, k->stats.block_accepted += base_acc;
    k->stats.moved += moved, k->stats.transitions += tries;
    /* Between draws only: within a draw the kernel is fixed, hence exact. */
    if (tries > 0 && k->adapt_gain > 0)
        k->eps *= exp(0.5 * k->adapt_gain * (acc / tries - AIS_TARGET_ACCEPT_MALA));
    k->stats.eta = 0.5 * k->eps * k->eps;
    return 0;
}
