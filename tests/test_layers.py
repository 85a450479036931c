"""Dense(n_in, n_out, activation, bias=True, init=None): layers without a bias and layer-wise
weight initialisation. A bias-free layer contributes its W alone to params (and to a
gradient); its backprop equals a numpy reference written here, PyTorch autograd with
nn.Linear(bias=False) and finite differences, on the small-layer path, the GEMM path and the
AVX-512 per-sample path (which gives the general path's bits); fit equals a torch SGD replay;
save/load and pickling keep the flags; each init draws from the network's seed what its
formula says."""
import copy
import io
import os
import pickle
import sys
import zipfile

import numpy as np
import pytest

import fastprop as fp
from fastprop import _core

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import assert_close_relative, assert_same_bits, torch_activation  # noqa: E402

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def seed_network(dtype="float64", seed=0, init="uniform(0, 1)"):
    """The tutorial's 2-3-1 sigmoid network without biases: 9 weights."""
    return fp.Network([fp.Dense(2, 3, "sigmoid", bias=False, init=init),
                       fp.Dense(3, 1, "sigmoid", bias=False, init=init)],
                      loss="mse", dtype=dtype, seed=seed)


# ---- numpy reference, from the formulas (Z = A_prev @ W (+ b), A = f(Z), mean losses) -------
def ref_unpack(layers, params):
    """[(W, b or None)] from the flat buffer: W (n_in, n_out) row-major, then b if any."""
    out, at = [], 0
    for n_in, n_out, bias in layers:
        W = params[at:at + n_in * n_out].reshape(n_in, n_out)
        at += n_in * n_out
        b = None
        if bias:
            b = params[at:at + n_out]
            at += n_out
        out.append((W, b))
    assert at == params.size
    return out


def ref_act(name, z):
    if name == "identity":
        return z
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    assert name == "softmax"
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def ref_act_grad(name, z, a):
    return {"identity": np.ones_like(z), "sigmoid": a * (1 - a), "tanh": 1 - a * a,
            "relu": (z > 0).astype(z.dtype)}[name]


def ref_backprop(net, params, X, y):
    """(loss, grad) of `net` at `params` by the chain rule, in float64."""
    shapes = [(l.n_in, l.n_out, l.bias) for l in net.layers]
    acts = [l.activation for l in net.layers]
    wb = ref_unpack(shapes, np.asarray(params, dtype=np.float64))
    As, Zs = [np.asarray(X, dtype=np.float64)], []
    for (W, b), act in zip(wb, acts):
        Z = As[-1] @ W + (b if b is not None else 0)
        Zs.append(Z)
        As.append(ref_act(act, Z))
    A, n = As[-1], X.shape[0]
    if net.loss_name == "mse":
        Y = np.asarray(y, dtype=np.float64).reshape(A.shape)
        loss = np.mean((A - Y) ** 2)
        dZ = 2 * (A - Y) / A.size * ref_act_grad(acts[-1], Zs[-1], A)
    elif net.loss_name == "binary_cross_entropy":       # sigmoid output
        Y = np.asarray(y, dtype=np.float64).reshape(A.shape)
        loss = -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))
        dZ = (A - Y) / A.size
    else:                                               # softmax + cross-entropy, labels
        Y = np.eye(A.shape[1])[np.asarray(y)]
        loss = -np.mean(np.log(A[np.arange(n), np.asarray(y)]))
        dZ = (A - Y) / n
    grads = []
    for i in range(len(wb) - 1, -1, -1):
        W, b = wb[i]
        g = [(As[i].T @ dZ).ravel()] + ([dZ.sum(axis=0)] if b is not None else [])
        grads = g + grads
        if i > 0:
            dA = dZ @ W.T
            dZ = dA * ref_act_grad(acts[i - 1], Zs[i - 1], As[i])
    return loss, np.concatenate(grads)


