"""Small pretrained models shipped inside the package, addressed by name.

Each sub-folder holds ``config.json`` + ``model.safetensors`` + ``MODEL_CARD.md``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["available", "resolve", "PRETRAINED_DIR"]

PRETRAINED_DIR = Path(__file__).resolve().parent


def available() -> list[str]:
    """Names of the shipped models (folders holding a ``config.json``)."""
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / "config.json").is_file())


def resolve(name_or_dir: str | os.PathLike) -> Path:
    """Map a shipped model name, a model directory or a training run directory to a model directory.

    A run directory resolves to its ``best/`` checkpoint if present, else ``last/`` (else
    ``last.old/``, left by a crash between the two renames of a checkpoint switch).

    Raises:
        ModelLoadError: nothing loadable at ``name_or_dir``.
    """
    from sketchkit.models.base import ModelLoadError

    path = Path(name_or_dir)
    candidates = [path, path / "best", path / "last", path / "last.old"]
    if not path.exists() and (PRETRAINED_DIR / str(name_or_dir)).is_dir():
        candidates = [PRETRAINED_DIR / str(name_or_dir)]
    for candidate in candidates:
        if (candidate / "config.json").is_file() and (candidate / "model.safetensors").is_file():
            return candidate
    if not path.exists():
        raise ModelLoadError(f"{name_or_dir}: no such model directory or shipped model (shipped: {available()})")
    raise ModelLoadError(f"{path}: holds no config.json + model.safetensors (nor best/ or last/ with them)")
