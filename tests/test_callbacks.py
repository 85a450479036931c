"""fit's callbacks (fastprop.callbacks), driven directly through fit's protocol with synthetic
logs: EarlyStopping against a reference of Keras 3's rule written below (from
keras/src/callbacks/early_stopping.py and monitor_callback.py), and against worked examples
a reader can follow by hand; ModelCheckpoint with a real network and real files; every
argument checked, including random invalid ones (hypothesis)."""
import math
import os
import pathlib
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastprop as fp
from fastprop.callbacks import Callback, EarlyStopping, ModelCheckpoint

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_properties import budget  # noqa: E402  the suite's hypothesis profiles (ci/long)


# ---- a reference of Keras 3's EarlyStopping ------------------------------------------------
def keras_early_stopping(values, patience, min_delta=0.0, mode="min", baseline=None,
                         start_from_epoch=0):
    """Keras 3's EarlyStopping over the monitored values of successive epochs. Returns
    (epochs run, best_epoch, stopped_epoch, restored epoch or None). Improvement is Keras's
    expression: in "min", (value - (-min_delta)) < reference; in "max", (value - min_delta)
    > reference; anything beats no reference yet."""
    def improves(value, reference):
        if reference is None:
            return True
        if mode == "min":
            return (value - (-min_delta)) < reference
        return (value - min_delta) > reference

    best, wait, best_epoch, monitored = None, 0, 0, False
    for epoch, value in enumerate(values):
        if epoch < start_from_epoch:
            continue
        monitored = True
        wait += 1
        if improves(value, best):
            best, best_epoch = value, epoch
            if baseline is None or improves(value, baseline):
                wait = 0
        elif wait >= patience and epoch > 0:
            return epoch + 1, best_epoch, epoch, best_epoch
    return len(values), best_epoch, 0, (best_epoch if monitored else None)


class FakeNet:
    """What the callbacks use of a network: `params` (a property whose setter is counted, as
    Network's checks and copies) and `save` (recorded)."""

    def __init__(self, n=3):
        self._params = np.zeros(n)
        self.assignments = 0
        self.saved = []

    @property
    def params(self):
        return self._params

    @params.setter
    def params(self, values):
        self.assignments += 1
        self._params[...] = values

    def save(self, path):
        self.saved.append((path, self._params.copy()))


def drive(callbacks, logs_per_epoch, net, metrics=None):
    """fit's protocol over synthetic epochs: after epoch e the parameters are all e (so the
    parameters left at the end say which epoch's they are). Returns the epochs run."""
    metrics = list(logs_per_epoch[0]) if metrics is None else metrics
    for cb in callbacks:
        cb.set_model(net)
        cb.on_train_begin({"metrics": list(metrics)})
    logs, ran = {}, 0
    for epoch, logs in enumerate(logs_per_epoch):
        net._params[...] = epoch          # training writes in place, never through the setter
        ran += 1
        stops = [bool(cb.on_epoch_end(epoch, dict(logs))) for cb in callbacks]
        if any(stops):
            break
    for cb in callbacks:
        cb.on_train_end(dict(logs) if ran else {})
    return ran


def run_early_stopping(values, monitor="val_loss", **kwargs):
    net = FakeNet()
    es = EarlyStopping(monitor=monitor, **kwargs)
    logs = [{"loss": 1.0, monitor: v} for v in values]
    ran = drive([es], logs, net)
    restored = int(net.params[0]) if net.assignments else None
    return ran, es.best_epoch, es.stopped_epoch, restored, es, net


# ---- EarlyStopping: worked examples ---------------------------------------------------------
def test_early_stopping_stops_after_patience_epochs_without_improvement():
    # best 0.8 at epoch 1; epochs 2 and 3 do not improve: wait reaches patience=2 at epoch 3
    ran, best, stopped, restored, es, _ = run_early_stopping(
        [1.0, 0.8, 0.85, 0.9, 0.95, 0.7], patience=2)
    assert (ran, best, stopped, restored) == (4, 1, 3, 1)
    assert es.best == 0.8 and es.wait == 2