# ---- the torch twin, bias or not -------------------------------------------------------------
class TorchNet:
    """torch Linear layers (bias=layer.bias) with weight = W.T, bias = b, from a network."""

    def __init__(self, torch, net):
        self.torch, self.net = torch, net
        self.dt = torch.float64 if net.dtype == np.float64 else torch.float32
        self.linears = []
        for layer in net.layers:
            lin = torch.nn.Linear(layer.n_in, layer.n_out, bias=layer.bias, dtype=self.dt)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.W.T.copy()))
                if layer.bias:
                    lin.bias.copy_(torch.from_numpy(layer.b.copy()))
            self.linears.append(lin)
        self.acts = [torch_activation(torch, l.activation) for l in net.layers]

    def parameters(self):
        return [p for lin in self.linears for p in lin.parameters()]   # weight, then bias

    def loss(self, X, y):
        torch, nn = self.torch, self.torch.nn
        a = torch.as_tensor(np.asarray(X), dtype=self.dt)
        for lin, act in zip(self.linears[:-1], self.acts[:-1]):
            a = act(lin(a))
        z = self.linears[-1](a)
        if self.net.loss_name == "mse":
            Y = torch.as_tensor(y, dtype=self.dt).reshape(z.shape)
            return nn.MSELoss()(self.acts[-1](z), Y)
        if self.net.loss_name == "binary_cross_entropy":
            return nn.BCEWithLogitsLoss()(z, torch.as_tensor(y, dtype=self.dt).reshape(z.shape))
        return nn.CrossEntropyLoss()(z, torch.as_tensor(np.asarray(y), dtype=torch.long))

    def flat(self, grad=False):
        """Parameters (or their .grad) in fastprop's layout: W = weight.T, then b if any."""
        parts = []
        for lin in self.linears:
            w = lin.weight.grad if grad else lin.weight.detach()
            parts.append(w.numpy().T.ravel())
            if lin.bias is not None:
                parts.append((lin.bias.grad if grad else lin.bias.detach()).numpy())
        return np.concatenate(parts)

    def backprop(self, X, y):
        for p in self.parameters():
            p.grad = None
        loss = self.loss(X, y)
        loss.backward()
        return float(loss.detach()), self.flat(grad=True)


def mixed_network(sizes, flags, hidden="tanh", output="identity", loss="mse", seed=3,
                  dtype="float64"):
    acts = [hidden] * (len(sizes) - 2) + [output]
    return fp.Network([fp.Dense(a, b, f, bias=bias) for a, b, f, bias
                       in zip(sizes[:-1], sizes[1:], acts, flags)],
                      loss=loss, dtype=dtype, seed=seed)


def randomise_biases(net, rng):
    for layer in net.layers:
        if layer.bias:
            layer.b[...] = rng.uniform(-0.5, 0.5, size=layer.n_out)


