"""Raster line drawing -> clean, open centreline Bézier strokes (``sketchkit vectorize``).

The pipeline is deterministic (no random numbers; same input and options -> same bytes):

1. **Load** (:func:`load_image`): PNG/JPEG/BMP/... via Pillow; grey, colour, palette or alpha.
   Images over ``max_pixels`` are refused with a one-line :class:`~sketchkit.errors.InputError`
   *before* decoding; images over ``work_pixels`` are box-downscaled by an integer factor (coordinates
   are mapped back to the input's pixel frame), so large scans never exhaust memory.
2. **Ink mask**: :func:`sketchkit.geometry.raster.ink_mask` (polarity detected: dark-on-light or
   the reverse; transparent backgrounds handled; unless ``threshold`` is given, the threshold is
   half the contrast between paper and full ink, each level read on its side of Otsu's split,
   so blurred strokes keep their drawn width).
   Specks smaller than a dot of the stroke width are removed. **Line-drawing check**: images
   that are not line drawings (noise, photos, filled areas, speckle; see :func:`vectorize` for
   the rules and their keyword thresholds) are refused with a one-line ``InputError`` before
   any tracing, so every image finishes in bounded time.
3. **Centreline paths**: :func:`sketchkit.geometry.skeleton.skeleton_paths` (skeleton graph,
   spur pruning, straight continuation through junctions so a stroke crossing another stays one
   path). Stroke width ``"auto"`` comes from the distance transform on the skeleton.
4. **Curves** per path: the path is lightly smoothed, cut at sharp corners, and each piece is
   fitted with the lowest degree ``1..max_degree`` whose RMS distance to the traced points is
   within ``tolerance`` (default ``max(0.25, min(0.6, 0.08 * width))`` px) and whose largest distance is
   within 6 times that; a piece no degree can fit is cut at its worst point (or, when even the
   best curve is far off — loops, spirals — at the point farthest from the chord of its ends)
   and both halves are fitted again. All pieces, degrees and starts of a round are fitted in one
   batch (:mod:`sketchkit.geometry.bezier_batch`; ``_fit_pieces`` is the per-piece reference
   it matches). Before fitting, points move across the line to the ink centroid within half a
   width and a pixel either side (sub-pixel centreline from the anti-aliasing); on thin lines
   (width <= 6 px, where the benchmark showed a gain) free line ends are also extended by 0.3
   widths (a skeleton stops short of a round cap's centre) and the two sides of a sharp corner
   meet at their tangents' crossing (a skeleton rounds corners off).
   Each curve starts from the chord-length least-squares fit (end points pinned) and is
   refined by ``refine`` steps that alternate projecting the points onto the curve (new
   parameters) and solving the control points by least squares with the end points pinned to
   the piece's ends. With ``model="cloud2curve"`` the **Cloud2Curve stroke model** (shipped
   weights, run here in numpy — no torch import) also proposes a curve of each degree from the
   piece's point cloud; both starts are refined and the one closer to the points (RMS) is kept,
   so the model cannot make a fit worse. It is off by default: on every benchmark set (Quick,
   Draw!, K-MNIST brush characters, Lucide, KanjiVG) it gave the same fidelity within 0.01 px
   and control points within one, for about 30 % more time per image.
   ``refine=0`` compares the unrefined starts. ``meta["curves_started_from_model"]`` counts the
   curves whose winning start was the model's.
5. **Output**: a :class:`~sketchkit.sketch.BezierSketch` in input pixel coordinates.
   ``meta["curve_stroke"]`` gives the path index of each curve (a path is a chain of curves
   sharing end points), ``meta["image_size"]`` ``[W, H]``, ``meta["stroke_width"]`` px (whole
   image) and ``meta["stroke_widths"]`` px (one per path, from the distance transform along its
   traced stroke; thick strokes are traced with local, radius-based spur and junction rules, see
   :func:`~sketchkit.geometry.skeleton.trace_paths`). A pen stroke is one path, except a thick
   stroke whose ink narrows: it is cut into runs of its local width
   (:mod:`~sketchkit.vectorize.stroke_widths`), one path each; ``meta["stroke_path"]`` gives each
   path's pen stroke and ``meta["num_strokes"]`` counts pen strokes. ``meta["stroke_opacity"]``
   (one per path, in ``(0, 1]``) is the path's ink darkness: the median ink along its curves as
   a share of the contrast over the paper (:func:`~sketchkit.vectorize.stroke_widths.path_opacities`),
   so a faint stroke the threshold keeps is not drawn as dark as the rest.
   :func:`to_svg` writes one open ``<path>`` per path in the image's own frame
   (``viewBox="0 0 W H"``), so the SVG overlays the input exactly; the runs of one stroke share a
   ``<g>``; a path under 0.9 opacity carries its own ``stroke-opacity`` (dark drawings have none).

**Many images in one process**: :func:`use_compiled_kernels` switches this process to the
hot loops compiled with numba (:mod:`sketchkit.geometry.compiled`: the curve fitter, distance
transform, thinning, skeleton graph walk, sub-pixel centring, histogram, labelling): about 2.5x
less time per 256 px drawing, for ~0.5-0.7 s of loading once (a first run on a machine also
compiles, a few seconds). Folder mode (``sketchkit vectorize DIR``, :func:`vectorize_files`)
switches them on from 32 files; a single image stays in numpy. The results are the same,
except where two candidate fits tie to rounding (a closed loop's projection on a symmetric
curve): ~1.5 % of Quick, Draw! drawings then keep another, equally close curve for one piece.

Modules (this package re-exports the public names):

* :mod:`~sketchkit.vectorize.loading`: :func:`load_image`, size limits, :class:`BlankImageWarning`.
* :mod:`~sketchkit.vectorize.options`: :func:`validate_options` and the line-drawing check limits.
* :mod:`~sketchkit.vectorize.stroke_model`: :class:`NumpyStrokeModel` and the model's curve proposals.
* :mod:`~sketchkit.vectorize.pieces`: traced paths made ready for fitting (end extension, sub-pixel
  centring, smoothing, corners).
* :mod:`~sketchkit.vectorize.fitting`: curve fitting of traced pieces (per-piece reference and batched).
* :mod:`~sketchkit.vectorize.stroke_widths`: thick strokes cut into runs of their local width;
  each path's ink darkness (opacity).
* :mod:`~sketchkit.vectorize.pipeline`: :func:`vectorize`, the whole pipeline.
* :mod:`~sketchkit.vectorize.export`: :func:`to_svg`, :func:`to_json`, :func:`to_npz_bytes`,
  :func:`to_ndjson`, :func:`as_sketch`.
* :mod:`~sketchkit.vectorize.folder`: :func:`vectorize_files` (many files on every core, what
  folder mode runs), :func:`image_files`, :class:`FileOutcome`.
"""

