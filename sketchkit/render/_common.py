"""Shared pieces of the SVG and raster renderers: item checks, tight bounds, fitting, curve pieces.

Private module; numpy only (never torch).
"""

from __future__ import annotations

import math
from typing import Union

import numpy as np

from sketchkit.geometry.bezier import bernstein_basis
from sketchkit.sketch import BezierSketch, Sketch

Item = Union[Sketch, BezierSketch]

# Samples per curve used for the tight bounding box of a BezierSketch (the control polygon's box
# can be far larger than the curve's; fitting to it would draw curves small and off-centre).
_BOUNDS_SAMPLES = 257


def check_item(item: object, *, what: str = "item") -> Item:
    """Return ``item`` if it is a ``Sketch`` or ``BezierSketch`` with finite, drawable coordinates.

    The sketch classes check finiteness on construction, but their arrays stay mutable and
    rational weights may be NaN; a NaN here would end up in an SVG ``viewBox``.

    Raises:
        TypeError: ``item`` is not a sketch.
        ValueError: a non-finite coordinate or weight (naming the stroke/curve and point index),
            or coordinates whose extent overflows float64.
    """
    if not isinstance(item, (Sketch, BezierSketch)):
        raise TypeError(f"{what}: expected a Sketch or BezierSketch, got {type(item).__name__}")
    kind, arrays = ("curve", item.curves) if isinstance(item, BezierSketch) else ("stroke", item.strokes)
    lo = np.full(2, np.inf)
    hi = np.full(2, -np.inf)
    for i, a in enumerate(arrays):
        a = np.asarray(a, dtype=np.float64)
        finite = np.isfinite(a)
        if not finite.all():
            j = int(np.argwhere(~finite)[0][0])
            raise ValueError(f"{what}: {kind} {i} has a non-finite coordinate at point {j} ({a[j].tolist()})")
        if a.size:
            lo = np.minimum(lo, a.reshape(-1, 2).min(axis=0))
            hi = np.maximum(hi, a.reshape(-1, 2).max(axis=0))
    if isinstance(item, BezierSketch) and item.weights is not None:
        for i, w in enumerate(item.weights):
            bad = ~(np.isfinite(w) & (np.asarray(w) > 0))
            if bad.any():
                j = int(np.argwhere(bad)[0][0])
                raise ValueError(f"{what}: curve {i} has weight {float(w[j])!r} at control point {j} "
                                 f"(expected finite and > 0)")
    with np.errstate(over="ignore"):
        extent = hi - lo
    if np.all(hi >= lo) and not np.isfinite(extent).all():
        raise ValueError(f"{what}: coordinates span {lo.tolist()} .. {hi.tolist()}, too wide to render (the extent "
                         f"overflows float64)")
    return item


def size_wh(size: object, *, what: str = "size") -> tuple[int, int]:
    """``size`` as ``(width, height)`` pixels: an int (square) or a ``(height, width)`` pair."""
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise ValueError(f"{what}: expected an int or a (height, width) pair, got {size!r}")
        h, w = size
    else:
        h = w = size
    try:
        h_i, w_i = int(h), int(w)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected positive integers, got {size!r}") from None
    if h_i != h or w_i != w or h_i < 1 or w_i < 1:
        raise ValueError(f"{what}: expected positive integers, got {size!r}")
    return w_i, h_i


def curve_points(cp: np.ndarray, w: np.ndarray | None, t: np.ndarray) -> np.ndarray:
    """Points of a (rational) Bézier curve at parameters ``t`` -> ``(m, 2)``."""
    basis = bernstein_basis(cp.shape[0] - 1, t)  # (m, d + 1)
    if w is None:
        return basis @ cp
    bw = basis * w
    return (bw @ cp) / bw.sum(axis=1, keepdims=True)


