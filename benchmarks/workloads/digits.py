"""5. scikit-learn's digits (64-64-10 relu, softmax + cross-entropy, 200 epochs of SGD with
Nesterov momentum): the whole fit and its test accuracy, fastprop against scikit-learn's
MLPClassifier, and JAX (an epoch under lax.scan in one jitted call, its permutation drawn
inside by jax.random, and the jitted-step loop over numpy-permuted batches; one thread; the
faster is the peer), and PyTorch, one sample, not a target. Each library shuffles with its own
generator, so the orders differ; JAX's arithmetic is checked on fresh networks without
shuffling."""
import time
import warnings

import numpy as np

import peers
from fastprop.timing import Samples, interleave, median

from .common import gap, jax_fresh_check, jax_here, jax_trainers, log_check, speedup_row, \
    with_best


def run(setup):
    import fastprop as fp
    threads, quick, torch, log = setup.threads, setup.quick, setup.torch, setup.log
    if setup.sklearn is None:
        log("  digits: scikit-learn is not installed; skipped")
        return {"skipped": "scikit-learn not installed"}
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    Xall, yall = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(Xall, yall, test_size=0.2, random_state=0,
                                          stratify=yall)
    sc = StandardScaler().fit(Xtr)
    Xtr = np.ascontiguousarray(sc.transform(Xtr), dtype=np.float64)
    Xte = np.ascontiguousarray(sc.transform(Xte), dtype=np.float64)
    epochs, batch, lr, mom = 200, 32, 0.01, 0.9
    settings = {"hidden": 64, "activation": "relu", "epochs": epochs, "batch_size": batch,
                "lr": lr, "momentum": mom, "nesterov": True, "weight_decay / alpha": 0.0,
                "shuffle": True, "dtype": "float64", "train": len(ytr), "test": len(yte),
                "scaling": "StandardScaler fitted on the training split",
                "split": "train_test_split(test_size=0.2, random_state=0, stratify=y)"}
    repeats = 1 if quick else 3
    res = {"settings": settings, "repeats": repeats, "by_threads": {}}
    if quick:
        threads = threads[:1]
        res["quick_note"] = f"--quick: digits with {threads[0]} thread(s) only, one repeat, no torch"
    for t in threads:
        setup.th.set(t)
        acc = {}

        def sk_sample():
            clf = MLPClassifier(hidden_layer_sizes=(64,), activation="relu", solver="sgd",
                                batch_size=batch, max_iter=epochs, learning_rate="constant",
                                learning_rate_init=lr, momentum=mom, nesterovs_momentum=True,
                                alpha=0.0, shuffle=True, random_state=0, tol=0.0,
                                n_iter_no_change=epochs + 1, early_stopping=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                t0 = time.perf_counter()
                clf.fit(Xtr, ytr)
                dt = time.perf_counter() - t0
            acc.setdefault("sklearn", []).append(float((clf.predict(Xte) == yte).mean()))
            acc.setdefault("sklearn_epochs", []).append(int(clf.n_iter_))
            return dt

        def fp_sample():
            net = fp.mlp([64, 64, 10], hidden="relu", output="softmax", loss="cross_entropy",
                         dtype="float64", seed=0)
            opt = fp.SGD(lr=lr, momentum=mom, nesterov=True)
            t0 = time.perf_counter()
            net.fit(Xtr, ytr, epochs=epochs, batch_size=batch, optimizer=opt, shuffle=True,
                    seed=0)
            dt = time.perf_counter() - t0
            acc.setdefault("fastprop", []).append(
                float((net.predict(Xte).argmax(axis=1) == yte).mean()))
            return dt

        def make_net():
            return fp.mlp([64, 64, 10], hidden="relu", output="softmax", loss="cross_entropy",
                          dtype="float64", seed=0)

        contenders = [("fastprop", fp_sample), ("sklearn", sk_sample)]
        if jax_here(setup, t):
            jax = setup.jax
            jscan, jloop = jax_trainers(make_net(), lr, mom, nesterov=True)
            Xd, Yd = jax.device_put(Xtr), jax.device_put(ytr)
            Xte_d = jax.device_put(Xte)
            n_tr = len(ytr)

            def jscan_sample():
                jscan.reset()
                key = jax.random.PRNGKey(0)
                t0 = time.perf_counter()
                for _ in range(epochs):
                    key, sub = jax.random.split(key)
                    jscan.scan_shuffled_epoch(sub, Xd, Yd, batch)
                jscan.block()
                dt = time.perf_counter() - t0
                acc.setdefault("jax_scan", []).append(
                    float((jscan.predict(Xte_d).argmax(axis=1) == yte).mean()))
                return dt

            def jloop_sample():
                jloop.reset()
                rng = np.random.default_rng(0)
                step = jloop.step
                t0 = time.perf_counter()
                for _ in range(epochs):
                    perm = rng.permutation(n_tr)
                    for s0 in range(0, n_tr, batch):
                        idx = perm[s0:s0 + batch]
                        step(Xtr[idx], ytr[idx])
                jloop.block()
                dt = time.perf_counter() - t0
                acc.setdefault("jax_loop", []).append(
                    float((jloop.predict(Xte_d).argmax(axis=1) == yte).mean()))
                return dt

            # the first call of each jitted function compiles it: not in a timed sample
            jscan.scan_shuffled_epoch(jax.random.PRNGKey(1), Xd, Yd, batch)
            jloop.step(Xtr[:batch], ytr[:batch])
            jloop.step(Xtr[:n_tr % batch or batch], ytr[:n_tr % batch or batch])
            jscan.block()
            jloop.block()
            contenders += [("jax_scan", jscan_sample), ("jax_loop", jloop_sample)]
        # torch's fit (~9000 idiomatic steps) is not a target: one thread count only, one sample
        if torch is not None and not quick and t == threads[0]:
            def torch_sample():
                tt = peers.TorchTrainer([64, 64, 10], "relu", "softmax", "cross_entropy",
                                        "float64", lr=lr, momentum=mom, nesterov=True, seed=0)
                Xt, yt = tt.tensors(Xtr, ytr)
                t0 = time.perf_counter()
                tt.fit(Xt, yt, epochs, batch, shuffle=True, seed=0)
                dt = time.perf_counter() - t0
                Xv, _ = tt.tensors(Xte, yte)
                acc.setdefault("torch", []).append(
                    float((tt.predict(Xv).argmax(axis=1) == yte).mean()))
                return dt

            contenders.append(("torch", torch_sample))
        torch_c = [c for c in contenders if c[0] == "torch"]
        s = interleave([c for c in contenders if c[0] != "torch"], repeats, warmup=0,
                       gap=gap(t))
        if torch_c:
            # torch takes several seconds a fit: one sample, after the interleaved ones
            s2 = interleave(torch_c, 1, warmup=0, gap=gap(t))
            s = Samples({**s.wall, **s2.wall}, {**s.cpu, **s2.cpu})
        row = speedup_row(s, "s/fit")
        if "jax_scan" in row:
            with_best(row, "jax", ["jax_scan", "jax_loop"])
            row["jax_loss_check"] = jax_fresh_check(make_net, (jscan, jloop), Xtr, ytr, batch,
                                                    1, lr, mom, nesterov=True)
            log_check(setup, "digits", row["jax_loss_check"])
        row["test_accuracy"] = {c: median(v) for c, v in acc.items() if not c.endswith("epochs")}
        row["test_accuracy_samples"] = acc
        res["by_threads"][str(t)] = row
        log(f"  digits t={t}: " + "  ".join(
            f"{c} {row[c]['median']:.3f} s (acc {row['test_accuracy'].get(c, float('nan')):.4f})"
            for c in s.wall))
    if torch is not None and quick:
        res["torch_note"] = "torch digits fit skipped in --quick"
    return res
