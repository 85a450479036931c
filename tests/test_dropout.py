"""Dropout(p) between Dense layers: inverted dropout during `fit` only, its masks drawn from
fit's xoshiro256** stream. The masks are rebuilt here by a plain-Python replica of that
generator (csrc/nn/fp_net.inc: a value is kept when (next >> 11) 2^-53 >= p, then scaled by
1 / (1 - p), layer by layer, row by row, after the epoch's shuffle), and training is replayed
in PyTorch with those masks: the same parameters, on small layers, GEMM-sized ones and per
sample. Outside fit the layer is the identity; files, pickles and bad arguments."""
import copy
import os
import pickle
import sys

import numpy as np
import pytest

import fastprop as fp
from fastprop._model import Dropout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import assert_close_relative, torch_activation  # noqa: E402

MASK64 = (1 << 64) - 1


class Xoshiro:
    """xoshiro256** (Blackman and Vigna), the training loop's generator, in plain Python."""

    def __init__(self, state):
        self.s = [int(v) for v in state]

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK64

    def next(self):
        s = self.s
        result = (self.rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self.rotl(s[3], 45)
        return result

    def permutation(self, n):
        """Fisher-Yates as the loop shuffles at each epoch's start."""
        perm = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.next() % (i + 1)
            perm[i], perm[j] = perm[j], perm[i]
        return perm

    def mask(self, rows, cols, p, dtype):
        """The multipliers of one dropout layer for a batch: 1 / (1 - p) (rounded to dtype)
        where kept, 0 where dropped."""
        keep = np.array([(self.next() >> 11) * 2.0 ** -53 >= p for _ in range(rows * cols)])
        return np.where(keep, dtype.type(1.0 / (1.0 - p)), dtype.type(0)).reshape(rows, cols)


def build(spec, loss, dtype="float64", seed=0):
    """spec: Dense(n_in, n_out, act) triples and Dropout rates (floats) in order."""
    layers = [Dropout(s) if isinstance(s, float) else fp.Dense(*s) for s in spec]
    return fp.Network(layers, loss=loss, dtype=dtype, seed=seed)


class TorchReplay:
    """The network in torch, trained with given dropout masks."""

    def __init__(self, torch, net):
        self.torch, self.net = torch, net
        self.dt = torch.float64 if net.dtype == np.float64 else torch.float32
        self.linears, self.acts, self.rates = [], [], []
        for layer in net.layers:
            if isinstance(layer, Dropout):
                self.rates[-1] = layer.p
                continue
            lin = torch.nn.Linear(layer.n_in, layer.n_out, dtype=self.dt)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.W.T.copy()))
                lin.bias.copy_(torch.from_numpy(layer.b.copy()))
            self.linears.append(lin)
            self.acts.append(torch_activation(torch, layer.activation))
            self.rates.append(0.0)

    def parameters(self):
        return [p for lin in self.linears for p in (lin.weight, lin.bias)]

    def loss(self, X, y, masks):
        """masks: for each layer with dropout, in order, the multipliers of this batch."""
        torch, nn = self.torch, self.torch.nn
        a, masks = torch.as_tensor(X, dtype=self.dt), list(masks)
        for lin, act, rate in zip(self.linears[:-1], self.acts[:-1], self.rates[:-1]):
            a = act(lin(a))
            if rate > 0:
                a = a * torch.from_numpy(masks.pop(0))
        z = self.linears[-1](a)
        if self.net.loss_name == "cross_entropy":
            return nn.CrossEntropyLoss()(z, torch.as_tensor(y, dtype=torch.long))
        return nn.MSELoss()(self.acts[-1](z), torch.as_tensor(y, dtype=self.dt).reshape(z.shape))

    def flat(self):
        return np.concatenate([np.concatenate([l.weight.detach().numpy().T.ravel(),
                                               l.bias.detach().numpy()]) for l in self.linears])


def replay(torch, net, X, y, epochs, batch, shuffle, lr, momentum=0.0):
    """Trains a torch copy of net as fit would, masks from the network's stream."""
    twin = TorchReplay(torch, net)
    gen = Xoshiro(net._stream)
    opt = torch.optim.SGD(twin.parameters(), lr=lr, momentum=momentum)
    n, losses = X.shape[0], []
    for _ in range(epochs):
        order = gen.permutation(n) if shuffle else list(range(n))
        total = 0.0
        for s in range(0, n, batch):
            rows = order[s:s + batch]
            masks = [gen.mask(len(rows), lin.out_features, rate, net.dtype)
                     for lin, rate in zip(twin.linears, twin.rates) if rate > 0]
            opt.zero_grad()
            loss = twin.loss(X[rows], y[rows], masks)
            loss.backward()
            opt.step()
            total += loss.item() * len(rows)
        losses.append(total / n)
    return twin, losses


