/* cli.h: the command line: the command word, argv, --help and --version,
 * the usage and help texts and --dry-run's listing. The options themselves
 * (table, presets, parsing) are the library's: options.h. */
#ifndef EBM_CLI_H
#define EBM_CLI_H

#include <stdio.h>

#include "core/err.h"
#include "options.h"

/* Exit statuses (documented in --help and the README). */
enum { EBM_EXIT_OK = 0, EBM_EXIT_ERROR = 1, EBM_EXIT_RESUMABLE = 75 };

/* Fills cfg from argv. On error returns -1 with a message that names the
 * option or argument. --help/--version set want_help/want_version. */
int cli_parse(int argc, char **argv, ebm_config *cfg, ebm_err *err);

/* Usage text for a command (CMD_NONE: the program overview). Defaults and
 * the presets' descriptions are rendered from the presets' own values. */
void cli_print_help(FILE *out, ebm_command command);

/* `train --dry-run`: every option of cfg's command as `--name value`, one a
 * line, then the description of the method. */
void cli_print_config(FILE *out, const ebm_config *cfg);

#endif
