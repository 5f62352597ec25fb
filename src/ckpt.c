/* ckpt.c: the checkpoint schema (docs/design.md section 3) and the resume
 * policy, through io/h5file.h. */
#define _POSIX_C_SOURCE 200809L
#include "ckpt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "core/rng.h"
#include "io/h5file.h"
#include "record.h"

/* The partial-epoch sums of train_progress, as attributes of /data_order. */
static const char *const sum_names[EPOCH_SUMS] = {
    "partial_count", "partial_loss", "partial_ce", "partial_gen",
    "partial_errors", "partial_energy_data", "partial_energy_sample"};

/* ---- writing ------------------------------------------------------------- */

/* Every layer's weight [out,in] and bias [out] of a flat buffer, under groups
 * named by `group_fmt` with the layer number ("/model/layer%d"), from rank 0. */
static int write_layers(const dist_ctx *ctx, h5file *f, const char *group_fmt,
                        const model_shape *shape, const float *flat, ebm_err *err)
{
    for (int l = 0; l < EBM_LAYERS; l++) {
        char group[64], name[80];
        snprintf(group, sizeof group, group_fmt, l);
        const int64_t wd[2] = {shape->out[l], shape->in[l]}, bd[2] = {shape->out[l], 0};
        snprintf(name, sizeof name, "%s/weight", group);
        EBM_TRY(h5file_write_all(ctx, f, name, H5FILE_F32, 2, wd,
                                 flat ? flat + shape->w_off[l] : NULL, err));
        snprintf(name, sizeof name, "%s/bias", group);
        EBM_TRY(h5file_write_all(ctx, f, name, H5FILE_F32, 1, bd,
                                 flat ? flat + shape->b_off[l] : NULL, err));
    }
    return 0;
}

/* The per-epoch history: one 1-D dataset per metrics column, from rank 0. */
static int write_history(const dist_ctx *ctx, h5file *f, const metrics_row *rows, int n,
                         ebm_err *err)
{
    size_t n_cols;
    const metrics_column *cols = metrics_columns(&n_cols);
    double *column = ebm_calloc((size_t)n, sizeof(double), "metrics history", err);
    if (!column)
        return ebm_trace(err);
    int rc = 0;
    for (size_t c = 0; c < n_cols && rc == 0; c++) {
        char name[96];
        snprintf(name, sizeof name, "/metrics/%s", cols[c].name);
        metrics_gather(rows, n, &cols[c], column);
        const int64_t dims[2] = {n, 0};
        rc = h5file_write_all(ctx, f, name, H5FILE_F64, 1, dims, column, err);
    }
    free(column);
    return ebm_pass(err, rc);
}

/* /sampler/chains, /rng/state and /data_order: each rank writes its own rows. */
static int write_rank_state(const dist_ctx *ctx, h5file *f, const ckpt_state *st, ebm_err *err)
{
    const int64_t chain_dims[2] = {st->n_chains_total, st->shape->d};
    EBM_TRY(h5file_write_rows(f, "/sampler/chains", H5FILE_F32, 2, chain_dims, st->first_chain,
                              st->n_chains, st->chains, err));
    const int64_t rng_dims[2] = {ctx->size, EBM_RNG_WORDS};
    EBM_TRY(h5file_write_rows(f, "/rng/state", H5FILE_U64, 2, rng_dims, ctx->rank, 1,
                              st->rng_state, err));
    EBM_TRY(h5file_attr_write_string(
        f, "/sampler", "meaning",
        st->n_chains_total > 0
            ? "persistent Langevin chains, row = global chain id, in the model's input space"
            : "no persistent chains: trained with fresh chains every step (--buffer 0)",
        err));
    EBM_TRY(h5file_attr_write_string(f, "/rng", "generator",
                                     "xoshiro256** (row r: rank r's stream)", err));
    if (st->mala_step) {
        const int64_t step_dims[2] = {ctx->size, 0};
        EBM_TRY(h5file_write_rows(f, "/sampler/mala_step", H5FILE_F64, 1, step_dims, ctx->rank,
                                  1, st->mala_step, err));
        EBM_TRY(h5file_attr_write_string(
            f, "/sampler/mala_step", "meaning",
            "row r: rank r's MALA leapfrog step h after its last draw (--train-sampler mala, "
            "eta = h^2 / 2, tuned between draws), in the model's input space",
            err));
    }
    /* Shards differ in size by one: rows are padded with -1. */
    int32_t *row = ebm_calloc((size_t)st->n_local_max, sizeof(int32_t), "data order", err);
    if (!row)
        return ebm_trace(err);
    for (int64_t i = 0; i < st->n_local_max; i++)
        row[i] = i < st->n_local ? st->order[i] : -1;
    const int64_t order_dims[2] = {ctx->size, st->n_local_max};
    const int rc = h5file_write_rows(f, "/data_order", H5FILE_I32, 2, order_dims, ctx->rank, 1,
                                     row, err);
    free(row);
    EBM_TRY(rc);
    const train_progress *pr = st->progress;
    EBM_TRY(h5file_attr_write_string(f, "/data_order", "meaning",
                                     "row r: rank r's order of its train shard this epoch "
                                     "(local indices, -1 = padding)",
                                     err));
    EBM_TRY(h5file_attr_write_int(f, "/data_order", "epoch", pr->epoch, err));
    EBM_TRY(h5file_attr_write_int(f, "/data_order", "step_in_epoch", pr->step, err));
    EBM_TRY(h5file_attr_write_int(f, "/data_order", "skipped_in_epoch", pr->skipped_epoch, err));
    EBM_TRY(h5file_attr_write_int(f, "/data_order", "skipped_in_a_row", pr->skipped_in_a_row,
                                  err));
    for (int i = 0; i < EPOCH_SUMS; i++)
        EBM_TRY(h5file_attr_write_double(f, "/data_order", sum_names[i], pr->sums[i], err));
    return 0;
}

