"""Seeded train/validation/test splits (numpy only).

* :func:`split_indices` / :func:`split_items`: a seeded shuffle cut by fractions (used by the
  torch Dataset wrapper);
* :func:`split_sketches`: train / valid / test by a hash of each sketch's identity
  (``meta["key_id"]`` when the data has one, else its source file and line or index), so a
  drawing's split never changes when files are read in another order, more data is added, or
  a subset is read (used by the shipped models' training scripts and the quality judge).
"""

from __future__ import annotations

import zlib
from typing import Sequence, TypeVar

import numpy as np

from sketchkit.sketch import Sketch

__all__ = ["split_indices", "split_items", "sketch_key", "split_sketches"]

T = TypeVar("T")


def split_indices(n: int, fractions: Sequence[float], *, seed: int) -> list[np.ndarray]:
    """Shuffle ``range(n)`` with ``default_rng(seed)`` and cut it into parts of the given fractions.

    Part sizes are ``floor(f_i * n)``; the remainder goes to the parts in order, one each, so the
    sizes add up to ``n`` when the fractions sum to 1 (a sum below 1 leaves items out).

    Args:
        n: number of items.
        fractions: non-negative, summing to at most 1 (+1e-9).
        seed: the shuffle's seed; the same ``(n, fractions, seed)`` always gives the same parts.

    Returns:
        one sorted ``int64`` index array per fraction, disjoint.
    """
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.ndim != 1 or fr.size == 0 or np.any(fr < 0) or fr.sum() > 1 + 1e-9:
        raise ValueError(f"fractions: expected non-negative values summing to <= 1, got {list(fractions)}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    perm = np.random.default_rng(seed).permutation(n)
    sizes = np.floor(fr * n).astype(np.int64)
    if abs(fr.sum() - 1.0) <= 1e-9:
        extra = n - int(sizes.sum())
        for i in range(extra):
            sizes[i % sizes.size] += 1
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    return [np.sort(perm[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def split_items(items: Sequence[T], fractions: Sequence[float], *, seed: int) -> list[list[T]]:
    """:func:`split_indices` applied to a sequence: lists of items, in their original order."""
    return [[items[i] for i in idx] for idx in split_indices(len(items), fractions, seed=seed)]


def sketch_key(sketch: Sketch, position: int) -> str:
    """A stable identity string: ``key_id``, else ``file name:line``/``file name:index``, else ``position``.

    Only the source's file name counts, not the folder it was read from: the same file reached
    as ``../shared/data/x.npz`` or ``/abs/path/x.npz`` (or on another machine) splits the same way.
    """
    meta = sketch.meta
    if "key_id" in meta:
        return f"key:{meta['key_id']}"
    where = meta.get("line", meta.get("index"))
    if "source" in meta and where is not None:
        name = str(meta["source"]).replace("\\", "/").rsplit("/", 1)[-1]
        return f"{name}:{where}"
    return f"pos:{position}"


def split_sketches(sketches: Sequence[Sketch], *, valid: float = 0.1, test: float = 0.1,
                   salt: str = "sketchkit") -> dict[str, list[Sketch]]:
    """Split sketches into ``train``/``valid``/``test`` by a CRC32 hash of :func:`sketch_key`.

    Args:
        sketches: the sketches (any order).
        valid: expected fraction in ``valid`` (0 <= valid, valid + test < 1).
        test: expected fraction in ``test``.
        salt: mixed into the hash; another salt gives another split.

    Returns:
        ``{"train": [...], "valid": [...], "test": [...]}`` keeping the input order within each.

    Raises:
        ValueError: fractions out of range.
    """
    if not (0 <= valid and 0 <= test and valid + test < 1):
        raise ValueError(f"need valid >= 0, test >= 0 and valid + test < 1, got {valid}, {test}")
    out: dict[str, list[Sketch]] = {"train": [], "valid": [], "test": []}
    for i, sk in enumerate(sketches):
        u = zlib.crc32(f"{salt}|{sketch_key(sk, i)}".encode()) / 2 ** 32  # uniform in [0, 1)
        name = "test" if u < test else "valid" if u < test + valid else "train"
        out[name].append(sk)
    return out
