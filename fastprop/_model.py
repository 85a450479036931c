"""The network's core: `Dense` layers and `Model`, the network without its training and file
methods (fastprop.network.Network adds `fit` and `save`). A model owns one flat parameter
buffer [W1, b1, W2, b2, ...] (each W of shape (n_in, n_out), row-major; a layer made with
bias=False contributes its W alone); its layers' W and b are views into it. Every
computation is one call into the compiled floor (fastprop._core); this file only checks
inputs, keeps the workspace and shapes results. The modules below
fastprop.network (training, optim, io, gradients) know a network through this one, so that
no import goes in a circle.

Thread safety: the compiled calls of one network run one at a time (a lock per network, taken
with the GIL released while waiting), since they share its workspace and `fit` and finite
differences write its parameters. Different networks run in parallel."""
from __future__ import annotations

import math
import re
import threading
import weakref
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from fastprop import _core
from fastprop._validation import (all_finite, as_dtype_finite, as_features, as_float, as_int,
                                  as_numeric_array, as_rng, resolve_dtype)
from fastprop.activations import get_activation
from fastprop.losses import get_loss, prepare_targets
from fastprop._typing import ArrayLike, DTypeLike, FloatArray, Seed


def new_stream(seed, spawn=False):
    """fit's shuffling stream (xoshiro256**'s 4 words of state, never all zero) started from
    seed: an int, None (fresh entropy) or a numpy Generator (drawn from it, or with spawn from
    a child of it, which leaves the Generator's own draws as they were)."""
    rng = as_rng(seed)
    if spawn and isinstance(seed, np.random.Generator):
        try:
            rng = rng.spawn(1)[0]
        except TypeError:         # a bit generator without a SeedSequence: drawn from it
            pass
    state = rng.integers(0, 2 ** 64, size=4, dtype=np.uint64, endpoint=False)
    if not state.any():
        state[0] = 1
    return state

__all__ = ["Dense", "Dropout", "Model", "check_network", "NonFiniteResultError", "parse_init"]

# The most elements a network's parameter buffer or workspace may hold: their byte sizes stay
# far inside int64 (the compiled floor refuses more, fastprop._core.MAX_ELEMENTS).
MAX_ELEMENTS = _core.MAX_ELEMENTS
# Evaluation calls (predict, loss) do not keep a workspace larger than this for the next call.
KEEP_WORKSPACE_BYTES = 256 << 20


# ---- weight initialisation ---------------------------------------------------------------
# The forms `init=` accepts, for the error that refuses any other.
INIT_FORMS = ("None (Glorot uniform, or He uniform for relu-family activations)",
              "'glorot_uniform'", "'he_uniform'", "'he_normal'", "'normal(std)', e.g. "
              "'normal(0.01)'", "'uniform(a, b)', e.g. 'uniform(0, 1)'")
_NUMBER = r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*"
_NORMAL = re.compile(r"normal\(" + _NUMBER + r"\)")
_UNIFORM = re.compile(r"uniform\(" + _NUMBER + "," + _NUMBER + r"\)")


def parse_init(init: Optional[str],
               argument: str = "init") -> tuple[Optional[str], tuple[float, ...]]:
    """A layer's weight initialisation from `init`, as (rule, args): None -> (None, ()) (the
    activation's rule), 'glorot_uniform', 'he_uniform', 'he_normal' -> (name, ()),
    'normal(std)' -> ('normal', (std,)) with std > 0, 'uniform(a, b)' -> ('uniform', (a, b))
    with a < b; numbers are plain decimal literals, all finite. Anything else: TypeError (not
    a str) or ValueError naming the argument and listing the accepted forms."""
    forms = ", ".join(INIT_FORMS)
    if init is None:
        return None, ()
    if not isinstance(init, str):
        raise TypeError(f"{argument}: expected None or a str, one of {forms}; got "
                        f"{type(init).__name__} {init!r}")
    if init in ("glorot_uniform", "he_uniform", "he_normal"):
        return init, ()
    m = _NORMAL.fullmatch(init)
    if m:
        std = float(m.group(1))
        if not (math.isfinite(std) and std > 0):
            raise ValueError(f"{argument}: expected a finite std > 0 in 'normal(std)', got "
                             f"{init!r}")
        return "normal", (std,)
    m = _UNIFORM.fullmatch(init)
    if m:
        a, b = float(m.group(1)), float(m.group(2))
        if not (math.isfinite(a) and math.isfinite(b) and a < b and math.isfinite(b - a)):
            raise ValueError(f"{argument}: expected finite bounds a < b in 'uniform(a, b)', "
                             f"got {init!r}")
        return "uniform", (a, b)
    raise ValueError(f"{argument}: unknown initialisation {init!r}; expected one of {forms}")


