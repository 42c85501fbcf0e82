"""Sketch / BezierSketch -> SVG text (svgwrite): single drawings, grids, and stroke-order animation.

Conventions:

* Coordinates stay in the item's **source units** (y down); a single drawing gets a square
  ``viewBox`` fitted to its content with a margin, a grid places each drawing in its cell with a
  ``<g transform="matrix(...)">``. So an exported sketch re-imports with its own coordinates.
* ``stroke_width`` and the curve tolerance are in **output pixels** (at ``size``/``cell``); they
  are converted to source units with the fitted scale.
* Every stroke is one open ``<path>`` (``fill="none"``, round caps and joins). A polyline is
  ``M x y L x y x y ...``; a Bézier curve of degree 1/2/3 is exactly ``L``/``Q``/``C``; higher
  degrees are split into cubics within ``tolerance`` px (see ``_common.svg_pieces``). A stroke
  with one point (or zero length) is a ``<circle>`` of radius ``stroke_width / 2`` (what a round
  cap would draw); point clouds are dots of radius ``stroke_width``.
"""

from __future__ import annotations

import math
from os import PathLike
from typing import Sequence

import numpy as np
import svgwrite
import svgwrite.animate

from sketchkit.render._common import (
    Item,
    check_item,
    content_bounds,
    curve_points,
    fit_transform,
    size_wh,
    svg_pieces,
)
from sketchkit._io import write_atomic
from sketchkit.sketch import BezierSketch, Sketch

__all__ = ["to_svg", "grid_svg", "PALETTE", "stroke_palette"]

#: Qualitative palette for per-stroke colours (colour-blind-friendly hues, readable on white),
#: cycled when a drawing has more strokes than colours.
PALETTE: tuple[str, ...] = (
    "#0072b2",  # blue
    "#d55e00",  # vermillion
    "#009e73",  # bluish green
    "#cc79a7",  # reddish purple
    "#e69f00",  # orange
    "#56b4e9",  # sky blue
    "#7f3c8d",  # purple
    "#8c6d31",  # brown
    "#4d4d4d",  # dark grey
)

# Animation: pen speed in output pixels per second (scaled with the canvas), pause between strokes.
_PEN_SPEED_PER_SIZE = 2.0
_PAUSE_S = 0.12
_MIN_STROKE_S = 0.06
_LOOP_HOLD_S = 1.5  # seconds the finished drawing stays before a looping animation restarts

_XML_DECL = '<?xml version="1.0" encoding="utf-8" ?>\n'


def stroke_palette(stroke_colors: object, n: int) -> list[str] | None:
    """Colours for ``n`` strokes from a ``stroke_colors`` option, or ``None`` (one colour).

    Args:
        stroke_colors: ``None``/``False`` (single colour), ``True`` or ``"palette"`` (the
            qualitative :data:`PALETTE`), or a sequence of CSS colours (cycled).
        n: number of strokes.
    """
    if stroke_colors is None or stroke_colors is False:
        return None
    if stroke_colors is True or stroke_colors == "palette":
        colours: Sequence[str] = PALETTE
    elif isinstance(stroke_colors, str):
        raise ValueError(
            f"stroke_colors: expected True, 'palette' or a list of colours, got the string {stroke_colors!r}"
        )
    else:
        colours = list(stroke_colors)  # type: ignore[arg-type]
        if not colours or not all(isinstance(c, str) and c for c in colours):
            raise ValueError(f"stroke_colors: expected a non-empty list of colour strings, got {stroke_colors!r}")
    return [colours[i % len(colours)] for i in range(n)]


class _Num:
    """Formats coordinates with enough decimals for 0.0005 output px (compact, exact enough).

    The viewBox's origin and size are rounded separately, so each must stay well below the
    0.005 px the output promises.
    """

    def __init__(self, scale: float) -> None:
        step = 0.001 / scale  # source units per 1/1000 output px
        self.nd = int(min(max(math.ceil(-math.log10(step)), 0), 15)) if step > 0 else 6

    def __call__(self, v: float) -> str:
        s = f"{v:.{self.nd}f}"
        if "." in s:
            s = s.rstrip("0").rstrip(".")
        return "0" if s in ("-0", "") else s

    def pts(self, points: np.ndarray) -> str:
        return " ".join(f"{self(x)} {self(y)}" for x, y in points)


_COMMAND = {1: "L", 2: "Q", 3: "C"}


