#!/bin/bash
# readme_runs.sh: the README's "Common tasks" block, then its "A density"
# block, run as written, in a fresh directory, and leave what they say. Each command is run as the README
# prints it, with three stated changes: `build/` is the tested build tree;
# every `ebm_mpi train` gets `--hidden 16` (a tiny model: the same code paths
# in seconds), and in the density block `--epochs 2` too; `cmake --install ... --prefix ~/.local` installs into the
# test's directory. `mpirun` is the system's (Open MPI; a tree built with
# another MPI uses its recorded launcher, without --oversubscribe); as root
# the README's note applies and OMPI_ALLOW_RUN_AS_ROOT* are set. Checks after the block:
# the checkpoints, the resume note, eval's figures, the sample file, both
# pictures, and the install (binary, data, man page, completion, LICENSE),
# whose binary must train on its installed data; for the density block, the
# run's best.h5 (with its base density) and 40 samples in the data box drawn by
# the kernel.
# usage: readme_runs.sh SOURCE_DIR BUILD_DIR WORK_DIR
set -euo pipefail
src=$1 build=$(cd "$2" && pwd) work=$3
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work"; mkdir -p "$work"
ln -s "$src/scripts" "$work/scripts"
export HWLOC_COMPONENTS=-gl OPENBLAS_NUM_THREADS=1
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
# A block: the first ```sh fence after the line starting with $1.
readme_block() {
    awk -v head="$1" 'index($0, head) == 1 { sec = 1; next }
             sec && /^```sh/ { inb = 1; next }
             inb && /^```/ { exit }
             inb { print }' "$src/README.md"
}
vendor=$(. "$build/launcher.env" && echo "$EBM_MPI_VENDOR")
mpiexec=$(. "$build/launcher.env" && echo "$EBM_MPIEXEC")
n=0
# run_block HEADING [EXTRA_TRAIN_OPTIONS]: each command of the block, changed
# as the header says; n counts them.
run_block() {
    local block line cmd
    block=$(readme_block "$1")
    [ -n "$block" ] || fail "no sh block under '$1' in README.md"
    while IFS= read -r line; do
        cmd=${line%%#*}                          # the README's comments
        cmd=${cmd%"${cmd##*[![:space:]]}"}
        [ -n "$cmd" ] || continue
        case $cmd in
            "cmake -S . -B build"*) echo "skip (the tested tree is built): $cmd"; continue ;;
        esac
        # The README's mpirun is Open MPI's; a tree built with another MPI runs
        # the line with its own launcher (launcher.env), without Open MPI's flags.
        if [ "$vendor" != openmpi ] && [[ $cmd == "mpirun "* ]]; then
            cmd=${cmd/#mpirun /$mpiexec }
            cmd=${cmd// --oversubscribe/}
        fi
        cmd=${cmd//build\/bin\//$build/bin/}
        cmd=${cmd//--install build/--install $build}
        cmd=${cmd//\~\/.local/$work/prefix}
        [[ $cmd == *"ebm_mpi train"* ]] && cmd="$cmd --hidden 16${2:+ $2}"
        n=$((n + 1))
        echo "== $cmd"
        (cd "$work" && bash -c "$cmd") </dev/null >"$work/out.$n" 2>&1 || { cat "$work/out.$n"; fail "README command failed: $line"; }
    done <<<"$block"
}
run_block "## Common tasks"
[ "$n" -ge 6 ] || fail "only $n commands run from the README block"
cd "$work"
for f in run2/best.h5 run2/last.h5 run2/metrics.h5 threes.h5 threes.png curves.png; do
    [ -s "$f" ] || fail "the README's commands did not leave $f"
done
grep -h -q "^  resumed from run2/last.h5: 5 epoch(s) done" out.* || fail "no resume note from the README's continue command"
grep -h -q "AUROC" out.* || fail "eval --ood printed no AUROC"
for f in bin/ebm_mpi share/ebm_mpi/digits.h5 share/man/man1/ebm_mpi.1 \
         share/bash-completion/completions/ebm_mpi share/doc/ebm_mpi/LICENSE; do
    [ -s "prefix/$f" ] || fail "cmake --install left no $f"
done
prefix/bin/ebm_mpi train --epochs 1 --hidden 16 --out inst </dev/null >inst.out 2>&1 ||
    { cat inst.out; fail "the installed binary does not train"; }
grep -q "^  data: $PWD/prefix/bin/../share/ebm_mpi/digits.h5" inst.out ||
    fail "the installed binary does not use its installed data: $(grep '^  data:' inst.out)"
common=$n
run_block "## A density" "--epochs 2"
[ "$n" -ge $((common + 2)) ] || fail "only $((n - common)) commands run from the density block"
/usr/bin/python3 - <<'PY' || fail "the density block's checkpoint or samples are not as stated"
import h5py, numpy as np
with h5py.File("dens/best.h5", "r") as f:
    assert "base" in f, "dens/best.h5 has no base density"
    lo, hi = float(f.attrs["value_min"]), float(f.attrs["value_max"])
with h5py.File("noise.h5", "r") as f:
    x = f["samples"][()]
    sampler = f.attrs["sampler"]
    sampler = sampler.decode() if isinstance(sampler, bytes) else str(sampler)
assert x.shape[0] == 40 and np.isfinite(x).all() and x.min() >= lo and x.max() <= hi, x.shape
assert sampler == "kernel", sampler
print(f"density block: dens/best.h5 with its base; noise.h5: 40 samples in [{lo}, {hi}] by the kernel")
PY
echo "PASS: $n README commands; checkpoints, resume, eval, samples, pictures, the install and the density block as stated"
