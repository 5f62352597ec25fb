/* record.h: the run record, what a file found later says about the run that
 * wrote it: the program's and libraries' versions, the git revision, the
 * command line, every hyperparameter and the settings the preset fixes, the
 * data file and its checksum, the world size and the hosts with their ranks.
 * Checkpoints and metrics.h5 carry it as root attributes. */
#ifndef EBM_RECORD_H
#define EBM_RECORD_H

#include <stddef.h>

#include "ckpt.h"
#include "options.h"
#include "io/h5file.h"

#define RECORD_MAX_ATTRS 64

typedef struct {
    h5file_attr attrs[RECORD_MAX_ATTRS];
    size_t n;
    char checksum[24]; /* storage for the checksum's text */
} run_record;

/* The attributes point into cfg, run and the record itself: keep all three
 * alive while writing. */
void record_build(run_record *record, const ebm_config *cfg, const run_info *run);

#endif
