#!/bin/bash
# selftest_checkers.sh: shows that the test checkers can fail. Feeds
# expect_error.sh, compare_np.sh, ood_auroc.sh, sample_fd.sh and
# compare_ckpt.py synthetic cases they must reject (a command that succeeds or
# exits 2, two error lines, stray output, an HDF5 error stack, a regex that
# does not match, test errors too far apart or both too high, an AUROC below
# its bound, samples of uniform noise, two checkpoints that differ in one
# attribute only) and cases they must accept (one error line followed by
# mpirun-style notices; close test errors; AUROCs above their bounds; the
# test images themselves as samples; checkpoints that differ only in
# command_line).
# usage: selftest_checkers.sh WORKDIR
#   EBM_PYTHON: the Python with h5py and numpy (default /usr/bin/python3).
set -u
work=${1:?usage: selftest_checkers.sh WORKDIR}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work" || exit 1
bad=0

# expect WANT(0 = accepted, 1 = rejected) NAME CHECKER ARGS...
expect() {
    local want=$1 name=$2 got
    shift 2
    "$@" >"$work/$name.log" 2>&1
    got=$?
    if [ "$want" = 0 ] && [ "$got" -eq 0 ]; then
        echo "ok: $name accepted"
    elif [ "$want" = 1 ] && [ "$got" -eq 1 ]; then
        echo "ok: $name rejected: $(grep -m1 '^FAIL' "$work/$name.log")"
    else
        echo "FAIL: $name: checker exit status $got, wanted $([ "$want" = 0 ] && echo 0 || echo 1)"
        cat "$work/$name.log"
        bad=1
    fi
}

E=$here/expect_error.sh
notice='echo ---------------------------------------------------------------------- >&2
echo "Primary job  terminated normally, but 1 process returned" >&2
echo "a non-zero exit code. Per user-direction, the job has been aborted." >&2
echo ---------------------------------------------------------------------- >&2
echo >&2
echo "[vm:12345] 1 more process has sent help message help-mpi-api.txt / mpi-abort" >&2'

expect 0 err_accepts_with_notice "$E" '^ebm_mpi: error: bad thing$' \
    sh -c "echo 'ebm_mpi: error: bad thing' >&2; $notice; exit 1"
expect 0 err_accepts_plain "$E" 'bad' sh -c "echo 'ebm_mpi: error: bad thing' >&2; exit 1"
expect 1 err_rejects_success "$E" 'bad' sh -c "echo 'ebm_mpi: error: bad thing' >&2; exit 0"
expect 1 err_rejects_no_line "$E" 'bad' sh -c "exit 1"
expect 1 err_rejects_regex "$E" 'other' sh -c "echo 'ebm_mpi: error: bad thing' >&2; exit 1"
expect 1 err_rejects_two_lines "$E" 'bad' \
    sh -c "echo 'ebm_mpi: error: bad thing' >&2; echo 'ebm_mpi: error: bad thing' >&2; exit 1"
expect 1 err_rejects_stdout "$E" 'bad' sh -c "echo hello; echo 'ebm_mpi: error: bad thing' >&2; exit 1"
expect 1 err_rejects_error_on_stdout "$E" 'bad' sh -c "echo 'ebm_mpi: error: bad thing'; exit 1"
expect 1 err_rejects_stray_stderr "$E" 'bad' \
    sh -c "echo 'ebm_mpi: error: bad thing' >&2; echo 'warning: something' >&2; exit 1"
expect 1 err_rejects_other_program_line "$E" 'bad' \
    sh -c "echo 'ebm_mpi: warning: x' >&2; echo 'ebm_mpi: error: bad thing' >&2; exit 1"
expect 1 err_rejects_hdf5_stack "$E" 'bad' \
    sh -c "echo 'ebm_mpi: error: bad thing' >&2; echo 'HDF5-DIAG: Error detected in HDF5 (1.10.8):' >&2; exit 1"
expect 1 err_rejects_unclosed_block "$E" 'bad' \
    sh -c "echo 'ebm_mpi: error: bad thing' >&2; echo ---------------------------------------- >&2; echo junk >&2; exit 1"
