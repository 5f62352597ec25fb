/* langevin.c: Langevin sampling: fresh chains, or this rank's persistent ones. */
#include "ebm/langevin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "num/vmath.h"

int langevin_gauss_fit(const dist_ctx *ctx, const float *images, const int32_t *labels,
                       int64_t n, int d, int k, float scale, float shift, langevin_gauss *g,
                       ebm_err *err)
{
    memset(g, 0, sizeof *g);
    const size_t dd = (size_t)d * d, per = 1 + (size_t)d + dd;
    double *sums = ebm_calloc((size_t)k * per, sizeof(double), "chain-init Gaussians", err);
    double *row = ebm_calloc((size_t)d, sizeof(double), "chain-init Gaussians", err);
    g->cum = ebm_calloc((size_t)k, sizeof(double), "chain-init Gaussians", err);
    g->mean = ebm_calloc((size_t)k * d, sizeof(float), "chain-init Gaussians", err);
    g->chol = ebm_calloc((size_t)k * dd, sizeof(float), "chain-init Gaussians", err);
    int rc = (!sums || !row || !g->cum || !g->mean || !g->chol) ? -1 : 0;
    /* Per class: count, sum x, sum x x^T (upper triangle), in double. */
    for (int64_t i = 0; rc == 0 && i < n; i++) {
        double *s = sums + (size_t)labels[i] * per;
        for (int j = 0; j < d; j++)
            row[j] = (double)scale * images[(size_t)i * d + j] + shift;
        s[0] += 1;
        for (int j = 0; j < d; j++) {
            s[1 + j] += row[j];
            double *c = s + 1 + d + (size_t)j * d;
            for (int l = j; l < d; l++)
                c[l] += row[j] * row[l];
        }
    }
    rc = dist_agree(ctx, rc, err);
    if (rc == 0)
        rc = dist_sum_doubles(ctx, sums, (size_t)k * per, err);
    double total = 0;
    for (int c = 0; rc == 0 && c < k; c++)
        total += sums[(size_t)c * per];
    /* Same arithmetic on every rank: every rank holds the same g. */
    double acc = 0;
    for (int c = 0; rc == 0 && c < k; c++) {
        const double *s = sums + (size_t)c * per;
        const double cnt = s[0];
        acc += cnt;
        g->cum[c] = total > 0 ? acc / total : (double)(c + 1) / k;
        double *cov = ebm_calloc(dd, sizeof(double), "chain-init Gaussians", err);
        if (!cov) {
            rc = -1;
            break;
        }
        for (int j = 0; j < d; j++)
            row[j] = cnt > 0 ? s[1 + j] / cnt : 0.0;
        for (int j = 0; j < d; j++)
            for (int l = j; l < d; l++) {
                double v = cnt > 1 ? (s[1 + d + (size_t)j * d + l] - cnt * row[j] * row[l]) /
                                         (cnt - 1)
                                   : 0.0;
                cov[(size_t)j * d + l] = cov[(size_t)l * d + j] = v;
            }
        for (int j = 0; j < d; j++) {
            cov[(size_t)j * d + j] += LANGEVIN_GAUSS_RIDGE;
            g->mean[(size_t)c * d + j] = (float)row[j];
        }
        /* Cholesky in place (lower triangle); the ridge keeps it positive. */
        for (int j = 0; j < d && rc == 0; j++) {
            double v = cov[(size_t)j * d + j];
            for (int l = 0; l < j; l++)
                v -= cov[(size_t)j * d + l] * cov[(size_t)j * d + l];
            if (!(v > 0)) {
                rc = ebm_fail(err, "--chain-init 1: the covariance of class %d is not "
                                   "positive definite",
                              c);
                break;
            }
            const double djj = sqrt(v);
            cov[(size_t)j * d + j] = djj;
            for (int i = j + 1; i < d; i++) {
                double w = cov[(size_t)i * d + j];
                for (int l = 0; l < j; l++)
                    w -= cov[(size_t)i * d + l] * cov[(size_t)j * d + l];
                cov[(size_t)i * d + j] = w / djj;
            }
        }
        float *L = g->chol + (size_t)c * dd;
        for (int i = 0; i < d; i++)
            for (int j = 0; j <= i; j++)
                L[(size_t)i * d + j] = (float)cov[(size_t)i * d + j];
        free(cov);
    }
    if (rc == 0)
        g->cum[k - 1] = 1.0;
    g->d = d, g->k = k;
    free(sums);
    free(row);
    if (rc)
        langevin_gauss_free(g);
    return rc;
}

