"""`fit`: mini-batch training. The epoch loop (shuffle, gather, forward, backward, clipping,
optimizer update, the loss and accuracy of each epoch) is one compiled call
(csrc/nn/fp_net.inc, net_train); Python checks the inputs once, allocates the buffers once,
and comes back between epochs only when something asks for it: progress, a callback, early
stopping, or a schedule that watches the loss (ReduceLROnPlateau, Adaptive). A schedule known
in advance (StepLR, OneCycleLR, ...) is handed to the compiled loop as its rates.

Shuffling continues a stream that each network owns (`seed=None`, the default): k calls of
fit(epochs=1) give the same bits as one fit(epochs=k); fit(seed=s) restarts it from s."""
from __future__ import annotations

import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from fastprop import _core
from fastprop._model import check_network, new_stream
from fastprop._validation import as_float, as_int, as_numeric_array
from fastprop.optim import SGD, Optimizer, _as_bool
from fastprop._typing import ArrayLike, CallbackLike, Seed

if TYPE_CHECKING:
    from fastprop._model import Model
    from fastprop.schedules import Schedule

__all__ = ["fit", "History", "TrainingDivergedError"]

METRICS = ("accuracy",)


@dataclass
class History:
    """What a fit did, epoch by epoch (epochs count from 0 within the fit call).

    Attributes
    ----------
    loss : list of float
        ``loss[e]``: the mean per-sample training loss seen during epoch e (with sample
        weights, each batch's weighted mean, averaged over batches by their sizes, as
        scikit-learn's MLP).
    val_loss : list of float
        The loss on the validation data after each epoch (empty without validation data).
    accuracy, val_accuracy : list of float
        The same for ``metrics=["accuracy"]`` (empty without it).
    lr : list of float
        The learning rate of each epoch, or of each step for a per-step schedule.
    best_epoch : int or None
        EarlyStopping's best epoch (None without it).
    stopped_epoch : int or None
        The epoch after which a callback or the schedule asked training to stop (None when
        none did; it may be the last epoch, as Keras's EarlyStopping.stopped_epoch).
    seconds : float
        Wall time of the training.
    samples : int
        Training samples seen (epochs times n).
    """
    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: Optional[int] = None
    stopped_epoch: Optional[int] = None
    seconds: float = 0.0
    samples: int = 0

    @property
    def epochs(self) -> int:
        """Epochs that ran (``len(loss)``)."""
        return len(self.loss)

    @property
    def samples_per_second(self) -> float:
        """Training samples a second (infinity when no time was measured)."""
        return self.samples / self.seconds if self.seconds > 0 else float("inf")

    def logs(self, e: int) -> dict[str, float]:
        """Epoch e's figures as a dict, the `logs` that callbacks receive.

        Parameters
        ----------
        e : int
            The epoch (0-based; negative counts from the end, as for a list).

        Returns
        -------
        dict of str to float
            ``"loss"``, and ``"val_loss"``, ``"accuracy"``, ``"val_accuracy"`` where
            recorded.

        Raises
        ------
        IndexError
            When epoch e did not run.
        """
        out = {"loss": self.loss[e]}
        for name in ("val_loss", "accuracy", "val_accuracy"):
            values = getattr(self, name)
            if values:
                out[name] = values[e]
        return out

    def plot(self, ax: Any = None) -> Any:
        """The loss (and metric) curves as a matplotlib Figure; see
        `fastprop.plotting.plot_history`.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw on these axes (and twins of them) rather than on a new figure.

        Returns
        -------
        matplotlib.figure.Figure

        Raises
        ------
        ImportError
            When matplotlib is not installed (the ``plot`` extra).
        """
        from fastprop.plotting import plot_history
        return plot_history(self, ax=ax)


class TrainingDivergedError(FloatingPointError):
    """Training met a non-finite loss or gradient.

    Training stopped before writing that update, so the parameters hold their last finite
    values. A subclass of `FloatingPointError`.

    Parameters
    ----------
    message : str
        In which epoch, and what to do (lower the learning rate).
    history : History
        The epochs that completed, kept as the attribute `history`.
    """

    history: History

    def __init__(self, message: str, history: History) -> None:
        super().__init__(message)
        self.history = history