# ---- the seed network: 9 weights, no biases -----------------------------------------------
def test_seed_network_without_biases_has_nine_weights_laid_out_W1_then_W2():
    net = seed_network()
    assert net.n_params == 9 and net.params.shape == (9,)
    l1, l2 = net.layers
    assert l1.b is None and l2.b is None and not l1.bias and not l2.bias
    assert (l1.n_params, l2.n_params) == (6, 3)
    # W1 is params[0:6] row-major, W2 is params[6:9]: views, not copies
    np.testing.assert_array_equal(net.params, np.concatenate([l1.W.ravel(), l2.W.ravel()]))
    net.params[...] = np.arange(9.0)
    np.testing.assert_array_equal(l1.W, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(l2.W, np.arange(6.0, 9.0).reshape(3, 1))
    loss, grad = net.backprop(XOR_X, XOR_Y)
    assert grad.shape == (9,)


def test_seed_network_backprop_equals_the_numpy_reference_and_finite_differences():
    net = seed_network()
    loss, grad = net.backprop(XOR_X, XOR_Y)
    r_loss, r_grad = ref_backprop(net, net.params, XOR_X, XOR_Y)
    assert loss == pytest.approx(r_loss, rel=1e-14)
    np.testing.assert_allclose(grad, r_grad, rtol=1e-12, atol=1e-15)
    numeric = fp.numerical_gradient(net, XOR_X, XOR_Y, scheme="central")
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
    assert fp.gradcheck(net, XOR_X, XOR_Y).ok


def test_seed_network_backprop_equals_torch_autograd_without_bias(torch):
    for dtype, rtol in (("float64", 1e-12), ("float32", 1e-5)):
        net = seed_network(dtype=dtype, seed=4)
        twin = TorchNet(torch, net)
        X = XOR_X.astype(dtype)
        loss, grad = net.backprop(X, XOR_Y)
        t_loss, t_grad = twin.backprop(X, XOR_Y)
        assert len(twin.parameters()) == 2 and all(l.bias is None for l in twin.linears)
        assert loss == pytest.approx(t_loss, rel=rtol)
        assert_close_relative(grad, t_grad, rtol)


def test_per_sample_fit_of_the_seed_network_equals_a_torch_sgd_replay(torch):
    """batch_size=1, no shuffle: on an AVX-512 CPU the per-sample path of fp_tiny.inc."""
    net = seed_network(seed=1)
    twin = TorchNet(torch, net)
    hist = net.fit(XOR_X, XOR_Y, epochs=30, batch_size=1, optimizer=fp.SGD(lr=0.5),
                   shuffle=False)
    opt = torch.optim.SGD(twin.parameters(), lr=0.5)
    losses = []
    for _ in range(30):
        total = 0.0
        for i in range(4):
            opt.zero_grad()
            loss = twin.loss(XOR_X[i:i + 1], XOR_Y[i:i + 1])
            loss.backward()
            opt.step()
            total += loss.item()
        losses.append(total / 4)
    assert_close_relative(net.params, twin.flat(), 1e-11, ulps_of_largest=64)
    np.testing.assert_allclose(hist.loss, losses, rtol=1e-11)


_TINY_SCRIPT = r"""
import sys, numpy as np
import fastprop as fp
rng = np.random.default_rng(5)
out = []
# (sizes, bias flags, hidden, output, loss): the seed network, mixed flags, widths past one
# register (8 doubles: the general path there), every optimizer form, shuffled and not
cases = [([2, 3, 1], (False, False), "sigmoid", "sigmoid", "mse"),
         ([4, 8, 8, 3], (False, True, False), "tanh", "softmax", "cross_entropy"),
         ([3, 7, 1], (True, False), "relu", "sigmoid", "binary_cross_entropy"),
         ([6, 5, 4, 3, 2], (False, True, True, False), "sigmoid", "identity", "mse"),
         ([5, 12, 2], (False, False), "tanh", "identity", "mse")]
for dt in ("float64", "float32"):
    for sizes, flags, hid, o, loss in cases:
        X = rng.standard_normal((17, sizes[0]))
        if loss == "cross_entropy":
            y = rng.integers(0, sizes[-1], 17)
        elif loss == "binary_cross_entropy":
            y = (rng.random((17, sizes[-1])) > 0.5).astype(float)
        else:
            y = rng.standard_normal((17, sizes[-1]))
        for opt, shuffle, clip in [(fp.SGD(lr=0.05, weight_decay=1e-3), True, None),
                                   (fp.SGD(lr=0.05, momentum=0.9, nesterov=True), False, None),
                                   (fp.Adam(lr=0.01), True, None),
                                   (fp.SGD(lr=0.5), True, 0.05)]:   # the clipping norm's sum
            acts = [hid] * (len(sizes) - 2) + [o]
            net = fp.Network([fp.Dense(a, b, f, bias=bb) for a, b, f, bb
                              in zip(sizes[:-1], sizes[1:], acts, flags)],
                             loss=loss, dtype=dt, seed=1)
            h = net.fit(X, y, epochs=3, batch_size=1, optimizer=opt, shuffle=shuffle, seed=2,
                        validation_data=(X[:4], y[:4]), clip_norm=clip)
            out += [np.array(h.loss), np.array(h.val_loss), net.params.astype(np.float64)]
np.save(sys.argv[1], np.concatenate(out))
print(fp.simd_path())
"""


def test_per_sample_path_gives_the_general_paths_bits_without_biases(tmp_path):
    """fp_tiny.inc (AVX-512, batch 1) against the general loop (FASTPROP_GEMM_ISA=avx2), for
    bias-free and mixed networks: the same bits."""
    if not fp.simd_path().startswith("avx512"):
        pytest.skip(f"this CPU runs the {fp.simd_path()} path, not AVX-512")
    assert_same_bits(tmp_path, _TINY_SCRIPT, "avx2", "avx2+fma", 500, fp.simd_path())


# ---- mixed networks, small layers and GEMM-sized ones -----------------------------------
MIXED = [([3, 5, 4, 2], (False, True, False)), ([4, 6, 3], (True, False)),
         ([64, 96, 80, 10], (False, True, False)), ([70, 90, 8], (True, False)),
         ([50, 60, 40, 3], (False, False, True))]


@pytest.mark.parametrize("sizes,flags", MIXED, ids=lambda v: "-".join(map(str, v)))
@pytest.mark.parametrize("output,loss", [("identity", "mse"),
                                         ("sigmoid", "binary_cross_entropy"),
                                         ("softmax", "cross_entropy")])
def test_mixed_bias_networks_backprop_equals_numpy_reference_and_torch(torch, sizes, flags,
                                                                       output, loss):
    n_out = sizes[-1] if loss == "cross_entropy" else 2
    sizes = sizes[:-1] + [max(n_out, 2)]
    rng = np.random.default_rng(sum(sizes))
    net = mixed_network(sizes, flags, hidden="relu" if sizes[0] > 10 else "tanh",
                        output=output, loss=loss)
    randomise_biases(net, rng)
    n = 40      # 40 * 64 * 96 > FP_SMALL_LAYER: the large nets run the GEMM
    X = rng.standard_normal((n, sizes[0]))
    if loss == "cross_entropy":
        y = rng.integers(0, sizes[-1], n)
    elif loss == "binary_cross_entropy":
        y = (rng.random((n, sizes[-1])) > 0.5).astype(float)
    else:
        y = rng.standard_normal((n, sizes[-1]))
    assert net.n_params == sum((a + f) * b for a, b, f in zip(sizes[:-1], sizes[1:], flags))
    value, grad = net.backprop(X, y)
    r_value, r_grad = ref_backprop(net, net.params, X, y)
    t_value, t_grad = TorchNet(torch, net).backprop(X, y)
    assert value == pytest.approx(r_value, rel=1e-12)
    assert value == pytest.approx(t_value, rel=1e-12)
    assert_close_relative(grad, r_grad, 1e-10)
    assert_close_relative(grad, t_grad, 1e-10)
    assert net.loss(X, y) == pytest.approx(value, rel=1e-14)
    np.testing.assert_allclose(net.predict(X)[:, 0], ref_act_out(net, X)[:, 0], rtol=1e-12,
                               atol=1e-14)


def ref_act_out(net, X):
    wb = ref_unpack([(l.n_in, l.n_out, l.bias) for l in net.layers], net.params)
    a = X
    for (W, b), layer in zip(wb, net.layers):
        a = ref_act(layer.activation, a @ W + (b if b is not None else 0))
    return a


def test_finite_differences_agree_with_backprop_on_a_mixed_network():
    rng = np.random.default_rng(8)
    net = mixed_network([4, 6, 5, 2], (False, True, False), hidden="tanh")
    randomise_biases(net, rng)
    X, y = rng.standard_normal((9, 4)), rng.standard_normal((9, 2))
    _, grad = net.backprop(X, y)
    numeric = fp.numerical_gradient(net, X, y, scheme="central")
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("batch", [1, 16])
def test_mini_batch_fit_of_a_mixed_gemm_sized_network_equals_a_torch_replay(torch, batch):
    rng = np.random.default_rng(11)
    net = mixed_network([48, 64, 40, 3], (False, True, False), hidden="relu",
                        output="softmax", loss="cross_entropy")
    randomise_biases(net, rng)
    X, y = rng.standard_normal((48, 48)), rng.integers(0, 3, 48)
    twin = TorchNet(torch, net)
    hist = net.fit(X, y, epochs=2, batch_size=batch,
                   optimizer=fp.SGD(lr=0.05, momentum=0.9), shuffle=False)
    opt = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9)
    for _ in range(2):
        for s in range(0, 48, batch):
            opt.zero_grad()
            twin.loss(X[s:s + batch], y[s:s + batch]).backward()
            opt.step()
    assert_close_relative(net.params, twin.flat(), 1e-9, ulps_of_largest=64)
    assert len(hist.loss) == 2


