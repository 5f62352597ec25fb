/* test_mh_kernel.c: the base-block independence proposal (ebm/mh_kernel.h).
 * Its use in a Metropolis-Hastings kernel (invariance of the target) is
 * tested through the annealing and training's kernel in test_ais.c. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "ebm/mh_kernel.h"
#include "num/base_density.h"
#include "core/rng.h"

enum { D = 16, BLOCK = 3, TRIALS = 40000 };

/* A flat base on [-1, 1]: every pixel uniform, so a redrawn pixel is U[-1, 1]
 * (mean 0, variance 1/3) and the kept ones stay where they were. */
static void flat_base(base_density *b)
{
    ebm_err err = {0};
    assert_int_equal(base_alloc(b, D, 4, -1.0f, 1.0f, &err), 0);
    const double a[5] = {0, 0, 0, 0, 0};
    for (int j = 0; j < D; j++)
        base_set_pixel(b, j, a);
}

/* Exactly BLOCK distinct pixels change, each pixel is in the block with
 * probability BLOCK / D (a uniform random subset), every pair of pixels with
 * probability BLOCK (BLOCK - 1) / (D (D - 1)), and the new values are the
 * base's: U[-1, 1]. Tolerances: 5 binomial standard deviations. */
static void test_mh_block_propose_redraws_a_uniform_random_block(void **state)
{
    (void)state;
    base_density b;
    flat_base(&b);
    float x[D], y[D], draw[D];
    int perm[D];
    for (int j = 0; j < D; j++)
        x[j] = 5.0f; /* outside the box: a changed pixel is unmistakable */
    ebm_rng rng;
    rng_derive(&rng, 3, RNG_ITEM, 0, 0);
    double chosen[D] = {0}, pair01 = 0, sum = 0, sum2 = 0, n_values = 0;
    for (int t = 0; t < TRIALS; t++) {
        assert_int_equal(mh_block_propose(&b, &rng, x, D, BLOCK, draw, perm, y), BLOCK);
        int changed = 0;
        for (int j = 0; j < D; j++)
            if (y[j] != x[j]) {
                assert_true(y[j] >= -1.0f && y[j] <= 1.0f);
                changed++, chosen[j] += 1.0;
                sum += y[j], sum2 += (double)y[j] * y[j], n_values += 1.0;
            }
        assert_int_equal(changed, BLOCK);
        pair01 += (y[0] != x[0]) && (y[1] != x[1]);
    }
    const double p = (double)BLOCK / D, sd = sqrt(TRIALS * p * (1 - p));
    for (int j = 0; j < D; j++)
        if (fabs(chosen[j] - TRIALS * p) > 5 * sd)
            fail_msg("pixel %d chosen %.0f times of %d (expected %.0f +- %.0f)", j, chosen[j],
                     TRIALS, TRIALS * p, sd);
    const double q = (double)BLOCK * (BLOCK - 1) / (D * (D - 1.0));
    assert_true(fabs(pair01 - TRIALS * q) < 5 * sqrt(TRIALS * q * (1 - q)));
    const double mean = sum / n_values, var = sum2 / n_values - mean * mean;
    assert_true(fabs(mean) < 5 * sqrt(1.0 / 3.0 / n_values));
    assert_true(fabs(var - 1.0 / 3.0) < 0.01);
    base_free(&b);
}

/* block 0 (and block >= d) redraws every pixel. */
static void test_mh_block_propose_whole_state(void **state)
{
    (void)state;
    base_density b;
    flat_base(&b);
    float x[D], y[D], draw[D];
    int perm[D];
    for (int j = 0; j < D; j++)
        x[j] = 5.0f;
    ebm_rng rng;
    rng_derive(&rng, 4, RNG_ITEM, 0, 0);
    assert_int_equal(mh_block_propose(&b, &rng, x, D, 0, draw, perm, y), D);
    for (int j = 0; j < D; j++)
        assert_true(y[j] >= -1.0f && y[j] <= 1.0f);
    assert_int_equal(mh_block_propose(&b, &rng, x, D, D + 5, draw, perm, y), D);
    for (int j = 0; j < D; j++)
        assert_true(y[j] >= -1.0f && y[j] <= 1.0f);
    base_free(&b);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mh_block_propose_redraws_a_uniform_random_block),
        cmocka_unit_test(test_mh_block_propose_whole_state),
    };
    return harness_run(argc, argv, "test_mh_kernel", tests, HARNESS_COUNT(tests), NULL, NULL);
}
