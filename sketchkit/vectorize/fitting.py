"""Fitting Bézier curves to traced stroke pieces: the per-piece reference and the batched fitter,
and the piece helpers (centring, smoothing, corners, end extension, corner sharpening)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

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


END_EXTENSION = 0.3  # of the width: how far a thin line's skeleton stops short of its true end


def _extend_ends(pts: np.ndarray, start_free: bool, end_free: bool, width: float) -> np.ndarray:
    """Extend free line ends by ``END_EXTENSION`` stroke widths along the end tangent.

    Thinning eats into a round cap (half a width beyond the true end point) but stops before
    its centre: on rendered Quick, Draw!, Lucide and KanjiVG lines (1.5-4 px) half a width
    overshot the true ends by 0.4-0.95 px (median).
    """
    if pts.shape[0] < 3 or not (start_free or end_free):
        return pts
    ext = END_EXTENSION * width
    reach = max(2.0, 1.5 * width)

    def tip(p: np.ndarray) -> np.ndarray | None:
        d = np.linalg.norm(p - p[0], axis=1)
        far = np.nonzero(d >= reach)[0]
        if far.size == 0:
            return None
        v = p[0] - p[far[0]]
        return p[0] + v / np.linalg.norm(v) * ext

    out = pts
    if start_free:
        t = tip(pts)
        if t is not None:
            out = np.concatenate([t[None], out])
    if end_free:
        t = tip(pts[::-1])
        if t is not None:
            out = np.concatenate([out, t[None]])
    return out


CAP_FIT = 0.9  # a thick line's end moves on while a disc of this share of its half-width fits in the ink


def _extend_to_cap(pts: np.ndarray, start_free: bool, end_free: bool, radius: np.ndarray,
                   width: float) -> np.ndarray:
    """Move a thick line's free ends on along their tangent while the stroke's disc still fits.

    Thinning stops a thick line's skeleton short of a blunt end; the pen's path goes on as long
    as the stroke's own disc fits in the ink. Each free end steps on (0.5 px steps, at most
    ``width / 2`` px) while the ink radius stays at least ``CAP_FIT`` of the half-width, so a
    round cap drawn at ``width`` stays inside the ink; a tapering end does not move. (On
    K-MNIST brush characters: re-rendered HD95 -0.05 px.)

    Args:
        pts: ``(n, 2)`` ordered (x, y) path points, px.
        start_free, end_free: which ends are free line ends.
        radius: ``(H, W)`` ink radius (:func:`~sketchkit.geometry.skeleton.ink_radius`: about
            ``(w + 1) / 2`` on the centre of a line ``w`` px wide).
        width: the line's width, px.

    Returns:
        ``(m, 2)`` points, ``n <= m <= n + 2`` (a moved end adds one point).
    """
    if pts.shape[0] < 3 or not (start_free or end_free):
        return pts
    h, w = radius.shape
    need = CAP_FIT * 0.5 * width + 0.5
    steps = np.arange(1, int(width) + 1) * 0.5  # (k,) px

    def tip(p: np.ndarray) -> np.ndarray | None:
        d = np.linalg.norm(p - p[0], axis=1)
        far = np.nonzero(d >= max(2.0, 0.5 * width))[0]
        if far.size == 0:
            return None
        v = p[0] - p[far[0]]
        q = p[0][None, :] + steps[:, None] * (v / np.linalg.norm(v))[None, :]  # (k, 2)
        cols, rows = np.floor(q[:, 0]).astype(np.intp), np.floor(q[:, 1]).astype(np.intp)
        inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
        r = np.where(inside, radius[np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)], 0.0)
        fits = np.cumprod(r >= need).astype(bool)  # up to the first step where the disc no longer fits
        return q[int(np.count_nonzero(fits)) - 1] if fits.any() else None

    out = pts
    if start_free and (t := tip(pts)) is not None:
        out = np.concatenate([t[None], out])
    if end_free and (t := tip(pts[::-1])) is not None:
        out = np.concatenate([out, t[None]])
    return out


def _sharpen(a: np.ndarray, b: np.ndarray, width: float) -> np.ndarray | None:
    """Where two pieces meet at a corner, the tip of the corner: the crossing of their tangent lines.

    A skeleton rounds a sharp corner off; the pen's corner lies where the two straight-ish sides
    meet. ``None`` when the sides are parallel or the crossing is over ``1.5 * width`` away.
    """
    c = a[-1]
    reach = max(3.0, 3.0 * width)

    def side(p: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        d = np.linalg.norm(p - p[0], axis=1)
        sel = p[(d >= 0.75 * width) & (d <= reach)]
        if sel.shape[0] < 2:
            return None
        centre = sel.mean(axis=0)
        _, _, vt = np.linalg.svd(sel - centre)
        return centre, vt[0]

    sa, sb = side(a[::-1]), side(b)
    if sa is None or sb is None:
        return None
    (p, u), (q, v) = sa, sb
    m = np.array([u, -v]).T
    if abs(np.linalg.det(m)) < 1e-3:
        return None
    s, _ = np.linalg.solve(m, q - p)
    x = p + s * u
    if np.linalg.norm(x - c) > 1.5 * width:
        return None
    return x


def _centre(pts: np.ndarray, ink: np.ndarray, width: float, max_shift: float = 0.75) -> np.ndarray:
    """Move path points across the line to the ink's centroid (sub-pixel centreline).

    Skeleton pixels sit on the pixel grid; the anti-aliased ink profile across the stroke says
    where the pen's centre really is. For each point, ink is sampled (bilinear) along the normal
    at offsets up to ``width / 2 + 1`` px either side (the stroke and its anti-aliased or
    blurred edge; a wider window took in neighbouring strokes and junction ink, which pull the
    centroid off) and the point moves to the ink-weighted mean offset, clipped to ``max_shift``
    px (junctions and touching strokes still bias the centroid).

    Args:
        pts: ``(n, 2)`` ordered (x, y) path points, px (a closed path repeats its first point).
        ink: ``(H, W)`` ink intensity in ``[0, 1]``.
        width: stroke width, px.
        max_shift: largest move, px.

    Returns:
        ``(n, 2)`` moved points.
    """
    from sketchkit.geometry.morphology import sample_bilinear

    n = pts.shape[0]
    if n < 3:
        return pts
    closed = np.array_equal(pts[0], pts[-1])
    k = 2
    idx = np.arange(n)
    if closed:
        ring = pts[:-1]
        m = ring.shape[0]
        tan = ring[(np.arange(m) + k) % m] - ring[(np.arange(m) - k) % m]
        tan = np.concatenate([tan, tan[:1]])
    else:
        tan = pts[np.minimum(idx + k, n - 1)] - pts[np.maximum(idx - k, 0)]
    norm = np.linalg.norm(tan, axis=1, keepdims=True)
    ok = norm[:, 0] > 1e-9
    nrm = np.zeros_like(pts)
    nrm[ok] = np.stack([-tan[ok, 1], tan[ok, 0]], axis=1) / norm[ok]
    half = 0.5 * width + 1.0
    offs = np.arange(-half, half + 0.01, 0.25)  # (k,)
    sample = pts[:, None, :] + offs[None, :, None] * nrm[:, None, :]  # (n, k, 2) in (x, y)
    # pixel (row, col) centre at (col + 0.5, row + 0.5): array coordinate = xy - 0.5
    vals = sample_bilinear(ink, sample[..., 1] - 0.5, sample[..., 0] - 0.5)
    total = vals.sum(axis=1)
    shift = np.where(total > 1e-9, (vals * offs).sum(axis=1) / np.maximum(total, 1e-9), 0.0)
    shift = np.clip(shift, -max_shift, max_shift)
    h, w = ink.shape
    outside = ((sample[..., 0] < 0.5) | (sample[..., 0] > w - 0.5)
               | (sample[..., 1] < 0.5) | (sample[..., 1] > h - 0.5))  # (n, k): beyond the outer pixel centres
    for i in np.nonzero(outside.any(axis=1))[0]:
        at_border = _border_centre(offs, vals[i], outside[i], width)
        if at_border is not None:
            shift[i] = at_border
    shift = shift * ok
    out = pts + shift[:, None] * nrm
    if closed:
        out[-1] = out[0]
    return out


def _border_centre(offs: np.ndarray, vals: np.ndarray, outside: np.ndarray, width: float) -> float | None:
    """Offset of a line's centre across it where the image border cuts the line.

    The ink beyond the border is unknown, so the ink centroid of a line running along (or into)
    the border lies inside the true centre (by up to half a width: Quick, Draw! drawings are
    scaled to touch the border). The inner edge is still seen: the centre is half a width
    beyond it, towards the border.

    Args:
        offs: ``(k,)`` sample offsets along the normal, px, increasing.
        vals: ``(k,)`` ink at them (in ``[0, 1]``).
        outside: ``(k,)`` which samples lie beyond the image's outer pixel centres.
        width: stroke width, px.

    Returns:
        The centre's offset (within ``width / 2`` of 0), or ``None`` when the border is cut on
        both sides, the ink does not reach the border, or no inner edge is seen.
    """
    pos, neg = outside & (offs > 0), outside & (offs < 0)
    if pos.any() == neg.any():
        return None
    s = 1.0 if pos.any() else -1.0  # the border's side
    inner = ~outside
    side = np.nonzero(inner & (s * offs > 0))[0]
    if side.size and vals[side[np.argmax(s * offs[side])]] < 0.5:
        return None  # the ink ends before the border: the centroid is not cut
    order = np.nonzero(inner & (s * offs <= 0))[0]
    order = order[np.argsort(-s * offs[order])]  # from the centre inwards, away from the border
    below = np.nonzero(vals[order] < 0.5)[0]
    if below.size == 0 or below[0] == 0:
        return None
    a, b = order[below[0] - 1], order[below[0]]
    edge = offs[a] + (vals[a] - 0.5) / (vals[a] - vals[b]) * (offs[b] - offs[a])
    return float(np.clip(edge + s * 0.5 * width, -0.5 * width, 0.5 * width))


def _smooth(pts: np.ndarray, passes: int = 2) -> np.ndarray:
    if pts.shape[0] < 3:
        return pts
    closed = np.array_equal(pts[0], pts[-1])
    out = pts.copy()
    for _ in range(passes):
        if closed:
            core = out[:-1]
            core = 0.25 * np.roll(core, 1, 0) + 0.5 * core + 0.25 * np.roll(core, -1, 0)
            out = np.concatenate([core, core[:1]])
        else:
            inner = 0.25 * out[:-2] + 0.5 * out[1:-1] + 0.25 * out[2:]
            out = np.concatenate([out[:1], inner, out[-1:]])
    return out


def _corners(pts: np.ndarray, width: float, max_angle_deg: float = 55.0) -> list[int]:
    """Indices of sharp corners (turn above ``max_angle_deg`` over a window of about 1.5 widths)."""
    n = pts.shape[0]
    k = max(2, int(round(1.5 * width)))
    if n < 2 * k + 1:
        return []
    a = pts[k:-k] - pts[: n - 2 * k]
    b = pts[2 * k:] - pts[k:-k]
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    cosang = (a * b).sum(1) / np.maximum(na * nb, 1e-12)
    turn = np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0)))  # (n - 2k,), index i -> point i + k
    out = []
    i = 0
    while i < len(turn):
        if turn[i] > max_angle_deg:
            j = i
            while j + 1 < len(turn) and turn[j + 1] > max_angle_deg:
                j += 1
            best = i + int(np.argmax(turn[i : j + 1]))
            out.append(best + k)
            i = j + 1
        else:
            i += 1
    return out


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
    """
    from sketchkit.geometry.bezier_batch import fit_runs

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
