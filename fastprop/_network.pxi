# _network.pxi: floor 2 entry points for whole networks (forward, loss, backprop, finite
# differences, optimizer steps, training), over typed memoryviews; part of fastprop._core.
#
# Design:
# - A network is described by a NetSpec (sizes, activation codes, loss code, bias flags,
#   dropout rates), checked once when it is made; an optimizer's kind and hyper-parameters by an OptimSpec.
#   Parameters are one flat buffer in the layout of fp_kernels.h.
# - One fused type (`floating`) across all arrays of a call: a float and a double path.
# - Every shape is checked here, once per call, before C touches memory: a wrong size raises
#   ValueError naming the argument and both numbers. Then the C call runs without the GIL.
# - Nothing here allocates arrays: the caller (floor 3) owns workspaces and outputs.
from cython cimport floating
from libc.stdint cimport int64_t, int32_t, uint8_t, uint64_t
from libc.string cimport memcpy
from libc.math cimport INFINITY, M_PI, cos

from fastprop._csrc cimport *


import numpy as np

MAX_LAYERS = FP_MAX_LAYERS
# The most elements a parameter buffer or a workspace may have: 2^56, so that every count the
# C code forms from them (elements, bytes, offsets) stays far inside int64. Checked here in
# double arithmetic, which cannot overflow, before any count is formed in int64.
cdef double MAX_ELEMENTS_D = 72057594037927936.0
MAX_ELEMENTS = 1 << 56


cdef fp_net _describe(const int64_t[::1] sizes, const int32_t[::1] acts, int loss,
                      const uint8_t[::1] bias) except *:
    cdef fp_net net
    cdef Py_ssize_t L = acts.shape[0], l
    if L < 1 or L > FP_MAX_LAYERS:
        raise ValueError(f"acts: expected 1 to {FP_MAX_LAYERS} layers, got {L}")
    if sizes.shape[0] != L + 1:
        raise ValueError(f"sizes: expected {L + 1} entries (one more than acts), "
                         f"got {sizes.shape[0]}")
    if bias.shape[0] != L:
        raise ValueError(f"bias: expected {L} flags (one a layer), got {bias.shape[0]}")
    for l in range(L):
        if bias[l] > 1:
            raise ValueError(f"bias: expected flags 0 or 1, got {bias[l]} at layer {l}")
    cdef double total = 0
    for l in range(L + 1):
        if sizes[l] < 1:
            raise ValueError(f"sizes: expected positive layer widths, got {sizes[l]} at {l}")
        if <double>sizes[l] > MAX_ELEMENTS_D:
            raise ValueError(f"sizes: expected layer widths <= {MAX_ELEMENTS:,}, got "
                             f"{sizes[l]:,} at {l}")
    for l in range(L):
        total += (<double>sizes[l] + bias[l]) * <double>sizes[l + 1]
    if total > MAX_ELEMENTS_D:
        raise ValueError(f"sizes: expected at most {MAX_ELEMENTS:,} parameters in all, got "
                         f"about {total:.4g}")
    for l in range(L):
        if acts[l] < 0 or acts[l] >= FP_N_ACTIVATIONS:
            raise ValueError(f"acts: unknown activation code {acts[l]} at layer {l}")
    if loss < 0 or loss >= FP_N_LOSSES:
        raise ValueError(f"loss: unknown loss code {loss}")
    net.n_layers = <int>L
    net.sizes = &sizes[0]
    net.acts = &acts[0]
    net.loss = loss
    net.bias = &bias[0]
    net.dropout = NULL
    return net


