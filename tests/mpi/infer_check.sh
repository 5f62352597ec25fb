#!/bin/bash
# infer_check.sh: runs eval --dump and sample on NP ranks against a trained
# checkpoint and checks every output against PyTorch (tests/mpi/torch_check.py):
# the dumped logits/energies/labels/predictions, the error eval prints, the
# energies of unconditional and class-conditional samples, and (with
# --chains CKPT2, a checkpoint with a persistent buffer) that
# `sample --from-chains --steps 0` returns the buffer's chains.
# usage: infer_check.sh [--chains CKPT2] WORKDIR NP PROGRAM CKPT DATA
# EBM_PYTHON names the Python with h5py and torch (default /usr/bin/python3).
set -u
chains_ckpt=
if [ "${1:-}" = --chains ]; then chains_ckpt=$2; shift 2; fi
if [ $# -ne 5 ]; then
    echo "usage: infer_check.sh [--chains CKPT2] WORKDIR NP PROGRAM CKPT DATA" >&2
    exit 2
fi
work=$1 np=$2 prog=$3 ckpt=$4 data=$5
here=$(cd "$(dirname "$0")" && pwd)
py=${EBM_PYTHON:-/usr/bin/python3}
rm -rf "$work"
mkdir -p "$work" || exit 1

# step NAME COMMAND...: runs it, shows its output, stops the test on failure.
step() {
    local name=$1
    shift
    echo "== $name: $*"
    "$@" >"$work/$name.log" 2>&1
    local status=$?
    cat "$work/$name.log"
    [ "$status" -eq 0 ] || { echo "FAIL: $name exited with status $status"; exit 1; }
}

step eval "$here/mpirun.sh" "$np" "$prog" eval --ckpt "$ckpt" --data "$data" \
    --dump "$work/dump.h5"
step torch_dump "$py" "$here/torch_check.py" dump "$ckpt" "$data" "$work/dump.h5"
# The error eval prints is the dump's (labels vs argmax), to the digit printed.
printed=$(sed -n 's/^  error \([0-9.]*\)%.*/\1/p' "$work/eval.log")
from_dump=$("$py" -c 'import h5py, sys
f = h5py.File(sys.argv[1], "r")
print("%.2f" % (100 * (f["label"][()] != f["predicted"][()]).mean()))' "$work/dump.h5")
echo "eval printed error ${printed:-?}%, the dump gives ${from_dump}%"
[ -n "$printed" ] && [ "$printed" = "$from_dump" ] || { echo "FAIL: error mismatch"; exit 1; }

step sample "$here/mpirun.sh" "$np" "$prog" sample --ckpt "$ckpt" --n 203 --out "$work/s.h5"
step torch_samples "$py" "$here/torch_check.py" samples "$ckpt" "$work/s.h5"
step sample_class "$here/mpirun.sh" "$np" "$prog" sample --ckpt "$ckpt" --n 64 --class 3 \
    --out "$work/s3.h5"
step torch_class "$py" "$here/torch_check.py" samples "$ckpt" "$work/s3.h5"
if [ -n "$chains_ckpt" ]; then
    step sample_chains "$here/mpirun.sh" "$np" "$prog" sample --ckpt "$chains_ckpt" --n 50 \
        --from-chains --steps 0 --out "$work/c.h5"
    step torch_chains "$py" "$here/torch_check.py" chains "$chains_ckpt" "$work/c.h5"
fi
echo "ok: eval and sample outputs match PyTorch"
