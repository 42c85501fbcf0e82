"""``sketchkit convert IN -o OUT``: between ndjson / npz / bin / svg (file or folder of SVGs).

No torch import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sketchkit.cli.reading import reader_options
from sketchkit.errors import InputError


def convert(
    input: Path = typer.Argument(..., help="Input file or folder (any format sketchkit reads).", show_default=False),
    output: Path = typer.Option(..., "-o", "--output",
                                help="Output: .ndjson, .npz (sketch-rnn), .bin (Quick, Draw!), .svg (one sketch) "
                                     "or a folder (one SVG per sketch).", show_default=False),
    fmt: Optional[str] = typer.Option(None, "--format", help="Input format name (default: sniffed)."),
    split: Optional[str] = typer.Option(None, "--split", help="Only this split of the input (sketch-rnn npz: train/valid/test)."),
    category: Optional[list[str]] = typer.Option(None, "--category", "-c", help="Keep only this category (repeatable)."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="Convert at most this many sketches."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip malformed input records (counted and reported)."),
    tolerance: Optional[float] = typer.Option(None, "--tolerance", help="SVG input: curve flattening tolerance (user units)."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow pickled input (it can run code)."),
    size: int = typer.Option(256, "--size", help="SVG output: canvas size in pixels."),
) -> None:
    """Convert sketches from INPUT to OUTPUT (the output type comes from its suffix)."""
    import warnings

    from sketchkit.data import read
    from sketchkit.data.writers import OUTPUT_KINDS, write

    if not input.exists():
        raise InputError(f"{input}: no such file or folder")
    kind = OUTPUT_KINDS.get(output.suffix.lower())
    if kind is None:
        raise InputError(f"{output}: unknown output type {output.suffix!r} (use .ndjson, .npz, .bin, .svg or a folder)")
    if limit is not None and limit < 0:
        raise InputError(f"--limit: expected >= 0, got {limit}")
    if output.resolve() == input.resolve():
        raise InputError(f"{output}: output is the input file")
    opts = reader_options(fmt=fmt, split=split, trust_pickle=trust_pickle)
    if category:
        opts["categories"] = list(category)
    if tolerance is not None:
        opts["tolerance"] = tolerance
    import itertools

    reader = read(input, on_error="skip" if skip_bad else "raise", limit=limit, **opts)
    wopts = {"size": size} if kind in ("svg", "svg-folder") else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = next(reader, None)  # nothing to convert is an error, found before any output is written
        if first is None:
            for w in caught:
                typer.echo(f"warning: {w.message}", err=True)
            raise InputError(_nothing_to_convert(input, len(reader.skipped), bool(category), limit))
        try:
            n = write(itertools.chain([first], reader), output, kind=kind, **wopts)
        except ValueError as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(str(exc)) from None
    for w in caught:
        typer.echo(f"warning: {w.message}", err=True)
    skipped = len(reader.skipped)
    typer.echo(f"wrote {n} sketch(es) to {output}" + (f"; skipped {skipped} malformed record(s)" if skipped else ""))


def _nothing_to_convert(input: Path, skipped: int, filtered: bool, limit: Optional[int]) -> str:
    if limit == 0:
        return f"{input}: --limit 0 leaves no sketch to convert; nothing written"
    why = []
    if input.is_dir():
        why.append("the folder holds no file in a format sketchkit reads" if not skipped and not filtered
                   else "no file gave a sketch")
    if skipped:
        why.append(f"all {skipped} record(s) read were malformed and skipped")
    if filtered:
        why.append("no sketch matched --category")
    return f"{input}: no sketches to convert ({'; '.join(why) or 'it is empty'}); nothing written"


def register(app: typer.Typer) -> None:
    """Add ``convert`` to the CLI."""
    app.command("convert")(convert)
