/* test_ais.c: annealed importance sampling against energies whose log Z on the
 * box is known in closed form, the estimator's bookkeeping, and the
 * dequantisation of pixel levels, on a singleton MPI process. */
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

#include "ebm/ais.h"
#include "core/data.h"
#include "par/dist.h"
#include "num/model.h"
#include "core/rng.h"


/* ------------------------------------------------------------------------ */
/* Tolerances.                                                               */
/* ------------------------------------------------------------------------ */

/* The band of the closed-form checks does not use the standard error the
 * code under test reports: its width comes from the spread of independent
 * estimates computed here. Each check runs AIS with N_SEEDS different seeds
 * (disjoint random streams for the chains and the pilot), CHAINS_PER_SEED
 * chains each, giving N_SEEDS independent draws y_s = log Z_hat_s of the same
 * estimator. Their sample mean m and sample standard deviation s (n - 1)
 * estimate E[log Z_hat] and its spread, and (m - E[log Z_hat]) / (s /
 * sqrt(N_SEEDS)) is Student-t with N_SEEDS - 1 = 15 degrees of freedom when
 * the y_s are near Gaussian (the log of a mean of 32 positive weights is):
 * P(|t_15| > 4) = 0.0012. AIS gives an unbiased Z_hat, so E[log Z_hat] is low
 * by about Var(log Z_hat)/2 (second-order delta method), estimated by s^2/2.
 * Accept
 *   |m - log Z| <= N_SIGMA s / sqrt(N_SEEDS) + s^2/2 + ROUND_TOL.
 * ROUND_TOL covers float32 chain states (the chain lives on the float grid of
 * the box, relative effects ~1e-7 per coordinate): 1e-3 nats is far above
 * that and far below the errors a wrong weight or a missing Hastings term
 * make (measured: tenths of nats to nats). The band's width is then about
 * 4 s / 4 = s: with s below MAX_SPREAD = 0.2 (s / 4 below 0.05, the bound the
 * single 512-chain runs held their SE to) it is the width of one 512-chain run's
 * 4-sigma band, at the same cost in chains. The
 * streams are fixed, so a check passes or fails every time.
 *
 * The standard error the code reports (the delta method over chains, which
 * eval --loglik prints) is checked against the same spread: the mean of the
 * N_SEEDS reported SEs must lie within a factor SE_RATIO = 2.5 of s. s / sigma
 * is distributed as sqrt(chi2_15 / 15): below 1/2.5 with probability 1e-4,
 * above 2.5 practically never, and the delta method reads skewed weights a
 * little low (measured ratios 0.7..1.2); an SE missing its sqrt(n) would be
 * off by sqrt(32) = 5.7. */
#define N_SEEDS 16
#define CHAINS_PER_SEED 32
#define N_SIGMA 4.0
#define ROUND_TOL 1e-3
#define MAX_SPREAD 0.2
#define SE_RATIO 2.5

/* The box of the stable preset's input space, and a dimension large enough
 * that mistakes accumulate (16 coordinates) while the test stays fast. */
#define BOX_LO -1.0f
#define BOX_HI 1.0f
#define DIM 16

/* ------------------------------------------------------------------------ */
/* Test energies.                                                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    int d;
    double a[DIM];    /* linear: E = -a.x */
    double c[DIM];    /* quadratic: E = sum c_i (x_i - m_i)^2 / 2 */
    double m[DIM];
    int quadratic;
    int zero;         /* E = 0 */
    long long calls;  /* energy rows evaluated */
    /* Added to E when not NULL, and AIS starts from it (ais_params.start_base). */
    const base_density *base;
} test_energy;

static int test_energy_fn(void *vctx, const float *x, int n, double *energy, float *grad,
                          ebm_err *err)
{
    (void)err;
    test_energy *t = vctx;
    for (int i = 0; i < n; i++) {
        double e = 0.0;
        for (int j = 0; j < t->d; j++) {
            const double v = x[(size_t)i * t->d + j];
            double g;
            if (t->zero) {
                g = 0.0;
            } else if (t->quadratic) {
                e += 0.5 * t->c[j] * (v - t->m[j]) * (v - t->m[j]);
                g = t->c[j] * (v - t->m[j]);
            } else {
                e -= t->a[j] * v;
                g = -t->a[j];
            }
            if (grad)
                grad[(size_t)i * t->d + j] = (float)g;
        }
        energy[i] = e;
    }
    if (t->base)
        base_energy_add(t->base, x, n, energy, grad);
    t->calls += n;
    return 0;
}

/* Z = prod_i (exp(a_i hi) - exp(a_i lo)) / a_i, in logs without overflow. */
static double linear_log_z(const test_energy *t, double lo, double hi)
{
    double s = 0.0;
    for (int j = 0; j < t->d; j++) {
        const double a = t->a[j];
        if (a == 0.0) {
            s += log(hi - lo);
            continue;
        }
        /* (e^{a hi} - e^{a lo}) / a = e^{a top} (1 - e^{-|a| (hi - lo)}) / |a| */
        const double top = a > 0 ? hi : lo;
        s += a * top + log1p(-exp(-fabs(a) * (hi - lo))) - log(fabs(a));
    }
    return s;
}

/* Z_i = sqrt(pi / (2 c)) [erf(sqrt(c/2)(hi - m)) - erf(sqrt(c/2)(lo - m))]. */
static double quadratic_log_z(const test_energy *t, double lo, double hi)
{
    double s = 0.0;
    for (int j = 0; j < t->d; j++) {
        const double r = sqrt(0.5 * t->c[j]);
        const double mass = erf(r * (hi - t->m[j])) - erf(r * (lo - t->m[j]));
        s += 0.5 * log(3.14159265358979323846 / (2.0 * t->c[j])) + log(mass);
    }
    return s;
}

/* Counts ais_progress calls per stage and checks their order. */
typedef struct {
    int pilot, annealing, last_done, out_of_order;
} progress_count;

static void count_progress(void *data, const char *stage, int done, int total)
{
    progress_count *c = data;
    const int annealing = strcmp(stage, "annealing") == 0;
    if (annealing) {
        c->annealing++;
        if (done != c->last_done + 1 || done > total)
            c->out_of_order++;
        c->last_done = done;
    } else {
        c->pilot++;
    }
}

static void linear_energy(test_energy *t)
{
    memset(t, 0, sizeof *t);
    t->d = DIM;
    /* Slopes from -3 to 4.5: from nearly flat to mass piled against one
     * face, so proposals leaving the box are common at beta = 1. */
    for (int j = 0; j < DIM; j++)
        t->a[j] = -3.0 + 0.5 * j;
}

static void quadratic_energy(test_energy *t)
{
    memset(t, 0, sizeof *t);
    t->d = DIM;
    t->quadratic = 1;
    /* Widths 1/sqrt(c) from 0.5 down to 0.14 (a thirtieth of the box's
     * volume per coordinate at beta = 1), centres spread over and beyond the
     * box: some coordinates see a truncated Gaussian. */
    for (int j = 0; j < DIM; j++) {
        t->c[j] = 4.0 + 3.0 * j;
        t->m[j] = -1.3 + 2.6 * j / (DIM - 1);
    }
}

static ais_result run_ais_leapfrog(test_energy *t, int n_temps, int64_t n_chains, int capacity,
                                   ais_schedule schedule, int leapfrog, uint64_t seed)
{
    const ais_energy en = {test_energy_fn, t, t->d, capacity};
    ais_params p;
    ais_params_default(&p, n_temps, n_chains, BOX_LO, BOX_HI, seed);
    p.schedule = schedule;
    p.leapfrog = leapfrog;
    p.start_base = t->base;
    ais_result r;
    ebm_err err = {0};
    if (ais_log_z(test_ctx(), &en, &p, &r, &err))
        fail_msg("ais_log_z: %s", err.msg);
    return r;
}

