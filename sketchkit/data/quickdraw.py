"""Quick, Draw! adapters: raw / simplified ndjson and the binary ``.bin`` format.

ndjson (one JSON object per line; both Google layouts are read by the same reader):

* raw: ``drawing = [[[x0, x1, ...], [y0, y1, ...], [t0, t1, ...]], ...]`` (floats; ``t`` in ms
  since the first point) -> ``Sketch.times``;
* simplified: ``drawing = [[[x...], [y...]], ...]``, integers in 0..255.

Other keys (``word``, ``countrycode``, ``timestamp``, ``recognized``, ``key_id``) become
``label`` (= ``word``) and ``meta``. Files are read line by line, so a 1 GB file is never
held in memory. Strokes with zero points are dropped.

Binary ``.bin`` (Google's documented packing, little-endian, one record after another)::

    key_id      uint64
    countrycode 2 bytes (ASCII)
    recognized  uint8
    timestamp   uint32 (unix seconds)
    n_strokes   uint16
    n_strokes times:
        n_points uint16
        x        n_points x uint8
        y        n_points x uint8

The binary format carries no category; the label is the file name's stem (``cat.bin`` ->
``"cat"``) unless ``label=`` is given.

SPG (Sketch Perceptual Grouping; Li et al., ECCV 2018) ndjson: Quick, Draw! drawings with a
semantic part label per point and no ``word`` key::

    {"i": 0, "key_id": "...", "drawing": [[[x...], [y...], [part...]], ...]}

``x``/``y`` are in Quick, Draw!'s 0..255 frame; the third row is a part label (a small integer),
not a time; a few strokes have a fourth row (a second label row). The category is the file name's
stem (``alarm_clock.ndjson`` -> ``"alarm_clock"``). Part labels are kept per point in
``meta["parts"]`` (one ``(n_i,)`` int array per stroke; ``meta["parts2"]`` for a fourth row).
"""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from sketchkit.data._common import (ReadContext, iter_lines, numeric_array, parse_json_line,
                                    strokes_from_quickdraw_drawing)
from sketchkit.data.registry import Format, register_format
from sketchkit.sketch import Sketch

__all__ = ["read_ndjson", "read_spg", "spg_record_to_sketch", "read_bin", "encode_bin_record", "write_bin", "record_to_sketch"]

_META_KEYS = ("key_id", "countrycode", "timestamp", "recognized")
_HEADER = struct.Struct("<Q2sBIH")  # key_id, countrycode, recognized, timestamp, n_strokes
_U16 = struct.Struct("<H")


def record_to_sketch(record: Any, *, source: str | None = None, index: int | None = None) -> Sketch:
    """One Quick, Draw! record (a dict with ``drawing``) -> :class:`Sketch`.

    Args:
        record: dict with ``drawing`` (see module docstring) and optional ``word``,
            ``key_id``, ``countrycode``, ``timestamp``, ``recognized``.
        source: file name stored in ``meta["source"]``.
        index: record index stored in ``meta["index"]``.

    Raises:
        ValueError: naming the problem when the record is malformed.
    """
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    if "drawing" not in record:
        raise ValueError("missing key 'drawing'")
    strokes, times = strokes_from_quickdraw_drawing(record["drawing"])
    meta: dict[str, Any] = {k: record[k] for k in _META_KEYS if k in record}
    if source is not None:
        meta["source"] = source
    if index is not None:
        meta["index"] = index
    label = record.get("word")
    if label is not None and not isinstance(label, str):
        label = str(label)
    return Sketch(strokes, times=times, label=label, meta=meta)


def _wanted(label: str | None, categories: set[str] | None) -> bool:
    return categories is None or label in categories


def _category_set(categories: Iterable[str] | str | None) -> set[str] | None:
    if categories is None:
        return None
    if isinstance(categories, str):
        return {categories}
    return set(categories)


