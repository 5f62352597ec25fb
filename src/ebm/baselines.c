/* baselines.c: classical models of integer-level images for eval --loglik
 * (docs/loglik.md section 6). Everything in double; the data are small (the
 * digits: 1257 training images of 64 pixels), so every rank fits the same
 * models from the whole training split and scores its own shard. */
#include "ebm/baselines.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int baseline_levels_from(const float *images, int64_t n, int d, double value_min, int levels,
                         const char *what, baseline_levels *out, ebm_err *err)
{
    memset(out, 0, sizeof *out);
    if (levels < 2 || levels > 256)
        return ebm_fail(err, "baselines: %d pixel levels (need 2..256)", levels);
    out->level = ebm_calloc((size_t)(n > 0 ? n : 1) * (size_t)d, 1, "baseline levels", err);
    if (!out->level)
        return -1;
    out->n = n, out->d = d;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            const double k = (double)images[(size_t)i * d + j] - value_min;
            if (!(k >= 0.0) || k > levels - 1 || k != floor(k)) {
                baseline_levels_free(out);
                return ebm_fail(err,
                                "baselines: pixel %d of %s example %lld is %g, not one of the "
                                "%d integer levels from %g",
                                j, what, (long long)i, (double)images[(size_t)i * d + j], levels,
                                value_min);
            }
            out->level[(size_t)i * d + j] = (uint8_t)k;
        }
    return 0;
}

void baseline_levels_free(baseline_levels *l)
{
    free(l->level);
    memset(l, 0, sizeof *l);
}

void baseline_models_free(baseline_models *m)
{
    free(m->indep_logp), free(m->gauss_mean), free(m->gauss_chol);
    free(m->mix_logpi), free(m->mix_logtheta);
    memset(m, 0, sizeof *m);
}

/* splitmix64 (Steele, Lea, Flood 2014): a fixed, published mixing function. */
static uint64_t splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

int baseline_mix_init_component(int start, int64_t i)
{
    return (int)(splitmix64(((uint64_t)start << 32) | (uint64_t)i) % BASELINE_MIX_K);
}

/* In-place lower Cholesky factor of the symmetric positive definite a (n, n);
 * -1 when a pivot is not positive. A 64 x 64 factor once per eval: Debian's
 * OpenBLAS ships no LAPACKE header, and this is 20 lines. */
static int cholesky(double *a, int n)
{
    for (int j = 0; j < n; j++) {
        double s = a[(size_t)j * n + j];
        for (int k = 0; k < j; k++)
            s -= a[(size_t)j * n + k] * a[(size_t)j * n + k];
        if (!(s > 0.0))
            return -1;
        const double ljj = sqrt(s);
        a[(size_t)j * n + j] = ljj;
        for (int i = j + 1; i < n; i++) {
            double t = a[(size_t)i * n + j];
            for (int k = 0; k < j; k++)
                t -= a[(size_t)i * n + k] * a[(size_t)j * n + k];
            a[(size_t)i * n + j] = t / ljj;
        }
        for (int k = j + 1; k < n; k++)
            a[(size_t)j * n + k] = 0.0;
    }
    return 0;
}

/* Solves l v = r (l lower triangular) in place in v. */
static void forward_solve(const double *l, int n, double *v)
{
    for (int i = 0; i < n; i++) {
        double s = v[i];
        for (int k = 0; k < i; k++)
            s -= l[(size_t)i * n + k] * v[k];
        v[i] = s / l[(size_t)i * n + i];
    }
}

static double centre(const baseline_models *m, int level)
{
    return m->value_min + (level + 0.5) * m->width;
}

