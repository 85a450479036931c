"""2. The tutorial network, 2-3-1 sigmoid + MSE, per-sample SGD over 1000 samples: fastprop,
the plain-Python scalar loop, the numpy MLP and PyTorch's idiomatic loop, per step."""
import time

import peers
from fastprop.timing import calibrate, interleave

from .common import gap, speedup_row


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
        net = fp.Network([fp.Dense(2, 3, "sigmoid"), fp.Dense(3, 1, "sigmoid")], loss="mse",
                         dtype="float64", seed=0)
        opt = fp.SGD(lr=lr)

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
        s = interleave(contenders, repeats, warmup=1, gap=gap(t))
        row = speedup_row(s, "s/step")
        res["by_threads"][str(t)] = row
        setup.log(f"  tutorial t={t}: " + "  ".join(f"{c} {row[c]['median'] * 1e6:.3f} us"
                                                    for c in s.wall))
    return res
