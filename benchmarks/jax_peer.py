"""The JAX/XLA peer of benchmarks/compare.py (an optional one: the `bench` extra installs it):
an MLP trained by SGD in JAX, started from the weights of a fastprop network, in two
variants, and its jitted forward pass for inference.

- `JaxTrainer.scan_epoch`: one `jax.jit` call runs a whole epoch, its steps under `lax.scan`
  (a remainder batch, when the batch does not divide the rows, inside the same call);
- `JaxTrainer.step`: the idiomatic loop, one jitted step a Python iteration, dispatched
  asynchronously (blocked on once, at the end of the work timed).
The workloads time both and take the faster one as the peer. `loss_check` compares a
trainer's loss with fastprop's, so that the peer is known to compute the same thing.

XLA's CPU threads are fixed when jax creates its CPU client: `load()` sets XLA_FLAGS for one
thread before importing jax, and creates the client while the process may run on one CPU
only (its affinity is restored right after), because jax 0.10's client sizes its thread pool
from the usable CPUs and no longer heeds those flags (measured: four threads busy on a
1024 x 1024 GEMM with the flags alone, one with the affinity). So the JAX figures are
one-thread figures (the workloads time JAX at t = 1 only). It also enables float64
(`jax_enable_x64`); float32 arrays stay float32.
Nothing here imports fastprop: it is given the weights as arrays.
"""
import os
import sys

import numpy as np

# Flags of XLA's CPU backend for one thread, for jax versions that heed them (jax 0.10 accepts
# them but does not; an unknown --xla flag aborts the process at import).
ONE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

_jax = None
_why_not = None


def load():
    """(jax module, None), or (None, why not): jax imported once, after XLA_FLAGS is set for
    one thread, with float64 enabled."""
    global _jax, _why_not
    if _jax is not None or _why_not is not None:
        return _jax, _why_not
    if "jax" in sys.modules:
        _why_not = "jax was imported before benchmarks/jax_peer.py could set XLA_FLAGS"
        return None, _why_not
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = (flags + " " + ONE_THREAD_FLAGS).strip()
    try:
        import jax
        import jax.numpy  # noqa: F401
    except Exception as exc:      # not installed, or a jaxlib that does not load here
        os.environ["XLA_FLAGS"] = flags
        _why_not = f"jax is not usable ({type(exc).__name__}: {exc})"
        return None, _why_not
    jax.config.update("jax_enable_x64", True)
    one_cpu(jax.devices)      # creates the CPU client, its thread pool sized for one CPU
    _jax = jax
    return _jax, None


def one_cpu(call):
    """call() with this thread's CPU affinity set to one of its CPUs, then the affinity of
    every thread of the process (those call() started inherit the one CPU) set back to this
    thread's (where the OS has no affinity, call() as it is)."""
    if not hasattr(os, "sched_setaffinity"):
        return call()
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(saved)})
    try:
        return call()
    finally:
        try:
            tids = [int(t) for t in os.listdir("/proc/self/task")]
        except OSError:
            tids = [0]
        for tid in tids:
            try:
                os.sched_setaffinity(tid, saved)
            except OSError:          # a thread that ended meanwhile
                pass


def version():
    """jax's version string, or None."""
    return getattr(_jax, "__version__", None)


def _activation(jnp, name):
    table = {"relu": lambda z: jnp.maximum(z, 0), "sigmoid": lambda z: 1 / (1 + jnp.exp(-z)),
             "tanh": jnp.tanh, "identity": lambda z: z,
             "softmax": lambda z: _softmax(jnp, z)}
    if name not in table:
        raise ValueError(f"activation: expected one of {sorted(table)}, got {name!r}")
    return table[name]


def _softmax(jnp, z):
    e = jnp.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _check_loss(loss, output):
    if loss == "cross_entropy" and output != "softmax":
        raise ValueError(f"loss: cross_entropy needs a softmax output, got output {output!r}")
    if loss not in ("cross_entropy", "mse"):
        raise ValueError(f"loss: expected 'cross_entropy' or 'mse', got {loss!r}")


