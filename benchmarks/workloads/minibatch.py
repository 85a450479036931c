"""3./4. Mini-batch SGD on synthetic float32 data, per step: mnist (784-256-128-10 relu,
softmax + cross-entropy, batch 128) and big (1024-4096-4096-1024 relu, MSE, batch 512);
fastprop, the numpy MLP, PyTorch's idiomatic loop and JAX (the steps of a sample under
lax.scan in one jitted call, and the jitted-step loop; one thread) and, for mnist in a full
run, torch.compile'd PyTorch (its compile, tens of seconds, outside the timing). JAX starts
from fastprop's initial weights and every contender runs the same steps on the same batches,
so after the timed work JAX's loss on the first batch must equal fastprop's (checked, logged,
recorded)."""
import gc
import time

import numpy as np

import peers
from fastprop.timing import interleave

from .common import gap, jax_here, jax_trainers, log_check, speedup_row, with_best


def compiled_trainer(setup, sizes, hidden, output, loss, lr, seed, first, res):
    """A peers.TorchTrainer whose model is torch.compile'd, compiled by one step on the batch
    `first` (its seconds in res["torch_compile_seconds"]), or None, the reason in
    res["torch_compile_note"]."""
    tc = peers.TorchTrainer(sizes, hidden, output, loss, "float32", lr=lr, seed=seed)
    try:
        tc.model = setup.torch.compile(tc.model, dynamic=False)
        t0 = time.perf_counter()
        tc.step(*first)
        res["torch_compile_seconds"] = time.perf_counter() - t0
    except Exception as exc:          # no inductor back end or compiler on this machine
        res["torch_compile_note"] = f"torch.compile does not run here: {type(exc).__name__}: {exc}"
        setup.log("  " + res["torch_compile_note"])
        return None
    return tc


