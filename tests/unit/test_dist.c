/* test_dist.c: the parallel layer (src/par/dist.h) on the world communicator
 * the harness gives (a singleton, or the ranks of mpirun) and on dist_self.
 * Every expected value is a closed form in rank and size, or what the failing
 * rank itself wrote; nothing is read back from the collectives under test.
 * Every test is collective: all ranks run the same calls in the same order. */
#include <limits.h>
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

#include "par/dist.h"

/* ---- helpers -------------------------------------------------------------- */

/* A recognisable "untouched" error: every byte 0x5a, then a message that
 * no code path writes. */
static void fill_sentinel(ebm_err *err)
{
    memset(err, 0x5a, sizeof *err);
    snprintf(err->msg, sizeof err->msg, "sentinel: nobody wrote this");
    err->n_frames = 0;
}

/* The failure a rank raises: its message names the rank, and it passes one
 * level up (fail_deep -> fail_here), so the trail it carries has two frames
 * before dist_agree adds its own. Every rank can call it to build the error
 * it expects to receive: same file, line and function on every rank of the
 * one binary. */
static int fail_here(ebm_err *err, int who)
{
    return ebm_fail(err, "rank %d cannot read shard %d: disk %d is full", who, 10 * who + 3,
                    who + 7);
}

static int fail_deep(ebm_err *err, int who)
{
    EBM_TRY(fail_here(err, who));
    return 0;
}

/* Expected error after dist_agree when `who` failed with fail_deep. */
static void expected_failure(ebm_err *want, int who)
{
    memset(want, 0, sizeof *want);
    assert_int_equal(fail_deep(want, who), -1);
    assert_int_equal(want->n_frames, 2);
}

/* Every rank: rc -1, the failing rank's message (exactly, not concatenated),
 * its two frames first (the ebm_fail frame at index 0), then one frame added
 * by dist_agree itself. */
static void check_received(int rc, const ebm_err *got, int who)
{
    const dist_ctx *ctx = test_ctx();
    ebm_err want;
    expected_failure(&want, who);
    if (rc != -1)
        fail_msg("rank %d: dist_agree returned %d, expected -1 (rank %d failed)", ctx->rank, rc,
                 who);
    if (strcmp(got->msg, want.msg) != 0)
        fail_msg("rank %d: message '%s', expected rank %d's '%s'", ctx->rank, got->msg, who,
                 want.msg);
    if (got->n_frames != 3)
        fail_msg("rank %d: %d frames, expected the failing rank's 2 + dist_agree's", ctx->rank,
                 got->n_frames);
    for (int f = 0; f < 2; f++)
        if (strcmp(got->frames[f], want.frames[f]) != 0)
            fail_msg("rank %d: frame %d '%s', expected '%s'", ctx->rank, f, got->frames[f],
                     want.frames[f]);
    /* The ebm_fail frame is the origin: fail_here, not its caller. */
    assert_non_null(strstr(got->frames[0], "fail_here"));
    assert_non_null(strstr(got->frames[1], "fail_deep"));
    assert_non_null(strstr(got->frames[2], "dist_agree"));
}

/* ---- dist_agree ----------------------------------------------------------- */

static void test_dist_agree_all_succeed_leaves_err_untouched(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    ebm_err err, before;
    fill_sentinel(&err);
    before = err;
    assert_int_equal(dist_agree(ctx, 0, &err), 0);
    assert_memory_equal(&err, &before, sizeof err);
    /* Twice in a row: no state left behind in the communicator. */
    assert_int_equal(dist_agree(ctx, 0, &err), 0);
    assert_memory_equal(&err, &before, sizeof err);
}

/* Exactly one rank (`who`) fails; the others hold a sentinel error. */
static void agree_one_failure(int who)
{
    const dist_ctx *ctx = test_ctx();
    ebm_err err;
    fill_sentinel(&err);
    const int local = ctx->rank == who ? fail_deep(&err, ctx->rank) : 0;
    const int rc = dist_agree(ctx, local, &err);
    check_received(rc, &err, who);
}

