"""The shared sketch types: :class:`Sketch` (polylines) and :class:`BezierSketch` (curves).

Conventions (used by every adapter, model and renderer in sketchkit):

* Coordinates are absolute, in the SVG frame: x to the right, **y down**, in the source's units
  (pixels for Quick, Draw! and rasters).
* A ``Sketch`` is an ordered list of strokes; stroke ``i`` is a float64 array of shape
  ``(n_i, 2)`` with ``n_i >= 1``. Optional per-point times (same order, shape ``(n_i,)``, in
  milliseconds for Quick, Draw! raw data) live in ``times``.
* A point cloud (e.g. ink pixels of a raster) is a ``Sketch`` of single-point strokes with
  ``meta["point_cloud"] = True`` (see :meth:`Sketch.from_point_cloud`); it renders as dots.
* A ``BezierSketch`` is an ordered list of Bézier curves; curve ``i`` is an array of control
  points of shape ``(d_i + 1, 2)``, so each curve may have its own degree ``d_i >= 1``.

Both are plain, immutable-by-convention containers: functions return new objects rather than
editing arrays in place. Converters between these and the field's formats (stroke-3, stroke-5,
point clouds) live in :mod:`sketchkit.convert`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

__all__ = ["Sketch", "BezierSketch"]


def _as_points(array: Any, *, what: str, min_points: int = 1) -> np.ndarray:
    points = np.asarray(array, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"{what}: expected an array of shape (n, 2), got shape {points.shape}")
    if points.shape[0] < min_points:
        raise ValueError(f"{what}: expected at least {min_points} point(s), got {points.shape[0]}")
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{what}: coordinates must be finite (found NaN or inf)")
    return points


@dataclass(frozen=True, eq=False)
class Sketch:
    """A drawing as polylines in absolute coordinates (SVG frame, y down).

    Attributes:
        strokes: list of ``(n_i, 2)`` float64 arrays, one per stroke, in drawing order.
        times: optional list of ``(n_i,)`` float64 arrays of per-point times (milliseconds
            where the source records them), or ``None``.
        label: optional class label, e.g. ``"cat"`` or ``"7"``.
        meta: free-form metadata (source file, key_id, country code, ...). JSON-friendly values.
    """

    strokes: list[np.ndarray]
    times: list[np.ndarray] | None = None
    label: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        strokes = [_as_points(s, what=f"stroke {i}") for i, s in enumerate(self.strokes)]
        object.__setattr__(self, "strokes", strokes)
        if self.times is not None:
            if len(self.times) != len(strokes):
                raise ValueError(
                    f"times: expected {len(strokes)} arrays (one per stroke), got {len(self.times)}"
                )
            times = []
            for i, (t, s) in enumerate(zip(self.times, strokes)):
                t = np.asarray(t, dtype=np.float64).reshape(-1)
                if t.shape[0] != s.shape[0]:
                    raise ValueError(
                        f"times[{i}]: expected {s.shape[0]} values, got {t.shape[0]}"
                    )
                times.append(t)
            object.__setattr__(self, "times", times)

    @property
    def num_strokes(self) -> int:
        """Number of strokes."""
        return len(self.strokes)

    @property
    def num_points(self) -> int:
        """Total number of points over all strokes."""
        return int(sum(s.shape[0] for s in self.strokes))

    @classmethod
    def from_point_cloud(cls, points: np.ndarray, *, label: str | None = None, meta: dict[str, Any] | None = None) -> "Sketch":
        """A point cloud as a Sketch: one single-point stroke per point, ``meta["point_cloud"] = True``.

        Args:
            points: ``(n, 2)`` unordered points (SVG frame, y down).
        """
        pts = _as_points(points, what="point cloud", min_points=0)
        # Validated once as a whole: skip the per-stroke checks of __post_init__ (hot in data loading).
        sketch = object.__new__(cls)
        object.__setattr__(sketch, "strokes", list(pts[:, None, :]))
        object.__setattr__(sketch, "times", None)
        object.__setattr__(sketch, "label", label)
        object.__setattr__(sketch, "meta", {**(meta or {}), "point_cloud": True})
        return sketch

    @property
    def is_point_cloud(self) -> bool:
        """True for unordered point clouds (see :meth:`from_point_cloud`): strokes carry no order."""
        return bool(self.meta.get("point_cloud", False))

    def points(self) -> np.ndarray:
        """All points of all strokes concatenated, shape ``(num_points, 2)``."""
        if not self.strokes:
            return np.zeros((0, 2))
        return np.concatenate(self.strokes, axis=0)

    def bounds(self) -> tuple[float, float, float, float]:
        """Bounding box ``(xmin, ymin, xmax, ymax)``; raises ``ValueError`` if empty."""
        pts = self.points()
        if pts.shape[0] == 0:
            raise ValueError("bounds of an empty sketch are undefined")
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])

    def transformed(self, scale: float | np.ndarray = 1.0, offset: Sequence[float] = (0.0, 0.0)) -> "Sketch":
        """A copy with every point mapped to ``point * scale + offset``."""
        scale = np.asarray(scale, dtype=np.float64)
        offset = np.asarray(offset, dtype=np.float64)
        return Sketch(
            [s * scale + offset for s in self.strokes],
            times=None if self.times is None else [t.copy() for t in self.times],
            label=self.label,
            meta=dict(self.meta),
        )

    def __repr__(self) -> str:
        return f"Sketch(strokes={self.num_strokes}, points={self.num_points}, label={self.label!r})"


@dataclass(frozen=True, eq=False)
class BezierSketch:
    """A drawing as Bézier curves (SVG frame, y down), each with its own degree.

    Attributes:
        curves: list of ``(d_i + 1, 2)`` float64 control-point arrays, ``d_i >= 1``.
        weights: optional list of ``(d_i + 1,)`` positive weights per curve for rational Bézier
            curves, or ``None`` for polynomial curves.
        label: optional class label.
        meta: free-form metadata.
    """

    curves: list[np.ndarray]
    weights: list[np.ndarray] | None = None
    label: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        curves = [_as_points(c, what=f"curve {i}", min_points=2) for i, c in enumerate(self.curves)]
        object.__setattr__(self, "curves", curves)
        if self.weights is not None:
            if len(self.weights) != len(curves):
                raise ValueError(
                    f"weights: expected {len(curves)} arrays (one per curve), got {len(self.weights)}"
                )
            weights = []
            for i, (w, c) in enumerate(zip(self.weights, curves)):
                w = np.asarray(w, dtype=np.float64).reshape(-1)
                if w.shape[0] != c.shape[0] or np.any(w <= 0):
                    raise ValueError(
                        f"weights[{i}]: expected {c.shape[0]} positive values, got {w.tolist()}"
                    )
                weights.append(w)
            object.__setattr__(self, "weights", weights)

    @property
    def num_curves(self) -> int:
        """Number of curves."""
        return len(self.curves)

    @property
    def degrees(self) -> list[int]:
        """Degree of each curve (control points minus one)."""
        return [c.shape[0] - 1 for c in self.curves]

    @property
    def num_control_points(self) -> int:
        """Total number of control points over all curves."""
        return int(sum(c.shape[0] for c in self.curves))

    def bounds(self) -> tuple[float, float, float, float]:
        """Bounding box of the control points ``(xmin, ymin, xmax, ymax)`` (contains the curves)."""
        if not self.curves:
            raise ValueError("bounds of an empty sketch are undefined")
        pts = np.concatenate(self.curves, axis=0)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])

    def to_sketch(self, points_per_curve: int = 32) -> Sketch:
        """Sample every curve at ``points_per_curve`` evenly spaced parameters -> polyline ``Sketch``."""
        from sketchkit.geometry.bezier import evaluate, evaluate_rational

        t = np.linspace(0.0, 1.0, points_per_curve)
        strokes = []
        for i, c in enumerate(self.curves):
            if self.weights is None:
                strokes.append(evaluate(c, t))
            else:
                strokes.append(evaluate_rational(c, self.weights[i], t))
        return Sketch(strokes, label=self.label, meta=dict(self.meta))

    def transformed(self, scale: float | np.ndarray = 1.0, offset: Sequence[float] = (0.0, 0.0)) -> "BezierSketch":
        """A copy with every control point mapped to ``point * scale + offset`` (curves are affine-invariant)."""
        scale = np.asarray(scale, dtype=np.float64)
        offset = np.asarray(offset, dtype=np.float64)
        return BezierSketch(
            [c * scale + offset for c in self.curves],
            weights=None if self.weights is None else [w.copy() for w in self.weights],
            label=self.label,
            meta=dict(self.meta),
        )

    def __repr__(self) -> str:
        return f"BezierSketch(curves={self.num_curves}, degrees={self.degrees}, label={self.label!r})"
