"""ebm_mpi: a trained ebm_mpi model in Python, through libebm_mpi (ctypes).

    import ebm_mpi
    with ebm_mpi.Model.load("checkpoints/best.h5") as model:
        labels, probability = model.predict(images)   # images: [n, 64], data units
        energies = model.energy(images)
        samples = model.sample(16, label=3, seed=1)

Pure Python over the C library (docs/api.md): nothing is compiled at import.
The library is found through $LIBEBM_MPI, else beside the installed
package, else on the dynamic linker's path (ebm_mpi._library says how), and
loaded at the first call, which checks that its version serves this package.
Nothing here initialises MPI: a model is used in a serial program.

Images are numpy arrays [n, D] (D = model.info.input_size) of real numbers
in data units (0..16 for the shipped digits); they are converted to
contiguous float32, and a wrong shape raises ValueError before the library
is called. Failures of the library raise ebm_mpi.Error with its message.
A Model is read-only once loaded and may be used by several threads at once;
a Sampler belongs to one thread. Handles are freed by close() (or the `with`
block), else when the object is collected.
"""
import dataclasses
import os
import weakref
from typing import NamedTuple

import ctypes
import numpy as np

from . import _library

__version__ = "0.4.1"
__all__ = ["Error", "Info", "Model", "Prediction", "Sampler", "library", "read_split"]

_STARTS = {"fresh": 0, "chains": 1}  # ebm_start of ebm_mpi.h
_ERR_VERSION = 5  # EBM_ERR_VERSION of ebm_status


class Error(Exception):
    """A failure of libebm_mpi (or of finding and loading it).

    str(e) and e.message: the library's message (ebm_last_error), saying what
    failed and naming the file or argument; e.status: its status code (None
    when the library could not be loaded); e.status_name: "EBM_ERR_IO", ...;
    e.trail: where inside the library it was raised (ebm_last_error_trail).
    """

    def __init__(self, message, status=None, status_name=None, trail=""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.status_name = status_name
        self.trail = trail


def _check_version(lib, version=__version__):
    """The library must serve this package: ebm_check_version's rule (the
    same major version, a minor version at least the package's)."""
    major, minor, patch = (int(p) for p in version.split("."))
    if lib.ebm_check_version(major, minor, patch) != 0:
        raise Error(f"the ebm_mpi Python package {version} cannot use {lib.path} "
                    f"({lib.how}), version {lib.version}: "
                    f"{lib.ebm_last_error().decode(errors='replace')}", _ERR_VERSION,
                    lib.ebm_status_name(_ERR_VERSION).decode())


def library():
    """The loaded libebm_mpi (loading it if needed): .path, .how (where it was
    found), .version ("0.4.1"), .version_info. Raises Error if it cannot be
    found, loaded, or does not serve this package's version."""
    try:
        return _library.load(_check_version)
    except OSError as e:
        raise Error(f"cannot load libebm_mpi: {e}") from None


def _call(fn, *args):
    """Calls a status-returning function; a failure raises Error with the
    library's message (read at once, in this thread: it is per thread)."""
    status = fn(*args)
    if status != 0:
        lib = _library._loaded
        raise Error(lib.ebm_last_error().decode(errors="replace"), status,
                    lib.ebm_status_name(status).decode(),
                    lib.ebm_last_error_trail().decode(errors="replace"))


def _path_arg(path, what):
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{what} must be a path (str, bytes or os.PathLike), got "
                        f"{type(path).__name__}")
    return os.fsencode(path)


def _count(value, what, lo=0):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {type(value).__name__}")
    if value < lo:
        raise ValueError(f"{what} must be at least {lo}, got {value}")
    return int(value)


@dataclasses.dataclass(frozen=True)
class Info:
    """What a model is and how it was trained (ebm_model_info, and the run
    record's hyperparameters as {"hidden": "32", ...}, text as recorded)."""
    input_size: int
    n_classes: int
    hidden: int
    layer_sizes: tuple
    n_params: int
    height: int
    width: int
    value_min: float
    value_max: float
    input_scale: float
    input_shift: float
    format_version: int
    epoch: int
    langevin_steps: int
    step_size: float
    noise: float
    step_decay: float
    clamp_chains: bool
    chain_init: int
    n_chains: int
    has_base: bool  # the energy includes a base density (format 6, --base pixels)
    hyperparameters: dict


