"""Backpropagation against finite differences: fastprop's compiled numerical_gradient and an
independent central-difference loop over a numpy forward pass, for every hidden activation and
every sensible output + loss pair, in both dtypes and both schemes; numerical_gradient leaves
the parameters bit-identical; the classic 2-3-1 tutorial network.

Bounds (relative error as gradcheck defines it: max |a - n| / max(|a|, |n|, 1e-3 max|a|)):
  float64 central: 1e-6 (the contract; observed at most 2.7e-7)
  float64 forward: 1e-3 (rounding of a 1.5e-8 step on entries near the 1e-3 floor;
                   observed at most 4.9e-4)
  float32 central: 5e-2 (gradcheck's default rtol for float32 before its atol followed the
                   loss's scale; observed at most 3.6e-2)
  float32 backprop against float64 backprop on the same parameters: 3e-4 (observed 6.7e-5)
Relu-family pre-activations are kept at least 1e-3 from the kink (conftest.make_case), so
every finite-difference step stays on one side of it."""
import warnings

import numpy as np
import pytest

import fastprop as fp
from fastprop.gradients import default_eps

# The activation x loss table lives in conftest.py (markers `combos`, `output_losses`).

F64_CENTRAL_RTOL = 1e-6
F64_FORWARD_RTOL = 1e-3
F32_CENTRAL_RTOL = 5e-2
F32_VS_F64_RTOL = 3e-4


@pytest.mark.combos
def test_backprop_matches_compiled_central_differences_float64(ref, hidden, output, loss, kind):
    net, X, y = ref.make_case(hidden, output, loss, kind)
    value, grad = net.backprop(X, y)
    numeric = fp.numerical_gradient(net, X, y, scheme="central")
    assert grad.shape == numeric.shape == net.params.shape
    assert ref.rel_error(grad, numeric) < F64_CENTRAL_RTOL
    assert np.abs(grad).max() > 0


@pytest.mark.combos
def test_backprop_matches_numpy_central_difference_loop_float64(ref, hidden, output, loss, kind):
    net, X, y = ref.make_case(hidden, output, loss, kind, seed=1)
    value, grad = net.backprop(X, y)
    numeric = ref.central_difference(net, X, y)
    assert ref.rel_error(grad, numeric) < F64_CENTRAL_RTOL
    assert value == pytest.approx(ref.net_loss(net, net.params, X, y), rel=1e-12)


@pytest.mark.combos
def test_backprop_equals_numpy_backward_pass_float64(ref, hidden, output, loss, kind):
    net, X, y = ref.make_case(hidden, output, loss, kind, seed=2)
    value, grad = net.backprop(X, y)
    ref_value, ref_grad = ref.net_backprop(net, net.params, X, y)
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-13 * np.abs(ref_grad).max())


@pytest.mark.combos
def test_gradcheck_passes_with_default_tolerance_float64(ref, hidden, output, loss, kind):
    net, X, y = ref.make_case(hidden, output, loss, kind, seed=3)
    res = fp.gradcheck(net, X, y)
    assert res.ok, res
    assert res.rtol == 1e-6
    assert res.max_rel_error < F64_CENTRAL_RTOL
    assert res.max_rel_error == pytest.approx(ref.rel_error(res.analytic, res.numeric))
    assert res.max_abs_error == pytest.approx(np.abs(res.analytic - res.numeric).max())


@pytest.mark.combos
def test_forward_scheme_matches_backprop_within_first_order_bound_float64(ref, hidden, output,
                                                                         loss, kind):
    net, X, y = ref.make_case(hidden, output, loss, kind, seed=4)
    _, grad = net.backprop(X, y)
    numeric = fp.numerical_gradient(net, X, y, scheme="forward")
    assert ref.rel_error(grad, numeric) < F64_FORWARD_RTOL


@pytest.mark.combos
def test_gradcheck_with_the_forward_scheme_passes_correct_gradients_and_refuses_wrong_ones(
        ref, hidden, output, loss, kind):
    net, X, y = ref.make_case(hidden, output, loss, kind, seed=4)
    res = fp.gradcheck(net, X, y, scheme="forward")
    assert res.ok, res
    # atol: 1e-6 of the gradient's scale plus the finite differences' error bound (gradcheck)
    assert res.rtol == 1e-3
    G = np.abs(res.numeric).max()
    assert 1e-6 * G < res.atol < 1e-6 * G + 1e-6
    _, grad = net.backprop(X, y)
    off = grad.copy()
    off[np.argmax(np.abs(grad))] *= 1.01       # one entry 1% off: a wrong gradient
    net.backprop = lambda X, y: (0.0, off)    # the instance's, for this test only
    assert not fp.gradcheck(net, X, y, scheme="forward").ok


