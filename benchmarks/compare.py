"""fastprop side by side with its peers, in one process: numpy (OpenBLAS, and the plain numpy
MLP of benchmarks/peers.py), a plain-Python scalar loop, PyTorch CPU's idiomatic loop and
scikit-learn's MLPClassifier. The measurement of issue 4.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/compare.py [--quick]
        [--only gemm,tutorial,mnist,big,digits] [--threads 1,2] [--json docs/compare.json]

Method
- Interleaved: within every repeat each contender runs one sample in turn, and the order is
  rotated from repeat to repeat, so that machine noise (a shared, busy host) hits all alike.
  Warm-up samples first (not recorded). The figure reported is the median of the samples.
- Threads: fastprop.set_num_threads(t); numpy through threadpoolctl (OpenBLAS); torch through
  torch.set_num_threads(t). Without threadpoolctl the script re-runs itself once per thread
  count in a child process with OPENBLAS_NUM_THREADS=t (OpenBLAS reads it at import).
  After a multi-threaded contender, its runtime's workers may spin for a while (OpenBLAS's
  thread server, OpenMP); a short pause (`gap`) separates contenders when t > 1.
- Ratios are speedups: peer_time / fastprop_time (for GEMM: fastprop GFLOP/s / numpy
  GFLOP/s), computed from the medians.
- The FMA peak is measured by the script itself: a loop of 12 independent AVX2 FMA chains
  compiled at run time with the system C compiler (cc) and called through ctypes, with t
  threads (the maximum over samples is used: the conservative choice). Without a compiler the
  script falls back to the larger of (a) the /proc/cpuinfo frequency x 32 SP / 16 DP flops a
  cycle a core (AVX2, 2 FMA pipes) and (b) the best GEMM rate it observed, and says so.

Never import the source tree: run it from outside the checkout with the installed fastprop.
"""
import argparse
import ctypes
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:          # peers.py sits next to this file (not the fastprop tree)
    sys.path.insert(0, HERE)
import peers  # noqa: E402

WORKLOADS = ["gemm", "tutorial", "mnist", "big", "digits"]

# Targets of issue 4 (speedup = peer time / fastprop time).
TARGETS = {
    "gemm_vs_numpy": 0.9,          # n >= 256, one thread, both dtypes
    "gemm_of_peak": 0.8,           # n >= 256, one thread
    "tutorial_vs_torch": 500.0,
    "tutorial_vs_scalar": 20.0,
    "mnist_vs_numpy": 1.0,         # one thread
    "mnist_vs_torch": 1.5,         # one thread
    "mnist_2t_vs_1t": 1.7,         # fastprop two threads over fastprop one thread
    "big_vs_numpy": 0.95,          # one thread
    "big_vs_torch_2t": 1.0,        # two threads
    "digits_vs_sklearn": 10.0,     # at equal test accuracy (+-1 point)
}


# ---------------------------------------------------------------------------------------------
# Timing
def _now():
    return time.perf_counter()


CPU_SAMPLES = {}


def interleave(contenders, repeats, warmup=1, gap=0.0):
    """contenders: list of (name, fn); fn() runs one sample and returns its figure (seconds
    per unit). Returns {name: [figures]} with `repeats` samples each, order rotated by repeat.

    Also records, in CPU_SAMPLES[id(result)], the same figure scaled by the calling thread's
    CPU time over the wall time of the call: with one thread all the work runs on this thread,
    so that figure leaves out the time the host's other load took the core from us."""
    samples = {name: [] for name, _ in contenders}
    cpu = {name: [] for name, _ in contenders}
    k = len(contenders)
    gc_was = gc.isenabled()
    try:
        for _ in range(warmup):
            for name, fn in contenders:
                gc.collect()
                gc.disable()
                fn()
                gc.enable()
                if gap:
                    time.sleep(gap)
        for r in range(repeats):
            order = contenders[r % k:] + contenders[:r % k]
            for name, fn in order:
                gc.collect()
                gc.disable()
                w0, c0 = _now(), time.thread_time()
                fig = fn()
                c1, w1 = time.thread_time(), _now()
                gc.enable()
                samples[name].append(fig)
                cpu[name].append(fig * (c1 - c0) / max(w1 - w0, 1e-12))
                if gap:
                    time.sleep(gap)
    finally:
        if gc_was:
            gc.enable()
    CPU_SAMPLES[id(samples)] = cpu
    return samples


def with_cpu(row, s, unit):
    """Adds the thread-CPU-time figures of interleave's result s to row (one thread only)."""
    cpu = CPU_SAMPLES.pop(id(s), {})
    row["cpu_time"] = {c: summary(v, unit) for c, v in cpu.items()}
    return row


def step_row(s):
    """Per-step summaries of interleave's result s, with each peer's speedup over fastprop
    (peer time / fastprop time) by wall time and by thread CPU time."""
    row = with_cpu({c: summary(v, "s/step") for c, v in s.items()}, s, "s/step")
    peers_ = [c for c in s if c != "fastprop"]
    row["speedup"] = {c: row[c]["median"] / row["fastprop"]["median"] for c in peers_}
    row["cpu_time_speedup"] = {c: row["cpu_time"][c]["median"]
                               / row["cpu_time"]["fastprop"]["median"] for c in peers_}
    return row


