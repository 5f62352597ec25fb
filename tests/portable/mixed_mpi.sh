#!/bin/bash
# mixed_mpi.sh: configure refuses an HDF5 built with another MPI than the one
# it found, on a real mix of Debian's Open MPI and MPICH installed side by
# side, with one error message; the consistent MPICH configuration configures.
#
#   mixed_mpi.sh SOURCE_DIR WORK_DIR
#
#   1. MPICH's compiler (-DMPI_EXECUTABLE_SUFFIX=.mpich) with Open MPI's HDF5
#      (-DHDF5_C_COMPILER_EXECUTABLE=h5pcc.openmpi): configure fails, with one
#      "CMake Error" holding one problem, which names both libraries;
#   2. the reverse (Open MPI's compiler, MPICH's h5pcc.mpich): the same;
#   3. control: -DMPI_EXECUTABLE_SUFFIX=.mpich alone configures, with MPICH's
#      HDF5, and records MPICH's launcher in launcher.env.
# Needs mpicc.mpich, h5pcc.mpich (mpich libmpich-dev libhdf5-mpich-dev) beside
# Open MPI's; without them it exits 77 (skipped), except under CI (CI=true),
# whose machine has both.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
portable_args mixed_mpi.sh "$@"

for t in mpicc.mpich h5pcc.mpich mpicc.openmpi h5pcc.openmpi; do
    if ! command -v "$t" >/dev/null; then
        msg="$t not installed (Debian: mpich libmpich-dev libhdf5-mpich-dev beside Open MPI's)"
        [ "${CI:-}" = "true" ] && fail "$msg"
        echo "SKIP: $msg"
        exit 77
    fi
done
h5_openmpi=$(command -v h5pcc.openmpi)
h5_mpich=$(command -v h5pcc.mpich)

configure() {  # NAME ARGS...: configure into WORK/NAME, log in WORK/NAME.log; its exit status
    local name=$1
    shift
    "${CMAKE:-cmake}" -S "$src" -B "$work/$name" -DEBM_TESTS=OFF "$@" >"$work/$name.log" 2>&1
}

refused() {  # NAME WANT_MPI WANT_HDF5_MPI ARGS...
    local name=$1 want_mpi=$2 want_h5=$3
    shift 3
    echo "== $name: $*"
    if configure "$name" "$@"; then
        fail "$name: configure succeeded with an HDF5 built with another MPI"
    fi
    local log=$work/$name.log
    sed -n '/CMake Error/,/Configuring incomplete/p' "$log"
    [ "$(grep -c 'CMake Error' "$log")" -eq 1 ] || fail "$name: not exactly one CMake Error"
    [ "$(grep -c '^    - ' "$log")" -eq 1 ] || fail "$name: not exactly one problem in the message"
    local line
    line=$(grep '^    - ' "$log")
    [[ $line == *"is linked against another MPI than the one found"* ]] \
        || fail "$name: the message does not say the HDF5 is linked against another MPI"
    [[ $line == *"but the MPI found is"*"$want_mpi"* ]] || fail "$name: the message does not name the MPI found ($want_mpi)"
    [[ $line == *"it loads"*"$want_h5"*"but the MPI found"* ]] \
        || fail "$name: the message does not name the HDF5's MPI ($want_h5)"
    [[ $line == *"-DHDF5_C_COMPILER_EXECUTABLE="* && $line == *"-DMPI_EXECUTABLE_SUFFIX="* ]] \
        || fail "$name: the message does not say how to point at a matching HDF5 or MPI"
    echo "ok: $name refused"
}

refused mpich_with_openmpi_hdf5 "MPICH" "Open MPI" \
    -DMPI_EXECUTABLE_SUFFIX=.mpich -DHDF5_C_COMPILER_EXECUTABLE="$h5_openmpi"
refused openmpi_with_mpich_hdf5 "Open MPI" "MPICH" \
    -DMPI_EXECUTABLE_SUFFIX=.openmpi -DHDF5_C_COMPILER_EXECUTABLE="$h5_mpich"

echo "== control: -DMPI_EXECUTABLE_SUFFIX=.mpich"
configure mpich -DMPI_EXECUTABLE_SUFFIX=.mpich || { tail -n 30 "$work/mpich.log"; fail "the MPICH configuration was refused"; }
grep -E '^-- (MPI|HDF5)' "$work/mpich.log"
grep -q '^-- HDF5 .*libhdf5_mpich.*its MPI is the one found' "$work/mpich.log" \
    || fail "control: MPICH's HDF5 was not the one configured"
# shellcheck disable=SC1091
. "$work/mpich/launcher.env"
[ "$EBM_MPI_VENDOR" = "mpich" ] || fail "control: launcher.env says EBM_MPI_VENDOR=$EBM_MPI_VENDOR"
[[ $(basename "$EBM_MPIEXEC") == mpiexec.mpich ]] || fail "control: launcher.env's launcher is $EBM_MPIEXEC"
echo "ok: control configured with MPICH's HDF5, launcher $EBM_MPIEXEC"
echo "PASS: both mixes refused with one message; MPICH with its own HDF5 configures"
