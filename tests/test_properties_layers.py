"""Dense's `bias` and `init`, and Dropout, under random inputs (hypothesis), in the style of
test_properties.py and with its profiles ("ci", derandomized, by default; HYPOTHESIS_PROFILE=
long for more): random networks of random bias flags have the layout [W1, (b1), W2, ...]
and the loss, gradient and predictions of a numpy reference written below (on small layers
and GEMM-sized ones); per-sample SGD equals a loop of backprop and updates; save/load and
pickle keep flags and bits; every init form draws what it says from the seed; any other
`init` or `bias` is refused with an error naming the argument. Dropout anywhere between Dense
layers is the identity outside fit; a rate outside [0, 1) is refused naming p."""
import copy
import math
import os
import pickle
import re
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastprop as fp
from fastprop._model import Dropout

# The profiles of test_properties.py, registered again (a test module cannot import another):
# whichever module loads first, both run under the same one.
_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])
settings.register_profile("ci", max_examples=75, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=2500, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
_BASE = settings.default.max_examples


def budget(weight):
    return settings(max_examples=max(1, int(_BASE * weight)))


# ---- numpy reference: Z = A_prev @ W (+ b), A = f(Z), PyTorch's mean losses ------------------
def act(name, z):
    if name == "identity":
        return z
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    e = np.exp(z - z.max(axis=1, keepdims=True))         # softmax
    return e / e.sum(axis=1, keepdims=True)


def act_grad(name, a, da):
    return {"identity": da, "sigmoid": da * a * (1 - a), "tanh": da * (1 - a * a)}[name]


def unpack(net, params):
    out, k = [], 0
    for layer in net.layers:
        W = params[k:k + layer.n_in * layer.n_out].reshape(layer.n_in, layer.n_out)
        k += W.size
        b = params[k:k + layer.n_out] if layer.bias else np.zeros(layer.n_out)
        k += layer.n_out if layer.bias else 0
        out.append((W, b))
    assert k == params.size
    return out


def reference(net, X, y):
    """(loss, gradient in params' layout, output) in float64."""
    wb = unpack(net, net.params.astype(np.float64))
    acts = [l.activation for l in net.layers]
    As = [X.astype(np.float64)]
    for (W, b), name in zip(wb, acts):
        As.append(act(name, As[-1] @ W + b))
    A, n = As[-1], X.shape[0]
    if net.loss_name == "cross_entropy":
        Y = np.eye(A.shape[1])[y]
        value = -np.mean(np.log(A[np.arange(n), y]))
        dz = (A - Y) / n
    elif net.loss_name == "binary_cross_entropy":
        value = -np.mean(y * np.log(A) + (1 - y) * np.log(1 - A))
        dz = (A - y) / A.size
    else:
        value = np.mean((A - y) ** 2)
        dz = act_grad(acts[-1], A, 2 * (A - y) / A.size)
    grads = []
    for i in range(len(wb) - 1, -1, -1):
        grads[:0] = [(As[i].T @ dz).ravel()] + ([dz.sum(axis=0)] if net.layers[i].bias else [])
        if i:
            dz = act_grad(acts[i - 1], As[i], dz @ wb[i][0].T)
    return float(value), np.concatenate(grads), A


HEADS = [("identity", "mse"), ("sigmoid", "binary_cross_entropy"),
         ("softmax", "cross_entropy")]


@st.composite
def networks(draw, max_width=24):
    """(net, X, y): 1 to 4 layers, random widths and bias flags, smooth hidden activations,
    biases made non-zero; up to 30 rows, so that some layers are GEMM-sized."""
    depth = draw(st.integers(1, 4))
    output, loss = draw(st.sampled_from(HEADS))
    widths = [draw(st.integers(1, max_width)) for _ in range(depth + 1)]
    if output == "softmax":
        widths[-1] = max(widths[-1], 2)
    flags = [draw(st.booleans()) for _ in range(depth)]
    hidden = [draw(st.sampled_from(["identity", "sigmoid", "tanh"])) for _ in range(depth - 1)]
    dtype = draw(st.sampled_from(["float64", "float32"]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    layers = [fp.Dense(a, b, f, bias=bias) for a, b, f, bias
              in zip(widths[:-1], widths[1:], hidden + [output], flags)]
    net = fp.Network(layers, loss=loss, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        if layer.bias:
            layer.b[...] = rng.uniform(-0.5, 0.5, layer.n_out)
    n = draw(st.integers(1, 30))
    X = rng.standard_normal((n, widths[0])).astype(dtype)
    if loss == "cross_entropy":
        y = rng.integers(0, widths[-1], n)
    elif loss == "binary_cross_entropy":
        y = (rng.random((n, widths[-1])) > 0.5).astype(dtype)
    else:
        y = rng.standard_normal((n, widths[-1])).astype(dtype)
    return net, X, y


@given(networks())
@budget(1.5)
def test_random_bias_flags_give_the_layout_and_the_references_gradient(case):
    net, X, y = case
    assert net.n_params == sum((l.n_in + l.bias) * l.n_out for l in net.layers)
    parts = []
    for layer in net.layers:
        assert (layer.b is None) == (not layer.bias)
        parts += [layer.W.ravel()] + ([layer.b] if layer.bias else [])
    assert np.concatenate(parts).tobytes() == net.params.tobytes()     # views, in order
    value, grad = net.backprop(X, y)
    r_value, r_grad, r_out = reference(net, X, y)
    tol = 1e-10 if net.dtype == np.float64 else 2e-4
    assert value == pytest.approx(r_value, rel=tol, abs=tol)
    scale = max(1.0, float(np.abs(r_grad).max()))
    np.testing.assert_allclose(grad, r_grad, rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(net.predict(X), r_out, rtol=tol, atol=tol)


@given(networks(max_width=6), st.sampled_from([1, 3]))
@budget(0.6)
def test_fit_without_shuffle_equals_a_loop_of_backprop_and_sgd_updates(case, batch):
    """Batch 1 on an AVX-512 CPU: the per-sample path of fp_tiny.inc."""
    net, X, y = case
    twin = copy.deepcopy(net)
    net.fit(X, y, epochs=2, batch_size=batch, optimizer=fp.SGD(lr=0.05), shuffle=False)
    for _ in range(2):
        for s in range(0, X.shape[0], batch):
            _, g = twin.backprop(X[s:s + batch], y[s:s + batch])
            twin.params = twin.params - twin.dtype.type(0.05) * g
    tol = 1e-12 if net.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(net.params, twin.params, rtol=tol, atol=tol)


@given(networks(max_width=8))
@budget(0.4)
def test_save_load_and_pickle_keep_flags_and_bits(case):
    net, X, _ = case
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.npz")
        net.save(path)
        loaded = fp.load(path)
    for other in (loaded, pickle.loads(pickle.dumps(net))):
        assert [l.bias for l in other.layers] == [l.bias for l in net.layers]
        assert other.params.tobytes() == net.params.tobytes()
        assert other.predict(X).tobytes() == net.predict(X).tobytes()


# ---- init -----------------------------------------------------------------------------
def literal(x):
    """A float as init's grammar writes it (repr, which never gives 'inf' here)."""
    return repr(float(x))


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@given(st.one_of(
    st.floats(1e-6, 1e3).map(lambda s: ("normal", (s,))),
    st.tuples(finite, finite).filter(lambda ab: ab[0] < ab[1]).map(lambda ab: ("uniform", ab))),
    st.integers(1, 40), st.integers(1, 40), st.sampled_from(["float64", "float32"]),
    st.integers(0, 2 ** 32 - 1), st.booleans())
@budget(1.0)
def test_normal_and_uniform_draw_the_seeds_values(form, n_in, n_out, dtype, seed, bias):
    rule, args = form
    init = f"{rule}({', '.join(literal(a) for a in args)})"
    dt = np.dtype(dtype)
    try:
        net = fp.Network([fp.Dense(n_in, n_out, init=init, bias=bias)], dtype=dtype, seed=seed)
    except ValueError as exc:       # only an interval holding no value of the dtype
        assert rule == "uniform" and str(exc).startswith("init:") and dtype == "float32"
        lowest = np.float32(args[0])          # the smallest float32 >= a is not below b
        if float(lowest) < args[0]:
            lowest = np.nextafter(lowest, np.float32(np.inf))
        assert float(lowest) >= args[1]
        return
    W = net.layers[0].W
    rng = np.random.default_rng(seed)
    if rule == "normal":
        expected = rng.normal(0.0, args[0], size=(n_in, n_out)).astype(dt)
        assert W.tobytes() == expected.tobytes()
    else:
        a, b = args
        assert np.all(W.astype(np.float64) >= a) and np.all(W.astype(np.float64) < b)
        expected = rng.uniform(a, b, size=(n_in, n_out)).astype(dt)
        inside = (expected.astype(np.float64) >= a) & (expected.astype(np.float64) < b)
        np.testing.assert_array_equal(W[inside], expected[inside])   # only the edges moved
    if bias:
        assert not net.layers[0].b.any()


_FORMS = ("glorot_uniform", "he_uniform", "he_normal", "normal(std)", "uniform(a, b)")
_NUM = r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*"


@given(st.one_of(st.text(max_size=20),
                 st.builds(lambda name, inner: f"{name}({inner})",
                           st.sampled_from(["normal", "uniform", "he_normal", "Normal"]),
                           st.text(alphabet="0123456789.,-+eE ()xinfa_", max_size=14))))
@budget(2.0)
def test_any_text_as_init_is_a_valid_form_or_a_value_error_naming_init(text):
    try:
        layer = fp.Dense(3, 2, init=text)
    except ValueError as exc:
        assert str(exc).startswith("init: ")
        if "unknown" in str(exc):
            assert all(f in str(exc) for f in _FORMS)
        return
    assert layer.init == text
    assert (text in ("glorot_uniform", "he_uniform", "he_normal")
            or re.fullmatch(r"normal\(" + _NUM + r"\)", text)
            or re.fullmatch(r"uniform\(" + _NUM + "," + _NUM + r"\)", text))
    numbers = [float(v) for v in re.findall(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?",
                                            text)]
    assert all(math.isfinite(v) for v in numbers)
    W = fp.Network([layer], seed=0).layers[0].W
    assert np.isfinite(W).all()


@given(st.one_of(st.integers(), st.floats(), st.text(max_size=5), st.none(),
                 st.lists(st.booleans(), max_size=2)))
@budget(0.5)
def test_a_bias_other_than_a_bool_is_a_type_error_naming_bias(value):
    with pytest.raises(TypeError, match=r"^bias: "):
        fp.Dense(2, 2, bias=value)


@given(st.one_of(st.integers(), st.floats(), st.binary(max_size=5),
                 st.lists(st.integers(), max_size=2)))
@budget(0.3)
def test_an_init_other_than_none_or_a_str_is_a_type_error_naming_init(value):
    with pytest.raises(TypeError, match=r"^init: "):
        fp.Dense(2, 2, init=value)


# ---- Dropout -----------------------------------------------------------------------------
@given(networks(max_width=30), st.data())
@budget(0.6)
def test_dropout_between_any_dense_layers_is_the_identity_outside_fit(case, data):
    net, X, y = case
    layers = []
    for i, layer in enumerate(net.layers):
        layers.append(fp.Dense(layer.n_in, layer.n_out, layer.activation, bias=layer.bias))
        if i < len(net.layers) - 1 and data.draw(st.booleans()):
            layers.append(Dropout(data.draw(st.floats(0, 0.99))))
    dropped = fp.Network(layers, loss=net.loss_name, dtype=net.dtype)
    dropped.params = net.params
    assert dropped.n_params == net.n_params
    assert dropped.predict(X).tobytes() == net.predict(X).tobytes()
    assert dropped.loss(X, y) == net.loss(X, y)
    assert dropped.backprop(X, y)[1].tobytes() == net.backprop(X, y)[1].tobytes()
    hist = dropped.fit(X, y, epochs=1, batch_size=4, optimizer=fp.SGD(lr=0.01), seed=0)
    assert len(hist.loss) == 1 and np.isfinite(dropped.params).all()


@given(st.one_of(st.floats(), st.integers(-3, 3)))
@budget(0.5)
def test_a_dropout_rate_is_in_0_1_or_a_value_error_naming_p(p):
    if isinstance(p, float) and 0 <= p < 1 or p == 0:
        assert Dropout(p).p == float(p)
    else:
        with pytest.raises(ValueError, match=r"^p: "):
            Dropout(p)
