/* test_langevin.c: the Langevin sampler (src/ebm/langevin.h). langevin_run on
 * energies whose stationary law is known in closed form, clamping, restarts
 * of non-finite chains, reproducibility, the persistent buffer of
 * langevin_draw, and on a real model the direction langevin_draw_fresh
 * follows (central finite differences of model_forward). */
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
#include "ebm/langevin.h"
#include "num/model.h"

/* ---- targets with known laws ---------------------------------------------- */

/* E(x) = kappa x^2 / 2 per coordinate: grad log p = -kappa x. */
typedef struct {
    int d;
    float kappa;
} quad_target;

static void quad_grad(void *data, const float *x, int n, float *grad)
{
    const quad_target *q = data;
    for (size_t i = 0; i < (size_t)n * q->d; i++)
        grad[i] = -q->kappa * x[i];
}

/* A constant push: +push for the first half of the chains, -push for the
 * second half (drives chains out of any box). */
typedef struct {
    int d;
    float push;
} push_target;

static void push_grad(void *data, const float *x, int n, float *grad)
{
    const push_target *p = data;
    (void)x;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < p->d; j++)
            grad[(size_t)i * p->d + j] = i < n / 2 ? p->push : -p->push;
}

/* The quadratic, with row i % 4 == 1 poisoned by a NaN in its first
 * coordinate and row i % 4 == 3 by +inf in its last one, at every step. */
static void poisoned_grad(void *data, const float *x, int n, float *grad)
{
    const quad_target *q = data;
    quad_grad(data, x, n, grad);
    for (int i = 0; i < n; i++) {
        if (i % 4 == 1)
            grad[(size_t)i * q->d] = NAN;
        if (i % 4 == 3)
            grad[(size_t)i * q->d + q->d - 1] = INFINITY;
    }
}

static int is_poisoned(int i) { return i % 4 == 1 || i % 4 == 3; }

static langevin_params quad_params(int steps, float eta, float sigma)
{
    langevin_params p;
    memset(&p, 0, sizeof p);
    p.steps = steps;
    p.step_size = eta;
    p.noise = sigma;
    p.reinit = 0.0f;
    p.clamp = 0;
    p.lo = -1.0f;
    p.hi = 1.0f;
    p.target_class = -1;
    return p;
}

/* A sampler without buffer chains for n chains of dimension d. */
static void init_fresh(langevin_sampler *s, const langevin_params *p, int d, int k, int n)
{
    ebm_rng unused;
    rng_seed(&unused, 1, 0);
    ebm_err err = {0};
    if (langevin_init(s, p, d, k, n, 0, 0, &unused, &err) != 0)
        fail_msg("langevin_init: %s", err.msg);
    assert_true(s->restarted_nonfinite == 0);
}

/* ---- (1) stationary law on a quadratic energy ----------------------------- */

/* The update as implemented, x <- x - eta kappa x + sigma eps, is the AR(1)
 * chain x_{t+1} = a x_t + sigma eps with a = 1 - eta kappa; for |a| < 1 its
 * stationary law is N(0, sigma^2 / (1 - a^2)) (not the continuous-time 1/kappa:
 * the discretisation is not corrected). From a U[-1,1] start, after t steps
 * E x_t = a^t E x_0 and Var x_t = a^{2t} Var x_0 + (1 - a^{2t}) var_inf, so
 * with |a| <= 0.7 and t = 80 steps the start is forgotten to 0.7^80 = 4e-13,
 * far below the tolerances below.
 *
 * N = 4096 chains x 8 coordinates = 32768 independent values (independent
 * starts, independent noise per coordinate). Tolerances: 5 standard errors
 * of the sample statistic under the stationary law, SE(mean) = sqrt(var/N),
 * SE(variance) = var sqrt(2/(N-1)) (normal values), SE(share within one sd)
 * = sqrt(p(1-p)/N) with p = erf(1/sqrt 2). The seeds are fixed, so the test
 * is deterministic; 5 SE means a correct sampler with another stream would
 * still pass with probability ~1 - 6e-7 per check. */
#define STAT_CHAINS 4096
#define STAT_D 8
#define STAT_STEPS 80

typedef struct {
    float kappa, eta, sigma;
} ar1_case;

static void check_stationary(const ar1_case *c, uint64_t seed)
{
    const int n = STAT_CHAINS, d = STAT_D;
    const size_t m = (size_t)n * d;
    const langevin_params p = quad_params(STAT_STEPS, c->eta, c->sigma);
    langevin_sampler s;
    init_fresh(&s, &p, d, 1, n);
    float *x = malloc(m * sizeof *x);
    assert_non_null(x);
    ebm_rng rng;
    rng_seed(&rng, seed, 0);
    rng_fill_uniform(&rng, x, m, -1.0f, 1.0f);
    quad_target q = {d, c->kappa};
    const langevin_target target = {quad_grad, &q};
    langevin_run(&s, &target, &rng, n, x);
    assert_true(s.restarted_nonfinite == 0);

    const double a = 1.0 - (double)c->eta * c->kappa;
    const double var_th = (double)c->sigma * c->sigma / (1.0 - a * a);
    const double var_ideal = 1.0 / c->kappa;
    const double nn = (double)m;
    double sum = 0.0;
    for (size_t i = 0; i < m; i++)
        sum += x[i];
    const double mean = sum / nn;
    double ss = 0.0;
    for (size_t i = 0; i < m; i++)
        ss += (x[i] - mean) * (x[i] - mean);
    const double var = ss / (nn - 1.0);
    size_t within = 0;
    const double sd_th = sqrt(var_th);
    for (size_t i = 0; i < m; i++)
        within += fabs(x[i]) < sd_th;
    const double share = (double)within / nn, p1 = erf(1.0 / sqrt(2.0));

    const double se_mean = sqrt(var_th / nn);
    const double se_var = var_th * sqrt(2.0 / (nn - 1.0));
    const double se_share = sqrt(p1 * (1.0 - p1) / nn);
    print_message("kappa=%g eta=%g sigma=%g: mean %.5f (SE %.5f), var %.5f vs "
                  "sigma^2/(1-a^2) = %.5f (SE %.5f), ideal 1/kappa = %.5f is %.0f SE away; "
                  "share within 1 sd %.4f vs %.4f\n",
                  c->kappa, c->eta, c->sigma, mean, se_mean, var, var_th, se_var, var_ideal,
                  fabs(var - var_ideal) / (var_ideal * sqrt(2.0 / (nn - 1.0))), share, p1);
    if (fabs(mean) > 5.0 * se_mean)
        fail_msg("mean %.6f is more than 5 SE (%.6f) from 0", mean, se_mean);
    if (fabs(var - var_th) > 5.0 * se_var)
        fail_msg("variance %.6f, stationary law says %.6f (5 SE = %.6f)", var, var_th,
                 5.0 * se_var);
    if (fabs(share - p1) > 5.0 * se_share)
        fail_msg("share within one sd %.5f, normal law %.5f (5 SE = %.5f)", share, p1,
                 5.0 * se_share);
    /* The same criterion, with the ideal-Langevin variance 1/kappa as the
     * expected value (its own SE), rejects: the test tells the two apart. */
    const double se_ideal = var_ideal * sqrt(2.0 / (nn - 1.0));
    assert_true(fabs(var - var_ideal) > 5.0 * se_ideal);
    free(x);
    langevin_free(&s);
}

