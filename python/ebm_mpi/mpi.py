"""ebm_mpi.mpi: the library's communicator calls (ebm_mpi_mpi.h) for mpi4py.

    from mpi4py import MPI
    import ebm_mpi.mpi
    r = ebm_mpi.mpi.evaluate(MPI.COMM_WORLD, "checkpoints/best.h5", "data/digits.h5")
    print(r.error, r.ece, r.confusion)
    t = ebm_mpi.mpi.train(MPI.COMM_WORLD, hidden=16, epochs=1, out="run", overwrite=True,
                          progress=lambda p: print(p.text, end=""))
    print(t.test_error, t.best)

Collective: every rank of the communicator calls with the same arguments.
The caller starts MPI (importing mpi4py.MPI does); the library works on its
own duplicate of the communicator, passed as its Fortran handle
(comm.py2f()). A failure on any rank raises ebm_mpi.Error on every rank, with
the lowest failing rank's message. Importing this module does not import
mpi4py or start MPI. The library must be built with the MPI mpi4py uses
(Debian's python3-mpi4py: Open MPI); evaluate() and train() check that
first.
"""
import ctypes
import dataclasses
import os

import numpy as np

from . import Error, Model, _call, _path_arg, library

__all__ = ["EvalResult", "evaluate", "TrainProgress", "TrainResult", "train", "request_stop"]


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


def _bind(lib, name, restype, argtypes):
    """lib's C function `name` with its types set, bound once and kept on lib
    (a library without it: Error naming the library and its version)."""
    fn = getattr(lib, name, None)
    if fn is None:
        fn = getattr(lib.cdll, name, None)
        if fn is None:
            raise Error(f"{lib.path} has no {name} (libebm_mpi {lib.version})")
        fn.restype, fn.argtypes = restype, argtypes
        setattr(lib, name, fn)
    return fn


def _bound(lib):
    return _bind(lib, "ebm_eval_mpi_f", ctypes.c_int,
                 [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                  ctypes.POINTER(_EvalResultStruct), ctypes.c_size_t, ctypes.c_void_p,
                  ctypes.c_size_t])


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


# ---- training (ebm_train_mpi_f) ----------------------------------------------

_PATH_MAX = 1040  # EBM_MPI_PATH_MAX


class _ProgressStruct(ctypes.Structure):
    """struct ebm_train_progress of include/ebm_mpi/ebm_mpi_mpi.h."""
    _fields_ = [("size", ctypes.c_size_t)] + [
        (name, ctypes.c_int) for name in ("event", "epoch", "epochs", "step", "steps",
                                          "rollbacks", "best")] + [
        (name, ctypes.c_double) for name in ("loss", "train_error", "val_loss", "val_error",
                                             "val_generative", "energy_data", "energy_sample",
                                             "seconds", "examples_per_second", "comm_share")] + [
        ("text", ctypes.c_char_p)]


class _TrainResultStruct(ctypes.Structure):
    """struct ebm_train_result of include/ebm_mpi/ebm_mpi_mpi.h."""
    _fields_ = [("stopped", ctypes.c_int), ("epochs_done", ctypes.c_int),
                ("steps", ctypes.c_int64), ("skipped_steps", ctypes.c_int64),
                ("rollbacks", ctypes.c_int), ("best_epoch", ctypes.c_int),
                ("best_val_error", ctypes.c_double), ("best_val_loss", ctypes.c_double),
                ("test_n", ctypes.c_int64), ("test_error", ctypes.c_double),
                ("test_loss", ctypes.c_double), ("seconds", ctypes.c_double),
                ("best", ctypes.c_char * _PATH_MAX), ("last", ctypes.c_char * _PATH_MAX),
                ("metrics", ctypes.c_char * _PATH_MAX)]


_PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.POINTER(_ProgressStruct), ctypes.c_void_p)
_EVENTS = ("setup", "step", "rollback", "epoch", "stopped", "times", "done")


