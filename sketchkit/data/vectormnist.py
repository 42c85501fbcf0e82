"""VectorMNIST adapters: MNIST pen-stroke sequences (``.npz``), Quick, Draw!-style sample dicts,
and lists of ``(n, 2)`` stroke arrays.

**Pen-stroke sequence layout** (``sequences`` key, ``(N, L, 4)``, de Jong's "MNIST digits
stroke sequence data", as in ``../shared/data/vectormnist/``), worked out from the data: each
row is ``(dx, dy, end_of_stroke, end_of_digit)`` and the pen position is the running sum of
``(dx, dy)``:

* row 0 holds the absolute start ``(x, y)`` in the 28 x 28 MNIST frame (y down);
* later rows are pen moves, almost all one pixel (|dx|, |dy| <= 1);
* a row with ``end_of_stroke = 1`` is a *marker*: its move is always ``(0, 0)`` (checked on all
  5000 kept sequences), i.e. it marks the current pen position as the last point of the
  stroke. It is not a new point;
* the row after a marker is the pen-up jump to the first point of the next stroke (always
  longer than one pixel in the data);
* the row with ``end_of_digit = 1`` (also an end-of-stroke marker) ends the sequence; zero rows
  pad it to ``L``.

So a digit decodes to strokes of consecutive pen positions, split after each marker, with the
marker rows removed. Checked on the shared file: the first 16 decoded digits, rendered, read
5 0 4 1 9 2 1 3 1 4 3 5 3 6 1 7 (the MNIST training labels), every point lies in
``[2, 28]`` x ``[2, 28]``, and 38 of the 7723 strokes are single points. Positions are the
data's integer pixel indices, unmodified (add 0.5 to put them on pixel centres, the
convention of :mod:`sketchkit.geometry.raster`). Labels come from ``labels`` (or the argmax
of ``labels_onehot``).

**Sample dicts / stroke lists** (SketchODE / ChiroDiff "unpacked" layouts): one sample is either
a dict in the Quick, Draw! raw layout (``{"word": ..., "drawing": [[[x...], [y...], [t...]],
...]}``) or a list of ``(n, 2)`` arrays. They come as ``.json`` (not code, always allowed) or as
pickles (``.pkl``/``.pickle``/``.p``), which load **only** with ``trust_pickle=True`` and a
warning, because unpickling a file can run arbitrary code.
"""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from sketchkit.data._common import ReadContext, strokes_from_quickdraw_drawing
from sketchkit.data._npz import load_npz, npz_keys
from sketchkit.data.registry import Format, register_format
from sketchkit.errors import DataFormatError, InputError
from sketchkit.sketch import Sketch

__all__ = ["decode_pen_sequence", "read_vectormnist_npz", "read_samples", "sample_to_sketch",
           "UnsafePickleWarning"]


class UnsafePickleWarning(UserWarning):
    """A pickle was loaded because the caller passed ``trust_pickle=True``."""


def decode_pen_sequence(seq: np.ndarray) -> list[np.ndarray]:
    """Decode one ``(L, 4)`` pen-stroke sequence into absolute strokes (layout in the module doc).

    Args:
        seq: ``(L, 4)`` rows ``(dx, dy, end_of_stroke, end_of_digit)``; row 0 is absolute.

    Returns:
        list of ``(n_i, 2)`` float64 strokes in MNIST pixel coordinates (y down).

    Raises:
        ValueError: wrong shape, non-finite values, flags other than 0/1, or no end-of-digit row.
    """
    seq = np.asarray(seq)
    if seq.ndim != 2 or seq.shape[1] != 4:
        raise ValueError(f"expected a (L, 4) sequence, got shape {seq.shape}")
    if seq.dtype.kind not in "iuf" or not np.all(np.isfinite(seq)):
        raise ValueError("expected finite numeric values")
    flags = seq[:, 2:]
    if not np.all((flags == 0) | (flags == 1)):
        raise ValueError("end_of_stroke / end_of_digit flags must be 0 or 1")
    eod = np.flatnonzero(seq[:, 3] == 1)
    if eod.size == 0:
        raise ValueError("no end_of_digit row")
    rows = seq[: eod[0] + 1].astype(np.float64)
    pos = np.cumsum(rows[:, :2], axis=0)
    marker = (rows[:, 2] == 1) | (rows[:, 3] == 1)
    strokes: list[np.ndarray] = []
    start = 0
    for m in np.flatnonzero(marker):
        pts = pos[start:m]  # the marker row repeats pos[m - 1]; it is not a new point
        if pts.shape[0]:
            strokes.append(pts)
        start = m + 1
    if start < rows.shape[0]:  # trailing points without a marker (not seen in the data)
        strokes.append(pos[start:])
    return strokes


