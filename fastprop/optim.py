"""Optimizers with torch.optim's semantics and defaults: SGD (dampening 0, weight decay added
to the gradient, PyTorch's Nesterov), Adam (bias correction, eps after the square root,
weight decay added to the gradient), AdamW (decoupled weight decay), RMSprop and Adagrad.
The update itself is compiled (csrc/nn/fp_optim.inc, listed in csrc/nn/fp_rules.h); each
class here names its rule in that table and checks its hyper-parameters. It
holds hyper-parameters and state (momentum buffers, step count), which it keeps across `fit`
calls, as a torch optimizer does. Its state belongs to the first network
it updates: another network, even of the same shape, is refused (as a torch optimizer is tied
to its parameters). Hyper-parameters may be changed between calls (a learning-rate schedule);
they are checked again at every call, before anything is changed."""
import weakref

import numpy as np

from fastprop import _core
from fastprop._validation import all_finite, as_dtype_finite, as_float
from fastprop._model import check_network

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]

# name -> (code, state buffers), from the C table
_RULES = {name: (code, n_state)
          for code, (name, n_state) in enumerate(_core.rule_tables()["optimizers"])}


def _as_bool(value, argument):
    """True/False from a bool (numpy's too) or the integers 0 and 1; anything else refused
    (bool('no') is True)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{argument}: expected True or False, got {type(value).__name__} {value!r}")


class Optimizer:
    rule = None                     # its name in the C table (csrc/nn/fp_rules.h)

    def __init__(self):
        self._state = None          # n_state * N values of the network's dtype
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
        """Refuses hyper-parameters (from _args) that the network's dtype cannot hold: an eps
        that rounds to 0 there."""
        eps = args.get("eps")
        if eps is not None and net.dtype.type(eps) == 0:   # the update runs in that dtype
            raise ValueError(f"eps: {eps:g} rounds to 0 in the network's dtype "
                             f"({net.dtype.name}), where a parameter whose gradient stays 0 "
                             f"gets 0 / 0; expected a value that rounds to at least "
                             f"{float(np.finfo(net.dtype).smallest_subnormal):g} there")

    def _check_net(self, net):
        """Refuses a network other than the one the state belongs to (changes nothing)."""
        check_network(net)
        if self._net is not None and self._net() is not net:
            raise ValueError(
                f"optimizer: its state (step {self.steps}) belongs to another network "
                f"({self._state.shape[0] // _RULES[self.rule][1]} {self._state.dtype} "
                f"parameters); use a new optimizer for this network")

    def _bind(self, net):
        """The state arrays for `net`, created at the first call. Call after every check."""
        self._check_net(net)
        if self._state is None:
            self._state = self._initial_state(_RULES[self.rule][1], net.n_params, net.dtype)
            self._net = weakref.ref(net)
        return self._state

    def _initial_state(self, n_state, N, dtype):
        return np.zeros(n_state * N, dtype=dtype)

    def _args(self):
        """The hyper-parameters for the compiled update by torch.optim's names (a dict),
        checked again (they may have been changed since construction)."""
        raise NotImplementedError

    def _spec(self, args):
        """The compiled floor's description of this update (fastprop._core.OptimSpec)."""
        return _core.OptimSpec(_RULES[self.rule][0], self._step, **args)

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
            ok = _core.optim_step(self._spec(args), net.params, g, state)
        if not ok:
            raise FloatingPointError(
                "step: the update would make parameters or optimizer state non-finite "
                "(overflow); nothing was changed. Lower the learning rate.")


def _eps(value):
    eps = as_float(value, "eps", minimum=0.0)
    if eps == 0:
        raise ValueError("eps: expected a positive number (with eps = 0, a parameter whose "
                         "gradient stays 0 gets 0 / 0), got 0.0")
    return eps


def _betas(betas):
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
    return as_float(betas[0], "betas[0]", 0.0, 1.0), as_float(betas[1], "betas[1]", 0.0, 1.0)


class SGD(Optimizer):
    """Stochastic gradient descent, as torch.optim.SGD with dampening 0."""
    rule = "sgd"

    def __init__(self, lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__()
        self.lr, self.momentum, self.nesterov, self.weight_decay = lr, momentum, nesterov, \
            weight_decay
        a = self._args()
        self.lr, self.momentum, self.nesterov, self.weight_decay = \
            a["lr"], a["momentum"], a["nesterov"], a["weight_decay"]

    def _args(self):
        lr = as_float(self.lr, "lr", minimum=0.0)
        momentum = as_float(self.momentum, "momentum", minimum=0.0)
        nesterov = _as_bool(self.nesterov, "nesterov")
        weight_decay = as_float(self.weight_decay, "weight_decay", minimum=0.0)
        if nesterov and momentum == 0:
            raise ValueError("nesterov: Nesterov momentum requires momentum > 0, got momentum = 0")
        return dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)

    def __repr__(self):
        return (f"SGD(lr={self.lr}, momentum={self.momentum}, nesterov={self.nesterov}, "
                f"weight_decay={self.weight_decay})")


