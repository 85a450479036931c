"""fit's training-loop arguments under random inputs (hypothesis): clip_norm, clip_value,
validation_split, sample_weight, metrics, callbacks and seed. Valid ones: the weighted loss is
numpy's weighted mean, a huge clip leaves plain training's bits, k fits of one epoch are one
fit of k; invalid ones: a ValueError or TypeError naming the argument, and nothing changed
(parameters, the network's shuffling stream, the caller's arrays).

Profiles: tests/test_properties.py registers and loads them ("ci" by default, "long" with
HYPOTHESIS_PROFILE=long); this file imports it for that."""
import copy
import os
import sys

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastprop as fp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_properties import budget  # noqa: E402  (registers and loads the profiles)


def _net(seed, n_out=2):
    return fp.mlp([3, 4, n_out], hidden="tanh", output="softmax", loss="cross_entropy",
                  seed=seed)


def _data(seed, n):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.integers(0, 2, size=n)


BAD = {
    "clip_norm": st.one_of(st.floats(max_value=0.0), st.just(float("nan")),
                           st.just(float("inf")), st.text(max_size=3), st.booleans()),
    "clip_value": st.one_of(st.floats(max_value=0.0), st.just(float("nan")),
                            st.just(float("inf")), st.text(max_size=3), st.booleans()),
    "validation_split": st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0),
                                  st.just(float("nan")), st.text(max_size=3)),
    "sample_weight": st.one_of(
        hnp.arrays(np.float64, st.integers(0, 30).filter(lambda k: k != 12)),
        hnp.arrays(np.float64, 12, elements=st.floats(-10, -1e-3)),
        st.just(np.full(12, np.nan)), st.just(np.zeros(12)), st.text(max_size=3)),
    "metrics": st.one_of(st.text(max_size=5), st.lists(st.text(max_size=5), min_size=1)
                         .filter(lambda m: any(x != "accuracy" for x in m)), st.integers()),
    "callbacks": st.one_of(st.integers(), st.text(max_size=3),
                           st.lists(st.integers(), min_size=1)),
    "seed": st.one_of(st.integers(max_value=-1), st.floats(), st.text(max_size=3)),
    "schedule": st.one_of(st.integers(), st.text(max_size=3), st.floats()),
}


@budget(2)
@given(arg=st.sampled_from(sorted(BAD)), data=st.data(), seed=st.integers(0, 10))
def test_bad_training_arguments_are_refused_by_name_and_change_nothing(arg, data, seed):
    value = data.draw(BAD[arg], label=arg)
    net = _net(seed)
    X, y = _data(seed, 12)
    X0, y0 = X.copy(), y.copy()
    params, stream = net.params.copy(), net._stream.copy()
    try:
        net.fit(X, y, epochs=2, batch_size=4, **{arg: value})
    except (ValueError, TypeError) as exc:
        assert str(exc).startswith(arg) or f"{arg}[" in str(exc).split(":")[0], str(exc)
    else:
        raise AssertionError(f"{arg}={value!r} was accepted")
    assert net.params.tobytes() == params.tobytes() and net._stream.tobytes() == stream.tobytes()
    assert X.tobytes() == X0.tobytes() and y.tobytes() == y0.tobytes()


@budget(1)
@given(seed=st.integers(0, 50), n=st.integers(2, 25),
       w=st.lists(st.floats(0.0, 5.0), min_size=25, max_size=25))
def test_the_weighted_loss_is_numpys_weighted_mean(seed, n, w):
    w = np.array(w[:n])
    if not w.sum() > 0:
        w[0] = 1.0
    net = _net(seed)
    X, y = _data(seed, n)
    p = net.predict(X)
    per_sample = -np.log(p[np.arange(n), y])
    expected = np.sum(w * per_sample) / np.sum(w)
    assert np.isclose(net.loss(X, y, sample_weight=w), expected, rtol=1e-12, atol=1e-300)


@budget(1)
@given(seed=st.integers(0, 50), k=st.integers(1, 4), batch=st.integers(1, 9),
       clip=st.sampled_from([{}, {"clip_norm": 0.5}, {"clip_value": 0.05}]))
def test_k_fits_of_one_epoch_are_one_fit_of_k(seed, k, batch, clip):
    X, y = _data(seed, 9)
    a, b = _net(seed), _net(seed)
    oa, ob = fp.Adam(lr=0.01), fp.Adam(lr=0.01)
    ha = a.fit(X, y, epochs=k, batch_size=batch, optimizer=oa, **clip)
    losses = []
    for _ in range(k):
        losses += b.fit(X, y, epochs=1, batch_size=batch, optimizer=ob, **clip).loss
    assert a.params.tobytes() == b.params.tobytes() and ha.loss == losses


@budget(1)
@given(seed=st.integers(0, 50), big=st.floats(1e30, 1e300))
def test_a_clip_beyond_any_gradient_leaves_plain_trainings_bits(seed, big):
    X, y = _data(seed, 10)
    a, b = _net(seed), _net(seed)
    a.fit(X, y, epochs=2, batch_size=3, clip_norm=big, clip_value=big)
    b.fit(X, y, epochs=2, batch_size=3)
    assert a.params.tobytes() == b.params.tobytes()


@budget(1)
@given(seed=st.integers(0, 50), split=st.floats(0.05, 0.9))
def test_validation_split_is_validation_data_of_the_last_fraction(seed, split):
    X, y = _data(seed, 20)
    at = int(20 * (1 - split))
    a, b = _net(seed), copy.deepcopy(_net(seed))
    ha = a.fit(X, y, epochs=2, batch_size=4, validation_split=split)
    hb = b.fit(X[:at], y[:at], epochs=2, batch_size=4, validation_data=(X[at:], y[at:]))
    assert a.params.tobytes() == b.params.tobytes() and ha.val_loss == hb.val_loss
