/* infer.c: the eval and sample commands. */
#include "infer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebm/ais.h"
#include "ebm/baselines.h"
#include "core/data.h"
#include "core/fault.h"
#include "ebm/eval.h"
#include "ebm/langevin.h"
#include "ebm/ood.h"
#include "num/model.h"
#include "core/rng.h"
#include "core/shard.h"
#include "core/timer.h"
#include "io/data_file.h"
#include "io/rows_file.h"


/* MALA's first step before its burn-in tunes it, as a share of the squared
 * half-width of the data box (input space): small enough that a chain
 * started anywhere in the box accepts, the burn-in grows it. */
#define SAMPLE_MALA_FIRST_STEP 1e-3
/* --sampler kernel: sweeps per run of the kernel; eta is tuned between runs
 * during the burn-in (about 100 tunings over 2000 steps). */
#define SAMPLE_KERNEL_SWEEPS 10

/* Seconds between progress lines of a long sample or loglik run. */
#define INFER_PROGRESS_SECONDS 10.0

/* An AIS run's progress line on rank 0, at most every INFER_PROGRESS_SECONDS. */
typedef struct {
    int rank;
    double start, last;
    FILE *out;
} loglik_progress;

static void print_loglik_progress(void *data, const char *stage, int done, int total)
{
    loglik_progress *lp = data;
    const double now = timer_now();
    if (lp->rank != 0 || now - lp->last < INFER_PROGRESS_SECONDS)
        return;
    lp->last = now;
    FILE *out = lp->out;
    fprintf(out, "  loglik: %s, temperature %d of %d, %.0f s\n", stage, done, total, now - lp->start);
    fflush(out);
}

static int split_index(const char *name)
{
    for (int s = 0; s < SPLIT_COUNT; s++)
        if (strcmp(name, data_split_names[s]) == 0)
            return s;
    return SPLIT_TEST;
}

/* Langevin settings of the training run, in the model's input space. */
static langevin_params model_langevin(const ckpt_model *m, int steps, int target_class)
{
    const langevin_params lp = {
        .steps = steps,
        .step_size = (float)m->step_size,
        .noise = (float)m->noise,
        .step_decay = (float)m->step_decay,
        .reinit = 0.0f,
        .clamp = m->clamp_chains,
        .lo = m->map.scale * (float)m->value_min + m->map.shift,
        .hi = m->map.scale * (float)m->value_max + m->map.shift,
        .target_class = target_class,
        .base = m->base.d > 0 ? &m->base : NULL,
        .start_base = m->chain_init == 2,
    };
    return lp;
}

int infer_fit_class_start(const dist_ctx *ctx, const ckpt_model *m, const char *model_path,
                          const char *data_path, langevin_gauss *g, ebm_err *err)
{
    data_file *file = NULL;
    data_info info;
    data_shard shard = {0};
    uint64_t sum = 0;
    char hex[24];
    int rc = dist_agree(ctx, data_file_checksum(data_path, &sum, err), err);
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)sum);
    if (rc == 0 && m->data_checksum[0] && strcmp(m->data_checksum, hex) != 0)
        rc = ebm_fail(err,
                      "checkpoint '%s' (format before 5) stores no class Gaussians: they are "
                      "refitted to the training images of its data, checksum %s; '%s' has %s "
                      "(--data F)",
                      model_path, m->data_checksum, data_path, hex);
    if (rc == 0)
        rc = data_file_open(ctx, data_path, &file, &info, err);
    if (rc == 0 && (info.d != m->shape.d || info.k != m->shape.k))
        rc = ebm_fail(err, "data file '%s' does not match checkpoint '%s'", data_path,
                      model_path);
    if (rc == 0) {
        int64_t off, n;
        shard_range(info.n[SPLIT_TRAIN], ctx->size, ctx->rank, &off, &n);
        rc = data_shard_alloc(&shard, info.n[SPLIT_TRAIN], off, n, info.d, err);
        rc = dist_agree(ctx, rc, err);
        if (rc == 0)
            rc = data_file_read(file, SPLIT_TRAIN, &shard, err);
        if (rc == 0)
            rc = data_validate(&shard, &info, data_path, "train", err);
        rc = dist_agree(ctx, rc, err);
    }
    data_file_close(file);
    if (rc == 0)
        rc = langevin_gauss_fit(ctx, shard.images, shard.labels, shard.n, info.d, info.k,
                                m->map.scale, m->map.shift, g, err);
    data_shard_free(&shard);
    return ebm_pass(err, rc);
}

/* Where sample's chains start. */
typedef enum { START_TRAINING, START_UNIFORM, START_CLASSES, START_CHAINS } sample_start;

static sample_start parse_start(const ebm_config *cfg)
{
    const char *v = cfg->sample_init;
    return !strcmp(v, "uniform")   ? START_UNIFORM
           : !strcmp(v, "classes") ? START_CLASSES
           : !strcmp(v, "chains")  ? START_CHAINS
                                   : START_TRAINING;
}

/* Collective. The per-class Gaussians of the training images: the
 * checkpoint's own (format 5 on), else refitted from --data as training
 * fitted them (*g then owns them). */
static int class_gaussians(const dist_ctx *ctx, const run_info *run, const ebm_config *cfg,
                           const ckpt_model *m, langevin_gauss *g, const langevin_gauss **out,
                           ebm_err *err)
{
    *out = &m->class_start;
    if (m->class_start.k > 0)
        return 0;
    *out = g;
    if (infer_fit_class_start(ctx, m, cfg->ckpt, run->data_path, g, err) == 0)
        return 0;
    char why[EBM_ERR_LEN];
    snprintf(why, sizeof why, "%s", err->msg);
    return ebm_fail(err,
                    "checkpoint '%s' (written before format 5) stores no class Gaussians, and "
                    "refitting them to the training images of --data '%s' failed: %s",
                    cfg->ckpt, run->data_path, why);
}

