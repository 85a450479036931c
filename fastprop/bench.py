"""`fastprop bench`: the headline measurement. For a ladder of networks it times one forward
pass (the loss), backprop (loss and whole gradient) and the finite-difference gradient, all in
compiled loops, and prints what each costs in forward passes: backprop about 2, FD N+1.

How each timing is taken (the JSON says it again, row by row):
- forward, backprop: `fastprop.timing.PassLoop` (`_network.repeat_passes`) runs `reps`
  passes in one compiled nogil call; reps is calibrated so one call lasts >= the target
  (20 ms; 5 ms with --quick); the time of a pass is the call's time / reps. The calibration's
  last call (at the chosen reps, not timed) is the warm-up (for FD: the call whose result is
  compared with backprop); then `repeats` calls, interleaved round-robin with the row's other
  timings (forward, backprop, FD, torch forward, torch backprop), in a new order each round
  (a seeded shuffle), so that a burst of load on a shared machine falls on all of them alike
  and no timing always follows the same one; the median is used. Every timed call follows
  untimed forward passes of its own library lasting half the target (10 ms by default): the
  timing before it leaves the machine in another library's state (measurements:
  docs/tuning.md). Ratios (bp/fwd, FD/fwd, FD/bp) are paired: the median over rounds of the
  ratio of two timings taken in the same round. FD/(N+1) (FD/2N, central) is FD/fwd over the
  passes the FD loop makes: 1 when a perturbed pass costs a forward pass.
- FD: `numerical_gradient` over an index list of m perturbations in one compiled call (forward
  scheme: 1 base pass + m passes; central: 2m passes). The list is all N indices repeated, or,
  where the full loop would exceed the FD budget, a fixed random sample of k indices (seed
  SAMPLE_SEED) repeated. Per-parameter cost p = (t_call - t_forward) / m (forward scheme) or
  t_call / m (central); the FD gradient's time is t_forward + N * p (forward) or N * p
  (central). Rows from a sample are marked "extrapolated from k of N".
- PyTorch (when importable): forward+loss under no_grad, and forward+loss+loss.backward(), in
  Python loops of `reps` calls (torch has no compiled repeat loop), same weights and batch,
  torch.set_num_threads matched to fastprop's.
This file must not change the kernels it measures: it only calls them."""
import argparse
import datetime
import json
import math
import os
import statistics
import sys
import tempfile
import time

import numpy as np

from fastprop import timing
from fastprop._cli_util import CommandError, int_option
from fastprop.timing import PassLoop, Timing, TorchMLP, interleave, paired_ratio

DEFAULT_SIZES = "2-3-1,4-16-1,16-64-4,64-128-10,256-256-10,784-256-10,1024-1024-10"
DATA_SEED = 0      # the batch X, y
WEIGHT_SEED = 0    # the network's initial weights
SAMPLE_SEED = 1234  # the FD parameter sample

PLOT_MISSING = ("--plot needs matplotlib, which is not installed; install the plot extra: "
                "pip install fastprop[plot]  (or: pip install matplotlib)")


