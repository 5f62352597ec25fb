/* test_shard.c: shard_range and the per-step plan (docs/design.md section 2) against
 * their definitions, checked in exact integer arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "core/shard.h"

/* ---- independent checks ------------------------------------------------ */

/* shard_range over all ranks: contiguous, disjoint, covering [0, n), sizes
 * differing by at most one, the larger ones first. */
static void check_ranges(int64_t n, int p)
{
    int64_t next = 0, min = INT64_MAX, max = -1;
    for (int r = 0; r < p; r++) {
        int64_t off = -1, cnt = -1;
        shard_range(n, p, r, &off, &cnt);
        if (off != next || cnt < 0)
            fail_msg("N=%lld P=%d rank %d: offset %lld count %lld, expected offset %lld",
                     (long long)n, p, r, (long long)off, (long long)cnt, (long long)next);
        if (r > 0) {
            int64_t poff, pcnt;
            shard_range(n, p, r - 1, &poff, &pcnt);
            if (cnt > pcnt)
                fail_msg("N=%lld P=%d: rank %d has more (%lld) than rank %d (%lld)",
                         (long long)n, p, r, (long long)cnt, r - 1, (long long)pcnt);
        }
        next = off + cnt;
        if (cnt < min)
            min = cnt;
        if (cnt > max)
            max = cnt;
    }
    if (next != n)
        fail_msg("N=%lld P=%d: shards cover [0,%lld), not [0,%lld)", (long long)n, p,
                 (long long)next, (long long)n);
    if (max - min > 1)
        fail_msg("N=%lld P=%d: shard sizes from %lld to %lld", (long long)n, p, (long long)min,
                 (long long)max);
}

/* Small deterministic generator for the simulated trainer's permutations
 * (independent of rng.h, which has its own tests). */
static uint64_t lcg_next(uint64_t *x)
{
    *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
    return *x >> 33;
}

/* Builds the plan for (N, B, P) and checks every property docs/design.md section 2
 * asks of it; simulates the trainer to show each example is used exactly once
 * per epoch. */
