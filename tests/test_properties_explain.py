"""`fastprop.explain` under random networks and positions (hypothesis): the chain rule's total
is the product of its factors and equals backprop's entry (the independent reference) for every
small network, activation, output + loss and parameter; a position out of range is refused with
a ValueError/TypeError naming the argument, the parameters bit-identical.

The same profiles as tests/test_properties.py ("ci" by default, derandomized; "long" with
HYPOTHESIS_PROFILE=long): test modules cannot import each other here, so they are registered
again, identically."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import fastprop as fp
from fastprop.explain import explain
from fastprop.network import Dropout

_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])
settings.register_profile("ci", max_examples=75, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=2500, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

HIDDEN = [a for a in fp.ACTIVATIONS if a != "softmax"]
# (output activation, loss, target kind)
OUTPUT_LOSS = [(a, "mse", "real") for a in HIDDEN] + [
    ("softmax", "mse", "probs"), ("sigmoid", "binary_cross_entropy", "binary"),
    ("softmax", "binary_cross_entropy", "binary"), ("softmax", "cross_entropy", "labels"),
    ("softmax", "cross_entropy", "onehot")]


@st.composite
def problems(draw):
    """(net, X, y): a float64 network of 1 to 3 Dense layers of 1 to 4 units, each with or
    without a bias, maybe a Dropout between two of them; its data."""
    output, loss, kind = draw(st.sampled_from(OUTPUT_LOSS))
    widths = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    if output == "softmax":
        widths[-1] = max(widths[-1], 2)
    hidden = draw(st.sampled_from(HIDDEN))
    layers = []
    for k in range(len(widths) - 1):
        if k > 0 and draw(st.booleans()):
            layers.append(Dropout(0.5))
        layers.append(fp.Dense(widths[k], widths[k + 1],
                               output if k == len(widths) - 2 else hidden,
                               bias=draw(st.booleans())))
    net = fp.Network(layers, loss=loss, seed=draw(st.integers(0, 2 ** 16)))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    net.params[...] = rng.normal(scale=0.8, size=net.n_params)
    n, m = draw(st.integers(1, 3)), widths[-1]
    X = rng.normal(size=(n, widths[0]))
    if kind == "real":
        y = rng.normal(size=(n, m))
    elif kind == "probs":
        y = rng.dirichlet(np.ones(m), size=n)
    elif kind == "binary":
        y = rng.integers(0, 2, size=(n, m)).astype(float)
    elif kind == "labels":
        y = rng.integers(0, m, size=n)
    else:
        y = np.eye(m)[rng.integers(0, m, size=n)]
    note(f"{net!r} hidden={hidden} X={X!r} y={y!r}")
    return net, X, y


@given(problems(), st.data())
def test_chain_rule_total_is_its_factors_product_and_backprops_entry(problem, data):
    net, X, y = problem
    dense_at = [k for k, l in enumerate(net.layers) if not isinstance(l, Dropout)]
    layer = data.draw(st.sampled_from(dense_at), "layer")
    dense = net.layers[layer]
    param = data.draw(st.sampled_from(["W", "b"] if dense.bias else ["W"]), "param")
    i = 0 if param == "b" else data.draw(st.integers(0, dense.n_in - 1), "i")
    j = data.draw(st.integers(0, dense.n_out - 1), "j")
    before = net.params.copy()
    e = explain(net, X, y, layer=layer, i=i, j=j, param=param)
    _, grad = net.backprop(X, y)
    assert e.backprop == grad[e.index]
    assert np.prod([v for _, v in e.factors]) == pytest.approx(e.gradient, rel=1e-12, abs=0)
    scale = float(np.max(np.abs(grad)))
    assert e.gradient == pytest.approx(e.backprop, rel=1e-8, abs=1e-12 * max(scale, 1.0))
    assert np.array_equal(net.params, before)


@given(problems(), st.data())
def test_positions_out_of_range_are_refused_naming_the_argument(problem, data):
    net, X, y = problem
    n_layers = len(net.layers)
    dense_at = [k for k, l in enumerate(net.layers) if not isinstance(l, Dropout)]
    kind = data.draw(st.sampled_from(["layer", "i", "j"]), "kind")
    pos = dict(layer=0, i=0, j=0)
    if kind == "layer":
        pos["layer"] = data.draw(st.one_of(st.integers(-5, -1),
                                           st.integers(n_layers, n_layers + 5)))
    else:
        pos["layer"] = data.draw(st.sampled_from(dense_at))
        size = net.layers[pos["layer"]].n_in if kind == "i" else net.layers[pos["layer"]].n_out
        pos[kind] = data.draw(st.one_of(st.integers(-5, -1), st.integers(size, size + 5)))
    before = net.params.copy()
    with pytest.raises(ValueError, match=rf"^{kind}: expected .*\[0, \d+\).*got {pos[kind]}$"):
        explain(net, X, y, **pos)
    assert np.array_equal(net.params, before)


@given(problems())
def test_a_dropout_or_a_missing_bias_is_refused_naming_the_argument(problem):
    net, X, y = problem
    before = net.params.copy()
    for k, layer in enumerate(net.layers):
        if isinstance(layer, Dropout):
            with pytest.raises(ValueError, match=rf"^layer: expected the index of a Dense "
                                                 rf"layer .*got {k}, a Dropout"):
                explain(net, X, y, layer=k)
        elif not layer.bias:
            with pytest.raises(ValueError, match=r"^param: expected 'W'"):
                explain(net, X, y, layer=k, param="b")
    assert np.array_equal(net.params, before)
