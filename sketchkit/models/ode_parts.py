"""Building blocks of SketchODE (Das et al., ICLR 2022): data sequences, spline, CDE, ODE solves.

Everything here is family-internal plumbing for :mod:`sketchkit.models.sketch_ode`, kept in one
module so each piece can be tested on its own:

* :func:`sketch_to_sequence` / :func:`sequence_to_sketch` — a ``Sketch`` as one continuous-time
  curve ``[x, y, pen]`` (pen 1 on the straight pen-up jumps between strokes) and back.
* :func:`perlin_noise` / :func:`augment_sequence` — the paper's continuous-time augmentation:
  smooth gradient (Perlin-like) noise added to the curve, bounded by a level.
* :class:`NaturalCubicSpline` — batched natural cubic spline interpolation (the control path of
  the Neural CDE), with first and second derivatives.
* :class:`CDEEncoder` / :class:`BiLSTMEncoder` — sequence encoders returning a feature vector.
* :data:`DYNAMICS` + :func:`register_dynamics` — name -> class registry of decoder dynamics
  families (``"periodic_mlp"``, ``"fourier"``, ``"legendre"``); adding one is one class.
* :func:`solve_second_order` — integrates ``p'' = a(t, p, p', z)`` with :mod:`torchdiffeq`.

Why not torchcde: the spline (tridiagonal solve) and the CDE vector field are ~80 lines on top of
``torchdiffeq`` (already a dependency for the decoder), tested here against scipy; this keeps
one ODE library and no extra package to pin against torch releases.
"""

from __future__ import annotations

import math
from typing import Callable, ClassVar

import numpy as np
import torch
from torch import nn

from sketchkit.sketch import Sketch

__all__ = [
    "sketch_to_sequence",
    "sequence_to_sketch",
    "perlin_noise",
    "augment_sequence",
    "NaturalCubicSpline",
    "CDEEncoder",
    "BiLSTMEncoder",
    "Dynamics",
    "DYNAMICS",
    "register_dynamics",
    "make_dynamics",
    "SecondOrderField",
    "solve_second_order",
    "chamfer_distance",
]


