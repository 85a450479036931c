"""The default thread count adapts to the machine and to the work: the default is the cores
the process may run on (its CPU affinity), work too small to gain from a second thread never
starts one (the compiled floor decides per call: csrc/runtime/fp_parallel.h, the GEMM's
FP_GEMM_PAR_MIN_MNK), and `fastprop bench` says in its header when the cores are busy.

The thread tests run in a child process and count its threads in /proc/self/task: OpenMP
starts its team at the first parallel region and keeps it, so a call that stayed on the
calling thread leaves the count as it was."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from fastprop import bench

linux_only = pytest.mark.skipif(not os.path.isdir("/proc/self/task"),
                                reason="counts threads in /proc/self/task (Linux)")


def run_child(code, env_extra=None):
    # numpy's BLAS starts no threads of its own that would blur the count
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("FASTPROP_NUM_THREADS", None)
    env.update(env_extra or {})
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


THREAD_PHASES = """
    import json, os
    import numpy as np
    import fastprop as fp
    from fastprop import _build_info

    def n_threads():
        return len(os.listdir("/proc/self/task"))

    fp.set_num_threads(2)
    rng = np.random.default_rng(0)
    counts = {"start": n_threads(), "openmp": _build_info.OPENMP}

    # The tutorial: 2-3-1, one sample a step (the per-sample path).
    X = rng.standard_normal((64, 2)); y = (X[:, 0] * X[:, 1] > 0).astype(float)
    net = fp.mlp([2, 3, 1], hidden="sigmoid", output="sigmoid", loss="mse", seed=0)
    net.fit(X, y, epochs=3, batch_size=1, optimizer=fp.SGD(lr=0.5), seed=0)
    counts["tutorial_fit"] = n_threads()

    # Mini-batches of a small network: products of 32 x 64 x 32, passes of 2048 elements.
    X = rng.standard_normal((256, 64)); labels = rng.integers(0, 10, 256)
    net = fp.mlp([64, 32, 10], hidden="relu", output="softmax", loss="cross_entropy", seed=0)
    net.fit(X, labels, epochs=2, batch_size=32, optimizer=fp.Adam(), seed=0)
    net.backprop(X[:32], labels[:32])
    counts["small_batches"] = n_threads()

    # Just below the floor: a 119 x 119 x 119 product (M*N*K < 120**3), 14161 elements.
    net = fp.Network([fp.Dense(119, 119, "tanh")], loss="mse", seed=0)
    X = rng.standard_normal((119, 119))
    net.predict(X)
    net.backprop(X, np.zeros((119, 119)))
    counts["below_floor"] = n_threads()

    # Well above it: 512 x 512 x 512, which two threads share.
    net = fp.Network([fp.Dense(512, 512, "tanh")], loss="mse", seed=0)
    net.predict(rng.standard_normal((512, 512)))
    counts["large"] = n_threads()
    print(json.dumps(counts))
"""


@linux_only
def test_small_work_never_starts_a_second_thread_and_large_work_does():
    counts = run_child(THREAD_PHASES)
    if not counts["openmp"]:
        pytest.skip("built without OpenMP: everything runs on one thread")
    assert counts["tutorial_fit"] == counts["start"]
    assert counts["small_batches"] == counts["start"]
    assert counts["below_floor"] == counts["start"]
    # the control: the same count would show in a child that never threads at all
    assert counts["large"] > counts["start"]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_default_threads_follow_the_cpus_the_process_may_use():
    cpus = sorted(os.sched_getaffinity(0))
    counts = run_child(f"""
        import json, os
        os.sched_setaffinity(0, {{{cpus[0]}}})
        import fastprop as fp
        from fastprop import _build_info
        print(json.dumps({{"threads": fp.get_num_threads(), "openmp": _build_info.OPENMP}}))
    """)
    assert counts["threads"] == 1
    full = run_child("""
        import json, os
        import fastprop as fp
        print(json.dumps({"threads": fp.get_num_threads()}))
    """)
    from fastprop import _build_info
    assert full["threads"] == (len(cpus) if _build_info.OPENMP else 1)


def test_environment_variable_overrides_the_default():
    counts = run_child("""
        import json
        import fastprop as fp
        print(json.dumps({"threads": fp.get_num_threads()}))
    """, {"FASTPROP_NUM_THREADS": "3"})
    from fastprop import _build_info
    assert counts["threads"] == (3 if _build_info.OPENMP else 1)


# ---- bench's warning -------------------------------------------------------------------
@pytest.mark.parametrize("load, cores, threads, busy", [
    (0.0, 2, 2, False),
    (0.4, 2, 2, False),     # 1.6 cores idle for 2 threads
    (1.0, 2, 2, True),      # the case: the second core busy
    (3.2, 2, 2, True),
    (1.0, 2, 1, False),     # one idle core is all one thread needs
    (1.6, 2, 1, True),
    (3.0, 8, 4, False),
    (5.0, 8, 4, True),
])
def test_busy_warning_compares_idle_cores_with_threads(load, cores, threads, busy):
    line = bench.busy_warning(load, cores, threads)
    assert (line is not None) == busy
    if busy:
        assert f"load {load:.1f} on {cores} cores" in line
        assert "unreliable" in line
        assert ("--threads 1" in line) == (threads > 1)


def test_busy_warning_when_more_threads_than_cores_and_without_a_load():
    assert "--threads 2" in bench.busy_warning(0.0, 2, 4)
    assert bench.busy_warning(None, 2, 2) is None
    assert bench.busy_warning(None, None, 2) is None


def bench_with_load(load, tmp_path):
    """`fastprop bench --quick` in a child whose os.getloadavg reports `load` on 2 cores,
    with 2 threads; its stdout and JSON."""
    path = tmp_path / "b.json"
    code = f"""
        import os, sys
        os.getloadavg = lambda: ({load}, {load}, {load})
        os.cpu_count = lambda: 2
        from fastprop.cli import main
        sys.exit(main(["bench", "--quick", "--sizes", "2-3-1", "--no-torch", "--threads", "2",
                       "--json", {str(path)!r}]))
    """
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stdout, json.loads(path.read_text())


def test_bench_header_says_when_the_machine_is_busy(tmp_path):
    out, data = bench_with_load(3.2, tmp_path)
    lines = out.splitlines()
    assert lines[0].startswith("fastprop ")
    assert lines[1] == ("the machine is busy (load 3.2 on 2 cores): figures are unreliable; "
                        "try --threads 1")
    assert data["load"] == {"load_average_1min": 3.2, "cpu_count": 2, "warning": lines[1]}


def test_bench_header_is_quiet_on_an_idle_machine(tmp_path):
    out, data = bench_with_load(0.0, tmp_path)
    assert "busy" not in out and "unreliable" not in out
    assert data["load"]["warning"] is None
