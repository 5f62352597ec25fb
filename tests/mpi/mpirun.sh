#!/bin/sh
# mpirun for the tests: oversubscribes (these machines have 2 cores), keeps
# BLAS at one thread, and allows running as root only when we are root (CI).
# usage: tests/mpi/mpirun.sh NP [mpirun options --] program args...
np=$1; shift
if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OPENBLAS_NUM_THREADS=1
# hwloc's OpenGL/X11 probe resolves "localhost" at every MPI start: 5 s each
# where that name is not in /etc/hosts (a minimal chroot). The tests need no
# GPU topology.
export HWLOC_COMPONENTS=${HWLOC_COMPONENTS:--gl}
exec mpirun --oversubscribe -np "$np" "$@"
