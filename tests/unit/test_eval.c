/* test_eval.c: sharded evaluation (src/ebm/eval.h). On a small model and a
 * synthetic split of 37 examples (uneven over ranks), the result over the
 * world with each rank holding its shard_range share equals the result of
 * one rank holding everything (dist_self), and both equal references written
 * here from the definitions on model_forward's logits. gen_weight = 0
 * throughout: no sampling, so the rng must not even be touched. Runs as a
 * singleton and at 3 ranks (13 + 12 + 12 examples). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "core/data.h"
#include "core/rng.h"
#include "core/shard.h"
#include "ebm/eval.h"
#include "num/model.h"
#include "par/dist.h"

#define E_D 6
#define E_H 10
#define E_K 4
#define E_N 37
#define E_CAP 8 /* evaluator chunk: several full chunks and a partial one */

/* Sharded against one-rank sums, with evaluator chunks of ONE row: every
 * example then goes through model_forward alone in both runs, so its logits
 * and float per-example terms are bit for bit the same, and only the double
 * summation order differs (chunk by chunk on each rank, then MPI's reduction
 * over ranks). 37 terms of size O(1) summed in double differ by at most
 * ~37 * 2^-53 relative: 1e-12 relative (plus 1e-14 absolute for values near
 * 0) is a wide bound on that, and far below even the ~1e-8 that different
 * batching alone produces (below), let alone a lost or doubled example
 * (~1/37). Counts (n, errors, confusion) are sums of small integers: exact.
 *
 * Why one-row chunks: with OpenBLAS the logits of a row depend (by a few ulp)
 * on how many rows share its sgemm call (the kernel for the M remainder
 * accumulates in another order), and the chunks of a 13-example shard are
 * not those of the 37-example split. With E_CAP-row chunks the two runs
 * differ by ~1e-8 relative (measured 7e-9 on the loss at 3 ranks); that
 * case is checked too, at float-level tolerance (BATCH_TOL_*). */
#define SUM_TOL_REL 1e-12
#define SUM_TOL_ABS 1e-14
/* Chunks of E_CAP rows: per-row logits up to ~1.5e-6 apart between
 * batchings (measured; a few ulp of the O(1) terms each logit sums), so the
 * per-example terms and their means ~1e-6 apart. 1e-5 absolute + relative
 * leaves margin and is still far below what a lost or doubled example does
 * (~1/37 relative). */
#define BATCH_TOL_REL 1e-5
#define BATCH_TOL_ABS 1e-5

/* References from the definitions, in double from the float logits, against
 * the evaluator's float32 per-example values (lse, ce in float, with vmath's
 * exp, "a few ulp" of libm), whose chunks batch the rows differently from
 * the one whole-split forward pass of the reference (logits up to 1.5e-6
 * apart, see BATCH_TOL_*): each per-example term is off by ~1e-6, and so
 * is their mean. Accept 1e-5 absolute + 1e-5
 * relative: an order above that, far below a missing or wrong term (O(0.01)
 * and more for these data). */
#define REF_TOL_ABS 1e-5
#define REF_TOL_REL 1e-5

static int close_to(double got, double want, double tol_abs, double tol_rel)
{
    return fabs(got - want) <= tol_abs + tol_rel * fabs(want);
}

/* ---- fixture: model, full split, this rank's shard ------------------------ */

typedef struct {
    model_shape shape;
    float *params;
    input_map map;
    int64_t n;
    float images[E_N * E_D]; /* data units: integers 0..255 */
    int32_t labels[E_N];
    float logits[E_N * E_K]; /* model_forward on the whole split, one call */
    int expected_errors;
} eval_fixture;

/* The model's input: pixel / 128 - 1. Scale a power of two and integer
 * pixels: the map is exact in float, so the test's mapped inputs are the
 * evaluator's bit for bit (whether or not either side contracts to fma). */
static void map_inputs(const eval_fixture *fx, const float *img, float *x, size_t m)
{
    for (size_t i = 0; i < m; i++)
        x[i] = fx->map.scale * img[i] + fx->map.shift;
}

static int argmax_row(const float *row, int k)
{
    int a = 0;
    for (int j = 1; j < k; j++)
        if (row[j] > row[a])
            a = j;
    return a;
}

/* Builds the same fixture on every rank (fixed seeds). n examples; labels:
 * 3 of every 5 the model's prediction, the others another class, so the
 * error is neither 0 nor 1 and the confusion matrix has off-diagonal
 * entries. */
