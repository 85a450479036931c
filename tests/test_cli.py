"""The `fastprop` command as a user runs it: `bench` (table, --json, --plot, the extrapolated
mark, bad options) and `demo`. Each test starts a fresh interpreter on the installed package
(`sys.executable -m fastprop`), so it checks the entry point, not just the functions."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

SMALL = "2-3-1,4-16-1"


def fastprop_cmd(*args, timeout=120, prelude=None):
    """Runs `python -m fastprop ARGS`; `prelude` is Python run first in the same process."""
    if prelude is None:
        cmd = [sys.executable, "-m", "fastprop", *args]
    else:
        code = (f"{prelude}\nimport sys\nfrom fastprop.cli import main\n"
                f"sys.exit(main({list(args)!r}))")
        cmd = [sys.executable, "-c", code]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def quick_json(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    res = fastprop_cmd("bench", "--quick", "--sizes", SMALL, "--no-torch", "--json", str(path))
    assert res.returncode == 0, res.stderr
    return res, json.loads(path.read_text())


def test_bench_quick_writes_json_with_every_key(quick_json):
    _, data = quick_json
    for key in ("command", "machine", "versions", "threads", "simd_path", "settings",
                "method", "rows"):
        assert key in data
    assert data["machine"]["cpu_model"]
    assert data["machine"]["logical_cores"] >= 1
    assert {"python", "numpy", "fastprop", "torch"} <= set(data["versions"])
    assert data["threads"] >= 1
    assert data["settings"]["quick"] is True
    assert [r["network"] for r in data["rows"]] == ["2-3-1", "4-16-1"]
    assert [r["N"] for r in data["rows"]] == [13, 97]


def test_bench_rows_hold_raw_timings_from_compiled_loops(quick_json):
    _, data = quick_json
    repeats = data["settings"]["repeats"]
    for row in data["rows"]:
        for name in ("forward", "backprop", "fd"):
            timing = row[name]
            assert timing["compiled_loop"] is True
            assert len(timing["call_s"]) == repeats
            assert all(t > 0 for t in timing["call_s"])
            assert timing["median_s"] > 0 and math.isfinite(timing["median_s"])
        assert row["forward"]["reps"] >= 1 and row["backprop"]["reps"] >= 1
        assert row["fd"]["extrapolated"] is False   # 13 and 97 parameters run in full
        assert row["fd"]["k"] == row["N"]


def test_bench_ratios_are_finite_positive_and_gradients_agree(quick_json):
    _, data = quick_json
    for row in data["rows"]:
        assert 0 < row["backprop_fwd_equiv"] < 100 and math.isfinite(row["backprop_fwd_equiv"])
        # FD over N parameters costs about N + 1 passes; generous bounds for a noisy machine
        assert row["N"] / 10 < row["fd_fwd_equiv"] < 10 * (row["N"] + 1)
        assert row["fd_over_theory"] == pytest.approx(row["fd_fwd_equiv"] / (row["N"] + 1))
        assert row["speedup_fd_over_backprop"] > 0
        assert row["max_rel_diff"] < 1e-3          # forward differences (float64)
        assert row["max_rel_diff_central"] < 1e-6  # central differences (float64)
        assert 0 <= row["l2_rel_diff_central"] < 1e-6   # the same, norm-wise


def test_bench_prints_an_aligned_table(quick_json):
    res, _ = quick_json
    lines = res.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("network"))
    assert set(lines[header + 1].replace(" ", "")) == {"-"}
    assert lines[header + 2].startswith("2-3-1")
    assert lines[header + 3].startswith("4-16-1")
    for col in ("N", "forward", "backprop", "bp/fwd", "FD/fwd", "FD/(N+1)", "FD/bp",
                "max rel diff"):
        assert col in lines[header]


def test_bench_marks_rows_extrapolated_from_a_sample(tmp_path):
    path = tmp_path / "b.json"
    res = fastprop_cmd("bench", "--quick", "--sizes", "16-64-4", "--fd-budget", "0",
                       "--sample", "8", "--no-torch", "--json", str(path))
    assert res.returncode == 0, res.stderr
    assert "extrapolated from 8 of 1,348" in res.stdout
    row = json.loads(path.read_text())["rows"][0]
    assert row["fd"]["extrapolated"] is True and row["fd"]["k"] == 8
    assert len(row["fd"]["indices"]) == 8 and row["fd"]["sample_seed"] is not None
    assert row["compared_entries"] == 8
    assert row["max_rel_diff_central"] < 1e-6


def test_bench_central_scheme_and_float32(tmp_path):
    path = tmp_path / "b.json"
    res = fastprop_cmd("bench", "--quick", "--sizes", "2-3-1", "--scheme", "central",
                       "--dtype", "float32", "--batch", "8", "--no-torch", "--json", str(path))
    assert res.returncode == 0, res.stderr
    data = json.loads(path.read_text())
    row = data["rows"][0]
    assert data["settings"]["scheme"] == "central" and row["dtype"] == "float32"
    assert row["batch"] == 8 and row["fd_passes_theory"] == 26
    assert row["fd_over_theory"] == pytest.approx(row["fd_fwd_equiv"] / 26)
    assert "FD/2N" in res.stdout and "FD/(N+1)" not in res.stdout
    assert row["max_rel_diff"] < 5e-2


def test_bench_compares_with_torch_when_installed(tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "b.json"
    res = fastprop_cmd("bench", "--quick", "--sizes", "2-3-1,16-64-4", "--json", str(path))
    assert res.returncode == 0, res.stderr
    assert "torch bp" in res.stdout
    data = json.loads(path.read_text())
    assert data["versions"]["torch"]
    for row in data["rows"]:
        t = row["torch"]
        assert t["forward"]["compiled_loop"] is False and t["forward"]["median_s"] > 0
        assert t["backprop_fwd_equiv"] > 0
        assert t["threads"] == data["threads"]
        # the same network, weights and batch: the same gradient
        assert t["max_rel_diff_vs_fastprop"] < 1e-10


@pytest.mark.parametrize("sizes", ["2-x-1", "5", "3-0-1"])
def test_bench_rejects_bad_sizes_with_a_clear_message(sizes):
    res = fastprop_cmd("bench", "--sizes", sizes)
    assert res.returncode == 2
    assert "--sizes" in res.stderr and "Traceback" not in res.stderr


def test_bench_plot_without_matplotlib_says_what_to_install(tmp_path):
    png = tmp_path / "h.png"
    res = fastprop_cmd("bench", "--quick", "--sizes", "2-3-1", "--no-torch", "--plot", str(png),
                       prelude="import sys; sys.modules['matplotlib'] = None")
    assert res.returncode != 0
    assert "pip install fastprop[plot]" in res.stderr
    assert "Traceback" not in res.stderr
    assert not png.exists()


def test_bench_plot_with_matplotlib_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "h.png"
    res = fastprop_cmd("bench", "--quick", "--sizes", SMALL, "--no-torch", "--plot", str(png))
    assert res.returncode == 0, res.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_python_dash_m_and_the_script_give_the_same_help():
    res = fastprop_cmd("bench", "--help")
    assert res.returncode == 0
    for option in ("--quick", "--sizes", "--batch", "--dtype", "--scheme", "--repeats",
                   "--json", "--plot"):
        assert option in res.stdout


def test_demo_trains_three_networks_and_checks_their_gradients():
    # bytes, not text mode: text mode would turn the progress line's \r into \n
    res = subprocess.run([sys.executable, "-m", "fastprop", "demo"], capture_output=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr.decode()
    out = res.stdout.decode()
    checks = [line for line in out.splitlines() if "gradient check: max rel error" in line]
    assert len(checks) == 3 and all(line.rstrip().endswith("ok") for line in checks)
    # piped, not a terminal: plain progress lines (no \r), the first and the last epoch's
    assert "\r" not in out and "samples/s" in out
    assert "epoch   1/300" in out and "epoch 300/300" in out
    assert "loss by epoch" in out


def test_demo_data_ships_with_the_package():
    from fastprop.data.spirals import load_spirals, make_spirals
    X, y = load_spirals()
    assert X.shape == (300, 2) and X.dtype == np.float64
    assert y.shape == (300,) and np.bincount(y).tolist() == [100, 100, 100]
    X2, y2 = make_spirals()
    np.testing.assert_allclose(X, X2, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(y, y2)