class Prediction(NamedTuple):
    """Model.predict's result: the class of each image (argmax f(x), int32)
    and its softmax probability (float32)."""
    label: np.ndarray
    probability: np.ndarray


class Model:
    """A trained model loaded from a checkpoint (best.h5 or last.h5, any
    format version the program reads). Model.load(path); close() or a `with`
    block frees it (and any samplers still open on it)."""

    def __init__(self, *args, **kwargs):
        raise TypeError("use ebm_mpi.Model.load(path)")

    @classmethod
    def load(cls, path):
        lib = library()
        raw = _path_arg(path, "path")
        handle = ctypes.c_void_p()
        _call(lib.ebm_model_load, raw, ctypes.byref(handle))
        self = object.__new__(cls)
        self._lib, self._handle, self.path = lib, handle, os.fsdecode(raw)
        self._samplers = weakref.WeakSet()
        try:
            self.info = self._read_info()
        except BaseException:
            self.close()
            raise
        return self

    def _read_info(self):
        lib, s = self._lib, _library.InfoStruct()
        _call(lib.ebm_model_info, self._handle, ctypes.byref(s), ctypes.sizeof(s))
        needed = ctypes.c_size_t()
        lib.ebm_model_hyperparameters(self._handle, None, 0, ctypes.byref(needed))
        buf = ctypes.create_string_buffer(needed.value)
        _call(lib.ebm_model_hyperparameters, self._handle, buf, needed.value, None)
        hyper = {}
        for line in buf.value.decode().splitlines():
            name, _, value = line.partition(" ")
            hyper[name.lstrip("-")] = value
        fields = {f.name: getattr(s, f.name) for f in dataclasses.fields(Info)
                  if f.name not in ("layer_sizes", "hyperparameters")}
        fields.update(layer_sizes=tuple(s.layer_sizes), clamp_chains=bool(s.clamp_chains),
                      has_base=bool(s.has_base), hyperparameters=hyper)
        return Info(**fields)

    # ---- lifetime ----
    @property
    def closed(self):
        return self._handle is None

    def close(self):
        """Frees the model (and first every sampler still open on it). Calls
        on it then raise ValueError; closing again does nothing. Do not close
        a model while another thread is calling it."""
        handle = getattr(self, "_handle", None)
        if handle is None:
            return
        for sampler in list(self._samplers):
            sampler.close()
        self._handle = None
        self._lib.ebm_model_free(handle)

    def __enter__(self):
        self._live()
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else (
            f"{self.info.input_size}-{self.info.hidden}x3-{self.info.n_classes}")
        return f"<ebm_mpi.Model {self.path!r} {state}>"

    def _live(self):
        if self._handle is None:
            raise ValueError(f"model {self.path!r} is closed")
        return self._handle

    # ---- the network ----
    def _images(self, x):
        """x as contiguous float32 [n, D]; TypeError for a dtype that is not
        real numbers, ValueError for another shape (the C call is not made)."""
        d = self.info.input_size
        a = np.asarray(x)
        if a.dtype.kind not in "fiu":
            raise TypeError(f"images must be real numbers (a float or integer array), "
                            f"got dtype {a.dtype}")
        if a.ndim != 2 or a.shape[1] != d:
            raise ValueError(f"images must have shape [n, {d}] (this model's input size), "
                             f"got {list(a.shape)}")
        return np.ascontiguousarray(a, dtype=np.float32)

    def logits(self, x):
        """f(x): float32 [n, n_classes] for images x [n, D] in data units."""
        handle, x = self._live(), self._images(x)
        n, k = len(x), self.info.n_classes
        out = np.empty((n, k), dtype=np.float32)
        if n:
            _call(self._lib.ebm_model_logits, handle, x, n, x.size, out, out.size)
        return out

    def energy(self, x):
        """E(x) = -logsumexp f(x), plus the base density's energy when the
        model has one (info.has_base): float32 [n]."""
        handle, x = self._live(), self._images(x)
        out = np.empty(len(x), dtype=np.float32)
        if len(x):
            _call(self._lib.ebm_model_energy, handle, x, len(x), x.size, out, out.size)
        return out

    def predict(self, x):
        """Prediction(label int32 [n], probability float32 [n]): the class
        of each image (the first of equal logits) and its softmax probability."""
        handle, x = self._live(), self._images(x)
        n = len(x)
        label, prob = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.float32)
        if n:
            _call(self._lib.ebm_model_predict, handle, x, n, x.size, label, prob, n)
        return Prediction(label, prob)

    # ---- sampling ----
    def sampler(self, seed=0, start="fresh", data_path=None):
        """A Sampler with its own random stream of `seed` (0 to 2^64-1).
        start "fresh": new chains for every draw, started as the model was
        trained (`ebm_mpi sample`); "chains": the checkpoint's persistent
        chains, continued, each draw taking the next ones
        (`sample --from-chains`). data_path: the data file the model was trained
        on, needed when fresh chains start from its Gaussians
        (info.chain_init == 1); default: the data the package was installed
        with, if any."""
        return Sampler(self, seed, start, data_path)

    def sample(self, n, steps=None, label=None, seed=0, start="fresh", data_path=None):
        """n samples, float32 [n, D] in data units, after `steps` Langevin
        steps (None: the model's own); label None: unconditional, else of that
        class. One draw of a new sampler (see sampler()): the same seed gives
        the same samples, as `ebm_mpi sample --seed S --n n` on one process."""
        with self.sampler(seed, start, data_path) as s:
            return s.draw(n, label=label, steps=steps)


