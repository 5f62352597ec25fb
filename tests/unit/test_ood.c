/* test_ood.c: src/ebm/ood.h. AUROC against its definition counted pair by
 * pair (an O(n^2) loop written here, independent of the rank-sum code), and
 * the closed cases: a set against itself 0.5, separated sets 1 and 0. The
 * synthetic inputs: uniform values in the box with the box's mean, shuffled
 * rows that are permutations of the originals. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "ebm/ood.h"

static double pairwise_auroc(const double *in, int n_in, const double *out, int n_out)
{
    double wins = 0.0;
    for (int i = 0; i < n_in; i++)
        for (int j = 0; j < n_out; j++)
            wins += in[i] > out[j] ? 1.0 : in[i] == out[j] ? 0.5 : 0.0;
    return wins / ((double)n_in * n_out);
}

static void test_ood_auroc_closed_cases(void **state)
{
    (void)state;
    const double a[] = {3.0, -1.0, 2.5, 2.5, 7.0}, far[] = {-10.0, -20.0, -11.0};
    double auc;
    ebm_err err = {0};
    assert_int_equal(ood_auroc(a, 5, a, 5, &auc, &err), 0);
    assert_true(auc == 0.5); /* every pair of equal values is a tie */
    assert_int_equal(ood_auroc(a, 5, far, 3, &auc, &err), 0);
    assert_true(auc == 1.0);
    assert_int_equal(ood_auroc(far, 3, a, 5, &auc, &err), 0);
    assert_true(auc == 0.0);
    assert_int_equal(ood_auroc(a, 0, far, 3, &auc, &err), -1);
    assert_non_null(strstr(err.msg, "both sets"));
}

static void test_ood_auroc_matches_pair_counting(void **state)
{
    (void)state;
    ebm_rng rng;
    rng_derive(&rng, 5, RNG_RANK, 0, 0);
    for (int trial = 0; trial < 20; trial++) {
        const int n_in = 1 + (int)rng_below(&rng, 60), n_out = 1 + (int)rng_below(&rng, 60);
        double in[60], out[60];
        /* Coarse values (a tenth) so that ties occur, shifted per trial. */
        for (int i = 0; i < n_in; i++)
            in[i] = floor(10.0 * rng_uniform(&rng)) / 10.0 + 0.03 * trial;
        for (int i = 0; i < n_out; i++)
            out[i] = floor(10.0 * rng_uniform(&rng)) / 10.0;
        double auc;
        ebm_err err = {0};
        assert_int_equal(ood_auroc(in, n_in, out, n_out, &auc, &err), 0);
        /* Both are ratios of small integers (halves) over n_in n_out: equal up
         * to rounding of the rank-sum's doubles. */
        assert_true(fabs(auc - pairwise_auroc(in, n_in, out, n_out)) < 1e-12);
    }
}

static void test_ood_synthetic_inputs(void **state)
{
    (void)state;
    enum { N = 400, D = 16 };
    static float x[N * D], orig[N * D];
    ebm_rng rng;
    rng_derive(&rng, 7, RNG_RANK, 0, 0);
    ood_uniform(x, N, D, 0.0f, 16.0f, &rng);
    double sum = 0.0;
    for (int i = 0; i < N * D; i++) {
        assert_true(x[i] >= 0.0f && x[i] <= 16.0f);
        sum += x[i];
    }
    /* Mean of U[0,16] is 8 with sd 16/sqrt(12) per value: 6400 values give a
     * standard error of 0.058; 0.3 is over 5 of them. */
    assert_true(fabs(sum / (N * D) - 8.0) < 0.3);
    for (int i = 0; i < N * D; i++)
        orig[i] = x[i] = (float)(i % D) + 100.0f * (float)(i / D);
    ood_shuffle_rows(x, N, D, &rng);
    int moved_rows = 0;
    for (int r = 0; r < N; r++) {
        int seen[D] = {0}, moved = 0;
        for (int c = 0; c < D; c++) {
            const float v = x[r * D + c];
            const int col = (int)(v - 100.0f * (float)r);
            assert_true(col >= 0 && col < D && v == orig[r * D + col]); /* its own row's value */
            seen[col]++;
            moved |= col != c;
        }
        for (int c = 0; c < D; c++)
            assert_int_equal(seen[c], 1); /* a permutation */
        moved_rows += moved;
    }
    assert_true(moved_rows >= N - 1); /* 1/16! chance to stay put */
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ood_auroc_closed_cases),
        cmocka_unit_test(test_ood_auroc_matches_pair_counting),
        cmocka_unit_test(test_ood_synthetic_inputs),
    };
    return harness_run(argc, argv, "test_ood", tests, HARNESS_COUNT(tests), NULL, NULL);
}