static void fixture_init(eval_fixture *fx, int64_t n)
{
    memset(fx, 0, sizeof *fx);
    assert_true(n <= E_N);
    fx->n = n;
    model_shape_init(&fx->shape, E_D, E_H, E_K);
    fx->params = malloc(fx->shape.n_params * sizeof(float));
    assert_non_null(fx->params);
    ebm_rng rng;
    rng_seed(&rng, 8086, 0);
    model_init_params(&fx->shape, fx->params, &rng);
    for (size_t j = 0; j < fx->shape.n_params; j++)
        fx->params[j] *= 3.0f; /* spread the logits: confident and unsure rows */
    fx->map.scale = 1.0f / 128.0f;
    fx->map.shift = -1.0f;
    for (int i = 0; i < E_N * E_D; i++)
        fx->images[i] = (float)rng_below(&rng, 256);

    float x[E_N * E_D];
    map_inputs(fx, fx->images, x, (size_t)E_N * E_D);
    model_workspace ws;
    ebm_err err = {0};
    assert_int_equal(model_workspace_init(&ws, &fx->shape, E_N, &err), 0);
    const float *lg = model_forward(&fx->shape, fx->params, &ws, x, E_N);
    memcpy(fx->logits, lg, sizeof fx->logits);
    model_workspace_free(&ws);

    fx->expected_errors = 0;
    for (int i = 0; i < E_N; i++) {
        const float *row = fx->logits + i * E_K;
        const int pred = argmax_row(row, E_K);
        fx->labels[i] = i % 5 < 3 ? pred : (pred + 1 + i % 3) % E_K;
        fx->expected_errors += i < n && fx->labels[i] != pred;
        /* The top two logits are apart by far more than the few ulp that
         * batching can change: every run predicts the same class. */
        for (int j = 0; j < E_K; j++)
            if (j != pred && !(row[pred] - row[j] > 1e-4f))
                fail_msg("fixture: example %d has classes %d and %d within 1e-4", i, pred, j);
    }
}

static void fixture_free(eval_fixture *fx) { free(fx->params); }

/* This rank's shard_range share of the first fx->n examples. */
static void shard_for(const eval_fixture *fx, int size, int rank, data_shard *shard)
{
    int64_t off, cnt;
    shard_range(fx->n, size, rank, &off, &cnt);
    ebm_err err = {0};
    assert_int_equal(data_shard_alloc(shard, fx->n, off, cnt, E_D, &err), 0);
    memcpy(shard->images, fx->images + off * E_D, (size_t)cnt * E_D * sizeof(float));
    memcpy(shard->labels, fx->labels + off, (size_t)cnt * sizeof(int32_t));
}

static langevin_params sampler_settings(void)
{
    langevin_params lp;
    memset(&lp, 0, sizeof lp);
    lp.steps = 5;
    lp.step_size = 1.0f;
    lp.noise = 0.01f;
    lp.clamp = 1;
    lp.lo = -1.0f;
    lp.hi = 1.0f;
    lp.target_class = -1;
    return lp;
}

/* A result with its confusion matrix copied out (res.confusion points into
 * the evaluator, which the next run overwrites). */
typedef struct {
    eval_result r;
    double confusion[E_K * E_K];
} kept_result;

static void run_eval(evaluator *ev, const dist_ctx *ctx, const eval_fixture *fx,
                     const data_shard *shard, float *logits_out, kept_result *out)
{
    ebm_rng rng, before;
    rng_seed(&rng, 99, 1);
    before = rng;
    ebm_err err = {0};
    const int rc = logits_out
                       ? evaluator_run_keep(ev, ctx, fx->params, shard, &fx->map, 0.0f, 0.3f,
                                            &rng, logits_out, &out->r, &err)
                       : evaluator_run(ev, ctx, fx->params, shard, &fx->map, 0.0f, 0.3f, &rng,
                                       &out->r, &err);
    if (rc != 0)
        fail_msg("evaluator_run: %s", err.msg);
    /* gen_weight = 0: no sampling, so the stream is untouched. */
    assert_memory_equal(&rng, &before, sizeof rng);
    assert_non_null(out->r.confusion);
    memcpy(out->confusion, out->r.confusion, sizeof out->confusion);
}

/* An evaluator of fx's model with chunks of cap rows (sampler_settings),
 * and this rank's shard of fx's split in mine; end_eval frees all three. */
static void start_eval(const eval_fixture *fx, int cap, evaluator *ev, data_shard *mine)
{
    const langevin_params lp = sampler_settings();
    ebm_err err = {0};
    if (evaluator_init(ev, &fx->shape, &lp, cap, &err))
        fail_msg("evaluator_init: %s", err.msg);
    shard_for(fx, test_ctx()->size, test_ctx()->rank, mine);
}