/* The default transition: one leapfrog step (reflected MALA). */
static ais_result run_ais(test_energy *t, int n_temps, int64_t n_chains, int capacity,
                          ais_schedule schedule, uint64_t seed)
{
    return run_ais_leapfrog(t, n_temps, n_chains, capacity, schedule, 1, seed);
}

/* N_SEEDS independent AIS runs (seeds seed0 * 1000 + 0..N_SEEDS-1) of the
 * same estimator on t, held against the exact log Z with the band above. */
static void check_spread(const char *what, test_energy *t, int n_temps, ais_schedule schedule,
                         int leapfrog, uint64_t seed0, double exact)
{
    double y[N_SEEDS], sum = 0.0, se_sum = 0.0, ess_sum = 0.0;
    for (int s = 0; s < N_SEEDS; s++) {
        const ais_result r = run_ais_leapfrog(t, n_temps, CHAINS_PER_SEED, 256, schedule,
                                              leapfrog, seed0 * 1000 + (uint64_t)s);
        assert_true(isfinite(r.log_z));
        y[s] = r.log_z;
        sum += r.log_z, se_sum += r.log_z_se, ess_sum += r.ess;
    }
    const double mean = sum / N_SEEDS;
    double ss = 0.0;
    for (int s = 0; s < N_SEEDS; s++)
        ss += (y[s] - mean) * (y[s] - mean);
    const double sd = sqrt(ss / (N_SEEDS - 1)), se_mean = sd / sqrt((double)N_SEEDS);
    const double dev = mean - exact;
    const double tol = N_SIGMA * se_mean + 0.5 * sd * sd + ROUND_TOL;
    const double se_reported = se_sum / N_SEEDS;
    print_message("%s: log Z exact %.4f, AIS mean of %d seeds %.4f, spread %.4f "
                  "(dev %+.4f = %+.2f spread/sqrt(%d), tol %.4f); reported SE %.4f "
                  "(%.2f x spread), ESS %.1f/%d\n",
                  what, exact, N_SEEDS, mean, sd, dev, dev / se_mean, N_SEEDS, tol,
                  se_reported, se_reported / sd, ess_sum / N_SEEDS, CHAINS_PER_SEED);
    assert_true(sd > 0.0);
    assert_true(fabs(dev) <= tol);
    assert_true(sd < MAX_SPREAD);
    assert_true(se_reported <= SE_RATIO * sd && se_reported >= sd / SE_RATIO);
}

/* ------------------------------------------------------------------------ */
/* AIS.                                                                      */
/* ------------------------------------------------------------------------ */

static void test_ais_log_z_linear_energy_matches_closed_form(void **state)
{
    (void)state;
    test_energy t;
    linear_energy(&t);
    check_spread("linear, sigmoid", &t, 1000, AIS_SCHEDULE_SIGMOID, 1, 1,
                 linear_log_z(&t, BOX_LO, BOX_HI));
}

static void test_ais_log_z_linear_energy_geometric_schedule(void **state)
{
    (void)state;
    test_energy t;
    linear_energy(&t);
    check_spread("linear, geometric", &t, 1000, AIS_SCHEDULE_GEOMETRIC, 1, 2,
                 linear_log_z(&t, BOX_LO, BOX_HI));
}

static void test_ais_log_z_quadratic_energy_matches_erf(void **state)
{
    (void)state;
    test_energy t;
    quadratic_energy(&t);
    /* The narrow, truncated peaks need more temperatures than the linear
     * energy for the same standard error (measured: SE 0.07 at T = 1000 with
     * 256 chains, 0.036 at T = 3000). */
    check_spread("quadratic, sigmoid", &t, 2000, AIS_SCHEDULE_SIGMOID, 1, 3,
                 quadratic_log_z(&t, BOX_LO, BOX_HI));
}

/* Several leapfrog steps per transition: trajectories that bounce off the
 * walls more than once on the way. */
static void test_ais_log_z_linear_energy_hmc_trajectories(void **state)
{
    (void)state;
    test_energy t;
    linear_energy(&t);
    check_spread("linear, HMC 3 leapfrog steps", &t, 400, AIS_SCHEDULE_SIGMOID, 3, 7,
                 linear_log_z(&t, BOX_LO, BOX_HI));
}

/* With E = 0 every weight is exactly zero: log Z = log Z_0 = d log(width),
 * SE 0, ESS = chains. Catches a wrong base term or weight bookkeeping without
 * any statistics. */
static void test_ais_log_z_flat_energy_is_uniform_base(void **state)
{
    (void)state;
    test_energy t;
    memset(&t, 0, sizeof t);
    t.d = DIM;
    t.zero = 1;
    const ais_result r = run_ais(&t, 50, 64, 64, AIS_SCHEDULE_SIGMOID, 4);
    const double z0 = DIM * log((double)BOX_HI - (double)BOX_LO);
    assert_true(fabs(r.log_z0 - z0) < 1e-12);
    assert_true(fabs(r.log_z - z0) < 1e-12);
    assert_true(r.log_z_se == 0.0);
    assert_true(fabs(r.ess - 64.0) < 1e-9);
}

/* Each chain owns its random stream, so how chains are batched (as they are
 * split over ranks) does not change a single bit of the result. */
static void test_ais_log_z_independent_of_batching(void **state)
{
    (void)state;
    test_energy t;
    quadratic_energy(&t);
    const ais_result a = run_ais(&t, 100, 40, 256, AIS_SCHEDULE_SIGMOID, 5);
    const ais_result b = run_ais(&t, 100, 40, 7, AIS_SCHEDULE_SIGMOID, 5);
    assert_true(a.log_z == b.log_z);
    assert_true(a.log_z_se == b.log_z_se);
    const ais_result c = run_ais(&t, 100, 40, 256, AIS_SCHEDULE_SIGMOID, 6);
    assert_true(a.log_z != c.log_z); /* and the seed matters */
}

/* From a base density: E = E_base - a.x with a base fitted to counts shaped
 * like digit pixels (mass piled at one end, at both ends, spread) and the
 * linear energy's slopes at a sixth of their size (a steeper tilt moves mass
 * between the two ends of a stroke pixel, which MALA crosses slowly). Exact log Z: per
 * coordinate, the integral of p_j(z) exp(a_j z) by Simpson on each linear
 * piece of log p_j (200 intervals per piece: error below 1e-9). */
