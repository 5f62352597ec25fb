/* test_cli.c: cli_parse (commands, presets, option syntax, every error path)
 * and the option table (docs/design.md section 4). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "cli.h"
#include "io/h5file.h"

#define MAX_ARGS 64

/* cli_parse on a NULL-terminated list of words (argv[0] is added). */
static int parse_words(ebm_config *cfg, ebm_err *err, const char *const *words)
{
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (char *)"ebm_mpi";
    for (; *words; words++) {
        if (argc > MAX_ARGS)
            fail_msg("more than %d words: raise MAX_ARGS", MAX_ARGS);
        argv[argc++] = (char *)*words;
    }
    argv[argc] = NULL;
    memset(err, 0, sizeof *err);
    return cli_parse(argc, argv, cfg, err);
}

#define PARSE(cfg, err, ...) parse_words((cfg), (err), (const char *const[]){__VA_ARGS__, NULL})

/* Parses and expects success. */
#define PARSE_OK(cfg, ...)                                                                     \
    do {                                                                                       \
        ebm_err e_;                                                                            \
        if (PARSE((cfg), &e_, __VA_ARGS__) != 0)                                               \
            fail_msg("cli_parse failed: %s", e_.msg);                                          \
    } while (0)

/* Parses and expects -1 with a message containing `needle`. */
static void expect_error(const char *needle, const char *const *words)
{
    ebm_config cfg;
    ebm_err err;
    const int rc = parse_words(&cfg, &err, words);
    char line[512] = "";
    size_t used = 0;
    for (const char *const *w = words; *w && used + 1 < sizeof line; w++) {
        const int k = snprintf(line + used, sizeof line - used, "%s ", *w);
        used += k > 0 ? (size_t)k : 0;
        if (used >= sizeof line)
            used = sizeof line - 1;
    }
    if (rc != -1)
        fail_msg("'%s': cli_parse returned %d, expected -1", line, rc);
    if (err.msg[0] == '\0')
        fail_msg("'%s': no error message", line);
    if (!strstr(err.msg, needle))
        fail_msg("'%s': message '%s' does not mention '%s'", line, err.msg, needle);
}

#define EXPECT_ERROR(needle, ...) expect_error((needle), (const char *const[]){__VA_ARGS__, NULL})

/* ---- defaults and presets ----------------------------------------------- */

static void test_cli_parse_train_defaults_stable(void **state)
{
    (void)state;
    ebm_config cfg;
    PARSE_OK(&cfg, "train");
    assert_int_equal(cfg.command, CMD_TRAIN);
    assert_int_equal(cfg.want_help, 0);
    assert_int_equal(cfg.want_version, 0);
    assert_int_equal(cfg.preset, PRESET_STABLE);
    assert_int_equal(cfg.epochs, 20);
    assert_int_equal(cfg.batch_size, 64);
    assert_true(cfg.lr == 4e-3);
    assert_true(cfg.ema == 0.99);
    assert_string_equal(cfg.lr_schedule, "const");
    assert_true(cfg.warmup == 0 && cfg.lr_floor == 0);
    assert_int_equal(cfg.hidden, 512);
    assert_int_equal(cfg.langevin_steps, 20);
    assert_true(cfg.step_size == 1.0);
    assert_true(cfg.noise == 0.01);
    assert_true(cfg.train_noise == 2.0);
    assert_int_equal(cfg.buffer, 0);
    assert_true(cfg.reinit == 0.05);
    assert_true(cfg.gen_weight == 0.2);
    assert_int_equal(cfg.chain_init, 1);
    assert_true(cfg.step_decay == 0.8);
    assert_true(cfg.energy_reg == 0.0);
    assert_int_equal(cfg.map_inputs, 1);
    assert_int_equal(cfg.clamp_chains, 1);
    assert_int_equal(cfg.select_by_error, 1);
    assert_string_equal(cfg.out, "checkpoints");
    assert_int_equal(cfg.threads, 1);
    assert_true(cfg.seed == 0);
    assert_true(cfg.checkpoint_every == 0.0);
    assert_string_equal(cfg.data, "");
    assert_string_equal(cfg.resume, "");
}

