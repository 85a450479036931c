"""pytest-benchmark suite: fastprop's kernels next to their numpy peers, grouped so that each
group holds the contenders of one measurement (compare runs with --benchmark-compare).

    pytest benchmarks -q                          # measure
    pytest benchmarks -q --benchmark-disable      # CI: run each body once, as a test
    pytest benchmarks --benchmark-save=base; ...; pytest benchmarks --benchmark-compare

Groups: gemm-<dtype>-<n> (fastprop.timing.gemm_kernel vs np.matmul), mnist-step (one SGD step of
784-256-128-10 relu/softmax CE, batch 128, float32: fastprop vs the numpy peer of peers.py),
tutorial-step (one per-sample SGD step of the 2-3-1 sigmoid MSE net: fastprop through one
fit call of one sample, which is mostly fit's per-call overhead; numpy peer; plain Python) and
tutorial-epoch-1000 (1000 per-sample steps in one call: fastprop vs plain Python). One thread
(FASTPROP_BENCH_THREADS to change it). The side-by-side headline run with threads, torch and scikit-learn is
benchmarks/compare.py. The installed fastprop is imported, never the source tree.
"""
import importlib.util
import os

import numpy as np
import pytest

fp = pytest.importorskip("fastprop")
pytest.importorskip("pytest_benchmark")
from fastprop.timing import gemm_kernel  # noqa: E402


def _load_peers():
    # pyproject's --import-mode=importlib puts no test directory on sys.path: load the
    # neighbouring module by its path (benchmarks/, not the fastprop package tree).
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers.py")
    spec = importlib.util.spec_from_file_location("fastprop_bench_peers", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


peers = _load_peers()

GEMM_SIZES = [64, 256, 1024]
THREADS = int(os.environ.get("FASTPROP_BENCH_THREADS", "1"))


@pytest.fixture(scope="module", autouse=True)
def _threads():
    """One thread for fastprop and numpy's BLAS unless FASTPROP_BENCH_THREADS says otherwise:
    single-thread figures are the ones that compare reproducibly across commits on a shared
    host. Restored afterwards."""
    before = fp.get_num_threads()
    fp.set_num_threads(THREADS)
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(limits=THREADS, user_api="blas")
    except ImportError:
        limiter = None
    yield
    fp.set_num_threads(before)
    if limiter is not None:
        limiter.restore_original_limits()


DTYPES = ["float32", "float64"]


@pytest.fixture(scope="module")
def gemm_operands():
    cache = {}

    def get(n, dtype):
        if (n, dtype) not in cache:
            rng = np.random.default_rng(n)
            A = rng.standard_normal((n, n)).astype(dtype)
            B = rng.standard_normal((n, n)).astype(dtype)
            cache[(n, dtype)] = (A, B, np.empty((n, n), dtype))
        return cache[(n, dtype)]

    return get


def _gemm_group(n, dtype):
    return f"gemm-{dtype}-{n}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", GEMM_SIZES)