def content_bounds(item: Item) -> tuple[float, float, float, float] | None:
    """Tight ``(xmin, ymin, xmax, ymax)`` of what is drawn, or ``None`` for an empty item.

    For a ``BezierSketch`` the curves are sampled densely (the control points' box may be much
    larger than the curves'); the margin absorbs the tiny sampling shortfall.
    """
    if isinstance(item, Sketch):
        if item.num_points == 0:
            return None
        return item.bounds()
    if item.num_curves == 0:
        return None
    t = np.linspace(0.0, 1.0, _BOUNDS_SAMPLES)
    lo = np.full(2, np.inf)
    hi = np.full(2, -np.inf)
    for i, cp in enumerate(item.curves):
        if cp.shape[0] == 2:
            pts = cp
        else:
            pts = curve_points(cp, None if item.weights is None else item.weights[i], t)
        lo = np.minimum(lo, pts.min(axis=0))
        hi = np.maximum(hi, pts.max(axis=0))
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def fit_transform(
    bounds: tuple[float, float, float, float] | None,
    width: float,
    height: float,
    *,
    margin: float,
    pad: float = 0.0,
) -> tuple[float, np.ndarray]:
    """Uniform scale and offset mapping content (source units) into a ``width x height`` box.

    The content is centred; ``margin * min(width, height) + pad`` output units are kept free on
    every side (``pad`` is typically half the stroke width, so strokes are not clipped). A
    degenerate box (a single point, or a horizontal/vertical line) is scaled by its non-zero
    extent only; a single point (or an empty item) keeps scale 1 and is centred.

    Returns:
        ``(scale, offset)`` with ``output = source * scale + offset``; offset shape ``(2,)``.
    """
    if not (0.0 <= margin < 0.5):
        raise ValueError(f"margin: expected a fraction in [0, 0.5), got {margin}")
    free = margin * min(width, height) + pad
    avail_w, avail_h = width - 2.0 * free, height - 2.0 * free
    if avail_w <= 0 or avail_h <= 0:
        raise ValueError(
            f"margin/stroke width leave no room: {width:g}x{height:g} canvas, {free:g} free on each side"
        )
    if bounds is None:
        return 1.0, np.array([width / 2.0, height / 2.0])
    xmin, ymin, xmax, ymax = bounds
    ext_w, ext_h = xmax - xmin, ymax - ymin
    tiny = 1e-12 * (1.0 + max(abs(xmin), abs(ymin), abs(xmax), abs(ymax)))
    scales = []
    if ext_w > tiny:
        scales.append(avail_w / ext_w)
    if ext_h > tiny:
        scales.append(avail_h / ext_h)
    scale = min(scales) if scales else 1.0
    centre = np.array([(xmin + xmax) / 2.0, (ymin + ymax) / 2.0])
    offset = np.array([width / 2.0, height / 2.0]) - centre * scale
    return float(scale), offset


# ----------------------------------------------------------------------------- curves -> cubics


