"""Dataset adapters: every supported file -> an iterator of :class:`~sketchkit.sketch.Sketch`.

``read(path)`` sniffs the format (by extension and content) and streams Sketches; ``read_all``
collects several files into a list; ``info`` summarises a file; ``formats()`` lists the
registry. Supported (registry name: what it reads):

* ``quickdraw-ndjson``: Quick, Draw! raw (x, y, t -> ``Sketch.times``) and simplified ndjson;
* ``quickdraw-bin``: Quick, Draw! binary ``.bin``;
* ``sketchrnn-npz``: stroke-3 ``.npz`` with train/valid/test (Quick, Draw! sketchrnn, kanji, ...);
* ``kmnist-npz`` / ``mnist-idx``: raster digits as seeded point clouds (see
  :mod:`sketchkit.data.rasters`, which also has ``read_images``);
* ``vectormnist-npz`` / ``vectormnist-samples``: VectorMNIST (see :mod:`sketchkit.data.vectormnist`);
* ``svg``: paths / lines / polylines / polygons of an SVG drawing;
* ``image``: one PNG / JPEG / ... drawing as a point cloud (see :mod:`sketchkit.data.image_files`).

A folder is read file by file in sorted order (recursively), skipping files of no known format,
picture files (unless ``format="image"``), label companion files, hidden files and unfinished
downloads (``.part``/``.tmp``). Nothing here imports torch (the torch ``Dataset`` lives in
:mod:`sketchkit.data.torch_dataset`).

Bad records: ``on_error="raise"`` (default) stops with a one-line
:class:`~sketchkit.errors.DataFormatError` naming the file and the line / index;
``on_error="skip"`` skips them, counts them in ``reader.skipped`` and warns once per file
(:class:`SkippedRecordsWarning`) with the count and the first few locations.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from sketchkit.data._common import ReadContext, SketchReader, SkippedRecordsWarning, check_path, summarize
from sketchkit.data.registry import Format, formats, get_format, sniff
from sketchkit.errors import InputError
from sketchkit.sketch import Sketch

__all__ = ["read", "read_all", "info", "formats", "sniff", "Format", "SketchReader",
           "SkippedRecordsWarning"]

_LABEL_FILE_MARKERS = ("-labels.npz", "labels-idx1")
_COMMON_OPTIONS = ("categories",)


def _reader_opts(fmt: Format, opts: dict[str, Any], *, strict: bool, path: Path) -> dict[str, Any]:
    allowed = set(fmt.options)
    out = {}
    for k, v in opts.items():
        if k in allowed:
            out[k] = v
        elif k in _COMMON_OPTIONS:
            continue  # handled by read() for formats that have no such field
        elif strict:
            raise InputError(
                f"{path}: format {fmt.name} does not take option {k!r}"
                + (f" (options: {', '.join(fmt.options)})" if fmt.options else " (it takes no options)")
            )
    return out


def _all_options() -> set[str]:
    names = set(_COMMON_OPTIONS)
    for f in formats().values():
        names.update(f.options)
    return names


def _iter_folder(folder: Path) -> Iterator[tuple[Path, Format]]:
    for p in sorted(q for q in folder.rglob("*") if q.is_file()):
        if p.name.startswith(".") or p.suffix in (".part", ".tmp") \
                or any(m in p.name for m in _LABEL_FILE_MARKERS):
            continue
        try:
            fmt = sniff(p)
        except InputError:
            continue
        yield p, fmt


def _is_shard_folder(p: Path) -> bool:
    from sketchkit.data.shards import is_shard_folder

    return is_shard_folder(p)


def _file_stem(p: Path) -> str:
    return p.name.split(".")[0]


def read(
    path: str | os.PathLike,
    *,
    format: str | None = None,
    split: str | Sequence[str] | None = None,
    on_error: str = "raise",
    limit: int | None = None,
    **opts: Any,
) -> SketchReader:
    """Stream the sketches of a file (or of every supported file in a folder).

    Args:
        path: a data file or a folder.
        format: registry name (see :func:`formats`); ``None`` sniffs it.
        split: split selection where the format has splits (``"train"``/``"valid"``/``"test"``
            for sketch-rnn npz; ``"train"``/``"test"`` for raster files, checked against the
            file name). In a folder, files of another split are skipped.
        on_error: ``"raise"`` or ``"skip"`` (count, warn, go on) for malformed records.
        limit: stop after this many sketches.
        **opts: format options, e.g. ``categories=["cat"]`` (Quick, Draw! word / file stem),
            ``recognized=True``, ``n_points=256``, ``seed=0`` (rasters), ``trust_pickle=True``,
            ``tolerance=0.5`` (SVG). Unknown options raise :class:`InputError`. Size limits
            (``max_array_bytes``, ``max_line_bytes``, ``max_points``, ``max_element_points``;
            environment variables ``SKETCHKIT_MAX_*``) are described in :mod:`sketchkit.data.limits`.

    Returns:
        A :class:`SketchReader`: an iterator of :class:`Sketch` with ``.skipped`` and ``.format``.

    Raises:
        InputError: missing path, unknown format or option.
        DataFormatError: malformed content (one line naming file and line / index).
    """
    p = check_path(path)
    if on_error not in ("raise", "skip"):
        raise InputError(f"on_error: expected 'raise' or 'skip', got {on_error!r}")
    if limit is not None and limit < 0:
        raise InputError(f"limit must be >= 0, got {limit}")
    contexts: list[ReadContext] = []
    categories = opts.get("categories")
    cats = None if categories is None else ({categories} if isinstance(categories, str) else set(categories))

    if p.is_dir() and _is_shard_folder(p):  # `sketchkit data shard` output: read through its manifest
        from sketchkit.data.shards import iter_shard_folder

        if opts.get("categories") is not None or (format is not None and format != "sketchkit-shard"):
            raise InputError(f"{p}: is a shard folder; format= and categories= do not apply to it")
        wanted = None if split is None else ["val" if s in ("val", "valid") else s
                                             for s in ([split] if isinstance(split, str) else split)]
        ctx = ReadContext(p, on_error)
        return SketchReader(str(p), "sketchkit-shards", iter_shard_folder(p, wanted), [ctx], limit)

    if p.is_dir():
        unknown = set(opts) - _all_options()
        if unknown:
            raise InputError(f"unknown option(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(_all_options()))})")
        forced = get_format(format) if format is not None else None

        def gen_folder() -> Iterator[Sketch]:
            from sketchkit.data.rasters import _split_of

            for f, fmt in _iter_folder(p):
                if forced is not None and fmt.name != forced.name:
                    continue
                if fmt.name == "image" and forced is None:
                    continue  # pictures beside the data (a README figure) are not sketches unless asked for
                if fmt.name == "vectormnist-samples" and f.suffix.lower() != ".json" \
                        and not opts.get("trust_pickle", False):
                    continue  # never unpickle inside a folder scan without trust_pickle
                if cats is not None and "categories" not in fmt.options and _file_stem(f) not in cats:
                    continue
                kw = _reader_opts(fmt, opts, strict=False, path=f)
                if split is not None:
                    wanted = [split] if isinstance(split, str) else list(split)
                    if "split" not in fmt.options:
                        continue
                    if fmt.name in ("kmnist-npz", "mnist-idx"):
                        if _split_of(f) not in (None, *wanted):
                            continue  # the file name says which split it holds
                    elif fmt.name == "sketchrnn-npz":
                        from sketchkit.data._npz import npz_keys

                        have = [s for s in wanted if s in npz_keys(f)]
                        if not have:
                            continue
                        kw["split"] = have
                    else:
                        kw["split"] = split
                ctx = ReadContext(f, on_error)
                contexts.append(ctx)
                yield from fmt.reader(f, ctx, **kw)

        return SketchReader(str(p), format or "folder", gen_folder(), contexts, limit)

    fmt = get_format(format) if format is not None else sniff(p)
    kw = _reader_opts(fmt, opts, strict=True, path=p)
    if split is not None:
        if "split" not in fmt.options:
            raise InputError(f"{p}: format {fmt.name} has no splits (split={split!r})")
        kw["split"] = split
    ctx = ReadContext(p, on_error)
    contexts.append(ctx)
    gen = fmt.reader(p, ctx, **kw)
    if cats is not None and "categories" not in fmt.options:
        gen = (s for s in gen if s.label in cats)
    return SketchReader(str(p), fmt.name, gen, contexts, limit)


def read_all(paths: str | os.PathLike | Iterable[str | os.PathLike], *, limit: int | None = None,
             **opts: Any) -> list[Sketch]:
    """Read one or several files / folders into a list.

    Args:
        paths: a path or an iterable of paths (read in the given order).
        limit: at most this many sketches in total.
        **opts: passed to :func:`read` (``format``, ``split``, ``on_error``, format options).

    Returns:
        list of :class:`Sketch`.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Sketch] = []
    for path in paths:
        remaining = None if limit is None else limit - len(out)
        if remaining is not None and remaining <= 0:
            break
        out.extend(read(path, limit=remaining, **opts))
    return out


