"""BézierSketch: a stroke embedder (inverse graphics) plus an RNN generator over Bézier strokes.

Das, Yang, Hospedales, Xiang, Song. *BézierSketch: A generative model for scalable vector
sketches.* ECCV 2020 (arXiv 2007.02190).

Two stages, trained in order by :func:`sketchkit.train.train`:

1. **embedder** — inverse graphics: each stroke to its best-fit Bézier curve of degree
   ``min_degree..max_degree`` (:mod:`sketchkit.models.stroke_embedder`; refinement cost and gain
   measured in ``scripts/bench_embedder.py``, table in the shipped model's card).
2. **generator** — the frozen embedder turns every stroke into one token
   ``[dP_1..dP_d, P_0]`` (sketch normalised to a unit box, offsets divided by ``offset_scale`` and
   the absolute start point by ``start_scale``; :mod:`sketchkit.models.bezier_tokens`). A
   sequence-to-sequence VAE models the token sequence: BiLSTM encoder -> latent ``z``; LSTM decoder initialised from ``tanh(Linear(z))``;
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
from torch.nn.utils.rnn import pack_padded_sequence

from sketchkit.geometry.polyline import resample
from sketchkit.models import conditioning, overdraw
from sketchkit.models.base import ModelConfig, SketchModel, register_model
from sketchkit.models.base import NumberRange, check_sample_args
from sketchkit.models.bezier_tokens import CurveTokens, estimate_token_scales
from sketchkit.models.latent_prior import FittedPriorMixin
from sketchkit.models.causal_transformer import CausalTransformer
from sketchkit.models.sample_critic import SampleCriticMixin
from sketchkit.models.token_canvas import CanvasFeatures, TokenCurves
from sketchkit.models.stroke_embedder import EmbeddedStrokes, StrokeEmbedder, unit_box
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
                                                      "canvas_grid": NumberRange(0), "input_noise": NumberRange(0),
                                                      "critic_size": NumberRange(0)}

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
    critic_size: int = 0  # raster side (px) of the sample critic that sample(best_of=k) ranks draws by (0: none)
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


# ----------------------------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------------------------

@register_model
class BezierSketchModel(StrokeEmbedder, CurveTokens, conditioning.ClassConditional, FittedPriorMixin,
                        SampleCriticMixin, SketchModel):
    """BézierSketch stroke embedder + stroke-token VAE generator (see the module docstring).

    The embedder lives in :class:`~sketchkit.models.stroke_embedder.StrokeEmbedder`, the token
    conversion in :class:`~sketchkit.models.bezier_tokens.CurveTokens`; this class holds the
    generator, the training losses and the generation API."""

    config_class: ClassVar[type[ModelConfig]] = BezierSketchConfig
    stages: ClassVar[tuple[str, ...]] = ("embedder", "generator")

    def __init__(self, config: BezierSketchConfig) -> None:
        super().__init__(config)
        c = config
        if not 1 <= c.min_degree <= c.max_degree:
            raise ValueError(f"need 1 <= min_degree <= max_degree, got {c.min_degree}, {c.max_degree}")
        if c.max_stroke_points < 2:
            raise ValueError(f"max_stroke_points must be >= 2, got {c.max_stroke_points}")
        self._build_embedder(c)
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
        self._curve_points = TokenCurves(d, c.offset_scale, c.start_scale, samples=16)
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
        self.make_critic()


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
    def stage_parameters(self, stage: str) -> Iterable[nn.Parameter]:
        """Embedder parameters in ``"embedder"``; generator parameters (embedder frozen) otherwise."""
        if stage == "embedder":
            return [p for m in self._embedder_modules() for p in m.parameters()]
        if stage == "generator":
            mods = [self.encoder, self.to_latent, self.dec_init, self.decoder, self.head, self.class_embed]
            params = [p for m in mods if m is not None for p in m.parameters()]
            return params + ([self.dec_init_state] if self.dec_init_state is not None else [])
        raise ValueError(f"unknown stage {stage!r}; expected one of {self.stages}")

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
        B = tokens.shape[0]
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
        ll, stop_nll, cont_nll, mask, last = self._step_log_terms(self.dec_dropout(out), tokens, lengths)
        nll = -(ll * mask).sum() / mask.sum()
        stop = (stop_nll * mask).sum() / mask.sum()
        if cont_nll is not None:  # "the next token continues this stroke", wherever a next token exists
            inner = mask * (1.0 - last)
            stop = stop + (cont_nll * inner).sum() / inner.sum().clamp_min(1.0)
        kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1)).mean()
        w = self.kl_weight_at(step)
        # As in sketch-rnn: the penalty is on the KL averaged over latent dimensions, floored, so
        # it is on the scale of the per-token NLL and the latent keeps information.
        loss = nll + stop
        if self.config.latent_dim:
            loss = loss + w * torch.clamp(kl / self.config.latent_dim, min=self.config.kl_floor)
        return {"loss": loss, "nll": nll.detach(), "stop": stop.detach(), "kl": kl.detach(),
                "kl_weight": torch.tensor(w)}

    def _step_log_terms(self, h: torch.Tensor, tokens: torch.Tensor, lengths: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """Per step of the sequences ``tokens`` ``(B, L, seq_dim)`` (``lengths`` ``(B,)`` valid
        steps), given decoder features ``h`` ``(B, L, dec_hidden)``: the token log density, the
        stop bit's negative log-likelihood, the continue bit's (``None`` without ``join_pieces``),
        the valid-step mask and the last-step indicator, all ``(B, L)``."""
        steps = torch.arange(tokens.shape[1], device=tokens.device)[None]
        mask = (steps < lengths[:, None]).to(tokens.dtype)
        last = (steps == (lengths[:, None] - 1)).to(tokens.dtype)
        ll, bits = self.head.token_log_prob(h, tokens[..., :self.token_dim], self._continues(tokens))
        bce = nn.functional.binary_cross_entropy_with_logits
        stop_nll = bce(bits[..., 0], last, reduction="none")
        cont_nll = bce(bits[..., 1], tokens[..., -1], reduction="none") if self.config.join_pieces else None
        return ll, stop_nll, cont_nll, mask, last

    def _token_points(self, tokens: torch.Tensor) -> np.ndarray:
        """Tokens ``(B, >= token_dim)`` -> 16 points on each curve ``(B, 16, 2)`` (unit box; what
        ``max_overdraw`` compares)."""
        return self._curve_points.points(tokens.detach().cpu().float()).double().numpy()

    def _continues(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` bool: token continues the previous token's stroke (its start is that curve's end)."""
        cont = torch.zeros(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        if self.config.join_pieces:
            cont[:, 1:] = tokens[:, :-1, -1] > 0.5
        return cont

    def _decode(self, z: torch.Tensor, *, generator: torch.Generator | None, temperature: float,
                prefix: torch.Tensor | None = None, max_strokes: int | None = None,
                component_temperature: float | None = None, max_overdraw: float | None = None,
                overdraw_tries: int = 4) -> list[np.ndarray]:
        """Autoregressive decoding from conditions ``z`` ``(B, cond_dim)`` (see :meth:`_condition`);
        ``prefix`` ``(B, P, token_dim)`` is teacher-forced first (its tokens are part of the
        output). Temperature 0 is greedy; ``component_temperature`` as in :meth:`sample`."""
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
        on_paper = overdraw.DrawnInk(B) if max_overdraw is not None else None
        if on_paper is not None and n_prefix:
            prefix_continues = self._continues(prefix)
            for k in range(n_prefix):
                on_paper.add(prefix[:, k], prefix_continues[:, k], done, self._token_points)
        for _ in range(max(0, limit - n_prefix)):
            flag = z.new_full((B, 1), 1.0 if first else 0.0)
            parts = [prev, flag]
            if self.canvas is not None:
                parts += [self.canvas.occupancy(counts), prev_end]
            out, state = self.decoder(torch.cat(parts + [z], -1)[:, None], state)
            prev_cpu = prev.cpu()
            cont = (prev_cpu[:, -1] > 0.5) if self.config.join_pieces else torch.zeros(B, dtype=torch.bool)
            # A curve that continues the previous one's stroke starts where that one ended.
            tok, bit_logits = self.head.draw(out[:, 0], self._token_end(prev_cpu), cont, generator=generator,
                                             temperature=temperature,
                                             component_temperature=component_temperature)  # (B, T), CPU
            if max_overdraw is not None:
                tok = overdraw.redraw_over_ink(
                    tok, on_paper, cont, done, max_overdraw, overdraw_tries,
                    lambda rows: self.head.draw(out[rows, 0], self._token_end(prev_cpu[rows]), cont[rows],
                                                generator=generator, temperature=temperature,
                                                component_temperature=component_temperature)[0],
                    self._token_points)
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
            if max_overdraw is not None:
                on_paper.add(tok, cont, done, self._token_points)
            done = done | stop
            prev, first = tok.to(z.device), False
            if self.canvas is not None:
                ink, prev_end = self.canvas.ink(prev)
                counts = counts + ink
            if bool(done.all()):
                break
        return [np.stack(o) if o else np.zeros((0, self.seq_dim), np.float32) for o in outs]

    # ---------------------------------------------------------------- public generation API
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, temperature: float = 1.0,
               label: str | int | Sequence[str | int] | None = None,
               max_strokes: int | None = None, min_class_posterior: float = 0.0,
               tries: int = 8, latent_temperature: float = 1.0,
               component_temperature: float | None = None, best_of: int = 1,
               max_overdraw: float | None = None) -> list[BezierSketch]:
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
            component_temperature: ``> 0``, of the choice of mixture component alone (start point
                and shape); ``None`` (default) uses ``temperature`` for it, as sketch-rnn does. Set
                below ``temperature``, draws keep to the likeliest components, each with its
                ``temperature``-scaled spread.
            best_of: models with a sample critic (``critic_size > 0``, see
                :mod:`sketchkit.models.sample_critic`): draw each sample this many times (each
                draw as above, ``min_class_posterior`` included) and keep the draw the critic
                rates most like real drawings of its class. 1 (default) keeps the first draw.
            max_overdraw: in ``[0, 1]``: a curve with more than this share of its length on
                other strokes (within 4 % of the sketch) is drawn again, up to 4 draws, keeping
                the one that lies least on them (:mod:`sketchkit.models.overdraw`); ``None``
                (default) takes every curve as drawn.

        Returns:
            ``n`` ``BezierSketch`` of degree-``max_degree`` curves in the unit-box frame, each
            ``label``-ed with its class name (conditional models); with ``min_class_posterior``,
            ``meta["class_posterior"]`` holds the kept draw's posterior, with ``best_of > 1``
            ``meta["critic"]`` its critic log-odds.

        Raises:
            ValueError: bad ``n``/``temperature``, an unknown class (listing the known ones),
                ``label`` given to an unconditional model, ``min_class_posterior`` on a model
                that cannot compute it, or ``best_of > 1`` on a model without a critic.
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
        if component_temperature is not None and not 0.0 < component_temperature < float("inf"):
            raise ValueError(f"component_temperature: expected a finite number > 0, got {component_temperature!r}")
        self._check_best_of(best_of)
        overdraw.check_max_share(max_overdraw)
        classes = self._sample_classes(n, label, generator)
        z = torch.zeros(n, 0)
        if self.config.latent_dim:
            z = self.draw_latents(n, classes, generator=generator, temperature=latent_temperature)
        z = z.to(self.device, next(self.parameters()).dtype)
        cond = self._condition(z, classes, n)
        names = [None] * n if classes is None else [self.labels[int(i)] for i in classes]
        decode_kw = dict(generator=generator, temperature=temperature, max_strokes=max_strokes,
                         component_temperature=component_temperature, max_overdraw=max_overdraw)

        def draw() -> list[BezierSketch]:
            toks = self._decode(cond, **decode_kw)
            if min_class_posterior > 0:
                toks, post = self._redraw_by_posterior(toks, classes, cond, min_class_posterior, tries, **decode_kw)
                return [self._to_bezier(t, label=nm, meta={"class_posterior": p})
                        for t, nm, p in zip(toks, names, post)]
            return [self._to_bezier(t, label=nm) for t, nm in zip(toks, names)]

        return self.keep_best_of(draw, best_of)

    def _real_as_curves(self, sketches: Sequence[Sketch]) -> list[BezierSketch]:
        """Drawings as the curves their own tokens decode to (what a perfect generator draws), labelled."""
        return [self._to_bezier(t, label=s.label) for s, t in zip(sketches, self._sketch_tokens(sketches)) if len(t)]

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
        B, C = tokens.shape[0], self.num_classes
        rep = tokens.repeat_interleave(C, 0)  # (B * C, L, seq_dim): every sequence under every class
        classes = torch.arange(C, device=self.device).repeat(B)
        cond = self._condition(None, classes, B * C)
        h, _ = self.decoder(self._decoder_inputs(rep, cond), self._init_state(cond))
        ll, stop_nll, cont_nll, mask, last = self._step_log_terms(h, rep, lengths.repeat_interleave(C))  # (B * C, L)
        ll = ll - stop_nll
        if cont_nll is not None:
            ll = ll - cont_nll * (1.0 - last)
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
            centre, half = unit_box(sk.points())
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
                 max_strokes: int | None = None, max_overdraw: float | None = None) -> list[BezierSketch]:
        """Continue a partial sketch ``n`` times.

        The partial's strokes become tokens and are teacher-forced through the decoder from a latent
        drawn from the prior (or, with ``use_encoder=True``, the encoder's mean of the partial);
        then strokes are sampled until the stop bit fires or ``max_strokes``. A conditional model
        uses ``label`` (default: the partial's own label; random when it has none).
        ``max_overdraw`` as in :meth:`sample` (the partial's strokes count as drawn).

        Returns:
            ``n`` ``BezierSketch`` in the partial's coordinates; the first curves are the partial's
            own strokes (as fitted curves), ``meta["n_given"]`` says how many.
        """
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if partial.num_strokes == 0:
            raise ValueError("complete: the partial sketch has no strokes")
        overdraw.check_max_share(max_overdraw)
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
        outs = self._decode(z, generator=generator, temperature=temperature, prefix=prefix, max_strokes=limit,
                            max_overdraw=max_overdraw)
        centre, half = unit_box(partial.points())
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
            centre, half = unit_box(sk.points())
            a = np.concatenate([resample(s, points_per_stroke) for s in sk.strokes])
            a = (a - centre) / half
            if rec.num_curves == 0:
                continue
            b = (rec.to_sketch(points_per_stroke).points() - centre) / half
            dm = torch.cdist(torch.from_numpy(a), torch.from_numpy(b))
            dists.append(0.5 * (dm.min(1).values.mean() + dm.min(0).values.mean()).item())
        self.train(was)
        return {"embed_mse": embed_mse, "chamfer": float(np.mean(dists)) if dists else float("nan")}
