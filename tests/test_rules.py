"""The rules of wave 2 against independent references: the activations gelu, gelu_tanh, silu,
elu and softplus (kernels, networks, training) against torch autograd and against formulas
written here from math's functions; the optimizers AdamW, RMSprop and Adagrad (single steps,
training) against torch.optim; their hyper-parameter checks; the per-sample and AVX-512 paths
giving the general path's bits; and `fastprop bench --hidden` with each new activation.
Torch-free checks (the formulas, gradcheck, the bits, validation, the command) run without
torch; the others skip cleanly when it is not installed (the `torch` fixture of conftest)."""
import math
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastprop as fp
from fastprop import _kernels

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import (TorchTwin, assert_close_relative, assert_same_bits,  # noqa: E402
                     torch_activation)

NEW_ACTIVATIONS = ["gelu", "gelu_tanh", "silu", "elu", "softplus"]
DTYPES = [np.float64, np.float32]

# Inputs where the rules have edges: 0, tiny, the softplus threshold (20, on both sides), and
# magnitudes where an exp overflows or an erf / tanh saturates.
EDGES = [0.0, -0.0, 1e-8, -1e-8, 1.0, -1.0, 5.0, -5.0, 19.9, -19.9, 20.0, -20.0, 20.1, -20.1,
         30.0, -30.0, 100.0, -100.0]
TINY = 1e-8

# float64 kernels against torch: a few hundred ulps (test_kernels' tolerance against numpy);
# atol covers the tails, where torch's own 1 + erf(x) (or 1 + tanh) cancels to a few 1e-16.
F64_KERNEL = dict(rtol=1e-13, atol=1e-15)
# float32: each library rounds in float32 on its own (test_kernels allows 2e-6 against float64).
F32_KERNEL = dict(rtol=1e-5, atol=1e-6)


