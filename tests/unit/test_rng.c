/* test_rng.c: xoshiro256** streams and the distributions built on them,
 * against an independent reference implementation and stated statistical
 * tolerances. The seeds are fixed, so every statistical check is
 * deterministic; the thresholds are those a correct generator passes with
 * probability 1 - 1e-4 or better (6 standard errors, or the chi-square
 * quantile at p = 1e-4). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "core/rng.h"

/* Upper 1e-4 quantiles of chi-square (computed from the regularised gamma
 * function): df 5 -> 25.74, df 9 -> 33.72. */
#define CHI2_DF5_P1E4 25.74
#define CHI2_DF9_P1E4 33.72
/* Tolerance of the moment checks, in standard errors. */
#define N_SE 6.0

/* ---- reference xoshiro256** (Blackman & Vigna, prng.di.unimi.it) --------- */

static uint64_t ref_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t ref_next(uint64_t s[4])
{
    const uint64_t out = ref_rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ref_rotl(s[3], 45);
    return out;
}

/* The reference jump(): 2^128 calls of next (published polynomial). */
static void ref_jump(uint64_t s[4])
{
    static const uint64_t poly[4] = {0x180ec6d33cfd0abaULL, 0xd5a61266f0c9392cULL,
                                     0xa9582618e03fc9aaULL, 0x39abdc4529b1661cULL};
    uint64_t acc[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 64; b++) {
            if ((poly[i] >> b) & 1)
                for (int k = 0; k < 4; k++)
                    acc[k] ^= s[k];
            ref_next(s);
        }
    memcpy(s, acc, sizeof acc);
}

/* Multiplicative inverse of an odd a modulo 2^64 (Newton: each step doubles
 * the number of correct bits). */
static uint64_t inv64(uint64_t a)
{
    uint64_t x = a; /* correct to 3 bits for odd a */
    for (int i = 0; i < 6; i++)
        x *= 2 - a * x;
    return x;
}

/* A state whose next output is `want`: solve rotl(s1 * 5, 7) * 9 = want. */
static ebm_rng state_for_output(uint64_t want)
{
    const uint64_t r = want * inv64(9);
    const uint64_t m = (r >> 7) | (r << 57); /* rotr 7 */
    ebm_rng rng = {{0x1234, m * inv64(5), 0x5678, 0x9abc}};
    return rng;
}

/* ---- the generator ------------------------------------------------------ */

static void test_rng_next_matches_reference_outputs(void **state)
{
    (void)state;
    /* Hand-computed from the algorithm for state {1,2,3,4}:
     * out0 = rotl(2*5, 7)*9 = 1280*9; the state becomes {7, 0, 262146,
     * rotl(6, 45)}, so out1 = 0; and so on. */
    const uint64_t expect[4] = {11520ULL, 0ULL, 1509978240ULL, 1215971899390074240ULL};
    uint64_t ref[4] = {1, 2, 3, 4};
    for (int i = 0; i < 4; i++)
        assert_int_equal(ref_next(ref), expect[i]);

    ebm_rng rng = {{1, 2, 3, 4}};
    for (int i = 0; i < 4; i++)
        assert_int_equal(rng_next(&rng), expect[i]);
}

static void test_rng_next_matches_reference_long_run(void **state)
{
    (void)state;
    ebm_rng rng = {{0x0123456789abcdefULL, 0xfedcba9876543210ULL, 42, 0x8000000000000000ULL}};
    uint64_t ref[4];
    memcpy(ref, rng.s, sizeof ref);
    for (int i = 0; i < 100000; i++) {
        const uint64_t want = ref_next(ref);
        const uint64_t got = rng_next(&rng);
        if (got != want)
            fail_msg("output %d: got %llu, reference %llu", i, (unsigned long long)got,
                     (unsigned long long)want);
    }
    assert_memory_equal(rng.s, ref, sizeof ref);
}

