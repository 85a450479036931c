"""2. The tutorial network, 2-3-1 sigmoid + MSE, per-sample SGD over 1000 samples: fastprop,
the plain-Python scalar loop, the numpy MLP, PyTorch's idiomatic loop and JAX (an epoch under
lax.scan in one jitted call, and the jitted-step loop; one thread), per step."""
import time

import peers
from fastprop.timing import calibrate, interleave

from .common import gap, jax_fresh_check, jax_here, jax_trainers, log_check, speedup_row, \
    with_best


def run(setup):
    import fastprop as fp
    n = 1000
    X, y = peers.tutorial_data(n)
    Xl, yl = X.tolist(), y[:, 0].tolist()
    repeats, min_time = (3, 0.01) if setup.quick else (7, 0.1)
    lr = 0.5
    res = {"samples_in_data": n, "lr": lr, "dtype": "float64", "repeats": repeats,
           "by_threads": {}}
    for t in setup.threads:
        setup.th.set(t)
        def make_net():
            return fp.Network([fp.Dense(2, 3, "sigmoid"), fp.Dense(3, 1, "sigmoid")],
                              loss="mse", dtype="float64", seed=0)

        net = make_net()
        opt = fp.SGD(lr=lr)
        jax_on = jax_here(setup, t)
        if jax_on:      # from the initial weights, before fastprop's calibration trains them
            jscan, jloop = jax_trainers(net, lr)

        def fp_run(epochs):
            t0 = time.perf_counter()
            net.fit(X, y, epochs=epochs, batch_size=1, optimizer=opt, shuffle=False)
            return time.perf_counter() - t0

        scalar = peers.ScalarTutorial()

        def scalar_run(epochs):
            t0 = time.perf_counter()
            scalar.fit(Xl, yl, epochs, lr)
            return time.perf_counter() - t0

        npnet = peers.NumpyMLP([2, 3, 1], "sigmoid", "sigmoid", "mse", "float64")
        rows_np = [(X[i:i + 1], y[i:i + 1]) for i in range(n)]

        def np_run(k):  # k samples, per-sample steps
            step = npnet.train_step
            t0 = time.perf_counter()
            for i in range(k):
                xb, yb = rows_np[i % n]
                step(xb, yb, lr)
            return time.perf_counter() - t0

        contenders = []
        ef, _ = calibrate(fp_run, min_time)
        contenders.append(("fastprop", lambda: fp_run(ef) / (ef * n)))
        es, _ = calibrate(scalar_run, min_time)
        contenders.append(("python_scalar", lambda: scalar_run(es) / (es * n)))
        kn, _ = calibrate(np_run, min_time, start=50)
        contenders.append(("numpy", lambda: np_run(kn) / kn))
        if setup.torch is not None:
            tt = peers.TorchTrainer([2, 3, 1], "sigmoid", "sigmoid", "mse", "float64", lr=lr)
            Xt, yt = tt.tensors(X, y)
            batches = [(Xt[i:i + 1], yt[i:i + 1]) for i in range(n)]

            def torch_run(k):
                t0 = time.perf_counter()
                tt.run(batches[:k] if k <= n else (batches * (k // n + 1))[:k])
                return time.perf_counter() - t0

            kt, _ = calibrate(torch_run, min_time, start=20)
            contenders.append(("torch", lambda: torch_run(kt) / kt))
        if jax_on:
            import jax_peer
            Xs, Ys, _, _ = jax_peer.batches(X, y, 1)
            jsteps = jax_peer.step_batches(X, y, 1)

            def jscan_run(epochs):
                t0 = time.perf_counter()
                for _ in range(epochs):
                    jscan.scan_epoch(Xs, Ys)
                jscan.block()
                return time.perf_counter() - t0

            def jloop_run(k):
                t0 = time.perf_counter()
                step = jloop.step
                for i in range(k):
                    step(*jsteps[i % n])
                jloop.block()
                return time.perf_counter() - t0

            ej, _ = calibrate(jscan_run, min_time)
            contenders.append(("jax_scan", lambda: jscan_run(ej) / (ej * n)))
            kj, _ = calibrate(jloop_run, min_time, start=50)
            contenders.append(("jax_loop", lambda: jloop_run(kj) / kj))
        s = interleave(contenders, repeats, warmup=1, gap=gap(t))
        row = speedup_row(s, "s/step")
        if "jax_scan" in row:
            with_best(row, "jax", ["jax_scan", "jax_loop"])
            row["jax_loss_check"] = jax_fresh_check(make_net, (jscan, jloop), X, y, 1, 1, lr)
            log_check(setup, "tutorial", row["jax_loss_check"])
        res["by_threads"][str(t)] = row
        setup.log(f"  tutorial t={t}: " + "  ".join(f"{c} {row[c]['median'] * 1e6:.3f} us"
                                                    for c in s.wall))
    return res
