"""save and load: a network as an .npz of plain arrays (never pickled, never executed).
`save` writes a temporary file beside the target, then renames it over: a crash leaves either
the old file or the new one, never half of one. A process killed while saving (kill -9, a
power cut of the process) leaves its temporary file behind; the next `save` to the same path
removes it (see _remove_stale), so such files never accumulate."""
from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import stat
import threading
import time
import zipfile
import zlib
from typing import Any

try:
    import fcntl
except ImportError:          # Windows: no advisory locks; stale files are found by age
    fcntl = None

import numpy as np

from fastprop._model import MAX_ELEMENTS, Model, check_network
from fastprop._typing import PathLike

__all__ = ["save", "read_network_file"]

FORMAT = "fastprop-network"
VERSION = 1


def _path(path: Any) -> str:
    try:
        return os.fsdecode(os.fspath(path))
    except TypeError:
        raise TypeError(f"path: expected a str or os.PathLike, got {type(path).__name__} "
                        f"{path!r}") from None


def save(net: Model, path: PathLike) -> None:
    """Write a network to a file, atomically.

    The file is an .npz of plain arrays (format, version, layer sizes, activations, loss,
    dtype, params), never pickled, which `load` reads back. It is written to a temporary
    file beside the target, then renamed over it: a crash leaves either the old file or
    the new one, never half of one.

    Parameters
    ----------
    net : Network
        The network (its parameters are copied under its lock: a `fit` running in another
        thread is never saved half-updated).
    path : str or os.PathLike
        The file to write; a symbolic link is written through, an existing file keeps its
        permissions.

    Raises
    ------
    TypeError
        When net is not a Network or path not a str or os.PathLike.
    FileNotFoundError, NotADirectoryError, IsADirectoryError
        When path's directory does not exist or is a file, or path is a directory.
    OSError
        When the file cannot be written; a previous file is then left whole.
    """
    check_network(net)
    path = _path(path)
    if os.path.islink(path):        # write where the link points, as open(path, "w") would
        path = os.path.realpath(path)
    directory = os.path.dirname(os.path.abspath(path))
    # Checked here so that the error names `path`, not the temporary file beside it.
    if not os.path.isdir(directory):
        if os.path.exists(directory):
            raise NotADirectoryError(f"path: {path!r} cannot be written: {directory!r} is a "
                                     f"file, not a directory")
        raise FileNotFoundError(f"path: {path!r} cannot be written: its directory "
                                f"{directory!r} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"path: {path!r} is a directory, expected a file name")
    with net._lock:     # a snapshot, not half of an update that fit writes in another thread
        params = net.params.copy()
    prefix = _tmp_prefix(os.path.basename(path))
    _remove_stale(directory, prefix)
    fd, tmp = _create_tmp(directory, prefix)
    try:
        with os.fdopen(fd, "wb") as f:    # closed (and its lock released) after the rename
            np.savez(f, format=np.array(FORMAT), version=np.array(VERSION),
                     sizes=net._sizes, activations=np.array([l.activation for l in net._dense]),
                     loss=np.array(net.loss_name), dtype=np.array(net.dtype.name),
                     params=params, **_optional_members(net))
            f.flush()
            # Created 0600: give what open() would, an existing file's mode or the umask's
            try:
                mode = stat.S_IMODE(os.stat(path).st_mode)
            except FileNotFoundError:
                mode = 0o666 & ~_umask()
            os.chmod(tmp, mode)
            os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.discard(tmp)


def _optional_members(net):
    """"bias" (one bool a Dense layer) when a layer has no bias, "dropout" (the rate after each
    Dense layer, float64) when the network has a Dropout: a network of neither is written as
    before they existed (older versions read it)."""
    out = {}
    flags = [l.bias for l in net._dense]
    if not all(flags):
        out["bias"] = np.array(flags, dtype=bool)
    rates = net._dropout_rates()
    if any(rates):
        out["dropout"] = np.array(rates, dtype=np.float64)
    return out


# ---- temporary files --------------------------------------------------------------------
# A temporary file is named after its target and its writer: `.{target}.fastprop-{pid}-{rand}
# .tmp` beside the target (rand: 8 hex digits, so that threads of one process never collide).
# Its writer holds an exclusive flock on it from creation to the rename. The kernel releases
# that lock when the writer dies, however it dies (kill -9 included), so a temporary file for
# this target whose lock can be taken is stale, whatever its pid now names: pid reuse cannot
# keep a stale file alive, nor make a live writer's file look stale. Each `save` removes the
# stale ones for its target before it writes, so after any number of kills at most one is
# left (the last killed writer's) until the next save. Files of this process's own saves
# still in flight are never touched (on file systems where flock is emulated by POSIX locks,
# NFS, another thread of the same process could otherwise take the lock). Without fcntl
# (Windows), a file is stale when it has not been written for STALE_AFTER seconds.
STALE_AFTER = 3600.0
_IN_FLIGHT: set[str] = set()
_IN_FLIGHT_LOCK = threading.Lock()
_TMP_SUFFIX = re.compile(r"\.fastprop-(\d+)-[0-9a-f]{8}\.tmp")


def _tmp_prefix(base):
    """The part of a temporary file's name that comes from its target's name: '.' + the name,
    or a digest of it when the name is too long to leave room for the rest (NAME_MAX 255)."""
    if len(os.fsencode(base)) > 200:
        base = "long-" + hashlib.sha256(os.fsencode(base)).hexdigest()[:32]
    return "." + base


def _create_tmp(directory, prefix):
    """(fd, name) of a new temporary file, 0600, locked by this process."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    while True:
        tmp = os.path.join(directory, f"{prefix}.fastprop-{os.getpid()}-"
                                      f"{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileExistsError:
            continue
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.add(tmp)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
                # Another save may have found the file between its creation and the lock
                # (then unlocked, so apparently stale) and removed it: start again.
                st = os.stat(tmp, follow_symlinks=False)
                held = os.fstat(fd)
                if (st.st_dev, st.st_ino) != (held.st_dev, held.st_ino):
                    raise FileNotFoundError(tmp)
        except FileNotFoundError:
            os.close(fd)
            with _IN_FLIGHT_LOCK:
                _IN_FLIGHT.discard(tmp)
            continue
        except BaseException:
            os.close(fd)
            with _IN_FLIGHT_LOCK:
                _IN_FLIGHT.discard(tmp)
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return fd, tmp


def _remove_stale(directory, prefix):
    """Removes the temporary files of earlier saves to this target whose writer is gone.
    Best effort: a file that cannot be examined or removed is left, and never fails the save."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not name.startswith(prefix) or not _TMP_SUFFIX.fullmatch(name, len(prefix)):
            continue
        tmp = os.path.join(directory, name)
        with _IN_FLIGHT_LOCK:
            if tmp in _IN_FLIGHT:
                continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if fcntl is None:
                if time.time() - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER:
                    os.unlink(tmp)
                continue
            fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
                         | getattr(os, "O_NOFOLLOW", 0))
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:             # held: its writer is alive and writing
                os.close(fd)
                continue
            try:
                os.unlink(tmp)          # while holding the lock: no writer can be inside
            finally:
                os.close(fd)
        except OSError:
            continue


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# What reading a damaged archive can raise, besides ValueError: zipfile's own errors, a bad
# deflate stream (zlib.error), an unsupported compression method (NotImplementedError), an
# encrypted member (RuntimeError), a short read (EOFError), and OSError from the file itself.
_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error,
                NotImplementedError, RuntimeError)
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")   # a local file header; an empty archive