cdef class NetSpec:
    """A network's shape for the compiled passes: layer widths `sizes` (n_layers + 1),
    activation codes `acts` (n_layers), the loss code, `bias`, one flag a layer (0 or 1;
    None: every layer has a bias), and `dropout`, one rate a layer in [0, 1), the last 0 (the
    dropout after its activation, in training only; None: none), checked once here. The C
    description points into this object's own C arrays, which nothing outside can reach;
    `sizes`, `acts`, `bias` and `dropout` are tuples."""
    cdef int64_t c_sizes[FP_MAX_LAYERS + 1]
    cdef int32_t c_acts[FP_MAX_LAYERS]
    cdef uint8_t c_bias[FP_MAX_LAYERS]
    cdef double c_drop[FP_MAX_LAYERS]
    cdef readonly int loss
    cdef readonly int64_t n_params, n_in, n_out
    cdef fp_net net

    def __cinit__(self, sizes, acts, int loss, bias=None, dropout=None):
        cdef const int64_t[::1] s = np.ascontiguousarray(sizes, dtype=np.int64)
        cdef const int32_t[::1] a = np.ascontiguousarray(acts, dtype=np.int32)
        if bias is None:
            bias = np.ones(a.shape[0], dtype=np.uint8)
        flags = np.asarray(bias)
        if flags.ndim != 1 or (flags.size and flags.dtype.kind not in "biu"):
            raise TypeError(f"bias: expected a 1-D sequence of 0/1 flags (bool or integer), "
                            f"got {flags.dtype} of shape {flags.shape}")
        if flags.size and (flags.min() < 0 or flags.max() > 1):
            raise ValueError(f"bias: expected flags 0 or 1, got values from {flags.min()} to "
                             f"{flags.max()}")
        cdef const uint8_t[::1] f = np.ascontiguousarray(flags, dtype=np.uint8)
        self.net = _describe(s, a, loss, f)        # checks lengths, widths, codes, sizes
        rates = np.zeros(a.shape[0]) if dropout is None else np.asarray(dropout)
        if rates.shape != (a.shape[0],) or rates.dtype.kind not in "biuf":
            raise ValueError(f"dropout: expected {a.shape[0]} rates (one a layer), got "
                             f"{rates.dtype} of shape {rates.shape}")
        rates = rates.astype(np.float64)
        if not (np.all(rates >= 0) and np.all(rates < 1)) or rates[-1] != 0:
            raise ValueError(f"dropout: expected rates in [0, 1), the last layer's 0, got "
                             f"{rates.tolist()}")
        cdef Py_ssize_t l
        for l in range(a.shape[0]):
            self.c_acts[l] = a[l]
            self.c_bias[l] = f[l]
            self.c_drop[l] = rates[l]
        for l in range(s.shape[0]):
            self.c_sizes[l] = s[l]
        self.net.sizes = self.c_sizes
        self.net.acts = self.c_acts
        self.net.bias = self.c_bias
        if rates.any():              # else NULL (from _describe): the passes skip dropout
            self.net.dropout = self.c_drop
        self.loss = loss
        self.n_params = fp_net_n_params(&self.net)
        self.n_in, self.n_out = s[0], s[s.shape[0] - 1]

    @property
    def sizes(self):
        return tuple(self.c_sizes[l] for l in range(self.net.n_layers + 1))

    @property
    def acts(self):
        return tuple(self.c_acts[l] for l in range(self.net.n_layers))

    @property
    def bias(self):
        return tuple(bool(self.c_bias[l]) for l in range(self.net.n_layers))

    @property
    def dropout(self):
        return tuple(self.c_drop[l] for l in range(self.net.n_layers))

    def forward_rows(self, int64_t n):
        """Rows the workspace of a forward pass (forward, predict) of n rows must hold."""
        return _forward_rows(&self.net, n)

    def workspace_size(self, int64_t cap):
        """Elements of workspace needed for up to `cap` rows a call."""
        _check_cap(&self.net, cap)
        return fp_net_workspace_size(&self.net, cap)


def n_params(sizes, acts, int loss, bias=None):
    """Number of parameters of the network."""
    return NetSpec(sizes, acts, loss, bias).n_params


cdef int _check_cap(fp_net *net, int64_t cap) except -1:
    """cap >= 1, and the workspace for cap rows (at most cap * (2 layers + 2 + 2 layers with
    dropout) * the widest layer elements) within MAX_ELEMENTS."""
    cdef double widest = 0, buffers = 2.0 * net.n_layers + 2.0
    cdef int l
    if cap < 1:
        raise ValueError(f"cap: expected at least 1 row, got {cap}")
    for l in range(1, net.n_layers + 1):
        if <double>net.sizes[l] > widest:
            widest = <double>net.sizes[l]
    if net.dropout != NULL:
        for l in range(net.n_layers):
            if net.dropout[l] > 0:
                buffers += 2.0
    if <double>cap * buffers * widest > MAX_ELEMENTS_D:
        raise ValueError(f"cap: {cap:,} rows of a network {widest:.0f} units wide need more "
                         f"than {MAX_ELEMENTS:,} elements of workspace; pass fewer rows a call")
    return 0


def workspace_size(sizes, acts, int loss, int64_t cap, bias=None):
    """Elements of workspace needed for up to `cap` rows a call."""
    return NetSpec(sizes, acts, loss, bias).workspace_size(cap)


