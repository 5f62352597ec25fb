/* test_data.c: the data set in memory (core/data.h): data_validate's checks
 * and its messages (file, split, global example index, value), the affine
 * input map against its closed form, and the shard's allocation. Shards for
 * data_validate are built by hand on the stack, independently of
 * data_shard_alloc. */
#include <ctype.h>
#include <float.h>
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

#include "core/data.h"

#define PATH "runs/a/digits_copy.h5"
#define D 4
#define N 3

/* The digits' layout, shrunk: K = 10, pixels in [0, 16]. */
static data_info digits_info(void)
{
    data_info info;
    memset(&info, 0, sizeof info);
    info.d = D, info.k = 10, info.height = 2, info.width = 2;
    info.value_min = 0.0, info.value_max = 16.0;
    info.n[SPLIT_TRAIN] = 100, info.n[SPLIT_VAL] = 100, info.n[SPLIT_TEST] = 100;
    return info;
}

/* Three valid examples at global indices offset, offset+1, offset+2; labels
 * 0, K-1 and one between, pixels with both boundary values in them. */
typedef struct {
    float images[N * D];
    int32_t labels[N];
    data_shard shard;
} small_shard;

static void make_valid(small_shard *s, int64_t offset)
{
    static const float px[N * D] = {0.0f, 16.0f, 7.5f, 1.0f, 16.0f, 16.0f, 0.0f, 0.0f,
                                    3.0f, 0.0625f, 15.9375f, 12.0f};
    static const int32_t lab[N] = {0, 9, 4};
    memcpy(s->images, px, sizeof px);
    memcpy(s->labels, lab, sizeof lab);
    memset(&s->shard, 0, sizeof s->shard);
    s->shard.n_total = offset + N + 10, s->shard.offset = offset, s->shard.n = N;
    s->shard.d = D;
    s->shard.images = s->images, s->shard.labels = s->labels;
}

