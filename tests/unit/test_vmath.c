/* test_vmath.c: vmath.h's promises. (1) Every clone gives bitwise the same
 * results: the kernels built with EBM_VECTOR_CLONES (on this CPU the AVX2
 * clone when it has AVX2) equal those built without (vmath_noclone.c), on
 * every float of a dense sweep. (2) The results agree with libm to a few ulp
 * (the header's claim), measured against double-precision libm. */
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
#include "vmath_kernels.h"

VMATH_KERNELS(clone)

/* Inputs: every 499th float bit pattern of [-88, 0] plus the edges. */
static float *nonpos_inputs(size_t *n)
{
    const uint32_t lo = vm_bits(-0.0f), hi = vm_bits(-88.0f);
    const size_t count = (hi - lo) / 499 + 4;
    float *x = calloc(count, sizeof *x);
    assert_non_null(x);
    size_t k = 0;
    for (uint32_t b = lo; b <= hi && k < count - 3; b += 499)
        x[k++] = vm_float(b);
    x[k++] = 0.0f, x[k++] = -88.0f, x[k++] = -1e-30f;
    *n = k;
    return x;
}

static size_t ulps(float a, float b)
{
    if (a == b)
        return 0;
    const int64_t ia = vm_bits(a) & 0x80000000u ? -(int64_t)(vm_bits(a) & 0x7fffffffu) : vm_bits(a);
    const int64_t ib = vm_bits(b) & 0x80000000u ? -(int64_t)(vm_bits(b) & 0x7fffffffu) : vm_bits(b);
    return (size_t)llabs(ia - ib);
}

static void test_vmath_clones_bitwise_equal(void **state)
{
    (void)state;
    size_t n;
    float *x = nonpos_inputs(&n);
    float *a = calloc(n, sizeof *a), *b = calloc(n, sizeof *b);
    assert_non_null(a), assert_non_null(b);
    vk_expm1_clone(x, a, n), vk_expm1_plain(x, b, n);
    assert_memory_equal(a, b, n * sizeof *a);
    vk_exp_clone(x, a, n), vk_exp_plain(x, b, n);
    assert_memory_equal(a, b, n * sizeof *a);
    enum { M = 1 << 18 };
    double *u = calloc(M, sizeof *u), *la = calloc(M, sizeof *la), *lb = calloc(M, sizeof *lb);
    uint32_t *k = calloc(M, sizeof *k);
    float *ca = calloc(M, sizeof *ca), *sa = calloc(M, sizeof *sa);
    float *cb = calloc(M, sizeof *cb), *sb = calloc(M, sizeof *sb);
    assert_true(u && la && lb && k && ca && sa && cb && sb);
    for (size_t i = 0; i < M; i++) {
        u[i] = ldexp((double)(i + 1) / M, -(int)(i % 60)); /* (0, 1] over 60 binades */
        k[i] = (uint32_t)(i * 2654435761u);                /* angles all round the turn */
    }
    vk_log_clone(u, la, M), vk_log_plain(u, lb, M);
    assert_memory_equal(la, lb, M * sizeof *la);
    vk_sincos_clone(k, ca, sa, M), vk_sincos_plain(k, cb, sb, M);
    assert_memory_equal(ca, cb, M * sizeof *ca);
    assert_memory_equal(sa, sb, M * sizeof *sa);
    print_message("clones and baseline agree bitwise on %zu + %d inputs (%s)\n", n, M,
                  __builtin_cpu_supports("avx2") ? "AVX2 clone in use" : "no AVX2 here");
    free(x), free(a), free(b), free(u), free(la), free(lb), free(k);
    free(ca), free(sa), free(cb), free(sb);
}

/* The header says "agree with libm to a few ulp". Tolerance: 4 ulp of the
 * float result for exp/expm1 and sincos (against double libm rounded to
 * float, itself within half an ulp), where the result is a normal float
 * (below that, exp flushes to 0 as documented); 1e-11 relative for the
 * double log (its stated truncation is 3e-12). */
static void test_vmath_agrees_with_libm(void **state)
{
    (void)state;
    size_t n;
    float *x = nonpos_inputs(&n);
    float *e = calloc(n, sizeof *e), *m = calloc(n, sizeof *m);
    assert_non_null(e), assert_non_null(m);
    vk_exp_clone(x, e, n);
    vk_expm1_clone(x, m, n);
    size_t worst_exp = 0, worst_expm1 = 0;
    for (size_t i = 0; i < n; i++) {
        const float ref_e = (float)exp((double)x[i]), ref_m = (float)expm1((double)x[i]);
        if (ref_e >= 1.17549435e-38f && ulps(e[i], ref_e) > worst_exp)
            worst_exp = ulps(e[i], ref_e);
        if (ulps(m[i], ref_m) > worst_expm1)
            worst_expm1 = ulps(m[i], ref_m);
    }
    enum { M = 1 << 16 };
    uint32_t k[M];
    float c[M], s[M];
    for (size_t i = 0; i < M; i++)
        k[i] = (uint32_t)(i * 2654435761u);
    vk_sincos_clone(k, c, s, M);
    size_t worst_trig = 0;
    for (size_t i = 0; i < M; i++) {
        const double th = 6.283185307179586477 * (double)k[i] / 4294967296.0;
        const size_t uc = ulps(c[i], (float)cos(th)), us = ulps(s[i], (float)sin(th));
        /* Near a zero the result is tiny and an ulp of it is meaningless:
         * there the absolute error must be below 2^-24. */
        const int small_c = fabs(cos(th)) < 1e-3, small_s = fabs(sin(th)) < 1e-3;
        if (small_c)
            assert_true(fabs((double)c[i] - cos(th)) < 6e-8);
        else if (uc > worst_trig)
            worst_trig = uc;
        if (small_s)
            assert_true(fabs((double)s[i] - sin(th)) < 6e-8);
        else if (us > worst_trig)
            worst_trig = us;
    }
    double worst_log = 0;
    for (int i = 1; i <= 100000; i++) {
        const double u = ldexp((double)i / 100000.0, -(i % 50));
        double y;
        vk_log_clone(&u, &y, 1);
        const double rel = fabs(y - log(u)) / fabs(log(u) != 0 ? log(u) : 1.0);
        if (rel > worst_log && log(u) != 0)
            worst_log = rel;
    }
    print_message("worst: exp %zu ulp, expm1 %zu ulp, sincos %zu ulp, log %.3g relative\n",
                  worst_exp, worst_expm1, worst_trig, worst_log);
    assert_true(worst_exp <= 4);
    assert_true(worst_expm1 <= 4);
    assert_true(worst_trig <= 4);
    assert_true(worst_log < 1e-11);
    free(x), free(e), free(m);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vmath_clones_bitwise_equal),
        cmocka_unit_test(test_vmath_agrees_with_libm),
    };
    return harness_run(argc, argv, "test_vmath", tests, HARNESS_COUNT(tests), NULL, NULL);
}
