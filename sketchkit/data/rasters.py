"""Raster digit sets: K-MNIST ``.npz`` (``arr_0``) and MNIST / K-MNIST idx (``.gz`` or plain).

Both hold light ink on a dark background, ``uint8`` ``(H, W)`` images (28 x 28). They are
exposed two ways:

* :func:`read_images` -> ``(image, label)`` pairs (the raster itself), :func:`read_ink_masks`
  -> ``(bool mask, label)``;
* the registered readers -> point-cloud :class:`Sketch` objects
  (:meth:`Sketch.from_point_cloud`): ``n_points`` ink pixels drawn with probability
  proportional to intensity (:func:`sketchkit.geometry.raster.point_cloud_from_raster`), in
  pixel coordinates (x, y), y down. The generator for image ``i`` is
  ``numpy.random.default_rng([seed, i])``, so the same index always gives the same cloud,
  whatever ``limit`` or order it is read in. The image itself is not stored in ``meta``.

Labels live in a separate file next to the images and are found by name
(``kmnist-test-imgs.npz`` -> ``kmnist-test-labels.npz``; ``t10k-images-idx3-ubyte.gz`` ->
``t10k-labels-idx1-ubyte.gz``) or passed as ``labels=PATH``; without one, labels are ``None``.
Labels are returned as strings (``"7"``), like :attr:`Sketch.label`.

idx layout (big-endian): magic ``0x00000803`` (images, 3 dims) or ``0x00000801`` (labels,
1 dim), then one uint32 per dimension, then the uint8 data.
"""

from __future__ import annotations

import gzip
import re
import struct
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import numpy as np

from sketchkit.data._common import ReadContext
from sketchkit.data._npz import load_npz, npz_header, npz_keys
from sketchkit.data.limits import hint, human_bytes, limit
from sketchkit.data.registry import Format, register_format
from sketchkit.errors import DataFormatError, InputError
from sketchkit.sketch import Sketch

__all__ = ["read_images", "read_ink_masks", "read_raster_sketches", "image_to_point_cloud", "DEFAULT_POINTS"]

#: Default number of points per point-cloud sketch.
DEFAULT_POINTS = 256

_IDX_IMAGES = 0x0803
_IDX_LABELS = 0x0801


# ----------------------------------------------------------------------------------------- idx
def _open_idx(path: Path) -> BinaryIO:
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _idx_header(f: BinaryIO, path: Path) -> tuple[int, tuple[int, ...]]:
    try:
        head = f.read(4)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{path}: cannot read idx header ({exc})") from None
    if len(head) < 4 or head[0] != 0 or head[1] != 0:
        raise DataFormatError(f"{path}: not an idx file (bad magic {head.hex()})")
    dtype_code, ndim = head[2], head[3]
    if dtype_code != 0x08:
        raise DataFormatError(f"{path}: idx data type 0x{dtype_code:02x} is not unsigned byte (0x08)")
    dims_raw = f.read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise DataFormatError(f"{path}: truncated idx header")
    dims = struct.unpack(f">{ndim}I", dims_raw)
    return (dtype_code << 8) | ndim, dims


def _check_size(path: Path, what: str, nbytes: int, max_bytes: int | None) -> None:
    """Refuse a file whose header declares more than ``max_bytes`` of data (before reading it)."""
    cap = limit("max_array_bytes", max_bytes)
    if nbytes > cap:
        raise DataFormatError(f"{path}: header declares {what} ({human_bytes(nbytes)}), over the limit of "
                              f"{human_bytes(cap)} ({hint('max_array_bytes')})")


def _iter_idx_images(path: Path, max_bytes: int | None = None) -> Iterator[np.ndarray]:
    with _open_idx(path) as f:
        magic, dims = _idx_header(f, path)
        if magic == _IDX_LABELS:
            raise DataFormatError(f"{path}: is an idx labels file (1-D), not images; give the images file "
                                  "(its labels are found beside it)")
        if magic != _IDX_IMAGES:
            raise DataFormatError(f"{path}: idx file holds {len(dims)}-D data, expected images (3-D)")
        n, h, w = dims
        if n and (h == 0 or w == 0):
            raise DataFormatError(f"{path}: idx header gives empty {h}x{w} images")
        _check_size(path, f"{n} images of {h}x{w}", n * h * w, max_bytes)
        for i in range(n):
            try:
                buf = f.read(h * w)
            except (OSError, EOFError, zlib.error) as exc:
                raise DataFormatError(f"{path}: image {i}: corrupt data ({exc})") from None
            if len(buf) < h * w:
                raise DataFormatError(f"{path}: image {i}: truncated ({len(buf)} of {h * w} bytes; header says {n} images)")
            yield np.frombuffer(buf, dtype=np.uint8).reshape(h, w)


