"""Losses by name, and the shaping of targets for them. The loss values and gradients are
computed in csrc/nn/fp_loss.inc, from the output layer's logits where the output activation is the
loss's link (sigmoid + binary cross-entropy, softmax + cross-entropy), as PyTorch's
BCEWithLogitsLoss and CrossEntropyLoss do."""
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from fastprop import _core
from fastprop._validation import as_dtype_finite, as_numeric_array, check_finite

__all__ = ["Loss", "LOSSES", "get_loss", "prepare_targets"]


@dataclass(frozen=True)
class Loss:
    name: str
    code: int               # its place in the C table (csrc/nn/fp_rules.h, FP_LOSSES)
    outputs: Optional[tuple[str, ...]]   # output activations it accepts (None: any)


# The output activations each loss needs, where it needs some: binary cross-entropy takes
# probabilities in (0, 1), from a sigmoid (from logits, stable) or a softmax.
_OUTPUTS = {"binary_cross_entropy": ("sigmoid", "softmax"), "cross_entropy": ("softmax",)}
LOSSES = {name: Loss(name, code, _OUTPUTS.get(name))
          for code, name in enumerate(_core.rule_tables()["losses"])}
ALIASES = {"bce": "binary_cross_entropy", "ce": "cross_entropy"}
# The values targets of a loss may take: prepare_targets' fast check and its refusals (each
# with its own message) both read them here: binary cross-entropy's in [0, 1], cross-entropy's rows non-negative.
TARGET_RANGE = {"binary_cross_entropy": (0.0, 1.0), "cross_entropy": (0.0, math.inf)}


def get_loss(name):
    if not isinstance(name, str):
        raise TypeError(f"loss: expected a loss name (str), got {type(name).__name__}")
    key = ALIASES.get(name.lower(), name.lower())
    if key not in LOSSES:
        known = ", ".join(repr(k) for k in LOSSES)
        raise ValueError(f"loss: unknown loss {name!r}; expected one of {known}")
    return LOSSES[key]


def prepare_targets(loss, y, n, n_out, dtype, argument="y"):
    """Targets as a C-contiguous (n, n_out) array of dtype, checked for `loss`.

    mse and binary_cross_entropy take (n, n_out), or (n,) when n_out == 1; binary
    cross-entropy targets lie in [0, 1]. cross_entropy takes integer labels (n,) in
    [0, n_out), turned into one-hot rows, or (n, n_out) one-hot/probability rows."""
    lo, hi = TARGET_RANGE.get(loss.name, (-math.inf, math.inf))
    f64 = dtype == np.float64
    if type(y) is np.ndarray and y.ndim == 1 and n_out == 1 and loss.name != "cross_entropy" \
            and y.shape[0] == n and _core.rows_ready(y.reshape(n, 1), f64, 1, lo, hi):
        return y.reshape(n, 1)
    if _core.rows_ready(y, f64, n_out, lo, hi) and y.shape[0] == n:
        return y                           # already what the compiled floor takes
    arr = as_numeric_array(y, argument)
    if arr.ndim == 0 or arr.ndim > 2:
        raise ValueError(f"{argument}: expected a 1-D or 2-D array, got {arr.ndim}-D shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{argument}: expected {n} samples (as many as X), got {arr.shape[0]}")
    check_finite(arr, argument)
    if loss.name == "cross_entropy" and arr.ndim == 1:
        return one_hot(arr, n_out, dtype, argument)
    if arr.ndim == 1:
        if n_out != 1:
            raise ValueError(f"{argument}: expected shape ({n}, {n_out}) for {n_out} outputs, "
                             f"got 1-D shape {arr.shape}")
        arr = arr.reshape(n, 1)
    if arr.shape[1] != n_out:
        raise ValueError(f"{argument}: expected shape ({n}, {n_out}), got {arr.shape}")
    if loss.name == "binary_cross_entropy" and (arr.min() < lo or arr.max() > hi):
        raise ValueError(f"{argument}: expected binary cross-entropy targets in [0, 1], "
                         f"got values in [{arr.min()}, {arr.max()}]")
    if loss.name == "cross_entropy" and arr.min() < lo:
        raise ValueError(f"{argument}: expected one-hot or probability rows (non-negative), "
                         f"got a minimum of {arr.min()}")
    return as_dtype_finite(arr, dtype, argument)


def one_hot(labels, n_classes, dtype, argument="y"):
    if labels.dtype.kind == "f":
        if not np.array_equal(labels, np.round(labels)):
            bad = labels[labels != np.round(labels)][0]
            raise ValueError(f"{argument}: expected integer class labels, got non-integer {bad}")
    lo, hi = labels.min(), labels.max()
    if lo < 0 or hi >= n_classes:
        raise ValueError(f"{argument}: expected class labels in [0, {n_classes}), got values "
                         f"in [{lo}, {hi}]")
    out = np.zeros((labels.shape[0], n_classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels.astype(np.intp)] = 1
    return out
