"""The timing harness of `fastprop bench` and of benchmarks/: one place for how a measurement
is taken and reported.

- `calibrate`: how many repetitions make one timed call last a target time;
- `Timing`: one thing to time (a callable of `reps`), calibrated, its calls recorded;
- `interleave`: round-robin timing of several contenders (rotated or seeded-shuffled order),
  one sample each per round, with the samples' wall time and the calling thread's CPU time;
- `median`, `spread`, `summary`, `paired_ratio`: the statistics reported;
- `cpu_info`, `machine_info`, `versions`: the machine report (CPU model, flags, cores,
  versions);
- `PassLoop`: `reps` forward or backprop passes of a network in one compiled, nogil call,
  for passes shorter than a Python call;
- `gemm_kernel`: fastprop's compiled GEMM for one dtype, for timing it against numpy;
- `TorchMLP`: the PyTorch counterpart of a fastprop network (torch is imported only here,
  when it is asked for).

Nothing here changes what it times: it only calls it."""
import gc
import math
import os
import platform
import random
import statistics
import time
from collections import namedtuple

import numpy as np

__all__ = ["calibrate", "Timing", "interleave", "Samples", "median", "spread", "summary",
           "paired_ratio", "cpu_info", "machine_info", "versions", "PassLoop", "gemm_kernel",
           "TorchMLP", "TORCH_ACTIVATIONS"]


# ---- calibration and timing ---------------------------------------------------------------
def calibrate(run, target, start=1, cap=None):
    """The repetition count for one call of `run` to last >= `target` seconds: run(reps)
    runs `reps` repetitions and returns the seconds it took; reps starts at `start` and grows
    geometrically (to 1.25 x the estimate, at most 1000-fold a step) until a call lasts the
    target or reaches `cap`. Returns (reps, seconds of that last call), which was the
    warm-up."""
    reps = start
    while True:
        elapsed = run(reps)
        if elapsed >= target or (cap is not None and reps >= cap):
            return reps, elapsed
        grow = target / elapsed * 1.25 if elapsed > 0 else 1000.0
        reps = max(reps + 1, int(math.ceil(reps * min(grow, 1000.0))))
        if cap is not None:
            reps = min(reps, cap)


def _timed(call):
    """run(reps) for calibrate: the seconds call(reps) takes."""
    def run(reps):
        t0 = time.perf_counter()
        call(reps)
        return time.perf_counter() - t0
    return run


class Timing:
    """One thing to time: call(reps) runs `reps` of it. `calibrate(target)` picks reps so one
    call lasts >= target (its last call is the warm-up); `sample()` is one timed call (after
    `refill()`, untimed, when set) and returns its seconds; `record(calls)` summarises the
    seconds of the timed calls. `interleave(timings, ...)` takes Timing objects as they
    are."""

    def __init__(self, name, call, how, compiled):
        self.name, self.call, self.how, self.compiled = name, call, how, compiled
        self.reps = 1
        self.refill = None   # untimed work before each timed call (see set_refill)
        self.meta = {}

    def calibrate(self, target):
        """Sets reps; returns the time of one rep in the last (warm-up) call."""
        self.reps, elapsed = calibrate(_timed(self.call), target)
        return elapsed / self.reps

    def set_refill(self, refill, note):
        """refill() runs untimed before each timed call; `note` says what, in `how`."""
        self.refill = refill
        self.how += f"; each timed call after {note}"

    def sample(self):
        if self.refill is not None:
            self.refill()
        t0 = time.perf_counter()
        self.call(self.reps)
        return time.perf_counter() - t0

    def record(self, calls):
        """The summary of the timed calls' seconds `calls` (from interleave)."""
        per = [t / self.reps for t in calls]
        return {"median_s": statistics.median(per), "min_s": min(per), "per_pass_s": per,
                "call_s": list(calls), "reps": self.reps, "compiled_loop": self.compiled,
                "how": self.how}


Samples = namedtuple("Samples", "wall cpu")
Samples.__doc__ = """interleave's result: wall[name] is the list of figures each sample of
contender `name` returned; cpu[name] the same figures scaled by the calling thread's CPU time
over the wall time of the sample (with one thread all the work runs on this thread, so that
figure leaves out the time the host's other load took the core away)."""


