"""`Network` and `mlp`: a `Model` (fastprop._model: layers, parameters, predict, loss,
backprop) with its training (`fit`, fastprop.training) and files (`save`, `load`,
fastprop.io). This module sits above those; none of them imports it."""
import numpy as np

from fastprop import io as _io
from fastprop import training as _training
from fastprop._model import Dense, Dropout, Model
from fastprop._validation import as_int, check_finite
from fastprop.activations import get_activation

__all__ = ["Network", "mlp", "load"]


class Network(Model):
    __doc__ = Model.__doc__

    def fit(self, X, y, epochs=5, batch_size=1, optimizer=None, shuffle=True, seed=None,
            validation_data=None, progress=False, *, validation_split=None, metrics=None,
            callbacks=None, schedule=None, clip_norm=None, clip_value=None,
            sample_weight=None):
        """Train by mini-batch backpropagation; returns a History.

        X, y: the samples and their targets (as for `loss`). epochs: passes over them.
        batch_size: samples a step (1: per-sample SGD; the last partial batch is used).
        optimizer: a fastprop optimizer (default SGD(lr=0.1)); it keeps its state across fits.
        shuffle: reshuffle the samples each epoch. seed: None (default) continues the
        network's own shuffling stream, started from the network's seed at construction, so
        that k calls of fit(epochs=1) give the same bits as one fit(epochs=k); an int or a
        Generator restarts the stream from it (later seed=None calls continue from there).
        validation_data: (X_val, y_val), whose loss is computed after each epoch;
        validation_split: or hold out this last fraction of X, y (before shuffling, as Keras).
        metrics: ["accuracy"] adds accuracy / val_accuracy (argmax of a softmax output;
        threshold 0.5 for sigmoid outputs, the fraction of labels right for several).
        callbacks: objects with on_epoch_end(epoch, logs) -> bool (True stops), and optionally
        set_model(net), on_train_begin(logs), on_train_end(logs): fastprop.EarlyStopping,
        fastprop.ModelCheckpoint or your own. schedule: a fastprop.schedules learning-rate
        schedule (the rates used are History.lr). clip_norm: scale each step's gradient to
        this L2 norm at most (torch.nn.utils.clip_grad_norm_); clip_value: then clamp each
        entry to [-clip_value, clip_value] (clip_grad_value_). sample_weight: one weight >= 0
        a sample; each batch's loss is the weighted mean (scikit-learn's MLP). progress: show
        a progress bar (tqdm, when installed) or line.

        The caller's arrays are never modified; a refused call changes nothing. Raises
        TrainingDivergedError, with the last finite parameters kept, when the loss or gradient
        becomes non-finite. Without callbacks, progress or a loss-watching schedule, all the
        epochs run in compiled code, Python entered only every quarter second or so."""
        return _training.fit(self, X, y, epochs=epochs, batch_size=batch_size,
                             optimizer=optimizer, shuffle=shuffle, seed=seed,
                             validation_data=validation_data, progress=progress,
                             validation_split=validation_split, metrics=metrics,
                             callbacks=callbacks, schedule=schedule, clip_norm=clip_norm,
                             clip_value=clip_value, sample_weight=sample_weight)

    def save(self, path):
        """Write the network to `path` (.npz, no pickle), atomically."""
        _io.save(self, path)


def load(path):
    """A Network from a file written by `save`; ValueError for anything else."""
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


def mlp(sizes, hidden="relu", output="identity", loss="mse", dtype="float64", seed=0,
        init=None, bias=True):
    """A Network of Dense layers of widths sizes = [n_in, h1, ..., n_out]: `hidden`
    activations, `output` on the last; `init` and `bias` are given to every layer (see
    Dense)."""
    if not isinstance(sizes, (list, tuple, np.ndarray)) or len(sizes) < 2:
        raise ValueError(f"sizes: expected a list of at least 2 layer widths [n_in, ..., n_out], "
                         f"got {sizes!r}")
    widths = [as_int(s, f"sizes[{i}]", minimum=1) for i, s in enumerate(sizes)]
    get_activation(hidden, "hidden")
    get_activation(output, "output")
    layers = [Dense(widths[i], widths[i + 1], hidden if i < len(widths) - 2 else output,
                    bias=bias, init=init) for i in range(len(widths) - 1)]
    return Network(layers, loss=loss, dtype=dtype, seed=seed)
