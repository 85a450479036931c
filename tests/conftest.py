"""Shared fixtures of the test suite: random networks and data, and `ref`, a plain numpy
reference of the forward pass, the losses and their gradients, written from the formulas of
DESIGN.md without looking at the kernels. It must not import anything of fastprop's private
floors: tests compare the package against it, so it has to stay independent."""
import types

import math
import os

import numpy as np
import pytest

import fastprop as fp

HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]
# (output activation, loss, target kind): every sensible output + loss combination.
OUTPUT_LOSS = [
    ("identity", "mse", "real"),
    ("sigmoid", "mse", "real"),
    ("tanh", "mse", "real"),
    ("relu", "mse", "real"),
    ("leaky_relu", "mse", "real"),
    ("softmax", "mse", "probs"),
    ("sigmoid", "binary_cross_entropy", "binary"),
    ("softmax", "binary_cross_entropy", "binary"),
    ("softmax", "cross_entropy", "labels"),
    ("softmax", "cross_entropy", "onehot"),
]
RELU_FAMILY = ("relu", "leaky_relu")
COMBOS = [(h, o, l, k) for h in HIDDEN for (o, l, k) in OUTPUT_LOSS]
COMBO_IDS = [f"{h}-{o}-{l}-{k}" for (h, o, l, k) in COMBOS]


def pytest_generate_tests(metafunc):
    """@pytest.mark.combos(step=1): parametrize (hidden, output, loss, kind) over COMBOS;
    @pytest.mark.output_losses: parametrize (output, loss, kind) over OUTPUT_LOSS. One table
    for every test file (their modules cannot import this one under --import-mode=importlib)."""
    mark = metafunc.definition.get_closest_marker("combos")
    if mark is not None:
        step = mark.kwargs.get("step", 1)
        metafunc.parametrize("hidden,output,loss,kind", COMBOS[::step], ids=COMBO_IDS[::step])
    if metafunc.definition.get_closest_marker("output_losses") is not None:
        metafunc.parametrize("output,loss,kind", OUTPUT_LOSS,
                             ids=[f"{o}-{l}-{k}" for o, l, k in OUTPUT_LOSS])
LEAKY_SLOPE = 0.01


# ---- numpy reference ------------------------------------------------------------------
def unpack(sizes, params):
    """[(W, b), ...] views of a flat parameter vector laid out as [W1, b1, W2, b2, ...]."""
    out, offset = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = params[offset:offset + n_in * n_out].reshape(n_in, n_out)
        offset += n_in * n_out
        b = params[offset:offset + n_out]
        offset += n_out
        out.append((W, b))
    assert offset == params.shape[0]
    return out


def act_forward(name, Z):
    if name == "identity":
        return Z.copy()
    if name == "sigmoid":
        e = np.exp(-np.abs(Z))
        return np.where(Z >= 0, 1 / (1 + e), e / (1 + e))
    if name == "tanh":
        return np.tanh(Z)
    if name == "relu":
        return np.where(Z > 0, Z, 0.0).astype(Z.dtype)
    if name == "leaky_relu":
        return np.where(Z > 0, Z, LEAKY_SLOPE * Z).astype(Z.dtype)
    if name == "softmax":
        e = np.exp(Z - Z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    z = Z.astype(np.float64)          # the wave-2 activations, in float64 from their formulas
    if name == "gelu":
        out = 0.5 * z * (1 + _erf(z / np.sqrt(2)))
    elif name == "gelu_tanh":
        # z/2 (1 + tanh u) = z sigmoid(2u): the same function, without 1 + tanh's cancellation
        with np.errstate(over="ignore"):     # exp -> inf below z = -20: the limit 0, right
            out = z / (1 + np.exp(-2 * np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))
    elif name == "silu":
        out = z * act_forward("sigmoid", z)
    elif name == "elu":
        out = np.where(z > 0, z, np.expm1(np.minimum(z, 0)))
    elif name == "softplus":
        out = np.where(z > 20, z, np.log1p(np.exp(np.minimum(z, 20))))
    else:
        raise KeyError(name)
    return out.astype(Z.dtype)


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _act_derivative(name, z):
    """f'(z) of the wave-2 activations, in float64 from their formulas."""
    if name == "gelu":
        return 0.5 * (1 + _erf(z / np.sqrt(2))) + z * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
    if name == "gelu_tanh":
        k = np.sqrt(2 / np.pi)
        with np.errstate(over="ignore"):
            s = 1 / (1 + np.exp(-2 * k * (z + 0.044715 * z ** 3)))     # (1 + tanh u) / 2
        return s + 2 * z * s * (1 - s) * k * (1 + 3 * 0.044715 * z * z)
    if name == "silu":
        s = act_forward("sigmoid", z)
        return s * (1 + z * (1 - s))
    if name == "elu":
        return np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))
    if name == "softplus":
        e = np.exp(np.minimum(z, 20))
        return np.where(z > 20, 1.0, e / (e + 1))
    raise KeyError(name)


