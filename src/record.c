/* record.c: the run record's attributes. */
#include "record.h"

#include <stdio.h>

static void add(run_record *r, h5file_attr a)
{
    if (r->n < RECORD_MAX_ATTRS)
        r->attrs[r->n++] = a;
}

static void text(run_record *r, const char *name, const char *value)
{
    add(r, (h5file_attr){name, H5FILE_ATTR_TEXT, 0, 0.0, value});
}

static void integer(run_record *r, const char *name, int64_t value)
{
    add(r, (h5file_attr){name, H5FILE_ATTR_INT, value, 0.0, NULL});
}

void record_build(run_record *r, const ebm_config *cfg, const run_info *run)
{
    r->n = 0;
    snprintf(r->checksum, sizeof r->checksum, "%016llx", (unsigned long long)run->data_checksum);
    text(r, "program", "ebm_mpi");
    text(r, "program_version", run->program_version);
    text(r, "git_revision", run->git_revision);
    text(r, "mpi_version", run->mpi_version);
    text(r, "hdf5_version", run->hdf5_version);
    text(r, "blas_version", run->blas_version);
    text(r, "command_line", run->command_line);
    text(r, "hosts", run->hosts);
    text(r, "data_file", run->data_path);
    text(r, "data_checksum_fnv1a64", r->checksum);
    integer(r, "world_size", run->world_size);
    integer(r, "map_inputs", cfg->map_inputs);
    integer(r, "clamp_chains", cfg->clamp_chains);
    integer(r, "select_by_error", cfg->select_by_error);
    /* Every hyperparameter under its option name. */
    size_t n_opts;
    const cli_option *opts = cli_options(&n_opts);
    for (size_t i = 0; i < n_opts; i++) {
        const cli_option *o = &opts[i];
        if (!o->hyper)
            continue;
        const char *s = cli_option_string(o, cfg);
        if (s)
            text(r, o->name, s);
        else if (o->type == OPT_DOUBLE)
            add(r, (h5file_attr){o->name, H5FILE_ATTR_DOUBLE, 0, cli_option_number(o, cfg), NULL});
        else
            integer(r, o->name, (int64_t)cli_option_number(o, cfg));
    }
}
