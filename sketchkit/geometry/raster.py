"""Rasters -> ink intensity -> ink mask -> point cloud (pixel coordinates).

Conventions: an image is a numpy array ``(H, W)`` (grey), ``(H, W, 1)``, ``(H, W, 2)`` (grey +
alpha), ``(H, W, 3)`` (RGB) or ``(H, W, 4)`` (RGBA); integer values are divided by 255 (``uint16``
by 65535), float values are taken to be in ``[0, 1]`` (a float image whose maximum exceeds 1 is
read as 0..255). A PIL image can be passed as ``numpy.asarray(image.convert("L"))`` (or "RGBA").
Pixel ``(row, col)`` covers ``[col, col + 1) x [row, row + 1)`` in (x, y) pixel coordinates
(SVG frame, y down), so its centre is ``(col + 0.5, row + 0.5)``.

*Ink intensity* is in ``[0, 1]`` with 1 = full ink. For dark-on-light drawings (pen on paper) it
is ``1 - grey``; for light-on-dark images (MNIST, K-MNIST) it is ``grey``. ``invert="auto"``
decides by the median grey value: ink is usually a minority of pixels, so a light median
(``> 0.5``) means dark ink on a light background.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["ink_intensity", "ink_mask", "point_cloud_from_raster", "centreline_pixels", "centreline_cloud_from_raster"]

Invert = Literal["auto"] | bool


def _to_grey_alpha(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """-> grey (H, W) in [0, 1], alpha (H, W) in [0, 1] or None."""
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
        raise ValueError(
            f"image: expected shape (H, W), (H, W, 1), (H, W, 2), (H, W, 3) or (H, W, 4), got {arr.shape}"
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"image: expected a non-empty image, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.float64)
    elif arr.dtype == np.uint16:  # 16-bit PNGs
        arr = arr.astype(np.float64) / 65535.0
    elif np.issubdtype(arr.dtype, np.integer):
        if arr.min() < 0 or arr.max() > 255:
            raise ValueError(f"image: integer values must be in 0..255, got {arr.min()}..{arr.max()}")
        arr = arr.astype(np.float64) / 255.0
    elif np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError("image: values must be finite (found NaN or inf)")
        if arr.min() < 0:
            raise ValueError(f"image: values must be >= 0, got minimum {arr.min()}")
        if arr.max() > 1.0:
            if arr.max() > 255.0:
                raise ValueError(f"image: float values must be in [0, 1] or [0, 255], got max {arr.max()}")
            arr = arr / 255.0
    else:
        raise ValueError(f"image: expected an integer, float or bool array, got dtype {arr.dtype}")
    if arr.ndim == 2:
        return arr, None
    channels = arr.shape[2]
    alpha = arr[:, :, -1] if channels in (2, 4) else None
    colour = arr[:, :, :-1] if alpha is not None else arr
    if colour.shape[2] == 3:  # ITU-R BT.601 luma
        grey = colour @ np.array([0.299, 0.587, 0.114])
    else:
        grey = colour[:, :, 0]
    return grey, alpha


def ink_intensity(image: np.ndarray, *, invert: Invert = "auto") -> np.ndarray:
    """Per-pixel ink amount in ``[0, 1]`` (1 = full ink).

    With an alpha channel and ``invert="auto"``: if more than 1% of the pixels are transparent
    (alpha < 0.5), the background is transparency and the ink is the alpha itself, whatever the
    stroke colour (strokes on a transparent background are a common PNG export); otherwise the
    alpha is ignored, as for an opaque image. With an explicit ``invert`` the ink is
    ``alpha * ink(colour)``, so a fully transparent pixel is never ink.

    Args:
        image: ``(H, W)``, ``(H, W, 1|2|3|4)`` uint8 or float image (see module docstring).
        invert: ``True``: dark ink on a light background (ink = ``1 - grey``); ``False``: light
            ink on a dark background (ink = ``grey``); ``"auto"``: decide from the median grey
            value (images with transparency: see above).

    Returns:
        ``(H, W)`` float64 ink intensity in ``[0, 1]``.
    """
    grey, alpha = _to_grey_alpha(image)
    if isinstance(invert, str) and invert == "auto":
        if alpha is not None and np.mean(alpha < 0.5) > 0.01:
            # A transparent background: whatever is opaque is ink, whatever its colour.
            return np.clip(alpha, 0.0, 1.0)
        from sketchkit.geometry.morphology import median

        dark_ink = bool(median(grey) > 0.5)
    elif isinstance(invert, (bool, np.bool_)):
        dark_ink = bool(invert)
    else:
        raise ValueError(f"invert: expected 'auto', True or False, got {invert!r}")
    ink = 1.0 - grey if dark_ink else grey
    if alpha is not None:
        ink = ink * alpha
    return np.clip(ink, 0.0, 1.0)


def ink_mask(image: np.ndarray, *, threshold: float | None = None, invert: Invert = "auto") -> np.ndarray:
    """Boolean mask of the ink pixels of an image.

    Args:
        image: ``(H, W)``, ``(H, W, 1|2|3|4)`` uint8 or float image (see module docstring).
        threshold: ink intensity in ``[0, 1)`` above which a pixel is ink; ``None`` picks it with
            Otsu's method (:func:`sketchkit.geometry.morphology.otsu_threshold`, as
            ``skimage.filters.threshold_otsu``) on the ink intensities. A constant
            image has no ink under Otsu.
        invert: polarity, see :func:`ink_intensity`.

    Returns:
        ``(H, W)`` bool array, True on ink.
    """
    ink = ink_intensity(image, invert=invert)
    if threshold is None:
        if float(ink.max() - ink.min()) < 1e-12:
            return np.zeros(ink.shape, dtype=bool)
        from sketchkit.geometry.morphology import otsu_threshold

        threshold = otsu_threshold(ink)
    elif not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold: expected a value in [0, 1), got {threshold}")
    return ink > threshold


def _check_sampling(n: int, generator: np.random.Generator) -> int:
    """``n`` as an int, after checking it and the generator of a point sampler (ValueError if bad)."""
    if not isinstance(generator, np.random.Generator):
        raise ValueError(f"generator: expected numpy.random.Generator, got {type(generator).__name__}")
    if int(n) != n or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n}")
    return int(n)


def point_cloud_from_raster(
    image: np.ndarray,
    n: int,
    *,
    generator: np.random.Generator,
    weighted: bool = True,
    threshold: float | None = None,
    invert: Invert = "auto",
    jitter: bool = True,
) -> np.ndarray:
    """Sample ``n`` points on the ink of a raster, in pixel coordinates.

    Ink pixels (:func:`ink_mask`) are drawn with replacement, with probability proportional to
    their ink intensity (``weighted=True``) or uniformly; each drawn pixel gives a point uniform
    inside the pixel square (``jitter=True``) or at its centre ``(col + 0.5, row + 0.5)``.

    Args:
        image: ``(H, W)``, ``(H, W, 1|2|3|4)`` uint8 or float image.
        n: number of points, ``>= 0``.
        generator: ``numpy.random.Generator`` (the only source of randomness).
        weighted: weight pixels by ink intensity.
        threshold: ink threshold (``None``: Otsu), see :func:`ink_mask`.
        invert: polarity, see :func:`ink_intensity`.
        jitter: sub-pixel uniform jitter instead of pixel centres.

    Returns:
        ``(n, 2)`` float64 points ``(x, y)``, ``0 <= x < W``, ``0 <= y < H`` (y down).

    Raises:
        ValueError: the image has no ink pixels (and ``n > 0``), or bad arguments.
    """
    n = _check_sampling(n, generator)
    ink = ink_intensity(image, invert=invert)
    mask = ink_mask(image, threshold=threshold, invert=invert)
    rows, cols = np.nonzero(mask)
    if n == 0:
        return np.zeros((0, 2))
    if rows.size == 0:
        raise ValueError("point_cloud_from_raster: the image has no ink pixels")
    if weighted:
        w = ink[rows, cols]
        p = w / w.sum()
        pick = generator.choice(rows.size, size=n, replace=True, p=p)
    else:
        pick = generator.integers(0, rows.size, size=n)
    offset = generator.random((n, 2)) if jitter else np.full((n, 2), 0.5)
    return np.stack([cols[pick], rows[pick]], axis=1).astype(np.float64) + offset


def centreline_pixels(image: np.ndarray, *, upsample: int = 4, threshold: float | None = None,
                      invert: Invert = "auto") -> np.ndarray:
    """Centre points of the one-pixel-wide skeleton of a raster's ink.

    The ink intensity is upsampled ``upsample`` times (bilinear), thresholded (:func:`ink_mask`'s
    rule on the upsampled intensity) and thinned
    (:func:`sketchkit.geometry.morphology.skeletonize`); the upsampling lets the skeleton of a
    thick, blurred brush stroke sit between the original pixels instead of on them.

    Args:
        image: ``(H, W)``, ``(H, W, 1|2|3|4)`` uint8 or float image.
        upsample: integer factor ``>= 1``.
        threshold: ink threshold (``None``: Otsu), see :func:`ink_mask`.
        invert: polarity, see :func:`ink_intensity`.

    Returns:
        ``(M, 2)`` float64 points ``(x, y)`` in the image's pixel coordinates (y down), one per
        skeleton pixel of the upsampled image, so spaced about ``1 / upsample`` pixels along a
        stroke; ``(0, 2)`` when there is no ink.
    """
    from sketchkit.geometry.morphology import sample_bilinear, skeletonize

    if int(upsample) != upsample or upsample < 1:
        raise ValueError(f"upsample must be an integer >= 1, got {upsample}")
    f = int(upsample)
    ink = ink_intensity(image, invert=invert)
    h, w = ink.shape
    # fine pixel (i, j) has its centre at original pixel coordinate (j + 0.5) / f; sample_bilinear
    # indexes pixel centres at integers, hence the half-pixel shifts
    # (+1: the edge padding, so strokes touching the border keep their ink there)
    rows, cols = np.meshgrid((np.arange(h * f) + 0.5) / f + 0.5, (np.arange(w * f) + 0.5) / f + 0.5, indexing="ij")
    fine = sample_bilinear(np.pad(ink, 1, mode="edge"), rows, cols)
    mask = ink_mask(fine, threshold=threshold, invert=False)
    if not mask.any():
        return np.zeros((0, 2))
    r, c = np.nonzero(skeletonize(mask))
    return np.stack([(c + 0.5) / f, (r + 0.5) / f], axis=1)


def centreline_cloud_from_raster(image: np.ndarray, n: int, *, generator: np.random.Generator,
                                 upsample: int = 4, threshold: float | None = None,
                                 invert: Invert = "auto") -> np.ndarray:
    """Sample ``n`` points on the centreline of a raster's ink (:func:`centreline_pixels`).

    Skeleton pixels are drawn uniformly with replacement, so points spread evenly along the
    strokes whatever their width; each point gets a uniform jitter of one fine pixel.

    Returns:
        ``(n, 2)`` float64 points ``(x, y)`` in pixel coordinates (y down).

    Raises:
        ValueError: the image has no ink (and ``n > 0``), or bad arguments.
    """
    n = _check_sampling(n, generator)
    if n == 0:
        return np.zeros((0, 2))
    centres = centreline_pixels(image, upsample=upsample, threshold=threshold, invert=invert)
    if centres.shape[0] == 0:
        raise ValueError("centreline_cloud_from_raster: the image has no ink pixels")
    pick = generator.integers(0, centres.shape[0], size=n)
    return centres[pick] + (generator.random((n, 2)) - 0.5) / upsample
