"""Option checking for :func:`~sketchkit.vectorize.vectorize` and the line-drawing check."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sketchkit.errors import InputError
from sketchkit.vectorize.loading import DEFAULT_MAX_PIXELS, DEFAULT_WORK_PIXELS


# line-drawing check defaults (see `vectorize`), from measurements: 480 Quick, Draw! renders at
# 256 px (ink <= 0.10, junction density median 0.02, max 0.14 on dense scribbles, <= 14 regions),
# 300 K-MNIST characters at 28 and 256 px (ink <= 0.39, width fraction <= 0.17, junctions <= 0.06
# at 256 px), uniform noise (ink 0.50, junctions 0.72), a photo-like gradient (ink 0.49,
# junctions 0.21) and smooth blobs (ink 0.50)
DEFAULT_MAX_INK_FRACTION = 0.45
DEFAULT_MAX_JUNCTION_DENSITY = 0.3
DEFAULT_MAX_WIDTH_FRACTION = 0.25
DEFAULT_MAX_COMPONENTS = 2000
DEFAULT_MAX_SKELETON_PIXELS = 60_000  # ~60 us per centreline px: a few seconds at most
_MIN_SKELETON_FOR_DENSITY = 500  # below this the junction density is too noisy to judge


def _number(name: str, value: Any, lo: float, hi: float = math.inf, *, integer: bool = False,
            lo_open: bool = False) -> float:
    """``value`` as a finite number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``), else InputError."""
    kind = "an integer" if integer else "a number"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{name}: expected {kind}, got {value!r}")
    v = float(value)
    if integer and math.isfinite(v) and v != int(v):
        raise InputError(f"{name}: expected {kind}, got {value!r}")
    bound = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{']' if math.isfinite(hi) else ')'}"
    if not math.isfinite(v) or v < lo or (lo_open and v == lo) or v > hi:
        raise InputError(f"{name}: expected a finite {'integer' if integer else 'number'} in {bound}, got {value!r}")
    return v


def _check_line_drawing(name: str, stats: dict[str, float], limits: dict[str, float], factor: float) -> None:
    """Raise InputError when ``stats`` (:func:`~sketchkit.geometry.skeleton.line_statistics`) break a limit."""
    hint = "; this does not look like a line drawing (raise {opt} to try anyway)"
    if stats["ink_fraction"] > limits["max_ink_fraction"]:
        raise InputError(f"{name}: {stats['ink_fraction']:.0%} of the pixels are ink (limit "
                         f"{limits['max_ink_fraction']:.0%}): filled areas, a photo or noise"
                         + hint.format(opt="max_ink_fraction"))
    if stats["components"] > limits["max_components"]:
        raise InputError(f"{name}: {int(stats['components'])} separate ink regions (limit "
                         f"{int(limits['max_components'])}): speckle or texture" + hint.format(opt="max_components"))
    if stats["skeleton_pixels"] > limits["max_skeleton_pixels"]:
        raise InputError(f"{name}: {int(stats['skeleton_pixels'])} px of centreline (limit "
                         f"{int(limits['max_skeleton_pixels'])}): too much line work to trace in bounded time"
                         + hint.format(opt="max_skeleton_pixels"))
    if (stats["skeleton_pixels"] >= _MIN_SKELETON_FOR_DENSITY
            and stats["junction_density"] > limits["max_junction_density"]):
        raise InputError(f"{name}: {stats['junction_density']:.0%} of the centreline pixels are junctions (limit "
                         f"{limits['max_junction_density']:.0%}): a texture, noise or a photo"
                         + hint.format(opt="max_junction_density"))
    if stats["width_fraction"] > limits["max_width_fraction"]:
        raise InputError(f"{name}: the mean stroke width (ink area / centreline length: "
                         f"{stats['mean_width'] * factor:.0f} px) is {stats['width_fraction']:.2f} of the image side "
                         f"(limit {limits['max_width_fraction']:.2f}): filled shapes" + hint.format(opt="max_width_fraction"))


_LIMIT_NAMES = ("max_ink_fraction", "max_junction_density", "max_width_fraction", "max_components",
                "max_skeleton_pixels")


def validate_options(*, max_strokes: Any = None, max_degree: Any = 3, threshold: Any = None, refine: Any = 4,
                     stroke_width: Any = "auto", tolerance: Any = None, max_pixels: Any = DEFAULT_MAX_PIXELS,
                     work_pixels: Any = DEFAULT_WORK_PIXELS, max_ink_fraction: Any = DEFAULT_MAX_INK_FRACTION,
                     max_junction_density: Any = DEFAULT_MAX_JUNCTION_DENSITY,
                     max_width_fraction: Any = DEFAULT_MAX_WIDTH_FRACTION,
                     max_components: Any = DEFAULT_MAX_COMPONENTS,
                     max_skeleton_pixels: Any = DEFAULT_MAX_SKELETON_PIXELS) -> dict[str, Any]:
    """Check :func:`vectorize`'s numeric options (finite, in range, integers where counted).

    Returns:
        The options as plain ``int``/``float`` (``stroke_width`` stays ``"auto"`` or becomes a float).

    Raises:
        InputError: (a ``ValueError``) naming the option, the expected range and the value.
    """
    max_degree = int(_number("max_degree", max_degree, 1, 7, integer=True))
    refine = int(_number("refine", refine, 0, 100, integer=True))
    if max_strokes is not None:
        max_strokes = int(_number("max_strokes", max_strokes, 1, integer=True))
    if threshold is not None:
        threshold = _number("threshold", threshold, 0.0, 1.0)
        if threshold >= 1.0:
            raise InputError(f"threshold: expected a value in [0, 1), got {threshold!r}")
    fixed_width = None
    if not (isinstance(stroke_width, str) and stroke_width == "auto"):
        if isinstance(stroke_width, str):
            try:
                stroke_width = float(stroke_width)
            except ValueError:
                raise InputError(f"stroke_width: expected 'auto' or a width in px, got {stroke_width!r}") from None
        fixed_width = _number("stroke_width", stroke_width, 0.0, 1e6, lo_open=True)
    if tolerance is not None:
        tolerance = _number("tolerance", tolerance, 0.0, 1e6, lo_open=True)
    max_pixels = int(_number("max_pixels", max_pixels, 1, integer=True))
    work_pixels = int(_number("work_pixels", work_pixels, 1, integer=True))
    return {
        "max_strokes": max_strokes, "max_degree": max_degree, "threshold": threshold, "refine": refine,
        "stroke_width": "auto" if fixed_width is None else fixed_width, "tolerance": tolerance,
        "max_pixels": max_pixels, "work_pixels": work_pixels,
        "max_ink_fraction": _number("max_ink_fraction", max_ink_fraction, 0.0, 1.0, lo_open=True),
        "max_junction_density": _number("max_junction_density", max_junction_density, 0.0, 1.0, lo_open=True),
        "max_width_fraction": _number("max_width_fraction", max_width_fraction, 0.0, 1e6, lo_open=True),
        "max_components": int(_number("max_components", max_components, 1, integer=True)),
        "max_skeleton_pixels": int(_number("max_skeleton_pixels", max_skeleton_pixels, 1, integer=True)),
    }
