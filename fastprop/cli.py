"""The `fastprop` command: `info`, `bench` (the headline: backprop against finite differences),
`demo` (small networks trained on data that ships with the package) and `explain` (one
weight's gradient derived by the chain rule, then one SGD step)."""
import argparse
import platform
import sys

import numpy as np

from fastprop._cli_util import CommandError


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
    from fastprop import __version__
    parser = argparse.ArgumentParser(prog="fastprop", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fastprop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="version, dtypes, SIMD path, threads, build flags")
    p.set_defaults(func=info)
    # cli imports its subcommands, never the reverse (their shared names: _cli_util)
    from fastprop import bench, demo
    bench.add_parser(sub)
    demo.add_parser(sub)
    # by the module's path: `fastprop.explain` is also the name of the function it exports
    from fastprop.explain import add_parser as add_explain_parser
    add_explain_parser(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CommandError as exc:
        parser.exit(2, f"fastprop {args.command}: error: {exc}\n")


if __name__ == "__main__":
    sys.exit(main())
