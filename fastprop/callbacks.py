"""Callbacks of `fit`: objects told about training as it goes, which may stop it.
`Callback` is the base class (no-op methods); `EarlyStopping` and `ModelCheckpoint` follow
Keras 3's rules. This module holds no training loop: fit (fastprop.training) calls it.

The protocol fit follows, with each callback `cb` of `callbacks=`:

1. `cb.set_model(net)` (when present), then `cb.on_train_begin(logs)` (when present), with
   logs = {"metrics": [the names each epoch's logs will hold]}, e.g. ["loss", "val_loss",
   "accuracy", "val_accuracy", "lr"]. Both come before any training: a ValueError raised
   there refuses the fit with nothing changed.
2. After each epoch, `cb.on_epoch_end(epoch, logs)`: `epoch` counts from 0 within this fit
   call, logs maps each of those names to a float. A True return stops training after this
   epoch (every callback still gets this epoch's call).
3. `cb.on_train_end(logs)` (when present) with the last epoch's logs ({} when none ran), also
   when training stopped early.

A user's callback may be any object with `on_epoch_end`; the other methods are optional."""
from __future__ import annotations

import math
import numbers
import os
import string
import warnings
from typing import Any, Optional

from fastprop.optim import _as_bool
from fastprop._validation import as_float, as_int
from fastprop._typing import FloatArray, PathLike

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint"]

MODES = ("auto", "min", "max")


class Callback:
    """Base class of fit's callbacks: every method does nothing; override those you need.

    `fit` calls `set_model`, then `on_train_begin` before any training, `on_epoch_end` after
    each epoch (True stops training) and `on_train_end` at the end (see the module's
    documentation for the whole protocol).

    Attributes
    ----------
    model : Network or None
        The network being trained (set by `set_model` before training).
    """

    model: Any = None

    def set_model(self, net: Any) -> None:
        """Called by fit before on_train_begin with the network it trains.

        Parameters
        ----------
        net : Network
            Kept as `self.model`.
        """
        self.model = net

    def on_train_begin(self, logs: Optional[dict[str, Any]] = None) -> None:
        """Called before the first epoch.

        Parameters
        ----------
        logs : dict, optional
            ``{"metrics": [names each epoch's logs will hold]}``.

        Raises
        ------
        ValueError
            Raise it here to refuse the fit before anything changes.
        """

    def on_epoch_end(self, epoch: int, logs: Optional[dict[str, float]] = None) -> bool:
        """Called after each epoch.

        Parameters
        ----------
        epoch : int
            The epoch, 0-based within this fit call.
        logs : dict of str to float, optional
            The epoch's figures: loss, and val_loss, accuracy, val_accuracy, lr as logged.

        Returns
        -------
        bool
            True to stop training after this epoch.
        """
        return False

    def on_train_end(self, logs: Optional[dict[str, float]] = None) -> None:
        """Called after the last epoch, also after a stop.

        Parameters
        ----------
        logs : dict of str to float, optional
            The last epoch's logs ({} when none ran).
        """


# ---- what monitored callbacks share -------------------------------------------------------
def _check_monitor(monitor):
    if not isinstance(monitor, str):
        raise TypeError(f"monitor: expected the name of a logged quantity (a str such as "
                        f"'val_loss'), got {type(monitor).__name__} {monitor!r}")
    if not monitor:
        raise ValueError("monitor: expected the name of a logged quantity such as 'val_loss', "
                         "got ''")
    return monitor


def _check_mode(mode):
    if not isinstance(mode, str):
        raise TypeError(f"mode: expected one of {', '.join(map(repr, MODES))}, got "
                        f"{type(mode).__name__} {mode!r}")
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(map(repr, MODES))}, got {mode!r}")
    return mode


def _direction(monitor, mode):
    """+1 when larger is better, -1 when smaller is. "auto": larger for an accuracy (a name
    containing "acc", Keras 2's rule: fastprop's only metric that grows is accuracy), else
    smaller (losses, lr)."""
    if mode == "max" or (mode == "auto" and "acc" in monitor):
        return 1
    return -1


