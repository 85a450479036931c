"""Input checking of floor 3: turns what users pass into the contiguous float arrays that the
compiled floor expects, or raises a ValueError/TypeError naming the argument, what was expected
and what came. Arrays are copied only when they must be (wrong dtype or not C-contiguous);
read-only arrays are used as they are, since the kernels never write inputs."""
import math
import numbers

import numpy as np

from fastprop import _core

__all__ = ["all_finite", "as_dtype_finite", "as_features", "as_int", "as_float", "resolve_dtype"]


def resolve_dtype(dtype, argument="dtype"):
    """np.float32 or np.float64 from a name or a numpy dtype; anything else is refused."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{argument}: expected 'float32' or 'float64', got {dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"{argument}: expected 'float32' or 'float64', got {dt.name!r}")
    return dt


def as_numeric_array(a, argument):
    """np.asarray(a), refusing non-numeric, complex and string data."""
    if isinstance(a, (str, bytes)):
        raise TypeError(f"{argument}: expected a numeric array, got {type(a).__name__}")
    if isinstance(a, np.ma.MaskedArray) and np.ma.getmask(a) is not np.ma.nomask and a.mask.any():
        raise TypeError(f"{argument}: expected a plain array, got a masked array with masked "
                        f"entries (fill them first, e.g. {argument}.filled(value))")
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{argument}: expected a numeric array, could not convert: {exc}") from None
    if arr.dtype.kind not in "biuf":
        what = "complex" if arr.dtype.kind == "c" else "non-numeric"
        raise TypeError(f"{argument}: expected a real numeric dtype (float or int), got "
                        f"{what} dtype {arr.dtype}")
    return arr


def all_finite(arr):
    """np.isfinite(arr).all(); compiled for contiguous float32/float64 (one read pass, no
    boolean temporary the size of the data)."""
    if arr.dtype in (np.float32, np.float64) and arr.flags.c_contiguous:
        return _core.all_finite(arr.reshape(-1))
    return bool(np.isfinite(arr).all())


def check_finite(arr, argument):
    if arr.dtype.kind == "f" and not all_finite(arr):
        bad = "NaN" if np.isnan(arr).any() else "infinity"
        raise ValueError(f"{argument}: expected finite values, got {bad}")


def as_dtype_finite(arr, dtype, argument):
    """np.ascontiguousarray(arr, dtype), refusing values that the cast makes infinite (float64
    data beyond float32's range, about 3.4e38, given to a float32 network)."""
    with np.errstate(over="ignore"):     # refused below, with the argument named
        out = np.ascontiguousarray(arr, dtype=dtype)
    if out.dtype != arr.dtype and out.dtype.kind == "f" and not all_finite(out):
        big = float(np.abs(arr).max())
        raise ValueError(f"{argument}: expected values within the {out.dtype} range (largest "
                         f"{float(np.finfo(out.dtype).max):.4g}), got {big:.4g}")
    return out


def as_features(X, n_in, dtype, argument="X"):
    """X as a C-contiguous (n, n_in) array of dtype: finite, non-empty."""
    if _core.rows_ready(X, dtype == np.float64, n_in):
        return X                           # already what the compiled floor takes
    arr = as_numeric_array(X, argument)
    if arr.ndim != 2:
        hint = " (use X.reshape(1, -1) for a single sample)" if arr.ndim == 1 else ""
        raise ValueError(f"{argument}: expected a 2-D array of shape (n_samples, {n_in}), "
                         f"got {arr.ndim}-D shape {arr.shape}{hint}")
    if arr.shape[0] == 0:
        raise ValueError(f"{argument}: expected at least 1 sample, got shape {arr.shape}")
    if arr.shape[1] != n_in:
        raise ValueError(f"{argument}: expected {n_in} features (n_in of the first layer), "
                         f"got {arr.shape[1]}")
    check_finite(arr, argument)
    return as_dtype_finite(arr, dtype, argument)


def as_int(value, argument, minimum=None, maximum=None):
    """A Python int from an integral number (bools refused), in [minimum, maximum]."""
    if type(value) is not int and (isinstance(value, bool)
                                   or not isinstance(value, numbers.Integral)):
        raise TypeError(f"{argument}: expected an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{argument}: expected an integer >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{argument}: expected an integer <= {maximum:,}, got {value:,}")
    return value


def as_float(value, argument, minimum=None, below=None):
    """A Python float from a real number, finite, in [minimum, below)."""
    if type(value) is not float and (isinstance(value, bool)
                                     or not isinstance(value, numbers.Real)):
        raise TypeError(f"{argument}: expected a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{argument}: expected a finite number, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{argument}: expected a number >= {minimum}, got {value}")
    if below is not None and value >= below:
        raise ValueError(f"{argument}: expected a number < {below}, got {value}")
    return value


def as_rng(seed):
    """A numpy Generator from seed: an int >= 0, None (fresh entropy) or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"seed: expected a non-negative integer, got {seed}")
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed: expected an int, None or a numpy.random.Generator, got "
                    f"{type(seed).__name__}")