static void test_cli_parse_defaults_equal_apply_preset(void **state)
{
    (void)state;
    /* Parsing `train` applies exactly cli_apply_preset(stable). */
    ebm_config cfg, ref;
    PARSE_OK(&cfg, "train");
    ref = cfg;
    cli_apply_preset(&ref, PRESET_SEED);
    cli_apply_preset(&ref, PRESET_STABLE);
    assert_int_equal(ref.epochs, cfg.epochs);
    assert_int_equal(ref.buffer, cfg.buffer);
    assert_true(ref.gen_weight == cfg.gen_weight);
    assert_true(ref.energy_reg == cfg.energy_reg);
    assert_true(ref.reinit == cfg.reinit);
    assert_int_equal(ref.map_inputs, cfg.map_inputs);
    assert_int_equal(ref.clamp_chains, cfg.clamp_chains);
    assert_int_equal(ref.select_by_error, cfg.select_by_error);
}

static void test_cli_parse_preset_seed(void **state)
{
    (void)state;
    ebm_config cfg;
    PARSE_OK(&cfg, "train", "--preset", "seed");
    assert_int_equal(cfg.preset, PRESET_SEED);
    assert_int_equal(cfg.buffer, 0);
    assert_true(cfg.gen_weight == 1.0);
    assert_true(cfg.energy_reg == 0.0);
    assert_int_equal(cfg.map_inputs, 0);
    assert_int_equal(cfg.clamp_chains, 0);
    assert_int_equal(cfg.select_by_error, 0);
    /* The notebook's shared settings. */
    assert_int_equal(cfg.epochs, 20);
    assert_int_equal(cfg.batch_size, 64);
    assert_true(cfg.lr == 1e-3);
    assert_true(cfg.ema == 0);
    assert_int_equal(cfg.langevin_steps, 20);
    assert_true(cfg.step_size == 1.0);
    assert_true(cfg.noise == 0.01);
    assert_true(cfg.train_noise == 0.03);
    assert_string_equal(cli_preset_name(cfg.preset), "seed");
    assert_string_equal(cli_preset_name(PRESET_STABLE), "stable");
}

static void test_cli_parse_options_override_preset_either_order(void **state)
{
    (void)state;
    ebm_config a, b;
    PARSE_OK(&a, "train", "--epochs", "3", "--buffer", "50", "--gen-weight", "0.5", "--preset",
             "seed");
    PARSE_OK(&b, "train", "--preset", "seed", "--epochs", "3", "--buffer", "50", "--gen-weight",
             "0.5");
    const ebm_config *both[2] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        const ebm_config *c = both[i];
        assert_int_equal(c->preset, PRESET_SEED);
        assert_int_equal(c->epochs, 3);
        assert_int_equal(c->buffer, 50);
        assert_true(c->gen_weight == 0.5);
        /* The preset's other values stay. */
        assert_true(c->energy_reg == 0.0);
        assert_int_equal(c->map_inputs, 0);
    }
    /* Explicitly choosing the default preset, after options, keeps them too. */
    PARSE_OK(&a, "train", "--reinit", "0.5", "--preset", "stable");
    assert_true(a.reinit == 0.5);
    assert_int_equal(a.buffer, 0);
    /* The last --preset wins. */
    PARSE_OK(&a, "train", "--preset", "seed", "--preset", "stable");
    assert_int_equal(a.preset, PRESET_STABLE);
    assert_int_equal(a.map_inputs, 1);
}

/* ---- option syntax ------------------------------------------------------ */