static void test_dist_agree_last_rank_fails_everyone_gets_its_error(void **state)
{
    (void)state;
    agree_one_failure(test_ctx()->size - 1);
}

static void test_dist_agree_rank_one_fails_everyone_gets_its_error(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    if (ctx->size < 2) {
        /* A singleton has no rank 1: rank 0 failing alone is the case. */
        agree_one_failure(0);
        return;
    }
    agree_one_failure(1);
}

/* A failing rank may return any nonzero code, not only -1. */
static void test_dist_agree_nonzero_code_counts_as_failure(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    const int who = ctx->size - 1;
    ebm_err err;
    fill_sentinel(&err);
    int local = 0;
    if (ctx->rank == who) {
        fail_deep(&err, ctx->rank);
        local = 5;
    }
    check_received(dist_agree(ctx, local, &err), &err, who);
}

/* Two ranks fail with different messages: everybody gets the lower one's,
 * once. With 3 or more ranks they are ranks 1 and size-1, so the lowest
 * failing rank is not rank 0 (a min over ranks, not "rank 0 wins"). */
static void test_dist_agree_two_failures_lowest_rank_wins(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    if (ctx->size < 2) {
        print_message("singleton: two failing ranks need size >= 2; rank 0 alone instead\n");
        agree_one_failure(0);
        return;
    }
    const int low = ctx->size >= 3 ? 1 : 0, high = ctx->size - 1;
    ebm_err err;
    fill_sentinel(&err);
    const int local = ctx->rank == low || ctx->rank == high ? fail_deep(&err, ctx->rank) : 0;
    const int rc = dist_agree(ctx, local, &err);
    check_received(rc, &err, low);
    /* Not a concatenation, and nothing of the higher rank's message. */
    ebm_err other;
    expected_failure(&other, high);
    assert_null(strstr(err.msg, other.msg));
}

static void test_dist_agree_all_fail_rank_zero_wins(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    ebm_err err;
    fill_sentinel(&err);
    const int rc = dist_agree(ctx, fail_deep(&err, ctx->rank), &err);
    check_received(rc, &err, 0);
}

/* ---- sums, broadcasts, min/mean/max --------------------------------------- */

#define N_SUM 1000

/* buf[i] = (rank + 1) * i summed over ranks = i * P (P + 1) / 2. Integers
 * below 2^24 (i < 1000, P(P+1)/2 small) are exact in float, so the float
 * comparison is exact whatever order MPI adds in. */
static void test_dist_sum_floats_closed_form(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    float *buf = malloc(N_SUM * sizeof *buf);
    assert_non_null(buf);
    for (int i = 0; i < N_SUM; i++)
        buf[i] = (float)((ctx->rank + 1) * i);
    ebm_err err = {0};
    assert_int_equal(dist_sum_floats(ctx, buf, N_SUM, &err), 0);
    const long tri = (long)ctx->size * (ctx->size + 1) / 2;
    for (int i = 0; i < N_SUM; i++)
        if (buf[i] != (float)(tri * i))
            fail_msg("rank %d: sum[%d] = %.9g, expected %ld", ctx->rank, i, buf[i], tri * i);
    free(buf);
}

/* The same in double with a non-integer factor: (rank + 1) * i / 4 has at
 * most 2 fractional bits, so every partial sum is exact and the comparison
 * is exact too. */
static void test_dist_sum_doubles_closed_form(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    double *buf = malloc(N_SUM * sizeof *buf);
    assert_non_null(buf);
    for (int i = 0; i < N_SUM; i++)
        buf[i] = (ctx->rank + 1) * i * 0.25;
    ebm_err err = {0};
    assert_int_equal(dist_sum_doubles(ctx, buf, N_SUM, &err), 0);
    const double tri = (double)ctx->size * (ctx->size + 1) / 2.0;
    for (int i = 0; i < N_SUM; i++)
        if (buf[i] != tri * i * 0.25)
            fail_msg("rank %d: sum[%d] = %.17g, expected %.17g", ctx->rank, i, buf[i],
                     tri * i * 0.25);
    free(buf);
}