def _draw_weights(layer, rng, dtype):
    """Layer's initial W from rng (shape (n_in, n_out), in dtype), by its init rule. The
    default rule's draws are the ones fastprop always made (same seed, same bits)."""
    rule, args = parse_init(layer.init)
    n_in, n_out, shape = layer.n_in, layer.n_out, (layer.n_in, layer.n_out)
    if rule is None:
        rule = "he_uniform" if get_activation(layer.activation).init == "he" else "glorot_uniform"
    if rule == "glorot_uniform":
        bound = np.sqrt(6.0 / (n_in + n_out))
        return rng.uniform(-bound, bound, size=shape).astype(dtype)
    if rule == "he_uniform":
        bound = np.sqrt(6.0 / n_in)
        return rng.uniform(-bound, bound, size=shape).astype(dtype)
    if rule == "he_normal":
        return rng.normal(0.0, np.sqrt(2.0 / n_in), size=shape).astype(dtype)
    if rule == "normal":
        return rng.normal(0.0, args[0], size=shape).astype(dtype)
    # uniform(a, b): numpy's draw, or its rounding to dtype, can land on b; kept in [a, b)
    # as promised, by the nearest values of dtype inside.
    a, b = args
    low, high = dtype.type(a), dtype.type(b)
    if float(low) < a:
        low = np.nextafter(low, dtype.type(np.inf))
    if float(high) >= b:
        high = np.nextafter(high, dtype.type(-np.inf))
    if not low <= high:
        raise ValueError(f"init: {layer.init!r} holds no {dtype.name} value")
    return np.clip(rng.uniform(a, b, size=shape).astype(dtype), low, high)