def _labels(path: Path, keys: list[str], max_bytes: int | None = None) -> np.ndarray | None:
    if "labels" in keys:
        (_, lab), = list(load_npz(path, ["labels"], max_bytes=max_bytes))
        return lab.reshape(-1)
    if "labels_onehot" in keys:
        (_, oh), = list(load_npz(path, ["labels_onehot"], max_bytes=max_bytes))
        return oh.argmax(axis=1)
    return None


def read_vectormnist_npz(path: str | Path, ctx: ReadContext | None = None, *,
                         max_array_bytes: int | None = None, **_: Any) -> Iterator[Sketch]:
    """Read MNIST pen-stroke sequences (``sequences`` ``(N, L, 4)`` + ``labels``) as Sketches.

    ``max_array_bytes`` bounds each member's size as its npy header declares it (default from
    :mod:`sketchkit.data.limits`, ``SKETCHKIT_MAX_ARRAY_BYTES``); larger members are refused unread.

    Yields:
        Sketch in MNIST pixel coordinates, ``label`` the digit as a string, ``meta`` ``source``,
        ``index``.

    Raises:
        DataFormatError: ``"<file>: sequence 12: <problem>"`` (``on_error="raise"``).
    """
    path = Path(path)
    ctx = ctx or ReadContext(path)
    keys = npz_keys(path)
    if "sequences" not in keys:
        raise DataFormatError(f"{path}: expected key 'sequences' (keys: {', '.join(keys)})")
    (_, seqs), = list(load_npz(path, ["sequences"], max_bytes=max_array_bytes))
    if seqs.ndim != 3 or seqs.shape[2] != 4 or seqs.dtype.kind not in "iuf":
        raise DataFormatError(f"{path}: key 'sequences': expected (N, L, 4) numbers, got {seqs.dtype} {seqs.shape}")
    labels = _labels(path, keys, max_array_bytes)
    if labels is not None and labels.shape[0] != seqs.shape[0]:
        raise DataFormatError(f"{path}: {labels.shape[0]} labels for {seqs.shape[0]} sequences")
    for i in range(seqs.shape[0]):
        try:
            sketch = Sketch(decode_pen_sequence(seqs[i]), label=None if labels is None else str(int(labels[i])),
                            meta={"source": str(path), "index": i})
        except ValueError as exc:
            ctx.bad(f"sequence {i}", str(exc))
            continue
        yield sketch


def sample_to_sketch(sample: Any, *, label: str | None = None) -> Sketch:
    """One VectorMNIST sample -> Sketch.

    Args:
        sample: a dict in the Quick, Draw! raw layout (``drawing``, optional ``word``/``label``)
            or a list of ``(n, 2)`` arrays / ``[[x...], [y...]]`` strokes.
        label: label when the sample carries none.

    Raises:
        ValueError: naming the problem.
    """
    if isinstance(sample, dict):
        if "drawing" not in sample:
            raise ValueError("sample dict has no 'drawing' key")
        strokes, times = strokes_from_quickdraw_drawing(sample["drawing"])
        lab = sample.get("word", sample.get("label", label))
        meta = {k: v for k, v in sample.items() if k in ("key_id", "countrycode", "recognized", "timestamp")
                and isinstance(v, (str, int, float, bool))}
        return Sketch(strokes, times=times, label=None if lab is None else str(lab), meta=meta)
    if isinstance(sample, (list, tuple)):
        strokes = []
        for i, s in enumerate(sample):
            arr = np.asarray(s, dtype=np.float64) if not isinstance(s, np.ndarray) else s.astype(np.float64)
            if arr.ndim != 2 or arr.shape[1] != 2:
                raise ValueError(f"stroke {i}: expected an (n, 2) array, got shape {arr.shape}")
            if arr.shape[0]:
                strokes.append(arr)
        return Sketch(strokes, label=label)
    raise ValueError(f"expected a dict or a list of strokes, got {type(sample).__name__}")


