/* test_model.c: the MLP, its backward pass and the JEM loss against an
 * independent double-precision forward pass and central finite differences. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "num/model.h"
#include "core/rng.h"

/* ------------------------------------------------------------------------ */
/* Tolerances.                                                               */
/* ------------------------------------------------------------------------ */

/* Gradients: the analytic gradient is float32 (sgemm, expf, float softmax),
 * the reference is a central difference of a double-precision loss with
 * h = 1e-5, whose truncation (~h^2 |L'''|) and cancellation (~1e-16 |L| / h)
 * errors are below 1e-9. What remains is float32 rounding in the analytic
 * path: a few 1e-7 relative on each O(1) term, summed over a handful of rows
 * and units. Accept |g - g_fd| <= 1e-5 + 1e-4 |g_fd|: an order of magnitude
 * above the measured worst case (see the printed deviations), two orders
 * below a missing term or a wrong factor. */
#define GRAD_TOL_ABS 1e-5
#define GRAD_TOL_REL 1e-4
#define FD_STEP 1e-5

/* Values (logits, loss sums): float32 forward against the double reference
 * of the same float32 parameters and inputs; a handful of ulp per operation,
 * accumulated over at most a few hundred terms. */
#define VALUE_TOL_ABS 1e-5
#define VALUE_TOL_REL 1e-5

#define CANARY 16
#define CANARY_VALUE -12345.0f

static int close_enough(double got, double want, double tol_abs, double tol_rel)
{
    return fabs(got - want) <= tol_abs + tol_rel * fabs(want);
}

/* ------------------------------------------------------------------------ */
/* The double-precision reference, written from docs/design.md section 1 only.        */
/* ------------------------------------------------------------------------ */

/* Signs of the hidden pre-activations seen by a reference forward pass. */
typedef struct {
    int negative[EBM_LAYERS - 1], positive[EBM_LAYERS - 1];
    double min_abs; /* smallest |pre-activation| over the hidden layers */
} ref_stats;

/* logits (n,K) = f(x (n,D)) with W [out,in] then b [out] per layer, in the
 * order of the flat buffer described by shape. */
static void ref_forward(const model_shape *s, const double *p, const double *x, int n,
                        double *logits, ref_stats *stats)
{
    int width = s->d;
    for (int l = 0; l < EBM_LAYERS; l++)
        if (s->out[l] > width)
            width = s->out[l];
    double *cur = malloc(sizeof(double) * (size_t)n * width);
    double *next = malloc(sizeof(double) * (size_t)n * width);
    assert_non_null(cur);
    assert_non_null(next);
    memcpy(cur, x, sizeof(double) * (size_t)n * s->d);
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->min_abs = INFINITY;
    }
    for (int l = 0; l < EBM_LAYERS; l++) {
        const int in = s->in[l], out = s->out[l];
        const double *w = p + s->w_off[l], *b = p + s->b_off[l];
        const int hidden = l < EBM_LAYERS - 1;
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++) {
                double z = b[o];
                for (int j = 0; j < in; j++)
                    z += cur[(size_t)i * in + j] * w[(size_t)o * in + j];
                if (hidden && stats) {
                    stats->negative[l] += z < 0.0;
                    stats->positive[l] += z > 0.0;
                    stats->min_abs = fmin(stats->min_abs, fabs(z));
                }
                next[(size_t)i * out + o] = hidden ? (z > 0.0 ? z : exp(z) - 1.0) : z;
            }
        double *t = cur;
        cur = next;
        next = t;
    }
    memcpy(logits, cur, sizeof(double) * (size_t)n * s->k);
    free(cur);
    free(next);
}

static double ref_lse(const double *row, int k)
{
    double m = row[0], sum = 0.0;
    for (int j = 1; j < k; j++)
        m = fmax(m, row[j]);
    for (int j = 0; j < k; j++)
        sum += exp(row[j] - m);
    return m + log(sum);
}

static int ref_argmax(const double *row, int k)
{
    int a = 0;
    for (int j = 1; j < k; j++)
        if (row[j] > row[a])
            a = j;
    return a;
}

/* Sum over the batch of CE(f(x),y) + w [LSE f(x~) - LSE f(x)
 * + alpha (LSE f(x)^2 + LSE f(x~)^2)]; rows [0,n) of x are data, rows
 * [n, 2n) samples when n_samples = n. With n_samples = 0: the plain
 * classifier, CE only. Fills *sums (not accumulated) when not NULL. */
static double ref_loss(const model_shape *s, const double *p, const double *x,
                       const int32_t *labels, int n, int n_samples, double w, double alpha,
                       loss_sums *sums)
{
    const int k = s->k;
    double *logits = malloc(sizeof(double) * (size_t)(n + n_samples) * k);
    assert_non_null(logits);
    ref_forward(s, p, x, n + n_samples, logits, NULL);
    loss_sums r = {0};
    for (int i = 0; i < n; i++) {
        const double *row = logits + (size_t)i * k;
        const double lse = ref_lse(row, k);
        const double ce = -(row[labels[i]] - lse); /* -log softmax_y */
        r.ce += ce;
        r.errors += ref_argmax(row, k) != labels[i];
        r.energy_data += -lse;
        if (n_samples > 0) {
            const double lse_s = ref_lse(logits + (size_t)(n + i) * k, k);
            const double gen = lse_s - lse + alpha * (lse * lse + lse_s * lse_s);
            r.gen += gen;
            r.energy_sample += -lse_s;
            r.loss += ce + w * gen;
        } else {
            r.loss += ce;
        }
    }
    free(logits);
    if (sums)
        *sums = r;
    return r.loss;
}

