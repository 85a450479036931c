"""Soak test: long runs of the public API with the process's resident memory sampled along
the way, and Python threads compared bit for bit with a single-threaded replay. It measures
nothing's speed; it fails (exit status 1) when memory grows or bits differ.

    python benchmarks/soak.py            # 10^6 per-sample steps and 10^5 predictions a network
    python benchmarks/soak.py --quick    # 10^4 and 10^3: seconds (benchmarks/test_soak.py)

1. Steps: per-sample training (fit with batch_size=1) of two networks, the tutorial's 2-3-1
   (the per-sample AVX-512 step where the CPU has it) and 16-32-4 (the general path), as many
   fit calls of one epoch over 1,000 rows (fewer for a short run; a persistent Adam, a new
   seed a call), until
   --steps steps. RSS is read from /proc/self/statm every 1/40 of the run.
2. Predictions: --predictions single-row predict calls a network, RSS sampled the same way.
   For both, the first 10% of the samples are the warm-up (workspaces, numpy's caches); after
   it RSS must stay within 1 MiB of its level at the end of the warm-up.
3. Threads sharing one network (64-128-10, calls of up to 200 rows, so that they overlap):
   T Python threads each make a fixed sequence of fit and
   predict calls on it (their own data, seeds and SGD-with-momentum optimizer). The network's
   lock runs the calls one at a time, in an order that is not deterministic: which waiting
   thread gets the lock next is up to the scheduler. What is deterministic is every result
   given that order (each thread's calls keep their program order; a call's result depends
   only on the parameters and optimizer state it starts from). So the order is recovered from
   the results: starting from a copy of the initial network, the next call is the one, among
   each thread's next call, whose single-threaded result equals the recorded one (a predict's
   outputs, a fit's loss history; a depth-first search backs up on a tie). The replay in that
   order, in one thread, must reproduce every result and the final parameters bit for bit.
4. Threads with their own networks: T threads train and predict on networks of their own,
   concurrently (the compiled calls release the GIL); each network's results and parameters
   must equal, bit for bit, those of the same calls made on a copy of it in one thread.
"""
import argparse
import copy
import os
import platform
import resource
import sys
import threading
import time

import numpy as np

import fastprop as fp

MIB = 1 << 20
LIMIT_BYTES = 1 * MIB
WARMUP_FRACTION = 0.1
SAMPLES = 40
ROWS = 1000


