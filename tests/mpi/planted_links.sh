#!/bin/bash
# planted_links.sh: a hostile neighbour who can write into an output
# directory cannot make a run write through a link, and sample/eval never
# replace a run's work (issue 24, items 1-2). Every case checks that a victim
# file (a link's target) keeps its bytes.
#   1. links planted before a run under the names 0.2.0 used and could be
#      predicted: the --out write probe (.ebm_mpi_write_test.<pid>), the
#      lock's temporary file (.ebm_mpi.lock.<host>.<pid>), <name>.tmp of
#      metrics/last/best/rollback.h5 (np 1, no launcher: the pid is the
#      shell's, kept by exec);
#   2. the same .tmp links planted again and again while a run goes on (NP);
#   3. sample --out and eval --dump with a link at <file>.tmp beforehand (NP);
#   4. sample --out and eval --dump naming a checkpoint, metrics.h5 or eval's
#      own --ckpt: refused naming it, the file unchanged; a file another
#      program wrote: refused, replaced with --overwrite (NP);
#   5. two eval --dump into one file at once, three times: both succeed and
#      the file is a complete dump (each run owns its temporary file) (NP).
# usage: planted_links.sh WORKDIR NP EBM_MPI
set -euo pipefail
work=$1 np=$2 bin=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
cd "$work"
victim=$work/victim.txt
echo "the victim's own bytes" >"$victim"
want=$(sha256sum <"$victim")
failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
victim_intact() { # WHAT
    if [ "$(sha256sum <"$victim")" = "$want" ]; then
        echo "ok: $1: the victim is unchanged"
    else
        fail "$1: the victim was written through a link: $(head -c 80 "$victim" | tr -c '[:print:]' '?')"
        echo "the victim's own bytes" >"$victim"
    fi
}
run() { "$here/mpirun.sh" "$np" "$bin" "$@"; }
args=(--epochs 1 --hidden 16 --buffer 16)

# 1. Before a run, at the names 0.2.0 used (np 1 without a launcher).
mkdir o1
bash -c 'host=$(hostname); for n in .ebm_mpi_write_test.$$ .ebm_mpi.lock.$host.$$ \
             metrics.h5.tmp last.h5.tmp best.h5.tmp rollback.h5.tmp; do
             ln -s "$1" "o1/$n"; done
         exec "$2" train --epochs 2 --hidden 16 --buffer 16 --out o1' \
    planted "$victim" "$bin" >o1.log 2>&1 || fail "train with links planted before it exited non-zero: $(tail -3 o1.log)"
victim_intact "links planted before train (probe, lock temporary, every .tmp)"
for f in best.h5 last.h5 metrics.h5; do
    [ -f "o1/$f" ] && [ ! -L "o1/$f" ] || fail "o1/$f is not a regular file"
done

# 2. While a run goes on: the .tmp names planted again and again.
run train --epochs 15 --hidden 16 --buffer 16 --out o2 >o2.log 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
    for n in metrics last best rollback; do
        [ -d o2 ] && ln -sfn "$victim" "o2/$n.h5.tmp" 2>/dev/null || true
    done
    sleep 0.02
done
rc=0
wait "$pid" || rc=$?
victim_intact "links planted during train --epochs 15 (exit $rc)"
for f in best.h5 last.h5 metrics.h5; do
    [ -f "o2/$f" ] && [ ! -L "o2/$f" ] || fail "o2/$f is not a regular file after the run"
done
ckpt=$work/o2/best.h5
[ -f "$ckpt" ] || { echo "FAIL: no checkpoint to go on with"; exit 1; }

# 3. sample and eval with a link at <file>.tmp beforehand.
ln -s "$victim" s3.h5.tmp
ln -s "$victim" d3.h5.tmp
run sample --ckpt "$ckpt" --n 4 --out s3.h5 >s3.log 2>&1 || fail "sample beside a planted link exited non-zero"
run eval --ckpt "$ckpt" --dump d3.h5 >d3.log 2>&1 || fail "eval --dump beside a planted link exited non-zero"
victim_intact "links at <file>.tmp before sample --out and eval --dump"
[ -f s3.h5 ] && [ ! -L s3.h5 ] && [ -f d3.h5 ] && [ ! -L d3.h5 ] || fail "s3.h5/d3.h5 not regular files"

# 4. Never over a run's work; another program's file only with --overwrite.
refused() { # FILE REGEX ARGS...: exit 1, one error line naming FILE, FILE unchanged
    local file=$1 re=$2
    shift 2
    local before
    before=$(sha256sum <"$file")
    if "$here/expect_error.sh" "'$file'.*$re" "$here/mpirun.sh" "$np" "$bin" "$@" >case.log 2>&1 &&
        [ "$(sha256sum <"$file")" = "$before" ]; then
        echo "ok: $* refused, $file unchanged"
    else
        fail "$* not refused or $file changed:"
        cat case.log
    fi
}
refused "$work/o2/best.h5" "is a checkpoint" sample --ckpt "$ckpt" --n 4 --out "$work/o2/best.h5"
refused "$work/o2/last.h5" "is a checkpoint" eval --ckpt "$ckpt" --dump "$work/o2/last.h5"
refused "$ckpt" "is a checkpoint" eval --ckpt "$ckpt" --dump "$ckpt" --overwrite
refused "$work/o2/metrics.h5" "is a metrics file" sample --ckpt "$ckpt" --n 4 --out "$work/o2/metrics.h5" --overwrite
echo "a user's notes" >notes.txt
refused "$work/notes.txt" "not written by ebm_mpi sample.*--overwrite" sample --ckpt "$ckpt" --n 4 --out "$work/notes.txt"
run sample --ckpt "$ckpt" --n 4 --out "$work/notes.txt" --overwrite >n.log 2>&1 &&
    "${H5DUMP:-h5dump}" -a /program notes.txt 2>/dev/null | grep -q '"ebm_mpi sample"' &&
    echo "ok: --overwrite replaced another program's file" || fail "sample --overwrite over notes.txt"
run sample --ckpt "$ckpt" --n 4 --out s3.h5 >s4.log 2>&1 && echo "ok: sample replaces its own file" ||
    fail "sample over its own earlier file: $(cat s4.log)"

# 5. Two dumps into one file at once.
for round in 1 2 3; do
    run eval --ckpt "$ckpt" --dump d5.h5 >d5a.log 2>&1 &
    a=$!
    run eval --ckpt "$ckpt" --dump d5.h5 >d5b.log 2>&1 &
    b=$!
    ra=0 rb=0
    wait "$a" || ra=$?
    wait "$b" || rb=$?
    if [ "$ra" = 0 ] && [ "$rb" = 0 ] &&
        "${H5DUMP:-h5dump}" -a /program d5.h5 2>/dev/null | grep -q '"ebm_mpi eval --dump"'; then
        echo "ok: two concurrent dumps, round $round: both exit 0, d5.h5 complete"
    else
        fail "two concurrent dumps, round $round: exits $ra and $rb:"
        grep -h 'error' d5a.log d5b.log || true
    fi
done
left=$(find . -name '*.tmp.??????' | wc -l)
[ "$left" = 0 ] || fail "$left temporary files left: $(find . -name '*.tmp.??????')"
echo "$failed failure(s)"
[ "$failed" = 0 ]
