"""`Network` and `mlp`: a `Model` (fastprop._model: layers, parameters, predict, loss,
backprop) with its training (`fit`, fastprop.training) and files (`save`, `load`,
fastprop.io). This module sits above those; none of them imports it."""
import numpy as np

from fastprop import io as _io
from fastprop import training as _training
from fastprop._model import Dense, Model
from fastprop._validation import as_int, check_finite
from fastprop.activations import get_activation

__all__ = ["Network", "mlp", "load"]


class Network(Model):
    __doc__ = Model.__doc__

    def fit(self, X, y, epochs=5, batch_size=1, optimizer=None, shuffle=True, seed=0,
            validation_data=None, progress=False):
        """Train by mini-batch backpropagation: `epochs` epochs over (X, y) in mini-batches
        of `batch_size` samples (the last partial batch included), with `optimizer`
        (default SGD(lr=0.1)), shuffled each epoch from `seed` when `shuffle`; the loss on
        `validation_data` = (X_val, y_val) after each epoch; `progress` prints a line an
        epoch. The caller's arrays are never modified. Returns a History (loss, val_loss);
        raises TrainingDivergedError, with the last finite parameters kept, when the loss or
        gradient becomes non-finite. See fastprop.training.fit."""
        return _training.fit(self, X, y, epochs=epochs, batch_size=batch_size,
                             optimizer=optimizer, shuffle=shuffle, seed=seed,
                             validation_data=validation_data, progress=progress)

    def save(self, path):
        """Write the network to `path` (.npz, no pickle), atomically."""
        _io.save(self, path)


def load(path):
    """A Network from a file written by `save`; ValueError for anything else."""
    path, fields = _io.read_network_file(path)
    try:
        sizes, acts, params = fields["sizes"], fields["activations"], fields["params"]
        layers = [Dense(int(sizes[i]), int(sizes[i + 1]), acts[i]) for i in range(len(acts))]
        net = Network(layers, loss=str(fields["loss"]), dtype=str(fields["dtype"]), seed=0)
        if params.dtype != net.dtype:
            raise ValueError(f"params of dtype {params.dtype}, expected {net.dtype}")
        check_finite(params, "params")
        net.params[...] = params
    except (KeyError, ValueError, TypeError) as exc:
        raise _io.not_a_network_file(path, exc) from None
    return net


def mlp(sizes, hidden="relu", output="identity", loss="mse", dtype="float64", seed=0):
    """A Network of Dense layers of widths sizes = [n_in, h1, ..., n_out]."""
    if not isinstance(sizes, (list, tuple, np.ndarray)) or len(sizes) < 2:
        raise ValueError(f"sizes: expected a list of at least 2 layer widths [n_in, ..., n_out], "
                         f"got {sizes!r}")
    widths = [as_int(s, f"sizes[{i}]", minimum=1) for i, s in enumerate(sizes)]
    get_activation(hidden, "hidden")
    get_activation(output, "output")
    layers = [Dense(widths[i], widths[i + 1], hidden if i < len(widths) - 2 else output)
              for i in range(len(widths) - 1)]
    return Network(layers, loss=loss, dtype=dtype, seed=seed)
