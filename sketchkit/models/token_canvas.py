"""What a curve-token decoder has drawn so far, as input features ("canvas awareness").

An autoregressive decoder that sees only its previous token must remember in its hidden state
where ink already is; on small data it loses track and draws details loosely or over the same
spot again. These features hand it that memory directly: a coarse occupancy grid of every curve
drawn before the current step, and the end point of the previous curve, both in the unit-box
frame (the sketch's larger side spans [-1, 1]).
"""

from __future__ import annotations

import math

import torch

__all__ = ["CanvasFeatures", "TokenCurves"]


class TokenCurves:
    """Curve tokens (offsets + start, as BézierSketch writes them) -> control points and points on the curves.

    Args:
        degree: Bézier degree of the tokens (``2 * degree`` offset numbers, then 2 start numbers).
        offset_scale: unit-box units per token offset unit.
        start_scale: unit-box units per token start unit.
        samples: points taken on each curve (uniform in ``t``, both ends included).
    """

    def __init__(self, degree: int, offset_scale: float, start_scale: float, samples: int) -> None:
        if degree < 1 or samples < 2:
            raise ValueError(f"need degree >= 1 and samples >= 2, got {degree}, {samples}")
        self.degree = int(degree)
        self.offset_scale, self.start_scale = float(offset_scale), float(start_scale)
        t = torch.linspace(0.0, 1.0, samples, dtype=torch.float64)
        basis = [math.comb(degree, k) * t ** k * (1 - t) ** (degree - k) for k in range(degree + 1)]
        self._basis = torch.stack(basis, -1).float()  # (samples, degree + 1)

    def control_points(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens ``(..., >= 2 * degree + 2)`` -> control points ``(..., degree + 1, 2)`` (unit box)."""
        d = self.degree
        start = tokens[..., 2 * d:2 * d + 2] * self.start_scale
        steps = tokens[..., :2 * d].unflatten(-1, (d, 2)) * self.offset_scale
        return torch.cat([start.unsqueeze(-2), start.unsqueeze(-2) + steps.cumsum(-2)], -2)

    def points(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens ``(..., >= 2 * degree + 2)`` -> points ``(..., samples, 2)`` on each curve (unit box)."""
        return self.points_of(self.control_points(tokens))

    def points_of(self, control_points: torch.Tensor) -> torch.Tensor:
        """Control points ``(..., degree + 1, 2)`` -> points ``(..., samples, 2)`` on each curve."""
        return self._basis.to(control_points) @ control_points


class CanvasFeatures:
    """Occupancy-grid features of curve tokens (offsets + start, as BézierSketch writes them).

    Args:
        grid: cells per side of the occupancy grid over ``[-1, 1]^2``.
        degree: Bézier degree of the tokens (``2 * degree`` offset numbers, then 2 start numbers).
        offset_scale: unit-box units per token offset unit.
        start_scale: unit-box units per token start unit.
        samples: points sampled on each curve (uniform in ``t``) for the histogram.
    """

    def __init__(self, grid: int, degree: int, offset_scale: float, start_scale: float, samples: int = 8) -> None:
        if grid < 1:
            raise ValueError(f"need grid >= 1, got {grid}")
        self.grid = int(grid)
        self.curves = TokenCurves(degree, offset_scale, start_scale, samples)

    @property
    def dim(self) -> int:
        """Feature size: ``grid * grid`` occupancy cells and the previous curve's end ``(x, y)``."""
        return self.grid * self.grid + 2

    def control_points(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens ``(..., >= 2 * degree + 2)`` -> control points ``(..., degree + 1, 2)`` (unit box)."""
        return self.curves.control_points(tokens)

    def ink(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per token: point counts per grid cell ``(..., grid * grid)`` and its end point ``(..., 2)``."""
        cp = self.curves.control_points(tokens)
        pts = self.curves.points_of(cp)  # (..., samples, 2)
        cell = ((pts.clamp(-1.0, 1.0 - 1e-6) + 1.0) * (self.grid / 2.0)).long()  # (..., samples, 2)
        index = cell[..., 1] * self.grid + cell[..., 0]  # row-major, y down
        counts = torch.zeros(*index.shape[:-1], self.grid * self.grid, dtype=cp.dtype, device=cp.device)
        counts.scatter_add_(-1, index, torch.ones_like(index, dtype=cp.dtype))
        return counts, cp[..., -1, :]

    @staticmethod
    def occupancy(counts: torch.Tensor) -> torch.Tensor:
        """Squash cumulative point counts into ``[0, 1)`` (a few points in a cell already read as ink)."""
        return torch.tanh(counts / 4.0)

    def before_each(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: features ``(B, L, dim)`` of everything drawn before each of ``tokens``
        ``(B, L, >= 2 * degree + 2)`` (zeros at the first step). Padding after a sequence's end
        does not reach its real steps, since only earlier tokens count."""
        counts, end = self.ink(tokens)
        before = torch.cat([torch.zeros_like(counts[:, :1]), counts[:, :-1]], 1).cumsum(1)
        prev_end = torch.cat([torch.zeros_like(end[:, :1]), end[:, :-1]], 1)
        return torch.cat([self.occupancy(before), prev_end], -1)