# The members `save` writes. Every one but params is a few bytes to a few KiB (128 layers at
# most); params holds exactly the N values its sizes member implies. A member is refused
# before anything is decompressed when its compression is not one that `save` or numpy's
# savez_compressed writes (stored, deflated: zipfile's bz2 and lzma readers decompress a whole
# read request with no bound on the output), when the directory gives it more than its
# bound, or when its .npy header promises other data than it should hold; its data are then
# read with an exact, bounded read (a directory can lie about a member's size). So a small
# file cannot make `load` allocate much more than the network it describes. `bias` (one bool a
# layer) is written only when a layer has no bias; without it every layer has one. `dropout`
# (one rate a layer, after its activation) only when the network has a Dropout.
_MEMBERS = ("format", "version", "sizes", "activations", "bias", "dropout", "loss", "dtype",
            "params")
_SMALL_MEMBER = 1 << 20
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_HEADER_MAX = 1 << 16


def _read_member(archive, info, max_bytes, count_expected=None):
    """One member of the archive as an array: a .npy of a plain (non-object, non-empty
    itemsize) dtype, at most max_bytes uncompressed, with exactly count_expected elements when
    given; every check made from the directory and the header, before the data are read."""
    name = info.filename
    if not name.endswith(".npy"):
        raise ValueError(f"member {name!r} is not a .npy array")
    if info.compress_type not in _COMPRESSIONS:
        raise ValueError(f"member {name!r} uses compression method {info.compress_type}; "
                         f"expected stored or deflated, as numpy's savez writes")
    if info.file_size > max_bytes:
        raise ValueError(f"member {name!r} holds {info.file_size} bytes, more than the "
                         f"{max_bytes} it can hold in a fastprop network file")
    with archive.open(info) as stream:
        head = stream.read(min(_HEADER_MAX, max_bytes))
        f = io.BytesIO(head)
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except Exception as exc:    # numpy's header parser raises tokenize and syntax errors
            raise ValueError(f"member {name!r}: unreadable .npy header ({exc})") from None
        if dtype.hasobject:
            raise ValueError(f"member {name!r} contains pickled (object) data, which is never "
                             f"loaded")
        if dtype.itemsize == 0:
            raise ValueError(f"member {name!r}: dtype {dtype.str} has no bytes an element")
        count = 1
        for n in shape:
            count *= int(n)
        if count_expected is not None and count != count_expected:
            raise ValueError(f"member {name!r}: its header says {count} values, expected "
                             f"{count_expected} for the sizes of the file")
        nbytes = count * dtype.itemsize
        if f.tell() + nbytes > max_bytes:
            raise ValueError(f"member {name!r}: its header says {nbytes} bytes of data, more "
                             f"than the {max_bytes} it can hold in a fastprop network file")
        # In pieces of at most 1 MiB: zipfile allocates a read request's size before reading,
        # so one request of what a header claims would allocate that much first.
        data = bytearray(head[f.tell():])
        while len(data) <= nbytes:
            piece = stream.read(min(1 << 20, nbytes + 1 - len(data)))
            if not piece:
                break
            data += piece
    if len(data) != nbytes:
        raise ValueError(f"member {name!r}: its header says {nbytes} bytes of data, it holds "
                         f"{len(data)}{' or more' if len(data) > nbytes else ''}")
    array = np.frombuffer(data, dtype=dtype) if count else np.empty(0, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C")


def _what_is_wrong(exc):
    if isinstance(exc, zipfile.BadZipFile):
        return f"corrupt or truncated zip archive: {exc}"
    if isinstance(exc, zlib.error):
        return f"corrupt compressed data: {exc}"
    if isinstance(exc, EOFError):
        return f"truncated: {exc}" if str(exc) else "a member is truncated"
    if isinstance(exc, (NotImplementedError, RuntimeError)):
        return f"unsupported zip archive: {exc}"
    return str(exc)


def _read_fields(path):
    """The arrays of the .npz archive at path, by name; ValueError for anything else."""
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):   # a directory, or a FIFO that open() would wait on
            raise ValueError(f"path: {path!r} is not a regular file")
        with open(path, "rb") as f:
            head = f.read(6)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ValueError(f"path: {path!r} is not a readable fastprop network file ({exc})") from None
    if not head:
        raise ValueError(f"path: {path!r} is not a fastprop .npz file (the file is empty)")
    if head.startswith(_NPY_MAGIC):
        raise ValueError(f"path: {path!r} is not a fastprop network file (expected an .npz "
                         f"archive, got a single .npy array)")
    if not head.startswith(_ZIP_MAGIC):
        raise ValueError(f"path: {path!r} is not a fastprop .npz file (expected a zip archive "
                         f"as written by fastprop.save, got a file starting with {head!r})")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {}
            for info in archive.infolist():
                name = info.filename[:-len(".npy")] if info.filename.endswith(".npy") \
                    else info.filename
                if name not in _MEMBERS:
                    raise ValueError(f"member {info.filename!r} is not part of a fastprop "
                                     f"network file (expected {', '.join(_MEMBERS)})")
                if name in members:
                    raise ValueError(f"member {info.filename!r} appears twice")
                members[name] = info
            fields = {}
            for name in _MEMBERS:          # params last: its size comes from sizes
                if name not in members:
                    continue
                if name == "params":
                    count = _params_count(fields)
                    fields[name] = _read_member(archive, members[name],
                                                8 * count + _HEADER_MAX, count)
                else:
                    fields[name] = _read_member(archive, members[name], _SMALL_MEMBER)
    except _READ_ERRORS as exc:
        raise ValueError(f"path: {path!r} is not a readable fastprop network file "
                         f"({_what_is_wrong(exc)})") from None
    return fields