/* sum_i LSE(f(x_i)) over n rows: the quantity whose x-gradient Langevin uses. */
static double ref_sum_lse(const model_shape *s, const double *p, const double *x, int n)
{
    double *logits = malloc(sizeof(double) * (size_t)n * s->k);
    assert_non_null(logits);
    ref_forward(s, p, x, n, logits, NULL);
    double total = 0.0;
    for (int i = 0; i < n; i++)
        total += ref_lse(logits + (size_t)i * s->k, s->k);
    free(logits);
    return total;
}

/* ------------------------------------------------------------------------ */
/* Fixture: a tiny network (D=3, H=5, K=4), 3 data rows and 3 sample rows.    */
/* ------------------------------------------------------------------------ */

#define TINY_D 3
#define TINY_H 5
#define TINY_K 4
#define TINY_N 3

typedef struct {
    int n_samples; /* TINY_N (joint loss) or 0 (plain classifier) */
    float w, alpha;
} jem_case;

static const jem_case case_joint = {TINY_N, 0.7f, 0.3f};
static const jem_case case_classifier = {0, 0.7f, 0.3f}; /* w must be ignored */

typedef struct {
    jem_case c;
    model_shape shape;
    int rows;                 /* n + n_samples */
    float *params;            /* n_params */
    double *params_d;         /* the same values in double */
    float x[2 * TINY_N * TINY_D];
    double x_d[2 * TINY_N * TINY_D];
    int32_t labels[TINY_N];
    int expected_errors;
    model_workspace ws;
} jem_fixture;

static int teardown_jem(void **state)
{
    jem_fixture *fx = *state;
    if (fx) {
        model_workspace_free(&fx->ws);
        free(fx->params);
        free(fx->params_d);
        free(fx);
    }
    *state = NULL;
    return 0;
}

/* *state holds a jem_case on entry (prestate) and the fixture after. */
static int setup_jem(void **state)
{
    const jem_case *c = *state;
    jem_fixture *fx = calloc(1, sizeof *fx);
    if (!fx || !c)
        goto fail_alloc;
    fx->c = *c;
    model_shape_init(&fx->shape, TINY_D, TINY_H, TINY_K);
    fx->rows = TINY_N + c->n_samples;
    const size_t np = fx->shape.n_params;
    fx->params = malloc(sizeof(float) * np);
    fx->params_d = malloc(sizeof(double) * np);
    ebm_err err;
    if (!fx->params || !fx->params_d ||
        model_workspace_init(&fx->ws, &fx->shape, 2 * TINY_N, &err) != 0)
        goto fail;

    /* PyTorch-style initialisation scaled up by 2.5 so that the logits and
     * LSE are O(1) rather than tiny (the alpha LSE^2 term then matters), and
     * inputs in [-2, 2]; data rows then samples. */
    ebm_rng rng;
    rng_seed(&rng, 20240601, 0);
    model_init_params(&fx->shape, fx->params, &rng);
    for (size_t j = 0; j < np; j++) {
        fx->params[j] *= 2.5f;
        fx->params_d[j] = fx->params[j];
    }
    rng_fill_uniform(&rng, fx->x, 2 * TINY_N * TINY_D, -2.0f, 2.0f);
    for (int j = 0; j < 2 * TINY_N * TINY_D; j++)
        fx->x_d[j] = fx->x[j];

    /* Both ELU branches in every hidden layer, and no pre-activation so close
     * to 0 that the FD stencil straddles the kink in ELU's second derivative. */
    double logits[2 * TINY_N * TINY_K];
    ref_stats st;
    ref_forward(&fx->shape, fx->params_d, fx->x_d, 2 * TINY_N, logits, &st);
    for (int l = 0; l < EBM_LAYERS - 1; l++)
        if (st.negative[l] < 2 || st.positive[l] < 2)
            goto fail;
    if (st.min_abs < 1e-3)
        goto fail;

    /* Labels: row 0 is classified right, rows 1 and 2 wrong (the second
     * choice and the last choice), so errors is neither 0 nor n. The top two
     * logits must be apart, or float and double could pick different ones. */
    for (int i = 0; i < TINY_N; i++) {
        const double *row = logits + (size_t)i * TINY_K;
        int order[TINY_K];
        for (int j = 0; j < TINY_K; j++)
            order[j] = j;
        for (int a = 0; a < TINY_K; a++)
            for (int b = a + 1; b < TINY_K; b++)
                if (row[order[b]] > row[order[a]]) {
                    const int t = order[a];
                    order[a] = order[b];
                    order[b] = t;
                }
        if (row[order[0]] - row[order[1]] < 1e-3)
            goto fail;
        fx->labels[i] = order[i == 0 ? 0 : i == 1 ? 1 : TINY_K - 1];
    }
    fx->expected_errors = TINY_N - 1;
    *state = fx;
    return 0;
fail:
    *state = fx;
    teardown_jem(state);
    return -1;
fail_alloc:
    free(fx);
    return -1;
}

