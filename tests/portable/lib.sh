# shellcheck shell=bash
# lib.sh: the prologue the portable tests share, sourced by them.
#   portable_args SCRIPT "$@": checks the two arguments SOURCE_DIR WORK_DIR,
#   sets src (absolute) and work (emptied, absolute).
#   fail MESSAGE: says FAIL and exits 1.
fail() { echo "FAIL: $*"; exit 1; }

portable_args() {
    local script=$1
    shift
    if [ $# -ne 2 ]; then
        echo "usage: $script SOURCE_DIR WORK_DIR" >&2
        exit 2
    fi
    src=$(readlink -f "$1")
    work=$2
    rm -rf "$work" && mkdir -p "$work"
    work=$(readlink -f "$work")
}
