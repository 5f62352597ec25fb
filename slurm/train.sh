#!/bin/bash
#SBATCH --job-name=ebm_mpi
#SBATCH --ntasks=8
#SBATCH --cpus-per-task=1
#SBATCH --time=02:00:00
#SBATCH --output=%x-%j.out
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=B:USR1@120
#
# ebm_mpi training as a SLURM batch job that survives time limits and
# preemption:
#
#   sbatch slurm/train.sh [ebm_mpi train options]       e.g.
#   sbatch --ntasks=16 --time=8:00:00 slurm/train.sh --epochs 200 --seed 3
#
# sbatch options on the command line override the #SBATCH lines above; the
# arguments after the script name go to `ebm_mpi train`, always with
# `--resume auto`, so the same command starts a run or continues it.
#
# What happens: the script launches `mpirun ebm_mpi train ...` in the
# background and waits. `--signal=B:USR1@120` makes SLURM send SIGUSR1 to this
# batch shell about 120 s (SLURM may send it up to 60 s earlier) before the
# time limit; the shell forwards it to mpirun, which forwards it to every
# rank. The trainer finishes its current step, all ranks agree, write
# <out>/last.h5 and exit with status 75 ("stopped, resumable"). The script
# then runs `scontrol requeue $SLURM_JOB_ID`: the job goes back to the queue
# under the same id, appends to the same log (%x-%j.out, --open-mode=append)
# and continues from last.h5 where it stopped, ending with the same model as
# an uninterrupted run on the same number of tasks. The same path handles a
# manual `scancel --batch --signal=USR1 JOBID` ("checkpoint and requeue now")
# and preemption where the site sends the user signal first
# (SlurmctldParameters=preempt_send_user_signal with a GraceTime).
# SIGTERM (scancel, the time limit reached without the warning, preemption
# without the user signal) is forwarded too, but SLURM sends it to every
# process of the job at once and mpirun then ends the ranks, so the run stops
# without a new checkpoint: what is left is the last complete last.h5 (end of
# an epoch, or every --checkpoint-every minutes). The script never requeues
# after SIGTERM: a requeue from the job itself would undo a scancel.
# Resubmitting the same command (same job name, see EBM_OUT) resumes the run.
#
# Environment variables (sbatch passes the submitting shell's environment on
# by default, so `EBM_OUT=runs/a sbatch slurm/train.sh ...` works):
#   EBM_MPI            the ebm_mpi binary. Default: `ebm_mpi` from PATH, else
#                      build/bin/ebm_mpi under the directory sbatch was run in.
#   EBM_OUT            checkpoint directory, passed as --out unless the
#                      arguments have their own --out. Default:
#                      runs/<job name> under the submit directory, so a run
#                      is named by its job name: resubmitting with the same
#                      --job-name continues it, a new name starts a new run.
#   EBM_LAUNCHER       mpirun (default: the launcher the binary's build
#                      recorded, Open MPI's mpirun or MPICH's mpiexec.mpich,
#                      through scripts/lib/launcher.sh) or srun (see below).
#   EBM_LAUNCHER_ENV   that build's launcher.env, when the binary is not in
#                      a build tree (default: <build>/launcher.env beside
#                      <build>/bin/ebm_mpi, else the MPI its library names).
#   EBM_MPIRUN_ARGS    extra launcher options, split on spaces (e.g.
#                      "--mca btl self,tcp").
#   EBM_REQUEUE        1 (default): requeue the job when the trainer stopped
#                      on the warning; 0: just exit with status 75.
#
# Exit status of the job: 0 training finished (or stopped and requeued: the
# job then shows up again as pending); 75 stopped with last.h5 written but
# not requeued (EBM_REQUEUE=0, the job cannot be requeued, or the stop came
# from SIGTERM): resubmit to continue; 1 the trainer reported an error (one
# `ebm_mpi: error:` line in the log) or mpirun was killed: SLURM's SIGTERM at
# the time limit or on scancel reaches every process of the job at once and
# mpirun ends the ranks, so the last complete last.h5 (end of an epoch, or
# --checkpoint-every) is what a resubmission continues from; 2 bad use of
# this script; anything else comes from mpirun.
#
# Launcher. Open MPI's mpirun started inside the allocation reads its slots
# from SLURM (SLURM_TASKS_PER_NODE) and starts its daemons on other nodes
# itself, so it needs nothing from SLURM's MPI plugins. The alternative,
# `srun --mpi=pmix ebm_mpi ...` (EBM_LAUNCHER=srun), was checked on Debian 12
# (slurm-wlm 22.05.8, openmpi 4.1.4): it works, because Debian builds Open
# MPI --with-pmix (external libpmix2, 4.2) and --with-slurm, and slurm-wlm
# ships mpi/pmix_v4 for that same libpmix. Two catches: SLURM's pmix plugin
# dlopens the unversioned libpmix.so, which only libpmix-dev installs (without
# it: "srun: error: MPI: Cannot create context for mpi/pmix"); and Debian's
# Open MPI is built without --with-pmi, so `srun --mpi=pmi2` and plain `srun`
# (MpiDefault=none) fail in MPI_Init ("OMPI was not built with SLURM's PMI
# support"). `srun --mpi=list` shows what a cluster offers; sites that build
# their own Open MPI may only support one of the two launchers.
# MPICH (a binary built with it): EBM_LAUNCHER=mpirun starts mpiexec.mpich
# (Hydra, built --with-slurm: it reads the allocation and starts its proxies
# with srun); it forwards SIGUSR1 and SIGTERM to every rank and waits, but
# may exit 0 where every rank exited 75 (measured, docs/install.md): after a
# forwarded signal the script takes 0 as 75. EBM_LAUNCHER=srun with MPICH is
# refused (Debian's MPICH speaks Hydra's PMI, not SLURM's; untested).
# Tested (tests/slurm, tests/cluster): Open MPI with mpirun and with
# srun --mpi=pmix; MPICH with mpiexec.mpich (tests/slurm run on an MPICH
# build by hand, see docs/install.md).
#
# Oversubscription. When this node has fewer cores than tasks x cpus-per-task
# (a small node, or a test cluster that declares more CPUs than it has),
# ranks that busy-poll for messages starve each other: measured here, 8 ranks
# on 2 cores took 95 s for what takes 3 s with yielding. The script then adds
# `--bind-to none --mca mpi_yield_when_idle 1` (mpirun, through the launcher
# layer) or sets OMPI_MCA_mpi_yield_when_idle=1 (srun). MPICH 4.0's ch4 has
# no such setting: keep its tasks within the cores. With --cpus-per-task > 1 the trainer
# gets `--threads <cpus per task>` (BLAS threads per rank) unless the
# arguments set --threads, and ranks are not bound to single cores.

