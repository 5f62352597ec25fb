/* rng.h: per-rank random streams (xoshiro256**), explicit state, no globals.
 * Rank r's stream is the seed's stream advanced by r jumps of 2^128 draws, so
 * streams never overlap and the state is four words a checkpoint can store. */
#ifndef EBM_RNG_H
#define EBM_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} ebm_rng;

#define EBM_RNG_WORDS 4

/* Stream `stream` of seed `seed`: the seed's splitmix64 state advanced by
 * `stream` jumps. Callers derive their streams through rng_derive. */
void rng_seed(ebm_rng *rng, uint64_t seed, uint64_t stream);

/* What a stream is for. Each purpose derives its own key from the seed, so
 * no two purposes ever share a stream and none consumes another's draws. */
typedef enum {
    RNG_PARAMS,  /* the initial parameters: identical on every rank (stream 0) */
    RNG_RANK,    /* a rank's own stream: training (batch noise, order, chains), sampling */
    RNG_EVAL,    /* evaluation after epoch `index` (0-based; -2: the final test) */
    RNG_RESHARD, /* a rank's stream after resuming on another rank count (`index`: the
                    global step) */
    RNG_ITEM,    /* item `index`'s own stream, whichever rank holds it (AIS chains,
                    dequantisation): results do not depend on the split over ranks */
    RNG_ROLLBACK, /* a rank's stream after the `index`-th rollback (core/diverge.h) */
} rng_purpose;

/* A seed of its own for a part of a computation (`salt` names it, e.g. the
 * AIS pilot run), unrelated to the streams of `seed`. */
uint64_t rng_subseed(uint64_t seed, uint64_t salt);

/* The stream of `purpose` for `rank` (ignored by RNG_PARAMS and RNG_ITEM). */
void rng_derive(ebm_rng *rng, uint64_t seed, rng_purpose purpose, int64_t index, int rank);
uint64_t rng_next(ebm_rng *rng);
/* Uniform in [0, 1) with 24 random bits (every float exactly representable). */
float rng_uniform(ebm_rng *rng);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t rng_below(ebm_rng *rng, uint64_t n);
/* out[i] = lo + (hi - lo) * U[0,1). */
void rng_fill_uniform(ebm_rng *rng, float *out, size_t n, float lo, float hi);
/* out[i] = scale * N(0,1) (Box-Muller, both values of each pair used). */
void rng_fill_normal(ebm_rng *rng, float *out, size_t n, float scale);
/* In-place Fisher-Yates shuffle of idx[0..n). */
void rng_shuffle(ebm_rng *rng, int32_t *idx, size_t n);

#endif
