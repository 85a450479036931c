"""`fastprop.explain` and `fastprop explain`: the chain rule's factors of one gradient entry.
The tutorial's worked example is computed here by hand-written numpy formulas (2-3-1 sigmoid,
input (1, 1), target 0, mse); every other network is checked against net.backprop and a
central finite difference, the independent references. The command is run in-process
(fastprop.cli.main) and once as a child (`python -m fastprop explain`)."""
import subprocess
import sys

import numpy as np
import pytest

import fastprop as fp
from fastprop.explain import Explanation, explain, tutorial_network
from fastprop.network import Dropout

RTOL = 1e-8      # chain rule against backprop and finite differences, float64
ACTIVATIONS = [a for a in fp.ACTIVATIONS if a != "softmax"]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def hand_network():
    """The tutorial's 2-3-1 sigmoid network without biases, with weights a reader can follow."""
    net, X, y = tutorial_network(0)
    net.layers[0].W = [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]
    net.layers[1].W = [[0.7], [0.8], [0.9]]
    return net, X, y


def hand_forward():
    x = np.array([1.0, 1.0])
    W1 = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    W2 = np.array([0.7, 0.8, 0.9])
    h = _sigmoid(x @ W1)
    y_hat = _sigmoid(h @ W2)
    return x, W1, W2, h, y_hat


def assert_consistent(e, rtol=RTOL):
    """Product of the factors = gradient = backprop = central difference."""
    assert np.prod([v for _, v in e.factors]) == pytest.approx(e.gradient, rel=1e-12, abs=0)
    assert e.gradient == pytest.approx(e.backprop, rel=rtol, abs=1e-13)
    assert e.gradient == pytest.approx(e.numerical, rel=1e-6, abs=1e-10)
    assert e.agree


# ---- the tutorial's worked example, by hand ------------------------------------------------
def test_output_weight_factors_are_the_tutorials_three_by_hand():
    net, X, y = hand_network()
    x, W1, W2, h, y_hat = hand_forward()
    e = explain(net, X, y, layer=1, i=2, j=0)
    assert isinstance(e, Explanation)
    expected = [2 * (y_hat - 0.0), y_hat * (1 - y_hat), h[2]]        # dL/dŷ, dŷ/dz, dz/dw
    assert [v for _, v in e.factors] == pytest.approx(expected, rel=1e-12)
    assert [m.split(" = ")[0] for m, _ in e.factors] == ["∂L/∂ŷ", "∂ŷ/∂z_out", "∂z_out/∂w"]
    assert e.gradient == pytest.approx(np.prod(expected), rel=1e-12)
    assert e.loss == pytest.approx(y_hat ** 2, rel=1e-12)
    assert e.value == 0.9 and e.weight == "layers[1].W[2, 0]"
    assert e.index == 6 + 2           # after W1's six weights: no b1 in a bias-free layout
    assert_consistent(e)


def test_hidden_weight_factors_are_the_tutorials_five_by_hand():
    net, X, y = hand_network()
    x, W1, W2, h, y_hat = hand_forward()
    e = explain(net, X, y, layer=0, i=0, j=1)
    expected = [2 * y_hat, y_hat * (1 - y_hat), W2[1], h[1] * (1 - h[1]), x[0]]
    assert [v for _, v in e.factors] == pytest.approx(expected, rel=1e-12)
    assert [m.split(" = ")[0] for m, _ in e.factors] == [
        "∂L/∂ŷ", "∂ŷ/∂z_out", "∂z_out/∂a_h[1]", "∂a_h[1]/∂z_h[1]", "∂z_h[1]/∂w"]
    assert e.gradient == pytest.approx(np.prod(expected), rel=1e-12)
    assert e.value == 0.2
    assert_consistent(e)


def test_every_tutorial_weight_matches_backprop_and_finite_differences():
    net, X, y = tutorial_network(3)
    _, grad = net.backprop(X, y)
    seen = []
    for layer, dense in enumerate(net.layers):
        for i in range(dense.n_in):
            for j in range(dense.n_out):
                e = explain(net, X, y, layer=layer, i=i, j=j)
                assert_consistent(e)
                assert net.params[e.index] == dense.W[i, j]
                seen.append(e.index)
    assert grad[seen] == pytest.approx([explain(net, X, y, layer=l, i=i, j=j).gradient
                                        for l, d in enumerate(net.layers)
                                        for i in range(d.n_in) for j in range(d.n_out)],
                                       rel=RTOL)


