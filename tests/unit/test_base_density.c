/* test_base_density.c: the independent-pixel base density (num/base_density.h)
 * against references computed here by other means: fine numerical
 * integration (its normaliser, its cell means, the fit's moment conditions),
 * central finite differences (its gradient) and the empirical distribution of
 * its samples. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "core/rng.h"
#include "num/base_density.h"

/* Composite Simpson on [a, b] with n (even) intervals of f(z) = exp(log p(z))
 * read through base_energy_add (pixel 0 of a one-pixel density). Error
 * ~ (b - a) h^4 max|f''''| / 180: below 1e-10 for these slopes. */
static double energy_at(const base_density *b, double z)
{
    float x = (float)z;
    double e = 0.0;
    base_energy_add(b, &x, 1, &e, NULL);
    return e;
}

/* The integral of g(z) exp(-E(z)) over [a, b], Simpson with n intervals,
 * g(z) = z^power (power 0: the mass). The breakpoints a, b are knots. */
static double simpson(const base_density *b, double a, double c, int n, int power)
{
    const double h = (c - a) / n;
    double s = 0.0;
    for (int i = 0; i <= n; i++) {
        const double z = a + i * h;
        const double w = (i == 0 || i == n) ? 1.0 : (i % 2 ? 4.0 : 2.0);
        s += w * pow(z, power) * exp(-energy_at(b, z));
    }
    return s * h / 3.0;
}

static void test_base_piece_log_mass_matches_quadrature(void **state)
{
    (void)state;
    const double cases[][3] = {{0.0, 0.0, 0.5},   {1.0, 1.0 + 1e-12, 0.1}, {-2.0, 3.0, 0.25},
                               {3.0, -2.0, 0.25}, {0.5, 30.0, 1.0},       {-40.0, -41.5, 2.0},
                               {700.0, 690.0, 0.01}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const double a0 = cases[c][0], a1 = cases[c][1], h = cases[c][2];
        /* Simpson on exp(a0 + (a1 - a0) t - top), scaled back in logs. */
        const double top = a0 > a1 ? a0 : a1;
        const int n = 200000;
        double s = 0.0;
        for (int i = 0; i <= n; i++) {
            const double t = (double)i / n;
            const double w = (i == 0 || i == n) ? 1.0 : (i % 2 ? 4.0 : 2.0);
            s += w * exp(a0 + (a1 - a0) * t - top);
        }
        const double ref = top + log(s * h / (3.0 * n));
        const double got = base_piece_log_mass(a0, a1, h);
        if (fabs(got - ref) > 1e-9) {
            print_error("case %zu: a0 %g a1 %g h %g: %.12f vs quadrature %.12f\n", c, a0, a1, h,
                        got, ref);
            fail();
        }
    }
}

/* Counts of 17 levels with the shapes of digit pixels: a background pixel
 * (level 0 dominant), a stroke pixel (mass at both ends), a flat one. */
static const double COUNTS[3][17] = {
    {1180, 20, 9, 6, 4, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 0, 1},
    {300, 40, 30, 25, 20, 20, 22, 25, 30, 35, 45, 60, 80, 110, 150, 160, 100},
    {70, 75, 72, 71, 74, 76, 69, 73, 70, 75, 74, 72, 71, 73, 75, 74, 70},
};

static void fit_three(base_density *b)
{
    ebm_err err = {0};
    assert_int_equal(base_alloc(b, 3, 17, -1.0f, 1.0f, &err), 0);
    assert_int_equal(base_fit(b, &COUNTS[0][0], 1.0, &err), 0);
}

/* A one-pixel density holding pixel j of b. */
static void one_pixel(const base_density *b, int j, base_density *o)
{
    ebm_err err = {0};
    assert_int_equal(base_alloc(o, 1, b->pieces, b->lo, b->hi, &err), 0);
    double a[64];
    memcpy(a, b->log_p + (size_t)j * (b->pieces + 1), (size_t)(b->pieces + 1) * sizeof(double));
    base_set_pixel(o, 0, a);
}

static void test_base_fit_is_normalised(void **state)
{
    (void)state;
    base_density b, o;
    fit_three(&b);
    for (int j = 0; j < 3; j++) {
        one_pixel(&b, j, &o);
        double mass = 0.0;
        const double h = (b.hi - b.lo) / (double)b.pieces;
        for (int k = 0; k < b.pieces; k++) /* per piece: the density is smooth inside */
            mass += simpson(&o, b.lo + k * h, b.lo + (k + 1) * h - 1e-12, 2000, 0);
        print_message("pixel %d: integral of p = %.12f\n", j, mass);
        assert_true(fabs(mass - 1.0) < 1e-6);
        base_free(&o);
    }
    base_free(&b);
}

/* The fit maximises sum_l c_l mean_{cell l} log p: at the optimum the hat
 * functions' expectations under p equal their empirical weights (the
 * gradient of a concave objective is zero), integrated here numerically. */
