"""fastprop.schedules against their models, value for value: the torch schedulers driven on a
dummy parameter with torch.optim.SGD (each learning rate compared with ==, float64), and
scikit-learn's SGDOptimizer driven directly for "invscaling" and "adaptive", with a plain
reference written here beside them. Also: `_lrs` in chunks gives the sequence of one call
(fit asks for it in chunks), a refused `_begin` changes nothing, and every bad constructor
argument is a ValueError/TypeError naming it."""
import copy
import inspect
import math
import warnings

import numpy as np
import pytest

from fastprop import schedules as S


# ---- drivers -------------------------------------------------------------------------------
def torch_lrs(torch, make, lr, n, metrics=None):
    """The lr torch's SGD holds in each of n epochs (steps) under the scheduler make(opt):
    read before opt.step(), the scheduler stepped after it (with metrics[i] for
    ReduceLROnPlateau)."""
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # any warning means the driving is wrong
        scheduler = make(opt)
        out = []
        for i in range(n):
            out.append(opt.param_groups[0]["lr"])
            param.grad = torch.zeros_like(param)
            opt.step()
            if i == n - 1:
                break           # OneCycleLR refuses to step past its cycle's end
            if metrics is None:
                scheduler.step()
            else:
                scheduler.step(metrics[i])
    assert all(type(v) is float for v in out)
    return np.array(out, dtype=np.float64)


def ours(schedule, lr, n, chunks=None, n_samples=10, steps_per_epoch=1, epochs=None):
    """n rates of a schedule begun with base lr, asked for in the given chunk sizes."""
    schedule._begin(lr, n_samples, steps_per_epoch, n if epochs is None else epochs)
    chunks = [n] if chunks is None else chunks
    assert sum(chunks) == n
    parts = [schedule._lrs(k) for k in chunks]
    for part, k in zip(parts, chunks):
        assert part.dtype == np.float64 and part.shape == (k,)
    return np.concatenate(parts)


def follow(schedule, lr, metrics, n_samples=10):
    """(the rate of each epoch, the epoch at which the schedule asked to stop or None) of a
    metric-following schedule, given the monitored value after each epoch."""
    schedule._begin(lr, n_samples, 1, len(metrics))
    out = []
    for i, value in enumerate(metrics):
        out.append(schedule._current())
        if schedule._observe(value):
            return np.array(out), i
    return np.array(out), None


def chunkings(n, rng):
    """Chunk sizes summing to n: a few random splits, zeros included."""
    cuts = np.sort(rng.integers(0, n + 1, size=4))
    return np.diff(np.concatenate([[0], cuts, [n]])).tolist()