_PICKLE_SUFFIXES = (".pkl", ".pickle", ".p")


def _is_many(obj: Any) -> bool:
    """A list of samples (dicts, or lists of strokes) rather than one sample."""
    if isinstance(obj, list) and obj and isinstance(obj[0], dict):
        return True
    if isinstance(obj, list) and obj and isinstance(obj[0], (list, tuple)) and obj[0] \
            and isinstance(obj[0][0], np.ndarray):
        return True
    return False


def read_samples(path: str | Path, ctx: ReadContext | None = None, *, trust_pickle: bool = False,
                 label: str | None = None, **_: Any) -> Iterator[Sketch]:
    """Read a ``.json`` or pickled VectorMNIST sample (or a list of samples).

    Args:
        path: ``.json`` / ``.pkl`` / ``.pickle`` / ``.p`` file.
        ctx: error policy; bad samples are ``"<file>: sample 3: <problem>"``.
        trust_pickle: required for pickles (they can run code); a warning is emitted.
        label: label for samples without one.

    Raises:
        InputError: a pickle without ``trust_pickle=True``.
        DataFormatError: unreadable file or malformed sample.
    """
    path = Path(path)
    ctx = ctx or ReadContext(path)
    if path.suffix.lower() == ".json":
        try:
            obj = json.loads(path.read_bytes())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataFormatError(f"{path}: invalid JSON ({exc})") from None
    else:
        if not trust_pickle:
            raise InputError(
                f"{path}: is a pickle, which can run arbitrary code when loaded; "
                "pass trust_pickle=True (CLI: --trust-pickle) only if you trust its source"
            )
        warnings.warn(f"{path}: unpickling a file (trust_pickle=True); only do this for files you trust",
                      UnsafePickleWarning, stacklevel=3)
        try:
            with open(path, "rb") as f:
                obj = pickle.load(f, encoding="latin1")
        except Exception as exc:  # a corrupt pickle can raise almost anything
            raise DataFormatError(f"{path}: cannot unpickle ({type(exc).__name__}: {exc})") from None
    samples = obj if _is_many(obj) else [obj]
    for i, s in enumerate(samples):
        try:
            sk = sample_to_sketch(s, label=label)
        except ValueError as exc:
            ctx.bad(f"sample {i}", str(exc))
            continue
        sk.meta.update({"source": str(path), "index": i})
        yield sk


def _sniff_npz(path: Path, head: bytes) -> bool:
    return head.startswith(b"PK") and "sequences" in npz_keys(path)


def _sniff_samples(path: Path, head: bytes) -> bool:
    suffix = path.suffix.lower()
    if suffix in _PICKLE_SUFFIXES:
        return True
    if suffix == ".json":  # a sample dict (has "drawing") or a list of strokes / samples
        text = head.lstrip()
        return b'"drawing"' in head or text.startswith(b"[")
    return head[:1] == b"\x80"  # pickle protocol >= 2


register_format(Format(
    name="vectormnist-npz",
    description="MNIST pen-stroke sequences .npz (sequences (N, L, 4) + labels)",
    extensions=(".npz",),
    reader=read_vectormnist_npz,
    sniff=_sniff_npz,
    options=("max_array_bytes",),
))

register_format(Format(
    name="vectormnist-samples",
    description="VectorMNIST samples: Quick, Draw!-style dicts or lists of (n, 2) strokes (.json, or pickle with trust_pickle)",
    extensions=(".json",) + _PICKLE_SUFFIXES,
    reader=read_samples,
    sniff=_sniff_samples,
    options=("trust_pickle", "label"),
))