class Adam(Optimizer):
    """Adam, as torch.optim.Adam (weight decay added to the gradient)."""
    rule = "adam"

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__()
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        a = self._args()
        self.lr, self.eps, self.weight_decay = a["lr"], a["eps"], a["weight_decay"]
        self.betas = (a["beta1"], a["beta2"])

    def _args(self):
        lr = as_float(self.lr, "lr", minimum=0.0)
        b1, b2 = _betas(self.betas)
        eps = _eps(self.eps)
        weight_decay = as_float(self.weight_decay, "weight_decay", minimum=0.0)
        return dict(lr=lr, beta1=b1, beta2=b2, eps=eps, weight_decay=weight_decay)

    def __repr__(self):
        return (f"{type(self).__name__}(lr={self.lr}, betas={self.betas}, eps={self.eps}, "
                f"weight_decay={self.weight_decay})")


class AdamW(Adam):
    """AdamW, as torch.optim.AdamW: decoupled weight decay (p *= 1 - lr * weight_decay before
    the Adam update, which then sees the plain gradient)."""
    rule = "adamw"

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


class RMSprop(Optimizer):
    """RMSprop, as torch.optim.RMSprop (weight decay added to the gradient; eps added after
    the square root; centered divides by an estimate of the variance)."""
    rule = "rmsprop"

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        super().__init__()
        self.lr, self.alpha, self.eps, self.weight_decay, self.momentum, self.centered = \
            lr, alpha, eps, weight_decay, momentum, centered
        a = self._args()
        self.lr, self.alpha, self.eps, self.weight_decay, self.momentum, self.centered = \
            a["lr"], a["alpha"], a["eps"], a["weight_decay"], a["momentum"], a["centered"]

    def _args(self):
        alpha = as_float(self.alpha, "alpha", minimum=0.0)
        if alpha > 1:   # torch accepts it; the squares' average would then weigh them < 0
            raise ValueError(f"alpha: expected a smoothing constant in [0, 1], got {alpha}")
        return dict(lr=as_float(self.lr, "lr", minimum=0.0),
                    alpha=alpha,
                    eps=_eps(self.eps),
                    weight_decay=as_float(self.weight_decay, "weight_decay", minimum=0.0),
                    momentum=as_float(self.momentum, "momentum", minimum=0.0),
                    centered=_as_bool(self.centered, "centered"))

    def __repr__(self):
        return (f"RMSprop(lr={self.lr}, alpha={self.alpha}, eps={self.eps}, "
                f"weight_decay={self.weight_decay}, momentum={self.momentum}, "
                f"centered={self.centered})")


class Adagrad(Optimizer):
    """Adagrad, as torch.optim.Adagrad (weight decay added to the gradient; the learning rate
    lr / (1 + (step - 1) lr_decay); the sum of squares starts at initial_accumulator_value)."""
    rule = "adagrad"

    def __init__(self, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10):
        super().__init__()
        self.lr, self.lr_decay, self.weight_decay = lr, lr_decay, weight_decay
        self.initial_accumulator_value, self.eps = initial_accumulator_value, eps
        a = self._args()
        self.lr, self.lr_decay, self.weight_decay, self.eps = \
            a["lr"], a["lr_decay"], a["weight_decay"], a["eps"]
        self.initial_accumulator_value = self._initial_value()

    def _initial_value(self):
        return as_float(self.initial_accumulator_value, "initial_accumulator_value",
                        minimum=0.0)

    def _args(self):
        self._initial_value()
        return dict(lr=as_float(self.lr, "lr", minimum=0.0),
                    lr_decay=as_float(self.lr_decay, "lr_decay", minimum=0.0),
                    weight_decay=as_float(self.weight_decay, "weight_decay", minimum=0.0),
                    eps=_eps(self.eps))

    def _initial_state(self, n_state, N, dtype):
        return np.full(n_state * N, self._initial_value(), dtype=dtype)

    def __repr__(self):
        return (f"Adagrad(lr={self.lr}, lr_decay={self.lr_decay}, "
                f"weight_decay={self.weight_decay}, "
                f"initial_accumulator_value={self.initial_accumulator_value}, eps={self.eps})")
