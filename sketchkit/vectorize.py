"""Raster line drawing -> clean, open centreline Bézier strokes (``sketchkit vectorize``).

The pipeline is deterministic (no random numbers; same input and options -> same bytes):

1. **Load** (:func:`load_image`): PNG/JPEG/BMP/... via Pillow; grey, colour, palette or alpha.
   Images over ``max_pixels`` are refused with a one-line :class:`~sketchkit.errors.InputError`
   *before* decoding; images over ``work_pixels`` are box-downscaled by an integer factor (coordinates
   are mapped back to the input's pixel frame), so large scans never exhaust memory.
2. **Ink mask**: :func:`sketchkit.geometry.raster.ink_mask` (polarity detected: dark-on-light or
   the reverse; transparent backgrounds handled; Otsu threshold unless ``threshold`` is given).
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
   it matches). Before fitting, points move across the line to the ink centroid (sub-pixel
   centreline from the anti-aliasing); on thin lines (width <= 6 px, where the benchmark showed
   a gain) free line ends are also extended by half a width (a skeleton stops short of a round
   cap) and the two sides of a sharp corner meet at their tangents' crossing (a skeleton rounds
   corners off).
   The **Cloud2Curve stroke model** (shipped weights, run here in numpy — no torch import, so a
   cold start stays fast) proposes a curve of each degree from the piece's point cloud. The
   proposal competes with the chord-length least-squares curve (end points pinned): both are
   refined by ``refine`` steps that alternate projecting the points onto the curve (new
   parameters) and solving the control points by least squares with the end points pinned to
   the piece's ends, and the one closer to the points (RMS) is kept, so the model cannot make a
   fit worse. ``refine=0`` compares the unrefined starts; ``model=False`` uses chord-length
   starts only (about twice as fast). ``meta["curves_started_from_model"]`` counts the curves
   whose winning start was the model's.
5. **Output**: a :class:`~sketchkit.sketch.BezierSketch` in input pixel coordinates.
   ``meta["curve_stroke"]`` gives the stroke (path) index of each curve (a stroke is a chain of
   curves sharing end points), ``meta["image_size"]`` ``[W, H]``, ``meta["stroke_width"]`` px
   (whole image) and ``meta["stroke_widths"]`` px (one per stroke, from the distance transform
   along its traced path; thick strokes are traced with local, radius-based spur and junction
   rules, see :func:`~sketchkit.geometry.skeleton.trace_paths`).
   :func:`to_svg` writes one open ``<path>`` per stroke in the image's own frame
   (``viewBox="0 0 W H"``), so the SVG overlays the input exactly.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sketchkit._io import write_atomic
from sketchkit.geometry.bezier import bernstein_basis, chord_length_parameters
from sketchkit.errors import DataFormatError, InputError
from sketchkit.sketch import BezierSketch, Sketch

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
]

DEFAULT_MAX_PIXELS = 64_000_000  # refuse larger images (decoding alone would need GBs)
DEFAULT_WORK_PIXELS = 4_194_304  # downscale above 2048 x 2048 before tracing


class BlankImageWarning(UserWarning):
    """The image has no ink: the result is an empty drawing."""


# ------------------------------------------------------------------------------------------------
# loading
# ------------------------------------------------------------------------------------------------


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


# ------------------------------------------------------------------------------------------------
# the stroke model in numpy
# ------------------------------------------------------------------------------------------------


class NumpyStrokeModel:
    """The Cloud2Curve stroke-level network (``stroke_net``) evaluated with numpy.

    Reads ``config.json`` + ``model.safetensors`` of a ``cloud2curve`` model; gives the same
    numbers as :meth:`sketchkit.models.cloud2curve.Cloud2CurveModel.predict_strokes` (float32).
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        from safetensors.numpy import load_file

        directory = Path(directory)
        cfg_path = directory / "config.json"
        try:
            cfg = json.loads(cfg_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{cfg_path}: cannot read model config ({_short(exc)})") from None
        if cfg.get("family") != "cloud2curve":
            raise InputError(f"{cfg_path}: a {cfg.get('family')!r} model, not a 'cloud2curve' model")
        try:
            t = load_file(str(directory / "model.safetensors"))
        except Exception as exc:
            raise InputError(f"{directory / 'model.safetensors'}: cannot read weights ({_short(exc)})") from None
        self.max_degree = int(cfg.get("max_degree", 7))
        self.points = int(cfg.get("stroke_points", 64))
        p = "stroke_net."
        self.layers = [(t[f"{p}point_mlp.{i}.weight"].T.copy(), t[f"{p}point_mlp.{i}.bias"]) for i in (0, 2, 4)]
        self.head = [(t[f"{p}head.{i}.weight"].T.copy(), t[f"{p}head.{i}.bias"]) for i in (0, 2)]
        self.n_ctrl = sum(d + 1 for d in range(1, self.max_degree + 1))

    def predict(self, clouds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(B, N, 2)`` unit-frame clouds -> ``(control points (B, n_ctrl, 2), degree logits (B, D))``."""
        bsz, npts = clouds.shape[:2]
        x = np.ascontiguousarray(clouds, dtype=np.float32).reshape(bsz * npts, 2)  # 2-D matmuls: fast BLAS path
        for i, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if i < 2:
                x = np.maximum(x, 0.0)
        x = x.reshape(bsz, npts, -1).max(axis=1)
        x = np.maximum(x @ self.head[0][0] + self.head[0][1], 0.0)
        x = x @ self.head[1][0] + self.head[1][1]
        ctrl = x[:, : self.n_ctrl * 2].reshape(-1, self.n_ctrl, 2)
        return ctrl.astype(np.float64), x[:, self.n_ctrl * 2 :].astype(np.float64)

    def curves_for(self, pieces: Sequence[np.ndarray]) -> list[list[np.ndarray]]:
        """Per piece (ordered points, any frame): the predicted curve of each degree, in that frame."""
        if not pieces:
            return []
        clouds, frames = [], []
        for pts in pieces:
            idx = np.round(np.linspace(0, pts.shape[0] - 1, self.points)).astype(int)
            c = pts[idx]
            lo, hi = c.min(axis=0), c.max(axis=0)
            centre, scale = (lo + hi) / 2.0, max(float((hi - lo).max()) / 2.0, 1e-6)
            clouds.append((c - centre) / scale)
            frames.append((centre, scale))
        ctrl, _ = self.predict(np.stack(clouds))
        out, start = [], 0
        slices = []
        for d in range(1, self.max_degree + 1):
            slices.append(slice(start, start + d + 1))
            start += d + 1
        for i, (centre, scale) in enumerate(frames):
            out.append([ctrl[i, sl] * scale + centre for sl in slices])
        return out


_MODEL_CACHE: dict[str, NumpyStrokeModel] = {}


def _resolve_model(model: Any) -> Any:
    """``None``/``"cloud2curve"`` -> shipped numpy model (or None when not shipped); a path -> numpy
    model; a torch ``Cloud2CurveModel`` -> adapter; ``False`` -> no model."""
    if model is False:
        return None
    if model is None or isinstance(model, (str, os.PathLike)):
        from sketchkit.pretrained import PRETRAINED_DIR

        name = "cloud2curve" if model is None else str(model)
        directory = Path(name)
        if not (directory / "config.json").is_file():
            directory = PRETRAINED_DIR / name
        if not (directory / "model.safetensors").is_file():
            if model is None:
                return None  # nothing shipped: least-squares initialisation
            raise InputError(f"{name}: no cloud2curve model directory (config.json + model.safetensors)")
        key = str(directory.resolve())
        if key not in _MODEL_CACHE:
            _MODEL_CACHE[key] = NumpyStrokeModel(directory)
        return _MODEL_CACHE[key]
    if hasattr(model, "fit_stroke_clouds"):
        return _TorchAdapter(model)
    if isinstance(model, NumpyStrokeModel):
        return model
    raise InputError(f"model: expected None, False, a path or a Cloud2CurveModel, got {type(model).__name__}")


class _TorchAdapter:
    def __init__(self, model: Any) -> None:
        self.model = model
        self.max_degree = model.config.max_degree

    def curves_for(self, pieces: Sequence[np.ndarray]) -> list[list[np.ndarray]]:
        n = self.model.config.stroke_points
        clouds = [p[np.round(np.linspace(0, p.shape[0] - 1, n)).astype(int)] for p in pieces]
        return [curves for curves, _ in self.model.fit_stroke_clouds(clouds)] if clouds else []


# ------------------------------------------------------------------------------------------------
# curve fitting
# ------------------------------------------------------------------------------------------------


def _project(ctrl: np.ndarray, pts: np.ndarray, t0: np.ndarray | None = None,
             newton_steps: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Parameter of the nearest curve point for each point and the distances.

    Starts from ``t0`` when given (refinement: the previous parameters are close), else from a
    dense search over the curve (:func:`~sketchkit.geometry.bezier_batch.search_samples`); then
    ``newton_steps`` Newton steps on the foot-point condition.
    """
    from sketchkit.geometry.bezier_batch import search_samples

    d = ctrl.shape[0] - 1
    if t0 is None:
        m = int(search_samples(len(pts)))
        ts = np.linspace(0.0, 1.0, m)
        curve = bernstein_basis(d, ts) @ ctrl  # (m, 2)
        diff = pts[:, None, :] - curve[None, :, :]
        t = ts[np.argmin((diff ** 2).sum(-1), axis=1)]
    else:
        t = t0
    # Newton refinement of the foot point
    d1 = d * np.diff(ctrl, axis=0)
    d2 = (d - 1) * np.diff(d1, axis=0) if d >= 2 else np.zeros((1, 2))
    for _ in range(newton_steps):
        p = bernstein_basis(d, t) @ ctrl
        p1 = bernstein_basis(d - 1, t) @ d1
        p2 = bernstein_basis(d - 2, t) @ d2 if d >= 2 else np.zeros_like(p)
        r = p - pts
        num = (r * p1).sum(1)
        den = (p1 * p1).sum(1) + (r * p2).sum(1)
        step = np.where(np.abs(den) > 1e-12, num / np.where(np.abs(den) > 1e-12, den, 1.0), 0.0)
        t = np.clip(t - step, 0.0, 1.0)
    dist = np.linalg.norm(bernstein_basis(d, t) @ ctrl - pts, axis=1)
    return t, dist


def _solve_pinned(pts: np.ndarray, t: np.ndarray, d: int) -> np.ndarray:
    """Least-squares control points of degree ``d`` at parameters ``t`` with end points pinned."""
    p0, pn = pts[0], pts[-1]
    if d == 1:
        return np.stack([p0, pn])
    B = bernstein_basis(d, t)
    rhs = pts - np.outer(B[:, 0], p0) - np.outer(B[:, -1], pn)
    A = B[:, 1:-1]
    ridge = 1e-9 * np.eye(d - 1)
    inner = np.linalg.solve(A.T @ A + ridge, A.T @ rhs)
    return np.concatenate([p0[None], inner, pn[None]])


def _refine_from(pts: np.ndarray, d: int, ctrl: np.ndarray, t: np.ndarray, dist: np.ndarray, refine: int,
                 hopeless: float) -> tuple[np.ndarray, float, float, np.ndarray]:
    """Refine a start: ``(ctrl, largest distance, RMS distance, per-point distances)``."""
    from sketchkit.geometry.bezier_batch import REFINE_NEWTON_STEPS

    err = float(dist.max())
    if refine and err > hopeless:
        return ctrl, err, err, dist  # far off: refinement would not bring it within tolerance
    for _ in range(refine):
        t = np.maximum.accumulate(t)  # ordered points -> monotone parameters
        t[0], t[-1] = 0.0, 1.0
        ctrl = _solve_pinned(pts, t, d)
        t, dist = _project(ctrl, pts, t, REFINE_NEWTON_STEPS)
    # also check the curve does not wander away from the points (curve -> points)
    curve = bernstein_basis(d, np.linspace(0.0, 1.0, min(max(16, len(pts)), 96))) @ ctrl
    back = np.sqrt(((curve[:, None, :] - pts[None, :, :]) ** 2).sum(-1).min(axis=1))
    return ctrl, float(max(dist.max(), back.max())), float(np.sqrt(np.mean(dist ** 2))), dist


_TIE_PX = 1e-9  # the model's start must beat the chord start's RMS by this much (rounding is no win)


def _fit_degree(pts: np.ndarray, d: int, init: np.ndarray | None, refine: int,
                hopeless: float = math.inf, tol: tuple[float, float] = (math.inf, math.inf),
                ) -> tuple[np.ndarray, float, float, bool, np.ndarray]:
    """Fit one degree: control points, largest and RMS point-to-curve distance (px), whether
    the result came from the model's proposal (``init``) rather than the chord-length start, and
    the per-point distances to the result.

    Both starts are refined; one within ``tol`` (largest, RMS) beats one outside it, then the
    lower RMS distance wins.
    """
    ctrl = _solve_pinned(pts, chord_length_parameters(pts), d)
    t, dist = _project(ctrl, pts)
    c, e, r, dist = _refine_from(pts, d, ctrl, t, dist, refine, hopeless)
    best = (c, e, r, False, dist)
    if init is not None:
        cm = np.asarray(init, dtype=np.float64)
        # orient the predicted curve like the ordered points
        if (np.linalg.norm(cm[0] - pts[0]) + np.linalg.norm(cm[-1] - pts[-1])
                > np.linalg.norm(cm[-1] - pts[0]) + np.linalg.norm(cm[0] - pts[-1])):
            cm = cm[::-1].copy()
        tm, dm = _project(cm, pts)
        c, e, r, dist = _refine_from(pts, d, cm, tm, dm, refine, hopeless)
        cand = (c, e, r, True, dist)

        def key(fit: tuple, margin: float = 0.0) -> tuple[bool, float]:
            return (not (fit[1] <= tol[0] and fit[2] <= tol[1]), fit[2] + margin)

        if key(cand, _TIE_PX) < key(best):  # a tie (both starts converge alike) goes to the chord start
            best = cand
    return best


def _extend_ends(pts: np.ndarray, start_free: bool, end_free: bool, width: float) -> np.ndarray:
    """Extend free line ends by half a stroke width along the end tangent.

    A skeleton stops about half a width short of a round-capped line's true end point.
    """
    if pts.shape[0] < 3 or not (start_free or end_free):
        return pts
    ext = width / 2.0
    reach = max(2.0, 1.5 * width)

    def tip(p: np.ndarray) -> np.ndarray | None:
        d = np.linalg.norm(p - p[0], axis=1)
        far = np.nonzero(d >= reach)[0]
        if far.size == 0:
            return None
        v = p[0] - p[far[0]]
        return p[0] + v / np.linalg.norm(v) * ext

    out = pts
    if start_free:
        t = tip(pts)
        if t is not None:
            out = np.concatenate([t[None], out])
    if end_free:
        t = tip(pts[::-1])
        if t is not None:
            out = np.concatenate([out, t[None]])
    return out


def _sharpen(a: np.ndarray, b: np.ndarray, width: float) -> np.ndarray | None:
    """Where two pieces meet at a corner, the tip of the corner: the crossing of their tangent lines.

    A skeleton rounds a sharp corner off; the pen's corner lies where the two straight-ish sides
    meet. ``None`` when the sides are parallel or the crossing is over ``1.5 * width`` away.
    """
    c = a[-1]
    reach = max(3.0, 3.0 * width)

    def side(p: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        d = np.linalg.norm(p - p[0], axis=1)
        sel = p[(d >= 0.75 * width) & (d <= reach)]
        if sel.shape[0] < 2:
            return None
        centre = sel.mean(axis=0)
        _, _, vt = np.linalg.svd(sel - centre)
        return centre, vt[0]

    sa, sb = side(a[::-1]), side(b)
    if sa is None or sb is None:
        return None
    (p, u), (q, v) = sa, sb
    m = np.array([u, -v]).T
    if abs(np.linalg.det(m)) < 1e-3:
        return None
    s, _ = np.linalg.solve(m, q - p)
    x = p + s * u
    if np.linalg.norm(x - c) > 1.5 * width:
        return None
    return x


def _centre(pts: np.ndarray, ink: np.ndarray, width: float, max_shift: float = 0.75) -> np.ndarray:
    """Move path points across the line to the ink's centroid (sub-pixel centreline).

    Skeleton pixels sit on the pixel grid; the anti-aliased ink profile across the stroke says
    where the pen's centre really is. For each point, ink is sampled (bilinear) along the normal
    at offsets ``-width .. width`` px and the point moves to the ink-weighted mean offset,
    clipped to ``max_shift`` px (junctions and touching strokes bias the centroid).
    """
    from sketchkit.geometry.morphology import sample_bilinear

    n = pts.shape[0]
    if n < 3:
        return pts
    closed = np.array_equal(pts[0], pts[-1])
    k = 2
    idx = np.arange(n)
    if closed:
        ring = pts[:-1]
        m = ring.shape[0]
        tan = ring[(np.arange(m) + k) % m] - ring[(np.arange(m) - k) % m]
        tan = np.concatenate([tan, tan[:1]])
    else:
        tan = pts[np.minimum(idx + k, n - 1)] - pts[np.maximum(idx - k, 0)]
    norm = np.linalg.norm(tan, axis=1, keepdims=True)
    ok = norm[:, 0] > 1e-9
    nrm = np.zeros_like(pts)
    nrm[ok] = np.stack([-tan[ok, 1], tan[ok, 0]], axis=1) / norm[ok]
    offs = np.arange(-math.ceil(width), math.ceil(width) + 0.01, 0.25)  # (k,)
    sample = pts[:, None, :] + offs[None, :, None] * nrm[:, None, :]  # (n, k, 2) in (x, y)
    # pixel (row, col) centre at (col + 0.5, row + 0.5): array coordinate = xy - 0.5
    vals = sample_bilinear(ink, sample[..., 1] - 0.5, sample[..., 0] - 0.5)
    total = vals.sum(axis=1)
    shift = np.where(total > 1e-9, (vals * offs).sum(axis=1) / np.maximum(total, 1e-9), 0.0)
    shift = np.clip(shift, -max_shift, max_shift) * ok
    out = pts + shift[:, None] * nrm
    if closed:
        out[-1] = out[0]
    return out


def _smooth(pts: np.ndarray, passes: int = 2) -> np.ndarray:
    if pts.shape[0] < 3:
        return pts
    closed = np.array_equal(pts[0], pts[-1])
    out = pts.copy()
    for _ in range(passes):
        if closed:
            core = out[:-1]
            core = 0.25 * np.roll(core, 1, 0) + 0.5 * core + 0.25 * np.roll(core, -1, 0)
            out = np.concatenate([core, core[:1]])
        else:
            inner = 0.25 * out[:-2] + 0.5 * out[1:-1] + 0.25 * out[2:]
            out = np.concatenate([out[:1], inner, out[-1:]])
    return out


def _corners(pts: np.ndarray, width: float, max_angle_deg: float = 55.0) -> list[int]:
    """Indices of sharp corners (turn above ``max_angle_deg`` over a window of about 1.5 widths)."""
    n = pts.shape[0]
    k = max(2, int(round(1.5 * width)))
    if n < 2 * k + 1:
        return []
    a = pts[k:-k] - pts[: n - 2 * k]
    b = pts[2 * k:] - pts[k:-k]
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    cosang = (a * b).sum(1) / np.maximum(na * nb, 1e-12)
    turn = np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0)))  # (n - 2k,), index i -> point i + k
    out = []
    i = 0
    while i < len(turn):
        if turn[i] > max_angle_deg:
            j = i
            while j + 1 < len(turn) and turn[j + 1] > max_angle_deg:
                j += 1
            best = i + int(np.argmax(turn[i : j + 1]))
            out.append(best + k)
            i = j + 1
        else:
            i += 1
    return out


