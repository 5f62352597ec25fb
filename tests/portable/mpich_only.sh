#!/usr/bin/env bash
# mpich_only.sh: acceptance on a machine with Debian's MPICH and no Open MPI
# (issue 21): run as root in a fresh clone inside a brand-new Debian 12 root.
#
#   tests/portable/mpich_only.sh [--beside-openmpi] [WORK]
#
# Steps, each ending in one `mpich_only: <step>: PASS|FAIL|SKIP ...` line, the
# last lines repeating them all and `mpich_only: PASS` or `mpich_only: FAIL`:
#   packages   installs `MPI=mpich scripts/quickstart.sh packages test` (MPICH's
#              packages and the tests', no Open MPI) and checks that neither
#              openmpi-bin nor libopenmpi-dev (nor any libopenmpi) is installed
#   build      configures build-mpich with -DMPI_EXECUTABLE_SUFFIX=.mpich and
#              EBM_TESTS=ON, builds; launcher.env must name MPICH
#   train      mpiexec.mpich -n 4 ebm_mpi train --epochs 2 (the default model;
#              4 ranks even on 2 cores), the banner: MPICH, 4 ranks
#   eval       ebm_mpi eval --ckpt <train>/best.h5 at np 4
#   sample     ebm_mpi sample --ckpt <train>/best.h5 --out ... at np 4
#   resume     --epochs 1, then --resume auto --epochs 2, at np 4: last.h5 and
#              metrics.h5 bitwise equal to the train step's (compare_ckpt.py)
#   tests      tests/mpich_tests.sh build-mpich: the unit tests and the MPI
#              tests as .ci/run's MPICH tree runs them
# Every launch goes through scripts/lib/launcher.sh with the launcher the
# build recorded. --beside-openmpi: on a machine that also has Open MPI
# (development, CI): installs nothing and skips the no-Open-MPI check (the
# build still asks for MPICH by its suffix). WORK: where the runs go
# [build-mpich/mpich_only]. Exit 0 when every step passed.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
beside=0
if [ "${1:-}" = --beside-openmpi ]; then beside=1; shift; fi
build=$src/build-mpich
work=${1:-$build/mpich_only}
py=/usr/bin/python3
export HWLOC_COMPONENTS=${HWLOC_COMPONENTS:--gl} OPENBLAS_NUM_THREADS=1

results=()
failed=0
report() { # report STEP PASS|FAIL|SKIP TEXT
    local line="mpich_only: $1: $2${3:+ ($3)}"
    echo "$line"
    results+=("$line")
    [ "$2" = FAIL ] && failed=1
    return 0
}
finish() {
    echo "== summary"
    printf '%s\n' "${results[@]}"
    if [ "$failed" = 0 ]; then echo "mpich_only: PASS"; exit 0; fi
    echo "mpich_only: FAIL"
    exit 1
}
# A failed step ends the run (the later ones need it), except the last.
stop_if_failed() { [ "$failed" = 0 ] || finish; }
timed() { # timed LOG CMD...: runs CMD with its output in LOG; sets secs and rc
    local log=$1 t0=$SECONDS
    shift
    rc=0
    "$@" >"$log" 2>&1 || rc=$?
    secs=$((SECONDS - t0))
    return $rc
}

# ---- packages
if [ "$beside" = 1 ]; then
    report packages SKIP "--beside-openmpi: nothing installed, Open MPI may be here"
else
    [ "$(id -u)" = 0 ] || { report packages FAIL "not root"; finish; }
    read -r -a pkgs <<<"$(MPI=mpich scripts/quickstart.sh packages test)"
    if apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends "${pkgs[@]}" >/tmp/mpich_only.apt.log 2>&1; then
        ompi=$(dpkg-query -W -f='${Package} ${Status}\n' 'openmpi-bin' 'libopenmpi-dev' 'libopenmpi*' 2>/dev/null |
            grep ' install ok installed' || true)
        if [ -n "$ompi" ]; then
            report packages FAIL "Open MPI installed: $(echo "$ompi" | cut -d' ' -f1 | tr '\n' ' ')"
        else
            report packages PASS "${#pkgs[@]} packages, no openmpi-bin/libopenmpi-dev/libopenmpi*"
        fi
    else
        tail -n 20 /tmp/mpich_only.apt.log
        report packages FAIL "apt-get install failed (/tmp/mpich_only.apt.log)"
    fi
fi
stop_if_failed