def _bias_flags(fields):
    """Each layer's bias flag (a list of bools) from the bias member, given the checked sizes;
    all True when the file has no such member."""
    n_layers = fields["sizes"].size - 1
    bias = fields.get("bias")
    if bias is None:
        return [True] * n_layers
    if bias.dtype.kind != "b" or bias.shape != (n_layers,):
        raise ValueError(f"bias {bias!r}: expected {n_layers} booleans, one a layer")
    return [bool(f) for f in bias]


def _dropout_rates(fields):
    """Each layer's dropout rate (a list of floats) from the dropout member, given the checked
    sizes: in [0, 1), the last 0; all 0 when the file has no such member."""
    n_layers = fields["sizes"].size - 1
    rates = fields.get("dropout")
    if rates is None:
        return [0.0] * n_layers
    if rates.dtype != np.float64 or rates.shape != (n_layers,):
        raise ValueError(f"dropout {rates!r}: expected {n_layers} float64 rates, one a layer")
    if not (np.all(rates >= 0) and np.all(rates < 1)) or rates[-1] != 0:
        raise ValueError(f"dropout {rates.tolist()}: expected rates in [0, 1), the last "
                         f"layer's 0")
    return [float(r) for r in rates]


def _params_count(fields):
    """N, the values the params member must hold, from the sizes and bias members: checked
    here as `load` checks it, so that a file describing an impossible network is refused
    before its params are read."""
    sizes = fields.get("sizes")
    if (sizes is None or sizes.ndim != 1 or sizes.dtype.kind not in "iu" or sizes.size < 2
            or sizes.min() < 1):
        raise ValueError(f"sizes {sizes!r}: expected at least 2 positive integer widths")
    n_params = sum((int(a) + int(f)) * int(b)
                   for a, b, f in zip(sizes[:-1], sizes[1:], _bias_flags(fields)))
    if n_params > MAX_ELEMENTS:
        raise ValueError(f"sizes {sizes.tolist()}: a network of {n_params:,} parameters, more "
                         f"than the {MAX_ELEMENTS:,} a network may hold")
    return n_params


