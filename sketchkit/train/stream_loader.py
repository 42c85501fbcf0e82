"""The torch ``IterableDataset`` through which DataLoader workers read a rank's shard stream."""

from __future__ import annotations

from typing import Any, Iterator

import torch.utils.data as tud


class ReaderDataset(tud.IterableDataset):
    """Worker ``i`` of ``workers`` serves the steps ``j >= start`` with ``j % workers == (i + start) % workers``.

    The DataLoader returns its workers' batches round-robin from worker 0, so the batches come
    back in step order ``start, start + 1, ...`` (see :mod:`sketchkit.train.stream`).
    """

    def __init__(self, stream: Any, plan: Any, rank: int, start: int, workers: int) -> None:
        super().__init__()
        self.stream, self.plan, self.rank, self.start, self.workers = stream, plan, rank, start, workers

    def __iter__(self) -> Iterator[list]:
        info = tud.get_worker_info()
        wid = 0 if info is None else info.id
        role = (wid + self.start) % self.workers
        return self.stream.reader_batches(self.plan, self.rank, role, len(range(role, self.start, self.workers)))
