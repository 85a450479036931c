"""Threads: concurrent calls on one network from several Python threads each give the
result they give alone (predictions never see parameters that finite differences perturb);
set_num_threads takes an integer from 1 to the limit, numpy integers included, and refuses
anything else before any thread starts, naming n; an absurd FASTPROP_NUM_THREADS is refused
at import, without a crash."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastprop as fp


# ---- one network, several Python threads ----------------------------------------------------
def test_concurrent_predictions_on_one_network_are_each_correct():
    net = fp.mlp([64, 128, 10], hidden="tanh", seed=0)
    rng = np.random.default_rng(0)
    inputs = {"A": rng.standard_normal((37, 64)), "B": rng.standard_normal((300, 64))}
    expected = {k: net.predict(x) for k, x in inputs.items()}
    wrong = {"A": 0, "B": 0}
    start = threading.Barrier(2)

    def worker(key):
        start.wait()
        for _ in range(150):
            if not np.array_equal(net.predict(inputs[key]), expected[key]):
                wrong[key] += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in inputs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == {"A": 0, "B": 0}


def test_concurrent_backprop_and_loss_on_one_network_are_each_correct():
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((300, 16)), rng.standard_normal((300, 2))
    net = fp.mlp([16, 256, 2], hidden="sigmoid", seed=1)
    loss_ref, grad_ref = net.backprop(X, y)
    small_ref = net.loss(X[:3], y[:3])
    bad = []

    def grads():
        for _ in range(200):
            loss, grad = net.backprop(X, y)
            if loss != loss_ref or not np.array_equal(grad, grad_ref):
                bad.append("backprop")

    def losses():
        for _ in range(200):
            if net.loss(X[:3], y[:3]) != small_ref:
                bad.append("loss")

    threads = [threading.Thread(target=grads), threading.Thread(target=losses)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []


def test_predictions_during_finite_differences_never_see_perturbed_parameters():
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((50, 8)), rng.standard_normal((50, 3))
    net = fp.mlp([8, 64, 3], hidden="tanh", seed=2)
    expected = net.predict(X)
    wrong = []
    done = threading.Event()

    def predictions():
        while not done.is_set():
            if not np.array_equal(net.predict(X), expected):
                wrong.append(1)

    t = threading.Thread(target=predictions)
    t.start()
    try:
        for _ in range(5):
            fp.numerical_gradient(net, X, y, scheme="central")
    finally:
        done.set()
        t.join()
    assert wrong == []


# ---- thread counts ----------------------------------------------------------------------------
@pytest.mark.parametrize("n", [10 ** 6, 2 ** 40, 0, -3])
def test_thread_counts_out_of_range_are_refused_before_any_thread_starts(n):
    before = fp.get_num_threads()
    with pytest.raises(ValueError, match=r"^n: expected a number of threads from 1 to \d+, got"):
        fp.set_num_threads(n)
    assert fp.get_num_threads() == before


def test_bad_thread_counts_are_refused():
    with pytest.raises(ValueError, match="n"):
        fp.set_num_threads(0)
    with pytest.raises(TypeError, match="n"):
        fp.set_num_threads(1.5)


def test_numpy_integer_thread_counts_are_accepted():
    before = fp.get_num_threads()
    try:
        fp.set_num_threads(np.int64(1))
        assert fp.get_num_threads() == 1
    finally:
        fp.set_num_threads(before)


def test_an_absurd_FASTPROP_NUM_THREADS_is_refused_at_import(tmp_path):
    env = dict(os.environ, FASTPROP_NUM_THREADS="1000000")
    r = subprocess.run([sys.executable, "-c", "import fastprop"], env=env, capture_output=True,
                       text=True, cwd=tmp_path, timeout=120)
    assert r.returncode != 0
    assert "FASTPROP_NUM_THREADS: expected an integer from 1 to" in r.stderr
    assert "Segmentation" not in r.stderr