static void test_ais_log_z_from_base_density(void **state)
{
    (void)state;
    base_density b;
    ebm_err err = {0};
    double counts[DIM * 17];
    for (int j = 0; j < DIM; j++)
        for (int l = 0; l < 17; l++) {
            const double edge = j % 3 == 0 ? (l == 0 ? 900 : 3) : j % 3 == 1 ? (l == 0 || l == 16 ? 300 : 20) : 50;
            counts[j * 17 + l] = edge + (j + l) % 5;
        }
    assert_int_equal(base_alloc(&b, DIM, 17, BOX_LO, BOX_HI, &err), 0);
    assert_int_equal(base_fit(&b, counts, 1.0, &err), 0);
    test_energy t;
    linear_energy(&t);
    for (int j = 0; j < DIM; j++)
        t.a[j] /= 6.0;
    t.base = &b;
    double exact = 0.0;
    const double h = (BOX_HI - BOX_LO) / 17.0;
    for (int j = 0; j < DIM; j++) {
        const double *lp = b.log_p + (size_t)j * 18;
        double z_j = 0.0;
        for (int k = 0; k < 17; k++) {
            const int m = 200;
            double s = 0.0;
            for (int i = 0; i <= m; i++) {
                const double u = (double)i / m, z = BOX_LO + (k + u) * h;
                const double w = (i == 0 || i == m) ? 1.0 : (i % 2 ? 4.0 : 2.0);
                s += w * exp(lp[k] + (lp[k + 1] - lp[k]) * u + t.a[j] * z);
            }
            z_j += s * h / (3.0 * m);
        }
        exact += log(z_j);
    }
    check_spread("linear from a base density", &t, 1000, AIS_SCHEDULE_SIGMOID, 1, 7, exact);
    /* RAISE from the base: with 0 temperatures the base's own log density
     * exactly; with 300, a stochastic lower bound on the exact log p(x) =
     * -E(x) - log Z at exact-ish points (base samples, 64 of them). */
    {
        const ais_energy en = {test_energy_fn, &t, t.d, 256};
        ais_params p;
        ais_params_default(&p, 300, 32, BOX_LO, BOX_HI, 5);
        p.start_base = &b;
        enum { NP = 64 };
        float pts[NP * DIM];
        ebm_rng rng;
        rng_seed(&rng, 9, 2);
        base_sample(&b, &rng, pts, NP);
        double steps[301], logp[NP], e[NP], mean_exact = 0.0, mean_raise = 0.0;
        for (int k = 0; k <= 300; k++)
            steps[k] = 0.05;
        ais_raise_stats st;
        ais_params p0 = p;
        p0.n_temps = 0;
        assert_int_equal(ais_raise(test_ctx(), &en, &p0, steps, pts, NP, 0, NP, logp, &st, &err), 0);
        memset(e, 0, sizeof e);
        base_energy_add(&b, pts, NP, e, NULL);
        for (int i = 0; i < NP; i++)
            assert_true(fabs(logp[i] + e[i]) < 1e-9);
        assert_int_equal(ais_raise(test_ctx(), &en, &p, steps, pts, NP, 0, NP, logp, &st, &err), 0);
        test_energy_fn(&t, pts, NP, e, NULL, &err);
        for (int i = 0; i < NP; i++) {
            mean_exact += (-e[i] - exact) / NP;
            mean_raise += logp[i] / NP;
        }
        print_message("RAISE from the base: mean log p %.4f, exact %.4f, acceptance %.3f\n",
                      mean_raise, mean_exact, st.acceptance);
        assert_true(mean_raise <= mean_exact + 0.05);
        assert_true(mean_raise >= mean_exact - 1.0); /* it moves: not the base's score */
    }
    /* The base alone: every weight is exactly 1. */
    test_energy flat;
    memset(&flat, 0, sizeof flat);
    flat.d = DIM, flat.zero = 1, flat.base = &b;
    const ais_result r = run_ais(&flat, 20, 16, 256, AIS_SCHEDULE_SIGMOID, 3);
    assert_true(r.from_base);
    assert_true(fabs(r.log_z) < 1e-12 && r.log_z0 == 0.0 && fabs(r.ess - 16.0) < 1e-9);
    base_free(&b);
}

static void test_ais_log_z_rejects_bad_params(void **state)
{
    (void)state;
    test_energy t;
    linear_energy(&t);
    const ais_energy en = {test_energy_fn, &t, t.d, 16};
    ais_params p;
    ais_result r;
    ebm_err err = {0};
    ais_params_default(&p, 10, 1, BOX_LO, BOX_HI, 0); /* one chain: no standard error */
    assert_int_equal(ais_log_z(test_ctx(), &en, &p, &r, &err), -1);
    assert_non_null(strstr(err.msg, "2 chains"));
    ais_params_default(&p, 10, 8, 1.0f, 1.0f, 0); /* empty box */
    assert_int_equal(ais_log_z(test_ctx(), &en, &p, &r, &err), -1);
}

static void test_ais_schedule_fill_endpoints_and_order(void **state)
{
    (void)state;
    const int sizes[] = {1, 2, 3, 100, 3000};
    for (int s = 0; s < 2; s++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            const int T = sizes[k];
            double *beta = calloc((size_t)T + 1, sizeof *beta);
            assert_non_null(beta);
            ais_schedule_fill((ais_schedule)s, T, beta);
            assert_true(beta[0] == 0.0);
            assert_true(beta[T] == 1.0);
            for (int i = 1; i <= T; i++)
                assert_true(beta[i] > beta[i - 1]);
            free(beta);
        }
}

static void test_ais_log_mean_exp_direct_values(void **state)
{
    (void)state;
    /* Shifted by 1000: a naive exp would overflow. */
    const double lw[4] = {1000.0 + log(1.0), 1000.0 + log(2.0), 1000.0 + log(3.0),
                          1000.0 + log(6.0)};
    double se, ess;
    const double got = ais_log_mean_exp(lw, 4, &se, &ess);
    assert_true(fabs(got - (1000.0 + log(3.0))) < 1e-12);
    /* w = 1,2,3,6: mean 3, sample variance 14/3, se = sqrt(14/3/4)/3. */
    assert_true(fabs(se - sqrt(14.0 / 3.0 / 4.0) / 3.0) < 1e-12);
    assert_true(fabs(ess - 144.0 / 50.0) < 1e-12);
}

/* ------------------------------------------------------------------------ */
/* Dequantisation.                                                           */
/* ------------------------------------------------------------------------ */

/* Every level, with u at 0, the smallest and largest values the streams give,
 * and random values, lands inside the box in input space; in data units each
 * level's cells tile [value_min, value_max] and contain the level's value. */
static void check_dequant(const input_map *map)
{
    ais_dequant q;
    ebm_err err = {0};
    if (ais_dequant_init(&q, 0.0, 16.0, map, &err))
        fail_msg("ais_dequant_init: %s", err.msg);
    assert_int_equal(q.levels, 17);
    assert_true(fabs(q.width - 16.0 / 17.0) < 1e-15);
    const float lo = map->scale * 0.0f + map->shift, hi = map->scale * 16.0f + map->shift;
    assert_true(q.lo == lo && q.hi == hi);
    const double us[] = {0.0, 0x1.0p-53, 0.25, 0.5, 1.0 - 0x1.0p-53, 1.0 - 0x1.0p-24};
    ebm_rng rng;
    rng_seed(&rng, 7, 0);
    for (int k = 0; k < 17; k++) {
        /* The cell of level k in data units contains k itself. */
        const double cell_lo = k * q.width, cell_hi = (k + 1) * q.width;
        assert_true(cell_lo <= k && (double)k <= cell_hi);
        assert_int_equal(ais_dequant_level(&q, (float)k), k);
        for (size_t i = 0; i < sizeof us / sizeof us[0] + 1000; i++) {
            const double u = i < sizeof us / sizeof us[0] ? us[i] : rng_uniform(&rng);
            const float z = ais_dequant_input(&q, k, u);
            assert_true(z >= q.lo && z <= q.hi);
            /* Back in data units, within float rounding of the cell. */
            const double y = ((double)z - map->shift) / map->scale;
            assert_true(y >= cell_lo - 1e-5 && y <= cell_hi + 1e-5);
        }
    }
    /* The cells tile the box: the first starts at value_min, the last ends at
     * value_max. */
    assert_true(ais_dequant_input(&q, 0, 0.0) == lo);
    assert_true(fabs(ais_dequant_input(&q, 16, 1.0 - 0x1.0p-53) - hi) < 1e-6f * (1 + fabs(hi)));
}

static void test_ais_dequant_every_level_in_box_stable_map(void **state)
{
    (void)state;
    const data_info info = {.d = 64, .value_min = 0.0, .value_max = 16.0};
    const input_map map = data_input_map(&info, 1); /* [0,16] -> [-1,1] */
    check_dequant(&map);
}

static void test_ais_dequant_every_level_in_box_identity_map(void **state)
{
    (void)state;
    const data_info info = {.d = 64, .value_min = 0.0, .value_max = 16.0};
    const input_map map = data_input_map(&info, 0); /* the seed preset: raw pixels */
    check_dequant(&map);
}