static void check_plan(int64_t n, int b, int p)
{
    check_ranges(n, p);
    shard_plan plan;
    ebm_err err = {0};
    if (shard_plan_init(&plan, n, b, p, &err) != 0)
        fail_msg("N=%lld B=%d P=%d: shard_plan_init failed: %s", (long long)n, b, p, err.msg);
    const int64_t s_expect = (n + b - 1) / b;
    if (plan.n_steps != s_expect || plan.n_examples != n || plan.batch_size != b ||
        plan.world_size != p)
        fail_msg("N=%lld B=%d P=%d: plan has S=%d N=%lld B=%d P=%d, expected S=%lld",
                 (long long)n, b, p, plan.n_steps, (long long)plan.n_examples, plan.batch_size,
                 plan.world_size, (long long)s_expect);
    const int s_count = plan.n_steps;

    int64_t *shard_off = calloc((size_t)p, sizeof *shard_off);
    int64_t *shard_n = calloc((size_t)p, sizeof *shard_n);
    int64_t *row_sum = calloc((size_t)p, sizeof *row_sum);
    assert_non_null(shard_off);
    assert_non_null(shard_n);
    assert_non_null(row_sum);
    for (int r = 0; r < p; r++)
        shard_range(n, p, r, &shard_off[r], &shard_n[r]);

    for (int s = 0; s < s_count; s++) {
        /* A single process: full batches of B, the last one what is left. */
        const int64_t bs = s < s_count - 1 ? b : n - (int64_t)(s_count - 1) * b;
        if (bs < 1 || bs > b)
            fail_msg("N=%lld B=%d: step %d would have %lld examples", (long long)n, b, s,
                     (long long)bs);
        if (shard_step_batch(&plan, s) != bs)
            fail_msg("N=%lld B=%d P=%d: shard_step_batch(%d) = %d, expected %lld", (long long)n,
                     b, p, s, shard_step_batch(&plan, s), (long long)bs);
        int64_t col = 0;
        for (int r = 0; r < p; r++) {
            const int64_t c = shard_count(&plan, s, r);
            /* |c - bs * n_r / N| < 1  <=>  |c * N - bs * n_r| < N */
            int64_t dev = c * n - bs * shard_n[r];
            if (dev < 0)
                dev = -dev;
            if (c < 0 || dev >= n)
                fail_msg("N=%lld B=%d P=%d: step %d rank %d count %lld, ideal %lld*%lld/%lld",
                         (long long)n, b, p, s, r, (long long)c, (long long)bs,
                         (long long)shard_n[r], (long long)n);
            col += c;
            row_sum[r] += c;
        }
        if (col != bs)
            fail_msg("N=%lld B=%d P=%d: step %d uses %lld examples, expected %lld", (long long)n,
                     b, p, s, (long long)col, (long long)bs);
    }
    for (int r = 0; r < p; r++) {
        if (row_sum[r] != shard_n[r])
            fail_msg("N=%lld B=%d P=%d: rank %d uses %lld examples per epoch, owns %lld",
                     (long long)n, b, p, r, (long long)row_sum[r], (long long)shard_n[r]);
        int m = 0;
        for (int s = 0; s < s_count; s++)
            if (shard_count(&plan, s, r) > m)
                m = shard_count(&plan, s, r);
        if (shard_max_count(&plan, r) != m)
            fail_msg("N=%lld B=%d P=%d: shard_max_count(rank %d) = %d, row maximum %d",
                     (long long)n, b, p, r, shard_max_count(&plan, r), m);
    }

    /* The trainer: each rank shuffles its own shard and takes its counts
     * consecutively from that order. Every example must come up exactly once. */
    int *seen = calloc((size_t)n, sizeof *seen);
    int64_t *pos = calloc((size_t)p, sizeof *pos);
    int64_t **perm = calloc((size_t)p, sizeof *perm);
    assert_non_null(seen);
    assert_non_null(pos);
    assert_non_null(perm);
    uint64_t x = (uint64_t)n * 1000003u + (uint64_t)b * 1009u + (uint64_t)p;
    for (int r = 0; r < p; r++) {
        perm[r] = calloc((size_t)(shard_n[r] > 0 ? shard_n[r] : 1), sizeof **perm);
        assert_non_null(perm[r]);
        for (int64_t i = 0; i < shard_n[r]; i++)
            perm[r][i] = shard_off[r] + i;
        for (int64_t i = shard_n[r]; i > 1; i--) {
            const int64_t j = (int64_t)(lcg_next(&x) % (uint64_t)i);
            const int64_t t = perm[r][i - 1];
            perm[r][i - 1] = perm[r][j];
            perm[r][j] = t;
        }
    }
    for (int s = 0; s < s_count; s++)
        for (int r = 0; r < p; r++)
            for (int c = 0; c < shard_count(&plan, s, r); c++) {
                if (pos[r] >= shard_n[r])
                    fail_msg("N=%lld B=%d P=%d: rank %d runs out of examples at step %d",
                             (long long)n, b, p, r, s);
                seen[perm[r][pos[r]++]]++;
            }
    for (int64_t i = 0; i < n; i++)
        if (seen[i] != 1)
            fail_msg("N=%lld B=%d P=%d: example %lld used %d times in an epoch", (long long)n, b,
                     p, (long long)i, seen[i]);

    for (int r = 0; r < p; r++)
        free(perm[r]);
    free(perm);
    free(pos);
    free(seen);
    free(row_sum);
    free(shard_n);
    free(shard_off);
    shard_plan_free(&plan);
    assert_null(plan.counts);
}

/* ---- shard_range -------------------------------------------------------- */

static void test_shard_range_real_case(void **state)
{
    (void)state;
    /* 1257 = 8 * 157 + 1: rank 0 gets 158, the others 157. */
    int64_t off, cnt;
    shard_range(1257, 8, 0, &off, &cnt);
    assert_int_equal(off, 0);
    assert_int_equal(cnt, 158);
    shard_range(1257, 8, 1, &off, &cnt);
    assert_int_equal(off, 158);
    assert_int_equal(cnt, 157);
    shard_range(1257, 8, 7, &off, &cnt);
    assert_int_equal(off, 1257 - 157);
    assert_int_equal(cnt, 157);
    check_ranges(1257, 8);
}

static void test_shard_range_single_rank_owns_all(void **state)
{
    (void)state;
    int64_t off, cnt;
    shard_range(1257, 1, 0, &off, &cnt);
    assert_int_equal(off, 0);
    assert_int_equal(cnt, 1257);
}

