"""Reading an image for vectorisation: size limits, integer box-downscaling, decode errors."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from sketchkit.errors import DataFormatError, InputError

DEFAULT_MAX_PIXELS = 64_000_000  # refuse larger images (decoding alone would need GBs)
DEFAULT_WORK_PIXELS = 4_194_304  # downscale above 2048 x 2048 before tracing


class BlankImageWarning(UserWarning):
    """The image has no ink: the result is an empty drawing."""


def load_image(source: str | os.PathLike | np.ndarray | Any, *, max_pixels: int = DEFAULT_MAX_PIXELS,
               work_pixels: int = DEFAULT_WORK_PIXELS) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Read an image for vectorisation.

    Args:
        source: a file path, a ``PIL.Image.Image`` or an array ``(H, W)`` / ``(H, W, 1|2|3|4)``
            (uint8, or float in ``[0, 1]``).
        max_pixels: images with more pixels are refused.
        work_pixels: images with more pixels are box-downscaled by an integer factor.

    Returns:
        ``(array, factor, (W, H))``: the (possibly downscaled) uint8/float array as accepted by
        :mod:`sketchkit.geometry.raster`, the factor from array pixels to input pixels, and the
        input size.

    Raises:
        InputError: missing file, or an image over ``max_pixels``.
        DataFormatError: not a readable image (corrupt, truncated, not an image at all).
    """
    from PIL import Image

    name = str(source) if isinstance(source, (str, os.PathLike)) else "<image>"
    if isinstance(source, np.ndarray):
        arr = source
        if arr.ndim < 2:
            raise InputError(f"{name}: expected an image array of shape (H, W[, C]), got {arr.shape}")
        h, w = arr.shape[:2]
        if h * w > max_pixels:
            raise InputError(f"{name}: image is {w}x{h} = {w * h} pixels, over the limit of {max_pixels}")
        factor = _factor(w, h, work_pixels)
        if factor > 1:
            arr = _box_reduce(np.asarray(arr, dtype=np.float64) / (255.0 if arr.dtype == np.uint8 else 1.0), factor)
        return arr, float(factor), (w, h)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        old = Image.MAX_IMAGE_PIXELS
        try:
            Image.MAX_IMAGE_PIXELS = None  # our own limit below, checked before decoding
            try:
                im = Image.open(path)
            except Exception as exc:  # UnidentifiedImageError, OSError, SyntaxError in plugins
                raise DataFormatError(f"{path}: not a readable image ({type(exc).__name__}: {_short(exc)})") from None
        finally:
            Image.MAX_IMAGE_PIXELS = old
    elif isinstance(source, Image.Image):
        im = source
    else:
        raise InputError(f"expected a path, a PIL image or a numpy array, got {type(source).__name__}")
    w, h = im.size
    if w * h > max_pixels:
        raise InputError(f"{name}: image is {w}x{h} = {w * h} pixels, over the limit of {max_pixels}")
    if w < 1 or h < 1:
        raise DataFormatError(f"{name}: image has no pixels ({w}x{h})")
    factor = _factor(w, h, work_pixels)
    try:
        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)
        if im.format == "JPEG" and factor > 1:
            im.draft("L", (w // factor, h // factor))
        has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
        if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            arr = np.asarray(im, dtype=np.float64)
            top = arr.max()
            arr = arr / top if top > 0 else arr
            im2 = Image.fromarray((arr * 255).astype(np.uint8))
        else:
            im2 = im.convert("RGBA" if has_alpha else "L")
        if factor > 1:
            im2 = im2.reduce(factor)
        arr = np.asarray(im2)
    except Exception as exc:  # truncated or corrupt data surfaces on decode
        raise DataFormatError(f"{name}: cannot decode image ({type(exc).__name__}: {_short(exc)})") from None
    return arr, float(w / arr.shape[1]), (w, h)


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else "no details"


def _factor(w: int, h: int, work_pixels: int) -> int:
    if w * h <= work_pixels:
        return 1
    return int(math.ceil(math.sqrt(w * h / work_pixels)))


def _box_reduce(arr: np.ndarray, f: int) -> np.ndarray:
    h, w = arr.shape[:2]
    h2, w2 = h // f, w // f
    arr = arr[: h2 * f, : w2 * f]
    return arr.reshape(h2, f, w2, f, *arr.shape[2:]).mean(axis=(1, 3))