/* Runs forward, the loss and backward in float32 on the fixture. */
static void analytic_jem(jem_fixture *fx, float *grad_params, float *grad_x, loss_sums *sums)
{
    const int k = fx->shape.k;
    float dlogits[2 * TINY_N * TINY_K];
    const float *logits = model_forward(&fx->shape, fx->params, &fx->ws, fx->x, fx->rows);
    model_jem_loss(TINY_N, fx->c.n_samples, k, logits, fx->labels, fx->c.w, fx->c.alpha,
                   dlogits, sums);
    model_backward(&fx->shape, fx->params, &fx->ws, fx->x, fx->rows, dlogits, grad_params,
                   grad_x);
}

static double fixture_ref_loss(const jem_fixture *fx, loss_sums *sums)
{
    return ref_loss(&fx->shape, fx->params_d, fx->x_d, fx->labels, TINY_N, fx->c.n_samples,
                    fx->c.w, fx->c.alpha, sums);
}

static void assert_sums_match(const loss_sums *got, const loss_sums *want)
{
    const struct {
        const char *name;
        double got, want;
    } f[] = {{"loss", got->loss, want->loss},
             {"ce", got->ce, want->ce},
             {"gen", got->gen, want->gen},
             {"energy_data", got->energy_data, want->energy_data},
             {"energy_sample", got->energy_sample, want->energy_sample}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!close_enough(f[i].got, f[i].want, VALUE_TOL_ABS, VALUE_TOL_REL))
            fail_msg("loss_sums.%s: got %.9g, reference %.9g", f[i].name, f[i].got, f[i].want);
    assert_true(got->errors == want->errors);
}

/* ------------------------------------------------------------------------ */
/* Gradients of the joint loss with respect to every parameter.              */
/* ------------------------------------------------------------------------ */

static void check_param_gradient(void **state)
{
    jem_fixture *fx = *state;
    const size_t np = fx->shape.n_params;
    float *grad = calloc(np + CANARY, sizeof(float));
    assert_non_null(grad);
    for (int j = 0; j < CANARY; j++)
        grad[np + j] = CANARY_VALUE;
    loss_sums sums = {0}, ref = {0};
    analytic_jem(fx, grad, NULL, &sums);
    fixture_ref_loss(fx, &ref);
    assert_sums_match(&sums, &ref);
    assert_true(ref.errors == fx->expected_errors);
    if (fx->c.n_samples == 0) {
        /* Plain classifier: no generative term at all, whatever w says. */
        assert_true(sums.gen == 0.0 && sums.energy_sample == 0.0);
        assert_true(close_enough(sums.loss, sums.ce, 1e-12, 0.0));
    } else {
        /* The generative term is really present in this case. */
        assert_true(fabs(sums.loss - sums.ce) > 0.1);
    }

    double worst_abs = 0.0, worst_scaled = 0.0, max_g = 0.0;
    for (size_t j = 0; j < np; j++) {
        const double saved = fx->params_d[j];
        fx->params_d[j] = saved + FD_STEP;
        const double lp = fixture_ref_loss(fx, NULL);
        fx->params_d[j] = saved - FD_STEP;
        const double lm = fixture_ref_loss(fx, NULL);
        fx->params_d[j] = saved;
        const double fd = (lp - lm) / (2.0 * FD_STEP), g = grad[j];
        const double dev = fabs(g - fd);
        worst_abs = fmax(worst_abs, dev);
        worst_scaled = fmax(worst_scaled, dev / (GRAD_TOL_ABS + GRAD_TOL_REL * fabs(fd)));
        max_g = fmax(max_g, fabs(fd));
        if (!close_enough(g, fd, GRAD_TOL_ABS, GRAD_TOL_REL))
            fail_msg("d loss / d param[%zu]: analytic %.9g, finite difference %.9g", j, g, fd);
    }
    for (int j = 0; j < CANARY; j++)
        assert_true(grad[np + j] == CANARY_VALUE);
    print_message("param gradient (n_samples=%d): max |g - g_fd| %.3g (max |g_fd| %.3g), "
                  "worst fraction of tolerance %.3g\n",
                  fx->c.n_samples, worst_abs, max_g, worst_scaled);
    free(grad);
}

static void test_model_backward_param_grad_joint_loss(void **state)
{
    check_param_gradient(state);
}

static void test_model_backward_param_grad_plain_classifier(void **state)
{
    check_param_gradient(state);
}

/* grad_params is accumulated: two backward passes give twice the gradient,
 * and a backward pass onto a nonzero buffer adds to it. */