cdef _check_len(str name, Py_ssize_t got, Py_ssize_t expected):
    if got != expected:
        raise ValueError(f"{name}: expected {expected} elements, got {got}")


cdef int64_t _check_common(fp_net *net, Py_ssize_t n_params, Py_ssize_t ws_len, int64_t cap,
                           Py_ssize_t n, Py_ssize_t x_cols) except -1:
    """Checks params, workspace and X against the network; returns N."""
    cdef int64_t N = fp_net_n_params(net)
    _check_len("params", n_params, N)
    _check_cap(net, cap)
    if ws_len < fp_net_workspace_size(net, cap):
        raise ValueError(f"workspace: expected at least {fp_net_workspace_size(net, cap)} "
                         f"elements for {cap} rows, got {ws_len}")
    if n < 1 or n > cap:
        raise ValueError(f"X: expected 1 to {cap} rows, got {n}")
    if x_cols != net.sizes[0]:
        raise ValueError(f"X: expected {net.sizes[0]} columns (n_in), got {x_cols}")
    return N


cdef _check_targets(fp_net *net, Py_ssize_t n, Py_ssize_t rows, Py_ssize_t cols):
    cdef int64_t n_out = net.sizes[net.n_layers]
    if rows != n or cols != n_out:
        raise ValueError(f"Y: expected shape ({n}, {n_out}), got ({rows}, {cols})")


# Rows a forward pass takes at a time: a block's activations stay in the caches between the
# layers (and a predict over many rows needs a workspace for this many only).
cdef enum:
    FORWARD_BLOCK = 256
FORWARD_ROWS = FORWARD_BLOCK


