"""`explain` and `fastprop explain`: one entry of the gradient derived by the chain rule,
factor by factor, as the classic backpropagation tutorial derives dL/dw for its 2-3-1 sigmoid
network on the input (1, 1) with target 0; beside it backprop's entry and a central finite
difference, which must agree.

The factors are recomputed here in float64 numpy from `net.params` (a forward pass of its
own, the activations' derivatives from their formulas in csrc/nn/fp_activation.inc, the
losses' from csrc/nn/fp_loss.inc): an explanation, not a hot loop, so it never takes the
compiled path whose result it is checked against. It never writes the network."""
from __future__ import annotations

import argparse
import copy
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fastprop._cli_util import CommandError, int_option
from fastprop._model import Dense, Dropout, Model, check_network
from fastprop._validation import as_int
from fastprop.gradients import numerical_gradient
from fastprop._typing import ArrayLike
from numpy.typing import NDArray

if TYPE_CHECKING:
    from fastprop.network import Network

__all__ = ["explain", "Explanation", "tutorial_network"]

LEAKY_SLOPE = 0.01       # csrc/nn/fp_kernels.h, FP_LEAKY_SLOPE
SOFTPLUS_THRESHOLD = 20.0
GELU_BETA, GELU_KAPPA = math.sqrt(2.0 / math.pi), 0.044715
_erf = np.vectorize(math.erf, otypes=[np.float64])

# How closely the chain rule, backprop and the central difference must agree, by the
# network's dtype: (rtol, atol per unit of max(1, |loss|)). float64's central difference is
# good to about 1e-10; float32's backprop and difference carry float32's rounding.
_TOLERANCE = {np.dtype(np.float64): (1e-6, 1e-9), np.dtype(np.float32): (5e-3, 1e-4)}


def _sigmoid(z):
    e = np.exp(-np.abs(z))            # exp of a non-positive number: no overflow
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus_slope(z):
    e = np.exp(np.minimum(z, SOFTPLUS_THRESHOLD))
    return np.where(z > SOFTPLUS_THRESHOLD, 1.0, e / (e + 1.0))


def _gelu_tanh_slope(z):
    s = _sigmoid(2.0 * GELU_BETA * (z + GELU_KAPPA * z ** 3))
    return s + 2.0 * z * s * (1.0 - s) * GELU_BETA * (1.0 + 3.0 * GELU_KAPPA * z * z)


# name -> (f(z), f'(z) from z and a = f(z), f' in words with {a} and {z} for the symbols).
# softmax is not here: its Jacobian couples a row (see _output_delta).
_RULES = {
    "identity": (lambda z: z, lambda z, a: np.ones_like(z), "1 (identity)"),
    "sigmoid": (_sigmoid, lambda z, a: a * (1.0 - a), "{a}(1 − {a}), sigmoid's slope"),
    "tanh": (np.tanh, lambda z, a: 1.0 - a * a, "1 − {a}², tanh's slope"),
    "relu": (lambda z: np.where(z > 0, z, 0.0), lambda z, a: np.where(z > 0, 1.0, 0.0),
             "1 if {z} > 0, else 0 (relu)"),
    "leaky_relu": (lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
                   lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE),
                   f"1 if {{z}} > 0, else {LEAKY_SLOPE:g} (leaky_relu)"),
    "gelu": (lambda z: 0.5 * z * (1.0 + _erf(z / math.sqrt(2.0))),
             lambda z, a: (0.5 * (1.0 + _erf(z / math.sqrt(2.0)))
                           + z * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)),
             "Φ({z}) + {z}·φ({z}) (gelu)"),
    "gelu_tanh": (lambda z: z * _sigmoid(2.0 * GELU_BETA * (z + GELU_KAPPA * z ** 3)),
                  lambda z, a: _gelu_tanh_slope(z), "s + 2{z}·s(1 − s)·u′, s = sigmoid(2u) "
                                                    "(gelu_tanh)"),
    "silu": (lambda z: z * _sigmoid(z),
             lambda z, a: _sigmoid(z) * (1.0 + z * (1.0 - _sigmoid(z))),
             "s(1 + {z}(1 − s)), s = sigmoid({z}) (silu)"),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
            lambda z, a: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0))),
            "1 if {z} > 0, else exp({z}) (elu)"),
    "softplus": (lambda z: np.where(z > SOFTPLUS_THRESHOLD, z,
                                    np.log1p(np.exp(np.minimum(z, SOFTPLUS_THRESHOLD)))),
                 lambda z, a: _softplus_slope(z), "sigmoid({z}) (softplus; 1 above z = 20)"),
}


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