# ---- the machine's load ------------------------------------------------------------------
def machine_load():
    """The 1-minute load average (runnable processes, machine-wide), or None where the
    system does not give one."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def busy_warning(load, cores, threads):
    """The header line that says the figures are unreliable, or None: when the load at start
    leaves fewer idle cores than the timing uses threads (half a core of slack), a thread
    waits for a core another process holds, and the times measure the wait. The same when
    more threads are asked than there are cores."""
    if not cores:
        return None
    if threads > cores:
        return (f"{threads} threads on {cores} cores: figures are unreliable; "
                f"try --threads {cores}")
    if load is None or cores - load >= threads - 0.5:
        return None
    advice = "try --threads 1" if threads > 1 else "run it again on an idle machine"
    return (f"the machine is busy (load {load:.1f} on {cores} cores): figures are unreliable; "
            f"{advice}")


# ---- the networks ------------------------------------------------------------------------
def parse_sizes(text):
    """'2-3-1,784-256-10' -> [[2, 3, 1], [784, 256, 10]]."""
    ladder = []
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        try:
            widths = [int(w) for w in item.split("-")]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected networks like 2-3-1,784-256-10 (layer widths joined by "
                f"'-', networks by ','), got {item!r}") from None
        if len(widths) < 2 or min(widths) < 1:
            raise argparse.ArgumentTypeError(
                f"expected at least two positive widths per network, got {item!r}")
        ladder.append(widths)
    if not ladder:
        raise argparse.ArgumentTypeError("expected at least one network, got none")
    return ladder


def build_network(widths, hidden, dtype):
    """The benchmark's network for `widths`: the tutorial's sigmoid output and MSE for one
    output, softmax + cross-entropy for several; `hidden` activations in between."""
    import fastprop as fp
    if widths[-1] == 1:
        output, loss = "sigmoid", "mse"
    else:
        output, loss = "softmax", "cross_entropy"
    return fp.mlp(widths, hidden=hidden, output=output, loss=loss, dtype=dtype, seed=WEIGHT_SEED)


def make_batch(net, batch):
    rng = np.random.default_rng(DATA_SEED)
    X = rng.standard_normal((batch, net.n_in)).astype(net.dtype)
    if net.loss_name == "cross_entropy":
        y = rng.integers(0, net.n_out, size=batch)
    else:
        y = rng.uniform(0.0, 1.0, size=(batch, net.n_out)).astype(net.dtype)
    return X, y


# ---- timing ------------------------------------------------------------------------------
ORDER_SEED = 4321  # the order of the timings in each round


def set_refill(timings, forward, t_forward, target, whose):
    """Before each timed call of `timings`: forward(r) untimed, r passes lasting target / 2."""
    r = max(1, int(math.ceil(target / 2 / max(t_forward, 1e-9))))
    for t in timings:
        t.set_refill(lambda: forward(r), f"{r} untimed forward passes of {whose}")


def fastprop_timings(net, X, y):
    """Forward (loss) and backprop, `reps` passes in one compiled nogil call."""
    return [Timing(name, PassLoop(net, X, y, backward),
                   f"_network.repeat_passes(backward={backward}): reps passes in one compiled "
                   f"nogil call; per pass = call / reps", True)
            for name, backward in (("forward", False), ("backprop", True))]


def fd_timing(net, X, y, scheme, t_forward, target, budget, sample):
    """The finite-difference loop over m perturbations in one compiled call: all N indices, or
    a fixed random sample of k when the full loop would exceed `budget` seconds, repeated
    `tiles` times so that the call lasts >= target. Returns the Timing (reps = 1: the repetition
    is inside the index list), the indices, and the FD entries for them."""
    import fastprop as fp
    N = net.n_params
    passes = N + 1 if scheme == "forward" else 2 * N
    extrapolated = passes * t_forward > budget and sample < N
    if extrapolated:
        rng = np.random.default_rng(SAMPLE_SEED)
        indices = np.sort(rng.choice(N, size=sample, replace=False)).astype(np.int64)
    else:
        indices = np.arange(N, dtype=np.int64)
    k = indices.shape[0]
    per_index = 1 if scheme == "forward" else 2
    tiles = max(1, int(math.ceil(target / max(k * per_index * t_forward, 1e-9))))
    idx = np.ascontiguousarray(np.tile(indices, tiles))
    # this call, which gives `numeric`, is the warm-up
    numeric = fp.numerical_gradient(net, X, y, scheme=scheme, indices=idx)[:k]

    def call(reps):
        for _ in range(reps):
            fp.numerical_gradient(net, X, y, scheme=scheme, indices=idx)
    how = (f"fastprop.numerical_gradient(scheme={scheme!r}, indices=idx), idx = "
           + (f"a sample of {k} of {N} parameters (numpy default_rng({SAMPLE_SEED}).choice, "
              f"no replacement, sorted)" if extrapolated else f"all {N} parameters")
           + f" repeated {tiles} times: m = {idx.shape[0]} perturbations in one compiled call")
    fd = Timing("fd", call, how, True)
    fd.meta = {"scheme": scheme, "extrapolated": bool(extrapolated), "k": int(k),
                   "m": int(idx.shape[0]), "tiles": int(tiles),
                   "sample_seed": SAMPLE_SEED if extrapolated else None,
                   "indices": indices.tolist() if extrapolated else None}
    return fd, indices, numeric


def fd_record(fd, calls, N, t_forward):
    """FD time of the whole gradient from the per-perturbation time of the timed calls."""
    meta = fd.meta
    m, scheme = meta["m"], meta["scheme"]
    base = t_forward if scheme == "forward" else 0.0
    per_param = [max(t - base, 0.0) / m for t in calls]
    fd_times = [base + N * p for p in per_param]
    if scheme == "forward":
        formula = ("fd_s = forward_s + N * per_param_s; per_param_s = (call_s - forward_s) / m "
                   "(the call is 1 base pass + m perturbed passes); forward_s = the row's "
                   "median forward time")
    else:
        formula = "fd_s = N * per_param_s; per_param_s = call_s / m (2 passes a perturbation)"
    return {"median_s": statistics.median(fd_times), "min_s": min(fd_times), "fd_s": fd_times,
            "call_s": list(calls), "per_param_s": per_param, **meta,
            "compiled_loop": True, "formula": formula, "how": fd.how}


def torch_timings(net, X, y, threads):
    """PyTorch autograd on the same network, weights and batch: (timings, grad), or None
    without torch or for a network torch has no counterpart of here."""
    try:
        import torch
        twin = TorchMLP.copy_of(net)
    except (ImportError, ValueError):
        return None
    torch.set_num_threads(threads)
    Xt, yt = twin.tensors(X, y)
    params = twin.parameters()

    def forward(reps):
        with torch.no_grad():
            for _ in range(reps):
                twin.loss(Xt, yt)

    def backprop(reps):
        for _ in range(reps):
            for p in params:
                p.grad = None
            twin.loss(Xt, yt).backward()

    backprop(1)
    return [Timing("torch_forward", forward, "Python loop of loss_fn(model(X), y) under "
                   "torch.no_grad(), reps calls a timing", False),
            Timing("torch_backprop", backprop, "Python loop of: param.grad = None; "
                   "loss_fn(model(X), y).backward(), reps calls a timing", False)], twin.grad()


def bench_network(widths, args, threads, use_torch):
    import fastprop as fp
    from fastprop.gradients import relative_error
    net = build_network(widths, args.hidden, args.dtype)
    X, y = make_batch(net, args.batch)
    N = net.n_params
    fwd, bp = fastprop_timings(net, X, y)
    t_fwd_estimate = fwd.calibrate(args.target)
    bp.calibrate(args.target)
    fd, indices, numeric = fd_timing(net, X, y, args.scheme, t_fwd_estimate, args.target,
                                     args.fd_budget, args.sample)
    set_refill([fwd, bp, fd], fwd.call, t_fwd_estimate, args.target,
               "fastprop (_network.repeat_passes, backward=False)")
    timings = [fwd, bp, fd]
    tr = torch_timings(net, X, y, threads) if use_torch else None
    if tr is not None:
        t_torch_fwd = tr[0][0].calibrate(args.target)
        tr[0][1].calibrate(args.target)
        set_refill(tr[0], tr[0][0].call, t_torch_fwd, args.target,
                   "torch (loss_fn(model(X), y) under no_grad)")
        timings += tr[0]
    # every timing is warm (its calibration's last call; FD: the call that gave `numeric`)
    calls = interleave(timings, args.repeats, warmup=0, order_seed=ORDER_SEED,
                       quiet_gc=False).wall

    _, grad = net.backprop(X, y)
    rel = relative_error(grad[indices], numeric)
    central = numeric if args.scheme == "central" else fp.numerical_gradient(
        net, X, y, scheme="central", indices=indices)
    rel_central = relative_error(grad[indices], central)
    a, c = grad[indices].astype(np.float64), central.astype(np.float64)
    # The same comparison norm-wise: ||a - n|| / ||a||. The entry-wise maximum above is set by
    # the gradient's smallest entries, where the loss's rounding over the FD step is largest
    # relative to the entry; the norm weighs each entry by its size.
    l2_central = float(np.linalg.norm(a - c) / max(np.linalg.norm(a), np.finfo(np.float64).tiny))
    forward, backprop = fwd.record(calls["forward"]), bp.record(calls["backprop"])
    t_fwd, t_bp = forward["median_s"], backprop["median_s"]
    fd_rec = fd_record(fd, calls["fd"], N, t_fwd)
    row = {
        "network": "-".join(str(w) for w in widths), "widths": widths, "N": N,
        "layers": [{"n_in": l.n_in, "n_out": l.n_out, "activation": l.activation}
                   for l in net.layers],
        "loss": net.loss_name, "batch": args.batch, "dtype": net.dtype.name,
        "forward": forward, "backprop": backprop, "fd": fd_rec,
        # Ratios are paired: each round-robin round times forward, backprop and FD (and
        # torch) once each, back to back, so the median of the per-round ratios cancels the
        # host's slow drifts, which a ratio of separate medians would keep.
        "backprop_fwd_equiv": paired_ratio(backprop["per_pass_s"], forward["per_pass_s"]),
        "fd_fwd_equiv": paired_ratio(fd_rec["fd_s"], forward["per_pass_s"]),
        "ratio_of_medians": {"backprop_fwd_equiv": t_bp / t_fwd,
                             "fd_fwd_equiv": fd_rec["median_s"] / t_fwd,
                             "speedup_fd_over_backprop": fd_rec["median_s"] / t_bp},
        "fd_passes_theory": N + 1 if args.scheme == "forward" else 2 * N,
        # FD/fwd over the passes the loop makes (N + 1 or 2N), paired like FD/fwd: 1 when one
        # perturbed pass costs one forward pass; its spread around 1 is the timing noise
        "fd_over_theory": paired_ratio(fd_rec["fd_s"], forward["per_pass_s"])
                          / (N + 1 if args.scheme == "forward" else 2 * N),
        # one FD perturbation costs one forward pass (two, central) by construction: this ratio
        # shows how close the two timings, taken in different compiled loops, came
        "fd_pass_over_forward_pass": statistics.median(fd_rec["per_param_s"]) / t_fwd
                                     / (1 if args.scheme == "forward" else 2),
        "speedup_fd_over_backprop": paired_ratio(fd_rec["fd_s"], backprop["per_pass_s"]),
        "max_rel_diff": rel, "max_rel_diff_central": rel_central,
        "l2_rel_diff_central": l2_central,
        "compared_entries": int(indices.shape[0]),
    }
    if tr is not None:
        import torch
        tf = tr[0][0].record(calls["torch_forward"])
        tb = tr[0][1].record(calls["torch_backprop"])
        row["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads(),
                        "forward": tf, "backprop": tb,
                        "backprop_fwd_equiv": tb["median_s"] / tf["median_s"],
                        "backprop_in_fastprop_fwd_equiv": tb["median_s"] / t_fwd,
                        "max_rel_diff_vs_fastprop": relative_error(grad, tr[1])}
    return row


# ---- output ------------------------------------------------------------------------------
def fmt_time(s):
    if not math.isfinite(s):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def fmt_ratio(x):
    if x >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}" if x < 10 else f"{x:.1f}"


def table(rows, scheme):
    has_torch = any("torch" in r for r in rows)
    head = ["network", "N", "forward", "backprop", f"FD ({scheme})", "bp/fwd", "FD/fwd",
            "FD/(N+1)" if scheme == "forward" else "FD/2N", "FD/bp", "max rel diff"]
    if scheme == "forward":
        head.append("central")
    head.append("central L2")
    if has_torch:
        head += ["torch fwd", "torch bp", "torch bp/fwd"]
    head.append("")
    lines = []
    for r in rows:
        cells = [r["network"], f"{r['N']:,}", fmt_time(r["forward"]["median_s"]),
                 fmt_time(r["backprop"]["median_s"]), fmt_time(r["fd"]["median_s"]),
                 fmt_ratio(r["backprop_fwd_equiv"]), fmt_ratio(r["fd_fwd_equiv"]),
                 f"{r['fd_over_theory']:.3f}", fmt_ratio(r["speedup_fd_over_backprop"]),
                 f"{r['max_rel_diff']:.1e}"]
        if scheme == "forward":
            cells.append(f"{r['max_rel_diff_central']:.1e}")
        cells.append(f"{r['l2_rel_diff_central']:.1e}")
        if has_torch:
            t = r.get("torch")
            cells += ([fmt_time(t["forward"]["median_s"]), fmt_time(t["backprop"]["median_s"]),
                       fmt_ratio(t["backprop_fwd_equiv"])] if t else ["-", "-", "-"])
        cells.append(f"* extrapolated from {r['fd']['k']} of {r['N']:,}"
                     if r["fd"]["extrapolated"] else "")
        lines.append(cells)
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(head)]
    left = {0, len(head) - 1}

    def render(cells):
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    out = [render(head), render(["-" * w for w in widths])] + [render(c) for c in lines]
    return "\n".join(out)


def plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = result["rows"]
    scheme = result["settings"]["scheme"]
    N = np.array([r["N"] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    lo, hi = max(1.0, N.min() / 2), N.max() * 2
    line_x = np.geomspace(lo, hi, 200)
    theory = line_x + 1 if scheme == "forward" else 2 * line_x
    ax.plot(line_x, theory, color="tab:red", lw=1, ls="--", alpha=0.7,
            label="N + 1 forward passes (finite differences, theory)" if scheme == "forward"
            else "2N forward passes (central differences, theory)")
    ax.axhspan(2, 3, color="tab:blue", alpha=0.10, lw=0, label="2-3 forward passes")
    full = [r for r in rows if not r["fd"]["extrapolated"]]
    extra = [r for r in rows if r["fd"]["extrapolated"]]
    ax.plot([r["N"] for r in full], [r["fd_fwd_equiv"] for r in full], "o", color="tab:red",
            ms=7, label=f"finite differences ({scheme}), measured in full")
    if extra:
        ax.plot([r["N"] for r in extra], [r["fd_fwd_equiv"] for r in extra], "o", mfc="none",
                color="tab:red", ms=7, mew=1.5,
                label=f"finite differences, extrapolated from {extra[0]['fd']['k']} parameters")
    ax.plot(N, [r["backprop_fwd_equiv"] for r in rows], "s-", color="tab:blue", ms=7,
            label="backprop (fastprop)")
    torch_rows = [r for r in rows if "torch" in r]
    if torch_rows:
        ax.plot([r["N"] for r in torch_rows],
                [r["torch"]["backprop_fwd_equiv"] for r in torch_rows], "^:",
                color="tab:green", ms=6, label="PyTorch autograd backward (own forward = 1)")
    for i, r in enumerate(rows):   # labels alternate between two heights so neighbours clear
        ax.annotate(r["network"], (r["N"], r["backprop_fwd_equiv"]), textcoords="offset points",
                    xytext=(0, -13 - 9 * (i % 2)), ha="center", fontsize=7, color="0.3")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    low = min([r["backprop_fwd_equiv"] for r in rows]
              + [r["torch"]["backprop_fwd_equiv"] for r in torch_rows])
    ax.set_ylim(min(0.3, low / 4), max(hi * 2, max(r["fd_fwd_equiv"] for r in rows) * 2))
    ax.set_xlabel("N, number of parameters")
    ax.set_ylabel("cost of the whole gradient, in forward passes")
    s = result["settings"]
    m = result["machine"]
    ax.set_title("The whole gradient: backprop ~2 forward passes, finite differences N + 1",
                 fontsize=11)
    torch_version = result["versions"].get("torch")
    fig.text(0.5, 0.005, f"fastprop {result['versions']['fastprop']}"
             + (f", PyTorch {torch_version}" if torch_version and torch_rows else "")
             + f"; {s['dtype']}, batch {s['batch']}, {s['hidden']} hidden; {m['cpu_model']}, "
             f"{result['threads']} thread(s), {result['simd_path']}; medians of {s['repeats']}"
             f"\n{result['command']}", ha="center", va="bottom", fontsize=7, color="0.35",
             linespacing=1.4)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    # the format from the extension, png without one (matplotlib would write path + ".png")
    fig.savefig(path, format=os.path.splitext(path)[1][1:].lower() or "png")
    plt.close(fig)


# ---- the command -------------------------------------------------------------------------
def hidden_activations():
    """The --hidden choices: every activation of fastprop.ACTIVATIONS a hidden layer takes."""
    import fastprop as fp
    return [name for name, act in fp.ACTIVATIONS.items() if not act.output_only]


def add_parser(sub):
    p = sub.add_parser(
        "bench", help="the headline: backprop against finite differences across network sizes",
        description="Times one forward pass, backprop and the finite-difference gradient for "
                    "a ladder of networks, in compiled loops, and prints each in forward-pass "
                    "equivalents. Backprop costs about 2; finite differences N + 1.")
    p.add_argument("--sizes", type=parse_sizes, default=None, metavar="A-B-C,...",
                   help=f"networks as layer widths (default: {DEFAULT_SIZES})")
    p.add_argument("--batch", type=_positive_int, default=32, help="batch rows (default 32)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.add_argument("--scheme", choices=("forward", "central"), default="forward",
                   help="finite-difference scheme: N+1 passes (forward) or 2N (central)")
    p.add_argument("--hidden", default="sigmoid", choices=hidden_activations(),
                   help="hidden-layer activation (default sigmoid, the tutorial's)")
    p.add_argument("--repeats", type=_positive_int, default=None,
                   help="timed calls per measurement, after a warm-up; medians (default 5, "
                        "3 with --quick)")
    p.add_argument("--threads", type=_thread_count, default=None,
                   help="threads for fastprop and torch (default: fastprop's current count)")
    p.add_argument("--fd-budget", type=_budget, default=None, metavar="SECONDS",
                   help="time the FD loop over a sample of parameters when the full loop "
                        "would take longer than this (default 2 s, 0.25 s with --quick)")
    p.add_argument("--sample", type=_positive_int, default=None, metavar="K",
                   help="parameters in the FD sample (default 64, 8 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="short timings (5 ms a call, 3 repeats, small FD sample): < 30 s, for CI")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    p.add_argument("--json", type=_output_file, metavar="FILE",
                   help="write every raw timing and the machine here")
    p.add_argument("--plot", type=_plot_file, metavar="FILE.png",
                   help="plot cost in forward passes against N (needs matplotlib: the plot extra)")
    p.set_defaults(func=run)
    return p


_positive_int = int_option(1, "a positive integer")


def _thread_count(text):
    """--threads: what fastprop.set_num_threads accepts (1 to its limit)."""
    from fastprop import _max_threads
    value = _positive_int(text)
    if value > _max_threads():
        raise argparse.ArgumentTypeError(f"expected a number of threads from 1 to "
                                         f"{_max_threads()}, got {value}")
    return value


def _budget(text):
    """--fd-budget: seconds, finite and >= 0 (0: always time the FD loop over a sample)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds >= 0, got {text!r}")
    return value


