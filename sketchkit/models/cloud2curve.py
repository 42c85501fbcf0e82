"""Cloud2Curve: point clouds -> variable-degree Bézier strokes (Das et al., CVPR 2021).

No public code exists for the paper; this design is ours, guided by its abstract.

Two networks live in one family (stages ``"stroke"`` then ``"sketch"``):

**Stroke level** (used by :func:`sketchkit.vectorize` on every traced stroke piece).
A PointNet (shared per-point MLP, max-pool, MLP head) reads the unordered cloud of one stroke,
normalised to its bounding box (centre at 0, largest half-extent 1), and predicts, in one shot,

* the control points of one Bézier curve of **every** degree ``d = 1 .. max_degree``
  (``sum_d (d + 1)`` points), and
* a distribution over the degree (``max_degree`` logits).

The loss has no correspondences: for each degree, ``curve_samples`` points are evaluated at
uniform parameters on the predicted curve and compared with the cloud by the symmetric
Chamfer distance (mean squared nearest-neighbour distance both ways) or by Sinkhorn optimal
transport (``geomloss``), chosen by ``loss_type``. Every degree head is trained on its own fit
(``mean_d L_d``); the degree head is trained by cross-entropy towards
``argmin_d (L_d + degree_penalty * d)`` — the lowest degree that fits equally well wins, since a
higher degree must lower the fit loss by more than ``degree_penalty`` per extra degree to be
preferred. Default loss: Chamfer, because the traced clouds handed over by the vectoriser are
uniform in arc length while uniform-``t`` curve samples are not, and balanced OT penalises that
mismatch of densities (it bends the curve towards arc-length parameterisation), whereas Chamfer
only measures shape. Both are implemented; ``scripts/train_pretrained_cloud2curve.py --loss``
compares them.

**Sketch level** (registered family ``"cloud2curve"`` generation / reconstruction).
A PointNet of the whole cloud -> VAE latent ``z`` (mean used for deterministic encoding).
A GRU decoder, initialised from ``tanh(Linear(z))``, runs ``max_strokes`` steps; step ``k``
reads ``z`` and the previous stroke's control points and emits the control points of every
degree ``1 .. sketch_max_degree``, a degree distribution and a stop probability ``s_k``.
A stroke's presence is ``prod_{j<k} (1 - s_j)``. Points sampled on every (stroke, degree)
curve carry mass ``presence * p(degree) * local arc length``, and a weighted Sinkhorn OT
distance to the uniform input cloud is minimised — so the stop bits and the degree
distributions are learned from the cloud alone (unbalanced stroke counts simply move mass).
Added terms: ``degree_penalty * E[degree]`` per present stroke, the KL of the latent
(``kl_weight``) and, where the true stroke count is known (waypoint sketches, not raster
clouds), a binary cross-entropy on the stop bits (``stop_weight``).

Coordinates: every cloud is normalised by its own bounding box; :meth:`Cloud2CurveModel.sample`
maps the unit frame to ``[0, canvas]`` pixels (``canvas`` is a config field).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from sketchkit.geometry.bezier_torch import bernstein_basis
from sketchkit.models.base import ModelConfig, SketchModel, register_model
from sketchkit.sketch import BezierSketch, Sketch

__all__ = [
    "Cloud2CurveConfig",
    "Cloud2CurveModel",
    "normalize_cloud",
    "sample_polyline",
    "degree_slices",
    "cloud_to_strokes",
]


@dataclass(frozen=True)
class Cloud2CurveConfig(ModelConfig):
    """Hyperparameters of both Cloud2Curve networks (saved in ``config.json``)."""

    family: ClassVar[str] = "cloud2curve"

    # --- stroke level -------------------------------------------------------------------
    max_degree: int = 7  # stroke head predicts one curve for each degree 1..max_degree
    stroke_points: int = 64  # points in one stroke's cloud (training and inference)
    stroke_width: int = 128  # PointNet feature width of the stroke encoder
    curve_samples: int = 32  # points evaluated on each predicted curve for the loss
    degree_penalty: float = 2e-4  # loss (squared unit-frame distance) charged per degree
    degree_ce_weight: float = 0.01  # weight of the degree head's cross-entropy in the stroke loss
    loss_type: str = "chamfer"  # "chamfer" or "sinkhorn" (stroke level; sketch level is always OT)
    sinkhorn_blur: float = 0.02  # geomloss blur (unit frame), about the target resolution
    sub_stroke_prob: float = 0.5  # stroke-stage augmentation: chance to train on a random sub-arc
    jitter: float = 0.01  # stroke-stage augmentation: Gaussian noise on cloud points (unit frame)
    # --- sketch level -------------------------------------------------------------------
    sketch_points: int = 256  # points in a whole-sketch cloud
    sketch_width: int = 128  # PointNet feature width of the sketch encoder
    latent_dim: int = 64  # VAE latent size
    decoder_hidden: int = 256  # GRU hidden size
    max_strokes: int = 12  # decoder steps (strokes per sketch at most)
    sketch_max_degree: int = 4  # sketch decoder emits degrees 1..sketch_max_degree per stroke
    sketch_curve_samples: int = 12  # points per (stroke, degree) curve in the sketch OT loss
    kl_weight: float = 0.01  # weight of KL(q(z|cloud) || N(0, I))
    stop_weight: float = 0.1  # weight of the stop-bit BCE where the stroke count is known
    canvas: float = 256.0  # sample(): unit frame [-1, 1] is mapped to [0, canvas] pixels


def degree_slices(max_degree: int) -> list[slice]:
    """Slices of the packed control-point rows for degrees ``1..max_degree`` (``d + 1`` rows each)."""
    out, start = [], 0
    for d in range(1, max_degree + 1):
        out.append(slice(start, start + d + 1))
        start += d + 1
    return out


def normalize_cloud(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Map points to their bounding box's unit frame.

    Args:
        points: ``(n, 2)`` points, ``n >= 1``.

    Returns:
        ``(normalised (n, 2), centre (2,), scale)`` with ``normalised = (points - centre) / scale``;
        ``scale`` is the largest half-extent (at least ``1e-6``).
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
        raise ValueError(f"points: expected shape (n >= 1, 2), got {points.shape}")
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre = (lo + hi) / 2.0
    scale = max(float((hi - lo).max()) / 2.0, 1e-6)
    return (points - centre) / scale, centre, scale


def sample_polyline(points: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniformly at random in arc length along a polyline (a single point repeats).

    Args:
        points: ``(m, 2)`` ordered polyline vertices, ``m >= 1``.
        n: number of samples.
        rng: numpy generator.

    Returns:
        ``(n, 2)`` float64 samples.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.shape[0] == 1:
        return np.repeat(points, n, axis=0)
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    total = seg.sum()
    if total <= 0:
        return np.repeat(points[:1], n, axis=0)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    s = rng.uniform(0.0, total, size=n)
    idx = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
    frac = (s - cum[idx]) / np.maximum(seg[idx], 1e-12)
    return points[idx] + frac[:, None] * (points[idx + 1] - points[idx])


def _sub_arc(points: np.ndarray, rng: np.random.Generator, min_frac: float = 0.2) -> np.ndarray:
    """A random contiguous piece of a polyline covering ``min_frac..1`` of its length."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    total = seg.sum()
    if points.shape[0] < 3 or total <= 0:
        return points
    frac = rng.uniform(min_frac, 1.0)
    start = rng.uniform(0.0, total * (1.0 - frac))
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    s = np.linspace(start, start + frac * total, 64)
    x = np.interp(s, cum, points[:, 0])
    y = np.interp(s, cum, points[:, 1])
    return np.stack([x, y], axis=1)