static void print_eval(FILE *out, const ebm_config *cfg, const run_info *run, const ckpt_model *m,
                       const eval_result *r, int size)
{
    const int k = m->shape.k;
    fprintf(out, "eval %s (epoch %d, %d-%d-%d-%d-%d ELU MLP) on %s of %s: %lld examples, %d rank(s)\n",
           cfg->ckpt, m->epoch, m->shape.d, m->shape.h, m->shape.h, m->shape.h, m->shape.k,
           cfg->split, run->data_path,
           (long long)r->n, size);
    fprintf(out, "  loss %.4f  cross-entropy %.4f  generative term %+.4f\n", r->loss, r->ce, r->gen);
    fprintf(out, "  error %.2f%%  (accuracy %.2f%%)  expected calibration error %.4f\n",
           100.0 * r->error, 100.0 * (1.0 - r->error), r->ece);
    /* The evaluator's energies are the network's: with a base density the
     * line says so (eval --dump and --ood add the base). */
    fprintf(out, "  mean energy: data %.4f", r->energy_data);
    if (m->gen_weight > 0)
        fprintf(out, ", fresh samples (%d steps) %.4f", m->langevin_steps, r->energy_sample);
    if (m->base.d > 0)
        fprintf(out, " (the network's -logsumexp f(x), without the base)");
    fprintf(out, "\n  confusion matrix (rows: true class, columns: predicted)\n       ");
    for (int j = 0; j < k; j++)
        fprintf(out, "%5d", j);
    fprintf(out, "\n");
    for (int i = 0; i < k; i++) {
        fprintf(out, "  %4d ", i);
        for (int j = 0; j < k; j++)
            fprintf(out, "%5.0f", r->confusion[(size_t)i * k + j]);
        fprintf(out, "\n");
    }
    fflush(out);
}

static int write_dump(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run,
                      const ckpt_model *m, const data_shard *shard, const float *logits,
                      ebm_err *err)
{
    const int k = m->shape.k;
    const size_t n = (size_t)shard->n;
    const int d = m->shape.d;
    float *energy = ebm_calloc(n, sizeof(float), "dump", err);
    int32_t *pred = ebm_calloc(n, sizeof(int32_t), "dump", err);
    float *in = ebm_calloc((size_t)d, sizeof(float), "dump", err); /* one mapped image */
    int rc = (!energy || !pred || !in) ? -1 : 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const float *row = logits + i * k;
        energy[i] = -model_logsumexp(row, k);
        pred[i] = model_argmax(row, k);
        /* The base density is part of the energy (as sample reports it). */
        if (m->base.d > 0) {
            data_map(&m->map, shard->images + i * (size_t)d, in, (size_t)d);
            base_energy_addf(&m->base, in, 1, &energy[i], NULL);
        }
    }
    const rows_column cols[] = {
        {"logits", 0, k, logits, "f(x), one row per example of the split, in file order"},
        {"energy", 0, 0, energy,
         m->base.d > 0 ? "E(x) = -logsumexp f(x) + E_base(x)" : "E(x) = -logsumexp f(x)"},
        {"label", 1, 0, shard->labels, "true class"},
        {"predicted", 1, 0, pred, "argmax f(x)"},
    };
    const rows_attr attrs[] = {
        {"checkpoint", 0, cfg->ckpt},
        {"data_file", 0, run->data_path},
        {"split", 0, cfg->split},
        {"program", 0, "ebm_mpi eval --dump"},
    };
    if (rc == 0)
        rc = rows_file_write(ctx, cfg->dump, shard->n_total, shard->offset, shard->n, cols, 4,
                             attrs, 4, err);
    else
        rc = dist_agree(ctx, rc, err);
    free(energy);
    free(pred);
    free(in);
    return ebm_pass(err, rc);
}

/* The two scores of each of n examples (images in data units) from their
 * logits: the energy score -E(x) = logsumexp f(x) - E_base(x) (the model's
 * density up to log Z, the base density included when the checkpoint has
 * one, as --dump and sample report it) and the classifier's max softmax
 * probability. `in` holds one mapped image. */
static void ood_scores(const ckpt_model *m, const float *images, const float *logits, int64_t n,
                       float *in, double *energy_score, double *max_softmax)
{
    const int k = m->shape.k, d = m->shape.d;
    for (int64_t i = 0; i < n; i++) {
        const float *row = logits + i * k;
        const float lse = model_logsumexp(row, k);
        energy_score[i] = lse;
        if (m->base.d > 0) {
            double e_base = 0.0;
            data_map(&m->map, images + (size_t)i * d, in, (size_t)d);
            base_energy_add(&m->base, in, 1, &e_base, NULL);
            energy_score[i] -= e_base;
        }
        max_softmax[i] = exp((double)row[model_argmax(row, k)] - lse);
    }
}

/* Collective. Both scores of this rank's n examples, gathered on rank 0 into
 * all[2][n_total] (in global order; shards are contiguous and in rank order). */
static int gather_scores(const dist_ctx *ctx, const ckpt_model *m, const data_shard *s,
                         const float *logits, double *all, ebm_err *err)
{
    const int64_t n = s->n, n_total = s->n_total;
    const int64_t max_local = (n_total + ctx->size - 1) / ctx->size;
    double *mine = ebm_calloc((size_t)(2 * max_local + 1), sizeof(double), "scores", err);
    float *in = ebm_calloc((size_t)m->shape.d, sizeof(float), "scores", err);
    double *every = ctx->rank == 0 && mine
                        ? ebm_calloc((size_t)ctx->size * (2 * max_local + 1), sizeof(double),
                                     "scores", err)
                        : NULL;
    const int local = mine && in && (ctx->rank != 0 || every) ? 0 : -1;
    /* "|| local": dist_agree fails whenever local does; said again for gcc -fanalyzer. */
    int rc = dist_agree(ctx, local, err) || local ? -1 : 0;
    if (rc == 0) {
        mine[0] = (double)n;
        ood_scores(m, s->images, logits, n, in, mine + 1, mine + 1 + max_local);
        rc = dist_gather_bytes(ctx, mine, (2 * max_local + 1) * sizeof(double), every, 0, err);
    }
    if (rc == 0 && every && all) { /* rank 0 */
        int64_t at = 0;
        for (int r = 0; r < ctx->size; r++) {
            const double *part = every + (size_t)r * (2 * max_local + 1);
            const int64_t rows = (int64_t)part[0];
            for (int64_t i = 0; i < rows && at + i < n_total; i++) {
                all[at + i] = part[1 + i];
                all[n_total + at + i] = part[1 + max_local + i];
            }
            at += rows;
        }
    }
    free(every);
    free(in);
    free(mine);
    return ebm_pass(err, rc);
}

