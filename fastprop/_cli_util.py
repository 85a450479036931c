"""What the `fastprop` command and its subcommands (bench, demo, explain) share: the error a command
raises for options it cannot honour, and an argparse integer type. It imports nothing of
fastprop, so cli.py imports bench.py and demo.py and they never import cli.py back."""
import argparse

__all__ = ["CommandError", "int_option"]


class CommandError(Exception):
    """Options that parse but describe something the command cannot do (a network too deep
    or too large for memory): `cli.main` prints the message and exits with status 2, as
    argparse does for a malformed option. Only commands raise it, for what they checked: any
    other exception keeps its traceback."""


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
