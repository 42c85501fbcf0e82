"""Binary-image primitives of the vectoriser in plain numpy (no scipy / scikit-image import).

Each function but one reproduces the library call the vectoriser used before, so its outputs
did not change: :func:`otsu_threshold` (``skimage.filters.threshold_otsu`` on a float image, 256
bins), :func:`label_components` (``scipy.ndimage.label`` with 8-connectivity),
:func:`distance_to_background` (``scipy.ndimage.distance_transform_edt`` of the mask padded with
background), :func:`neighbour_count` and :func:`sample_bilinear`
(``scipy.ndimage.map_coordinates(order=1, mode="constant")``), plus :func:`median`
(``numpy.median``, which imports ``numpy.ma``). :func:`skeletonize` (in place of
``skimage.morphology.skeletonize``) is published Zhang-Suen thinning (with Lü and Wang's fix)
plus a staircase pass, its rule tables generated here; its skeletons are close to
scikit-image's, not identical.
Importing scipy.ndimage and scikit-image costs ~0.5 s, most of a single-image run's start-up.

Arrays are ``(H, W)`` with rows first. Python loops run over thinning sub-iterations, distance
offsets or (filled areas only) columns, never over pixels.
"""

from __future__ import annotations

import numpy as np

from sketchkit.geometry import compiled

__all__ = ["otsu_threshold", "label_components", "distance_to_background", "skeletonize", "neighbour_count",
           "sample_bilinear", "median"]


def median(values: np.ndarray) -> float:
    """``numpy.median`` of all values (no NaN), without its import of ``numpy.ma`` (~15 ms cold).

    Args:
        values: any-shape real array, non-empty.

    Returns:
        The middle value, or the mean of the two middle values for an even count.
    """
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    n = flat.size
    if n == 0:
        raise ValueError("values: expected a non-empty array, got size 0")
    if compiled.active():
        return compiled.median(flat)
    k = n // 2
    if n == 1:
        return float(flat[0])
    # Always two order statistics: numpy's single-kth partition is ~15x slower on arrays that
    # are mostly one value (a drawing's paper: 4.5 ms of a 256 px image's 32), the pair is not.
    part = np.partition(flat, (k - 1, k))
    return float(part[k]) if n % 2 else float((part[k - 1] + part[k]) / 2.0)


def otsu_threshold(values: np.ndarray, nbins: int = 256) -> float:
    """Otsu's threshold of a float image: pixels above it are foreground.

    The histogram has ``nbins`` equal bins over ``[min, max]`` (``numpy.histogram``), counts in
    float32, and the threshold is the centre of the bin that maximises the between-class
    variance, exactly as ``skimage.filters.threshold_otsu`` computes it for float images.

    Args:
        values: any-shape real array, at least one finite value, no NaN.
        nbins: number of histogram bins.

    Returns:
        The threshold (the single value itself for a constant image).
    """
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    if flat.size == 0:
        raise ValueError("values: expected a non-empty array, got size 0")
    if np.all(flat == flat[0]):
        return float(flat[0])
    counts, edges = compiled.histogram(flat, nbins) if compiled.active() else np.histogram(flat, bins=nbins)
    counts = counts.astype(np.float32)
    centres = (edges[:-1] + edges[1:]) / 2.0
    weight1 = np.cumsum(counts)
    weight2 = np.cumsum(counts[::-1])[::-1]
    mean1 = np.cumsum(counts * centres) / weight1
    mean2 = (np.cumsum((counts * centres)[::-1]) / weight2[::-1])[::-1]
    between = weight1[:-1] * weight2[1:] * (mean1[:-1] - mean2[1:]) ** 2
    return float(centres[int(np.argmax(between))])


