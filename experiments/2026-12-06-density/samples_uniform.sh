#!/bin/bash
# Samples from uniform noise with the sampler helper's kernels (d23-sampler,
# merged in a trial build): 270 samples, --init uniform, MALA and ULA, STEPS
# steps, measured on the VALIDATION split. One row to results-samples.tsv.
#   samples_uniform.sh NAME [STEPS]      (env TRIAL_BIN: the merged binary)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
RUNS=${RUNS:-/tmp/dtrain/runs}
name=$1
steps=${2:-2000}
BIN=${TRIAL_BIN:-/tmp/dtrain/ebm_mpi.trial}
export HWLOC_COMPONENTS=-gl OPENBLAS_NUM_THREADS=1 EBM_BUILD_DIR=$repo/build
row="$name	steps $steps"
for kernel in mala ula; do
    out=$RUNS/$name/uniform_$kernel$steps.h5
    log=$here/logs/$name.uniform_$kernel$steps
    "$repo/tests/mpi/mpirun.sh" 2 "$BIN" sample --ckpt "$RUNS/$name/best.h5" --n 270 --init uniform \
        --sampler "$kernel" --steps "$steps" --out "$out" > "$log" 2>&1
    /usr/bin/python3 "$repo/scripts/sample_quality.py" "$out" --data "$repo/data/digits.h5" --split val \
        --no-classifier --json > "$log.quality" 2>&1
    q=$(/usr/bin/python3 - "$log.quality" <<'PY'
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print("P %.3f R %.3f FD %.0f" % (d["knn_precision"], d["knn_recall"], d["fd"]))
PY
)
    row="$row	$kernel: $q"
done
echo "$row" | tee -a "$here/results-samples.tsv"
