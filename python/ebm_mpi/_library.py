"""Finding libebm_mpi and declaring the C types of its calls (ctypes).

The library is looked for, in this order, and the first place that names
one is the only one tried (a library found there that fails to load or to
match is an error, not a reason to look further):
  1. the environment variable LIBEBM_MPI (a path to libebm_mpi.so);
  2. the library `cmake --install` put beside this package: the install
     writes _installed.py, holding its path relative to this folder;
  3. ctypes.util.find_library("ebm_mpi") (the dynamic linker's search path).
"""
import ctypes
import ctypes.util
import os
import threading

import numpy as np

ENV_VAR = "LIBEBM_MPI"
_F32 = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS,ALIGNED")
_I32 = np.ctypeslib.ndpointer(np.int32, flags="C_CONTIGUOUS,ALIGNED")
_size = ctypes.c_size_t
_int = ctypes.c_int
_str = ctypes.c_char_p
_ptr = ctypes.c_void_p


class InfoStruct(ctypes.Structure):
    """struct ebm_info of include/ebm_mpi/ebm_mpi.h, field for field."""
    _fields_ = [
        ("input_size", _int), ("n_classes", _int), ("hidden", _int),
        ("layer_sizes", _int * 5), ("n_params", _size),
        ("height", _int), ("width", _int),
        ("value_min", ctypes.c_double), ("value_max", ctypes.c_double),
        ("input_scale", ctypes.c_double), ("input_shift", ctypes.c_double),
        ("format_version", _int), ("epoch", _int), ("langevin_steps", _int),
        ("step_size", ctypes.c_double), ("noise", ctypes.c_double),
        ("step_decay", ctypes.c_double),
        ("clamp_chains", _int), ("chain_init", _int), ("n_chains", ctypes.c_int64),
        ("has_base", _int),
    ]


# name: (restype, argtypes), as the header declares them.
_PROTOTYPES = {
    "ebm_version": (_str, [ctypes.POINTER(_int)] * 3),
    "ebm_check_version": (_int, [_int, _int, _int]),
    "ebm_last_error": (_str, []),
    "ebm_last_error_trail": (_str, []),
    "ebm_status_name": (_str, [_int]),
    "ebm_model_load": (_int, [_str, ctypes.POINTER(_ptr)]),
    "ebm_model_free": (None, [_ptr]),
    "ebm_model_info": (_int, [_ptr, ctypes.POINTER(InfoStruct), _size]),
    "ebm_model_hyperparameters": (_int, [_ptr, _ptr, _size, ctypes.POINTER(_size)]),
    "ebm_model_logits": (_int, [_ptr, _F32, _size, _size, _F32, _size]),
    "ebm_model_energy": (_int, [_ptr, _F32, _size, _size, _F32, _size]),
    "ebm_model_predict": (_int, [_ptr, _F32, _size, _size, _I32, _F32, _size]),
    "ebm_data_read_split": (_int, [_str, _str, _ptr, _size, _ptr, _size,
                                   ctypes.POINTER(_size), ctypes.POINTER(_int)]),
    "ebm_sampler_create": (_int, [_ptr, ctypes.c_uint64, _int, _str, ctypes.POINTER(_ptr)]),
    "ebm_sampler_free": (None, [_ptr]),
    "ebm_sampler_draw": (_int, [_ptr, _size, _int, _int, _F32, _size]),
}


class Library:
    """The loaded libebm_mpi: its path, version and typed functions."""

    def __init__(self, path, how):
        self.path = path
        self.how = how
        self.cdll = ctypes.CDLL(path)
        missing = [n for n in _PROTOTYPES if not hasattr(self.cdll, n)]
        if missing:
            raise OSError(f"{path} ({how}) is not libebm_mpi: it lacks {', '.join(missing)}")
        for name, (restype, argtypes) in _PROTOTYPES.items():
            fn = getattr(self.cdll, name)
            fn.restype, fn.argtypes = restype, argtypes
            setattr(self, name, fn)
        major, minor, patch = _int(), _int(), _int()
        self.version = self.ebm_version(major, minor, patch).decode()
        self.version_info = (major.value, minor.value, patch.value)


def _installed(name):
    """A file `cmake --install` recorded beside this package (LIBRARY: the
    library, DATA: the shipped data), or None when not installed."""
    try:
        from . import _installed as recorded
    except ImportError:
        return None
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, getattr(recorded, name)))


def installed_data():
    """The data file installed with the package (share/ebm_mpi/digits.h5), or None."""
    path = _installed("DATA")
    return path if path and os.path.exists(path) else None


def locate():
    """(path, how it was found) of the library to load; OSError when none."""
    env = os.environ.get(ENV_VAR)
    if env:
        return env, f"${ENV_VAR}"
    installed = _installed("LIBRARY")
    if installed:
        return installed, "installed beside the package"
    found = ctypes.util.find_library("ebm_mpi")
    if found:
        return found, "ctypes.util.find_library"
    raise OSError(f"libebm_mpi not found: ${ENV_VAR} is not set, the package was not "
                  "installed by `cmake --install`, and the dynamic linker's path has no "
                  "libebm_mpi.so (set LIBEBM_MPI to its path)")


_lock = threading.Lock()
_loaded = None


def load(check):
    """The library, loaded once; check(lib) vets it (the version) first."""
    global _loaded
    with _lock:
        if _loaded is None:
            path, how = locate()
            lib = Library(path, how)
            check(lib)
            _loaded = lib
        return _loaded