def _output_file(text):
    """--json, --plot: a file the run can write when it ends, checked now rather than after
    minutes of timing: its directory exists and takes a new file; the path is not a directory,
    nor an existing file that cannot be written."""
    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got an empty string")
    if text.endswith(os.sep) or (os.altsep and text.endswith(os.altsep)):
        raise argparse.ArgumentTypeError(f"expected a file name, got a directory path {text!r}")
    directory = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(directory):
        what = "is not a directory" if os.path.exists(directory) else "does not exist"
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: directory {directory!r} {what}")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: it is a directory")
    try:    # a real probe (os.access says yes to root even where nothing can be created)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: directory {directory!r} does "
                                         f"not take new files ({exc.strerror})") from None
    if os.path.exists(text) and not os.access(text, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: the file exists and is not "
                                         f"writable")
    return text


def _plot_file(text):
    """--plot: a writable file (as _output_file) whose extension matplotlib can write (png,
    pdf, svg, ...; none means png), and matplotlib importable."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise argparse.ArgumentTypeError(PLOT_MISSING[len("--plot "):]) from None
    text = _output_file(text)
    ext = os.path.splitext(text)[1][1:].lower()
    formats = FigureCanvasBase.get_supported_filetypes()
    if ext and ext not in formats:
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: matplotlib writes "
                                         f"{', '.join(sorted(formats))}, not {ext!r}")
    if ext == "pgf":     # listed, but written through a TeX installation
        import shutil
        tex = matplotlib.rcParams["pgf.texsystem"]
        if shutil.which(tex) is None:
            raise argparse.ArgumentTypeError(f"cannot write {text!r}: matplotlib writes pgf "
                                             f"through {tex}, which is not installed")
    return text


def _method_text():
    """The module docstring's account of how each timing is taken (absent under python -OO)."""
    doc = __doc__ or ""
    if "How each timing is taken" not in doc:
        return "see the docstring of fastprop/bench.py"
    text = doc.split("How each timing is taken")[1].split("This file")[0]
    return " ".join(text.split("row by row):", 1)[-1].split())


