"""1. GEMM: fastprop's compiled GEMM (fastprop.timing.gemm_kernel) against numpy's matmul
(OpenBLAS), square n x n, both dtypes, in GFLOP/s."""
import time

import numpy as np

from fastprop.timing import calibrate, gemm_kernel, interleave, summary

from .common import gap


def run(setup):
    sizes = [64, 256, 1024] if setup.quick else [64, 128, 256, 512, 1024, 2048]
    repeats, min_time = (3, 0.01) if setup.quick else (7, 0.05)
    res = {"sizes": sizes, "repeats": repeats, "min_sample_seconds": min_time, "by_threads": {}}
    rng = np.random.default_rng(0)
    for t in setup.threads:
        setup.th.set(t)
        rows = {}
        for dt in (np.float32, np.float64):
            gemm = gemm_kernel(dt)
            for n in sizes:
                A = rng.standard_normal((n, n)).astype(dt)
                B = rng.standard_normal((n, n)).astype(dt)
                C1, C2 = np.empty((n, n), dt), np.empty((n, n), dt)
                gemm(False, False, 1.0, A, B, 0.0, C1)
                np.matmul(A, B, out=C2)
                err = float(np.abs(C1 - C2).max() / max(np.abs(C2).max(), 1e-30))

                def fp_k(k):
                    t0 = time.perf_counter()
                    for _ in range(k):
                        gemm(False, False, 1.0, A, B, 0.0, C1)
                    return time.perf_counter() - t0

                def np_k(k):
                    t0 = time.perf_counter()
                    for _ in range(k):
                        np.matmul(A, B, out=C2)
                    return time.perf_counter() - t0

                kf, _ = calibrate(fp_k, min_time)
                kn, _ = calibrate(np_k, min_time)
                s = interleave([("fastprop", lambda: fp_k(kf) / kf),
                                ("numpy", lambda: np_k(kn) / kn)],
                               repeats, warmup=1, gap=gap(t))
                flop = 2.0 * n ** 3
                row = {c: summary([flop / x * 1e-9 for x in v], "GFLOP/s")
                       for c, v in s.wall.items()}
                row["cpu_time"] = {c: summary([flop / x * 1e-9 for x in v], "GFLOP/s")
                                   for c, v in s.cpu.items()}
                row["cpu_time_ratio"] = (row["cpu_time"]["fastprop"]["median"]
                                         / row["cpu_time"]["numpy"]["median"])
                row["inner"] = {"fastprop": kf, "numpy": kn}
                row["max_rel_error"] = err
                row["ratio"] = row["fastprop"]["median"] / row["numpy"]["median"]
                rows[f"{np.dtype(dt).name}/{n}"] = row
                setup.log(f"  gemm t={t} {np.dtype(dt).name:7s} n={n:5d}: fastprop "
                          f"{row['fastprop']['median']:6.1f}  numpy "
                          f"{row['numpy']['median']:6.1f} GFLOP/s  ratio {row['ratio']:.2f}")
        res["by_threads"][str(t)] = rows
    return res
