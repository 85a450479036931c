"""Learning-rate schedules for `fit(schedule=...)`: torch.optim.lr_scheduler's StepLR,
ExponentialLR, CosineAnnealingLR, ReduceLROnPlateau (per epoch) and OneCycleLR (per optimizer
step), and scikit-learn MLP's "invscaling" and "adaptive" rates (per epoch). Each gives its
model's sequence of rates bit for bit: the recursive formulas are evaluated in the same order,
in Python floats (math.cos is libm's, as torch's), from the previous rate where torch's does.

This file only computes rates; it never touches a network or an optimizer. `fit` drives a
schedule through four private methods of `Schedule` (the protocol, documented there), so a
schedule kept across `fit` calls continues where it stopped, as a torch scheduler kept across
training loops does."""
from __future__ import annotations

import math
import numbers
from typing import ClassVar, Optional

import numpy as np

from fastprop import _core
from fastprop._validation import as_float, as_int
from fastprop.optim import _as_bool

__all__ = ["Schedule", "StepLR", "ExponentialLR", "CosineAnnealingLR", "ReduceLROnPlateau",
           "OneCycleLR", "InvScaling", "Adaptive"]


# ---- argument checks: ValueError/TypeError naming the argument ------------------------------
def _positive_int(value, argument):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{argument}: expected a positive int, got {type(value).__name__} "
                        f"{value!r}")
    if value < 1:
        raise ValueError(f"{argument}: expected a positive int, got {value}")
    return int(value)


def _positive_float(value, argument):
    value = as_float(value, argument)
    if value <= 0:
        raise ValueError(f"{argument}: expected a positive number, got {value}")
    return value


def _choice(value, argument, options):
    if not isinstance(value, str):
        raise TypeError(f"{argument}: expected one of {', '.join(map(repr, options))}, got "
                        f"{type(value).__name__} {value!r}")
    if value not in options:
        raise ValueError(f"{argument}: expected one of {', '.join(map(repr, options))}, got "
                         f"{value!r}")
    return value


class Schedule:
    """Base class of the learning-rate schedules given to ``fit(schedule=...)``.

    A schedule computes rates only; it never touches a network or an optimizer. Kept across
    `fit` calls, it continues where it stopped, as a torch scheduler kept across training
    loops does. The base rate is the optimizer's `lr` at the first fit. The protocol `fit`
    uses (private):

    - `_begin(base_lr, n_samples, steps_per_epoch, epochs)`: at the start of each `fit` call,
      before any training. The first call binds `base_lr` (the optimizer's lr) and starts the
      sequence; later calls continue it. A ValueError raised here changes nothing.
    - `_lrs(k)` (when `needs_metric` is False): the next k rates as a float64 array (k epochs,
      or k optimizer steps when `per_step` is True), advancing the schedule.
    - `_current()` (when `needs_metric` is True): the rate of the coming epoch.
    - `_observe(value)` (when `needs_metric` is True): the monitored loss after an epoch;
      updates the rate and returns True when training should stop.
    """
    # one rate per optimizer step (OneCycleLR), not per epoch
    per_step: ClassVar[bool] = False
    # the rate follows a monitored loss (ReduceLROnPlateau, Adaptive)
    needs_metric: ClassVar[bool] = False
    _arguments: ClassVar[tuple[str, ...]] = ()  # the constructor's arguments, for __repr__

    def __init__(self) -> None:
        self._lr = None             # the rate of the coming epoch (step); None before _begin
        self._base_lr = None

    def _begin(self, base_lr, n_samples, steps_per_epoch, epochs):
        base_lr = as_float(base_lr, "lr", minimum=0.0)
        n_samples = as_int(n_samples, "n_samples", minimum=1)
        steps_per_epoch = as_int(steps_per_epoch, "steps_per_epoch", minimum=1)
        epochs = as_int(epochs, "epochs", minimum=0)
        self._check_begin(n_samples, steps_per_epoch, epochs)     # may raise: nothing changed yet
        if self._lr is None:
            self._base_lr = base_lr
            self._start(base_lr)
        self._fit_begun(n_samples, steps_per_epoch, epochs)

    def _check_begin(self, n_samples, steps_per_epoch, epochs):
        """Raise ValueError when this fit cannot be served; must not change anything."""

    def _start(self, base_lr):
        """The first _begin: set the rate of epoch 0."""
        self._lr = base_lr

    def _fit_begun(self, n_samples, steps_per_epoch, epochs):
        """Every _begin, after the checks: note what the coming fit call needs."""

    def _require_started(self):
        if self._lr is None:
            raise RuntimeError(f"{type(self).__name__}: the schedule has not begun (fit calls "
                               f"_begin first)")

    def _lrs(self, k):
        if self.needs_metric:
            raise TypeError(f"{type(self).__name__} follows a monitored loss: use _current() "
                            f"and _observe(value)")
        self._require_started()
        k = as_int(k, "k", minimum=0)
        return np.array([self._take() for _ in range(k)], dtype=np.float64)

    def _take(self):
        """The rate of the coming epoch (step), then advance to the next one."""
        raise NotImplementedError

    def _current(self):
        if not self.needs_metric:
            raise TypeError(f"{type(self).__name__} does not follow a monitored loss: use _lrs(k)")
        self._require_started()
        return self._lr

    def _observe(self, value):
        raise TypeError(f"{type(self).__name__} does not follow a monitored loss: use _lrs(k)")

    def __repr__(self):
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._arguments)
        return f"{type(self).__name__}({args})"


