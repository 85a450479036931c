"""fastprop.distributed: synchronous data-parallel training over MPI (mpi4py), exact to
single-process `fit`.

Every rank holds the whole network. Each step's global batch of `batch_size` samples is cut
into one contiguous share a rank; a rank runs forward and backward on its share in the
compiled code, scales its gradient and loss by its share of the batch (n_r / B, or its share
of the batch's sample weight), and ONE in-place Allreduce over a flat buffer
[gradient..., loss, accuracy count, failure flags] sums them: every rank then holds the
gradient of the global batch's mean loss, clips it as fit does, and applies the same
optimizer update, so the parameters stay identical everywhere. Decisions (divergence, early
stopping, schedules, callbacks) are taken from reduced values, so all ranks take them alike.

This module imports without mpi4py; `fit` then raises ImportError naming the extra
(`pip install fastprop[mpi]`). Run it as `mpiexec -n 2 python script.py`, or try
`mpiexec -n 2 python -m fastprop.distributed` (a demo on the digits data that ships)."""
from __future__ import annotations

import math
import sys
import time
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from fastprop import _core
from fastprop._model import check_network, new_stream
from fastprop._validation import as_float, as_int, as_numeric_array
from fastprop.optim import SGD, Optimizer, _RULES, _as_bool
from fastprop.training import (History, TrainingDivergedError, _callbacks, _is_early_stopping,
                               _metrics, _positive_or_none, _sample_weight, _schedule,
                               split_off_validation)
from fastprop._model import Model
from fastprop._typing import ArrayLike, CallbackLike, PathLike, Seed

if TYPE_CHECKING:
    from fastprop.network import Network
    from fastprop.schedules import Schedule

__all__ = ["fit", "save", "load", "RankFailedError", "MPI_EXTRA"]

MPI_EXTRA = "pip install fastprop[mpi]"

# A test hook: when set, called as _fault(where, rank, epoch, step) with where "step" (inside
# a step's local work, whose failure all ranks learn through the step's Allreduce) or "epoch"
# (between two collective calls, whose failure ends the job by comm.Abort).
_fault = None


class RankFailedError(RuntimeError):
    """Another rank of the job raised; this rank stops at the same step.

    Its message names the rank and the error. A subclass of `RuntimeError`.
    """


def _mpi():
    """mpi4py's MPI module, or an ImportError that says how to install it."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(
            f"fastprop.distributed.fit needs mpi4py and an MPI library: {MPI_EXTRA} (installs "
            f"mpi4py and the mpich wheel, which brings mpiexec), or mpi4py built against a "
            f"system MPI ({exc})") from exc
    return MPI


def _comm(MPI, comm):
    if comm is None:
        return MPI.COMM_WORLD
    if not isinstance(comm, MPI.Intracomm):
        raise TypeError(f"comm: expected an mpi4py intracommunicator (MPI.COMM_WORLD or one "
                        f"split from it), got {type(comm).__name__}")
    return comm


def _agree(comm, error, what):
    """Collective: raises on every rank when `error` (an exception or None) is set on any: the
    rank's own error where it has one, else a RankFailedError naming the first failed rank."""
    flag = comm.allreduce(0 if error is None else 1)
    if flag == 0:
        return
    messages = comm.allgather(None if error is None else f"{type(error).__name__}: {error}")
    if error is not None:
        error._fastprop_agreed = True       # every rank raises: no comm.Abort for it
        raise error
    failed = [r for r, m in enumerate(messages) if m is not None]
    raise RankFailedError(f"rank {failed[0]} of {comm.Get_size()} failed {what}: "
                          f"{messages[failed[0]]}" +
                          (f" (and ranks {failed[1:]})" if len(failed) > 1 else ""))