def strict(call, *args):
    """Runs call with every warning an error and numpy raising on any floating-point event."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            return call(*args)


# ---- torch-free references, from the formulas (PyTorch's definitions) ---------------------
SQRT2 = math.sqrt(2.0)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_TANH_KAPPA = 0.044715
SOFTPLUS_THRESHOLD = 20.0       # torch.nn.Softplus(beta=1, threshold=20): x above it is x


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _gelu(x):
    return 0.5 * x * (1.0 + math.erf(x / SQRT2))


def _gelu_prime(x):
    return 0.5 * (1.0 + math.erf(x / SQRT2)) + x * math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + math.tanh(SQRT_2_OVER_PI * (x + GELU_TANH_KAPPA * x ** 3)))


def _gelu_tanh_prime(x):
    t = math.tanh(SQRT_2_OVER_PI * (x + GELU_TANH_KAPPA * x ** 3))
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (
        1.0 + 3.0 * GELU_TANH_KAPPA * x * x)


def _silu(x):
    return x * _sigmoid(x)


def _silu_prime(x):
    s = _sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def _elu(x):
    return x if x > 0 else math.expm1(x)


def _elu_prime(x):
    return 1.0 if x > 0 else math.exp(x)


def _softplus(x):
    return x if x > SOFTPLUS_THRESHOLD else math.log1p(math.exp(x))


def _softplus_prime(x):
    return 1.0 if x > SOFTPLUS_THRESHOLD else _sigmoid(x)


MATH_RULES = {"gelu": (_gelu, _gelu_prime), "gelu_tanh": (_gelu_tanh, _gelu_tanh_prime),
              "silu": (_silu, _silu_prime), "elu": (_elu, _elu_prime),
              "softplus": (_softplus, _softplus_prime)}


def math_rule(name, Z):
    """(f(Z), f'(Z)) in float64, element by element with math's functions."""
    f, df = MATH_RULES[name]
    z = np.asarray(Z, dtype=np.float64)
    return (np.vectorize(f, otypes=[np.float64])(z), np.vectorize(df, otypes=[np.float64])(z))


# ---- the kernels ---------------------------------------------------------------------------
def kernel_inputs(dtype):
    """The edges (one row) and a uniform spread over [-25, 25] (two rows), with dA."""
    rng = np.random.default_rng(21)
    Z = np.concatenate([np.array(EDGES), rng.uniform(-25, 25, size=2 * len(EDGES))])
    Z = Z.reshape(3, len(EDGES)).astype(dtype)
    dA = rng.normal(size=Z.shape).astype(dtype)
    return Z, dA


def run_kernels(name, Z, dA):
    """(A, dZ) from the compiled forward and backward kernels, with floating-point events
    raising: no overflow, no NaN, no warning."""
    code = fp.ACTIVATIONS[name].code
    A = np.full_like(Z, np.nan)
    strict(_kernels.activation_forward, code, Z, A)
    dZ = np.full_like(Z, np.nan)
    strict(_kernels.activation_backward, code, Z, A, dA, dZ)
    assert A.dtype == Z.dtype and dZ.dtype == Z.dtype
    assert np.isfinite(A).all() and np.isfinite(dZ).all()
    return A, dZ


def torch_rule(torch, name, Z, dA):
    """(f(Z), dA * f'(Z)) by torch autograd, in Z's dtype."""
    z = torch.tensor(Z, requires_grad=True)
    a = torch_activation(torch, name)(z)
    (dz,) = torch.autograd.grad(a, z, grad_outputs=torch.from_numpy(dA))
    return a.detach().numpy(), dz.numpy()


def test_new_activations_are_named_with_distinct_codes_and_usable_anywhere():
    codes = {a.code for a in fp.ACTIVATIONS.values()}
    assert len(codes) == len(fp.ACTIVATIONS)
    for name in NEW_ACTIVATIONS:
        act = fp.ACTIVATIONS[name]
        assert act.name == name and isinstance(act.code, int) and not act.output_only
        assert fp.Dense(3, 2, name).activation == name
        net = fp.mlp([3, 4, 2], hidden=name, output=name, loss="mse")
        assert [layer.activation for layer in net.layers] == [name, name]
        assert np.isfinite(net.predict(np.ones((2, 3)))).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", NEW_ACTIVATIONS)
def test_activation_kernels_equal_torch_autograd(torch, name, dtype):
    Z, dA = kernel_inputs(dtype)
    A, dZ = run_kernels(name, Z, dA)
    t_A, t_dZ = torch_rule(torch, name, Z, dA)
    tol = F64_KERNEL if dtype == np.float64 else F32_KERNEL
    np.testing.assert_allclose(A, t_A, **tol)
    np.testing.assert_allclose(dZ, t_dZ, **tol)
    # beside 0 the values are ~5e-9 and ~1e-8, below atol: there they must agree relatively
    # (elu needs expm1 there, not exp - 1)
    tiny = np.abs(Z) == dtype(TINY)
    np.testing.assert_allclose(A[tiny], t_A[tiny], rtol=tol["rtol"], atol=0)
    np.testing.assert_allclose(dZ[tiny], t_dZ[tiny], rtol=tol["rtol"], atol=0)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", NEW_ACTIVATIONS)
def test_activation_kernels_equal_the_formulas(name, dtype):
    Z, dA = kernel_inputs(dtype)
    A, dZ = run_kernels(name, Z, dA)
    f, df = math_rule(name, Z)
    tol = F64_KERNEL if dtype == np.float64 else F32_KERNEL
    np.testing.assert_allclose(A, f, **tol)
    np.testing.assert_allclose(dZ, dA.astype(np.float64) * df, **tol)
    tiny = np.abs(Z) == dtype(TINY)
    np.testing.assert_allclose(A[tiny], f[tiny], rtol=tol["rtol"], atol=0)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_softplus_switches_to_the_identity_strictly_above_20_and_the_limits_are_exact(dtype):
    # torch: x > 20 gives x itself (and slope 1); at 20 and below, log1p(exp(x)).
    Z = np.array([[19.9, 20.0, 20.1, 30.0, 100.0, -100.0]], dtype=dtype)
    dA = np.ones_like(Z)
    A, dZ = run_kernels("softplus", Z, dA)
    np.testing.assert_array_equal(A[0, 2:5], Z[0, 2:5])
    np.testing.assert_array_equal(dZ[0, 2:5], 1.0)
    if dtype == np.float64:       # 20 + exp(-20) and 1 - exp(-20) are distinct from 20 and 1
        assert A[0, 1] == pytest.approx(20.0 + math.exp(-20.0), rel=1e-15)
        assert A[0, 1] > 20.0 and dZ[0, 1] < 1.0
        assert dZ[0, 1] == pytest.approx(1.0 - math.exp(-20.0), rel=1e-15)
        assert A[0, 5] == pytest.approx(math.exp(-100.0), rel=1e-13)   # not 0
    # the other limits: elu(-100) = -1, gelu(100) = silu(100) = 100, gelu(-100) = 0
    big = np.array([[-100.0, 100.0]], dtype=dtype)
    assert run_kernels("elu", big, np.ones_like(big))[0][0, 0] == -1.0
    for name in ("gelu", "gelu_tanh", "silu"):
        A, dZ = run_kernels(name, big, np.ones_like(big))
        assert A[0, 1] == 100.0 and dZ[0, 1] == 1.0
        assert abs(A[0, 0]) < 1e-40 and abs(dZ[0, 0]) < 1e-40


# ---- networks: loss and gradient ------------------------------------------------------------
# (output activation, loss, target kind, n_out); None: the new activation itself, with mse
HEADS = [(None, "mse", "real", 2), ("softmax", "cross_entropy", "labels", 3),
         ("sigmoid", "binary_cross_entropy", "binary", 2)]
HEAD_IDS = ["itself-mse", "softmax-ce", "sigmoid-bce"]


def targets(kind, n, n_out, rng):
    if kind == "real":
        return rng.normal(size=(n, n_out))
    if kind == "binary":
        return rng.integers(0, 2, size=(n, n_out)).astype(np.float64)
    return rng.integers(0, n_out, size=n)


def network_case(act, head, dtype="float64", sizes=(3, 6, 5), n=7, seed=0, scale=2.0):
    """Two hidden layers of `act`, the head's output; random biases; inputs spread by `scale`
    so the pre-activations cover each rule's curved part and its tails."""
    output, loss, kind, n_out = head
    rng = np.random.default_rng(seed)
    net = fp.mlp(list(sizes) + [n_out], hidden=act, output=output or act, loss=loss, dtype=dtype,
                 seed=rng)
    for layer in net.layers:
        layer.b[...] = rng.uniform(-0.5, 0.5, size=layer.b.shape)
    # the torch twin takes each layer's rule from its name: the names must be the ones asked
    assert [layer.activation for layer in net.layers] == [act] * len(sizes[1:]) + [output or act]
    X = scale * rng.normal(size=(n, sizes[0]))
    return net, X, targets(kind, n, n_out, rng)


@pytest.mark.parametrize("head", HEADS, ids=HEAD_IDS)
@pytest.mark.parametrize("act", NEW_ACTIVATIONS)
def test_network_loss_and_gradient_equal_torch_autograd_float64(torch, act, head):
    net, X, y = network_case(act, head)
    twin = TorchTwin(torch, net)
    value, grad = net.backprop(X, y)
    t_value, t_grad = twin.backprop(X, y)
    assert np.abs(t_grad).max() > 0
    assert value == pytest.approx(t_value, rel=1e-12)
    assert net.loss(X, y) == pytest.approx(t_value, rel=1e-12)
    assert_close_relative(grad, t_grad, 1e-12)
    with torch.no_grad():
        out = twin.logits(X)
        out = twin.acts[-1](out).numpy()
    # torch's gelu_tanh computes z/2 (1 + tanh u), which cancels for z < -3 (against a 50-digit
    # mpmath reference over z in [-6, -3]: torch 1.1e-6 relative, fastprop's z sigmoid(2u)
    # 5e-15): outputs near 0 then differ by torch's rounding, a few ulps of the largest output.
    ulps = 4 if act == "gelu_tanh" else 0
    assert_close_relative(net.predict(X), out, 1e-12, ulps_of_largest=ulps)


@pytest.mark.parametrize("head", HEADS, ids=HEAD_IDS)
@pytest.mark.parametrize("act", NEW_ACTIVATIONS)
def test_network_loss_and_gradient_agree_with_torch_float32(torch, act, head):
    net, X, y = network_case(act, head, dtype="float32", seed=1)
    X = X.astype(np.float32)
    twin = TorchTwin(torch, net)
    value, grad = net.backprop(X, y)
    t_value, t_grad = twin.backprop(X, y)
    assert grad.dtype == np.float32
    # test_torch.py's float32 tolerances: loss 1e-5; gradient 1e-4 (sums of float32 products
    # in different orders, through two layers). An entry summed from terms of both signs
    # cancels: its rounding error is a few float32 ulps of the largest terms, not of itself
    # (an entry 1e-3 of the largest differs by ~1e-4 relative even for sigmoid, whose kernels
    # are exact to torch's), hence 16 ulps of the largest entry as an absolute floor.
    assert value == pytest.approx(t_value, rel=1e-5)
    assert_close_relative(grad, t_grad, 1e-4, ulps_of_largest=16)


@pytest.mark.parametrize("head", HEADS, ids=HEAD_IDS)
@pytest.mark.parametrize("act", NEW_ACTIVATIONS)
def test_gradcheck_passes_for_networks_of_the_new_activations(act, head):
    net, X, y = network_case(act, head, seed=2, n=5)
    res = fp.gradcheck(net, X, y)
    assert np.abs(res.analytic).max() > 1e-3
    assert res.ok, (res.max_abs_error, res.max_rel_error)
    assert res.max_rel_error < 1e-6


# ---- optimizers: steps from given gradients --------------------------------------------------
# name: (class, keyword arguments); the keywords are torch.optim's too (a public contract)
OPTIMIZERS = {
    "adamw-default": ("AdamW", {}),
    "adamw-no-decay": ("AdamW", dict(lr=0.01, weight_decay=0.0)),
    "adamw-decay-0.1": ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    "adamw-betas-eps": ("AdamW", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    "rmsprop-default": ("RMSprop", {}),
    "rmsprop-momentum": ("RMSprop", dict(lr=0.01, momentum=0.9)),
    "rmsprop-centered": ("RMSprop", dict(lr=0.01, centered=True)),
    "rmsprop-decay": ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.01)),
    "rmsprop-all": ("RMSprop", dict(lr=0.005, alpha=0.95, momentum=0.9, centered=True,
                                     weight_decay=0.01)),
    "adagrad-default": ("Adagrad", {}),
    "adagrad-lr-decay": ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    "adagrad-decay": ("Adagrad", dict(lr=0.1, weight_decay=0.01)),
    "adagrad-accumulator": ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.1)),
    "adagrad-all": ("Adagrad", dict(lr=0.05, lr_decay=0.01, weight_decay=0.01,
                                     initial_accumulator_value=0.1, eps=1e-8)),
}


