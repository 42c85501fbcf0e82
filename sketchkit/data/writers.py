"""Writers behind ``sketchkit convert``: Quick, Draw! ndjson, sketch-rnn npz, ``.bin``, SVG files.

Every writer is atomic: it writes a temp file beside the output and renames it into place, so
an interrupted conversion never leaves a half-written file. ndjson is written as it streams
(the input is never held whole); npz needs all strokes in memory (it is one archive).

* ndjson: one record per sketch, Quick, Draw! keys; ``drawing`` is ``[[x...], [y...]]``, plus
  ``[t...]`` when the sketch has times (raw layout). ``word`` is the label (``""`` if none);
  ``key_id``, ``countrycode``, ``timestamp``, ``recognized`` are copied from ``meta`` when
  present. Integral coordinates are written as integers, others as shortest-repr floats.
* npz: sketch-rnn layout, keys ``train``/``valid``/``test`` (from ``meta["split"]``, default
  ``train``; empty splits are written as empty arrays), each an object array of ``(n, 3)``
  stroke-3 arrays (``int16`` when every value is an integer in range, else ``float32``).
  A sketch whose offsets do not fit float32 (or overflow) is refused, naming it: the file would
  hold ``inf`` and could not be read back.
  Labels are not stored (the file name is the category).
* svg: one file per sketch via :func:`sketchkit.render.to_svg`, named ``{index:05d}_{label}.svg``.
"""

from __future__ import annotations

import io
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from sketchkit._io import atomic_open
from sketchkit._io import write_atomic as atomic_write_bytes
from sketchkit.sketch import Sketch

__all__ = ["write_ndjson", "write_npz", "write_svgs", "sketch_to_record", "OUTPUT_KINDS", "write"]

_META_KEYS = ("key_id", "countrycode", "timestamp", "recognized")


def _numbers(a: np.ndarray) -> list[int | float]:
    if np.all(a == np.round(a)) and np.all(np.abs(a) < 2**53):
        return [int(v) for v in a]
    return [float(v) for v in a]


def sketch_to_record(sketch: Sketch) -> dict[str, Any]:
    """A Sketch as a Quick, Draw! ndjson record (dict)."""
    rec: dict[str, Any] = {"word": sketch.label if sketch.label is not None else ""}
    for k in _META_KEYS:
        if k in sketch.meta:
            rec[k] = sketch.meta[k]
    drawing = []
    for i, s in enumerate(sketch.strokes):
        stroke = [_numbers(s[:, 0]), _numbers(s[:, 1])]
        if sketch.times is not None:
            stroke.append(_numbers(sketch.times[i]))
        drawing.append(stroke)
    rec["drawing"] = drawing
    return rec


def write_ndjson(sketches: Iterable[Sketch], path: str | os.PathLike) -> int:
    """Write sketches as Quick, Draw! ndjson (streaming, atomic). Returns the count written."""
    n = 0
    with atomic_open(path, "w") as f:
        for sk in sketches:
            f.write(json.dumps(sketch_to_record(sk), separators=(",", ":")))
            f.write("\n")
            n += 1
    return n


_F32_MAX = float(np.finfo(np.float32).max)


def _stroke3_array(sketch: Sketch) -> np.ndarray:
    """The sketch as stroke-3 in the smallest type that holds it exactly enough: int16, else float32.

    Raises:
        ValueError: offsets that float32 cannot hold (or that overflow float64), which would be
            written as ``inf`` and make the file unreadable.
    """
    from sketchkit.convert import sketch_to_stroke3

    with np.errstate(over="ignore", invalid="ignore"):
        s3 = sketch_to_stroke3(sketch)
    if not np.all(np.isfinite(s3)):
        raise ValueError("offsets between points overflow (coordinates too large for stroke-3)")
    if np.all(s3 == np.round(s3)) and np.all(np.abs(s3) <= 32767):
        return s3.astype(np.int16)
    big = float(np.max(np.abs(s3[:, :2]))) if s3.shape[0] else 0.0
    if big > _F32_MAX:
        raise ValueError(f"an offset of {big:.3g} does not fit the npz's float32 (max {_F32_MAX:.3g}); "
                         "normalise the sketches first")
    return s3.astype(np.float32)