/* /sampler/class_start: cumulative_share [K], mean [K, D], chol [K, D*D],
 * from rank 0, in the form start_chains uses (so a reader draws the very
 * starts training drew from). */
static int write_class_start(const dist_ctx *ctx, h5file *f, const langevin_gauss *g,
                             ebm_err *err)
{
    const int k = g->k, d = g->d;
    const int64_t cum_dims[2] = {k, 0}, mean_dims[2] = {k, d}, chol_dims[2] = {k, (int64_t)d * d};
    EBM_TRY(h5file_write_all(ctx, f, "/sampler/class_start/cumulative_share", H5FILE_F64, 1,
                             cum_dims, g->cum, err));
    EBM_TRY(h5file_write_all(ctx, f, "/sampler/class_start/mean", H5FILE_F32, 2, mean_dims,
                             g->mean, err));
    EBM_TRY(h5file_write_all(ctx, f, "/sampler/class_start/chol", H5FILE_F32, 2, chol_dims,
                             g->chol, err));
    char meaning[400];
    snprintf(meaning, sizeof meaning,
             "per-class Gaussians of the training images in the model's input space: class c "
             "drawn with probability cumulative_share[c] - cumulative_share[c-1], then "
             "x = mean[c] + L z, z ~ N(0, I), L = chol[c] (row-major lower triangle), "
             "L L^T = covariance + %g I",
             LANGEVIN_GAUSS_RIDGE);
    return h5file_attr_write_string(f, "/sampler/class_start", "meaning", meaning, err);
}

static int write_attributes(h5file *f, const ckpt_state *st, ebm_err *err)
{
    const train_progress *pr = st->progress;
    const struct {
        const char *name;
        int64_t value;
    } ints[] = {
        {"epoch", pr->epoch},          {"step_in_epoch", pr->step},
        {"global_step", pr->global_step}, {"skipped_steps", pr->skipped_total},
        {"rollbacks", pr->rollbacks},
        {"best_epoch", pr->best_epoch}, {"height", st->height},
        {"width", st->width},
    };
    const struct {
        const char *name;
        double value;
    } doubles[] = {
        {"best_val_error", pr->best_val_error}, {"best_val_loss", pr->best_val_loss},
        {"input_scale", st->map.scale},         {"input_shift", st->map.shift},
        {"value_min", st->value_min},           {"value_max", st->value_max},
    };
    EBM_TRY(h5file_attr_write_int(f, "/", "format_version", EBM_CKPT_FORMAT_VERSION, err));
    run_record record;
    record_build(&record, st->cfg, st->run);
    EBM_TRY(h5file_attr_write_list(f, "/", record.attrs, record.n, err));
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        EBM_TRY(h5file_attr_write_int(f, "/", ints[i].name, ints[i].value, err));
    for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; i++)
        EBM_TRY(h5file_attr_write_double(f, "/", doubles[i].name, doubles[i].value, err));
    return 0;
}

static int write_contents(const dist_ctx *ctx, h5file *f, const ckpt_state *st, ebm_err *err)
{
    /* /model: the weights to use (the average with --ema). */
    EBM_TRY(write_layers(ctx, f, "/model/layer%d", st->shape, st->ema ? st->ema : st->params,
                         err));
    fault_checkpoint_midway(ctx->rank); /* tests only: a kill half-way through */
    /* Adamax moments in the model's layout, one tree per moment. */
    EBM_TRY(write_layers(ctx, f, "/optimizer/layer%d/exp_avg", st->shape, st->exp_avg, err));
    EBM_TRY(write_layers(ctx, f, "/optimizer/layer%d/exp_inf", st->shape, st->exp_inf, err));
    if (st->ema) {
        EBM_TRY(write_layers(ctx, f, "/optimizer/layer%d/online", st->shape, st->params, err));
        char meaning[200];
        snprintf(meaning, sizeof meaning,
                 "the weights' exponential moving average, decay %g, bias-corrected (--ema); "
                 "the trained weights: /optimizer/layer{i}/online",
                 st->cfg->ema);
        EBM_TRY(h5file_attr_write_string(f, "/model", "meaning", meaning, err));
    }
    EBM_TRY(h5file_attr_write_int(f, "/optimizer", "step", st->adam_step, err));
    if (st->base) {
        const base_density *b = st->base;
        const int64_t dims[2] = {b->d, b->pieces + 1};
        EBM_TRY(h5file_write_all(ctx, f, "/base/log_density", H5FILE_F64, 2, dims,
                                 ctx->rank == 0 ? b->log_p : NULL, err));
        EBM_TRY(h5file_attr_write_double(f, "/base/log_density", "lo", b->lo, err));
        EBM_TRY(h5file_attr_write_double(f, "/base/log_density", "hi", b->hi, err));
        EBM_TRY(h5file_attr_write_string(
            f, "/base/log_density", "meaning",
            "independent-pixel base density in the energy, E(x) = -LSE f(x) - sum_j log p_j(x_j): "
            "row j holds log p_j at pieces + 1 equally spaced knots over [lo, hi] (input space), "
            "linear in between, normalised",
            err));
    }
    EBM_TRY(write_rank_state(ctx, f, st, err));
    if (st->class_start)
        EBM_TRY(write_class_start(ctx, f, st->class_start, err));
    EBM_TRY(write_history(ctx, f, st->history, st->progress->epoch, err));
    EBM_TRY(write_attributes(f, st, err));
    /* Last, so that a reader can tell a finished file from an interrupted one. */
    EBM_TRY(h5file_attr_write_int(f, "/", "complete", 1, err));
    return h5file_flush(f, err);
}

typedef struct {
    const dist_ctx *ctx;
    const ckpt_state *st;
} write_job;

