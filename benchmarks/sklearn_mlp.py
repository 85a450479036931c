"""fastprop.sklearn.MLPClassifier against scikit-learn's MLPClassifier, the same
hyper-parameters, one thread each (fastprop: n_threads=1; scikit-learn's BLAS: threadpoolctl),
n_jobs=1, StandardScaler first, medians over interleaved repeats. Two sections:

- cv: 5-fold cross_val_score wall time and mean accuracy on digits (1,797 x 64) and on
  make_classification(n_samples=100_000, n_features=50, n_informative=30, n_classes=5);
- grid: GridSearchCV(cv=5) over 12 settings on digits (hidden_layer_sizes x alpha x
  learning_rate_init, 2 x 3 x 2): wall time, best parameters, best score.

fastprop runs in float64 (scikit-learn's dtype); --float32 adds fastprop in float32 too.
--quick: 20,000 synthetic samples, fewer epochs, a 3-fold grid search, one repeat.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/sklearn_mlp.py \\
        [--sections cv,grid] [--repeats 3] [--float32] [--quick]
"""
import argparse
import platform
import statistics
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier as SkMLP
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from fastprop.sklearn import MLPClassifier as FpMLP

GRID = {"mlpclassifier__hidden_layer_sizes": [(50,), (100,)],
        "mlpclassifier__alpha": [1e-4, 1e-3, 1e-2],
        "mlpclassifier__learning_rate_init": [1e-3, 3e-3]}


def cpu_name():
    """The host's CPU model, and whether it has AVX-512 (fastprop's widest kernels)."""
    name, avx512 = platform.processor() or "unknown CPU", None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and avx512 is None:
                    name = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    avx512 = " avx512f" in line
                    break
    except OSError:
        pass
    return name + ("" if avx512 is None else ", AVX-512" if avx512 else ", no AVX-512")


def workloads(quick):
    X, y = load_digits(return_X_y=True)
    yield "digits 1797x64", X, y, dict(hidden_layer_sizes=(100,), max_iter=200)
    n = 20_000 if quick else 100_000
    X, y = make_classification(n_samples=n, n_features=50, n_informative=30, n_classes=5,
                               random_state=0)
    yield f"make_classification {n}x50, 5 classes", X, y, dict(
        hidden_layer_sizes=(100,), max_iter=5 if quick else 20)


def contenders(float32):
    """(name, estimator class, extra parameters): scikit-learn first, the reference."""
    out = [("sklearn", SkMLP, {}), ("fastprop", FpMLP, {"n_threads": 1})]
    if float32:
        out.append(("fastprop f32", FpMLP, {"n_threads": 1, "dtype": "float32"}))
    return out


def pipeline(cls, params, extra):
    return make_pipeline(StandardScaler(), cls(random_state=0, **params, **extra))


def timed(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        result = fn()
        return time.perf_counter() - t0, result


def interleaved(runs, repeats):
    """{name: (median seconds, result of the last run)}: the contenders run in turn, repeat
    after repeat, so that a slow spell of a shared host falls on all of them."""
    seconds = {name: [] for name in runs}
    results = {}
    for _ in range(repeats):
        for name, fn in runs.items():
            s, results[name] = timed(fn)
            seconds[name].append(s)
    return {name: (statistics.median(seconds[name]), results[name]) for name in runs}


def section_cv(args):
    names = [name for name, _, _ in contenders(args.float32)]
    print(f"\n5-fold cross_val_score, StandardScaler + MLP (adam, batch 200, hidden (100,), "
          f"random_state=0); seconds, speed-up against sklearn, mean accuracy")
    print(f"{'workload':40s} {'epochs':>6s} " + " ".join(f"{n + ' s':>15s}" for n in names)
          + " " + " ".join(f"{n + ' x':>15s}" for n in names[1:])
          + " " + " ".join(f"{n + ' acc':>17s}" for n in names))
    for label, X, y, params in workloads(args.quick):
        runs = {name: (lambda cls=cls, extra=extra: float(np.mean(cross_val_score(
            pipeline(cls, params, extra), X, y, cv=5, n_jobs=1))))
            for name, cls, extra in contenders(args.float32)}
        got = interleaved(runs, args.repeats)
        sk_s = got["sklearn"][0]
        print(f"{label:40s} {params['max_iter']:6d} "
              + " ".join(f"{got[n][0]:15.2f}" for n in names) + " "
              + " ".join(f"{sk_s / got[n][0]:14.1f}x" for n in names[1:]) + " "
              + " ".join(f"{got[n][1]:17.4f}" for n in names), flush=True)


def section_grid(args):
    X, y = load_digits(return_X_y=True)
    cv, max_iter = (3, 20) if args.quick else (5, 200)
    n_settings = int(np.prod([len(v) for v in GRID.values()]))
    axes = ", ".join(f"{key.split('__')[1]} {values}" for key, values in GRID.items())
    print(f"\nGridSearchCV(cv={cv}, n_jobs=1) on digits, {n_settings} settings: {axes}; "
          f"StandardScaler + MLP (adam, batch 200, max_iter {max_iter}, random_state=0)")

    def search(cls, extra):
        return GridSearchCV(pipeline(cls, {"max_iter": max_iter}, extra), GRID, cv=cv,
                            n_jobs=1).fit(X, y)

    runs = {name: (lambda cls=cls, extra=extra: search(cls, extra))
            for name, cls, extra in contenders(args.float32)}
    got = interleaved(runs, args.repeats)
    sk_s = got["sklearn"][0]
    for name, (s, fitted) in got.items():
        best = {k.split("__")[1]: v for k, v in fitted.best_params_.items()}
        ratio = "" if name == "sklearn" else f", {sk_s / s:.1f}x sklearn's speed"
        print(f"  {name:13s} {s:7.2f} s{ratio}; best score {fitted.best_score_:.4f} with {best}")
    scores = {name: fitted.cv_results_["mean_test_score"] for name, (_, fitted) in got.items()}
    for name in list(got)[1:]:
        gap = scores[name] - scores["sklearn"]
        print(f"  {name}: mean cv score minus sklearn's, over the settings: "
              f"mean {gap.mean():+.4f}, from {gap.min():+.4f} to {gap.max():+.4f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="smaller synthetic data, fewer epochs, a 3-fold grid, one repeat")
    p.add_argument("--sections", default="cv,grid",
                   help="comma-separated: cv (cross_val_score), grid (GridSearchCV)")
    p.add_argument("--repeats", type=int, default=None,
                   help="runs of each contender, interleaved; the median is shown (default 3, "
                        "1 with --quick)")
    p.add_argument("--float32", action="store_true", help="fastprop in float32 as well")
    args = p.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - {"cv", "grid"}
    if unknown or not sections:
        p.error(f"--sections: expected cv and/or grid, got {args.sections!r}")
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.repeats < 1:
        p.error(f"--repeats: expected an integer >= 1, got {args.repeats}")
    print(f"host: {cpu_name()}; one thread each, n_jobs=1; medians of {args.repeats} "
          f"interleaved run(s)")
    with threadpool_limits(limits=1):
        if "cv" in sections:
            section_cv(args)
        if "grid" in sections:
            section_grid(args)


if __name__ == "__main__":
    main()