def test_a_network_of_biased_layers_is_unchanged_by_the_flags():
    """Dense(..., bias=True) given explicitly is today's layer: the same parameters from the
    same seed, and the same backprop bits as an mlp."""
    a = fp.mlp([3, 5, 2], hidden="tanh", seed=7)
    b = fp.Network([fp.Dense(3, 5, "tanh", bias=True), fp.Dense(5, 2, bias=True, init=None)],
                   seed=7)
    assert a.params.tobytes() == b.params.tobytes()
    X, y = np.random.default_rng(0).standard_normal((6, 3)), np.ones((6, 2))
    assert a.backprop(X, y)[1].tobytes() == b.backprop(X, y)[1].tobytes()


def test_bias_free_layer_draws_the_same_weights_and_leaves_the_rest_of_the_stream():
    """Without a bias a layer draws exactly the weights of its biased twin from the seed."""
    with_b = fp.mlp([4, 6, 3], hidden="relu", seed=9)
    without = fp.mlp([4, 6, 3], hidden="relu", seed=9, bias=False)
    for l1, l2 in zip(with_b.layers, without.layers):
        assert l1.W.tobytes() == l2.W.tobytes()
        assert l2.b is None
    assert without.n_params == 4 * 6 + 6 * 3


# ---- files, pickles, copies, repr ----------------------------------------------------------
def test_save_load_round_trip_keeps_bias_flags_and_params(tmp_path):
    net = mixed_network([3, 5, 4, 2], (False, True, False), dtype="float32")
    randomise_biases(net, np.random.default_rng(0))
    path = tmp_path / "m.npz"
    net.save(path)
    back = fp.load(path)
    assert [l.bias for l in back.layers] == [False, True, False]
    assert back.params.tobytes() == net.params.tobytes() and back.dtype == net.dtype
    assert back.layers[0].b is None and back.layers[1].b.shape == (4,)
    X = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    assert back.predict(X).tobytes() == net.predict(X).tobytes()


