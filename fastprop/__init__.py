"""fastprop: train multi-layer perceptrons by backpropagation, with every hot loop compiled.

    import fastprop as fp
    net = fp.mlp([2, 8, 1], hidden="tanh", output="sigmoid", loss="binary_cross_entropy")
    hist = net.fit(X, y, epochs=100, batch_size=4, optimizer=fp.SGD(lr=0.5))
"""
import numbers as _numbers
import os as _os

# The one definition of the version: setuptools reads this line statically (pyproject.toml).
__version__ = "0.1.0"


def _source_tree_error():
    """The ImportError to raise when fastprop/_core cannot be imported because this is the
    uncompiled source tree (its .pyx is here, no built module is): Python found the checkout's
    fastprop/ before the installed package. None when a built module is here (it failed to load
    for a reason of its own, which the original error states)."""
    from importlib.machinery import EXTENSION_SUFFIXES
    here = _os.path.dirname(_os.path.abspath(__file__))
    if any(_os.path.exists(_os.path.join(here, "_core" + s)) for s in EXTENSION_SUFFIXES) \
            or not _os.path.exists(_os.path.join(here, "_core.pyx")):
        return None
    root = _os.path.dirname(here)
    return ImportError(
        f"fastprop was imported from its source tree ({here}), which has no compiled module "
        f"(fastprop._core): this folder shadows any installed fastprop, because Python looks "
        f"first in the script's folder or the current directory. Run from another directory "
        f"to use the installed package, or build this checkout in place: "
        f"`pip install -e {root}` or `python setup.py build_ext --inplace` in {root}.",
        name="fastprop._core", path=here)


try:
    from fastprop import _core
except ImportError:
    _error = _source_tree_error()
    if _error is None:
        raise
    raise _error from None   # the chained message would wrongly blame an import cycle
from fastprop.activations import ACTIVATIONS
from fastprop.gradients import GradcheckResult, gradcheck, numerical_gradient
from fastprop.losses import LOSSES
from fastprop._model import Dropout, NonFiniteResultError
from fastprop.io import save
from fastprop.network import Dense, Network, load, mlp
from fastprop import optim as _optim
from fastprop.optim import *  # noqa: F401,F403  every optimizer class: optim.__all__
from fastprop.training import History, TrainingDivergedError, fit
from fastprop.callbacks import Callback, EarlyStopping, ModelCheckpoint
from fastprop import schedules
from fastprop.explain import Explanation, explain

# The optimizers are optim.__all__: a new one is public by its class in fastprop/optim.py.
__all__ = ["Network", "Dense", "Dropout", "mlp", *_optim.__all__, "numerical_gradient", "gradcheck",
           "GradcheckResult", "NonFiniteResultError", "fit", "History", "TrainingDivergedError",
           "save", "load", "Callback", "EarlyStopping", "ModelCheckpoint", "schedules", "explain", "Explanation", "set_num_threads", "get_num_threads", "simd_path", "ACTIVATIONS",
           "LOSSES", "__version__"]


def _max_threads():
    """The largest thread count set_num_threads accepts: 256, or the number of cores where
    that is more (more threads than cores only slows compute kernels down, and thousands of
    OpenMP threads can exhaust the process's memory or thread limit)."""
    return max(256, _os.cpu_count() or 1)


def set_num_threads(n: int) -> None:
    """Set the number of threads fastprop's kernels use, for every network of the process.

    The default is the environment variable ``FASTPROP_NUM_THREADS`` when it is set at
    import, else the cores the process may run on (its CPU affinity). Whatever the setting,
    work too small to gain from a second thread runs on the calling thread alone, call by
    call. One thread gives bit-identical results from the same seed.

    Parameters
    ----------
    n : int
        Threads, from 1 to ``max(256, os.cpu_count())``: more threads than cores only slows
        compute kernels down.

    Raises
    ------
    TypeError
        When `n` is not an int (a bool is refused too).
    ValueError
        When `n` is out of range.
    """
    if isinstance(n, bool) or not isinstance(n, _numbers.Integral):
        raise TypeError(f"n: expected an int, got {type(n).__name__}")
    n = int(n)
    if n < 1 or n > _max_threads():
        raise ValueError(f"n: expected a number of threads from 1 to {_max_threads()}, got {n}")
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads fastprop's kernels use.

    Returns
    -------
    int
        The count set by `set_num_threads` (or the default, see there).
    """
    return _core.get_num_threads()


def simd_path() -> str:
    """The instruction-set path of the matrix-multiply kernels, chosen at run time.

    The wheel carries every path; the CPU's features (CPUID) pick one when the module loads,
    so the same install runs on any x86-64 CPU at its best speed.

    Returns
    -------
    str
        ``"avx512f"``, ``"avx2+fma"`` or ``"generic"`` (portable C).
    """
    return _core.simd_path()


def _threads_from_environment():
    value = _os.environ.get("FASTPROP_NUM_THREADS")
    if value is None:
        return
    try:
        set_num_threads(int(value))
    except (TypeError, ValueError):
        raise ValueError(f"FASTPROP_NUM_THREADS: expected an integer from 1 to "
                         f"{_max_threads()}, got {value!r}") from None


_threads_from_environment()


def __getattr__(name):
    """fastprop.MLPClassifier and fastprop.MLPRegressor (fastprop.sklearn): scikit-learn, an
    optional extra, is imported only when one of them is asked for."""
    if name in ("MLPClassifier", "MLPRegressor"):
        from fastprop import sklearn as _sklearn
        return getattr(_sklearn, name)
    raise AttributeError(f"module 'fastprop' has no attribute {name!r}")