/* Collective. eval --ood's inputs (this rank's rows of them), made or read
 * before anything is printed, so that a bad --ood file is the one line. */
static int ood_inputs(const dist_ctx *ctx, const ebm_config *cfg, const ckpt_model *m,
                      const data_shard *split, ebm_rng *rng, data_shard *out, ebm_err *err)
{
    const int d = m->shape.d;
    const int synthetic_uniform = strcmp(cfg->ood, "uniform") == 0;
    const int synthetic_shuffled = strcmp(cfg->ood, "shuffled") == 0;
    data_shard o = {0};
    int rc = 0;
    if (synthetic_uniform || synthetic_shuffled) {
        rc = data_shard_alloc(&o, split->n_total, split->offset, split->n, d, err);
        if (rc == 0 && synthetic_uniform)
            ood_uniform(o.images, o.n, d, (float)m->value_min, (float)m->value_max, rng);
        if (rc == 0 && synthetic_shuffled) {
            memcpy(o.images, split->images, (size_t)o.n * d * sizeof(float));
            ood_shuffle_rows(o.images, o.n, d, rng);
        }
        rc = dist_agree(ctx, rc, err);
    } else {
        data_file *file = NULL;
        data_info info;
        rc = data_file_open(ctx, cfg->ood, &file, &info, err);
        const int s = split_index(cfg->split);
        if (rc == 0 && (info.d != d || info.value_min != m->value_min ||
                        info.value_max != m->value_max))
            rc = ebm_fail(err,
                          "--ood '%s' (%d pixels in [%g, %g]) does not match checkpoint '%s' "
                          "(%d inputs in [%g, %g])",
                          cfg->ood, info.d, info.value_min, info.value_max, cfg->ckpt, d,
                          m->value_min, m->value_max);
        if (rc == 0 && info.n[s] == 0)
            rc = ebm_fail(err, "--ood '%s' has no %s examples", cfg->ood, cfg->split);
        if (rc == 0) {
            int64_t off, n;
            shard_range(info.n[s], ctx->size, ctx->rank, &off, &n);
            rc = data_shard_alloc(&o, info.n[s], off, n, d, err);
            rc = dist_agree(ctx, rc, err);
            if (rc == 0)
                rc = data_file_read(file, s, &o, err);
            if (rc == 0)
                rc = data_validate(&o, &info, cfg->ood, cfg->split, err);
            /* Its labels may be of another set of classes: not used. */
            if (rc == 0)
                memset(o.labels, 0, (size_t)o.n * sizeof(int32_t));
        }
        rc = dist_agree(ctx, rc, err);
        data_file_close(file);
    }
    *out = o;
    return ebm_pass(err, rc);
}

/* Collective. eval --ood's figures: the logits of its inputs, and on rank 0
 * the AUROC of both scores against the split's. */
static int ood_report(FILE *out, const dist_ctx *ctx, const ebm_config *cfg, const ckpt_model *m,
                      evaluator *ev, const data_shard *split, const float *split_logits,
                      const data_shard *ood, ebm_rng *rng, ebm_err *err)
{
    const int k = m->shape.k;
    const data_shard o = *ood;
    const int synthetic_uniform = strcmp(cfg->ood, "uniform") == 0;
    const int synthetic_shuffled = strcmp(cfg->ood, "shuffled") == 0;
    int rc = 0;
    float *o_logits = NULL;
    double *in_all = NULL, *out_all = NULL;
    if (rc == 0) {
        o_logits = ebm_calloc((size_t)(o.n > 0 ? o.n : 1) * k, sizeof(float), "logits", err);
        if (ctx->rank == 0) {
            in_all = ebm_calloc((size_t)split->n_total * 2, sizeof(double), "scores", err);
            out_all = ebm_calloc((size_t)o.n_total * 2, sizeof(double), "scores", err);
        }
        rc = dist_agree(ctx, o_logits && (ctx->rank != 0 || (in_all && out_all)) ? 0 : -1, err);
    }
    if (rc == 0) {
        eval_result r;
        rc = evaluator_run_keep(ev, ctx, m->params, &o, &m->map, 0.0f, 0.0f, rng, o_logits, &r,
                                err);
    }
    if (rc == 0)
        rc = gather_scores(ctx, m, split, split_logits, in_all, err);
    if (rc == 0)
        rc = gather_scores(ctx, m, &o, o_logits, out_all, err);
    double auc_energy = 0.0, auc_msp = 0.0;
    if (rc == 0 && ctx->rank == 0) {
        rc = ood_auroc(in_all, split->n_total, out_all, o.n_total, &auc_energy, err);
        if (rc == 0)
            rc = ood_auroc(in_all + split->n_total, split->n_total, out_all + o.n_total,
                           o.n_total, &auc_msp, err);
    }
    rc = dist_agree(ctx, rc, err);
    if (rc == 0 && ctx->rank == 0) {
        fprintf(out, "  out-of-distribution: %s (%lld inputs) against the %s split (%lld)\n",
               synthetic_uniform    ? "uniform noise in the data range"
               : synthetic_shuffled ? "the split's images with their pixels shuffled"
                                    : cfg->ood,
               (long long)o.n_total, cfg->split, (long long)split->n_total);
        fprintf(out, "    AUROC: energy score -E(x) %.4f, max softmax %.4f (0.5: chance, 1: every "
               "input told apart)\n",
               auc_energy, auc_msp);
        fflush(out);
    }
    free(in_all);
    free(out_all);
    free(o_logits);
    return ebm_pass(err, rc);
}

