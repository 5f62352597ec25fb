/* loop.c: the training loop. Each rank: its shard, its chains, its RNG; per
 * step one allreduce of gradient sums + status, Adamax on rank 0, broadcast
 * (docs/design.md section 2). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/diverge.h"
#include "core/fault.h"
#include "core/timer.h"
#include "io/metrics_file.h"
#include "num/adamax.h"
#include "num/schedule.h"
#include "train/overlap.h"
#include "train/trainer.h"

/* Seconds between progress lines inside a long epoch. */
#define PROGRESS_SECONDS 10.0

void trainer_lap(trainer *t, timer_phase phase, double *mark)
{
    const double now = timer_now();
    t->epoch.seconds[phase] += now - *mark;
    t->run_time.seconds[phase] += now - *mark;
    *mark = now;
}

int trainer_write_metrics(trainer *t, ebm_err *err)
{
    char path[EBM_PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/metrics.h5", t->cfg->out);
    return ebm_pass(err, metrics_file_write(t->ctx, path, t->history, t->progress.epoch,
                                            t->record.attrs, t->record.n, err));
}

/* A per-purpose stream: evaluation must not consume the training stream. */
void trainer_eval_rng(const trainer *t, int epoch, ebm_rng *rng)
{
    rng_derive(rng, (uint64_t)t->cfg->seed, RNG_EVAL, epoch, t->ctx->rank);
}

/* Loads batch rows (mapped, with training noise) and their labels. */
static void gather_batch(trainer *t, int64_t pos, int c)
{
    const data_shard *tr = &t->split[SPLIT_TRAIN];
    const size_t d = (size_t)tr->d;
    /* train_noise is in data units; the map scales it into input units. */
    rng_fill_normal(&t->rng, t->x, (size_t)c * d, (float)t->cfg->train_noise * t->map.scale);
    /* --train-dequant 1: level k -> value_min + (k + u) * cell, the cells of
     * eval --loglik (L levels tile [value_min, value_max] in L cells), so the
     * density trained is the one measured. */
    const double vmin = t->info.value_min;
    const double cell = (t->info.value_max - vmin) / (t->info.value_max - vmin + 1.0);
    for (int i = 0; i < c; i++) {
        const int32_t idx = t->order[pos + i];
        const float *img = tr->images + (size_t)idx * d;
        float *row = t->x + (size_t)i * d;
        if (t->cfg->train_dequant)
            for (size_t j = 0; j < d; j++) {
                const double y = vmin + ((img[j] - vmin) + rng_uniform(&t->rng)) * cell;
                row[j] += (float)(t->map.scale * y + t->map.shift);
            }
        else
            for (size_t j = 0; j < d; j++)
                row[j] += t->map.scale * img[j] + t->map.shift;
        t->labels[i] = tr->labels[idx];
    }
}

/* Local part of one step on c examples from position pos of this epoch's
 * order: gradient sums and status into t->grad. With ov (--overlap on) the
 * buckets' sums start during the backward pass (train/overlap.h); the
 * status is complete before it, so it can ride with the first bucket. */
static void local_step(trainer *t, int64_t pos, int c, int stop, int checkpoint, double *mark,
                       grad_overlap *ov)
{
    const ebm_config *cfg = t->cfg;
    const size_t np = t->shape.n_params, d = (size_t)t->info.d;
    float *status = t->grad + np;
    memset(t->grad, 0, (np + ST_LEN) * sizeof(float));
    /* Tests only: a NaN in this rank's part of the sum (the last layer's
     * first bias), so the step's reduced gradient is not finite. */
    if (fault_nan_gradient(t->progress.global_step + 1, t->ctx->rank))
        t->grad[t->shape.b_off[EBM_LAYERS - 1]] = NAN;
    loss_sums ls = {0};
    const int n_samples = c > 0 && cfg->gen_weight > 0 ? c : 0;
    if (c > 0) {
        gather_batch(t, pos, c);
        trainer_lap(t, PHASE_FORWARD_BACKWARD, mark);
        if (n_samples)
            langevin_draw(&t->sampler, &t->shape, t->params, &t->ws, &t->rng, c,
                          t->x + (size_t)c * d);
        trainer_lap(t, PHASE_SAMPLE, mark);
        const float *logits = model_forward(&t->shape, t->params, &t->ws, t->x, c + n_samples);
        model_jem_loss(c, n_samples, t->info.k, logits, t->labels, (float)cfg->gen_weight,
                       (float)cfg->energy_reg, t->dlogits, &ls);
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
    if (ov)
        grad_overlap_begin(ov, t->ctx, &t->shape, t->grad, ST_LEN);
    if (c > 0)
        model_backward_staged(&t->shape, t->params, &t->ws, t->x, c + n_samples, t->dlogits,
                              t->grad, NULL, ov ? grad_overlap_stage : NULL, ov);
    trainer_lap(t, PHASE_FORWARD_BACKWARD, mark);
}

static int all_finite(const float *v, size_t n)
{
    /* A sum of finite floats cannot overflow a double: one pass, one test. */
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return isfinite(s);
}

/* Collective. <out>/<name> from this rank's state. */
static int write_checkpoint(trainer *t, const char *name, ebm_err *err)
{
    const dist_ctx *ctx = t->ctx;
    char path[EBM_PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/%s", t->cfg->out, name);
    const double mala_step = t->kernel ? ais_kernel_step(t->kernel) : 0.0;
    const ckpt_state st = {
        .shape = &t->shape,
        .params = t->params,
        .exp_avg = t->exp_avg,
        .exp_inf = t->exp_inf,
        .ema = t->ema,
        .base = t->base.d > 0 ? &t->base : NULL,
        .adam_step = t->adam_step,
        .cfg = t->cfg,
        .run = &t->run,
        .map = t->map,
        .value_min = t->info.value_min,
        .value_max = t->info.value_max,
        .height = t->info.height,
        .width = t->info.width,
        .chains = t->sampler.chains,
        .n_chains_total = t->cfg->buffer,
        .first_chain = t->first_chain,
        .n_chains = t->n_chains,
        .rng_state = t->rng.s,
        .order = t->order,
        .n_local = t->split[SPLIT_TRAIN].n,
        .n_local_max = (t->info.n[SPLIT_TRAIN] + ctx->size - 1) / ctx->size,
        .mala_step = t->kernel ? &mala_step : NULL,
        .progress = &t->progress,
        .history = t->history,
        .class_start = t->start.k > 0 ? &t->start : NULL,
    };
    return ebm_pass(err, ckpt_write(ctx, path, &st, err));
}

/* Examples of this rank's shard used by the first `steps` steps of an epoch. */
static int64_t position_after(const shard_plan *plan, int rank, int steps)
{
    int64_t pos = 0;
    for (int s = 0; s < steps; s++)
        pos += shard_count(plan, s, rank);
    return pos;
}

/* The reduced gradient is finite: rank 0 averages it and applies Adamax, the
 * others only count the step; then everyone receives rank 0's parameters. */
static int update(trainer *t, const float *status, double *mark, ebm_err *err)
{
    const size_t np = t->shape.n_params;
    /* The schedule's rate for this step (global_step counts it already). */
    const double lr = lr_schedule_at(&t->lr, t->progress.global_step - 1) *
                      fault_lr_factor(t->progress.global_step, t->progress.rollbacks);
    const adamax_config adam = {lr, 0.9, 0.999, 1e-8};
    if (t->ctx->rank == 0) {
        const float inv = 1.0f / status[EPOCH_COUNT];
        for (size_t i = 0; i < np; i++)
            t->grad[i] *= inv;
        adamax_step(&adam, np, t->params, t->grad, t->exp_avg, t->exp_inf, &t->adam_step);
        if (t->ema)
            ema_update(np, t->ema, t->params, t->cfg->ema, t->adam_step);
    } else {
        t->adam_step++;
    }
    trainer_lap(t, PHASE_ADAMAX, mark);
    EBM_TRY(dist_bcast_floats(t->ctx, t->params, np, 0, err));
    trainer_lap(t, PHASE_BCAST, mark);
    return 0;
}

/* Collective. A step ran away (`why`): training goes back to the start of
 * this epoch, the state rollback.h5 holds (written at the last epoch end),
 * with fresh random streams for every rank (so the chains and the data
 * order differ from the attempt that diverged), and counts it. Every rank
 * decides alike (the step's reduced figures); the counter travels in the
 * checkpoints, so a resumed run rolls back exactly as an uninterrupted one. */
static int roll_back(trainer *t, const char *why, ebm_err *err)
{
    const dist_ctx *ctx = t->ctx;
    const ebm_config *cfg = t->cfg;
    const train_progress was = t->progress;
    const int count = was.rollbacks + 1;
    if (count > EBM_MAX_ROLLBACKS)
        return ebm_fail(err,
                        "training diverged again (%s, epoch %d step %d) after %d rollbacks; "
                        "%s/best.h5 and last.h5 keep the last good state. Try a smaller --lr "
                        "or --step-size",
                        why, was.epoch + 1, was.step, EBM_MAX_ROLLBACKS, cfg->out);
    char path[EBM_PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/rollback.h5", cfg->out);
    int same_world = 0, world_size = 0;
    if (trainer_load(t, path, &same_world, &world_size, err)) {
        char cause[EBM_ERR_LEN];
        snprintf(cause, sizeof cause, "%s", err->msg);
        return ebm_fail(err,
                        "training diverged (%s, epoch %d step %d) and its rollback point "
                        "cannot be read: %s",
                        why, was.epoch + 1, was.step, cause);
    }
    if (t->progress.epoch != was.epoch || t->progress.step != 0 || !same_world)
        return ebm_fail(err,
                        "training diverged (%s, epoch %d) and '%s' is not the start of that "
                        "epoch (it holds epoch %d, step %d, %d ranks)",
                        why, was.epoch + 1, path, t->progress.epoch, t->progress.step,
                        world_size);
    t->progress.rollbacks = count;
    rng_derive(&t->rng, (uint64_t)cfg->seed, RNG_ROLLBACK, count, ctx->rank);
    if (ctx->rank == 0) {
        char text[EBM_ERR_LEN + 256];
        snprintf(text, sizeof text,
                 "  epoch %d step %d: %s: rolled back to the start of epoch %d (rollback %d of "
                 "at most %d), fresh random streams\n",
                 was.epoch + 1, was.step, why, was.epoch + 1, count, EBM_MAX_ROLLBACKS);
        train_event e = {.kind = TRAIN_EVENT_ROLLBACK, .epoch = was.epoch + 1, .step = was.step,
                         .text = text};
        trainer_tell(t, &e);
    }
    return 0;
}

/* Collective. <out>/rollback.h5 becomes the epoch-end last.h5 just written
 * (a hard link: no copy, and the next last.h5 replaces its name, not its
 * contents), the state a divergence in the next epoch goes back to. */
static int set_rollback_point(trainer *t, ebm_err *err)
{
    char last[EBM_PATH_LEN + 32], point[EBM_PATH_LEN + 32], tmp[EBM_PATH_LEN + 40];
    snprintf(last, sizeof last, "%s/last.h5", t->cfg->out);
    snprintf(point, sizeof point, "%s/rollback.h5", t->cfg->out);
    snprintf(tmp, sizeof tmp, "%s/rollback.h5.tmp", t->cfg->out);
    int rc = 0;
    if (t->ctx->rank == 0) {
        unlink(tmp);
        if (link(last, tmp) != 0 || rename(tmp, point) != 0) {
            rc = ebm_fail(err, "cannot make '%s' from '%s': %s", point, last, strerror(errno));
            unlink(tmp);
        }
    }
    return ebm_pass(err, dist_agree(t->ctx, rc, err));
}

/* Runs the rest of the current epoch's steps; sets *stopped after writing
 * last.h5 on a stop request, *rolled_back after going back to the epoch's
 * start. */
static int run_steps(trainer *t, int *stopped, int *rolled_back, ebm_err *err)
{
    const dist_ctx *ctx = t->ctx;
    const ebm_config *cfg = t->cfg;
    const size_t np = t->shape.n_params;
    train_progress *pr = &t->progress;
    const double t_epoch = timer_now();
    double last_progress = t_epoch;
    int64_t pos = position_after(&t->plan, ctx->rank, pr->step);
    const diverge_bounds bounds =
        diverge_bounds_from(t->history, pr->epoch, cfg->gen_weight > 0);
    const int overlap = strcmp(cfg->overlap, "on") == 0;
    grad_overlap ov;
    while (pr->step < t->plan.n_steps) {
        const int c = shard_count(&t->plan, pr->step, ctx->rank);
        dist_watch_where(ctx, "a training step", pr->global_step + 1);
        fault_stall("step", pr->global_step + 1, ctx->rank); /* tests only */
        double mark = timer_now();
        const double t0 = mark;
        fault_slow_step(pr->global_step + 1); /* tests only */
        const int stop = train_stop_requested() || fault_stop_at_step(pr->global_step + 1);
        const int due = ctx->rank == 0 && cfg->checkpoint_every > 0 &&
                        t0 - t->last_ckpt >= 60.0 * cfg->checkpoint_every;
        /* The gradient sum: one MPI_Allreduce after the backward pass, or
         * (--overlap on) per-layer sums started during it, waited for here. */
        if (overlap) {
            local_step(t, pos, c, stop, due, &mark, &ov);
            EBM_TRY(grad_overlap_finish(&ov, err));
        } else {
            local_step(t, pos, c, stop, due, &mark, NULL);
            EBM_TRY(dist_sum_floats(ctx, t->grad, np + ST_LEN, err));
        }
        pos += c;
        trainer_lap(t, PHASE_REDUCE, &mark);
        const float *status = t->grad + np;
        for (int i = 0; i < EPOCH_SUMS; i++)
            pr->sums[i] += status[i];
        pr->step++;
        pr->global_step++;
        /* Every rank holds the same reduced vector, so every rank takes the
         * same decision without another message. */
        const double n_step = status[EPOCH_COUNT] > 0 ? status[EPOCH_COUNT] : 1;
        char why[160];
        if (status[ST_NONFINITE] == 0 &&
            diverge_check(&bounds, status[EPOCH_LOSS] / n_step, status[EPOCH_E_DATA] / n_step,
                          status[EPOCH_E_SAMPLE] / n_step, why, sizeof why)) {
            EBM_TRY(roll_back(t, why, err));
            *rolled_back = 1;
            return 0;
        }
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
            EBM_TRY(update(t, status, &mark, err));
        }
        if (status[ST_STOP] > 0 || status[ST_CHECKPOINT] > 0) {
            EBM_TRY(write_checkpoint(t, "last.h5", err));
            trainer_lap(t, PHASE_CHECKPOINT, &mark);
            t->last_ckpt = mark;
            if (status[ST_STOP] > 0) {
                trainer_print_stop(t);
                *stopped = 1;
                return 0;
            }
        }
        const double now = timer_now();
        /* --stall-timeout auto: the larger of 300 s and 20 times the slowest
         * step so far (identical on every rank up to clock noise). */
        if (now - t0 > t->slowest_step) {
            t->slowest_step = now - t0;
            if (cfg->stall_timeout < 0)
                dist_watchdog_timeout(
                    ctx, dist_stall_auto(fault_auto_floor(DIST_STALL_AUTO_FLOOR), t->slowest_step));
        }
        if (ctx->rank == 0 && now - last_progress > PROGRESS_SECONDS) {
            last_progress = now;
            char text[160];
            train_event e = {.kind = TRAIN_EVENT_STEP,
                             .epoch = pr->epoch + 1,
                             .step = pr->step,
                             .loss = pr->sums[EPOCH_LOSS] / pr->sums[EPOCH_COUNT],
                             .text = text};
            snprintf(text, sizeof text, "  epoch %d step %d/%d: loss %.4f, %.0f examples/s\n",
                     pr->epoch + 1, pr->step, t->plan.n_steps, e.loss,
                     pr->sums[EPOCH_COUNT] / (now - t_epoch));
            trainer_tell(t, &e);
        }
    }
    return 0;
}

/* Validation, the metrics row, metrics.h5 and the checkpoints at an epoch's end. */
static int end_epoch(trainer *t, double train_seconds, ebm_err *err)
{
    const dist_ctx *ctx = t->ctx;
    const ebm_config *cfg = t->cfg;
    train_progress *pr = &t->progress;
    eval_result val;
    ebm_rng erng;
    char where[64];
    snprintf(where, sizeof where, "the validation after epoch %d", pr->epoch + 1);
    dist_watch_where(ctx, where, DIST_WATCH_KEEP);
    fault_stall("eval", pr->epoch + 1, ctx->rank); /* tests only */
    double mark = timer_now();
    trainer_eval_rng(t, pr->epoch, &erng);
    /* With --ema, validation (so best.h5's choice) judges rank 0's average. */
    if (t->ema)
        EBM_TRY(dist_bcast_floats(ctx, t->ema, t->shape.n_params, 0, err));
    EBM_TRY(evaluator_run(&t->eval, ctx, t->ema ? t->ema : t->params, &t->split[SPLIT_VAL], &t->map,
                          (float)cfg->gen_weight, (float)cfg->energy_reg, &erng, &val, err));
    trainer_lap(t, PHASE_EVAL, &mark);
    const int better = cfg->select_by_error
                           ? (val.error < pr->best_val_error ||
                              (val.error == pr->best_val_error && val.loss < pr->best_val_loss))
                           : val.loss < pr->best_val_loss;
    metrics_row *row = &t->history[pr->epoch];
    double wall = train_seconds, slowest = 0;
    /* Timings differ per rank: rank 0's wall time, min/mean/max of the rest:
     * compute, communication, then every phase of the epoch. The checkpoint
     * and metrics writes at an epoch's end count in the next epoch's row. */
    const double *ph = t->epoch.seconds;
    double local[2 + PHASE_EPOCH_COUNT], mmm[2 + PHASE_EPOCH_COUNT][3];
    local[0] = ph[PHASE_SAMPLE] + ph[PHASE_FORWARD_BACKWARD] + ph[PHASE_ADAMAX];
    local[1] = ph[PHASE_REDUCE] + ph[PHASE_BCAST];
    for (int p = 0; p < PHASE_EPOCH_COUNT; p++)
        local[2 + p] = ph[p];
    int slowest_rank = 0;
    EBM_TRY(dist_bcast_bytes(ctx, &wall, sizeof wall, 0, err));
    EBM_TRY(dist_min_mean_max_n(ctx, local, 2 + PHASE_EPOCH_COUNT, mmm, err));
    EBM_TRY(dist_max_loc(ctx, ph[PHASE_SAMPLE] + ph[PHASE_FORWARD_BACKWARD], &slowest,
                         &slowest_rank, err));
    const double *cmin_mean_max = mmm[0], *mmin_mean_max = mmm[1];
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
        /* The collectives' time past the fastest rank's: waiting for others. */
        .time_wait_mean = (mmm[2 + PHASE_REDUCE][1] - mmm[2 + PHASE_REDUCE][0]) +
                          (mmm[2 + PHASE_BCAST][1] - mmm[2 + PHASE_BCAST][0]),
        .time_slowest_rank = slowest_rank,
        .rollbacks = pr->rollbacks,
    };
    for (int p = 0; p < PHASE_EPOCH_COUNT; p++)
        for (int j = 0; j < 3; j++)
            row->time[p][j] = mmm[2 + p][j];
    memset(&t->epoch, 0, sizeof t->epoch);
    trainer_print_epoch(t, row, better);
    pr->epoch++;
    pr->step = 0;
    memset(pr->sums, 0, sizeof pr->sums);
    pr->skipped_epoch = 0;
    if (better) {
        pr->best_epoch = pr->epoch;
        pr->best_val_error = val.error;
        pr->best_val_loss = val.loss;
    }
    trainer_lap(t, PHASE_METRICS, &mark);
    EBM_TRY(trainer_write_metrics(t, err));
    trainer_lap(t, PHASE_METRICS, &mark);
    if (better)
        EBM_TRY(write_checkpoint(t, "best.h5", err));
    EBM_TRY(write_checkpoint(t, "last.h5", err));
    EBM_TRY(set_rollback_point(t, err));
    trainer_lap(t, PHASE_CHECKPOINT, &mark);
    return 0;
}

int train_loop(trainer *t, train_outcome *outcome, ebm_err *err)
{
    int stopped = 0;
    *outcome = TRAIN_DONE;
    t->started = timer_now();
    t->last_ckpt = t->started;
    while (!stopped && t->progress.epoch < t->cfg->epochs) {
        if (t->progress.step == 0)
            rng_shuffle(&t->rng, t->order, (size_t)t->split[SPLIT_TRAIN].n);
        const double t_epoch = timer_now();
        int rolled_back = 0;
        EBM_TRY(run_steps(t, &stopped, &rolled_back, err));
        if (!stopped && !rolled_back)
            EBM_TRY(end_epoch(t, timer_now() - t_epoch, err));
    }
    if (stopped)
        *outcome = TRAIN_STOPPED;
    return 0;
}
