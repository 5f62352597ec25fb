/* train.c: the training loop. Each rank: its shard, its chains, its RNG; per
 * step one allreduce of gradient sums + status, Adamax on rank 0, broadcast. */
#define _POSIX_C_SOURCE 200809L
#include "ebm/train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ebm/adamax.h"
#include "ebm/data.h"
#include "ebm/eval.h"
#include "ebm/langevin.h"
#include "ebm/model.h"
#include "ebm/rng.h"
#include "ebm/shard.h"
#include "ebm/timer.h"

/* Status values that ride on the gradient allreduce, after the gradients. */
enum {
    ST_COUNT,
    ST_LOSS,
    ST_CE,
    ST_GEN,
    ST_ERRORS,
    ST_E_DATA,
    ST_E_SAMPLE,
    ST_NONFINITE,
    ST_STOP,
    ST_LEN
};

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
}

static int load_data(const dist_ctx *ctx, const ebm_config *cfg, const char *path, trainer *t,
                     ebm_err *err)
{
    h5io_data *file = NULL;
    if (h5io_data_open(ctx, path, &file, &t->info, err))
        return -1;
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
            rc = h5io_data_read(file, s, &t->split[s], err);
        if (rc == 0)
            rc = data_validate(&t->split[s], &t->info, data_split_names[s], err);
        rc = dist_agree(ctx, rc, err);
    }
    h5io_data_close(file);
    return rc;
}

static int trainer_init(const dist_ctx *ctx, const ebm_config *cfg, const char *data_path,
                        trainer *t, ebm_err *err)
{
    memset(t, 0, sizeof *t);
    if (load_data(ctx, cfg, data_path, t, err))
        return -1;
    model_shape_init(&t->shape, t->info.d, cfg->hidden, t->info.k);
    t->map = data_input_map(&t->info, cfg->map_inputs);
    int rc = shard_plan_init(&t->plan, t->info.n[SPLIT_TRAIN], cfg->batch_size, ctx->size, err);
    if (dist_agree(ctx, rc, err))
        return -1;
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
    rc = (!t->params || !t->grad || !t->order || !t->x || !t->dlogits || !t->labels ||
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
    };
    int64_t first_chain = 0, n_chains = 0;
    if (cfg->buffer > 0)
        shard_range(cfg->buffer, ctx->size, ctx->rank, &first_chain, &n_chains);
    if (rc == 0)
        rc = langevin_init(&t->sampler, &lp, t->info.d, t->info.k, cap, n_chains, first_chain,
                           &t->rng, err);
    if (rc == 0)
        rc = evaluator_init(&t->eval, &t->shape, &lp, EVAL_CHUNK, err);
    for (int64_t i = 0; i < t->split[SPLIT_TRAIN].n; i++)
        if (t->order)
            t->order[i] = (int32_t)i;
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
static void local_step(trainer *t, const ebm_config *cfg, int64_t pos, int c, int stop)
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
    status[ST_COUNT] = (float)c;
    status[ST_LOSS] = (float)ls.loss;
    status[ST_CE] = (float)ls.ce;
    status[ST_GEN] = (float)ls.gen;
    status[ST_ERRORS] = (float)ls.errors;
    status[ST_E_DATA] = (float)ls.energy_data;
    status[ST_E_SAMPLE] = (float)ls.energy_sample;
    status[ST_NONFINITE] = isfinite(ls.loss) ? 0.0f : 1.0f;
    status[ST_STOP] = (float)stop;
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
                      const trainer *t, const char *name, int epoch, int64_t global_step,
                      int best_epoch, double best_err, double best_loss, ebm_err *err)
{
    char path[EBM_PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/%s", cfg->out, name);
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
        .epoch = epoch,
        .global_step = global_step,
        .best_epoch = best_epoch,
        .best_val_error = best_err,
        .best_val_loss = best_loss,
    };
    return h5io_checkpoint_write(ctx, path, &st, err);
}

/* A per-purpose stream: evaluation must not consume the training stream. */
static void eval_rng(ebm_rng *rng, const ebm_config *cfg, int epoch, int rank)
{
    rng_seed(rng, (uint64_t)cfg->seed ^ (0xD1B54A32D192ED03ULL * (uint64_t)(epoch + 1)),
             (uint64_t)rank + 1);
}

