/* vmath.h: branch-free exp, expm1, log and sincos that gcc vectorises, for
 * the elementwise passes between the matrix products (ELU, softmax, normals).
 *
 * libm's expm1f/expf/log/sincos are scalar calls: in the ELU they cost as much
 * as a third of the sgemm time. These are the classic reductions (Cody-Waite
 * for exp, mantissa/exponent split for log, quarter turns for sincos) with
 * Taylor polynomials carried far enough that the truncation error is below
 * float rounding; the results agree with libm to a few ulp. Everything is
 * plain C11 arithmetic and integer bit operations, so the loops that call
 * these vectorise at -O3 for any x86-64 (SSE2) and, through EBM_VECTOR_CLONES,
 * also get an AVX2 clone chosen at run time. Only elementwise IEEE operations
 * are used (no fused multiply-add: -std=c11 turns contraction off), so every
 * clone gives bitwise the same results. */
#ifndef EBM_VMATH_H
#define EBM_VMATH_H

#include <stdint.h>
#include <string.h>

/* A function attribute: also compile an AVX2 version, picked at load time by
 * the CPU (GNU ifunc). Elsewhere the baseline code alone. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) &&     \
    !defined(EBM_NO_CLONES)
#define EBM_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define EBM_VECTOR_CLONES
#endif

static inline uint32_t vm_bits(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

static inline float vm_float(uint32_t b)
{
    float x;
    memcpy(&x, &b, sizeof x);
    return x;
}

static inline uint64_t vm_bits64(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

static inline double vm_double(uint64_t b)
{
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

/* cond ? a : b as a bit mask. A plain ?: on floats becomes a branch once gcc
 * sinks the arithmetic that feeds it, and with -ftrapping-math (the default)
 * it will not if-convert a branch holding floating-point arithmetic: the loop
 * then stays scalar. Masks have no branch to sink into. */
static inline float vm_select(int cond, float a, float b)
{
    const uint32_t m = 0u - (uint32_t)(cond != 0);
    return vm_float((vm_bits(a) & m) | (vm_bits(b) & ~m));
}

/* x = n ln2 + r with |r| <= ln2/2 for x in [-88, 0]; returns r and sets
 * *scale = 2^n (0 for n = -127). Outside that range the results are garbage
 * that the callers select away: a clamp (a select feeding arithmetic) would
 * make gcc duplicate the arithmetic into branches and give up vectorising,
 * and there is no float-to-int conversion that could overflow. NaN stays NaN
 * in r. */
static inline float vm_exp_reduce(float x, float *scale)
{
    /* Adding 1.5 * 2^23 rounds x log2(e) to the nearest integer n, which then
     * sits in the low mantissa bits of t: bits(t) = 0x4b400000 + n. */
    const float t = x * 1.44269504088896341f + 12582912.0f;
    const float n = t - 12582912.0f;
    /* ln2 = 0.693359375 - 2.12194440e-4: n * 0.693359375 is exact. */
    const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    *scale = vm_float((vm_bits(t) << 23) + 0x3f800000u);
    return r;
}

/* expm1(r) - r for |r| <= 0.35: Taylor to r^8 (truncation < 1e-9 relative). */
static inline float vm_expm1_poly(float r)
{
    float p = 1.0f / 40320.0f;
    p = p * r + 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    return p * (r * r);
}

/* expm1(x) for x <= 0 (and NaN): 2^n expm1(r) + (2^n - 1). Exact at x = 0,
 * -1 below -88 (where expm1 rounds to -1 anyway); garbage for x > 0. */
static inline float vm_expm1_nonpos(float x)
{
    float scale;
    const float r = vm_exp_reduce(x, &scale);
    const float em1 = r + vm_expm1_poly(r);
    const float y = scale * em1 + (scale - 1.0f);
    return vm_select(x < -88.0f, -1.0f, y);
}

/* exp(x) for x <= 0 (and NaN): 2^n (1 + expm1(r)); 0 below -88 (true value
 * < 7e-39); garbage for x > 0. */
static inline float vm_exp_nonpos(float x)
{
    float scale;
    const float r = vm_exp_reduce(x, &scale);
    const float em1 = r + vm_expm1_poly(r);
    const float y = scale + scale * em1;
    return vm_select(x < -88.0f, 0.0f, y);
}

/* ln(u) for u in [2^-1022, 1], in double: u = m 2^e, m in [sqrt(1/2), sqrt(2)),
 * ln m = 2 atanh(s), s = (m - 1)/(m + 1), |s| < 0.172, series to s^13
 * (truncation < 3e-12 relative: the caller rounds to float). Double for
 * the input's resolution near u = 1, where a Box-Muller radius is small. */
static inline double vm_log_unit(double u)
{
    const uint64_t b = vm_bits64(u);
    double m = vm_double((b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
    double e = (double)(int32_t)((uint32_t)(b >> 52) & 0x7ffu) - 1023.0;
    /* Halve m above sqrt(2): subtract 1 from its exponent field, add 1 to e. */
    const uint64_t big = 0u - (uint64_t)(m > 1.41421356237309505);
    m = vm_double(vm_bits64(m) - (big & 0x0010000000000000ULL));
    e = e + vm_double(big & 0x3ff0000000000000ULL);
    const double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double p = 1.0 / 13.0;
    p = p * s2 + 1.0 / 11.0;
    p = p * s2 + 1.0 / 9.0;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    const double ln_m = 2.0 * s + 2.0 * s * (s2 * p);
    return e * 0.693147180559945286 + (ln_m + e * 2.319046813846299558e-17);
}

/* cos and sin of the angle 2 pi k / 2^32 (k: 32 random bits). The nearest
 * quarter turn q is split off exactly in integers, leaving |theta| <= pi/4
 * for Taylor polynomials (to theta^9 and theta^10: truncation < 2e-9). */
static inline void vm_sincos_turn(uint32_t k, float *c_out, float *s_out)
{
    const uint32_t q = (k + 0x20000000u) >> 30; /* nearest quarter, mod 4 */
    const int32_t f = (int32_t)(k - (q << 30)); /* in [-2^29, 2^29) */
    const float th = (float)f * (1.57079632679489662f / 1073741824.0f);
    const float t2 = th * th;
    float s = -1.0f / 39916800.0f;
    s = s * t2 + 1.0f / 362880.0f;
    s = s * t2 - 1.0f / 5040.0f;
    s = s * t2 + 1.0f / 120.0f;
    s = s * t2 - 1.0f / 6.0f;
    s = th + th * (t2 * s);
    float c = 1.0f / 479001600.0f;
    c = c * t2 - 1.0f / 3628800.0f;
    c = c * t2 + 1.0f / 40320.0f;
    c = c * t2 - 1.0f / 720.0f;
    c = c * t2 + 1.0f / 24.0f;
    c = c * t2 - 0.5f;
    c = 1.0f + t2 * c;
    /* Rotate by q quarter turns: (c, s) -> (-s, c) -> (-c, -s) -> (s, -c). */
    const float cq = vm_select((int)(q & 1u), s, c), sq = vm_select((int)(q & 1u), c, s);
    *c_out = vm_float(vm_bits(cq) ^ (((q + 1u) & 2u) << 30));
    *s_out = vm_float(vm_bits(sq) ^ ((q & 2u) << 30));
}

#endif
