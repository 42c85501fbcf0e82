"""sketch-rnn ``.npz`` adapter (Quick, Draw! ``sketchrnn/CAT.npz``, aaron_sheep, kanji, omniglot).

Layout: keys ``train``, ``valid``, ``test``; each a 1-D object array whose elements are integer
arrays of shape ``(n, 3)`` in stroke-3 format ``(dx, dy, pen_lifted)``: offsets from the
previous point (the first from the origin), ``pen_lifted = 1`` on the last point of a stroke
(magenta sketch_rnn's convention). Decoded with ``start = (0, 0)``, the same convention as
:func:`sketchkit.convert.stroke3_to_sketch`.

The object arrays are loaded by an unpickler that only builds numpy arrays
(:mod:`sketchkit.data._npz`); every element is then checked (numeric dtype, shape ``(n, 3)``,
finite, pen values 0/1) before it is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from sketchkit.convert import stroke3_to_sketch
from sketchkit.data._common import ReadContext
from sketchkit.data._npz import load_npz, npz_keys
from sketchkit.data.registry import Format, register_format
from sketchkit.errors import DataFormatError, InputError
from sketchkit.sketch import Sketch  # noqa: F401  (documented return type)

__all__ = ["SPLITS", "read_sketchrnn", "check_stroke3", "split_sizes"]

#: Split keys in the order they are read when no split is selected.
SPLITS = ("train", "valid", "test")


def check_stroke3(arr: Any) -> np.ndarray:
    """Validate one stroke-3 element: numeric ndarray ``(n, 3)``, finite, pen in {0, 1}.

    Returns:
        The array (unchanged dtype).

    Raises:
        ValueError: naming what was expected and what was found.
    """
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"expected a (n, 3) numeric array, got {type(arr).__name__}")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"expected shape (n, 3), got {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError("values must be finite")
    pen = arr[:, 2]
    if arr.shape[0] and not np.all((pen == 0) | (pen == 1)):
        raise ValueError("pen column must hold only 0 and 1")
    if arr.dtype.kind == "f" and arr.shape[0]:
        # Finite offsets can still add up to inf (e.g. 1e308 + 1e308): the absolute points must be finite.
        with np.errstate(over="ignore", invalid="ignore"):
            if not np.all(np.isfinite(np.cumsum(arr[:, :2].astype(np.float64), axis=0))):
                raise ValueError("offsets add up to non-finite coordinates (overflow)")
    return arr


def _splits(split: str | Sequence[str] | None, path: Path, available: list[str]) -> list[str]:
    if split is None:
        chosen = [s for s in SPLITS if s in available]
        if not chosen:
            raise DataFormatError(f"{path}: no train/valid/test keys (keys: {', '.join(available)})")
        return chosen
    chosen = [split] if isinstance(split, str) else list(split)
    for s in chosen:
        if s not in SPLITS:
            raise InputError(f"split: expected one of {', '.join(SPLITS)}, got {s!r}")
        if s not in available:
            raise InputError(f"{path}: has no {s!r} split (keys: {', '.join(available)})")
    return chosen


def _split_arrays(path: Path, chosen: list[str], max_bytes: int | None = None) -> Iterator[tuple[str, np.ndarray]]:
    for key, arr in load_npz(path, chosen, max_bytes=max_bytes):
        if arr.dtype != object:
            # A regular numeric array: accept a padded batch (N, L, 3) as N sketches is not a
            # documented layout, so say what was found instead of guessing.
            raise DataFormatError(
                f"{path}: key {key!r}: expected an object array of (n, 3) stroke-3 arrays, "
                f"got {arr.dtype} array of shape {arr.shape}"
            )
        if arr.ndim != 1:
            raise DataFormatError(f"{path}: key {key!r}: expected a 1-D object array, got shape {arr.shape}")
        yield key, arr


def read_sketchrnn(
    path: str | Path,
    ctx: ReadContext | None = None,
    *,
    split: str | Sequence[str] | None = None,
    label: str | None = None,
    max_array_bytes: int | None = None,
    **_: Any,
) -> Iterator[Sketch]:
    """Read a sketch-rnn stroke-3 ``.npz`` file.

    Args:
        path: ``.npz`` with keys ``train`` / ``valid`` / ``test``.
        ctx: error policy; a bad element is ``"<file>: train[12]: <problem>"``.
        split: one split name or several; ``None`` reads train, valid, test in that order.
        label: label for every sketch (default: the file name's stem, e.g. ``"cat"``).
        max_array_bytes: largest split (uncompressed bytes) read; default from
            :mod:`sketchkit.data.limits` (``SKETCHKIT_MAX_ARRAY_BYTES``, 256 MiB).

    Yields:
        Sketch with absolute coordinates (origin = the pen's start), ``meta`` holding
        ``source``, ``split``, ``index`` (position within the split).

    Raises:
        DataFormatError: truncated archive, a split over the size limit, wrong-shaped or non-array
            elements, offsets whose sum overflows.
        InputError: an unknown or absent split.
    """
    path = Path(path)
    ctx = ctx or ReadContext(path)
    chosen = _splits(split, path, npz_keys(path))
    label = label if label is not None else path.name.split(".")[0]
    for key, arr in _split_arrays(path, chosen, max_array_bytes):
        for i, item in enumerate(arr):
            try:
                sketch = stroke3_to_sketch(check_stroke3(item), label=label,
                                           meta={"source": str(path), "split": key, "index": i})
            except ValueError as exc:
                ctx.bad(f"{key}[{i}]", str(exc))
                continue
            yield sketch


def split_sizes(path: str | Path, *, max_array_bytes: int | None = None) -> dict[str, int]:
    """Number of sketches per split key of a sketch-rnn npz (object arrays only are counted)."""
    path = Path(path)
    out = {}
    for key, arr in _split_arrays(path, _splits(None, path, npz_keys(path)), max_array_bytes):
        out[key] = int(arr.shape[0])
    return out


def _sniff(path: Path, head: bytes) -> bool:
    if not head.startswith(b"PK"):
        return False
    keys = set(npz_keys(path))
    return bool(keys & set(SPLITS))


register_format(Format(
    name="sketchrnn-npz",
    description="sketch-rnn stroke-3 .npz (train/valid/test object arrays of (n, 3) int arrays)",
    extensions=(".npz",),
    reader=read_sketchrnn,
    sniff=_sniff,
    options=("split", "label", "max_array_bytes"),
))
