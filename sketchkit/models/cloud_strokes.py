"""Numpy helpers of Cloud2Curve's data side: point clouds normalised and sampled from strokes,
centrelines traced through a cloud, and the curve tokens a sketch's strokes are cut into.

Used by :mod:`sketchkit.models.cloud2curve` (collate, reconstruction) and its tests; no torch.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from sketchkit.geometry.bezier import bernstein_basis as bernstein_basis_np
from sketchkit.geometry.polyline import arc_length, resample

__all__ = ["degree_slices", "normalize_cloud", "sample_polyline", "cloud_to_strokes", "stroke_tokens"]


def degree_slices(max_degree: int) -> list[slice]:
    """Slices of the packed control-point rows for degrees ``1..max_degree`` (``d + 1`` rows each)."""
    out, start = [], 0
    for d in range(1, max_degree + 1):
        out.append(slice(start, start + d + 1))
        start += d + 1
    return out


def normalize_cloud(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Map points to their bounding box's unit frame.

    Args:
        points: ``(n, 2)`` points, ``n >= 1``.

    Returns:
        ``(normalised (n, 2), centre (2,), scale)`` with ``normalised = (points - centre) / scale``;
        ``scale`` is the largest half-extent (at least ``1e-6``).
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
        raise ValueError(f"points: expected shape (n >= 1, 2), got {points.shape}")
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre = (lo + hi) / 2.0
    scale = max(float((hi - lo).max()) / 2.0, 1e-6)
    return (points - centre) / scale, centre, scale


def sample_polyline(points: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniformly at random in arc length along a polyline (a single point repeats).

    Args:
        points: ``(m, 2)`` ordered polyline vertices, ``m >= 1``.
        n: number of samples.
        rng: numpy generator.

    Returns:
        ``(n, 2)`` float64 samples.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.shape[0] == 1:
        return np.repeat(points, n, axis=0)
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    total = seg.sum()
    if total <= 0:
        return np.repeat(points[:1], n, axis=0)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    s = rng.uniform(0.0, total, size=n)
    idx = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
    frac = (s - cum[idx]) / np.maximum(seg[idx], 1e-12)
    return points[idx] + frac[:, None] * (points[idx + 1] - points[idx])


def _sub_arc(points: np.ndarray, rng: np.random.Generator, min_frac: float = 0.2) -> np.ndarray:
    """A random contiguous piece of a polyline covering ``min_frac..1`` of its length."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    total = seg.sum()
    if points.shape[0] < 3 or total <= 0:
        return points
    frac = rng.uniform(min_frac, 1.0)
    start = rng.uniform(0.0, total * (1.0 - frac))
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    s = np.linspace(start, start + frac * total, 64)
    x = np.interp(s, cum, points[:, 0])
    y = np.interp(s, cum, points[:, 1])
    return np.stack([x, y], axis=1)


def cloud_to_strokes(points: np.ndarray, *, max_cells: int = 256) -> list[np.ndarray]:
    """Ordered stroke paths traced through an unordered point cloud (e.g. ink pixels).

    The points are binned into a grid whose cell is their median nearest-neighbour spacing
    (at most ``max_cells`` cells across), the occupied cells are closed with a 3 x 3 dilation,
    and :func:`sketchkit.geometry.skeleton.skeleton_paths` traces the centrelines — the same
    kind of pieces :func:`sketchkit.vectorize.vectorize` hands to the stroke net.

    Args:
        points: ``(n, 2)`` points (any frame).

    Returns:
        List of ``(m_i, 2)`` paths in the points' frame (paths of one point are dropped).
    """
    from scipy.ndimage import binary_dilation
    from scipy.spatial import cKDTree

    from sketchkit.geometry.skeleton import skeleton_paths

    pts = np.asarray(points, dtype=np.float64)
    if pts.shape[0] < 3:
        return []
    lo = pts.min(axis=0)
    extent = float(np.ptp(pts, axis=0).max())
    if extent <= 0:
        return []
    nn = cKDTree(pts).query(pts, k=2)[0][:, 1]
    cell = max(float(np.median(nn)), extent / max_cells, 1e-9)
    idx = np.floor((pts - lo) / cell).astype(int) + 2
    shape = idx.max(axis=0) + 3
    mask = np.zeros((shape[1], shape[0]), dtype=bool)
    mask[idx[:, 1], idx[:, 0]] = True
    mask = binary_dilation(mask, np.ones((3, 3), dtype=bool))
    paths, _ = skeleton_paths(mask)
    return [(p - 0.5 - 2) * cell + lo + cell / 2 for p in paths if p.shape[0] >= 2]


def _resample_arc(points: np.ndarray, step: float, min_points: int = 8, max_points: int = 200) -> np.ndarray:
    """A polyline resampled evenly in arc length (about one point per ``step``)."""
    n = int(np.clip(np.ceil(arc_length(points) / max(step, 1e-9)) + 1, min_points, max_points))
    return resample(points, n)


def stroke_tokens(strokes: Sequence[np.ndarray], degree: int, tolerance: float,
                  max_tokens: int | None = None) -> list[np.ndarray]:
    """Ordered strokes -> the curve tokens the sketch decoder is trained to emit.

    Each stroke (in the sketch's unit frame) is resampled in arc length and fitted by one
    least-squares Bézier curve of ``degree`` (:func:`sketchkit.geometry.bezier.fit_least_squares`);
    while the largest distance of a stroke point to its fitted point exceeds ``tolerance`` the
    piece is split at its worst point (kept within the middle 60 %) and both halves are fitted
    again. A stroke of zero length becomes a degenerate curve (a dot). Tokens keep the drawing
    order: strokes in order, each stroke's pieces from its start to its end.

    Args:
        strokes: ordered ``(m_i, 2)`` polylines.
        degree: curve degree of every token.
        tolerance: largest allowed point deviation of a token (same units as ``strokes``).
        max_tokens: keep at most this many tokens (the first ones).

    Returns:
        List of ``(degree + 1, 2)`` control-point arrays.
    """
    from sketchkit.geometry.bezier import fit_least_squares

    out: list[np.ndarray] = []

    def fit(pts: np.ndarray, depth: int) -> None:
        f = fit_least_squares(pts, degree, refine_steps=3)
        basis = bernstein_basis_np(degree, f.t)
        err = np.linalg.norm(basis @ f.control_points - pts, axis=1)
        n = pts.shape[0]
        if err.max() <= tolerance or n < 8 or depth >= 4:
            out.append(f.control_points)
            return
        i = int(np.clip(err.argmax(), n // 5, n - 1 - n // 5))
        fit(pts[: i + 1], depth + 1)
        fit(pts[i:], depth + 1)

    for s in strokes:
        s = np.asarray(s, dtype=np.float64)
        if s.shape[0] < 2 or np.linalg.norm(np.diff(s, axis=0), axis=1).sum() <= 1e-9:
            out.append(np.repeat(s[:1], degree + 1, axis=0))
            continue
        fit(_resample_arc(s, tolerance / 2), 0)
    return out[:max_tokens] if max_tokens is not None else out
