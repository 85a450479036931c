"""The headline as a pytest-benchmark suite: for each network of the ladder, one forward pass
(the loss), backprop (loss and whole gradient) and finite differences over a fixed sample of
parameters, grouped per network, so `--benchmark-save` / `--benchmark-compare` track them
across commits.

    pytest benchmarks/ --benchmark-only                 # measure
    pytest benchmarks/ --benchmark-disable              # run each once (CI: proves it works)

Small passes last less than a Python call, so forward and backprop run REPS[network] passes in
one compiled call (`fastprop.timing.PassLoop`); divide a benchmark's time by extra_info["passes"]
for the time of one pass. The FD benchmark perturbs FD_SAMPLE parameters (seed SAMPLE_SEED):
1 + FD_SAMPLE forward passes in one compiled call. The same networks and data as `fastprop
bench` (fastprop.bench). This file measures; it asserts only that the three agree."""
import numpy as np
import pytest

import fastprop as fp
from fastprop.bench import build_network, make_batch
from fastprop.gradients import relative_error
from fastprop.timing import PassLoop

# network -> passes per compiled call for forward/backprop (about 1 ms a call at float64)
REPS = {"2-3-1": 500, "4-16-1": 200, "16-64-4": 50, "64-128-10": 20, "256-256-10": 5,
        "784-256-10": 2, "1024-1024-10": 1}
FD_SAMPLE = 16
SAMPLE_SEED = 1234
BATCH = 32


@pytest.fixture(scope="module", params=list(REPS), ids=list(REPS))
def case(request):
    name = request.param
    net = build_network([int(w) for w in name.split("-")], "sigmoid", "float64")
    X, y = make_batch(net, BATCH)
    k = min(FD_SAMPLE, net.n_params)
    idx = np.sort(np.random.default_rng(SAMPLE_SEED).choice(net.n_params, size=k, replace=False))
    return {"name": name, "net": net, "X": X, "y": y, "forward": PassLoop(net, X, y, False),
            "backprop": PassLoop(net, X, y, True), "reps": REPS[name],
            "idx": idx.astype(np.int64)}


def _passes(case, backward):
    return case["backprop" if backward else "forward"](case["reps"])


def _label(benchmark, case, passes):
    benchmark.group = f"{case['name']} (N={case['net'].n_params:,})"
    benchmark.extra_info.update({"network": case["name"], "N": case["net"].n_params,
                                 "batch": BATCH, "passes": passes})


def test_forward(benchmark, case):
    _label(benchmark, case, case["reps"])
    loss = benchmark(_passes, case, False)
    assert loss == pytest.approx(case["net"].loss(case["X"], case["y"]), rel=1e-12)


def test_backprop(benchmark, case):
    _label(benchmark, case, case["reps"])
    loss = benchmark(_passes, case, True)
    expected_loss, expected_grad = case["net"].backprop(case["X"], case["y"])
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    np.testing.assert_allclose(case["backprop"].grad, expected_grad, rtol=1e-12, atol=0)


def test_finite_differences(benchmark, case):
    idx = case["idx"]
    _label(benchmark, case, 1 + idx.shape[0])
    net, X, y = case["net"], case["X"], case["y"]
    numeric = benchmark(fp.numerical_gradient, net, X, y, scheme="forward", indices=idx)
    _, grad = net.backprop(X, y)
    assert relative_error(grad[idx], numeric) < 1e-3
