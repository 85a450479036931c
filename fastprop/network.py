"""`Network` and `mlp`: a `Model` (fastprop._model: layers, parameters, predict, loss,
backprop) with its training (`fit`, fastprop.training) and files (`save`, `load`,
fastprop.io). This module sits above those; none of them imports it."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from fastprop import io as _io
from fastprop import training as _training
from fastprop._model import Dense, Dropout, Model
from fastprop._validation import as_int, check_finite
from fastprop.activations import get_activation
from fastprop._typing import ArrayLike, CallbackLike, DTypeLike, PathLike, Seed

if TYPE_CHECKING:
    from fastprop.optim import Optimizer
    from fastprop.schedules import Schedule
    from fastprop.training import History

__all__ = ["Network", "mlp", "load"]


class Network(Model):
    __doc__ = Model.__doc__

    def fit(self, X: ArrayLike, y: ArrayLike, epochs: int = 5, batch_size: int = 1,
            optimizer: Optimizer | None = None, shuffle: bool = True, seed: Seed = None,
            validation_data: tuple[ArrayLike, ArrayLike] | None = None,
            progress: bool = False, *, validation_split: float | None = None,
            metrics: Sequence[str] | None = None,
            callbacks: Sequence[CallbackLike] | None = None,
            schedule: Schedule | None = None, clip_norm: float | None = None,
            clip_value: float | None = None,
            sample_weight: ArrayLike | None = None) -> History:
        """Train by mini-batch backpropagation.

        Without callbacks, progress or a loss-watching schedule, all the epochs run in
        compiled code, Python entered only every quarter second or so (so that Ctrl-C
        still stops it, between two epochs).

        Parameters
        ----------
        X : array_like, shape (n, n_in)
            Samples in rows.
        y : array_like, shape (n, n_out) or (n,)
            Targets, as for `loss` (integer labels for ``"cross_entropy"``).
        epochs : int, default 5
            Passes over the samples (0 is allowed: nothing trains).
        batch_size : int, default 1
            Samples a step: 1 is the per-sample SGD loop of the classic tutorial, larger is
            mini-batch, larger than n is full batch. The last partial batch is used.
        optimizer : Optimizer, optional
            A fastprop optimizer (default ``SGD(lr=0.1)``). It keeps its state (momentum,
            step count) across fits and belongs to this network.
        shuffle : bool, default True
            Reshuffle the samples each epoch.
        seed : int, numpy.random.Generator or None, default None
            None continues the network's own shuffling stream (started from the network's
            seed), so that k calls of ``fit(epochs=1)`` give the same bits as one
            ``fit(epochs=k)``; an int or a Generator restarts the stream from it.
        validation_data : (X_val, y_val), optional
            Data whose loss (`History.val_loss`) is computed after each epoch.
        progress : bool, default False
            Show the epochs as they go: a tqdm bar on a terminal when tqdm is installed,
            else a line rewritten in place; in a log, plain lines.
        validation_split : float, optional
            Instead of validation_data, hold out this last fraction of X, y (before
            shuffling, as Keras), in (0, 1).
        metrics : list of str, optional
            ``["accuracy"]`` adds `History.accuracy` (and `val_accuracy`): the argmax of a
            softmax output, or a sigmoid output thresholded at 0.5.
        callbacks : list of Callback, optional
            Objects with ``on_epoch_end(epoch, logs) -> bool`` (True stops), and optionally
            ``set_model(net)``, ``on_train_begin(logs)``, ``on_train_end(logs)``:
            `EarlyStopping`, `ModelCheckpoint` or your own (see `fastprop.callbacks`).
        schedule : Schedule, optional
            A `fastprop.schedules` learning-rate schedule; the rates used are `History.lr`.
        clip_norm : float, optional
            Scale each step's gradient to this L2 norm at most
            (``torch.nn.utils.clip_grad_norm_``).
        clip_value : float, optional
            Then clamp each entry to [-clip_value, clip_value] (``clip_grad_value_``).
        sample_weight : array_like, shape (n,), optional
            One weight >= 0 a sample; each batch's loss is the weighted mean
            (scikit-learn's MLP).

        Returns
        -------
        History
            The loss of each epoch and what else was recorded.

        Raises
        ------
        TypeError, ValueError
            For a bad argument, named in the message; a refused call changes nothing (the
            caller's arrays are never modified either).
        TrainingDivergedError
            When the loss or gradient becomes non-finite; the parameters keep their last
            finite values and the error carries the History so far.
        """
        return _training.fit(self, X, y, epochs, batch_size, optimizer, shuffle, seed,
                             validation_data, progress,
                             validation_split=validation_split, metrics=metrics,
                             callbacks=callbacks, schedule=schedule, clip_norm=clip_norm,
                             clip_value=clip_value, sample_weight=sample_weight)

    def save(self, path: PathLike) -> None:
        """Write the network to a file, atomically; see `fastprop.save`.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (an .npz of plain arrays, never pickled).

        Raises
        ------
        TypeError
            When path is not a str or os.PathLike.
        OSError
            When the file cannot be written (its directory missing, a directory of that
            name, no permission); a previous file is then left whole.
        """
        _io.save(self, path)


def load(path: PathLike) -> Network:
    """Read a network written by `save`.

    The file is read as plain arrays: nothing in it is ever executed (no pickle).

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    Network
        A network of the saved layers, loss, dtype and parameters.

    Raises
    ------
    TypeError
        When path is not a str or os.PathLike.
    ValueError
        When the file cannot be read (missing included), or is truncated, corrupt or not
        a fastprop network; the message names the path and what is wrong.
    """
    path, fields = _io.read_network_file(path)
    try:
        sizes, acts, params = fields["sizes"], fields["activations"], fields["params"]
        layers = []
        for i in range(len(acts)):
            layers.append(Dense(int(sizes[i]), int(sizes[i + 1]), acts[i],
                                bias=fields["bias"][i]))
            if fields["dropout"][i] > 0:
                layers.append(Dropout(fields["dropout"][i]))
        net = Network(layers, loss=str(fields["loss"]), dtype=str(fields["dtype"]), seed=0)
        if params.dtype != net.dtype:
            raise ValueError(f"params of dtype {params.dtype}, expected {net.dtype}")
        check_finite(params, "params")
        net.params[...] = params
    except (KeyError, ValueError, TypeError) as exc:
        raise _io.not_a_network_file(path, exc) from None
    return net


def mlp(sizes: Sequence[int] | np.ndarray[Any, Any], hidden: str = "relu",
        output: str = "identity", loss: str = "mse", dtype: DTypeLike = "float64",
        seed: Seed = 0, init: Optional[str] = None, bias: bool = True) -> Network:
    """A Network of Dense layers of the given widths.

    ``mlp([784, 256, 10], output="softmax", loss="cross_entropy")`` is
    ``Network([Dense(784, 256, "relu"), Dense(256, 10, "softmax")], loss="cross_entropy")``.

    Parameters
    ----------
    sizes : sequence of int
        Widths ``[n_in, h1, ..., n_out]``, at least two, each at least 1.
    hidden : str, default "relu"
        Activation of every hidden layer (one of `fastprop.ACTIVATIONS`, not softmax).
    output : str, default "identity"
        Activation of the last layer.
    loss : str, default "mse"
        As for `Network`.
    dtype : str or numpy dtype, default "float64"
        ``"float32"`` or ``"float64"``.
    seed : int, numpy.random.Generator or None, default 0
        As for `Network`.
    init : str, optional
        The weight initialisation of every layer (see `Dense`).
    bias : bool, default True
        Whether every layer has a bias (see `Dense`).

    Returns
    -------
    Network

    Raises
    ------
    TypeError, ValueError
        For bad sizes or any error `Network` or `Dense` raises.
    """
    if not isinstance(sizes, (list, tuple, np.ndarray)) or len(sizes) < 2:
        raise ValueError(f"sizes: expected a list of at least 2 layer widths [n_in, ..., n_out], "
                         f"got {sizes!r}")
    widths = [as_int(s, f"sizes[{i}]", minimum=1) for i, s in enumerate(sizes)]
    get_activation(hidden, "hidden")
    get_activation(output, "output")
    layers = [Dense(widths[i], widths[i + 1], hidden if i < len(widths) - 2 else output,
                    bias=bias, init=init) for i in range(len(widths) - 1)]
    return Network(layers, loss=loss, dtype=dtype, seed=seed)