static void test_cli_parse_equals_and_space_forms_agree(void **state)
{
    (void)state;
    ebm_config a, b;
    PARSE_OK(&a, "train", "--epochs=7", "--lr=2.5e-4", "--out=run1", "--seed=42",
             "--preset=seed", "--checkpoint-every=1.5", "--resume=auto");
    PARSE_OK(&b, "train", "--epochs", "7", "--lr", "2.5e-4", "--out", "run1", "--seed", "42",
             "--preset", "seed", "--checkpoint-every", "1.5", "--resume", "auto");
    const ebm_config *both[2] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(both[i]->epochs, 7);
        assert_true(both[i]->lr == 2.5e-4);
        assert_string_equal(both[i]->out, "run1");
        assert_true(both[i]->seed == 42);
        assert_int_equal(both[i]->preset, PRESET_SEED);
        assert_true(both[i]->checkpoint_every == 1.5);
        assert_string_equal(both[i]->resume, "auto");
    }
    /* Only the first '=' separates: a value may contain '='. */
    PARSE_OK(&a, "train", "--out=dir=x");
    assert_string_equal(a.out, "dir=x");
}

static void test_cli_parse_all_train_options(void **state)
{
    (void)state;
    ebm_config c;
    PARSE_OK(&c, "train", "--data", "d.h5", "--out", "o", "--epochs", "2", "--batch-size", "32",
             "--lr", "0.01", "--hidden", "16", "--langevin-steps", "0", "--step-size", "0.5",
             "--noise", "0.02", "--buffer", "100", "--reinit", "1", "--energy-reg", "0.3",
             "--gen-weight", "0", "--train-noise", "0", "--seed", "9007199254740992",
             "--threads", "2");
    assert_string_equal(c.data, "d.h5");
    assert_string_equal(c.out, "o");
    assert_int_equal(c.epochs, 2);
    assert_int_equal(c.batch_size, 32);
    assert_true(c.lr == 0.01);
    assert_int_equal(c.hidden, 16);
    assert_int_equal(c.langevin_steps, 0);
    assert_true(c.step_size == 0.5);
    assert_true(c.noise == 0.02);
    assert_int_equal(c.buffer, 100);
    assert_true(c.reinit == 1.0);
    assert_true(c.energy_reg == 0.3);
    assert_true(c.gen_weight == 0.0);
    assert_true(c.train_noise == 0.0);
    assert_true(c.seed == 9007199254740992LL);
    assert_int_equal(c.threads, 2);
    /* Integers may be written in exponent form when integral. */
    PARSE_OK(&c, "train", "--buffer", "1e4", "--lr", "1");
    assert_int_equal(c.buffer, 10000);
    assert_true(c.lr == 1.0);
}

static void test_cli_parse_eval_and_sample(void **state)
{
    (void)state;
    ebm_config c;
    PARSE_OK(&c, "eval", "--ckpt", "best.h5");
    assert_int_equal(c.command, CMD_EVAL);
    assert_string_equal(c.ckpt, "best.h5");
    assert_string_equal(c.split, "test");
    assert_string_equal(c.dump, "");
    PARSE_OK(&c, "eval", "--split", "val", "--ckpt=b.h5", "--dump", "d.h5", "--data", "x.h5",
             "--threads", "3");
    assert_string_equal(c.split, "val");
    assert_string_equal(c.ckpt, "b.h5");
    assert_string_equal(c.dump, "d.h5");
    assert_string_equal(c.data, "x.h5");
    assert_int_equal(c.threads, 3);
    PARSE_OK(&c, "eval", "--ckpt", "b.h5", "--split", "train");
    assert_string_equal(c.split, "train");
    /* --ais-steps: auto (stored as 0) by default and by name; a number >= 1;
     * 0 itself is not accepted as a number. */
    assert_int_equal(c.ais_steps, 0);
    PARSE_OK(&c, "eval", "--ckpt", "b.h5", "--loglik", "--ais-steps", "300");
    assert_int_equal(c.ais_steps, 300);
    PARSE_OK(&c, "eval", "--ckpt", "b.h5", "--loglik", "--ais-steps", "auto");
    assert_int_equal(c.ais_steps, 0);
    EXPECT_ERROR("--ais-steps", "eval", "--ckpt", "b.h5", "--ais-steps", "0");
    EXPECT_ERROR("--ais-steps", "eval", "--ckpt", "b.h5", "--ais-steps", "Auto");

    PARSE_OK(&c, "sample", "--ckpt", "best.h5");
    assert_int_equal(c.command, CMD_SAMPLE);
    assert_int_equal(c.n_samples, 100);
    assert_int_equal(c.class_label, -1);
    assert_int_equal(c.sample_steps, -1);
    assert_string_equal(c.samples_out, "samples.h5");
    PARSE_OK(&c, "sample", "--ckpt", "best.h5", "--n", "5", "--class", "3", "--steps", "0");
    assert_int_equal(c.n_samples, 5);
    assert_int_equal(c.class_label, 3);
    assert_int_equal(c.sample_steps, 0);
}

