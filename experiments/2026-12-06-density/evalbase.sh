#!/bin/bash
# Log-likelihood on the VALIDATION split of a finished run's best.h5 by AIS
# from its base density (eval --ais-start base) at several temperature counts
# (a figure still falling as T grows has not converged; the lower is closer).
#   evalbase.sh NAME [T...]     (default T: 1000 3000)
# Appends one row to results-base.tsv; raw logs to logs/NAME.llbase<T>.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
RUNS=${RUNS:-/tmp/dtrain/runs}
name=$1; shift
temps=${*:-1000 3000}
export HWLOC_COMPONENTS=-gl OPENBLAS_NUM_THREADS=1 EBM_BUILD_DIR=$repo/build
BIN=${BIN:-$RUNS/bin/ebm_mpi.aisbase}
row="$name"
for T in $temps; do
    log=$here/logs/$name.llbase$T
    "$repo/tests/mpi/mpirun.sh" 2 "$BIN" eval --data "$repo/data/digits.h5" --ckpt "$RUNS/$name/best.h5" \
        --split val --loglik --ais-steps "$T" --ais-start base > "$log" 2>&1
    v=$(grep -oE "log p\(x\) = -?[0-9.]+" "$log" | head -1 | grep -oE "\-?[0-9.]+$" || echo NA)
    ess=$(grep -oE "ESS [0-9.]+" "$log" | head -1 | grep -oE "[0-9.]+" || echo NA)
    b=$(grep -oE "alone \(independent pixels, exact\): -?[0-9.]+" "$log" | grep -oE "\-?[0-9.]+$" || echo NA)
    row="$row	T=$T: $v (ESS $ess)"
done
row="$row	base alone $b"
echo "$row" | tee -a "$here/results-base.tsv"
