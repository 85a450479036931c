"""fit's own arguments: batch_size and epochs must be integers in range, optimizer an
optimizer, seed a seed, shuffle and progress True or False; a bad one is a ValueError or
TypeError naming it, raised before any step (the parameters stay as they were). X, y and
validation_data are the input-validation tests' concern."""
import numpy as np
import pytest


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(batch_size=0), ValueError, r"batch_size: .*>= 1, got 0"),
    (dict(batch_size=-3), ValueError, "batch_size"),
    (dict(batch_size=2.0), TypeError, "batch_size"),
    (dict(batch_size=True), TypeError, "batch_size"),
    (dict(epochs=-1), ValueError, r"epochs: .*>= 0, got -1"),
    (dict(epochs=1.5), TypeError, "epochs"),
    (dict(epochs="3"), TypeError, "epochs"),
    (dict(optimizer="sgd"), TypeError, "optimizer"),
    (dict(seed="x"), TypeError, "seed"),
])
def test_bad_fit_arguments_are_refused_and_change_nothing(net, data, kwargs, exc, match):
    X, y = data
    before = net.params.copy()
    with pytest.raises(exc, match=match):
        net.fit(X, y, **kwargs)
    assert net.params.tobytes() == before.tobytes()


@pytest.mark.parametrize("argument", ["shuffle", "progress"])
@pytest.mark.parametrize("value", ["no", None, 2, 0.5])
def test_fit_takes_only_booleans_for_shuffle_and_progress(net, data, argument, value):
    X, y = data
    before = net.params.copy()
    with pytest.raises(TypeError, match=rf"{argument}: expected True or False"):
        net.fit(X, y, epochs=1, **{argument: value})
    np.testing.assert_array_equal(net.params, before)