def _curve_path(pieces: list[np.ndarray], num: _Num) -> str:
    parts = [f"M {num.pts(pieces[0][:1])}"]
    for piece in pieces:
        parts.append(f"{_COMMAND[piece.shape[0] - 1]} {num.pts(piece[1:])}")
    return " ".join(parts)


def _piece_length(piece: np.ndarray) -> float:
    if piece.shape[0] == 2:
        return float(np.linalg.norm(piece[1] - piece[0]))
    pts = curve_points(piece, None, np.linspace(0.0, 1.0, 65))
    return float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())


def _strokes(item: Item, tol_src: float) -> list[tuple[str, object, float]]:
    """Drawable strokes of an item, in order: ``(kind, data, length)``; kind ``"polyline"``
    (data: ``(n, 2)`` points), ``"pieces"`` (data: list of degree <= 3 control-point arrays) or
    ``"dot"`` (data: one point, for single points and zero-length strokes); length in source units."""
    out: list[tuple[str, object, float]] = []
    if isinstance(item, Sketch):
        for s in item.strokes:
            length = float(np.linalg.norm(np.diff(s, axis=0), axis=1).sum()) if s.shape[0] > 1 else 0.0
            if length == 0.0:
                out.append(("dot", s[0], 0.0))
            else:
                out.append(("polyline", s, length))
        return out
    for i, cp in enumerate(item.curves):
        w = None if item.weights is None else item.weights[i]
        pieces = svg_pieces(cp, w, tol_src)
        length = sum(_piece_length(p) for p in pieces)
        if length <= 1e-12 * (1.0 + float(np.abs(cp).max())):  # collapsed to a point (up to rounding)
            out.append(("dot", cp[0], 0.0))
        else:
            out.append(("pieces", pieces, length))
    return out


def _keyframes(values: list[str], times: list[float]) -> tuple[str, str]:
    """``values``/``keyTimes`` strings, dropping repeated key times (SMIL needs 0 first, 1 last)."""
    vs, ts = [], []
    for v, t in zip(values, times):
        t = min(max(t, 0.0), 1.0)
        if t > 1.0 - 5e-6:
            t = 1.0
        if ts and t <= ts[-1] + 5e-6:
            vs[-1], ts[-1] = v, ts[-1]
            continue
        vs.append(v)
        ts.append(t)
    if ts[-1] < 1.0:
        vs.append(vs[-1])
        ts.append(1.0)
    return ";".join(vs), ";".join(_fmt_time(t) for t in ts)


def _fmt_time(t: float) -> str:
    if t in (0.0, 1.0):
        return str(int(t))
    return f"{t:.6f}".rstrip("0").rstrip(".")


_TIMINGS = ("auto", "recorded", "pen")


def _timeline(
    item: Item, strokes: list[tuple[str, object, float]], *, scale: float, size_px: float, timing: str
) -> tuple[list[list[tuple[float, float]]], float]:
    """Keyframes ``[(seconds, drawn length in source units), ...]`` per stroke, and the total time.

    ``"recorded"`` (and ``"auto"`` when the sketch has per-point ``times`` in ms that never go
    backwards) replays the pen as recorded: the drawn length follows the point times, linear in
    between; pauses between strokes are kept but capped at 1 s. ``"pen"`` draws at a constant
    speed of ``2 * size`` output pixels per second with a 0.12 s pause between strokes.
    """
    if timing not in _TIMINGS:
        raise ValueError(f"timing: expected one of {_TIMINGS}, got {timing!r}")
    times = item.times if isinstance(item, Sketch) else None
    usable = times is not None and all(np.all(np.diff(t) >= 0) for t in times) and all(
        b[0] >= a[-1] for a, b in zip(times, times[1:])
    )
    if timing == "recorded" and not usable:
        raise ValueError("timing='recorded' needs a Sketch with per-point times that never go backwards")
    frames: list[list[tuple[float, float]]] = []
    if timing != "pen" and usable:
        clock, prev_end = 0.0, None
        for (kind, data, length), t_ms in zip(strokes, times):  # type: ignore[arg-type]
            t = t_ms / 1000.0
            if prev_end is not None:
                clock += min(t[0] - prev_end, 1.0)
            rel = clock + (t - t[0])
            if kind == "polyline":
                pts = data  # type: ignore[assignment]
                drawn = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
            else:
                drawn = np.zeros(len(t))
            span = max(rel[-1] - rel[0], _MIN_STROKE_S if kind != "dot" else 0.0)
            rel_end = rel[0] + span
            stroke_frames = list(zip(rel.tolist(), drawn.tolist()))
            stroke_frames[-1] = (rel_end, length)
            frames.append(stroke_frames)
            clock, prev_end = rel_end, t[-1]
        return frames, max(clock, _MIN_STROKE_S)
    speed = _PEN_SPEED_PER_SIZE * size_px  # output px / s
    clock = 0.0
    for k, (_, _, length) in enumerate(strokes):
        duration = max(length * scale / speed, _MIN_STROKE_S)
        frames.append([(clock, 0.0), (clock + duration, length)])
        clock += duration + (_PAUSE_S if k + 1 < len(strokes) else 0.0)
    return frames, clock


