"""torch ``Dataset`` of Sketches with seeded splits and deterministic augmentation.

Items are :class:`~sketchkit.sketch.Sketch` objects (each model family turns a list of them into
tensors with its own ``collate``), so a ``DataLoader`` needs ``collate_fn=collate_list``.

Augmentation is deterministic: item ``i`` in epoch ``e`` is transformed with
``numpy.random.default_rng([seed, e, i])``, whatever the worker count or access order.
Call :meth:`SketchDataset.set_epoch` to draw new augmentations each epoch.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch.utils.data

from sketchkit.data.splits import split_indices
from sketchkit.sketch import Sketch

__all__ = ["SketchDataset", "collate_list"]


def collate_list(batch: list[Sketch]) -> list[Sketch]:
    """``DataLoader`` ``collate_fn`` that keeps a batch as a list of Sketches."""
    return list(batch)


class SketchDataset(torch.utils.data.Dataset):
    """A list of Sketches as a map-style torch Dataset.

    Args:
        sketches: the items (kept by reference; not copied).
        transform: optional ``f(sketch, generator) -> Sketch`` (see :mod:`sketchkit.data.transforms`).
        seed: base seed of the per-item augmentation generators.
    """

    def __init__(self, sketches: Sequence[Sketch], transform: Callable[[Sketch, np.random.Generator], Sketch] | None = None,
                 *, seed: int = 0) -> None:
        for i, s in enumerate(sketches):
            if not isinstance(s, Sketch):
                raise ValueError(f"sketches[{i}]: expected a Sketch, got {type(s).__name__}")
        self.sketches = list(sketches)
        self.transform = transform
        self.seed = int(seed)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.sketches)

    def __getitem__(self, index: int) -> Sketch:
        if index < 0:
            index += len(self.sketches)
        if not 0 <= index < len(self.sketches):
            raise IndexError(f"index {index} out of range for {len(self.sketches)} sketches")
        sketch = self.sketches[index]
        if self.transform is None:
            return sketch
        gen = np.random.default_rng([self.seed, self.epoch, int(index)])
        return self.transform(sketch, gen)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation stream (item ``i`` uses ``default_rng([seed, epoch, i])``)."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)

    def split(self, fractions: Sequence[float] = (0.9, 0.1), *, seed: int = 0) -> list["SketchDataset"]:
        """Seeded random split into datasets (see :func:`sketchkit.data.splits.split_indices`).

        The parts keep this dataset's transform and augmentation seed.

        Args:
            fractions: part sizes as fractions of ``len(self)``.
            seed: shuffle seed (independent of the augmentation seed).
        """
        parts = split_indices(len(self), fractions, seed=seed)
        return [SketchDataset([self.sketches[i] for i in idx], self.transform, seed=self.seed) for idx in parts]

    def __repr__(self) -> str:
        return f"SketchDataset(n={len(self)}, transform={getattr(self.transform, '__name__', self.transform)!r}, seed={self.seed})"