def _check_extent(sketch: Sketch) -> None:
    """Refuse coordinates whose extent overflows (a renderer would divide by inf)."""
    if sketch.num_points:
        x0, y0, x1, y1 = sketch.bounds()
        with np.errstate(over="ignore"):
            span = np.array([x1 - x0, y1 - y0])
        if not np.all(np.isfinite(span)):
            raise ValueError("coordinates too far apart to draw (their extent overflows)")


def write_npz(sketches: Iterable[Sketch], path: str | os.PathLike) -> int:
    """Write sketches as a sketch-rnn stroke-3 npz (``train``/``valid``/``test``). Returns the count."""
    splits: dict[str, list[np.ndarray]] = {"train": [], "valid": [], "test": []}
    labels = set()
    n = 0
    for sk in sketches:
        split = sk.meta.get("split", "train")
        try:
            arr = _stroke3_array(sk)
        except ValueError as exc:
            raise ValueError(f"{path}: sketch {n}: {exc}") from None
        splits[split if split in splits else "train"].append(arr)
        labels.add(sk.label)
        n += 1
    if len(labels) > 1:
        shown = ", ".join(sorted(map(str, labels))[:5])
        warnings.warn(f"{path}: sketch-rnn npz stores no labels; {len(labels)} labels ({shown}...) are lost",
                      UserWarning, stacklevel=2)
    arrays = {}
    for key, items in splits.items():
        arr = np.empty(len(items), dtype=object)
        for i, a in enumerate(items):
            arr[i] = a
        arrays[key] = arr
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())
    return n


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:40]


def write_svgs(sketches: Iterable[Sketch], folder: str | os.PathLike, *, size: int = 256,
               stroke_width: float = 2.0) -> int:
    """Write one SVG per sketch into ``folder`` (``{index:05d}_{label}.svg``). Returns the count."""
    from sketchkit.render import to_svg

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for i, sk in enumerate(sketches):
        name = f"{i:05d}" + (f"_{_safe_name(sk.label)}" if sk.label else "") + ".svg"
        try:
            _check_extent(sk)
        except ValueError as exc:
            raise ValueError(f"{folder / name}: sketch {i}: {exc}") from None
        to_svg(sk, folder / name, size=size, stroke_width=stroke_width)
        n += 1
    return n


def write_bin(sketches: Iterable[Sketch], path: str | os.PathLike) -> int:
    """Write sketches as Quick, Draw! ``.bin`` (coordinates must be 0..255). Returns the count."""
    from sketchkit.data.quickdraw import write_bin as _write_bin

    return _write_bin(sketches, path)


#: Output kinds of :func:`write` by file suffix ("" = a folder of SVGs).
OUTPUT_KINDS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".npz": "npz", ".bin": "bin", ".svg": "svg", "": "svg-folder"}


def write(sketches: Iterable[Sketch], out: str | os.PathLike, *, kind: str | None = None, **opts: Any) -> int:
    """Write sketches to ``out``; the kind comes from the suffix (see :data:`OUTPUT_KINDS`).

    A ``.svg`` output takes exactly one sketch; a path without suffix (or ``kind="svg-folder"``)
    is a folder of SVG files.

    Raises:
        ValueError: unknown kind, or several sketches for one ``.svg`` file.
    """
    out = Path(out)
    kind = kind or OUTPUT_KINDS.get(out.suffix.lower())
    if kind is None:
        raise ValueError(f"{out}: unknown output type {out.suffix!r} (use .ndjson, .npz, .bin, .svg or a folder)")
    if kind == "ndjson":
        return write_ndjson(sketches, out)
    if kind == "npz":
        return write_npz(sketches, out)
    if kind == "bin":
        return write_bin(sketches, out)
    if kind == "svg-folder":
        return write_svgs(sketches, out, **opts)
    if kind == "svg":
        items = []
        for sk in sketches:
            items.append(sk)
            if len(items) > 1:
                raise ValueError(f"{out}: an .svg file holds one sketch; give a folder to write one SVG per sketch")
        if not items:
            raise ValueError(f"{out}: no sketch to write")
        try:
            _check_extent(items[0])
        except ValueError as exc:
            raise ValueError(f"{out}: {exc}") from None
        from sketchkit.render import to_svg

        to_svg(items[0], out, **opts)
        return 1
    raise ValueError(f"unknown output kind {kind!r}")