static void test_rng_seed_streams_are_jumps_apart(void **state)
{
    (void)state;
    /* Stream r is stream 0 advanced by r jumps of 2^128 draws (rng.h). */
    const uint64_t seeds[] = {0, 1, 20240601, UINT64_MAX};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        ebm_rng base, rng;
        rng_seed(&base, seeds[i], 0);
        uint64_t ref[4];
        memcpy(ref, base.s, sizeof ref);
        for (uint64_t stream = 1; stream <= 3; stream++) {
            ref_jump(ref);
            rng_seed(&rng, seeds[i], stream);
            assert_memory_equal(rng.s, ref, sizeof ref);
        }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_rng_seed_streams_differ(void **state)
{
    (void)state;
    enum { STREAMS = 8, DRAWS = 4096 };
    uint64_t *all = malloc(sizeof(uint64_t) * STREAMS * DRAWS);
    assert_non_null(all);
    uint64_t first[STREAMS];
    for (int r = 0; r < STREAMS; r++) {
        ebm_rng rng;
        rng_seed(&rng, 12345, (uint64_t)r);
        for (int i = 0; i < DRAWS; i++)
            all[r * DRAWS + i] = rng_next(&rng);
        first[r] = all[r * DRAWS];
    }
    for (int a = 0; a < STREAMS; a++)
        for (int b = a + 1; b < STREAMS; b++)
            if (first[a] == first[b])
                fail_msg("streams %d and %d start with the same output", a, b);
    /* No value shared between (or repeated within) streams: for 32768
     * independent 64-bit draws a collision has probability ~3e-11. */
    qsort(all, (size_t)STREAMS * DRAWS, sizeof *all, cmp_u64);
    for (size_t i = 1; i < (size_t)STREAMS * DRAWS; i++)
        if (all[i] == all[i - 1])
            fail_msg("value %llu appears twice among the first %d outputs of 8 streams",
                     (unsigned long long)all[i], DRAWS);
    free(all);
}

static void test_rng_seed_same_seed_and_stream_repeat(void **state)
{
    (void)state;
    for (uint64_t stream = 0; stream < 4; stream++) {
        ebm_rng a, b;
        rng_seed(&a, 777, stream);
        rng_seed(&b, 777, stream);
        assert_memory_equal(a.s, b.s, sizeof a.s);
        for (int i = 0; i < 10000; i++)
            assert_int_equal(rng_next(&a), rng_next(&b));
    }
}

static void test_rng_seed_different_seeds_differ(void **state)
{
    (void)state;
    const uint64_t seeds[] = {0, 1, 2, 3, 42, 1ULL << 32, 1ULL << 63, UINT64_MAX};
    enum { K = sizeof seeds / sizeof seeds[0], DRAWS = 64 };
    uint64_t out[K][DRAWS];
    for (int i = 0; i < K; i++) {
        ebm_rng rng;
        rng_seed(&rng, seeds[i], 0);
        for (int j = 0; j < DRAWS; j++)
            out[i][j] = rng_next(&rng);
    }
    for (int i = 0; i < K; i++)
        for (int j = i + 1; j < K; j++) {
            int same = 0;
            for (int t = 0; t < DRAWS; t++)
                same += out[i][t] == out[j][t];
            if (same)
                fail_msg("seeds %llu and %llu agree at %d of %d draws",
                         (unsigned long long)seeds[i], (unsigned long long)seeds[j], same, DRAWS);
        }
}

static void test_rng_seed_zero_is_not_stuck(void **state)
{
    (void)state;
    /* The all-zero state is xoshiro's fixed point; seed 0 must not reach it. */
    ebm_rng rng;
    rng_seed(&rng, 0, 0);
    assert_true(rng.s[0] | rng.s[1] | rng.s[2] | rng.s[3]);
    int nonzero = 0;
    for (int i = 0; i < 16; i++)
        nonzero += rng_next(&rng) != 0;
    assert_true(nonzero >= 15);
}

/* ---- uniform ------------------------------------------------------------ */

static void test_rng_uniform_in_unit_interval(void **state)
{
    (void)state;
    enum { N = 1000000 };
    ebm_rng rng;
    rng_seed(&rng, 3, 1);
    double sum = 0, sum2 = 0;
    for (int i = 0; i < N; i++) {
        const float u = rng_uniform(&rng);
        if (!(u >= 0.0f && u < 1.0f))
            fail_msg("draw %d: %.9g not in [0,1)", i, (double)u);
        /* 24 random bits: an exact multiple of 2^-24. */
        const double scaled = (double)u * 16777216.0;
        if (scaled != floor(scaled))
            fail_msg("draw %d: %.9g is not a multiple of 2^-24", i, (double)u);
        sum += u;
        sum2 += (double)u * u;
    }
    const double mean = sum / N, var = sum2 / N - mean * mean;
    /* U[0,1): mean 1/2, sd 1/sqrt(12); variance 1/12 with Var((U-1/2)^2) = 1/180. */
    assert_true(fabs(mean - 0.5) < N_SE * sqrt(1.0 / 12.0 / N));
    assert_true(fabs(var - 1.0 / 12.0) < N_SE * sqrt(1.0 / 180.0 / N));
}

static void test_rng_uniform_extreme_outputs(void **state)
{
    (void)state;
    ebm_rng rng = state_for_output(UINT64_MAX);
    ebm_rng copy = rng;
    assert_int_equal(rng_next(&copy), UINT64_MAX);
    const float top = rng_uniform(&rng);
    assert_true(top < 1.0f);
    assert_true(top == 1.0f - 0x1.0p-24f);

    rng = state_for_output(0);
    copy = rng;
    assert_int_equal(rng_next(&copy), 0);
    assert_true(rng_uniform(&rng) == 0.0f);
}

static void test_rng_fill_uniform_in_range(void **state)
{
    (void)state;
    enum { N = 200000 };
    float *x = malloc(sizeof(float) * N);
    assert_non_null(x);
    ebm_rng rng;
    rng_seed(&rng, 11, 0);
    const float ranges[][2] = {{-1.0f, 1.0f}, {0.0f, 16.0f}, {-0.125f, 0.125f}, {3.0f, 3.5f}};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        const float lo = ranges[r][0], hi = ranges[r][1];
        rng_fill_uniform(&rng, x, N, lo, hi);
        double sum = 0;
        for (int i = 0; i < N; i++) {
            if (!(x[i] >= lo && x[i] < hi))
                fail_msg("[%g,%g): draw %d = %.9g", (double)lo, (double)hi, i, (double)x[i]);
            sum += x[i];
        }
        const double width = (double)hi - lo;
        assert_true(fabs(sum / N - (lo + hi) / 2.0) < N_SE * width * sqrt(1.0 / 12.0 / N));
    }
    /* The largest output of the generator maps below hi on [-1, 1), the range
     * the chains are drawn from. */
    ebm_rng top = state_for_output(UINT64_MAX);
    float v = 0;
    rng_fill_uniform(&top, &v, 1, -1.0f, 1.0f);
    assert_true(v < 1.0f);
    assert_true(v == 1.0f - 0x1.0p-23f);
    /* n = 0 writes nothing. */
    x[0] = 123.0f;
    rng_fill_uniform(&rng, x, 0, -1.0f, 1.0f);
    assert_true(x[0] == 123.0f);
    free(x);
}