def _shares(total, parts):
    """Contiguous split of `total` rows into `parts` (numpy.array_split's sizes: the first
    total % parts get one more), as start offsets of length parts + 1."""
    q, r = divmod(total, parts)
    sizes = [q + (1 if i < r else 0) for i in range(parts)]
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def fit(net: Model, X: ArrayLike, y: ArrayLike, epochs: int = 5, batch_size: int = 1,
        optimizer: Optional[Optimizer] = None, shuffle: bool = True, seed: Seed = None,
        validation_data: Optional[tuple[ArrayLike, ArrayLike]] = None, progress: bool = False,
        *, validation_split: Optional[float] = None, metrics: Optional[Sequence[str]] = None,
        callbacks: Optional[Sequence[CallbackLike]] = None,
        schedule: Optional[Schedule] = None, clip_norm: Optional[float] = None,
        clip_value: Optional[float] = None, sample_weight: Optional[ArrayLike] = None,
        comm: Any = None, sharded: bool = False) -> History:
    """Synchronous data-parallel `fit` over the ranks of an MPI communicator.

    Call it on every rank with the same arguments (but, with sharded=True, each rank's own
    data). Arguments and History are those of `Network.fit`; History is the same on every
    rank.

    Each global batch of `batch_size` samples is split into contiguous shares, one a rank
    (uneven shares allowed; a rank may get none); the summed gradient is that of the batch's
    mean loss, so with shuffle=False the trajectory is single-process fit's with the same
    batch_size (float64: equal up to the order of summation). The starting parameters, the
    optimizer's state and the network's shuffling stream are rank 0's (broadcast).

    shuffle=True: a global permutation each epoch, drawn on every rank from a numpy Generator
    seeded from rank 0's stream (seed, or the network's own stream with seed=None), so all
    ranks agree and the trajectory does not depend on the number of ranks; it is not the
    permutation that single-process fit draws (that one comes from a compiled generator).

    sharded=False: every rank passes the whole (X, y) and takes its share of each batch.
    sharded=True: each rank passes only its own shard (numpy arrays, numpy.memmap or
    np.load(..., mmap_mode="r")); only the rows of each step are read and converted, so the
    data is never loaded whole (and a NaN in a shard is refused when its rows are read: the
    job then stops on every rank). With N rows over all shards, an epoch has S =
    ceil(N / batch_size) steps; each shard is cut into S contiguous near-equal chunks
    (numpy.array_split's sizes), and step s's global batch is chunk s of every shard, so it
    holds about N / S <= batch_size samples, each rank's share in proportion to its shard.
    "Global shuffle" there means: each epoch, each rank permutes its own shard with a
    Generator derived from the common seed and its rank, before chunking; samples do not
    move between ranks. validation_split takes the last fraction of each shard;
    validation_data and sample_weight are this rank's own (validation) shard and weights.

    Callbacks run on every rank with the same (reduced) logs, except ModelCheckpoint, which
    runs on rank 0 only (one writer a file); a stop asked on any rank stops every rank after
    the same epoch. progress shows on rank 0 only. An exception on one rank ends the fit on
    every rank: raised there, and RankFailedError (naming it) on the others, when it happens
    in a step's or an epoch's work; anything else ends the job with comm.Abort(1) after
    printing the error, rather than leaving the other ranks waiting.

    Parameters
    ----------
    net : Network
        The network, trained in place on every rank (rank 0's parameters are the start).
    X, y, epochs, batch_size, optimizer, shuffle, seed, validation_data, progress
        As for `Network.fit` (X, y: the whole data, or with sharded=True this rank's shard).
    validation_split, metrics, callbacks, schedule, clip_norm, clip_value, sample_weight
        As for `Network.fit` (keyword-only).
    comm : mpi4py.MPI.Comm, optional
        The ranks to train over (default ``MPI.COMM_WORLD``).
    sharded : bool, default False
        Whether each rank passes only its own shard of the data (see above).

    Returns
    -------
    History
        The same on every rank.

    Raises
    ------
    ImportError
        When mpi4py is not installed (it names the ``mpi`` extra).
    TypeError, ValueError
        For a bad argument on any rank, raised on every rank.
    TrainingDivergedError
        When the loss or gradient becomes non-finite, on every rank.
    RankFailedError
        On the other ranks, when one rank raised during a step or an epoch.
    """
    local_error = None
    try:
        args = _check(net, X, y, epochs, batch_size, optimizer, shuffle, seed,
                      validation_data, progress, validation_split, metrics, callbacks,
                      schedule, clip_norm, clip_value, sample_weight, sharded)
    except (ValueError, TypeError) as exc:
        local_error = exc
    try:
        MPI = _mpi()
    except ImportError:
        if local_error is not None:
            raise local_error from None
        raise
    comm = _comm(MPI, comm)
    _agree(comm, local_error, "the argument checks")
    run = None
    error = None
    try:
        run = _DistributedRun(MPI, comm, net, args)
    except Exception as exc:            # noqa: BLE001 - every rank must learn of it
        error = exc
    _agree(comm, error, "while setting up the fit")
    try:
        return run.train()
    except (RankFailedError, TrainingDivergedError):
        raise                           # raised alike on every rank
    except BaseException as exc:
        if comm.Get_size() > 1 and not getattr(exc, "_fastprop_agreed", False):
            sys.stderr.write(f"fastprop.distributed: rank {comm.Get_rank()} of "
                             f"{comm.Get_size()} failed outside a collective step; aborting "
                             f"the job:\n{traceback.format_exc()}")
            sys.stderr.flush()
            comm.Abort(1)
        raise


