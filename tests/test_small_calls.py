"""The small-call fast path (issue 18): predict and fit accept arrays that are already what the
compiled floor takes in one compiled check (fastprop/_fast.pxi, _arrays.pxi), and fit reuses
its compiled job between calls of the same shapes. Checked here: the fast path gives the bits
of the full path, declines everything it should (which then gets the full checks and their
messages), and the kept job neither changes results nor keeps the caller's arrays alive."""
import gc
import weakref

import numpy as np
import pytest

import fastprop as fp
from fastprop import _core


def tiny(dtype="float64", seed=0, bias=True):
    return fp.Network([fp.Dense(2, 3, "tanh", bias=bias), fp.Dense(3, 1, "sigmoid")],
                      loss="mse", dtype=dtype, seed=seed)


def classifier(dtype="float32", seed=0):
    return fp.mlp([8, 16, 5], hidden="relu", output="softmax", loss="cross_entropy",
                  dtype=dtype, seed=seed)


def reference_forward(net, X):
    """The output through the general binding (typed memoryviews, its own workspace)."""
    Xc = np.ascontiguousarray(X, dtype=net.dtype)
    ws = np.empty(net._spec.workspace_size(Xc.shape[0]), dtype=net.dtype)
    out = np.empty((Xc.shape[0], net.n_out), dtype=net.dtype)
    _core.forward(net._spec, net.params, Xc, ws, Xc.shape[0], out)
    return out


def numpy_forward(net, X):
    """A plain numpy forward pass, written here."""
    acts = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0),
            "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
            "softmax": lambda z: np.exp(z - z.max(1, keepdims=True))
            / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)}
    a = np.asarray(X, dtype=np.float64)
    for layer in net.layers:
        z = a @ layer.W.astype(np.float64)
        if layer.bias:
            z = z + layer.b.astype(np.float64)
        a = acts[layer.activation](z)
    return a


@pytest.mark.parametrize("make", [tiny, lambda: tiny("float32"), lambda: tiny(bias=False),
                                  classifier, lambda: classifier("float64")])
@pytest.mark.parametrize("rows", [1, 2, 5, 33])
def test_predict_fast_path_bits_equal_the_general_binding(make, rows):
    net = make()
    X = np.random.default_rng(rows).standard_normal((rows, net.n_in)).astype(net.dtype)
    net.predict(X)                 # the first call makes the workspace; the next are fast
    assert net._cap >= rows
    out = net.predict(X)
    assert out.dtype == net.dtype and out.shape == (rows, net.n_out) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, reference_forward(net, X))
    tol = 1e-12 if net.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out, numpy_forward(net, X), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows", [_core.FORWARD_ROWS + 1, 2 * _core.FORWARD_ROWS,
                                  3 * _core.FORWARD_ROWS + 17, 1000])