static void end_eval(eval_fixture *fx, evaluator *ev, data_shard *mine)
{
    data_shard_free(mine);
    evaluator_free(ev);
    fixture_free(fx);
}

static void expect_sum_equal(const char *what, double got, double want, double tol_abs,
                             double tol_rel)
{
    if (!close_to(got, want, tol_abs, tol_rel))
        fail_msg("rank %d: %s sharded %.17g, one rank %.17g (rel %.3g)", test_ctx()->rank, what,
                 got, want, fabs(got - want) / fmax(fabs(want), 1e-300));
}

/* Sharded over the world against the full split on a one-rank context,
 * with evaluator chunks of `cap` rows. */
static void check_sharded_equals_one_rank(int64_t n, int cap, double tol_abs, double tol_rel)
{
    const dist_ctx *world = test_ctx();
    eval_fixture fx;
    fixture_init(&fx, n);
    evaluator ev;
    data_shard mine, all;
    start_eval(&fx, cap, &ev, &mine);
    shard_for(&fx, 1, 0, &all);
    ebm_err err = {0};
    kept_result sharded, single;
    run_eval(&ev, world, &fx, &mine, NULL, &sharded);

    dist_ctx self;
    assert_int_equal(dist_self(world, &self, &err), 0);
    run_eval(&ev, &self, &fx, &all, NULL, &single);
    dist_self_free(&self);

    const eval_result *a = &sharded.r, *b = &single.r;
    assert_true(a->n == (double)n && b->n == (double)n);
    assert_true(a->error == b->error); /* errors / n: the same integers */
    assert_memory_equal(sharded.confusion, single.confusion, sizeof sharded.confusion);
    expect_sum_equal("loss", a->loss, b->loss, tol_abs, tol_rel);
    expect_sum_equal("ce", a->ce, b->ce, tol_abs, tol_rel);
    expect_sum_equal("energy_data", a->energy_data, b->energy_data, tol_abs, tol_rel);
    expect_sum_equal("ece", a->ece, b->ece, tol_abs, tol_rel);
    if (world->rank == 0)
        print_message("n=%lld cap=%d: sharded - one rank: loss %.3g ce %.3g energy %.3g ece "
                      "%.3g\n",
                      (long long)n, cap, a->loss - b->loss, a->ce - b->ce,
                      a->energy_data - b->energy_data, a->ece - b->ece);
    assert_true(a->gen == 0.0 && b->gen == 0.0);
    assert_true(a->energy_sample == 0.0 && b->energy_sample == 0.0);

    /* Every rank holds the same global result, bit for bit (ranks take the
     * same decisions from it): compare with rank 0's. */
    kept_result r0 = sharded;
    assert_int_equal(dist_bcast_bytes(world, &r0, sizeof r0, 0, &err), 0);
    r0.r.confusion = sharded.r.confusion; /* a pointer, not a value */
    assert_memory_equal(&r0, &sharded, sizeof r0);

    data_shard_free(&all);
    end_eval(&fx, &ev, &mine);
}

static void test_evaluator_run_sharded_sums_equal_one_rank(void **state)
{
    (void)state;
    check_sharded_equals_one_rank(E_N, 1, SUM_TOL_ABS, SUM_TOL_REL);
}

/* The same with chunks of E_CAP rows (the sgemm path): equal counts, sums
 * equal to float-level tolerance (see above for why not to 1e-12). */
static void test_evaluator_run_sharded_batched_equals_one_rank_to_float(void **state)
{
    (void)state;
    check_sharded_equals_one_rank(E_N, E_CAP, BATCH_TOL_ABS, BATCH_TOL_REL);
}

/* 2 examples: at 3 ranks the last rank's shard is empty and contributes
 * zeros; 0 examples: every shard empty, n = 0 and every mean 0. */
static void test_evaluator_run_empty_shards_contribute_nothing(void **state)
{
    (void)state;
    check_sharded_equals_one_rank(2, 1, SUM_TOL_ABS, SUM_TOL_REL);
    check_sharded_equals_one_rank(2, E_CAP, BATCH_TOL_ABS, BATCH_TOL_REL); /* one chunk */

    const dist_ctx *world = test_ctx();
    eval_fixture fx;
    fixture_init(&fx, 0);
    evaluator ev;
    data_shard mine;
    start_eval(&fx, E_CAP, &ev, &mine);
    kept_result res;
    run_eval(&ev, world, &fx, &mine, NULL, &res);
    assert_true(res.r.n == 0.0 && res.r.loss == 0.0 && res.r.ce == 0.0 &&
                res.r.error == 0.0 && res.r.energy_data == 0.0 && res.r.ece == 0.0);
    for (int i = 0; i < E_K * E_K; i++)
        assert_true(res.confusion[i] == 0.0);
    end_eval(&fx, &ev, &mine);
}

