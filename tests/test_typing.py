"""The package's types, as a user's type checker sees them: `mypy --strict` on a script that
calls the whole public API (tests/typing/user_script.py) passes against the installed
fastprop (its py.typed and _core.pyi), and the script runs. Skipped without mypy
(`pip install mypy`; CI installs it, .ci/typecheck)."""
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "typing", "user_script.py")


def _run(args, tmp_path):
    # From an empty directory: the checkout's uncompiled fastprop/ must not be the one found.
    env = dict(os.environ, MYPY_CACHE_DIR=str(tmp_path / "mypy_cache"), MPLBACKEND="Agg")
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)


def test_user_script_passes_mypy_strict(tmp_path):
    pytest.importorskip("mypy")
    res = _run(["-m", "mypy", "--strict", "--no-error-summary", SCRIPT], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr


def test_installed_package_ships_its_types():
    import fastprop
    where = os.path.dirname(fastprop.__file__)
    assert os.path.isfile(os.path.join(where, "py.typed"))
    assert os.path.isfile(os.path.join(where, "_core.pyi"))


def test_user_script_runs(tmp_path):
    res = _run([SCRIPT], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "typed API ran:" in res.stdout