def command_line(args):
    """The command that reproduces this run (options that differ from the defaults)."""
    parts = ["fastprop bench"]
    if args.quick:
        parts.append("--quick")
    if args.sizes:
        parts.append("--sizes " + ",".join("-".join(map(str, w)) for w in args.sizes))
    for flag, value, default in (("--batch", args.batch, 32), ("--dtype", args.dtype, "float64"),
                                 ("--scheme", args.scheme, "forward"),
                                 ("--hidden", args.hidden, "sigmoid"),
                                 ("--repeats", args.repeats, None),
                                 ("--threads", args.threads, None),
                                 ("--fd-budget", args.fd_budget, None),
                                 ("--sample", args.sample, None)):
        if value != default:
            parts.append(f"{flag} {value}")
    if args.no_torch:
        parts.append("--no-torch")
    if args.json:
        parts.append(f"--json {args.json}")
    if args.plot:
        parts.append(f"--plot {args.plot}")
    return " ".join(parts)


def _check_ladder(ladder, args):
    """Builds each network and its batch once before any timing: one that cannot be built (too
    deep, too large for memory) stops the command with an error line (cli.CommandError)."""
    for widths in ladder:
        name = "-".join(map(str, widths))
        try:
            make_batch(build_network(widths, args.hidden, args.dtype), args.batch)
        except MemoryError as exc:
            raise CommandError(f"--sizes {name} with --batch {args.batch}: not enough memory "
                               f"({str(exc) or 'MemoryError'})") from None
        except (ValueError, TypeError) as exc:
            raise CommandError(f"--sizes {name}: {exc}") from None


