"""Private helpers shared by the adapters: error policy, skip reports, atomic writes, stroke checks.

Nothing here imports torch.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

import numpy as np

from sketchkit.data.limits import hint, human_bytes, limit
from sketchkit.errors import DataFormatError, InputError
from sketchkit.sketch import Sketch

#: How many skipped locations a warning lists before "...".
MAX_LISTED = 5


class SkippedRecordsWarning(UserWarning):
    """Emitted once per file read with ``on_error="skip"`` when records were skipped."""


class ReadContext:
    """Error policy for one file: raise on the first bad record, or count and skip.

    Adapters call :meth:`bad` for a record-level problem (one malformed line / array / image);
    problems that make the whole file unreadable raise :class:`DataFormatError` directly.
    """

    def __init__(self, path: str | os.PathLike, on_error: str = "raise") -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error: expected 'raise' or 'skip', got {on_error!r}")
        self.path = str(path)
        self.on_error = on_error
        self.skipped: list[tuple[str, str]] = []  # (location, reason)

    def error(self, location: str | None, message: str) -> DataFormatError:
        """A one-line :class:`DataFormatError` naming the file and the location."""
        where = f"{self.path}: {location}: " if location else f"{self.path}: "
        return DataFormatError(where + " ".join(str(message).split()))

    def bad(self, location: str, message: str) -> None:
        """Record a bad record: raise in ``"raise"`` mode, remember it in ``"skip"`` mode."""
        if self.on_error == "raise":
            raise self.error(location, message)
        self.skipped.append((location, " ".join(str(message).split())))

    def warn_skipped(self) -> None:
        """Warn once with the number of skipped records and the first few locations."""
        if not self.skipped:
            return
        shown = ", ".join(loc for loc, _ in self.skipped[:MAX_LISTED])
        more = ", ..." if len(self.skipped) > MAX_LISTED else ""
        first_reason = self.skipped[0][1]
        warnings.warn(
            f"{self.path}: skipped {len(self.skipped)} malformed record(s) ({shown}{more}); "
            f"first: {first_reason}",
            SkippedRecordsWarning,
            stacklevel=4,  # warn_skipped <- _finish <- SketchReader.__next__ <- the caller's loop
        )


class SketchReader(Iterator[Sketch]):
    """The iterator :func:`sketchkit.data.read` returns: yields Sketches lazily.

    Attributes:
        path: the file (or folder) being read.
        format: the registry name of the format used.
        skipped: ``(location, reason)`` of every record skipped so far (``on_error="skip"``).
    """

    def __init__(self, path: str, fmt: str, gen: Iterator[Sketch], contexts: list[ReadContext],
                 limit: int | None) -> None:
        self.path = path
        self.format = fmt
        self._gen = gen
        self._contexts = contexts
        self._limit = limit
        self._count = 0
        self._done = False

    @property
    def skipped(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for ctx in self._contexts:
            if len(self._contexts) > 1:
                out.extend((f"{ctx.path}: {loc}", why) for loc, why in ctx.skipped)
            else:
                out.extend(ctx.skipped)
        return out

    def __iter__(self) -> "SketchReader":
        return self

    def __next__(self) -> Sketch:
        if self._done:
            raise StopIteration
        if self._limit is not None and self._count >= self._limit:
            self._finish()
            raise StopIteration
        try:
            item = next(self._gen)
        except StopIteration:
            self._finish()
            raise
        self._count += 1
        return item

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        close = getattr(self._gen, "close", None)
        if close is not None:
            close()
        for ctx in self._contexts:
            ctx.warn_skipped()

    def close(self) -> None:
        """Stop reading and release the file."""
        self._finish()

    def __repr__(self) -> str:
        return f"SketchReader(path={self.path!r}, format={self.format!r}, read={self._count})"


def check_path(path: str | os.PathLike) -> Path:
    """``Path(path)``; :class:`InputError` when it does not exist."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    return p


