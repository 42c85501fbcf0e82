"""Sketches -> fixed-size ink images for the judge (the same rasteriser for real and generated)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from sketchkit.render.raster import rasterize
from sketchkit.sketch import BezierSketch, Sketch

__all__ = ["rasterize_batch", "centreline_images"]


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


def centreline_images(items: Sequence[np.ndarray | Sketch | BezierSketch], *, size: int = 32,
                      source_size: int = 28, brush_width: float = 2.5, upsample: int = 4,
                      stroke_width: float = 1.0, margin: float = 0.08) -> np.ndarray:
    """Rasters and sketches in one line style: the centreline of their ink, redrawn thin.

    Each item is brought to an ink raster — an ``(H, W)`` array is one already (light ink on
    dark, as K-MNIST), a sketch is drawn onto a ``source_size`` square canvas with a
    ``brush_width`` px pen (fitted, no margin) — then reduced to its skeleton
    (:func:`sketchkit.geometry.raster.centreline_pixels`, ``upsample`` x finer) and that is
    drawn with a ``stroke_width`` px pen, fitted to a ``size`` canvas. Brush width, blur and
    texture of real scans are then no cue that tells them from generated curves; shape and
    topology are all that is left.

    Returns:
        ``(N, 1, size, size)`` float32 ink in ``[0, 1]`` (an item without ink gives a blank image).
    """
    from sketchkit.geometry.raster import centreline_pixels

    clouds = []
    for item in items:
        if isinstance(item, np.ndarray):
            ink = item
        else:
            empty = item.num_curves == 0 if isinstance(item, BezierSketch) else item.num_points == 0
            ink = np.zeros((source_size, source_size), np.float32) if empty else rasterize(
                item, source_size, stroke_width=brush_width, fit=True, margin=0.0)
        clouds.append(Sketch.from_point_cloud(centreline_pixels(ink, upsample=upsample, invert=False)))
    return rasterize_batch(clouds, size=size, stroke_width=stroke_width, margin=margin)
