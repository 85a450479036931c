"""Training: float32 and float64 agree to float32 precision; XOR and two spirals are learnt;
and the semantics of `fit` (one loss per epoch, the last partial batch used, the caller's
arrays untouched, seeds reproducible, optimizer state kept across calls, validation loss per
epoch, the same result on one thread and two and however the epochs are split into
compiled calls)."""
import numpy as np
import pytest

import fastprop as fp
from fastprop import training


def twin_networks(sizes, hidden, output, loss, seed=0):
    n64 = fp.mlp(sizes, hidden=hidden, output=output, loss=loss, dtype="float64", seed=seed)
    n32 = fp.mlp(sizes, hidden=hidden, output=output, loss=loss, dtype="float32", seed=seed)
    n64.params[...] = n32.params            # identical (float32-representable) weights
    return n32, n64


@pytest.mark.parametrize("hidden,output,loss,kind", [
    ("tanh", "identity", "mse", "real"), ("relu", "sigmoid", "binary_cross_entropy", "binary"),
    ("sigmoid", "softmax", "cross_entropy", "labels")])
def test_float32_and_float64_agree_to_float32_precision(ref, hidden, output, loss, kind):
    n_out = 1 if output == "sigmoid" else 3
    n32, n64 = twin_networks([4, 16, 8, n_out], hidden, output, loss)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 4)).astype(np.float32)
    y = ref.make_targets(kind, 32, n_out, rng)
    p32, p64 = n32.predict(X), n64.predict(X)
    assert p32.dtype == np.float32 and p64.dtype == np.float64
    np.testing.assert_allclose(p32, p64, rtol=1e-5, atol=1e-6)
    assert n32.loss(X, y) == pytest.approx(n64.loss(X, y), rel=1e-5)
    l32, g32 = n32.backprop(X, y)
    l64, g64 = n64.backprop(X, y)
    assert l32 == pytest.approx(l64, rel=1e-5)
    assert ref.rel_error(g64, g32) < 1e-4
    # and a few epochs of training stay close
    h32 = n32.fit(X, y, epochs=3, batch_size=8, optimizer=fp.SGD(lr=0.05), seed=0)
    h64 = n64.fit(X, y, epochs=3, batch_size=8, optimizer=fp.SGD(lr=0.05), seed=0)
    np.testing.assert_allclose(h32.loss, h64.loss, rtol=1e-4)
    np.testing.assert_allclose(n32.params, n64.params, rtol=1e-3, atol=1e-5)


XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0], dtype=float)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_xor_is_learnt_to_low_loss(dtype):
    net = fp.mlp([2, 8, 1], hidden="tanh", output="sigmoid", loss="binary_cross_entropy",
                 dtype=dtype, seed=0)
    hist = net.fit(XOR_X, XOR_Y, epochs=500, batch_size=4, optimizer=fp.Adam(lr=0.05), seed=0)
    assert hist.loss[-1] < 0.02
    assert hist.loss[-1] < hist.loss[0] / 20
    np.testing.assert_array_equal(net.predict(XOR_X)[:, 0] > 0.5, XOR_Y > 0.5)


def test_xor_per_sample_sgd_of_the_classic_tutorial_lowers_the_mse():
    net = fp.Network([fp.Dense(2, 4, "sigmoid"), fp.Dense(4, 1, "sigmoid")], loss="mse", seed=1)
    hist = net.fit(XOR_X, XOR_Y, epochs=2000, batch_size=1, optimizer=fp.SGD(lr=2.0), seed=0)
    assert hist.loss[-1] < 0.02
    np.testing.assert_array_equal(net.predict(XOR_X)[:, 0] > 0.5, XOR_Y > 0.5)


def two_spirals(n_per_class, noise, rng):
    t = np.sqrt(rng.uniform(0.05, 1, size=n_per_class)) * 3 * np.pi
    arms = []
    for sign in (1, -1):
        x = sign * np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / np.pi   # radius 3
        arms.append(x + noise * rng.normal(size=x.shape))
    X = np.concatenate(arms)
    y = np.repeat([0, 1], n_per_class)
    return X, y