def _is_improvement(value, reference, direction, min_delta):
    """Keras's test: better than `reference` by more than min_delta (strictly). A reference of
    None (nothing seen yet) is beaten by anything, NaN included, as in Keras."""
    if reference is None:
        return True
    if direction < 0:
        return value + min_delta < reference
    return value - min_delta > reference


def _require_metric(owner, monitor, logs):
    """A ValueError before training when `monitor` is not among the names fit will log (Keras
    only warns; here a typo would silently never stop or never save)."""
    metrics = (logs or {}).get("metrics")
    if metrics is None:     # called by hand, without fit's list: nothing to check against
        return
    metrics = list(metrics)
    if monitor not in metrics:
        hint = ""
        if monitor.startswith("val_") and monitor[4:] in metrics:
            hint = " (val_ names need validation_data)"
        raise ValueError(f"monitor: {owner} monitors {monitor!r}, which this fit does not log"
                         f"{hint}; available: {', '.join(map(repr, metrics)) or 'none'}")


def _value(owner, monitor, logs):
    """logs[monitor] as a float, or None (with a warning, as Keras) when it is missing."""
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(f"{owner}: monitor {monitor!r} is not in this epoch's logs (available: "
                      f"{', '.join(map(repr, logs or {}))}); epoch ignored", RuntimeWarning,
                      stacklevel=3)
        return None
    return float(value)


