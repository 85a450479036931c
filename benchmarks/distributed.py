"""Steps per second of fastprop.distributed.fit and the fraction of each step spent in its
Allreduce, for P = 1, 2 ranks of one thread each, on two networks (issue 17).

    python benchmarks/distributed.py [--quick] [--json FILE]

starts `mpiexec -n P python benchmarks/distributed.py --worker ...` for each case (with
FASTPROP_NUM_THREADS=1) and prints a table. A worker times `steps` optimizer steps of fit
(shuffle=False, SGD) with the Allreduce wrapped by a timer: rank 0 reports steps/s and the
Allreduce's share of the wall time (waiting for the slower rank included)."""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CASES = [  # (sizes, batch, epochs of one step each)
    ([784, 256, 128, 10], 128, 60),
    ([1024, 4096, 4096, 1024], 512, 4),
]


def worker(sizes, batch, steps):
    from mpi4py import MPI
    import fastprop as fp
    from fastprop import distributed
    comm = MPI.COMM_WORLD
    rng = np.random.default_rng(0)
    X = rng.normal(size=(batch, sizes[0]))
    y = rng.integers(0, sizes[-1], batch)
    net = fp.mlp(sizes, hidden="relu", output="softmax", loss="cross_entropy", seed=0)
    spent = [0.0]
    real = comm.Allreduce

    class Timed:
        """comm with its Allreduce timed (the rest passed through)."""
        def __getattr__(self, name):
            return getattr(comm, name)

        def Allreduce(self, *args, **kwargs):
            t0 = time.perf_counter()
            real(*args, **kwargs)
            spent[0] += time.perf_counter() - t0

    opt = fp.SGD(lr=0.01)
    # one warm-up step (workspaces, first touch of the buffers), then the timed steps
    distributed.fit(net, X, y, epochs=1, batch_size=batch, optimizer=opt, shuffle=False)
    original = distributed._comm
    distributed._comm = lambda MPI_, c: Timed()
    try:
        comm.Barrier()
        t0 = time.perf_counter()
        distributed.fit(net, X, y, epochs=steps, batch_size=batch, optimizer=opt,
                        shuffle=False)
        wall = time.perf_counter() - t0
    finally:
        distributed._comm = original
    worst = comm.allreduce(wall, op=MPI.MAX)
    frac = comm.allreduce(spent[0] / wall, op=MPI.MAX)
    if comm.Get_rank() == 0:
        print(json.dumps(dict(sizes=sizes, batch=batch, ranks=comm.Get_size(), steps=steps,
                              steps_per_s=steps / worst, allreduce_fraction=frac,
                              n_params=net.n_params)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sizes, batch, steps = json.loads(args.worker)
        worker(sizes, batch, steps)
        return
    mpiexec = Path(sys.executable).parent / "mpiexec"
    mpiexec = str(mpiexec) if mpiexec.exists() else "mpiexec"
    env = dict(os.environ, FASTPROP_NUM_THREADS="1", OMP_NUM_THREADS="1")
    rows = []
    for sizes, batch, steps in CASES:
        steps = max(2, steps // 4) if args.quick else steps
        for P in (1, 2):
            out = subprocess.run([mpiexec, "-n", str(P), sys.executable, os.path.abspath(__file__),
                                  "--worker", json.dumps([sizes, batch, steps])],
                                 env=env, capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"{'-'.join(map(str, sizes)):>24} batch {batch:4d}  P={P}  "
                  f"{r['steps_per_s']:8.2f} steps/s  Allreduce {100 * r['allreduce_fraction']:5.1f}%"
                  f"  ({r['n_params']} parameters, {steps} steps)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
