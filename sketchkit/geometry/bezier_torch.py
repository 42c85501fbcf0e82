"""Batched, differentiable Bézier evaluation in torch (the fixed decoder the models train through)."""

from __future__ import annotations

import math

import torch

__all__ = ["bernstein_basis", "evaluate"]


def bernstein_basis(degree: int, t: torch.Tensor) -> torch.Tensor:
    """Bernstein basis of ``degree`` at ``t``.

    Args:
        degree: polynomial degree ``d >= 0``.
        t: parameters, any shape ``(...)``.

    Returns:
        Tensor of shape ``(..., d + 1)`` with ``C(d, k) t^k (1 - t)^(d - k)``; differentiable in ``t``.
    """
    if degree < 0:
        raise ValueError(f"degree must be >= 0, got {degree}")
    k = torch.arange(degree + 1, dtype=t.dtype, device=t.device)
    binom = torch.tensor([math.comb(degree, int(i)) for i in range(degree + 1)], dtype=t.dtype, device=t.device)
    t = t.unsqueeze(-1)
    # pow(0, 0) = 1 in torch, so the end points are exact.
    return binom * t.pow(k) * (1.0 - t).pow(degree - k)


def evaluate(control_points: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Points on a batch of Bézier curves.

    Args:
        control_points: ``(..., d + 1, 2)`` control points.
        t: ``(..., m)`` parameters with the same leading dims (or broadcastable).

    Returns:
        ``(..., m, 2)`` points; differentiable in both arguments.
    """
    if control_points.dim() < 2:
        raise ValueError(f"control_points: expected shape (..., d + 1, dim), got {tuple(control_points.shape)}")
    degree = control_points.shape[-2] - 1
    basis = bernstein_basis(degree, t)  # (..., m, d + 1)
    return basis @ control_points  # (..., m, 2)