def test_a_file_without_bias_flags_loads_as_all_bias(tmp_path):
    """Files written before the flags existed (and files of all-bias networks, written the
    same way still): every layer has a bias."""
    net = fp.mlp([3, 4, 2], seed=2)
    path = tmp_path / "m.npz"
    net.save(path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == sorted(f"{m}.npy" for m in (
            "format", "version", "sizes", "activations", "loss", "dtype", "params"))
    back = fp.load(path)
    assert all(l.bias for l in back.layers)
    assert back.params.tobytes() == net.params.tobytes()
    fp.mlp([3, 4, 2], bias=False).save(path)
    with zipfile.ZipFile(path) as z:
        assert "bias.npy" in z.namelist()


@pytest.mark.parametrize("flags,why", [(np.array([1, 0]), "booleans"),
                                       (np.array([True]), "booleans"),
                                       (np.array([True, True]), "params")])
def test_load_refuses_bias_flags_that_do_not_fit(tmp_path, flags, why):
    """Flags of the wrong type or count, or that disagree with the params' count."""
    net = fp.mlp([3, 4, 2], seed=2, bias=False)
    path = tmp_path / "m.npz"
    net.save(path)
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            if info.filename == "bias.npy":
                buf = io.BytesIO()
                np.save(buf, flags)
                dst.writestr(info, buf.getvalue())
            else:
                dst.writestr(info, src.read(info))
    with pytest.raises(ValueError, match=why):
        fp.load(bad)


def test_pickle_and_deepcopy_keep_bias_and_init():
    net = fp.Network([fp.Dense(2, 3, "sigmoid", bias=False, init="uniform(0, 1)"),
                      fp.Dense(3, 1, "sigmoid", init="normal(0.5)")], seed=3)
    for other in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net), copy.copy(net)):
        assert [(l.bias, l.init) for l in other.layers] == [(False, "uniform(0, 1)"),
                                                            (True, "normal(0.5)")]
        assert other.params.tobytes() == net.params.tobytes()
        assert other.layers[0].b is None
        assert np.shares_memory(other.layers[1].W, other.params)
        assert other.backprop(XOR_X, XOR_Y)[1].tobytes() == net.backprop(XOR_X, XOR_Y)[1].tobytes()
    layer = pickle.loads(pickle.dumps(fp.Dense(4, 2, "relu", bias=False, init="he_normal")))
    assert (layer.bias, layer.init, layer.b, layer.W) == (False, "he_normal", None, None)


