/* api_mpi.c: the communicator calls of ebm_mpi_mpi.h: sharded evaluation,
 * as the eval command computes it, and eval and sample with the command's
 * options (the command's own path, src/api/api_train.h), on a duplicate of
 * the caller's communicator. The communicator is handed to src/par/ as
 * bytes: only that layer calls MPI. */
#define _GNU_SOURCE /* fopencookie */
#include "ebm_mpi/ebm_mpi_mpi.h"

#include "api/api.h"
#include "api/api_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/data.h"
#include "core/rng.h"
#include "core/shard.h"
#include "ebm/eval.h"
#include "io/data_file.h"

/* Collective. eval's figures (src/infer.c, infer_eval_run) without printing. */
static int evaluate(const dist_ctx *ctx, const char *ckpt, const char *data_path, int split,
                    ebm_eval_result *out, double *confusion, size_t confusion_count,
                    int *status, ebm_err *err)
{
    ckpt_model m;
    *status = EBM_ERR_FORMAT;
    EBM_TRY(ckpt_read_model(ctx, ckpt, &m, err));
    data_file *file = NULL;
    data_info info = {0};
    data_shard shard = {0};
    evaluator ev = {0};
    langevin_gauss start = {0};
    int rc = 0;
    if (confusion && confusion_count != (size_t)m.shape.k * m.shape.k) {
        *status = EBM_ERR_ARGUMENT;
        rc = ebm_fail(err, "ebm_eval_mpi: confusion holds %zu values, %d classes need %d",
                      confusion_count, m.shape.k, m.shape.k * m.shape.k);
    }
    if (rc == 0)
        rc = data_file_open(ctx, data_path, &file, &info, err);
    if (rc == 0 && (info.d != m.shape.d || info.k != m.shape.k ||
                    info.value_min != m.value_min || info.value_max != m.value_max))
        rc = ebm_fail(err,
                      "data file '%s' (%d pixels in [%g, %g], %d classes) does not match "
                      "checkpoint '%s' (%d inputs in [%g, %g], %d classes)",
                      data_path, info.d, info.value_min, info.value_max, info.k, ckpt,
                      m.shape.d, m.value_min, m.value_max, m.shape.k);
    if (rc == 0 && info.n[split] == 0)
        rc = ebm_fail(err, "data file '%s' has no %s examples", data_path,
                      data_split_names[split]);
    if (rc == 0) {
        int64_t off, n;
        shard_range(info.n[split], ctx->size, ctx->rank, &off, &n);
        rc = data_shard_alloc(&shard, info.n[split], off, n, info.d, err);
        langevin_params lp = {
            .steps = m.langevin_steps,
            .step_size = (float)m.step_size,
            .noise = (float)m.noise,
            .step_decay = (float)m.step_decay,
            .reinit = 0.0f,
            .clamp = m.clamp_chains,
            .lo = m.map.scale * (float)m.value_min + m.map.shift,
            .hi = m.map.scale * (float)m.value_max + m.map.shift,
            .target_class = -1,
            .base = m.base.d > 0 ? &m.base : NULL,
            .start_base = m.chain_init == 2,
        };
        if (m.chain_init == 1 && m.class_start.k > 0) {
            lp.start = &m.class_start; /* stored (format 5 on), as eval uses them */
        } else if (m.chain_init == 1) {
            rc = dist_agree(ctx, rc, err);
            if (rc == 0)
                rc = infer_fit_class_start(ctx, &m, ckpt, data_path, &start, err);
            lp.start = &start;
        }
        if (rc == 0)
            rc = evaluator_init(&ev, &m.shape, &lp, EBM_CHUNK_ROWS, err);
        rc = dist_agree(ctx, rc, err);
        if (rc == 0)
            rc = data_file_read(file, split, &shard, err);
        if (rc == 0)
            rc = data_validate(&shard, &info, data_path, data_split_names[split], err);
        rc = dist_agree(ctx, rc, err);
    }
    data_file_close(file);
    if (rc == 0) {
        ebm_rng rng;
        /* eval's fixed stream: the same checkpoint gives the same figures. */
        rng_derive(&rng, 0x65766131ULL, RNG_RANK, 0, ctx->rank);
        eval_result r;
        rc = evaluator_run_keep(&ev, ctx, m.params, &shard, &m.map, (float)m.gen_weight,
                                (float)m.energy_reg, &rng, NULL, &r, err);
        if (rc == 0) {
            *out = (ebm_eval_result){(int64_t)r.n, r.loss, r.ce, r.gen, r.error, r.ece,
                                     r.energy_data, r.energy_sample};
            if (confusion)
                memcpy(confusion, r.confusion, confusion_count * sizeof(double));
        } else {
            *status = EBM_ERR_MPI;
        }
    }
    evaluator_free(&ev);
    langevin_gauss_free(&start);
    data_shard_free(&shard);
    ckpt_model_free(&m);
    return ebm_pass(err, rc);
}

