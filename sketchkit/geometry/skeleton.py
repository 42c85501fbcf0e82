"""Ink mask -> centreline skeleton -> ordered stroke paths (pixel coordinates, y down).

The skeleton (:func:`sketchkit.geometry.morphology.skeletonize`, Zhang-Suen thinning close to
``skimage.morphology.skeletonize``) is read as a graph:

1. **Pixels and links.** Skeleton pixels are linked to their 8 neighbours, except a diagonal
   link whose two pixels already share a 4-connected neighbour (those triangles would fake
   junctions on staircase lines).
2. **Nodes and edges.** Pixels with one link are *ends*; pixels with three or more are junction
   pixels, and 8-connected junction pixels form one *junction* node. Edges are the chains of
   two-link pixels between nodes; closed chains without a node are loops.
3. **Clean-up** (repeated until nothing changes): two junctions joined by an edge shorter than
   twice the stroke width (at least 4 px) are merged (an X crossing skeletonises as two Y junctions with a short
   bridge); *spurs* — edges from a junction to a free end shorter than ``spur_length`` — are
   dropped, unless the spur prolongs exactly one other edge there (a stroke overshooting the
   line it ends on by a px or two, as at the corners of a box drawn in several strokes: dropping
   it would join the two strokes round the corner); a junction left with two edges dissolves and
   its edges join. With the ink's distance
   transform (``radius``, for thick or variable-width strokes) both rules are local instead: a
   bridge merges only below the junctions' mean ink radius, and a spur goes only when its ink
   reaches less than ``max(2, SPUR_REACH * r)`` px beyond its junction's disc (radius ``r``, or
   the median radius of the widest other edge there when smaller: the strokes as drawn).
4. **Pairing at junctions.** Each edge leaving a junction gets a direction measured between
   ``width`` and ``width + reach`` px from the junction (skipping the distorted core). Edge ends
   are paired greedily by how straight they continue (angle between one direction and the
   reverse of the other), below ``max_turn_deg``; a pen stroke crossing another (X) or the top
   bar of a T thus stays one path. Unpaired ends stop at the junction.
5. **Paths.** Chains of paired edges become paths (the points within ``width / 2`` of a junction
   a path passes through are replaced by the straight join of both sides); leftover chains are
   closed loops. Paths are oriented and ordered deterministically (see :func:`trace_paths`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sketchkit.geometry import compiled
from sketchkit.geometry.morphology import median

SPUR_REACH = 0.25  # local spur rule: ink reach beyond the junction disc, in junction radii
# width-based spur rule: a short spur is kept when it prolongs one edge at its junction (turn at
# most SPUR_KEEP_TURN_DEG) and every other edge there turns by more than SPUR_OTHER_TURN_DEG into it
SPUR_KEEP_TURN_DEG = 30.0
SPUR_OTHER_TURN_DEG = 45.0
SPUR_MIN_CORNER_DEG = 60.0  # ... and that edge meets every other one there at this angle or wider

__all__ = ["skeleton_paths", "trace_paths", "estimate_stroke_width", "ink_radius", "path_width", "line_statistics"]

_OFFSETS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


def ink_radius(mask: np.ndarray) -> np.ndarray:
    """Distance (px) from each ink pixel centre to the nearest background pixel centre.

    Outside the image counts as background. A line ``w`` px wide has about ``(w + 1) / 2`` on
    its centre pixels.

    Args:
        mask: ``(H, W)`` bool ink mask.

    Returns:
        ``(H, W)`` float64, 0 on background.
    """
    from sketchkit.geometry.morphology import distance_to_background

    return distance_to_background(np.asarray(mask, dtype=bool))


def estimate_stroke_width(mask: np.ndarray, skeleton: np.ndarray | None = None,
                          radius: np.ndarray | None = None) -> float:
    """Line width in px from the distance transform sampled on the skeleton.

    A line ``w`` px wide has its centre pixel about ``(w + 1) / 2`` px from the nearest background
    pixel centre, so the width is ``2 * median(distance on skeleton) - 1`` (at least 1). Below
    4 px those distances are too coarse, and the ink area divided by the centreline length is
    used instead.

    Args:
        mask: ``(H, W)`` bool ink mask.
        skeleton: its skeleton (computed when ``None``).
        radius: its :func:`ink_radius` (computed when ``None``).

    Returns:
        Estimated width in px (``1.0`` for an empty mask).
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return 1.0
    if skeleton is None:
        from sketchkit.geometry.morphology import skeletonize

        skeleton = skeletonize(mask)
    dist = ink_radius(mask) if radius is None else radius
    vals = dist[skeleton]
    if vals.size == 0:
        return 1.0
    by_distance = 2.0 * median(vals) - 1.0
    # area / centreline length: finer than the integer-ish distances on thin (2-4 px) lines;
    # a skeleton pixel stands for ~1.1 px of length on average over directions
    by_area = float(mask.sum()) / (1.1 * float(skeleton.sum()))
    return float(max(1.0, by_area if by_distance < 4.0 else by_distance))


