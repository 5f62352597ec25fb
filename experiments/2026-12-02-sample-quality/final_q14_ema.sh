#!/bin/sh
# Issue 14, final table of branch q14-ema (test split, 5 seeds at np 1 and 8):
# the new default and the plain classifier (the new default with
# --gen-weight 0), in two streams of one training each, under nice; then the
# OOD figures. The previous default's rows are those of the previous final
# table (experiments/2026-12-02-sample-quality/final-table/new-default-*.tsv): this branch runs the same code
# for --lr 1e-3 --ema 0 (experiments/2026-12-02-sample-quality/quality-log.md, q14-ema: its val runs repeat
# the logged rows to the last digit), so they were not trained again; with
# PREV=1 they are (a third and fourth grid, about as long again).
#   [BIN=build/bin/ebm_mpi] [OUT=runs/final-ema] [PREV=1] experiments/2026-12-02-sample-quality/final_q14_ema.sh
# Table: experiments/2026-12-02-sample-quality/final_table.py "new default=$OUT/new-np1" "new default=$OUT/new-np8" \
#          "previous default=DIR" "plain classifier=$OUT/plain-np1" ...
set -eu
BIN=${BIN:-build/bin/ebm_mpi}
OUT=${OUT:-runs/final-ema}
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$OUT"
g() { # NP LABEL DIR [train options]
    np=$1 label=$2 dir=$3
    shift 3
    nice -n "${NICE:-15}" /usr/bin/python3 experiments/2026-12-02-sample-quality/grid.py --binary "$BIN" --samples 0 \
        --quality test --np "$np" --seeds 0 1 2 3 4 --label "$label" --out "$dir" -- "$@" </dev/null
}
(
    g 1 "new default" "$OUT/new-np1"
    g 1 "plain classifier" "$OUT/plain-np1" --gen-weight 0
    g 8 "plain classifier" "$OUT/plain-np8" --gen-weight 0
    if [ "${PREV:-0}" = 1 ]; then
        g 1 "previous default" "$OUT/prev-np1" --lr 1e-3 --ema 0
    fi
) > "$OUT.a.log" 2>&1 &
a=$!
(
    g 8 "new default" "$OUT/new-np8"
    if [ "${PREV:-0}" = 1 ]; then
        g 8 "previous default" "$OUT/prev-np8" --lr 1e-3 --ema 0
    fi
) > "$OUT.b.log" 2>&1 &
b=$!
wait $a
wait $b
nice -n "${NICE:-15}" /usr/bin/python3 experiments/2026-12-02-sample-quality/ood_table.py --binary "$BIN" "$OUT"/*-np?
