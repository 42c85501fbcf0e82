"""A latent prior fitted after training: one Gaussian per class over the training posteriors.

A VAE's decoder is trained on posterior codes, and with a small KL weight (what good
reconstructions need) those codes fill only part of ``N(0, I)``: codes drawn from the standard
normal prior land where the decoder never learned to draw ("prior hole"). Ex-post density
estimation (Ghosh et al., *From Variational to Deterministic Autoencoders*, ICLR 2020) fits a
density to the training set's posterior means once training is done and samples from it instead.
Here the density is a mixture of a few full-covariance Gaussians per class (one mixture in all for
an unconditional model), each covariance shrunk towards the diagonal so that a few hundred codes
in 48+ dimensions give a well-conditioned estimate.

The fitted moments are buffers, so they are saved and loaded with the weights (safetensors).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FittedPrior", "FittedPriorMixin"]


class FittedPrior(nn.Module):
    """Gaussian mixtures over latents of size ``dim``: ``components`` Gaussians per group (class).

    Row ``g * components + m`` of the buffers holds component ``m`` of group ``g``: its mean, the
    Cholesky factor ``L`` of its covariance, and the number of codes it was fitted on (its mixing
    weight within the group; 0: unfitted). With ``components=1`` this is one Gaussian per group.

    Args:
        groups: number of groups (classes; 1 for an unconditional model).
        dim: latent size.
        components: Gaussians per group. A class often comes in a few styles (a 7 with or without
            its bar); one Gaussian over all of them puts most of its mass between the styles.
        shrinkage: weight of the diagonal in the covariance estimate, ``(1 - s) S + s diag(S)``.
        jitter: added to the covariance diagonal (latent units squared) before the Cholesky.
    """

    def __init__(self, groups: int, dim: int, *, components: int = 1, shrinkage: float = 0.1,
                 jitter: float = 1e-5) -> None:
        super().__init__()
        if groups < 1 or dim < 1 or components < 1:
            raise ValueError(f"need groups, dim and components >= 1, got {groups}, {dim}, {components}")
        self.groups, self.components = int(groups), int(components)
        self.shrinkage, self.jitter = float(shrinkage), float(jitter)
        rows = self.groups * self.components
        self.register_buffer("mean", torch.zeros(rows, dim))
        self.register_buffer("scale_tril", torch.eye(dim).repeat(rows, 1, 1))
        self.register_buffer("counts", torch.zeros(rows))  # codes each Gaussian was fitted on (0: unfitted)

    @property
    def fitted(self) -> bool:
        """True once :meth:`fit` has given every group at least one Gaussian."""
        return bool((self.counts.reshape(self.groups, self.components).sum(1) > 0).all())

    def _gaussian(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and Cholesky factor of the shrunk covariance of codes ``z`` ``(n >= 2, dim)``, float64."""
        dim = z.shape[1]
        cov = torch.cov(z.T).reshape(dim, dim)
        cov = (1.0 - self.shrinkage) * cov + self.shrinkage * torch.diag(torch.diagonal(cov))
        cov = cov + self.jitter * torch.eye(dim, dtype=cov.dtype)
        return z.mean(0), torch.linalg.cholesky(cov)

    @torch.no_grad()
    def fit(self, z: torch.Tensor, groups: torch.Tensor | None = None) -> None:
        """Fit every group's mixture to its codes.

        One Gaussian per group is its codes' mean and (shrunk) covariance. With more components,
        a group's codes are split by k-means (seeded, deterministic; at most one component per 4
        codes) and each cluster of 2 or more codes gets its own Gaussian, weighted by its size.

        Args:
            z: ``(N, dim)`` posterior means of the training sketches.
            groups: ``(N,)`` group (class) ids; ``None``: all in group 0.

        Raises:
            ValueError: wrong shapes, non-finite codes, or a group with fewer than 2 codes.
        """
        dim = self.mean.shape[1]
        z = z.detach().to(torch.float64)
        if z.ndim != 2 or z.shape[1] != dim:
            raise ValueError(f"z: expected (N, {dim}), got {tuple(z.shape)}")
        if not torch.isfinite(z).all():
            raise ValueError("z: codes must be finite")
        groups = torch.zeros(len(z), dtype=torch.long) if groups is None else groups.detach().cpu().long()
        if groups.shape != (len(z),):
            raise ValueError(f"groups: expected ({len(z)},), got {tuple(groups.shape)}")
        z = z.cpu()
        self.counts.zero_()
        for g in range(self.groups):
            zg = z[groups == g]
            if len(zg) < 2:
                raise ValueError(f"group {g}: need at least 2 codes to fit a Gaussian, got {len(zg)}")
            k = max(1, min(self.components, len(zg) // 4))
            assign = _kmeans(zg, k) if k > 1 else torch.zeros(len(zg), dtype=torch.long)
            for m in range(k):
                members = zg[assign == m]
                if len(members) < 2:
                    continue
                mu, tril = self._gaussian(members)
                row = g * self.components + m
                self.mean[row] = mu.to(self.mean)
                self.scale_tril[row] = tril.to(self.scale_tril)
                self.counts[row] = float(len(members))

    @torch.no_grad()
    def sample(self, groups: torch.Tensor, *, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        """Draw one code per entry of ``groups`` ``(n,)`` -> ``(n, dim)``: a component of the group
        (by weight), then ``mean + temperature * L eps``.

        ``temperature`` scales the standard deviation (0: the component means), as the
        standard-normal prior's temperature does.
        """
        groups = groups.cpu().long()
        weights = self.counts.cpu().reshape(self.groups, self.components)[groups]  # (n, components)
        if self.components > 1:
            comp = torch.multinomial(weights, 1, generator=generator).squeeze(1)
        else:
            comp = torch.zeros(len(groups), dtype=torch.long)
        rows = groups * self.components + comp
        eps = torch.randn(len(groups), self.mean.shape[1], generator=generator)
        mean, tril = self.mean.cpu()[rows], self.scale_tril.cpu()[rows]
        return mean + temperature * (tril @ eps.to(tril.dtype).unsqueeze(-1)).squeeze(-1)


def _kmeans(z: torch.Tensor, k: int, *, iters: int = 50, seed: int = 0) -> torch.Tensor:
    """Cluster ids ``(n,)`` of codes ``z`` ``(n, dim)`` into ``k`` clusters: k-means++ seeding
    (seeded generator, so the same codes always give the same clusters), then Lloyd iterations."""
    gen = torch.Generator().manual_seed(seed)
    centres = [z[int(torch.randint(len(z), (1,), generator=gen))]]
    for _ in range(1, k):
        d2 = torch.cdist(z, torch.stack(centres)).pow(2).min(1).values
        if float(d2.sum()) <= 0:
            break
        centres.append(z[int(torch.multinomial(d2 / d2.sum(), 1, generator=gen))])
    c = torch.stack(centres)
    assign = torch.cdist(z, c).argmin(1)
    for _ in range(iters):
        c = torch.stack([z[assign == j].mean(0) if (assign == j).any() else c[j] for j in range(len(c))])
        new = torch.cdist(z, c).argmin(1)
        if torch.equal(new, assign):
            break
        assign = new
    return assign


class FittedPriorMixin:
    """Latent-prior plumbing for a family with a ``fitted_prior`` config flag.

    The family creates ``self.prior`` (:meth:`make_prior`) and implements
    ``_posterior_means(sketches) -> (z (N, latent_dim), class ids (N,) or None)``; it then gets
    :meth:`fit_prior`, the training-engine hook :meth:`after_training` and :meth:`draw_latents`
    for its ``sample``.
    """

    prior: FittedPrior | None

    def make_prior(self, num_classes: int, latent_dim: int) -> None:
        """Create ``self.prior`` (``config.prior_components`` Gaussians per class, or for all) when
        the config asks for it."""
        self.prior = (FittedPrior(max(1, num_classes), latent_dim, components=self.config.prior_components)
                      if self.config.fitted_prior else None)

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

    def with_prior_components(self, components: int):
        """A copy of this model (same weights) whose fitted prior has ``components`` Gaussians per
        class, not yet fitted: call :meth:`fit_prior` with the training sketches next. Lets a
        trained model get a richer prior without retraining."""
        config = self.config.replace(fitted_prior=True, prior_components=int(components))
        model = type(self)(config)
        weights = {k: v for k, v in self.state_dict().items() if not k.startswith("prior.")}
        missing, unexpected = model.load_state_dict(weights, strict=False)
        if unexpected or any(not k.startswith("prior.") for k in missing):
            raise ValueError(f"weights do not fit the copied model: missing {missing}, unexpected {unexpected}")
        return model.to(next(self.parameters()).device)

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
