"""fastprop side by side with its peers, in one process: numpy (OpenBLAS, and the plain numpy
MLP of benchmarks/peers.py), a plain-Python scalar loop, PyTorch CPU's idiomatic loop (and
torch.compile, where it runs), scikit-learn's MLPClassifier, JAX/XLA (benchmarks/jax_peer.py)
and ONNX Runtime (benchmarks/onnx_peer.py). The measurement of issues 4 and 18.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/compare.py [--quick]
        [--only gemm,tutorial,mnist,big,digits,predict,inference,fitcost,partial_fit]
        [--threads 1,2] [--json docs/compare.json]

Optional peers: `pip install .[bench]` brings jax, jaxlib, onnx and onnxruntime. A peer that
is missing is skipped with a line saying so. JAX runs on one thread (its CPU client is made
for one CPU, see jax_peer.py; XLA's threads cannot change afterwards), so it is timed in the
t = 1 rows only, and its "by CPU" figure is left out (it computes on XLA's thread, not the
caller's); float64 is enabled for it. It starts from fastprop's weights, sees the same
batches in the same order and its loss is checked against fastprop's after the work (a
WARNING when not). On training workloads it runs two ways, the epoch under lax.scan in one
jitted call and the jitted-step loop; the faster of the two is the peer of the ratio, both
are reported. torch.compile is timed in a full run only (its compile takes tens of seconds).

Method
- Interleaved: within every repeat each contender runs one sample in turn, and the order is
  rotated from repeat to repeat, so that machine noise (a shared, busy host) hits all alike.
  Warm-up samples first (not recorded). The figure reported is the median of the samples.
- Threads: fastprop.set_num_threads(t); numpy through threadpoolctl (OpenBLAS); torch through
  torch.set_num_threads(t). Without threadpoolctl the script re-runs itself once per thread
  count in a child process with OPENBLAS_NUM_THREADS=t (OpenBLAS reads it at import).
  After a multi-threaded contender, its runtime's workers may spin for a while (OpenBLAS's
  thread server, OpenMP); a short pause (`gap`) separates contenders when t > 1.
- Ratios are speedups: peer_time / fastprop_time (for GEMM: fastprop GFLOP/s / numpy
  GFLOP/s), computed from the medians.
- The FMA peak is measured by the script itself: a loop of 12 independent AVX2 FMA chains
  compiled at run time with the system C compiler (cc) and called through ctypes, with t
  threads (the maximum over samples is used: the conservative choice). Without a compiler the
  script falls back to the larger of (a) the /proc/cpuinfo frequency x 32 SP / 16 DP flops a
  cycle a core (AVX2, 2 FMA pipes) and (b) the best GEMM rate it observed, and says so.

Layout: this file is the command line; workloads/ holds one module a workload (gemm,
tutorial, minibatch: mnist and big, digits, predict: one-row latency, inference: batched
throughput, fitcost: the fixed cost of a fit call, partial_fit: one fit call a mini-batch),
each returning a plain result record; report.py builds the table from those records without
changing them; machine.py sets the libraries' threads, reports the machine and measures the
FMA peak; peers.py holds the numpy, plain-Python and PyTorch peers, jax_peer.py and
onnx_peer.py the optional ones. The timing itself (interleaving, calibration, medians and
spread, the machine's CPU and versions) is fastprop.timing, which `fastprop bench` uses too.

Never import the source tree: run it from outside the checkout with the installed fastprop.
"""
import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:      # peers, machine, report, workloads sit next to this file
    sys.path.insert(0, HERE)
import jax_peer  # noqa: E402
import machine  # noqa: E402
import onnx_peer  # noqa: E402
import report  # noqa: E402
from workloads import WORKLOADS as RUNS  # noqa: E402
from workloads.common import Setup  # noqa: E402

WORKLOADS = list(RUNS)
TARGETS = report.TARGETS


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a reduced run (under a minute)")
    p.add_argument("--only", default=",".join(WORKLOADS),
                   help="comma-separated subset of " + ",".join(WORKLOADS))
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--json", default=None,
                   help="output JSON file (default docs/compare.json next to benchmarks/)")
    p.add_argument("--no-json", action="store_true", help="write no JSON")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.only = [w.strip() for w in a.only.split(",") if w.strip()]
    bad = [w for w in a.only if w not in WORKLOADS]
    if bad:
        p.error(f"--only: unknown workload(s) {bad}; expected some of {WORKLOADS}")
    try:
        a.threads = [int(x) for x in a.threads.split(",") if x.strip()]
    except ValueError:
        p.error(f"--threads: expected integers like 1,2, got {a.threads!r}")
    if not a.threads or min(a.threads) < 1:
        p.error("--threads: expected positive integers")
    if a.json is None:
        a.json = os.path.join(os.path.dirname(HERE), "docs", "compare.json")
    return a


def _warn_env(log):
    bad = [k for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ]
    if bad:
        log("WARNING: " + ", ".join(f"{k}={os.environ[k]}" for k in bad) + " is set: numpy's "
            "OpenBLAS may be slowed (wrong kernel or block sizes) and the numpy figures "
            "understated. Run with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...`.")
    return bad


