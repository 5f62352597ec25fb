/* report.c: what rank 0 tells (train.h's events, whose text the command
 * prints): the banner, a line per epoch, the stop notice, the time table
 * and the final line with the test error of best.h5. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/timer.h"
#include "train/trainer.h"

/* An event's text, built line by line (the banner is the longest: a few
 * KiB with the longest paths); past the end it is cut, marked "...". */
typedef struct {
    char buf[16384];
    size_t used;
} report_text;

__attribute__((format(printf, 2, 3))) static void add(report_text *r, const char *fmt, ...)
{
    if (r->used + 1 >= sizeof r->buf)
        return;
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(r->buf + r->used, sizeof r->buf - r->used, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof r->buf - r->used) {
        r->used = sizeof r->buf - 1;
        memcpy(r->buf + r->used - 4, "...\n", 4);
    } else {
        r->used += (size_t)n;
    }
}

void trainer_tell(const trainer *t, train_event *event)
{
    if (t->ctx->rank != 0 || !t->listener.fn)
        return;
    event->epochs = t->cfg->epochs;
    event->steps = t->plan.n_steps;
    event->rollbacks = t->progress.rollbacks;
    t->listener.fn(event, t->listener.user);
}

/* Tells an event whose figures are the progress alone. */
static void tell_text(const trainer *t, train_event_kind kind, const report_text *r)
{
    train_event e = {.kind = kind,
                     .epoch = t->progress.epoch + 1,
                     .step = t->progress.step,
                     .text = r->buf};
    trainer_tell(t, &e);
}

void trainer_print_banner(const trainer *t, const char *resume_note)
{
    const dist_ctx *ctx = t->ctx;
    const ebm_config *cfg = t->cfg;
    const run_info *run = &t->run;
    if (ctx->rank != 0)
        return;
    report_text r = {.used = 0};
    add(&r, "ebm_mpi %s (%s)\n", run->program_version, run->git_revision);
    add(&r, "  MPI: %s, %d ranks; BLAS: %s, %d thread(s) per rank; HDF5 %s\n", run->mpi_version,
           ctx->size, run->blas_version, cfg->threads, run->hdf5_version);
    add(&r, "  hosts: %s\n", t->hosts);
    add(&r, "  data: %s\n        train %lld / val %lld / test %lld, %d pixels (%dx%d) in "
           "[%g, %g], %d classes\n",
           run->data_path, (long long)t->info.n[SPLIT_TRAIN], (long long)t->info.n[SPLIT_VAL],
           (long long)t->info.n[SPLIT_TEST], t->info.d, t->info.height, t->info.width,
           t->info.value_min, t->info.value_max, t->info.k);
    if (t->info.source[0])
        add(&r, "        source: %s\n", t->info.source);
    add(&r, "  model: %d-%d-%d-%d-%d ELU MLP, %zu parameters\n", t->shape.d, t->shape.h,
           t->shape.h, t->shape.h, t->shape.k, t->shape.n_params);
    char method[512];
    cli_describe(cfg, method, sizeof method);
    add(&r, "  preset %s: %s\n", cli_preset_name(cfg->preset), method);
    size_t n_opts;
    const cli_option *opts = cli_options(&n_opts);
    add(&r, "  hyperparameters:");
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
            add(&r, "\n   ");
            col = 3;
        }
        add(&r, "%s", item);
        col += (int)strlen(item);
    }
    add(&r, "\n  steps per epoch: %d (global batch %d, last %d); out: %s\n", t->plan.n_steps,
           cfg->batch_size, shard_step_batch(&t->plan, t->plan.n_steps - 1), cfg->out);
    if (resume_note[0])
        add(&r, "%s\n", resume_note);
    tell_text(t, TRAIN_EVENT_SETUP, &r);
}