static void test_model_backward_accumulates_grad_params(void **state)
{
    jem_fixture *fx = *state;
    const size_t np = fx->shape.n_params;
    float *once = calloc(np, sizeof(float)), *twice = calloc(np, sizeof(float));
    float *offset = malloc(sizeof(float) * np);
    assert_non_null(once);
    assert_non_null(twice);
    assert_non_null(offset);
    loss_sums sums = {0};
    analytic_jem(fx, once, NULL, &sums);
    analytic_jem(fx, twice, NULL, &sums);
    analytic_jem(fx, twice, NULL, &sums);
    for (size_t j = 0; j < np; j++)
        offset[j] = 0.5f + 0.25f * (float)(j % 3);
    analytic_jem(fx, offset, NULL, &sums);
    size_t nonzero = 0;
    for (size_t j = 0; j < np; j++) {
        nonzero += once[j] != 0.0f;
        /* Same products added again: a rounding of the sum at most. */
        if (!close_enough(twice[j], 2.0 * once[j], 1e-7, 1e-6))
            fail_msg("param %zu: two passes %.9g, one pass %.9g", j, twice[j], once[j]);
        const double base = 0.5 + 0.25 * (double)(j % 3);
        if (!close_enough(offset[j], base + once[j], 1e-6, 1e-6))
            fail_msg("param %zu: onto %.3g gave %.9g, expected %.9g", j, base, offset[j],
                     base + once[j]);
    }
    assert_true(nonzero == np); /* a test of += on zeros would prove nothing */
    free(once);
    free(twice);
    free(offset);
}

/* model_backward_staged: what its callback sees. */
typedef struct {
    const model_shape *shape;
    const float *grad;            /* NULL: the pass forms no weight gradient */
    float *snapshot;              /* each layer's gradient when first reported ready */
    int calls, last_ready, first_ready_order[EBM_LAYERS], n_ready, monotone;
} stage_log;

static void record_stage(void *arg, int ready)
{
    stage_log *log = arg;
    log->calls++;
    if (ready > log->last_ready)
        log->monotone = 0;
    for (int l = log->last_ready - 1; l >= ready && l >= 0; l--) {
        log->first_ready_order[log->n_ready++] = l;
        if (log->grad) {
            const size_t begin = log->shape->w_off[l];
            const size_t end = log->shape->b_off[l] + (size_t)log->shape->out[l];
            memcpy(log->snapshot + begin, log->grad + begin, (end - begin) * sizeof(float));
        }
    }
    log->last_ready = ready < log->last_ready ? ready : log->last_ready;
}

/* Same bits as model_backward (weight and input gradients, onto a nonzero
 * buffer); layers are reported complete in the order 3, 2, 1, 0, each once,
 * the last call with 0, and no layer's gradient changes after it was
 * reported (what lets --overlap send it while the pass goes on). Without a
 * weight gradient (the Langevin path) no layer is ever reported. */
static void test_model_backward_staged_same_bits_and_order(void **state)
{
    jem_fixture *fx = *state;
    const size_t np = fx->shape.n_params;
    const int k = fx->shape.k;
    float dlogits[2 * TINY_N * TINY_K];
    loss_sums sums = {0};
    const float *logits = model_forward(&fx->shape, fx->params, &fx->ws, fx->x, fx->rows);
    model_jem_loss(TINY_N, fx->c.n_samples, k, logits, fx->labels, fx->c.w, fx->c.alpha, dlogits,
                   &sums);
    float *plain = malloc(np * sizeof(float)), *staged = malloc(np * sizeof(float));
    float *snapshot = calloc(np, sizeof(float));
    float gx_plain[2 * TINY_N * TINY_D], gx_staged[2 * TINY_N * TINY_D];
    assert_non_null(plain);
    assert_non_null(staged);
    assert_non_null(snapshot);
    for (size_t j = 0; j < np; j++)
        plain[j] = staged[j] = 0.125f * (float)(j % 5);
    model_backward(&fx->shape, fx->params, &fx->ws, fx->x, fx->rows, dlogits, plain, gx_plain);
    stage_log log = {&fx->shape, staged, snapshot, 0, EBM_LAYERS, {0}, 0, 1};
    model_backward_staged(&fx->shape, fx->params, &fx->ws, fx->x, fx->rows, dlogits, staged,
                          gx_staged, record_stage, &log);
    assert_memory_equal(plain, staged, np * sizeof(float));
    assert_memory_equal(gx_plain, gx_staged, sizeof gx_plain);
    assert_true(log.monotone);
    assert_int_equal(log.last_ready, 0);
    assert_int_equal(log.n_ready, EBM_LAYERS);
    for (int i = 0; i < EBM_LAYERS; i++)
        assert_int_equal(log.first_ready_order[i], EBM_LAYERS - 1 - i);
    assert_true(log.calls > EBM_LAYERS); /* progress points between the products too */
    assert_memory_equal(snapshot, staged, np * sizeof(float));

    /* The input gradient alone. */
    stage_log none = {&fx->shape, NULL, NULL, 0, EBM_LAYERS, {0}, 0, 1};
    model_backward_staged(&fx->shape, fx->params, &fx->ws, fx->x, fx->rows, dlogits, NULL,
                          gx_staged, record_stage, &none);
    model_backward(&fx->shape, fx->params, &fx->ws, fx->x, fx->rows, dlogits, NULL, gx_plain);
    assert_memory_equal(gx_plain, gx_staged, sizeof gx_plain);
    assert_int_equal(none.n_ready, 0);
    assert_true(none.calls > 0);
    free(plain);
    free(staged);
    free(snapshot);
}

/* ------------------------------------------------------------------------ */
/* The input gradient used by Langevin sampling.                             */
/* ------------------------------------------------------------------------ */