static int fit_gauss(const baseline_levels *tr, baseline_models *m, ebm_err *err)
{
    const int d = tr->d;
    const int64_t n = tr->n;
    m->gauss_mean = ebm_calloc((size_t)d, sizeof(double), "Gaussian baseline", err);
    m->gauss_chol = ebm_calloc((size_t)d * d, sizeof(double), "Gaussian baseline", err);
    double *v = ebm_calloc((size_t)d, sizeof(double), "Gaussian baseline", err);
    if (!m->gauss_mean || !m->gauss_chol || !v) {
        free(v);
        return -1;
    }
    /* The moments of the dequantised training data y = centre + (u - 1/2) w:
     * mean of the centres; covariance of the centres (1/n) plus w^2/12 on the
     * diagonal (u independent of the level): the maximum-likelihood Gaussian
     * of the dequantised split with the u draws integrated out. */
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            m->gauss_mean[j] += centre(m, tr->level[(size_t)i * d + j]);
    for (int j = 0; j < d; j++)
        m->gauss_mean[j] /= (double)n;
    double *c = m->gauss_chol;
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < d; j++)
            v[j] = centre(m, tr->level[(size_t)i * d + j]) - m->gauss_mean[j];
        for (int a = 0; a < d; a++)
            for (int b = 0; b <= a; b++)
                c[(size_t)a * d + b] += v[a] * v[b];
    }
    for (int a = 0; a < d; a++) {
        for (int b = 0; b <= a; b++) {
            c[(size_t)a * d + b] /= (double)n;
            c[(size_t)b * d + a] = c[(size_t)a * d + b];
        }
        c[(size_t)a * d + a] += m->width * m->width / 12.0;
    }
    int rc = cholesky(c, d);
    if (rc)
        rc = ebm_fail(err, "baselines: the Gaussian's covariance is not positive definite");
    if (rc == 0) {
        m->gauss_logdet = 0.0;
        for (int j = 0; j < d; j++)
            m->gauss_logdet += 2.0 * log(c[(size_t)j * d + j]);
        /* trace(S^-1) = |L^-1|_F^2, column by column. */
        m->gauss_trace_inv = 0.0;
        for (int j = 0; j < d; j++) {
            memset(v, 0, (size_t)d * sizeof(double));
            v[j] = 1.0;
            forward_solve(c, d, v);
            for (int a = 0; a < d; a++)
                m->gauss_trace_inv += v[a] * v[a];
        }
    }
    free(v);
    return rc;
}

static double log_sum_exp(const double *a, int n)
{
    if (n <= 0)
        return -INFINITY; /* the empty sum */
    double mx = -INFINITY;
    for (int i = 0; i < n; i++)
        mx = a[i] > mx ? a[i] : mx;
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += exp(a[i] - mx);
    /* s >= 1: the largest term is exp(0) (n >= 1; cppcheck assumes the loop may not run). */
    // cppcheck-suppress invalidFunctionArg
    return mx + log(s);
}

/* M step: theta with +1 per level, pi with +1 per component. */
static void mix_mstep(const baseline_levels *tr, const double *resp, int levels, double *logpi,
                      double *logtheta)
{
    const int d = tr->d, K = BASELINE_MIX_K;
    const size_t cells = (size_t)K * d * levels;
    for (size_t i = 0; i < cells; i++)
        logtheta[i] = 1.0; /* the pseudo-count, then the counts added */
    double nk[BASELINE_MIX_K] = {0};
    for (int64_t i = 0; i < tr->n; i++)
        for (int k = 0; k < K; k++) {
            const double r = resp[(size_t)i * K + k];
            nk[k] += r;
            double *t = logtheta + (size_t)k * d * levels;
            for (int j = 0; j < d; j++)
                t[(size_t)j * levels + tr->level[(size_t)i * d + j]] += r;
        }
    for (int k = 0; k < K; k++) {
        logpi[k] = log((nk[k] + 1.0) / ((double)tr->n + K));
        const double denom = log(nk[k] + levels);
        for (size_t c = 0; c < (size_t)d * levels; c++)
            logtheta[(size_t)k * d * levels + c] = log(logtheta[(size_t)k * d * levels + c]) - denom;
    }
}

/* Joint log p(x, k) of one image for every component into a[K]; returns the
 * image's log p(x). */
static double mix_joint(const double *logpi, const double *logtheta, int d, int levels,
                        const uint8_t *level, double *a)
{
    for (int k = 0; k < BASELINE_MIX_K; k++) {
        const double *t = logtheta + (size_t)k * d * levels;
        double s = logpi[k];
        for (int j = 0; j < d; j++)
            s += t[(size_t)j * levels + level[j]];
        a[k] = s;
    }
    return log_sum_exp(a, BASELINE_MIX_K);
}

