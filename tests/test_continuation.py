"""fit's shuffling stream belongs to the network: seed=None continues it, so that k calls of
fit(epochs=1) give the bits of one fit(epochs=k); an explicit seed restarts it."""
import copy
import pickle

import numpy as np
import pytest

import fastprop as fp


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    return rng.normal(size=(23, 4)), rng.integers(0, 3, size=23)


def _net():
    return fp.mlp([4, 6, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=1)


@pytest.mark.parametrize("batch_size", [1, 5, 100])
@pytest.mark.parametrize("opt", [lambda: fp.SGD(lr=0.1, momentum=0.9), lambda: fp.Adam(lr=0.01)])
def test_k_fits_of_one_epoch_give_the_bits_of_one_fit_of_k_epochs(data, batch_size, opt):
    X, y = data
    a, b = _net(), _net()
    oa, ob = opt(), opt()
    ha = a.fit(X, y, epochs=6, batch_size=batch_size, optimizer=oa)
    losses = [b.fit(X, y, epochs=1, batch_size=batch_size, optimizer=ob).loss[0]
              for _ in range(6)]
    assert a.params.tobytes() == b.params.tobytes()
    assert ha.loss == losses


def test_successive_fits_see_different_orders(data):
    # two epochs in a row are shuffled differently (the stream moves on), so the second fit
    # of a copy differs from a fit restarted from the same seed
    X, y = data
    a = _net()
    a.fit(X, y, epochs=1, seed=4)
    b = copy.deepcopy(a)
    a.fit(X, y, epochs=1)              # continues
    b.fit(X, y, epochs=1, seed=4)      # restarts: the first epoch's order again
    assert a.params.tobytes() != b.params.tobytes()


def test_an_explicit_seed_restarts_the_stream_and_later_calls_continue_it(data):
    X, y = data
    a, b = _net(), _net()
    a.fit(X, y, epochs=3, seed=11)
    b.fit(X, y, epochs=1, seed=11)
    b.fit(X, y, epochs=2)
    assert a.params.tobytes() == b.params.tobytes()


def test_the_default_stream_starts_from_the_networks_int_seed(data):
    # a network built with seed s trains as fit(seed=s) would from its first call
    X, y = data
    a, b = _net(), _net()
    a.fit(X, y, epochs=2)
    b.fit(X, y, epochs=2, seed=1)
    assert a.params.tobytes() == b.params.tobytes()


def test_a_generator_seed_leaves_the_users_draws_alone():
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    fp.mlp([3, 4, 1], seed=g1)
    fp.mlp([3, 4, 1], seed=g2)
    assert g1.random() == g2.random()      # both consumed the same, whatever the stream took
    g3 = np.random.default_rng(5)
    net = fp.mlp([3, 4, 1], seed=g3)
    ref = fp.mlp([3, 4, 1], seed=np.random.default_rng(5))
    assert net.params.tobytes() == ref.params.tobytes()


def test_copies_and_pickles_carry_the_stream(data):
    X, y = data
    a = _net()
    a.fit(X, y, epochs=1)
    b, c = copy.deepcopy(a), pickle.loads(pickle.dumps(a))
    for net in (a, b, c):
        net.fit(X, y, epochs=2)
    assert a.params.tobytes() == b.params.tobytes() == c.params.tobytes()


def test_a_refused_fit_leaves_the_stream_where_it_was(data):
    X, y = data
    a, b = _net(), _net()
    with pytest.raises(ValueError, match="clip_norm"):
        a.fit(X, y, epochs=1, seed=9, clip_norm=-1.0)
    a.fit(X, y, epochs=1)
    b.fit(X, y, epochs=1)
    assert a.params.tobytes() == b.params.tobytes()


@pytest.mark.parametrize("seed, exc", [(-1, ValueError), ("1", TypeError), (1.5, TypeError)])
def test_bad_seeds_are_refused_by_name(data, seed, exc):
    X, y = data
    with pytest.raises(exc, match="seed"):
        _net().fit(X, y, epochs=1, seed=seed)
