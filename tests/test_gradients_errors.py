"""Bad arguments to numerical_gradient and gradcheck: a TypeError or ValueError naming the
argument (net, eps, scheme, indices), never NaN or garbage, and the parameters untouched."""
import numpy as np
import pytest

import fastprop as fp


@pytest.fixture(params=["float64", "float32"])
def case(request):
    net = fp.mlp([2, 3, 1], hidden="tanh", dtype=request.param, seed=0)
    rng = np.random.default_rng(0)
    return net, rng.normal(size=(5, 2)), rng.uniform(size=5)


BOTH = [fp.numerical_gradient, fp.gradcheck]


@pytest.mark.parametrize("func", BOTH, ids=["numerical_gradient", "gradcheck"])
@pytest.mark.parametrize("scheme", ["forward", "central"])
def test_eps_outside_machine_epsilon_to_1_is_refused_naming_eps_range_and_dtype(case, func,
                                                                               scheme):
    net, X, y = case
    lo = float(np.finfo(net.dtype).eps)
    refused = [eps for eps in (1e-300, 1e-17, 1e-10, 1.5, 1e300) if not lo <= eps <= 1.0]
    assert len(refused) >= 4               # 1e-10 is in range for float64 only
    before = net.params.tobytes()
    for eps in refused:
        with pytest.raises(ValueError, match=r"eps: .*\[.*, 1\].*" + net.dtype.name) as info:
            func(net, X, y, eps=eps, scheme=scheme)
        assert f"{lo:.6g}" in str(info.value)
        assert net.params.tobytes() == before


@pytest.mark.parametrize("scheme", ["forward", "central"])
def test_eps_at_the_ends_of_the_range_is_accepted_and_gives_finite_values(case, scheme):
    net, X, y = case
    for eps in (float(np.finfo(net.dtype).eps), 1.0):
        grad = fp.numerical_gradient(net, X, y, eps=eps, scheme=scheme)
        assert grad.shape == (net.n_params,) and np.isfinite(grad).all()


def test_eps_1e_10_is_still_accepted_in_float64():
    net = fp.mlp([2, 3, 1], seed=0)
    X, y = np.ones((2, 2)), np.zeros(2)
    assert np.isfinite(fp.numerical_gradient(net, X, y, eps=1e-10)).all()


@pytest.mark.parametrize("func", BOTH, ids=["numerical_gradient", "gradcheck"])
@pytest.mark.parametrize("scheme", [["forward"], ("central",), None, 1])
def test_scheme_of_the_wrong_type_is_refused_naming_scheme(case, func, scheme):
    net, X, y = case
    with pytest.raises(TypeError, match=r"scheme: expected 'forward' or 'central', got "):
        func(net, X, y, scheme=scheme)


@pytest.mark.parametrize("func", BOTH, ids=["numerical_gradient", "gradcheck"])
@pytest.mark.parametrize("not_a_net", [None, "net", np.zeros(13)])
def test_something_that_is_not_a_network_is_refused_naming_net(func, not_a_net):
    with pytest.raises(TypeError, match=r"net: expected a fastprop Network, got "
                                        + type(not_a_net).__name__):
        func(not_a_net, np.ones((2, 2)), np.zeros(2))


@pytest.mark.parametrize("empty", [[], (), np.array([], dtype=np.int64)],
                         ids=["list", "tuple", "int64-array"])
def test_an_empty_index_list_gives_an_empty_gradient_of_the_network_dtype(case, empty):
    net, X, y = case
    before = net.params.tobytes()
    grad = fp.numerical_gradient(net, X, y, indices=empty)
    assert grad.shape == (0,) and grad.dtype == net.dtype
    np.testing.assert_array_equal(grad, net.params[np.asarray(empty, dtype=np.int64)])
    assert net.params.tobytes() == before


def test_an_empty_index_list_still_checks_X_and_y(case):
    net, X, y = case
    with pytest.raises(ValueError, match="X"):
        fp.numerical_gradient(net, X[:, :1], y, indices=[])


def test_bad_numerical_gradient_arguments_are_refused(net, data):
    X, y = data
    with pytest.raises(ValueError, match="scheme"):
        fp.numerical_gradient(net, X, y, scheme="backward")
    with pytest.raises(ValueError, match="eps"):
        fp.numerical_gradient(net, X, y, eps=0.0)
    with pytest.raises(ValueError, match="eps"):
        fp.numerical_gradient(net, X, y, eps=-1e-6)
    with pytest.raises(ValueError, match=r"indices: .*\[0, 26\)"):
        fp.numerical_gradient(net, X, y, indices=[0, 26])
    with pytest.raises(TypeError, match="indices"):
        fp.numerical_gradient(net, X, y, indices=[0.5])
