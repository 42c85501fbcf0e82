"""SVG -> PNG through cairosvg (white background by default)."""

from __future__ import annotations

from os import PathLike

from sketchkit.render._common import check_item, size_wh
from sketchkit._io import write_atomic
from sketchkit.render.svg import to_svg
from sketchkit.sketch import BezierSketch, Sketch

__all__ = ["to_png"]


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
        TypeError: neither a sketch nor SVG text. ValueError: bad size or options, or SVG text
            that cairosvg cannot parse.
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
        check_item(item_or_svg_text)
        if "animate" in svg_options and svg_options["animate"]:
            raise ValueError("to_png: animate=True has no meaning for a PNG")
        svg_options.pop("animate", None)
        data = to_svg(item_or_svg_text, size=256 if size is None else size, **svg_options).encode("utf-8")
    try:
        png = cairosvg.svg2png(bytestring=data, output_width=output_width, background_color=background)
    except Exception as exc:  # cairosvg raises assorted XML / parse errors
        raise ValueError(f"to_png: could not render the SVG ({type(exc).__name__}: {exc})") from exc
    if path is not None:
        write_atomic(path, png)
    return png