cdef int64_t _forward_blocks_of(const fp_net *net, int64_t n) noexcept nogil:
    """The blocks of a forward pass of n rows: 1 when n <= FORWARD_BLOCK, or when a block of
    half that could make a layer small (FP_SMALL_LAYER: it would leave the GEMM for a loop of
    another summation order, changing the bits); else ceil(n / FORWARD_BLOCK) near-equal
    blocks, each of more than FORWARD_BLOCK / 2 rows. Every layer then takes the path it takes
    for all n rows at once, and each row gets the bits it gets there (the GEMM's order per
    element does not depend on the row count)."""
    cdef int l
    if n <= FORWARD_BLOCK:
        return 1
    for l in range(net.n_layers):
        if (FORWARD_BLOCK // 2) * net.sizes[l] * net.sizes[l + 1] <= FP_SMALL_LAYER:
            return 1
    return (n + FORWARD_BLOCK - 1) // FORWARD_BLOCK


cdef int64_t _forward_rows(const fp_net *net, int64_t n) noexcept nogil:
    """The rows of the largest block (_forward_blocks_of): what the workspace must hold."""
    cdef int64_t k = _forward_blocks_of(net, n)
    return (n + k - 1) // k


def forward(NetSpec spec, const floating[::1] params, const floating[:, ::1] X, floating[::1] ws,
            int64_t cap, floating[:, ::1] out):
    """out = network output for X (n x n_out), in blocks of rows (NetSpec.forward_rows(n):
    the rows the workspace must hold, cap)."""
    cdef fp_net net = spec.net
    cdef Py_ssize_t n = X.shape[0]
    if n < 1:
        raise ValueError(f"X: expected at least 1 row, got {n}")
    _check_common(&net, params.shape[0], ws.shape[0], cap, _forward_rows(&net, n), X.shape[1])
    cdef int64_t n_out = net.sizes[net.n_layers]
    if out.shape[0] != n or out.shape[1] != n_out:
        raise ValueError(f"out: expected shape ({n}, {n_out}), got ({out.shape[0]}, {out.shape[1]})")
    with nogil:
        _forward_blocks(&net, floating is double, &params[0], n, &X[0, 0], &ws[0], cap,
                        &out[0, 0])


cdef void _forward_blocks(const fp_net *net, int f64, const void *params, int64_t n,
                          const void *X, void *ws, int64_t cap, void *out) noexcept nogil:
    """The forward pass of n rows into out, in the blocks of _forward_blocks_of, sizes n // k
    or one more (at most _forward_rows, which the caller has checked cap holds)."""
    cdef int64_t n_in = net.sizes[0], n_out = net.sizes[net.n_layers]
    cdef int64_t k = _forward_blocks_of(net, n)
    cdef int64_t b, r = 0, m
    for b in range(k):
        m = n // k + (1 if b < n % k else 0)
        if f64:
            memcpy(<double *>out + r * n_out,
                   fp_d_net_forward(net, <const double *>params, m,
                                    <const double *>X + r * n_in, <double *>ws, cap),
                   m * n_out * sizeof(double))
        else:
            memcpy(<float *>out + r * n_out,
                   fp_s_net_forward(net, <const float *>params, m,
                                    <const float *>X + r * n_in, <float *>ws, cap),
                   m * n_out * sizeof(float))
        r += m


def net_loss(NetSpec spec, const floating[::1] params, const floating[:, ::1] X, const floating[:, ::1] Y,
               floating[::1] ws, int64_t cap):
    """Mean loss on (X, Y): one forward pass."""
    cdef fp_net net = spec.net
    cdef Py_ssize_t n = X.shape[0]
    _check_common(&net, params.shape[0], ws.shape[0], cap, n, X.shape[1])
    _check_targets(&net, n, Y.shape[0], Y.shape[1])
    cdef double value
    with nogil:
        if floating is double:
            value = fp_d_net_loss(&net, &params[0], n, &X[0, 0], &Y[0, 0], &ws[0], cap)
        else:
            value = fp_s_net_loss(&net, &params[0], n, &X[0, 0], &Y[0, 0], &ws[0], cap)
    return value


def net_loss_weighted(NetSpec spec, const floating[::1] params, const floating[:, ::1] X,
                      const floating[:, ::1] Y, const double[::1] w, floating[::1] ws,
                      int64_t cap):
    """The weighted mean of the samples' losses on (X, Y), weights w (n values, checked finite
    and >= 0 by the caller): one forward pass."""
    cdef fp_net net = spec.net
    cdef Py_ssize_t n = X.shape[0]
    _check_common(&net, params.shape[0], ws.shape[0], cap, n, X.shape[1])
    _check_targets(&net, n, Y.shape[0], Y.shape[1])
    _check_len("sample_weight", w.shape[0], n)
    cdef double value
    if n == 0:
        return 0.0
    with nogil:
        if floating is double:
            value = fp_d_net_loss_weighted(&net, &params[0], n, &X[0, 0], &Y[0, 0], &w[0],
                                           &ws[0], cap)
        else:
            value = fp_s_net_loss_weighted(&net, &params[0], n, &X[0, 0], &Y[0, 0], &w[0],
                                           &ws[0], cap)
    return value


def backprop(NetSpec spec, const floating[::1] params, const floating[:, ::1] X, const floating[:, ::1] Y,
             floating[::1] ws, int64_t cap, floating[::1] grad):
    """Loss, with its gradient written into grad: one forward and one backward pass."""
    cdef fp_net net = spec.net
    cdef Py_ssize_t n = X.shape[0]
    cdef int64_t N = _check_common(&net, params.shape[0], ws.shape[0], cap, n, X.shape[1])
    _check_targets(&net, n, Y.shape[0], Y.shape[1])
    _check_len("grad", grad.shape[0], N)
    cdef double value
    with nogil:
        if floating is double:
            value = fp_d_net_backprop(&net, &params[0], n, &X[0, 0], &Y[0, 0], &ws[0], cap,
                                      &grad[0])
        else:
            value = fp_s_net_backprop(&net, &params[0], n, &X[0, 0], &Y[0, 0], &ws[0], cap,
                                      &grad[0])
    return value


def numerical_gradient(NetSpec spec, floating[::1] params, const floating[:, ::1] X, const floating[:, ::1] Y,
                       floating[::1] ws, int64_t cap, int scheme, double eps,
                       const int64_t[::1] idx, floating[::1] out):
    """out[j] = finite-difference derivative of the loss by params[idx[j]]."""
    cdef fp_net net = spec.net
    cdef Py_ssize_t n = X.shape[0], j, k = idx.shape[0]
    cdef int64_t N = _check_common(&net, params.shape[0], ws.shape[0], cap, n, X.shape[1])
    _check_targets(&net, n, Y.shape[0], Y.shape[1])
    if scheme != 0 and scheme != 1:
        raise ValueError(f"scheme: expected 0 (forward) or 1 (central), got {scheme}")
    if not eps > 0:
        raise ValueError(f"eps: expected a positive step, got {eps}")
    _check_len("out", out.shape[0], k)
    for j in range(k):
        if idx[j] < 0 or idx[j] >= N:
            raise ValueError(f"idx: expected parameter indices in [0, {N}), got {idx[j]}")
    if k == 0:
        return
    with nogil:
        if floating is double:
            fp_d_net_numerical_gradient(&net, &params[0], n, &X[0, 0], &Y[0, 0], &ws[0], cap,
                                        scheme, eps, &idx[0], k, &out[0])
        else:
            fp_s_net_numerical_gradient(&net, &params[0], n, &X[0, 0], &Y[0, 0], &ws[0], cap,
                                        scheme, eps, &idx[0], k, &out[0])


cdef class OptimSpec:
    """An optimizer's kind (a code of fp_rules.h's table) and hyper-parameters, by
    torch.optim's names (each kind reads its own; the others keep their defaults), and the
    one-element int64 array counting its steps, which the C updates in place."""
    cdef fp_optim opt
    cdef readonly object step
    cdef readonly int n_state

    def __cinit__(self, int kind, int64_t[::1] step, *, double lr=0.0, double momentum=0.0,
                  double weight_decay=0.0, double beta1=0.0, double beta2=0.0,
                  double eps=0.0, double alpha=0.0, double lr_decay=0.0,
                  bint nesterov=False, bint centered=False):
        if kind < 0 or kind >= FP_N_OPTIMIZERS:
            raise ValueError(f"kind: expected an optimizer code from 0 to "
                             f"{FP_N_OPTIMIZERS - 1}, got {kind}")
        _check_len("step", step.shape[0], 1)
        self.step = step     # a memoryview: its buffer export keeps the count where it is
        self.n_state = fp_optimizer_n_state(kind)
        self.opt.kind = kind
        self.opt.lr = lr
        self.opt.momentum = momentum
        self.opt.weight_decay = weight_decay
        self.opt.beta1 = beta1
        self.opt.beta2 = beta2
        self.opt.eps = eps
        self.opt.alpha = alpha
        self.opt.lr_decay = lr_decay
        self.opt.nesterov = nesterov
        self.opt.centered = centered
        self.opt.step = &step[0]


cdef _check_state(OptimSpec opt, Py_ssize_t got, Py_ssize_t N):
    if got < opt.n_state * N:
        raise ValueError(f"state: expected at least {opt.n_state * N} elements "
                         f"({opt.n_state} buffers of {N}), got {got}")


def optim_step(OptimSpec opt, floating[::1] params, const floating[::1] grad,
               floating[::1] state):
    """One optimizer update of params in place (torch.optim semantics). Returns False, having
    written nothing, when the update would make a parameter or state value non-finite."""
    cdef Py_ssize_t N = params.shape[0]
    _check_len("grad", grad.shape[0], N)
    _check_state(opt, state.shape[0], N)
    if N == 0:
        return True
    cdef int refused
    cdef fp_optim *o = &opt.opt
    with nogil:
        if floating is double:
            refused = fp_d_optim_step(o, N, &params[0], &grad[0], &state[0])
        else:
            refused = fp_s_optim_step(o, N, &params[0], &grad[0], &state[0])
    return refused == 0


cdef class TrainJob:
    """One fit's compiled training: the network (NetSpec), the optimizer (OptimSpec), the
    data and every buffer, each shape checked once, here; run(k) then runs k epochs in one
    compiled call without the GIL, as often as the caller likes. The job keeps a reference to
    every array it points into, and owns the shuffling order and the per-epoch results
    (`epoch_loss`, `val_loss`, and with accuracy `epoch_acc`, `val_acc`, read after each run).

    Options (fp_train_opts): clip_norm, clip_value (> 0 to clip, 0 off); sample_weight (n
    finite weights >= 0, or None); accuracy (bool); lr_per_step: run's `lr` gives one rate a
    step rather than one an epoch; l2 (>= 0, 0 off): scikit-learn MLP's alpha, an L2 penalty on
    the weights (not the biases) over each batch's total sample weight."""
    cdef readonly NetSpec spec
    cdef readonly OptimSpec opt
    cdef readonly object epoch_loss, val_loss, epoch_acc, val_acc
    cdef readonly int64_t steps_per_epoch
    cdef object _arrays, _data
    cdef fp_net net
    cdef fp_train_opts tr
    cdef bint f64, shuffle
    cdef int64_t n, n_val, batch, cap, max_epochs
    cdef void *params
    cdef const void *X
    cdef const void *Y
    cdef const void *Xv
    cdef const void *Yv
    cdef void *state
    cdef void *ws
    cdef void *grad
    cdef void *gather
    cdef uint64_t *rng
    cdef int64_t *perm
    cdef double *el
    cdef double *vl

    def __cinit__(self, NetSpec spec, OptimSpec opt, params, X, Y, Xv, Yv, *, state, ws,
                  int64_t cap, grad, gather, int64_t batch, bint shuffle, uint64_t[::1] rng,
                  int64_t max_epochs, double clip_norm=0.0, double clip_value=0.0,
                  sample_weight=None, bint accuracy=False, bint lr_per_step=False,
                  double l2=0.0):
        # __cinit__: runs once, so a refused second call cannot leave the job half re-bound.
        if max_epochs < 1:
            raise ValueError(f"max_epochs: expected a positive integer, got {max_epochs}")
        if not (clip_norm >= 0 and clip_norm < INFINITY):
            raise ValueError(f"clip_norm: expected a finite value >= 0 (0: off), got {clip_norm}")
        if not (clip_value >= 0 and clip_value < INFINITY):
            raise ValueError(f"clip_value: expected a finite value >= 0 (0: off), got "
                             f"{clip_value}")
        if not (l2 >= 0 and l2 < INFINITY):
            raise ValueError(f"l2: expected a finite value >= 0 (0: off), got {l2}")
        _check_len("rng", rng.shape[0], 4)
        self.spec, self.opt, self.net = spec, opt, spec.net
        self.batch, self.cap, self.shuffle, self.max_epochs = batch, cap, shuffle, max_epochs
        self.rng = &rng[0]
        self.epoch_loss = np.zeros(max_epochs)
        self.val_loss = np.zeros(max_epochs)
        cdef double[::1] el = self.epoch_loss, vl = self.val_loss
        self.el, self.vl = &el[0], &vl[0]
        # Buffer exports (memoryviews), not just references: an array that could move its
        # memory (array.array, bytearray) refuses to while one is held.
        self._arrays = tuple(memoryview(a) for a in (params, ws, grad, gather,
                                                       self.epoch_loss, self.val_loss))
        self._data = tuple(memoryview(a) for a in (X, Y, Xv, Yv, state))
        self._arrays += (rng,)
        if params.dtype == np.float64:
            _train_bind[double](self, params, X, Y, Xv, Yv, state, ws, grad, gather)
        else:
            _train_bind[float](self, params, X, Y, Xv, Yv, state, ws, grad, gather)
        perm = np.arange(self.n, dtype=np.int64)
        self._arrays += (memoryview(perm),)
        cdef int64_t[::1] pv = perm
        self.perm = &pv[0]
        self.steps_per_epoch = (self.n + batch - 1) // batch
        self.tr.clip_norm, self.tr.clip_value = clip_norm, clip_value
        self.tr.lr_per_step = lr_per_step
        self.tr.l2 = l2
        cdef const double[::1] sw
        cdef double[::1] wg, ea, va
        cdef Py_ssize_t i
        if sample_weight is not None:
            sw = sample_weight
            _check_len("sample_weight", sw.shape[0], self.n)
            for i in range(sw.shape[0]):
                if not (sw[i] >= 0 and sw[i] < INFINITY):
                    raise ValueError(f"sample_weight: expected finite weights >= 0, got "
                                     f"{sw[i]} at {i}")
            gathered = np.empty(batch)
            wg = gathered
            self.tr.sample_weight, self.tr.weight_gather = &sw[0], &wg[0]
            self._arrays += (sw, gathered)
        if accuracy:
            self.epoch_acc, self.val_acc = np.zeros(max_epochs), np.zeros(max_epochs)
            ea, va = self.epoch_acc, self.val_acc
            self.tr.epoch_acc, self.tr.val_acc = &ea[0], &va[0]
            self._arrays += (memoryview(self.epoch_acc), memoryview(self.val_acc))

    def rebind(self, OptimSpec opt, X, Y, Xv, Yv, state):
        """Points the job at new data of the same shapes, at the optimizer's state `state` and
        hyper-parameters `opt` (of the same rule), so that a fit call of the same shapes
        reuses the job and its buffers. True when done; False, changing nothing, when an array
        is not an exact C-contiguous ndarray of the job's dtype of the shape (the state: the
        size) the job was made for (the caller then makes a new job)."""
        if opt.opt.kind != self.opt.opt.kind or opt.n_state != self.opt.n_state:
            return False
        cdef int typenum = cnp.NPY_DOUBLE if self.f64 else cnp.NPY_FLOAT
        cdef int64_t n_in = self.net.sizes[0], n_out = self.net.sizes[self.net.n_layers]
        if not (_shaped(X, typenum, self.n, n_in) and _shaped(Y, typenum, self.n, n_out)
                and _shaped(Xv, typenum, self.n_val, n_in)
                and _shaped(Yv, typenum, self.n_val, n_out) and _plain(state, typenum)
                and cnp.PyArray_NDIM(<cnp.ndarray>state) == 1
                and cnp.PyArray_SIZE(<cnp.ndarray>state)
                == opt.n_state * fp_net_n_params(&self.net)):
            return False
        self.opt = opt
        self.X = cnp.PyArray_DATA(<cnp.ndarray>X)
        self.Y = cnp.PyArray_DATA(<cnp.ndarray>Y)
        self.Xv = cnp.PyArray_DATA(<cnp.ndarray>Xv) if self.n_val > 0 else NULL
        self.Yv = cnp.PyArray_DATA(<cnp.ndarray>Yv) if self.n_val > 0 else NULL
        self.state = cnp.PyArray_DATA(<cnp.ndarray>state)
        # an exact ndarray cannot move its memory while referenced (resize refuses)
        self._data = (X, Y, Xv, Yv, state)
        return True

    def release(self):
        """Drops the job's data (X, Y, the validation pair) and the optimizer's state: a job
        kept for the next fit call must keep neither the caller's arrays nor an optimizer
        alive. run() refuses until rebind()."""
        self.X = self.Y = self.Xv = self.Yv = NULL
        self.state = NULL
        self._data = None

    def run(self, int64_t epochs, lr=None):
        """Runs `epochs` epochs of mini-batch training in one compiled loop; epoch e's mean
        training loss goes to epoch_loss[e] (and its validation loss to val_loss[e]). `lr`:
        None (the optimizer's rate), or float64 rates, one for each of the `epochs` epochs, or
        with lr_per_step one for each of their epochs * steps_per_epoch steps.

        Returns the number of epochs completed; a negative value -(1 + e) means that a step of
        epoch e met a non-finite loss or gradient and stopped before its update."""
        if self._data is None:
            raise ValueError("run: the job's data was released; rebind() it first")
        if epochs < 0 or epochs > self.max_epochs:
            raise ValueError(f"epochs: expected 0 to {self.max_epochs} epochs a call, got {epochs}")
        cdef const double[::1] rates
        cdef Py_ssize_t i
        self.tr.lr = NULL
        if lr is not None:
            rates = lr
            _check_len("lr", rates.shape[0],
                       epochs * self.steps_per_epoch if self.tr.lr_per_step else epochs)
            for i in range(rates.shape[0]):
                if not (rates[i] >= 0 and rates[i] < INFINITY):
                    raise ValueError(f"lr: expected finite learning rates >= 0, got "
                                     f"{rates[i]} at {i}")
            if rates.shape[0]:
                self.tr.lr = &rates[0]
        elif self.tr.lr_per_step:
            raise ValueError("lr: expected one learning rate a step (lr_per_step), got None")
        if epochs == 0:
            return 0
        cdef int64_t done
        cdef double *vl = self.vl if self.n_val > 0 else NULL
        cdef fp_train_opts *tr = &self.tr
        if self.n_val == 0:
            tr.val_acc = NULL
        with nogil:
            if self.f64:
                done = fp_d_net_train(&self.net, <double *>self.params, self.n,
                                      <const double *>self.X, <const double *>self.Y,
                                      self.batch, epochs, self.shuffle, self.rng, self.perm,
                                      &self.opt.opt, <double *>self.state, <double *>self.ws,
                                      self.cap, <double *>self.grad, <double *>self.gather,
                                      self.el, self.n_val, <const double *>self.Xv,
                                      <const double *>self.Yv, vl, tr)
            else:
                done = fp_s_net_train(&self.net, <float *>self.params, self.n,
                                      <const float *>self.X, <const float *>self.Y,
                                      self.batch, epochs, self.shuffle, self.rng, self.perm,
                                      &self.opt.opt, <float *>self.state, <float *>self.ws,
                                      self.cap, <float *>self.grad, <float *>self.gather,
                                      self.el, self.n_val, <const float *>self.Xv,
                                      <const float *>self.Yv, vl, tr)
        self.tr.lr = NULL      # the rates' buffer belongs to this call only
        return done


cdef int _train_bind(TrainJob job, floating[::1] params, const floating[:, ::1] X,
                     const floating[:, ::1] Y, const floating[:, ::1] Xv,
                     const floating[:, ::1] Yv, floating[::1] state, floating[::1] ws,
                     floating[::1] grad, floating[::1] gather) except -1:
    """Checks every shape of a TrainJob (one dtype for all arrays) and takes its pointers."""
    cdef fp_net *net = &job.net
    cdef Py_ssize_t n = X.shape[0], n_val = Xv.shape[0]
    cdef int64_t batch = job.batch, cap = job.cap
    if batch < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch}")
    if batch > cap:
        raise ValueError(f"cap: expected at least batch_size = {batch} rows, got {cap}")
    cdef int64_t N = _check_common(net, params.shape[0], ws.shape[0], cap, min(n, batch),
                                   X.shape[1])
    _check_targets(net, n, Y.shape[0], Y.shape[1])
    cdef int64_t n_in = net.sizes[0], n_out = net.sizes[net.n_layers]
    _check_len("grad", grad.shape[0], N)
    _check_state(job.opt, state.shape[0], N)
    if gather.shape[0] < batch * (n_in + n_out):
        raise ValueError(f"gather: expected at least {batch * (n_in + n_out)} elements, "
                         f"got {gather.shape[0]}")
    if n_val > 0:
        if Xv.shape[1] != n_in:
            raise ValueError(f"X_val: expected {n_in} columns (n_in), got {Xv.shape[1]}")
        if Yv.shape[0] != n_val or Yv.shape[1] != n_out:
            raise ValueError(f"y_val: expected shape ({n_val}, {n_out}), "
                             f"got ({Yv.shape[0]}, {Yv.shape[1]})")
        job.Xv = &Xv[0, 0]
        job.Yv = &Yv[0, 0]
    job.f64 = floating is double
    job.n, job.n_val = n, n_val
    job.params, job.X, job.Y = &params[0], &X[0, 0], &Y[0, 0]
    job.state, job.ws, job.grad, job.gather = &state[0], &ws[0], &grad[0], &gather[0]
    return 0


