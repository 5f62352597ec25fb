/* test_baselines.c: the classical models of eval --loglik on small data whose
 * figures follow by hand: histogram counts, a 1-D and a 2-D Gaussian by
 * their textbook formulas (no Cholesky), normalisation over every image, the
 * EM start's published mixing function. The digits' figures are checked
 * against numpy by tests/mpi/loglik_baselines.py. */
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

#include "ebm/baselines.h"

#define PI 3.14159265358979323846

/* Levels 0..2 (value range [0, 2], 3 levels, cells of width 2/3). */
static void levels(const float *img, int n, int d, baseline_levels *out)
{
    ebm_err err = {0};
    if (baseline_levels_from(img, n, d, 0.0, 3, "test", out, &err))
        fail_msg("baseline_levels_from: %s", err.msg);
}

static void fit(const baseline_levels *tr, const baseline_levels *va, baseline_models *m)
{
    ebm_err err = {0};
    if (baseline_fit(tr, va, 0.0, 2.0, m, &err))
        fail_msg("baseline_fit: %s", err.msg);
}

static void test_baselines_indep_and_uniform_by_hand(void **state)
{
    (void)state;
    /* pixel 0: levels 0, 0, 2, 1; pixel 1: 1, 1, 1, 1 */
    const float img[] = {0, 1, 0, 1, 2, 1, 1, 1};
    baseline_levels tr, va;
    levels(img, 4, 2, &tr);
    levels(img, 4, 2, &va);
    baseline_models m;
    fit(&tr, &va, &m);
    const uint8_t x[2] = {0, 1};
    /* (2 + 1) / (4 + 3) and (4 + 1) / (4 + 3) */
    assert_true(fabs(baseline_indep_logp(&m, x) - (log(3.0 / 7) + log(5.0 / 7))) < 1e-12);
    const uint8_t y[2] = {2, 0};
    assert_true(fabs(baseline_indep_logp(&m, y) - (log(2.0 / 7) + log(1.0 / 7))) < 1e-12);
    assert_true(fabs(baseline_uniform_logp(&m) - (-2 * log(3.0))) < 1e-12);
    baseline_models_free(&m);
    baseline_levels_free(&tr), baseline_levels_free(&va);
}

/* Every model of the levels is a distribution: the 9 images' probabilities
 * sum to 1 (the mixture's and the independent model's exactly; the
 * Gaussian's bound to less). */
static void test_baselines_distributions_sum_to_one(void **state)
{
    (void)state;
    const float img[] = {0, 1, 0, 2, 2, 1, 1, 1, 2, 2, 0, 0, 1, 0};
    baseline_levels tr, va;
    levels(img, 7, 2, &tr);
    levels(img, 3, 2, &va);
    baseline_models m;
    fit(&tr, &va, &m);
    double s_ind = 0, s_mix = 0, s_gau = 0;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            const uint8_t x[2] = {(uint8_t)a, (uint8_t)b};
            s_ind += exp(baseline_indep_logp(&m, x));
            s_mix += exp(baseline_mix_logp(&m, x));
            s_gau += exp(baseline_gauss_logp(&m, x));
        }
    print_message("sums: indep %.15f, mixture %.15f, Gaussian bound %.6f\n", s_ind, s_mix,
                  s_gau);
    assert_true(fabs(s_ind - 1.0) < 1e-12);
    assert_true(fabs(s_mix - 1.0) < 1e-12);
    assert_true(s_gau < 1.0 && s_gau > 0.3);
    baseline_models_free(&m);
    baseline_levels_free(&tr), baseline_levels_free(&va);
}

/* The Gaussian in 2-D by the textbook formulas: cell centres c = (k + 1/2) w,
 * mean and covariance (1/n) of the centres plus w^2/12 I, then
 * E_u log N = log N(c) - (w^2 / 24) tr(S^-1), plus 2 log w. */
static void test_baselines_gauss_2d_by_hand(void **state)
{
    (void)state;
    const float img[] = {0, 0, 1, 2, 2, 1, 1, 1, 0, 1};
    baseline_levels tr;
    levels(img, 5, 2, &tr);
    baseline_models m;
    fit(&tr, &tr, &m);
    const double w = 2.0 / 3.0;
    double c[5][2], mu[2] = {0, 0};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 2; j++) {
            c[i][j] = (img[2 * i + j] + 0.5) * w;
            mu[j] += c[i][j] / 5;
        }
    double s00 = 0, s01 = 0, s11 = 0;
    for (int i = 0; i < 5; i++) {
        s00 += (c[i][0] - mu[0]) * (c[i][0] - mu[0]) / 5;
        s01 += (c[i][0] - mu[0]) * (c[i][1] - mu[1]) / 5;
        s11 += (c[i][1] - mu[1]) * (c[i][1] - mu[1]) / 5;
    }
    s00 += w * w / 12, s11 += w * w / 12;
    const double det = s00 * s11 - s01 * s01;
    const double i00 = s11 / det, i01 = -s01 / det, i11 = s00 / det;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            const double r0 = (a + 0.5) * w - mu[0], r1 = (b + 0.5) * w - mu[1];
            const double q = r0 * r0 * i00 + 2 * r0 * r1 * i01 + r1 * r1 * i11;
            const double want = -0.5 * q - log(2 * PI) - 0.5 * log(det) -
                                w * w / 24 * (i00 + i11) + 2 * log(w);
            const uint8_t x[2] = {(uint8_t)a, (uint8_t)b};
            assert_true(fabs(baseline_gauss_logp(&m, x) - want) < 1e-10);
        }
    baseline_models_free(&m);
    baseline_levels_free(&tr);
}

static void test_baselines_mix_init_is_splitmix64(void **state)
{
    (void)state;
    /* splitmix64's first output from state 0 is 0xE220A8397B1DCDAF (its
     * reference implementation); mod 10 = 5. */
    assert_int_equal(baseline_mix_init_component(0, 0), (int)(0xE220A8397B1DCDAFULL % 10));
    int seen[BASELINE_MIX_K] = {0};
    for (int i = 0; i < 1000; i++)
        seen[baseline_mix_init_component(1, i)]++;
    for (int k = 0; k < BASELINE_MIX_K; k++)
        assert_true(seen[k] > 50); /* every component starts with examples */
}

static void test_baselines_refuse_non_levels(void **state)
{
    (void)state;
    const float img[] = {0, 1.5f};
    baseline_levels l;
    ebm_err err = {0};
    assert_int_equal(baseline_levels_from(img, 1, 2, 0.0, 3, "val", &l, &err), -1);
    assert_non_null(strstr(err.msg, "pixel 1 of val example 0"));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baselines_indep_and_uniform_by_hand),
        cmocka_unit_test(test_baselines_distributions_sum_to_one),
        cmocka_unit_test(test_baselines_gauss_2d_by_hand),
        cmocka_unit_test(test_baselines_mix_init_is_splitmix64),
        cmocka_unit_test(test_baselines_refuse_non_levels),
    };
    return harness_run(argc, argv, "test_baselines", tests, HARNESS_COUNT(tests), NULL, NULL);
}
