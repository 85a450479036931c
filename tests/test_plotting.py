"""plot_history (fastprop.plotting): the figure's lines hold the History's numbers against
the epoch (1-based), one panel each for loss, accuracy and a varying lr (log scale); on a
given Axes, twins instead; ImportError naming the `plot` extra without matplotlib. History
is a stand-in with the same attributes (SimpleNamespace)."""
import sys
from types import SimpleNamespace

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fastprop.plotting import plot_history  # noqa: E402


def history(**fields):
    # fastprop.History's fields and their values without early stopping
    base = dict(loss=[], val_loss=[], accuracy=[], val_accuracy=[], lr=[], best_epoch=None,
                stopped_epoch=None)
    base.update(fields)
    return SimpleNamespace(**base)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def lines_by_label(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def assert_line(line, values):
    assert np.array_equal(line.get_xdata(), np.arange(1, len(values) + 1))
    assert np.array_equal(line.get_ydata(), np.asarray(values, dtype=float))


def test_loss_and_val_loss_against_the_epoch():
    h = history(loss=[1.0, 0.5, 0.25], val_loss=[1.5, 0.75, 0.5])
    fig = plot_history(h)
    assert isinstance(fig, matplotlib.figure.Figure)
    (ax,) = fig.axes
    lines = lines_by_label(ax)
    assert set(lines) == {"loss", "val_loss"}
    assert_line(lines["loss"], h.loss)
    assert_line(lines["val_loss"], h.val_loss)
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    assert ax.get_legend() is not None


def test_loss_alone_without_validation():
    fig = plot_history(history(loss=[3.0, 2.0]))
    (ax,) = fig.axes
    assert list(lines_by_label(ax)) == ["loss"]


def test_accuracy_on_a_second_axes():
    h = history(loss=[1.0, 0.5], val_loss=[1.0, 0.75], accuracy=[0.5, 0.75],
                val_accuracy=[0.25, 0.5])
    fig = plot_history(h)
    loss_ax, acc_ax = fig.axes
    assert set(lines_by_label(loss_ax)) == {"loss", "val_loss"}
    lines = lines_by_label(acc_ax)
    assert set(lines) == {"accuracy", "val_accuracy"}
    assert_line(lines["accuracy"], h.accuracy)
    assert_line(lines["val_accuracy"], h.val_accuracy)
    assert acc_ax.get_xlabel() == "epoch" and loss_ax.get_xlabel() == ""


def test_varying_lr_on_a_log_axes_constant_lr_not_drawn():
    h = history(loss=[1.0, 0.5, 0.25], lr=[0.1, 0.01, 0.001])
    fig = plot_history(h)
    loss_ax, lr_ax = fig.axes
    assert lr_ax.get_yscale() == "log"
    assert_line(lines_by_label(lr_ax)["lr"], h.lr)
    assert len(plot_history(history(loss=[1.0, 0.5], lr=[0.1, 0.1])).axes) == 1
    # all three: loss, accuracy, lr
    full = history(loss=[1.0, 0.5], accuracy=[0.5, 0.6], lr=[0.2, 0.1])
    assert [a.get_ylabel() for a in plot_history(full).axes] == ["loss", "accuracy",
                                                                 "learning rate"]


def test_per_step_lr_at_fractions_of_an_epoch():
    # 2 epochs of 4 steps: step j of epoch e at e - 1 + (j + 1) / 4
    lr = [0.8, 0.4, 0.2, 0.1, 0.05, 0.025, 0.0125, 0.00625]
    fig = plot_history(history(loss=[1.0, 0.5], lr=lr))
    line = lines_by_label(fig.axes[1])["lr"]
    assert np.array_equal(line.get_xdata(), [0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2])
    assert np.array_equal(line.get_ydata(), lr)


def test_lr_reaching_zero_stays_linear():
    fig = plot_history(history(loss=[1.0, 0.5], lr=[0.1, 0.0]))
    assert fig.axes[1].get_yscale() == "linear"


def test_best_epoch_marked_after_early_stopping():
    h = history(loss=[1.0, 0.5, 0.6, 0.7], val_loss=[1.0, 0.4, 0.5, 0.6], best_epoch=1,
                stopped_epoch=3)
    (ax,) = plot_history(h).axes
    marker = lines_by_label(ax)["best epoch 2"]
    assert list(marker.get_xdata()) == [2, 2]
    # the best epoch may be the first, and training may have run to the end
    (ax,) = plot_history(history(loss=[1.0, 2.0], best_epoch=0, stopped_epoch=None)).axes
    assert list(lines_by_label(ax)["best epoch 1"].get_xdata()) == [1, 1]
    # a History without early stopping (best_epoch None) gets no marker
    (ax,) = plot_history(history(loss=[1.0, 0.5])).axes
    assert set(lines_by_label(ax)) == {"loss"}


def test_on_a_given_axes_twins_and_its_figure():
    fig, ax = plt.subplots()
    h = history(loss=[1.0, 0.5], val_loss=[1.2, 0.6], accuracy=[0.5, 0.9], lr=[0.1, 0.05])
    assert plot_history(h, ax=ax) is fig
    assert len(fig.axes) == 3            # ax, accuracy's twin, lr's twin
    assert set(lines_by_label(ax)) == {"loss", "val_loss"}
    assert_line(lines_by_label(fig.axes[1])["accuracy"], h.accuracy)
    assert fig.axes[2].get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["loss", "val_loss", "accuracy", "lr"]


def test_history_with_numpy_values_and_missing_fields():
    # a History from before the new fields: only loss and val_loss
    h = SimpleNamespace(loss=np.array([2.0, 1.0]), val_loss=[])
    (ax,) = plot_history(h).axes
    assert_line(lines_by_label(ax)["loss"], [2.0, 1.0])


def test_bad_arguments_named():
    with pytest.raises(TypeError, match="history"):
        plot_history([1.0, 2.0])
    with pytest.raises(TypeError, match="history.*val_loss"):
        plot_history(history(loss=[1.0], val_loss=["a"]))
    with pytest.raises(TypeError, match="ax"):
        plot_history(history(loss=[1.0]), ax="left")


def test_without_matplotlib_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install fastprop\[plot\]"):
        plot_history(history(loss=[1.0]))