/* h5file_write_atomic's writer. */
static int write_job_run(h5file *f, void *data, ebm_err *err)
{
    const write_job *job = data;
    return write_contents(job->ctx, f, job->st, err);
}

int ckpt_write(const dist_ctx *ctx, const char *path, const ckpt_state *st, ebm_err *err)
{
    write_job job = {ctx, st};
    return ebm_pass(err, h5file_write_atomic(ctx, path, write_job_run, &job, err));
}

/* ---- reading ------------------------------------------------------------- */

/* Collective. Opens a checkpoint and checks it is complete and of a format
 * this program reads (1 to EBM_CKPT_FORMAT_VERSION); *version gets it. */
static int open_checkpoint(const dist_ctx *ctx, const char *path, h5file **f, int *version,
                           ebm_err *err)
{
    EBM_TRY(h5file_open(ctx, path, "checkpoint", 0, f, err));
    double complete = 0, v = -1;
    int rc = 0;
    if (h5file_attr_read_double(*f, "/", "complete", &complete, NULL) || complete != 1)
        rc = ebm_fail(err,
                      "checkpoint '%s' is incomplete (no 'complete' attribute): it was not "
                      "finished or is not an ebm_mpi checkpoint",
                      path);
    else if (h5file_attr_read_double(*f, "/", "format_version", &v, NULL) || v != (int)v ||
             v < 1 || v > EBM_CKPT_FORMAT_VERSION)
        rc = ebm_fail(err, "checkpoint '%s' has format version %g, this program reads 1 to %d",
                      path, v, EBM_CKPT_FORMAT_VERSION);
    *version = (int)v;
    if (rc) {
        h5file_close(*f, NULL);
        *f = NULL;
    }
    return rc;
}

/* A root attribute and where its value goes. */
typedef struct {
    const char *name;
    double *value;
} attr_field;

/* Reads every field; the first missing or non-numeric one is the error,
 * naming the attribute and the file. */
static int read_fields(h5file *f, const attr_field *fields, size_t n, ebm_err *err)
{
    for (size_t i = 0; i < n; i++)
        EBM_TRY(h5file_attr_read_double(f, "/", fields[i].name, fields[i].value, err));
    return 0;
}

/* ---- what a checkpoint may hold: every value is checked where it enters --- */

/* `what` (an attribute) of `path` must be a whole number in [lo, hi]. */
static int check_whole(const char *path, const char *what, double v, double lo, double hi,
                       ebm_err *err)
{
    if (!isfinite(v) || v != floor(v) || v < lo || v > hi)
        return ebm_fail(err, "checkpoint '%s': %s = %g is not a whole number in [%g, %g]", path,
                        what, v, lo, hi);
    return 0;
}

/* `what` of `path` must be a finite number in [lo, hi]. */
static int check_range(const char *path, const char *what, double v, double lo, double hi,
                       ebm_err *err)
{
    if (!isfinite(v) || v < lo || v > hi)
        return ebm_fail(err, "checkpoint '%s': %s = %g is outside [%g, %g]", path, what, v, lo,
                        hi);
    return 0;
}

/* Every value of a float dataset finite (and >= 0 when nonneg). */
static int check_floats(const char *path, const char *what, const float *v, size_t n,
                        int nonneg, ebm_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]) || (nonneg && v[i] < 0))
            return ebm_fail(err, "checkpoint '%s': %s[%zu] = %g is %s", path, what, i,
                            (double)v[i], nonneg ? "not a finite number >= 0" : "not finite");
    return 0;
}

/* The hyperparameter attributes present, against the ranges the command line
 * accepts for them (an attribute the option table does not know is not
 * checked here). */
static int check_hyperparameters(h5file *f, const char *path, ebm_err *err)
{
    size_t n_opts;
    const cli_option *opts = cli_options(&n_opts);
    for (size_t i = 0; i < n_opts; i++) {
        const cli_option *o = &opts[i];
        double v;
        if (!o->hyper || (o->type != OPT_INT && o->type != OPT_DOUBLE && o->type != OPT_SEED) ||
            h5file_attr_read_double(f, "/", o->name, &v, NULL))
            continue;
        char what[80];
        snprintf(what, sizeof what, "--%s", o->name);
        if (o->type == OPT_DOUBLE)
            EBM_TRY(check_range(path, what, v, o->min, o->max, err));
        else
            EBM_TRY(check_whole(path, what, v, o->min, o->max, err));
    }
    return 0;
}

/* Shape of /model/layer{l}/weight, which must be 2-D. */
static int weight_dims(h5file *f, int layer, int64_t dims[2])
{
    char name[48];
    snprintf(name, sizeof name, "/model/layer%d/weight", layer);
    int rank;
    h5file_class cls;
    if (!h5file_exists(f, name) || h5file_dims(f, name, &rank, dims, &cls, NULL))
        return -1;
    return rank == 2 ? 0 : -1;
}

/* Every layer under `group_fmt` into flat; rows on every rank when
 * all_ranks, else on rank 0 only (the optimizer state). */
static int read_layers(const dist_ctx *ctx, h5file *f, const char *group_fmt,
                       const model_shape *shape, float *flat, int all_ranks, ebm_err *err)
{
    for (int l = 0; l < EBM_LAYERS; l++) {
        char group[64], name[80];
        snprintf(group, sizeof group, group_fmt, l);
        const int64_t wd[2] = {shape->out[l], shape->in[l]};
        const int64_t rows = (all_ranks || ctx->rank == 0) ? wd[0] : 0;
        snprintf(name, sizeof name, "%s/weight", group);
        EBM_TRY(h5file_read_rows(f, name, H5FILE_F32, 2, wd, 0, rows,
                                 flat ? flat + shape->w_off[l] : NULL, err));
        snprintf(name, sizeof name, "%s/bias", group);
        EBM_TRY(h5file_read_rows(f, name, H5FILE_F32, 1, wd, 0, rows,
                                 flat ? flat + shape->b_off[l] : NULL, err));
    }
    return 0;
}