expect 1 err_rejects_signal "$E" 'bad' sh -c "echo 'ebm_mpi: error: bad thing' >&2; kill -SEGV \$\$"
# The README's exit status for an error is 1: 2 (or any other) is refused
# unless the case says which other status is documented.
expect 1 err_rejects_status_2 "$E" 'bad' sh -c "echo 'ebm_mpi: error: bad thing' >&2; exit 2"
expect 1 err_rejects_status_75 "$E" 'bad' sh -c "echo 'ebm_mpi: error: bad thing' >&2; exit 75"
expect 0 err_accepts_documented_status "$E" --status 2 'bad' \
    sh -c "echo 'ebm_mpi: error: bad thing' >&2; exit 2"
expect 1 err_rejects_other_than_documented "$E" --status 2 'bad' \
    sh -c "echo 'ebm_mpi: error: bad thing' >&2; exit 1"
trail="echo 'ebm_mpi: error: bad thing' >&2; echo 'ebm_mpi: at src/io/h5file.c:12 (h5f_create)' >&2; echo 'ebm_mpi: at src/infer.c:99 (write_dump)' >&2"
EXPECT_TRAIL='src/io/;src/infer\.c' expect 0 err_accepts_trail "$E" 'bad' sh -c "$trail; exit 1"
EXPECT_TRAIL='src/par/' expect 1 err_rejects_trail_origin "$E" 'bad' sh -c "$trail; exit 1"
EXPECT_TRAIL='src/io/;src/train/' expect 1 err_rejects_trail_frame "$E" 'bad' sh -c "$trail; exit 1"
EXPECT_TRAIL='src/io/' expect 1 err_rejects_no_trail "$E" 'bad' sh -c "echo 'ebm_mpi: error: bad thing' >&2; exit 1"
expect 1 err_rejects_unasked_trail "$E" 'bad' sh -c "$trail; exit 1"
EXPECT_ERROR_TIMEOUT=2 expect 1 err_rejects_hang "$E" 'bad' \
    sh -c "echo 'ebm_mpi: error: bad thing' >&2; sleep 30; exit 1"

summary() {
    mkdir -p "$work/$1"
    echo "done in 1.0s: 10 steps (0 skipped). best.h5 = epoch 3: val error 8.00%, test error $2% (test loss 0.3, 270 examples)" \
        >"$work/$1/stdout.txt"
}
summary a 8.15; summary b 10.37; summary c 11.48; summary d 12.22; summary e 12.59
summary f 60.00; summary g 61.00; summary h 12.00
C=$here/compare_np.sh
expect 0 cmp_accepts_close "$C" 3 12 "$work/a" "$work/b"
expect 1 cmp_rejects_far "$C" 3 12 "$work/a" "$work/c"
expect 1 cmp_rejects_both_worse "$C" 3 12 "$work/d" "$work/e"
expect 1 cmp_rejects_one_at_ceiling "$C" 4 12 "$work/a" "$work/h"
expect 1 cmp_rejects_both_broken "$C" 3 12 "$work/f" "$work/g"
expect 1 cmp_rejects_missing "$C" 3 12 "$work/a" "$work/nothing"

# ood_auroc.sh on what eval --ood prints.
ood() { # ENERGY SOFTMAX [extra shell]
    printf '%s' "echo '  out-of-distribution: uniform noise in the data range (270 inputs) against the test split (270)';
echo '    AUROC: energy score -E(x) $1, max softmax $2 (0.5: chance, 1: every input told apart)'; ${3:-}"
}
O=$here/ood_auroc.sh
set_re='uniform noise .* against the test split'
expect 0 ood_accepts_above "$O" 0.970 0.914 "$set_re" -- sh -c "$(ood 0.9929 0.9236)"
expect 0 ood_accepts_at_bound "$O" 0.970 0.914 "$set_re" -- sh -c "$(ood 0.9700 0.9140)"
expect 1 ood_rejects_energy "$O" 0.970 0.914 "$set_re" -- sh -c "$(ood 0.9410 0.9236)"
expect 1 ood_rejects_softmax "$O" 0.970 0.914 "$set_re" -- sh -c "$(ood 0.9929 0.8991)"
expect 1 ood_rejects_other_set "$O" 0.970 0.914 'pixels shuffled' -- sh -c "$(ood 0.9929 0.9236)"
expect 1 ood_rejects_two_lines "$O" 0.970 0.914 "$set_re" -- sh -c "$(ood 0.99 0.92 "$(ood 0.99 0.92)")"
expect 1 ood_rejects_status "$O" 0.970 0.914 "$set_re" -- sh -c "$(ood 0.9929 0.9236 'exit 1')"
expect 1 ood_rejects_stderr "$O" 0.970 0.914 "$set_re" -- sh -c "$(ood 0.9929 0.9236 'echo x >&2')"

