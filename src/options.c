/* options.c: the option table, presets, defaults, strict parsing of
 * "--name value" strings and the method's description: the library's
 * (training through ebm_train_mpi, the checkpoint schema, the run record),
 * the command line's argv and help texts are src/cli.c's. */
#include "options.h"

#include "io/h5file.h"
#include "num/schedule.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define T (1u << CMD_TRAIN)
#define E (1u << CMD_EVAL)
#define S (1u << CMD_SAMPLE)
#define F(field) offsetof(ebm_config, field)
#define STR(field) OPT_STRING, F(field), sizeof(((ebm_config *)0)->field)

static const cli_option options[] = {
    {"data", STR(data), 0, 0, T | E | S, 0, "F", "data file"},
    {"out", STR(out), 0, 0, T, 0, "DIR", "directory for best.h5, last.h5 and metrics.h5"},
    {"epochs", OPT_INT, F(epochs), 0, 1, 1e6, T, 1, "N", "training epochs"},
    {"batch-size", OPT_INT, F(batch_size), 0, 1, 1e6, T, 1, "B", "global batch over all ranks"},
    {"lr", OPT_DOUBLE, F(lr), 0, 0, 1, T, 1, "X", "Adamax learning rate"},
    {"lr-schedule", STR(lr_schedule), 0, 0, T, 1, "const|cosine",
     "lr after the warm-up: constant, or cosine decay"},
    {"warmup", OPT_DOUBLE, F(warmup), 0, 0, 1e6, T, 1, "EPOCHS",
     "lr rising linearly from lr/W to lr over the first EPOCHS epochs (W steps)"},
    {"lr-floor", OPT_DOUBLE, F(lr_floor), 0, 0, 1, T, 1, "X",
     "cosine: the last step's lr, as a share of --lr"},
    {"ema", OPT_DOUBLE, F(ema), 0, 0, 0.999999, T, 1, "D",
     "moving average of the weights to use (0: off)"},
    {"hidden", OPT_INT, F(hidden), 0, 1, 65536, T, 1, "H", "width of the three hidden layers"},
    {"langevin-steps", OPT_INT, F(langevin_steps), 0, 0, 1e5, T, 1, "N",
     "Langevin steps per draw"},
    {"step-size", OPT_DOUBLE, F(step_size), 0, 0, 1e6, T, 1, "X",
     "Langevin step eta, input space"},
    {"noise", OPT_DOUBLE, F(noise), 0, 0, 1e6, T, 1, "X",
     "Langevin noise sigma, input space"},
    {"buffer", OPT_INT, F(buffer), 0, 0, 1e8, T, 1, "N",
     "persistent chains over all ranks (0: none)"},
    {"reinit", OPT_DOUBLE, F(reinit), 0, 0, 1, T, 1, "X",
     "share of buffer chains restarted per draw"},
    {"step-decay", OPT_DOUBLE, F(step_decay), 0, 1e-6, 1, T, 1, "X",
     "step t: eta X^t, sigma X^(t/2) (1: fixed)"},
    {"chain-init", OPT_INT, F(chain_init), 0, 0, 2, T, 1, "N",
     "chain starts: 0 U[-1,1], 1 class Gaussians, 2 base"},
    {"base", STR(base), 0, 0, T, 1, "none|pixels",
     "density added to the energy: independent pixels"},
    {"energy-reg", OPT_DOUBLE, F(energy_reg), 0, 0, 1e6, T, 1, "X",
     "alpha: weight of LSE(f(x))^2 + LSE(f(x~))^2"},
    {"gen-weight", OPT_DOUBLE, F(gen_weight), 0, 0, 1e6, T, 1, "X",
     "w, generative term weight (0: plain classifier)"},
    {"train-noise", OPT_DOUBLE, F(train_noise), 0, 0, 1e6, T, 1, "X",
     "std of noise on training images, data units"},
    {"train-dequant", OPT_INT, F(train_dequant), 0, 0, 1, T, 1, "N",
     "1: training pixels uniform in their level's cell"},
    {"train-sampler", STR(train_sampler), 0, 0, T, 1, "langevin|mala",
     "training's kernel: Langevin steps, or per step base-block moves + one "
     "MALA step (eta from --step-size, tuned to acceptance 0.574; needs --base pixels)"},
    {"base-moves", OPT_INT, F(base_moves), 0, 0, 1e4, T, 1, "N",
     "mala: base-block moves before each MALA step"},
    {"base-block", OPT_INT, F(base_block), 0, 0, 1e6, T, 1, "B",
     "mala: pixels redrawn from the base per move (0: all)"},
    {"preset", OPT_PRESET, F(preset), 0, 0, 0, T, 1, "seed|stable|density",
     "defaults for the options above"},
    {"seed", OPT_SEED, F(seed), 0, 0, 9007199254740992.0, T | S, 1, "S", "random seed"},
    {"threads", OPT_INT, F(threads), 0, 1, 1024, T | E | S, 0, "T", "BLAS threads per rank"},
    {"checkpoint-every", OPT_DOUBLE, F(checkpoint_every), 0, 0, 1e9, T, 0, "MINUTES",
     "write last.h5 also every MINUTES (0: off)"},
    {"resume", STR(resume), 0, 0, T, 0, "auto|FILE", "continue from a checkpoint"},
    {"overwrite", OPT_FLAG, F(overwrite), 0, 0, 1, T | E | S, 0, "",
     "replace the run in --out (train), a file not theirs (eval, sample)"},
    {"break-lock", OPT_FLAG, F(break_lock), 0, 0, 1, T, 0, "",
     "take over a lock a lost host left on --out"},
    {"stall-timeout", OPT_DOUBLE, F(stall_timeout), 0, 0, 1e9, T | E | S, 0, "SECONDS",
     "end a job stalled this long (0: never)"},
    {"overlap", STR(overlap), 0, 0, T, 0, "on|off",
     "overlap the gradient sum with the backward pass"},
    {"allow-single", OPT_FLAG, F(allow_single), 0, 0, 1, T | E | S, 0, "",
     "run as 1 process in a multi-task SLURM job"},
    {"dry-run", OPT_FLAG, F(dry_run), 0, 0, 1, T, 0, "",
     "print this run's settings, one a line; exit"},
    {"ckpt", STR(ckpt), 0, 0, E | S, 0, "F", "checkpoint to load"},
    {"split", OPT_SPLIT, F(split), sizeof(((ebm_config *)0)->split), 0, 0, E, 0,
     "train|val|test", "split to evaluate"},
    {"dump", STR(dump), 0, 0, E, 0, "F", "write per-example logits and energies to F"},
    {"ood", STR(ood), 0, 0, E, 0, "F|uniform|shuffled",
     "AUROC of telling the split from F's inputs"},
    {"loglik", OPT_FLAG, F(loglik), 0, 0, 1, E, 0, "",
     "also the log-likelihood: AIS, RAISE and classical models (docs/loglik.md)"},
    {"ais-steps", OPT_INT, F(ais_steps), 0, 1, 1e7, E, 0, "N|auto",
     "AIS and RAISE temperatures; auto: doubled from 100 until both move by < 1 "
     "nat/image on the val split (at most 6400)"},
    {"ais-chains", OPT_INT, F(ais_chains), 0, 2, 1e6, E, 0, "N",
     "AIS chains over all ranks"},
    {"ais-start", STR(ais_start), 0, 0, E, 0, "uniform|base",
     "AIS from the uniform box, or the base density"},
    {"n", OPT_INT, F(n_samples), 0, 1, 1e8, S, 0, "N", "number of samples"},
    {"class", OPT_INT, F(class_label), 0, 0, 1e6, S, 0, "K", "class-conditional samples of class K"},
    {"steps", OPT_INT, F(sample_steps), 0, 0, 1e6, S, 0, "N", "Langevin steps"},
    {"from-chains", OPT_FLAG, F(from_chains), 0, 0, 1, S, 0, "",
     "the same as --init chains"},
    {"init", STR(sample_init), 0, 0, S, 0, "uniform|classes|chains",
     "chain starts: the data box, class Gaussians, stored chains"},
    {"sampler", STR(sampler), 0, 0, S, 0, "train|mala|ula|kernel",
     "kernel: training's Langevin, MALA, unadjusted Langevin, or (with a base) eval "
     "--loglik's base-block moves + reflected MALA"},
    {"step-size", OPT_DOUBLE, F(sample_step_size), 0, 1e-30, 1e6, S, 0, "X",
     "mala/ula step eta, input space (noise sqrt(2 eta))"},
    {"out", STR(samples_out), 0, 0, S, 0, "F", "sample file to write"},
};