void langevin_gauss_free(langevin_gauss *g)
{
    free(g->cum);
    free(g->mean);
    free(g->chol);
    memset(g, 0, sizeof *g);
}

/* n rows of x (n, d) from where chains start: U[-1,1], or the Gaussians
 * (then z goes through the noise scratch, one row at a time). */
static void start_chains(langevin_sampler *s, ebm_rng *rng, float *x, int64_t n)
{
    const size_t d = (size_t)s->d;
    const langevin_gauss *g = s->p.start;
    if (s->p.base && s->p.start_base) {
        base_sample(s->p.base, rng, x, n);
        return;
    }
    if (!g) {
        rng_fill_uniform(rng, x, (size_t)n * d, -1.0f, 1.0f);
        return;
    }
    float *z = s->noise;
    for (int64_t i = 0; i < n; i++) {
        const double u = rng_uniform(rng);
        int c = 0;
        while (c < g->k - 1 && u >= g->cum[c])
            c++;
        rng_fill_normal(rng, z, d, 1.0f);
        const float *m = g->mean + (size_t)c * d, *L = g->chol + (size_t)c * d * d;
        float *row = x + (size_t)i * d;
        for (size_t j = 0; j < d; j++) {
            float v = m[j];
            for (size_t l = 0; l <= j; l++)
                v += L[j * d + l] * z[l];
            if (s->p.clamp)
                v = v < s->p.lo ? s->p.lo : v > s->p.hi ? s->p.hi : v;
            row[j] = v;
        }
    }
}

void langevin_start(langevin_sampler *s, ebm_rng *rng, int n, float *x)
{
    start_chains(s, rng, x, n);
}

int langevin_init(langevin_sampler *s, const langevin_params *p, int d, int k, int capacity,
                  int64_t n_chains, int64_t first_chain, ebm_rng *rng, ebm_err *err)
{
    memset(s, 0, sizeof *s);
    s->p = *p;
    s->d = d, s->k = k, s->capacity = capacity;
    s->n_chains = n_chains, s->first_chain = first_chain;
    const size_t cap = (size_t)(capacity > 0 ? capacity : 1);
    s->chains = ebm_calloc((size_t)n_chains * d, sizeof(float), "Langevin chains", err);
    s->picked = ebm_calloc(cap, sizeof(int64_t), "Langevin scratch", err);
    s->grad = ebm_calloc(cap * d, sizeof(float), "Langevin scratch", err);
    s->noise = ebm_calloc(cap * d, sizeof(float), "Langevin scratch", err);
    s->dlogits = ebm_calloc(cap * k, sizeof(float), "Langevin scratch", err);
    if (!s->chains || !s->picked || !s->grad || !s->noise || !s->dlogits) {
        langevin_free(s);
        return -1;
    }
    start_chains(s, rng, s->chains, n_chains);
    return 0;
}

void langevin_free(langevin_sampler *s)
{
    free(s->chains);
    free(s->picked);
    free(s->grad);
    free(s->noise);
    free(s->dlogits);
    memset(s, 0, sizeof *s);
}

/* x (m) <- (x + eta grad) + noise, then into [lo, hi] when clamping: one
 * pass, branch-free selects so it vectorises (NaN stays NaN). */