def path_width(path: np.ndarray, radius: np.ndarray, fallback: float) -> float:
    """Stroke width in px of one traced path, from the distance transform along it.

    Like :func:`estimate_stroke_width` but over the path's own pixels: ``2 * median(radius) - 1``.
    Below 4 px the distances are too coarse to tell widths apart and ``fallback`` (the
    whole-image estimate) is used when it is below 4 px as well.

    Args:
        path: ``(n, 2)`` (x, y) pixel-centre coordinates (as :func:`trace_paths` gives them).
        radius: ``(H, W)`` :func:`ink_radius` of the mask the path was traced on.
        fallback: the width to use for thin strokes (px).

    Returns:
        Width in px, at least 1.
    """
    h, w = radius.shape
    cols = np.clip(np.floor(path[:, 0]).astype(np.intp), 0, w - 1)
    rows = np.clip(np.floor(path[:, 1]).astype(np.intp), 0, h - 1)
    vals = radius[rows, cols]
    vals = vals[vals > 0]
    if vals.size == 0:
        return float(max(1.0, fallback))
    by_distance = 2.0 * median(vals) - 1.0
    if by_distance < 4.0 and fallback < 4.0:
        return float(max(1.0, fallback))
    return float(max(1.0, by_distance))


def line_statistics(mask: np.ndarray, skeleton: np.ndarray, components: int | None = None) -> dict[str, float]:
    """Cheap whole-image measures that tell a line drawing from a texture, a photo or filled areas.

    All are ``O(pixels)`` numpy passes (no graph), so they can run before tracing.

    Args:
        mask: ``(H, W)`` bool ink mask.
        skeleton: ``(H, W)`` bool skeleton of ``mask``.
        components: the number of 8-connected ink regions of ``mask`` when the caller already
            has it (counted here otherwise).

    Returns:
        ``ink_fraction`` (ink pixels / all pixels), ``skeleton_pixels``, ``junction_density``
        (skeleton pixels with 3+ skeleton neighbours / skeleton pixels: 0.01-0.14 on drawn lines,
        dense scribbles included; ~0.2 on photo texture, ~0.7 on noise), ``mean_width`` (ink pixels / centreline length, px),
        ``width_fraction`` (``mean_width`` / the image's shorter side) and ``components``
        (8-connected ink regions).
    """
    from sketchkit.geometry.morphology import label_components, neighbour_count

    mask = np.asarray(mask, dtype=bool)
    skeleton = np.asarray(skeleton, dtype=bool)
    neighbours = neighbour_count(skeleton)
    n_skel = int(skeleton.sum())
    junctions = int(np.count_nonzero(skeleton & (neighbours >= 3)))
    ink = int(mask.sum())
    width = ink / (1.1 * n_skel) if n_skel else 0.0  # a skeleton pixel stands for ~1.1 px of length
    n_comp = label_components(mask)[1] if components is None else int(components)
    return {
        "ink_fraction": ink / float(mask.size) if mask.size else 0.0,
        "skeleton_pixels": float(n_skel),
        "junction_density": junctions / n_skel if n_skel else 0.0,
        "mean_width": float(width),
        "width_fraction": float(width) / float(max(1, min(mask.shape))),
        "components": float(n_comp),
    }


