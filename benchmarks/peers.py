"""Peer implementations that fastprop is compared against (benchmarks/compare.py and
benchmarks/bench_kernels.py). The numpy and plain-Python peers import nothing of fastprop.

- `NumpyMLP`: a plain, vectorised numpy MLP (forward, backward, SGD step), written for the
  comparison the way a careful numpy programmer would: weights (n_in, n_out) row-major, rows
  are samples, matmuls into preallocated buffers (`out=`), in-place elementwise updates,
  float32 or float64, activations relu / sigmoid / tanh / identity, output softmax +
  cross-entropy or any activation + MSE. Losses use mean reduction, as fastprop and PyTorch.
- `ScalarTutorial`: the classic tutorial 2-3-1 sigmoid network with MSE and per-sample SGD in
  plain Python (lists of floats and math.exp only).
- `TorchTrainer`: the idiomatic PyTorch loop (nn.Sequential, loss, opt.zero_grad();
  loss.backward(); opt.step()), for the given number of threads. Its model is
  fastprop.timing.TorchMLP, the one PyTorch counterpart of a fastprop network, which
  `fastprop bench` times too.
"""
import math

import numpy as np

__all__ = ["NumpyMLP", "ScalarTutorial", "tutorial_data", "torch_available", "TorchTrainer",
           "glorot_he_init"]


# ---------------------------------------------------------------------------------------------
# Initialisation shared by the peers (same rule as fastprop: He uniform for relu layers,
# Glorot uniform otherwise, biases zero). Equal shapes and scales; not bit-equal weights.
def glorot_he_init(sizes, hidden, output, rng, dtype):
    params = []
    for i in range(len(sizes) - 1):
        n_in, n_out = sizes[i], sizes[i + 1]
        act = hidden if i < len(sizes) - 2 else output
        bound = math.sqrt(6.0 / n_in) if act == "relu" else math.sqrt(6.0 / (n_in + n_out))
        W = rng.uniform(-bound, bound, size=(n_in, n_out)).astype(dtype)
        b = np.zeros(n_out, dtype=dtype)
        params.append((W, b))
    return params


