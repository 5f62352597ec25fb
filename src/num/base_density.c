/* base_density.c: the independent-pixel base density with piecewise-linear
 * log-densities (base_density.h). */
#include "num/base_density.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Newton's stopping rule and its guards. */
#define FIT_MAX_ITER 200
#define FIT_TOL 1e-11 /* on the gradient of the mean objective */

double base_piece_log_mass(double a0, double a1, double h)
{
    const double dd = a1 - a0;
    if (dd == 0.0)
        return log(h) + a0;
    /* integral = h e^max (1 - e^-|dd|) / |dd|; -expm1 keeps small |dd| exact. */
    const double x = fabs(dd), top = a0 > a1 ? a0 : a1;
    return log(h) + top + log(-expm1(-x)) - log(x);
}

int base_alloc(base_density *b, int d, int pieces, float lo, float hi, ebm_err *err)
{
    memset(b, 0, sizeof *b);
    if (d < 1 || pieces < 1 || !(hi > lo))
        return ebm_fail(err, "base density: invalid shape (%d pixels, %d pieces, box [%g, %g])",
                        d, pieces, (double)lo, (double)hi);
    b->d = d, b->pieces = pieces, b->lo = lo, b->hi = hi;
    b->log_p = ebm_calloc((size_t)d * (pieces + 1), sizeof(double), "base density", err);
    b->cum = ebm_calloc((size_t)d * pieces, sizeof(double), "base density", err);
    if (!b->log_p || !b->cum) {
        base_free(b);
        return -1;
    }
    /* Uniform until set: log(1 / (hi - lo)) everywhere. */
    for (int j = 0; j < d; j++) {
        for (int k = 0; k <= pieces; k++)
            b->log_p[(size_t)j * (pieces + 1) + k] = -log((double)hi - (double)lo);
        for (int k = 0; k < pieces; k++)
            b->cum[(size_t)j * pieces + k] = (double)(k + 1) / pieces;
    }
    return 0;
}

void base_free(base_density *b)
{
    free(b->log_p);
    free(b->cum);
    memset(b, 0, sizeof *b);
}

static double piece_width(const base_density *b)
{
    return ((double)b->hi - (double)b->lo) / b->pieces;
}

/* log Z of unnormalised knot values a[pieces + 1] (log-sum-exp of the pieces). */
static double log_z_of(const double *a, int pieces, double h)
{
    double top = -INFINITY;
    for (int k = 0; k < pieces; k++) {
        const double m = base_piece_log_mass(a[k], a[k + 1], h);
        top = m > top ? m : top;
    }
    double s = 0.0;
    for (int k = 0; k < pieces; k++)
        s += exp(base_piece_log_mass(a[k], a[k + 1], h) - top);
    /* s >= 1: the largest term is exp(0) (pieces >= 1; cppcheck assumes the loop may not run). */
    // cppcheck-suppress invalidFunctionArg
    return top + log(s);
}

double base_set_pixel(base_density *b, int j, const double *a)
{
    const int P = b->pieces;
    const double h = piece_width(b);
    const double lz = log_z_of(a, P, h);
    double *lp = b->log_p + (size_t)j * (P + 1), *cum = b->cum + (size_t)j * P;
    for (int k = 0; k <= P; k++)
        lp[k] = a[k] - lz;
    double acc = 0.0;
    for (int k = 0; k < P; k++) {
        acc += exp(base_piece_log_mass(lp[k], lp[k + 1], h));
        cum[k] = acc;
    }
    for (int k = 0; k < P; k++) /* the masses sum to 1 up to rounding: make it exact */
        cum[k] /= acc;
    cum[P - 1] = 1.0;
    return lz;
}

/* 20-point Gauss-Legendre on [0, 1]: the moments of a piece for Newton's
 * gradient and Hessian (the likelihood itself uses the closed form). */
