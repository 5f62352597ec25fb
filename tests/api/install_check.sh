#!/bin/bash
# install_check.sh: `cmake --install` of a build tree to a fresh prefix gives
# the headers, both libraries, the CMake package, ebm_mpi.pc, the command and
# the data; the example (examples/predict.c) builds against that prefix
# through find_package (shared, and static with -Debm_mpi_STATIC=ON) and
# through pkg-config, and each build prints the same predicted classes as
# the installed command's `eval --dump` of the same checkpoint.
#   usage: install_check.sh BUILD_DIR SOURCE_DIR WORK CHECKPOINT
# Needs EBM_PYTHON (h5py), pkg-config and a C compiler (CC or cc).
set -euo pipefail
if [ $# -ne 4 ]; then
    echo "usage: install_check.sh BUILD_DIR SOURCE_DIR WORK CHECKPOINT" >&2
    exit 2
fi
build=$(readlink -f "$1") src=$(readlink -f "$2") work=$3 ckpt=$(readlink -f "$4")
py=${EBM_PYTHON:-/usr/bin/python3}
cc=${CC:-cc}
rm -rf "$work" && mkdir -p "$work"
work=$(readlink -f "$work")
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >install.log 2>&1 || { cat install.log; fail "cmake --install"; }
libdir=$(cmake -L -N "$build" 2>/dev/null | sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p')
libdir=${libdir:-lib}
for f in include/ebm_mpi/ebm_mpi.h "$libdir"/libebm_mpi.so "$libdir"/libebm_mpi.a \
         "$libdir"/cmake/ebm_mpi/ebm_mpiConfig.cmake "$libdir"/cmake/ebm_mpi/ebm_mpiConfigVersion.cmake \
         "$libdir"/pkgconfig/ebm_mpi.pc bin/ebm_mpi share/ebm_mpi/digits.h5; do
    [ -e "$prefix/$f" ] || fail "the installed prefix lacks $f"
done
soname=$(objdump -p "$prefix/$libdir/libebm_mpi.so" | awk '$1 == "SONAME" {print $2}')
major=$(sed -n 's/^#define EBM_MPI_VERSION_MAJOR \([0-9]*\).*/\1/p' "$prefix/include/ebm_mpi/ebm_mpi.h")
[ "$soname" = "libebm_mpi.so.$major" ] || fail "SONAME '$soname', expected libebm_mpi.so.$major"
data=$prefix/share/ebm_mpi/digits.h5

# The reference: the installed command (one process, no mpirun).
OPENBLAS_NUM_THREADS=1 "$prefix/bin/ebm_mpi" eval --ckpt "$ckpt" --split test --dump dump.h5 \
    >eval.log 2>&1 || { cat eval.log; fail "the installed ebm_mpi eval"; }

# find_package: the shared library, then the static one.
for kind in shared static; do
    static=OFF
    [ $kind = static ] && static=ON
    { cmake -S "$src/examples" -B "ex_$kind" -DCMAKE_PREFIX_PATH="$prefix" -Debm_mpi_STATIC=$static \
        && cmake --build "ex_$kind"; } >"ex_$kind.log" 2>&1 || { cat "ex_$kind.log"; fail "find_package ($kind) build"; }
done
if ldd ex_static/predict | grep -q libebm_mpi; then fail "the static build loads libebm_mpi.so"; fi
ldd ex_shared/predict | grep -q "libebm_mpi.so.$major => $prefix" ||
    fail "the shared build does not load the installed libebm_mpi.so (ldd: $(ldd ex_shared/predict | grep ebm_mpi || echo 'no libebm_mpi'); RUNPATH: $(objdump -p ex_shared/predict | awk '$1 ~ /R(UN)?PATH/ {print $2}'))"

# pkg-config.
export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
flags=$(pkg-config --cflags --libs ebm_mpi) || fail "pkg-config ebm_mpi"
version=$(sed -n 's/^#define EBM_MPI_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' \
    "$prefix/include/ebm_mpi/ebm_mpi.h" | paste -sd.)
[ "$(pkg-config --modversion ebm_mpi)" = "$version" ] || fail "ebm_mpi.pc's version is not the header's $version"
[ -n "$(pkg-config --variable=mpi_vendor ebm_mpi)" ] || fail "ebm_mpi.pc does not say which MPI"
# shellcheck disable=SC2086
"$cc" -std=c11 -o predict_pc "$src/examples/predict.c" $flags -Wl,-rpath,"$prefix/$libdir" \
    >pc.log 2>&1 || { cat pc.log; fail "pkg-config build"; }

for prog in ex_shared/predict ex_static/predict ./predict_pc; do
    name=$(echo "$prog" | tr / _)
    OPENBLAS_NUM_THREADS=1 "$prog" "$ckpt" "$data" >"$name.txt" 2>"$name.err" || { cat "$name.err"; fail "$prog"; }
    [ ! -s "$name.err" ] || { cat "$name.err"; fail "$prog wrote to stderr"; }
done
"$py" - dump.h5 ex_shared_predict.txt ex_static_predict.txt ._predict_pc.txt <<'PY' || fail "predictions differ"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
want, labels = f["predicted"][()], f["label"][()]
for name in sys.argv[2:]:
    rows = np.loadtxt(name, ndmin=2)
    if rows.shape != (len(want), 4):
        sys.exit(f"{name}: {rows.shape} rows, eval --dump has {len(want)} examples")
    if (rows[:, 0] != np.arange(len(want))).any() or (rows[:, 3] != labels).any():
        sys.exit(f"{name}: indices or true labels differ from the dump's")
    bad = np.flatnonzero(rows[:, 1] != want)
    if bad.size:
        sys.exit(f"{name}: {bad.size} predictions differ from eval --dump's (first: image {bad[0]})")
    if not ((rows[:, 2] > 0) & (rows[:, 2] <= 1)).all():
        sys.exit(f"{name}: a probability outside (0, 1]")
print(f"{len(want)} predictions, each equal to eval --dump's, in {len(sys.argv) - 2} builds")
PY
# examples/train.c, a one-process training without --data: the installed
# library finds the installed digits file from its own directory.
OPENBLAS_NUM_THREADS=1 ex_shared/train train_run >train.txt 2>train.err || { cat train.txt train.err; fail "ex_shared/train"; }
grep -q "^train_run/best.h5: epoch 1, test error " train.txt || { cat train.txt; fail "examples/train.c printed no result"; }
grep -q "^  data: $(readlink -f "$prefix")/share/ebm_mpi/digits.h5\$" train.txt || { cat train.txt; fail "examples/train.c did not train on the installed data"; }
echo "PASS: installed prefix complete (SONAME $soname); the example built through find_package (shared, static) and pkg-config prints eval --dump's predictions; examples/train.c trains on the installed data"
