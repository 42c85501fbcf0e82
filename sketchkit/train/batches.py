"""Which sketches form each batch (in-memory data), devices and the torchrun environment."""

from __future__ import annotations

import os
from typing import Any

import torch

from sketchkit.errors import InputError
from sketchkit.train.rng import _mix_seed


def resolve_device(device: str | torch.device = "auto", *, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> ``cuda:<local_rank>`` when CUDA is available, else CPU.

    Raises:
        InputError: ``"cuda"`` requested on a machine without CUDA.
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    if str(device).startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"device {device!r} requested but CUDA is not available (use --device cpu or auto)")
        return torch.device(device if ":" in str(device) else f"cuda:{local_rank}")
    return torch.device(device)


def _to_device(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


class _BatchPlan:
    """Which training sketches make up batch ``k`` of a stage: a pure function of (seed, stage, k).

    Each epoch is a fresh permutation (seeded by seed, stage index, epoch); batches are consecutive
    slices of ``batch_size`` (the incomplete tail of an epoch is dropped, unless the whole set is
    smaller than one batch). Under DDP, rank ``r`` of ``w`` takes positions ``r, r + w, ...`` of
    the global batch.
    """

    def __init__(self, n: int, batch_size: int, seed: int, stage_index: int) -> None:
        self.n = n
        self.batch = min(batch_size, n)
        self.per_epoch = max(1, n // self.batch)
        self.seed = seed
        self.stage_index = stage_index
        self._epoch = -1
        self._perm: torch.Tensor | None = None

    def indices(self, step: int, rank: int = 0, world: int = 1) -> list[int]:
        epoch, k = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(_mix_seed("epoch", self.seed, self.stage_index, epoch))
            self._perm = torch.randperm(self.n, generator=g)
            self._epoch = epoch
        assert self._perm is not None
        chunk = self._perm[k * self.batch:(k + 1) * self.batch]
        return chunk[rank::world].tolist()


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return rank, world, local
