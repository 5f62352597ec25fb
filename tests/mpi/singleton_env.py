"""singleton_env.py: the environment for a test's one-process runs of the
binary without a launcher (tests/mpi/*.py import it).

Open MPI's singleton MPI_Init starts a private orted unless told it is
isolated; under load that start can fail ("Unable to start a daemon on the
local node", once in 744 runs of hardening.corrupt_checkpoint in a fresh-root
CI run at load 20), which is the launcher's failure, not the program's. An
isolated singleton starts none, and only the transports one process uses are
opened (0.2 s less per run). MPICH ignores these variables."""
import os

OPEN_MPI_SINGLETON = (("OMPI_MCA_ess_singleton_isolated", "1"), ("OMPI_MCA_pml", "ob1"),
                      ("OMPI_MCA_btl", "self"))


def singleton_env(base=None):
    """A copy of base (os.environ by default) with one BLAS thread and the
    isolated singleton; values the caller already set are kept."""
    env = dict(os.environ if base is None else base)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    for k, v in OPEN_MPI_SINGLETON:
        env.setdefault(k, v)
    return env
