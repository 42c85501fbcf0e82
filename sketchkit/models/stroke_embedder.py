"""BézierSketch's stroke embedder: inverse graphics from one stroke to its best-fit Bézier curve.

One stroke (``(n, 2)`` points, translated so its first point is the origin and divided by its
largest point norm) is read by a bidirectional LSTM. A t-head gives monotone parameters
``t = cumsum(softmax(logits))`` with ``t_0 = 0`` pinned and ``t_last = 1``; a control-point head
gives offsets ``dP_1..dP_d`` with ``P_0 = 0`` and ``P = cumsum(dP)``. The decoder is the fixed
Bernstein evaluation. Several degrees can be trained together; inference picks the lowest degree
whose fit is under ``degree_threshold``, and ``refine_steps`` rounds may polish the network's
prediction (least squares, then batched Levenberg-Marquardt on control points and ``t``).

:class:`StrokeEmbedder` is a mixin of :class:`sketchkit.models.bezier_sketch.BezierSketchModel`:
it builds and runs the embedder's modules and reads ``self.config`` (a ``BezierSketchConfig``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sketchkit.geometry import bezier_torch
from sketchkit.geometry.polyline import rdp_indices, resample
from sketchkit.sketch import BezierSketch, Sketch

if TYPE_CHECKING:
    from sketchkit.models.bezier_sketch import BezierSketchConfig

__all__ = ["EmbeddedStrokes", "StrokeEmbedder", "split_at_corners", "unit_box"]

@dataclass
class EmbeddedStrokes:
    """Batched embedder output for strokes in their own normalised frame.

    Attributes:
        control_points: ``{degree: (S, degree + 1, 2)}`` control points (``P_0 = 0`` unless refined).
        weights: ``{degree: (S, degree + 1)}`` rational weights, or ``{}``.
        t: ``{degree: (S, N)}`` parameters per point (padding entries meaningless).
        mse: ``{degree: (S,)}`` mean squared point distance of each fit.
        degree: ``(S,)`` selected degree per stroke (lowest under the threshold, else the highest).
    """

    control_points: dict[int, torch.Tensor]
    weights: dict[int, torch.Tensor]
    t: dict[int, torch.Tensor]
    mse: dict[int, torch.Tensor]
    degree: torch.Tensor

# ----------------------------------------------------------------------------------------------
# numpy helpers (stroke preparation)
# ----------------------------------------------------------------------------------------------

def split_at_corners(points: np.ndarray, angle_deg: float, epsilon_frac: float,
                      turn_deg: float = 0.0) -> list[np.ndarray]:
    """Split a stroke where its RDP-simplified polyline turns by more than ``angle_deg`` at one
    vertex, and (``turn_deg > 0``) wherever the turning accumulated since the last cut would pass
    ``turn_deg`` (a circle becomes a few gentle arcs, which low-degree curves fit with tame
    control points)."""
    if (angle_deg <= 0 and turn_deg <= 0) or points.shape[0] < 3:
        return [points]
    extent = float(np.max(points.max(0) - points.min(0)))
    if extent <= 0:
        return [points]
    idx = rdp_indices(points, epsilon_frac * extent).tolist()
    cuts = []
    accumulated = 0.0
    for a, b, c in zip(idx[:-2], idx[1:-1], idx[2:]):
        u, v = points[b] - points[a], points[c] - points[b]
        nu, nv = np.hypot(*u), np.hypot(*v)
        if nu == 0 or nv == 0:
            continue
        turn = math.degrees(math.acos(float(np.clip(np.dot(u, v) / (nu * nv), -1.0, 1.0))))
        if (angle_deg > 0 and turn > angle_deg) or (turn_deg > 0 and accumulated + turn > turn_deg):
            cuts.append(b)
            accumulated = 0.0
        else:
            accumulated += turn
    if not cuts:
        return [points]
    bounds = [0, *cuts, points.shape[0] - 1]
    return [points[s:e + 1] for s, e in zip(bounds[:-1], bounds[1:])]


def unit_box(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre and half-size of the larger side of the bounding box (floor 1e-6)."""
    lo, hi = points.min(0), points.max(0)
    return (lo + hi) / 2.0, max(float(np.max(hi - lo)) / 2.0, 1e-6)


