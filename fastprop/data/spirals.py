"""Three interleaved spirals in the plane: the small multi-class problem of `fastprop demo`.

The data set ships as spirals.npz (X float64 (300, 2), y int64 (300,), labels 0..2); this file
holds the generator that made it and a loader. It must not import fastprop: data only.
Regenerate the shipped file with `python -m fastprop.data.spirals PATH.npz`."""
import sys
from importlib import resources

import numpy as np

__all__ = ["make_spirals", "load_spirals"]

FILENAME = "spirals.npz"


def make_spirals(n_per_class=100, n_classes=3, noise=0.2, seed=0):
    """n_classes spiral arms of n_per_class points each (the CS231n construction): arm c runs
    from the centre out to radius 1 while its angle sweeps 4 radians starting at 4c, with
    Gaussian angular noise of std `noise` radians. Returns X (n, 2) float64 and y (n,) int64."""
    rng = np.random.default_rng(seed)
    X = np.empty((n_per_class * n_classes, 2), dtype=np.float64)
    y = np.empty(n_per_class * n_classes, dtype=np.int64)
    for c in range(n_classes):
        rows = slice(c * n_per_class, (c + 1) * n_per_class)
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, n_per_class)
        t = t + rng.standard_normal(n_per_class) * noise
        X[rows, 0] = r * np.sin(t)
        X[rows, 1] = r * np.cos(t)
        y[rows] = c
    return X, y


def load_spirals():
    """The shipped spirals: X (300, 2) float64, y (300,) int64 labels 0, 1, 2."""
    with resources.files(__package__).joinpath(FILENAME).open("rb") as f:
        with np.load(f, allow_pickle=False) as data:
            return data["X"].copy(), data["y"].copy()


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else FILENAME
    X, y = make_spirals()
    np.savez_compressed(out, X=X, y=y)
    print(f"wrote {out}: X {X.shape}, y {y.shape}, classes {np.bincount(y).tolist()}")
