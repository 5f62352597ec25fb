/* main.c: parse, set up, run the command, report. The only place that turns
 * an error into the process exit status. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "par/dist.h"
#include "io/h5file.h"
#include "infer.h"
#include "train/train.h"
#include "version.h"

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

static void fill_run_info(const dist_ctx *ctx, const ebm_config *cfg, run_info *run)
{
    memset(run, 0, sizeof *run);
    snprintf(run->program_version, sizeof run->program_version, "%s", EBM_VERSION);
    snprintf(run->git_revision, sizeof run->git_revision, "%s", EBM_GIT_REVISION);
    dist_library_version(run->mpi_version, sizeof run->mpi_version);
    h5file_library_version(run->hdf5_version, sizeof run->hdf5_version);
    /* "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Zen MAX_THREADS=64": config then core. */
    snprintf(run->blas_version, sizeof run->blas_version, "%s, core %s", openblas_get_config(),
             openblas_get_corename());
    if (cfg->data[0])
        snprintf(run->data_path, sizeof run->data_path, "%s", cfg->data);
    else
        default_data_path(run->data_path, sizeof run->data_path);
    run->world_size = ctx->size;
}

int main(int argc, char **argv)
{
    dist_ctx ctx;
    ebm_err err = {0};
    /* EBM_MPI_DEBUG=1: errors also print the file:line trail they passed. */
    const char *debug = getenv("EBM_MPI_DEBUG");
    const int show_trail = debug && debug[0] && strcmp(debug, "0") != 0;
    if (dist_init(&argc, &argv, show_trail, &ctx, &err)) {
        ebm_err_print(stderr, &err, -1, show_trail);
        return EBM_EXIT_ERROR;
    }
    h5file_quiet();
    ebm_config cfg;
    /* Every rank parses the same argv: a usage error is seen by all, reported once. */
    int rc = cli_parse(argc, argv, &cfg, &err);
    if (rc == 0 && (cfg.want_help || cfg.want_version)) {
        if (ctx.rank == 0) {
            if (cfg.want_version)
                printf("ebm_mpi %s (%s)\n", EBM_VERSION, EBM_GIT_REVISION);
            else
                cli_print_help(stdout, cfg.command);
        }
        dist_finalize(&ctx);
        return EBM_EXIT_OK;
    }
    /* Before anything slow, so an early warning from the batch system is not
     * fatal: the handlers only set a flag that training reads. */
    if (rc == 0 && cfg.command == CMD_TRAIN)
        rc = train_install_stop_handlers(&err);
    /* srun without PMI starts P separate singletons, each training alone on
     * the whole data: refuse rather than waste the allocation. */
    const char *ntasks = getenv("SLURM_NTASKS");
    if (rc == 0 && ctx.size == 1 && ntasks && atoi(ntasks) > 1 && !cfg.allow_single)
        rc = ebm_fail(&err,
                      "started as 1 MPI process inside a SLURM allocation of %s tasks (srun "
                      "without PMI support?): launch with mpirun, or pass --allow-single",
                      ntasks);
    train_outcome outcome = TRAIN_DONE;
    if (rc == 0) {
        openblas_set_num_threads(cfg.threads);
        run_info run;
        fill_run_info(&ctx, &cfg, &run);
        switch (cfg.command) {
        case CMD_TRAIN:
            rc = train_run(&ctx, &cfg, &run, &outcome, &err);
            break;
        case CMD_EVAL:
            rc = infer_eval_run(&ctx, &cfg, &run, &err);
            break;
        case CMD_SAMPLE:
            rc = infer_sample_run(&ctx, &cfg, &err);
            break;
        default:
            rc = ebm_fail(&err, "no command");
            break;
        }
    }
    if (rc != 0 && ctx.rank == 0)
        ebm_err_print(stderr, &err, -1, show_trail);
    dist_finalize(&ctx);
    if (rc != 0)
        return EBM_EXIT_ERROR;
    return outcome == TRAIN_STOPPED ? EBM_EXIT_RESUMABLE : EBM_EXIT_OK;
}
