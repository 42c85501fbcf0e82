"""``metrics.jsonl``: one JSON record per line, appended by rank 0 and read back by :func:`read_metrics`."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from sketchkit.models.base import atomic_write_bytes

METRICS_NAME = "metrics.jsonl"


def read_metrics(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of ``run_dir/metrics.jsonl`` (a truncated last line is ignored)."""
    path = Path(run_dir) / METRICS_NAME
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class _MetricsLog:
    def __init__(self, path: Path, enabled: bool) -> None:
        self.path = path
        self.enabled = enabled

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {k: _json_safe(v) for k, v in record.items()}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()

    def truncate_after(self, stage_index: int, step: int) -> None:
        """Drop records logged after the checkpoint being resumed (they will be logged again)."""
        if not self.enabled or not self.path.is_file():
            return
        keep = [r for r in read_metrics(self.path.parent) if r.get("type") not in ("final", "after_training")
                and (r.get("stage_index", 0), r.get("step", 0)) <= (stage_index, step)]
        atomic_write_bytes(self.path, "".join(json.dumps(r) + "\n" for r in keep).encode())
