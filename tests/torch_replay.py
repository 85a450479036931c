"""A torch replay of fit without shuffling (imported by path, like helpers.py): the same
batches, torch.optim's optimizer, and the step's extras (clipping, sample weights, learning
rates), written from torch's documented API, for the tests of the training loop."""
import numpy as np

from helpers import TorchTwin


def per_sample_losses(torch, twin, X, y):
    """Each sample's loss (mean over its outputs for mse and bce), as torch computes them."""
    nn = torch.nn
    z = twin.logits(X)
    if twin.loss_name == "mse":
        Y = torch.as_tensor(np.asarray(y), dtype=twin.tdtype).reshape(z.shape)
        return nn.MSELoss(reduction="none")(twin.acts[-1](z), Y).mean(dim=1)
    if twin.loss_name == "binary_cross_entropy":
        Y = torch.as_tensor(np.asarray(y), dtype=twin.tdtype).reshape(z.shape)
        return nn.BCEWithLogitsLoss(reduction="none")(z, Y).mean(dim=1)
    return nn.CrossEntropyLoss(reduction="none")(z, torch.as_tensor(np.asarray(y),
                                                                    dtype=torch.long))


def replay(torch, net, X, y, epochs, batch_size, make_opt, clip_norm=None, clip_value=None,
           sample_weight=None, lrs=None, per_step=False, make_scheduler=None):
    """Trains a torch twin of `net` (taken before fit) as fit(shuffle=False) would; lrs: the
    learning rate of each epoch (or step); make_scheduler(opt): a torch.optim.lr_scheduler
    stepped after each epoch (or each step with per_step; ReduceLROnPlateau with the epoch's
    loss). Returns the flat parameters and epoch losses."""
    twin = TorchTwin(torch, net)
    opt = make_opt(twin.parameters())
    sched = make_scheduler(opt) if make_scheduler is not None else None
    plateau = isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)
    n = X.shape[0]
    losses, step = [], 0
    for e in range(epochs):
        total = 0.0
        if lrs is not None and not per_step:
            for g in opt.param_groups:
                g["lr"] = lrs[e]
        for s in range(0, n, batch_size):
            xb, yb = X[s:s + batch_size], y[s:s + batch_size]
            if lrs is not None and per_step:
                for g in opt.param_groups:
                    g["lr"] = lrs[step]
            opt.zero_grad()
            if sample_weight is None:
                loss = twin.loss(xb, yb)
            else:
                w = torch.as_tensor(sample_weight[s:s + batch_size], dtype=twin.tdtype)
                # fit's rule for a batch of zero total weight: loss and gradient 0
                total_w = w.sum() if float(w.sum()) > 0 else 1.0
                loss = (w * per_sample_losses(torch, twin, xb, yb)).sum() / total_w
            loss.backward()
            if clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(twin.parameters(), clip_norm)
            if clip_value is not None:
                torch.nn.utils.clip_grad_value_(twin.parameters(), clip_value)
            opt.step()
            total += float(loss.detach()) * xb.shape[0]
            step += 1
            if sched is not None and per_step:
                sched.step()
        losses.append(total / n)
        if sched is not None and not per_step:
            sched.step(losses[-1]) if plateau else sched.step()
    return twin.flat(), losses
