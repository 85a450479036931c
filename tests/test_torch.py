"""fastprop against PyTorch, the independent reference: predictions, losses and gradients of
random networks (several architectures, every activation and loss pair) equal torch autograd
to 1e-10 relative in float64; ten optimizer steps of SGD (plain, momentum, Nesterov, weight
decay) and Adam (with and without weight decay) give the parameters torch.optim gives.
Skipped cleanly when torch is not installed (the `torch` fixture of conftest)."""
import os
import sys

import numpy as np
import pytest

import fastprop as fp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import TorchTwin, assert_close_relative  # noqa: E402

# The activation x loss table lives in conftest.py (markers `combos`, `output_losses`).
ARCHITECTURES = [(3, 5, 4, None), (2, 8, 8, 8, None), (7, 16, None)]

TORCH_RTOL_F64 = 1e-10


def random_case(ref, hidden, output, loss, kind, arch, dtype="float64", seed=0, n=7):
    n_out = arch[-1] or (1 if output in ("sigmoid", "identity") and kind != "probs" else 3)
    sizes = list(arch[:-1]) + [n_out]
    rng = np.random.default_rng(seed)
    net = fp.mlp(sizes, hidden=hidden, output=output, loss=loss, dtype=dtype, seed=rng)
    for layer in net.layers:
        layer.b[...] = rng.uniform(-0.5, 0.5, size=layer.b.shape)
    X = rng.normal(size=(n, sizes[0]))
    y = ref.make_targets(kind, n, n_out, rng)
    return net, X, y


# ---- loss, gradient, prediction ----------------------------------------------------------
@pytest.mark.parametrize("arch", ARCHITECTURES, ids=lambda a: "x".join(str(s) for s in a[:-1]))
@pytest.mark.combos
def test_loss_and_gradient_equal_torch_autograd_float64(torch, ref, hidden, output, loss, kind,
                                                        arch):
    net, X, y = random_case(ref, hidden, output, loss, kind, arch)
    twin = TorchTwin(torch, net)
    value, grad = net.backprop(X, y)
    t_value, t_grad = twin.backprop(X, y)
    assert value == pytest.approx(t_value, rel=TORCH_RTOL_F64)
    assert net.loss(X, y) == pytest.approx(t_value, rel=TORCH_RTOL_F64)
    assert_close_relative(grad, t_grad, TORCH_RTOL_F64)


@pytest.mark.output_losses
def test_single_layer_network_loss_and_gradient_equal_torch_autograd_float64(torch, ref, output,
                                                                             loss, kind):
    net, X, y = random_case(ref, "identity", output, loss, kind, (4, None), seed=7)
    assert len(net.layers) == 1
    twin = TorchTwin(torch, net)
    value, grad = net.backprop(X, y)
    t_value, t_grad = twin.backprop(X, y)
    assert value == pytest.approx(t_value, rel=TORCH_RTOL_F64)
    assert_close_relative(grad, t_grad, TORCH_RTOL_F64)


@pytest.mark.combos
def test_predict_equals_torch_forward_float64(torch, ref, hidden, output, loss, kind):
    net, X, y = random_case(ref, hidden, output, loss, kind, (3, 6, 5, None), seed=1)
    twin = TorchTwin(torch, net)
    with torch.no_grad():
        expected = twin.forward(X).numpy()
    out = net.predict(X)
    assert out.shape == expected.shape
    assert_close_relative(out, expected, 1e-12)


