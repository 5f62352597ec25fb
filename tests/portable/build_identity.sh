#!/bin/bash
# build_identity.sh: the binary runs on the BLAS and the MPI configure found,
# and says so.
#
#   build_identity.sh WORK PROGRAM BLAS_KIND BLAS_LIB MPI_NAME MPI_LIB
#
# BLAS_KIND (OPENBLAS, BLIS or UNKNOWN), BLAS_LIB, MPI_NAME (the first word
# of the MPI library's own version string) and MPI_LIB come from configure's
# check programs (cmake/deps.cmake), which asked the libraries themselves.
# Checks: ldd resolves PROGRAM's BLAS and MPI to those libraries' sonames and
# lists no other BLAS (libopenblas, libblis, the generic libblas.so.3, which
# Debian's alternatives may point at another implementation) or MPI (libmpi,
# libmpich); one training step as a single process prints a banner naming
# that MPI with 1 rank and that BLAS (OpenBLAS, BLIS or "unknown").
set -euo pipefail
if [ $# -ne 6 ]; then
    echo "usage: build_identity.sh WORK PROGRAM BLAS_KIND BLAS_LIB MPI_NAME MPI_LIB" >&2
    exit 2
fi
work=$1 prog=$(readlink -f "$2") kind=$3 blas_lib=$4 mpi_name=$5 mpi_lib=$6
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }

soname() { objdump -p "$(readlink -f "$1")" | sed -n 's/^ *SONAME *//p'; }
blas_so=$(soname "$blas_lib")
mpi_so=$(soname "$mpi_lib")
[ -n "$blas_so" ] && [ -n "$mpi_so" ] || fail "no SONAME in $blas_lib or $mpi_lib"

deps=$(env -u LD_LIBRARY_PATH ldd "$prog")
echo "$deps" | grep -E 'blas|blis|mpi' || true
echo "$deps" | grep -q "not found" && fail "ldd: a library is not found"
echo "$deps" | grep -q "^[[:space:]]*$blas_so => /" || fail "ldd: $prog does not load $blas_so (the BLAS configure found)"
echo "$deps" | grep -q "^[[:space:]]*$mpi_so => /" || fail "ldd: $prog does not load $mpi_so (the MPI configure found)"
for other in libopenblas libblis libblas.so libmpi.so libmpich.so; do
    case "$blas_so $mpi_so" in *"$other"*) continue ;; esac
    if echo "$deps" | grep -q "^[[:space:]]*$other"; then
        fail "ldd: $prog also loads $other"
    fi
done
echo "ok: ldd shows $blas_so and $mpi_so"

case "$kind" in
OPENBLAS) want_blas="OpenBLAS " ;;
BLIS) want_blas="BLIS " ;;
UNKNOWN) want_blas="unknown (" ;;
*) fail "unknown BLAS kind $kind" ;;
esac
cd "$work"
rc=0
OPENBLAS_NUM_THREADS=1 timeout 120 "$prog" train --epochs 1 --hidden 16 --out run >out.txt 2>err.txt || rc=$?
[ $rc -eq 0 ] || { cat out.txt err.txt; fail "a one-epoch training as 1 process exited $rc"; }
banner=$(grep '^  MPI: ' out.txt) || { cat out.txt; fail "no banner line '  MPI: ...'"; }
echo "$banner"
[[ $banner == "  MPI: $mpi_name "*", 1 ranks; BLAS: $want_blas"* ]] \
    || fail "the banner does not name MPI '$mpi_name' with 1 rank and BLAS '$want_blas'"
echo "PASS: $prog runs on $blas_so ($kind) and $mpi_so ($mpi_name), and its banner says so"
