/* test_diverge.c: src/core/diverge.h. The bounds are their definition,
 * computed here by hand for a small history (4 x the largest |E| or gap plus
 * 20, 4 x the largest loss of the last 5 epochs plus 5); each figure just
 * inside its bound passes and just beyond it, or non-finite, fails; without
 * samples only E(x) and the loss count; no history, no judgement. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "core/diverge.h"

static void history(metrics_row *rows)
{
    memset(rows, 0, 7 * sizeof *rows);
    const double e_data[7] = {-3, -6, -8, -9, -9.5, -9, -8};
    const double e_sample[7] = {-4, -8, -9, -10, -10.5, -9.5, -8.5};
    const double loss[7] = {9.0, 1.2, 0.8, 0.7, 0.6, 0.5, 0.4}; /* epoch 1's not in the last 5 */
    for (int i = 0; i < 7; i++)
        rows[i].energy_data = e_data[i], rows[i].energy_sample = e_sample[i],
        rows[i].train_loss = loss[i];
}

static void test_diverge_bounds_by_hand(void **state)
{
    (void)state;
    metrics_row rows[7];
    history(rows);
    const diverge_bounds b = diverge_bounds_from(rows, 7, 1);
    assert_true(b.active);
    assert_true(fabs(b.energy - (4 * 10.5 + 20)) < 1e-12);
    assert_true(fabs(b.gap - (4 * 2.0 + 20)) < 1e-12); /* epoch 2: -6 vs -8 */
    assert_true(fabs(b.loss - (4 * 0.8 + 5)) < 1e-12);  /* epochs 3-7 */
    const diverge_bounds plain = diverge_bounds_from(rows, 7, 0);
    assert_true(fabs(plain.energy - (4 * 9.5 + 20)) < 1e-12);
    assert_true(isinf(plain.gap));
    assert_false(diverge_bounds_from(rows, 0, 1).active);
}

static void test_diverge_check_each_figure(void **state)
{
    (void)state;
    metrics_row rows[7];
    history(rows);
    const diverge_bounds b = diverge_bounds_from(rows, 7, 1); /* E 62, gap 28, loss 8.2 */
    char why[128];
    assert_false(diverge_check(&b, 8.19, -61.9, -61.9 + 27.9, why, sizeof why));
    assert_true(diverge_check(&b, 0.5, -62.1, -62.0, why, sizeof why));
    assert_non_null(strstr(why, "|E(x)|"));
    assert_true(diverge_check(&b, 0.5, -10, 62.1, why, sizeof why));
    assert_non_null(strstr(why, "|E(x~)|"));
    assert_true(diverge_check(&b, 0.5, -10, 18.1, why, sizeof why));
    assert_non_null(strstr(why, "gap"));
    assert_true(diverge_check(&b, 8.21, -10, -10, why, sizeof why));
    assert_non_null(strstr(why, "loss"));
    assert_true(diverge_check(&b, NAN, -10, -10, why, sizeof why));
    assert_true(diverge_check(&b, 0.5, INFINITY, -10, why, sizeof why));
    /* Without samples their energy is not judged. */
    const diverge_bounds plain = diverge_bounds_from(rows, 7, 0);
    assert_false(diverge_check(&plain, 0.5, -10, 1e9, why, sizeof why));
    /* Before the first epoch ends nothing is judged. */
    const diverge_bounds none = diverge_bounds_from(rows, 0, 1);
    assert_false(diverge_check(&none, 1e9, 1e9, -1e9, why, sizeof why));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diverge_bounds_by_hand),
        cmocka_unit_test(test_diverge_check_each_figure),
    };
    return harness_run(argc, argv, "test_diverge", tests, HARNESS_COUNT(tests), NULL, NULL);
}