class Dense:
    """A fully connected layer: ``Z = A_prev @ W + b``, ``A = activation(Z)``.

    Given to `Network`, which copies it and binds `W` (n_in, n_out) and `b` (n_out,) to views
    of its parameter buffer; before that they are None. The shape, activation, bias and
    init are fixed: the network's compiled description, its buffer layout and `save` all
    follow them.

    Parameters
    ----------
    n_in : int
        Inputs of the layer (the previous layer's `n_out`), at least 1.
    n_out : int
        Outputs (units) of the layer, at least 1.
    activation : str, default "identity"
        One of `fastprop.ACTIVATIONS` (case-insensitive; ``"linear"`` is ``"identity"``).
        ``"softmax"`` is allowed in the last layer only (checked by `Network`).
    bias : bool, default True
        False for a layer without b (``Z = A_prev @ W``): it then has no entries in the
        network's params nor in a gradient, and `b` is None.
    init : str, optional
        How the network draws W from its seed: None (Glorot uniform, or He uniform for
        relu-family activations), ``"glorot_uniform"``, ``"he_uniform"``, ``"he_normal"``
        (normal, std sqrt(2 / n_in)), ``"normal(std)"`` (mean 0), ``"uniform(a, b)"`` (in
        [a, b)). The biases start at zero.

    Raises
    ------
    TypeError
        When `n_in` or `n_out` is not an int, `activation` or `init` not a str, or `bias`
        not a bool.
    ValueError
        When `n_in` or `n_out` is below 1 or too large, or the activation or init is
        unknown.
    """

    def __init__(self, n_in: int, n_out: int, activation: str = "identity",
                 bias: bool = True, init: Optional[str] = None) -> None:
        self._n_in = as_int(n_in, "n_in", minimum=1, maximum=MAX_ELEMENTS)
        self._n_out = as_int(n_out, "n_out", minimum=1, maximum=MAX_ELEMENTS)
        self._activation = get_activation(activation).name
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"bias: expected True or False, got {type(bias).__name__} {bias!r}")
        self._bias = bool(bias)
        parse_init(init)
        self._init = init
        self._W = None
        self._b = None
        self._net = None    # a weak reference to the network whose params W and b view

    # The shape, activation, bias and init are fixed at construction: a network's compiled
    # description, its buffer layout and `save` all follow them (a changed activation would
    # be saved but not computed). Build a new layer instead.
    @property
    def n_in(self) -> int:
        """Inputs of the layer (read-only)."""
        return self._n_in

    @property
    def n_out(self) -> int:
        """Outputs of the layer (read-only)."""
        return self._n_out

    @property
    def activation(self) -> str:
        """The activation's canonical name (read-only)."""
        return self._activation

    @property
    def bias(self) -> bool:
        """Whether the layer has a bias b (read-only; see `b` for its values)."""
        return self._bias

    @property
    def init(self) -> Optional[str]:
        """The weight initialisation given (None: the activation's rule)."""
        return self._init

    @property
    def W(self) -> FloatArray | None:
        """The weights, shape (n_in, n_out): a view into the network's params (None before the
        layer is part of a network). Assigning copies into the view, after the checks that
        `Network.params` makes (shape, finite values)."""
        return self._W

    @W.setter
    def W(self, values: ArrayLike) -> None:
        self._assign("W", values)

    @property
    def b(self) -> FloatArray | None:
        """The biases, shape (n_out,): a view into the network's params (None before the
        layer is part of a network, and always for a layer made with bias=False). Assigning
        copies into the view."""
        return self._b

    @b.setter
    def b(self, values: ArrayLike) -> None:
        self._assign("b", values)

    def _assign(self, name, values):
        if name == "b" and not self._bias:
            raise ValueError("b: this layer has no bias (it was made with bias=False), so "
                             "there is nothing to assign")
        net = self._net() if self._net is not None else None
        if net is None:
            raise AttributeError(f"{name}: this layer's parameters exist only once it is part "
                                 f"of a Network (Network copies the layers it is given; use "
                                 f"net.layers[i].{name})")
        view = self._W if name == "W" else self._b
        net._check_writeable(f"assigning layers[i].{name}")
        arr = as_numeric_array(values, name)
        if arr.shape != view.shape:
            raise ValueError(f"{name}: expected shape {view.shape}, got {arr.shape}")
        if arr.dtype.kind == "f" and not all_finite(arr):
            raise ValueError(f"{name}: expected finite values, got NaN or infinity")
        arr = as_dtype_finite(arr, view.dtype, name)
        with net._lock:
            view[...] = arr

    @property
    def n_params(self) -> int:
        """Its entries in the network's params: W's n_in * n_out, and b's n_out if any."""
        return (self.n_in + self.bias) * self.n_out

    def __getstate__(self):     # a copy or a pickle is a layer of no network
        state = self.__dict__.copy()
        state["_net"] = None
        return state

    def __setstate__(self, state):
        state.setdefault("_bias", True)      # a layer pickled before layers had these
        state.setdefault("_init", None)
        self.__dict__.update(state)

    def __repr__(self):
        extra = "" if self.bias else ", bias=False"
        extra += "" if self.init is None else f", init={self.init!r}"
        return f"Dense({self.n_in}, {self.n_out}, {self.activation!r}{extra})"


class Dropout:
    """Inverted dropout after the previous Dense layer's activation, placed between two Dense
    layers: Network([Dense(784, 256, "relu"), Dropout(0.5), Dense(256, 10, "softmax")]).

    During `fit` only, each of those activations is kept with probability 1 - p and scaled by
    1 / (1 - p), or set to 0 (torch.nn.Dropout in training mode); the masks are drawn from
    fit's random stream (the one that shuffles), so a seed reproduces them, and the backward
    pass multiplies by the same mask. Everywhere else (predict, loss, backprop,
    numerical_gradient, validation losses) it is the identity. No parameters.

    Parameters
    ----------
    p : float, default 0.5
        The rate of dropped values, in [0, 1).

    Raises
    ------
    TypeError
        When p is not a real number.
    ValueError
        When p is outside [0, 1).
    """

    def __init__(self, p: float = 0.5) -> None:
        p = as_float(p, "p")
        if not 0 <= p < 1:
            raise ValueError(f"p: expected a dropout rate in [0, 1), got {p}")
        self._p = p

    @property
    def p(self) -> float:
        """The rate of dropped values (read-only)."""
        return self._p

    @property
    def n_params(self) -> int:
        """0: a dropout layer has no parameters."""
        return 0

    def __repr__(self):
        return f"Dropout({self.p!r})"


