"""fastprop.sklearn.MLPClassifier against scikit-learn's MLPClassifier: 5-fold
cross_val_score wall time and mean accuracy, the same hyper-parameters, one thread each
(fastprop: n_threads=1; scikit-learn's BLAS: threadpoolctl), on digits (1,797 x 64,
standardised) and on make_classification(n_samples=100_000, n_features=50,
n_informative=30, n_classes=5). --quick: 20,000 synthetic samples and fewer epochs.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/sklearn_mlp.py [--quick]
"""
import argparse
import platform
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score
from sklearn.neural_network import MLPClassifier as SkMLP
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from fastprop.sklearn import MLPClassifier as FpMLP


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def workloads(quick):
    X, y = load_digits(return_X_y=True)
    yield "digits 1797x64", X, y, dict(hidden_layer_sizes=(100,), max_iter=200)
    n = 20_000 if quick else 100_000
    X, y = make_classification(n_samples=n, n_features=50, n_informative=30, n_classes=5,
                               random_state=0)
    yield f"make_classification {n}x50, 5 classes", X, y, dict(
        hidden_layer_sizes=(100,), max_iter=5 if quick else 20)


def run(cls, X, y, params, extra):
    pipe = make_pipeline(StandardScaler(), cls(random_state=0, **params, **extra))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        scores = cross_val_score(pipe, X, y, cv=5, n_jobs=1)
        return time.perf_counter() - t0, float(np.mean(scores))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller synthetic data, fewer epochs")
    args = p.parse_args(argv)
    print(f"host: {cpu_name()}; one thread each; 5-fold cross_val_score, "
          f"StandardScaler + MLP (adam, batch 200, the same random_state)")
    print(f"{'workload':40s} {'epochs':>6s} {'sklearn s':>10s} {'fastprop s':>10s} "
          f"{'speed-up':>8s} {'sk acc':>7s} {'fp acc':>7s}")
    with threadpool_limits(limits=1):
        for name, X, y, params in workloads(args.quick):
            sk_s, sk_acc = run(SkMLP, X, y, params, {})
            fp_s, fp_acc = run(FpMLP, X, y, params, {"n_threads": 1})
            print(f"{name:40s} {params['max_iter']:6d} {sk_s:10.2f} {fp_s:10.2f} "
                  f"{sk_s / fp_s:7.1f}x {sk_acc:7.4f} {fp_acc:7.4f}", flush=True)


if __name__ == "__main__":
    main()
