"""fastprop.distributed: the pure-Python contract (imports without mpi4py, ImportError naming
the extra, argument errors), then real MPI jobs (`mpiexec -n P`, P = 1, 2, 3, uneven shares)
compared against single-process fit run here: exact for shuffle=False (float64, up to the
order of summation), the same trajectory for any P with shuffle=True, sharded memmap data,
checkpoints resumed on another number of ranks, and a failed rank ending the job."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastprop as fp
from fastprop import distributed
from fastprop.callbacks import EarlyStopping
from fastprop import schedules

SCRIPT = Path(__file__).parent / "distributed" / "run_fit.py"
TIMEOUT = 120
RTOL = 1e-12


def _mpiexec():
    """mpiexec next to this Python first (the mpich wheel installs it in the venv), else on
    PATH; None when absent or mpi4py is not installed."""
    if importlib.util.find_spec("mpi4py") is None:
        return None
    here = Path(sys.executable).parent / "mpiexec"
    if here.exists():
        return str(here)
    return shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="mpi4py or mpiexec not installed "
                                                       "(pip install fastprop[mpi])")
if os.environ.get("FASTPROP_SANITIZED"):
    needs_mpi = pytest.mark.skip(reason="the MPI library and mpiexec are not built for the "
                                        "sanitizer runtimes preloaded here")


def _env():
    env = dict(os.environ, FASTPROP_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)      # the children import the installed fastprop
    return env


def mpirun(P, cfg, tmp_path, name="out", expect_ok=True):
    """Runs run_fit.py on P ranks (cwd tmp_path: the installed fastprop is imported); returns
    rank 0's results (an NpzFile), or the CompletedProcess when expect_ok is False."""
    cfg_path = tmp_path / f"{name}.json"
    cfg_path.write_text(json.dumps(cfg))
    out = tmp_path / f"{name}-{P}.npz"
    proc = subprocess.run([MPIEXEC, "-n", str(P), sys.executable, str(SCRIPT), str(cfg_path),
                           str(out)], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=TIMEOUT)
    if not expect_ok:
        return proc
    assert proc.returncode == 0, f"mpiexec -n {P} failed:\n{proc.stdout}\n{proc.stderr}"
    res = np.load(out)
    assert bool(res["same"]), "ranks ended with different parameters, histories or streams"
    assert int(res["size"]) == P
    return res