/* /base/log_density into m->base: its shape, box and values checked, the
 * density normalised again (so the file's rounding cannot leave it off 1). */
static int read_base(const dist_ctx *ctx, h5file *f, const char *path, ckpt_model *m,
                     ebm_err *err)
{
    (void)ctx;
    int rank = 0;
    int64_t dims[2] = {0, 0};
    h5file_class cls;
    double lo = 0, hi = 0;
    if (h5file_dims(f, "/base/log_density", &rank, dims, &cls, NULL) || rank != 2 ||
        dims[0] != m->shape.d || dims[1] < 2 || dims[1] > 4097 || cls != H5FILE_FLOAT)
        return ebm_fail(err, "checkpoint '%s': /base/log_density is not a %d x (pieces + 1) "
                             "float array", path, m->shape.d);
    EBM_TRY(h5file_attr_read_double(f, "/base/log_density", "lo", &lo, err));
    EBM_TRY(h5file_attr_read_double(f, "/base/log_density", "hi", &hi, err));
    if (!isfinite(lo) || !isfinite(hi) || !(hi > lo))
        return ebm_fail(err,
                        "checkpoint '%s': /base/log_density's box attributes lo = %g, hi = %g "
                        "are not finite with hi > lo",
                        path, lo, hi);
    EBM_TRY(base_alloc(&m->base, m->shape.d, (int)dims[1] - 1, (float)lo, (float)hi, err));
    EBM_TRY(h5file_read_rows(f, "/base/log_density", H5FILE_F64, 2, dims, 0, dims[0],
                             m->base.log_p, err));
    const size_t knots = (size_t)dims[1];
    for (int j = 0; j < m->shape.d; j++) {
        double *a = m->base.log_p + (size_t)j * knots;
        for (size_t k = 0; k < knots; k++)
            if (!isfinite(a[k]) || fabs(a[k]) > 1e6)
                return ebm_fail(err, "checkpoint '%s': /base/log_density[%d, %zu] = %g", path, j,
                                k, a[k]);
        base_set_pixel(&m->base, j, a); /* in place: a is read before it is written */
    }
    return 0;
}

/* /sampler/class_start into m->class_start, checked: finite means and
 * factors, a positive diagonal, shares rising to 1. */
static int read_class_start(const dist_ctx *ctx, h5file *f, const char *path, ckpt_model *m,
                            ebm_err *err)
{
    (void)ctx;
    const int k = m->shape.k, d = m->shape.d;
    langevin_gauss *g = &m->class_start;
    g->cum = ebm_calloc((size_t)k, sizeof(double), "class Gaussians", err);
    g->mean = ebm_calloc((size_t)k * d, sizeof(float), "class Gaussians", err);
    g->chol = ebm_calloc((size_t)k * d * d, sizeof(float), "class Gaussians", err);
    if (!g->cum || !g->mean || !g->chol)
        return ebm_trace(err);
    const int64_t cum_dims[2] = {k, 0}, mean_dims[2] = {k, d}, chol_dims[2] = {k, (int64_t)d * d};
    if (h5file_read_rows(f, "/sampler/class_start/cumulative_share", H5FILE_F64, 1, cum_dims, 0,
                         k, g->cum, NULL) ||
        h5file_read_rows(f, "/sampler/class_start/mean", H5FILE_F32, 2, mean_dims, 0, k,
                         g->mean, NULL) ||
        h5file_read_rows(f, "/sampler/class_start/chol", H5FILE_F32, 2, chol_dims, 0, k,
                         g->chol, NULL))
        return ebm_fail(err,
                        "checkpoint '%s': /sampler/class_start does not hold %d classes of %d "
                        "inputs (cumulative_share [%d], mean [%d, %d], chol [%d, %d])",
                        path, k, d, k, k, d, k, d * d);
    EBM_TRY(check_floats(path, "/sampler/class_start/mean", g->mean, (size_t)k * d, 0, err));
    EBM_TRY(check_floats(path, "/sampler/class_start/chol", g->chol, (size_t)k * d * d, 0, err));
    for (int c = 0; c < k; c++) {
        const double prev = c > 0 ? g->cum[c - 1] : 0.0;
        if (!(g->cum[c] >= prev && g->cum[c] <= 1.0) || (c == k - 1 && g->cum[c] != 1.0))
            return ebm_fail(err,
                            "checkpoint '%s': /sampler/class_start/cumulative_share[%d] = %g "
                            "does not rise from %g to at most 1 (ending at 1)",
                            path, c, g->cum[c], prev);
        for (int j = 0; j < d; j++)
            if (!(g->chol[((size_t)c * d + j) * d + j] > 0))
                return ebm_fail(err,
                                "checkpoint '%s': /sampler/class_start/chol of class %d has "
                                "diagonal %d = %g, not above 0",
                                path, c, j, (double)g->chol[((size_t)c * d + j) * d + j]);
    }
    g->k = k, g->d = d;
    return 0;
}

/* The hyperparameters of the run record the file holds, as text. */
static void read_hyperparameters(h5file *f, char *out, size_t len)
{
    size_t n_opts, used = 0;
    const cli_option *opts = cli_options(&n_opts);
    out[0] = '\0';
    for (size_t i = 0; i < n_opts && used < len; i++) {
        const cli_option *o = &opts[i];
        char value[64] = "";
        double v;
        if (!o->hyper || !h5file_attr_exists(f, "/", o->name))
            continue;
        if (o->type == OPT_INT || o->type == OPT_DOUBLE || o->type == OPT_SEED) {
            if (h5file_attr_read_double(f, "/", o->name, &v, NULL))
                continue;
            /* The shortest of 15 or 17 digits that reads back as v. */
            snprintf(value, sizeof value, "%.15g", v);
            if (strtod(value, NULL) != v)
                snprintf(value, sizeof value, "%.17g", v);
        } else {
            h5file_attr_read_string(f, "/", o->name, value, sizeof value);
        }
        const int n = snprintf(out + used, len - used, "--%s %s\n", o->name, value);
        if (n < 0 || (size_t)n >= len - used) {
            out[used] = '\0'; /* the last whole line stays */
            break;
        }
        used += (size_t)n;
    }
}

