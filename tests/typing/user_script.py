"""A user's script that calls the whole public API of fastprop, written as a user of a typed
library writes it: `mypy --strict` on it must pass (tests/test_typing.py, .ci/typecheck), which
proves that the installed package ships its types (py.typed, _core.pyi) and that they say what
the functions take and give. It runs too (test_typing runs it), so the calls are real ones.
Each annotated local states the type a user relies on: mypy fails if the library's disagrees."""
from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
from numpy.typing import NDArray

import fastprop as fp
from fastprop import schedules
from fastprop.optim import Optimizer
from fastprop.plotting import plot_history
from fastprop.progress import Progress

if TYPE_CHECKING:
    from typing_extensions import assert_type    # typing's own from Python 3.11
else:
    def assert_type(value, typ):
        return value

# The exact types a user relies on: an annotation that became Any (or wrong) fails here,
# where an annotated assignment from Any would pass.
FloatArray = NDArray[np.floating[Any]]


class StopAtLoss(fp.Callback):
    """A user's own callback: stops once the training loss is below a threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def on_epoch_end(self, epoch: int, logs: Optional[dict[str, float]] = None) -> bool:
        return logs is not None and logs["loss"] < self.threshold


class PrintEpochs:
    """A callback that is not a fp.Callback: fit only needs on_epoch_end."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool:
        self.seen.append(epoch)
        return False


def distributed_part(net: fp.Network, X: NDArray[np.float64], y: NDArray[np.float64]) -> None:
    """fastprop.distributed, type-checked only: it runs under mpiexec with the mpi extra."""
    import fastprop.distributed as dist
    hist: fp.History = dist.fit(net, X, y, epochs=2, batch_size=8, optimizer=fp.SGD(lr=0.1),
                                comm=None, sharded=False)
    dist.save(net, "model.npz")
    again: fp.Network = dist.load("model.npz")
    assert_type(dist.load("model.npz"), fp.Network)
    error: type[RuntimeError] = dist.RankFailedError


