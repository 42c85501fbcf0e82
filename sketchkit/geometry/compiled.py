"""The vectoriser's hot loops compiled with numba, switched on per process.

Vectorising a 256 px drawing in numpy spends most of its time in call overhead on small arrays:
some 17,000 numpy calls per drawing. Here the steps that cost the most are plain loops compiled
by numba (``_bezier_kernels.py``, ``_raster_kernels.py``), each beside the numpy code it
replaces, which stays the reference: the curve fitter
(:func:`sketchkit.geometry.bezier_batch.fit_runs`), the distance transform, thinning, component
labels, Otsu's histogram and the median (:mod:`sketchkit.geometry.morphology`), the skeleton
graph's chain walk and junction directions (:mod:`sketchkit.geometry.skeleton`) and sub-pixel
centring (:func:`sketchkit.vectorize.pieces._centre`). The raster kernels give the same values
(centring and directions within 1e-9 px); fits agree up to floating-point rounding, except where
two foot points tie to rounding (``tests/test_compiled.py``).

Off by default. :func:`enable` switches them on for this process: importing numba and its first
dispatch cost ~0.5-0.7 s (the first run on a machine also compiles, a few seconds, and caches
beside this file or in numba's user cache when that is read-only), which a single cold image
(``sketchkit vectorize one.png``) must not pay. Folder mode enables them before its workers
fork. Without numba, or when it fails to load, everything runs in numpy as before.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from types import ModuleType

import numpy as np

__all__ = ["available", "enable", "enabled", "active", "fit_runs", "distance_to_background", "centre",
           "walk_chains", "thin", "direction",
           "histogram", "median", "label"]

_kernels: dict[str, ModuleType] = {}
_failure: list[str] = []
_on = [False]


def available() -> bool:
    """Whether numba can be imported (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("numba") is not None


def _load() -> bool:
    """Import and warm the kernels once per process; ``False`` when numba is missing or fails."""
    if _kernels:
        return True
    if _failure or not available():
        return False
    try:
        from sketchkit.geometry import _bezier_kernels, _raster_kernels

        _warm(_bezier_kernels, _raster_kernels)
    except Exception as exc:  # a broken numba install must not break vectorising
        _failure.append(f"{type(exc).__name__}: {exc}")
        return False
    _kernels.update(bezier=_bezier_kernels, raster=_raster_kernels)
    return True


def enable(on: bool = True) -> bool:
    """Use the compiled kernels in this process from now on (``on=False``: numpy again).

    Returns:
        Whether they are in use now (``False`` when numba is missing or failed to load).
    """
    _on[0] = bool(on) and _load()
    return _on[0]


def active() -> bool:
    """Whether the compiled kernels are in use in this process."""
    return _on[0]


@contextlib.contextmanager
def enabled(on: bool = True) -> Iterator[bool]:
    """:func:`enable` for a ``with`` block, then back to the setting before it; yields :func:`active`."""
    before = _on[0]
    try:
        yield enable(on)
    finally:
        _on[0] = before


def _need(name: str) -> ModuleType:
    if not _kernels and not _load():
        raise RuntimeError(f"compiled kernels unavailable ({_failure[0] if _failure else 'numba is not installed'})")
    return _kernels[name]


def fit_runs(pts: np.ndarray, lengths, degrees, *, init: np.ndarray | None = None,
             use_init: np.ndarray | None = None, refine: int = 4, hopeless: float = math.inf,
             width: int | None = None, err_cap=math.inf, return_dist: bool = False):
    """Same arguments and results as :func:`sketchkit.geometry.bezier_batch.fit_runs` (loads the
    kernels if needed; ``RuntimeError`` without numba)."""
    from sketchkit.geometry.bezier_batch import REFINE_NEWTON_STEPS, _binomial_table, _fit_inputs, _to_power

    kernel = _need("bezier").fit_runs
    pts, runs, degrees, width, empty = _fit_inputs(pts, lengths, degrees, width, return_dist)
    if empty is not None:
        return empty
    n_items = degrees.size
    use = np.zeros(n_items, dtype=np.bool_)
    start_ctrl = np.zeros((n_items, width, 2))
    if init is not None and use_init is not None:
        use = np.ascontiguousarray(use_init, dtype=np.bool_)
        start_ctrl = np.ascontiguousarray(init, dtype=np.float64)
    cap = np.ascontiguousarray(np.broadcast_to(np.asarray(err_cap, dtype=np.float64), (n_items,)))
    ctrl, err, rms, dist = kernel(pts, runs.start, runs.lengths, degrees, start_ctrl, use, int(refine),
                                  float(hopeless), cap, _binomial_table(width - 1), _to_power(width - 1),
                                  REFINE_NEWTON_STEPS)
    return (ctrl, err, rms, dist) if return_dist else (ctrl, err, rms)


def distance_to_background(mask: np.ndarray) -> np.ndarray:
    """:func:`sketchkit.geometry.morphology.distance_to_background` compiled: ``(H, W)`` bool in,
    ``(H, W)`` float64 px out, the same values."""
    mask = np.ascontiguousarray(mask, dtype=np.bool_)
    if mask.size == 0:
        return np.zeros(mask.shape)
    return np.sqrt(_need("raster").squared_distance_to_background(mask).astype(np.float64))


def centre(pts: np.ndarray, ink: np.ndarray, width: float, max_shift: float, closed: bool) -> np.ndarray:
    """:func:`sketchkit.vectorize.pieces._centre` compiled: ``(n, 2)`` (x, y) px points (``n >= 3``,
    ``closed``: the last repeats the first) moved across the line to its centre on ``ink (H, W)``."""
    return _need("raster").centre(np.ascontiguousarray(pts, dtype=np.float64),
                                  np.ascontiguousarray(ink, dtype=np.float64), float(width), float(max_shift),
                                  bool(closed))


def walk_chains(nbr: np.ndarray, node_of, link_a: np.ndarray, link_b: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The chain walks of :func:`sketchkit.geometry.skeleton._build_graph`: ``(pixels, bounds,
    n_edges)``, chain ``k`` being ``pixels[bounds[k]:bounds[k + 1]]`` (edges, then node-free loops)."""
    return _need("raster").walk_chains(np.ascontiguousarray(nbr, dtype=np.int64), np.asarray(node_of, dtype=np.int64),
                                       np.ascontiguousarray(link_a, dtype=np.int64),
                                       np.ascontiguousarray(link_b, dtype=np.int64))


def direction(pts: np.ndarray, skip: float, reach: float) -> np.ndarray:
    """:func:`sketchkit.geometry.skeleton._direction` compiled: the unit ``(2,)`` direction leaving
    ``pts[0]`` of ``pts (n, 2)``, between arc lengths ``skip`` and ``skip + reach`` (px)."""
    return _need("raster").direction(np.ascontiguousarray(pts, dtype=np.float64), float(skip), float(reach))


def thin(flat: np.ndarray, stride: int) -> None:
    """The thinning of :func:`sketchkit.geometry.morphology.skeletonize`, in place on its padded
    flat ``uint8`` mask (``(H + 2) * stride`` values, ``stride = W + 2``): the same skeleton."""
    from sketchkit.geometry.morphology import _CORNER, _REMOVE, _SQUARE

    _need("raster").thin(flat, int(stride), _REMOVE[0], _REMOVE[1], _CORNER, np.array(_SQUARE, dtype=np.int64))


def histogram(flat: np.ndarray, nbins: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.histogram(flat, bins=nbins)`` compiled, for a 1-D float64 array that is not constant:
    ``(counts (nbins,) int64, edges (nbins + 1,))``, the same counts."""
    flat = np.ascontiguousarray(flat, dtype=np.float64)
    first, last = float(flat.min()), float(flat.max())
    edges = np.linspace(first, last, int(nbins) + 1)
    return _need("raster").histogram(flat, first, last, edges), edges


def median(flat: np.ndarray) -> float:
    """:func:`sketchkit.geometry.morphology.median` compiled (1-D float64, non-empty, no NaN)."""
    return float(_need("raster").median(np.ascontiguousarray(flat, dtype=np.float64)))


def label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """:func:`sketchkit.geometry.morphology.label_components` compiled: the same labels."""
    labels, n = _need("raster").label(np.ascontiguousarray(mask, dtype=np.bool_))
    return labels, int(n)


def _warm(bezier: ModuleType, raster: ModuleType) -> None:
    """One tiny call of each kernel, so its machine code is in memory before workers fork."""
    from sketchkit.geometry.bezier_batch import _binomial_table, _to_power

    pts = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5], [3.0, 0.0], [4.0, 1.0]])
    bezier.fit_runs(pts, np.zeros(1, np.int64), np.array([5]), np.array([2]), np.zeros((1, 4, 2)),
                    np.zeros(1, np.bool_), 1, math.inf, np.full(1, math.inf), _binomial_table(3), _to_power(3), 1)
    raster.squared_distance_to_background(np.ones((3, 3), dtype=np.bool_))
    ink = np.zeros((5, 5))
    ink[:, 2] = 1.0
    raster.centre(np.array([[2.5, 0.5], [2.5, 2.5], [2.5, 4.5]]), ink, 1.0, 0.75, False)
    raster.direction(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 1.0]]), 0.5, 2.0)
    raster.histogram(np.array([0.0, 0.5, 1.0]), 0.0, 1.0, np.linspace(0.0, 1.0, 3))
    raster.median(np.array([0.0, 0.5, 1.0]))
    raster.label(np.eye(3, dtype=np.bool_))
    line = np.full((3, 8), -1, dtype=np.int64)  # three pixels in a row: two ends and a link
    line[0, 4], line[1, 3], line[1, 4], line[2, 3] = 1, 0, 2, 1
    raster.walk_chains(line, np.array([0, -1, 1]), np.array([1, 0, 1]), np.array([-1, 2, -1]))
    from sketchkit.geometry.morphology import _CORNER, _REMOVE, _SQUARE

    block = np.zeros(25, dtype=np.uint8)  # a 3 x 3 square, padded
    block[[6, 7, 8, 11, 12, 13, 16, 17, 18]] = 1
    raster.thin(block, 5, _REMOVE[0], _REMOVE[1], _CORNER, np.array(_SQUARE, dtype=np.int64))