static void test_base_fit_matches_moments(void **state)
{
    (void)state;
    base_density b, o;
    fit_three(&b);
    const int P = b.pieces;
    const double h = (b.hi - b.lo) / (double)P;
    for (int j = 0; j < 3; j++) {
        one_pixel(&b, j, &o);
        double n = 0.0, c[17];
        for (int l = 0; l < P; l++)
            n += (c[l] = COUNTS[j][l] + 1.0);
        double worst = 0.0;
        for (int k = 0; k <= P; k++) {
            const double emp = ((k > 0 ? c[k - 1] : 0.0) + (k < P ? c[k] : 0.0)) * 0.5 / n;
            /* E_p[phi_k]: the hat on [z_{k-1}, z_{k+1}], by Simpson on each side. */
            double e = 0.0;
            const double zk = b.lo + k * h;
            const int m = 2000;
            for (int side = -1; side <= 1; side += 2) {
                if ((side < 0 && k == 0) || (side > 0 && k == P))
                    continue;
                const double a = side < 0 ? zk - h : zk, cc = side < 0 ? zk : zk + h;
                double s = 0.0;
                for (int i = 0; i <= m; i++) {
                    const double z = a + (cc - a) * i / m;
                    const double eps = 1e-12 * side;
                    const double phi = 1.0 - fabs(z - zk) / h;
                    const double w = (i == 0 || i == m) ? 1.0 : (i % 2 ? 4.0 : 2.0);
                    /* inside the piece: nudge the ends so the right piece is read */
                    const double zz = i == 0 ? z + fabs(eps) : i == m ? z - fabs(eps) : z;
                    s += w * phi * exp(-energy_at(&o, zz));
                }
                e += s * (cc - a) / (3.0 * m);
            }
            worst = fmax(worst, fabs(e - emp));
        }
        print_message("pixel %d: largest |E_p phi_k - empirical| = %.2e\n", j, worst);
        assert_true(worst < 1e-6);
        base_free(&o);
    }
    base_free(&b);
}

static void test_base_gradient_matches_finite_differences(void **state)
{
    (void)state;
    base_density b;
    fit_three(&b);
    ebm_rng rng;
    rng_seed(&rng, 7, 1);
    const double h = (b.hi - b.lo) / (double)b.pieces;
    for (int trial = 0; trial < 200; trial++) {
        float x[3], g[3] = {0, 0, 0};
        rng_fill_uniform(&rng, x, 3, -1.0f, 1.0f);
        /* Keep clear of the knots, where the slope changes. */
        int near_knot = 0;
        for (int j = 0; j < 3; j++) {
            const double s = (x[j] - b.lo) / h;
            near_knot |= fabs(s - floor(s + 0.5)) < 1e-3;
        }
        if (near_knot)
            continue;
        double e0 = 0.0;
        base_energy_add(&b, x, 1, &e0, g);
        for (int j = 0; j < 3; j++) {
            const float step = 1e-4f;
            float xp[3], xm[3];
            memcpy(xp, x, sizeof x), memcpy(xm, x, sizeof x);
            xp[j] += step, xm[j] -= step;
            double ep = 0.0, em = 0.0;
            base_energy_add(&b, xp, 1, &ep, NULL);
            base_energy_add(&b, xm, 1, &em, NULL);
            const double fd = (ep - em) / ((double)xp[j] - (double)xm[j]);
            if (fabs(g[j] - fd) > 1e-3 + 1e-4 * fabs(fd)) {
                print_error("x %g pixel %d: gradient %g, finite difference %g\n", x[j], j, g[j],
                            fd);
                fail();
            }
        }
        /* base_grad_log_add and base_log_density_add are its negative. */
        float gl[3] = {0, 0, 0}, gl2[3] = {0, 0, 0}, lp = 0.0f;
        base_grad_log_add(&b, x, 1, gl);
        base_log_density_add(&b, x, 1, &lp, gl2);
        for (int j = 0; j < 3; j++) {
            assert_true(fabs(gl[j] + g[j]) <= 1e-6f * (1.0f + fabsf(g[j])));
            assert_true(fabs(gl2[j] + g[j]) <= 1e-6f * (1.0f + fabsf(g[j])));
        }
        assert_true(fabs(lp + e0) <= 1e-5 * (1.0 + fabs(e0)));
    }
    base_free(&b);
}

/* Samples: the empirical CDF of 200000 draws per pixel against the CDF
 * integrated numerically, on a grid of 4 points per piece (Kolmogorov-Smirnov:
 * P(sup > 1.95 / sqrt(n)) < 0.001). */
