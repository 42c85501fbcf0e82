"""Random smooth Bézier scribbles: the floor a sketch generator has to beat."""

from __future__ import annotations

import numpy as np

from sketchkit.sketch import BezierSketch

__all__ = ["random_scribbles"]


def random_scribbles(n: int, rng: np.random.Generator, *, max_curves: int = 3) -> list[BezierSketch]:
    """``n`` sketches of 1..``max_curves`` random cubic curves in the unit box ``[-1, 1]^2``.

    Control points are uniform in the box, so curves are smooth but carry no structure.
    """
    out = []
    for _ in range(n):
        k = int(rng.integers(1, max_curves + 1))
        out.append(BezierSketch([rng.uniform(-1.0, 1.0, size=(4, 2)) for _ in range(k)], label="scribble"))
    return out