static int read_model_contents(const dist_ctx *ctx, h5file *f, const char *path, ckpt_model *m,
                               ebm_err *err)
{
    int64_t first[2], last[2];
    if (weight_dims(f, 0, first) || weight_dims(f, EBM_LAYERS - 1, last))
        return ebm_fail(err, "checkpoint '%s' has no valid /model/layer{0..%d}/weight", path,
                        EBM_LAYERS - 1);
    /* The sizes the command line and the data layout allow. */
    if (first[1] < 1 || first[1] > 1 << 24 || first[0] < 1 || first[0] > 65536 || last[0] < 1 ||
        last[0] > 1000000)
        return ebm_fail(err,
                        "checkpoint '%s': /model has %lld inputs, width %lld, %lld classes: "
                        "not a model this program builds",
                        path, (long long)first[1], (long long)first[0], (long long)last[0]);
    model_shape_init(&m->shape, (int)first[1], (int)first[0], (int)last[0]);
    m->params = ebm_calloc(m->shape.n_params, sizeof(float), "model parameters", err);
    if (!m->params)
        return ebm_trace(err);
    if (read_layers(ctx, f, "/model/layer%d", &m->shape, m->params, 1, NULL))
        return ebm_fail(err, "checkpoint '%s': /model does not match a %d-%d-%d MLP", path,
                        m->shape.d, m->shape.h, m->shape.k);
    EBM_TRY(check_floats(path, "/model", m->params, m->shape.n_params, 0, err));
    EBM_TRY(check_hyperparameters(f, path, err));
    double scale = 1, shift = 0, epoch = 0;
    const attr_field mapping[] = {{"input_scale", &scale},
                                  {"input_shift", &shift},
                                  {"value_min", &m->value_min},
                                  {"value_max", &m->value_max},
                                  {"epoch", &epoch}};
    EBM_TRY(read_fields(f, mapping, sizeof mapping / sizeof mapping[0], err));
    EBM_TRY(check_range(path, "input_scale", fabs(scale), 1e-30, 1e30, err));
    EBM_TRY(check_range(path, "input_shift", shift, -1e30, 1e30, err));
    EBM_TRY(check_range(path, "value_min", m->value_min, -1e30, 1e30, err));
    EBM_TRY(check_range(path, "value_max", m->value_max, -1e30, 1e30, err));
    if (!(m->value_max > m->value_min))
        return ebm_fail(err, "checkpoint '%s': value_max = %g is not above value_min = %g", path,
                        m->value_max, m->value_min);
    EBM_TRY(check_whole(path, "epoch", epoch, 0, 1e6, err));
    m->map.scale = (float)scale, m->map.shift = (float)shift;
    m->epoch = (int)epoch;
    double steps = 0, clamp = 0, height = 0, width = 0;
    const attr_field training[] = {{"langevin-steps", &steps},     {"clamp_chains", &clamp},
                                   {"step-size", &m->step_size},   {"noise", &m->noise},
                                   {"gen-weight", &m->gen_weight}, {"energy-reg", &m->energy_reg}};
    EBM_TRY(read_fields(f, training, sizeof training / sizeof training[0], err));
    EBM_TRY(check_whole(path, "clamp_chains", clamp, 0, 1, err));
    h5file_attr_read_double(f, "/", "height", &height, NULL);
    h5file_attr_read_double(f, "/", "width", &width, NULL);
    EBM_TRY(check_whole(path, "height", height, 0, 1 << 24, err));
    EBM_TRY(check_whole(path, "width", width, 0, 1 << 24, err));
    if (height * width != 0 && height * width != m->shape.d)
        return ebm_fail(err, "checkpoint '%s': height x width = %g x %g, the model has %d inputs",
                        path, height, width, m->shape.d);
    m->langevin_steps = (int)steps, m->clamp_chains = (int)clamp;
    /* Absent before the options existed: U[-1,1] starts, constant steps.
     * Present, they must read as numbers (ranges: check_hyperparameters). */
    double chain_init = 0;
    m->step_decay = 1;
    if (h5file_attr_exists(f, "/", "chain-init"))
        EBM_TRY(h5file_attr_read_double(f, "/", "chain-init", &chain_init, err));
    if (h5file_attr_exists(f, "/", "step-decay"))
        EBM_TRY(h5file_attr_read_double(f, "/", "step-decay", &m->step_decay, err));
    m->chain_init = (int)chain_init;
    h5file_attr_read_string(f, "/", "data_checksum_fnv1a64", m->data_checksum,
                            sizeof m->data_checksum);
    m->height = (int)height, m->width = (int)width;
    int64_t chain_dims[2] = {0, 0};
    int chain_rank = 0;
    h5file_class cls;
    if (h5file_exists(f, "/sampler/chains") &&
        h5file_dims(f, "/sampler/chains", &chain_rank, chain_dims, &cls, NULL) == 0 &&
        chain_rank == 2 && chain_dims[1] == m->shape.d)
        m->n_chains = chain_dims[0];
    if (h5file_exists(f, "/base/log_density"))
        EBM_TRY(read_base(ctx, f, path, m, err));
    if (h5file_exists(f, "/sampler/class_start"))
        EBM_TRY(read_class_start(ctx, f, path, m, err));
    return 0;
}

