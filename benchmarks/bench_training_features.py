"""fit's features as a pytest-benchmark suite (one fit call of each variant of
benchmarks/training_features.py, on the 2-3-1 per-sample case and the 784-256-128-10 batch-128
case), so that `--benchmark-compare` tracks their cost across commits; the ratios against
plain fit in one interleaved run are training_features.py's. CI runs each once
(--benchmark-disable) to prove that every variant works."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import training_features as tf  # noqa: E402

CASES = {"2-3-1": ("2-3-1 per-sample", [2, 3, 1], 1, 1000, "float64", 5),
         "784-256-128-10": ("784-256-128-10 batch 128", [784, 256, 128, 10], 128, 512,
                            "float32", 1)}


@pytest.mark.parametrize("variant", list(tf.variants()))
@pytest.mark.parametrize("case", list(CASES))
def test_fit_feature(benchmark, case, variant):
    c = tf.make_case(*CASES[case])
    run = tf.fitter(c, tf.variants()[variant])
    benchmark.group = f"fit features, {case}"
    benchmark(run)
