#!/bin/bash
# One experiment: train at np 2 (validation chooses), then on the VALIDATION
# split: error, AIS log-likelihood at several temperature counts, and samples
# from uniform noise measured by scripts/sample_quality.py --no-classifier.
#   run.sh NAME [train options...]
# Env: BIN (ebm_mpi), NP (2), AIS_T ("300 1000 3000"), SAMPLE_STEPS (600),
#      RUNS (runs dir, default /tmp/dtrain/runs). Appends one TSV row to
#      results.tsv beside this script; raw logs to logs/NAME.*.
set -euo pipefail
RUNS=${RUNS:-/tmp/dtrain/runs}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
name=$1; shift
# A copy of the binary per run: rebuilding the tree must not change a run.
BIN=${BIN:-$repo/build/bin/ebm_mpi}
mkdir -p "$RUNS/bin"
cp "$BIN" "$RUNS/bin/ebm_mpi.$name"
BIN=$RUNS/bin/ebm_mpi.$name
NP=${NP:-2}
AIS_T=${AIS_T:-"300 1000 3000"}
SAMPLE_STEPS=${SAMPLE_STEPS:-600}
export HWLOC_COMPONENTS=-gl OPENBLAS_NUM_THREADS=1 EBM_BUILD_DIR=$repo/build
mpi="$repo/tests/mpi/mpirun.sh"
out=$RUNS/$name
logs=$here/logs
mkdir -p "$logs" "$RUNS"
log=$logs/$name
commit=$(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- src || echo "+dirty")
echo "command: train $* (np $NP, commit $commit)" > "$log.train"
t0=$(date +%s.%N)
"$mpi" "$NP" "$BIN" train --data "$repo/data/digits.h5" --out "$out" --overwrite "$@" >> "$log.train" 2>&1
t1=$(date +%s.%N)
train_s=$(echo "$t1 - $t0" | bc)
rollbacks=$(grep -c "rolled back to the start" "$log.train" || true)
"$mpi" 2 "$BIN" eval --data "$repo/data/digits.h5" --ckpt "$out/best.h5" --split val > "$log.eval" 2>&1
err=$(grep -oE "error [0-9.]+%" "$log.eval" | head -1 | grep -oE "[0-9.]+")
ll=""
for T in $AIS_T; do
    "$mpi" 2 "$BIN" eval --data "$repo/data/digits.h5" --ckpt "$out/best.h5" --split val --loglik \
        --ais-steps "$T" > "$log.ll$T" 2>&1
    v=$(grep -oE "log p\(x\) = -?[0-9.]+" "$log.ll$T" | head -1 | grep -oE "\-?[0-9.]+$" || echo NA)
    ess=$(grep -oE "ESS [0-9.]+" "$log.ll$T" | head -1 | grep -oE "[0-9.]+" || echo NA)
    ll="$ll$v(ESS $ess) "
done
"$mpi" 2 "$BIN" sample --data "$repo/data/digits.h5" --ckpt "$out/best.h5" --n 270 \
    --steps "$SAMPLE_STEPS" --out "$out/samples.h5" > "$log.sample" 2>&1
/usr/bin/python3 "$repo/scripts/sample_quality.py" "$out/samples.h5" --data "$repo/data/digits.h5" \
    --split val --no-classifier --json > "$log.quality" 2>&1
q=$(/usr/bin/python3 - "$log.quality" <<'PY' 2>/dev/null || echo "quality NA"
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print("P %.3f R %.3f FD %.0f" % (d["knn_precision"], d["knn_recall"], d["fd"]))
PY
)
row="$name	$commit	np$NP	$*	train_s ${train_s%.*}	rollbacks $rollbacks	val_err $err	loglik_val(T=$AIS_T) $ll	samples($SAMPLE_STEPS steps, uniform) $q"
echo "$row" | tee -a "$here/results.tsv"
