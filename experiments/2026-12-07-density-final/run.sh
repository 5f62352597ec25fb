#!/bin/bash
# The final table of issue 23: one binary, fixed seeds 0-4 x np {1, 8}, no
# reruns. Each step appends its figures to a .tsv here; logs go to logs/.
#
#   run.sh train   PRESET NP SEED     trains RUNS/PRESET-npNP-sSEED (`--preset PRESET`;
#                                     default: no preset; plain: --gen-weight 0)
#   run.sh eval    PRESET NP SEED     eval on val and test (error, ECE), --ood uniform
#                                     and shuffled on test (np 2)
#   run.sh loglik  PRESET NP SEED T   eval --loglik --split test --ais-steps T (np 2)
#   run.sh samples PRESET NP SEED SAMPLER STEPS
#                                     270 samples from --init uniform (np 2), measured
#                                     against the TEST split (scripts/sample_quality.py)
#
# BIN: the binary (a copy, so that later builds do not change it); RUNS: where
# the runs go.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BIN=${BIN:-/tmp/s10/bin/ebm_mpi}
RUNS=${RUNS:-/tmp/s10/final}
export HWLOC_COMPONENTS=-gl OPENBLAS_NUM_THREADS=1 EBM_BUILD_DIR=$repo/build
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
mpirun=$repo/tests/mpi/mpirun.sh
data=$repo/data/digits.h5
mkdir -p "$here/logs" "$RUNS"
step=$1 preset=$2 np=$3 seed=$4
shift 4
name=$preset-np$np-s$seed${TAG:+-$TAG} # TAG: a repeated run under another name
run=$RUNS/$name
log=$here/logs/$name
case $preset in
default) popt=() ;;
plain) popt=(--gen-weight 0) ;; # the classifier alone: cross-entropy, no generative term
*) popt=(--preset "$preset") ;;
esac
case $step in
train)
    "$mpirun" "$np" "$BIN" train --data "$data" "${popt[@]}" --seed "$seed" --out "$run" \
        --overwrite > "$log.train" 2>&1
    done_line=$(grep -E '^done in' "$log.train")
    secs=$(sed -E 's/^done in ([0-9.]+)s.*/\1/' <<<"$done_line")
    rollbacks=$(grep -c 'rolled back to the start' "$log.train" || true)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$preset" "$np" "$seed" "$secs" "$rollbacks" \
        >> "$here/train.tsv"
    ;;
eval)
    for split in val test; do
        "$mpirun" 2 "$BIN" eval --data "$data" --ckpt "$run/best.h5" --split $split \
            > "$log.eval_$split" 2>&1
    done
    for ood in uniform shuffled; do
        "$mpirun" 2 "$BIN" eval --data "$data" --ckpt "$run/best.h5" --split test --ood $ood \
            > "$log.ood_$ood" 2>&1
    done
    err() { grep -E '^  error' "$1" | sed -E 's/^  error ([0-9.]+)%.*calibration error ([0-9.]+).*/\1\t\2/'; }
    auc() { grep -E 'AUROC' "$1" | sed -E 's/.*-E\(x\) ([0-9.]+), max softmax ([0-9.]+).*/\1\t\2/'; }
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$(err "$log.eval_val")" "$(err "$log.eval_test")" \
        "$(auc "$log.ood_uniform")" "$(auc "$log.ood_shuffled")" >> "$here/eval.tsv"
    ;;
loglik)
    T=$1
    "$mpirun" 2 "$BIN" eval --data "$data" --ckpt "$run/best.h5" --split test --loglik \
        --ais-steps "$T" > "$log.loglik$T" 2>&1
    ais=$(grep -E '^    log p\(x\) = ' "$log.loglik$T" | sed -E 's/.*= (-?[0-9.]+) .*/\1/')
    ess=$(grep -E '^    log Z = .*ESS [0-9.]+ of' "$log.loglik$T" | tail -1 | sed -E 's/.*ESS ([0-9.]+) of.*/\1/')
    raise=$(grep -E '^    log p\(x\) >= ' "$log.loglik$T" | sed -E 's/.*>= (-?[0-9.]+) .*/\1/')
    judged=$(grep -E '^  judged' "$log.loglik$T" | sed -E 's/.*: (-?[0-9.]+) nats.*/\1/')
    base=$(grep -E 'the base density alone' "$log.loglik$T" | sed -E 's/.*exact\): (-?[0-9.]+) .*/\1/' || true)
    # the T measured (auto: the one the rule chose on the validation split)
    used=$(grep -oE 'AIS: [0-9]+ temperatures' "$log.loglik$T" | tail -1 | grep -oE '[0-9]+')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$used" "$ais" "$ess" "$raise" "$judged" "${base:-}" \
        >> "$here/loglik.tsv"
    ;;
samples)
    sampler=$1 steps=$2
    out=$run/uniform_$sampler$steps.h5
    "$mpirun" 2 "$BIN" sample --data "$data" --ckpt "$run/best.h5" --init uniform \
        --sampler "$sampler" --n 270 --steps "$steps" --seed 0 --out "$out" --overwrite \
        > "$log.uniform_$sampler$steps" 2>&1
    /usr/bin/python3 "$repo/scripts/sample_quality.py" "$out" --data "$data" --split test \
        --no-classifier > "$log.uniform_$sampler$steps.quality" 2>&1
    q=$(grep -E '^    samples ' "$log.uniform_$sampler$steps.quality" | awk '{print $2"\t"$3"\t"$4}')
    c=$(grep -E '^    copies: ' "$log.uniform_$sampler$steps.quality" | sed -E 's/.*copies: ([0-9.]+) .*/\1/')
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$sampler" "$steps" "$q" "$c" >> "$here/samples.tsv"
    ;;
*) echo "run.sh: unknown step $step" >&2; exit 2 ;;
esac
