"""Collects benchmarks/bench_*.py (pytest's default only collects test_*.py), so that
`pytest benchmarks/ --benchmark-only` finds the suites. A file named on the command line is
collected by pytest itself; collecting it here too would run it twice."""
import pytest


def pytest_collect_file(file_path, parent):
    if (file_path.suffix == ".py" and file_path.name.startswith("bench_")
            and not parent.session.isinitpath(file_path)):
        return pytest.Module.from_parent(parent, path=file_path)