/* Every rank reads the whole of `split` (the baselines' fits and the
 * validation split of --ais-steps auto are small). */
static int read_whole_split(const dist_ctx *ctx, const char *path, int split, data_shard *out,
                            ebm_err *err)
{
    data_file *file = NULL;
    data_info info;
    int rc = data_file_open(ctx, path, &file, &info, err);
    if (rc == 0 && info.n[split] < 1)
        rc = ebm_fail(err, "data file '%s' has no %s examples", path, data_split_names[split]);
    rc = dist_agree(ctx, rc, err);
    if (rc == 0)
        rc = data_shard_alloc(out, info.n[split], 0, info.n[split], info.d, err);
    rc = dist_agree(ctx, rc, err);
    if (rc == 0)
        rc = data_file_read(file, split, out, err);
    if (rc == 0)
        rc = data_validate(out, &info, path, data_split_names[split], err);
    rc = dist_agree(ctx, rc, err);
    data_file_close(file);
    return rc;
}

/* This rank's contiguous part of a split held whole: a view, no copy. */
static data_shard shard_view(const dist_ctx *ctx, const data_shard *whole)
{
    int64_t off, n;
    shard_range(whole->n_total, ctx->size, ctx->rank, &off, &n);
    data_shard v = *whole;
    v.offset = off, v.n = n;
    v.images = whole->images + (size_t)off * whole->d;
    v.labels = whole->labels + off;
    return v;
}

/* eval --loglik: the classical models on the split, then the energy's
 * log-likelihood by AIS and RAISE at --ais-steps temperatures, or at the
 * number the validation split chooses (auto). */
static int loglik_report(FILE *out, const dist_ctx *ctx, const ebm_config *cfg, const run_info *run,
                         const ckpt_model *m, const data_info *info, int split,
                         const data_shard *shard, ebm_err *err)
{
    data_shard train = {0}, val = {0};
    baseline_levels tr = {0}, va = {0}, te = {0};
    baseline_models bm = {0};
    int rc = read_whole_split(ctx, run->data_path, SPLIT_TRAIN, &train, err);
    if (rc == 0)
        rc = read_whole_split(ctx, run->data_path, SPLIT_VAL, &val, err);
    const int levels = (int)(info->value_max - info->value_min) + 1;
    if (rc == 0)
        rc = baseline_levels_from(train.images, train.n, train.d, info->value_min, levels,
                                  "train", &tr, err);
    if (rc == 0)
        rc = baseline_levels_from(val.images, val.n, val.d, info->value_min, levels, "val",
                                  &va, err);
    if (rc == 0)
        rc = baseline_levels_from(shard->images, shard->n, shard->d, info->value_min, levels,
                                  cfg->split, &te, err);
    if (rc == 0)
        rc = baseline_fit(&tr, &va, info->value_min, info->value_max, &bm, err);
    rc = dist_agree(ctx, rc, err);
    baseline_result br;
    if (rc == 0)
        rc = baseline_score(ctx, &bm, &te, shard->offset, shard->n_total, &br, err);
    if (rc == 0 && ctx->rank == 0) {
        baseline_print(out, &br, info->d, levels, cfg->split);
        fflush(out);
    }
    const ais_model am = {m->shape, m->params, m->map, m->value_min, m->value_max,
                          m->base.d > 0 ? &m->base : NULL};
    loglik_progress lp = {ctx->rank, timer_now(), timer_now(), out};
    const ais_progress progress = {print_loglik_progress, &lp};
    ais_loglik_result ll;
    int steps = cfg->ais_steps, have = 0, converged = 1;
    if (rc == 0 && steps == 0) {
        /* The rule runs on the validation split before the split asked for. */
        const data_shard vv = shard_view(ctx, &val);
        rc = ais_loglik_choose_steps(ctx, &am, &vv, AIS_AUTO_START, AIS_AUTO_CAP,
                                     cfg->ais_chains, &progress, ctx->rank == 0 ? out : NULL,
                                     &ll, &steps, &converged, err);
        have = rc == 0 && split == SPLIT_VAL;
    }
    if (rc == 0 && !have)
        rc = ais_loglik_run_from(ctx, &am, shard, steps, cfg->ais_chains,
                                 strcmp(cfg->ais_start, "base") == 0, &progress, &ll, err);
    if (rc == 0 && ctx->rank == 0) {
        ais_loglik_print(out, &ll);
        fprintf(out, "  the energy against the classical models (%s split): judged %.2f; uniform "
               "%.2f, indep %.2f, gauss %.2f, mixture %.2f nats/image\n",
               cfg->split, ll.logp_judged, br.mean[BASELINE_UNIFORM], br.mean[BASELINE_INDEP],
               br.mean[BASELINE_GAUSS], br.mean[BASELINE_MIX]);
        fflush(out);
    }
    baseline_models_free(&bm);
    baseline_levels_free(&tr), baseline_levels_free(&va), baseline_levels_free(&te);
    data_shard_free(&train), data_shard_free(&val);
    return rc;
}

