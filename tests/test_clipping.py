"""Gradient clipping inside the compiled step: clip_norm as torch.nn.utils.clip_grad_norm_,
clip_value as clip_grad_value_ (norm first, then value, when both are given), checked
against a torch replay and against the per-sample path's twin."""
import os
import sys

import numpy as np
import pytest

import fastprop as fp

sys.path.insert(0, os.path.dirname(__file__))
from helpers import assert_same_bits  # noqa: E402
from torch_replay import replay  # noqa: E402


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _case(seed=0, n=24, sizes=(5, 16, 3)):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0])) * 3
    y = rng.integers(0, sizes[-1], size=n)
    net = fp.mlp(list(sizes), hidden="tanh", output="softmax", loss="cross_entropy", seed=seed)
    return net, X, y


OPTIMIZERS = {
    "sgd": (lambda: fp.SGD(lr=0.5, momentum=0.9),
            lambda torch: lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9)),
    "adam": (lambda: fp.Adam(lr=0.05),
             lambda torch: lambda p: torch.optim.Adam(p, lr=0.05)),
    "adamw": (lambda: fp.AdamW(lr=0.05, weight_decay=0.1),
              lambda torch: lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.1)),
    "rmsprop": (lambda: fp.RMSprop(lr=0.01, momentum=0.5),
                lambda torch: lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5)),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("batch_size", [1, 5, 12])
@pytest.mark.parametrize("clip", [dict(clip_norm=0.05), dict(clip_value=0.01),
                                  dict(clip_norm=0.3, clip_value=0.02), dict(clip_norm=1e6)])
def test_clipping_matches_torchs_clip_grad_in_float64(torch, name, batch_size, clip):
    # a dozen steps: enough for momentum and Adam's state to matter, few enough that the
    # rounding differences of two correct implementations have not been amplified by training
    net, X, y = _case(n=12)
    ours, theirs = OPTIMIZERS[name]
    epochs = 1 if batch_size == 1 else 3
    params, losses = replay(torch, net, X, y, epochs, batch_size, theirs(torch), **clip)
    hist = net.fit(X, y, epochs=epochs, batch_size=batch_size, optimizer=ours(),
                   shuffle=False, **clip)
    np.testing.assert_allclose(net.params, params, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(hist.loss, losses, rtol=1e-12)


def test_clipping_changes_training_where_the_gradient_is_larger(torch):
    # the check above is not vacuous: the clipped fits differ from an unclipped one
    net, X, y = _case()
    plain = fp.mlp([5, 16, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    plain.fit(X, y, epochs=2, batch_size=7, shuffle=False)
    for clip in (dict(clip_norm=0.05), dict(clip_value=0.01)):
        other = fp.mlp([5, 16, 3], hidden="tanh", output="softmax", loss="cross_entropy",
                       seed=0)
        other.fit(X, y, epochs=2, batch_size=7, shuffle=False, **clip)
        assert np.abs(other.params - plain.params).max() > 1e-3


def test_a_huge_clip_norm_leaves_the_bits_of_plain_training():
    net, X, y = _case()
    twin = fp.mlp([5, 16, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    net.fit(X, y, epochs=3, batch_size=5, clip_norm=1e300, clip_value=1e300)
    twin.fit(X, y, epochs=3, batch_size=5)
    assert net.params.tobytes() == twin.params.tobytes()


_TINY_CLIP_SCRIPT = """
import sys
import numpy as np
import fastprop as fp
rng = np.random.default_rng(4)
X, y = rng.normal(size=(300, 2)) * 4, rng.uniform(size=(300, 1))
out = []
for dtype, hidden in (("float64", 3), ("float32", 12)):
    for opt in (fp.SGD(lr=0.5, momentum=0.9), fp.Adam(lr=0.05)):
        for clip in (dict(clip_norm=0.02), dict(clip_value=0.003),
                     dict(clip_norm=0.1, clip_value=0.01)):
            net = fp.Network([fp.Dense(2, hidden, "sigmoid"), fp.Dense(hidden, 1, "sigmoid")],
                             dtype=dtype, seed=2)
            h = net.fit(X, y, epochs=3, batch_size=1,
                        optimizer=type(opt)(**{"lr": opt._args()["lr"]}), **clip)
            out += [net.params.astype(np.float64), np.array(h.loss)]
np.save(sys.argv[1], np.concatenate(out))
print(fp.simd_path())
"""


def test_the_per_sample_path_clips_with_the_general_paths_bits(tmp_path):
    """The 2-3-1 per-sample steps run the AVX-512 one-register path (fp_tiny.inc) where the
    CPU has it; FASTPROP_GEMM_ISA=avx2 runs the general loop: both clip to the same bits."""
    if not fp.simd_path().startswith("avx512"):
        pytest.skip(f"this CPU runs the {fp.simd_path()} path, not AVX-512")
    assert_same_bits(tmp_path, _TINY_CLIP_SCRIPT, "avx2", "avx2+fma", 50, fp.simd_path())


@pytest.mark.parametrize("arg", ["clip_norm", "clip_value"])
@pytest.mark.parametrize("value, exc", [(0, ValueError), (-1.0, ValueError),
                                        (float("inf"), ValueError), (float("nan"), ValueError),
                                        ("1", TypeError), (True, TypeError)])
def test_bad_clipping_arguments_are_refused_by_name(arg, value, exc):
    net, X, y = _case()
    before = net.params.copy()
    with pytest.raises(exc, match=arg):
        net.fit(X, y, epochs=1, **{arg: value})
    assert net.params.tobytes() == before.tobytes()
