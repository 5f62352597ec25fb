#!/bin/sh
# Issue 14, second final table: the 40-epoch recipe chosen on val after the
# first one (experiments/2026-12-02-sample-quality/quality-log.md, "Final, 40 epochs"). One training at a time.
set -eu
BIN=${BIN:-build/bin/ebm_mpi}
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
G="nice -n 15 /usr/bin/python3 experiments/2026-12-02-sample-quality/grid.py --binary $BIN --samples 0 --quality test --np 1 8 --seeds 0 1 2 3 4"
$G --label "candidate-e40: --chain-init 1 --gen-weight 0.2 --step-decay 0.8 --epochs 40" \
    --out runs/final/cand-e40 -- --chain-init 1 --gen-weight 0.2 --step-decay 0.8 --epochs 40 </dev/null
