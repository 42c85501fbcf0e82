"""SVG -> PNG through cairosvg (white background by default).

Bounds (checked before cairo runs, as a ``ValueError`` naming the problem): each side of the
image at most :data:`MAX_SIDE` pixels (cairo's own limit) and at most :data:`MAX_PIXELS` pixels in
all (1 GiB of RGBA); sketch coordinates finite, within ±:data:`MAX_COORD`, with a finite extent.
"""

from __future__ import annotations

import re
from os import PathLike

import numpy as np

from sketchkit.render._common import check_item, size_wh
from sketchkit._io import write_atomic
from sketchkit.render.svg import to_svg
from sketchkit.sketch import BezierSketch, Sketch

__all__ = ["to_png", "check_drawable", "MAX_SIDE", "MAX_PIXELS", "MAX_COORD"]

#: Largest side of a PNG in pixels (cairo cannot make a larger surface).
MAX_SIDE = 32767
#: Largest PNG in pixels (16384 x 16384: 1 GiB as RGBA).
MAX_PIXELS = 16384 * 16384
#: Largest absolute coordinate drawn; beyond it cairo's matrices degenerate (and no real drawing is that big).
MAX_COORD = 1e38

_WH = re.compile(rb'<svg\b[^>]*?\b(width|height)="([0-9.eE+-]+)(?:px)?"[^>]*?\b(width|height)="([0-9.eE+-]+)(?:px)?"')


def check_drawable(item: Sketch | BezierSketch, *, what: str = "sketch") -> None:
    """Raise ``ValueError`` unless ``item``'s coordinates can be drawn: within ±:data:`MAX_COORD`
    and with a finite extent (``Sketch`` already guarantees finite values)."""
    if not isinstance(item, (Sketch, BezierSketch)):
        raise TypeError(f"{what}: expected a Sketch or BezierSketch, got {type(item).__name__}")
    arrays = item.strokes if isinstance(item, Sketch) else item.curves
    if arrays:
        pts = np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1, 2) for a in arrays], axis=0)
        big = float(np.max(np.abs(pts))) if pts.size else 0.0
        if np.isfinite(big) and big > MAX_COORD:
            raise ValueError(f"{what}: coordinates up to {big:.3g} are too large to draw "
                             f"(at most {MAX_COORD:.0e}); normalise it first")
    check_item(item, what=what)  # non-finite values, an overflowing extent


def _check_pixels(data: bytes, output_width: int | None) -> None:
    m = _WH.search(data[:4096])
    if m is None:
        return  # let cairosvg decide (no explicit size)
    dims = {m.group(1): float(m.group(2)), m.group(3): float(m.group(4))}
    w, h = dims.get(b"width", 0.0), dims.get(b"height", 0.0)
    if output_width is not None and w > 0:
        w, h = float(output_width), h * output_width / w
    if not (w <= MAX_SIDE and h <= MAX_SIDE and w * h <= MAX_PIXELS):
        raise ValueError(f"to_png: a {w:.0f}x{h:.0f} pixel image is too large (each side at most {MAX_SIDE}, "
                         f"at most {MAX_PIXELS} pixels in all)")


def to_png(
    item_or_svg_text: Sketch | BezierSketch | str | bytes,
    path: str | PathLike | None = None,
    *,
    size: int | tuple[int, int] | None = None,
    background: str | None = "white",
    **svg_options: object,
) -> bytes:
    """Render a sketch (or SVG text) to PNG bytes with cairosvg; write atomically to ``path``.

    Args:
        item_or_svg_text: a ``Sketch``/``BezierSketch`` (drawn with :func:`to_svg`), or SVG
            text/bytes such as the output of :func:`to_svg` or :func:`grid_svg`.
        path: optional output file (``.png``), written atomically.
        size: for a sketch, the canvas in pixels (int or ``(height, width)``, default 256); for
            SVG text, the output width in pixels (height keeps the aspect ratio; default: the
            SVG's own size).
        background: CSS colour painted behind the drawing, ``None`` for transparent.
        **svg_options: passed to :func:`to_svg` for sketches (``stroke_width``, ``color``,
            ``stroke_colors``, ``margin``, ``tolerance``).

    Returns:
        The PNG file's bytes (RGBA, 8 bits per channel).

    Raises:
        TypeError: neither a sketch nor SVG text. ValueError: bad size or options, an image over
            the pixel limits, coordinates too large to draw, or SVG text that cairosvg cannot parse.
    """
    import cairosvg  # imported here: loading cairo costs ~50 ms, not needed for SVG output

    output_width = None
    if isinstance(item_or_svg_text, (str, bytes)):
        if svg_options:
            raise ValueError(f"to_png: options {sorted(svg_options)} only apply to sketches, not SVG text")
        data = item_or_svg_text.encode("utf-8") if isinstance(item_or_svg_text, str) else item_or_svg_text
        if size is not None:
            output_width, _ = size_wh(size)
    else:
        check_drawable(item_or_svg_text)
        if "animate" in svg_options and svg_options["animate"]:
            raise ValueError("to_png: animate=True has no meaning for a PNG")
        svg_options.pop("animate", None)
        data = to_svg(item_or_svg_text, size=256 if size is None else size, **svg_options).encode("utf-8")
    _check_pixels(data, output_width)
    try:
        png = cairosvg.svg2png(bytestring=data, output_width=output_width, background_color=background)
    except Exception as exc:  # cairosvg raises assorted XML / parse errors
        raise ValueError(f"to_png: could not render the SVG ({type(exc).__name__}: {exc})") from exc
    if path is not None:
        write_atomic(path, png)
    return png