/* Case-insensitive strstr (for "nan", "inf": printf may write NaN, -nan...). */
static int contains_nocase(const char *hay, const char *needle)
{
    const size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

/* data_validate must fail, and its message must hold every one of `want`
 * (NULL-terminated). */
static void expect_rejected(const small_shard *s, const char *split, const char *const *want,
                            int nocase)
{
    const data_info info = digits_info();
    ebm_err err;
    memset(&err, 0, sizeof err);
    const int rc = data_validate(&s->shard, &info, PATH, split, &err);
    if (rc != -1)
        fail_msg("data_validate returned %d for an invalid shard of /%s", rc, split);
    for (const char *const *w = want; *w; w++) {
        const int found = nocase ? contains_nocase(err.msg, *w) : strstr(err.msg, *w) != NULL;
        if (!found)
            fail_msg("message '%s' does not name '%s'", err.msg, *w);
    }
}

/* ---- data_validate: accepted ------------------------------------------------ */

static void test_data_validate_accepts_valid_shard_with_boundaries(void **state)
{
    (void)state;
    small_shard s;
    make_valid(&s, 40);
    const data_info info = digits_info();
    ebm_err err;
    memset(&err, 'Z', sizeof err);
    ebm_err before;
    memcpy(&before, &err, sizeof err);
    /* Labels 0 and K - 1 and pixels equal to value_min and value_max are inside. */
    assert_int_equal(data_validate(&s.shard, &info, PATH, "train", &err), 0);
    assert_memory_equal(&err, &before, sizeof err); /* success writes no error */
}

static void test_data_validate_accepts_empty_shard(void **state)
{
    (void)state;
    small_shard s;
    make_valid(&s, 0);
    s.shard.n = 0;
    s.labels[0] = -7; /* outside n: never looked at */
    const data_info info = digits_info();
    ebm_err err = {0};
    assert_int_equal(data_validate(&s.shard, &info, PATH, "val", &err), 0);
}

static void test_data_validate_accepts_negative_value_range(void **state)
{
    (void)state;
    /* A range not starting at 0, boundaries included: [-2.5, 2.5]. */
    small_shard s;
    make_valid(&s, 0);
    for (int i = 0; i < N * D; i++)
        s.images[i] = (float)((i % 3) - 1) * 2.5f; /* -2.5, 0, 2.5 */
    data_info info = digits_info();
    info.value_min = -2.5, info.value_max = 2.5;
    ebm_err err = {0};
    assert_int_equal(data_validate(&s.shard, &info, PATH, "test", &err), 0);
}

/* ---- data_validate: labels -------------------------------------------------- */

static void test_data_validate_rejects_label_too_large(void **state)
{
    (void)state;
    small_shard s;
    make_valid(&s, 40);
    s.labels[2] = 13; /* K = 10; example 40 + 2 */
    const char *const want[] = {PATH, "/val/labels", "42", "13", NULL};
    expect_rejected(&s, "val", want, 0);
}

static void test_data_validate_rejects_label_equal_to_k(void **state)
{
    (void)state;
    /* [0, K) is half-open: K itself is out. Offset past 2^32, so the global
     * index only comes out right in 64-bit arithmetic. */
    small_shard s;
    make_valid(&s, INT64_C(5000000000));
    s.labels[1] = 10;
    const char *const want[] = {PATH, "/train/labels", "5000000001", NULL};
    expect_rejected(&s, "train", want, 0);
}

static void test_data_validate_rejects_negative_label(void **state)
{
    (void)state;
    small_shard s;
    make_valid(&s, 700);
    s.labels[0] = -1; /* example 700 */
    const char *const want[] = {PATH, "/test/labels", "700", "-1", NULL};
    expect_rejected(&s, "test", want, 0);
    make_valid(&s, 700);
    s.labels[2] = INT32_MIN; /* example 702 */
    const char *const want_min[] = {PATH, "/test/labels", "702", "-2147483648", NULL};
    expect_rejected(&s, "test", want_min, 0);
}

/* ---- data_validate: pixels --------------------------------------------------- */

static void test_data_validate_rejects_nan_pixel(void **state)
{
    (void)state;
    small_shard s;
    make_valid(&s, 1200);
    s.images[1 * D + 2] = NAN; /* example 1201 */
    const char *const want[] = {PATH, "/train/images", "1201", "nan", NULL};
    expect_rejected(&s, "train", want, 1);
}

static void test_data_validate_rejects_inf_pixel(void **state)
{
    (void)state;
    small_shard s;
    make_valid(&s, 600);
    s.images[0] = INFINITY; /* example 600 */
    const char *const want[] = {PATH, "/test/images", "600", "inf", NULL};
    expect_rejected(&s, "test", want, 1);
    make_valid(&s, 30);
    s.images[2 * D + 3] = -INFINITY; /* example 32 */
    const char *const want_neg[] = {PATH, "/test/images", "32", "-inf", NULL};
    expect_rejected(&s, "test", want_neg, 1);
}

static void test_data_validate_rejects_pixel_above_max(void **state)
{
    (void)state;
    small_shard s;
    make_valid(&s, 40);
    s.images[2 * D + 1] = 16.5f; /* example 42 */
    const char *const want[] = {PATH, "/train/images", "42", "16.5", NULL};
    expect_rejected(&s, "train", want, 0);
}

static void test_data_validate_rejects_pixel_below_min(void **state)
{
    (void)state;
    small_shard s;
    make_valid(&s, 40);
    s.images[0 * D + 3] = -0.25f; /* example 40 */
    const char *const want[] = {PATH, "/val/images", "40", "-0.25", NULL};
    expect_rejected(&s, "val", want, 0);
}

static void test_data_validate_rejects_one_ulp_outside(void **state)
{
    (void)state;
    /* The boundaries are exact: the next float past either is out. */
    const data_info info = digits_info();
    small_shard s;
    ebm_err err = {0};
    make_valid(&s, 0);
    s.images[5] = nextafterf(16.0f, INFINITY);
    assert_int_equal(data_validate(&s.shard, &info, PATH, "train", &err), -1);
    make_valid(&s, 0);
    s.images[6] = nextafterf(0.0f, -INFINITY); /* the smallest negative subnormal */
    assert_int_equal(data_validate(&s.shard, &info, PATH, "train", &err), -1);
}

static void test_data_validate_names_first_violation(void **state)
{
    (void)state;
    /* Example 40 has a bad pixel, example 41 a bad label, example 42 a NaN:
     * the message is about example 40. */
    small_shard s;
    make_valid(&s, 40);
    s.images[0 * D + 1] = 99.0f;
    s.labels[1] = 55;
    s.images[2 * D + 0] = NAN;
    const data_info info = digits_info();
    ebm_err err = {0};
    assert_int_equal(data_validate(&s.shard, &info, PATH, "train", &err), -1);
    assert_non_null(strstr(err.msg, "/train/images"));
    assert_non_null(strstr(err.msg, "40"));
    assert_non_null(strstr(err.msg, "99"));
    assert_null(strstr(err.msg, "55"));
    assert_null(strstr(err.msg, "41"));
}

/* ---- data_input_map / data_map ------------------------------------------------ */

/* Ranges for the map to [-1, 1]: the digits' [0, 16], fashion-MNIST's
 * [0, 255] (scripts/make_fashion_mnist.py), [0, 1] and others. */
static const double ranges[][2] = {{0.0, 16.0}, {0.0, 255.0}, {0.0, 1.0}, {-1.0, 1.0},
                                   {-3.0, 5.0}, {2.0, 3.0},   {-128.0, 127.0}, {0.0, 41.0}};
#define N_COMMON_RANGES 6 /* the first six: the data sets above and simple cases */

/* Maps value_min and value_max through data_input_map(.., 1) and data_map;
 * fails unless they land on -1 and +1 exactly (data.h: [value_min,
 * value_max] -> [-1, 1]; the closed form is exact, so is the requirement). */
static void check_box_endpoints(double lo, double hi)
{
    data_info info = digits_info();
    info.value_min = lo, info.value_max = hi;
    const input_map m = data_input_map(&info, 1);
    const float x[2] = {(float)lo, (float)hi};
    float y[2];
    data_map(&m, x, y, 2);
    if (y[0] != -1.0f || y[1] != 1.0f)
        fail_msg("[%g, %g] maps to [%.9g, %.9g], expected exactly [-1, 1] "
                 "(scale %.9g, shift %.9g)",
                 lo, hi, y[0], y[1], m.scale, m.shift);
}

static void test_data_input_map_box_endpoints_exact(void **state)
{
    (void)state;
    for (size_t r = 0; r < N_COMMON_RANGES; r++)
        check_box_endpoints(ranges[r][0], ranges[r][1]);
}

/* Any range: scale and shift are each rounded to float, so the ends land on
 * -1 and +1 within a few ulps, not always exactly (the clamp box is computed
 * with the same map, so chains and data agree on it). Tolerance: 2 ulps of 1
 * (2 * FLT_EPSILON), one for each rounded coefficient. */
static void test_data_input_map_box_endpoints_any_range_within_ulps(void **state)
{
    (void)state;
    for (size_t r = N_COMMON_RANGES; r < sizeof ranges / sizeof ranges[0]; r++) {
        data_info info = digits_info();
        info.value_min = ranges[r][0], info.value_max = ranges[r][1];
        const input_map m = data_input_map(&info, 1);
        const float x[2] = {(float)ranges[r][0], (float)ranges[r][1]};
        float y[2];
        data_map(&m, x, y, 2);
        if (fabsf(y[0] + 1.0f) > 2 * FLT_EPSILON || fabsf(y[1] - 1.0f) > 2 * FLT_EPSILON)
            fail_msg("[%g, %g] maps to [%.9g, %.9g], more than 2 ulps from [-1, 1]",
                     ranges[r][0], ranges[r][1], y[0], y[1]);
    }
}

static void test_data_input_map_box_digits_closed_form(void **state)
{
    (void)state;
    /* [0, 16] -> [-1, 1]: scale 2/16 = 1/8 and shift -1, both exact in binary
     * (docs/design.md section 1: "digits: s = 1/8, t = -1"). */
    const data_info info = digits_info();
    const input_map m = data_input_map(&info, 1);
    assert_true(m.scale == 0.125f);
    assert_true(m.shift == -1.0f);
    float x[17], y[17];
    for (int v = 0; v <= 16; v++)
        x[v] = (float)v;
    data_map(&m, x, y, 17);
    for (int v = 0; v <= 16; v++)
        if (y[v] != (float)(v / 8.0 - 1.0)) /* v/8 - 1 is exact in float */
            fail_msg("pixel %d maps to %.9g, expected %.9g", v, y[v], v / 8.0 - 1.0);
}

static void test_data_input_map_box_interior_affine(void **state)
{
    (void)state;
    /* Inside the range the map is 2 (x - min) / (max - min) - 1, computed here
     * in double. Tolerance: scale and shift are each rounded to float, and
     * data_map's product and sum each round once more, so the float result
     * is within a few float ulps of the larger of |scale x|, |shift|, 1:
     * 4 FLT_EPSILON times their sum bounds it with room to spare (a wrong
     * scale or shift is off by ~1e-2 or more). */
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        data_info info = digits_info();
        const double lo = ranges[r][0], hi = ranges[r][1];
        info.value_min = lo, info.value_max = hi;
        const input_map m = data_input_map(&info, 1);
        enum { STEPS = 64 };
        float x[STEPS + 1], y[STEPS + 1];
        for (int i = 0; i <= STEPS; i++)
            x[i] = (float)(lo + (hi - lo) * i / STEPS);
        data_map(&m, x, y, STEPS + 1);
        for (int i = 0; i <= STEPS; i++) {
            const double want = 2.0 * ((double)x[i] - lo) / (hi - lo) - 1.0;
            const double tol =
                4.0 * FLT_EPSILON * (fabs((double)m.scale * x[i]) + fabs((double)m.shift) + 1.0);
            if (fabs(y[i] - want) > tol)
                fail_msg("[%g, %g]: %.9g maps to %.9g, expected %.9g (tolerance %.3g)", lo, hi,
                         x[i], y[i], want, tol);
        }
    }
}

