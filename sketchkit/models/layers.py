"""Small reusable layers shared by the model families.

:class:`MixtureDensityHead` is a diagonal Gaussian mixture over a ``dim``-vector plus optional
Bernoulli bits (e.g. a stop-stroke bit), in the style of sketch-rnn's output layer but for any
dimension. Log-likelihoods are computed in log space (``logsumexp``) with clamped sigmas, so
they are finite for any input, including degenerate (all-zero, repeated) targets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["MixtureParams", "MixtureDensityHead"]

_LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class MixtureParams:
    """Output of :class:`MixtureDensityHead` for a batch of positions ``(...)``.

    Attributes:
        logits: ``(..., K)`` unnormalised mixture weights.
        mu: ``(..., K, dim)`` component means.
        log_sigma: ``(..., K, dim)`` component log standard deviations (already clamped).
        bits: ``(..., n_bits)`` logits of the Bernoulli bits.
        coupling: ``(..., K, dim, dim)`` strictly lower-triangular ``A`` of full-covariance
            components (``None``: diagonal components).
    """

    logits: torch.Tensor
    mu: torch.Tensor
    log_sigma: torch.Tensor
    bits: torch.Tensor
    coupling: torch.Tensor | None = None

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> "MixtureParams":
        """The same parameters as ``dtype`` tensors on ``device``."""
        moved = [None if x is None else x.to(device=device, dtype=dtype)
                 for x in (self.logits, self.mu, self.log_sigma, self.bits, self.coupling)]
        return MixtureParams(*moved)


class MixtureDensityHead(nn.Module):
    """Linear layer -> Gaussian mixture over ``dim`` values + ``n_bits`` Bernoulli logits.

    Args:
        in_features: size of the input feature vector.
        dim: dimension of the modelled vector.
        num_mixtures: number of Gaussian components ``K``.
        n_bits: number of Bernoulli logits emitted alongside (0 for none).
        sigma_min: lower clamp on every standard deviation (avoids infinite densities on
            repeated targets); ``log_sigma`` is clamped to ``[log(sigma_min), log_sigma_max]``.
        log_sigma_max: upper clamp on ``log_sigma``.
        full_covariance: components with a full covariance (``dim * (dim - 1) / 2`` more outputs
            each) instead of a diagonal one: correlated values (the control-point offsets of a
            smooth curve) are then drawn together instead of each with its own noise.
    """

    def __init__(self, in_features: int, dim: int, num_mixtures: int, *, n_bits: int = 0,
                 sigma_min: float = 1e-3, log_sigma_max: float = 5.0, full_covariance: bool = False) -> None:
        super().__init__()
        if dim < 1 or num_mixtures < 1 or n_bits < 0:
            raise ValueError(f"need dim >= 1, num_mixtures >= 1, n_bits >= 0; got {dim}, {num_mixtures}, {n_bits}")
        if not sigma_min > 0:
            raise ValueError(f"sigma_min must be > 0, got {sigma_min}")
        self.dim, self.num_mixtures, self.n_bits = dim, num_mixtures, n_bits
        self.log_sigma_min, self.log_sigma_max = math.log(sigma_min), float(log_sigma_max)
        self.full_covariance = bool(full_covariance)
        self.n_coupling = dim * (dim - 1) // 2 if self.full_covariance else 0
        self.proj = nn.Linear(in_features, num_mixtures * (1 + 2 * dim + self.n_coupling) + n_bits)
        if self.full_covariance:
            rows, cols = torch.tril_indices(dim, dim, offset=-1)
            self.register_buffer("_tril_rows", rows, persistent=False)
            self.register_buffer("_tril_cols", cols, persistent=False)

    def forward(self, h: torch.Tensor) -> MixtureParams:
        """Mixture parameters for features ``h`` of shape ``(..., in_features)``."""
        k, d = self.num_mixtures, self.dim
        out = self.proj(h)
        lead = out.shape[:-1]
        logits = out[..., :k]  # (..., K)
        mu = out[..., k:k + k * d].reshape(*lead, k, d)  # (..., K, dim)
        log_sigma = out[..., k + k * d:k + 2 * k * d].reshape(*lead, k, d)
        log_sigma = log_sigma.clamp(self.log_sigma_min, self.log_sigma_max)
        end = k + 2 * k * d + k * self.n_coupling
        bits = out[..., end:]  # (..., n_bits)
        coupling = None
        if self.full_covariance:
            flat = out[..., k + 2 * k * d:end].reshape(*lead, k, self.n_coupling)
            coupling = flat.new_zeros(*lead, k, d, d)
            coupling[..., self._tril_rows, self._tril_cols] = flat
        return MixtureParams(logits, mu, log_sigma, bits, coupling)

    @staticmethod
    def log_prob(params: MixtureParams, x: torch.Tensor) -> torch.Tensor:
        """Log density of ``x`` (``(..., dim)``) under the mixture; returns ``(...)``.

        Computed as ``logsumexp_k(log pi_k + sum_j log N(x_j; mu_kj, sigma_kj))``, the log-space
        form of ``log(sum_k pi_k p_k + eps)`` that cannot underflow to ``log 0``. For
        full-covariance components the residual is first decorrelated, ``r - A r``
        (the Jacobian of that map is 1, so the sum over j stays exact).
        """
        x = x.unsqueeze(-2)  # (..., 1, dim)
        r = x - params.mu  # (..., K, dim)
        if params.coupling is not None:
            r = r - (params.coupling @ r.unsqueeze(-1)).squeeze(-1)
        z = r * torch.exp(-params.log_sigma)  # (..., K, dim)
        comp = -0.5 * (z * z + _LOG_2PI) - params.log_sigma  # (..., K, dim)
        log_pi = torch.log_softmax(params.logits, dim=-1)  # (..., K)
        return torch.logsumexp(log_pi + comp.sum(-1), dim=-1)  # (...)

    @staticmethod
    def sample(params: MixtureParams, *, generator: torch.Generator | None = None,
               temperature: float = 1.0, component_temperature: float | None = None) -> torch.Tensor:
        """Draw one vector per position, sketch-rnn style.

        Mixture weights use ``softmax(logits / T_c)`` and covariances are scaled by ``T``. With
        ``temperature == 0`` the draw is greedy: the most likely component's mean.

        Args:
            params: mixture parameters for positions ``(B,)``.
            generator: torch random generator (required for reproducibility when ``T > 0``).
            temperature: ``T >= 0``.
            component_temperature: ``T_c > 0`` for the choice of component; ``None`` uses ``T``
                (sketch-rnn). Lower than ``T`` keeps to the likeliest components while each keeps
                its ``T``-scaled spread.

        Returns:
            ``(B, dim)`` samples.
        """
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        batch = params.logits.shape[0]
        rows = torch.arange(batch, device=params.logits.device)
        if temperature == 0:
            idx = params.logits.argmax(-1)
            return params.mu[rows, idx]
        if component_temperature is not None and not component_temperature > 0:
            raise ValueError(f"component_temperature must be > 0, got {component_temperature}")
        probs = torch.softmax(params.logits / (component_temperature or temperature), dim=-1)
        idx = torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)
        mu, log_sigma = params.mu[rows, idx], params.log_sigma[rows, idx]  # (B, dim)
        noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        shock = torch.exp(log_sigma) * math.sqrt(temperature) * noise  # (B, dim)
        if params.coupling is None:
            return mu + shock
        # r = A r + shock  <=>  (I - A) r = shock, a unit lower-triangular system
        eye = torch.eye(mu.shape[-1], dtype=mu.dtype, device=mu.device)
        r = torch.linalg.solve_triangular(eye - params.coupling[rows, idx], shock.unsqueeze(-1), upper=False,
                                          unitriangular=True).squeeze(-1)
        return mu + r
