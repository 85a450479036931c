"""Finite-difference gradients and the gradient check. The loop over parameters is compiled
(csrc/nn/fp_net.inc): each parameter is perturbed in place, the loss recomputed by a full forward
pass, and the parameter restored bit-exactly, so `net.params` is unchanged afterwards.

Default step eps (relative: the step for parameter p is eps * max(1, |p|)):
  forward scheme: sqrt(machine epsilon)  -> 1.5e-8 (float64), 3.5e-4 (float32)
  central scheme: cbrt(machine epsilon)  -> 6.1e-6 (float64), 4.9e-3 (float32)
which balance truncation error against rounding error for each scheme."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from fastprop import _core
from fastprop._validation import all_finite, as_float
from fastprop._model import Model, check_network
from fastprop._typing import ArrayLike, DTypeLike, FloatArray

__all__ = ["numerical_gradient", "gradcheck", "GradcheckResult", "default_eps"]

SCHEMES = {"forward": 0, "central": 1}


def default_eps(dtype: DTypeLike, scheme: str = "forward") -> float:
    """The default relative step of finite differences for a dtype and scheme.

    ``sqrt(machine epsilon)`` for the forward scheme and ``cbrt(machine epsilon)`` for the
    central one: the steps that balance truncation error against rounding error.

    Parameters
    ----------
    dtype : str or numpy dtype
        ``"float32"`` or ``"float64"``.
    scheme : str, default "forward"
        ``"forward"``, or anything else for the central scheme.

    Returns
    -------
    float
        1.5e-8 (forward) or 6.1e-6 (central) for float64; 3.5e-4 or 4.9e-3 for float32.
    """
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


def numerical_gradient(net: Model, X: ArrayLike, y: ArrayLike, eps: Optional[float] = None,
                       scheme: str = "forward",
                       indices: Optional[ArrayLike] = None) -> FloatArray:
    """The gradient of ``net.loss(X, y)`` by finite differences.

    Each parameter is perturbed in place, the loss recomputed by a full forward pass, and
    the parameter restored bit-exactly: `net.params` is unchanged afterwards. The loop is
    compiled, so against `Network.backprop` it compares kernel with kernel: 1 + N forward
    passes (forward scheme) or 2N (central) against about two.

    Parameters
    ----------
    net : Network
        The network.
    X : array_like, shape (n, n_in)
        Samples in rows.
    y : array_like, shape (n, n_out) or (n,)
        Targets, as for `Network.loss`.
    eps : float, optional
        The relative step, in [machine epsilon of the dtype, 1]: parameter p moves by
        ``eps * max(1, |p|)``. Default: `default_eps` of the dtype and scheme.
    scheme : {"forward", "central"}, default "forward"
        One-sided differences (first-order accurate) or central ones (second-order).
    indices : array_like of int, optional
        Only these parameters (indices into params): the result then has one entry per
        index. Default: all N.

    Returns
    -------
    ndarray, shape (N,) or (len(indices),)
        The derivatives, laid out like params (or in the order of indices), of the
        network's dtype.

    Raises
    ------
    TypeError
        When net is not a Network, scheme not a str, indices not integers, or X, y bad.
    ValueError
        When scheme is unknown, eps out of range, an index out of range, params read-only,
        or X, y bad (as `Network.loss`).
    NonFiniteResultError
        When an entry is not finite (finite inputs too large for the dtype).
    """
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
    """Backprop's gradient (analytic) against finite differences (numeric), from `gradcheck`.

    Attributes
    ----------
    ok : bool
        Every entry satisfies ``|a - n| <= atol + rtol * max(|a|, |n|)``.
    max_abs_error : float
        ``max |a - n|``.
    max_rel_error : float
        ``max |a - n| / max(|a|, |n|, s)``, where ``s = 1e-3 * max |a|`` keeps entries far
        below the gradient's scale, which finite differences cannot resolve relatively,
        from dominating.
    rtol, atol : float
        The tolerances used (see `gradcheck`).
    analytic : ndarray, shape (N,)
        Backprop's gradient.
    numeric : ndarray, shape (N,)
        The finite-difference gradient.
    eps : float
        The relative step the numeric gradient was taken with.
    """
    ok: bool
    max_abs_error: float
    max_rel_error: float
    rtol: float
    atol: float
    analytic: FloatArray
    numeric: FloatArray
    eps: Optional[float] = None

    def __repr__(self):
        return (f"GradcheckResult(ok={self.ok}, max_abs_error={self.max_abs_error:.3g}, "
                f"max_rel_error={self.max_rel_error:.3g}, rtol={self.rtol:g}, atol={self.atol:g}"
                f", eps={self.eps:g})")


def relative_error(analytic: ArrayLike, numeric: ArrayLike) -> float:
    """max |a - n| / max(|a|, |n|, 1e-3 max |a|): see GradcheckResult."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    scale = max(1e-3 * float(np.max(np.abs(a), initial=0.0)), np.finfo(np.float64).tiny)
    denom = np.maximum(np.maximum(np.abs(a), np.abs(n)), scale)
    return float(np.max(np.abs(a - n) / denom, initial=0.0))