def _read_idx_labels(path: Path, max_bytes: int | None = None) -> np.ndarray:
    with _open_idx(path) as f:
        magic, dims = _idx_header(f, path)
        if magic != _IDX_LABELS:
            raise DataFormatError(f"{path}: expected an idx label file (1-D), got {len(dims)}-D data")
        _check_size(path, f"{dims[0]} labels", dims[0], max_bytes)
        try:
            buf = f.read(dims[0])
        except (OSError, EOFError, zlib.error) as exc:
            raise DataFormatError(f"{path}: corrupt label data ({exc})") from None
        if len(buf) < dims[0]:
            raise DataFormatError(f"{path}: truncated ({len(buf)} of {dims[0]} labels)")
        return np.frombuffer(buf, dtype=np.uint8).copy()


# ----------------------------------------------------------------------------------------- npz
def _npz_images_header(path: Path) -> tuple[int, ...]:
    """Shape ``(N, H, W)`` of the images from the npy header alone (dtype and rank checked)."""
    keys = npz_keys(path)
    if "arr_0" not in keys:
        raise DataFormatError(f"{path}: expected key 'arr_0' (keys: {', '.join(keys)})")
    shape, dtype = npz_header(path, "arr_0")
    if dtype.kind not in "uif" or len(shape) != 3:
        raise DataFormatError(f"{path}: key 'arr_0': expected images (N, H, W), got {dtype} {shape}"
                              + (" (this looks like a labels file)" if len(shape) == 1 else ""))
    if shape[0] and (shape[1] == 0 or shape[2] == 0):
        raise DataFormatError(f"{path}: key 'arr_0': empty {shape[1]}x{shape[2]} images")
    return shape


def _npz_images(path: Path, max_bytes: int | None = None) -> np.ndarray:
    _npz_images_header(path)  # dtype and rank from the header, before any data is read
    (_, arr), = list(load_npz(path, ["arr_0"], max_bytes=max_bytes))
    return arr


def _npz_labels(path: Path, max_bytes: int | None = None) -> np.ndarray:
    shape, dtype = npz_header(path, "arr_0")
    if len(shape) != 1 or dtype.kind not in "iu":
        raise DataFormatError(f"{path}: key 'arr_0': expected labels (N,) integers, got {dtype} {shape}")
    (_, arr), = list(load_npz(path, ["arr_0"], max_bytes=max_bytes))
    return arr


# -------------------------------------------------------------------------------------- labels
_LABEL_NAME_RULES = (
    (re.compile(r"-imgs(?=\.npz$)"), "-labels"),
    (re.compile(r"images-idx3"), "labels-idx1"),
)


def _labels_beside(path: Path) -> Path | None:
    for pattern, repl in _LABEL_NAME_RULES:
        if pattern.search(path.name):
            cand = path.with_name(pattern.sub(repl, path.name))
            if cand.exists():
                return cand
    return None


def _load_labels(images: Path, labels: str | Path | bool | None, n: int,
                 max_bytes: int | None = None) -> np.ndarray | None:
    if labels is False:
        return None
    lp = _labels_beside(images) if labels in (None, True) else Path(labels)
    if lp is None:
        if labels is True:
            raise InputError(f"{images}: no labels file found beside it")
        return None
    if not lp.exists():
        raise InputError(f"{lp}: no such labels file")
    arr = _npz_labels(lp, max_bytes) if lp.name.endswith(".npz") else _read_idx_labels(lp, max_bytes)
    if arr.shape[0] != n:
        raise DataFormatError(f"{lp}: {arr.shape[0]} labels for {n} images in {images}")
    return arr


def _is_idx(path: Path) -> bool:
    return "idx" in path.name or path.name.endswith((".ubyte", ".ubyte.gz"))


def _image_count(path: Path) -> int:
    if path.name.endswith(".npz"):
        return int(_npz_images_header(path)[0])
    with _open_idx(path) as f:
        _, dims = _idx_header(f, path)
    return int(dims[0])


def _split_of(path: Path) -> str | None:
    name = path.name.lower()
    if "t10k" in name or "test" in name:
        return "test"
    if "train" in name:
        return "train"
    return None