def interleave(contenders, repeats, warmup=1, gap=0.0, order_seed=None, quiet_gc=True):
    """Round-robin timing: `repeats` rounds of one sample of each contender, so that a burst
    of load on a shared machine falls on all of them alike rather than on one.

    contenders: (name, fn) pairs or Timing objects (name, fn = timing.sample); fn() takes one
    sample and returns its figure (seconds, or seconds per unit). `warmup` rounds first, not
    recorded. Order: rotated by one each round, or, with `order_seed`, a new seeded shuffle
    each round (a rotation keeps every contender behind the same one). `gap` seconds of
    sleep after each sample (for thread pools that spin after a multi-threaded call).
    quiet_gc: a gc.collect() before each sample and the collector off during it. Returns
    Samples(wall, cpu)."""
    pairs = [(c.name, c.sample) if isinstance(c, Timing) else tuple(c) for c in contenders]
    wall = {name: [] for name, _ in pairs}
    cpu = {name: [] for name, _ in pairs}
    order_rng = random.Random(order_seed) if order_seed is not None else None
    k = len(pairs)
    gc_was = gc.isenabled()

    def one(fn):
        if quiet_gc:
            gc.collect()
            gc.disable()
        try:
            w0, c0 = time.perf_counter(), time.thread_time()
            figure = fn()
            c1, w1 = time.thread_time(), time.perf_counter()
        finally:
            if quiet_gc and gc_was:
                gc.enable()
        if gap:
            time.sleep(gap)
        return figure, figure * (c1 - c0) / max(w1 - w0, 1e-12)

    for _ in range(warmup):
        for _, fn in pairs:
            one(fn)
    for r in range(repeats):
        if order_rng is not None:
            order = list(pairs)
            order_rng.shuffle(order)
        else:
            order = pairs[r % k:] + pairs[:r % k]
        for name, fn in order:
            figure, cpu_figure = one(fn)
            wall[name].append(figure)
            cpu[name].append(cpu_figure)
    return Samples(wall, cpu)


# ---- statistics ---------------------------------------------------------------------------
def median(xs):
    """The median; nan for no samples."""
    return statistics.median(xs) if len(xs) else float("nan")


def spread(xs):
    """Relative inter-quartile spread of the samples (a noise figure); nan under 3."""
    if len(xs) < 3:
        return float("nan")
    q = statistics.quantiles(xs, n=4)
    m = median(xs)
    return (q[2] - q[0]) / m if m else float("nan")


def summary(xs, unit):
    return {"median": median(xs), "min": min(xs), "max": max(xs), "spread": spread(xs),
            "samples": list(xs), "unit": unit}


def paired_ratio(numerators, denominators):
    """Median over rounds of numerator / denominator, both timed in the same round: it
    cancels the host's slow drifts, which a ratio of separate medians would keep."""
    return statistics.median(a / b for a, b in zip(numerators, denominators))


# ---- the machine --------------------------------------------------------------------------
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512vl", "avx512bw")