def repeat_passes(NetSpec spec, const floating[::1] params, const floating[:, ::1] X, const floating[:, ::1] Y,
                  floating[::1] ws, int64_t cap, floating[::1] grad, bint backward,
                  int64_t reps):
    """Runs the loss (backward=False) or backprop (backward=True) `reps` times in one compiled
    loop, for timing passes shorter than a Python call. Returns the last loss."""
    cdef fp_net net = spec.net
    cdef Py_ssize_t n = X.shape[0]
    cdef int64_t N = _check_common(&net, params.shape[0], ws.shape[0], cap, n, X.shape[1])
    cdef int64_t r
    cdef double value = 0
    _check_targets(&net, n, Y.shape[0], Y.shape[1])
    _check_len("grad", grad.shape[0], N)
    if reps < 1:
        raise ValueError(f"reps: expected a positive count, got {reps}")
    with nogil:
        for r in range(reps):
            if floating is double:
                if backward:
                    value = fp_d_net_backprop(&net, &params[0], n, &X[0, 0], &Y[0, 0], &ws[0],
                                              cap, &grad[0])
                else:
                    value = fp_d_net_loss(&net, &params[0], n, &X[0, 0], &Y[0, 0], &ws[0], cap)
            else:
                if backward:
                    value = fp_s_net_backprop(&net, &params[0], n, &X[0, 0], &Y[0, 0], &ws[0],
                                              cap, &grad[0])
                else:
                    value = fp_s_net_loss(&net, &params[0], n, &X[0, 0], &Y[0, 0], &ws[0], cap)
    return value


def anneal_rates(double start_step, double end_step, double start_lr, double end_lr,
                 bint cosine, int64_t first, int64_t stop):
    """OneCycleLR's rates for the steps first..stop-1 of one phase (fastprop.schedules), each
    by the operations torch's get_lr performs on Python floats, in that order (libm's cos is
    the one math.cos calls): the same bits, without a Python operation a step."""
    if stop < first:
        raise ValueError(f"stop: expected a step >= first = {first}, got {stop}")
    out = np.empty(stop - first)
    cdef double[::1] o = out
    cdef double span = end_step - start_step, half = (start_lr - end_lr) / 2.0
    cdef double rise = end_lr - start_lr
    cdef int64_t s
    if span == 0:
        raise ValueError("end_step: expected a phase of nonzero length")
    with nogil:
        for s in range(first, stop):
            if cosine:
                o[s - first] = end_lr + half * (cos(M_PI * ((<double>s - start_step) / span)) + 1)
            else:
                o[s - first] = rise * ((<double>s - start_step) / span) + start_lr
    return out
