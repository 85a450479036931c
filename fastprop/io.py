"""save and load: a network as an .npz of plain arrays (never pickled, never executed).
`save` writes a temporary file beside the target, then renames it over: a crash leaves either
the old file or the new one, never half of one."""
import os
import tempfile
import zipfile

import numpy as np

from fastprop.network import Dense, Network

__all__ = ["save", "load"]

FORMAT = "fastprop-network"
VERSION = 1


def save(net, path):
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastprop-", suffix=".npz.tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, format=np.array(FORMAT), version=np.array(VERSION),
                     sizes=net._sizes, activations=np.array([l.activation for l in net.layers]),
                     loss=np.array(net.loss_name), dtype=np.array(net.dtype.name),
                     params=net.params)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path):
    """A Network from a file written by `save`; ValueError for anything else."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            fields = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"path: {path!r} is not a readable fastprop network file ({exc})") from None
    try:
        if str(fields["format"]) != FORMAT:
            raise ValueError(f"format {str(fields['format'])!r}")
        if int(fields["version"]) != VERSION:
            raise ValueError(f"version {int(fields['version'])}, expected {VERSION}")
        sizes = [int(s) for s in fields["sizes"]]
        acts = [str(a) for a in fields["activations"]]
        if len(sizes) != len(acts) + 1:
            raise ValueError("sizes and activations do not match")
        layers = [Dense(sizes[i], sizes[i + 1], acts[i]) for i in range(len(acts))]
        net = Network(layers, loss=str(fields["loss"]), dtype=str(fields["dtype"]), seed=0)
        params = fields["params"]
        if params.shape != net.params.shape or params.dtype != net.dtype:
            raise ValueError(f"params of shape {params.shape} and dtype {params.dtype}, "
                             f"expected {net.params.shape} {net.dtype}")
        net.params[...] = params
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"path: {path!r} is not a valid fastprop network file: {exc}") from None
    return net
