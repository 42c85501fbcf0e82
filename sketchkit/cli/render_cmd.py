"""``sketchkit render``: draw sketches from any supported file as SVG (optionally animated) or PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sketchkit.errors import InputError

_SUFFIXES = (".svg", ".png")
#: Largest --size (pixels per side of one drawing or grid cell).
MAX_SIZE = 16384


def render(
    input: Path = typer.Argument(..., help="Sketch file in any format sketchkit reads (ndjson, npz, svg, ...).", show_default=False),
    output: Path = typer.Option(..., "-o", "--output", help="Output file: .svg or .png.", show_default=False),
    index: Optional[int] = typer.Option(None, "--index", "-i", help="Render the sketch at this index (0-based). With --count: the first cell of the grid."),
    count: Optional[int] = typer.Option(None, "--count", "-n", help="Render this many sketches as a grid."),
    size: int = typer.Option(256, "--size", help=f"Canvas size in pixels, 1..{MAX_SIZE} (for a grid: the size of one cell)."),
    stroke_width: float = typer.Option(2.0, "--stroke-width", help="Line width in output pixels."),
    animate: bool = typer.Option(False, "--animate", help="SVG only: animate the strokes being drawn in order."),
    timing: str = typer.Option("auto", "--timing", help="--animate: auto (recorded pen times when the file has them), recorded, or pen (constant speed)."),
    loop: bool = typer.Option(False, "--loop", help="--animate: repeat forever (the finished drawing holds 1.5 s)."),
    colors: bool = typer.Option(False, "--colors", help="One colour per stroke (qualitative palette)."),
    columns: Optional[int] = typer.Option(None, "--columns", help="Grid columns (default: about the square root of --count)."),
    labels: bool = typer.Option(False, "--labels", help="Grid: write each sketch's label under it."),
    background: Optional[str] = typer.Option(None, "--background", help="Background colour (default: transparent SVG, white PNG)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Input format name (default: sniffed from the file)."),
    split: Optional[str] = typer.Option(None, "--split", help="Split of a multi-split file (e.g. train/valid/test of a sketch-rnn .npz)."),
) -> None:
    """Render sketches from INPUT to an SVG or PNG file (one sketch, or a grid with --count)."""
    suffix = output.suffix.lower()
    if suffix not in _SUFFIXES:
        raise InputError(f"{output}: output must end in .svg or .png, got {output.suffix or 'no suffix'!r}")
    if animate and suffix != ".svg":
        raise InputError(f"{output}: --animate needs an .svg output (a PNG cannot move)")
    if index is not None and index < 0:
        raise InputError(f"--index: expected an index >= 0, got {index}")
    if count is not None and count < 1:
        raise InputError(f"--count: expected at least 1, got {count}")
    if not 1 <= size <= MAX_SIZE:
        raise InputError(f"--size: expected 1..{MAX_SIZE} pixels, got {size}")
    if not stroke_width > 0:
        raise InputError(f"--stroke-width: expected a positive number of pixels, got {stroke_width}")
    if loop and not animate:
        raise InputError("--loop needs --animate")
    if timing not in ("auto", "recorded", "pen"):
        raise InputError(f"--timing: expected auto, recorded or pen, got {timing!r}")
    if columns is not None and columns < 1:
        raise InputError(f"--columns: expected at least 1, got {columns}")
    if not input.exists():
        raise InputError(f"{input}: no such file")

    from sketchkit.data import read
    from sketchkit.render import grid_svg, to_png, to_svg

    start = index or 0
    wanted = count or 1
    options = {}
    if fmt is not None:
        options["format"] = fmt
    if split is not None:
        options["split"] = split
    sketches = []
    n_read = 0
    for sketch in read(input, limit=start + wanted, **options):
        n_read += 1
        if n_read > start:
            sketches.append(sketch)
        if len(sketches) == wanted:
            break
    if not sketches:
        raise InputError(f"{input}: has {n_read} sketch(es); --index {start} is out of range")
    if count is not None and len(sketches) < wanted:
        typer.echo(f"note: {input} has only {start + len(sketches)} sketch(es); rendering {len(sketches)}", err=True)

    from sketchkit.render.png import check_drawable

    for i, sk in enumerate(sketches):
        try:
            check_drawable(sk, what=f"sketch {start + i}")
        except ValueError as exc:
            raise InputError(f"{input}: {exc}") from None
    color_opt = True if colors else None
    try:
        if count is None:
            svg = to_svg(
                sketches[0], size=size, stroke_width=stroke_width, stroke_colors=color_opt,
                animate=animate, background=background, timing=timing, loop=loop,
            )
        else:
            svg = grid_svg(
                sketches, columns=columns, cell=size, stroke_width=stroke_width,
                stroke_colors=color_opt, animate=animate, background=background, labels=labels,
                timing=timing, loop=loop,
            )
    except (ValueError, ArithmeticError) as exc:
        raise InputError(f"{input}: {exc}") from exc
    if suffix == ".svg":
        from sketchkit.render import write_atomic

        write_atomic(output, svg)
    else:
        try:
            to_png(svg, output, background=background or "white")
        except ValueError as exc:
            raise InputError(f"{output}: {exc}") from None
    typer.echo(f"wrote {output} ({len(sketches)} sketch{'es' if len(sketches) != 1 else ''})")


def register(app: typer.Typer) -> None:
    """Add the ``render`` command to the sketchkit app."""
    app.command("render")(render)
