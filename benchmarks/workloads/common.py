"""What the workloads share: the setup of a run and the summaries of interleaved samples."""
from dataclasses import dataclass
from typing import Any, Callable, List

from fastprop.timing import summary


@dataclass(frozen=True)
class Setup:
    """One run of benchmarks/compare.py: the thread control (machine.Threads), the thread
    counts, --quick, the torch and sklearn modules, jax (benchmarks/jax_peer.py loaded it for
    one thread) and onnxruntime (None when not installed), and the log."""
    th: Any
    threads: List[int]
    quick: bool
    torch: Any
    sklearn: Any
    log: Callable[[str], None]
    jax: Any = None
    ort: Any = None


def gap(t):
    """Seconds of pause after each sample with t threads: after a multi-threaded contender
    its runtime's workers may spin for a while (OpenBLAS's thread server, OpenMP)."""
    return 0.05 if t > 1 else 0.0


def speedup_row(samples, unit):
    """Summaries of interleave's Samples (wall and thread CPU time, in `unit`), with each
    peer's speedup over fastprop (peer time / fastprop time) by wall time and by CPU time."""
    row = {c: summary(v, unit) for c, v in samples.wall.items()}
    row["cpu_time"] = {c: summary(v, unit) for c, v in samples.cpu.items()}
    peers = [c for c in samples.wall if c != "fastprop"]
    row["speedup"] = {c: row[c]["median"] / row["fastprop"]["median"] for c in peers}
    row["cpu_time_speedup"] = {c: row["cpu_time"][c]["median"]
                               / row["cpu_time"]["fastprop"]["median"] for c in peers}
    return row


def with_best(row, name, variants):
    """Adds to a speedup_row the peer `name`: the faster (by median wall time) of its
    `variants` (peer names in the row), as row["best_variant"][name], and its speedups."""
    best = min(variants, key=lambda v: row[v]["median"])
    row.setdefault("best_variant", {})[name] = best
    row["speedup"][name] = row["speedup"][best]
    row["cpu_time_speedup"][name] = row["cpu_time_speedup"][best]
    return row


def jax_here(setup, t):
    """Whether JAX is timed with t threads: installed, and t == 1 (XLA's threads are set
    once, at import, to one)."""
    return setup.jax is not None and t == 1


def weights_of(net):
    """[(W, b), ...] copies of a fastprop network's parameters, and its activations."""
    import numpy as np
    return ([(np.array(l.W), np.array(l.b)) for l in net.layers],
            [l.activation for l in net.layers])


def jax_trainers(net, lr, momentum=0.0, nesterov=False):
    """Two JaxTrainers (for the scan and the step-loop variant) from `net`'s weights."""
    import jax_peer
    weights, acts = weights_of(net)
    return tuple(jax_peer.JaxTrainer(acts, net.loss_name, weights, net.dtype, lr, momentum,
                                     nesterov) for _ in range(2))


def jax_fresh_check(make_net, trainers, X, y, batch, epochs, lr, momentum=0.0,
                    nesterov=False):
    """The peer computes the same thing: a fresh network from make_net() and the two
    JaxTrainers (scan, loop) of the timing, reset to their initial weights (which must be the
    fresh network's), each train `epochs` epochs on (X, y) in order (no shuffling), fastprop
    by fit, JAX by its scan and its step loop; their losses on (X, y) compared
    (jax_peer.loss_check), {"how", "scan": ..., "loop": ...}. The trainers are reset after."""
    import numpy as np

    import fastprop as fp
    import jax_peer
    net = make_net()
    scan, loop = trainers
    fresh = [a for pair in weights_of(net)[0] for a in pair]
    for tr in trainers:
        tr.reset()
        mine = [a for pair in tr.weights() for a in pair]
        if not all(np.array_equal(a, b) for a, b in zip(fresh, mine)):
            raise ValueError("trainers: expected JaxTrainers started from make_net()'s "
                             "weights")
    net.fit(X, y, epochs=epochs, batch_size=batch, shuffle=False,
            optimizer=fp.SGD(lr=lr, momentum=momentum, nesterov=nesterov))
    Xs, Ys, Xr, Yr = jax_peer.batches(X, y, batch)
    steps = jax_peer.step_batches(X, y, batch)
    for _ in range(epochs):
        scan.scan_epoch(Xs, Ys, Xr, Yr)
        for xb, yb in steps:
            loop.step(xb, yb)
    ref = net.loss(X, y)
    out = {"how": f"fresh networks, {epochs} epoch(s) of batch {batch} in order",
           "scan": jax_peer.loss_check(ref, scan.loss(X, y), net.dtype),
           "loop": jax_peer.loss_check(ref, loop.loss(X, y), net.dtype)}
    for tr in trainers:
        tr.reset()
    return out


def log_check(setup, name, check):
    """Logs a loss check's outcome (a WARNING when JAX's loss differs from fastprop's)."""
    for v in ("scan", "loop"):
        c = check[v]
        if not c["ok"]:
            setup.log(f"  WARNING: {name}: JAX ({v}) loss {c['jax_loss']:.9g} differs from "
                      f"fastprop's {c['fastprop_loss']:.9g} (rel {c['rel_diff']:.2g} > "
                      f"{c['tolerance']:g}): the peer does not compute the same thing")
    setup.log(f"  {name}: JAX loss check ({check['how']}): " + ", ".join(
        f"{v} rel diff {check[v]['rel_diff']:.1e} {'ok' if check[v]['ok'] else 'FAILED'}"
        for v in ("scan", "loop")))
