"""6. Single-row predict latency (one thread): `net.predict(x)` for one row x of shape
(1, n_in), the 2-3-1 sigmoid network in float64 and 784-256-128-10 relu/softmax in float32,
against one numpy `x @ W` (2-3-1 only: the floor of any numpy code), the numpy MLP's forward
pass, PyTorch under torch.inference_mode() (numpy in, numpy out, as fastprop), ONNX Runtime
(a session built once, one intra-op thread) and JAX's jitted forward pass. Every peer starts
from fastprop's weights; its output is checked against fastprop's (max_abs_diff)."""
import time

import numpy as np

import peers
from fastprop.timing import TorchMLP, calibrate, interleave

from .common import speedup_row, weights_of

CONFIGS = {"2-3-1 float64": ([2, 3, 1], "sigmoid", "sigmoid", "float64"),
           "784-256-128-10 float32": ([784, 256, 128, 10], "relu", "softmax", "float32")}


def contenders_for(setup, net, x, t):
    """(name, predict(x)) pairs: fastprop first, then each peer installed; the calls return
    the outputs (numpy arrays) so that they can be checked."""
    weights, acts = weights_of(net)
    out = [("fastprop", net.predict)]
    if net.n_in == 2:
        W1 = weights[0][0]
        out.append(("numpy_xW", lambda x: x @ W1))
    sizes = [weights[0][0].shape[0]] + [W.shape[1] for W, _ in weights]
    npnet = peers.NumpyMLP(sizes, acts[0], acts[-1], "mse", net.dtype)
    npnet.params = [(W.copy(), b.copy()) for W, b in weights]
    out.append(("numpy_mlp", npnet.forward))
    if setup.torch is not None:
        torch = setup.torch
        model = TorchMLP([(W.shape[0], W.shape[1], a) for (W, _), a in zip(weights, acts)],
                         "mse", net.dtype, weights=weights).model.eval()

        def torch_predict(x, model=model):
            with torch.inference_mode():
                return model(torch.from_numpy(x)).numpy()

        out.append(("torch", torch_predict))
    if setup.ort is not None:
        import onnx_peer
        out.append(("onnxruntime", onnx_peer.session(weights, acts, net.dtype, threads=t)))
    if setup.jax is not None and t == 1:
        import jax_peer
        out.append(("jax", jax_peer.predictor(acts, weights, net.dtype)))
    return out


def time_calls(setup, pairs, x, repeats, min_time):
    """Interleaved samples of each predict(x), per call; (speedup row, max_abs_diff)."""
    ref = pairs[0][1](x)
    diff = {name: float(np.abs(np.asarray(f(x), dtype=np.float64) - ref).max())
            for name, f in pairs[1:] if name != "numpy_xW"}

    def timed(f):
        def run(k):
            t0 = time.perf_counter()
            for _ in range(k):
                f(x)
            return time.perf_counter() - t0
        k, _ = calibrate(run, min_time, start=10)
        return lambda: run(k) / k

    s = interleave([(name, timed(f)) for name, f in pairs], repeats, warmup=1)
    return speedup_row(s, "s/call"), diff


def run(setup):
    import fastprop as fp
    repeats, min_time = (5, 0.005) if setup.quick else (15, 0.05)
    t = setup.threads[0]
    setup.th.set(t)
    res = {"threads": t, "repeats": repeats, "min_sample_seconds": min_time, "rows": {}}
    if t != 1:
        res["jax_note"] = "JAX runs with one thread only: not timed here"
    for key, (sizes, hidden, output, dtype) in CONFIGS.items():
        net = fp.mlp(sizes, hidden=hidden, output=output, loss="mse", dtype=dtype, seed=0)
        x = np.random.default_rng(1).standard_normal((1, sizes[0])).astype(dtype)
        row, diff = time_calls(setup, contenders_for(setup, net, x, t), x, repeats, min_time)
        row["max_abs_diff"] = diff
        res["rows"][key] = row
        setup.log(f"  predict {key}: " + "  ".join(
            f"{c} {row[c]['median'] * 1e6:.2f} us" for c in row if c in row["speedup"]
            or c == "fastprop"))
    return res