def test_two_spirals_are_learnt_to_high_accuracy():
    rng = np.random.default_rng(0)
    X, y = two_spirals(300, 0.06, rng)
    Xt, yt = two_spirals(200, 0.06, rng)
    net = fp.mlp([2, 48, 48, 2], hidden="relu", output="softmax", loss="cross_entropy", seed=0)
    hist = net.fit(X, y, epochs=300, batch_size=32, optimizer=fp.Adam(lr=0.01), seed=0)
    train_acc = np.mean(net.predict(X).argmax(axis=1) == y)
    test_acc = np.mean(net.predict(Xt).argmax(axis=1) == yt)
    assert hist.loss[-1] < 0.1
    assert train_acc > 0.97
    assert test_acc > 0.93


# ---- fit semantics ----------------------------------------------------------------------
@pytest.fixture
def problem():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(10, 3))
    y = rng.normal(size=(10, 2))
    return X, y


def fresh(dtype="float64", seed=0):
    return fp.mlp([3, 5, 2], hidden="tanh", output="identity", loss="mse", dtype=dtype,
                  seed=seed)


@pytest.mark.parametrize("epochs", [0, 1, 7])
def test_history_has_one_finite_loss_per_epoch(problem, epochs):
    X, y = problem
    hist = fresh().fit(X, y, epochs=epochs, batch_size=3)
    assert len(hist.loss) == epochs == hist.epochs
    assert all(isinstance(v, float) and np.isfinite(v) for v in hist.loss)
    assert hist.val_loss == []


