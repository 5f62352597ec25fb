#!/bin/bash
# fixture_check.sh: the current binary reads the checkpoint and metrics files
# that earlier versions wrote (tests/fixtures/vN, described in its README).
#   resume  FIXDIR WORK PROGRAM: resumes midepoch/ (2 ranks) to the end of
#           epoch 2; the result is compared with buffer/last.h5 (model,
#           optimizer, chains, RNG, data order) and metrics.h5's non-timing
#           columns with buffer/metrics.h5. Which BLAS this binary runs (a
#           probe's banner) against the files' blas_version attribute decides
#           the path, and the output says which and why:
#           - the same BLAS and version (OpenBLAS): bit for bit, on the
#             OpenBLAS core that wrote the fixture (OPENBLAS_CORETYPE). Where
#             that core cannot run (this CPU lacks an instruction set it
#             needs, or the banner shows OpenBLAS used another core) the bits
#             mean nothing: exit 77 (skipped), a failure under CI=true.
#           - another BLAS (BLIS) or version: the stated-tolerance path
#             (RESUME_RTOL below, with the measurement it comes from),
#             without OPENBLAS_CORETYPE.
#   eval    FIXDIR WORK PROGRAM: eval --split val of buffer/best.h5 and
#           seed/best.h5 reproduces the validation error stored in each file.
#   sample  FIXDIR WORK PROGRAM: sample (fresh chains, --class, --from-chains,
#           --sampler mala and ula from --init uniform, --init classes: from
#           the stored Gaussians without a data file on format 5 on, refitted
#           from the data before, refused without it) from buffer/best.h5 and
#           seed/best.h5 writes finite samples inside the data range.
# Needs EBM_PYTHON (h5py) and tests/mpi/mpirun.sh.
set -u
if [ $# -ne 4 ]; then
    echo "usage: fixture_check.sh resume|eval|sample FIXDIR WORK PROGRAM" >&2
    exit 2
fi
mode=$1 fix=$(readlink -f "$2") work=$3 prog=$(readlink -f "$4")
here=$(cd "$(dirname "$0")" && pwd)
py=${EBM_PYTHON:-/usr/bin/python3}
rm -rf "$work" && mkdir -p "$work" || exit 1
cd "$work" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
run() {
    echo "== $*"
    "$@" >run.log 2>&1
    local rc=$?
    cat run.log
    [ $rc -eq 0 ] || fail "exit status $rc: $*"
}

case "$mode" in
resume)
    mkdir out && cp "$fix"/midepoch/last.h5 "$fix"/midepoch/metrics.h5 out/ || exit 1
    # The fixtures were trained with the stable preset as it was then: the
    # options it has changed since (the rate, the sampler, w, the average)
    # given as the file stores them (a resume must repeat them; absent in
    # older files: the values they read as).
    # Line 1: those options; lines 2-3: the BLAS that wrote midepoch/ and
    # buffer/ (blas_version).
    info=$("$py" - "$fix"/midepoch/last.h5 "$fix"/buffer/last.h5 <<'PY'
import sys, h5py
a = h5py.File(sys.argv[1], "r").attrs
absent = {"chain-init": 0, "step-decay": 1, "lr-schedule": "const", "warmup": 0, "lr-floor": 0,
          "ema": 0}
out = []
for name in ("lr", "gen-weight", "chain-init", "step-decay", "lr-schedule", "warmup", "lr-floor", "ema"):
    v = a[name] if name in a else absent[name]
    v = v.decode() if isinstance(v, bytes) else v
    out += [f"--{name}", v if isinstance(v, str) else repr(float(v))]
# Format 6 (--preset density, applied before the other options): the
# preset and the base and sampler options it sets.
if "base" in a:
    out += ["--preset", a["preset"].decode()]
    for name in ("base", "train-dequant", "step-size", "noise", "langevin-steps", "reinit",
                 "energy-reg", "train-noise"):
        v = a[name]
        v = v.decode() if isinstance(v, bytes) else v
        out += [f"--{name}", v if isinstance(v, str) else
                str(int(v)) if name in ("train-dequant", "langevin-steps") else repr(float(v))]
    # The density preset's kernel since 0.4.0: absent in format 6 files, which
    # were trained with Langevin steps.
    v = a["train-sampler"].decode() if "train-sampler" in a else "langevin"
    out += ["--train-sampler", v]
print(" ".join(out))
for f in sys.argv[1:]:
    print(h5py.File(f, "r").attrs["blas_version"].decode())
PY
) || fail "cannot read the fixture's attributes"
    read -r -a then <<<"$(sed -n 1p <<<"$info")"
    [ ${#then[@]} -eq 16 ] || [ ${#then[@]} -eq 36 ] || fail "cannot read the fixture's options"
    blas_then=$(sed -n 3p <<<"$info")
    [ "$(sed -n 2p <<<"$info")" = "$blas_then" ] \
        || fail "midepoch/ and buffer/ were written by different BLAS builds"
    # "OpenBLAS 0.3.21" of "OpenBLAS 0.3.21 NO_LAPACKE ..., core Zen", "BLIS
    # 0.9.0" of "BLIS 0.9.0, OpenMP, arch zen3": the BLAS and its version.
    kind_version() { awk '{ sub(/,$/, "", $2); print $1, $2 }' <<<"$1"; }
    version_then=$(kind_version "$blas_then")
    blas_of() { grep -m1 'BLAS: ' "$1" | sed 's/.*BLAS: //; s/, [0-9]* thread(s) per rank.*//'; }
    # Which BLAS this binary runs: the banner of a one-rank, one-epoch
    # training (1-2 s), with the machine's own OpenBLAS core, if any.
    env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 "$prog" train --hidden 16 --epochs 1 \
        --out probe >probe.log 2>&1 || { cat probe.log; fail "the probe run failed"; }
    blas_now=$(blas_of probe.log)
    [ -n "$blas_now" ] || { cat probe.log; fail "the probe run printed no BLAS line"; }
    version_now=$(kind_version "$blas_now")
    # Another BLAS, or another version of it: other kernels, other rounding
    # from the first step on, so the bits cannot match and the stated-
    # tolerance path compares instead (compare_tol.py: integers bit for bit,
    # floating-point datasets within RESUME_RTOL of each dataset's largest
    # magnitude). Measured: resuming midepoch/ of v1..v5 on BLIS 0.9.0 (arch
    # generic, Debian 12's libblis4) against buffer/ (written by OpenBLAS
    # 0.3.21), the largest relative difference was 3.6e-7 in /model and
    # /optimizer, 3.0e-7 in /sampler/chains and 2.9e-6 in the metrics (v5's
    # val_gen). Planted into the resume on BLIS (v5): the learning rate 1%
    # off gives 2.0e-2 (/sampler/chains; 4.3e-4 in /model), 0.1% off 2.0e-3,
    # --seed 4 6.0e-2 (/metrics/val_gen). 1e-4 is 34 times the largest BLAS
    # difference and 20 times below the smallest planted error.
    RESUME_RTOL=1e-4
    path=bits
    if [ "$version_now" != "$version_then" ]; then
        path=tolerance
        echo "tolerance path: this binary runs '$blas_now'; '$blas_then' wrote the fixture:" \
            "other kernels, the bits cannot match; compared within $RESUME_RTOL relative"
    fi
    skip() {
        if [ "${CI:-}" = true ]; then
            echo "FAIL: CI=true: the fixture's bits cannot be compared here: $*"
            exit 1
        fi
        echo "SKIP: $*"
        exit 77
    }
    coretype=()
    if [ $path = bits ]; then
        # The same OpenBLAS: the kernels of each of its cores round
        # differently, so the bits can only match on the core that wrote the
        # fixture.
        core_then=${blas_then##*, core }
        [ -n "$core_then" ] && [ "$core_then" != "$blas_then" ] || fail "no core in '$blas_then'"
        # What each core's kernels execute (/proc/cpuinfo flag names; OpenBLAS's
        # Zen kernels are its Haswell ones, AVX2 and FMA).
        case $(echo "$core_then" | tr '[:upper:]' '[:lower:]') in
            prescott) need="pni" ;;
            core2 | atom) need="ssse3" ;;
            penryn | dunnington) need="sse4_1" ;;
            nehalem) need="sse4_2" ;;
            barcelona) need="pni sse4a" ;;
            sandybridge) need="avx" ;;
            bulldozer | piledriver | steamroller) need="avx fma4" ;;
            haswell | zen | excavator) need="avx2 fma" ;;
            skylakex) need="avx2 fma avx512f avx512cd avx512bw avx512dq avx512vl" ;;
            cooperlake) need="avx2 fma avx512f avx512cd avx512bw avx512dq avx512vl avx512_bf16" ;;
            *) fail "the fixture's core $core_then: which instruction sets it needs is not known here (add it)" ;;
        esac
        flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
        for f in $need; do
            case $flags in *" $f "*) ;; *) skip "this CPU lacks $f, which the fixture's OpenBLAS core $core_then needs" ;; esac
        done
        echo "bit-for-bit path: $version_now, as the fixture's '$blas_then';" \
            "resuming on its core: OPENBLAS_CORETYPE=$core_then"
        coretype=(OPENBLAS_CORETYPE="$core_then")
    fi
    # OPENBLAS_CORETYPE only on the bit-for-bit path (OpenBLAS, the fixture's
    # core); otherwise the machine's setting, if any, is taken away too: the
    # tolerance path runs the BLAS as it runs by default.
    env -u OPENBLAS_CORETYPE "${coretype[@]}" "$here/mpirun.sh" 2 "$prog" train --hidden 16 \
        --epochs 2 --buffer 16 --seed 3 "${then[@]}" --out out --resume auto >run.log 2>&1
    rc=$?
    echo "== mpirun.sh 2 $prog train ... --resume auto"
    cat run.log
    [ $rc -eq 0 ] || fail "exit status $rc: the resume"
    grep -q "resumed from out/last.h5: 1 epoch(s) done, continuing after step 5/20" run.log \
        || fail "no mid-epoch resume line"
    banner=$(blas_of run.log)
    [ -n "$banner" ] || fail "no BLAS line in the banner"
    [ "$(kind_version "$banner")" = "$version_now" ] \
        || fail "the resumed ranks ran $banner, the probe $blas_now"
    if [ $path = bits ]; then
        # The banner says which core OpenBLAS used: a core this OpenBLAS does
        # not offer falls back to another one silently.
        core_now=${banner##*, core }
        if [ "$core_now" != "$core_then" ]; then
            # Refused here, or never passed to the ranks? One rank started
            # directly (no mpirun) with the same setting tells.
            OPENBLAS_CORETYPE=$core_then OPENBLAS_NUM_THREADS=1 "$prog" train --hidden 16 --epochs 1 \
                --out probe2 >probe2.log 2>&1
            probe=$(blas_of probe2.log)
            [ -n "$probe" ] || { cat probe2.log; fail "the probe run printed no BLAS line"; }
            [ "${probe##*, core }" != "$core_then" ] \
                || fail "OpenBLAS runs core $core_then here (a rank started directly does), but the resumed ranks ran $core_now: OPENBLAS_CORETYPE did not reach them"
            skip "asked for the fixture's core $core_then, OpenBLAS ran ${probe##*, core } ($probe)"
        fi
        echo "the resume used OpenBLAS core $core_now ($version_now), as the fixture"
    fi
    # The MPI: the fixtures were written with Open MPI (mpi_version). At 2
    # ranks every sum (MPI_Allreduce, MPI_Reduce) has two terms, and a + b =
    # b + a exactly, so any MPI's reduction algorithm gives the same bits:
    # with another MPI (MPICH) the bits are compared all the same, and said so.
    mpi_then=$("$py" -c "import h5py,sys; print(h5py.File(sys.argv[1],'r').attrs['mpi_version'].decode())" \
        "$fix"/buffer/last.h5) || fail "no mpi_version in buffer/last.h5"
    mpi_now=$(grep -m1 '^  MPI: ' run.log | sed 's/^  MPI: //; s/, [0-9]* ranks;.*//')
    if [ "${mpi_now%% *}" != "${mpi_then%% *}" ]; then
        echo "the fixture was written with $mpi_then, this build runs $mpi_now: 2 ranks, two-term sums are exact in any order: compared all the same"
    fi
    # Format 3 added the rollbacks column, format 5 /sampler/class_start,
    # which older files lack.
    # Format 6 holds /base, the base density (written at the start, kept).
    groups=(/model /optimizer /sampler /rng /data_order /metrics)
    "$py" -c "import h5py,sys; sys.exit('base' not in h5py.File(sys.argv[1], 'r'))" \
        "$fix"/buffer/last.h5 && groups+=(/base)
    if [ $path = bits ]; then
        "$py" "$here/compare_ckpt.py" --newer-has rollbacks --newer-has class_start \
            "$fix"/buffer/last.h5 out/last.h5 "${groups[@]}" || fail "resumed checkpoint differs"
        # The root of metrics.h5 is the run record of the version that wrote it
        # (format_version, git_revision, data_file, the hyperparameters it knew).
        "$py" "$here/compare_ckpt.py" --newer-has rollbacks --no-root-attrs "$fix"/buffer/metrics.h5 \
            out/metrics.h5 / || fail "metrics.h5 differs"
        echo "PASS: resumed fixture equals the uninterrupted run bit for bit (OpenBLAS core $core_now)"
    else
        "$py" "$here/compare_tol.py" --newer-has rollbacks --newer-has class_start "$RESUME_RTOL" \
            "$fix"/buffer/last.h5 out/last.h5 "${groups[@]}" || fail "resumed checkpoint differs"
        "$py" "$here/compare_tol.py" --newer-has rollbacks "$RESUME_RTOL" "$fix"/buffer/metrics.h5 \
            out/metrics.h5 / || fail "metrics.h5 differs"
        echo "PASS: resumed fixture equals the uninterrupted run within $RESUME_RTOL relative" \
            "(tolerance path: $version_now here, $version_then wrote it), integers bit for bit"
    fi
    ;;
eval)
    for f in buffer/best.h5 seed/best.h5; do
        run "$here/mpirun.sh" 2 "$prog" eval --ckpt "$fix/$f" --split val
        want=$("$py" -c "import h5py,sys; print('%.2f%%' % (100*h5py.File(sys.argv[1]).attrs['best_val_error']))" "$fix/$f")
        grep -Eq "error +$want" run.log || grep -q "error $want" run.log \
            || fail "$f: eval does not print the stored validation error $want"
    done
    echo "PASS: eval reproduces the stored validation errors"
    ;;
