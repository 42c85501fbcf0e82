"""BézierSketch: a stroke embedder (inverse graphics) plus an RNN generator over Bézier strokes.

Das, Yang, Hospedales, Xiang, Song. *BézierSketch: A generative model for scalable vector
sketches.* ECCV 2020 (arXiv 2007.02190).

Two stages, trained in order by :func:`sketchkit.train.train`:

1. **embedder** — one stroke (``(n, 2)`` points, translated so its first point is the origin and
   divided by its largest point norm) is read by a bidirectional LSTM. A t-head gives monotone
   parameters ``t = cumsum(softmax(logits))`` with ``t_0 = 0`` pinned and ``t_last = 1``; a
   control-point head gives offsets ``dP_1..dP_d`` with ``P_0 = 0`` and ``P = cumsum(dP)``. The
   decoder is the fixed Bernstein evaluation, the loss is the mean squared point distance between
   ``B(t_i)`` and the points plus ``smoothness_weight * mean |dP|^2``. Several degrees can be
   trained together (multi-degree mode); inference picks the lowest degree whose fit is under
   ``degree_threshold``. ``rational=True`` adds a positive weight per control point (softplus).
   At inference, ``refine_steps`` rounds may polish the network's prediction: least-squares
   control points for the predicted ``t``, then (from the better of that and a chord-length
   start) batched Levenberg-Marquardt steps on control points and ``t`` (cost and gain measured
   in ``scripts/bench_embedder.py``; table in the shipped model's card).
2. **generator** — the frozen embedder turns every stroke into one token
   ``[dP_1..dP_d, P_0]`` (sketch normalised to a unit box, offsets divided by ``offset_scale`` and
   the absolute start point by ``start_scale``). A sequence-to-sequence VAE models the token
   sequence: BiLSTM encoder -> latent ``z``; LSTM decoder initialised from ``tanh(Linear(z))``;
   a diagonal Gaussian mixture over each token plus a stop bit. The KL term is annealed with the
   training step and floored (sketch-rnn style). ``latent_dim = 0`` drops the encoder and the
   latent: the decoder alone models the sequence (sketch-rnn's "unconditional decoder"), which
   has no prior to mismatch when sampling. Options: ``canvas_grid`` also feeds the decoder an
   occupancy grid of the curves drawn so far (:mod:`sketchkit.models.token_canvas`);
   ``input_noise`` perturbs the past tokens it reads in training (not the targets), so it learns
   to carry on from a slightly-off history, as when sampling; ``fitted_prior`` samples a VAE's
   latents from Gaussians fitted to its training codes (:mod:`sketchkit.models.latent_prior`);
   ``decoder="transformer"`` replaces the LSTM decoder by a causal transformer that attends to
   every earlier step (:mod:`sketchkit.models.causal_transformer`); ``token_head="start"`` draws
   each curve's start point from its own mixture before its shape, ``"start_chord"`` then the
   chord before the bends (:mod:`sketchkit.models.token_heads`).

Class conditioning: when ``config.labels`` names two or more classes (``config_for_data`` fills
it from the training sketches' labels if ``conditional``), a learned class embedding joins the
encoder's summary, the decoder's initial state and every decoder input, and ``sample`` takes a
``label``. ``model.labels`` lists the class names (empty for an unconditional model).

Coordinates: samples come out in the normalised sketch frame (the sketch's bounding box centred
at the origin, its larger side spanning ``[-1, 1]``, y down). :meth:`BezierSketchModel.complete`
and :meth:`BezierSketchModel.embed_strokes` return curves in the caller's own coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sketchkit.geometry import bezier_torch
from sketchkit.geometry.polyline import rdp_indices, resample
from sketchkit.models import conditioning
from sketchkit.models.base import ModelConfig, SketchModel, register_model
from sketchkit.models.base import NumberRange, check_sample_args
from sketchkit.models.latent_prior import FittedPriorMixin
from sketchkit.models.causal_transformer import CausalTransformer
from sketchkit.models.token_canvas import CanvasFeatures
from sketchkit.models.token_heads import JointTokenHead, StartChordTokenHead, StartFirstTokenHead
from sketchkit.sketch import BezierSketch, Sketch

TOKEN_HEADS = ("joint", "start", "start_chord")

__all__ = ["BezierSketchConfig", "BezierSketchModel", "EmbeddedStrokes", "estimate_token_scales"]


@dataclass(frozen=True)
class BezierSketchConfig(ModelConfig):
    """Hyper-parameters and data constants of a BézierSketch model (saved in ``config.json``)."""

    family: ClassVar[str] = "bezier"
    # latent_dim = 0 is allowed here: a decoder-only generator (overrides the generic ">= 1" rule)
    field_ranges: ClassVar[dict[str, NumberRange]] = {"latent_dim": NumberRange(0), "split_turn": NumberRange(0),
                                                      "random_rotate": NumberRange(0, 180),
                                                      "canvas_grid": NumberRange(0), "input_noise": NumberRange(0)}

    # --- stroke embedder -------------------------------------------------------------------
    min_degree: int = 5  # lowest degree with a head; < max_degree turns on multi-degree mode
    max_degree: int = 5  # highest degree; generator tokens use it (degree 5: 12-number tokens, fits most strokes)
    rational: bool = False  # also predict a positive weight per control point (softplus)
    embed_hidden: int = 64  # BiLSTM hidden size per direction (strokes are short; 64 keeps CPU inference fast)
    embed_layers: int = 1  # BiLSTM layers (public code: 1)
    embed_latent: int = 128  # size of the stroke latent before the control-point heads
    max_stroke_points: int = 48  # longer strokes are resampled uniformly in arc length to this many points
    min_stroke_scale: float = 1e-6  # strokes whose largest point norm is below this are treated as dots
    smoothness_weight: float = 1e-2  # weight of mean |dP|^2 (public code: 1e-2)
    degree_threshold: float = 5e-4  # multi-degree: lowest degree whose mean squared error (stroke units) is below this
    refine_steps: int = 1  # inference: 1 = least-squares control points for the predicted t; each extra round = one joint LM step
    refine_ridge: float = 1e-5  # ridge pulling refined control points to the network's (keeps few-point strokes sane)
    split_angle: float = 60.0  # degrees; split strokes at corners turning more than this (0 = never split)
    split_epsilon: float = 0.03  # RDP tolerance (fraction of the stroke's extent) used to find corners
    split_turn: float = 120.0  # degrees; also cut where the turning since the last cut would exceed this (0 = never)
    join_pieces: bool = True  # generator: pieces of one stroke stay one stroke (a "next token continues" bit)
    embed_rotate: bool = True  # training: rotate each stroke by a random angle (the fit is rotation-equivariant)

    # --- generator ---------------------------------------------------------------------------
    enc_hidden: int = 128  # encoder BiLSTM hidden per direction (public 256; token sequences are short, <= max_strokes)
    dec_hidden: int = 256  # decoder width: LSTM hidden (public 512; 256 trains ~3x faster on one CPU thread)
    decoder: str = "lstm"  # "lstm", or "transformer": causal self-attention over every earlier step (causal_transformer)
    dec_layers: int = 4  # transformer decoder: blocks
    dec_heads: int = 4  # transformer decoder: attention heads (divide dec_hidden)
    latent_dim: int = 128  # VAE latent (public 512; ours smaller for CPU and small data)
    num_mixtures: int = 8  # Gaussian components per token (public 3; more captures control-point correlations)
    full_covariance: bool = False  # full-covariance components (offsets drawn jointly); on SPG: better NLL, worse samples (README)
    # token_head: "joint" = one mixture over the whole token; "start" = the start point first (own 2-D
    # mixture), then the shape given it; "start_chord" = start, then chord, then bends (see token_heads)
    token_head: str = "joint"
    start_mixtures: int = 10  # "start" / "start_chord": components of the start (and chord) mixtures
    max_strokes: int = 40  # longest token sequence, in pieces (training truncates, sampling stops here)
    sigma_min: float = 1e-3  # lower clamp on mixture sigmas (token units) for NaN-free likelihoods
    kl_weight: float = 0.5  # final KL weight (sketch-rnn: 0.5)
    kl_floor: float = 0.2  # KL per latent dimension below this is not penalised (sketch-rnn kl_tolerance: 0.2)
    kl_anneal_steps: int = 2000  # KL weight ramps linearly from 0 to kl_weight over these steps
    random_scale: float = 0.15  # training: scale x and y of each sketch by U(1 - s, 1 + s) (sketch-rnn: 0.15)
    random_rotate: float = 0.0  # training: rotate each sketch by U(-r, r) degrees about its box centre
    offset_scale: float = 0.1  # control-point offsets (unit-box units) are divided by this in tokens
    start_scale: float = 0.5  # absolute stroke start points (unit-box units) are divided by this in tokens
    dropout: float = 0.0  # dropout on decoder outputs (0: data is small, runs are short)
    canvas_grid: int = 0  # decoder also sees a grid x grid occupancy of what it drew so far (0: off; see token_canvas)
    input_noise: float = 0.0  # training: std (token units) of Gaussian noise on the decoder's past-token inputs
    fitted_prior: bool = False  # VAE: sample from Gaussians fitted per class to the training codes (see latent_prior)
    prior_components: int = 1  # fitted prior: Gaussians per class (k-means clusters of its codes)
    # --- conditioning -------------------------------------------------------------------------
    conditional: bool = True  # condition encoder and decoder on sketch labels when the training data has >= 2
    labels: tuple[str, ...] = ()  # class names, index = class id (set from the data; empty: unconditional)
    class_dim: int = 32  # size of the learned class embedding

    def __post_init__(self) -> None:
        if self.token_head not in TOKEN_HEADS:
            raise ValueError(f"token_head: expected one of {list(TOKEN_HEADS)}, got {self.token_head!r}")
        if self.decoder not in ("lstm", "transformer"):
            raise ValueError(f"decoder: expected 'lstm' or 'transformer', got {self.decoder!r}")
        if self.decoder == "transformer" and self.dec_hidden % self.dec_heads:
            raise ValueError(f"dec_hidden ({self.dec_hidden}) must be a multiple of dec_heads ({self.dec_heads})")


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

def _split_at_corners(points: np.ndarray, angle_deg: float, epsilon_frac: float,
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


def _unit_box(points: np.ndarray) -> tuple[np.ndarray, float]:
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


# ----------------------------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------------------------

@register_model
class BezierSketchModel(conditioning.ClassConditional, FittedPriorMixin, SketchModel):
    """BézierSketch stroke embedder + stroke-token VAE generator (see the module docstring)."""

    config_class: ClassVar[type[ModelConfig]] = BezierSketchConfig
    stages: ClassVar[tuple[str, ...]] = ("embedder", "generator")

    def __init__(self, config: BezierSketchConfig) -> None:
        super().__init__(config)
        c = config
        if not 1 <= c.min_degree <= c.max_degree:
            raise ValueError(f"need 1 <= min_degree <= max_degree, got {c.min_degree}, {c.max_degree}")
        if c.max_stroke_points < 2:
            raise ValueError(f"max_stroke_points must be >= 2, got {c.max_stroke_points}")
        self.degrees = list(range(c.min_degree, c.max_degree + 1))
        # -- embedder: features per point are (x, y, dx, dy) in the stroke frame
        self.embed_lstm = nn.LSTM(4, c.embed_hidden, num_layers=c.embed_layers, batch_first=True,
                                  bidirectional=True)
        self.t_head = nn.Linear(2 * c.embed_hidden, len(self.degrees))  # one t-logit per point and degree
        self.embed_to_latent = nn.Sequential(nn.Linear(4 * c.embed_hidden, c.embed_latent), nn.Tanh())
        self.cp_heads = nn.ModuleList([nn.Linear(c.embed_latent, 2 * d) for d in self.degrees])
        self.w_heads = nn.ModuleList([nn.Linear(c.embed_latent, d + 1) for d in self.degrees]) if c.rational else None
        # -- generator
        d = c.max_degree
        self.token_dim = 2 * d + 2 + ((d + 1) if c.rational else 0)
        # A sequence step is the token plus, with join_pieces, the bit "the next token continues this stroke".
        self.seq_dim = self.token_dim + (1 if c.join_pieces else 0)
        if c.latent_dim < 0 or c.class_dim < 1:
            raise ValueError(f"need latent_dim >= 0 and class_dim >= 1, got {c.latent_dim}, {c.class_dim}")
        if len(set(c.labels)) != len(c.labels):
            raise ValueError(f"labels must be distinct, got {list(c.labels)}")
        self.num_classes = len(c.labels) if len(c.labels) >= 2 else 0
        cond = c.class_dim if self.num_classes else 0  # size of the class code fed to the generator
        self.cond_dim = c.latent_dim + cond  # latent z and class code, concatenated
        self.class_embed = nn.Embedding(self.num_classes, c.class_dim) if self.num_classes else None
        if c.fitted_prior and not c.latent_dim:
            raise ValueError("fitted_prior needs a latent (latent_dim >= 1); a decoder-only model has no codes to fit")
        if c.latent_dim:
            self.encoder = nn.LSTM(self.seq_dim, c.enc_hidden, batch_first=True, bidirectional=True)
            self.to_latent = nn.Linear(2 * c.enc_hidden + cond, 2 * c.latent_dim)  # -> (mu, logvar)
        else:
            self.encoder = self.to_latent = None
        # -> tanh -> (h0, c0); without any condition the initial state is learned directly
        recurrent = c.decoder == "lstm"  # a transformer reads the condition from its inputs alone
        self.dec_init = nn.Linear(self.cond_dim, 2 * c.dec_hidden) if self.cond_dim and recurrent else None
        self.dec_init_state = None if self.cond_dim or not recurrent else nn.Parameter(torch.zeros(2 * c.dec_hidden))
        self.canvas = (CanvasFeatures(c.canvas_grid, d, c.offset_scale, c.start_scale) if c.canvas_grid else None)
        canvas_dim = self.canvas.dim if self.canvas is not None else 0
        dec_in = self.seq_dim + 1 + canvas_dim + self.cond_dim
        if recurrent:
            self.decoder = nn.LSTM(dec_in, c.dec_hidden, batch_first=True)
        else:
            self.decoder = CausalTransformer(dec_in, c.dec_hidden, c.dec_layers, c.dec_heads, dropout=c.dropout)
        self.dec_dropout = nn.Dropout(c.dropout)
        head_args = dict(n_bits=2 if c.join_pieces else 1, sigma_min=c.sigma_min, full_covariance=c.full_covariance)
        if c.token_head == "start":
            self.head = StartFirstTokenHead(c.dec_hidden, self.token_dim, 2 * d, c.num_mixtures,
                                            start_mixtures=c.start_mixtures, **head_args)
        elif c.token_head == "start_chord":
            self.head = StartChordTokenHead(c.dec_hidden, self.token_dim, 2 * d, c.num_mixtures, degree=d,
                                            start_mixtures=c.start_mixtures, **head_args)
        else:
            self.head = JointTokenHead(c.dec_hidden, self.token_dim, 2 * d, c.num_mixtures, **head_args)
        self._token_cache: dict[int, tuple[Sketch, int, np.ndarray]] = {}
        self._embed_version = 0
        if c.latent_dim:
            self.make_prior(self.num_classes, c.latent_dim)
        else:
            self.prior = None


    def _condition(self, z: torch.Tensor | None, classes: torch.Tensor | None, batch: int) -> torch.Tensor:
        """Generator condition ``(B, cond_dim)``: latent ``z`` and class embedding, concatenated."""
        parts = []
        if self.config.latent_dim:
            parts.append(z)
        if self.num_classes:
            parts.append(self.class_embed(classes.to(self.device)))
        if not parts:
            return torch.zeros(batch, 0, device=self.device)
        return torch.cat(parts, -1)

    # ---------------------------------------------------------------- parameters per stage
    def _embedder_modules(self) -> list[nn.Module]:
        mods: list[nn.Module] = [self.embed_lstm, self.t_head, self.embed_to_latent, self.cp_heads]
        if self.w_heads is not None:
            mods.append(self.w_heads)
        return mods

    def stage_parameters(self, stage: str) -> Iterable[nn.Parameter]:
        """Embedder parameters in ``"embedder"``; generator parameters (embedder frozen) otherwise."""
        if stage == "embedder":
            return [p for m in self._embedder_modules() for p in m.parameters()]
        if stage == "generator":
            mods = [self.encoder, self.to_latent, self.dec_init, self.decoder, self.head, self.class_embed]
            params = [p for m in mods if m is not None for p in m.parameters()]
            return params + ([self.dec_init_state] if self.dec_init_state is not None else [])
        raise ValueError(f"unknown stage {stage!r}; expected one of {self.stages}")

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
        return _split_at_corners(stroke, c.split_angle, c.split_epsilon, c.split_turn)

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

    # ---------------------------------------------------------------- tokens
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
        centre, half = _unit_box(sk.points())
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

    # ---------------------------------------------------------------- collate / loss
    @classmethod
    def config_for_data(cls, config: BezierSketchConfig, sketches: Sequence[Sketch]) -> BezierSketchConfig:
        """Token scales from the training data (see :func:`estimate_token_scales`) and, for a
        ``conditional`` config without ``labels``, the sorted class names of the training sketches
        (only when there are two or more; otherwise the model stays unconditional)."""
        return conditioning.with_data_labels(estimate_token_scales(sketches, config), sketches)

    def collate(self, sketches: Sequence[Sketch], *, stage: str = "embedder",
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Batch for ``stage``.

        ``"embedder"``: every stroke of every sketch becomes one sample -> ``points`` ``(S, N, 2)``,
        ``lengths`` ``(S,)`` (random rotation per stroke if ``embed_rotate``).
        ``"generator"``: one token sequence per sketch -> ``tokens`` ``(B, L, token_dim)``,
        ``lengths`` ``(B,)`` (random x/y scale per sketch); sketches without strokes are skipped.
        """
        if stage == "embedder":
            strokes = [p for sk in sketches for s in sk.strokes for p in self._split(s)]
            if not strokes:
                raise ValueError("collate: no strokes in the batch")
            pts, lengths, _, _ = self._prepare_strokes(strokes)
            pts_t = torch.from_numpy(pts)
            if self.config.embed_rotate:
                ang = torch.rand(len(strokes), generator=generator) * (2 * math.pi)
                cos, sin = torch.cos(ang), torch.sin(ang)
                rot = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)  # (S, 2, 2)
                pts_t = pts_t @ rot
            return {"points": pts_t, "lengths": torch.from_numpy(lengths)}
        if stage == "generator":
            keep = [(sk, s) for sk, s in zip(sketches, self._sketch_tokens(sketches)) if len(s)]
            if not keep:
                raise ValueError("collate: no sketch in the batch has strokes")
            seqs = [s for _, s in keep]
            tokens, lengths = self._pad_tokens(seqs)
            extra = {}
            if self.num_classes:
                extra["classes"] = self._class_ids([sk.label for sk, _ in keep])
            if self.config.random_rotate > 0:  # a rigid rotation of every point: offsets and starts alike
                d = self.config.max_degree
                ang = (torch.rand(len(seqs), generator=generator) * 2 - 1) * math.radians(self.config.random_rotate)
                cos, sin = torch.cos(ang)[:, None, None], torch.sin(ang)[:, None, None]  # (B, 1, 1)
                xy = tokens[..., :2 * d + 2].reshape(len(seqs), tokens.shape[1], d + 1, 2)
                # Offsets and starts have their own scales; rotate in unit-box units, then rescale.
                unit = torch.tensor([self.config.offset_scale] * d + [self.config.start_scale])[None, None, :, None]
                xy = xy * unit
                rot = torch.stack([xy[..., 0] * cos - xy[..., 1] * sin, xy[..., 0] * sin + xy[..., 1] * cos], -1)
                tokens = torch.cat([(rot / unit).reshape(len(seqs), tokens.shape[1], 2 * d + 2),
                                    tokens[..., 2 * d + 2:]], -1)
            if self.config.random_scale > 0:
                rs = self.config.random_scale
                sxy = 1.0 + (torch.rand(len(seqs), 1, 2, generator=generator) * 2 - 1) * rs  # (B, 1, 2)
                d = self.config.max_degree
                mult = torch.cat([sxy.repeat(1, 1, d + 1), torch.ones(len(seqs), 1, self.seq_dim - 2 * d - 2)], -1)
                tokens = tokens * mult
            return {"tokens": tokens, "lengths": lengths, **extra}
        raise ValueError(f"unknown stage {stage!r}; expected one of {self.stages}")

    def loss(self, batch: dict[str, torch.Tensor], *, step: int = 0, stage: str = "embedder") -> dict[str, torch.Tensor]:
        """Embedder: fit MSE + smoothness. Generator: token NLL + stop BCE + annealed, floored KL."""
        if stage == "embedder":
            if torch.is_grad_enabled():
                self._embed_version += 1  # embedder weights are about to change: cached tokens go stale
            pts, lengths = batch["points"].to(self.device), batch["lengths"].to(self.device)
            raw = self._embed_raw(pts, lengths)
            mses, smooth = [], []
            for d in self.degrees:
                curve = self._curve(raw["cp"][d], raw["t"][d], raw["w"].get(d))
                mses.append(self._masked_mse(curve, pts, raw["mask"]).mean())
                smooth.append((raw["dp"][d] ** 2).sum(-1).mean())
            mse, sm = torch.stack(mses).mean(), torch.stack(smooth).mean()
            out = {"loss": mse + self.config.smoothness_weight * sm, "mse": mse.detach(), "smooth": sm.detach()}
            for d, m in zip(self.degrees, mses):
                out[f"mse_d{d}"] = m.detach()
            return out
        if stage == "generator":
            return self._generator_loss(batch["tokens"].to(self.device), batch["lengths"].to(self.device), step,
                                        batch.get("classes"))
        raise ValueError(f"unknown stage {stage!r}; expected one of {self.stages}")

    # ---------------------------------------------------------------- generator pieces
    def encode(self, tokens: torch.Tensor, lengths: torch.Tensor,
               classes: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Token sequences ``(B, L, token_dim)`` (and class ids ``(B,)`` for a conditional model)
        -> posterior ``(mu, logvar)``, each ``(B, latent_dim)``."""
        if self.encoder is None:
            raise ValueError("this model has no encoder (latent_dim = 0: a decoder-only generator)")
        packed = pack_padded_sequence(tokens, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.encoder(packed)
        summary = torch.cat([h[-2], h[-1]], -1)  # (B, 2 * enc_hidden)
        if self.num_classes:
            summary = torch.cat([summary, self.class_embed(classes.to(summary.device))], -1)
        mu, logvar = self.to_latent(summary).chunk(2, dim=-1)
        return mu, logvar.clamp(-10.0, 10.0)

    def _decoder_inputs(self, tokens: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Teacher forcing inputs ``(B, L, seq_dim + 1 [+ canvas] + cond_dim)``: previous token, start
        flag, (with ``canvas_grid``) what was drawn before, condition."""
        B, L, _ = tokens.shape
        prev = torch.cat([tokens.new_zeros(B, 1, self.seq_dim), tokens[:, :-1]], 1)
        flag = tokens.new_zeros(B, L, 1)
        flag[:, 0] = 1.0
        parts = [prev, flag]
        if self.canvas is not None:
            parts.append(self.canvas.before_each(tokens))
        return torch.cat(parts + [cond[:, None, :].expand(B, L, cond.shape[-1])], -1)

    def _init_state(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | torch.Tensor:
        """Decoder state before the first step: LSTM ``(h0, c0)`` from the condition, or an empty
        transformer history."""
        if isinstance(self.decoder, CausalTransformer):
            return self.decoder.empty_state(cond.shape[0], cond)
        if self.dec_init is None:
            hc = torch.tanh(self.dec_init_state).expand(cond.shape[0], -1)
        else:
            hc = torch.tanh(self.dec_init(cond))
        h0, c0 = hc.chunk(2, dim=-1)
        return h0[None].contiguous(), c0[None].contiguous()

    def kl_weight_at(self, step: int) -> float:
        """KL weight at training ``step``: linear ramp from 0 to ``kl_weight`` over ``kl_anneal_steps``."""
        if self.config.kl_anneal_steps <= 0:
            return self.config.kl_weight
        return self.config.kl_weight * min(1.0, step / self.config.kl_anneal_steps)

    def _generator_loss(self, tokens: torch.Tensor, lengths: torch.Tensor, step: int,
                        classes: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        B, L, _ = tokens.shape
        if self.num_classes and classes is None:
            raise ValueError("a conditional model needs 'classes' in the batch")
        if self.config.latent_dim:
            mu, logvar = self.encode(tokens, lengths, classes)
            eps = torch.randn_like(mu) if self.training else torch.zeros_like(mu)
            z = mu + torch.exp(0.5 * logvar) * eps
        else:
            z = mu = logvar = tokens.new_zeros(B, 0)
        cond = self._condition(z, classes, B)
        # Teacher forcing feeds the true past; sampling feeds the model's own, slightly-off past.
        # Noise on the past curves' geometry (inputs only, never the targets) trains the decoder
        # to carry on sensibly from a history that is a little off.
        past = tokens
        if self.training and self.config.input_noise > 0:
            xy = 2 * self.config.max_degree + 2
            past = torch.cat([tokens[..., :xy] + self.config.input_noise * torch.randn_like(tokens[..., :xy]),
                              tokens[..., xy:]], -1)
        out, _ = self.decoder(self._decoder_inputs(past, cond), self._init_state(cond))  # (B, L, H)
        ll, bits = self.head.token_log_prob(self.dec_dropout(out), tokens[..., :self.token_dim],
                                            self._continues(tokens))
        mask = (torch.arange(L, device=tokens.device)[None] < lengths[:, None]).to(tokens.dtype)  # (B, L)
        nll = -(ll * mask).sum() / mask.sum()
        stop_target = (torch.arange(L, device=tokens.device)[None] == (lengths[:, None] - 1)).to(tokens.dtype)
        bce = nn.functional.binary_cross_entropy_with_logits(bits[..., 0], stop_target, reduction="none")
        stop = (bce * mask).sum() / mask.sum()
        if self.config.join_pieces:  # "the next token continues this stroke", wherever a next token exists
            inner = mask * (1.0 - stop_target)
            bce = nn.functional.binary_cross_entropy_with_logits(bits[..., 1], tokens[..., -1], reduction="none")
            stop = stop + (bce * inner).sum() / inner.sum().clamp_min(1.0)
        kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1)).mean()
        w = self.kl_weight_at(step)
        # As in sketch-rnn: the penalty is on the KL averaged over latent dimensions, floored, so
        # it is on the scale of the per-token NLL and the latent keeps information.
        loss = nll + stop
        if self.config.latent_dim:
            loss = loss + w * torch.clamp(kl / self.config.latent_dim, min=self.config.kl_floor)
        return {"loss": loss, "nll": nll.detach(), "stop": stop.detach(), "kl": kl.detach(),
                "kl_weight": torch.tensor(w)}

    def _continues(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` bool: token continues the previous token's stroke (its start is that curve's end)."""
        cont = torch.zeros(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        if self.config.join_pieces:
            cont[:, 1:] = tokens[:, :-1, -1] > 0.5
        return cont

    def _decode(self, z: torch.Tensor, *, generator: torch.Generator | None, temperature: float,
                prefix: torch.Tensor | None = None, max_strokes: int | None = None) -> list[np.ndarray]:
        """Autoregressive decoding from conditions ``z`` ``(B, cond_dim)`` (see :meth:`_condition`);
        ``prefix`` ``(B, P, token_dim)`` is teacher-forced first (its tokens are part of the
        output). Temperature 0 is greedy."""
        B = z.shape[0]
        limit = self.config.max_strokes if max_strokes is None else max_strokes
        state = self._init_state(z)
        prev = z.new_zeros(B, self.seq_dim)
        first = True
        outs: list[list[np.ndarray]] = [[] for _ in range(B)]
        n_prefix = 0 if prefix is None else prefix.shape[1]
        grid = self.canvas.grid ** 2 if self.canvas is not None else 0
        counts, prev_end = z.new_zeros(B, grid), z.new_zeros(B, 2)  # canvas so far (with canvas_grid)
        if n_prefix:
            inp = self._decoder_inputs(prefix, z)
            _, state = self.decoder(inp, state)
            prev, first = prefix[:, -1], False
            if self.canvas is not None:
                ink, ends = self.canvas.ink(prefix)
                counts, prev_end = ink.sum(1), ends[:, -1]
            for i in range(B):
                outs[i].extend(prefix[i].cpu().numpy())
        done = torch.zeros(B, dtype=torch.bool)
        for _ in range(max(0, limit - n_prefix)):
            flag = z.new_full((B, 1), 1.0 if first else 0.0)
            parts = [prev, flag]
            if self.canvas is not None:
                parts += [self.canvas.occupancy(counts), prev_end]
            out, state = self.decoder(torch.cat(parts + [z], -1)[:, None], state)
            prev_cpu = prev.cpu()
            cont = (prev_cpu[:, -1] > 0.5) if self.config.join_pieces else torch.zeros(B, dtype=torch.bool)
            # A curve that continues the previous one's stroke starts where that one ended.
            tok, bit_logits = self.head.draw(out[:, 0], self._token_end(prev_cpu), cont,
                                             generator=generator, temperature=temperature)  # (B, T), CPU
            # The stop / continue bits are drawn at their own probabilities, not sharpened by the
            # temperature: a stop of probability 0.3 sharpened at T = 0.3 almost never fires, and
            # low-temperature samples ran on to max_strokes as tangles of small curves.
            if temperature > 0:
                drawn = torch.rand(B, bit_logits.shape[-1], generator=generator) < torch.sigmoid(bit_logits)
            else:
                drawn = bit_logits > 0
            stop = drawn[:, 0]
            if self.config.join_pieces:
                tok = torch.cat([tok, (drawn[:, 1] & ~stop).to(tok.dtype)[:, None]], -1)
            for i in range(B):
                if not done[i]:
                    outs[i].append(tok[i].cpu().numpy())
            done = done | stop
            prev, first = tok.to(z.device), False
            if self.canvas is not None:
                ink, prev_end = self.canvas.ink(prev)
                counts = counts + ink
            if bool(done.all()):
                break
        return [np.stack(o) if o else np.zeros((0, self.seq_dim), np.float32) for o in outs]

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

    # ---------------------------------------------------------------- public generation API
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, temperature: float = 1.0,
               label: str | int | Sequence[str | int] | None = None,
               max_strokes: int | None = None, min_class_posterior: float = 0.0,
               tries: int = 8, latent_temperature: float = 1.0) -> list[BezierSketch]:
        """Draw ``n`` new sketches from the prior.

        A VAE (``latent_dim >= 1``) draws each latent from ``N(0, I)``, or, once a ``fitted_prior``
        has been fitted (training fits it), from the Gaussians fitted to its class's training codes;
        then the decoder draws the curve tokens.

        Args:
            n: number of sketches (>= 1).
            generator: torch generator for ``z``, the classes and every sampling draw.
            temperature: of the token mixtures, sketch-rnn style; lower is tidier, 0 is greedy.
            label: conditional models: one class (name or index) for all ``n`` sketches, or a
                sequence of ``n`` classes; ``None`` draws classes uniformly. Must be ``None`` for
                an unconditional model.
            max_strokes: cap on strokes per sketch (default ``config.max_strokes``).
            min_class_posterior: decoder-only conditional models: redraw a sample (up to
                ``tries`` draws in all) while the model's own class posterior
                ``p(c | x) = p(x | c) / sum_c' p(x | c')`` of its class is below this; the draw
                with the highest posterior is kept. 0 (default) takes every first draw. This
                sharpens samples towards what tells their class apart, at the cost of diversity
                (like classifier guidance, with the generator as its own classifier).
            tries: draws per sample at most when ``min_class_posterior > 0``.
            latent_temperature: VAE: standard deviation scale of the latent draw (0: the prior's
                means); the token ``temperature`` does not touch the latent, as in sketch-rnn.

        Returns:
            ``n`` ``BezierSketch`` of degree-``max_degree`` curves in the unit-box frame, each
            ``label``-ed with its class name (conditional models); with ``min_class_posterior``,
            ``meta["class_posterior"]`` holds the kept draw's posterior.

        Raises:
            ValueError: bad ``n``/``temperature``, an unknown class (listing the known ones),
                ``label`` given to an unconditional model, or ``min_class_posterior`` on a model
                that cannot compute it.
        """
        check_sample_args(n, temperature)
        if not 0.0 <= min_class_posterior <= 1.0:
            raise ValueError(f"min_class_posterior: expected a number in [0, 1], got {min_class_posterior!r}")
        if min_class_posterior > 0 and (not self.num_classes or self.config.latent_dim):
            raise ValueError("min_class_posterior needs a class-conditional decoder-only model (latent_dim = 0)")
        if isinstance(tries, bool) or not isinstance(tries, int) or tries < 1:
            raise ValueError(f"tries: expected an integer >= 1, got {tries!r}")
        if not 0.0 <= latent_temperature < float("inf"):
            raise ValueError(f"latent_temperature: expected a finite number >= 0, got {latent_temperature!r}")
        classes = self._sample_classes(n, label, generator)
        z = torch.zeros(n, 0)
        if self.config.latent_dim:
            z = self.draw_latents(n, classes, generator=generator, temperature=latent_temperature)
        z = z.to(self.device, next(self.parameters()).dtype)
        cond = self._condition(z, classes, n)
        names = [None] * n if classes is None else [self.labels[int(i)] for i in classes]
        toks = self._decode(cond, generator=generator, temperature=temperature, max_strokes=max_strokes)
        if min_class_posterior > 0:
            toks, post = self._redraw_by_posterior(toks, classes, cond, min_class_posterior, tries,
                                                   generator=generator, temperature=temperature,
                                                   max_strokes=max_strokes)
            return [self._to_bezier(t, label=nm, meta={"class_posterior": p})
                    for t, nm, p in zip(toks, names, post)]
        return [self._to_bezier(t, label=nm) for t, nm in zip(toks, names)]

    def _redraw_by_posterior(self, toks: list[np.ndarray], classes: torch.Tensor, cond: torch.Tensor,
                             threshold: float, tries: int, **decode_kw: Any) -> tuple[list[np.ndarray], list[float]]:
        """Redraw samples whose class posterior is under ``threshold``; keep each one's best draw."""
        best = self.class_posterior(toks)[torch.arange(len(toks)), classes].tolist()
        for _ in range(tries - 1):
            redo = [i for i, p in enumerate(best) if p < threshold]
            if not redo:
                break
            again = self._decode(cond[redo], **decode_kw)
            post = self.class_posterior(again)[torch.arange(len(redo)), classes[redo]].tolist()
            for j, i in enumerate(redo):
                if post[j] > best[i]:
                    toks[i], best[i] = again[j], post[j]
        return toks, best

    @torch.no_grad()
    def class_posterior(self, token_seqs: Sequence[np.ndarray]) -> torch.Tensor:
        """The generator as a classifier: ``p(c | x)`` ``(B, num_classes)`` for token sequences
        ``(S_i, seq_dim)`` under a uniform class prior, from the exact ``log p(x | c)`` of a
        decoder-only model (tokens, stop and continue bits)."""
        if not self.num_classes or self.config.latent_dim:
            raise ValueError("class_posterior needs a class-conditional decoder-only model (latent_dim = 0)")
        seqs = [np.asarray(t, np.float32) for t in token_seqs]
        keep = [i for i, t in enumerate(seqs) if len(t)]
        out = torch.full((len(seqs), self.num_classes), 1.0 / self.num_classes)
        if not keep:
            return out
        tokens, lengths = self._pad_tokens([seqs[i] for i in keep])
        tokens, lengths = tokens.to(self.device), lengths.to(self.device)
        B, L, _ = tokens.shape
        C = self.num_classes
        rep = tokens.repeat_interleave(C, 0)  # (B * C, L, seq_dim): every sequence under every class
        classes = torch.arange(C, device=self.device).repeat(B)
        cond = self._condition(None, classes, B * C)
        h, _ = self.decoder(self._decoder_inputs(rep, cond), self._init_state(cond))
        mask = (torch.arange(L, device=self.device)[None] < lengths.repeat_interleave(C)[:, None]).float()
        ll, bits = self.head.token_log_prob(h, rep[..., :self.token_dim], self._continues(rep))  # (B * C, L)
        last = (torch.arange(L, device=self.device)[None] == (lengths.repeat_interleave(C)[:, None] - 1)).float()
        ll = ll - nn.functional.binary_cross_entropy_with_logits(bits[..., 0], last, reduction="none")
        if self.config.join_pieces:
            ll = ll - nn.functional.binary_cross_entropy_with_logits(
                bits[..., 1], rep[..., -1], reduction="none") * (1.0 - last)
        log_px = (ll * mask).sum(1).view(B, C)
        out[keep] = torch.softmax(log_px, -1).cpu()
        return out

    def _sample_classes(self, n: int, label: Any, generator: torch.Generator | None) -> torch.Tensor | None:
        return conditioning.sample_classes(self.labels, n, label, generator)

    def _encode_sketches(self, sketches: Sequence[Sketch]) -> torch.Tensor:
        """Generator conditions ``(B, cond_dim)`` of sketches: posterior mean and class code.

        A decoder-only model (``latent_dim = 0``) has no latent to infer: its condition is the class alone.
        """
        sketches = list(sketches)
        classes = self._class_ids([s.label for s in sketches])
        if self.config.latent_dim == 0:
            return self._condition(None, classes, len(sketches))
        seqs = self._sketch_tokens(sketches)
        if any(len(s) == 0 for s in seqs):
            raise ValueError("cannot encode a sketch without strokes")
        tokens, lengths = self._pad_tokens(seqs)
        mu, _ = self.encode(tokens.to(self.device), lengths, classes)
        return self._condition(mu, classes, len(sketches))

    @torch.no_grad()
    def _posterior_means(self, sketches: Sequence[Sketch], batch_size: int = 256
                         ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Posterior means ``(N, latent_dim)`` (CPU) and class ids ``(N,)`` (``None`` for an
        unconditional model) of sketches with strokes; what the fitted prior is fitted to."""
        sketches = list(sketches)
        seqs = self._sketch_tokens(sketches)
        sketches = [sk for sk, t in zip(sketches, seqs) if len(t)]
        seqs = [t for t in seqs if len(t)]
        if not sketches:
            raise ValueError("no sketch with strokes to encode")
        classes = self._class_ids([s.label for s in sketches])  # conditional: every sketch needs a known label
        codes = []
        for i in range(0, len(sketches), batch_size):
            tokens, lengths = self._pad_tokens(seqs[i:i + batch_size])
            chunk_classes = None if classes is None else classes[i:i + batch_size]
            codes.append(self.encode(tokens.to(self.device), lengths, chunk_classes)[0].cpu())
        return torch.cat(codes), None if classes is None else classes.cpu()

    @torch.no_grad()
    def reconstruct(self, sketches: Sequence[Sketch], *, generator: torch.Generator | None = None,
                    temperature: float = 0.0) -> list[BezierSketch]:
        """Encode (posterior mean) and decode each sketch; greedy by default.

        Returns:
            one ``BezierSketch`` per input, mapped back to the input's coordinates.
        """
        sketches = list(sketches)
        z = self._encode_sketches(sketches)  # conditional models need known labels on the sketches
        toks = self._decode(z, generator=generator, temperature=temperature)
        out = []
        for sk, t in zip(sketches, toks):
            centre, half = _unit_box(sk.points())
            out.append(self._to_bezier(t, label=sk.label, centre=centre, half=half))
        return out

    @torch.no_grad()
    def interpolate(self, a: Sketch, b: Sketch, steps: int = 5) -> list[BezierSketch]:
        """Decode (greedily) ``steps`` latents on the segment between the encodings of ``a`` and ``b``.

        Returns:
            ``steps`` ``BezierSketch`` in the unit-box frame, from ``a`` to ``b``.
        """
        if steps < 2:
            raise ValueError(f"steps must be >= 2, got {steps}")
        za, zb = self._encode_sketches([a, b])
        alpha = torch.linspace(0.0, 1.0, steps, device=za.device)[:, None]
        z = (1 - alpha) * za[None] + alpha * zb[None]  # (steps, latent)
        return [self._to_bezier(t, meta={"alpha": float(al)})
                for t, al in zip(self._decode(z, generator=None, temperature=0.0), alpha[:, 0].tolist())]

    @torch.no_grad()
    def complete(self, partial: Sketch, n: int = 1, *, generator: torch.Generator | None = None,
                 temperature: float = 0.5, use_encoder: bool = False, label: str | int | None = None,
                 max_strokes: int | None = None) -> list[BezierSketch]:
        """Continue a partial sketch ``n`` times.

        The partial's strokes become tokens and are teacher-forced through the decoder from a latent
        drawn from the prior (or, with ``use_encoder=True``, the encoder's mean of the partial);
        then strokes are sampled until the stop bit fires or ``max_strokes``. A conditional model
        uses ``label`` (default: the partial's own label; random when it has none).

        Returns:
            ``n`` ``BezierSketch`` in the partial's coordinates; the first curves are the partial's
            own strokes (as fitted curves), ``meta["n_given"]`` says how many.
        """
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if partial.num_strokes == 0:
            raise ValueError("complete: the partial sketch has no strokes")
        toks = self._sketch_tokens([partial])[0]
        prefix = torch.from_numpy(toks)[None].repeat(n, 1, 1).to(self.device)
        if use_encoder:
            z = self._encode_sketches([partial]).repeat(n, 1)
        else:
            if label is None and self.num_classes:
                label = partial.label  # a conditional model continues in the partial's own class
            classes = self._sample_classes(n, label, generator)
            zz = torch.randn(n, self.config.latent_dim, generator=generator).to(self.device)
            z = self._condition(zz, classes, n)
        limit = max(len(toks) + 1, self.config.max_strokes if max_strokes is None else max_strokes)
        outs = self._decode(z, generator=generator, temperature=temperature, prefix=prefix, max_strokes=limit)
        centre, half = _unit_box(partial.points())
        return [self._to_bezier(t, label=partial.label, centre=centre, half=half, meta={"n_given": len(toks)})
                for t in outs]

    # ---------------------------------------------------------------- metrics
    @torch.no_grad()
    def evaluate(self, sketches: Sequence[Sketch], *, limit: int | None = 256,
                 points_per_stroke: int = 32) -> dict[str, float]:
        """Held-out metrics in normalised units.

        Returns:
            ``embed_mse``: mean squared error of the embedder's max-degree fit per stroke (stroke
            units); ``chamfer``: symmetric mean Chamfer distance between each sketch and its greedy
            reconstruction, both mapped to the sketch's unit box (larger side spans 2).
        """
        was = self.training
        self.eval()
        sketches = [s for s in sketches if s.num_strokes > 0 and not s.is_point_cloud][:limit]
        if not sketches:
            return {}
        strokes = [p for sk in sketches for s in sk.strokes for p in self._split(s)]
        pts, lengths, _, _ = self._prepare_strokes(strokes)
        emb = self.embed_batch(torch.from_numpy(pts), torch.from_numpy(lengths), degrees=[self.config.max_degree])
        embed_mse = float(emb.mse[self.config.max_degree].mean())
        recon = self.reconstruct(sketches)
        dists = []
        for sk, rec in zip(sketches, recon):
            centre, half = _unit_box(sk.points())
            a = np.concatenate([resample(s, points_per_stroke) for s in sk.strokes])
            a = (a - centre) / half
            if rec.num_curves == 0:
                continue
            b = (rec.to_sketch(points_per_stroke).points() - centre) / half
            dm = torch.cdist(torch.from_numpy(a), torch.from_numpy(b))
            dists.append(0.5 * (dm.min(1).values.mean() + dm.min(0).values.mean()).item())
        self.train(was)
        return {"embed_mse": embed_mse, "chamfer": float(np.mean(dists)) if dists else float("nan")}


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
        centre, half = _unit_box(sk.points())
        for s in sk.strokes:
            for p in _split_at_corners(s, config.split_angle, config.split_epsilon, config.split_turn):
                p = (p - centre) / half
                offs.append(np.diff(resample(p, config.max_degree + 1), axis=0).reshape(-1))
                starts.append(p[0])
    if not offs:
        raise ValueError("estimate_token_scales: no strokes in the given sketches")
    off = float(np.sqrt(np.mean(np.concatenate(offs) ** 2)))
    st = float(np.sqrt(np.mean(np.concatenate(starts) ** 2)))
    return config.replace(offset_scale=max(off, 1e-3), start_scale=max(st, 1e-3))
