#!/bin/sh
# Issue 14, final table of branch q14-ema (test split, 5 seeds at np 1 and 8):
# the new default, the previous default (the same with --ema 0 --lr-schedule
# const --warmup 0) and the plain classifier (the new default with
# --gen-weight 0). Two streams of one training each, under nice; then the OOD
# figures. Table: scripts/final_table.py LABEL=DIR...
#   [BIN=build/bin/ebm_mpi] [OUT=runs/final-ema] scripts/final_q14_ema.sh
set -eu
BIN=${BIN:-build/bin/ebm_mpi}
OUT=${OUT:-runs/final-ema}
PREV="--lr 1e-3 --ema 0 --lr-schedule const --warmup 0 --lr-floor 0"
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$OUT"
g() { # NP LABEL DIR [train options]
    np=$1 label=$2 dir=$3
    shift 3
    nice -n "${NICE:-15}" /usr/bin/python3 scripts/grid.py --binary "$BIN" --samples 0 \
        --quality test --np "$np" --seeds 0 1 2 3 4 --label "$label" --out "$dir" -- "$@" </dev/null
}
(
    g 1 "new default" "$OUT/new-np1"
    g 1 "plain classifier" "$OUT/plain-np1" --gen-weight 0
    g 1 "previous default" "$OUT/prev-np1" $PREV
    g 8 "plain classifier" "$OUT/plain-np8" --gen-weight 0
) > "$OUT.a.log" 2>&1 &
a=$!
(
    g 8 "new default" "$OUT/new-np8"
    g 8 "previous default" "$OUT/prev-np8" $PREV
) > "$OUT.b.log" 2>&1 &
b=$!
wait $a
wait $b
nice -n "${NICE:-15}" /usr/bin/python3 scripts/ood_table.py --binary "$BIN" "$OUT"/*-np?