def test_str_shows_each_factor_the_product_backprop_numerical_and_agreement():
    net, X, y = hand_network()
    e = explain(net, X, y, layer=0, i=0, j=0)
    text = str(e)
    for meaning, value in e.factors:
        assert meaning in text
        assert f"{value: .10g}" in text
    assert f"{e.gradient: .12g}" in text and f"{e.backprop: .12g}" in text
    assert f"{e.numerical: .12g}" in text
    assert "agree: yes" in text
    assert "layers[0].W[0, 0]" in text and len(text.splitlines()) < 30


def test_one_sample_as_a_vector_is_the_same_as_one_row():
    net, X, y = hand_network()
    a = explain(net, X, y, layer=0, i=1, j=2)
    b = explain(net, np.array([1.0, 1.0]), 0.0, layer=0, i=1, j=2)
    assert a.factors == b.factors and a.gradient == b.gradient and a.backprop == b.backprop


def test_one_sample_vector_takes_a_label_or_a_one_hot_row():
    net = fp.mlp([2, 3, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    x = np.array([0.5, -0.3])
    want = explain(net, x[None], np.array([2]), layer=0, i=1, j=1)
    for y in (2, [2], [0.0, 0.0, 1.0], np.array([[0.0, 0.0, 1.0]])):
        got = explain(net, x, y, layer=0, i=1, j=1)
        assert got.gradient == want.gradient and got.factors == want.factors


# ---- other networks, against backprop --------------------------------------------------------
def every_position(net, with_bias=True):
    for layer, dense in enumerate(net.layers):
        if isinstance(dense, Dropout):
            continue
        for i in range(dense.n_in):
            for j in range(dense.n_out):
                yield dict(layer=layer, i=i, j=j)
        if with_bias and dense.b is not None:
            for j in range(dense.n_out):
                yield dict(layer=layer, i=0, j=j, param="b")


def check_every_entry(net, X, y):
    """Every parameter's explanation against the one backprop gradient; each index once."""
    _, grad = net.backprop(X, y)
    indices = []
    for pos in every_position(net):
        e = explain(net, X, y, **pos)
        assert_consistent(e)
        assert e.backprop == grad[e.index]
        indices.append(e.index)
    assert sorted(indices) == list(range(net.n_params))


def test_deeper_network_with_several_outputs_sums_over_the_paths():
    rng = np.random.default_rng(1)
    net = fp.mlp([3, 4, 5, 2], hidden="tanh", output="identity", loss="mse", seed=2)
    X, y = rng.normal(size=(1, 3)), rng.normal(size=(1, 2))
    check_every_entry(net, X, y)
    e = explain(net, X, y, layer=0, i=1, j=3)
    # the delta route: dL/da0[3] = sum_k delta1[k] W1[3, k], da/dz, dz/dw
    assert len(e.factors) == 3 and "Σ_k" in e.factors[0][0]
    assert [layer for layer, _ in e.deltas] == [2, 1, 0]
    # the deltas by hand: delta2 = 2(ŷ - y)/2, delta1 = (W2 delta2) tanh'(z1), ...
    W0, W1, W2 = (l.W for l in net.layers)
    b0, b1, b2 = (l.b for l in net.layers)
    a0 = np.tanh(X[0] @ W0 + b0)
    a1 = np.tanh(a0 @ W1 + b1)
    d2 = 2 * (a1 @ W2 + b2 - y[0]) / 2
    d1 = (W2 @ d2) * (1 - a1 ** 2)
    d0 = (W1 @ d1) * (1 - a0 ** 2)
    for (_, got), want in zip(e.deltas, [d2, d1, d0]):
        assert got == pytest.approx(want, rel=1e-12)
    assert e.factors[0][1] == pytest.approx((W1 @ d1)[3], rel=1e-12)
    assert e.gradient == pytest.approx(d0[3] * X[0, 1], rel=1e-12)


def test_deep_single_path_network_shows_every_layers_two_factors():
    net = fp.mlp([2, 3, 1, 1, 1], hidden="sigmoid", output="tanh", loss="mse", seed=4)
    X, y = np.array([[0.5, -1.0]]), np.array([0.3])
    check_every_entry(net, X, y)
    e = explain(net, X, y, layer=0, i=1, j=2)
    # dL/dŷ, dŷ/dz_out, then (dz/da, da/dz) for layers 2, 1, 0, then dz0/dw
    assert len(e.factors) == 2 + 2 * 3 + 1
    assert e.factors[2][0].startswith("∂z_out/∂a2") and e.factors[-1][0].startswith("∂z0[2]/∂w")


@pytest.mark.parametrize("labels", [True, False], ids=["labels", "one-hot"])
def test_softmax_cross_entropy_is_one_fused_factor(labels):
    rng = np.random.default_rng(5)
    net = fp.mlp([3, 4, 3], hidden="relu", output="softmax", loss="cross_entropy", seed=1)
    X = rng.normal(size=(1, 3))
    y = np.array([2]) if labels else np.array([[0.0, 0.0, 1.0]])
    check_every_entry(net, X, y)
    e = explain(net, X, y, layer=1, i=0, j=1)
    p = net.predict(X)[0]
    assert "cross-entropy and softmax together" in e.factors[0][0]
    assert e.factors[0][1] == pytest.approx(p[1] - 0.0, rel=1e-12)
    assert explain(net, X, y, layer=1, i=0, j=2).factors[0][1] == pytest.approx(p[2] - 1,
                                                                                rel=1e-12)


def test_sigmoid_binary_cross_entropy_is_one_fused_factor():
    net = fp.mlp([2, 3, 2], hidden="tanh", output="sigmoid", loss="binary_cross_entropy",
                 seed=3)
    X, y = np.array([[0.2, -0.7]]), np.array([[1.0, 0.0]])
    check_every_entry(net, X, y)
    e = explain(net, X, y, layer=1, i=1, j=0)
    p = net.predict(X)[0]
    assert "binary cross-entropy and sigmoid together" in e.factors[0][0]
    assert e.factors[0][1] == pytest.approx((p[0] - 1.0) / 2, rel=1e-12)   # mean of 2 outputs
    assert len(e.factors) == 2


@pytest.mark.parametrize("loss,y", [("mse", [[0.2, 0.5, 0.3]]),
                                    ("binary_cross_entropy", [[0.0, 1.0, 0.0]])])
def test_softmax_under_another_loss_couples_the_outputs(loss, y):
    net = fp.mlp([2, 3], hidden="tanh", output="softmax", loss=loss, seed=6)
    X = np.array([[0.4, 0.9]])
    check_every_entry(net, X, np.array(y))
    assert "softmax couples the outputs" in explain(net, X, np.array(y), 0, 1, 2).factors[0][0]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_each_activation_hidden_and_output(activation):
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(1, 3)), rng.normal(size=(1, 2))
    for hidden, output in [(activation, "identity"), ("tanh", activation)]:
        net = fp.mlp([3, 4, 2], hidden=hidden, output=output, loss="mse", seed=8)
        check_every_entry(net, X, y)
    # the slope factor against a central difference of the activation itself
    net = fp.mlp([3, 1, 1], hidden=activation, output="identity", loss="mse", seed=9)
    e = explain(net, X, y[:, :1], layer=0, i=0, j=0)
    slope = e.factors[3][1]
    W, b = net.layers[0].W, net.layers[0].b
    z = float(X[0] @ W[:, 0] + b[0])
    probe = fp.mlp([1, 1, 1], hidden=activation, output="identity", seed=0)
    probe.params[...] = [1.0, 0.0, 1.0, 0.0]        # predict(t) = f(t)
    h = 1e-6
    numeric = (probe.predict([[z + h]])[0, 0] - probe.predict([[z - h]])[0, 0]) / (2 * h)
    assert slope == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_several_samples_mean_of_each_samples_chain():
    rng = np.random.default_rng(10)
    net = fp.mlp([3, 4, 2], hidden="sigmoid", output="identity", loss="mse", seed=11)
    X, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    check_every_entry(net, X, y)
    e = explain(net, X, y, layer=0, i=2, j=1)
    assert len(e.samples) == 5
    assert e.factors[0][1] == pytest.approx(1 / 5)
    assert e.gradient == pytest.approx(np.mean([s.gradient for s in e.samples]), rel=1e-12)
    for s, sample in enumerate(e.samples):
        # each sample's chain is the gradient of that sample's own loss
        assert sample.gradient == pytest.approx(net.backprop(X[s:s + 1], y[s:s + 1])[1][e.index],
                                                rel=RTOL)
    # the averaged deltas, by hand for the output layer: 2(ŷ - y)/2 per sample, mean
    assert e.deltas[0][1] == pytest.approx(np.mean(net.predict(X) - y, axis=0), rel=1e-12)
    assert "5 samples" in str(e)


def test_layers_without_bias_and_with_dropout_are_placed_right():
    rng = np.random.default_rng(12)
    X, y = rng.normal(size=(2, 3)), rng.normal(size=(2, 2))
    net = fp.Network([fp.Dense(3, 4, "tanh", bias=False), fp.Dense(4, 2, "identity")], seed=1)
    check_every_entry(net, X, y)
    assert explain(net, X, y, layer=1, j=1, param="b").index == 12 + 8 + 1
    net = fp.Network([fp.Dense(3, 4, "relu"), Dropout(0.3), fp.Dense(4, 3, "sigmoid"),
                      Dropout(0.5), fp.Dense(3, 2, "identity", bias=False)], seed=2)
    check_every_entry(net, X, y)      # Dropout is the identity in backprop: skipped
    e = explain(net, X[:1], y[:1], layer=2, i=1, j=0)
    assert e.weight == "layers[2].W[1, 0]" and e.value == net.layers[2].W[1, 0]
    assert [pos for pos, _ in e.deltas] == [4, 2]
    assert "layers[4].W[0, k]" in e.factors[0][0]


def test_float32_network_agrees_within_float32s_tolerance():
    net = fp.mlp([2, 3, 1], hidden="tanh", output="sigmoid", loss="mse", dtype="float32",
                 seed=0)
    X, y = np.array([[0.3, -0.2]]), np.array([0.7])
    for pos in every_position(net):
        e = explain(net, X, y, **pos)
        assert e.agree
        assert e.gradient == pytest.approx(e.backprop, rel=1e-4, abs=1e-6)


def test_bias_entry_has_dz_db_one():
    net = fp.mlp([2, 3, 1], hidden="tanh", output="identity", loss="mse", seed=0)
    X, y = np.array([[0.3, -0.2]]), np.array([0.7])
    e = explain(net, X, y, layer=0, j=2, param="b")
    assert e.factors[-1] == ("∂z_h[2]/∂b = 1, the bias is added to it", 1.0)
    assert e.index == net.layers[0].W.size + 2 and e.weight == "layers[0].b[2]"
    assert_consistent(e)


def test_read_only_params_are_explained_and_left_alone():
    net, X, y = hand_network()
    before = net.params.copy()
    net.params.flags.writeable = False
    e = explain(net, X, y, layer=1, i=0, j=0)
    assert_consistent(e)
    assert np.array_equal(net.params, before) and not net.params.flags.writeable


# ---- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,exc,name", [
    (dict(layer=2), ValueError, "layer"),
    (dict(layer=-1), ValueError, "layer"),
    (dict(layer=1.0), TypeError, "layer"),
    (dict(layer=True), TypeError, "layer"),
    (dict(layer=0, i=2), ValueError, "i"),
    (dict(layer=1, i=3), ValueError, "i"),
    (dict(layer=0, i=-1), ValueError, "i"),
    (dict(layer=0, j=3), ValueError, "j"),
    (dict(layer=1, j=1), ValueError, "j"),
    (dict(j="0"), TypeError, "j"),
    (dict(param="w"), ValueError, "param"),
    (dict(param=None), TypeError, "param"),
    (dict(param="b"), ValueError, "param"),         # the tutorial's layers have no bias
])
def test_bad_positions_are_refused_naming_the_argument(kwargs, exc, name):
    net, X, y = hand_network()
    before = net.params.copy()
    with pytest.raises(exc, match=rf"^{name}: expected"):
        explain(net, X, y, **kwargs)
    assert np.array_equal(net.params, before)


