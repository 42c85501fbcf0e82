"""Fitting Bézier curves to traced stroke pieces: the per-piece reference and the batched fitter,
and where a piece no curve fits is cut (the pieces themselves come from
:mod:`sketchkit.vectorize.pieces`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sketchkit.geometry import compiled
from sketchkit.geometry.bezier import bernstein_basis, chord_length_parameters
from sketchkit.vectorize.stroke_model import _model_starts


def _project(ctrl: np.ndarray, pts: np.ndarray, t0: np.ndarray | None = None,
             newton_steps: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Parameter of the nearest curve point for each point and the distances.

    Starts from ``t0`` when given (refinement: the previous parameters are close), else from a
    dense search over the curve (:func:`~sketchkit.geometry.bezier_batch.search_samples`); then
    ``newton_steps`` Newton steps on the foot-point condition.
    """
    from sketchkit.geometry.bezier_batch import search_samples

    d = ctrl.shape[0] - 1
    if t0 is None:
        m = int(search_samples(len(pts)))
        ts = np.linspace(0.0, 1.0, m)
        curve = bernstein_basis(d, ts) @ ctrl  # (m, 2)
        diff = pts[:, None, :] - curve[None, :, :]
        t = ts[np.argmin((diff ** 2).sum(-1), axis=1)]
    else:
        t = t0
    # Newton refinement of the foot point
    d1 = d * np.diff(ctrl, axis=0)
    d2 = (d - 1) * np.diff(d1, axis=0) if d >= 2 else np.zeros((1, 2))
    for _ in range(newton_steps):
        p = bernstein_basis(d, t) @ ctrl
        p1 = bernstein_basis(d - 1, t) @ d1
        p2 = bernstein_basis(d - 2, t) @ d2 if d >= 2 else np.zeros_like(p)
        r = p - pts
        num = (r * p1).sum(1)
        den = (p1 * p1).sum(1) + (r * p2).sum(1)
        step = np.where(np.abs(den) > 1e-12, num / np.where(np.abs(den) > 1e-12, den, 1.0), 0.0)
        t = np.clip(t - step, 0.0, 1.0)
    dist = np.linalg.norm(bernstein_basis(d, t) @ ctrl - pts, axis=1)
    return t, dist


def _solve_pinned(pts: np.ndarray, t: np.ndarray, d: int) -> np.ndarray:
    """Least-squares control points of degree ``d`` at parameters ``t`` with end points pinned."""
    p0, pn = pts[0], pts[-1]
    if d == 1:
        return np.stack([p0, pn])
    B = bernstein_basis(d, t)
    rhs = pts - np.outer(B[:, 0], p0) - np.outer(B[:, -1], pn)
    A = B[:, 1:-1]
    ridge = 1e-9 * np.eye(d - 1)
    inner = np.linalg.solve(A.T @ A + ridge, A.T @ rhs)
    return np.concatenate([p0[None], inner, pn[None]])


def _refine_from(pts: np.ndarray, d: int, ctrl: np.ndarray, t: np.ndarray, dist: np.ndarray, refine: int,
                 hopeless: float) -> tuple[np.ndarray, float, float, np.ndarray]:
    """Refine a start: ``(ctrl, largest distance, RMS distance, per-point distances)``."""
    from sketchkit.geometry.bezier_batch import REFINE_NEWTON_STEPS

    err = float(dist.max())
    if refine and err > hopeless:
        return ctrl, err, err, dist  # far off: refinement would not bring it within tolerance
    for _ in range(refine):
        t = np.maximum.accumulate(t)  # ordered points -> monotone parameters
        t[0], t[-1] = 0.0, 1.0
        ctrl = _solve_pinned(pts, t, d)
        t, dist = _project(ctrl, pts, t, REFINE_NEWTON_STEPS)
    # also check the curve does not wander away from the points (curve -> points)
    curve = bernstein_basis(d, np.linspace(0.0, 1.0, min(max(16, len(pts)), 96))) @ ctrl
    back = np.sqrt(((curve[:, None, :] - pts[None, :, :]) ** 2).sum(-1).min(axis=1))
    return ctrl, float(max(dist.max(), back.max())), float(np.sqrt(np.mean(dist ** 2))), dist