def make_optimizers(torch, name, twin):
    cls, kwargs = OPTIMIZERS[name]
    return getattr(fp, cls)(**kwargs), getattr(torch.optim, cls)(twin.parameters(), **kwargs)


def fixed_gradients(net, steps=10, seed=3):
    """`steps` gradients laid out like params, drawn once: entries over four decades, changing
    sign from step to step, and two parameters whose gradient is always 0 (0 / (0 + eps))."""
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.uniform(-3, 1, size=net.n_params)
    grads = rng.normal(size=(steps, net.n_params)) * scale
    grads[:, :2] = 0.0
    return grads.astype(net.dtype)


# Up to 8192 parameters the compiled update is one pass; beyond, a dry pass then a write pass
# (csrc/nn/fp_optim.inc, as test_torch.py checks for SGD and Adam): both paths are checked.
OPTIMIZER_ARCHS = pytest.mark.parametrize("arch", [(4, 6, 3), (4, 300, 30)],
                                          ids=["51-params", "10530-params"])


@OPTIMIZER_ARCHS
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_steps_equal_torch_optim_given_the_same_gradients(torch, name, dtype, arch):
    net, _, _ = network_case("tanh", HEADS[1], dtype=dtype, sizes=arch[:-1], seed=4)
    twin = TorchTwin(torch, net)
    opt, t_opt = make_optimizers(torch, name, twin)
    start = net.params.copy()
    for grad in fixed_gradients(net):
        opt.step(net, grad)
        twin.set_grad(grad, net)
        t_opt.step()
    assert opt.steps == 10
    assert net.params.dtype == dtype
    expected = twin.flat()
    assert np.abs(expected - start).max() > 1e-3
    if dtype == np.float64:
        assert_close_relative(net.params, expected, 1e-13, ulps_of_largest=64)
    else:
        # the same float32 gradients: each library rounds its float32 state once a step
        assert_close_relative(net.params, expected, 1e-5, ulps_of_largest=64)


