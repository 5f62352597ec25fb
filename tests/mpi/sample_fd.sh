#!/bin/bash
# sample_fd.sh: the sample-quality gate. Draws as many unconditional samples
# from CKPT as DATA's test split has images, as docs/stable-preset.md measured
# them (`PROGRAM sample --ckpt CKPT --n N`, one process, seed 0, fresh chains
# from the checkpoint's starts, the checkpoint's own --langevin-steps), then
# measures them against the test images with scripts/sample_quality.py
# (--split test --no-classifier: k-NN precision/recall and the pixel Frechet
# distance, numpy only) and requires FD < MAX_FD. The bound is the caller's
# (tests/CMakeLists.txt says where it comes from).
#
# usage: sample_fd.sh MAX_FD WORKDIR PROGRAM CKPT DATA
#   EBM_PYTHON: the Python with h5py and numpy (default /usr/bin/python3).
set -euo pipefail

if [ $# -ne 5 ]; then
    echo "usage: sample_fd.sh MAX_FD WORKDIR PROGRAM CKPT DATA" >&2
    exit 2
fi
max_fd=$1 work=$2 prog=$3 ckpt=$4 data=$5
here=$(cd "$(dirname "$0")" && pwd)
py=${EBM_PYTHON:-/usr/bin/python3}
quality=$here/../../scripts/sample_quality.py
rm -rf "$work"
mkdir -p "$work"

fail() { echo "FAIL: $*"; exit 1; }

n=$("$py" -c 'import h5py, sys; print(len(h5py.File(sys.argv[1], "r")["test/labels"]))' "$data") ||
    fail "cannot read the test split's size from $data"
echo "sample_fd.sh: $prog sample --ckpt $ckpt --data $data --n $n --seed 0 --out $work/samples.h5"
status=0
timeout -k 10 "${SAMPLE_FD_TIMEOUT:-100}" "$prog" sample --ckpt "$ckpt" --data "$data" --n "$n" \
    --seed 0 --out "$work/samples.h5" >"$work/sample.log" 2>&1 || status=$?
cat "$work/sample.log"
[ "$status" -eq 0 ] || fail "sample exited with status $status"

status=0
"$py" "$quality" "$work/samples.h5" --data "$data" --split test --no-classifier \
    >"$work/quality.txt" 2>&1 || status=$?
cat "$work/quality.txt"
[ "$status" -eq 0 ] || fail "sample_quality.py exited with status $status"
# The row "samples  PRECISION RECALL FD" of the table (FD to 0.1; identical
# sets may round to -0.0; nan or inf does not parse as a number and fails).
fd=$(awk '$1 == "samples" && NF == 4 { print $4 }' "$work/quality.txt")
[[ $fd =~ ^-?[0-9]+(\.[0-9]+)?$ ]] || fail "no finite Frechet distance in sample_quality.py's samples row: '$fd'"
echo "pixel Frechet distance of the $n samples against the $n test images: $fd (need < $max_fd)"
awk -v fd="$fd" -v m="$max_fd" 'BEGIN { exit !(fd + 0 < m + 0) }' ||
    fail "Frechet distance $fd is not below $max_fd"
echo "ok: FD $fd < $max_fd"