# ---------------------------------------------------------------------------------------------
class NumpyMLP:
    """A vectorised numpy MLP trained by backpropagation and SGD (optionally with momentum,
    torch.optim.SGD's formula, Nesterov too).

    sizes: [n_in, h1, ..., n_out]; hidden: "relu", "sigmoid", "tanh" or "identity";
    output: "softmax" (loss "cross_entropy", integer labels) or any hidden activation
    (loss "mse", targets (n, n_out)). Buffers are allocated once per batch size."""

    def __init__(self, sizes, hidden="relu", output="identity", loss="mse", dtype="float32",
                 seed=0):
        if loss == "cross_entropy" and output != "softmax":
            raise ValueError("cross_entropy needs a softmax output")
        self.sizes = list(sizes)
        self.hidden, self.output, self.loss_name = hidden, output, loss
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        self.params = glorot_he_init(self.sizes, hidden, output, rng, self.dtype)
        self.acts = [hidden] * (len(self.sizes) - 2) + [output]
        self.grads = [(np.empty_like(W), np.empty_like(b)) for W, b in self.params]
        self.velocity = None
        self.rows_allocated = 0

    # -- workspace ----------------------------------------------------------------------
    def buffers(self, rows):
        if rows != self.rows_allocated:
            dt = self.dtype
            self.Z = [np.empty((rows, n), dt) for n in self.sizes[1:]]
            self.A = [np.empty((rows, n), dt) for n in self.sizes[1:]]
            self.dZ = [np.empty((rows, n), dt) for n in self.sizes[1:]]
            self.dA = [np.empty((rows, n), dt) for n in self.sizes[1:-1]]
            self.rows_allocated = rows

    # -- activations --------------------------------------------------------------------
    @staticmethod
    def activate(name, Z, A):
        if name == "relu":
            np.maximum(Z, 0, out=A)
        elif name == "sigmoid":
            np.negative(Z, out=A)
            np.exp(A, out=A)
            A += 1
            np.reciprocal(A, out=A)
        elif name == "tanh":
            np.tanh(Z, out=A)
        elif name == "identity":
            A[...] = Z
        elif name == "softmax":
            np.subtract(Z, Z.max(axis=1, keepdims=True), out=A)
            np.exp(A, out=A)
            A /= A.sum(axis=1, keepdims=True)
        else:
            raise ValueError(f"unknown activation {name!r}")

    @staticmethod
    def activate_backward(name, Z, A, dA, dZ):
        """dZ = dA * f'(Z), in place into dZ (dA may be dZ)."""
        if name == "relu":
            np.multiply(dA, Z > 0, out=dZ)
        elif name == "sigmoid":
            np.multiply(dA, A, out=dZ)
            dZ *= 1 - A
        elif name == "tanh":
            np.multiply(dA, 1 - A * A, out=dZ)
        elif name == "identity":
            if dZ is not dA:
                dZ[...] = dA
        else:
            raise ValueError(f"no hidden derivative for {name!r}")

    # -- passes -------------------------------------------------------------------------
    def forward(self, X):
        self.buffers(X.shape[0])
        A_prev = X
        for l, (W, b) in enumerate(self.params):
            Z = self.Z[l]
            np.matmul(A_prev, W, out=Z)
            Z += b
            self.activate(self.acts[l], Z, self.A[l])
            A_prev = self.A[l]
        return A_prev

    def predict(self, X):
        return self.forward(np.ascontiguousarray(X, dtype=self.dtype)).copy()

    def backward(self, X, y):
        """Loss (mean) of the last forward pass; gradients into self.grads."""
        n = X.shape[0]
        L = len(self.params)
        out, dZ = self.A[-1], self.dZ[-1]
        if self.loss_name == "cross_entropy":
            idx = np.arange(n)
            p = out[idx, y]
            loss = -float(np.log(np.maximum(p, np.finfo(self.dtype).tiny)).mean())
            dZ[...] = out
            dZ[idx, y] -= 1
            dZ *= self.dtype.type(1.0 / n)
        else:  # mse, mean over all elements
            np.subtract(out, y, out=dZ)
            loss = float(np.mean(dZ * dZ))
            dZ *= self.dtype.type(2.0 / dZ.size)
            self.activate_backward(self.acts[-1], self.Z[-1], out, dZ, dZ)
        for l in range(L - 1, -1, -1):
            W, _ = self.params[l]
            gW, gb = self.grads[l]
            A_prev = X if l == 0 else self.A[l - 1]
            np.matmul(A_prev.T, self.dZ[l], out=gW)
            np.sum(self.dZ[l], axis=0, out=gb)
            if l > 0:
                dA = self.dA[l - 1]
                np.matmul(self.dZ[l], W.T, out=dA)
                self.activate_backward(self.acts[l - 1], self.Z[l - 1], self.A[l - 1], dA,
                                   self.dZ[l - 1])
        return loss

    def sgd_step(self, lr, momentum=0.0, nesterov=False):
        """torch.optim.SGD (dampening 0, no weight decay)."""
        lr = self.dtype.type(lr)
        if momentum == 0.0:
            for (W, b), (gW, gb) in zip(self.params, self.grads):
                W -= lr * gW
                b -= lr * gb
            return
        mu = self.dtype.type(momentum)
        if self.velocity is None:
            self.velocity = [(gW.copy(), gb.copy()) for gW, gb in self.grads]
        else:
            for (vW, vb), (gW, gb) in zip(self.velocity, self.grads):
                vW *= mu
                vW += gW
                vb *= mu
                vb += gb
        for (W, b), (gW, gb), (vW, vb) in zip(self.params, self.grads, self.velocity):
            if nesterov:
                W -= lr * (gW + mu * vW)
                b -= lr * (gb + mu * vb)
            else:
                W -= lr * vW
                b -= lr * vb

    def train_step(self, X, y, lr, momentum=0.0, nesterov=False):
        """One SGD step on the batch (X, y): forward, backward, update. Returns the loss."""
        self.forward(X)
        loss = self.backward(X, y)
        self.sgd_step(lr, momentum, nesterov)
        return loss

    def fit(self, X, y, epochs, batch_size, lr, momentum=0.0, nesterov=False, shuffle=False,
            seed=0):
        """Mini-batch SGD over (X, y), the last partial batch used. X must be C-contiguous of
        the network's dtype (conversions are the caller's, once)."""
        n = X.shape[0]
        rng = np.random.default_rng(seed)
        for _ in range(epochs):
            if shuffle:
                perm = rng.permutation(n)
                Xe, ye = X[perm], y[perm]
            else:
                Xe, ye = X, y
            for s in range(0, n, batch_size):
                self.train_step(Xe[s:s + batch_size], ye[s:s + batch_size], lr, momentum,
                                nesterov)
        return self


