"""The optional peers of benchmarks/compare.py compute what fastprop computes, against plain
numpy references written here (ONNX Runtime's forward pass, JAX's SGD step and its two
variants), and the report turns the new workloads' records into rows with the issue-18
targets. Each peer's tests skip when it is not installed (`pip install .[bench]`); none
times anything."""
import os
import sys
import time

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import report  # noqa: E402
from workloads.fitcost import line  # noqa: E402


def jax_peer_or_skip():
    """benchmarks/jax_peer.py with jax loaded its way (one thread), or a skip."""
    import jax_peer
    jax, why = jax_peer.load()
    if jax is None:
        pytest.skip(why)
    return jax_peer


def numpy_forward(weights, acts, X):
    """The MLP's output activations, in float64."""
    A = np.asarray(X, dtype=np.float64)
    for (W, b), act in zip(weights, acts):
        Z = A @ W + b
        if act == "relu":
            A = np.maximum(Z, 0)
        elif act == "sigmoid":
            A = 1 / (1 + np.exp(-Z))
        elif act == "tanh":
            A = np.tanh(Z)
        elif act == "softmax":
            E = np.exp(Z - Z.max(axis=1, keepdims=True))
            A = E / E.sum(axis=1, keepdims=True)
        else:
            A = Z
    return A


def random_weights(sizes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((a, b)).astype(dtype) * 0.5,
             rng.standard_normal(b).astype(dtype) * 0.1) for a, b in zip(sizes[:-1], sizes[1:])]


@pytest.mark.parametrize("dtype,acts", [(np.float32, ["relu", "relu", "softmax"]),
                                        (np.float64, ["sigmoid", "tanh", "identity"])])
def test_onnx_session_matches_the_numpy_forward_pass(dtype, acts):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import onnx_peer
    weights = random_weights([5, 4, 3, 2], dtype)
    run = onnx_peer.session(weights, acts, dtype)
    for rows in (1, 7):
        X = np.random.default_rng(rows).standard_normal((rows, 5)).astype(dtype)
        out = run(X)
        assert out.dtype == dtype and out.shape == (rows, 2)
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(out, numpy_forward(weights, acts, X), rtol=tol, atol=tol)


def test_onnx_graph_refuses_an_unknown_activation():
    pytest.importorskip("onnx")
    import onnx_peer
    with pytest.raises(ValueError, match="acts"):
        onnx_peer.mlp_graph(random_weights([3, 2], np.float32), ["swish"], np.float32)


def numpy_sgd_step(weights, X, y, lr, loss):
    """One SGD step of a sigmoid-hidden MLP by hand-written backpropagation: (new weights,
    the loss before the step). loss "mse" (identity output, mean over all elements) or
    "cross_entropy" (softmax output, integer labels, mean over rows)."""
    As, A = [X], X
    for i, (W, b) in enumerate(weights):
        Z = A @ W + b
        last = i == len(weights) - 1
        A = Z if last else 1 / (1 + np.exp(-Z))
        As.append(A)
    n = X.shape[0]
    if loss == "mse":
        value = np.mean((A - y) ** 2)
        dZ = 2 * (A - y) / A.size
    else:
        E = np.exp(A - A.max(axis=1, keepdims=True))
        P = E / E.sum(axis=1, keepdims=True)
        value = -np.mean(np.log(P[np.arange(n), y]))
        dZ = P.copy()
        dZ[np.arange(n), y] -= 1
        dZ /= n
    new = [None] * len(weights)
    for i in range(len(weights) - 1, -1, -1):
        W, b = weights[i]
        new[i] = (W - lr * As[i].T @ dZ, b - lr * dZ.sum(axis=0))
        if i:
            dZ = (dZ @ W.T) * As[i] * (1 - As[i])
    return new, value


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_jax_step_is_the_numpy_sgd_step(loss):
    jax_peer = jax_peer_or_skip()
    weights = random_weights([4, 5, 3], np.float64)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 4))
    y = rng.standard_normal((6, 3)) if loss == "mse" else rng.integers(0, 3, 6)
    acts = ["sigmoid", "identity" if loss == "mse" else "softmax"]
    tr = jax_peer.JaxTrainer(acts, loss, weights, np.float64, lr=0.3)
    before = tr.loss(X, y)
    tr.step(X, y)
    want, want_loss = numpy_sgd_step(weights, X, y, 0.3, loss)
    assert before == pytest.approx(want_loss, rel=1e-12)
    for (W, b), (V, c) in zip(tr.weights(), want):
        np.testing.assert_allclose(W, V, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b, c, rtol=1e-12, atol=1e-14)


