"""numpy (OpenBLAS) GFLOP/s for the same table as `gemm_check bench`: square n, C = A @ B,
float32/float64, median of 7 samples of >= 30 ms. Thread count from OPENBLAS_NUM_THREADS:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 python bench_numpy.py
"""
import sys
import time

import numpy as np

ns = [int(a) for a in sys.argv[1:]] or [64, 128, 256, 512, 1024, 2048]
rng = np.random.default_rng(0)
print("%6s %10s %10s" % ("n", "f32", "f64"))
for n in ns:
    row = []
    for dt in (np.float32, np.float64):
        a = rng.random((n, n)).astype(dt)
        b = rng.random((n, n)).astype(dt)
        c = np.empty((n, n), dt)
        inner = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(inner):
                np.matmul(a, b, out=c)
            if time.perf_counter() - t0 > 0.03:
                break
            inner *= 2
        g = []
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(inner):
                np.matmul(a, b, out=c)
            g.append(2.0 * n**3 * inner / (time.perf_counter() - t0) * 1e-9)
        row.append(sorted(g)[3])
    print("%6d %10.1f %10.1f" % (n, row[0], row[1]), flush=True)