def test_epochs_zero_changes_nothing(problem):
    X, y = problem
    net = fresh()
    before = net.params.copy()
    net.fit(X, y, epochs=0)
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_last_partial_batch_is_used_like_a_manual_loop(problem, name):
    # n = 10, batch 4: batches [0:4], [4:8], [8:10]; loss[e] is the sample-weighted mean.
    X, y = problem
    make = {"sgd": lambda: fp.SGD(lr=0.1),
            "momentum": lambda: fp.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
            "adam": lambda: fp.Adam(lr=0.01, weight_decay=0.01)}[name]
    net, manual = fresh(), fresh()
    opt = make()
    expected = []
    for epoch in range(3):
        total = 0.0
        for start in range(0, 10, 4):
            loss, grad = manual.backprop(X[start:start + 4], y[start:start + 4])
            opt.step(manual, grad)
            total += loss * len(X[start:start + 4])
        expected.append(total / 10)
    hist = net.fit(X, y, epochs=3, batch_size=4, optimizer=make(), shuffle=False)
    np.testing.assert_allclose(net.params, manual.params, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(hist.loss, expected, rtol=1e-14)
    assert opt.steps == 9


def test_dropping_the_last_partial_batch_would_give_different_params(problem):
    # Guards the previous test against being unable to fail: without the last batch of two
    # samples the parameters differ.
    X, y = problem
    net, manual = fresh(), fresh()
    opt = fp.SGD(lr=0.1)
    for start in (0, 4):
        _, grad = manual.backprop(X[start:start + 4], y[start:start + 4])
        opt.step(manual, grad)
    net.fit(X, y, epochs=1, batch_size=4, optimizer=fp.SGD(lr=0.1), shuffle=False)
    assert not np.allclose(net.params, manual.params)


def test_batch_size_larger_than_n_means_full_batch(problem):
    X, y = problem
    a, b = fresh(), fresh()
    ha = a.fit(X, y, epochs=3, batch_size=1000, shuffle=False)
    hb = b.fit(X, y, epochs=3, batch_size=10, shuffle=False)
    np.testing.assert_array_equal(a.params, b.params)
    assert ha.loss == hb.loss


def test_first_epoch_loss_of_full_batch_is_the_loss_before_training(problem):
    X, y = problem
    net = fresh()
    start = net.loss(X, y)
    hist = net.fit(X, y, epochs=2, batch_size=10, shuffle=False)
    assert hist.loss[0] == pytest.approx(start, rel=1e-14)


@pytest.mark.parametrize("shuffle", [True, False])
def test_fit_never_modifies_the_callers_arrays(shuffle):
    rng = np.random.default_rng(3)
    for dtype in (np.float64, np.float32):     # the net's dtype: no copy is needed for float64
        X = rng.normal(size=(12, 3)).astype(dtype)
        y = rng.integers(0, 3, size=12)
        Xc, yc = X.copy(), y.copy()
        net = fp.mlp([3, 4, 3], hidden="relu", output="softmax", loss="cross_entropy")
        net.fit(X, y, epochs=3, batch_size=5, shuffle=shuffle, seed=1,
                validation_data=(X, y))
        np.testing.assert_array_equal(X, Xc)
        np.testing.assert_array_equal(y, yc)
        assert X.dtype == dtype


def test_same_seed_gives_bit_identical_params(problem):
    X, y = problem
    fp.set_num_threads(1)
    a, b = fresh(), fresh()
    ha = a.fit(X, y, epochs=5, batch_size=3, optimizer=fp.Adam(lr=0.01), seed=42)
    hb = b.fit(X, y, epochs=5, batch_size=3, optimizer=fp.Adam(lr=0.01), seed=42)
    assert a.params.tobytes() == b.params.tobytes()
    assert ha.loss == hb.loss
    gen_a = fresh().fit(X, y, epochs=2, batch_size=3, seed=np.random.default_rng(5))
    gen_b = fresh().fit(X, y, epochs=2, batch_size=3, seed=np.random.default_rng(5))
    assert gen_a.loss == gen_b.loss


def test_different_seeds_give_different_params(problem):
    X, y = problem
    a, b = fresh(), fresh()
    a.fit(X, y, epochs=3, batch_size=3, seed=1)
    b.fit(X, y, epochs=3, batch_size=3, seed=2)
    assert not np.array_equal(a.params, b.params)


def test_shuffle_changes_the_batches(problem):
    X, y = problem
    a, b = fresh(), fresh()
    a.fit(X, y, epochs=2, batch_size=3, shuffle=True, seed=0)
    b.fit(X, y, epochs=2, batch_size=3, shuffle=False, seed=0)
    assert not np.array_equal(a.params, b.params)


def test_network_seed_controls_initial_weights():
    assert np.array_equal(fresh(seed=3).params, fresh(seed=3).params)
    assert not np.array_equal(fresh(seed=3).params, fresh(seed=4).params)


@pytest.mark.parametrize("make", [lambda: fp.SGD(lr=0.05, momentum=0.9),
                                  lambda: fp.Adam(lr=0.01)], ids=["momentum", "adam"])
def test_optimizer_state_persists_across_fit_calls(problem, make):
    X, y = problem
    a, b = fresh(), fresh()
    opt_a = make()
    h1 = a.fit(X, y, epochs=5, batch_size=4, optimizer=opt_a, shuffle=False)
    h2 = a.fit(X, y, epochs=5, batch_size=4, optimizer=opt_a, shuffle=False)
    opt_b = make()
    h = b.fit(X, y, epochs=10, batch_size=4, optimizer=opt_b, shuffle=False)
    np.testing.assert_array_equal(a.params, b.params)
    assert h1.loss + h2.loss == h.loss
    assert opt_a.steps == opt_b.steps == 30
    # a fresh optimizer for the second half would differ (the test can fail)
    c = fresh()
    c.fit(X, y, epochs=5, batch_size=4, optimizer=make(), shuffle=False)
    c.fit(X, y, epochs=5, batch_size=4, optimizer=make(), shuffle=False)
    assert not np.allclose(c.params, b.params)


def test_validation_loss_per_epoch_equals_net_loss_on_it(problem):
    X, y = problem
    rng = np.random.default_rng(9)
    Xv, yv = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    net, copy = fresh(), fresh()
    hist = net.fit(X, y, epochs=4, batch_size=3, validation_data=(Xv, yv), seed=0)
    assert len(hist.val_loss) == 4
    assert hist.val_loss[-1] == pytest.approx(net.loss(Xv, yv), rel=1e-13)
    # epoch by epoch: one epoch at a time with the same optimizer gives the same sequence
    opt = fp.SGD()
    expected = []
    for e in range(4):
        copy.fit(X, y, epochs=1, batch_size=3, optimizer=opt, shuffle=False)
        expected.append(copy.loss(Xv, yv))
    hist2 = fresh().fit(X, y, epochs=4, batch_size=3, optimizer=fp.SGD(), shuffle=False,
                        validation_data=(Xv, yv))
    np.testing.assert_allclose(hist2.val_loss, expected, rtol=1e-13)


def test_validation_set_larger_than_the_batch_is_evaluated_in_full():
    rng = np.random.default_rng(10)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    Xv, yv = rng.normal(size=(50, 3)), rng.normal(size=(50, 2))
    net = fresh()
    hist = net.fit(X, y, epochs=2, batch_size=2, validation_data=(Xv, yv), seed=0)
    assert hist.val_loss[-1] == pytest.approx(net.loss(Xv, yv), rel=1e-13)


def test_cross_entropy_validation_takes_int_labels():
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 3, size=20)
    net = fp.mlp([3, 6, 3], hidden="relu", output="softmax", loss="cross_entropy")
    hist = net.fit(X, y, epochs=3, batch_size=5, validation_data=(X[:8], y[:8]))
    assert hist.val_loss[-1] == pytest.approx(net.loss(X[:8], y[:8]), rel=1e-13)