def test_early_stopping_min_delta_is_a_strict_margin():
    # 0.95 is not better than 1.0 by more than 0.1; 0.85 is (0.85 + 0.1 < 1.0)
    assert run_early_stopping([1.0, 0.95, 0.85, 0.8], patience=1, min_delta=0.1)[:4] == \
        (2, 0, 1, 0)
    assert run_early_stopping([1.0, 0.95, 0.85, 0.8], patience=2, min_delta=0.1)[:4] == \
        (4, 2, 0, 2)
    # exactly min_delta better is not an improvement (Keras: strictly more)
    assert run_early_stopping([1.0, 0.5, 0.5], patience=1, min_delta=0.5)[:4] == (2, 0, 1, 0)


def test_early_stopping_equal_value_is_no_improvement():
    assert run_early_stopping([1.0, 1.0, 1.0], patience=1)[:4] == (2, 0, 1, 0)


def test_early_stopping_baseline_resets_wait_only_when_beaten():
    # 1.0 and 0.9 improve but do not beat 0.5, so wait keeps counting (1, 2); 0.95 does not
    # improve and wait = 3 >= 2: stop at epoch 2, best epoch 1
    assert run_early_stopping([1.0, 0.9, 0.95, 0.8], patience=2, baseline=0.5)[:4] == \
        (3, 1, 2, 1)
    # beating the baseline resets wait: 0.4 < 0.5
    assert run_early_stopping([0.4, 0.45, 0.3, 0.35], patience=2, baseline=0.5)[:4] == \
        (4, 2, 0, 2)


def test_early_stopping_start_from_epoch_skips_the_warm_up():
    # epochs 0 and 1 are not monitored, so the 1 of epoch 1 never counts
    assert run_early_stopping([5, 1, 3, 4, 2], patience=1, start_from_epoch=2)[:4] == \
        (4, 2, 3, 2)
    # nothing monitored: nothing restored
    ran, best, stopped, restored, es, net = run_early_stopping([3, 2], patience=0,
                                                               start_from_epoch=5)
    assert (ran, best, stopped, restored) == (2, 0, 0, None) and es.best is None


def test_early_stopping_mode_max_and_auto_for_accuracy():
    values = [0.5, 0.6, 0.6, 0.55, 0.9]
    for kwargs in ({"mode": "max"}, {"mode": "auto"}):
        assert run_early_stopping(values, monitor="val_accuracy", patience=2,
                                  **kwargs)[:4] == (4, 1, 3, 1)
    # "min" on an accuracy takes its decrease as improvement: 0.5 stays best
    assert run_early_stopping(values, monitor="val_accuracy", patience=2, mode="min")[:4] == \
        (3, 0, 2, 0)
    # "auto" on a loss minimises
    assert run_early_stopping([2.0, 3.0, 4.0], monitor="loss", patience=1)[:4] == (2, 0, 1, 0)


def test_early_stopping_patience_zero_stops_at_the_first_non_improvement():
    assert run_early_stopping([1.0, 0.5, 0.4, 0.6, 0.1], patience=0)[:4] == (4, 2, 3, 2)


def test_early_stopping_never_stops_at_the_first_monitored_epoch():
    # with a baseline not beaten, wait is 1 >= patience 0 after epoch 0, yet the first
    # monitored epoch is an improvement (over nothing), and an improvement never stops
    ran, best, stopped, *_ = run_early_stopping([1.0, 2.0], patience=0, baseline=0.0)
    assert (ran, best, stopped) == (2, 0, 1)


def test_early_stopping_restores_at_train_end_without_stopping():
    # Keras 3: the best epoch's weights are written back whenever training ends
    ran, best, stopped, restored, es, net = run_early_stopping([3.0, 1.0, 2.0], patience=5)
    assert (ran, best, stopped, restored) == (3, 1, 0, 1)
    assert np.array_equal(net.params, np.full(3, 1.0)) and net.assignments == 1