def main() -> None:
    rng = np.random.default_rng(0)
    X: NDArray[np.float64] = rng.normal(size=(64, 4))
    labels: NDArray[np.int64] = rng.integers(0, 3, size=64)
    y_reg = X[:, :1] * 2.0 - 1.0

    # Building networks
    layers = [fp.Dense(4, 8, "tanh", bias=True, init="he_normal"),
              fp.Dense(8, 3, "softmax", bias=False, init=None)]
    net: fp.Network = fp.Network(layers, loss="cross_entropy", dtype="float64", seed=0)
    reg: fp.Network = fp.mlp([4, 8, 1], hidden="relu", output="identity", loss="mse",
                             dtype=np.float32, seed=np.random.default_rng(1),
                             init="uniform(-0.5, 0.5)", bias=True)
    dropped = fp.Network([fp.Dense(4, 8, "relu"), fp.Dropout(p=0.25), fp.Dense(8, 1)], seed=0)
    rate: float = dropped.layers[1].p if isinstance(dropped.layers[1], fp.Dropout) else 0.0
    first = net.layers[0]
    assert isinstance(first, fp.Dense)      # net.layers may hold Dropout layers too
    flags: tuple[bool, Optional[str]] = (first.bias, first.init)
    W: Optional[NDArray[np.floating[Any]]] = first.W
    b: Optional[NDArray[np.floating[Any]]] = first.b
    assert W is not None and b is not None
    shape: tuple[int, int, str] = (first.n_in, first.n_out, first.activation)
    n: int = net.n_params + first.n_params + net.n_in + net.n_out
    name: str = net.loss_name
    dtype: np.dtype[Any] = net.dtype
    params: NDArray[np.floating[Any]] = net.params
    net.params = params * 1.0
    first.b = np.zeros(8)

    # Forward, loss, gradients
    out: NDArray[np.floating[Any]] = net.predict(X)
    loss: float = net.loss(X, labels)
    weighted: float = net.loss(X, labels, sample_weight=np.ones(64))
    value, grad = net.backprop(X, labels)
    grad2: NDArray[np.floating[Any]] = grad
    numeric: NDArray[np.floating[Any]] = fp.numerical_gradient(net, X, labels, eps=None,
                                                               scheme="central",
                                                               indices=[0, 1, 2])
    res: fp.GradcheckResult = fp.gradcheck(reg, X[:8], y_reg[:8], scheme="central")
    ok: bool = res.ok
    errors: tuple[float, float] = (res.max_abs_error, res.max_rel_error)

    # Optimizers
    opts: list[Optimizer] = [fp.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.0),
                                fp.Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8),
                                fp.AdamW(lr=1e-3, weight_decay=0.01),
                                fp.RMSprop(lr=1e-2, alpha=0.99, centered=True),
                                fp.Adagrad(lr=1e-2, lr_decay=0.0)]
    sgd = fp.SGD(lr=0.01)
    sgd.step(net, grad)
    steps: int = sgd.steps

    # Training
    hist: fp.History = net.fit(X, labels, epochs=3, batch_size=16, optimizer=opts[1],
                               shuffle=True, seed=0, validation_data=(X[:8], labels[:8]),
                               progress=False, metrics=["accuracy"],
                               callbacks=[StopAtLoss(1e-9), PrintEpochs()],
                               schedule=schedules.StepLR(step_size=2, gamma=0.5),
                               clip_norm=5.0, clip_value=None, sample_weight=np.ones(64))
    losses: list[float] = hist.loss + hist.val_loss + hist.accuracy + hist.val_accuracy
    rates: list[float] = hist.lr
    epochs: int = hist.epochs
    best: Optional[int] = hist.best_epoch
    logs: dict[str, float] = hist.logs(-1)
    speed: float = hist.samples_per_second
    hist2 = fp.fit(reg, X, y_reg, epochs=2, batch_size=8, optimizer=fp.SGD(lr=0.01),
                   validation_split=0.25,
                   schedule=schedules.OneCycleLR(max_lr=0.1, total_steps=100))
    early = fp.EarlyStopping(monitor="val_loss", patience=2, min_delta=0.0,
                             restore_best_weights=True, mode="auto")
    for schedule in (schedules.ExponentialLR(gamma=0.9), schedules.CosineAnnealingLR(T_max=4),
                     schedules.ReduceLROnPlateau(patience=1), schedules.InvScaling(power_t=0.5),
                     schedules.Adaptive(tol=1e-4)):
        reg.fit(X, y_reg, epochs=2, optimizer=fp.SGD(lr=0.01), validation_split=0.25,
                callbacks=[early], schedule=schedule)
    stopped: int = early.stopped_epoch
    try:
        fp.mlp([4, 1], output="identity").fit(X, np.full(64, np.inf))
    except ValueError:
        pass
    except fp.TrainingDivergedError as exc:
        diverged: fp.History = exc.history
    try:
        net.loss(X, labels)
    except fp.NonFiniteResultError as exc:
        what: str = exc.what

    assert_type(net.predict(X), FloatArray)
    assert_type(net.loss(X, labels), float)
    assert_type(net.backprop(X, labels), tuple[float, FloatArray])
    assert_type(fp.numerical_gradient(net, X, labels), FloatArray)
    assert_type(fp.gradcheck(net, X, labels), fp.GradcheckResult)
    assert_type(fp.mlp([2, 1]), fp.Network)
    assert_type(hist, fp.History)
    assert_type(hist2, fp.History)
    assert_type(hist.loss, list[float])
    assert_type(net.params, FloatArray)
    assert_type(first.W, Optional[FloatArray])

    # One gradient entry by the chain rule, beside backprop and finite differences
    from fastprop.explain import tutorial_network
    tut, X1, y1 = tutorial_network(seed=0)
    why: fp.Explanation = fp.explain(tut, X1, y1, layer=0, i=0, j=1, param="W")
    agree: bool = why.agree
    chain: list[tuple[str, float]] = why.factors
    text: str = str(why)

    # Files
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.npz")
        net.save(path)
        fp.save(net, path)
        again: fp.Network = fp.load(path)
        assert_type(fp.load(path), fp.Network)
        checkpoint = fp.ModelCheckpoint(os.path.join(tmp, "ep{epoch:02d}.npz"),
                                        monitor="loss", save_best_only=True, mode="min")
        net.fit(X, labels, epochs=1, callbacks=[checkpoint])

    # Progress and plots (matplotlib is an optional extra)
    with open(os.devnull, "w") as sink:
        with Progress(2, 64, stream=sink) as progress:
            progress.update(0, {"loss": 1.0}, 1000.0)
    try:
        import matplotlib
        matplotlib.use("Agg")
        figure: Any = hist.plot()
        figure = plot_history(hist2)
    except ImportError:
        pass

    # The runtime
    fp.set_num_threads(1)
    threads: int = fp.get_num_threads()
    path_name: str = fp.simd_path()
    names: list[str] = list(fp.ACTIVATIONS) + list(fp.LOSSES)
    version: str = fp.__version__
    print("typed API ran:", hist.loss[-1], again.n_params, threads, path_name, version)


if __name__ == "__main__":
    main()
