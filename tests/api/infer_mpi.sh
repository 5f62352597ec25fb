#!/bin/bash
# infer_mpi.sh: `ebm_mpi eval|sample OPTIONS` and the same options through
# the library (tests/api/infer_mpi) on NP ranks write the same files, bit for
# bit (tests/mpi/compare_ckpt.py), and the library's text is the command's
# output (the loglik progress lines' seconds aside); every rank gets eval's
# figures, and they agree. In the options, @OUT@ stands for the run's own
# directory (cmd/ or lib/).
#   usage: infer_mpi.sh WORK NP PROGRAM INFER_MPI PYTHON eval|sample OPTION...
set -euo pipefail
[ $# -ge 6 ] || { echo "usage: infer_mpi.sh WORK NP PROGRAM INFER_MPI PYTHON eval|sample OPTION..." >&2; exit 2; }
work=$1 np=$2 prog=$3 lib_prog=$4 py=$5 cmd=$6
shift 6
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work/cmd" "$work/lib" && cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
opts() { local o; for o in "$@"; do printf '%s\n' "${o//@OUT@/$dir/}"; done; }
dir=cmd; mapfile -t cmd_opts < <(opts "$@")
dir=lib; mapfile -t lib_opts < <(opts "$@")
"$here/../mpi/mpirun.sh" "$np" "$prog" "$cmd" "${cmd_opts[@]}" >command.txt 2>&1 \
    || { cat command.txt; fail "ebm_mpi $cmd"; }
"$here/../mpi/mpirun.sh" "$np" "$lib_prog" "$cmd" library.txt "${lib_opts[@]}" >ranks.txt 2>&1 \
    || { cat ranks.txt; fail "infer_mpi $cmd"; }
cat ranks.txt
mask() { sed -E -e 's/^(  loglik: .*), [0-9]+ s$/\1/' -e 's/(cmd|lib)\//DIR\//g' \
    -e 's/ [0-9]+ samples\/s per rank$/ R samples\/s per rank/' -e 's/; [0-9.]+ s\)$/; T s)/' "$1"; }
[ -s command.txt ] || fail "the command printed nothing"
diff <(mask command.txt) <(mask library.txt) || fail "the library's text differs from ebm_mpi $cmd's output"
if [ "$cmd" = eval ]; then
    [ "$(grep -c '^figures rank ' ranks.txt)" = "$np" ] || fail "not every rank reported its figures"
    [ "$(grep '^figures rank ' ranks.txt | sed 's/^figures rank [0-9]*://' | sort -u | wc -l)" = 1 ] \
        || fail "the ranks' figures differ"
fi
files=$(cd cmd && find . -name '*.h5' | sort)
[ -n "$files" ] || fail "the command wrote no file"
# shellcheck disable=SC2086
"$py" "$here/../mpi/compare_ckpt.py" --dirs cmd lib $files || fail "the library's files differ from the command's"
echo "PASS: ebm_mpi $cmd and the library on $np ranks: the same files and output"
