"""Reader keyword options from the CLI's shared data flags (``--format``, ``--split``, ...)."""

from __future__ import annotations

from typing import Any, Optional


def reader_options(*, fmt: Optional[str] = None, split: Optional[str] = None, skip_bad: bool = False,
                   trust_pickle: bool = False) -> dict[str, Any]:
    """Options for :func:`sketchkit.data.read` / ``info`` / ``shard_inputs``; unset flags are left out."""
    opts: dict[str, Any] = {}
    if fmt:
        opts["format"] = fmt
    if split:
        opts["split"] = split
    if skip_bad:
        opts["on_error"] = "skip"
    if trust_pickle:
        opts["trust_pickle"] = True
    return opts
