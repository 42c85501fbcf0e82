"""Name -> adapter registry and the format sniffer behind :func:`sketchkit.data.read`.

Each adapter module registers a :class:`Format`: a reader ``read(path, ctx, **opts) ->
Iterator[Sketch]`` plus a ``sniff(path, head) -> bool`` that looks at the file name and its
first bytes. :func:`sniff` tries them in registration order; extension matches win over
content-only matches.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from sketchkit.errors import InputError

__all__ = ["Format", "register_format", "formats", "get_format", "sniff", "HEAD_BYTES"]

#: How many leading bytes of a file the sniffers see.
HEAD_BYTES = 512


@dataclass(frozen=True)
class Format:
    """One supported file format.

    Attributes:
        name: registry name, e.g. ``"quickdraw-ndjson"``.
        description: one line for ``sketchkit data info`` / docs.
        extensions: lower-case suffixes (with dot) this format usually has, e.g. ``(".ndjson",)``.
        reader: ``reader(path, ctx, **opts) -> Iterator[Sketch]`` (``ctx``: a ``ReadContext``).
        sniff: ``sniff(path, head) -> bool``: True when the file looks like this format.
        info: optional ``info(path, **opts) -> dict`` with format-specific statistics.
        options: names of the keyword options ``reader`` understands.
    """

    name: str
    description: str
    extensions: tuple[str, ...]
    reader: Callable[..., Iterator[Any]]
    sniff: Callable[[Path, bytes], bool]
    info: Callable[..., dict] | None = None
    options: tuple[str, ...] = field(default_factory=tuple)


_FORMATS: dict[str, Format] = {}


def register_format(fmt: Format) -> Format:
    """Add (or replace) a format in the registry; returns it."""
    _FORMATS[fmt.name] = fmt
    return fmt


def _load_builtin() -> None:
    # Importing the adapter modules registers them (idempotent).
    from sketchkit.data import image_files, quickdraw, rasters, shards, sketchrnn, svg_import, vectormnist  # noqa: F401


def formats() -> dict[str, Format]:
    """All registered formats, name -> :class:`Format` (a copy)."""
    _load_builtin()
    return dict(_FORMATS)


def get_format(name: str) -> Format:
    """The :class:`Format` called ``name``; ``InputError`` listing the known names otherwise."""
    _load_builtin()
    try:
        return _FORMATS[name]
    except KeyError:
        raise InputError(f"unknown format {name!r}; known: {', '.join(sorted(_FORMATS))}") from None


def _suffixes(path: Path) -> str:
    return "".join(path.suffixes).lower()


def sniff(path: str | os.PathLike) -> Format:
    """Guess the format of a file from its name and first bytes.

    Raises:
        InputError: when the path is missing, is a folder, or matches no registered format.
    """
    _load_builtin()
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a folder (read it with sketchkit.data.read, which reads every file)")
    with open(p, "rb") as f:
        head = f.read(HEAD_BYTES)
    if not head:
        raise InputError(f"{p}: empty file")
    suffix = _suffixes(p)
    by_ext = [f for f in _FORMATS.values() if any(suffix.endswith(e) for e in f.extensions)]
    rest = [f for f in _FORMATS.values() if f not in by_ext]
    for fmt in by_ext + rest:
        try:
            if fmt.sniff(p, head):
                return fmt
        except OSError:
            continue
    raise InputError(
        f"{p}: unrecognised file format (known: {', '.join(sorted(_FORMATS))}); pass format=..."
    )
