"""The contract under random inputs (hypothesis): every public entry point, fed random valid
and invalid arguments, keeps DESIGN.md's promises. A valid call gives the result of a plain
numpy reference written below from DESIGN.md's formulas (nothing of fastprop's internals is
used), and never writes the caller's arrays; an invalid one raises ValueError or TypeError
whose message names the argument, with net.params bit-identical and the caller's arrays
untouched. Other properties: save -> load round-trips bit for bit, load of corrupted bytes is
a ValueError or the saved network, fit returns a History of `epochs` losses or raises
TrainingDivergedError with finite parameters.

Profiles: "ci" (default; derandomized, so reproducible: about 3,450 cases, under a minute) and
"long" (HYPOTHESIS_PROFILE=long: randomized, 33x the examples, about 115,000 cases)."""
import copy
import contextlib
import io
import math
import os
import pathlib
import re
import tempfile
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, currently_in_test_context, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastprop as fp

# too_slow / data_too_large: the networks and arrays are drawn piece by piece on purpose;
# hypothesis's generation budget is no concern of the contract. No example database: the CI
# profile is derandomized, and a failure prints its reproduction blob.
_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])
settings.register_profile("ci", max_examples=75, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=2500, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
_BASE = settings.default.max_examples


def budget(weight):
    """Examples for a test: the profile's count times weight (cheap tests get more)."""
    return settings(max_examples=max(1, int(_BASE * weight)))


# ---- numpy reference, from DESIGN.md's formulas -------------------------------------------
LEAKY = 0.01
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def act(name, z):
    if name in ("identity", "linear"):
        return z
    if name == "sigmoid":
        return _sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, LEAKY * z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if name == "gelu":
        return 0.5 * z * (1 + _erf(z / np.sqrt(2)))
    if name == "gelu_tanh":     # z (1 + tanh u) / 2 = z sigmoid(2u), without 1 + tanh's
        u = np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)    # cancellation to exactly 0
        return z * _sigmoid(2 * u)
    if name == "silu":
        return z * _sigmoid(z)
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))
    if name == "softplus":
        return np.where(z > 20, z, np.log1p(np.exp(np.minimum(z, 20))))
    raise KeyError(name)


def act_grad(name, z, a, da):
    """dZ from dA through the activation (softmax: its Jacobian, transposed, row by row)."""
    if name in ("identity", "linear"):
        return da
    if name == "sigmoid":
        return da * a * (1 - a)
    if name == "tanh":
        return da * (1 - a * a)
    if name == "relu":
        return np.where(z > 0, da, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, da, LEAKY * da)
    if name == "softmax":
        return a * (da - (da * a).sum(axis=1, keepdims=True))
    if name == "gelu":
        return da * (0.5 * (1 + _erf(z / np.sqrt(2))) + z * np.exp(-z * z / 2) / np.sqrt(2 * np.pi))
    if name == "gelu_tanh":
        k = np.sqrt(2 / np.pi)
        s = _sigmoid(2 * k * (z + 0.044715 * z ** 3))
        return da * (s + 2 * z * s * (1 - s) * k * (1 + 3 * 0.044715 * z * z))
    if name == "silu":
        s = _sigmoid(z)
        return da * s * (1 + z * (1 - s))
    if name == "elu":
        return da * np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))
    if name == "softplus":
        return da * np.where(z > 20, 1.0, _sigmoid(np.minimum(z, 20)))
    raise KeyError(name)


def describe(net):
    sizes = [net.layers[0].n_in] + [l.n_out for l in net.layers]
    return sizes, [l.activation for l in net.layers], net.loss_name


def unpack(sizes, params):
    out, k = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = params[k:k + n_in * n_out].reshape(n_in, n_out)
        k += n_in * n_out
        out.append((W, params[k:k + n_out]))
        k += n_out
    assert k == params.size
    return out


def ref_forward(net, X):
    """Zs, As of every layer, in float64, from X converted to the network's dtype first."""
    sizes, acts, _ = describe(net)
    a = np.asarray(X).astype(net.dtype).astype(np.float64)
    zs, as_ = [], []
    for (W, b), name in zip(unpack(sizes, net.params.astype(np.float64)), acts):
        z = a @ W + b
        a = act(name, z)
        zs.append(z)
        as_.append(a)
    return zs, as_


def ref_scale(net, X):
    """The largest |Z| could be made of: the forward pass of |X| through |W|, |b| (with
    activations at most linear in size), the scale of rounding errors in the result. A
    bounded activation (sigmoid, tanh, softmax) resets the size to 1 but not the rounding
    its input carried: Z rounded at |Z| = 1475 moves a softmax output by about eps * 1475,
    so the largest |Z| of any layer counts too."""
    sizes, acts, _ = describe(net)
    a = np.abs(np.asarray(X).astype(net.dtype).astype(np.float64))
    worst = 0.0
    for (W, b), name in zip(unpack(sizes, net.params.astype(np.float64)), acts):
        a = a @ np.abs(W) + np.abs(b)
        worst = max(worst, float(a.max(initial=0.0)))
        a = np.ones_like(a) if name in ("sigmoid", "tanh", "softmax") else 1.2 * a + 1
    return max(worst, float(a.max(initial=0.0)))


def ref_targets(net, y):
    """y as float64 (n, n_out): integer labels of cross-entropy become one-hot rows."""
    y = np.asarray(y)
    n_out = net.layers[-1].n_out
    if net.loss_name == "cross_entropy" and y.ndim == 1:
        Y = np.zeros((y.shape[0], n_out))
        Y[np.arange(y.shape[0]), y.astype(np.int64)] = 1
        return Y
    return y.astype(net.dtype).astype(np.float64).reshape(y.shape[0], n_out)


def ref_loss_and_grad(net, X, y):
    """(mean loss, gradient laid out like params) of DESIGN.md's losses, PyTorch's way."""
    sizes, acts, loss = describe(net)
    zs, as_ = ref_forward(net, X)
    Y = ref_targets(net, y)
    z, a = zs[-1], as_[-1]
    n, m = a.shape
    if loss == "mse":
        value = np.mean((a - Y) ** 2)
        dz = act_grad(acts[-1], z, a, 2 * (a - Y) / (n * m))
    elif loss == "binary_cross_entropy" and acts[-1] == "sigmoid":
        value = np.mean(np.logaddexp(0, z) - Y * z)            # from the logits
        dz = (a - Y) / (n * m)
    elif loss == "binary_cross_entropy":
        lp, lq = np.maximum(np.log(a), -100), np.maximum(np.log1p(-a), -100)
        value = -np.mean(Y * lp + (1 - Y) * lq)
        dz = act_grad(acts[-1], z, a, (a - Y) / np.maximum(a * (1 - a), 1e-12) / (n * m))
    else:                                                      # cross_entropy
        zmax = z.max(axis=1, keepdims=True)
        lse = (zmax + np.log(np.exp(z - zmax).sum(axis=1, keepdims=True)))[:, 0]
        value = np.mean(lse * Y.sum(axis=1) - (Y * z).sum(axis=1))
        dz = (a * Y.sum(axis=1, keepdims=True) - Y) / n
    layers = unpack(sizes, net.params.astype(np.float64))
    A0 = np.asarray(X).astype(net.dtype).astype(np.float64)
    grads = []
    for i in range(len(layers) - 1, -1, -1):
        a_prev = as_[i - 1] if i else A0
        grads.append((dz.sum(axis=0), a_prev.T @ dz))
        if i:
            dz = act_grad(acts[i - 1], zs[i - 1], as_[i - 1], dz @ layers[i][0].T)
    return float(value), np.concatenate([g.ravel() for pair in grads[::-1] for g in pair[::-1]])