class _Chainable(Schedule):
    """torch's chainable schedulers: the rate of epoch e > 0 is computed from the rate of
    epoch e - 1 (torch's get_lr reads group["lr"]), so rounding accumulates exactly as there."""

    def _start(self, base_lr):
        self._lr = base_lr
        self._epoch = 0             # torch's last_epoch of the rate in self._lr

    def _take(self):
        lr = self._lr
        self._epoch += 1
        self._lr = self._next(self._epoch, lr)
        return lr

    def _next(self, epoch, lr):
        """The rate of `epoch` (>= 1) from the rate of epoch - 1."""
        raise NotImplementedError


class StepLR(_Chainable):
    """torch.optim.lr_scheduler.StepLR: the rate is multiplied by `gamma` at every epoch that
    is a positive multiple of `step_size` (base, ..., base, base*gamma, ...).

    Parameters
    ----------
    step_size : int
        Epochs between two decays, >= 1.
    gamma : float, default 0.1
        The factor of each decay, > 0.

    Raises
    ------
    TypeError
        When step_size is not an int or gamma not a real number.
    ValueError
        When either is not positive.
    """
    _arguments = ("step_size", "gamma")

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        super().__init__()
        self.step_size = _positive_int(step_size, "step_size")
        self.gamma = _positive_float(gamma, "gamma")

    def _next(self, epoch, lr):
        return lr * self.gamma if epoch % self.step_size == 0 else lr


class ExponentialLR(_Chainable):
    """torch.optim.lr_scheduler.ExponentialLR: the rate is multiplied by `gamma` after every
    epoch (base, base*gamma, base*gamma*gamma, ... each from the previous rate).

    Parameters
    ----------
    gamma : float
        The factor of each epoch, > 0.

    Raises
    ------
    TypeError
        When gamma is not a real number.
    ValueError
        When gamma is not positive.
    """
    _arguments = ("gamma",)

    def __init__(self, gamma: float) -> None:
        super().__init__()
        self.gamma = _positive_float(gamma, "gamma")

    def _next(self, epoch, lr):
        return lr * self.gamma


