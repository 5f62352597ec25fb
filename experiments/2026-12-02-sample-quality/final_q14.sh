#!/bin/sh
# Issue 14's final table (test split, 5 seeds at np 1 and np 8): the chosen
# candidate, the current default and the plain classifier. One training at a
# time, under nice. Table: experiments/2026-12-02-sample-quality/quality_log.py --split test --summary runs/final/*
set -eu
BIN=${BIN:-build/bin/ebm_mpi}
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
G="nice -n 15 /usr/bin/python3 experiments/2026-12-02-sample-quality/grid.py --binary $BIN --samples 0 --quality test --np 1 8 --seeds 0 1 2 3 4"
$G --label "candidate: --chain-init 1 --gen-weight 0.2 --step-decay 0.8" --out runs/final/cand \
    -- --chain-init 1 --gen-weight 0.2 --step-decay 0.8 </dev/null
$G --label "default (stable)" --out runs/final/default </dev/null
$G --label "plain: --gen-weight 0" --out runs/final/plain -- --gen-weight 0 </dev/null