@dataclass
class _Edge:
    a: int  # node id at the start
    b: int  # node id at the end
    pts: np.ndarray  # (m, 2) ordered (row, col) pixels from a to b, node pixels included
    alive: bool = True

    def length(self) -> float:
        if self.pts.shape[0] < 2:
            return 0.0
        return float(np.linalg.norm(np.diff(self.pts, axis=0), axis=1).sum())


def _links(skel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Skeleton pixels and their links (module docstring, step 1), for all pixels at once.

    Returns:
        ``(coords, nbr)``: ``(N, 2)`` int64 (row, col) of the skeleton pixels in raster order, and
        ``(N, 8)`` int64, per pixel and offset of ``_OFFSETS``, the linked neighbour's index or -1.
    """
    h, w = skel.shape
    stride = w + 2
    flat = np.zeros((h + 2, stride), dtype=bool)
    flat[1:-1, 1:-1] = skel
    flat = flat.reshape(-1)
    pix = np.flatnonzero(flat)
    offs = np.array([dr * stride + dc for dr, dc in _OFFSETS], dtype=np.int64)
    on = flat[pix[:, None] + offs[None, :]]  # (N, 8)
    for k, (dr, dc) in enumerate(_OFFSETS):
        if dr != 0 and dc != 0:  # diagonal link shortcut by a 4-connected pair
            on[:, k] &= ~(flat[pix + dr * stride] | flat[pix + dc])
    index = np.full(flat.size, -1, dtype=np.int64)
    index[pix] = np.arange(pix.size)
    nbr = np.where(on, index[pix[:, None] + offs[None, :]], -1)
    rows, cols = np.divmod(pix, stride)
    return np.stack([rows - 1, cols - 1], axis=1), nbr


def _build_graph(skel: np.ndarray):
    """Nodes, edges and node-free loops of a skeleton (module docstring, step 2).

    Pixels are numbered in raster order; Python loops run over node pixels and the pixels of
    chains (one list lookup each; compiled where :mod:`sketchkit.geometry.compiled` is enabled),
    the links come from :func:`_links`.
    """
    coords, nbr = _links(skel)
    n_pix = coords.shape[0]
    count = (nbr >= 0).sum(axis=1)
    # a two-link pixel's links, in offset order (the chain walk takes the one it did not come from)
    firsts = np.argsort(nbr < 0, axis=1, kind="stable")[:, :2]
    two = np.take_along_axis(nbr, firsts, axis=1)
    link_a, link_b = two[:, 0].tolist(), two[:, 1].tolist()
    node_of = [-1] * n_pix
    node_members: list[list[int]] = []
    # junction clusters: 8-connected junction pixels, numbered by their first pixel in raster order
    junction = np.flatnonzero(count >= 3)
    if junction.size:
        at = {(r, c): i for i, (r, c) in zip(junction.tolist(), coords[junction].tolist())}
        for p in junction.tolist():
            if node_of[p] >= 0:
                continue
            nid = len(node_members)
            stack, members = [p], []
            node_of[p] = nid
            while stack:
                u = stack.pop()
                members.append(u)
                r, c = coords[u].tolist()
                for dr, dc in _OFFSETS:
                    v = at.get((r + dr, c + dc))
                    if v is not None and node_of[v] < 0:
                        node_of[v] = nid
                        stack.append(v)
            node_members.append(sorted(members))
    for p in np.flatnonzero(count <= 1).tolist():
        node_of[p] = len(node_members)
        node_members.append([p])
    node_pixels = [[tuple(rc) for rc in coords[m].tolist()] for m in node_members]
    centres = [np.mean(coords[m].astype(np.float64), axis=0) for m in node_members]
    if compiled.active():
        pixels, bounds, n_edges = compiled.walk_chains(nbr, node_of, two[:, 0], two[:, 1])
        chains = np.split(coords[pixels].astype(np.float64), bounds[1:-1]) if bounds.size > 1 else []
        edges = [_Edge(node_of[int(pixels[bounds[k]])], node_of[int(pixels[bounds[k + 1] - 1])], chains[k])
                 for k in range(n_edges)]
        return edges, centres, chains[n_edges:], node_pixels
    edges: list[_Edge] = []
    used: set[tuple[int, int]] = set()  # first and last links of the chains walked
    seen = [False] * n_pix
    nbr_rows = nbr.tolist()
    for p in [i for i in range(n_pix) if node_of[i] >= 0]:
        for q in nbr_rows[p]:
            if q < 0 or (p, q) in used or node_of[q] == node_of[p]:
                continue
            chain = [p, q]
            prev, cur = p, q
            while node_of[cur] < 0:  # a two-link pixel
                v = link_a[cur] if link_a[cur] != prev else link_b[cur]
                chain.append(v)
                prev, cur = cur, v
            used.update(((p, q), (q, p), (prev, cur), (cur, prev)))
            for v in chain:
                seen[v] = True
            edges.append(_Edge(node_of[p], node_of[cur], coords[chain].astype(np.float64)))
    # loops without nodes
    loops = []
    for p in range(n_pix):
        if seen[p] or node_of[p] >= 0:
            continue
        chain, cur = [p], p
        seen[p] = True
        while True:
            v = link_a[cur] if not seen[link_a[cur]] else (link_b[cur] if not seen[link_b[cur]] else -1)
            if v < 0:
                break
            seen[v] = True
            chain.append(v)
            cur = v
        chain.append(p)
        loops.append(coords[chain].astype(np.float64))
    return edges, centres, loops, node_pixels


def _degree(edges: list[_Edge], n_nodes: int) -> np.ndarray:
    deg = np.zeros(n_nodes, dtype=int)
    for e in edges:
        if e.alive:
            deg[e.a] += 1
            deg[e.b] += 1
    return deg


def _simplify(edges: list[_Edge], centres: list[np.ndarray], width: float, spur_length: float,
              node_r: list[float] | None = None, radius: np.ndarray | None = None) -> list[_Edge]:
    """Merge short junction bridges, drop short spurs, dissolve two-edge nodes (module docstring, step 3).

    The rules apply one change at a time in a fixed priority: the first bridge (edge order), else
    the shortest spur (by ``(length, a, b)``), else the lowest two-edge node. The candidates sit in
    heaps checked lazily, so the cost is ``O(E log E)`` plus the relabelling at merges, not the
    ``O(E)`` rescan per change a plain loop needs (quadratic on noisy skeletons).

    Without ``node_r`` a spur shorter than ``spur_length`` still stays when it *prolongs* one
    edge at its junction: the spur's course (junction centre to tip) continues that edge within
    ``SPUR_KEEP_TURN_DEG`` while every other edge there turns by more than ``SPUR_OTHER_TURN_DEG``
    into it and meets that edge at ``SPUR_MIN_CORNER_DEG`` or wider. That is a stroke overshooting
    the line it meets or ends on (a T or an L corner drawn as two strokes, the stem poking out by
    a px or two), whose junction must stay to split the strokes there; a spur on the bisector of a
    sharp corner of one stroke (an artefact of thinning) prolongs both legs alike or sits between
    legs meeting at an acute angle, and one off a smooth line prolongs neither, so these go.

    With ``node_r`` (the ink radius at each node: largest distance-transform value over its
    pixels) the thresholds are local, for thick and variable-width strokes: a bridge merges only
    when it is shorter than both junctions' radii together (their inscribed discs overlap, as at an
    oblique X crossing), and a spur is dropped only when its ink reaches less than
    ``max(2, spur_reach * r_junction)`` px beyond the junction's disc (length + end radius -
    junction radius): a bump on the outline, not a stroke end. With ``radius`` (the ``(H, W)``
    ink radius) too, the disc is the one the strokes left there are drawn with: the junction
    radius, or the largest median ink radius along the junction's other edges where that is
    smaller. A brush junction is often a blob far wider than its strokes (a blot, a stroke's
    blunt end pressed down); a lobe of it reaching a few px beyond the blob's own disc still
    stood up to ~20 px beyond the drawn strokes, and dropping it lost that ink (K-MNIST: 5-10 px
    HD95 misses). A bump on a stroke's outline still goes (the stroke is as wide as its junction).
    """
    import heapq

    merge_length = max(4.0, 2.0 * width)
    cos_keep = math.cos(math.radians(SPUR_KEEP_TURN_DEG))
    cos_other = math.cos(math.radians(SPUR_OTHER_TURN_DEG))
    cos_corner = math.cos(math.radians(SPUR_MIN_CORNER_DEG))
    skip, reach = 0.75 * width, max(3.0 * width, 6.0)  # as the pairing in `trace_paths` measures
    local = node_r is not None
    if local:
        node_r = list(node_r)
    lengths = [e.length() for e in edges]
    edge_r: dict[int, float] = {}

    def drawn_r(i: int) -> float:
        # median ink radius along edge i (px): about half the width its stroke is drawn with
        if i not in edge_r:
            pts = edges[i].pts.astype(np.intp)
            edge_r[i] = float(median(radius[pts[:, 0], pts[:, 1]])) if pts.size else 0.0
        return edge_r[i]
    deg = _degree(edges, len(centres)).tolist()
    incident: list[set[int]] = [set() for _ in centres]
    for i, e in enumerate(edges):
        incident[e.a].add(i)
        incident[e.b].add(i)

    def is_bridge(i: int) -> bool:
        e = edges[i]
        if not (e.alive and e.a != e.b and deg[e.a] >= 3 and deg[e.b] >= 3 and lengths[i] < merge_length):
            return False
        return not local or lengths[i] < max(4.0, 0.5 * (node_r[e.a] + node_r[e.b]))

    def prolongs(i: int, tip: int, core: int) -> bool:
        # the spur's course (junction centre -> tip) continues exactly one other edge at the junction
        v = centres[tip] - centres[core]
        n = float(np.hypot(v[0], v[1]))
        if n <= 0 or deg[core] > 16:
            return False
        ds = [_direction(edges[j].pts if edges[j].a == core else edges[j].pts[::-1], skip, reach)
              for j in incident[core] if j != i and edges[j].a != edges[j].b]
        cs = [-float(d @ v) / n for d in ds]
        if not cs:
            return False
        k = int(np.argmax(cs))
        # ... and meets every other edge at a wide angle (a sharp corner's legs make thinning spurs)
        return cs[k] >= cos_keep and all(c < cos_other and float(d @ ds[k]) <= cos_corner
                                         for m, (c, d) in enumerate(zip(cs, ds)) if m != k)

    def is_spur(i: int) -> bool:
        e = edges[i]
        if not (e.alive and e.a != e.b and lengths[i] < spur_length
                and ((deg[e.a] == 1 and deg[e.b] >= 3) or (deg[e.b] == 1 and deg[e.a] >= 3))):
            return False
        tip, core = (e.a, e.b) if deg[e.a] == 1 else (e.b, e.a)
        if not local:
            return not prolongs(i, tip, core)
        return lengths[i] + node_r[tip] - cover(i, core) < max(2.0, SPUR_REACH * node_r[core])

    def cover(i: int, core: int) -> float:
        # how far the strokes left at the junction reach from its centre once drawn: the
        # junction's disc, or less where the junction is a blob wider than those strokes
        others = [drawn_r(j) for j in incident[core] if j != i] if radius is not None else []
        return min(node_r[core], max(others)) if others else node_r[core]

    # A bridge or spur that stops qualifying never qualifies again (degrees only fall, except at
    # a merge, whose nodes already had >= 3 edges), so lazy deletion on pop is exact; new
    # candidates come only from new edges and from relabelled ends (pushed again). The one
    # exception, a short spur kept for prolonging an edge, is pushed again whenever its
    # junction loses an edge or merges; with ``radius``, a spur is also pushed again when its
    # junction gains an edge (which may draw wider there).
    bridges = [i for i in range(len(edges)) if lengths[i] < merge_length]
    heapq.heapify(bridges)
    spurs = [(lengths[i], e.a, e.b, i) for i, e in enumerate(edges) if lengths[i] < spur_length]
    heapq.heapify(spurs)
    twos = [n for n in range(len(centres)) if deg[n] == 2]
    heapq.heapify(twos)

    def add_edge(e: _Edge) -> None:
        i = len(edges)
        edges.append(e)
        lengths.append(e.length())
        incident[e.a].add(i)
        incident[e.b].add(i)
        deg[e.a] += 1
        deg[e.b] += 1
        if lengths[i] < merge_length:
            heapq.heappush(bridges, i)
        if lengths[i] < spur_length:
            heapq.heappush(spurs, (lengths[i], e.a, e.b, i))
        if radius is not None:
            for j in incident[e.a] | incident[e.b]:
                heapq.heappush(spurs, (lengths[j], edges[j].a, edges[j].b, j))

    def kill(i: int) -> None:
        e = edges[i]
        e.alive = False
        incident[e.a].discard(i)
        incident[e.b].discard(i)
        for n in (e.a, e.b):
            deg[n] -= 1
            if deg[n] == 2:
                heapq.heappush(twos, n)
            if not local and deg[n] <= 16:
                for j in incident[n]:  # a kept spur may have lost the edge it prolonged: judge it again
                    if lengths[j] < spur_length:
                        heapq.heappush(spurs, (lengths[j], edges[j].a, edges[j].b, j))

    while True:
        # 1. merge junctions joined by a short edge
        while bridges and not is_bridge(bridges[0]):
            heapq.heappop(bridges)
        if bridges:
            i = heapq.heappop(bridges)
            e = edges[i]
            e.alive = False
            keep, gone = min(e.a, e.b), max(e.a, e.b)
            centres[keep] = (centres[keep] + centres[gone]) / 2.0
            if local:  # the radius grew: keep's own edges may now be bridges or spurs
                node_r[keep] = max(node_r[keep], node_r[gone])
                for j in incident[keep]:
                    heapq.heappush(bridges, j)
                    heapq.heappush(spurs, (lengths[j], edges[j].a, edges[j].b, j))
            else:  # the centre moved: a kept spur of keep's is judged again
                for j in incident[keep]:
                    if lengths[j] < spur_length:
                        heapq.heappush(spurs, (lengths[j], edges[j].a, edges[j].b, j))
            incident[keep].discard(i)
            incident[gone].discard(i)
            deg[keep] += deg[gone] - 2
            deg[gone] = 0
            for j in incident[gone]:
                f = edges[j]
                if f.a == gone:
                    f.a = keep
                if f.b == gone:
                    f.b = keep
                incident[keep].add(j)
                if lengths[j] < spur_length:
                    heapq.heappush(spurs, (lengths[j], f.a, f.b, j))
            incident[gone] = set()
            continue
        # 2. drop the shortest spur (junction -> free end)
        while spurs:
            length, a, b, i = spurs[0]
            if (a, b) == (edges[i].a, edges[i].b) and is_spur(i):
                break
            heapq.heappop(spurs)
        if spurs:
            kill(heapq.heappop(spurs)[3])
            continue
        # 3. dissolve the lowest two-edge node (not a free end; a loop hanging on its node stays)
        while twos:
            node = twos[0]
            if deg[node] == 2 and len(incident[node]) == 2:
                break
            heapq.heappop(twos)
        if not twos:
            break
        node = heapq.heappop(twos)
        i1, i2 = sorted(incident[node])
        e1, e2 = edges[i1], edges[i2]
        p1 = e1.pts if e1.b == node else e1.pts[::-1]
        p2 = e2.pts if e2.a == node else e2.pts[::-1]
        a = e1.a if e1.b == node else e1.b
        b = e2.b if e2.a == node else e2.a
        kill(i1)
        kill(i2)
        add_edge(_Edge(a, b, np.concatenate([p1, p2[1:]])))
    return [e for e in edges if e.alive]


def _direction(pts: np.ndarray, skip: float, reach: float) -> np.ndarray:
    """Unit direction leaving ``pts[0]``, measured between arc lengths ``skip`` and ``skip + reach``."""
    if compiled.active():
        return compiled.direction(pts, skip, reach)
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = cum[-1]
    if total <= 0:
        return np.zeros(2)
    s0 = min(skip, total * 0.3)
    s1 = min(skip + reach, total)
    p0 = np.array([np.interp(s0, cum, pts[:, 0]), np.interp(s0, cum, pts[:, 1])])
    p1 = np.array([np.interp(s1, cum, pts[:, 0]), np.interp(s1, cum, pts[:, 1])])
    v = p1 - p0
    n = np.linalg.norm(v)
    return v / n if n > 0 else np.zeros(2)


def trace_paths(skel: np.ndarray, *, width: float = 3.0, spur_length: float | None = None,
                max_turn_deg: float = 70.0, with_ends: bool = False, max_junction_ends: int = 16,
                radius: np.ndarray | None = None) -> list:
    """Ordered stroke paths of a skeleton (see the module docstring for the method).

    Args:
        skel: ``(H, W)`` bool one-pixel-wide skeleton.
        width: stroke width in px (junction core size, short-bridge length).
        spur_length: spurs shorter than this are dropped (default ``max(2, 1.5 * width)``).
        max_turn_deg: largest direction change for two edges to continue through a junction.
        with_ends: also say which path ends are free line ends (not at a junction, not closed).
        max_junction_ends: a junction with more edge ends than this (a merged cluster in a
            texture, never a pen crossing) pairs none of them, which keeps the cost linear.
        radius: ``(H, W)`` distance transform of the ink mask (px to the nearest background
            pixel): bridges and spurs are then judged by the local ink radius at their junctions
            (for thick, variable-width strokes; see ``_simplify``) instead of by ``width`` alone,
            and ``spur_length`` defaults to no limit.

    Returns:
        List of ``(n_i, 2)`` float64 arrays of (x, y) pixel centres (``col + 0.5, row + 0.5``);
        with ``with_ends``, a list of ``(path, start_is_free, end_is_free)`` instead.
        A closed loop repeats its first point at the end. Each open path starts at its end that
        comes first in (y, x) order; paths are sorted by their first point (y, then x).
    """
    skel = np.asarray(skel, dtype=bool)
    if spur_length is None:
        spur_length = max(2.0, 1.5 * width) if radius is None else math.inf
    edges, centres, loops, node_pixels = _build_graph(skel)
    had_edges = {e.a for e in edges} | {e.b for e in edges}
    node_r = None
    if radius is not None:
        radius = np.asarray(radius, dtype=np.float64)
        if radius.shape != skel.shape:
            raise ValueError(f"radius: expected shape {skel.shape}, got {radius.shape}")
        node_r = [max(float(radius[p]) for p in px) for px in node_pixels]
    edges = _simplify(edges, centres, width, spur_length, node_r, radius)
    deg = _degree(edges, len(centres))
    # edge ends at junctions and their outgoing directions
    ends_at: dict[int, list[tuple[int, int]]] = {}
    for i, e in enumerate(edges):
        ends_at.setdefault(e.a, []).append((i, 0))
        ends_at.setdefault(e.b, []).append((i, 1))
    partner: dict[tuple[int, int], tuple[int, int]] = {}
    cos_max = math.cos(math.radians(max_turn_deg))
    reach = max(3.0 * width, 6.0)
    for node, ends in sorted(ends_at.items()):
        if deg[node] < 3 or len(ends) > max_junction_ends:
            continue  # a huge merged junction (texture, noise) is no pen crossing: pairing is O(ends^2)
        dirs = {}
        for (i, side) in ends:
            pts = edges[i].pts if side == 0 else edges[i].pts[::-1]
            dirs[(i, side)] = _direction(pts, 0.75 * width, reach)
        cands = []
        for x in range(len(ends)):
            for y in range(x + 1, len(ends)):
                u, v = ends[x], ends[y]
                c = -float(dirs[u] @ dirs[v])  # 1 = straight continuation
                if c >= cos_max:
                    cands.append((-c, u, v))
        cands.sort()
        for _, u, v in cands:
            if u in partner or v in partner:
                continue
            partner[u] = v
            partner[v] = u

    def oriented(i: int, side: int) -> np.ndarray:
        return edges[i].pts if side == 0 else edges[i].pts[::-1]

    def node_at(i: int, side: int) -> int:
        return edges[i].a if side == 0 else edges[i].b

    last_end: list[int] = [-1]

    def walk(i: int, side: int, visited: set[int]) -> tuple[list[np.ndarray], bool]:
        chain = []
        cur = (i, side)
        while True:
            visited.add(cur[0])
            chain.append(oriented(*cur))
            other = (cur[0], 1 - cur[1])
            nxt = partner.get(other)
            if nxt is None:
                last_end[0] = node_at(*other)
                return chain, False
            if nxt[0] in visited:
                return chain, True
            cur = nxt

    def join(chain: list[np.ndarray], closed: bool) -> np.ndarray:
        r = width / 2.0 if radius is None else 2.0  # local mode: keep the skeleton's course through junctions
        out = [chain[0]]
        for nxt in chain[1:]:
            prev = out[-1]
            centre = prev[-1]
            keep_prev = np.linalg.norm(prev - centre, axis=1) > r
            keep_prev[0] = True
            cut = len(prev) - np.argmax(keep_prev[::-1])  # keep up to the last point outside r
            out[-1] = prev[:max(cut, 1)]
            d_next = np.linalg.norm(nxt - nxt[0], axis=1) > r
            start = int(np.argmax(d_next)) if d_next.any() else len(nxt) - 1
            out.append(nxt[start:])
        pts = np.concatenate(out)
        if closed and not np.array_equal(pts[0], pts[-1]):
            pts = np.concatenate([pts, pts[:1]])
        return pts

    visited: set[int] = set()
    paths = []
    free: list[tuple[bool, bool]] = []
    starts = []
    for i, e in enumerate(edges):
        for side in (0, 1):
            if (i, side) not in partner:
                starts.append((i, side))
    for i, side in starts:
        if i in visited:
            continue
        chain, closed = walk(i, side, visited)
        paths.append(join(chain, closed))
        free.append((not closed and deg[node_at(i, side)] == 1, not closed and deg[last_end[0]] == 1))
    for i in range(len(edges)):
        if i in visited:
            continue
        chain, closed = walk(i, 0, visited)
        paths.append(join(chain, True))
        free.append((False, False))
    paths.extend(loops)
    free.extend([(False, False)] * len(loops))
    # isolated pixels (nodes with no edge) become dots
    for node, c in enumerate(centres):
        if node not in had_edges:
            paths.append(c[None, :])
            free.append((False, False))
    out = []
    for p, (f0, f1) in zip(paths, free):
        xy = p[:, ::-1] + 0.5  # (row, col) -> (x, y) pixel centres
        closed = xy.shape[0] > 2 and np.array_equal(xy[0], xy[-1])
        if closed:
            k = int(np.lexsort((xy[:-1, 0], xy[:-1, 1]))[0])
            xy = np.concatenate([xy[k:-1], xy[:k], xy[k:k + 1]])
        elif (xy[-1, 1], xy[-1, 0]) < (xy[0, 1], xy[0, 0]):
            xy = xy[::-1]
            f0, f1 = f1, f0
        out.append((np.ascontiguousarray(xy), bool(f0), bool(f1)))
    out.sort(key=lambda a: (float(a[0][0, 1]), float(a[0][0, 0]), a[0].shape[0]))
    return out if with_ends else [p for p, _, _ in out]


def skeleton_paths(mask: np.ndarray, *, width: float | None = None, **kwargs) -> tuple[list[np.ndarray], float]:
    """Skeletonise an ink mask and trace its stroke paths.

    Args:
        mask: ``(H, W)`` bool ink mask.
        width: stroke width in px, or ``None`` to estimate it (:func:`estimate_stroke_width`).
        **kwargs: passed to :func:`trace_paths`.

    Returns:
        ``(paths, width)``: the paths as in :func:`trace_paths` and the width used.
    """
    from sketchkit.geometry.morphology import skeletonize

    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"mask: expected shape (H, W), got {mask.shape}")
    skel = skeletonize(mask)
    if width is None:
        width = estimate_stroke_width(mask, skel)
    return trace_paths(skel, width=width, **kwargs), width
