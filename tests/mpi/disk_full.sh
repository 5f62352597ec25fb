#!/bin/bash
# disk_full.sh: a full disk while a checkpoint or metrics.h5 is written ends
# the job, on every rank count, with one `ebm_mpi: error:` line that names the
# file and says "No space left on device"; no hang, exit status 1, no process
# left, no *.tmp left, the files of the previous epoch unchanged (checksums),
# and the run resumes from them once there is space again.
#
# The output directory is a small tmpfs mounted in a private mount namespace
# (the script re-runs itself under `unshare --mount --propagation private`),
# so nothing shows on the host and the mount ends with the script. One epoch
# is trained with room to spare; the tmpfs is then shrunk (remount) to what
# the files use plus a margin too small for the next write, and the run
# resumed: KIND metrics leaves less than one metrics.h5 (the first file an
# epoch writes), KIND checkpoint room for metrics.h5 but not for a checkpoint
# (which must then be larger: --hidden 128 is). KIND outputs leaves 4 KiB and
# writes the per-example files instead: a sample file (sample --out) and a
# dump (eval --dump), with the same checks.
#
# usage: disk_full.sh WORKDIR NP metrics|checkpoint|outputs PROGRAM [TRAIN-ARGS...]
# Needs root (mount); exit 77 (skipped) otherwise, 1 under CI=true.
set -u
if [ $# -lt 4 ]; then
    echo "usage: disk_full.sh WORKDIR NP metrics|checkpoint PROGRAM [TRAIN-ARGS...]" >&2
    exit 2
fi
# shellcheck source=../lib/as_root.sh
. "$(dirname "$0")/../lib/as_root.sh"
need_root "mounting the small tmpfs"
in_private_mount_ns "$0" "$@"
work=$1 np=$2 kind=$3
shift 3
private_mount_ok "$work"
here=$(cd "$(dirname "$0")" && pwd)
case $kind in metrics|checkpoint|outputs) ;; *) echo "unknown KIND $kind" >&2; exit 2 ;; esac

rm -rf "$work"
mkdir -p "$work/disk" || exit 1
mount -t tmpfs -o size=64m tmpfs "$work/disk" || { echo "FAIL: cannot mount a tmpfs"; exit 1; }
# Unmounted explicitly too, also on failure: the namespace's end would drop
# it anyway, but an unmount is what propagates should a mount be shared.
trap 'umount "$work/disk" 2>/dev/null' EXIT
out=$work/disk/out
fail() { echo "FAIL: $*"; [ -f "$work/stderr.txt" ] && sed 's/^/  stderr: /' "$work/stderr.txt" | head -20; exit 1; }

# Runs the trainer in the background and waits at most 60 s for it; a run
# still alive then is a hang: it is killed (by PID) and the test fails.
run() {
    "$here/mpirun.sh" "$np" "$@" --out "$out" >"$work/stdout.txt" 2>"$work/stderr.txt" &
    local pid=$! waited=0
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$waited" -ge 600 ]; then
            kill -KILL "$pid"; wait "$pid"
            fail "no exit after 60 s: a hang"
        fi
        sleep 0.1; waited=$((waited + 1))
    done
    wait "$pid"
    rc=$?
    elapsed=$(awk "BEGIN{print $waited / 10}")
}

run "$@" --epochs 1
[ "$rc" = 0 ] || fail "the first epoch, with room, exited $rc"
prog=$1

# KIND outputs: sample and eval --dump into the full disk.
if [ "$kind" = outputs ]; then
    used=$(du -sb "$out" | cut -f1)
    mount -o remount,size=$(((used + 4096) / 1024 + 4))k "$work/disk" || fail "cannot shrink the tmpfs"
    sums_before=$(cd "$out" && sha256sum best.h5 last.h5 metrics.h5)
    for what in sample eval; do
        if [ "$what" = sample ]; then
            file=$out/s.h5
            cmd=("$prog" sample --ckpt "$out/best.h5" --n 20000 --out "$file")
        else
            file=$out/d.h5
            cmd=("$prog" eval --ckpt "$out/best.h5" --split train --dump "$file")
        fi
        "$here/mpirun.sh" "$np" "${cmd[@]}" >"$work/stdout.txt" 2>"$work/stderr.txt" &
        pid=$! waited=0
        while kill -0 "$pid" 2>/dev/null; do
            [ "$waited" -ge 600 ] && { kill -KILL "$pid"; wait "$pid"; fail "$what: no exit after 60 s: a hang"; }
            sleep 0.1; waited=$((waited + 1))
        done
        wait "$pid"
        rc=$?
        [ "$rc" = 1 ] || fail "$what into a full disk exited $rc, expected 1"
        n_err=$(grep -c '^ebm_mpi: error:' "$work/stderr.txt")
        [ "$n_err" = 1 ] || fail "$what: $n_err error lines, expected exactly one"
        grep -q "^ebm_mpi: error: .*'$file': .*No space left on device" "$work/stderr.txt" ||
            fail "$what: the error line does not name $file and 'No space left on device'"
        # Temporary files: <file>.tmp.XXXXXX (a random suffix, created exclusively).
        [ -e "$file" ] || compgen -G "$file.tmp.??????" >/dev/null && fail "$what left $file or a $file.tmp.*"
        echo "$what into a full disk: exit 1 after $((waited / 10)).$((waited % 10))s: $(grep '^ebm_mpi: error:' "$work/stderr.txt")"
    done
    [ "$sums_before" = "$(cd "$out" && sha256sum best.h5 last.h5 metrics.h5)" ] || fail "the checkpoints changed"
    echo "PASS: sample and eval --dump on a full disk at np $np: one error line each, nothing left"
    exit 0
