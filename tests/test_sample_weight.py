"""sample_weight in fit and loss: each batch's loss is the weighted mean of its samples'
losses (scikit-learn's MLP), checked against a numpy reference, finite differences and a
torch replay."""
import os
import sys

import numpy as np
import pytest

import fastprop as fp

sys.path.insert(0, os.path.dirname(__file__))
from torch_replay import replay  # noqa: E402


def _case(loss, seed=0, n=15):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    w = rng.uniform(0, 3, size=n)
    w[2] = 0.0
    if loss == "mse":
        net = fp.mlp([4, 6, 2], hidden="tanh", output="identity", loss="mse", seed=seed)
        y = rng.normal(size=(n, 2))
    elif loss == "binary_cross_entropy":
        net = fp.mlp([4, 6, 2], hidden="tanh", output="sigmoid", loss=loss, seed=seed)
        y = rng.integers(0, 2, size=(n, 2)).astype(float)
    else:
        net = fp.mlp([4, 6, 3], hidden="tanh", output="softmax", loss=loss, seed=seed)
        y = rng.integers(0, 3, size=n)
    return net, X, y, w


LOSSES = ["mse", "binary_cross_entropy", "cross_entropy"]


def _per_sample_losses(net, X, y):
    """Each sample's loss from predict, in numpy (written from DESIGN.md's formulas)."""
    p = net.predict(X)
    if net.loss_name == "mse":
        return ((p - y.reshape(p.shape)) ** 2).mean(axis=1)
    if net.loss_name == "binary_cross_entropy":
        t = y.reshape(p.shape)
        return -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(axis=1)
    return -np.log(p[np.arange(len(y)), y])


@pytest.mark.parametrize("loss", LOSSES)
def test_weighted_loss_is_the_weighted_mean_of_the_samples_losses(loss):
    net, X, y, w = _case(loss)
    expected = np.sum(w * _per_sample_losses(net, X, y)) / np.sum(w)
    assert net.loss(X, y, sample_weight=w) == pytest.approx(expected, rel=1e-12)
    assert net.loss(X, y, sample_weight=np.ones(len(X))) == pytest.approx(net.loss(X, y),
                                                                          rel=1e-13)


@pytest.mark.parametrize("loss", LOSSES)
def test_a_full_batch_sgd_step_moves_along_the_weighted_losss_gradient(loss):
    # one full-batch SGD step with lr 1 moves the parameters by minus the gradient of the
    # weighted loss: compared with its central finite differences
    net, X, y, w = _case(loss)
    before = net.params.copy()
    net.fit(X, y, epochs=1, batch_size=len(X), optimizer=fp.SGD(lr=1.0), shuffle=False,
            sample_weight=w)
    step = before - net.params
    net.params = before
    h, num = 1e-6, np.empty_like(before)
    for i in range(before.size):
        p = before.copy()
        p[i] += h
        net.params = p
        up = net.loss(X, y, sample_weight=w)
        p[i] -= 2 * h
        net.params = p
        num[i] = (up - net.loss(X, y, sample_weight=w)) / (2 * h)
    np.testing.assert_allclose(step, num, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("batch_size", [1, 4, 15])
def test_weighted_training_matches_a_torch_replay(loss, batch_size):
    torch = pytest.importorskip("torch")
    net, X, y, w = _case(loss)
    params, losses = replay(torch, net, X, y, 2, batch_size,
                            lambda p: torch.optim.SGD(p, lr=0.2, momentum=0.5),
                            sample_weight=w)
    hist = net.fit(X, y, epochs=2, batch_size=batch_size, optimizer=fp.SGD(lr=0.2, momentum=0.5),
                   shuffle=False, sample_weight=w)
    np.testing.assert_allclose(net.params, params, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(hist.loss, losses, rtol=1e-11)


def test_equal_weights_train_with_the_bits_of_no_weights():
    net, X, y, _ = _case("cross_entropy")
    twin = fp.mlp([4, 6, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    net.fit(X, y, epochs=3, batch_size=4, sample_weight=np.full(len(X), 2.5))
    twin.fit(X, y, epochs=3, batch_size=4)
    assert net.params.tobytes() == twin.params.tobytes()


def test_zero_weight_samples_do_not_move_the_parameters():
    # a full batch whose only weighted samples are the first 5: the last 10 do not matter
    net, X, y, w = _case("mse")
    w = np.r_[np.ones(5), np.zeros(10)]
    y2 = y.copy()
    y2[5:] += 100.0
    twin = fp.mlp([4, 6, 2], hidden="tanh", output="identity", loss="mse", seed=0)
    net.fit(X, y, epochs=2, batch_size=15, sample_weight=w)
    twin.fit(X, y2, epochs=2, batch_size=15, sample_weight=w)
    np.testing.assert_array_equal(net.params, twin.params)


@pytest.mark.parametrize("w, exc, what", [
    (np.ones(14), ValueError, "(15,)"), (np.ones((15, 1)), ValueError, "shape"),
    (-np.ones(15), ValueError, ">= 0"), (np.zeros(15), ValueError, "zeros"),
    (np.r_[np.nan, np.ones(14)], ValueError, "finite"), (["a"] * 15, TypeError, ""),
    (np.r_[np.inf, np.ones(14)], ValueError, "finite")])
def test_bad_sample_weights_are_refused_by_name(w, exc, what):
    net, X, y, _ = _case("mse")
    before = net.params.copy()
    for call in (lambda: net.fit(X, y, epochs=1, sample_weight=w),
                 lambda: net.loss(X, y, sample_weight=w)):
        with pytest.raises(exc, match="sample_weight") as info:
            call()
        assert what in str(info.value) or what == ""
    assert net.params.tobytes() == before.tobytes()


def test_caller_weights_are_not_written():
    net, X, y, w = _case("mse")
    w_before = w.copy()
    net.fit(X, y, epochs=2, batch_size=3, sample_weight=w)
    assert w.tobytes() == w_before.tobytes()