@pytest.mark.parametrize("kwargs,name", [
    (dict(param="b", i=1), "i"),
    (dict(param="b", layer=2, j=1), "j"),
    (dict(param="b", layer=3), "layer"),
    (dict(layer=1, i=0), "layer"),               # layers[1] is the Dropout
])
def test_bad_bias_and_dropout_positions_are_refused(kwargs, name):
    net = fp.Network([fp.Dense(2, 3, "tanh"), Dropout(0.5), fp.Dense(3, 1, "identity")])
    X, y = np.array([[0.5, 0.1]]), np.array([0.2])
    before = net.params.copy()
    with pytest.raises(ValueError, match=rf"^{name}: expected"):
        explain(net, X, y, **kwargs)
    assert np.array_equal(net.params, before)


def test_out_of_range_message_gives_the_valid_range():
    net, X, y = hand_network()
    with pytest.raises(ValueError, match=r"\[0, 2\).*got 5"):
        explain(net, X, y, layer=5)
    with pytest.raises(ValueError, match=r"\[0, 3\).*got 3"):
        explain(net, X, y, layer=1, i=3)


@pytest.mark.parametrize("X,y,name", [
    (np.ones((1, 3)), np.zeros(1), "X"),
    (np.ones(3), 0.0, "X"),
    (np.ones((2, 2)), np.zeros(3), "y"),
    (np.array([[1.0, np.nan]]), np.zeros(1), "X"),
    (np.ones((1, 2)), None, "y"),
    ("ab", np.zeros(1), "X"),
])
def test_bad_data_is_refused_as_the_network_refuses_it(X, y, name):
    net, _, _ = hand_network()
    before = net.params.copy()
    with pytest.raises((ValueError, TypeError), match=rf"^{name}: "):
        explain(net, X, y)
    assert np.array_equal(net.params, before)