def _draw_item(
    dwg: svgwrite.Drawing,
    parent,
    item: Item,
    *,
    scale: float,
    stroke_width: float,
    color: str,
    stroke_colors: object,
    tolerance: float,
    animate: bool,
    animation_seconds: float | None,
    size_px: float,
    timing: str = "auto",
    loop: bool = False,
) -> None:
    """Append the strokes of ``item`` (source units) to ``parent``; ``scale`` = output px per unit."""
    num = _Num(scale)
    strokes = _strokes(item, tolerance / scale)
    colours = stroke_palette(stroke_colors, len(strokes))
    is_cloud = isinstance(item, Sketch) and item.is_point_cloud
    dot_r = (stroke_width if is_cloud else stroke_width / 2.0) / scale

    timeline: list[list[tuple[float, float]]] = []
    total = 0.0
    if animate and not is_cloud and strokes:
        timeline, total = _timeline(item, strokes, scale=scale, size_px=size_px, timing=timing)
        if animation_seconds is not None:
            if not animation_seconds > 0:
                raise ValueError(f"animation_seconds: expected > 0, got {animation_seconds}")
            factor = animation_seconds / total
            timeline = [[(t * factor, drawn) for t, drawn in frames] for frames in timeline]
            total = float(animation_seconds)
        if loop:
            total += _LOOP_HOLD_S  # keyframes end earlier; the finished drawing holds, then restarts

    for k, (kind, data, length) in enumerate(strokes):
        paint = colours[k] if colours else None
        if kind == "dot":
            p = data  # type: ignore[assignment]
            el = dwg.circle(center=(num(p[0]), num(p[1])), r=num(dot_r), stroke="none", fill=paint or color)
        else:
            if kind == "polyline":
                pts = data  # type: ignore[assignment]
                d = f"M {num.pts(pts[:1])} L {num.pts(pts[1:])}"
            else:
                d = _curve_path(data, num)  # type: ignore[arg-type]
            el = dwg.path(d=d)
            if paint:
                el["stroke"] = paint
        if timeline:
            frames = timeline[k]
            if kind == "dot":
                t0 = frames[0][0]
                values, key_times = _keyframes(["0", "0", "1"], [0.0, t0 / total, (t0 + 0.01) / total])
                attr = "opacity"
            else:
                dash = length * 1.02 + 0.5 / scale  # a bit more than the path, so it hides fully
                el["stroke-dasharray"] = f"{num(dash)} {num(dash)}"
                el["stroke-dashoffset"] = "0"  # static renderers show the finished drawing
                # Offset dash - drawn shows exactly the first `drawn` units of the path.
                vals = [num(dash)] + [num(max(dash - drawn, 0.0)) for _, drawn in frames]
                values, key_times = _keyframes(vals, [0.0] + [t / total for t, _ in frames])
                attr = "stroke-dashoffset"
            el.add(
                svgwrite.animate.Animate(
                    attributeName=attr,
                    values=values,
                    keyTimes=key_times,
                    dur=f"{total:.3f}s",
                    begin="0s",
                    fill="freeze",
                    calcMode="linear",
                    debug=False,
                    **({"repeatCount": "indefinite"} if loop else {}),
                )
            )
        parent.add(el)


def _group(dwg: svgwrite.Drawing, *, stroke_width_src: float, color: str, transform: str | None = None):
    attrs = dict(
        fill="none",
        stroke=color,
        stroke_width=f"{stroke_width_src:.6g}",
        stroke_linecap="round",
        stroke_linejoin="round",
    )
    if transform:
        attrs["transform"] = transform
    return dwg.g(**attrs)


def _finish(dwg: svgwrite.Drawing, path: str | PathLike | None) -> str:
    text = _XML_DECL + dwg.tostring() + "\n"
    if path is not None:
        write_atomic(path, text)
    return text


