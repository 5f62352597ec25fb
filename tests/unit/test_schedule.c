/* test_schedule.c: the learning-rate schedule at given steps against its
 * closed form, and the weight average of known sequences against the
 * weighted mean it stands for. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "num/schedule.h"

#define PI 3.14159265358979323846

static void assert_close(double got, double want, double tol)
{
    if (fabs(got - want) > tol * (fabs(want) > 1 ? fabs(want) : 1))
        fail_msg("got %.17g, want %.17g", got, want);
}

static void test_lr_const_is_lr_at_every_step(void **state)
{
    (void)state;
    const lr_schedule s = {1e-3, LR_CONST, 0.1, 0, 400};
    for (int64_t k = 0; k < 400; k += 37)
        assert_true(lr_schedule_at(&s, k) == 1e-3);
}

/* Warm-up over 40 steps (2 epochs of 20): lr (k+1)/40, then lr. */
static void test_lr_warmup_is_linear_then_constant(void **state)
{
    (void)state;
    const lr_schedule s = {1e-3, LR_CONST, 0, 40, 400};
    assert_close(lr_schedule_at(&s, 0), 1e-3 / 40, 1e-15);
    assert_close(lr_schedule_at(&s, 9), 1e-3 * 10 / 40, 1e-15);
    assert_close(lr_schedule_at(&s, 39), 1e-3, 1e-15);
    assert_true(lr_schedule_at(&s, 40) == 1e-3);
    assert_true(lr_schedule_at(&s, 399) == 1e-3);
    for (int64_t k = 1; k < 40; k++)
        assert_true(lr_schedule_at(&s, k) > lr_schedule_at(&s, k - 1));
}

/* Cosine from step W to T - 1, floor f: the closed form at its ends, middle
 * and a quarter, and monotone in between. */
static void test_lr_cosine_closed_form(void **state)
{
    (void)state;
    const double lr = 2e-3, f = 0.1;
    const lr_schedule s = {lr, LR_COSINE, f, 20, 401}; /* cosine over steps 20..400 */
    assert_close(lr_schedule_at(&s, 19), lr, 1e-15);       /* warm-up's last */
    assert_close(lr_schedule_at(&s, 20), lr, 1e-15);       /* q = 0 */
    assert_close(lr_schedule_at(&s, 210), lr * (f + (1 - f) * 0.5), 1e-14); /* q = 1/2 */
    assert_close(lr_schedule_at(&s, 115), lr * (f + (1 - f) * 0.5 * (1 + cos(PI / 4))),
                 1e-14);                                   /* q = 1/4 */
    assert_close(lr_schedule_at(&s, 400), lr * f, 1e-14);  /* the last step */
    assert_close(lr_schedule_at(&s, 450), lr * f, 1e-14);  /* past the end (more epochs) */
    for (int64_t k = 21; k <= 400; k++)
        assert_true(lr_schedule_at(&s, k) < lr_schedule_at(&s, k - 1));
    /* No warm-up, floor 0: the first step has lr, the last 0. */
    const lr_schedule z = {1e-3, LR_COSINE, 0, 0, 400};
    assert_true(lr_schedule_at(&z, 0) == 1e-3);
    assert_close(lr_schedule_at(&z, 399), 0, 1e-18);
    /* One step in all: no division by zero, the floor. */
    const lr_schedule one = {1e-3, LR_COSINE, 0.5, 0, 1};
    assert_close(lr_schedule_at(&one, 0), 0.5e-3, 1e-15);
}

static void test_lr_shape_parse(void **state)
{
    (void)state;
    assert_int_equal(lr_shape_parse("const"), LR_CONST);
    assert_int_equal(lr_shape_parse("cosine"), LR_COSINE);
    assert_int_equal(lr_shape_parse("Cosine"), -1);
    assert_int_equal(lr_shape_parse(""), -1);
}

/* The average after t updates of a known sequence equals the weighted mean
 * sum_s d^(t-s) p_s / sum_s d^(t-s), computed in double. */
static void test_ema_is_the_weighted_mean_of_the_sequence(void **state)
{
    (void)state;
    enum { N = 3, STEPS = 300 };
    const double decays[] = {0.5, 0.9, 0.99, 0.999};
    for (size_t c = 0; c < sizeof decays / sizeof decays[0]; c++) {
        const double d = decays[c];
        float avg[N] = {123.0f, -7.0f, 1e6f}; /* whatever: update 1 overwrites it */
        float p[N];
        for (int64_t t = 1; t <= STEPS; t++) {
            for (int i = 0; i < N; i++)
                p[i] = (float)(sin(0.1 * (double)t + i) + 0.01 * (double)t * (i - 1));
            ema_update(N, avg, p, d, t);
            if (t == 1)
                for (int i = 0; i < N; i++)
                    assert_true(avg[i] == p[i]); /* exactly the first weights */
            if (t % 50 != 0 && t != 1)
                continue;
            for (int i = 0; i < N; i++) {
                double num = 0, den = 0;
                for (int64_t s = 1; s <= t; s++) {
                    const double ps = (double)(float)(sin(0.1 * (double)s + i) +
                                                      0.01 * (double)s * (i - 1));
                    num += pow(d, (double)(t - s)) * ps;
                    den += pow(d, (double)(t - s));
                }
                /* float32 accumulation over t updates: a few ulp of the
                 * values' scale (at most about 4) per update is far below. */
                assert_close(avg[i], num / den, 2e-5);
            }
        }
    }
}

/* A constant sequence stays exactly constant (keep + w = 1 in float). */
static void test_ema_of_a_constant_and_the_closed_form_steady_state(void **state)
{
    (void)state;
    float avg[1] = {0}, p[1] = {0.75f};
    for (int64_t t = 1; t <= 1000; t++)
        ema_update(1, avg, p, 0.99, t);
    assert_close(avg[0], 0.75, 1e-6);
    /* A step from 0 to 1 after 100 updates of 0: after k more updates the
     * average is (1 - d^k) / (1 - d^(100+k)). */
    float a[1] = {0}, x[1] = {0};
    const double d = 0.95;
    for (int64_t t = 1; t <= 100; t++)
        ema_update(1, a, x, d, t);
    x[0] = 1;
    for (int64_t k = 1; k <= 60; k++) {
        ema_update(1, a, x, d, 100 + k);
        assert_close(a[0], (1 - pow(d, (double)k)) / (1 - pow(d, 100.0 + (double)k)), 1e-5);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lr_const_is_lr_at_every_step),
        cmocka_unit_test(test_lr_warmup_is_linear_then_constant),
        cmocka_unit_test(test_lr_cosine_closed_form),
        cmocka_unit_test(test_lr_shape_parse),
        cmocka_unit_test(test_ema_is_the_weighted_mean_of_the_sequence),
        cmocka_unit_test(test_ema_of_a_constant_and_the_closed_form_steady_state),
    };
    return harness_run(argc, argv, "test_schedule", tests, HARNESS_COUNT(tests), NULL, NULL);
}
