# shellcheck shell=bash
# resume_lib.sh: what the resume tests (resume.sh, resume_ema.sh,
# resume_reshard.sh, threads.sh) share, sourced by them after setting here
# (tests/mpi).
# shellcheck disable=SC2154 # here: the caller's

py=${EBM_PYTHON:-/usr/bin/python3} # the Python with h5py
run() { "$here/mpirun.sh" "$@"; }
fail() { echo "FAIL: $*"; exit 1; }

# same DIR: DIR's last.h5, best.h5 and metrics.h5 are the run in straight/'s.
same() { "$py" "$here/compare_ckpt.py" --dirs straight "$1" last.h5 best.h5 metrics.h5 || exit 1; }

# train_examples: N, the training examples of the shipped data file (the
# binary's default --data is a copy of it), read here, not from the program.
train_examples() {
    "$py" -c "import h5py,sys; print(len(h5py.File(sys.argv[1], 'r')['train/labels']))" \
        "$here/../../data/digits.h5" || fail "cannot read the number of training examples"
}

# steps_per_epoch B: ceil(N/B).
steps_per_epoch() {
    local n
    n=$(train_examples) || exit 1
    echo $(((n + $1 - 1) / $1))
}

# expect_resumed LOG NOTE FIRST LAST: the run of LOG printed the resume note
# NOTE (the whole line, after its two-space indent: where it continues from,
# with the epoch, step and global step) and then the epoch lines FIRST..LAST
# of LAST, each once: a run that trained from scratch, or again an epoch it
# had, fails here even where its bits are the same.
expect_resumed() {
    local log=$1 note=$2 first=$3 last=$4 got want=""
    grep -Fxq "  $note" "$log" ||
        fail "$log: no line '  $note' (its resume note: '$(grep -E '^  (resume|resumed)' "$log")')"
    got=$(grep -oE "^epoch +[0-9]+/$last " "$log" | awk '{print $2}' | tr '\n' ' ')
    for e in $(seq "$first" "$last"); do want+="$e/$last "; done
    [ "$got" = "$want" ] || fail "$log: epoch lines '$got', expected '$want'"
    echo "ok: $log: '$note', then epochs $first..$last"
}