@dataclasses.dataclass(frozen=True)
class TrainProgress:
    """One event of a training (ebm_train_progress), on rank 0: event is one
    of "setup", "step", "rollback", "epoch", "stopped", "times", "done";
    text is what `ebm_mpi train` prints for it (whole lines); the figures
    not of the event's kind are 0 (errors are fractions)."""
    event: str
    epoch: int
    epochs: int
    step: int
    steps: int
    rollbacks: int
    best: bool
    loss: float
    train_error: float
    val_loss: float
    val_error: float
    val_generative: float
    energy_data: float
    energy_sample: float
    seconds: float
    examples_per_second: float
    comm_share: float
    text: str


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """How a training ended (ebm_train_result), on every rank: stopped on
    request (call again with resume="auto"), epochs done, steps, best.h5's
    epoch and validation figures, its test figures (test_n 0: not
    evaluated), seconds, and the paths of best.h5, last.h5, metrics.h5."""
    stopped: bool
    epochs_done: int
    steps: int
    skipped_steps: int
    rollbacks: int
    best_epoch: int
    best_val_error: float
    best_val_loss: float
    test_n: int
    test_error: float
    test_loss: float
    seconds: float
    best: str
    last: str
    metrics: str


def _bound_train(lib):
    _bind(lib, "ebm_request_stop", None, [])
    return _bind(lib, "ebm_train_mpi_f", ctypes.c_int,
                 [ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p), _PROGRESS_FN,
                  ctypes.c_void_p, ctypes.POINTER(_TrainResultStruct), ctypes.c_size_t])


def train_options(options=None, **kwargs):
    """The command's option strings of a list and keyword arguments: a
    keyword is the option with '-' as '_' (batch_size=64: "--batch-size",
    "64"); True is a flag given ("--overwrite"), False or None one left out."""
    if isinstance(options, (str, bytes)):
        raise TypeError("options must be a list of strings (['--hidden', '16']), not one string")
    words = [os.fsdecode(w) if isinstance(w, (bytes, os.PathLike)) else str(w)
             for w in (options or [])]
    for key, value in kwargs.items():
        name = "--" + key.replace("_", "-")
        if value is True:
            words.append(name)
        elif value is False or value is None:
            continue
        else:
            words += [name, os.fsdecode(value) if isinstance(value, (bytes, os.PathLike))
                      else str(value)]
    return words


def train(comm, options=None, progress=None, **kwargs):
    """Collective: trains as `mpirun -np P ebm_mpi train OPTIONS` on the
    ranks of comm (the same files, bit for bit, at the same number of
    ranks). options: the command's option strings (["--hidden", "16"]),
    and/or keywords (hidden=16, out="run", overwrite=True; see
    train_options); `ebm_mpi train --help` lists them. progress (optional):
    called on rank 0 with a TrainProgress for each event; an exception it
    raises asks the training to stop (every rank stops after the step) and
    is raised again on rank 0 when train returns. Returns a TrainResult on
    every rank; a failure raises ebm_mpi.Error on every rank."""
    lib = library()
    fn = _bound_train(lib)
    fint = _fortran_handle(lib, comm)
    words = train_options(options, **kwargs)
    argv = (ctypes.c_char_p * max(len(words), 1))(*[os.fsencode(w) for w in words])
    raised = []

    def tell(p, _user):
        if raised:
            return
        try:
            s = p.contents
            figures = {name: getattr(s, name) for name, _ in _ProgressStruct._fields_
                       if name not in ("size", "event", "text", "best")}
            progress(TrainProgress(event=_EVENTS[s.event] if 0 <= s.event < len(_EVENTS)
                                   else str(s.event), best=bool(s.best),
                                   text=s.text.decode(errors="replace"), **figures))
        except BaseException as e:  # noqa: B902 (raised again after the call)
            raised.append(e)
            lib.ebm_request_stop()

    callback = _PROGRESS_FN(tell) if progress is not None else _PROGRESS_FN()
    out = _TrainResultStruct()
    _call(fn, fint, len(words), argv, callback, None, ctypes.byref(out), ctypes.sizeof(out))
    if raised:
        raise raised[0]
    figures = {name: getattr(out, name) for name, _ in _TrainResultStruct._fields_}
    for name in ("best", "last", "metrics"):
        figures[name] = os.fsdecode(figures[name])
    figures["stopped"] = bool(figures["stopped"])
    return TrainResult(**figures)


def request_stop():
    """Asks the training running in this process to stop after its current
    step (ebm_request_stop: async-signal-safe in C; from Python, e.g. a
    signal handler or another thread)."""
    lib = library()
    _bound_train(lib)
    lib.ebm_request_stop()
