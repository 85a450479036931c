"""fastprop.schedules under random arguments (hypothesis). Valid ones: the rates are finite and
positive (cosine annealing's may touch 0 at its minimum when eta_min is 0), within the bounds
the schedule promises, and `_lrs` asked in chunks, over several `_begin` calls, gives exactly
the sequence of one call; a metric-following schedule never raises its rate. Invalid ones: a
ValueError or TypeError whose message starts with the argument's name.

Profiles: tests/test_properties.py registers and loads them ("ci" by default, "long" with
HYPOTHESIS_PROFILE=long); this file imports it for that, so it runs alone with the same ones."""
import copy
import math
import os
import sys

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fastprop import schedules as S

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_properties import budget  # noqa: E402  (registers and loads the profiles)


def floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


# ---- valid arguments ------------------------------------------------------------------------
@st.composite
def epoch_schedules(draw):
    """A per-epoch schedule that follows no metric."""
    kind = draw(st.sampled_from(["step", "exp", "cos", "inv"]))
    if kind == "step":
        return S.StepLR(draw(st.integers(1, 50)), draw(floats(0.5, 1.5)))
    if kind == "exp":
        return S.ExponentialLR(draw(floats(0.5, 1.5)))
    if kind == "cos":
        return S.CosineAnnealingLR(draw(st.integers(1, 100)), draw(floats(0.0, 1.0)))
    return S.InvScaling(draw(floats(0.0, 3.0)))


@st.composite
def onecycles(draw):
    args = dict(pct_start=draw(floats(0.0, 1.0)), anneal_strategy=draw(st.sampled_from(
        ["cos", "linear"])), div_factor=draw(floats(1.0, 1e3)),
        final_div_factor=draw(floats(1.0, 1e5)), three_phase=draw(st.booleans()))
    length = draw(st.sampled_from(["total", "epochs", "fit"]))
    if length == "total":
        args["total_steps"] = draw(st.integers(1, 400))
    elif length == "epochs":
        args["epochs"], args["steps_per_epoch"] = draw(st.integers(1, 20)), draw(st.integers(1, 20))
    try:
        return S.OneCycleLR(draw(floats(1e-4, 10.0)), **args)
    except ValueError as exc:       # pct_start * total_steps == 1, which torch cannot compute
        assert str(exc).startswith("pct_start: ")
        assume(False)


def fits(draw, n_fits):
    """[(n_samples, steps_per_epoch, epochs)] of n_fits fit calls."""
    return [(draw(st.integers(1, 10_000)), draw(st.integers(1, 8)), draw(st.integers(0, 30)))
            for _ in range(n_fits)]


def split(draw, n):
    """Random chunk sizes summing to n."""
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=5)))
    return np.diff([0, *cuts, n]).tolist()


def run(schedule, lr, calls):
    """The rates of fit calls [(n_samples, steps_per_epoch, epochs, chunks)]: one _begin per
    call, then _lrs in its chunks."""
    out = []
    for n_samples, steps, epochs, chunks in calls:
        schedule._begin(lr, n_samples, steps, epochs)
        out.extend(schedule._lrs(k) for k in chunks)
    return np.concatenate(out) if out else np.empty(0)


@budget(3)
@given(st.data())
def test_epoch_schedule_rates_are_finite_positive_and_the_same_in_chunks(data):
    schedule = data.draw(epoch_schedules())
    lr = data.draw(floats(1e-6, 10.0))
    calls = fits(data.draw, data.draw(st.integers(1, 3)))
    whole = run(copy.deepcopy(schedule), lr, [(n, s, e, [e]) for n, s, e in calls])
    chunked = run(copy.deepcopy(schedule), lr,
                  [(n, s, e, split(data.draw, e)) for n, s, e in calls])
    assert whole.dtype == np.float64 and whole.shape == (sum(e for _, _, e in calls),)
    assert np.array_equal(whole, chunked)
    assert np.all(np.isfinite(whole))
    if isinstance(schedule, S.CosineAnnealingLR):
        # between eta_min and the base rate, both ends reached (up to rounding)
        lo, hi = min(lr, schedule.eta_min), max(lr, schedule.eta_min)
        assert np.all(whole >= lo - 1e-12 * hi) and np.all(whole <= hi * (1 + 1e-12))
        assert np.all(whole >= 0)
    else:
        assert np.all(whole > 0)
    if whole.size:
        assert whole[0] == lr       # epoch 0 runs at the base rate
    if isinstance(schedule, S.InvScaling) or getattr(schedule, "gamma", 2.0) <= 1.0:
        assert np.all(np.diff(whole) <= 0)      # these only ever decay