# ----------------------------------------------------------------------------------------------
# Sketch <-> continuous-time sequence
# ----------------------------------------------------------------------------------------------
def sketch_to_sequence(sketch: Sketch, n_points: int, *, penup_min_spacing: float = 2.0
                       ) -> tuple[np.ndarray, np.ndarray, float]:
    """One continuous-time curve for a sketch: strokes joined by straight pen-up segments.

    The strokes are chained in drawing order; the last point of stroke ``i`` is joined to the
    first point of stroke ``i + 1`` by a straight segment with pen = 1 (pen = 0 while drawing).
    The chained path is resampled at ``n_points`` positions evenly spaced in *effective* arc
    length, and sample ``j`` gets time ``t_j = j / (n_points - 1)``: time is proportional to arc
    length, except that every pen-up jump counts at least ``penup_min_spacing`` sample spacings
    long, so even a short jump between strokes receives an interior pen-up sample.
    The curve is then translated so its first point is the origin and divided by its largest
    point norm (SketchODE's normalisation).

    Args:
        sketch: an ordered (not point-cloud) sketch with at least one point.
        n_points: number of samples, ``>= 2``.
        penup_min_spacing: minimum effective length of a pen-up jump, in sample spacings.

    Returns:
        ``(seq, offset, scale)``: ``seq`` ``(n_points, 3)`` float64 ``[x, y, pen]`` in normalised
        units; ``offset`` ``(2,)`` and ``scale`` (float) such that
        ``original = seq[:, :2] * scale + offset``.

    Raises:
        ValueError: point-cloud or empty sketch, or ``n_points < 2``.
    """
    if n_points < 2:
        raise ValueError(f"n_points: expected >= 2, got {n_points}")
    if sketch.is_point_cloud:
        raise ValueError("SketchODE needs ordered strokes; got a point-cloud sketch (no drawing order)")
    strokes = [s for s in sketch.strokes if s.shape[0] > 0]
    if not strokes:
        raise ValueError("cannot make a sequence from an empty sketch (no points)")
    verts = np.concatenate(strokes, axis=0)  # (V, 2)
    if verts.shape[0] == 1:
        seq = np.zeros((n_points, 3))
        return seq, verts[0].copy(), 1.0
    # segment k joins verts[k] -> verts[k+1]; it is a pen-up jump when it crosses a stroke boundary
    ends = np.cumsum([s.shape[0] for s in strokes])[:-1]  # index of first vertex of strokes 1..
    penup = np.zeros(verts.shape[0] - 1, dtype=bool)
    penup[ends - 1] = True
    lengths = np.linalg.norm(np.diff(verts, axis=0), axis=1)  # (V-1,)
    if lengths.sum() <= 0:
        lengths = np.ones_like(lengths)
    eff = lengths.copy()
    if penup.any() and penup_min_spacing > 0:
        # a jump's effective length is max(L, m h) with h = total / (n - 1): find the set of
        # clamped jumps and h exactly (m capped so clamped jumps take at most half the samples)
        m = min(penup_min_spacing, 0.5 * (n_points - 1) / int(penup.sum()))
        clamped = np.zeros_like(penup)
        for _ in range(int(penup.sum()) + 1):
            h = lengths[~clamped].sum() / (n_points - 1 - m * clamped.sum())
            new = penup & (lengths < m * h)
            if np.array_equal(new, clamped):
                break
            clamped = new
        eff = np.where(clamped, m * h, lengths)
    cum = np.concatenate([[0.0], np.cumsum(eff)])  # (V,)
    s = np.linspace(0.0, cum[-1], n_points)
    idx = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(eff) - 1)
    seg = eff[idx]
    frac = np.where(seg > 0, (s - cum[idx]) / np.where(seg > 0, seg, 1.0), 0.0)
    frac = np.clip(frac, 0.0, 1.0)
    pos = verts[idx] + frac[:, None] * (verts[idx + 1] - verts[idx])
    pen = (penup[idx] & (frac > 1e-9) & (frac < 1 - 1e-9)).astype(np.float64)
    offset = pos[0].copy()
    pos = pos - offset
    scale = float(np.linalg.norm(pos, axis=1).max())
    if scale <= 0:
        scale = 1.0
    seq = np.concatenate([pos / scale, pen[:, None]], axis=1)
    return seq, offset, scale


def sequence_to_sketch(seq: np.ndarray, *, pen_threshold: float = 0.5, offset=(0.0, 0.0),
                       scale: float = 1.0, label: str | None = None) -> Sketch:
    """Split a ``[x, y, pen]`` curve into strokes: runs of points with ``pen < pen_threshold``.

    Args:
        seq: ``(n, 3)`` curve; column 2 is the pen-up probability (or flag).
        pen_threshold: points at or above it are pen-up and dropped.
        offset, scale: map back to a frame: ``points * scale + offset``.
        label: label of the returned sketch.

    Returns:
        A ``Sketch`` (possibly with no strokes when every point is pen-up).
    """
    seq = np.asarray(seq, dtype=np.float64)
    if seq.ndim != 2 or seq.shape[1] != 3:
        raise ValueError(f"seq: expected shape (n, 3), got {seq.shape}")
    down = seq[:, 2] < pen_threshold
    pts = seq[:, :2] * scale + np.asarray(offset, dtype=np.float64)
    strokes, start = [], None
    for i, d in enumerate(np.append(down, False)):
        if d and start is None:
            start = i
        elif not d and start is not None:
            strokes.append(pts[start:i])
            start = None
    return Sketch(strokes, label=label)


