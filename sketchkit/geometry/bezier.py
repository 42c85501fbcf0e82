"""Bézier curves of any degree on numpy arrays (float64).

A curve of degree ``d`` is a ``(d + 1, 2)`` array of control points ``P_0..P_d``;
``B(t) = sum_k C(d, k) t^k (1 - t)^(d - k) P_k`` for ``t`` in ``[0, 1]``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import comb

__all__ = ["bernstein_basis", "evaluate", "evaluate_rational"]


def bernstein_basis(degree: int, t: np.ndarray) -> np.ndarray:
    """Bernstein basis of ``degree`` at parameters ``t``.

    Args:
        degree: polynomial degree ``d >= 0``.
        t: parameters, shape ``(m,)``, usually in ``[0, 1]``.

    Returns:
        ``(m, d + 1)`` array ``B[j, k] = C(d, k) t_j^k (1 - t_j)^(d - k)``.
    """
    if degree < 0:
        raise ValueError(f"degree must be >= 0, got {degree}")
    t = np.asarray(t, dtype=np.float64).reshape(-1, 1)
    k = np.arange(degree + 1, dtype=np.float64).reshape(1, -1)
    return comb(degree, k) * t**k * (1.0 - t) ** (degree - k)


def evaluate(control_points: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Points on a Bézier curve.

    Args:
        control_points: ``(d + 1, 2)`` control points.
        t: ``(m,)`` parameters in ``[0, 1]``.

    Returns:
        ``(m, 2)`` points ``B(t)``.
    """
    cp = np.asarray(control_points, dtype=np.float64)
    if cp.ndim != 2 or cp.shape[0] < 1:
        raise ValueError(f"control_points: expected shape (d + 1, dim), got {cp.shape}")
    return bernstein_basis(cp.shape[0] - 1, t) @ cp


def evaluate_rational(control_points: np.ndarray, weights: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Points on a rational Bézier curve ``sum_k w_k b_k(t) P_k / sum_k w_k b_k(t)``.

    Args:
        control_points: ``(d + 1, 2)`` control points.
        weights: ``(d + 1,)`` positive weights.
        t: ``(m,)`` parameters in ``[0, 1]``.

    Returns:
        ``(m, 2)`` points.
    """
    cp = np.asarray(control_points, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != cp.shape[0]:
        raise ValueError(f"weights: expected {cp.shape[0]} values, got {w.shape[0]}")
    basis = bernstein_basis(cp.shape[0] - 1, t) * w  # (m, d + 1)
    return (basis @ cp) / basis.sum(axis=1, keepdims=True)
