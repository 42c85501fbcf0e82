"""Ragged batches of Bézier fits: many point runs, each with its own degree, in a few numpy calls.

A batch has ``I`` *items*. Item ``i`` is a run of ``n_i >= 2`` ordered points, rows
``start_i .. start_i + n_i - 1`` of one flat ``(R, 2)`` array (``R = sum n_i``), and a Bézier curve
of degree ``1 <= d_i <= D`` stored padded as ``(I, D + 1, 2)`` control points (entries past
``d_i`` are zero). Every step — Bernstein bases with a per-row degree, least squares with the end
points pinned (per-item normal equations summed with ``np.add.reduceat``), nearest-point
projection (dense search, then Newton steps; curves are evaluated in power form by Horner's
scheme on complex ``x + iy`` coordinates), the curve-to-points distance — works on all rows or
all items at once; nothing loops over points, and only memory chunks loop over items.

:func:`fit_runs` is the batched form of a per-run fitter that alternates projection and pinned
least squares (``sketchkit.vectorize._fit_degree`` is the per-run reference): it gives the same
curves up to floating-point rounding. All arrays are float64, coordinates in any unit (px).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["Runs", "bernstein_rows", "chord_parameters", "solve_pinned", "project", "back_distance", "fit_runs"]

_CHUNK_ROWS = 4096  # rows per block in the (rows x samples) distance searches: ~10 MB at 160 samples


@dataclass(frozen=True)
class Runs:
    """Layout of a ragged batch: ``lengths`` ``(I,)`` points per item; ``start``/``last`` ``(I,)``
    first/last row of each item; ``item`` ``(R,)`` the item of each row."""

    lengths: np.ndarray
    start: np.ndarray
    last: np.ndarray
    item: np.ndarray

    @classmethod
    def from_lengths(cls, lengths) -> "Runs":
        lengths = np.asarray(lengths, dtype=np.int64)
        if lengths.ndim != 1 or (lengths.size and lengths.min() < 2):
            raise ValueError(f"lengths: expected a 1-D array of run lengths >= 2, got {lengths!r}")
        start = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if lengths.size else lengths
        return cls(lengths, start, start + lengths - 1, np.repeat(np.arange(lengths.size), lengths))

    @property
    def rows(self) -> int:
        return int(self.item.size)

    def chunks(self, max_rows: int = _CHUNK_ROWS):
        """Consecutive ``(item slice, row slice)`` blocks of about ``max_rows`` rows (whole items)."""
        i, n = 0, self.lengths.size
        ends = np.cumsum(self.lengths)
        while i < n:
            base = int(self.start[i])
            j = int(np.searchsorted(ends, base + max_rows, side="right"))
            j = max(j, i + 1)
            yield slice(i, j), slice(base, int(ends[j - 1]))
            i = j


@lru_cache(maxsize=16)
def _binomial_table(top: int) -> np.ndarray:
    table = np.zeros((top + 1, top + 1))
    for d in range(top + 1):
        for k in range(d + 1):
            table[d, k] = math.comb(d, k)
    table.setflags(write=False)
    return table


def bernstein_rows(t: np.ndarray, degrees: np.ndarray, width: int) -> np.ndarray:
    """Bernstein basis with a degree per row, padded.

    Args:
        t: ``(R,)`` parameters.
        degrees: ``(R,)`` integer degree of each row (a negative degree gives a zero row).
        width: number of columns ``D + 1`` (at least ``max(degrees) + 1``).

    Returns:
        ``(R, width)`` array ``B[r, k] = C(d_r, k) t_r^k (1 - t_r)^(d_r - k)`` for ``k <= d_r``, else 0.
    """
    t = np.asarray(t, dtype=np.float64)
    degrees = np.asarray(degrees, dtype=np.int64)
    rows = t.shape[0]
    tp = np.empty((rows, width))  # t^k and (1 - t)^k by repeated products (exact at 0 and 1)
    up = np.empty((rows, width))
    tp[:, 0] = 1.0
    up[:, 0] = 1.0
    u = 1.0 - t
    for k in range(1, width):
        np.multiply(tp[:, k - 1], t, out=tp[:, k])
        np.multiply(up[:, k - 1], u, out=up[:, k])
    e = degrees[:, None] - np.arange(width)  # exponent of (1 - t)
    valid = e >= 0
    out = _binomial_table(width - 1)[np.clip(degrees, 0, width - 1)]
    out *= tp
    out *= np.take_along_axis(up, np.clip(e, 0, width - 1), axis=1)
    out[~valid] = 0.0
    return out


def _sq_dist(p: np.ndarray, samples: np.ndarray, local: np.ndarray) -> np.ndarray:
    """``(rows, m)`` squared distances from each point to the samples of its item (``local`` index)."""
    dx = samples[:, :, 0][local]
    dx -= p[:, :1]
    dy = samples[:, :, 1][local]
    dy -= p[:, 1:]
    dx *= dx
    dy *= dy
    dx += dy
    return dx


def _segment_sum(x: np.ndarray, runs: Runs) -> np.ndarray:
    return np.add.reduceat(x, runs.start, axis=0)


def chord_parameters(pts: np.ndarray, runs: Runs) -> np.ndarray:
    """``(R,)`` chord-length parameters of each run (0 at its first row, 1 at its last; evenly
    spaced for a run of zero length), as :func:`sketchkit.geometry.bezier.chord_length_parameters`."""
    seg = np.zeros(runs.rows)
    seg[1:] = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    seg[runs.start] = 0.0
    cum = np.cumsum(seg)
    cum = cum - cum[runs.start][runs.item]
    total = cum[runs.last][runs.item]
    index = np.arange(runs.rows) - runs.start[runs.item]
    even = index / (runs.lengths[runs.item] - 1.0)
    t = np.where(total > 0.0, cum / np.where(total > 0.0, total, 1.0), even)
    t[runs.last] = 1.0
    return t


def solve_pinned(pts: np.ndarray, t: np.ndarray, runs: Runs, degrees: np.ndarray, width: int,
                 ridge: float = 1e-9) -> np.ndarray:
    """Least-squares control points of each item at parameters ``t``, end points pinned to the run's ends.

    Args:
        pts: ``(R, 2)`` points; ``t``: ``(R,)`` parameters; ``degrees``: ``(I,)``; ``width``: ``D + 1``.
        ridge: added to the normal matrix's diagonal (keeps near-degenerate runs solvable).

    Returns:
        ``(I, width, 2)`` padded control points.
    """
    n_items = runs.lengths.size
    p0, pn = pts[runs.start], pts[runs.last]
    ctrl = np.zeros((n_items, width, 2))
    ctrl[:, 0] = p0
    inner = width - 2  # unknowns per item, padded
    if inner > 0:
        row_deg = degrees[runs.item]
        basis = bernstein_rows(t, row_deg, width)
        b_end = basis[np.arange(runs.rows), row_deg]
        rhs = pts - basis[:, :1] * p0[runs.item] - b_end[:, None] * pn[runs.item]
        k = np.arange(1, width - 1)
        a = basis[:, 1:-1] * (k[None, :] < row_deg[:, None])  # only columns 1 .. d - 1 are unknowns
        normal = _segment_sum(a[:, :, None] * a[:, None, :], runs)
        moment = _segment_sum(a[:, :, None] * rhs[:, None, :], runs)
        pad = k[None, :] >= degrees[:, None]  # (I, inner): padded unknowns -> identity rows, solution 0
        diag = np.arange(inner)
        normal[:, diag, diag] += ridge + pad
        ctrl[:, 1:-1] = np.linalg.solve(normal, moment)
    ctrl[np.arange(n_items), degrees] = pn
    return ctrl


@lru_cache(maxsize=16)
def _to_power(top: int) -> np.ndarray:
    """``(top + 1, top + 1, top + 1)``: ``M[d] @ ctrl`` = power-form coefficients of a degree-``d``
    curve (``P(t) = sum_k a_k t^k``), zero rows and columns past ``d``."""
    m = np.zeros((top + 1, top + 1, top + 1))
    for d in range(top + 1):
        for k in range(d + 1):
            for i in range(k + 1):
                m[d, k, i] = math.comb(d, i) * math.comb(d - i, k - i) * (-1.0) ** (k - i)
    m.setflags(write=False)
    return m


def _power_form(ctrl: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    """``(I, W, 2)`` power-form coefficients of padded Bézier control points (cheap to evaluate
    and differentiate for low degrees; the conversion loses ~1e-13 relative precision)."""
    width = ctrl.shape[1]
    return np.einsum("ikj,ijc->ikc", _to_power(width - 1)[degrees], ctrl)


def _powers(t: np.ndarray, width: int) -> np.ndarray:
    """``t.shape + (width,)`` array of ``t^k``, ``k = 0 .. width - 1``."""
    out = np.empty(t.shape + (width,))
    out[..., 0] = 1.0
    for k in range(1, width):
        np.multiply(out[..., k - 1], t, out=out[..., k])
    return out


def _grid(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per item, ``counts_i`` even parameters in ``[0, 1]`` (as ``np.linspace``), padded: ``(grid, valid)``."""
    top = int(counts.max())
    j = np.arange(top)
    grid = j[None, :] * (1.0 / (counts[:, None] - 1.0))
    grid[np.arange(counts.size), counts - 1] = 1.0
    return grid, j[None, :] < counts[:, None]