@dataclass(frozen=True)
class _FitOptions:
    max_degree: int
    tolerance: float
    rms_tolerance: float
    refine: int
    min_piece: int


def _cut_index(pts: np.ndarray, dist: np.ndarray, min_piece: int, far_off: bool) -> int:
    """Where to cut a piece no curve fits (away from the ends by ``min_piece`` points).

    At its worst point (``dist``) while the best curve is near the points; when it is far off
    (``far_off``: beyond the refinement's ``hopeless`` bound — loops, spirals), at the point
    farthest from the segment joining the ends (as in Ramer-Douglas-Peucker). A pinned curve
    misses such a shape worst right beside its ends, and cutting there would peel a few points
    off per round (quadratic in the piece's length).
    """
    lo, hi = min_piece, pts.shape[0] - min_piece
    if not far_off:
        return lo + int(np.argmax(dist[lo:hi]))
    a, b = pts[0], pts[-1]
    ab = b - a
    span = float(ab @ ab)
    q = pts[lo:hi] - a
    s = np.clip(q @ ab / span, 0.0, 1.0) if span > 1e-12 else np.zeros(len(q))
    return lo + int(np.argmax(np.linalg.norm(q - s[:, None] * ab, axis=1)))


def _fit_pieces(pieces: list[np.ndarray], opts: _FitOptions, model: Any,
                stats: dict[str, int] | None = None) -> list[list[np.ndarray]]:
    """Fit each ordered piece; returns, per piece, its chain of control-point arrays.

    ``stats`` (updated in place) counts the accepted ``curves`` and how many started from the
    model's proposal (``model_start``).
    """
    if stats is None:
        stats = {}
    stats.setdefault("curves", 0)
    stats.setdefault("model_start", 0)
    todo = list(range(len(pieces)))
    result: dict[int, list[np.ndarray]] = {}
    work = {i: p for i, p in enumerate(pieces)}
    children: dict[int, tuple[int, int]] = {}
    next_id = len(pieces)
    while todo:
        preds = model.curves_for([work[i] for i in todo]) if model is not None else [None] * len(todo)
        new_todo = []
        for i, pred in zip(todo, preds):
            pts = work[i]
            # the highest degree first: when even it fails, cut without trying the others;
            # when it fits, the lowest degree that also fits wins
            best = None
            top = max(1, min(opts.max_degree, (pts.shape[0] - 1) // 2))  # enough points per unknown
            for d in [top] + list(range(1, top)):
                init = pred[d - 1] if (pred is not None and d <= len(pred)) else None
                ctrl, err, rms, used, dist = _fit_degree(pts, d, init, opts.refine, 4.0 * opts.tolerance,
                                                        (opts.tolerance, opts.rms_tolerance))
                ok = err <= opts.tolerance and rms <= opts.rms_tolerance
                if best is None or ok:
                    best = (ctrl, err, ok, used, dist)
                if d == top and not ok:
                    break
                if ok and d < top:
                    break
            assert best is not None
            if best[2] or pts.shape[0] <= 2 * opts.min_piece + 1:
                if not best[2]:
                    # too short to cut and nothing fits: the lowest-error try, or the chord
                    line, line_err = _fit_degree(pts, 1, None, 0)[:2]
                    if not best[1] < line_err:
                        best = (line, line_err, False, False, None)
                result[i] = [best[0]]
                stats["curves"] += 1
                stats["model_start"] += int(best[3])
                continue
            # the failed fit's own point distances (from its last projection) say where to cut
            cut = _cut_index(pts, best[4], opts.min_piece, best[1] > 4.0 * opts.tolerance)
            a, b = next_id, next_id + 1
            next_id += 2
            work[a], work[b] = pts[: cut + 1], pts[cut:]
            children[i] = (a, b)
            new_todo += [a, b]
        todo = new_todo

    def collect(i: int) -> list[np.ndarray]:
        if i in children:
            a, b = children[i]
            return collect(a) + collect(b)
        return result[i]

    return [collect(i) for i in range(len(pieces))]


def _model_starts(model: Any, pieces: list[np.ndarray], width: int) -> tuple[np.ndarray, np.ndarray]:
    """The stroke model's proposals for ``pieces``, padded: ``(P, width, width, 2)`` (entry
    ``[p, d, :d + 1]`` is the degree-``d`` curve for piece ``p``, in its frame) and ``(P, width)``
    bool, which degrees were proposed. The shipped numpy model gets all its point clouds in a few
    array operations (the same numbers as :meth:`NumpyStrokeModel.curves_for`)."""
    n_p = len(pieces)
    starts = np.zeros((n_p, width, width, 2))
    has = np.zeros((n_p, width), dtype=bool)
    if model is None or n_p == 0:
        return starts, has
    if isinstance(model, NumpyStrokeModel) and model.points >= 2:
        k = model.points
        lengths = np.array([p.shape[0] for p in pieces])
        first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        idx = np.round(np.arange(k)[None, :] * ((lengths - 1) / (k - 1))[:, None]).astype(np.int64)  # = linspace
        idx[:, -1] = lengths - 1
        cloud = np.concatenate(pieces)[first[:, None] + idx]  # (P, k, 2)
        lo, hi = cloud.min(axis=1), cloud.max(axis=1)
        centre = (lo + hi) / 2.0
        scale = np.maximum((hi - lo).max(axis=1) / 2.0, 1e-6)
        ctrl, _ = model.predict((cloud - centre[:, None]) / scale[:, None, None])
        ctrl = ctrl * scale[:, None, None] + centre[:, None]
        off = 0
        for d in range(1, min(model.max_degree, width - 1) + 1):
            starts[:, d, : d + 1] = ctrl[:, off : off + d + 1]
            has[:, d] = True
            off += d + 1
        return starts, has
    for p, pred in enumerate(model.curves_for(pieces)):
        for d in range(1, min(len(pred), width - 1) + 1):
            starts[p, d, : d + 1] = np.asarray(pred[d - 1], dtype=np.float64)
            has[p, d] = True
    return starts, has


def _fit_pieces_batched(pieces: list[np.ndarray], opts: _FitOptions, model: Any,
                        stats: dict[str, int] | None = None) -> list[list[np.ndarray]]:
    """:func:`_fit_pieces` with all the fits of a round in one batch.

    Same decisions as the per-piece reference (the highest degree first; when it fits, the
    lowest degree that also fits; else cut), scheduled for few batches: each round makes one
    :func:`sketchkit.geometry.bezier_batch.fit_runs` call holding, from both starts (chord-length
    and the model's proposal), the highest degree and the line of every new piece, and the
    middle degrees of the pieces whose highest degree fitted in the round before (their line did
    not). A piece no curve fits is cut where its failed fit's own distances say. So a drawing
    takes about as many calls as its pieces take cuts, and no numpy call is made per point.
    Lines are fitted from the chord start alone where only a fitting line can be used (with
    refinement both starts end on the same pinned line, and a tie goes to the chord start).
    """
    from sketchkit.geometry.bezier_batch import fit_runs

    if stats is None:
        stats = {}
    stats.setdefault("curves", 0)
    stats.setdefault("model_start", 0)
    width = opts.max_degree + 1
    hopeless = 4.0 * opts.tolerance
    key = np.arange(width)
    work: list[np.ndarray] = list(pieces)
    starts, has = np.zeros((0, width, width, 2)), np.zeros((0, width), dtype=bool)
    result: dict[int, list[np.ndarray]] = {}
    children: dict[int, tuple[int, int]] = {}
    tops: dict[int, int] = {}

    def top_of(i: int) -> int:
        if i not in tops:
            tops[i] = max(1, min(opts.max_degree, (work[i].shape[0] - 1) // 2))  # enough points per unknown
        return tops[i]

    def short(i: int) -> bool:  # too short to cut
        return work[i].shape[0] <= 2 * opts.min_piece + 1

    def fit_slots(slots: list[tuple[int, int]]) -> tuple[dict[tuple[int, int], tuple], dict]:
        """Fit each (piece, degree) in one batch; per slot the better start's
        ``(ctrl (d + 1, 2), err, rms, ok, from_model, dist (n,))``, and the chord start's."""
        piece, deg, use, cap = [], [], [], []
        for i, d in slots:
            top = top_of(i)
            # err is compared with the tolerance (lower degrees) or also the hopeless bound (the
            # highest); the exact value only for the fallback of a short piece (its highest
            # degree and its chord line)
            c = math.inf if short(i) and d in (1, top) else (hopeless if d == top else opts.tolerance)
            both = has[i, d] and (d > 1 or d == top or not opts.refine)
            for from_model in ((False, True) if both else (False,)):
                piece.append(i)
                deg.append(d)
                use.append(from_model)
                cap.append(c)
        deg_a, use_a = np.array(deg, dtype=np.int64), np.array(use, dtype=bool)
        lengths = np.array([work[i].shape[0] for i in piece])
        ends = np.cumsum(lengths)
        first = ends - lengths
        pts = np.concatenate([work[i] for i in piece])
        init = None
        if use_a.any():
            init = starts[np.array(piece), deg_a]
            # orient each proposal like its ordered points (reverse its first d + 1 control points)
            p0, pn = pts[first], pts[ends - 1]
            c0, cn = init[np.arange(deg_a.size), 0], init[np.arange(deg_a.size), deg_a]
            flip = (np.linalg.norm(c0 - p0, axis=1) + np.linalg.norm(cn - pn, axis=1)
                    > np.linalg.norm(cn - p0, axis=1) + np.linalg.norm(c0 - pn, axis=1)) & use_a
            rev = np.where(key[None, :] <= deg_a[:, None], deg_a[:, None] - key[None, :], key[None, :])
            init = np.where(flip[:, None, None], np.take_along_axis(init, rev[:, :, None], axis=1), init)
        ctrl, err, rms, dist = fit_runs(pts, lengths, deg_a, init=init, use_init=use_a, refine=opts.refine,
                                        hopeless=hopeless, width=width, err_cap=np.array(cap), return_dist=True)
        ok = (err <= opts.tolerance) & (rms <= opts.rms_tolerance)
        out: dict[tuple[int, int], tuple] = {}
        chord: dict[tuple[int, int], tuple] = {}
        for k in range(deg_a.size):  # the model's start must beat the chord start (listed first)
            slot = (piece[k], deg[k])
            fit = (ctrl[k, : deg[k] + 1], float(err[k]), float(rms[k]), bool(ok[k]), use[k], dist[first[k] : ends[k]])
            other = out.get(slot)
            if other is None:
                out[slot] = chord[slot] = fit
            elif (not fit[3], fit[2] + _TIE_PX) < (not other[3], other[2]):
                out[slot] = fit
        return out, chord

    def finish(i: int, ctrl: np.ndarray, from_model: bool) -> None:
        result[i] = [ctrl.copy()]
        stats["curves"] += 1
        stats["model_start"] += int(from_model)

    new = list(range(len(work)))  # pieces whose highest degree is still to fit
    waiting: dict[int, tuple] = {}  # piece -> its fitting highest degree; the middle degrees are next
    while new or waiting:
        if new:
            s_new, h_new = _model_starts(model, [work[i] for i in new], width)
            grow = len(work) - starts.shape[0]
            starts = np.concatenate([starts, np.zeros((grow, width, width, 2))])
            has = np.concatenate([has, np.zeros((grow, width), dtype=bool)])
            starts[new], has[new] = s_new, h_new
        slots = [(i, d) for i in new for d in dict.fromkeys((top_of(i), 1))]
        slots += [(i, d) for i in waiting for d in range(2, top_of(i))]
        fits, chord = fit_slots(slots)
        for i, top_fit in waiting.items():
            best = next((fits[(i, d)] for d in range(2, top_of(i)) if fits[(i, d)][3]), top_fit)
            finish(i, best[0], best[4])
        waiting, next_new = {}, []
        for i in new:
            top = top_of(i)
            fit = fits[(i, top)]
            if fit[3]:
                line = fits[(i, 1)]
                if line[3]:
                    finish(i, line[0], line[4])
                elif top <= 2:
                    finish(i, fit[0], fit[4])
                else:
                    waiting[i] = fit
            elif short(i):  # rare: too short to cut and nothing fits: that try, or the chord
                chosen, from_model = fit[0], fit[4]
                line, line_err = chord[(i, 1)][:2]  # the pinned chord line (refinement cannot move it)
                if not fit[1] < line_err:
                    chosen, from_model = line, False
                finish(i, chosen, from_model)
            else:
                cut = _cut_index(work[i], fit[5], opts.min_piece, fit[1] > hopeless)
                a, b = len(work), len(work) + 1
                work += [work[i][: cut + 1], work[i][cut:]]
                children[i] = (a, b)
                next_new += [a, b]
        new = next_new

    def collect(i: int) -> list[np.ndarray]:
        if i in children:
            a, b = children[i]
            return collect(a) + collect(b)
        return result[i]

    return [collect(i) for i in range(len(pieces))]


# ------------------------------------------------------------------------------------------------
# the public call
# ------------------------------------------------------------------------------------------------


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

    * more than ``max_ink_fraction`` of the pixels are ink (Otsu splits noise, smooth shading
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
        threshold: ink intensity threshold in ``[0, 1)``; ``None``: Otsu.
        refine: least-squares refinement steps per curve, 0..100 (``0``: the better of the
            model's proposal and the chord-length fit, unrefined).
        stroke_width: ``"auto"`` (distance transform) or the line width in input px (finite, > 0).
        model: ``None``: the shipped Cloud2Curve stroke model (least squares alone if not shipped);
            a model directory or name; a ``Cloud2CurveModel``; ``False``: no model.
        tolerance: allowed RMS distance (input px, finite, > 0) between the traced points and a
            curve (the largest distance may be 6 times that); default ``max(0.25, min(0.6, 0.08 * width))``.
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
        gives an empty sketch and a :class:`BlankImageWarning`.

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
    if threshold is None:
        thr = otsu_threshold(ink)
    else:
        thr = float(threshold)
    mask = ink > thr
    if not mask.any():
        return _blank(name, meta)
    ink_fraction = float(mask.mean())
    if ink_fraction > limits["max_ink_fraction"]:  # cheap, and before the skeleton of a huge texture
        _check_line_drawing(name, {"ink_fraction": ink_fraction}, limits, factor)
    skel = skeletonize(mask)
    radius = ink_radius(mask)
    width = estimate_stroke_width(mask, skel, radius) if fixed_width is None else fixed_width / factor
    # drop specks smaller than a dot of the stroke width
    lab, n = label_components(mask)
    if n:
        sizes = np.bincount(lab.ravel())
        min_size = max(3.0, 0.3 * width * width)
        small = np.nonzero(sizes < min_size)[0]
        small = small[small > 0]
        if small.size:
            mask = mask & ~np.isin(lab, small)
            skel = skel & mask
    if not skel.any():
        return _blank(name, meta)
    stats = line_statistics(mask, skel)
    stats["ink_fraction"] = ink_fraction  # of the thresholded image, specks included
    _check_line_drawing(name, stats, limits, factor)
    meta["line_statistics"] = {k: round(float(v), 4) for k, v in stats.items()}
    thin = width <= 6.0  # end extension and corner sharpening: measured to help thin lines only
    # thick strokes: spurs and junction bridges judged by the local ink radius (K-MNIST brush
    # characters lost whole stroke parts to the global, width-based rules)
    traced = trace_paths(skel, width=width, with_ends=True, radius=None if thin else radius)
    paths = [_extend_ends(p, f0, f1, width) if thin else p for p, f0, f1 in traced]
    widths = [path_width(p, radius, width) if fixed_width is None else width for p, _, _ in traced]
    if max_strokes is not None and len(paths) > max_strokes:
        lengths = [float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()) if len(p) > 1 else 0.0 for p in paths]
        keep = sorted(np.argsort(-np.asarray(lengths), kind="stable")[:max_strokes].tolist())
        paths = [paths[i] for i in keep]
        widths = [widths[i] for i in keep]
    rms_tol = (max(0.25, min(0.6, 0.08 * width * factor)) if tolerance is None else float(tolerance)) / factor
    tol = 6.0 * rms_tol
    opts = _FitOptions(max_degree=int(max_degree), tolerance=tol, rms_tolerance=rms_tol, refine=int(refine),
                       min_piece=max(2, int(round(width))))
    net = _resolve_model(model)
    if net is not None and getattr(net, "max_degree", 7) < 1:
        net = None
    # cut paths into pieces at corners
    pieces, owner = [], []
    dots = {}
    for s, p in enumerate(paths):
        if p.shape[0] < 2 or np.ptp(p, axis=0).max() < 1.0:
            dots[s] = p.mean(axis=0)
            continue
        sm = _centre(_smooth(p), ink, width)
        cuts = _corners(sm, width)
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
    stroke_ids: dict[int, int] = {}
    stroke_widths: list[float] = []
    for s in range(len(paths)):
        if s in dots:
            sid = stroke_ids.setdefault(s, len(stroke_ids))
            stroke_widths.append(round(float(widths[s] * factor), 3))
            c = dots[s] * factor
            curves.append(np.stack([c, c]))
            curve_stroke.append(sid)
        for piece_curves, o in zip(fitted, owner):
            if o != s:
                continue
            if s not in stroke_ids:
                stroke_widths.append(round(float(widths[s] * factor), 3))
            sid = stroke_ids.setdefault(s, len(stroke_ids))
            for c in piece_curves:
                curves.append(c * factor)
                curve_stroke.append(sid)
    meta.update({"curve_stroke": curve_stroke, "stroke_width": round(float(width * factor), 3),
                 "stroke_widths": stroke_widths,
                 "num_strokes": len(stroke_ids), "model": net is not None,
                 "curves_started_from_model": stats["model_start"]})
    return BezierSketch(curves, meta=meta)


def _blank(name: str, meta: dict[str, Any]) -> BezierSketch:
    warnings.warn(f"{name}: no ink found (blank image); the result is empty", BlankImageWarning, stacklevel=3)
    meta.update({"curve_stroke": [], "stroke_width": 0.0, "stroke_widths": [], "num_strokes": 0})
    return BezierSketch([], meta=meta)


# ------------------------------------------------------------------------------------------------
# writers
# ------------------------------------------------------------------------------------------------


def _num(v: float) -> str:
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _strokes_of(sketch: BezierSketch) -> list[list[np.ndarray]]:
    ids = sketch.meta.get("curve_stroke")
    if not ids or len(ids) != sketch.num_curves:
        ids = list(range(sketch.num_curves))
    out: dict[int, list[np.ndarray]] = {}
    for i, c in zip(ids, sketch.curves):
        out.setdefault(int(i), []).append(c)
    return [out[k] for k in sorted(out)]


def to_svg(sketch: BezierSketch, *, stroke_width: float | None = None, color: str = "black") -> str:
    """SVG text of a vectorised drawing in the image's frame (``viewBox="0 0 W H"``).

    One open ``<path>`` per stroke (``meta["curve_stroke"]``): degrees 1/2/3 are written exactly
    as ``L``/``Q``/``C``; higher degrees are converted to cubics within 0.1 px
    (:func:`sketchkit.geometry.bezier.to_cubics`). Coordinates have 2 decimals. With
    ``meta["stroke_widths"]`` (one per stroke) and no ``stroke_width`` argument, a ``<path>`` whose
    width differs from the group's carries its own ``stroke-width``.

    Args:
        sketch: a ``BezierSketch`` (``meta["image_size"]`` gives the frame; else its bounds).
        stroke_width: one line width in px for all strokes; default ``meta["stroke_width"]`` (or 2)
            on the group, overridden per path by ``meta["stroke_widths"]``.
        color: CSS stroke colour.
    """
    from sketchkit.geometry.bezier import to_cubics

    size = sketch.meta.get("image_size")
    if size:
        w, h = int(size[0]), int(size[1])
    elif sketch.num_curves:
        _, _, x1, y1 = sketch.bounds()
        w, h = int(math.ceil(x1)) + 1, int(math.ceil(y1)) + 1
    else:
        w, h = 1, 1
    sw = stroke_width if stroke_width is not None else (sketch.meta.get("stroke_width") or 2.0)
    lines = [
        '<?xml version="1.0" encoding="utf-8" ?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
        f'<g fill="none" stroke="{color}" stroke-width="{_num(float(sw))}" stroke-linecap="round" stroke-linejoin="round">',
    ]
    cmd = {1: "L", 2: "Q", 3: "C"}
    chains = _strokes_of(sketch)
    per_path = sketch.meta.get("stroke_widths") if stroke_width is None else None
    if per_path is None or len(per_path) != len(chains):
        per_path = None
    for k, chain in enumerate(chains):
        parts = [f"M {_num(chain[0][0, 0])} {_num(chain[0][0, 1])}"]
        for c in chain:
            pieces = [c] if c.shape[0] <= 4 else to_cubics(c, tolerance=0.1)
            for pc in pieces:
                coords = " ".join(f"{_num(x)} {_num(y)}" for x, y in pc[1:])
                parts.append(f"{cmd[pc.shape[0] - 1]} {coords}")
        own = ""
        if per_path is not None and _num(float(per_path[k])) != _num(float(sw)):
            own = f' stroke-width="{_num(float(per_path[k]))}"'
        lines.append(f'<path d="{" ".join(parts)}"{own}/>')
    lines += ["</g>", "</svg>", ""]
    return "\n".join(lines)


def to_json(sketch: BezierSketch) -> str:
    """JSON text: ``{"image_size", "stroke_width", "stroke_widths", "strokes": [[curve control points ...], ...]}``.

    Each curve is a list of ``[x, y]`` control points (its degree is ``len - 1``);
    ``stroke_widths`` has one width in px per stroke (``null`` when unknown).
    """
    doc = {
        "format": "sketchkit.vectorize/1",
        "image_size": sketch.meta.get("image_size"),
        "stroke_width": sketch.meta.get("stroke_width"),
        "stroke_widths": sketch.meta.get("stroke_widths"),
        "strokes": [[np.round(c, 4).tolist() for c in chain] for chain in _strokes_of(sketch)],
    }
    return json.dumps(doc, separators=(",", ":")) + "\n"


def to_npz_bytes(sketch: BezierSketch) -> bytes:
    """``.npz`` bytes: ``control_points`` (total, 2) float64, ``degrees`` (curves,), ``curve_stroke``
    (curves,), ``image_size`` (2,), ``stroke_widths`` (strokes,) px (empty when unknown) and
    ``stroke3`` (N, 3) of the curves sampled at 16 points each."""
    import io

    curves = sketch.curves
    buf = io.BytesIO()
    np.savez(
        buf,
        control_points=np.concatenate(curves) if curves else np.zeros((0, 2)),
        degrees=np.array(sketch.degrees, dtype=np.int64),
        curve_stroke=np.array(sketch.meta.get("curve_stroke", list(range(len(curves)))), dtype=np.int64),
        image_size=np.array(sketch.meta.get("image_size", [0, 0]), dtype=np.int64),
        stroke_widths=np.array(sketch.meta.get("stroke_widths") or [], dtype=np.float64),
        stroke3=_stroke3(sketch),
    )
    return buf.getvalue()


def _polylines(sketch: BezierSketch, per_curve: int = 16) -> list[np.ndarray]:
    from sketchkit.geometry.bezier import evaluate

    t = np.linspace(0.0, 1.0, per_curve)
    out = []
    for chain in _strokes_of(sketch):
        pts = [evaluate(c, t) if i == 0 else evaluate(c, t)[1:] for i, c in enumerate(chain)]
        out.append(np.concatenate(pts))
    return out


def _stroke3(sketch: BezierSketch) -> np.ndarray:
    polys = _polylines(sketch)
    if not polys:
        return np.zeros((0, 3))
    pts = np.concatenate(polys)
    pen = np.concatenate([np.r_[np.zeros(len(p) - 1), 1.0] for p in polys])
    d = np.diff(np.concatenate([[[0.0, 0.0]], pts]), axis=0)
    return np.column_stack([d, pen])


def to_ndjson(sketch: BezierSketch, *, word: str | None = None) -> str:
    """One Quick, Draw! style ndjson line: ``{"word", "drawing": [[[x...], [y...]], ...]}``, curves
    sampled at 16 points per curve, coordinates rounded to 0.01 px."""
    drawing = [[np.round(p[:, 0], 2).tolist(), np.round(p[:, 1], 2).tolist()] for p in _polylines(sketch)]
    return json.dumps({"word": word or "", "drawing": drawing}, separators=(",", ":")) + "\n"


def as_sketch(sketch: BezierSketch, per_curve: int = 16) -> Sketch:
    """The vectorised strokes as a polyline :class:`~sketchkit.sketch.Sketch` (one stroke per path)."""
    return Sketch(_polylines(sketch, per_curve), meta=dict(sketch.meta))
