"""Finite-difference gradients and the gradient check. The loop over parameters is compiled
(csrc/nn/fp_net.inc): each parameter is perturbed in place, the loss recomputed by a full forward
pass, and the parameter restored bit-exactly, so `net.params` is unchanged afterwards.

Default step eps (relative: the step for parameter p is eps * max(1, |p|)):
  forward scheme: sqrt(machine epsilon)  -> 1.5e-8 (float64), 3.5e-4 (float32)
  central scheme: cbrt(machine epsilon)  -> 6.1e-6 (float64), 4.9e-3 (float32)
which balance truncation error against rounding error for each scheme."""
from dataclasses import dataclass

import numpy as np

from fastprop import _core
from fastprop._validation import all_finite, as_float
from fastprop._model import check_network

__all__ = ["numerical_gradient", "gradcheck", "GradcheckResult", "default_eps"]

SCHEMES = {"forward": 0, "central": 1}


def default_eps(dtype, scheme="forward"):
    machine_eps = float(np.finfo(dtype).eps)
    return machine_eps ** 0.5 if scheme == "forward" else machine_eps ** (1.0 / 3.0)


def _scheme(scheme):
    if not isinstance(scheme, str):
        raise TypeError(f"scheme: expected 'forward' or 'central', got "
                        f"{type(scheme).__name__} {scheme!r}")
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: expected 'forward' or 'central', got {scheme!r}")
    return SCHEMES[scheme]


def _step(eps, dtype, scheme):
    """The relative step: the default for dtype and scheme, or eps checked to lie in
    [machine epsilon of dtype, 1]. Below machine epsilon p + eps*max(1, |p|) rounds back to p
    (or the difference quotient overflows) and every entry is NaN or noise; above 1 the
    step is no longer small and the quotient is not a derivative."""
    if eps is None:
        return default_eps(dtype, scheme)
    eps = as_float(eps, "eps")
    lo = float(np.finfo(dtype).eps)
    if not lo <= eps <= 1.0:
        raise ValueError(f"eps: expected a relative step in [{lo:.6g}, 1] (from the machine "
                         f"epsilon of the network's dtype, {np.dtype(dtype).name}), got {eps:g}")
    return eps


def numerical_gradient(net, X, y, eps=None, scheme="forward", indices=None):
    """The gradient of net.loss(X, y) by finite differences: 1 + N forward passes with the
    forward scheme, 2N with the central one. `indices` limits it to those parameters (the
    result then has one entry per index, an empty array for an empty list); the default is
    all N, laid out like params. `eps` is the relative step, in [machine epsilon, 1].
    NonFiniteResultError when an entry is not finite (finite inputs too large for the dtype:
    the loss, or the loss at a perturbed parameter, overflowed)."""
    check_network(net)
    net._check_writeable("numerical_gradient (it perturbs each parameter and restores it)")
    code = _scheme(scheme)
    eps = _step(eps, net.dtype, scheme)
    Xc, Y = net._inputs(X, y)
    if indices is None:
        idx = np.arange(net.n_params, dtype=np.int64)
    else:
        idx = np.asarray(indices)
        if idx.ndim == 1 and idx.size == 0 and idx.dtype.kind in "iuf":
            return np.empty(0, dtype=net.dtype)     # like params[[]]: no entries, no passes
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise TypeError(f"indices: expected a 1-D array of integers, got {idx.dtype} "
                            f"shape {idx.shape}")
        if idx.size and (idx.min() < 0 or idx.max() >= net.n_params):
            raise ValueError(f"indices: expected values in [0, {net.n_params}), got "
                             f"[{idx.min()}, {idx.max()}]")
        idx = np.ascontiguousarray(idx, dtype=np.int64)
    out = np.empty(idx.shape[0], dtype=net.dtype)
    with net._lock:       # perturbs net.params in place: no other call may see them meanwhile
        ws = net._workspace(Xc.shape[0])
        _core.numerical_gradient(net._spec, net.params, Xc, Y, ws, net._cap, code, eps, idx,
                                 out)
    if not all_finite(out):
        # Which one, for the message: the loss itself, or only the loss at perturbed params.
        what = "gradient" if np.isfinite(net._loss_value(Xc, Y)) else "loss"
        raise net._non_finite("numerical_gradient", what, None, Xc, Y)
    return out


@dataclass
class GradcheckResult:
    """Backprop's gradient (analytic) against finite differences (numeric).

    max_abs_error = max |a - n|; max_rel_error = max |a - n| / max(|a|, |n|, s), where
    s = 1e-3 * max |a| keeps entries far below the gradient's scale, which finite differences
    cannot resolve relatively, from dominating. ok: every entry satisfies
    |a - n| <= atol + rtol * max(|a|, |n|)."""
    ok: bool
    max_abs_error: float
    max_rel_error: float
    rtol: float
    atol: float
    analytic: np.ndarray
    numeric: np.ndarray

    def __repr__(self):
        return (f"GradcheckResult(ok={self.ok}, max_abs_error={self.max_abs_error:.3g}, "
                f"max_rel_error={self.max_rel_error:.3g}, rtol={self.rtol:g}, atol={self.atol:g})")


def relative_error(analytic, numeric):
    """max |a - n| / max(|a|, |n|, 1e-3 max |a|): see GradcheckResult."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    scale = max(1e-3 * float(np.max(np.abs(a), initial=0.0)), np.finfo(np.float64).tiny)
    denom = np.maximum(np.maximum(np.abs(a), np.abs(n)), scale)
    return float(np.max(np.abs(a - n) / denom, initial=0.0))


def gradcheck(net, X, y, eps=None, scheme="central", rtol=None, atol=None):
    """Backprop's gradient against finite differences (central by default).

    ok: |a - n| <= atol + rtol * max(|a|, |n|) for every entry. Defaults, by scheme:
      central: float64 rtol 1e-6, atol 1e-9; float32 rtol 5e-2, atol 1e-4 (float32 finite
               differences carry rounding noise of about 1e-7 / eps);
      forward: float64 rtol 1e-3, atol 1e-6; float32 rtol 1e-1, atol 1e-2 (one-sided
               differences are first-order accurate, and their default step, sqrt(machine
               epsilon), leaves a rounding error of about sqrt(machine epsilon) times the
               loss on every entry: a check at the central scheme's tolerance would fail
               correct gradients)."""
    check_network(net)
    _scheme(scheme)
    _step(eps, net.dtype, scheme)      # checked before the backprop pass, not after it
    f64 = net.dtype == np.float64
    if scheme == "central":
        rtol_default, atol_default = (1e-6, 1e-9) if f64 else (5e-2, 1e-4)
    else:
        rtol_default, atol_default = (1e-3, 1e-6) if f64 else (1e-1, 1e-2)
    rtol = as_float(rtol_default if rtol is None else rtol, "rtol", minimum=0.0)
    atol = as_float(atol_default if atol is None else atol, "atol", minimum=0.0)
    _, analytic = net.backprop(X, y)
    numeric = numerical_gradient(net, X, y, eps=eps, scheme=scheme)
    a, n = analytic.astype(np.float64), numeric.astype(np.float64)
    diff = np.abs(a - n)
    ok = bool(np.all(diff <= atol + rtol * np.maximum(np.abs(a), np.abs(n))))
    return GradcheckResult(ok=ok, max_abs_error=float(np.max(diff, initial=0.0)),
                           max_rel_error=relative_error(a, n), rtol=rtol, atol=atol,
                           analytic=analytic, numeric=numeric)
