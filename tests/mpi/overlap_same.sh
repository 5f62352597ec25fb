#!/bin/bash
# overlap_same.sh: --overlap on (per-layer nonblocking gradient sums during the
# backward pass) trains to the same bits as --overlap off (one MPI_Allreduce),
# docs/design.md section 2: at world size NP, the same seed, --overlap off,
# on, on again; /model, /optimizer, /sampler, /rng and the metrics (timings
# aside) of last.h5 and best.h5 and metrics.h5 must be identical across all
# three (the second `on` run: same np, same bits every run).
#
# usage: overlap_same.sh WORKDIR NP PROGRAM train [ARGS...]   (no --out, --overlap)
set -u
if [ $# -lt 4 ]; then
    echo "usage: overlap_same.sh WORKDIR NP PROGRAM train [ARGS...]" >&2
    exit 2
fi
work=$1 np=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
py=${EBM_PYTHON:-/usr/bin/python3}
rm -rf "$work" && mkdir -p "$work" || exit 1
for run in off:off on:on again:on; do
    name=${run%%:*} mode=${run#*:}
    "$here/train_ok.sh" "$work/$name" "$np" "$@" --overlap "$mode" >"$work/$name.log" 2>&1 || {
        cat "$work/$name.log"
        echo "FAIL: --overlap $mode at np $np did not complete"
        exit 1
    }
done
for other in on again; do
    for f in last.h5 best.h5; do
        "$py" "$here/compare_ckpt.py" "$work/off/out/$f" "$work/$other/out/$f" \
            /model /optimizer /sampler /rng || { echo "FAIL: $f of --overlap off and run '$other' differ at np $np"; exit 1; }
    done
    "$py" "$here/compare_ckpt.py" "$work/off/out/metrics.h5" "$work/$other/out/metrics.h5" / ||
        { echo "FAIL: metrics.h5 of --overlap off and run '$other' differ at np $np"; exit 1; }
done
echo "ok: --overlap off, on and on again at np $np: identical checkpoints and metrics"
