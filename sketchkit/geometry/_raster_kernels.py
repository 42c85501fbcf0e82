"""The compiled raster loops of :mod:`sketchkit.geometry.compiled` (numba). Importing this module
imports numba: only :func:`sketchkit.geometry.compiled.enable` does."""

from __future__ import annotations

import math

import numba
import numpy as np

jit = numba.njit(cache=True, nogil=True)
DIRECT_STEPS = 16  # see squared_distance_to_background


@jit
def squared_distance_to_background(mask):
    """``(H, W)`` int64 squared Euclidean distance from each True pixel of ``mask (H, W)`` to the
    nearest False one, outside the image counting as False (exact: integer arithmetic)."""
    h, w = mask.shape
    # vertical distance to background in the same column (rows -1 and h count), row by row so
    # every pass runs over contiguous memory
    col = np.empty((h, w), dtype=np.int64)
    last = np.full(w, -1, dtype=np.int64)
    for r in range(h):
        for c in range(w):
            if not mask[r, c]:
                last[c] = r
            col[r, c] = r - last[c]
    last[:] = h
    for r in range(h - 1, -1, -1):
        for c in range(w):
            if not mask[r, c]:
                last[c] = r
            col[r, c] = min(col[r, c], last[c] - r)
    out = np.empty((h, w), dtype=np.int64)
    n = w + 2  # columns -1 and w are outside: background, squared distance 0
    f = np.zeros(n, dtype=np.int64)
    v = np.empty(n, dtype=np.int64)
    z = np.empty(n + 1)
    for r in range(h):
        for c in range(w):
            f[c + 1] = col[r, c] * col[r, c]
        # near background (lines: every pixel), min over offsets 1, 2, .. while one could still
        # improve; a row where that takes over DIRECT_STEPS offsets takes the envelope instead
        direct = True
        for c in range(w):
            best = f[c + 1]
            step = 1
            while step * step < best:
                if step > DIRECT_STEPS:
                    direct = False
                    break
                lo = f[c + 1 - step] if c - step >= -1 else 0
                hi = f[c + 1 + step] if c + step <= w else 0
                best = min(best, min(lo, hi) + step * step)
                step += 1
            if not direct:
                break
            out[r, c] = best
        if direct:
            continue
        # lower envelope of the parabolas f[p] + (q - p)^2 (Felzenszwalb & Huttenlocher 2012)
        k = 0
        v[0] = 0
        z[0] = -np.inf
        z[1] = np.inf
        for q in range(1, n):
            p = v[k]
            s = ((f[q] + q * q) - (f[p] + p * p)) / (2.0 * (q - p))
            while s <= z[k]:  # z[0] = -inf ends it
                k -= 1
                p = v[k]
                s = ((f[q] + q * q) - (f[p] + p * p)) / (2.0 * (q - p))
            k += 1
            v[k] = q
            z[k] = s
            z[k + 1] = np.inf
        k = 0
        for q in range(1, n - 1):
            while z[k + 1] < q:
                k += 1
            p = v[k]
            out[r, q - 1] = (q - p) * (q - p) + f[p]
    return out


@jit
def border_centre(offs, vals, outside, width):
    """:func:`sketchkit.vectorize.pieces._border_centre` for one point: the centre's offset
    across a line the image border cuts, or NaN where there is none. ``offs`` ``(k,)`` increasing."""
    k = offs.shape[0]
    pos = neg = False
    for j in range(k):
        if outside[j]:
            if offs[j] > 0.0:
                pos = True
            elif offs[j] < 0.0:
                neg = True
    if pos == neg:
        return np.nan
    s = 1.0 if pos else -1.0
    # the inside sample nearest the border on its side must still be ink
    side = -1
    for j in range(k):
        if not outside[j] and s * offs[j] > 0.0 and (side < 0 or s * offs[j] > s * offs[side]):
            side = j
    if side >= 0 and vals[side] < 0.5:
        return np.nan
    # from the centre inwards (away from the border): the first inside sample below half ink
    a = -1
    j = k - 1 if s > 0.0 else 0
    step = -1 if s > 0.0 else 1
    while 0 <= j < k:
        if not outside[j] and s * offs[j] <= 0.0:
            if vals[j] < 0.5:
                if a < 0:
                    return np.nan
                edge = offs[a] + (vals[a] - 0.5) / (vals[a] - vals[j]) * (offs[j] - offs[a])
                return min(max(edge + s * 0.5 * width, -0.5 * width), 0.5 * width)
            a = j
        j += step
    return np.nan


