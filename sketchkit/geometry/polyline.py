"""Polylines on numpy arrays: lengths, arc-length resampling, Ramer-Douglas-Peucker simplification.

A polyline is an ``(n, 2)`` float array of ordered points (any point dimension works).
"""

from __future__ import annotations

import numpy as np

__all__ = ["arc_length", "cumulative_lengths", "resample", "rdp", "rdp_indices", "segment_lengths"]


def _as_polyline(points: np.ndarray, *, min_points: int = 1) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] < min_points:
        raise ValueError(f"points: expected shape (n, dim) with n >= {min_points}, got {pts.shape}")
    return pts


def segment_lengths(points: np.ndarray) -> np.ndarray:
    """Euclidean length of each segment.

    Args:
        points: ``(n, 2)`` ordered points, ``n >= 1``.

    Returns:
        ``(n - 1,)`` lengths ``|p_{i+1} - p_i|`` (same units as the points).
    """
    pts = _as_polyline(points)
    return np.linalg.norm(np.diff(pts, axis=0), axis=1)


def cumulative_lengths(points: np.ndarray) -> np.ndarray:
    """Arc length from the first point to each point.

    Args:
        points: ``(n, 2)`` ordered points, ``n >= 1``.

    Returns:
        ``(n,)`` non-decreasing distances along the polyline, starting at ``0``.
    """
    return np.concatenate([[0.0], np.cumsum(segment_lengths(points))])


def arc_length(points: np.ndarray) -> float:
    """Total length of a polyline (``0`` for a single point).

    Args:
        points: ``(n, 2)`` ordered points, ``n >= 1``.

    Returns:
        Sum of segment lengths.
    """
    return float(segment_lengths(points).sum())


def resample(points: np.ndarray, n: int | None = None, *, spacing: float | None = None) -> np.ndarray:
    """Points evenly spaced in arc length along a polyline (linear interpolation).

    Give exactly one of ``n`` (number of output points; the first and last input points are kept)
    or ``spacing`` (target distance between consecutive outputs; the count is
    ``max(2, ceil(length / spacing) + 1)`` and the actual spacing is ``length / (count - 1)``,
    never more than ``spacing``).

    A polyline of zero length (including a single point) yields its first point repeated
    ``n`` times, the last replaced by the last input point (they differ only when the length
    underflows); with ``spacing``: the single first point, shape ``(1, 2)``.

    Args:
        points: ``(m, 2)`` ordered points, ``m >= 1``.
        n: number of output points, ``>= 1`` (``1`` gives the first point).
        spacing: target arc-length spacing, ``> 0``, in the points' units.

    Returns:
        ``(n, 2)`` resampled points.
    """
    pts = _as_polyline(points)
    if (n is None) == (spacing is None):
        raise ValueError("resample: give exactly one of n or spacing")
    cum = cumulative_lengths(pts)
    total = cum[-1]
    if spacing is not None:
        if not spacing > 0:
            raise ValueError(f"spacing must be > 0, got {spacing}")
        if total <= 0:
            return pts[:1].copy()
        n = max(2, int(np.ceil(total / spacing - 1e-9)) + 1)
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if total <= 0:
        out = np.repeat(pts[:1], n, axis=0)
        if n > 1:
            out[-1] = pts[-1]
        return out
    targets = np.linspace(0.0, total, n)
    # Segment containing each target (skip zero-length segments via searchsorted on cum).
    seg = np.clip(np.searchsorted(cum, targets, side="right") - 1, 0, pts.shape[0] - 2)
    seg_len = cum[seg + 1] - cum[seg]
    frac = np.divide(targets - cum[seg], seg_len, out=np.zeros_like(targets), where=seg_len > 0)
    out = pts[seg] + frac[:, None] * (pts[seg + 1] - pts[seg])
    out[0], out[-1] = pts[0], pts[-1]
    return out


def _point_segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from each of ``points`` (k, dim) to the segment ``a``-``b``."""
    ab = b - a
    denom = float(ab @ ab)
    if denom == 0.0:
        return np.linalg.norm(points - a, axis=1)
    u = np.clip((points - a) @ ab / denom, 0.0, 1.0)
    return np.linalg.norm(points - (a + u[:, None] * ab), axis=1)


def rdp_indices(points: np.ndarray, epsilon: float) -> np.ndarray:
    """Indices kept by Ramer-Douglas-Peucker simplification (see :func:`rdp`).

    Args:
        points: ``(n, 2)`` ordered points, ``n >= 1``.
        epsilon: distance tolerance ``>= 0``.

    Returns:
        ``(k,)`` increasing int indices, always including ``0`` and ``n - 1``.
    """
    pts = _as_polyline(points)
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}")
    n = pts.shape[0]
    if n <= 2:
        return np.arange(n)
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        i, j = stack.pop()
        if j - i < 2:
            continue
        dist = _point_segment_distance(pts[i + 1 : j], pts[i], pts[j])
        k = int(np.argmax(dist))
        if dist[k] > epsilon:
            k += i + 1
            keep[k] = True
            stack.append((i, k))
            stack.append((k, j))
    return np.flatnonzero(keep)


def rdp(points: np.ndarray, epsilon: float) -> np.ndarray:
    """Ramer-Douglas-Peucker simplification of a polyline.

    Keeps the end points; recursively keeps the point farthest from the segment joining the
    current end points while that distance exceeds ``epsilon``. Every dropped point lies within
    ``epsilon`` of the simplified polyline (distance to the segment that replaced it).

    Args:
        points: ``(n, 2)`` ordered points, ``n >= 1``.
        epsilon: distance tolerance ``>= 0`` in the points' units (``0`` drops only points
            lying exactly on a segment between kept points).

    Returns:
        ``(k, 2)`` subset of the input points in order, ``k >= min(n, 2)``.
    """
    pts = _as_polyline(points)
    return pts[rdp_indices(pts, epsilon)].copy()