/* Both entries once the context exists. */
static int eval_on(dist_ctx *ctx, const char *checkpoint, const char *data_path,
                   const char *split, ebm_eval_result *result, size_t result_size,
                   double *confusion, size_t confusion_count)
{
    int s = -1;
    for (int i = 0; split && i < SPLIT_COUNT; i++)
        if (strcmp(split, data_split_names[i]) == 0)
            s = i;
    int status = EBM_ERR_ARGUMENT;
    ebm_err err;
    int rc = 0;
    if (s < 0)
        rc = ebm_fail(&err, "split '%s': must be train, val or test", split ? split : "(NULL)");
    else if (!checkpoint || !data_path || !result)
        rc = ebm_fail(&err, "ebm_eval_mpi: %s is NULL",
                      !checkpoint ? "checkpoint" : !data_path ? "data_path" : "result");
    else if (result_size == 0 || result_size > sizeof(ebm_eval_result))
        rc = ebm_fail(&err, "ebm_eval_mpi: result_size %zu, this library's has %zu", result_size,
                      sizeof(ebm_eval_result));
    ebm_eval_result r;
    /* The NULL tests are implied by rc == 0; said again for cppcheck. */
    if (rc == 0 && checkpoint && data_path) {
        api_quiet q;
        api_quiet_begin(&q);
        rc = evaluate(ctx, checkpoint, data_path, s, &r, confusion, confusion_count, &status,
                      &err);
        api_quiet_end(&q);
    }
    dist_user_free(ctx);
    if (rc)
        return api_fail(api_status_of(&err, status), &err);
    memcpy(result, &r, result_size);
    return EBM_OK;
}

int ebm_eval_mpi(MPI_Comm comm, const char *checkpoint, const char *data_path, const char *split,
                 ebm_eval_result *result, size_t result_size, double *confusion,
                 size_t confusion_count)
{
    api_begin();
    dist_ctx ctx;
    ebm_err err;
    if (dist_from_user(&comm, sizeof comm, &ctx, &err))
        return api_fail(EBM_ERR_MPI, &err);
    return eval_on(&ctx, checkpoint, data_path, split, result, result_size, confusion,
                   confusion_count);
}

int ebm_eval_mpi_f(MPI_Fint comm, const char *checkpoint, const char *data_path,
                   const char *split, ebm_eval_result *result, size_t result_size,
                   double *confusion, size_t confusion_count)
{
    api_begin();
    dist_ctx ctx;
    ebm_err err;
    if (dist_from_fortran((int64_t)comm, &ctx, &err))
        return api_fail(EBM_ERR_MPI, &err);
    return eval_on(&ctx, checkpoint, data_path, split, result, result_size, confusion,
                   confusion_count);
}

/* ---- eval and sample with the command's options -------------------------- */

/* The text function behind a FILE (fopencookie): what the command would
 * print goes to the caller's function on rank 0, nowhere elsewhere. */
typedef struct {
    ebm_text_fn fn;
    void *user;
} text_sink;

static ssize_t sink_write(void *cookie, const char *buf, size_t size)
{
    const text_sink *sink = cookie;
    if (!sink->fn || size == 0)
        return (ssize_t)size;
    char *text = malloc(size + 1);
    if (!text)
        return -1;
    memcpy(text, buf, size);
    text[size] = '\0';
    sink->fn(text, sink->user);
    free(text);
    return (ssize_t)size;
}