CASES = {
    "small": ([(5, 8, "tanh"), 0.3, (8, 6, "relu"), 0.5, (6, 3, "softmax")], "cross_entropy"),
    "gemm": ([(40, 64, "relu"), 0.25, (64, 48, "sigmoid"), 0.6, (48, 2, "identity")], "mse"),
}


def data(net, n, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, net.n_in)).astype(net.dtype)
    if net.loss_name == "cross_entropy":
        return X, rng.integers(0, net.n_out, n)
    return X, rng.standard_normal((n, net.n_out)).astype(net.dtype)


@pytest.mark.parametrize("case", list(CASES))
def test_one_sgd_step_equals_torch_with_the_same_masks(torch, case):
    spec, loss = CASES[case]
    net = build(spec, loss, seed=3)
    X, y = data(net, 32)       # 32 rows: 32 * 40 * 64 > FP_SMALL_LAYER, the GEMM for "gemm"
    twin, losses = replay(torch, net, X, y, epochs=1, batch=32, shuffle=False, lr=0.1)
    hist = net.fit(X, y, epochs=1, batch_size=32, optimizer=fp.SGD(lr=0.1), shuffle=False)
    assert_close_relative(net.params, twin.flat(), 1e-12, ulps_of_largest=64)
    assert hist.loss[0] == pytest.approx(losses[0], rel=1e-12)
    # and the loss of that step is not the loss without dropout
    plain = build(spec, loss, seed=3)
    assert hist.loss[0] != pytest.approx(plain.loss(X, y), rel=1e-6)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("batch", [1, 7])
def test_shuffled_epochs_replay_in_torch_with_the_streams_masks(torch, case, batch):
    """The masks follow the epoch's shuffle in the same stream; batch 1 (where the CPU has
    AVX-512, the per-sample path would run without dropout) gives the general loop's masks."""
    spec, loss = CASES[case]
    net = build(spec, loss, seed=4)
    X, y = data(net, 15, seed=2)
    twin, losses = replay(torch, net, X, y, epochs=2, batch=batch, shuffle=True, lr=0.05,
                          momentum=0.9)
    hist = net.fit(X, y, epochs=2, batch_size=batch, optimizer=fp.SGD(lr=0.05, momentum=0.9))
    assert_close_relative(net.params, twin.flat(), 1e-10, ulps_of_largest=64)
    np.testing.assert_allclose(hist.loss, losses, rtol=1e-10)


def test_float32_step_agrees_with_torch(torch):
    spec, loss = CASES["gemm"]
    net = build(spec, loss, dtype="float32", seed=5)
    X, y = data(net, 32)
    twin, _ = replay(torch, net, X, y, epochs=1, batch=16, shuffle=False, lr=0.1)
    net.fit(X, y, epochs=1, batch_size=16, optimizer=fp.SGD(lr=0.1), shuffle=False)
    assert_close_relative(net.params, twin.flat(), 1e-5, ulps_of_largest=64)


def test_dropout_is_the_identity_outside_fit():
    spec, loss = CASES["gemm"]
    net = build(spec, loss, seed=6)
    plain = build([s for s in spec if not isinstance(s, float)], loss, seed=6)
    assert net.params.tobytes() == plain.params.tobytes() and net.n_params == plain.n_params
    X, y = data(net, 40)
    assert net.predict(X).tobytes() == plain.predict(X).tobytes()
    assert net.loss(X, y) == plain.loss(X, y)
    assert net.backprop(X, y)[1].tobytes() == plain.backprop(X, y)[1].tobytes()
    idx = np.arange(0, net.n_params, 97)
    assert fp.numerical_gradient(net, X[:5], y[:5], indices=idx).tobytes() == \
        fp.numerical_gradient(plain, X[:5], y[:5], indices=idx).tobytes()
    # validation losses too: evaluated without dropout, after each epoch
    hist = net.fit(X, y, epochs=2, batch_size=8, validation_data=(X, y), seed=0)
    assert hist.val_loss[-1] == net.loss(X, y)


def test_a_seed_reproduces_the_masks_and_another_changes_them():
    spec, loss = CASES["small"]
    X, y = data(build(spec, loss), 30)
    runs = []
    for fit_seed in (11, 11, 12):
        net = build(spec, loss, seed=0)
        net.fit(X, y, epochs=3, batch_size=5, seed=fit_seed)
        runs.append(net.params.copy())
    assert runs[0].tobytes() == runs[1].tobytes()
    assert runs[0].tobytes() != runs[2].tobytes()
    # without shuffling the only randomness is the masks
    a, b = build(spec, loss, seed=0), build(spec, loss, seed=0)
    a.fit(X, y, epochs=1, batch_size=5, shuffle=False, seed=1)
    b.fit(X, y, epochs=1, batch_size=5, shuffle=False, seed=2)
    assert a.params.tobytes() != b.params.tobytes()


