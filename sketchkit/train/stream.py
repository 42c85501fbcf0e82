"""Data sources for the loop: sketches in memory, or streamed from a shard folder.

The loop asks a source for the per-rank batches of a stage from a given step on
(:meth:`batches`) and, at each checkpoint, for the stream position (:meth:`position`). For both
kinds the batches are a pure function of ``(seed, stage index, step, rank, world)`` (plus the
stream settings), so resuming at step ``k`` gives the same next batch as an uninterrupted run.

Streamed epoch ``e`` of stage ``s`` (:class:`ShardStream`), with ``N`` training sketches, global
batch ``B`` (``min(batch_size, N)``), ``world`` ranks and ``K = max(1, loader_workers)`` readers:

1. the training shards are put in a seeded order (``seed, s, e``); ``G`` is their concatenation;
2. the epoch has ``S = max(1, N // B)`` steps and uses the first ``S * B`` sketches of ``G`` (the
   rest, fewer than ``B``, is left out of this epoch; the shard order changes every epoch);
3. rank ``r`` takes ``b_r`` sketches per step (``b_r`` = its share of ``B``, as in memory: ``B``
   split as evenly as possible) from its own contiguous range of ``G`` (``S * b_r`` sketches), so
   ranks read disjoint sketches whose union is the epoch, whatever the shard count: a shard that
   straddles two ranges is read in part by each (the other part's samples are skipped by tar
   header, not decoded);
4. a rank's steps go round-robin to its ``K`` readers (step ``j`` -> reader ``j % K``, the order
   in which a ``DataLoader`` with ``K`` workers returns them); each reader owns a contiguous piece
   of the rank's range and shuffles it in windows of ``stream_buffer`` sketches with a seeded
   permutation (``seed, s, e, rank, reader, window``).

So an epoch visits the same sketches for any ``world`` and ``K`` (the documented equivalence with
a 1-process run); which sketches share a batch depends on ``world``, ``K`` and ``stream_buffer``.
Memory per reader: one window. Resuming at step ``k`` seeks straight to its window (whole shards
are skipped by their manifest counts).
"""

from __future__ import annotations

import hashlib
import itertools
import warnings
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from sketchkit.errors import InputError
from sketchkit.train.batches import _BatchPlan
from sketchkit.train.rng import _mix_seed


def _check_split(batch: int, world: int) -> None:
    if batch < world:
        raise InputError(f"batch of {batch} sketches cannot be split across {world} processes")


def _shares(batch: int, world: int) -> list[int]:
    """Sketches per rank in a global batch of ``batch`` (rank r takes positions r, r + world, ...)."""
    return [len(range(r, batch, world)) for r in range(world)]


class MemorySource:
    """Training sketches held in a list; batches from :class:`~sketchkit.train.batches._BatchPlan`."""

    kind = "memory"

    def __init__(self, sketches: Sequence[Any]) -> None:
        self.sketches = list(sketches)

    def __len__(self) -> int:
        return len(self.sketches)

    def batches(self, *, seed: int, stage_index: int, start_step: int, rank: int, world: int,
                batch_size: int, buffer: int = 0, workers: int = 0) -> Iterator[list]:
        """Per-rank batches for steps ``start_step, start_step + 1, ...`` (endless).

        Raises:
            InputError: (at once) a batch smaller than the number of processes.
        """
        plan = _BatchPlan(len(self.sketches), batch_size, seed, stage_index)
        _check_split(plan.batch, world)

        def gen() -> Iterator[list]:
            step = start_step
            while True:
                yield [self.sketches[i] for i in plan.indices(step, rank, world)]
                step += 1

        return gen()

    def position(self, step: int, **_: Any) -> dict[str, Any] | None:
        return None  # the step alone places the batch plan

    def check_position(self, saved: Any, **_: Any) -> None:
        pass


