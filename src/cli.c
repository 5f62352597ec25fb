/* cli.c: the command line: the command word, argv, and the help texts and
 * --dry-run's listing rendered from the option table (options.c). */
#include "cli.h"

#include <string.h>

int cli_parse(int argc, char **argv, ebm_config *cfg, ebm_err *err)
{
    options_defaults(cfg);
    if (argc < 2)
        return ebm_fail(err, "no command given (try ebm_mpi --help)");
    const char *first = argv[1];
    if (!strcmp(first, "--help") || !strcmp(first, "-h")) {
        cfg->want_help = 1;
        return 0;
    }
    if (!strcmp(first, "--version")) {
        cfg->want_version = 1;
        return 0;
    }
    if (!strcmp(first, "train"))
        cfg->command = CMD_TRAIN;
    else if (!strcmp(first, "eval"))
        cfg->command = CMD_EVAL;
    else if (!strcmp(first, "sample"))
        cfg->command = CMD_SAMPLE;
    else
        return ebm_fail(err, "unknown command '%s' (expected train, eval or sample)", first);
    /* The words after the command are its option strings, as the library
     * takes them (ebm_train_mpi). */
    return ebm_pass(err, options_parse(cfg->command, argc - 2, (const char *const *)argv + 2,
                                       cfg, err));
}

/* The default of `o` in cfg as --help prints it; NULL when there is none to
 * print (flags, a required or unset file name). */
static const char *default_text(const cli_option *o, const ebm_config *cfg, char *buf,
                                size_t len)
{
    if (o->type == OPT_FLAG)
        return NULL;
    if (o->type == OPT_PRESET)
        return "stable";
    if (!strcmp(o->name, "data"))
        return "the shipped digits.h5";
    if (!strcmp(o->name, "steps") && cfg->sample_steps < 0)
        return "the checkpoint's --langevin-steps";
    if (!strcmp(o->name, "class") && cfg->class_label < 0)
        return NULL; /* unconditional */
    if (!strcmp(o->name, "init") && !cfg->sample_init[0])
        return "where training's fresh chains start";
    if (o->offset == offsetof(ebm_config, sample_step_size) && cfg->sample_step_size < 0)
        return "mala: tuned over the first half of --steps; ula: noise^2 / 2";
    if (!strcmp(o->name, "stall-timeout") && cfg->stall_timeout < 0)
        return "auto";
    if (!strcmp(o->name, "ais-steps") && cfg->ais_steps == 0)
        return "auto";
    const char *s = cli_option_string(o, cfg);
    if (s) {
        if (!s[0])
            return NULL;
        snprintf(buf, len, "%s", s);
    } else {
        snprintf(buf, len, "%.10g", cli_option_number(o, cfg));
    }
    return buf;
}

/* Each option of cmd with its default: "[X]", or "[stable X, seed Y]" when the
 * presets differ. */
static void print_options(FILE *out, ebm_command cmd)
{
    ebm_config stable, seed;
    options_defaults(&stable);
    options_defaults(&seed);
    cli_apply_preset(&seed, PRESET_SEED);
    size_t n_options;
    const cli_option *options = cli_options(&n_options);
    for (size_t i = 0; i < n_options; i++) {
        const cli_option *o = &options[i];
        if (!(o->commands & (1u << cmd)))
            continue;
        char lhs[64], a[80], b[80], def[200] = "";
        snprintf(lhs, sizeof lhs, "--%s %s", o->name, o->metavar);
        const char *ds = default_text(o, &stable, a, sizeof a);
        const char *dd = default_text(o, &seed, b, sizeof b);
        if (ds && dd && strcmp(ds, dd) != 0)
            snprintf(def, sizeof def, " [stable %s, seed %s]", ds, dd);
        else if (ds)
            snprintf(def, sizeof def, " [%s]", ds);
        /* Past 78 columns the default goes on a line of its own. */
        if (31 + strlen(o->help) + strlen(def) > 78 && def[0])
            fprintf(out, "  %-28s %s\n  %-28s%s\n", lhs, o->help, "", def);
        else
            fprintf(out, "  %-28s %s%s\n", lhs, o->help, def);
    }
}

/* "ebm_mpi eval --ckpt F [--data F] ...": the command's options as a usage
 * line, wrapped under its start. */
static void print_usage_line(FILE *out, const char *lead, ebm_command cmd)
{
    int col = fprintf(out, "%s", lead);
    const int indent = col;
    /* The required --ckpt first, then the rest in table order. */
    size_t n;
    const cli_option *options = cli_options(&n);
    for (size_t k = 0; k < 2 * n; k++) {
        const cli_option *o = &options[k % n];
        const int required = !strcmp(o->name, "ckpt");
        if (!(o->commands & (1u << cmd)) || !strcmp(o->name, "allow-single") ||
            required != (k < n))
            continue;
        char item[96];
        if (o->type == OPT_FLAG)
            snprintf(item, sizeof item, " [--%s]", o->name);
        else
            snprintf(item, sizeof item, required ? " --%s %s" : " [--%s %s]", o->name,
                     o->metavar);
        if (col + (int)strlen(item) > 78) {
            col = fprintf(out, "\n%*s", indent, "") - 1;
        }
        col += fprintf(out, "%s", item);
    }
    fprintf(out, "\n");
}