int train_run(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run, ebm_err *err)
{
    trainer t;
    if (cfg->resume[0] || cfg->checkpoint_every > 0)
        return ebm_fail(err, "--resume and --checkpoint-every are not supported by this version");
    int rc = train_prepare_out_dir(cfg->out, err);
    if (dist_agree(ctx, rc, err))
        return -1;
    if (trainer_init(ctx, cfg, run->data_path, &t, err)) {
        trainer_free(&t);
        return -1;
    }
    print_banner(ctx, cfg, run, &t);

    const size_t np = t.shape.n_params;
    const adamax_config adam = {cfg->lr, 0.9, 0.999, 1e-8};
    const float w = (float)cfg->gen_weight, alpha = (float)cfg->energy_reg;
    int64_t global_step = 0, skipped_total = 0;
    int skipped_in_a_row = 0, best_epoch = -1;
    double best_err = INFINITY, best_loss = INFINITY;
    const double t_start = timer_now();

    for (int epoch = 0; epoch < cfg->epochs && rc == 0; epoch++) {
        const double t_epoch = timer_now();
        double compute = 0, comm = 0, sums[ST_LEN] = {0};
        int64_t skipped = 0;
        rng_shuffle(&t.rng, t.order, (size_t)t.split[SPLIT_TRAIN].n);
        int64_t pos = 0;
        double last_progress = t_epoch;
        for (int s = 0; s < t.plan.n_steps && rc == 0; s++, global_step++) {
            const int c = shard_count(&t.plan, s, ctx->rank);
            const double t0 = timer_now();
            local_step(&t, cfg, pos, c, 0);
            pos += c;
            const double t1 = timer_now();
            rc = dist_sum_floats(ctx, t.grad, np + ST_LEN, err);
            const double t2 = timer_now();
            if (rc)
                break;
            const float *status = t.grad + np;
            for (int i = 0; i < ST_LEN; i++)
                sums[i] += status[i];
            /* Every rank holds the same reduced vector, so every rank takes
             * the same decision without another message. */
            if (status[ST_NONFINITE] > 0 || !all_finite(t.grad, np)) {
                skipped++, skipped_total++;
                if (++skipped_in_a_row >= EBM_MAX_SKIPPED_IN_A_ROW)
                    rc = ebm_fail(err,
                                  "training diverged: %d non-finite gradients in a row (epoch "
                                  "%d, step %d); %s/best.h5 and last.h5 keep the last good "
                                  "state. Try a smaller --lr or --step-size, or --preset stable",
                                  skipped_in_a_row, epoch + 1, s + 1, cfg->out);
                compute += t1 - t0;
                comm += t2 - t1;
                continue;
            }
            skipped_in_a_row = 0;
            const double t3 = timer_now();
            if (ctx->rank == 0) {
                const float inv = 1.0f / status[ST_COUNT];
                for (size_t i = 0; i < np; i++)
                    t.grad[i] *= inv;
                adamax_step(&adam, np, t.params, t.grad, t.exp_avg, t.exp_inf, &t.adam_step);
            } else {
                t.adam_step++;
            }
            const double t4 = timer_now();
            rc = dist_bcast_floats(ctx, t.params, np, 0, err);
            const double t5 = timer_now();
            compute += (t1 - t0) + (t4 - t3);
            comm += (t2 - t1) + (t5 - t4);
            if (ctx->rank == 0 && t5 - last_progress > PROGRESS_SECONDS) {
                last_progress = t5;
                printf("  epoch %d step %d/%d: loss %.4f, %.0f examples/s\n", epoch + 1, s + 1,
                       t.plan.n_steps, sums[ST_LOSS] / sums[ST_COUNT],
                       sums[ST_COUNT] / (t5 - t_epoch));
                fflush(stdout);
            }
        }
        if (rc)
            break;
        const double train_seconds = timer_now() - t_epoch;

        eval_result val;
        ebm_rng erng;
        eval_rng(&erng, cfg, epoch, ctx->rank);
        rc = evaluator_run(&t.eval, ctx, t.params, &t.split[SPLIT_VAL], &t.map, w, alpha, &erng,
                           &val, err);
        if (rc)
            break;
        const int better = cfg->select_by_error
                               ? (val.error < best_err ||
                                  (val.error == best_err && val.loss < best_loss))
                               : val.loss < best_loss;
        if (better) {
            best_epoch = epoch + 1;
            best_err = val.error;
            best_loss = val.loss;
        }
        const double n = sums[ST_COUNT];
        if (ctx->rank == 0) {
            printf("epoch %3d/%d  train loss %.4f err %5.2f%%  val loss %.4f err %5.2f%%  "
                   "gen %+.4f  E(x) %.2f E(x~) %.2f  %.2fs  %.0f ex/s%s%s\n",
                   epoch + 1, cfg->epochs, sums[ST_LOSS] / n, 100.0 * sums[ST_ERRORS] / n,
                   val.loss, 100.0 * val.error, val.gen, sums[ST_E_DATA] / n,
                   sums[ST_E_SAMPLE] / n, train_seconds, n / train_seconds,
                   skipped ? "  (skipped steps)" : "", better ? "  *best" : "");
            fflush(stdout);
        }
        (void)compute, (void)comm;
        if (better)
            rc = write_ckpt(ctx, cfg, run, &t, "best.h5", epoch + 1, global_step, best_epoch,
                            best_err, best_loss, err);
        if (rc == 0)
            rc = write_ckpt(ctx, cfg, run, &t, "last.h5", epoch + 1, global_step, best_epoch,
                            best_err, best_loss, err);
    }

    if (rc == 0 && best_epoch > 0) {
        /* Report what a user will load: read best.h5 back and test it. */
        char path[EBM_PATH_LEN + 32];
        snprintf(path, sizeof path, "%s/best.h5", cfg->out);
        ckpt_model best;
        rc = h5io_checkpoint_read_model(ctx, path, &best, err);
        eval_result test;
        ebm_rng erng;
        eval_rng(&erng, cfg, -2, ctx->rank);
        if (rc == 0)
            rc = evaluator_run(&t.eval, ctx, best.params, &t.split[SPLIT_TEST], &best.map, w,
                               alpha, &erng, &test, err);
        if (rc == 0 && ctx->rank == 0) {
            printf("done in %.1fs: %lld steps (%lld skipped). best.h5 = epoch %d: val error "
                   "%.2f%%, test error %.2f%% (test loss %.4f, %lld examples)\n",
                   timer_now() - t_start, (long long)global_step, (long long)skipped_total,
                   best_epoch, 100.0 * best_err, 100.0 * test.error, test.loss,
                   (long long)test.n);
            fflush(stdout);
        }
        ckpt_model_free(&best);
    }
    trainer_free(&t);
    return rc;
}
