/* setup.c: everything before the first step: the output directory, this
 * rank's shards, the model and its buffers, the resume, the banner. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/sysmem.h"
#include "ebm/eval.h"
#include "io/data_file.h"
#include "io/h5file.h"
#include "train/trainer.h"

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
    /* mkstemp: O_EXCL and an unpredictable name, never through a link. */
    char probe[EBM_PATH_LEN + 64];
    snprintf(probe, sizeof probe, "%s/.ebm_mpi_write_test.XXXXXX", path);
    const int fd = mkstemp(probe);
    if (fd < 0)
        return ebm_fail(err, "--out: directory '%s' is not writable: %s", path, strerror(errno));
    close(fd);
    unlink(probe);
    return 0;
}

/* Rank 0. The run takes --out for itself (core/dir_lock.h), and a fresh run
 * (no --resume) into a directory that holds another run's files is refused
 * unless --overwrite says to replace them, which removes them first: no
 * best.h5 of one run is ever left beside the last.h5 of another. */
static int own_out_dir(trainer *t, char *note, size_t len, ebm_err *err)
{
    const ebm_config *cfg = t->cfg;
    dir_lock_self(&t->lock, t->run.job_id);
    EBM_TRY(dir_lock_take(cfg->out, &t->lock, cfg->break_lock, note, len, err));
    t->lock_held = 1;
    static const char *const files[] = {"last.h5", "best.h5", "metrics.h5", "rollback.h5"};
    char path[EBM_PATH_LEN + 32];
    /* A run killed while writing (SIGKILL, a lost node) leaves its temporary
     * file; holding the lock, no other run is writing it now. */
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", cfg->out, files[i]);
        EBM_TRY(h5file_remove_stale_tmp(path, err));
    }
    if (cfg->resume[0])
        return 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", cfg->out, files[i]);
        if (access(path, F_OK) != 0)
            continue;
        if (!cfg->overwrite)
            return ebm_fail(err,
                            "--out '%s' holds a run (%s): continue it with --resume auto, or "
                            "start afresh over it with --overwrite",
                            cfg->out, files[i]);
        if (unlink(path) != 0)
            return ebm_fail(err, "--overwrite: cannot remove '%s': %s", path, strerror(errno));
    }
    return 0;
}

void train_free(trainer *t)
{
    if (!t)
        return;
    for (int s = 0; s < SPLIT_COUNT; s++)
        data_shard_free(&t->split[s]);
    shard_plan_free(&t->plan);
    free(t->params), free(t->grad), free(t->exp_avg), free(t->exp_inf), free(t->ema);
    model_workspace_free(&t->ws);
    langevin_free(&t->sampler);
    ais_kernel_free(t->kernel);
    langevin_gauss_free(&t->start);
    base_free(&t->base);
    evaluator_free(&t->eval);
    free(t->order), free(t->x), free(t->dlogits), free(t->labels);
    free(t->history);
    if (t->lock_held)
        dir_lock_release(t->cfg->out, &t->lock);
    free(t);
}