# Default tolerances, by scheme and dtype: (rtol, atol relative to the gradient's scale).
_TOLERANCES = {("central", True): (1e-6, 1e-9), ("central", False): (5e-3, 1e-4),
               ("forward", True): (1e-3, 1e-6), ("forward", False): (1e-1, 1e-2)}
# Safety factor on the error bound _fd_error (the loss's rounding is a few units of
# machine epsilon, not one: it sums over samples and outputs).
_FD_ERROR_FACTOR = 4.0


def _fd_error(h, loss, scale, machine_eps, central):
    """The error bound of a finite-difference entry with relative step h, for a loss of
    magnitude |loss| whose gradient's largest entry is `scale` = G (its derivatives taken to
    vary on the scale of the step's unit, max(1, |p|)):
      central: h^2 G             + eps_m |L| / h    (truncation + rounding of two losses / 2h)
      forward: h max(G, 1)       + 2 eps_m |L| / h  (truncation + rounding of two losses / h)
    The forward scheme's truncation is h/2 times the curvature, which for these losses does
    not shrink with the targets (mse's is 2/n per output whatever the residual): at least 1.
    The rounding term is what grows with the loss's scale: a loss of 1e12 in float64 is known
    to about 2e-4, and its difference over a step of 6e-6 to about 40."""
    if central:
        return h * h * scale + machine_eps * loss / h
    return h * max(scale, 1.0) + 2.0 * machine_eps * loss / h


def _best_step(loss, scale, machine_eps, central):
    """The h that minimises _fd_error: cbrt(eps_m |L| / 2G) (central), sqrt(2 eps_m |L| / G)
    (forward). At a loss and gradient of scale 1 it is the default step; it grows with the
    loss's scale relative to the gradient's."""
    if scale <= 0.0:
        return 1.0
    if central:
        return (machine_eps * loss / (2.0 * scale)) ** (1.0 / 3.0)
    return (2.0 * machine_eps * loss / scale) ** 0.5


