"""Writers for a vectorised drawing: SVG, JSON, ``.npz``, Quick, Draw! ndjson, polyline ``Sketch``."""

from __future__ import annotations

import json
import math

import numpy as np

from sketchkit.sketch import BezierSketch, Sketch


# a path's ``meta["stroke_opacity"]`` is written only below this: ordinary dark drawings, whose
# paths read a little under full ink here and there, keep plain solid strokes
OPACITY_WRITTEN = 0.9


def _num(v: float) -> str:
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _strokes_of(sketch: BezierSketch) -> list[list[np.ndarray]]:
    ids = sketch.meta.get("curve_stroke")
    if not ids or len(ids) != sketch.num_curves:
        ids = list(range(sketch.num_curves))
    out: dict[int, list[np.ndarray]] = {}
    for i, c in zip(ids, sketch.curves):
        out.setdefault(int(i), []).append(c)
    return [out[k] for k in sorted(out)]


def _per_path(sketch: BezierSketch, key: str, paths: int) -> list | None:
    """``meta[key]`` when it has one entry per path, else None (missing, or from another drawing)."""
    values = sketch.meta.get(key)
    return values if values is not None and len(values) == paths else None


def _pen_strokes_of(sketch: BezierSketch) -> list[list[np.ndarray]]:
    """The curves of each pen stroke: paths that are runs of one stroke (``meta["stroke_path"]``) joined."""
    chains = _strokes_of(sketch)
    pen = _per_path(sketch, "stroke_path", len(chains))
    if pen is None:
        return chains
    out: list[list[np.ndarray]] = []
    for k, chain in enumerate(chains):
        if k and pen[k] == pen[k - 1]:
            out[-1] = out[-1] + chain
        else:
            out.append(list(chain))
    return out


def to_svg(sketch: BezierSketch, *, stroke_width: float | None = None, color: str = "black",
           opacity: bool = True) -> str:
    """SVG text of a vectorised drawing in the image's frame (``viewBox="0 0 W H"``).

    One open ``<path>`` per path (``meta["curve_stroke"]``): degrees 1/2/3 are written exactly
    as ``L``/``Q``/``C``; higher degrees are converted to cubics within 0.1 px
    (:func:`sketchkit.geometry.bezier.to_cubics`). Coordinates have 2 decimals. With
    ``meta["stroke_widths"]`` (one per path) and no ``stroke_width`` argument, a ``<path>`` whose
    width differs from the group's carries its own ``stroke-width``. Paths that are runs of one
    pen stroke (the same ``meta["stroke_path"]``, drawn at their local widths) share a ``<g>``,
    so an editor selects and moves the stroke as one. A path whose ``meta["stroke_opacity"]``
    (its ink darkness, one per path) is under ``OPACITY_WRITTEN`` (0.9) carries its own
    ``stroke-opacity`` (2 decimals), so faint strokes are drawn faint.

    Args:
        sketch: a ``BezierSketch`` (``meta["image_size"]`` gives the frame; else its bounds).
        stroke_width: one line width in px for all strokes; default ``meta["stroke_width"]`` (or 2)
            on the group, overridden per path by ``meta["stroke_widths"]``.
        color: CSS stroke colour.
        opacity: write the faint paths' ``stroke-opacity`` (False: every path solid).
    """
    from sketchkit.geometry.bezier import to_cubics

    size = sketch.meta.get("image_size")
    if size:
        w, h = int(size[0]), int(size[1])
    elif sketch.num_curves:
        _, _, x1, y1 = sketch.bounds()
        w, h = int(math.ceil(x1)) + 1, int(math.ceil(y1)) + 1
    else:
        w, h = 1, 1
    sw = stroke_width if stroke_width is not None else (sketch.meta.get("stroke_width") or 2.0)
    lines = [
        '<?xml version="1.0" encoding="utf-8" ?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
        f'<g fill="none" stroke="{color}" stroke-width="{_num(float(sw))}" stroke-linecap="round" stroke-linejoin="round">',
    ]
    cmd = {1: "L", 2: "Q", 3: "C"}
    chains = _strokes_of(sketch)
    per_path = _per_path(sketch, "stroke_widths", len(chains)) if stroke_width is None else None
    pen = _per_path(sketch, "stroke_path", len(chains)) or list(range(len(chains)))
    alpha = _per_path(sketch, "stroke_opacity", len(chains)) if opacity else None
    for k, chain in enumerate(chains):
        # the runs of one pen stroke are consecutive paths
        joins_prev = k > 0 and pen[k - 1] == pen[k]
        joins_next = k + 1 < len(chains) and pen[k + 1] == pen[k]
        if joins_next and not joins_prev:
            lines.append("<g>")
        parts = [f"M {_num(chain[0][0, 0])} {_num(chain[0][0, 1])}"]
        for c in chain:
            pieces = [c] if c.shape[0] <= 4 else to_cubics(c, tolerance=0.1)
            for pc in pieces:
                coords = " ".join(f"{_num(x)} {_num(y)}" for x, y in pc[1:])
                parts.append(f"{cmd[pc.shape[0] - 1]} {coords}")
        own = ""
        if per_path is not None and _num(float(per_path[k])) != _num(float(sw)):
            own = f' stroke-width="{_num(float(per_path[k]))}"'
        if alpha is not None and float(alpha[k]) < OPACITY_WRITTEN:
            own += f' stroke-opacity="{_num(max(0.01, float(alpha[k])))}"'
        lines.append(f'<path d="{" ".join(parts)}"{own}/>')
        if joins_prev and not joins_next:
            lines.append("</g>")
    lines += ["</g>", "</svg>", ""]
    return "\n".join(lines)