static void test_ais_dequant_level_rejects_non_levels(void **state)
{
    (void)state;
    const input_map map = {1.0f, 0.0f};
    ais_dequant q;
    ebm_err err = {0};
    assert_int_equal(ais_dequant_init(&q, 0.0, 16.0, &map, &err), 0);
    assert_int_equal(ais_dequant_level(&q, 0.5f), -1);
    assert_int_equal(ais_dequant_level(&q, -1.0f), -1);
    assert_int_equal(ais_dequant_level(&q, 17.0f), -1);
    assert_int_equal(ais_dequant_level(&q, NAN), -1);
    assert_int_equal(ais_dequant_level(&q, 16.0f), 16);
    /* A range that cannot hold integer levels is refused, naming the option. */
    assert_int_equal(ais_dequant_init(&q, 0.0, 15.5, &map, &err), -1);
    assert_non_null(strstr(err.msg, "--loglik"));
    assert_int_equal(ais_dequant_init(&q, 3.0, 3.0, &map, &err), -1);
}

/* ------------------------------------------------------------------------ */
/* The log-likelihood bookkeeping, end to end on the model adapter.          */
/* ------------------------------------------------------------------------ */

/* A network with every parameter zero has logits 0, E = -log K everywhere:
 * the model is uniform on the box, so each pixel's 17 cells are equally
 * likely and log P(x) = -d log 17 exactly, whatever the map (the Jacobian,
 * cell width and log Z_0 must cancel). AIS weights are then all equal, so the
 * only error is rounding. */
static void check_uniform_model(int map_to_box)
{
    enum { D = 6, H = 3, K = 4, N = 5 };
    ais_model m;
    memset(&m, 0, sizeof m);
    model_shape_init(&m.shape, D, H, K);
    m.params = calloc(m.shape.n_params, sizeof(float));
    assert_non_null(m.params);
    m.value_min = 0.0, m.value_max = 16.0;
    const data_info info = {.d = D, .value_min = 0.0, .value_max = 16.0};
    m.map = data_input_map(&info, map_to_box);
    float images[N * D];
    int32_t labels[N] = {0};
    for (int i = 0; i < N * D; i++)
        images[i] = (float)((i * 7) % 17); /* every level, 0 and 16 included */
    const data_shard shard = {N, 0, N, D, images, labels};
    ais_loglik_result r;
    ebm_err err = {0};
    progress_count count = {0};
    const ais_progress progress = {count_progress, &count};
    if (ais_loglik_run(test_ctx(), &m, &shard, 20, 8, &progress, &r, &err))
        fail_msg("ais_loglik_run: %s", err.msg);
    /* Progress: every temperature of the main run, in order, to the last. */
    assert_int_equal(count.annealing, 20);
    assert_int_equal(count.last_done, 20);
    assert_true(count.pilot > 0);
    assert_int_equal(count.out_of_order, 0);
    print_message("uniform model (map %d): log Z %.6f, log p %.9f (exact %.9f), %.6f bits/dim\n",
                  map_to_box, r.z.log_z, r.logp_disc, -D * log(17.0), r.bits_per_dim);
    assert_true(fabs(r.z.log_z - (log((double)K) + r.z.log_z0)) < 1e-5);
    assert_true(fabs(r.logp_disc + D * log(17.0)) < 1e-5);
    assert_true(fabs(r.logp_iw + D * log(17.0)) < 1e-5);
    assert_true(fabs(r.bits_per_dim - log2(17.0)) < 1e-6);
    assert_true(r.logp_disc_se_ex < 1e-6); /* every example scores the same */
    /* RAISE: with a constant energy every weight increment is 0, so it is
     * the base's density, which is the model's here. */
    assert_true(fabs(r.logp_raise + D * log(17.0)) < 1e-5);
    assert_true(fabs(r.gap) < 1e-5);
    assert_true(fabs(r.logp_judged + D * log(17.0)) < 1e-5);
    assert_int_equal(r.raise.n_temps, 20);
    assert_int_equal(r.levels, 17);
    assert_int_equal(r.n, N);
    free((float *)m.params);
}

static void test_ais_loglik_run_uniform_model_stable_map(void **state)
{
    (void)state;
    check_uniform_model(1);
}

static void test_ais_loglik_run_uniform_model_identity_map(void **state)
{
    (void)state;
    check_uniform_model(0);
}

/* --ais-steps auto: on the uniform model every T gives the same figures, so
 * the rule stops at the second T (2 x start) as converged; with the cap at
 * the start it stops there, not converged. */
static void test_ais_loglik_choose_steps_rule(void **state)
{
    (void)state;
    enum { D = 6, H = 3, K = 4, N = 5 };
    ais_model m;
    memset(&m, 0, sizeof m);
    model_shape_init(&m.shape, D, H, K);
    m.params = calloc(m.shape.n_params, sizeof(float));
    assert_non_null(m.params);
    m.value_min = 0.0, m.value_max = 16.0;
    const data_info info = {.d = D, .value_min = 0.0, .value_max = 16.0};
    m.map = data_input_map(&info, 1);
    float images[N * D];
    int32_t labels[N] = {0};
    for (int i = 0; i < N * D; i++)
        images[i] = (float)((i * 5) % 17);
    const data_shard shard = {N, 0, N, D, images, labels};
    ais_loglik_result r;
    ebm_err err = {0};
    int chosen = -1, converged = -1;
    if (ais_loglik_choose_steps(test_ctx(), &m, &shard, 3, 100, 8, NULL, NULL, &r, &chosen,
                                &converged, &err))
        fail_msg("ais_loglik_choose_steps: %s", err.msg);
    assert_int_equal(chosen, 6);
    assert_int_equal(converged, 1);
    assert_int_equal(r.z.n_temps, 6);
    if (ais_loglik_choose_steps(test_ctx(), &m, &shard, 3, 3, 8, NULL, NULL, &r, &chosen,
                                &converged, &err))
        fail_msg("ais_loglik_choose_steps: %s", err.msg);
    assert_int_equal(chosen, 3);
    assert_int_equal(converged, 0);
    if (ais_loglik_choose_steps(test_ctx(), &m, &shard, 3, 10, 8, NULL, NULL, &r, &chosen,
                                &converged, &err))
        fail_msg("ais_loglik_choose_steps: %s", err.msg);
    assert_int_equal(chosen, 6); /* 3 -> 6: settled before the cap */
    free((float *)m.params);
}

/* Pixels that are not levels are refused with the example and pixel named. */
static void test_ais_loglik_run_rejects_non_integer_pixels(void **state)
{
    (void)state;
    enum { D = 2, H = 3, K = 2 };
    ais_model m;
    memset(&m, 0, sizeof m);
    model_shape_init(&m.shape, D, H, K);
    m.params = calloc(m.shape.n_params, sizeof(float));
    assert_non_null(m.params);
    m.value_min = 0.0, m.value_max = 16.0;
    m.map = (input_map){1.0f, 0.0f};
    float images[2 * D] = {1.0f, 2.0f, 3.0f, 2.5f};
    int32_t labels[2] = {0, 1};
    const data_shard shard = {2, 0, 2, D, images, labels};
    ais_loglik_result r;
    ebm_err err = {0};
    assert_int_equal(ais_loglik_run(test_ctx(), &m, &shard, 5, 4, NULL, &r, &err), -1);
    assert_non_null(strstr(err.msg, "pixel 1 of example 1 is 2.5"));
    free((float *)m.params);
}

/* ------------------------------------------------------------------------ */
/* Sandwich on a mixture of Gaussians: known log Z, exact samples.           */
/* ------------------------------------------------------------------------ */

