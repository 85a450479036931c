"""Errors of construction, raised at construction (Dense, Network, mlp): a ValueError or
TypeError naming the argument for an unknown activation or loss, softmax anywhere but the
output or over a single unit, a loss that does not fit the output activation, zero or
non-integer layer sizes, layers that do not chain, a dtype other than float32 and float64,
a seed that is not a non-negative integer (fit's seed too)."""
import numpy as np
import pytest

import fastprop as fp


def test_unknown_activation_is_refused_at_construction():
    with pytest.raises(ValueError, match=r"activation: unknown activation 'swish'"):
        fp.Dense(2, 3, "swish")
    with pytest.raises(ValueError, match="hidden"):
        fp.mlp([2, 3, 1], hidden="mish")
    with pytest.raises(ValueError, match="output"):
        fp.mlp([2, 3, 1], output="mish")
    with pytest.raises(TypeError, match="activation"):
        fp.Dense(2, 3, 3)


def test_unknown_loss_is_refused_at_construction():
    with pytest.raises(ValueError, match=r"loss: unknown loss 'hinge'"):
        fp.Network([fp.Dense(2, 1)], loss="hinge")
    with pytest.raises(TypeError, match="loss"):
        fp.mlp([2, 1], loss=None)


def test_softmax_in_a_hidden_layer_is_refused():
    with pytest.raises(ValueError, match=r"layers\[0\]: 'softmax' is an output activation"):
        fp.Network([fp.Dense(2, 3, "softmax"), fp.Dense(3, 1)])
    with pytest.raises(ValueError, match="softmax"):
        fp.mlp([2, 3, 3, 1], hidden="softmax")


def test_loss_and_output_activation_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"loss: 'cross_entropy' expects a 'softmax'"):
        fp.mlp([2, 3], output="sigmoid", loss="cross_entropy")
    with pytest.raises(ValueError, match=r"loss: 'binary_cross_entropy' expects"):
        fp.mlp([2, 1], output="identity", loss="binary_cross_entropy")


@pytest.mark.parametrize("sizes,match", [([3, 0, 1], r"sizes\[1\]: .*>= 1, got 0"),
                                         ([0, 2], r"sizes\[0\]"), ([3], "sizes"), ([], "sizes"),
                                         ([3, 2.5, 1], r"sizes\[1\]")])
def test_zero_units_and_bad_sizes_are_refused(sizes, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fp.mlp(sizes)


def test_zero_units_in_a_dense_layer_are_refused():
    with pytest.raises(ValueError, match=r"n_in: .*>= 1, got 0"):
        fp.Dense(0, 3)
    with pytest.raises(ValueError, match=r"n_out: .*>= 1, got 0"):
        fp.Dense(3, 0)
    with pytest.raises(ValueError, match=r"n_out: .*-2"):
        fp.Dense(3, -2)


def test_layers_that_do_not_chain_are_refused():
    with pytest.raises(ValueError, match=r"layers\[1\]: expected n_in = 3 .*got 4"):
        fp.Network([fp.Dense(2, 3), fp.Dense(4, 1)])
    with pytest.raises(ValueError, match="layers"):
        fp.Network([])
    with pytest.raises(TypeError, match=r"layers\[0\]"):
        fp.Network(["dense"])


@pytest.mark.parametrize("dtype", ["float16", "int32", "int64", "complex128", "bogus", np.uint8,
                                   "longdouble", object])
def test_dtypes_other_than_float32_and_float64_are_refused_at_construction(dtype):
    with pytest.raises((ValueError, TypeError), match="dtype"):
        fp.mlp([2, 3, 1], dtype=dtype)


def test_float32_and_float64_are_accepted_by_name_and_by_numpy_dtype():
    for dtype in ["float32", "float64", np.float32, np.dtype("float64")]:
        assert fp.mlp([2, 1], dtype=dtype).params.dtype == np.dtype(dtype)


def test_bad_seed_is_refused():
    with pytest.raises(TypeError, match="seed"):
        fp.mlp([2, 1], seed="zero")
    with pytest.raises(TypeError, match="seed"):
        fp.mlp([2, 1], seed=1.5)


def test_softmax_over_a_single_unit_is_refused():
    with pytest.raises(ValueError, match=r"^layers\[-1\]: softmax over a single unit"):
        fp.mlp([4, 3, 1], output="softmax", loss="cross_entropy")


def test_negative_seeds_are_refused_naming_seed(data40):
    X, y = data40
    with pytest.raises(ValueError, match=r"^seed: expected a non-negative integer, got -1"):
        fp.mlp([4, 3, 2], seed=-1)
    with pytest.raises(ValueError, match=r"^seed: expected a non-negative integer, got -1"):
        fp.mlp([4, 3, 2]).fit(X, y, epochs=1, seed=-1)
