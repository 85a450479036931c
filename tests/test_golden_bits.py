"""Same bits as before: every configuration of tests/golden_bits.py (each activation and loss,
each optimizer, both dtypes, per-sample and mini-batch, small layers and GEMM-sized ones)
computes exactly what the build that wrote tests/data/golden_bits.json computed."""
import json
import os
import sys

import pytest

import fastprop as fp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_bits  # noqa: E402

with open(golden_bits.GOLDEN) as f:
    GOLDEN = json.load(f)

CONFIGS = list(golden_bits.configs())


def test_every_configuration_has_a_digest():
    assert sorted(GOLDEN) == sorted(golden_bits.key(*c) for c in CONFIGS)


@pytest.mark.parametrize("config", CONFIGS, ids=[golden_bits.key(*c) for c in CONFIGS])
def test_same_bits_as_recorded(config):
    sizes, batch = config[-2:]
    if fp.simd_path() == "generic" and any(batch * a * b > 2048 for a, b in zip(sizes, sizes[1:])):
        # The digests come from the AVX-512 and AVX2 paths, which agree; the portable GEMM
        # sums in another order (its own bits are compared with the others' in test_kernels).
        pytest.skip("GEMM-sized layers: digests recorded on the AVX2/AVX-512 paths")
    assert golden_bits.run(*config) == GOLDEN[golden_bits.key(*config)]