_TIE_PX = 1e-9  # the model's start must beat the chord start's RMS by this much (rounding is no win)


def _fit_degree(pts: np.ndarray, d: int, init: np.ndarray | None, refine: int,
                hopeless: float = math.inf, tol: tuple[float, float] = (math.inf, math.inf),
                ) -> tuple[np.ndarray, float, float, bool, np.ndarray]:
    """Fit one degree: control points, largest and RMS point-to-curve distance (px), whether
    the result came from the model's proposal (``init``) rather than the chord-length start, and
    the per-point distances to the result.

    Both starts are refined; one within ``tol`` (largest, RMS) beats one outside it, then the
    lower RMS distance wins.
    """
    ctrl = _solve_pinned(pts, chord_length_parameters(pts), d)
    t, dist = _project(ctrl, pts)
    c, e, r, dist = _refine_from(pts, d, ctrl, t, dist, refine, hopeless)
    best = (c, e, r, False, dist)
    if init is not None:
        cm = np.asarray(init, dtype=np.float64)
        # orient the predicted curve like the ordered points
        if (np.linalg.norm(cm[0] - pts[0]) + np.linalg.norm(cm[-1] - pts[-1])
                > np.linalg.norm(cm[-1] - pts[0]) + np.linalg.norm(cm[0] - pts[-1])):
            cm = cm[::-1].copy()
        tm, dm = _project(cm, pts)
        c, e, r, dist = _refine_from(pts, d, cm, tm, dm, refine, hopeless)
        cand = (c, e, r, True, dist)

        def key(fit: tuple, margin: float = 0.0) -> tuple[bool, float]:
            return (not (fit[1] <= tol[0] and fit[2] <= tol[1]), fit[2] + margin)

        if key(cand, _TIE_PX) < key(best):  # a tie (both starts converge alike) goes to the chord start
            best = cand
    return best


@dataclass(frozen=True)
class _FitOptions:
    """Fitting options; ``min_piece``: the fewest points a cut leaves either side, and
    ``min_cut`` (``None``: ``min_piece``) the fewest a cut leaves where even the best try misses
    a piece too short for ``min_piece`` cuts by more than ``SHORT_MISS`` tolerances."""

    max_degree: int
    tolerance: float
    rms_tolerance: float
    refine: int
    min_piece: int
    min_cut: int | None = None


# a piece too short to cut at ``min_piece`` is still cut (at ``min_cut``) when its best try, the
# fitted curve or the chord, misses it by more than this many tolerances: thick strokes
# (``min_piece`` = their width, 20-30 px) had pieces over a sharp bend drawn as one chord missing
# the bend by 4-13 px (K-MNIST brush characters: ~0.6 such pieces per image)
SHORT_MISS = 1.0