const cli_option *cli_options(size_t *count)
{
    *count = sizeof options / sizeof options[0];
    return options;
}

const char *cli_preset_name(ebm_preset preset)
{
    return preset == PRESET_SEED ? "seed" : preset == PRESET_DENSITY ? "density" : "stable";
}

/* The density preset: the stable preset's classifier and schedule, and an
 * energy that is a density (issue 23): the independent-pixel base in the
 * energy, persistent chains started from its exact samples and advanced by
 * the transition eval --loglik measures the model with (base-block moves and
 * a reflected MALA step: the negative samples are the model's own), the
 * energy regulariser fixing the network's free offset, training pixels
 * dequantised as they are scored. Chosen on the validation split:
 * experiments/2026-12-06-density/README.md (the base, the regulariser, the
 * dequantisation) and experiments/2026-12-07-density-kernel/README.md (the
 * kernel, the buffer, the transitions per draw). */
static void apply_density(ebm_config *cfg)
{
    strcpy(cfg->base, "pixels");
    cfg->chain_init = 2;
    /* The evaluation's kernel (--train-sampler mala): with the 10000-chain
     * buffer each chain saw about 30 transitions in its life and the network
     * grew wells no chain reached (k01: judged -153.6 nats/image on val);
     * 640 chains rarely restarted see hundreds (k02: -101.7), and 24
     * transitions per draw rather than 12 gained 2 more (k05: -99.7, the
     * base -111.25). */
    strcpy(cfg->train_sampler, "mala");
    cfg->base_moves = 4;
    cfg->base_block = 2;
    cfg->buffer = 640;
    cfg->reinit = 0.01;
    cfg->langevin_steps = 24;
    /* MALA's first eta (tuned towards acceptance 0.574 as training goes);
     * the noise at its Langevin scale (sigma^2 = 2 eta) is what `sample
     * --sampler ula` defaults to. */
    cfg->step_decay = 1.0;
    cfg->step_size = 0.002;
    cfg->noise = 0.0632;
    cfg->energy_reg = 0.01;
    cfg->gen_weight = 1.0;
    cfg->train_dequant = 1;
    cfg->train_noise = 0.0;
}

