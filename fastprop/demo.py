"""`fastprop demo`: trains three small networks on data that ships with the package, showing the
loss fall epoch by epoch on a live progress line, and ends each with a gradient check
(backprop against central differences). Runs in seconds.

1. the tutorial's 2-3-1 sigmoid network without biases on its single example X = [[1, 1]],
   y = [0] (the network `fastprop explain` derives);
2. XOR, the classic problem a network without a hidden layer cannot solve;
3. three interleaved spirals (fastprop/data/spirals.npz), a small multi-class problem.
This file only calls the public API; it must not reach into the compiled modules."""
import sys
import time

import numpy as np

from fastprop._cli_util import int_option


def _epochs_to_show(epochs, count=8):
    return sorted(set(int(round(e)) for e in np.geomspace(1, epochs, count)))


def _train(title, net, X, y, epochs, batch_size, optimizer, seed):
    import fastprop as fp
    print(f"\n{title}")
    print(f"  {net.n_params} parameters: "
          + " -> ".join([str(net.n_in)] + [f"{l.n_out} {l.activation}" for l in net.layers])
          + f", loss {net.loss_name}, {len(X)} sample(s), batch {batch_size}, "
          f"{type(optimizer).__name__} lr {optimizer.lr:g}")
    hist = net.fit(X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer, seed=seed,
                   progress=True)
    shown = "  ".join(f"{e}: {hist.loss[e - 1]:.4g}" for e in _epochs_to_show(epochs))
    print(f"  loss by epoch  {shown}")
    return hist


def _gradcheck_line(net, X, y):
    import fastprop as fp
    res = fp.gradcheck(net, X, y)
    verdict = "ok" if res.ok else f"NOT ok (tolerance {res.rtol:g})"
    print(f"  gradient check: max rel error {res.max_rel_error:.2e} between backprop and central "
          f"differences over all {net.n_params} parameters "
          f"({2 * net.n_params} forward passes): {verdict}")
    return res


def tutorial(seed):
    import fastprop as fp
    # the network `fastprop explain` derives: one definition of it (fastprop/explain.py)
    from fastprop.explain import tutorial_network
    net, X, y = tutorial_network(seed)
    _train("1. The tutorial network: 2-3-1 sigmoid, no biases, weights uniform in [0, 1); its "
           "one example (1, 1) -> 0",
           net, X, y, epochs=200, batch_size=1, optimizer=fp.SGD(lr=0.5), seed=seed)
    print(f"  output for [1, 1]: {net.predict(X)[0, 0]:.4f} (target 0)")
    return _gradcheck_line(net, X, y)


def xor(seed):
    import fastprop as fp
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    net = fp.mlp([2, 4, 1], hidden="tanh", output="sigmoid", loss="binary_cross_entropy",
                 seed=seed)
    _train("2. XOR: 2-4-1, tanh hidden, sigmoid output", net, X, y, epochs=300, batch_size=4,
           optimizer=fp.SGD(lr=1.0), seed=seed)
    out = net.predict(X)[:, 0]
    cells = "  ".join(f"{int(a)} xor {int(b)} -> {p:.3f}" for (a, b), p in zip(X, out))
    print(f"  outputs: {cells}")
    return _gradcheck_line(net, X, y)


def spirals(seed):
    import fastprop as fp
    from fastprop.data.spirals import load_spirals
    X, y = load_spirals()
    net = fp.mlp([2, 32, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=seed)
    _train("3. Three spirals (fastprop/data/spirals.npz, 300 points, 3 classes): 2-32-3",
           net, X, y, epochs=300, batch_size=32, optimizer=fp.Adam(lr=0.02), seed=seed)
    accuracy = float(np.mean(np.argmax(net.predict(X), axis=1) == y))
    print(f"  training accuracy: {accuracy:.1%} (chance: 33.3%)")
    return _gradcheck_line(net, X, y)


def add_parser(sub):
    p = sub.add_parser("demo", help="train small networks on data shipped with fastprop",
                       description="Trains three small networks on data that ships with "
                                   "fastprop, printing the loss epoch by epoch, and ends each "
                                   "with a gradient check against central differences.")
    p.add_argument("--seed", type=int_option(0, "a non-negative integer"), default=0, help="seed of weights and shuffling (default 0)")
    p.set_defaults(func=run)
    return p


def run(args):
    import fastprop as fp
    start = time.perf_counter()
    print(f"fastprop {fp.__version__} demo: backpropagation on three small problems "
          f"(float64, {fp.get_num_threads()} thread(s))")
    results = [tutorial(args.seed), xor(args.seed), spirals(args.seed)]
    print(f"\ndone in {time.perf_counter() - start:.1f} s")
    sys.stdout.flush()
    return 0 if all(r.ok for r in results) else 1
