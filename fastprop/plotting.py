"""`plot_history`: the curves of a fit's History as a matplotlib figure (History.plot calls
it). matplotlib is an optional extra (`pip install fastprop[plot]`), imported only here and
only when a plot is asked for."""
from __future__ import annotations

import numbers
from typing import Any

__all__ = ["plot_history"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plot_history needs matplotlib, an optional extra of fastprop: "
                          "pip install fastprop[plot]") from exc
    return plt


def _series(history, name):
    """history.<name> as a list of floats ([] when absent or None)."""
    values = getattr(history, name, None)
    if values is None:
        return []
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError(f"history: expected history.{name} to be a list of numbers, got "
                        f"{type(values).__name__}") from None


def _epochs(values):
    return list(range(1, len(values) + 1))


def _lr_epochs(lr, epochs):
    """The x of each lr: its epoch (1-based), or with a per-step schedule (k rates an epoch)
    the fraction of the epoch done after the step, so that an epoch's last step sits at it."""
    if epochs and len(lr) > epochs and len(lr) % epochs == 0:
        steps = len(lr) // epochs
        return [(i + 1) / steps for i in range(len(lr))]
    return _epochs(lr)


def _best_epoch(history):
    """EarlyStopping's best epoch (0-based), or None: History.best_epoch is None without it."""
    best = getattr(history, "best_epoch", None)
    if isinstance(best, numbers.Integral) and not isinstance(best, bool):
        return int(best)
    return None


def plot_history(history: Any, ax: Any = None) -> Any:
    """A matplotlib Figure of a fit's History, against the epoch (1-based).

    The loss (and val_loss); when recorded, accuracy (and val_accuracy) on a second axes;
    the learning rate on a log axes when it varies (a per-step schedule's at fractions of an
    epoch); a dotted line at EarlyStopping's best epoch.

    Parameters
    ----------
    history : History
        What `fit` returned.
    ax : matplotlib.axes.Axes, optional
        None draws a new figure with one row per panel (loss, accuracy, lr) sharing the
        epoch axis. Given an Axes, the loss goes on it and accuracy and lr on twin axes to
        its right.

    Returns
    -------
    matplotlib.figure.Figure
        The new figure, or ax's.

    Raises
    ------
    TypeError
        When history has no loss list or ax is not an Axes.
    ImportError
        When matplotlib is not installed (it names the ``plot`` extra).
    """
    if not hasattr(history, "loss"):
        raise TypeError(f"history: expected a History (from fit) with a loss list, got "
                        f"{type(history).__name__}")
    series = {name: _series(history, name)
              for name in ("loss", "val_loss", "accuracy", "val_accuracy", "lr")}
    if ax is not None and not (hasattr(ax, "plot") and hasattr(ax, "twinx")):
        raise TypeError(f"ax: expected None or a matplotlib Axes, got {type(ax).__name__}")
    plt = _pyplot()

    has_accuracy = bool(series["accuracy"] or series["val_accuracy"])
    lr_varies = len(set(series["lr"])) > 1
    if ax is None:
        rows = 1 + has_accuracy + lr_varies
        fig, axes = plt.subplots(rows, 1, sharex=True, squeeze=False, constrained_layout=True,
                                 figsize=(6.4, 1.2 + 2.2 * rows))
        axes = list(axes[:, 0])
        loss_ax = axes.pop(0)
        acc_ax = axes.pop(0) if has_accuracy else None
        lr_ax = axes.pop(0) if lr_varies else None
        (lr_ax or acc_ax or loss_ax).set_xlabel("epoch")
    else:
        fig, loss_ax = ax.figure, ax
        loss_ax.set_xlabel("epoch")
        acc_ax = loss_ax.twinx() if has_accuracy else None
        lr_ax = loss_ax.twinx() if lr_varies else None
        if lr_ax is not None and acc_ax is not None:     # matplotlib's recipe for a 3rd axis
            lr_ax.spines["right"].set_position(("axes", 1.15))

    for name, style in (("loss", "-"), ("val_loss", "--")):
        if series[name]:
            loss_ax.plot(_epochs(series[name]), series[name], style, label=name)
    loss_ax.set_ylabel("loss")
    best = _best_epoch(history)
    if best is not None:
        loss_ax.axvline(best + 1, color="0.5", linestyle=":", label=f"best epoch {best + 1}")
    if acc_ax is not None:
        for name, style in (("accuracy", "-"), ("val_accuracy", "--")):
            if series[name]:
                acc_ax.plot(_epochs(series[name]), series[name], style, label=name,
                            color="C2" if name == "accuracy" else "C3")
        acc_ax.set_ylabel("accuracy")
    if lr_ax is not None:
        lr_ax.plot(_lr_epochs(series["lr"], len(series["loss"])), series["lr"], "-", label="lr",
                   color="C4")
        if min(series["lr"]) > 0:
            lr_ax.set_yscale("log")
        lr_ax.set_ylabel("learning rate")
    panels = [a for a in (loss_ax, acc_ax, lr_ax) if a is not None]
    if ax is None:
        for axes_ in panels:
            if axes_.get_lines():
                axes_.legend(loc="best")
    elif loss_ax.get_lines() or len(panels) > 1:
        # One legend for ax and its twins: theirs would hide each other
        handles, labels = [], []
        for axes_ in panels:
            h, l = axes_.get_legend_handles_labels()
            handles += h
            labels += l
        loss_ax.legend(handles, labels, loc="best")
        # ax above its twins, its background cleared: the legend is not drawn over
        loss_ax.set_zorder(max(a.get_zorder() for a in panels) + 1)
        loss_ax.patch.set_visible(False)
    return fig
