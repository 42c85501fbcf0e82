"""``sketchkit data``: inspect data files (``info``, ``formats``) and fetch Quick, Draw! (``download``).

No torch import: these commands only read and write files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import typer

from sketchkit.cli.reading import reader_options
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
    opts = reader_options(fmt=fmt, split=split, skip_bad=skip_bad, trust_pickle=trust_pickle)
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


@data_app.command("shard")
def shard_cmd(
    inputs: List[Path] = typer.Argument(..., help="Data files or folders in any format sketchkit reads.", show_default=False),
    out: Path = typer.Option(..., "-o", "--output", help="Shard folder to write (missing or empty).", show_default=False),
    shard_size: int = typer.Option(10_000, "--shard-size", help="Sketches per shard."),
    val_size: int = typer.Option(0, "--val-size", help="Sketches held out in val-*.tar shards (validation reads them)."),
    seed: int = typer.Option(0, "--seed", help="Seeds the shuffle buffer."),
    shuffle_buffer: int = typer.Option(10_000, "--shuffle-buffer", help="Sketches shuffled together while writing (0 = keep the interleaved order)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Write at most this many sketches."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Input format name (default: sniffed)."),
    split: Optional[str] = typer.Option(None, "--split", help="Only this split of the inputs (e.g. train)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip malformed records instead of stopping."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the shards and manifest in --output."),
    compress: bool = typer.Option(False, "--compress", help="gzip the shards (.tar.gz): ~3x smaller, slower to seek."),
) -> None:
    """Pack INPUTS into tar shards (WebDataset layout) plus manifest.json, for streaming training."""
    from sketchkit.data.shards import shard_inputs, write_shards

    if shard_size < 1:
        raise InputError(f"--shard-size: expected at least 1, got {shard_size}")
    if val_size < 0:
        raise InputError(f"--val-size: expected at least 0, got {val_size}")
    if limit is not None and limit < 1:
        raise InputError(f"--limit: expected at least 1, got {limit}")
    opts = reader_options(fmt=fmt, split=split, skip_bad=skip_bad)
    stream = shard_inputs(inputs, seed=seed, shuffle_buffer=shuffle_buffer, limit=limit, **opts)
    manifest = write_shards(stream, out, shard_size=shard_size, val_size=val_size, seed=seed,
                            sources=[str(p) for p in inputs], overwrite=overwrite, compress=compress)
    sp = manifest["splits"]
    if sp["train"]["count"] == 0:
        typer.echo(f"warning: --val-size {val_size} took every sketch: {out} has no training shards", err=True)
    typer.echo(f"wrote {out}: {manifest['total']} sketches, {sp['train']['shards']} training shard(s) "
               f"({sp['train']['count']}), {sp['val']['shards']} held-out shard(s) ({sp['val']['count']}), "
               f"{len(manifest['labels'])} label(s)")


download_app = typer.Typer(help="Download public datasets.", no_args_is_help=True)


def _read_categories_file(path: Path) -> list[str]:
    if not path.is_file():
        raise InputError(f"{path}: no such file (expected one category name per line)")
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    names = [n for n in names if n and not n.startswith("#")]
    if not names:
        raise InputError(f"{path}: holds no category names")
    return names


@download_app.command("quickdraw")
def download_quickdraw_cmd(
    categories: Optional[List[str]] = typer.Argument(None, help="Category names, e.g. cat 'The Eiffel Tower'.", show_default=False),
    categories_file: Optional[Path] = typer.Option(None, "--categories-file", help="More category names, one per line (e.g. Quick, Draw!'s categories.txt for all 345)."),
    fmt: str = typer.Option("simplified", "--format", "-f", help="raw | simplified | npz | bin"),
    out_dir: Path = typer.Option(Path("."), "-o", "--output", help="Folder to write into."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="Bucket root (default: Google's public bucket; env SKETCHKIT_QUICKDRAW_URL)."),
    sha256: Optional[str] = typer.Option(None, "--sha256", help="Expected SHA-256 of the file (one category only)."),
    timeout: float = typer.Option(30.0, "--timeout", help="Network timeout in seconds."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Download again even if the file exists."),
    jobs: int = typer.Option(4, "--jobs", "-j", help="Files downloaded in parallel."),
    shards: Optional[Path] = typer.Option(None, "--shards", help="Then pack the downloaded files into shards in this folder."),
    shard_size: int = typer.Option(10_000, "--shard-size", help="With --shards: sketches per shard."),
    val_size: int = typer.Option(0, "--val-size", help="With --shards: sketches held out in val-*.tar shards."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Download Quick, Draw! category files (in parallel, resumable; size and checksum checked).

    A file already present is kept (rerun after an interruption to fetch only what is missing;
    partial downloads resume from their .part file).
    """
    from concurrent.futures import ThreadPoolExecutor

    from sketchkit.data.download import QUICKDRAW_FORMATS, download_quickdraw

    names = list(categories or []) + (_read_categories_file(categories_file) if categories_file else [])
    names = list(dict.fromkeys(names))  # keep the order, drop repeats
    if not names:
        raise InputError("give at least one category (or --categories-file)")
    if fmt not in QUICKDRAW_FORMATS:
        raise InputError(f"--format: expected one of {', '.join(QUICKDRAW_FORMATS)}, got {fmt!r}")
    if sha256 and len(names) > 1:
        raise InputError("--sha256: applies to a single category")
    if jobs < 1:
        raise InputError(f"--jobs: expected at least 1, got {jobs}")
    bar = None
    tasks: dict[str, Any] = {}
    if not quiet:
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        bar = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                       TransferSpeedColumn(), transient=True)
        bar.start()

    def fetch(name: str) -> Path:
        progress_cb = None
        if bar is not None:
            task = tasks[name] = bar.add_task(name, total=None)
            progress_cb = lambda done, total: bar.update(task, completed=done, total=total)  # noqa: E731
        try:
            return download_quickdraw(name, fmt, out_dir, base_url=base_url, sha256=sha256, timeout=timeout,
                                      progress=progress_cb, overwrite=overwrite)
        finally:
            if bar is not None:
                bar.remove_task(tasks.pop(name))

    paths: list[Path] = []
    failed: list[tuple[str, str]] = []
    try:
        with ThreadPoolExecutor(max_workers=min(jobs, len(names))) as pool:
            futures = [(name, pool.submit(fetch, name)) for name in names]
            for name, future in futures:
                try:
                    paths.append(future.result())
                except InputError as exc:
                    failed.append((name, str(exc)))
    finally:
        if bar is not None:
            bar.stop()
    for path in paths:
        typer.echo(f"wrote {path} ({path.stat().st_size} bytes)")
    if failed:
        if len(names) == 1:
            raise InputError(failed[0][1])
        raise InputError(f"{len(failed)} of {len(names)} downloads failed ({', '.join(n for n, _ in failed[:5])}"
                         f"{', ...' if len(failed) > 5 else ''}); first: {failed[0][1]}; rerun to retry them")
    if shards is not None:
        from sketchkit.data.shards import shard_inputs, write_shards

        manifest = write_shards(shard_inputs(paths), shards, shard_size=shard_size, val_size=val_size,
                                sources=[str(p) for p in paths])
        typer.echo(f"wrote {shards}: {manifest['total']} sketches in {len(manifest['shards'])} shard(s)")


data_app.add_typer(download_app, name="download")


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to the CLI."""
    app.add_typer(data_app, name="data")