static int load_data(trainer *t, ebm_err *err)
{
    const dist_ctx *ctx = t->ctx;
    const ebm_config *cfg = t->cfg;
    const char *path = t->run.data_path;
    data_file *file = NULL;
    EBM_TRY(data_file_open(ctx, path, &file, &t->info, err));
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

/* Collective. Refuses up front a run that needs more memory than this rank
 * may use, naming the options that decide it, rather than meeting the
 * kernel's OOM killer half-way. The estimate counts what build() allocates
 * (within a few percent: the libraries' own memory is not counted). */
static int check_memory(trainer *t, ebm_err *err)
{
    const dist_ctx *ctx = t->ctx;
    const ebm_config *cfg = t->cfg;
    model_shape s;
    model_shape_init(&s, t->info.d, cfg->hidden, t->info.k);
    const double f = sizeof(float), np = (double)s.n_params, d = s.d, k = s.k;
    const double wide = s.d > s.h ? s.d : s.h;
    const double n_local = (double)t->split[SPLIT_TRAIN].n;
    const double cap = cfg->batch_size < n_local ? cfg->batch_size : n_local;
    const double per_row = 3.0 * s.h + k + 2.0 * wide; /* activations, backward scratch */
    const double chains = cfg->buffer > 0 ? (double)cfg->buffer / ctx->size + 1 : 0;
    /* Parameters and gradients everywhere, Adamax's two moments on rank 0,
     * the average (--ema) everywhere. */
    const double params = f * np * ((ctx->rank == 0 ? 4 : 2) + (cfg->ema > 0));
    const double buffers = f * (2 * cap * per_row + 2 * cap * (d + k) + cap * (2 * d + k) +
                                2.0 * EBM_CHUNK_ROWS * (per_row + d + k)) +
                           4.0 * n_local + (double)cfg->epochs * sizeof(metrics_row);
    const double chain_bytes = f * chains * d;
    const double need = params + buffers + chain_bytes;
    int local = 1;
    EBM_TRY(dist_local_size(ctx, &local, err));
    const char *source;
    const uint64_t avail = sysmem_available(local, &source);
    int rc = 0;
    if (need > (double)avail) {
        char n[32], a[32], p[32], c[32];
        sysmem_format((uint64_t)need, n, sizeof n);
        sysmem_format(avail, a, sizeof a);
        sysmem_format((uint64_t)params, p, sizeof p);
        sysmem_format((uint64_t)chain_bytes, c, sizeof c);
        rc = ebm_fail(err,
                      "not enough memory: --hidden %d and --buffer %d need about %s on rank %d "
                      "(%s of parameters, gradients and Adamax state, %s of chains), %s "
                      "available (%s, %d rank(s) on this host)",
                      cfg->hidden, cfg->buffer, n, ctx->rank, p, c, a, source, local);
    }
    return ebm_pass(err, dist_agree(ctx, rc, err));
}

/* Rank-local. The training shard holds integer levels in [value_min,
 * value_max] (what --base pixels and --train-dequant 1 need, named by `what`). */
static int check_levels(const trainer *t, const char *what, ebm_err *err)
{
    const data_shard *tr = &t->split[SPLIT_TRAIN];
    const double vmin = t->info.value_min, span = t->info.value_max - vmin;
    const int d = t->info.d;
    if (!(span >= 1) || span != floor(span) || span > 4096)
        return ebm_fail(err, "%s needs integer pixel levels: the data range [%g, %g] is not a "
                             "whole number of levels", what, vmin, t->info.value_max);
    for (int64_t i = 0; i < tr->n; i++)
        for (int j = 0; j < d; j++) {
            const double v = tr->images[(size_t)i * d + j] - vmin;
            if (v != floor(v) || v < 0 || v > span)
                return ebm_fail(err, "%s: pixel %d of training example %lld is %g, not an "
                                     "integer level", what, j, (long long)(tr->offset + i),
                                v + vmin);
        }
    return 0;
}

/* Collective. --base pixels: the independent-pixel base density fitted to
 * the training images of every rank (level counts summed over the ranks, then
 * the same deterministic fit everywhere), on the box of the input map. */
static int fit_base(trainer *t, float lo, float hi, ebm_err *err)
{
    const data_shard *tr = &t->split[SPLIT_TRAIN];
    const double vmin = t->info.value_min;
    const int d = t->info.d;
    int rc = dist_agree(t->ctx, check_levels(t, "--base pixels", err), err);
    if (rc)
        return ebm_trace(err);
    const int levels = (int)(t->info.value_max - vmin) + 1;
    double *counts = ebm_calloc((size_t)d * levels, sizeof(double), "base density", err);
    rc = counts ? 0 : -1;
    for (int64_t i = 0; rc == 0 && i < tr->n; i++)
        for (int j = 0; j < d; j++)
            counts[(size_t)j * levels + (int)(tr->images[(size_t)i * d + j] - vmin)] += 1;
    rc = dist_agree(t->ctx, rc, err);
    if (rc == 0)
        rc = dist_sum_doubles(t->ctx, counts, (size_t)d * levels, err);
    if (rc == 0)
        rc = base_alloc(&t->base, d, levels, lo, hi, err);
    /* +1 per level: the Laplace smoothing of the independent-pixel baseline. */
    if (rc == 0)
        rc = base_fit(&t->base, counts, 1.0, err);
    free(counts);
    return ebm_pass(err, dist_agree(t->ctx, rc, err));
}

/* --train-sampler mala: the draw's chains through the kernel eval --loglik
 * measures with (langevin_chain_runner). The model's energy has no failure
 * path (ais_kernel_run fails only when its energy does), so there is no
 * error to carry; a chain the floats lost is rejected by the Metropolis
 * tests, never accepted. */
static void run_kernel(void *data, const model_shape *shape, const float *params,
                       model_workspace *ws, ebm_rng *rng, int n, float *x)
{
    (void)shape, (void)ws;
    ebm_err unused;
    ais_kernel_run(data, params, rng, n, x, &unused);
}

/* The model, the optimizer state, the sampler, the evaluator and the step's
 * buffers, sized once: the steps allocate nothing. */
static int build(trainer *t, ebm_err *err)
{
    const dist_ctx *ctx = t->ctx;
    const ebm_config *cfg = t->cfg;
    model_shape_init(&t->shape, t->info.d, cfg->hidden, t->info.k);
    t->map = data_input_map(&t->info, cfg->map_inputs);
    EBM_TRY(dist_agree(ctx,
                       shard_plan_init(&t->plan, t->info.n[SPLIT_TRAIN], cfg->batch_size,
                                       ctx->size, err),
                       err));
    const int cap = shard_max_count(&t->plan, ctx->rank);
    const size_t np = t->shape.n_params, d = (size_t)t->info.d, k = (size_t)t->info.k;
    t->capacity = cap;
    t->params = ebm_calloc(np, sizeof(float), "parameters", err);
    t->grad = ebm_calloc(np + ST_LEN, sizeof(float), "gradients", err);
    if (ctx->rank == 0) {
        t->exp_avg = ebm_calloc(np, sizeof(float), "Adamax state", err);
        t->exp_inf = ebm_calloc(np, sizeof(float), "Adamax state", err);
    }
    if (cfg->ema > 0)
        t->ema = ebm_calloc(np, sizeof(float), "weight average", err);
    t->order = ebm_calloc((size_t)t->split[SPLIT_TRAIN].n, sizeof(int32_t), "data order", err);
    t->x = ebm_calloc(2 * (size_t)cap * d, sizeof(float), "batch", err);
    t->dlogits = ebm_calloc(2 * (size_t)cap * k, sizeof(float), "batch", err);
    t->labels = ebm_calloc((size_t)cap, sizeof(int32_t), "batch", err);
    t->history = ebm_calloc((size_t)cfg->epochs, sizeof(metrics_row), "metrics history", err);
    int rc = (!t->params || !t->grad || !t->order || !t->x || !t->dlogits || !t->labels ||
              !t->history || (ctx->rank == 0 && (!t->exp_avg || !t->exp_inf)) ||
              (cfg->ema > 0 && !t->ema))
                 ? -1
                 : 0;
    if (rc == 0)
        rc = model_workspace_init(&t->ws, &t->shape, 2 * cap, err);

    /* Parameters come from stream 0 on every rank (identical for any P);
     * rank r's own stream is r + 1. */
    ebm_rng init;
    rng_derive(&init, (uint64_t)cfg->seed, RNG_PARAMS, 0, ctx->rank);
    if (rc == 0)
        model_init_params(&t->shape, t->params, &init);
    if (rc == 0 && t->ema) /* replaced by the first update's weights (ema_update) */
        memcpy(t->ema, t->params, np * sizeof(float));
    /* Steps per epoch depend on the data and --batch-size only, not on the
     * rank count: so does the schedule. */
    t->lr = (lr_schedule){
        .lr = cfg->lr,
        .shape = lr_shape_parse(cfg->lr_schedule) == LR_COSINE ? LR_COSINE : LR_CONST,
        .floor = cfg->lr_floor,
        .warmup_steps = cfg->warmup * t->plan.n_steps,
        .total_steps = (double)cfg->epochs * t->plan.n_steps,
    };
    rng_derive(&t->rng, (uint64_t)cfg->seed, RNG_RANK, 0, ctx->rank);

    const langevin_params lp = {
        .steps = cfg->langevin_steps,
        .step_size = (float)cfg->step_size,
        .noise = (float)cfg->noise,
        .step_decay = (float)cfg->step_decay,
        .reinit = (float)cfg->reinit,
        .clamp = cfg->clamp_chains,
        .lo = t->map.scale * (float)t->info.value_min + t->map.shift,
        .hi = t->map.scale * (float)t->info.value_max + t->map.shift,
        .target_class = -1,
        .start = cfg->chain_init == 1 ? &t->start : NULL,
        .base = strcmp(cfg->base, "pixels") == 0 ? &t->base : NULL,
        .start_base = cfg->chain_init == 2,
    };
    if (rc == 0 && cfg->chain_init == 2 && !lp.base)
        rc = ebm_fail(err, "--chain-init: 2 starts chains from the base density: give --base pixels");
    if (rc == 0 && strcmp(cfg->train_sampler, "mala") == 0 && !lp.base)
        rc = ebm_fail(err, "--train-sampler: mala redraws blocks of pixels from the base density: "
                           "give --base pixels");
    if (cfg->train_dequant) {
        rc = dist_agree(ctx, rc, err);
        if (rc == 0)
            rc = dist_agree(ctx, check_levels(t, "--train-dequant 1", err), err);
    }
    if (lp.base) {
        rc = dist_agree(ctx, rc, err); /* the fit is collective */
        if (rc == 0)
            rc = fit_base(t, lp.lo, lp.hi, err);
    }
    /* Fitted whatever --chain-init is: checkpoints store them, so that
     * `sample --init classes` needs no data file. The fit is collective and
     * every rank reaches the same result; with --chain-init 0 a fit that
     * fails (a class covariance the doubles cannot factor) only means the
     * checkpoints hold none. */
    rc = dist_agree(ctx, rc, err);
    if (rc == 0) {
        const data_shard *tr = &t->split[SPLIT_TRAIN];
        ebm_err fit_err;
        rc = langevin_gauss_fit(ctx, tr->images, tr->labels, tr->n, t->info.d, t->info.k,
                                t->map.scale, t->map.shift, &t->start,
                                cfg->chain_init ? err : &fit_err);
        if (!cfg->chain_init)
            rc = 0;
    }
    if (cfg->buffer > 0)
        shard_range(cfg->buffer, ctx->size, ctx->rank, &t->first_chain, &t->n_chains);
    if (rc == 0)
        rc = langevin_init(&t->sampler, &lp, t->info.d, t->info.k, cap, t->n_chains,
                           t->first_chain, &t->rng, err);
    if (rc == 0 && strcmp(cfg->train_sampler, "mala") == 0) {
        /* The kernel that eval --loglik measures the model with: the chains
         * are samples of the model itself, not short biased runs. */
        const ais_kernel_params kp = {
            .sweeps = cfg->langevin_steps,
            .base_moves = cfg->base_moves,
            .base_block = cfg->base_block,
            .step_size = cfg->step_size,
            .adapt_gain = AIS_KERNEL_ADAPT_GAIN,
            .lo = lp.lo,
            .hi = lp.hi,
            .base = lp.base,
        };
        rc = ais_kernel_init(&t->kernel, &kp, &t->shape, t->params, cap, err);
        if (rc == 0)
            t->sampler.runner = (langevin_chain_runner){run_kernel, t->kernel};
    }
    if (rc == 0)
        rc = evaluator_init(&t->eval, &t->shape, &lp, EBM_CHUNK_ROWS, err);
    for (int64_t i = 0; i < t->split[SPLIT_TRAIN].n; i++)
        if (t->order)
            t->order[i] = (int32_t)i;
    t->progress.best_val_error = INFINITY;
    t->progress.best_val_loss = INFINITY;
    return ebm_pass(err, dist_agree(ctx, rc, err));
}

/* Loads the checkpoint named by --resume, if any, and says in `note` what it
 * did (printed after the banner). */
static int resume(trainer *t, char *note, size_t len, ebm_err *err)
{
    const dist_ctx *ctx = t->ctx;
    const ebm_config *cfg = t->cfg;
    char path[EBM_PATH_LEN + 32];
    if (cfg->resume[0] == '\0')
        return 0;
    if (strcmp(cfg->resume, "auto") == 0) {
        snprintf(path, sizeof path, "%s/last.h5", cfg->out);
        int exists = ctx->rank == 0 && access(path, F_OK) == 0;
        EBM_TRY(dist_bcast_bytes(ctx, &exists, sizeof exists, 0, err));
        if (!exists) {
            snprintf(note, len, "  resume auto: no %s yet, starting fresh", path);
            return 0;
        }
    } else {
        snprintf(path, sizeof path, "%s", cfg->resume);
    }
    int same_world = 0, world_size = 0;
    EBM_TRY(trainer_load(t, path, &same_world, &world_size, err));
    int used = snprintf(note, len, "  resumed from %s: %d epoch(s) done", path,
                        t->progress.epoch);
    if (t->progress.step > 0 && used < (int)len)
        used += snprintf(note + used, len - used, ", continuing after step %d/%d of epoch %d",
                         t->progress.step, t->plan.n_steps, t->progress.epoch + 1);
    if (used < (int)len)
        used += snprintf(note + used, len - used, ", global step %lld",
                         (long long)t->progress.global_step);
    if (t->progress.rollbacks > 0 && used < (int)len)
        used += snprintf(note + used, len - used, ", %d rollback(s)", t->progress.rollbacks);
    if (!same_world && used < (int)len)
        snprintf(note + used, len - used,
                 " (written by %d ranks: chains re-sharded over %d, epoch restarted)",
                 world_size, ctx->size);
    return 0;
}

int trainer_load(trainer *t, const char *path, int *same_world, int *world_size, ebm_err *err)
{
    const dist_ctx *ctx = t->ctx;
    const ebm_config *cfg = t->cfg;
    ckpt_resume r = {
        .params = t->params,
        .exp_avg = t->exp_avg,
        .exp_inf = t->exp_inf,
        .ema = t->ema,
        .chains = t->sampler.chains,
        .first_chain = t->first_chain,
        .n_chains = t->n_chains,
        .rng_state = t->rng.s,
        .order = t->order,
        .n_local = t->split[SPLIT_TRAIN].n,
        .want_mala_step = t->kernel != NULL,
        .steps_per_epoch = t->plan.n_steps,
    };
    if (ckpt_read_resume(ctx, path, cfg, &t->shape, &t->run, &r, err)) {
        free(r.history);
        return ebm_trace(err);
    }
    if (r.progress.epoch > cfg->epochs) {
        free(r.history);
        return ebm_fail(err, "cannot resume from '%s': it has %d epochs, more than --epochs %d",
                        path, r.progress.epoch, cfg->epochs);
    }
    t->adam_step = r.adam_step;
    t->progress = r.progress;
    /* The kernel's tuned step; a file without it (before format 7): the
     * step --step-size gave, as at the start. */
    if (r.has_mala_step)
        ais_kernel_set_step(t->kernel, r.mala_step);
    memcpy(t->history, r.history, (size_t)r.progress.epoch * sizeof(metrics_row));
    free(r.history);
    if (!r.same_world) {
        /* Another rank count: the chains were re-sharded by global id; fresh
         * streams (keyed by the step so they differ from the first run's), and
         * the interrupted epoch, if any, starts again from its beginning. */
        rng_derive(&t->rng, (uint64_t)cfg->seed, RNG_RESHARD, r.progress.global_step,
                   ctx->rank);
    }
    *same_world = r.same_world;
    *world_size = r.world_size;
    return 0;
}

int train_setup(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run,
                const train_listener *listener, trainer **out, ebm_err *err)
{
    const double created = timer_now();
    trainer *t = ebm_calloc(1, sizeof *t, "trainer", err);
    *out = t;
    EBM_TRY(dist_agree(ctx, t ? 0 : -1, err));
    t->created = created;
    t->ctx = ctx;
    t->cfg = cfg;
    t->run = *run;
    if (listener)
        t->listener = *listener;
    char lock_note[1024] = "";
    int rc = train_prepare_out_dir(cfg->out, err);
    if (rc == 0 && ctx->rank == 0)
        rc = own_out_dir(t, lock_note, sizeof lock_note, err);
    if (rc == 0 && ctx->rank == 0)
        rc = data_file_checksum(t->run.data_path, &t->run.data_checksum, err);
    EBM_TRY(dist_agree(ctx, rc, err));
    EBM_TRY(dist_bcast_bytes(ctx, &t->run.data_checksum, sizeof t->run.data_checksum, 0, err));
    record_build(&t->record, cfg, &t->run);
    EBM_TRY(load_data(t, err));
    EBM_TRY(check_memory(t, err));
    EBM_TRY(dist_host_summary(ctx, t->hosts, sizeof t->hosts, err));
    EBM_TRY(build(t, err));
    char note[EBM_PATH_LEN + 1200] = "";
    EBM_TRY(dist_agree(ctx, resume(t, note, sizeof note, err), err));
    if (lock_note[0]) {
        const size_t used = strlen(note);
        snprintf(note + used, sizeof note - used, "%s%s", used ? "\n" : "", lock_note);
    }
    /* Only once everything has loaded: an error before this is the one line
     * the run prints. */
    trainer_print_banner(t, note);
    /* A requeued job must not duplicate rows: metrics.h5 is rewritten from
     * the checkpoint's history first. */
    if (t->progress.epoch > 0)
        EBM_TRY(trainer_write_metrics(t, err));
    double mark = created;
    trainer_lap(t, PHASE_SETUP, &mark);
    return 0;
}
