"""Ragged batches of Bézier fits: many point runs, each with its own degree, in a few numpy calls.

A batch has ``I`` *items*. Item ``i`` is a run of ``n_i >= 2`` ordered points, rows
``start_i .. start_i + n_i - 1`` of one flat ``(R, 2)`` array (``R = sum n_i``), and a Bézier curve
of degree ``1 <= d_i <= D`` stored padded as ``(I, D + 1, 2)`` control points (entries past
``d_i`` are zero). Every step — Bernstein bases with a per-row degree, least squares with the end
points pinned (per-item normal equations summed with ``np.add.reduceat``), nearest-point
projection (dense search, then Newton steps; curves are evaluated in power form by Horner's
scheme on ``(2, R)`` coordinate rows), the curve-to-points distance — works on all rows or all
items at once; nothing loops over points, and only memory chunks loop over items. Per-row
arrays are laid out ``(columns, R)`` so every product runs over contiguous rows.

:func:`fit_runs` is the batched form of a per-run fitter that alternates projection and pinned
least squares (``sketchkit.vectorize.fitting._fit_degree`` is the per-run reference): it gives the same
curves up to floating-point rounding. It refines only the items whose result can change: a
start farther than ``hopeless`` is kept as it is, and a line (degree 1, both ends pinned) is
final after one projection. Speed on the Quick, Draw! bench: ``scripts/bench_vectorize_speed.py``.
All arrays are float64, coordinates in any unit (px).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["Runs", "bernstein_rows", "chord_parameters", "solve_pinned", "project", "back_distance", "fit_runs",
           "search_samples", "REFINE_NEWTON_STEPS"]

_CHUNK_ROWS = 4096  # rows per block in the (rows x samples) distance searches: ~2 MB at 64 samples
# Newton steps per refinement round: the previous round's foot points are close, and one step per
# round (as in Schneider's curve fitter) gave the same fidelity on the Quick, Draw! bench as three
REFINE_NEWTON_STEPS = 1


def search_samples(n):
    """Even curve samples ``min(max(16, n), 64)`` searched for the start of an ``n``-point run's
    projection (int or array). Up to 160 samples gave the same bench fidelity at 1.3x the fit time:
    the search only has to land in the right basin, the Newton steps do the rest."""
    return np.minimum(np.maximum(16, n), 64)


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

    def subset(self, keep: np.ndarray) -> tuple[np.ndarray, "Runs"]:
        """The items where ``keep`` ``(I,)`` is true: ``(row mask (R,), their Runs)``."""
        return keep[self.item], Runs.from_lengths(self.lengths[keep])

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
    return _Items(pts, runs, degrees, width).solve(t, ridge)


class _Items:
    """A fixed set of items, solved and projected many times: the per-row constants of both
    (Bernstein coefficients and exponents for each row's degree, pinned end points, the points
    as ``(2, R)``) are built once (those of the solve at the first solve)."""

    def __init__(self, pts: np.ndarray, runs: Runs, degrees: np.ndarray, width: int) -> None:
        self.pts, self.runs, self.degrees, self.width = pts, runs, np.asarray(degrees, dtype=np.int64), width
        self.xy = np.ascontiguousarray(pts.T)
        self.p0, self.pn = pts[runs.start], pts[runs.last]
        self.binom = None

    def _solve_constants(self) -> None:
        # all per-row arrays are (columns, R): every product below runs over contiguous rows
        runs, width = self.runs, self.width
        rows, item = runs.rows, runs.item
        row_deg = self.degrees[item]
        self.p0r, self.pnr = self.p0[item].T, self.pn[item].T
        e = row_deg[None, :] - np.arange(width)[:, None]  # exponent of (1 - t); negative past the degree
        self.binom = _binomial_table(width - 1)[np.clip(row_deg, 0, width - 1)].T * (e >= 0)
        self.up_index = (np.clip(e, 0, width - 1) * rows + np.arange(rows)[None, :]).ravel()
        self.end_index = row_deg * rows + np.arange(rows)
        k = np.arange(1, width - 1)
        self.unknown = k[:, None] < row_deg[None, :]  # only columns 1 .. d - 1 are unknowns
        self.pad = k[None, :] >= self.degrees[:, None]  # (I, inner): padded unknowns -> identity rows

    def basis(self, t: np.ndarray) -> np.ndarray:
        """``(width, R)`` Bernstein basis of each row's degree (:func:`bernstein_rows`, transposed)."""
        rows, width = t.shape[0], self.width
        tp = np.empty((width, rows))  # t^k and (1 - t)^k by repeated products (exact at 0 and 1)
        up = np.empty((width, rows))
        tp[0] = 1.0
        up[0] = 1.0
        u = 1.0 - t
        for k in range(1, width):
            np.multiply(tp[k - 1], t, out=tp[k])
            np.multiply(up[k - 1], u, out=up[k])
        out = self.binom * tp
        out *= up.ravel()[self.up_index].reshape(width, rows)
        return out

    def solve(self, t: np.ndarray, ridge: float = 1e-9) -> np.ndarray:
        """:func:`solve_pinned` at parameters ``t`` ``(R,)``."""
        n_items, width = self.degrees.size, self.width
        if self.binom is None:
            self._solve_constants()
        ctrl = np.zeros((n_items, width, 2))
        ctrl[:, 0] = self.p0
        inner = width - 2  # unknowns per item, padded
        if inner > 0:
            basis = self.basis(np.asarray(t, dtype=np.float64))
            rhs = self.xy - basis[0] * self.p0r
            rhs -= basis.ravel()[self.end_index] * self.pnr
            a = basis[1:-1] * self.unknown
            # normal matrix and moments: one product, one segment sum
            prod = a[:, None, :] * np.concatenate([a, rhs])[None, :, :]  # (inner, inner + 2, R)
            sums = np.add.reduceat(prod, self.runs.start, axis=2).transpose(2, 0, 1)  # (I, inner, inner + 2)
            normal, moment = sums[:, :, :inner], sums[:, :, inner:]
            diag = np.arange(inner)
            normal[:, diag, diag] += ridge + self.pad
            ctrl[:, 1:-1] = _solve_small(normal, moment)
        ctrl[np.arange(n_items), self.degrees] = self.pn
        return ctrl

    def project(self, ctrl: np.ndarray, t0: np.ndarray | None = None, newton_steps: int = 3,
                with_dist: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """:func:`project` of these items' rows onto ``ctrl`` (``dist`` None without ``with_dist``)."""
        width = ctrl.shape[1]
        power = _power_form(ctrl, self.degrees)
        if t0 is None:
            t = _dense_search(power, self.pts, self.runs, self.degrees)
        else:
            t = np.asarray(t0, dtype=np.float64).copy()
        # power-form coefficients per row, (width, 2, R): Horner's scheme gives the point and both
        # derivatives in a few whole-array operations on x and y together
        coef = np.ascontiguousarray(power.transpose(1, 2, 0)[:, :, self.runs.item])
        xy = self.xy
        for _ in range(newton_steps):
            p, p1, p2 = _horner(coef, t)
            p -= xy  # the residual
            num = p[0] * p1[0]
            num += p[1] * p1[1]
            p2 *= p
            p1 *= p1
            den = p1[0] + p1[1]
            den += p2[0]
            den += p2[1]
            den[~(np.abs(den) > 1e-12)] = np.inf  # no step where the foot-point condition is flat
            num /= den
            t = t - num
            np.maximum(t, 0.0, out=t)
            np.minimum(t, 1.0, out=t)
        if not with_dist:
            return t, None
        p = coef[-1]
        for k in range(width - 2, -1, -1):
            p = p * t + coef[k]
        p -= xy
        return t, np.hypot(p[0], p[1])


def _solve_small(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.linalg.solve(a, b)`` for a stack of ``(k, k)`` systems; ``k <= 2`` (cubics and below)
    in closed form, which costs a few whole-array operations instead of LAPACK's per-call setup.
    ``a`` is symmetric positive definite here (normal equations plus a ridge)."""
    k = a.shape[-1]
    if k == 1:
        return b / a
    if k != 2:
        return np.linalg.solve(a, b)
    p, q, r = a[:, 0, 0, None], a[:, 0, 1, None], a[:, 1, 1, None]
    det = p * r - q * q
    x0 = (r * b[:, 0] - q * b[:, 1]) / det
    x1 = (p * b[:, 1] - q * b[:, 0]) / det
    return np.stack([x0, x1], axis=1)


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
    return np.matmul(_to_power(width - 1)[degrees], ctrl)


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
    return np.matmul(_powers(grid, power.shape[1]), power)


def _dense_search(power: np.ndarray, pts: np.ndarray, runs: Runs, degrees: np.ndarray) -> np.ndarray:
    """Per row, the parameter of the nearest of :func:`search_samples` even samples of its curve.

    Rows of lines (degree 1) get 0.5 without a search: Newton's step lands on a line's foot point
    from anywhere.
    """
    t = np.full(runs.rows, 0.5)
    curved = degrees >= 2
    if not curved.any():
        return t
    rows_c, sub = runs.subset(curved) if not curved.all() else (slice(None), runs)
    pts_c, power_c = pts[rows_c], power[curved]
    m = search_samples(sub.lengths)
    t_c = np.empty(sub.rows)
    for items, rows in sub.chunks():
        grid, valid = _grid(m[items])
        samples = _samples(power_c[items], grid)
        samples[~valid] = np.inf  # never the nearest
        local = sub.item[rows] - items.start
        d2 = _sq_dist(pts_c[rows], samples, local)
        t_c[rows] = grid[local, np.argmin(d2, axis=1)]
    t[rows_c] = t_c
    return t


def project(ctrl: np.ndarray, pts: np.ndarray, runs: Runs, degrees: np.ndarray, t0: np.ndarray | None = None,
            newton_steps: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-point parameters and distances of every row to its item's curve.

    Starts from ``t0`` (refinement) or a dense search (lines: from 0.5), then ``newton_steps``
    Newton steps on the foot-point condition, clipped to ``[0, 1]``.

    Returns:
        ``(t, dist)``, both ``(R,)``.
    """
    pts = np.ascontiguousarray(pts, dtype=np.float64)
    return _Items(pts, runs, degrees, ctrl.shape[1]).project(ctrl, t0, newton_steps)


def _horner(coef: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value, first and second derivative of ``sum_k coef[k] t^k`` (``coef``: ``(W, ..., R)``);
    three new arrays (the caller may change them in place)."""
    p = coef[-1]
    d1 = d2 = None
    for k in range(coef.shape[0] - 2, -1, -1):
        if d1 is None:
            d1 = p.copy()
        else:
            d2 = d1 if d2 is None else d2 * t + d1
            d1 = d1 * t + p
        p = p * t + coef[k]
    if d1 is None:
        d1 = np.zeros_like(p)
    return p, d1, np.zeros_like(p) if d2 is None else 2.0 * d2


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


def _fit_inputs(pts, lengths, degrees, width: int | None, return_dist: bool):
    """:func:`fit_runs`' arguments checked and normalised: ``(pts, runs, degrees, width, empty)``,
    ``empty`` being the whole answer when there are no items (else ``None``). Shared with the
    compiled fitter (:func:`sketchkit.geometry.compiled.fit_runs`)."""
    pts = np.ascontiguousarray(pts, dtype=np.float64)
    runs = Runs.from_lengths(lengths)
    degrees = np.asarray(degrees, dtype=np.int64)
    if degrees.size == 0:
        w = width or 2
        empty = (np.zeros((0, w, 2)), np.zeros(0), np.zeros(0))
        return pts, runs, degrees, w, ((*empty, np.zeros(runs.rows)) if return_dist else empty)
    if degrees.min() < 1:
        raise ValueError(f"degrees: expected >= 1, got {int(degrees.min())}")
    return pts, runs, degrees, int(degrees.max()) + 1 if width is None else int(width), None


def fit_runs(pts: np.ndarray, lengths, degrees, *, init: np.ndarray | None = None,
             use_init: np.ndarray | None = None, refine: int = 4, hopeless: float = math.inf,
             width: int | None = None, err_cap=math.inf, return_dist: bool = False):
    """Fit one Bézier curve of the given degree to each run, end points pinned.

    Each item starts from ``init`` (where ``use_init``) or from the least-squares curve at
    chord-length parameters; its points are projected onto the curve (dense search + Newton),
    and ``refine`` times the parameters are made monotone, the control points re-solved and the
    points re-projected (:data:`REFINE_NEWTON_STEPS` Newton steps from the previous parameters).
    An item whose start is farther than ``hopeless`` from its points (largest distance) is not
    refined. A line (degree 1) is pinned to its run's ends and projected once: its control
    points do not depend on the parameters, and Newton's step lands on a line's foot point, so
    more rounds would change nothing.

    Args:
        pts: ``(R, 2)`` points of all runs, run after run.
        lengths: ``(I,)`` points per run (each >= 2).
        degrees: ``(I,)`` degree per run, ``>= 1``.
        init: ``(I, D + 1, 2)`` padded start control points (oriented like the runs).
        use_init: ``(I,)`` bool, which items start from ``init``.
        refine: refinement steps.
        hopeless: skip refinement above this start error (same unit as ``pts``).
        width: ``D + 1`` (default ``max(degrees) + 1``).
        err_cap: scalar or ``(I,)``: the curve-to-points distance is measured only where the
            largest point-to-curve distance is within it (elsewhere ``err`` is that point
            distance, already above the cap). For callers that only compare ``err`` with
            thresholds up to the cap.
        return_dist: also return the ``(R,)`` point-to-curve distances of the returned curves.

    Returns:
        ``(ctrl (I, D + 1, 2), err (I,), rms (I,))`` (and ``dist`` with ``return_dist``):
        ``err`` is the larger of the largest point-to-curve and curve-to-point distances (for a
        hopeless item: its start's largest point distance, and ``rms`` the same), ``rms`` the
        RMS point-to-curve distance.
    """
    pts, runs, degrees, width, empty = _fit_inputs(pts, lengths, degrees, width, return_dist)
    if empty is not None:
        return empty
    n_items = degrees.size
    every = _Items(pts, runs, degrees, width)
    use = np.zeros(n_items, dtype=bool) if init is None or use_init is None else np.asarray(use_init, dtype=bool)
    ctrl = np.zeros((n_items, width, 2))  # lines: the pinned chord, the same from any parameters
    ctrl[:, 0] = every.p0
    ctrl[np.arange(n_items), degrees] = every.pn
    chord = ~use & (degrees >= 2)
    if chord.any():
        rows, sub = runs.subset(chord)
        ctrl[chord] = _Items(pts[rows], sub, degrees[chord], width).solve(chord_parameters(pts[rows], sub))
    if use.any():
        ctrl[use] = np.asarray(init, dtype=np.float64)[use]
    t, dist = every.project(ctrl)
    start_err = np.maximum.reduceat(dist, runs.start)
    lost = start_err > hopeless if refine else np.zeros(n_items, dtype=bool)
    if refine:
        # the pinned line, projected once: a line from the chord start already was (3 Newton
        # steps land on a line's foot point), only a line started from ``init`` moves
        lines = ~lost & (degrees == 1) & use
        if lines.any():
            rows, sub = runs.subset(lines)
            some = _Items(pts[rows], sub, degrees[lines], width)
            c_s = np.zeros((sub.lengths.size, width, 2))
            c_s[:, 0], c_s[:, 1] = some.p0, some.pn
            t[rows], dist[rows] = some.project(c_s, t[rows])
            ctrl[lines] = c_s
        curved = ~lost & (degrees >= 2)
        if curved.any():
            rows, sub = runs.subset(curved)
            some = _Items(pts[rows], sub, degrees[curved], width)
            t_s = t[rows]
            for k in range(refine):
                t_s = _monotone(t_s, sub)
                c_s = some.solve(t_s)
                t_s, dist_s = some.project(c_s, t_s, REFINE_NEWTON_STEPS, with_dist=k == refine - 1)
            ctrl[curved], t[rows], dist[rows] = c_s, t_s, dist_s
    dmax = np.maximum.reduceat(dist, runs.start)
    err = dmax.copy()
    measure = ~lost & (dmax <= err_cap)
    if measure.any():
        rows, sub = runs.subset(measure)
        err[measure] = np.maximum(dmax[measure], back_distance(ctrl[measure], pts[rows], sub, degrees[measure]))
    rms = np.sqrt(_segment_sum(dist**2, runs) / runs.lengths)
    rms[lost] = start_err[lost]
    err[lost] = start_err[lost]
    return (ctrl, err, rms, dist) if return_dist else (ctrl, err, rms)