int ckpt_read_model(const dist_ctx *ctx, const char *path, ckpt_model *m, ebm_err *err)
{
    memset(m, 0, sizeof *m);
    h5file *f;
    int version = 0;
    EBM_TRY(open_checkpoint(ctx, path, &f, &version, err));
    m->format_version = version;
    int rc = read_model_contents(ctx, f, path, m, err);
    if (rc == 0)
        read_hyperparameters(f, m->hyperparameters, sizeof m->hyperparameters);
    h5file_close(f, NULL);
    if (rc)
        ckpt_model_free(m);
    return ebm_pass(err, rc);
}

void ckpt_model_free(ckpt_model *m)
{
    free(m->params);
    m->params = NULL;
    base_free(&m->base);
    langevin_gauss_free(&m->class_start);
}

int ckpt_read_chains(const dist_ctx *ctx, const char *path, const ckpt_model *m, int64_t first,
                     int64_t count, float *out, ebm_err *err)
{
    h5file *f;
    int version;
    EBM_TRY(open_checkpoint(ctx, path, &f, &version, err));
    const int64_t dims[2] = {m->n_chains, m->shape.d};
    const int rc = h5file_read_rows(f, "/sampler/chains", H5FILE_F32, 2, dims, first, count, out,
                                    err);
    h5file_close(f, NULL);
    return ebm_pass(err, rc);
}

/* ---- the resume policy ------------------------------------------------------ */

/* The first hyperparameter (other than --epochs) whose stored value differs
 * from cfg's: the options a resumed run may change are not hyperparameters,
 * except --epochs. */
static int compare_hyperparameters(h5file *f, const char *path, const ebm_config *cfg,
                                   ebm_err *err)
{
    size_t n_opts;
    const cli_option *opts = cli_options(&n_opts);
    for (size_t i = 0; i < n_opts; i++) {
        const cli_option *o = &opts[i];
        if (!o->hyper || strcmp(o->name, "epochs") == 0)
            continue;
        char stored[64] = "", current[64];
        const char *s = cli_option_string(o, cfg);
        if (s) {
            h5file_attr_read_string(f, "/", o->name, stored, sizeof stored);
            if (!stored[0] && strcmp(o->name, "lr-schedule") == 0)
                snprintf(stored, sizeof stored, "const"); /* files before format 4 */
            if (!stored[0] && strcmp(o->name, "base") == 0)
                snprintf(stored, sizeof stored, "none"); /* files before format 6 */
            if (!stored[0] && strcmp(o->name, "train-sampler") == 0)
                snprintf(stored, sizeof stored, "langevin"); /* files before the option */
            snprintf(current, sizeof current, "%s", s);
        } else {
            double v;
            if (h5file_attr_read_double(f, "/", o->name, &v, NULL) == 0)
                snprintf(stored, sizeof stored, "%.17g", v);
            else if (h5file_attr_exists(f, "/", o->name))
                snprintf(stored, sizeof stored, "(not a number)"); /* never a default */
            else if (strcmp(o->name, "chain-init") == 0)
                snprintf(stored, sizeof stored, "0"); /* files before the option */
            else if (strcmp(o->name, "step-decay") == 0)
                snprintf(stored, sizeof stored, "1"); /* files before the option */
            else if (!strcmp(o->name, "warmup") || !strcmp(o->name, "lr-floor") ||
                     !strcmp(o->name, "ema"))
                snprintf(stored, sizeof stored, "0"); /* files before format 4 */
            else if (!strcmp(o->name, "train-dequant"))
                snprintf(stored, sizeof stored, "0"); /* files before format 6 */
            else if (!strcmp(o->name, "base-moves"))
                snprintf(stored, sizeof stored, "4"); /* files before the option */
            else if (!strcmp(o->name, "base-block"))
                snprintf(stored, sizeof stored, "2"); /* files before the option */
            snprintf(current, sizeof current, "%.17g", cli_option_number(o, cfg));
        }
        if (strcmp(stored, current) != 0)
            return ebm_fail(err,
                            "cannot resume from '%s': it was trained with --%s %s, this run "
                            "has --%s %s (only --epochs, --threads, --checkpoint-every, --overlap "
                            "and --stall-timeout may change on resume; --overwrite starts "
                            "afresh instead)",
                            path, o->name, stored[0] ? stored : "(missing)", o->name, current);
    }
    return 0;
}

static int check_data_checksum(h5file *f, const char *path, const run_info *run, ebm_err *err)
{
    char stored[24] = "", current[24];
    snprintf(current, sizeof current, "%016llx", (unsigned long long)run->data_checksum);
    h5file_attr_read_string(f, "/", "data_checksum_fnv1a64", stored, sizeof stored);
    if (strcmp(stored, current) != 0)
        return ebm_fail(err,
                        "cannot resume from '%s': it was trained on data with checksum %s, "
                        "'%s' has %s",
                        path, stored[0] ? stored : "(missing)", run->data_path, current);
    return 0;
}