def test_a_dense_pickled_before_the_flags_unpickles_with_a_bias():
    layer = fp.Dense(3, 2, "tanh")
    state = layer.__getstate__()
    del state["_bias"], state["_init"]
    old = fp.Dense.__new__(fp.Dense)
    old.__setstate__(state)
    assert old.bias is True and old.init is None and old.n_params == 8


def test_repr_shows_what_is_not_the_default():
    assert repr(fp.Dense(2, 3, "sigmoid")) == "Dense(2, 3, 'sigmoid')"
    assert repr(fp.Dense(2, 3, "sigmoid", bias=False)) == "Dense(2, 3, 'sigmoid', bias=False)"
    assert repr(fp.Dense(2, 3, init="normal(0.01)")) == \
        "Dense(2, 3, 'identity', init='normal(0.01)')"
    text = repr(seed_network())
    assert "bias=False" in text and "no b" in text and "n_params=9" in text


# ---- initialisation ----------------------------------------------------------------------
def layer_weights(init, n_in=300, n_out=200, activation="identity", dtype="float64", seed=0):
    net = fp.Network([fp.Dense(n_in, n_out, activation, init=init)], dtype=dtype, seed=seed)
    assert not net.layers[0].b.any()            # biases start at zero
    return net.layers[0].W


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_init_uniform_0_1_is_in_the_half_open_interval_with_its_moments(dtype):
    W = layer_weights("uniform(0, 1)", dtype=dtype).astype(np.float64)
    assert W.min() >= 0 and W.max() < 1
    assert W.mean() == pytest.approx(0.5, abs=0.005)
    assert W.var() == pytest.approx(1 / 12, rel=0.02)


def test_init_uniform_a_b_draws_the_seed_streams_values_layer_by_layer():
    """The weights are numpy's uniform(a, b) draws from the network's seed, layer 1 first."""
    net = fp.Network([fp.Dense(3, 4, init="uniform(-2, 0.5)"),
                      fp.Dense(4, 2, init="uniform(0, 1)")], seed=21)
    rng = np.random.default_rng(21)
    np.testing.assert_array_equal(net.layers[0].W, rng.uniform(-2, 0.5, size=(3, 4)))
    np.testing.assert_array_equal(net.layers[1].W, rng.uniform(0, 1, size=(4, 2)))


def test_init_uniform_stays_below_b_where_float32_rounding_would_reach_it():
    """A narrow interval under 1: many float64 draws round to 1.0f; all are kept below b."""
    W = layer_weights("uniform(0.9999999, 1)", dtype="float32")
    assert W.max() < 1 and W.min() >= np.float32(0.9999999)
    with pytest.raises(ValueError, match="init"):
        layer_weights("uniform(1.00000001, 1.00000002)", dtype="float32")


@pytest.mark.parametrize("init,n_in,n_out,bound,std", [
    ("glorot_uniform", 300, 200, np.sqrt(6 / 500), np.sqrt(2 / 500)),
    ("he_uniform", 300, 200, np.sqrt(6 / 300), np.sqrt(2 / 300)),
    ("he_normal", 300, 200, None, np.sqrt(2 / 300)),
    ("normal(0.01)", 300, 200, None, 0.01),
    ("normal(2.5e-1)", 100, 400, None, 0.25)])
def test_init_rules_have_their_bounds_and_moments(init, n_in, n_out, bound, std):
    W = layer_weights(init, n_in, n_out)
    assert abs(W.mean()) < 4 * std / np.sqrt(W.size)
    assert W.std() == pytest.approx(std, rel=0.01)
    if bound is not None:
        assert np.abs(W).max() <= bound and np.abs(W).max() > 0.99 * bound
    else:   # normal: about 4.6% beyond two standard deviations
        assert np.mean(np.abs(W) > 2 * std) == pytest.approx(0.0455, abs=0.004)


@pytest.mark.parametrize("activation,rule", [("sigmoid", "glorot_uniform"),
                                             ("tanh", "glorot_uniform"), ("relu", "he_uniform"),
                                             ("leaky_relu", "he_uniform")])
def test_init_none_is_the_activations_rule_bit_for_bit(activation, rule):
    a = layer_weights(None, 30, 20, activation, seed=4)
    b = layer_weights(rule, 30, 20, activation, seed=4)
    assert a.tobytes() == b.tobytes()


