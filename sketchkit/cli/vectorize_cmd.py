"""``sketchkit vectorize``: raster line drawings (a file or a folder) -> open centreline Bézier strokes."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Optional

import typer

from sketchkit.errors import InputError

def _run_folder(files: list[Path], out_dir: Path, ext: str, options: dict[str, Any], svg: dict[str, Any],
                jobs: int | None, quiet: bool) -> None:
    """Folder mode: :func:`sketchkit.vectorize.folder.vectorize_files` with a progress bar, each
    failure and warning on one line, and a summary line; exit 1 when any file failed."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from sketchkit.vectorize.folder import cores, vectorize_files

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    jobs = max(1, min(jobs or cores(), len(files)))
    start = time.perf_counter()
    # the generator loads the model and the compiled loops, then forks its workers, on first use:
    # before the progress bar starts its thread
    results = vectorize_files(files, out_dir, fmt=ext, options=options, svg=svg, jobs=jobs,
                              loading=None if quiet else console.status)
    first = next(results, [])
    progress = None
    if not quiet:
        progress = Progress(TextColumn("vectorize"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True)
        task = progress.add_task("vectorize", total=len(files))
        progress.start()
    failed: list[str] = []
    try:
        for outcomes in itertools.chain([first], results):
            for outcome in outcomes:
                for note in outcome.warnings:
                    console.print(f"warning: {note}", markup=False)
                if outcome.error is not None:
                    failed.append(outcome.name)
                    console.print(f"error: {outcome.error}", markup=False)
            if progress is not None:
                progress.advance(task, len(outcomes))
    finally:
        if progress is not None:
            progress.stop()
        results.close()  # a Ctrl-C: cancel what has not started, wait for the workers
    seconds = time.perf_counter() - start
    n, ok = len(files), len(files) - len(failed)
    line = (f"vectorised {ok}/{n} images into {out_dir} in {seconds:.1f} s, {1000.0 * seconds / n:.0f} ms per image "
            f"with {jobs} worker{'s' if jobs > 1 else ''} ({ok} ok, {len(failed)} failed")
    if failed:
        shown = ", ".join(failed[:20]) + (f", ... ({len(failed) - 20} more)" if len(failed) > 20 else "")
        line += f": {shown}"
    console.print(line + ")", markup=False)
    if failed:
        raise SystemExit(1)  # app.main() passes SystemExit codes through


def vectorize(
    input: Path = typer.Argument(..., help="An image (PNG/JPEG/BMP/...) or a folder of images.", show_default=False),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output file (single image) or folder (folder input). Default: next to the input.", show_default=False),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="svg | json | npz | ndjson (default: from the output suffix, else svg)."),
    max_strokes: Optional[int] = typer.Option(None, "--max-strokes", help="Keep at most this many strokes (the longest)."),
    max_degree: int = typer.Option(3, "--max-degree", help="Highest Bézier degree per curve (1..7; 3 keeps SVG exact)."),
    stroke_width: str = typer.Option("auto", "--stroke-width", help="'auto' (estimated) or the line width in px."),
    solid: bool = typer.Option(False, "--solid", help="SVG: draw every path solid (by default a faint stroke keeps its ink's darkness as stroke-opacity)."),
    refine: int = typer.Option(4, "--refine", help="Least-squares refinement steps per curve (0: the better of the model proposal and the chord-length fit, unrefined)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Ink threshold in [0, 1) (default: half the contrast between paper and full ink)."),
    tolerance: Optional[float] = typer.Option(None, "--tolerance", help="Allowed RMS curve deviation in px (largest: 6x that; default max(0.25, 0.08 * width))."),
    model: Optional[str] = typer.Option(None, "--model", help="Cloud2Curve stroke model that also proposes curves: 'cloud2curve' (the shipped one) or a model directory (default: none, least squares alone)."),
    max_pixels: int = typer.Option(64_000_000, "--max-pixels", help="Refuse images with more pixels than this."),
    max_ink_fraction: float = typer.Option(0.45, "--max-ink-fraction", help="Line-drawing check: refuse images with more ink than this fraction of the pixels."),
    max_junction_density: float = typer.Option(0.3, "--max-junction-density", help="Line-drawing check: refuse when more than this fraction of the centreline pixels are junctions (texture, noise)."),
    max_width_fraction: float = typer.Option(0.25, "--max-width-fraction", help="Line-drawing check: refuse when the mean stroke width is over this fraction of the image side (filled shapes)."),
    max_components: int = typer.Option(2000, "--max-components", help="Line-drawing check: refuse images with more separate ink regions."),
    max_skeleton_pixels: int = typer.Option(60_000, "--max-skeleton-pixels", help="Work bound: refuse images with a longer centreline (px)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Folder mode: worker processes (default: all cores)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Folder mode: no progress bar."),
) -> None:
    """Vectorise INPUT into clean, editable centreline strokes (SVG, or json/npz/ndjson).

    Images that do not look like line drawings (noise, photos, filled areas) are refused with
    one line (exit 2; in folder mode they are listed as failures and the others still written).
    """
    import warnings

    from sketchkit.vectorize import BlankImageWarning
    from sketchkit.vectorize import vectorize as run
    from sketchkit.vectorize.folder import single_thread_blas

    from sketchkit.vectorize.folder import FORMATS, image_files, write_sketch

    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if jobs is not None and jobs < 1:
        raise InputError(f"--jobs: expected at least 1 worker, got {jobs}")
    width: float | str = "auto"
    if stroke_width != "auto":
        try:
            width = float(stroke_width)
        except ValueError:
            raise InputError(f"--stroke-width: expected 'auto' or a number of px, got {stroke_width!r}") from None
    model_arg = False if (model or "").lower() == "none" else model
    options = dict(max_strokes=max_strokes, max_degree=max_degree, threshold=threshold, refine=refine,
                   stroke_width=width, model=model_arg, tolerance=tolerance, max_pixels=max_pixels,
                   max_ink_fraction=max_ink_fraction, max_junction_density=max_junction_density,
                   max_width_fraction=max_width_fraction, max_components=max_components,
                   max_skeleton_pixels=max_skeleton_pixels)
    svg = {"stroke_width": None if width == "auto" else float(width), "opacity": not solid}

    if not input.exists():
        raise InputError(f"{input}: no such file or folder")
    if input.is_dir():
        files = image_files(input)
        out_dir = output if output is not None else input.with_name(input.name + "_vectorized")
        if out_dir.exists() and not out_dir.is_dir():
            raise InputError(f"{out_dir}: exists and is not a folder (folder input needs an output folder)")
        _run_folder(files, out_dir, fmt or "svg", options, svg, jobs, quiet)
        return

    if output is None:
        ext = fmt or "svg"
        output = input.with_suffix("." + ext)
    else:
        ext = fmt or (output.suffix.lower().lstrip(".") if output.suffix.lower().lstrip(".") in FORMATS else "svg")
    single_thread_blas()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BlankImageWarning)
        sketch = run(input, **options)
    for w in caught:
        typer.echo(f"warning: {w.message}", err=True)
    try:
        write_sketch(sketch, output, ext, svg)
    except OSError as exc:
        raise InputError(f"{output}: cannot write the output ({exc.strerror or exc})") from None


def register(app: typer.Typer) -> None:
    """Add the ``vectorize`` command to the app."""
    app.command("vectorize")(vectorize)
