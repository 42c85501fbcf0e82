"""What users call: load a model, draw samples, render them, evaluate a run on held-out data.

Torch is imported inside the functions, so ``import sketchkit.api`` stays light.

Example::

    from sketchkit.api import sample, save_samples
    sketches = sample("bezier", 16, seed=0, temperature=0.6)   # shipped model, or a run/model folder
    save_samples(sketches, "grid.svg")                        # or "grid.png", or "folder/"
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from sketchkit.errors import InputError
from sketchkit.sketch import BezierSketch, Sketch

__all__ = ["load", "sample", "save_samples", "evaluate"]


def load(name_or_dir: str | os.PathLike, *, device: str = "cpu") -> Any:
    """Load any family's model: a shipped name, a model folder, or a run folder (``best/`` else ``last/``).

    Args:
        name_or_dir: shipped model name (see :func:`sketchkit.pretrained.available`) or a folder.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.

    Returns:
        The :class:`~sketchkit.models.base.SketchModel`, in eval mode.

    Raises:
        ModelLoadError: nothing loadable there.
    """
    from sketchkit.models.base import load_model
    from sketchkit.train import resolve_device

    path = Path(name_or_dir)
    if path.is_dir() and not any((path / d / "config.json").is_file() for d in ("", "best", "last")):
        # a crash between the two renames of a checkpoint switch leaves the previous one in last.old/
        # (read-only here: the next training start moves it back)
        for old in ("best.old", "last.old"):
            if (path / old / "config.json").is_file():
                name_or_dir = path / old
                break
    return load_model(name_or_dir, device=resolve_device(device))


def sample(name_or_dir: str | os.PathLike | Any, n: int, *, seed: int = 0, temperature: float = 1.0,
           device: str = "cpu") -> list[Sketch | BezierSketch]:
    """Draw ``n`` sketches from a model (deterministic for a given seed).

    Args:
        name_or_dir: shipped model name, model/run folder, or an already loaded model.
        n: number of sketches (>= 1).
        seed: seeds the CPU ``torch.Generator`` handed to ``model.sample``.
        temperature: sampling temperature (> 0; lower is tidier, higher more varied).
        device: where to run the model (``"auto"``, ``"cpu"``, ``"cuda"``).

    Returns:
        ``n`` sketches (``Sketch`` or ``BezierSketch``, per family).

    Raises:
        InputError: ``n`` < 1, ``temperature`` <= 0, or a family that cannot generate.
    """
    import torch

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"n: expected an integer >= 1, got {n!r}")
    if not temperature > 0:
        raise InputError(f"temperature: expected a value > 0, got {temperature!r}")
    from sketchkit.models.base import SketchModel

    model = name_or_dir if isinstance(name_or_dir, SketchModel) else load(name_or_dir, device=device)
    model.eval()
    generator = torch.Generator().manual_seed(int(seed))
    try:
        items = model.sample(n, generator=generator, temperature=float(temperature))
    except NotImplementedError as exc:
        raise InputError(f"{name_or_dir}: the {model.config.family!r} model cannot sample ({exc})") from None
    return list(items)


def save_samples(items: Sequence[Sketch | BezierSketch], out: str | os.PathLike, *, columns: int | None = None,
                 cell: int = 128, size: int = 256, stroke_width: float = 2.0) -> list[Path]:
    """Render sketches: ``*.svg`` -> one grid SVG, ``*.png`` -> one grid PNG, else a folder of SVGs.

    Args:
        items: sketches to draw (at least one).
        out: output path. A path ending in ``.svg`` or ``.png`` gets a grid; any other path is a
            folder (created) that receives ``sample_000.svg``, ``sample_001.svg``, ...
        columns: grid columns (default: about the square root of the count).
        cell: grid cell size in pixels.
        size: canvas size of each single SVG in folder mode.
        stroke_width: stroke width in pixels.

    Returns:
        The files written (each atomically).

    Raises:
        InputError: no items.
    """
    from sketchkit.render import grid_svg, to_png, to_svg

    items = list(items)
    if not items:
        raise InputError("no sketches to render")
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".svg":
        grid_svg(items, out, columns=columns, cell=cell, stroke_width=stroke_width)
        return [out]
    if suffix == ".png":
        svg = grid_svg(items, None, columns=columns, cell=cell, stroke_width=stroke_width)
        to_png(svg, out)
        return [out]
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder (use a .svg or .png name for a grid)")
    out.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(len(items) - 1)))
    paths = []
    for i, item in enumerate(items):
        path = out / f"sample_{i:0{width}d}.svg"
        to_svg(item, path, size=size, stroke_width=stroke_width)
        paths.append(path)
    return paths


def evaluate(name_or_dir: str | os.PathLike | Any, sketches: Sequence[Sketch], *, batch_size: int = 32,
             seed: int = 0, device: str = "cpu", stages: Sequence[str] | None = None) -> dict[str, Any]:
    """Validation losses per stage and the family's own metrics on held-out sketches.

    Args:
        name_or_dir: shipped model name, model/run folder, or a loaded model.
        sketches: held-out sketches (at least one).
        batch_size: sketches per loss batch.
        seed: seeds the collate generators (fixed batches, comparable across models).
        device: where to compute.
        stages: stages whose loss to report (default: all of the family's stages).

    Returns:
        ``{"family": str, "count": int, "losses": {stage: {term: mean}}, "metrics": {name: value}}``
        where ``metrics`` is ``model.evaluate(sketches)`` (e.g. reconstruction Chamfer distance in
        normalised units, where the family reconstructs).

    Raises:
        InputError: no sketches, or an unknown stage.
    """
    import torch

    from sketchkit.models.base import SketchModel
    from sketchkit.train import validation_losses

    sketches = list(sketches)
    if not sketches:
        raise InputError("evaluate: no sketches")
    model = name_or_dir if isinstance(name_or_dir, SketchModel) else load(name_or_dir, device=device)
    model.eval()
    wanted = list(model.stages) if stages is None else list(stages)
    unknown = [s for s in wanted if s not in model.stages]
    if unknown:
        raise InputError(f"unknown stage(s) {unknown} (stages of {model.config.family!r}: {list(model.stages)})")
    losses = {stage: validation_losses(model, sketches, stage=stage, batch_size=batch_size, seed=seed)
              for stage in wanted}
    with torch.no_grad():
        metrics = {k: float(v) for k, v in model.evaluate(sketches).items()}
    return {"family": model.config.family, "count": len(sketches), "losses": losses, "metrics": metrics}