def assert_same(actual, expected):
    """Equal as float64, every element (a mismatch reports the first index)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    bad = np.flatnonzero(actual != expected)
    assert bad.size == 0, (f"{bad.size} of {actual.size} differ; first at {bad[0]}: "
                           f"{actual[bad[0]]!r} != {expected[bad[0]]!r}")


# ---- the per-epoch torch schedulers ---------------------------------------------------------
@pytest.mark.parametrize("step_size,gamma,lr", [(1, 0.1, 0.1), (3, 0.5, 0.37), (5, 0.9, 1.0),
                                                (2, 1.5, 0.01), (7, 0.3, 3e-4)])
def test_steplr_matches_torch(torch, step_size, gamma, lr):
    n = 60
    expected = torch_lrs(torch, lambda o: torch.optim.lr_scheduler.StepLR(o, step_size, gamma),
                         lr, n)
    assert_same(ours(S.StepLR(step_size, gamma), lr, n), expected)
    rng = np.random.default_rng(step_size)
    assert_same(ours(S.StepLR(step_size, gamma), lr, n, chunkings(n, rng)), expected)


@pytest.mark.parametrize("gamma,lr", [(0.9, 0.1), (0.99, 0.37), (0.5, 1.0), (1.01, 0.01),
                                      (0.999, 3e-4)])
def test_exponentiallr_matches_torch(torch, gamma, lr):
    n = 300
    expected = torch_lrs(torch, lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma), lr, n)
    assert_same(ours(S.ExponentialLR(gamma), lr, n), expected)
    rng = np.random.default_rng(7)
    assert_same(ours(S.ExponentialLR(gamma), lr, n, chunkings(n, rng)), expected)


@pytest.mark.parametrize("T_max,eta_min,lr", [(1, 0.0, 0.1), (2, 0.0, 0.1), (7, 0.001, 0.37),
                                              (10, 0.0, 1.0), (50, 1e-5, 0.05),
                                              (4, 0.2, 0.1)])   # eta_min above the base rate
def test_cosineannealinglr_matches_torch_past_T_max(torch, T_max, eta_min, lr):
    n = 5 * T_max + 3       # down, up, down again: the recursion crosses every branch
    expected = torch_lrs(torch, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(
        o, T_max, eta_min), lr, n)
    got = ours(S.CosineAnnealingLR(T_max, eta_min), lr, n)
    assert_same(got, expected)
    assert abs(got[T_max] - eta_min) <= 1e-12 and got[0] == lr      # the schedule's shape
    rng = np.random.default_rng(T_max)
    assert_same(ours(S.CosineAnnealingLR(T_max, eta_min), lr, n, chunkings(n, rng)), expected)


def test_a_schedule_continues_across_fit_calls_like_one_torch_run(torch):
    """The second _begin (another fit call) continues the sequence and ignores its base lr,
    as a torch scheduler kept across training loops reads the rate it left."""
    n = 40
    expected = torch_lrs(torch, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 15),
                         0.2, n)
    sched = S.CosineAnnealingLR(15)
    sched._begin(0.2, 10, 1, 25)
    first = sched._lrs(25)
    sched._begin(0.9, 10, 1, 15)            # the optimizer's lr now: not a new start
    assert_same(np.concatenate([first, sched._lrs(15)]), expected)


# ---- OneCycleLR: one rate per optimizer step ------------------------------------------------
def _onecycle_cases():
    cases = []
    for total in (1, 2, 3, 10, 97, 1000):
        for pct_start in (0.0, 0.1, 0.25, 0.3, 0.5, 0.7, 1.0):
            for three_phase in (False, True):
                for anneal in ("cos", "linear"):
                    cases.append((total, pct_start, three_phase, anneal))
    return cases


@pytest.mark.parametrize("total,pct_start,three_phase,anneal", _onecycle_cases())
def test_onecyclelr_matches_torch(torch, total, pct_start, three_phase, anneal):
    args = dict(pct_start=pct_start, three_phase=three_phase, anneal_strategy=anneal,
                div_factor=10.0, final_div_factor=100.0)
    try:
        expected = torch_lrs(torch, lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o, 0.3, total_steps=total, cycle_momentum=False, **args), 0.123, total)
    except ZeroDivisionError:
        # torch divides 0 by 0 at step 0 when pct_start * total == 1: refused here, by name
        assert pct_start * total == 1.0
        with pytest.raises(ValueError, match="^pct_start: "):
            S.OneCycleLR(0.3, total_steps=total, **args)
        return
    got = ours(S.OneCycleLR(0.3, total_steps=total, **args), 0.123, total, steps_per_epoch=1)
    assert_same(got, expected)
    rng = np.random.default_rng(total)
    assert_same(ours(S.OneCycleLR(0.3, total_steps=total, **args), 0.123, total,
                     chunkings(total, rng)), expected)
    assert np.all(got > 0) and np.all(got <= 0.3 * (1 + 1e-15))


def test_onecyclelr_default_arguments_match_torch(torch):
    expected = torch_lrs(torch, lambda o: torch.optim.lr_scheduler.OneCycleLR(
        o, 0.05, epochs=7, steps_per_epoch=13, cycle_momentum=False), 0.5, 91)
    assert_same(ours(S.OneCycleLR(0.05, epochs=7, steps_per_epoch=13), 0.5, 91,
                     steps_per_epoch=13, epochs=7), expected)
    # its first rate is max_lr / div_factor up to rounding: torch evaluates its cosine
    # formula at pct = 0 (here 0.0020000000000000018, not 0.002), and so does fastprop
    assert math.isclose(expected[0], 0.05 / 25.0, rel_tol=1e-14)


def test_onecyclelr_momentum_cycling_does_not_change_torch_rates(torch):
    """torch's default cycle_momentum=True moves SGD's momentum, not the rates: fastprop's
    rates are torch's whatever that flag; only the momentum is not cycled here."""
    def make(o):
        o.param_groups[0]["momentum"] = 0.9
        return torch.optim.lr_scheduler.OneCycleLR(o, 0.4, total_steps=50)
    assert_same(ours(S.OneCycleLR(0.4, total_steps=50), 0.1, 50), torch_lrs(torch, make, 0.1, 50))