/* Where training stood, from the root attributes. */
static int read_progress(h5file *f, int version, ckpt_resume *r, double *step_in_epoch,
                         ebm_err *err)
{
    double world = 0, epoch = 0, global_step = 0, best_epoch = 0, skipped = 0;
    train_progress *pr = &r->progress;
    memset(pr, 0, sizeof *pr);
    const attr_field fields[] = {{"world_size", &world},
                                 {"epoch", &epoch},
                                 {"step_in_epoch", step_in_epoch},
                                 {"global_step", &global_step},
                                 {"best_epoch", &best_epoch},
                                 {"best_val_error", &pr->best_val_error},
                                 {"best_val_loss", &pr->best_val_loss},
                                 {"skipped_steps", &skipped}};
    EBM_TRY(read_fields(f, fields, sizeof fields / sizeof fields[0], err));
    const char *path = h5file_path(f);
    EBM_TRY(check_whole(path, "world_size", world, 1, 1 << 24, err));
    EBM_TRY(check_whole(path, "epoch", epoch, 0, 1e6, err));
    /* Up to steps_per_epoch: a stop during an epoch's last step is written
     * after it and before the epoch's end (validation, metrics), which the
     * resumed run then does first. */
    EBM_TRY(check_whole(path, "step_in_epoch", *step_in_epoch, 0, r->steps_per_epoch, err));
    EBM_TRY(check_whole(path, "global_step", global_step, 0, 9007199254740992.0, err));
    EBM_TRY(check_whole(path, "skipped_steps", skipped, 0, global_step, err));
    EBM_TRY(check_whole(path, "best_epoch", best_epoch, 0, epoch, err));
    if (best_epoch > 0) {
        EBM_TRY(check_range(path, "best_val_error", pr->best_val_error, 0, 1, err));
        if (isnan(pr->best_val_loss))
            return ebm_fail(err, "checkpoint '%s': best_val_loss is NaN", path);
    }
    r->world_size = (int)world;
    pr->epoch = (int)epoch;
    pr->global_step = (int64_t)global_step;
    pr->best_epoch = (int)best_epoch;
    pr->skipped_total = (int64_t)skipped;
    /* Format 3 counts rollbacks; older files had none. */
    if (version >= 3) {
        double rollbacks = 0;
        EBM_TRY(h5file_attr_read_double(f, "/", "rollbacks", &rollbacks, err));
        EBM_TRY(check_whole(path, "rollbacks", rollbacks, 0, EBM_MAX_ROLLBACKS, err));
        pr->rollbacks = (int)rollbacks;
    }
    return 0;
}

/* The exact position inside the epoch, written by as many ranks as this run:
 * this rank's random stream and data order, and the epoch's sums so far.
 * The order check is rank-local: the caller agrees on the result. */
static int read_position(const dist_ctx *ctx, h5file *f, const char *path, ckpt_resume *r,
                         ebm_err *err)
{
    train_progress *pr = &r->progress;
    const int64_t rng_dims[2] = {ctx->size, EBM_RNG_WORDS};
    EBM_TRY(h5file_read_rows(f, "/rng/state", H5FILE_U64, 2, rng_dims, ctx->rank, 1,
                             r->rng_state, err));
    uint64_t any = 0;
    for (int i = 0; i < EBM_RNG_WORDS; i++)
        any |= r->rng_state[i];
    if (!any) /* xoshiro's one invalid state: it would draw zeros forever */
        return ebm_fail(err, "checkpoint '%s': /rng/state row %d is all zero", path, ctx->rank);
    int rank = 0;
    int64_t od[2] = {0, 0};
    h5file_class cls;
    EBM_TRY(h5file_dims(f, "/data_order", &rank, od, &cls, err));
    double skipped_epoch = 0, in_a_row = 0;
    for (int i = 0; i < EPOCH_SUMS; i++)
        EBM_TRY(h5file_attr_read_double(f, "/data_order", sum_names[i], &pr->sums[i], err));
    EBM_TRY(h5file_attr_read_double(f, "/data_order", "skipped_in_epoch", &skipped_epoch, err));
    EBM_TRY(h5file_attr_read_double(f, "/data_order", "skipped_in_a_row", &in_a_row, err));
    int rc = 0;
    for (int i = 0; i < EPOCH_SUMS; i++)
        EBM_TRY(check_range(path, sum_names[i], pr->sums[i], -1e300, 1e300, err));
    EBM_TRY(check_whole(path, "partial_count", pr->sums[EPOCH_COUNT], 0, 9007199254740992.0, err));
    EBM_TRY(check_whole(path, "skipped_in_epoch", skipped_epoch, 0, 1e9, err));
    EBM_TRY(check_whole(path, "skipped_in_a_row", in_a_row, 0, 1e9, err));
    pr->skipped_epoch = (int64_t)skipped_epoch;
    pr->skipped_in_a_row = (int)in_a_row;
    if (rank != 2 || od[0] != ctx->size || od[1] < r->n_local)
        return ebm_fail(err, "'%s': cannot read /data_order", path);
    int32_t *row = ebm_calloc((size_t)od[1], sizeof(int32_t), "data order", err);
    if (!row)
        return ebm_trace(err);
    rc = h5file_read_rows(f, "/data_order", H5FILE_I32, 2, od, ctx->rank, 1, row, err);
    for (int64_t i = 0; rc == 0 && i < r->n_local; i++) {
        if (row[i] < 0 || row[i] >= r->n_local)
            rc = ebm_fail(err, "checkpoint '%s': /data_order row %d is corrupt", path, ctx->rank);
        else
            r->order[i] = row[i];
    }
    free(row);
    return ebm_pass(err, rc);
}

/* The history's columns; those a format newer than the file's introduced
 * read as NaN (not measured). */
static int read_history(h5file *f, const char *path, int version, int n, metrics_row *rows,
                        ebm_err *err)
{
    size_t n_cols;
    const metrics_column *cols = metrics_columns(&n_cols);
    double *column = ebm_calloc((size_t)n, sizeof(double), "metrics history", err);
    if (!column)
        return ebm_trace(err);
    int rc = 0;
    for (size_t c = 0; c < n_cols && rc == 0; c++) {
        char name[96];
        snprintf(name, sizeof name, "/metrics/%s", cols[c].name);
        const int64_t dims[2] = {n, 0};
        if (cols[c].since > version)
            for (int i = 0; i < n; i++)
                column[i] = NAN;
        else
            rc = h5file_read_rows(f, name, H5FILE_F64, 1, dims, 0, n, column, NULL);
        if (rc == 0)
            metrics_scatter(rows, n, &cols[c], column);
    }
    free(column);
    if (rc)
        return ebm_fail(err, "'%s': cannot read /metrics", path);
    return 0;
}