static void test_rng_fill_uniform_top_output_symmetric_below_hi(void **state)
{
    (void)state;
    /* Model init draws from [-1/sqrt(fan_in), 1/sqrt(fan_in)) and chains from
     * [-1, 1): for a symmetric range the largest generator output stays below
     * hi. (For ranges like [1, 2) float rounding can give hi itself.) */
    for (int fan_in = 1; fan_in <= 4096; fan_in++) {
        const float b = 1.0f / sqrtf((float)fan_in);
        ebm_rng top = state_for_output(UINT64_MAX);
        float v = 0;
        rng_fill_uniform(&top, &v, 1, -b, b);
        if (!(v < b))
            fail_msg("[-%.9g, %.9g): top output gives %.9g", (double)b, (double)b, (double)v);
    }
}

/* ---- normal ------------------------------------------------------------- */

static void test_rng_fill_normal_moments(void **state)
{
    (void)state;
    enum { N = 1000000 };
    const double scale = 2.5;
    float *x = malloc(sizeof(float) * N);
    assert_non_null(x);
    ebm_rng rng;
    rng_seed(&rng, 5, 2);
    rng_fill_normal(&rng, x, N, (float)scale);
    double sum = 0, sum2 = 0;
    long inside = 0;
    for (int i = 0; i < N; i++) {
        if (!isfinite(x[i]))
            fail_msg("draw %d is not finite", i);
        sum += x[i];
        sum2 += (double)x[i] * x[i];
        inside += fabs(x[i]) < scale;
    }
    const double mean = sum / N, var = sum2 / N - mean * mean;
    /* Standard errors: mean scale/sqrt(N); variance scale^2 sqrt(2/N) (normal
     * fourth moment); P(|X| < scale) = 0.682689, binomial sqrt(p(1-p)/N). */
    const double p1 = 0.6826894921370859;
    assert_true(fabs(mean) < N_SE * scale / sqrt(N));
    assert_true(fabs(var - scale * scale) < N_SE * scale * scale * sqrt(2.0 / N));
    assert_true(fabs((double)inside / N - p1) < N_SE * sqrt(p1 * (1 - p1) / N));
    free(x);
}