void cli_apply_preset(ebm_config *cfg, ebm_preset preset)
{
    cfg->preset = preset;
    cfg->epochs = 20;
    cfg->batch_size = 64;
    cfg->lr = 1e-3;
    strcpy(cfg->lr_schedule, "const");
    cfg->warmup = 0;
    cfg->lr_floor = 0;
    cfg->ema = 0;
    cfg->hidden = 512;
    cfg->langevin_steps = 20;
    cfg->step_size = 1.0;
    cfg->noise = 0.01;
    cfg->train_noise = 0.03;
    cfg->chain_init = 0;
    cfg->step_decay = 1.0;
    strcpy(cfg->base, "none");
    if (preset == PRESET_SEED) {
        /* The notebook: raw inputs, fresh U[-1,1] chains every step, w = 1. */
        cfg->buffer = 0;
        cfg->reinit = 1.0;
        cfg->energy_reg = 0.0;
        cfg->gen_weight = 1.0;
        cfg->map_inputs = 0;
        cfg->clamp_chains = 0;
        cfg->select_by_error = 0;
    } else {
        /* Chosen by measurement: see docs/stable-preset.md. Fresh chains
         * every step, like `sample`, so the generative term corrects the very
         * sampler users draw from; reinit only matters with --buffer N. */
        cfg->buffer = 0;
        cfg->reinit = 0.05;
        cfg->energy_reg = 0.0;
        /* Chains from per-class Gaussians of the training images (JEM++),
         * annealed steps that bound how far a chain moves (so 10x longer
         * chains stay where the short ones are), and w = 0.2 for recall:
         * chosen on the validation split,
         * experiments/2026-12-02-sample-quality/quality-log.md. */
        cfg->chain_init = 1;
        cfg->step_decay = 0.8;
        cfg->gen_weight = 0.2;
        /* A higher rate, whose noisier weights the moving average smooths
         * for evaluation, best.h5 and sampling: the 20-epoch model was
         * under-trained at 1e-3 (lower val loss, error and ECE, higher
         * recall; experiments/2026-12-02-sample-quality/quality-log.md, q14-ema). */
        cfg->lr = 4e-3;
        cfg->ema = 0.99;
        /* Data noise of 1/8 of the pixel range: with the notebook's 0.03
         * the model grew sharp enough to tell 20-step samples from data and
         * its energies ran away after about 50 epochs (at 1: after 155). */
        cfg->train_noise = 2.0;
        cfg->map_inputs = 1;
        cfg->clamp_chains = 1;
        cfg->select_by_error = 1;
    }
    cfg->train_dequant = 0;
    strcpy(cfg->train_sampler, "langevin");
    cfg->base_moves = 4;
    cfg->base_block = 2;
    if (preset == PRESET_DENSITY) {
        cfg->preset = PRESET_DENSITY;
        apply_density(cfg);
    }
}