/* ---- references from the definitions ------------------------------------ */

typedef struct {
    int errors;
    double confusion[E_K * E_K];
    double ce, energy_data, ece;
    double min_edge_distance; /* of any confidence to a bin edge */
} reference;

static double lse_double(const float *row, int k)
{
    double m = row[0], s = 0.0;
    for (int j = 1; j < k; j++)
        m = row[j] > m ? row[j] : m;
    for (int j = 0; j < k; j++)
        s += exp(row[j] - m);
    return m + log(s);
}

/* On the fixture's logits (model_forward, one call on the whole split):
 *   error   = share of argmax != label; confusion[label][argmax] counts
 *   ce      = mean of -log softmax(f(x))[label] = mean of LSE - f[label]
 *   E(x)    = -LSE f(x), energy_data its mean
 *   ECE     = sum over 15 equal-width bins of the max softmax probability
 *             of (bin share) * |accuracy in bin - mean confidence in bin|. */
static void reference_from_definitions(const eval_fixture *fx, reference *ref)
{
    memset(ref, 0, sizeof *ref);
    double bin_n[EVAL_ECE_BINS] = {0}, bin_conf[EVAL_ECE_BINS] = {0},
           bin_right[EVAL_ECE_BINS] = {0};
    ref->min_edge_distance = 1.0;
    for (int64_t i = 0; i < fx->n; i++) {
        const float *row = fx->logits + i * E_K;
        const int y = fx->labels[i], pred = argmax_row(row, E_K);
        const double lse = lse_double(row, E_K);
        ref->errors += pred != y;
        ref->confusion[y * E_K + pred] += 1.0;
        ref->ce += lse - row[y];
        ref->energy_data += -lse;
        double conf = 0.0; /* max_j softmax_j */
        for (int j = 0; j < E_K; j++)
            conf = fmax(conf, exp(row[j] - lse));
        int b = (int)floor(conf * EVAL_ECE_BINS);
        if (b >= EVAL_ECE_BINS)
            b = EVAL_ECE_BINS - 1;
        const double pos = conf * EVAL_ECE_BINS;
        ref->min_edge_distance = fmin(ref->min_edge_distance, fabs(pos - floor(pos + 0.5)));
        bin_n[b] += 1.0;
        bin_conf[b] += conf;
        bin_right[b] += pred == y;
    }
    const double n = (double)fx->n;
    ref->ce /= n;
    ref->energy_data /= n;
    for (int b = 0; b < EVAL_ECE_BINS; b++)
        if (bin_n[b] > 0)
            ref->ece += bin_n[b] / n * fabs(bin_right[b] / bin_n[b] - bin_conf[b] / bin_n[b]);
}

static void expect_ref(const char *what, double got, double want)
{
    if (!close_to(got, want, REF_TOL_ABS, REF_TOL_REL))
        fail_msg("rank %d: %s %.9g, definition gives %.9g", test_ctx()->rank, what, got, want);
}

static void test_evaluator_run_matches_definitions(void **state)
{
    (void)state;
    const dist_ctx *world = test_ctx();
    eval_fixture fx;
    fixture_init(&fx, E_N);
    reference ref;
    reference_from_definitions(&fx, &ref);
    /* The fixture is not degenerate: some errors, not all; several bins;
     * and no confidence within 1e-4 of a bin edge, so float-level
     * differences in the confidence cannot move an example across bins. */
    assert_int_equal(ref.errors, fx.expected_errors);
    assert_true(ref.errors > 5 && ref.errors < E_N - 5);
    assert_true(ref.min_edge_distance > 1e-4 * EVAL_ECE_BINS);
    assert_true(ref.ece > 0.05);

    evaluator ev;
    data_shard mine;
    start_eval(&fx, E_CAP, &ev, &mine);
    kept_result res;
    run_eval(&ev, world, &fx, &mine, NULL, &res);

    assert_true(res.r.n == (double)E_N);
    assert_true(res.r.error == (double)ref.errors / E_N);
    assert_memory_equal(res.confusion, ref.confusion, sizeof ref.confusion);
    expect_ref("ce", res.r.ce, ref.ce);
    /* gen_weight = 0: the loss is the cross-entropy alone (energy_reg = 0.3
     * is given and must not matter), the same sums. */
    assert_true(res.r.loss == res.r.ce);
    expect_ref("energy_data", res.r.energy_data, ref.energy_data);
    expect_ref("ece", res.r.ece, ref.ece);
    print_message("n %g error %.4f (%d) ce %.6f energy_data %.6f ece %.6f\n", res.r.n,
                  res.r.error, ref.errors, res.r.ce, res.r.energy_data, res.r.ece);
    end_eval(&fx, &ev, &mine);
}

