"""Packaging: what a newcomer meets first. Importing the uncompiled source tree says what is
wrong and what to do; the version is defined once and `fastprop --version` prints it; the
licence is a file and PEP 639 metadata; the sdist holds every file the build and the tests
need (built here when `build` is installed); the wheel configuration asks for portable,
stripped builds. (The wheel itself is built, repaired and smoke-tested by
tools/build_wheel.sh and the sdist installed by tools/check_sdist.sh, both run by .ci/run:
minutes of compiling, too slow for the suite.)"""
import ast
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import fastprop

ROOT = Path(__file__).resolve().parents[1]
SOURCE_PACKAGE = ROOT / "fastprop"

try:
    import tomllib
except ImportError:          # Python < 3.11
    tomllib = None


def pyproject():
    if tomllib is None:
        pytest.skip("reading pyproject.toml needs tomllib (Python 3.11+)")
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def source_package_copy(dest):
    """A copy of the checkout's fastprop/ as it is before any build: no compiled module, no
    Cython output, no build record."""
    if not (SOURCE_PACKAGE / "_core.pyx").exists():
        pytest.skip("needs the source tree (fastprop/_core.pyx)")
    skip = shutil.ignore_patterns("*.so", "*.pyd", "_core.c", "_build_info.py", "__pycache__")
    shutil.copytree(SOURCE_PACKAGE, dest / "fastprop", ignore=skip)
    return dest / "fastprop"


def run_python(args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120)


# ---- the source tree shadowing the installed package -------------------------------------
@pytest.mark.parametrize("how", ["-c", "script"])
def test_importing_the_source_tree_says_it_shadows_the_install_and_what_to_do(tmp_path, how):
    package = source_package_copy(tmp_path)
    if how == "-c":       # python -c / a notebook started there: the cwd is first on sys.path
        res = run_python(["-c", "import fastprop"], cwd=tmp_path)
    else:                 # a script saved in the checkout root: its folder is first
        (tmp_path / "train.py").write_text("import fastprop\n")
        res = run_python([str(tmp_path / "train.py")], cwd="/")
    assert res.returncode != 0
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: fastprop was imported from its source tree")
    assert str(package) in last
    assert "shadows any installed fastprop" in last
    assert "Run from another directory" in last
    assert "pip install -e" in last and "build_ext --inplace" in last
    assert "partially initialized" not in res.stderr and "circular" not in res.stderr


def test_a_compiled_module_that_fails_to_load_keeps_its_own_error(tmp_path):
    package = source_package_copy(tmp_path)
    suffix = next(s for s in __import__("importlib.machinery").machinery.EXTENSION_SUFFIXES
                  if s.endswith(".so") or s.endswith(".pyd"))
    (package / f"_core{suffix}").write_bytes(b"not an ELF file")
    res = run_python(["-c", "import fastprop"], cwd=tmp_path)
    assert res.returncode != 0
    assert "ImportError" in res.stderr
    assert "source tree" not in res.stderr


def test_from_another_folder_the_installed_package_imports(tmp_path):
    source_package_copy(tmp_path / "checkout")
    res = run_python(["-c", "import fastprop, sys; print(fastprop.__file__)"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert str(tmp_path) not in res.stdout


# ---- the version, once -------------------------------------------------------------------
def test_version_is_defined_once_in_the_package_and_read_by_setuptools():
    meta = pyproject()
    assert "version" not in meta["project"]
    assert "version" in meta["project"]["dynamic"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "fastprop.__version__"}
    tree = ast.parse((SOURCE_PACKAGE / "__init__.py").read_text())
    literal = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
               and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
               and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)]
    assert len(literal) == 1          # a plain literal: setuptools reads it without importing


def test_installed_metadata_carries_the_package_version():
    assert importlib.metadata.version("fastprop") == fastprop.__version__


def test_version_option_prints_the_version():
    res = run_python(["-m", "fastprop", "--version"], cwd="/")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"fastprop {fastprop.__version__}"


# ---- the licence -------------------------------------------------------------------------
def test_license_file_is_mit_for_the_fastprop_authors():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 the fastprop authors" in text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in text


def test_license_metadata_is_pep_639():
    meta = pyproject()
    assert meta["project"]["license"] == "MIT"
    assert meta["project"]["license-files"] == ["LICENSE"]
    assert not any(c.startswith("License ::") for c in meta["project"].get("classifiers", []))
    # setuptools reads an SPDX string and license-files from 77 on
    setuptools_req = [r for r in meta["build-system"]["requires"] if r.startswith("setuptools")]
    assert setuptools_req and int(setuptools_req[0].split(">=")[1].split(".")[0]) >= 77