@dataclass
class Explanation:
    """The chain rule behind one entry of the gradient, as `explain` returns it; ``str()`` is
    the derivation as ``fastprop explain`` prints it.

    Attributes
    ----------
    weight : str
        The parameter's name, e.g. ``"layers[0].W[0, 1]"``.
    index : int
        Its place in net.params.
    value : float
        Its value.
    loss : float
        The loss at (X, y).
    factors : list of (str, float)
        (meaning, value) in the chain's order, from the loss back to the weight.
    gradient : float
        The chain rule's total, dL/dw: the product of the factors' values.
    backprop : float
        The entry of net.backprop's gradient at the same place.
    numerical : float
        A central finite difference of net.loss in that one parameter.
    deltas : list of (int, ndarray)
        (layer, delta), delta = dL/dz of that layer, from the output down to the weight's
        layer (several samples: the mean over them).
    paths : bool
        True when the weight reaches the loss by several paths: one factor is their sum.
    samples : tuple of Explanation
        With several samples: one Explanation each, of that sample's own loss L_s.
    forward : list of str
        The forward pass, as lines of text (one sample).
    rtol, atol : float
        The tolerances of `agree`.
    """
    weight: str
    index: int
    value: float
    loss: float
    factors: list[tuple[str, float]]
    gradient: float
    backprop: float
    numerical: float
    deltas: list[tuple[int, Any]] = field(default_factory=list)
    paths: bool = False
    samples: tuple[Explanation, ...] = ()
    forward: list[str] = field(default_factory=list)
    rtol: float = 1e-6
    atol: float = 0.0

    @property
    def agree(self) -> bool:
        """True when the chain rule's total, backprop's entry and the central difference agree:
        ``|g - other| <= atol + rtol * max(|g|, |other|)`` for both others."""
        g = self.gradient
        return all(abs(g - o) <= self.atol + self.rtol * max(abs(g), abs(o))
                   for o in (self.backprop, self.numerical))

    def __repr__(self):
        return (f"Explanation(weight={self.weight!r}, gradient={self.gradient!r}, "
                f"backprop={self.backprop!r}, numerical={self.numerical!r}, "
                f"factors={len(self.factors)}, agree={self.agree})")

    def __str__(self):
        lines = [f"∂L/∂w for w = {self.weight} = {self.value:.6g} (params[{self.index}]), "
                 f"L = {self.loss:.6g}"]
        lines += self.forward
        if self.samples:
            n = len(self.samples)
            lines.append(f"{n} samples: L is their mean, L = (1/{n}) Σ_s L_s, so "
                         f"∂L/∂w = (1/{n}) Σ_s ∂L_s/∂w, each a chain of its own "
                         f"(.samples[s]):")
            shown = 4 if n > 5 else n
            for s, e in enumerate(self.samples[:shown]):
                lines.append(f"  sample {s}: ∂L_{s}/∂w = " + " · ".join(
                    f"{v:.6g}" for _, v in e.factors) + f" = {e.gradient:.10g}")
            if n > shown:
                lines.append(f"  ... ({n - shown} more samples)")
        if self.paths or self.samples:
            which = "mean over the samples" if self.samples else "one sample"
            lines.append(f"the delta of each layer, δ = ∂L/∂z ({which}), output first:")
            for layer, d in self.deltas:
                lines.append(f"  δ of layers[{layer}] = {_vector(d)}")
        lines.append("chain rule, from the loss back to the weight:")
        width = max(len(m) for m, _ in self.factors)
        for meaning, v in self.factors:
            lines.append(f"  {meaning:<{width}} = {v: .10g}")
        lines.append(f"product, the chain rule's ∂L/∂w  = {self.gradient: .12g}")
        lines.append(f"backprop (net.backprop) entry   = {self.backprop: .12g}")
        lines.append(f"central finite difference       = {self.numerical: .12g}")
        verdict = "yes" if self.agree else "NO"
        lines.append(f"agree: {verdict} (|chain − backprop| "
                     f"{abs(self.gradient - self.backprop):.2g}, |chain − numerical| "
                     f"{abs(self.gradient - self.numerical):.2g}; tolerance {self.atol:.2g} + "
                     f"{self.rtol:g}·|∂L/∂w|)")
        return "\n".join(lines)


