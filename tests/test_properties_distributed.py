"""fastprop.distributed.fit's argument checks under random arguments (hypothesis), run without
MPI (mpi4py is hidden): an invalid argument raises ValueError or TypeError whose message starts
with its name, before MPI is needed; valid ones reach the ImportError that names the extra.
Either way nothing changes: parameters, the network's stream, the optimizer's state. And the
split of a batch into shares: contiguous, complete, sizes within one of each other.

Profiles: tests/test_properties.py registers and loads them; imported here for that."""
import contextlib
import math
import os
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastprop as fp
from fastprop import distributed

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_properties import budget  # noqa: E402  (registers and loads the profiles)


@contextlib.contextmanager
def no_mpi():
    """import mpi4py fails inside (a context manager: hypothesis reruns the test body)."""
    saved = sys.modules.get("mpi4py", "absent")
    sys.modules["mpi4py"] = None
    try:
        yield
    finally:
        if saved == "absent":
            del sys.modules["mpi4py"]
        else:
            sys.modules["mpi4py"] = saved


NET = fp.mlp([3, 4, 2], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
X = np.random.default_rng(0).normal(size=(10, 3))
Y = np.arange(10) % 2


def snapshot(opt):
    return NET.params.copy(), NET._stream.copy(), opt._state


def unchanged(before, opt):
    params, stream, state = before
    assert np.array_equal(NET.params, params)
    assert np.array_equal(NET._stream, stream)
    assert opt._state is state is None          # the optimizer was never bound


BAD = st.one_of(
    st.tuples(st.just("epochs"), st.integers(-10 ** 6, -1)),
    st.tuples(st.just("batch_size"), st.integers(-10 ** 6, 0)),
    st.tuples(st.just("clip_norm"), st.one_of(st.floats(max_value=0.0, allow_nan=False),
                                              st.just(math.nan))),
    st.tuples(st.just("clip_value"), st.floats(max_value=0.0, allow_nan=False)),
    st.tuples(st.just("validation_split"), st.one_of(st.floats(max_value=0.0),
                                                     st.floats(min_value=1.0))),
    st.tuples(st.just("shuffle"), st.one_of(st.text(max_size=3), st.integers(2, 9),
                                            st.floats())),
    st.tuples(st.just("sharded"), st.one_of(st.text(max_size=3), st.integers(2, 9))),
    st.tuples(st.just("progress"), st.one_of(st.text(max_size=3), st.integers(-9, -1))),
    st.tuples(st.just("seed"), st.one_of(st.integers(max_value=-1), st.text(max_size=2))),
    st.tuples(st.just("metrics"), st.one_of(st.text(max_size=5), st.lists(
        st.text(max_size=4).filter(lambda s: s != "accuracy"), min_size=1, max_size=2))),
)


@budget(3)
@given(BAD)
def test_an_invalid_argument_is_named_before_mpi_and_changes_nothing(bad):
    name, value = bad
    opt = fp.SGD(lr=0.1)
    before = snapshot(opt)
    kwargs = dict(epochs=1, optimizer=opt)
    kwargs[name] = value
    with no_mpi(), pytest.raises((ValueError, TypeError)) as info:
        distributed.fit(NET, X, Y, **kwargs)
    assert str(info.value).startswith(name), str(info.value)
    unchanged(before, opt)


@budget(2)
@given(epochs=st.integers(0, 5), batch_size=st.integers(1, 50), shuffle=st.booleans(),
       sharded=st.booleans(), clip=st.one_of(st.none(), st.floats(1e-3, 10.0)),
       split=st.one_of(st.none(), st.floats(0.15, 0.85)), seed=st.one_of(st.none(),
                                                                       st.integers(0, 99)))
def test_valid_arguments_without_mpi4py_raise_the_import_error_naming_the_extra(
        epochs, batch_size, shuffle, sharded, clip, split, seed):
    opt = fp.Adam(lr=0.01)
    before = snapshot(opt)
    with no_mpi(), pytest.raises(ImportError, match=r"pip install fastprop\[mpi\]"):
        distributed.fit(NET, X, Y, epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                        sharded=sharded, clip_norm=clip, validation_split=split, seed=seed,
                        optimizer=opt, metrics=["accuracy"])
    unchanged(before, opt)


@budget(5)
@given(total=st.integers(0, 10 ** 6), parts=st.integers(1, 512))
def test_shares_are_contiguous_complete_and_within_one_row(total, parts):
    s = distributed._shares(total, parts)
    sizes = np.diff(s)
    assert s[0] == 0 and s[-1] == total and len(s) == parts + 1
    assert np.all(sizes >= 0) and sizes.max() - sizes.min() <= 1
    assert np.all(np.diff(sizes) <= 0)           # the larger shares first
