#!/bin/bash
# fresh_run_refused.sh: a fresh run (no --resume) into a directory that holds
# a run's last.h5, best.h5 or metrics.h5 is refused (README "One run per
# directory", src/train/setup.c own_out_dir), whichever one of them it holds:
# for a directory holding only that file (taken from the ckpt_np1 fixture),
# exit status 1, one error line "--out 'DIR' holds a run (FILE): continue it
# with --resume auto, or start afresh over it with --overwrite", the file
# unchanged (sha256) and nothing added. The control: a directory holding
# only an unrelated file is trained into. out_dir.sh covers a whole run's
# directory (where last.h5 is named) and --overwrite.
# One process without mpirun (the refusal comes before any collective work).
# usage: fresh_run_refused.sh WORKDIR FIXTURE_OUTDIR EBM_MPI_BINARY
set -euo pipefail
work=$1
fixture=$2
bin=$3
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work"
cd "$work"
export OPENBLAS_NUM_THREADS=1
train=(--hidden 16 --buffer 16 --epochs 1)

for file in best.h5 metrics.h5 last.h5; do
    dir=only_${file%.h5}
    mkdir "$dir"
    cp "$fixture/$file" "$dir/"
    before=$(cd "$dir" && ls -A && sha256sum ./*)
    status=0
    timeout -k 5 60 "$bin" train "${train[@]}" --out "$dir" >"$dir.log" 2>&1 || status=$?
    [ "$status" = 1 ] || { cat "$dir.log"; fail "$file only: exit status $status, expected 1"; }
    errors=$(grep -c '^ebm_mpi: error:' "$dir.log" || true)
    [ "$errors" = 1 ] || { cat "$dir.log"; fail "$file only: $errors error lines, expected 1"; }
    grep -qx "ebm_mpi: error: --out '$dir' holds a run ($file): continue it with --resume auto, or start afresh over it with --overwrite" "$dir.log" ||
        { cat "$dir.log"; fail "$file only: the error line does not name $file"; }
    [ "$before" = "$(cd "$dir" && ls -A && sha256sum ./*)" ] ||
        fail "$file only: the directory changed: $(ls -A "$dir")"
    echo "ok: a directory holding only $file: refused, untouched"
done

mkdir unrelated
echo "notes" >unrelated/notes.txt
status=0
timeout -k 5 60 "$bin" train "${train[@]}" --out unrelated >unrelated.log 2>&1 || status=$?
[ "$status" = 0 ] || { cat unrelated.log; fail "a directory holding only notes.txt: exit status $status, expected 0"; }
[ -f unrelated/last.h5 ] && [ "$(cat unrelated/notes.txt)" = notes ] ||
    fail "the run into a directory holding notes.txt did not write last.h5 or changed notes.txt"
echo "PASS: a fresh run is refused by best.h5, metrics.h5 or last.h5 alone, and not by another file"