static int fit_mix(const baseline_levels *tr, const baseline_levels *val, baseline_models *m,
                   ebm_err *err)
{
    const int d = tr->d, K = BASELINE_MIX_K, L = m->levels;
    const size_t cells = (size_t)K * d * L;
    double *resp = ebm_calloc((size_t)tr->n * K, sizeof(double), "mixture baseline", err);
    double *logpi = ebm_calloc(K, sizeof(double), "mixture baseline", err);
    double *logtheta = ebm_calloc(cells, sizeof(double), "mixture baseline", err);
    m->mix_logpi = ebm_calloc(K, sizeof(double), "mixture baseline", err);
    m->mix_logtheta = ebm_calloc(cells, sizeof(double), "mixture baseline", err);
    if (!resp || !logpi || !logtheta || !m->mix_logpi || !m->mix_logtheta) {
        free(resp), free(logpi), free(logtheta);
        return -1;
    }
    double best = -INFINITY;
    for (int s = 0; s < BASELINE_MIX_STARTS; s++) {
        memset(resp, 0, (size_t)tr->n * K * sizeof(double));
        for (int64_t i = 0; i < tr->n; i++)
            resp[(size_t)i * K + baseline_mix_init_component(s, i)] = 1.0;
        for (int it = 0; it < BASELINE_MIX_ITERS; it++) {
            mix_mstep(tr, resp, L, logpi, logtheta);
            for (int64_t i = 0; i < tr->n; i++) {
                double *a = resp + (size_t)i * K;
                const double lp = mix_joint(logpi, logtheta, d, L, tr->level + (size_t)i * d, a);
                for (int k = 0; k < K; k++)
                    a[k] = exp(a[k] - lp);
            }
        }
        mix_mstep(tr, resp, L, logpi, logtheta);
        double a[BASELINE_MIX_K], sum = 0.0;
        for (int64_t i = 0; i < val->n; i++)
            sum += mix_joint(logpi, logtheta, d, L, val->level + (size_t)i * d, a);
        m->mix_val[s] = sum / (double)val->n;
        if (m->mix_val[s] > best) {
            best = m->mix_val[s];
            m->mix_start = s;
            memcpy(m->mix_logpi, logpi, K * sizeof(double));
            memcpy(m->mix_logtheta, logtheta, cells * sizeof(double));
        }
    }
    free(resp), free(logpi), free(logtheta);
    return 0;
}

int baseline_fit(const baseline_levels *train, const baseline_levels *val, double value_min,
                 double value_max, baseline_models *m, ebm_err *err)
{
    memset(m, 0, sizeof *m);
    const int d = train->d;
    if (train->n < 2 || val->n < 1 || val->d != d)
        return ebm_fail(err,
                        "baselines: need at least 2 training and 1 validation image of the "
                        "same size (got %lld and %lld)",
                        (long long)train->n, (long long)val->n);
    m->d = d;
    m->levels = (int)(value_max - value_min) + 1;
    m->value_min = value_min;
    m->width = (value_max - value_min) / m->levels;
    const int L = m->levels;
    m->indep_logp = ebm_calloc((size_t)d * L, sizeof(double), "independent-pixel baseline", err);
    if (!m->indep_logp)
        return -1;
    for (size_t c = 0; c < (size_t)d * L; c++)
        m->indep_logp[c] = 1.0; /* Laplace: +1 per level */
    for (int64_t i = 0; i < train->n; i++)
        for (int j = 0; j < d; j++)
            m->indep_logp[(size_t)j * L + train->level[(size_t)i * d + j]] += 1.0;
    for (size_t c = 0; c < (size_t)d * L; c++)
        m->indep_logp[c] = log(m->indep_logp[c] / ((double)train->n + L));
    int rc = fit_gauss(train, m, err);
    if (rc == 0)
        rc = fit_mix(train, val, m, err);
    if (rc)
        baseline_models_free(m);
    return rc;
}

double baseline_uniform_logp(const baseline_models *m) { return -m->d * log((double)m->levels); }

double baseline_indep_logp(const baseline_models *m, const uint8_t *level)
{
    double s = 0.0;
    for (int j = 0; j < m->d; j++)
        s += m->indep_logp[(size_t)j * m->levels + level[j]];
    return s;
}

