#!/bin/bash
# 270 samples of a run's best.h5 from uniform noise by SAMPLER (mala|kernel)
# at STEPS steps, measured against the VALIDATION split.
#   samples.sh NAME SAMPLER STEPS
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
RUNS=${RUNS:-/tmp/dkern/runs}
name=$1 sampler=$2 steps=$3
export HWLOC_COMPONENTS=-gl OPENBLAS_NUM_THREADS=1 EBM_BUILD_DIR=$repo/build
out=$RUNS/$name/uniform_$sampler$steps.h5
log=$here/logs/$name.uniform_$sampler$steps
"$repo/tests/mpi/mpirun.sh" 2 "$RUNS/bin/ebm_mpi.$name" sample --data "$repo/data/digits.h5" \
    --ckpt "$RUNS/$name/best.h5" --init uniform --sampler "$sampler" --n 270 --steps "$steps" \
    --seed 0 --out "$out" --overwrite > "$log" 2>&1
/usr/bin/python3 "$repo/scripts/sample_quality.py" "$out" --data "$repo/data/digits.h5" \
    --split val --no-classifier > "$log.quality" 2>&1
/usr/bin/python3 "$repo/scripts/plot_samples.py" "$out" --rows 4 -o "$here/$name.uniform_$sampler$steps.png" \
    >/dev/null 2>&1 || true
echo "$name	uniform $sampler $steps	$(grep -E '^    samples ' "$log.quality")" | tee -a "$here/results-samples.tsv"