def _vector(v, shown=6):
    """A short rendering of a 1-D array: its first `shown` entries."""
    v = np.asarray(v).ravel()
    body = ", ".join(f"{x:.6g}" for x in v[:shown])
    more = f", ... ({v.size} in all)" if v.size > shown else ""
    return f"[{body}{more}]" if v.size > 1 else f"{v[0]:.6g}"


def _symbols(positions):
    """(z, a) names of each Dense layer, given their positions in net.layers: the tutorial's
    z_h, a_h, z_out and ŷ for one hidden layer; z0, a0, z1, ... (the positions) for more."""
    names = []
    for m, pos in enumerate(positions):
        if m == len(positions) - 1:
            names.append(("z_out", "ŷ"))
        elif len(positions) == 2:
            names.append(("z_h", "a_h"))
        else:
            names.append((f"z{pos}", f"a{pos}"))
    return names


def _unit(symbol, k, width):
    return f"{symbol}[{k}]" if width > 1 else symbol


class _Layers:
    """The network's Dense layers in float64 with their offsets in params and positions in
    net.layers, checked for what explain can follow. A Dropout is the identity outside fit
    (in backprop, numerical_gradient and loss too): it is skipped."""

    def __init__(self, net):
        p = np.asarray(net.params, dtype=np.float64)
        self.W, self.b, self.acts, self.offsets, self.pos = [], [], [], [], []
        offset = 0
        for k, layer in enumerate(net.layers):
            if isinstance(layer, Dropout):
                continue
            if not isinstance(layer, Dense):
                raise ValueError(f"net: explain follows networks of Dense (and Dropout) "
                                 f"layers; layers[{k}] is a {type(layer).__name__}")
            if layer.activation not in _RULES and layer.activation != "softmax":
                raise ValueError(f"net: explain does not know the derivative of layers[{k}]'s "
                                 f"activation {layer.activation!r}; it knows "
                                 f"{', '.join(list(_RULES) + ['softmax'])}")
            n_w = layer.W.size
            W = p[offset:offset + n_w].reshape(layer.n_in, layer.n_out)
            w_offset, offset = offset, offset + n_w
            b, b_offset = None, None
            if layer.b is not None:        # a layer built with bias=False has no b in params
                b, b_offset = p[offset:offset + layer.n_out], offset
                offset += layer.n_out
            self.W.append(W)
            self.b.append(b)
            self.acts.append(layer.activation)
            self.offsets.append((w_offset, b_offset))
            self.pos.append(k)
        if offset != net.n_params:
            raise ValueError(f"net: its layers' W and b add up to {offset} parameters, but "
                             f"net.params holds {net.n_params}; explain cannot place them")

    def forward(self, x):
        """Lists zs, as_ of each layer for one sample x (n_in,)."""
        zs, as_, a = [], [], x
        for W, b, act in zip(self.W, self.b, self.acts):
            z = a @ W if b is None else a @ W + b
            a = _softmax(z) if act == "softmax" else _RULES[act][0](z)
            zs.append(z)
            as_.append(a)
        return zs, as_


def _output_delta(loss, act, z, a, t):
    """For one sample: (dL/dy_hat or None when the loss is taken from the logits, the output
    activation's slope f'(z) or None for softmax, dL/dz_out). L is the sample's own loss,
    mean-reduced over its m outputs as fastprop's losses are (csrc/nn/fp_loss.inc)."""
    m = z.shape[0]
    if loss == "cross_entropy":                       # softmax + cross-entropy, fused
        return None, None, a * t.sum() - t
    if loss == "binary_cross_entropy" and act == "sigmoid":     # from the logits, fused
        return None, None, (a - t) / m
    if loss == "mse":
        g_a = 2.0 * (a - t) / m
    else:                                             # binary cross-entropy on probabilities
        g_a = (a - t) / np.maximum(a * (1.0 - a), 1e-12) / m
    if act == "softmax":
        jacobian = np.diag(a) - np.outer(a, a)        # symmetric: J^T g = J g
        return g_a, None, jacobian @ g_a
    slope = _RULES[act][1](z, a)
    return g_a, slope, g_a * slope