static void test_data_input_map_identity_without_box(void **state)
{
    (void)state;
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        data_info info = digits_info();
        info.value_min = ranges[r][0], info.value_max = ranges[r][1];
        const input_map m = data_input_map(&info, 0);
        assert_true(m.scale == 1.0f);
        assert_true(m.shift == 0.0f);
        /* 1 * x + 0 is x for every finite x (and for infinities). */
        const float x[] = {0.0f, 16.0f, 7.25f, -3.5f, 1e30f, -1e-30f, FLT_MIN, FLT_MAX,
                           FLT_TRUE_MIN, INFINITY};
        float y[sizeof x / sizeof x[0]];
        data_map(&m, x, y, sizeof x / sizeof x[0]);
        for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
            if (y[i] != x[i])
                fail_msg("identity map changed %.9g into %.9g", x[i], y[i]);
    }
}

static void test_data_map_applies_scale_and_shift(void **state)
{
    (void)state;
    /* out = 2.5 x - 0.75: for these x every product and sum is exact in float
     * (few significant bits), so the double closed form is the exact answer. */
    const input_map m = {2.5f, -0.75f};
    const float x[] = {0.0f, 1.0f, -2.0f, 0.5f, 16.0f, 3.25f, -1000.0f, 0.125f};
    enum { NX = sizeof x / sizeof x[0], CANARY = 4 };
    float out[NX + CANARY];
    for (int i = 0; i < NX + CANARY; i++)
        out[i] = -12345.0f;
    data_map(&m, x, out, NX);
    for (int i = 0; i < NX; i++) {
        const double want = 2.5 * x[i] - 0.75;
        if ((double)out[i] != want)
            fail_msg("map(%g) = %.9g, expected %.9g", x[i], out[i], want);
    }
    for (int i = NX; i < NX + CANARY; i++)
        assert_true(out[i] == -12345.0f); /* exactly n values written */
    /* n = 0 writes nothing. */
    data_map(&m, x, out, 0);
    assert_true(out[0] == (float)(2.5 * 0.0 - 0.75));
    float untouched = 42.0f;
    data_map(&m, x, &untouched, 0);
    assert_true(untouched == 42.0f);
}

