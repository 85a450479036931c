"""8. The fixed cost of a fit call (one thread): the time of `net.fit(X, y, epochs=e,
batch_size=1, shuffle=False)` on 64 rows of the tutorial's 2-3-1 sigmoid network (float64,
plain SGD) for e = 1, 2, 4, 8, and the least-squares line through the medians: its intercept
is the cost of a call that trains nothing, its slope over 64 the cost of a step. JAX is
measured the same way: one jitted call that runs e epochs (lax.scan over epochs of lax.scan
over steps), blocked on, from fastprop's weights; its loss after the timed work is checked
against fastprop's on fresh networks."""
import time

import numpy as np

import peers
from fastprop.timing import calibrate, interleave, summary

from .common import jax_here, jax_trainers

EPOCHS = [1, 2, 4, 8]
ROWS = 64


def line(xs, ys):
    """(intercept, slope) of the least-squares line through (xs, ys)."""
    slope, intercept = np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)
    return float(intercept), float(slope)


def run(setup):
    import fastprop as fp
    repeats, min_time = (5, 0.005) if setup.quick else (15, 0.03)
    t = setup.threads[0]
    setup.th.set(t)
    X, y = peers.tutorial_data(ROWS)
    lr = 0.5

    def make_net():
        return fp.Network([fp.Dense(2, 3, "sigmoid"), fp.Dense(3, 1, "sigmoid")], loss="mse",
                          dtype="float64", seed=0)

    net = make_net()
    opt = fp.SGD(lr=lr)
    jax_on = jax_here(setup, t)
    if jax_on:          # from the initial weights, before fastprop's calibration trains them
        import jax_peer
        jscan, _ = jax_trainers(net, lr)
    res = {"rows": ROWS, "epochs": EPOCHS, "batch_size": 1, "threads": t, "lr": lr,
           "repeats": repeats, "min_sample_seconds": min_time}

    def timed(call):
        def go(k):
            t0 = time.perf_counter()
            for _ in range(k):
                call()
            return time.perf_counter() - t0
        k, _ = calibrate(go, min_time)
        return lambda: go(k) / k

    contenders = []
    for e in EPOCHS:
        contenders.append((f"fastprop/{e}", timed(
            lambda e=e: net.fit(X, y, epochs=e, batch_size=1, optimizer=opt, shuffle=False))))
    if jax_on:
        Xs, Ys, _, _ = jax_peer.batches(X, y, 1)

        def jax_call(e):
            jscan.scan_epochs(Xs, Ys, e)
            jscan.block()

        for e in EPOCHS:
            contenders.append((f"jax/{e}", timed(lambda e=e: jax_call(e))))
    elif setup.jax is not None:
        res["jax_note"] = "JAX runs with one thread only: not timed here"
    s = interleave(contenders, repeats, warmup=1)
    row = {c: summary(v, "s/call") for c, v in s.wall.items()}
    row["cpu_time"] = {c: summary(v, "s/call") for c, v in s.cpu.items()}
    for who in ("fastprop", "jax") if jax_on else ("fastprop",):
        medians = [row[f"{who}/{e}"]["median"] for e in EPOCHS]
        a, b = line(EPOCHS, medians)
        res[who] = {"intercept_s": a, "per_epoch_s": b, "per_step_s": b / ROWS,
                    "medians_s": dict(zip(map(str, EPOCHS), medians))}
    # the same line from each sample's thread CPU time: the call's own cost, without the
    # preemption that a shared host adds to wall time
    cpu = [row["cpu_time"][f"fastprop/{e}"]["median"] for e in EPOCHS]
    a, b = line(EPOCHS, cpu)
    res["fastprop_cpu"] = {"intercept_s": a, "per_epoch_s": b, "per_step_s": b / ROWS}
    res["calls"] = row
    if jax_on:
        res["speedup"] = {"jax_intercept": res["jax"]["intercept_s"]
                          / res["fastprop"]["intercept_s"],
                          "jax_per_step": res["jax"]["per_step_s"]
                          / res["fastprop"]["per_step_s"]}
        # the function timed (e epochs a call) from the initial weights, against a fresh
        # network's fit
        fresh = make_net()
        jscan.reset()
        fresh.fit(X, y, epochs=2, batch_size=1, optimizer=fp.SGD(lr=lr), shuffle=False)
        jscan.scan_epochs(Xs, Ys, 2)
        c = jax_peer.loss_check(fresh.loss(X, y), jscan.loss(X, y), "float64")
        res["jax_loss_check"] = dict(c, how="fresh networks, 2 epochs in one call, in order")
        if not c["ok"]:
            setup.log(f"  WARNING: fitcost: JAX loss {c['jax_loss']:.9g} differs from "
                      f"fastprop's {c['fastprop_loss']:.9g} (rel {c['rel_diff']:.2g})")
    setup.log("  fitcost: " + "  ".join(
        f"{w} intercept {res[w]['intercept_s'] * 1e6:.1f} us, {res[w]['per_step_s'] * 1e9:.0f} "
        f"ns a step" for w in ("fastprop", "jax") if w in res))
    return res
