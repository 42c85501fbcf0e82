"""The Cloud2Curve stroke model run in numpy, model resolution, and its curve proposals per piece."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sketchkit.errors import InputError
from sketchkit.vectorize.loading import _short


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
        x = self._points(x)
        return self._head(x.reshape(bsz, npts, -1).max(axis=1))

    def predict_runs(self, points: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict` of ragged clouds: ``points`` ``(R, 2)`` unit-frame points, run after run
        (``lengths`` ``(B,)``, each >= 1). Max-pooling ignores repeated points, so a cloud that
        repeats points (a short piece sampled at 64 indices) is evaluated once per distinct point."""
        x = np.ascontiguousarray(points, dtype=np.float32)
        x = self._points(x)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        return self._head(np.maximum.reduceat(x, starts, axis=0))

    def _points(self, x: np.ndarray) -> np.ndarray:
        """Per-point MLP: ``(N, 2)`` float32 -> ``(N, width)`` features (before max-pooling)."""
        for i, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if i < 2:
                x = np.maximum(x, 0.0)
        return x

    def _head(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pooled ``(B, width)`` features -> ``(control points (B, n_ctrl, 2), degree logits (B, D))``."""
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
            # the sampled cloud's distinct points (a piece under ``points`` long: all of it)
            n = pts.shape[0]
            c = pts if n < self.points else pts[np.round(np.linspace(0, n - 1, self.points)).astype(int)]
            lo, hi = c.min(axis=0), c.max(axis=0)
            centre, scale = (lo + hi) / 2.0, max(float((hi - lo).max()) / 2.0, 1e-6)
            clouds.append((c - centre) / scale)
            frames.append((centre, scale))
        ctrl, _ = self.predict_runs(np.concatenate(clouds), np.array([len(c) for c in clouds]))
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
    """``None``/``False`` -> no model (least squares alone, the default: the shipped stroke model
    measured no better on any benchmark set, at about 30 % more fitting time); ``"cloud2curve"``
    -> the shipped numpy model; a path -> numpy model; a torch ``Cloud2CurveModel`` -> adapter."""
    if model is None or model is False:
        return None
    if isinstance(model, (str, os.PathLike)):
        from sketchkit.pretrained import PRETRAINED_DIR

        name = str(model)
        directory = Path(name)
        if not (directory / "config.json").is_file():
            directory = PRETRAINED_DIR / name
        if not (directory / "model.safetensors").is_file():
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
        # each cloud's distinct points: all of a piece under k points (the rounded linspace indices
        # then hit every point), else the k sampled ones; max-pooling needs each point once
        m = np.minimum(lengths, k)
        idx = np.round(np.arange(k)[None, :] * ((lengths - 1) / (k - 1))[:, None]).astype(np.int64)  # = linspace
        idx[:, -1] = lengths - 1
        take = np.where((lengths < k)[:, None], np.minimum(np.arange(k)[None, :], lengths[:, None] - 1), idx)
        keep = (np.arange(k)[None, :] < m[:, None]).ravel()
        pts = np.concatenate(pieces)[(first[:, None] + take).ravel()[keep]]  # (sum m, 2), cloud after cloud
        run = np.concatenate([[0], np.cumsum(m)[:-1]])
        lo, hi = np.minimum.reduceat(pts, run), np.maximum.reduceat(pts, run)
        centre = (lo + hi) / 2.0
        scale = np.maximum((hi - lo).max(axis=1) / 2.0, 1e-6)
        owner = np.repeat(np.arange(n_p), m)
        ctrl, _ = model.predict_runs((pts - centre[owner]) / scale[owner, None], m)
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