# ----------------------------------------------------------------------------------------------
# Continuous-time augmentation
# ----------------------------------------------------------------------------------------------
def perlin_noise(t: np.ndarray, channels: int, *, cells: int, generator: np.random.Generator) -> np.ndarray:
    """1-D gradient (Perlin) noise on ``[0, 1]``, one independent curve per channel.

    The interval is cut into ``cells`` cells; each lattice point ``k`` gets a random gradient
    ``g_k ~ U[-1, 1]``; inside a cell with local coordinate ``f`` the value is
    ``lerp(g_k f, g_{k+1} (f - 1), 6f^5 - 15f^4 + 10f^3)``. The result is C2-smooth, is 0 at
    every lattice point (so at ``t = 0``), and ``|noise| <= 1/2``; it is returned scaled by 2,
    so ``|noise| <= 1``.

    Args:
        t: ``(n,)`` times in ``[0, 1]``.
        channels: number of independent noise curves.
        cells: lattice cells over ``[0, 1]`` (more cells = wigglier noise).
        generator: numpy random generator (the only source of randomness).

    Returns:
        ``(n, channels)`` noise with values in ``[-1, 1]``.
    """
    if cells < 1:
        raise ValueError(f"cells: expected >= 1, got {cells}")
    t = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
    grads = generator.uniform(-1.0, 1.0, size=(cells + 1, channels))
    x = t * cells
    k = np.minimum(np.floor(x).astype(int), cells - 1)
    f = (x - k)[:, None]
    fade = f * f * f * (f * (f * 6 - 15) + 10)
    a = grads[k] * f
    b = grads[k + 1] * (f - 1)
    return 2.0 * (a + fade * (b - a))


def augment_sequence(seq: np.ndarray, *, level: float, cells: int, generator: np.random.Generator) -> np.ndarray:
    """Add smooth noise of amplitude at most ``level`` (per coordinate) to a normalised curve.

    Args:
        seq: ``(n, 3)`` ``[x, y, pen]`` curve sampled at evenly spaced times in ``[0, 1]``.
        level: maximum displacement per coordinate, in normalised units (paper: 0.2).
        cells: noise lattice cells over the curve's time span.
        generator: numpy random generator.

    Returns:
        ``(n, 3)`` augmented copy; pen unchanged; the first point stays at the origin.
    """
    seq = np.asarray(seq, dtype=np.float64)
    t = np.linspace(0.0, 1.0, seq.shape[0])
    out = seq.copy()
    out[:, :2] += level * perlin_noise(t, 2, cells=cells, generator=generator)
    return out