@jit
def _room(pixels, bounds, size, count, n_pix):
    """``pixels`` and ``bounds`` grown if needed to hold one more chain (at most ``n_pix + 1`` pixels)."""
    if size + n_pix + 2 > pixels.shape[0]:
        pixels = np.concatenate((pixels, np.empty(pixels.shape[0] + n_pix + 2, dtype=np.int64)))
    if count + 2 > bounds.shape[0]:
        bounds = np.concatenate((bounds, np.zeros(bounds.shape[0], dtype=np.int64)))
    return pixels, bounds


@jit
def walk_chains(nbr, node_of, link_a, link_b):
    """The chain walks of :func:`sketchkit.geometry.skeleton._build_graph` over a skeleton's
    pixel links: ``nbr (N, 8)`` linked neighbour per offset (or -1), ``node_of (N,)`` node id of
    each pixel (-1: a two-link pixel), ``link_a``/``link_b (N,)`` a two-link pixel's links.

    Returns:
        ``(pixels, bounds, n_edges)``: edge ``e`` is ``pixels[bounds[e]:bounds[e + 1]]`` (from its
        first node pixel to its last, in the order the Python walk finds them); the node-free
        loops follow as the chains after ``n_edges``, each closed by its first pixel again.
    """
    n_pix = nbr.shape[0]
    pixels = np.empty(2 * n_pix + 16, dtype=np.int64)
    bounds = np.zeros(n_pix + 2, dtype=np.int64)
    size = 0
    count = 0
    used = set()  # first and last links (p, q) of the chains walked, as p * n_pix + q
    used.add(-1)
    seen = np.zeros(n_pix, dtype=np.bool_)
    for p in range(n_pix):
        if node_of[p] < 0:
            continue
        for j in range(8):
            q = nbr[p, j]
            if q < 0 or (p * n_pix + q) in used or node_of[q] == node_of[p]:
                continue
            pixels, bounds = _room(pixels, bounds, size, count, n_pix)
            pixels[size] = p
            pixels[size + 1] = q
            size += 2
            prev, cur = p, q
            while node_of[cur] < 0:  # a two-link pixel
                v = link_a[cur] if link_a[cur] != prev else link_b[cur]
                pixels[size] = v
                size += 1
                prev, cur = cur, v
            used.add(p * n_pix + q)
            used.add(q * n_pix + p)
            used.add(prev * n_pix + cur)
            used.add(cur * n_pix + prev)
            for k in range(bounds[count], size):
                seen[pixels[k]] = True
            count += 1
            bounds[count] = size
    n_edges = count
    for p in range(n_pix):  # loops without nodes
        if seen[p] or node_of[p] >= 0:
            continue
        pixels, bounds = _room(pixels, bounds, size, count, n_pix)
        pixels[size] = p
        size += 1
        seen[p] = True
        cur = p
        while True:
            a, b = link_a[cur], link_b[cur]
            v = a if not seen[a] else (b if not seen[b] else -1)
            if v < 0:
                break
            seen[v] = True
            pixels[size] = v
            size += 1
            cur = v
        pixels[size] = p
        size += 1
        count += 1
        bounds[count] = size
    return pixels[:size], bounds[: count + 1], n_edges


@jit
def _code(flat, i, offsets):
    c = 0
    for b in range(8):
        if flat[i + offsets[b]]:
            c |= 1 << b
    return c