static void test_cli_parse_out_depends_on_command(void **state)
{
    (void)state;
    ebm_config c;
    PARSE_OK(&c, "sample", "--ckpt", "b.h5", "--out", "F.h5");
    assert_string_equal(c.samples_out, "F.h5");
    assert_string_equal(c.out, "checkpoints");
    PARSE_OK(&c, "train", "--out", "D");
    assert_string_equal(c.out, "D");
    assert_string_equal(c.samples_out, "samples.h5");
    /* eval has no --out. */
    EXPECT_ERROR("--out", "eval", "--ckpt", "b.h5", "--out", "x");
}

static void test_cli_parse_help_and_version(void **state)
{
    (void)state;
    ebm_config c;
    PARSE_OK(&c, "--help");
    assert_int_equal(c.want_help, 1);
    assert_int_equal(c.want_version, 0);
    PARSE_OK(&c, "-h");
    assert_int_equal(c.want_help, 1);
    PARSE_OK(&c, "--version");
    assert_int_equal(c.want_version, 1);
    assert_int_equal(c.want_help, 0);
    PARSE_OK(&c, "train", "--help");
    assert_int_equal(c.want_help, 1);
    assert_int_equal(c.command, CMD_TRAIN);
    /* CMD --help does not need the command's required options. */
    PARSE_OK(&c, "eval", "--help");
    assert_int_equal(c.want_help, 1);
    assert_int_equal(c.command, CMD_EVAL);
    PARSE_OK(&c, "sample", "--n", "4", "--help");
    assert_int_equal(c.want_help, 1);
    assert_int_equal(c.command, CMD_SAMPLE);
    /* A plain parse leaves both off. */
    PARSE_OK(&c, "train");
    assert_int_equal(c.want_help, 0);
    assert_int_equal(c.want_version, 0);
}

/* ---- errors ------------------------------------------------------------- */

static void test_cli_parse_fails_without_command(void **state)
{
    (void)state;
    char *argv[] = {(char *)"ebm_mpi", NULL};
    ebm_config c;
    ebm_err err = {0};
    assert_int_equal(cli_parse(1, argv, &c, &err), -1);
    assert_non_null(strstr(err.msg, "command"));
    /* An option where the command should be. */
    EXPECT_ERROR("--epochs", "--epochs", "3");
}

static void test_cli_parse_fails_unknown_command(void **state)
{
    (void)state;
    EXPECT_ERROR("frobnicate", "frobnicate");
    EXPECT_ERROR("Train", "Train");
}

static void test_cli_parse_fails_unknown_option(void **state)
{
    (void)state;
    EXPECT_ERROR("--bogus", "train", "--bogus", "1");
    EXPECT_ERROR("--bogus", "train", "--bogus=1");
    EXPECT_ERROR("--epoch", "train", "--epoch", "3"); /* no prefix matching */
    EXPECT_ERROR("-x", "train", "-x");
    EXPECT_ERROR("stray", "train", "stray");
    EXPECT_ERROR("--", "train", "--");
}

static void test_cli_parse_fails_option_of_another_command(void **state)
{
    (void)state;
    EXPECT_ERROR("--ckpt", "train", "--ckpt", "x");
    EXPECT_ERROR("--epochs", "eval", "--ckpt", "x", "--epochs", "3");
    EXPECT_ERROR("--split", "sample", "--ckpt", "x", "--split", "val");
    EXPECT_ERROR("--n", "train", "--n", "3");
    EXPECT_ERROR("--dump", "sample", "--ckpt", "x", "--dump", "d");
}