def test_early_stopping_without_restore_leaves_the_last_parameters():
    ran, best, stopped, restored, es, net = run_early_stopping(
        [1.0, 0.8, 0.9, 0.9], patience=2, restore_best_weights=False)
    assert (ran, best, stopped) == (4, 1, 3)
    assert net.assignments == 0 and np.array_equal(net.params, np.full(3, 3.0))
    assert es.best_weights is None


def test_early_stopping_nan_first_value_is_the_best_as_in_keras():
    # Keras compares against None at the first monitored epoch: even NaN "improves"; then
    # nothing beats NaN
    assert run_early_stopping([math.nan, 1.0, 0.5], patience=1)[:4] == (2, 0, 1, 0)


def test_early_stopping_best_weights_are_copies():
    net = FakeNet()
    es = EarlyStopping(monitor="loss", patience=3)
    drive([es], [{"loss": 1.0}, {"loss": 2.0}], net)
    assert es.best_weights is not net.params and not np.shares_memory(es.best_weights,
                                                                      net.params)


def test_early_stopping_one_instance_serves_several_fits():
    net = FakeNet()
    es = EarlyStopping(monitor="loss", patience=1)
    assert drive([es], [{"loss": v} for v in [0.1, 0.5, 0.6]], net) == 2
    # a fresh start: 5.0 would not beat the previous fit's best 0.1, yet it is the new best
    assert drive([es], [{"loss": v} for v in [5.0, 4.0, 3.0]], net) == 3
    assert (es.best, es.best_epoch, es.stopped_epoch, es.wait) == (3.0, 2, 0, 0)


def test_early_stopping_refuses_a_monitor_that_fit_does_not_log():
    es = EarlyStopping()      # val_loss
    with pytest.raises(ValueError, match=r"monitor.*'val_loss'.*'loss'.*'accuracy'") as exc:
        es.on_train_begin({"metrics": ["loss", "accuracy"]})
    assert "validation_data" in str(exc.value)
    with pytest.raises(ValueError, match="monitor.*'val_acc'"):
        EarlyStopping(monitor="val_acc").on_train_begin({"metrics": ["loss", "val_accuracy"]})
    es.on_train_begin({"metrics": ["loss", "val_loss"]})


def test_callback_base_class_does_nothing():
    cb, net = Callback(), FakeNet()
    cb.set_model(net)
    assert cb.model is net
    assert cb.on_train_begin({"metrics": ["loss"]}) is None
    assert not cb.on_epoch_end(0, {"loss": 1.0})
    assert cb.on_train_end({}) is None


# ---- EarlyStopping against the reference, random sequences ----------------------------------
_values = st.lists(st.one_of(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0]),
                             st.floats(-10, 10, allow_nan=False),
                             st.just(math.nan)), min_size=1, max_size=30)


@budget(2)
@given(values=_values, patience=st.integers(0, 6),
       min_delta=st.one_of(st.just(0.0), st.sampled_from([0.25, 0.5]), st.floats(0, 3)),
       mode=st.sampled_from(["min", "max"]),
       baseline=st.one_of(st.none(), st.floats(-10, 10, allow_nan=False)),
       start_from_epoch=st.integers(0, 5), restore=st.booleans())
def test_early_stopping_follows_keras_rule(values, patience, min_delta, mode, baseline,
                                           start_from_epoch, restore):
    expected = keras_early_stopping(values, patience, min_delta, mode, baseline,
                                    start_from_epoch)
    ran, best, stopped, restored, es, net = run_early_stopping(
        values, patience=patience, min_delta=min_delta, mode=mode, baseline=baseline,
        start_from_epoch=start_from_epoch, restore_best_weights=restore)
    assert (ran, best, stopped) == expected[:3]
    if restore:
        assert restored == expected[3]
        assert net.assignments == (expected[3] is not None)
    else:
        assert net.assignments == 0


