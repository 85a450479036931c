"""The cost of fit's features, each as a ratio against plain fit timed in the same run: on the
784-256-128-10 network (batches of 128, float32 and float64) and on the tutorial's 2-3-1
network (per-sample steps, float64). The measurement of issue 14.

    python benchmarks/training_features.py [--quick] [--json FILE] [--threads 1]

Method: fastprop.timing.interleave: every repeat runs one sample of each variant in a rotated
order; a sample is one fit call of EPOCHS epochs, continuing the variant's own network (so
nothing is rebuilt inside the timing). The ratio reported is the median over repeats of the
variant's time over plain fit's time in the same repeat (timing.paired_ratio): above 1 is
the feature's cost. Run it from outside the checkout, with the installed fastprop.
"""
import argparse
import json
import sys
import time

import numpy as np

import fastprop as fp
from fastprop import timing


class NoOp:
    """A callback that does nothing: the price of entering Python once an epoch."""

    def on_epoch_end(self, epoch, logs=None):
        return False


def variants():
    """name -> fit's keyword arguments (schedules and callbacks as functions making them)."""
    return {
        "plain": {},
        "clip_norm": {"clip_norm": 1.0},
        "clip_value": {"clip_value": 0.1},
        "clip_norm+clip_value": {"clip_norm": 1.0, "clip_value": 0.1},
        "schedule StepLR (compiled)": {"schedule": lambda: fp.schedules.StepLR(2, 0.9)},
        "schedule OneCycleLR (per step)": {
            "schedule": lambda: fp.schedules.OneCycleLR(0.1, total_steps=10 ** 9)},
        "schedule ReduceLROnPlateau (per epoch)": {
            "schedule": lambda: fp.schedules.ReduceLROnPlateau(patience=10 ** 9)},
        "callback (no-op, per epoch)": {"callbacks": lambda: [NoOp()]},
        "EarlyStopping(monitor='loss')": {
            "callbacks": lambda: [fp.EarlyStopping(monitor="loss", patience=10 ** 9,
                                                   restore_best_weights=False)]},
        "metrics=['accuracy']": {"metrics": ["accuracy"]},
        "sample_weight": {"sample_weight": "ones"},
        "Dropout(0.2) after each hidden layer": {"dropout": 0.2},
    }


def make_case(name, sizes, batch, n, dtype, epochs, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    if sizes[-1] == 1:
        y = (X[:, :1] > 0).astype(dtype)
        hidden, output, loss = "sigmoid", "sigmoid", "mse"
    else:
        y = rng.integers(0, sizes[-1], size=n)
        hidden, output, loss = "relu", "softmax", "cross_entropy"

    def make(dropout=0.0):
        layers = []
        for i in range(len(sizes) - 1):
            last = i == len(sizes) - 2
            layers.append(fp.Dense(sizes[i], sizes[i + 1], output if last else hidden))
            if dropout and not last:
                layers.append(fp.Dropout(dropout))
        return fp.Network(layers, loss=loss, dtype=dtype, seed=seed)
    return {"name": name, "sizes": sizes, "batch": batch, "n": n, "dtype": dtype,
            "epochs": epochs, "X": X, "y": y, "make": make}


def fitter(case, kwargs):
    """A zero-argument function running one fit call of the case with the feature on."""
    net = case["make"](kwargs.get("dropout", 0.0))
    opt = fp.SGD(lr=0.01, momentum=0.9)
    kw = {}
    for key, value in kwargs.items():
        if key == "dropout":
            continue
        if key in ("schedule", "callbacks"):
            value = value()
        if key == "sample_weight":
            value = np.ones(case["n"])
        kw[key] = value
    X, y, epochs, batch = case["X"], case["y"], case["epochs"], case["batch"]

    def run():
        net.fit(X, y, epochs=epochs, batch_size=batch, optimizer=opt, **kw)
    return run


def measure(case, repeats):
    runs = {name: fitter(case, kw) for name, kw in variants().items()}

    def sampler(fn):
        def one():
            t0 = time.perf_counter()
            fn()
            return time.perf_counter() - t0
        return one
    samples = timing.interleave([(name, sampler(fn)) for name, fn in runs.items()], repeats,
                                warmup=1)
    plain = samples.wall["plain"]
    rows = []
    for name in runs:
        rows.append({"variant": name, "median_s": timing.median(samples.wall[name]),
                     "ratio_to_plain": timing.paired_ratio(samples.wall[name], plain)})
    return rows


CASES = [
    ("784-256-128-10, batch 128, float32", [784, 256, 128, 10], 128, 2048, "float32", 1),
    ("784-256-128-10, batch 128, float64", [784, 256, 128, 10], 128, 2048, "float64", 1),
    ("2-3-1 per-sample, float64, epochs of 1,000", [2, 3, 1], 1, 1000, "float64", 20),
]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="few repeats (a check that it runs)")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    fp.set_num_threads(args.threads)
    repeats = args.repeats or (3 if args.quick else 21)
    machine = timing.machine_info()
    print(f"fastprop {fp.__version__}, simd path {fp.simd_path()}, {args.threads} thread(s), "
          f"{machine.get('cpu_model', '?')} family {machine.get('cpu_family', '?')}; {repeats} repeats, medians of paired ratios")
    result = {"machine": machine, "threads": args.threads, "repeats": repeats, "cases": []}
    for name, sizes, batch, n, dtype, epochs in CASES:
        case = make_case(name, sizes, batch, n, dtype, epochs)
        rows = measure(case, repeats)
        print(f"\n{name} ({epochs} epoch(s) of {n} samples a fit call)")
        print(f"  {'variant':<42} {'median':>10} {'x plain':>8}")
        for r in rows:
            print(f"  {r['variant']:<42} {r['median_s'] * 1e3:>8.2f}ms {r['ratio_to_plain']:>8.3f}")
        result["cases"].append({"case": name, "rows": rows})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
