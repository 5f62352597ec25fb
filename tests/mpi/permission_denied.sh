#!/bin/bash
# permission_denied.sh: a user without permission gets one error line that
# names the file and says "Permission denied", at np NP, exit 1 (the suite
# runs as root, for whom no permission is ever denied: the job, launcher
# included, runs here as the unprivileged user nobody, via util-linux's
# setpriv):
#  - --data a file that user cannot read (train);
#  - --ckpt a checkpoint that user cannot read (eval);
#  - --out a directory holding a run that user cannot write (train --resume auto);
#  - --out a new directory whose parent that user cannot write (train);
#  - sample --out and eval --dump into a directory that user cannot write;
#  - a training whose --out loses its write permission between two epochs.
# Everything the job touches (the program, the launcher's scripts and its
# launcher.env, the files) is copied into a private directory under
# ${TMPDIR:-/tmp} that nobody can reach, whatever the permissions of the
# source and build trees.
# usage: permission_denied.sh NP EBM_MPI DIGITS.h5
# Needs root (to switch users): exit 77 (skipped) otherwise, 1 under CI=true.
set -euo pipefail
if [ $# -ne 3 ]; then
    echo "usage: permission_denied.sh NP EBM_MPI DIGITS.h5" >&2
    exit 2
fi
# shellcheck source=../lib/as_root.sh
. "$(dirname "$0")/../lib/as_root.sh"
# shellcheck source=../lib/one_error.sh
. "$(dirname "$0")/../lib/one_error.sh"
need_root "running the job as another user"
np=$1 bin=$(realpath "$2") digits=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
launcher_env=${EBM_LAUNCHER_ENV:-$(dirname "$(dirname "$bin")")/launcher.env}
as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)

work=$(mktemp -d "${TMPDIR:-/tmp}/ebm_permission.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/kit/tests/mpi" "$work/kit/scripts/lib" "$work/kit/bin"
cp "$here/mpirun.sh" "$work/kit/tests/mpi/"
cp "$here/../../scripts/lib/launcher.sh" "$work/kit/scripts/lib/"
cp "$bin" "$work/kit/bin/ebm_mpi"
cp "$launcher_env" "$work/kit/launcher.env"
chmod -R a+rX "$work/kit"
"${as_nobody[@]}" test -x "$work/kit/bin/ebm_mpi" ||
    { echo "FAIL: the user nobody cannot reach $work (its parents' permissions)"; exit 1; }
cd "$work"

# Root's files, before the user is switched: a readable data file and a
# secret one, a finished run in a directory the user can read but not
# write, an unreadable checkpoint; and a directory of the user's own.
cp "$digits" digits.h5
cp "$digits" secret.h5
chmod 644 digits.h5
chmod 600 secret.h5
mkdir -m 755 locked
mkdir free
chown 65534:65534 free
EBM_LAUNCHER_ENV="$work/kit/launcher.env" kit/tests/mpi/mpirun.sh 1 kit/bin/ebm_mpi train \
    --epochs 1 --hidden 16 --buffer 16 --data digits.h5 --out locked/run >setup.log 2>&1 ||
    { echo "FAIL: the set-up training (as root) failed"; cat setup.log; exit 1; }
chmod 755 locked/run
chmod 644 locked/run/*
cp locked/run/best.h5 locked/unreadable.h5
chmod 600 locked/unreadable.h5
sums=$(sha256sum locked/run/*)

failed=0
# REGEX ARGS...: the job as nobody exits 1 within 60 s with exactly one
# error line on stderr matching REGEX (eval prints its results on stdout
# before it writes its dump: stdout is not looked at).
expect() {
    local re=$1 rc=0
    shift
    HOME=$work timeout -k 10 60 "${as_nobody[@]}" env EBM_LAUNCHER_ENV="$work/kit/launcher.env" \
        kit/tests/mpi/mpirun.sh "$np" kit/bin/ebm_mpi "$@" >case.out 2>case.err || rc=$?
    one_error "$rc" case.err "$re" "$*" || failed=$((failed + 1))
}
small=(--epochs 1 --hidden 16 --buffer 16)
expect "'secret\.h5': Permission denied" train "${small[@]}" --data secret.h5 --out free/o1
expect "'locked/unreadable\.h5': Permission denied" eval --ckpt locked/unreadable.h5 --data digits.h5
expect "'locked/run'.*: Permission denied" train --epochs 2 --hidden 16 --buffer 16 --data digits.h5 \
    --out locked/run --resume auto
expect "'locked/new'.*: Permission denied" train "${small[@]}" --data digits.h5 --out locked/new
expect "'locked/s\.h5(\.tmp\.[A-Za-z0-9]{6})?': .*Permission denied" \
    sample --ckpt locked/run/best.h5 --n 4 --out locked/s.h5
expect "'locked/d\.h5(\.tmp\.[A-Za-z0-9]{6})?': .*Permission denied" \
    eval --ckpt locked/run/best.h5 --data digits.h5 --dump locked/d.h5
# A training whose --out loses its write permission between two epochs
# (chmod 500 as soon as its first metrics.h5 appears); on 0.2.0 the reason
# given was the ENOENT of the temporary file never created.
rc=0
HOME=$work timeout -k 10 90 "${as_nobody[@]}" env EBM_LAUNCHER_ENV="$work/kit/launcher.env" \
    kit/tests/mpi/mpirun.sh "$np" kit/bin/ebm_mpi train --epochs 100000 --hidden 16 --buffer 16 \
    --data digits.h5 --out free/long >long.out 2>long.err &
pid=$!
for _ in $(seq 600); do
    [ -f free/long/metrics.h5 ] && chmod 500 free/long && break
    sleep 0.1
done
wait "$pid" || rc=$?
one_error "$rc" long.err "'free/long/[a-z]+\.h5(\.tmp\.[A-Za-z0-9]{6})?': .*Permission denied" \
    "training into a --out whose write permission was taken" || failed=$((failed + 1))
chmod 755 free/long 2>/dev/null || true
[ "$sums" = "$(sha256sum locked/run/*)" ] || { echo "FAIL: the run's files changed"; failed=$((failed + 1)); }
echo "$failed case(s) failed"
[ "$failed" = 0 ]