static void test_cli_parse_fails_missing_value(void **state)
{
    (void)state;
    EXPECT_ERROR("--epochs", "train", "--epochs");
    EXPECT_ERROR("--out", "train", "--lr", "0.1", "--out");
    EXPECT_ERROR("--preset", "train", "--preset");
    EXPECT_ERROR("--ckpt", "eval", "--ckpt");
}

static void test_cli_parse_fails_non_numeric(void **state)
{
    (void)state;
    EXPECT_ERROR("--epochs", "train", "--epochs", "abc");
    EXPECT_ERROR("abc", "train", "--epochs", "abc");
    EXPECT_ERROR("--lr", "train", "--lr", "1e-3x");
    EXPECT_ERROR("1e-3x", "train", "--lr", "1e-3x");
    EXPECT_ERROR("--lr", "train", "--lr", "");
    EXPECT_ERROR("--lr", "train", "--lr=");
    EXPECT_ERROR("--noise", "train", "--noise", "0.01 ");
    EXPECT_ERROR("--n", "sample", "--ckpt", "x", "--n", "ten");
}

static void test_cli_parse_fails_non_integer(void **state)
{
    (void)state;
    EXPECT_ERROR("--epochs", "train", "--epochs", "2.5");
    EXPECT_ERROR("--batch-size", "train", "--batch-size", "64.1");
    EXPECT_ERROR("--seed", "train", "--seed", "0.5");
    EXPECT_ERROR("--class", "sample", "--ckpt", "x", "--class", "1.5");
}

static void test_cli_parse_fails_out_of_range(void **state)
{
    (void)state;
    EXPECT_ERROR("--epochs", "train", "--epochs", "0");
    EXPECT_ERROR("--epochs", "train", "--epochs", "-3");
    EXPECT_ERROR("--epochs", "train", "--epochs", "1e7");
    EXPECT_ERROR("--lr", "train", "--lr", "-1");
    EXPECT_ERROR("--lr", "train", "--lr", "1.5");
    EXPECT_ERROR("--reinit", "train", "--reinit", "2");
    EXPECT_ERROR("--batch-size", "train", "--batch-size", "0");
    EXPECT_ERROR("--threads", "train", "--threads", "0");
    EXPECT_ERROR("--seed", "train", "--seed", "-1");
    /* Beyond int: must not wrap around. */
    EXPECT_ERROR("--buffer", "train", "--buffer", "3e9");
    EXPECT_ERROR("--n", "sample", "--ckpt", "x", "--n", "0");
}

static void test_cli_parse_fails_nan_inf(void **state)
{
    (void)state;
    EXPECT_ERROR("--lr", "train", "--lr", "nan");
    EXPECT_ERROR("--lr", "train", "--lr", "NaN");
    EXPECT_ERROR("--noise", "train", "--noise", "inf");
    EXPECT_ERROR("--step-size", "train", "--step-size", "infinity");
    EXPECT_ERROR("--gen-weight", "train", "--gen-weight", "-inf");
    EXPECT_ERROR("--epochs", "train", "--epochs", "inf");
    EXPECT_ERROR("--energy-reg", "train", "--energy-reg", "1e400"); /* overflows to inf */
}

static void test_cli_parse_fails_bad_preset(void **state)
{
    (void)state;
    EXPECT_ERROR("--preset", "train", "--preset", "fast");
    EXPECT_ERROR("fast", "train", "--preset", "fast");
    EXPECT_ERROR("--preset", "train", "--epochs", "3", "--preset=SEED");
    EXPECT_ERROR("--preset", "train", "--preset", "");
}

static void test_cli_parse_fails_empty_string(void **state)
{
    (void)state;
    EXPECT_ERROR("--out", "train", "--out", "");
    EXPECT_ERROR("--data", "train", "--data=");
    EXPECT_ERROR("--resume", "train", "--resume", "");
    EXPECT_ERROR("--ckpt", "eval", "--ckpt", "");
    EXPECT_ERROR("--out", "sample", "--ckpt", "x", "--out", "");
}

