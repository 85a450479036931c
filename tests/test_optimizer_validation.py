"""Optimizer hyper-parameters and binding: SGD's and Adam's hyper-parameters are checked at
construction and again at the next call when changed after it (a ValueError or TypeError
naming the one at fault, Adam's eps also in the network's dtype); step refuses a gradient of
the wrong shape, dtype or range; an optimizer's state belongs to the network it first
stepped, even one of the same shape (copies and pickles of the pair included), and a refused
call leaves it unbound. Nothing changes when a call is refused."""
import numpy as np
import pytest

import fastprop as fp


# ---- hyper-parameters ------------------------------------------------------------------------


@pytest.mark.parametrize("make,exc,match", [
    (lambda: fp.SGD(lr=-0.1), ValueError, "lr"),
    (lambda: fp.SGD(lr="0.1"), TypeError, "lr"),
    (lambda: fp.SGD(lr=float("nan")), ValueError, "lr"),
    (lambda: fp.SGD(lr=float("inf")), ValueError, "lr"),
    (lambda: fp.SGD(momentum=-0.5), ValueError, "momentum"),
    (lambda: fp.SGD(weight_decay=-1), ValueError, "weight_decay"),
    (lambda: fp.SGD(lr=0.1, nesterov=True), ValueError, "nesterov"),
    (lambda: fp.Adam(lr=-1e-3), ValueError, "lr"),
    (lambda: fp.Adam(betas=(0.9, 1.0)), ValueError, r"betas\[1\]"),
    (lambda: fp.Adam(betas=(1.5, 0.9)), ValueError, r"betas\[0\]"),
    (lambda: fp.Adam(betas=(-0.1, 0.9)), ValueError, r"betas\[0\]"),
    (lambda: fp.Adam(betas=0.9), ValueError, "betas"),
    (lambda: fp.Adam(betas=(0.9, 0.99, 0.9)), ValueError, "betas"),
    (lambda: fp.Adam(eps=-1e-8), ValueError, "eps"),
    (lambda: fp.Adam(weight_decay=None), TypeError, "weight_decay"),
])
def test_bad_optimizer_arguments_are_refused(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_nesterov_takes_only_booleans_and_adam_eps_must_be_positive():
    with pytest.raises(TypeError, match=r"^nesterov: expected True or False, got str 'no'"):
        fp.SGD(momentum=0.9, nesterov="no")
    assert fp.SGD(momentum=0.9, nesterov=np.bool_(True)).nesterov is True
    with pytest.raises(ValueError, match=r"^eps: expected a positive number"):
        fp.Adam(eps=0.0)


@pytest.mark.parametrize("attr, value, exc, match", [
    ("lr", -5.0, ValueError, r"^lr: expected a number >= 0"),
    ("lr", "fast", TypeError, r"^lr: expected a real number"),
    ("momentum", float("nan"), ValueError, r"^momentum: expected a finite number"),
    ("nesterov", "no", TypeError, r"^nesterov: expected True or False"),
])
def test_hyper_parameters_changed_after_construction_are_checked_at_the_next_call(
        data40, attr, value, exc, match):
    X, y = data40
    net = fp.mlp([4, 3, 2])
    opt = fp.SGD(lr=0.1, momentum=0.5)
    setattr(opt, attr, value)
    before = net.params.copy()
    with pytest.raises(exc, match=match):
        net.fit(X, y, epochs=1, optimizer=opt)
    with pytest.raises(exc, match=match):
        opt.step(net, np.zeros(net.n_params))
    np.testing.assert_array_equal(net.params, before)
    assert opt.steps == 0


def test_a_learning_rate_changed_between_fits_is_used(data40):
    X, y = data40
    net = fp.mlp([4, 3, 2])
    opt = fp.SGD(lr=0.1)
    opt.lr = 0.0                                   # a schedule that stops learning
    before = net.params.copy()
    net.fit(X, y, epochs=1, optimizer=opt)
    np.testing.assert_array_equal(net.params, before)


def test_adam_eps_that_rounds_to_zero_in_the_networks_dtype_is_refused_naming_eps():
    net32 = fp.mlp([3, 4, 2], dtype="float32", seed=0)
    X, y = np.ones((4, 3)), np.zeros((4, 2))
    opt = fp.Adam(eps=1e-46)          # positive as a Python float, 0 as a float32
    before = net32.params.copy()
    with pytest.raises(ValueError, match=r"eps: 1e-46 rounds to 0 in the network's dtype "
                                         r"\(float32\)"):
        net32.fit(X, y, epochs=1, optimizer=opt)
    with pytest.raises(ValueError, match="eps: 1e-46 rounds to 0"):
        opt.step(net32, np.zeros(net32.n_params))
    np.testing.assert_array_equal(net32.params, before)
    fp.mlp([3, 4, 2], dtype="float64", seed=0).fit(X, y, epochs=1, optimizer=opt)  # fine


# ---- gradients given to step ----------------------------------------------------------------


def test_optimizer_step_refuses_bad_gradients_and_changes_nothing(net):
    opt = fp.SGD(lr=0.1, momentum=0.9)
    before = net.params.copy()
    with pytest.raises(ValueError, match=r"grad: expected shape \(26,\), got \(25,\)"):
        opt.step(net, np.ones(25))
    bad = np.ones(26)
    bad[3] = np.nan
    with pytest.raises(ValueError, match="grad: .*finite"):
        opt.step(net, bad)
    with pytest.raises(TypeError, match="grad"):
        opt.step(net, np.array(["1"] * 26))
    assert net.params.tobytes() == before.tobytes()
    assert opt.steps == 0


def test_a_finite_gradient_beyond_float32s_range_is_refused_as_such():
    net32 = fp.mlp([3, 4, 2], dtype="float32", seed=0)
    with pytest.raises(ValueError, match=r"grad: expected values within the float32 range"):
        fp.SGD().step(net32, np.full(net32.n_params, 1e39))


# ---- binding to a network -------------------------------------------------------------------


def test_an_optimizer_bound_to_another_network_is_refused(net, data):
    X, y = data
    opt = fp.Adam()
    net.fit(X, y, epochs=1, optimizer=opt)
    other = fp.mlp([3, 5, 2])
    before = other.params.copy()
    with pytest.raises(ValueError, match="optimizer"):
        other.fit(X, y, epochs=1, optimizer=opt)
    assert other.params.tobytes() == before.tobytes()


def test_an_optimizer_is_tied_to_its_network_even_of_the_same_shape(data40):
    X, y = data40
    a, b = fp.mlp([4, 3, 2], seed=0), fp.mlp([4, 3, 2], seed=1)
    opt = fp.SGD(lr=0.01, momentum=0.9)
    a.fit(X, y, epochs=1, optimizer=opt)
    before = b.params.copy()
    with pytest.raises(ValueError, match=r"^optimizer: its state \(step 40\) belongs to another"):
        b.fit(X, y, epochs=1, optimizer=opt)
    with pytest.raises(ValueError, match=r"^optimizer: its state"):
        opt.step(b, np.zeros(b.n_params))
    np.testing.assert_array_equal(b.params, before)
    a.fit(X, y, epochs=1, optimizer=opt)          # its own network still trains
    assert opt.steps == 80


def test_refused_calls_leave_the_optimizer_unbound(data40):
    X, y = data40
    net, other = fp.mlp([4, 3, 2]), fp.mlp([4, 5, 2])
    opt = fp.Adam()
    with pytest.raises(TypeError, match=r"^seed"):
        net.fit(X, y, epochs=1, optimizer=opt, seed="bad")
    with pytest.raises(ValueError, match=r"^grad: expected shape"):
        opt.step(net, np.zeros(3))
    other.fit(X, y, epochs=1, optimizer=opt)      # still free for another network
    assert opt.steps == 40


def test_an_optimizer_copied_or_pickled_with_its_network_still_belongs_to_the_copy(net, data):
    import copy
    import pickle
    X, y = data
    opt = fp.Adam(lr=0.01)
    net.fit(X, y, epochs=2, optimizer=opt)
    for net2, opt2 in (copy.deepcopy((net, opt)), pickle.loads(pickle.dumps((net, opt)))):
        assert opt2.steps == opt.steps
        net2.fit(X, y, epochs=1, optimizer=opt2)
        with pytest.raises(ValueError, match="optimizer: its state .* belongs to another"):
            net.fit(X, y, epochs=1, optimizer=opt2)
    net.fit(X, y, epochs=1, optimizer=opt)              # the original pair is untouched
