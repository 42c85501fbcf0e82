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


def _draw_segments(
    segs: np.ndarray, width: int, height: int, radius: float, image: np.ndarray | None = None, n_images: int = 1
) -> np.ndarray:
    """Max-coverage ink of capsules around ``segs`` (pixel units) on ``n_images`` canvases.

    ``image`` gives each segment's canvas index (all 0 when ``None``). Returns
    ``(n_images, height, width)`` float32.
    """
    ink = np.zeros(n_images * height * width, dtype=np.float32)
    if segs.shape[0] == 0:
        return ink.reshape(n_images, height, width)
    base = np.zeros(segs.shape[0], dtype=np.int64) if image is None else image.astype(np.int64) * (height * width)
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
    n_steps = hi_maj - lo_maj + 1  # pixel steps along the major axis, per segment
    # Split the segments into runs of at most ~_CHUNK candidate pixels (one run for ordinary
    # sketches) to bound memory on huge drawings.
    ends = np.cumsum(n_steps * (2 * half + 1))
    cuts = np.unique(np.searchsorted(ends, np.arange(_CHUNK, int(ends[-1]), _CHUNK), side="right"))
    bounds = [0] + [int(c) for c in cuts if 0 < c < len(segs)] + [len(segs)]
    for start, stop in zip(bounds[:-1], bounds[1:]):
        part = slice(start, stop)
        _draw_run(ink, segs[part], d[part], major[part], lo_maj[part], n_steps[part], base[part], half, width, height, reach)
    return ink.reshape(n_images, height, width)


def _draw_run(ink, segs, d, major, lo_maj, n_steps, base, half, width, height, reach) -> None:
    # One row per (segment, major-axis pixel step): M rows; the 2 * half + 1 candidate pixels
    # across the segment are the columns of (M, 2 * half + 1) arrays (broadcast, no gathers).
    idx = np.arange(segs.shape[0])
    a_maj_s, a_min_s = segs[idx, 0, major], segs[idx, 0, 1 - major]
    d_maj_s, d_min_s = d[idx, major], d[idx, 1 - major]
    inv_maj_s = np.where(d_maj_s != 0, 1.0 / np.where(d_maj_s != 0, d_maj_s, 1.0), 0.0)
    len2_s = (d * d).sum(axis=1)
    inv_len2_s = np.where(len2_s > 0, 1.0 / np.where(len2_s > 0, len2_s, 1.0), 0.0)

    seg = np.repeat(idx, n_steps)  # (M,) segment of each row
    first = np.repeat(np.cumsum(n_steps) - n_steps, n_steps)
    step_maj = lo_maj[seg] + (np.arange(seg.shape[0]) - first)  # integer pixel index along major
    # Minor-axis position of the segment (clamped to its ends) at this pixel column/row centre.
    t = np.clip((step_maj + 0.5 - a_maj_s[seg]) * inv_maj_s[seg], 0.0, 1.0)
    lo_min = np.floor(a_min_s[seg] + t * d_min_s[seg]).astype(np.int64) - half
    step_min = lo_min[:, None] + np.arange(2 * half + 1)[None, :]  # (M, 2 * half + 1)
    y_major = major[seg].astype(bool)[:, None]
    px = np.where(y_major, step_min, step_maj[:, None])
    py = np.where(y_major, step_maj[:, None], step_min)
    # Distance from the pixel centres to the segment (clamped projection).
    dx, dy = d[seg, 0][:, None], d[seg, 1][:, None]
    rx = px + 0.5 - segs[seg, 0, 0][:, None]
    ry = py + 0.5 - segs[seg, 0, 1][:, None]
    u = np.clip((rx * dx + ry * dy) * inv_len2_s[seg][:, None], 0.0, 1.0)
    cov = reach - np.hypot(rx - u * dx, ry - u * dy)
    hit = (cov > 0) & (px >= 0) & (px < width) & (py >= 0) & (py < height)
    flat = (base[seg][:, None] + py * width + px)[hit]
    np.maximum.at(ink, flat, np.minimum(cov[hit], 1.0).astype(np.float32))


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
    return _draw_segments(segs, width, height, stroke_width / 2.0)[0]


def rasterize_batch(
    sketches: Sequence[Item],
    size: int | tuple[int, int],
    *,
    stroke_width: float = 1.0,
    fit: bool = True,
    margin: float = 0.05,
) -> np.ndarray:
    """:func:`rasterize` over a list in one vectorised pass: ``(B, H, W)`` float32 ink in ``[0, 1]``.

    Same result as stacking :func:`rasterize` calls (each sketch fitted on its own), but the numpy
    work is shared across the batch, which is several times faster for small images.
    """
    width, height = size_wh(size)
    if not (stroke_width > 0 and np.isfinite(stroke_width)):
        raise ValueError(f"stroke_width: expected a positive number of pixels, got {stroke_width}")
    all_segs, owner = [], []
    for i, sk in enumerate(sketches):
        check_item(sk, what=f"sketches[{i}]")
        if fit:
            scale, offset = fit_transform(content_bounds(sk), width, height, margin=margin, pad=stroke_width / 2.0)
        else:
            scale, offset = 1.0, np.zeros(2)
        segs = segments_of(sk, scale, offset)
        all_segs.append(segs)
        owner.append(np.full(segs.shape[0], i, dtype=np.int64))
    if not all_segs:
        return np.zeros((0, height, width), dtype=np.float32)
    return _draw_segments(
        np.concatenate(all_segs), width, height, stroke_width / 2.0, np.concatenate(owner), len(sketches)
    )