static void test_cli_parse_fails_too_long_string(void **state)
{
    (void)state;
    char *longv = malloc(EBM_PATH_LEN + 10);
    assert_non_null(longv);
    memset(longv, 'a', EBM_PATH_LEN + 9);
    longv[EBM_PATH_LEN + 9] = '\0';
    EXPECT_ERROR("--out", "train", "--out", longv);
    /* Names MPI-IO opens: the longest --out whose <out>/metrics.h5.tmp fits
     * H5FILE_PATH_MAX is accepted, one more is refused; the same for a file
     * name option and its .tmp (--dump). */
    const size_t out_max = H5FILE_PATH_MAX - strlen("/metrics.h5" H5FILE_TMP_SUFFIX);
    ebm_config c;
    longv[out_max] = '\0';
    PARSE_OK(&c, "train", "--out", longv);
    assert_int_equal(strlen(c.out), out_max);
    longv[out_max] = 'a', longv[out_max + 1] = '\0';
    EXPECT_ERROR("MPI-IO", "train", "--out", longv);
    memset(longv, 'a', EBM_PATH_LEN + 9);
    const size_t dump_max = H5FILE_PATH_MAX - strlen(H5FILE_TMP_SUFFIX);
    longv[dump_max] = '\0';
    PARSE_OK(&c, "eval", "--ckpt", "x", "--dump", longv);
    longv[dump_max] = 'a', longv[dump_max + 1] = '\0';
    EXPECT_ERROR("--dump: the file name", "eval", "--ckpt", "x", "--dump", longv);
    free(longv);
}

static void test_cli_parse_fails_eval_sample_without_ckpt(void **state)
{
    (void)state;
    EXPECT_ERROR("--ckpt", "eval");
    EXPECT_ERROR("--ckpt", "eval", "--split", "val");
    EXPECT_ERROR("--ckpt", "sample", "--n", "4");
}

static void test_cli_parse_fails_bad_split(void **state)
{
    (void)state;
    EXPECT_ERROR("--split", "eval", "--ckpt", "x", "--split", "validation");
    EXPECT_ERROR("validation", "eval", "--ckpt", "x", "--split", "validation");
    EXPECT_ERROR("--split", "eval", "--ckpt", "x", "--split", "");
    EXPECT_ERROR("--split", "eval", "--ckpt", "x", "--split=TEST");
}

/* --lr-schedule names one of two shapes; the schedule options' ranges. */
static void test_cli_parse_lr_schedule_and_ema(void **state)
{
    (void)state;
    ebm_config cfg;
    ebm_err err;
    assert_int_equal(PARSE(&cfg, &err, "train", "--lr-schedule", "cosine", "--warmup", "1.5",
                           "--lr-floor", "0.1", "--ema", "0.99"),
                     0);
    assert_string_equal(cfg.lr_schedule, "cosine");
    assert_true(cfg.warmup == 1.5 && cfg.lr_floor == 0.1 && cfg.ema == 0.99);
    EXPECT_ERROR("--lr-schedule", "train", "--lr-schedule", "linear");
    EXPECT_ERROR("--lr-schedule", "train", "--lr-schedule=COSINE");
    EXPECT_ERROR("--ema", "train", "--ema", "1");
    EXPECT_ERROR("--ema", "train", "--ema", "-0.1");
    EXPECT_ERROR("--lr-floor", "train", "--lr-floor", "1.5");
    EXPECT_ERROR("--warmup", "train", "--warmup", "-1");
}

/* ---- the option table --------------------------------------------------- */

/* The config field an option should land in, read directly (not through the
 * table's offset), so a wrong offset in the table shows up. */