def test_onecyclelr_takes_the_missing_length_from_the_fit(torch):
    expected = torch_lrs(torch, lambda o: torch.optim.lr_scheduler.OneCycleLR(
        o, 0.2, total_steps=4 * 6, cycle_momentum=False), 0.1, 24)
    # neither given: this fit's 6 epochs of 4 steps
    assert_same(ours(S.OneCycleLR(0.2), 0.1, 24, steps_per_epoch=4, epochs=6), expected)
    # epochs given (the cycle of 3 fit calls), steps per epoch from the first fit
    sched = S.OneCycleLR(0.2, epochs=6)
    parts = []
    for fit_epochs in (2, 3, 1):
        sched._begin(0.1, 40, 4, fit_epochs)
        parts.extend(sched._lrs(4 * e) for e in [1] * fit_epochs)
    assert_same(np.concatenate(parts), expected)


def test_onecyclelr_refuses_a_fit_longer_than_the_steps_left_and_changes_nothing():
    sched = S.OneCycleLR(0.2, total_steps=30)
    sched._begin(0.1, 40, 4, 5)
    sched._lrs(20)
    before = copy.deepcopy(vars(sched))
    with pytest.raises(ValueError, match=r"^schedule: .*\b10\b.*\b30\b.*\b12\b"):
        sched._begin(0.1, 40, 4, 3)         # 12 steps wanted, 10 left
    assert vars(sched) == before
    with pytest.raises(ValueError, match="^schedule: "):
        sched._lrs(11)
    assert vars(sched) == before
    sched._begin(0.1, 40, 5, 2)             # exactly the 10 left
    assert sched._lrs(10).shape == (10,)


def test_onecyclelr_refuses_an_inferred_cycle_torch_cannot_compute():
    """pct_start * (the fit's epochs * steps) == 1: refused at _begin, with nothing bound."""
    sched = S.OneCycleLR(0.2, pct_start=0.125)
    before = copy.deepcopy(vars(sched))
    with pytest.raises(ValueError, match="^pct_start: "):
        sched._begin(0.1, 40, 4, 2)         # 8 steps: 0.125 * 8 == 1
    assert vars(sched) == before
    sched._begin(0.1, 40, 4, 3)
    assert sched._lrs(12).shape == (12,)


def test_a_fit_of_no_epochs_does_not_fix_the_onecycle_length(torch):
    sched = S.OneCycleLR(0.2)
    sched._begin(0.1, 10, 2, 0)
    assert sched._lrs(0).shape == (0,)
    expected = torch_lrs(torch, lambda o: torch.optim.lr_scheduler.OneCycleLR(
        o, 0.2, total_steps=10, cycle_momentum=False), 0.1, 10)
    sched._begin(0.1, 10, 2, 5)
    assert_same(sched._lrs(10), expected)