sample)
    run "$here/mpirun.sh" 2 "$prog" sample --ckpt "$fix"/buffer/best.h5 --n 30 --out u.h5
    run "$here/mpirun.sh" 2 "$prog" sample --ckpt "$fix"/buffer/best.h5 --n 10 --class 3 --out c.h5
    run "$here/mpirun.sh" 2 "$prog" sample --ckpt "$fix"/buffer/best.h5 --from-chains --n 16 --out ch.h5
    run "$here/mpirun.sh" 1 "$prog" sample --ckpt "$fix"/seed/best.h5 --n 12 --out s.h5
    # The samplers of the model itself, from the data box, on both presets.
    run "$here/mpirun.sh" 2 "$prog" sample --ckpt "$fix"/buffer/best.h5 --init uniform \
        --sampler mala --steps 6 --n 10 --out m.h5
    run "$here/mpirun.sh" 1 "$prog" sample --ckpt "$fix"/seed/best.h5 --init uniform \
        --sampler ula --steps 6 --n 10 --out l.h5
    # --init classes: format 5 on stores the Gaussians (no data file read);
    # older files refit them from --data (here the shipped digits they were
    # trained on) and, given none, refuse saying so.
    version=$("$py" -c "import h5py,sys; print(int(h5py.File(sys.argv[1]).attrs['format_version']))" \
        "$fix"/buffer/best.h5)
    if [ "$version" -ge 5 ]; then
        run "$here/mpirun.sh" 2 "$prog" sample --ckpt "$fix"/buffer/best.h5 --init classes \
            --data "$work/no_such_data.h5" --n 10 --out g.h5
    else
        run "$here/mpirun.sh" 2 "$prog" sample --ckpt "$fix"/buffer/best.h5 --init classes \
            --n 10 --out g.h5
        "$here/mpirun.sh" 2 "$prog" sample --ckpt "$fix"/buffer/best.h5 --init classes \
            --data "$work/no_such_data.h5" --n 10 --out never.h5 >refused.log 2>&1 \
            && fail "--init classes of a format-$version file without its data was accepted"
        grep -q "stores no class Gaussians.*no_such_data.h5" refused.log \
            || fail "--init classes refusal unclear: $(cat refused.log)"
        echo "refused as it should: $(grep 'error:' refused.log)"
    fi
    "$py" - "$fix" <<'PY' || fail "samples"
import sys, h5py, numpy as np
fix = sys.argv[1]
for name, n, ck in [("u.h5", 30, "buffer"), ("c.h5", 10, "buffer"), ("ch.h5", 16, "buffer"),
                    ("s.h5", 12, None), ("m.h5", 10, "buffer"), ("l.h5", 10, "seed"),
                    ("g.h5", 10, "buffer")]:
    x = h5py.File(name)["samples"][()]
    assert x.shape == (n, 64), (name, x.shape)
    assert np.isfinite(x).all(), name
    if ck:  # stable preset: chains clamped to the data range; mala/ula: the box
        a = h5py.File(f"{fix}/{ck}/best.h5").attrs
        assert x.min() >= a["value_min"] - 1e-4 and x.max() <= a["value_max"] + 1e-4, name
print("samples: shapes, finite, inside the data range")
PY
    echo "PASS: sample works on the fixtures"
    ;;
*) fail "unknown mode $mode" ;;
esac
