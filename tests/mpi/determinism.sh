#!/bin/bash
# determinism.sh: docs/design.md section 2's determinism promise at one world size.
# Trains three times at the same NP: twice with --seed 0 and once with
# --seed 1. The two seed-0 runs must give a bitwise-identical /model in both
# best.h5 and last.h5 (h5diff exits 0) and the same per-epoch figures (the
# epoch lines with their timings removed); the seed-1 run must give a
# different /model (h5diff exits 1), which shows the comparison can fail.
#
# usage: determinism.sh WORKDIR NP PROGRAM train [ARGS...]
#   (no --seed or --out in ARGS: this script adds them). EBM_H5DIFF names
#   h5diff (default: h5diff on PATH).
set -u

if [ $# -lt 4 ]; then
    echo "usage: determinism.sh WORKDIR NP PROGRAM train [ARGS...]" >&2
    exit 2
fi
work=$1
np=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
h5diff=${EBM_H5DIFF:-h5diff}

rm -rf "$work"
mkdir -p "$work" || exit 1

for run in a:0 b:0 c:1; do
    name=${run%%:*}
    seed=${run#*:}
    "$here/train_ok.sh" "$work/$name" "$np" "$@" --seed "$seed" >"$work/$name.log" 2>&1 || {
        cat "$work/$name.log"
        echo "FAIL: run $name (np = $np, seed $seed) did not complete"
        exit 1
    }
done

fail() {
    echo "FAIL: $*"
    exit 1
}

# The per-epoch lines without the wall-clock figures (seconds, examples/s,
# share of time in communication).
figures() {
    grep '^epoch' "$1" | sed -E 's/[0-9]+(\.[0-9]+)?s\b//g; s/[0-9]+ ex\/s//g; s/comm [0-9]+%//g'
}

for f in best.h5 last.h5; do
    a=$work/a/out/$f b=$work/b/out/$f c=$work/c/out/$f
    "$h5diff" "$a" "$b" /model /model
    st=$?
    [ "$st" -eq 0 ] || {
        "$h5diff" -r "$a" "$b" /model /model | head -n 40
        fail "same seed, np = $np: /model in $f differs between two runs (h5diff exit $st)"
    }
    echo "ok: seed 0 twice at np = $np: /model in $f is bitwise identical"

    "$h5diff" -q "$a" "$c" /model /model
    st=$?
    [ "$st" -eq 1 ] || fail "seeds 0 and 1 at np = $np: h5diff on /model in $f exited $st, expected 1 (different models)"
    echo "ok: seeds 0 and 1 at np = $np: /model in $f differs"
done

if ! diff <(figures "$work/a/stdout.txt") <(figures "$work/b/stdout.txt"); then
    fail "same seed, np = $np: the per-epoch figures differ between two runs"
fi
[ -n "$(figures "$work/a/stdout.txt")" ] || fail "no epoch lines in the output"
echo "ok: seed 0 twice at np = $np: the per-epoch figures are identical"
exit 0
