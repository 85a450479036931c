"""The data, X and y (and fit's validation_data), as every entry point takes them (predict,
loss, backprop, fit, numerical_gradient, gradcheck). Bad data, as DESIGN.md's "Bad input"
section promises: wrong shapes, empty or missing y, non-numeric or masked arrays, NaN, inf
or values beyond float32's range, class labels out of range, is a ValueError or TypeError
whose message names the argument and says what was expected and what came (both numbers for
a shape), raised before anything changes (net.params stay as they were). Unusual but valid
arrays (non-contiguous, Fortran-ordered, read-only, integer, the other float dtype) give the
results of a clean float copy. Bad arguments other than data: test_construction_errors,
test_fit_arguments, test_optimizer_validation, test_params, test_gradients_errors."""
import numpy as np
import pytest

import fastprop as fp


@pytest.fixture
def clf():
    return fp.mlp([3, 4, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)


def every_entry_point(net, X, y):
    """Calls of every public function that takes X and y (or X alone)."""
    return [lambda: net.predict(X), lambda: net.loss(X, y), lambda: net.backprop(X, y),
            lambda: net.fit(X, y, epochs=1), lambda: fp.numerical_gradient(net, X, y),
            lambda: fp.gradcheck(net, X, y)]


def assert_refused_everywhere(net, X, y, exc, match, skip_predict=False):
    before = net.params.copy()
    calls = every_entry_point(net, X, y)[1 if skip_predict else 0:]
    for call in calls:
        with pytest.raises(exc, match=match):
            call()
        assert net.params.tobytes() == before.tobytes()


# ---- shapes ---------------------------------------------------------------------------
def test_wrong_number_of_features_names_X_and_both_numbers(net, data):
    X, y = data
    assert_refused_everywhere(net, np.ones((5, 4)), y, ValueError, r"X: .*3.*got 4")


def test_wrong_number_of_samples_in_y_names_y_and_both_numbers(net, data):
    X, _ = data
    assert_refused_everywhere(net, X, np.ones((4, 2)), ValueError, r"y: .*5.*got 4",
                              skip_predict=True)


def test_wrong_number_of_outputs_in_y_names_y_and_both_shapes(net, data):
    X, _ = data
    assert_refused_everywhere(net, X, np.ones((5, 3)), ValueError,
                              r"y: .*\(5, 2\).*\(5, 3\)", skip_predict=True)


def test_one_dimensional_y_for_several_outputs_is_refused(net, data):
    X, _ = data
    assert_refused_everywhere(net, X, np.ones(5), ValueError, r"y: .*\(5, 2\).*\(5,\)",
                              skip_predict=True)


def test_one_dimensional_X_is_refused_with_a_reshape_hint(net, data):
    _, y = data
    assert_refused_everywhere(net, np.ones(3), y, ValueError, r"X: .*2-D.*1-D.*reshape")


def test_three_dimensional_X_and_y_are_refused(net, data):
    X, y = data
    assert_refused_everywhere(net, np.ones((5, 3, 1)), y, ValueError, r"X: .*2-D.*3-D")
    assert_refused_everywhere(net, X, np.ones((5, 2, 1)), ValueError, r"y: .*3-D",
                              skip_predict=True)


def test_empty_X_is_refused(net, data):
    assert_refused_everywhere(net, np.zeros((0, 3)), np.zeros((0, 2)), ValueError,
                              r"X: .*at least 1 sample")


def test_empty_y_is_refused(net, data):
    X, _ = data
    assert_refused_everywhere(net, X, np.zeros((0, 2)), ValueError, r"y: .*5.*got 0",
                              skip_predict=True)


def test_scalar_X_and_y_are_refused(net, data):
    X, y = data
    with pytest.raises(ValueError, match="X"):
        net.predict(3.0)
    with pytest.raises(ValueError, match="y"):
        net.loss(X, 3.0)


@pytest.mark.parametrize("call", ["loss", "backprop", "fit"])
def test_y_none_is_refused_naming_y(call, data40):
    X, _ = data40
    net = fp.mlp([4, 3, 2])
    with pytest.raises(TypeError, match=r"^y: expected targets for the 40 samples of X, got None"):
        getattr(net, call)(X, None)
    with pytest.raises(TypeError, match=r"^y: expected targets"):   # two rows: not unpacked
        getattr(net, call)(X[:2], None)


# ---- dtypes -------------------------------------------------------------------------
NON_NUMERIC = {
    "strings": np.array([["a", "b", "c"]] * 5),
    "numeric-looking strings": np.array([["1", "2", "3"]] * 5),
    "numeric-looking list of str": [["1.5", "2", "3"]] * 5,
    "bytes": np.array([[b"1", b"2", b"3"]] * 5),
    "complex": np.ones((5, 3), dtype=complex),
    "object": np.ones((5, 3), dtype=object),
    "datetime": np.zeros((5, 3), dtype="datetime64[s]"),
}


@pytest.mark.parametrize("name", list(NON_NUMERIC))
def test_non_numeric_X_raises_type_error_naming_X(net, data, name):
    _, y = data
    assert_refused_everywhere(net, NON_NUMERIC[name], y, TypeError, r"X: .*(numeric|dtype)")


@pytest.mark.parametrize("name", list(NON_NUMERIC))
def test_non_numeric_y_raises_type_error_naming_y(net, data, name):
    X, _ = data
    y = NON_NUMERIC[name]
    y = np.asarray(y)[:, :2] if name != "numeric-looking list of str" else [["1", "2"]] * 5
    assert_refused_everywhere(net, X, y, TypeError, r"y: .*(numeric|dtype)", skip_predict=True)


def test_string_labels_for_cross_entropy_raise_type_error(clf, data):
    X, _ = data
    assert_refused_everywhere(clf, X, np.array(["0", "1", "2", "1", "0"]), TypeError, r"y: ",
                              skip_predict=True)


def test_a_plain_string_as_X_raises_type_error(net):
    with pytest.raises(TypeError, match="X"):
        net.predict("1, 2, 3")


def test_ragged_X_raises_a_clear_error(net):
    with pytest.raises((ValueError, TypeError), match="X"):
        net.predict([[1.0, 2.0, 3.0], [1.0, 2.0]])


def test_masked_arrays_with_masked_entries_are_refused(data40):
    X, y = data40
    net = fp.mlp([4, 3, 2])
    Xm = np.ma.masked_array(X, mask=np.zeros_like(X, dtype=bool))
    np.testing.assert_array_equal(net.predict(Xm), net.predict(X))   # nothing masked: fine
    Xm[0, 0] = np.ma.masked
    with pytest.raises(TypeError, match=r"^X: expected a plain array, got a masked array"):
        net.predict(Xm)


# ---- values ---------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_X_or_y_given_to_fit_is_refused(net, data, bad):
    X, y = data
    Xb, yb = X.copy(), y.copy()
    Xb[2, 1] = bad
    yb[4, 0] = bad
    before = net.params.copy()
    opt = fp.SGD(lr=0.1)
    with pytest.raises(ValueError, match=r"X: .*finite"):
        net.fit(Xb, y, epochs=1, optimizer=opt)
    with pytest.raises(ValueError, match=r"y: .*finite"):
        net.fit(X, yb, epochs=1, optimizer=opt)
    with pytest.raises(ValueError, match=r"X_val\): .*finite"):
        net.fit(X, y, epochs=1, optimizer=opt, validation_data=(Xb, y))
    assert net.params.tobytes() == before.tobytes()
    assert opt.steps == 0


@pytest.mark.parametrize("labels,match", [
    ([0, 1, 2, 3, 0], r"y: .*\[0, 3\).*3"),
    ([0, 1, -1, 2, 0], r"y: .*\[0, 3\).*-1"),
    ([0, 1.5, 2, 1, 0], r"y: .*integer.*1.5"),
    ([0, 1, 2, 1], r"y: .*5.*got 4"),
])
def test_bad_class_labels_are_refused(clf, data, labels, match):
    X, _ = data
    assert_refused_everywhere(clf, X, np.array(labels), ValueError, match, skip_predict=True)


def test_one_hot_targets_of_the_wrong_width_are_refused(clf, data):
    X, _ = data
    assert_refused_everywhere(clf, X, np.eye(4)[[0, 1, 2, 3, 0]], ValueError,
                              r"y: .*\(5, 3\).*\(5, 4\)", skip_predict=True)


def test_binary_cross_entropy_targets_outside_0_1_are_refused(data):
    X, _ = data
    net = fp.mlp([3, 4, 1], output="sigmoid", loss="binary_cross_entropy")
    assert_refused_everywhere(net, X, np.array([0, 1, 2, 1, 0]), ValueError, r"y: .*\[0, 1\]",
                              skip_predict=True)


def test_validation_data_errors_name_the_validation_argument(net, data):
    X, y = data
    before = net.params.copy()
    with pytest.raises(ValueError, match="validation_data"):
        net.fit(X, y, epochs=1, validation_data=np.ones(3))
    with pytest.raises(ValueError, match="validation_data"):
        net.fit(X, y, epochs=1, validation_data=(X,))
    # A wrongly shaped validation set must be reported as such, not as the training X / y.
    with pytest.raises(ValueError, match=r"(validation_data|X_val).*3.*got 4"):
        net.fit(X, y, epochs=1, validation_data=(np.ones((2, 4)), np.ones((2, 2))))
    with pytest.raises(ValueError, match=r"(validation_data|y_val).*2.*got 3"):
        net.fit(X, y, epochs=1, validation_data=(np.ones((2, 3)), np.ones((3, 2))))
    assert net.params.tobytes() == before.tobytes()


def test_float64_features_beyond_float32_range_are_refused_not_made_infinite():
    net = fp.mlp([2, 3, 1], dtype="float32")
    with pytest.raises(ValueError, match=r"^X: expected values within the float32 range"):
        net.predict(np.array([[1e39, 1.0]]))


def test_float64_targets_beyond_float32_range_are_refused_with_the_argument_named():
    net = fp.mlp([2, 3, 1], dtype="float32")
    X = np.ones((5, 2))
    before = net.params.copy()
    with pytest.raises(ValueError, match=r"^y: expected values within the float32 range"):
        net.fit(X, np.full(5, 1e39), epochs=1)
    np.testing.assert_array_equal(net.params, before)


# ---- unusual but valid arrays ---------------------------------------------------------
def variants(X):
    big = np.zeros((X.shape[0] * 2, X.shape[1] * 3))
    big[::2, ::3] = X
    ro = X.copy()
    ro.flags.writeable = False
    return {"strided": big[::2, ::3], "fortran": np.asfortranarray(X), "read-only": ro,
            "list": X.tolist(), "float32-input": None}


@pytest.mark.parametrize("kind", ["strided", "fortran", "read-only", "list"])
def test_unusual_layouts_of_X_and_y_give_the_results_of_a_clean_copy(net, data, kind):
    X, y = data
    Xv = variants(X)[kind]
    yv = variants(y)[kind]
    assert kind == "list" or not Xv.flags.c_contiguous or not Xv.flags.writeable
    np.testing.assert_array_equal(net.predict(Xv), net.predict(X.copy()))
    assert net.loss(Xv, yv) == net.loss(X.copy(), y.copy())
    np.testing.assert_array_equal(net.backprop(Xv, yv)[1], net.backprop(X.copy(), y.copy())[1])
    a, b = fp.mlp([3, 4, 2], hidden="tanh", seed=0), fp.mlp([3, 4, 2], hidden="tanh", seed=0)
    ha = a.fit(Xv, yv, epochs=3, batch_size=2, seed=1)
    hb = b.fit(X.copy(), y.copy(), epochs=3, batch_size=2, seed=1)
    assert ha.loss == hb.loss
    np.testing.assert_array_equal(a.params, b.params)


def test_integer_X_and_y_give_the_results_of_a_float_copy(net):
    rng = np.random.default_rng(1)
    Xi = rng.integers(-3, 4, size=(6, 3))
    yi = rng.integers(-2, 3, size=(6, 2)).astype(np.int32)
    np.testing.assert_array_equal(net.predict(Xi), net.predict(Xi.astype(float)))
    assert net.loss(Xi, yi) == net.loss(Xi.astype(float), yi.astype(float))
    np.testing.assert_array_equal(net.backprop(Xi, yi)[1],
                                  net.backprop(Xi.astype(float), yi.astype(float))[1])


def test_inputs_of_the_other_float_dtype_are_converted(data):
    X, y = data
    n64 = fp.mlp([3, 4, 2], hidden="tanh", dtype="float64", seed=0)
    n32 = fp.mlp([3, 4, 2], hidden="tanh", dtype="float32", seed=0)
    assert n64.predict(X.astype(np.float32)).dtype == np.float64
    np.testing.assert_array_equal(n64.predict(X.astype(np.float32)),
                                  n64.predict(X.astype(np.float32).astype(np.float64)))
    assert n32.predict(X).dtype == np.float32
    np.testing.assert_array_equal(n32.predict(X), n32.predict(X.astype(np.float32)))


def test_read_only_inputs_are_not_copied_or_modified_by_fit(net, data):
    X, y = data
    X.flags.writeable = False
    y.flags.writeable = False
    Xc, yc = X.copy(), y.copy()
    net.fit(X, y, epochs=2, batch_size=2)
    np.testing.assert_array_equal(X, Xc)
    np.testing.assert_array_equal(y, yc)
