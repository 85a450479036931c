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
        os.chmod(tmp, 0o666 & ~_umask())      # mkstemp makes 0600; give what open() would
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load(path):
    """A Network from a file written by `save`; ValueError for anything else."""
    path = os.fspath(path)
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise ValueError(f"path: {path!r} is not a readable fastprop network file ({exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"path: {path!r} is not a fastprop network file (expected an .npz "
                         f"archive, got a single {type(data).__name__})")
    try:
        with data:
            fields = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise ValueError(f"path: {path!r} is not a readable fastprop network file ({exc})") from None
    try:
        if str(fields["format"]) != FORMAT:
            raise ValueError(f"format {str(fields['format'])!r}")
        if int(fields["version"]) != VERSION:
            raise ValueError(f"version {int(fields['version'])}, expected {VERSION}")
        sizes, params = fields["sizes"], fields["params"]
        if sizes.ndim != 1 or sizes.dtype.kind not in "iu" or sizes.size < 2 or sizes.min() < 1:
            raise ValueError(f"sizes {sizes!r}: expected at least 2 positive integer widths")
        acts = [str(a) for a in fields["activations"]]
        if len(acts) != sizes.size - 1:
            raise ValueError(f"{len(acts)} activations for {sizes.size - 1} layers")
        # Checked before building anything, so a corrupt header cannot make us allocate.
        n_params = sum((int(a) + 1) * int(b) for a, b in zip(sizes[:-1], sizes[1:]))
        if params.ndim != 1 or params.size != n_params:
            raise ValueError(f"params of shape {params.shape}, expected ({n_params},) for "
                             f"sizes {sizes.tolist()}")
        layers = [Dense(int(sizes[i]), int(sizes[i + 1]), acts[i]) for i in range(len(acts))]
        net = Network(layers, loss=str(fields["loss"]), dtype=str(fields["dtype"]), seed=0)
        if params.dtype != net.dtype:
            raise ValueError(f"params of dtype {params.dtype}, expected {net.dtype}")
        net.params[...] = params
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"path: {path!r} is not a valid fastprop network file: {exc}") from None
    return net
