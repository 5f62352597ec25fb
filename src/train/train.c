/* train.c: the training loop. Each rank: its shard, its chains, its RNG; per
 * step one allreduce of gradient sums + status, Adamax on rank 0, broadcast. */
#define _POSIX_C_SOURCE 200809L
#include "train/train.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "num/adamax.h"
#include "core/data.h"
#include "ebm/eval.h"
#include "ebm/langevin.h"
#include "num/model.h"
#include "core/rng.h"
#include "core/shard.h"
#include "core/timer.h"
#include "io/data_file.h"
#include "io/metrics_file.h"

/* Status values that ride on the gradient allreduce, after the gradients:
 * the epoch sums (metrics.h), then flags summed over ranks. */
enum {
    ST_NONFINITE = EPOCH_SUMS, /* some rank's loss was not finite */
    ST_STOP,                   /* some rank was asked to stop (signal) */
    ST_CHECKPOINT,             /* rank 0's clock says last.h5 is due */
    ST_LEN
};

/* Set by the signal handler, read at the next step: the one global, because a
 * signal handler can reach nothing else. */
static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

int train_install_stop_handlers(ebm_err *err)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return ebm_fail(err, "cannot install signal handlers: %s", strerror(errno));
    return 0;
}

/* Evaluation works on chunks of this many examples per rank. */
#define EVAL_CHUNK 256
/* Seconds between progress lines inside a long epoch. */
#define PROGRESS_SECONDS 10.0