void options_defaults(ebm_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cli_apply_preset(cfg, PRESET_STABLE);
    cfg->stall_timeout = -1;
    strcpy(cfg->overlap, "off");
    strcpy(cfg->out, "checkpoints");
    strcpy(cfg->split, "test");
    strcpy(cfg->samples_out, "samples.h5");
    cfg->threads = 1;
    cfg->n_samples = 100;
    cfg->class_label = -1;
    cfg->sample_steps = -1;
    strcpy(cfg->sampler, "train");
    cfg->sample_step_size = -1;
    cfg->ais_steps = 0; /* auto: chosen on the validation split (docs/loglik.md) */
    cfg->ais_chains = 64;
    strcpy(cfg->ais_start, "uniform");
}

const char *options_command_name(ebm_command c)
{
    return c == CMD_TRAIN ? "train" : c == CMD_EVAL ? "eval" : c == CMD_SAMPLE ? "sample" : "";
}

/* The option `name` of command `cmd` (one name may mean different things to
 * different commands, e.g. --out). */
static const cli_option *find_option(const char *name, ebm_command cmd)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strcmp(options[i].name, name) == 0 && (options[i].commands & (1u << cmd)))
            return &options[i];
    return NULL;
}

static int parse_number(const cli_option *opt, const char *text, double *value, ebm_err *err)
{
    const int integral = opt->type == OPT_INT || opt->type == OPT_SEED;
    char *end = NULL;
    errno = 0;
    double v = 0;
    if (integral) {
        /* Plain digits exactly (a seed must not be rounded); otherwise a
         * number that happens to be whole, like 1e4. */
        const long long i = strtoll(text, &end, 10);
        if (end != text && *end == '\0' && errno == 0) {
            v = (double)i;
            /* Near LLONG_MAX, (double)i rounds up to 2^63, which a cast back
             * cannot hold (undefined): test the range first (found by fuzzing). */
            if (!(v < 0x1p63) || (long long)v != i)
                return ebm_fail(err, "--%s: %s is out of range [%g, %g]", opt->name, text,
                                opt->min, opt->max);
        } else {
            errno = 0;
            v = strtod(text, &end);
            if (end != text && *end == '\0' && isfinite(v) && v != floor(v))
                end = (char *)text; /* 2.5 is a number but not an integer */
        }
    } else {
        v = strtod(text, &end);
        if (errno == ERANGE && v != 0.0 && !isinf(v))
            errno = 0; /* underflow to a tiny value is still a number */
    }
    if (end == text || *end != '\0' || text[0] == ' ' || errno == ERANGE || !isfinite(v))
        return ebm_fail(err, "--%s: expected %s, got '%s'", opt->name,
                        integral ? "an integer" : "a number", text);
    if (v < opt->min || v > opt->max)
        return ebm_fail(err, "--%s: %s is out of range [%g, %g]", opt->name, text, opt->min,
                        opt->max);
    *value = v;
    return 0;
}