def to_svg(
    item: Sketch | BezierSketch,
    path: str | PathLike | None = None,
    *,
    size: int | tuple[int, int] = 256,
    stroke_width: float = 2.0,
    color: str = "black",
    stroke_colors: object = None,
    margin: float = 0.05,
    animate: bool = False,
    background: str | None = None,
    tolerance: float = 0.1,
    animation_seconds: float | None = None,
    timing: str = "auto",
    loop: bool = False,
) -> str:
    """Render one sketch as SVG text; write it atomically to ``path`` when given.

    The ``viewBox`` (source units) is the content's tight bounding box, centred in a canvas of
    ``size`` pixels with ``margin * size + stroke_width / 2`` pixels free on each side. A single
    point is centred at scale 1; a horizontal or vertical line is scaled by its length.

    Args:
        item: a ``Sketch`` (polylines; point clouds draw as dots) or a ``BezierSketch``.
        path: optional output file (``.svg``), written atomically.
        size: canvas size in pixels, an int (square) or ``(height, width)``.
        stroke_width: line width in output pixels.
        color: CSS colour of every stroke (unless ``stroke_colors``).
        stroke_colors: ``True``/``"palette"`` for a qualitative colour per stroke (:data:`PALETTE`),
            or a list of CSS colours cycled over strokes.
        margin: free border as a fraction of the canvas size, in ``[0, 0.5)``.
        animate: add SMIL ``<animate>`` elements drawing the strokes one after another in their
            order (``stroke-dashoffset`` from the path length to 0, frozen at the end). Static
            renderers (cairosvg, Inkscape) still show the finished drawing. Point clouds have no
            order and are not animated.
        background: CSS fill of a full-canvas rectangle, or ``None`` for transparent.
        tolerance: maximum deviation in output pixels when a curve of degree > 3 or a rational
            curve is approximated by cubic pieces (degree <= 3 curves are exact).
        animation_seconds: total animation time in seconds; default: as recorded, or the pen
            speed below. All keyframes are scaled to fit.
        timing: ``"auto"`` replays the recorded pen timing when the sketch has per-point
            ``times`` (Quick, Draw! raw data, in ms; pauses between strokes capped at 1 s), else
            draws at a constant pen speed; ``"recorded"`` requires times; ``"pen"`` always uses
            a constant speed of twice the canvas size per second with 0.12 s between strokes.
        loop: repeat the animation forever, holding the finished drawing for 1.5 s each time.

    Returns:
        The SVG document as text (UTF-8 XML declaration included).

    Raises:
        TypeError: ``item`` is not a sketch.
        ValueError: bad size, margin, stroke width, tolerance or colours.
    """
    check_item(item)
    width, height = size_wh(size)
    _check_style(stroke_width, tolerance)
    bounds = content_bounds(item)
    scale, offset = fit_transform(bounds, width, height, margin=margin, pad=stroke_width / 2.0)
    dwg = svgwrite.Drawing(size=(f"{width}px", f"{height}px"), profile="full", debug=False)
    num = _Num(scale)
    vb_x, vb_y = -offset / scale
    dwg["viewBox"] = f"{num(vb_x)} {num(vb_y)} {num(width / scale)} {num(height / scale)}"
    if item.label:
        dwg.set_desc(title=str(item.label))  # <title>: shown as a tooltip, read by screen readers
    if background is not None:
        dwg.add(
            dwg.rect(
                insert=(num(vb_x), num(vb_y)),
                size=(num(width / scale), num(height / scale)),
                fill=background,
                stroke="none",
            )
        )
    group = _group(dwg, stroke_width_src=stroke_width / scale, color=color)
    _draw_item(
        dwg,
        group,
        item,
        scale=scale,
        stroke_width=stroke_width,
        color=color,
        stroke_colors=stroke_colors,
        tolerance=tolerance,
        animate=animate,
        animation_seconds=animation_seconds,
        size_px=min(width, height),
        timing=timing,
        loop=loop,
    )
    dwg.add(group)
    return _finish(dwg, path)