from __future__ import annotations

from sketchkit._io import write_atomic
from sketchkit.geometry.compiled import enable as use_compiled_kernels
from sketchkit.vectorize.export import as_sketch, to_json, to_ndjson, to_npz_bytes, to_svg
from sketchkit.vectorize.folder import FileOutcome, image_files, vectorize_files
from sketchkit.vectorize.loading import DEFAULT_MAX_PIXELS, DEFAULT_WORK_PIXELS, BlankImageWarning, load_image
from sketchkit.vectorize.options import (
    DEFAULT_MAX_COMPONENTS,
    DEFAULT_MAX_INK_FRACTION,
    DEFAULT_MAX_JUNCTION_DENSITY,
    DEFAULT_MAX_SKELETON_PIXELS,
    DEFAULT_MAX_WIDTH_FRACTION,
    validate_options,
)
from sketchkit.vectorize.pipeline import vectorize
from sketchkit.vectorize.stroke_model import NumpyStrokeModel

__all__ = [
    "vectorize",
    "load_image",
    "to_svg",
    "to_json",
    "to_npz_bytes",
    "to_ndjson",
    "write_atomic",
    "BlankImageWarning",
    "NumpyStrokeModel",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_WORK_PIXELS",
    "DEFAULT_MAX_INK_FRACTION",
    "DEFAULT_MAX_JUNCTION_DENSITY",
    "DEFAULT_MAX_WIDTH_FRACTION",
    "DEFAULT_MAX_COMPONENTS",
    "DEFAULT_MAX_SKELETON_PIXELS",
    "validate_options",
    "use_compiled_kernels",
    "vectorize_files",
    "image_files",
    "FileOutcome",
]
