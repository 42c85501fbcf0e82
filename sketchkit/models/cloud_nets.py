"""Cloud2Curve's network parts and cloud losses: the PointNet and occupancy-grid encoders, the
presence-aware Chamfer loss of the cloud-only sketch level, the slot decoder's starting segments
and the plain symmetric Chamfer distance (see :mod:`sketchkit.models.cloud2curve`)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PointNet", "GridEncoder", "presence_chamfer"]


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


class GridEncoder(nn.Module):
    """A cloud as a ``grid x grid`` occupancy histogram over the unit frame ``[-1, 1]^2``, read by
    a small CNN (3 stride-2 convolutions) into ``out_dim`` numbers.

    Max-pooled per-point features (:class:`PointNet`) locate ink only coarsely; a raster of the
    same points keeps where every part is, which the slot decoder needs to place each curve.
    """

    def __init__(self, width: int, out_dim: int, grid: int = 32) -> None:
        super().__init__()
        self.grid = grid
        self.conv = nn.Sequential(
            nn.Conv2d(1, width // 4, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width // 4, width // 2, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width // 2, width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(),
        )
        cells = -(-grid // 8)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(width * cells * cells, 2 * width), nn.ReLU(),
                                  nn.Linear(2 * width, out_dim))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """``(B, N, 2)`` unit-frame clouds -> ``(B, out_dim)``."""
        B, N, _ = points.shape
        g = self.grid
        ij = ((points.detach().clamp(-1.0, 1.0) + 1.0) * 0.5 * (g - 1)).round().long()  # (B, N, 2): x, y cells
        flat = ij[..., 1] * g + ij[..., 0]
        hist = torch.zeros(B, g * g, dtype=points.dtype, device=points.device)
        hist.scatter_add_(1, flat, torch.ones_like(flat, dtype=points.dtype))
        hist = (hist * (g * g / 4.0 / N)).clamp(max=1.0).reshape(B, 1, g, g)
        return self.head(self.conv(hist))


def presence_chamfer(curves: torch.Tensor, presence: torch.Tensor, cloud: torch.Tensor, *,
                     absent_cost: float = 4.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Chamfer terms between a cloud and curves that are each present with a probability.

    Args:
        curves: ``(B, K, S, 2)`` points on ``K`` curves (``S`` per curve).
        presence: ``(B, K)`` probability that each curve is drawn, in ``[0, 1]``.
        cloud: ``(B, N, 2)`` target points (same units).
        absent_cost: squared distance charged to a cloud point when no curve is present.

    Returns:
        ``(cover, fit)``, each ``(B,)``, squared units. ``cover``: mean over cloud points of the
        expected squared distance to the nearest *present* curve (curves sorted by distance, the
        ``k``-th nearest being the nearest present one with probability
        ``q_(k) prod_{j<k} (1 - q_(j))``). ``fit``: presence-weighted mean over curves of the mean
        squared distance from a curve's points to the cloud. With presences 0/1, ``(cover + fit) / 2``
        is the symmetric squared Chamfer distance between the cloud and the present curves.
        Differentiable in ``curves`` and ``presence``.
    """
    B, K, S, _ = curves.shape
    if presence.shape != (B, K) or cloud.dim() != 3 or cloud.shape[0] != B:
        raise ValueError(f"expected curves (B, K, S, 2), presence (B, K), cloud (B, N, 2); got "
                         f"{tuple(curves.shape)}, {tuple(presence.shape)}, {tuple(cloud.shape)}")
    N = cloud.shape[1]
    d = torch.cdist(cloud, curves.reshape(B, K * S, 2)).pow(2).reshape(B, N, K, S)
    dk = d.min(dim=-1).values  # (B, N, K): cloud point -> curve k
    order = dk.detach().argsort(dim=-1)
    ds = dk.gather(-1, order)
    ps = presence[:, None, :].expand(B, N, K).gather(-1, order)
    none_before = torch.cumprod(torch.cat([torch.ones_like(ps[..., :1]), 1 - ps], -1), -1)  # (B, N, K + 1)
    cover = (ps * none_before[..., :-1] * ds).sum(-1) + none_before[..., -1] * absent_cost
    to_cloud = d.min(dim=1).values.mean(dim=-1)  # (B, K): mean over a curve's points of the distance to the cloud
    fit = (presence * to_cloud).sum(-1) / presence.sum(-1).clamp_min(1e-6)
    return cover.mean(dim=1), fit


def _spread_anchors(k: int, degree: int, length: float = 0.4) -> torch.Tensor:
    """``(k, 2 * (degree + 1))`` control points of ``k`` short straight segments spread over the
    unit frame (centres on a golden-angle spiral within radius 0.7, directions turning with them):
    the starting curves of the slot decoder. A deterministic function of ``k``, so every model starts
    alike and no slot starts on top of another (curves that start together stay together under a
    Chamfer loss)."""
    i = torch.arange(k, dtype=torch.float32)
    r = 0.7 * torch.sqrt((i + 0.5) / k)
    a = i * 2.399963  # golden angle
    centre = torch.stack([r * torch.cos(a), r * torch.sin(a)], -1)  # (k, 2)
    direction = torch.stack([torch.cos(a * 0.5 + 0.3), torch.sin(a * 0.5 + 0.3)], -1)
    t = torch.linspace(-0.5, 0.5, degree + 1)
    pts = centre[:, None, :] + length * t[None, :, None] * direction[:, None, :]  # (k, degree + 1, 2)
    return pts.reshape(k, -1)


def _chamfer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Symmetric Chamfer (mean squared NN distance both ways, halved): ``(B, n, 2), (B, m, 2) -> (B,)``."""
    d = torch.cdist(a, b).pow(2)  # (B, n, m)
    return 0.5 * (d.min(dim=2).values.mean(dim=1) + d.min(dim=1).values.mean(dim=1))


def weighted_energy_distance(x: torch.Tensor, wx: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Energy distance ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` between weighted points and a uniform cloud.

    Args:
        x: ``(B, n, 2)`` points with masses ``wx`` ``(B, n)`` (each row sums to 1).
        y: ``(B, m, 2)`` cloud, each point of mass ``1 / m``.

    Returns:
        ``(B,)``, in the points' length units; 0 exactly when the two mass distributions are equal,
        positive otherwise (the energy distance is a metric on distributions). Unlike Chamfer it
        charges mass drawn twice or drawn where the cloud has none. Differentiable in ``x`` and
        ``wx`` (``torch.cdist`` gives coincident points a zero gradient, not NaN).
    """
    def dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")  # exact near 0

    wy = torch.full(y.shape[:2], 1.0 / y.shape[1], dtype=y.dtype, device=y.device)
    xy = torch.einsum("bi,bij,bj->b", wx, dist(x, y), wy)
    xx = torch.einsum("bi,bij,bj->b", wx, dist(x, x), wx)
    yy = torch.einsum("bi,bij,bj->b", wy, dist(y, y), wy)
    return 2 * xy - xx - yy
