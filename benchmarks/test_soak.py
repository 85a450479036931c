"""benchmarks/soak.py --quick in a subprocess (a fresh process, so that its RSS figures are
its own): memory flat after the warm-up and threads bit-identical with their single-threaded
replay, in seconds. The full soak (10^6 steps, 10^5 predictions) is run by hand; its figures
are in the README."""
import os
import subprocess
import sys

SOAK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "soak.py")


def test_quick_soak_keeps_memory_flat_and_threads_bit_identical():
    proc = subprocess.run([sys.executable, SOAK, "--quick"], capture_output=True, text=True,
                          timeout=300, cwd=os.path.dirname(SOAK))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("soak: ok"), proc.stdout
