/* main.c: read the environment, parse, set up, run the command, report. The
 * only place that reads the environment and the only place that turns an
 * error into the process exit status. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/fault.h"
#include "infer.h"
#include "io/h5file.h"
#include "num/blas.h"
#include "par/dist.h"
#include "train/train.h"
#include "version.h"

/* Everything the program takes from its environment, read once at start-up. */
typedef struct {
    int show_trail;     /* EBM_MPI_DEBUG=1: errors also print their file:line trail */
    long slurm_ntasks;  /* SLURM_NTASKS, 0 outside an allocation */
    char job_id[64];    /* SLURM_JOB_ID, "" outside SLURM: the --out lock's job */
    fault_config fault; /* EBM_MPI_FAULT_*: the tests' fault injection (README) */
    int fault_asked;    /* some EBM_MPI_FAULT_* variable is set: arm the hooks */
    const char *bad_nan_steps; /* a malformed EBM_MPI_FAULT_NAN_STEPS, refused */
} environment;

static long long env_number(const char *name, long long fallback)
{
    const char *v = getenv(name);
    return v && v[0] ? atoll(v) : fallback;
}

/* Whether any variable of the environment starts with `prefix`. */
static int environment_has_prefix(const char *prefix)
{
    extern char **environ;
    const size_t n = strlen(prefix);
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, prefix, n) == 0)
            return 1;
    return 0;
}

static void read_environment(environment *env)
{
    /* Every field starts at zero: an unset variable means "never", not
     * whatever the stack held (a stall point compared against garbage). */
    memset(env, 0, sizeof *env);
    env->fault_asked = environment_has_prefix("EBM_MPI_FAULT_");
    const char *debug = getenv("EBM_MPI_DEBUG");
    env->show_trail = debug && debug[0] && strcmp(debug, "0") != 0;
    env->slurm_ntasks = (long)env_number("SLURM_NTASKS", 0);
    const char *job = getenv("SLURM_JOB_ID");
    snprintf(env->job_id, sizeof env->job_id, "%s", job ? job : "");
    env->fault.stop_at_step = env_number("EBM_MPI_FAULT_STOP_AT_STEP", 0);
    env->fault.kill_at_checkpoint = env_number("EBM_MPI_FAULT_KILL_AT_CHECKPOINT", 0);
    env->fault.diverge_at_step = env_number("EBM_MPI_FAULT_DIVERGE_AT_STEP", 0);
    env->fault.diverge_times = (int)env_number("EBM_MPI_FAULT_DIVERGE_TIMES", 1);
    const char *nan_steps = getenv("EBM_MPI_FAULT_NAN_STEPS");
    env->bad_nan_steps = fault_parse_nan_steps(&env->fault, nan_steps) ? nan_steps : NULL;
    env->fault.nan_rank = (int)env_number("EBM_MPI_FAULT_NAN_RANK", 1);
    const char *stall = getenv("EBM_MPI_FAULT_STALL");
    const char *colon = stall ? strchr(stall, ':') : NULL;
    if (colon && (size_t)(colon - stall) < sizeof env->fault.stall_where) {
        memcpy(env->fault.stall_where, stall, (size_t)(colon - stall));
        env->fault.stall_at = atoll(colon + 1);
    }
    env->fault.stall_rank = (int)env_number("EBM_MPI_FAULT_STALL_RANK", 1);
    const char *slow = getenv("EBM_MPI_FAULT_SLOW_STEP");
    const char *slow_colon = slow ? strchr(slow, ':') : NULL;
    if (slow_colon) {
        env->fault.slow_step = atoll(slow);
        env->fault.slow_step_ms = atoll(slow_colon + 1);
    }
    const char *floor = getenv("EBM_MPI_FAULT_AUTO_FLOOR");
    env->fault.auto_floor = floor && floor[0] ? atof(floor) : 0.0;
}

/* The shipped digits file: ../share/ebm_mpi/digits.h5 next to the binary, in
 * the build tree and after `make install` alike. */
static void default_data_path(char *buf, size_t len)
{
    char exe[EBM_PATH_LEN];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(buf, len, "data/digits.h5");
        return;
    }
    exe[n] = '\0';
    snprintf(buf, len, "%s/%s", dirname(exe), EBM_DATA_RELPATH);
}

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

/* argv as a shell would take it back: words with other characters than
 * [A-Za-z0-9_./=:,+@%-] in single quotes. */