static void test_shard_range_sweep(void **state)
{
    (void)state;
    for (int64_t n = 1; n <= 200; n++)
        for (int p = 1; p <= n && p <= 64; p++)
            check_ranges(n, p);
    /* Large N: no overflow in the offsets. */
    check_ranges(INT64_C(60000000000), 7);
    check_ranges(INT64_C(60000000001), 1000);
}

/* ---- shard_plan --------------------------------------------------------- */

static void test_shard_plan_init_real_case(void **state)
{
    (void)state;
    check_plan(1257, 64, 8);
    shard_plan plan;
    ebm_err err = {0};
    assert_int_equal(shard_plan_init(&plan, 1257, 64, 8, &err), 0);
    /* 19 full batches and one of 41 (docs/design.md section 1). */
    assert_int_equal(plan.n_steps, 20);
    assert_int_equal(shard_step_batch(&plan, 0), 64);
    assert_int_equal(shard_step_batch(&plan, 18), 64);
    assert_int_equal(shard_step_batch(&plan, 19), 41);
    /* 64 * 157 / 1257 = 7.99...: every rank gets 8 (or 7) per full step. */
    for (int r = 0; r < 8; r++) {
        assert_true(shard_max_count(&plan, r) <= 9);
        assert_true(shard_count(&plan, 0, r) == 7 || shard_count(&plan, 0, r) == 8 ||
                    shard_count(&plan, 0, r) == 9);
    }
    shard_plan_free(&plan);
}

static void test_shard_plan_init_single_process_matches_loader(void **state)
{
    (void)state;
    /* P = 1 is exactly the notebook's loader: B, B, ..., N - (S-1)B. */
    shard_plan plan;
    ebm_err err = {0};
    assert_int_equal(shard_plan_init(&plan, 1257, 64, 1, &err), 0);
    for (int s = 0; s < 19; s++)
        assert_int_equal(shard_count(&plan, s, 0), 64);
    assert_int_equal(shard_count(&plan, 19, 0), 41);
    assert_int_equal(shard_max_count(&plan, 0), 64);
    shard_plan_free(&plan);
    check_plan(1257, 64, 1);
}

static void test_shard_plan_init_p_not_dividing_n(void **state)
{
    (void)state;
    check_plan(1257, 64, 3);
    check_plan(1257, 64, 5);
    check_plan(1257, 64, 7);
    check_plan(1257, 64, 12);
    check_plan(1000, 64, 6);
    check_plan(270, 64, 4); /* the val split */
}

static void test_shard_plan_init_more_ranks_than_batch(void **state)
{
    (void)state;
    check_plan(100, 3, 7);
    check_plan(50, 8, 40);
    check_plan(1257, 64, 100);
    check_plan(1257, 10, 1257);
    /* Some rank must have zero at some step, yet every row is complete. */
    shard_plan plan;
    ebm_err err = {0};
    assert_int_equal(shard_plan_init(&plan, 100, 3, 7, &err), 0);
    int zeros = 0;
    for (int s = 0; s < plan.n_steps; s++)
        for (int r = 0; r < 7; r++)
            zeros += shard_count(&plan, s, r) == 0;
    assert_true(zeros > 0);
    shard_plan_free(&plan);
}

static void test_shard_plan_init_one_example_per_rank(void **state)
{
    (void)state;
    check_plan(7, 3, 7);
    check_plan(8, 8, 8);
    check_plan(9, 2, 9);
    check_plan(1, 1, 1);
    check_plan(1, 64, 1);
}

static void test_shard_plan_init_batch_larger_than_n(void **state)
{
    (void)state;
    check_plan(10, 64, 3);
    check_plan(63, 64, 8);
    check_plan(64, 64, 8);
    check_plan(65, 64, 8);
    shard_plan plan;
    ebm_err err = {0};
    assert_int_equal(shard_plan_init(&plan, 10, 64, 3, &err), 0);
    assert_int_equal(plan.n_steps, 1);
    assert_int_equal(shard_step_batch(&plan, 0), 10);
    shard_plan_free(&plan);
}

static void test_shard_plan_init_batch_of_one(void **state)
{
    (void)state;
    check_plan(1257, 1, 8);
    check_plan(10, 1, 3);
    check_plan(10, 1, 10);
    check_plan(5, 1, 1);
}