static void test_base_samples_follow_the_density(void **state)
{
    (void)state;
    base_density b, o;
    fit_three(&b);
    const int n = 200000, P = b.pieces;
    const double h = (b.hi - b.lo) / (double)P;
    float *x = malloc((size_t)n * 3 * sizeof(float));
    assert_non_null(x);
    ebm_rng rng;
    rng_seed(&rng, 11, 3);
    base_sample(&b, &rng, x, n);
    for (int j = 0; j < 3; j++) {
        one_pixel(&b, j, &o);
        double worst = 0.0, cdf = 0.0;
        for (int k = 0; k < P; k++)
            for (int q = 1; q <= 4; q++) {
                const double a = b.lo + k * h + (q - 1) * h / 4, c = b.lo + k * h + q * h / 4;
                cdf += simpson(&o, a + 1e-12, c - 1e-12, 200, 0);
                int below = 0;
                for (int i = 0; i < n; i++)
                    below += x[(size_t)i * 3 + j] < c;
                worst = fmax(worst, fabs((double)below / n - cdf));
            }
        for (int i = 0; i < n; i++)
            assert_true(x[(size_t)i * 3 + j] >= b.lo && x[(size_t)i * 3 + j] <= b.hi);
        print_message("pixel %d: KS distance %.5f (bound %.5f)\n", j, worst, 1.95 / sqrt(n));
        assert_true(worst < 1.95 / sqrt(n));
        base_free(&o);
    }
    free(x);
    base_free(&b);
}

/* The dequantised log-likelihood of a level: the mean of log p over its cell
 * (numerically) plus log of the cell width. */
static void test_base_cell_log_lik_is_the_cell_mean(void **state)
{
    (void)state;
    base_density b;
    fit_three(&b);
    const int P = b.pieces;
    const double h = (b.hi - b.lo) / (double)P;
    for (int l = 0; l < P; l++) {
        int level[3] = {l, (l * 7) % P, P - 1 - l};
        double ref = 0.0;
        for (int j = 0; j < 3; j++) {
            const int m = 1000;
            double s = 0.0;
            for (int i = 0; i < m; i++) { /* midpoint rule: log p is linear in the cell */
                float x[3] = {0, 0, 0};
                x[j] = (float)(b.lo + (level[j] + (i + 0.5) / m) * h);
                double e = 0.0;
                base_density o;
                one_pixel(&b, j, &o);
                base_energy_add(&o, &x[j], 1, &e, NULL);
                base_free(&o);
                s += -e;
            }
            ref += s / m + log(h);
        }
        const double got = base_cell_log_lik(&b, level);
        if (fabs(got - ref) > 1e-5) {
            print_error("level %d: %.8f vs %.8f\n", l, got, ref);
            fail();
        }
    }
    base_free(&b);
}

/* Uniform counts: the maximum-likelihood density is uniform on the box, whose
 * log-likelihood is -d log(pieces) (the uniform model of docs/loglik.md). */
static void test_base_uniform_counts_give_uniform_density(void **state)
{
    (void)state;
    base_density b;
    ebm_err err = {0};
    double counts[2 * 17];
    for (int i = 0; i < 2 * 17; i++)
        counts[i] = 10.0;
    assert_int_equal(base_alloc(&b, 2, 17, -1.0f, 1.0f, &err), 0);
    assert_int_equal(base_fit(&b, counts, 1.0, &err), 0);
    for (int i = 0; i < 2 * 18; i++)
        assert_true(fabs(b.log_p[i] - log(0.5)) < 1e-9);
    const int level[2] = {0, 16};
    assert_true(fabs(base_cell_log_lik(&b, level) + 2 * log(17.0)) < 1e-9);
    base_free(&b);
}

static void test_base_refuses_bad_input(void **state)
{
    (void)state;
    base_density b;
    ebm_err err = {0};
    assert_int_not_equal(base_alloc(&b, 0, 17, -1.0f, 1.0f, &err), 0);
    assert_int_not_equal(base_alloc(&b, 2, 17, 1.0f, 1.0f, &err), 0);
    assert_int_equal(base_alloc(&b, 1, 3, -1.0f, 1.0f, &err), 0);
    const double bad[3] = {1.0, NAN, 2.0};
    assert_int_not_equal(base_fit(&b, bad, 1.0, &err), 0);
    assert_non_null(strstr(err.msg, "pixel 0"));
    const double none[3] = {0.0, 0.0, 0.0};
    assert_int_not_equal(base_fit(&b, none, 0.0, &err), 0);
    base_free(&b);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_piece_log_mass_matches_quadrature),
        cmocka_unit_test(test_base_fit_is_normalised),
        cmocka_unit_test(test_base_fit_matches_moments),
        cmocka_unit_test(test_base_gradient_matches_finite_differences),
        cmocka_unit_test(test_base_samples_follow_the_density),
        cmocka_unit_test(test_base_cell_log_lik_is_the_cell_mean),
        cmocka_unit_test(test_base_uniform_counts_give_uniform_density),
        cmocka_unit_test(test_base_refuses_bad_input),
    };
    return harness_run(argc, argv, "test_base_density", tests, HARNESS_COUNT(tests), NULL, NULL);
}