def to_json(sketch: BezierSketch) -> str:
    """JSON text: ``{"image_size", "stroke_width", "stroke_widths", "stroke_path", "stroke_opacity", "strokes"}``.

    Each curve is a list of ``[x, y]`` control points (its degree is ``len - 1``); a stroke here
    is a path, ``stroke_widths`` has one width in px per path (``null`` when unknown) and
    ``stroke_path`` the pen stroke of each path (runs of a thick stroke share one; ``null`` when
    unknown), ``stroke_opacity`` the ink darkness of each path in ``(0, 1]`` (``null`` when
    unknown). ``strokes`` holds the curve control points of each path.
    """
    doc = {
        "format": "sketchkit.vectorize/1",
        "image_size": sketch.meta.get("image_size"),
        "stroke_width": sketch.meta.get("stroke_width"),
        "stroke_widths": sketch.meta.get("stroke_widths"),
        "stroke_path": sketch.meta.get("stroke_path"),
        "stroke_opacity": sketch.meta.get("stroke_opacity"),
        "strokes": [[np.round(c, 4).tolist() for c in chain] for chain in _strokes_of(sketch)],
    }
    return json.dumps(doc, separators=(",", ":")) + "\n"


def to_npz_bytes(sketch: BezierSketch) -> bytes:
    """``.npz`` bytes: ``control_points`` (total, 2) float64, ``degrees`` (curves,), ``curve_stroke``
    (curves,), ``image_size`` (2,), ``stroke_widths`` (paths,) px, ``stroke_path`` (paths,) pen
    stroke of each path and ``stroke_opacity`` (paths,) ink darkness in ``(0, 1]`` (each empty
    when unknown), and ``stroke3`` (N, 3) of the curves sampled
    at 16 points each, one pen stroke per pen-up."""
    import io

    curves = sketch.curves
    buf = io.BytesIO()
    np.savez(
        buf,
        control_points=np.concatenate(curves) if curves else np.zeros((0, 2)),
        degrees=np.array(sketch.degrees, dtype=np.int64),
        curve_stroke=np.array(sketch.meta.get("curve_stroke", list(range(len(curves)))), dtype=np.int64),
        image_size=np.array(sketch.meta.get("image_size", [0, 0]), dtype=np.int64),
        stroke_widths=np.array(sketch.meta.get("stroke_widths") or [], dtype=np.float64),
        stroke_path=np.array(sketch.meta.get("stroke_path") or [], dtype=np.int64),
        stroke_opacity=np.array(sketch.meta.get("stroke_opacity") or [], dtype=np.float64),
        stroke3=_stroke3(sketch),
    )
    return buf.getvalue()


def _polylines(sketch: BezierSketch, per_curve: int = 16) -> list[np.ndarray]:
    from sketchkit.geometry.bezier import evaluate

    t = np.linspace(0.0, 1.0, per_curve)
    out = []
    for chain in _pen_strokes_of(sketch):
        pts = [evaluate(c, t) if i == 0 else evaluate(c, t)[1:] for i, c in enumerate(chain)]
        out.append(np.concatenate(pts))
    return out


def _stroke3(sketch: BezierSketch) -> np.ndarray:
    polys = _polylines(sketch)
    if not polys:
        return np.zeros((0, 3))
    pts = np.concatenate(polys)
    pen = np.concatenate([np.r_[np.zeros(len(p) - 1), 1.0] for p in polys])
    d = np.diff(np.concatenate([[[0.0, 0.0]], pts]), axis=0)
    return np.column_stack([d, pen])


def to_ndjson(sketch: BezierSketch, *, word: str | None = None) -> str:
    """One Quick, Draw! style ndjson line: ``{"word", "drawing": [[[x...], [y...]], ...]}``, curves
    sampled at 16 points per curve, coordinates rounded to 0.01 px."""
    drawing = [[np.round(p[:, 0], 2).tolist(), np.round(p[:, 1], 2).tolist()] for p in _polylines(sketch)]
    return json.dumps({"word": word or "", "drawing": drawing}, separators=(",", ":")) + "\n"


def as_sketch(sketch: BezierSketch, per_curve: int = 16) -> Sketch:
    """The vectorised strokes as a polyline :class:`~sketchkit.sketch.Sketch` (one stroke per pen stroke)."""
    return Sketch(_polylines(sketch, per_curve), meta=dict(sketch.meta))
