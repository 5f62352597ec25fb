"""ebm_mpi.mpi: the library's communicator calls (ebm_mpi_mpi.h) for mpi4py.

    from mpi4py import MPI
    import ebm_mpi.mpi
    r = ebm_mpi.mpi.evaluate(MPI.COMM_WORLD, "checkpoints/best.h5", "data/digits.h5")
    print(r.error, r.ece, r.confusion)

Collective: every rank of the communicator calls with the same arguments.
The caller starts MPI (importing mpi4py.MPI does); the library works on its
own duplicate of the communicator, passed as its Fortran handle
(comm.py2f()). A failure on any rank raises ebm_mpi.Error on every rank, with
the lowest failing rank's message. Importing this module does not import
mpi4py or start MPI. The library must be built with the MPI mpi4py uses
(Debian's python3-mpi4py: Open MPI); evaluate() checks that first.
Training is not offered yet: the library has no training call (docs/api.md).
"""
import ctypes
import dataclasses

import numpy as np

from . import Error, Model, _call, _path_arg, library

__all__ = ["EvalResult", "evaluate"]


class _EvalResultStruct(ctypes.Structure):
    """struct ebm_eval_result of include/ebm_mpi/ebm_mpi_mpi.h."""
    _fields_ = [("n", ctypes.c_int64)] + [
        (name, ctypes.c_double) for name in ("loss", "cross_entropy", "generative", "error",
                                             "ece", "energy_data", "energy_sample")]


@dataclasses.dataclass(frozen=True)
class EvalResult:
    """The figures `ebm_mpi eval` prints, on every rank: examples evaluated,
    mean loss, cross-entropy and generative term, error (fraction), expected
    calibration error, mean energies of the data and of fresh samples, and
    the confusion matrix (int64 [K, K], row = true class; None if not asked)."""
    n: int
    loss: float
    cross_entropy: float
    generative: float
    error: float
    ece: float
    energy_data: float
    energy_sample: float
    confusion: object


def _bound(lib):
    fn = getattr(lib, "ebm_eval_mpi_f", None)
    if fn is None:
        fn = getattr(lib.cdll, "ebm_eval_mpi_f", None)
        if fn is None:
            raise Error(f"{lib.path} has no ebm_eval_mpi_f (libebm_mpi {lib.version})")
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                       ctypes.POINTER(_EvalResultStruct), ctypes.c_size_t, ctypes.c_void_p,
                       ctypes.c_size_t]
        lib.ebm_eval_mpi_f = fn
    return fn


def mpi_library_version(lib):
    """The MPI_Get_library_version of the MPI the library is linked with
    (callable before MPI_Init)."""
    buf = ctypes.create_string_buffer(8192)  # MPICH's MPI_MAX_LIBRARY_VERSION_STRING
    length = ctypes.c_int()
    lib.cdll.MPI_Get_library_version(buf, ctypes.byref(length))
    return buf.value.decode(errors="replace")


def _first_line(version):
    """An MPI library version's first line (mpi4py keeps the C string's NUL)."""
    return (version.replace("\0", "").strip().splitlines() or [""])[0].strip()


def _fortran_handle(lib, comm):
    """comm.py2f() of an mpi4py communicator, after checking that mpi4py's
    MPI is the library's (a handle of one MPI means nothing to another)."""
    py2f = getattr(comm, "py2f", None)
    if py2f is None:
        raise TypeError(f"comm must be an mpi4py communicator, got {type(comm).__name__}")
    if type(comm).__module__.startswith("mpi4py"):
        from mpi4py import MPI
        theirs, ours = _first_line(MPI.Get_library_version()), _first_line(mpi_library_version(lib))
        if theirs != ours:
            raise Error(f"{lib.path} is built with {ours!r}, mpi4py uses {theirs!r}: one "
                        "process cannot mix two MPIs")
    return int(py2f())


def evaluate(comm, checkpoint, data_path, split="test", confusion=True):
    """Collective: evaluates `checkpoint` on `split` of data_path, each rank
    its contiguous shard, as `mpirun -np P ebm_mpi eval --ckpt checkpoint
    --data data_path --split split` on the same ranks; EvalResult on every
    rank. confusion=False skips the confusion matrix (and the serial read of
    the checkpoint that sizes it)."""
    lib = library()
    fn = _bound(lib)
    fint = _fortran_handle(lib, comm)
    ckpt = _path_arg(checkpoint, "checkpoint")
    data = _path_arg(data_path, "data_path")
    k = 0
    if confusion:
        try:
            with Model.load(checkpoint) as model:
                k = model.info.n_classes
        except Error:
            # Not here: the collective call fails on every rank with the
            # library's message (raising alone would leave the others in it).
            k = 0
    matrix = np.zeros((k, k), dtype=np.float64) if k else None
    out = _EvalResultStruct()
    _call(fn, fint, ckpt, data, str(split).encode(), ctypes.byref(out), ctypes.sizeof(out),
          None if matrix is None else matrix.ctypes.data, 0 if matrix is None else matrix.size)
    figures = {f: getattr(out, f) for f, _ in _EvalResultStruct._fields_}
    return EvalResult(**figures, confusion=None if matrix is None else
                      np.rint(matrix).astype(np.int64))