static int field_number(const char *name, const ebm_config *c, double *v)
{
    static const struct {
        const char *name;
        size_t off;
        int is_double;
    } map[] = {
        {"epochs", offsetof(ebm_config, epochs), 0},
        {"batch-size", offsetof(ebm_config, batch_size), 0},
        {"hidden", offsetof(ebm_config, hidden), 0},
        {"langevin-steps", offsetof(ebm_config, langevin_steps), 0},
        {"buffer", offsetof(ebm_config, buffer), 0},
        {"chain-init", offsetof(ebm_config, chain_init), 0},
        {"train-dequant", offsetof(ebm_config, train_dequant), 0},
        {"base-moves", offsetof(ebm_config, base_moves), 0},
        {"base-block", offsetof(ebm_config, base_block), 0},
        {"step-decay", offsetof(ebm_config, step_decay), 1},
        {"warmup", offsetof(ebm_config, warmup), 1},
        {"lr-floor", offsetof(ebm_config, lr_floor), 1},
        {"ema", offsetof(ebm_config, ema), 1},
        {"lr", offsetof(ebm_config, lr), 1},
        {"step-size", offsetof(ebm_config, step_size), 1},
        {"noise", offsetof(ebm_config, noise), 1},
        {"reinit", offsetof(ebm_config, reinit), 1},
        {"energy-reg", offsetof(ebm_config, energy_reg), 1},
        {"gen-weight", offsetof(ebm_config, gen_weight), 1},
        {"train-noise", offsetof(ebm_config, train_noise), 1},
    };
    if (!strcmp(name, "seed")) {
        *v = (double)c->seed;
        return 0;
    }
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i].name, name)) {
            const char *p = (const char *)c + map[i].off;
            *v = map[i].is_double ? *(const double *)p : *(const int *)p;
            return 0;
        }
    return -1;
}

static void test_cli_options_hyper_have_values(void **state)
{
    (void)state;
    size_t n = 0;
    const cli_option *opts = cli_options(&n);
    assert_non_null(opts);
    assert_true(n > 0);
    int n_hyper = 0;
    for (size_t i = 0; i < n; i++) {
        const cli_option *o = &opts[i];
        if (!o->hyper)
            continue;
        n_hyper++;
        /* Hyperparameters are training options. */
        if (!(o->commands & (1u << CMD_TRAIN)))
            fail_msg("hyperparameter --%s is not a train option", o->name);
        char arg[128];
        ebm_config c;
        ebm_err err;
        const char *s;
        switch (o->type) {
        case OPT_PRESET:
            snprintf(arg, sizeof arg, "--%s=seed", o->name);
            if (PARSE(&c, &err, "train", arg))
                fail_msg("%s: %s", arg, err.msg);
            s = cli_option_string(o, &c);
            assert_non_null(s);
            assert_string_equal(s, "seed");
            assert_true(cli_option_number(o, &c) == PRESET_SEED);
            break;
        case OPT_STRING:
        case OPT_SPLIT: {
            /* --lr-schedule takes a name from a list: its non-default one. */
            const char *value = o->type == OPT_SPLIT                 ? "val"
                                : !strcmp(o->name, "lr-schedule") ? "cosine"
                                : !strcmp(o->name, "base")        ? "pixels"
                                : !strcmp(o->name, "train-sampler") ? "mala"
                                                                  : "some-value";
            snprintf(arg, sizeof arg, "--%s=%s", o->name, value);
            if (PARSE(&c, &err, "train", arg))
                fail_msg("%s: %s", arg, err.msg);
            s = cli_option_string(o, &c);
            assert_non_null(s);
            assert_string_equal(s, value);
            break;
        }
        case OPT_INT:
        case OPT_SEED:
        case OPT_DOUBLE: {
            /* A value inside the range that no default uses. */
            const double v = o->type == OPT_DOUBLE ? o->min + (o->max - o->min) / 4
                             : o->min + 3 <= o->max ? o->min + 3
                                                    : o->max; /* a 0/1 choice: not the default 0 */
            assert_true(v >= o->min && v <= o->max);
            snprintf(arg, sizeof arg, "--%s=%.17g", o->name, v);
            if (PARSE(&c, &err, "train", arg))
                fail_msg("%s: %s", arg, err.msg);
            assert_null(cli_option_string(o, &c));
            if (cli_option_number(o, &c) != v)
                fail_msg("--%s: cli_option_number gives %.17g after %s", o->name,
                         cli_option_number(o, &c), arg);
            double direct;
            if (field_number(o->name, &c, &direct))
                fail_msg("hyperparameter --%s unknown to this test: add it to field_number",
                         o->name);
            if (direct != v)
                fail_msg("--%s=%.17g landed in the wrong field (field holds %.17g)", o->name, v,
                         direct);
            break;
        }
        default:
            fail_msg("hyperparameter --%s has an unknown type %d", o->name, (int)o->type);
        }
    }
    /* docs/design.md section 4's hyperparameters: epochs .. seed (13 numbers + preset). */
    assert_true(n_hyper >= 14);
}

