"""Class conditioning shared by model families: class names from the data, name/index -> class id,
and the ``label=`` argument of ``sample``.

A conditional family keeps ``labels: tuple[str, ...]`` in its config (index = class id; empty or
a single class = unconditional) and calls these helpers, so every family answers the same way:
names match with spaces and underscores alike, an integer is a class index, an unknown class is
a ``ValueError`` listing the known ones, and ``label=`` on an unconditional model is a
``ValueError`` saying so.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from sketchkit.sketch import Sketch

__all__ = ["ClassConditional", "labels_from_data", "with_data_labels", "class_index", "class_ids", "sample_classes", "join_class"]


def labels_from_data(sketches: Sequence[Sketch]) -> tuple[str, ...]:
    """Sorted distinct labels of ``sketches`` (unlabelled ones ignored); ``()`` when fewer than two."""
    names = sorted({str(s.label) for s in sketches if s.label is not None})
    return tuple(names) if len(names) >= 2 else ()


def with_data_labels(config: Any, sketches: Sequence[Sketch]) -> Any:
    """``config`` with ``labels`` from the training sketches when it is ``conditional`` and has none
    yet (only with two or more classes; otherwise the model stays unconditional)."""
    if config.conditional and not config.labels:
        names = labels_from_data(sketches)
        if names:
            config = config.replace(labels=names)
    return config


def join_class(z: torch.Tensor, classes: torch.Tensor | None, embed: torch.nn.Module | None,
               labels: Sequence[str]) -> torch.Tensor:
    """Decoder condition ``(B, d + class_dim)``: ``z`` ``(B, d)`` and the class embedding of
    ``classes`` ``(B,)`` (``z`` alone for an unconditional model, ``embed`` ``None``).

    Raises:
        ValueError: class ids for an unconditional model, or none for a conditional one.
    """
    if embed is None:
        if classes is not None:
            raise ValueError("this model is unconditional (trained without class labels); omit classes/label")
        return z
    if classes is None:
        raise ValueError(f"a conditional model needs class ids (known classes: {', '.join(labels)})")
    return torch.cat([z, embed(classes.to(z.device))], dim=-1)


def class_index(labels: Sequence[str], label: str | int) -> int:
    """Class id of ``label`` (a name, spaces and underscores alike, or an index) among ``labels``.

    Raises:
        ValueError: ``labels`` is empty (an unconditional model), or the label is unknown (the
            message lists the known classes), or an index is out of range.
    """
    names = tuple(labels)
    if not names:
        raise ValueError("this model is unconditional (trained without class labels); omit label=")
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
        if 0 <= int(label) < len(names):
            return int(label)
        raise ValueError(f"class index {label} out of range 0..{len(names) - 1}")
    key = str(label).strip().replace(" ", "_")
    for i, name in enumerate(names):
        if name == str(label) or name.replace(" ", "_") == key:
            return i
    raise ValueError(f"unknown class {label!r}; known classes: {', '.join(names)}")


def class_ids(labels: Sequence[str], per_item: Sequence[Any], unknown: int | None = None) -> torch.Tensor:
    """``(B,)`` long class ids of per-item labels (each resolved by :func:`class_index`).

    ``unknown``: the id that a ``None`` label gets, for a model trained to draw without a class
    (see ``class_dropout``); ``None`` (the default) refuses unlabelled items.

    Raises:
        ValueError: as :func:`class_index`, or an unlabelled item when ``unknown`` is ``None``.
    """
    if unknown is None and any(x is None for x in per_item):
        raise ValueError(f"an unlabelled sketch given to a conditional model that needs labels "
                         f"(known classes: {', '.join(labels)})")
    return torch.tensor([unknown if x is None else class_index(labels, x) for x in per_item], dtype=torch.long)


def sample_classes(labels: Sequence[str], n: int, label: Any,
                   generator: torch.Generator | None) -> torch.Tensor | None:
    """Class ids ``(n,)`` for ``sample(n, label=...)``.

    ``label`` None: uniform draws with ``generator`` (``None`` for an unconditional model); a name
    or index: that class for all ``n``; a sequence: one class per sample (length ``n``).

    Raises:
        ValueError: as :func:`class_index`, or a sequence whose length is not ``n``.
    """
    if label is None:
        if not labels:
            return None
        return torch.randint(len(labels), (n,), generator=generator)
    if isinstance(label, (str, int, np.integer)):
        return torch.full((n,), class_index(labels, label), dtype=torch.long)
    label = list(label)
    if len(label) != n:
        raise ValueError(f"label: expected one class or {n} classes, got {len(label)}")
    return class_ids(labels, label)


class ClassConditional:
    """Mixin of the class API every conditional family shares: ``labels``, ``class_index`` and
    per-sketch class ids. The model sets ``num_classes`` (0 when unconditional) and keeps the class
    names in ``config.labels``."""

    num_classes: int
    config: Any
    unknown_class: int | None = None  # id of the "no label" class, for models trained with hidden labels

    @property
    def labels(self) -> tuple[str, ...]:
        """Class names this model is conditioned on (index = class id); empty when unconditional."""
        return tuple(self.config.labels) if self.num_classes else ()

    def class_index(self, label: str | int) -> int:
        """Class id of ``label`` (a name, spaces and underscores alike, or an index).

        Raises:
            ValueError: the model is unconditional, or the label is unknown (the message lists
                the known classes).
        """
        return class_index(self.labels, label)

    def _class_ids(self, labels: Sequence[Any]) -> torch.Tensor | None:
        """``(B,)`` class ids of per-sketch labels (``None`` for an unconditional model); an
        unlabelled sketch gets :attr:`unknown_class` where the model has one."""
        return class_ids(self.labels, labels, self.unknown_class) if self.num_classes else None