def _homogeneous(cp: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Control points of the polynomial curve ``(w x, w y, w)`` in homogeneous space: ``(d+1, 3)``."""
    if w is None:
        w = np.ones(cp.shape[0])
    return np.concatenate([cp * w[:, None], w[:, None]], axis=1)


def _point_and_derivative(h: np.ndarray, dh: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Point and parametric derivative of the rational curve with homogeneous control points ``h``."""
    hv = bernstein_basis(h.shape[0] - 1, t) @ h  # (m, 3)
    dv = bernstein_basis(dh.shape[0] - 1, t) @ dh  # (m, 3)
    wv = hv[:, 2:3]
    point = hv[:, :2] / wv
    deriv = (dv[:, :2] * wv - hv[:, :2] * dv[:, 2:3]) / (wv * wv)
    return point, deriv


def hermite_cubics(cp: np.ndarray, w: np.ndarray | None, tolerance: float, *, max_depth: int = 18) -> list[np.ndarray]:
    """Approximate a (rational) Bézier curve by cubic Hermite pieces to ``tolerance``.

    Each piece on ``[t0, t1]`` interpolates the curve's end points and end derivatives (scaled to
    the piece), so consecutive pieces join with matching tangents. A piece is accepted when the
    *parametric* distance ``|cubic(s) - curve(t0 + s (t1 - t0))|`` at 15 interior samples is within
    ``tolerance`` (an upper bound of the geometric distance at those samples); otherwise it is
    split at the middle. Error shrinks as ``O(h^4)``, so few pieces are needed.

    Args:
        cp: ``(d + 1, 2)`` control points.
        w: ``(d + 1,)`` positive weights, or ``None`` for a polynomial curve.
        tolerance: maximum distance, source units.

    Returns:
        List of ``(4, 2)`` cubic control-point arrays, in order.
    """
    d = cp.shape[0] - 1
    h = _homogeneous(cp, w)
    dh = d * np.diff(h, axis=0)
    s = np.linspace(0.0, 1.0, 17)[1:-1]
    cubic_basis = bernstein_basis(3, s)  # (15, 4)
    pieces: list[np.ndarray] = []
    stack = [(0.0, 1.0, 0)]
    while stack:
        t0, t1, depth = stack.pop()
        span = t1 - t0
        ends, ders = _point_and_derivative(h, dh, np.array([t0, t1]))
        piece = np.stack([ends[0], ends[0] + ders[0] * span / 3.0, ends[1] - ders[1] * span / 3.0, ends[1]])
        truth, _ = _point_and_derivative(h, dh, t0 + s * span)
        err = float(np.max(np.linalg.norm(cubic_basis @ piece - truth, axis=1)))
        if err <= tolerance or depth >= max_depth:
            pieces.append(piece)
        else:
            mid = t0 + span / 2.0
            stack.append((mid, t1, depth + 1))  # popped second
            stack.append((t0, mid, depth + 1))
    return pieces


def svg_pieces(cp: np.ndarray, w: np.ndarray | None, tolerance: float) -> list[np.ndarray]:
    """Pieces of degree <= 3 for SVG path commands (L/Q/C) representing one curve.

    Degree <= 3 polynomial curves are returned exactly. Higher degrees go through
    :func:`sketchkit.geometry.bezier.to_cubics` (falling back to :func:`hermite_cubics` while that
    function is unavailable). Rational curves whose weights are all equal are polynomial; a
    rational line (degree 1) is a straight segment; other rational curves are approximated by
    :func:`hermite_cubics` to ``tolerance``.

    Args:
        cp: ``(d + 1, 2)`` control points.
        w: ``(d + 1,)`` weights or ``None``.
        tolerance: maximum deviation, source units.
    """
    d = cp.shape[0] - 1
    if w is not None and (d == 1 or np.allclose(w, w[0], rtol=1e-12, atol=0.0)):
        w = None
    if w is None:
        if d <= 3:
            return [cp]
        try:
            from sketchkit.geometry.bezier import to_cubics
        except ImportError:
            return hermite_cubics(cp, None, tolerance)
        return [np.asarray(p, dtype=np.float64) for p in to_cubics(cp, tolerance=tolerance)]
    return hermite_cubics(cp, w, tolerance)


def flatten_curve(cp: np.ndarray, w: np.ndarray | None, px_per_unit: float) -> np.ndarray:
    """Sample a curve as a polyline fine enough for rasterising (segments of about 1.5 px)."""
    d = cp.shape[0] - 1
    if d == 1:
        return cp
    ctrl_len_px = float(np.linalg.norm(np.diff(cp, axis=0), axis=1).sum()) * px_per_unit
    if w is not None:  # weights bend the parameterisation; sample more where it is uneven
        ctrl_len_px *= float(w.max() / w.min()) ** 0.5
    n = int(min(max(math.ceil(ctrl_len_px / 1.5) + 1, 4), 2000))
    return curve_points(cp, w, np.linspace(0.0, 1.0, n))
