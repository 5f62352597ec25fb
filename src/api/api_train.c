/* api_train.c: training through the library. api_train is the one path
 * of both `ebm_mpi train` and ebm_train_mpi (include/ebm_mpi/ebm_mpi_mpi.h),
 * which parses the command's option strings with the same table and runs
 * on a duplicate of the caller's communicator. The communicator is handed
 * to src/par/ as bytes: only that layer calls MPI. */
#define _GNU_SOURCE /* dladdr */
#include "ebm_mpi/ebm_mpi_mpi.h"

#include "api/api.h"
#include "api/api_train.h"

#include <dlfcn.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "infer.h"
#include "io/h5file.h"
#include "num/blas.h"
#include "version.h"

/* Appends `text` to buf (capacity len, used *used); past the end marks the
 * cut with "..." so a record never passes a cut line for a whole one. */
static void append(char *buf, size_t len, size_t *used, const char *text)
{
    const size_t n = strlen(text);
    if (*used + n + 4 > len) {
        if (*used + 4 <= len && strcmp(buf + *used - (*used >= 3 ? 3 : 0), "...") != 0)
            *used += (size_t)snprintf(buf + *used, len - *used, "...");
        return;
    }
    memcpy(buf + *used, text, n + 1);
    *used += n;
}

/* The words as a shell would take them back: words with other characters
 * than [A-Za-z0-9_./=:,+@%-] in single quotes. */
static void command_line(int n, const char *const *words, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *a = words[i];
        char word[EBM_PATH_LEN * 4 + 8];
        size_t w = 0;
        const int plain = a[0] && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                             "0123456789_./=:,+@%-") == strlen(a);
        if (i > 0)
            word[w++] = ' ';
        if (!plain)
            word[w++] = '\'';
        for (const char *p = a; *p && w + 6 < sizeof word; p++) {
            if (*p == '\'' && !plain) {
                memcpy(word + w, "'\\''", 4);
                w += 4;
            } else {
                word[w++] = *p;
            }
        }
        if (!plain)
            word[w++] = '\'';
        word[w] = '\0';
        append(buf, len, &used, word);
    }
}

/* Collective. "node1: 0-3; node2: 4-7": every host with the ranks on it. */
static int host_list(const dist_ctx *ctx, char *buf, size_t len, ebm_err *err)
{
    enum { NAME = 256 };
    char mine[NAME];
    dist_host_name(mine, sizeof mine);
    char *all = ebm_calloc((size_t)ctx->size, NAME, "host names", err);
    int rc = dist_agree(ctx, all ? 0 : -1, err);
    if (rc == 0)
        rc = dist_gather_bytes(ctx, mine, NAME, all, 0, err);
    if (rc == 0 && ctx->rank == 0) {
        size_t used = 0;
        buf[0] = '\0';
        for (int r = 0; r < ctx->size; r++) {
            const char *host = all + (size_t)r * NAME;
            int seen = 0;
            for (int q = 0; q < r && !seen; q++)
                seen = strcmp(all + (size_t)q * NAME, host) == 0;
            if (seen)
                continue;
            char item[NAME + 32];
            snprintf(item, sizeof item, "%s%s:", used ? "; " : "", host);
            append(buf, len, &used, item);
            /* Its ranks as ranges of consecutive ones. */
            for (int a = r; a < ctx->size; a++) {
                if (strcmp(all + (size_t)a * NAME, host) != 0)
                    continue;
                int b = a;
                while (b + 1 < ctx->size && strcmp(all + (size_t)(b + 1) * NAME, host) == 0)
                    b++;
                if (b > a)
                    snprintf(item, sizeof item, " %d-%d", a, b);
                else
                    snprintf(item, sizeof item, " %d", a);
                append(buf, len, &used, item);
                a = b;
            }
        }
    }
    free(all);
    if (rc == 0)
        rc = dist_bcast_bytes(ctx, buf, len, 0, err);
    return ebm_pass(err, rc);
}

int api_run_info(const dist_ctx *ctx, const ebm_config *cfg,
                         const api_train_caller *caller, run_info *run, ebm_err *err)
{
    memset(run, 0, sizeof *run);
    snprintf(run->program_version, sizeof run->program_version, "%s", EBM_VERSION);
    snprintf(run->git_revision, sizeof run->git_revision, "%s", EBM_GIT_REVISION);
    dist_library_version(run->mpi_version, sizeof run->mpi_version);
    h5file_library_version(run->hdf5_version, sizeof run->hdf5_version);
    blas_describe(run->blas_version, sizeof run->blas_version);
    snprintf(run->data_path, sizeof run->data_path, "%s",
             cfg->data[0] ? cfg->data : caller->default_data);
    run->world_size = ctx->size;
    command_line(caller->n_words, caller->words, run->command_line, sizeof run->command_line);
    snprintf(run->job_id, sizeof run->job_id, "%s", caller->job_id ? caller->job_id : "");
    return host_list(ctx, run->hosts, sizeof run->hosts, err);
}

/* Collective. What every command does first: its collectives watched
 * (--stall-timeout), the BLAS threads, the run record. */