def gradcheck(net: Model, X: ArrayLike, y: ArrayLike, eps: Optional[float] = None,
              scheme: str = "central", rtol: Optional[float] = None,
              atol: Optional[float] = None) -> GradcheckResult:
    """Backprop's gradient against finite differences (central by default).

    The check passes (`GradcheckResult.ok`) when ``|a - n| <= atol + rtol * max(|a|, |n|)``
    for every entry (a: analytic, n: numeric). Default rtol, by scheme:

    - central: float64 1e-6, float32 5e-3 (the finite differences' error is in atol below);
    - forward: float64 1e-3, float32 1e-1 (one-sided differences are first-order accurate,
      and their default step, sqrt(machine epsilon), leaves a rounding error of about
      sqrt(machine epsilon) times the loss on every entry).

    The default atol follows the scale of the loss and the gradient, so that the check means
    the same at targets of scale 1e-3 and 1e6::

        atol = a0 * G + 4 * E(h),   G = max |numeric|

    with a0 = 1e-9 / 1e-4 (central, float64 / float32), 1e-6 / 1e-2 (forward), and E(h) the
    finite differences' error bound at relative step h: ``h^2 G + eps_m |L| / h`` (central),
    ``h max(G, 1) + 2 eps_m |L| / h`` (forward), eps_m the dtype's machine epsilon, L the
    loss. A given atol is used as it is. A RuntimeWarning says when that atol is half the
    largest entry or more (float32 at targets of 1e6: the check then passes almost anything).

    The default step is `default_eps` (cbrt or sqrt of eps_m); when the loss is so large
    against its gradient that its rounding (``eps_m |L| / h``) would swamp the differences,
    the numeric gradient is taken again at the step minimising E(h),
    ``cbrt(eps_m |L| / 2G)`` (central) or ``sqrt(2 eps_m |L| / G)`` (forward), at most 1. A
    given eps is used as it is.
    The result's atol and eps are the ones used.

    Parameters
    ----------
    net : Network
        The network (its parameters are left bit-identical).
    X : array_like, shape (n, n_in)
        Samples in rows.
    y : array_like, shape (n, n_out) or (n,)
        Targets, as for `Network.loss`.
    eps : float, optional
        The relative step, as for `numerical_gradient` (default: chosen as said above).
    scheme : {"central", "forward"}, default "central"
        The finite-difference scheme.
    rtol : float, optional
        Relative tolerance, >= 0 (default by scheme and dtype, above).
    atol : float, optional
        Absolute tolerance, >= 0 (default from the scale of the loss and gradient, above).

    Returns
    -------
    GradcheckResult
        ok, the largest errors, the tolerances and step used, and both gradients.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, as `numerical_gradient`, or a negative rtol or atol.
    NonFiniteResultError
        When the loss or a gradient is not finite.

    Warns
    -----
    RuntimeWarning
        When the default atol is half the largest gradient entry or more, so that the check
        would pass almost anything.
    """
    check_network(net)
    _scheme(scheme)
    h = _step(eps, net.dtype, scheme)      # checked before the backprop pass, not after it
    f64 = net.dtype == np.float64
    central = scheme == "central"
    rtol_default, atol_base = _TOLERANCES[(scheme, bool(f64))]
    rtol = as_float(rtol_default if rtol is None else rtol, "rtol", minimum=0.0)
    atol_given = None if atol is None else as_float(atol, "atol", minimum=0.0)
    loss, analytic = net.backprop(X, y)
    numeric = numerical_gradient(net, X, y, eps=h, scheme=scheme)
    machine_eps = float(np.finfo(net.dtype).eps)
    loss = abs(float(loss))
    scale = float(np.max(np.abs(numeric), initial=0.0))   # not analytic's: it is on trial
    if eps is None:
        best = min(_best_step(loss, scale, machine_eps, central), 1.0)
        # Again at the best step when the error bound at the default step is more than the
        # relative tolerance can absorb at the largest entry (the loss's rounding dominates),
        # and the best step is clearly larger.
        error = _FD_ERROR_FACTOR * _fd_error(h, loss, scale, machine_eps, central)
        if best > 2.0 * h and error > rtol * scale:
            h = best
            numeric = numerical_gradient(net, X, y, eps=h, scheme=scheme)
            scale = float(np.max(np.abs(numeric), initial=0.0))
    if atol_given is None:
        atol = atol_base * scale + _FD_ERROR_FACTOR * _fd_error(h, loss, scale, machine_eps,
                                                                central)
        if scale > 0.0 and atol >= 0.5 * scale:
            warnings.warn(f"gradcheck: in {net.dtype.name}, finite differences cannot resolve "
                          f"this gradient (largest entry {scale:.3g}) against the rounding of "
                          f"a loss of {loss:.3g}: its tolerance, atol {atol:.3g}, passes "
                          f"almost any gradient; check in float64, with the central scheme, "
                          f"or with targets of scale 1",
                          RuntimeWarning, stacklevel=2)
    else:
        atol = atol_given
    a, n = analytic.astype(np.float64), numeric.astype(np.float64)
    diff = np.abs(a - n)
    ok = bool(np.all(diff <= atol + rtol * np.maximum(np.abs(a), np.abs(n))))
    return GradcheckResult(ok=ok, max_abs_error=float(np.max(diff, initial=0.0)),
                           max_rel_error=relative_error(a, n), rtol=rtol, atol=float(atol),
                           analytic=analytic, numeric=numeric, eps=float(h))