def act_backward(name, Z, A, dA):
    """dZ = dA * f'(Z); for softmax the Jacobian-vector product J^T dA per row."""
    if name == "identity":
        return dA.copy()
    if name == "sigmoid":
        return dA * A * (1 - A)
    if name == "tanh":
        return dA * (1 - A * A)
    if name == "relu":
        return np.where(Z > 0, dA, 0.0).astype(dA.dtype)
    if name == "leaky_relu":
        return np.where(Z > 0, dA, LEAKY_SLOPE * dA).astype(dA.dtype)
    if name == "softmax":
        # explicit Jacobian: J[i, j] = a_i (delta_ij - a_j), per row
        out = np.empty_like(dA)
        for r in range(Z.shape[0]):
            a = A[r]
            J = np.diag(a) - np.outer(a, a)
            out[r] = J.T @ dA[r]
        return out
    return (dA.astype(np.float64) * _act_derivative(name, Z.astype(np.float64))).astype(dA.dtype)


def softplus(z):
    return np.logaddexp(0.0, z)


def loss_value(loss, act, Z, A, Y):
    """Mean loss, PyTorch's definitions (BCE with a sigmoid output from the logits)."""
    if loss == "mse":
        return float(np.mean((A - Y) ** 2))
    if loss == "binary_cross_entropy":
        if act == "sigmoid":
            return float(np.mean(softplus(Z) - Y * Z))
        lp = np.maximum(np.log(A), -100.0)
        lq = np.maximum(np.log1p(-A), -100.0)
        return float(-np.mean(Y * lp + (1 - Y) * lq))
    if loss == "cross_entropy":
        zmax = Z.max(axis=1, keepdims=True)
        lse = (zmax + np.log(np.exp(Z - zmax).sum(axis=1, keepdims=True)))[:, 0]
        return float(np.mean(lse * Y.sum(axis=1) - (Y * Z).sum(axis=1)))
    raise KeyError(loss)


def loss_gradient(loss, act, Z, A, Y):
    """d(mean loss)/dZ of the output layer."""
    n, m = Z.shape
    if loss == "mse":
        return act_backward(act, Z, A, 2.0 * (A - Y) / (n * m))
    if loss == "binary_cross_entropy":
        if act == "sigmoid":
            return (A - Y) / (n * m)
        dA = (A - Y) / np.maximum(A * (1 - A), 1e-12) / (n * m)
        return act_backward(act, Z, A, dA)
    if loss == "cross_entropy":
        return (A * Y.sum(axis=1, keepdims=True) - Y) / n
    raise KeyError(loss)


def forward(sizes, acts, params, X):
    """Lists Zs, As of every layer, in float64."""
    Zs, As, a = [], [], np.asarray(X, dtype=np.float64)
    for (W, b), act in zip(unpack(sizes, np.asarray(params, dtype=np.float64)), acts):
        z = a @ W + b
        a = act_forward(act, z)
        Zs.append(z)
        As.append(a)
    return Zs, As


def dense_targets(loss, y, n_out):
    """y as a float64 (n, n_out) array: int labels become one-hot rows."""
    y = np.asarray(y)
    if loss == "cross_entropy" and y.ndim == 1:
        Y = np.zeros((y.shape[0], n_out))
        Y[np.arange(y.shape[0]), y.astype(int)] = 1
        return Y
    return np.asarray(y, dtype=np.float64).reshape(y.shape[0], n_out)


def describe(net):
    sizes = [net.layers[0].n_in] + [l.n_out for l in net.layers]
    acts = [l.activation for l in net.layers]
    return sizes, acts


def net_loss(net, params, X, y):
    """The loss of `net` with parameters `params`, computed by numpy in float64."""
    sizes, acts = describe(net)
    Zs, As = forward(sizes, acts, params, X)
    return loss_value(net.loss_name, acts[-1], Zs[-1], As[-1], dense_targets(net.loss_name, y, sizes[-1]))