def cloud_to_strokes(points: np.ndarray, *, max_cells: int = 256) -> list[np.ndarray]:
    """Ordered stroke paths traced through an unordered point cloud (e.g. ink pixels).

    The points are binned into a grid whose cell is their median nearest-neighbour spacing
    (at most ``max_cells`` cells across), the occupied cells are closed with a 3 x 3 dilation,
    and :func:`sketchkit.geometry.skeleton.skeleton_paths` traces the centrelines — the same
    kind of pieces :func:`sketchkit.vectorize.vectorize` hands to the stroke net.

    Args:
        points: ``(n, 2)`` points (any frame).

    Returns:
        List of ``(m_i, 2)`` paths in the points' frame (paths of one point are dropped).
    """
    from scipy.ndimage import binary_dilation
    from scipy.spatial import cKDTree

    from sketchkit.geometry.skeleton import skeleton_paths

    pts = np.asarray(points, dtype=np.float64)
    if pts.shape[0] < 3:
        return []
    lo = pts.min(axis=0)
    extent = float(np.ptp(pts, axis=0).max())
    if extent <= 0:
        return []
    nn = cKDTree(pts).query(pts, k=2)[0][:, 1]
    cell = max(float(np.median(nn)), extent / max_cells, 1e-9)
    idx = np.floor((pts - lo) / cell).astype(int) + 2
    shape = idx.max(axis=0) + 3
    mask = np.zeros((shape[1], shape[0]), dtype=bool)
    mask[idx[:, 1], idx[:, 0]] = True
    mask = binary_dilation(mask, np.ones((3, 3), dtype=bool))
    paths, _ = skeleton_paths(mask)
    return [(p - 0.5 - 2) * cell + lo + cell / 2 for p in paths if p.shape[0] >= 2]