def test_gemm_fastprop(benchmark, gemm_operands, n, dtype):
    benchmark.group = _gemm_group(n, dtype)
    benchmark.extra_info["gflop"] = 2.0 * n ** 3 * 1e-9
    A, B, C = gemm_operands(n, dtype)
    gemm = gemm_kernel(dtype)
    benchmark(gemm, False, False, 1.0, A, B, 0.0, C)
    ref = A @ B
    tol = 1e-3 if dtype == "float32" else 1e-10
    assert np.abs(C - ref).max() <= tol * max(1.0, np.abs(ref).max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", GEMM_SIZES)
def test_gemm_numpy(benchmark, gemm_operands, n, dtype):
    benchmark.group = _gemm_group(n, dtype)
    benchmark.extra_info["gflop"] = 2.0 * n ** 3 * 1e-9
    A, B, C = gemm_operands(n, dtype)
    benchmark(np.matmul, A, B, out=C)


# ---------------------------------------------------------------------------------------------
MNIST = dict(sizes=[784, 256, 128, 10], hidden="relu", output="softmax", loss="cross_entropy")
BATCH = 128


@pytest.fixture(scope="module")
def mnist_batch():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((BATCH, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=BATCH)
    return X, y


def test_mnist_step_fastprop(benchmark, mnist_batch):
    benchmark.group = "mnist-step"
    X, y = mnist_batch
    net = fp.mlp(MNIST["sizes"], hidden="relu", output="softmax", loss="cross_entropy",
                 dtype="float32", seed=0)
    opt = fp.SGD(lr=0.01)
    before = net.loss(X, y)
    # One step = one fit over a single batch (the compiled epoch loop, one batch).
    benchmark(net.fit, X, y, epochs=1, batch_size=BATCH, optimizer=opt, shuffle=False)
    assert np.isfinite(net.loss(X, y)) and np.isfinite(before)


def test_mnist_step_numpy(benchmark, mnist_batch):
    benchmark.group = "mnist-step"
    X, y = mnist_batch
    net = peers.NumpyMLP(MNIST["sizes"], "relu", "softmax", "cross_entropy", "float32")
    loss = benchmark(net.train_step, X, y, 0.01)
    assert np.isfinite(loss)


# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tutorial_sample():
    X, y = peers.tutorial_data(1)
    return X, y


def tutorial_net(seed=0):
    """The tutorial 2-3-1 network: sigmoid layers, MSE loss, float64."""
    return fp.Network([fp.Dense(2, 3, "sigmoid"), fp.Dense(3, 1, "sigmoid")], loss="mse",
                      dtype="float64", seed=seed)


def test_tutorial_step_fastprop(benchmark, tutorial_sample):
    benchmark.group = "tutorial-step"
    X, y = tutorial_sample
    net = tutorial_net()
    opt = fp.SGD(lr=0.5)
    # One per-sample step through the public fit (includes its per-call Python overhead;
    # benchmarks/compare.py amortises that over whole epochs).
    benchmark(net.fit, X, y, epochs=1, batch_size=1, optimizer=opt, shuffle=False)


def test_tutorial_epoch_fastprop(benchmark):
    benchmark.group = "tutorial-epoch-1000"
    X, y = peers.tutorial_data(1000)
    net = tutorial_net()
    opt = fp.SGD(lr=0.5)
    benchmark(net.fit, X, y, epochs=1, batch_size=1, optimizer=opt, shuffle=False)


def test_tutorial_epoch_python_scalar(benchmark):
    benchmark.group = "tutorial-epoch-1000"
    X, y = peers.tutorial_data(1000)
    Xl, yl = X.tolist(), y[:, 0].tolist()
    net = peers.ScalarTutorial()
    loss = benchmark(net.fit, Xl, yl, 1, 0.5)
    assert np.isfinite(loss)


def test_tutorial_step_numpy(benchmark, tutorial_sample):
    benchmark.group = "tutorial-step"
    X, y = tutorial_sample
    net = peers.NumpyMLP([2, 3, 1], "sigmoid", "sigmoid", "mse", "float64")
    benchmark(net.train_step, X, y, 0.5)


def test_tutorial_step_python_scalar(benchmark, tutorial_sample):
    benchmark.group = "tutorial-step"
    X, y = tutorial_sample
    Xl, yl = X.tolist(), y[:, 0].tolist()
    net = peers.ScalarTutorial()
    benchmark(net.fit, Xl, yl, 1, 0.5)


# ---------------------------------------------------------------------------------------------
def test_peers_agree_with_fastprop():
    """The numpy peer computes the same loss and gradient as fastprop (same parameters), and
    the scalar tutorial trains like fastprop's per-sample SGD: the comparison is like for like."""
    for sizes, h, o, loss in (([5, 7, 4, 3], "relu", "softmax", "cross_entropy"),
                              ([2, 3, 1], "sigmoid", "sigmoid", "mse")):
        net = fp.mlp(sizes, hidden=h, output=o, loss=loss, dtype="float64", seed=1)
        peer = peers.NumpyMLP(sizes, h, o, loss, "float64")
        peer.params = [(layer.W.copy(), layer.b.copy()) for layer in net.layers]
        rng = np.random.default_rng(0)
        X = rng.standard_normal((9, sizes[0]))
        y = (rng.integers(0, sizes[-1], 9) if loss == "cross_entropy"
             else rng.random((9, sizes[-1])))
        value, grad = net.backprop(X, y)
        peer.forward(X)
        value2 = peer.backward(X, y)
        grad2 = np.concatenate([np.concatenate([gW.ravel(), gb]) for gW, gb in peer.grads])
        assert abs(value - value2) < 1e-12
        np.testing.assert_allclose(grad, grad2, rtol=1e-9, atol=1e-12)

    X, y = peers.tutorial_data(50)
    scalar = peers.ScalarTutorial()
    net = tutorial_net()
    net.layers[0].W[...] = scalar.W1
    net.layers[0].b[...] = 0
    net.layers[1].W[...] = scalar.W2
    net.layers[1].b[...] = 0
    net.fit(X, y, epochs=3, batch_size=1, optimizer=fp.SGD(lr=0.5), shuffle=False)
    scalar.fit(X.tolist(), y[:, 0].tolist(), 3, 0.5)
    np.testing.assert_allclose(net.predict(X)[:, 0], scalar.predict(X.tolist()), atol=1e-12)
