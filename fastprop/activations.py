"""Activations by name: the table that maps each name to its compiled kernel and its
weight initialisation. The functions and their derivatives sit side by side in
csrc/fp_activation.inc; this file only names them and says where each may be used."""
from dataclasses import dataclass

__all__ = ["Activation", "ACTIVATIONS", "get_activation"]


@dataclass(frozen=True)
class Activation:
    name: str           # canonical name
    code: int           # enum fp_activation in csrc/fp_kernels.h
    init: str           # "glorot" (Xavier uniform) or "he" (Kaiming uniform, fan-in)
    output_only: bool   # softmax couples a row: it is an output activation only


ACTIVATIONS = {
    "identity": Activation("identity", 0, "glorot", False),
    "sigmoid": Activation("sigmoid", 1, "glorot", False),
    "tanh": Activation("tanh", 2, "glorot", False),
    "relu": Activation("relu", 3, "he", False),
    "leaky_relu": Activation("leaky_relu", 4, "he", False),
    "softmax": Activation("softmax", 5, "glorot", True),
}
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