@pytest.mark.parametrize("name", ["adamw-decay-0.1", "rmsprop-all", "adagrad-all"])
def test_optimizer_state_carries_across_step_calls_and_fit_calls(torch, name):
    # One optimizer object through ten steps, then two fit calls, equals torch.optim through
    # the same; an object replaced every five steps (its state lost) gives other parameters.
    net, X, y = network_case("silu", HEADS[1], seed=5)
    twin = TorchTwin(torch, net)
    opt, t_opt = make_optimizers(torch, name, twin)
    cls, kwargs = OPTIMIZERS[name]
    restart = fp.mlp([3, 6, 5, 3], hidden="silu", output="softmax", loss="cross_entropy")
    restart.params[...] = net.params
    for i, grad in enumerate(fixed_gradients(net)):
        opt.step(net, grad)
        twin.set_grad(grad, net)
        t_opt.step()
        if i % 5 == 0:
            fresh = getattr(fp, cls)(**kwargs)
        fresh.step(restart, grad)
    assert opt.steps == 10 and fresh.steps == 5
    assert_close_relative(net.params, twin.flat(), 1e-13, ulps_of_largest=64)
    assert not np.allclose(restart.params, net.params, rtol=1e-6, atol=0)
    losses = []
    for _ in range(2):       # 7 samples in batches of 3: 3 updates an epoch
        losses += net.fit(X, y, epochs=1, batch_size=3, optimizer=opt, shuffle=False).loss
    t_losses = torch_fit(twin, t_opt, X, y, epochs=2, batch=3)
    assert opt.steps == 10 + 2 * 3
    assert_close_relative(net.params, twin.flat(), 1e-12, ulps_of_largest=64)
    np.testing.assert_allclose(losses, t_losses, rtol=1e-12)


