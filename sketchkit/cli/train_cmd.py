"""``sketchkit train FAMILY``: train any registered model family through :func:`sketchkit.train.train`.

Runs unchanged under ``torchrun --nproc_per_node=N -m sketchkit.cli.app train ...`` (DDP).
``--data`` naming one shard folder (``sketchkit data shard``) streams it instead of reading every
sketch into memory (see :mod:`sketchkit.train.stream`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from sketchkit.errors import InputError


#: streamed shards: model settings that depend on the data (config_for_data) see this many sketches
STREAM_SAMPLE = 5000


def read_sketches(paths: List[Path], *, limit: Optional[int], fmt: Optional[str], split: Optional[str]) -> list:
    """Read sketches from data files/folders with :func:`sketchkit.data.read_all` (InputError when none)."""
    from sketchkit.data import read_all

    for p in paths:
        if not Path(p).exists():
            raise InputError(f"{p}: no such file or folder")
    opts: dict[str, Any] = {}
    if fmt is not None:
        opts["format"] = fmt
    if split is not None:
        opts["split"] = split
    sketches = read_all([str(p) for p in paths], limit=limit, **opts)
    if not sketches:
        raise InputError(f"{', '.join(str(p) for p in paths)}: no sketches read")
    return sketches


def split_validation(sketches: list, fraction: float, seed: int) -> tuple[list, list]:
    """Deterministic train/validation split: a seeded permutation, the first ``round(fraction*n)`` held out."""
    import numpy as np

    if not 0 <= fraction < 1:
        raise InputError(f"--val-fraction: expected a value in [0, 1), got {fraction}")
    n_val = int(round(fraction * len(sketches)))
    if n_val == 0:
        return list(sketches), []
    if n_val >= len(sketches):
        raise InputError(f"--val-fraction {fraction} leaves no training sketches out of {len(sketches)}")
    order = np.random.default_rng(seed).permutation(len(sketches))
    held = set(order[:n_val].tolist())
    return [s for i, s in enumerate(sketches) if i not in held], [sketches[i] for i in sorted(held)]


def train_command(
    family: str = typer.Argument(..., help="Model family: bezier, cloud2curve, sketchode (any registered family).", show_default=False),
    more_data: Optional[List[Path]] = typer.Argument(None, help="More data files/folders (so `--data a.ndjson b.ndjson` works).", show_default=False),
    data: Optional[List[Path]] = typer.Option(None, "--data", "-d", help="Training data file(s) or folder(s): --data a b or --data a --data b. On --resume: defaults to the run's data."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder (checkpoints, metrics, samples).", show_default=False),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Override a setting: train.lr=1e-3, model.hidden=64 (repeatable)."),
    config: Optional[Path] = typer.Option(None, "--config", help="JSON or TOML file with train and model sections (--set wins over it)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start a new run in a non-empty --out: delete only the files an earlier run wrote there."),
    stage: Optional[List[str]] = typer.Option(None, "--stage", help="Train only this stage (repeatable; default: all, in order)."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu or cuda (default: train.device, auto)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar (CI)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Read at most this many sketches."),
    val_fraction: Optional[float] = typer.Option(None, "--val-fraction", help="Hold out this fraction for validation (default 0.1; ignored with --val-data)."),
    val_data: Optional[List[Path]] = typer.Option(None, "--val-data", help="Separate validation data file (repeatable)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Input format name (default: sniffed)."),
    split: Optional[str] = typer.Option(None, "--split", help="Split of a multi-split file for training (e.g. train)."),
    val_split: Optional[str] = typer.Option(None, "--val-split", help="Split of --val-data (e.g. valid)."),
) -> None:
    """Train FAMILY on sketches from --data; write checkpoints into --out (resumable, torchrun-ready)."""
    if limit is not None and limit < 1:
        raise InputError(f"--limit: expected at least 1, got {limit}")
    import os

    from sketchkit.models.base import model_registry
    from sketchkit.train import (
        NonFiniteLossError, apply_overrides, build_configs, check_run_dir, config_from_run, load_config_file,
        parse_overrides, read_run_info, train,
    )

    registry = model_registry()
    if family not in registry:
        raise InputError(f"unknown model family {family!r} (known: {', '.join(sorted(registry)) or 'none'})")
    cls = registry[family]
    if resume and overwrite:
        raise InputError("--resume and --overwrite: choose one (continue the run, or start it over)")
    check_run_dir(out, family, resume=resume, overwrite=overwrite)  # before reading any data
    overrides = list(set_ or [])
    previous: dict[str, Any] = {}
    if resume:
        previous = read_run_info(out)
        tcfg, saved_model_cfg = config_from_run(out, cls.config_class)
        file_data = load_config_file(config) if config else {}
        train_over, model_over = parse_overrides(overrides, model_config_class=cls.config_class)
        tcfg = apply_overrides(apply_overrides(tcfg, file_data.get("train", {}), prefix="train"), train_over, prefix="train")
        wanted = apply_overrides(apply_overrides(saved_model_cfg, file_data.get("model", {}), prefix="model"),
                                 model_over, prefix="model")
        if wanted != saved_model_cfg:
            raise InputError(f"{out}: model settings cannot change on --resume (start a new run folder)")
        mcfg = saved_model_cfg
    else:
        tcfg, mcfg = build_configs(cls.config_class, config_file=config, overrides=overrides)
    changes: dict[str, Any] = {}
    if device is not None:
        changes["device"] = device
    if quiet:
        changes["quiet"] = True
    if changes:
        tcfg = apply_overrides(tcfg, changes, prefix="train")

    if more_data:
        data = list(data or []) + list(more_data)
    old_data = previous.get("data", {})
    paths = list(data) if data else [Path(p) for p in old_data.get("paths", [])]
    if not paths:
        raise InputError("--data: give at least one data file or folder")
    if resume and not data:
        limit = limit if limit is not None else old_data.get("limit")
        fmt = fmt if fmt is not None else old_data.get("format")
        split = split if split is not None else old_data.get("split")
        if not val_data and old_data.get("val_paths"):
            val_data = [Path(p) for p in old_data["val_paths"]]
            val_split = val_split if val_split is not None else old_data.get("val_split")
    if val_fraction is None:
        val_fraction = old_data.get("val_fraction", 0.1) if resume else 0.1
    from sketchkit.data.shards import is_shard_folder

    streaming = len(paths) == 1 and Path(paths[0]).is_dir() and is_shard_folder(paths[0])
    if streaming:  # stream the shards; hold out their val-*.tar shards (or --val-data)
        from sketchkit.train.stream import ShardStream

        for name, value in (("--limit", limit), ("--format", fmt), ("--split", split)):
            if value is not None:
                raise InputError(f"{name}: does not apply to a shard folder ({paths[0]}); shard again instead")
        train_sk = ShardStream(paths[0])
        val_sk = (read_sketches(list(val_data), limit=None, fmt=None, split=val_split) if val_data
                  else train_sk.val_sketches())
        sample = [] if resume else train_sk.sample(STREAM_SAMPLE)
    else:
        sketches = read_sketches(paths, limit=limit, fmt=fmt, split=split)
        if val_data:
            train_sk, val_sk = sketches, read_sketches(list(val_data), limit=None, fmt=fmt, split=val_split)
        else:
            train_sk, val_sk = split_validation(sketches, val_fraction, tcfg.seed)
        sample = train_sk
    if not resume:
        mcfg = cls.config_for_data(mcfg, sample)  # e.g. BézierSketch's token scales
    del sample  # (a stream's sample is not needed while training)
    data_info = {
        "paths": [str(p) for p in paths], "limit": limit, "format": fmt, "split": split,
        "val_fraction": None if (val_data or streaming) else val_fraction, "streaming": streaming,
        "val_paths": [str(p) for p in val_data] if val_data else [], "val_split": val_split,
    }
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(tcfg.seed)  # the initial weights depend only on the seed
        model = cls(mcfg)
    rank0 = int(os.environ.get("RANK", "0")) == 0
    if rank0 and not tcfg.quiet:
        how = " (streamed from shards)" if streaming else ""
        typer.echo(f"training {family} on {len(train_sk)} sketches{how} ({len(val_sk)} held out) -> {out}", err=True)
    try:
        run = train(model, train_sk, val_sketches=val_sk or None, config=tcfg, run_dir=out, resume=resume,
                    stages=stage or None, data_info=data_info, overwrite=overwrite)
    except NonFiniteLossError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1)  # (typer.Exit codes are dropped by app.main with standalone_mode=False)
    except KeyboardInterrupt:
        typer.echo(f"interrupted; continue with: sketchkit train {family} --out {out} --resume", err=True)
        raise SystemExit(130)
    if rank0:
        best = "best/" if (run / "best" / "config.json").is_file() else "last/"
        typer.echo(f"done: {run} (load with sketchkit.load_model('{run}'), which uses {best})")


def register(app: typer.Typer) -> None:
    """Add ``train`` to the CLI."""
    app.command("train")(train_command)
