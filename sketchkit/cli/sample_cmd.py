"""``sketchkit sample``: draw new sketches from a shipped model, a model folder or a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sketchkit.errors import InputError


def sample_command(
    model: str = typer.Argument(..., help="Shipped model name (bezier, cloud2curve, sketchode) or a model/run folder.", show_default=False),
    n: int = typer.Option(16, "-n", "--num", help="Number of sketches."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same sketches)."),
    temperature: float = typer.Option(1.0, "--temperature", "-t", help="Sampling temperature (> 0; lower is tidier)."),
    output: Path = typer.Option(..., "-o", "--output", help="grid.svg, grid.png, or a folder (one SVG per sketch).", show_default=False),
    device: str = typer.Option("cpu", "--device", help="auto, cpu or cuda."),
    columns: Optional[int] = typer.Option(None, "--columns", help="Grid columns (default: about the square root of -n)."),
    cell: int = typer.Option(128, "--cell", help="Grid cell size in pixels."),
    stroke_width: float = typer.Option(2.0, "--stroke-width", help="Line width in output pixels."),
) -> None:
    """Sample N sketches from MODEL and render them to an SVG/PNG grid or a folder of SVGs."""
    if n < 1:
        raise InputError(f"-n: expected at least 1, got {n}")
    if not temperature > 0:
        raise InputError(f"--temperature: expected a value > 0, got {temperature}")
    if columns is not None and columns < 1:
        raise InputError(f"--columns: expected at least 1, got {columns}")
    if cell < 1:
        raise InputError(f"--cell: expected a positive number of pixels, got {cell}")
    if device not in ("auto", "cpu", "cuda"):
        raise InputError(f"--device: expected auto, cpu or cuda, got {device!r}")
    from sketchkit.api import sample, save_samples

    items = sample(model, n, seed=seed, temperature=temperature, device=device)
    paths = save_samples(items, output, columns=columns, cell=cell, stroke_width=stroke_width)
    where = paths[0] if len(paths) == 1 else f"{output}/ ({len(paths)} files)"
    typer.echo(f"wrote {len(items)} sample(s) to {where}")


def register(app: typer.Typer) -> None:
    """Add ``sample`` to the CLI."""
    app.command("sample")(sample_command)