double baseline_gauss_logp(const baseline_models *m, const uint8_t *level)
{
    /* E_u log N(c + (u - 1/2) w; mu, S) = log N(c; mu, S) - (w^2/24) tr(S^-1),
     * since u - 1/2 has mean 0 and variance 1/12 in each pixel, independently. */
    const int d = m->d;
    double v[256], q = 0.0;
    double *vv = d <= 256 ? v : malloc((size_t)d * sizeof(double));
    if (!vv)
        return NAN;
    for (int j = 0; j < d; j++)
        vv[j] = centre(m, level[j]) - m->gauss_mean[j];
    forward_solve(m->gauss_chol, d, vv);
    for (int j = 0; j < d; j++)
        q += vv[j] * vv[j];
    if (vv != v)
        free(vv);
    const double log_n = -0.5 * q - 0.5 * d * log(2.0 * 3.14159265358979323846) - 0.5 * m->gauss_logdet;
    return log_n - m->width * m->width / 24.0 * m->gauss_trace_inv + d * log(m->width);
}

double baseline_mix_logp(const baseline_models *m, const uint8_t *level)
{
    double a[BASELINE_MIX_K];
    return mix_joint(m->mix_logpi, m->mix_logtheta, m->d, m->levels, level, a);
}

int baseline_score(const dist_ctx *ctx, const baseline_models *m, const baseline_levels *shard,
                   int64_t offset, int64_t n_total, baseline_result *r, ebm_err *err)
{
    memset(r, 0, sizeof *r);
    const size_t n = (size_t)(n_total > 0 ? n_total : 1);
    /* [model][example]: this rank's slice filled, zeros elsewhere, summed. */
    double *all = ebm_calloc(n * BASELINE_COUNT, sizeof(double), "baseline scores", err);
    int rc = dist_agree(ctx, all ? 0 : -1, err);
    if (rc) {
        free(all);
        return -1;
    }
    for (int64_t i = 0; i < shard->n; i++) {
        const uint8_t *lv = shard->level + (size_t)i * shard->d;
        all[0 * n + (size_t)(offset + i)] = baseline_uniform_logp(m);
        all[1 * n + (size_t)(offset + i)] = baseline_indep_logp(m, lv);
        all[2 * n + (size_t)(offset + i)] = baseline_gauss_logp(m, lv);
        all[3 * n + (size_t)(offset + i)] = baseline_mix_logp(m, lv);
    }
    rc = dist_sum_doubles(ctx, all, n * BASELINE_COUNT, err);
    if (rc == 0) {
        r->n = n_total;
        for (int b = 0; b < BASELINE_COUNT; b++) {
            double s = 0.0, ss = 0.0;
            for (size_t i = 0; i < (size_t)n_total; i++)
                s += all[b * n + i];
            const double mean = s / (double)n_total;
            for (size_t i = 0; i < (size_t)n_total; i++)
                ss += (all[b * n + i] - mean) * (all[b * n + i] - mean);
            r->mean[b] = mean;
            r->se[b] = n_total > 1 ? sqrt(ss / (double)(n_total - 1) / (double)n_total) : 0.0;
        }
        r->mix_start = m->mix_start;
        memcpy(r->mix_val, m->mix_val, sizeof r->mix_val);
    }
    free(all);
    return ebm_pass(err, rc);
}

void baseline_print(FILE *out, const baseline_result *r, int d, int levels, const char *split)
{
    static const char *const names[BASELINE_COUNT] = {
        "uniform over the levels",
        "independent pixels (training histograms, +1 per level)",
        "one Gaussian, full covariance (dequantised training split; exact E_u bound)",
        "mixture of 10 independent-pixel models (EM, best of 3 starts by validation)",
    };
    fprintf(out, "  classical models on the %s split (%lld images, nats/image of the %d levels):\n",
            split, (long long)r->n, levels);
    for (int b = 0; b < BASELINE_COUNT; b++)
        fprintf(out, "    baseline %-7s %9.3f +- %.3f  %.4f bits/dim  %s\n",
                b == 0 ? "uniform" : b == 1 ? "indep" : b == 2 ? "gauss" : "mixture",
                r->mean[b], r->se[b], -r->mean[b] / (d * log(2.0)), names[b]);
    fprintf(out,
            "    mixture: start %d kept (validation %.3f, %.3f, %.3f nats/image for starts 0, 1, "
            "2; initial assignment splitmix64((start << 32) | i) mod 10, %d EM iterations)\n",
            r->mix_start, r->mix_val[0], r->mix_val[1], r->mix_val[2], BASELINE_MIX_ITERS);
}
