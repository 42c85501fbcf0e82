"""Vectorise many image files: worker processes on every core, the compiled loops, atomic outputs.

:func:`vectorize_files` is what ``sketchkit vectorize FOLDER`` runs. One file's failure (not an
image, not a line drawing, an output that cannot be written, a worker that died) is reported in
its :class:`FileOutcome` and never stops the others. Workers fork after the model and the
compiled loops (:mod:`sketchkit.geometry.compiled`, from :data:`COMPILED_FROM_FILES` files) are
loaded, with one BLAS thread each; files go to them in chunks; outputs are written through a
temp file and a rename, without an fsync each (they can be made again from their inputs).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sketchkit.errors import InputError

__all__ = ["FORMATS", "IMAGE_SUFFIXES", "COMPILED_FROM_FILES", "FileOutcome", "image_files", "write_sketch",
           "vectorize_files", "cores", "single_thread_blas"]

FORMATS = ("svg", "json", "npz", "ndjson")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pbm", ".pgm", ".ppm")


@dataclass(frozen=True)
class FileOutcome:
    """One input file's result: its ``name``, the one-line ``error`` (``None``: written) and
    the one-line warnings raised on the way (a blank image, ...)."""

    name: str
    error: str | None
    warnings: list[str] = field(default_factory=list)


def image_files(folder: Path) -> list[Path]:
    """The image files (:data:`IMAGE_SUFFIXES`) directly in ``folder``, sorted; ``InputError`` when none."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return files


def write_sketch(sketch, path: Path, fmt: str, svg: dict[str, Any] | None = None, durable: bool = True) -> None:
    """Write a vectorised ``sketch`` to ``path`` as ``fmt`` (one of :data:`FORMATS`), atomically;
    ``svg``: :func:`~sketchkit.vectorize.to_svg` options; ``durable=False`` skips the fsync
    (see :func:`~sketchkit._io.write_atomic`)."""
    from sketchkit._io import write_atomic
    from sketchkit.vectorize import to_json, to_ndjson, to_npz_bytes, to_svg

    if fmt == "svg":
        data = to_svg(sketch, **(svg or {}))
    elif fmt == "json":
        data = to_json(sketch)
    elif fmt == "npz":
        data = to_npz_bytes(sketch)
    else:
        data = to_ndjson(sketch, word=path.stem)
    write_atomic(path, data, durable=durable)


def cores() -> int:
    """CPU cores this process may run on (its affinity set where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _vectorize_one(job: tuple[Path, Path, str, dict[str, Any], dict[str, Any]]) -> FileOutcome:
    """Folder mode, one file: vectorise and write. Never raises (one bad file or output must not
    stop the others)."""
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
        write_sketch(sketch, dst, ext, svg, durable=False)  # many outputs, each made again from its input
    except InputError as exc:  # DataFormatError included: the message names the file
        return FileOutcome(src.name, _one_line(exc), notes)
    except OSError as exc:  # the output cannot be written (a folder in the way, no permission, disk full)
        return FileOutcome(src.name, _one_line(f"{dst}: cannot write the output ({exc.strerror or exc})"), notes)
    except MemoryError:
        return FileOutcome(src.name, f"{src}: out of memory", notes)
    except Exception as exc:  # a bug on one odd file: report it and go on with the others
        return FileOutcome(src.name, _one_line(f"{src}: unexpected {type(exc).__name__}: {exc}"), notes)
    return FileOutcome(src.name, None, notes)


def single_thread_blas() -> None:
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


# folder mode switches the compiled kernels on from this many files: loading them costs 0.5-0.7 s,
# repaid after ~40-60 images at ~15 ms saved per image (a first run on a machine also compiles them)
COMPILED_FROM_FILES = 32


def _warm_up(options: dict[str, Any], files: int, loading: Callable[[str], Any] | None = None) -> None:
    """Import the heavy modules, load the model and (for ``files >= COMPILED_FROM_FILES``) the
    compiled kernels once, before worker processes fork; ``loading(message)``: a context shown meanwhile."""
    import contextlib

    import sketchkit.geometry.morphology  # noqa: F401
    import sketchkit.geometry.skeleton  # noqa: F401
    from sketchkit.geometry import compiled
    from sketchkit.vectorize.stroke_model import _resolve_model

    _resolve_model(options.get("model"))
    if files >= COMPILED_FROM_FILES:
        message = "loading the compiled loops (numba; a first run on this machine compiles them, ~10 s)"
        status = loading(message) if loading is not None else contextlib.nullcontext()
        with status:
            compiled.enable()


def _vectorize_chunk(chunk: list[tuple]) -> list[FileOutcome]:
    """:func:`_vectorize_one` on each job of ``chunk`` (one round trip to a worker for several files)."""
    return [_vectorize_one(job) for job in chunk]


def _outcomes(future: Any, chunk: list[tuple]) -> list[FileOutcome]:
    """A worker's results; a worker that died (killed, out of memory) fails its files, not the run."""
    try:
        return future.result()
    except Exception as exc:  # BrokenProcessPool and the like
        why = f"the worker process failed ({type(exc).__name__}: {exc})"
        return [FileOutcome(job[0].name, _one_line(f"{job[0]}: {why}"), []) for job in chunk]


