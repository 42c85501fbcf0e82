"""The run folder: guards before training (:func:`check_run_dir`), ``run.json``, clearing on overwrite."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Mapping

from sketchkit.errors import InputError
from sketchkit.models.base import SketchModel, atomic_write_bytes, read_config
from sketchkit.train.checkpoints import (
    _foreign_entries, _is_checkpoint_file, _is_sample_file, _is_temp_of, _remove_owned, recover_checkpoints,
)
from sketchkit.train.config import TrainConfig
from sketchkit.train.metrics import METRICS_NAME

RUN_INFO_NAME = "run.json"


def config_from_run(run_dir: str | os.PathLike, model_config_class: type) -> tuple[TrainConfig, Any]:
    """The train config (``run.json``) and model config (``last/config.json``) of an existing run.

    Raises:
        InputError: missing/unreadable files, or a run of another family.
    """
    from sketchkit.models.base import config_from_dict

    run_dir = Path(run_dir)
    info = read_run_info(run_dir)  # first: never "recover" anything in a folder that is not a run
    recover_checkpoints(run_dir)
    model_dict = read_config(run_dir / "last") if (run_dir / "last" / "config.json").is_file() else info.get("model")
    if not isinstance(model_dict, dict):
        raise InputError(f"{run_dir}: no model config (neither last/config.json nor run.json 'model')")
    return TrainConfig.from_dict(info.get("train", {})), config_from_dict(model_config_class, model_dict)


def read_run_info(run_dir: str | os.PathLike) -> dict[str, Any]:
    """``run_dir/run.json`` as a dict.

    Raises:
        InputError: the file is missing, not valid JSON, or not a sketchkit run description (one
            line naming the file).
    """
    path = Path(run_dir) / RUN_INFO_NAME
    if not path.is_file():
        raise InputError(f"{path}: no such file (not a sketchkit training run folder)")
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); the run description is corrupt") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not isinstance(info, dict) or not isinstance(info.get("family"), str):
        raise InputError(f"{path}: not a sketchkit run description (no 'family' entry)")
    return info


def check_run_dir(run_dir: str | os.PathLike, family: str, *, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse run folders where training would lose or mix up files; reads only, changes nothing.

    * ``resume``: ``run_dir`` must hold a readable ``run.json`` of ``family``.
    * a new run: ``run_dir`` must be missing or empty. With ``overwrite``, a folder holding other
      things is accepted; :func:`train` then deletes only what sketchkit writes there (``run.json``,
      ``metrics.jsonl``, the checkpoint folders, ``samples/step_*.svg``) and leaves the rest.
    * either way, ``last/`` and ``best/`` (and their ``.old`` copies) must not hold files sketchkit
      did not write, since each checkpoint replaces those folders.

    Raises:
        InputError: one line naming the folder (or file) and what to do instead.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"{run_dir}: exists and is not a folder (the run folder must be a folder)")
    if resume:
        if not (run_dir / RUN_INFO_NAME).is_file():
            raise InputError(f"{run_dir}: nothing to resume (no {RUN_INFO_NAME})")
        info = read_run_info(run_dir)
        if info["family"] != family:
            raise InputError(f"{run_dir}: the run trains {info['family']!r}, not {family!r}")
        _check_owned_subfolders(run_dir)
        return
    if not run_dir.is_dir() or not any(run_dir.iterdir()):
        return
    try:
        info: dict[str, Any] | None = read_run_info(run_dir)
    except InputError:
        info = None
    if not overwrite:
        if info is not None and info["family"] == family:
            raise InputError(f"{run_dir}: already holds a {family!r} training run; continue it (--resume) or "
                             f"start it over (--overwrite)")
        what = (f"holds a {info['family']!r} training run" if info is not None
                else "is not empty and is not a sketchkit training run")
        raise InputError(f"{run_dir}: {what}; choose a new or empty folder, or pass --overwrite to replace "
                         f"the files sketchkit writes there")
    if info is None:
        for name in (RUN_INFO_NAME, METRICS_NAME):
            if (run_dir / name).exists():
                raise InputError(f"{run_dir / name}: not written by a sketchkit run; --overwrite replaces only "
                                 f"sketchkit's files (move it away)")
    _check_owned_subfolders(run_dir)


def _check_owned_subfolders(run_dir: Path) -> None:
    temps = sorted(p.name for p in run_dir.glob(".ckpt-*.tmp"))  # interrupted checkpoint writes
    for name in ("last", "best", "last.old", "best.old", "samples", *temps):
        folder = run_dir / name
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise InputError(f"{folder}: expected the folder sketchkit writes there, found something else (move it away)")
        if folder.is_dir() and name != "samples":  # samples/ only gains files; the others are replaced
            foreign = _foreign_entries(folder, _is_checkpoint_file)
            if foreign:
                raise InputError(f"{folder}: holds {', '.join(foreign[:5])}, which sketchkit did not write; "
                                 f"training would replace this folder (move those files away first)")


def _clear_run_dir(run_dir: Path) -> None:
    """Delete what a previous run wrote into ``run_dir`` (after :func:`check_run_dir` with overwrite)."""
    top = (RUN_INFO_NAME, METRICS_NAME)
    for p in run_dir.iterdir():
        if p.is_file() and (p.name in top or _is_temp_of(p.name, top)):
            p.unlink()
    for name in ("last", "best", "last.old", "best.old"):
        _remove_owned(run_dir / name, _is_checkpoint_file)
    for tmp in run_dir.glob(".ckpt-*.tmp"):
        if tmp.is_dir():
            _remove_owned(tmp, _is_checkpoint_file)
    samples = run_dir / "samples"
    if samples.is_dir():
        for p in samples.iterdir():
            if p.is_file() and not p.is_symlink() and _is_sample_file(p.name):
                p.unlink()
        if not any(samples.iterdir()):
            samples.rmdir()



def _write_run_info(run_dir: Path, model: SketchModel, config: TrainConfig, run_stages: tuple[str, ...],
                    data_info: Mapping[str, Any] | None, world: int, n_train: int, n_val: int) -> None:
    import sketchkit

    path = run_dir / RUN_INFO_NAME
    info: dict[str, Any] = {}
    if path.is_file():
        try:
            info = json.loads(path.read_text())
        except json.JSONDecodeError:
            info = {}
    history = list(info.get("history", []))
    history.append({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "train": config.to_dict(),
                    "world_size": world})
    info.update({
        "sketchkit_version": sketchkit.__version__,
        "family": model.config.family,
        "model": model.config.to_dict(),
        "train": config.to_dict(),
        "stages": list(run_stages),
        "data": {**dict(data_info or {}), "num_train": n_train, "num_val": n_val},
        "world_size": world,
        "history": history,
    })
    atomic_write_bytes(path, json.dumps(info, indent=2, default=str).encode())