static void test_model_backward_input_grad_langevin_path(void **state)
{
    jem_fixture *fx = *state;
    const model_shape *s = &fx->shape;
    const int n = fx->rows, d = s->d, k = s->k;
    float dlogits[2 * TINY_N * TINY_K];
    float grad_x[2 * TINY_N * TINY_D + CANARY];
    /* Garbage in grad_x: it must be overwritten, not accumulated into. */
    for (int j = 0; j < n * d; j++)
        grad_x[j] = 1e6f;
    for (int j = 0; j < CANARY; j++)
        grad_x[n * d + j] = CANARY_VALUE;

    const float *logits = model_forward(s, fx->params, &fx->ws, fx->x, n);
    model_lse_dlogits(n, k, logits, dlogits);

    /* Snapshot everything model_backward can reach without grad_params. */
    const size_t np = s->n_params;
    float *params_before = malloc(sizeof(float) * np);
    float *act_before[EBM_LAYERS];
    float x_before[2 * TINY_N * TINY_D], dlogits_before[2 * TINY_N * TINY_K];
    assert_non_null(params_before);
    memcpy(params_before, fx->params, sizeof(float) * np);
    memcpy(x_before, fx->x, sizeof x_before);
    memcpy(dlogits_before, dlogits, sizeof dlogits_before);
    for (int l = 0; l < EBM_LAYERS; l++) {
        const size_t bytes = sizeof(float) * (size_t)n * s->out[l];
        act_before[l] = malloc(bytes);
        assert_non_null(act_before[l]);
        memcpy(act_before[l], fx->ws.act[l], bytes);
    }

    model_backward(s, fx->params, &fx->ws, fx->x, n, dlogits, NULL, grad_x);

    assert_memory_equal(params_before, fx->params, sizeof(float) * np);
    assert_memory_equal(x_before, fx->x, sizeof x_before);
    assert_memory_equal(dlogits_before, dlogits, sizeof dlogits_before);
    for (int l = 0; l < EBM_LAYERS; l++) {
        assert_memory_equal(act_before[l], fx->ws.act[l], sizeof(float) * (size_t)n * s->out[l]);
        free(act_before[l]);
    }
    free(params_before);
    for (int j = 0; j < CANARY; j++)
        assert_true(grad_x[n * d + j] == CANARY_VALUE);

    double worst = 0.0;
    for (int j = 0; j < n * d; j++) {
        const double saved = fx->x_d[j];
        fx->x_d[j] = saved + FD_STEP;
        const double lp = ref_sum_lse(s, fx->params_d, fx->x_d, n);
        fx->x_d[j] = saved - FD_STEP;
        const double lm = ref_sum_lse(s, fx->params_d, fx->x_d, n);
        fx->x_d[j] = saved;
        const double fd = (lp - lm) / (2.0 * FD_STEP);
        worst = fmax(worst, fabs(grad_x[j] - fd));
        if (!close_enough(grad_x[j], fd, GRAD_TOL_ABS, GRAD_TOL_REL))
            fail_msg("d sum LSE / d x[%d]: analytic %.9g, finite difference %.9g", j,
                     grad_x[j], fd);
    }
    print_message("input gradient: max |g - g_fd| %.3g\n", worst);

    /* Asking for grad_params as well changes neither grad_x nor the rest. */
    float *grad = calloc(np, sizeof(float));
    float grad_x2[2 * TINY_N * TINY_D];
    assert_non_null(grad);
    model_backward(s, fx->params, &fx->ws, fx->x, n, dlogits, grad, grad_x2);
    for (int j = 0; j < n * d; j++)
        assert_true(close_enough(grad_x2[j], grad_x[j], 1e-7, 1e-6));
    free(grad);
}

static void test_model_lse_dlogits_is_softmax(void **state)
{
    (void)state;
    const float logits[2 * 3] = {0.5f, -1.0f, 2.0f, 800.0f, 800.0f, -800.0f};
    /* Row 0: O(1) logits, float32 exp of a float32 difference: 1e-6 relative.
     * Row 1: the softmax is formed as exp(logit - LSE) and LSE = 800.69 is
     * only known to ulp(800)/2 = 3e-5 in float32, so the probabilities are
     * only that good (measured: 0.499985 for 0.5); 1e-4 absolute there. */
    const double tol_abs[2] = {1e-7, 1e-4}, tol_rel[2] = {1e-6, 0.0};
    float p[2 * 3];
    model_lse_dlogits(2, 3, logits, p);
    for (int i = 0; i < 2; i++) {
        double row[3];
        for (int j = 0; j < 3; j++)
            row[j] = logits[i * 3 + j];
        const double lse = ref_lse(row, 3);
        for (int j = 0; j < 3; j++)
            if (!close_enough(p[i * 3 + j], exp(row[j] - lse), tol_abs[i], tol_rel[i]))
                fail_msg("softmax[%d][%d]: got %.9g, reference %.9g", i, j, p[i * 3 + j],
                         exp(row[j] - lse));
    }
}

/* ------------------------------------------------------------------------ */
/* The loss on its own: dlogits against finite differences on the logits.   */
/* ------------------------------------------------------------------------ */

