"""``sketchkit data``: inspect data files (``info``, ``formats``) and fetch Quick, Draw! (``download``).

No torch import: these commands only read and write files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from sketchkit.errors import InputError

data_app = typer.Typer(help="Inspect sketch data files and download Quick, Draw! categories.",
                       no_args_is_help=True)


def _stat_line(name: str, stats: dict) -> str:
    return (f"{name:<9}min {stats['min']:g}  mean {stats['mean']:g}  max {stats['max']:g}  "
            f"total {stats['total']:g}")


@data_app.command("info")
def info_cmd(
    path: Path = typer.Argument(..., help="A data file or folder in any format sketchkit reads.", show_default=False),
    fmt: Optional[str] = typer.Option(None, "--format", help="Format name (default: sniffed); see `sketchkit data formats`."),
    split: Optional[str] = typer.Option(None, "--split", help="Only this split (train/valid/test for sketch-rnn npz)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip malformed records and count them instead of stopping."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow reading pickles (they can run code)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Format, number of sketches, labels, and stroke / point statistics of PATH."""
    from sketchkit.data import info

    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    opts: dict = {}
    if fmt:
        opts["format"] = fmt
    if split:
        opts["split"] = split
    if skip_bad:
        opts["on_error"] = "skip"
    if trust_pickle:
        opts["trust_pickle"] = True
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = info(path, **opts)
    for w in caught:
        typer.echo(f"warning: {w.message}", err=True)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    typer.echo(f"path     {summary['path']}")
    typer.echo(f"format   {summary['format']}")
    typer.echo(f"count    {summary['count']}")
    if "splits" in summary:
        typer.echo("splits   " + "  ".join(f"{k} {v}" for k, v in summary["splits"].items()))
    labels = summary.get("labels") or {}
    if labels:
        shown = sorted(labels.items(), key=lambda kv: -kv[1])[:12] if len(labels) > 12 else list(labels.items())
        more = f"  ... ({len(labels)} labels)" if len(labels) > 12 else ""
        typer.echo("labels   " + "  ".join(f"{k}: {v}" for k, v in shown) + more)
    for f in summary.get("files", []):
        typer.echo(f"  {f['count']:>8}  {f['format']:<19} {f['path']}")
    if "image_shape" in summary:
        typer.echo(f"images   {summary['image_shape'][0]}x{summary['image_shape'][1]}, "
                   f"mean ink fraction {summary['mean_ink_fraction']:g}, "
                   f"read as point clouds of {summary['points_per_sketch']} points")
    if "strokes" in summary:
        typer.echo(_stat_line("strokes", summary["strokes"]))
        typer.echo(_stat_line("points", summary["points"]))
        typer.echo(f"times    {'yes' if summary['has_times'] else 'no'}")
        if summary.get("bounds"):
            typer.echo("bounds   " + " ".join(f"{v:g}" for v in summary["bounds"]))
    if summary.get("skipped"):
        typer.echo(f"skipped  {summary['skipped']} malformed record(s)")


@data_app.command("formats")
def formats_cmd() -> None:
    """List the formats sketchkit reads (names for --format)."""
    from sketchkit.data import formats

    for name, fmt in sorted(formats().items()):
        typer.echo(f"{name:<20} {fmt.description}")


download_app = typer.Typer(help="Download public datasets.", no_args_is_help=True)


@download_app.command("quickdraw")
def download_quickdraw_cmd(
    category: str = typer.Argument(..., help="Category name, e.g. cat or 'The Eiffel Tower'.", show_default=False),
    fmt: str = typer.Option("simplified", "--format", "-f", help="raw | simplified | npz | bin"),
    out_dir: Path = typer.Option(Path("."), "-o", "--output", help="Folder to write into."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="Bucket root (default: Google's public bucket; env SKETCHKIT_QUICKDRAW_URL)."),
    sha256: Optional[str] = typer.Option(None, "--sha256", help="Expected SHA-256 of the file."),
    timeout: float = typer.Option(30.0, "--timeout", help="Network timeout in seconds."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Download again even if the file exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Download one Quick, Draw! category file (resumable; size and checksum checked)."""
    from sketchkit.data.download import QUICKDRAW_FORMATS, download_quickdraw

    if fmt not in QUICKDRAW_FORMATS:
        raise InputError(f"--format: expected one of {', '.join(QUICKDRAW_FORMATS)}, got {fmt!r}")
    progress_cb = None  # replaced by a progress-bar callback unless --quiet
    bar = None
    if not quiet:
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        bar = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                       TransferSpeedColumn(), transient=True)
        task = bar.add_task(category, total=None)

        def progress_cb(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        bar.start()
    try:
        path = download_quickdraw(category, fmt, out_dir, base_url=base_url, sha256=sha256,
                                  timeout=timeout, progress=progress_cb, overwrite=overwrite)
    finally:
        if bar is not None:
            bar.stop()
    typer.echo(f"wrote {path} ({path.stat().st_size} bytes)")


data_app.add_typer(download_app, name="download")


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to the CLI."""
    app.add_typer(data_app, name="data")
