"""Batched, differentiable Bézier evaluation in torch (the fixed decoder the models train through)."""

from __future__ import annotations

import math

import torch

__all__ = ["bernstein_basis", "derivative", "evaluate", "evaluate_rational"]


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


def evaluate_rational(control_points: torch.Tensor, weights: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Points on a batch of rational Bézier curves ``sum_k w_k b_k(t) P_k / sum_k w_k b_k(t)``.

    Args:
        control_points: ``(..., d + 1, 2)`` control points.
        weights: ``(..., d + 1)`` positive weights (same leading dims, or broadcastable).
        t: ``(..., m)`` parameters in ``[0, 1]``.

    Returns:
        ``(..., m, 2)`` points; differentiable in all three arguments.
    """
    if control_points.dim() < 2:
        raise ValueError(f"control_points: expected shape (..., d + 1, dim), got {tuple(control_points.shape)}")
    if weights.shape[-1] != control_points.shape[-2]:
        raise ValueError(
            f"weights: expected last dim {control_points.shape[-2]}, got shape {tuple(weights.shape)}"
        )
    degree = control_points.shape[-2] - 1
    basis = bernstein_basis(degree, t) * weights.unsqueeze(-2)  # (..., m, d + 1)
    return (basis @ control_points) / basis.sum(dim=-1, keepdim=True)  # (..., m, 2)


def derivative(control_points: torch.Tensor) -> torch.Tensor:
    """Control points of the derivative (hodograph) of a batch of curves.

    Args:
        control_points: ``(..., d + 1, 2)`` control points, ``d >= 1``.

    Returns:
        ``(..., d, 2)`` control points ``d (P_{k+1} - P_k)`` of ``dB/dt``; evaluate with
        :func:`evaluate`.
    """
    degree = control_points.shape[-2] - 1
    if degree < 1:
        raise ValueError(f"control_points: expected at least 2 control points, got {control_points.shape[-2]}")
    return degree * (control_points[..., 1:, :] - control_points[..., :-1, :])