int infer_eval_run(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run, FILE *out,
                   eval_result *figures, double *confusion, size_t confusion_count,
                   ebm_err *err)
{
    EBM_TRY(rows_file_may_replace(ctx, cfg->dump, "--dump", "ebm_mpi eval --dump",
                                  cfg->overwrite, err));
    ckpt_model m;
    if (ckpt_read_model(ctx, cfg->ckpt, &m, err))
        return ebm_trace(err);
    data_file *file = NULL;
    data_info info;
    data_shard shard = {0};
    evaluator ev = {0};
    langevin_gauss start = {0};
    float *logits = NULL;
    int rc = data_file_open(ctx, run->data_path, &file, &info, err);
    if (rc == 0 && (info.d != m.shape.d || info.k != m.shape.k ||
                    info.value_min != m.value_min || info.value_max != m.value_max))
        rc = ebm_fail(err,
                      "data file '%s' (%d pixels in [%g, %g], %d classes) does not match "
                      "checkpoint '%s' (%d inputs in [%g, %g], %d classes)",
                      run->data_path, info.d, info.value_min, info.value_max, info.k, cfg->ckpt,
                      m.shape.d, m.value_min, m.value_max, m.shape.k);
    const int split = split_index(cfg->split);
    if (rc == 0 && info.n[split] == 0)
        rc = ebm_fail(err, "data file '%s' has no %s examples", run->data_path, cfg->split);
    if (rc == 0) {
        int64_t off, n;
        shard_range(info.n[split], ctx->size, ctx->rank, &off, &n);
        rc = data_shard_alloc(&shard, info.n[split], off, n, info.d, err);
        if (rc == 0 && (cfg->dump[0] || cfg->ood[0]))
            rc = (logits = ebm_calloc((size_t)n * info.k, sizeof(float), "logits", err)) ? 0 : -1;
        langevin_params lp = model_langevin(&m, m.langevin_steps, -1);
        if (m.chain_init == 1) {
            rc = dist_agree(ctx, rc, err);
            if (rc == 0)
                rc = class_gaussians(ctx, run, cfg, &m, &start, &lp.start, err);
        }
        if (rc == 0)
            rc = evaluator_init(&ev, &m.shape, &lp, EBM_CHUNK_ROWS, err);
        rc = dist_agree(ctx, rc, err);
        if (rc == 0)
            rc = data_file_read(file, split, &shard, err);
        if (rc == 0)
            rc = data_validate(&shard, &info, run->data_path, cfg->split, err);
        rc = dist_agree(ctx, rc, err);
    }
    data_file_close(file);
    data_shard ood = {0};
    ebm_rng ood_rng;
    rng_derive(&ood_rng, 0x6f6f6431ULL, RNG_RANK, 0, ctx->rank); /* fixed: same figures */
    if (rc == 0 && cfg->ood[0])
        rc = ood_inputs(ctx, cfg, &m, &shard, &ood_rng, &ood, err);
    if (rc == 0) {
        char where[EBM_PATH_LEN + 64];
        snprintf(where, sizeof where, "evaluating %s on the %s split", cfg->ckpt, cfg->split);
        dist_watch_where(ctx, where, DIST_WATCH_KEEP);
        fault_stall("eval-command", 1, ctx->rank); /* tests only */
        ebm_rng rng;
        /* Fixed streams: the same checkpoint gives the same figures. */
        rng_derive(&rng, 0x65766131ULL, RNG_RANK, 0, ctx->rank);
        eval_result r;
        rc = evaluator_run_keep(&ev, ctx, m.params, &shard, &m.map, (float)m.gen_weight,
                                    (float)m.energy_reg, &rng, logits, &r, err);
        if (rc == 0 && ctx->rank == 0)
            print_eval(out, cfg, run, &m, &r, ctx->size);
        const size_t kk = (size_t)m.shape.k * (size_t)m.shape.k;
        if (rc == 0 && confusion && confusion_count != kk)
            rc = ebm_fail(err, "confusion holds %zu values, %d classes need %zu", confusion_count,
                          m.shape.k, kk); /* the same on every rank */
        if (rc == 0 && confusion)
            memcpy(confusion, r.confusion, kk * sizeof *confusion);
        if (rc == 0 && figures) {
            *figures = r;
            figures->confusion = NULL; /* the evaluator's, freed below */
        }
        if (rc == 0 && cfg->dump[0]) {
            rc = write_dump(ctx, cfg, run, &m, &shard, logits, err);
            if (rc == 0 && ctx->rank == 0)
                fprintf(out, "  wrote %s\n", cfg->dump);
        }
        if (rc == 0 && cfg->ood[0])
            rc = ood_report(out, ctx, cfg, &m, &ev, &shard, logits, &ood, &ood_rng, err);
        /* --loglik: the classical models, AIS and RAISE on the checkpoint's
         * box (src/ebm/ais.c, src/ebm/baselines.c; docs/loglik.md). */
        if (rc == 0 && cfg->loglik)
            rc = loglik_report(out, ctx, cfg, run, &m, &info, split, &shard, err);
    }
    free(logits);
    evaluator_free(&ev);
    langevin_gauss_free(&start);
    data_shard_free(&shard);
    data_shard_free(&ood);
    ckpt_model_free(&m);
    return ebm_pass(err, rc);
}