def read_network_file(path: PathLike) -> tuple[str, dict[str, Any]]:
    """(path as str, fields) from a file written by `save`, every member checked against the
    others before anything is built from them (fastprop.network.load builds the network);
    ValueError for anything else."""
    path = _path(path)
    fields = _read_fields(path)
    try:
        if str(fields["format"]) != FORMAT:
            raise ValueError(f"format {str(fields['format'])!r}")
        version = fields["version"]
        if version.shape != () or version.dtype.kind not in "iu" or int(version) != VERSION:
            raise ValueError(f"version {version!r}, expected the integer {VERSION}")
        n_params = _params_count(fields)        # checks sizes
        sizes, params = fields["sizes"], fields["params"]
        acts = [str(a) for a in fields["activations"]]
        if len(acts) != sizes.size - 1:
            raise ValueError(f"{len(acts)} activations for {sizes.size - 1} layers")
        # Checked before building anything, so a corrupt header cannot make us allocate.
        if params.ndim != 1 or params.size != n_params:
            raise ValueError(f"params of shape {params.shape}, expected ({n_params},) for "
                             f"sizes {sizes.tolist()}")
        fields["activations"] = acts
        fields["bias"] = _bias_flags(fields)
        fields["dropout"] = _dropout_rates(fields)
    except (KeyError, ValueError, TypeError) as exc:
        raise not_a_network_file(path, exc) from None
    return path, fields


def not_a_network_file(path, exc):
    """The ValueError that every refused file gives, naming the path and what is wrong."""
    return ValueError(f"path: {path!r} is not a valid fastprop network file: {exc}")
