"""Seeded train/validation/test splits (numpy only; used by the torch Dataset wrapper)."""

from __future__ import annotations

from typing import Sequence, TypeVar

import numpy as np

__all__ = ["split_indices", "split_items"]

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
