"""SketchODE: a sketch as a continuous-time curve, encoded by a Neural CDE and decoded by a
second-order Neural ODE (Das, Yang, Hospedales, Xiang, Song, ICLR 2022).

Data (``collate``): every sketch becomes one curve ``[x, y, pen]`` sampled at ``n_points`` times
in ``[0, 1]`` (strokes joined by straight pen-up segments, time proportional to arc length; see
:func:`sketchkit.models.ode_parts.sketch_to_sequence`), first point at the origin, divided by
the largest point norm. Inside the model time is scaled by ``time_scale``.

Encoder: a Neural CDE over a natural cubic spline of ``[x, y, pen, t]`` (or a BiLSTM), max-pooled
over time -> latent ``z`` (optionally a VAE head).
Decoder: ``p'' = a(t, p', z)`` with state ``[p, p']`` in ``ode_dim`` dimensions, initial state a
linear function of ``z``, solved by torchdiffeq (``rk4`` with a fixed step, or ``dopri5``;
adjoint optional); a linear readout gives ``x, y`` and the pen logit. Because the decoder is an
ODE, it can be queried at any number of time points (resolution-free).
Loss: smooth-L1 on ``x, y`` + Bernoulli NLL on the pen (computed from logits, so it never takes
``log(0)``) + annealed KL for the VAE head.

Class conditioning: when ``config.labels`` names two or more classes (``config_for_data`` fills
it from the training sketches' labels if ``conditional``), a learned class embedding joins the
latent wherever the decoder reads it (initial state and dynamics: the decoder's condition is
``[z, embedding]``) and is added, through a linear map, to the encoder's pooled summary (the
same as concatenating it before the encoder's linear readout). ``sample``/``decode`` take a
``label``; ``model.labels`` lists the class names (empty for an unconditional model). An
unconditional model has exactly the parameters it had before conditioning existed.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sketchkit.models import conditioning
from sketchkit.models.base import ModelConfig, SketchModel, check_sample_args, register_model
from sketchkit.models.latent_prior import FittedPriorMixin
from sketchkit.models.ode_parts import (
    DYNAMICS,
    BiLSTMEncoder,
    CDEEncoder,
    SecondOrderField,
    augment_sequence,
    chamfer_distance,
    make_dynamics,
    point_chamfer,
    sequence_to_sketch,
    sketch_to_sequence,
    solve_second_order,
)
from sketchkit.sketch import Sketch

__all__ = ["SketchODEConfig", "SketchODEModel"]


@dataclasses.dataclass(frozen=True)
class SketchODEConfig(ModelConfig):
    """Hyperparameters of SketchODE (defaults follow the public code where it has one)."""

    family = "sketchode"

    # -- data -----------------------------------------------------------------------------------
    n_points: int = 100  # samples per sketch curve in training (public: 100)
    penup_min_spacing: float = 2.0  # a pen-up jump spans at least this many sample spacings
    time_scale: float = 5.0  # model time = t * time_scale, t in [0, 1] (public: 5)
    augment: bool = True  # continuous-time augmentation in collate when a generator is given
    augment_level: float = 0.2  # max noise displacement per coordinate, normalised units (public: 0.2)
    augment_cells: int = 3  # Perlin lattice cells over the curve (more = wigglier noise)
    augment_prob: float = 0.5  # fraction of sketches in a batch that get noise (rest stay clean)
    # -- encoder --------------------------------------------------------------------------------
    encoder: str = "cde"  # "cde" (Neural CDE over a natural cubic spline) or "bilstm" (baseline)
    encoder_hidden: int = 64  # CDE state size / LSTM hidden size per direction (public: 64)
    encoder_widths: tuple[int, ...] = (32, 32)  # hidden widths of the CDE vector-field MLP (public)
    latent_dim: int = 48  # size of z (public: 48)
    vae: bool = True  # VAE head (mean, log-variance) so that sampling from the prior is meaningful
    kl_weight: float = 1e-4  # weight of the KL term (summed over latent dims) after annealing
    kl_anneal_steps: int = 2000  # KL weight ramps linearly from 0 over this many steps
    fitted_prior: bool = False  # sample from Gaussians fitted per class to the training codes (see latent_prior)
    prior_components: int = 1  # fitted prior: Gaussians per class (k-means clusters of its codes)
    # -- decoder --------------------------------------------------------------------------------
    ode_dim: int = 16  # size of the ODE position (and velocity) state
    dynamics: str = "periodic_mlp"  # dynamics family, a key of ode_parts.DYNAMICS
    dynamics_hidden: int = 64  # hidden width of the dynamics network
    frequency: float = 3.0  # periodic_mlp: w in cos(w x) (public: 3.0)
    learn_frequency: bool = False  # periodic_mlp: make w a trained parameter
    n_basis: int = 8  # fourier / legendre: number of basis functions of time
    solver: str = "rk4"  # torchdiffeq method: "rk4" (fixed step, public) or "dopri5" (adaptive)
    step_size: float | None = None  # rk4 step in model time; None = one step per training sample spacing
    rtol: float = 1e-3  # dopri5 relative tolerance
    atol: float = 1e-4  # dopri5 absolute tolerance
    adjoint: bool = False  # backprop with torchdiffeq.odeint_adjoint (O(1) memory in steps)
    # -- loss -----------------------------------------------------------------------------------
    smooth_l1_beta: float = 0.05  # smooth-L1 transition point, normalised units
    pen_weight: float = 1.0  # weight of the pen Bernoulli NLL
    chamfer_weight: float = 0.0  # weight of a time-free shape term: symmetric Chamfer of the decoded points
    pen_threshold: float = 0.5  # pen probability at/above which a decoded point is pen-up
    # -- conditioning ---------------------------------------------------------------------------
    conditional: bool = True  # condition encoder and decoder on sketch labels when the training data has >= 2
    labels: tuple[str, ...] = ()  # class names, index = class id (set from the data; empty: unconditional)
    class_dim: int = 16  # size of the learned class embedding

    def __post_init__(self) -> None:
        if self.n_points < 2:
            raise ValueError(f"n_points: expected >= 2, got {self.n_points}")
        if self.encoder not in ("cde", "bilstm"):
            raise ValueError(f"encoder: expected 'cde' or 'bilstm', got {self.encoder!r}")
        if self.dynamics not in DYNAMICS:
            raise ValueError(f"dynamics: expected one of {sorted(DYNAMICS)}, got {self.dynamics!r}")
        if self.time_scale <= 0:
            raise ValueError(f"time_scale: expected > 0, got {self.time_scale}")
        if not self.chamfer_weight >= 0:
            raise ValueError(f"chamfer_weight: expected >= 0, got {self.chamfer_weight}")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels: expected distinct class names, got {list(self.labels)}")


@register_model
class SketchODEModel(conditioning.ClassConditional, FittedPriorMixin, SketchModel):
    """SketchODE autoencoder (optionally VAE) over continuous-time sketch curves."""

    config_class = SketchODEConfig

    def __init__(self, config: SketchODEConfig) -> None:
        super().__init__(config)
        c = config
        enc_out = 2 * c.latent_dim if c.vae else c.latent_dim
        if c.encoder == "cde":
            self.encoder = CDEEncoder(4, c.encoder_hidden, tuple(c.encoder_widths), enc_out)
        else:
            self.encoder = BiLSTMEncoder(4, c.encoder_hidden, enc_out)
        self.num_classes = len(c.labels) if len(c.labels) >= 2 else 0
        # the decoder's condition: z, plus the class embedding for a conditional model
        self.cond_dim = c.latent_dim + (c.class_dim if self.num_classes else 0)
        if self.num_classes:
            self.class_embed = nn.Embedding(self.num_classes, c.class_dim)
            self.class_to_summary = nn.Linear(c.class_dim, enc_out, bias=False)  # added to the encoder output
        else:
            self.class_embed = self.class_to_summary = None
        self.initial_state = nn.Linear(self.cond_dim, 2 * c.ode_dim)  # condition -> [p0, v0]
        dynamics = make_dynamics(c.dynamics, c.ode_dim, self.cond_dim, c.dynamics_hidden,
                                 frequency=c.frequency, learn_frequency=c.learn_frequency,
                                 n_basis=c.n_basis)
        self.field = SecondOrderField(dynamics, c.ode_dim, c.time_scale)
        self.readout = nn.Linear(c.ode_dim, 3)  # p -> x, y, pen logit
        self.make_prior(self.num_classes, c.latent_dim)

    # -- classes --------------------------------------------------------------------------------

    def _condition(self, z: torch.Tensor, classes: torch.Tensor | None) -> torch.Tensor:
        """Decoder condition ``(B, cond_dim)``: ``z`` and, for a conditional model, the class embedding."""
        return conditioning.join_class(z, classes, self.class_embed if self.num_classes else None, self.labels)

    @classmethod
    def config_for_data(cls, config: SketchODEConfig, sketches: Sequence[Sketch]) -> SketchODEConfig:
        """For a ``conditional`` config without ``labels``: the sorted class names of the training
        sketches (only when there are two or more; otherwise the model stays unconditional)."""
        return conditioning.with_data_labels(config, sketches)

    # -- data -----------------------------------------------------------------------------------
    @property
    def step_size(self) -> float:
        """rk4 step in model time (config value, or one training sample spacing)."""
        c = self.config
        return c.step_size if c.step_size is not None else c.time_scale / (c.n_points - 1)

    def sequences(self, sketches: Sequence[Sketch], *, n_points: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normalised curves of ``sketches``: ``(B, n, 3)`` ``[x, y, pen]``, offsets ``(B, 2)``, scales ``(B,)``."""
        n = n_points or self.config.n_points
        if len(sketches) == 0:
            raise ValueError("sketches: expected at least one sketch, got none")
        seqs, offsets, scales = [], [], []
        for i, sk in enumerate(sketches):
            try:
                seq, off, sc = sketch_to_sequence(sk, n, penup_min_spacing=self.config.penup_min_spacing)
            except ValueError as exc:
                raise ValueError(f"sketch {i}: {exc}") from None
            seqs.append(seq)
            offsets.append(off)
            scales.append(sc)
        return np.stack(seqs), np.stack(offsets), np.asarray(scales)

    def collate(self, sketches: Sequence[Sketch], *, stage: str = "main",
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Batch: ``points`` ``(B, n_points, 3)`` [x, y, pen], ``times`` ``(n_points,)`` in [0, 1],
        ``eps`` ``(B, latent_dim)`` reparameterisation noise (zeros without a generator), and for a
        conditional model ``classes`` ``(B,)`` (every sketch needs a known label).

        With a generator, ``augment`` on and the model in training mode, a fraction ``augment_prob`` of the curves get smooth
        noise of level ``augment_level`` (:func:`~sketchkit.models.ode_parts.augment_sequence`).
        """
        c = self.config
        classes = self._class_ids([s.label for s in sketches])
        seqs, _, _ = self.sequences(sketches)
        if generator is not None and c.augment and c.augment_level > 0 and self.training:
            seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
            rng = np.random.default_rng(seed)
            for i in range(len(seqs)):
                if rng.random() < c.augment_prob:
                    seqs[i] = augment_sequence(seqs[i], level=c.augment_level, cells=c.augment_cells, generator=rng)
        if generator is not None:
            eps = torch.randn(len(seqs), c.latent_dim, generator=generator)
        else:
            eps = torch.zeros(len(seqs), c.latent_dim)
        batch = {
            "points": torch.as_tensor(seqs, dtype=torch.float32),
            "times": torch.linspace(0.0, 1.0, c.n_points),
            "eps": eps,
        }
        if classes is not None:
            batch["classes"] = classes
        return batch

    # -- networks -------------------------------------------------------------------------------
    def _encode_tensor(self, points: torch.Tensor, times: torch.Tensor, classes: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(B, n, 3)`` curves at ``(n,)`` times (and ``(B,)`` class ids for a conditional model)
        -> mean ``(B, latent)`` and log-variance (or None)."""
        x = torch.cat([points, times.expand(points.shape[0], -1).unsqueeze(-1)], dim=-1)  # (B, n, 4)
        h = self.encoder(x, times)  # (B, enc_out)
        if self.num_classes:
            if classes is None:
                raise ValueError(f"a conditional model needs class ids (known classes: {', '.join(self.labels)})")
            h = h + self.class_to_summary(self.class_embed(classes.to(h.device)))
        if self.config.vae:
            mu, logvar = h.chunk(2, dim=-1)
            return mu, logvar.clamp(-10.0, 10.0)
        return h, None

    def decode_tensor(self, z: torch.Tensor, t: torch.Tensor, *, frequency: float | None = None,
                      classes: torch.Tensor | None = None) -> torch.Tensor:
        """Decode latents at times ``t``: ``(B, latent)``, ``(m,)`` in [0, 1] -> ``(B, m, 3)``
        ``[x, y, pen_logit]`` (normalised units). Differentiable; any ``m >= 1``. A conditional
        model needs ``classes`` ``(B,)`` (class ids); an unconditional one refuses them."""
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"z: expected shape (batch, {self.config.latent_dim}), got {tuple(z.shape)}")
        if t.dim() != 1 or t.shape[0] < 1:
            raise ValueError(f"t: expected shape (m,), got {tuple(t.shape)}")
        return self._decode_condition(self._condition(z, classes), t, frequency=frequency)

    def _decode_condition(self, cond: torch.Tensor, t: torch.Tensor, *, frequency: float | None = None) -> torch.Tensor:
        """:meth:`decode_tensor` from the full decoder condition ``(B, cond_dim)``."""
        c = self.config
        p0, v0 = self.initial_state(cond).chunk(2, dim=-1)  # (B, ode_dim) each
        self.field.frequency = frequency
        try:
            pos, _ = solve_second_order(self.field, p0, v0, cond, t * c.time_scale, method=c.solver,
                                        step_size=self.step_size, rtol=c.rtol, atol=c.atol,
                                        adjoint=c.adjoint and self.training)
        finally:
            self.field.frequency = None
        return self.readout(pos).transpose(0, 1)  # (m, B, ode_dim) -> (B, m, 3)

    # -- training -------------------------------------------------------------------------------
    def loss(self, batch: dict[str, torch.Tensor], *, step: int = 0, stage: str = "main") -> dict[str, torch.Tensor]:
        """Smooth-L1 on x, y + pen Bernoulli NLL + annealed KL (VAE head)."""
        c = self.config
        dev = self.device
        dtype = self._dtype()
        points, times = batch["points"].to(dev, dtype), batch["times"].to(dev, dtype)
        classes = batch.get("classes")
        if self.num_classes and classes is None:
            raise ValueError("a conditional model needs 'classes' in the batch")
        mu, logvar = self._encode_tensor(points, times, classes)
        if c.vae:
            eps = batch.get("eps")
            eps = torch.zeros_like(mu) if eps is None else eps.to(dev, mu.dtype)
            z = mu + eps * torch.exp(0.5 * logvar)
            kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=-1)).mean()
        else:
            z, kl = mu, torch.zeros((), device=dev)
        out = self.decode_tensor(z, times, classes=classes)  # (B, n, 3)
        recon_total, terms = self._reconstruction_loss(out, points)
        kl_w = c.kl_weight * min(1.0, step / max(c.kl_anneal_steps, 1)) if c.vae else 0.0
        return {"loss": recon_total + kl_w * kl, **terms, "kl": kl.detach()}

    def _reconstruction_loss(self, out: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Smooth-L1 on x, y + ``pen_weight`` x pen NLL (+ ``chamfer_weight`` x the Chamfer shape
        term) of decoded ``out`` against ``points`` (both ``(B, n, 3)``); the total and its detached terms."""
        c = self.config
        recon = F.smooth_l1_loss(out[..., :2], points[..., :2], beta=c.smooth_l1_beta)
        pen_nll = F.binary_cross_entropy_with_logits(out[..., 2], points[..., 2])
        total = recon + c.pen_weight * pen_nll
        terms = {"recon": recon.detach(), "pen_nll": pen_nll.detach()}
        if c.chamfer_weight > 0:
            shape = point_chamfer(out[..., :2], points[..., :2])
            total = total + c.chamfer_weight * shape
            terms["chamfer"] = shape.detach()
        return total, terms

    # -- public API -----------------------------------------------------------------------------
    def _times(self, n_points: int | None) -> torch.Tensor:
        n = n_points or self.config.n_points
        if n < 1:
            raise ValueError(f"n_points: expected >= 1, got {n}")
        return torch.linspace(0.0, 1.0, n, device=self.device, dtype=self._dtype())

    def _dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def _to_sketches(self, out: torch.Tensor, offsets=None, scales=None, labels=None) -> list[Sketch]:
        arr = out.detach().to("cpu", torch.float64).numpy().copy()
        arr[..., 2] = 1.0 / (1.0 + np.exp(-arr[..., 2]))  # pen probability
        res = []
        for i in range(arr.shape[0]):
            res.append(sequence_to_sketch(
                arr[i], pen_threshold=self.config.pen_threshold,
                offset=(0.0, 0.0) if offsets is None else offsets[i],
                scale=1.0 if scales is None else float(scales[i]),
                label=None if labels is None else labels[i]))
        return res


    def _names(self, classes: torch.Tensor | None, n: int) -> list[str | None]:
        return [None] * n if classes is None else [self.labels[int(i)] for i in classes]

    def _conditions(self, sketches: Sequence[Sketch], *, batch_size: int = 256, seqs: np.ndarray | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Posterior means ``(B, latent_dim)`` of ``sketches`` and their class ids (or None);
        ``seqs``: their :meth:`sequences`, when the caller has them already."""
        if seqs is None:
            seqs, _, _ = self.sequences(sketches)
        classes = self._class_ids([s.label for s in sketches])  # conditional: every sketch needs a known label
        times = self._times(None)
        zs = []
        for i in range(0, len(seqs), batch_size):
            pts = torch.as_tensor(seqs[i: i + batch_size], dtype=self._dtype(), device=self.device)
            cls = None if classes is None else classes[i: i + batch_size]
            zs.append(self._encode_tensor(pts, times, cls)[0])
        return torch.cat(zs), classes

    @torch.no_grad()
    def encode(self, sketches: Sequence[Sketch], *, batch_size: int = 256) -> torch.Tensor:
        """Latent codes (VAE: the means) of ``sketches`` -> ``(B, latent_dim)`` on the model's device.

        A conditional model reads each sketch's label too (unknown or missing labels: ValueError).
        """
        return self._conditions(sketches, batch_size=batch_size)[0]

    @torch.no_grad()
    def decode(self, z: torch.Tensor, t: torch.Tensor | None = None, *, n_points: int | None = None,
               frequency: float | None = None, label: str | int | Sequence[str | int] | None = None,
               generator: torch.Generator | None = None) -> list[Sketch]:
        """Decode latents to sketches in normalised units (first point at the origin).

        Args:
            z: ``(B, latent_dim)`` latents.
            t: ``(m,)`` times in [0, 1] to query, or None for ``n_points`` evenly spaced times
                (default ``config.n_points``); any number works (resolution-free decoding).
            frequency: decode-time override of the dynamics' frequency (periodic_mlp: ``w`` in
                ``cos(w x)``, smaller = smoother; fourier/legendre: number of basis terms kept).
            label: conditional models: one class (name or index) for every latent, or one per
                latent; ``None`` draws classes uniformly with ``generator``. Must be ``None`` for
                an unconditional model.

        Returns:
            ``B`` sketches, split into strokes where the pen probability is below the threshold,
            ``label``-ed with their class name (conditional models).
        """
        if t is None:
            t = self._times(n_points)
        t = torch.as_tensor(t, dtype=self._dtype(), device=self.device)
        classes = conditioning.sample_classes(self.labels, z.shape[0], label, generator)
        out = self.decode_tensor(z.to(self.device, self._dtype()), t, frequency=frequency, classes=classes)
        return self._to_sketches(out, labels=self._names(classes, z.shape[0]))

    def refine_latents(self, z: torch.Tensor, points: torch.Tensor, times: torch.Tensor,
                       classes: torch.Tensor | None = None, *, steps: int = 30, lr: float = 0.05) -> torch.Tensor:
        """Move encoder codes towards the codes that decode best: ``steps`` Adam steps on ``z`` alone
        against the training reconstruction loss (smooth-L1 on x, y + ``pen_weight`` x pen NLL, plus
        ``chamfer_weight`` x the Chamfer shape term where the model was trained with it).

        The encoder's code is an amortised guess; a few gradient steps per sketch close part of
        that gap. The weights are not touched (gradients are taken with respect to ``z`` only).

        Args:
            z: ``(B, latent_dim)`` starting codes (the encoder's means).
            points: ``(B, n, 3)`` the normalised curves they encode.
            times: ``(n,)`` their times in [0, 1].
            classes: ``(B,)`` class ids (conditional models).
            steps: Adam steps (``>= 0``).
            lr: Adam step size (latent units).

        Returns:
            ``(B, latent_dim)`` refined codes.
        """
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        code = z.detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([code], lr=lr)
        with torch.enable_grad():
            for _ in range(steps):
                loss, _ = self._reconstruction_loss(self.decode_tensor(code, times, classes=classes), points)
                (code.grad,) = torch.autograd.grad(loss, code)
                opt.step()
        return code.detach()

    def _codes(self, pts: torch.Tensor, times: torch.Tensor, classes: torch.Tensor | None,
               refine_steps: int) -> torch.Tensor:
        z = self._encode_tensor(pts, times, classes)[0]
        return self.refine_latents(z, pts, times, classes, steps=refine_steps) if refine_steps else z

    @torch.no_grad()
    def reconstruct(self, sketches: Sequence[Sketch], *, n_points: int | None = None,
                    frequency: float | None = None, refine_steps: int = 0) -> list[Sketch]:
        """Encode and decode ``sketches``; results are mapped back to each input's frame and units.

        A conditional model decodes each sketch in its own (labelled) class. ``refine_steps > 0``
        first improves each code by gradient steps on its own reconstruction
        (:meth:`refine_latents`).
        """
        seqs, offsets, scales = self.sequences(sketches)
        z, classes = self._conditions(sketches, seqs=seqs)
        if refine_steps:
            pts = torch.as_tensor(seqs, dtype=self._dtype(), device=self.device)
            z = self.refine_latents(z, pts, self._times(None), classes, steps=refine_steps)
        out = self.decode_tensor(z, self._times(n_points), frequency=frequency, classes=classes)
        return self._to_sketches(out, offsets, scales, [s.label for s in sketches])

    @torch.no_grad()
    def interpolate(self, a: Sketch, b: Sketch, steps: int = 8, *, n_points: int | None = None) -> list[Sketch]:
        """Decode ``steps`` latents evenly spaced on the line from ``encode(a)`` to ``encode(b)``
        (both ends included), in normalised units. A conditional model interpolates the class
        embeddings of ``a`` and ``b`` along with the latents."""
        if steps < 2:
            raise ValueError(f"steps: expected >= 2, got {steps}")
        z, classes = self._conditions([a, b])
        cond = self._condition(z, classes)
        w = torch.linspace(0.0, 1.0, steps, device=self.device, dtype=cond.dtype)[:, None]
        out = self._decode_condition((1 - w) * cond[:1] + w * cond[1:], self._times(n_points))
        name = a.label if self.num_classes and a.label == b.label else None
        return self._to_sketches(out, labels=[name] * steps)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, temperature: float = 1.0,
               n_points: int | None = None, frequency: float | None = None,
               label: str | int | Sequence[str | int] | None = None) -> list[Sketch]:
        """Decode ``n`` latents drawn from the prior (normalised units).

        The prior is ``N(0, temperature^2 I)``, or, for a ``fitted_prior`` model once
        :meth:`fit_prior` has run (training runs it), the Gaussian fitted to the training codes of
        each sketch's class with its standard deviation scaled by ``temperature``. The standard
        normal is meaningful for ``vae=True`` models only; the fitted prior for any.

        Args:
            n: number of sketches (>= 1).
            generator: torch generator for the classes (drawn first) and ``z``.
            temperature: standard deviation of the prior draws (0: the prior mean).
            label: conditional models: one class (name or index) for all ``n`` sketches, or a
                sequence of ``n`` classes; ``None`` draws classes uniformly. Must be ``None`` for
                an unconditional model.

        Returns:
            ``n`` sketches, each ``label``-ed with its class name (conditional models).

        Raises:
            ValueError: bad ``n``/``temperature``, an unknown class (listing the known ones), or
                ``label`` given to an unconditional model.
        """
        check_sample_args(n, temperature)
        classes = conditioning.sample_classes(self.labels, n, label, generator)
        z = self.draw_latents(n, classes, generator=generator, temperature=temperature)
        t = self._times(n_points)
        out = self.decode_tensor(z.to(self.device, self._dtype()), t, frequency=frequency, classes=classes)
        return self._to_sketches(out, labels=self._names(classes, n))

    _posterior_means = _conditions  # what FittedPriorMixin fits the prior to

    @torch.no_grad()
    def sample_around(self, sketch: Sketch, n: int, *, generator: torch.Generator | None = None,
                      scale: float = 0.3, n_points: int | None = None) -> list[Sketch]:
        """Decode ``n`` latents ``encode(sketch) + scale * N(0, I)`` (normalised units; a
        conditional model keeps the sketch's class)."""
        z, classes = self._conditions([sketch])
        noise = torch.randn(n, self.config.latent_dim, generator=generator).to(z)
        classes = None if classes is None else classes.expand(n)
        out = self.decode_tensor(z + scale * noise, self._times(n_points), classes=classes)
        return self._to_sketches(out, labels=self._names(classes, n))

    @torch.no_grad()
    def evaluate(self, sketches: Sequence[Sketch], *, batch_size: int = 256,
                 limit: int | None = None, refine_steps: int = 0) -> dict[str, float]:
        """Reconstruction quality in normalised units (largest point norm = 1) of the first
        ``limit`` sketches (all when None); ``refine_steps``: as in :meth:`reconstruct`.

        Returns:
            ``chamfer``: mean symmetric Chamfer distance between the pen-down points of the input
            curve and of its reconstruction (``n_points`` each; all reconstructed points are used
            when none is pen-down); ``chamfer_bbox``: the same distance divided by the larger side
            of the input's bounding box (the frame of the issue's targets); ``pen_accuracy``:
            fraction of samples with the right pen state; ``l1``: mean absolute x/y error at equal
            times.
        """
        sketches = list(sketches)[:limit]
        seqs, _, _ = self.sequences(sketches)
        classes = self._class_ids([s.label for s in sketches])
        times = self._times(None)
        chamfers, boxed, pen_ok, l1 = [], [], [], []
        for i in range(0, len(seqs), batch_size):
            pts = torch.as_tensor(seqs[i: i + batch_size], dtype=self._dtype(), device=self.device)
            cls = None if classes is None else classes[i: i + batch_size]
            z = self._codes(pts, times, cls, refine_steps)
            out = self.decode_tensor(z, times, classes=cls)
            pen_pred = torch.sigmoid(out[..., 2]) >= self.config.pen_threshold
            pen_ok.append((pen_pred == (pts[..., 2] >= 0.5)).float().mean(dim=1))
            l1.append((out[..., :2] - pts[..., :2]).abs().mean(dim=(1, 2)))
            for j in range(pts.shape[0]):
                target = pts[j, pts[j, :, 2] < 0.5, :2]
                pred = out[j, ~pen_pred[j], :2]
                if pred.shape[0] == 0:
                    pred = out[j, :, :2]
                if target.shape[0] == 0:
                    target = pts[j, :, :2]
                chamfers.append(float(chamfer_distance(target, pred)))
                side = float((pts[j, :, :2].amax(0) - pts[j, :, :2].amin(0)).max())
                boxed.append(chamfers[-1] / max(side, 1e-9))
        return {
            "chamfer": float(np.mean(chamfers)),
            "chamfer_bbox": float(np.mean(boxed)),
            "pen_accuracy": float(torch.cat(pen_ok).mean()),
            "l1": float(torch.cat(l1).mean()),
        }
