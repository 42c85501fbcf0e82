"""Rendering: Sketch / BezierSketch -> SVG (svgwrite), PNG (cairosvg), grids, animation, raster.

Public API:

* :func:`to_svg` - one drawing as SVG text (viewBox fitted to the content, open paths, round
  caps/joins, per-stroke colours, optional stroke-order animation).
* :func:`grid_svg` - many drawings in a grid of cells.
* :func:`to_png` - a drawing or SVG text to PNG bytes (white background by default).
* :func:`rasterize` / :func:`rasterize_batch` - fast anti-aliased float32 ink images in numpy,
  for training inputs, at any size.
* :func:`write_atomic` - temp file + ``os.replace`` (used for every output written here).

Never imports torch.
"""

from __future__ import annotations

from sketchkit._io import write_atomic
from sketchkit.render.png import to_png
from sketchkit.render.raster import rasterize, rasterize_batch
from sketchkit.render.svg import PALETTE, grid_svg, to_svg

__all__ = ["to_svg", "grid_svg", "to_png", "rasterize", "rasterize_batch", "write_atomic", "PALETTE"]