# ----------------------------------------------------------------------------------------------
# Natural cubic spline (control path of the Neural CDE)
# ----------------------------------------------------------------------------------------------
class NaturalCubicSpline:
    """Batched natural cubic spline through knots ``(t_i, x_i)`` (second derivative 0 at both ends).

    On segment ``i`` with ``u = s - t_i`` and ``h_i = t_{i+1} - t_i``:
    ``S(s) = x_i + b_i u + (M_i / 2) u^2 + (M_{i+1} - M_i) / (6 h_i) u^3``, with second
    derivatives ``M`` solving the tridiagonal system
    ``h_{i-1} M_{i-1} + 2 (h_{i-1} + h_i) M_i + h_i M_{i+1} = 6 (d_i - d_{i-1})``,
    ``d_i = (x_{i+1} - x_i) / h_i``, ``M_0 = M_{n-1} = 0``. Differentiable in ``x``.

    Args:
        t: ``(n,)`` strictly increasing knot times, ``n >= 2``.
        x: ``(batch, n, channels)`` knot values.
    """

    def __init__(self, t: torch.Tensor, x: torch.Tensor) -> None:
        if t.dim() != 1 or t.shape[0] < 2:
            raise ValueError(f"t: expected shape (n,) with n >= 2, got {tuple(t.shape)}")
        if x.dim() != 3 or x.shape[1] != t.shape[0]:
            raise ValueError(f"x: expected shape (batch, {t.shape[0]}, channels), got {tuple(x.shape)}")
        h = t[1:] - t[:-1]  # (n-1,)
        if not bool((h > 0).all()):
            raise ValueError("t: knot times must be strictly increasing")
        n = t.shape[0]
        d = (x[:, 1:] - x[:, :-1]) / h[None, :, None]  # (batch, n-1, c)
        M = torch.zeros_like(x)  # (batch, n, c)
        if n > 2:
            A = torch.zeros(n - 2, n - 2, dtype=x.dtype, device=x.device)
            idx = torch.arange(n - 2, device=x.device)
            A[idx, idx] = 2 * (h[:-1] + h[1:])
            A[idx[1:], idx[:-1]] = h[1:-1]
            A[idx[:-1], idx[1:]] = h[1:-1]
            rhs = 6 * (d[:, 1:] - d[:, :-1])  # (batch, n-2, c)
            interior = torch.linalg.solve(A, rhs)  # (batch, n-2, c): A broadcast over batch
            M = torch.cat([M[:, :1], interior, M[:, :1]], dim=1)
        self.t = t
        self._a = x[:, :-1]
        self._b = d - h[None, :, None] * (2 * M[:, :-1] + M[:, 1:]) / 6
        self._c = M[:, :-1] / 2
        self._d = (M[:, 1:] - M[:, :-1]) / (6 * h[None, :, None])

    def _locate(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = torch.as_tensor(s, dtype=self.t.dtype, device=self.t.device)
        idx = torch.bucketize(s.detach(), self.t[1:-1], right=True)  # segment index in [0, n-2]
        return idx, s - self.t[idx]

    def evaluate(self, s: torch.Tensor) -> torch.Tensor:
        """Spline value at times ``s`` (scalar or ``(m,)``) -> ``(batch, channels)`` or ``(batch, m, channels)``."""
        idx, u = self._locate(s)
        u = u[..., None]
        return self._a[:, idx] + u * (self._b[:, idx] + u * (self._c[:, idx] + u * self._d[:, idx]))

    def derivative(self, s: torch.Tensor, order: int = 1) -> torch.Tensor:
        """First (``order=1``) or second (``order=2``) derivative at ``s``; shapes as :meth:`evaluate`."""
        idx, u = self._locate(s)
        u = u[..., None]
        if order == 1:
            return self._b[:, idx] + u * (2 * self._c[:, idx] + 3 * u * self._d[:, idx])
        if order == 2:
            return 2 * self._c[:, idx] + 6 * u * self._d[:, idx]
        raise ValueError(f"order: expected 1 or 2, got {order}")


# ----------------------------------------------------------------------------------------------
# Encoders
# ----------------------------------------------------------------------------------------------
def _mlp(sizes: list[int], act: Callable[[], nn.Module] = nn.Softplus) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class _CDEField(nn.Module):
    """``dz/ds = f(z) dX/ds``: ``f`` an MLP whose output is a (hidden x channels) matrix."""

    def __init__(self, channels: int, hidden: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        self.channels, self.hidden = channels, hidden
        self.net = _mlp([hidden, *widths, hidden * channels])
        self.spline: NaturalCubicSpline | None = None
        self.nfe = 0

    def forward(self, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        f = torch.tanh(self.net(z)).view(z.shape[0], self.hidden, self.channels)  # (batch, hidden, c)
        dx = self.spline.derivative(s)  # (batch, c)
        return torch.bmm(f, dx.unsqueeze(-1)).squeeze(-1)  # (batch, hidden)


class CDEEncoder(nn.Module):
    """Neural CDE encoder (Kidger et al. 2020) over a natural cubic spline of ``[x, y, pen, t]``.

    ``z(t_0) = Linear(X(t_0))``; ``dz = f(z) dX``; integrated with ``torchdiffeq.odeint``
    (``rk4``, one step per knot interval) and max-pooled over the knot times.

    Args:
        channels: input channels (4 for ``[x, y, pen, t]``).
        hidden: CDE state size (paper: 64).
        widths: hidden widths of the vector-field MLP (paper: (32, 32)).
        out: feature size returned.
    """

    def __init__(self, channels: int, hidden: int, widths: tuple[int, ...], out: int) -> None:
        super().__init__()
        self.initial = nn.Linear(channels, hidden)
        self.field = _CDEField(channels, hidden, widths)
        self.readout = nn.Linear(hidden, out)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x`` ``(batch, n, channels)`` sampled at knots ``t`` ``(n,)`` -> ``(batch, out)``."""
        from torchdiffeq import odeint

        spline = NaturalCubicSpline(t, x)
        self.field.spline = spline
        z0 = self.initial(x[:, 0])  # (batch, hidden)
        zs = odeint(self.field, z0, t, method="rk4", options={"grid_constructor": lambda f, y, tt: tt})
        self.field.spline = None
        return self.readout(zs.max(dim=0).values)  # (n, batch, hidden) -> (batch, out)


class BiLSTMEncoder(nn.Module):
    """Baseline encoder: a bidirectional LSTM over ``[x, y, pen, t]``, max-pooled over time."""

    def __init__(self, channels: int, hidden: int, out: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(channels, hidden, batch_first=True, bidirectional=True)
        self.readout = nn.Linear(2 * hidden, out)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x`` ``(batch, n, channels)`` -> ``(batch, out)`` (``t`` unused: it is a channel of x)."""
        h, _ = self.lstm(x)  # (batch, n, 2 hidden)
        return self.readout(h.max(dim=1).values)


# ----------------------------------------------------------------------------------------------
# Decoder dynamics families
# ----------------------------------------------------------------------------------------------
class Dynamics(nn.Module):
    """Base of a decoder dynamics family: ``acceleration = a(t, position, velocity, latent)``.

    Subclasses set ``name`` and implement :meth:`forward`. They are built with
    ``cls(dim, latent_dim, hidden, **options)`` where ``options`` come from the model config.
    ``t`` is the normalised time in ``[0, 1]``.
    """

    name: ClassVar[str] = ""

    def forward(self, t: torch.Tensor, position: torch.Tensor, velocity: torch.Tensor,
                latent: torch.Tensor, *, frequency: float | None = None) -> torch.Tensor:
        """``(batch, dim)`` position/velocity, ``(batch, latent)`` latent -> ``(batch, dim)``."""
        raise NotImplementedError


DYNAMICS: dict[str, type[Dynamics]] = {}


def register_dynamics(cls: type[Dynamics]) -> type[Dynamics]:
    """Class decorator: add a dynamics family to :data:`DYNAMICS` under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    DYNAMICS[cls.name] = cls
    return cls


def make_dynamics(name: str, dim: int, latent_dim: int, hidden: int, **options) -> Dynamics:
    """Build the dynamics family ``name`` (a key of :data:`DYNAMICS`)."""
    if name not in DYNAMICS:
        raise ValueError(f"dynamics: unknown family {name!r}, expected one of {sorted(DYNAMICS)}")
    return DYNAMICS[name](dim, latent_dim, hidden, **options)


@register_dynamics
class PeriodicMLPDynamics(Dynamics):
    """SketchODE's dynamics: an MLP on ``[velocity, latent, t]`` with ``cos(w x)`` activations.

    ``w`` is ``frequency`` (paper: 3.0), a fixed buffer or a learned parameter
    (``learn_frequency``); passing ``frequency=`` at decode time overrides it: a smaller ``w``
    gives smoother, a larger ``w`` rougher drawings.
    """

    name = "periodic_mlp"

    def __init__(self, dim: int, latent_dim: int, hidden: int, *, frequency: float = 3.0,
                 learn_frequency: bool = False, **_unused) -> None:
        super().__init__()
        self.l1 = nn.Linear(dim + latent_dim + 1, hidden)
        self.l2 = nn.Linear(hidden, hidden)
        self.l3 = nn.Linear(hidden, dim)
        w = torch.tensor(float(frequency))
        if learn_frequency:
            self.w = nn.Parameter(w)
        else:
            self.register_buffer("w", w)

    def forward(self, t, position, velocity, latent, *, frequency=None):
        w = self.w if frequency is None else torch.as_tensor(frequency, dtype=velocity.dtype, device=velocity.device)
        tt = t.expand(velocity.shape[0], 1).to(velocity.dtype)
        h = torch.cos(w * self.l1(torch.cat([velocity, latent, tt], dim=-1)))
        h = torch.cos(w * self.l2(h))
        return self.l3(h)


class _BasisDynamics(Dynamics):
    """``a(t) = sum_k c_k(velocity, latent) phi_k(t)``: basis functions of time with coefficients
    from an MLP of ``[velocity, latent]`` (``n_basis`` terms, each a ``dim``-vector).

    At decode time ``frequency=K`` keeps only the first ``K`` (lowest-frequency / lowest-degree)
    basis terms: a smaller ``K`` gives smoother drawings. Fractional ``K`` fades the last term.
    """

    def __init__(self, dim: int, latent_dim: int, hidden: int, *, n_basis: int = 8, **_unused) -> None:
        super().__init__()
        self.dim, self.n_basis = dim, n_basis
        self.coef = _mlp([dim + latent_dim, hidden, hidden, n_basis * dim], act=nn.Tanh)

    def basis(self, t: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, t, position, velocity, latent, *, frequency=None):
        c = self.coef(torch.cat([velocity, latent], dim=-1)).view(-1, self.n_basis, self.dim)  # (batch, K, dim)
        phi = self.basis(t.to(velocity.dtype).reshape(()))  # (K,)
        if frequency is not None:
            keep = torch.clamp(frequency - torch.arange(self.n_basis, dtype=phi.dtype, device=phi.device), 0.0, 1.0)
            phi = phi * keep
        return torch.einsum("bkd,k->bd", c, phi)


@register_dynamics
class FourierDynamics(_BasisDynamics):
    """Fourier family: ``phi = [1, cos(2 pi t), sin(2 pi t), cos(4 pi t), sin(4 pi t), ...]`` on t in [0, 1]."""

    name = "fourier"

    def basis(self, t):
        k = torch.arange(self.n_basis, device=t.device, dtype=t.dtype)
        harmonic = torch.floor((k + 1) / 2)  # 0, 1, 1, 2, 2, ...
        angle = 2 * math.pi * harmonic * t
        return torch.where(k % 2 == 1, torch.cos(angle), torch.sin(angle)) + (k == 0).to(t.dtype)


@register_dynamics
class LegendreDynamics(_BasisDynamics):
    """Legendre family: ``phi_k = P_k(2t - 1)`` (Legendre polynomials on [-1, 1], by recurrence)."""

    name = "legendre"

    def basis(self, t):
        x = 2 * t - 1
        polys = [torch.ones_like(x), x]
        for k in range(1, self.n_basis - 1):
            polys.append(((2 * k + 1) * x * polys[k] - k * polys[k - 1]) / (k + 1))
        return torch.stack(polys[: self.n_basis])


# ----------------------------------------------------------------------------------------------
# Second-order ODE solve
# ----------------------------------------------------------------------------------------------
class SecondOrderField(nn.Module):
    """First-order form of ``p'' = a``: state ``y = [p, v, z]``, ``dy/ds = [v, a(t, p, v, z), 0]``.

    ``s`` is model time ``t * time_scale``; the dynamics see ``t = s / time_scale`` in [0, 1].
    The latent ``z`` rides along in the state (zero derivative) so adjoint backprop gives its
    gradient. ``nfe`` counts function evaluations (reset it yourself).
    """

    def __init__(self, dynamics: nn.Module, dim: int, time_scale: float = 1.0) -> None:
        super().__init__()
        self.dynamics = dynamics
        self.dim = dim
        self.time_scale = time_scale
        self.frequency: float | None = None
        self.nfe = 0

    def forward(self, s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        p, v, z = y[:, : self.dim], y[:, self.dim: 2 * self.dim], y[:, 2 * self.dim:]
        t = (s / self.time_scale).reshape(1, 1)
        if self.frequency is None:
            a = self.dynamics(t, p, v, z)
        else:
            a = self.dynamics(t, p, v, z, frequency=self.frequency)
        return torch.cat([v, a, torch.zeros_like(z)], dim=-1)


def _union_grid(step_size: float) -> Callable:
    """torchdiffeq grid: every query time plus steps of ``step_size`` not too close to one."""

    def construct(func, y0, t):
        span = t[-1] - t[0]
        n = max(int(math.ceil(abs(float(span)) / step_size - 1e-6)), 1)
        steps = torch.linspace(float(t[0]), float(t[-1]), n + 1, dtype=t.dtype, device=t.device)
        if t.shape[0] > 1:
            sorted_t = torch.sort(t)[0]
            pos = torch.searchsorted(sorted_t, steps).clamp(1, t.shape[0] - 1)
            dist = torch.minimum((steps - sorted_t[pos - 1]).abs(), (steps - sorted_t[pos]).abs())
            steps = steps[dist > 0.25 * step_size]
        grid = torch.cat([t, steps])
        grid = torch.sort(grid, descending=bool(t[-1] < t[0]))[0]
        return torch.unique_consecutive(grid)

    return construct


def solve_second_order(field: SecondOrderField, position0: torch.Tensor, velocity0: torch.Tensor,
                       latent: torch.Tensor, s: torch.Tensor, *, method: str = "rk4",
                       step_size: float | None = None, rtol: float = 1e-3, atol: float = 1e-4,
                       adjoint: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrate ``p''(s) = a(s, p, p', z)`` from ``(p(s_0), p'(s_0))`` with torchdiffeq.

    With ``method="rk4"`` the integration grid is the query times ``s`` plus fixed steps of
    ``step_size`` (so output at any query time is an actual solver state, and the step never
    exceeds ``step_size`` whatever the number of queries); ``"dopri5"`` is adaptive with
    ``rtol``/``atol``. ``adjoint=True`` uses ``torchdiffeq.odeint_adjoint`` (memory O(1) in the
    number of steps; gradients w.r.t. the field's parameters and the initial state).

    Args:
        field: the first-order form of the dynamics.
        position0, velocity0: ``(batch, dim)`` initial state.
        latent: ``(batch, latent_dim)`` conditioning carried in the state.
        s: ``(m,)`` increasing query times (model time); ``s[0]`` is the initial time.
        method: a torchdiffeq method name (``"rk4"``, ``"dopri5"``, ``"euler"``, ...).
        step_size: fixed-step size for fixed-grid methods (required for them).

    Returns:
        ``(positions, velocities)``, each ``(m, batch, dim)``.
    """
    from torchdiffeq import odeint, odeint_adjoint

    if s.dim() != 1 or s.shape[0] < 1:
        raise ValueError(f"s: expected shape (m,), got {tuple(s.shape)}")
    if position0.shape != velocity0.shape or position0.shape[-1] != field.dim:
        raise ValueError(f"position0/velocity0: expected (batch, {field.dim}) each, got "
                         f"{tuple(position0.shape)} and {tuple(velocity0.shape)}")
    y0 = torch.cat([position0, velocity0, latent], dim=-1)
    options: dict = {}
    fixed = method in ("rk4", "euler", "midpoint", "explicit_adams", "implicit_adams", "heun2", "heun3")
    if fixed:
        if step_size is None or step_size <= 0:
            raise ValueError(f"step_size: a fixed-step method ({method}) needs step_size > 0, got {step_size}")
        options["grid_constructor"] = _union_grid(step_size)
    if s.shape[0] == 1:
        y = y0.unsqueeze(0)
    elif adjoint:
        y = odeint_adjoint(field, y0, s, method=method, rtol=rtol, atol=atol, options=options,
                           adjoint_params=tuple(field.parameters()))
    else:
        y = odeint(field, y0, s, method=method, rtol=rtol, atol=atol, options=options)
    d = field.dim
    return y[..., :d], y[..., d: 2 * d]


def chamfer_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Symmetric Chamfer distance: mean nearest-neighbour distance a->b plus b->a, halved.

    Args:
        a: ``(n, 2)`` points; b: ``(m, 2)`` points (same units).

    Returns:
        Scalar tensor, in the points' units (not squared). ``inf`` when either set is empty.
    """
    if a.shape[0] == 0 or b.shape[0] == 0:
        return torch.tensor(float("inf"))
    return point_chamfer(a[None], b[None], eps=0.0)


def point_chamfer(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Batched symmetric Chamfer distance, differentiable everywhere (a training loss term).

    Time-free, unlike a loss at equal times: it asks that each set lie on the other, whatever
    the order the points are drawn in.

    Args:
        a: ``(B, n, 2)`` points; b: ``(B, m, 2)`` points (same units, n, m >= 1).
        eps: added under the square root so coincident points have finite gradients.

    Returns:
        Scalar tensor: the mean over the batch of half the sum of the two mean nearest distances,
        in the points' units.
    """
    d = torch.sqrt(((a[:, :, None, :] - b[:, None, :, :]) ** 2).sum(-1) + eps)  # (B, n, m)
    return 0.5 * (d.min(dim=2).values.mean() + d.min(dim=1).values.mean())