class NonFiniteResultError(FloatingPointError):
    """A loss or gradient came out NaN or infinite from finite inputs.

    X, y and the parameters are finite but too large for the network's dtype, so the
    arithmetic overflowed; the message gives the largest values and suggests scaling them.
    Raised by `Network.loss`, `Network.backprop`, `numerical_gradient` and `gradcheck`
    (`fit` raises its own `TrainingDivergedError`). A subclass of `FloatingPointError`.

    Parameters
    ----------
    message : str
        What was not finite, and why.
    what : str
        ``"loss"`` or ``"gradient"``, kept as the attribute `what`.
    """

    what: str

    def __init__(self, message: str, what: str) -> None:
        super().__init__(message)
        self.what = what


def _largest(a):
    return float(np.max(np.abs(a), initial=0.0)) if a.size else 0.0


def check_network(net: Any, argument: str = "net") -> Model:
    """net itself, or a TypeError naming the argument when it is not a Network."""
    if not isinstance(net, Model):
        raise TypeError(f"{argument}: expected a fastprop Network, got {type(net).__name__}")
    return net


class Model:
    """A multi-layer perceptron trained by backpropagation.

    All parameters live in one contiguous 1-D buffer, `params`, in layer order
    ``[W1, b1, W2, b2, ...]`` (each W of shape (n_in, n_out), row-major; a layer made with
    bias=False contributes its W alone); each layer's `W` and `b` are views into it, and a
    gradient has the same layout. Every computation is one call into compiled code. One
    network has one dtype; inputs are converted to it, copied only when they must be.

    Parameters
    ----------
    layers : list of Dense and Dropout
        The layers in order, each Dense's `n_in` equal to the previous Dense's `n_out`;
        ``"softmax"`` only in the last. A `Dropout` may stand between two Dense layers
        (`layers` keeps it; the parameters, the compiled description and `save` follow the
        Dense layers). The network copies them (its own layers are `layers`).
    loss : str, default "mse"
        ``"mse"``, ``"binary_cross_entropy"`` (alias ``"bce"``; a sigmoid or softmax output)
        or ``"cross_entropy"`` (alias ``"ce"``; a softmax output). Mean reduction, the
        values of PyTorch's MSELoss, BCEWithLogitsLoss and CrossEntropyLoss.
    dtype : str or numpy dtype, default "float64"
        ``"float32"`` or ``"float64"``.
    seed : int, numpy.random.Generator or None, default 0
        For the weight initialisation, layer by layer in order, each by its Dense's `init`
        (by default Glorot uniform for sigmoid, tanh, identity and softmax layers, He
        uniform for the relu family; biases zero), and the start of the network's random
        stream (shuffling, dropout masks), which `fit` continues. None: fresh entropy.

    Raises
    ------
    TypeError
        When a layer is not a `Dense` or `Dropout`.
    ValueError
        When the layers do not chain (n_in against the previous n_out), softmax is in a
        hidden layer or over one unit, a Dropout is not between two Dense layers, the loss
        is unknown or does not suit the output activation, the dtype is not
        float32/float64, or the network is too large.
    """

    def __init__(self, layers: Dense | Sequence[Dense | Dropout], loss: str = "mse",
                 dtype: DTypeLike = "float64", seed: Seed = 0) -> None:
        if isinstance(layers, Dense):
            layers = [layers]
        if not isinstance(layers, (list, tuple)) or len(layers) == 0:
            raise ValueError(f"layers: expected a non-empty list of Dense layers, got {layers!r}")
        previous = None                   # the last Dense layer seen
        for i, layer in enumerate(layers):
            if isinstance(layer, Dropout):
                if i == 0 or i == len(layers) - 1 or isinstance(layers[i - 1], Dropout):
                    where = ("first" if i == 0 else "last" if i == len(layers) - 1
                             else "right after another Dropout")
                    raise ValueError(f"layers[{i}]: expected a Dropout between two Dense "
                                     f"layers, got it {where}")
                continue
            if not isinstance(layer, Dense):
                raise TypeError(f"layers[{i}]: expected a Dense or Dropout layer, got "
                                f"{type(layer).__name__}")
            if previous is not None and layer.n_in != previous.n_out:
                raise ValueError(f"layers[{i}]: expected n_in = {previous.n_out} (the "
                                 f"previous layer's n_out), got {layer.n_in}")
            previous = layer
            if get_activation(layer.activation).output_only and i != len(layers) - 1:
                raise ValueError(f"layers[{i}]: '{layer.activation}' is an output activation; "
                                 f"expected it in the last layer only, got it in layer {i}")
        dense = [l for l in layers if isinstance(l, Dense)]
        if len(dense) > _core.MAX_LAYERS:
            raise ValueError(f"layers: expected at most {_core.MAX_LAYERS} Dense layers, got "
                             f"{len(dense)}")
        total = sum(layer.n_params for layer in layers)          # Python ints: exact
        if total > MAX_ELEMENTS:
            raise ValueError(f"layers: expected at most {MAX_ELEMENTS:,} parameters in all, got "
                             f"a network of {total:,}")
        if layers[-1].activation == "softmax" and layers[-1].n_out == 1:
            raise ValueError("layers[-1]: softmax over a single unit is always 1 (zero "
                             "gradient); expected n_out >= 2, or 'sigmoid' for one output")
        self._loss = get_loss(loss)
        out = layers[-1].activation
        if self._loss.outputs is not None and out not in self._loss.outputs:
            allowed = " or ".join(repr(a) for a in self._loss.outputs)
            raise ValueError(f"loss: {self._loss.name!r} expects a {allowed} output layer, "
                             f"got {out!r}")
        self._dtype = resolve_dtype(dtype)
        self._layers = tuple(Dropout(l.p) if isinstance(l, Dropout)
                             else Dense(l.n_in, l.n_out, l.activation, l.bias, l.init)
                             for l in layers)
        self._sizes = np.array([dense[0].n_in] + [l.n_out for l in dense], dtype=np.int64)
        self._spec = self._make_spec()
        self._params = np.zeros(self._spec.n_params, dtype=self.dtype)   # the C layout's count
        self._bind_views()
        self._init_weights(as_rng(seed))
        # fit's shuffling stream, continued by fit(seed=None): from the same int seed as the
        # weights (a fresh Generator of it), or from a child of a Generator given (whose own
        # draws, the user's, are then those they would be without it)
        self._stream = new_stream(seed, spawn=True)
        self._ws, self._cap = None, 0
        self._lock = threading.RLock()   # one compiled call at a time (see the module doc)
        self._buffer_allocations = 0     # counted so that tests can prove the reuse
        self._grad, self._gather = None, None
        self._job = None    # fit's last compiled job, without its data, for the next call

    @property
    def _dense(self):
        """The Dense layers, in order (the layers less the Dropouts)."""
        return tuple(l for l in self._layers if isinstance(l, Dense))

    def _dropout_rates(self):
        """For each Dense layer, the rate of the Dropout after it (0.0 for none)."""
        rates = []
        for layer in self._layers:
            if isinstance(layer, Dropout):
                rates[-1] = layer.p
            else:
                rates.append(0.0)
        return rates

    def _make_spec(self):
        """The compiled floor's description of this network (shapes, codes), checked there."""
        dense = self._dense
        acts = [get_activation(l.activation).code for l in dense]
        return _core.NetSpec(self._sizes, acts, self._loss.code, [l.bias for l in dense],
                             self._dropout_rates())

    def _bind_views(self):
        offset = 0
        for layer in self._dense:
            n_w = layer.n_in * layer.n_out
            layer._W = self._params[offset:offset + n_w].reshape(layer.n_in, layer.n_out)
            layer._b = self._params[offset + n_w:offset + layer.n_params] if layer.bias else None
            layer._net = weakref.ref(self)
            offset += layer.n_params

    def _init_weights(self, rng):
        for layer in self._dense:
            layer.W[...] = _draw_weights(layer, rng, self.dtype)
            if layer.b is not None:
                layer.b[...] = 0

    # ---- parameters -------------------------------------------------------------------
    @property
    def params(self) -> FloatArray:
        """The flat parameter buffer, shape (n_params,), of the network's dtype.

        Writable in place; the layers' W and b are views into it. Assigning
        (``net.params = values``) copies values of shape (n_params,) into it after checking
        that they are real and finite (ValueError or TypeError otherwise, nothing changed).
        """
        return self._params

    @params.setter
    def params(self, values: ArrayLike) -> None:
        arr = as_numeric_array(values, "params")
        if arr.shape != self._params.shape:
            raise ValueError(f"params: expected shape {self._params.shape}, got {arr.shape}")
        if arr.dtype.kind == "f" and not all_finite(arr):
            raise ValueError("params: expected finite values, got NaN or infinity")
        arr = as_dtype_finite(arr, self.dtype, "params")
        with self._lock:
            self._params[...] = arr

    @property
    def n_params(self) -> int:
        """N, the number of parameters (the length of `params`)."""
        return self._params.shape[0]

    # The layers and the dtype are fixed at construction (the compiled description, the
    # buffer and `save` follow them): a tuple and read-only properties.
    @property
    def layers(self) -> tuple[Dense | Dropout, ...]:
        """The layers (Dense, and Dropout), a tuple (read-only)."""
        return self._layers

    @property
    def dtype(self) -> np.dtype[Any]:
        """The network's numpy dtype, float32 or float64 (read-only)."""
        return self._dtype

    def __getstate__(self):
        """copy.deepcopy and pickle: the parameters, the layers' shapes and activations and the
        loss; not the lock, nor the workspaces (rebuilt on demand), nor the layer objects (the
        copy gets its own, viewing its own parameters)."""
        state = self.__dict__.copy()
        for key in ("_lock", "_ws", "_grad", "_gather", "_spec", "_job", "_empty"):
            state.pop(key, None)
        with self._lock:      # not half of an update that fit is writing in another thread
            state["_params"] = self._params.copy()
            state["_stream"] = self._stream.copy()
        state["_layers"] = [("dropout", l.p) if isinstance(l, Dropout)
                            else (l.n_in, l.n_out, l.activation, l.bias, l.init)
                            for l in self._layers]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "_stream" not in state:      # pickled before networks kept their stream
            self._stream = new_stream(0)
        self._layers = tuple(Dropout(spec[1]) if spec[0] == "dropout" else Dense(*spec)
                             for spec in state["_layers"])
        self._spec = self._make_spec()
        self._lock = threading.RLock()
        self._ws, self._cap, self._grad, self._gather = None, 0, None, None
        self._job = None
        self._bind_views()

    def __copy__(self):
        """A copy of a network is a network of its own (the parameters copied): a shallow copy
        would share the parameters without sharing the lock that guards them."""
        import copy
        return copy.deepcopy(self)

    @property
    def loss_name(self) -> str:
        """The loss's canonical name, e.g. ``"cross_entropy"``."""
        return self._loss.name

    @property
    def n_in(self) -> int:
        """Inputs of the network (columns of X)."""
        return self._spec.n_in

    @property
    def n_out(self) -> int:
        """Outputs of the network (columns of `predict`'s result)."""
        return self._spec.n_out

    def __repr__(self):
        rows = [f"  ({i}) {l!r}" + ("" if isinstance(l, Dropout) else f"  W {l.W.shape}, "
                + (f"b {l.b.shape}" if l.bias else "no b")) for i, l in enumerate(self.layers)]
        return (f"Network(\n" + "\n".join(rows) + f"\n  loss={self._loss.name!r}, "
                f"dtype={self.dtype.name!r}, n_params={self.n_params:,}\n)")

    # ---- compiled calls ---------------------------------------------------------------
    def _drop_large_workspace(self, cap_before):
        """After an evaluation call (predict, loss) that grew the workspace: one above
        KEEP_WORKSPACE_BYTES is not kept for the next call (a predict over a large X would
        otherwise hold memory the size of its activations for the network's life). A
        workspace that training allocated is kept."""
        if (self._cap > cap_before and self._ws is not None
                and self._ws.nbytes > KEEP_WORKSPACE_BYTES):
            self._ws, self._cap = None, 0

    def _workspace(self, rows):
        """The workspace for `rows` rows a call: allocated when a call needs more, else reused."""
        if rows > self._cap:
            size = self._spec.workspace_size(rows)
            self._ws, self._cap = np.empty(size, dtype=self.dtype), rows
            self._buffer_allocations += 1
        return self._ws

    def _train_buffers(self, rows):
        """Workspace, gradient and batch-gather buffers for training with `rows`-row batches,
        kept between calls (a large network's gradient is worth not zeroing pages for)."""
        ws = self._workspace(rows)
        if self._grad is None:
            self._grad = np.empty_like(self._params)
        need = rows * (self.n_in + self.n_out)
        if self._gather is None or self._gather.shape[0] < need:
            self._gather = np.empty(need, dtype=self.dtype)
            self._buffer_allocations += 1
        return ws, self._grad, self._gather

    def _no_rows(self):
        """Empty (0, n_in) and (0, n_out) arrays of the dtype, read-only, made once: fit's
        validation data when it has none."""
        kept = self.__dict__.get("_empty")
        if kept is None:
            kept = (np.empty((0, self.n_in), dtype=self.dtype),
                    np.empty((0, self.n_out), dtype=self.dtype))
            for a in kept:
                a.flags.writeable = False
            self._empty = kept
        return kept

    def _features(self, X, name="X"):
        return as_features(X, self.n_in, self.dtype, name)

    def _inputs(self, X, y, names=("X", "y")):
        Xc = self._features(X, names[0])
        if y is None:
            raise TypeError(f"{names[1]}: expected targets for the {Xc.shape[0]} samples of "
                            f"{names[0]}, got None")
        return Xc, prepare_targets(self._loss, y, Xc.shape[0], self.n_out, self.dtype, names[1])

    def _check_writeable(self, what):
        """A ValueError naming params when the user has made them read-only: `what` writes
        them in place."""
        if not self._params.flags.writeable:
            raise ValueError(f"params: {what} writes net.params in place, but they were made "
                             f"read-only (net.params.flags.writeable is False); set it back "
                             f"to True first")

    def _non_finite(self, caller, what, value, Xc, Y):
        """The NonFiniteResultError for a `what` ("loss" or "gradient") that came out
        non-finite in `caller` (only ever built on that path: the checks are the caller's)."""
        dt = self.dtype.name
        shown = f" ({value})" if value is not None else ""
        if not all_finite(self._params):
            cause = ("net.params hold NaN or infinity (written into the buffer directly: "
                     "assigning net.params or a layer's W or b refuses them)")
        else:
            cause = (f"X, y and the parameters are finite but too large for {dt} arithmetic "
                     f"(largest |X| {_largest(Xc):.3g}, |y| {_largest(Y):.3g}, "
                     f"|param| {_largest(self._params):.3g}; the largest {dt} is "
                     f"{float(np.finfo(self.dtype).max):.3g}), so it overflowed; scale them "
                     f"(e.g. standardise X, and y for regression)")
        return NonFiniteResultError(f"{caller}: the {what} is not finite{shown}: {cause}",
                                    what)

    def _loss_value(self, Xc, Y):
        """The loss on checked inputs (from _inputs), finite or not."""
        with self._lock:
            cap_before = self._cap
            ws = self._workspace(Xc.shape[0])
            value = _core.net_loss(self._spec, self._params, Xc, Y, ws, self._cap)
            self._drop_large_workspace(cap_before)
            return float(value)

    def predict(self, X: ArrayLike) -> FloatArray:
        """The output activations for X: one forward pass.

        Parameters
        ----------
        X : array_like, shape (n, n_in)
            Samples in rows, real numbers (converted to the network's dtype). One sample is
            shape (1, n_in).

        Returns
        -------
        ndarray, shape (n, n_out)
            The last layer's activations (probabilities for a softmax or sigmoid output), of
            the network's dtype.

        Raises
        ------
        TypeError
            When X is not numeric (strings, complex, objects).
        ValueError
            When X is not 2-D with n_in columns, is empty, or holds NaN or infinity.
        """
        with self._lock:     # X ready as it is and the workspace big enough: one compiled call
            out = _core.predict_small(self._spec, self._params, X, self._ws, self._cap)
        if out is not None:
            return out
        Xc = self._features(X)
        out = np.empty((Xc.shape[0], self.n_out), dtype=self.dtype)
        with self._lock:
            cap_before = self._cap
            ws = self._workspace(self._spec.forward_rows(Xc.shape[0]))   # a block of rows
            _core.forward(self._spec, self._params, Xc, ws, self._cap, out)
            self._drop_large_workspace(cap_before)
        return out

    def loss(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """The mean loss on (X, y): one forward pass.

        Parameters
        ----------
        X : array_like, shape (n, n_in)
            Samples in rows.
        y : array_like, shape (n, n_out) or (n,)
            Targets. (n,) for a single output; for ``"cross_entropy"`` integer class labels
            (n,) in [0, n_out) or one-hot / probability rows (n, n_out); for
            ``"binary_cross_entropy"`` values in [0, 1].
        sample_weight : array_like, shape (n,), optional
            Weights >= 0 (not all zero): the loss is then the weighted mean of the samples'
            losses, ``sum(w_i l_i) / sum(w_i)`` (scikit-learn's MLP).

        Returns
        -------
        float
            The loss (mean reduction, as PyTorch's losses).

        Raises
        ------
        TypeError
            When X, y or sample_weight is not numeric, or y is None.
        ValueError
            When a shape does not match (the message gives both), a value is NaN or
            infinite, labels are out of range or not integers, or a weight is negative.
        NonFiniteResultError
            When the loss is not finite although the inputs are (too large for the dtype).
        """
        Xc, Y = self._inputs(X, y)
        if sample_weight is not None:
            from fastprop.training import _sample_weight
            w = _sample_weight(sample_weight, Xc.shape[0])
            with self._lock:
                cap_before = self._cap
                ws = self._workspace(Xc.shape[0])
                value = float(_core.net_loss_weighted(self._spec, self._params, Xc, Y, w, ws,
                                                      self._cap))
                self._drop_large_workspace(cap_before)
        else:
            value = self._loss_value(Xc, Y)
        if not np.isfinite(value):
            raise self._non_finite("loss", "loss", value, Xc, Y)
        return value

    def backprop(self, X: ArrayLike, y: ArrayLike) -> tuple[float, FloatArray]:
        """The loss and its gradient: one forward and one backward pass.

        Parameters
        ----------
        X : array_like, shape (n, n_in)
            Samples in rows.
        y : array_like, shape (n, n_out) or (n,)
            Targets, as for `loss`.

        Returns
        -------
        loss : float
            The mean loss, as `loss` gives it.
        grad : ndarray, shape (N,)
            d loss / d params, laid out like `params`, of the network's dtype.

        Raises
        ------
        TypeError, ValueError
            For bad X or y, as `loss`.
        NonFiniteResultError
            When the loss or an entry of grad is not finite.
        """
        Xc, Y = self._inputs(X, y)
        grad = np.empty_like(self._params)
        with self._lock:
            ws = self._workspace(Xc.shape[0])
            loss = float(_core.backprop(self._spec, self._params, Xc, Y, ws, self._cap, grad))
        if not np.isfinite(loss):
            raise self._non_finite("backprop", "loss", loss, Xc, Y)
        if not all_finite(grad):       # one compiled read pass over N values
            raise self._non_finite("backprop", "gradient", None, Xc, Y)
        return loss, grad

    def _repeat_passes(self, X, Y, grad, backward, reps):
        """Runs the loss (backward=False) or backprop (backward=True, into grad) `reps` times
        in one compiled call, for timing passes shorter than a Python call (fastprop bench).
        X and Y come from _inputs. Returns the last loss."""
        with self._lock:
            ws = self._workspace(X.shape[0])
            return _core.repeat_passes(self._spec, self._params, X, Y, ws, self._cap,
                                          grad, backward, reps)
