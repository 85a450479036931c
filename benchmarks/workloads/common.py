"""What the workloads share: the setup of a run and the summaries of interleaved samples."""
from dataclasses import dataclass
from typing import Any, Callable, List

from fastprop.timing import summary


@dataclass(frozen=True)
class Setup:
    """One run of benchmarks/compare.py: the thread control (machine.Threads), the thread
    counts, --quick, the torch and sklearn modules (None when not installed) and the log."""
    th: Any
    threads: List[int]
    quick: bool
    torch: Any
    sklearn: Any
    log: Callable[[str], None]


def gap(t):
    """Seconds of pause after each sample with t threads: after a multi-threaded contender
    its runtime's workers may spin for a while (OpenBLAS's thread server, OpenMP)."""
    return 0.05 if t > 1 else 0.0


def speedup_row(samples, unit):
    """Summaries of interleave's Samples (wall and thread CPU time, in `unit`), with each
    peer's speedup over fastprop (peer time / fastprop time) by wall time and by CPU time."""
    row = {c: summary(v, unit) for c, v in samples.wall.items()}
    row["cpu_time"] = {c: summary(v, unit) for c, v in samples.cpu.items()}
    peers = [c for c in samples.wall if c != "fastprop"]
    row["speedup"] = {c: row[c]["median"] / row["fastprop"]["median"] for c in peers}
    row["cpu_time_speedup"] = {c: row["cpu_time"][c]["median"]
                               / row["cpu_time"]["fastprop"]["median"] for c in peers}
    return row