static const double GL_X[10] = {0.0765265211334973, 0.2277858511416451, 0.3737060887154195,
                                0.5108670019508271, 0.6360536807265150, 0.7463319064601508,
                                0.8391169718222188, 0.9122344282513259, 0.9639719272779138,
                                0.9931285991850949};
static const double GL_W[10] = {0.1527533871307258, 0.1491729864726037, 0.1420961093183820,
                                0.1316886384491766, 0.1181945319615184, 0.1019301198172404,
                                0.0832767415767048, 0.0626720483341091, 0.0406014298003869,
                                0.0176140071391521};

/* Mean objective of one pixel at a: sum_l c_l (a_l + a_{l+1}) / 2 / N - log Z. */
static double objective(const double *a, const double *c, double n, int P, double h)
{
    double s = 0.0;
    for (int l = 0; l < P; l++)
        s += c[l] * 0.5 * (a[l] + a[l + 1]);
    return s / n - log_z_of(a, P, h);
}

/* Solves (H) x = g in place (H symmetric positive definite, m x m) by
 * Cholesky; returns -1 if H is not positive definite. */
static int cholesky_solve(double *H, double *g, int m)
{
    for (int j = 0; j < m; j++) {
        double v = H[j * m + j];
        for (int l = 0; l < j; l++)
            v -= H[j * m + l] * H[j * m + l];
        if (!(v > 0))
            return -1;
        const double djj = sqrt(v);
        H[j * m + j] = djj;
        for (int i = j + 1; i < m; i++) {
            double w = H[i * m + j];
            for (int l = 0; l < j; l++)
                w -= H[i * m + l] * H[j * m + l];
            H[i * m + j] = w / djj;
        }
    }
    for (int i = 0; i < m; i++) { /* L y = g */
        double v = g[i];
        for (int l = 0; l < i; l++)
            v -= H[i * m + l] * g[l];
        g[i] = v / H[i * m + i];
    }
    for (int i = m - 1; i >= 0; i--) { /* L^T x = y */
        double v = g[i];
        for (int l = i + 1; l < m; l++)
            v -= H[l * m + i] * g[l];
        g[i] = v / H[i * m + i];
    }
    return 0;
}

static int fit_pixel(const double *c, int P, double h, double *a, double *work)
{
    const int m = P + 1;
    double n = 0.0;
    for (int l = 0; l < P; l++)
        n += c[l];
    double *g = work, *H = work + m, *e1 = work + m + (size_t)m * m, *step = e1 + m;
    /* Start: the histogram's log-density at every knot (mean of the cells
     * it borders), a point where every piece has mass. */
    for (int k = 0; k <= P; k++) {
        const double left = k > 0 ? c[k - 1] : c[0], right = k < P ? c[k] : c[P - 1];
        a[k] = log(0.5 * (left + right) / (n * h));
    }
    double f = objective(a, c, n, P, h);
    for (int it = 0; it < FIT_MAX_ITER; it++) {
        const double lz = log_z_of(a, P, h);
        memset(g, 0, (size_t)m * sizeof(double));
        memset(H, 0, (size_t)m * m * sizeof(double));
        memset(e1, 0, (size_t)m * sizeof(double));
        /* E[phi] and E[phi phi^T] under p, piece by piece (phi: hat functions). */
        for (int k = 0; k < P; k++) {
            const double dd = a[k + 1] - a[k], base = exp(a[k] - lz) * h;
            double m0 = 0, m1 = 0, m2 = 0;
            for (int q = 0; q < 10; q++)
                for (int sgn = -1; sgn <= 1; sgn += 2) {
                    const double t = 0.5 + 0.5 * sgn * GL_X[q], w = 0.5 * GL_W[q];
                    const double e = w * exp(dd * t);
                    m0 += e, m1 += e * t, m2 += e * t * t;
                }
            m0 *= base, m1 *= base, m2 *= base;
            e1[k] += m0 - m1, e1[k + 1] += m1;
            H[k * m + k] += m0 - 2 * m1 + m2;
            H[(k + 1) * m + k + 1] += m2;
            H[k * m + k + 1] += m1 - m2;
            H[(k + 1) * m + k] += m1 - m2;
        }
        double gmax = 0.0;
        for (int k = 0; k <= P; k++) {
            double lin = 0.0;
            if (k > 0)
                lin += 0.5 * c[k - 1];
            if (k < P)
                lin += 0.5 * c[k];
            g[k] = lin / n - e1[k];
            gmax = fabs(g[k]) > gmax ? fabs(g[k]) : gmax;
        }
        if (gmax < FIT_TOL)
            break;
        /* Covariance of phi, plus a ridge for the shift that changes nothing. */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
                H[i * m + j] -= e1[i] * e1[j];
        for (int i = 0; i < m; i++)
            H[i * m + i] += 1e-10;
        memcpy(step, g, (size_t)m * sizeof(double));
        if (cholesky_solve(H, step, m))
            return -1;
        /* Backtracking: the objective is concave, a full step is usually taken. */
        double t = 1.0, f_new = f;
        double *trial = H; /* H is consumed; reuse its storage */
        for (int tries = 0; tries < 40; tries++, t *= 0.5) {
            for (int k = 0; k <= P; k++)
                trial[k] = a[k] + t * step[k];
            f_new = objective(trial, c, n, P, h);
            if (f_new >= f)
                break;
        }
        if (!(f_new >= f))
            break; /* no ascent left at float precision */
        memcpy(a, trial, (size_t)m * sizeof(double));
        f = f_new;
    }
    return 0;
}