@budget(3)
@given(st.data())
def test_onecycle_rates_are_within_its_bounds_and_the_same_in_chunks(data):
    schedule = data.draw(onecycles())
    total = schedule._total
    steps = data.draw(st.integers(1, 8))
    if total is None:               # the first fit supplies the length
        first_epochs = data.draw(st.integers(1, 30))
        try:
            copy.deepcopy(schedule)._begin(0.1, 100, steps, first_epochs)
        except ValueError as exc:
            assert str(exc).startswith("pct_start: ")
            assume(False)
        total = ((schedule.epochs or first_epochs) * (schedule.steps_per_epoch or steps))
        calls = [(100, steps, first_epochs, first_epochs * steps)]
    else:
        calls = []
    done = sum(c[3] for c in calls)
    while done < total and len(calls) < 4:      # fit calls that fit in the cycle
        k = data.draw(st.integers(0, total - done))
        calls.append((100, 1, k, k))
        done += k
    whole = run(copy.deepcopy(schedule), 0.5, [(n, s, e, [k]) for n, s, e, k in calls])
    chunked = run(copy.deepcopy(schedule), 0.5,
                  [(n, s, e, split(data.draw, k)) for n, s, e, k in calls])
    assert np.array_equal(whole, chunked)
    assert np.all(np.isfinite(whole)) and np.all(whole > 0)
    assert np.all(whole <= schedule.max_lr * (1 + 1e-12))
    # the floor up to rounding in the scale of max_lr: torch's linear anneal ends with
    # (floor - max_lr) * 1 + max_lr, which cancels
    floor = schedule.max_lr / schedule.div_factor / schedule.final_div_factor
    assert np.all(whole >= floor - 4 * np.finfo(np.float64).eps * schedule.max_lr)


@budget(1)
@given(st.data())
def test_onecycle_refuses_what_is_left_short_and_changes_nothing(data):
    total = data.draw(st.integers(1, 60))
    schedule = S.OneCycleLR(1.0, total_steps=total)     # 0.3 * total is never 1
    used = data.draw(st.integers(0, total))
    schedule._begin(0.1, 10, 1, used)
    schedule._lrs(used)
    steps = data.draw(st.integers(1, 8))
    epochs = (total - used) // steps + 1        # one epoch too many
    before = copy.deepcopy(vars(schedule))
    with pytest.raises(ValueError, match="^schedule: "):
        schedule._begin(0.1, 10, steps, epochs)
    assert vars(schedule) == before


@st.composite
def metric_schedules(draw):
    if draw(st.booleans()):
        mode = draw(st.sampled_from(["min", "max"]))
        threshold_mode = draw(st.sampled_from(["rel", "abs"]))
        top = 0.999 if (mode, threshold_mode) == ("min", "rel") else 10.0
        return S.ReduceLROnPlateau(
            mode=mode, factor=draw(floats(1e-3, 0.999)), patience=draw(st.integers(0, 5)),
            threshold=draw(floats(0.0, top)), threshold_mode=threshold_mode,
            cooldown=draw(st.integers(0, 5)), min_lr=draw(floats(0.0, 1e-3)),
            eps=draw(floats(0.0, 1e-3)))
    return S.Adaptive(draw(floats(0.0, 1.0)), draw(st.integers(1, 5)))


@budget(3)
@given(st.data())
def test_metric_schedules_never_raise_the_rate_and_continue_across_fits(data):
    schedule = data.draw(metric_schedules())
    lr = data.draw(floats(1e-6, 10.0))
    metrics = data.draw(st.lists(floats(-1e3, 1e3), max_size=60))
    cut = data.draw(st.integers(0, len(metrics)))

    def follow(sched, parts):
        rates, stop = [], None
        for part in parts:
            sched._begin(lr, 10, 1, len(part))
            for value in part:
                rates.append(sched._current())
                if sched._observe(value):
                    return rates, len(rates) - 1
        return rates, stop

    whole = follow(copy.deepcopy(schedule), [metrics])
    parts = follow(copy.deepcopy(schedule), [metrics[:cut], metrics[cut:]])
    assert whole == parts
    rates = np.array(whole[0])
    assert np.all(np.isfinite(rates)) and np.all(rates > 0)
    assert np.all(np.diff(rates) <= 0)
    if isinstance(schedule, S.ReduceLROnPlateau):
        assert whole[1] is None                 # it never asks to stop
        assert np.all(rates >= min(lr, schedule.min_lr))
    elif whole[1] is not None:
        assert rates[-1] <= 1e-6                # Adaptive stops only at a tiny rate