# sample_fd.sh with a stand-in for `ebm_mpi sample` that writes the given
# rows as samples: the test images themselves (FD 0), uniform noise (FD about
# 2700), NaN; and a sampler that fails.
py=${EBM_PYTHON:-/usr/bin/python3}
data=$here/../../data/digits.h5
fake=$work/fake_sample.sh
cat >"$fake" <<EOS
#!/bin/bash
# fake_<KIND> sample --ckpt C --data D --n N --seed S --out F (KIND: its name)
kind=\${0##*/fake_}
[ "\$kind" = fail ] && { echo "ebm_mpi: error: no" >&2; exit 1; }
out=\${@: -1}
exec "$py" -c 'import h5py, numpy as np, sys
kind, data, out = sys.argv[1:]
real = h5py.File(data, "r")["test/images"][()].astype(np.float32)
x = {"real": real, "uniform": np.random.default_rng(1).uniform(0, 16, real.shape),
     "nan": np.full(real.shape, np.nan)}[kind]
h5py.File(out, "w")["samples"] = np.asarray(x, np.float32)' "\$kind" "$data" "\$out"
EOS
chmod +x "$fake"
S=$here/sample_fd.sh
for kind in real uniform nan fail; do
    ln -s "$fake" "$work/fake_$kind"
done
expect 0 fd_accepts_real "$S" 150 "$work/fd_real" "$work/fake_real" "$data" "$data"
for kind in uniform nan fail; do
    expect 1 "fd_rejects_$kind" "$S" 150 "$work/fd_$kind" "$work/fake_$kind" "$data" "$data"
done

# compare_ckpt.py: a checkpoint-like file, the same with another command_line
# (accepted), and with one attribute changed: the optimizer's step, or the
# data order's partial loss (rejected, naming it); then its own --selftest.
K=$here/compare_ckpt.py
"$py" - "$work" <<'PY' || { echo "FAIL: cannot write the compare_ckpt.py cases"; bad=1; }
import sys, h5py, numpy as np
def make(name, change=None):
    with h5py.File(f"{sys.argv[1]}/{name}", "w") as f:
        f.attrs["global_step"] = 30
        f.attrs["command_line"] = "ebm_mpi train --out a"
        f.create_dataset("model/layer0/weight", data=np.ones((4, 3), np.float32))
        f.create_group("optimizer").attrs["step"] = 30
        f.create_dataset("data_order", data=np.arange(6, dtype=np.int32).reshape(2, 3))
        f["data_order"].attrs["partial_loss"] = 12.5
        if change:
            change(f)
make("a.h5")
make("cmd.h5", lambda f: f.attrs.__setitem__("command_line", "ebm_mpi train --out b --resume auto"))
make("step.h5", lambda f: f["optimizer"].attrs.__setitem__("step", 0))
make("partial.h5", lambda f: f["data_order"].attrs.__setitem__("partial_loss", 0.0))
PY
expect 0 ckpt_accepts_command_line "$py" "$K" "$work/a.h5" "$work/cmd.h5"
expect 1 ckpt_rejects_optimizer_step "$py" "$K" "$work/a.h5" "$work/step.h5"
expect 1 ckpt_rejects_partial_loss "$py" "$K" "$work/a.h5" "$work/partial.h5"
for name in optimizer_step:/optimizer@step partial_loss:/data_order@partial_loss; do
    grep -q "^FAIL: .*attribute ${name#*:} differs" "$work/ckpt_rejects_${name%%:*}.log" ||
        { echo "FAIL: compare_ckpt.py does not name ${name#*:}"; bad=1; }
done
expect 0 ckpt_selftest "$py" "$K" --selftest

[ "$bad" = 0 ] && echo "ok: all checker self-tests behaved" && exit 0
exit 1