def _as_stroke_list(strokes: Sketch | Sequence[np.ndarray]) -> list[np.ndarray]:
    if isinstance(strokes, Sketch):
        return list(strokes.strokes)
    out = []
    for i, s in enumerate(strokes):
        arr = np.asarray(s, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
            raise ValueError(f"stroke {i}: expected an array of shape (n >= 1, 2), got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"stroke {i}: coordinates must be finite")
        out.append(arr)
    return out


class StrokeEmbedder:
    """Mixin: the stroke embedder's modules, its forward pass, refinement and inference API."""

    def _build_embedder(self, c: BezierSketchConfig) -> None:
        """Create the embedder's modules from config ``c`` (one t-head and control-point head per degree)."""
        self.degrees = list(range(c.min_degree, c.max_degree + 1))
        # features per point are (x, y, dx, dy) in the stroke frame
        self.embed_lstm = nn.LSTM(4, c.embed_hidden, num_layers=c.embed_layers, batch_first=True,
                                  bidirectional=True)
        self.t_head = nn.Linear(2 * c.embed_hidden, len(self.degrees))  # one t-logit per point and degree
        self.embed_to_latent = nn.Sequential(nn.Linear(4 * c.embed_hidden, c.embed_latent), nn.Tanh())
        self.cp_heads = nn.ModuleList([nn.Linear(c.embed_latent, 2 * d) for d in self.degrees])
        self.w_heads = nn.ModuleList([nn.Linear(c.embed_latent, d + 1) for d in self.degrees]) if c.rational else None

    def _embedder_modules(self) -> list[nn.Module]:
        mods: list[nn.Module] = [self.embed_lstm, self.t_head, self.embed_to_latent, self.cp_heads]
        if self.w_heads is not None:
            mods.append(self.w_heads)
        return mods

    # ---------------------------------------------------------------- stroke preparation
    def _prepare_strokes(self, strokes: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Normalise strokes for the embedder.

        Returns:
            points ``(S, N, 2)`` float32 (zero padded), lengths ``(S,)``, origins ``(S, 2)`` and
            scales ``(S,)`` such that ``original = points * scale + origin``.
        """
        c = self.config
        normed, origins, scales = [], [], []
        for s in strokes:
            if s.shape[0] > c.max_stroke_points:
                s = resample(s, c.max_stroke_points)
            origin = s[0]
            rel = s - origin
            scale = float(np.max(np.hypot(rel[:, 0], rel[:, 1])))
            scale = scale if scale > c.min_stroke_scale else 1.0
            normed.append(rel / scale)
            origins.append(origin)
            scales.append(scale)
        n_max = max([p.shape[0] for p in normed] + [1])
        pts = np.zeros((len(normed), n_max, 2), dtype=np.float32)
        lengths = np.zeros(len(normed), dtype=np.int64)
        for i, p in enumerate(normed):
            pts[i, :p.shape[0]] = p
            lengths[i] = p.shape[0]
        return pts, lengths, np.asarray(origins, dtype=np.float64).reshape(-1, 2), np.asarray(scales)

    def _split(self, stroke: np.ndarray) -> list[np.ndarray]:
        c = self.config
        return split_at_corners(stroke, c.split_angle, c.split_epsilon, c.split_turn)

    # ---------------------------------------------------------------- embedder forward
    def _embed_raw(self, pts: torch.Tensor, lengths: torch.Tensor) -> dict[str, Any]:
        """Network prediction for normalised strokes ``pts`` ``(S, N, 2)``, ``lengths`` ``(S,)``."""
        S, N, _ = pts.shape
        idx = torch.arange(N, device=pts.device)
        mask = idx[None, :] < lengths[:, None]  # (S, N)
        diff = torch.diff(pts, dim=1, prepend=pts[:, :1]) * mask[..., None]
        feats = torch.cat([pts, diff], dim=-1)  # (S, N, 4)
        if not torch.is_grad_enabled() and self.embed_lstm.num_layers == 1 and S > 0:
            logits, h, cell = self._bilstm_inference(feats, lengths)  # same numbers, ~2x faster on CPU
        else:
            packed = pack_padded_sequence(feats, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
            out, (h, cell) = self.embed_lstm(packed)
            # The t-head is per point and linear: apply it to the packed LSTM outputs and pad only
            # its G logits, not the (S, N, 2H) hidden states (less memory traffic).
            logits, _ = pad_packed_sequence(out._replace(data=self.t_head(out.data)), batch_first=True,
                                            total_length=N)  # (S, N, G)
        summary = torch.cat([h[-2], h[-1], cell[-2], cell[-1]], dim=-1)  # (S, 4H)
        latent = self.embed_to_latent(summary)  # (S, L)
        inner = mask & (idx[None, :] >= 1)  # t_0 = 0 is pinned; the softmax runs over points 1..n-1
        logits = logits.masked_fill(~inner[..., None], -1e9)
        w = torch.softmax(logits, dim=1) * inner[..., None]  # (S, N, G)
        t_all = torch.cumsum(w, dim=1).clamp(0.0, 1.0)  # (S, N, G), monotone, t_last = 1
        cps, ws, ts, dps = {}, {}, {}, {}
        for g, d in enumerate(self.degrees):
            dp = self.cp_heads[g](latent).view(S, d, 2)  # (S, d, 2)
            cp = torch.cat([torch.zeros(S, 1, 2, dtype=dp.dtype, device=dp.device), torch.cumsum(dp, 1)], 1)
            cps[d], dps[d], ts[d] = cp, dp, t_all[..., g]  # cp: (S, d + 1, 2)
            if self.w_heads is not None:
                ws[d] = nn.functional.softplus(self.w_heads[g](latent)) + 1e-3  # (S, d + 1)
        return {"cp": cps, "w": ws, "t": ts, "dp": dps, "mask": mask}

    _LSTM_CHUNK: ClassVar[int] = 128  # strokes per length-sorted chunk of the inference BiLSTM
    _PAD_GATE: ClassVar[float] = 1e4  # pre-activation that saturates a gate to exactly 0 / 1 in float32

    def _bilstm_inference(self, feats: torch.Tensor, lengths: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The embedder BiLSTM (one layer) without packing, for inference.

        Packed sequences run the LSTM one time step at a time over a shrinking batch, which on
        the CPU costs about 3x more per point than the fused dense kernel. Here strokes are sorted
        by length and run densely in chunks padded only to the chunk's longest stroke, with one
        extra input feature, 1 on padding, whose weights saturate the input gate to exactly 0 and
        the forget gate to exactly 1 there: the cell state passes padding unchanged, so the
        backward direction enters each stroke with the zero state and the final cell states are
        those of the packed run. The forward direction's last hidden state is read from its
        output at the stroke's last point. Matches the packed module to float rounding (~1e-6).

        Returns:
            t-logits ``(S, N, G)`` (padding rows arbitrary), ``h`` and ``cell`` ``(2, S, H)``.
        """
        lstm = self.embed_lstm
        S, N, _ = feats.shape
        H = lstm.hidden_size
        col = feats.new_zeros(4 * H, 1)
        col[:H] = -self._PAD_GATE  # input gate (PyTorch gate order: i, f, g, o)
        col[H:2 * H] = self._PAD_GATE  # forget gate
        params = []
        for sfx in ("", "_reverse"):
            params += [torch.cat([getattr(lstm, "weight_ih_l0" + sfx), col], 1), getattr(lstm, "weight_hh_l0" + sfx),
                       getattr(lstm, "bias_ih_l0" + sfx), getattr(lstm, "bias_hh_l0" + sfx)]
        lengths = lengths.clamp(min=1)
        order = torch.argsort(lengths)
        G = self.t_head.out_features
        logits = feats.new_zeros(S, N, G)
        h_n, c_n = feats.new_zeros(2, S, H), feats.new_zeros(2, S, H)
        steps = torch.arange(N, device=feats.device)
        for s0 in range(0, S, self._LSTM_CHUNK):
            ix = order[s0:s0 + self._LSTM_CHUNK]
            li = lengths[ix]
            n = int(li.max())
            pad = (steps[None, :n] >= li[:, None]).to(feats.dtype)[..., None]
            x = torch.cat([feats[ix, :n], pad], -1)
            h0 = feats.new_zeros(2, len(ix), H)
            out, h, c = torch.lstm(x, (h0, h0), params, True, 1, 0.0, False, True, True)
            logits[ix, :n] = self.t_head(out)
            h[0] = out[torch.arange(len(ix), device=feats.device), li - 1, :H]
            h_n[:, ix], c_n[:, ix] = h, c
        return logits, h_n, c_n

    @staticmethod
    def _curve(cp: torch.Tensor, t: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        """Evaluate ``(S, d + 1, 2)`` curves at ``(S, N)`` parameters -> ``(S, N, 2)``."""
        if w is None:
            return bezier_torch.evaluate(cp, t)
        basis = bezier_torch.bernstein_basis(cp.shape[-2] - 1, t) * w[:, None, :]  # (S, N, d + 1)
        return (basis @ cp) / basis.sum(-1, keepdim=True).clamp_min(1e-12)

    @staticmethod
    def _masked_mse(curve: torch.Tensor, pts: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean squared point distance per stroke ``(S,)`` over valid points."""
        sq = ((curve - pts) ** 2).sum(-1) * mask  # (S, N)
        return sq.sum(1) / mask.sum(1).clamp(min=1)

    def _solve_cp(self, pts: torch.Tensor, m: torch.Tensor, t: torch.Tensor, w: torch.Tensor | None,
                  prior: torch.Tensor) -> torch.Tensor:
        """Least-squares control points for fixed ``t`` (ridge ``refine_ridge`` towards ``prior``)."""
        d = prior.shape[1] - 1
        basis = bezier_torch.bernstein_basis(d, t) * m  # (S, N, d + 1), padding rows zeroed
        if w is not None:  # rational: the curve is still linear in P for fixed t and w
            basis = basis * w[:, None, :]
            basis = basis / basis.sum(-1, keepdim=True).clamp_min(1e-12) * m
        eye = torch.eye(d + 1, dtype=pts.dtype, device=pts.device)
        a = basis.transpose(1, 2) @ basis + self.config.refine_ridge * eye  # (S, d + 1, d + 1)
        b = basis.transpose(1, 2) @ (pts * m) + self.config.refine_ridge * prior  # (S, d + 1, 2)
        return torch.linalg.solve(a, b)

    @staticmethod
    def _power_to_bernstein(d: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """``M`` ``(d + 1, d + 1)`` with ``bernstein_basis(d, t) = [1, t, .., t^d] @ M``."""
        m = torch.zeros(d + 1, d + 1, dtype=torch.float64)
        for k in range(d + 1):  # C(d, k) t^k (1 - t)^(d - k) = sum_j C(d, k) C(d - k, j) (-1)^j t^(k + j)
            for j in range(d - k + 1):
                m[k + j, k] = math.comb(d, k) * math.comb(d - k, j) * (-1) ** j
        return m.to(dtype=dtype, device=device)

    @staticmethod
    def _powers(t: torch.Tensor, d: int) -> torch.Tensor:
        """``(S, N)`` -> ``(S, N, d + 1)`` powers ``t^0 .. t^d``."""
        tp = t[..., None].expand(*t.shape, d + 1).clone()
        tp[..., 0] = 1.0
        return tp.cumprod_(-1)

    def _lsq_cp(self, basis: torch.Tensor, pts_m: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        """Control points minimising ``|basis @ P - pts|^2 + ridge |P - prior|^2`` (``basis`` padding rows zero)."""
        e = prior.shape[1]
        gram = basis.transpose(1, 2) @ torch.cat([basis, pts_m], -1)  # (S, d + 1, d + 3): one product
        eye = torch.eye(e, dtype=basis.dtype, device=basis.device)
        a = gram[..., :e] + self.config.refine_ridge * eye
        rhs = gram[..., e:] + self.config.refine_ridge * prior
        return torch.linalg.solve_ex(a, rhs)[0]

    _REFINE_CHUNK: ClassVar[int] = 256  # strokes per length-sorted refinement chunk

    def _refine(self, pts: torch.Tensor, mask: torch.Tensor, cp: torch.Tensor, t: torch.Tensor,
                w: torch.Tensor | None, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Refine in chunks of strokes of similar length (see :meth:`_refine_chunk`); same result per stroke."""
        S = pts.shape[0]
        if steps <= 0 or S == 0:
            return cp, t
        lengths = mask.sum(1)
        order = torch.argsort(lengths)
        cp_out, t_out = cp.clone(), t.clone()
        for s0 in range(0, S, self._REFINE_CHUNK):
            ix = order[s0:s0 + self._REFINE_CHUNK]
            n = max(int(lengths[ix].max()), 1)
            c, tt = self._refine_chunk(pts[ix, :n], mask[ix, :n], cp[ix], t[ix, :n],
                                       None if w is None else w[ix], steps)
            cp_out[ix] = c
            t_out[ix, :n] = tt
        return cp_out, t_out

    def _refine_chunk(self, pts: torch.Tensor, mask: torch.Tensor, cp: torch.Tensor, t: torch.Tensor,
                      w: torch.Tensor | None, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Polish a prediction (inference only; batched over strokes and points, no loop per stroke).

        Round 1: closed-form least-squares control points for the predicted ``t`` (ridge
        ``refine_ridge`` towards the network's control points). With more rounds (polynomial
        curves), the start is the better, per stroke, of that fit and the least-squares fit at
        chord-length ``t`` (one more batched solve; on held-out strokes the chord start is often
        the better one), and each further round is one Levenberg-Marquardt (damped Gauss-Newton)
        step on the control points and the interior ``t`` jointly; ``t`` is projected back to a
        monotone sequence in ``[0, 1]`` (``t_0 = 0``, ``t_last = 1``) and the control points are
        re-solved exactly for it. The
        ``t`` block of the normal matrix is diagonal (``|B'(t_i)|^2``, one entry per point), so it
        is eliminated in closed form: the reduced ``2(d+1) x 2(d+1)`` system is assembled from
        three weighted ``(d+1) x (d+1)`` Gram matrices, with no per-point Jacobian. Curves are
        evaluated from the power basis (``[1, t, .., t^d] @ M``), so ``B`` and ``B'`` cost one
        small matrix product each. A round is kept only for strokes whose error it lowers, so the
        error never rises (per-stroke damping: /3 after a kept round, x8 after a rejected one).
        Strokes are refined in chunks of similar length (sorted by length, padding cut to the
        chunk's longest stroke), which is where most of the padded work went.
        """
        if steps <= 0:
            return cp, t
        S, N, _ = pts.shape
        d = cp.shape[1] - 1
        m = mask.to(pts.dtype)[..., None]  # (S, N, 1)
        pts_m = pts * m
        prior = cp
        if w is not None:  # rational: least-squares control points only
            return self._solve_cp(pts, m, t, w, prior), t
        mb = self._power_to_bernstein(d, pts.dtype, pts.device)  # (d + 1, d + 1)
        tp = self._powers(t, d)  # (S, N, d + 1): 1, t, .., t^d
        basis = (tp @ mb) * m  # (S, N, d + 1), padding rows zero
        cp = self._lsq_cp(basis, pts_m, prior)
        resid = basis @ cp - pts_m  # (S, N, 2), zero on padding
        err = (resid * resid).sum((1, 2))  # (S,) summed squared error
        if steps == 1 or d < 1:
            return cp, t
        n_valid = mask.sum(1, keepdim=True)
        idx = torch.arange(N, device=pts.device)[None, :]
        if N > 1:  # start from the network's t or chord-length t, whichever fits the stroke better
            seg = torch.linalg.vector_norm(pts[:, 1:] - pts[:, :-1], dim=-1) * mask[:, 1:]
            arc = torch.cat([torch.zeros_like(seg[:, :1]), torch.cumsum(seg, 1)], 1)
            total = arc.gather(1, (n_valid - 1).clamp(min=0))
            chord = torch.where(total > 0, arc / total.clamp_min(1e-30), t).clamp(0.0, 1.0)
            chord = torch.where(mask, chord, t)
            c_tp = self._powers(chord, d)
            c_basis = (c_tp @ mb) * m
            c_cp = self._lsq_cp(c_basis, pts_m, prior)
            c_resid = c_basis @ c_cp - pts_m
            c_err = (c_resid * c_resid).sum((1, 2))
            use = c_err < err
            u3, u2 = use[:, None, None], use[:, None]
            cp, t, basis = torch.where(u3, c_cp, cp), torch.where(u2, chord, t), torch.where(u3, c_basis, basis)
            tp = torch.where(u3, c_tp, tp)
            resid, err = torch.where(u3, c_resid, resid), torch.where(use, c_err, err)
        interior = (idx > 0) & (idx < n_valid - 1)  # (S, N): the free parameters
        interior_f = interior.to(pts.dtype)
        pinned_t = (idx > 0).to(t.dtype).expand_as(t)  # t_0 = 0, t_last = 1 (padding: meaningless)
        k1 = torch.arange(1, d + 1, dtype=pts.dtype, device=pts.device)[:, None]  # derivative factors
        e = d + 1
        damp = torch.full((S,), 0.1, dtype=pts.dtype, device=pts.device)
        eye = torch.eye(d + 1, dtype=pts.dtype, device=pts.device)
        for _ in range(steps - 1):
            coef = mb @ cp  # (S, d + 1, 2): power-basis coefficients
            d1 = tp[..., :d] @ (coef[:, 1:] * k1)  # (S, N, 2): B'(t)
            dx, dy = d1[..., 0], d1[..., 1]
            dt = (dx * dx + dy * dy) * (1 + damp[:, None]) + 1e-12  # (S, N): Gauss-Newton t block
            inv = interior_f / dt  # (S, N): 0 for pinned points and padding
            g_t = (resid * d1).sum(-1)  # (S, N)
            wx, wy = dx * inv, dy * inv
            weights = torch.stack([torch.ones_like(wx), wx * dx, wx * dy, wy * dy], -1)  # (S, N, 4)
            cols = torch.cat([(weights[..., :, None] * basis[..., None, :]).reshape(S, N, 4 * e),
                              resid - d1 * (g_t * inv)[..., None]], -1)  # (S, N, 4(d + 1) + 2)
            gram = basis.transpose(1, 2) @ cols  # all Gram blocks and the gradient in one product
            a, w_xx, w_xy, w_yy = gram[..., :e], gram[..., e:2 * e], gram[..., 2 * e:3 * e], gram[..., 3 * e:4 * e]
            a_d = a + damp[:, None, None] * torch.diag_embed(torch.diagonal(a, dim1=1, dim2=2)) + 1e-12 * eye
            schur = torch.stack([torch.stack([a_d - w_xx, -w_xy], -1), torch.stack([-w_xy, a_d - w_yy], -1)],
                                2).reshape(S, 2 * e, 2 * e)  # unknowns ordered (k, coordinate)
            rhs = -gram[..., 4 * e:]  # -g_cp + C D^-1 g_t, (S, d + 1, 2)
            delta_cp = torch.linalg.solve_ex(schur, rhs.reshape(S, 2 * e, 1))[0].reshape(S, e, 2)
            delta_t = -(g_t + (d1 * (basis @ delta_cp)).sum(-1)) * inv
            new_t = torch.where(interior, torch.cummax((t + delta_t).clamp(0.0, 1.0), dim=1).values, pinned_t)
            new_tp = self._powers(new_t, d)
            new_basis = (new_tp @ mb) * m
            new_cp = self._lsq_cp(new_basis, pts_m, prior)
            new_resid = new_basis @ new_cp - pts_m
            new_err = (new_resid * new_resid).sum((1, 2))
            better = torch.isfinite(new_err) & (new_err < err)  # (S,)
            b3, b2 = better[:, None, None], better[:, None]
            cp = torch.where(b3, new_cp, cp)
            t = torch.where(b2, new_t, t)
            basis = torch.where(b3, new_basis, basis)
            tp = torch.where(b3, new_tp, tp)
            resid = torch.where(b3, new_resid, resid)
            err = torch.where(better, new_err, err)
            damp = torch.where(better, (damp / 3).clamp_min(1e-9), damp * 8)
        return cp, t

    def embed_batch(self, pts: torch.Tensor, lengths: torch.Tensor, *, refine_steps: int | None = None,
                    degrees: Sequence[int] | None = None) -> EmbeddedStrokes:
        """Embed normalised strokes (inference; no gradient).

        Args:
            pts: ``(S, N, 2)`` strokes, first point at the origin, largest point norm 1, zero padded.
            lengths: ``(S,)`` valid points per stroke (>= 1).
            refine_steps: override ``config.refine_steps``.
            degrees: compute (refine, score) only these degrees (default: every head's degree).

        Returns:
            :class:`EmbeddedStrokes` with one entry per computed degree and the selected degree
            per stroke (among the computed ones).
        """
        degrees = list(self.degrees if degrees is None else degrees)
        if not degrees or any(d not in self.degrees for d in degrees):
            raise ValueError(f"degrees must be a non-empty subset of {self.degrees}, got {degrees}")
        steps = self.config.refine_steps if refine_steps is None else int(refine_steps)
        pts, lengths = pts.to(self.device), lengths.to(self.device)
        with torch.no_grad():
            raw = self._embed_raw(pts, lengths)
            mask = raw["mask"]
            cps, ts, mses = {}, {}, {}
            for d in sorted(degrees):
                w = raw["w"].get(d)
                cp, t = self._refine(pts, mask, raw["cp"][d], raw["t"][d], w, steps)
                cps[d], ts[d] = cp, t
                if w is None:  # power basis: a few products instead of Bernstein ``pow`` (the same curve)
                    curve = (self._powers(t, d) @ self._power_to_bernstein(d, t.dtype, t.device)) @ cp
                else:
                    curve = self._curve(cp, t, w)
                mses[d] = self._masked_mse(curve, pts, mask)
            chosen = torch.full((pts.shape[0],), max(degrees), dtype=torch.long, device=pts.device)
            for d in sorted(degrees, reverse=True):
                chosen = torch.where(mses[d] < self.config.degree_threshold, torch.full_like(chosen, d), chosen)
        cpu = lambda d: {k: v.cpu() for k, v in d.items()}  # noqa: E731  (results live on the CPU)
        return EmbeddedStrokes(cpu(cps), cpu(raw["w"]), cpu(ts), cpu(mses), chosen.cpu())

    def embed_strokes(self, strokes: Sketch | Sequence[np.ndarray], *, degree: int | None = None,
                      refine_steps: int | None = None) -> BezierSketch:
        """Inverse graphics on user strokes: one Bézier curve per stroke, in the strokes' coordinates.

        Args:
            strokes: a :class:`Sketch` or a list of ``(n_i, 2)`` point arrays (any units).
            degree: force this degree (one of ``min_degree..max_degree``); default: the lowest
                degree whose normalised fit error is under ``config.degree_threshold``.
            refine_steps: override ``config.refine_steps`` (0 = the network's raw prediction).

        Returns:
            ``BezierSketch`` with one curve per stroke (after corner splitting when
            ``config.split_angle > 0`` or ``split_turn > 0``); ``meta["mse"]`` holds each curve's
            mean squared error in stroke-normalised units, ``meta["stroke_ids"]`` the input stroke
            each curve came from.
        """
        if degree is not None and degree not in self.degrees:
            raise ValueError(f"degree must be one of {self.degrees}, got {degree}")
        label = strokes.label if isinstance(strokes, Sketch) else None
        owned = [(p, k) for k, s in enumerate(_as_stroke_list(strokes)) for p in self._split(s)]
        pieces = [p for p, _ in owned]
        if not pieces:
            return BezierSketch([], label=label)
        pts, lengths, origins, scales = self._prepare_strokes(pieces)
        emb = self.embed_batch(torch.from_numpy(pts), torch.from_numpy(lengths), refine_steps=refine_steps,
                               degrees=None if degree is None else [degree])
        curves, weights, errs = [], [], []
        for i in range(len(pieces)):
            d = degree if degree is not None else int(emb.degree[i])
            curves.append(emb.control_points[d][i].double().numpy() * scales[i] + origins[i])
            errs.append(float(emb.mse[d][i]))
            if self.config.rational:
                weights.append(emb.weights[d][i].double().numpy())
        return BezierSketch(curves, weights=weights if self.config.rational else None, label=label,
                            meta={"mse": errs, "stroke_ids": [k for _, k in owned]})