def read_ndjson(
    path: str | Path,
    ctx: ReadContext | None = None,
    *,
    categories: Sequence[str] | str | None = None,
    recognized: bool | None = None,
    max_line_bytes: int | None = None,
    **_: Any,
) -> Iterator[Sketch]:
    """Stream a Quick, Draw! raw or simplified ndjson file, one Sketch per line.

    Args:
        path: ``.ndjson`` file.
        ctx: error policy (default: raise on the first malformed line).
        categories: keep only drawings whose ``word`` is one of these.
        recognized: keep only drawings with this ``recognized`` flag (``None``: all).
        max_line_bytes: longest line accepted (default ``SKETCHKIT_MAX_LINE_BYTES`` or 16 MiB);
            a longer line is a malformed record, never read whole.

    Yields:
        Sketch with ``label = word``, ``times`` for raw data, ``meta`` holding ``key_id``,
        ``countrycode``, ``timestamp``, ``recognized``, ``source`` and ``line`` (1-based).

    Raises:
        DataFormatError: ``"<file>: line N: <problem>"`` for a malformed line (``on_error="raise"``).
    """
    ctx = ctx or ReadContext(path)
    cats = _category_set(categories)
    name = str(path)
    for lineno, record in _json_lines(path, ctx, max_line_bytes):
        if isinstance(record, dict) and cats is not None and record.get("word") not in cats:
            continue
        if isinstance(record, dict) and recognized is not None and record.get("recognized") != recognized:
            continue
        try:
            sketch = record_to_sketch(record, source=name)
        except (ValueError, RecursionError) as exc:
            ctx.bad(f"line {lineno}", str(exc))
            continue
        sketch.meta["line"] = lineno
        yield sketch