/* n = 0 is a valid empty sum; n > INT_MAX is refused before any MPI call
 * (on every rank, so no rank waits). The buffer is never touched. */
static void test_dist_sum_floats_rejects_count_above_int_max(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    float one = 1.5f;
    ebm_err err;
    fill_sentinel(&err);
    assert_int_equal(dist_sum_floats(ctx, &one, 0, &err), 0);
    assert_true(one == 1.5f);
    assert_int_equal(dist_sum_floats(ctx, &one, (size_t)INT_MAX + 1, &err), -1);
    assert_non_null(strstr(err.msg, "too large"));
    assert_true(one == 1.5f);
    fill_sentinel(&err);
    double d = 2.5;
    assert_int_equal(dist_sum_doubles(ctx, &d, (size_t)INT_MAX + 1, &err), -1);
    assert_non_null(strstr(err.msg, "too large"));
    assert_true(d == 2.5);
}

/* ---- nonblocking sums ---------------------------------------------------- */

/* A float that depends on (rank, i), with exponents spread over 2^-8..2^7 and
 * both signs, so that a sum over 3 or more ranks depends on how the ranks
 * are paired: equal bits mean the same pairing, not luck. */
static float spread_value(int rank, size_t i)
{
    uint64_t z = (uint64_t)i * 0x9e3779b97f4a7c15ull + (uint64_t)(rank + 1) * 0xbf58476d1ce4e5b9ull;
    z ^= z >> 31;
    z *= 0x94d049bb133111ebull;
    z ^= z >> 29;
    const float m = (float)(z & 0xffffff) / 16777216.0f - 0.5f;
    return ldexpf(m, (int)((z >> 24) % 16) - 8);
}

/* The training step's buckets (tests the digits model, hidden 512: layers
 * 0..3 with their biases, the status floats with layer 3), started in the
 * step's order 3, 2, 1, 0 with dist_progress between the starts, give
 * bit for bit what one blocking dist_sum_floats of the whole vector gives. */
static void test_dist_sum_floats_start_equals_blocking_bitwise(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    const size_t size[4] = {64 * 512 + 512, 512 * 512 + 512, 512 * 512 + 512, 512 * 10 + 10 + 10};
    size_t off[4], n = 0;
    for (int b = 0; b < 4; b++)
        off[b] = n, n += size[b];
    float *blocking = malloc(n * sizeof(float)), *nonblocking = malloc(n * sizeof(float));
    assert_non_null(blocking);
    assert_non_null(nonblocking);
    for (size_t i = 0; i < n; i++)
        blocking[i] = nonblocking[i] = spread_value(ctx->rank, i);
    ebm_err err = {0};
    assert_int_equal(dist_sum_floats(ctx, blocking, n, &err), 0);
    assert_int_equal(dist_pending(ctx), 0);
    for (int b = 3; b >= 0; b--) {
        assert_int_equal(dist_sum_floats_start(ctx, nonblocking + off[b], size[b], &err), 0);
        assert_int_equal(dist_progress(ctx, &err), 0);
        assert_int_equal(dist_pending(ctx), 4 - b);
    }
    assert_int_equal(dist_progress(ctx, &err), 0);
    assert_int_equal(dist_wait_all(ctx, &err), 0);
    assert_int_equal(dist_pending(ctx), 0);
    size_t differ = 0, first = n;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&blocking[i], &nonblocking[i], sizeof(float)) != 0)
            first = differ++ ? first : i;
    if (differ)
        fail_msg("rank %d of %d: %zu of %zu sums differ from the blocking sum, first [%zu]: "
                 "%.9g against %.9g",
                 ctx->rank, ctx->size, differ, n, first, nonblocking[first], blocking[first]);
    free(blocking);
    free(nonblocking);
}