set -u

log() { echo "train.sh: $*"; }
die() { echo "train.sh: error: $*" >&2; exit 2; }

if [ -z "${SLURM_JOB_ID:-}" ]; then
    die "not inside a SLURM job: submit with 'sbatch $0 [ebm_mpi train options]'"
fi
submit_dir=${SLURM_SUBMIT_DIR:-$PWD}

# --- signals: forwarded to the launcher once it runs (traps set first so
# that a warning during the setup below is not lost)
child=
got_usr1=
got_term=
pending=
# shellcheck disable=SC2317  # run from the traps below
forward() {
    local sig=$1
    if [ "$sig" = USR1 ]; then got_usr1=1; else got_term=1; fi
    if [ -n "$child" ]; then
        log "SIG$sig at $(date '+%T'): forwarding to $launcher (pid $child)"
        kill -s "$sig" "$child" 2>/dev/null
    else
        pending=$sig
    fi
}
trap 'forward USR1' USR1
trap 'forward TERM' TERM

# --- the binary
if [ -n "${EBM_MPI:-}" ]; then
    bin=$EBM_MPI
elif command -v ebm_mpi >/dev/null 2>&1; then
    bin=$(command -v ebm_mpi)
else
    bin=$submit_dir/build/bin/ebm_mpi
fi
[ -x "$bin" ] || die "ebm_mpi binary not found or not executable: $bin (set EBM_MPI)"