class JaxMLP:
    """The forward pass and loss of an MLP in JAX: `acts` the activation of each layer
    (the last one the output's), `loss` "mse" (mean over all elements) or "cross_entropy"
    (softmax output, integer labels, mean over rows), as fastprop computes them."""

    def __init__(self, acts, loss):
        jax, why = load()
        if jax is None:
            raise ImportError(why)
        import jax.numpy as jnp
        _check_loss(loss, acts[-1])
        self.jax, self.jnp = jax, jnp
        self.acts, self.loss_name = list(acts), loss
        self.fns = [_activation(jnp, a) for a in acts]

    def logits(self, params, X):
        """The last layer's pre-activation."""
        A = X
        for (W, b), f in zip(params[:-1], self.fns[:-1]):
            A = f(A @ W + b)
        W, b = params[-1]
        return A @ W + b

    def output(self, params, X):
        """The output activations (probabilities for a softmax output)."""
        return self.fns[-1](self.logits(params, X))

    def loss(self, params, X, y):
        jnp = self.jnp
        Z = self.logits(params, X)
        if self.loss_name == "cross_entropy":
            m = Z.max(axis=1, keepdims=True)
            lse = jnp.log(jnp.exp(Z - m).sum(axis=1)) + m[:, 0]
            return jnp.mean(lse - jnp.take_along_axis(Z, y[:, None], axis=1)[:, 0])
        d = self.fns[-1](Z) - y
        return jnp.mean(d * d)


def as_params(weights, dtype):
    """((W, b), ...) of float `dtype` on the device, copies of the (W (n_in, n_out), b)
    pairs given."""
    jax, why = load()
    if jax is None:
        raise ImportError(why)
    return tuple((jax.device_put(np.array(W, dtype=dtype)),
                  jax.device_put(np.array(b, dtype=dtype))) for W, b in weights)


class JaxTrainer:
    """SGD on a JaxMLP from the given weights (torch.optim.SGD's rule: dampening 0, momentum
    buffer v = mu v + g, step g + mu v with Nesterov, else v; plain g without momentum).

    state: (params, velocity); `step(xb, yb)` one jitted step (asynchronous);
    `scan_epoch(Xs, Ys, Xr=None, Yr=None)` one jitted call over the full batches stacked in
    Xs (steps, batch, n_in) and then the remainder batch (Xr, Yr);
    `scan_shuffled_epoch(key, X, Y, batch)` the same after a jax.random permutation of the
    rows, inside the call; `block()` waits for the work dispatched."""

    def __init__(self, acts, loss, weights, dtype, lr, momentum=0.0, nesterov=False):
        self.mlp = mlp = JaxMLP(acts, loss)
        jax, jnp = mlp.jax, mlp.jnp
        self.dtype = np.dtype(dtype)
        params = as_params(weights, self.dtype)
        vel = jax.tree_util.tree_map(jnp.zeros_like, params) if momentum else None
        self.state = self.initial = (params, vel)
        lr, mu = float(lr), float(momentum)

        def update(state, xb, yb):
            params, vel = state
            loss, g = jax.value_and_grad(mlp.loss)(params, xb, yb)
            if vel is None:
                params = jax.tree_util.tree_map(lambda p, d: p - lr * d, params, g)
            else:
                vel = jax.tree_util.tree_map(lambda v, d: mu * v + d, vel, g)
                if nesterov:
                    g = jax.tree_util.tree_map(lambda d, v: d + mu * v, g, vel)
                else:
                    g = vel
                params = jax.tree_util.tree_map(lambda p, d: p - lr * d, params, g)
            return (params, vel), loss

        def epoch(state, Xs, Ys, Xr, Yr):
            state, losses = jax.lax.scan(lambda s, xy: update(s, *xy), state, (Xs, Ys))
            if Xr is not None:
                state, _ = update(state, Xr, Yr)
            return state, losses[-1]

        def shuffled_epoch(state, key, X, Y, batch):
            perm = jax.random.permutation(key, X.shape[0])
            X, Y = X[perm], Y[perm]
            full = X.shape[0] // batch * batch
            Xs = X[:full].reshape((-1, batch) + X.shape[1:])
            Ys = Y[:full].reshape((-1, batch) + Y.shape[1:])
            rest = (X[full:], Y[full:]) if full < X.shape[0] else (None, None)
            return epoch(state, Xs, Ys, *rest)

        def epochs(state, Xs, Ys, k):
            return jax.lax.scan(lambda s, _: epoch(s, Xs, Ys, None, None), state, None,
                                length=k)[0]

        self._step = jax.jit(update)
        self._epoch = jax.jit(epoch)
        self._shuffled = jax.jit(shuffled_epoch, static_argnums=(4,))
        self._epochs = jax.jit(epochs, static_argnums=(3,))
        self.last_loss = None

    def reset(self):
        """Back to the weights the trainer started from (its jitted functions are kept)."""
        self.state = self.initial

    def step(self, xb, yb):
        self.state, self.last_loss = self._step(self.state, xb, yb)

    def scan_epoch(self, Xs, Ys, Xr=None, Yr=None):
        self.state, self.last_loss = self._epoch(self.state, Xs, Ys, Xr, Yr)

    def scan_shuffled_epoch(self, key, X, Y, batch):
        self.state, self.last_loss = self._shuffled(self.state, key, X, Y, batch)

    def scan_epochs(self, Xs, Ys, k):
        """k epochs over the full batches Xs, Ys in one jitted call (lax.scan of epochs)."""
        self.state = self._epochs(self.state, Xs, Ys, k)

    def block(self):
        self.mlp.jax.block_until_ready(self.state)

    def predict(self, X):
        """The output activations of the current parameters for X, as numpy."""
        return np.asarray(self.mlp.output(self.state[0], X))

    def loss(self, X, y):
        """The mean loss on (X, y) of the current parameters (a float)."""
        return float(self.mlp.loss(self.state[0], X, y))

    def weights(self):
        """[(W, b), ...] as numpy arrays."""
        return [(np.asarray(W), np.asarray(b)) for W, b in self.state[0]]


