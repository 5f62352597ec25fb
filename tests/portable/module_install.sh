#!/bin/bash
# module_install.sh: ebm_mpi configures against HDF5 and OpenBLAS installed
# outside the system paths, as on a cluster where they come from environment
# modules or Spack, and uses those, not the system's copies.
#
#   module_install.sh SOURCE_DIR WORK_DIR
#
# Debian's packages (parallel HDF5 for Open MPI, OpenBLAS) are fetched with
# `apt-get download` into a cache (EBM_DEB_CACHE, default WORK_DIR/../deb-cache;
# reused when it holds them) and unpacked with `dpkg-deb -x` into
# WORK_DIR/mod; what dpkg's maintainer scripts would add is added by hand: the
# alternatives' names (libopenblas.so, h5pcc) and h5pcc's install prefix. MPI
# stays the system's (HDF5 is built with it). Then the project is configured
# the way a module user would: HDF5_ROOT (what HDF5 modules set) and
# CMAKE_PREFIX_PATH point at the prefix, LD_LIBRARY_PATH has its libraries
# (what modules set for run time), CMAKE_SYSTEM_IGNORE_PREFIX_PATH=/usr hides
# the system's copies from CMake's own search, and pkg-config does not exist.
# Checks: configure succeeds; the HDF5 and BLAS libraries configure's own
# programs loaded lie under the prefix; the compile commands of src/io and
# src/num and the link command of ebm_mpi use only the prefix's HDF5 and
# OpenBLAS. Exit 0 when all hold.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
portable_args module_install.sh "$@"
cache=${EBM_DEB_CACHE:-$work/../deb-cache}
mkdir -p "$cache"
cache=$(readlink -f "$cache")

arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
pkgs=(libhdf5-openmpi-dev libhdf5-openmpi-103-1 libopenblas-pthread-dev libopenblas0-pthread)

# ---- Fetch (once) ----
missing=()
for p in "${pkgs[@]}"; do
    compgen -G "$cache/${p}_*.deb" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== apt-get download ${missing[*]} (into $cache)"
    (cd "$cache" && timeout 300 apt-get download "${missing[@]}") \
        || fail "apt-get download failed (is the Debian archive reachable, and apt-get update done?)"
fi

# ---- Unpack into the prefix, as a module or Spack tree would hold them ----
mod=$work/mod
for p in "${pkgs[@]}"; do
    deb=$(ls -t "$cache/${p}"_*.deb | head -n 1)
    dpkg-deb -x "$deb" "$mod"
done
pre=$mod/usr
lib=$pre/lib/$arch
[ -f "$lib/openblas-pthread/libopenblas.so.0" ] || fail "no libopenblas.so.0 in the unpacked packages"
[ -f "$pre/bin/h5pcc.openmpi" ] || fail "no h5pcc.openmpi in the unpacked packages"
# What update-alternatives would do in the prefix, and h5pcc's own prefix (a
# module's h5pcc names its install directory; Debian's says /usr).
ln -sf openblas-pthread/libopenblas.so "$lib/libopenblas.so"
ln -sf openblas-pthread/libopenblas.so.0 "$lib/libopenblas.so.0"
ln -sf h5pcc.openmpi "$pre/bin/h5pcc"
sed -i "s|^prefix=\"/usr\"|prefix=\"$pre\"|" "$pre/bin/h5pcc.openmpi"
grep -q "^prefix=\"$pre\"" "$pre/bin/h5pcc.openmpi" || fail "could not relocate h5pcc.openmpi"

# ---- Configure as a module user ----
build=$work/build
echo "== configure with HDF5_ROOT=$pre CMAKE_PREFIX_PATH=$pre, /usr ignored, no pkg-config"
rc=0
env HDF5_ROOT="$pre" LD_LIBRARY_PATH="$lib:$lib/openblas-pthread" \
    PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH= \
    "${CMAKE:-cmake}" -S "$src" -B "$build" -DEBM_TESTS=OFF -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$pre" -DCMAKE_SYSTEM_IGNORE_PREFIX_PATH=/usr \
    -DPKG_CONFIG_EXECUTABLE="$work/no-such-dir/pkg-config" \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$work/configure.log" 2>&1 || rc=$?
