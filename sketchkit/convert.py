"""Converters between :class:`~sketchkit.sketch.Sketch` and the field's formats.

Formats
-------
**stroke-3** (sketch-rnn, Ha & Eck 2017): an ``(N, 3)`` array with one row per point,
``[dx, dy, pen_lifted]``.

* ``dx, dy`` is the offset from the previous point; the first row is the offset from ``start``
  (default ``(0, 0)``), so the first point of the drawing is ``start + row0[:2]``.
* ``pen_lifted = 1`` on the **last** point of each stroke (the pen leaves the paper after that
  point and travels to the next row's point without drawing), ``0`` otherwise. The last row of a
  complete drawing therefore has ``pen_lifted = 1``.
* Integer coordinates round-trip exactly (cumulative sums of integers are exact in float64).

**stroke-5** (sketch-rnn's model format): rows ``[dx, dy, p_down, p_up, p_end]`` with a one-hot
pen state: ``p_down = 1`` while the pen stays down after the point, ``p_up = 1`` on the last point
of a stroke (stroke-3's ``pen_lifted``), ``p_end = 1`` on every row after the drawing (padding;
the first such row is the end-of-sketch token). A batch is ``(B, max_len, 5)`` plus ``lengths``
``(B,)`` (number of real rows). With ``start_token=True`` a row ``[0, 0, 1, 0, 0]`` (sketch-rnn's
``S0``) is prepended, so the array is ``(B, max_len + 1, 5)`` and ``lengths`` still count the
real rows only.

**point cloud**: an unordered ``(n, 2)`` array; see :func:`sample_point_cloud`.

**Bézier**: :func:`sketch_to_bezier` fits one least-squares curve per stroke (the reference that
learned stroke embedders are compared with).

Normalisation (:func:`normalize`) returns a :class:`Transform` ``p -> p * scale + offset`` that
can be applied to other data and inverted; store ``Transform.to_dict()`` next to outputs to
map them back to the source's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal, Sequence

import numpy as np

from sketchkit.geometry.polyline import cumulative_lengths, rdp_indices, resample
from sketchkit.sketch import BezierSketch, Sketch

__all__ = [
    "Transform",
    "normalize",
    "resample_sketch",
    "sample_point_cloud",
    "simplify",
    "sketch_to_bezier",
    "sketch_to_stroke3",
    "sketches_to_stroke5",
    "stroke3_to_sketch",
    "stroke3_to_stroke5",
    "stroke5_to_sketches",
    "stroke5_to_stroke3",
]


# --------------------------------------------------------------------------------------------
# stroke-3
# --------------------------------------------------------------------------------------------


def sketch_to_stroke3(sketch: Sketch, *, start: Sequence[float] = (0.0, 0.0)) -> np.ndarray:
    """A Sketch as a stroke-3 array (see the module docstring for the convention).

    Args:
        sketch: the drawing; empty strokes are not possible (``Sketch`` strokes have >= 1 point).
        start: the point the first offset is measured from.

    Returns:
        ``(N, 3)`` float64 array ``[dx, dy, pen_lifted]``, ``N = sketch.num_points``
        (``(0, 3)`` for a sketch without strokes).
    """
    if not isinstance(sketch, Sketch):
        raise ValueError(f"sketch: expected a Sketch, got {type(sketch).__name__}")
    if sketch.num_strokes == 0:
        return np.zeros((0, 3))
    points = sketch.points()  # (N, 2)
    start_arr = np.asarray(start, dtype=np.float64).reshape(2)
    out = np.zeros((points.shape[0], 3))
    out[0, :2] = points[0] - start_arr
    out[1:, :2] = np.diff(points, axis=0)
    ends = np.cumsum([s.shape[0] for s in sketch.strokes]) - 1
    out[ends, 2] = 1.0
    return out


def _as_stroke3(arr: Any, *, what: str = "stroke-3 array") -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype == object:
        raise ValueError(f"{what}: expected a numeric array, got dtype object")
    a = a.astype(np.float64)
    if a.ndim != 2 or a.shape[1] != 3:
        raise ValueError(f"{what}: expected shape (N, 3), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what}: values must be finite (found NaN or inf)")
    return a


def stroke3_to_sketch(
    arr: np.ndarray,
    *,
    start: Sequence[float] = (0.0, 0.0),
    label: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Sketch:
    """A stroke-3 array as a Sketch (inverse of :func:`sketch_to_stroke3`).

    Points are ``start + cumsum(dx, dy)``; a new stroke begins after each row whose
    ``pen_lifted > 0.5``. Rows after the last pen lift form a final stroke (a drawing cut off
    mid-stroke keeps its points).

    Args:
        arr: ``(N, 3)`` stroke-3 array.
        start: absolute position the first offset is measured from.
        label: optional class label.
        meta: optional metadata dict.

    Returns:
        The Sketch (no strokes when ``N = 0``).
    """
    a = _as_stroke3(arr)
    start_arr = np.asarray(start, dtype=np.float64).reshape(2)
    points = start_arr + np.cumsum(a[:, :2], axis=0)  # (N, 2)
    cuts = np.flatnonzero(a[:, 2] > 0.5) + 1
    pieces = np.split(points, cuts)
    strokes = [p for p in pieces if p.shape[0] > 0]
    return Sketch(strokes, label=label, meta=dict(meta or {}))


# --------------------------------------------------------------------------------------------
# stroke-5
# --------------------------------------------------------------------------------------------


def stroke3_to_stroke5(arr: np.ndarray, max_len: int | None = None) -> np.ndarray:
    """One stroke-3 array as stroke-5 rows, padded with end rows ``[0, 0, 0, 0, 1]``.

    Args:
        arr: ``(N, 3)`` stroke-3 array.
        max_len: output length ``>= N`` (default ``N + 1``, i.e. one end-of-sketch row).

    Returns:
        ``(max_len, 5)`` float64 array.
    """
    a = _as_stroke3(arr)
    n = a.shape[0]
    if max_len is None:
        max_len = n + 1
    if n > max_len:
        raise ValueError(f"stroke-3 array has {n} rows, more than max_len={max_len}")
    out = np.zeros((max_len, 5))
    out[:n, :2] = a[:, :2]
    lifted = a[:, 2] > 0.5
    out[:n, 3] = lifted
    out[:n, 2] = ~lifted
    out[n:, 4] = 1.0
    return out


def sketches_to_stroke5(
    sketches: Iterable[Sketch | np.ndarray],
    max_len: int | None = None,
    *,
    start_token: bool = False,
    truncate: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """A batch of sketches (or stroke-3 arrays) as a padded stroke-5 array plus lengths.

    Args:
        sketches: Sketches (converted with :func:`sketch_to_stroke3`) or ``(N_i, 3)`` stroke-3
            arrays.
        max_len: rows per sketch (default: the longest ``N_i``). Longer inputs raise, unless
            ``truncate`` is set (then they are cut to ``max_len`` rows and the last kept row gets
            ``p_up = 1``).
        start_token: prepend sketch-rnn's start row ``[0, 0, 1, 0, 0]``.
        truncate: cut long sketches instead of raising.

    Returns:
        ``(data, lengths)``: ``data`` float64 ``(B, max_len (+1 with start token), 5)``;
        ``lengths`` int64 ``(B,)`` real rows per sketch (start token not counted).
    """
    arrays = [
        sketch_to_stroke3(s) if isinstance(s, Sketch) else _as_stroke3(s, what=f"sketches[{i}]")
        for i, s in enumerate(sketches)
    ]
    longest = max((a.shape[0] for a in arrays), default=0)
    if max_len is None:
        max_len = longest
    if max_len < 0:
        raise ValueError(f"max_len must be >= 0, got {max_len}")
    rows = []
    lengths = []
    for i, a in enumerate(arrays):
        if a.shape[0] > max_len:
            if not truncate:
                raise ValueError(
                    f"sketches[{i}] has {a.shape[0]} points, more than max_len={max_len} "
                    "(pass truncate=True to cut it)"
                )
            a = a[:max_len].copy()
            if max_len:
                a[-1, 2] = 1.0
        rows.append(stroke3_to_stroke5(a, max_len))
        lengths.append(a.shape[0])
    data = np.stack(rows) if rows else np.zeros((0, max_len, 5))
    if start_token:
        s0 = np.zeros((data.shape[0], 1, 5))
        s0[:, :, 2] = 1.0
        data = np.concatenate([s0, data], axis=1)
    return data, np.asarray(lengths, dtype=np.int64)


def stroke5_to_stroke3(arr: np.ndarray, length: int | None = None) -> np.ndarray:
    """One stroke-5 sequence back to stroke-3.

    The pen state of a row is the argmax of ``[p_down, p_up, p_end]`` (so model outputs that are
    probabilities work too). Without ``length`` the sequence stops at the first end row.

    Args:
        arr: ``(L, 5)`` stroke-5 rows (no start token).
        length: number of real rows (default: up to the first row whose argmax is ``p_end``).

    Returns:
        ``(N, 3)`` stroke-3 array.
    """
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 5:
        raise ValueError(f"stroke-5 array: expected shape (L, 5), got {a.shape}")
    state = np.argmax(a[:, 2:5], axis=1)
    if length is None:
        ends = np.flatnonzero(state == 2)
        length = int(ends[0]) if ends.size else a.shape[0]
    if not 0 <= length <= a.shape[0]:
        raise ValueError(f"length: expected 0..{a.shape[0]}, got {length}")
    out = np.zeros((length, 3))
    out[:, :2] = a[:length, :2]
    out[:, 2] = state[:length] != 0
    return out


def stroke5_to_sketches(
    arr: np.ndarray,
    lengths: Sequence[int] | np.ndarray | None = None,
    *,
    start_token: bool = False,
    labels: Sequence[str | None] | None = None,
) -> list[Sketch]:
    """A stroke-5 batch back to Sketches (inverse of :func:`sketches_to_stroke5`).

    Args:
        arr: ``(B, L, 5)`` stroke-5 batch (or one ``(L, 5)`` sequence).
        lengths: ``(B,)`` real rows per sketch; ``None``: stop each at its first end row.
        start_token: the first row of each sequence is a start token to drop.
        labels: optional label per sketch.

    Returns:
        ``B`` Sketches, each starting at ``(0, 0)``.
    """
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[2] != 5:
        raise ValueError(f"stroke-5 batch: expected shape (B, L, 5), got {a.shape}")
    if start_token:
        a = a[:, 1:]
    if lengths is not None:
        lengths = np.asarray(lengths).reshape(-1)
        if lengths.shape[0] != a.shape[0]:
            raise ValueError(f"lengths: expected {a.shape[0]} values, got {lengths.shape[0]}")
    if labels is not None and len(labels) != a.shape[0]:
        raise ValueError(f"labels: expected {a.shape[0]} values, got {len(labels)}")
    out = []
    for i in range(a.shape[0]):
        s3 = stroke5_to_stroke3(a[i], None if lengths is None else int(lengths[i]))
        out.append(stroke3_to_sketch(s3, label=None if labels is None else labels[i]))
    return out


# --------------------------------------------------------------------------------------------
# Point clouds, resampling, simplification
# --------------------------------------------------------------------------------------------


def sample_point_cloud(
    sketch: Sketch,
    n: int,
    *,
    generator: np.random.Generator,
    stratified: bool = False,
) -> np.ndarray:
    """``n`` points uniformly distributed in arc length over all strokes of a sketch.

    Each point is drawn by picking an arc-length position uniformly on ``[0, total length)``
    (or one per equal slice of it with ``stratified=True``, which spreads points more evenly)
    and interpolating linearly on the segment there; pen-up jumps between strokes carry no
    mass. Single-point strokes have zero length and are not sampled while any stroke has length.
    For point clouds and sketches of zero total length, the points themselves are resampled:
    ``n`` distinct points drawn without replacement when ``n <= num_points``, with replacement
    otherwise.

    Args:
        sketch: the drawing (polylines or a point cloud), with at least one point.
        n: number of points ``>= 0``.
        generator: ``numpy.random.Generator``.
        stratified: one point per arc-length slice of equal length (still random within it).

    Returns:
        ``(n, 2)`` float64 points (unordered).
    """
    if not isinstance(generator, np.random.Generator):
        raise ValueError(f"generator: expected numpy.random.Generator, got {type(generator).__name__}")
    if int(n) != n or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n}")
    n = int(n)
    if sketch.num_points == 0:
        raise ValueError("sample_point_cloud: the sketch has no points")
    if n == 0:
        return np.zeros((0, 2))
    strokes = [s for s in sketch.strokes if s.shape[0] >= 2]
    seg_a = np.concatenate([s[:-1] for s in strokes]) if strokes else np.zeros((0, 2))
    seg_b = np.concatenate([s[1:] for s in strokes]) if strokes else np.zeros((0, 2))
    seg_len = np.linalg.norm(seg_b - seg_a, axis=1)
    total = float(seg_len.sum())
    if sketch.is_point_cloud or total <= 0.0:
        pts = sketch.points()
        idx = generator.choice(pts.shape[0], size=n, replace=n > pts.shape[0])
        return pts[idx].copy()
    if stratified:
        u = (np.arange(n) + generator.random(n)) / n * total
    else:
        u = generator.random(n) * total
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    seg = np.clip(np.searchsorted(cum, u, side="right") - 1, 0, seg_len.shape[0] - 1)
    # searchsorted lands on segments of positive length only (zero-length ones have cum equal).
    frac = np.divide(u - cum[seg], seg_len[seg], out=np.zeros_like(u), where=seg_len[seg] > 0)
    frac = np.clip(frac, 0.0, 1.0)
    return seg_a[seg] + frac[:, None] * (seg_b[seg] - seg_a[seg])


def resample_sketch(
    sketch: Sketch,
    spacing: float | None = None,
    n_per_stroke: int | None = None,
) -> Sketch:
    """Resample every stroke evenly in arc length (see :func:`sketchkit.geometry.polyline.resample`).

    Give exactly one of ``spacing`` (target distance between points, same units as the sketch)
    or ``n_per_stroke``. Per-point ``times`` are interpolated linearly in arc length. Point-cloud
    sketches are returned unchanged (a copy): they have no strokes to follow.

    Args:
        sketch: the drawing.
        spacing: target arc-length spacing ``> 0``.
        n_per_stroke: points per stroke ``>= 1``.

    Returns:
        A new Sketch with the same label/meta.
    """
    if (spacing is None) == (n_per_stroke is None):
        raise ValueError("resample_sketch: give exactly one of spacing or n_per_stroke")
    if sketch.is_point_cloud:
        return sketch.transformed()
    strokes, times = [], []
    for i, s in enumerate(sketch.strokes):
        new = resample(s, n_per_stroke, spacing=spacing)
        strokes.append(new)
        if sketch.times is not None:
            cum = cumulative_lengths(s)
            total = cum[-1]
            if total > 0:
                pos = cumulative_lengths(new)
                pos = pos / pos[-1] * total if pos[-1] > 0 else pos
                # np.interp needs increasing x: repeated points (zero-length segments) keep their first time.
                keep = np.concatenate([[True], np.diff(cum) > 0])
                times.append(np.interp(pos, cum[keep], sketch.times[i][keep]))
            else:
                times.append(np.full(new.shape[0], sketch.times[i][0]))
    new_times = times if sketch.times is not None else None
    return Sketch(strokes, times=new_times, label=sketch.label, meta=dict(sketch.meta))


def simplify(sketch: Sketch, epsilon: float) -> Sketch:
    """Ramer-Douglas-Peucker simplification of each stroke (times of kept points are kept).

    Args:
        sketch: the drawing (point clouds are returned unchanged).
        epsilon: distance tolerance ``>= 0`` in the sketch's units.

    Returns:
        A new Sketch whose strokes are subsets of the input strokes, end points kept, every
        dropped point within ``epsilon`` of the simplified stroke.
    """
    if sketch.is_point_cloud:
        return sketch.transformed()
    keep = [rdp_indices(s, epsilon) for s in sketch.strokes]
    strokes = [s[k] for s, k in zip(sketch.strokes, keep)]
    times = None if sketch.times is None else [t[k] for t, k in zip(sketch.times, keep)]
    return Sketch(strokes, times=times, label=sketch.label, meta=dict(sketch.meta))


def sketch_to_bezier(
    sketch: Sketch,
    degree: int = 3,
    *,
    refine_steps: int = 5,
    fix_ends: bool = False,
) -> BezierSketch:
    """Least-squares Bézier curve of one degree per stroke (the non-learned reference fit).

    Each stroke with >= 2 points is fitted by :func:`sketchkit.geometry.bezier.fit_least_squares`
    (chord-length parameters plus ``refine_steps`` refinement steps). A single-point stroke
    becomes a degenerate curve with all control points at that point. The per-stroke mean
    squared error is stored in ``meta["fit_mse"]`` (list, units squared).

    Args:
        sketch: a polyline Sketch (not a point cloud: its strokes carry no order).
        degree: curve degree ``>= 1``.
        refine_steps: parameter refinement steps per stroke.
        fix_ends: pin each curve's end control points to the stroke's end points.

    Returns:
        A BezierSketch with one curve per stroke, same label, meta plus ``fit_mse``.
    """
    from sketchkit.geometry.bezier import fit_least_squares

    if sketch.is_point_cloud:
        raise ValueError("sketch_to_bezier: a point cloud has no stroke order to fit curves to")
    curves, errors = [], []
    for stroke in sketch.strokes:
        if stroke.shape[0] == 1:
            curves.append(np.repeat(stroke, degree + 1, axis=0))
            errors.append(0.0)
            continue
        fit = fit_least_squares(stroke, degree, refine_steps=refine_steps, fix_ends=fix_ends)
        curves.append(fit.control_points)
        errors.append(fit.mse)
    return BezierSketch(curves, label=sketch.label, meta={**sketch.meta, "fit_mse": errors})


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transform:
    """A uniform scale plus translation, ``p -> p * scale + offset``.

    Attributes:
        scale: positive scale factor (output units per input unit).
        offset: ``(2,)`` translation, in output units.
    """

    scale: float
    offset: tuple[float, float]

    def __post_init__(self) -> None:
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"Transform.scale must be finite and > 0, got {self.scale}")
        off = tuple(float(v) for v in self.offset)
        if len(off) != 2 or not all(np.isfinite(off)):
            raise ValueError(f"Transform.offset must be 2 finite numbers, got {self.offset}")
        object.__setattr__(self, "scale", float(self.scale))
        object.__setattr__(self, "offset", off)

    def apply(self, item: Any) -> Any:
        """Map a Sketch, BezierSketch or ``(..., 2)`` array forward (``p * scale + offset``)."""
        if isinstance(item, (Sketch, BezierSketch)):
            return item.transformed(self.scale, self.offset)
        return np.asarray(item, dtype=np.float64) * self.scale + np.asarray(self.offset)

    def invert(self, item: Any) -> Any:
        """Map a Sketch, BezierSketch or ``(..., 2)`` array back (``(p - offset) / scale``)."""
        return self.inverse().apply(item)

    def inverse(self) -> "Transform":
        """The inverse transform."""
        return Transform(1.0 / self.scale, (-self.offset[0] / self.scale, -self.offset[1] / self.scale))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict ``{"scale": float, "offset": [x, y]}``."""
        return {"scale": self.scale, "offset": [self.offset[0], self.offset[1]]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Transform":
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(float(data["scale"]), tuple(float(v) for v in data["offset"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"Transform.from_dict: expected keys 'scale' and 'offset', got {data!r}") from exc


NormalizeMode = Literal["unit", "fit", "std", "first_point", "none"]


def _points_of(item: Sketch | BezierSketch) -> np.ndarray:
    if isinstance(item, BezierSketch):
        return np.concatenate(item.curves, axis=0) if item.curves else np.zeros((0, 2))
    if isinstance(item, Sketch):
        return item.points()
    raise ValueError(f"expected a Sketch or BezierSketch, got {type(item).__name__}")


def normalize(sketch: Sketch | BezierSketch, *, mode: NormalizeMode = "unit") -> tuple[Any, Transform]:
    """Translate and uniformly scale a sketch; return it with the transform that was applied.

    Modes (``L`` = the longer side of the bounding box):

    * ``"unit"``: bounding-box centre to the origin, ``L`` to 1, so the sketch lies in
      ``[-0.5, 0.5]^2`` (touching the box on the longer axis).
    * ``"fit"``: bounding-box minimum corner to the origin, ``L`` to 1: inside ``[0, 1]^2``.
    * ``"std"``: centroid of the points to the origin, then divide by the standard deviation of
      all coordinates (x and y pooled; sketch-rnn's scale normalisation).
    * ``"first_point"``: first point to the origin, then divide by the largest distance of a
      point from it (SketchODE's normalisation): inside the unit disc.
    * ``"none"``: identity.

    A sketch whose extent is zero (one point, or all points equal) is only translated (scale 1).
    For a BezierSketch the control points are used (Bézier curves are affine invariant).

    Args:
        sketch: a Sketch or BezierSketch with at least one point.
        mode: one of the modes above.

    Returns:
        ``(normalised, transform)`` with ``normalised == transform.apply(sketch)`` and
        ``transform.invert(normalised)`` equal to ``sketch`` up to float rounding.
    """
    pts = _points_of(sketch)
    if pts.shape[0] == 0:
        raise ValueError("normalize: the sketch has no points")
    if mode == "none":
        tf = Transform(1.0, (0.0, 0.0))
        return tf.apply(sketch), tf
    if mode in ("unit", "fit"):
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        extent = float(np.max(hi - lo))
        anchor = (lo + hi) / 2.0 if mode == "unit" else lo
    elif mode == "std":
        anchor = pts.mean(axis=0)
        extent = float(np.std(pts - anchor))
    elif mode == "first_point":
        anchor = pts[0]
        extent = float(np.max(np.linalg.norm(pts - anchor, axis=1)))
    else:
        raise ValueError(f"mode: expected one of unit, fit, std, first_point, none; got {mode!r}")
    scale = 1.0 / extent if extent > 1e-12 * max(1.0, float(np.abs(pts).max())) else 1.0
    tf = Transform(scale, (float(-anchor[0] * scale), float(-anchor[1] * scale)))
    return tf.apply(sketch), tf