# ---- EarlyStopping ------------------------------------------------------------------------
class EarlyStopping(Callback):
    """Stop training when `monitor` has stopped improving, by Keras 3's rules.

    - An epoch improves when its value beats the best so far by more than `min_delta` (lower
      in mode "min", higher in "max"; "auto" is "max" when the name contains "acc", else
      "min"). The first monitored epoch always counts as an improvement.
    - `wait` counts the epochs since the last improvement; training stops after the epoch at
      which wait >= patience (never after epoch 0). With `baseline`, an improvement resets
      wait only when it also beats the baseline by more than min_delta, so a run that never
      beats it stops after `patience` epochs.
    - Epochs before `start_from_epoch` are not monitored (a warm-up).
    - `best_epoch` (the best monitored epoch) and `stopped_epoch` (the epoch after which
      training stopped; 0 when it did not stop) are 0-based, counted within the fit call, as
      Keras's; `best` is the best value. All are reset at each fit, so one instance can serve
      several fits.
    - `restore_best_weights`: a copy of net.params is kept at each improvement and written
      back (`net.params = best`) at the end of training - whenever some epoch was
      monitored, whether training stopped early or ran all its epochs (Keras 3 does the
      same; Keras 2 restored only when it stopped).

    min_delta must be >= 0: Keras takes its absolute value, but a negative min_delta most
    likely means a misunderstanding, so it is refused. A monitor that fit does not log (say
    "val_loss" without validation_data) is refused with a ValueError at the start of fit,
    where Keras only warns.

    Parameters
    ----------
    monitor : str, default "val_loss"
        The logged quantity to watch: ``"loss"``, ``"val_loss"``, ``"accuracy"``,
        ``"val_accuracy"`` or ``"lr"``.
    patience : int, default 10
        Epochs without improvement before stopping, >= 0.
    min_delta : float, default 0.0
        The least change that counts as an improvement, >= 0.
    restore_best_weights : bool, default True
        Write the best epoch's parameters back at the end of training.
    mode : {"auto", "min", "max"}, default "auto"
        Whether lower or higher is better.
    baseline : float, optional
        A value the monitored quantity must beat.
    start_from_epoch : int, default 0
        Epochs of warm-up that are not monitored.

    Attributes
    ----------
    best : float or None
        The best value seen in this fit.
    best_epoch : int
        The best monitored epoch (0-based, within the fit).
    stopped_epoch : int
        The epoch after which training stopped (0 when it did not).
    wait : int
        Epochs since the last improvement.
    best_weights : ndarray or None
        The kept copy of the best parameters (with restore_best_weights).

    Raises
    ------
    TypeError
        When an argument is not of its type (monitor not a str, baseline not a number...).
    ValueError
        When an argument is out of range, or mode is unknown.
    """

    best: Optional[float]
    best_epoch: int
    stopped_epoch: int
    wait: int
    best_weights: Optional[FloatArray]

    def __init__(self, monitor: str = "val_loss", patience: int = 10, min_delta: float = 0.0,
                 restore_best_weights: bool = True, mode: str = "auto",
                 baseline: Optional[float] = None, start_from_epoch: int = 0) -> None:
        self.monitor = _check_monitor(monitor)
        self.patience = as_int(patience, "patience", minimum=0)
        self.min_delta = as_float(min_delta, "min_delta", minimum=0.0)
        self.restore_best_weights = _as_bool(restore_best_weights, "restore_best_weights")
        self.mode = _check_mode(mode)
        if baseline is not None:
            if isinstance(baseline, bool) or not isinstance(baseline, numbers.Real):
                raise TypeError(f"baseline: expected None or a real number, got "
                                f"{type(baseline).__name__} {baseline!r}")
            baseline = float(baseline)
            if math.isnan(baseline):
                raise ValueError("baseline: expected None or a number, got NaN (nothing "
                                 "would ever beat it)")
        self.baseline = baseline
        self.start_from_epoch = as_int(start_from_epoch, "start_from_epoch", minimum=0)
        self._direction = _direction(self.monitor, self.mode)
        self._reset()

    def _reset(self):
        self.wait = 0
        self.best = None
        self.best_epoch = 0
        self.stopped_epoch = 0
        self.best_weights = None

    def on_train_begin(self, logs: Optional[dict[str, Any]] = None) -> None:
        """Checks that fit logs `monitor`, and starts afresh (one instance, several fits).

        Parameters
        ----------
        logs : dict, optional
            ``{"metrics": [names]}``, from fit.

        Raises
        ------
        ValueError
            When `monitor` is not among the names this fit logs.
        """
        _require_metric("EarlyStopping", self.monitor, logs)
        self._reset()

    def on_epoch_end(self, epoch: int, logs: Optional[dict[str, float]] = None) -> bool:
        """Keras's step after each epoch.

        Parameters
        ----------
        epoch : int
            The epoch, 0-based within the fit call.
        logs : dict of str to float, optional
            The epoch's figures.

        Returns
        -------
        bool
            True when patience has run out.

        Warns
        -----
        RuntimeWarning
            When `monitor` is missing from logs (the epoch is then ignored).
        """
        current = _value("EarlyStopping", self.monitor, logs)
        if current is None or epoch < self.start_from_epoch:
            return False
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.params.copy()
            self.best_epoch = epoch
        self.wait += 1
        if _is_improvement(current, self.best, self._direction, self.min_delta):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.params.copy()
            if self.baseline is None or _is_improvement(current, self.baseline,
                                                        self._direction, self.min_delta):
                self.wait = 0
            return False
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self, logs: Optional[dict[str, float]] = None) -> None:
        """Writes the best epoch's parameters back when restore_best_weights.

        Parameters
        ----------
        logs : dict of str to float, optional
            The last epoch's logs (unused).
        """
        if self.restore_best_weights and self.best_weights is not None:
            self.model.params = self.best_weights

    def __repr__(self):
        return (f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
                f"min_delta={self.min_delta}, restore_best_weights={self.restore_best_weights}, "
                f"mode={self.mode!r}, baseline={self.baseline}, "
                f"start_from_epoch={self.start_from_epoch})")


# ---- ModelCheckpoint ----------------------------------------------------------------------
def _check_path(path: PathLike) -> str:
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__} "
                        f"{path!r}") from None
    path = os.fsdecode(path)
    if not path:
        raise ValueError("path: expected a file name (it may hold fields such as {epoch:03d} "
                         "or {val_loss:.4f}), got ''")
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(path) if f is not None]
    except ValueError as exc:
        raise ValueError(f"path: {path!r} is not a valid format string ({exc}); write a "
                         f"literal brace as {{{{ or }}}}") from None
    if any(f == "" or f[0].isdigit() for f in fields):
        raise ValueError(f"path: {path!r} holds a positional field ({{}}); name it, e.g. "
                         f"{{epoch}} or {{val_loss:.4f}}")
    return path