grep -E '^-- (MPI|HDF5|BLAS)|Error|^  - ' "$work/configure.log" || true
[ $rc -eq 0 ] || { tail -n 30 "$work/configure.log"; fail "configure failed (exit $rc)"; }

# ---- What configure found ----
cache_value() { sed -n "s|^$1:[A-Z]*=||p" "$build/CMakeCache.txt"; }
under_prefix() {  # NAME FILE: FILE resolves to a path inside the prefix
    local real
    real=$(readlink -f "$2") || fail "$1: $2 does not exist"
    case "$real" in
    "$mod"/*) echo "ok: $1 $2 -> $real" ;;
    *) fail "$1 is $2 ($real), not under $mod" ;;
    esac
}
h5=$(cache_value EBM_HDF5_LIBRARY)
blas=$(cache_value EBM_BLAS_LIBRARY)
cblas=$(cache_value EBM_CBLAS_INCLUDE_DIR)
[ -n "$h5" ] && [ -n "$blas" ] && [ -n "$cblas" ] || fail "configure recorded no HDF5/BLAS library or cblas.h"
under_prefix "HDF5 library (loaded by configure's check)" "$h5"
under_prefix "BLAS library (loaded by configure's check)" "$blas"
under_prefix "cblas.h directory" "$cblas"

# The commands that build the program: src/io's include HDF5's headers,
# src/num's the BLAS's, ebm_mpi links their libraries, all from the prefix.
/usr/bin/python3 - "$build" "$pre" <<'PY' || fail "the build commands use HDF5 or BLAS files outside the prefix"
import json, os, re, sys
build, pre = sys.argv[1], sys.argv[2]
cmds = json.load(open(os.path.join(build, "compile_commands.json")))
def command(name):
    for c in cmds:
        if c["file"].endswith(name):
            return c["command"]
    sys.exit(f"no compile command for {name}")
def includes(cmd):
    return re.findall(r"(?:-I|-isystem )(\S+)", cmd)
bad = []
inc_io = includes(command("src/io/h5file.c"))
if not any(d.startswith(pre) and os.path.exists(os.path.join(d, "hdf5.h")) for d in inc_io):
    bad.append(f"src/io/h5file.c: no hdf5.h directory under the prefix in {inc_io}")
inc_num = includes(command("src/num/model.c"))
if not any(d.startswith(pre) and os.path.exists(os.path.join(d, "cblas.h")) for d in inc_num):
    bad.append(f"src/num/model.c: no cblas.h directory under the prefix in {inc_num}")
for d in inc_io + inc_num:
    if not d.startswith(pre) and (os.path.exists(os.path.join(d, "hdf5.h"))
                                  or os.path.exists(os.path.join(d, "cblas.h"))):
        bad.append(f"include directory outside the prefix: {d}")
link = open(os.path.join(build, "CMakeFiles", "ebm_mpi.dir", "link.txt")).read()
libs = re.findall(r"(\S*lib(?:hdf5|openblas|blas)[^\s/]*\.(?:so|a)\S*)", link)
if not any(l.startswith(pre) and "hdf5" in l for l in libs):
    bad.append(f"ebm_mpi does not link an HDF5 library from the prefix: {libs}")
if not any(l.startswith(pre) and "blas" in l for l in libs):
    bad.append(f"ebm_mpi does not link a BLAS library from the prefix: {libs}")
bad += [f"ebm_mpi links {l}, outside the prefix" for l in libs if not l.startswith(pre)]
if re.search(r"(?<!\S)-l(hdf5|openblas|blas)\b", link):
    bad.append("ebm_mpi links HDF5/BLAS by bare name (-l), found through the linker's default paths")
for b in bad:
    print("  " + b)
if not bad:
    print("ok: compile commands of src/io, src/num and the link of ebm_mpi use the prefix's HDF5 and OpenBLAS")
sys.exit(1 if bad else 0)
PY
echo "PASS: HDF5 and BLAS found under $mod, without pkg-config and with /usr ignored"