def _loss_words(loss, act, m, y, yh, z, t_sum):
    """The first factor's meaning: dL/dy_hat (or dL/dz_out when fused) in words; t_sum is the
    sum of the sample's targets (cross-entropy's gradient has it: 1 for one-hot rows)."""
    per = f"/{m}" if m > 1 else ""
    if loss == "mse":
        return f"∂L/∂{yh} = 2({yh} − {y}){per}, mse's slope at the output"
    if loss == "cross_entropy":
        first = yh if t_sum == 1.0 else f"{yh}·Σy"
        return (f"∂L/∂{z} = {first} − {y}, cross-entropy and softmax together "
                f"(from the logits)")
    if act == "sigmoid":
        return (f"∂L/∂{z} = ({yh} − {y}){per}, binary cross-entropy and sigmoid together "
                f"(from the logits)")
    return f"∂L/∂{yh} = ({yh} − {y})/({yh}(1 − {yh})){per}, binary cross-entropy's slope"


def _sample_chain(lay, loss, x, t, layer, i, j, param):
    """For one sample x (n_in,), t (n_out,): (factors, deltas, paths, zs, as_) of dL_s/dw for
    the weight of Dense layer number `layer` (an index into lay, not net.layers); paths: the
    weight reaches the loss by several paths, whose sum is one factor."""
    n_layers = len(lay.W)
    out = n_layers - 1
    names = _symbols(lay.pos)
    pos = lay.pos
    widths = [W.shape[1] for W in lay.W]
    zs, as_ = lay.forward(x)

    def z_(m, k):
        return _unit(names[m][0], k, widths[m])

    def a_(m, k):
        return _unit(names[m][1], k, widths[m])

    act_o = lay.acts[out]
    g_a, slope_o, g_z = _output_delta(loss, act_o, zs[out], as_[out], t)
    deltas = {out: g_z}
    back = {}                                  # dL/da of the hidden layers
    slopes = {}
    for m in range(out - 1, layer - 1, -1):
        back[m] = lay.W[m + 1] @ deltas[m + 1]          # the sum over layer m+1's units
        slopes[m] = _RULES[lay.acts[m]][1](zs[m], as_[m])
        deltas[m] = back[m] * slopes[m]

    factors = []
    single_path = layer == out or all(widths[m] == 1 for m in range(layer + 1, n_layers))
    if single_path:
        k = j if layer == out else 0
        fused = g_a is None
        if fused:
            factors.append((_loss_words(loss, act_o, widths[out], _unit("y", k, widths[out]),
                                        a_(out, k), z_(out, k), t.sum()), g_z[k]))
        elif act_o == "softmax":               # every output depends on z_out[k]
            factors.append((f"∂L/∂{z_(out, k)} = Σ_c ∂L/∂ŷ[c]·∂ŷ[c]/∂{z_(out, k)}, softmax "
                            f"couples the outputs", g_z[k]))
        else:
            factors.append((_loss_words(loss, act_o, widths[out], _unit("y", k, widths[out]),
                                        a_(out, k), z_(out, k), t.sum()), g_a[k]))
            words = _RULES[act_o][2].format(a=a_(out, k), z=z_(out, k))
            factors.append((f"∂{a_(out, k)}/∂{z_(out, k)} = {words}", slope_o[k]))
        for m in range(out - 1, layer - 1, -1):
            u = j if m == layer else 0
            factors.append((f"∂{z_(m + 1, 0)}/∂{a_(m, u)} = layers[{pos[m + 1]}].W[{u}, 0], the "
                            f"weight between them", lay.W[m + 1][u, 0]))
            words = _RULES[lay.acts[m]][2].format(a=a_(m, u), z=z_(m, u))
            factors.append((f"∂{a_(m, u)}/∂{z_(m, u)} = {words}", slopes[m][u]))
    else:
        nxt = pos[layer + 1]
        factors.append((f"∂L/∂{a_(layer, j)} = Σ_k δ{nxt}[k]·layers[{nxt}].W[{j}, k], summed "
                        f"over the {widths[layer + 1]} units of layers[{nxt}]",
                        back[layer][j]))
        words = _RULES[lay.acts[layer]][2].format(a=a_(layer, j), z=z_(layer, j))
        factors.append((f"∂{a_(layer, j)}/∂{z_(layer, j)} = {words}", slopes[layer][j]))
    if param == "b":
        factors.append((f"∂{z_(layer, j)}/∂b = 1, the bias is added to it", 1.0))
    else:
        src = x if layer == 0 else as_[layer - 1]
        src_name = (_unit("x", i, x.shape[0]) if layer == 0
                    else a_(layer - 1, i))
        factors.append((f"∂{z_(layer, j)}/∂w = {src_name}, the value the weight multiplies",
                        float(src[i])))
    return ([(meaning, float(v)) for meaning, v in factors],
            [(pos[m], deltas[m]) for m in range(out, layer - 1, -1)], not single_path, zs, as_)


