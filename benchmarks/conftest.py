"""Collects benchmarks/bench_*.py (pytest's default only collects test_*.py), so that
`pytest benchmarks/ --benchmark-only` finds the headline suite."""
import pytest


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
