"""Atomic checkpoints (``last/``, ``best/``): save, recover after a crash, read the trainer state."""

from __future__ import annotations

import os
import shutil
import typing
from pathlib import Path
from typing import Any, Iterable

import torch

from sketchkit.errors import InputError
from sketchkit.models.base import CONFIG_NAME, WEIGHTS_NAME, SketchModel, atomic_write_bytes

TRAINER_STATE_NAME = "trainer_state.pt"
_STATE_VERSION = 1
_CHECKPOINT_FILES = (CONFIG_NAME, WEIGHTS_NAME, TRAINER_STATE_NAME)  # all a checkpoint folder holds


def recover_checkpoints(run_dir: str | os.PathLike) -> None:
    """Finish an interrupted checkpoint switch in ``run_dir`` and remove stale temp folders.

    If a crash hit between the two renames of a checkpoint switch, ``last/`` (or ``best/``) is
    missing and ``last.old/`` holds the previous good checkpoint: it is moved back.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return
    for name in ("last", "best"):
        final, old = run_dir / name, run_dir / f"{name}.old"
        if old.is_dir():
            if final.is_dir():
                _try_remove_owned(old)
            else:
                os.replace(old, final)
    for tmp in run_dir.glob(".ckpt-*.tmp"):
        if tmp.is_dir():
            _try_remove_owned(tmp)


def _try_remove_owned(folder: Path) -> None:
    try:
        _remove_owned(folder, _is_checkpoint_file)
    except (InputError, OSError):  # foreign files stay; check_run_dir reports them before training
        pass


def _is_temp_of(name: str, targets: Iterable[str]) -> bool:
    """``name`` is a temp file of :func:`sketchkit._io.write_atomic` for one of ``targets``."""
    return name.endswith(".tmp") and any(name.startswith(f".{t}.") for t in targets)


def _is_checkpoint_file(name: str) -> bool:
    return name in _CHECKPOINT_FILES or _is_temp_of(name, _CHECKPOINT_FILES)


def _is_sample_file(name: str) -> bool:
    stem = name[1:] if name.startswith(".") and name.endswith(".tmp") else name
    return stem.startswith("step_") and (stem.endswith(".svg") or ".svg." in stem)


def _foreign_entries(folder: Path, owned: typing.Callable[[str], bool]) -> list[str]:
    """Names in ``folder`` that sketchkit does not write there (sub-folders always count)."""
    return sorted(p.name for p in folder.iterdir() if p.is_dir() or not owned(p.name))


def _remove_owned(folder: Path, owned: typing.Callable[[str], bool]) -> None:
    """Delete the files ``owned`` accepts in ``folder``, then the folder if it is empty.

    Never deletes anything else: a folder still holding other files is kept and reported.
    """
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        if p.is_file() and not p.is_symlink() and owned(p.name):
            p.unlink()
    left = sorted(p.name for p in folder.iterdir())
    if left:
        raise InputError(f"{folder}: holds {', '.join(left[:5])}, which sketchkit did not write; "
                         f"kept it (move those files away)")
    folder.rmdir()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _save_checkpoint(run_dir: Path, name: str, model: SketchModel, state: dict[str, Any]) -> Path:
    """Write ``run_dir/name/`` (config.json, model.safetensors, trainer_state.pt) atomically."""
    import io
    import tempfile

    tmp = Path(tempfile.mkdtemp(dir=run_dir, prefix=f".ckpt-{name}-", suffix=".tmp"))
    try:
        model.save_pretrained(tmp)
        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write_bytes(tmp / TRAINER_STATE_NAME, buffer.getvalue())
        _fsync_dir(tmp)
        final, old = run_dir / name, run_dir / f"{name}.old"
        _remove_owned(old, _is_checkpoint_file)  # only sketchkit's files; anything else stops the run
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        _fsync_dir(run_dir)
        _remove_owned(old, _is_checkpoint_file)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return run_dir / name


def read_trainer_state(checkpoint_dir: str | os.PathLike) -> dict[str, Any]:
    """Load ``trainer_state.pt`` from a checkpoint folder with ``weights_only=True``.

    Raises:
        InputError: missing or unreadable file.
    """
    path = Path(checkpoint_dir) / TRAINER_STATE_NAME
    if not path.is_file():
        raise InputError(f"{path}: no such file (not a training checkpoint)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"{path}: not a readable trainer state ({exc})") from None
    if not isinstance(state, dict) or "step" not in state or "stage_index" not in state:
        raise InputError(f"{path}: not a sketchkit trainer state (no step/stage_index)")
    if int(state.get("format_version", 1)) > _STATE_VERSION:
        raise InputError(f"{path}: trainer state format_version {state['format_version']} is newer than "
                         f"this sketchkit supports ({_STATE_VERSION})")
    return state