def near_kink(net, X, tol):
    """Whether a relu-family pre-activation lies within tol of 0 (not at it): there the
    kernel's and the reference's rounding may fall on different sides of the kink."""
    _, acts, _ = describe(net)
    for z, name in zip(ref_forward(net, X)[0], acts):
        if name in ("relu", "leaky_relu") and np.any((z != 0) & (np.abs(z) < tol)):
            return True
    return False


def bce_on_rounded_probabilities(net, X):
    """Whether binary cross-entropy on a softmax output (computed from probabilities, as
    torch's BCELoss) meets a probability within 1/256 of 0 or 1: there the rounding of p in
    the network's dtype, eps relative to p, is eps / min(p, 1 - p) relative to log(1 - p) and
    1 / (p (1 - p)): more than the 256 eps the loss's tolerance allows (a float32
    p = 1 - 8.3e-7 for 1 - 7.8e-7 is a 7% error; a float64 1 - 3.7e-5, 6e-12), which no
    tolerance of a float64 reference can cover. (The long profile found the float64 case.)"""
    if net.loss_name != "binary_cross_entropy" or net.layers[-1].activation != "softmax":
        return False
    a = ref_forward(net, X)[1][-1]
    return bool(np.min(np.minimum(a, 1 - a)) < 1.0 / 256)


# ---- checking helpers -----------------------------------------------------------------------
def snapshot(obj):
    """What the caller handed over, to compare after the call: an array's bytes (its base's
    too, for a view) and flags, or the repr of a list."""
    if isinstance(obj, np.ndarray):
        base = obj.base if isinstance(obj.base, np.ndarray) else None
        return ("array", obj.dtype.str, obj.shape, obj.tobytes(),
                None if base is None else base.tobytes(), obj.flags.writeable)
    return ("object", repr(obj))


def names(message, argument):
    """The message names the argument as a word (X, not X_val; y, not 'you')."""
    return re.search(r"(?<![A-Za-z0-9_])" + re.escape(argument) + r"(?![A-Za-z0-9_])",
                     message) is not None


def assert_refused(call, argument, net=None, given=()):
    """call() raises ValueError/TypeError naming `argument`; nothing changed."""
    before = None if net is None else net.params.tobytes()
    snaps = [snapshot(g) for g in given]
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    if currently_in_test_context():
        note(f"message: {info.value}")
    assert names(str(info.value), argument), (argument, str(info.value))
    if net is not None:
        assert net.params.tobytes() == before
    for g, s in zip(given, snaps):
        assert snapshot(g) == s


def close(got, want, scale, dtype, factor=64):
    """|got - want| <= factor * eps(dtype) * (1 + scale), entry by entry."""
    tol = factor * float(np.finfo(dtype).eps) * (1 + scale)
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    err = float(np.max(np.abs(got - want), initial=0.0))
    assert err <= tol, f"max error {err:.3g} > tolerance {tol:.3g}"


# ---- strategies: networks ---------------------------------------------------------------------
ACTS = sorted(fp.ACTIVATIONS)
HIDDEN = [a for a in ACTS if a != "softmax"]
SMOOTH = [a for a in HIDDEN if a not in ("relu", "leaky_relu")]
DTYPES = ["float32", "float64"]


@st.composite
def net_shapes(draw, hidden=HIDDEN, loss=None):
    """(sizes, activations, loss): 1-4 layers of 1-12 units, softmax only last with n_out >= 2,
    the output matching the loss."""
    n_layers = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 12), min_size=n_layers + 1, max_size=n_layers + 1))
    loss = loss or draw(st.sampled_from(sorted(fp.LOSSES)))
    if loss == "cross_entropy":
        out = "softmax"
    elif loss == "binary_cross_entropy":
        out = draw(st.sampled_from(["sigmoid", "softmax"]))
    else:
        out = draw(st.sampled_from([a for a in ACTS if a in hidden or a == "softmax"]))
    if out == "softmax":
        sizes[-1] = max(sizes[-1], 2)
    acts = [draw(st.sampled_from(hidden)) for _ in range(n_layers - 1)] + [out]
    return sizes, acts, loss


@st.composite
def networks(draw, hidden=HIDDEN, loss=None, dtype=None, scale=None):
    """A Network of random shape, dtype and seed; its parameters are the initialisation's or
    random of a drawn scale (non-zero biases included)."""
    sizes, acts, loss = draw(net_shapes(hidden, loss))
    dtype = dtype or draw(st.sampled_from(DTYPES))
    net = fp.Network([fp.Dense(a, b, f) for a, b, f in zip(sizes[:-1], sizes[1:], acts)],
                     loss=loss, dtype=dtype, seed=draw(st.integers(0, 2 ** 32)))
    scale = draw(st.sampled_from([None, 0.1, 1.0, 3.0])) if scale is None else scale
    if scale:
        rng = np.random.default_rng(draw(st.integers(0, 2 ** 32)))
        net.params = rng.uniform(-scale, scale, net.n_params)
    note(f"{net!r}\nparams {net.params.tolist()}")
    return net


# ---- strategies: arrays of every dtype and memory layout -----------------------------------------
FLOAT_DTYPES = ["float16", "float32", "float64"]
INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
LAYOUTS = ["C", "F", "strided", "reversed", "readonly", "list"]


def lay_out(a, layout):
    """The values of a in a given memory layout: C, Fortran, a non-contiguous view, a view of
    negative strides, a read-only array, or a nested Python list."""
    if layout == "list" or a.ndim == 0:
        return a.tolist() if layout == "list" else a.copy()
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.zeros(tuple(2 * s for s in a.shape), dtype=a.dtype)
        view = big[tuple(slice(None, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    if layout == "reversed":
        r = np.ascontiguousarray(a[::-1])
        return r[::-1]
    out = a.copy()
    if layout == "readonly":
        out.flags.writeable = False
    return out


def values_of(dtype, lo, hi):
    """Elements of dtype within [lo, hi] (or the dtype's range), -0.0 and subnormals
    included for the floats."""
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return st.booleans()
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return st.integers(max(int(lo), int(info.min)), min(int(hi), int(info.max)))
    return st.floats(lo, hi, width=8 * dt.itemsize, allow_nan=False, allow_infinity=False)


@st.composite
def arrays_in(draw, shape, lo=-10.0, hi=10.0, kinds="biuf", layouts=LAYOUTS):
    """(given, values): an array-like of the shape in a random dtype of the kinds and a random
    layout, and its values as an ndarray."""
    choices = (["bool"] * ("b" in kinds) + INT_DTYPES * ("i" in kinds)
               + FLOAT_DTYPES * ("f" in kinds))
    dtype = draw(st.sampled_from(choices))
    if np.dtype(dtype).kind == "u":
        lo = max(lo, 0)
    a = draw(hnp.arrays(dtype, shape, elements=values_of(dtype, lo, hi)))
    return lay_out(a, draw(st.sampled_from(layouts))), a


@st.composite
def targets(draw, net, n, layouts=LAYOUTS):
    """(given, values): valid targets of n samples for the network's loss."""
    loss, n_out = net.loss_name, net.layers[-1].n_out
    if loss == "cross_entropy" and draw(st.booleans()):
        labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, n_out - 1)))
        dtype = draw(st.sampled_from(["int8", "int32", "int64", "uint8", "float32", "float64"]))
        a = labels.astype(dtype)
        return lay_out(a, draw(st.sampled_from(layouts))), a
    shape = (n,) if n_out == 1 and draw(st.booleans()) else (n, n_out)
    lo, hi = (-10.0, 10.0) if loss == "mse" else (0.0, 1.0)
    return draw(arrays_in(shape, lo, hi, layouts=layouts))