static void test_cli_options_table_consistent(void **state)
{
    (void)state;
    size_t n = 0;
    const cli_option *opts = cli_options(&n);
    for (size_t i = 0; i < n; i++) {
        const cli_option *o = &opts[i];
        assert_non_null(o->name);
        assert_non_null(o->metavar);
        assert_non_null(o->help);
        assert_true(o->commands != 0);
        assert_true(o->min <= o->max);
        if (o->type == OPT_STRING || o->type == OPT_SPLIT)
            assert_true(o->size > 1 && o->offset + o->size <= sizeof(ebm_config));
        /* A name means one option per command (lookup takes the first). */
        for (size_t j = i + 1; j < n; j++)
            if (!strcmp(o->name, opts[j].name) && (o->commands & opts[j].commands))
                fail_msg("--%s is defined twice for one command", o->name);
    }
}

static void test_cli_print_help_lists_options(void **state)
{
    (void)state;
    size_t n = 0;
    const cli_option *opts = cli_options(&n);
    const ebm_command cmds[] = {CMD_TRAIN, CMD_EVAL, CMD_SAMPLE};
    for (size_t k = 0; k < 3; k++) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        assert_non_null(f);
        cli_print_help(f, cmds[k]);
        fclose(f);
        for (size_t i = 0; i < n; i++) {
            if (!(opts[i].commands & (1u << cmds[k])))
                continue;
            char flag[80];
            snprintf(flag, sizeof flag, "--%s ", opts[i].name);
            if (!strstr(text, flag))
                fail_msg("help of command %d does not list --%s", (int)cmds[k], opts[i].name);
        }
        free(text);
    }
    /* The overview documents the exit statuses. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    cli_print_help(f, CMD_NONE);
    fclose(f);
    assert_non_null(strstr(text, "75"));
    free(text);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_parse_train_defaults_stable),
        cmocka_unit_test(test_cli_parse_defaults_equal_apply_preset),
        cmocka_unit_test(test_cli_parse_preset_seed),
        cmocka_unit_test(test_cli_parse_options_override_preset_either_order),
        cmocka_unit_test(test_cli_parse_equals_and_space_forms_agree),
        cmocka_unit_test(test_cli_parse_all_train_options),
        cmocka_unit_test(test_cli_parse_eval_and_sample),
        cmocka_unit_test(test_cli_parse_out_depends_on_command),
        cmocka_unit_test(test_cli_parse_help_and_version),
        cmocka_unit_test(test_cli_parse_fails_without_command),
        cmocka_unit_test(test_cli_parse_fails_unknown_command),
        cmocka_unit_test(test_cli_parse_fails_unknown_option),
        cmocka_unit_test(test_cli_parse_fails_option_of_another_command),
        cmocka_unit_test(test_cli_parse_fails_missing_value),
        cmocka_unit_test(test_cli_parse_fails_non_numeric),
        cmocka_unit_test(test_cli_parse_fails_non_integer),
        cmocka_unit_test(test_cli_parse_fails_out_of_range),
        cmocka_unit_test(test_cli_parse_fails_nan_inf),
        cmocka_unit_test(test_cli_parse_fails_bad_preset),
        cmocka_unit_test(test_cli_parse_fails_empty_string),
        cmocka_unit_test(test_cli_parse_fails_too_long_string),
        cmocka_unit_test(test_cli_parse_fails_eval_sample_without_ckpt),
        cmocka_unit_test(test_cli_parse_fails_bad_split),
        cmocka_unit_test(test_cli_parse_lr_schedule_and_ema),
        cmocka_unit_test(test_cli_options_hyper_have_values),
        cmocka_unit_test(test_cli_options_table_consistent),
        cmocka_unit_test(test_cli_print_help_lists_options),
    };
    return harness_run(argc, argv, "test_cli", tests, HARNESS_COUNT(tests), NULL, NULL);
}