@jit
def thin(flat, stride, remove_first, remove_second, corner, square):
    """:func:`sketchkit.geometry.morphology.skeletonize` on its padded flat ``uint8`` mask, in
    place: the parallel sub-iterations judge every ink pixel on the image as it was at their
    start; the staircase corners go a quarter at a time, each round judging the ink neighbours
    of the previous round's removals (as the numpy version does, so the result is the same)."""
    offsets = np.array([-stride - 1, -stride, -stride + 1, 1, stride + 1, stride, stride - 1, -1])
    n = flat.shape[0]
    dead = np.empty(n, dtype=np.int64)
    while True:
        removed_any = False
        for sub in range(2):
            remove = remove_first if sub == 0 else remove_second
            count = 0
            for i in range(n):
                if flat[i] == 0:
                    continue
                c = _code(flat, i, offsets)
                if not remove[c]:
                    continue
                if (c == square[0] and _code(flat, i + 1, offsets) == square[1]
                        and _code(flat, i + stride, offsets) == square[2]
                        and _code(flat, i + stride + 1, offsets) == square[3]):
                    continue  # an isolated 2 x 2 square keeps its top-left pixel
                dead[count] = i
                count += 1
            for k in range(count):
                flat[dead[k]] = 0
            if count:
                removed_any = True
        if not removed_any:
            break
    cand = flat != 0
    while True:
        count = 0
        for q in range(4):
            for i in range(n):
                if cand[i] and flat[i] and (i // stride % 2) * 2 + i % 2 == q and corner[_code(flat, i, offsets)]:
                    flat[i] = 0
                    dead[count] = i
                    count += 1
        if count == 0:
            break
        cand[:] = False
        for k in range(count):
            for b in range(8):
                j = dead[k] + offsets[b]
                if flat[j]:
                    cand[j] = True


@jit
def _bilinear(img, r, c):
    """:func:`sketchkit.geometry.morphology.sample_bilinear` at one point (0 outside)."""
    h, w = img.shape
    if not (r >= 0.0 and r <= h - 1 and c >= 0.0 and c <= w - 1):
        return 0.0
    r0 = min(int(math.floor(r)), max(h - 2, 0))
    c0 = min(int(math.floor(c)), max(w - 2, 0))
    fr, fc = r - r0, c - c0
    r1, c1 = min(r0 + 1, h - 1), min(c0 + 1, w - 1)
    top = img[r0, c0] * (1.0 - fc) + img[r0, c1] * fc
    bottom = img[r1, c0] * (1.0 - fc) + img[r1, c1] * fc
    return top * (1.0 - fr) + bottom * fr


@jit
def centre(pts, ink, width, max_shift, closed):
    """:func:`sketchkit.vectorize.pieces._centre` for ``pts (n, 2)`` (x, y) px, ``n >= 3``: each point
    moved along its normal to the ink centroid of samples across the line (or, where the image
    border cuts the line, half a width beyond its inner edge), at most ``max_shift`` px."""
    n = pts.shape[0]
    h, w = ink.shape
    half = 0.5 * width + 1.0
    m = int(math.floor((2.0 * half + 0.01) / 0.25)) + 1
    offs = np.empty(m)
    count = 0
    for j in range(m):  # np.arange(-half, half + 0.01, 0.25)
        o = -half + j * 0.25
        if o < half + 0.01:
            offs[count] = o
            count += 1
    offs = offs[:count]
    vals = np.empty(count)
    outside = np.empty(count, dtype=np.bool_)
    out = pts.copy()
    ring = n - 1 if closed else n
    for i in range(n):
        if closed:
            ii = i % ring
            tx = pts[(ii + 2) % ring, 0] - pts[(ii - 2) % ring, 0]
            ty = pts[(ii + 2) % ring, 1] - pts[(ii - 2) % ring, 1]
        else:
            tx = pts[min(i + 2, n - 1), 0] - pts[max(i - 2, 0), 0]
            ty = pts[min(i + 2, n - 1), 1] - pts[max(i - 2, 0), 1]
        norm = math.sqrt(tx * tx + ty * ty)
        if not norm > 1e-9:
            continue
        nx, ny = -ty / norm, tx / norm
        total = 0.0
        moment = 0.0
        any_out = False
        for j in range(count):
            sx = pts[i, 0] + offs[j] * nx
            sy = pts[i, 1] + offs[j] * ny
            v = _bilinear(ink, sy - 0.5, sx - 0.5)
            vals[j] = v
            total += v
            moment += v * offs[j]
            outside[j] = sx < 0.5 or sx > w - 0.5 or sy < 0.5 or sy > h - 0.5
            any_out = any_out or outside[j]
        shift = moment / max(total, 1e-9) if total > 1e-9 else 0.0
        shift = min(max(shift, -max_shift), max_shift)
        if any_out:
            at_border = border_centre(offs, vals, outside, width)
            if not math.isnan(at_border):
                shift = at_border
        out[i, 0] = pts[i, 0] + shift * nx
        out[i, 1] = pts[i, 1] + shift * ny
    if closed:
        out[n - 1, 0], out[n - 1, 1] = out[0, 0], out[0, 1]
    return out


@jit
def _interp(s, cum, pts, axis):
    """``np.interp(s, cum, pts[:, axis])`` for ``cum[0] <= s <= cum[-1]`` (cum non-decreasing)."""
    n = cum.shape[0]
    if s >= cum[n - 1]:
        return pts[n - 1, axis]
    lo, hi = 0, n - 1  # the last j with cum[j] <= s
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if cum[mid] <= s:
            lo = mid
        else:
            hi = mid
    slope = (pts[lo + 1, axis] - pts[lo, axis]) / (cum[lo + 1] - cum[lo])
    v = slope * (s - cum[lo]) + pts[lo, axis]
    if math.isnan(v):
        v = slope * (s - cum[lo + 1]) + pts[lo + 1, axis]
        if math.isnan(v) and pts[lo, axis] == pts[lo + 1, axis]:
            v = pts[lo, axis]
    return v


@jit
def direction(pts, skip, reach):
    """:func:`sketchkit.geometry.skeleton._direction`: unit ``(2,)`` direction leaving ``pts[0]`` of
    ``pts (n, 2)``, between arc lengths ``skip`` and ``skip + reach`` (zeros for a zero-length path)."""
    n = pts.shape[0]
    cum = np.zeros(n)
    for i in range(1, n):
        dx = pts[i, 0] - pts[i - 1, 0]
        dy = pts[i, 1] - pts[i - 1, 1]
        cum[i] = cum[i - 1] + math.sqrt(dx * dx + dy * dy)
    out = np.zeros(2)
    total = cum[n - 1]
    if total <= 0.0:
        return out
    s0 = min(skip, total * 0.3)
    s1 = min(skip + reach, total)
    vx = _interp(s1, cum, pts, 0) - _interp(s0, cum, pts, 0)
    vy = _interp(s1, cum, pts, 1) - _interp(s0, cum, pts, 1)
    norm = math.sqrt(vx * vx + vy * vy)
    if norm > 0.0:
        out[0] = vx / norm
        out[1] = vy / norm
    return out


@jit
def histogram(flat, first, last, edges):
    """``np.histogram(flat, bins=edges)`` for ``edges`` even from ``first`` to ``last`` (the
    min and max of ``flat``): the same bin of every value as numpy's equal-bin path gives."""
    nbins = edges.shape[0] - 1
    counts = np.zeros(nbins, dtype=np.int64)
    denom = last - first
    for x in flat:
        i = int(((x - first) / denom) * nbins)
        if i == nbins:
            i -= 1
        if x < edges[i]:  # the index is not exact within ~1 ULP of an edge
            i -= 1
        if x >= edges[i + 1] and i != nbins - 1:
            i += 1
        counts[i] += 1
    return counts


@jit
def median(flat):
    """Median of a non-empty float64 array (the mean of the two middle values for an even count)."""
    return np.median(flat)


@jit
def label(mask):
    """8-connected components of ``mask (H, W)``: ``(labels (H, W) int32, n)``, numbered ``1..n``
    in the raster order of each component's first pixel (as ``label_components``)."""
    h, w = mask.shape
    labels = np.zeros((h, w), dtype=np.int32)
    stack = np.empty(h * w, dtype=np.int64)
    n = 0
    for r0 in range(h):
        for c0 in range(w):
            if not mask[r0, c0] or labels[r0, c0]:
                continue
            n += 1
            labels[r0, c0] = n
            top = 0
            stack[0] = r0 * w + c0
            top = 1
            while top:
                top -= 1
                r, c = divmod(stack[top], w)
                for dr in range(-1, 2):
                    rr = r + dr
                    if rr < 0 or rr >= h:
                        continue
                    for dc in range(-1, 2):
                        cc = c + dc
                        if 0 <= cc < w and mask[rr, cc] and not labels[rr, cc]:
                            labels[rr, cc] = n
                            stack[top] = rr * w + cc
                            top += 1
    return labels, n