def _index(lay, layer, i, j, param):
    w_offset, b_offset = lay.offsets[layer]
    if param == "b":
        return b_offset + j
    return w_offset + i * lay.W[layer].shape[1] + j


def _check_position(net, layer, i, j, param):
    """layer, i, j and param checked against the network; ValueError/TypeError naming them."""
    n = len(net.layers)
    layer = as_int(layer, "layer")
    if not 0 <= layer < n:
        raise ValueError(f"layer: expected a layer index in [0, {n}) (the network has {n} "
                         f"layers), got {layer}")
    if isinstance(net.layers[layer], Dropout):
        dense = [k for k, l in enumerate(net.layers) if not isinstance(l, Dropout)]
        raise ValueError(f"layer: expected the index of a Dense layer (one of {dense}), got "
                         f"{layer}, a Dropout, which has no parameters")
    if not isinstance(param, str):
        raise TypeError(f"param: expected 'W' or 'b', got {type(param).__name__}")
    if param not in ("W", "b"):
        raise ValueError(f"param: expected 'W' (a weight) or 'b' (a bias), got {param!r}")
    dense = net.layers[layer]
    i, j = as_int(i, "i"), as_int(j, "j")
    if param == "b":
        if dense.b is None:
            raise ValueError(f"param: expected 'W': layers[{layer}] has no bias (it was "
                             f"made with bias=False), got 'b'")
        if i != 0:
            raise ValueError(f"i: expected 0 with param='b' (a bias b[j] has no input "
                             f"unit), got {i}")
    elif not 0 <= i < dense.n_in:
        raise ValueError(f"i: expected an input unit of layers[{layer}] in [0, {dense.n_in}), "
                         f"got {i}")
    if not 0 <= j < dense.n_out:
        raise ValueError(f"j: expected an output unit of layers[{layer}] in "
                         f"[0, {dense.n_out}), got {j}")
    return layer, i, j


def _as_array(a):
    """np.asarray(a), or None when it cannot be one (net._inputs then says why, naming it)."""
    try:
        return np.asarray(a)
    except (ValueError, TypeError):
        return None


def _inputs(net, X, y):
    """X and y checked as the network checks them; a single sample X of shape (n_in,) is
    taken as one row, with its y a number or (n_out,) (or a label (1,) for cross-entropy)."""
    arr = _as_array(X)
    if arr is not None and arr.ndim == 1 and arr.shape[0] == net.n_in and arr.dtype.kind in "biuf":
        X = arr.reshape(1, -1)
        y_arr = None if isinstance(y, (str, bytes)) or y is None else _as_array(y)
        if y_arr is not None and y_arr.ndim == 0:
            y = y_arr.reshape(1)
        elif y_arr is not None and y_arr.ndim == 1 and y_arr.shape[0] == net.n_out:
            y = y_arr.reshape(1, -1)
    return net._inputs(X, y)


def _numerical(net, Xc, Y, index):
    """The central difference in params[index], from fastprop.numerical_gradient (perturbed in
    place and restored bit-exactly); on a copy when the user made params read-only."""
    target = net if net.params.flags.writeable else copy.deepcopy(net)
    idx = np.array([index], dtype=np.int64)
    return float(numerical_gradient(target, Xc, Y, scheme="central", indices=idx)[0])