def run(args):
    import fastprop as fp
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print(f"fastprop bench: {PLOT_MISSING}", file=sys.stderr)
            return 2
    command = command_line(args)
    ladder = args.sizes or parse_sizes(DEFAULT_SIZES)
    args.repeats = args.repeats or (3 if args.quick else 5)
    args.target = 0.005 if args.quick else 0.020
    if args.fd_budget is None:
        args.fd_budget = 0.25 if args.quick else 2.0
    if args.sample is None:
        args.sample = 8 if args.quick else 64
    if args.threads is not None:
        fp.set_num_threads(args.threads)
    threads = fp.get_num_threads()
    use_torch = not args.no_torch
    # Measured before any timing: the command's own work must not count as the machine's.
    load, cores = machine_load(), os.cpu_count()
    busy = busy_warning(load, cores, threads)
    _check_ladder(ladder, args)

    start = time.perf_counter()
    print(f"fastprop {fp.__version__}: backprop against finite differences ({args.scheme} "
          f"scheme), {args.dtype}, batch {args.batch}, {args.hidden} hidden, {threads} "
          f"thread(s), simd {fp.simd_path()}", flush=True)
    if busy:
        print(busy, flush=True)
    rows = []
    live = sys.stderr.isatty()
    for widths in ladder:
        if live:
            print(f"  timing {'-'.join(map(str, widths))} ...", end="\r", file=sys.stderr,
                  flush=True)
        rows.append(bench_network(widths, args, threads, use_torch))
    if live:
        print(" " * 40, end="\r", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - start
    print(table(rows, args.scheme))
    print(f"times: medians of {args.repeats} after a warm-up, each from a compiled loop of "
          f">= {args.target * 1e3:g} ms; bp/fwd and FD/fwd: cost in forward passes; "
          + ("FD/(N+1): FD/fwd over the N + 1 passes the loop makes"
             if args.scheme == "forward" else "FD/2N: FD/fwd over the 2N passes the loop makes")
          + " (1 = a perturbed pass costs a forward pass; the spread is timing noise); "
          f"FD/bp: speedup of backprop (ratios: median over rounds of the ratio within a "
          f"round).")
    print(f"max rel diff: backprop against the FD gradient"
          + (" (and against central differences on the same entries)"
             if args.scheme == "forward" else "")
          + ", max |a-n| / max(|a|, |n|, 1e-3 max|a|); central L2: ||a-n|| / ||a|| "
          "against central differences.")
    if any(r["fd"]["extrapolated"] for r in rows):
        print("* FD timed on a random sample of k parameters and extrapolated to N: "
              "forward + N x per-parameter time (see --json).")
    torch_rows = [r for r in rows if "torch" in r]
    if torch_rows:
        print(f"torch: PyTorch {torch_rows[0]['torch']['version']} autograd, same weights and batch, "
              f"{threads} thread(s); torch bp/fwd in torch's own forward passes.")
    print(f"total {elapsed:.1f} s")

    result = {
        "schema": "fastprop-bench/1",
        "command": command,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "elapsed_s": elapsed,
        "machine": timing.machine_info(),
        "versions": timing.versions(("torch",), probe=use_torch),
        "threads": threads,
        "load": {"load_average_1min": load, "cpu_count": cores, "warning": busy},
        "simd_path": fp.simd_path(),
        "settings": {"sizes": [r["network"] for r in rows], "batch": args.batch,
                     "dtype": args.dtype, "scheme": args.scheme, "hidden": args.hidden,
                     "repeats": args.repeats, "target_call_s": args.target,
                     "fd_budget_s": args.fd_budget, "fd_sample": args.sample,
                     "quick": bool(args.quick), "data_seed": DATA_SEED,
                     "weight_seed": WEIGHT_SEED, "sample_seed": SAMPLE_SEED},
        "method": {
            "compiled_loops": ["forward", "backprop", "fd"],
            "python_loops": ["torch.forward", "torch.backprop"],
            "timings": _method_text(),
            "max_rel_diff": "fastprop.gradients.relative_error(backprop[idx], fd[idx]) over the "
                            "FD entries computed (all N, or the sample): max |a-n| / max(|a|, "
                            "|n|, 1e-3 max|a|); max_rel_diff_central: the same against the "
                            "central scheme; l2_rel_diff_central: ||a-n||_2 / ||a||_2 against "
                            "the central scheme on the same entries",
        },
        "rows": rows,
    }
    if args.json:
        try:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=1)
        except OSError as exc:     # checked at parse time; a full disk shows only now
            raise CommandError(f"--json: could not write {args.json!r}: {exc}") from None
        print(f"wrote {args.json}")
    if args.plot:
        plot(result, args.plot)
        print(f"wrote {args.plot}")
    return 0