# ---- ReduceLROnPlateau ----------------------------------------------------------------------
def _metrics(kind, n=80, seed=0):
    """Loss-like curves: falling with noise and plateaus, exact ties, and a rising one."""
    rng = np.random.default_rng(seed)
    if kind == "noisy":
        return (np.exp(-np.arange(n) / 10) + 0.1 * rng.random(n)).tolist()
    if kind == "plateaus":      # steps down, flat in between: ties are not improvements
        return np.repeat([1.0, 0.5, 0.49995, 0.25, 0.25, 0.1], -(-n // 6))[:n].tolist()
    if kind == "rising":        # for mode "max"
        return (np.log1p(np.arange(n)) + 0.3 * rng.random(n)).tolist()
    raise KeyError(kind)


_PLATEAU_CASES = [
    ("noisy", {}),
    ("noisy", dict(patience=0)),
    ("noisy", dict(patience=2, cooldown=3, factor=0.5)),
    ("plateaus", dict(patience=1)),
    ("plateaus", dict(patience=1, threshold=1e-3)),        # 0.49995 not enough better than 0.5
    ("plateaus", dict(patience=1, threshold_mode="abs", threshold=0.01)),
    ("noisy", dict(patience=1, threshold_mode="abs", threshold=0.02, cooldown=2)),
    ("noisy", dict(patience=0, factor=0.5, min_lr=0.01)),   # clamped at min_lr
    ("noisy", dict(patience=0, factor=0.9, eps=0.005)),     # changes below eps are skipped
    ("rising", dict(mode="max", patience=1)),
    ("rising", dict(mode="max", patience=0, threshold_mode="abs", threshold=0.1, cooldown=1)),
    ("rising", dict(mode="max", threshold=0.05, patience=1, min_lr=1e-3)),
    ("noisy", dict(mode="max", patience=2)),                # the wrong direction: it falls
]


@pytest.mark.parametrize("kind,kwargs", _PLATEAU_CASES)
def test_reducelronplateau_matches_torch(torch, kind, kwargs):
    metrics = _metrics(kind)
    lr = 0.1
    expected = torch_lrs(torch, lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(
        o, **kwargs), lr, len(metrics), metrics)
    got, stop = follow(S.ReduceLROnPlateau(**kwargs), lr, metrics)
    assert stop is None
    assert_same(got, expected)
    assert len(set(expected.tolist())) > 1, "a case where the rate never moves tests little"


def test_reducelronplateau_continues_across_fit_calls(torch):
    metrics = _metrics("noisy", seed=3)
    expected = torch_lrs(torch, lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(
        o, patience=1, cooldown=1, factor=0.3), 0.2, len(metrics), metrics)
    sched = S.ReduceLROnPlateau(patience=1, cooldown=1, factor=0.3)
    first, _ = follow(sched, 0.2, metrics[:33])
    rest, _ = follow(sched, 5.0, metrics[33:])      # a new base lr is not a new start
    assert_same(np.concatenate([first, rest]), expected)


# ---- scikit-learn's invscaling and adaptive -------------------------------------------------
def sklearn_sgd(lr, schedule, power_t=0.5):
    nn = pytest.importorskip("sklearn.neural_network._stochastic_optimizers")
    return nn.SGDOptimizer([np.zeros(1)], learning_rate_init=lr, lr_schedule=schedule,
                           momentum=0.0, power_t=power_t)


@pytest.mark.parametrize("power_t,lr,n_samples", [(0.5, 0.1, 10), (0.25, 0.37, 1),
                                                  (1.0, 1.0, 7), (0.0, 0.05, 3),
                                                  (2.0, 0.5, 1000)])
def test_invscaling_matches_sklearn_and_its_formula(power_t, lr, n_samples):
    n = 200
    opt, t, expected = sklearn_sgd(lr, "invscaling", power_t), 0, []
    for _ in range(n):              # MLP's epoch loop: t_ += n_samples, then iteration_ends
        expected.append(opt.learning_rate)
        t += n_samples
        opt.iteration_ends(t)
    got = ours(S.InvScaling(power_t), lr, n, n_samples=n_samples)
    assert_same(got, expected)
    # the formula: base in epoch 0, base / (e * n_samples + 1) ** power_t in epoch e
    e = np.arange(n, dtype=np.float64)
    formula = np.where(e == 0, lr, lr / np.power(e * n_samples + 1, power_t))
    np.testing.assert_allclose(got, formula, rtol=4e-16, atol=0)
    rng = np.random.default_rng(1)
    assert_same(ours(S.InvScaling(power_t), lr, n, chunkings(n, rng), n_samples=n_samples),
                expected)


def test_invscaling_counts_the_samples_of_each_fit_call():
    """t_ grows by each fit's number of samples, as scikit-learn's does over partial fits."""
    opt, t, expected = sklearn_sgd(0.3, "invscaling", 0.7), 0, []
    sched = S.InvScaling(0.7)
    got = []
    for n_samples, epochs in ((10, 4), (25, 3), (1, 5)):
        sched._begin(0.3, n_samples, 2, epochs)
        got.extend(sched._lrs(epochs))
        for _ in range(epochs):
            expected.append(opt.learning_rate)
            t += n_samples
            opt.iteration_ends(t)
    assert_same(got, expected)


def sklearn_adaptive(lr, losses, tol, n_iter_no_change):
    """scikit-learn's epoch loop reduced to the rate: MLP's _update_no_improvement_count on
    the training loss, then SGDOptimizer.trigger_stopping when the count exceeds
    n_iter_no_change. Returns (rate of each epoch, epoch of the stop or None)."""
    mlp = pytest.importorskip("sklearn.neural_network._multilayer_perceptron")
    opt = sklearn_sgd(lr, "adaptive")
    est = mlp.MLPRegressor(solver="sgd", learning_rate="adaptive", tol=tol,
                           n_iter_no_change=n_iter_no_change)
    est.loss_curve_, est.best_loss_, est._no_improvement_count = [], np.inf, 0
    n_args = len(inspect.signature(est._update_no_improvement_count).parameters)
    out = []
    for i, loss in enumerate(losses):
        out.append(opt.learning_rate)
        est.loss_curve_.append(loss)
        est._update_no_improvement_count(False, *[None] * (n_args - 1))
        opt.iteration_ends(i)
        if est._no_improvement_count > est.n_iter_no_change:
            if opt.trigger_stopping("", False):
                return np.array(out), i
            est._no_improvement_count = 0
    return np.array(out), None


def reference_adaptive(lr, losses, tol, n_iter_no_change):
    """The rule in a few lines: count epochs not better than best - tol; past the patience,
    stop when the rate is at most 1e-6, else divide it by 5 and count anew."""
    best, count, out = math.inf, 0, []
    for i, loss in enumerate(losses):
        out.append(lr)
        count = count + 1 if loss > best - tol else 0
        best = min(best, loss)
        if count > n_iter_no_change:
            if lr <= 1e-6:
                return np.array(out), i
            lr, count = lr / 5, 0
    return np.array(out), None


@pytest.mark.parametrize("tol,n_iter_no_change", [(1e-4, 2), (0.0, 1), (1e-2, 3), (0.05, 10)])
@pytest.mark.parametrize("kind", ["noisy", "plateaus"])
@pytest.mark.parametrize("lr", [0.1, 1e-6])     # 1e-6: at the limit, the first trigger stops
def test_adaptive_matches_sklearn_down_to_the_stop(kind, tol, n_iter_no_change, lr):
    losses = _metrics(kind, n=400, seed=5)
    expected, stop = sklearn_adaptive(lr, losses, tol, n_iter_no_change)
    if kind == "plateaus" and tol == 0.0:
        # a tie is not above best - 0: flat stretches count as improving, the rate stays
        assert stop is None and np.all(expected == lr)
    else:
        assert stop is not None, "the case must reach the 1e-6 stop"
        assert lr > 1e-6 or np.all(expected == lr)
    got, got_stop = follow(S.Adaptive(tol, n_iter_no_change), lr, losses)
    assert got_stop == stop
    assert_same(got, expected)
    ref, ref_stop = reference_adaptive(lr, losses, tol, n_iter_no_change)
    assert ref_stop == stop
    assert_same(ref, expected)


def test_adaptive_keeps_the_rate_while_the_loss_falls():
    losses = (1.0 / np.arange(1, 60)).tolist()      # every epoch better by more than tol
    got, stop = follow(S.Adaptive(tol=1e-4, n_iter_no_change=2), 0.1, losses)
    assert stop is None and np.all(got == 0.1)


# ---- the protocol ---------------------------------------------------------------------------
@pytest.mark.parametrize("schedule,per_step,needs_metric", [
    (S.StepLR(2), False, False), (S.ExponentialLR(0.9), False, False),
    (S.CosineAnnealingLR(5), False, False), (S.OneCycleLR(0.1), True, False),
    (S.InvScaling(), False, False), (S.ReduceLROnPlateau(), False, True),
    (S.Adaptive(), False, True)])
def test_protocol_flags_and_methods(schedule, per_step, needs_metric):
    assert isinstance(schedule, S.Schedule)
    assert schedule.per_step is per_step and schedule.needs_metric is needs_metric
    with pytest.raises(RuntimeError):           # nothing before _begin
        schedule._current() if needs_metric else schedule._lrs(1)
    schedule._begin(0.1, 10, 2, 3)
    if needs_metric:
        assert schedule._current() == 0.1
        with pytest.raises(TypeError):
            schedule._lrs(1)
    else:
        assert schedule._lrs(1).shape == (1,)
        with pytest.raises(TypeError):
            schedule._current()
        with pytest.raises(TypeError):
            schedule._observe(1.0)


@pytest.mark.parametrize("schedule", [
    S.StepLR(3, gamma=0.5), S.ExponentialLR(0.9), S.CosineAnnealingLR(10, eta_min=0.001),
    S.OneCycleLR(0.1, epochs=3, steps_per_epoch=4, pct_start=0.25, anneal_strategy="linear",
                 div_factor=10.0, final_div_factor=100.0, three_phase=True),
    S.ReduceLROnPlateau(mode="max", factor=0.5, patience=2, threshold=0.01,
                        threshold_mode="abs", cooldown=1, min_lr=1e-5, eps=1e-9),
    S.InvScaling(0.25), S.Adaptive(tol=0.001, n_iter_no_change=4)])
def test_repr_rebuilds_the_schedule(schedule):
    text = repr(schedule)
    assert text.startswith(type(schedule).__name__ + "(")
    assert repr(eval(text, vars(S))) == text


def test_a_refused_begin_changes_nothing():
    sched = S.StepLR(2)
    before = copy.deepcopy(vars(sched))
    for bad in (-0.1, float("nan"), "0.1", True):
        with pytest.raises((ValueError, TypeError), match="^lr: "):
            sched._begin(bad, 10, 2, 3)
        assert vars(sched) == before


# ---- bad arguments --------------------------------------------------------------------------
_BAD = [
    (S.StepLR, dict(step_size=0), ValueError, "step_size"),
    (S.StepLR, dict(step_size=-3), ValueError, "step_size"),
    (S.StepLR, dict(step_size=2.0), TypeError, "step_size"),
    (S.StepLR, dict(step_size=True), TypeError, "step_size"),
    (S.StepLR, dict(step_size="3"), TypeError, "step_size"),
    (S.StepLR, dict(step_size=3, gamma=0.0), ValueError, "gamma"),
    (S.StepLR, dict(step_size=3, gamma=-0.5), ValueError, "gamma"),
    (S.StepLR, dict(step_size=3, gamma=math.inf), ValueError, "gamma"),
    (S.StepLR, dict(step_size=3, gamma=math.nan), ValueError, "gamma"),
    (S.StepLR, dict(step_size=3, gamma=True), TypeError, "gamma"),
    (S.StepLR, dict(step_size=3, gamma="0.1"), TypeError, "gamma"),
    (S.ExponentialLR, dict(gamma=0), ValueError, "gamma"),
    (S.ExponentialLR, dict(gamma=None), TypeError, "gamma"),
    (S.ExponentialLR, dict(gamma=np.float64(np.inf)), ValueError, "gamma"),
    (S.CosineAnnealingLR, dict(T_max=0), ValueError, "T_max"),
    (S.CosineAnnealingLR, dict(T_max=10.5), TypeError, "T_max"),
    (S.CosineAnnealingLR, dict(T_max=False), TypeError, "T_max"),
    (S.CosineAnnealingLR, dict(T_max=10, eta_min=-1e-3), ValueError, "eta_min"),
    (S.CosineAnnealingLR, dict(T_max=10, eta_min=math.nan), ValueError, "eta_min"),
    (S.CosineAnnealingLR, dict(T_max=10, eta_min=[0.1]), TypeError, "eta_min"),
    (S.ReduceLROnPlateau, dict(mode="mini"), ValueError, "mode"),
    (S.ReduceLROnPlateau, dict(mode=None), TypeError, "mode"),
    (S.ReduceLROnPlateau, dict(factor=1.0), ValueError, "factor"),
    (S.ReduceLROnPlateau, dict(factor=2.0), ValueError, "factor"),
    (S.ReduceLROnPlateau, dict(factor=0.0), ValueError, "factor"),
    (S.ReduceLROnPlateau, dict(factor=True), TypeError, "factor"),
    (S.ReduceLROnPlateau, dict(patience=-1), ValueError, "patience"),
    (S.ReduceLROnPlateau, dict(patience=2.5), TypeError, "patience"),
    (S.ReduceLROnPlateau, dict(threshold=-1e-4), ValueError, "threshold"),
    (S.ReduceLROnPlateau, dict(threshold=1.0), ValueError, "threshold"),     # min, rel
    (S.ReduceLROnPlateau, dict(threshold=math.inf), ValueError, "threshold"),
    (S.ReduceLROnPlateau, dict(threshold_mode="relative"), ValueError, "threshold_mode"),
    (S.ReduceLROnPlateau, dict(threshold_mode=0), TypeError, "threshold_mode"),
    (S.ReduceLROnPlateau, dict(cooldown=-2), ValueError, "cooldown"),
    (S.ReduceLROnPlateau, dict(cooldown=True), TypeError, "cooldown"),
    (S.ReduceLROnPlateau, dict(min_lr=-0.1), ValueError, "min_lr"),
    (S.ReduceLROnPlateau, dict(min_lr=[0.0]), TypeError, "min_lr"),
    (S.ReduceLROnPlateau, dict(eps=math.nan), ValueError, "eps"),
    (S.ReduceLROnPlateau, dict(eps=-1.0), ValueError, "eps"),
    (S.OneCycleLR, dict(max_lr=0.0), ValueError, "max_lr"),
    (S.OneCycleLR, dict(max_lr=[0.1]), TypeError, "max_lr"),
    (S.OneCycleLR, dict(max_lr=0.1, total_steps=0), ValueError, "total_steps"),
    (S.OneCycleLR, dict(max_lr=0.1, total_steps=10.0), TypeError, "total_steps"),
    (S.OneCycleLR, dict(max_lr=0.1, total_steps=True), TypeError, "total_steps"),
    (S.OneCycleLR, dict(max_lr=0.1, epochs=0, steps_per_epoch=3), ValueError, "epochs"),
    (S.OneCycleLR, dict(max_lr=0.1, epochs=2, steps_per_epoch=-1), ValueError,
     "steps_per_epoch"),
    (S.OneCycleLR, dict(max_lr=0.1, pct_start=1.5), ValueError, "pct_start"),
    (S.OneCycleLR, dict(max_lr=0.1, pct_start=-0.1), ValueError, "pct_start"),
    (S.OneCycleLR, dict(max_lr=0.1, pct_start=True), TypeError, "pct_start"),
    (S.OneCycleLR, dict(max_lr=0.1, total_steps=10, pct_start=0.1), ValueError, "pct_start"),
    (S.OneCycleLR, dict(max_lr=0.1, anneal_strategy="cosine"), ValueError, "anneal_strategy"),
    (S.OneCycleLR, dict(max_lr=0.1, anneal_strategy=None), TypeError, "anneal_strategy"),
    (S.OneCycleLR, dict(max_lr=0.1, cycle_momentum=True), ValueError, "cycle_momentum"),
    (S.OneCycleLR, dict(max_lr=0.1, cycle_momentum="no"), TypeError, "cycle_momentum"),
    (S.OneCycleLR, dict(max_lr=0.1, div_factor=0.0), ValueError, "div_factor"),
    (S.OneCycleLR, dict(max_lr=0.1, final_div_factor=math.inf), ValueError, "final_div_factor"),
    (S.OneCycleLR, dict(max_lr=0.1, three_phase="yes"), TypeError, "three_phase"),
    (S.InvScaling, dict(power_t=-0.5), ValueError, "power_t"),
    (S.InvScaling, dict(power_t="0.5"), TypeError, "power_t"),
    (S.Adaptive, dict(tol=-1e-4), ValueError, "tol"),
    (S.Adaptive, dict(tol=math.inf), ValueError, "tol"),
    (S.Adaptive, dict(n_iter_no_change=0), ValueError, "n_iter_no_change"),
    (S.Adaptive, dict(n_iter_no_change=2.0), TypeError, "n_iter_no_change"),
]


@pytest.mark.parametrize("cls,kwargs,error,argument", _BAD,
                         ids=[f"{c.__name__}-{a}-{i}" for i, (c, _, _, a) in enumerate(_BAD)])
def test_bad_argument_is_refused_by_name(cls, kwargs, error, argument):
    with pytest.raises(error, match=f"^{argument}: "):
        cls(**kwargs)


# what torch's own schedulers refuse is refused here too (each pair: torch's call, ours)
_TORCH_REFUSES = [
    ("ReduceLROnPlateau", dict(factor=1.0)),
    ("ReduceLROnPlateau", dict(mode="up")),
    ("ReduceLROnPlateau", dict(threshold_mode="both")),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=0)),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=-5)),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=2.5)),
    ("OneCycleLR", dict(max_lr=0.1, epochs=0, steps_per_epoch=4)),
    ("OneCycleLR", dict(max_lr=0.1, epochs=3, steps_per_epoch=0)),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10, pct_start=1.01)),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10, pct_start=-0.5)),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10, anneal_strategy="cosine")),
]


@pytest.mark.parametrize("name,kwargs", _TORCH_REFUSES)
def test_what_torch_refuses_is_refused(torch, name, kwargs):
    param = torch.nn.Parameter(torch.zeros(1))
    with pytest.raises(ValueError):
        getattr(torch.optim.lr_scheduler, name)(torch.optim.SGD([param], lr=0.1), **kwargs)
    with pytest.raises((ValueError, TypeError)):
        getattr(S, name)(**kwargs)
