"""Helpers that several test files share (test modules cannot import each other or conftest
under --import-mode=importlib; they import this one by its path): the torch twin of a
network, and running a script under two instruction-set paths."""
import os
import subprocess
import sys

import numpy as np


# ---- the torch twin of a network ---------------------------------------------------------
def torch_activation(torch, name):
    nn = torch.nn
    return {"identity": nn.Identity(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(),
            "relu": nn.ReLU(), "leaky_relu": nn.LeakyReLU(0.01), "softmax": nn.Softmax(dim=1),
            "gelu": nn.GELU(), "gelu_tanh": nn.GELU(approximate="tanh"), "silu": nn.SiLU(),
            "elu": nn.ELU(), "softplus": nn.Softplus()}[name]


class TorchTwin:
    """torch Linear layers with weight = W.T, bias = b, copied from a fastprop network."""

    def __init__(self, torch, net):
        self.torch = torch
        self.tdtype = torch.float64 if net.dtype == np.float64 else torch.float32
        self.linears, self.acts = [], []
        for layer in net.layers:
            lin = torch.nn.Linear(layer.n_in, layer.n_out, dtype=self.tdtype)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.W.T.copy()))
                lin.bias.copy_(torch.from_numpy(layer.b.copy()))
            self.linears.append(lin)
            self.acts.append(torch_activation(torch, layer.activation))
        self.output = net.layers[-1].activation
        self.loss_name = net.loss_name

    def parameters(self):
        return [p for lin in self.linears for p in (lin.weight, lin.bias)]

    def logits(self, X):
        a = self.torch.as_tensor(np.asarray(X), dtype=self.tdtype)
        for lin, act in zip(self.linears[:-1], self.acts[:-1]):
            a = act(lin(a))
        return self.linears[-1](a)

    def forward(self, X):
        return self.acts[-1](self.logits(X))

    def loss(self, X, y):
        nn, torch = self.torch.nn, self.torch
        z = self.logits(X)
        if self.loss_name == "mse":
            Y = torch.as_tensor(np.asarray(y), dtype=self.tdtype).reshape(z.shape)
            return nn.MSELoss()(self.acts[-1](z), Y)
        if self.loss_name == "binary_cross_entropy":
            Y = torch.as_tensor(np.asarray(y), dtype=self.tdtype).reshape(z.shape)
            if self.output == "sigmoid":
                return nn.BCEWithLogitsLoss()(z, Y)
            return nn.BCELoss()(self.acts[-1](z), Y)
        y = np.asarray(y)
        if y.ndim == 1:
            return nn.CrossEntropyLoss()(z, torch.as_tensor(y, dtype=torch.long))
        return nn.CrossEntropyLoss()(z, torch.as_tensor(y, dtype=self.tdtype))

    def flat(self):
        """Parameters in fastprop's layout [W1, b1, ...] with W = weight.T."""
        return np.concatenate([np.concatenate([l.weight.detach().numpy().T.ravel(),
                                               l.bias.detach().numpy()]) for l in self.linears])

    def flat_grad(self):
        return np.concatenate([np.concatenate([l.weight.grad.numpy().T.ravel(),
                                               l.bias.grad.numpy()]) for l in self.linears])

    def set_grad(self, grad, net):
        """p.grad of every torch parameter from a fastprop gradient (layout of params)."""
        offset = 0
        for lin, layer in zip(self.linears, net.layers):
            n_w = layer.n_in * layer.n_out
            gW = grad[offset:offset + n_w].reshape(layer.n_in, layer.n_out)
            gb = grad[offset + n_w:offset + n_w + layer.n_out]
            lin.weight.grad = self.torch.from_numpy(gW.T.copy())
            lin.bias.grad = self.torch.from_numpy(gb.copy())
            offset += n_w + layer.n_out

    def backprop(self, X, y):
        for p in self.parameters():
            p.grad = None
        loss = self.loss(X, y)
        loss.backward()
        return float(loss.detach()), self.flat_grad()


# ---- comparing with torch ---------------------------------------------------------------
def assert_close_relative(actual, expected, rtol, ulps_of_largest=0):
    """Elementwise relative agreement, with entries below 1e-6 of the largest compared
    absolutely at that scale (summation order differs between the two libraries).
    ulps_of_largest: also allow that many units in the last place of the largest entry, for
    updates p - lr * u, which torch computes with a fused multiply-add (one rounding, two
    here): where p and lr * u nearly cancel, that one rounding is large relative to the
    result."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    scale = float(np.abs(expected).max())
    atol = max(rtol * 1e-6 * scale, ulps_of_largest * float(np.finfo(actual.dtype).eps) * scale)
    np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64), rtol=rtol,
                               atol=atol)


# ---- the same script under two instruction-set paths -------------------------------------
def bits_under_isa(tmp_path, script_text, cap):
    """Run script_text in a fresh interpreter with the default instruction-set path and with
    FASTPROP_GEMM_ISA=cap; returns {"default": (bytes, simd path), cap: (bytes, simd path)}."""
    script = tmp_path / "isa_script.py"
    script.write_text(script_text)
    out = {}
    for isa in ("default", cap):
        env = dict(os.environ)
        env.pop("FASTPROP_GEMM_ISA", None)
        if isa != "default":
            env["FASTPROP_GEMM_ISA"] = isa
        path = tmp_path / f"{isa}.npy"
        r = subprocess.run([sys.executable, str(script), str(path)], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        out[isa] = (np.load(path), r.stdout.strip())
    return out


def assert_same_bits(tmp_path, script_text, cap, cap_path, min_size, default_path=None):
    """script_text's output under the default path (which must report default_path, when
    given) and under FASTPROP_GEMM_ISA=cap (which must report cap_path): at least min_size
    bytes, the same bits."""
    out = bits_under_isa(tmp_path, script_text, cap)
    assert out[cap][1] == cap_path
    if default_path is not None:
        assert out["default"][1] == default_path
    a, b = out["default"][0], out[cap][0]
    assert a.shape == b.shape and a.size > min_size
    assert a.tobytes() == b.tobytes()      # bit for bit (-0.0 and NaN payloads included)
