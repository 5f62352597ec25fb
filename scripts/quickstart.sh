#!/usr/bin/env bash
# ebm_mpi quick start on Debian 12: installs the Debian packages, builds, then
#   scripts/quickstart.sh train [train options]   trains with 8 ranks (NP=... to change)
#   scripts/quickstart.sh test                    runs the whole test suite
#   scripts/quickstart.sh packages train|test     prints the Debian packages only
# MPI=mpich (default MPI=openmpi): Debian's MPICH instead of Open MPI, with no
# Open MPI package installed; the build asks for it with FindMPI's switch
# (-DMPI_EXECUTABLE_SUFFIX=.mpich), so it works beside an Open MPI too.
# Works as root or as a user with sudo. Build trees: build/ and build-asan/
# (Open MPI), build-mpich/ (MPICH). Every launch goes through the launcher
# layer (scripts/lib/launcher.sh) with the launcher the build recorded.
#   MPI=mpich ... test runs the unit tests and the MPI tests at np <= 2 that
#   .ci/run's MPICH tree runs (the SLURM, cluster and portable tests and the
#   sanitizer tree are Open MPI's).
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
    *) echo "usage: [MPI=openmpi|mpich] $0 train [ebm_mpi train options] | test | packages train|test" >&2; exit 2 ;;
esac
mpi=${MPI:-openmpi}

common_pkgs=(build-essential cmake pkg-config git hdf5-tools libopenblas-dev help2man)
case "$mpi" in
    openmpi)
        mpi_pkgs=(openmpi-bin libopenmpi-dev libhdf5-openmpi-dev)
        build="build"
        cmake_mpi=() ;;
    mpich)
        mpi_pkgs=(mpich libmpich-dev libhdf5-mpich-dev)
        build="build-mpich"
        cmake_mpi=(-DMPI_EXECUTABLE_SUFFIX=.mpich) ;;
    *) echo "$0: MPI must be openmpi or mpich, not '$mpi'" >&2; exit 2 ;;
esac
build_pkgs=("${common_pkgs[@]}" "${mpi_pkgs[@]}")
# The SLURM harness (tests/slurm) runs a private slurmctld/slurmd/munged;
# libpmix-dev holds the library SLURM's pmix plugin loads for srun --mpi=pmix.
# python3-torch: tests/mpi/torch_check.py rebuilds the network to check eval and sample.
# python3-matplotlib: the README's plot commands (scripts/plot_*.py), run by repo.readme_runs.
# iproute2: the emulated cluster's nodes (tests/cluster: ip link, veth, bridge).
# mpich libmpich-dev libhdf5-mpich-dev libblis-dev: MPICH and BLIS beside
# Open MPI and OpenBLAS (tests/portable: the mixed-MPI refusal, docs/install.md).
# valgrind cppcheck: the analysis label (tests/analysis); clang
# libclang-rt-14-dev: libFuzzer for .ci/run's fuzz tree (tests/fuzz).
test_pkgs=(libcmocka-dev python3-h5py python3-numpy python3-matplotlib python3-torch python3-mpi4py slurm-wlm munge libpmix-dev iproute2
           mpich libmpich-dev libhdf5-mpich-dev libblis-dev valgrind cppcheck clang libclang-rt-14-dev)
# python3-h5py-serial: python3-h5py's first alternative, named so that apt
# never picks python3-h5py-mpi (Open MPI's) in an MPICH-only root.
mpich_test_pkgs=(libcmocka-dev python3-h5py-serial python3-h5py python3-numpy python3-matplotlib python3-torch valgrind cppcheck)
pkgs=("${build_pkgs[@]}")
if [ "$mode" = test ]; then
    if [ "$mpi" = mpich ]; then pkgs+=("${mpich_test_pkgs[@]}"); else pkgs+=("${test_pkgs[@]}"); fi
fi
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
echo "== building with $mpi ($build/)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "${cmake_mpi[@]}" -DEBM_TESTS=$tests
cmake --build "$build" -j "$jobs"

# shellcheck source=SCRIPTDIR/lib/launcher.sh
. scripts/lib/launcher.sh
ebm_launcher_load "$build/launcher.env"

if [ "$mode" = train ]; then
    np=${NP:-8}
    oversubscribe=()
    [ "$(nproc)" -lt "$np" ] && oversubscribe=(--oversubscribe)
    export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
    # --resume auto unless told otherwise: run again, the same command
    # continues an interrupted run, or reports a finished one.
    resume=(--resume auto)
    for a in "$@"; do
        case $a in --resume | --resume=* | --overwrite) resume=() ;; esac
    done
    ebm_launch_argv "${oversubscribe[@]}" "$np"
    echo "== ${EBM_ARGV[*]} $build/bin/ebm_mpi train ${resume[*]} $*"
    exec "${EBM_ARGV[@]}" "$build/bin/ebm_mpi" train "${resume[@]}" "$@"
fi

if [ "$mpi" = mpich ]; then
    # The MPICH selection: the one list, also run by .ci/run and
    # tests/portable/mpich_only.sh.
    echo "== MPICH: unit tests, then the MPI tests at np <= 2 (tests/mpich_tests.sh)"
    exec tests/mpich_tests.sh "$build"
fi

echo "== building with AddressSanitizer + UBSan (build-asan/)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEBM_SANITIZE=ON -DEBM_TESTS=ON
cmake --build build-asan -j "$jobs"
echo "== unit tests under AddressSanitizer + UBSan"
(cd build-asan && ctest --output-on-failure -L unit)
echo "== all tests"
cd build && ctest --output-on-failure -j "$jobs"