def _positive_or_none(value, argument):
    if value is None:
        return 0.0
    value = as_float(value, argument)
    if value <= 0:
        raise ValueError(f"{argument}: expected a positive number (or None: off), got {value}")
    return value


def _metrics(metrics, net):
    """The accuracy flag from `metrics` (None, or a list of names)."""
    if metrics is None:
        return False
    if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
        raise TypeError(f"metrics: expected a list of metric names such as ['accuracy'], got "
                        f"{type(metrics).__name__} {metrics!r}")
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"metrics: expected names among {list(METRICS)}, got {m!r}")
    if not metrics:
        return False
    out = net.layers[-1].activation
    if out not in ("softmax", "sigmoid"):
        raise ValueError(f"metrics: 'accuracy' needs a softmax or sigmoid output layer (classes "
                         f"or labels), got a {out!r} output")
    return True


def _sample_weight(sample_weight, n):
    if sample_weight is None:
        return None
    w = as_numeric_array(sample_weight, "sample_weight")
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"sample_weight: expected shape ({n},) (one weight a sample of X), got "
                         f"{w.shape}")
    w = np.ascontiguousarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight: expected finite weights, got NaN or infinity")
    if np.any(w < 0):
        raise ValueError(f"sample_weight: expected weights >= 0, got {w.min():g}")
    if not w.sum() > 0:
        raise ValueError("sample_weight: expected a positive total weight, got all zeros")
    return w


def split_off_validation(split, X, Y, weights):
    """validation_split's rule (Keras's): the last fraction `split` of the samples, taken
    before shuffling, is held out. Returns (X, Y, weights) to train on and (X_val, Y_val); a
    ValueError when either part would be empty or the training weights sum to 0."""
    n = X.shape[0]
    at = int(n * (1 - split))
    if at < 1 or at >= n:
        raise ValueError(f"validation_split: {split} of {n} samples leaves {at} to train on "
                         f"and {n - at} to validate; expected at least one of each")
    if weights is not None:
        weights = weights[:at]
        if not weights.sum() > 0:
            raise ValueError("sample_weight: the samples left for training (before "
                             "validation_split's) have zero total weight")
    return X[:at], Y[:at], weights, X[at:], Y[at:]


def _callbacks(callbacks):
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks: expected a list of callback objects, got "
                        f"{type(callbacks).__name__}")
    for i, cb in enumerate(callbacks):
        if not callable(getattr(cb, "on_epoch_end", None)):
            raise TypeError(f"callbacks[{i}]: expected an object with an on_epoch_end(epoch, "
                            f"logs) method, got {type(cb).__name__}")
    return list(callbacks)


def _schedule(schedule):
    if schedule is None:
        return None
    from fastprop.schedules import Schedule
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule: expected a fastprop.schedules schedule (StepLR, "
                        f"ExponentialLR, CosineAnnealingLR, OneCycleLR, ReduceLROnPlateau, "
                        f"InvScaling, Adaptive), got {type(schedule).__name__}")
    return schedule