static void command_line(int argc, char **argv, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
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

static int fill_run_info(const dist_ctx *ctx, const ebm_config *cfg, int argc, char **argv,
                         run_info *run, ebm_err *err)
{
    memset(run, 0, sizeof *run);
    snprintf(run->program_version, sizeof run->program_version, "%s", EBM_VERSION);
    snprintf(run->git_revision, sizeof run->git_revision, "%s", EBM_GIT_REVISION);
    dist_library_version(run->mpi_version, sizeof run->mpi_version);
    h5file_library_version(run->hdf5_version, sizeof run->hdf5_version);
    blas_describe(run->blas_version, sizeof run->blas_version);
    if (cfg->data[0])
        snprintf(run->data_path, sizeof run->data_path, "%s", cfg->data);
    else
        default_data_path(run->data_path, sizeof run->data_path);
    run->world_size = ctx->size;
    command_line(argc, argv, run->command_line, sizeof run->command_line);
    return host_list(ctx, run->hosts, sizeof run->hosts, err);
}

/* Rank 0, at exit, for a command whose result is what it printed (eval,
 * sample's summary, --dry-run, --help, --version): the output reached
 * standard output, or an error (a full disk, a closed pipe, >/dev/full).
 * As coreutils' close_stdout: a closed stdout with nothing written to it is
 * no error. Training's progress lines are best-effort (its files are its
 * result), so train does not call this. */
static int close_stdout(ebm_err *err)
{
    errno = 0;
    int failed = fflush(stdout) != 0;
    int reason = failed ? errno : 0;
    if (!failed && ferror(stdout))
        failed = 1;
    errno = 0;
    if (fclose(stdout) != 0 && !failed && errno != EBADF)
        failed = 1, reason = errno;
    if (!failed)
        return 0;
    return ebm_fail(err, "cannot write the output to standard output: %s",
                    reason ? strerror(reason) : "an earlier write failed");
}

/* The train command: set up, the loop, the report. */
static int train(const dist_ctx *ctx, const ebm_config *cfg, const run_info *run,
                 train_outcome *outcome, ebm_err *err)
{
    trainer *t = NULL;
    int rc = train_setup(ctx, cfg, run, &t, err);
    if (rc == 0)
        rc = train_loop(t, outcome, err);
    if (rc == 0 && *outcome == TRAIN_DONE)
        rc = train_report(t, err);
    train_free(t);
    return ebm_pass(err, rc);
}

/* Ends a command that ran no collective after `rc` was known on rank 0
 * (--help, --version, --dry-run): its error line, MPI's end, the status. */
static int finish(dist_ctx *ctx, const ebm_err *err, int rc, int show_trail)
{
    if (rc != 0 && ctx->rank == 0)
        ebm_err_print(stderr, err, -1, show_trail);
    dist_finalize(ctx);
    return rc != 0 ? EBM_EXIT_ERROR : EBM_EXIT_OK;
}

int main(int argc, char **argv)
{
    environment env;
    read_environment(&env);
    /* The test-only hooks are armed only when a test asked for them. */
    fault_configure(env.fault_asked ? &env.fault : NULL);
    dist_ctx ctx;
    ebm_err err = {0};
    if (dist_init(&argc, &argv, env.show_trail, &ctx, &err)) {
        ebm_err_print(stderr, &err, -1, env.show_trail);
        return EBM_EXIT_ERROR;
    }
    h5file_quiet();

    /* Parse: every rank parses the same argv, so a usage error is seen by
     * all and reported once. */
    ebm_config cfg;
    int rc = cli_parse(argc, argv, &cfg, &err);
    if (rc == 0 && env.bad_nan_steps)
        rc = ebm_fail(&err, "EBM_MPI_FAULT_NAN_STEPS: expected N, N-M or a list of them "
                            "separated by commas (at most %d), got '%s'",
                      FAULT_NAN_RANGES, env.bad_nan_steps);
    if (rc == 0 && cfg.command == CMD_TRAIN && cfg.dry_run) {
        if (ctx.rank == 0) {
            cli_print_config(stdout, &cfg);
            rc = close_stdout(&err);
        }
        return finish(&ctx, &err, rc, env.show_trail);
    }
    if (rc == 0 && (cfg.want_help || cfg.want_version)) {
        if (ctx.rank == 0) {
            if (cfg.want_version)
                printf("ebm_mpi %s (%s)\n", EBM_VERSION, EBM_GIT_REVISION);
            else
                cli_print_help(stdout, cfg.command);
            rc = close_stdout(&err);
        }
        return finish(&ctx, &err, rc, env.show_trail);
    }

    /* Set up. Before anything slow, so an early warning from the batch
     * system is not fatal: the handlers only set a flag that training reads. */
    if (rc == 0 && cfg.command == CMD_TRAIN)
        rc = train_install_stop_handlers(&err);
    /* srun without PMI starts P separate singletons, each training alone on
     * the whole data: refuse rather than waste the allocation. */
    if (rc == 0 && ctx.size == 1 && env.slurm_ntasks > 1 && !cfg.allow_single)
        rc = ebm_fail(&err,
                      "started as 1 MPI process inside a SLURM allocation of %ld tasks (srun "
                      "without PMI support?): launch with mpirun, or pass --allow-single",
                      env.slurm_ntasks);
    /* Every command's collectives are watched (--stall-timeout). */
    if (rc == 0)
        rc = dist_watchdog_start(&ctx,
                                 cfg.stall_timeout < 0
                                     ? dist_stall_auto(fault_auto_floor(DIST_STALL_AUTO_FLOOR), 0.0)
                                     : cfg.stall_timeout,
                                 train_terminate_requested, &err);
    run_info run;
    if (rc == 0) {
        blas_set_threads(cfg.threads);
        rc = fill_run_info(&ctx, &cfg, argc, argv, &run, &err);
        snprintf(run.job_id, sizeof run.job_id, "%s", env.job_id);
    }

    /* Run the command. */
    train_outcome outcome = TRAIN_DONE;
    if (rc == 0) {
        switch (cfg.command) {
        case CMD_TRAIN:
            rc = train(&ctx, &cfg, &run, &outcome, &err);
            break;
        case CMD_EVAL:
            rc = infer_eval_run(&ctx, &cfg, &run, &err);
            break;
        case CMD_SAMPLE:
            rc = infer_sample_run(&ctx, &cfg, &run, &err);
            break;
        default:
            rc = ebm_fail(&err, "no command");
            break;
        }
    }

    /* eval's and sample's result is their output: it must have been written. */
    if (rc == 0 && ctx.rank == 0 && (cfg.command == CMD_EVAL || cfg.command == CMD_SAMPLE))
        rc = close_stdout(&err);

    /* Report: one error line for the job, from rank 0. */
    if (rc != 0 && ctx.rank == 0)
        ebm_err_print(stderr, &err, -1, env.show_trail);
    dist_finalize(&ctx);
    if (rc != 0)
        return EBM_EXIT_ERROR;
    return outcome == TRAIN_STOPPED ? EBM_EXIT_RESUMABLE : EBM_EXIT_OK;
}