def rss_bytes():
    """Resident set size now: /proc/self/statm where there is one, else the peak from
    getrusage (an upper bound that only grows, so growth still shows)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def drift(samples):
    """(warm-up level, largest growth above it after the warm-up, last minus it), bytes."""
    w = max(1, int(len(samples) * WARMUP_FRACTION))
    level = samples[w - 1]
    after = samples[w:] or samples[-1:]
    return level, max(after) - level, after[-1] - level


def report_rss(label, samples, seconds, what):
    level, peak, last = drift(samples)
    ok = peak <= LIMIT_BYTES
    print(f"{label}: {what} in {seconds:.2f} s")
    print(f"  RSS MiB ({len(samples)} samples): "
          + " ".join(f"{s / MIB:.2f}" for s in samples))
    print(f"  after warm-up: level {level / MIB:.2f} MiB, largest growth {peak / 1024:+.0f} KiB, "
          f"at the end {last / 1024:+.0f} KiB (limit {LIMIT_BYTES / 1024:.0f} KiB): "
          f"{'ok' if ok else 'FAIL'}")
    return ok


def make_net(sizes, hidden, output, loss, seed):
    return fp.mlp(sizes, hidden=hidden, output=output, loss=loss, seed=seed)


NETS = {   # name -> (sizes, hidden, output, loss)
    "2-3-1": ([2, 3, 1], "sigmoid", "sigmoid", "mse"),
    "16-32-4": ([16, 32, 4], "tanh", "softmax", "cross_entropy"),
}


def make_data(net, rows, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, net.n_in))
    if net.loss_name == "cross_entropy":
        y = rng.integers(0, net.n_out, rows)
    else:
        y = rng.uniform(0, 1, (rows, net.n_out))
    return X, y


# ---- 1 and 2: memory over long runs ------------------------------------------------------
def soak_steps(name, steps):
    net = make_net(*NETS[name], seed=0)
    rows = max(1, min(ROWS, steps // (2 * SAMPLES)))     # at least 2 calls a sample
    X, y = make_data(net, rows, 1)
    opt = fp.Adam(lr=1e-3)
    calls = max(1, steps // rows)
    every = max(1, calls // SAMPLES)
    samples = []
    t0 = time.perf_counter()
    for i in range(calls):
        hist = net.fit(X, y, epochs=1, batch_size=1, optimizer=opt, seed=i)
        if (i + 1) % every == 0:
            samples.append(rss_bytes())
    seconds = time.perf_counter() - t0
    finite = bool(np.isfinite(net.params).all()) and np.isfinite(hist.loss[-1])
    ok = report_rss(f"steps {name}", samples, seconds,
                    f"{calls * rows:,} per-sample steps ({calls:,} fit calls of {rows:,} "
                    f"rows, {seconds / (calls * rows) * 1e9:.0f} ns a step, last loss "
                    f"{hist.loss[-1]:.4g})")
    return ok and finite


def soak_predictions(name, predictions):
    net = make_net(*NETS[name], seed=0)
    X, _ = make_data(net, ROWS, 2)
    rows = [X[i:i + 1] for i in range(ROWS)]
    every = max(1, predictions // SAMPLES)
    samples = []
    t0 = time.perf_counter()
    for i in range(predictions):
        out = net.predict(rows[i % ROWS])
        if (i + 1) % every == 0:
            samples.append(rss_bytes())
    seconds = time.perf_counter() - t0
    ok = report_rss(f"predictions {name}", samples, seconds,
                    f"{predictions:,} single-row predictions "
                    f"({seconds / predictions * 1e6:.2f} us each)")
    return ok and out.shape == (1, net.n_out)


# ---- 3 and 4: threads ---------------------------------------------------------------------
def thread_program(t, n_calls, net, max_rows=40):
    """Thread t's calls: a list of ("fit", X, y, kwargs) and ("predict", X), alternating two
    fits and a predict, on data of its own."""
    rng = np.random.default_rng(100 + t)
    calls = []
    for i in range(n_calls):
        rows = int(rng.integers(1, max_rows))
        X, y = make_data(net, rows, rng.integers(2 ** 32))
        if i % 3 == 2:
            calls.append(("predict", X))
        else:
            calls.append(("fit", X, y, dict(epochs=int(rng.integers(1, 3)),
                                            batch_size=int(rng.integers(1, 9)),
                                            shuffle=bool(rng.integers(2)),
                                            seed=int(rng.integers(2 ** 32)))))
    return calls


def make_call(net, call, opt):
    """The call's result as bytes: a fit's loss history, a predict's outputs."""
    if call[0] == "predict":
        return net.predict(call[1]).tobytes()
    try:
        hist = net.fit(call[1], call[2], optimizer=opt, **call[3])
        return np.array(hist.loss).tobytes()
    except fp.TrainingDivergedError as exc:     # a result like any other, replayed the same
        return b"diverged" + np.array(exc.history.loss).tobytes()