def calibrate(run, min_time, start=1, cap=1 << 30):
    """Smallest power-of-two multiple k >= start with run(k) >= min_time seconds."""
    k = start
    while True:
        t = run(k)
        if t >= min_time or k >= cap:
            return k
        k = min(cap, max(k * 2, int(k * min_time / max(t, 1e-9) * 1.2)))


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def spread(xs):
    """Relative inter-quartile spread of the samples (a noise figure)."""
    if len(xs) < 3:
        return float("nan")
    q = statistics.quantiles(xs, n=4)
    m = med(xs)
    return (q[2] - q[0]) / m if m else float("nan")


def summary(xs, unit):
    return {"median": med(xs), "min": min(xs), "max": max(xs), "spread": spread(xs),
            "samples": list(xs), "unit": unit}


# ---------------------------------------------------------------------------------------------
# Threads
class Threads:
    def __init__(self, torch=None):
        import fastprop as fp
        self.fp = fp
        self.torch = torch
        self._limiter = None
        try:
            import threadpoolctl
            self.threadpoolctl = threadpoolctl
        except ImportError:
            self.threadpoolctl = None

    def set(self, t):
        self.fp.set_num_threads(t)
        if self.threadpoolctl is not None:
            if self._limiter is not None:
                self._limiter.restore_original_limits()
            self._limiter = self.threadpoolctl.threadpool_limits(limits=t, user_api="blas")
        if self.torch is not None:
            self.torch.set_num_threads(t)

    def numpy_threads(self):
        if self.threadpoolctl is None:
            return os.environ.get("OPENBLAS_NUM_THREADS")
        return [i.get("num_threads") for i in self.threadpoolctl.threadpool_info()
                if i.get("user_api") == "blas"]


# ---------------------------------------------------------------------------------------------
# Machine
def _cpuinfo():
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return info
    mhz = []
    for line in text.splitlines():
        if ":" not in line:
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "cpu MHz":
            mhz.append(float(value))
        elif key in ("model name", "cpu family", "model", "stepping", "flags", "vendor_id") \
                and key not in info:
            info[key] = value
    flags = set(info.pop("flags", "").split())
    info["simd_flags"] = sorted(f for f in flags if f in {"sse4_2", "avx", "avx2", "fma",
                                                          "avx512f", "avx512vl", "avx512bw"})
    info["cpu_mhz"] = mhz
    try:
        fam, mod = int(info.get("cpu family", 0)), int(info.get("model", 0))
        if info.get("vendor_id") == "AuthenticAMD" and fam == 25:
            info["microarchitecture_guess"] = (
                "Zen 4" if 0x10 <= mod <= 0x1F or 0x60 <= mod <= 0x7F or 0xA0 <= mod
                else "Zen 3")
        elif info.get("vendor_id") == "AuthenticAMD" and fam == 23:
            info["microarchitecture_guess"] = "Zen / Zen 2"
    except ValueError:
        pass
    return info


def machine_info(th, torch, sklearn):
    import fastprop as fp
    cpu = _cpuinfo()
    info = {
        "cpu_model": cpu.get("model name"),
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {
            "fastprop": getattr(fp, "__version__", None),
            "numpy": np.__version__,
            "torch": getattr(torch, "__version__", None),
            "sklearn": getattr(sklearn, "__version__", None),
            "threadpoolctl": getattr(th.threadpoolctl, "__version__", None),
        },
        "fastprop_file": fp.__file__,
        "fastprop_simd_path": fp.simd_path(),
        "fastprop_default_threads": fp.get_num_threads(),
        "env": {k: v for k, v in os.environ.items()
                if k.startswith(("OPENBLAS", "OMP_", "GOMP", "MKL", "FASTPROP", "KMP_"))},
        "loadavg_start": os.getloadavg(),
    }
    if th.threadpoolctl is not None:
        info["blas"] = [{k: i.get(k) for k in ("internal_api", "version", "architecture",
                                                "threading_layer", "num_threads", "filepath")}
                        for i in th.threadpoolctl.threadpool_info()]
    return info


# ---------------------------------------------------------------------------------------------
# FMA peak
_FMA_SRC = r"""
#include <immintrin.h>
#define CHAINS(T, SET1, FMA) \
    T a0 = SET1(1.0), a1 = SET1(1.1), a2 = SET1(1.2), a3 = SET1(1.3), a4 = SET1(1.4), \
      a5 = SET1(1.5), a6 = SET1(1.6), a7 = SET1(1.7), a8 = SET1(1.8), a9 = SET1(1.9), \
      a10 = SET1(2.0), a11 = SET1(2.1); \
    const T m = SET1(0.9999999), c = SET1(1e-7); \
    for (long i = 0; i < iters; i++) { \
        a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c); \
        a4 = FMA(a4, m, c); a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c); \
        a8 = FMA(a8, m, c); a9 = FMA(a9, m, c); a10 = FMA(a10, m, c); a11 = FMA(a11, m, c); \
    }
double fma_loop_ps(long iters) {
    CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps)
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
               _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float out[8]; _mm256_storeu_ps(out, s);
    return out[0];
}
double fma_loop_pd(long iters) {
    CHAINS(__m256d, _mm256_set1_pd, _mm256_fmadd_pd)
    __m256d s = _mm256_add_pd(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)),
                _mm256_add_pd(_mm256_add_pd(a4, a5), _mm256_add_pd(a6, a7)));
    s = _mm256_add_pd(s, _mm256_add_pd(_mm256_add_pd(a8, a9), _mm256_add_pd(a10, a11)));
    double out[4]; _mm256_storeu_pd(out, s);
    return out[0];
}
/* the same 12 chains on 512-bit vectors, for CPUs with AVX-512 (called only there) */
__attribute__((target("avx512f"))) double fma512_loop_ps(long iters) {
    CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps)
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
               _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    return _mm512_reduce_add_ps(s);
}
__attribute__((target("avx512f"))) double fma512_loop_pd(long iters) {
    CHAINS(__m512d, _mm512_set1_pd, _mm512_fmadd_pd)
    __m512d s = _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)),
                _mm512_add_pd(_mm512_add_pd(a4, a5), _mm512_add_pd(a6, a7)));
    s = _mm512_add_pd(s, _mm512_add_pd(_mm512_add_pd(a8, a9), _mm512_add_pd(a10, a11)));
    return _mm512_reduce_add_pd(s);
}
"""


