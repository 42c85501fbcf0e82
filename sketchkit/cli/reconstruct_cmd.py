"""``sketchkit reconstruct | interpolate | complete``: a model's latent-space abilities on your sketches.

Each reads sketches by index from any file sketchkit reads, calls one model method
(``reconstruct``, ``interpolate``, ``complete``) and renders the result as a grid (``.svg``/``.png``)
or a folder of SVGs, like ``sketchkit sample``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from sketchkit.errors import InputError

_MODEL_HELP = "Shipped model name (bezier, sketchode, ...) or a model/run folder."
_OUTPUT_HELP = "grid.svg, grid.png, or a folder (one SVG per sketch)."


def _sketches_of(path: Path, split: Optional[str], cloud: Optional[str]) -> Any:
    """The sketches of ``path`` as an iterator. ``cloud``: how raster data becomes point clouds
    (``"ink"`` / ``"centreline"``; None: the reader's default)."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    from sketchkit.data import read

    options = {"split": split} if split else {}
    if cloud:
        options["cloud"] = cloud
    return read(path, **options)


def _check_indices(path: Path, indices: list[int]) -> None:
    for i in indices:
        if i < 0:
            raise InputError(f"{path}: index must be >= 0, got {i}")


def _read_indexed(path: Path, indices: list[int], split: Optional[str], cloud: Optional[str] = None) -> list[Any]:
    """The sketches at ``indices`` (0-based, any order) of ``path``; one-line errors when out of range."""
    _check_indices(path, indices)
    wanted = set(indices)
    found: dict[int, Any] = {}
    for i, sketch in enumerate(_sketches_of(path, split, cloud)):
        if i in wanted:
            found[i] = sketch
            if len(found) == len(wanted):
                break
    missing = sorted(wanted - set(found))
    if missing:
        raise InputError(f"{path}: has no sketch at index {missing[0]} (it holds fewer sketches)")
    return [found[i] for i in indices]


def _read_up_to(path: Path, index: int, count: int, split: Optional[str], cloud: Optional[str]) -> list[Any]:
    """Sketches ``index .. index + count - 1`` of ``path``, fewer where it ends sooner (at least one)."""
    from itertools import islice

    _check_indices(path, [index])
    found = list(islice(_sketches_of(path, split, cloud), index, index + count))
    if not found:
        raise InputError(f"{path}: has no sketch at index {index} (it holds fewer sketches)")
    return found


def _model_method(model_name: str, method: str) -> tuple[Any, Any]:
    from sketchkit.api import load

    model = load(model_name)
    fn = getattr(model, method, None)
    if fn is None:
        raise InputError(f"{model_name}: the {model.config.family!r} model cannot {method}")
    return model, fn


def _save(items: list[Any], output: Path, columns: Optional[int]) -> None:
    from sketchkit.api import save_samples

    paths = save_samples(items, output, columns=columns)
    where = paths[0] if len(paths) == 1 else f"{output}/ ({len(paths)} files)"
    typer.echo(f"wrote {len(items)} sketch(es) to {where}")


def reconstruct_command(
    model: str = typer.Argument(..., help=_MODEL_HELP, show_default=False),
    input: Path = typer.Argument(..., help="Sketch file (ndjson, npz, svg, png, ...).", show_default=False),
    output: Path = typer.Option(..., "-o", "--output", help=_OUTPUT_HELP, show_default=False),
    index: int = typer.Option(0, "--index", "-i", help="First sketch to reconstruct (0-based)."),
    count: Optional[int] = typer.Option(None, "--count", "-n", show_default=False,
                                        help="Number of sketches (default: up to 8, as many as INPUT holds)."),
    split: Optional[str] = typer.Option(None, "--split", help="Split of a multi-split file (train/valid/test)."),
    cloud: Optional[str] = typer.Option(None, "--cloud", help="Raster input (K-MNIST, MNIST, a PNG): points on the "
                                        "'ink' or on its 'centreline' (what cloud2curve_kmnist was trained on)."),
    no_label: bool = typer.Option(False, "--no-label", help="Hide the inputs' labels from the model (one "
                                  "trained with class dropout, such as cloud2curve, reads the shape alone)."),
) -> None:
    """Encode and decode sketches from INPUT: the grid's first row holds the inputs, the second the reconstructions."""
    if count is not None and count < 1:
        raise InputError(f"--count: expected at least 1, got {count}")
    if count is None:  # up to 8: a one-drawing file (an image, an SVG) needs no -n 1
        sketches = _read_up_to(input, index, 8, split, cloud)
    else:
        sketches = _read_indexed(input, list(range(index, index + count)), split, cloud)
    if no_label:
        import dataclasses

        sketches = [dataclasses.replace(s, label=None) for s in sketches]
    _, fn = _model_method(model, "reconstruct")
    try:
        results = list(fn(sketches))
    except ValueError as exc:  # labels the model does not know, or none where it needs them
        raise InputError(f"{input}: {' '.join(str(exc).split())}") from None
    _save(list(sketches) + results, output, columns=len(sketches))


def interpolate_command(
    model: str = typer.Argument(..., help=_MODEL_HELP, show_default=False),
    input: Path = typer.Argument(..., help="Sketch file (ndjson, npz, svg, ...).", show_default=False),
    output: Path = typer.Option(..., "-o", "--output", help=_OUTPUT_HELP, show_default=False),
    start: int = typer.Option(0, "--from", help="Index of the first sketch."),
    end: int = typer.Option(1, "--to", help="Index of the second sketch."),
    steps: int = typer.Option(8, "--steps", help="Sketches on the path, both ends included (>= 2)."),
    split: Optional[str] = typer.Option(None, "--split", help="Split of a multi-split file (train/valid/test)."),
) -> None:
    """Decode evenly spaced points on the latent line between two sketches of INPUT."""
    if steps < 2:
        raise InputError(f"--steps: expected at least 2, got {steps}")
    a, b = _read_indexed(input, [start, end], split)
    _, fn = _model_method(model, "interpolate")
    _save(list(fn(a, b, steps)), output, columns=steps)


def complete_command(
    model: str = typer.Argument(..., help=_MODEL_HELP, show_default=False),
    input: Path = typer.Argument(..., help="Sketch file holding the partial sketch.", show_default=False),
    output: Path = typer.Option(..., "-o", "--output", help=_OUTPUT_HELP, show_default=False),
    index: int = typer.Option(0, "--index", "-i", help="Which sketch of INPUT (0-based)."),
    keep: Optional[int] = typer.Option(None, "--keep-strokes", help="Use only its first K strokes as the partial (default: half, at least 1)."),
    n: int = typer.Option(4, "-n", "--num", help="Number of completions."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same completions)."),
    temperature: float = typer.Option(0.5, "--temperature", "-t", help="Sampling temperature (> 0)."),
    split: Optional[str] = typer.Option(None, "--split", help="Split of a multi-split file (train/valid/test)."),
) -> None:
    """Continue a partial sketch N times; the grid's first cell is the partial itself."""
    if n < 1:
        raise InputError(f"-n: expected at least 1, got {n}")
    if not temperature > 0:
        raise InputError(f"--temperature: expected a value > 0, got {temperature}")
    (sketch,) = _read_indexed(input, [index], split)
    if sketch.num_strokes == 0:
        raise InputError(f"{input}: sketch {index} has no strokes to continue")
    k = keep if keep is not None else max(1, sketch.num_strokes // 2)
    if not 1 <= k <= sketch.num_strokes:
        raise InputError(f"--keep-strokes: expected 1..{sketch.num_strokes}, got {k}")
    from sketchkit.sketch import Sketch

    partial = Sketch(sketch.strokes[:k], label=sketch.label, meta=dict(sketch.meta))
    _, fn = _model_method(model, "complete")
    import torch

    generator = torch.Generator().manual_seed(seed)
    completions = fn(partial, n, generator=generator, temperature=temperature)
    _save([partial, *completions], output, columns=None)


def register(app: typer.Typer) -> None:
    """Add ``reconstruct``, ``interpolate`` and ``complete`` to the CLI."""
    app.command("reconstruct")(reconstruct_command)
    app.command("interpolate")(interpolate_command)
    app.command("complete")(complete_command)