def cpu_info():
    """What /proc/cpuinfo says (Linux; {} elsewhere): its first "model name", "vendor_id",
    "cpu family", "model" and "stepping" lines as they are, "simd_flags" (the SIMD_FLAGS the
    CPU has, sorted), "cpu_mhz" (every core's current MHz), "physical_cores" (distinct
    physical id / core id pairs, when listed) and, for AMD family 23/25,
    "microarchitecture_guess"."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return {}
    info, mhz, cores = {}, [], set()
    phys = None
    for line in text.splitlines():
        if ":" not in line:
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "cpu MHz":
            mhz.append(float(value))
        elif key == "physical id":
            phys = value
        elif key == "core id":
            cores.add((phys, value))
        elif key in ("model name", "cpu family", "model", "stepping", "flags", "vendor_id") \
                and key not in info:
            info[key] = value
    flags = set(info.pop("flags", "").split())
    info["simd_flags"] = sorted(f for f in flags if f in SIMD_FLAGS)
    info["cpu_mhz"] = mhz
    if cores:
        info["physical_cores"] = len(cores)
    try:
        fam, mod = int(info.get("cpu family", 0)), int(info.get("model", 0))
        if info.get("vendor_id") == "AuthenticAMD" and fam == 25:
            info["microarchitecture_guess"] = (
                "Zen 4" if 0x10 <= mod <= 0x1F or 0x60 <= mod <= 0x7F or 0xA0 <= mod
                else "Zen 3")
        elif info.get("vendor_id") == "AuthenticAMD" and fam == 23:
            info["microarchitecture_guess"] = "Zen / Zen 2"
    except ValueError:
        pass
    return info


def machine_info(cpu=None):
    """The machine as `fastprop bench --json` reports it: platform, machine, cpu_model,
    logical_cores, cpu_family and model (x86), physical_cores, isa_flags (sse4_2, avx, avx2,
    fma, avx512f: those the CPU has), usable_cores (affinity), load_average. `cpu`: a
    cpu_info() already read."""
    cpu = cpu_info() if cpu is None else cpu
    info = {"platform": platform.platform(), "machine": platform.machine(),
            "cpu_model": cpu.get("model name") or platform.processor() or "unknown",
            "logical_cores": os.cpu_count()}
    for key in ("cpu family", "model"):
        if key in cpu:
            info[key.replace(" ", "_")] = cpu[key]
    if "simd_flags" in cpu:
        info["isa_flags"] = [f for f in SIMD_FLAGS[:5] if f in cpu["simd_flags"]]
    if "physical_cores" in cpu:
        info["physical_cores"] = cpu["physical_cores"]
    if hasattr(os, "sched_getaffinity"):
        info["usable_cores"] = len(os.sched_getaffinity(0))
    try:
        info["load_average"] = list(os.getloadavg())
    except OSError:
        pass
    return info


def versions(optional=(), probe=True):
    """python, numpy and fastprop versions, and each module named in `optional` ("torch",
    "sklearn", ...): its __version__, None when it is not installed (or, with probe=False,
    not looked for: a run that leaves it out)."""
    import importlib
    import fastprop
    v = {"python": platform.python_version(), "numpy": np.__version__,
         "fastprop": fastprop.__version__}
    for name in optional:
        v[name] = None
        if probe:
            try:
                v[name] = getattr(importlib.import_module(name), "__version__", None)
            except ImportError:
                pass
    return v


# ---- what is timed ------------------------------------------------------------------------
class PassLoop:
    """loop(reps): `reps` passes of `net` on (X, y) in one compiled call that releases the
    GIL: the loss (backward=False) or the loss and whole gradient (backward=True, into
    loop.grad, laid out like net.params). Returns the last pass's loss. X and y are checked
    and converted once, here, not in the timed call."""

    def __init__(self, net, X, y, backward=False):
        self.net, self.backward = net, bool(backward)
        self.X, self.Y = net._inputs(X, y)
        self.grad = np.empty_like(net.params)
        self.rows = self.X.shape[0]

    def __call__(self, reps):
        return self.net._repeat_passes(self.X, self.Y, self.grad, self.backward, reps)


def gemm_kernel(dtype):
    """fastprop's compiled GEMM for `dtype` (float32 or float64): gemm(trans_a, trans_b,
    alpha, A, B, beta, C) computes C = alpha op(A) op(B) + beta C in place, A, B, C
    C-contiguous of that dtype. (The compiled function is fused over both dtypes and would
    pick the float64 version from a Python float alpha: this is the one for `dtype`.)"""
    from fastprop import _core
    name = {"float32": "float", "float64": "double"}[np.dtype(dtype).name]
    sigs = getattr(_core.gemm, "__signatures__", None) or {}
    return sigs.get(name, _core.gemm)


# PyTorch modules by fastprop activation name; None: no module (identity, and softmax, which
# the loss applies: CrossEntropyLoss takes the logits).
TORCH_ACTIVATIONS = {
    "identity": None, "softmax": None,
    "sigmoid": lambda nn: nn.Sigmoid(), "tanh": lambda nn: nn.Tanh(),
    "relu": lambda nn: nn.ReLU(), "leaky_relu": lambda nn: nn.LeakyReLU(0.01),
    "gelu": lambda nn: nn.GELU(), "gelu_tanh": lambda nn: nn.GELU(approximate="tanh"),
    "silu": lambda nn: nn.SiLU(), "elu": lambda nn: nn.ELU(), "softplus": lambda nn: nn.Softplus(),
}


class TorchMLP:
    """The PyTorch counterpart of a fastprop MLP: torch.nn.Sequential of Linear layers and
    their activations, and the loss module: CrossEntropyLoss (softmax output) and
    BCEWithLogitsLoss (sigmoid output) on the logits, as fastprop computes them; MSELoss, and
    BCELoss after a softmax, on the output activation. Mean reduction, as fastprop.

    layers: (n_in, n_out, activation) triples; weights: (W (n_in, n_out), b) pairs to copy,
    or None for torch's own initialisation (torch.manual_seed(seed) first). Raises
    ValueError for an activation or loss with no PyTorch counterpart here, ImportError
    without torch. TorchMLP.copy_of(net): the same layers and weights as a fastprop network."""

    def __init__(self, layers, loss, dtype, weights=None, seed=0):
        import torch
        nn = torch.nn
        self.torch = torch
        self.dtype = getattr(torch, np.dtype(dtype).name)
        self.loss_name = loss
        layers = [tuple(l) for l in layers]
        output = layers[-1][2]
        for _, _, act in layers:
            if act not in TORCH_ACTIVATIONS:
                raise ValueError(f"no PyTorch counterpart for activation {act!r}")
        if loss == "cross_entropy" and output == "softmax":
            self.loss_fn, last = nn.CrossEntropyLoss(), None      # takes the logits
        elif loss == "binary_cross_entropy" and output == "sigmoid":
            self.loss_fn, last = nn.BCEWithLogitsLoss(), None     # takes the logits
        elif loss in ("mse", "binary_cross_entropy"):
            self.loss_fn = nn.MSELoss() if loss == "mse" else nn.BCELoss()
            last = (lambda nn: nn.Softmax(dim=1)) if output == "softmax" \
                else TORCH_ACTIVATIONS[output]
        else:
            raise ValueError(f"no PyTorch counterpart here for loss {loss!r} after a "
                             f"{output!r} output")
        if weights is None:
            torch.manual_seed(seed)
        modules, self.linears = [], []
        for i, (n_in, n_out, act) in enumerate(layers):
            lin = nn.Linear(n_in, n_out)
            self.linears.append(lin)
            modules.append(lin)
            make = TORCH_ACTIVATIONS[act] if i < len(layers) - 1 else last
            if make is not None:
                modules.append(make(nn))
        self.model = nn.Sequential(*modules).to(self.dtype)
        if weights is not None:
            with torch.no_grad():
                for lin, (W, b) in zip(self.linears, weights):
                    lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(np.asarray(W).T)))
                    lin.bias.copy_(torch.from_numpy(np.array(b)))

    @classmethod
    def copy_of(cls, net):
        return cls([(l.n_in, l.n_out, l.activation) for l in net.layers], net.loss_name,
                   net.dtype, weights=[(l.W, l.b) for l in net.layers])

    def parameters(self):
        return list(self.model.parameters())

    def tensors(self, X, y):
        """X, y as torch tensors of the model's dtype (1-D cross-entropy targets as integer
        labels; other 1-D targets, of one output, as a column), done once, outside any
        timing."""
        torch = self.torch
        Xt = torch.from_numpy(np.ascontiguousarray(X)).to(self.dtype)
        y = np.ascontiguousarray(y)
        if self.loss_name == "cross_entropy" and y.ndim == 1:
            return Xt, torch.from_numpy(y).long()
        yt = torch.from_numpy(y).to(self.dtype)
        return Xt, (yt.reshape(Xt.shape[0], -1) if yt.dim() == 1 else yt)

    def loss(self, Xt, yt):
        return self.loss_fn(self.model(Xt), yt)

    def grad(self):
        """The gradient of the last backward(), laid out like fastprop's params."""
        return np.concatenate([g for lin in self.linears for g in
                               (lin.weight.grad.numpy().T.ravel(), lin.bias.grad.numpy())])
