"""The `fastprop` command: `info`, `bench` (the headline: backprop against finite differences)
and `demo` (small networks trained on data that ships with the package)."""
import argparse
import platform
import sys

import numpy as np


def info(args):
    import fastprop
    from fastprop import _build_info, _core
    print(f"fastprop {fastprop.__version__}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print("dtypes: float32, float64")
    print(f"simd path: {_core.simd_path()}")
    print(f"openmp: {'yes' if _build_info.OPENMP else 'no'}, threads: {fastprop.get_num_threads()}")
    print(f"compiler flags: {' '.join(_build_info.COMPILE_ARGS)}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="fastprop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="version, dtypes, SIMD path, threads, build flags")
    p.set_defaults(func=info)
    try:
        from fastprop import bench
        bench.add_parser(sub)
    except ImportError:
        pass
    try:
        from fastprop import demo
        demo.add_parser(sub)
    except ImportError:
        pass
    return parser


def int_option(minimum, expected):
    """An argparse type: an integer of at least `minimum`; `expected` names it in the error
    ("a positive integer")."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value
    return parse


class CommandError(Exception):
    """Options that parse but describe something the command cannot do (a network too deep
    or too large for memory): `main` prints the message and exits with status 2, as argparse
    does for a malformed option. Only commands raise it, for what they checked: any other
    exception keeps its traceback."""


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CommandError as exc:
        parser.exit(2, f"fastprop {args.command}: error: {exc}\n")


if __name__ == "__main__":
    sys.exit(main())
