"""fit(validation_split=f): the last fraction of the samples, taken before shuffling, is the
validation data (Keras's rule)."""
import numpy as np
import pytest

import fastprop as fp


def _case():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    return X, y


@pytest.mark.parametrize("split, at", [(0.1, 27), (0.25, 22), (0.5, 15), (0.9, 2)])
def test_validation_split_holds_out_the_last_fraction(split, at):
    X, y = _case()
    a, b = fp.mlp([3, 5, 1], seed=0), fp.mlp([3, 5, 1], seed=0)
    ha = a.fit(X, y, epochs=3, batch_size=4, validation_split=split, sample_weight=None)
    hb = b.fit(X[:at], y[:at], epochs=3, batch_size=4, validation_data=(X[at:], y[at:]))
    assert a.params.tobytes() == b.params.tobytes()
    assert ha.loss == hb.loss and ha.val_loss == hb.val_loss and len(ha.val_loss) == 3


def test_validation_split_splits_the_weights_too():
    X, y = _case()
    w = np.linspace(0.5, 2, 30)
    a, b = fp.mlp([3, 5, 1], seed=0), fp.mlp([3, 5, 1], seed=0)
    a.fit(X, y, epochs=2, batch_size=4, validation_split=0.2, sample_weight=w)
    b.fit(X[:24], y[:24], epochs=2, batch_size=4, validation_data=(X[24:], y[24:]),
          sample_weight=w[:24])
    assert a.params.tobytes() == b.params.tobytes()


@pytest.mark.parametrize("split, exc, what", [
    (0, ValueError, "(0, 1)"), (1, ValueError, "(0, 1)"), (-0.1, ValueError, "(0, 1)"),
    (1.5, ValueError, "(0, 1)"), (1e-17, ValueError, "leaves"), (0.99, ValueError, "leaves"), ("0.1", TypeError, "real"),
    (float("nan"), ValueError, "finite")])
def test_bad_validation_splits_are_refused_by_name(split, exc, what):
    X, y = _case()
    net = fp.mlp([3, 5, 1], seed=0)
    before = net.params.copy()
    with pytest.raises(exc, match="validation_split") as info:
        net.fit(X, y, epochs=1, validation_split=split)
    assert what in str(info.value)
    assert net.params.tobytes() == before.tobytes()


def test_validation_split_and_validation_data_together_are_refused():
    X, y = _case()
    with pytest.raises(ValueError, match="validation_split: expected either"):
        fp.mlp([3, 5, 1]).fit(X, y, validation_split=0.2, validation_data=(X, y))