# ---- training: fit against the same training replayed in torch ------------------------------
def torch_fit(twin, t_opt, X, y, epochs, batch):
    """fit(shuffle=False) in torch: batches in order, the last partial one included; each
    epoch's loss the sample-weighted mean of its batch losses."""
    n, losses = X.shape[0], []
    for _ in range(epochs):
        total = 0.0
        for s in range(0, n, batch):
            t_opt.zero_grad()
            loss = twin.loss(X[s:s + batch], y[s:s + batch])
            loss.backward()
            t_opt.step()
            total += float(loss.detach()) * X[s:s + batch].shape[0]
        losses.append(total / n)
    return losses


# (hidden, output, loss, kind, optimizer): every new activation hidden and as output, every
# new optimizer; the old optimizers with new activations too
TRAIN_CASES = [
    ("gelu", "softmax", "cross_entropy", "labels", "adamw-decay-0.1"),
    ("gelu_tanh", "sigmoid", "binary_cross_entropy", "binary", "rmsprop-all"),
    ("silu", "silu", "mse", "real", "adagrad-all"),
    ("elu", "identity", "mse", "real", "rmsprop-momentum"),
    ("softplus", "softplus", "mse", "real", "adamw-betas-eps"),
    ("tanh", "gelu", "mse", "real", "adagrad-lr-decay"),
    ("sigmoid", "gelu_tanh", "mse", "real", "rmsprop-centered"),
    ("relu", "elu", "mse", "real", "adamw-default"),
    ("identity", "softplus", "mse", "real", "sgd-momentum"),
    ("elu", "silu", "mse", "real", "adam"),
]
TRAIN_IDS = [f"{h}-{o}-{opt}" for h, o, _, _, opt in TRAIN_CASES]
OLD_OPTIMIZERS = {"sgd-momentum": ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True,
                                               weight_decay=0.01)),
                  "adam": ("Adam", dict(lr=0.01, weight_decay=0.01))}


