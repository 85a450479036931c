"""9. partial_fit-style loops (one thread): an epoch of a digits-sized set (1437 rows of 64
features, 10 classes, synthetic) through a 64-64-10 relu/softmax float64 network, one
`net.fit(Xb, yb, epochs=1, batch_size=len(Xb), shuffle=False)` a mini-batch of 32 (the last
one of 29), as scikit-learn's estimators call partial_fit; per step, against PyTorch's
idiomatic step loop, JAX's jitted step loop and JAX's epoch under lax.scan (the faster JAX
variant is the peer). JAX starts from fastprop's weights and runs the same steps, so its loss
after the timed work must equal fastprop's (checked, logged, recorded)."""
import time

import numpy as np

import peers
from fastprop.timing import interleave

from .common import jax_here, jax_trainers, log_check, speedup_row, with_best

SIZES = [64, 64, 10]
ROWS, BATCH = 1437, 32


def run(setup):
    import fastprop as fp
    repeats = 5 if setup.quick else 15
    t = setup.threads[0]
    setup.th.set(t)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((ROWS, SIZES[0]))
    y = rng.integers(0, SIZES[-1], size=ROWS)
    lr = 0.01
    steps = -(-ROWS // BATCH)
    res = {"sizes": SIZES, "rows": ROWS, "batch": BATCH, "steps_per_sample": steps,
           "dtype": "float64", "lr": lr, "threads": t, "repeats": repeats}
    net = fp.mlp(SIZES, hidden="relu", output="softmax", loss="cross_entropy",
                 dtype="float64", seed=0)
    opt = fp.SGD(lr=lr)
    parts = [(X[s:s + BATCH], y[s:s + BATCH]) for s in range(0, ROWS, BATCH)]

    def fp_sample():
        fit = net.fit
        t0 = time.perf_counter()
        for xb, yb in parts:
            fit(xb, yb, epochs=1, batch_size=len(xb), optimizer=opt, shuffle=False)
        return (time.perf_counter() - t0) / steps

    contenders = [("fastprop", fp_sample)]
    if setup.torch is not None:
        tt = peers.TorchTrainer(SIZES, "relu", "softmax", "cross_entropy", "float64", lr=lr)
        Xt, yt = tt.tensors(X, y)
        t_parts = [(Xt[s:s + BATCH], yt[s:s + BATCH]) for s in range(0, ROWS, BATCH)]

        def torch_sample():
            t0 = time.perf_counter()
            tt.run(t_parts)
            return (time.perf_counter() - t0) / steps

        contenders.append(("torch", torch_sample))
    jax_on = jax_here(setup, t)
    if jax_on:
        import jax_peer
        jscan, jloop = jax_trainers(net, lr)
        Xs, Ys, Xr, Yr = jax_peer.batches(X, y, BATCH)
        j_parts = jax_peer.step_batches(X, y, BATCH)

        def jscan_sample():
            t0 = time.perf_counter()
            jscan.scan_epoch(Xs, Ys, Xr, Yr)
            jscan.block()
            return (time.perf_counter() - t0) / steps

        def jloop_sample():
            step = jloop.step
            t0 = time.perf_counter()
            for xb, yb in j_parts:
                step(xb, yb)
            jloop.block()
            return (time.perf_counter() - t0) / steps

        contenders += [("jax_scan", jscan_sample), ("jax_loop", jloop_sample)]
    s = interleave(contenders, repeats, warmup=1)
    row = speedup_row(s, "s/step")
    if jax_on:
        with_best(row, "jax", ["jax_scan", "jax_loop"])
        ref = net.loss(X, y)
        row["jax_loss_check"] = {
            "how": "after the timed work (the same steps from the same weights), the loss "
                   "on the whole set",
            "scan": jax_peer.loss_check(ref, jscan.loss(X, y), "float64"),
            "loop": jax_peer.loss_check(ref, jloop.loss(X, y), "float64")}
        log_check(setup, "partial_fit", row["jax_loss_check"])
    res.update(row)
    setup.log("  partial_fit: " + "  ".join(f"{c} {row[c]['median'] * 1e6:.1f} us/step"
                                             for c in s.wall))
    return res
