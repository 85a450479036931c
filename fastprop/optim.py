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
from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from fastprop import _core
from fastprop._validation import all_finite, as_dtype_finite, as_float
from fastprop._model import Model, check_network
from fastprop._typing import ArrayLike

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]

# name -> (code, state buffers), from the C table
_RULES = {name: (code, n_state)
          for code, (name, n_state) in enumerate(_core.rule_tables()["optimizers"])}


def _as_bool(value: Any, argument: str) -> bool:
    """True/False from a bool (numpy's too) or the integers 0 and 1; anything else refused
    (bool('no') is True)."""
    if value is True or value is False:
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{argument}: expected True or False, got {type(value).__name__} {value!r}")


class Optimizer:
    """Base class of the optimizers: state kept across `fit` calls, one network's only.

    An optimizer holds its hyper-parameters (public attributes, which may be changed between
    calls and are checked again at every call) and its state (momentum buffers, step
    count), created at the first update for that network's size and dtype. Another
    network, even of the same shape, is refused, as a torch optimizer is tied to its
    parameters. Use a subclass: `SGD`, `Adam`, `AdamW`, `RMSprop` or `Adagrad`.
    """
    rule: ClassVar[str | None] = None   # its name in the C table (csrc/nn/fp_rules.h)

    def __init__(self) -> None:
        self._state = None          # n_state * N values of the network's dtype
        self._net = None            # weak reference to the network the state belongs to
        self._step = np.zeros(1, dtype=np.int64)
        self._compiled = None       # (args, OptimSpec) of the last _spec call

    @property
    def steps(self) -> int:
        """Number of updates done so far (torch's ``state["step"]``)."""
        return int(self._step[0])

    def __getstate__(self):
        """copy and pickle: the network the state belongs to goes along (strongly), so that a
        deep copy or a pickle of (net, optimizer) gives a pair that still belongs together."""
        state = self.__dict__.copy()
        state.pop("_compiled", None)        # points at this object's step counter
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
        kept = getattr(self, "_compiled", None)
        if kept is not None and kept[0] == args:   # hyper-parameters unchanged since
            return kept[1]
        spec = _core.OptimSpec(_RULES[self.rule][0], self._step, **args)
        self._compiled = (args, spec)
        return spec

    def step(self, net: Model, grad: ArrayLike) -> None:
        """One update of ``net.params`` in place, from a gradient.

        `fit` calls the compiled update itself; this is the same rule for a training loop
        of your own (``loss, grad = net.backprop(X, y); opt.step(net, grad)``).

        Parameters
        ----------
        net : Network
            The network to update: the one this optimizer's state belongs to (the first
            network it updated).
        grad : array_like, shape (N,)
            The gradient, laid out like params (as `Network.backprop` gives it).

        Raises
        ------
        TypeError
            When net is not a Network or grad not real numbers.
        ValueError
            When net is another network than the state's, its params are read-only, grad's
            shape differs or holds NaN or infinity, or a hyper-parameter is out of range.
        FloatingPointError
            When the update would make a parameter or the state non-finite (overflow);
            nothing is changed then.
        """
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
    """Stochastic gradient descent, as ``torch.optim.SGD`` with dampening 0.

    With momentum m, the buffer ``b = m b + g`` (``b = g`` at the first step) and the step
    ``p -= lr * b``, or with Nesterov ``p -= lr * (g + m b)``; weight decay is added to the
    gradient first (``g += weight_decay * p``).

    Parameters
    ----------
    lr : float, default 0.1
        Learning rate, >= 0.
    momentum : float, default 0.0
        Momentum factor, >= 0.
    nesterov : bool, default False
        PyTorch's Nesterov momentum (needs momentum > 0).
    weight_decay : float, default 0.0
        L2 penalty added to the gradient, >= 0.

    Raises
    ------
    TypeError
        When a hyper-parameter is not a real number (nesterov: not a bool).
    ValueError
        When a hyper-parameter is negative or not finite, or nesterov without momentum.
    """
    rule = "sgd"

    def __init__(self, lr: float = 0.1, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
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
    """Adam, as ``torch.optim.Adam``: bias correction, eps added after the square root,
    weight decay added to the gradient (not AdamW's decoupled decay).

    Parameters
    ----------
    lr : float, default 1e-3
        Learning rate, >= 0.
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the first and second moment estimates, each in [0, 1].
    eps : float, default 1e-8
        Added to the denominator, > 0 (and not rounding to 0 in the network's dtype).
    weight_decay : float, default 0.0
        L2 penalty added to the gradient, >= 0.

    Raises
    ------
    TypeError
        When a hyper-parameter is not a real number.
    ValueError
        When a hyper-parameter is out of its range, or betas is not a pair.
    """
    rule = "adam"

    def __init__(self, lr: float = 1e-3, betas: Sequence[float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
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
    """AdamW, as ``torch.optim.AdamW``: decoupled weight decay.

    ``p *= 1 - lr * weight_decay`` before the Adam update, which then sees the plain
    gradient.

    Parameters
    ----------
    lr : float, default 1e-3
        Learning rate, >= 0.
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the moment estimates, each in [0, 1].
    eps : float, default 1e-8
        Added to the denominator, > 0.
    weight_decay : float, default 0.01
        Decoupled weight decay, >= 0 (torch's default).

    Raises
    ------
    TypeError, ValueError
        As `Adam`.
    """
    rule = "adamw"

    def __init__(self, lr: float = 1e-3, betas: Sequence[float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01) -> None:
        super().__init__(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``: weight decay added to the gradient, eps added
    after the square root.

    Parameters
    ----------
    lr : float, default 1e-2
        Learning rate, >= 0.
    alpha : float, default 0.99
        Smoothing constant of the squares' average, in [0, 1].
    eps : float, default 1e-8
        Added to the denominator, > 0.
    weight_decay : float, default 0.0
        L2 penalty added to the gradient, >= 0.
    momentum : float, default 0.0
        Momentum factor, >= 0.
    centered : bool, default False
        Divide by an estimate of the variance (the mean square less the squared mean).

    Raises
    ------
    TypeError, ValueError
        When a hyper-parameter is not a number of its range (centered: not a bool).
    """
    rule = "rmsprop"

    def __init__(self, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False) -> None:
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
    """Adagrad, as ``torch.optim.Adagrad``: weight decay added to the gradient, the
    learning rate ``lr / (1 + (step - 1) * lr_decay)``.

    Parameters
    ----------
    lr : float, default 1e-2
        Learning rate, >= 0.
    lr_decay : float, default 0.0
        Decay of the learning rate with the step count, >= 0.
    weight_decay : float, default 0.0
        L2 penalty added to the gradient, >= 0.
    initial_accumulator_value : float, default 0.0
        Where the sum of squared gradients starts, >= 0.
    eps : float, default 1e-10
        Added to the denominator, > 0.

    Raises
    ------
    TypeError, ValueError
        When a hyper-parameter is not a number of its range.
    """
    rule = "adagrad"

    def __init__(self, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> None:
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