def explain(net: Model, X: ArrayLike, y: ArrayLike, layer: int = 0, i: int = 0, j: int = 0,
            param: str = "W") -> Explanation:
    """The chain rule behind one entry of net's gradient at (X, y): an Explanation whose
    `factors` are the derivatives it multiplies, `gradient` their product, `backprop` the
    entry of net.backprop(X, y)'s gradient and `numerical` a central finite difference.

    The weight is net.layers[layer].W[i, j], from input unit i to output unit j of that Dense
    layer (param="b": the bias b[j], with i = 0); a Dropout is the identity here, as in
    backprop (it acts during fit only), so the chain passes through it. For an output-layer
    weight the chain is dL/dy_hat · dy_hat/dz · dz/dw; for a hidden one it goes on through
    each layer above, dz_out/da_h · da_h/dz_h, down to dz_h/dw. Where the loss is taken from the logits
    (sigmoid + binary cross-entropy, softmax + cross-entropy) dL/dz_out is one factor, and so
    it is for a softmax output under another loss, whose Jacobian couples the outputs. Where
    the weight reaches the loss by several paths (a layer above it with more than one unit),
    the sum over them is one factor, dL/da = Σ_k δ[k] W[j, k], and `deltas` holds each
    layer's delta, δ = dL/dz.

    X: one sample (n_in,) or (n, n_in); y as net.loss takes it. With n > 1 samples the loss is
    their mean, L = (1/n) Σ_s L_s, and `samples` holds each sample's own Explanation (its
    chain for L_s, the loss of that sample alone); then `factors` are [1/n, Σ_s dL_s/dw] and
    `deltas` the layers' deltas averaged over the samples: the gradient is a sum of products,
    not a product of averaged factors. Cost: a few numpy passes and two forward passes per
    sample beside one backprop.

    Computed in float64 from net.params (a float32 network's factors are its own float32
    values, in float64 arithmetic). Nothing is changed, by any call.

    Parameters
    ----------
    net : Network
        The network (never written).
    X : array_like, shape (n_in,) or (n, n_in)
        One sample, or n samples in rows.
    y : array_like
        Targets, as `Network.loss` takes them (a single sample's as a number, a label or a
        one-hot row).
    layer : int, default 0
        The index in net.layers of the Dense layer holding the weight.
    i : int, default 0
        Its input unit (0 for a bias).
    j : int, default 0
        Its output unit.
    param : {"W", "b"}, default "W"
        A weight W[i, j] or a bias b[j].

    Returns
    -------
    Explanation

    Raises
    ------
    TypeError, ValueError
        Naming the argument, for a layer, i, j or param out of range (or a layer that is
        not Dense) and for X or y as the network refuses them.
    """
    check_network(net)
    if net.loss_name not in ("mse", "binary_cross_entropy", "cross_entropy"):
        raise ValueError(f"net: explain does not know the derivative of the loss "
                         f"{net.loss_name!r}")
    layer, i, j = _check_position(net, layer, i, j, param)
    lay = _Layers(net)
    d = lay.pos.index(layer)                   # the weight's layer among the Dense ones
    Xc, Y = _inputs(net, X, y)
    loss, grad = net.backprop(Xc, Y)
    index = _index(lay, d, i, j, param)
    numerical = _numerical(net, Xc, Y, index)
    rtol, atol = _TOLERANCE[net.dtype]
    atol *= max(1.0, abs(loss))
    value = float(net.params[index])
    name = (f"layers[{layer}].b[{j}]" if param == "b" else f"layers[{layer}].W[{i}, {j}]")
    X64, Y64 = Xc.astype(np.float64), Y.astype(np.float64)
    common = dict(weight=name, index=index, value=value, rtol=rtol, atol=atol)
    if Xc.shape[0] == 1:
        factors, deltas, paths, zs, as_ = _sample_chain(lay, net.loss_name, X64[0], Y64[0],
                                                        d, i, j, param)
        forward = _forward_lines(lay, X64[0], Y64[0], zs, as_)
        return Explanation(loss=loss, factors=factors, gradient=math.prod(v for _, v in factors),
                           backprop=float(grad[index]), numerical=numerical, deltas=deltas,
                           paths=paths, forward=forward, **common)
    samples = tuple(explain(net, Xc[s:s + 1], Y[s:s + 1], layer, i, j, param)
                    for s in range(Xc.shape[0]))
    n = len(samples)
    total = math.fsum(e.gradient for e in samples)
    factors = [(f"1/{n}, the loss is the mean over the {n} samples", 1.0 / n),
               (f"Σ_s ∂L_s/∂w, the sum of the {n} samples' chains", total)]
    deltas = [(m, np.mean([dict(e.deltas)[m] for e in samples], axis=0))
              for m, _ in samples[0].deltas]
    return Explanation(loss=loss, factors=factors, gradient=(1.0 / n) * total,
                       backprop=float(grad[index]), numerical=numerical, deltas=deltas,
                       paths=samples[0].paths, samples=samples, **common)


