"""``sketchkit sample``: draw new sketches from a shipped model, a model folder or a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sketchkit.errors import InputError

GRID_SUFFIXES = (".svg", ".png")


def check_output(output: Path) -> None:
    """``output`` must be a grid file (``.svg``/``.png``) or a folder: a path without an extension,
    or an existing folder. Anything else (``s.gif``) would silently become a folder named ``s.gif/``.

    Raises:
        InputError: naming the path and the supported kinds.
    """
    suffix = output.suffix.lower()
    if suffix in GRID_SUFFIXES or output.is_dir():
        return
    if suffix:
        raise InputError(f"{output}: unsupported output type {suffix!r} (supported: .svg grid, .png grid, "
                         f"or a folder name without an extension for one SVG per sketch)")
    if output.exists():
        raise InputError(f"{output}: exists and is not a folder (use a .svg or .png name for a grid)")


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
    label: Optional[str] = typer.Option(None, "--class", help="Class to draw (class-conditional models; see the model card).", show_default=False),
    min_class_posterior: float = typer.Option(
        0.0, "--min-class-posterior",
        help="Class-conditional bezier models: redraw a sample (up to 8 draws) while the model's own "
             "p(class | sketch) is below this (0: off; the model card gives the measured effect)."),
    component_temperature: Optional[float] = typer.Option(
        None, "--component-temperature",
        help="bezier models: temperature of the choice of mixture component alone (> 0; default: "
             "--temperature, as in sketch-rnn). Lower keeps to the likeliest components.",
        show_default=False),
    best_of: int = typer.Option(
        1, "--best-of",
        help="bezier models with a sample critic (the shipped one): draw each sketch this many times "
             "and keep the draw the critic rates most like real drawings (1: off)."),
    max_overdraw: Optional[float] = typer.Option(
        None, "--max-overdraw",
        help="bezier models: redraw a curve (up to 4 draws) while more than this share of it lies on "
             "other strokes, so strokes cross but seldom retrace each other (0-1; default: off).",
        show_default=False),
) -> None:
    """Sample N sketches from MODEL and render them to an SVG/PNG grid or a folder of SVGs."""
    if n < 1:
        raise InputError(f"-n: expected at least 1, got {n}")
    if not temperature > 0 or temperature == float("inf"):
        raise InputError(f"--temperature: expected a finite value > 0, got {temperature}")
    if columns is not None and columns < 1:
        raise InputError(f"--columns: expected at least 1, got {columns}")
    if cell < 1:
        raise InputError(f"--cell: expected a positive number of pixels, got {cell}")
    if device not in ("auto", "cpu", "cuda"):
        raise InputError(f"--device: expected auto, cpu or cuda, got {device!r}")
    if not 0.0 <= min_class_posterior <= 1.0:
        raise InputError(f"--min-class-posterior: expected a number in [0, 1], got {min_class_posterior}")
    if component_temperature is not None and not 0 < component_temperature < float("inf"):
        raise InputError(f"--component-temperature: expected a finite value > 0, got {component_temperature}")
    if best_of < 1:
        raise InputError(f"--best-of: expected at least 1, got {best_of}")
    if max_overdraw is not None and not 0.0 <= max_overdraw <= 1.0:
        raise InputError(f"--max-overdraw: expected a number in [0, 1], got {max_overdraw}")
    check_output(output)
    from sketchkit.api import load, sample, save_samples

    if (label is None and not min_class_posterior and component_temperature is None and best_of == 1
            and max_overdraw is None):
        items = sample(model, n, seed=seed, temperature=temperature, device=device)
    else:
        items = _sample_class(load(model, device=device), model, label, n, seed=seed, temperature=temperature,
                              min_class_posterior=min_class_posterior,
                              component_temperature=component_temperature, best_of=best_of,
                              max_overdraw=max_overdraw)
    paths = save_samples(items, output, columns=columns, cell=cell, stroke_width=stroke_width)
    where = paths[0] if len(paths) == 1 else f"{output}/ ({len(paths)} files)"
    typer.echo(f"wrote {len(items)} sample(s) to {where}")


def _sample_class(loaded, name: str, label: str | None, n: int, *, seed: int, temperature: float,
                  min_class_posterior: float = 0.0, component_temperature: float | None = None,
                  best_of: int = 1, max_overdraw: float | None = None) -> list:
    """``n`` samples of class ``label`` (``None``: classes drawn by the model), optionally redrawn
    by the model's own class posterior, with the model-specific sampling options the flags name
    (same seeding as :func:`sketchkit.api.sample`)."""
    import inspect

    import torch

    family = loaded.config.family
    try:
        params = inspect.signature(loaded.sample).parameters
    except (TypeError, ValueError):
        params = {}
    options = {}
    if label is not None:
        if "label" not in params:
            raise InputError(f"--class: the {family!r} model ({name}) cannot sample a chosen class")
        if not tuple(getattr(loaded, "labels", ()) or ()):
            raise InputError(f"--class: {name} is unconditional (trained without class labels); omit --class")
        options["label"] = label
    if min_class_posterior:
        if "min_class_posterior" not in params:
            raise InputError(f"--min-class-posterior: the {family!r} model ({name}) has no class posterior")
        options["min_class_posterior"] = float(min_class_posterior)
    if component_temperature is not None:
        if "component_temperature" not in params:
            raise InputError(f"--component-temperature: the {family!r} model ({name}) does not take one "
                             f"(bezier models do)")
        options["component_temperature"] = float(component_temperature)
    if best_of > 1:
        if getattr(loaded, "critic", None) is None:
            raise InputError(f"--best-of: the {family!r} model ({name}) has no sample critic to rank draws by")
        options["best_of"] = int(best_of)
    if max_overdraw is not None:
        if "max_overdraw" not in params:
            raise InputError(f"--max-overdraw: the {family!r} model ({name}) does not take one (bezier models do)")
        options["max_overdraw"] = float(max_overdraw)
    loaded.eval()
    generator = torch.Generator().manual_seed(int(seed))
    try:
        return list(loaded.sample(n, generator=generator, temperature=float(temperature), **options))
    except ValueError as exc:  # unknown class (the model's message lists the known ones), no posterior
        # (--component-temperature, --best-of and --max-overdraw were checked above: the model raises
        # nothing more for them)
        flag = f"--class {label!r}" if "unknown class" in str(exc) else "--min-class-posterior"
        raise InputError(f"{flag}: {' '.join(str(exc).split())}") from None


def register(app: typer.Typer) -> None:
    """Add ``sample`` to the CLI."""
    app.command("sample")(sample_command)