@pytest.mark.combos(step=3)
def test_loss_and_gradient_agree_with_torch_float32(torch, ref, hidden, output, loss, kind):
    net, X, y = random_case(ref, hidden, output, loss, kind, (3, 6, 5, None), dtype="float32",
                            seed=2)
    twin = TorchTwin(torch, net)
    value, grad = net.backprop(X.astype(np.float32), y)
    t_value, t_grad = twin.backprop(X.astype(np.float32), y)
    assert value == pytest.approx(t_value, rel=1e-5)
    assert_close_relative(grad, t_grad, 1e-4)
    np.testing.assert_allclose(net.predict(X), twin.forward(X.astype(np.float32)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
def test_derivative_at_the_kink_is_pytorchs(torch, act):
    # All hidden pre-activations exactly 0: relu'(0) = 0, leaky_relu'(0) = slope, as torch.
    net = fp.mlp([2, 3, 1], hidden=act, output="identity", loss="mse", seed=0)
    net.layers[0].W[...] = 0.0
    net.layers[0].b[...] = 0.0
    net.layers[1].b[...] = 0.3
    X, y = np.array([[1.0, -2.0], [0.5, 0.25]]), np.array([1.0, -1.0])
    twin = TorchTwin(torch, net)
    _, grad = net.backprop(X, y)
    _, t_grad = twin.backprop(X, y)
    np.testing.assert_allclose(grad, t_grad, rtol=1e-14, atol=1e-300)
    if act == "leaky_relu":
        assert np.abs(grad[:6]).max() > 0      # the slope lets gradient through
    else:
        assert np.all(grad[:6] == 0)


def test_cross_entropy_int_labels_and_one_hot_equal_torch_and_each_other(torch, ref):
    net, X, labels = random_case(ref, "tanh", "softmax", "cross_entropy", "labels", (4, 6, 5),
                                 seed=3)
    onehot = np.eye(5)[labels]
    twin = TorchTwin(torch, net)
    l1, g1 = net.backprop(X, labels)
    l2, g2 = net.backprop(X, onehot)
    t1, tg = twin.backprop(X, labels)
    assert l1 == pytest.approx(t1, rel=1e-12) and l2 == pytest.approx(t1, rel=1e-12)
    assert_close_relative(g1, tg, 1e-10)
    np.testing.assert_allclose(g1, g2, rtol=1e-14)


def test_losses_at_large_logits_are_finite_and_equal_torch(torch, ref):
    # Saturated outputs: BCE with logits and CE from logits stay exact where probabilities
    # round to 0 or 1.
    for output, loss, kind in [("sigmoid", "binary_cross_entropy", "binary"),
                               ("softmax", "cross_entropy", "labels")]:
        net, X, y = random_case(ref, "identity", output, loss, kind, (3, None), seed=4)
        net.params[...] *= 300.0
        twin = TorchTwin(torch, net)
        value, grad = net.backprop(X, y)
        t_value, t_grad = twin.backprop(X, y)
        assert np.isfinite(value) and np.isfinite(grad).all()
        assert value > 10
        assert value == pytest.approx(t_value, rel=1e-10)
        assert_close_relative(grad, t_grad, 1e-10)


# ---- optimizers ---------------------------------------------------------------------------
OPTIMIZERS = {
    "sgd": (lambda: fp.SGD(lr=0.1), lambda t, p: t.optim.SGD(p, lr=0.1)),
    "sgd-weight-decay": (lambda: fp.SGD(lr=0.1, weight_decay=0.05),
                         lambda t, p: t.optim.SGD(p, lr=0.1, weight_decay=0.05)),
    "sgd-momentum": (lambda: fp.SGD(lr=0.1, momentum=0.9),
                     lambda t, p: t.optim.SGD(p, lr=0.1, momentum=0.9)),
    "sgd-nesterov-weight-decay": (
        lambda: fp.SGD(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
        lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    "adam": (lambda: fp.Adam(lr=0.01), lambda t, p: t.optim.Adam(p, lr=0.01)),
    "adam-weight-decay": (lambda: fp.Adam(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
                          lambda t, p: t.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6,
                                                    weight_decay=0.1)),
    "adam-small-beta1": (lambda: fp.Adam(lr=0.01, betas=(0.3, 0.9)),
                         lambda t, p: t.optim.Adam(p, lr=0.01, betas=(0.3, 0.9))),
}


def optimizer_case(ref, dtype="float64", arch=(4, 6, 3)):
    return random_case(ref, "tanh", "softmax", "cross_entropy", "labels", arch, dtype=dtype,
                       seed=5, n=12)


# Up to 8192 parameters (FP_OPTIM_ONE_PASS) the update is one pass in place, undone from a copy
# on failure; beyond, a dry pass then a write pass (csrc/nn/fp_optim.inc): both paths are checked.
OPTIMIZER_ARCHS = pytest.mark.parametrize("arch", [(4, 6, 3), (4, 300, 30)],
                                          ids=["51-params", "10530-params"])


@OPTIMIZER_ARCHS
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_update_equals_torch_optim_given_the_same_gradients(torch, ref, name, arch):
    make_fp, make_torch = OPTIMIZERS[name]
    net, X, y = optimizer_case(ref, arch=arch)
    twin = TorchTwin(torch, net)
    opt, t_opt = make_fp(), make_torch(torch, twin.parameters())
    start = net.params.copy()
    for _ in range(10):
        _, grad = net.backprop(X, y)
        opt.step(net, grad)
        twin.set_grad(grad, net)
        t_opt.step()
    assert opt.steps == 10
    assert not np.array_equal(net.params, start)
    assert_close_relative(net.params, twin.flat(), 1e-13, ulps_of_largest=64)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_ten_steps_of_backprop_and_step_equal_torch_training(torch, ref, name):
    make_fp, make_torch = OPTIMIZERS[name]
    net, X, y = optimizer_case(ref)
    twin = TorchTwin(torch, net)
    opt, t_opt = make_fp(), make_torch(torch, twin.parameters())
    for _ in range(10):
        _, grad = net.backprop(X, y)
        opt.step(net, grad)
        t_opt.zero_grad()
        twin.loss(X, y).backward()
        t_opt.step()
    assert_close_relative(net.params, twin.flat(), 1e-12, ulps_of_largest=64)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_full_batch_fit_without_shuffle_equals_torch_training(torch, ref, name):
    make_fp, make_torch = OPTIMIZERS[name]
    net, X, y = optimizer_case(ref)
    twin = TorchTwin(torch, net)
    t_opt = make_torch(torch, twin.parameters())
    t_losses = []
    for _ in range(10):
        t_opt.zero_grad()
        loss = twin.loss(X, y)
        loss.backward()
        t_losses.append(float(loss.detach()))
        t_opt.step()
    hist = net.fit(X, y, epochs=10, batch_size=X.shape[0], optimizer=make_fp(), shuffle=False)
    assert_close_relative(net.params, twin.flat(), 1e-12)
    np.testing.assert_allclose(hist.loss, t_losses, rtol=1e-12)


@OPTIMIZER_ARCHS
@pytest.mark.parametrize("name", ["sgd-nesterov-weight-decay", "adam-weight-decay"])
def test_optimizers_agree_with_torch_float32(torch, ref, name, arch):
    make_fp, make_torch = OPTIMIZERS[name]
    net, X, y = optimizer_case(ref, dtype="float32", arch=arch)
    X = X.astype(np.float32)
    twin = TorchTwin(torch, net)
    opt, t_opt = make_fp(), make_torch(torch, twin.parameters())
    for _ in range(10):
        _, grad = net.backprop(X, y)
        opt.step(net, grad)
        t_opt.zero_grad()
        twin.loss(X, y).backward()
        t_opt.step()
    assert net.params.dtype == np.float32
    # float32 gradients of the two libraries differ by summation order (~1e-7 relative);
    # Adam divides each entry by its own scale, so entries whose gradient is at that noise level
    # move by noise-driven steps: on the 10530-parameter network a few entries differ by ~250
    # float32 ulps of the largest parameter after 10 steps (every other entry agrees to 1e-4).
    assert_close_relative(net.params, twin.flat(), 1e-4, ulps_of_largest=1024)