int base_fit(base_density *b, const double *counts, double prior, ebm_err *err)
{
    const int P = b->pieces, m = P + 1;
    const double h = piece_width(b);
    double *c = ebm_calloc((size_t)P, sizeof(double), "base density fit", err);
    double *a = ebm_calloc((size_t)m, sizeof(double), "base density fit", err);
    double *work = ebm_calloc((size_t)m * (m + 3), sizeof(double), "base density fit", err);
    int rc = (!c || !a || !work) ? -1 : 0;
    for (int j = 0; rc == 0 && j < b->d; j++) {
        for (int l = 0; l < P; l++) {
            c[l] = counts[(size_t)j * P + l] + prior;
            if (!(c[l] >= 0) || !isfinite(c[l]))
                rc = ebm_fail(err, "base density: count %g of pixel %d level %d", c[l], j, l);
        }
        double n = 0.0;
        for (int l = 0; l < P; l++)
            n += c[l];
        if (rc == 0 && !(n > 0))
            rc = ebm_fail(err, "base density: pixel %d has no images and no prior", j);
        if (rc == 0 && fit_pixel(c, P, h, a, work))
            rc = ebm_fail(err, "base density: the fit of pixel %d failed", j);
        for (int k = 0; rc == 0 && k <= P; k++)
            if (!isfinite(a[k]))
                rc = ebm_fail(err, "base density: pixel %d's fit is not finite", j);
        if (rc == 0)
            base_set_pixel(b, j, a);
    }
    free(c), free(a), free(work);
    return rc;
}

/* Pixel j's piece index and position inside it for input value z. */
static inline int locate(const base_density *b, double z, double inv_h, double *t)
{
    const double s = (z - (double)b->lo) * inv_h;
    int k = (int)floor(s);
    k = k < 0 ? 0 : k > b->pieces - 1 ? b->pieces - 1 : k;
    *t = s - k;
    return k;
}

/* One image's base energy -sum_j log p_j(x_j); its gradient added to grad
 * (if not NULL). */
static double row_energy(const base_density *b, const float *x, double inv_h, float *grad)
{
    const int P = b->pieces;
    double e = 0.0;
    for (int j = 0; j < b->d; j++) {
        const double *lp = b->log_p + (size_t)j * (P + 1);
        double t;
        const int k = locate(b, x[j], inv_h, &t);
        const double slope = lp[k + 1] - lp[k];
        e -= lp[k] + slope * t;
        if (grad)
            grad[j] -= (float)(slope * inv_h);
    }
    return e;
}

