"""Schedules inside fit: the rates torch's schedulers give, used by every optimizer as torch's
use them (checked against a torch replay with the torch scheduler stepped as a training loop
steps it), per epoch in the compiled loop, per step for OneCycleLR, and ReduceLROnPlateau fed
the loss between epochs."""
import os
import sys

import numpy as np
import pytest

import fastprop as fp
from fastprop import schedules

sys.path.insert(0, os.path.dirname(__file__))
from torch_replay import replay  # noqa: E402


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _case(seed=0, n=20):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = rng.integers(0, 3, size=n)
    net = fp.mlp([4, 7, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=seed)
    return net, X, y


OPTIMIZERS = {
    "sgd": (lambda: fp.SGD(lr=0.3, momentum=0.9, nesterov=True),
            lambda t: lambda p: t.optim.SGD(p, lr=0.3, momentum=0.9, nesterov=True)),
    "adam": (lambda: fp.Adam(lr=0.02, weight_decay=0.01),
             lambda t: lambda p: t.optim.Adam(p, lr=0.02, weight_decay=0.01)),
    "adamw": (lambda: fp.AdamW(lr=0.02, weight_decay=0.1),
              lambda t: lambda p: t.optim.AdamW(p, lr=0.02, weight_decay=0.1)),
    "rmsprop": (lambda: fp.RMSprop(lr=0.01, centered=True),
                lambda t: lambda p: t.optim.RMSprop(p, lr=0.01, centered=True)),
    "adagrad": (lambda: fp.Adagrad(lr=0.1, lr_decay=0.01),
                lambda t: lambda p: t.optim.Adagrad(p, lr=0.1, lr_decay=0.01)),
}

SCHEDULES = {
    "step": (lambda: schedules.StepLR(2, gamma=0.5),
             lambda t: lambda o: t.optim.lr_scheduler.StepLR(o, 2, gamma=0.5), False),
    "exponential": (lambda: schedules.ExponentialLR(0.7),
                    lambda t: lambda o: t.optim.lr_scheduler.ExponentialLR(o, 0.7), False),
    "cosine": (lambda: schedules.CosineAnnealingLR(3, eta_min=1e-3),
               lambda t: lambda o: t.optim.lr_scheduler.CosineAnnealingLR(o, 3, eta_min=1e-3),
               False),
    "onecycle": (lambda: schedules.OneCycleLR(0.05, total_steps=5 * 4),
                 lambda t: lambda o: t.optim.lr_scheduler.OneCycleLR(
                     o, 0.05, total_steps=5 * 4, cycle_momentum=False), True),
    "plateau": (lambda: schedules.ReduceLROnPlateau(factor=0.5, patience=0, threshold=0.2),
                lambda t: lambda o: t.optim.lr_scheduler.ReduceLROnPlateau(
                    o, factor=0.5, patience=0, threshold=0.2), False),
}


@pytest.mark.parametrize("sched", sorted(SCHEDULES))
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_schedule_trains_as_torchs_scheduler_with_every_optimizer(torch, name, sched):
    net, X, y = _case()
    ours, theirs = OPTIMIZERS[name]
    s_ours, s_theirs, per_step = SCHEDULES[sched]
    params, losses = replay(torch, net, X, y, 5, 5, theirs(torch),
                            make_scheduler=s_theirs(torch), per_step=per_step)
    hist = net.fit(X, y, epochs=5, batch_size=5, optimizer=ours(), shuffle=False,
                   schedule=s_ours())
    np.testing.assert_allclose(net.params, params, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(hist.loss, losses, rtol=1e-11)
    assert len(hist.lr) == (20 if per_step else 5) and len(set(hist.lr)) > 1


def test_a_schedule_continues_across_fit_calls():
    net, X, y = _case()
    twin, _, _ = _case()
    s1, s2 = schedules.ExponentialLR(0.5), schedules.ExponentialLR(0.5)
    h = net.fit(X, y, epochs=4, batch_size=5, schedule=s1)
    lrs = []
    for _ in range(4):
        lrs += twin.fit(X, y, epochs=1, batch_size=5, schedule=s2).lr
    assert net.params.tobytes() == twin.params.tobytes() and h.lr == lrs


def test_a_compiled_schedule_runs_its_epochs_in_one_compiled_call(monkeypatch):
    from fastprop import training
    net, X, y = _case()
    calls = []
    real_run = training._run_epochs
    monkeypatch.setattr(training, "_run_epochs",
                        lambda job, k, lr=None: calls.append(k) or real_run(job, k, lr))
    net.fit(X, y, epochs=30, batch_size=5, schedule=schedules.StepLR(3))
    assert calls == [30]
    calls.clear()
    net.fit(X, y, epochs=30, batch_size=5, schedule=schedules.ReduceLROnPlateau())
    assert calls == [1] * 30           # the loss feeds the schedule between epochs


def test_plateau_watches_val_loss_when_there_is_validation_data():
    net, X, y = _case()
    s = schedules.ReduceLROnPlateau(patience=0, factor=0.5)
    h = net.fit(X, y, epochs=6, batch_size=5, validation_data=(X[:5], (y[:5] + 1) % 3),
                schedule=s, optimizer=fp.SGD(lr=0.5))
    # the validation targets are wrong, so val_loss rises as training fits: the rate falls
    # whenever val_loss did not improve on its best
    best, lr, expected = np.inf, 0.5, []
    for v in h.val_loss:
        expected.append(lr)
        if v < best * (1 - 1e-4):
            best = v
        else:
            lr *= 0.5
    assert h.lr == expected and len(set(h.lr)) > 1


def test_onecycle_with_too_few_steps_left_is_refused_before_training():
    net, X, y = _case()
    before = net.params.copy()
    with pytest.raises(ValueError, match="schedule"):
        net.fit(X, y, epochs=3, batch_size=5, schedule=schedules.OneCycleLR(0.1, total_steps=10))
    assert net.params.tobytes() == before.tobytes()


def test_adaptive_divides_the_rate_by_5_and_stops_below_1e_6():
    # the loss never improves by tol = 10: the first epoch sets the best; once two epochs in
    # a row (more than n_iter_no_change = 1) have not improved, the rate is divided by 5, and
    # when it is already at most 1e-6 training stops (scikit-learn's rule)
    net, X, y = _case()
    s = schedules.Adaptive(tol=10.0, n_iter_no_change=1)
    h = net.fit(X, y, epochs=50, batch_size=5, schedule=s, optimizer=fp.SGD(lr=1e-4))
    assert h.lr == pytest.approx([1e-4] * 3 + [2e-5] * 2 + [4e-6] * 2 + [8e-7] * 2, rel=1e-12)
    assert h.stopped_epoch == 8 and h.epochs == 9


@pytest.mark.parametrize("bad", [3, "StepLR", object()])
def test_a_schedule_that_is_not_one_is_refused(bad):
    net, X, y = _case()
    with pytest.raises(TypeError, match="schedule"):
        net.fit(X, y, epochs=1, schedule=bad)