class PointNet(nn.Module):
    """Per-point MLP (2 -> 64 -> 128 -> width), max-pool over points, MLP head to ``out_dim``.

    Only ``Linear`` + ReLU layers, so :mod:`sketchkit.vectorize` can run the same weights in numpy.
    """

    def __init__(self, width: int, out_dim: int) -> None:
        super().__init__()
        self.point_mlp = nn.Sequential(
            nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, width)
        )
        self.head = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, out_dim))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """``(B, N, 2)`` clouds -> ``(B, out_dim)``."""
        feats = self.point_mlp(points)  # (B, N, width)
        pooled = feats.max(dim=1).values  # (B, width)
        return self.head(pooled)


def _chamfer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Symmetric Chamfer (mean squared NN distance both ways, halved): ``(B, n, 2), (B, m, 2) -> (B,)``."""
    d = torch.cdist(a, b).pow(2)  # (B, n, m)
    return 0.5 * (d.min(dim=2).values.mean(dim=1) + d.min(dim=1).values.mean(dim=1))


@register_model
class Cloud2CurveModel(SketchModel):
    """Cloud2Curve: stroke-level cloud -> variable-degree curve, sketch-level cloud -> strokes (VAE).

    See the module docstring for the architecture and losses.
    """

    config_class = Cloud2CurveConfig
    stages: ClassVar[tuple[str, ...]] = ("stroke", "sketch")

    def __init__(self, config: Cloud2CurveConfig) -> None:
        super().__init__(config)
        if config.loss_type not in ("chamfer", "sinkhorn"):
            raise ValueError(f"loss_type: expected 'chamfer' or 'sinkhorn', got {config.loss_type!r}")
        if config.max_degree < 1 or config.sketch_max_degree < 1:
            raise ValueError("max_degree and sketch_max_degree must be >= 1")
        D = config.max_degree
        self._n_ctrl = sum(d + 1 for d in range(1, D + 1))
        self.stroke_net = PointNet(config.stroke_width, self._n_ctrl * 2 + D)
        # sketch level
        Ds = config.sketch_max_degree
        self._n_sketch_ctrl = sum(d + 1 for d in range(1, Ds + 1))
        self.sketch_encoder = PointNet(config.sketch_width, 2 * config.latent_dim)
        self.z_to_hidden = nn.Linear(config.latent_dim, config.decoder_hidden)
        self.decoder = nn.GRUCell(config.latent_dim + (Ds + 1) * 2, config.decoder_hidden)
        self.stroke_head = nn.Sequential(
            nn.Linear(config.decoder_hidden, config.decoder_hidden), nn.ReLU(),
            nn.Linear(config.decoder_hidden, self._n_sketch_ctrl * 2 + Ds + 1),
        )

    # ------------------------------------------------------------------ stroke level
    def predict_strokes(self, clouds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Stroke-level forward pass.

        Args:
            clouds: ``(B, N, 2)`` clouds, each in its own unit frame (see :func:`normalize_cloud`).

        Returns:
            ``(control_points (B, sum_d (d+1), 2), degree_logits (B, max_degree))``; rows of degree
            ``d`` are ``control_points[:, degree_slices(max_degree)[d - 1]]``.
        """
        out = self.stroke_net(clouds)
        D = self.config.max_degree
        ctrl = out[:, : self._n_ctrl * 2].reshape(-1, self._n_ctrl, 2)  # (B, n_ctrl, 2)
        return ctrl, out[:, self._n_ctrl * 2 :]  # logits (B, D)

    def _fit_loss(self, curve_pts: torch.Tensor, clouds: torch.Tensor) -> torch.Tensor:
        if self.config.loss_type == "chamfer":
            return _chamfer(curve_pts, clouds)
        return self._sinkhorn(curve_pts, clouds)

    def _sinkhorn(self, x: torch.Tensor, y: torch.Tensor, wx: torch.Tensor | None = None) -> torch.Tensor:
        from geomloss import SamplesLoss

        loss = SamplesLoss("sinkhorn", p=2, blur=self.config.sinkhorn_blur, backend="tensorized")
        if wx is None:
            return loss(x, y)
        wy = torch.full(y.shape[:2], 1.0 / y.shape[1], dtype=y.dtype, device=y.device)
        return loss(wx, x, wy, y)

    def stroke_losses(self, clouds: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-degree fit losses and the degree classification loss on ``(B, N, 2)`` clouds."""
        cfg = self.config
        ctrl, logits = self.predict_strokes(clouds)
        t = torch.linspace(0.0, 1.0, cfg.curve_samples, dtype=clouds.dtype, device=clouds.device)
        fits = []
        for d, sl in enumerate(degree_slices(cfg.max_degree), start=1):
            pts = bernstein_basis(d, t) @ ctrl[:, sl]  # (B, S, 2)
            fits.append(self._fit_loss(pts, clouds))
        fit = torch.stack(fits, dim=1)  # (B, D)
        degrees = torch.arange(1, cfg.max_degree + 1, dtype=fit.dtype, device=fit.device)
        target = (fit.detach() + cfg.degree_penalty * degrees).argmin(dim=1)  # (B,)
        ce = nn.functional.cross_entropy(logits, target)
        return {"fit": fit, "degree_ce": ce, "target_degree": target + 1}

    # ------------------------------------------------------------------ sketch level
    def encode(self, clouds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, N, 2)`` unit-frame clouds -> ``(mu, logvar)``, each ``(B, latent_dim)``."""
        out = self.sketch_encoder(clouds)
        mu, logvar = out.chunk(2, dim=1)
        return mu, logvar.clamp(-8.0, 8.0)

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Unroll the stroke decoder for ``max_strokes`` steps.

        Args:
            z: ``(B, latent_dim)`` latents.

        Returns:
            ``(control_points (B, K, sum_d (d+1), 2), degree_logits (B, K, Ds), stop_logits (B, K))``.
        """
        cfg = self.config
        B, Ds = z.shape[0], cfg.sketch_max_degree
        h = torch.tanh(self.z_to_hidden(z))
        prev = torch.zeros(B, (Ds + 1) * 2, dtype=z.dtype, device=z.device)
        ctrls, degs, stops = [], [], []
        top = degree_slices(Ds)[-1]
        for _ in range(cfg.max_strokes):
            h = self.decoder(torch.cat([z, prev], dim=1), h)
            out = self.stroke_head(h)
            ctrl = out[:, : self._n_sketch_ctrl * 2].reshape(B, self._n_sketch_ctrl, 2)
            ctrls.append(ctrl)
            degs.append(out[:, self._n_sketch_ctrl * 2 : self._n_sketch_ctrl * 2 + Ds])
            stops.append(out[:, -1])
            prev = ctrl[:, top].reshape(B, -1)
        return torch.stack(ctrls, 1), torch.stack(degs, 1), torch.stack(stops, 1)

    def sketch_losses(self, clouds: torch.Tensor, eps: torch.Tensor, n_strokes: torch.Tensor) -> dict[str, torch.Tensor]:
        """Sketch-level VAE losses on ``(B, N, 2)`` clouds; ``eps (B, latent)`` is the reparameterisation noise."""
        cfg = self.config
        mu, logvar = self.encode(clouds)
        z = mu + eps * torch.exp(0.5 * logvar)
        ctrl, deg_logits, stop_logits = self.decode(z)
        B, K = stop_logits.shape
        stop = torch.sigmoid(stop_logits)  # (B, K)
        keep = torch.cumprod(torch.cat([torch.ones_like(stop[:, :1]), 1.0 - stop[:, :-1]], dim=1), dim=1)
        p_deg = torch.softmax(deg_logits, dim=-1)  # (B, K, Ds)
        S = cfg.sketch_curve_samples
        t = torch.linspace(0.0, 1.0, S, dtype=clouds.dtype, device=clouds.device)
        pts, mass = [], []
        for d, sl in enumerate(degree_slices(cfg.sketch_max_degree), start=1):
            p = bernstein_basis(d, t) @ ctrl[:, :, sl]  # (B, K, S, 2)
            seg = (p[:, :, 1:] - p[:, :, :-1]).norm(dim=-1)  # (B, K, S-1)
            local = torch.cat([seg[..., :1], seg[..., 1:] + seg[..., :-1], seg[..., -1:]], dim=-1) / 2 + 1e-4
            mass.append(local * (keep * p_deg[..., d - 1]).unsqueeze(-1))  # (B, K, S)
            pts.append(p)
        x = torch.stack(pts, 2).reshape(B, -1, 2)  # (B, K*Ds*S, 2)
        w = torch.stack(mass, 2).reshape(B, -1)
        w = w / w.sum(dim=1, keepdim=True)
        ot = self._sinkhorn(x, clouds, w)  # (B,)
        degrees = torch.arange(1, cfg.sketch_max_degree + 1, dtype=clouds.dtype, device=clouds.device)
        deg_pen = (keep * (p_deg * degrees).sum(-1)).sum(1)  # (B,)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)  # (B,)
        known = n_strokes > 0
        if known.any():
            k = torch.arange(K, device=clouds.device).unsqueeze(0)  # (1, K)
            n = n_strokes.clamp(1, K).unsqueeze(1)  # (B, 1)
            target = (k == n - 1).to(clouds.dtype)
            valid = (k <= n - 1) & known.unsqueeze(1)
            bce = nn.functional.binary_cross_entropy_with_logits(stop_logits, target, reduction="none")
            stop_loss = (bce * valid).sum() / valid.sum().clamp(min=1)
        else:
            stop_loss = torch.zeros((), dtype=clouds.dtype, device=clouds.device)
        return {"ot": ot.mean(), "degree": deg_pen.mean(), "kl": kl.mean(), "stop": stop_loss,
                "strokes": keep.sum(1).mean()}

    # ------------------------------------------------------------------ engine interface
    def collate(self, sketches: Sequence[Sketch], *, stage: str = "stroke",
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Sketches -> a batch of normalised clouds.

        Stage ``"stroke"``: one cloud of ``stroke_points`` per stroke with at least two distinct
        points (sampled uniformly in arc length, optionally from a random sub-arc, jittered); the
        strokes of a point-cloud sketch (raster ink) are traced by :func:`cloud_to_strokes`. Stage ``"sketch"``: one cloud of
        ``sketch_points`` per sketch (along the strokes, or drawn from a point-cloud sketch's
        points), the VAE noise, and the true stroke count (``-1`` for point clouds).

        Raises:
            ValueError: unknown stage, or no usable stroke / sketch in ``sketches``.
        """
        cfg = self.config
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator).item()) if generator is not None else 0
        rng = np.random.default_rng(seed)
        if stage == "stroke":
            clouds = []
            for sk in sketches:
                strokes = cloud_to_strokes(sk.points()) if sk.is_point_cloud else sk.strokes
                for s in strokes:
                    if s.shape[0] < 2 or np.ptp(s, axis=0).max() <= 0:
                        continue
                    poly = _sub_arc(s, rng) if rng.random() < cfg.sub_stroke_prob else s
                    cloud = sample_polyline(poly, cfg.stroke_points, rng)
                    cloud, _, _ = normalize_cloud(cloud)
                    cloud = cloud + rng.normal(0.0, cfg.jitter, cloud.shape)
                    clouds.append(cloud)
            if not clouds:
                raise ValueError("stroke stage: no stroke with two or more distinct points in this batch")
            return {"clouds": torch.tensor(np.stack(clouds), dtype=torch.float32)}
        if stage == "sketch":
            clouds, counts = [], []
            for sk in sketches:
                if sk.num_points == 0:
                    continue
                if sk.is_point_cloud:
                    pts = sk.points()
                    cloud = pts[rng.integers(0, pts.shape[0], cfg.sketch_points)]
                    counts.append(-1)
                else:
                    lengths = np.array([np.linalg.norm(np.diff(s, axis=0), axis=1).sum() for s in sk.strokes])
                    share = lengths + 1e-3
                    alloc = rng.multinomial(cfg.sketch_points, share / share.sum())
                    cloud = np.concatenate([sample_polyline(s, int(m), rng) for s, m in zip(sk.strokes, alloc) if m > 0])
                    counts.append(min(sk.num_strokes, cfg.max_strokes))
                cloud, _, _ = normalize_cloud(cloud)
                clouds.append(cloud)
            if not clouds:
                raise ValueError("sketch stage: every sketch in this batch is empty")
            eps = rng.standard_normal((len(clouds), cfg.latent_dim))
            return {
                "clouds": torch.tensor(np.stack(clouds), dtype=torch.float32),
                "eps": torch.tensor(eps, dtype=torch.float32),
                "n_strokes": torch.tensor(counts, dtype=torch.long),
            }
        raise ValueError(f"unknown stage {stage!r}; expected one of {self.stages}")

    def loss(self, batch: dict[str, torch.Tensor], *, step: int = 0, stage: str = "stroke") -> dict[str, torch.Tensor]:
        """Stage ``"stroke"``: ``mean_d fit_d + degree CE``; stage ``"sketch"``: OT + penalty + KL + stop BCE."""
        cfg = self.config
        dev = self.device
        clouds = batch["clouds"].to(dev)
        if stage == "stroke":
            out = self.stroke_losses(clouds)
            fit = out["fit"].mean()
            loss = fit + cfg.degree_ce_weight * out["degree_ce"]
            return {"loss": loss, "fit": fit.detach(), "degree_ce": out["degree_ce"].detach(),
                    "mean_degree": out["target_degree"].float().mean()}
        if stage == "sketch":
            out = self.sketch_losses(clouds, batch["eps"].to(dev), batch["n_strokes"].to(dev))
            loss = out["ot"] + cfg.degree_penalty * out["degree"] + cfg.kl_weight * out["kl"] + cfg.stop_weight * out["stop"]
            return {"loss": loss, **{k: v.detach() for k, v in out.items()}}
        raise ValueError(f"unknown stage {stage!r}; expected one of {self.stages}")

    def stage_parameters(self, stage: str) -> Iterable[nn.Parameter]:
        """``"stroke"``: the stroke PointNet; ``"sketch"``: encoder + decoder."""
        if stage == "stroke":
            return list(self.stroke_net.parameters())
        if stage == "sketch":
            mods = [self.sketch_encoder, self.z_to_hidden, self.decoder, self.stroke_head]
            return [p for m in mods for p in m.parameters()]
        raise ValueError(f"unknown stage {stage!r}; expected one of {self.stages}")

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def fit_stroke_clouds(self, clouds: Sequence[np.ndarray]) -> list[tuple[list[np.ndarray], np.ndarray]]:
        """Predict curves for stroke clouds in their own coordinates.

        Args:
            clouds: list of ``(n_i, 2)`` point arrays (any frame, e.g. pixels).

        Returns:
            Per cloud: ``(curves, degree_probs)``; ``curves[d - 1]`` is the ``(d + 1, 2)`` degree-``d``
            curve in the input frame, ``degree_probs`` the ``(max_degree,)`` predicted distribution.
        """
        cfg = self.config
        rng = np.random.default_rng(0)
        batch, frames = [], []
        for c in clouds:
            c = np.asarray(c, dtype=np.float64)
            idx = rng.choice(c.shape[0], cfg.stroke_points, replace=c.shape[0] < cfg.stroke_points)
            n, centre, scale = normalize_cloud(c[np.sort(idx)])
            batch.append(n)
            frames.append((centre, scale))
        if not batch:
            return []
        ctrl, logits = self.predict_strokes(torch.tensor(np.stack(batch), dtype=torch.float32, device=self.device))
        ctrl, probs = ctrl.double().cpu().numpy(), torch.softmax(logits.double(), -1).cpu().numpy()
        out = []
        for i, (centre, scale) in enumerate(frames):
            curves = [ctrl[i, sl] * scale + centre for sl in degree_slices(cfg.max_degree)]
            out.append((curves, probs[i]))
        return out

    @torch.no_grad()
    def _decode_to_sketches(self, z: torch.Tensor, frames: list[tuple[np.ndarray, float]]) -> list[BezierSketch]:
        ctrl, deg_logits, stop_logits = self.decode(z)
        slices = degree_slices(self.config.sketch_max_degree)
        out = []
        for b in range(z.shape[0]):
            centre, scale = frames[b]
            curves = []
            for k in range(self.config.max_strokes):
                d = int(deg_logits[b, k].argmax()) + 1
                curves.append(ctrl[b, k, slices[d - 1]].double().cpu().numpy() * scale + centre)
                if torch.sigmoid(stop_logits[b, k]) > 0.5:
                    break
            out.append(BezierSketch(curves, meta={"source": "cloud2curve"}))
        return out

    @torch.no_grad()
    def reconstruct(self, sketches: Sequence[Sketch]) -> list[BezierSketch]:
        """Encode each sketch's cloud deterministically (latent mean) and decode it to curves.

        Returns curves in each input's own coordinate frame.
        """
        cfg = self.config
        batch = self.collate(sketches, stage="sketch", generator=torch.Generator().manual_seed(0))
        frames = []
        rng = np.random.default_rng(0)
        for sk in sketches:
            if sk.num_points == 0:
                continue
            _, centre, scale = normalize_cloud(sk.points())
            frames.append((centre, scale))
        mu, _ = self.encode(batch["clouds"].to(self.device))
        del rng, cfg
        return self._decode_to_sketches(mu, frames)

    def evaluate(self, sketches: Sequence[Sketch]) -> dict[str, float]:
        """Held-out losses: stroke fit (chosen-degree Chamfer, unit frame) and sketch OT / Chamfer."""
        self.eval()
        out: dict[str, float] = {}
        with torch.no_grad():
            g = torch.Generator().manual_seed(0)
            try:
                b = self.collate(sketches, stage="stroke", generator=g)
                so = self.stroke_losses(b["clouds"].to(self.device))
                out["stroke_fit"] = float(so["fit"].mean())
                out["stroke_target_degree"] = float(so["target_degree"].float().mean())
            except ValueError:
                pass
            b = self.collate(sketches, stage="sketch", generator=g)
            sk = self.sketch_losses(b["clouds"].to(self.device), torch.zeros_like(b["eps"]).to(self.device),
                                    b["n_strokes"].to(self.device))
            out["sketch_ot"] = float(sk["ot"])
            out["sketch_strokes"] = float(sk["strokes"])
        return out

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> list[BezierSketch]:
        """Draw ``n`` sketches: ``z ~ N(0, temperature^2 I)`` decoded to curves in ``[0, canvas]`` px."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        z = torch.randn(n, self.config.latent_dim, generator=generator) * float(temperature)
        half = self.config.canvas / 2.0
        frames = [(np.array([half, half]), half * 0.9)] * n
        return self._decode_to_sketches(z.to(self.device), frames)