static void test_shard_plan_init_sweep(void **state)
{
    (void)state;
    for (int64_t n = 1; n <= 48; n++)
        for (int p = 1; p <= n; p++)
            for (int b = 1; b <= n + 2; b++)
                check_plan(n, b, p);
    /* A few larger, irregular ones. */
    const int big[][3] = {{997, 13, 11}, {1797, 64, 16}, {2000, 33, 17}, {4099, 100, 64},
                          {511, 512, 3}, {600, 7, 600}, {1000, 999, 999}};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        check_plan(big[i][0], big[i][1], big[i][2]);
}

static void test_shard_plan_init_fails_more_ranks_than_examples(void **state)
{
    (void)state;
    shard_plan plan;
    ebm_err err = {0};
    assert_int_equal(shard_plan_init(&plan, 30, 8, 40, &err), -1);
    assert_null(plan.counts);
    assert_true(err.msg[0] != '\0');
    /* The message says how many ranks and examples there are. */
    assert_non_null(strstr(err.msg, "40"));
    assert_non_null(strstr(err.msg, "30"));
    assert_non_null(strstr(err.msg, "rank"));

    memset(&err, 0, sizeof err);
    assert_int_equal(shard_plan_init(&plan, 1, 1, 2, &err), -1);
    assert_true(err.msg[0] != '\0');
    shard_plan_free(&plan); /* harmless after a failure */
}

static void test_shard_plan_init_fails_invalid_sizes(void **state)
{
    (void)state;
    shard_plan plan;
    ebm_err err = {0};
    assert_int_equal(shard_plan_init(&plan, 0, 64, 1, &err), -1);
    assert_true(err.msg[0] != '\0');
    memset(&err, 0, sizeof err);
    assert_int_equal(shard_plan_init(&plan, 100, 0, 1, &err), -1);
    assert_true(err.msg[0] != '\0');
    memset(&err, 0, sizeof err);
    assert_int_equal(shard_plan_init(&plan, 100, 64, 0, &err), -1);
    assert_true(err.msg[0] != '\0');
    /* A NULL err is allowed (ebm_fail ignores it). */
    assert_int_equal(shard_plan_init(&plan, 100, -1, 1, NULL), -1);
}

static void test_shard_max_count_is_row_maximum(void **state)
{
    (void)state;
    shard_plan plan;
    ebm_err err = {0};
    /* Uneven shards (15, 15, 14, 14, 14, 14, 14): maxima differ between rows. */
    assert_int_equal(shard_plan_init(&plan, 100, 30, 7, &err), 0);
    for (int r = 0; r < 7; r++) {
        int m = 0;
        for (int s = 0; s < plan.n_steps; s++)
            m = shard_count(&plan, s, r) > m ? shard_count(&plan, s, r) : m;
        assert_int_equal(shard_max_count(&plan, r), m);
        assert_true(m >= 4 && m <= 5); /* floor/ceil of 30 * 14.x / 100 */
    }
    shard_plan_free(&plan);
    /* A single-step plan: the maximum is that step's count. */
    assert_int_equal(shard_plan_init(&plan, 10, 64, 3, &err), 0);
    assert_int_equal(shard_max_count(&plan, 0), 4);
    assert_int_equal(shard_max_count(&plan, 1), 3);
    assert_int_equal(shard_max_count(&plan, 2), 3);
    shard_plan_free(&plan);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard_range_real_case),
        cmocka_unit_test(test_shard_range_single_rank_owns_all),
        cmocka_unit_test(test_shard_range_sweep),
        cmocka_unit_test(test_shard_plan_init_real_case),
        cmocka_unit_test(test_shard_plan_init_single_process_matches_loader),
        cmocka_unit_test(test_shard_plan_init_p_not_dividing_n),
        cmocka_unit_test(test_shard_plan_init_more_ranks_than_batch),
        cmocka_unit_test(test_shard_plan_init_one_example_per_rank),
        cmocka_unit_test(test_shard_plan_init_batch_larger_than_n),
        cmocka_unit_test(test_shard_plan_init_batch_of_one),
        cmocka_unit_test(test_shard_plan_init_sweep),
        cmocka_unit_test(test_shard_plan_init_fails_more_ranks_than_examples),
        cmocka_unit_test(test_shard_plan_init_fails_invalid_sizes),
        cmocka_unit_test(test_shard_max_count_is_row_maximum),
    };
    return harness_run(argc, argv, "test_shard", tests, HARNESS_COUNT(tests), NULL, NULL);
}
