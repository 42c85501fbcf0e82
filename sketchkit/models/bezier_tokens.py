"""BézierSketch's curve tokens: a sketch as a sequence of fixed-size Bézier tokens, and back.

Each curve (a stroke piece, embedded by :mod:`sketchkit.models.stroke_embedder` at the top degree
``d``) becomes one token ``[dP_1..dP_d, P_0(, log w_0..log w_d)(, continues)]`` in the sketch's
unit box: control-point offsets divided by ``offset_scale``, the absolute start point by
``start_scale``, rational weights as logs, and with ``join_pieces`` the bit "the next token
continues this stroke". :class:`CurveTokens` is a mixin of
:class:`sketchkit.models.bezier_sketch.BezierSketchModel`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from sketchkit.geometry.polyline import resample
from sketchkit.models.stroke_embedder import split_at_corners, unit_box
from sketchkit.sketch import BezierSketch, Sketch

if TYPE_CHECKING:
    from sketchkit.models.bezier_sketch import BezierSketchConfig

__all__ = ["CurveTokens", "estimate_token_scales"]


class CurveTokens:
    """Mixin: sketches to token sequences (cached per sketch) and tokens to Bézier curves."""

    def _sketch_tokens(self, sketches: Sequence[Sketch]) -> list[np.ndarray]:
        """Token sequence ``(S_i, token_dim)`` per sketch (cached while the embedder is unchanged).

        Each sketch is embedded on its own, never batched with others: float results of a batched
        kernel can depend on what else is in the batch (~1e-8), and tokens must not depend on
        which batch first asked for them, or a resumed run would not repeat an uninterrupted one.
        """
        todo = [k for k, s in enumerate(sketches)
                if (hit := self._token_cache.get(id(s))) is None or hit[0] is not s or hit[1] != self._embed_version]
        if todo:
            if len(self._token_cache) > 200_000:
                self._token_cache.clear()
            for k in todo:
                self._token_cache[id(sketches[k])] = (sketches[k], self._embed_version,
                                                      self._tokens_of(sketches[k]))
        return [self._token_cache[id(s)][2] for s in sketches]

    def _tokens_of(self, sk: Sketch) -> np.ndarray:
        """Tokens ``(S, token_dim)`` of one sketch in its unit box (first ``max_strokes`` strokes)."""
        c, d = self.config, self.config.max_degree
        owned = [(p, k) for k, s in enumerate(sk.strokes) for p in self._split(s)][: c.max_strokes]
        if not owned:
            return np.zeros((0, self.seq_dim), dtype=np.float32)
        pieces = [p for p, _ in owned]
        centre, half = unit_box(sk.points())
        pieces = [(p - centre) / half for p in pieces]
        pts, lengths, origins, scales = self._prepare_strokes(pieces)
        emb = self.embed_batch(torch.from_numpy(pts), torch.from_numpy(lengths), degrees=[d])
        cp = emb.control_points[d].double().numpy()  # (P, d + 1, 2) in stroke units
        cp = cp * scales[:, None, None] + origins[:, None, :]  # unit-box units
        dp = np.diff(cp, axis=1).reshape(len(pieces), -1) / c.offset_scale  # (P, 2d)
        start = cp[:, 0] / c.start_scale  # (P, 2)
        tok = [dp, start]
        if c.rational:
            tok.append(np.log(emb.weights[d].double().numpy()))
        if c.join_pieces:
            owner = np.array([k for _, k in owned])
            tok.append(np.append(owner[1:] == owner[:-1], False).astype(np.float64)[:, None])
        return np.concatenate(tok, axis=1).astype(np.float32)

    def _tokens_to_curves(self, tokens: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        """``(S, token_dim or seq_dim)`` tokens -> control points ``(d + 1, 2)`` in unit-box units (+ weights)."""
        c, d = self.config, self.config.max_degree
        tokens = np.asarray(tokens, dtype=np.float64)
        curves, weights = [], ([] if c.rational else None)
        for tok in tokens:
            dp = tok[: 2 * d].reshape(d, 2) * c.offset_scale
            start = tok[2 * d: 2 * d + 2] * c.start_scale
            curves.append(np.concatenate([start[None], start + np.cumsum(dp, axis=0)], axis=0))
            if weights is not None:
                weights.append(np.exp(np.clip(tok[2 * d + 2:self.token_dim], -10, 10)))
        return curves, weights

    def _pad_tokens(self, seqs: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        length = max([len(s) for s in seqs] + [1])
        out = torch.zeros(len(seqs), length, self.seq_dim)
        lengths = torch.zeros(len(seqs), dtype=torch.long)
        for i, s in enumerate(seqs):
            if len(s):
                out[i, : len(s)] = torch.from_numpy(s)
            lengths[i] = len(s)
        return out, lengths

    def _token_end(self, tokens: torch.Tensor) -> torch.Tensor:
        """Curve end points ``(B, 2)`` of tokens ``(B, >= token_dim)``, in the token's start units."""
        c, d = self.config, self.config.max_degree
        end = tokens[:, 2 * d:2 * d + 2] * c.start_scale + tokens[:, :2 * d].reshape(-1, d, 2).sum(1) * c.offset_scale
        return end / c.start_scale

    def _to_bezier(self, tokens: np.ndarray, *, label: str | None = None, centre=None, half: float = 1.0,
                   meta: dict | None = None) -> BezierSketch:
        curves, weights = self._tokens_to_curves(tokens)
        if centre is not None:
            curves = [cp * half + centre for cp in curves]
        meta = dict(meta or {})
        if self.config.join_pieces and len(tokens):  # stroke of each curve: a new one unless the previous continues
            cont = np.asarray(tokens)[:-1, -1] > 0.5
            meta["stroke_ids"] = np.concatenate([[0], np.cumsum(~cont)]).astype(int).tolist()
        return BezierSketch(curves, weights=weights, label=label, meta=meta)


def estimate_token_scales(sketches: Sequence[Sketch], config: BezierSketchConfig) -> BezierSketchConfig:
    """Return ``config`` with ``offset_scale``/``start_scale`` set from data (call before training).

    ``offset_scale`` is the RMS of the per-axis chord offsets of each stroke split into
    ``max_degree`` equal arc-length pieces (close to the control-point offsets a fit produces),
    ``start_scale`` the RMS of stroke start coordinates, both in unit-box units.
    """
    offs, starts = [], []
    for sk in sketches:
        if sk.num_strokes == 0 or sk.is_point_cloud:
            continue
        centre, half = unit_box(sk.points())
        for s in sk.strokes:
            for p in split_at_corners(s, config.split_angle, config.split_epsilon, config.split_turn):
                p = (p - centre) / half
                offs.append(np.diff(resample(p, config.max_degree + 1), axis=0).reshape(-1))
                starts.append(p[0])
    if not offs:
        raise ValueError("estimate_token_scales: no strokes in the given sketches")
    off = float(np.sqrt(np.mean(np.concatenate(offs) ** 2)))
    st = float(np.sqrt(np.mean(np.concatenate(starts) ** 2)))
    return config.replace(offset_scale=max(off, 1e-3), start_scale=max(st, 1e-3))