def test_not_a_network_is_a_type_error():
    with pytest.raises(TypeError, match="^net: "):
        explain("net", np.ones((1, 2)), np.zeros(1))


# ---- the command ---------------------------------------------------------------------------
def test_command_prints_the_derivation_and_one_checked_sgd_step(capsys):
    from fastprop.cli import main
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) <= 40
    net, X, y = tutorial_network(0)
    e = explain(net, X, y)
    assert str(e) in out
    assert "agree: yes" in out and "moved by −lr·∂L/∂p: yes" in out
    # the weight after the step: SGD with lr 0.5, w - lr dL/dw, computed here
    net.fit(X, y, epochs=1, batch_size=1, optimizer=fp.SGD(lr=0.5), shuffle=False)
    after = net.layers[0].W[0, 0]
    assert after == pytest.approx(e.value - 0.5 * e.backprop, rel=1e-14)
    assert f"w after fit   = {after:.12g}" in out


def test_command_options_choose_the_weight_seed_and_rate(capsys):
    from fastprop.cli import main
    assert main(["explain", "--seed", "4", "--lr", "0.1", "--layer", "1", "--i", "2",
                 "--j", "0"]) == 0
    out = capsys.readouterr().out
    net, X, y = tutorial_network(4)
    e = explain(net, X, y, layer=1, i=2, j=0)
    assert str(e) in out and "layers[1].W[2, 0]" in out
    assert f"{e.value - 0.1 * e.backprop:.12g}" in out