/* The kept logits of each local example are model_forward's, bit for bit:
 * the reference calls model_forward on the evaluator's documented chunks
 * (`capacity` data rows at a time from the shard's start, the mapped inputs
 * computed here). Rows past the shard are not written, and keeping the
 * logits changes nothing in the result. Checked for chunks of E_CAP rows
 * and of one row; against one model_forward call on the whole split the
 * rows may differ by batching (see SUM_TOL_REL): a few ulp of the O(1)
 * hidden terms each logit sums (measured up to 1.5e-6 absolute, 2.4e-7 on a
 * logit of 0.04 where those terms cancel), compared at BATCH_TOL_*. */
static void check_keep(int cap)
{
    const dist_ctx *world = test_ctx();
    eval_fixture fx;
    fixture_init(&fx, E_N);
    evaluator ev;
    data_shard mine;
    start_eval(&fx, cap, &ev, &mine);
    ebm_err err = {0};
    const size_t rows = (size_t)mine.n + 2; /* two canary rows */
    float *kept = malloc(rows * E_K * sizeof *kept);
    float *want = malloc(rows * E_K * sizeof *want);
    float *x = malloc((size_t)cap * E_D * sizeof *x);
    assert_non_null(kept);
    assert_non_null(want);
    assert_non_null(x);
    for (size_t i = 0; i < rows * E_K; i++)
        kept[i] = -777.0f;
    model_workspace ws;
    assert_int_equal(model_workspace_init(&ws, &fx.shape, cap, &err), 0);
    for (int64_t start = 0; start < mine.n; start += cap) {
        const int c = (int)(mine.n - start < cap ? mine.n - start : cap);
        map_inputs(&fx, mine.images + start * E_D, x, (size_t)c * E_D);
        const float *lg = model_forward(&fx.shape, fx.params, &ws, x, c);
        memcpy(want + start * E_K, lg, (size_t)c * E_K * sizeof(float));
    }
    model_workspace_free(&ws);

    kept_result with, without;
    run_eval(&ev, world, &fx, &mine, kept, &with);
    double worst = 0.0;
    for (int64_t i = 0; i < mine.n; i++) {
        if (memcmp(kept + i * E_K, want + i * E_K, E_K * sizeof(float)) != 0)
            fail_msg("rank %d cap %d: kept logits of example %lld differ from model_forward",
                     world->rank, cap, (long long)(mine.offset + i));
        for (int j = 0; j < E_K; j++) {
            const double a = kept[i * E_K + j], b = fx.logits[(mine.offset + i) * E_K + j];
            worst = fmax(worst, fabs(a - b));
            if (!close_to(a, b, BATCH_TOL_ABS, BATCH_TOL_REL))
                fail_msg("example %lld logit %d: %.9g, whole-split forward %.9g",
                         (long long)(mine.offset + i), j, a, b);
        }
    }
    print_message("rank %d cap %d: kept logits vs one whole-split forward: max |diff| %.3g\n",
                  world->rank, cap, worst);
    for (size_t i = (size_t)mine.n * E_K; i < rows * E_K; i++)
        assert_true(kept[i] == -777.0f);
    run_eval(&ev, world, &fx, &mine, NULL, &without);
    with.r.confusion = without.r.confusion;
    assert_memory_equal(&with, &without, sizeof with);
    free(kept);
    free(want);
    free(x);
    end_eval(&fx, &ev, &mine);
}

static void test_evaluator_run_keep_logits_equal_model_forward(void **state)
{
    (void)state;
    check_keep(E_CAP);
    check_keep(1);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_evaluator_run_sharded_sums_equal_one_rank),
        cmocka_unit_test(test_evaluator_run_sharded_batched_equals_one_rank_to_float),
        cmocka_unit_test(test_evaluator_run_empty_shards_contribute_nothing),
        cmocka_unit_test(test_evaluator_run_matches_definitions),
        cmocka_unit_test(test_evaluator_run_keep_logits_equal_model_forward),
    };
    return harness_run(argc, argv, "test_eval", tests, HARNESS_COUNT(tests), NULL, NULL);
}