def _padded_flat(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """The mask with a one-pixel background border, flattened (uint8), and its row stride."""
    h, w = mask.shape
    out = np.zeros((h + 2, w + 2), dtype=np.uint8)
    out[1:-1, 1:-1] = mask
    return out.reshape(-1), w + 2


def _check_mask(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask: expected shape (H, W), got {mask.shape}")
    return mask.astype(bool, copy=False)


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a binary image.

    Components are numbered ``1..n`` in the raster order of their first pixel (as
    ``scipy.ndimage.label(mask, structure=np.ones((3, 3)))`` numbers them); background is 0.
    Union-find with min-index hooking and pointer jumping, vectorised over pixel pairs.

    Args:
        mask: ``(H, W)`` bool (or 0/1) array.

    Returns:
        ``(labels, n)``: ``(H, W)`` int32 labels and the number of components.
    """
    mask = _check_mask(mask)
    if compiled.active():
        return compiled.label(mask)
    h, w = mask.shape
    flat, stride = _padded_flat(mask)
    ink = np.flatnonzero(flat)
    labels = np.zeros((h + 2) * (w + 2), dtype=np.int32)
    if ink.size == 0:
        return labels.reshape(h + 2, w + 2)[1:-1, 1:-1].copy(), 0
    node = np.full(flat.size, -1, dtype=np.int64)
    node[ink] = np.arange(ink.size)
    us, vs = [], []
    for off in (1, stride - 1, stride, stride + 1):  # each unordered neighbour pair once
        a = ink[flat[ink + off] != 0]
        us.append(node[a])
        vs.append(node[a + off])
    u, v = np.concatenate(us), np.concatenate(vs)
    parent = np.arange(ink.size)
    while u.size:
        ru, rv = parent[u], parent[v]
        open_ = ru != rv
        if not open_.any():
            break
        u, v, ru, rv = u[open_], v[open_], ru[open_], rv[open_]
        # a root only ever points to a smaller index: no cycles, and the final root of a
        # component is its first pixel in raster order
        np.minimum.at(parent, np.maximum(ru, rv), np.minimum(ru, rv))
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
    is_root = parent == np.arange(ink.size)
    rank = np.cumsum(is_root, dtype=np.int64)  # roots numbered 1.. in raster order
    labels[ink] = rank[parent].astype(np.int32)
    return labels.reshape(h + 2, w + 2)[1:-1, 1:-1].copy(), int(rank[-1])


def distance_to_background(mask: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance (px) from each True pixel centre to the nearest False one.

    Outside the image counts as background, so this equals
    ``scipy.ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]``. Column distances
    first; then along rows, squared distances ``min_c' g(c')**2 + (c - c')**2``: by trying the
    offsets ``|c - c'| = 1, 2, ..`` while some pixel could still improve (cheap on strokes), and
    for rows where that would take more than ``_DIRECT_STEPS`` offsets (filled areas) by the
    lower envelope of parabolas (Felzenszwalb & Huttenlocher 2012), vectorised across those rows.

    Args:
        mask: ``(H, W)`` bool array.

    Returns:
        ``(H, W)`` float64, 0 on background.
    """
    mask = _check_mask(mask)
    h, w = mask.shape
    if mask.size == 0:
        return np.zeros((h, w))
    if compiled.active():
        return compiled.distance_to_background(mask)
    rows = np.arange(h)[:, None]
    # vertical distance to the nearest background pixel in the same column (rows -1 and h count)
    above = np.maximum.accumulate(np.where(mask, -1, rows), axis=0)
    below = np.minimum.accumulate(np.where(mask, h, rows)[::-1], axis=0)[::-1]
    col = np.minimum(rows - above, below - rows).astype(np.int64)
    # zero columns on each side stand for the outside (squared column distance 0); beyond the
    # first, they only offer values no smaller than the first one already gave
    pad = _DIRECT_STEPS + 1
    g2w = np.zeros((h, w + 2 * pad), dtype=np.int64)
    g2w[:, pad:pad + w] = col * col
    d2 = g2w[:, pad:pad + w].copy()
    for step in range(1, _DIRECT_STEPS + 1):
        if d2.max() <= step * step:  # nothing can improve any more
            break
        np.minimum(d2, np.minimum(g2w[:, pad - step:pad - step + w], g2w[:, pad + step:pad + step + w]) + step * step,
                   out=d2)
    else:
        deep = np.flatnonzero((d2 > (_DIRECT_STEPS + 1) ** 2).any(axis=1))
        if deep.size:
            d2[deep] = _envelope_rows(g2w[deep, pad - 1:pad + w + 1])[:, 1:-1]
    return np.sqrt(d2.astype(np.float64))


_DIRECT_STEPS = 8  # offsets tried on the whole image before deep rows switch to the parabola envelope


def _envelope_rows(f: np.ndarray) -> np.ndarray:
    """``out[i, q] = min_p f[i, p] + (q - p)**2`` for each row of a non-negative int64 array."""
    n_rows, n = f.shape
    at = np.arange(n_rows)
    vbase, zbase = at * n, at * (n + 1)
    v = np.zeros(n_rows * n, dtype=np.int64)  # parabola apexes on each row's envelope (flat)
    z = np.full(n_rows * (n + 1), np.inf)  # boundaries between them (flat)
    z[zbase] = -np.inf
    k = np.zeros(n_rows, dtype=np.int64)  # index of the last parabola per row
    fq2 = (f + np.arange(n, dtype=np.int64)[None, :] ** 2).astype(np.float64)
    fq2t = np.ascontiguousarray(fq2.T)  # column q of all rows, contiguous
    flat_f = fq2.ravel()
    for q in range(1, n):
        top = v[vbase + k]
        s = (fq2t[q] - flat_f[vbase + top]) / (2.0 * (q - top))
        todo = np.flatnonzero(s <= z[zbase + k])
        while todo.size:  # drop the envelope's last parabolas the new one hides (per row)
            k[todo] -= 1
            kt = k[todo]
            top = v[vbase[todo] + kt]
            st = (fq2t[q, todo] - flat_f[vbase[todo] + top]) / (2.0 * (q - top))
            s[todo] = st
            todo = todo[st <= z[zbase[todo] + kt]]
        k += 1
        v[vbase + k] = q
        z[zbase + k] = s
        z[zbase + k + 1] = np.inf
    v = v.reshape(n_rows, n)
    z = z.reshape(n_rows, n + 1)
    # parabola j of row i serves the columns q with z[i, j] <= q < z[i, j + 1]: count, for each
    # q, the row's boundaries z[i, 1..k_i] below q, with all rows in one sorted array
    used = np.arange(1, n + 1)[None, :] <= k[:, None]
    span = n + 2.0
    bounds = (np.clip(z[:, 1:], -1.0, n) + at[:, None] * span)[used]
    query = (np.arange(n)[None, :] + at[:, None] * span).ravel()
    before = np.concatenate([[0], np.cumsum(k)[:-1]])  # boundaries of earlier rows
    j = np.searchsorted(bounds, query, side="left").reshape(n_rows, n) - before[:, None]
    p = v[at[:, None], j]
    return (np.arange(n)[None, :] - p) ** 2 + f[at[:, None], p]


# Thinning. A pixel's 8-neighbourhood is coded as a byte: bit 0 NW, 1 N, 2 NE, 3 E, 4 SE, 5 S,
# 6 SW, 7 W. The removal rules below are evaluated once, for all 256 codes, at import.
_NW, _N, _NE, _E, _SE, _S, _SW, _W = range(8)


def _code_bits() -> np.ndarray:
    """``(256, 8)`` bool: row ``c`` holds the 8 neighbours that code ``c`` sets, in bit order."""
    return ((np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1).astype(bool)


def _code(*neighbours: int) -> int:
    return sum(1 << n for n in neighbours)


def _zhang_suen_tables() -> tuple[np.ndarray, np.ndarray]:
    """Which codes each sub-iteration removes: Zhang & Suen's rule with Lü & Wang's bound.

    T. Y. Zhang and C. Y. Suen, "A fast parallel algorithm for thinning digital patterns", Comm.
    ACM 27(3), 1984. With P2..P9 the neighbours clockwise from north, B(P) the number set and
    A(P) the number of 0 -> 1 steps in P2, P3, .., P9, P2, a pixel goes when A(P) = 1 and, in
    the first sub-iteration, P2*P4*P6 = 0 and P4*P6*P8 = 0, in the second, P2*P4*P8 = 0 and
    P2*P6*P8 = 0. Their bound 2 <= B(P) <= 6 is raised to 3 <= B(P) <= 6 as H. E. Lü and P. S. P.
    Wang ("A comment on ...", Comm. ACM 29(3), 1986) propose, so 2-pixel-thick diagonal lines
    thin to a line instead of vanishing.
    """
    p = _code_bits()[:, [_N, _NE, _E, _SE, _S, _SW, _W, _NW]]  # P2..P9
    b = p.sum(axis=1)
    a = (~p & np.roll(p, -1, axis=1)).sum(axis=1)
    p2, p4, p6, p8 = p[:, 0], p[:, 2], p[:, 4], p[:, 6]
    ok = (b >= 3) & (b <= 6) & (a == 1)
    return ok & ~(p2 & p4 & p6) & ~(p4 & p6 & p8), ok & ~(p2 & p4 & p8) & ~(p2 & p6 & p8)


def _corner_table() -> np.ndarray:
    """Codes of a removable staircase corner: simple, with two perpendicular 4-neighbours set.

    Zhang-Suen thinning leaves 4-connected staircases on slanted lines. A pixel with, say, its
    N and E neighbours set is redundant for 8-connectivity (those two touch diagonally) and is
    no end point; removing such corners (the staircase removal of Holt et al., "An improved
    parallel thinning algorithm", Comm. ACM 30(2), 1987) leaves an 8-thin line. Simple means
    removing the pixel merges or splits nothing: with x1..x8 the neighbours anticlockwise from
    east, the connectivity number ``sum_i (not x_{2i-1}) and (x_{2i} or x_{2i+1})`` is 1.
    """
    bits = _code_bits()
    x = bits[:, [_E, _NE, _N, _NW, _W, _SW, _S, _SE]]
    odd, even = x[:, 0::2], x[:, 1::2]  # 4-neighbours x1 x3 x5 x7, diagonals x2 x4 x6 x8
    simple = (~odd & (even | np.roll(odd, -1, axis=1))).sum(axis=1) == 1
    n, e, s, w = bits[:, _N], bits[:, _E], bits[:, _S], bits[:, _W]
    return simple & ((n & e) | (e & s) | (s & w) | (w & n))


_REMOVE = _zhang_suen_tables()
_CORNER = _corner_table()
# the four pixels of an isolated 2 x 2 square (top-left, top-right, bottom-left, bottom-right):
# every one passes both sub-iterations, so the square would vanish; its top-left pixel stays
_SQUARE = (_code(_E, _SE, _S), _code(_W, _SW, _S), _code(_N, _NE, _E), _code(_NW, _N, _W))


def _neighbour_offsets(stride: int) -> np.ndarray:
    """Flat offsets of the 8 neighbours in code bit order (NW, N, NE, E, SE, S, SW, W)."""
    return np.array([-stride - 1, -stride, -stride + 1, 1, stride + 1, stride, stride - 1, -1], dtype=np.int64)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    # np.unique imports numpy.ma on first use (~15 ms of a cold start)
    a = np.sort(a)
    return a[np.r_[True, a[1:] != a[:-1]]] if a.size else a


def skeletonize(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide, 8-connected skeleton of a binary image.

    Zhang-Suen parallel thinning with Lü and Wang's bound (:func:`_zhang_suen_tables`): within
    a sub-iteration every pixel is judged on the image as it was at its start (removals are
    simultaneous), and the two sub-iterations alternate until a full iteration removes nothing.
    A sub-iteration only re-judges pixels whose neighbourhood changed since it last judged them
    (a pixel with all 8 neighbours set never goes), so the cost follows the removed pixels, not
    the image size. An isolated 2 x 2 square keeps one pixel. Then staircase corners
    (:func:`_corner_table`) go, one quarter of the pixels at a time (even/odd row x even/odd
    column): no two of them are neighbours, so the parallel removal equals a sequential one of
    simple pixels and cannot split, merge or open anything. The skeleton has as many
    8-connected components (and holes) as the mask.

    Guo and Hall's 1989 algorithm A1 was tried too: as clean, but its branches stop shorter in
    thick strokes (6 % fewer pixels than scikit-image's skeleton on K-MNIST, against 2 % here),
    which cost the brush-stroke vectoriser fidelity.

    Args:
        mask: ``(H, W)`` bool (or 0/1) array; outside the image is background.

    Returns:
        ``(H, W)`` bool skeleton, a subset of ``mask``.
    """
    mask = _check_mask(mask)
    h, w = mask.shape
    flat, stride = _padded_flat(mask)
    if compiled.active():
        compiled.thin(flat, stride)
        return flat.reshape(h + 2, w + 2)[1:-1, 1:-1].astype(bool)
    offsets = _neighbour_offsets(stride)
    weights = (1 << np.arange(8)).astype(np.uint8)

    def codes(idx: np.ndarray) -> np.ndarray:
        return (flat[idx[:, None] + offsets[None, :]] * weights).sum(axis=1, dtype=np.int64)

    def neighbours_left(dead: np.ndarray) -> np.ndarray:
        touched = (dead[:, None] + offsets[None, :]).ravel()
        return _sorted_unique(touched[flat[touched] != 0])

    ink = np.flatnonzero(flat)
    border = ink[codes(ink) != 255]  # a pixel with all 8 neighbours set never goes
    # per sub-iteration, the pixels whose neighbourhood changed since that sub-iteration last
    # judged them (the others would get the same answer)
    dirty = [border, border]
    while True:
        removed_any = False
        for p, remove in enumerate(_REMOVE):
            cand = dirty[p]
            if cand.size == 0:
                continue
            code = codes(cand)
            gone = remove[code]
            tl = cand[gone & (code == _SQUARE[0])]
            if tl.size:
                kept = tl[(codes(tl + 1) == _SQUARE[1]) & (codes(tl + stride) == _SQUARE[2])
                          & (codes(tl + stride + 1) == _SQUARE[3])]
                gone[np.searchsorted(cand, kept)] = False  # cand is sorted
            if not gone.any():
                dirty[p] = cand[:0]
                continue
            removed_any = True
            dead = cand[gone]
            flat[dead] = 0
            touched = neighbours_left(dead)
            dirty[p] = touched
            other = dirty[1 - p]
            dirty[1 - p] = _sorted_unique(np.concatenate([other[flat[other] != 0], touched]))
        if not removed_any:
            break
    cand = np.flatnonzero(flat)
    while cand.size:
        quarter = (cand // stride % 2) * 2 + cand % 2
        dead_all = []
        for q in range(4):
            sel = cand[(quarter == q) & (flat[cand] != 0)]
            dead = sel[_CORNER[codes(sel)]]
            if dead.size:
                flat[dead] = 0
                dead_all.append(dead)
        cand = neighbours_left(np.concatenate(dead_all)) if dead_all else cand[:0]
    return flat.reshape(h + 2, w + 2)[1:-1, 1:-1].astype(bool)


def neighbour_count(mask: np.ndarray) -> np.ndarray:
    """Number of True 8-neighbours of each pixel (outside the image counts as False).

    Args:
        mask: ``(H, W)`` bool array.

    Returns:
        ``(H, W)`` int64 counts in ``0..8``.
    """
    mask = _check_mask(mask)
    h, w = mask.shape
    p = np.zeros((h + 2, w + 2), dtype=np.int64)
    p[1:-1, 1:-1] = mask
    total = np.zeros((h, w), dtype=np.int64)
    for dr in range(3):
        for dc in range(3):
            if dr != 1 or dc != 1:
                total += p[dr:dr + h, dc:dc + w]
    return total


def sample_bilinear(image: np.ndarray, rows: np.ndarray, cols: np.ndarray, cval: float = 0.0) -> np.ndarray:
    """Bilinear interpolation of an image at fractional (row, col) array coordinates.

    Pixel ``(i, j)`` sits at coordinate ``(i, j)``. A sample outside ``[0, H-1] x [0, W-1]`` is
    ``cval`` (no blending with the outside), as ``scipy.ndimage.map_coordinates(order=1,
    mode="constant")`` gives.

    Args:
        image: ``(H, W)`` float array.
        rows: any-shape row coordinates.
        cols: column coordinates, same shape as ``rows``.
        cval: value outside the image.

    Returns:
        float64 array of the shape of ``rows``.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"image: expected shape (H, W), got {img.shape}")
    r = np.asarray(rows, dtype=np.float64)
    c = np.asarray(cols, dtype=np.float64)
    if r.shape != c.shape:
        raise ValueError(f"rows and cols: expected the same shape, got {r.shape} and {c.shape}")
    h, w = img.shape
    inside = (r >= 0) & (r <= h - 1) & (c >= 0) & (c <= w - 1)
    rr, cc = np.where(inside, r, 0.0), np.where(inside, c, 0.0)
    r0 = np.minimum(np.floor(rr).astype(np.intp), max(h - 2, 0))
    c0 = np.minimum(np.floor(cc).astype(np.intp), max(w - 2, 0))
    fr, fc = rr - r0, cc - c0
    r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
    top = img[r0, c0] * (1.0 - fc) + img[r0, c1] * fc
    bottom = img[r1, c0] * (1.0 - fc) + img[r1, c1] * fc
    return np.where(inside, top * (1.0 - fr) + bottom * fr, cval)