static int set_option(ebm_config *cfg, const cli_option *opt, const char *text, ebm_err *err)
{
    char *field = (char *)cfg + opt->offset;
    double v = 0;
    switch (opt->type) {
    case OPT_INT:
        /* --ais-steps auto is stored as 0 (below every number it accepts). */
        if (strcmp(opt->name, "ais-steps") == 0 && strcmp(text, "auto") == 0) {
            *(int *)field = 0;
            return 0;
        }
        if (parse_number(opt, text, &v, err))
            return ebm_trace(err);
        *(int *)field = (int)v;
        return 0;
    case OPT_SEED:
        if (parse_number(opt, text, &v, err))
            return ebm_trace(err);
        *(long long *)field = (long long)v;
        return 0;
    case OPT_DOUBLE:
        if (parse_number(opt, text, &v, err))
            return ebm_trace(err);
        memcpy(field, &v, sizeof v); /* a byte offset into cfg: no char* -> double* cast */
        return 0;
    case OPT_FLAG:
        *(int *)field = 1;
        return 0;
    case OPT_PRESET:
        if (strcmp(text, "seed") && strcmp(text, "stable") && strcmp(text, "density"))
            return ebm_fail(err, "--preset: expected 'seed', 'stable' or 'density', got '%s'",
                            text);
        return 0; /* applied before the other options, see cli_parse */
    case OPT_SPLIT:
        if (strcmp(text, "train") && strcmp(text, "val") && strcmp(text, "test"))
            return ebm_fail(err, "--split: expected train, val or test, got '%s'", text);
        /* fall through */
    case OPT_STRING:
        if (text[0] == '\0')
            return ebm_fail(err, "--%s: empty value", opt->name);
        if (strlen(text) >= opt->size)
            return ebm_fail(err, "--%s: value longer than %zu characters", opt->name,
                            opt->size - 1);
        strcpy(field, text);
        return 0;
    }
    return ebm_fail(err, "--%s: internal error (option type)", opt->name);
}

/* Splits "--name=value" / "--name value"; returns the option or fails. */
static const cli_option *lookup(ebm_command cmd, const char *arg, char *name, size_t name_len,
                                const char **inline_value, ebm_err *err)
{
    const char *eq = strchr(arg + 2, '=');
    const size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
    if (len >= name_len) {
        ebm_fail(err, "unknown option '%s' (see ebm_mpi %s --help)", arg, options_command_name(cmd));
        return NULL;
    }
    memcpy(name, arg + 2, len);
    name[len] = '\0';
    *inline_value = eq ? eq + 1 : NULL;
    const cli_option *opt = find_option(name, cmd);
    if (!opt) {
        ebm_fail(err, "unknown option '--%s' for '%s' (see ebm_mpi %s --help)", name,
                 options_command_name(cmd), options_command_name(cmd));
        return NULL;
    }
    return opt;
}

/* `opt`'s path with `suffix` appended is a name MPI-IO can open (the longest
 * name the command derives from it: "<out>/metrics.h5.tmp.XXXXXX"). */
static int path_fits(const char *opt, const char *path, const char *suffix, ebm_err *err)
{
    if (path[0] == '\0')
        return 0;
    char what[64];
    snprintf(what, sizeof what, "--%s", opt);
    const size_t n = strlen(path) + strlen(suffix);
    char *name = ebm_calloc(n + 1, 1, "file name", err);
    if (!name)
        return ebm_trace(err);
    snprintf(name, n + 1, "%s%s", path, suffix);
    const int rc = h5file_path_ok(name, what, err);
    free(name);
    return ebm_pass(err, rc);
}

/* Every file name a command opens, checked before anything runs, so that
 * what train writes eval and sample can read. */
static int check_paths(const ebm_config *cfg, ebm_err *err)
{
    EBM_TRY(path_fits("data", cfg->data, "", err));
    switch (cfg->command) {
    case CMD_TRAIN:
        EBM_TRY(path_fits("out", cfg->out, "/metrics.h5" H5FILE_TMP_SUFFIX, err));
        if (strcmp(cfg->resume, "auto") != 0)
            EBM_TRY(path_fits("resume", cfg->resume, "", err));
        return 0;
    case CMD_EVAL:
        EBM_TRY(path_fits("ckpt", cfg->ckpt, "", err));
        if (strcmp(cfg->ood, "uniform") != 0 && strcmp(cfg->ood, "shuffled") != 0)
            EBM_TRY(path_fits("ood", cfg->ood, "", err));
        return ebm_pass(err, path_fits("dump", cfg->dump, H5FILE_TMP_SUFFIX, err));
    case CMD_SAMPLE:
        EBM_TRY(path_fits("ckpt", cfg->ckpt, "", err));
        return ebm_pass(err, path_fits("out", cfg->samples_out, H5FILE_TMP_SUFFIX, err));
    case CMD_NONE:
        break;
    }
    return 0;
}