def test_progress_prints_one_line_per_epoch(problem, capsys):
    X, y = problem
    fresh().fit(X, y, epochs=3, batch_size=5, progress=True)
    out = capsys.readouterr().out
    assert "epoch 3/3" in out and "loss" in out
    fresh().fit(X, y, epochs=3, batch_size=5, progress=False)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_thread_and_two_threads_give_equal_results(dtype):
    rng = np.random.default_rng(12)
    X = rng.normal(size=(256, 64))
    y = rng.integers(0, 10, size=256)
    results = []
    for threads in (1, 2):
        fp.set_num_threads(threads)
        assert fp.get_num_threads() == threads
        net = fp.mlp([64, 128, 96, 10], hidden="relu", output="softmax", loss="cross_entropy",
                     dtype=dtype, seed=0)
        loss, grad = net.backprop(X, y)
        pred = net.predict(X)
        hist = net.fit(X, y, epochs=2, batch_size=64, optimizer=fp.SGD(lr=0.05, momentum=0.9),
                       seed=0)
        results.append((loss, grad, pred, hist.loss, net.params.copy()))
    (l1, g1, p1, h1, w1), (l2, g2, p2, h2, w2) = results
    rtol = 1e-12 if dtype == "float64" else 1e-5
    assert l1 == pytest.approx(l2, rel=rtol)
    np.testing.assert_allclose(g1, g2, rtol=rtol, atol=rtol * np.abs(g1).max())
    np.testing.assert_allclose(p1, p2, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(h1, h2, rtol=rtol * 100)
    np.testing.assert_allclose(w1, w2, rtol=rtol * 100, atol=rtol * 100)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden", ["sigmoid", "relu", "tanh"])
@pytest.mark.parametrize("make", [lambda: fp.SGD(lr=0.05, momentum=0.9, nesterov=True),
                                  lambda: fp.Adam(lr=0.01, weight_decay=0.01)],
                         ids=["nesterov", "adam"])
def test_fit_gives_the_same_bits_as_a_manual_loop_on_a_network_that_is_not_tiny(dtype, hidden,
                                                                               make):
    # Here fit runs its AVX2 copy of the training loop where the CPU has AVX2 (every layer of
    # this network is above the small-layer size at batch 16); backprop and step are the
    # baseline code. Both keep every operation in order, so the bits must agree.
    rng = np.random.default_rng(11)
    X = rng.normal(size=(48, 20))
    y = rng.integers(0, 10, size=48)
    net, manual = (fp.mlp([20, 48, 10], hidden=hidden, output="softmax", loss="cross_entropy",
                          dtype=dtype, seed=4) for _ in range(2))
    opt = make()
    for _ in range(2):
        for start in range(0, 48, 16):
            _, grad = manual.backprop(X[start:start + 16], y[start:start + 16])
            opt.step(manual, grad)
    net.fit(X, y, epochs=2, batch_size=16, optimizer=make(), shuffle=False)
    np.testing.assert_array_equal(net.params, manual.params)


@pytest.mark.parametrize("batch_size", [1, 4])
def test_a_fit_split_into_many_compiled_calls_gives_the_same_bits(monkeypatch, batch_size):
    # Long fits run as calls of about CALL_SECONDS (so that Ctrl-C can stop them): the
    # result must not depend on where the calls split the epochs.
    from fastprop import training
    rng = np.random.default_rng(21)
    X, y = rng.normal(size=(12, 3)), rng.integers(0, 3, size=12)

    def run():
        net = fp.mlp([3, 5, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=2)
        hist = net.fit(X, y, epochs=40, batch_size=batch_size, optimizer=fp.Adam(lr=0.01),
                       shuffle=True, seed=5, validation_data=(X[:4], y[:4]))
        return net.params.copy(), hist

    whole, hist_whole = run()
    calls = []
    real_run = training._run_epochs
    monkeypatch.setattr(training, "FIRST_CALL_WORK", 1)
    monkeypatch.setattr(training, "CALL_SECONDS", 1e-9)
    monkeypatch.setattr(training, "_run_epochs",
                        lambda job, k, lr=None: calls.append(k) or real_run(job, k, lr))
    split, hist_split = run()
    assert len(calls) == 40 and set(calls) == {1}       # one epoch a call
    assert split.tobytes() == whole.tobytes()
    assert hist_split.loss == hist_whole.loss and hist_split.val_loss == hist_whole.val_loss


def test_epochs_run_in_bounded_chunks_give_the_same_training(data40, monkeypatch):
    X, y = data40
    a, b = fp.mlp([4, 3, 2], seed=0), fp.mlp([4, 3, 2], seed=0)
    ha = a.fit(X, y, epochs=7, batch_size=8, optimizer=fp.Adam(lr=0.01), seed=5)
    monkeypatch.setattr(training, "MAX_EPOCHS_A_CALL", 3)
    hb = b.fit(X, y, epochs=7, batch_size=8, optimizer=fp.Adam(lr=0.01), seed=5)
    assert hb.loss == ha.loss
    np.testing.assert_array_equal(a.params, b.params)


def test_ctrl_c_stops_a_long_fit_between_two_compiled_calls(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    script = tmp_path / "long_fit.py"
    # The child restores Python's SIGINT handler: a parent that runs it as a background job
    # (a non-interactive shell's `cmd &`, nohup) hands down SIGINT ignored, and Python then
    # leaves it ignored, so that Ctrl-C could not be tested there.
    script.write_text(
        "import signal\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "import numpy as np, fastprop as fp\n"
        "fp.set_num_threads(1)\n"
        "rng = np.random.default_rng(0)\n"
        "X, y = rng.normal(size=(64, 128)), rng.integers(0, 10, size=64)\n"
        "net = fp.mlp([128, 256, 256, 10], hidden='relu', output='softmax',\n"
        "             loss='cross_entropy')\n"
        "print('ready', flush=True)\n"
        "try:\n"
        "    net.fit(X, y, epochs=100000, batch_size=1, optimizer=fp.SGD(lr=1e-3))\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', np.isfinite(net.params).all(), flush=True)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        out, _ = proc.communicate(timeout=60)
        waited = time.monotonic() - sent
    finally:
        proc.kill()
    assert out.strip() == "interrupted True"
    # calls of about 0.25 s (the first one shorter): a generous bound for a busy machine; the
    # first version, whose first call ran 65,536 samples (8 s here), waited 8.2 s
    assert waited < 5, waited


def test_the_first_compiled_call_counts_validation_rows_in_its_size(monkeypatch):
    # one training sample and 4000 validation rows: the validation pass is most of an epoch
    from fastprop import training
    rng = np.random.default_rng(22)
    X, y = rng.normal(size=(1, 2)), rng.uniform(size=1)
    Xv, yv = rng.normal(size=(4000, 2)), rng.uniform(size=4000)
    net = fp.mlp([2, 3, 1], output="sigmoid", seed=0)
    calls = []
    real_run = training._run_epochs
    monkeypatch.setattr(training, "_run_epochs",
                        lambda job, k, lr=None: calls.append(k) or real_run(job, k, lr))
    net.fit(X, y, epochs=20000, validation_data=(Xv, yv))
    assert calls[0] == training.FIRST_CALL_WORK // (4001 * (net.n_params + 64))
    assert sum(calls) == 20000