/* The loss of docs/design.md section 1 as a function of the logits themselves. */
static double ref_loss_of_logits(const double *logits, const int32_t *labels, int n,
                                 int n_samples, int k, double w, double alpha)
{
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const double lse = ref_lse(logits + (size_t)i * k, k);
        total += lse - logits[(size_t)i * k + labels[i]];
        if (n_samples > 0) {
            const double lse_s = ref_lse(logits + (size_t)(n + i) * k, k);
            total += w * (lse_s - lse + alpha * (lse * lse + lse_s * lse_s));
        }
    }
    return total;
}

static void test_model_jem_loss_dlogits_match_finite_differences(void **state)
{
    (void)state;
    enum { N = 2, K = 3 };
    const float logits[2 * N * K] = {1.5f, -0.5f, 0.25f, -2.0f, 0.75f, 3.0f,
                                     0.1f, 2.2f,  -1.3f, 4.0f,  -3.5f, 0.6f};
    const int32_t labels[N] = {0, 1};
    const float w = 0.7f, alpha = 0.3f;
    double ld[2 * N * K];
    for (int j = 0; j < 2 * N * K; j++)
        ld[j] = logits[j];
    for (int ns = 0; ns <= N; ns += N) {
        float dl[2 * N * K];
        for (int j = 0; j < 2 * N * K; j++)
            dl[j] = 1e6f; /* must be overwritten */
        loss_sums sums = {0};
        model_jem_loss(N, ns, K, logits, labels, w, alpha, dl, &sums);
        assert_true(close_enough(sums.loss, ref_loss_of_logits(ld, labels, N, ns, K, w, alpha),
                                 VALUE_TOL_ABS, VALUE_TOL_REL));
        for (int j = 0; j < (N + ns) * K; j++) {
            const double saved = ld[j];
            ld[j] = saved + FD_STEP;
            const double lp = ref_loss_of_logits(ld, labels, N, ns, K, w, alpha);
            ld[j] = saved - FD_STEP;
            const double lm = ref_loss_of_logits(ld, labels, N, ns, K, w, alpha);
            ld[j] = saved;
            const double fd = (lp - lm) / (2.0 * FD_STEP);
            if (!close_enough(dl[j], fd, GRAD_TOL_ABS, GRAD_TOL_REL))
                fail_msg("n_samples=%d: d loss / d logit[%d]: %.9g, finite difference %.9g",
                         ns, j, dl[j], fd);
        }
        if (ns == 0) /* rows [N, 2N) are not the loss's to write */
            for (int j = N * K; j < 2 * N * K; j++)
                assert_true(dl[j] == 1e6f);
    }
}

/* loss_sums are added into, not overwritten. */
static void test_model_jem_loss_adds_into_sums(void **state)
{
    jem_fixture *fx = *state;
    const float *logits = model_forward(&fx->shape, fx->params, &fx->ws, fx->x, fx->rows);
    float dlogits[2 * TINY_N * TINY_K];
    loss_sums fresh = {0}, ref;
    loss_sums sums = {1.0, 2.0, 3.0, 4.0, 5.0, 6.0};
    model_jem_loss(TINY_N, fx->c.n_samples, TINY_K, logits, fx->labels, fx->c.w, fx->c.alpha,
                   dlogits, &fresh);
    model_jem_loss(TINY_N, fx->c.n_samples, TINY_K, logits, fx->labels, fx->c.w, fx->c.alpha,
                   dlogits, &sums);
    fixture_ref_loss(fx, &ref);
    assert_sums_match(&fresh, &ref);
    assert_true(close_enough(sums.loss, 1.0 + fresh.loss, 1e-12, 1e-12));
    assert_true(close_enough(sums.ce, 2.0 + fresh.ce, 1e-12, 1e-12));
    assert_true(close_enough(sums.gen, 3.0 + fresh.gen, 1e-12, 1e-12));
    assert_true(sums.errors == 4.0 + fresh.errors);
    assert_true(close_enough(sums.energy_data, 5.0 + fresh.energy_data, 1e-12, 1e-12));
    assert_true(close_enough(sums.energy_sample, 6.0 + fresh.energy_sample, 1e-12, 1e-12));
}

/* ------------------------------------------------------------------------ */
/* Forward pass.                                                             */
/* ------------------------------------------------------------------------ */

static void test_model_forward_tiny_matches_reference(void **state)
{
    jem_fixture *fx = *state;
    double want[2 * TINY_N * TINY_K];
    const float *got = model_forward(&fx->shape, fx->params, &fx->ws, fx->x, 2 * TINY_N);
    assert_ptr_equal(got, fx->ws.act[EBM_LAYERS - 1]);
    ref_forward(&fx->shape, fx->params_d, fx->x_d, 2 * TINY_N, want, NULL);
    for (int j = 0; j < 2 * TINY_N * TINY_K; j++)
        if (!close_enough(got[j], want[j], VALUE_TOL_ABS, VALUE_TOL_REL))
            fail_msg("logit %d: got %.9g, reference %.9g", j, got[j], want[j]);
}

/* A wider network, so that sgemm's blocking and a row count that is not a
 * multiple of anything are exercised. */
