"""A sample critic: a small raster CNN that tells a generator's own samples from real drawings,
used to keep the best of several draws (discriminator rejection sampling, after Azadi et al.,
"Discriminator Rejection Sampling", ICLR 2019; here the best-of-k variant).

The critic is fitted after the generator, on rasters of the training drawings against rasters of
the model's samples, both drawn in one style so that rendering is no cue (BézierSketch draws real
drawings as the curves of their own tokens). For a class-conditional
model it has one "real" and one "generated" output per class, so it learns what sets the model's
pigs apart from real pigs, not only what sets samples apart in general. Its log-odds
``log p(real, c | x) - log p(generated, c | x)`` estimates the density ratio of data to samples;
:meth:`SampleCriticMixin.critic_scores` returns it and ``sample(best_of=k)`` keeps, of ``k``
draws per sketch, the one it rates most like data.

:class:`SampleCriticMixin` is mixed into a generator family (``BezierSketchModel``) whose config
has ``critic_size`` (raster side in px, 0: no critic). The critic's weights live in the model's
safetensors like every other weight.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import torch

if TYPE_CHECKING:
    from sketchkit.sketch import BezierSketch, Sketch

__all__ = ["SampleCriticMixin"]


class SampleCriticMixin:
    """Mixin: ``self.critic`` (or None), its fitting and its scores (see the module docstring).

    The family provides ``num_classes``, ``labels``, ``_class_ids``, ``sample`` (with ``best_of``,
    through :meth:`keep_best_of`) and ``_real_as_curves(sketches)`` (real drawings as the critic
    should see them); it may override ``_critic_images`` (items -> ``(N, 1, size, size)`` ink).
    """

    critic: Any

    def make_critic(self) -> None:
        """Create ``self.critic`` when ``config.critic_size > 0`` (untrained until :meth:`fit_critic`)."""
        size = int(self.config.critic_size)
        if not size:
            self.critic = None
            return
        from sketchkit.quality.judge import JudgeConfig, SketchJudge

        self.critic = SketchJudge(JudgeConfig(num_classes=2 * max(1, self.num_classes), size=size))

    def with_sample_critic(self, size: int = 32):
        """A copy of this model (same weights) with an untrained ``size`` px critic: call
        :meth:`fit_critic` next. Lets a trained generator get a critic without retraining."""
        if size < 16:
            raise ValueError(f"critic size must be >= 16 px, got {size}")
        model = type(self)(self.config.replace(critic_size=int(size)))
        weights = {k: v for k, v in self.state_dict().items() if not k.startswith("critic.")}
        missing, unexpected = model.load_state_dict(weights, strict=False)
        if unexpected or any(not k.startswith("critic.") for k in missing):
            raise ValueError(f"weights do not fit the copied model: missing {missing}, unexpected {unexpected}")
        return model.to(next(self.parameters()).device).train(self.training)

    def _critic_images(self, sketches: Sequence[Sketch | BezierSketch]) -> np.ndarray:
        """Items -> ``(N, 1, size, size)`` ink, each fitted to its own canvas with a 1 px pen."""
        from sketchkit.quality.images import rasterize_batch

        return rasterize_batch(list(sketches), size=self.critic.config.size)

    def _critic_targets(self, labels: Sequence[Any], generated: bool) -> np.ndarray:
        classes = self._class_ids(list(labels)) if self.num_classes else None
        base = np.zeros(len(labels), np.int64) if classes is None else 2 * classes.cpu().numpy().astype(np.int64)
        return base + int(generated)

    def fit_critic(self, sketches: Sequence[Sketch], *, samples: int | None = None, epochs: int = 8,
                   seed: int = 0, progress: bool = False, **sample_kw: Any) -> dict[str, float]:
        """Fit the critic: the training drawings against as many of the model's own samples.

        Args:
            sketches: real training drawings (labelled for a conditional model).
            samples: generated sketches to draw (default: as many as ``sketches``), spread evenly
                over the classes; drawn with ``sample_kw`` (the setting the critic will filter,
                e.g. ``temperature=0.15, min_class_posterior=0.999``).
            epochs: passes over real + generated rasters.
            seed: seeds the samples and the critic's fitting (batch order, augmentation); its
                initial weights come from the model's construction.
            progress: print what is being done.

        Returns:
            ``{"real": n, "generated": m, "train_accuracy": a}`` (accuracy of the fitted critic
            on its own training rasters, real vs generated within each class).

        Raises:
            ValueError: the model has no critic (``critic_size = 0``), or no drawing has strokes.
        """
        from sketchkit.quality.judge import fit_classifier

        if self.critic is None:
            raise ValueError("this model has no sample critic (config critic_size=0); use with_sample_critic()")
        real = [s for s in sketches if s.num_strokes]
        if not real:
            raise ValueError("fit_critic: no drawing with strokes")
        self.eval()  # the samples the critic learns must be the ones sample() gives (no dropout, no input noise)
        fits = self._real_as_curves(real)
        n = len(real) if samples is None else int(samples)
        g = torch.Generator().manual_seed(seed)
        labels = list(self.labels) if self.num_classes else [None]
        per = [n // len(labels) + (k < n % len(labels)) for k in range(len(labels))]
        fake = []
        for lab, k in zip(labels, per):
            if k:
                if progress:
                    print(f"critic: sampling {k} {lab or 'sketches'}", flush=True)
                fake += self.sample(k, generator=g, label=lab, **sample_kw)
        x = np.concatenate([self._critic_images(fits), self._critic_images(fake)])
        y = np.concatenate([self._critic_targets([s.label for s in fits], False),
                            self._critic_targets([s.label for s in fake], True)])
        if progress:
            print(f"critic: fitting on {len(fits)} real and {len(fake)} generated rasters", flush=True)
        fit_classifier(self.critic, x, y, epochs=epochs, seed=seed, augment=True, device=str(self.device))
        pred = self.critic.predict_proba(x, device=str(self.device)).reshape(len(x), -1, 2)
        own = pred[np.arange(len(x)), y // 2]  # (N, 2): real / generated within the item's class
        acc = float(((own[:, 1] > own[:, 0]).astype(np.int64) == (y % 2)).mean())
        return {"real": float(len(fits)), "generated": float(len(fake)), "train_accuracy": acc}

    def _check_best_of(self, best_of: int) -> None:
        if isinstance(best_of, bool) or not isinstance(best_of, int) or best_of < 1:
            raise ValueError(f"best_of: expected an integer >= 1, got {best_of!r}")
        if best_of > 1 and self.critic is None:
            raise ValueError(f"best_of > 1 needs a model with a sample critic (critic_size > 0; "
                             f"see {type(self).__name__}.with_sample_critic and fit_critic)")

    def keep_best_of(self, draw: Callable[[], list], best_of: int) -> list:
        """Call ``draw()`` (``n`` sketches, index ``i`` always for the same class) ``best_of``
        times and keep, per index, the sketch with the highest :meth:`critic_scores`
        (``meta["critic"]``); ``best_of = 1`` returns the first draw unscored."""
        out = draw()
        if best_of <= 1:
            return out
        best = self.critic_scores(out)
        for _ in range(best_of - 1):
            again = draw()
            score = self.critic_scores(again)
            for i in np.nonzero(score > best)[0]:
                out[i], best[i] = again[i], score[i]
        for sk, b in zip(out, best):
            sk.meta["critic"] = float(b)
        return out

    @torch.no_grad()
    def critic_scores(self, sketches: Sequence[Sketch | BezierSketch]) -> np.ndarray:
        """``(N,)`` critic log-odds that each sketch is real data rather than a sample of this
        model, within its own class (``sketch.label``; unconditional: overall). Higher is more
        like data. Empty sketches score ``-inf``."""
        if self.critic is None:
            raise ValueError("this model has no sample critic (config critic_size=0)")
        sketches = list(sketches)
        if not sketches:
            return np.zeros(0)
        probs = self.critic.predict_proba(self._critic_images(sketches), device=str(self.device))
        rows = self._critic_targets([s.label for s in sketches], False)
        idx = np.arange(len(sketches))
        score = np.log(probs[idx, rows] + 1e-9) - np.log(probs[idx, rows + 1] + 1e-9)
        empty = np.array([(s.num_curves if hasattr(s, "curves") else s.num_points) == 0 for s in sketches])
        score[empty] = -np.inf
        return score
