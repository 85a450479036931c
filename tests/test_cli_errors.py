"""Bad options to `fastprop bench` are refused when the command line is parsed, before minutes
of timing: an argparse error (exit code 2) naming the option, no traceback, nothing written.
Most tests parse in-process through fastprop.cli.main (the parser is the one the command
uses); one starts the real command to check it stops before the first timing."""
import os
import subprocess
import sys

import pytest

from fastprop import bench
from fastprop.cli import main


def refused(capsys, *argv):
    """Runs `fastprop bench ARGV`, which must stop in argument parsing; returns stderr."""
    with pytest.raises(SystemExit) as info:
        main(["bench", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_output_in_a_missing_directory_is_refused_naming_the_option(capsys, tmp_path, option):
    pytest.importorskip("matplotlib") if option == "--plot" else None
    target = tmp_path / "no-such-dir" / "out.file"
    err = refused(capsys, "--quick", option, str(target))
    assert f"argument {option}:" in err and "does not exist" in err
    assert not (tmp_path / "no-such-dir").exists()


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_output_under_a_regular_file_or_onto_a_directory_is_refused(capsys, tmp_path, option):
    pytest.importorskip("matplotlib") if option == "--plot" else None
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    err = refused(capsys, option, str(plain / "out.file"))
    assert f"argument {option}:" in err and "is not a directory" in err
    err = refused(capsys, option, str(tmp_path))
    assert f"argument {option}:" in err and "is a directory" in err
    err = refused(capsys, option, str(tmp_path) + os.sep)
    assert f"argument {option}:" in err
    err = refused(capsys, option, "")
    assert f"argument {option}:" in err
    assert sorted(os.listdir(tmp_path)) == ["plain.txt"]


def test_output_in_a_directory_that_takes_no_files_is_refused(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK) or os.geteuid() == 0:
            target = "/sys/fastprop-bench.json"     # root: even root cannot create files here
            if not os.path.isdir("/sys"):
                pytest.skip("no directory that refuses new files to this user")
        else:
            target = str(locked / "b.json")
        err = refused(capsys, "--json", target)
        assert "argument --json:" in err and "does not take new files" in err
    finally:
        locked.chmod(0o700)


def test_plot_without_matplotlib_is_refused_at_parse_time(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # import matplotlib -> ImportError
    err = refused(capsys, "--plot", str(tmp_path / "h.png"))
    assert "argument --plot:" in err and "pip install fastprop[plot]" in err
    assert not (tmp_path / "h.png").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "-0.5", "abc", "", "1e400"])
def test_fd_budget_must_be_a_finite_non_negative_number(capsys, value):
    err = refused(capsys, f"--fd-budget={value}")   # = form: argparse takes -inf for an option
    assert "argument --fd-budget:" in err and "seconds" in err


@pytest.mark.parametrize("value", ["0", "0.25", "2", "1e-3"])
def test_fd_budget_accepts_finite_non_negative_seconds(value):
    assert bench._budget(value) == float(value)


@pytest.mark.parametrize("option", ["--batch", "--repeats", "--threads", "--sample"])
@pytest.mark.parametrize("value", ["0", "-2", "1.5", "nan", "inf", "x", ""])
def test_integer_options_must_be_positive_integers(capsys, option, value):
    err = refused(capsys, f"{option}={value}")
    assert f"argument {option}:" in err and "expected a positive integer" in err


def test_a_bad_output_directory_stops_the_real_command_before_any_timing(tmp_path):
    res = subprocess.run([sys.executable, "-m", "fastprop", "bench", "--quick", "--sizes",
                          "2-3-1", "--no-torch", "--json", str(tmp_path / "nope" / "b.json")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "argument --json:" in res.stderr and "Traceback" not in res.stderr
    assert res.stdout == ""       # the run's header line is printed before the first timing


def test_a_thread_count_above_the_limit_is_refused_at_parse_time(capsys):
    from fastprop import _max_threads
    err = refused(capsys, f"--threads={_max_threads() + 1}")
    assert "argument --threads:" in err and f"from 1 to {_max_threads()}" in err


def test_demo_refuses_a_negative_seed_at_parse_time(capsys):
    with pytest.raises(SystemExit) as info:
        main(["demo", "--seed", "-1"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --seed:" in err and "expected a non-negative integer" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("sizes,message", [
    ("-".join(["2"] * 130), "layers"),                  # deeper than the kernels take
    ("1000000-1000000", "not enough memory"),           # 8e12 bytes of weights
    ("2-3-1,1000000-1000000", "--sizes 1000000-1000000"),   # refused before any timing
])
def test_a_network_the_command_cannot_build_is_an_error_line_not_a_traceback(sizes, message):
    res = subprocess.run([sys.executable, "-m", "fastprop", "bench", "--quick", "--no-torch",
                          "--sizes", sizes], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith("fastprop bench: error:") and message in res.stderr
    assert "2-3-1 " not in res.stdout         # no row was timed


def test_a_plot_format_matplotlib_cannot_write_is_refused_at_parse_time(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    err = refused(capsys, "--plot", str(tmp_path / "x.foo"))
    assert "argument --plot:" in err and "not 'foo'" in err
    assert bench._plot_file(str(tmp_path / "x.svg")).endswith("x.svg")
    assert bench._plot_file(str(tmp_path / "no_extension")).endswith("no_extension")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_a_json_file_that_cannot_be_written_at_the_end_is_an_error_line(tmp_path):
    res = subprocess.run([sys.executable, "-m", "fastprop", "bench", "--quick", "--no-torch",
                          "--sizes", "2-3-1", "--json", "/dev/full"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "fastprop bench: error: --json: could not write '/dev/full'" in res.stderr


def test_a_pgf_plot_without_its_tex_is_refused_at_parse_time(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import argparse
    import shutil
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(argparse.ArgumentTypeError, match=r"writes pgf through .*not installed"):
        bench._plot_file(str(tmp_path / "x.pgf"))


def test_a_plot_without_an_extension_is_written_under_that_name(tmp_path):
    pytest.importorskip("matplotlib")
    res = subprocess.run([sys.executable, "-m", "fastprop", "bench", "--quick", "--no-torch",
                          "--sizes", "2-3-1", "--plot", str(tmp_path / "plain")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert os.listdir(tmp_path) == ["plain"]
    assert (tmp_path / "plain").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
