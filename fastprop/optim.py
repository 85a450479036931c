"""Optimizers with torch.optim's semantics: SGD (dampening 0, weight decay added to the
gradient, PyTorch's Nesterov) and Adam (bias correction, eps after the square root, weight
decay added to the gradient: not AdamW). The update itself is compiled (csrc/fp_optim.inc);
an optimizer object holds hyper-parameters and state (momentum buffers, step count), which it
keeps across `fit` calls, as a torch optimizer does. Its state belongs to the first network
it updates: another network, even of the same shape, is refused (as a torch optimizer is tied
to its parameters). Hyper-parameters may be changed between calls (a learning-rate schedule);
they are checked again at every call, before anything is changed."""
import weakref

import numpy as np

from fastprop import _core
from fastprop._validation import all_finite, as_dtype_finite, as_float
from fastprop.network import check_network

__all__ = ["SGD", "Adam"]


def _as_bool(value, argument):
    """True/False from a bool (numpy's too) or the integers 0 and 1; anything else refused
    (bool('no') is True)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{argument}: expected True or False, got {type(value).__name__} {value!r}")


class Optimizer:
    kind = None

    def __init__(self):
        self._state = None          # 2 * N values of the network's dtype
        self._net = None            # weak reference to the network the state belongs to
        self._step = np.zeros(1, dtype=np.int64)

    @property
    def steps(self):
        """Number of updates done so far."""
        return int(self._step[0])

    def __getstate__(self):
        """copy and pickle: the network the state belongs to goes along (strongly), so that a
        deep copy or a pickle of (net, optimizer) gives a pair that still belongs together."""
        state = self.__dict__.copy()
        if self._net is not None:
            state["_net"] = self._net()     # None when that network no longer exists
            state["_bound"] = True
        return state

    def __setstate__(self, state):
        bound = state.pop("_bound", False)
        net = state.pop("_net", None)
        self.__dict__.update(state)
        # bound to a network that no longer exists: refused with any network, as before
        self._net = (weakref.ref(net) if net is not None else (lambda: None)) if bound else None

    def _check_args_for(self, args, net):
        """Refuses hyper-parameters (from _args) that the network's dtype cannot hold; none
        here (Adam's eps)."""

    def _check_net(self, net):
        """Refuses a network other than the one the state belongs to (changes nothing)."""
        check_network(net)
        if self._net is not None and self._net() is not net:
            raise ValueError(
                f"optimizer: its state (step {self.steps}) belongs to another network "
                f"({self._state.shape[0] // 2} {self._state.dtype} parameters); use a new "
                f"optimizer for this network")

    def _bind(self, net):
        """The state arrays for `net`, created at the first call. Call after every check."""
        self._check_net(net)
        if self._state is None:
            self._state = np.zeros(2 * net.n_params, dtype=net.dtype)
            self._net = weakref.ref(net)
        return self._state

    def _args(self):
        """The hyper-parameters for the compiled update, checked again (they may have been
        changed since construction)."""
        raise NotImplementedError

    def step(self, net, grad):
        """One update of net.params in place from grad (laid out like params)."""
        self._check_net(net)
        net._check_writeable("Optimizer.step")
        args = self._args()
        self._check_args_for(args, net)
        g = np.asarray(grad)
        if g.shape != net.params.shape:
            raise ValueError(f"grad: expected shape {net.params.shape}, got {g.shape}")
        if g.dtype.kind not in "biuf":
            raise TypeError(f"grad: expected a real numeric dtype, got {g.dtype}")
        if g.dtype.kind == "f" and not all_finite(g):
            raise ValueError("grad: expected finite values, got NaN or infinity")
        g = as_dtype_finite(g, net.dtype, "grad")   # names values beyond float32's range
        with net._lock:
            state = self._bind(net)
            ok = _core.optim_step(*args, self._step, net.params, g, state)
        if not ok:
            raise FloatingPointError(
                "step: the update would make parameters or optimizer state non-finite "
                "(overflow); nothing was changed. Lower the learning rate.")


class SGD(Optimizer):
    """Stochastic gradient descent, as torch.optim.SGD with dampening 0."""
    kind = 0

    def __init__(self, lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__()
        self.lr, self.momentum, self.nesterov, self.weight_decay = lr, momentum, nesterov, \
            weight_decay
        _, self.lr, self.momentum, self.nesterov, self.weight_decay = self._args()[:5]

    def _args(self):
        lr = as_float(self.lr, "lr", minimum=0.0)
        momentum = as_float(self.momentum, "momentum", minimum=0.0)
        nesterov = _as_bool(self.nesterov, "nesterov")
        weight_decay = as_float(self.weight_decay, "weight_decay", minimum=0.0)
        if nesterov and momentum == 0:
            raise ValueError("nesterov: Nesterov momentum requires momentum > 0, got momentum = 0")
        return (self.kind, lr, momentum, nesterov, weight_decay, 0.0, 0.0, 0.0)

    def __repr__(self):
        return (f"SGD(lr={self.lr}, momentum={self.momentum}, nesterov={self.nesterov}, "
                f"weight_decay={self.weight_decay})")


class Adam(Optimizer):
    """Adam, as torch.optim.Adam (weight decay added to the gradient)."""
    kind = 1

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__()
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        _, self.lr, _, _, self.weight_decay, b1, b2, self.eps = self._args()
        self.betas = (b1, b2)

    def _args(self):
        lr = as_float(self.lr, "lr", minimum=0.0)
        betas = self.betas
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
        b1, b2 = as_float(betas[0], "betas[0]", 0.0, 1.0), as_float(betas[1], "betas[1]", 0.0, 1.0)
        eps = as_float(self.eps, "eps", minimum=0.0)
        if eps == 0:
            raise ValueError("eps: expected a positive number (with eps = 0, a parameter whose "
                             "gradient stays 0 gets 0 / 0), got 0.0")
        weight_decay = as_float(self.weight_decay, "weight_decay", minimum=0.0)
        return (self.kind, lr, 0.0, False, weight_decay, b1, b2, eps)

    def _check_args_for(self, args, net):
        eps = args[7]
        if net.dtype.type(eps) == 0:   # the update runs in the network's dtype
            raise ValueError(f"eps: {eps:g} rounds to 0 in the network's dtype "
                             f"({net.dtype.name}), where a parameter whose gradient stays 0 "
                             f"gets 0 / 0; expected a value that rounds to at least "
                             f"{float(np.finfo(net.dtype).smallest_subnormal):g} there")

    def __repr__(self):
        return (f"Adam(lr={self.lr}, betas={self.betas}, eps={self.eps}, "
                f"weight_decay={self.weight_decay})")
