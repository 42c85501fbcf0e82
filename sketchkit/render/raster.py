"""Fast anti-aliased rasteriser (numpy only) for training inputs: sketch -> float32 ink image.

Every stroke segment is drawn as a capsule (round caps and joins) of radius ``stroke_width / 2``;
a pixel's ink is ``clip(r + 0.5 - dist, 0, 1)`` where ``dist`` is the distance from the pixel
centre to the nearest segment (a standard one-pixel linear coverage ramp). Only pixels in a band
around each segment are visited, so the cost grows with the inked area, not with the canvas.

Pixel convention (shared with ``sketchkit.geometry.raster``): pixel ``(row i, column j)`` covers
``[j, j + 1) x [i, i + 1)`` in (x, y) with its centre at ``(j + 0.5, i + 0.5)``; y points down.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from sketchkit.render._common import Item, check_item, content_bounds, fit_transform, flatten_curve, size_wh
from sketchkit.sketch import Sketch

__all__ = ["rasterize", "rasterize_batch", "segments_of"]


def segments_of(item: Item, scale: float = 1.0, offset: Sequence[float] = (0.0, 0.0)) -> np.ndarray:
    """All drawn segments of ``item`` mapped by ``p * scale + offset``: ``(S, 2, 2)`` float64.

    A single-point stroke (or a point-cloud point) becomes a zero-length segment (a dot).
    Bézier curves are flattened into segments of about 1.5 output units.
    """
    offset = np.asarray(offset, dtype=np.float64)
    polylines: list[np.ndarray] = []
    if isinstance(item, Sketch):
        polylines = item.strokes
    else:
        for i, cp in enumerate(item.curves):
            w = None if item.weights is None else item.weights[i]
            polylines.append(flatten_curve(cp, w, scale))
    segs = []
    for pts in polylines:
        pts = pts * scale + offset
        if pts.shape[0] == 1:
            segs.append(np.stack([pts, pts], axis=1))  # (1, 2, 2)
        else:
            segs.append(np.stack([pts[:-1], pts[1:]], axis=1))  # (n - 1, 2, 2)
    if not segs:
        return np.zeros((0, 2, 2))
    return np.concatenate(segs, axis=0)


# Candidate pixels evaluated per numpy pass (bounds memory at ~40 bytes each for huge drawings).
_CHUNK = 2_000_000


def _draw_segments(segs: np.ndarray, width: int, height: int, radius: float) -> np.ndarray:
    """Max-coverage ink of capsules around ``segs`` (pixel units) on a ``height x width`` canvas."""
    ink = np.zeros(height * width, dtype=np.float32)
    if segs.shape[0] == 0:
        return ink.reshape(height, width)
    reach = radius + 0.5  # coverage is zero beyond this distance
    d = segs[:, 1] - segs[:, 0]  # (S, 2)
    # Walk along each segment's major axis; at every pixel step take a window across it wide
    # enough to hold the capsule (half-width reach / cos <= reach * sqrt(2), plus rounding).
    major = (np.abs(d[:, 1]) > np.abs(d[:, 0])).astype(np.int64)  # 0: x-major, 1: y-major
    idx = np.arange(segs.shape[0])
    a_maj, b_maj = segs[idx, 0, major], segs[idx, 1, major]
    lo_maj = np.floor(np.minimum(a_maj, b_maj) - reach).astype(np.int64)
    hi_maj = np.floor(np.maximum(a_maj, b_maj) + reach).astype(np.int64)
    half = int(np.ceil(reach * np.sqrt(2.0))) + 1
    counts = (hi_maj - lo_maj + 1) * (2 * half + 1)  # candidate pixels per segment
    # Split the segments into runs of at most ~_CHUNK candidates (one run for ordinary sketches).
    ends = np.cumsum(counts)
    cuts = np.unique(np.searchsorted(ends, np.arange(_CHUNK, int(ends[-1]), _CHUNK), side="right"))
    bounds = [0] + [int(c) for c in cuts if 0 < c < len(segs)] + [len(segs)]
    for start, stop in zip(bounds[:-1], bounds[1:]):
        part = slice(start, stop)
        _draw_run(ink, segs[part], d[part], major[part], lo_maj[part], counts[part], half, width, height, reach)
    return ink.reshape(height, width)


def _draw_run(ink, segs, d, major, lo_maj, counts, half, width, height, reach) -> None:
    n_min = 2 * half + 1
    total = int(counts.sum())
    idx = np.arange(segs.shape[0])
    # Per-segment scalars (S,), gathered per candidate below (1-D gathers are cheap).
    a_maj_s, a_min_s = segs[idx, 0, major], segs[idx, 0, 1 - major]
    d_maj_s, d_min_s = d[idx, major], d[idx, 1 - major]
    inv_maj_s = np.where(d_maj_s != 0, 1.0 / np.where(d_maj_s != 0, d_maj_s, 1.0), 0.0)
    len2_s = (d * d).sum(axis=1)
    inv_len2_s = np.where(len2_s > 0, 1.0 / np.where(len2_s > 0, len2_s, 1.0), 0.0)

    seg = np.repeat(idx, counts)  # (T,) segment of each candidate pixel
    within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    step_maj = lo_maj[seg] + within // n_min  # integer pixel index along the major axis
    # Minor-axis position of the segment (clamped to its ends) at this pixel column/row centre.
    t = np.clip((step_maj + 0.5 - a_maj_s[seg]) * inv_maj_s[seg], 0.0, 1.0)
    step_min = np.floor(a_min_s[seg] + t * d_min_s[seg]).astype(np.int64) - half + within % n_min
    y_major = major[seg].astype(bool)
    px = np.where(y_major, step_min, step_maj)
    py = np.where(y_major, step_maj, step_min)
    keep = (px >= 0) & (px < width) & (py >= 0) & (py < height)
    px, py, seg = px[keep], py[keep], seg[keep]
    # Distance from the pixel centres to the segment (clamped projection).
    dx, dy = d[:, 0][seg], d[:, 1][seg]
    rx, ry = px + 0.5 - segs[:, 0, 0][seg], py + 0.5 - segs[:, 0, 1][seg]
    u = np.clip((rx * dx + ry * dy) * inv_len2_s[seg], 0.0, 1.0)
    dist = np.hypot(rx - u * dx, ry - u * dy)
    cov = np.clip(reach - dist, 0.0, 1.0).astype(np.float32)
    hit = cov > 0
    np.maximum.at(ink, py[hit] * width + px[hit], cov[hit])


def rasterize(
    sketch: Item,
    size: int | tuple[int, int],
    *,
    stroke_width: float = 1.0,
    fit: bool = True,
    margin: float = 0.05,
) -> np.ndarray:
    """Draw a sketch as an anti-aliased ink image (1 = ink, 0 = paper), in numpy.

    Args:
        sketch: ``Sketch`` (polylines; single points and point clouds are dots of diameter
            ``stroke_width``) or ``BezierSketch`` (curves flattened to ~1.5 px segments).
        size: image size, an int (square) or ``(height, width)``.
        stroke_width: line width in pixels (round caps and joins).
        fit: if True, scale and centre the content into the image (uniform scale,
            ``margin * min(H, W) + stroke_width / 2`` pixels free on each side, as in
            :func:`sketchkit.render.to_svg`). If False, coordinates are pixel coordinates
            (pixel centres at ``+0.5``); ink outside the image is dropped.
        margin: free border fraction when ``fit`` is True.

    Returns:
        ``(H, W)`` float32 array in ``[0, 1]``.

    Raises:
        TypeError: not a sketch. ValueError: bad size, stroke width or margin.
    """
    check_item(sketch, what="sketch")
    width, height = size_wh(size)
    if not (stroke_width > 0 and np.isfinite(stroke_width)):
        raise ValueError(f"stroke_width: expected a positive number of pixels, got {stroke_width}")
    if fit:
        scale, offset = fit_transform(content_bounds(sketch), width, height, margin=margin, pad=stroke_width / 2.0)
    else:
        scale, offset = 1.0, np.zeros(2)
    segs = segments_of(sketch, scale, offset)
    return _draw_segments(segs, width, height, stroke_width / 2.0)


def rasterize_batch(
    sketches: Sequence[Item],
    size: int | tuple[int, int],
    *,
    stroke_width: float = 1.0,
    fit: bool = True,
    margin: float = 0.05,
) -> np.ndarray:
    """:func:`rasterize` over a list: ``(B, H, W)`` float32 ink in ``[0, 1]``."""
    width, height = size_wh(size)
    out = np.zeros((len(sketches), height, width), dtype=np.float32)
    for i, s in enumerate(sketches):
        out[i] = rasterize(s, (height, width), stroke_width=stroke_width, fit=fit, margin=margin)
    return out