def test_predict_in_blocks(dtype, rows):
    """Many rows run in near-equal blocks of at most FORWARD_ROWS (more than half that each):
    the workspace is one block's, and each row's output has the bits of one compiled call over
    a block of at least FORWARD_ROWS / 2 rows, which are those of one call over all rows (the
    same path for every layer)."""
    net = classifier(dtype)
    X = np.random.default_rng(rows).standard_normal((rows, net.n_in)).astype(net.dtype)
    out = net.predict(X)
    k = -(-rows // _core.FORWARD_ROWS)
    assert net._cap == -(-rows // k) <= _core.FORWARD_ROWS
    np.testing.assert_array_equal(net.predict(X), out)          # the fast path, that workspace
    for size in (_core.FORWARD_ROWS // 2 + 1, _core.FORWARD_ROWS):
        # other blocks of such sizes give each row the same bits
        parts = [net.predict(X[s:s + size]) for s in range(0, rows - size + 1, size)]
        np.testing.assert_array_equal(np.concatenate(parts), out[:len(parts) * size])
    tol = 1e-12 if net.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out, numpy_forward(net, X), rtol=tol, atol=tol)


def test_tiny_networks_predict_in_one_block():
    """A network with a layer that a half block would make small (the loop that bypasses the
    GEMM, of another order): all rows in one call, as before blocking."""
    net = tiny()
    X = np.random.default_rng(8).standard_normal((3 * _core.FORWARD_ROWS, 2))
    assert net._spec.forward_rows(X.shape[0]) == X.shape[0]
    out = net.predict(X)
    assert net._cap == X.shape[0]
    np.testing.assert_allclose(out, numpy_forward(net, X), rtol=1e-12, atol=1e-12)


def test_predict_small_declines_what_is_not_ready():
    net = tiny()
    X = np.random.default_rng(0).standard_normal((4, 2))
    net.predict(X)
    args = (net._spec, net._params)
    assert _core.predict_small(*args, X, net._ws, net._cap) is not None
    declined = {
        "float32": X.astype(np.float32),
        "int": np.arange(8).reshape(4, 2),
        "Fortran": np.asfortranarray(X),
        "strided": np.repeat(X, 2, axis=1)[:, ::2],
        "big-endian": X.astype(">f8"),
        "subclass": X.view(np.matrix),
        "list": X.tolist(),
        "1-D": X[0],
        "3 columns": np.ones((4, 3)),
        "no rows": np.ones((0, 2)),
        "NaN": np.where(np.arange(8).reshape(4, 2) == 5, np.nan, X),
        "inf": np.where(np.arange(8).reshape(4, 2) == 0, -np.inf, X),
        "more rows than the workspace": np.ones((net._cap + 1, 2)),   # cap 4 < a block
    }
    for what, bad in declined.items():
        assert _core.predict_small(*args, bad, net._ws, net._cap) is None, what
    assert _core.predict_small(*args, X, None, 0) is None               # no workspace yet
    assert _core.predict_small(*args, X, net._ws.astype(np.float32), net._cap) is None
    assert _core.predict_small(net._spec, net._params.astype(np.float32), X, net._ws,
                               net._cap) is None


def test_predict_small_checks_its_buffers():
    net = tiny()
    X = np.ones((3, 2))
    net.predict(X)
    with pytest.raises(ValueError, match="workspace"):
        _core.predict_small(net._spec, net._params, X, net._ws[:1], net._cap)
    with pytest.raises(ValueError, match="params"):
        _core.predict_small(net._spec, net._params[:-1], X, net._ws, net._cap)


@pytest.mark.parametrize("what", ["float32", "Fortran", "strided", "big-endian", "subclass",
                                  "list", "int", "read-only"])
def test_predict_of_inputs_off_the_fast_path_is_unchanged(what):
    net = tiny()
    X = np.random.default_rng(1).standard_normal((5, 2))
    net.predict(X)
    variants = {"float32": X.astype(np.float32), "Fortran": np.asfortranarray(X),
                "strided": np.repeat(X, 2, axis=1)[:, ::2], "big-endian": X.astype(">f8"),
                "subclass": X.view(np.matrix), "list": X.tolist(),
                "int": np.round(X * 3).astype(np.int64)}
    if what == "read-only":
        V = X.copy()
        V.flags.writeable = False
    else:
        V = variants[what]
    expected = reference_forward(net, np.asarray(V, dtype=np.float64))
    np.testing.assert_array_equal(net.predict(V), expected)


@pytest.mark.parametrize("bad, error, message", [
    (np.array([[1.0, np.nan]]), ValueError, "X: expected finite values, got NaN"),
    (np.array([[np.inf, 1.0]]), ValueError, "X: expected finite values, got infinity"),
    (np.ones((2, 3)), ValueError, "X: expected 2 features"),
    (np.ones(2), ValueError, "reshape"),
    (np.ones((0, 2)), ValueError, "at least 1 sample"),
    (np.array([["a", "b"]]), TypeError, "X: expected a real numeric dtype"),
])
def test_predict_errors_keep_their_messages(bad, error, message):
    net = tiny()
    net.predict(np.ones((4, 2)))        # a workspace exists: the fast path is in play
    before = net.params.copy()
    with pytest.raises(error, match=message):
        net.predict(bad)
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize("f64", [True, False])
def test_rows_ready_bounds(f64):
    dt = np.float64 if f64 else np.float32
    a = np.array([[0.0, 1.0], [0.5, -0.0]], dtype=dt)
    assert _core.rows_ready(a, f64, 2)
    assert _core.rows_ready(a, f64, 2, 0.0, 1.0)          # both ends included
    assert not _core.rows_ready(a, f64, 2, 0.0, 0.9)
    assert not _core.rows_ready(a, f64, 2, 0.1, 1.0)
    assert not _core.rows_ready(a, f64, 3)
    assert not _core.rows_ready(a, not f64, 2)
    big = np.array([[np.finfo(dt).max, -np.finfo(dt).max]], dtype=dt)
    assert _core.rows_ready(big, f64, 2)                   # the largest finite values
    for bad in (np.nan, np.inf, -np.inf):
        b = a.copy()
        b[1, 1] = bad
        assert not _core.rows_ready(b, f64, 2)
    long = np.zeros((1, 1001), dtype=dt)                   # past any vector width
    assert _core.rows_ready(long, f64, 1001)
    long[0, 1000] = np.nan
    assert not _core.rows_ready(long, f64, 1001)


@pytest.mark.parametrize("loss, out, y, message", [
    ("binary_cross_entropy", "sigmoid", [[0.5], [1.5]], "binary cross-entropy targets in"),
    ("binary_cross_entropy", "sigmoid", [[-0.1], [1.0]], "binary cross-entropy targets in"),
    ("cross_entropy", "softmax", [[1.0, -0.5], [0.0, 1.0]], "non-negative"),
    ("mse", "identity", [[np.nan], [1.0]], "y: expected finite values"),
])
def test_targets_out_of_range_keep_their_messages(loss, out, y, message):
    n_out = len(y[0])
    net = fp.Network([fp.Dense(2, n_out, out)], loss=loss, seed=0)
    X = np.ones((2, 2))
    with pytest.raises(ValueError, match=message):
        net.fit(X, np.array(y), epochs=1, optimizer=fp.SGD(lr=0.1))
    with pytest.raises(ValueError, match=message):
        net.loss(X, np.array(y))


def test_targets_fast_path_gives_the_general_arrays():
    net = tiny()
    X = np.random.default_rng(2).standard_normal((6, 2))
    y1 = np.random.default_rng(3).random(6)
    # a 1-D float target for one output and its (n, 1) form: the same loss, to the bit
    assert net.loss(X, y1) == net.loss(X, y1.reshape(6, 1).copy())
    assert net.loss(X, y1) == net.loss(X, y1.tolist())


def fit_pair(make, calls, opt, **kw):
    """Two equal networks fit call by call: one reusing its kept job, one made to build a
    new job each call (the path of every first call)."""
    a, b = make(), make()
    opt_a, opt_b = opt(), opt()
    ha, hb = [], []
    for X, y in calls:
        ha.append(a.fit(X, y, optimizer=opt_a, **kw).loss)
        b._job = None
        hb.append(b.fit(X, y, optimizer=opt_b, **kw).loss)
    return a, b, ha, hb


@pytest.mark.parametrize("opt", [lambda: fp.SGD(lr=0.1, momentum=0.9),
                                 lambda: fp.Adam(lr=0.01)])
@pytest.mark.parametrize("batch", [1, 4, 64])
def test_kept_job_gives_the_bits_of_a_new_one(opt, batch):
    rng = np.random.default_rng(4)
    calls = []
    for i in range(6):            # new data every call, as a partial_fit loop gives it
        X = rng.standard_normal((16, 8)).astype(np.float32)
        calls.append((X, rng.integers(0, 5, 16)))
    a, b, ha, hb = fit_pair(classifier, calls, opt=opt, epochs=2, batch_size=batch)
    assert ha == hb
    np.testing.assert_array_equal(a.params, b.params)
    assert a._job is not None


def test_kept_job_is_reused_and_rebinds_data_and_rates():
    net = tiny()
    opt = fp.SGD(lr=0.1)
    rng = np.random.default_rng(5)
    X1, y1 = rng.standard_normal((10, 2)), rng.random((10, 1))
    net.fit(X1, y1, epochs=1, optimizer=opt)
    job = net._job[1]
    X2, y2 = rng.standard_normal((10, 2)), rng.random((10, 1))
    opt.lr = 0.05                                     # a new rate takes effect
    ref = tiny()
    ref.params[...] = net.params
    ref._stream[...] = net._stream
    h = net.fit(X2, y2, epochs=1, optimizer=opt)
    assert net._job[1] is job                         # the same compiled job
    h_ref = ref.fit(X2, y2, epochs=1, optimizer=fp.SGD(lr=0.05))
    assert h.loss == h_ref.loss
    np.testing.assert_array_equal(net.params, ref.params)
    net.fit(X2[:9], y2[:9], epochs=1, optimizer=opt)  # other shapes: a new job
    assert net._job[1] is not job
    job = net._job[1]
    net.fit(X2[:9], y2[:9], epochs=1, optimizer=opt, batch_size=3)
    assert net._job[1] is not job


def test_kept_job_with_validation_data():
    net, ref = classifier(), classifier()
    opt, opt_ref = fp.Adam(lr=0.01), fp.Adam(lr=0.01)
    rng = np.random.default_rng(6)
    for i in range(3):
        X, y = rng.standard_normal((12, 8)).astype(np.float32), rng.integers(0, 5, 12)
        Xv, yv = rng.standard_normal((4, 8)).astype(np.float32), rng.integers(0, 5, 4)
        h = net.fit(X, y, epochs=2, batch_size=5, optimizer=opt, validation_data=(Xv, yv),
                    metrics=["accuracy"])
        ref._job = None
        h_ref = ref.fit(X, y, epochs=2, batch_size=5, optimizer=opt_ref,
                        validation_data=(Xv, yv), metrics=["accuracy"])
        assert (h.loss, h.val_loss, h.accuracy, h.val_accuracy) == \
            (h_ref.loss, h_ref.val_loss, h_ref.accuracy, h_ref.val_accuracy)
    np.testing.assert_array_equal(net.params, ref.params)


def test_kept_job_does_not_keep_the_callers_arrays():
    net = tiny()
    opt = fp.SGD(lr=0.1)
    X, y = np.random.default_rng(7).standard_normal((10, 2)), np.zeros((10, 1))
    Xv, yv = X[:3].copy(), y[:3].copy()
    refs = [weakref.ref(a) for a in (X, y, Xv, yv)]
    net.fit(X, y, epochs=1, optimizer=opt, validation_data=(Xv, yv))
    assert net._job is not None
    del X, y, Xv, yv
    gc.collect()
    assert all(r() is None for r in refs)


def test_kept_job_does_not_keep_the_optimizer_alive():
    net = tiny()
    opt = fp.Adam(lr=0.01)
    net.fit(np.ones((4, 2)), np.zeros((4, 1)), epochs=1, optimizer=opt)
    assert net._job is not None
    state, owner = weakref.ref(opt._state), weakref.ref(opt)
    del opt
    gc.collect()
    assert owner() is None and state() is None


def test_kept_job_takes_a_new_optimizers_state():
    """A new optimizer of the same rule reuses the job with its own (zero) state: the bits of
    a job made for it."""
    rng = np.random.default_rng(9)
    X, y = rng.standard_normal((12, 8)).astype(np.float32), rng.integers(0, 5, 12)
    a, b = classifier(), classifier()
    for net in (a, b):
        net.fit(X, y, epochs=2, batch_size=5, optimizer=fp.Adam(lr=0.01))
    job = a._job[1]
    ha = a.fit(X, y, epochs=2, batch_size=5, optimizer=fp.Adam(lr=0.02))
    assert a._job[1] is job
    b._job = None
    hb = b.fit(X, y, epochs=2, batch_size=5, optimizer=fp.Adam(lr=0.02))
    assert ha.loss == hb.loss
    np.testing.assert_array_equal(a.params, b.params)


def test_released_job_refuses_to_run():
    net = tiny()
    net.fit(np.ones((4, 2)), np.zeros((4, 1)), epochs=1, optimizer=fp.SGD(lr=0.1))
    job = net._job[1]
    with pytest.raises(ValueError, match="released"):
        job.run(1)


def test_kept_job_not_copied_or_pickled():
    import copy
    import pickle
    net = tiny()
    net.fit(np.ones((4, 2)), np.zeros((4, 1)), epochs=1, optimizer=fp.SGD(lr=0.1))
    for other in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert other._job is None
        np.testing.assert_array_equal(other.predict(np.ones((2, 2))),
                                      net.predict(np.ones((2, 2))))


def test_refused_fit_after_a_kept_job_changes_nothing():
    net = tiny()
    opt = fp.SGD(lr=0.1)
    X, y = np.ones((4, 2)), np.zeros((4, 1))
    net.fit(X, y, epochs=1, optimizer=opt)
    before = net.params.copy()
    with pytest.raises(ValueError, match="X: expected finite"):
        net.fit(np.array([[np.nan, 1.0]] * 4), y, epochs=1, optimizer=opt)
    np.testing.assert_array_equal(net.params, before)
    net.fit(X, y, epochs=1, optimizer=opt)           # and the job still works
    assert not np.array_equal(net.params, before)