def info(path: str | os.PathLike, **opts: Any) -> dict[str, Any]:
    """Summarise a data file: format, count, labels, stroke and point statistics.

    Reads the whole file (streaming). Raster files report image statistics instead of strokes.

    Args:
        path: a data file or folder.
        **opts: passed to :func:`read` (``format``, ``split``, ``on_error``, options).

    Returns:
        dict with ``path``, ``format``, ``count``, ``labels`` (label -> count), ``strokes`` and
        ``points`` (``min``/``mean``/``max``/``total`` per sketch), ``has_times``, ``bounds``
        (``[xmin, ymin, xmax, ymax]`` over all points), ``splits`` where the format has them,
        and ``skipped`` (number of malformed records skipped). A folder (without ``split``)
        gives ``format = "folder"``, the total ``count``, merged ``labels`` and ``files``: one
        ``{"path", "format", "count"}`` per file read.
    """
    p = check_path(path)
    if p.is_dir() and not opts.get("split") and not _is_shard_folder(p):
        return _folder_info(p, opts)
    if p.is_file():
        fmt = get_format(opts["format"]) if opts.get("format") else sniff(p)
        if fmt.info is not None and not opts.get("split"):
            out = {"path": str(p), "format": fmt.name}
            out.update(fmt.info(p, **{k: v for k, v in opts.items() if k != "format"}))
            return out
    reader = read(p, **opts)
    n = 0
    labels: Counter[str] = Counter()
    splits: Counter[str] = Counter()
    n_strokes: list[int] = []
    n_points: list[int] = []
    has_times = True
    lo = [float("inf"), float("inf")]
    hi = [float("-inf"), float("-inf")]
    for sk in reader:
        n += 1
        labels[str(sk.label)] += 1
        if "split" in sk.meta:
            splits[str(sk.meta["split"])] += 1
        n_strokes.append(sk.num_strokes)
        n_points.append(sk.num_points)
        has_times = has_times and sk.times is not None
        if sk.num_points:
            x0, y0, x1, y1 = sk.bounds()
            lo = [min(lo[0], x0), min(lo[1], y0)]
            hi = [max(hi[0], x1), max(hi[1], y1)]
    out: dict[str, Any] = {
        "path": str(p),
        "format": reader.format,
        "count": n,
        "labels": dict(sorted(labels.items())),
        "strokes": summarize(n_strokes),
        "points": summarize(n_points),
        "has_times": bool(has_times and n > 0),
        "bounds": [lo[0], lo[1], hi[0], hi[1]] if n_points and max(n_points) > 0 else None,
        "skipped": len(reader.skipped),
    }
    if splits:
        out["splits"] = dict(splits)
    return out


def _folder_info(folder: Path, opts: dict[str, Any]) -> dict[str, Any]:
    unknown = set(opts) - _all_options() - {"format", "on_error"}
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(sorted(unknown))}")
    forced = opts.get("format")
    files = []
    labels: Counter[str] = Counter()
    skipped = 0
    for f, fmt in _iter_folder(folder):
        if forced is not None and fmt.name != forced:
            continue
        if fmt.name == "vectormnist-samples" and f.suffix.lower() != ".json" and not opts.get("trust_pickle"):
            continue
        kw = _reader_opts(fmt, opts, strict=False, path=f)
        if "on_error" in opts:
            kw["on_error"] = opts["on_error"]
        one = info(f, format=fmt.name, **kw)
        files.append({"path": str(f), "format": fmt.name, "count": one["count"]})
        labels.update(one.get("labels") or {})
        skipped += int(one.get("skipped", 0))
    return {
        "path": str(folder),
        "format": "folder",
        "count": sum(f["count"] for f in files),
        "labels": dict(sorted(labels.items())),
        "files": files,
        "skipped": skipped,
    }
