#!/bin/bash
# train_ok.sh: runs one training through tests/mpi/mpirun.sh and checks that it
# completed: exit status 0, no `ebm_mpi: error:` line, a final `done in` line
# on stdout, and <out>/best.h5 and <out>/last.h5 present with a /model group.
# With --hidden-check H it also checks (h5dump -H) that /model/layer0/weight
# in both files is [H, 64]; with --expect-stderr REGEX, that a line of the
# run's stderr matches REGEX (e.g. Open MPI's verbose output naming the
# transport it used).
#
# usage: train_ok.sh [--hidden-check H] [--expect-stderr REGEX] [--expect-final REGEX] WORKDIR NP
#                    [MPIRUN-OPTIONS...] PROGRAM train [ARGS...]
#   Everything after NP goes to tests/mpi/mpirun.sh as is, with `--out WORKDIR/out`
#   appended. WORKDIR is emptied first; the run's stdout and stderr are kept
#   in WORKDIR/stdout.txt and WORKDIR/stderr.txt (tests/mpi/compare_np.sh reads
#   them). H5DUMP may name the h5dump binary (default: h5dump on PATH).
set -u

hidden=
stderr_re=
final_re='test error [0-9]+(\.[0-9]+)?%'
while [ $# -ge 2 ]; do
    case $1 in
        --hidden-check) hidden=$2; shift 2 ;;
        --expect-stderr) stderr_re=$2; shift 2 ;;
        --expect-final) final_re=$2; shift 2 ;;
        *) break ;;
    esac
done
if [ $# -lt 4 ]; then
    echo "usage: train_ok.sh [--hidden-check H] [--expect-stderr REGEX] [--expect-final REGEX] WORKDIR NP [MPIRUN-OPTIONS...] PROGRAM train [ARGS...]" >&2
    exit 2
fi
work=$1
np=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
h5dump=${H5DUMP:-h5dump}

rm -rf "$work"
mkdir -p "$work" || exit 1
out=$work/out

fail() {
    echo "FAIL: $*"
    echo "---- stdout (last 30 lines):"; tail -n 30 "$work/stdout.txt"
    echo "---- stderr:"; cat "$work/stderr.txt"
    exit 1
}

echo "train_ok.sh: mpirun.sh $np $* --out $out"
"$here/mpirun.sh" "$np" "$@" --out "$out" >"$work/stdout.txt" 2>"$work/stderr.txt"
status=$?
tail -n 4 "$work/stdout.txt"

[ "$status" -eq 0 ] || fail "exit status $status, expected 0"
if grep -q '^ebm_mpi: error:' "$work/stderr.txt" "$work/stdout.txt"; then
    fail "an 'ebm_mpi: error:' line was printed"
fi
last=$(tail -n 1 "$work/stdout.txt")
case $last in
    "done in "*) ;;
    *) fail "the last line of stdout is not the final 'done in' summary: $last" ;;
esac
# The summary must report the test error of best.h5 as a number (or what
# --expect-final says it must).
printf '%s\n' "$last" | grep -Eq -- "$final_re" || fail "the final line does not match /$final_re/"
if [ -n "$stderr_re" ]; then
    grep -Eq -- "$stderr_re" "$work/stderr.txt" || fail "no stderr line matches /$stderr_re/"
    echo "ok: stderr matches /$stderr_re/"
fi

for f in best.h5 last.h5; do
    [ -f "$out/$f" ] || fail "$out/$f does not exist"
    header=$("$h5dump" -H -d /model/layer0/weight "$out/$f" 2>&1) ||
        fail "h5dump cannot read /model/layer0/weight in $out/$f: $header"
    if [ -n "$hidden" ]; then
        printf '%s\n' "$header" | grep -Eq "DATASPACE +SIMPLE \{ \( $hidden, 64 \) / \( $hidden, 64 \) \}" ||
            fail "/model/layer0/weight in $out/$f is not [$hidden, 64]: $header"
        echo "ok: /model/layer0/weight in $f is [$hidden, 64]"
    fi
done
echo "ok: training at np = $np completed; best.h5 and last.h5 written"
exit 0
