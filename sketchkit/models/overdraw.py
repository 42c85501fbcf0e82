"""Sampling without drawing over the ink: a generated curve that mostly retraces other strokes is redrawn.

Samples of the BézierSketch generator put more of their line length on top of strokes already
drawn than real drawings do (``sketchkit.quality.doubled_share``): a backpack becomes a knot of
loops drawn over each other. A raster judge cannot see this; a person can. During decoding,
:func:`redraw_over_ink` draws such a token again (a few tries, keeping the one that lies least on
other strokes), so a sketch's strokes may cross and touch but rarely run along each other.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

__all__ = ["DrawnInk", "redraw_over_ink", "check_max_share"]


def check_max_share(max_overdraw: float | None) -> None:
    """``ValueError`` unless ``max_overdraw`` is ``None`` (off) or a share in ``[0, 1]``."""
    if max_overdraw is not None and not 0.0 <= max_overdraw <= 1.0:
        raise ValueError(f"max_overdraw: expected a number in [0, 1] or None, got {max_overdraw!r}")


class DrawnInk:
    """Per sample of a batch: the points of its curves so far, and the stroke each curve is part of."""

    def __init__(self, batch: int) -> None:
        self.points: list[list[np.ndarray]] = [[] for _ in range(batch)]
        self.strokes: list[list[int]] = [[] for _ in range(batch)]

    def add(self, tokens: torch.Tensor, continues: torch.Tensor, done: torch.Tensor,
            to_points: Callable[[torch.Tensor], np.ndarray]) -> None:
        """Record the curves ``tokens`` ``(B, T)`` of the rows not ``done``; ``continues`` ``(B,)``
        marks a curve that goes on the previous curve's stroke."""
        pts = to_points(tokens)
        for i in range(len(self.points)):
            if bool(done[i]):
                continue
            last = self.strokes[i][-1] if self.strokes[i] else -1
            self.strokes[i].append(last if bool(continues[i]) and last >= 0 else last + 1)
            self.points[i].append(pts[i])

    def share_on_other_strokes(self, row: int, points: np.ndarray, continues: bool, tolerance: float) -> float:
        """Share of ``points`` ``(k, 2)`` within ``tolerance`` (unit-box units) of another stroke of ``row``:
        a curve that continues a stroke is not compared with that stroke's own curves."""
        own = self.strokes[row][-1] if continues and self.strokes[row] else None
        others = [p for p, s in zip(self.points[row], self.strokes[row]) if s != own]
        if not others:
            return 0.0
        ink = np.concatenate(others)
        d2 = ((points[:, None, :] - ink[None, :, :]) ** 2).sum(-1).min(1)
        return float((d2 <= tolerance ** 2).mean())


def redraw_over_ink(tokens: torch.Tensor, ink: DrawnInk, continues: torch.Tensor, done: torch.Tensor,
                    max_share: float, tries: int, redraw: Callable[[Sequence[int]], torch.Tensor],
                    to_points: Callable[[torch.Tensor], np.ndarray], tolerance: float = 0.08) -> torch.Tensor:
    """Tokens ``(B, T)`` with every live row whose curve lies more than ``max_share`` on other strokes
    drawn again, up to ``tries`` draws in all; each row keeps its draw with the least such share.

    Args:
        tokens: the drawn tokens (changed in place and returned).
        ink: what each row has drawn so far.
        continues: ``(B,)`` bool, the token continues the previous curve's stroke.
        done: ``(B,)`` bool, rows that have stopped (left alone).
        max_share: in ``[0, 1]``; a share above it is redrawn.
        tries: draws per token at most (>= 1).
        redraw: rows -> new tokens ``(len(rows), T)`` for those rows.
        to_points: tokens -> curve points ``(n, k, 2)`` in unit-box units.
        tolerance: unit-box units (the box spans 2: 0.08 is 4 % of the sketch, as ``doubled_share``).
    """
    pts = to_points(tokens)
    share = {i: ink.share_on_other_strokes(i, pts[i], bool(continues[i]), tolerance)
             for i in range(len(tokens)) if not bool(done[i])}
    for _ in range(tries - 1):
        rows = [i for i, s in share.items() if s > max_share]
        if not rows:
            break
        again = redraw(rows)
        new_pts = to_points(again)
        for j, i in enumerate(rows):
            s = ink.share_on_other_strokes(i, new_pts[j], bool(continues[i]), tolerance)
            if s < share[i]:
                tokens[i], share[i] = again[j], s
    return tokens