def test_installed_metadata_has_the_license_expression():
    meta = importlib.metadata.metadata("fastprop")
    assert meta["License-Expression"] == "MIT"
    assert "LICENSE" in (meta.get_all("License-File") or [])


# ---- the sdist ---------------------------------------------------------------------------
def tracked_files():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout")
    out = subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True,
                         check=True).stdout
    return [line for line in out.splitlines() if line]


def test_sdist_holds_every_source_and_test_file_and_no_build_product(tmp_path):
    pytest.importorskip("build")
    pytest.importorskip("Cython")      # setup.py imports it, even for an sdist
    files = tracked_files()
    src = tmp_path / "src"
    for name in files:
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    # build products a working checkout has, which must stay out
    products = ["fastprop/_core.c", "fastprop/_core.cpython-311-x86_64-linux-gnu.so",
                "csrc/tests/gemm_check", "csrc/nn/fp_net.o"]
    for name in products:   # (Cython refuses to overwrite a .c it did not write)
        (src / name).write_text("/* Generated by Cython 3.1.0 */\n")
    res = subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation",
                          "--outdir", str(tmp_path / "dist"), str(src)],
                         capture_output=True, text=True, timeout=300)
    if res.returncode != 0 and "setuptools" in res.stderr and "77" in res.stderr:
        pytest.skip("this environment's setuptools is older than the build needs")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    (sdist,) = (tmp_path / "dist").glob("fastprop-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    needed = [f for f in files if f.startswith(("csrc/", "fastprop/", "tests/"))
              or f in ("LICENSE", "README.md", "pyproject.toml", "setup.py", "MANIFEST.in")]
    for pattern in ("fastprop/_core.pyx", "fastprop/_csrc.pxd", "tests/conftest.py",
                    "csrc/nn/fp_net.inc", "csrc/runtime/README.md", "LICENSE"):
        assert pattern in needed        # the check below covers these kinds of file
    assert [f for f in needed if f not in names] == []
    assert [p for p in products if p in names] == []
    assert "License-Expression: MIT" in tar_member(sdist, "PKG-INFO")


def tar_member(sdist, name):
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.split("/", 1)[-1] == name)
        return tar.extractfile(member).read().decode()


# ---- the wheel's configuration -----------------------------------------------------------
def test_cibuildwheel_builds_stripped_repaired_wheels_and_smoke_tests_them():
    cfg = pyproject()["tool"]["cibuildwheel"]
    assert "tools/smoke_test.py" in cfg["test-command"]
    assert (ROOT / "tools" / "smoke_test.py").exists()
    linux = cfg["linux"]
    assert "-g0" in linux["environment"]["CFLAGS"]
    assert linux["repair-wheel-command"].startswith("auditwheel repair")
    assert "manylinux" in linux["manylinux-x86_64-image"]


def test_no_build_flag_ties_the_module_to_the_build_machine():
    for path in [ROOT / "setup.py", ROOT / "pyproject.toml", *sorted((ROOT / "tools").glob("*"))]:
        if path.is_file():
            assert "-march=native" not in path.read_text(), path


# ---- one build of the C ------------------------------------------------------------------
RECORD_SETUP = """
import json, sys
import Cython.Build, setuptools
Cython.Build.cythonize = lambda exts, **kw: exts        # record, do not translate
def record(**kw):
    print(json.dumps([{"name": e.name, "sources": e.sources,
                       "flags": e.extra_compile_args + e.extra_link_args}
                      for e in kw["ext_modules"]]))
setuptools.setup = record
sys.argv = ["setup.py"]
exec(compile(open("setup.py").read(), "setup.py", "exec"), {"__name__": "__main__",
                                                           "__file__": "setup.py"})
"""


def test_the_c_is_compiled_once_into_one_extension(tmp_path):
    pytest.importorskip("Cython")
    if not (ROOT / "setup.py").exists():
        pytest.skip("needs the source tree")
    shutil.copy2(ROOT / "setup.py", tmp_path / "setup.py")
    shutil.copytree(ROOT / "csrc", tmp_path / "csrc")
    source_package_copy(tmp_path)       # setup.py writes its build record there
    res = run_python(["-c", RECORD_SETUP], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    (ext,) = __import__("json").loads(res.stdout.strip().splitlines()[-1])
    assert ext["name"] == "fastprop._core"
    c_files = sorted(str(p.relative_to(tmp_path)) for layer in ("gemm", "runtime", "nn")
                     for p in (tmp_path / "csrc" / layer).glob("*.c"))
    assert len(c_files) >= 10
    assert sorted(s for s in ext["sources"] if s.endswith(".c")) == c_files   # each once
    assert [s for s in ext["sources"] if not s.endswith(".c")] == ["fastprop/_core.pyx"]
    assert not any(flag.startswith(("-march", "-mtune", "-mavx")) for flag in ext["flags"])