def fit(net: Model, X: ArrayLike, y: ArrayLike, epochs: int = 5, batch_size: int = 1,
        optimizer: Optional[Optimizer] = None, shuffle: bool = True, seed: Seed = None,
        validation_data: Optional[tuple[ArrayLike, ArrayLike]] = None, progress: bool = False,
        *, validation_split: Optional[float] = None, metrics: Optional[Sequence[str]] = None,
        callbacks: Optional[Sequence[CallbackLike]] = None,
        schedule: Optional[Schedule] = None, clip_norm: Optional[float] = None,
        clip_value: Optional[float] = None,
        sample_weight: Optional[ArrayLike] = None, _l2: float = 0.0) -> History:
    """Train `net` on (X, y) by mini-batch backpropagation: ``fit(net, ...)`` is
    ``net.fit(...)``.

    `epochs` epochs of mini-batches of `batch_size` samples (the last partial batch
    included; batch_size larger than n means full batch). The caller's arrays are never
    modified; a refused call changes nothing.

    Parameters
    ----------
    net : Network
        The network to train, in place.
    X, y, epochs, batch_size, optimizer, shuffle, seed, validation_data, progress
        As for `Network.fit`.
    validation_split, metrics, callbacks, schedule, clip_norm, clip_value, sample_weight
        As for `Network.fit` (keyword-only).
    _l2 : float
        Private, for fastprop.sklearn: scikit-learn MLP's alpha, an L2 penalty on the weights
        (not the biases) added to each batch's loss and gradient.

    Returns
    -------
    History

    Raises
    ------
    TypeError, ValueError
        For a bad argument, named in the message.
    TrainingDivergedError
        When the loss or gradient becomes non-finite.
    """
    check_network(net)
    net._check_writeable("fit")
    Xc, Y = net._inputs(X, y)
    n = Xc.shape[0]
    epochs = as_int(epochs, "epochs", minimum=0)
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    shuffle = _as_bool(shuffle, "shuffle")       # bool("no") is True: refused, as nesterov
    progress = _as_bool(progress, "progress")
    if optimizer is None:
        optimizer = SGD()
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer: expected a fastprop optimizer (SGD, Adam, AdamW, RMSprop, "
                        f"Adagrad), got {type(optimizer).__name__}")
    optimizer._check_net(net)
    opt_args = optimizer._args()
    optimizer._check_args_for(opt_args, net)
    # (the options that are off are not checked through a call each: a fit call of a few
    # microseconds counts them)
    weights = None if sample_weight is None else _sample_weight(sample_weight, n)
    accuracy = False if metrics is None else _metrics(metrics, net)
    callbacks = [] if callbacks is None else _callbacks(callbacks)
    schedule = None if schedule is None else _schedule(schedule)
    clip_norm = 0.0 if clip_norm is None else _positive_or_none(clip_norm, "clip_norm")
    clip_value = 0.0 if clip_value is None else _positive_or_none(clip_value, "clip_value")
    l2 = as_float(_l2, "_l2", minimum=0.0)
    if seed is not None:
        stream = new_stream(seed)        # checks seed; written to the network below
    Xv, Yv = net._no_rows()
    if validation_split is not None:
        if validation_data is not None:
            raise ValueError("validation_split: expected either validation_split or "
                             "validation_data, got both")
        split = as_float(validation_split, "validation_split")
        if not 0 < split < 1:
            raise ValueError(f"validation_split: expected a fraction in (0, 1), got {split}")
        Xc, Y, weights, Xv, Yv = split_off_validation(split, Xc, Y, weights)
        n = Xc.shape[0]
    elif validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data: expected a pair (X_val, y_val), got "
                             f"{type(validation_data).__name__}")
        Xv, Yv = net._inputs(*validation_data, names=("validation_data[0] (X_val)",
                                                      "validation_data[1] (y_val)"))
    batch = min(batch_size, n)
    steps_per_epoch = -(-n // batch)
    if callbacks:
        names = ["loss"] + (["val_loss"] if Xv.shape[0] else [])
        if accuracy:
            names += ["accuracy"] + (["val_accuracy"] if Xv.shape[0] else [])
        names.append("lr")
        for cb in callbacks:
            if hasattr(cb, "set_model"):
                cb.set_model(net)
        for cb in callbacks:             # may refuse (a monitor that no epoch will log)
            if hasattr(cb, "on_train_begin"):
                cb.on_train_begin({"metrics": list(names)})
    if schedule is not None:
        schedule._begin(float(opt_args["lr"]), n, steps_per_epoch, epochs)  # may refuse
    with net._lock:       # the network's buffers and parameters: one compiled call at a time
        if seed is not None:
            net._stream[...] = stream
        run = _Run(net, Xc, Y, Xv, Yv, batch, shuffle, optimizer, opt_args, weights, accuracy,
                   clip_norm, clip_value, schedule, callbacks, progress, epochs, l2)
        try:
            history = run.epochs(epochs)
        finally:
            run.keep_job()
        # as Keras: after training that ended normally (EarlyStopping then restores its best
        # parameters), not after a TrainingDivergedError or Ctrl-C
        if callbacks:
            logs = history.logs(-1) if history.loss else {}
            if history.loss:
                logs["lr"] = history.lr[-1]
            for cb in callbacks:
                if hasattr(cb, "on_train_end"):
                    cb.on_train_end(logs)
        return history


# epochs a compiled call runs at most (bounds the per-epoch buffers)
MAX_EPOCHS_A_CALL = 1 << 16
# steps' learning rates handed to one compiled call at most, for a per-step schedule
MAX_RATES_A_CALL = 1 << 20
# A compiled call holds no GIL and cannot see Ctrl-C: a long fit runs as calls of about
# CALL_SECONDS each, so that KeyboardInterrupt comes between two of them (the parameters then
# hold the last completed epoch). The first call runs about FIRST_CALL_WORK parameter-samples
# (N parameters times the samples), a few to tens of milliseconds: a short fit of a small
# network is still one call.
CALL_SECONDS = 0.25
FIRST_CALL_WORK = 1 << 25


class _Run:
    """One fit's training after its checks: the compiled job, and the Python work between
    calls (progress, callbacks, schedules)."""

    def __init__(self, net, Xc, Y, Xv, Yv, batch, shuffle, optimizer, opt_args, weights,
                 accuracy, clip_norm, clip_value, schedule, callbacks, progress, epochs,
                 l2=0.0):
        self.n, self.n_val = Xc.shape[0], Xv.shape[0]
        ws, grad, gather = net._train_buffers(batch)   # first: a MemoryError leaves opt unbound
        state = optimizer._bind(net)
        self.per_step = schedule is not None and schedule.per_step
        spec = optimizer._spec(opt_args)
        max_epochs = max(min(epochs, MAX_EPOCHS_A_CALL), 1)
        # The job of the last fit call is reused when everything but the data, the optimizer's
        # state and hyper-parameters is the same: the ids are of objects that job holds, so
        # none can have been reused by another object (the data and state it drops after each
        # call are bound again, checked, by rebind). Sample weights are bound at construction.
        key = (id(net._spec), id(net._params), id(ws), net._cap, id(grad), id(gather),
               id(net._stream), batch, bool(shuffle), max_epochs, Xc.shape[0], Xv.shape[0],
               clip_norm, clip_value, accuracy, self.per_step, l2)
        kept, net._job = net._job, None
        if (weights is None and kept is not None and kept[0] == key
                and kept[1].rebind(spec, Xc, Y, Xv, Yv, state)):
            self.job = kept[1]
        else:
            self.job = _core.TrainJob(
                net._spec, spec, net.params, Xc, Y, Xv, Yv, state=state, ws=ws, cap=net._cap,
                grad=grad, gather=gather, batch=batch, shuffle=bool(shuffle), rng=net._stream,
                max_epochs=max_epochs, clip_norm=clip_norm, clip_value=clip_value,
                sample_weight=weights, accuracy=accuracy, lr_per_step=self.per_step, l2=l2)
        self.key = key if weights is None else None
        self.base_lr = float(opt_args["lr"])
        self.net, self.schedule, self.callbacks = net, schedule, callbacks
        self.accuracy = accuracy
        self.history = History()
        self.cost = (self.n + self.n_val) * (net.n_params + 64)   # an epoch's work, roughly
        # Python between every epoch: callbacks, a schedule that watches the loss, progress
        self.each_epoch = bool(callbacks) or progress or (
            schedule is not None and schedule.needs_metric)
        self.show_progress, self.progress = progress, None

    def keep_job(self):
        """After the run: the job, without the caller's arrays and the optimizer's state, kept
        for the next fit call."""
        self.job.release()
        if self.key is not None:
            self.net._job = (self.key, self.job)

    def rates(self, k):
        """The learning rates of the next k epochs (per step: of their steps), or None."""
        s = self.schedule
        if s is None:
            return None
        if s.needs_metric:
            return np.full(k, float(s._current()))
        return np.ascontiguousarray(s._lrs(k * self.job.steps_per_epoch if self.per_step
                                           else k), dtype=np.float64)

    def epochs(self, epochs):
        h, job = self.history, self.job
        if self.show_progress:
            self.progress = _progress(epochs, self.n)
        max_epochs = job.epoch_loss.shape[0]
        chunk = 1 if self.each_epoch else max(1, min(FIRST_CALL_WORK // self.cost, max_epochs))
        if self.per_step:
            chunk = min(chunk, max(1, MAX_RATES_A_CALL // job.steps_per_epoch))
        done, stop = 0, False
        start = time.perf_counter()
        try:
            while done < epochs and not stop:
                k = min(chunk, epochs - done, max_epochs)
                lr = None if self.schedule is None else self.rates(k)
                t0 = time.perf_counter()
                ran = _run_epochs(job, k, lr)
                completed = ran if ran >= 0 else -ran - 1
                self.record(completed, lr)
                done += completed
                h.seconds = time.perf_counter() - start
                h.samples = done * self.n
                if ran < 0:
                    raise TrainingDivergedError(
                        f"training diverged in epoch {done + 1}: the loss or gradient became "
                        f"non-finite (NaN or infinity); stopped before that update, so the "
                        f"parameters hold their last finite values. Lower the learning rate.",
                        h)
                if self.each_epoch:
                    stop = self.between_epochs(done - 1, epochs)
                elif done < epochs:
                    elapsed = time.perf_counter() - t0
                    chunk = int(min(max(1.0, completed * CALL_SECONDS / max(elapsed, 1e-9)),
                                    8 * chunk, max_epochs))
                    if self.per_step:
                        chunk = min(chunk, max(1, MAX_RATES_A_CALL // job.steps_per_epoch))
            if stop:
                h.stopped_epoch = done - 1
        finally:
            if self.progress is not None:
                self.progress.close()
        for cb in self.callbacks:
            best = getattr(cb, "best_epoch", None)
            if _is_early_stopping(cb) and isinstance(best, numbers.Integral):
                h.best_epoch = int(best)
        return h

    def record(self, completed, lr):
        h, job = self.history, self.job
        h.loss.extend(job.epoch_loss[:completed].tolist())
        if self.n_val:
            h.val_loss.extend(job.val_loss[:completed].tolist())
        if self.accuracy:
            h.accuracy.extend(job.epoch_acc[:completed].tolist())
            if self.n_val:
                h.val_accuracy.extend(job.val_acc[:completed].tolist())
        if lr is None:
            h.lr.extend([self.base_lr] * completed)
        elif self.per_step:
            h.lr.extend(lr[:completed * job.steps_per_epoch].tolist())
        else:
            h.lr.extend(lr[:completed].tolist())

    def between_epochs(self, e, epochs):
        """After epoch e (0-based in this fit): the schedule's feedback, progress, callbacks.
        True when training must stop."""
        h = self.history
        logs = h.logs(e)
        logs["lr"] = h.lr[-1]
        stop = False
        s = self.schedule
        if s is not None and s.needs_metric:
            stop = bool(s._observe(logs["val_loss"] if self.n_val else logs["loss"]))
        if self.progress is not None:
            self.progress.update(e, dict(logs), h.samples_per_second)
        for cb in self.callbacks:
            if cb.on_epoch_end(e, dict(logs)):
                stop = True
        return stop


def _is_early_stopping(cb):
    try:
        from fastprop.callbacks import EarlyStopping
    except ImportError:
        return False
    return isinstance(cb, EarlyStopping)


def _progress(epochs, samples):
    """The progress display (fastprop.progress: a tqdm bar on a terminal when tqdm is
    installed, else a line)."""
    from fastprop.progress import Progress
    return Progress(epochs, samples)


def _run_epochs(job, k, lr=None):
    """k epochs in one compiled call (a function of its own, so tests can watch the calls)."""
    return job.run(k, lr)
