# shellcheck shell=bash
# as_root.sh: what the tests that need root share, sourced by them
# (tests/mpi/disk_full.sh, error_reasons.sh, permission_denied.sh): the
# root check (skip, or fail under CI) and a private mount namespace for a
# tmpfs that must not show on the host.

# need_root WHAT: returns as root; otherwise exits 77 (skipped), or 1 under
# CI=true (where a skipped root-only test is a failure). WHAT says what
# needs root ("mounting its tmpfs").
need_root() {
    [ "$(id -u)" = 0 ] && return 0
    if [ "${CI:-}" = true ]; then
        echo "FAIL: CI=true but not root: $1 needs root"
        exit 1
    fi
    echo "SKIP: $1 needs root (CI runs as root)"
    exit 77
}

# in_private_mount_ns SCRIPT ARGS...: re-runs SCRIPT with ARGS in a new mount
# namespace, `unshare --mount --propagation private`, so that its mounts end
# with it and show nowhere else; returns in that copy (EBM_MOUNT_NS set).
# In a chroot (CI's fresh root) "/" is not a mount point and cannot be made
# private: a new namespace that keeps the propagation is as private when the
# mount holding the test's directory shares with no other (private_mount_ok).
in_private_mount_ns() {
    [ -n "${EBM_MOUNT_NS:-}" ] && return 0
    if unshare --mount --propagation private true 2>/dev/null; then
        EBM_MOUNT_NS=private exec unshare --mount --propagation private "$@"
    fi
    EBM_MOUNT_NS=unchanged exec unshare --mount --propagation unchanged "$@"
}

# private_mount_ok DIR: makes DIR; exits 1 when a mount made in it could show
# on the host (the namespace kept a shared propagation).
private_mount_ok() {
    mkdir -p "$1" || exit 1
    [ "${EBM_MOUNT_NS:-}" = unchanged ] || return 0
    local prop
    # `|| true`: in a chroot findmnt may find no mount holding DIR and fail,
    # which under a caller's `set -e` would end the test without a word
    # (CI's fresh root did); no mount found is no shared mount.
    prop=$(findmnt -n -o PROPAGATION -T "$1" || true)
    case $prop in
        *shared*) echo "FAIL: the mount holding $1 is shared ($prop): a tmpfs there would show on the host"
                  exit 1 ;;
    esac
}