/* Closed form through the nonblocking path: (rank + 1) * i summed is
 * tri(P) * i exactly; many small sums in flight at once (the most the
 * context holds), waited in one call; a further start is refused before any
 * MPI call, on every rank alike, and leaves the pending ones intact. */
static void test_dist_sum_floats_start_many_and_limit(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    enum { PIECE = 37 };
    float buf[DIST_MAX_PENDING][PIECE], extra = 1.5f;
    for (int b = 0; b < DIST_MAX_PENDING; b++)
        for (int i = 0; i < PIECE; i++)
            buf[b][i] = (float)((ctx->rank + 1) * (b * PIECE + i));
    ebm_err err = {0};
    for (int b = 0; b < DIST_MAX_PENDING; b++)
        assert_int_equal(dist_sum_floats_start(ctx, buf[b], PIECE, &err), 0);
    fill_sentinel(&err);
    assert_int_equal(dist_sum_floats_start(ctx, &extra, 1, &err), -1);
    assert_non_null(strstr(err.msg, "in flight"));
    assert_int_equal(dist_pending(ctx), DIST_MAX_PENDING);
    assert_int_equal(dist_wait_all(ctx, &err), 0);
    const long tri = (long)ctx->size * (ctx->size + 1) / 2;
    for (int b = 0; b < DIST_MAX_PENDING; b++)
        for (int i = 0; i < PIECE; i++)
            if (buf[b][i] != (float)(tri * (b * PIECE + i)))
                fail_msg("rank %d: piece %d [%d] = %.9g, expected %ld", ctx->rank, b, i,
                         buf[b][i], tri * (b * PIECE + i));
    assert_true(extra == 1.5f);
    /* Nothing pending: progress and wait return at once; n = 0 is a valid
     * empty sum; n > INT_MAX is refused before MPI. */
    assert_int_equal(dist_progress(ctx, &err), 0);
    assert_int_equal(dist_wait_all(ctx, &err), 0);
    assert_int_equal(dist_sum_floats_start(ctx, &extra, 0, &err), 0);
    assert_int_equal(dist_wait_all(ctx, &err), 0);
    assert_true(extra == 1.5f);
    fill_sentinel(&err);
    assert_int_equal(dist_sum_floats_start(ctx, &extra, (size_t)INT_MAX + 1, &err), -1);
    assert_non_null(strstr(err.msg, "too large"));
    assert_int_equal(dist_pending(ctx), 0);
}

/* The root's values reach everyone; the root is the last rank, which is not
 * rank 0 when size > 1. Non-roots start from a sentinel. */
static void test_dist_bcast_floats_from_nonzero_root(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    const int root = ctx->size - 1;
    float buf[257];
    for (int i = 0; i < 257; i++)
        buf[i] = ctx->rank == root ? 0.5f * (float)i - 7.25f : -999.0f - (float)ctx->rank;
    ebm_err err = {0};
    assert_int_equal(dist_bcast_floats(ctx, buf, 257, root, &err), 0);
    for (int i = 0; i < 257; i++)
        if (buf[i] != 0.5f * (float)i - 7.25f)
            fail_msg("rank %d: buf[%d] = %g after bcast from %d", ctx->rank, i, buf[i], root);
}

/* Bytes from root 1 (rank 0 on a singleton): an odd-length byte pattern
 * arrives byte for byte; non-roots start from a rank-dependent filler. */
static void test_dist_bcast_bytes_from_nonzero_root(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    const int root = ctx->size > 1 ? 1 : 0;
    unsigned char buf[1031], want[1031];
    for (int i = 0; i < 1031; i++) {
        want[i] = (unsigned char)((i * 37 + 11) & 0xff);
        buf[i] = ctx->rank == root ? want[i] : (unsigned char)(0xa5 ^ ctx->rank);
    }
    ebm_err err = {0};
    assert_int_equal(dist_bcast_bytes(ctx, buf, sizeof buf, root, &err), 0);
    assert_memory_equal(buf, want, sizeof buf);
}