static int command_start(const dist_ctx *ctx, const ebm_config *cfg,
                         const api_train_caller *caller, run_info *run, ebm_err *err)
{
    EBM_TRY(dist_watchdog_start(ctx,
                                cfg->stall_timeout < 0
                                    ? dist_stall_auto(fault_auto_floor(DIST_STALL_AUTO_FLOOR), 0.0)
                                    : cfg->stall_timeout,
                                caller->terminating, err));
    blas_set_threads(cfg->threads);
    return ebm_pass(err, api_run_info(ctx, cfg, caller, run, err));
}

int api_infer(const dist_ctx *ctx, const ebm_config *cfg, const api_train_caller *caller,
              FILE *out, eval_result *figures, double *confusion, size_t confusion_count,
              ebm_err *err)
{
    run_info run;
    EBM_TRY(command_start(ctx, cfg, caller, &run, err));
    if (cfg->command == CMD_EVAL)
        return ebm_pass(err, infer_eval_run(ctx, cfg, &run, out, figures, confusion,
                                            confusion_count, err));
    if (cfg->command == CMD_SAMPLE)
        return ebm_pass(err, infer_sample_run(ctx, cfg, &run, out, err));
    return ebm_fail(err, "no command");
}

int api_train(const dist_ctx *ctx, const ebm_config *cfg, const api_train_caller *caller,
              const train_listener *listener, train_outcome *outcome, train_summary *summary,
              ebm_err *err)
{
    *outcome = TRAIN_DONE;
    memset(summary, 0, sizeof *summary);
    run_info run;
    EBM_TRY(command_start(ctx, cfg, caller, &run, err));
    trainer *t = NULL;
    int rc = train_setup(ctx, cfg, &run, listener, &t, err);
    if (rc == 0)
        rc = train_loop(t, outcome, err);
    if (rc == 0 && *outcome == TRAIN_DONE)
        rc = train_report(t, err);
    if (rc == 0 && *outcome == TRAIN_STOPPED)
        train_stop_clear(); /* consumed: the next training starts afresh */
    if (t)
        train_summarize(t, summary);
    train_free(t);
    return ebm_pass(err, rc);
}

/* ---- the public calls ------------------------------------------------------ */

void ebm_request_stop(void) { train_request_stop(); }

typedef struct {
    ebm_progress_fn fn;
    void *user;
} progress_target;

/* A training event as the public struct (figures of other kinds: 0). */
static void tell_progress(const train_event *e, void *user)
{
    const progress_target *to = user;
    static const int kinds[] = {
        [TRAIN_EVENT_SETUP] = EBM_TRAIN_SETUP,     [TRAIN_EVENT_STEP] = EBM_TRAIN_STEP,
        [TRAIN_EVENT_ROLLBACK] = EBM_TRAIN_ROLLBACK, [TRAIN_EVENT_EPOCH] = EBM_TRAIN_EPOCH,
        [TRAIN_EVENT_STOPPED] = EBM_TRAIN_STOPPED, [TRAIN_EVENT_TIMES] = EBM_TRAIN_TIMES,
        [TRAIN_EVENT_DONE] = EBM_TRAIN_DONE,
    };
    ebm_train_progress p = {
        .size = sizeof p,
        .event = kinds[e->kind],
        .epoch = e->epoch,
        .epochs = e->epochs,
        .step = e->step,
        .steps = e->steps,
        .rollbacks = e->rollbacks,
        .best = e->best,
        .loss = e->loss,
        .text = e->text,
    };
    if (e->row) {
        const metrics_row *r = e->row;
        p.loss = r->train_loss;
        p.train_error = r->train_error;
        p.val_loss = r->val_loss;
        p.val_error = r->val_error;
        p.val_generative = r->val_gen;
        p.energy_data = r->energy_data;
        p.energy_sample = r->energy_sample;
        p.seconds = r->wall_seconds;
        p.examples_per_second = r->examples_per_second;
        p.comm_share = r->comm_mean / (r->comm_mean + r->compute_mean + 1e-12);
    }
    to->fn(&p, to->user);
}

/* The digits file installed with the library: EBM_DATA_FROM_LIBDIR (the
 * data directory relative to the library directory, "../share/ebm_mpi/
 * digits.h5") from where this code was loaded, so that a prefix moved or
 * installed elsewhere (cmake --install --prefix) still finds it, and the
 * build tree's lib/ finds its share/ (the command uses the one next to it). */
#ifndef EBM_DATA_FROM_LIBDIR
#define EBM_DATA_FROM_LIBDIR "../share/ebm_mpi/digits.h5"
#endif
void api_installed_data(char *buf, size_t len)
{
    Dl_info info;
    char dir[EBM_PATH_LEN];
    if (dladdr((void *)&ebm_train_mpi, &info) && info.dli_fname &&
        strlen(info.dli_fname) < sizeof dir) {
        snprintf(dir, sizeof dir, "%s", info.dli_fname);
        snprintf(buf, len, "%s/%s", dirname(dir), EBM_DATA_FROM_LIBDIR);
        char *resolved = realpath(buf, NULL); /* "<prefix>/share/...", not ".../lib/../share" */
        if (resolved && strlen(resolved) < len)
            snprintf(buf, len, "%s", resolved);
        free(resolved);
    } else {
        snprintf(buf, len, "%s", EBM_DATA_FROM_LIBDIR);
    }
}