static void test_data_map_in_place(void **state)
{
    (void)state;
    /* eval maps batches into their own buffer; in place must also work
     * (each output depends on its own input only). */
    const input_map m = {0.125f, -1.0f};
    float x[] = {0.0f, 8.0f, 16.0f, 4.0f};
    data_map(&m, x, x, 4);
    assert_true(x[0] == -1.0f);
    assert_true(x[1] == 0.0f);
    assert_true(x[2] == 1.0f);
    assert_true(x[3] == -0.5f);
}

/* ---- data_shard_alloc / data_shard_free ---------------------------------------- */

static void test_data_shard_alloc_sizes_and_zero_fills(void **state)
{
    (void)state;
    data_shard s;
    memset(&s, 0x5A, sizeof s); /* garbage in every field, pointers included */
    ebm_err err = {0};
    const int64_t n = 37;
    const int d = 64;
    assert_int_equal(data_shard_alloc(&s, 1257, 158, n, d, &err), 0);
    assert_int_equal(s.n_total, 1257);
    assert_int_equal(s.offset, 158);
    assert_int_equal(s.n, n);
    assert_int_equal(s.d, d);
    assert_non_null(s.images);
    assert_non_null(s.labels);
    for (int64_t i = 0; i < n * d; i++)
        if (s.images[i] != 0.0f)
            fail_msg("images[%lld] = %g after alloc", (long long)i, s.images[i]);
    for (int64_t i = 0; i < n; i++)
        assert_int_equal(s.labels[i], 0);
    /* The full [n, d] and [n] are writable (ASan reports a short block). */
    for (int64_t i = 0; i < n * d; i++)
        s.images[i] = 1.0f;
    for (int64_t i = 0; i < n; i++)
        s.labels[i] = 1;
    data_shard_free(&s);
    assert_null(s.images);
    assert_null(s.labels);
}