/* Per-rank value v(r) = 2 (r - 1)^2 + 1/2 + r/4: rank 1 has the minimum
 * (neither the first nor the last rank at P = 3) and rank P - 1 the maximum
 * for P >= 3. min and max come from a loop over the definition, the mean from
 * the closed form sum_{r<P} v(r) = 2 (1 + (P-2)(P-1)(2P-3)/6) + P/2 +
 * P(P-1)/8. All values are multiples of 1/4 below 2^40, so every partial sum
 * is exact in double and min and max compare exactly; the mean is one
 * division on each side, compared with 1e-15 relative slack (a few ulp). */
static double minmax_value(int r) { return 2.0 * (r - 1) * (r - 1) + 0.5 + 0.25 * r; }

static void test_dist_min_mean_max_known_values(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    const int p = ctx->size;
    double out[3] = {-1, -1, -1};
    ebm_err err = {0};
    assert_int_equal(dist_min_mean_max(ctx, minmax_value(ctx->rank), out, &err), 0);
    double mn = minmax_value(0), mx = minmax_value(0);
    for (int r = 1; r < p; r++) {
        mn = minmax_value(r) < mn ? minmax_value(r) : mn;
        mx = minmax_value(r) > mx ? minmax_value(r) : mx;
    }
    /* sum_{r=0}^{P-1} (r-1)^2 = 1 + sum_{j=0}^{P-2} j^2 */
    const double sq = 1.0 + (double)(p - 2) * (p - 1) * (2 * p - 3) / 6.0;
    const double mean = (2.0 * sq + 0.5 * p + 0.125 * p * (p - 1)) / p;
    assert_true(out[0] == mn);
    assert_true(out[2] == mx);
    if (!(out[1] >= mean * (1 - 1e-15) && out[1] <= mean * (1 + 1e-15)))
        fail_msg("rank %d: mean %.17g, expected %.17g", ctx->rank, out[1], mean);
    if (p >= 3) {
        assert_true(out[0] == 0.75);              /* rank 1 */
        assert_true(out[2] == minmax_value(p - 1)); /* the last rank */
        assert_true(out[0] < out[1] && out[1] < out[2]);
    }
}

/* n values per rank at once: value i of rank r is (i + 1) v(r) - i, an
 * increasing affine map of v, so min, mean and max are the same map of
 * v's (closed forms as above; exact but for the mean's division). */
static void test_dist_min_mean_max_n_known_values(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    const int p = ctx->size;
    enum { N = 5 };
    double local[N], out[N][3];
    for (int i = 0; i < N; i++)
        local[i] = (i + 1) * minmax_value(ctx->rank) - i;
    ebm_err err = {0};
    assert_int_equal(dist_min_mean_max_n(ctx, local, N, out, &err), 0);
    double mn = minmax_value(0), mx = minmax_value(0);
    for (int r = 1; r < p; r++) {
        mn = minmax_value(r) < mn ? minmax_value(r) : mn;
        mx = minmax_value(r) > mx ? minmax_value(r) : mx;
    }
    const double sq = 1.0 + (double)(p - 2) * (p - 1) * (2 * p - 3) / 6.0;
    const double sum_v = 2.0 * sq + 0.5 * p + 0.125 * p * (p - 1);
    for (int i = 0; i < N; i++) {
        assert_true(out[i][0] == (i + 1) * mn - i);
        assert_true(out[i][2] == (i + 1) * mx - i);
        const double mean = ((i + 1) * sum_v - (double)i * p) / p;
        if (!(fabs(out[i][1] - mean) <= 1e-15 * fabs(mean)))
            fail_msg("rank %d value %d: mean %.17g, expected %.17g", ctx->rank, i, out[i][1],
                     mean);
    }
    /* Past its fixed capacity it refuses, on every rank, before any MPI
     * call; out is not written. */
    double big[65] = {0}, big_out[65][3];
    big_out[0][0] = -3.0;
    fill_sentinel(&err);
    assert_int_equal(dist_min_mean_max_n(ctx, big, 65, big_out, &err), -1);
    assert_non_null(strstr(err.msg, "65"));
    assert_true(big_out[0][0] == -3.0);
}