# ---- invalid arguments ----------------------------------------------------------------------
_NOT_NUMBERS = st.one_of(st.booleans(), st.text(max_size=3), st.none(), st.lists(
    st.integers(), max_size=2), st.just(1j))
_NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


def bad_positive_int():
    return st.one_of(st.integers(max_value=0), st.floats(), _NOT_NUMBERS)


def bad_nonnegative_int():
    return st.one_of(st.integers(max_value=-1), st.floats(), _NOT_NUMBERS)


def bad_positive_float():
    return st.one_of(st.floats(max_value=0.0), _NON_FINITE, _NOT_NUMBERS)


def bad_nonnegative_float():
    return st.one_of(st.floats(max_value=-1e-300), _NON_FINITE, _NOT_NUMBERS)


def bad_choice(options):
    return st.one_of(st.text(max_size=8).filter(lambda s: s not in options), st.integers(),
                     st.none(), st.booleans())


def bad_bool():
    return st.one_of(st.text(max_size=3), st.integers().filter(lambda i: i not in (0, 1)),
                     st.floats(), st.none())


# class, valid keyword arguments, {argument: strategy of invalid values}
_INVALID = [
    (S.StepLR, dict(step_size=3), dict(step_size=bad_positive_int(),
                                       gamma=bad_positive_float())),
    (S.ExponentialLR, dict(gamma=0.9), dict(gamma=bad_positive_float())),
    (S.CosineAnnealingLR, dict(T_max=5), dict(T_max=bad_positive_int(),
                                              eta_min=bad_nonnegative_float())),
    (S.ReduceLROnPlateau, dict(), dict(
        mode=bad_choice(("min", "max")), factor=st.one_of(bad_positive_float(),
                                                          st.floats(min_value=1.0)),
        patience=bad_nonnegative_int(), threshold=st.one_of(bad_nonnegative_float(),
                                                            st.floats(min_value=1.0)),
        threshold_mode=bad_choice(("rel", "abs")), cooldown=bad_nonnegative_int(),
        min_lr=bad_nonnegative_float(), eps=bad_nonnegative_float())),
    (S.OneCycleLR, dict(max_lr=0.1), dict(
        max_lr=bad_positive_float(), total_steps=bad_positive_int().filter(
            lambda v: v is not None), epochs=bad_positive_int().filter(lambda v: v is not None),
        steps_per_epoch=bad_positive_int().filter(lambda v: v is not None),
        pct_start=st.one_of(bad_nonnegative_float(), st.floats(min_value=1.0,
                                                              exclude_min=True)),
        anneal_strategy=bad_choice(("cos", "linear")), cycle_momentum=st.one_of(
            bad_bool(), st.just(True)), div_factor=bad_positive_float(),
        final_div_factor=bad_positive_float(), three_phase=bad_bool())),
    (S.InvScaling, dict(), dict(power_t=bad_nonnegative_float())),
    (S.Adaptive, dict(), dict(tol=bad_nonnegative_float(),
                              n_iter_no_change=bad_positive_int())),
]


@budget(4)
@given(st.data())
def test_invalid_arguments_are_refused_by_name(data):
    cls, valid, bad = data.draw(st.sampled_from(_INVALID))
    argument = data.draw(st.sampled_from(sorted(bad)))
    value = data.draw(bad[argument])
    kwargs = dict(valid)
    if cls is S.OneCycleLR and argument in ("epochs", "steps_per_epoch"):
        kwargs.update(epochs=2, steps_per_epoch=3)      # the pair is read together
    kwargs[argument] = value
    with pytest.raises((ValueError, TypeError)) as info:
        cls(**kwargs)
    assert str(info.value).startswith(f"{argument}: "), str(info.value)