int train_prepare_out_dir(const char *dir, ebm_err *err)
{
    char path[EBM_PATH_LEN];
    snprintf(path, sizeof path, "%s", dir);
    /* mkdir -p */
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return ebm_fail(err, "--out: cannot create directory '%s': %s", path,
                            strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return ebm_fail(err, "--out: cannot create directory '%s': %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return ebm_fail(err, "--out: '%s' is not a directory", path);
    /* Permission bits do not tell (root, read-only mounts): try it. */
    char probe[EBM_PATH_LEN + 64];
    snprintf(probe, sizeof probe, "%s/.ebm_mpi_write_test.%ld", path, (long)getpid());
    FILE *f = fopen(probe, "w");
    if (!f)
        return ebm_fail(err, "--out: directory '%s' is not writable: %s", path, strerror(errno));
    fclose(f);
    remove(probe);
    return 0;
}

/* Everything one rank holds while training. */
typedef struct {
    model_shape shape;
    data_info info;
    data_shard split[SPLIT_COUNT];
    input_map map;
    shard_plan plan;
    float *params, *grad;        /* grad: n_params gradient sums + ST_LEN status */
    float *exp_avg, *exp_inf;    /* rank 0 only */
    int64_t adam_step;
    model_workspace ws;
    langevin_sampler sampler;
    evaluator eval;
    ebm_rng rng;
    int32_t *order;   /* this epoch's permutation of the local train shard */
    float *x;         /* [2 cap, D]: batch rows then sample rows */
    float *dlogits;   /* [2 cap, K] */
    int32_t *labels;  /* [cap] */
    int capacity;
    int64_t first_chain, n_chains;
    train_progress progress;
    metrics_row *history; /* [cfg->epochs] */
    int checkpoints_written;
    char resume_note[EBM_PATH_LEN + 160]; /* what resume did, for the banner */
    int fault_kill_at_checkpoint; /* testing: see README */
    int64_t fault_stop_at_step;   /* testing: see README */
} trainer;

static void trainer_free(trainer *t)
{
    for (int s = 0; s < SPLIT_COUNT; s++)
        data_shard_free(&t->split[s]);
    shard_plan_free(&t->plan);
    free(t->params), free(t->grad), free(t->exp_avg), free(t->exp_inf);
    model_workspace_free(&t->ws);
    langevin_free(&t->sampler);
    evaluator_free(&t->eval);
    free(t->order), free(t->x), free(t->dlogits), free(t->labels);
    free(t->history);
}

static int load_data(const dist_ctx *ctx, const ebm_config *cfg, const char *path, trainer *t,
                     ebm_err *err)
{
    data_file *file = NULL;
    if (data_file_open(ctx, path, &file, &t->info, err))
        return ebm_trace(err);
    int rc = 0;
    if (ctx->size > t->info.n[SPLIT_TRAIN])
        rc = ebm_fail(err, "%d ranks but '%s' has only %lld training examples: use at most %lld",
                      ctx->size, path, (long long)t->info.n[SPLIT_TRAIN],
                      (long long)t->info.n[SPLIT_TRAIN]);
    else if (cfg->buffer > 0 && cfg->buffer < ctx->size)
        rc = ebm_fail(err, "--buffer %d: need at least one chain per rank (%d ranks)",
                      cfg->buffer, ctx->size);
    for (int s = 0; s < SPLIT_COUNT && rc == 0; s++) {
        int64_t off, n;
        shard_range(t->info.n[s], ctx->size, ctx->rank, &off, &n);
        rc = data_shard_alloc(&t->split[s], t->info.n[s], off, n, t->info.d, err);
        rc = dist_agree(ctx, rc, err);
        if (rc == 0)
            rc = data_file_read(file, s, &t->split[s], err);
        if (rc == 0)
            rc = data_validate(&t->split[s], &t->info, path, data_split_names[s], err);
        rc = dist_agree(ctx, rc, err);
    }
    data_file_close(file);
    return ebm_pass(err, rc);
}

static int trainer_init(const dist_ctx *ctx, const ebm_config *cfg, const char *data_path,
                        trainer *t, ebm_err *err)
{
    memset(t, 0, sizeof *t);
    if (load_data(ctx, cfg, data_path, t, err))
        return ebm_trace(err);
    model_shape_init(&t->shape, t->info.d, cfg->hidden, t->info.k);
    t->map = data_input_map(&t->info, cfg->map_inputs);
    int rc = shard_plan_init(&t->plan, t->info.n[SPLIT_TRAIN], cfg->batch_size, ctx->size, err);
    if (dist_agree(ctx, rc, err))
        return ebm_trace(err);
    const int cap = shard_max_count(&t->plan, ctx->rank);
    const size_t np = t->shape.n_params, d = (size_t)t->info.d, k = (size_t)t->info.k;
    t->capacity = cap;
    t->params = ebm_calloc(np, sizeof(float), "parameters", err);
    t->grad = ebm_calloc(np + ST_LEN, sizeof(float), "gradients", err);
    if (ctx->rank == 0) {
        t->exp_avg = ebm_calloc(np, sizeof(float), "Adamax state", err);
        t->exp_inf = ebm_calloc(np, sizeof(float), "Adamax state", err);
    }
    t->order = ebm_calloc((size_t)t->split[SPLIT_TRAIN].n, sizeof(int32_t), "data order", err);
    t->x = ebm_calloc(2 * (size_t)cap * d, sizeof(float), "batch", err);
    t->dlogits = ebm_calloc(2 * (size_t)cap * k, sizeof(float), "batch", err);
    t->labels = ebm_calloc((size_t)cap, sizeof(int32_t), "batch", err);
    t->history = ebm_calloc((size_t)cfg->epochs, sizeof(metrics_row), "metrics history", err);
    rc = (!t->params || !t->grad || !t->order || !t->x || !t->dlogits || !t->labels ||
          !t->history ||
          (ctx->rank == 0 && (!t->exp_avg || !t->exp_inf)))
             ? -1
             : 0;
    if (rc == 0)
        rc = model_workspace_init(&t->ws, &t->shape, 2 * cap, err);

    /* Parameters come from stream 0 on every rank (identical for any P);
     * rank r's own stream is r + 1. */
    ebm_rng init;
    rng_seed(&init, (uint64_t)cfg->seed, 0);
    if (rc == 0)
        model_init_params(&t->shape, t->params, &init);
    rng_seed(&t->rng, (uint64_t)cfg->seed, (uint64_t)ctx->rank + 1);

    const langevin_params lp = {
        .steps = cfg->langevin_steps,
        .step_size = (float)cfg->step_size,
        .noise = (float)cfg->noise,
        .reinit = (float)cfg->reinit,
        .clamp = cfg->clamp_chains,
        .lo = t->map.scale * (float)t->info.value_min + t->map.shift,
        .hi = t->map.scale * (float)t->info.value_max + t->map.shift,
        .target_class = -1,
    };
    if (cfg->buffer > 0)
        shard_range(cfg->buffer, ctx->size, ctx->rank, &t->first_chain, &t->n_chains);
    if (rc == 0)
        rc = langevin_init(&t->sampler, &lp, t->info.d, t->info.k, cap, t->n_chains,
                           t->first_chain, &t->rng, err);
    if (rc == 0)
        rc = evaluator_init(&t->eval, &t->shape, &lp, EVAL_CHUNK, err);
    for (int64_t i = 0; i < t->split[SPLIT_TRAIN].n; i++)
        if (t->order)
            t->order[i] = (int32_t)i;
    t->progress.best_val_error = INFINITY;
    t->progress.best_val_loss = INFINITY;
    const char *kill = getenv("EBM_MPI_FAULT_KILL_AT_CHECKPOINT");
    const char *stop = getenv("EBM_MPI_FAULT_STOP_AT_STEP");
    t->fault_kill_at_checkpoint = kill ? atoi(kill) : 0;
    t->fault_stop_at_step = stop ? atoll(stop) : -1;
    return dist_agree(ctx, rc, err);
}

/* Loads batch rows (mapped, with training noise) and their labels. */
static void gather_batch(trainer *t, const ebm_config *cfg, int64_t pos, int c)
{
    const data_shard *tr = &t->split[SPLIT_TRAIN];
    const size_t d = (size_t)tr->d;
    /* train_noise is in data units; the map scales it into input units. */
    rng_fill_normal(&t->rng, t->x, (size_t)c * d, (float)cfg->train_noise * t->map.scale);
    for (int i = 0; i < c; i++) {
        const int32_t idx = t->order[pos + i];
        const float *img = tr->images + (size_t)idx * d;
        float *row = t->x + (size_t)i * d;
        for (size_t j = 0; j < d; j++)
            row[j] += t->map.scale * img[j] + t->map.shift;
        t->labels[i] = tr->labels[idx];
    }
}

/* Local part of one step: gradient sums and status into t->grad. */
static void local_step(trainer *t, const ebm_config *cfg, int64_t pos, int c, int stop,
                       int checkpoint)
{
    const size_t np = t->shape.n_params, d = (size_t)t->info.d;
    float *status = t->grad + np;
    memset(t->grad, 0, (np + ST_LEN) * sizeof(float));
    loss_sums ls = {0};
    if (c > 0) {
        gather_batch(t, cfg, pos, c);
        const int n_samples = cfg->gen_weight > 0 ? c : 0;
        if (n_samples)
            langevin_draw(&t->sampler, &t->shape, t->params, &t->ws, &t->rng, c,
                          t->x + (size_t)c * d);
        const float *logits = model_forward(&t->shape, t->params, &t->ws, t->x, c + n_samples);
        model_jem_loss(c, n_samples, t->info.k, logits, t->labels, (float)cfg->gen_weight,
                       (float)cfg->energy_reg, t->dlogits, &ls);
        model_backward(&t->shape, t->params, &t->ws, t->x, c + n_samples, t->dlogits, t->grad,
                       NULL);
    }
    status[EPOCH_COUNT] = (float)c;
    status[EPOCH_LOSS] = (float)ls.loss;
    status[EPOCH_CE] = (float)ls.ce;
    status[EPOCH_GEN] = (float)ls.gen;
    status[EPOCH_ERRORS] = (float)ls.errors;
    status[EPOCH_E_DATA] = (float)ls.energy_data;
    status[EPOCH_E_SAMPLE] = (float)ls.energy_sample;
    status[ST_NONFINITE] = isfinite(ls.loss) ? 0.0f : 1.0f;
    status[ST_STOP] = (float)stop;
    status[ST_CHECKPOINT] = (float)checkpoint;
}

static int all_finite(const float *v, size_t n)
{
    /* A sum of finite floats cannot overflow a double: one pass, one test. */
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return isfinite(s);
}

static void print_banner(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run,
                         const trainer *t)
{
    if (ctx->rank != 0)
        return;
    printf("ebm_mpi %s (%s)\n", run->program_version, run->git_revision);
    printf("  MPI: %s, %d ranks; BLAS: %s, %d thread(s) per rank; HDF5 %s\n", run->mpi_version,
           ctx->size, run->blas_version, cfg->threads, run->hdf5_version);
    printf("  data: %s\n        train %lld / val %lld / test %lld, %d pixels (%dx%d) in "
           "[%g, %g], %d classes\n",
           run->data_path, (long long)t->info.n[SPLIT_TRAIN], (long long)t->info.n[SPLIT_VAL],
           (long long)t->info.n[SPLIT_TEST], t->info.d, t->info.height, t->info.width,
           t->info.value_min, t->info.value_max, t->info.k);
    if (t->info.source[0])
        printf("        source: %s\n", t->info.source);
    printf("  model: %d-%d-%d-%d-%d ELU MLP, %zu parameters\n", t->shape.d, t->shape.h,
           t->shape.h, t->shape.h, t->shape.k, t->shape.n_params);
    printf("  preset %s: inputs %s, chains %s, best.h5 by %s\n", cli_preset_name(cfg->preset),
           cfg->map_inputs ? "mapped to [-1,1]" : "raw",
           cfg->clamp_chains ? "clamped to the data range" : "unclamped",
           cfg->select_by_error ? "val error (ties: val loss)" : "val loss");
    size_t n_opts;
    const cli_option *opts = cli_options(&n_opts);
    printf("  hyperparameters:");
    int col = 19;
    for (size_t i = 0; i < n_opts; i++) {
        if (!opts[i].hyper)
            continue;
        char item[96];
        const char *s = cli_option_string(&opts[i], cfg);
        if (s)
            snprintf(item, sizeof item, " --%s %s", opts[i].name, s);
        else
            snprintf(item, sizeof item, " --%s %.10g", opts[i].name,
                     cli_option_number(&opts[i], cfg));
        if (col + (int)strlen(item) > 78) {
            printf("\n   ");
            col = 3;
        }
        printf("%s", item);
        col += (int)strlen(item);
    }
    printf("\n  steps per epoch: %d (global batch %d, last %d); out: %s\n", t->plan.n_steps,
           cfg->batch_size, shard_step_batch(&t->plan, t->plan.n_steps - 1), cfg->out);
    fflush(stdout);
}

static int write_ckpt(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run,
                      trainer *t, const char *name, ebm_err *err)
{
    char path[EBM_PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/%s", cfg->out, name);
    t->checkpoints_written++;
    const ckpt_state st = {
        .shape = &t->shape,
        .params = t->params,
        .exp_avg = t->exp_avg,
        .exp_inf = t->exp_inf,
        .adam_step = t->adam_step,
        .cfg = cfg,
        .run = run,
        .map = t->map,
        .value_min = t->info.value_min,
        .value_max = t->info.value_max,
        .height = t->info.height,
        .width = t->info.width,
        .chains = t->sampler.chains,
        .n_chains_total = cfg->buffer,
        .first_chain = t->first_chain,
        .n_chains = t->n_chains,
        .rng_state = t->rng.s,
        .order = t->order,
        .n_local = t->split[SPLIT_TRAIN].n,
        .n_local_max = (t->info.n[SPLIT_TRAIN] + ctx->size - 1) / ctx->size,
        .progress = &t->progress,
        .history = t->history,
        .kill_midway = t->checkpoints_written == t->fault_kill_at_checkpoint,
    };
    return ckpt_write(ctx, path, &st, err);
}

/* A per-purpose stream: evaluation must not consume the training stream. */
static void eval_rng(ebm_rng *rng, const ebm_config *cfg, int epoch, int rank)
{
    rng_seed(rng, (uint64_t)cfg->seed ^ (0xD1B54A32D192ED03ULL * (uint64_t)(epoch + 1)),
             (uint64_t)rank + 1);
}

/* Loads the checkpoint named by --resume, if any. Returns 0 (resumed or fresh
 * start), -1 on error. */
static int resume(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run, trainer *t,
                  ebm_err *err)
{
    char path[EBM_PATH_LEN + 32];
    if (cfg->resume[0] == '\0')
        return 0;
    if (strcmp(cfg->resume, "auto") == 0) {
        snprintf(path, sizeof path, "%s/last.h5", cfg->out);
        int exists = ctx->rank == 0 && access(path, F_OK) == 0;
        if (dist_bcast_bytes(ctx, &exists, sizeof exists, 0, err))
            return ebm_trace(err);
        if (!exists) {
            snprintf(t->resume_note, sizeof t->resume_note,
                     "  resume auto: no %s yet, starting fresh", path);
            return 0;
        }
    } else {
        snprintf(path, sizeof path, "%s", cfg->resume);
    }
    ckpt_resume r = {
        .params = t->params,
        .exp_avg = t->exp_avg,
        .exp_inf = t->exp_inf,
        .chains = t->sampler.chains,
        .first_chain = t->first_chain,
        .n_chains = t->n_chains,
        .rng_state = t->rng.s,
        .order = t->order,
        .n_local = t->split[SPLIT_TRAIN].n,
    };
    if (ckpt_read_resume(ctx, path, cfg, &t->shape, run, &r, err)) {
        free(r.history);
        return -1;
    }
    if (r.progress.epoch > cfg->epochs) {
        free(r.history);
        return ebm_fail(err, "cannot resume from '%s': it has %d epochs, more than --epochs %d",
                        path, r.progress.epoch, cfg->epochs);
    }
    t->adam_step = r.adam_step;
    t->progress = r.progress;
    memcpy(t->history, r.history, (size_t)r.progress.epoch * sizeof(metrics_row));
    free(r.history);
    if (!r.same_world) {
        /* Another rank count: the chains were re-sharded by global id; fresh
         * streams (keyed by the step so they differ from the first run's), and
         * the interrupted epoch, if any, starts again from its beginning. */
        rng_seed(&t->rng, (uint64_t)cfg->seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)r.progress.global_step),
                 (uint64_t)ctx->rank + 1);
    }
    /* Printed after the banner, once everything has loaded. */
    char *note = t->resume_note;
    const size_t len = sizeof t->resume_note;
    int used = snprintf(note, len, "  resumed from %s: %d epoch(s) done", path,
                        t->progress.epoch);
    if (t->progress.step > 0 && used < (int)len)
        used += snprintf(note + used, len - used, ", continuing after step %d/%d of epoch %d",
                         t->progress.step, t->plan.n_steps, t->progress.epoch + 1);
    if (used < (int)len)
        used += snprintf(note + used, len - used, ", global step %lld",
                         (long long)t->progress.global_step);
    if (!r.same_world && used < (int)len)
        snprintf(note + used, len - used,
                 " (written by %d ranks: chains re-sharded over %d, epoch restarted)",
                 r.world_size, ctx->size);
    return 0;
}

/* Examples of this rank's shard used by the first `steps` steps of an epoch. */
static int64_t position_after(const shard_plan *plan, int rank, int steps)
{
    int64_t pos = 0;
    for (int s = 0; s < steps; s++)
        pos += shard_count(plan, s, rank);
    return pos;
}

/* Runs the rest of the current epoch's steps. Returns 0 (with *stopped set
 * after writing last.h5 on a stop request) or -1 on error. */
static int run_steps(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run,
                     trainer *t, double *compute, double *comm, double *last_ckpt,
                     int *stopped, ebm_err *err)
{
    const size_t np = t->shape.n_params;
    const adamax_config adam = {cfg->lr, 0.9, 0.999, 1e-8};
    train_progress *pr = &t->progress;
    const double t_epoch = timer_now();
    double last_progress = t_epoch;
    int64_t pos = position_after(&t->plan, ctx->rank, pr->step);
    while (pr->step < t->plan.n_steps) {
        const int c = shard_count(&t->plan, pr->step, ctx->rank);
        const double t0 = timer_now();
        const int stop = stop_signal != 0 || pr->global_step + 1 == t->fault_stop_at_step;
        const int due = ctx->rank == 0 && cfg->checkpoint_every > 0 &&
                        t0 - *last_ckpt >= 60.0 * cfg->checkpoint_every;
        local_step(t, cfg, pos, c, stop, due);
        pos += c;
        const double t1 = timer_now();
        if (dist_sum_floats(ctx, t->grad, np + ST_LEN, err))
            return ebm_trace(err);
        const double t2 = timer_now();
        const float *status = t->grad + np;
        for (int i = 0; i < EPOCH_SUMS; i++)
            pr->sums[i] += status[i];
        pr->step++;
        pr->global_step++;
        *compute += t1 - t0;
        *comm += t2 - t1;
        /* Every rank holds the same reduced vector, so every rank takes the
         * same decision without another message. */
        if (status[ST_NONFINITE] > 0 || !all_finite(t->grad, np)) {
            pr->skipped_epoch++, pr->skipped_total++;
            if (++pr->skipped_in_a_row >= EBM_MAX_SKIPPED_IN_A_ROW)
                return ebm_fail(err,
                                "training diverged: %d non-finite gradients in a row (epoch %d, "
                                "step %d); %s/best.h5 and last.h5 keep the last good state. "
                                "Try a smaller --lr or --step-size, or --preset stable",
                                pr->skipped_in_a_row, pr->epoch + 1, pr->step, cfg->out);
        } else {
            pr->skipped_in_a_row = 0;
            const double t3 = timer_now();
            if (ctx->rank == 0) {
                const float inv = 1.0f / status[EPOCH_COUNT];
                for (size_t i = 0; i < np; i++)
                    t->grad[i] *= inv;
                adamax_step(&adam, np, t->params, t->grad, t->exp_avg, t->exp_inf,
                            &t->adam_step);
            } else {
                t->adam_step++;
            }
            const double t4 = timer_now();
            if (dist_bcast_floats(ctx, t->params, np, 0, err))
                return ebm_trace(err);
            const double t5 = timer_now();
            *compute += t4 - t3;
            *comm += t5 - t4;
        }
        if (status[ST_STOP] > 0 || status[ST_CHECKPOINT] > 0) {
            if (write_ckpt(ctx, cfg, run, t, "last.h5", err))
                return ebm_trace(err);
            *last_ckpt = timer_now();
            if (status[ST_STOP] > 0) {
                if (ctx->rank == 0) {
                    printf("stopped on request after step %d/%d of epoch %d: %s/last.h5 "
                           "written; continue with --resume auto\n",
                           pr->step, t->plan.n_steps, pr->epoch + 1, cfg->out);
                    fflush(stdout);
                }
                *stopped = 1;
                return 0;
            }
        }
        const double now = timer_now();
        if (ctx->rank == 0 && now - last_progress > PROGRESS_SECONDS) {
            last_progress = now;
            printf("  epoch %d step %d/%d: loss %.4f, %.0f examples/s\n", pr->epoch + 1,
                   pr->step, t->plan.n_steps, pr->sums[EPOCH_LOSS] / pr->sums[EPOCH_COUNT],
                   pr->sums[EPOCH_COUNT] / (now - t_epoch));
            fflush(stdout);
        }
    }
    return 0;
}

/* Validation, the metrics row, metrics.h5 and the checkpoints at an epoch's end. */
static int end_epoch(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run,
                     trainer *t, double train_seconds, double compute, double comm,
                     ebm_err *err)
{
    train_progress *pr = &t->progress;
    eval_result val;
    ebm_rng erng;
    eval_rng(&erng, cfg, pr->epoch, ctx->rank);
    if (evaluator_run(&t->eval, ctx, t->params, &t->split[SPLIT_VAL], &t->map,
                      (float)cfg->gen_weight, (float)cfg->energy_reg, &erng, &val, err))
        return ebm_trace(err);
    const int better = cfg->select_by_error
                           ? (val.error < pr->best_val_error ||
                              (val.error == pr->best_val_error && val.loss < pr->best_val_loss))
                           : val.loss < pr->best_val_loss;
    metrics_row *row = &t->history[pr->epoch];
    double wall = train_seconds, cmin_mean_max[3], mmin_mean_max[3];
    /* Timings differ per rank: rank 0's wall time, min/mean/max of the rest. */
    if (dist_bcast_bytes(ctx, &wall, sizeof wall, 0, err) ||
        dist_min_mean_max(ctx, compute, cmin_mean_max, err) ||
        dist_min_mean_max(ctx, comm, mmin_mean_max, err))
        return ebm_trace(err);
    const double *sums = pr->sums, n = sums[EPOCH_COUNT] > 0 ? sums[EPOCH_COUNT] : 1;
    *row = (metrics_row){
        .epoch = pr->epoch + 1,
        .global_step = (double)pr->global_step,
        .train_loss = sums[EPOCH_LOSS] / n,
        .train_ce = sums[EPOCH_CE] / n,
        .train_gen = sums[EPOCH_GEN] / n,
        .train_error = sums[EPOCH_ERRORS] / n,
        .val_loss = val.loss,
        .val_ce = val.ce,
        .val_gen = val.gen,
        .val_error = val.error,
        .energy_data = sums[EPOCH_E_DATA] / n,
        .energy_sample = sums[EPOCH_E_SAMPLE] / n,
        .skipped_steps = (double)pr->skipped_epoch,
        .wall_seconds = wall,
        .examples_per_second = n / wall,
        .compute_min = cmin_mean_max[0],
        .compute_mean = cmin_mean_max[1],
        .compute_max = cmin_mean_max[2],
        .comm_min = mmin_mean_max[0],
        .comm_mean = mmin_mean_max[1],
        .comm_max = mmin_mean_max[2],
    };
    if (ctx->rank == 0) {
        printf("epoch %3d/%d  train loss %.4f err %5.2f%%  val loss %.4f err %5.2f%%  "
               "gen %+.4f  E(x) %.2f E(x~) %.2f  %.2fs  %.0f ex/s  comm %.0f%%%s%s\n",
               pr->epoch + 1, cfg->epochs, row->train_loss, 100.0 * row->train_error,
               row->val_loss, 100.0 * row->val_error, row->val_gen, row->energy_data,
               row->energy_sample, wall, row->examples_per_second,
               100.0 * row->comm_mean / (row->comm_mean + row->compute_mean + 1e-12),
               pr->skipped_epoch ? "  (skipped steps)" : "", better ? "  *best" : "");
        fflush(stdout);
    }
    pr->epoch++;
    pr->step = 0;
    memset(pr->sums, 0, sizeof pr->sums);
    pr->skipped_epoch = 0;
    if (better) {
        pr->best_epoch = pr->epoch;
        pr->best_val_error = val.error;
        pr->best_val_loss = val.loss;
    }
    char path[EBM_PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/metrics.h5", cfg->out);
    if (metrics_file_sync(ctx, path, t->history, pr->epoch, err))
        return ebm_trace(err);
    if (better && write_ckpt(ctx, cfg, run, t, "best.h5", err))
        return ebm_trace(err);
    return write_ckpt(ctx, cfg, run, t, "last.h5", err);
}

/* Reads best.h5 back and reports its test figures: what a user will load. */
static int report_best(const dist_ctx *ctx, const ebm_config *cfg, trainer *t, double seconds,
                       ebm_err *err)
{
    char path[EBM_PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/best.h5", cfg->out);
    /* A run resumed into a new directory from a copied last.h5 may never have
     * written best.h5 itself: say so rather than fail at the very end. */
    int exists = ctx->rank == 0 && access(path, F_OK) == 0;
    if (dist_bcast_bytes(ctx, &exists, sizeof exists, 0, err))
        return ebm_trace(err);
    if (!exists) {
        if (ctx->rank == 0)
            printf("done in %.1fs: %lld steps. The best epoch (%d, val error %.2f%%) was saved "
                   "before this run resumed; %s does not exist here\n",
                   seconds, (long long)t->progress.global_step, t->progress.best_epoch,
                   100.0 * t->progress.best_val_error, path);
        return 0;
    }
    ckpt_model best;
    if (ckpt_read_model(ctx, path, &best, err))
        return ebm_trace(err);
    eval_result test;
    ebm_rng erng;
    eval_rng(&erng, cfg, -2, ctx->rank);
    int rc = evaluator_run(&t->eval, ctx, best.params, &t->split[SPLIT_TEST], &best.map,
                           (float)cfg->gen_weight, (float)cfg->energy_reg, &erng, &test, err);
    if (rc == 0 && ctx->rank == 0) {
        const train_progress *pr = &t->progress;
        printf("done in %.1fs: %lld steps (%lld skipped). best.h5 = epoch %d: val error "
               "%.2f%%, test error %.2f%% (test loss %.4f, %lld examples)\n",
               seconds, (long long)pr->global_step, (long long)pr->skipped_total,
               pr->best_epoch, 100.0 * pr->best_val_error, 100.0 * test.error, test.loss,
               (long long)test.n);
        fflush(stdout);
    }
    ckpt_model_free(&best);
    return ebm_pass(err, rc);
}

int train_run(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run_in,
              train_outcome *outcome, ebm_err *err)
{
    int stopped = 0;
    trainer t;
    run_info run = *run_in;
    int rc = train_prepare_out_dir(cfg->out, err);
    if (rc == 0 && ctx->rank == 0)
        rc = data_file_checksum(run.data_path, &run.data_checksum, err);
    if (dist_agree(ctx, rc, err) ||
        dist_bcast_bytes(ctx, &run.data_checksum, sizeof run.data_checksum, 0, err))
        return ebm_trace(err);
    rc = trainer_init(ctx, cfg, run.data_path, &t, err);
    if (rc == 0)
        rc = dist_agree(ctx, resume(ctx, cfg, &run, &t, err), err);
    /* Only once everything has loaded: an error before this is the one line
     * the run prints. */
    if (rc == 0)
        print_banner(ctx, cfg, &run, &t);
    if (rc == 0 && ctx->rank == 0 && t.resume_note[0]) {
        printf("%s\n", t.resume_note);
        fflush(stdout);
    }
    if (rc == 0 && t.progress.epoch > 0) {
        /* A requeued job must not duplicate rows: bring metrics.h5 back to
         * the checkpoint's epoch first. */
        char path[EBM_PATH_LEN + 32];
        snprintf(path, sizeof path, "%s/metrics.h5", cfg->out);
        rc = metrics_file_sync(ctx, path, t.history, t.progress.epoch, err);
    }
    const double t_start = timer_now();
    double last_ckpt = t_start;
    while (rc == 0 && !stopped && t.progress.epoch < cfg->epochs) {
        if (t.progress.step == 0)
            rng_shuffle(&t.rng, t.order, (size_t)t.split[SPLIT_TRAIN].n);
        double compute = 0, comm = 0;
        const double t_epoch = timer_now();
        rc = run_steps(ctx, cfg, &run, &t, &compute, &comm, &last_ckpt, &stopped, err);
        if (rc == 0 && !stopped)
            rc = end_epoch(ctx, cfg, &run, &t, timer_now() - t_epoch, compute, comm, err);
    }
    *outcome = stopped ? TRAIN_STOPPED : TRAIN_DONE;
    if (rc == 0 && !stopped && t.progress.best_epoch > 0)
        rc = report_best(ctx, cfg, &t, timer_now() - t_start, err);
    trainer_free(&t);
    return ebm_pass(err, rc);
}