/* The largest value and the lowest rank holding it: a unique maximum at
 * rank 1, then a tie between ranks 1 and P-1 (the lower one wins). */
static void test_dist_max_loc_lowest_rank_of_maximum(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    const int p = ctx->size, r = ctx->rank;
    double max = -1.0;
    int at = -1;
    ebm_err err = {0};
    /* -(r - 1)^2 + 3: maximum 3 at rank 1 (rank 0 alone: 2 at rank 0). */
    assert_int_equal(dist_max_loc(ctx, 3.0 - (double)(r - 1) * (r - 1), &max, &at, &err), 0);
    if (p >= 2) {
        assert_true(max == 3.0);
        assert_int_equal(at, 1);
    } else {
        assert_true(max == 2.0);
        assert_int_equal(at, 0);
    }
    /* Tie: ranks 1 and P-1 hold 7.5, the others 1. */
    const double v = (r == 1 || r == p - 1) ? 7.5 : 1.0;
    assert_int_equal(dist_max_loc(ctx, v, &max, &at, &err), 0);
    if (p >= 2) {
        assert_true(max == 7.5);
        assert_int_equal(at, 1);
    } else {
        assert_true(max == 7.5); /* rank 0 is P-1 */
        assert_int_equal(at, 0);
    }
}

/* Rank i's n bytes land at out + i n on the root (the last rank); the other
 * ranks' out is not written. */
static void test_dist_gather_bytes_to_nonzero_root(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    const int p = ctx->size, root = p - 1;
    enum { N = 7 };
    unsigned char in[N];
    for (int j = 0; j < N; j++)
        in[j] = (unsigned char)(ctx->rank * 31 + j * 5 + 1);
    unsigned char *out = malloc((size_t)p * N);
    assert_non_null(out);
    memset(out, 0xee, (size_t)p * N);
    ebm_err err = {0};
    assert_int_equal(dist_gather_bytes(ctx, in, N, out, root, &err), 0);
    for (int i = 0; i < p; i++)
        for (int j = 0; j < N; j++) {
            const unsigned char want = ctx->rank == root ? (unsigned char)(i * 31 + j * 5 + 1)
                                                         : 0xee;
            if (out[i * N + j] != want)
                fail_msg("rank %d: out[%d][%d] = %d, expected %d", ctx->rank, i, j,
                         out[i * N + j], want);
        }
    free(out);
    /* A count above INT_MAX is refused before MPI, on every rank. */
    fill_sentinel(&err);
    assert_int_equal(dist_gather_bytes(ctx, in, (size_t)INT_MAX + 1, NULL, root, &err), -1);
    assert_non_null(strstr(err.msg, "too large"));
}

static void test_dist_host_name_non_empty_and_terminated(void **state)
{
    (void)state;
    char name[256];
    memset(name, 'x', sizeof name);
    dist_host_name(name, sizeof name);
    assert_true(memchr(name, '\0', sizeof name) != NULL);
    assert_true(strlen(name) > 0);
    char small[3];
    memset(small, 'x', sizeof small);
    dist_host_name(small, sizeof small);
    assert_true(strlen(small) <= 2);
    assert_true(strncmp(small, name, strlen(small)) == 0);
}

/* On one host (every rank of this test runs on one): "1 (NAME: rank 0)" or
 * "1 (NAME: ranks 0-N)", built from dist_host_name; a short buffer ends in
 * "..." and stays terminated. */
