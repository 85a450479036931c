"""Smoke test of an installed fastprop (a wheel or an sdist in a fresh venv): it imports the
installed package, not a source tree, trains a tiny network until the loss falls, checks
backprop against finite differences, and runs the `fastprop` command (--version, info).
Nothing here may need the checkout: tools/check_sdist.sh and tools/build_wheel.sh run it from an
empty folder, and cibuildwheel from its test environment.

    python tools/smoke_test.py [--checkout DIR]   (DIR: the source tree it must not import)
"""
import argparse
import os
import shutil
import subprocess
import sys

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", help="the source tree the package must not come from")
    args = parser.parse_args()

    import fastprop as fp
    where = os.path.realpath(fp.__file__)
    print(f"fastprop {fp.__version__} from {where}")
    if args.checkout and where.startswith(os.path.realpath(args.checkout) + os.sep):
        sys.exit(f"smoke test: fastprop was imported from the checkout ({where})")

    # XOR, the tutorial's first problem: the gradient of the fresh network (away from the
    # saturation training brings), then the loss must fall well below its start.
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0], dtype=float)
    net = fp.mlp([2, 8, 1], hidden="tanh", output="sigmoid", loss="binary_cross_entropy", seed=0)
    res = fp.gradcheck(net, X, y)
    print(f"gradcheck: ok={res.ok}, max rel error {res.max_rel_error:.2e}")
    if not res.ok:
        sys.exit("smoke test: backprop disagrees with finite differences")
    hist = net.fit(X, y, epochs=300, batch_size=4, optimizer=fp.Adam(lr=0.05), seed=0)
    print(f"fit: loss {hist.loss[0]:.4f} -> {hist.loss[-1]:.4f}")
    if not hist.loss[-1] < 0.5 * hist.loss[0]:
        sys.exit("smoke test: the loss did not fall")
    if not (net.predict(X)[:, 0].round() == y).all():
        sys.exit("smoke test: XOR not learned")

    # The console script of the same install (next to this Python; run by this Python, as a
    # venv copied elsewhere keeps its scripts' first lines pointing at the old place).
    script = shutil.which("fastprop", path=os.path.dirname(sys.executable))
    if script is None:
        sys.exit(f"smoke test: no `fastprop` command beside {sys.executable}")
    for argv in ([sys.executable, script, "--version"], [sys.executable, script, "info"]):
        proc = subprocess.run(argv, capture_output=True, text=True)
        print(proc.stdout + proc.stderr, end="")
        if proc.returncode != 0:
            sys.exit(f"smoke test: `fastprop {argv[-1]}` exited with {proc.returncode}")
        out = proc.stdout
    if fp.__version__ not in out.splitlines()[0]:
        sys.exit("smoke test: `fastprop info` shows another version")
    print("smoke test passed")


if __name__ == "__main__":
    main()