static void test_langevin_run_quadratic_stationary_variance(void **state)
{
    (void)state;
    /* a = 0.7 (the example of the brief: 0.25 / 0.51), a = 0.6 with kappa = 2,
     * and a = -0.6 (eta kappa > 1: overshooting, still stable). */
    const ar1_case cases[] = {{1.0f, 0.3f, 0.5f}, {2.0f, 0.2f, 0.3f}, {1.0f, 1.6f, 0.4f}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_stationary(&cases[i], 1000 + i);
}

/* ---- (2) clamping ------------------------------------------------------------ */

static void test_langevin_run_clamp_keeps_chains_in_box(void **state)
{
    (void)state;
    const int n = 64, d = 5;
    const size_t m = (size_t)n * d;
    langevin_params p = quad_params(6, 0.1f, 0.3f);
    p.clamp = 1;
    p.lo = -0.25f;
    p.hi = 0.4f;
    langevin_sampler s;
    init_fresh(&s, &p, d, 1, n);
    float *x = malloc(m * sizeof *x), *free_x = malloc(m * sizeof *free_x);
    assert_non_null(x);
    assert_non_null(free_x);
    push_target pt = {d, 4.0f};
    const langevin_target target = {push_grad, &pt};

    ebm_rng rng;
    rng_seed(&rng, 77, 0);
    rng_fill_uniform(&rng, x, m, -1.0f, 1.0f); /* starts mostly outside the box */
    langevin_run(&s, &target, &rng, n, x);
    size_t at_lo = 0, at_hi = 0;
    for (size_t i = 0; i < m; i++) {
        if (!(x[i] >= p.lo && x[i] <= p.hi))
            fail_msg("x[%zu] = %.9g outside [%g, %g]", i, x[i], p.lo, p.hi);
        at_lo += x[i] == p.lo;
        at_hi += x[i] == p.hi;
    }
    /* The push (0.4 per step against noise 0.3) pins chains on both walls:
     * the clamp was active, the check above is not vacuous. */
    assert_true(at_hi > m / 4);
    assert_true(at_lo > m / 4);

    /* The same run without clamping leaves the box on both sides. */
    p.clamp = 0;
    langevin_sampler s2;
    init_fresh(&s2, &p, d, 1, n);
    rng_seed(&rng, 77, 0);
    rng_fill_uniform(&rng, free_x, m, -1.0f, 1.0f);
    langevin_run(&s2, &target, &rng, n, free_x);
    size_t above = 0, below = 0;
    for (size_t i = 0; i < m; i++) {
        above += free_x[i] > p.hi;
        below += free_x[i] < p.lo;
    }
    assert_true(above > 0 && below > 0);
    free(x);
    free(free_x);
    langevin_free(&s);
    langevin_free(&s2);
}

/* ---- (3) non-finite chains are restarted ----------------------------------- */

static void test_langevin_run_nonfinite_chains_restarted_and_counted(void **state)
{
    (void)state;
    const int n = 2000, d = 4;
    const size_t m = (size_t)n * d;
    const langevin_params p = quad_params(5, 0.3f, 0.5f);
    langevin_sampler s, clean_s;
    init_fresh(&s, &p, d, 1, n);
    init_fresh(&clean_s, &p, d, 1, n);
    float *x = malloc(m * sizeof *x), *clean = malloc(m * sizeof *clean);
    assert_non_null(x);
    assert_non_null(clean);
    quad_target q = {d, 1.0f};
    const langevin_target bad = {poisoned_grad, &q}, good = {quad_grad, &q};

    ebm_rng rng, clean_rng;
    rng_seed(&rng, 4242, 0);
    rng_fill_uniform(&rng, x, m, -1.0f, 1.0f);
    clean_rng = rng;
    memcpy(clean, x, m * sizeof *x);
    langevin_run(&s, &bad, &rng, n, x);
    langevin_run(&clean_s, &good, &clean_rng, n, clean);

    int64_t poisoned = 0;
    double sum = 0.0, sq = 0.0;
    for (int i = 0; i < n; i++) {
        const float *row = x + (size_t)i * d, *crow = clean + (size_t)i * d;
        if (!is_poisoned(i)) {
            /* Healthy chains saw the same noise as the clean run: unaffected,
             * bit for bit. */
            if (memcmp(row, crow, (size_t)d * sizeof *row) != 0)
                fail_msg("healthy chain %d differs from the clean run", i);
            continue;
        }
        poisoned++;
        for (int j = 0; j < d; j++) {
            /* The whole row is a fresh U[-1,1) start, finite, even where only
             * one coordinate went bad. */
            if (!isfinite(row[j]) || row[j] < -1.0f || row[j] >= 1.0f)
                fail_msg("restarted chain %d coordinate %d = %g", i, j, row[j]);
            assert_true(row[j] != crow[j]);
            sum += row[j];
            sq += (double)row[j] * row[j];
        }
    }
    assert_true(s.restarted_nonfinite == poisoned);
    assert_true(poisoned == n / 2);
    assert_true(clean_s.restarted_nonfinite == 0);
    /* U[-1,1): mean 0, E x^2 = 1/3, Var x^2 = 1/5 - 1/9 = 4/45. 4000 values:
     * 5 SE = 5 sqrt(1/3 / 4000) for the mean, 5 sqrt(4/45 / 4000) for the
     * second moment (a zeroed or frozen restart would fail both). */
    const double nv = (double)poisoned * d;
    assert_true(fabs(sum / nv) < 5.0 * sqrt(1.0 / 3.0 / nv));
    assert_true(fabs(sq / nv - 1.0 / 3.0) < 5.0 * sqrt(4.0 / 45.0 / nv));

    /* The counter accumulates over runs. */
    langevin_run(&s, &bad, &rng, n, x);
    assert_true(s.restarted_nonfinite == 2 * poisoned);
    free(x);
    free(clean);
    langevin_free(&s);
    langevin_free(&clean_s);
}

/* ---- (4) reproducibility ------------------------------------------------------ */

static void run_quadratic(uint64_t seed, int n, int d, float *x)
{
    const langevin_params p = quad_params(10, 0.3f, 0.5f);
    langevin_sampler s;
    init_fresh(&s, &p, d, 1, n);
    ebm_rng rng;
    rng_seed(&rng, seed, 3);
    rng_fill_uniform(&rng, x, (size_t)n * d, -1.0f, 1.0f);
    quad_target q = {d, 1.0f};
    const langevin_target target = {quad_grad, &q};
    langevin_run(&s, &target, &rng, n, x);
    langevin_free(&s);
}

/* ---- a small real model ------------------------------------------------------- */

#define M_D 5
#define M_H 12
#define M_K 4

typedef struct {
    model_shape shape;
    float *params;
    model_workspace ws;
} small_model;

/* PyTorch-style initialisation, scaled by 2 so that the logits and their
 * input gradients are O(1) rather than small. */
static void small_model_init(small_model *sm, int capacity, uint64_t seed)
{
    model_shape_init(&sm->shape, M_D, M_H, M_K);
    sm->params = malloc(sm->shape.n_params * sizeof(float));
    assert_non_null(sm->params);
    ebm_rng rng;
    rng_seed(&rng, seed, 0);
    model_init_params(&sm->shape, sm->params, &rng);
    for (size_t j = 0; j < sm->shape.n_params; j++)
        sm->params[j] *= 2.0f;
    ebm_err err = {0};
    if (model_workspace_init(&sm->ws, &sm->shape, capacity, &err) != 0)
        fail_msg("model_workspace_init: %s", err.msg);
}

static void small_model_free(small_model *sm)
{
    model_workspace_free(&sm->ws);
    free(sm->params);
}

static void test_langevin_run_same_seed_bitwise_identical(void **state)
{
    (void)state;
    const int n = 100, d = 6;
    const size_t m = (size_t)n * d;
    float *a = malloc(m * sizeof *a), *b = malloc(m * sizeof *b), *c = malloc(m * sizeof *c);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    run_quadratic(9, n, d, a);
    run_quadratic(9, n, d, b);
    run_quadratic(10, n, d, c);
    assert_memory_equal(a, b, m * sizeof *a);
    size_t differ = 0;
    for (size_t i = 0; i < m; i++)
        differ += a[i] != c[i];
    assert_true(differ == m); /* another seed: every value differs */

    /* The same through the model: langevin_draw_fresh with a seed. */
    small_model sm;
    small_model_init(&sm, 8, 5);
    langevin_params p = quad_params(4, 0.2f, 0.05f);
    langevin_sampler s;
    init_fresh(&s, &p, M_D, M_K, 8);
    float fa[8 * M_D], fb[8 * M_D], fc[8 * M_D];
    ebm_rng r1, r2, r3;
    rng_seed(&r1, 31, 1);
    rng_seed(&r2, 31, 1);
    rng_seed(&r3, 32, 1);
    langevin_draw_fresh(&s, &sm.shape, sm.params, &sm.ws, &r1, 8, fa);
    langevin_draw_fresh(&s, &sm.shape, sm.params, &sm.ws, &r2, 8, fb);
    langevin_draw_fresh(&s, &sm.shape, sm.params, &sm.ws, &r3, 8, fc);
    assert_memory_equal(fa, fb, sizeof fa);
    assert_memory_equal(&r1, &r2, sizeof r1); /* the streams advanced alike */
    differ = 0;
    for (int i = 0; i < 8 * M_D; i++)
        differ += fa[i] != fc[i];
    assert_true(differ == 8 * M_D);
    langevin_free(&s);
    small_model_free(&sm);
    free(a);
    free(b);
    free(c);
}

/* ---- (5) the persistent buffer ---------------------------------------------- */

#define BUF_CHAINS 10
#define BUF_DRAW 6

/* Buffer chain c gets values 5 + c + j/10 (outside [-1,1], and each row
 * names its chain). */
static void mark_buffer(langevin_sampler *s)
{
    for (int c = 0; c < s->n_chains; c++)
        for (int j = 0; j < s->d; j++)
            s->chains[(size_t)c * s->d + j] = 5.0f + (float)c + 0.1f * (float)j;
}

/* After a draw: for every buffer row, the output row of the last draw slot
 * that picked it (the one written back last), or the old value if unpicked. */
static void check_written_back(const langevin_sampler *s, const float *before, const float *out,
                               int n)
{
    const size_t d = (size_t)s->d;
    for (int64_t c = 0; c < s->n_chains; c++) {
        int last = -1;
        for (int i = 0; i < n; i++)
            if (s->picked[i] == c)
                last = i;
        const float *want = last >= 0 ? out + last * d : before + c * d;
        if (memcmp(s->chains + c * d, want, d * sizeof(float)) != 0)
            fail_msg("buffer chain %lld: not the %s", (long long)c,
                     last >= 0 ? "drawn output row" : "old value (not picked)");
    }
}

static void test_langevin_draw_buffer_reads_and_writes_back_chains(void **state)
{
    (void)state;
    small_model sm;
    small_model_init(&sm, BUF_DRAW, 11);
    langevin_params p = quad_params(3, 0.05f, 0.01f);
    langevin_sampler s;
    ebm_rng rng;
    rng_seed(&rng, 12, 0);
    ebm_err err = {0};
    assert_int_equal(langevin_init(&s, &p, M_D, M_K, BUF_DRAW, BUF_CHAINS, 40, &rng, &err), 0);
    assert_true(s.n_chains == BUF_CHAINS && s.first_chain == 40);
    /* Buffer chains start U[-1,1). */
    for (int i = 0; i < BUF_CHAINS * M_D; i++)
        assert_true(s.chains[i] >= -1.0f && s.chains[i] < 1.0f);
    mark_buffer(&s);

    float before[BUF_CHAINS * M_D], out[BUF_DRAW * M_D];
    int picked_count[BUF_CHAINS] = {0};
    /* With 0 steps a draw is its start: every output row is a copy of the
     * buffer row it picked (reinit = 0), and is written back unchanged. */
    s.p.steps = 0;
    for (int draw = 0; draw < 20; draw++) {
        memcpy(before, s.chains, sizeof before);
        langevin_draw(&s, &sm.shape, sm.params, &sm.ws, &rng, BUF_DRAW, out);
        for (int i = 0; i < BUF_DRAW; i++) {
            assert_true(s.picked[i] >= 0 && s.picked[i] < BUF_CHAINS);
            picked_count[s.picked[i]]++;
            assert_memory_equal(out + i * M_D, before + s.picked[i] * M_D, M_D * sizeof(float));
        }
        check_written_back(&s, before, out, BUF_DRAW);
    }
    for (int c = 0; c < BUF_CHAINS; c++)
        assert_true(picked_count[c] > 0); /* 120 picks reach every chain */

    /* With steps the chains move and the moved rows are written back; the
     * next 0-step draw then starts from them. */
    s.p.steps = 3;
    memcpy(before, s.chains, sizeof before);
    langevin_draw(&s, &sm.shape, sm.params, &sm.ws, &rng, BUF_DRAW, out);
    int moved = 0;
    for (int i = 0; i < BUF_DRAW; i++)
        moved += memcmp(out + i * M_D, before + s.picked[i] * M_D, M_D * sizeof(float)) != 0;
    assert_int_equal(moved, BUF_DRAW);
    check_written_back(&s, before, out, BUF_DRAW);
    s.p.steps = 0;
    memcpy(before, s.chains, sizeof before);
    langevin_draw(&s, &sm.shape, sm.params, &sm.ws, &rng, BUF_DRAW, out);
    for (int i = 0; i < BUF_DRAW; i++)
        assert_memory_equal(out + i * M_D, before + s.picked[i] * M_D, M_D * sizeof(float));

    /* reinit = 1: every draw starts fresh in U[-1,1) (the marked buffer is
     * outside it), and the fresh rows are what is written back. */
    s.p.reinit = 1.0f;
    for (int draw = 0; draw < 5; draw++) {
        mark_buffer(&s);
        memcpy(before, s.chains, sizeof before);
        langevin_draw(&s, &sm.shape, sm.params, &sm.ws, &rng, BUF_DRAW, out);
        for (int i = 0; i < BUF_DRAW * M_D; i++)
            if (!(out[i] >= -1.0f && out[i] < 1.0f))
                fail_msg("reinit = 1, draw %d: out[%d] = %g is not a fresh start", draw, i,
                         out[i]);
        check_written_back(&s, before, out, BUF_DRAW);
    }
    langevin_free(&s);
    small_model_free(&sm);
}

/* Without buffer chains langevin_draw is a fresh draw: U[-1,1) starts. */
static void test_langevin_draw_without_buffer_starts_fresh(void **state)
{
    (void)state;
    small_model sm;
    small_model_init(&sm, BUF_DRAW, 11);
    langevin_params p = quad_params(0, 0.05f, 0.01f);
    langevin_sampler s;
    init_fresh(&s, &p, M_D, M_K, BUF_DRAW);
    float out[BUF_DRAW * M_D], fresh[BUF_DRAW * M_D];
    ebm_rng r1, r2;
    rng_seed(&r1, 3, 0);
    r2 = r1;
    langevin_draw(&s, &sm.shape, sm.params, &sm.ws, &r1, BUF_DRAW, out);
    langevin_draw_fresh(&s, &sm.shape, sm.params, &sm.ws, &r2, BUF_DRAW, fresh);
    for (int i = 0; i < BUF_DRAW * M_D; i++)
        assert_true(out[i] >= -1.0f && out[i] < 1.0f);
    assert_memory_equal(out, fresh, sizeof out);
    langevin_free(&s);
    small_model_free(&sm);
}

/* ---- (6) the gradient followed on a real model -------------------------------- */

/* One step with sigma = 0 and no clamp: x1 = x0 + eta * grad, so
 * (x1 - x0) / eta is the gradient the sampler followed. x0 is the fresh start
 * of the same call with 0 steps from the same stream state (the start is drawn
 * before any step, so it does not depend on steps).
 *
 * Reference: central differences with h = 1e-2 of the float32 model_forward:
 * target_class = k: f(x)[k]; target_class = -1: LSE f(x), formed in double
 * from the float logits. Error budget: forward rounding ~1e-6 on O(1) logits
 * gives ~1e-6 / (2h) = 5e-5; truncation h^2 |f'''| / 6 ~ 2e-5 for smooth
 * parts, more where the stencil straddles an ELU kink (ELU'' jumps by 1 at 0,
 * an O(h) error there); (x1 - x0) / eta adds ulp(1) / eta = 2.4e-7. Accept
 * |g - g_fd| <= 1e-3 + 5e-3 |g_fd|: about 5 times the measured worst case
 * (2e-4, printed), and still more than 20 times below the difference
 * between the objectives' gradients (checked below, so the comparison can
 * tell which one was followed). */
#define FD_H 1e-2
#define FD_TOL_ABS 1e-3
#define FD_TOL_REL 5e-3
#define G_ROWS 6
#define G_ETA 0.5f

/* FD gradient (G_ROWS, M_D) of the objective `cls` (or LSE when cls < 0). */
static void fd_gradient(small_model *sm, const float *x0, int cls, double *g)
{
    float xp[G_ROWS * M_D], xm[G_ROWS * M_D];
    double fp[G_ROWS], fm[G_ROWS];
    for (int j = 0; j < M_D; j++) {
        memcpy(xp, x0, sizeof xp);
        memcpy(xm, x0, sizeof xm);
        for (int i = 0; i < G_ROWS; i++) {
            xp[i * M_D + j] += (float)FD_H;
            xm[i * M_D + j] -= (float)FD_H;
        }
        /* The actual float step (x +- h is rounded). */
        double step[G_ROWS];
        for (int i = 0; i < G_ROWS; i++)
            step[i] = (double)xp[i * M_D + j] - (double)xm[i * M_D + j];
        for (int pass = 0; pass < 2; pass++) {
            const float *lg = model_forward(&sm->shape, sm->params, &sm->ws, pass ? xm : xp,
                                            G_ROWS);
            for (int i = 0; i < G_ROWS; i++) {
                const float *row = lg + i * M_K;
                double v;
                if (cls >= 0) {
                    v = row[cls];
                } else {
                    double mx = row[0], s = 0.0;
                    for (int c = 1; c < M_K; c++)
                        mx = row[c] > mx ? row[c] : mx;
                    for (int c = 0; c < M_K; c++)
                        s += exp(row[c] - mx);
                    v = mx + log(s);
                }
                (pass ? fm : fp)[i] = v;
            }
        }
        for (int i = 0; i < G_ROWS; i++)
            g[i * M_D + j] = (fp[i] - fm[i]) / step[i];
    }
}

static void followed_gradient(small_model *sm, int cls, uint64_t seed, float *x0, double *g)
{
    langevin_params p = quad_params(0, G_ETA, 0.0f);
    p.target_class = cls;
    langevin_sampler s;
    init_fresh(&s, &p, M_D, M_K, G_ROWS);
    float x1[G_ROWS * M_D];
    ebm_rng r0, r1;
    rng_seed(&r0, seed, 2);
    r1 = r0;
    langevin_draw_fresh(&s, &sm->shape, sm->params, &sm->ws, &r0, G_ROWS, x0);
    s.p.steps = 1;
    langevin_draw_fresh(&s, &sm->shape, sm->params, &sm->ws, &r1, G_ROWS, x1);
    for (int i = 0; i < G_ROWS * M_D; i++)
        g[i] = ((double)x1[i] - (double)x0[i]) / G_ETA;
    langevin_free(&s);
}

static void test_langevin_draw_fresh_target_class_follows_class_logit(void **state)
{
    (void)state;
    small_model sm;
    small_model_init(&sm, G_ROWS, 2024);
    double fd[M_K + 1][G_ROWS * M_D];
    float x0[G_ROWS * M_D], x0_again[G_ROWS * M_D];
    double worst = 0.0, worst_scaled = 0.0;
    /* cls = -1 (unconditional, LSE) and every class. */
    for (int cls = -1; cls < M_K; cls++) {
        double g[G_ROWS * M_D];
        followed_gradient(&sm, cls, 77, cls < 0 ? x0 : x0_again, g);
        if (cls >= 0)
            assert_memory_equal(x0, x0_again, sizeof x0); /* same starts */
        double *ref = fd[cls + 1];
        fd_gradient(&sm, x0, cls, ref);
        for (int i = 0; i < G_ROWS * M_D; i++) {
            const double dev = fabs(g[i] - ref[i]);
            worst = fmax(worst, dev);
            worst_scaled = fmax(worst_scaled, dev / (FD_TOL_ABS + FD_TOL_REL * fabs(ref[i])));
            if (dev > FD_TOL_ABS + FD_TOL_REL * fabs(ref[i]))
                fail_msg("class %d, row %d coord %d: followed %.6g, finite difference %.6g", cls,
                         i / M_D, i % M_D, g[i], ref[i]);
        }
    }
    /* Non-vacuity: the gradients of different objectives differ by far more
     * than the tolerance, so following the wrong one would fail above. */
    double closest = INFINITY;
    for (int a = 0; a <= M_K; a++)
        for (int b = a + 1; b <= M_K; b++) {
            double diff = 0.0;
            for (int i = 0; i < G_ROWS * M_D; i++)
                diff = fmax(diff, fabs(fd[a][i] - fd[b][i]));
            closest = fmin(closest, diff);
            if (diff < 20.0 * FD_TOL_ABS)
                fail_msg("objectives %d and %d have nearly equal gradients (%.3g)", a - 1,
                         b - 1, diff);
        }
    print_message("followed gradient vs finite differences: max |dev| %.3g, worst fraction "
                  "of tolerance %.3g; closest two objectives differ by %.3g\n",
                  worst, worst_scaled, closest);
    small_model_free(&sm);
}

/* langevin_continue follows the same gradient from a given x. */
static void test_langevin_continue_steps_from_given_chains(void **state)
{
    (void)state;
    small_model sm;
    small_model_init(&sm, G_ROWS, 2024);
    const int cls = 2;
    float x0[G_ROWS * M_D], x[G_ROWS * M_D];
    double g[G_ROWS * M_D], ref[G_ROWS * M_D];
    followed_gradient(&sm, cls, 78, x0, g); /* only to get starts */
    fd_gradient(&sm, x0, cls, ref);
    langevin_params p = quad_params(1, G_ETA, 0.0f);
    p.target_class = cls;
    langevin_sampler s;
    init_fresh(&s, &p, M_D, M_K, G_ROWS);
    memcpy(x, x0, sizeof x);
    ebm_rng rng;
    rng_seed(&rng, 5, 0);
    langevin_continue(&s, &sm.shape, sm.params, &sm.ws, &rng, G_ROWS, x);
    for (int i = 0; i < G_ROWS * M_D; i++) {
        const double gi = ((double)x[i] - (double)x0[i]) / G_ETA;
        if (fabs(gi - ref[i]) > FD_TOL_ABS + FD_TOL_REL * fabs(ref[i]))
            fail_msg("row %d coord %d: continued along %.6g, finite difference %.6g", i / M_D,
                     i % M_D, gi, ref[i]);
    }
    langevin_free(&s);
    small_model_free(&sm);
}

/* ---- (9) annealed steps and per-class Gaussian starts (issue 14) ------------ */

static void const_grad(void *data, const float *x, int n, float *grad)
{
    const float c = *(const float *)data;
    (void)x;
    for (int i = 0; i < n * 3; i++)
        grad[i] = c;
}

/* --step-decay: with a constant gradient c and no noise, T steps move every
 * coordinate by c eta (1 - g^T) / (1 - g) (a geometric sum); with zero
 * gradient and noise sigma, the displacement's variance is
 * sigma^2 (1 - g^T) / (1 - g). */
static void test_langevin_run_step_decay_geometric(void **state)
{
    (void)state;
    const int d = 3, T = 25;
    const float g = 0.8f, eta = 0.5f, c = 2.0f;
    langevin_params p = quad_params(T, eta, 0.0f);
    p.step_decay = g;
    langevin_sampler s;
    ebm_rng rng;
    ebm_err err = {0};
    rng_seed(&rng, 7, 0);
    assert_int_equal(langevin_init(&s, &p, d, 1, 4, 0, 0, &rng, &err), 0);
    float x[4 * 3] = {0};
    float cc = c;
    const langevin_target t = {const_grad, &cc};
    langevin_run(&s, &t, &rng, 4, x);
    const double want = c * eta * (1.0 - pow(g, T)) / (1.0 - g);
    for (int i = 0; i < 4 * d; i++)
        assert_true(fabs(x[i] - want) < 1e-5 * want);
    langevin_free(&s);

    const int n = 20000;
    p = quad_params(T, eta, 0.3f);
    p.step_decay = g;
    assert_int_equal(langevin_init(&s, &p, d, 1, n, 0, 0, &rng, &err), 0);
    float *y = calloc((size_t)n * d, sizeof(float));
    assert_non_null(y);
    cc = 0.0f;
    langevin_run(&s, &t, &rng, n, y);
    double ss = 0;
    for (int i = 0; i < n * d; i++)
        ss += (double)y[i] * y[i];
    const double var = ss / (n * d), var_th = 0.09 * (1.0 - pow(g, T)) / (1.0 - g);
    const double se = var_th * sqrt(2.0 / (n * d));
    if (fabs(var - var_th) > 5 * se)
        fail_msg("variance %.5f, geometric sum says %.5f (5 SE %.5f)", var, var_th, 5 * se);
    free(y);
    langevin_free(&s);
}

/* --chain-init 1: the fit of two classes with known means and covariances
 * (the 2d points m +- a e_j of a class have mean m and covariance
 * diag(2 a^2 / (2d - 1)) with the N - 1 denominator), and the starts drawn
 * from it: class shares, means and variances. */
static void test_langevin_gauss_fit_and_start(void **state)
{
    (void)state;
    enum { D = 3, K = 2 };
    const float mean[K][D] = {{0.1f, -0.2f, 0.3f}, {-0.4f, 0.0f, 0.2f}};
    const float a[K] = {0.2f, 0.1f};
    /* class 0: one copy of its 2D points, class 1: three: shares 1/4, 3/4 */
    const int copies[K] = {1, 3};
    float img[8 * 2 * D][D];
    int32_t lab[8 * 2 * D];
    int n = 0;
    for (int c = 0; c < K; c++)
        for (int r = 0; r < copies[c]; r++)
            for (int j = 0; j < 2 * D; j++, n++) {
                for (int l = 0; l < D; l++)
                    img[n][l] = mean[c][l] + (l == j / 2 ? (j % 2 ? -a[c] : a[c]) : 0.0f);
                lab[n] = c;
            }
    langevin_gauss g;
    ebm_err err = {0};
    dist_ctx self;
    assert_int_equal(dist_self(test_ctx(), &self, &err), 0);
    assert_int_equal(langevin_gauss_fit(&self, &img[0][0], lab, n, D, K, 1.0f, 0.0f, &g, &err),
                     0);
    dist_self_free(&self);
    assert_true(fabs(g.cum[0] - 0.25) < 1e-12 && g.cum[1] == 1.0);
    for (int c = 0; c < K; c++) {
        const double nc = 2.0 * D * copies[c];
        /* copies repeat the points: the covariance's N - 1 is 2D copies - 1 */
        const double v = 2.0 * a[c] * a[c] * copies[c] / (nc - 1) + LANGEVIN_GAUSS_RIDGE;
        for (int j = 0; j < D; j++) {
            assert_true(fabs(g.mean[c * D + j] - mean[c][j]) < 1e-6);
            for (int l = 0; l < D; l++) {
                const double want = j == l ? sqrt(v) : 0.0;
                assert_true(fabs(g.chol[(size_t)c * D * D + j * D + l] - want) < 1e-6);
            }
        }
    }
    /* Draws: class 1 (3/4 of them) has mean[1] and variance v1 per pixel. */
    langevin_params p = quad_params(0, 0.0f, 0.0f);
    p.start = &g;
    langevin_sampler s;
    ebm_rng rng;
    rng_seed(&rng, 11, 0);
    const int m = 40000;
    assert_int_equal(langevin_init(&s, &p, D, K, 1, m, 0, &rng, &err), 0);
    double sum[D] = {0}, sum2[D] = {0};
    for (int i = 0; i < m; i++)
        for (int j = 0; j < D; j++) {
            sum[j] += s.chains[(size_t)i * D + j];
            sum2[j] += (double)s.chains[(size_t)i * D + j] * s.chains[(size_t)i * D + j];
        }
    for (int j = 0; j < D; j++) {
        /* mixture: mean 1/4 m0 + 3/4 m1; variance of the mixture */
        const double v0 = 2.0 * a[0] * a[0] / (2.0 * D - 1) + LANGEVIN_GAUSS_RIDGE;
        const double v1 = 2.0 * a[1] * a[1] * 3 / (6.0 * D - 1) + LANGEVIN_GAUSS_RIDGE;
        const double mu = 0.25 * mean[0][j] + 0.75 * mean[1][j];
        const double ex2 = 0.25 * (v0 + mean[0][j] * mean[0][j]) +
                           0.75 * (v1 + mean[1][j] * mean[1][j]);
        const double var = ex2 - mu * mu;
        const double gm = sum[j] / m, gv = sum2[j] / m - gm * gm;
        if (fabs(gm - mu) > 5 * sqrt(var / m))
            fail_msg("pixel %d: mean %.5f, mixture %.5f", j, gm, mu);
        if (fabs(gv - var) > 0.05 * var)
            fail_msg("pixel %d: variance %.5f, mixture %.5f", j, gv, var);
    }
    langevin_free(&s);
    langevin_gauss_free(&g);
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- MALA and ULA on the box ---------------------------------------------- */

/* log p(x) = sum_j -(x_j - mu)^2 / (2 s^2) on the box: a product of
 * truncated normals whose moments and CDF are closed forms. */
typedef struct {
    int d;
    double mu, s;
} trunc_target;

static void trunc_log_density(void *data, const float *x, int n, float *logp, float *grad)
{
    const trunc_target *t = data;
    for (int i = 0; i < n; i++) {
        double l = 0;
        for (int j = 0; j < t->d; j++) {
            const double z = (x[(size_t)i * t->d + j] - t->mu) / t->s;
            l -= 0.5 * z * z;
            grad[(size_t)i * t->d + j] = (float)(-z / t->s);
        }
        logp[i] = (float)l;
    }
}

static double std_normal_cdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }
static double std_normal_pdf(double z) { return exp(-0.5 * z * z) / 2.5066282746310002; } /* sqrt(2 pi) */

/* MALA's final states of independent chains against the exact law: the
 * truncated normal N(0.375, 0.5^2) on [-1, 1] per coordinate (closed-form
 * mean, variance, CDF). N = 3000 chains x 4 coordinates = 12000 values,
 * independent at stationarity (a product law). Bands: 5 SE for the mean and
 * variance (SE(var) from the law's fourth central moment, computed here by
 * quadrature), and the Kolmogorov-Smirnov distance below 2.69 / sqrt(N) (the
 * level-1e-6 critical value, 2 exp(-2 t^2) = 1e-6). A kernel without the
 * Hastings correction, or one that clamps instead of rejecting outside the
 * box, fails these (tested by planting). */
static void check_mala_truncated_normal(double eta, int steps, int adapt, uint64_t seed)
{
    enum { N = 3000, D = 4 };
    const double mu = 0.375, s = 0.5, lo = -1.0, hi = 1.0;
    trunc_target t = {D, mu, s};
    const langevin_density target = {trunc_log_density, &t};
    langevin_box_params p = {LANGEVIN_MALA, steps, eta, adapt, LANGEVIN_MALA_TARGET_ACCEPT,
                             (float)lo, (float)hi};
    langevin_box b;
    ebm_err err = {0};
    assert_int_equal(langevin_box_init(&b, &p, D, N, &err), 0);
    float *x = malloc((size_t)N * D * sizeof *x);
    assert_non_null(x);
    ebm_rng rng;
    rng_seed(&rng, seed, 0);
    rng_fill_uniform(&rng, x, (size_t)N * D, -1.0f, 1.0f);
    langevin_box_run(&b, &target, &rng, N, x);
    for (size_t i = 0; i < (size_t)N * D; i++)
        assert_true(x[i] >= lo && x[i] <= hi);
    /* the exact law */
    const double al = (lo - mu) / s, be = (hi - mu) / s;
    const double z = std_normal_cdf(be) - std_normal_cdf(al);
    const double dphi = (std_normal_pdf(al) - std_normal_pdf(be)) / z;
    const double mean_th = mu + s * dphi;
    const double var_th =
        s * s * (1.0 + (al * std_normal_pdf(al) - be * std_normal_pdf(be)) / z - dphi * dphi);
    double m4 = 0; /* fourth central moment, midpoint rule on 20000 cells */
    for (int c = 0; c < 20000; c++) {
        const double v = lo + (c + 0.5) * (hi - lo) / 20000;
        const double dens = std_normal_pdf((v - mu) / s) / (s * z);
        m4 += pow(v - mean_th, 4) * dens * (hi - lo) / 20000;
    }
    const double nn = (double)N * D;
    double sum = 0, ss = 0;
    for (size_t i = 0; i < (size_t)N * D; i++)
        sum += x[i];
    const double mean = sum / nn;
    for (size_t i = 0; i < (size_t)N * D; i++)
        ss += (x[i] - mean) * (x[i] - mean);
    const double var = ss / (nn - 1);
    /* KS: sort and compare with the CDF */
    double *v = malloc((size_t)nn * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < (size_t)nn; i++)
        v[i] = x[i];
    qsort(v, (size_t)nn, sizeof *v, cmp_double);
    double ks = 0;
    for (size_t i = 0; i < (size_t)nn; i++) {
        const double f = (std_normal_cdf((v[i] - mu) / s) - std_normal_cdf(al)) / z;
        const double lo_gap = f - (double)i / nn, hi_gap = (double)(i + 1) / nn - f;
        ks = fmax(ks, fmax(lo_gap, hi_gap));
    }
    const double se_mean = sqrt(var_th / nn), se_var = sqrt((m4 - var_th * var_th) / nn);
    const double acc = (double)b.stats.accepted / (double)b.stats.proposed;
    print_message("MALA eta %g, %d steps (%d adapting): mean %.5f vs %.5f (SE %.5f), var %.5f "
                  "vs %.5f (SE %.5f), KS %.4f (limit %.4f), acceptance %.3f, mean eta %.4g\n",
                  eta, steps, adapt, mean, mean_th, se_mean, var, var_th, se_var, ks,
                  2.69 / sqrt(nn), acc, b.stats.eta_sum / N);
    if (fabs(mean - mean_th) > 5 * se_mean)
        fail_msg("mean %.5f, law %.5f (5 SE %.5f)", mean, mean_th, 5 * se_mean);
    if (fabs(var - var_th) > 5 * se_var)
        fail_msg("variance %.5f, law %.5f (5 SE %.5f)", var, var_th, 5 * se_var);
    if (ks > 2.69 / sqrt(nn))
        fail_msg("KS distance %.4f above %.4f", ks, 2.69 / sqrt(nn));
    assert_true(b.stats.proposed == (int64_t)N * (steps - adapt));
    assert_true(b.stats.proposed_adapt == (int64_t)N * adapt);
    if (adapt > 0 && fabs(acc - LANGEVIN_MALA_TARGET_ACCEPT) > 0.1)
        fail_msg("acceptance after the burn-in %.3f, aimed at %.3f", acc,
                 LANGEVIN_MALA_TARGET_ACCEPT);
    free(v);
    free(x);
    langevin_box_free(&b);
}

static void test_mala_truncated_normal_exact_law(void **state)
{
    (void)state;
    /* a large fixed step (acceptance well below 1: the correction matters,
     * and many proposals leave the box), and the adaptive default */
    check_mala_truncated_normal(0.4, 300, 0, 21);
    check_mala_truncated_normal(1e-3, 400, 200, 22);
}

/* The acceptance rule by hand: d = 1, log p = -x^2 / 2 (grad -x), x = 0.2,
 * y = 0.5, eta = 0.1:
 *   log p(y) - log p(x) = -0.125 + 0.02 = -0.105
 *   log q(y | x) = -(0.5 - 0.2 - 0.1 (-0.2))^2 / 0.4 = -0.32^2 / 0.4 = -0.256
 *   log q(x | y) = -(0.2 - 0.5 - 0.1 (-0.5))^2 / 0.4 = -0.25^2 / 0.4 = -0.15625
 *   log ratio = -0.105 - 0.15625 + 0.256 = -0.00525. */
static void test_mala_log_ratio_by_hand(void **state)
{
    (void)state;
    const float x = 0.2f, y = 0.5f, gx = -0.2f, gy = -0.5f;
    const double r = langevin_mala_log_ratio(1, 0.1, &x, -0.02, &gx, &y, -0.125, &gy);
    if (fabs(r - (-0.00525)) > 1e-6)
        fail_msg("log ratio %.8f, by hand -0.00525", r);
    /* the reverse move's ratio is its negative */
    const double back = langevin_mala_log_ratio(1, 0.1, &y, -0.125, &gy, &x, -0.02, &gx);
    assert_true(fabs(back + r) < 1e-6);
}

/* One MALA step of many chains from the same state x0 = 0.8 (d = 1, the
 * target above in [-1, 1], eta = 0.2): the share accepted against the
 * expected acceptance E_eps[min(1, r)] (0 for proposals outside the box),
 * computed here by quadrature over eps ~ N(0, 1) with the formula written
 * out independently. Band: 5 binomial SE. */
static void test_mala_one_step_acceptance_rate(void **state)
{
    (void)state;
    enum { N = 40000 };
    const double eta = 0.2, x0 = 0.8, mu = 0.375, s = 0.5;
    trunc_target t = {1, mu, s};
    const langevin_density target = {trunc_log_density, &t};
    const langevin_box_params p = {LANGEVIN_MALA, 1, eta, 0, 0.574, -1.0f, 1.0f};
    langevin_box b;
    ebm_err err = {0};
    assert_int_equal(langevin_box_init(&b, &p, 1, N, &err), 0);
    float *x = malloc(N * sizeof *x);
    assert_non_null(x);
    for (int i = 0; i < N; i++)
        x[i] = (float)x0;
    ebm_rng rng;
    rng_seed(&rng, 5, 0);
    langevin_box_run(&b, &target, &rng, N, x);
    int moved = 0;
    for (int i = 0; i < N; i++)
        moved += x[i] != (float)x0;
    /* expected acceptance */
    const double lp0 = -0.5 * pow((x0 - mu) / s, 2), g0 = -(x0 - mu) / (s * s);
    double expect = 0;
    const int cells = 200000;
    for (int c = 0; c < cells; c++) {
        const double e = -10.0 + (c + 0.5) * 20.0 / cells;
        const double y = x0 + eta * g0 + sqrt(2 * eta) * e;
        double a = 0;
        if (y >= -1 && y <= 1) {
            const double lpy = -0.5 * pow((y - mu) / s, 2), gy = -(y - mu) / (s * s);
            const double lq_fwd = -pow(y - x0 - eta * g0, 2) / (4 * eta);
            const double lq_bwd = -pow(x0 - y - eta * gy, 2) / (4 * eta);
            a = fmin(1.0, exp(lpy - lp0 + lq_bwd - lq_fwd));
        }
        expect += a * std_normal_pdf(e) * 20.0 / cells;
    }
    const double share = (double)moved / N, se = sqrt(expect * (1 - expect) / N);
    print_message("one step from 0.8: accepted %.4f, expected %.4f (SE %.4f); outside %lld\n",
                  share, expect, se, (long long)b.stats.outside);
    if (fabs(share - expect) > 5 * se)
        fail_msg("accepted share %.4f, expected %.4f (5 SE %.4f)", share, expect, 5 * se);
    assert_true(b.stats.accepted == moved && b.stats.outside > 0);
    free(x);
    langevin_box_free(&b);
}

/* Flat target: ULA's step is pure noise of variance 2 eta (sigma^2 = 2 eta,
 * no decay: the same over 3 steps), and in a box its reflected walk keeps
 * every chain inside and has the uniform law as its stationary law. */
static void flat_log_density(void *data, const float *x, int n, float *logp, float *grad)
{
    const int d = *(const int *)data;
    (void)x;
    for (int i = 0; i < n; i++)
        logp[i] = 0.0f;
    memset(grad, 0, (size_t)n * d * sizeof *grad);
}

static void test_ula_noise_scale_and_reflection(void **state)
{
    (void)state;
    enum { N = 20000 };
    int d = 1;
    const langevin_density target = {flat_log_density, &d};
    const double eta = 0.01;
    /* (1) a box too wide to reach: after 3 steps, variance 3 * 2 eta */
    langevin_box_params p = {LANGEVIN_ULA, 3, eta, 0, 0, -100.0f, 100.0f};
    langevin_box b;
    ebm_err err = {0};
    assert_int_equal(langevin_box_init(&b, &p, 1, N, &err), 0);
    float *x = calloc(N, sizeof *x);
    assert_non_null(x);
    ebm_rng rng;
    rng_seed(&rng, 9, 0);
    langevin_box_run(&b, &target, &rng, N, x);
    double ss = 0;
    for (int i = 0; i < N; i++)
        ss += (double)x[i] * x[i];
    const double var = ss / N, want = 3 * 2 * eta, se = want * sqrt(2.0 / N);
    print_message("ULA: variance after 3 flat steps %.5f, 3 * 2 eta = %.5f (SE %.5f)\n", var,
                  want, se);
    if (fabs(var - want) > 5 * se)
        fail_msg("variance %.5f, want 6 eta = %.5f (5 SE %.5f)", var, want, 5 * se);
    langevin_box_free(&b);
    /* (2) [-1, 1], big steps (sigma 0.63), from 0.9: reflected, uniform */
    p.steps = 200, p.step_size = 0.2, p.lo = -1.0f, p.hi = 1.0f;
    assert_int_equal(langevin_box_init(&b, &p, 1, N, &err), 0);
    for (int i = 0; i < N; i++)
        x[i] = 0.9f;
    langevin_box_run(&b, &target, &rng, N, x);
    double sum = 0;
    ss = 0;
    for (int i = 0; i < N; i++) {
        assert_true(x[i] >= -1.0f && x[i] <= 1.0f);
        sum += x[i], ss += (double)x[i] * x[i];
    }
    const double mean = sum / N, var2 = ss / N - mean * mean;
    /* uniform on [-1, 1]: mean 0 (SE sqrt(1/3 / N)), variance 1/3 (SE: the
     * fourth central moment 1/5: sqrt((1/5 - 1/9) / N)) */
    if (fabs(mean) > 5 * sqrt(1.0 / 3 / N) || fabs(var2 - 1.0 / 3) > 5 * sqrt((0.2 - 1.0 / 9) / N))
        fail_msg("reflected walk: mean %.4f, variance %.4f; uniform: 0, 1/3", mean, var2);
    free(x);
    langevin_box_free(&b);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_langevin_run_quadratic_stationary_variance),
        cmocka_unit_test(test_langevin_run_clamp_keeps_chains_in_box),
        cmocka_unit_test(test_langevin_run_nonfinite_chains_restarted_and_counted),
        cmocka_unit_test(test_langevin_run_same_seed_bitwise_identical),
        cmocka_unit_test(test_langevin_draw_buffer_reads_and_writes_back_chains),
        cmocka_unit_test(test_langevin_draw_without_buffer_starts_fresh),
        cmocka_unit_test(test_langevin_draw_fresh_target_class_follows_class_logit),
        cmocka_unit_test(test_langevin_continue_steps_from_given_chains),
        cmocka_unit_test(test_langevin_run_step_decay_geometric),
        cmocka_unit_test(test_langevin_gauss_fit_and_start),
        cmocka_unit_test(test_mala_truncated_normal_exact_law),
        cmocka_unit_test(test_mala_log_ratio_by_hand),
        cmocka_unit_test(test_mala_one_step_acceptance_rate),
        cmocka_unit_test(test_ula_noise_scale_and_reflection),
    };
    return harness_run(argc, argv, "test_langevin", tests, HARNESS_COUNT(tests), NULL, NULL);
}
