"""The public face: the names DESIGN.md promises, the repr, layers' W and b as views into the
flat parameter buffer, mlp's layer sizes and activations, weight initialisation (Glorot and He
bounds, zero biases, seeds), and the `python -m fastprop info` command."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastprop as fp

PUBLIC = ["Network", "Dense", "mlp", "SGD", "Adam", "numerical_gradient", "gradcheck",
          "GradcheckResult", "fit", "History", "TrainingDivergedError", "save", "load",
          "set_num_threads", "get_num_threads", "simd_path", "__version__"]


def test_every_public_name_of_the_contract_exists():
    missing = [name for name in PUBLIC if not hasattr(fp, name)]
    assert missing == []
    assert set(PUBLIC) <= set(fp.__all__)


def test_repr_shows_layers_loss_dtype_and_parameter_count():
    net = fp.mlp([784, 256, 10], hidden="relu", output="softmax", loss="cross_entropy",
                 dtype="float32")
    text = repr(net)
    assert "Dense(784, 256, 'relu')" in text
    assert "Dense(256, 10, 'softmax')" in text
    assert "cross_entropy" in text and "float32" in text
    assert "203,530" in text
    assert net.n_params == 784 * 256 + 256 + 256 * 10 + 10 == 203530


def test_params_layout_is_W1_b1_W2_b2_row_major():
    net = fp.mlp([3, 4, 2], hidden="tanh")
    net.params[...] = np.arange(net.n_params)
    np.testing.assert_array_equal(net.layers[0].W, np.arange(12).reshape(3, 4))
    np.testing.assert_array_equal(net.layers[0].b, np.arange(12, 16))
    np.testing.assert_array_equal(net.layers[1].W, np.arange(16, 24).reshape(4, 2))
    np.testing.assert_array_equal(net.layers[1].b, np.arange(24, 26))
    assert net.params.ndim == 1 and net.params.flags.c_contiguous and net.params.flags.writeable


def test_layer_W_and_b_are_views_into_params():
    net = fp.mlp([3, 4, 2], hidden="tanh", seed=0)
    for layer in net.layers:
        assert np.shares_memory(layer.W, net.params)
        assert np.shares_memory(layer.b, net.params)
        assert layer.W.shape == (layer.n_in, layer.n_out) and layer.b.shape == (layer.n_out,)
    X = np.random.default_rng(0).normal(size=(5, 3))
    before = net.predict(X)
    net.layers[1].W[2, 1] += 0.5
    assert net.params[16 + 2 * 2 + 1] == net.layers[1].W[2, 1]
    after = net.predict(X)
    assert np.all(after[:, 0] == before[:, 0]) and not np.allclose(after[:, 1], before[:, 1])
    net.layers[1].b[...] = 7.0
    np.testing.assert_array_equal(net.params[-2:], [7.0, 7.0])
    net.params[...] = 0.0
    np.testing.assert_array_equal(net.predict(X), 0.0)


def test_assigning_params_writes_into_the_same_buffer():
    net = fp.mlp([3, 4, 2], hidden="tanh")
    W = net.layers[0].W
    net.params = np.ones(net.n_params)
    assert np.all(W == 1.0)


def test_gradient_is_laid_out_like_params():
    net = fp.mlp([3, 4, 2], hidden="identity", output="identity", loss="mse")
    X = np.random.default_rng(0).normal(size=(5, 3))
    y = np.zeros((5, 2))
    net.layers[1].b[...] = [1.0, 0.0]           # only output 0 is off: b2[1] has no gradient
    net.layers[0].W[...] = 0.0
    net.layers[0].b[...] = 0.0
    _, grad = net.backprop(X, y)
    assert grad.shape == net.params.shape and grad.dtype == net.params.dtype
    assert grad[-2] == pytest.approx(2 * 1.0 / 2)    # d mean((b - 0)^2) / db over 2 outputs
    assert grad[-1] == 0.0


@pytest.mark.parametrize("hidden,output", [("relu", "softmax"), ("tanh", "identity"),
                                           ("sigmoid", "sigmoid"), ("leaky_relu", "linear")])
def test_mlp_builds_the_right_sizes_and_activations(hidden, output):
    loss = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}.get(output, "mse")
    net = fp.mlp([5, 7, 6, 3], hidden=hidden, output=output, loss=loss)
    assert [(l.n_in, l.n_out) for l in net.layers] == [(5, 7), (7, 6), (6, 3)]
    canonical = "identity" if output == "linear" else output
    assert [l.activation for l in net.layers] == [hidden, hidden, canonical]
    assert net.n_params == 5 * 7 + 7 + 7 * 6 + 6 + 6 * 3 + 3
    assert net.n_in == 5 and net.n_out == 3
    assert net.predict(np.zeros((2, 5))).shape == (2, 3)


def test_mlp_defaults_are_relu_identity_mse_float64():
    net = fp.mlp([2, 3, 1])
    assert [l.activation for l in net.layers] == ["relu", "identity"]
    assert net.loss_name == "mse" and net.dtype == np.float64


def test_network_equals_mlp_of_the_same_layers_and_seed():
    a = fp.Network([fp.Dense(2, 3, "sigmoid"), fp.Dense(3, 1, "sigmoid")], loss="mse", seed=5)
    b = fp.mlp([2, 3, 1], hidden="sigmoid", output="sigmoid", loss="mse", seed=5)
    np.testing.assert_array_equal(a.params, b.params)


def test_loss_and_activation_aliases():
    assert fp.mlp([2, 1], output="sigmoid", loss="bce").loss_name == "binary_cross_entropy"
    assert fp.mlp([2, 2], output="softmax", loss="ce").loss_name == "cross_entropy"
    assert fp.Dense(2, 1, "linear").activation == "identity"
    assert fp.Dense(2, 1, "TANH").activation == "tanh"


def test_single_sample_and_one_dimensional_y_for_one_output():
    net = fp.mlp([3, 4, 1], hidden="tanh")
    x = np.array([[0.1, 0.2, 0.3]])
    assert net.predict(x).shape == (1, 1)
    assert net.loss(x, [0.5]) == net.loss(x, [[0.5]])


# ---- weight initialisation -------------------------------------------------------------
@pytest.mark.parametrize("act,rule", [("tanh", "glorot"), ("sigmoid", "glorot"),
                                      ("identity", "glorot"), ("relu", "he"),
                                      ("leaky_relu", "he")])
def test_weight_init_bounds_are_glorot_or_he_and_biases_are_zero(act, rule):
    net = fp.Network([fp.Dense(200, 300, act), fp.Dense(300, 100, act)], seed=0)
    for layer in net.layers:
        fan_in, fan_out = layer.n_in, layer.n_out
        bound = np.sqrt(6 / (fan_in + fan_out)) if rule == "glorot" else np.sqrt(6 / fan_in)
        W = layer.W
        assert np.abs(W).max() <= bound
        assert np.abs(W).max() > 0.99 * bound            # uniform over the whole interval
        assert abs(W.mean()) < 0.02 * bound
        assert W.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)
        assert np.all(layer.b == 0)


def test_softmax_output_layer_uses_glorot_init():
    net = fp.mlp([100, 50], output="softmax", loss="cross_entropy")
    bound = np.sqrt(6 / 150)
    assert bound * 0.99 < np.abs(net.layers[0].W).max() <= bound


def test_same_seed_same_weights_and_different_seed_different_weights():
    make = lambda seed: fp.mlp([4, 8, 3], hidden="tanh", seed=seed).params
    assert make(0).tobytes() == make(0).tobytes()
    assert not np.array_equal(make(0), make(1))
    g1 = fp.mlp([4, 8, 3], seed=np.random.default_rng(9)).params
    g2 = fp.mlp([4, 8, 3], seed=np.random.default_rng(9)).params
    assert g1.tobytes() == g2.tobytes()


def test_float32_weights_are_the_rounded_float64_weights():
    a = fp.mlp([4, 8, 3], hidden="tanh", dtype="float64", seed=0).params
    b = fp.mlp([4, 8, 3], hidden="tanh", dtype="float32", seed=0).params
    assert b.dtype == np.float32
    np.testing.assert_array_equal(b, a.astype(np.float32))


# ---- run-time facts and command line -----------------------------------------------------
def test_threads_can_be_set_and_read_back():
    fp.set_num_threads(1)
    assert fp.get_num_threads() == 1
    fp.set_num_threads(2)
    assert fp.get_num_threads() == 2


def test_simd_path_is_a_non_empty_name():
    path = fp.simd_path()
    assert isinstance(path, str) and path


def test_python_m_fastprop_info_runs_and_prints_the_simd_path():
    out = subprocess.run([sys.executable, "-m", "fastprop", "info"], capture_output=True,
                         text=True, timeout=120, cwd="/")
    assert out.returncode == 0, out.stderr
    assert f"simd path: {fp.simd_path()}" in out.stdout
    assert fp.__version__ in out.stdout
    assert "float32" in out.stdout and "float64" in out.stdout


def test_fastprop_num_threads_environment_variable_is_honoured():
    code = "import fastprop; print(fastprop.get_num_threads())"
    # The rest of the environment is kept: the child may need it (LD_PRELOAD, ASAN_OPTIONS of
    # the sanitizer job; PYTHONPATH, a virtualenv's variables).
    env = dict(os.environ, FASTPROP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd="/", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