static void test_model_forward_wide_matches_reference(void **state)
{
    (void)state;
    enum { D = 64, H = 96, K = 10, N = 37 };
    model_shape s;
    model_shape_init(&s, D, H, K);
    model_workspace ws;
    ebm_err err;
    assert_int_equal(model_workspace_init(&ws, &s, N, &err), 0);
    float *p = malloc(sizeof(float) * s.n_params), *x = malloc(sizeof(float) * N * D);
    double *pd = malloc(sizeof(double) * s.n_params), *xd = malloc(sizeof(double) * N * D);
    double *want = malloc(sizeof(double) * N * K);
    assert_non_null(p);
    assert_non_null(x);
    assert_non_null(pd);
    assert_non_null(xd);
    assert_non_null(want);
    ebm_rng rng;
    rng_seed(&rng, 7, 0);
    model_init_params(&s, p, &rng);
    rng_fill_uniform(&rng, x, (size_t)N * D, -1.0f, 1.0f);
    for (size_t j = 0; j < s.n_params; j++)
        pd[j] = p[j];
    for (int j = 0; j < N * D; j++)
        xd[j] = x[j];
    /* Twice: the second pass must not depend on what the first left behind. */
    model_forward(&s, p, &ws, x, N);
    const float *got = model_forward(&s, p, &ws, x, N);
    ref_forward(&s, pd, xd, N, want, NULL);
    double worst = 0.0;
    for (int j = 0; j < N * K; j++) {
        worst = fmax(worst, fabs(got[j] - want[j]));
        if (!close_enough(got[j], want[j], VALUE_TOL_ABS, VALUE_TOL_REL))
            fail_msg("logit %d: got %.9g, reference %.9g", j, got[j], want[j]);
    }
    print_message("forward %d-%d-%d, %d rows: max |logit - reference| %.3g\n", D, H, K, N,
                  worst);
    model_workspace_free(&ws);
    free(p);
    free(x);
    free(pd);
    free(xd);
    free(want);
}

/* ------------------------------------------------------------------------ */
/* Layout and initialisation.                                                */
/* ------------------------------------------------------------------------ */

static void test_model_shape_init_pytorch_layout(void **state)
{
    (void)state;
    model_shape s;
    model_shape_init(&s, 64, 512, 10);
    /* nn.Sequential(Linear(64,512), ELU, Linear(512,512), ELU, Linear(512,512),
     * ELU, Linear(512,10)).parameters(): weight [out,in] then bias per layer. */
    const size_t w_off[EBM_LAYERS] = {0, 33280, 295936, 558592};
    const size_t b_off[EBM_LAYERS] = {32768, 295424, 558080, 563712};
    const int in[EBM_LAYERS] = {64, 512, 512, 512}, out[EBM_LAYERS] = {512, 512, 512, 10};
    assert_int_equal(s.d, 64);
    assert_int_equal(s.h, 512);
    assert_int_equal(s.k, 10);
    assert_int_equal(s.n_params, 563722);
    for (int l = 0; l < EBM_LAYERS; l++) {
        assert_int_equal(s.in[l], in[l]);
        assert_int_equal(s.out[l], out[l]);
        assert_int_equal(s.w_off[l], w_off[l]);
        assert_int_equal(s.b_off[l], b_off[l]);
    }
    model_shape_init(&s, TINY_D, TINY_H, TINY_K);
    assert_int_equal(s.n_params, (3 * 5 + 5) + 2 * (5 * 5 + 5) + (5 * 4 + 4));
}

static void test_model_init_params_pytorch_bounds(void **state)
{
    (void)state;
    model_shape s;
    model_shape_init(&s, 64, 512, 10);
    float *p = malloc(sizeof(float) * s.n_params);
    assert_non_null(p);
    for (size_t j = 0; j < s.n_params; j++)
        p[j] = NAN; /* every slot must be written */
    ebm_rng rng;
    rng_seed(&rng, 1, 0);
    model_init_params(&s, p, &rng);
    for (int l = 0; l < EBM_LAYERS; l++) {
        const double bound = 1.0 / sqrt((double)s.in[l]);
        const struct {
            size_t off, n;
        } part[2] = {{s.w_off[l], (size_t)s.in[l] * s.out[l]}, {s.b_off[l], (size_t)s.out[l]}};
        for (int b = 0; b < 2; b++) {
            double lo = INFINITY, hi = -INFINITY, sum = 0.0, sum2 = 0.0;
            const size_t n = part[b].n;
            for (size_t j = part[b].off; j < part[b].off + n; j++) {
                const double v = p[j];
                if (!(v >= -bound && v <= bound))
                    fail_msg("layer %d %s[%zu] = %.9g outside +-%.9g", l,
                             b ? "bias" : "weight", j - part[b].off, v, bound);
                lo = fmin(lo, v);
                hi = fmax(hi, v);
                sum += v;
                sum2 += v * v;
            }
            if (n < 500)
                continue; /* the 10 output biases: the bounds are all we can ask */
            /* U(-b, b): mean 0 (sd b/sqrt(3n)); variance b^2/3 (relative sd
             * 0.89/sqrt(n)); the extremes reach the bounds: within 5% of b for
             * the 512 biases (a miss at one end has P = 0.975^512 = 2e-6),
             * within 1% for the >= 5120 weights (P < 1e-11). Mean and variance
             * are allowed 4-6 sd. A bound from fan_out, or a shared bound for
             * all layers, fails the range or the spread check. */
            const double margin = n > 5000 ? 0.01 : 0.05;
            const double mean = sum / (double)n, var = sum2 / (double)n - mean * mean;
            if (!(fabs(mean) < 6.0 * bound / sqrt(3.0 * (double)n)))
                fail_msg("layer %d %s mean %.3g", l, b ? "bias" : "weight", mean);
            if (!(fabs(var / (bound * bound / 3.0) - 1.0) < (n > 5000 ? 0.05 : 0.2)))
                fail_msg("layer %d %s variance %.3g, expected %.3g", l, b ? "bias" : "weight",
                         var, bound * bound / 3.0);
            if (!(lo < -(1.0 - margin) * bound && hi > (1.0 - margin) * bound))
                fail_msg("layer %d %s spans [%.6g, %.6g], bound %.6g", l,
                         b ? "bias" : "weight", lo, hi, bound);
        }
    }
    free(p);
}

