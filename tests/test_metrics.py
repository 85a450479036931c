"""metrics=["accuracy"]: the accuracy of each epoch, computed in the compiled loop, against
numpy's accuracy of the predictions (argmax for softmax, threshold 0.5 for sigmoid outputs,
the fraction of labels right for several)."""
import numpy as np
import pytest

import fastprop as fp


def _case(kind, seed=0, n=40):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    if kind == "softmax":
        net = fp.mlp([3, 8, 4], hidden="tanh", output="softmax", loss="cross_entropy", seed=seed)
        y = rng.integers(0, 4, size=n)
    elif kind == "sigmoid":
        net = fp.mlp([3, 8, 1], hidden="tanh", output="sigmoid", loss="binary_cross_entropy",
                     seed=seed)
        y = rng.integers(0, 2, size=n).astype(float)
    else:
        net = fp.mlp([3, 8, 3], hidden="tanh", output="sigmoid", loss="binary_cross_entropy",
                     seed=seed)
        y = rng.integers(0, 2, size=(n, 3)).astype(float)
    return net, X, y


def _accuracy(p, y, kind, w=None):
    if kind == "softmax":
        right = (p.argmax(axis=1) == y).astype(float)
    else:
        right = ((p > 0.5) == (y.reshape(p.shape) > 0.5)).mean(axis=1)
    return float(np.average(right, weights=w))


@pytest.mark.parametrize("kind", ["softmax", "sigmoid", "multilabel"])
@pytest.mark.parametrize("weighted", [False, True])
def test_accuracy_of_each_epoch_is_that_of_the_predictions(kind, weighted):
    # full batches without shuffling: epoch e's training accuracy is that of the parameters
    # before its step, its validation accuracy that of the parameters after it
    net, X, y = _case(kind)
    Xv, yv = X[:13] * 1.1, y[:13]
    w = np.random.default_rng(1).uniform(0.5, 2, size=len(X)) if weighted else None
    twin = fp.mlp([l.n_in for l in net.layers] + [net.n_out], hidden="tanh",
                  output=net.layers[-1].activation, loss=net.loss_name, seed=0)
    hist = net.fit(X, y, epochs=5, batch_size=len(X), optimizer=fp.SGD(lr=2.0), shuffle=False,
                   validation_data=(Xv, yv), metrics=["accuracy"], sample_weight=w)
    train, val = [], []
    for _ in range(5):
        train.append(_accuracy(twin.predict(X), y, kind, w))
        twin.fit(X, y, epochs=1, batch_size=len(X), optimizer=fp.SGD(lr=2.0), shuffle=False,
                 sample_weight=w)
        val.append(_accuracy(twin.predict(Xv), yv, kind))
    assert hist.accuracy == pytest.approx(train, abs=1e-12)
    assert hist.val_accuracy == pytest.approx(val, abs=1e-12)
    assert len(set(hist.accuracy)) > 1 or len(set(hist.val_accuracy)) > 1   # it moves


def test_per_sample_training_accuracy_counts_each_sample_before_its_step():
    net, X, y = _case("softmax", n=12)
    twin = fp.mlp([3, 8, 4], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    hist = net.fit(X, y, epochs=1, batch_size=1, optimizer=fp.SGD(lr=0.5), shuffle=False,
                   metrics=["accuracy"])
    right = 0
    for i in range(len(X)):
        right += twin.predict(X[i:i + 1]).argmax() == y[i]
        twin.fit(X[i:i + 1], y[i:i + 1], epochs=1, batch_size=1, optimizer=fp.SGD(lr=0.5),
                 shuffle=False)
    assert hist.accuracy == [right / len(X)]


def test_accuracy_does_not_change_the_training():
    net, X, y = _case("softmax")
    twin = fp.mlp([3, 8, 4], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    h1 = net.fit(X, y, epochs=3, batch_size=1, metrics=["accuracy"])
    h2 = twin.fit(X, y, epochs=3, batch_size=1)
    assert net.params.tobytes() == twin.params.tobytes()
    assert h1.loss == h2.loss and not h2.accuracy and len(h1.accuracy) == 3


@pytest.mark.parametrize("metrics, exc, what", [
    ("accuracy", TypeError, "list"), (["acc"], ValueError, "'acc'"), ([3], ValueError, "3"),
    (["accuracy", "mse"], ValueError, "mse")])
def test_bad_metrics_are_refused_by_name(metrics, exc, what):
    net, X, y = _case("softmax")
    with pytest.raises(exc, match="metrics") as info:
        net.fit(X, y, epochs=1, metrics=metrics)
    assert what in str(info.value)


def test_accuracy_needs_a_classification_output():
    net = fp.mlp([3, 4, 1], output="identity")
    with pytest.raises(ValueError, match="metrics: 'accuracy' needs a softmax or sigmoid"):
        net.fit(np.zeros((4, 3)), np.zeros(4), epochs=1, metrics=["accuracy"])