# --- the arguments: ours first, the user's after
user_out=
user_threads=
for arg in "$@"; do
    case "$arg" in
        --out | --out=*) user_out=1 ;;
        --threads | --threads=*) user_threads=1 ;;
        --resume | --resume=*)
            die "do not pass --resume: the script always uses --resume auto (copy a checkpoint to <out>/last.h5 to start from it)" ;;
    esac
done
args=(train --resume auto)
if [ -z "$user_out" ]; then
    out=${EBM_OUT:-$submit_dir/runs/${SLURM_JOB_NAME:-ebm_mpi}}
    args+=(--out "$out")
fi
cpt=${SLURM_CPUS_PER_TASK:-1}
if [ "$cpt" -gt 1 ] 2>/dev/null && [ -z "$user_threads" ]; then
    args+=(--threads "$cpt")
fi
args+=("$@")

# --- the launcher
ntasks=${SLURM_NTASKS:-1}
# Tasks on this node: the first number of SLURM_TASKS_PER_NODE ("8", "4(x2)", "3,2").
node_tasks=${SLURM_TASKS_PER_NODE:-$ntasks}
node_tasks=${node_tasks%%[^0-9]*}
[ -n "$node_tasks" ] || node_tasks=$ntasks
cores=$(nproc 2>/dev/null || echo 1)
oversubscribed=
if [ $((node_tasks * cpt)) -gt "$cores" ]; then
    oversubscribed=1
fi

# The launcher layer (scripts/lib/launcher.sh): the MPI the binary was built
# with (its build tree's launcher.env, or its library), never whatever
# mpirun is first on PATH.
# SLURM runs a copy of this script from its spool directory: launcher.sh is
# looked for under the submit directory, then in the source tree the
# binary's build recorded (<build>/launcher.env: EBM_SOURCE_DIR).
lib=
for d in "$submit_dir" \
         "$(sed -n "s/^EBM_SOURCE_DIR='\(.*\)'$/\1/p" "$(dirname "$(dirname "$bin")")/launcher.env" 2>/dev/null)" \
         "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." 2>/dev/null && pwd)"; do
    if [ -n "$d" ] && [ -r "$d/scripts/lib/launcher.sh" ]; then lib=$d/scripts/lib/launcher.sh; break; fi
done
[ -n "$lib" ] || die "scripts/lib/launcher.sh not found (submit from the source tree)"
# shellcheck source=SCRIPTDIR/../scripts/lib/launcher.sh
. "$lib"
ebm_launcher_for "$bin" || die "no launcher for $bin (set EBM_LAUNCHER_ENV=<build>/launcher.env)"

read -r -a extra <<<"${EBM_MPIRUN_ARGS:-}"
launcher=${EBM_LAUNCHER:-mpirun}
case "$EBM_MPI_VENDOR:$launcher" in
    openmpi:mpirun | mpich:mpirun)
        flags=()
        [ -n "$oversubscribed" ] && flags+=(--yield)
        { [ -n "$oversubscribed" ] || [ "$cpt" -gt 1 ]; } && flags+=(--no-bind)
        ebm_launch_argv "${flags[@]}" "$ntasks"
        cmd=("${EBM_ARGV[@]}")
        launcher=$(basename "$EBM_MPIEXEC")
        ;;
    openmpi:srun)
        # Open MPI's ebm_launch_argv exports the root variables; srun needs them too.
        [ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
        cmd=(srun --mpi=pmix)
        [ -n "$oversubscribed" ] && export OMPI_MCA_mpi_yield_when_idle=1
        ;;
    mpich:srun)
        die "EBM_LAUNCHER=srun with MPICH is not supported: Debian's MPICH uses Hydra's PMI, not SLURM's (srun --mpi=pmi2 is untested here); use EBM_LAUNCHER=mpirun (mpiexec.mpich inside the allocation)" ;;
    other:mpirun)
        ebm_launch_argv "$ntasks"
        cmd=("${EBM_ARGV[@]}")
        launcher=$(basename "$EBM_MPIEXEC")
        ;;
    other:srun)
        die "EBM_LAUNCHER=srun needs Open MPI built with PMIx (this binary's MPI: $EBM_MPI_VENDOR)" ;;
    *) die "EBM_LAUNCHER must be mpirun (the build's launcher) or srun, not '$launcher'" ;;
