#!/bin/sh
# Issue 14 screening: one experiments/2026-12-02-sample-quality/grid.py --quality run per option set, one at
# a time, under nice (the machine is shared). Each line of the sweep file is
# "label|train options"; blank lines and # comments are skipped.
#   [BIN=build/bin/ebm_mpi] experiments/2026-12-02-sample-quality/quality_sweep.sh SWEEPFILE OUTROOT NP SEED...
# Results: OUTROOT/<label>/results.tsv; table: experiments/2026-12-02-sample-quality/quality_log.py OUTROOT/*
set -eu
sweep=$1 root=$2 np=$3
shift 3
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
grep -v '^[[:space:]]*\(#\|$\)' "$sweep" | while IFS='|' read -r label opts; do
    dir=$root/$(printf '%s' "$label" | tr -c 'A-Za-z0-9._=-' '_')
    if [ -f "$dir/results.tsv" ] && [ "$(grep -vc '^#' "$dir/results.tsv")" -gt "$#" ]; then
        continue                                   # done already
    fi
    # shellcheck disable=SC2086
    nice -n ${NICE:-15} /usr/bin/python3 experiments/2026-12-02-sample-quality/grid.py --binary "${BIN:-build/bin/ebm_mpi}" --np "$np" --seeds "$@" --samples 0 \
        --quality val --label "$label" --out "$dir" -- $opts </dev/null >/dev/null 2>&1 || true
    /usr/bin/python3 experiments/2026-12-02-sample-quality/quality_log.py "$dir"
done