void trainer_print_epoch(const trainer *t, const metrics_row *row, int better)
{
    const train_progress *pr = &t->progress;
    if (t->ctx->rank != 0)
        return;
    report_text r = {.used = 0};
    char rolled[32] = "";
    if (pr->rollbacks > 0)
        snprintf(rolled, sizeof rolled, "  rollbacks %d", pr->rollbacks);
    char kernel[96] = "";
    if (t->kernel) { /* rank 0's chains, since the start */
        const ais_kernel_stats *ks = ais_kernel_get_stats(t->kernel);
        snprintf(kernel, sizeof kernel, "  block acc %.3f mala acc %.3f eta %.2e move %.3f",
                 ks->block_proposed > 0 ? ks->block_accepted / ks->block_proposed : 0.0,
                 ks->mala_proposed > 0 ? ks->mala_accepted / ks->mala_proposed : 0.0, ks->eta,
                 ks->transitions > 0 ? ks->moved / ks->transitions : 0.0);
    }
    add(&r, "epoch %3d/%d  train loss %.4f err %5.2f%%  val loss %.4f err %5.2f%%  "
           "gen %+.4f  E(x) %.2f E(x~) %.2f  %.2fs  %.0f ex/s  comm %.0f%%%s%s%s%s\n",
           pr->epoch + 1, t->cfg->epochs, row->train_loss, 100.0 * row->train_error,
           row->val_loss, 100.0 * row->val_error, row->val_gen, row->energy_data,
           row->energy_sample, row->wall_seconds, row->examples_per_second,
           100.0 * row->comm_mean / (row->comm_mean + row->compute_mean + 1e-12),
           kernel, pr->skipped_epoch ? "  (skipped steps)" : "", rolled, better ? "  *best" : "");
    train_event e = {.kind = TRAIN_EVENT_EPOCH,
                     .epoch = pr->epoch + 1,
                     .step = pr->step,
                     .row = row,
                     .best = better,
                     .text = r.buf};
    trainer_tell(t, &e);
}

void trainer_print_stop(const trainer *t)
{
    const train_progress *pr = &t->progress;
    if (t->ctx->rank != 0)
        return;
    report_text r = {.used = 0};
    add(&r, "stopped on request after step %d/%d of epoch %d: %s/last.h5 written; continue "
           "with --resume auto\n",
           pr->step, t->plan.n_steps, pr->epoch + 1, t->cfg->out);
    tell_text(t, TRAIN_EVENT_STOPPED, &r);
}

/* Collective. The end-of-run table (CoMD's timer table): each phase's
 * seconds on the ranks, min / mean / max, and its share of the run's wall
 * time; the time no phase accounts for is a row of its own. */
static int print_timers(const trainer *t, ebm_err *err)
{
    enum { UNACCOUNTED = PHASE_COUNT, WALL, N_ROWS };
    const double wall = timer_now() - t->created;
    double local[N_ROWS], mmm[N_ROWS][3], sum = 0;
    for (int p = 0; p < PHASE_COUNT; p++)
        sum += local[p] = t->run_time.seconds[p];
    local[UNACCOUNTED] = wall - sum;
    local[WALL] = wall;
    EBM_TRY(dist_min_mean_max_n(t->ctx, local, N_ROWS, mmm, err));
    if (t->ctx->rank != 0)
        return 0;
    static const timer_phase order[] = {PHASE_SETUP,  PHASE_SAMPLE,     PHASE_FORWARD_BACKWARD,
                                        PHASE_REDUCE, PHASE_ADAMAX,     PHASE_BCAST,
                                        PHASE_EVAL,   PHASE_CHECKPOINT, PHASE_METRICS,
                                        PHASE_REPORT};
    const double total = mmm[WALL][1] > 0 ? mmm[WALL][1] : 1;
    report_text r = {.used = 0};
    add(&r, "time by phase over %d rank(s): seconds min / mean / max, %% of the wall time\n",
           t->ctx->size);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const double *m = mmm[order[i]];
        add(&r, "  %-32s %9.3f %9.3f %9.3f %6.1f%%\n", timer_phase_title(order[i]), m[0], m[1],
               m[2], 100.0 * m[1] / total);
        if (order[i] == PHASE_BCAST) {
            /* Past the fastest rank's time in a collective: waiting for others. */
            const double wait = (mmm[PHASE_REDUCE][1] - mmm[PHASE_REDUCE][0]) +
                                (mmm[PHASE_BCAST][1] - mmm[PHASE_BCAST][0]);
            add(&r, "    %-30s %9s %9.3f %9s %6.1f%%\n", "(of the two: waiting for ranks)", "",
                   wait, "", 100.0 * wait / total);
        }
    }
    const double *u = mmm[UNACCOUNTED], *w = mmm[WALL];
    add(&r, "  %-32s %9.3f %9.3f %9.3f %6.1f%%\n", "not in any phase", u[0], u[1], u[2],
           100.0 * u[1] / total);
    add(&r, "  %-32s %9.3f %9.3f %9.3f %6.1f%%\n", "wall time", w[0], w[1], w[2], 100.0);
    tell_text(t, TRAIN_EVENT_TIMES, &r);
    return 0;
}