# ---- build
if timed /tmp/mpich_only.build.log bash -c "cmake -S '$src' -B '$build' -DCMAKE_BUILD_TYPE=Release \
        -DMPI_EXECUTABLE_SUFFIX=.mpich -DEBM_TESTS=ON && cmake --build '$build' -j$(nproc)"; then
    if grep -q "^EBM_MPI_VENDOR='mpich'" "$build/launcher.env"; then
        report build PASS "$secs s; $(grep '^EBM_MPIEXEC=' "$build/launcher.env")"
    else
        report build FAIL "$build/launcher.env does not name MPICH"
    fi
else
    tail -n 30 /tmp/mpich_only.build.log
    report build FAIL "configure or build failed (/tmp/mpich_only.build.log)"
fi
stop_if_failed

# shellcheck source=SCRIPTDIR/../../scripts/lib/launcher.sh
. scripts/lib/launcher.sh
ebm_launcher_load "$build/launcher.env"
bin=$build/bin/ebm_mpi
ebm_launch_argv 4
np4=("${EBM_ARGV[@]}")
rm -rf "$work" && mkdir -p "$work"
# run STEP LOG ARGS...: ebm_mpi at np 4; PASS needs status 0 and, when the
# banner is printed, MPICH with 4 ranks.
run() {
    local step=$1 log=$2; shift 2
    if timed "$log" "${np4[@]}" "$bin" "$@"; then
        if ebm_banner_check 4 "$log"; then return 0; fi
        report "$step" FAIL "banner: $(grep -m1 '^  MPI: ' "$log" || echo none)"
        return 1
    fi
    tail -n 15 "$log"
    report "$step" FAIL "exit status $rc, $log"
    return 1
}

# ---- train
if run train "$work/train.log" train --epochs 2 --out "$work/straight"; then
    report train PASS "${np4[*]} ebm_mpi train --epochs 2: $secs s; $(grep -m1 '^  MPI: ' "$work/train.log" | sed 's/^  //')"
fi
stop_if_failed

# ---- eval
if run eval "$work/eval.log" eval --ckpt "$work/straight/best.h5"; then
    if grep -qE '^  error [0-9.]+%' "$work/eval.log"; then
        report eval PASS "$secs s; test split: $(grep -m1 -E '^  error [0-9.]+%' "$work/eval.log" | sed 's/^ *//')"
    else
        report eval FAIL "no '  error NN.NN%' line in $work/eval.log"
    fi
fi

# ---- sample
if run sample "$work/sample.log" sample --ckpt "$work/straight/best.h5" --n 16 --out "$work/samples.h5"; then
    if "$py" -c "import h5py,numpy,sys; x=h5py.File(sys.argv[1],'r')['samples'][...]; sys.exit(0 if x.shape==(16,64) and numpy.isfinite(x).all() else 1)" \
            "$work/samples.h5" 2>/dev/null; then
        report sample PASS "$secs s; 16 finite samples of 64 pixels in $work/samples.h5"
    else
        report sample FAIL "$work/samples.h5: no finite /samples of shape (16, 64)"
    fi
fi

# ---- resume: 1 epoch, then --resume auto to 2, equal to the straight run
if run resume "$work/split1.log" train --epochs 1 --out "$work/split" &&
        run resume "$work/split2.log" train --epochs 2 --out "$work/split" --resume auto; then
    if ! grep -q '^  resumed from ' "$work/split2.log"; then
        report resume FAIL "the second run did not resume ($work/split2.log)"
    elif "$py" tests/mpi/compare_ckpt.py --dirs "$work/straight" "$work/split" last.h5 metrics.h5 \
            >"$work/compare.log" 2>&1; then
        report resume PASS "np 4: 1 epoch + --resume auto to 2 == 2 epochs straight, last.h5 and metrics.h5 bitwise (compare_ckpt.py)"
    else
        tail -n 10 "$work/compare.log"
        report resume FAIL "the resumed run differs from the straight one ($work/compare.log)"
    fi
fi

# ---- the unit and MPI tests
if timed "$work/tests.log" tests/mpich_tests.sh "$build"; then
    report tests PASS "$secs s; $(grep -E 'tests passed' "$work/tests.log" | tr '\n' ';' | sed 's/;$//')"
else
    grep -E 'tests passed|\(Failed\)|\(Timeout\)|\*\*\*' "$work/tests.log" | tail -n 20 || true
    report tests FAIL "$work/tests.log"
fi
finish