def _build_fma_loop():
    """The FMA loop as a ctypes library, or (None, reason)."""
    cc = os.environ.get("CC", "cc")
    tmp = tempfile.mkdtemp(prefix="fp-fma-")
    src, lib = os.path.join(tmp, "fma.c"), os.path.join(tmp, "fma.so")
    with open(src, "w") as f:
        f.write(_FMA_SRC)
    try:
        subprocess.run([cc, "-O2", "-mavx2", "-mfma", "-shared", "-fPIC", "-o", lib, src],
                       check=True, capture_output=True, timeout=60)
        dll = ctypes.CDLL(lib)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"could not compile the FMA loop with {cc}: {exc}"
    for name in ("fma_loop_ps", "fma_loop_pd", "fma512_loop_ps", "fma512_loop_pd"):
        getattr(dll, name).restype = ctypes.c_double
        getattr(dll, name).argtypes = [ctypes.c_long]
    return dll, None


def measure_fma_peak(threads, quick):
    """GFLOP/s of the FMA loop with t threads (t loops started together), float32 and float64.
    One thread is always measured; the peak used for t threads is the larger of the t-thread
    loop and t x the one-thread loop (on a shared host the second core is often busy, and
    then the t-thread loop understates what the cores can do)."""
    import threading
    out = {"method": None, "by_threads": {}}
    cpu = _cpuinfo()
    mhz = max(cpu.get("cpu_mhz") or [0.0])
    has_fma = "fma" in cpu.get("simd_flags", []) and "avx2" in cpu.get("simd_flags", [])
    # the widest FMA the CPU has sets its limit: 512-bit vectors where it has AVX-512
    wide = has_fma and "avx512f" in cpu.get("simd_flags", [])
    dll, why = _build_fma_loop() if has_fma else (None, "no AVX2+FMA in /proc/cpuinfo")
    bits = 512 if wide else 256
    out["vector_bits"] = bits
    one = {}
    for t in sorted(set([1] + list(threads))):
        # two FMA units of that width a core (Zen 4 runs a 512-bit FMA as two 256-bit halves:
        # there the measured loop, not this figure, is the peak)
        theo = {"float32": mhz * 1e-3 * bits / 8 * t, "float64": mhz * 1e-3 * bits / 16 * t}
        entry = {"theoretical_from_cpuinfo_mhz": theo, "cpuinfo_mhz": mhz}
        if dll is not None:
            loops = ((("float32", dll.fma512_loop_ps, 16), ("float64", dll.fma512_loop_pd, 8))
                     if wide else
                     (("float32", dll.fma_loop_ps, 8), ("float64", dll.fma_loop_pd, 4)))
            for dt, fn, lanes in loops:
                flops_per_iter = 12 * lanes * 2

                cpu_rates = []

                def run(iters, fn=fn, cpu_rates=cpu_rates):
                    barrier = threading.Barrier(t + 1)
                    per_thread = []

                    def body():
                        barrier.wait()
                        c0 = time.thread_time()
                        fn(iters)
                        per_thread.append(time.thread_time() - c0)

                    ths = [threading.Thread(target=body) for _ in range(t)]
                    for th in ths:
                        th.start()
                    barrier.wait()
                    t0 = _now()
                    for th in ths:
                        th.join()
                    wall = _now() - t0
                    # each thread's rate over its own CPU time: what its core does while it
                    # runs, whatever else the shared host runs meanwhile
                    cpu_rates.append(sum(iters * flops_per_iter / max(c, 1e-9) * 1e-9
                                         for c in per_thread))
                    return wall

                iters = calibrate(run, 0.02 if quick else 0.05, start=1 << 16)
                del cpu_rates[:]
                rates = []
                for _ in range(5 if quick else 9):
                    rates.append(t * iters * flops_per_iter / run(iters) * 1e-9)
                e = {"loop_max": max(rates), "loop_median": med(rates), "samples": rates,
                     "cpu_time_max": max(cpu_rates), "cpu_time_median": med(cpu_rates),
                     "cpu_time_samples": list(cpu_rates)}
                if t == 1:
                    one[dt] = max(e["loop_max"], e["cpu_time_max"])
                e["max"] = max(e["loop_max"], e["cpu_time_max"], t * one.get(dt, 0.0))
                e["median"] = e["loop_median"]
                entry[dt] = e
        if t in threads:
            out["by_threads"][str(t)] = entry
    if dll is not None:
        out["method"] = (f"measured: 12 independent {'AVX-512' if wide else 'AVX2'} FMA chains "
                         "compiled with cc; the peak is "
                         "the maximum sample, rated by wall time or by each thread's CPU time "
                         "(which ignores preemption by the host's other load); for t > 1 at "
                         "least t x the one-thread peak")
    else:
        out["method"] = (f"fallback ({why}): max(cpuinfo MHz x 32 SP / 16 DP flops/cycle/core, "
                         f"best GEMM rate observed)")
    return out


