"""Traced centreline paths made ready for fitting: free ends extended (thin lines by a share of
the width, thick ones to their round cap), corners sharpened to the crossing of their sides,
points moved to the ink's sub-pixel centre (also where the image border cuts a line),
smoothing, and the sharp corners a path is cut at. All coordinates are px, ``(n, 2)`` (x, y)."""

from __future__ import annotations

import numpy as np

from sketchkit.geometry import compiled


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
    if compiled.active():
        return compiled.centre(pts, ink, width, max_shift, closed)
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