def minibatch(setup, *, name, sizes, hidden, output, loss, batch, steps, repeats, warmup, lr,
              warm_steps, seed=0, compile_torch=False):
    import fastprop as fp
    rng = np.random.default_rng(seed)
    n = batch * steps
    warm = batch * warm_steps
    X = rng.standard_normal((n, sizes[0])).astype(np.float32)
    if loss == "cross_entropy":
        y = rng.integers(0, sizes[-1], size=n)
    else:
        y = (0.1 * rng.standard_normal((n, sizes[-1]))).astype(np.float32)
    res = {"sizes": sizes, "batch": batch, "steps_per_sample": steps, "repeats": repeats,
           "warmup": warmup, "untimed_steps_before_each_sample": warm_steps, "dtype": "float32",
           "lr": lr, "by_threads": {}}
    for t in setup.threads:
        setup.th.set(t)
        contenders = []
        net = fp.mlp(sizes, hidden=hidden, output=output, loss=loss, dtype="float32", seed=seed)
        opt = fp.SGD(lr=lr)

        # Each sample starts with `warm_steps` untimed steps of its own: the contender before
        # it leaves the caches full of its data and, with two threads, its thread pool
        # spinning or this one's asleep, so the timed steps are each library's steady state
        # (measurements: docs/tuning.md, "untimed steps before each sample").
        def fp_sample():
            net.fit(X[:warm], y[:warm], epochs=1, batch_size=batch, optimizer=opt,
                    shuffle=False)
            t0 = time.perf_counter()
            net.fit(X, y, epochs=1, batch_size=batch, optimizer=opt, shuffle=False)
            return (time.perf_counter() - t0) / steps

        contenders.append(("fastprop", fp_sample))
        npnet = peers.NumpyMLP(sizes, hidden, output, loss, "float32", seed=seed)
        np_batches = [(X[s:s + batch], y[s:s + batch]) for s in range(0, n, batch)]

        def np_sample():
            for xb, yb in np_batches[:warm // batch]:
                npnet.train_step(xb, yb, lr)
            t0 = time.perf_counter()
            for xb, yb in np_batches:
                npnet.train_step(xb, yb, lr)
            return (time.perf_counter() - t0) / steps

        contenders.append(("numpy", np_sample))
        if setup.torch is not None:
            tt = peers.TorchTrainer(sizes, hidden, output, loss, "float32", lr=lr, seed=seed)
            Xt, yt = tt.tensors(X, y)
            t_batches = [(Xt[s:s + batch], yt[s:s + batch]) for s in range(0, n, batch)]

            def torch_sample():
                tt.run(t_batches[:warm // batch])
                t0 = time.perf_counter()
                tt.run(t_batches)
                return (time.perf_counter() - t0) / steps

            contenders.append(("torch", torch_sample))
            if compile_torch and t == setup.threads[0]:
                tc = compiled_trainer(setup, sizes, hidden, output, loss, lr, seed,
                                      t_batches[0], res)
                if tc is not None:
                    def torch_compile_sample():
                        tc.run(t_batches[:warm // batch])
                        t0 = time.perf_counter()
                        tc.run(t_batches)
                        return (time.perf_counter() - t0) / steps

                    contenders.append(("torch_compile", torch_compile_sample))
        jax_on = jax_here(setup, t)
        if jax_on:
            import jax_peer
            jscan, jloop = jax_trainers(net, lr)
            Xw, Yw, _, _ = jax_peer.batches(X[:warm], y[:warm], batch)
            Xs, Ys, _, _ = jax_peer.batches(X, y, batch)
            j_batches = jax_peer.step_batches(X, y, batch)

            def jscan_sample():
                jscan.scan_epoch(Xw, Yw)
                jscan.block()
                t0 = time.perf_counter()
                jscan.scan_epoch(Xs, Ys)
                jscan.block()
                return (time.perf_counter() - t0) / steps

            def jloop_sample():
                for xb, yb in j_batches[:warm // batch]:
                    jloop.step(xb, yb)
                jloop.block()
                t0 = time.perf_counter()
                for xb, yb in j_batches:
                    jloop.step(xb, yb)
                jloop.block()
                return (time.perf_counter() - t0) / steps

            contenders += [("jax_scan", jscan_sample), ("jax_loop", jloop_sample)]
        s = interleave(contenders, repeats, warmup=warmup, gap=gap(t))
        row = speedup_row(s, "s/step")
        if jax_on:
            with_best(row, "jax", ["jax_scan", "jax_loop"])
            ref = net.loss(X[:batch], y[:batch])
            row["jax_loss_check"] = {
                "how": "after the timed work (the same steps from the same weights), the loss "
                       "on the first batch",
                "scan": jax_peer.loss_check(ref, jscan.loss(X[:batch], y[:batch]), "float32"),
                "loop": jax_peer.loss_check(ref, jloop.loss(X[:batch], y[:batch]), "float32")}
            log_check(setup, name, row["jax_loss_check"])
        res["by_threads"][str(t)] = row
        setup.log(f"  {name} t={t}: " + "  ".join(f"{c} {row[c]['median'] * 1e3:.2f} ms"
                                                 for c in s.wall))
        del net, npnet, contenders
        if jax_on:
            del jscan, jloop, Xw, Yw, Xs, Ys, j_batches
        gc.collect()
    return res


def mnist(setup):
    quick = setup.quick
    return minibatch(setup, name="mnist", sizes=[784, 256, 128, 10], hidden="relu",
                     output="softmax", loss="cross_entropy", batch=128,
                     steps=10 if quick else 20, repeats=3 if quick else 9, warmup=1, lr=0.01,
                     warm_steps=10 if quick else 20, compile_torch=not quick)


def big(setup):
    quick = setup.quick
    return minibatch(setup, name="big", sizes=[1024, 4096, 4096, 1024], hidden="relu",
                     output="identity", loss="mse", batch=512, steps=1 if quick else 2,
                     repeats=1 if quick else 3, warmup=0 if quick else 1, lr=1e-4,
                     warm_steps=1)