@pytest.mark.combos
def test_float32_backprop_matches_central_differences_within_float32_bound(ref, hidden, output,
                                                                          loss, kind):
    net, X, y = ref.make_case(hidden, output, loss, kind, dtype="float32", seed=5, margin=2e-2)
    _, grad = net.backprop(X, y)
    assert grad.dtype == np.float32
    numeric = fp.numerical_gradient(net, X, y, scheme="central")
    assert numeric.dtype == np.float32
    assert ref.rel_error(grad, numeric) < F32_CENTRAL_RTOL
    assert fp.gradcheck(net, X, y).ok


@pytest.mark.combos
def test_float32_backprop_agrees_with_float64_backprop_on_same_params(ref, hidden, output, loss,
                                                                      kind):
    net32, X, y = ref.make_case(hidden, output, loss, kind, dtype="float32", seed=6, margin=1e-2)
    net64 = fp.Network([fp.Dense(l.n_in, l.n_out, l.activation) for l in net32.layers],
                       loss=net32.loss_name, dtype="float64")
    net64.params[...] = net32.params
    X32 = X.astype(np.float32)          # the same inputs for both
    l32, g32 = net32.backprop(X32, y)
    l64, g64 = net64.backprop(X32, y)
    assert l32 == pytest.approx(l64, rel=1e-5)
    assert ref.rel_error(g64, g32) < F32_VS_F64_RTOL


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("scheme", ["forward", "central"])
def test_numerical_gradient_leaves_params_bit_identical(ref, dtype, scheme):
    net, X, y = ref.make_case("tanh", "softmax", "cross_entropy", "labels", dtype=dtype)
    # values whose perturbation p + h - h does not round back to p in general
    net.params[...] = np.random.default_rng(3).normal(size=net.n_params) * 1e3 + 1 / 3
    before = net.params.tobytes()
    data_ptr = net.params.ctypes.data
    fp.numerical_gradient(net, X, y, scheme=scheme)
    fp.numerical_gradient(net, X, y, scheme=scheme, eps=0.1, indices=[0, 3, 5])
    fp.gradcheck(net, X, y, scheme=scheme)
    assert net.params.tobytes() == before
    assert net.params.ctypes.data == data_ptr


def test_numerical_gradient_with_indices_equals_those_entries_of_the_full_gradient(ref):
    net, X, y = ref.make_case("sigmoid", "identity", "mse", "real")
    full = fp.numerical_gradient(net, X, y, scheme="central")
    idx = np.array([net.n_params - 1, 0, 7, 7, 2])
    part = fp.numerical_gradient(net, X, y, scheme="central", indices=idx)
    assert part.shape == (5,)
    np.testing.assert_array_equal(part, full[idx])


def test_default_eps_is_sqrt_for_forward_and_cbrt_for_central_machine_epsilon():
    for dt in (np.float32, np.float64):
        e = np.finfo(dt).eps
        assert default_eps(dt, "forward") == pytest.approx(e ** 0.5)
        assert default_eps(dt, "central") == pytest.approx(e ** (1 / 3))


def test_gradcheck_reports_failure_for_a_wrong_gradient_tolerance(ref):
    net, X, y = ref.make_case("tanh", "identity", "mse", "real")
    res = fp.gradcheck(net, X, y, rtol=0.0, atol=0.0)
    assert not res.ok                     # finite differences are never exact
    assert res.max_rel_error > 0


def test_numerical_gradient_is_linear_in_loss_scale_for_central_scheme_step_choice(ref):
    # A user-given eps is used: a huge step gives a visibly worse estimate than the default.
    net, X, y = ref.make_case("tanh", "tanh", "mse", "real")
    _, grad = net.backprop(X, y)
    good = ref.rel_error(grad, fp.numerical_gradient(net, X, y, scheme="central"))
    bad = ref.rel_error(grad, fp.numerical_gradient(net, X, y, scheme="central", eps=0.5))
    assert bad > 100 * good


# ---- the classic tutorial network ------------------------------------------------------
def tutorial_net(dtype="float64"):
    return fp.Network([fp.Dense(2, 3, "sigmoid"), fp.Dense(3, 1, "sigmoid")], loss="mse",
                      dtype=dtype, seed=0)


def test_tutorial_network_2_3_1_has_13_parameters_and_hand_computed_loss():
    net = tutorial_net()
    assert net.n_params == 2 * 3 + 3 + 3 * 1 + 1
    # A worked example: with all weights 0.5 and biases 0, every hidden unit has z = 1,
    # the output z = 1.5 sigmoid(1), and the loss is sigmoid(z)^2 for the target 0.
    net.params[...] = 0.0
    net.layers[0].W[...] = 0.5
    net.layers[1].W[...] = 0.5
    s = lambda z: 1 / (1 + np.exp(-z))
    out = s(1.5 * s(1.0))
    assert net.predict([[1.0, 1.0]])[0, 0] == pytest.approx(out, rel=1e-14)
    assert net.loss([[1.0, 1.0]], [0.0]) == pytest.approx(out ** 2, rel=1e-14)
    # and its gradient with respect to the output bias: 2 out * out (1 - out)
    _, grad = net.backprop([[1.0, 1.0]], [0.0])
    assert grad[-1] == pytest.approx(2 * out * out * (1 - out), rel=1e-14)


