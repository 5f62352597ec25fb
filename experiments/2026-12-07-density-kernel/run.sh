#!/bin/bash
# One experiment of issue 23 item 2 (training with the evaluation's kernel):
# train at np NP, then on the VALIDATION split: error, `eval --loglik` (AIS and
# RAISE from the uniform box at AIS_T temperatures; judged = the lower), and
# 270 samples from uniform noise by MALA (SAMPLE_STEPS steps) measured by
# scripts/sample_quality.py --split val --no-classifier.
#   run.sh NAME [train options...]
# Env: NP (2), AIS_T (1000), SAMPLE_STEPS (2000; 0: no samples), SAMPLER (mala,
# or kernel), RUNS (/tmp/dkern/runs).
# One TSV row to results.tsv beside this script; raw logs to logs/NAME.*.
set -euo pipefail
RUNS=${RUNS:-/tmp/dkern/runs}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
name=$1; shift
# A copy of the binary per run: rebuilding the tree must not change a run.
mkdir -p "$RUNS/bin"
cp "$repo/build/bin/ebm_mpi" "$RUNS/bin/ebm_mpi.$name"
BIN=$RUNS/bin/ebm_mpi.$name
NP=${NP:-2}
AIS_T=${AIS_T:-1000}
SAMPLE_STEPS=${SAMPLE_STEPS:-2000}
SAMPLER=${SAMPLER:-mala}
export HWLOC_COMPONENTS=-gl OPENBLAS_NUM_THREADS=1 EBM_BUILD_DIR=$repo/build
mpi="$repo/tests/mpi/mpirun.sh"
data="$repo/data/digits.h5"
out=$RUNS/$name
log=$here/logs/$name
mkdir -p "$here/logs"
commit=$(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- src || echo "+dirty")
echo "command: train $* (np $NP, commit $commit)" > "$log.train"
t0=$(date +%s.%N)
"$mpi" "$NP" "$BIN" train --data "$data" --out "$out" --overwrite "$@" >> "$log.train" 2>&1
t1=$(date +%s.%N)
train_s=$(echo "$t1 - $t0" | bc)
rollbacks=$(grep -c "rolled back" "$log.train" || true)
"$mpi" 2 "$BIN" eval --data "$data" --ckpt "$out/best.h5" --split val > "$log.eval" 2>&1
err=$(grep -oE "error [0-9.]+%" "$log.eval" | head -1 | grep -oE "[0-9.]+")
"$mpi" 2 "$BIN" eval --data "$data" --ckpt "$out/best.h5" --split val --loglik \
    --ais-steps "$AIS_T" > "$log.ll$AIS_T" 2>&1
ais=$(grep -oE "log p\(x\) = -?[0-9.]+" "$log.ll$AIS_T" | head -1 | grep -oE "\-?[0-9.]+$" || echo NA)
ess=$(grep -oE "ESS [0-9.]+" "$log.ll$AIS_T" | head -1 | grep -oE "[0-9.]+$" || echo NA)
raise=$(grep -oE "log p\(x\) >= -?[0-9.]+" "$log.ll$AIS_T" | head -1 | grep -oE "\-?[0-9.]+$" || echo NA)
base=$(grep -oE "base density alone .*: -?[0-9.]+" "$log.ll$AIS_T" | head -1 | grep -oE "\-?[0-9.]+$" || echo NA)
q="not measured"
if [ "$SAMPLE_STEPS" -gt 0 ]; then
    smp=$out/uniform_$SAMPLER$SAMPLE_STEPS.h5
    "$mpi" 2 "$BIN" sample --data "$data" --ckpt "$out/best.h5" --init uniform --sampler "$SAMPLER" \
        --n 270 --steps "$SAMPLE_STEPS" --seed 0 --out "$smp" --overwrite > "$log.sample" 2>&1
    /usr/bin/python3 "$repo/scripts/sample_quality.py" "$smp" \
        --data "$data" --split val --no-classifier --json > "$log.quality" 2>&1
    q=$(/usr/bin/python3 - "$log.quality" <<'PY' 2>/dev/null || echo "quality NA"
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print("P %.3f R %.3f FD %.0f" % (d["knn_precision"], d["knn_recall"], d["fd"]))
PY
)
fi
row="$name	$commit	np$NP	$*	train_s ${train_s%.*}	rollbacks $rollbacks	val_err $err	T=$AIS_T AIS $ais (ESS $ess) RAISE $raise base $base	uniform $SAMPLER $SAMPLE_STEPS: $q"
echo "$row" | tee -a "$here/results.tsv"