def _json_lines(path: str | Path, ctx: ReadContext, max_line_bytes: int | None) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed JSON)`` of every non-blank line; bad lines go to ``ctx``."""
    with open(path, "rb") as f:
        for lineno, raw in iter_lines(f, ctx, max_line_bytes):
            if not raw.strip():
                continue
            try:
                yield lineno, parse_json_line(raw)
            except ValueError as exc:
                ctx.bad(f"line {lineno}", str(exc))


def spg_record_to_sketch(record: Any, *, label: str | None = None) -> Sketch:
    """One SPG record (``{"i", "key_id", "drawing"}``) -> :class:`Sketch` with per-point part labels.

    Args:
        record: dict whose ``drawing`` is a list of strokes ``[[x...], [y...], [part...]]``
            (optionally a fourth row of second part labels).
        label: the category (the file name's stem).

    Returns:
        Sketch with ``(n_i, 2)`` strokes, no times, ``meta["parts"]`` (list of ``(n_i,)`` int64)
        and, when any stroke has a fourth row, ``meta["parts2"]`` (``-1`` where a stroke has none).

    Raises:
        ValueError: naming the stroke and the problem.
    """
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    drawing = record.get("drawing")
    if not isinstance(drawing, list):
        raise ValueError("missing or invalid key 'drawing' (expected a list of strokes)")
    strokes, parts, parts2 = [], [], []
    for i, stroke in enumerate(drawing):
        if not isinstance(stroke, list) or len(stroke) not in (3, 4):
            raise ValueError(f"stroke {i}: expected [[x...], [y...], [part...]] (3 or 4 rows)")
        rows = [numeric_array(r, what=f"stroke {i} row {j}") for j, r in enumerate(stroke)]
        n = rows[0].shape[0]
        if any(r.shape[0] != n for r in rows):
            raise ValueError(f"stroke {i}: rows have different lengths {[r.shape[0] for r in rows]}")
        if n == 0:
            continue
        strokes.append(np.stack(rows[:2], axis=1))
        parts.append(rows[2].astype(np.int64))
        parts2.append(rows[3].astype(np.int64) if len(rows) == 4 else np.full(n, -1, dtype=np.int64))
    meta: dict[str, Any] = {"parts": parts}
    if any(len(s) == 4 for s in drawing if isinstance(s, list)):
        meta["parts2"] = parts2
    for k in ("key_id", "i"):
        if k in record:
            meta[k] = record[k]
    return Sketch(strokes, label=label, meta=meta)


def read_spg(
    path: str | Path,
    ctx: ReadContext | None = None,
    *,
    categories: Sequence[str] | str | None = None,
    max_line_bytes: int | None = None,
    **_: Any,
) -> Iterator[Sketch]:
    """Stream an SPG ndjson file (see the module docstring), one Sketch per line.

    Args:
        path: ``<category>.ndjson``; the category (``label``) is the file name's stem.
        ctx: error policy (default: raise on the first malformed line).
        categories: read the file only if its category is one of these.
        max_line_bytes: longest line accepted (see :func:`read_ndjson`).

    Yields:
        Sketch with ``label`` = category, ``meta["parts"]`` per-point part labels, ``meta["line"]``.

    Raises:
        DataFormatError: ``"<file>: line N: <problem>"`` for a malformed line (``on_error="raise"``).
    """
    ctx = ctx or ReadContext(path)
    label = Path(path).name.split(".")[0]
    cats = _category_set(categories)
    if cats is not None and label not in cats:
        return
    name = str(path)
    for lineno, record in _json_lines(path, ctx, max_line_bytes):
        try:
            sketch = spg_record_to_sketch(record, label=label)
        except (ValueError, RecursionError) as exc:
            ctx.bad(f"line {lineno}", str(exc))
            continue
        sketch.meta["source"] = name
        sketch.meta["line"] = lineno
        yield sketch


def read_bin(
    path: str | Path,
    ctx: ReadContext | None = None,
    *,
    label: str | None = None,
    recognized: bool | None = None,
    **_: Any,
) -> Iterator[Sketch]:
    """Stream a Quick, Draw! binary ``.bin`` file (layout in the module docstring).

    Args:
        path: ``.bin`` file.
        ctx: error policy. A truncated record cannot be resynchronised, so in ``"skip"`` mode
            it is counted and reading stops there.
        label: label for every drawing (default: the file name's stem).
        recognized: keep only drawings with this flag (``None``: all).

    Yields:
        Sketch (integer coordinates 0..255 as float64) with ``meta`` ``key_id``,
        ``countrycode``, ``recognized``, ``timestamp``, ``source``, ``index`` (0-based record).

    Raises:
        DataFormatError: ``"<file>: record N (byte B): truncated ..."``.
    """
    ctx = ctx or ReadContext(path)
    label = label if label is not None else Path(path).name.split(".")[0]
    name = str(path)
    with open(path, "rb") as f:
        index = 0
        while True:
            offset = f.tell()
            head = f.read(_HEADER.size)
            if not head:
                return
            where = f"record {index} (byte {offset})"
            if len(head) < _HEADER.size:
                ctx.bad(where, f"truncated header ({len(head)} of {_HEADER.size} bytes)")
                return
            key_id, cc, rec, ts, n_strokes = _HEADER.unpack(head)
            strokes = []
            for s in range(n_strokes):
                nb = f.read(2)
                if len(nb) < 2:
                    ctx.bad(where, f"truncated at stroke {s} of {n_strokes}")
                    return
                (n,) = _U16.unpack(nb)
                body = f.read(2 * n)
                if len(body) < 2 * n:
                    ctx.bad(where, f"truncated at stroke {s} of {n_strokes} ({len(body)} of {2 * n} bytes)")
                    return
                if n == 0:
                    continue
                xy = np.frombuffer(body, dtype=np.uint8).reshape(2, n).T.astype(np.float64)
                strokes.append(xy)
            if rec > 1:
                ctx.bad(where, f"recognized flag is {rec}, expected 0 or 1 (corrupt record)")
                return  # the stream position can no longer be trusted
            index += 1
            if recognized is not None and bool(rec) != recognized:
                continue
            meta = {
                "key_id": str(key_id),
                "countrycode": cc.decode("latin-1").rstrip("\x00"),
                "recognized": bool(rec),
                "timestamp": int(ts),
                "source": name,
                "index": index - 1,
            }
            yield Sketch(strokes, label=label, meta=meta)


def encode_bin_record(sketch: Sketch, *, key_id: int | None = None, countrycode: str | None = None,
                      recognized: bool | None = None, timestamp: int | None = None) -> bytes:
    """One drawing in the Quick, Draw! binary layout.

    Coordinates are rounded to integers and must lie in 0..255 (the simplified frame); each
    stroke holds at most 65535 points. Missing fields come from ``sketch.meta`` (or 0 / "").

    Raises:
        ValueError: coordinates outside 0..255 or too many strokes/points.
    """
    meta = sketch.meta
    key = int(key_id if key_id is not None else meta.get("key_id", 0) or 0)
    cc = (countrycode if countrycode is not None else str(meta.get("countrycode", "") or ""))
    cc_b = cc.encode("latin-1", "replace")[:2].ljust(2, b"\x00")
    rec = bool(recognized if recognized is not None else meta.get("recognized", False))
    ts_raw = timestamp if timestamp is not None else meta.get("timestamp", 0)
    ts = int(ts_raw) if isinstance(ts_raw, (int, float, np.integer)) else 0
    if sketch.num_strokes > 65535:
        raise ValueError(f"a .bin record holds at most 65535 strokes, got {sketch.num_strokes}")
    out = io.BytesIO()
    out.write(_HEADER.pack(key, cc_b, int(rec), ts & 0xFFFFFFFF, sketch.num_strokes))
    for i, s in enumerate(sketch.strokes):
        r = np.rint(s)
        if r.min() < 0 or r.max() > 255:
            raise ValueError(f"stroke {i}: .bin coordinates must lie in 0..255 (got {r.min():g}..{r.max():g}); normalise first")
        if s.shape[0] > 65535:
            raise ValueError(f"stroke {i}: a .bin stroke holds at most 65535 points")
        out.write(_U16.pack(s.shape[0]))
        out.write(r[:, 0].astype(np.uint8).tobytes())
        out.write(r[:, 1].astype(np.uint8).tobytes())
    return out.getvalue()


def write_bin(sketches: Iterable[Sketch], path: str | Path) -> int:
    """Write drawings to a Quick, Draw! ``.bin`` file atomically; returns the count written."""
    from sketchkit._io import write_atomic as atomic_write_bytes

    buf = io.BytesIO()
    n = 0
    for sk in sketches:
        try:
            buf.write(encode_bin_record(sk))
        except ValueError as exc:
            raise ValueError(f"{path}: sketch {n}: {exc}") from None
        n += 1
    atomic_write_bytes(path, buf.getvalue())
    return n


def _sniff_ndjson(path: Path, head: bytes) -> bool:
    text = head.lstrip()
    return text.startswith(b"{") and (b'"drawing"' in head or path.suffix.lower() in (".ndjson", ".jsonl"))


_SPG_START = re.compile(rb'^\s*\{\s*"i"\s*:\s*\d+\s*,\s*"key_id"')


def _sniff_spg(path: Path, head: bytes) -> bool:
    # SPG lines start with the index key "i" and carry no "word"; Google's files start with "word".
    return bool(_SPG_START.match(head)) and b'"word"' not in head


def _sniff_bin(path: Path, head: bytes) -> bool:
    if path.suffix.lower() != ".bin" or len(head) < _HEADER.size:
        return False
    return head[10] in (0, 1)  # the recognized byte (after key_id and countrycode)


register_format(Format(  # registered first: its sniff is stricter than plain ndjson's
    name="quickdraw-spg",
    description="SPG ndjson: Quick, Draw! drawings with per-point part labels; category = file name",
    extensions=(".ndjson",),
    reader=read_spg,
    sniff=_sniff_spg,
    options=("categories", "max_line_bytes"),
))

register_format(Format(
    name="quickdraw-ndjson",
    description="Quick, Draw! raw (x, y, t) or simplified (x, y) ndjson, one drawing per line",
    extensions=(".ndjson", ".jsonl"),
    reader=read_ndjson,
    sniff=_sniff_ndjson,
    options=("categories", "recognized", "max_line_bytes"),
))

register_format(Format(
    name="quickdraw-bin",
    description="Quick, Draw! binary .bin (simplified drawings, uint8 coordinates)",
    extensions=(".bin",),
    reader=read_bin,
    sniff=_sniff_bin,
    options=("label", "recognized"),
))