int infer_sample_run(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run, FILE *out,
                     ebm_err *err)
{
    EBM_TRY(rows_file_may_replace(ctx, cfg->samples_out, "--out", "ebm_mpi sample",
                                  cfg->overwrite, err));
    ckpt_model m;
    if (ckpt_read_model(ctx, cfg->ckpt, &m, err))
        return ebm_trace(err);
    const int k = m.shape.k, d = m.shape.d;
    const sample_start start = parse_start(cfg);
    const int from_chains = start == START_CHAINS;
    const int mala = !strcmp(cfg->sampler, "mala"), ula = !strcmp(cfg->sampler, "ula");
    const int kern = !strcmp(cfg->sampler, "kernel");
    int rc = 0;
    if (kern && m.base.d == 0)
        rc = ebm_fail(err, "--sampler kernel: checkpoint '%s' has no base density (trained "
                           "without --base pixels); use --sampler mala",
                      cfg->ckpt);
    if (rc == 0 && kern && cfg->class_label >= 0)
        rc = ebm_fail(err, "--sampler kernel draws from the unconditional model: no --class");
    if (cfg->class_label >= k)
        rc = ebm_fail(err, "--class %d: the model has %d classes (0..%d)", cfg->class_label, k,
                      k - 1);
    const char *chains_opt = cfg->from_chains ? "--from-chains" : "--init chains";
    if (rc == 0 && from_chains && m.n_chains == 0)
        rc = ebm_fail(err,
                      "%s: checkpoint '%s' has no persistent chains (trained with --buffer 0, "
                      "the default); start from --init uniform or classes instead",
                      chains_opt, cfg->ckpt);
    if (rc == 0 && from_chains && cfg->n_samples > m.n_chains)
        rc = ebm_fail(err, "--n %d with %s: checkpoint '%s' holds %lld chains", cfg->n_samples,
                      chains_opt, cfg->ckpt, (long long)m.n_chains);
    if (rc == 0 && ula && cfg->sample_step_size < 0 && !(m.noise > 0))
        rc = ebm_fail(err,
                      "--sampler ula: checkpoint '%s' was trained with --noise 0, so there is "
                      "no default step (noise^2 / 2): give --step-size X",
                      cfg->ckpt);
    const int steps = cfg->sample_steps >= 0 ? cfg->sample_steps : m.langevin_steps;
    int64_t off = 0, n = 0;
    shard_range(cfg->n_samples, ctx->size, ctx->rank, &off, &n);
    const int cap = (int)(n < EBM_CHUNK_ROWS ? (n > 0 ? n : 1) : EBM_CHUNK_ROWS);
    langevin_params lp = model_langevin(&m, steps, cfg->class_label);
    /* The data box in input space (a negative input scale turns it round). */
    const float box_lo = lp.lo < lp.hi ? lp.lo : lp.hi, box_hi = lp.lo < lp.hi ? lp.hi : lp.lo;
    if (mala || ula || kern) /* their target lives on the box: Gaussian starts go into it */
        lp.clamp = 1, lp.lo = box_lo, lp.hi = box_hi;
    langevin_gauss gauss = {0};
    rc = dist_agree(ctx, rc, err);
    /* The base's exact samples are the training's start only (--chain-init 2). */
    lp.start_base = start == START_TRAINING && m.chain_init == 2;
    if (rc == 0 && (start == START_CLASSES || (start == START_TRAINING && m.chain_init == 1)))
        rc = class_gaussians(ctx, run, cfg, &m, &gauss, &lp.start, err);
    /* MALA: eta tuned over the first half of the steps unless given; ULA:
     * the training's noise with the step at its Langevin scale. */
    const double box_half = 0.5 * ((double)box_hi - box_lo);
    const langevin_box_params bp = {
        .kind = mala ? LANGEVIN_MALA : LANGEVIN_ULA,
        .steps = steps,
        .step_size = cfg->sample_step_size > 0 ? cfg->sample_step_size
                     : mala || kern            ? SAMPLE_MALA_FIRST_STEP * box_half * box_half
                                               : 0.5 * m.noise * m.noise,
        .adapt_steps = (mala || kern) && cfg->sample_step_size < 0 ? steps / 2 : 0,
        .target_accept = LANGEVIN_MALA_TARGET_ACCEPT,
        .lo = box_lo,
        .hi = box_hi,
    };
    langevin_sampler sampler = {0};
    langevin_box box = {0};
    ais_kernel *kernel = NULL;
    model_workspace ws = {0};
    float *x = NULL, *energy = NULL, *conf = NULL, *dlogits = NULL;
    int32_t *pred = NULL;
    ebm_rng rng;
    rng_derive(&rng, (uint64_t)cfg->seed, RNG_RANK, 0, ctx->rank);
    if (rc == 0) {
        x = ebm_calloc((size_t)(n > 0 ? n : 1) * d, sizeof(float), "samples", err);
        energy = ebm_calloc((size_t)(n > 0 ? n : 1), sizeof(float), "samples", err);
        conf = ebm_calloc((size_t)(n > 0 ? n : 1), sizeof(float), "samples", err);
        pred = ebm_calloc((size_t)(n > 0 ? n : 1), sizeof(int32_t), "samples", err);
        dlogits = ebm_calloc((size_t)cap * k, sizeof(float), "samples", err);
        rc = (!x || !energy || !conf || !pred || !dlogits) ? -1 : 0;
    }
    if (rc == 0)
        rc = model_workspace_init(&ws, &m.shape, cap, err);
    if (rc == 0)
        rc = langevin_init(&sampler, &lp, d, k, cap, 0, 0, &rng, err);
    if (rc == 0 && (mala || ula))
        rc = langevin_box_init(&box, &bp, d, cap, err);
    if (rc == 0 && kern) {
        const ais_kernel_params kp = {
            .sweeps = SAMPLE_KERNEL_SWEEPS,
            .base_moves = AIS_BASE_MOVES,
            .base_block = AIS_BASE_BLOCK,
            .step_size = bp.step_size,
            .adapt_gain = AIS_KERNEL_ADAPT_GAIN,
            .lo = box_lo,
            .hi = box_hi,
            .base = &m.base,
        };
        rc = ais_kernel_init(&kernel, &kp, &m.shape, m.params, cap, err);
    }
    rc = dist_agree(ctx, rc, err);
    /* Chains 0..N-1 of the buffer, this rank's rows of them. */
    if (rc == 0 && from_chains)
        rc = dist_agree(ctx, ckpt_read_chains(ctx, cfg->ckpt, &m, off, n, x, err),
                        err);
    langevin_model_density density = {&m.shape, m.params, &ws, cfg->class_label, dlogits,
                                      m.base.d > 0 ? &m.base : NULL};
    const langevin_density target = {langevin_model_log_density, &density};
    const double t_start = timer_now();
    double last_progress = t_start;
    char where[EBM_PATH_LEN + 64];
    snprintf(where, sizeof where, "sampling from %s", cfg->ckpt);
    dist_watch_where(ctx, where, DIST_WATCH_KEEP);
    for (int64_t first = 0; rc == 0 && first < n; first += cap) {
        const int c = (int)(n - first < cap ? n - first : cap);
        float *chunk = x + (size_t)first * d;
        fault_stall("sample-command", first / cap + 1, ctx->rank); /* tests only */
        if (start == START_UNIFORM)
            rng_fill_uniform(&rng, chunk, (size_t)c * d, box_lo, box_hi);
        else if (!from_chains)
            langevin_start(&sampler, &rng, c, chunk);
        if (mala || ula)
            langevin_box_run(&box, &target, &rng, c, chunk);
        else if (kern)
            /* eval --loglik's transition at beta = 1 (base-block moves and a
             * reflected MALA step): runs of SAMPLE_KERNEL_SWEEPS, eta tuned
             * after each over the first half of the steps, then fixed */
            for (int done = 0; rc == 0 && done < steps; done += SAMPLE_KERNEL_SWEEPS) {
                const int sw = steps - done < SAMPLE_KERNEL_SWEEPS ? steps - done
                                                                    : SAMPLE_KERNEL_SWEEPS;
                ais_kernel_set(kernel, sw, done < bp.adapt_steps ? AIS_KERNEL_ADAPT_GAIN : 0.0);
                rc = ais_kernel_run(kernel, m.params, &rng, c, chunk, err);
            }
        else
            langevin_continue(&sampler, &m.shape, m.params, &ws, &rng, c, chunk);
        /* A failed kernel run ends the loop (the analyser cannot see that rc == 0
         * here means the buffers were allocated, hence the second test). */
        if (rc != 0 || !energy)
            break;
        const float *logits = model_forward(&m.shape, m.params, &ws, chunk, c);
        for (int i = 0; i < c; i++) {
            const float *row = logits + (size_t)i * k;
            const float lse = model_logsumexp(row, k);
            const int best = model_argmax(row, k);
            energy[first + i] = -lse;
            if (m.base.d > 0)
                base_energy_addf(&m.base, chunk + (size_t)i * d, 1, &energy[first + i], NULL);
            pred[first + i] = best;
            conf[first + i] = expf(row[best] - lse);
        }
        /* Back to data units, the units of the data file. */
        for (size_t i = 0; i < (size_t)c * d; i++)
            chunk[i] = (chunk[i] - m.map.shift) / m.map.scale;
        /* A long run says how far it is, as train does (rank 0's share: the
         * ranks draw equal shares at the same pace). */
        const double now = timer_now();
        if (ctx->rank == 0 && now - last_progress > INFER_PROGRESS_SECONDS) {
            last_progress = now;
            fprintf(out, "  sample: %lld of rank 0's %lld samples, %.0f samples/s per rank\n",
                   (long long)(first + c), (long long)n, (double)(first + c) / (now - t_start));
            fflush(out);
        }
    }
    /* The figures first: a rank that stalls while drawing is then caught in
     * this sum, whose watchdog line says "sampling". */
    const langevin_box_stats *bs = &box.stats;
    enum { T_RESTARTED, T_ENERGY, T_PROPOSED, T_ACCEPTED, T_PROPOSED_ADAPT, T_ACCEPTED_ADAPT,
           T_OUTSIDE, T_ETA, T_CHAINS, T_COUNT };
    double totals[T_COUNT] = {
        [T_RESTARTED] = (double)(sampler.restarted_nonfinite + bs->restarted_nonfinite),
        [T_PROPOSED] = (double)bs->proposed,
        [T_ACCEPTED] = (double)bs->accepted,
        [T_PROPOSED_ADAPT] = (double)bs->proposed_adapt,
        [T_ACCEPTED_ADAPT] = (double)bs->accepted_adapt,
        [T_OUTSIDE] = (double)bs->outside,
        [T_ETA] = bs->eta_sum,
        [T_CHAINS] = (double)bs->chains,
    };
    for (int64_t i = 0; i < n; i++)
        totals[T_ENERGY] += energy ? energy[i] : 0.0;
    if (rc == 0)
        rc = dist_sum_doubles(ctx, totals, T_COUNT, err);
    /* What the kernel ran with: MALA's mean step after the burn-in. */
    const double eta = mala && totals[T_CHAINS] > 0 ? totals[T_ETA] / totals[T_CHAINS]
                                                    : bp.step_size;
    const double acceptance =
        totals[T_PROPOSED] > 0 ? totals[T_ACCEPTED] / totals[T_PROPOSED] : NAN;
    double kernel_acceptance = NAN, kernel_block_acceptance = NAN;
    if (kern && kernel) { /* rank 0's chains */
        const ais_kernel_stats *ks = ais_kernel_get_stats(kernel);
        kernel_acceptance = ks->mala_proposed > 0 ? ks->mala_accepted / ks->mala_proposed : NAN;
        kernel_block_acceptance =
            ks->block_proposed > 0 ? ks->block_accepted / ks->block_proposed : NAN;
    }
    const double acceptance_adapt =
        totals[T_PROPOSED_ADAPT] > 0 ? totals[T_ACCEPTED_ADAPT] / totals[T_PROPOSED_ADAPT] : NAN;
    const double all_proposed = totals[T_PROPOSED] + totals[T_PROPOSED_ADAPT];
    const double outside = all_proposed > 0 ? totals[T_OUTSIDE] / all_proposed : 0.0;
    const char *start_text =
        start == START_CHAINS ? "the checkpoint's persistent chains 0..n-1 (/sampler/chains)"
        : start == START_UNIFORM
            ? "fresh chains uniform in the data box [value_min, value_max]^D (--init uniform)"
        : lp.start_base ? "fresh chains from exact samples of the base density (--chain-init 2), "
                          "in the model's input space"
        : lp.start ? (m.class_start.k > 0
                          ? "fresh chains from the per-class Gaussians of the training images "
                            "stored in the checkpoint (/sampler/class_start)"
                          : "fresh chains from per-class Gaussians refitted to the training "
                            "images of --data (a checkpoint older than format 5)")
                   : "fresh chains, U[-1,1] in the model's input space";
    const char *sampler_text =
        mala  ? "MALA: Langevin proposals with sigma^2 = 2 eta, accepted by the "
                "Metropolis-Hastings rule for exp(-E) on the data box"
        : ula ? "unadjusted Langevin, sigma^2 = 2 eta, no step decay, reflected at the box's "
                "faces"
        : kern ? "eval --loglik's transition at beta = 1: base-block independence moves and "
                 "one MALA step reflected at the box's faces, exact for exp(-E) on the box"
              : "the training's Langevin steps (the checkpoint's step size, noise, decay and "
                "clamping)";
    if (rc == 0) {
        const rows_column cols[] = {
            {"samples", 0, d, x, "samples in data units (rows of height x width pixels)"},
            {"energy", 0, 0, energy,
             m.base.d > 0 ? "E(x) = -logsumexp f(x) + E_base(x) of each sample"
                          : "E(x) = -logsumexp f(x) of each sample"},
            {"predicted", 1, 0, pred, "argmax f(x): the class the model sees"},
            {"confidence", 0, 0, conf, "softmax probability of the predicted class"},
        };
        const int train_kernel = !mala && !ula && !kern;
        const rows_attr attrs[] = {
            {"checkpoint", 0, cfg->ckpt},
            {"program", 0, "ebm_mpi sample"},
            {"sampler", 0, cfg->sampler},
            {"sampler_meaning", 0, sampler_text},
            {"steps", steps, NULL},
            {"step_size", train_kernel ? m.step_size : kern ? ais_kernel_get_stats(kernel)->eta : eta, NULL},
            {"noise", train_kernel ? m.noise : sqrt(2.0 * eta), NULL},
            {"step_decay", train_kernel ? m.step_decay : 1.0, NULL},
            {"clamped", train_kernel ? m.clamp_chains : 0, NULL},
            {"adapt_steps", bp.adapt_steps * mala, NULL},
            {"acceptance", mala ? acceptance : kern ? kernel_acceptance : NAN, NULL},
            {"class", cfg->class_label, NULL},
            {"seed", (double)cfg->seed, NULL},
            {"start", 0, start_text},
            {"height", m.height, NULL},
            {"width", m.width, NULL},
            {"value_min", m.value_min, NULL},
            {"value_max", m.value_max, NULL},
        };
        rc = rows_file_write(ctx, cfg->samples_out, cfg->n_samples, off, n, cols, 4, attrs,
                             (int)(sizeof attrs / sizeof attrs[0]), err);
    }
    if (rc == 0 && ctx->rank == 0) {
        if (kern)
            fprintf(out, "wrote %d samples to %s: unconditional, %d sweeps of eval --loglik's "
                   "transition (%d base-block moves of %d pixels, one reflected MALA step; eta "
                   "%.4g after a %d-sweep burn-in) from %s; mean energy %.4f",
                   cfg->n_samples, cfg->samples_out, steps, AIS_BASE_MOVES, AIS_BASE_BLOCK,
                   kernel ? ais_kernel_get_stats(kernel)->eta : 0.0, bp.adapt_steps,
                   cfg->sample_init[0] ? cfg->sample_init : "training's start",
                   totals[T_ENERGY] / cfg->n_samples);
        else if (mala || ula)
            fprintf(out, "wrote %d samples to %s: %s, %d %s steps (eta %s%.4g, sigma sqrt(2 eta)) "
                   "from %s; mean energy %.4f",
                   cfg->n_samples, cfg->samples_out,
                   cfg->class_label >= 0 ? "class-conditional" : "unconditional", steps,
                   mala ? "MALA" : "unadjusted Langevin (reflected)",
                   bp.adapt_steps > 0 ? "mean " : "", eta, cfg->sample_init[0] ? cfg->sample_init
                                                                        : "training's start",
                   totals[T_ENERGY] / cfg->n_samples);
        else
            fprintf(out, "wrote %d samples to %s: %s, %d Langevin steps (step %g, noise %g%s) from "
                   "%s; mean energy %.4f",
                   cfg->n_samples, cfg->samples_out,
                   cfg->class_label >= 0 ? "class-conditional" : "unconditional", steps,
                   m.step_size, m.noise, m.clamp_chains ? ", clamped" : "",
                   from_chains ? "the checkpoint's chains"
                   : start == START_UNIFORM ? "the data box (uniform)"
                   : lp.start               ? "class Gaussians"
                                            : "fresh chains",
                   totals[T_ENERGY] / cfg->n_samples);
        if (totals[T_RESTARTED] > 0)
            fprintf(out, "; %.0f non-finite chains restarted", totals[T_RESTARTED]);
        fprintf(out, "\n");
        if (kern && steps > 0) /* no sweep, no acceptance to tell */
            fprintf(out, "  rank 0's chains: MALA acceptance %.4f, base-block acceptance %.4f (all "
                   "sweeps)\n",
                   kernel_acceptance, kernel_block_acceptance);
        if (mala) {
            fprintf(out, "  MALA acceptance %.4f over the %d fixed-step steps", acceptance,
                   steps - bp.adapt_steps);
            if (bp.adapt_steps > 0)
                fprintf(out, " after a %d-step burn-in that tuned each chain's eta towards %.3f "
                       "(acceptance %.4f during it)",
                       bp.adapt_steps, bp.target_accept, acceptance_adapt);
            fprintf(out, "; %.2f%% of proposals outside the box (rejected)\n", 100.0 * outside);
        }
        fflush(out);
    }
    free(x), free(energy), free(conf), free(pred), free(dlogits);
    langevin_free(&sampler);
    langevin_box_free(&box);
    ais_kernel_free(kernel);
    langevin_gauss_free(&gauss);
    model_workspace_free(&ws);
    ckpt_model_free(&m);
    return ebm_pass(err, rc);
}
