"""7. Batched inference throughput: `net.predict(X)` of 784-256-128-10 relu/softmax float32 at
batch 1, 16, 256 and 4096, against ONNX Runtime (a session built once, t intra-op threads),
PyTorch under torch.inference_mode(), JAX's jitted forward pass (one thread) and, in a full
run, torch.compile'd PyTorch (compiled once a batch size, outside the timing: its compile
takes tens of seconds, so --quick leaves it out). Per thread count (--quick: the first)."""
import time

import numpy as np

from fastprop.timing import calibrate, interleave

from .common import gap, speedup_row, weights_of
from .predict import contenders_for

BATCHES = [1, 16, 256, 4096]
SIZES = [784, 256, 128, 10]


def compiled_torch(setup, weights, acts):
    """(f(X) -> numpy by a torch.compile'd model, None), or (None, why not)."""
    from fastprop.timing import TorchMLP
    torch = setup.torch
    try:
        model = TorchMLP([(W.shape[0], W.shape[1], a) for (W, _), a in zip(weights, acts)],
                         "mse", "float32", weights=weights).model.eval()
        compiled = torch.compile(model, dynamic=False)
    except Exception as exc:          # no inductor back end or compiler on this machine
        return None, f"{type(exc).__name__}: {exc}"

    def f(x):
        with torch.inference_mode():
            return compiled(torch.from_numpy(x)).numpy()
    return f, None


def run(setup):
    import fastprop as fp
    quick = setup.quick
    repeats, min_time = (3, 0.01) if quick else (9, 0.05)
    threads = setup.threads[:1] if quick else setup.threads
    res = {"sizes": SIZES, "dtype": "float32", "batches": BATCHES, "repeats": repeats,
           "min_sample_seconds": min_time, "by_threads": {}}
    net = fp.mlp(SIZES, hidden="relu", output="softmax", loss="cross_entropy",
                 dtype="float32", seed=0)
    weights, acts = weights_of(net)
    rng = np.random.default_rng(2)
    compiled = None
    if setup.torch is None:
        pass
    elif quick:
        res["torch_compile_note"] = "torch.compile skipped in --quick (tens of seconds to compile)"
        setup.log("  inference: " + res["torch_compile_note"])
    else:
        compiled, why = compiled_torch(setup, weights, acts)
        if compiled is None:
            res["torch_compile_note"] = f"torch.compile does not run here: {why}"
            setup.log("  inference: " + res["torch_compile_note"])
    for t in threads:
        setup.th.set(t)
        rows = {}
        for b in BATCHES:
            X = rng.standard_normal((b, SIZES[0])).astype(np.float32)
            pairs = [p for p in contenders_for(setup, net, X, t) if p[0] != "numpy_mlp"]
            if compiled is not None:
                try:
                    t0 = time.perf_counter()
                    compiled(X)         # compiles for this batch size
                    res.setdefault("torch_compile_seconds", {})[str(b)] = \
                        time.perf_counter() - t0
                    pairs.append(("torch_compile", compiled))
                except Exception as exc:
                    res["torch_compile_note"] = f"torch.compile failed at batch {b}: {exc}"
                    setup.log("  inference: " + res["torch_compile_note"])
                    compiled = None
            ref = pairs[0][1](X)
            diff = {n: float(np.abs(f(X) - ref).max()) for n, f in pairs[1:]}

            def timed(f, X=X):
                def go(k):
                    t0 = time.perf_counter()
                    for _ in range(k):
                        f(X)
                    return time.perf_counter() - t0
                k, _ = calibrate(go, min_time)
                return lambda: go(k) / k

            s = interleave([(n, timed(f)) for n, f in pairs], repeats, warmup=1, gap=gap(t))
            row = speedup_row(s, "s/call")
            row["max_abs_diff"] = diff
            row["rows_per_second"] = {c: b / row[c]["median"] for c in s.wall}
            rows[str(b)] = row
            setup.log(f"  inference t={t} batch {b}: " + "  ".join(
                f"{c} {row[c]['median'] * 1e6:.1f} us" for c in s.wall))
        res["by_threads"][str(t)] = rows
    return res