class _EpochPlan:
    """Where every reader of every rank reads in one epoch (see the module docstring)."""

    def __init__(self, counts: Sequence[int], batch_size: int, seed: int, stage_index: int, epoch: int,
                 world: int, readers: int, buffer: int) -> None:
        n = sum(counts)
        self.batch = min(batch_size, n)
        self.steps = max(1, n // self.batch)
        rng = np.random.default_rng(_mix_seed("shards", seed, stage_index, epoch))
        self.order = [int(i) for i in rng.permutation(len(counts))]
        self.shares = _shares(self.batch, world)
        self.readers = readers
        self.buffer = max(1, buffer)
        self.key = (seed, stage_index, epoch)

    def rank_start(self, rank: int) -> int:
        return self.steps * sum(self.shares[:rank])

    def reader_steps(self, role: int) -> int:
        return len(range(role, self.steps, self.readers))

    def reader_range(self, rank: int, role: int) -> tuple[int, int]:
        """``(start in G, length)`` of reader ``role`` of ``rank``."""
        b = self.shares[rank]
        before = sum(self.reader_steps(v) for v in range(role))
        return self.rank_start(rank) + b * before, b * self.reader_steps(role)


class ShardStream:
    """Training sketches streamed from a shard folder made by ``sketchkit data shard``.

    Args:
        folder: the shard folder (``manifest.json`` + ``shard-*.tar`` + optional ``val-*.tar``).

    Raises:
        InputError: not a shard folder, or no training shards.
    """

    kind = "shards"

    def __init__(self, folder: str | Path) -> None:
        from sketchkit.data.shards import MANIFEST_NAME, read_manifest

        self.folder = Path(folder)
        manifest = read_manifest(self.folder)
        self.shards = [(self.folder / s["name"], int(s["count"])) for s in manifest["shards"]
                       if s.get("split", "train") == "train" and int(s["count"]) > 0]
        self.val_shards = [(self.folder / s["name"], int(s["count"])) for s in manifest["shards"]
                           if s.get("split", "train") == "val" and int(s["count"]) > 0]
        if not self.shards:
            raise InputError(f"{self.folder}: holds no training shards (only held-out ones); shard again "
                             f"with a smaller --val-size")
        self.fingerprint = hashlib.sha256((self.folder / MANIFEST_NAME).read_bytes()).hexdigest()[:16]
        self.labels = dict(manifest.get("labels", {}))

    def __len__(self) -> int:
        return sum(c for _, c in self.shards)

    def val_sketches(self) -> list:
        """Every held-out sketch (the ``val-*.tar`` shards, in order)."""
        from sketchkit.data.shards import iter_shard

        return [sk for path, _ in self.val_shards for sk in iter_shard(path)]

    def sample(self, n: int) -> list:
        """The first ``n`` training sketches in manifest order (e.g. for ``config_for_data``)."""
        return self._read_range([c for _, c in self.shards], list(range(len(self.shards))), 0, n)

    def _read_range(self, counts: list[int], order: list[int], start: int, length: int) -> list:
        """``length`` sketches of the concatenation of shards ``order`` from position ``start``."""
        from sketchkit.data.shards import iter_shard

        out: list = []
        pos = 0
        for i in order:
            count = counts[i]
            if pos + count > start and len(out) < length:
                skip = max(0, start - pos)
                out.extend(iter_shard(self.shards[i][0], skip=skip, limit=min(count - skip, length - len(out))))
            pos += count
            if len(out) >= length:
                break
        return out

    def _reader_items(self, plan: _EpochPlan, rank: int, role: int, offset: int) -> Iterator[Any]:
        """The shuffled sketches of reader ``role`` of ``rank`` from its local position ``offset``."""
        counts = [c for _, c in self.shards]
        first, length = plan.reader_range(rank, role)
        window, lo = divmod(offset, plan.buffer)
        while window * plan.buffer < length:
            w0 = window * plan.buffer
            items = self._read_range(counts, plan.order, first + w0, min(plan.buffer, length - w0))
            g = np.random.default_rng(_mix_seed("window", *plan.key, rank, role, window))
            for i in g.permutation(len(items))[lo:]:
                yield items[int(i)]
            window, lo = window + 1, 0

    def reader_batches(self, plan: _EpochPlan, rank: int, role: int, start: int) -> Iterator[list]:
        """Batches ``start, start + 1, ...`` of reader ``role`` of ``rank`` in the epoch of ``plan``."""
        b = plan.shares[rank]
        items = self._reader_items(plan, rank, role, start * b)
        for _ in range(plan.reader_steps(role) - start):
            yield list(itertools.islice(items, b))

    def batches(self, *, seed: int, stage_index: int, start_step: int, rank: int, world: int,
                batch_size: int, buffer: int, workers: int) -> Iterator[list]:
        """Per-rank batches for steps ``start_step, start_step + 1, ...`` (endless, epoch after epoch).

        Raises:
            InputError: (at once) a batch smaller than the number of processes.
        """
        _check_split(min(batch_size, len(self)), world)
        return self._batches(seed, stage_index, start_step, rank, world, batch_size, buffer, workers)

    def _batches(self, seed: int, stage_index: int, start_step: int, rank: int, world: int, batch_size: int,
                 buffer: int, workers: int) -> Iterator[list]:
        counts = [c for _, c in self.shards]
        readers = max(1, workers)
        step = start_step
        while True:
            epoch, j = divmod(step, self._steps_per_epoch(batch_size))
            plan = _EpochPlan(counts, batch_size, seed, stage_index, epoch, world, readers, buffer)
            if workers > 0:
                it = _loader_batches(self, plan, rank, j, workers)
            else:
                it = self.reader_batches(plan, rank, 0, j)
            for batch in it:
                yield batch
                step += 1
            del it  # a DataLoader iterator shuts its workers down when released

    def _steps_per_epoch(self, batch_size: int) -> int:
        n = len(self)
        return max(1, n // min(batch_size, n))

    def position(self, step: int, *, batch_size: int, world: int, buffer: int, workers: int) -> dict[str, Any]:
        """The stream position after ``step`` steps of a stage (saved in ``trainer_state.pt``)."""
        epoch, j = divmod(step, self._steps_per_epoch(batch_size))
        return {"kind": self.kind, "manifest": self.fingerprint, "num_train": len(self), "epoch": epoch,
                "batch_in_epoch": j, "world_size": world, "readers": max(1, workers), "buffer": buffer}

    def check_position(self, saved: Any, *, step: int, batch_size: int, world: int, buffer: int,
                       workers: int) -> None:
        """Warn when the resumed stream cannot continue exactly as the interrupted one would have."""
        if not isinstance(saved, dict) or saved.get("kind") != self.kind:
            warnings.warn("resuming a run that did not stream these shards: batches differ from an "
                          "uninterrupted run", stacklevel=3)
            return
        now = self.position(step, batch_size=batch_size, world=world, buffer=buffer, workers=workers)
        changed = [k for k in ("manifest", "num_train", "world_size", "readers", "buffer") if saved.get(k) != now[k]]
        if changed:
            warnings.warn(f"resuming the stream at epoch {now['epoch']} batch {now['batch_in_epoch']}, but "
                          f"{', '.join(changed)} changed since the checkpoint: batches differ from an "
                          f"uninterrupted run", stacklevel=3)


def _identity(batch: list) -> list:
    return batch


def _loader_batches(stream: ShardStream, plan: _EpochPlan, rank: int, start: int, workers: int) -> Iterator[list]:
    """The rank's batches from step ``start`` of the epoch, read by ``workers`` DataLoader processes."""
    import torch.utils.data as tud

    from sketchkit.train.stream_loader import ReaderDataset

    loader = tud.DataLoader(ReaderDataset(stream, plan, rank, start, workers), batch_size=None,
                            num_workers=workers, collate_fn=_identity)
    return iter(loader)