def grid_svg(
    items: Sequence[Sketch | BezierSketch],
    path: str | PathLike | None = None,
    *,
    columns: int | None = None,
    cell: int = 128,
    stroke_width: float = 2.0,
    color: str = "black",
    stroke_colors: object = None,
    margin: float = 0.08,
    animate: bool = False,
    background: str | None = None,
    tolerance: float = 0.1,
    labels: bool = False,
    gap: int = 0,
    timing: str = "auto",
    loop: bool = False,
) -> str:
    """Render many sketches in a grid of square cells as one SVG; write atomically to ``path``.

    Item ``i`` is drawn in row ``i // columns``, column ``i % columns``, each fitted to its own
    cell (as in :func:`to_svg`) inside ``<g class="cell" transform="matrix(s 0 0 s tx ty)">``
    (source units inside). The canvas is ``columns * cell + (columns - 1) * gap`` pixels wide
    and ``rows`` cells high.

    Args:
        items: sketches (``Sketch`` or ``BezierSketch``), at least one.
        path: optional output file, written atomically.
        columns: cells per row; default ``ceil(sqrt(len(items)))``.
        cell: cell size in pixels.
        stroke_width, color, stroke_colors, background, tolerance, animate, timing, loop: as in
            :func:`to_svg` (pixels are output pixels of a cell); every cell animates at once.
        margin: free border inside each cell, a fraction of ``cell``.
        labels: write each item's ``label`` (if any) at the bottom of its cell.
        gap: pixels between cells.

    Returns:
        The SVG document as text.

    Raises:
        ValueError: no items, or bad columns/cell/gap; TypeError: an item is not a sketch.
    """
    items = list(items)
    if not items:
        raise ValueError("grid_svg: expected at least one item, got none")
    for i, it in enumerate(items):
        check_item(it, what=f"items[{i}]")
    n = len(items)
    if columns is None:
        columns = max(1, math.ceil(math.sqrt(n)))
    if int(columns) != columns or columns < 1:
        raise ValueError(f"columns: expected a positive integer, got {columns!r}")
    columns = int(min(columns, n))
    cell_w, _ = size_wh(cell, what="cell")
    if int(gap) != gap or gap < 0:
        raise ValueError(f"gap: expected an integer >= 0, got {gap!r}")
    _check_style(stroke_width, tolerance)
    rows = math.ceil(n / columns)
    width = columns * cell_w + (columns - 1) * gap
    height = rows * cell_w + (rows - 1) * gap
    dwg = svgwrite.Drawing(size=(f"{width}px", f"{height}px"), profile="full", debug=False)
    dwg["viewBox"] = f"0 0 {width} {height}"
    if background is not None:
        dwg.add(dwg.rect(insert=(0, 0), size=(width, height), fill=background, stroke="none"))
    label_px = max(8.0, cell_w * 0.09)
    for i, it in enumerate(items):
        r, c = divmod(i, columns)
        x0, y0 = c * (cell_w + gap), r * (cell_w + gap)
        bounds = content_bounds(it)
        bottom = label_px * 1.2 if labels and it.label else 0.0
        scale, offset = fit_transform(bounds, cell_w, cell_w - bottom, margin=margin, pad=stroke_width / 2.0)
        # Also keep the label band free: fit in (cell, cell - bottom), then shift by the cell origin.
        tx, ty = x0 + offset[0], y0 + offset[1]
        transform = f"matrix({scale:.10g} 0 0 {scale:.10g} {_fixed(tx)} {_fixed(ty)})"
        group = _group(dwg, stroke_width_src=stroke_width / scale, color=color, transform=transform)
        group["class"] = "cell"
        group["id"] = f"cell-{i}"
        _draw_item(
            dwg,
            group,
            it,
            scale=scale,
            stroke_width=stroke_width,
            color=color,
            stroke_colors=stroke_colors,
            tolerance=tolerance,
            animate=animate,
            animation_seconds=None,
            size_px=cell_w,
            timing=timing,
            loop=loop,
        )
        dwg.add(group)
        if bottom:
            dwg.add(
                dwg.text(
                    str(it.label),
                    insert=(x0 + cell_w / 2.0, y0 + cell_w - label_px * 0.35),
                    text_anchor="middle",
                    font_size=f"{label_px:.1f}px",
                    font_family="sans-serif",
                    fill="#555555",
                )
            )
    return _finish(dwg, path)


def _fixed(v: float) -> str:
    s = f"{v:.4f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _check_style(stroke_width: float, tolerance: float) -> None:
    if not (stroke_width > 0 and math.isfinite(stroke_width)):
        raise ValueError(f"stroke_width: expected a positive number of pixels, got {stroke_width}")
    if not (tolerance > 0 and math.isfinite(tolerance)):
        raise ValueError(f"tolerance: expected a positive number of pixels, got {tolerance}")