static void test_data_shard_alloc_empty_shard(void **state)
{
    (void)state;
    data_shard s;
    ebm_err err = {0};
    assert_int_equal(data_shard_alloc(&s, 10, 10, 0, 64, &err), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(s.offset, 10);
    data_shard_free(&s);
    assert_null(s.images);
    assert_null(s.labels);
}

static void test_data_shard_alloc_too_large_fails(void **state)
{
    (void)state;
    /* INT64_MAX labels of 4 bytes exceed SIZE_MAX: refused before allocating. */
    data_shard s;
    memset(&s, 0x5A, sizeof s);
    ebm_err err = {0};
    assert_int_equal(data_shard_alloc(&s, INT64_MAX, 0, INT64_MAX, 4, &err), -1);
    assert_null(s.images);
    assert_null(s.labels);
    assert_non_null(strstr(err.msg, "out of memory"));
    data_shard_free(&s); /* still safe after the failure */
}

static void test_data_shard_free_idempotent(void **state)
{
    (void)state;
    data_shard s;
    ebm_err err = {0};
    assert_int_equal(data_shard_alloc(&s, 5, 0, 5, 3, &err), 0);
    data_shard_free(&s);
    data_shard_free(&s); /* a second free is a no-op (ASan reports a double free) */
    assert_null(s.images);
    assert_null(s.labels);
    /* And on a shard that was never allocated, zero-initialised. */
    data_shard z;
    memset(&z, 0, sizeof z);
    data_shard_free(&z);
    assert_null(z.images);
}

static void test_data_split_names(void **state)
{
    (void)state;
    /* The dataset groups of the file layout (docs/design.md section 3). */
    assert_string_equal(data_split_names[SPLIT_TRAIN], "train");
    assert_string_equal(data_split_names[SPLIT_VAL], "val");
    assert_string_equal(data_split_names[SPLIT_TEST], "test");
}

/* Value ranges a data file may declare: the map to [-1, 1] must stay finite
 * (tests/fuzz found [0, 2.65e-315] accepted and every input NaN). */
static void test_data_check_range_refuses_unmappable_ranges(void **state)
{
    (void)state;
    static const double bad[][2] = {
        {0.0, 2.65250992e-315}, /* the fuzzer's: scale overflows float */
        {0.0, 1e-300},          {1.0, 1.0},  {2.0, 1.0},       {0.0, INFINITY},
        {NAN, 1.0},             {0.0, 1e39}, {-1e39, 0.0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        data_info info = {0};
        info.value_min = bad[i][0], info.value_max = bad[i][1];
        ebm_err err = {0};
        if (data_check_range(&info, "r.h5", &err) == 0)
            fail_msg("range [%g, %g] accepted", bad[i][0], bad[i][1]);
        assert_non_null(strstr(err.msg, "'r.h5'"));
        assert_non_null(strstr(err.msg, "value_min"));
    }
    static const double good[][2] = {{0.0, 16.0}, {-1.0, 1.0}, {0.0, 1e-30}, {-FLT_MAX, FLT_MAX}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        data_info info = {0};
        info.value_min = good[i][0], info.value_max = good[i][1];
        ebm_err err = {0};
        if (data_check_range(&info, "r.h5", &err) != 0)
            fail_msg("range [%g, %g] refused: %s", good[i][0], good[i][1], err.msg);
        /* Its ends map to -1 and 1 (to float rounding). */
        const input_map m = data_input_map(&info, 1);
        float ends[2] = {(float)good[i][0], (float)good[i][1]}, out[2];
        data_map(&m, ends, out, 2);
        assert_true(fabsf(out[0] + 1.0f) < 1e-3f && fabsf(out[1] - 1.0f) < 1e-3f);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_validate_accepts_valid_shard_with_boundaries),
        cmocka_unit_test(test_data_validate_accepts_empty_shard),
        cmocka_unit_test(test_data_validate_accepts_negative_value_range),
        cmocka_unit_test(test_data_validate_rejects_label_too_large),
        cmocka_unit_test(test_data_validate_rejects_label_equal_to_k),
        cmocka_unit_test(test_data_validate_rejects_negative_label),
        cmocka_unit_test(test_data_validate_rejects_nan_pixel),
        cmocka_unit_test(test_data_validate_rejects_inf_pixel),
        cmocka_unit_test(test_data_validate_rejects_pixel_above_max),
        cmocka_unit_test(test_data_validate_rejects_pixel_below_min),
        cmocka_unit_test(test_data_validate_rejects_one_ulp_outside),
        cmocka_unit_test(test_data_validate_names_first_violation),
        cmocka_unit_test(test_data_input_map_box_endpoints_exact),
        cmocka_unit_test(test_data_input_map_box_endpoints_any_range_within_ulps),
        cmocka_unit_test(test_data_input_map_box_digits_closed_form),
        cmocka_unit_test(test_data_input_map_box_interior_affine),
        cmocka_unit_test(test_data_input_map_identity_without_box),
        cmocka_unit_test(test_data_map_applies_scale_and_shift),
        cmocka_unit_test(test_data_map_in_place),
        cmocka_unit_test(test_data_shard_alloc_sizes_and_zero_fills),
        cmocka_unit_test(test_data_shard_alloc_empty_shard),
        cmocka_unit_test(test_data_shard_alloc_too_large_fails),
        cmocka_unit_test(test_data_shard_free_idempotent),
        cmocka_unit_test(test_data_split_names),
        cmocka_unit_test(test_data_check_range_refuses_unmappable_ranges),
    };
    return harness_run(argc, argv, "test_data", tests, HARNESS_COUNT(tests), NULL, NULL);
}
