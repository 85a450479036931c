"""Activations by name. The list is the C table (csrc/nn/fp_rules.h, FP_ACTIVATIONS), where
each activation's forward rule sits beside its derivative (csrc/nn/fp_activation.inc); this
module only names them, from that table, so that C and Python cannot disagree."""
from dataclasses import dataclass

from fastprop import _core

__all__ = ["Activation", "ACTIVATIONS", "get_activation"]


@dataclass(frozen=True)
class Activation:
    name: str           # canonical name
    code: int           # its place in the C table (enum fp_activation)
    init: str           # "glorot" (Xavier uniform) or "he" (Kaiming uniform, fan-in)
    output_only: bool   # softmax couples a row: it is an output activation only


ACTIVATIONS = {name: Activation(name, code, init, output_only) for code, (name, init, output_only)
               in enumerate(_core.rule_tables()["activations"])}
ALIASES = {"linear": "identity"}


def get_activation(name, argument="activation"):
    """The Activation called `name` (or its alias); a clear error for anything else."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"{argument}: expected an activation name (str), got "
                        f"{type(name).__name__}")
    key = ALIASES.get(name.lower(), name.lower())
    if key not in ACTIVATIONS:
        known = ", ".join(repr(k) for k in list(ACTIVATIONS) + list(ALIASES))
        raise ValueError(f"{argument}: unknown activation {name!r}; expected one of {known}")
    return ACTIVATIONS[key]