def peak_for(fma, t, dtype, best_observed=None):
    e = fma["by_threads"].get(str(t), {})
    if dtype in e:
        return e[dtype]["max"]
    theo = e.get("theoretical_from_cpuinfo_mhz", {}).get(dtype, float("nan"))
    return max(theo, best_observed or 0.0)


# ---------------------------------------------------------------------------------------------
# 1. GEMM
def bench_gemm(th, threads, quick, log):
    from fastprop import _kernels
    sizes = [64, 256, 1024] if quick else [64, 128, 256, 512, 1024, 2048]
    repeats, min_time = (3, 0.01) if quick else (7, 0.05)
    res = {"sizes": sizes, "repeats": repeats, "min_sample_seconds": min_time, "by_threads": {}}
    rng = np.random.default_rng(0)
    sigs = getattr(_kernels.gemm, "__signatures__", None) or {}
    for t in threads:
        th.set(t)
        gap = 0.05 if t > 1 else 0.0
        rows = {}
        for dt in (np.float32, np.float64):
            # The fused Cython function dispatches a Python float alpha to the double version,
            # so the specialisation is picked by name (outside the timed loop).
            gemm = sigs.get("float" if dt == np.float32 else "double", _kernels.gemm)
            for n in sizes:
                A = rng.standard_normal((n, n)).astype(dt)
                B = rng.standard_normal((n, n)).astype(dt)
                C1, C2 = np.empty((n, n), dt), np.empty((n, n), dt)
                gemm(False, False, 1.0, A, B, 0.0, C1)
                np.matmul(A, B, out=C2)
                err = float(np.abs(C1 - C2).max() / max(np.abs(C2).max(), 1e-30))

                def fp_k(k):
                    t0 = _now()
                    for _ in range(k):
                        gemm(False, False, 1.0, A, B, 0.0, C1)
                    return _now() - t0

                def np_k(k):
                    t0 = _now()
                    for _ in range(k):
                        np.matmul(A, B, out=C2)
                    return _now() - t0

                kf, kn = calibrate(fp_k, min_time), calibrate(np_k, min_time)
                s = interleave([("fastprop", lambda: fp_k(kf) / kf),
                                ("numpy", lambda: np_k(kn) / kn)],
                               repeats, warmup=1, gap=gap)
                flop = 2.0 * n ** 3
                g = {c: [flop / x * 1e-9 for x in v] for c, v in s.items()}
                cpu = CPU_SAMPLES.pop(id(s), {})
                row = {c: summary(v, "GFLOP/s") for c, v in g.items()}
                row["cpu_time"] = {c: summary([flop / x * 1e-9 for x in v], "GFLOP/s")
                                   for c, v in cpu.items()}
                row["cpu_time_ratio"] = (row["cpu_time"]["fastprop"]["median"]
                                         / row["cpu_time"]["numpy"]["median"])
                row["inner"] = {"fastprop": kf, "numpy": kn}
                row["max_rel_error"] = err
                row["ratio"] = row["fastprop"]["median"] / row["numpy"]["median"]
                rows[f"{np.dtype(dt).name}/{n}"] = row
                log(f"  gemm t={t} {np.dtype(dt).name:7s} n={n:5d}: fastprop "
                    f"{row['fastprop']['median']:6.1f}  numpy {row['numpy']['median']:6.1f} "
                    f"GFLOP/s  ratio {row['ratio']:.2f}")
        res["by_threads"][str(t)] = rows
    return res