esac
cmd+=("${extra[@]}" "$bin" "${args[@]}")

log "job ${SLURM_JOB_ID} (${SLURM_JOB_NAME:-}) start $((${SLURM_RESTART_COUNT:-0} + 1))" \
    "on ${SLURM_JOB_NODELIST:-?} at $(date '+%F %T'): $ntasks tasks x $cpt cpus," \
    "$cores cores here${oversubscribed:+ (oversubscribed)}"
log "${cmd[*]}"


# --- run in the background, wait, act on the exit status
status=
if [ -z "$pending" ]; then
    "${cmd[@]}" &
    child=$!
    # A signal that came while the launch was under way.
    [ -n "$pending" ] && kill -s "$pending" "$child" 2>/dev/null
    # A trapped signal interrupts `wait`; wait again until the child is gone
    # (`kill -0` still succeeds on a child that exited but was not reaped).
    while :; do
        wait "$child"
        status=$?
        kill -0 "$child" 2>/dev/null || break
    done
else
    # The warning came before anything started: no time for a run.
    log "SIG$pending before the launch: not starting"
    status=75
fi
trap - USR1 TERM

# MPICH's Hydra (4.0.2, measured) forwards SIGUSR1 and SIGTERM to every rank
# and every rank exits 75, but it reports 0 in some runs (its proxy loses the
# ranks' statuses): after a forwarded signal 0 is taken as 75. If the run had
# in fact finished, the requeued job's `--resume auto` reports it finished.
if [ "$status" = 0 ] && [ "$EBM_MPI_VENDOR" = mpich ] && { [ -n "$got_usr1" ] || [ -n "$got_term" ]; }; then
    log "$launcher exited 0 after a forwarded signal (Hydra may report 0 for ranks that stopped with 75): taken as 75"
    status=75
fi

case "$status" in
    0)
        log "training finished at $(date '+%T')"
        exit 0 ;;
    75) ;;
    *)
        # mpirun answers SIGTERM by ending its ranks (SIGKILL 1 s after
        # forwarding it) and exits 1 whatever they did, so after a SIGTERM the
        # status cannot tell a stop from an error: last.h5 (always complete,
        # written atomically) says whether there is something to resume.
        if [ -n "$got_term" ] && [ "$EBM_MPI_VENDOR:${EBM_LAUNCHER:-mpirun}" = openmpi:mpirun ] && [ -f "$out/last.h5" ]; then
            log "$launcher exited with status $status after SIGTERM: $out/last.h5 is there to resume"
        else
            log "$launcher exited with status $status at $(date '+%T')"
            exit "$status"
        fi ;;
esac

# Status 75: stopped on request, last.h5 written.
if [ -n "$got_term" ]; then
    log "stopped after SIGTERM (cancelled, preempted or out of time): not requeueing;" \
        "resubmit the same command to continue"
    exit 75
fi
if [ "${EBM_REQUEUE:-1}" = 0 ]; then
    log "stopped, resumable; EBM_REQUEUE=0: not requeueing"
    exit 75
fi
log "stopped, resumable${got_usr1:+ (after SIGUSR1)}: requeueing job $SLURM_JOB_ID at $(date '+%T')"
if scontrol requeue "$SLURM_JOB_ID"; then
    exit 0
fi
log "scontrol requeue failed (job not requeueable?): resubmit the same command to continue"
exit 75