class Sampler:
    """Langevin chains on a model (Model.sampler()). One thread at a time.
    close() or a `with` block frees it; the model's close() closes it too."""

    def __init__(self, model, seed=0, start="fresh", data_path=None):
        handle = model._live()
        seed = _count(seed, "seed")
        if seed >= 1 << 64:
            raise ValueError(f"seed must be below 2^64, got {seed}")
        if start not in _STARTS:
            raise ValueError(f"start must be 'fresh' or 'chains', got {start!r}")
        if data_path is None and start == "fresh" and model.info.chain_init == 1:
            data_path = _library.installed_data()
        raw = None if data_path is None else _path_arg(data_path, "data_path")
        self._lib, self.model, self._handle = model._lib, model, None
        out = ctypes.c_void_p()
        _call(self._lib.ebm_sampler_create, handle, seed, _STARTS[start], raw,
              ctypes.byref(out))
        self._handle = out
        model._samplers.add(self)

    def draw(self, n, label=None, steps=None):
        """n samples, float32 [n, D] in data units (see Model.sample)."""
        if self._handle is None:
            raise ValueError("sampler is closed")
        n = _count(n, "n", 1)
        k = self.model.info.n_classes
        if label is None:
            label = -1
        elif _count(label, "label") >= k:
            raise ValueError(f"label must be a class 0..{k - 1} or None, got {label}")
        steps = -1 if steps is None else _count(steps, "steps")
        out = np.empty((n, self.model.info.input_size), dtype=np.float32)
        _call(self._lib.ebm_sampler_draw, self._handle, n, int(label), steps, out, out.size)
        return out

    @property
    def closed(self):
        return self._handle is None

    def close(self):
        handle = getattr(self, "_handle", None)
        if handle is None:
            return
        self._handle = None
        self._lib.ebm_sampler_free(handle)

    def __enter__(self):
        if self._handle is None:
            raise ValueError("sampler is closed")
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


def read_split(path, split="test"):
    """(images float32 [n, D] in data units, labels int32 [n]) of a data
    file's split ("train", "val" or "test"), checked as the program checks
    it (ebm_data_read_split)."""
    lib = library()
    raw, name = _path_arg(path, "path"), str(split).encode()
    n, d = ctypes.c_size_t(), ctypes.c_int()
    _call(lib.ebm_data_read_split, raw, name, None, 0, None, 0, ctypes.byref(n), ctypes.byref(d))
    images = np.empty((n.value, d.value), dtype=np.float32)
    labels = np.empty(n.value, dtype=np.int32)
    _call(lib.ebm_data_read_split, raw, name, images.ctypes.data, images.size,
          labels.ctypes.data, labels.size, None, None)
    return images, labels