def net_backprop(net, params, X, y):
    """(loss, grad) of `net` by a numpy backward pass in float64, laid out like params."""
    sizes, acts = describe(net)
    params = np.asarray(params, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    Zs, As = forward(sizes, acts, params, X)
    Y = dense_targets(net.loss_name, y, sizes[-1])
    loss = loss_value(net.loss_name, acts[-1], Zs[-1], As[-1], Y)
    dZ = loss_gradient(net.loss_name, acts[-1], Zs[-1], As[-1], Y)
    grads = []
    Ws = unpack(sizes, params)
    for l in range(len(acts) - 1, -1, -1):
        a_prev = X if l == 0 else As[l - 1]
        grads.append((a_prev.T @ dZ, dZ.sum(axis=0)))
        if l > 0:
            dZ = act_backward(acts[l - 1], Zs[l - 1], As[l - 1], dZ @ Ws[l][0].T)
    flat = np.concatenate([np.concatenate([gW.ravel(), gb]) for gW, gb in reversed(grads)])
    return loss, flat


def central_difference(net, X, y, eps=1e-5):
    """An independent central-difference gradient: a python loop over parameters around the
    numpy forward pass above (step eps * max(1, |p|)), never touching net.params."""
    p0 = np.array(net.params, dtype=np.float64)
    out = np.empty_like(p0)
    for i in range(p0.shape[0]):
        h = eps * max(1.0, abs(p0[i]))
        p = p0.copy()
        p[i] = p0[i] + h
        up = net_loss(net, p, X, y)
        p[i] = p0[i] - h
        down = net_loss(net, p, X, y)
        out[i] = (up - down) / (2 * h)
    return out


def rel_error(analytic, numeric):
    """max |a - n| / max(|a|, |n|, 1e-3 max|a|): the relative error as gradcheck defines it."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    scale = max(1e-3 * float(np.max(np.abs(a), initial=0.0)), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), scale),
                        initial=0.0))


def make_targets(kind, n, n_out, rng):
    if kind == "real":
        return rng.normal(size=(n, n_out)) if n_out > 1 else rng.normal(size=n)
    if kind == "probs":
        return act_forward("softmax", rng.normal(size=(n, n_out)))
    if kind == "binary":
        return rng.integers(0, 2, size=(n, n_out)).astype(np.float64)
    labels = rng.integers(0, n_out, size=n)
    if kind == "labels":
        return labels
    if kind == "onehot":
        return np.eye(n_out)[labels]
    raise KeyError(kind)


def min_kink_distance(net, X):
    """The smallest |z| over the pre-activations of relu-family layers (inf if there are none)."""
    sizes, acts = describe(net)
    Zs, _ = forward(sizes, acts, net.params, X)
    d = [np.abs(z).min() for z, a in zip(Zs, acts) if a in RELU_FAMILY]
    return min(d) if d else np.inf


def make_case(hidden, output, loss, kind, dtype="float64", sizes=(3, 5, 4, None), n=6,
              seed=0, margin=1e-3):
    """A random network (biases random too) and data for it, with every relu-family
    pre-activation at least `margin` away from the kink, so finite differences are smooth."""
    n_out = sizes[-1] or (1 if output in ("sigmoid", "identity") and loss != "cross_entropy"
                          and kind != "probs" else 3)
    widths = list(sizes[:-1]) + [n_out]
    for attempt in range(200):
        rng = np.random.default_rng(1000 * seed + attempt)
        net = fp.mlp(widths, hidden=hidden, output=output, loss=loss, dtype=dtype, seed=rng)
        for layer in net.layers:
            layer.b[...] = rng.uniform(-0.5, 0.5, size=layer.b.shape)
        X = rng.uniform(-1, 1, size=(n, widths[0]))
        y = make_targets(kind, n, n_out, rng)
        if min_kink_distance(net, X) > margin:
            return net, X, y
    raise AssertionError("could not draw a network away from relu kinks")


ref = types.SimpleNamespace(
    unpack=unpack, act_forward=act_forward, act_backward=act_backward, loss_value=loss_value,
    loss_gradient=loss_gradient, forward=forward, dense_targets=dense_targets,
    describe=describe, net_loss=net_loss, net_backprop=net_backprop,
    central_difference=central_difference, rel_error=rel_error, make_targets=make_targets,
    make_case=make_case, min_kink_distance=min_kink_distance,
    HIDDEN=HIDDEN, OUTPUT_LOSS=OUTPUT_LOSS)


# ---- fixtures --------------------------------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def _cwd_outside_the_checkout(tmp_path_factory):
    """The whole session runs in a temporary directory, so that the README's `pytest tests`
    works from the checkout root: a child `python -m fastprop` puts its working directory
    first on sys.path, and from the root it would import the uncompiled fastprop/ of the
    source tree instead of the installed package. (Session-scoped: hypothesis refuses
    function-scoped fixtures around its tests.)"""
    before = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(before)


@pytest.fixture(name="ref")
def ref_fixture():
    """The numpy reference (see the top of this file)."""
    return ref


@pytest.fixture
def torch():
    """torch, or a clean skip when it is not installed."""
    torch = pytest.importorskip("torch")
    # one torch thread: the tiny tensors here gain nothing from more, and torch's pool and
    # fastprop's OpenMP threads would otherwise spin against each other on two cores
    torch.set_num_threads(1)
    return torch


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def regression_data(rng):
    X = rng.normal(size=(10, 3))
    y = rng.normal(size=(10, 2))
    return X, y


@pytest.fixture
def net():
    """A small 3-4-2 regression network (tanh, identity, mse, float64)."""
    return fp.mlp([3, 4, 2], hidden="tanh", output="identity", loss="mse", seed=0)


@pytest.fixture
def data():
    """5 samples for `net`: X (5, 3), y (5, 2)."""
    rng = np.random.default_rng(0)
    return rng.normal(size=(5, 3)), rng.normal(size=(5, 2))


@pytest.fixture
def data40():
    """40 samples of 4 features and 2 targets, for networks built by the test."""
    rng = np.random.default_rng(3)
    return rng.standard_normal((40, 4)), rng.standard_normal((40, 2))


@pytest.fixture(autouse=True)
def _restore_threads():
    """Tests that change the thread count give it back."""
    before = fp.get_num_threads()
    yield
    if fp.get_num_threads() != before:
        fp.set_num_threads(before)