def test_tutorial_network_gradient_matches_finite_differences(ref):
    net = tutorial_net()
    X, y = np.array([[1.0, 1.0]]), np.array([0.0])
    _, grad = net.backprop(X, y)
    assert ref.rel_error(grad, fp.numerical_gradient(net, X, y, scheme="central")) < 1e-8
    assert ref.rel_error(grad, ref.central_difference(net, X, y)) < 1e-8
    assert ref.rel_error(grad, fp.numerical_gradient(net, X, y, scheme="forward")) < 1e-5


def test_tutorial_network_sgd_steps_lower_the_loss_monotonically():
    net = tutorial_net()
    X, y = np.array([[1.0, 1.0]]), np.array([0.0])
    opt = fp.SGD(lr=0.5)
    losses = []
    for _ in range(10):
        loss, grad = net.backprop(X, y)
        losses.append(loss)
        opt.step(net, grad)
    losses.append(net.loss(X, y))
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.5 * losses[0]
    assert opt.steps == 10


# ---- gradcheck at the loss's scale -----------------------------------------------------
def scaled_case(dtype, scale, output_too, seed=0):
    """mse, targets of `scale`; with output_too, the output layer scaled as well, so that the
    residuals (and the gradient) are of that scale, not only the targets."""
    rng = np.random.default_rng(seed)
    net = fp.mlp([3, 8, 2], hidden="tanh", output="identity", loss="mse", dtype=dtype,
                 seed=seed)
    for layer in net.layers:
        layer.b = rng.uniform(-0.5, 0.5, size=layer.b.shape)
    if output_too:
        net.layers[-1].W = net.layers[-1].W * scale
        net.layers[-1].b = net.layers[-1].b * scale
    X = rng.uniform(-1, 1, size=(16, 3))
    return net, X, scale * rng.normal(size=(16, 2))


def one_entry_off(net, X, y, factor=1.01):
    """A wrong gradient: backprop's with its largest entry `factor` times too large."""
    loss, grad = net.backprop(X, y)
    off = grad.copy()
    off[np.argmax(np.abs(grad))] *= factor
    net.backprop = lambda X, y: (loss, off)    # the instance's, for this test only
    return net


@pytest.mark.parametrize("output_too", [False, True], ids=["targets", "targets+output"])
@pytest.mark.parametrize("dtype,scheme", [("float64", "central"), ("float64", "forward"),
                                          ("float32", "central"), ("float32", "forward")])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradcheck_passes_correct_gradients_at_targets_of_scale_1e6(dtype, scheme, output_too,
                                                                   seed):
    # A loss of 1e12: at the default step its rounding alone (eps_m |L| / h) is 40 (float64)
    # or 2e7 (float32) on every entry. The old fixed atol failed correct gradients here.
    net, X, y = scaled_case(dtype, 1e6, output_too, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # float32: see below
        res = fp.gradcheck(net, X, y, scheme=scheme)
    assert res.ok, res


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e6])
@pytest.mark.parametrize("dtype,scheme", [("float64", "central"), ("float64", "forward"),
                                          ("float32", "central")])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradcheck_refuses_a_gradient_with_one_entry_1_percent_off_at_every_scale(
        dtype, scheme, scale, seed):
    net, X, y = scaled_case(dtype, scale, True, seed)
    assert fp.gradcheck(net, X, y, scheme=scheme).ok
    assert not fp.gradcheck(one_entry_off(net, X, y), X, y, scheme=scheme).ok


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradcheck_refuses_one_entry_1_percent_off_at_targets_of_1e6_in_float64(seed):
    # Targets of 1e6 with outputs of 1: the loss (1e12) is huge against its gradient (1e5),
    # so gradcheck takes a larger step, where the loss's rounding no longer swamps it.
    net, X, y = scaled_case("float64", 1e6, False, seed)
    res = fp.gradcheck(net, X, y)
    assert res.ok and res.eps > 10 * default_eps(np.float64, "central"), res
    assert not fp.gradcheck(one_entry_off(net, X, y), X, y).ok


def test_gradcheck_warns_when_float32_cannot_resolve_the_gradient_at_targets_of_1e6():
    net, X, y = scaled_case("float32", 1e6, False)
    with pytest.warns(RuntimeWarning, match=r"gradcheck: in float32, finite differences "
                                            r"cannot resolve"):
        res = fp.gradcheck(net, X, y)
    assert res.ok
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # at scale 1 it says nothing
        fp.gradcheck(*scaled_case("float32", 1.0, False))


def test_gradcheck_uses_a_given_eps_and_atol_as_they_are():
    net, X, y = scaled_case("float64", 1e6, False)
    res = fp.gradcheck(net, X, y, eps=1e-5, atol=0.5)
    assert (res.eps, res.atol) == (1e-5, 0.5)
