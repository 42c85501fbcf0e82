"""``sketchkit vectorize``: raster line drawings (a file or a folder) -> open centreline Bézier strokes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import typer

from sketchkit.errors import InputError

FORMATS = ("svg", "json", "npz", "ndjson")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pbm", ".pgm", ".ppm")


def _write(sketch, path: Path, fmt: str, svg: dict[str, Any], durable: bool = True) -> None:
    """Write ``sketch`` atomically; ``durable=False`` (folder mode) skips the fsync (see ``write_atomic``)."""
    from sketchkit._io import write_atomic
    from sketchkit.vectorize import to_json, to_ndjson, to_npz_bytes, to_svg

    if fmt == "svg":
        data = to_svg(sketch, **svg)
    elif fmt == "json":
        data = to_json(sketch)
    elif fmt == "npz":
        data = to_npz_bytes(sketch)
    else:
        data = to_ndjson(sketch, word=path.stem)
    write_atomic(path, data, durable=durable)


def _cores() -> int:
    """CPU cores this process may run on (its affinity set where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _vectorize_one(job: tuple[Path, Path, str, dict[str, Any], dict[str, Any]]) -> tuple[str, Optional[str], list[str]]:
    """Folder mode, one file: vectorise and write. Never raises (one bad file or output must not
    stop the others): returns ``(input name, error line or None, warning lines)``."""
    import warnings

    from sketchkit.vectorize import BlankImageWarning
    from sketchkit.vectorize import vectorize as run

    src, dst, ext, options, svg = job
    notes: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", BlankImageWarning)
            sketch = run(src, **options)
        notes = [_one_line(w.message) for w in caught]
        _write(sketch, dst, ext, svg, durable=False)  # many outputs, each made again from its input
    except InputError as exc:  # DataFormatError included: the message names the file
        return src.name, _one_line(exc), notes
    except OSError as exc:  # the output cannot be written (a folder in the way, no permission, disk full)
        return src.name, _one_line(f"{dst}: cannot write the output ({exc.strerror or exc})"), notes
    except MemoryError:
        return src.name, f"{src}: out of memory", notes
    except Exception as exc:  # a bug on one odd file: report it and go on with the others
        return src.name, _one_line(f"{src}: unexpected {type(exc).__name__}: {exc}"), notes
    return src.name, None, notes


def _single_thread_blas() -> None:
    """Use one BLAS thread in this process and the workers it forks.

    The fit makes many small matrix products (the stroke model's layers); OpenBLAS's thread pool
    spins on them, which made folder mode 2.5x slower beside one other busy process, and N
    workers would each start N threads. Same as ``OPENBLAS_NUM_THREADS=1``, which numpy reads
    only when it loads (before any command runs). An explicit ``OPENBLAS_NUM_THREADS`` or
    ``OMP_NUM_THREADS`` is left alone; a no-op where ``/proc/self/maps`` does not exist.
    """
    import ctypes

    if os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS"):
        return
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            libs = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line})
    except OSError:
        return
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("openblas_set_num_threads", "openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "scipy_openblas_set_num_threads64_"):
            setter = getattr(lib, name, None)
            if setter is not None:
                setter(1)


def _keep_freed_memory() -> None:
    """Let glibc's malloc reuse freed memory instead of returning it to the OS at once.

    Each image allocates and frees many arrays of its size (a 256 px image: 0.5 MB in float64),
    above glibc's mmap threshold, so every one was a fresh mmap whose pages the kernel zeroes on
    first touch: ~1.7 ms of system time per image in folder mode, 12 % of the run. With the
    threshold at 32 MB and freed memory kept up to 128 MB, they come from the heap again (the
    same as ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``). Workers inherit it when
    they fork. A no-op without glibc or where the variables are set.
    """
    import ctypes
    import ctypes.util

    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's <malloc.h>
    mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, 128 << 20)


# folder mode switches the compiled kernels on from this many files: loading them costs ~0.4 s,
# repaid after ~40 images at ~10 ms saved per image (a first run on a machine also compiles them)
COMPILED_FROM_FILES = 32


