#!/bin/sh
# Issue 14, final table of a recipe chosen on val (experiments/2026-12-02-sample-quality/quality-log.md,
# "Wave s12/s13"): the recipe and the plain classifier with the same recipe
# (--gen-weight 0), 5 seeds at np 1 and np 8 on the test split, in two
# streams under nice; then the OOD figures.
#   [BIN=build/bin/ebm_mpi] [OUT=runs/final-recipe] experiments/2026-12-02-sample-quality/final_q14_recipe.sh LABEL [train options]
# Table: experiments/2026-12-02-sample-quality/final_table.py "LABEL=$OUT/recipe-np1" "LABEL=$OUT/recipe-np8" \
#          "plain classifier=$OUT/plain-np1" "plain classifier=$OUT/plain-np8"
set -eu
BIN=${BIN:-build/bin/ebm_mpi}
OUT=${OUT:-runs/final-recipe}
label=$1
shift
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$OUT"
g() { # NP LABEL DIR [train options]
    np=$1 l=$2 dir=$3
    shift 3
    nice -n "${NICE:-15}" /usr/bin/python3 experiments/2026-12-02-sample-quality/grid.py --binary "$BIN" --samples 0 \
        --quality test --np "$np" --seeds 0 1 2 3 4 --label "$l" --out "$dir" -- "$@" </dev/null
}
(
    g 1 "$label" "$OUT/recipe-np1" "$@"
    g 1 "plain classifier" "$OUT/plain-np1" "$@" --gen-weight 0
    g 8 "plain classifier" "$OUT/plain-np8" "$@" --gen-weight 0
) > "$OUT.a.log" 2>&1 &
a=$!
g 8 "$label" "$OUT/recipe-np8" "$@" > "$OUT.b.log" 2>&1 &
b=$!
wait $a
wait $b
nice -n "${NICE:-15}" /usr/bin/python3 experiments/2026-12-02-sample-quality/ood_table.py --binary "$BIN" "$OUT"/*-np?
