"""Run by tests/test_distributed.py as `mpiexec -n P python run_fit.py CONFIG.json OUT.npz`:
one fastprop.distributed.fit on every rank as CONFIG says (data from an .npz the test wrote;
with "sharded", each rank opens its shard of .npy files with mmap_mode="r"), then rank 0
writes the history, its parameters and whether every rank ended with the same bits."""
import json
import sys

import numpy as np
from mpi4py import MPI

import fastprop as fp
from fastprop import distributed
from fastprop.callbacks import EarlyStopping, ModelCheckpoint
from fastprop import schedules


def build(spec):
    """(class name, kwargs) -> an object of fastprop's optimizers, schedules or callbacks."""
    name, kwargs = spec
    for module in (fp, schedules):
        if hasattr(module, name):
            return getattr(module, name)(**kwargs)
    return {"EarlyStopping": EarlyStopping, "ModelCheckpoint": ModelCheckpoint}[name](**kwargs)


def main():
    cfg = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    fault = cfg.get("fault")
    if fault:
        def hook(where, r, epoch, step):
            if where == fault["where"] and r == fault["rank"] and epoch == fault["epoch"]:
                raise RuntimeError(f"injected failure on rank {r} ({where})")
        distributed._fault = hook
    if cfg.get("resume_from"):
        net = distributed.load(cfg["resume_from"])
    else:
        net = fp.mlp(cfg["sizes"], hidden=cfg["hidden"], output=cfg["output"],
                     loss=cfg["loss"], dtype=cfg.get("dtype", "float64"), seed=cfg["net_seed"])
    kwargs = dict(cfg["fit"])
    for key in ("optimizer", "schedule"):
        if key in kwargs:
            kwargs[key] = build(kwargs[key])
    if "callbacks" in kwargs:
        kwargs["callbacks"] = [build(c) for c in kwargs["callbacks"]]
    if cfg.get("sharded"):
        lo, hi = cfg["shards"][rank]
        X = np.load(cfg["X"], mmap_mode="r")[lo:hi]
        y = np.load(cfg["y"], mmap_mode="r")[lo:hi]
        if "w" in cfg:
            kwargs["sample_weight"] = np.load(cfg["w"], mmap_mode="r")[lo:hi]
        if "val_shards" in cfg:
            vlo, vhi = cfg["val_shards"][rank]
            kwargs["validation_data"] = (np.load(cfg["Xv"], mmap_mode="r")[vlo:vhi],
                                         np.load(cfg["yv"], mmap_mode="r")[vlo:vhi])
        kwargs["sharded"] = True
    else:
        data = np.load(cfg["data"])
        X, y = data["X"], data["y"]
        if "w" in data:
            kwargs["sample_weight"] = data["w"]
        if "Xv" in data:
            kwargs["validation_data"] = (data["Xv"], data["yv"])
    hist = distributed.fit(net, X, y, **kwargs)
    if cfg.get("save_to"):
        distributed.save(net, cfg["save_to"])
    params = comm.gather(net.params.copy())
    hists = comm.gather((hist.loss, hist.val_loss, hist.accuracy, hist.val_accuracy, hist.lr,
                         hist.stopped_epoch, hist.best_epoch))
    streams = comm.gather(net._stream.copy())
    if rank == 0:
        same = all(np.array_equal(p, params[0]) for p in params)
        same = same and all(h == hists[0] for h in hists)
        same = same and all(np.array_equal(s, streams[0]) for s in streams)
        loss, val_loss, acc, val_acc, lr, stopped, best = hists[0]
        np.savez(out, params=params[0], same=same, loss=loss, val_loss=val_loss, accuracy=acc,
                 val_accuracy=val_acc, lr=lr, stopped=-1 if stopped is None else stopped,
                 best=-1 if best is None else best, size=size)


if __name__ == "__main__":
    main()