static void test_dist_host_summary_one_host_and_truncation(void **state)
{
    (void)state;
    const dist_ctx *ctx = test_ctx();
    char name[256], want[400], got[400];
    dist_host_name(name, sizeof name);
    if (ctx->size == 1)
        snprintf(want, sizeof want, "1 (%s: rank 0)", name);
    else
        snprintf(want, sizeof want, "1 (%s: ranks 0-%d)", name, ctx->size - 1);
    ebm_err err = {0};
    memset(got, 'x', sizeof got);
    assert_int_equal(dist_host_summary(ctx, got, sizeof got, &err), 0);
    if (ctx->rank == 0)
        assert_string_equal(got, want);
    char small[8];
    memset(small, 'x', sizeof small);
    assert_int_equal(dist_host_summary(ctx, small, sizeof small, &err), 0);
    if (ctx->rank == 0) {
        assert_non_null(memchr(small, '\0', sizeof small));
        assert_string_equal(small, "1 (...");
    }
}

static void test_dist_barrier_returns_zero(void **state)
{
    (void)state;
    ebm_err err = {0};
    assert_int_equal(dist_barrier(test_ctx(), &err), 0);
    assert_int_equal(dist_barrier(test_ctx(), &err), 0);
}

/* ---- dist_self ------------------------------------------------------------ */

/* Each rank alone: rank 0 of 1, and every collective is the identity. The
 * world ranks do different things meanwhile (rank-dependent values), which
 * would hang or mix if the context still spoke to the world. */
static void test_dist_self_rank_zero_of_one_collectives_identity(void **state)
{
    (void)state;
    const dist_ctx *world = test_ctx();
    dist_ctx self;
    ebm_err err;
    fill_sentinel(&err);
    assert_int_equal(dist_self(world, &self, &err), 0);
    assert_int_equal(self.rank, 0);
    assert_int_equal(self.size, 1);
    assert_non_null(self.comm);
    assert_int_equal(self.show_trail, world->show_trail);

    const int r = world->rank;
    float f[5];
    double d[5];
    for (int i = 0; i < 5; i++) {
        f[i] = (float)(r * 10 + i) + 0.25f;
        d[i] = (r * 10 + i) * 0.125;
    }
    assert_int_equal(dist_sum_floats(&self, f, 5, &err), 0);
    assert_int_equal(dist_sum_doubles(&self, d, 5, &err), 0);
    for (int i = 0; i < 5; i++) {
        assert_true(f[i] == (float)(r * 10 + i) + 0.25f);
        assert_true(d[i] == (r * 10 + i) * 0.125);
    }
    assert_int_equal(dist_sum_floats_start(&self, f, 5, &err), 0);
    assert_int_equal(dist_progress(&self, &err), 0);
    assert_int_equal(dist_wait_all(&self, &err), 0);
    assert_true(f[4] == (float)(r * 10 + 4) + 0.25f);
    assert_int_equal(dist_bcast_floats(&self, f, 5, 0, &err), 0);
    assert_true(f[3] == (float)(r * 10 + 3) + 0.25f);
    unsigned char bytes[3] = {(unsigned char)r, 7, 9};
    assert_int_equal(dist_bcast_bytes(&self, bytes, 3, 0, &err), 0);
    assert_int_equal(bytes[0], (unsigned char)r);
    assert_int_equal(bytes[2], 9);
    double mmm[3];
    assert_int_equal(dist_min_mean_max(&self, 3.5 + r, mmm, &err), 0);
    assert_true(mmm[0] == 3.5 + r && mmm[1] == 3.5 + r && mmm[2] == 3.5 + r);
    assert_int_equal(dist_barrier(&self, &err), 0);

    /* dist_agree on self: success leaves err alone; a failure on any world
     * rank comes back as that rank's own error (it is rank 0 of its own). */
    ebm_err before = err;
    assert_int_equal(dist_agree(&self, 0, &err), 0);
    assert_memory_equal(&err, &before, sizeof err);
    ebm_err want;
    expected_failure(&want, r);
    const int local = fail_deep(&err, r);
    assert_int_equal(dist_agree(&self, local, &err), -1);
    assert_string_equal(err.msg, want.msg);
    assert_int_equal(err.n_frames, 3);
    assert_string_equal(err.frames[0], want.frames[0]);

    dist_self_free(&self);
    assert_null(self.comm);
}

