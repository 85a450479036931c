"""Finite inputs too large for the network's dtype: loss, backprop, numerical_gradient and
gradcheck raise fp.NonFiniteResultError (a FloatingPointError) saying which result (loss or
gradient) is not finite and why, instead of returning inf or NaN; the parameters unchanged."""
import numpy as np
import pytest

import fastprop as fp


def overflowing_case():
    net = fp.mlp([3, 4, 1], hidden="relu", dtype="float64", seed=0)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 3)), rng.normal(size=5)
    X[0, 0] = 1e308                    # finite, but the forward pass overflows
    return net, X, y


def test_the_error_is_a_public_floating_point_error():
    assert "NonFiniteResultError" in fp.__all__
    assert issubclass(fp.NonFiniteResultError, FloatingPointError)


@pytest.mark.parametrize("call,what", [
    (lambda net, X, y: net.loss(X, y), "loss"),
    (lambda net, X, y: net.backprop(X, y), "loss"),
    (lambda net, X, y: fp.numerical_gradient(net, X, y), "loss"),
    (lambda net, X, y: fp.numerical_gradient(net, X, y, scheme="central"), "loss"),
    (lambda net, X, y: fp.gradcheck(net, X, y), "loss"),
], ids=["loss", "backprop", "numerical_gradient", "numerical_gradient-central", "gradcheck"])
def test_finite_inputs_too_large_for_float64_raise_naming_the_result_and_the_cure(call, what):
    net, X, y = overflowing_case()
    before = net.params.tobytes()
    with pytest.raises(fp.NonFiniteResultError,
                       match=rf"the {what} is not finite.*X, y and the parameters are finite "
                             rf"but too large for float64.*largest \|X\| 1e\+308.*scale") as info:
        call(net, X, y)
    assert info.value.what == what
    assert net.params.tobytes() == before


def test_backprop_names_the_gradient_when_only_the_gradient_overflows():
    # loss = (w x - y)^2 with w x = 1: finite; d/dw = 2 (w x - y) x = -4e308 overflows
    net = fp.Network([fp.Dense(1, 1, "identity")], loss="mse", seed=0)
    net.params[...] = [1e-308, 0.0]
    X, y = np.array([[1e308]]), np.array([3.0])
    assert np.isfinite(net.loss(X, y))
    with pytest.raises(fp.NonFiniteResultError, match=r"backprop: the gradient is not finite") \
            as info:
        net.backprop(X, y)
    assert info.value.what == "gradient"
    with pytest.raises(fp.NonFiniteResultError, match=r"numerical_gradient: the gradient"):
        fp.numerical_gradient(net, X, y)


def test_parameters_written_non_finite_directly_are_named_as_the_cause():
    net, X, y = overflowing_case()
    X[0, 0] = 1.0
    net.params[-1] = np.inf            # the raw buffer: assignment checks are bypassed
    with pytest.raises(fp.NonFiniteResultError, match=r"net\.params hold NaN or infinity"):
        net.loss(X, y)


def test_float32_refuses_the_same_input_when_converting_it():
    net = fp.mlp([3, 4, 1], hidden="relu", dtype="float32", seed=0)
    X = np.ones((2, 3))
    X[0, 0] = 1e308
    with pytest.raises(ValueError, match=r"X: expected values within the float32 range"):
        net.loss(X, np.zeros(2))


def test_finite_results_are_returned_as_before():
    net, X, y = overflowing_case()
    X[0, 0] = 1e3
    loss, grad = net.backprop(X, y)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    assert net.loss(X, y) == loss