/* Both commands, both entries, once the context exists (freed here). */
static int command_on(dist_ctx *ctx, ebm_command cmd, int n_options, const char *const *options,
                      ebm_text_fn text, void *user, ebm_eval_result *result, size_t result_size,
                      double *confusion, size_t confusion_count)
{
    ebm_err err = {0};
    int status = EBM_ERR_ARGUMENT;
    const char *const call = cmd == CMD_EVAL ? "ebm_eval_options_mpi" : "ebm_sample_mpi";
    ebm_config *cfg = ebm_calloc(1, sizeof *cfg, "options", &err);
    const char **words = n_options >= 0 ? ebm_calloc((size_t)n_options + 1, sizeof *words,
                                                     "the command line", &err)
                                        : NULL;
    int rc = cfg && (words || n_options < 0) ? 0 : -1;
    if (rc == 0 && result && (result_size == 0 || result_size > sizeof(ebm_eval_result)))
        rc = ebm_fail(&err, "%s: result_size %zu, this library's has %zu", call, result_size,
                      sizeof(ebm_eval_result));
    if (rc == 0)
        rc = options_parse(cmd, n_options, options, cfg, &err);
    if (rc == 0 && cfg->want_help)
        rc = ebm_fail(&err, "%s: --help is the command's (ebm_mpi %s --help)", call,
                      options_command_name(cmd));
    rc = dist_agree(ctx, rc, &err);
    text_sink sink = {ctx->rank == 0 ? text : NULL, user};
    FILE *out = NULL;
    if (rc == 0) {
        out = fopencookie(&sink, "w", (cookie_io_functions_t){.write = sink_write});
        rc = out && setvbuf(out, NULL, _IOLBF, BUFSIZ) == 0
                 ? 0
                 : ebm_fail(&err, "%s: cannot make the output stream", call);
        rc = dist_agree(ctx, rc, &err);
    }
    eval_result r = {0};
    if (rc == 0 && cfg && words) { /* cfg and words: implied by rc == 0, said for the analyser */
        status = EBM_ERR_IO;
        char data[EBM_PATH_LEN];
        const api_train_caller caller =
            api_library_caller(call, n_options, options, words, data, sizeof data);
        api_quiet q;
        api_quiet_begin(&q);
        rc = api_infer(ctx, cfg, &caller, out, &r, confusion, confusion_count, &err);
        api_quiet_end(&q);
    }
    if (out)
        fclose(out);
    free(words);
    free(cfg);
    dist_user_free(ctx);
    if (rc)
        return api_fail(api_status_of(&err, status), &err);
    if (result) {
        const ebm_eval_result e = {(int64_t)r.n, r.loss, r.ce, r.gen, r.error, r.ece,
                                   r.energy_data, r.energy_sample};
        memcpy(result, &e, result_size);
    }
    return EBM_OK;
}

int ebm_eval_options_mpi(MPI_Comm comm, int n_options, const char *const *options,
                         ebm_text_fn text, void *user, ebm_eval_result *result,
                         size_t result_size, double *confusion, size_t confusion_count)
{
    api_begin();
    dist_ctx ctx;
    ebm_err err;
    if (dist_from_user(&comm, sizeof comm, &ctx, &err))
        return api_fail(EBM_ERR_MPI, &err);
    return command_on(&ctx, CMD_EVAL, n_options, options, text, user, result, result_size,
                      confusion, confusion_count);
}

int ebm_eval_options_mpi_f(MPI_Fint comm, int n_options, const char *const *options,
                           ebm_text_fn text, void *user, ebm_eval_result *result,
                           size_t result_size, double *confusion, size_t confusion_count)
{
    api_begin();
    dist_ctx ctx;
    ebm_err err;
    if (dist_from_fortran((int64_t)comm, &ctx, &err))
        return api_fail(EBM_ERR_MPI, &err);
    return command_on(&ctx, CMD_EVAL, n_options, options, text, user, result, result_size,
                      confusion, confusion_count);
}

int ebm_sample_mpi(MPI_Comm comm, int n_options, const char *const *options, ebm_text_fn text,
                   void *user)
{
    api_begin();
    dist_ctx ctx;
    ebm_err err;
    if (dist_from_user(&comm, sizeof comm, &ctx, &err))
        return api_fail(EBM_ERR_MPI, &err);
    return command_on(&ctx, CMD_SAMPLE, n_options, options, text, user, NULL, 0, NULL, 0);
}

int ebm_sample_mpi_f(MPI_Fint comm, int n_options, const char *const *options, ebm_text_fn text,
                     void *user)
{
    api_begin();
    dist_ctx ctx;
    ebm_err err;
    if (dist_from_fortran((int64_t)comm, &ctx, &err))
        return api_fail(EBM_ERR_MPI, &err);
    return command_on(&ctx, CMD_SAMPLE, n_options, options, text, user, NULL, 0, NULL, 0);
}