def _check(net, X, y, epochs, batch_size, optimizer, shuffle, seed, validation_data, progress,
           validation_split, metrics, callbacks, schedule, clip_norm, clip_value,
           sample_weight, sharded):
    """Every local check (no communication), as single-process fit does them; returns the
    checked arguments as a dict."""
    check_network(net)
    net._check_writeable("fit")
    a = dict(net=net)
    a["sharded"] = _as_bool(sharded, "sharded")
    a["epochs"] = as_int(epochs, "epochs", minimum=0)
    a["batch_size"] = as_int(batch_size, "batch_size", minimum=1)
    a["shuffle"] = _as_bool(shuffle, "shuffle")
    a["progress"] = _as_bool(progress, "progress")
    if optimizer is None:
        optimizer = SGD()
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer: expected a fastprop optimizer (SGD, Adam, AdamW, RMSprop, "
                        f"Adagrad), got {type(optimizer).__name__}")
    optimizer._check_net(net)
    opt_args = optimizer._args()
    optimizer._check_args_for(opt_args, net)
    a["optimizer"], a["opt_args"] = optimizer, opt_args
    a["accuracy"] = _metrics(metrics, net)
    a["callbacks"] = _callbacks(callbacks)
    a["schedule"] = _schedule(schedule)
    a["clip_norm"] = _positive_or_none(clip_norm, "clip_norm")
    a["clip_value"] = _positive_or_none(clip_value, "clip_value")
    a["stream"] = new_stream(seed) if seed is not None else None     # checks seed
    split = None
    if validation_split is not None:
        if validation_data is not None:
            raise ValueError("validation_split: expected either validation_split or "
                             "validation_data, got both")
        split = as_float(validation_split, "validation_split")
        if not 0 < split < 1:
            raise ValueError(f"validation_split: expected a fraction in (0, 1), got {split}")
    if validation_data is not None and (not isinstance(validation_data, (tuple, list))
                                        or len(validation_data) != 2):
        raise ValueError("validation_data: expected a pair (X_val, y_val), got "
                         f"{type(validation_data).__name__}")
    if a["sharded"]:
        X, y, Xv, Yv, w = _check_shard(net, X, y, validation_data, split, sample_weight)
    else:
        X, y = net._inputs(X, y)
        n = X.shape[0]
        w = _sample_weight(sample_weight, n)
        Xv, Yv = None, None
        if split is not None:
            X, y, w, Xv, Yv = split_off_validation(split, X, y, w)
        elif validation_data is not None:
            Xv, Yv = net._inputs(*validation_data, names=("validation_data[0] (X_val)",
                                                          "validation_data[1] (y_val)"))
    a.update(X=X, Y=y, Xv=Xv, Yv=Yv, weights=w)
    return a


def _check_shard(net, X, y, validation_data, split, sample_weight):
    """Shape checks of this rank's shard without reading it (rows are converted and checked
    as each step reads them)."""
    X = X if isinstance(X, np.ndarray) else as_numeric_array(X, "X")
    if X.ndim != 2 or X.shape[1] != net.n_in:
        raise ValueError(f"X: expected a 2-D shard of shape (n, {net.n_in}), got shape "
                         f"{X.shape}")
    n = X.shape[0]
    y = y if isinstance(y, np.ndarray) else as_numeric_array(y, "y")
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(f"y: expected {n} rows (one a sample of this rank's X), got shape "
                         f"{y.shape}")
    w = None
    if sample_weight is not None:
        w = as_numeric_array(sample_weight, "sample_weight")
        if w.ndim != 1 or w.shape[0] != n:
            raise ValueError(f"sample_weight: expected shape ({n},) (one weight a sample of "
                             f"this rank's X), got {w.shape}")
        w = np.ascontiguousarray(w, dtype=np.float64)
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("sample_weight: expected finite weights >= 0")
    Xv = Yv = None
    if split is not None:
        at = int(n * (1 - split))
        X, Xv, y, Yv = X[:at], X[at:], y[:at], y[at:]
        if w is not None:
            w = w[:at]
    elif validation_data is not None:
        Xv, Yv = validation_data
        Xv = Xv if isinstance(Xv, np.ndarray) else as_numeric_array(Xv, "validation_data[0]")
        Yv = Yv if isinstance(Yv, np.ndarray) else as_numeric_array(Yv, "validation_data[1]")
        if Xv.ndim != 2 or Xv.shape[1] != net.n_in or Yv.shape[0] != Xv.shape[0]:
            raise ValueError(f"validation_data: expected X_val of shape (m, {net.n_in}) and "
                             f"y_val of m rows, got shapes {Xv.shape} and {Yv.shape}")
    return X, y, Xv, Yv, w


