"""`fit`: mini-batch training. The epoch loop (shuffle, gather, forward, backward, optimizer
update) is one compiled call (csrc/nn/fp_net.inc, net_train); Python checks the inputs once,
allocates the buffers once, and only comes back between epochs when it must print progress."""
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from fastprop import _core
from fastprop._model import check_network
from fastprop._validation import as_int, as_rng
from fastprop.optim import SGD, Optimizer, _as_bool

__all__ = ["fit", "History", "TrainingDivergedError"]


@dataclass
class History:
    """loss[e]: mean per-sample training loss seen during epoch e; val_loss[e]: loss on the
    validation data after epoch e (empty without validation data)."""
    loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    seconds: float = 0.0
    samples: int = 0

    @property
    def epochs(self):
        return len(self.loss)

    @property
    def samples_per_second(self):
        return self.samples / self.seconds if self.seconds > 0 else float("inf")


class TrainingDivergedError(FloatingPointError):
    """Training met a non-finite loss or gradient; the parameters hold the last finite values."""

    def __init__(self, message, history):
        super().__init__(message)
        self.history = history


def fit(net, X, y, epochs=5, batch_size=1, optimizer=None, shuffle=True, seed=0,
        validation_data=None, progress=False):
    """Train `net` on (X, y) for `epochs` epochs of mini-batches of `batch_size` samples (the
    last partial batch included; batch_size larger than n means full batch). The caller's
    arrays are never modified. Returns a History."""
    check_network(net)
    net._check_writeable("fit")
    Xc, Y = net._inputs(X, y)
    n = Xc.shape[0]
    epochs = as_int(epochs, "epochs", minimum=0)
    batch = min(as_int(batch_size, "batch_size", minimum=1), n)
    shuffle = _as_bool(shuffle, "shuffle")       # bool("no") is True: refused, as nesterov
    progress = _as_bool(progress, "progress")
    if optimizer is None:
        optimizer = SGD()
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer: expected a fastprop optimizer (SGD, Adam, AdamW, RMSprop, "
                        f"Adagrad), got "
                        f"{type(optimizer).__name__}")
    optimizer._check_net(net)
    opt_args = optimizer._args()
    optimizer._check_args_for(opt_args, net)
    Xv = np.empty((0, net.n_in), dtype=net.dtype)
    Yv = np.empty((0, net.n_out), dtype=net.dtype)
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data: expected a pair (X_val, y_val), got "
                             f"{type(validation_data).__name__}")
        Xv, Yv = net._inputs(*validation_data, names=("validation_data[0] (X_val)",
                                                      "validation_data[1] (y_val)"))
    rng_state = as_rng(seed).integers(0, 2 ** 64, size=4, dtype=np.uint64, endpoint=False)
    if not rng_state.any():
        rng_state[0] = 1
    with net._lock:       # the network's buffers and parameters: one compiled call at a time
        return _train(net, Xc, Y, Xv, Yv, batch, epochs, shuffle, rng_state, optimizer,
                      opt_args, progress)


# epochs a compiled call runs at most (bounds the per-epoch loss buffers)
MAX_EPOCHS_A_CALL = 1 << 16
# A compiled call holds no GIL and cannot see Ctrl-C: a long fit runs as calls of about
# CALL_SECONDS each, so that KeyboardInterrupt comes between two of them (the parameters then
# hold the last completed epoch). The first call runs about FIRST_CALL_WORK parameter-samples
# (N parameters times the samples), a few to tens of milliseconds: a short fit of a small
# network is still one call.
CALL_SECONDS = 0.25
FIRST_CALL_WORK = 1 << 25


def _train(net, Xc, Y, Xv, Yv, batch, epochs, shuffle, rng_state, optimizer, opt_args,
           progress):
    n = Xc.shape[0]
    ws, grad, gather = net._train_buffers(batch)   # first: a MemoryError leaves opt unbound
    state = optimizer._bind(net)
    job = _core.TrainJob(net._spec, optimizer._spec(opt_args), net.params, Xc, Y, Xv, Yv,
                         state=state, ws=ws, cap=net._cap, grad=grad, gather=gather,
                         batch=batch, shuffle=bool(shuffle), rng=rng_state,
                         max_epochs=max(min(epochs, MAX_EPOCHS_A_CALL), 1))
    epoch_loss, val_loss = job.epoch_loss, job.val_loss
    history = History()

    # With progress, calls run chunks of epochs, doubled while a chunk takes under 0.1 s, so
    # printing stays a few lines a second. Without it, chunks aim at CALL_SECONDS a call.
    # The epochs are the same whatever the chunks (the shuffling generator's state carries
    # over from call to call): the results do not depend on them.
    rows = n + Xv.shape[0]         # an epoch's training and validation samples
    chunk = 1 if progress else max(1, min(FIRST_CALL_WORK // (rows * (net.n_params + 64)),
                                          epoch_loss.shape[0]))
    done = 0
    start = time.perf_counter()
    while done < epochs:
        k = min(chunk, epochs - done, MAX_EPOCHS_A_CALL)
        t0 = time.perf_counter()
        ran = _run_epochs(job, k)
        completed = ran if ran >= 0 else -ran - 1
        history.loss.extend(epoch_loss[:completed].tolist())
        if Xv.shape[0]:
            history.val_loss.extend(val_loss[:completed].tolist())
        done += completed
        history.seconds = time.perf_counter() - start
        history.samples = done * n
        if ran < 0:
            if progress:
                print(file=sys.stdout)
            raise TrainingDivergedError(
                f"training diverged in epoch {done + 1}: the loss or gradient became "
                f"non-finite (NaN or infinity); stopped before that update, so the parameters "
                f"hold their last finite values. Lower the learning rate.", history)
        elapsed = time.perf_counter() - t0
        if progress:
            _print_progress(history, epochs)
            if elapsed < 0.1:
                chunk *= 2
        elif completed:
            chunk = int(min(max(1.0, completed * CALL_SECONDS / max(elapsed, 1e-9)),
                            8 * chunk, MAX_EPOCHS_A_CALL))
    if progress and epochs:
        print(file=sys.stdout, flush=True)
    return history


def _run_epochs(job, k):
    """k epochs in one compiled call (a function of its own, so tests can watch the calls)."""
    return job.run(k)


def _print_progress(history, epochs):
    line = (f"\repoch {history.epochs:>{len(str(epochs))}}/{epochs}  "
            f"loss {history.loss[-1]:.6g}")
    if history.val_loss:
        line += f"  val_loss {history.val_loss[-1]:.6g}"
    line += f"  {history.samples_per_second:,.0f} samples/s"
    print(line.ljust(72), end="", file=sys.stdout, flush=True)