class CosineAnnealingLR(_Chainable):
    """torch.optim.lr_scheduler.CosineAnnealingLR: from the base rate down to `eta_min` over
    `T_max` epochs along half a cosine, by torch's recursive formula; past T_max the rate
    climbs back up (a cosine of period 2 T_max, without restarts), as torch's does.

    Parameters
    ----------
    T_max : int
        Epochs from the base rate down to eta_min, >= 1.
    eta_min : float, default 0.0
        The lowest rate, >= 0.

    Raises
    ------
    TypeError
        When T_max is not an int or eta_min not a real number.
    ValueError
        When T_max < 1 or eta_min < 0.
    """
    _arguments = ("T_max", "eta_min")

    def __init__(self, T_max: int, eta_min: float = 0.0) -> None:
        super().__init__()
        self.T_max = _positive_int(T_max, "T_max")
        self.eta_min = as_float(eta_min, "eta_min", minimum=0.0)

    def _next(self, epoch, lr):
        T, eta_min = self.T_max, self.eta_min
        if (epoch - 1 - T) % (2 * T) == 0:
            # the step out of a minimum, where the recursive ratio would be 0/0
            return lr + (self._base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
        return ((1 + math.cos(math.pi * epoch / T)) / (1 + math.cos(math.pi * (epoch - 1) / T))
                * (lr - eta_min) + eta_min)


class OneCycleLR(Schedule):
    """torch.optim.lr_scheduler.OneCycleLR, one rate per optimizer step: from max_lr/div_factor
    up to max_lr over the first pct_start of `total_steps`, then down to
    max_lr/(div_factor*final_div_factor) ("cos" or "linear" annealing); with three_phase, up,
    back down to the initial rate symmetrically, then down to the minimum. The optimizer's lr
    is ignored.

    The cycle's length is `total_steps`, else `epochs * steps_per_epoch`; when they are not
    given, the first `fit` supplies what is missing (its epochs, its number of batches per
    epoch). A `fit` call that needs more steps than the cycle has left is refused before it
    trains.

    Unlike torch's, this schedule does not cycle the momentum (torch's `cycle_momentum=True`,
    its default, also moves SGD's momentum or Adam's beta1): only `cycle_momentum=False` is
    accepted, so that code written for torch says what it gets.

    Parameters
    ----------
    max_lr : float
        The peak rate, > 0.
    total_steps : int, optional
        The cycle's length in optimizer steps.
    epochs : int, optional
        With steps_per_epoch, the cycle's length when total_steps is not given.
    steps_per_epoch : int, optional
        Optimizer steps an epoch (batches of fit).
    pct_start : float, default 0.3
        The fraction of the cycle spent rising, in [0, 1].
    anneal_strategy : {"cos", "linear"}, default "cos"
        The shape of the rise and fall.
    cycle_momentum : bool, default False
        Only False is accepted (see above).
    div_factor : float, default 25.0
        The initial rate is max_lr / div_factor, > 0.
    final_div_factor : float, default 1e4
        The last rate is the initial one / final_div_factor, > 0.
    three_phase : bool, default False
        Rise, fall back to the initial rate, then fall to the last one.

    Raises
    ------
    TypeError
        When an argument is not of its type.
    ValueError
        When an argument is out of range, cycle_momentum is True, or pct_start * total_steps
        is 1 (a rising phase of no length).
    """
    per_step = True
    _arguments = ("max_lr", "total_steps", "epochs", "steps_per_epoch", "pct_start",
                  "anneal_strategy", "div_factor", "final_div_factor", "three_phase")

    def __init__(self, max_lr: float, total_steps: Optional[int] = None,
                 epochs: Optional[int] = None, steps_per_epoch: Optional[int] = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = False, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False) -> None:
        super().__init__()
        self.max_lr = _positive_float(max_lr, "max_lr")
        self.total_steps = None if total_steps is None else _positive_int(total_steps,
                                                                          "total_steps")
        self.epochs = None if epochs is None else _positive_int(epochs, "epochs")
        self.steps_per_epoch = (None if steps_per_epoch is None
                                else _positive_int(steps_per_epoch, "steps_per_epoch"))
        self.pct_start = as_float(pct_start, "pct_start", minimum=0.0)
        if self.pct_start > 1:
            raise ValueError(f"pct_start: expected a number from 0 to 1, got {self.pct_start}")
        self.anneal_strategy = _choice(anneal_strategy, "anneal_strategy", ("cos", "linear"))
        if _as_bool(cycle_momentum, "cycle_momentum"):
            raise ValueError("cycle_momentum: fastprop's OneCycleLR schedules the learning "
                             "rate only (momentum and betas stay as the optimizer has them); "
                             "expected False, got True")
        self.div_factor = _positive_float(div_factor, "div_factor")
        self.final_div_factor = _positive_float(final_div_factor, "final_div_factor")
        self.three_phase = _as_bool(three_phase, "three_phase")
        self._total = self._total_from(self.epochs, self.steps_per_epoch)    # None: fit's
        if self._total is not None:
            self._check_phases(self._total)
        self._step = 0              # torch's last_epoch of the coming step

    def _total_from(self, epochs, steps_per_epoch):
        """The cycle's length: total_steps, else epochs * steps_per_epoch, the constructor's
        where given, else the ones passed (those of a fit); None while one is missing."""
        if self.total_steps is not None:
            return self.total_steps
        epochs = self.epochs if self.epochs is not None else epochs
        steps_per_epoch = self.steps_per_epoch if self.steps_per_epoch is not None \
            else steps_per_epoch
        if epochs is None or steps_per_epoch is None:
            return None
        return epochs * steps_per_epoch

    def _phases(self, total):
        """[(end_step, start_lr, end_lr)], torch's table of phases for a cycle of `total`."""
        initial = self.max_lr / self.div_factor
        minimum = initial / self.final_div_factor
        first_end = float(self.pct_start * total) - 1
        if self.three_phase:
            return [(first_end, initial, self.max_lr),
                    (float(2 * self.pct_start * total) - 2, self.max_lr, initial),
                    (total - 1, initial, minimum)]
        return [(first_end, initial, self.max_lr), (total - 1, self.max_lr, minimum)]

    def _check_phases(self, total):
        # pct_start * total == 1 makes the first phase end at step 0, where torch divides 0
        # by 0 (a ZeroDivisionError); every other division of the steps 0..total-1 is nonzero
        if self._phases(total)[0][0] == 0.0:
            raise ValueError(f"pct_start: pct_start * total_steps must not be 1 (the rising "
                             f"phase would have no length; torch divides by zero there), got "
                             f"{self.pct_start} * {total}")

    def _check_begin(self, n_samples, steps_per_epoch, epochs):
        total = self._total
        if total is None:
            total = self._total_from(epochs, steps_per_epoch)
            if total == 0:      # a fit of 0 epochs: nothing to infer the cycle from, nor to do
                return
            self._check_phases(total)
        needed, left = epochs * steps_per_epoch, total - self._step
        if needed > left:
            raise ValueError(f"schedule: OneCycleLR has {left} of its {total} steps left, "
                             f"this fit needs {needed} ({epochs} epochs x {steps_per_epoch} "
                             f"steps)")

    def _start(self, base_lr):
        self._lr = self.max_lr / self.div_factor    # marks the start; the rates come from _take

    def _fit_begun(self, n_samples, steps_per_epoch, epochs):
        if self._total is None and self._total_from(epochs, steps_per_epoch) > 0:
            self._total = self._total_from(epochs, steps_per_epoch)

    def _lrs(self, k):
        self._require_started()
        k = as_int(k, "k", minimum=0)
        left = 0 if self._total is None else self._total - self._step
        if k > left:
            raise ValueError(f"schedule: OneCycleLR has {left} of its {self._total} steps "
                             f"left, asked for {k}")
        if k == 0:
            return np.empty(0, dtype=np.float64)
        phases = self._phases(self._total)
        out = np.array(self._rates(phases, self._step, self._step + k), dtype=np.float64)
        self._step += k
        self._lr = float(out[-1])
        return out

    def _rates(self, phases, first, end):
        """_rate for the steps first..end-1, phase by phase, in compiled code: the same
        operations on the same values (so the same bits), without a Python operation a step (a
        per-sample fit asks for a rate a step)."""
        ends = [p[0] for p in phases]
        if any(a > b for a, b in zip(ends, ends[1:])):      # phases out of order: one by one
            return [self._rate(phases, step) for step in range(first, end)]
        out, step, start_step = [], first, 0.0
        for i, (end_step, start_lr, end_lr) in enumerate(phases):
            stop = end if i == len(phases) - 1 else min(end, math.floor(end_step) + 1)
            if step < stop:
                out.append(_core.anneal_rates(start_step, end_step, start_lr, end_lr,
                                              self.anneal_strategy == "cos", step, stop))
                step = stop
            start_step = end_step
        return np.concatenate(out) if out else np.empty(0)

    def _rate(self, phases, step):
        """torch's get_lr at last_epoch = step: the phase holding step, annealed in it."""
        start_step = 0.0
        for i, (end_step, start_lr, end_lr) in enumerate(phases):
            if step <= end_step or i == len(phases) - 1:
                pct = (step - start_step) / (end_step - start_step)
                if self.anneal_strategy == "cos":
                    return end_lr + (start_lr - end_lr) / 2.0 * (math.cos(math.pi * pct) + 1)
                return (end_lr - start_lr) * pct + start_lr
            start_step = end_step


class ReduceLROnPlateau(Schedule):
    """torch.optim.lr_scheduler.ReduceLROnPlateau: after each epoch, the monitored loss (the
    validation loss when `fit` has validation data, else the training loss) is compared with
    the best so far; after more than `patience` epochs without improvement the rate is
    multiplied by `factor` (not below `min_lr`, and not when the change would be below `eps`),
    then `cooldown` epochs pass before bad epochs count again.

    An improvement is a value below best * (1 - threshold) ("rel") or best - threshold ("abs")
    in mode "min"; above best * (1 + threshold) or best + threshold in mode "max".

    Parameters
    ----------
    mode : {"min", "max"}, default "min"
        Whether lower or higher is better.
    factor : float, default 0.1
        The factor of each reduction, in (0, 1).
    patience : int, default 10
        Epochs without improvement tolerated, >= 0.
    threshold : float, default 1e-4
        The least change that counts as an improvement, >= 0.
    threshold_mode : {"rel", "abs"}, default "rel"
        Whether threshold is relative to the best value or absolute.
    cooldown : int, default 0
        Epochs after a reduction before bad epochs count again, >= 0.
    min_lr : float, default 0.0
        The rate never goes below it, >= 0.
    eps : float, default 1e-8
        A reduction smaller than this is not made, >= 0.

    Raises
    ------
    TypeError
        When an argument is not of its type.
    ValueError
        When an argument is out of range (factor >= 1; threshold >= 1 with "min" and
        "rel") or mode or threshold_mode is unknown.
    """
    needs_metric = True
    _arguments = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
                  "min_lr", "eps")

    def __init__(self, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float = 0.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.mode = _choice(mode, "mode", ("min", "max"))
        self.factor = _positive_float(factor, "factor")
        if self.factor >= 1.0:      # torch refuses it too: the rate would never fall
            raise ValueError(f"factor: expected a number < 1, got {self.factor}")
        self.patience = as_int(patience, "patience", minimum=0)
        self.threshold = as_float(threshold, "threshold", minimum=0.0)
        self.threshold_mode = _choice(threshold_mode, "threshold_mode", ("rel", "abs"))
        if self.mode == "min" and self.threshold_mode == "rel" and self.threshold >= 1:
            raise ValueError(f"threshold: expected a number < 1 with mode='min' and "
                             f"threshold_mode='rel' (best * (1 - threshold) must stay "
                             f"positive), got {self.threshold}")
        self.cooldown = as_int(cooldown, "cooldown", minimum=0)
        self.min_lr = as_float(min_lr, "min_lr", minimum=0.0)
        self.eps = as_float(eps, "eps", minimum=0.0)
        self._best = math.inf if self.mode == "min" else -math.inf
        self._bad_epochs = 0
        self._cooldown_left = 0

    def _is_better(self, value):
        best, threshold = self._best, self.threshold
        if self.mode == "min":
            return value < (best * (1.0 - threshold) if self.threshold_mode == "rel"
                            else best - threshold)
        return value > (best * (threshold + 1.0) if self.threshold_mode == "rel"
                        else best + threshold)

    def _observe(self, value):
        self._require_started()
        value = float(value)
        if self._is_better(value):
            self._best = value
            self._bad_epochs = 0
        else:
            self._bad_epochs += 1
        if self._cooldown_left > 0:
            self._cooldown_left -= 1
            self._bad_epochs = 0        # bad epochs in cooldown do not count
        if self._bad_epochs > self.patience:
            new_lr = max(self._lr * self.factor, self.min_lr)
            if self._lr - new_lr > self.eps:
                self._lr = new_lr
            self._cooldown_left = self.cooldown
            self._bad_epochs = 0
        return False


class InvScaling(Schedule):
    """scikit-learn MLP's learning_rate="invscaling" (solver "sgd"): epoch 0 uses the base
    rate; after each epoch t (scikit-learn's `t_`) grows by the number of training samples and
    the rate becomes base / (t + 1) ** power_t. t continues across `fit` calls.

    Parameters
    ----------
    power_t : float, default 0.5
        The exponent, >= 0 (scikit-learn's default).

    Raises
    ------
    TypeError
        When power_t is not a real number.
    ValueError
        When power_t is negative or not finite.
    """
    _arguments = ("power_t",)

    def __init__(self, power_t: float = 0.5) -> None:
        super().__init__()
        self.power_t = as_float(power_t, "power_t", minimum=0.0)
        self._t = 0
        self._n_samples = None

    def _fit_begun(self, n_samples, steps_per_epoch, epochs):
        self._n_samples = n_samples

    def _take(self):
        lr = self._lr
        self._t += self._n_samples
        self._lr = self._base_lr / (self._t + 1) ** self.power_t
        return lr


class Adaptive(Schedule):
    """scikit-learn MLP's learning_rate="adaptive" (solver "sgd"): an epoch whose monitored
    loss is not below best - tol counts as one without improvement (an improving one resets
    the count); when the count exceeds `n_iter_no_change` the rate is divided by 5 and the
    count restarts, or, when the rate is already at most 1e-6, training stops.

    The monitored loss is the training loss, or the validation loss when `fit` has validation
    data (scikit-learn watches the validation score, which rises, when early_stopping is on).
    The default n_iter_no_change=2 (three epochs without improvement) is fastprop's;
    scikit-learn's MLP default is 10.

    Parameters
    ----------
    tol : float, default 1e-4
        The least improvement that counts, >= 0.
    n_iter_no_change : int, default 2
        Epochs without improvement tolerated before the rate is divided, >= 1.

    Raises
    ------
    TypeError
        When an argument is not of its type.
    ValueError
        When an argument is out of range.
    """
    needs_metric = True
    _arguments = ("tol", "n_iter_no_change")

    def __init__(self, tol: float = 1e-4, n_iter_no_change: int = 2) -> None:
        super().__init__()
        self.tol = as_float(tol, "tol", minimum=0.0)
        self.n_iter_no_change = _positive_int(n_iter_no_change, "n_iter_no_change")
        self._best = math.inf
        self._no_improvement = 0

    def _observe(self, value):
        self._require_started()
        value = float(value)
        if value > self._best - self.tol:
            self._no_improvement += 1
        else:
            self._no_improvement = 0
        if value < self._best:
            self._best = value
        if self._no_improvement > self.n_iter_no_change:
            if self._lr <= 1e-6:
                return True
            self._lr /= 5.0
            self._no_improvement = 0
        return False