def test_dropout_zero_is_the_identity_in_fit_too_and_draws_nothing():
    spec = [(5, 8, "tanh"), 0.0, (8, 3, "softmax")]
    net = build(spec, "cross_entropy", seed=2)
    plain = build([spec[0], spec[2]], "cross_entropy", seed=2)
    X, y = data(net, 20)
    net.fit(X, y, epochs=2, batch_size=4, seed=3)
    plain.fit(X, y, epochs=2, batch_size=4, seed=3)
    assert net.params.tobytes() == plain.params.tobytes()
    assert net._stream.tobytes() == plain._stream.tobytes()


def test_kept_fraction_is_one_minus_p():
    """Through the replica: p of a large layer's values dropped; a check that the replica's
    masks are what the rate says (the torch tests check that fit uses them)."""
    gen = Xoshiro([1, 2, 3, 4])
    m = gen.mask(100, 100, 0.3, np.dtype(np.float64))
    assert np.mean(m == 0) == pytest.approx(0.3, abs=0.015)
    assert set(np.unique(m)) == {0.0, 1 / 0.7}


# ---- layers, files, copies ---------------------------------------------------------------
def test_layers_keep_the_dropout_and_parameters_skip_it():
    net = build(CASES["small"][0], "cross_entropy")
    kinds = [type(l).__name__ for l in net.layers]
    assert kinds == ["Dense", "Dropout", "Dense", "Dropout", "Dense"]
    assert net.layers[1].p == 0.3 and net.layers[1].n_params == 0
    assert net.n_params == 6 * 8 + 9 * 6 + 7 * 3
    assert "(1) Dropout(0.3)" in repr(net)


def test_save_load_pickle_and_copy_keep_the_dropout(tmp_path):
    net = build(CASES["small"][0], "cross_entropy", seed=8)
    path = tmp_path / "d.npz"
    net.save(path)
    X, y = data(net, 12)
    for other in (fp.load(path), pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert [repr(l) for l in other.layers] == [repr(l) for l in net.layers]
        assert other.params.tobytes() == net.params.tobytes()
        a, b = copy.deepcopy(net), other
        b._stream[...] = a._stream
        a.fit(X, y, epochs=1, batch_size=4)
        b.fit(X, y, epochs=1, batch_size=4)
        assert a.params.tobytes() == b.params.tobytes()      # the same dropout in training


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, float("nan"), float("inf")])
def test_a_rate_outside_0_1_is_a_value_error_naming_p(p):
    with pytest.raises(ValueError, match=r"^p: "):
        Dropout(p)


@pytest.mark.parametrize("p", ["0.5", None, True, [0.5]])
def test_a_rate_that_is_not_a_number_is_a_type_error_naming_p(p):
    with pytest.raises(TypeError, match=r"^p: "):
        Dropout(p)


@pytest.mark.parametrize("layers,where", [
    ([Dropout(0.5), fp.Dense(2, 3)], r"layers\[0\]: .*first"),
    ([fp.Dense(2, 3), Dropout(0.5)], r"layers\[1\]: .*last"),
    ([fp.Dense(2, 3), Dropout(0.5), Dropout(0.2), fp.Dense(3, 1)],
     r"layers\[2\]: .*after another Dropout"),
    ([fp.Dense(2, 3), Dropout(0.5), fp.Dense(4, 1)], r"layers\[2\]: expected n_in = 3")])
def test_dropout_placement_is_checked(layers, where):
    with pytest.raises(ValueError, match=where):
        fp.Network(layers)


def test_the_compiled_description_checks_the_rates():
    from fastprop import _core
    with pytest.raises(ValueError, match=r"^dropout: .*last layer's 0"):
        _core.NetSpec([2, 3, 1], [1, 1], 0, None, [0.0, 0.5])
    with pytest.raises(ValueError, match=r"^dropout: "):
        _core.NetSpec([2, 3, 1], [1, 1], 0, None, [1.0, 0.0])
    with pytest.raises(ValueError, match=r"^dropout: expected 2 rates"):
        _core.NetSpec([2, 3, 1], [1, 1], 0, None, [0.1])
    assert _core.NetSpec([2, 3, 1], [1, 1], 0, None, [0.25, 0.0]).dropout == (0.25, 0.0)