def test_jax_scan_epoch_with_a_remainder_equals_the_step_loop_and_resets():
    jax_peer = jax_peer_or_skip()
    weights = random_weights([3, 4, 2], np.float64, seed=2)
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((11, 3)), rng.integers(0, 2, 11)
    acts = ["relu", "softmax"]
    scan, loop = (jax_peer.JaxTrainer(acts, "cross_entropy", weights, np.float64, 0.1,
                                      momentum=0.9, nesterov=True) for _ in range(2))
    scan.scan_epoch(*jax_peer.batches(X, y, 4))          # 2 full batches and one of 3
    for xb, yb in jax_peer.step_batches(X, y, 4):
        loop.step(xb, yb)
    for (W, b), (V, c) in zip(scan.weights(), loop.weights()):
        np.testing.assert_allclose(W, V, rtol=1e-13)
        np.testing.assert_allclose(b, c, rtol=1e-13)
    assert not np.array_equal(scan.weights()[0][0], weights[0][0])
    scan.reset()
    np.testing.assert_array_equal(scan.weights()[0][0], weights[0][0])


def _thread_ticks():
    """{thread id: user + system clock ticks} of this process's threads (Linux)."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:               # a thread that ended meanwhile
            continue
        out[tid] = int(fields[11]) + int(fields[12])
    return out


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")
def test_jax_computes_on_one_thread_of_any_cpu():
    jax_peer = jax_peer_or_skip()
    import jax
    import jax.numpy as jnp
    f = jax.jit(lambda a: jnp.tanh(a @ a) @ a)
    a = jnp.asarray(np.random.default_rng(0).random((512, 512), dtype=np.float32))
    f(a).block_until_ready()
    before = _thread_ticks()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.5:
        f(a).block_until_ready()
    after = _thread_ticks()
    busy = sorted((after[t] - before.get(t, 0) for t in after), reverse=True)
    # a pool of several threads would share the ticks; one thread takes (nearly) all of them
    assert busy[0] >= 5 and busy[1] <= max(1, 0.2 * busy[0]), busy[:4]
    # and no thread is left pinned to the one CPU the client was created on
    cpus = os.sched_getaffinity(0)
    for tid in os.listdir("/proc/self/task"):
        try:
            mask = os.sched_getaffinity(int(tid))
        except OSError:               # a thread that ended meanwhile
            continue
        assert mask == cpus, tid


def test_loss_check_tolerance_follows_the_dtype():
    import jax_peer      # loss_check needs no jax
    assert jax_peer.loss_check(1.0, 1.0 + 5e-4, "float32")["ok"]
    assert not jax_peer.loss_check(1.0, 1.0 + 5e-4, "float64")["ok"]
    assert not jax_peer.loss_check(1.0, 1.01, "float32")["ok"]


def test_line_recovers_intercept_and_slope():
    a, b = line([1, 2, 4, 8], [3 + 2 * e for e in (1, 2, 4, 8)])
    assert a == pytest.approx(3) and b == pytest.approx(2)


def _summary(median):
    return {"median": median, "min": median, "max": median, "spread": 0.0, "samples": [median]}


def _row(times, best=None, check_ok=True):
    row = {c: _summary(v) for c, v in times.items()}
    row["speedup"] = {c: v / times["fastprop"] for c, v in times.items() if c != "fastprop"}
    if best:
        row["best_variant"] = {"jax": best}
        row["speedup"]["jax"] = row["speedup"][best]
        ok = {"ok": check_ok, "rel_diff": 0.0}
        row["jax_loss_check"] = {"how": "test", "scan": ok, "loop": ok}
    return row


def test_report_rows_carry_the_issue_18_targets_and_verdicts():
    results = {"workloads": {
        "predict": {"threads": 1, "rows": {
            "2-3-1 float64": _row({"fastprop": 1e-6, "numpy_xW": 1e-6}),
            "784-256-128-10 float32": _row({"fastprop": 20e-6, "onnxruntime": 20e-6})}},
        "fitcost": {"threads": 1, "rows": 64, "fastprop": {"intercept_s": 20e-6,
                                                           "per_step_s": 1e-7}},
        "partial_fit": dict(_row({"fastprop": 10e-6, "jax_scan": 15e-6, "jax_loop": 30e-6},
                                 best="jax_scan", check_ok=False), threads=1, batch=32),
    }}
    rows, verdicts = report.build_table(results)
    by = {(r[0], r[2]): r for r in rows}
    goal = by[("predict 1 row 2-3-1 float64", "vs the goal")]
    assert goal[5] == pytest.approx(1.5) and goal[7] == "met"
    assert by[("predict 1 row 2-3-1 float64", "a call vs numpy_xW")][7] == "met"
    assert by[("predict 1 row 784-256-128-10 float32", "a call vs onnxruntime")][7] == "NOT met"
    fit = by[("fit call 2-3-1, 64 rows", "fixed cost vs the goal")]
    assert fit[5] == pytest.approx(0.5) and fit[7] == "NOT met"
    # 1.5x the faster JAX variant meets 1.2x, but a loss that differs fails it
    scan = by[("partial_fit 64-64-10 b32", "per step vs jax_scan")]
    assert scan[6] == report.TARGETS["training_vs_jax"] and scan[7] == "met, loss differs"
    assert by[("partial_fit 64-64-10 b32", "per step vs jax_loop")][6] is None
    assert verdicts == [True, True, False, False, True, False]
