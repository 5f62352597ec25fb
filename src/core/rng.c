/* rng.c: xoshiro256** (Blackman & Vigna), seeded through splitmix64. */
#include "core/rng.h"

#include <math.h>

#include "num/vmath.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t rng_next(ebm_rng *rng)
{
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Equivalent to 2^128 calls of rng_next: the reference jump polynomial. */
static void rng_jump(ebm_rng *rng)
{
    static const uint64_t jump[] = {0x180ec6d33cfd0abaULL, 0xd5a61266f0c9392cULL,
                                    0xa9582618e03fc9aaULL, 0x39abdc4529b1661cULL};
    uint64_t t[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 64; b++) {
            if (jump[i] & (1ULL << b))
                for (int k = 0; k < 4; k++)
                    t[k] ^= rng->s[k];
            rng_next(rng);
        }
    for (int k = 0; k < 4; k++)
        rng->s[k] = t[k];
}

/* A seed per item or part: murmur3's finaliser, so neighbouring ids give unrelated
 * xoshiro states (rng_seed(seed + id) would give shifted copies of one
 * splitmix sequence). */
uint64_t rng_subseed(uint64_t seed, uint64_t id)
{
    uint64_t z = seed ^ (id * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
    z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdULL;
    z = (z ^ (z >> 33)) * 0xc4ceb9fe1a85ec53ULL;
    return z ^ (z >> 33);
}

void rng_derive(ebm_rng *rng, uint64_t seed, rng_purpose purpose, int64_t index, int rank)
{
    const uint64_t own = (uint64_t)rank + 1; /* stream 0 is the parameters' */
    switch (purpose) {
    case RNG_PARAMS:
        rng_seed(rng, seed, 0);
        return;
    case RNG_RANK:
        rng_seed(rng, seed, own);
        return;
    case RNG_EVAL:
        rng_seed(rng, seed ^ (0xD1B54A32D192ED03ULL * (uint64_t)(index + 1)), own);
        return;
    case RNG_RESHARD:
        rng_seed(rng, seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)index), own);
        return;
    case RNG_ITEM:
        rng_seed(rng, rng_subseed(seed, (uint64_t)index), 0);
        return;
    case RNG_ROLLBACK:
        rng_seed(rng, rng_subseed(seed, 0x726F6C6C6261636BULL ^ (uint64_t)index), own);
        return;
    }
}

void rng_seed(ebm_rng *rng, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed;
    for (int k = 0; k < 4; k++)
        rng->s[k] = splitmix64(&x);
    for (uint64_t j = 0; j < stream; j++)
        rng_jump(rng);
}

float rng_uniform(ebm_rng *rng) { return (float)(rng_next(rng) >> 40) * 0x1.0p-24f; }

uint64_t rng_below(ebm_rng *rng, uint64_t n)
{
    /* Reject the top partial block so every residue is equally likely. */
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = rng_next(rng);
    while (x >= limit);
    return x % n;
}

void rng_fill_uniform(ebm_rng *rng, float *out, size_t n, float lo, float hi)
{
    const float width = hi - lo, below_hi = nextafterf(hi, lo);
    for (size_t i = 0; i < n; i++) {
        /* lo + width * u can round up to hi for u just below 1: keep [lo, hi). */
        const float v = lo + width * rng_uniform(rng);
        out[i] = v < hi ? v : below_hi;
    }
}

/* Box-Muller on a block of pairs: the random words are drawn in order by the
 * scalar generator, the transcendental part runs vectorised (vmath.h):
 * r = sqrt(-2 ln u1) with ln in double on u1 = (53 random bits + 1) 2^-53,
 * as exact near u1 = 1 (small radii) as libm's log, and the angle 2 pi u2
 * from 32 random bits. Output pairs (r cos, r sin) interleaved, as before. */
enum { NORMAL_BLOCK = 64 };

EBM_VECTOR_CLONES
static void box_muller_block(const double *u1, const uint32_t *u2, int pairs, float scale,
                             float *out)
{
    float r[NORMAL_BLOCK], c[NORMAL_BLOCK], s[NORMAL_BLOCK];
    for (int i = 0; i < pairs; i++)
        r[i] = (float)(-2.0 * vm_log_unit(u1[i]));
    /* sqrtf's errno path (x < 0, never taken here) stops gcc vectorising it;
     * sqrtps is the same correctly rounded square root, 4 at a time. */
    int i0 = 0;
#if defined(__SSE2__)
    for (; i0 + 4 <= pairs; i0 += 4)
        _mm_storeu_ps(r + i0, _mm_mul_ps(_mm_set1_ps(scale), _mm_sqrt_ps(_mm_loadu_ps(r + i0))));
#endif
    for (int i = i0; i < pairs; i++)
        r[i] = scale * sqrtf(r[i]);
    for (int i = 0; i < pairs; i++)
        vm_sincos_turn(u2[i], &c[i], &s[i]);
    for (int i = 0; i < pairs; i++) {
        out[2 * i] = r[i] * c[i];
        out[2 * i + 1] = r[i] * s[i];
    }
}

void rng_fill_normal(ebm_rng *rng, float *out, size_t n, float scale)
{
    double u1[NORMAL_BLOCK];
    uint32_t u2[NORMAL_BLOCK];
    float tail[2] = {0.0f, 0.0f}; /* written by box_muller_block; gcc -fanalyzer cannot tell */
    for (size_t i = 0; i < n; i += 2 * NORMAL_BLOCK) {
        const size_t left = n - i;
        const int pairs = left >= 2 * NORMAL_BLOCK ? NORMAL_BLOCK : (int)((left + 1) / 2);
        for (int p = 0; p < pairs; p++) {
            /* u1 in (0, 1] so log(u1) is finite. */
            u1[p] = (double)((rng_next(rng) >> 11) + 1) * 0x1.0p-53;
            u2[p] = (uint32_t)(rng_next(rng) >> 32);
        }
        if (left >= 2 * (size_t)pairs) {
            box_muller_block(u1, u2, pairs, scale, out + i);
        } else {
            /* n odd: the last pair's sine is drawn and dropped. */
            if (pairs > 1)
                box_muller_block(u1, u2, pairs - 1, scale, out + i);
            box_muller_block(u1 + pairs - 1, u2 + pairs - 1, 1, scale, tail);
            out[n - 1] = tail[0];
        }
    }
}

void rng_shuffle(ebm_rng *rng, int32_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        const size_t j = (size_t)rng_below(rng, i);
        const int32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