/* E(x) = -log sum_m exp(c_m - |x - mu_m|^2 / (2 sigma^2)) on [-1,1]^64: MIX_M
 * narrow isotropic modes with unequal weights, outside the uniform base's
 * family. log Z - log Z_0 is about -140 nats, so AIS has a long way to go.
 * Each mode's mass on the box factorises over coordinates:
 *   Z_m = exp(c_m) prod_d sigma sqrt(2 pi) [Phi((1 - mu_md)/sigma) - Phi((-1 - mu_md)/sigma)],
 * and exact samples are drawn by picking a mode by Z_m, then each coordinate
 * from its normal truncated to the box (by rejection; the centres are 4 sigma
 * inside, so rejections are rare). */
#define MIX_D 64
#define MIX_M 4
#define MIX_SIGMA 0.15
#define MIX_T 1500
#define MIX_SAMPLES 32

typedef struct {
    double mu[MIX_M][MIX_D];
    double c[MIX_M];
} mix_energy;

static int mix_energy_fn(void *vctx, const float *x, int n, double *energy, float *grad,
                         ebm_err *err)
{
    (void)err;
    const mix_energy *t = vctx;
    const double s2 = MIX_SIGMA * MIX_SIGMA;
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * MIX_D;
        double a[MIX_M], mx = -INFINITY;
        for (int m = 0; m < MIX_M; m++) {
            double q = 0.0;
            for (int j = 0; j < MIX_D; j++)
                q += (xi[j] - t->mu[m][j]) * (xi[j] - t->mu[m][j]);
            a[m] = t->c[m] - 0.5 * q / s2;
            mx = a[m] > mx ? a[m] : mx;
        }
        double sum = 0.0;
        for (int m = 0; m < MIX_M; m++)
            sum += exp(a[m] - mx);
        energy[i] = -(mx + log(sum));
        if (grad)
            for (int j = 0; j < MIX_D; j++) {
                double g = 0.0;
                for (int m = 0; m < MIX_M; m++)
                    g += exp(a[m] - mx) / sum * (xi[j] - t->mu[m][j]) / s2;
                grad[(size_t)i * MIX_D + j] = (float)g;
            }
    }
    return 0;
}

static double norm_cdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

/* log Z_m for every mode; returns log Z. */
static double mix_log_z(const mix_energy *t, double *log_zm)
{
    double mx = -INFINITY;
    for (int m = 0; m < MIX_M; m++) {
        double s = t->c[m];
        for (int j = 0; j < MIX_D; j++)
            s += log(MIX_SIGMA * sqrt(2.0 * 3.14159265358979323846) *
                     (norm_cdf((1.0 - t->mu[m][j]) / MIX_SIGMA) -
                      norm_cdf((-1.0 - t->mu[m][j]) / MIX_SIGMA)));
        log_zm[m] = s;
        mx = s > mx ? s : mx;
    }
    double sum = 0.0;
    for (int m = 0; m < MIX_M; m++)
        sum += exp(log_zm[m] - mx);
    return mx + log(sum);
}

static void mix_setup(mix_energy *t)
{
    ebm_rng rng;
    rng_derive(&rng, 0x6d697831ULL, RNG_ITEM, 0, 0);
    for (int m = 0; m < MIX_M; m++) {
        t->c[m] = 0.5 * m; /* weights e^0 .. e^1.5 */
        for (int j = 0; j < MIX_D; j++)
            t->mu[m][j] = -0.6 + 1.2 * (double)rng_uniform(&rng);
    }
}