# ---- ModelCheckpoint with a real network and real files -------------------------------------
def _epochs_of_a_real_net(net, count, seed=0):
    """The parameters after each of `count` synthetic epochs (random, finite)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(net.n_params) for _ in range(count)]


def drive_real(cb, net, logs_per_epoch, params_per_epoch, metrics=None):
    cb.set_model(net)
    cb.on_train_begin({"metrics": list(metrics or logs_per_epoch[0])})
    for epoch, (logs, params) in enumerate(zip(logs_per_epoch, params_per_epoch)):
        net.params = params
        assert not cb.on_epoch_end(epoch, dict(logs))
    cb.on_train_end(dict(logs_per_epoch[-1]))


def test_model_checkpoint_saves_each_epoch_with_keras_file_names(tmp_path):
    net = fp.mlp([2, 3, 1])
    logs = [{"loss": 0.5, "val_loss": 0.25}, {"loss": 0.125, "val_loss": 0.375}]
    params = _epochs_of_a_real_net(net, 2)
    cb = ModelCheckpoint(tmp_path / "ckpt-{epoch:02d}-{val_loss:.3f}.npz")
    drive_real(cb, net, logs, params)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ckpt-01-0.250.npz", "ckpt-02-0.375.npz"]
    for name, expected in zip(names, params):
        loaded = fp.load(tmp_path / name)
        assert np.array_equal(loaded.params, expected)
        assert loaded.params.dtype == net.params.dtype


def test_model_checkpoint_save_best_only_keeps_the_best(tmp_path):
    net = fp.mlp([2, 3, 1])
    values = [1.0, 0.5, 0.7, 0.5, 0.2, 0.3]
    logs = [{"loss": 1.0, "val_loss": v} for v in values]
    params = _epochs_of_a_real_net(net, len(values), seed=1)
    # one file, overwritten by each better model: at the end, epoch 4's (0.2)
    best_path = str(tmp_path / "best.npz")
    drive_real(ModelCheckpoint(best_path, save_best_only=True), net, logs, params)
    assert np.array_equal(fp.load(best_path).params, params[4])
    # with the epoch in the name: saved at epochs 1, 2 and 5 (1-based); the second 0.5 is
    # no improvement (strictly lower, no min_delta)
    cb = ModelCheckpoint(str(tmp_path / "e{epoch}.npz"), save_best_only=True)
    drive_real(cb, net, logs, params)
    assert sorted(p.name for p in tmp_path.glob("e*.npz")) == ["e1.npz", "e2.npz", "e5.npz"]
    assert cb.best == 0.2


def test_model_checkpoint_mode_max_on_accuracy(tmp_path):
    net = fp.mlp([2, 3, 1])
    values = [0.5, 0.4, 0.75, 0.75, 0.9]
    logs = [{"loss": 1.0, "accuracy": v} for v in values]
    params = _epochs_of_a_real_net(net, len(values), seed=2)
    for mode, expected in (("auto", ["a1.npz", "a3.npz", "a5.npz"]),
                           ("max", ["a1.npz", "a3.npz", "a5.npz"]),
                           ("min", ["a1.npz", "a2.npz"])):
        for p in tmp_path.glob("a*.npz"):
            p.unlink()
        cb = ModelCheckpoint(str(tmp_path / "a{epoch}.npz"), monitor="accuracy",
                             save_best_only=True, mode=mode)
        drive_real(cb, net, logs, params)
        assert sorted(p.name for p in tmp_path.glob("a*.npz")) == expected, mode


def test_model_checkpoint_best_carries_over_fits_as_in_keras(tmp_path):
    net = fp.mlp([2, 3, 1])
    path = str(tmp_path / "best.npz")
    cb = ModelCheckpoint(path, monitor="loss", save_best_only=True)
    first, second = _epochs_of_a_real_net(net, 2, seed=3)
    drive_real(cb, net, [{"loss": 0.1}], [first])
    drive_real(cb, net, [{"loss": 0.2}], [second])      # worse than the first fit's best
    assert np.array_equal(fp.load(path).params, first)


def test_model_checkpoint_creates_a_missing_directory(tmp_path):
    net = fp.mlp([2, 3, 1])
    path = tmp_path / "runs" / "a" / "{epoch}.npz"
    drive_real(ModelCheckpoint(path, monitor="loss"), net, [{"loss": 1.0}],
               _epochs_of_a_real_net(net, 1))
    assert (tmp_path / "runs" / "a" / "1.npz").is_file()


def test_model_checkpoint_checks_monitor_and_path_fields_before_training(tmp_path):
    net = fp.mlp([2, 3, 1])
    with pytest.raises(ValueError, match=r"monitor.*'val_loss'.*'loss'"):
        ModelCheckpoint(str(tmp_path / "m.npz"), save_best_only=True).on_train_begin(
            {"metrics": ["loss"]})
    # without save_best_only the monitor is not used
    ModelCheckpoint(str(tmp_path / "m.npz")).on_train_begin({"metrics": ["loss"]})
    with pytest.raises(ValueError, match=r"path.*'val_acc'.*available"):
        ModelCheckpoint(str(tmp_path / "{val_acc:.2f}.npz")).on_train_begin(
            {"metrics": ["loss", "val_accuracy"]})
    with pytest.raises(ValueError, match="path.*cannot be formatted"):
        ModelCheckpoint(str(tmp_path / "{loss:d}.npz")).on_train_begin({"metrics": ["loss"]})
    assert list(tmp_path.iterdir()) == [] and net.n_params == 13


# ---- argument checking ------------------------------------------------------------------------
def _refused(make, argument):
    with pytest.raises((ValueError, TypeError)) as exc:
        make()
    assert argument in str(exc.value), str(exc.value)


_not_int = st.one_of(st.booleans(), st.floats(allow_nan=True), st.text(max_size=3), st.none(),
                     st.lists(st.integers(), max_size=2))
_not_real = st.one_of(st.booleans(), st.text(max_size=3), st.none(), st.complex_numbers(),
                      st.lists(st.floats(), max_size=2))
_not_bool = st.one_of(st.integers().filter(lambda v: v not in (0, 1)), st.text(max_size=3),
                      st.none(), st.floats())
_not_mode = st.one_of(st.text(max_size=5).filter(lambda s: s not in ("auto", "min", "max")),
                      st.integers(), st.none(), st.just("MIN"))
_not_monitor = st.one_of(st.just(""), st.integers(), st.none(), st.lists(st.text(), max_size=2))


@budget(1)
@given(data=st.data())
def test_early_stopping_refuses_invalid_arguments_by_name(data):
    argument, strategy = data.draw(st.sampled_from([
        ("patience", st.one_of(_not_int, st.integers(max_value=-1))),
        ("start_from_epoch", st.one_of(_not_int, st.integers(max_value=-1))),
        ("min_delta", st.one_of(_not_real, st.floats(max_value=-1e-300),
                                st.sampled_from([math.nan, math.inf, -math.inf]))),
        ("baseline", st.one_of(st.booleans(), st.text(max_size=3), st.complex_numbers(),
                               st.just(math.nan))),
        ("restore_best_weights", _not_bool),
        ("mode", _not_mode),
        ("monitor", _not_monitor),
    ]))
    bad = data.draw(strategy)
    _refused(lambda: EarlyStopping(**{argument: bad}), argument)


@budget(1)
@given(data=st.data())
def test_model_checkpoint_refuses_invalid_arguments_by_name(data):
    argument, strategy = data.draw(st.sampled_from([
        ("path", st.one_of(st.integers(), st.none(), st.floats(), st.just(""),
                           st.lists(st.text(), max_size=2),
                           st.sampled_from(["m{}.npz", "m{0}.npz", "m{epoch.npz", "m}.npz",
                                            "m{1:02d}.npz"]))),
        ("save_best_only", _not_bool),
        ("mode", _not_mode),
        ("monitor", _not_monitor),
    ]))
    bad = data.draw(strategy)
    kwargs = {"path": "model.npz", argument: bad}
    _refused(lambda: ModelCheckpoint(**kwargs), argument)


@budget(1)
@given(patience=st.integers(0, 10 ** 6), min_delta=st.floats(0, 1e6),
       mode=st.sampled_from(["auto", "min", "max"]),
       baseline=st.one_of(st.none(), st.floats(allow_nan=False)),
       start=st.integers(0, 10 ** 6), restore=st.sampled_from([True, False, 0, 1, np.True_]))
def test_early_stopping_keeps_valid_arguments(patience, min_delta, mode, baseline, start,
                                              restore):
    es = EarlyStopping("loss", patience=np.int64(patience), min_delta=min_delta,
                       restore_best_weights=restore, mode=mode, baseline=baseline,
                       start_from_epoch=start)
    assert (es.patience, es.min_delta, es.mode, es.baseline, es.start_from_epoch) == \
        (patience, min_delta, mode, baseline, start)
    assert type(es.patience) is int and es.restore_best_weights is bool(restore)
    assert (es.best, es.wait, es.best_epoch, es.stopped_epoch) == (None, 0, 0, 0)


def test_model_checkpoint_accepts_path_like_and_keeps_a_str():
    assert ModelCheckpoint(pathlib.Path("a") / "{epoch}.npz").path == os.path.join("a",
                                                                                   "{epoch}.npz")
    assert ModelCheckpoint(b"m.npz").path == "m.npz"
    assert ModelCheckpoint("lit{{eral}}.npz").path == "lit{{eral}}.npz"


# ---- through fit, end to end ------------------------------------------------------------------
def _regression_task():
    """Training targets 2 s(x), validation targets s(x): from a small start, fitting the
    first passes the second on its way, so val_loss falls, then rises: early stopping has a
    best epoch in the middle."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(64, 2))
    s = np.sin(X[:, 0]) + 0.5 * X[:, 1]
    Xv = rng.uniform(-1, 1, size=(32, 2))
    sv = np.sin(Xv[:, 0]) + 0.5 * Xv[:, 1]
    return X, 2 * s, (Xv, sv)


