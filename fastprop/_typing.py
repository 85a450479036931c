"""Type aliases of the public API's annotations, in one place (runtime names: Union, not
`|`, so that they evaluate on Python 3.9). Nothing here runs any check."""
import os
from typing import Any, Dict, Optional, Protocol, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__all__ = ["ArrayLike", "DTypeLike", "FloatArray", "Seed", "PathLike", "CallbackLike"]

# What fastprop returns: float32 or float64, the network's dtype.
FloatArray = NDArray[np.floating[Any]]
# Everything random takes a seed: an int, a numpy Generator, or None (fresh entropy, or for
# fit the network's own stream).
Seed = Union[int, np.random.Generator, None]
# A file name: str, bytes or os.PathLike of either.
PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


class CallbackLike(Protocol):
    """What fit asks of a callback: on_epoch_end (the other methods of
    fastprop.callbacks.Callback are optional, looked up when fit runs)."""

    def on_epoch_end(self, epoch: int, logs: Dict[str, float]) -> Optional[bool]: ...
