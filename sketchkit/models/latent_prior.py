"""A latent prior fitted after training: one Gaussian per class over the training posteriors.

A VAE's decoder is trained on posterior codes, and with a small KL weight (what good
reconstructions need) those codes fill only part of ``N(0, I)``: codes drawn from the standard
normal prior land where the decoder never learned to draw ("prior hole"). Ex-post density
estimation (Ghosh et al., *From Variational to Deterministic Autoencoders*, ICLR 2020) fits a
density to the training set's posterior means once training is done and samples from it instead.
Here the density is one full-covariance Gaussian per class (one in all for an unconditional
model), its covariance shrunk towards the diagonal so that a few hundred codes in 48+ dimensions
give a well-conditioned estimate.

The fitted moments are buffers, so they are saved and loaded with the weights (safetensors).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FittedPrior", "FittedPriorMixin"]


class FittedPrior(nn.Module):
    """Gaussians ``N(mean_g, L_g L_g^T)`` over latents of size ``dim``, one per group (class).

    Args:
        groups: number of Gaussians (classes; 1 for an unconditional model).
        dim: latent size.
        shrinkage: weight of the diagonal in the covariance estimate, ``(1 - s) S + s diag(S)``.
        jitter: added to the covariance diagonal (latent units squared) before the Cholesky.
    """

    def __init__(self, groups: int, dim: int, *, shrinkage: float = 0.1, jitter: float = 1e-5) -> None:
        super().__init__()
        if groups < 1 or dim < 1:
            raise ValueError(f"need groups >= 1 and dim >= 1, got {groups}, {dim}")
        self.shrinkage, self.jitter = float(shrinkage), float(jitter)
        self.register_buffer("mean", torch.zeros(groups, dim))
        self.register_buffer("scale_tril", torch.eye(dim).repeat(groups, 1, 1))
        self.register_buffer("counts", torch.zeros(groups))  # codes each Gaussian was fitted on (0: unfitted)

    @property
    def fitted(self) -> bool:
        """True once :meth:`fit` has given every group a Gaussian."""
        return bool((self.counts > 0).all())

    @torch.no_grad()
    def fit(self, z: torch.Tensor, groups: torch.Tensor | None = None) -> None:
        """Fit every group's Gaussian to its codes.

        Args:
            z: ``(N, dim)`` posterior means of the training sketches.
            groups: ``(N,)`` group (class) ids; ``None``: all in group 0.

        Raises:
            ValueError: wrong shapes, non-finite codes, or a group with fewer than 2 codes.
        """
        n_groups, dim = self.mean.shape
        z = z.detach().to(torch.float64)
        if z.ndim != 2 or z.shape[1] != dim:
            raise ValueError(f"z: expected (N, {dim}), got {tuple(z.shape)}")
        if not torch.isfinite(z).all():
            raise ValueError("z: codes must be finite")
        groups = torch.zeros(len(z), dtype=torch.long) if groups is None else groups.detach().cpu().long()
        if groups.shape != (len(z),):
            raise ValueError(f"groups: expected ({len(z)},), got {tuple(groups.shape)}")
        z = z.cpu()
        for g in range(n_groups):
            zg = z[groups == g]
            if len(zg) < 2:
                raise ValueError(f"group {g}: need at least 2 codes to fit a Gaussian, got {len(zg)}")
            mu = zg.mean(0)
            cov = torch.cov(zg.T).reshape(dim, dim)
            cov = (1.0 - self.shrinkage) * cov + self.shrinkage * torch.diag(torch.diagonal(cov))
            cov = cov + self.jitter * torch.eye(dim, dtype=cov.dtype)
            self.mean[g] = mu.to(self.mean)
            self.scale_tril[g] = torch.linalg.cholesky(cov).to(self.scale_tril)
            self.counts[g] = float(len(zg))

    @torch.no_grad()
    def sample(self, groups: torch.Tensor, *, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        """Draw one code per entry of ``groups`` ``(n,)``: ``mean_g + temperature * L_g eps`` -> ``(n, dim)``.

        ``temperature`` scales the standard deviation (0: the group means), as the standard-normal
        prior's temperature does.
        """
        groups = groups.cpu().long()
        eps = torch.randn(len(groups), self.mean.shape[1], generator=generator)
        mean, tril = self.mean.cpu()[groups], self.scale_tril.cpu()[groups]
        return mean + temperature * (tril @ eps.to(tril.dtype).unsqueeze(-1)).squeeze(-1)


class FittedPriorMixin:
    """Latent-prior plumbing for a family with a ``fitted_prior`` config flag.

    The family creates ``self.prior`` (:meth:`make_prior`) and implements
    ``_posterior_means(sketches) -> (z (N, latent_dim), class ids (N,) or None)``; it then gets
    :meth:`fit_prior`, the training-engine hook :meth:`after_training` and :meth:`draw_latents`
    for its ``sample``.
    """

    prior: FittedPrior | None

    def make_prior(self, num_classes: int, latent_dim: int) -> None:
        """Create ``self.prior`` (one Gaussian per class, or one) when the config asks for it."""
        self.prior = FittedPrior(max(1, num_classes), latent_dim) if self.config.fitted_prior else None

    @torch.no_grad()
    def fit_prior(self, sketches) -> None:
        """Fit the prior's Gaussians to the posterior means of ``sketches`` (the training set).

        Raises:
            ValueError: the model has no fitted prior (``fitted_prior=False``), a sketch without a
                known label (conditional models), or a class with fewer than 2 sketches.
        """
        if self.prior is None:
            raise ValueError("this model has no fitted prior (config fitted_prior=False)")
        z, classes = self._posterior_means(list(sketches))
        self.prior.fit(z, classes)

    def after_training(self, sketches) -> dict[str, float]:
        """Training engine hook: fit the latent prior to the training set (``fitted_prior`` models)."""
        if self.prior is None:
            return {}
        was_training = self.training
        self.eval()
        self.fit_prior(sketches)
        self.train(was_training)
        return {"prior_codes": float(self.prior.counts.sum())}

    def draw_latents(self, n: int, classes: torch.Tensor | None, *, generator: torch.Generator | None,
                     temperature: float) -> torch.Tensor:
        """``(n, latent_dim)`` codes to decode: from the fitted Gaussian of each class once fitted,
        otherwise from ``N(0, temperature^2 I)``."""
        if self.prior is not None and self.prior.fitted:
            groups = torch.zeros(n, dtype=torch.long) if classes is None else classes
            return self.prior.sample(groups, generator=generator, temperature=temperature)
        return torch.randn(n, self.config.latent_dim, generator=generator) * float(temperature)