def iter_lines(f: IO[bytes], ctx: ReadContext, max_line_bytes: int | None = None) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` for each line of a binary file, 1-based, reading at most the limit.

    A line longer than ``max_line_bytes`` (default ``SKETCHKIT_MAX_LINE_BYTES`` or 16 MiB, see
    :mod:`sketchkit.data.limits`) is reported with ``ctx.bad("line N", ...)`` and skipped without
    ever being held in memory whole.
    """
    cap = limit("max_line_bytes", max_line_bytes)
    lineno = 0
    while True:
        line = f.readline(cap + 1)
        if not line:
            return
        lineno += 1
        if len(line) <= cap or line.endswith(b"\n"):
            yield lineno, line
            continue
        size = len(line)
        while not line.endswith(b"\n"):  # drain the rest of the line in bounded pieces
            line = f.readline(1 << 20)
            if not line:
                break
            size += len(line)
        ctx.bad(f"line {lineno}", f"line of {human_bytes(size)} is longer than the limit of "
                                  f"{human_bytes(cap)} ({hint('max_line_bytes')})")


def parse_json_line(raw: bytes) -> Any:
    """``json.loads`` of one line; every way it can fail is a one-line ``ValueError``.

    Catches what ``json`` raises beyond ``JSONDecodeError``: ``RecursionError`` for deeply
    nested input, ``ValueError`` for integers over Python's digit limit, ``UnicodeDecodeError``.
    """
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise ValueError("invalid JSON (nested too deeply)") from None
    except ValueError as exc:  # UnicodeDecodeError, integer string conversion limit
        msg = "a number has too many digits" if "digits" in str(exc) else " ".join(str(exc).split())
        raise ValueError(f"invalid JSON ({msg})") from None


def numeric_array(value: Any, *, what: str) -> np.ndarray:
    """A float64 array from a JSON list of numbers; ``ValueError`` naming ``what`` otherwise.

    Only ints and floats are accepted (no strings, booleans or nulls).
    """
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise ValueError(f"{what}: expected a list of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected a flat list of numbers") from None
    if arr.size and arr.dtype.kind not in "iuf":
        if arr.dtype == object and arr.ndim == 1 and all(type(v) is int for v in arr):
            raise ValueError(f"{what}: integer out of range (at most 64 bits)")
        raise ValueError(f"{what}: expected a list of numbers")
    if arr.ndim != 1:
        raise ValueError(f"{what}: expected a flat list of numbers, got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: values must be finite")
    return arr


def _fast_stroke(stroke: Any) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The common case in one numpy call: ``[[x...], [y...](, [t...])]`` of equal-length numbers."""
    if not isinstance(stroke, list) or len(stroke) not in (2, 3):
        return None
    try:
        arr = np.asarray(stroke)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 2 or arr.dtype.kind not in "iuf":
        return None
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        return None
    return np.ascontiguousarray(arr[:2].T), (arr[2] if arr.shape[0] == 3 else None)


def strokes_from_quickdraw_drawing(drawing: Any) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """Parse a Quick, Draw! ``drawing``: strokes ``[[x...], [y...]]`` or ``[[x...], [y...], [t...]]``.

    Also accepts strokes given as ``(n, 2)`` / ``(n, 3)`` numpy arrays (rows are points; a third
    column is time). Strokes with zero points are dropped.

    Returns:
        ``(strokes, times)``: ``(n_i, 2)`` float64 arrays, and ``(n_i,)`` times or ``None`` when
        no stroke carries times.

    Raises:
        ValueError: naming the stroke and the problem.
    """
    if not isinstance(drawing, (list, tuple)):
        raise ValueError(f"'drawing': expected a list of strokes, got {type(drawing).__name__}")
    strokes: list[np.ndarray] = []
    times: list[np.ndarray] = []
    has_t: set[bool] = set()
    for i, stroke in enumerate(drawing):
        fast = _fast_stroke(stroke)
        if fast is not None:
            xy, t = fast
        elif isinstance(stroke, np.ndarray) and stroke.ndim == 2 and stroke.shape[1] in (2, 3) \
                and stroke.dtype.kind in "iuf":
            arr = stroke.astype(np.float64)
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"stroke {i}: values must be finite")
            xy, t = arr[:, :2], (arr[:, 2] if arr.shape[1] == 3 else None)
        else:
            if not isinstance(stroke, (list, tuple)) or len(stroke) not in (2, 3):
                raise ValueError(f"stroke {i}: expected [[x...], [y...]] or [[x...], [y...], [t...]]")
            x = numeric_array(stroke[0], what=f"stroke {i} x")
            y = numeric_array(stroke[1], what=f"stroke {i} y")
            if x.shape != y.shape:
                raise ValueError(f"stroke {i}: {x.shape[0]} x values but {y.shape[0]} y values")
            t = None
            if len(stroke) == 3:
                t = numeric_array(stroke[2], what=f"stroke {i} t")
                if t.shape != x.shape:
                    raise ValueError(f"stroke {i}: {x.shape[0]} x values but {t.shape[0]} t values")
            xy = np.stack([x, y], axis=1) if x.size else np.zeros((0, 2))
        has_t.add(t is not None)
        if xy.shape[0] == 0:
            continue
        strokes.append(xy)
        if t is not None:
            times.append(t)
    if len(has_t) > 1:
        raise ValueError("some strokes have times and others do not")
    return strokes, (times if has_t == {True} and strokes else None)


def summarize(values: Iterable[float]) -> dict[str, float]:
    """``{"min", "mean", "max", "total"}`` of numbers (zeros when empty)."""
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.size == 0:
        return {"min": 0, "mean": 0.0, "max": 0, "total": 0}
    return {
        "min": float(arr.min()),
        "mean": round(float(arr.mean()), 3),
        "max": float(arr.max()),
        "total": float(arr.sum()),
    }

