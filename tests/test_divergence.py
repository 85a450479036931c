"""Training that overflows: fit raises TrainingDivergedError (a FloatingPointError) at the
first non-finite loss or gradient, leaving the parameters of the last finite step and a
history of finite losses; an optimizer step whose update would overflow is refused with
the parameters, the optimizer state and its step count exactly as they were. Both the
one-pass update and the dry pass + write pass of large networks."""
import numpy as np
import pytest

import fastprop as fp


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("lr", [1e3, 1e10, 1e30, 1e100, 1e300])
# one-pass update / dry pass + write pass (more than FP_OPTIM_ONE_PASS = 8192 parameters)
@pytest.mark.parametrize("hidden", [5, 1400], ids=["32-params", "8402-params"])
def test_divergence_raises_and_leaves_only_finite_params(dtype, lr, hidden):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    net = fp.mlp([3, hidden, 2], hidden="relu", output="identity", loss="mse", dtype=dtype,
                 seed=0)
    with pytest.raises(fp.TrainingDivergedError, match="diverged") as info:
        net.fit(X, y, epochs=50, batch_size=5, optimizer=fp.SGD(lr=lr), shuffle=False)
    assert isinstance(info.value, FloatingPointError)
    assert np.isfinite(net.params).all(), "non-finite parameters left after divergence"
    hist = info.value.history
    assert len(hist.loss) < 50
    assert all(np.isfinite(hist.loss))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_divergence_keeps_the_params_of_the_last_finite_step(dtype):
    # The same steps by hand (backprop, stop at the first non-finite loss or gradient, else
    # update): fit must end on exactly those parameters, with the error raised.
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(8, 2)) * 10, rng.normal(size=8)
    net = fp.mlp([2, 3, 1], hidden="identity", output="identity", dtype=dtype, seed=0)
    twin = fp.mlp([2, 3, 1], hidden="identity", output="identity", dtype=dtype, seed=0)
    opt = fp.SGD(lr=0.5)
    steps = 0
    for _ in range(1000):
        try:
            loss, grad = twin.backprop(X, y)   # raises at a non-finite loss or gradient
        except fp.NonFiniteResultError:
            break
        assert np.isfinite(loss) and np.isfinite(grad).all()
        opt.step(twin, grad)
        steps += 1
    else:
        pytest.fail("the hand loop did not diverge")
    assert np.isfinite(twin.params).all()
    with pytest.raises(fp.TrainingDivergedError) as info:
        net.fit(X, y, epochs=1000, batch_size=8, optimizer=fp.SGD(lr=0.5), shuffle=False)
    assert len(info.value.history.loss) == steps
    np.testing.assert_array_equal(net.params, twin.params)


# one-pass update / dry pass + write pass (more than FP_OPTIM_ONE_PASS = 8192 parameters)
@pytest.mark.parametrize("hidden", [5, 1400], ids=["32-params", "8402-params"])
@pytest.mark.parametrize("make", [lambda: fp.SGD(lr=1e38, momentum=0.9),
                                  lambda: fp.SGD(lr=1e38, momentum=0.9, nesterov=True),
                                  lambda: fp.Adam(lr=1e38)],
                         ids=["momentum", "nesterov", "adam"])
def test_an_overflowing_update_changes_neither_params_nor_optimizer_state(make, hidden):
    # float32: a few finite steps, then one whose lr * update overflows; the refused step must
    # leave params, the optimizer state and its step count exactly as they were.
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    net = fp.mlp([3, hidden, 2], hidden="tanh", output="identity", loss="mse",
                 dtype="float32", seed=0)
    opt = make()
    opt.lr = 1e-3
    for _ in range(3):
        opt.step(net, net.backprop(X, y)[1])
    params, state, steps = net.params.copy(), opt._state.copy(), opt.steps
    opt.lr = 1e38
    with pytest.raises(FloatingPointError, match="overflow"):
        opt.step(net, net.backprop(X, y)[1] * 1e4)
    assert net.params.tobytes() == params.tobytes()
    assert opt._state.tobytes() == state.tobytes()
    assert opt.steps == steps


@pytest.mark.parametrize("hidden", [5, 1400], ids=["32-params", "8402-params"])
def test_adam_refuses_an_overflowing_second_moment_even_when_the_parameter_stays_finite(hidden):
    # float32: g = 1e22 is finite, (1 - beta2) g g is not; the step p - lr m / (sqrt(v) + eps)
    # would stay finite (it divides by infinity), but exp_avg_sq would not: it must be refused.
    net = fp.mlp([3, hidden, 2], hidden="tanh", output="identity", loss="mse",
                 dtype="float32", seed=0)
    opt = fp.Adam(lr=1e-3)
    opt.step(net, np.full(net.n_params, 1e-3, dtype=np.float32))
    params, state = net.params.copy(), opt._state.copy()
    with pytest.raises(FloatingPointError, match="overflow"):
        opt.step(net, np.full(net.n_params, 1e22, dtype=np.float32))
    assert net.params.tobytes() == params.tobytes()
    assert opt._state.tobytes() == state.tobytes()
    assert opt.steps == 1
