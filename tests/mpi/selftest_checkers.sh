#!/bin/bash
# selftest_checkers.sh: shows that the test checkers can fail. Feeds
# expect_error.sh, compare_np.sh and compare_ckpt.py synthetic cases they must
# reject (a command that succeeds, two error lines, stray output, an HDF5
# error stack, a regex that does not match, test errors too far apart, two
# checkpoints that differ in one attribute only) and cases they must accept
# (one error line followed by mpirun-style notices; close test errors;
# checkpoints that differ only in command_line).
# usage: selftest_checkers.sh WORKDIR
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
summary a 10.00; summary b 12.96; summary c 13.01; summary d 60.00; summary e 61.00
C=$here/compare_np.sh
expect 0 cmp_accepts_close "$C" 3 "$work/a" "$work/b"
expect 1 cmp_rejects_far "$C" 3 "$work/a" "$work/c"
expect 1 cmp_rejects_both_broken "$C" 3 "$work/d" "$work/e"
expect 1 cmp_rejects_missing "$C" 3 "$work/a" "$work/nothing"

# compare_ckpt.py: a checkpoint-like file, the same with another command_line
# (accepted), and with one attribute changed: the optimizer's step, or the
# data order's partial loss (rejected, naming it); then its own --selftest.
py=${EBM_PYTHON:-/usr/bin/python3}
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
