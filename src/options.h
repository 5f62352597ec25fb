/* options.h: a command's settings (ebm_config), the option table that is
 * the source of every option's name, type, range and help line, the presets
 * and the parser of "--name value" strings. Parsing is pure (no MPI, no
 * I/O) so every rank parses the same strings to the same config. The
 * library's: training through the library takes the command line's strings
 * (ebm_train_mpi), checkpoints and run records store the hyperparameters by
 * their option names; src/cli.c adds argv, help and --dry-run's listing. */
#ifndef EBM_OPTIONS_H
#define EBM_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define EBM_PATH_LEN 1024

typedef enum { CMD_NONE, CMD_TRAIN, CMD_EVAL, CMD_SAMPLE } ebm_command;
typedef enum { PRESET_STABLE = 0, PRESET_SEED = 1, PRESET_DENSITY = 2 } ebm_preset;

typedef struct {
    ebm_command command;
    int want_help, want_version;
    /* train */
    char data[EBM_PATH_LEN]; /* empty: the shipped digits file */
    char out[EBM_PATH_LEN];
    int epochs, batch_size, hidden, langevin_steps, buffer, threads;
    int chain_init; /* 0: chains start U[-1,1]; 1: per-class Gaussians (langevin_gauss);
                     * 2: exact samples of the base density (--base pixels) */
    /* "none", or "pixels": an independent-pixel density (num/base_density.h)
     * fitted to the training images and added to the energy. */
    char base[16];
    /* 1: training images are dequantised as eval --loglik scores them (each
     * pixel uniform over its level's cell, docs/loglik.md), before
     * --train-noise; 0: the integer levels. */
    int train_dequant;
    /* Training's chain kernel: "langevin" (--langevin-steps steps of eta,
     * sigma), or "mala": --langevin-steps sweeps of --base-moves base-block
     * independence moves of --base-block pixels and one MALA step
     * (ebm/mh_kernel.h), whose stationary law is the model. */
    char train_sampler[16];
    int base_moves, base_block;
    double step_decay; /* Langevin step t uses eta step_decay^t (1: constant) */
    double lr, step_size, noise, reinit, energy_reg, gen_weight, train_noise;
    /* The learning rate by global step (num/schedule.h): --lr-schedule
     * const|cosine after a linear warm-up of --warmup epochs, the cosine
     * ending at --lr-floor x --lr; --ema D: evaluation, best.h5 and sampling
     * use the weights' moving average of decay D (0: the weights). */
    char lr_schedule[8];
    double warmup, lr_floor, ema;
    double checkpoint_every; /* minutes, 0 = only at epoch ends */
    ebm_preset preset;
    long long seed;
    char resume[EBM_PATH_LEN];
    int allow_single; /* run as one process even inside a multi-task SLURM allocation */
    int dry_run;      /* train: print the settings it would use and exit */
    int overwrite;    /* train: a fresh run may replace the run in --out */
    int break_lock;   /* train: take over a lock held on another host */
    /* Seconds a collective may wait before the job is ended (0: never; < 0:
     * auto, the larger of 300 s and 20 times the slowest step so far). */
    double stall_timeout;
    /* "on": the gradient sum overlaps the backward pass (per-layer nonblocking
     * sums, src/train/overlap.h); "off": one MPI_Allreduce after it. Same
     * bits either way: not a hyperparameter. */
    char overlap[8];
    /* Fixed by the preset, not options: map inputs to [-1,1] by the file's
     * value range, clamp chains to that range, select best.h5 by val error
     * (else by val loss). */
    int map_inputs, clamp_chains, select_by_error;
    /* eval / sample */
    char ckpt[EBM_PATH_LEN], split[8], dump[EBM_PATH_LEN], samples_out[EBM_PATH_LEN];
    char ood[EBM_PATH_LEN]; /* eval: a data file, "uniform" or "shuffled" ("": none) */
    int n_samples, class_label, sample_steps;
    int from_chains; /* sample: start from the checkpoint's /sampler/chains */
    /* sample: where chains start ("uniform", "classes", "chains"; "": where
     * training's fresh chains start), the kernel ("train", "mala", "ula"),
     * and mala/ula's step (< 0: the kernel's default) */
    char sample_init[16], sampler[8];
    double sample_step_size;
    /* eval --loglik: AIS temperatures and chains over all ranks (docs/loglik.md) */
    int loglik, ais_steps, ais_chains;
    /* eval --loglik: "uniform" (anneal from the uniform box) or "base" (from
     * the checkpoint's base density, --base pixels) */
    char ais_start[8];
} ebm_config;

typedef enum { OPT_INT, OPT_DOUBLE, OPT_SEED, OPT_STRING, OPT_PRESET, OPT_SPLIT, OPT_FLAG } cli_type;

/* One option: its name, where it lives in ebm_config, its range, and whether it
 * is a hyperparameter (printed in the banner and stored in checkpoints). */
typedef struct {
    const char *name;
    cli_type type;
    size_t offset;
    size_t size; /* string capacity */
    double min, max;
    unsigned commands; /* bit (1 << CMD_x) for each command taking it */
    int hyper;
    const char *metavar, *help;
} cli_option;

/* The option table and its length. */
const cli_option *cli_options(size_t *count);

/* Every field at its default: the stable preset's training options, the
 * eval and sample defaults, no command. */
void options_defaults(ebm_config *cfg);

/* Fills cfg from a command's option strings (argv after the command word:
 * "--name value", "--name=value", flags alone), starting from
 * options_defaults; --preset applies first wherever it stands. On error
 * returns -1 with a message that names the option or argument. "--help" or
 * "-h" stops the parse with want_help set. */
int options_parse(ebm_command cmd, int n_args, const char *const *args, ebm_config *cfg,
                  ebm_err *err);

/* "train", "eval", "sample" ("" for CMD_NONE). */
const char *options_command_name(ebm_command cmd);

/* Defaults of a preset (train options only). */
void cli_apply_preset(ebm_config *cfg, ebm_preset preset);

const char *cli_preset_name(ebm_preset preset);

/* Value of a numeric option as a double; name of a string-valued one. */
double cli_option_number(const cli_option *opt, const ebm_config *cfg);
const char *cli_option_string(const cli_option *opt, const ebm_config *cfg);

/* What the settings fixed by a preset (and the options that shape the method)
 * mean, in one sentence: "inputs mapped to [-1,1], fresh U[-1,1] chains every
 * step, ...". */
void cli_describe(const ebm_config *cfg, char *buf, size_t len);

#endif
