#!/usr/bin/env bash
# ebm_mpi quick start on Debian 12: installs the Debian packages, builds, then
#   scripts/quickstart.sh train [train options]   trains with 8 ranks (NP=... to change)
#   scripts/quickstart.sh test                    runs the whole test suite
#   scripts/quickstart.sh packages train|test     prints the Debian packages only
# Works as root or as a user with sudo. Build trees: build/ and build-asan/.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
list_only=0
if [ "$mode" = packages ]; then
    list_only=1
    mode=${2:-}
fi
case "$mode" in
    train | test) shift ;;
    *) echo "usage: $0 train [ebm_mpi train options] | test | packages train|test" >&2; exit 2 ;;
esac

build_pkgs=(build-essential cmake pkg-config git openmpi-bin libopenmpi-dev
            libhdf5-openmpi-dev hdf5-tools libopenblas-dev)
# The SLURM harness (tests/slurm) runs a private slurmctld/slurmd/munged;
# libpmix-dev holds the library SLURM's pmix plugin loads for srun --mpi=pmix.
# python3-torch: tests/mpi/torch_check.py rebuilds the network to check eval and sample.
# iproute2: the emulated cluster's nodes (tests/cluster: ip link, veth, bridge).
# mpich libmpich-dev libhdf5-mpich-dev libblis-dev: MPICH and BLIS beside
# Open MPI and OpenBLAS (tests/portable: the mixed-MPI refusal, docs/install.md).
# valgrind cppcheck: the analysis label (tests/analysis); clang
# libclang-rt-14-dev: libFuzzer for .ci/run's fuzz tree (tests/fuzz).
test_pkgs=(libcmocka-dev python3-h5py python3-numpy python3-torch slurm-wlm munge libpmix-dev iproute2
           mpich libmpich-dev libhdf5-mpich-dev libblis-dev valgrind cppcheck clang libclang-rt-14-dev)
pkgs=("${build_pkgs[@]}")
[ "$mode" = test ] && pkgs+=("${test_pkgs[@]}")
if [ "$list_only" = 1 ]; then
    echo "${pkgs[@]}"
    exit 0
fi

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing Debian packages: ${missing[*]}"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

jobs=$(nproc)
# train needs only the program: its tests are configured when their packages
# are there (EBM_TESTS=AUTO); test requires them (EBM_TESTS=ON).
tests=AUTO
[ "$mode" = test ] && tests=ON
echo "== building (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DEBM_TESTS=$tests
cmake --build build -j "$jobs"

# Open MPI refuses to run as root unless told; only say so when we are root.
if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

if [ "$mode" = train ]; then
    np=${NP:-8}
    oversubscribe=()
    [ "$(nproc)" -lt "$np" ] && oversubscribe=(--oversubscribe)
    # --resume auto unless told otherwise: run again, the same command
    # continues an interrupted run, or reports a finished one.
    resume=(--resume auto)
    for a in "$@"; do
        case $a in --resume | --resume=* | --overwrite) resume=() ;; esac
    done
    echo "== mpirun -np $np ${oversubscribe[*]} build/bin/ebm_mpi train ${resume[*]} $*"
    exec mpirun -np "$np" "${oversubscribe[@]}" build/bin/ebm_mpi train "${resume[@]}" "$@"
fi

echo "== building with AddressSanitizer + UBSan (build-asan/)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEBM_SANITIZE=ON -DEBM_TESTS=ON
cmake --build build-asan -j "$jobs"
echo "== unit tests under AddressSanitizer + UBSan"
(cd build-asan && ctest --output-on-failure -L unit)
echo "== all tests"
cd build && ctest --output-on-failure -j "$jobs"