def training_case(case, mode, dtype):
    """mode "batch": 4-7-n_out, batches of 4 on 22 samples (the last batch of 2); mode
    "sample": batch_size=1 on 2-3-1 or 3-5-2 (layers of at most 8 units: the per-sample
    AVX-512 path, where the CPU has it)."""
    hidden, output, loss, kind, _ = case
    rng = np.random.default_rng(6)
    if mode == "batch":
        sizes, batch = [4, 7, 3 if loss == "cross_entropy" else 2], 4
    else:
        sizes, batch = ([2, 3, 1] if loss != "cross_entropy" else [3, 5, 2]), 1
        if loss == "mse" and output != "identity":
            sizes = [3, 5, 2]
    net = fp.mlp(sizes, hidden=hidden, output=output, loss=loss, dtype=dtype, seed=rng)
    assert [layer.activation for layer in net.layers] == [hidden] * (len(sizes) - 2) + [output]
    for layer in net.layers:
        layer.b[...] = rng.uniform(-0.5, 0.5, size=layer.b.shape)
    n = 22
    X = 1.5 * rng.normal(size=(n, sizes[0]))
    y = targets(kind, n, sizes[-1], rng)
    if kind != "labels" and sizes[-1] == 1:
        y = y[:, 0]
    return net, X.astype(dtype), y, batch


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("mode", ["batch", "sample"])
@pytest.mark.parametrize("case", TRAIN_CASES, ids=TRAIN_IDS)
def test_fit_without_shuffle_equals_torch_training(torch, case, mode, dtype):
    net, X, y, batch = training_case(case, mode, dtype)
    cls, kwargs = OPTIMIZERS.get(case[4]) or OLD_OPTIMIZERS[case[4]]
    twin = TorchTwin(torch, net)
    t_opt = getattr(torch.optim, cls)(twin.parameters(), **kwargs)
    opt = getattr(fp, cls)(**kwargs)
    start = net.params.copy()
    epochs = 3
    t_losses = torch_fit(twin, t_opt, X, y, epochs, batch)
    hist = net.fit(X, y, epochs=epochs, batch_size=batch, optimizer=opt, shuffle=False)
    assert opt.steps == epochs * -(-X.shape[0] // batch)
    expected = twin.flat()
    assert np.abs(expected - start).max() > 1e-3
    assert len(hist.loss) == epochs
    if dtype == np.float64:
        assert_close_relative(net.params, expected, 1e-12, ulps_of_largest=64)
        np.testing.assert_allclose(hist.loss, t_losses, rtol=1e-12)
    else:
        # float32 gradients differ by summation order (~1e-7 relative) and the adaptive
        # optimizers rescale each entry by its own history, over up to 66 steps: test_torch's
        # float32 training tolerance
        assert_close_relative(net.params, expected, 1e-4, ulps_of_largest=1024)
        np.testing.assert_allclose(hist.loss, t_losses, rtol=1e-5)


# ---- the per-sample and AVX-512 paths give the general path's bits ---------------------------
_RULES_SCRIPT_HEAD = r"""
import sys, numpy as np
import fastprop as fp
ACTS = ["gelu", "gelu_tanh", "silu", "elu", "softplus"]
OPTS = [lambda: fp.AdamW(lr=0.01), lambda: fp.AdamW(lr=0.01, betas=(0.8, 0.95), weight_decay=0.1),
        lambda: fp.RMSprop(lr=0.01), lambda: fp.RMSprop(lr=0.005, momentum=0.9, centered=True,
                                                        weight_decay=0.01),
        lambda: fp.Adagrad(lr=0.1), lambda: fp.Adagrad(lr=0.1, lr_decay=0.01, weight_decay=0.01,
                                                       initial_accumulator_value=0.1),
        lambda: fp.SGD(lr=0.01, momentum=0.9), lambda: fp.Adam(lr=0.01)]
rng = np.random.default_rng(8)
out = []

def data(sizes, loss, n):
    X = rng.standard_normal((n, sizes[0]))
    if loss == "cross_entropy":
        return X, rng.integers(0, sizes[-1], n)
    if loss == "binary_cross_entropy":
        return X, (rng.random((n, sizes[-1])) > 0.5).astype(float)
    return X, rng.standard_normal((n, sizes[-1]))

def train(sizes, hid, o, loss, dt, opt, batch, shuffle, n=23, epochs=3):
    X, y = data(sizes, loss, n)
    net = fp.mlp(sizes, hidden=hid, output=o, loss=loss, dtype=dt, seed=1)
    try:
        h = net.fit(X, y, epochs=epochs, batch_size=batch, optimizer=opt, shuffle=shuffle, seed=2,
                    validation_data=(X[:5], y[:5]))
        out.extend([np.array(h.loss), np.array(h.val_loss)])
    except fp.TrainingDivergedError:
        out.append(np.array([-1.0]))
    out.append(net.params.astype(np.float64))
"""

# batch_size=1 on networks whose layers fit one register (8 doubles, 16 floats): the per-sample
# path where the CPU has AVX-512; every new activation hidden and as output, every optimizer
_TINY_RULES_SCRIPT = _RULES_SCRIPT_HEAD + r"""
for dt in ("float64", "float32"):
    wide = 16 if dt == "float32" else 8
    for i, act in enumerate(ACTS):
        cases = [([2, 3, 1], act, act, "mse"), ([3, 5, 2], act, "softmax", "cross_entropy"),
                 ([4, wide, 3, 1], "tanh", act, "mse"),
                 ([3, 7, 2], act, "sigmoid", "binary_cross_entropy")]
        for j, (sizes, hid, o, loss) in enumerate(cases):
            for k, make in enumerate(OPTS):
                train(sizes, hid, o, loss, dt, make(), 1, (i + j + k) % 2 == 0)
np.save(sys.argv[1], np.concatenate([o.ravel() for o in out]))
print(fp.simd_path())
"""


def test_per_sample_path_gives_the_general_paths_bits_for_the_new_rules(tmp_path):
    """Where the CPU has AVX-512, per-sample training of tiny networks runs csrc/nn/fp_tiny.inc
    (FASTPROP_GEMM_ISA=avx2 turns it off): the new activations and optimizers must give the
    same parameters and losses, bit for bit, as the general path."""
    if not fp.simd_path().startswith("avx512"):
        pytest.skip(f"this CPU runs the {fp.simd_path()} path, not AVX-512")
    assert_same_bits(tmp_path, _TINY_RULES_SCRIPT, "avx2", "avx2+fma", 2000)


# networks and batches large enough for the blocked GEMM: the AVX-512 micro-kernels against
# the AVX2 ones, through whole fits of the new rules
_GEMM_RULES_SCRIPT = _RULES_SCRIPT_HEAD + r"""
for dt in ("float64", "float32"):
    for i, act in enumerate(ACTS):
        for j, make in enumerate(OPTS[:6]):
            if (i + j) % 2:
                train([24, 40, 3], act, "softmax", "cross_entropy", dt, make(), 16, j % 3 == 0,
                      n=64, epochs=2)
            else:
                train([24, 40, 3], act, act, "mse", dt, make(), 16, j % 3 == 0, n=64, epochs=2)
np.save(sys.argv[1], np.concatenate([o.ravel() for o in out]))
print(fp.simd_path())
"""


def test_gemm_sized_fit_of_the_new_rules_gives_the_same_bits_under_avx2(tmp_path):
    if not fp.simd_path().startswith("avx512"):
        pytest.skip(f"this CPU runs the {fp.simd_path()} path, not AVX-512")
    assert_same_bits(tmp_path, _GEMM_RULES_SCRIPT, "avx2", "avx2+fma", 10000)


# large elementwise passes (threaded, AVX2-compiled copies where the CPU has AVX2) against the
# baseline code that FASTPROP_GEMM_ISA=generic forces, as test_kernels checks the old rules
_ELEMENTWISE_RULES_SCRIPT = _RULES_SCRIPT_HEAD + r"""
from fastprop import _kernels
for dt in (np.float32, np.float64):
    Z = (6 * rng.standard_normal((300, 301))).astype(dt)
    Z[0, :10] = [0, -0.0, 20, 20.1, 19.9, -20, 100, -100, 1e-30, 1e-8]
    dA = rng.standard_normal(Z.shape).astype(dt)
    for act in ACTS:
        A = np.empty_like(Z); dZ = np.empty_like(Z)
        _kernels.activation_forward(fp.ACTIVATIONS[act].code, Z, A)
        _kernels.activation_backward(fp.ACTIVATIONS[act].code, Z, A, dA, dZ)
        out += [A.astype(np.float64), dZ.astype(np.float64)]
    for make in OPTS[:6]:
        net = fp.mlp([300, 340, 3], hidden="tanh", loss="mse", dtype=dt, seed=3)  # 103363
        opt = make()
        for _ in range(3):
            opt.step(net, rng.standard_normal(net.n_params).astype(dt))
        out.append(net.params.astype(np.float64))
np.save(sys.argv[1], np.concatenate([o.ravel() for o in out]))
print(fp.simd_path())
"""


def test_large_elementwise_passes_of_the_new_rules_give_the_baseline_bits(tmp_path):
    assert_same_bits(tmp_path, _ELEMENTWISE_RULES_SCRIPT, "generic", "generic", 10 ** 6)


# ---- hyper-parameters: refused as torch refuses them, the argument named ----------------------
BAD_HYPERPARAMETERS = [
    ("AdamW", dict(lr=-1e-3), ValueError, "lr"),
    ("AdamW", dict(lr=float("nan")), ValueError, "lr"),
    ("AdamW", dict(lr="0.01"), TypeError, "lr"),
    ("AdamW", dict(eps=0.0), ValueError, "eps"),
    ("AdamW", dict(eps=-1e-8), ValueError, "eps"),
    ("AdamW", dict(betas=(1.0, 0.999)), ValueError, "betas"),
    ("AdamW", dict(betas=(0.9, -0.1)), ValueError, "betas"),
    ("AdamW", dict(betas=(0.9, 1.5)), ValueError, "betas"),
    ("AdamW", dict(betas=(0.9,)), ValueError, "betas"),
    ("AdamW", dict(weight_decay=-0.01), ValueError, "weight_decay"),
    ("RMSprop", dict(lr=-0.01), ValueError, "lr"),
    ("RMSprop", dict(alpha=-0.1), ValueError, "alpha"),
    ("RMSprop", dict(alpha=1.5), ValueError, "alpha"),
    ("RMSprop", dict(eps=0.0), ValueError, "eps"),
    ("RMSprop", dict(eps=-1e-8), ValueError, "eps"),
    ("RMSprop", dict(weight_decay=-0.01), ValueError, "weight_decay"),
    ("RMSprop", dict(momentum=-0.9), ValueError, "momentum"),
    ("RMSprop", dict(momentum=float("inf")), ValueError, "momentum"),
    ("RMSprop", dict(centered="yes"), TypeError, "centered"),
    ("Adagrad", dict(lr=-0.01), ValueError, "lr"),
    ("Adagrad", dict(lr_decay=-0.01), ValueError, "lr_decay"),
    ("Adagrad", dict(weight_decay=-0.01), ValueError, "weight_decay"),
    ("Adagrad", dict(initial_accumulator_value=-0.1), ValueError, "initial_accumulator_value"),
    ("Adagrad", dict(eps=0.0), ValueError, "eps"),
    ("Adagrad", dict(eps=-1e-10), ValueError, "eps"),
    ("Adagrad", dict(lr=None), TypeError, "lr"),
]
BAD_IDS = [f"{c}-{'-'.join(f'{k}={v}' for k, v in kw.items())}"
           for c, kw, _, _ in BAD_HYPERPARAMETERS]


def names(argument):
    """The argument as a word of the message: `lr` is not matched by `lr_decay`."""
    return rf"(?<![\w]){re.escape(argument)}(?![\w])"


@pytest.mark.parametrize("cls,kwargs,error,argument", BAD_HYPERPARAMETERS, ids=BAD_IDS)
def test_bad_hyperparameters_are_refused_at_construction_naming_the_argument(cls, kwargs, error,
                                                                             argument):
    with pytest.raises(error, match=names(argument)):
        getattr(fp, cls)(**kwargs)


# (class, attribute, bad value): hyper-parameters changed after construction are checked
# again at every call, before anything changes
REFUSED_AT_CALL = [("AdamW", "weight_decay", -0.1), ("AdamW", "betas", (0.9, 1.0)),
                   ("AdamW", "eps", 0.0), ("RMSprop", "alpha", 1.5),
                   ("RMSprop", "momentum", -0.5), ("RMSprop", "lr", -1.0),
                   ("Adagrad", "lr_decay", -0.1), ("Adagrad", "eps", -1.0),
                   ("Adagrad", "weight_decay", -1.0)]


@pytest.mark.parametrize("cls,attribute,bad", REFUSED_AT_CALL,
                         ids=[f"{c}-{a}" for c, a, _ in REFUSED_AT_CALL])
def test_refused_fit_and_step_change_nothing(cls, attribute, bad):
    rng = np.random.default_rng(9)
    X, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    kwargs = dict(OPTIMIZERS[{"AdamW": "adamw-decay-0.1", "RMSprop": "rmsprop-all",
                              "Adagrad": "adagrad-all"}[cls]][1])
    net = fp.mlp([3, 4, 2], hidden="gelu", output="identity", loss="mse", seed=0)
    twin = fp.mlp([3, 4, 2], hidden="gelu", output="identity", loss="mse", seed=0)
    opt, twin_opt = getattr(fp, cls)(**kwargs), getattr(fp, cls)(**kwargs)
    net.fit(X, y, epochs=1, batch_size=4, optimizer=opt, shuffle=False)
    twin.fit(X, y, epochs=1, batch_size=4, optimizer=twin_opt, shuffle=False)
    before, steps = net.params.copy(), opt.steps
    good = getattr(opt, attribute)
    setattr(opt, attribute, bad)
    with pytest.raises(ValueError, match=names(attribute)):
        net.fit(X, y, epochs=2, batch_size=4, optimizer=opt, shuffle=False)
    with pytest.raises(ValueError, match=names(attribute)):
        opt.step(net, np.ones(net.n_params))
    np.testing.assert_array_equal(net.params, before)
    assert opt.steps == steps
    # the state is untouched too: restored, the optimizer goes on as one never refused
    setattr(opt, attribute, good)
    net.fit(X, y, epochs=2, batch_size=4, optimizer=opt, shuffle=False)
    twin.fit(X, y, epochs=2, batch_size=4, optimizer=twin_opt, shuffle=False)
    assert not np.array_equal(net.params, before)
    np.testing.assert_array_equal(net.params, twin.params)


# ---- the command line -----------------------------------------------------------------------
def test_bench_lists_the_new_activations_for_hidden(tmp_path):
    res = subprocess.run([sys.executable, "-m", "fastprop", "bench", "--help"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    help_text = " ".join(res.stdout.split())
    assert "--hidden" in help_text
    for name in NEW_ACTIVATIONS:
        assert re.search(names(name), help_text), name


@pytest.mark.parametrize("act", NEW_ACTIVATIONS)
def test_bench_quick_runs_with_each_new_hidden_activation(tmp_path, act):
    # a fresh interpreter on the installed package, started outside any checkout (in the
    # checkout root, `-m fastprop` would import the uncompiled source tree)
    path = tmp_path / "bench.json"
    res = subprocess.run([sys.executable, "-m", "fastprop", "bench", "--quick", "--sizes",
                          "2-3-1", "--no-torch", "--hidden", act, "--json", str(path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    import json
    data = json.loads(path.read_text())
    assert data["settings"]["hidden"] == act
    row = data["rows"][0]
    assert row["network"] == "2-3-1"
    assert row["max_rel_diff_central"] < 1e-6
