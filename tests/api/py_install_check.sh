#!/bin/bash
# py_install_check.sh: the Python package of an installed prefix. `cmake
# --install` of the build tree to a fresh prefix; with LIBEBM_MPI unset
# and PYTHONPATH the prefix's package folder, `import ebm_mpi` uses the
# library installed beside it (py_check.py installed: the installed
# command's eval --dump, the shipped data); and a copy of the package
# without the install's record finds the library on LD_LIBRARY_PATH through
# ctypes.util.find_library.
#   usage: py_install_check.sh BUILD_DIR SOURCE_DIR WORK PYTHONDIR CHECKPOINT
# PYTHONDIR: EBM_INSTALL_PYTHONDIR (relative to the prefix). Needs EBM_PYTHON.
set -euo pipefail
if [ $# -ne 5 ]; then
    echo "usage: py_install_check.sh BUILD_DIR SOURCE_DIR WORK PYTHONDIR CHECKPOINT" >&2
    exit 2
fi
build=$(readlink -f "$1") src=$(readlink -f "$2") work=$3 pydir=$4 ckpt=$(readlink -f "$5")
py=${EBM_PYTHON:-/usr/bin/python3}
rm -rf "$work" && mkdir -p "$work"
work=$(readlink -f "$work")
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
prefix=$work/prefix
unset LIBEBM_MPI
export PYTHONDONTWRITEBYTECODE=1

cmake --install "$build" --prefix "$prefix" >install.log 2>&1 || { cat install.log; fail "cmake --install"; }
libdir=$(cmake -L -N "$build" 2>/dev/null | sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p')
libdir=${libdir:-lib}
pkg=$prefix/$pydir/ebm_mpi
for f in __init__.py _library.py _installed.py; do
    [ -f "$pkg/$f" ] || fail "the installed prefix lacks $pydir/ebm_mpi/$f"
done
diff -r -x _installed.py -x __pycache__ "$src/python/ebm_mpi" "$pkg" >/dev/null \
    || fail "the installed package differs from python/ebm_mpi"

PYTHONPATH=$prefix/$pydir "$py" "$src/tests/api/py_check.py" installed "$ckpt" \
    "$prefix/share/ebm_mpi/digits.h5" "$prefix/bin/ebm_mpi"

# LIBEBM_MPI comes first, and is the only place tried when set.
said=$(PYTHONPATH=$prefix/$pydir LIBEBM_MPI=$work/none/libebm_mpi.so "$py" -c \
    'import ebm_mpi
try:
    ebm_mpi.library()
except ebm_mpi.Error as e:
    print(e)')
case $said in
    *"cannot load libebm_mpi"*"$work/none/libebm_mpi.so"*) ;;
    *) fail "LIBEBM_MPI naming a missing file beside an installed library: '$said'" ;;
esac

# Not installed by cmake (no _installed.py): the dynamic linker's path.
mkdir copy && cp -r "$pkg" copy/ && rm copy/ebm_mpi/_installed.py
how=$(cd / && PYTHONPATH=$work/copy LD_LIBRARY_PATH=$prefix/$libdir "$py" -c \
    'import ebm_mpi; lib = ebm_mpi.library(); print(lib.how, lib.path, ebm_mpi.Model.load("'"$ckpt"'").info.input_size)')
[ "$how" = "ctypes.util.find_library libebm_mpi.so.0 64" ] \
    || fail "a package copy without _installed.py: '$how', expected find_library's libebm_mpi.so.0"
echo "PASS: the installed package; a copy finds the library through find_library"