def _warm_up(options: dict[str, Any], files: int, console: Any = None) -> None:
    """Import the heavy modules, load the model and (for ``files >= COMPILED_FROM_FILES``) the
    compiled kernels once, before worker processes fork; ``console``: show a spinner meanwhile."""
    import contextlib

    import sketchkit.geometry.morphology  # noqa: F401
    import sketchkit.geometry.skeleton  # noqa: F401
    from sketchkit.geometry import compiled
    from sketchkit.vectorize.stroke_model import _resolve_model

    _resolve_model(options.get("model"))
    if files >= COMPILED_FROM_FILES:
        status = (console.status("loading the compiled loops (numba; a first run on this machine compiles them, ~10 s)")
                  if console is not None else contextlib.nullcontext())
        with status:
            compiled.enable()


def _vectorize_chunk(chunk: list[tuple]) -> list[tuple[str, Optional[str], list[str]]]:
    """:func:`_vectorize_one` on each job of ``chunk`` (one round trip to a worker for several files)."""
    return [_vectorize_one(job) for job in chunk]


def _outcomes(future: Any, chunk: list[tuple]) -> list[tuple[str, Optional[str], list[str]]]:
    """A worker's results; a worker that died (killed, out of memory) fails its files, not the run."""
    try:
        return future.result()
    except Exception as exc:  # BrokenProcessPool and the like
        return [(job[0].name, _one_line(f"{job[0]}: the worker process failed ({type(exc).__name__}: {exc})"), [])
                for job in chunk]


def _chunks(work: list, jobs: int) -> list[list]:
    """Consecutive chunks of up to 8 jobs, small enough that each worker gets ~16 of them (so
    the last chunks still spread over the workers and the progress bar moves)."""
    size = max(1, min(8, len(work) // (16 * jobs)))
    return [work[i:i + size] for i in range(0, len(work), size)]


def _run_folder(files: list[Path], out_dir: Path, ext: str, options: dict[str, Any], svg: dict[str, Any],
                jobs: int, quiet: bool) -> None:
    import multiprocessing
    import time
    from concurrent.futures import ProcessPoolExecutor

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    work = [(f, out_dir / (f.stem + "." + ext), ext, options, svg) for f in files]
    jobs = max(1, min(jobs, len(files)))
    start = time.perf_counter()
    pool = None
    _warm_up(options, len(files), None if quiet else console)
    _single_thread_blas()
    _keep_freed_memory()
    results: Any = ([_vectorize_one(job)] for job in work)
    if jobs > 1:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
        pool = ProcessPoolExecutor(jobs, mp_context=ctx)
        # submitting forks the workers now, before the progress bar starts its thread
        chunks = _chunks(work, jobs)
        futures = [pool.submit(_vectorize_chunk, chunk) for chunk in chunks]
        results = (_outcomes(f, chunk) for f, chunk in zip(futures, chunks))
    progress = None
    if not quiet:
        progress = Progress(TextColumn("vectorize"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True)
        task = progress.add_task("vectorize", total=len(files))
        progress.start()
    failed: list[str] = []
    try:
        for chunk_results in results:
            for name, error, notes in chunk_results:
                for note in notes:
                    console.print(f"warning: {note}", markup=False)
                if error is not None:
                    failed.append(name)
                    console.print(f"error: {error}", markup=False)
            if progress is not None:
                progress.advance(task, len(chunk_results))
    finally:
        if progress is not None:
            progress.stop()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
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

    from sketchkit.vectorize import BlankImageWarning, validate_options
    from sketchkit.vectorize import vectorize as run

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
        files = sorted(p for p in input.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"{input}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        out_dir = output if output is not None else input.with_name(input.name + "_vectorized")
        if out_dir.exists() and not out_dir.is_dir():
            raise InputError(f"{out_dir}: exists and is not a folder (folder input needs an output folder)")
        validate_options(**{k: v for k, v in options.items() if k != "model"})  # once, not per file
        _run_folder(files, out_dir, fmt or "svg", options, svg, jobs or _cores(), quiet)
        return

    if output is None:
        ext = fmt or "svg"
        output = input.with_suffix("." + ext)
    else:
        ext = fmt or (output.suffix.lower().lstrip(".") if output.suffix.lower().lstrip(".") in FORMATS else "svg")
    _single_thread_blas()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BlankImageWarning)
        sketch = run(input, **options)
    for w in caught:
        typer.echo(f"warning: {w.message}", err=True)
    try:
        _write(sketch, output, ext, svg)
    except OSError as exc:
        raise InputError(f"{output}: cannot write the output ({exc.strerror or exc})") from None


def register(app: typer.Typer) -> None:
    """Add the ``vectorize`` command to the app."""
    app.command("vectorize")(vectorize)