static void test_rng_fill_normal_odd_n(void **state)
{
    (void)state;
    const float sentinel = -12345.0f;
    ebm_rng a, b;
    rng_seed(&a, 99, 0);
    b = a;
    float odd[8], even[8];
    for (int i = 0; i < 8; i++)
        odd[i] = sentinel;
    rng_fill_normal(&a, odd, 7, 1.0f);
    rng_fill_normal(&b, even, 8, 1.0f);
    /* The odd fill is the even one cut short, and writes nothing past n. */
    for (int i = 0; i < 7; i++) {
        assert_true(isfinite(odd[i]));
        assert_true(odd[i] == even[i]);
    }
    assert_true(odd[7] == sentinel);

    float one[2] = {sentinel, sentinel};
    rng_seed(&a, 99, 0);
    rng_fill_normal(&a, one, 1, 1.0f);
    assert_true(one[0] == even[0]);
    assert_true(one[1] == sentinel);
}

static void test_rng_fill_normal_scale(void **state)
{
    (void)state;
    /* The same draws times the scale (up to float rounding). */
    float a[64], b[64];
    ebm_rng ra, rb;
    rng_seed(&ra, 8, 0);
    rb = ra;
    rng_fill_normal(&ra, a, 64, 1.0f);
    rng_fill_normal(&rb, b, 64, 0.03f);
    for (int i = 0; i < 64; i++)
        assert_true(fabs((double)b[i] - 0.03 * a[i]) <= 1e-6 * (1.0 + fabs((double)a[i])));
}

/* ---- below -------------------------------------------------------------- */

static void test_rng_below_in_range(void **state)
{
    (void)state;
    const uint64_t ns[] = {1, 2, 3, 7, 10, 1000, (1ULL << 32) + 1, (1ULL << 63) + 1,
                           UINT64_MAX - 1, UINT64_MAX};
    ebm_rng rng;
    rng_seed(&rng, 21, 0);
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
        for (int i = 0; i < 20000; i++) {
            const uint64_t v = rng_below(&rng, ns[k]);
            if (v >= ns[k])
                fail_msg("rng_below(%llu) = %llu", (unsigned long long)ns[k],
                         (unsigned long long)v);
        }
}

static double chi_square(const long *counts, int bins, long total)
{
    const double e = (double)total / bins;
    double chi2 = 0;
    for (int i = 0; i < bins; i++)
        chi2 += (counts[i] - e) * (counts[i] - e) / e;
    return chi2;
}

static void test_rng_below_uniform_chi_square(void **state)
{
    (void)state;
    enum { N = 1000000 };
    long counts[10] = {0};
    ebm_rng rng;
    rng_seed(&rng, 2024, 3);
    for (int i = 0; i < N; i++)
        counts[rng_below(&rng, 10)]++;
    const double chi2 = chi_square(counts, 10, N);
    if (chi2 > CHI2_DF9_P1E4)
        fail_msg("chi-square %.2f over 10 bins exceeds %.2f (df 9, p = 1e-4)", chi2,
                 CHI2_DF9_P1E4);
}