int options_parse(ebm_command cmd, int n_args, const char *const *args, ebm_config *cfg,
                  ebm_err *err)
{
    options_defaults(cfg);
    cfg->command = cmd;
    if (cmd != CMD_TRAIN && cmd != CMD_EVAL && cmd != CMD_SAMPLE)
        return ebm_fail(err, "no command given (try ebm_mpi --help)");
    if (n_args < 0 || (n_args > 0 && !args))
        return ebm_fail(err, "%d option strings at %p", n_args, (const void *)args);
    for (int i = 0; i < n_args; i++)
        if (!args[i])
            return ebm_fail(err, "option string %d of %d is NULL", i, n_args);
    /* Two passes: the preset sets defaults that the other options override,
     * wherever --preset stands on the line. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n_args; i++) {
            const char *arg = args[i];
            if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
                cfg->want_help = 1;
                return 0;
            }
            if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
                return ebm_fail(err, "unexpected argument '%s' (options start with --)", arg);
            char name[64];
            const char *value;
            const cli_option *opt = lookup(cmd, arg, name, sizeof name, &value, err);
            if (!opt)
                return -1;
            if (opt->type == OPT_FLAG) {
                if (value)
                    return ebm_fail(err, "--%s takes no value", name);
                value = "";
            } else if (!value) {
                if (i + 1 >= n_args)
                    return ebm_fail(err, "--%s needs a value (%s)", name, opt->metavar);
                value = args[++i];
            }
            if (pass == 0) {
                if (opt->type == OPT_PRESET) {
                    if (set_option(cfg, opt, value, err))
                        return ebm_trace(err);
                    cli_apply_preset(cfg, !strcmp(value, "seed")      ? PRESET_SEED
                                          : !strcmp(value, "density") ? PRESET_DENSITY
                                                                      : PRESET_STABLE);
                }
            } else if (set_option(cfg, opt, value, err)) {
                return ebm_trace(err);
            }
        }
    }
    if (cmd != CMD_TRAIN && cfg->ckpt[0] == '\0')
        return ebm_fail(err, "%s needs --ckpt F", options_command_name(cmd));
    if (cfg->stall_timeout > 0 && cfg->stall_timeout < 1)
        return ebm_fail(err, "--stall-timeout: %g is too short: 0 (off) or at least 1 second",
                        cfg->stall_timeout);
    if (strcmp(cfg->overlap, "on") != 0 && strcmp(cfg->overlap, "off") != 0)
        return ebm_fail(err, "--overlap: expected on or off, got '%s'", cfg->overlap);
    if (lr_shape_parse(cfg->lr_schedule) < 0)
        return ebm_fail(err, "--lr-schedule: expected 'const' or 'cosine', got '%s'",
                        cfg->lr_schedule);
    if (strcmp(cfg->ais_start, "uniform") != 0 && strcmp(cfg->ais_start, "base") != 0)
        return ebm_fail(err, "--ais-start: expected uniform or base, got '%s'", cfg->ais_start);
    if (strcmp(cfg->base, "none") != 0 && strcmp(cfg->base, "pixels") != 0)
        return ebm_fail(err, "--base: expected none or pixels, got '%s'", cfg->base);
    if (strcmp(cfg->train_sampler, "langevin") != 0 && strcmp(cfg->train_sampler, "mala") != 0)
        return ebm_fail(err, "--train-sampler: expected langevin or mala, got '%s'",
                        cfg->train_sampler);
    if (cfg->sample_init[0] && strcmp(cfg->sample_init, "uniform") != 0 &&
        strcmp(cfg->sample_init, "classes") != 0 && strcmp(cfg->sample_init, "chains") != 0)
        return ebm_fail(err, "--init: expected uniform, classes or chains, got '%s'",
                        cfg->sample_init);
    if (cfg->from_chains && cfg->sample_init[0] && strcmp(cfg->sample_init, "chains") != 0)
        return ebm_fail(err, "--from-chains is --init chains: it contradicts --init %s",
                        cfg->sample_init);
    if (cfg->from_chains)
        strcpy(cfg->sample_init, "chains");
    if (strcmp(cfg->sampler, "train") != 0 && strcmp(cfg->sampler, "mala") != 0 &&
        strcmp(cfg->sampler, "ula") != 0 && strcmp(cfg->sampler, "kernel") != 0)
        return ebm_fail(err, "--sampler: expected train, mala, ula or kernel, got '%s'", cfg->sampler);
    if (cfg->sample_step_size > 0 && strcmp(cfg->sampler, "train") == 0)
        return ebm_fail(err, "--step-size applies to --sampler mala, ula or kernel; the training's "
                             "sampler uses the checkpoint's step");
    if (cfg->overwrite && cfg->resume[0])
        return ebm_fail(err, "--overwrite starts afresh and --resume continues: give one of them");
    return ebm_pass(err, check_paths(cfg, err));
}
double cli_option_number(const cli_option *opt, const ebm_config *cfg)
{
    const char *field = (const char *)cfg + opt->offset;
    switch (opt->type) {
    case OPT_INT:
        return *(const int *)field;
    case OPT_SEED:
        return (double)*(const long long *)field;
    case OPT_DOUBLE: {
        double v;
        memcpy(&v, field, sizeof v); /* a byte offset into cfg: no char* -> double* cast */
        return v;
    }
    case OPT_PRESET:
        return *(const ebm_preset *)field;
    case OPT_FLAG:
        return *(const int *)field;
    default:
        return 0.0;
    }
}