def read_images(path: str | Path, split: str | None = None, *, labels: str | Path | bool | None = None,
                max_array_bytes: int | None = None) -> Iterator[tuple[np.ndarray, str | None]]:
    """Stream the raster images of a K-MNIST / MNIST file with their labels.

    Args:
        path: ``*-imgs.npz`` (key ``arr_0``, ``(N, H, W)`` uint8) or an idx images file
            (``.gz`` or plain).
        split: ``"train"`` or ``"test"``: checked against the split the file name states
            (``t10k``/``test``/``train``); ``InputError`` on a mismatch. ``None``: no check.
        labels: labels file; ``None`` finds it beside the images (labels ``None`` if absent),
            ``False`` ignores labels.
        max_array_bytes: largest image (or label) data accepted, uncompressed bytes as the file's
            header declares them; default from :mod:`sketchkit.data.limits`
            (``SKETCHKIT_MAX_ARRAY_BYTES``, 256 MiB).

    Yields:
        ``(image, label)``: ``uint8`` ``(H, W)`` array (light ink on dark), label string or None.

    Raises:
        DataFormatError: a truncated / corrupt file, naming the image index; a file whose header
            declares more data than ``max_array_bytes`` (refused before reading it).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if split is not None:
        if split not in ("train", "test"):
            raise InputError(f"split: expected 'train' or 'test', got {split!r}")
        found = _split_of(path)
        if found is not None and found != split:
            raise InputError(f"{path}: holds the {found!r} split, not {split!r}")
    if path.name.endswith(".npz"):
        imgs = _npz_images(path, max_array_bytes)
        if imgs.dtype != np.uint8:
            imgs = np.clip(imgs, 0, 255).astype(np.uint8)
        labs = _load_labels(path, labels, imgs.shape[0], max_array_bytes)
        for i in range(imgs.shape[0]):
            yield imgs[i], (None if labs is None else str(int(labs[i])))
        return
    n = _image_count(path)
    labs = _load_labels(path, labels, n, max_array_bytes)
    for i, img in enumerate(_iter_idx_images(path, max_array_bytes)):
        yield img, (None if labs is None else str(int(labs[i])))


def read_ink_masks(path: str | Path, split: str | None = None, *, threshold: float | None = None,
                   labels: str | Path | bool | None = None) -> Iterator[tuple[np.ndarray, str | None]]:
    """Stream ``(ink mask, label)`` pairs: :func:`read_images` through
    :func:`sketchkit.geometry.raster.ink_mask` (light ink on dark; ``threshold=None``: Otsu).

    Yields:
        ``(bool (H, W) mask, label)``, True on ink.
    """
    from sketchkit.geometry.raster import ink_mask

    for img, lab in read_images(path, split, labels=labels):
        yield ink_mask(img, threshold=threshold, invert=False), lab


CLOUDS = ("ink", "centreline")


def check_cloud_options(path: Path, n_points: int, cloud: str) -> None:
    """One-line :class:`InputError` naming ``path`` for a negative ``n_points`` or an unknown
    ``cloud`` (before any image is read)."""
    if n_points < 0:
        raise InputError(f"{path}: n_points must be >= 0, got {n_points}")
    if cloud not in CLOUDS:
        raise InputError(f"{path}: cloud: expected one of {', '.join(CLOUDS)}, got {cloud!r}")


def image_to_point_cloud(image: np.ndarray, index: int, *, n_points: int = DEFAULT_POINTS, seed: int = 0,
                         weighted: bool = True, threshold: float | None = None, cloud: str = "ink",
                         invert: bool | str = False) -> np.ndarray:
    """The seeded point cloud of image ``index``: ``(n_points, 2)`` pixel coords (x, y), y down.

    ``cloud="ink"``: points on the ink pixels
    (:func:`~sketchkit.geometry.raster.point_cloud_from_raster`); ``"centreline"``: points on the
    skeleton of the ink, upsampled 4x (:func:`~sketchkit.geometry.raster.centreline_cloud_from_raster`;
    ``weighted`` does not apply). The generator is ``numpy.random.default_rng([seed, index])``.
    ``invert``: the ink's polarity (False: light ink on dark, as the digit sets; ``"auto"``: found
    from the image, see :func:`~sketchkit.geometry.raster.ink_intensity`). An image without ink
    gives ``(0, 2)``.
    """
    from sketchkit.geometry.raster import centreline_cloud_from_raster, point_cloud_from_raster

    if cloud not in CLOUDS:
        raise InputError(f"cloud: expected one of {', '.join(CLOUDS)}, got {cloud!r}")
    gen = np.random.default_rng([int(seed), int(index)])
    if not np.any(image):
        return np.zeros((0, 2))
    try:
        if cloud == "centreline":
            return centreline_cloud_from_raster(image, n_points, generator=gen, threshold=threshold, invert=invert)
        return point_cloud_from_raster(image, n_points, generator=gen, weighted=weighted,
                                       threshold=threshold, invert=invert)
    except ValueError as exc:
        if "no ink" in str(exc):
            return np.zeros((0, 2))
        raise


def read_raster_sketches(
    path: str | Path,
    ctx: ReadContext | None = None,
    *,
    split: str | None = None,
    labels: str | Path | bool | None = None,
    n_points: int = DEFAULT_POINTS,
    seed: int = 0,
    weighted: bool = True,
    threshold: float | None = None,
    cloud: str = "ink",
    max_array_bytes: int | None = None,
    **_: Any,
) -> Iterator[Sketch]:
    """K-MNIST / MNIST rasters as point-cloud Sketches (see module docstring).

    Args:
        path: images file (npz or idx).
        ctx: error policy (file-level problems always raise).
        split: checked against the file name, see :func:`read_images`.
        labels: labels file override (see :func:`read_images`).
        n_points: points per cloud.
        seed: base seed; image ``i`` uses ``default_rng([seed, i])``.
        weighted: sample ink pixels proportionally to intensity.
        threshold: ink threshold in [0, 1) (``None``: Otsu per image).
        cloud: ``"ink"`` (points on the ink pixels) or ``"centreline"`` (points on the ink's
            skeleton: thin, even clouds of thick brush strokes), see :func:`image_to_point_cloud`.
        max_array_bytes: size limit of the image data (see :func:`read_images`).

    Yields:
        ``Sketch.from_point_cloud`` with ``meta`` ``source``, ``index``, ``image_shape``.
    """
    path = Path(path)
    check_cloud_options(path, n_points, cloud)
    for i, (img, lab) in enumerate(read_images(path, split, labels=labels, max_array_bytes=max_array_bytes)):
        points = image_to_point_cloud(img, i, n_points=n_points, seed=seed, weighted=weighted,
                                      threshold=threshold, cloud=cloud)
        yield Sketch.from_point_cloud(points, label=lab, meta={
            "source": str(path), "index": i, "image_shape": [int(img.shape[0]), int(img.shape[1])],
        })


def raster_info(path: str | Path, **opts: Any) -> dict:
    """Image count, shape, label counts and mean ink fraction (ink > 0.5) of a raster file."""
    path = Path(path)
    n = 0
    shape = None
    counts: dict[str, int] = {}
    ink = 0.0
    for img, lab in read_images(path, labels=opts.get("labels"), max_array_bytes=opts.get("max_array_bytes")):
        n += 1
        shape = list(img.shape)
        ink += float((img > 127).mean())
        if lab is not None:
            counts[lab] = counts.get(lab, 0) + 1
    return {
        "count": n,
        "image_shape": shape,
        "labels": dict(sorted(counts.items(), key=lambda kv: (len(kv[0]), kv[0]))),
        "mean_ink_fraction": round(ink / n, 4) if n else 0.0,
        "points_per_sketch": int(opts.get("n_points", DEFAULT_POINTS)),
    }


def _sniff_npz(path: Path, head: bytes) -> bool:
    if not head.startswith(b"PK"):
        return False
    return npz_keys(path) == ["arr_0"]


def _sniff_idx(path: Path, head: bytes) -> bool:
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(path, "rb") as f:
                head = f.read(4)
        except (OSError, EOFError, zlib.error):
            return False
    return len(head) >= 4 and head[:3] == b"\x00\x00\x08" and head[3] in (1, 3)  # images or labels


register_format(Format(
    name="kmnist-npz",
    description="K-MNIST / MNIST images .npz (key arr_0, (N, H, W) uint8) -> point clouds",
    extensions=(".npz",),
    reader=read_raster_sketches,
    sniff=_sniff_npz,
    info=raster_info,
    options=("split", "labels", "n_points", "seed", "weighted", "threshold", "cloud", "max_array_bytes"),
))

register_format(Format(
    name="mnist-idx",
    description="MNIST-style idx images (.gz or plain, magic 0x00000803) -> point clouds",
    extensions=("idx3-ubyte.gz", "idx3-ubyte", "idx1-ubyte.gz", "idx1-ubyte"),
    reader=read_raster_sketches,
    sniff=_sniff_idx,
    info=raster_info,
    options=("split", "labels", "n_points", "seed", "weighted", "threshold", "cloud", "max_array_bytes"),
))