class _DistributedRun:
    """One distributed fit after its checks: layout of the batches, the flat exchange buffer,
    and the loop."""

    def __init__(self, MPI, comm, net, a):
        self.MPI, self.comm, self.net = MPI, comm, net
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.__dict__.update(a)
        self.epochs_asked = a["epochs"]
        N = net.n_params
        # the same network and settings on every rank, or a clear refusal
        mine = (tuple(l.n_in for l in net.layers) + (net.n_out,), net.dtype.str,
                net.loss_name, type(self.optimizer).__name__, self.epochs_asked,
                self.batch_size, self.shuffle, self.sharded, self.accuracy,
                self.weights is not None, self.Xv is not None,
                None if self.sharded else self.X.shape[0])
        every = comm.allgather(mine)
        if any(o != mine for o in every):
            first = next(r for r, o in enumerate(every) if o != every[0])
            raise ValueError(f"comm: every rank must call fit with the same network and "
                             f"arguments; rank 0 has {every[0]} and rank {first} {every[first]} "
                             f"(network sizes, dtype, loss, optimizer, epochs, batch_size, "
                             f"shuffle, sharded, accuracy, weights, validation, rows)")
        if self.sharded:
            counts = comm.allgather((self.X.shape[0], 0 if self.Xv is None else self.Xv.shape[0],
                                     0.0 if self.weights is None else float(self.weights.sum())))
            self.n = sum(c[0] for c in counts)
            self.n_val = sum(c[1] for c in counts)
            if self.n < 1:
                raise ValueError("X: expected at least one training sample over all shards, "
                                 "got none")
            if self.Xv is not None and self.n_val < 1:
                raise ValueError("validation_data: expected at least one validation sample "
                                 "over all shards, got none")
            if self.weights is not None and not sum(c[2] for c in counts) > 0:
                raise ValueError("sample_weight: expected a positive total weight over all "
                                 "shards, got zero")
            self.batch = min(self.batch_size, self.n)
            self.steps = -(-self.n // self.batch)
            self.chunks = _shares(self.X.shape[0], self.steps)
        else:
            self.n = self.X.shape[0]
            self.n_val = 0 if self.Xv is None else self.Xv.shape[0]
            self.batch = min(self.batch_size, self.n)
            self.steps = -(-self.n // self.batch)
        self.w_total = None
        if self.weights is not None:
            self.w_total = (comm.allreduce(float(self.weights.sum())) if self.sharded
                            else float(self.weights.sum()))
        # rank 0's parameters, optimizer state and stream, for every rank
        self.state = self.optimizer._bind(net)
        comm.Bcast(net.params, root=0)
        comm.Bcast(self.state, root=0)
        comm.Bcast(self.optimizer._step, root=0)
        stream = self.stream if self.stream is not None else net._stream.copy()
        comm.Bcast(stream, root=0)
        self.stream = stream
        # the exchange buffer: gradient, then the extras (loss, accuracy count) as pairs of
        # the network's dtype (hi + lo: float32 would round a loss to 7 digits), then one
        # failure flag a rank
        self.two = net.dtype == np.float32
        self.n_extra = 2 * (2 if self.two else 1)
        self.buf = np.zeros(N + self.n_extra + self.size, dtype=net.dtype)
        self.grad = self.buf[:N]
        # every rank's share size of a full batch, for the workspace
        if self.sharded:
            most = int(np.max(np.diff(self.chunks))) if self.X.shape[0] else 0
        else:
            most = int(np.max(np.diff(_shares(self.batch, self.size))))
        most_val = 0
        if self.Xv is not None:
            most_val = self.Xv.shape[0] if self.sharded else int(
                np.max(np.diff(_shares(self.n_val, self.size))))
        self.cap_rows = max(1, most, min(most_val, 4096))
        self.ws = net._workspace(self.cap_rows)
        self.jobs = {}                      # share size -> a rate-0 TrainJob (see _share_job)
        names = ["loss"] + (["val_loss"] if self.Xv is not None else [])
        if self.accuracy:
            names += ["accuracy"] + (["val_accuracy"] if self.Xv is not None else [])
        names.append("lr")
        self.local_callbacks = [cb for cb in self.callbacks
                                if self.rank == 0 or not _writes_files(cb)]
        for cb in self.local_callbacks:
            if hasattr(cb, "set_model"):
                cb.set_model(net)
        for cb in self.local_callbacks:
            if hasattr(cb, "on_train_begin"):
                cb.on_train_begin({"metrics": list(names)})
        if self.schedule is not None:
            self.schedule._begin(float(self.opt_args["lr"]), self.n, self.steps,
                                 self.epochs_asked)
        self.base_lr = float(self.opt_args["lr"])
        self.history = History()

    # ---- one step's local work -------------------------------------------------------------
    def _rows(self, X, Y, rows, w=None):
        """The checked, contiguous rows `rows` (a slice or an index array) of (X, Y)."""
        if self.sharded:
            Xs, Ys = self.net._inputs(np.asarray(X[rows]), np.asarray(Y[rows]))
        else:
            Xs, Ys = np.ascontiguousarray(X[rows]), np.ascontiguousarray(Y[rows])
        return Xs, Ys, (None if w is None else np.ascontiguousarray(w[rows]))

    def _share_job(self, n_r):
        """A TrainJob that runs one step at learning rate 0 on a scratch copy of the
        parameters over n_r rows: the compiled floor exports no weighted backprop nor accuracy
        count, and this computes exactly the loss, gradient (into self.grad) and accuracy that
        single-process fit's step computes."""
        job = self.jobs.get(n_r)
        if job is None:
            net = self.net
            Xb = np.empty((n_r, net.n_in), dtype=net.dtype)
            Yb = np.empty((n_r, net.n_out), dtype=net.dtype)
            wb = np.ones(n_r) if self.weights is not None else None
            scratch = np.empty_like(net.params)
            code, n_state = _RULES[SGD.rule]
            step = np.zeros(1, dtype=np.int64)
            spec = _core.OptimSpec(code, step, lr=0.0)
            empty_x = np.empty((0, net.n_in), dtype=net.dtype)
            empty_y = np.empty((0, net.n_out), dtype=net.dtype)
            tj = _core.TrainJob(
                net._spec, spec, scratch, Xb, Yb, empty_x, empty_y,
                state=np.zeros(max(n_state, 1) * net.n_params, dtype=net.dtype), ws=self.ws,
                cap=self.cap_rows, grad=self.grad, gather=np.empty(n_r * (net.n_in + net.n_out),
                                                                   dtype=net.dtype),
                batch=n_r, shuffle=False, rng=np.ones(4, dtype=np.uint64), max_epochs=1,
                sample_weight=wb, accuracy=self.accuracy)
            job = self.jobs[n_r] = (tj, Xb, Yb, wb, scratch)
        return job

    def _local(self, Xs, Ys, ws_):
        """Loss and accuracy count (weighted: the weights' sum of right answers) of this
        rank's share, its gradient written into self.grad."""
        n_r = Xs.shape[0]
        if self.weights is None and not self.accuracy:
            loss = _core.backprop(self.net._spec, self.net.params, Xs, Ys, self.ws,
                                  self.cap_rows, self.grad)
            return float(loss), 0.0
        tj, Xb, Yb, wb, scratch = self._share_job(n_r)
        Xb[...] = Xs
        Yb[...] = Ys
        if wb is not None:
            wb[...] = ws_
        scratch[...] = self.net.params
        ran = tj.run(1)
        if ran != 1:           # a non-finite loss or gradient: reported through the loss
            return math.nan, 0.0
        loss = float(tj.epoch_loss[0])
        right = 0.0
        if self.accuracy:
            denom = float(wb.sum()) if wb is not None else float(n_r)
            right = float(tj.epoch_acc[0]) * denom
            if wb is None:
                right = float(round(right))
        return loss, right

    def _put(self, at, value):
        if self.two:
            hi = np.float32(value)
            self.buf[at] = hi
            self.buf[at + 1] = np.float32(value - float(hi))
        else:
            self.buf[at] = value

    def _get(self, at):
        if self.two:
            return float(self.buf[at]) + float(self.buf[at + 1])
        return float(self.buf[at])

    def step(self, e, s, rows, w_batch):
        """One global step: local work on this rank's rows, the Allreduce, the reduced loss
        and accuracy count (or a RankFailedError / the local exception, on every rank)."""
        N = self.net.n_params
        k = 2 if self.two else 1
        error = None
        try:
            if _fault is not None:
                _fault("step", self.rank, e, s)
            Xs, Ys, ws_ = self._rows(self.X, self.Y, rows, self.weights)
            n_r = Xs.shape[0]
            share = float(ws_.sum()) if ws_ is not None else float(n_r)
            if n_r == 0 or share == 0:
                self.grad[...] = 0
                loss = right = 0.0
                scale = 0.0
            else:
                loss, right = self._local(Xs, Ys, ws_)
                scale = share / w_batch if w_batch > 0 else 0.0
                if scale != 1.0:
                    self.grad *= self.grad.dtype.type(scale)
            self._put(N, loss * scale if scale else 0.0)
            self._put(N + k, right)
            self.buf[N + self.n_extra:] = 0
        except Exception as exc:            # noqa: BLE001 - reported to every rank below
            error = exc
            self.buf[...] = 0
            self.buf[N + self.n_extra + self.rank] = 1
        self.comm.Allreduce(self.MPI.IN_PLACE, self.buf, op=self.MPI.SUM)
        if self.buf[N + self.n_extra:].any():
            _agree(self.comm, error, f"in epoch {e + 1}, step {s + 1}")
        return self._get(N), self._get(N + k)

    def clip(self):
        """fit's clipping rule (csrc/nn/fp_optim.inc, clip_apply) on the reduced gradient."""
        g = self.grad
        if self.clip_norm > 0:
            squares = float(np.dot(g.astype(np.float64, copy=False),
                                   g.astype(np.float64, copy=False)))
            coef = self.clip_norm / (math.sqrt(squares) + 1e-6)
            if coef < 1.0 or coef != coef:
                g *= g.dtype.type(coef)
        if self.clip_value > 0:
            np.clip(g, -g.dtype.type(self.clip_value), g.dtype.type(self.clip_value), out=g)

    # ---- the epochs --------------------------------------------------------------------------
    def layout(self, perm):
        """Per step: this rank's rows (a slice or index array), the global batch's number of
        samples and its total weight (its samples without sample_weight). Sharded: one small
        Allreduce an epoch adds up the shards' chunks."""
        out = []
        if self.sharded:
            c = self.chunks
            for s in range(self.steps):
                out.append(slice(c[s], c[s + 1]) if perm is None else perm[c[s]:c[s + 1]])
            sums = np.empty((2, self.steps))
            sums[0] = np.diff(c)
            sums[1] = sums[0] if self.weights is None else [self.weights[r].sum() for r in out]
            self.comm.Allreduce(self.MPI.IN_PLACE, sums, op=self.MPI.SUM)
            return out, sums[0], sums[1]
        sizes, weights = np.empty(self.steps), np.empty(self.steps)
        for s in range(self.steps):
            lo, hi = s * self.batch, min((s + 1) * self.batch, self.n)
            sh = _shares(hi - lo, self.size)
            a, b = lo + sh[self.rank], lo + sh[self.rank + 1]
            out.append(slice(a, b) if perm is None else perm[a:b])
            sizes[s] = hi - lo
            if self.weights is None:
                weights[s] = hi - lo
            else:   # every rank sums the same weights in the same order: the same total
                weights[s] = self.weights[slice(lo, hi) if perm is None else perm[lo:hi]].sum()
        return out, sizes, weights

    def permutation(self):
        """This epoch's order (None without shuffling), from the common stream, which it
        advances (so that k fits of one epoch are one fit of k epochs)."""
        if not self.shuffle:
            return None
        words = [int(x) for x in self.stream]
        seq = np.random.SeedSequence(words)
        gen = np.random.default_rng(seq)
        if self.sharded:
            own = np.random.default_rng(np.random.SeedSequence(words + [self.rank]))
            perm = own.permutation(self.X.shape[0])
        else:
            perm = gen.permutation(self.n)
        self.stream[...] = new_stream(gen)
        return perm

    def rates(self):
        s = self.schedule
        if s is None:
            return None
        if s.needs_metric:
            return np.array([float(s._current())])
        return np.asarray(s._lrs(self.steps if s.per_step else 1), dtype=np.float64)

    def validate(self):
        """Loss and accuracy on the validation rows, reduced: (val_loss, val_accuracy)."""
        net = self.net
        if self.sharded:
            lo, hi = 0, self.Xv.shape[0]
        else:
            sh = _shares(self.n_val, self.size)
            lo, hi = int(sh[self.rank]), int(sh[self.rank + 1])
        total = right = 0.0
        error = None
        try:
            for a in range(lo, hi, self.cap_rows):
                b = min(a + self.cap_rows, hi)
                if self.sharded:
                    Xs, Ys = net._inputs(np.asarray(self.Xv[a:b]), np.asarray(self.Yv[a:b]),
                                         names=("validation_data[0] (X_val)",
                                                "validation_data[1] (y_val)"))
                else:
                    Xs, Ys = self.Xv[a:b], self.Yv[a:b]
                total += float(_core.net_loss(net._spec, net.params, Xs, Ys, self.ws,
                                              self.cap_rows)) * (b - a)
                if self.accuracy:
                    out = np.empty((b - a, net.n_out), dtype=net.dtype)
                    _core.forward(net._spec, net.params, Xs, self.ws, self.cap_rows, out)
                    right += _accuracy_count(net.layers[-1].activation, out, Ys)
        except Exception as exc:            # noqa: BLE001 - reported to every rank
            error = exc
        sums = np.array([total, right, 0.0 if error is None else 1.0])
        self.comm.Allreduce(self.MPI.IN_PLACE, sums, op=self.MPI.SUM)
        if sums[2]:
            _agree(self.comm, error, "during validation")
        return sums[0] / self.n_val, sums[1] / self.n_val

    def train(self):
        h, net = self.history, self.net
        show = None
        if self.progress and self.rank == 0:
            from fastprop.progress import Progress
            show = Progress(self.epochs_asked, self.n)
        start = time.perf_counter()
        weight_total = self.w_total if self.w_total is not None else float(self.n)
        stop = False
        done = 0
        try:
            with net._lock:
                for e in range(self.epochs_asked):
                    perm = self.permutation()
                    rows, sizes, totals = self.layout(perm)
                    lr = self.rates()
                    loss_total = right_total = 0.0
                    for s in range(self.steps):
                        loss, right = self.step(e, s, rows[s], totals[s])
                        if not math.isfinite(loss):
                            self._diverged(e, done, start)
                        self.clip()
                        step_lr = (self.base_lr if lr is None else
                                   float(lr[s]) if self.per_step() else float(lr[0]))
                        args = dict(self.opt_args, lr=step_lr)
                        ok = _core.optim_step(self.optimizer._spec(args), net.params, self.grad,
                                              self.state)
                        if not ok:
                            self._diverged(e, done, start)
                        loss_total += loss * sizes[s]     # as fit: each batch's mean by its size
                        right_total += right
                    done += 1
                    h.loss.append(loss_total / self.n)
                    if self.Xv is not None:
                        vl, va = self.validate()
                        h.val_loss.append(vl)
                    if self.accuracy:
                        h.accuracy.append(right_total / weight_total)
                        if self.Xv is not None:
                            h.val_accuracy.append(va)
                    if lr is None:
                        h.lr.append(self.base_lr)
                    elif self.per_step():
                        h.lr.extend(float(x) for x in lr)
                    else:
                        h.lr.append(float(lr[0]))
                    h.seconds = time.perf_counter() - start
                    h.samples = done * self.n
                    if _fault is not None:
                        _fault("epoch", self.rank, e, None)
                    stop = self.between_epochs(e, show)
                    if stop:
                        h.stopped_epoch = e
                        break
                net._stream[...] = self.stream
        finally:
            if show is not None:
                show.close()
        for cb in self.callbacks:
            best = getattr(cb, "best_epoch", None)
            if _is_early_stopping(cb) and isinstance(best, (int, np.integer)):
                h.best_epoch = int(best)
        logs = h.logs(-1) if h.loss else {}
        if h.loss:
            logs["lr"] = h.lr[-1]
        error = None
        try:
            for cb in self.local_callbacks:
                if hasattr(cb, "on_train_end"):
                    cb.on_train_end(logs)
        except Exception as exc:            # noqa: BLE001
            error = exc
        _agree(self.comm, error, "in a callback's on_train_end")
        return h

    def per_step(self):
        return self.schedule is not None and self.schedule.per_step

    def _diverged(self, e, done, start):
        h = self.history
        h.seconds = time.perf_counter() - start
        h.samples = done * self.n
        raise TrainingDivergedError(
            f"training diverged in epoch {e + 1}: the loss or gradient became non-finite (NaN "
            f"or infinity); stopped before that update, so the parameters hold their last "
            f"finite values (on every rank). Lower the learning rate.", h)

    def between_epochs(self, e, show):
        """The schedule's feedback, progress and callbacks after epoch e; True to stop (any
        rank's stop stops all)."""
        h = self.history
        logs = h.logs(e)
        logs["lr"] = h.lr[-1]
        stop = False
        error = None
        try:
            s = self.schedule
            if s is not None and s.needs_metric:
                stop = bool(s._observe(logs["val_loss"] if self.Xv is not None
                                       else logs["loss"]))
            if show is not None:
                show.update(e, dict(logs), h.samples_per_second)
            for cb in self.local_callbacks:
                if cb.on_epoch_end(e, dict(logs)):
                    stop = True
        except Exception as exc:            # noqa: BLE001 - reported to every rank
            error = exc
        flags = np.array([1.0 if stop else 0.0, 0.0 if error is None else 1.0])
        self.comm.Allreduce(self.MPI.IN_PLACE, flags, op=self.MPI.SUM)
        if flags[1]:
            _agree(self.comm, error, f"after epoch {e + 1} (schedule, progress or a callback)")
        return flags[0] > 0


def _writes_files(cb):
    """Callbacks that write files run on rank 0 only."""
    try:
        from fastprop.callbacks import ModelCheckpoint
    except ImportError:
        return False
    return isinstance(cb, ModelCheckpoint)


def _accuracy_count(activation, out, Y):
    """Right answers among the rows (fit's rule, csrc/nn/fp_loss.inc accuracy_count): softmax:
    the first largest output is the first largest target; sigmoid: the fraction of outputs on
    the target's side of 0.5."""
    if activation == "softmax":
        return float(np.count_nonzero(np.argmax(out, axis=1) == np.argmax(Y, axis=1)))
    return float(np.sum(np.mean((out > 0.5) == (Y > 0.5), axis=1)))


def save(net: Model, path: PathLike, comm: Any = None) -> None:
    """Collective: rank 0 writes `net` to `path` (atomically, as `Network.save`).

    Every rank returns once it is written, or raises the same error.

    Parameters
    ----------
    net : Network
        The network (the same on every rank after a distributed fit).
    path : str or os.PathLike
        The file, written by rank 0.
    comm : mpi4py.MPI.Comm, optional
        The ranks (default ``MPI.COMM_WORLD``).

    Raises
    ------
    ImportError
        When mpi4py is not installed.
    TypeError, OSError
        As `fastprop.save`, on rank 0; `RankFailedError` on the others.
    """
    MPI = _mpi()
    comm = _comm(MPI, comm)
    error = None
    if comm.Get_rank() == 0:
        try:
            net.save(path)
        except Exception as exc:            # noqa: BLE001
            error = exc
    _agree(comm, error, f"saving {path!r}")


def load(path: PathLike, comm: Any = None) -> Network:
    """Collective: rank 0 reads the network file at `path` (`fastprop.load`) and every rank
    gets the same Network.

    The network is sent from rank 0: the file need not be on a shared file system, and
    training may resume on any number of ranks.

    Parameters
    ----------
    path : str or os.PathLike
        The file, read by rank 0.
    comm : mpi4py.MPI.Comm, optional
        The ranks (default ``MPI.COMM_WORLD``).

    Returns
    -------
    Network
        The same network on every rank.

    Raises
    ------
    ImportError
        When mpi4py is not installed.
    ValueError
        As `fastprop.load`, on rank 0; `RankFailedError` on the others.
    """
    from fastprop.network import load as load_one
    MPI = _mpi()
    comm = _comm(MPI, comm)
    net, error = None, None
    if comm.Get_rank() == 0:
        try:
            net = load_one(path)
        except Exception as exc:            # noqa: BLE001
            error = exc
    _agree(comm, error, f"loading {path!r}")
    return comm.bcast(net, root=0)


def _main(argv=None):
    """`mpiexec -n 2 python -m fastprop.distributed`: trains a 2-32-32-3 network on the
    spirals that ship with the package, over every rank, and prints each epoch on rank 0."""
    import argparse
    parser = argparse.ArgumentParser(prog="python -m fastprop.distributed",
                                     description=_main.__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    opts = parser.parse_args(argv)
    import fastprop as fp
    from fastprop.data.spirals import load_spirals
    MPI = _mpi()
    comm = MPI.COMM_WORLD
    X, y = load_spirals()
    net = fp.mlp([X.shape[1], 32, 32, 3], hidden="tanh", output="softmax",
                 loss="cross_entropy", seed=opts.seed)
    hist = fit(net, X, y, epochs=opts.epochs, batch_size=opts.batch_size,
               optimizer=fp.SGD(lr=opts.lr, momentum=0.9), seed=opts.seed,
               validation_split=0.2, metrics=["accuracy"])
    if comm.Get_rank() == 0:
        for e in range(hist.epochs):
            print(f"epoch {e + 1:3d}  loss {hist.loss[e]:.4f}  val_loss {hist.val_loss[e]:.4f}  "
                  f"val_accuracy {hist.val_accuracy[e]:.3f}")
        print(f"{comm.Get_size()} ranks, {hist.samples_per_second:.0f} samples/s")


if __name__ == "__main__":
    _main()