def _overshoots(ctrl: np.ndarray, pts: np.ndarray, tol: float) -> bool:
    """Whether the curve strays more than ``tol`` from every point (the fit's error only
    measures the points' distances to the curve: a cubic on a few points may hook past an end)."""
    from sketchkit.geometry.bezier import evaluate

    q = evaluate(ctrl, np.linspace(0.0, 1.0, 2 * pts.shape[0] + 1))
    d2 = ((q[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2).min(axis=1)
    return bool(d2.max() > tol * tol)


def _cut_short(n: int, err: float, opts: _FitOptions) -> bool:
    """Whether a piece of ``n`` points too short for ``min_piece`` cuts is cut all the same."""
    floor = opts.min_piece if opts.min_cut is None else opts.min_cut
    return err > SHORT_MISS * opts.tolerance and n > 2 * floor + 1


def _cut_index(pts: np.ndarray, dist: np.ndarray, min_piece: int, far_off: bool) -> int:
    """Where to cut a piece no curve fits (away from the ends by ``min_piece`` points).

    At its worst point (``dist``) while the best curve is near the points; when it is far off
    (``far_off``: beyond the refinement's ``hopeless`` bound — loops, spirals), at the point
    farthest from the segment joining the ends (as in Ramer-Douglas-Peucker). A pinned curve
    misses such a shape worst right beside its ends, and cutting there would peel a few points
    off per round (quadratic in the piece's length).
    """
    lo, hi = min_piece, pts.shape[0] - min_piece
    if not far_off:
        return lo + int(np.argmax(dist[lo:hi]))
    a, b = pts[0], pts[-1]
    ab = b - a
    span = float(ab @ ab)
    q = pts[lo:hi] - a
    s = np.clip(q @ ab / span, 0.0, 1.0) if span > 1e-12 else np.zeros(len(q))
    return lo + int(np.argmax(np.linalg.norm(q - s[:, None] * ab, axis=1)))


def _fit_pieces(pieces: list[np.ndarray], opts: _FitOptions, model: Any,
                stats: dict[str, int] | None = None) -> list[list[np.ndarray]]:
    """Fit each ordered piece; returns, per piece, its chain of control-point arrays.

    ``stats`` (updated in place) counts the accepted ``curves`` and how many started from the
    model's proposal (``model_start``).
    """
    if stats is None:
        stats = {}
    stats.setdefault("curves", 0)
    stats.setdefault("model_start", 0)
    todo = list(range(len(pieces)))
    result: dict[int, list[np.ndarray]] = {}
    work = {i: p for i, p in enumerate(pieces)}
    children: dict[int, tuple[int, int]] = {}
    next_id = len(pieces)
    tight: set[int] = set()  # pieces from cuts below min_piece: their curves must not overshoot
    while todo:
        preds = model.curves_for([work[i] for i in todo]) if model is not None else [None] * len(todo)
        new_todo = []
        for i, pred in zip(todo, preds):
            pts = work[i]
            # the highest degree first: when even it fails, cut without trying the others;
            # when it fits, the lowest degree that also fits wins
            best = None
            top = max(1, min(opts.max_degree, (pts.shape[0] - 1) // 2))  # enough points per unknown
            for d in [top] + list(range(1, top)):
                init = pred[d - 1] if (pred is not None and d <= len(pred)) else None
                ctrl, err, rms, used, dist = _fit_degree(pts, d, init, opts.refine, 4.0 * opts.tolerance,
                                                        (opts.tolerance, opts.rms_tolerance))
                ok = err <= opts.tolerance and rms <= opts.rms_tolerance
                if ok and i in tight:
                    ok = not _overshoots(ctrl, pts, opts.tolerance)
                if best is None or ok:
                    best = (ctrl, err, ok, used, dist)
                if d == top and not ok:
                    break
                if ok and d < top:
                    break
            assert best is not None
            min_piece = opts.min_piece
            if best[2] or pts.shape[0] <= 2 * opts.min_piece + 1:
                chosen = best
                if not best[2]:
                    # too short to cut and nothing fits: the lowest-error try, or the chord
                    line, line_err = _fit_degree(pts, 1, None, 0)[:2]
                    if not best[1] < line_err or (i in tight and _overshoots(best[0], pts, opts.tolerance)):
                        chosen = (line, line_err, False, False, None)
                if best[2] or not _cut_short(pts.shape[0], chosen[1], opts):
                    result[i] = [chosen[0]]
                    stats["curves"] += 1
                    stats["model_start"] += int(chosen[3])
                    continue
                min_piece = opts.min_piece if opts.min_cut is None else opts.min_cut
            # the failed fit's own point distances (from its last projection) say where to cut
            cut = _cut_index(pts, best[4], min_piece, best[1] > 4.0 * opts.tolerance)
            a, b = next_id, next_id + 1
            next_id += 2
            work[a], work[b] = pts[: cut + 1], pts[cut:]
            children[i] = (a, b)
            if i in tight or min_piece != opts.min_piece:
                tight.update((a, b))
            new_todo += [a, b]
        todo = new_todo

    def collect(i: int) -> list[np.ndarray]:
        if i in children:
            a, b = children[i]
            return collect(a) + collect(b)
        return result[i]

    return [collect(i) for i in range(len(pieces))]


def _fit_pieces_batched(pieces: list[np.ndarray], opts: _FitOptions, model: Any,
                        stats: dict[str, int] | None = None) -> list[list[np.ndarray]]:
    """:func:`_fit_pieces` with all the fits of a round in one batch.

    Same decisions as the per-piece reference (the highest degree first; when it fits, the
    lowest degree that also fits; else cut), scheduled for few batches: each round makes one
    :func:`sketchkit.geometry.bezier_batch.fit_runs` call holding, from both starts (chord-length
    and the model's proposal), the highest degree and the line of every new piece, and the
    middle degrees of the pieces whose highest degree fitted in the round before (their line did
    not). A piece no curve fits is cut where its failed fit's own distances say. So a drawing
    takes about as many calls as its pieces take cuts, and no numpy call is made per point.
    Lines are fitted from the chord start alone where only a fitting line can be used (with
    refinement both starts end on the same pinned line, and a tie goes to the chord start).
    The fits run compiled where :mod:`sketchkit.geometry.compiled` is enabled (folder mode),
    else in numpy: the same curves up to rounding.
    """
    from sketchkit.geometry.bezier_batch import fit_runs

    if compiled.active():
        fit_runs = compiled.fit_runs  # noqa: F811 - same arguments and results

    if stats is None:
        stats = {}
    stats.setdefault("curves", 0)
    stats.setdefault("model_start", 0)
    width = opts.max_degree + 1
    hopeless = 4.0 * opts.tolerance
    key = np.arange(width)
    work: list[np.ndarray] = list(pieces)
    starts, has = np.zeros((0, width, width, 2)), np.zeros((0, width), dtype=bool)
    result: dict[int, list[np.ndarray]] = {}
    children: dict[int, tuple[int, int]] = {}
    tops: dict[int, int] = {}
    tight: set[int] = set()  # pieces from cuts below min_piece: their curves must not overshoot

    def top_of(i: int) -> int:
        if i not in tops:
            tops[i] = max(1, min(opts.max_degree, (work[i].shape[0] - 1) // 2))  # enough points per unknown
        return tops[i]

    def short(i: int) -> bool:  # too short to cut
        return work[i].shape[0] <= 2 * opts.min_piece + 1

    def fit_slots(slots: list[tuple[int, int]]) -> tuple[dict[tuple[int, int], tuple], dict]:
        """Fit each (piece, degree) in one batch; per slot the better start's
        ``(ctrl (d + 1, 2), err, rms, ok, from_model, dist (n,))``, and the chord start's."""
        piece, deg, use, cap = [], [], [], []
        for i, d in slots:
            top = top_of(i)
            # err is compared with the tolerance (lower degrees) or also the hopeless bound (the
            # highest); the exact value only for the fallback of a short piece (its highest
            # degree and its chord line)
            c = math.inf if short(i) and d in (1, top) else (hopeless if d == top else opts.tolerance)
            both = has[i, d] and (d > 1 or d == top or not opts.refine)
            for from_model in ((False, True) if both else (False,)):
                piece.append(i)
                deg.append(d)
                use.append(from_model)
                cap.append(c)
        deg_a, use_a = np.array(deg, dtype=np.int64), np.array(use, dtype=bool)
        lengths = np.array([work[i].shape[0] for i in piece])
        ends = np.cumsum(lengths)
        first = ends - lengths
        pts = np.concatenate([work[i] for i in piece])
        init = None
        if use_a.any():
            init = starts[np.array(piece), deg_a]
            # orient each proposal like its ordered points (reverse its first d + 1 control points)
            p0, pn = pts[first], pts[ends - 1]
            c0, cn = init[np.arange(deg_a.size), 0], init[np.arange(deg_a.size), deg_a]
            flip = (np.linalg.norm(c0 - p0, axis=1) + np.linalg.norm(cn - pn, axis=1)
                    > np.linalg.norm(cn - p0, axis=1) + np.linalg.norm(c0 - pn, axis=1)) & use_a
            rev = np.where(key[None, :] <= deg_a[:, None], deg_a[:, None] - key[None, :], key[None, :])
            init = np.where(flip[:, None, None], np.take_along_axis(init, rev[:, :, None], axis=1), init)
        ctrl, err, rms, dist = fit_runs(pts, lengths, deg_a, init=init, use_init=use_a, refine=opts.refine,
                                        hopeless=hopeless, width=width, err_cap=np.array(cap), return_dist=True)
        ok = (err <= opts.tolerance) & (rms <= opts.rms_tolerance)
        for k in np.nonzero(ok)[0] if tight else ():
            if piece[k] in tight:
                ok[k] = not _overshoots(ctrl[k, : deg[k] + 1], work[piece[k]], opts.tolerance)
        out: dict[tuple[int, int], tuple] = {}
        chord: dict[tuple[int, int], tuple] = {}
        for k in range(deg_a.size):  # the model's start must beat the chord start (listed first)
            slot = (piece[k], deg[k])
            fit = (ctrl[k, : deg[k] + 1], float(err[k]), float(rms[k]), bool(ok[k]), use[k], dist[first[k] : ends[k]])
            other = out.get(slot)
            if other is None:
                out[slot] = chord[slot] = fit
            elif (not fit[3], fit[2] + _TIE_PX) < (not other[3], other[2]):
                out[slot] = fit
        return out, chord

    def finish(i: int, ctrl: np.ndarray, from_model: bool) -> None:
        result[i] = [ctrl.copy()]
        stats["curves"] += 1
        stats["model_start"] += int(from_model)

    new = list(range(len(work)))  # pieces whose highest degree is still to fit
    waiting: dict[int, tuple] = {}  # piece -> its fitting highest degree; the middle degrees are next
    while new or waiting:
        if new:
            s_new, h_new = _model_starts(model, [work[i] for i in new], width)
            grow = len(work) - starts.shape[0]
            starts = np.concatenate([starts, np.zeros((grow, width, width, 2))])
            has = np.concatenate([has, np.zeros((grow, width), dtype=bool)])
            starts[new], has[new] = s_new, h_new
        slots = [(i, d) for i in new for d in dict.fromkeys((top_of(i), 1))]
        slots += [(i, d) for i in waiting for d in range(2, top_of(i))]
        fits, chord = fit_slots(slots)
        for i, top_fit in waiting.items():
            best = next((fits[(i, d)] for d in range(2, top_of(i)) if fits[(i, d)][3]), top_fit)
            finish(i, best[0], best[4])
        waiting, next_new = {}, []
        for i in new:
            top = top_of(i)
            fit = fits[(i, top)]
            if fit[3]:
                line = fits[(i, 1)]
                if line[3]:
                    finish(i, line[0], line[4])
                elif top <= 2:
                    finish(i, fit[0], fit[4])
                else:
                    waiting[i] = fit
            elif short(i) and not _cut_short(work[i].shape[0], min(fit[1], chord[(i, 1)][1]), opts):
                # rare: too short to cut and nothing fits: that try, or the chord
                chosen, from_model = fit[0], fit[4]
                line, line_err = chord[(i, 1)][:2]  # the pinned chord line (refinement cannot move it)
                if not fit[1] < line_err or (i in tight and _overshoots(fit[0], work[i], opts.tolerance)):
                    chosen, from_model = line, False
                finish(i, chosen, from_model)
            else:
                min_piece = opts.min_cut if short(i) and opts.min_cut is not None else opts.min_piece
                cut = _cut_index(work[i], fit[5], min_piece, fit[1] > hopeless)
                a, b = len(work), len(work) + 1
                work += [work[i][: cut + 1], work[i][cut:]]
                children[i] = (a, b)
                if i in tight or min_piece != opts.min_piece:
                    tight.update((a, b))
                next_new += [a, b]
        new = next_new

    def collect(i: int) -> list[np.ndarray]:
        if i in children:
            a, b = children[i]
            return collect(a) + collect(b)
        return result[i]

    return [collect(i) for i in range(len(pieces))]