fi
for f in best.h5 last.h5 metrics.h5; do [ -f "$out/$f" ] || fail "no $f after the first epoch"; done
sums_before=$(cd "$out" && sha256sum best.h5 last.h5 metrics.h5)
used=$(du -sb "$out" | cut -f1)
metrics_size=$(stat -c %s "$out/metrics.h5")
if [ "$kind" = metrics ]; then
    margin=$((metrics_size / 2))
else
    # metrics.h5 is replaced first (its old copy freed), then the checkpoints:
    # room between the two sizes fits the one and not the other.
    ckpt_size=$(stat -c %s "$out/last.h5")
    [ "$ckpt_size" -gt $((metrics_size * 5 / 4)) ] ||
        fail "last.h5 ($ckpt_size bytes) must be well larger than metrics.h5 ($metrics_size): train a wider model"
    margin=$(((metrics_size + ckpt_size) / 2))
fi
size_k=$(((used + margin) / 1024))
mount -o remount,size=${size_k}k "$work/disk" || fail "cannot shrink the tmpfs"
[ -n "${EBM_DEBUG_DF:-}" ] && { echo "used $used margin $margin size ${size_k}k"; ls -l "$out"; df -B1 "$work/disk"; }

run "$@" --epochs 3 --resume auto
[ "$rc" = 1 ] || fail "the run on a full disk exited $rc, expected 1"
n_err=$(grep -c '^ebm_mpi: error:' "$work/stderr.txt")
[ "$n_err" = 1 ] || fail "$n_err error lines, expected exactly one"
if [ "$kind" = metrics ]; then want="metrics\.h5'"; else want="(best|last)\.h5'"; fi
grep -Eq "^ebm_mpi: error: .*/out/$want: .*No space left on device" "$work/stderr.txt" ||
    fail "the error line does not name the $kind file and 'No space left on device'"
grep -q 'Segmentation\|signal 11\|core dumped' "$work/stderr.txt" && fail "a crash after the error line"
left=$(find "$out" -name '*.tmp' -o -name '*.tmp.??????') # rollback.h5.tmp, <name>.tmp.XXXXXX
[ -z "$left" ] || fail "temporary files left: $left"
# The file whose write failed is the previous epoch's, unchanged (with KIND
# checkpoint, metrics.h5 and best.h5 may have been replaced before it).
named=$(sed -nE "s|^ebm_mpi: error: .*/out/([a-z]+\.h5)': .*|\1|p" "$work/stderr.txt")
if [ "$kind" = metrics ]; then check="best.h5 last.h5 metrics.h5"; else check=$named; fi
for f in $check; do
    [ "$(grep " $f\$" <<<"$sums_before")" = "$(cd "$out" && sha256sum "$f")" ] ||
        fail "$f changed: a failed write must leave the previous file as it was"
done
# Every process of the job is gone (mpirun's children die with the job).
sleep 0.5
pgrep -f -- "--out $out" >/dev/null && fail "processes left: $(pgrep -a -f -- "--out $out")"
echo "full disk: exit 1 after ${elapsed}s, one error line: $(grep '^ebm_mpi: error:' "$work/stderr.txt")"

# With room again, the run resumes from the files the failure left.
mount -o remount,size=64m "$work/disk" || fail "cannot grow the tmpfs"
run "$@" --epochs 2 --resume auto
[ "$rc" = 0 ] || fail "the resume with room again exited $rc"
grep -q "resumed\|resuming" "$work/stdout.txt" "$work/stderr.txt" || fail "the last run did not say it resumed"
echo "PASS: $kind on a full disk at np $np; the resume with room again completed"