@st.composite
def data(draw, net, lo=-10.0, hi=10.0):
    """(X, y, X values, y values) valid for the network, 1-8 samples."""
    n = draw(st.integers(1, 8))
    X, Xv = draw(arrays_in((n, net.layers[0].n_in), lo, hi))
    y, yv = draw(targets(net, n))
    return X, y, Xv, yv


# ---- strategies: invalid data -----------------------------------------------------------------
def _strings(shape):
    return np.full(shape, "1.5") if shape else "1.5"


@st.composite
def bad_X(draw, net):
    """An X that every entry point must refuse, with a note of why."""
    n_in, n = net.layers[0].n_in, draw(st.integers(1, 6))
    kinds = ["ndim", "features", "empty", "nonfinite", "complex", "object", "string",
             "bytes", "none", "ragged", "datetime", "scalar"]
    if net.dtype == np.float32:
        kinds.append("overflow")
    kind = draw(st.sampled_from(kinds))
    note(f"bad X: {kind}")
    good = np.ones((n, n_in))
    if kind == "ndim":
        shape = draw(st.sampled_from([(n_in,), (1, n, n_in), (n, n_in, 1), ()]))
        a = draw(arrays_in(shape))[1]
    elif kind == "features":
        k = draw(st.integers(0, 14).filter(lambda k: k != n_in))
        a = draw(arrays_in((n, k)))[1]
    elif kind == "empty":
        a = np.empty((0, n_in), dtype=draw(st.sampled_from(FLOAT_DTYPES + ["int64"])))
    elif kind == "nonfinite":
        a = draw(arrays_in((n, n_in), kinds="f"))[1].copy()
        a.flat[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    elif kind == "complex":
        a = good.astype(draw(st.sampled_from(["complex64", "complex128"])))
    elif kind == "object":
        a = good.astype(object)
    elif kind == "string":
        a = _strings((n, n_in))
    elif kind == "bytes":
        a = np.full((n, n_in), b"1")
    elif kind == "none":
        return None
    elif kind == "ragged":
        return [[1.0] * n_in, [1.0] * (n_in + 1)]
    elif kind == "datetime":
        a = np.zeros((n, n_in), dtype="datetime64[s]")
    elif kind == "scalar":
        return draw(st.sampled_from([1.0, 3, "X", b"X", True]))
    else:                               # beyond float32's range, given to a float32 network
        a = good.copy()
        a.flat[draw(st.integers(0, a.size - 1))] = draw(st.floats(1e39, 1.7e308)) * draw(
            st.sampled_from([1, -1]))
    layouts = ["C", "F", "strided", "readonly"] + ["list"] * (kind in ("nonfinite", "features"))
    return lay_out(a, draw(st.sampled_from(layouts)))


@st.composite
def bad_y(draw, net, n):
    """Targets for n samples that loss, backprop, fit, numerical_gradient and gradcheck must
    refuse."""
    loss, n_out = net.loss_name, net.layers[-1].n_out
    kinds = ["samples", "ndim", "nonfinite", "complex", "object", "string", "none", "ragged"]
    if loss != "cross_entropy":
        kinds.append("outputs")
    if loss != "cross_entropy" and n_out > 1:
        kinds.append("flat")
    if loss == "binary_cross_entropy":
        kinds.append("range")
    if loss == "cross_entropy":
        kinds += ["labels", "fraction", "negative", "outputs"]
    if net.dtype == np.float32 and loss == "mse":
        kinds.append("overflow")
    kind = draw(st.sampled_from(kinds))
    note(f"bad y: {kind}")
    good = np.zeros((n, n_out))
    if kind == "samples":
        m = draw(st.integers(0, 10).filter(lambda m: m != n))
        a = np.zeros((m, n_out)) if draw(st.booleans()) or n_out > 1 else np.zeros(m)
        if loss == "cross_entropy" and a.ndim == 2 and draw(st.booleans()):
            a = np.zeros(m, dtype=np.int64)
    elif kind == "ndim":
        a = draw(st.sampled_from([np.zeros(()), np.zeros((n, n_out, 1)), np.zeros((1, n, n_out))]))
    elif kind == "outputs":
        k = draw(st.integers(1, 14).filter(lambda k: k != n_out))
        a = np.zeros((n, k))
    elif kind == "flat":
        a = np.zeros(n)
    elif kind == "nonfinite":
        a = good.copy()
        a.flat[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    elif kind == "complex":
        a = good.astype(np.complex128)
    elif kind == "object":
        a = good.astype(object)
    elif kind == "string":
        a = _strings((n, n_out))
    elif kind == "none":
        return None
    elif kind == "ragged":
        return [[0.0] * n_out] * (n - 1) + [[0.0] * (n_out + 1)] if n > 1 else [[0.0], [0.0, 0.0]]
    elif kind == "range":
        a = good.copy()
        a.flat[draw(st.integers(0, a.size - 1))] = draw(
            st.one_of(st.floats(1.0, 1e300, exclude_min=True), st.floats(-1e300, -1e-300)))
    elif kind == "labels":
        a = np.zeros(n, dtype=np.int64)
        a[draw(st.integers(0, n - 1))] = draw(st.one_of(st.integers(n_out, 10 ** 9),
                                                        st.integers(-10 ** 9, -1)))
    elif kind == "fraction":
        a = np.zeros(n)
        a[draw(st.integers(0, n - 1))] = draw(st.floats(0, n_out - 1).filter(
            lambda v: v != round(v)))
    elif kind == "negative":
        a = good.copy()
        a.flat[draw(st.integers(0, a.size - 1))] = -draw(st.floats(1e-300, 1e300))
    else:                               # overflow
        a = good.copy()
        a.flat[draw(st.integers(0, a.size - 1))] = draw(st.floats(1e39, 1.7e308))
    return lay_out(a, draw(st.sampled_from(["C", "F", "strided", "readonly"])))


# entry points taking (X, y), or X alone
def _call(entry, net, X, y):
    if entry == "predict":
        return net.predict(X)
    if entry == "loss":
        return net.loss(X, y)
    if entry == "backprop":
        return net.backprop(X, y)
    if entry == "fit":
        return net.fit(X, y, epochs=1)
    if entry == "numerical_gradient":
        return fp.numerical_gradient(net, X, y)
    if entry == "gradcheck":
        return fp.gradcheck(net, X, y)
    if entry == "fit_module":
        return fp.fit(net, X, y, epochs=1)
    raise KeyError(entry)


ENTRIES = ["predict", "loss", "backprop", "fit", "fit_module", "numerical_gradient", "gradcheck"]


# ==== forward pass, loss, gradient =================================================================
@budget(3)
@given(st.data())
def test_predict_equals_the_numpy_forward_pass_and_writes_nothing(d):
    net = d.draw(networks())
    X, _, Xv, _ = d.draw(data(net))
    before, given_before = net.params.tobytes(), snapshot(X)
    out = net.predict(X)
    assert out.shape == (Xv.shape[0], net.layers[-1].n_out) and out.dtype == net.dtype
    close(out, ref_forward(net, Xv)[1][-1], ref_scale(net, Xv), net.dtype)
    assert net.params.tobytes() == before and snapshot(X) == given_before


@budget(3)
@given(st.data())
def test_loss_and_backprop_equal_the_numpy_reference_and_write_nothing(d):
    net = d.draw(networks())
    X, y, Xv, yv = d.draw(data(net, -4.0, 4.0))
    eps = float(np.finfo(net.dtype).eps)
    assume(not near_kink(net, Xv, 1e4 * eps * (1 + ref_scale(net, Xv))))
    assume(not bce_on_rounded_probabilities(net, Xv))
    before, snaps = net.params.tobytes(), (snapshot(X), snapshot(y))
    want_loss, want_grad = ref_loss_and_grad(net, Xv, yv)
    value = net.loss(X, y)
    loss, grad = net.backprop(X, y)
    assert isinstance(value, float) and isinstance(loss, float)
    assert loss == value                            # the same forward pass
    assert grad.shape == net.params.shape and grad.dtype == net.dtype
    scale = ref_scale(net, Xv)
    close(value, want_loss, scale * (1 + abs(want_loss)), net.dtype, factor=256)
    # the gradient's rounding: relative to the largest entry times the forward pass's scale
    close(grad, want_grad, scale * (1 + float(np.abs(want_grad).max())) * 4, net.dtype,
          factor=2048)
    assert net.params.tobytes() == before and (snapshot(X), snapshot(y)) == snaps


@budget(1)
@given(st.data())
def test_any_finite_X_gives_outputs_of_the_right_shape_or_a_value_error_naming_X(d):
    """Extreme but finite data (1e308, subnormals, -0.0) is no reason to crash: the outputs may
    overflow, or a float32 network refuses values beyond its range, naming X."""
    net = d.draw(networks())
    n = d.draw(st.integers(1, 6))
    X = d.draw(hnp.arrays(np.float64, (n, net.layers[0].n_in),
                          elements=st.floats(allow_nan=False, allow_infinity=False)))
    before = net.params.tobytes()
    try:
        out = net.predict(X)
    except ValueError as exc:
        assert net.dtype == np.float32 and names(str(exc), "X"), str(exc)
    else:
        assert out.shape == (n, net.layers[-1].n_out) and out.dtype == net.dtype
    assert net.params.tobytes() == before


@budget(3)
@given(st.data(), st.sampled_from(ENTRIES))
def test_invalid_X_is_refused_naming_X_by_every_entry_point(d, entry):
    net = d.draw(networks(scale=0))
    X = d.draw(bad_X(net))
    n = len(X) if isinstance(X, list) or (isinstance(X, np.ndarray) and X.ndim) else 3
    y = d.draw(targets(net, max(n, 1)))[0]
    assert_refused(lambda: _call(entry, net, X, y), "X", net, (X, y))


@budget(3)
@given(st.data(), st.sampled_from(ENTRIES[1:]))
def test_invalid_y_is_refused_naming_y_by_every_entry_point(d, entry):
    net = d.draw(networks(scale=0))
    X, _, Xv, _ = d.draw(data(net))
    y = d.draw(bad_y(net, Xv.shape[0]))
    assert_refused(lambda: _call(entry, net, X, y), "y", net, (X, y))


# ==== finite differences and the gradient check ======================================================
@budget(1)
@given(st.data())
def test_numerical_gradient_restores_params_and_any_subset_is_the_full_gradient_s(d):
    net = d.draw(networks())
    X, y, Xv, yv = d.draw(data(net, -4.0, 4.0))
    scheme = d.draw(st.sampled_from(["forward", "central"]))
    lo = float(np.finfo(net.dtype).eps)
    eps = d.draw(st.one_of(st.none(), st.floats(lo, 1.0), st.sampled_from([lo, 1.0])))
    before, snaps = net.params.tobytes(), (snapshot(X), snapshot(y))
    full = fp.numerical_gradient(net, X, y, eps=eps, scheme=scheme)
    assert full.shape == net.params.shape and full.dtype == net.dtype
    assert net.params.tobytes() == before and (snapshot(X), snapshot(y)) == snaps
    idx = d.draw(st.lists(st.integers(0, net.n_params - 1), max_size=12))
    given_idx = d.draw(st.sampled_from([list, np.array, lambda v: np.array(v, dtype=np.int32),
                                        lambda v: np.array(v, dtype=np.uint64)]))(idx)
    part = fp.numerical_gradient(net, X, y, eps=eps, scheme=scheme, indices=given_idx)
    assert part.tobytes() == full[np.array(idx, dtype=np.int64)].tobytes()
    assert net.params.tobytes() == before
    # (a saturated softmax under BCE: the loss's own rounding, divided by 2h, swamps it)
    if (net.dtype == np.float64 and scheme == "central" and eps is None
            and not any(l.activation in ("relu", "leaky_relu") for l in net.layers)
            and not bce_on_rounded_probabilities(net, Xv)):
        want_loss, want = ref_loss_and_grad(net, Xv, yv)
        # central differences: truncation (h^2 f''') and rounding (eps |loss| / h) errors
        scale = ref_scale(net, Xv) ** 3
        tol = 1e-6 * (1 + abs(want_loss) + float(np.abs(want).max())) * (1 + scale)
        assert float(np.abs(full - want).max()) <= tol


@budget(1)
@given(st.data())
def test_gradcheck_is_backprop_against_numerical_gradient_with_its_formula(d):
    net = d.draw(networks())
    X, y, _, _ = d.draw(data(net, -4.0, 4.0))
    scheme = d.draw(st.sampled_from(["forward", "central"]))
    lo = float(np.finfo(net.dtype).eps)
    eps = d.draw(st.one_of(st.none(), st.floats(lo, 1.0)))
    rtol = d.draw(st.one_of(st.none(), st.floats(0, 1)))
    atol = d.draw(st.one_of(st.none(), st.floats(0, 1), st.integers(0, 3)))
    before = net.params.tobytes()
    res = fp.gradcheck(net, X, y, eps=eps, scheme=scheme, rtol=rtol, atol=atol)
    assert net.params.tobytes() == before
    assert res.analytic.tobytes() == net.backprop(X, y)[1].tobytes()
    if eps is not None:
        assert res.eps == eps
    # the step gradcheck took (its own choice, relative to the loss's scale, when eps is None)
    assert res.numeric.tobytes() == fp.numerical_gradient(net, X, y, eps=res.eps,
                                                           scheme=scheme).tobytes()
    a, n = res.analytic.astype(np.float64), res.numeric.astype(np.float64)
    diff = np.abs(a - n)
    assert res.ok == bool(np.all(diff <= res.atol + res.rtol * np.maximum(np.abs(a), np.abs(n))))
    assert res.max_abs_error == float(diff.max())
    if rtol is not None:
        assert res.rtol == rtol
    if atol is not None:
        assert res.atol == atol


# not real numbers, or not finite, or negative (None is refused where it is not a default)
BAD_REALS = [-1.0, -1e-300, float("nan"), float("inf"), float("-inf"), "0.1", True, 1j, [0.1]]


@budget(2)
@given(st.data(), st.sampled_from(["numerical_gradient", "gradcheck"]))
def test_invalid_finite_difference_arguments_are_refused_naming_them(d, entry):
    net = d.draw(networks(scale=0))
    X, y, _, _ = d.draw(data(net))
    lo = float(np.finfo(net.dtype).eps)
    argument = d.draw(st.sampled_from(["eps", "scheme", "net"]
                                      + ["indices"] * (entry == "numerical_gradient")
                                      + ["rtol", "atol"] * (entry == "gradcheck")))
    kwargs = {}
    if argument == "eps":
        kwargs["eps"] = d.draw(st.one_of(st.sampled_from([0.0, lo / 2, 1.5, 1e300] + BAD_REALS),
                                         st.floats(1.0, 1e308, exclude_min=True),
                                         st.floats(0, lo, exclude_max=True)))
    elif argument == "scheme":
        kwargs["scheme"] = d.draw(st.sampled_from(["backward", "Forward", "", 0, None, b"central",
                                                   ["central"]]))
    elif argument in ("rtol", "atol"):
        kwargs[argument] = d.draw(st.sampled_from([-1.0, -1e-12, float("nan"), float("inf"),
                                                   "1e-3", True, "x", 1j]))
    elif argument == "indices":
        N = net.n_params
        kwargs["indices"] = d.draw(st.sampled_from(
            [[N], [-1], [0, N + 5], [0.5], np.array([[0]]), np.array([1.0]), ["0"], [None],
             np.array([0, 1j]), 0]))
    target = "not a network" if argument == "net" else net
    if argument == "net":
        target = d.draw(st.sampled_from(["net", None, 3, object(), [net]]))
    fn = fp.numerical_gradient if entry == "numerical_gradient" else fp.gradcheck
    assert_refused(lambda: fn(target, X, y, **kwargs), argument, net, (X, y))


# ==== optimizers ===================================================================================
@st.composite
def optimizers(draw, big_lr=False):
    """A random optimizer of each kind, with valid hyper-parameters (given as floats, ints or
    numpy scalars), and the dict of them."""
    kind = draw(st.sampled_from(["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]))
    lr = draw(st.one_of(st.floats(0, 1), st.sampled_from([0, 1e-3, 0.1] + [1e6, 1e30] * big_lr)))
    frac = st.floats(0, 0.999)
    wd = draw(st.one_of(st.just(0.0), st.floats(0, 0.1)))
    if kind == "SGD":
        momentum = draw(st.one_of(st.just(0.0), frac))
        nesterov = momentum > 0 and draw(st.booleans())
        kw = dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=wd)
    elif kind in ("Adam", "AdamW"):
        kw = dict(lr=lr, betas=(draw(frac), draw(frac)), eps=draw(st.floats(1e-10, 1e-2)),
                  weight_decay=wd)
    elif kind == "RMSprop":
        kw = dict(lr=lr, alpha=draw(st.one_of(st.floats(0.5, 0.999), st.just(0.99))),
                  eps=draw(st.floats(1e-10, 1e-2)), weight_decay=wd,
                  momentum=draw(st.one_of(st.just(0.0), frac)), centered=draw(st.booleans()))
    else:
        kw = dict(lr=lr, lr_decay=draw(st.one_of(st.just(0.0), st.floats(0, 1))), weight_decay=wd,
                  initial_accumulator_value=draw(st.one_of(st.just(0.0), st.floats(0, 1))),
                  eps=draw(st.floats(1e-10, 1e-2)))
    given_kw = {k: (np.float64(v) if isinstance(v, float) and draw(st.booleans()) else v)
                for k, v in kw.items()}
    return getattr(fp, kind)(**given_kw), kind, kw


class RefOptimizer:
    """torch.optim's update rules, in float64 numpy, from torch's documentation."""

    def __init__(self, kind, kw, n):
        self.kind, self.kw, self.t = kind, kw, 0
        z = np.zeros(n)
        self.buf, self.m, self.v, self.ga = z.copy(), z.copy(), z.copy(), z.copy()
        if kind == "Adagrad":
            self.v += kw["initial_accumulator_value"]

    def step(self, p, g):
        k, kw = self.kind, self.kw
        self.t += 1
        lr, wd = kw["lr"], kw["weight_decay"]
        if k == "AdamW":
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        if k == "SGD":
            if kw["momentum"]:
                self.buf = g.copy() if self.t == 1 else kw["momentum"] * self.buf + g
                g = g + kw["momentum"] * self.buf if kw["nesterov"] else self.buf
            return p - lr * g
        if k in ("Adam", "AdamW"):
            b1, b2 = kw["betas"]
            self.m = b1 * self.m + (1 - b1) * g
            self.v = b2 * self.v + (1 - b2) * g * g
            denom = np.sqrt(self.v) / np.sqrt(1 - b2 ** self.t) + kw["eps"]
            return p - lr / (1 - b1 ** self.t) * self.m / denom
        if k == "RMSprop":
            a = kw["alpha"]
            self.v = a * self.v + (1 - a) * g * g
            if kw["centered"]:
                self.ga = a * self.ga + (1 - a) * g
                avg = np.sqrt(self.v - self.ga * self.ga) + kw["eps"]
            else:
                avg = np.sqrt(self.v) + kw["eps"]
            if kw["momentum"]:
                self.buf = kw["momentum"] * self.buf + g / avg
                return p - lr * self.buf
            return p - lr * g / avg
        clr = lr / (1 + (self.t - 1) * kw["lr_decay"])
        self.v = self.v + g * g
        return p - clr * g / (np.sqrt(self.v) + kw["eps"])


@budget(2)
@given(st.data())
def test_optimizer_steps_follow_torch_update_rules_and_never_write_grad(d):
    net = d.draw(networks())
    opt, kind, kw = d.draw(optimizers())
    ref = RefOptimizer(kind, kw, net.n_params)
    p_ref = net.params.astype(np.float64)
    note(f"{kind} {kw}")
    for _ in range(d.draw(st.integers(1, 3))):
        shape = (net.n_params,)
        grad, gv = d.draw(arrays_in(shape, -10.0, 10.0, layouts=["C", "strided", "reversed",
                                                                 "readonly", "list"]))
        gv = gv.astype(net.dtype).astype(np.float64)
        snap, old = snapshot(grad), p_ref
        opt.step(net, grad)
        assert snapshot(grad) == snap
        p_ref = ref.step(p_ref, gv)
        # rounding relative to the parameter and to the step's size
        scale = np.abs(old) + np.abs(p_ref - old)
        rtol = 1e-10 if net.dtype == np.float64 else 2e-4
        err = np.abs(net.params.astype(np.float64) - p_ref)
        # (an lr or update below the dtype's normal range rounds to 0 there, as in torch)
        atol = 16 * float(np.finfo(net.dtype).tiny)
        assert np.all(err <= rtol * scale * 8 + atol), float((err / (scale + atol)).max())
        p_ref = net.params.astype(np.float64)     # follow the kernel's rounding, not drift
    assert opt.steps == ref.t


@budget(2)
@given(st.data())
def test_invalid_grad_or_hyper_parameter_to_step_changes_nothing(d):
    net = d.draw(networks(scale=0))
    opt, kind, kw = d.draw(optimizers())
    opt.step(net, np.ones(net.n_params))             # binds the optimizer, one step done
    N = net.n_params
    what = d.draw(st.sampled_from(["grad", "hyper", "net"]))
    if what == "grad":
        bad = d.draw(st.sampled_from([np.zeros(N + 1), np.zeros((N, 1)), np.zeros((1, N)),
                                      np.zeros(0), np.full(N, np.nan), np.full(N, np.inf),
                                      np.zeros(N, complex), np.full(N, "1"), None,
                                      np.zeros(N, object), 1.0, [0.0] * (N + 1)]))
        if net.dtype == np.float32 and d.draw(st.booleans()):
            bad = np.full(N, 1e300)
        assert_refused(lambda: opt.step(net, bad), "grad", net, (bad,))
    elif what == "net":
        other = fp.mlp([net.layers[0].n_in, net.layers[-1].n_out], dtype=net.dtype.name)
        assert_refused(lambda: opt.step(other, np.ones(other.n_params)), "optimizer", net)
        assert_refused(lambda: opt.step("net", np.ones(N)), "net", net)
    else:
        name = d.draw(st.sampled_from(sorted(k for k in kw if k != "betas")))
        setattr(opt, name, d.draw(st.sampled_from([-1.0, float("nan"), float("inf"), "0.1",
                                                   None, 2j])))
        assert_refused(lambda: opt.step(net, np.ones(N)), name, net)
    assert opt.steps == 1


@budget(2)
@given(st.data())
def test_optimizer_construction_refuses_invalid_hyper_parameters_naming_them(d):
    kind = d.draw(st.sampled_from(["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]))
    params = {"SGD": ["lr", "momentum", "weight_decay", "nesterov"],
              "Adam": ["lr", "eps", "weight_decay", "betas"],
              "AdamW": ["lr", "eps", "weight_decay", "betas"],
              "RMSprop": ["lr", "alpha", "eps", "weight_decay", "momentum", "centered"],
              "Adagrad": ["lr", "lr_decay", "weight_decay", "initial_accumulator_value",
                          "eps"]}[kind]
    name = d.draw(st.sampled_from(params))
    if name in ("nesterov", "centered"):
        value = d.draw(st.sampled_from(["yes", 2, None, 0.5, "False", [True]]))
    elif name == "betas":
        value = d.draw(st.sampled_from([(0.9,), (0.9, 0.99, 0.9), 0.9, None, "ab", (1.0, 0.9),
                                        (0.9, -0.1), (float("nan"), 0.9), (0.9, "0.9")]))
        name = {(1.0, 0.9): "betas[0]", (0.9, -0.1): "betas[1]",
                (0.9, "0.9"): "betas[1]"}.get(value if isinstance(value, tuple) else None, name)
        if isinstance(value, tuple) and len(value) == 2 and value[0] != value[0]:
            name = "betas[0]"
    else:
        value = d.draw(st.one_of(st.sampled_from(BAD_REALS + [None]),
                                 st.floats(max_value=-1e-300)))
        if name == "eps":
            value = d.draw(st.sampled_from([value, 0.0]))
        if name == "alpha":
            value = d.draw(st.sampled_from([value, 1.5]))
    assert_refused(lambda: getattr(fp, kind)(**{name.split("[")[0]: value}), name)


def test_sgd_nesterov_without_momentum_is_refused_naming_nesterov():
    assert_refused(lambda: fp.SGD(nesterov=True), "nesterov")


# ==== fit ==========================================================================================
@st.composite
def fit_arguments(draw, net, n):
    """Valid keyword arguments of fit, every one drawn, as a function making a fresh copy (so
    that a second run gets an equal optimizer and generator)."""
    epochs = draw(st.integers(0, 4))
    epochs = draw(st.sampled_from([epochs, np.int64(epochs)]))
    batch = draw(st.integers(1, n + 3))
    opt = draw(st.one_of(st.none(), optimizers(big_lr=True).map(lambda t: t[0])))
    shuffle = draw(st.sampled_from([True, False, np.bool_(True), 0, 1]))
    seed = draw(st.one_of(st.integers(0, 2 ** 63), st.just("gen"), st.none()))
    seed_value = draw(st.integers(0, 2 ** 32))
    validation = None
    if draw(st.booleans()):
        Xv, _ = draw(arrays_in((draw(st.integers(1, 5)), net.layers[0].n_in)))
        yv, _ = draw(targets(net, len(Xv)))
        validation = draw(st.sampled_from([tuple, list]))([Xv, yv])
    progress = draw(st.booleans())

    def make():
        return dict(epochs=epochs, batch_size=batch, optimizer=copy.deepcopy(opt),
                    shuffle=shuffle,
                    seed=np.random.default_rng(seed_value) if seed == "gen" else seed,
                    validation_data=validation, progress=progress)
    return make


def _quiet(fn):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn()


@budget(2)
@given(st.data())
def test_fit_returns_epochs_losses_or_diverges_with_finite_params_and_is_reproducible(d):
    net = d.draw(networks())
    X, y, Xv, _ = d.draw(data(net))
    make = d.draw(fit_arguments(net, Xv.shape[0]))
    twin = copy.deepcopy(net)
    kwargs = make()
    note(f"{kwargs}")
    given_ = [X, y] + (list(kwargs["validation_data"]) if kwargs["validation_data"] else [])
    snaps = [snapshot(g) for g in given_]
    epochs = int(kwargs["epochs"])
    try:
        hist = _quiet(lambda: net.fit(X, y, **kwargs))
    except fp.TrainingDivergedError as exc:
        assert np.all(np.isfinite(net.params))
        assert len(exc.history.loss) < epochs
        assert np.all(np.isfinite(exc.history.loss))
        hist = None
    else:
        assert isinstance(hist, fp.History) and len(hist.loss) == epochs
        assert all(isinstance(v, float) and math.isfinite(v) for v in hist.loss)
        assert len(hist.val_loss) == (epochs if kwargs["validation_data"] else 0)
        assert np.all(np.isfinite(net.params))
    assert [snapshot(g) for g in given_] == snaps
    # the same seed and arguments on an identical network: the same bits (seed=None draws
    # fresh entropy, which only the shuffling uses)
    twin_kwargs = make()
    if twin_kwargs["seed"] is None and twin_kwargs["shuffle"]:
        return
    try:
        twin_hist = _quiet(lambda: fp.fit(twin, X, y, **twin_kwargs))
    except fp.TrainingDivergedError:
        twin_hist = None
    assert (hist is None) == (twin_hist is None)
    assert twin.params.tobytes() == net.params.tobytes()
    if hist is not None:
        # bits, not ==: a last update may overflow the validation pass to NaN (finite
        # parameters, outputs beyond the dtype's range), which fit reports as it is
        for a, b in ((twin_hist.loss, hist.loss), (twin_hist.val_loss, hist.val_loss)):
            assert np.array(a).tobytes() == np.array(b).tobytes()


@budget(2)
@given(st.data())
def test_full_batch_epoch_of_sgd_is_one_reference_step_and_its_loss(d):
    net = d.draw(networks(hidden=SMOOTH))
    X, y, Xv, yv = d.draw(data(net, -4.0, 4.0))
    lr = d.draw(st.floats(0, 0.5))
    assume(not bce_on_rounded_probabilities(net, Xv))
    want_loss, want_grad = ref_loss_and_grad(net, Xv, yv)
    want = net.params.astype(np.float64) - lr * want_grad
    scale = ref_scale(net, Xv) * (1 + float(np.abs(want_grad).max()) + abs(want_loss))
    hist = net.fit(X, y, epochs=1, batch_size=d.draw(st.integers(Xv.shape[0], 20)),
                   optimizer=fp.SGD(lr=lr), shuffle=d.draw(st.booleans()))
    close(hist.loss[0], want_loss, scale, net.dtype, factor=1024)
    close(net.params, want, scale, net.dtype, factor=1024)


@budget(3)
@given(st.data())
def test_invalid_fit_arguments_are_refused_naming_them_and_change_nothing(d):
    net = d.draw(networks(scale=0))
    X, y, Xv, _ = d.draw(data(net))
    n = Xv.shape[0]
    opt = d.draw(optimizers())[0]
    argument = d.draw(st.sampled_from(["epochs", "batch_size", "optimizer", "shuffle", "seed",
                                       "validation_data", "progress", "lr"]))
    kwargs = dict(epochs=2, optimizer=opt)
    if argument == "epochs":
        kwargs["epochs"] = d.draw(st.one_of(st.integers(max_value=-1),
                                            st.sampled_from([1.0, 2.5, "3", None, True, [1]])))
    elif argument == "batch_size":
        kwargs["batch_size"] = d.draw(st.one_of(st.integers(max_value=0),
                                                st.sampled_from([1.0, "4", None, True, False])))
    elif argument == "optimizer":
        other = fp.mlp([1, 1], dtype=net.dtype.name)
        bound = fp.SGD()
        other.fit(np.zeros((1, 1)), np.zeros(1), epochs=1, optimizer=bound)
        kwargs["optimizer"] = d.draw(st.sampled_from(["sgd", 0.1, fp.SGD, object(), bound]))
    elif argument == "shuffle":
        kwargs["shuffle"] = d.draw(st.sampled_from(["yes", 2, -1, None, 0.5, "False", [True]]))
    elif argument == "seed":
        kwargs["seed"] = d.draw(st.one_of(st.integers(max_value=-1),
                                          st.sampled_from([1.5, "0", True, [1], b"0"])))
    elif argument == "progress":
        kwargs["progress"] = d.draw(st.sampled_from(["no", 2, None, 0.0, "True"]))
    elif argument == "lr":                     # a hyper-parameter changed after construction
        opt.lr = d.draw(st.sampled_from([-1.0, float("nan"), "0.1", None]))
    else:
        good_X, good_y = np.zeros((2, net.layers[0].n_in)), d.draw(targets(net, 2))[0]
        kwargs["validation_data"] = d.draw(st.sampled_from(
            ["xy", 5, (good_X,), (good_X, good_y, good_y), {"X": good_X},
             (np.zeros((2, net.layers[0].n_in + 1)), good_y), (good_X, np.zeros((3, 7))),
             (np.full((2, net.layers[0].n_in), np.nan), good_y), (None, good_y),
             (good_X, None)]))
    steps = opt.steps
    assert_refused(lambda: net.fit(X, y, **kwargs), argument, net, (X, y))
    assert opt.steps == steps == 0


# ==== construction =================================================================================
@budget(2)
@given(net_shapes(), st.sampled_from(DTYPES + [np.float32, np.dtype("float64")]),
       st.one_of(st.integers(0, 2 ** 64 - 1), st.just("gen")))
def test_networks_built_alike_are_identical_and_initialised_in_bounds(shape, dtype, seed):
    sizes, acts, loss = shape

    def seeded():
        return np.random.default_rng(7) if seed == "gen" else seed
    net = fp.Network([fp.Dense(a, b, f) for a, b, f in zip(sizes[:-1], sizes[1:], acts)],
                     loss=loss, dtype=dtype, seed=seeded())
    same = fp.Network([fp.Dense(a, b, f) for a, b, f in zip(sizes[:-1], sizes[1:], acts)],
                      loss=loss, dtype=dtype, seed=seeded())
    assert net.params.tobytes() == same.params.tobytes()
    assert net.dtype == np.dtype(dtype) and net.params.dtype == net.dtype
    assert net.n_params == sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    for layer, a, b in zip(net.layers, sizes[:-1], sizes[1:]):
        assert layer.W.shape == (a, b) and layer.b.shape == (b,)
        assert np.shares_memory(layer.W, net.params) and np.shares_memory(layer.b, net.params)
        assert np.all(np.abs(layer.W) <= np.sqrt(6.0 / a) * (1 + 1e-6)) and not layer.b.any()
    if len(set(acts[:-1])) <= 1:                 # mlp builds the same network
        hidden = acts[0] if len(acts) > 1 else "relu"
        m = fp.mlp(sizes, hidden=hidden, output=acts[-1], loss=loss, dtype=dtype, seed=seeded())
        assert m.params.tobytes() == net.params.tobytes()


@budget(3)
@given(st.data())
def test_invalid_construction_is_refused_naming_the_argument(d):
    what = d.draw(st.sampled_from(["n_in", "n_out", "activation", "softmax_hidden", "chain",
                                   "softmax_one", "loss", "loss_output", "dtype", "seed",
                                   "layers", "sizes", "sizes_i", "hidden", "output"]))
    bad_int = st.one_of(st.integers(max_value=0), st.sampled_from([1.0, "3", None, True, 2j]))
    bad_name = st.sampled_from(["relu6", "", "soft max", 3, None, b"relu", ["relu"]])
    if what in ("n_in", "n_out"):
        kw = dict(n_in=2, n_out=2)
        kw[what] = d.draw(bad_int)
        assert_refused(lambda: fp.Dense(**kw), what)
    elif what == "activation":
        assert_refused(lambda: fp.Dense(2, 2, d.draw(bad_name)), "activation")
    elif what == "softmax_hidden":
        i = d.draw(st.integers(0, 2))
        layers = [fp.Dense(2, 2, "softmax" if j == i else "tanh") for j in range(4)]
        assert_refused(lambda: fp.Network(layers), f"layers[{i}]")
    elif what == "chain":
        k = d.draw(st.integers(1, 12).filter(lambda k: k != 3))
        assert_refused(lambda: fp.Network([fp.Dense(2, 3), fp.Dense(k, 1)]), "layers[1]")
    elif what == "softmax_one":
        assert_refused(lambda: fp.Network([fp.Dense(2, 1, "softmax")]), "layers[-1]")
    elif what == "loss":
        assert_refused(lambda: fp.Network([fp.Dense(2, 2)], loss=d.draw(bad_name)), "loss")
    elif what == "loss_output":
        out = d.draw(st.sampled_from([a for a in HIDDEN if a != "sigmoid"]))
        loss = d.draw(st.sampled_from(["binary_cross_entropy", "cross_entropy"]))
        assert_refused(lambda: fp.Network([fp.Dense(2, 2, out)], loss=loss), "loss")
    elif what == "dtype":
        dt = d.draw(st.sampled_from(["float16", "int32", np.int64, "complex128", "f2", 3,
                                     "floaty", bool, object, "U3"]))
        assert_refused(lambda: fp.Network([fp.Dense(2, 2)], dtype=dt), "dtype")
    elif what == "seed":
        seed = d.draw(st.one_of(st.integers(max_value=-1),
                                st.sampled_from([1.5, "0", True, [1], np.float64(1)])))
        assert_refused(lambda: fp.Network([fp.Dense(2, 2)], seed=seed), "seed")
    elif what == "layers":
        bad = d.draw(st.sampled_from([[], (), None, "dense", 3]))
        assert_refused(lambda: fp.Network(bad), "layers")
    elif what == "sizes":
        bad = d.draw(st.sampled_from([[], [3], None, "34", 3, {2, 3}]))
        assert_refused(lambda: fp.mlp(bad), "sizes")
    elif what == "sizes_i":
        sizes = d.draw(st.lists(st.integers(1, 5), min_size=2, max_size=5))
        i = d.draw(st.integers(0, len(sizes) - 1))
        sizes[i] = d.draw(bad_int)
        assert_refused(lambda: fp.mlp(sizes), f"sizes[{i}]")
    else:
        assert_refused(lambda: fp.mlp([2, 3, 2], **{what: d.draw(bad_name)}), what)


# ==== parameters ===================================================================================
@budget(3)
@given(st.data())
def test_params_setter_and_layer_assignment_copy_valid_values_and_refuse_invalid_ones(d):
    net = d.draw(networks(scale=0))
    target = d.draw(st.sampled_from(["params"] + [f"{w}{i}" for i in range(len(net.layers))
                                                   for w in "Wb"]))
    if target == "params":
        view, assign, name = net.params, lambda v: setattr(net, "params", v), "params"
    else:
        layer = net.layers[int(target[1:])]
        name = target[0]
        view = getattr(layer, name)
        assign = (lambda v: setattr(layer, name, v))
    if d.draw(st.booleans()):                      # valid
        given_, values = d.draw(arrays_in(view.shape, -1e3, 1e3))
        snap = snapshot(given_)
        buffer = net.params
        assign(given_)
        assert net.params is buffer                # copied into, never rebound
        assert view.tobytes() == values.astype(net.dtype).tobytes()
        assert snapshot(given_) == snap
        for layer in net.layers:
            assert np.shares_memory(layer.W, net.params)
    else:
        shape = view.shape
        kind = d.draw(st.sampled_from(["shape", "nan", "complex", "string", "object", "none",
                                       "ragged"] + ["overflow"] * (net.dtype == np.float32)))
        if kind == "shape":
            wrong = d.draw(st.lists(st.integers(0, 13), min_size=0, max_size=3).filter(
                lambda s: tuple(s) != shape))
            bad = np.zeros(wrong)
        elif kind == "nan":
            bad = np.zeros(shape)
            bad.flat[d.draw(st.integers(0, bad.size - 1))] = d.draw(
                st.sampled_from([np.nan, np.inf, -np.inf]))
        elif kind == "overflow":
            bad = np.zeros(shape)
            bad.flat[d.draw(st.integers(0, bad.size - 1))] = d.draw(st.floats(1e39, 1e308))
        elif kind == "complex":
            bad = np.zeros(shape, complex)
        elif kind == "string":
            bad = d.draw(st.sampled_from([np.full(shape, "1"), "1.0"]))
        elif kind == "object":
            bad = np.zeros(shape, object)
        elif kind == "none":
            bad = None
        else:
            bad = [[1.0], [1.0, 2.0]]
        bad = lay_out(bad, d.draw(st.sampled_from(["C", "F", "readonly"]))) \
            if isinstance(bad, np.ndarray) else bad
        assert_refused(lambda: assign(bad), name, net, (bad,))


def test_assigning_W_of_a_layer_outside_any_network_is_an_attribute_error_naming_W():
    with pytest.raises(AttributeError, match=r"\bW\b"):
        fp.Dense(2, 3).W = np.zeros((2, 3))


# ==== threads ======================================================================================
@budget(1)
@given(st.data())
def test_set_num_threads_takes_1_to_the_limit_and_results_do_not_depend_on_it(d):
    net = d.draw(networks())
    X, y, _, _ = d.draw(data(net))
    before = fp.get_num_threads()
    limit = max(256, os.cpu_count() or 1)
    try:
        n = d.draw(st.integers(1, 4))
        fp.set_num_threads(d.draw(st.sampled_from([n, np.int64(n), np.uint8(n)])))
        assert fp.get_num_threads() == n
        out, (loss, grad) = net.predict(X), net.backprop(X, y)
        fp.set_num_threads(1)
        assert net.predict(X).tobytes() == out.tobytes()
        loss1, grad1 = net.backprop(X, y)
        assert loss1 == loss and grad1.tobytes() == grad.tobytes()
        bad = d.draw(st.one_of(st.integers(max_value=0), st.integers(limit + 1, 2 ** 70),
                               st.sampled_from([1.0, "2", None, True, False, np.float64(2),
                                                [2], 2j])))
        assert_refused(lambda: fp.set_num_threads(bad), "n")
        assert fp.get_num_threads() == 1
    finally:
        fp.set_num_threads(before)


# ==== files ========================================================================================
def _saved_bytes(net):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "net.npz")
        net.save(path)
        with open(path, "rb") as f:
            return f.read()


def _load_bytes(blob):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "net.npz")
        with open(path, "wb") as f:
            f.write(blob)
        return fp.load(path)


def same_network(a, b):
    return (describe(a) == describe(b) and a.dtype == b.dtype
            and a.params.tobytes() == b.params.tobytes())


@budget(2)
@given(st.data())
def test_save_then_load_round_trips_bit_for_bit(d):
    net = d.draw(networks())
    scale = d.draw(st.sampled_from([1.0, 1e-300, 1e300]))
    if net.dtype == np.float64:
        net.params = net.params * scale
    with tempfile.TemporaryDirectory() as tmp:
        path = d.draw(st.sampled_from([str, pathlib.Path, os.fsencode]))(
            os.path.join(tmp, "m.npz"))
        if d.draw(st.booleans()):
            fp.save(net, path)
        else:
            net.save(path)
        back = fp.load(path)
    assert same_network(net, back)
    X = np.ones((2, net.layers[0].n_in))
    assert back.predict(X).tobytes() == net.predict(X).tobytes()


@budget(4)
@given(st.data())
def test_load_of_corrupted_bytes_is_a_value_error_or_the_saved_network(d):
    net = d.draw(networks())
    blob = bytearray(_saved_bytes(net))
    how = d.draw(st.sampled_from(["bytes", "bytes", "truncate", "insert", "delete", "garbage"]))
    if how == "bytes":
        for _ in range(d.draw(st.integers(1, 8))):
            blob[d.draw(st.integers(0, len(blob) - 1))] = d.draw(st.integers(0, 255))
    elif how == "truncate":
        blob = blob[:d.draw(st.integers(0, len(blob) - 1))]
    elif how == "insert":
        i = d.draw(st.integers(0, len(blob)))
        blob[i:i] = d.draw(st.binary(min_size=1, max_size=64))
    elif how == "delete":
        i = d.draw(st.integers(0, len(blob) - 1))
        del blob[i:i + d.draw(st.integers(1, 64))]
    else:
        blob = bytearray(d.draw(st.binary(max_size=512)))
        if d.draw(st.booleans()):
            blob[:4] = b"PK\x03\x04"
    try:
        back = _load_bytes(bytes(blob))
    except ValueError as exc:
        assert names(str(exc), "path"), str(exc)
    else:
        assert same_network(net, back)


@budget(1)
@given(st.data())
def test_load_of_an_npz_of_random_members_is_a_value_error_or_a_valid_network(d):
    """Crafted archives (members of the right names, random contents) never load as anything
    but a network that checks out: finite params of its sizes."""
    members = {}
    numbers = st.tuples(hnp.arrays(np.int64, hnp.array_shapes(min_dims=0, max_dims=2, max_side=4),
                                   elements=st.integers(-2, 5)),
                        st.sampled_from([np.int64, np.float64, np.int8, np.uint64, np.float32]))
    for name in d.draw(st.sets(st.sampled_from(["format", "version", "sizes", "activations",
                                                "loss", "dtype", "params", "extra"]))):
        members[name] = d.draw(st.one_of(
            st.just(np.array("fastprop-network")), st.just(np.array(1)),
            numbers.map(lambda pair: pair[0].astype(pair[1])),
            st.sampled_from([np.array(["relu", "identity"]), np.array("mse"),
                             np.array("float64"), np.array("float32")])))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, arr in members.items():
            b = io.BytesIO()
            np.save(b, arr, allow_pickle=False)
            z.writestr(name + ".npy", b.getvalue())
    try:
        net = _load_bytes(buf.getvalue())
    except ValueError:
        return
    assert np.all(np.isfinite(net.params))
    sizes = [net.layers[0].n_in] + [l.n_out for l in net.layers]
    assert net.n_params == sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


@pytest.mark.parametrize("path", [None, 3, 2.5, ["a.npz"], object()])
def test_save_and_load_of_a_path_that_is_not_one_name_path(path):
    net = fp.mlp([2, 2])
    assert_refused(lambda: net.save(path), "path", net)
    assert_refused(lambda: fp.load(path), "path")