api_train_caller api_library_caller(const char *call, int n_options, const char *const *options,
                                    const char **words, char *data, size_t data_len)
{
    api_installed_data(data, data_len);
    words[0] = call;
    for (int i = 0; i < n_options; i++)
        words[i + 1] = options[i];
    return (api_train_caller){.n_words = n_options + 1,
                              .words = words,
                              .job_id = "",
                              .default_data = data,
                              .terminating = NULL};
}

/* Both entries once the context exists (freed here). */
static int train_on(dist_ctx *ctx, int n_options, const char *const *options,
                    ebm_progress_fn progress, void *user, ebm_train_result *result,
                    size_t result_size)
{
    ebm_err err = {0};
    int status = EBM_ERR_ARGUMENT;
    ebm_config *cfg = NULL;
    const char **words = NULL;
    int rc = 0;
    if (!result)
        rc = ebm_fail(&err, "ebm_train_mpi: result is NULL");
    else if (result_size == 0 || result_size > sizeof(ebm_train_result))
        rc = ebm_fail(&err, "ebm_train_mpi: result_size %zu, this library's has %zu",
                      result_size, sizeof(ebm_train_result));
    if (rc == 0) {
        cfg = ebm_calloc(1, sizeof *cfg, "training options", &err);
        words = n_options >= 0 ? ebm_calloc((size_t)n_options + 1, sizeof *words,
                                            "the command line", &err)
                               : NULL;
        rc = cfg && (words || n_options < 0) ? 0 : -1;
    }
    if (rc == 0)
        rc = options_parse(CMD_TRAIN, n_options, options, cfg, &err);
    if (rc == 0 && cfg->want_help)
        rc = ebm_fail(&err, "ebm_train_mpi: --help is the command's (ebm_mpi train --help)");
    if (rc == 0 && cfg->dry_run)
        rc = ebm_fail(&err, "ebm_train_mpi: --dry-run is the command's (ebm_mpi train --dry-run)");
    /* Every rank parsed the same strings, but a caller may differ: agree. */
    rc = dist_agree(ctx, rc, &err);
    train_outcome outcome = TRAIN_DONE;
    train_summary s = {0};
    if (rc == 0 && cfg && words) { /* cfg and words: implied by rc == 0, said for the analyser */
        status = EBM_ERR_IO;
        char data[EBM_PATH_LEN];
        const api_train_caller caller =
            api_library_caller("ebm_train_mpi", n_options, options, words, data, sizeof data);
        progress_target to = {progress, user};
        const train_listener listener = {progress ? tell_progress : NULL, &to};
        api_quiet q;
        api_quiet_begin(&q);
        rc = api_train(ctx, cfg, &caller, &listener, &outcome, &s, &err);
        api_quiet_end(&q);
    }
    ebm_train_result r = {0};
    if (rc == 0 && cfg) {
        r = (ebm_train_result){
            .stopped = outcome == TRAIN_STOPPED,
            .epochs_done = s.epochs_done,
            .steps = s.steps,
            .skipped_steps = s.skipped_steps,
            .rollbacks = s.rollbacks,
            .best_epoch = s.best_epoch,
            .best_val_error = s.best_val_error,
            .best_val_loss = s.best_val_loss,
            .test_n = s.test_n,
            .test_error = s.test_error,
            .test_loss = s.test_loss,
            .seconds = s.seconds,
        };
        snprintf(r.best, sizeof r.best, "%s/best.h5", cfg->out);
        snprintf(r.last, sizeof r.last, "%s/last.h5", cfg->out);
        snprintf(r.metrics, sizeof r.metrics, "%s/metrics.h5", cfg->out);
    }
    free(words);
    free(cfg);
    dist_user_free(ctx);
    if (rc)
        return api_fail(api_status_of(&err, status), &err);
    memcpy(result, &r, result_size);
    return EBM_OK;
}

int ebm_train_mpi(MPI_Comm comm, int n_options, const char *const *options,
                  ebm_progress_fn progress, void *user, ebm_train_result *result,
                  size_t result_size)
{
    api_begin();
    dist_ctx ctx;
    ebm_err err = {0};
    if (dist_from_user(&comm, sizeof comm, &ctx, &err))
        return api_fail(EBM_ERR_MPI, &err);
    return train_on(&ctx, n_options, options, progress, user, result, result_size);
}

int ebm_train_mpi_f(MPI_Fint comm, int n_options, const char *const *options,
                    ebm_progress_fn progress, void *user, ebm_train_result *result,
                    size_t result_size)
{
    api_begin();
    dist_ctx ctx;
    ebm_err err = {0};
    if (dist_from_fortran((int64_t)comm, &ctx, &err))
        return api_fail(EBM_ERR_MPI, &err);
    return train_on(&ctx, n_options, options, progress, user, result, result_size);
}