static void test_rng_below_no_modulo_bias(void **state)
{
    (void)state;
    /* n = 3 * 2^62: plain x % n would put [0, 2^62) at probability 1/2
     * instead of 1/3. */
    enum { N = 100000 };
    const uint64_t n = 3ULL << 62;
    ebm_rng rng;
    rng_seed(&rng, 6, 0);
    long low = 0;
    for (int i = 0; i < N; i++)
        low += rng_below(&rng, n) < (1ULL << 62);
    const double p = 1.0 / 3.0;
    assert_true(fabs((double)low / N - p) < N_SE * sqrt(p * (1 - p) / N));
}

/* ---- shuffle ------------------------------------------------------------ */

static void test_rng_shuffle_is_permutation(void **state)
{
    (void)state;
    enum { N = 1000 };
    int32_t idx[N], seen[N];
    for (int i = 0; i < N; i++)
        idx[i] = i;
    ebm_rng rng;
    rng_seed(&rng, 17, 0);
    rng_shuffle(&rng, idx, N);
    memset(seen, 0, sizeof seen);
    int moved = 0;
    for (int i = 0; i < N; i++) {
        assert_true(idx[i] >= 0 && idx[i] < N);
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    /* A uniform permutation of 1000 leaves ~1 fixed point. */
    assert_true(moved > N - 10);
}

static void test_rng_shuffle_deterministic_for_same_state(void **state)
{
    (void)state;
    int32_t a[257], b[257];
    for (int i = 0; i < 257; i++)
        a[i] = b[i] = 1000 + i;
    ebm_rng ra, rb;
    rng_seed(&ra, 31, 5);
    rb = ra;
    rng_shuffle(&ra, a, 257);
    rng_shuffle(&rb, b, 257);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(ra.s, rb.s, sizeof ra.s);
    /* A different state gives a different order. */
    int32_t c[257];
    for (int i = 0; i < 257; i++)
        c[i] = 1000 + i;
    rng_seed(&rb, 32, 5);
    rng_shuffle(&rb, c, 257);
    assert_memory_not_equal(a, c, sizeof a);
}

static void test_rng_shuffle_tiny_n(void **state)
{
    (void)state;
    ebm_rng rng, before;
    rng_seed(&rng, 1, 0);
    int32_t one = 7;
    rng_shuffle(&rng, &one, 1);
    assert_int_equal(one, 7);
    rng_shuffle(&rng, NULL, 0);
    /* Neither consumes a draw. */
    rng_seed(&before, 1, 0);
    assert_memory_equal(rng.s, before.s, sizeof rng.s);
}

static void test_rng_shuffle_uniform_over_permutations(void **state)
{
    (void)state;
    enum { N = 60000 };
    long counts[6] = {0};
    ebm_rng rng;
    rng_seed(&rng, 4, 4);
    for (int t = 0; t < N; t++) {
        int32_t p[3] = {0, 1, 2};
        rng_shuffle(&rng, p, 3);
        /* Rank of the permutation: first element * 2 + order of the rest. */
        counts[p[0] * 2 + (p[1] > p[2])]++;
    }
    const double chi2 = chi_square(counts, 6, N);
    if (chi2 > CHI2_DF5_P1E4)
        fail_msg("chi-square %.2f over the 6 permutations of 3 exceeds %.2f (df 5, p = 1e-4)",
                 chi2, CHI2_DF5_P1E4);
}

/* rng_derive reproduces, purpose by purpose, the streams earlier versions
 * derived inline (the formulas below are those versions' code), so old
 * checkpoints resume and old figures reproduce bit for bit. */
static void test_rng_derive_matches_earlier_streams(void **state)
{
    (void)state;
    const uint64_t seed = 0x123456789ULL;
    for (int rank = 0; rank < 3; rank++) {
        ebm_rng a, b;
        rng_derive(&a, seed, RNG_PARAMS, 0, rank);
        rng_seed(&b, seed, 0);
        assert_memory_equal(a.s, b.s, sizeof a.s);
        rng_derive(&a, seed, RNG_RANK, 0, rank);
        rng_seed(&b, seed, (uint64_t)rank + 1);
        assert_memory_equal(a.s, b.s, sizeof a.s);
        for (int epoch = -2; epoch < 4; epoch++) {
            rng_derive(&a, seed, RNG_EVAL, epoch, rank);
            rng_seed(&b, seed ^ (0xD1B54A32D192ED03ULL * (uint64_t)(epoch + 1)),
                     (uint64_t)rank + 1);
            assert_memory_equal(a.s, b.s, sizeof a.s);
        }
        rng_derive(&a, seed, RNG_RESHARD, 400, rank);
        rng_seed(&b, seed ^ (0x9E3779B97F4A7C15ULL * 400ULL), (uint64_t)rank + 1);
        assert_memory_equal(a.s, b.s, sizeof a.s);
    }
    for (uint64_t id = 0; id < 5; id++) {
        uint64_t z = seed ^ (id * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
        z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdULL;
        z = (z ^ (z >> 33)) * 0xc4ceb9fe1a85ec53ULL;
        z ^= z >> 33;
        assert_true(rng_subseed(seed, id) == z);
        ebm_rng a, b;
        rng_derive(&a, seed, RNG_ITEM, (int64_t)id, 7);
        rng_seed(&b, z, 0);
        assert_memory_equal(a.s, b.s, sizeof a.s);
    }
    /* Rollback streams: a subseed of their own, per rollback and rank. */
    for (int64_t k = 1; k < 4; k++) {
        ebm_rng a, b;
        rng_derive(&a, seed, RNG_ROLLBACK, k, 2);
        rng_seed(&b, rng_subseed(seed, 0x726F6C6C6261636BULL ^ (uint64_t)k), 3);
        assert_memory_equal(a.s, b.s, sizeof a.s);
    }
    /* Purposes do not share streams. */
    ebm_rng p, r, e, k;
    rng_derive(&p, seed, RNG_PARAMS, 0, 0);
    rng_derive(&r, seed, RNG_RANK, 0, 0);
    rng_derive(&e, seed, RNG_EVAL, 0, 0);
    rng_derive(&k, seed, RNG_ROLLBACK, 1, 0);
    assert_true(memcmp(p.s, r.s, sizeof p.s) != 0 && memcmp(r.s, e.s, sizeof r.s) != 0);
    assert_true(memcmp(k.s, r.s, sizeof k.s) != 0 && memcmp(k.s, e.s, sizeof k.s) != 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_derive_matches_earlier_streams),
        cmocka_unit_test(test_rng_next_matches_reference_outputs),
        cmocka_unit_test(test_rng_next_matches_reference_long_run),
        cmocka_unit_test(test_rng_seed_streams_are_jumps_apart),
        cmocka_unit_test(test_rng_seed_streams_differ),
        cmocka_unit_test(test_rng_seed_same_seed_and_stream_repeat),
        cmocka_unit_test(test_rng_seed_different_seeds_differ),
        cmocka_unit_test(test_rng_seed_zero_is_not_stuck),
        cmocka_unit_test(test_rng_uniform_in_unit_interval),
        cmocka_unit_test(test_rng_uniform_extreme_outputs),
        cmocka_unit_test(test_rng_fill_uniform_in_range),
        cmocka_unit_test(test_rng_fill_uniform_top_output_symmetric_below_hi),
        cmocka_unit_test(test_rng_fill_normal_moments),
        cmocka_unit_test(test_rng_fill_normal_odd_n),
        cmocka_unit_test(test_rng_fill_normal_scale),
        cmocka_unit_test(test_rng_below_in_range),
        cmocka_unit_test(test_rng_below_uniform_chi_square),
        cmocka_unit_test(test_rng_below_no_modulo_bias),
        cmocka_unit_test(test_rng_shuffle_is_permutation),
        cmocka_unit_test(test_rng_shuffle_deterministic_for_same_state),
        cmocka_unit_test(test_rng_shuffle_tiny_n),
        cmocka_unit_test(test_rng_shuffle_uniform_over_permutations),
    };
    return harness_run(argc, argv, "test_rng", tests, HARNESS_COUNT(tests), NULL, NULL);
}