EBM_VECTOR_CLONES
static void langevin_update(float *x, const float *grad, const float *noise, size_t m,
                            float eta, int clamp, float lo, float hi)
{
    if (clamp)
        for (size_t i = 0; i < m; i++) {
            float v = (x[i] + eta * grad[i]) + noise[i];
            v = vm_select(v < lo, lo, v);
            x[i] = vm_select(v > hi, hi, v);
        }
    else
        for (size_t i = 0; i < m; i++)
            x[i] = (x[i] + eta * grad[i]) + noise[i];
}

/* The model as a target: grad_x LSE f(x), or grad_x f(x)[k] with a target
 * class (the class-conditional energy -f(x)[k]). */
typedef struct {
    langevin_sampler *s;
    const model_shape *shape;
    const float *params;
    model_workspace *ws;
} model_target;

static void model_grad_log_density(void *data, const float *x, int n, float *grad)
{
    model_target *mt = data;
    langevin_sampler *s = mt->s;
    const float *logits = model_forward(mt->shape, mt->params, mt->ws, x, n);
    if (s->p.target_class < 0) {
        model_lse_dlogits(n, s->k, logits, s->dlogits);
    } else {
        memset(s->dlogits, 0, (size_t)n * s->k * sizeof(float));
        for (int i = 0; i < n; i++)
            s->dlogits[(size_t)i * s->k + s->p.target_class] = 1.0f;
    }
    model_backward(mt->shape, mt->params, mt->ws, x, n, s->dlogits, NULL, grad);
    if (s->p.base)
        base_grad_log_add(s->p.base, x, n, grad);
}

void langevin_run(langevin_sampler *s, const langevin_target *target, ebm_rng *rng, int n,
                  float *x)
{
    const size_t m = (size_t)n * s->d;
    const float lo = s->p.lo, hi = s->p.hi;
    const double gamma = s->p.step_decay > 0 ? s->p.step_decay : 1.0;
    double scale = 1.0; /* gamma^t: annealed steps, noise tied to the step */
    for (int t = 0; t < s->p.steps; t++) {
        const float eta = (float)(s->p.step_size * scale);
        const float sigma = gamma == 1.0 ? s->p.noise : (float)(s->p.noise * sqrt(scale));
        target->grad_log_density(target->data, x, n, s->grad);
        rng_fill_normal(rng, s->noise, m, sigma);
        langevin_update(x, s->grad, s->noise, m, eta, s->p.clamp, lo, hi);
        scale *= gamma;
    }
    /* A chain that left the floats is worthless and would poison the buffer:
     * start it again (NaN fails every comparison, so test isfinite). */
    for (int i = 0; i < n; i++) {
        float *row = x + (size_t)i * s->d;
        int finite = 1;
        for (int j = 0; j < s->d; j++)
            finite &= isfinite(row[j]) != 0;
        if (!finite) {
            start_chains(s, rng, row, 1);
            s->restarted_nonfinite++;
        }
    }
}

/* Runs the chains x (n, d) on the model, in place. */
static void run_chains(langevin_sampler *s, const model_shape *shape, const float *params,
                       model_workspace *ws, ebm_rng *rng, int n, float *x)
{
    if (s->runner.fn) {
        s->runner.fn(s->runner.data, shape, params, ws, rng, n, x);
        return;
    }
    model_target mt = {s, shape, params, ws};
    const langevin_target target = {model_grad_log_density, &mt};
    langevin_run(s, &target, rng, n, x);
}

void langevin_draw_fresh(langevin_sampler *s, const model_shape *shape, const float *params,
                         model_workspace *ws, ebm_rng *rng, int n, float *out)
{
    start_chains(s, rng, out, n);
    run_chains(s, shape, params, ws, rng, n, out);
}

void langevin_continue(langevin_sampler *s, const model_shape *shape, const float *params,
                       model_workspace *ws, ebm_rng *rng, int n, float *x)
{
    run_chains(s, shape, params, ws, rng, n, x);
}