def _run_children(args, log):
    """No threadpoolctl: one child process per thread count, OPENBLAS_NUM_THREADS=t."""
    merged = None
    for t in args.threads:
        fd, path = tempfile.mkstemp(suffix=".json")
        os.close(fd)
        cmd = [sys.executable, os.path.abspath(__file__), "--child", "--threads", str(t),
               "--only", ",".join(args.only), "--json", path] + (["--quick"] if args.quick else [])
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t))
        log(f"threadpoolctl is missing: running the t={t} part in a child process with "
            f"OPENBLAS_NUM_THREADS={t}")
        subprocess.run(cmd, env=env, check=True)
        with open(path) as f:
            part = json.load(f)
        os.unlink(path)
        if merged is None:
            merged = part
            merged["threads"] = list(args.threads)
            continue
        for w, r in part["workloads"].items():
            if "by_threads" in r and "by_threads" in merged["workloads"].get(w, {}):
                merged["workloads"][w]["by_threads"].update(r["by_threads"])
        merged["fma_peak"]["by_threads"].update(part["fma_peak"]["by_threads"])
    return merged


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    t_start = time.perf_counter()
    env_warn = _warn_env(log)
    try:
        import threadpoolctl  # noqa: F401
        have_tpc = True
    except ImportError:
        have_tpc = False
    if not have_tpc and not args.child and (
            len(args.threads) > 1 or os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads[0])):
        results = _run_children(args, log)
    else:
        results = run(args, log)
    results["env_warning"] = env_warn
    results["wall_seconds_total"] = time.perf_counter() - t_start
    if not args.child:
        print(file=sys.stdout)
        report.print_table(results)
        print(f"total wall time {results['wall_seconds_total']:.1f} s; load average at start "
              f"{results['machine']['loadavg_start'][0]:.1f}, at end {os.getloadavg()[0]:.1f} "
              f"(a shared host: read ratios with the noise column in mind)")
    if not args.no_json:
        # a child's part is merged by its parent, which derives the figures of the whole
        written = results if args.child else report.derived(results)
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(written, f, indent=1, default=float)
        os.replace(tmp, args.json)
        if not args.child:
            print(f"wrote {args.json}")
    return 0


def run(args, log):
    try:
        import torch
    except ImportError:
        torch = None
        log("PyTorch is not installed: the torch parts are skipped.")
    try:
        import sklearn
    except ImportError:
        sklearn = None
        if "digits" in args.only:
            log("scikit-learn is not installed: the digits comparison is skipped.")
    # before anything imports jax: XLA's thread count is read once, at its import
    jax, why = jax_peer.load()
    if jax is None:
        log(f"JAX is skipped: {why} (pip install .[bench])")
    ort, why = onnx_peer.load()
    if ort is None:
        log(f"ONNX Runtime is skipped: {why} (pip install .[bench])")
    import fastprop as fp
    th = machine.Threads(torch)
    info = machine.machine_info(th, torch, sklearn)
    info["versions"]["jax"] = jax_peer.version()
    info["versions"]["onnxruntime"] = onnx_peer.version()
    info["xla_flags"] = os.environ.get("XLA_FLAGS") if jax is not None else None
    here = os.path.realpath(os.path.dirname(HERE))
    if os.path.realpath(fp.__file__).startswith(here + os.sep):
        log(f"WARNING: fastprop imported from the source tree ({fp.__file__}); run from "
            f"outside the checkout with the installed package.")
    log(f"fastprop {info['versions']['fastprop']} ({info['fastprop_simd_path']}) from "
        f"{fp.__file__}")
    log(f"numpy {np.__version__}, torch {info['versions']['torch']}, sklearn "
        f"{info['versions']['sklearn']}, jax {info['versions']['jax']}, onnxruntime "
        f"{info['versions']['onnxruntime']}; CPU {info['cpu_model']} "
        f"({info['cpu'].get('microarchitecture_guess', '?')}), {info['logical_cpus']} cpus; "
        f"threads {args.threads}; load average {info['loadavg_start'][0]:.1f}")
    results = {"machine": info, "threads": args.threads, "quick": args.quick,
               "only": args.only, "targets": dict(TARGETS),
               "goal_seconds": dict(report.GOAL_SECONDS), "workloads": {},
               "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
               "method": ("interleaved contenders, order rotated each repeat, medians after "
                          "warm-up; pause of 0.05 s between contenders when t > 1")}
    log("measuring the FMA peak ...")
    results["fma_peak"] = machine.measure_fma_peak(args.threads, args.quick)
    setup = Setup(th=th, threads=args.threads, quick=args.quick, torch=torch, sklearn=sklearn,
                  log=log, jax=jax, ort=ort)
    # the libraries' own objects (jax's and torch's are many) out of the collector's reach:
    # interleave collects before every sample, which would otherwise take tenths of seconds
    gc.collect()
    gc.freeze()
    for w in args.only:
        t0 = time.perf_counter()
        log(f"{w} ...")
        la0 = os.getloadavg()[0]
        r = RUNS[w](setup)
        r["wall_seconds"] = time.perf_counter() - t0
        r["loadavg"] = [la0, os.getloadavg()[0]]
        if torch is None and w != "gemm":
            r["torch_note"] = "torch not installed: skipped"
        results["workloads"][w] = r
        log(f"  ({r['wall_seconds']:.1f} s)")
        gc.collect()       # what the workload leaves (jitted functions, models): frozen too
        gc.freeze()
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["machine"]["numpy_threads_at_end"] = th.numpy_threads()
    return results


if __name__ == "__main__":
    sys.exit(main())