def test_same_seed_same_init_bits_and_mlp_passes_init_to_every_layer():
    a = fp.mlp([5, 8, 8, 2], init="he_normal", seed=6, dtype="float32")
    b = fp.mlp([5, 8, 8, 2], init="he_normal", seed=6, dtype="float32")
    assert a.params.tobytes() == b.params.tobytes()
    assert all(l.init == "he_normal" for l in a.layers)
    rng = np.random.default_rng(6)
    for layer in a.layers:
        expected = rng.normal(0.0, np.sqrt(2 / layer.n_in), size=(layer.n_in, layer.n_out))
        assert layer.W.tobytes() == expected.astype(np.float32).tobytes()


# ---- bad arguments ----------------------------------------------------------------------
@pytest.mark.parametrize("bias", [1, 0, "yes", None, 1.0, [True]])
def test_bias_must_be_a_bool(bias):
    with pytest.raises(TypeError, match=r"^bias: expected True or False"):
        fp.Dense(2, 3, bias=bias)
    with pytest.raises(TypeError, match=r"^bias:"):
        fp.mlp([2, 3, 1], bias=bias)


@pytest.mark.parametrize("init", ["glorot", "He_uniform", " he_normal", "normal", "normal()",
                                  "normal(0)", "normal(-1)", "normal(nan)", "normal(inf)",
                                  "normal(1e999)", "normal(0.1, 0.2)", "uniform(1, 1)",
                                  "uniform(2, 1)", "uniform(0)", "uniform(0,1", "uniform(a, b)",
                                  "uniform(-1e308, 1e308)", "xavier_normal", "", "normal(1)x",
                                  "normal(0x10)", "normal(1_0)"])
def test_a_bad_init_string_is_a_value_error_listing_the_forms(init):
    with pytest.raises(ValueError, match=r"^init: ") as info:
        fp.Dense(2, 3, init=init)
    if "unknown" in str(info.value):
        for form in ("glorot_uniform", "he_uniform", "he_normal", "normal(std)",
                     "uniform(a, b)"):
            assert form in str(info.value)
    with pytest.raises(ValueError, match=r"^init: "):
        fp.mlp([2, 3, 1], init=init)


@pytest.mark.parametrize("init", [0.01, 1, ("uniform", 0, 1), b"he_normal"])
def test_an_init_of_another_type_is_a_type_error(init):
    with pytest.raises(TypeError, match=r"^init: expected None or a str"):
        fp.Dense(2, 3, init=init)


@pytest.mark.parametrize("init", ["normal(1)", "normal( 0.5 )", "normal(.5)", "normal(5.)",
                                  "normal(1e-3)", "uniform(-1,1)", "uniform( -0.5 , +2E0 )"])
def test_accepted_init_forms(init):
    W = fp.Network([fp.Dense(4, 3, init=init)], seed=0).layers[0].W
    assert np.isfinite(W).all() and W.any()


def test_assigning_b_of_a_layer_without_bias_is_refused_and_changes_nothing():
    net = seed_network()
    before = net.params.copy()
    with pytest.raises(ValueError, match=r"^b: this layer has no bias"):
        net.layers[0].b = np.zeros(3)
    assert net.params.tobytes() == before.tobytes()
    net.layers[0].W = np.ones((2, 3))          # W still assignable
    np.testing.assert_array_equal(net.params[:6], 1.0)


def test_the_compiled_description_checks_its_bias_flags():
    with pytest.raises(ValueError, match=r"^bias: expected 2 flags"):
        _core.NetSpec([2, 3, 1], [1, 1], 0, [True])
    with pytest.raises(ValueError, match=r"^bias: expected flags 0 or 1"):
        _core.NetSpec([2, 3, 1], [1, 1], 0, [1, 2])
    with pytest.raises(TypeError, match=r"^bias:"):
        _core.NetSpec([2, 3, 1], [1, 1], 0, [0.5, 1.0])
    spec = _core.NetSpec([2, 3, 1], [1, 1], 0, [False, True])
    assert spec.bias == (False, True) and spec.n_params == 6 + 4
    assert _core.NetSpec([2, 3, 1], [1, 1], 0).bias == (True, True)