def _chunks(work: list, jobs: int) -> list[list]:
    """Consecutive chunks of up to 8 jobs, small enough that each worker gets ~16 of them (so
    the last chunks still spread over the workers and the progress bar moves)."""
    size = max(1, min(8, len(work) // (16 * jobs)))
    return [work[i:i + size] for i in range(0, len(work), size)]


def vectorize_files(files: Sequence[Path], out_dir: Path, *, fmt: str = "svg", options: dict[str, Any] | None = None,
                    svg: dict[str, Any] | None = None, jobs: int | None = None,
                    loading: Callable[[str], Any] | None = None) -> Iterator[list[FileOutcome]]:
    """Vectorise ``files`` into ``out_dir`` (``<stem>.<fmt>`` each), in parallel.

    Args:
        files: image paths.
        out_dir: output folder (created as needed).
        fmt: one of :data:`FORMATS`.
        options: :func:`~sketchkit.vectorize.vectorize` keyword options (checked once here).
        svg: :func:`~sketchkit.vectorize.to_svg` options.
        jobs: worker processes (default: every core this process may use; 1: in this process).
        loading: ``loading(message)`` returns a context manager held while the compiled loops
            load (a spinner).

    Returns:
        An iterator of lists of :class:`FileOutcome`, in the order of ``files`` (one list per
        chunk of files, as each finishes), so a caller can show progress. The options are
        checked at once (``InputError``); the work starts on the first ``next`` and ends when
        the iterator is exhausted or closed (closing cancels the files not yet started).

    For this process as a whole (the workers fork from it), the run leaves the compiled loops
    switched on from :data:`COMPILED_FROM_FILES` files
    (:func:`~sketchkit.vectorize.use_compiled_kernels`), one BLAS thread, and glibc's malloc
    keeping freed memory for reuse.
    """
    from sketchkit.vectorize.options import validate_options

    if fmt not in FORMATS:
        raise InputError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if jobs is not None and jobs < 1:
        raise InputError(f"jobs: expected at least 1 worker, got {jobs}")
    options = dict(options or {})
    validate_options(**{k: v for k, v in options.items() if k != "model"})  # once, not per file
    out_dir = Path(out_dir)
    work = [(Path(f), out_dir / (Path(f).stem + "." + fmt), fmt, options, svg) for f in files]
    return _run(work, max(1, min(jobs or cores(), len(work))), options, loading)


def _run(work: list[tuple], jobs: int, options: dict[str, Any],
         loading: Callable[[str], Any] | None) -> Iterator[list[FileOutcome]]:
    """The generator behind :func:`vectorize_files`: warm up, then each chunk's outcomes in order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    _warm_up(options, len(work), loading)
    single_thread_blas()
    _keep_freed_memory()
    if jobs == 1:
        for job in work:
            yield [_vectorize_one(job)]
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    pool = ProcessPoolExecutor(jobs, mp_context=ctx)
    try:
        chunks = _chunks(work, jobs)
        futures = [pool.submit(_vectorize_chunk, chunk) for chunk in chunks]
        for future, chunk in zip(futures, chunks):
            yield _outcomes(future, chunk)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