def _samples(power: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``(items, m, 2)`` curve points at the ``(items, m)`` parameters."""
    return np.einsum("imk,ikc->imc", _powers(grid, power.shape[1]), power)


def _dense_search(power: np.ndarray, pts: np.ndarray, runs: Runs) -> np.ndarray:
    """Per row, the parameter of the nearest of ``m_i = min(max(32, 2 n_i), 160)`` even samples."""
    m = np.minimum(np.maximum(32, 2 * runs.lengths), 160)
    t = np.empty(runs.rows)
    for items, rows in runs.chunks():
        grid, valid = _grid(m[items])
        samples = _samples(power[items], grid)
        samples[~valid] = np.inf  # never the nearest
        local = runs.item[rows] - items.start
        d2 = _sq_dist(pts[rows], samples, local)
        t[rows] = grid[local, np.argmin(d2, axis=1)]
    return t


def project(ctrl: np.ndarray, pts: np.ndarray, runs: Runs, degrees: np.ndarray, t0: np.ndarray | None = None,
            newton_steps: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-point parameters and distances of every row to its item's curve.

    Starts from ``t0`` (refinement) or a dense search, then ``newton_steps`` Newton steps on the
    foot-point condition, clipped to ``[0, 1]``.

    Returns:
        ``(t, dist)``, both ``(R,)``.
    """
    width = ctrl.shape[1]
    power = _power_form(ctrl, degrees)
    t = _dense_search(power, pts, runs) if t0 is None else np.asarray(t0, dtype=np.float64).copy()
    # complex coefficients (x + iy), one contiguous column per power: Horner's scheme gives the
    # point and both derivatives in a few whole-array operations
    coef = np.ascontiguousarray((power[..., 0] + 1j * power[..., 1])[runs.item].T)  # (W, R)
    z = pts[:, 0] + 1j * pts[:, 1]
    for _ in range(newton_steps):
        p, p1, p2 = _horner(coef, t)
        r = p - z
        num = r.real * p1.real + r.imag * p1.imag
        den = p1.real * p1.real + p1.imag * p1.imag + r.real * p2.real + r.imag * p2.imag
        big = np.abs(den) > 1e-12
        step = np.where(big, num / np.where(big, den, 1.0), 0.0)
        t = np.clip(t - step, 0.0, 1.0)
    p = coef[-1]
    for k in range(width - 2, -1, -1):
        p = p * t + coef[k]
    return t, np.abs(p - z)


def _horner(coef: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value, first and second derivative of ``sum_k coef[k] t^k`` (``coef``: ``(W, R)``)."""
    p = coef[-1]
    d1 = np.zeros_like(p)
    d2 = np.zeros_like(p)
    for k in range(coef.shape[0] - 2, -1, -1):
        d2 = d2 * t + d1
        d1 = d1 * t + p
        p = p * t + coef[k]
    return p, d1, 2.0 * d2


def back_distance(ctrl: np.ndarray, pts: np.ndarray, runs: Runs, degrees: np.ndarray) -> np.ndarray:
    """``(I,)`` largest distance from ``min(max(16, n_i), 96)`` even curve samples to the nearest
    point of the run (a curve that wanders away from its points between them)."""
    power = _power_form(ctrl, degrees)
    s = np.minimum(np.maximum(16, runs.lengths), 96)
    out = np.empty(runs.lengths.size)
    for items, rows in runs.chunks():
        grid, valid = _grid(s[items])
        samples = _samples(power[items], grid)
        local = runs.item[rows] - items.start
        d2 = _sq_dist(pts[rows], samples, local)  # (rows, top)
        nearest = np.minimum.reduceat(d2, runs.start[items] - rows.start, axis=0)  # (items, top)
        out[items] = np.sqrt(np.where(valid, nearest, -np.inf).max(axis=1))
    return out


def _monotone(t: np.ndarray, runs: Runs) -> np.ndarray:
    """Running maximum within each run (offsets keep the runs apart), ends set to 0 and 1."""
    offset = 2.0 * runs.item
    t = np.maximum.accumulate(t + offset) - offset
    t = np.clip(t, 0.0, 1.0)
    t[runs.start] = 0.0
    t[runs.last] = 1.0
    return t


def fit_runs(pts: np.ndarray, lengths, degrees, *, init: np.ndarray | None = None,
             use_init: np.ndarray | None = None, refine: int = 4, hopeless: float = math.inf,
             width: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit one Bézier curve of the given degree to each run, end points pinned.

    Each item starts from ``init`` (where ``use_init``) or from the least-squares curve at
    chord-length parameters; its points are projected onto the curve (dense search + Newton),
    and ``refine`` times the parameters are made monotone, the control points re-solved and the
    points re-projected (Newton from the previous parameters). An item whose start is farther
    than ``hopeless`` from its points (largest distance) is not refined.

    Args:
        pts: ``(R, 2)`` points of all runs, run after run.
        lengths: ``(I,)`` points per run (each >= 2).
        degrees: ``(I,)`` degree per run, ``>= 1``.
        init: ``(I, D + 1, 2)`` padded start control points (oriented like the runs).
        use_init: ``(I,)`` bool, which items start from ``init``.
        refine: refinement steps.
        hopeless: skip refinement above this start error (same unit as ``pts``).
        width: ``D + 1`` (default ``max(degrees) + 1``).

    Returns:
        ``(ctrl (I, D + 1, 2), err (I,), rms (I,))``: ``err`` is the larger of the largest
        point-to-curve and curve-to-point distances (for a hopeless item: its start's largest
        point distance, and ``rms`` the same), ``rms`` the RMS point-to-curve distance.
    """
    pts = np.ascontiguousarray(pts, dtype=np.float64)
    runs = Runs.from_lengths(lengths)
    degrees = np.asarray(degrees, dtype=np.int64)
    n_items = degrees.size
    if n_items == 0:
        w = width or 2
        return np.zeros((0, w, 2)), np.zeros(0), np.zeros(0)
    if degrees.min() < 1:
        raise ValueError(f"degrees: expected >= 1, got {int(degrees.min())}")
    width = int(degrees.max()) + 1 if width is None else int(width)
    ctrl = solve_pinned(pts, chord_parameters(pts, runs), runs, degrees, width)
    if init is not None and use_init is not None and np.any(use_init):
        ctrl = np.where(np.asarray(use_init, bool)[:, None, None], np.asarray(init, dtype=np.float64), ctrl)
    t, dist = project(ctrl, pts, runs, degrees)
    start_ctrl = ctrl
    start_err = np.maximum.reduceat(dist, runs.start)
    for _ in range(refine):
        t = _monotone(t, runs)
        ctrl = solve_pinned(pts, t, runs, degrees, width)
        t, dist = project(ctrl, pts, runs, degrees, t)
    err = np.maximum(np.maximum.reduceat(dist, runs.start), back_distance(ctrl, pts, runs, degrees))
    rms = np.sqrt(_segment_sum(dist**2, runs) / runs.lengths)
    if refine:
        lost = start_err > hopeless
        ctrl = np.where(lost[:, None, None], start_ctrl, ctrl)
        err = np.where(lost, start_err, err)
        rms = np.where(lost, start_err, rms)
    return ctrl, err, rms