void cli_print_config(FILE *out, const ebm_config *cfg)
{
    size_t n_options;
    const cli_option *options = cli_options(&n_options);
    for (size_t i = 0; i < n_options; i++) {
        const cli_option *o = &options[i];
        if (!(o->commands & (1u << cfg->command)) || o->type == OPT_FLAG)
            continue;
        const char *s = cli_option_string(o, cfg);
        if (s && !s[0] && !strcmp(o->name, "data"))
            fprintf(out, "--%s (the shipped digits.h5)\n", o->name);
        else if (!strcmp(o->name, "stall-timeout") && cfg->stall_timeout < 0)
            fprintf(out, "--%s auto\n", o->name);
        else if (s)
            fprintf(out, "--%s %s\n", o->name, s[0] ? s : "(none)");
        else
            fprintf(out, "--%s %.10g\n", o->name, cli_option_number(o, cfg));
    }
    char what[512];
    cli_describe(cfg, what, sizeof what);
    fprintf(out, "# %s\n", what);
}

static const char exit_text[] =
    "Exit status: 0 done; 1 error (one 'ebm_mpi: error:' line says what);\n"
    "75 stopped on request (SIGUSR1/SIGTERM), last.h5 written: run again with\n"
    "--resume auto to continue. mpirun forwards SIGUSR1 and exits 75 too; after\n"
    "SIGTERM it kills the ranks 1 s later and exits 1 (docs/usage.md: Exit status).\n";

/* Prints `text` wrapped at 78 columns, every line after the first indented. */
static void print_wrapped(FILE *out, const char *text, int indent)
{
    const char *p = text;
    int col = 0;
    while (*p == ' ')
        col += fprintf(out, " "), p++;
    const int first = col;
    while (*p) {
        const size_t word = strcspn(p, " ");
        if (col > indent && col + (int)word + 1 > 78) {
            col = fprintf(out, "\n%*s", indent, "") - 1;
        } else if (col > first) {
            col += fprintf(out, " ");
        }
        col += fprintf(out, "%.*s", (int)word, p);
        p += word;
        while (*p == ' ')
            p++;
    }
    fprintf(out, "\n");
}

void cli_print_help(FILE *out, ebm_command cmd)
{
    ebm_config stable, seed;
    options_defaults(&stable);
    options_defaults(&seed);
    cli_apply_preset(&seed, PRESET_SEED);
    char text[768], what[512];
    switch (cmd) {
    case CMD_TRAIN:
        fprintf(out,
                "usage: mpirun -np P ebm_mpi train [options]\n\n"
                "Trains the joint energy-based model (classifier + Langevin sampler) with\n"
                "data parallelism over P ranks. Writes <out>/best.h5 (best validation\n"
                "figure), <out>/last.h5 and <out>/metrics.h5.\n\n"
                "Presets (options given before or after --preset override its values):\n");
        cli_describe(&stable, what, sizeof what);
        snprintf(text, sizeof text, "  stable (default): %s.", what);
        print_wrapped(out, text, 4);
        cli_describe(&seed, what, sizeof what);
        snprintf(text, sizeof text, "  seed, the course notebook's method: %s.", what);
        print_wrapped(out, text, 4);
        {
            ebm_config density;
            options_defaults(&density);
            cli_apply_preset(&density, PRESET_DENSITY);
            cli_describe(&density, what, sizeof what);
            snprintf(text, sizeof text, "  density, an energy that is a density (issue 23): %s.",
                     what);
            print_wrapped(out, text, 4);
        }
        fprintf(out, "\n");
        print_options(out, CMD_TRAIN);
        fprintf(out, "\n%s", exit_text);
        break;
    case CMD_EVAL:
        print_usage_line(out, "usage: [mpirun -np P] ebm_mpi eval", CMD_EVAL);
        fprintf(out, "\nLoss, error, calibration and confusion matrix of a checkpoint on a\n"
                     "split; with --loglik also its log-likelihood (nats/image of the pixel\n"
                     "levels): AIS and RAISE from the uniform base (judged: the lower) and\n"
                     "four classical models fitted on the training split.\n\n");
        print_options(out, CMD_EVAL);
        break;
    case CMD_SAMPLE:
        print_usage_line(out, "usage: [mpirun -np P] ebm_mpi sample", CMD_SAMPLE);
        fprintf(out, "\nDraws samples from a checkpoint by Langevin dynamics (unconditional,\n"
                     "or of --class K). Chains start uniform in the data box, from the\n"
                     "per-class Gaussians of the training images or from the checkpoint's\n"
                     "persistent chains (--init), and run the training's annealed Langevin\n"
                     "steps (--sampler train), MALA (Metropolis-adjusted: proposals outside\n"
                     "the box rejected, exact for exp(-E) on the box; the acceptance rate is\n"
                     "printed) or unadjusted Langevin (ula: sigma^2 = 2 eta, no decay,\n"
                     "reflected at the box's faces).\n\n");
        print_options(out, CMD_SAMPLE);
        break;
    case CMD_NONE:
        fprintf(out, "usage: mpirun -np P ebm_mpi train [options]\n");
        print_usage_line(out, "       ebm_mpi eval", CMD_EVAL);
        print_usage_line(out, "       ebm_mpi sample", CMD_SAMPLE);
        fprintf(out, "       ebm_mpi --help | --version | CMD --help\n\n"
                     "Data-parallel training of a joint energy-based model of handwritten\n"
                     "digits with MPI, OpenBLAS and parallel HDF5.\n\n%s",
                exit_text);
        break;
    }
}
