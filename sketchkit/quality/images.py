"""Sketches -> fixed-size ink images for the judge (the same rasteriser for real and generated)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from sketchkit.render.raster import rasterize
from sketchkit.sketch import BezierSketch, Sketch

__all__ = ["rasterize_batch"]


def rasterize_batch(items: Sequence[Sketch | BezierSketch], *, size: int = 32, stroke_width: float = 1.0,
                    margin: float = 0.08) -> np.ndarray:
    """Rasterise sketches or Bézier sketches, each fitted to its own square canvas.

    Args:
        items: sketches (polylines) or Bézier sketches (curves are flattened by the rasteriser).
        size: canvas side in pixels.
        stroke_width: line width in pixels (the same for every item, so width is no cue).
        margin: blank border as a fraction of the side.

    Returns:
        ``(N, 1, size, size)`` float32 ink in ``[0, 1]`` (an item without ink gives a blank image).
    """
    out = np.zeros((len(items), 1, size, size), dtype=np.float32)
    for i, item in enumerate(items):
        empty = item.num_curves == 0 if isinstance(item, BezierSketch) else item.num_points == 0
        if not empty:
            out[i, 0] = rasterize(item, size, stroke_width=stroke_width, fit=True, margin=margin)
    return out