void langevin_draw(langevin_sampler *s, const model_shape *shape, const float *params,
                   model_workspace *ws, ebm_rng *rng, int n, float *out)
{
    if (s->n_chains == 0) {
        langevin_draw_fresh(s, shape, params, ws, rng, n, out);
        return;
    }
    const size_t d = (size_t)s->d;
    for (int i = 0; i < n; i++) {
        s->picked[i] = (int64_t)rng_below(rng, (uint64_t)s->n_chains);
        float *row = out + i * d;
        if (rng_uniform(rng) < s->p.reinit)
            start_chains(s, rng, row, 1);
        else
            memcpy(row, s->chains + s->picked[i] * d, d * sizeof(float));
    }
    run_chains(s, shape, params, ws, rng, n, out);
    for (int i = 0; i < n; i++)
        memcpy(s->chains + s->picked[i] * d, out + i * d, d * sizeof(float));
}


/* ---- kernels for a density restricted to a box ---------------------------- */

int langevin_box_init(langevin_box *b, const langevin_box_params *p, int d, int capacity,
                      ebm_err *err)
{
    memset(b, 0, sizeof *b);
    b->p = *p;
    b->d = d, b->capacity = capacity;
    const size_t cap = (size_t)(capacity > 0 ? capacity : 1), m = cap * d;
    b->logp = ebm_calloc(cap, sizeof(float), "sampler scratch", err);
    b->grad = ebm_calloc(m, sizeof(float), "sampler scratch", err);
    b->y = ebm_calloc(m, sizeof(float), "sampler scratch", err);
    b->logp_y = ebm_calloc(cap, sizeof(float), "sampler scratch", err);
    b->grad_y = ebm_calloc(m, sizeof(float), "sampler scratch", err);
    b->noise = ebm_calloc(m, sizeof(float), "sampler scratch", err);
    b->eta = ebm_calloc(cap, sizeof(double), "sampler scratch", err);
    if (!b->logp || !b->grad || !b->y || !b->logp_y || !b->grad_y || !b->noise || !b->eta) {
        langevin_box_free(b);
        return -1;
    }
    return 0;
}

void langevin_box_free(langevin_box *b)
{
    free(b->logp), free(b->grad), free(b->y), free(b->logp_y), free(b->grad_y);
    free(b->noise), free(b->eta);
    memset(b, 0, sizeof *b);
}

/* v folded into [lo, hi] by reflection at the faces (period 2 (hi - lo));
 * NaN stays NaN. */
static float reflect(float v, float lo, float hi)
{
    if (v >= lo && v <= hi)
        return v;
    const double w = (double)hi - lo, period = 2.0 * w;
    double u = fmod((double)v - lo, period);
    if (u < 0)
        u += period;
    if (u > w)
        u = period - u;
    return (float)(lo + u);
}

double langevin_mala_log_ratio(int d, double eta, const float *x, double logp_x,
                               const float *grad_x, const float *y, double logp_y,
                               const float *grad_y)
{
    /* log q(b | a) = -|b - a - eta grad(a)|^2 / (4 eta) + const. */
    double fwd = 0, bwd = 0;
    for (int j = 0; j < d; j++) {
        const double f = (double)y[j] - x[j] - eta * grad_x[j];
        const double r = (double)x[j] - y[j] - eta * grad_y[j];
        fwd += f * f, bwd += r * r;
    }
    return (logp_y - logp_x) + (fwd - bwd) / (4.0 * eta);
}

static int row_finite(const float *row, int d)
{
    int finite = 1;
    for (int j = 0; j < d; j++)
        finite &= isfinite(row[j]) != 0;
    return finite;
}

