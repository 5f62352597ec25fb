# launcher.sh: the one launcher layer (bash, sourced by scripts/, slurm/ and
# tests/). It turns "NP ranks, maybe more than cores, as root or not, with
# these variables" into the command line of the launcher the build recorded
# in <build>/launcher.env (cmake/deps.cmake), never whatever mpiexec is first
# on PATH: an MPICH binary started by Open MPI's mpirun runs as NP separate
# one-rank jobs.
#
# It lives in scripts/lib, not tests/lib: the user-facing scripts
# (scripts/quickstart.sh, slurm/train.sh) must not depend on the test tree.
#
#   ebm_launcher_load [ENVFILE]
#       Sources ENVFILE, else $EBM_LAUNCHER_ENV, else $EBM_BUILD_DIR/launcher.env.
#       Sets EBM_MPIEXEC and EBM_MPI_VENDOR (openmpi, mpich, other).
#       Returns 1 with one message on stderr when there is none.
#   ebm_launcher_for BINARY
#       ebm_launcher_load for an ebm_mpi binary: $EBM_LAUNCHER_ENV if set, else
#       the launcher.env of the build tree holding it (<build>/bin/ebm_mpi),
#       else (an installed binary) the MPI its library names (ldd: libmpich
#       -> mpiexec.mpich or mpiexec, libmpi -> mpirun), with one line saying so.
#   ebm_launch_argv [--oversubscribe] [--yield] [--no-bind] [-x VAR]... NP
#       Fills the array EBM_ARGV with the launcher and its flags for NP ranks
#       (the program and its arguments follow). --oversubscribe: NP may exceed
#       the cores (Open MPI then yields by itself when it sees more ranks
#       than cores). --yield: ranks may outnumber
#       cores, waiting ranks should give the core away (Open MPI:
#       mpi_yield_when_idle; MPICH 4.0's ch4 has no such knob: nothing, see
#       docs/install.md). --no-bind: ranks are not bound to cores (Open MPI
#       binds by default; Hydra does not). -x VAR: VAR's current value is
#       passed to every rank. As
#       root, exports what the launcher needs to run as root (Open MPI:
#       OMPI_ALLOW_RUN_AS_ROOT*; MPICH's Hydra needs nothing).
#         Open MPI:      mpirun -np N [--oversubscribe] [--bind-to none]
#                        [--mca mpi_yield_when_idle 1] [-x VAR]...
#         MPICH (Hydra): mpiexec.mpich -n N [-genv VAR value]...
#                        (Hydra places any number of ranks on one node)
#   ebm_banner_check NP FILE
#       FILE is the program's stdout. If it holds the banner line
#       (`  MPI: <name>, <P> ranks; ...`), checks P = NP and that <name> is
#       the recorded MPI's; prints one `launcher: ...` line and returns 1 if
#       not. Returns 0 when there is no banner (nothing to check).

ebm_launcher_load() {
    local f=${1:-${EBM_LAUNCHER_ENV:-}}
    if [ -z "$f" ] && [ -n "${EBM_BUILD_DIR:-}" ]; then
        f=$EBM_BUILD_DIR/launcher.env
    fi
    if [ -z "$f" ] || [ ! -r "$f" ]; then
        echo "launcher: no launcher.env (set EBM_LAUNCHER_ENV=<build>/launcher.env or EBM_BUILD_DIR=<build>; CMake writes it)${f:+: $f unreadable}" >&2
        return 1
    fi
    # shellcheck disable=SC1090
    . "$f"
    if [ -z "${EBM_MPIEXEC:-}" ] || [ ! -x "$EBM_MPIEXEC" ]; then
        echo "launcher: $f names no executable launcher (EBM_MPIEXEC='${EBM_MPIEXEC:-}')" >&2
        return 1
    fi
    EBM_MPI_VENDOR=${EBM_MPI_VENDOR:-other}
    [ -n "$EBM_MPI_VENDOR" ] || EBM_MPI_VENDOR=other
    return 0
}

