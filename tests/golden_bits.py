"""The configurations whose results must keep their bits across refactorings, and the digest
of each. `python tests/golden_bits.py` (with fastprop installed) rewrites
tests/data/golden_bits.json from the installed build; test_golden_bits.py compares against it.
Regenerate only when a change is meant to alter results, and say so in the commit."""
import hashlib
import itertools
import json
import os
import sys

import numpy as np

import fastprop as fp

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "data", "golden_bits.json")

# (hidden, output, loss): every activation in a hidden or output place, every loss.
HEADS = [("sigmoid", "sigmoid", "mse"), ("tanh", "identity", "mse"),
         ("relu", "sigmoid", "binary_cross_entropy"), ("leaky_relu", "softmax", "cross_entropy"),
         ("identity", "softmax", "binary_cross_entropy"), ("tanh", "sigmoid", "binary_cross_entropy")]
OPTIMIZERS = {
    "sgd": lambda: fp.SGD(lr=0.1),
    "sgd_momentum": lambda: fp.SGD(lr=0.05, momentum=0.9, weight_decay=1e-3),
    "sgd_nesterov": lambda: fp.SGD(lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda: fp.Adam(lr=0.01),
    "adam_wd": lambda: fp.Adam(lr=0.01, betas=(0.8, 0.99), weight_decay=1e-2),
}
# (sizes, batch): a tiny network per sample (the AVX-512 one-register path where the CPU has
# it), small layers in mini-batches, and layers large enough for the GEMM.
SHAPES = [((2, 3, 1), 1), ((4, 6, 3), 1), ((5, 8, 3), 4), ((24, 40, 3), 16)]


def configs():
    for dtype, (hidden, output, loss), opt, (sizes, batch) in itertools.product(
            ("float64", "float32"), HEADS, OPTIMIZERS, SHAPES):
        if output == "softmax" and sizes[-1] == 1:
            continue
        yield dtype, hidden, output, loss, opt, sizes, batch


def key(dtype, hidden, output, loss, opt, sizes, batch):
    return f"{dtype}/{hidden}-{output}/{loss}/{opt}/{'-'.join(map(str, sizes))}/b{batch}"


def run(dtype, hidden, output, loss, opt, sizes, batch):
    """The digest of everything one configuration computes: training (params after two fit
    calls, the epoch losses), then predict, loss, backprop and finite differences."""
    rng = np.random.default_rng(sum(sizes) * 7 + batch)
    n = 37
    X = rng.normal(size=(n, sizes[0]))
    if loss == "cross_entropy":
        y = rng.integers(0, sizes[-1], size=n)
    elif loss == "binary_cross_entropy":
        y = (rng.random(size=(n, sizes[-1])) > 0.5).astype(float)
    else:
        y = rng.normal(size=(n, sizes[-1]))
    net = fp.mlp(list(sizes), hidden=hidden, output=output, loss=loss, dtype=dtype, seed=3)
    o = OPTIMIZERS[opt]()
    h1 = net.fit(X, y, epochs=3, batch_size=batch, optimizer=o, seed=5)
    h2 = net.fit(X, y, epochs=2, batch_size=batch, optimizer=o, shuffle=False,
                 validation_data=(X[:9], y[:9]))
    d = hashlib.sha256()
    d.update(net.params.tobytes())
    d.update(np.array(h1.loss + h2.loss + h2.val_loss).tobytes())
    d.update(net.predict(X).tobytes())
    d.update(np.float64(net.loss(X, y)).tobytes())
    loss_value, grad = net.backprop(X[:11], y[:11])
    d.update(np.float64(loss_value).tobytes())
    d.update(grad.tobytes())
    d.update(fp.numerical_gradient(net, X[:5], y[:5]).tobytes())
    return d.hexdigest()


if __name__ == "__main__":
    table = {key(*c): run(*c) for c in configs()}
    with open(GOLDEN, "w") as f:
        json.dump(table, f, indent=0, sort_keys=True)
        f.write("\n")
    print(f"{len(table)} digests written to {GOLDEN} (simd path {fp.simd_path()})", file=sys.stderr)