void langevin_box_run(langevin_box *b, const langevin_density *target, ebm_rng *rng, int n,
                      float *x)
{
    const int d = b->d;
    const size_t m = (size_t)n * d;
    const float lo = b->p.lo, hi = b->p.hi;
    const int mala = b->p.kind == LANGEVIN_MALA;
    for (size_t i = 0; i < m; i++)
        x[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
    for (int i = 0; i < n; i++)
        b->eta[i] = b->p.step_size;
    if (mala && b->p.steps > 0)
        target->log_density(target->data, x, n, b->logp, b->grad);
    for (int t = 0; t < b->p.steps; t++) {
        const int adapting = mala && t < b->p.adapt_steps;
        if (!mala)
            target->log_density(target->data, x, n, b->logp, b->grad);
        rng_fill_normal(rng, b->noise, m, 1.0f);
        for (int i = 0; i < n; i++) {
            const double eta = b->eta[i], sigma = sqrt(2.0 * eta);
            const float *xi = x + (size_t)i * d, *gi = b->grad + (size_t)i * d;
            const float *ei = b->noise + (size_t)i * d;
            float *yi = (mala ? b->y : x) + (size_t)i * d;
            for (int j = 0; j < d; j++) {
                const float v = (float)(xi[j] + eta * gi[j] + sigma * ei[j]);
                yi[j] = mala ? v : reflect(v, lo, hi);
            }
        }
        if (!mala)
            continue;
        target->log_density(target->data, b->y, n, b->logp_y, b->grad_y);
        for (int i = 0; i < n; i++) {
            float *xi = x + (size_t)i * d, *gi = b->grad + (size_t)i * d;
            const float *yi = b->y + (size_t)i * d, *gyi = b->grad_y + (size_t)i * d;
            int inside = 1;
            for (int j = 0; j < d; j++)
                inside &= (yi[j] >= lo) & (yi[j] <= hi);
            double log_ratio = -INFINITY;
            if (!inside)
                b->stats.outside++;
            else if (isfinite(b->logp_y[i]) && row_finite(gyi, d))
                log_ratio = langevin_mala_log_ratio(d, b->eta[i], xi, b->logp[i], gi, yi,
                                                    b->logp_y[i], gyi);
            if (!(log_ratio == log_ratio)) /* NaN: a state the floats lost */
                log_ratio = -INFINITY;
            const double accept_p = log_ratio >= 0 ? 1.0 : exp(log_ratio);
            /* u in (0, 1]: accept_p = 0 never accepts, 1 always does. */
            const double u = 1.0 - rng_uniform(rng);
            const int accepted = u <= accept_p;
            if (accepted) {
                memcpy(xi, yi, (size_t)d * sizeof(float));
                memcpy(gi, gyi, (size_t)d * sizeof(float));
                b->logp[i] = b->logp_y[i];
            }
            if (adapting) {
                b->stats.proposed_adapt++, b->stats.accepted_adapt += accepted;
                const double gain = pow(t + 1.0, -0.6);
                b->eta[i] *= exp(gain * (accept_p - b->p.target_accept));
            } else {
                b->stats.proposed++, b->stats.accepted += accepted;
            }
        }
    }
    if (!mala)
        b->stats.proposed += (int64_t)n * b->p.steps;
    /* ULA can leave the floats on a steep energy (MALA cannot: it only
     * moves to finite states): start such a chain again, uniform in the box. */
    for (int i = 0; i < n; i++) {
        float *row = x + (size_t)i * d;
        if (!row_finite(row, d)) {
            rng_fill_uniform(rng, row, (size_t)d, lo, hi);
            b->stats.restarted_nonfinite++;
        }
        b->stats.eta_sum += b->eta[i];
    }
    b->stats.chains += n;
}

void langevin_model_log_density(void *data, const float *x, int n, float *logp, float *grad)
{
    langevin_model_density *md = data;
    const int k = md->shape->k;
    const float *logits = model_forward(md->shape, md->params, md->ws, x, n);
    for (int i = 0; i < n; i++) {
        const float *row = logits + (size_t)i * k;
        logp[i] = md->target_class < 0 ? model_logsumexp(row, k) : row[md->target_class];
    }
    if (md->target_class < 0) {
        model_lse_dlogits(n, k, logits, md->dlogits);
    } else {
        memset(md->dlogits, 0, (size_t)n * k * sizeof(float));
        for (int i = 0; i < n; i++)
            md->dlogits[(size_t)i * k + md->target_class] = 1.0f;
    }
    model_backward(md->shape, md->params, md->ws, x, n, md->dlogits, NULL, grad);
    if (md->base)
        base_log_density_add(md->base, x, n, logp, grad);
}
