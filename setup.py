"""Build of fastprop's compiled module: fastprop/_core.pyx (which includes the other .pxi
files) compiled together with the C of csrc/ (gemm/, runtime/, nn/), once, so that the
run-time state exists once in the process. -O3, OpenMP when the compiler has it, and no -march flag tied to
the build machine: the SIMD path is picked at run time, so a wheel runs on any x86-64 CPU.

Cython directives are set here, once, for every module. FASTPROP_BOUNDSCHECK=1 turns bounds
checking on for a debugging build."""
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from concurrent.futures import ThreadPoolExecutor
from glob import glob

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
C_LAYERS = ["gemm", "runtime", "nn"]
C_SOURCES = sorted(os.path.relpath(p, HERE) for layer in C_LAYERS
                   for p in glob(os.path.join(HERE, "csrc", layer, "*.c")))
# Headers, template bodies and included Cython: a change to any of them rebuilds the module.
C_DEPENDS = sorted(os.path.relpath(p, HERE) for layer in C_LAYERS for pattern in ("*.h", "*.inc")
                   for p in glob(os.path.join(HERE, "csrc", layer, pattern)))
C_DEPENDS += sorted(os.path.relpath(p, HERE) for pattern in ("*.pxi", "*.pxd")
                    for p in glob(os.path.join(HERE, "fastprop", pattern)))


def compiler_accepts(flags, src="int main(void){return 0;}\n"):
    """True when the C compiler builds and links src with these flags."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()
    if shutil.which(cc[0]) is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        c_file = os.path.join(tmp, "probe.c")
        with open(c_file, "w") as f:
            f.write(src)
        res = subprocess.run(cc + ["-Werror"] + flags + [c_file, "-o", os.path.join(tmp, "probe")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return res.returncode == 0


def compiler_has_openmp():
    """True when the C compiler accepts -fopenmp and links a program using it."""
    return compiler_accepts(["-fopenmp"], "#include <omp.h>\n"
                            "int main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n")


USE_OPENMP = os.environ.get("FASTPROP_NO_OPENMP") != "1" and sys.platform != "win32" \
    and compiler_has_openmp()
# -fno-math-errno: nothing reads errno, and without it sqrt cannot be vectorised.
# -fno-trapping-math: floating-point traps are never enabled, and with it the compiler may
# turn selects like the stable sigmoid's into branch-free vector code. Neither flag changes
# any result (unlike -ffast-math, which is not used).
# -fno-semantic-interposition (when the compiler has it): exported kernels may be inlined into
# the training loop of the same translation unit (csrc/nn/fp_net.c), which -fPIC forbids otherwise.
# -ffp-contract=off: a * b + c is never fused into an FMA behind the code's back (-std=c11
# implies it with GCC, said here because results rest on it): the kernels use FMA exactly where
# they say so, which keeps the AVX-512, AVX2 and baseline copies bit-identical where promised.
COMPILE_ARGS = ["-O3", "-std=c11", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math",
                "-fno-strict-aliasing", "-Wno-unused-function"]
if sys.platform != "win32" and compiler_accepts(["-fno-semantic-interposition"]):
    COMPILE_ARGS.append("-fno-semantic-interposition")
LINK_ARGS = []
if USE_OPENMP:
    COMPILE_ARGS.append("-fopenmp")
    LINK_ARGS.append("-fopenmp")

# The flags are recorded so that `fastprop info` can show them.
with open(os.path.join(HERE, "fastprop", "_build_info.py"), "w") as f:
    f.write('"""Written by setup.py at build time: how the compiled modules were built."""\n')
    f.write(f"COMPILE_ARGS = {COMPILE_ARGS!r}\nOPENMP = {USE_OPENMP!r}\n")


def extension(name):
    return Extension(f"fastprop.{name}", sources=[f"fastprop/{name}.pyx"] + C_SOURCES,
                     depends=C_DEPENDS,
                     # numpy's headers: the small-call fast path (_fast.pxi) uses its C API
                     include_dirs=[f"csrc/{layer}" for layer in C_LAYERS] + [numpy.get_include()],
                     extra_compile_args=COMPILE_ARGS,
                     extra_link_args=LINK_ARGS,
                     define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")])


DIRECTIVES = {
    "language_level": 3,
    "boundscheck": os.environ.get("FASTPROP_BOUNDSCHECK") == "1",
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "embedsignature": True,
}


def build_jobs():
    """Compilers run at once: FASTPROP_BUILD_JOBS, else one a core the build may use."""
    value = os.environ.get("FASTPROP_BUILD_JOBS")
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"FASTPROP_BUILD_JOBS: expected a positive integer, got {value!r}")
        return int(value)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class ParallelBuildExt(build_ext):
    """build_ext that compiles the sources of the one extension side by side: setuptools runs
    them one after another (its --parallel spreads extensions, and there is one), and
    fp_net.c and Cython's _core.c take most of the build each. The same steps as the serial
    loop of the compiler's compile(), the costliest sources first (_compile_cost)."""

    def build_extensions(self):
        jobs = build_jobs()
        # MSVC's compile() is its own loop, without the per-object steps used here; a
        # setuptools without them compiles serially
        steps = ("_setup_compile", "_get_cc_args", "_compile")
        if jobs > 1 and self.compiler.compiler_type == "unix" \
                and all(hasattr(self.compiler, s) for s in steps):
            self.compiler.compile = _parallel_compile(self.compiler, jobs)
        super().build_extensions()


def _compile_cost(path):
    """A source's size with the files it includes from its own folder (fp_net.c is small but
    includes the .inc templates twice, once a dtype): Cython's C and fp_net.c come first."""
    folder, total = os.path.dirname(path), os.path.getsize(path)
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith('#include "'):
                name = os.path.join(folder, line.split('"')[1])
                if os.path.isfile(name):
                    total += os.path.getsize(name)
    return total


def _parallel_compile(compiler, jobs):
    """compiler.compile with its per-object loop run by `jobs` threads (each waits on a
    compiler process, so the GIL is no bottleneck)."""
    def compile(sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                extra_preargs=None, extra_postargs=None, depends=None):
        macros, objects, extra_postargs, pp_opts, build = compiler._setup_compile(
            output_dir, macros, include_dirs, sources, depends, extra_postargs)
        cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)
        todo = sorted((obj for obj in objects if obj in build),
                      key=lambda obj: -_compile_cost(build[obj][0]))

        def one(obj):
            src, ext = build[obj]
            compiler._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)

        with ThreadPoolExecutor(jobs) as pool:
            for _ in pool.map(one, todo):   # re-raises a compiler's failure here
                pass
        return objects
    return compile


setup(ext_modules=cythonize([extension("_core")],
                            compiler_directives=DIRECTIVES),
      cmdclass={"build_ext": ParallelBuildExt})