const char *cli_option_string(const cli_option *opt, const ebm_config *cfg)
{
    if (opt->type == OPT_PRESET)
        return cli_preset_name(cfg->preset);
    if (opt->type == OPT_STRING || opt->type == OPT_SPLIT)
        return (const char *)cfg + opt->offset;
    return NULL;
}

void cli_describe(const ebm_config *c, char *buf, size_t len)
{
    char chains[96], reg[128], steps[48] = "";
    if (c->buffer > 0)
        snprintf(chains, sizeof chains,
                 "a persistent buffer of %d chains (%g restarted per draw)", c->buffer,
                 c->reinit);
    else
        snprintf(chains, sizeof chains, "fresh %s chains every step",
                 c->chain_init == 2 ? "base-density" : c->chain_init ? "per-class Gaussian" : "U[-1,1]");
    if (c->step_decay < 1 && strcmp(c->train_sampler, "mala") != 0) /* mala: eta is tuned */
        snprintf(steps, sizeof steps, " (step t: eta x %g^t)", c->step_decay);
    if (c->energy_reg > 0)
        snprintf(reg, sizeof reg, "energy regulariser alpha = %g", c->energy_reg);
    else
        snprintf(reg, sizeof reg, "no energy regulariser");
    if (strcmp(c->base, "pixels") == 0)
        snprintf(reg + strlen(reg), sizeof reg - strlen(reg), "; an independent-pixel base density in the energy");
    char kernel[128] = "Langevin steps";
    if (strcmp(c->train_sampler, "mala") == 0)
        snprintf(kernel, sizeof kernel,
                 "sweeps of %d base-block moves (all pixels, then %d) and one reflected MALA step", c->base_moves,
                 c->base_block);
    snprintf(buf, len,
             "inputs %s; %s of %d %s%s, %s; %s; generative weight w = %g; training "
             "%snoise %g data units; best.h5 by %s",
             c->map_inputs ? "mapped to [-1,1]" : "raw", chains, c->langevin_steps, kernel, steps,
             c->clamp_chains ? "clamped to the data range" : "unclamped", reg, c->gen_weight,
             c->train_dequant ? "pixels dequantised into their cells, " : "", c->train_noise,
             c->select_by_error ? "validation error (ties: loss)" : "validation loss");
    const size_t used = strlen(buf);
    char lr[128] = "", avg[96] = "";
    if (lr_shape_parse(c->lr_schedule) == LR_COSINE)
        snprintf(lr, sizeof lr, "; lr cosine to %g x lr", c->lr_floor);
    if (c->warmup > 0)
        snprintf(lr + strlen(lr), sizeof lr - strlen(lr), "%s after %g epoch(s) of warm-up",
                 lr[0] ? "" : "; lr constant", c->warmup);
    if (c->ema > 0)
        snprintf(avg, sizeof avg, "; evaluated and sampled with the weights' average (decay %g)",
                 c->ema);
    if (used < len)
        snprintf(buf + used, len - used, "%s%s", lr, avg);
}