int train_report(trainer *t, ebm_err *err)
{
    const dist_ctx *ctx = t->ctx;
    const ebm_config *cfg = t->cfg;
    const double seconds = timer_now() - t->started;
    t->seconds = seconds;
    if (t->progress.best_epoch == 0)
        return 0; /* no epoch was validated (nothing to report) */
    char path[EBM_PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/best.h5", cfg->out);
    /* A run resumed into a new directory from a copied last.h5 may never have
     * written best.h5 itself: say so rather than fail at the very end. */
    int exists = ctx->rank == 0 && access(path, F_OK) == 0;
    if (dist_bcast_bytes(ctx, &exists, sizeof exists, 0, err))
        return ebm_trace(err);
    report_text r = {.used = 0};
    if (!exists) {
        EBM_TRY(print_timers(t, err));
        if (ctx->rank == 0) {
            add(&r, "done in %.1fs: %lld steps. The best epoch (%d, val error %.2f%%) was saved "
                    "before this run resumed; %s does not exist here\n",
                seconds, (long long)t->progress.global_step, t->progress.best_epoch,
                100.0 * t->progress.best_val_error, path);
            tell_text(t, TRAIN_EVENT_DONE, &r);
        }
        return 0;
    }
    double mark = timer_now();
    ckpt_model best;
    if (ckpt_read_model(ctx, path, &best, err))
        return ebm_trace(err);
    eval_result test;
    ebm_rng erng;
    trainer_eval_rng(t, -2, &erng);
    int rc = evaluator_run(&t->eval, ctx, best.params, &t->split[SPLIT_TEST], &best.map,
                           (float)cfg->gen_weight, (float)cfg->energy_reg, &erng, &test, err);
    trainer_lap(t, PHASE_REPORT, &mark);
    if (rc == 0) {
        t->test_n = (int64_t)test.n;
        t->test_error = test.error;
        t->test_loss = test.loss;
        rc = print_timers(t, err);
    }
    const train_progress *pr = &t->progress;
    if (rc == 0 && test.n == 0)
        add(&r, "done in %.1fs: %lld steps (%lld skipped). best.h5 = epoch %d: val error "
                "%.2f%%; no test examples in the data file\n",
            seconds, (long long)pr->global_step, (long long)pr->skipped_total, pr->best_epoch,
            100.0 * pr->best_val_error);
    else if (rc == 0)
        add(&r, "done in %.1fs: %lld steps (%lld skipped). best.h5 = epoch %d: val error "
                "%.2f%%, test error %.2f%% (test loss %.4f, %lld examples)%s\n",
            seconds, (long long)pr->global_step, (long long)pr->skipped_total, pr->best_epoch,
            100.0 * pr->best_val_error, 100.0 * test.error, test.loss, (long long)test.n,
            pr->rollbacks ? "; rolled back after a divergence" : "");
    if (rc == 0)
        tell_text(t, TRAIN_EVENT_DONE, &r);
    ckpt_model_free(&best);
    return ebm_pass(err, rc);
}

void train_summarize(const trainer *t, train_summary *s)
{
    const train_progress *pr = &t->progress;
    *s = (train_summary){
        .epochs_done = pr->epoch,
        .steps = pr->global_step,
        .skipped_steps = pr->skipped_total,
        .rollbacks = pr->rollbacks,
        .best_epoch = pr->best_epoch,
        .best_val_error = pr->best_val_error,
        .best_val_loss = pr->best_val_loss,
        .test_n = t->test_n,
        .test_error = t->test_error,
        .test_loss = t->test_loss,
        .seconds = t->seconds > 0 ? t->seconds : timer_now() - t->started,
    };
}