ebm_launcher_for() {
    local bin=$1 build lib
    if [ -z "${EBM_LAUNCHER_ENV:-}" ]; then
        build=$(dirname "$(dirname "$bin")")
        if [ -r "$build/launcher.env" ]; then
            EBM_LAUNCHER_ENV=$build/launcher.env
        else
            lib=$(ldd "$bin" 2>/dev/null | grep -Eo 'lib(mpich|mpi)\.so[^ ]*' | head -n1)
            case $lib in
                libmpich.so*)
                    EBM_MPI_VENDOR=mpich
                    EBM_MPIEXEC=$(command -v mpiexec.mpich || command -v mpiexec) ;;
                libmpi.so*)
                    EBM_MPI_VENDOR=openmpi
                    EBM_MPIEXEC=$(command -v mpirun) ;;
                *) echo "launcher: $bin is linked to no MPI library ldd knows, and no launcher.env beside it (set EBM_LAUNCHER_ENV)" >&2
                   return 1 ;;
            esac
            [ -n "$EBM_MPIEXEC" ] || { echo "launcher: no launcher for $bin's $EBM_MPI_VENDOR on PATH" >&2; return 1; }
            echo "launcher: no launcher.env beside $bin: $EBM_MPI_VENDOR from its library ($lib), $EBM_MPIEXEC" >&2
            return 0
        fi
    fi
    ebm_launcher_load "$EBM_LAUNCHER_ENV"
}

ebm_launch_argv() {
    local over=0 yield=0 nobind=0 np v
    local -a vars=()
    while [ $# -gt 0 ]; do
        case $1 in
            --oversubscribe) over=1; shift ;;
            --yield) yield=1; shift ;;
            --no-bind) nobind=1; shift ;;
            -x) vars+=("$2"); shift 2 ;;
            *) break ;;
        esac
    done
    np=$1
    case $EBM_MPI_VENDOR in
        openmpi)
            if [ "$(id -u)" = 0 ]; then
                export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
            fi
            EBM_ARGV=("$EBM_MPIEXEC" -np "$np")
            [ "$over" = 1 ] && EBM_ARGV+=(--oversubscribe)
            [ "$nobind" = 1 ] && EBM_ARGV+=(--bind-to none)
            [ "$yield" = 1 ] && EBM_ARGV+=(--mca mpi_yield_when_idle 1)
            for v in "${vars[@]}"; do EBM_ARGV+=(-x "$v"); done
            ;;
        mpich)
            EBM_ARGV=("$EBM_MPIEXEC" -n "$np")
            for v in "${vars[@]}"; do EBM_ARGV+=(-genv "$v" "${!v-}"); done
            ;;
        *)
            # Unknown MPI: what FindMPI recorded, variables through the
            # environment (most launchers pass it on a single node).
            EBM_ARGV=("$EBM_MPIEXEC" "${EBM_MPIEXEC_NUMPROC_FLAG:--n}" "$np")
            ;;
    esac
}

ebm_banner_check() {
    local np=$1 file=$2 line name p want
    line=$(grep -m1 -E '^  MPI: .*, [0-9]+ ranks; BLAS: ' "$file" 2>/dev/null) || return 0
    name=${line#  MPI: }
    p=${name%% ranks; BLAS: *}
    p=${p##*, }
    case $EBM_MPI_VENDOR in
        openmpi) want='^Open MPI' ;;
        mpich) want='^(MPICH|Intel\(R\) MPI|MVAPICH)' ;;
        *) want= ;;
    esac
    if [ "$p" != "$np" ]; then
        echo "launcher: the banner says $p ranks, $np were launched (a binary of another MPI than $EBM_MPIEXEC's?): $line" >&2
        return 1
    fi
    if [ -n "$want" ] && ! printf '%s\n' "$name" | grep -Eq "$want"; then
        echo "launcher: the banner names another MPI than the build's ($EBM_MPI_VENDOR, $EBM_MPIEXEC): $line" >&2
        return 1
    fi
    return 0
}
