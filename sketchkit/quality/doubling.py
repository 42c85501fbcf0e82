"""How much of a drawing is drawn twice: the share of its line length lying on another of its strokes.

FD and the judge score what a drawing looks like once rasterised; they cannot see two curves
drawn on top of each other, which a person editing the SVG sees at once. Real drawings overlap
only where strokes meet or cross.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from sketchkit.geometry.polyline import resample
from sketchkit.sketch import BezierSketch, Sketch

__all__ = ["doubled_share"]


def _stroke_polylines(sketch: Sketch | BezierSketch) -> list[np.ndarray]:
    """One polyline per stroke: curves that ``meta["stroke_ids"]`` (the bezier models) or
    ``meta["curve_stroke"]`` (the vectoriser's paths) join into one stroke are chained."""
    if isinstance(sketch, BezierSketch):
        curves = sketch.to_sketch(points_per_curve=32).strokes
        ids = sketch.meta.get("stroke_ids", sketch.meta.get("curve_stroke"))
        if ids is None or len(ids) != len(curves):
            return list(curves)
        groups: dict = {}
        for i, c in zip(ids, curves):
            groups.setdefault(i, []).append(c)
        return [np.concatenate(g) for g in groups.values()]
    return list(sketch.strokes)


def doubled_share(sketch: Sketch | BezierSketch, tolerance: float = 0.04) -> float | None:
    """Share of a sketch's line length within ``tolerance`` of another of its strokes.

    Args:
        sketch: strokes (polylines) or Bézier curves; curves joined into one stroke by
            ``meta["stroke_ids"]`` or ``meta["curve_stroke"]`` count as one stroke.
        tolerance: distance, as a fraction of the sketch's larger bounding-box side.

    Returns:
        In ``[0, 1]``: 0 when no stroke comes near another, 1 when every stroke is drawn over
        another; a crossing adds about ``2 * tolerance`` of length per stroke. None for a point
        cloud or a sketch with no length.
    """
    if isinstance(sketch, Sketch) and sketch.is_point_cloud:
        return None
    strokes = [np.asarray(s, dtype=np.float64) for s in _stroke_polylines(sketch)]
    pts = np.concatenate(strokes)
    size = float((pts.max(0) - pts.min(0)).max())
    if size <= 0:
        return None
    dense = [resample(s / size, spacing=tolerance / 4) for s in strokes]
    owner = np.concatenate([np.full(len(d), i) for i, d in enumerate(dense)])
    pts = np.concatenate(dense)
    pairs = cKDTree(pts).query_pairs(tolerance, output_type="ndarray")  # (k, 2), i < j
    pairs = pairs[owner[pairs[:, 0]] != owner[pairs[:, 1]]]
    near = np.zeros(len(pts), dtype=bool)
    near[pairs.ravel()] = True
    return float(near.mean())
