"""Optimizers with torch.optim's semantics: SGD (dampening 0, weight decay added to the
gradient, PyTorch's Nesterov) and Adam (bias correction, eps after the square root, weight
decay added to the gradient: not AdamW). The update itself is compiled (csrc/fp_optim.inc);
an optimizer object holds hyper-parameters and state (momentum buffers, step count), which it
keeps across `fit` calls, as a torch optimizer does. Its state belongs to the first network
it updates."""
import numpy as np

from fastprop import _network
from fastprop._validation import all_finite, as_float

__all__ = ["SGD", "Adam"]


class Optimizer:
    kind = None

    def __init__(self):
        self._state = None          # 2 * N values of the network's dtype
        self._step = np.zeros(1, dtype=np.int64)

    @property
    def steps(self):
        """Number of updates done so far."""
        return int(self._step[0])

    def _bind(self, net):
        """The state arrays for `net`, created at the first call."""
        if self._state is None:
            self._state = np.zeros(2 * net.n_params, dtype=net.dtype)
        elif self._state.shape[0] != 2 * net.n_params or self._state.dtype != net.dtype:
            raise ValueError(
                f"optimizer: its state belongs to a network of {self._state.shape[0] // 2} "
                f"{self._state.dtype} parameters, got a network of {net.n_params} "
                f"{net.dtype} parameters; use a new optimizer for this network")
        return self._state

    def _args(self):
        raise NotImplementedError

    def step(self, net, grad):
        """One update of net.params in place from grad (laid out like params)."""
        state = self._bind(net)
        g = np.asarray(grad)
        if g.shape != net.params.shape:
            raise ValueError(f"grad: expected shape {net.params.shape}, got {g.shape}")
        if g.dtype.kind not in "biuf":
            raise TypeError(f"grad: expected a real numeric dtype, got {g.dtype}")
        g = np.ascontiguousarray(g, dtype=net.dtype)
        if not all_finite(g):
            raise ValueError("grad: expected finite values, got NaN or infinity")
        if not _network.optim_step(*self._args(), self._step, net.params, g, state):
            raise FloatingPointError(
                "step: the update would make parameters or optimizer state non-finite "
                "(overflow); nothing was changed. Lower the learning rate.")


class SGD(Optimizer):
    """Stochastic gradient descent, as torch.optim.SGD with dampening 0."""
    kind = 0

    def __init__(self, lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__()
        self.lr = as_float(lr, "lr", minimum=0.0)
        self.momentum = as_float(momentum, "momentum", minimum=0.0)
        self.nesterov = bool(nesterov)
        self.weight_decay = as_float(weight_decay, "weight_decay", minimum=0.0)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov: Nesterov momentum requires momentum > 0, got momentum = 0")

    def _args(self):
        return (self.kind, self.lr, self.momentum, self.nesterov, self.weight_decay,
                0.0, 0.0, 0.0)

    def __repr__(self):
        return (f"SGD(lr={self.lr}, momentum={self.momentum}, nesterov={self.nesterov}, "
                f"weight_decay={self.weight_decay})")


class Adam(Optimizer):
    """Adam, as torch.optim.Adam (weight decay added to the gradient)."""
    kind = 1

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__()
        self.lr = as_float(lr, "lr", minimum=0.0)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
        self.betas = (as_float(betas[0], "betas[0]", 0.0, 1.0),
                      as_float(betas[1], "betas[1]", 0.0, 1.0))
        self.eps = as_float(eps, "eps", minimum=0.0)
        self.weight_decay = as_float(weight_decay, "weight_decay", minimum=0.0)

    def _args(self):
        return (self.kind, self.lr, 0.0, False, self.weight_decay, self.betas[0], self.betas[1],
                self.eps)

    def __repr__(self):
        return (f"Adam(lr={self.lr}, betas={self.betas}, eps={self.eps}, "
                f"weight_decay={self.weight_decay})")