@pytest.mark.parametrize("argv,text", [
    (["--layer", "2"], "layer: expected"),
    (["--layer", "1", "--i", "3"], "i: expected"),
    (["--j", "3"], "j: expected"),
    (["--lr", "0"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--i", "-1"], "--i"),
])
def test_command_refuses_bad_options_with_status_2(capsys, argv, text):
    from fastprop.cli import main
    with pytest.raises(SystemExit) as info:
        main(["explain", *argv])
    assert info.value.code == 2
    assert text in capsys.readouterr().err


def test_tutorial_network_is_bias_free_and_uniform_in_0_1_from_the_seed():
    a, X, y = tutorial_network(0)
    b, _, _ = tutorial_network(0)
    c, _, _ = tutorial_network(1)
    assert np.array_equal(a.params, b.params) and not np.array_equal(a.params, c.params)
    assert a.n_params == 9 and all(l.b is None for l in a.layers)
    assert [(l.n_in, l.n_out, l.activation) for l in a.layers] == [(2, 3, "sigmoid"),
                                                                   (3, 1, "sigmoid")]
    assert np.all((0 <= a.params) & (a.params < 1)) and a.loss_name == "mse"
    assert X.tolist() == [[1.0, 1.0]] and y.tolist() == [0.0]


def test_python_dash_m_fastprop_explain_runs():
    res = subprocess.run([sys.executable, "-m", "fastprop", "explain"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "∂L/∂ŷ" in res.stdout and "agree: yes" in res.stdout
