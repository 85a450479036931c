"""The compiled floor's typed objects (NetSpec, OptimSpec, TrainJob) keep what C points into:
nothing reachable from Python can change a checked shape or move a buffer afterwards."""
import array

import numpy as np
import pytest

import fastprop as fp
from fastprop import _core


def test_a_netspec_keeps_its_own_shape_whatever_happens_to_the_arrays_it_was_given():
    sizes, acts = np.array([2, 3, 1], dtype=np.int64), np.array([1, 0], dtype=np.int32)
    spec = _core.NetSpec(sizes, acts, 0)
    sizes[1], acts[0] = 4096, 1_000_000          # the caller's arrays, changed afterwards
    assert spec.sizes == (2, 3, 1) and spec.acts == (1, 0)
    assert spec.n_params == 13 and spec.workspace_size(4) == _core.NetSpec(
        [2, 3, 1], [1, 0], 0).workspace_size(4)
    with pytest.raises(TypeError):
        spec.sizes[1] = 5                          # a tuple
    with pytest.raises(ValueError, match="unknown activation code"):
        _core.NetSpec([2, 3, 1], [1_000_000, 0], 0)


def test_an_optimspec_holds_its_step_counter_in_place():
    step = array.array("q", [0])
    spec = _core.OptimSpec(0, step, lr=0.1)
    with pytest.raises(BufferError):
        step.extend(range(1 << 20))                # would move the counter the C increments
    p, g, state = np.ones(4), np.ones(4), np.zeros(4)
    assert _core.optim_step(spec, p, g, state)
    assert step[0] == 1 and np.allclose(p, 0.9)


def test_a_train_job_cannot_be_re_bound_to_other_buffers(data):
    X, y = data
    net = fp.mlp([X.shape[1], 4, y.shape[1]], hidden="tanh", seed=0)
    Xc, Y = net._inputs(X, y)
    ws, grad, gather = net._train_buffers(2)
    opt = fp.SGD(lr=0.1)
    state = opt._bind(net)
    rng = np.array([1, 2, 3, 4], dtype=np.uint64)
    args = (net._spec, opt._spec(opt._args()), net.params, Xc, Y, Xc[:0], Y[:0])
    job = _core.TrainJob(*args, state=state, ws=ws, cap=net._cap, grad=grad, gather=gather,
                         batch=2, shuffle=True, rng=rng, max_epochs=3)
    assert job.run(1) == 1
    job.__init__(*args, state=np.zeros(1), ws=ws, cap=4096, grad=grad, gather=gather,
                 batch=4096, shuffle=True, rng=rng, max_epochs=4)   # __cinit__ ran once
    assert job.run(2) == 2 and np.isfinite(job.epoch_loss[:2]).all()
    with pytest.raises(ValueError, match="epochs: expected 0 to 3"):
        job.run(4)


def test_an_optimizer_bound_elsewhere_names_the_other_networks_size(data):
    X, y = data
    nets = [fp.mlp([X.shape[1], 4, y.shape[1]], seed=s) for s in (0, 1)]
    for opt in (fp.SGD(lr=0.1, momentum=0.9), fp.RMSprop(), fp.Adagrad(), fp.AdamW()):
        nets[0].fit(X, y, epochs=1, optimizer=opt)
        with pytest.raises(ValueError, match=rf"\({nets[0].n_params} float64 parameters\)"):
            nets[1].fit(X, y, epochs=1, optimizer=opt)