# ---------------------------------------------------------------------------------------------
def tutorial_data(n=1000, seed=0, dtype=np.float64):
    """Data of the tutorial 2-3-1 network: 2 features in [0, 1), a 0/1 target (XOR of the
    features' halves)."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, 2)).astype(dtype)
    y = ((X[:, 0] > 0.5) ^ (X[:, 1] > 0.5)).astype(dtype).reshape(n, 1)
    return X, y


def tutorial_init(seed=0):
    """(W1 2x3, b1 3, W2 3x1, b2 1) as nested Python lists: glorot_he_init's weights of the
    2-3-1 sigmoid network (Glorot uniform, biases zero)."""
    (W1, b1), (W2, b2) = glorot_he_init([2, 3, 1], "sigmoid", "sigmoid",
                                        np.random.default_rng(seed), np.float64)
    return W1.tolist(), b1.tolist(), W2.tolist(), b2.tolist()


class ScalarTutorial:
    """The tutorial 2-3-1 sigmoid network, MSE loss, per-sample SGD, in plain Python scalar
    loops (lists and math.exp only)."""

    def __init__(self, seed=0):
        self.W1, self.b1, self.W2, self.b2 = tutorial_init(seed)

    def fit(self, X, y, epochs, lr):
        """X: list of [x0, x1]; y: list of floats. Returns the mean loss of the last epoch."""
        W1, b1, W2, b2 = self.W1, self.b1, self.W2, self.b2
        exp = math.exp
        loss = 0.0
        for _ in range(epochs):
            loss = 0.0
            for (x0, x1), t in zip(X, y):
                # forward
                h = [0.0, 0.0, 0.0]
                for j in range(3):
                    h[j] = 1.0 / (1.0 + exp(-(x0 * W1[0][j] + x1 * W1[1][j] + b1[j])))
                z = h[0] * W2[0][0] + h[1] * W2[1][0] + h[2] * W2[2][0] + b2[0]
                o = 1.0 / (1.0 + exp(-z))
                e = o - t
                loss += e * e
                # backward: dL/do = 2 (o - t), through the output sigmoid
                dz = 2.0 * e * o * (1.0 - o)
                for j in range(3):
                    dh = dz * W2[j][0] * h[j] * (1.0 - h[j])
                    W2[j][0] -= lr * dz * h[j]
                    W1[0][j] -= lr * dh * x0
                    W1[1][j] -= lr * dh * x1
                    b1[j] -= lr * dh
                b2[0] -= lr * dz
            loss /= max(len(y), 1)
        return loss

    def predict(self, X):
        out = []
        for x0, x1 in X:
            h = [1.0 / (1.0 + math.exp(-(x0 * self.W1[0][j] + x1 * self.W1[1][j] + self.b1[j])))
                 for j in range(3)]
            z = sum(h[j] * self.W2[j][0] for j in range(3)) + self.b2[0]
            out.append(1.0 / (1.0 + math.exp(-z)))
        return out


# ---------------------------------------------------------------------------------------------
def torch_available():
    try:
        import torch  # noqa: F401
    except Exception:
        return False
    return True


class TorchTrainer:
    """The idiomatic PyTorch loop: nn.Sequential, a loss module, torch.optim.SGD;
    per step opt.zero_grad(); loss = crit(model(x), y); loss.backward(); opt.step().

    output "softmax" means logits + nn.CrossEntropyLoss (which applies log-softmax)."""

    def __init__(self, sizes, hidden="relu", output="identity", loss="mse", dtype="float32",
                 lr=0.01, momentum=0.0, nesterov=False, seed=0):
        import torch
        from fastprop.timing import TorchMLP
        self.torch = torch
        layers = [(sizes[i], sizes[i + 1], hidden if i < len(sizes) - 2 else output)
                  for i in range(len(sizes) - 1)]
        self.twin = TorchMLP(layers, loss, dtype, seed=seed)   # torch's own initialisation
        self.dtype, self.model, self.crit = self.twin.dtype, self.twin.model, self.twin.loss_fn
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=momentum,
                                   nesterov=nesterov)

    def tensors(self, X, y):
        """X, y as torch tensors (from numpy, no copy when possible): done once, outside timing."""
        return self.twin.tensors(X, y)

    def step(self, x, y):
        self.opt.zero_grad()
        loss = self.crit(self.model(x), y)
        loss.backward()
        self.opt.step()
        return loss

    def run(self, batches):
        """One step per (x, y) pair of `batches` (a list of tensor pairs)."""
        step = self.step
        for x, y in batches:
            step(x, y)

    def fit(self, Xt, yt, epochs, batch_size, shuffle=False, seed=0):
        torch = self.torch
        g = torch.Generator().manual_seed(seed)
        n = Xt.shape[0]
        step = self.step
        for _ in range(epochs):
            if shuffle:
                perm = torch.randperm(n, generator=g)
                Xe, ye = Xt[perm], yt[perm]
            else:
                Xe, ye = Xt, yt
            for s in range(0, n, batch_size):
                step(Xe[s:s + batch_size], ye[s:s + batch_size])
        return self

    def predict(self, Xt):
        with self.torch.no_grad():
            return self.model(Xt).numpy()