static void test_model_init_params_deterministic_per_stream(void **state)
{
    (void)state;
    model_shape s;
    model_shape_init(&s, TINY_D, TINY_H, TINY_K);
    float a[200], b[200], c[200];
    assert_true(s.n_params <= 200);
    ebm_rng r1, r2, r3;
    rng_seed(&r1, 42, 0);
    rng_seed(&r2, 42, 0);
    rng_seed(&r3, 43, 0);
    model_init_params(&s, a, &r1);
    model_init_params(&s, b, &r2);
    model_init_params(&s, c, &r3);
    assert_memory_equal(a, b, sizeof(float) * s.n_params);
    assert_memory_not_equal(a, c, sizeof(float) * s.n_params);
}

/* ------------------------------------------------------------------------ */
/* logsumexp.                                                                */
/* ------------------------------------------------------------------------ */

static void test_model_logsumexp_large_logits_stable(void **state)
{
    (void)state;
    const float big[2] = {1000.0f, 1000.0f}, neg[2] = {-1000.0f, -1000.0f};
    const float mixed[3] = {1000.0f, 0.0f, -1000.0f};
    const float huge[4] = {3e38f, 3e38f, -3e38f, 0.0f};
    /* ulp(1000) = 6.1e-5 in float32: a tolerance of 1e-4 is 2 ulp. */
    assert_true(close_enough(model_logsumexp(big, 2), 1000.0 + log(2.0), 1e-4, 0.0));
    assert_true(close_enough(model_logsumexp(neg, 2), -1000.0 + log(2.0), 1e-4, 0.0));
    assert_true(close_enough(model_logsumexp(mixed, 3), 1000.0, 1e-4, 0.0));
    const float h = model_logsumexp(huge, 4);
    assert_true(isfinite(h) && close_enough(h, 3e38, 0.0, 1e-6));
}

static void test_model_logsumexp_small_logits_exact(void **state)
{
    (void)state;
    const float row[5] = {0.1f, -0.3f, 0.7f, -2.5f, 1.25f};
    double rd[5];
    for (int j = 0; j < 5; j++)
        rd[j] = row[j];
    /* float32 sum of 5 exponentials and a log: a few ulp of the result. */
    assert_true(close_enough(model_logsumexp(row, 5), ref_lse(rd, 5), 0.0, 1e-6));
    const float one[1] = {-3.75f};
    assert_true(model_logsumexp(one, 1) == -3.75f);
    const float same[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    assert_true(close_enough(model_logsumexp(same, 4), log(4.0), 0.0, 1e-7));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate_setup_teardown(test_model_backward_param_grad_joint_loss,
                                                 setup_jem, teardown_jem, (void *)&case_joint),
        cmocka_unit_test_prestate_setup_teardown(
            test_model_backward_param_grad_plain_classifier, setup_jem, teardown_jem,
            (void *)&case_classifier),
        cmocka_unit_test_prestate_setup_teardown(test_model_backward_accumulates_grad_params,
                                                 setup_jem, teardown_jem, (void *)&case_joint),
        cmocka_unit_test_prestate_setup_teardown(test_model_backward_staged_same_bits_and_order,
                                                 setup_jem, teardown_jem, (void *)&case_joint),
        cmocka_unit_test_prestate_setup_teardown(test_model_backward_input_grad_langevin_path,
                                                 setup_jem, teardown_jem, (void *)&case_joint),
        cmocka_unit_test(test_model_lse_dlogits_is_softmax),
        cmocka_unit_test(test_model_jem_loss_dlogits_match_finite_differences),
        cmocka_unit_test_prestate_setup_teardown(test_model_jem_loss_adds_into_sums, setup_jem,
                                                 teardown_jem, (void *)&case_joint),
        cmocka_unit_test_prestate_setup_teardown(test_model_forward_tiny_matches_reference,
                                                 setup_jem, teardown_jem, (void *)&case_joint),
        cmocka_unit_test(test_model_forward_wide_matches_reference),
        cmocka_unit_test(test_model_shape_init_pytorch_layout),
        cmocka_unit_test(test_model_init_params_pytorch_bounds),
        cmocka_unit_test(test_model_init_params_deterministic_per_stream),
        cmocka_unit_test(test_model_logsumexp_large_logits_stable),
        cmocka_unit_test(test_model_logsumexp_small_logits_exact),
    };
    return harness_run(argc, argv, "test_model", tests, HARNESS_COUNT(tests), NULL, NULL);
}