def close(got, want, what):
    """Equal within RTOL relative to the largest magnitude of `want`."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if want.size:
        scale = max(float(np.max(np.abs(want))), 1e-300)
        err = float(np.max(np.abs(got - want))) / scale
        assert err <= RTOL, f"{what}: relative difference {err:.3g} > {RTOL}"


def classification(tmp_path, n=100, n_val=23, weights=False, seed=1):
    rng = np.random.default_rng(seed)
    d = dict(X=rng.normal(size=(n, 5)), y=rng.integers(0, 3, n),
             Xv=rng.normal(size=(n_val, 5)), yv=rng.integers(0, 3, n_val))
    if weights:
        d["w"] = rng.uniform(0.0, 2.0, n)
        d["w"][:7] = 0.0           # a share of zero weight too
    np.savez(tmp_path / "data.npz", **d)
    return d


NET = dict(sizes=[5, 8, 3], hidden="tanh", output="softmax", loss="cross_entropy", net_seed=3)


def reference_net():
    return fp.mlp(NET["sizes"], hidden=NET["hidden"], output=NET["output"], loss=NET["loss"],
                  seed=NET["net_seed"])


# ---- without MPI ---------------------------------------------------------------------------
def test_imports_and_refuses_without_mpi4py_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)       # import mpi4py now fails
    net = reference_net()
    X, y = np.zeros((4, 5)), np.zeros(4, dtype=int)
    before = net.params.copy()
    with pytest.raises(ImportError, match=r"pip install fastprop\[mpi\]"):
        distributed.fit(net, X, y, epochs=1)
    assert np.array_equal(net.params, before)


def test_module_imports_in_a_process_without_mpi4py(tmp_path):
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "import fastprop.distributed as d\n"
            "assert 'mpi4py' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
            "print(d.MPI_EXTRA)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=TIMEOUT, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert "fastprop[mpi]" in proc.stdout


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(shuffle="no"), TypeError, "shuffle"),
    (dict(sharded="yes"), TypeError, "sharded"),
    (dict(clip_norm=-1.0), ValueError, "clip_norm"),
    (dict(optimizer="sgd"), TypeError, "optimizer"),
    (dict(metrics="accuracy"), TypeError, "metrics"),
    (dict(validation_split=1.5), ValueError, "validation_split"),
    (dict(seed=-3), ValueError, "seed"),
])
def test_argument_errors_come_before_mpi_and_change_nothing(monkeypatch, kwargs, error, match):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # argument errors need no MPI
    net = reference_net()
    before = net.params.copy()
    with pytest.raises(error, match=match):
        distributed.fit(net, np.zeros((4, 5)), np.zeros(4, dtype=int), **kwargs)
    assert np.array_equal(net.params, before)


def test_shard_shape_errors_name_the_argument(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    net = reference_net()
    with pytest.raises(ValueError, match="X: expected a 2-D shard"):
        distributed.fit(net, np.zeros((4, 6)), np.zeros(4), sharded=True)
    with pytest.raises(ValueError, match="y: expected 4 rows"):
        distributed.fit(net, np.zeros((4, 5)), np.zeros(3), sharded=True)


def test_shares_split_a_batch_contiguously_unevenly():
    assert distributed._shares(10, 3).tolist() == [0, 4, 7, 10]
    assert distributed._shares(2, 3).tolist() == [0, 1, 2, 2]     # a rank may get no rows
    assert distributed._shares(0, 2).tolist() == [0, 0, 0]


# ---- MPI jobs ------------------------------------------------------------------------------
@needs_mpi
@pytest.mark.parametrize("P", [1, 2, 3])
def test_exact_to_single_process_fit_adam_validation_accuracy(tmp_path, P):
    d = classification(tmp_path)
    fit = dict(epochs=10, batch_size=16, shuffle=False, optimizer=["Adam", {"lr": 0.01}],
               metrics=["accuracy"])
    res = mpirun(P, dict(NET, data="data.npz", fit=fit), tmp_path)
    net = reference_net()
    h = net.fit(d["X"], d["y"], epochs=10, batch_size=16, shuffle=False,
                optimizer=fp.Adam(lr=0.01), validation_data=(d["Xv"], d["yv"]),
                metrics=["accuracy"])
    close(res["params"], net.params, "params")
    for key in ("loss", "val_loss", "accuracy", "val_accuracy", "lr"):
        close(res[key], getattr(h, key), key)
    assert not np.array_equal(net.params, reference_net().params)   # it did train


@needs_mpi
@pytest.mark.parametrize("P", [2, 3])
def test_exact_with_weights_clipping_momentum_and_per_step_schedule(tmp_path, P):
    # batch 2 over 3 ranks: shares of 1, 1 and 0 rows; weights with zeros; OneCycleLR per step
    d = classification(tmp_path, n=21, weights=True)
    fit = dict(epochs=10, batch_size=2, shuffle=False, clip_norm=0.5, clip_value=0.1,
               optimizer=["SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}],
               schedule=["OneCycleLR", {"max_lr": 0.2}], metrics=["accuracy"])
    res = mpirun(P, dict(NET, data="data.npz", fit=fit), tmp_path)
    net = reference_net()
    h = net.fit(d["X"], d["y"], epochs=10, batch_size=2, shuffle=False, clip_norm=0.5,
                clip_value=0.1, optimizer=fp.SGD(lr=0.1, momentum=0.9, nesterov=True),
                schedule=schedules.OneCycleLR(max_lr=0.2), sample_weight=d["w"],
                validation_data=(d["Xv"], d["yv"]), metrics=["accuracy"])
    close(res["params"], net.params, "params")
    for key in ("loss", "val_loss", "accuracy", "val_accuracy", "lr"):
        close(res[key], getattr(h, key), key)


@needs_mpi
def test_early_stopping_and_plateau_stop_every_rank_at_the_single_process_epoch(tmp_path):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 5))
    y = rng.integers(0, 3, 60)
    np.savez(tmp_path / "data.npz", X=X, y=y)
    fit = dict(epochs=60, batch_size=8, shuffle=False, validation_split=0.25,
               optimizer=["SGD", {"lr": 0.5}],
               schedule=["ReduceLROnPlateau", {"patience": 1, "factor": 0.5}],
               callbacks=[["EarlyStopping", {"patience": 3, "restore_best_weights": True}]])
    res = mpirun(3, dict(NET, data="data.npz", fit=fit), tmp_path)
    net = reference_net()
    h = net.fit(X, y, epochs=60, batch_size=8, shuffle=False, validation_split=0.25,
                optimizer=fp.SGD(lr=0.5),
                schedule=schedules.ReduceLROnPlateau(patience=1, factor=0.5),
                callbacks=[EarlyStopping(patience=3, restore_best_weights=True)])
    assert h.stopped_epoch is not None and h.stopped_epoch < 59   # it did stop early
    assert int(res["stopped"]) == h.stopped_epoch
    assert int(res["best"]) == h.best_epoch
    close(res["val_loss"], h.val_loss, "val_loss")
    close(res["lr"], h.lr, "lr")
    close(res["params"], net.params, "params")


@needs_mpi
def test_shuffled_trajectory_is_the_same_for_one_two_and_three_ranks(tmp_path):
    classification(tmp_path)
    fit = dict(epochs=6, batch_size=12, shuffle=True, seed=7, optimizer=["Adam", {"lr": 0.01}])
    runs = [mpirun(P, dict(NET, data="data.npz", fit=fit), tmp_path) for P in (1, 2, 3)]
    for res in runs[1:]:
        close(res["params"], runs[0]["params"], "params")
        close(res["loss"], runs[0]["loss"], "loss")
    # and the shuffle did something: a different trajectory from shuffle=False
    fit["shuffle"] = False
    plain = mpirun(1, dict(NET, data="data.npz", fit=fit), tmp_path, name="plain")
    assert not np.allclose(plain["params"], runs[0]["params"])


def _write_shards(tmp_path, d, bounds):
    for key in ("X", "y", "Xv", "yv"):
        np.save(tmp_path / f"{key}.npy", d[key])


@needs_mpi
@pytest.mark.parametrize("P, bounds", [(2, [(0, 50), (50, 120)]),
                                       (3, [(0, 30), (30, 75), (75, 120)])])
def test_sharded_memmap_equals_single_process_on_the_interleaved_order(tmp_path, P, bounds):
    d = classification(tmp_path, n=120, n_val=30)
    _write_shards(tmp_path, d, bounds)
    val_bounds = [tuple(int(v) for v in b) for b in
                  zip(distributed._shares(30, P)[:-1], distributed._shares(30, P)[1:])]
    fit = dict(epochs=5, batch_size=24, shuffle=False, optimizer=["SGD", {"lr": 0.1}],
               metrics=["accuracy"])
    cfg = dict(NET, sharded=True, shards=bounds, val_shards=val_bounds, X="X.npy", y="y.npy",
               Xv="Xv.npy", yv="yv.npy", fit=fit)
    res = mpirun(P, cfg, tmp_path)
    # steps = 120 / 24 = 5; every shard is cut into 5 chunks; step s = chunk s of each shard
    order = np.concatenate([np.arange(lo, hi).reshape(5, -1) for lo, hi in bounds], axis=1)
    order = order.reshape(-1)
    net = reference_net()
    h = net.fit(d["X"][order], d["y"][order], epochs=5, batch_size=24, shuffle=False,
                optimizer=fp.SGD(lr=0.1), validation_data=(d["Xv"], d["yv"]),
                metrics=["accuracy"])
    close(res["params"], net.params, "params")
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        close(res[key], getattr(h, key), key)


@needs_mpi
def test_sharded_shuffle_keeps_every_rank_in_step(tmp_path):
    d = classification(tmp_path, n=90)
    _write_shards(tmp_path, d, None)
    fit = dict(epochs=3, batch_size=10, shuffle=True, seed=3, optimizer=["SGD", {"lr": 0.1}])
    cfg = dict(NET, sharded=True, shards=[(0, 40), (40, 90)], X="X.npy", y="y.npy", fit=fit)
    res = mpirun(2, cfg, tmp_path)            # asserts that the ranks agree
    assert np.all(np.isfinite(res["loss"])) and len(res["loss"]) == 3


@needs_mpi
def test_checkpoint_from_two_ranks_resumes_on_three(tmp_path):
    d = classification(tmp_path)
    fit = dict(epochs=3, batch_size=16, shuffle=False, optimizer=["SGD", {"lr": 0.2}],
               callbacks=[["ModelCheckpoint", {"path": str(tmp_path / "ck-{epoch}.npz"),
                                               "monitor": "loss"}]])
    mpirun(2, dict(NET, data="data.npz", fit=fit, save_to=str(tmp_path / "mid.npz")), tmp_path,
           name="first")
    assert sorted(p.name for p in tmp_path.glob("ck-*.npz")) == ["ck-1.npz", "ck-2.npz",
                                                                 "ck-3.npz"]
    fit.pop("callbacks")
    res = mpirun(3, dict(NET, data="data.npz", fit=fit, resume_from=str(tmp_path / "mid.npz")),
                 tmp_path, name="second")
    net = reference_net()
    for _ in range(2):
        net.fit(d["X"], d["y"], epochs=3, batch_size=16, shuffle=False,
                optimizer=fp.SGD(lr=0.2), validation_data=(d["Xv"], d["yv"]))
    close(res["params"], net.params, "params")
    mid = fp.load(tmp_path / "mid.npz")
    assert not np.array_equal(mid.params, net.params)


@needs_mpi
@pytest.mark.parametrize("where", ["step", "epoch"])
def test_a_failed_rank_ends_the_job_with_its_error_not_a_hang(tmp_path, where):
    classification(tmp_path)
    fit = dict(epochs=50, batch_size=16, shuffle=False, optimizer=["SGD", {"lr": 0.1}])
    cfg = dict(NET, data="data.npz", fit=fit,
               fault=dict(where=where, rank=1, epoch=1))
    proc = mpirun(2, cfg, tmp_path, expect_ok=False)        # the timeout catches a hang
    assert proc.returncode != 0
    assert "injected failure on rank 1" in proc.stderr
    if where == "step":     # raised on every rank: rank 0 names rank 1's failure
        assert "RankFailedError: rank 1 of 2 failed in epoch 2" in proc.stderr
    else:
        assert "aborting the job" in proc.stderr


@needs_mpi
def test_the_readme_command_trains_on_two_ranks(tmp_path):
    proc = subprocess.run([MPIEXEC, "-n", "2", sys.executable, "-m", "fastprop.distributed",
                           "--epochs", "3"], cwd=tmp_path, env=_env(), capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("epoch") == 3 and "2 ranks" in proc.stdout
