"""``sketchkit eval``: validation losses per stage and the family's metrics on held-out data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from sketchkit.errors import InputError


def eval_command(
    model: str = typer.Argument(..., help="Run folder (best/ else last/), model folder, or shipped model name.", show_default=False),
    data: List[Path] = typer.Option(..., "--data", "-d", help="Held-out data file or folder (repeatable).", show_default=False),
    limit: Optional[int] = typer.Option(None, "--limit", help="Evaluate at most this many sketches."),
    batch_size: int = typer.Option(32, "--batch-size", help="Sketches per loss batch."),
    seed: int = typer.Option(0, "--seed", help="Seeds the batch generators (fixed batches)."),
    device: str = typer.Option("cpu", "--device", help="auto, cpu or cuda."),
    stage: Optional[List[str]] = typer.Option(None, "--stage", help="Report only this stage's loss (repeatable)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Input format name (default: sniffed)."),
    split: Optional[str] = typer.Option(None, "--split", help="Split of a multi-split file (e.g. test)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Evaluate MODEL on --data: mean loss terms per stage and the family's own metrics."""
    if limit is not None and limit < 1:
        raise InputError(f"--limit: expected at least 1, got {limit}")
    if batch_size < 1:
        raise InputError(f"--batch-size: expected at least 1, got {batch_size}")
    if device not in ("auto", "cpu", "cuda"):
        raise InputError(f"--device: expected auto, cpu or cuda, got {device!r}")
    from sketchkit.api import evaluate
    from sketchkit.cli.train_cmd import read_sketches

    sketches = read_sketches(list(data), limit=limit, fmt=fmt, split=split)
    result = evaluate(model, sketches, batch_size=batch_size, seed=seed, device=device, stages=stage or None)
    result = {"model": str(model), "data": [str(p) for p in data], **result}
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result['family']} on {result['count']} sketch(es)")
    table.add_column("stage / metric")
    table.add_column("term")
    table.add_column("value", justify="right")
    for stage_name, terms in result["losses"].items():
        for term, value in terms.items():
            table.add_row(stage_name, term, f"{value:.6g}")
    for name, value in result["metrics"].items():
        table.add_row("metrics", name, f"{value:.6g}")
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``eval`` to the CLI."""
    app.command("eval")(eval_command)
