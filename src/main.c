/* main.c: read the environment, parse, set up, run the command, report. The
 * only place that reads the environment and the only place that turns an
 * error into the process exit status. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_train.h"
#include "cli.h"
#include "core/fault.h"
#include "ebm_mpi/ebm_mpi.h"
#include "io/h5file.h"
#include "par/dist.h"
#include "train/train.h"
#include "version.h"

/* Everything the program takes from its environment, read once at start-up. */
typedef struct {
    int show_trail;     /* EBM_MPI_DEBUG=1: errors also print their file:line trail */
    long slurm_ntasks;  /* SLURM_NTASKS, 0 outside an allocation */
    char job_id[64];    /* SLURM_JOB_ID, "" outside SLURM: the --out lock's job */
    fault_config fault; /* EBM_MPI_FAULT_*: the tests' fault injection (docs/testing.md) */
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

/* The stop signals: the library is asked to stop (it installs no handler
 * itself); whether SIGTERM came is the stall watchdog's to know. */
static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
    ebm_request_stop();
}

static int terminate_requested(void) { return stop_signal == SIGTERM; }

/* SIGUSR1 and SIGTERM then only ask training to stop after the step it is
 * in (write last.h5, exit 75). Call early. */
static int install_stop_handlers(ebm_err *err)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return ebm_fail(err, "cannot install signal handlers: %s", strerror(errno));
    return 0;
}

/* Training prints on rank 0 what the library tells: the banner, the
 * epochs, the end (progress lines are best-effort, see close_stdout). */
static void print_event(const train_event *event, void *user)
{
    (void)user;
    fputs(event->text, stdout);
    fflush(stdout);
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
        rc = install_stop_handlers(&err);
    /* srun without PMI starts P separate singletons, each training alone on
     * the whole data: refuse rather than waste the allocation. */
    if (rc == 0 && ctx.size == 1 && env.slurm_ntasks > 1 && !cfg.allow_single)
        rc = ebm_fail(&err,
                      "started as 1 MPI process inside a SLURM allocation of %ld tasks (srun "
                      "without PMI support?): launch with mpirun, or pass --allow-single",
                      env.slurm_ntasks);
    char data_path[EBM_PATH_LEN];
    default_data_path(data_path, sizeof data_path);
    const api_train_caller caller = {.n_words = argc,
                                     .words = (const char *const *)argv,
                                     .job_id = env.job_id,
                                     .default_data = data_path,
                                     .terminating = terminate_requested};

    /* Run the command through the library's own paths (src/api/api_train.h). */
    train_outcome outcome = TRAIN_DONE;
    if (rc == 0 && cfg.command == CMD_TRAIN) {
        const train_listener listener = {print_event, NULL};
        train_summary summary;
        rc = api_train(&ctx, &cfg, &caller, &listener, &outcome, &summary, &err);
    } else if (rc == 0) {
        rc = api_infer(&ctx, &cfg, &caller, stdout, NULL, NULL, 0, &err);
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