class ModelCheckpoint(Callback):
    """Save the network after each epoch, `net.save(path.format(epoch=epoch + 1, **logs))`
    (Keras's file names: `path` may hold fields such as "{epoch:03d}" (1-based) or
    "{val_loss:.4f}"; a path without fields is overwritten each time). A missing directory
    is created, as Keras does. `net.save` is atomic: a crash leaves the previous file whole.

    save_best_only: save only when `monitor` improves on the best value seen (Keras's rule:
    strictly lower in mode "min", higher in "max", "auto" is "max" for names containing
    "acc"; no min_delta; the first epoch always saves). As in Keras, the best value carries
    over from one fit to the next, so a later fit overwrites only with a better model.

    Checked when fit starts, before any training: `monitor` among the logged names (when
    save_best_only) and every field of `path` among them or "epoch".

    Parameters
    ----------
    path : str or os.PathLike
        The file name, a format string whose fields are named (``{epoch}``, ``{loss}``...).
    monitor : str, default "val_loss"
        The logged quantity that save_best_only watches.
    save_best_only : bool, default False
        Save only when `monitor` improves.
    mode : {"auto", "min", "max"}, default "auto"
        Whether lower or higher is better.

    Attributes
    ----------
    best : float or None
        The best value saved so far (with save_best_only), kept across fits.

    Raises
    ------
    TypeError
        When path is not a str or os.PathLike, or another argument not of its type.
    ValueError
        When path is empty, not a valid format string or holds a positional field, or
        mode is unknown.
    """

    best: Optional[float]

    def __init__(self, path: PathLike, monitor: str = "val_loss", save_best_only: bool = False,
                 mode: str = "auto") -> None:
        self.path = _check_path(path)
        self.monitor = _check_monitor(monitor)
        self.save_best_only = _as_bool(save_best_only, "save_best_only")
        self.mode = _check_mode(mode)
        self._direction = _direction(self.monitor, self.mode)
        self.best = None

    def on_train_begin(self, logs: Optional[dict[str, Any]] = None) -> None:
        """Checks `monitor` and the fields of `path` against the names fit will log.

        Parameters
        ----------
        logs : dict, optional
            ``{"metrics": [names]}``, from fit.

        Raises
        ------
        ValueError
            When `monitor` (with save_best_only) or a field of `path` is not logged, or
            `path` cannot be formatted with the logged values.
        """
        if self.save_best_only:
            _require_metric("ModelCheckpoint", self.monitor, logs)
        metrics = (logs or {}).get("metrics")
        if metrics is not None:
            trial = {name: 0.0 for name in metrics}
            trial["epoch"] = 1
            try:
                self.path.format(**trial)
            except KeyError as exc:
                raise ValueError(f"path: {self.path!r} names the field {exc.args[0]!r}, which "
                                 f"this fit does not log; available: "
                                 f"{', '.join(map(repr, trial))}") from None
            except (ValueError, TypeError, IndexError, AttributeError) as exc:
                raise ValueError(f"path: {self.path!r} cannot be formatted with the logged "
                                 f"values ({exc}); the values are floats and epoch an "
                                 f"int") from None

    def on_epoch_end(self, epoch: int, logs: Optional[dict[str, float]] = None) -> bool:
        """Saves the network (with save_best_only, when `monitor` improved).

        Parameters
        ----------
        epoch : int
            The epoch, 0-based (``{epoch}`` in path is 1-based, as Keras's).
        logs : dict of str to float, optional
            The epoch's figures, the fields of path.

        Returns
        -------
        bool
            False: a checkpoint never stops training.

        Raises
        ------
        OSError
            When the file cannot be written.
        """
        logs = dict(logs or {})
        path = self.path.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = _value("ModelCheckpoint", self.monitor, logs)
            if current is not None:     # Keras saves when the value is missing
                if not _is_improvement(current, self.best, self._direction, 0.0):
                    return False
                self.best = current
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        self.model.save(path)
        return False

    def __repr__(self):
        return (f"ModelCheckpoint({self.path!r}, monitor={self.monitor!r}, "
                f"save_best_only={self.save_best_only}, mode={self.mode!r})")
