"""Memory: training allocates its buffers once (the workspace once per batch size, nothing
per step) and an evaluation call does not keep a workspace above the limit, checked by
counting workspace allocations and by tracemalloc (numpy's allocations are traced), never by
timing; sizes whose counts overflow int64 (a layer's width, a network's parameter count, a
workspace's rows) are refused before anything is allocated."""
import tracemalloc

import numpy as np
import pytest

import fastprop as fp
from fastprop import _core


def _data(n=256, n_in=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n_in)), rng.integers(0, classes, n)


def test_training_buffers_are_allocated_once_per_batch_size():
    X, y = _data()
    net = fp.mlp([8, 16, 3], hidden="relu", output="softmax", loss="cross_entropy")
    opt = fp.SGD(lr=0.05)
    net.fit(X, y, epochs=2, batch_size=16, optimizer=opt)
    first = net._buffer_allocations
    net.fit(X, y, epochs=3, batch_size=16, optimizer=opt)
    net.fit(X, y, epochs=3, batch_size=8, optimizer=opt)     # smaller batches reuse it
    net.backprop(X[:16], y[:16])
    assert first == 2      # the workspace and the batch-gather buffer
    assert net._buffer_allocations == first


def test_traced_memory_of_fit_does_not_grow_with_epochs():
    X, y = _data()
    net = fp.mlp([8, 16, 3], hidden="relu", output="softmax", loss="cross_entropy")
    opt = fp.SGD(lr=0.05)
    net.fit(X, y, epochs=1, batch_size=16, optimizer=opt)   # workspace and state exist now

    def peak_of(epochs):
        tracemalloc.start()
        try:
            net.fit(X, y, epochs=epochs, batch_size=16, optimizer=opt)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    short, long = peak_of(2), peak_of(200)
    # 200 epochs x 16 steps: any per-step allocation of even 8 bytes would add 25 kB.
    # The per-epoch history (a float each) may grow by a few kB.
    assert long - short < 16_000, (short, long)


def test_an_evaluation_call_does_not_keep_a_workspace_above_the_limit(monkeypatch):
    from fastprop import _model
    X, y = _data(n=64)
    net = fp.mlp([8, 16, 3], hidden="relu", output="softmax", loss="cross_entropy")
    net.predict(X[:8])
    assert net._ws is not None and net._cap == 8           # small: kept
    monkeypatch.setattr(_model, "KEEP_WORKSPACE_BYTES", net._ws.nbytes)
    expected = net.predict(X)                               # grows it above the limit
    assert net._ws is None and net._cap == 0               # dropped
    net.loss(X, y)
    assert net._ws is None
    np.testing.assert_array_equal(net.predict(X), expected)
    net.fit(X, y, epochs=1, batch_size=64)
    assert net._ws is not None                             # training keeps its buffers
    net.predict(X[:1])
    net.loss(X, y)
    assert net._ws is not None and net._cap == 64          # calls that did not grow it


# ---- sizes whose counts overflow int64 --------------------------------------------------------
def test_layer_widths_beyond_the_addressable_are_refused_by_the_layer():
    with pytest.raises(ValueError, match=r"^n_out: expected an integer <="):
        fp.Dense(1, 2 ** 62)
    with pytest.raises(ValueError, match=r"^n_in: expected an integer <="):
        fp.Dense(2 ** 70, 1)


def test_a_network_with_too_many_parameters_is_refused_before_allocating():
    # each layer is within bounds, their product is not: 2^28 x 2^29 weights = 2^57 > 2^56
    with pytest.raises(ValueError, match=r"^layers: expected at most [\d,]+ parameters in all"):
        fp.Network([fp.Dense(2 ** 28, 2 ** 29), fp.Dense(2 ** 29, 1)])


def test_the_compiled_floor_refuses_sizes_whose_counts_overflow():
    acts = np.array([0, 0], dtype=np.int32)
    with pytest.raises(ValueError, match=r"^sizes: expected layer widths <="):
        _core.n_params(np.array([1, 2 ** 62, 2], dtype=np.int64), acts, 0)
    with pytest.raises(ValueError, match=r"^sizes: expected at most [\d,]+ parameters in all"):
        _core.n_params(np.array([2 ** 40, 2 ** 40, 2], dtype=np.int64), acts, 0)
    with pytest.raises(ValueError, match=r"^cap: [\d,]+ rows of a network"):
        _core.workspace_size(np.array([4, 2 ** 20, 2], dtype=np.int64), acts, 0, 2 ** 50)
