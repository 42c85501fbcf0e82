"""sketchkit: learn to draw vector sketches, and turn raster line drawings into Bézier strokes.

The public API is small and imported lazily so ``import sketchkit`` (and the CLI) stay fast;
torch is only imported when a model is used.
"""

from __future__ import annotations

from typing import Any

from sketchkit.sketch import BezierSketch, Sketch

# Eager (cheap: numpy only): binding the function here keeps `sketchkit.vectorize` the function even
# after the submodule `sketchkit.vectorize` is imported, which would otherwise replace the attribute.
from sketchkit.vectorize import vectorize

__version__ = "0.1.0"

__all__ = ["Sketch", "BezierSketch", "load_model", "vectorize", "to_svg", "grid_svg", "to_png", "rasterize",
           "read", "read_all", "sample", "__version__"]

_LAZY = {
    "load_model": ("sketchkit.models.base", "load_model"),
    "to_svg": ("sketchkit.render", "to_svg"),
    "to_png": ("sketchkit.render", "to_png"),
    "grid_svg": ("sketchkit.render", "grid_svg"),
    "rasterize": ("sketchkit.render", "rasterize"),
    "read": ("sketchkit.data", "read"),
    "read_all": ("sketchkit.data", "read_all"),
    "sample": ("sketchkit.api", "sample"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'sketchkit' has no attribute {name!r}")