/* Format 7's /sampler/mala_step, when this run uses the kernel and the file
 * has it (a file without it: the caller keeps --step-size). Another number
 * of ranks: every rank continues from rank 0's step. Collective. */
static int read_mala_step(const dist_ctx *ctx, h5file *f, const char *path, int version,
                          ckpt_resume *r, ebm_err *err)
{
    r->has_mala_step = 0;
    if (!r->want_mala_step || version < 7 || !h5file_exists(f, "/sampler/mala_step"))
        return 0;
    const int64_t dims[2] = {r->world_size, 0};
    const int64_t row = r->same_world ? ctx->rank : 0;
    EBM_TRY(h5file_read_rows(f, "/sampler/mala_step", H5FILE_F64, 1, dims, row, 1, &r->mala_step,
                             err));
    /* Above MALA_STEP_MAX the reflections at the walls lose the position
     * to rounding (the box is a few units wide); the tuning never gets
     * near it, as acceptance falls long before. */
    const double MALA_STEP_MAX = 1e6;
    int rc = 0;
    if (!isfinite(r->mala_step) || r->mala_step <= 0 || r->mala_step > MALA_STEP_MAX)
        rc = ebm_fail(err, "checkpoint '%s': /sampler/mala_step row %lld is %g, not in (0, %g]",
                      path, (long long)row, r->mala_step, MALA_STEP_MAX);
    EBM_TRY(dist_agree(ctx, rc, err));
    r->has_mala_step = 1;
    return 0;
}

static int read_resume_contents(const dist_ctx *ctx, h5file *f, const char *path,
                                int version, const ebm_config *cfg, const model_shape *shape,
                                const run_info *run, ckpt_resume *r, ebm_err *err)
{
    double step_in_epoch = 0;
    EBM_TRY(compare_hyperparameters(f, path, cfg, err));
    EBM_TRY(check_data_checksum(f, path, run, err));
    EBM_TRY(read_progress(f, version, r, &step_in_epoch, err));
    r->same_world = r->world_size == ctx->size;
    /* With --ema (equal to the file's, compared above) /model is the average
     * and the trained weights are /optimizer/layer{i}/online. */
    const int ema = cfg->ema > 0;
    if (ema && (read_layers(ctx, f, "/model/layer%d", shape, r->ema, 1, NULL) ||
                read_layers(ctx, f, "/optimizer/layer%d/online", shape, r->params, 1, NULL)))
        return ebm_fail(err,
                        "'%s': cannot read /model and /optimizer/layer{i}/online (--ema %g) "
                        "with this run's shapes",
                        path, cfg->ema);
    if ((!ema && read_layers(ctx, f, "/model/layer%d", shape, r->params, 1, NULL)) ||
        read_layers(ctx, f, "/optimizer/layer%d/exp_avg", shape, r->exp_avg, 0, NULL) ||
        read_layers(ctx, f, "/optimizer/layer%d/exp_inf", shape, r->exp_inf, 0, NULL))
        return ebm_fail(err, "'%s': cannot read /model or /optimizer with this run's shapes",
                        path);
    double step = 0;
    if (h5file_attr_read_double(f, "/optimizer", "step", &step, NULL))
        return ebm_fail(err, "checkpoint '%s': /optimizer lacks its step attribute", path);
    EBM_TRY(check_whole(path, "/optimizer step", step, 0, 9007199254740992.0, err));
    r->adam_step = (int64_t)step;
    EBM_TRY(check_floats(path, ema ? "/optimizer online" : "/model", r->params,
                         shape->n_params, 0, err));
    if (ema)
        EBM_TRY(check_floats(path, "/model", r->ema, shape->n_params, 0, err));
    /* The moments live on rank 0 only: a rank-local check, agreed below. */
    int rc = 0;
    if (ctx->rank == 0)
        rc = check_floats(path, "/optimizer exp_avg", r->exp_avg, shape->n_params, 0, err);
    if (rc == 0 && ctx->rank == 0)
        rc = check_floats(path, "/optimizer exp_inf", r->exp_inf, shape->n_params, 1, err);
    const int64_t chain_dims[2] = {cfg->buffer, shape->d};
    EBM_TRY(dist_agree(ctx, rc, err));
    EBM_TRY(h5file_read_rows(f, "/sampler/chains", H5FILE_F32, 2, chain_dims, r->first_chain,
                             r->n_chains, r->chains, err));
    rc = check_floats(path, "/sampler/chains", r->chains, (size_t)r->n_chains * shape->d, 0, err);
    EBM_TRY(dist_agree(ctx, rc, err));
    EBM_TRY(read_mala_step(ctx, f, path, version, r, err));
    if (rc == 0 && r->same_world) {
        r->progress.step = (int)step_in_epoch;
        rc = read_position(ctx, f, path, r, err);
    }
    /* The order check is the only rank-local one: agree before the next
     * collective read. */
    EBM_TRY(dist_agree(ctx, rc, err));
    const int n = r->progress.epoch;
    r->history = ebm_calloc((size_t)n, sizeof(metrics_row), "metrics history", err);
    if (!r->history)
        return ebm_trace(err);
    return read_history(f, path, version, n, r->history, err);
}

int ckpt_read_resume(const dist_ctx *ctx, const char *path, const ebm_config *cfg,
                     const model_shape *shape, const run_info *run, ckpt_resume *r,
                     ebm_err *err)
{
    h5file *f;
    int version;
    r->history = NULL;
    EBM_TRY(open_checkpoint(ctx, path, &f, &version, err));
    const int rc = read_resume_contents(ctx, f, path, version, cfg, shape, run, r, err);
    h5file_close(f, NULL);
    return ebm_pass(err, rc);
}
