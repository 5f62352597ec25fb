#!/bin/bash
# quickstart_packages.sh: `scripts/quickstart.sh packages train|test` lists
# one MPI's packages: Open MPI's by default, MPICH's with MPI=mpich and then
# no Open MPI package at all (the MPICH-only install of docs/install.md);
# an unknown MPI is refused (status 2).
# usage: quickstart_packages.sh SOURCE_DIR
set -euo pipefail
qs=$1/scripts/quickstart.sh
fail() { echo "FAIL: $*"; exit 1; }
has() { # has LIST PKG...
    local list=" $1 " p; shift
    for p in "$@"; do [[ $list == *" $p "* ]] || fail "'$p' missing from:$list"; done
}
for mode in train test; do
    ompi=$(env -u MPI "$qs" packages "$mode") # the default, also under MPI=mpich quickstart.sh test
    has "$ompi" openmpi-bin libopenmpi-dev libhdf5-openmpi-dev libopenblas-dev cmake
    mpich=$(MPI=mpich "$qs" packages "$mode")
    has "$mpich" mpich libmpich-dev libhdf5-mpich-dev libopenblas-dev cmake
    if grep -qi openmpi <<<"$mpich"; then fail "MPI=mpich $mode lists an Open MPI package: $mpich"; fi
    # python3-h5py's first alternative is the serial build; naming it keeps
    # apt from choosing python3-h5py-mpi, which pulls Open MPI.
    [ "$mode" = train ] || has "$mpich" python3-h5py-serial
    echo "packages $mode: Open MPI $(wc -w <<<"$ompi"), MPICH $(wc -w <<<"$mpich") packages, none of Open MPI's"
done
rc=0
MPI=lam "$qs" packages train >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "MPI=lam: status $rc, expected 2"
echo "PASS"
