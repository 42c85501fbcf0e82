"""``sketchkit vectorize``: raster line drawings (a file or a folder) -> open centreline Bézier strokes."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sketchkit.errors import InputError

FORMATS = ("svg", "json", "npz", "ndjson")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pbm", ".pgm", ".ppm")


def _write(sketch, path: Path, fmt: str, stroke_width: Optional[float]) -> None:
    from sketchkit._io import write_atomic
    from sketchkit.vectorize import to_json, to_ndjson, to_npz_bytes, to_svg

    if fmt == "svg":
        write_atomic(path, to_svg(sketch, stroke_width=stroke_width))
    elif fmt == "json":
        write_atomic(path, to_json(sketch))
    elif fmt == "npz":
        write_atomic(path, to_npz_bytes(sketch))
    else:
        write_atomic(path, to_ndjson(sketch, word=path.stem))


def vectorize(
    input: Path = typer.Argument(..., help="An image (PNG/JPEG/BMP/...) or a folder of images.", show_default=False),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output file (single image) or folder (folder input). Default: next to the input.", show_default=False),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="svg | json | npz | ndjson (default: from the output suffix, else svg)."),
    max_strokes: Optional[int] = typer.Option(None, "--max-strokes", help="Keep at most this many strokes (the longest)."),
    max_degree: int = typer.Option(3, "--max-degree", help="Highest Bézier degree per curve (1..7; 3 keeps SVG exact)."),
    stroke_width: str = typer.Option("auto", "--stroke-width", help="'auto' (estimated) or the line width in px."),
    refine: int = typer.Option(4, "--refine", help="Least-squares refinement steps per curve (0: the better of the model proposal and the chord-length fit, unrefined)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Ink threshold in [0, 1) (default: Otsu)."),
    tolerance: Optional[float] = typer.Option(None, "--tolerance", help="Allowed RMS curve deviation in px (largest: 6x that; default max(0.25, 0.08 * width))."),
    model: Optional[str] = typer.Option(None, "--model", help="Cloud2Curve model directory or name (default: the shipped one); 'none' for least squares only."),
    max_pixels: int = typer.Option(64_000_000, "--max-pixels", help="Refuse images with more pixels than this."),
) -> None:
    """Vectorise INPUT into clean, editable centreline strokes (SVG, or json/npz/ndjson)."""
    import warnings

    from sketchkit.errors import DataFormatError
    from sketchkit.vectorize import BlankImageWarning
    from sketchkit.vectorize import vectorize as run

    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    width: float | str = "auto"
    if stroke_width != "auto":
        try:
            width = float(stroke_width)
        except ValueError:
            raise InputError(f"--stroke-width: expected 'auto' or a number of px, got {stroke_width!r}") from None
    model_arg = False if (model or "").lower() == "none" else model
    options = dict(max_strokes=max_strokes, max_degree=max_degree, threshold=threshold, refine=refine,
                   stroke_width=width, model=model_arg, tolerance=tolerance, max_pixels=max_pixels)
    svg_width = None if width == "auto" else float(width)

    if not input.exists():
        raise InputError(f"{input}: no such file or folder")
    if input.is_dir():
        files = sorted(p for p in input.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"{input}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        out_dir = output if output is not None else input.with_name(input.name + "_vectorized")
        if out_dir.exists() and not out_dir.is_dir():
            raise InputError(f"{out_dir}: exists and is not a folder (folder input needs an output folder)")
        ext = fmt or "svg"
        failed = 0
        for f in files:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", BlankImageWarning)
                    sketch = run(f, **options)
                for w in caught:
                    typer.echo(f"warning: {w.message}", err=True)
                _write(sketch, out_dir / (f.stem + "." + ext), ext, svg_width)
            except (InputError, DataFormatError) as exc:
                failed += 1
                typer.echo(f"error: {exc}", err=True)
        typer.echo(f"vectorised {len(files) - failed}/{len(files)} images into {out_dir}" + (f" ({failed} failed)" if failed else ""), err=True)
        if failed:
            raise SystemExit(1)  # app.main() passes SystemExit codes through (typer.Exit is swallowed with standalone_mode=False)
        return

    if output is None:
        ext = fmt or "svg"
        output = input.with_suffix("." + ext)
    else:
        ext = fmt or (output.suffix.lower().lstrip(".") if output.suffix.lower().lstrip(".") in FORMATS else "svg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BlankImageWarning)
        sketch = run(input, **options)
    for w in caught:
        typer.echo(f"warning: {w.message}", err=True)
    _write(sketch, output, ext, svg_width)


def register(app: typer.Typer) -> None:
    """Add the ``vectorize`` command to the app."""
    app.command("vectorize")(vectorize)