# ---------------------------------------------------------------------------------------------
# 2. Tutorial 2-3-1 sigmoid + MSE, per-sample SGD
def bench_tutorial(th, threads, quick, torch, log):
    import fastprop as fp
    n = 1000
    X, y = peers.tutorial_data(n)
    Xl, yl = X.tolist(), y[:, 0].tolist()
    repeats, min_time = (3, 0.01) if quick else (7, 0.1)
    lr = 0.5
    res = {"samples_in_data": n, "lr": lr, "dtype": "float64", "repeats": repeats,
           "by_threads": {}}
    for t in threads:
        th.set(t)
        gap = 0.05 if t > 1 else 0.0
        net = fp.Network([fp.Dense(2, 3, "sigmoid"), fp.Dense(3, 1, "sigmoid")], loss="mse",
                         dtype="float64", seed=0)
        opt = fp.SGD(lr=lr)

        def fp_run(epochs):
            t0 = _now()
            net.fit(X, y, epochs=epochs, batch_size=1, optimizer=opt, shuffle=False)
            return _now() - t0

        scalar = peers.ScalarTutorial()

        def scalar_run(epochs):
            t0 = _now()
            scalar.fit(Xl, yl, epochs, lr)
            return _now() - t0

        npnet = peers.NumpyMLP([2, 3, 1], "sigmoid", "sigmoid", "mse", "float64")
        rows_np = [(X[i:i + 1], y[i:i + 1]) for i in range(n)]

        def np_run(k):  # k samples, per-sample steps
            step = npnet.train_step
            t0 = _now()
            for i in range(k):
                xb, yb = rows_np[i % n]
                step(xb, yb, lr)
            return _now() - t0

        contenders = []
        ef = calibrate(fp_run, min_time)
        contenders.append(("fastprop", lambda: fp_run(ef) / (ef * n)))
        es = calibrate(scalar_run, min_time)
        contenders.append(("python_scalar", lambda: scalar_run(es) / (es * n)))
        kn = calibrate(np_run, min_time, start=50)
        contenders.append(("numpy", lambda: np_run(kn) / kn))
        if torch is not None:
            tt = peers.TorchTrainer([2, 3, 1], "sigmoid", "sigmoid", "mse", "float64", lr=lr)
            Xt, yt = tt.tensors(X, y)
            batches = [(Xt[i:i + 1], yt[i:i + 1]) for i in range(n)]

            def torch_run(k):
                t0 = _now()
                tt.run(batches[:k] if k <= n else (batches * (k // n + 1))[:k])
                return _now() - t0

            kt = calibrate(torch_run, min_time, start=20)
            contenders.append(("torch", lambda: torch_run(kt) / kt))
        s = interleave(contenders, repeats, warmup=1, gap=gap)
        row = step_row(s)
        res["by_threads"][str(t)] = row
        log(f"  tutorial t={t}: " + "  ".join(f"{c} {row[c]['median'] * 1e6:.3f} us"
                                              for c in s))
    return res


# ---------------------------------------------------------------------------------------------
# 3./4. Mini-batch workloads (synthetic data)
def _minibatch(th, threads, quick, torch, log, *, name, sizes, hidden, output, loss, batch,
               steps, repeats, warmup, lr, warm_steps, seed=0):
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
    for t in threads:
        th.set(t)
        gap = 0.05 if t > 1 else 0.0
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
            t0 = _now()
            net.fit(X, y, epochs=1, batch_size=batch, optimizer=opt, shuffle=False)
            return (_now() - t0) / steps

        contenders.append(("fastprop", fp_sample))
        npnet = peers.NumpyMLP(sizes, hidden, output, loss, "float32", seed=seed)
        np_batches = [(X[s:s + batch], y[s:s + batch]) for s in range(0, n, batch)]

        def np_sample():
            for xb, yb in np_batches[:warm // batch]:
                npnet.train_step(xb, yb, lr)
            t0 = _now()
            for xb, yb in np_batches:
                npnet.train_step(xb, yb, lr)
            return (_now() - t0) / steps

        contenders.append(("numpy", np_sample))
        if torch is not None:
            tt = peers.TorchTrainer(sizes, hidden, output, loss, "float32", lr=lr, seed=seed)
            Xt, yt = tt.tensors(X, y)
            t_batches = [(Xt[s:s + batch], yt[s:s + batch]) for s in range(0, n, batch)]

            def torch_sample():
                tt.run(t_batches[:warm // batch])
                t0 = _now()
                tt.run(t_batches)
                return (_now() - t0) / steps

            contenders.append(("torch", torch_sample))
        s = interleave(contenders, repeats, warmup=warmup, gap=gap)
        row = step_row(s)
        res["by_threads"][str(t)] = row
        log(f"  {name} t={t}: " + "  ".join(f"{c} {row[c]['median'] * 1e3:.2f} ms"
                                           for c in s))
        del net, npnet, contenders
        gc.collect()
    return res


def bench_mnist(th, threads, quick, torch, log):
    return _minibatch(th, threads, quick, torch, log, name="mnist",
                      sizes=[784, 256, 128, 10], hidden="relu", output="softmax",
                      loss="cross_entropy", batch=128, steps=10 if quick else 20,
                      repeats=3 if quick else 9, warmup=1, lr=0.01,
                      warm_steps=10 if quick else 20)


def bench_big(th, threads, quick, torch, log):
    return _minibatch(th, threads, quick, torch, log, name="big",
                      sizes=[1024, 4096, 4096, 1024], hidden="relu", output="identity",
                      loss="mse", batch=512, steps=1 if quick else 2,
                      repeats=1 if quick else 3, warmup=0 if quick else 1, lr=1e-4,
                      warm_steps=1)


# ---------------------------------------------------------------------------------------------
# 5. scikit-learn digits
def bench_digits(th, threads, quick, torch, sklearn, log):
    import fastprop as fp
    if sklearn is None:
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
        th.set(t)
        gap = 0.05 if t > 1 else 0.0
        acc = {}

        def sk_sample():
            clf = MLPClassifier(hidden_layer_sizes=(64,), activation="relu", solver="sgd",
                                batch_size=batch, max_iter=epochs, learning_rate="constant",
                                learning_rate_init=lr, momentum=mom, nesterovs_momentum=True,
                                alpha=0.0, shuffle=True, random_state=0, tol=0.0,
                                n_iter_no_change=epochs + 1, early_stopping=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                t0 = _now()
                clf.fit(Xtr, ytr)
                dt = _now() - t0
            acc.setdefault("sklearn", []).append(float((clf.predict(Xte) == yte).mean()))
            acc.setdefault("sklearn_epochs", []).append(int(clf.n_iter_))
            return dt

        def fp_sample():
            net = fp.mlp([64, 64, 10], hidden="relu", output="softmax", loss="cross_entropy",
                         dtype="float64", seed=0)
            opt = fp.SGD(lr=lr, momentum=mom, nesterov=True)
            t0 = _now()
            net.fit(Xtr, ytr, epochs=epochs, batch_size=batch, optimizer=opt, shuffle=True,
                    seed=0)
            dt = _now() - t0
            acc.setdefault("fastprop", []).append(
                float((net.predict(Xte).argmax(axis=1) == yte).mean()))
            return dt

        contenders = [("fastprop", fp_sample), ("sklearn", sk_sample)]
        # torch's fit (~9000 idiomatic steps) is not a target: one thread count only, one sample
        if torch is not None and not quick and t == threads[0]:
            def torch_sample():
                tt = peers.TorchTrainer([64, 64, 10], "relu", "softmax", "cross_entropy",
                                        "float64", lr=lr, momentum=mom, nesterov=True, seed=0)
                Xt, yt = tt.tensors(Xtr, ytr)
                t0 = _now()
                tt.fit(Xt, yt, epochs, batch, shuffle=True, seed=0)
                dt = _now() - t0
                Xv, _ = tt.tensors(Xte, yte)
                acc.setdefault("torch", []).append(
                    float((tt.predict(Xv).argmax(axis=1) == yte).mean()))
                return dt

            contenders.append(("torch", torch_sample))
        if len(contenders) == 3:
            # torch takes several seconds a fit: one sample, after the interleaved ones
            s = interleave(contenders[:2], repeats, warmup=0, gap=gap)
            cpu = CPU_SAMPLES.pop(id(s))
            s2 = interleave(contenders[2:], 1, warmup=0, gap=gap)
            cpu.update(CPU_SAMPLES.pop(id(s2)))
            s.update(s2)
            CPU_SAMPLES[id(s)] = cpu
        else:
            s = interleave(contenders, repeats, warmup=0, gap=gap)
        row = with_cpu({c: summary(v, "s/fit") for c, v in s.items()}, s, "s/fit")
        row["speedup"] = {c: row[c]["median"] / row["fastprop"]["median"]
                          for c in s if c != "fastprop"}
        row["cpu_time_speedup"] = {c: row["cpu_time"][c]["median"]
                                   / row["cpu_time"]["fastprop"]["median"]
                                   for c in s if c != "fastprop"}
        row["test_accuracy"] = {c: med(v) for c, v in acc.items() if not c.endswith("epochs")}
        row["test_accuracy_samples"] = acc
        res["by_threads"][str(t)] = row
        log(f"  digits t={t}: " + "  ".join(
            f"{c} {row[c]['median']:.3f} s (acc {row['test_accuracy'].get(c, float('nan')):.4f})"
            for c in s))
    if torch is not None and quick:
        res["torch_note"] = "torch digits fit skipped in --quick"
    return res


# ---------------------------------------------------------------------------------------------
# Report
def _fmt_t(seconds):
    if seconds != seconds:
        return "-"
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


NAN = float("nan")


def _cpu_sp(r, peer, t):
    """Speedup by thread CPU time (one thread only: then all the work runs on our thread)."""
    if t != "1":
        return NAN
    return r.get("cpu_time_speedup", {}).get(peer, NAN)


def build_table(results):
    """Rows: (workload, threads, comparison, fastprop, peer, speedup, target, verdict, noise)."""
    rows = []
    verdicts = []

    def verdict(value, target):
        if target is None or value != value:
            return ""
        ok = value >= target
        verdicts.append(ok)
        return "met" if ok else "NOT met"

    def _step_row(name, t, peer, r, sp, tgt):
        """One row: fastprop's and the peer's time a step, the speedup and its verdict."""
        return (name, t, f"per step vs {peer}", _fmt_t(r["fastprop"]["median"]),
                _fmt_t(r[peer]["median"]), sp, tgt, verdict(sp, tgt),
                max(r["fastprop"]["spread"], r[peer]["spread"]), _cpu_sp(r, peer, t))

    fma = results.get("fma_peak")
    g = results.get("workloads", {}).get("gemm")
    if g and "by_threads" in g:
        for t, rowset in g["by_threads"].items():
            for key, r in rowset.items():
                dt, n = key.split("/")
                n = int(n)
                tgt = TARGETS["gemm_vs_numpy"] if (t == "1" and n >= 256) else None
                noise = max(r["fastprop"]["spread"], r["numpy"]["spread"])
                rows.append(("gemm " + dt, t, f"n={n} vs numpy",
                             f"{r['fastprop']['median']:.1f} GF/s",
                             f"{r['numpy']['median']:.1f} GF/s", r["ratio"],
                             tgt, verdict(r["ratio"], tgt), noise,
                             r["cpu_time_ratio"] if t == "1" else NAN))
                if fma:
                    peak = peak_for(fma, t, dt, max(r["fastprop"]["max"], r["numpy"]["max"]))
                    frac = r["fastprop"]["median"] / peak
                    r["fma_peak"] = peak
                    r["fraction_of_fma_peak"] = frac
                    r["numpy_fraction_of_fma_peak"] = r["numpy"]["median"] / peak
                    tgt2 = TARGETS["gemm_of_peak"] if (t == "1" and n >= 256) else None
                    if t != "1":        # in the JSON only: the table keeps the target rows
                        continue
                    rows.append(("gemm " + dt, t, f"n={n} of FMA peak",
                                 f"{r['fastprop']['median']:.1f} GF/s", f"{peak:.1f} GF/s",
                                 frac, tgt2, verdict(frac, tgt2), NAN,
                                 r["cpu_time"]["fastprop"]["median"] / peak))

    tu = results.get("workloads", {}).get("tutorial")
    if tu and "by_threads" in tu:
        for t, r in tu["by_threads"].items():
            for peer, tkey in (("torch", "tutorial_vs_torch"), ("python_scalar", "tutorial_vs_scalar"),
                               ("numpy", None)):
                if peer not in r:
                    continue
                sp = r["speedup"][peer]
                tgt = TARGETS[tkey] if tkey else None
                rows.append(_step_row("tutorial 2-3-1", t, peer, r, sp, tgt))

    mn = results.get("workloads", {}).get("mnist")
    if mn and "by_threads" in mn:
        for t, r in mn["by_threads"].items():
            for peer, tkey in (("numpy", "mnist_vs_numpy"), ("torch", "mnist_vs_torch")):
                if peer not in r:
                    continue
                sp = r["speedup"][peer]
                tgt = TARGETS[tkey] if t == "1" else None
                rows.append(_step_row("784-256-128-10 b128", t, peer, r, sp, tgt))
        if "1" in mn["by_threads"] and "2" in mn["by_threads"]:
            one = mn["by_threads"]["1"]["fastprop"]["median"]
            two = mn["by_threads"]["2"]["fastprop"]["median"]
            sp = one / two
            mn["fastprop_2t_over_1t"] = sp
            tgt = TARGETS["mnist_2t_vs_1t"]
            rows.append(("784-256-128-10 b128", "2", "fastprop 2t vs 1t", _fmt_t(two),
                         _fmt_t(one), sp, tgt, verdict(sp, tgt), NAN, NAN))

    bg = results.get("workloads", {}).get("big")
    if bg and "by_threads" in bg:
        for t, r in bg["by_threads"].items():
            for peer in ("numpy", "torch"):
                if peer not in r:
                    continue
                sp = r["speedup"][peer]
                tgt = None
                if peer == "numpy" and t == "1":
                    tgt = TARGETS["big_vs_numpy"]
                if peer == "torch" and t == "2":
                    tgt = TARGETS["big_vs_torch_2t"]
                rows.append(_step_row("1024-4096-4096-1024 b512", t, peer, r, sp, tgt))

    dg = results.get("workloads", {}).get("digits")
    if dg and "by_threads" in dg:
        for t, r in dg["by_threads"].items():
            accs = r["test_accuracy"]
            for peer in ("sklearn", "torch"):
                if peer not in r:
                    continue
                sp = r["speedup"][peer]
                tgt = TARGETS["digits_vs_sklearn"] if peer == "sklearn" else None
                v = verdict(sp, tgt)
                if peer == "sklearn":
                    same = abs(accs["fastprop"] - accs["sklearn"]) <= 0.01 + 1e-12
                    r["accuracy_within_1_point"] = same
                    if not same:
                        verdicts.append(False)
                        v = (v + ", acc differs > 1 pt") if v else "acc differs > 1 pt"
                rows.append(("digits 64-64-10 200 ep", t,
                             f"fit vs {peer} (acc {accs['fastprop'] * 100:.1f}/"
                             f"{accs[peer] * 100:.1f})",
                             _fmt_t(r["fastprop"]["median"]), _fmt_t(r[peer]["median"]), sp,
                             tgt, v, max(r["fastprop"]["spread"], r[peer]["spread"]),
                             _cpu_sp(r, peer, t)))
    return rows, verdicts


def print_table(results, out=sys.stdout):
    rows, verdicts = build_table(results)
    head = ("workload", "thr", "comparison", "fastprop", "peer", "speedup", "target", "verdict",
            "noise", "by CPU")

    def x(v):
        return "" if v != v else (f"{v:.2f}x" if v < 100 else f"{v:.0f}x")

    cells = [head]
    for w, t, comp, a, b, sp, tgt, v, noise, cpu_sp in rows:
        cells.append((w, t, comp, a, b, x(sp), "" if tgt is None else f">= {tgt:g}x", v,
                      "" if noise != noise else f"{noise * 100:.0f}%", x(cpu_sp)))
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(head))]
    line = "  ".join("-" * w for w in widths)
    print(line, file=out)
    for k, c in enumerate(cells):
        print("  ".join(str(v).ljust(w) if i < 3 or i in (7, 8) else str(v).rjust(w)
                        for i, (v, w) in enumerate(zip(c, widths))).rstrip(), file=out)
        if k == 0:
            print(line, file=out)
    print(line, file=out)
    print(f"speedup = peer time / fastprop time (GEMM: fastprop GFLOP/s / numpy GFLOP/s; "
          f"'of FMA peak': fastprop / measured peak), medians of wall times; verdicts use these. "
          f"noise = the larger relative inter-quartile spread of the two contenders' samples. "
          f"by CPU = the same ratio from the thread CPU time of each sample (one thread only), "
          f"which leaves out preemption by the shared host's other load.", file=out)
    print(f"targets met: {sum(verdicts)} of {len(verdicts)}", file=out)
    fma = results.get("fma_peak")
    if fma:
        print(f"FMA peak: {fma['method']}", file=out)
        for t, e in fma["by_threads"].items():
            parts = []
            for dt in ("float32", "float64"):
                if dt in e:
                    parts.append(f"{dt} {e[dt]['max']:.1f} GFLOP/s (loop by wall: max "
                                 f"{e[dt]['loop_max']:.1f}, median {e[dt]['loop_median']:.1f}; "
                                 f"by CPU time: median {e[dt]['cpu_time_median']:.1f})")
            theo = e["theoretical_from_cpuinfo_mhz"]
            fpc = fma.get("vector_bits", 256) // 8
            parts.append(f"cpuinfo {e['cpuinfo_mhz']:.0f} MHz x {fpc}/{fpc // 2} flops/cycle = "
                         f"{theo['float32']:.1f}/{theo['float64']:.1f}")
            print(f"  t={t}: " + "; ".join(parts), file=out)
    return rows, verdicts


# ---------------------------------------------------------------------------------------------
def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a reduced run (under a minute)")
    p.add_argument("--only", default=",".join(WORKLOADS),
                   help="comma-separated subset of " + ",".join(WORKLOADS))
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--json", default=None,
                   help="output JSON file (default docs/compare.json next to benchmarks/)")
    p.add_argument("--no-json", action="store_true", help="write no JSON")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.only = [w.strip() for w in a.only.split(",") if w.strip()]
    bad = [w for w in a.only if w not in WORKLOADS]
    if bad:
        p.error(f"--only: unknown workload(s) {bad}; expected some of {WORKLOADS}")
    try:
        a.threads = [int(x) for x in a.threads.split(",") if x.strip()]
    except ValueError:
        p.error(f"--threads: expected integers like 1,2, got {a.threads!r}")
    if not a.threads or min(a.threads) < 1:
        p.error("--threads: expected positive integers")
    if a.json is None:
        a.json = os.path.join(os.path.dirname(HERE), "docs", "compare.json")
    return a


def _warn_env(log):
    bad = [k for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ]
    if bad:
        log("WARNING: " + ", ".join(f"{k}={os.environ[k]}" for k in bad) + " is set: numpy's "
            "OpenBLAS may be slowed (wrong kernel or block sizes) and the numpy figures "
            "understated. Run with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...`.")
    return bad


def _run_children(args, log):
    """No threadpoolctl: one child process per thread count, OPENBLAS_NUM_THREADS=t."""
    merged = None
    for t in args.threads:
        fd, path = tempfile.mkstemp(suffix=".json")
        os.close(fd)
        cmd = [sys.executable, os.path.abspath(__file__), "--child", "--threads", str(t),
               "--only", ",".join(args.only), "--json", path] + (["--quick"] if args.quick else [])
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t))
        log(f"threadpoolctl is missing: running the t={t} part in a child process with "
            f"OPENBLAS_NUM_THREADS={t}")
        subprocess.run(cmd, env=env, check=True)
        with open(path) as f:
            part = json.load(f)
        os.unlink(path)
        if merged is None:
            merged = part
            merged["threads"] = list(args.threads)
            continue
        for w, r in part["workloads"].items():
            if "by_threads" in r and "by_threads" in merged["workloads"].get(w, {}):
                merged["workloads"][w]["by_threads"].update(r["by_threads"])
        merged["fma_peak"]["by_threads"].update(part["fma_peak"]["by_threads"])
    return merged


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    t_start = _now()
    env_warn = _warn_env(log)
    try:
        import threadpoolctl  # noqa: F401
        have_tpc = True
    except ImportError:
        have_tpc = False
    if not have_tpc and not args.child and (
            len(args.threads) > 1 or os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads[0])):
        results = _run_children(args, log)
    else:
        results = run(args, log)
    results["env_warning"] = env_warn
    results["wall_seconds_total"] = _now() - t_start
    if not args.child:
        print(file=sys.stdout)
        print_table(results)
        print(f"total wall time {results['wall_seconds_total']:.1f} s; load average at start "
              f"{results['machine']['loadavg_start'][0]:.1f}, at end {os.getloadavg()[0]:.1f} "
              f"(a shared host: read ratios with the noise column in mind)")
    if not args.no_json:
        build_table(results)            # adds derived figures (fraction of peak, ...)
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(results, f, indent=1, default=float)
        os.replace(tmp, args.json)
        if not args.child:
            print(f"wrote {args.json}")
    return 0


def run(args, log):
    try:
        import torch
    except ImportError:
        torch = None
        log("PyTorch is not installed: the torch parts are skipped.")
    try:
        import sklearn
    except ImportError:
        sklearn = None
        if "digits" in args.only:
            log("scikit-learn is not installed: the digits comparison is skipped.")
    import fastprop as fp
    th = Threads(torch)
    info = machine_info(th, torch, sklearn)
    here = os.path.realpath(os.path.dirname(HERE))
    if os.path.realpath(fp.__file__).startswith(here + os.sep):
        log(f"WARNING: fastprop imported from the source tree ({fp.__file__}); run from "
            f"outside the checkout with the installed package.")
    log(f"fastprop {info['versions']['fastprop']} ({info['fastprop_simd_path']}) from "
        f"{fp.__file__}")
    log(f"numpy {np.__version__}, torch {info['versions']['torch']}, sklearn "
        f"{info['versions']['sklearn']}; CPU {info['cpu_model']} "
        f"({info['cpu'].get('microarchitecture_guess', '?')}), {info['logical_cpus']} cpus; "
        f"threads {args.threads}; load average {info['loadavg_start'][0]:.1f}")
    results = {"machine": info, "threads": args.threads, "quick": args.quick,
               "only": args.only, "targets": TARGETS, "workloads": {},
               "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
               "method": ("interleaved contenders, order rotated each repeat, medians after "
                          "warm-up; pause of 0.05 s between contenders when t > 1")}
    log("measuring the FMA peak ...")
    results["fma_peak"] = measure_fma_peak(args.threads, args.quick)
    for w in args.only:
        t0 = _now()
        log(f"{w} ...")
        la0 = os.getloadavg()[0]
        if w == "gemm":
            r = bench_gemm(th, args.threads, args.quick, log)
        elif w == "tutorial":
            r = bench_tutorial(th, args.threads, args.quick, torch, log)
        elif w == "mnist":
            r = bench_mnist(th, args.threads, args.quick, torch, log)
        elif w == "big":
            r = bench_big(th, args.threads, args.quick, torch, log)
        else:
            r = bench_digits(th, args.threads, args.quick, torch, sklearn, log)
        r["wall_seconds"] = _now() - t0
        r["loadavg"] = [la0, os.getloadavg()[0]]
        if torch is None and w != "gemm":
            r["torch_note"] = "torch not installed: skipped"
        results["workloads"][w] = r
        log(f"  ({r['wall_seconds']:.1f} s)")
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["machine"]["numpy_threads_at_end"] = th.numpy_threads()
    return results


if __name__ == "__main__":
    sys.exit(main())