void base_energy_add(const base_density *b, const float *x, int n, double *energy, float *grad)
{
    const size_t d = (size_t)b->d;
    const double inv_h = 1.0 / piece_width(b);
    for (int i = 0; i < n; i++) {
        const double e = row_energy(b, x + i * d, inv_h, grad ? grad + i * d : NULL);
        if (energy)
            energy[i] += e;
    }
}

void base_energy_addf(const base_density *b, const float *x, int n, float *energy, float *grad)
{
    const size_t d = (size_t)b->d;
    const double inv_h = 1.0 / piece_width(b);
    for (int i = 0; i < n; i++) {
        const double e = row_energy(b, x + i * d, inv_h, grad ? grad + i * d : NULL);
        if (energy)
            energy[i] += (float)e;
    }
}

void base_log_density_add(const base_density *b, const float *x, int n, float *logp,
                          float *grad)
{
    const int d = b->d, P = b->pieces;
    const double inv_h = 1.0 / piece_width(b);
    for (int i = 0; i < n; i++) {
        double lp_sum = 0.0;
        for (int j = 0; j < d; j++) {
            const double *lp = b->log_p + (size_t)j * (P + 1);
            double t;
            const int k = locate(b, x[(size_t)i * d + j], inv_h, &t);
            const double slope = lp[k + 1] - lp[k];
            lp_sum += lp[k] + slope * t;
            if (grad)
                grad[(size_t)i * d + j] += (float)(slope * inv_h);
        }
        if (logp)
            logp[i] += (float)lp_sum;
    }
}

void base_grad_log_add(const base_density *b, const float *x, int n, float *g)
{
    const int d = b->d, P = b->pieces;
    const double inv_h = 1.0 / piece_width(b);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            const double *lp = b->log_p + (size_t)j * (P + 1);
            double t;
            const int k = locate(b, x[(size_t)i * d + j], inv_h, &t);
            g[(size_t)i * d + j] += (float)((lp[k + 1] - lp[k]) * inv_h);
        }
}

void base_temper(const base_density *src, double beta, base_density *dst)
{
    const int P = src->pieces;
    for (int j = 0; j < src->d; j++) {
        double *row = dst->log_p + (size_t)j * (P + 1);
        const double *from = src->log_p + (size_t)j * (P + 1);
        for (int k = 0; k <= P; k++)
            row[k] = beta * from[k];
        base_set_pixel(dst, j, row); /* renormalises in place */
    }
}

void base_sample(const base_density *b, ebm_rng *rng, float *x, int64_t n)
{
    const int d = b->d, P = b->pieces;
    const double h = piece_width(b);
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            const double *cum = b->cum + (size_t)j * P, *lp = b->log_p + (size_t)j * (P + 1);
            const double u = rng_uniform(rng);
            int k = 0;
            while (k < P - 1 && u >= cum[k])
                k++;
            /* Inside the piece: density proportional to exp(dd t), t in [0, 1). */
            const double v = rng_uniform(rng), dd = lp[k + 1] - lp[k];
            double t = fabs(dd) < 1e-12 ? v : log1p(v * expm1(dd)) / dd;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double z = (double)b->lo + (k + t) * h;
            z = z < b->lo ? b->lo : z > b->hi ? b->hi : z;
            x[(size_t)i * d + j] = (float)z;
        }
}

double base_cell_log_lik(const base_density *b, const int *level)
{
    const int d = b->d, P = b->pieces;
    const double h = piece_width(b);
    double s = 0.0;
    for (int j = 0; j < d; j++) {
        const double *lp = b->log_p + (size_t)j * (P + 1);
        s += 0.5 * (lp[level[j]] + lp[level[j] + 1]) + log(h);
    }
    return s;
}