/* Box-Muller normal from the test's own stream. */
static double test_normal(ebm_rng *rng)
{
    const double u1 = ((double)(rng_next(rng) >> 11) + 0.5) * 0x1.0p-53;
    const double u2 = (double)(rng_next(rng) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

static void mix_exact_samples(const mix_energy *t, const double *log_zm, double log_z,
                              ebm_rng *rng, float *x, int n)
{
    for (int i = 0; i < n; i++) {
        const double u = (double)(rng_next(rng) >> 11) * 0x1.0p-53;
        int m = 0;
        double cum = exp(log_zm[0] - log_z);
        while (m < MIX_M - 1 && u >= cum)
            cum += exp(log_zm[++m] - log_z);
        for (int j = 0; j < MIX_D; j++) {
            double v;
            do
                v = t->mu[m][j] + MIX_SIGMA * test_normal(rng);
            while (v < -1.0 || v > 1.0);
            x[(size_t)i * MIX_D + j] = (float)v;
        }
    }
}

/* mean and sample standard deviation */
static void mean_sd(const double *v, int n, double *m, double *s)
{
    double a = 0.0, b = 0.0;
    for (int i = 0; i < n; i++)
        a += v[i];
    *m = a / n;
    for (int i = 0; i < n; i++)
        b += (v[i] - *m) * (v[i] - *m);
    *s = sqrt(b / (n - 1));
}

/* AIS from the uniform base: within 0.5 nats of the exact log Z, and within
 * the band of section "Tolerances" (spread over N_SEEDS seeds). RAISE from
 * exact samples: its mean per seed at most the samples' true mean log
 * density (up to the band), and not far below (the chains mix on this
 * energy). Reverse AIS from the same exact samples, -log mean exp(-log
 * Z_rev_i) with log Z_rev_i = -E(x_i) - RAISE_i: above log Z (E[1/Z_rev] =
 * 1/Z, so its log is a stochastic upper bound). */
static void test_ais_raise_sandwich_gaussian_mixture(void **state)
{
    (void)state;
    static mix_energy t;
    mix_setup(&t);
    double log_zm[MIX_M];
    const double log_z = mix_log_z(&t, log_zm);
    const ais_energy en = {mix_energy_fn, &t, MIX_D, 64};
    double fwd[N_SEEDS], raise_gap[N_SEEDS], rev[N_SEEDS];
    static float x[MIX_SAMPLES * MIX_D];
    double steps[MIX_T + 1], e[MIX_SAMPLES], lp[MIX_SAMPLES], neg[MIX_SAMPLES];
    double ess = 0.0;
    for (int s = 0; s < N_SEEDS; s++) {
        ebm_err err = {0};
        ais_params p;
        ais_params_default(&p, MIX_T, CHAINS_PER_SEED, -1.0f, 1.0f, 0x5a0000ULL + s);
        p.n_pilot = 16; /* the steps only need to be near their best: a smaller pilot */
        ais_result r;
        if (ais_log_z_steps(test_ctx(), &en, &p, steps, &r, &err))
            fail_msg("ais_log_z_steps: %s", err.msg);
        fwd[s] = r.log_z;
        ess += r.ess / N_SEEDS;
        ebm_rng rng;
        rng_derive(&rng, 0x73616d70ULL, RNG_ITEM, s, 0);
        mix_exact_samples(&t, log_zm, log_z, &rng, x, MIX_SAMPLES);
        ais_raise_stats st;
        if (ais_raise(test_ctx(), &en, &p, steps, x, MIX_SAMPLES, 0, MIX_SAMPLES, lp, &st, &err))
            fail_msg("ais_raise: %s", err.msg);
        mix_energy_fn(&t, x, MIX_SAMPLES, e, NULL, &err);
        double gap = 0.0;
        for (int i = 0; i < MIX_SAMPLES; i++) {
            gap += (lp[i] - (-e[i] - log_z)) / MIX_SAMPLES; /* RAISE - true log density */
            neg[i] = -(-e[i] - lp[i]);                       /* -log Z_rev_i */
        }
        raise_gap[s] = gap;
        rev[s] = -ais_log_mean_exp(neg, MIX_SAMPLES, NULL, NULL);
    }
    double mf, sf, mr, sr, mv, sv;
    mean_sd(fwd, N_SEEDS, &mf, &sf);
    mean_sd(raise_gap, N_SEEDS, &mr, &sr);
    mean_sd(rev, N_SEEDS, &mv, &sv);
    const double k = N_SIGMA / sqrt((double)N_SEEDS);
    print_message("mixture of %d Gaussians, D %d, T %d: exact log Z %.4f (log Z0 %.4f)\n"
                  "  AIS: mean %.4f, spread %.4f, error %+.4f, ESS %.1f of %d\n"
                  "  RAISE - true log density: mean %+.4f, spread %.4f\n"
                  "  reverse AIS: mean %.4f, spread %.4f, error %+.4f\n",
                  MIX_M, MIX_D, MIX_T, log_z, MIX_D * log(2.0), mf, sf, mf - log_z, ess,
                  CHAINS_PER_SEED, mr, sr, mv, sv, mv - log_z);
    assert_true(fabs(mf - log_z) <= 0.5);
    assert_true(fabs(mf - log_z) <= k * sf + sf * sf / 2 + ROUND_TOL);
    assert_true(mr <= k * sr + ROUND_TOL); /* RAISE below the truth */
    assert_true(mr >= -2.0); /* and not far below (measured -1.1 at T 4000, -3.4 at T 1000) */
    assert_true(mv >= log_z - k * sv - ROUND_TOL); /* reverse AIS above log Z */
    assert_true(mv <= log_z + 0.5);
}

/* With no temperatures RAISE is the base's own density, exactly. */
static void test_ais_raise_zero_transitions_is_base(void **state)
{
    (void)state;
    test_energy t = {.d = DIM};
    for (int j = 0; j < DIM; j++)
        t.a[j] = 1.0 + j;
    const ais_energy en = {test_energy_fn, &t, DIM, 8};
    ais_params p;
    ais_params_default(&p, 0, 2, BOX_LO, BOX_HI, 7);
    float x[5 * DIM];
    ebm_rng rng;
    rng_derive(&rng, 3, RNG_ITEM, 0, 0);
    rng_fill_uniform(&rng, x, 5 * DIM, BOX_LO, BOX_HI);
    double lp[5], steps[1] = {0.0};
    ais_raise_stats st;
    ebm_err err = {0};
    if (ais_raise(test_ctx(), &en, &p, steps, x, 5, 0, 5, lp, &st, &err))
        fail_msg("ais_raise: %s", err.msg);
    const double base = -DIM * log((double)BOX_HI - (double)BOX_LO);
    for (int i = 0; i < 5; i++)
        assert_true(lp[i] == base);
}

/* ------------------------------------------------------------------------ */
/* The base-block moves (ais_params.energy_base).                            */
/* ------------------------------------------------------------------------ */

/* E(x) = c - w x_0 x_1 - sum_j a_j(x_j): a_j piecewise linear on `pieces`
 * equal pieces of the box with raw (unnormalised) knots, evaluated here from
 * the knots, independently of num/base_density. */
#define PW_MAX_D 64
#define PW_PIECES 17
typedef struct {
    int d, pieces;
    double c, w;
    double knot[PW_MAX_D][PW_PIECES + 1];
} pw_energy;

static int pw_energy_fn(void *vctx, const float *x, int n, double *energy, float *grad,
                        ebm_err *err)
{
    (void)err;
    const pw_energy *t = vctx;
    const double h = ((double)BOX_HI - BOX_LO) / t->pieces;
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * t->d;
        double e = t->c - t->w * xi[0] * xi[1];
        for (int j = 0; j < t->d; j++) {
            const double s = (xi[j] - BOX_LO) / h;
            int k = (int)floor(s);
            k = k < 0 ? 0 : k > t->pieces - 1 ? t->pieces - 1 : k;
            const double slope = t->knot[j][k + 1] - t->knot[j][k];
            e -= t->knot[j][k] + slope * (s - k);
            if (grad)
                grad[(size_t)i * t->d + j] =
                    (float)(-slope / h - (j == 0 ? t->w * xi[1] : j == 1 ? t->w * xi[0] : 0.0));
        }
        energy[i] = e;
    }
    return 0;
}

/* The normalised base density of the knots (what the proposals draw from). */
static void pw_base(const pw_energy *t, base_density *b)
{
    ebm_err err = {0};
    assert_int_equal(base_alloc(b, t->d, t->pieces, BOX_LO, BOX_HI, &err), 0);
    for (int j = 0; j < t->d; j++) {
        double a[PW_PIECES + 1];
        memcpy(a, t->knot[j], sizeof a);
        base_set_pixel(b, j, a);
    }
}

/* The 8 x 8 grid of cells on the 2-D box that the invariance tests bin
 * their chains on, and Pearson's chi-square of the n points x (n, 2)
 * against cell masses `cell` (unnormalised, summing to `total`). */
enum { GRID_NB = 8 };
static double grid_chi_square(const float *x, int64_t n, double cell[GRID_NB][GRID_NB],
                              double total)
{
    const double cw = ((double)BOX_HI - BOX_LO) / GRID_NB;
    double count[GRID_NB][GRID_NB];
    memset(count, 0, sizeof count);
    for (int64_t i = 0; i < n; i++) {
        int u = (int)((x[2 * i] - BOX_LO) / cw), v = (int)((x[2 * i + 1] - BOX_LO) / cw);
        u = u < 0 ? 0 : u >= GRID_NB ? GRID_NB - 1 : u;
        v = v < 0 ? 0 : v >= GRID_NB ? GRID_NB - 1 : v;
        count[u][v] += 1.0;
    }
    double chi2 = 0.0;
    for (int u = 0; u < GRID_NB; u++)
        for (int v = 0; v < GRID_NB; v++) {
            const double ex = (double)n * cell[u][v] / total;
            chi2 += (count[u][v] - ex) * (count[u][v] - ex) / ex;
        }
    return chi2;
}

/* The masses of those cells under an unnormalised density on the box, by the
 * midpoint rule (100 x 100 points per cell); returns their sum. */
static double grid_cell_masses(double (*density)(double z0, double z1, const void *ctx),
                               const void *ctx, double cell[GRID_NB][GRID_NB])
{
    enum { Q = 100 };
    const double cw = ((double)BOX_HI - BOX_LO) / GRID_NB;
    double total = 0.0;
    for (int u = 0; u < GRID_NB; u++)
        for (int v = 0; v < GRID_NB; v++) {
            double s = 0.0;
            for (int qu = 0; qu < Q; qu++)
                for (int qv = 0; qv < Q; qv++)
                    s += density(BOX_LO + (u + (qu + 0.5) / Q) * cw,
                                 BOX_LO + (v + (qv + 0.5) / Q) * cw, ctx);
            cell[u][v] = s;
            total += s;
        }
    return total;
}

/* exp(-beta E) of a 2-D piecewise energy (check_block_moves_invariant). */
typedef struct {
    pw_energy *t;
    double beta;
} tempered_pw;

static double tempered_pw_density(double z0, double z1, const void *ctx)
{
    const tempered_pw *c = ctx;
    const float z[2] = {(float)z0, (float)z1};
    double e;
    pw_energy_fn(c->t, z, 1, &e, NULL, NULL);
    return exp(-c->beta * e);
}

/* exp(-E_base) (exp f0 + exp f1) with affine f_k (the training kernel's model). */
typedef struct {
    pw_energy *t;
    const double (*a)[2];
    const double *c;
} base_times_affine;

static double base_times_affine_density(double z0, double z1, const void *ctx)
{
    const base_times_affine *m = ctx;
    const float z[2] = {(float)z0, (float)z1};
    double e_base;
    pw_energy_fn(m->t, z, 1, &e_base, NULL, NULL); /* w = 0: -log base, raw */
    const double f0 = m->a[0][0] * z0 + m->a[0][1] * z1 + m->c[0];
    const double f1 = m->a[1][0] * z0 + m->a[1][1] * z1 + m->c[1];
    return exp(-e_base) * (exp(f0) + exp(f1));
}

/* Invariance: from uniform starts, 20 sweeps at beta = 0.6 of the block
 * moves and a MALA step too small to cross the box in 20 steps; the final
 * states of 20000 independent chains against the exact law of
 * exp(-beta E) on an 8 x 8 grid of cells (2-D, wall-piled pixels times a
 * tilt w x_0 x_1 that couples them), the cells' masses integrated here by the
 * midpoint rule (100 x 100 points per cell). Pearson's chi-square with 63
 * degrees of freedom: mean 63, sd 11.2; accept below 63 + 5 sd = 119. */
static void check_block_moves_invariant(int block, int moves)
{
    pw_energy t;
    memset(&t, 0, sizeof t);
    t.d = 2, t.pieces = 4, t.w = 1.5;
    const double k0[5] = {3, -2, -3, -1, 2.5}, k1[5] = {4, 0, -2, -4, -6};
    memcpy(t.knot[0], k0, sizeof k0);
    memcpy(t.knot[1], k1, sizeof k1);
    base_density b;
    pw_base(&t, &b);
    const double beta = 0.6;
    double cell[GRID_NB][GRID_NB];
    const tempered_pw target = {&t, beta};
    const double total = grid_cell_masses(tempered_pw_density, &target, cell);
    const int64_t n = 20000;
    float *x = malloc((size_t)n * 2 * sizeof(float));
    assert_non_null(x);
    ebm_rng rng;
    rng_derive(&rng, 5, RNG_ITEM, 0, 0);
    rng_fill_uniform(&rng, x, (size_t)n * 2, BOX_LO, BOX_HI);
    const ais_energy en = {pw_energy_fn, &t, 2, 256};
    ais_params p;
    ais_params_default(&p, 2, 2, BOX_LO, BOX_HI, 17);
    p.energy_base = &b, p.base_moves = moves, p.base_block = block;
    double acc = 0.0;
    ebm_err err = {0};
    if (ais_transitions(&en, &p, beta, 0.02, 20, x, n, &acc, &err))
        fail_msg("ais_transitions: %s", err.msg);
    const double chi2 = grid_chi_square(x, n, cell, total);
    print_message("block %d, %d moves: acceptance %.3f, chi-square %.1f (63 dof, bound 119)\n",
                  block, moves, acc, chi2);
    assert_true(chi2 < 119.0);
    assert_true(acc > 0.05 && acc < 1.0);
    free(x);
    base_free(&b);
}

static void test_ais_base_block_moves_leave_the_target_invariant(void **state)
{
    (void)state;
    check_block_moves_invariant(0, 1); /* the whole state redrawn */
    check_block_moves_invariant(1, 2); /* one pixel at a time */
}

/* Training's kernel (ais_kernel, --train-sampler mala) on a real MLP whose
 * logits are linear in x: hidden biases of +10 keep every ELU on its
 * identity branch over the box, so f_k(x) = a_k . x + c_k exactly (up to
 * float rounding) and the target base(x) exp(LSE f(x)) is a mixture of two
 * exponentially tilted versions of the wall-piled base: the law below is
 * computed from the knots and a_k, c_k, not from the model code. From
 * uniform starts, 200 draws of 1 sweep each (2 block moves, the first on all
 * pixels, the second on one; one MALA step), eta adapted between draws as in
 * training; the chains' final states against the exact law on an 8 x 8 grid
 * (chi-square, 63 dof, bound 119 as above). */
static void test_ais_training_kernel_leaves_the_model_invariant(void **state)
{
    (void)state;
    pw_energy t;
    memset(&t, 0, sizeof t);
    t.d = 2, t.pieces = 4;
    const double k0[5] = {3, -2, -3, -1, 2.5}, k1[5] = {4, 0, -2, -4, -6};
    memcpy(t.knot[0], k0, sizeof k0);
    memcpy(t.knot[1], k1, sizeof k1);
    base_density b;
    pw_base(&t, &b);
    const double a[2][2] = {{2.5, 2.5}, {-2.5, 1.0}}, c[2] = {0.0, 0.5};
    model_shape shape;
    model_shape_init(&shape, 2, 4, 2);
    float *params = calloc(shape.n_params, sizeof(float));
    assert_non_null(params);
    for (int u = 0; u < 4; u++) { /* layer 0: units 0, 1 copy x_0, x_1; all +10 */
        if (u < 2)
            params[shape.w_off[0] + (size_t)u * 2 + u] = 1.0f;
        params[shape.b_off[0] + u] = 10.0f;
    }
    for (int l = 1; l <= 2; l++) /* identity */
        for (int u = 0; u < 4; u++)
            params[shape.w_off[l] + (size_t)u * 4 + u] = 1.0f;
    for (int k = 0; k < 2; k++) {
        params[shape.w_off[3] + (size_t)k * 4 + 0] = (float)a[k][0];
        params[shape.w_off[3] + (size_t)k * 4 + 1] = (float)a[k][1];
        params[shape.b_off[3] + k] = (float)(c[k] - 10.0 * (a[k][0] + a[k][1]));
    }
    double cell[GRID_NB][GRID_NB];
    const base_times_affine target = {&t, a, c};
    const double total = grid_cell_masses(base_times_affine_density, &target, cell);
    const int n = 10000, cap = 2000;
    float *x = malloc((size_t)n * 2 * sizeof(float));
    assert_non_null(x);
    ebm_rng rng;
    rng_derive(&rng, 9, RNG_ITEM, 0, 0);
    rng_fill_uniform(&rng, x, (size_t)n * 2, BOX_LO, BOX_HI);
    const ais_kernel_params kp = {.sweeps = 1, .base_moves = 2, .base_block = 1,
                                  .step_size = 0.002, .adapt_gain = AIS_KERNEL_ADAPT_GAIN,
                                  .lo = BOX_LO, .hi = BOX_HI, .base = &b};
    ais_kernel *kn = NULL;
    ebm_err err = {0};
    if (ais_kernel_init(&kn, &kp, &shape, params, cap, &err))
        fail_msg("ais_kernel_init: %s", err.msg);
    for (int draw = 0; draw < 200; draw++)
        for (int at = 0; at < n; at += cap)
            if (ais_kernel_run(kn, params, &rng, cap, x + (size_t)at * 2, &err))
                fail_msg("ais_kernel_run: %s", err.msg);
    const ais_kernel_stats *st = ais_kernel_get_stats(kn);
    const double chi2 = grid_chi_square(x, n, cell, total);
    const double block_acc = st->block_accepted / st->block_proposed;
    const double mala_acc = st->mala_accepted / st->mala_proposed;
    print_message("training kernel: block acceptance %.3f, MALA %.3f (eta %.2e), "
                  "chi-square %.1f (63 dof, bound 119)\n",
                  block_acc, mala_acc, st->eta, chi2);
    assert_true(chi2 < 119.0);
    assert_true(block_acc > 0.05 && block_acc < 1.0);
    assert_true(mala_acc > 0.05 && mala_acc < 1.0);
    ais_kernel_free(kn);
    free(x);
    free(params);
    base_free(&b);
}

/* 64 pixels of 17 pieces shaped like the digits' bases: mass against one
 * wall (3 pixels in 8) or both (the rest), raw knots. */
static void digit_like_knots(pw_energy *t)
{
    for (int j = 0; j < t->d; j++)
        for (int k = 0; k <= t->pieces; k++) {
            const double r = (double)k / t->pieces;
            t->knot[j][k] = j % 8 < 3 ? 4.0 - 14.0 * r + 0.1 * j              /* background */
                                      : 9.0 * (2 * r - 1) * (2 * r - 1) - 0.05 * j; /* stroke */
        }
}

/* The base alone from the uniform box (issue 23): a 64-pixel density whose
 * pixels pile their mass against one wall (24 of them) or both (40), and an
 * energy offset c = -log 10 as a zero network's -LSE of 10 zero logits.
 * log Z = -c + sum_j log Z_j in closed form, Z_j the sum of the pieces'
 * masses h (e^a1 - e^a0) / (a1 - a0) (h e^a0 when equal). AIS from the uniform box with the
 * block moves: within 0.5 nats at T = 600 (64 chains); RAISE from exact
 * samples of the target (the base's) below the exact log density and within
 * 1 nat of it. */
static void test_ais_uniform_start_measures_the_base(void **state)
{
    (void)state;
    pw_energy t;
    memset(&t, 0, sizeof t);
    t.d = 64, t.pieces = PW_PIECES, t.c = -log(10.0), t.w = 0.0;
    digit_like_knots(&t);
    double exact = -t.c;
    const double h = ((double)BOX_HI - BOX_LO) / t.pieces;
    for (int j = 0; j < t.d; j++) {
        double zj = 0.0;
        for (int k = 0; k < t.pieces; k++) {
            const double a0 = t.knot[j][k], a1 = t.knot[j][k + 1];
            zj += a1 == a0 ? h * exp(a0) : h * (exp(a1) - exp(a0)) / (a1 - a0);
        }
        exact += log(zj);
    }
    base_density b;
    pw_base(&t, &b);
    const ais_energy en = {pw_energy_fn, &t, t.d, 64};
    ais_params p;
    ais_params_default(&p, 600, 64, BOX_LO, BOX_HI, 23);
    p.energy_base = &b, p.base_moves = 1, p.base_block = 0;
    ais_result r;
    double steps[601];
    ebm_err err = {0};
    if (ais_log_z_steps(test_ctx(), &en, &p, steps, &r, &err))
        fail_msg("ais_log_z: %s", err.msg);
    print_message("uniform start with block moves: log Z %.3f +- %.3f (exact %.3f), ESS %.1f\n",
                  r.log_z, r.log_z_se, exact, r.ess);
    assert_true(fabs(r.log_z - exact) < 0.5);
    /* RAISE from 32 exact samples of the target */
    enum { NR = 32 };
    float *x = malloc((size_t)NR * t.d * sizeof(float));
    assert_non_null(x);
    ebm_rng rng;
    rng_derive(&rng, 9, RNG_ITEM, 0, 0);
    base_sample(&b, &rng, x, NR);
    double lp[NR], e[NR], gap = 0.0;
    ais_raise_stats st;
    if (ais_raise(test_ctx(), &en, &p, steps, x, NR, 0, NR, lp, &st, &err))
        fail_msg("ais_raise: %s", err.msg);
    pw_energy_fn(&t, x, NR, e, NULL, NULL);
    for (int i = 0; i < NR; i++)
        gap += (-e[i] - exact - lp[i]) / NR;
    print_message("RAISE: mean exact log p - RAISE %.3f nats\n", gap);
    assert_true(gap > -0.05 && gap < 1.0);
    free(x);
    base_free(&b);
}

/* eval --loglik's path (ais_loglik_run) on a checkpoint-like model: every
 * network weight zero (E_net = -log 10) plus a normalised 64-pixel base, so
 * log Z = log 10 exactly and the model is the base, whose dequantised
 * log-likelihood is exact (ais_loglik_result.logp_base). Uniform-start AIS
 * within 0.5 nats of log 10 at T = 400; AIS and RAISE within 1 nat of the
 * base's figure, RAISE below AIS on the same draws by less than 1 nat (the
 * -0.3 allowance covers log Z's error and the noise of 8 examples). */
static void test_ais_loglik_run_zero_network_with_base(void **state)
{
    (void)state;
    enum { D = 64, H = 3, K = 10, N = 8 };
    ais_model m;
    memset(&m, 0, sizeof m);
    model_shape_init(&m.shape, D, H, K);
    m.params = calloc(m.shape.n_params, sizeof(float));
    assert_non_null(m.params);
    m.value_min = 0.0, m.value_max = 16.0;
    const data_info info = {.d = D, .value_min = 0.0, .value_max = 16.0};
    m.map = data_input_map(&info, 1);
    pw_energy t;
    memset(&t, 0, sizeof t);
    t.d = D, t.pieces = PW_PIECES;
    digit_like_knots(&t);
    base_density b;
    pw_base(&t, &b);
    assert_true(b.lo == -1.0f && b.hi == 1.0f);
    m.base = &b;
    float images[N * D];
    int32_t labels[N] = {0};
    ebm_rng rng;
    rng_derive(&rng, 4, RNG_ITEM, 0, 0);
    float x[D];
    for (int i = 0; i < N; i++) { /* images of the base: levels of its samples */
        base_sample(&b, &rng, x, 1);
        for (int j = 0; j < D; j++) {
            const int l = (int)floor((x[j] + 1.0f) / 2.0f * 17.0f);
            images[i * D + j] = (float)(l > 16 ? 16 : l);
        }
    }
    const data_shard shard = {N, 0, N, D, images, labels};
    ais_loglik_result r;
    ebm_err err = {0};
    if (ais_loglik_run(test_ctx(), &m, &shard, 400, 64, NULL, &r, &err))
        fail_msg("ais_loglik_run: %s", err.msg);
    print_message("zero network + base: log Z %.3f (exact %.3f), ESS %.1f; AIS %.2f, RAISE "
                  "%.2f, base alone %.2f nats/image; block acceptance %.3f\n",
                  r.z.log_z, log(10.0), r.z.ess, r.logp_disc, r.logp_raise, r.logp_base,
                  r.z.base_acceptance);
    assert_true(fabs(r.z.log_z - log(10.0)) < 0.5);
    assert_true(r.has_base);
    assert_true(fabs(r.logp_disc - r.logp_base) < 1.0);
    /* RAISE reads one dequantised draw per example: against AIS on the same
     * draws (exact but for log Z's error) it must lie below and close. */
    print_message("gap AIS - RAISE on the same draws %.3f +- %.3f\n", r.gap, r.gap_se);
    assert_true(r.gap > -0.3 && r.gap < 1.0);
    assert_true(fabs(r.logp_raise - r.logp_base) < 1.0);
    free((float *)m.params);
    base_free(&b);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ais_log_z_linear_energy_matches_closed_form),
        cmocka_unit_test(test_ais_log_z_linear_energy_geometric_schedule),
        cmocka_unit_test(test_ais_log_z_quadratic_energy_matches_erf),
        cmocka_unit_test(test_ais_log_z_linear_energy_hmc_trajectories),
        cmocka_unit_test(test_ais_log_z_flat_energy_is_uniform_base),
        cmocka_unit_test(test_ais_log_z_independent_of_batching),
        cmocka_unit_test(test_ais_log_z_from_base_density),
        cmocka_unit_test(test_ais_log_z_rejects_bad_params),
        cmocka_unit_test(test_ais_schedule_fill_endpoints_and_order),
        cmocka_unit_test(test_ais_log_mean_exp_direct_values),
        cmocka_unit_test(test_ais_dequant_every_level_in_box_stable_map),
        cmocka_unit_test(test_ais_dequant_every_level_in_box_identity_map),
        cmocka_unit_test(test_ais_dequant_level_rejects_non_levels),
        cmocka_unit_test(test_ais_loglik_run_uniform_model_stable_map),
        cmocka_unit_test(test_ais_loglik_run_uniform_model_identity_map),
        cmocka_unit_test(test_ais_loglik_run_rejects_non_integer_pixels),
        cmocka_unit_test(test_ais_raise_zero_transitions_is_base),
        cmocka_unit_test(test_ais_loglik_choose_steps_rule),
        cmocka_unit_test(test_ais_raise_sandwich_gaussian_mixture),
        cmocka_unit_test(test_ais_base_block_moves_leave_the_target_invariant),
        cmocka_unit_test(test_ais_training_kernel_leaves_the_model_invariant),
        cmocka_unit_test(test_ais_uniform_start_measures_the_base),
        cmocka_unit_test(test_ais_loglik_run_zero_network_with_base),
    };
    return harness_run(argc, argv, "test_ais", tests, HARNESS_COUNT(tests), NULL, NULL);
}
