"""The machine of benchmarks/compare.py: the thread count of each library (Threads), the
machine report of the JSON (from fastprop.timing's), and the FMA peak the GEMM rates are
read against."""
import ctypes
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from fastprop.timing import calibrate, cpu_info, machine_info as fastprop_machine_info, median


class Threads:
    """Sets the thread count of fastprop, numpy's BLAS (through threadpoolctl, when
    installed) and torch together."""

    def __init__(self, torch=None):
        import fastprop as fp
        self.fp = fp
        self.torch = torch
        self.limiter = None
        try:
            import threadpoolctl
            self.threadpoolctl = threadpoolctl
        except ImportError:
            self.threadpoolctl = None

    def set(self, t):
        self.fp.set_num_threads(t)
        if self.threadpoolctl is not None:
            if self.limiter is not None:
                self.limiter.restore_original_limits()
            self.limiter = self.threadpoolctl.threadpool_limits(limits=t, user_api="blas")
        if self.torch is not None:
            self.torch.set_num_threads(t)

    def numpy_threads(self):
        if self.threadpoolctl is None:
            return os.environ.get("OPENBLAS_NUM_THREADS")
        return [i.get("num_threads") for i in self.threadpoolctl.threadpool_info()
                if i.get("user_api") == "blas"]


def machine_info(th, torch, sklearn):
    """The "machine" record of compare.json."""
    import fastprop as fp
    cpu = cpu_info()
    base = fastprop_machine_info(cpu)
    info = {
        "cpu_model": cpu.get("model name"),
        "cpu": cpu,
        "logical_cpus": base["logical_cores"],
        "affinity": base.get("usable_cores"),
        "platform": base["platform"],
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
    cpu = cpu_info()
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
                    t0 = time.perf_counter()
                    for th in ths:
                        th.join()
                    wall = time.perf_counter() - t0
                    # each thread's rate over its own CPU time: what its core does while it
                    # runs, whatever else the shared host runs meanwhile
                    cpu_rates.append(sum(iters * flops_per_iter / max(c, 1e-9) * 1e-9
                                         for c in per_thread))
                    return wall

                iters, _ = calibrate(run, 0.02 if quick else 0.05, start=1 << 16)
                del cpu_rates[:]
                rates = []
                for _ in range(5 if quick else 9):
                    rates.append(t * iters * flops_per_iter / run(iters) * 1e-9)
                e = {"loop_max": max(rates), "loop_median": median(rates), "samples": rates,
                     "cpu_time_max": max(cpu_rates), "cpu_time_median": median(cpu_rates),
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