def batches(X, y, batch, device=True):
    """(Xs, Ys, Xr, Yr): the full batches of (X, y) stacked (steps, batch, ...) and the
    remainder (None when batch divides the rows), on the device (device=False: numpy)."""
    n = X.shape[0]
    full = n // batch * batch
    Xs = X[:full].reshape((-1, batch) + X.shape[1:])
    Ys = y[:full].reshape((-1, batch) + y.shape[1:])
    out = [Xs, Ys] + ([X[full:], y[full:]] if full < n else [None, None])
    if device:
        jax, _ = load()
        out = [None if a is None else jax.device_put(a) for a in out]
    return tuple(out)


def step_batches(X, y, batch):
    """[(xb, yb), ...] on the device, the last one partial: the step loop's input."""
    jax, _ = load()
    return [(jax.device_put(X[s:s + batch]), jax.device_put(y[s:s + batch]))
            for s in range(0, X.shape[0], batch)]


def loss_check(fastprop_loss, jax_loss, dtype):
    """{"fastprop_loss", "jax_loss", "rel_diff", "tolerance", "ok"}: whether JAX's loss
    matches fastprop's to a relative tolerance of the dtype (1e-3 float32, 1e-7 float64:
    the same arithmetic in another summation order, over many steps)."""
    tol = 1e-3 if np.dtype(dtype) == np.float32 else 1e-7
    a, b = float(fastprop_loss), float(jax_loss)
    rel = abs(a - b) / max(abs(a), 1e-30)
    return {"fastprop_loss": a, "jax_loss": b, "rel_diff": rel, "tolerance": tol,
            "ok": bool(rel <= tol)}


def predictor(acts, weights, dtype):
    """f(x) -> numpy array: the jitted forward pass (output activations) of the weights
    given, its input a numpy array, its output brought back to numpy."""
    mlp = JaxMLP(acts, "mse")
    params = as_params(weights, dtype)
    fwd = mlp.jax.jit(mlp.output)
    return lambda x: np.asarray(fwd(params, x))
