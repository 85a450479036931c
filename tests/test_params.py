"""Writing to a network and copying it: assigning net.params or a layer's W or b copies the
values into the one parameter buffer after the checks of every input (shape, numeric, finite,
within the dtype's range), and refuses to write read-only params, naming them; a network's
layers and dtype and a layer's shape and activation cannot be reassigned; a copy or a pickle
of a network is an independent network with its own buffer, and a copied layer belongs to no
network. Nothing changes when an assignment is refused."""
import numpy as np
import pytest

import fastprop as fp


def test_assigning_params_of_the_wrong_shape_is_refused(net):
    before = net.params.copy()
    with pytest.raises(ValueError, match=r"params: expected shape \(26,\), got \(3,\)"):
        net.params = np.ones(3)
    assert net.params.tobytes() == before.tobytes()


@pytest.mark.parametrize("value, match", [(1e39, r"^params: expected values within the float32"),
                                          (np.nan, r"^params: expected finite values"),
                                          (np.inf, r"^params: expected finite values")])
def test_params_that_are_or_become_non_finite_are_refused_and_change_nothing(value, match):
    net = fp.mlp([2, 3, 1], dtype="float32")
    before = net.params.copy()
    new = np.zeros(net.n_params)
    new[4] = value
    with pytest.raises(ValueError, match=match):
        net.params = new
    np.testing.assert_array_equal(net.params, before)


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


def test_a_layers_shape_and_activation_are_read_only(net, data):
    layer = net.layers[0]
    for name, value in [("activation", "relu"), ("n_in", 5), ("n_out", 1)]:
        with pytest.raises(AttributeError):
            setattr(layer, name, value)
    assert (layer.n_in, layer.n_out, layer.activation) == (3, 4, "tanh")


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


def test_a_copied_or_pickled_layer_belongs_to_no_network(net):
    import copy
    import pickle
    for clone in (copy.deepcopy(net.layers[0]), pickle.loads(pickle.dumps(net.layers[0]))):
        assert (clone.n_in, clone.n_out, clone.activation) == (3, 4, "tanh")
        np.testing.assert_array_equal(clone.W, net.layers[0].W)
        with pytest.raises(AttributeError, match="W: this layer's parameters exist only once"):
            clone.W = np.zeros((3, 4))