def _fit(epochs, callbacks=None):
    net = fp.mlp([2, 8, 1], hidden="tanh", seed=1)
    net.params = net.params * 0.1
    X, y, val = _regression_task()
    hist = net.fit(X, y, epochs=epochs, batch_size=8, optimizer=fp.SGD(lr=0.05), seed=3,
                   validation_data=val, callbacks=callbacks)
    return net, hist


def test_fit_with_early_stopping_stops_and_restores_the_best_epoch():
    es = EarlyStopping(patience=2)
    net, hist = _fit(200, [es])
    ran, best, stopped, restored = keras_early_stopping(hist.val_loss, patience=2)
    assert 3 < ran < 200, "the task is built so that val_loss turns up after a while"
    assert best > 0 and hist.epochs == ran
    assert (hist.best_epoch, hist.stopped_epoch) == (best, stopped)
    assert (es.best_epoch, es.stopped_epoch, es.best) == (best, stopped, hist.val_loss[best])
    # replay: the same fit run for best + 1 epochs ends with the parameters restored
    replay, replay_hist = _fit(best + 1)
    assert replay_hist.val_loss == hist.val_loss[:best + 1]
    assert np.array_equal(net.params, replay.params)


def test_fit_refuses_an_unlogged_monitor_before_training():
    net = fp.mlp([2, 8, 1], hidden="tanh", seed=1)
    before = net.params.copy()
    X, y, _ = _regression_task()
    with pytest.raises(ValueError, match="monitor.*'val_loss'"):
        net.fit(X, y, epochs=3, callbacks=[EarlyStopping()])      # no validation data
    assert np.array_equal(net.params, before)


def test_fit_with_model_checkpoint_saves_the_best_epoch(tmp_path):
    path = tmp_path / "best.npz"
    es = EarlyStopping(patience=2)
    net, hist = _fit(200, [ModelCheckpoint(path, save_best_only=True), es])
    assert np.array_equal(fp.load(path).params, net.params)   # both: the best epoch's
