"""Validation losses in fixed batches and sample grids written during training."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from sketchkit.models.base import SketchModel
from sketchkit.train.batches import _to_device
from sketchkit.train.config import TrainConfig
from sketchkit.train.rng import _mix_seed


@torch.no_grad()
def validation_losses(model: SketchModel, sketches: Sequence[Any], *, stage: str, batch_size: int = 32,
                      seed: int = 0, max_batches: int = 0, device: torch.device | None = None) -> dict[str, float]:
    """Mean of every scalar term of ``model.loss`` over ``sketches`` in fixed batches.

    Batches are consecutive slices (no shuffling) and each collate generator is seeded from
    ``(seed, stage, batch index)``, and ``model.loss`` is called with ``step=0`` (so step-dependent
    weights such as an annealed KL term take their step-0 value), so the numbers are comparable
    across calls, across training time, and between training and ``sketchkit eval``.

    Args:
        model: any family.
        sketches: held-out sketches.
        stage: which stage's loss to compute.
        batch_size: sketches per batch.
        seed: seeds the collate generators.
        max_batches: use at most this many batches (0 = all).
        device: where to compute (default: the model's device).

    Returns:
        ``{"loss": ..., <other terms>: ...}`` weighted by batch size; empty when ``sketches`` is empty.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
    device = device or model.device
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    count = 0
    try:
        for b, start in enumerate(range(0, len(sketches), batch_size)):
            if max_batches and b >= max_batches:
                break
            chunk = list(sketches[start:start + batch_size])
            g = torch.Generator().manual_seed(_mix_seed("val", seed, stage, b))
            batch = _to_device(model.collate(chunk, stage=stage, generator=g), device)
            out = model.loss(batch, step=0, stage=stage)
            for key, value in out.items():
                if isinstance(value, torch.Tensor) and value.numel() == 1:
                    totals[key] = totals.get(key, 0.0) + float(value.detach()) * len(chunk)
                elif isinstance(value, (int, float)):
                    totals[key] = totals.get(key, 0.0) + float(value) * len(chunk)
            count += len(chunk)
    finally:
        model.train(was_training)
    return {k: v / count for k, v in totals.items()} if count else {}


def _write_samples(model: SketchModel, path: Path, config: TrainConfig, step_seed: int) -> bool:
    """Render ``num_samples`` samples to ``path`` as an SVG grid; False when not possible."""
    try:
        from sketchkit.render import grid_svg
    except ImportError:
        return False
    was_training = model.training
    model.eval()
    try:
        g = torch.Generator(device="cpu").manual_seed(_mix_seed("samples", config.seed, step_seed))
        items = model.sample(config.num_samples, generator=g, temperature=config.sample_temperature)
    except NotImplementedError:
        return False
    finally:
        model.train(was_training)
    grid_svg(items, path)
    return True
