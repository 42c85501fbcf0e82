"""One raster image file (PNG, JPEG, BMP, GIF, TIFF, WebP) as a point-cloud sketch.

The point-cloud models read rasters as clouds (see :mod:`sketchkit.data.rasters` for the digit
sets); this adapter gives a single drawing the same treatment, so that
``sketchkit reconstruct cloud2curve digit.png --cloud centreline`` turns a user's image into the
model's curves. Unlike the digit sets, the ink's polarity is found per image (dark ink on light
paper, or light on dark: :func:`sketchkit.geometry.raster.ink_intensity` with ``invert="auto"``),
and the sketch has no label. Decoding, size limits and one-line errors come from
:func:`sketchkit.vectorize.loading.load_image`, the cloud from
:func:`sketchkit.data.rasters.image_to_point_cloud` (as image 0 of a digit set); points are in the
file's pixel coordinates (x, y), y down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from sketchkit.data._common import ReadContext
from sketchkit.data.rasters import DEFAULT_POINTS, check_cloud_options, image_to_point_cloud
from sketchkit.data.registry import Format, register_format
from sketchkit.errors import InputError
from sketchkit.sketch import Sketch

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def read_image_file(path: str | Path, ctx: ReadContext | None = None, *, n_points: int = DEFAULT_POINTS,
                    seed: int = 0, weighted: bool = True, threshold: float | None = None, cloud: str = "ink",
                    **_: Any) -> Iterator[Sketch]:
    """Yield the one point-cloud :class:`Sketch` of an image file (no points if it has no ink).

    Args:
        path: the image file.
        ctx: error policy (unused: a file-level problem always raises).
        n_points: points in the cloud.
        seed: seed of the point draw (``default_rng([seed, 0])``).
        weighted: ``cloud="ink"``: draw ink pixels proportionally to their darkness.
        threshold: ink threshold in [0, 1) (``None``: Otsu).
        cloud: ``"ink"`` (points on the ink) or ``"centreline"`` (on its skeleton, 4x finer).

    Raises:
        InputError: a missing file, an image over the size limit, a bad option.
        DataFormatError: a file that is not a readable image.
    """
    from sketchkit.vectorize.loading import load_image

    path = Path(path)
    check_cloud_options(path, n_points, cloud)
    image, factor, (width, height) = load_image(path)
    try:
        points = image_to_point_cloud(image, 0, n_points=n_points, seed=seed, weighted=weighted,
                                      threshold=threshold, cloud=cloud, invert="auto")
    except ValueError as exc:  # a bad threshold and the like
        raise InputError(f"{path}: {exc}") from None
    yield Sketch.from_point_cloud(points * factor, meta={"source": str(path), "image_shape": [height, width]})


def _sniff_image(path: Path, head: bytes) -> bool:
    return (head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*"))
            or (head[:2] == b"BM" and path.suffix.lower() == ".bmp")
            or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"))


register_format(Format(
    name="image",
    description="one raster image (PNG, JPEG, BMP, GIF, TIFF, WebP), either polarity -> a point cloud",
    extensions=IMAGE_EXTENSIONS,
    reader=read_image_file,
    sniff=_sniff_image,
    options=("n_points", "seed", "weighted", "threshold", "cloud"),
))