/* ---- dist_library_version -------------------------------------------------- */

/* EBM_TEST_MPI_NAME: the first word of the library version string of the
 * MPI this build was configured with ("Open" for Open MPI, "MPICH"), read by
 * configure's own program (cmake/checks/mpi_identity.c). */
#ifndef EBM_TEST_MPI_NAME
#error "EBM_TEST_MPI_NAME: set by tests/unit/CMakeLists.txt"
#endif

static void test_dist_library_version_names_the_mpi(void **state)
{
    (void)state;
    const char *name = EBM_TEST_MPI_NAME;
    char v[256];
    memset(v, 'x', sizeof v);
    dist_library_version(v, sizeof v);
    assert_true(memchr(v, '\0', sizeof v) != NULL);
    assert_true(strlen(v) > strlen(name));
    assert_true(strncmp(v, name, strlen(name)) == 0);
    assert_true(v[strlen(name)] == ' ');
    /* Only the first part: no ", package: ..." (Open MPI), no "Release
     * date" line (MPICH), no newline or tab. */
    assert_null(strchr(v, ','));
    assert_null(strchr(v, '\n'));
    assert_null(strchr(v, '\t'));
    assert_null(strstr(v, "Release"));
    if (test_ctx()->rank == 0)
        print_message("MPI library: %s\n", v);
    /* A short buffer is truncated and still terminated. */
    char small[5];
    memset(small, 'x', sizeof small);
    dist_library_version(small, sizeof small);
    assert_int_equal(strlen(small), 4);
    assert_memory_equal(small, v, 4);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dist_agree_all_succeed_leaves_err_untouched),
        cmocka_unit_test(test_dist_agree_last_rank_fails_everyone_gets_its_error),
        cmocka_unit_test(test_dist_agree_rank_one_fails_everyone_gets_its_error),
        cmocka_unit_test(test_dist_agree_nonzero_code_counts_as_failure),
        cmocka_unit_test(test_dist_agree_two_failures_lowest_rank_wins),
        cmocka_unit_test(test_dist_agree_all_fail_rank_zero_wins),
        cmocka_unit_test(test_dist_sum_floats_closed_form),
        cmocka_unit_test(test_dist_sum_doubles_closed_form),
        cmocka_unit_test(test_dist_sum_floats_rejects_count_above_int_max),
        cmocka_unit_test(test_dist_sum_floats_start_equals_blocking_bitwise),
        cmocka_unit_test(test_dist_sum_floats_start_many_and_limit),
        cmocka_unit_test(test_dist_bcast_floats_from_nonzero_root),
        cmocka_unit_test(test_dist_bcast_bytes_from_nonzero_root),
        cmocka_unit_test(test_dist_min_mean_max_known_values),
        cmocka_unit_test(test_dist_min_mean_max_n_known_values),
        cmocka_unit_test(test_dist_max_loc_lowest_rank_of_maximum),
        cmocka_unit_test(test_dist_gather_bytes_to_nonzero_root),
        cmocka_unit_test(test_dist_host_name_non_empty_and_terminated),
        cmocka_unit_test(test_dist_host_summary_one_host_and_truncation),
        cmocka_unit_test(test_dist_barrier_returns_zero),
        cmocka_unit_test(test_dist_self_rank_zero_of_one_collectives_identity),
        cmocka_unit_test(test_dist_library_version_names_the_mpi),
    };
    return harness_run(argc, argv, "test_dist", tests, HARNESS_COUNT(tests), NULL, NULL);
}