def run_threads(programs, nets, opts):
    """Runs thread t's program on nets[t] with opts[t] (nets may repeat one network); returns
    each thread's results and the wall time."""
    results = [[] for _ in programs]
    errors = []
    start = threading.Barrier(len(programs))

    def worker(t):
        try:
            start.wait()
            for call in programs[t]:
                results[t].append(make_call(nets[t], call, opts[t]))
        except BaseException as exc:        # reported, and the run fails
            errors.append(f"thread {t}: {exc!r}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(len(programs))]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise RuntimeError("; ".join(errors))
    return results, time.perf_counter() - t0


def recover_order(initial, programs, results, opts0):
    """The order the lock granted: a list of thread numbers, found by a depth-first search in
    which a thread's next call is taken when its single-threaded result from the current
    state equals the recorded one. Returns (order, final network) or (None, None)."""
    T = len(programs)
    state = copy.deepcopy((initial, opts0))
    stack = [(state, [0] * T, [], 0)]       # (state, next call a thread, order, first choice)
    total = sum(len(p) for p in programs)
    while stack:
        (net, opts), pos, order, first = stack.pop()
        if len(order) == total:
            return order, net
        for t in range(first, T):
            if pos[t] == len(programs[t]):
                continue
            call = programs[t][pos[t]]
            trial = (net, opts) if call[0] == "predict" else copy.deepcopy((net, opts))
            if make_call(trial[0], call, trial[1][t]) != results[t][pos[t]]:
                continue
            stack.append(((net, opts), pos, order, t + 1))     # the other choices, on a tie
            new_pos = list(pos)
            new_pos[t] += 1
            stack.append((trial, new_pos, order + [t], 0))
            break
    return None, None


def soak_shared(n_threads, n_calls):
    net = make_net([64, 128, 10], "relu", "softmax", "cross_entropy", seed=3)  # calls of ~ms
    initial = copy.deepcopy(net)
    programs = [thread_program(t, n_calls, net, max_rows=200) for t in range(n_threads)]
    opts = [fp.SGD(lr=0.05, momentum=0.9) for _ in range(n_threads)]
    opts0 = copy.deepcopy(opts)
    results, seconds = run_threads(programs, [net] * n_threads, opts)
    t0 = time.perf_counter()
    order, replayed = recover_order(initial, programs, results, opts0)
    ok = order is not None and replayed.params.tobytes() == net.params.tobytes()
    switches = sum(a != b for a, b in zip(order, order[1:])) if order else 0
    print(f"threads sharing one 64-128-10 network: {n_threads} threads x {n_calls} calls (fit, fit, "
          f"predict, ...) in {seconds:.2f} s; order recovered and replayed in one thread in "
          f"{time.perf_counter() - t0:.2f} s, {switches} switches between threads: "
          f"{'every result and the final parameters bit-identical' if ok else 'FAIL: no order of the calls reproduces the threaded results'}")
    return ok


def soak_own(n_threads, n_calls):
    names = list(NETS)
    nets = [make_net(*NETS[names[t % len(names)]], seed=10 + t) for t in range(n_threads)]
    initial = [copy.deepcopy(n) for n in nets]
    programs = [thread_program(t, n_calls, nets[t]) for t in range(n_threads)]
    opts = [fp.Adam(lr=1e-2) for _ in range(n_threads)]
    results, seconds = run_threads(programs, nets, opts)
    bad = []
    t0 = time.perf_counter()
    for t in range(n_threads):
        net, opt = initial[t], fp.Adam(lr=1e-2)
        alone = [make_call(net, call, opt) for call in programs[t]]
        if alone != results[t] or net.params.tobytes() != nets[t].params.tobytes():
            bad.append(t)
    print(f"threads with their own networks (2-3-1, 16-32-4): {n_threads} threads x {n_calls} calls in "
          f"{seconds:.2f} s, each replayed alone in {time.perf_counter() - t0:.2f} s: "
          + ("every result and the final parameters bit-identical" if not bad
             else f"FAIL: threads {bad} differ from their single-threaded replay"))
    return not bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="10^4 steps, 10^3 predictions, short thread runs (seconds)")
    ap.add_argument("--steps", type=int, help="per-sample steps a network (default 10^6)")
    ap.add_argument("--predictions", type=int, help="single-row predictions a network (10^5)")
    ap.add_argument("--threads", type=int, default=4, help="Python threads (default 4)")
    ap.add_argument("--calls", type=int, help="calls a thread (default 60; 12 with --quick)")
    args = ap.parse_args(argv)
    steps = args.steps or (10 ** 4 if args.quick else 10 ** 6)
    predictions = args.predictions or (10 ** 3 if args.quick else 10 ** 5)
    calls = args.calls or (12 if args.quick else 60)
    print(f"fastprop {fp.__version__}, {fp.simd_path()}, {fp.get_num_threads()} fastprop "
          f"threads, Python {platform.python_version()}, numpy {np.__version__}, "
          f"RSS from {'/proc/self/statm' if os.path.exists('/proc/self/statm') else 'getrusage (peak)'}")
    ok = True
    for name in NETS:
        ok &= soak_steps(name, steps)
    for name in NETS:
        ok &= soak_predictions(name, predictions)
    ok &= soak_shared(args.threads, calls)
    ok &= soak_own(args.threads, calls)
    print("soak:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