def _forward_lines(lay, x, t, zs, as_):
    """The forward pass of one sample, as str() shows it: each layer's z and a."""
    names = _symbols(lay.pos)
    lines = [f"forward pass: x = {_vector(x)}"]
    for (z_name, a_name), z, a, act in zip(names, zs, as_, lay.acts):
        z_text, a_text = f"{z_name} = {_vector(z)}", f"{a_name} = {act}({z_name}) = {_vector(a)}"
        if len(z_text) + len(a_text) > 90:         # a wide layer: one line each
            lines += [f"  {z_text}", f"  {a_text}"]
        else:
            lines.append(f"  {z_text}, {a_text}")
    lines.append(f"  target y = {_vector(t)}")
    return lines


# ---- the `fastprop explain` command -------------------------------------------------------
def tutorial_network(seed: int = 0) -> tuple[Network, NDArray[np.float64],
                                              NDArray[np.float64]]:
    """The classic tutorial's network and its one example.

    2 inputs -> 3 sigmoid -> 1 sigmoid without biases (9 weights), mse, its weights uniform
    in [0, 1) from `seed`.

    Parameters
    ----------
    seed : int, default 0
        The seed of the weights.

    Returns
    -------
    net : Network
        The network.
    X : ndarray, shape (1, 2)
        ``[[1, 1]]``.
    y : ndarray, shape (1,)
        ``[0]``.
    """
    import fastprop as fp
    layers = [fp.Dense(2, 3, "sigmoid", bias=False, init="uniform(0, 1)"),
              fp.Dense(3, 1, "sigmoid", bias=False, init="uniform(0, 1)")]
    return fp.Network(layers, loss="mse", seed=seed), np.array([[1.0, 1.0]]), np.array([0.0])


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def add_parser(sub):
    """Registers `fastprop explain` on the subparsers `sub` (fastprop.cli)."""
    p = sub.add_parser("explain", help="derive one weight's gradient by the chain rule",
                       description="Derives dL/dw for one weight of the tutorial's 2-3-1 "
                                   "sigmoid network (input (1, 1), target 0, mse) factor by "
                                   "factor, beside backprop's entry and a central finite "
                                   "difference, then takes one SGD step, w <- w - lr dL/dw.")
    nonneg = int_option(0, "a non-negative integer")
    p.add_argument("--seed", type=nonneg, default=0,
                   help="seed of the weights, uniform in [0, 1) (default 0)")
    p.add_argument("--lr", type=_positive_float, default=0.5,
                   help="learning rate of the SGD step (default 0.5)")
    p.add_argument("--layer", type=nonneg, default=0,
                   help="Dense layer of the weight: 0 hidden, 1 output (default 0)")
    p.add_argument("--i", type=nonneg, default=0, help="its input unit (default 0)")
    p.add_argument("--j", type=nonneg, default=0, help="its output unit (default 0)")
    p.set_defaults(func=run)
    return p


def run(args):
    """`fastprop explain`: the derivation, then one SGD step checked against the update rule.
    Exit status 0 when both agree."""
    import fastprop as fp
    net, X, y = tutorial_network(args.seed)
    try:
        e = explain(net, X, y, layer=args.layer, i=args.i, j=args.j)
    except ValueError as exc:          # an index out of range for this network
        raise CommandError(str(exc)) from None
    print(f"fastprop explain: the tutorial's 2-3-1 sigmoid network, loss mse, weights uniform "
          f"in [0, 1) from seed {args.seed}, no biases")
    print(e)
    before_all = net.params.copy()
    _, grad = net.backprop(X, y)
    net.fit(X, y, epochs=1, batch_size=1, optimizer=fp.SGD(lr=args.lr), shuffle=False)
    after = float(net.params[e.index])
    expected = e.value - args.lr * e.backprop
    # The compiled step against the update rule, on every parameter (rounding only).
    moved = float(np.max(np.abs(net.params - (before_all - args.lr * grad))))
    ok = moved <= 1e-12 * max(1.0, float(np.max(np.abs(before_all))))
    print(f"one SGD step, w ← w − lr·∂L/∂w with lr = {args.lr:g} "
          f"(net.fit, epochs=1, batch_size=1):")
    print(f"  w before      = {e.value:.12g}")
    print(f"  w − lr·∂L/∂w  = {e.value:.12g} − {args.lr:g}·({e.backprop:.12g}) = "
          f"{expected:.12g}")
    print(f"  w after fit   = {after:.12g}")
    print(f"  loss {e.loss:.6g} -> {net.loss(X, y):.6g}; every parameter moved by −lr·∂L/∂p: "
          f"{'yes' if ok else 'NO'} (largest difference {moved:.2g})")
    return 0 if ok and e.agree else 1
