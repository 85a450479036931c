"""Bad input, as DESIGN.md's "Bad input" section promises: a ValueError or TypeError whose
message names the argument and says what was expected and what came (both numbers for a
shape), raised before anything changes (net.params stay as they were); unusual but valid
arrays (non-contiguous, Fortran-ordered, read-only, integer) give the results of a clean
float copy."""
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


# ---- optimizer and fit arguments ------------------------------------------------------


def test_bad_numerical_gradient_arguments_are_refused(net, data):
    X, y = data
    with pytest.raises(ValueError, match="scheme"):
        fp.numerical_gradient(net, X, y, scheme="backward")
    with pytest.raises(ValueError, match="eps"):
        fp.numerical_gradient(net, X, y, eps=0.0)
    with pytest.raises(ValueError, match="eps"):
        fp.numerical_gradient(net, X, y, eps=-1e-6)
    with pytest.raises(ValueError, match=r"indices: .*\[0, 26\)"):
        fp.numerical_gradient(net, X, y, indices=[0, 26])
    with pytest.raises(TypeError, match="indices"):
        fp.numerical_gradient(net, X, y, indices=[0.5])


def test_bad_thread_counts_are_refused():
    with pytest.raises(ValueError, match="n"):
        fp.set_num_threads(0)
    with pytest.raises(TypeError, match="n"):
        fp.set_num_threads(1.5)


def test_assigning_params_of_the_wrong_shape_is_refused(net):
    before = net.params.copy()
    with pytest.raises(ValueError, match=r"params: expected shape \(26,\), got \(3,\)"):
        net.params = np.ones(3)
    assert net.params.tobytes() == before.tobytes()


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


def test_assigning_a_layers_W_or_b_copies_into_the_network_after_the_same_checks(net):
    layer = net.layers[0]
    view_W, view_b = layer.W, layer.b
    layer.W = np.arange(12.0).reshape(3, 4)
    layer.b = [1, 2, 3, 4]
    assert layer.W is view_W and layer.b is view_b       # still views into net.params
    np.testing.assert_array_equal(net.params[:12], np.arange(12.0))
    np.testing.assert_array_equal(net.params[12:16], [1, 2, 3, 4])
    before = net.params.copy()
    with pytest.raises(ValueError, match=r"W: expected shape \(3, 4\), got \(4, 3\)"):
        layer.W = np.zeros((4, 3))
    with pytest.raises(ValueError, match="b: expected finite values"):
        layer.b = [0, np.nan, 0, 0]
    with pytest.raises(TypeError, match="W: expected a numeric array"):
        layer.W = "zeros"
    np.testing.assert_array_equal(net.params, before)
    with pytest.raises(AttributeError, match="W: this layer's parameters exist only once"):
        fp.Dense(2, 3).W = np.zeros((2, 3))
    net.params.flags.writeable = False
    with pytest.raises(ValueError, match=r"params: assigning layers\[i\]\.W writes net.params "
                                         r"in place, but they were made read-only"):
        layer.W = np.zeros((3, 4))
    np.testing.assert_array_equal(net.params, before)


def test_a_copied_or_pickled_layer_belongs_to_no_network(net):
    import copy
    import pickle
    for clone in (copy.deepcopy(net.layers[0]), pickle.loads(pickle.dumps(net.layers[0]))):
        assert (clone.n_in, clone.n_out, clone.activation) == (3, 4, "tanh")
        np.testing.assert_array_equal(clone.W, net.layers[0].W)
        with pytest.raises(AttributeError, match="W: this layer's parameters exist only once"):
            clone.W = np.zeros((3, 4))


def test_a_layers_shape_and_activation_are_read_only(net, data):
    layer = net.layers[0]
    for name, value in [("activation", "relu"), ("n_in", 5), ("n_out", 1)]:
        with pytest.raises(AttributeError):
            setattr(layer, name, value)
    assert (layer.n_in, layer.n_out, layer.activation) == (3, 4, "tanh")


def test_read_only_params_are_named_by_every_call_that_writes_them(net, data):
    X, y = data
    net.params.flags.writeable = False
    calls = [lambda: net.fit(X, y, epochs=1), lambda: fp.numerical_gradient(net, X, y),
             lambda: fp.SGD().step(net, np.zeros(net.n_params))]
    for call in calls:
        with pytest.raises(ValueError, match=r"params: .* writes net.params in place, but they "
                                             r"were made read-only"):
            call()
    net.params.flags.writeable = True
    net.fit(X, y, epochs=1)


def test_a_networks_layers_and_dtype_are_read_only(net, data):
    X, _ = data
    expected = net.predict(X)
    with pytest.raises(TypeError):
        net.layers[0] = fp.Dense(3, 4, "relu")
    with pytest.raises(AttributeError):
        net.layers.append(fp.Dense(2, 2))
    for name, value in [("layers", []), ("dtype", np.dtype("float32"))]:
        with pytest.raises(AttributeError):
            setattr(net, name, value)
    np.testing.assert_array_equal(net.predict(X), expected)


def test_a_copy_or_a_pickle_of_a_network_is_an_independent_network(net, data):
    import copy
    import gc
    import pickle
    X, y = data
    assert len(pickle.dumps(net)) < 2 * net.params.nbytes + 4096   # the params once
    shallow = copy.copy(net)
    del shallow
    gc.collect()
    net.layers[0].b = net.layers[0].b     # the original's layers still belong to it
    for clone in (copy.copy(net), copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert clone.layers[0] is not net.layers[0]
        np.testing.assert_array_equal(clone.predict(X), net.predict(X))
        assert clone.layers[0].W.base is not None            # views into its own params
        clone.layers[0].W = np.zeros((3, 4))
        assert clone.params[:12].sum() == 0 and net.params[:12].sum() != 0
        clone.fit(X, y, epochs=2)
        assert not np.array_equal(clone.params, net.params)


