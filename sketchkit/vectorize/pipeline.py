"""The public call: image -> ink mask -> centreline paths -> fitted curves -> ``BezierSketch``."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from sketchkit.errors import DataFormatError
from sketchkit.sketch import BezierSketch
from sketchkit.vectorize.fitting import _fit_pieces_batched, _FitOptions
from sketchkit.vectorize.loading import DEFAULT_MAX_PIXELS, DEFAULT_WORK_PIXELS, BlankImageWarning, load_image
from sketchkit.vectorize.options import (
    _LIMIT_NAMES,
    DEFAULT_MAX_COMPONENTS,
    DEFAULT_MAX_INK_FRACTION,
    DEFAULT_MAX_JUNCTION_DENSITY,
    DEFAULT_MAX_SKELETON_PIXELS,
    DEFAULT_MAX_WIDTH_FRACTION,
    _check_line_drawing,
    validate_options,
)
from sketchkit.vectorize.pieces import _centre, _corners, _extend_ends, _extend_to_cap, _sharpen, _smooth
from sketchkit.vectorize.stroke_model import _resolve_model
from sketchkit.vectorize.stroke_widths import path_opacities, width_runs


def vectorize(
    image_or_path: str | os.PathLike | np.ndarray | Any,
    *,
    max_strokes: int | None = None,
    max_degree: int = 3,
    threshold: float | None = None,
    refine: int = 4,
    stroke_width: float | str = "auto",
    model: Any = None,
    tolerance: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    work_pixels: int = DEFAULT_WORK_PIXELS,
    max_ink_fraction: float = DEFAULT_MAX_INK_FRACTION,
    max_junction_density: float = DEFAULT_MAX_JUNCTION_DENSITY,
    max_width_fraction: float = DEFAULT_MAX_WIDTH_FRACTION,
    max_components: int = DEFAULT_MAX_COMPONENTS,
    max_skeleton_pixels: int = DEFAULT_MAX_SKELETON_PIXELS,
) -> BezierSketch:
    """Vectorise a raster line drawing into open centreline Bézier strokes.

    **Line-drawing check.** Before any tracing, the ink mask and its skeleton are measured
    (:func:`sketchkit.geometry.skeleton.line_statistics`, all in the working image's pixels) and the
    image is refused with an :class:`~sketchkit.errors.InputError` when

    * more than ``max_ink_fraction`` of the pixels are ink at Otsu's split (it splits noise, smooth shading
      and photos near 50 %; drawn lines, even thick brush characters, stay under 40 %), or
    * there are more than ``max_components`` separate ink regions (after dropping specks), or
    * the skeleton has more than ``max_skeleton_pixels`` pixels (the work bound: tracing and
      fitting cost is linear in it, ~60 us per pixel; 16 Quick, Draw! doodles in 1024 x 1024
      have 14k, 64 of them 31k), or
    * the skeleton has at least 500 pixels and more than ``max_junction_density`` of them are
      junction pixels (3+ skeleton neighbours: drawn lines 0.01-0.14, noise 0.7), or
    * the mean stroke width (ink area / skeleton length) is over ``max_width_fraction`` of the
      image's shorter side (filled shapes).

    With the check, every image up to 1024 x 1024 finishes (vectorised or refused) in seconds
    (``scripts/bench_vectorize_bounds.py``). A limit set to its loosest value turns its rule off
    (``max_ink_fraction=1.0``, ``max_junction_density=1.0``, ``max_components=10**9``, ...).

    Args:
        image_or_path: image file path, ``PIL.Image`` or array (see :func:`load_image`).
        max_strokes: keep at most this many strokes (the longest); ``None``: all.
        max_degree: highest Bézier degree of a curve (1..7; 3 keeps SVG output exact).
        threshold: ink intensity threshold in ``[0, 1)``; ``None``: half the contrast between
            the paper and the full ink level (each side of Otsu's split; see ``_ink_threshold``).
        refine: least-squares refinement steps per curve, 0..100 (``0``: the better of the
            model's proposal and the chord-length fit, unrefined).
        stroke_width: ``"auto"`` (distance transform) or the line width in input px (finite, > 0).
        model: ``None`` or ``False``: least squares alone (the default); ``"cloud2curve"``: the
            shipped Cloud2Curve stroke model proposes each piece's curves as well; a model
            directory; a ``Cloud2CurveModel``.
        tolerance: allowed RMS distance (input px, finite, > 0) between the traced points and a
            curve (the largest distance may be 6 times that); default ``max(0.25, min(0.6, 0.08 * width))``
            for lines up to 6 px wide, 0.35 for thicker ones (``THICK_RMS_TOLERANCE``).
        max_pixels: refuse larger images.
        work_pixels: downscale larger images before tracing.
        max_ink_fraction: line-drawing check, in ``(0, 1]`` (see above).
        max_junction_density: line-drawing check, in ``(0, 1]``.
        max_width_fraction: line-drawing check, ``> 0``.
        max_components: line-drawing check, ``>= 1``.
        max_skeleton_pixels: line-drawing check (work bound), ``>= 1``.

    Returns:
        ``BezierSketch`` in input pixel coordinates (x right, y down); see the module docstring
        for ``meta`` (``meta["line_statistics"]`` holds the measures above). An image without ink
        gives an empty sketch and a :class:`BlankImageWarning`. A thick stroke (over 6 px, with
        ``stroke_width="auto"`` and no ``max_strokes``) whose ink narrows along its course is cut
        into runs of its local width (:func:`sketchkit.vectorize.stroke_widths.width_runs`): each
        run is one path in ``meta["curve_stroke"]`` / ``meta["stroke_widths"]``, and
        ``meta["stroke_path"]`` gives the pen stroke of each path (``meta["num_strokes"]`` counts
        pen strokes; the SVG groups the runs of one stroke). ``meta["stroke_opacity"]`` gives the
        ink darkness of each path in ``(0, 1]`` (the median ink along its curves over the paper
        level, :func:`sketchkit.vectorize.stroke_widths.path_opacities`): about 1 for full ink,
        less for a faint stroke (light pencil, a dry brush), which the threshold keeps but a
        solid black path would draw too dark; :func:`to_svg` writes ``stroke-opacity`` on paths
        under 0.9.

    Raises:
        InputError: bad options (also a ``ValueError``), a missing file, an image over
            ``max_pixels``, or an image that fails the line-drawing check.
        DataFormatError: a file that is not a readable image.
    """
    from sketchkit.geometry.morphology import label_components, otsu_threshold, skeletonize
    from sketchkit.geometry.raster import ink_intensity
    from sketchkit.geometry.skeleton import estimate_stroke_width, ink_radius, line_statistics, path_width, trace_paths

    opts = validate_options(max_strokes=max_strokes, max_degree=max_degree, threshold=threshold, refine=refine,
                            stroke_width=stroke_width, tolerance=tolerance, max_pixels=max_pixels,
                            work_pixels=work_pixels, max_ink_fraction=max_ink_fraction,
                            max_junction_density=max_junction_density, max_width_fraction=max_width_fraction,
                            max_components=max_components, max_skeleton_pixels=max_skeleton_pixels)
    max_strokes, max_degree, threshold, refine = (opts[k] for k in ("max_strokes", "max_degree", "threshold", "refine"))
    tolerance, max_pixels, work_pixels = opts["tolerance"], opts["max_pixels"], opts["work_pixels"]
    fixed_width = None if opts["stroke_width"] == "auto" else opts["stroke_width"]
    limits = {k: opts[k] for k in _LIMIT_NAMES}
    name = str(image_or_path) if isinstance(image_or_path, (str, os.PathLike)) else "<image>"
    arr, factor, (w_in, h_in) = load_image(image_or_path, max_pixels=max_pixels, work_pixels=work_pixels)
    try:
        ink = ink_intensity(arr)
    except ValueError as exc:
        raise DataFormatError(f"{name}: {exc}") from None
    meta: dict[str, Any] = {"image_size": [int(w_in), int(h_in)], "source": "sketchkit.vectorize"}
    if float(ink.max() - ink.min()) < 0.05:
        return _blank(name, meta)
    otsu = otsu_threshold(ink)
    levels = _ink_levels(ink, otsu)  # (paper, full ink): the threshold's, and the paper for path_opacities
    if threshold is None:
        thr = _threshold_of(levels, otsu)
    else:
        thr = float(threshold)
    paper = levels[0] if levels is not None else float(ink.min())
    mask = ink > thr
    if not mask.any():
        return _blank(name, meta)
    # the ink-fraction rule reads Otsu's split (noise, shading and photos split near 50 % there)
    ink_fraction = float(mask.mean() if threshold is not None else np.count_nonzero(ink > otsu) / ink.size)
    if ink_fraction > limits["max_ink_fraction"]:  # cheap, and before the skeleton of a huge texture
        _check_line_drawing(name, {"ink_fraction": ink_fraction}, limits, factor)
    skel = skeletonize(mask)
    radius = ink_radius(mask)
    width = estimate_stroke_width(mask, skel, radius) if fixed_width is None else fixed_width / factor
    # drop specks smaller than a dot of the stroke width (at most SPECK_MAX_WIDTH)
    lab, n = label_components(mask)
    if n:
        sizes = np.bincount(lab.ravel())
        min_size = max(3.0, 0.3 * min(width, SPECK_MAX_WIDTH) ** 2)
        small = np.nonzero(sizes < min_size)[0]
        small = small[small > 0]
        if small.size:
            mask = mask & ~np.isin(lab, small)
            skel = skel & mask
        n -= small.size  # the regions left
    if not skel.any():
        return _blank(name, meta)
    stats = line_statistics(mask, skel, components=n)
    stats["ink_fraction"] = ink_fraction  # at Otsu's split (or the given threshold), specks included
    _check_line_drawing(name, stats, limits, factor)
    meta["line_statistics"] = {k: round(float(v), 4) for k, v in stats.items()}
    thin = width <= 6.0  # end extension and corner sharpening: measured to help thin lines only
    # thick strokes: spurs and junction bridges judged by the local ink radius (K-MNIST brush
    # characters lost whole stroke parts to the global, width-based rules)
    traced = trace_paths(skel, width=width, with_ends=True, radius=None if thin else radius)
    widths = [path_width(p, radius, width) if fixed_width is None else width for p, _, _ in traced]
    # free ends: a thin line's by a share of the width, a thick one's while its disc fits the ink
    paths = [_extend_ends(p, f0, f1, width) if thin else _extend_to_cap(p, f0, f1, radius, pw)
             for (p, f0, f1), pw in zip(traced, widths)]
    if max_strokes is not None and len(paths) > max_strokes:
        lengths = [float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()) if len(p) > 1 else 0.0 for p in paths]
        keep = sorted(np.argsort(-np.asarray(lengths), kind="stable")[:max_strokes].tolist())
        paths = [paths[i] for i in keep]
        widths = [widths[i] for i in keep]
    if tolerance is not None:
        rms_tol = float(tolerance) / factor
    else:
        rms_tol = (max(0.25, min(0.6, 0.08 * width * factor)) if thin else THICK_RMS_TOLERANCE) / factor
    tol = 6.0 * rms_tol
    opts = _FitOptions(max_degree=int(max_degree), tolerance=tol, rms_tolerance=rms_tol, refine=int(refine),
                       min_piece=max(2, int(round(width))),
                       min_cut=None if thin else max(2, int(round(SHORT_CUT_WIDTH * width))))
    net = _resolve_model(model)
    if net is not None and getattr(net, "max_degree", 7) < 1:
        net = None
    # cut paths into pieces at corners; centring window and corner scale follow each path's own
    # width (brush characters mix 9 and 40 px strokes: the image's width pulled thin strokes'
    # centrelines towards neighbouring ink and blurred their corners)
    pieces, owner = [], []
    dots = {}
    for s, p in enumerate(paths):
        if p.shape[0] < 2 or np.ptp(p, axis=0).max() < 1.0:
            dots[s] = p.mean(axis=0)
            continue
        sm = _centre(_smooth(p), ink, widths[s])
        cuts = _corners(sm, widths[s])
        bounds = [0] + cuts + [sm.shape[0] - 1]
        segs = [sm[a : b + 1].copy() for a, b in zip(bounds[:-1], bounds[1:]) if b - a >= 1]
        for k in range(len(segs) - 1 if thin else 0):
            corner = _sharpen(segs[k], segs[k + 1], width)
            if corner is not None:
                segs[k][-1] = corner
                segs[k + 1][0] = corner
        for seg in segs:
            pieces.append(seg)
            owner.append(s)
    stats: dict[str, int] = {}
    fitted = _fit_pieces_batched(pieces, opts, net, stats)
    curves, curve_stroke = [], []
    stroke_widths: list[float] = []
    stroke_path: list[int] = []
    path_chains: list[list[np.ndarray]] = []  # each path's curves in the working frame
    path_widths: list[float] = []  # and its width there
    by_path: dict[int, list[np.ndarray]] = {}
    for piece_curves, o in zip(fitted, owner):
        by_path.setdefault(o, []).extend(piece_curves)
    for s in range(len(paths)):
        if s in dots:
            chain = [np.stack([dots[s], dots[s]])]
        else:
            chain = by_path.get(s, [])
            if not chain:
                continue
        # a thick stroke is drawn in runs of its own local width (one width blots where the ink
        # narrows); not with max_strokes, which counts the strokes of the result
        by_width = s not in dots and not thin and fixed_width is None and max_strokes is None
        runs = width_runs(chain, ink, thr, widths[s]) if by_width else [(chain, widths[s])]
        for run, run_width in runs:
            for c in run:
                curves.append(c * factor)
                curve_stroke.append(len(stroke_widths))
            stroke_widths.append(round(float(run_width * factor), 3))
            stroke_path.append(s)
            path_chains.append(run)
            path_widths.append(float(run_width))
    # each path's ink darkness: a faint stroke the threshold keeps is not drawn as dark as the rest
    stroke_opacity = [round(float(a), 3) for a in path_opacities(path_chains, path_widths, ink, paper)]
    meta.update({"curve_stroke": curve_stroke, "stroke_width": round(float(width * factor), 3),
                 "stroke_widths": stroke_widths, "stroke_path": stroke_path, "stroke_opacity": stroke_opacity,
                 "num_strokes": len(set(stroke_path)), "model": net is not None,
                 "curves_started_from_model": stats["model_start"]})
    return BezierSketch(curves, meta=meta)


# specks: ink regions under 0.3 dots of this width (px) are dropped. Capped, as dust and noise do
# not grow with the pen: with the stroke width itself, thick brush characters (~25 px) lost real
# marks of up to ~190 px (thin faint strokes), whose skeletons made 5-40 px misses
SPECK_MAX_WIDTH = 6.0
# a thick stroke's piece too short to cut at its width that no curve fits (a sharp bend within a
# width or two of a junction or another cut) is still cut, leaving this share of the width
# either side (fitting.SHORT_MISS); before, one chord or curve missed the bend by 4-13 px
# (K-MNIST brush characters, slices of 100 from 1500, 2000, 3000: F-score at 2 px +0.0007..0.001,
# HD95 -0.02..-0.06 px; flat from 0.15 to 0.35)
SHORT_CUT_WIDTH = 0.25
# default RMS tolerance (input px) of a thick stroke's curves, whose largest miss may be 6 times
# that: with the thin-line rule's 0.6 px, curves strayed up to 3.6 px from the traced centreline
# (same slices, with the short cuts: F-score +0.0006..0.0012, HD95 -0.07..-0.12 px; flat from
# 0.25 to 0.4. Without the short cuts a tighter tolerance leaves more bends to a chord: no gain)
THICK_RMS_TOLERANCE = 0.35
INK_FULL_QUANTILE = 0.9  # the ink's full level: this quantile of the pixels above Otsu's split


def _ink_threshold(ink: np.ndarray, otsu: float) -> float:
    """Half-contrast ink threshold: midway between the paper's level and the ink's full level.

    Otsu's split (``otsu``) only sorts the pixels into paper and ink; the paper level is the
    median below it and the full ink level the ``INK_FULL_QUANTILE`` quantile above it. A
    blurred or anti-aliased edge crosses half of the contrast where the pen's edge was (any
    symmetric blur), so the mask keeps each stroke's width whatever the blur. Otsu's split
    itself sinks as the share of blurred edge pixels grows (0.27-0.46 on upscaled K-MNIST
    brush characters, ~0.45 on crisp 3 px lines): thick blurred strokes came out fatter than
    drawn, with small holes filled and close parts merged, and their skeleton off the ink's.

    Args:
        ink: ``(H, W)`` ink intensity in ``[0, 1]``, not constant.
        otsu: its Otsu threshold.

    Returns:
        The threshold (pixels above it are ink).
    """
    return _threshold_of(_ink_levels(ink, otsu), otsu)


def _threshold_of(levels: tuple[float, float] | None, otsu: float) -> float:
    """Midway between the ``(paper, full)`` ``levels`` of :func:`_ink_levels` (Otsu's split without them)."""
    return float(otsu) if levels is None else 0.5 * (levels[0] + levels[1])


def _ink_levels(ink: np.ndarray, otsu: float) -> tuple[float, float] | None:
    """``(paper, full)`` ink levels either side of Otsu's split (see :func:`_ink_threshold`);
    ``None`` when one side is empty."""
    from sketchkit.geometry.morphology import median

    flat = ink.reshape(-1)
    above = flat[flat > otsu]
    below = flat[flat <= otsu]
    if above.size == 0 or below.size == 0:
        return None
    k = int(INK_FULL_QUANTILE * (above.size - 1))
    return median(below), float(np.partition(above, k)[k])


def _blank(name: str, meta: dict[str, Any]) -> BezierSketch:
    warnings.warn(f"{name}: no ink found (blank image); the result is empty", BlankImageWarning, stacklevel=3)
    meta.update({"curve_stroke": [], "stroke_width": 0.0, "stroke_widths": [], "stroke_opacity": [],
                 "num_strokes": 0})
    return BezierSketch([], meta=meta)
